/*
 * mpble: what the unix transports share (hal_unix.c) and what differs
 * between them (hal_unix_tcp.c, hal_unix_tty.c: how the descriptor is
 * opened and configured), plus the btsnoop capture (hal_unix_snoop.c).
 * Internal to the unix port; the rest of the port sees only mpble_hal.h.
 */
#ifndef MICROPY_INCLUDED_MPBLE_HAL_UNIX_H
#define MICROPY_INCLUDED_MPBLE_HAL_UNIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAL_ENV "MPBLE_HCI"
#define HAL_USAGE HAL_ENV "=tcp:HOST:PORT or " HAL_ENV "=tty:/dev/ttyACM0[:BAUD[:rtscts|none]]"

typedef struct {
    // The scheme MPBLE_HCI starts with, e.g. "tcp:".
    const char *scheme;
    // Opens the controller named by args (MPBLE_HCI after the scheme).
    // Returns a non-blocking, close-on-exec descriptor, or -errno with a
    // message naming MPBLE_HCI written to msg.
    int (*open)(const char *args, char *msg, size_t msg_len);
    // Called by the reader after every read (NULL: nothing to do).
    void (*after_read)(int fd);
    // How the message says that the stream ended, e.g. "closed the connection".
    const char *lost;
} hal_unix_transport_t;

extern const hal_unix_transport_t hal_unix_tcp;
extern const hal_unix_transport_t hal_unix_tty;

// The main thread's waits (hal_unix_wait.c). What a waiter waits for:
// a scheduled function (the pass of callbacks; the REPL and the sleeps), or
// any progress of the reader (the port's blocking API calls).
#define HAL_UNIX_WAKE_SCHED (1u)
#define HAL_UNIX_WAKE_PROGRESS (2u)
// Any thread, after publishing the work: wakes the main thread if it waits
// for one of kinds. Costs no system call while it does not wait.
void hal_unix_wake(unsigned kinds);
// The count of wake-ups so far (for hal_unix_wait's `seen`).
unsigned hal_unix_wake_seq(void);
// Main thread, GIL held: waits for fd (-1: none) to have one of events, a
// wake-up of kinds, a signal, or timeout_us (UINT64_MAX: none); returns at
// once when a scheduled function is pending or (HAL_UNIX_WAKE_PROGRESS)
// hal_unix_wake_seq() moved past seen. Returns fd's revents.
int hal_unix_wait(int fd, short events, uint64_t timeout_us, unsigned kinds, unsigned seen);

// CLOCK_MONOTONIC in ms.
uint64_t hal_unix_now_ms(void);
// Non-blocking, and not inherited by programs started with os.system().
void hal_unix_set_flags(int fd);

// The capture (hal_unix_snoop.c). Each hook frames the byte stream of its
// direction into H4 packets and records every complete one while a capture
// runs; neither blocks (a bounded buffer, written out by the capture's own
// thread).
// Starts the capture MPBLE_SNOOP names, once per process (at the first
// open of the transport).
void hal_unix_snoop_from_env(void);
// A new byte stream starts (transport opened): both framers restart.
void hal_unix_snoop_restart(void);
// Bytes from the controller (the reader thread only).
void hal_unix_snoop_rx(const uint8_t *buf, size_t len);
// Bytes to the controller, as queued (with hal_unix.c's mutex held).
void hal_unix_snoop_tx(const uint8_t *buf, size_t len);

#endif // MICROPY_INCLUDED_MPBLE_HAL_UNIX_H
