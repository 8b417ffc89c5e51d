/*
 * mpble: glue between the Rust core (include/mpble.h), the transport
 * (mpble_hal.h) and MicroPython (scheduler, callbacks).
 *
 * Threads: functions marked "VM" run in a thread that executes Python (the
 * unix port may have several, without a GIL); mpble_port_request_process()
 * may be called from any thread, including the transport's reader.
 *
 * The contract, one rule in three parts:
 * - Every call into the core (any mpble_* function of include/mpble.h), from
 *   any thread, is made with the port lock held (mpble_port_lock, or the
 *   functions below that take it). The core does not wait for its own lock:
 *   a second caller inside it at the same time is a bug, reported through
 *   mpble_port_fatal().
 * - Nothing blocks while the lock is held: the transport's writes are
 *   non-blocking, and the port takes from the core only what the transport
 *   can queue (mpble_hal_tx_room); the rest stays, in order, in the core.
 *   No Python code runs with the lock held either.
 * - Callbacks run on the main thread without the lock. KeyboardInterrupt
 *   (Ctrl-C) or SystemExit raised in one ends the delivery and reaches the
 *   script; the events not yet delivered stay queued for the next pass.
 * With MICROPY_PY_THREAD=0 the lock is a no-op: such a port must then call
 * the core from the VM only (its transport's interrupt handler only queues
 * bytes and calls mpble_port_request_process()).
 */
#ifndef MICROPY_INCLUDED_MPBLE_PORT_H
#define MICROPY_INCLUDED_MPBLE_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "py/obj.h"
#include "mpble.h"

// Python callback slots (root pointers), indexed by MpbleTarget.
typedef enum {
    MPBLE_PORT_CB_QPY_SERVER = 0,
    MPBLE_PORT_CB_QPY_CLIENT = 1,
    MPBLE_PORT_CB_PYCOM_BLUETOOTH = 2,
    MPBLE_PORT_CB_COUNT,
} mpble_port_cb_t;

// VM: the Pycom module's tear-down (modnetwork_bt.c): forgets its Python
// objects; mpble_port_deinit() calls it.
void network_bt_deinit(void);

// VM: one-time initialisation (idempotent).
void mpble_port_init(void);

// VM: tear-down. Closes the transport (its reader thread stopped and
// joined), then forgets the core's state and the callbacks; the next
// gattStart opens the transport again. Call it without the port lock. The
// unix build calls it from mp_deinit() at process exit (micropython.mk sets
// MICROPY_PORT_DEINIT_FUNC), so the reader is gone before the VM is; a port
// with soft reset calls it from its soft-reset path, before mp_deinit().
void mpble_port_deinit(void);

// VM, without the lock: imports the key store's bonds into the core, once
// after each reset (the core keeps them across stop and start). Called when
// a module is imported and at every open, so bonds are listed before BLE
// starts.
void mpble_port_load_bonds(void);

// VM: the core's notion of time.
uint32_t mpble_port_now_ms(void);

// VM: opens the transport if needed. Returns 0, or a positive errno with
// *msg set to a message naming MPBLE_HCI.
int mpble_port_open(const char **msg);

// VM: serialises calls into the core with the transmit path. Every API
// call is mpble_port_lock(); mpble_xxx(); mpble_port_unlock_after_call().
// Takes the lock and tells the core the time (mpble_tick).
void mpble_port_lock(void);
// VM: unlocks after calls that only read the core's state.
void mpble_port_unlock(void);
// VM: flushes what the core wants sent, publishes the next timer deadline,
// unlocks, and schedules event delivery.
void mpble_port_unlock_after_call(void);

// Any thread (the transport's reader included): one pass of the core:
// received bytes -> core (while its event queue has room), tick, transmit,
// publish the next deadline. Returns true when Python has work (events to
// deliver, or input waiting for room): then request a processing pass.
bool mpble_port_pump(void);

// The transport's reader, once, when the controller's byte stream ends:
// tells the core (under the port lock), which ends every link and stops.
// The caller then requests a processing pass to deliver the events.
void mpble_port_transport_lost(void);

// VM: pumps and delivers pending events to Python, until no input waits
// (main thread only; elsewhere delivery is scheduled on the main thread).
void mpble_port_process(void);

// Any thread: schedule mpble_port_process() on the main thread and wake it.
// Returns 1 if newly scheduled, 0 if already pending, -1 if the scheduler
// queue is full.
int mpble_port_request_process(void);

// Any thread: a scheduled processing pass has not run yet.
bool mpble_port_process_pending(void);

// VM: processes until predicate() is true or timeout_ms passes; returns the
// last predicate() value. Handles pending events and KeyboardInterrupt like
// MICROPY_EVENT_POLL_HOOK (may raise).
bool mpble_port_wait(bool (*predicate)(void), uint32_t timeout_ms);

// VM: stores (or clears, with MP_OBJ_NULL) the callback of a slot.
void mpble_port_set_callback(mpble_port_cb_t slot, mp_obj_t cb);

// VM: argument marshalling shared by the API modules. An int argument is
// an int or a bool (else TypeError "<name> must be an int"); ints beyond
// int64 saturate so that the core's range checks refuse them. A bytes
// argument is anything with the buffer protocol (else TypeError).
int64_t mpble_port_arg_int(mp_obj_t arg, qstr name);
void mpble_port_arg_buf(mp_obj_t arg, qstr name, mp_buffer_info_t *bufinfo);

// VM: a bytes object holding a copy of a payload (an event's value, a
// characteristic read), like mp_obj_new_bytes but with its hash left to be
// computed when first asked for.
mp_obj_t mpble_port_new_bytes(const uint8_t *data, size_t len);

// VM: every drop counter of the core (MpbleStats, read under the port
// lock) as a dict of counter name -> int: QuecPython ble.mpbleStats() and
// Pycom Bluetooth().mpble_stats() return it (README "Diagnostics").
mp_obj_t mpble_port_stats_dict(void);

#endif // MICROPY_INCLUDED_MPBLE_PORT_H
