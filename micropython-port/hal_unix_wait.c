/*
 * mpble: how the unix port's main thread waits, so that a callback pass the
 * transport's reader thread schedules wakes it at once and is never missed.
 *
 * MicroPython's unix port runs scheduled functions (mp_sched_schedule) in
 * the VM between bytecodes, and where the main thread blocks it relies on a
 * signal: read() of the REPL's stdin (mp_hal_stdin_rx_chr) and select() of
 * time.sleep() (ports/unix/modtime.c) retry on EINTR and run
 * mp_handle_pending() first; mp_hal_delay_ms() (utime.sleep_ms) polls the
 * scheduler every 0.5 ms (MICROPY_INTERNAL_WFE). A signal sent just before
 * the thread blocks is lost, and one that lands in write() splits a print.
 *
 * Instead the main thread blocks in poll() on its own descriptor (stdin, or
 * none for a sleep) together with an eventfd, and wakers write that eventfd
 * only while it waits:
 *
 *   waiter:  waiting = kind; fence; if work pending: do not block; poll()
 *   waker:   publish work (schedule); fence; if waiting & kind: write(eventfd)
 *
 * With sequentially consistent fences on both sides at least one of them
 * sees the other's store, so a wake-up cannot be lost; and while the main
 * thread runs bytecode (the VM picks the pass up itself) waking costs no
 * system call. "Work" is a pending scheduler entry (the pass of callbacks),
 * or for the port's blocking API calls (mpble_hal_wait_rx) any progress of
 * the reader since the last wait (wait_seq).
 *
 * The unix port's own functions are wrapped with the linker (--wrap, see
 * micropython.mk), so MicroPython's sources stay as they are:
 * - mp_hal_stdin_rx_chr (the REPL, input()): waits for stdin or a wake-up;
 *   a wake-up runs mp_handle_pending(), as the EINTR path did.
 * - select: only the call time.sleep() makes (no descriptors, a timeout, on
 *   the main thread); a wake-up returns EINTR with the time left in the
 *   timeval (MICROPY_SELECT_REMAINING_TIME), and modtime.c runs
 *   mp_handle_pending() and sleeps on. Every other select() is untouched.
 * - mp_hal_delay_ms (utime.sleep_ms, time.sleep_ms): one wait to the end
 *   instead of 0.5 ms naps, running pending work on every wake-up.
 * Other threads, and anything else that blocks, behave as upstream.
 *
 * Callbacks therefore run only between bytecodes or in these waits, never
 * inside a write() to stdout: a long print() comes out whole.
 */
#define _GNU_SOURCE // ppoll
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "py/mphal.h"
#include "py/mpstate.h"
#include "py/mpthread.h"
#include "py/runtime.h"

#include "hal_unix.h"

// Created once at start-up (before any thread): -1 if eventfd failed, and
// then every wrapper behaves as upstream.
static int wait_fd = -1;
static pthread_t wait_main_thread;
// What the main thread waits for while it blocks (HAL_UNIX_WAKE_* mask; 0:
// not waiting). Written by the main thread, read by wakers.
static unsigned wait_waiting;
// Counts wake-ups (any thread).
static unsigned wait_seq;

