/*
 * mpble: scheduler glue between the Rust core and MicroPython.
 *
 * The core is sans-IO: this file feeds it received bytes and the time,
 * writes out what it wants sent and turns its events into calls of the
 * user's Python callbacks. It holds no BLE behaviour of its own.
 *
 * The protocol runs wherever bytes arrive: the transport's reader thread
 * pumps the core itself (mpble_port_pump), so commands, ATT responses and
 * timers never wait for the VM, which may be busy (a long computation, or
 * the REPL reading a burst of input, where no scheduled task runs).
 *
 * Events are delivered only on the main thread, from a function scheduled
 * with mp_sched_schedule (or from a blocking wait running there), one at a
 * time and never nested, with no lock held while Python runs: callbacks may
 * call back into the API.
 *
 * The one rule (see mpble_port.h): every call into the core happens with
 * port_mutex held, whichever thread makes it, and nothing blocks while it is
 * held (the transport's writes are non-blocking; see port_flush_and_publish).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py/mphal.h"
#include "py/objint.h"
#include "py/objstr.h"
#include "py/smallint.h"
#include "py/mpprint.h"
#include "py/mpthread.h"
#include "py/runtime.h"

#include "mpble_hal.h"
#include "mpble_port.h"
#include "mpble_keystore.h"

// The callback of each MpbleTarget (index MpbleTarget - 1).
MP_REGISTER_ROOT_POINTER(mp_obj_t mpble_callbacks[3]);
// The short bytes values made last (mpble_port_new_bytes), to hand out
// again: a QuecPython write event carries its attribute's 16-byte UUID,
// the same one every time.
#define PORT_BYTES_CACHE_MAX_LEN (16)
MP_REGISTER_ROOT_POINTER(mp_obj_t mpble_bytes_cache[4]);
#define PORT_BYTES_CACHE MP_ARRAY_SIZE(MP_STATE_PORT(mpble_bytes_cache))
static unsigned port_bytes_cache_next;

#if MICROPY_PY_THREAD
static mp_thread_mutex_t port_mutex;
#endif
static bool port_inited;
// A processing pass is scheduled and has not started yet. Set from any
// thread (the transport's reader included), cleared on the main thread.
static bool port_scheduled;
// A callback's KeyboardInterrupt/SystemExit was handed to the script: the
// next delivery pass outside a script is skipped (see port_process_scheduled)
// unless an API call comes first.
static bool port_script_interrupted;
// Events are being delivered (main thread); guards against nesting.
static bool port_delivering;
// The scheduled pass runs while the REPL waits for a line (main thread):
// Ctrl-C is switched on for it (mpble_hal_interrupt_begin) only once a
// callback is about to run, and port_repl_begun says that it was.
static bool port_at_repl;
static bool port_repl_begun;
// mpble_port_wait() loops run on the main thread (nested: a blocking call
// in a callback delivered by another's wait).
static unsigned port_waiting;
// Last transmit error (errno): written under the port lock by whichever
// thread flushed, read by the main thread (atomics: it reads without the
// lock). Reported once.
static int port_tx_error;
static int port_tx_error_reported;

// Only used with the port lock held. port_rx_buf[port_rx_off..port_rx_len]
// holds controller bytes the core has not taken yet: it takes them only
// while its event queue has room for what they may produce, so a flood
// from a peer waits here (and then in the transport's flow control)
// instead of being dropped.
static uint8_t port_rx_buf[512];
static size_t port_rx_off;
static size_t port_rx_len;
static uint8_t port_tx_buf[512];
// The timer deadline last published to the transport (mpble_port_now_ms()
// time; UINT32_MAX: none).
static uint32_t port_deadline = UINT32_MAX;
// The core's life-cycle state as the last pump saw it (port_report).
static MpbleState port_pumped_state = MPBLE_STATE_OFF;
// When port_rx_buf's bytes arrived (mpble_hal_rx_time_us).
static uint32_t port_rx_time_us;

// Callback latency (the stats' cb_latency_*): which events in the core's
// queue a controller packet caused, and when it arrived. Events are
// numbered in queue order (popped so far + position); a span [start, end)
// is stamped when feeding input made the queue grow. Events from API calls
// and timers are not in a span and are not timed. Only used with the port
// lock held; a full table forgets its oldest span (those events go untimed).
#define PORT_STAMPS (32)
static struct {
    uint32_t start;
    uint32_t end;
    uint32_t us;
} port_stamps[PORT_STAMPS];
static size_t port_stamps_head;
static size_t port_stamps_len;
static uint32_t port_ev_popped;
// A latency measured by the last callback, recorded in the core at the next
// pop (which holds the lock anyway). Main thread.
static bool port_lat_pending;
static uint32_t port_lat_us;

// Life-cycle state seen by the last processing pass, to report a failed
// bring-up once (main thread).
static MpbleState port_last_state = MPBLE_STATE_OFF;

static void port_unlock(void) {
    #if MICROPY_PY_THREAD
    mp_thread_mutex_unlock(&port_mutex);
    #endif
    mpble_hal_release_interrupt();
}

void mpble_port_init(void) {
    if (port_inited) {
        return;
    }
    #if MICROPY_PY_THREAD
    mp_thread_mutex_init(&port_mutex);
    #endif
    port_inited = true;
}

void mpble_port_deinit(void) {
    mpble_port_init();
    // First stop the transport's reader (it pumps the core and schedules
    // Python work), without the port lock: it may be waiting for it.
    mpble_hal_close();
    // A capture ends with the process: what it recorded reaches the file.
    const char *msg;
    mpble_hal_snoop(NULL, &msg);
    mpble_port_lock();
    mpble_reset();
    port_rx_off = 0;
    port_rx_len = 0;
    port_deadline = UINT32_MAX;
    __atomic_store_n(&port_pumped_state, MPBLE_STATE_OFF, __ATOMIC_RELAXED);
    port_stamps_len = 0;
    port_ev_popped = 0;
    port_lat_pending = false;
    port_unlock();
    __atomic_store_n(&port_tx_error, 0, __ATOMIC_SEQ_CST);
    port_tx_error_reported = 0;
    port_last_state = MPBLE_STATE_OFF;
    // A soft reset empties the scheduler's queue (mp_init): a pass that was
    // pending is gone, and must not block the next request.
    __atomic_store_n(&port_scheduled, false, __ATOMIC_SEQ_CST);
    // The heap goes away on a soft reset (bare metal): so do these.
    for (size_t i = 0; i < PORT_BYTES_CACHE; i++) {
        MP_STATE_PORT(mpble_bytes_cache)[i] = MP_OBJ_NULL;
    }
    for (size_t i = 0; i < MPBLE_PORT_CB_COUNT; i++) {
        MP_STATE_PORT(mpble_callbacks)[i] = MP_OBJ_NULL;
    }
    network_bt_deinit();
}

uint32_t mpble_port_now_ms(void) {
    return (uint32_t)mp_hal_ticks_ms();
}

static void port_lock_only(void);

// The blob of bonds on its way to or from the key store.
static uint8_t port_bonds_buf[MPBLE_BONDS_BLOB_MAX];
static int port_bonds_error_reported;

void mpble_port_load_bonds(void) {
    port_lock_only();
    bool loaded = mpble_bonds_loaded();
    port_unlock();
    if (loaded) {
        return;
    }
    size_t len = 0;
    int err = mpble_keystore_load(port_bonds_buf, sizeof(port_bonds_buf), &len);
    if (err != 0) {
        mp_printf(MICROPY_ERROR_PRINTER, "mpble: cannot read the bonds from %s: errno %d\n",
            mpble_keystore_describe(), err);
    }
    port_lock_only();
    int32_t n = mpble_bonds_import(port_bonds_buf, len);
    port_unlock();
    if (n < 0) {
        mp_printf(MICROPY_ERROR_PRINTER,
            "mpble: %s is not a bond store this firmware reads; starting without bonds\n",
            mpble_keystore_describe());
    }
}

// Main thread, without the lock: writes the bonds out when they changed.
// Only the main thread saves, so two saves never overlap.
static void port_bonds_save(void) {
    #if MICROPY_PY_THREAD
    if (!mp_thread_is_main_thread()) {
        return;
    }
    #endif
    port_lock_only();
    size_t n = mpble_bonds_dirty() ? mpble_bonds_export(port_bonds_buf, sizeof(port_bonds_buf)) : 0;
    port_unlock();
    if (n == 0) {
        return;
    }
    int err = mpble_keystore_save(port_bonds_buf, n);
    if (err != 0 && err != port_bonds_error_reported) {
        mp_printf(MICROPY_ERROR_PRINTER, "mpble: cannot save the bonds to %s: errno %d\n",
            mpble_keystore_describe(), err);
    }
    port_bonds_error_reported = err;
}

int mpble_port_open(const char **msg) {
    mpble_port_init();
    mpble_port_load_bonds();
    int err = mpble_hal_open(msg);
    // A transport (re)opened knows no deadline yet.
    port_lock_only();
    port_deadline = UINT32_MAX;
    port_unlock();
    return err;
}

// Takes the port lock without calling the core.
static void port_lock_only(void) {
    mpble_port_init();
    // No KeyboardInterrupt may jump out of the lock (mpble_hal.h).
    mpble_hal_hold_interrupt();
    #if MICROPY_PY_THREAD
    mp_thread_mutex_lock(&port_mutex, 1);
    #endif
}

void mpble_port_lock(void) {
    port_lock_only();
    // The core learns the time before every call, so what the call starts
    // (an ATT request's 30 s timeout) is timed from now.
    mpble_tick(mpble_port_now_ms());
}

// With the port lock held: hands the transport what the core wants sent,
// in order, and publishes when the core next needs mpble_tick(). Takes from
// the core only what the transport can queue without blocking: the rest
// stays in the core's H4 transmit buffer, in order, and the transport pumps
// again (mpble_port_pump) once its own buffer drains.
static void port_flush_and_publish(uint32_t now) {
    // The room is asked again only once the known room is used up: only
    // this lock's holder adds to the transport's buffer, and its reader
    // only empties it, so the room left after a write is at least what was
    // known less what was written. (Asked again: the write may have handed
    // it all to the kernel, and with nothing left queued no one would pump
    // the core for the rest it holds.)
    size_t room = mpble_hal_tx_room();
    while (room > 0) {
        size_t n = mpble_h4_tx(port_tx_buf, room < sizeof(port_tx_buf) ? room : sizeof(port_tx_buf));
        if (n == 0) {
            break;
        }
        // On error the transport has room for anything and drops it: the
        // core must not stall on a dead link. (This may run on the reader
        // thread: the main thread reports it.)
        int err = mpble_hal_write(port_tx_buf, n);
        __atomic_store_n(&port_tx_error, err, __ATOMIC_SEQ_CST);
        room = room == SIZE_MAX ? room : room - n;
        if (room == 0) {
            room = mpble_hal_tx_room();
        }
    }
    // The deadline is published only when it moved, or when the last one
    // is due (the transport forgets a deadline once it has passed; 2 ms of
    // slack for a transport whose timer and clock disagree a little).
    uint32_t timeout = mpble_next_timeout_ms(now);
    uint32_t deadline = timeout == UINT32_MAX ? UINT32_MAX : now + timeout;
    if (deadline != port_deadline || (port_deadline != UINT32_MAX && (int32_t)(now - port_deadline) >= -2)) {
        port_deadline = deadline;
        mpble_hal_set_timeout(timeout);
    }
}

static mp_obj_t port_value(const MpbleEvent *ev, const MpbleValue *v) {
    switch (v->kind) {
        case MPBLE_VALUE_KIND_INT:
            // Nearly every value (ids, statuses, handles, lengths) is a
            // small int: no allocation, unlike mp_obj_new_int_from_ll, which
            // always builds a bignum.
            if (v->int_value >= MP_SMALL_INT_MIN && v->int_value <= MP_SMALL_INT_MAX) {
                return MP_OBJ_NEW_SMALL_INT((mp_int_t)v->int_value);
            }
            return mp_obj_new_int_from_ll(v->int_value);
        case MPBLE_VALUE_KIND_BYTES:
        case MPBLE_VALUE_KIND_STR: {
            // Memory safety only: a slice outside the payload is empty.
            size_t end = (size_t)v->offset + v->len;
            size_t data_len = ev->data_len < MPBLE_EVENT_DATA_MAX ? ev->data_len : MPBLE_EVENT_DATA_MAX;
            const uint8_t *p = ev->data + v->offset;
            size_t len = v->len;
            if (end > data_len) {
                p = ev->data;
                len = 0;
            }
            if (v->kind == MPBLE_VALUE_KIND_STR) {
                return mp_obj_new_str((const char *)p, len);
            }
            return mpble_port_new_bytes(p, len);
        }
        default:
            return mp_const_none;
    }
}

// KeyboardInterrupt (Ctrl-C) and SystemExit (sys.exit) stop the script;
// every other exception is the callback's own failure.
static bool port_is_interrupt(mp_obj_t exc) {
    return mp_obj_exception_match(exc, MP_OBJ_FROM_PTR(&mp_type_KeyboardInterrupt))
           || mp_obj_exception_match(exc, MP_OBJ_FROM_PTR(&mp_type_SystemExit));
}

// Calls the callback of one event. Returns MP_OBJ_NULL, or the interrupt
// (see port_is_interrupt) that the callback raised.
static mp_obj_t port_deliver_one(const MpbleEvent *ev, bool timed, uint32_t arrived_us) {
    if (ev->target < 1 || ev->target > MPBLE_PORT_CB_COUNT) {
        return MP_OBJ_NULL;
    }
    mp_obj_t cb = MP_STATE_PORT(mpble_callbacks)[ev->target - 1];
    if (cb == MP_OBJ_NULL) {
        // No callback registered (or released): the event is dropped.
        return MP_OBJ_NULL;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        size_t n = ev->n_args < MPBLE_EVENT_MAX_ARGS ? ev->n_args : MPBLE_EVENT_MAX_ARGS;
        mp_obj_t items[MPBLE_EVENT_MAX_ARGS];
        for (size_t i = 0; i < n; i++) {
            items[i] = port_value(ev, &ev->args[i]);
        }
        mp_obj_t tuple = mp_obj_new_tuple(n, items);
        if (port_at_repl) {
            // At the REPL prompt, Ctrl-C must reach a callback that loops too.
            port_at_repl = false;
            port_repl_begun = mpble_hal_interrupt_begin();
        }
        if (timed) {
            port_lat_us = (uint32_t)mp_hal_ticks_us() - arrived_us;
            port_lat_pending = true;
        }
        mp_call_function_1(cb, tuple);
        nlr_pop();
        return MP_OBJ_NULL;
    }
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (port_is_interrupt(exc)) {
        return exc;
    }
    // A failing callback must not stop delivery of later events.
    mp_obj_print_exception(&mp_plat_print, exc);
    return MP_OBJ_NULL;
}

// With the port lock held: the events numbered from before to after were
// caused by bytes that arrived at port_rx_time_us.
static void port_stamp_push(size_t count_before, size_t count_after) {
    if (count_after < count_before) {
        // The queue shrank without a pop (a reset): forget every span.
        port_stamps_len = 0;
        return;
    }
    if (count_after == count_before) {
        return;
    }
    if (port_stamps_len == PORT_STAMPS) {
        port_stamps_head = (port_stamps_head + 1) % PORT_STAMPS;
        port_stamps_len--;
    }
    size_t i = (port_stamps_head + port_stamps_len) % PORT_STAMPS;
    port_stamps[i].start = port_ev_popped + (uint32_t)count_before;
    port_stamps[i].end = port_ev_popped + (uint32_t)count_after;
    port_stamps[i].us = port_rx_time_us;
    port_stamps_len++;
}

// With the port lock held, after an event was popped: whether it was
// caused by input, and when that arrived.
static bool port_stamp_pop(uint32_t *us) {
    uint32_t n = port_ev_popped++;
    while (port_stamps_len > 0 && (int32_t)(port_stamps[port_stamps_head].end - n) <= 0) {
        port_stamps_head = (port_stamps_head + 1) % PORT_STAMPS;
        port_stamps_len--;
    }
    if (port_stamps_len > 0 && (int32_t)(n - port_stamps[port_stamps_head].start) >= 0) {
        *us = port_stamps[port_stamps_head].us;
        return true;
    }
    return false;
}

// With the port lock held: hands the last callback's latency to the core.
static void port_record_latency(void) {
    if (port_lat_pending) {
        port_lat_pending = false;
        mpble_latency_record(port_lat_us);
    }
}

static bool port_on_main_thread(void) {
    #if MICROPY_PY_THREAD
    return mp_thread_is_main_thread();
    #else
    return true;
    #endif
}

// Delivers every pending event to Python. Returns false when it may not
// deliver here (not the main thread, or inside a callback already).
static bool port_deliver_events(void) {
    #if MICROPY_PY_THREAD
    if (!mp_thread_is_main_thread()) {
        // Callbacks run on the main thread only, one at a time.
        mpble_port_request_process();
        return false;
    }
    #endif
    if (port_delivering) {
        // Called from inside a callback: the outer loop delivers the rest.
        return false;
    }
    port_delivering = true;
    static MpbleEvent ev;
    for (;;) {
        port_lock_only();
        port_record_latency();
        bool popped = mpble_event_pop(&ev);
        uint32_t arrived_us = 0;
        bool timed = popped && port_stamp_pop(&arrived_us);
        port_unlock();
        if (!popped) {
            break;
        }
        mp_obj_t exc = port_deliver_one(&ev, timed, arrived_us);
        if (exc != MP_OBJ_NULL) {
            // Ctrl-C (or sys.exit) in a callback stops the delivery and
            // reaches the script: a script stuck in a loop of callbacks can
            // be stopped. The events not delivered yet stay queued for the
            // next pass; the one whose callback raised was delivered.
            port_delivering = false;
            nlr_raise(exc);
        }
    }
    port_delivering = false;
    return true;
}

void mpble_port_unlock(void) {
    port_unlock();
}

void mpble_port_unlock_after_call(void) {
    port_flush_and_publish(mpble_port_now_ms());
    // Events the call produced (or left from an interrupted pass), or input
    // waiting for them to be delivered; where the VM does all the pumping
    // (bare metal), input may also wait in the transport, unseen here;
    // bonds the call changed (smpRemovePairedDev...) are saved by a pass.
    bool work = mpble_event_count() > 0 || port_rx_off < port_rx_len || !mpble_hal_pumps_core()
        || mpble_bonds_dirty();
    port_unlock();
    // The script (or the REPL) is talking to BLE again: deliver as usual.
    port_script_interrupted = false;
    // Events the call produced reach Python later, like the vendor firmware
    // (callbacks are scheduled, never run inside the API call). Nothing to
    // deliver, nothing to schedule: a blocking call's wait asks the core
    // about its operation this way in a loop, and a pass scheduled each
    // time woke that wait at once, for ever (it spun on the CPU). A call
    // from a callback needs no pass either: the loop that delivers it
    // delivers what the call produced.
    if (work && !((port_delivering || port_waiting > 0) && port_on_main_thread())) {
        mpble_port_request_process();
    }
}

// With the port lock held: offers the core what the transport received.
// Returns true when bytes remain that the core cannot take until Python has
// drained its events.
static bool port_feed(uint32_t now) {
    for (;;) {
        if (port_rx_off == port_rx_len) {
            port_rx_off = 0;
            port_rx_len = mpble_hal_read(port_rx_buf, sizeof(port_rx_buf));
            if (port_rx_len == 0) {
                return false;
            }
            port_rx_time_us = mpble_hal_rx_time_us();
        }
        size_t before = mpble_event_count();
        port_rx_off += mpble_h4_rx(port_rx_buf + port_rx_off, port_rx_len - port_rx_off, now);
        port_stamp_push(before, mpble_event_count());
        if (port_rx_off < port_rx_len) {
            return true;
        }
    }
}

// Any thread: one pass of the core (input as far as the event queue has
// room, timers, output, next deadline). Returns true when Python has work:
// events to deliver, or input waiting for them to be delivered.
bool mpble_port_pump(void) {
    // One tick, after the input (which is fed with the time itself).
    port_lock_only();
    uint32_t now = mpble_port_now_ms();
    bool more = port_feed(now);
    mpble_tick(now);
    port_flush_and_publish(now);
    // Changed bonds are saved by the next processing pass.
    bool events = mpble_event_count() > 0 || mpble_bonds_dirty();
    __atomic_store_n(&port_pumped_state, mpble_state(), __ATOMIC_RELAXED);
    port_unlock();
    return more || events;
}

void mpble_port_transport_lost(void) {
    mpble_port_lock();
    uint32_t now = mpble_port_now_ms();
    // What arrived before the end still counts (a Disconnection Complete,
    // an ATT request); what the core has no room for now would only be
    // about links that end here, and must not reach the next controller.
    port_feed(now);
    port_rx_off = 0;
    port_rx_len = 0;
    while (mpble_hal_read(port_rx_buf, sizeof(port_rx_buf)) > 0) {
    }
    mpble_transport_lost(now);
    port_flush_and_publish(now);
    port_unlock();
}

// Main thread: says once what the user must know about the transport.
static void port_report(void) {
    MpbleState state = __atomic_load_n(&port_pumped_state, __ATOMIC_RELAXED);
    if (state == MPBLE_STATE_FAILED && port_last_state != MPBLE_STATE_FAILED) {
        // The core reports the failure as an event (QuecPython event 0 with
        // a non-zero status); the user also needs to know where we looked.
        mp_printf(MICROPY_ERROR_PRINTER,
            "mpble: no controller answered on %s (HCI bring-up timed out or failed)\n",
            mpble_hal_describe());
    }
    port_last_state = state;
    int err = __atomic_load_n(&port_tx_error, __ATOMIC_SEQ_CST);
    if (err != 0 && err != port_tx_error_reported) {
        mp_printf(MICROPY_ERROR_PRINTER,
            "mpble: cannot write to the controller (%s): errno %d\n", mpble_hal_describe(), err);
    }
    port_tx_error_reported = err;
}

void mpble_port_process(void) {
    for (;;) {
        // Where the transport pumps the core itself, the pass pumps only
        // for input that waited for room in the event queue (the reader
        // asked for this pass after its own pump). A stale "nothing
        // waits" (read without the lock) is safe: the reader asks for
        // another pass after every pump that leaves input waiting.
        bool more = !mpble_hal_pumps_core()
            || __atomic_load_n(&port_rx_off, __ATOMIC_RELAXED) < __atomic_load_n(&port_rx_len, __ATOMIC_RELAXED)
            ? mpble_port_pump() : false;
        port_report();
        port_bonds_save();
        if (!port_deliver_events()) {
            // Python cannot take events here; a later pass continues.
            if (more) {
                mpble_port_request_process();
            }
            return;
        }
        if (!more) {
            return;
        }
    }
}

// Ends what mpble_hal_interrupt_begin() started; a Ctrl-C that came after
// the last callback has nothing left to interrupt, and a KeyboardInterrupt
// left pending would escape from the REPL's readline.
static void port_interrupt_end(void) {
    bool begun = port_repl_begun;
    port_at_repl = false;
    port_repl_begun = false;
    if (!begun) {
        return;
    }
    mpble_hal_interrupt_end(true);
    if (MP_STATE_MAIN_THREAD(mp_pending_exception) == MP_OBJ_FROM_PTR(&MP_STATE_VM(mp_kbd_exception))) {
        MP_STATE_MAIN_THREAD(mp_pending_exception) = MP_OBJ_NULL;
    }
}

static mp_obj_t port_process_scheduled(mp_obj_t arg) {
    (void)arg;
    __atomic_store_n(&port_scheduled, false, __ATOMIC_SEQ_CST);
    bool script = mpble_hal_script_running();
    // The script stopped on a callback's interrupt and the VM now runs the
    // scheduler once more on its way back to the prompt (unix main.c calls
    // mp_handle_pending(false) after an uncaught exception): deliver
    // nothing there, or the next queued callback would run before the
    // prompt comes back. The events wait for the next pass (new input or
    // an API call, which also ends this). A script that caught the
    // interrupt goes on as usual.
    // Until then every pass at the prompt is skipped, not only the first:
    // on bare metal controller input arriving late asks for more passes,
    // and one of them would start the queued slow callbacks at the prompt.
    bool skip = port_script_interrupted && !script;
    if (!skip) {
        port_script_interrupted = false;
    }
    if (skip) {
        return mp_const_none;
    }
    // At the REPL prompt: Ctrl-C is switched on once a callback is about
    // to run (port_deliver_one); most passes at the prompt run none.
    port_at_repl = !script;
    port_repl_begun = false;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mpble_port_process();
        nlr_pop();
        port_interrupt_end();
        return mp_const_none;
    }
    port_interrupt_end();
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    // Whether a script runs is asked again now: the pass may have started
    // before the script did (at the prompt, or while it was being read).
    if (port_is_interrupt(exc) && (script || mpble_hal_script_running())) {
        // A callback raised KeyboardInterrupt or SystemExit. The scheduler
        // would print it and resume the interrupted code; hand it to that
        // code instead (as a pending exception, which it raises at its next
        // check), so that Ctrl-C stops the script. No new pass is asked for:
        // the events left wait for the next one (new input, an API call),
        // and do not start another callback before the script has stopped.
        mp_sched_exception(exc);
        port_script_interrupted = true;
        return mp_const_none;
    }
    // Elsewhere (the REPL waiting for a line, where no exception may escape)
    // the scheduler prints it, as for any scheduled function; the events
    // left wait for the next pass there too. A pass already queued behind
    // this one (the reader asked for it while the callback ran) is skipped
    // like the one after a script's interrupt: the REPL's wait runs queued
    // work before it blocks, and would start the next callback before the
    // user could type.
    if (port_is_interrupt(exc)) {
        port_script_interrupted = true;
    }
    nlr_jump(nlr.ret_val);
}
static MP_DEFINE_CONST_FUN_OBJ_1(port_process_scheduled_obj, port_process_scheduled);

bool mpble_port_process_pending(void) {
    return __atomic_load_n(&port_scheduled, __ATOMIC_SEQ_CST);
}

int mpble_port_request_process(void) {
    if (__atomic_exchange_n(&port_scheduled, true, __ATOMIC_SEQ_CST)
        && MP_STATE_VM(sched_len) != 0) {
        return 0;
    }
    // Either newly requested, or marked as scheduled while the scheduler
    // holds nothing: the pass is running now (it clears the mark first) or
    // was lost (a soft reset empties the queue). Scheduling once more is
    // harmless (a pass with nothing to do returns at once); never
    // scheduling again would stop every callback for good.
    if (!mp_sched_schedule(MP_OBJ_FROM_PTR(&port_process_scheduled_obj), mp_const_none)) {
        __atomic_store_n(&port_scheduled, false, __ATOMIC_SEQ_CST);
        return -1;
    }
    mpble_hal_wake_main();
    return 1;
}

static bool port_wait_loop(bool (*predicate)(void), uint32_t timeout_ms) {
    uint32_t start = mpble_port_now_ms();
    for (;;) {
        mpble_port_process();
        if (predicate()) {
            return true;
        }
        uint32_t now = mpble_port_now_ms();
        uint32_t elapsed = now - start;
        if (elapsed >= timeout_ms) {
            return false;
        }
        // Short slices keep Ctrl-C responsive; the core's timer bounds them too.
        uint32_t slice = timeout_ms - elapsed;
        if (slice > 50) {
            slice = 50;
        }
        port_lock_only();
        uint32_t next = mpble_next_timeout_ms(now);
        port_unlock();
        if (next < slice) {
            slice = next;
        }
        MP_THREAD_GIL_EXIT();
        mpble_hal_wait_rx(slice);
        MP_THREAD_GIL_ENTER();
        mp_handle_pending(true);
    }
}

bool mpble_port_wait(bool (*predicate)(void), uint32_t timeout_ms) {
    // While the loop runs it processes on every round: the API calls made
    // meanwhile (the predicate's, a callback's) ask for no pass of their
    // own (one would end the next wait at once, and the loop would spin).
    unsigned main = port_on_main_thread() ? 1 : 0;
    port_waiting += main;
    nlr_buf_t nlr;
    bool done = false;
    bool raised = false;
    if (nlr_push(&nlr) == 0) {
        done = port_wait_loop(predicate, timeout_ms);
        nlr_pop();
    } else {
        raised = true;
    }
    port_waiting -= main;
    // What came or was produced after the loop's last pass reaches Python
    // the usual way.
    mpble_port_request_process();
    if (raised) {
        nlr_jump(nlr.ret_val);
    }
    return done;
}

void mpble_port_set_callback(mpble_port_cb_t slot, mp_obj_t cb) {
    if (slot < MPBLE_PORT_CB_COUNT) {
        MP_STATE_PORT(mpble_callbacks)[slot] = cb;
    }
}

mp_obj_t mpble_port_new_bytes(const uint8_t *data, size_t len) {
    if (len == 0) {
        return mp_const_empty_bytes;
    }
    // A short value made recently is handed out again: bytes are immutable,
    // so one object serves every event that carries the same value (the
    // UUID of each write event: two allocations saved per write). Callbacks
    // run on one thread at a time; a Pycom read() on another thread may
    // race for a slot, and either object it finds there is a whole bytes.
    mp_obj_t *cache = MP_STATE_PORT(mpble_bytes_cache);
    if (len <= PORT_BYTES_CACHE_MAX_LEN) {
        for (size_t i = 0; i < PORT_BYTES_CACHE; i++) {
            mp_obj_t b = __atomic_load_n(&cache[i], __ATOMIC_RELAXED);
            if (b != MP_OBJ_NULL) {
                const mp_obj_str_t *o = MP_OBJ_TO_PTR(b);
                if (o->len == len && memcmp(o->data, data, len) == 0) {
                    return b;
                }
            }
        }
    }
    // mp_obj_new_bytes hashes every byte up front (qstr_compute_hash: about
    // 700 instructions for a 100-byte value, a twentieth of a client read),
    // yet a callback's value is hardly ever hashed. A hash of 0 means "not
    // computed": py/objstr.c's equality skips the comparison of hashes and
    // mp_unary_op(MP_UNARY_OP_HASH) computes it when asked, as py/objexcept.c
    // does for its messages.
    mp_obj_str_t *o = mp_obj_malloc(mp_obj_str_t, &mp_type_bytes);
    byte *p = m_new(byte, len + 1);
    memcpy(p, data, len);
    p[len] = '\0'; // as mp_obj_new_str_copy: C code may read it as ASCIIZ
    o->data = p;
    o->len = len;
    o->hash = 0;
    if (len <= PORT_BYTES_CACHE_MAX_LEN) {
        unsigned slot = port_bytes_cache_next++ % PORT_BYTES_CACHE;
        __atomic_store_n(&cache[slot], MP_OBJ_FROM_PTR(o), __ATOMIC_RELAXED);
    }
    return MP_OBJ_FROM_PTR(o);
}

int64_t mpble_port_arg_int(mp_obj_t arg, qstr name) {
    if (arg == mp_const_false || arg == mp_const_true) {
        return arg == mp_const_true;
    }
    if (mp_obj_is_small_int(arg)) {
        return MP_OBJ_SMALL_INT_VALUE(arg);
    }
    if (!mp_obj_is_int(arg)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be an int"), name);
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        int64_t v = mp_obj_int_get_checked(arg);
        nlr_pop();
        return v;
    }
    // OverflowError: out of every valid range anyway; the core refuses it.
    return mp_obj_int_sign(arg) < 0 ? INT64_MIN : INT64_MAX;
}

void mpble_port_arg_buf(mp_obj_t arg, qstr name, mp_buffer_info_t *bufinfo) {
    if (!mp_get_buffer(arg, bufinfo, MP_BUFFER_READ)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be bytes-like"), name);
    }
}

// Called by the Rust panic handler; reached only on a bug in the core.
void mpble_port_fatal(const uint8_t *msg, size_t len) {
    mp_printf(MICROPY_ERROR_PRINTER, "mpble: fatal: %.*s\n", (int)len, (const char *)msg);
    #if !MPBLE_PORT_NO_STDIO
    fflush(stdout);
    #endif
    abort();
}

// The Rust core is built with panic = "abort", but the precompiled `core`
// of hosted targets (x86_64-unknown-linux-gnu) still references the unwinder
// personality routine from its unwind tables. Nothing unwinds, so a weak
// stub satisfies the linker; a definition in the Rust crate would win.
__attribute__((weak)) void rust_eh_personality(void);
__attribute__((weak)) void rust_eh_personality(void) {
    abort();
}

// The counters of MpbleStats by name. A field the core does not fill
// (beyond its `size`, a core older than this header) is left out.
#define STAT(field) { MP_QSTR_##field, offsetof(MpbleStats, field) }
static const struct {
    uint16_t name;
    uint16_t offset;
} port_stats_fields[] = {
    STAT(bad_events),
    STAT(bad_acl),
    STAT(unknown_handle),
    STAT(l2cap_errors),
    STAT(unknown_cid),
    STAT(tx_dropped),
    STAT(host_events_dropped),
    STAT(att_events_dropped),
    STAT(gatt_client_unexpected),
    STAT(h4_oversize_dropped),
    STAT(h4_bad_indicator),
    STAT(h4_sco_iso_dropped),
    STAT(events_dropped),
    STAT(qpy_events_dropped),
    STAT(pycom_events_dropped),
    STAT(adv_fifo_dropped),
    STAT(cb_latency_count),
    STAT(cb_latency_p50_us),
    STAT(cb_latency_p99_us),
    STAT(cb_latency_max_us),
};
#undef STAT

mp_obj_t mpble_port_stats_dict(void) {
    MpbleStats stats = { 0 };
    port_lock_only();
    port_record_latency();
    mpble_stats(&stats);
    port_unlock();
    mp_obj_t dict = mp_obj_new_dict(MP_ARRAY_SIZE(port_stats_fields));
    for (size_t i = 0; i < MP_ARRAY_SIZE(port_stats_fields); i++) {
        size_t offset = port_stats_fields[i].offset;
        if (offset + sizeof(uint32_t) > stats.size) {
            continue;
        }
        uint32_t value;
        memcpy(&value, (const uint8_t *)&stats + offset, sizeof(value));
        mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(port_stats_fields[i].name),
            mp_obj_new_int_from_uint(value));
    }
    return dict;
}