__attribute__((constructor)) static void wait_init(void) {
    wait_main_thread = pthread_self();
    wait_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static bool wait_on_main_thread(void) {
    return wait_fd >= 0 && pthread_equal(pthread_self(), wait_main_thread);
}

void hal_unix_wake(unsigned kinds) {
    __atomic_add_fetch(&wait_seq, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if ((__atomic_load_n(&wait_waiting, __ATOMIC_SEQ_CST) & kinds) != 0 && wait_fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(wait_fd, &one, sizeof(one));
        (void)r; // EAGAIN: the counter is already readable
    }
}

unsigned hal_unix_wake_seq(void) {
    return __atomic_load_n(&wait_seq, __ATOMIC_SEQ_CST);
}

static uint64_t wait_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

// Main thread, GIL held. Blocks until fd (if >= 0) has one of events, a
// waker of `kinds` wakes it, timeout_us passes (UINT64_MAX: never) or a
// signal arrives; returns at once if work is already pending (a scheduled
// function, or with HAL_UNIX_WAKE_PROGRESS a wake-up counted after `seen`).
// Returns fd's revents (0 when it did not become ready).
int hal_unix_wait(int fd, short events, uint64_t timeout_us, unsigned kinds, unsigned seen) {
    if (!wait_on_main_thread()) {
        // Another thread (a blocking API call from a _thread): short naps,
        // as before; the one wake-up channel belongs to the main thread.
        struct pollfd p = { .fd = fd, .events = events };
        MP_THREAD_GIL_EXIT();
        int n = poll(&p, fd >= 0 ? 1 : 0, timeout_us > 1000 ? 1 : (int)(timeout_us / 1000));
        MP_THREAD_GIL_ENTER();
        return n > 0 ? p.revents : 0;
    }
    __atomic_store_n(&wait_waiting, kinds, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    bool work = MP_STATE_VM(sched_state) == MP_SCHED_PENDING
        || ((kinds & HAL_UNIX_WAKE_PROGRESS) && hal_unix_wake_seq() != seen);
    struct pollfd pfd[2] = {
        { .fd = wait_fd, .events = POLLIN },
        { .fd = fd, .events = events },
    };
    if (!work) {
        struct timespec ts, *tsp = NULL;
        if (timeout_us != UINT64_MAX) {
            ts.tv_sec = (time_t)(timeout_us / 1000000u);
            ts.tv_nsec = (long)(timeout_us % 1000000u) * 1000L;
            tsp = &ts;
        }
        MP_THREAD_GIL_EXIT();
        int n = ppoll(pfd, fd >= 0 ? 2 : 1, tsp, NULL);
        MP_THREAD_GIL_ENTER();
        if (n < 0) {
            pfd[0].revents = 0;
            pfd[1].revents = 0;
        }
    }
    __atomic_store_n(&wait_waiting, 0, __ATOMIC_SEQ_CST);
    if (pfd[0].revents & POLLIN) {
        // Reset the counter; whoever wakes later writes again (the work it
        // publishes comes before its write, and the caller looks for work
        // before it waits again).
        uint64_t v;
        ssize_t r = read(wait_fd, &v, sizeof(v));
        (void)r;
    }
    return work ? 0 : pfd[1].revents;
}

int __real_mp_hal_stdin_rx_chr(void);
int __wrap_mp_hal_stdin_rx_chr(void);
int __wrap_mp_hal_stdin_rx_chr(void) {
    #if MICROPY_PY_OS_DUPTERM
    if (MP_STATE_VM(dupterm_objs[0]) != MP_OBJ_NULL) {
        return __real_mp_hal_stdin_rx_chr();
    }
    #endif
    if (!wait_on_main_thread()) {
        return __real_mp_hal_stdin_rx_chr();
    }
    for (;;) {
        // Callbacks scheduled while the REPL waits for a key run here, as
        // they did on EINTR.
        mp_handle_pending(true);
        if (hal_unix_wait(STDIN_FILENO, POLLIN, UINT64_MAX, HAL_UNIX_WAKE_SCHED, 0) != 0) {
            // A byte (or the end of the stream): the port's own read.
            return __real_mp_hal_stdin_rx_chr();
        }
    }
}

int __real_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv);
int __wrap_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv);
int __wrap_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv) {
    if (nfds != 0 || r != NULL || w != NULL || e != NULL || tv == NULL || !wait_on_main_thread()) {
        return __real_select(nfds, r, w, e, tv);
    }
    // time.sleep(): a sleep that pending work interrupts like a signal.
    uint64_t total = (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
    uint64_t start = wait_now_us();
    hal_unix_wait(-1, 0, total, HAL_UNIX_WAKE_SCHED, 0);
    uint64_t spent = wait_now_us() - start;
    if (spent >= total) {
        tv->tv_sec = 0;
        tv->tv_usec = 0;
        return 0;
    }
    uint64_t left = total - spent;
    tv->tv_sec = (time_t)(left / 1000000u);
    tv->tv_usec = (suseconds_t)(left % 1000000u);
    errno = EINTR;
    return -1;
}

void __real_mp_hal_delay_ms(mp_uint_t ms);
void __wrap_mp_hal_delay_ms(mp_uint_t ms);
void __wrap_mp_hal_delay_ms(mp_uint_t ms) {
    if (!wait_on_main_thread()) {
        __real_mp_hal_delay_ms(ms);
        return;
    }
    uint64_t end = wait_now_us() + (uint64_t)ms * 1000u;
    for (;;) {
        // As upstream (mp_event_wait_ms): pending work runs during a sleep.
        mp_handle_pending(true);
        uint64_t now = wait_now_us();
        if (now >= end) {
            return;
        }
        hal_unix_wait(-1, 0, end - now, HAL_UNIX_WAKE_SCHED, 0);
    }
}
