/*
 * mpble: byte transport between the MicroPython port and a BLE controller.
 *
 * One implementation per platform (unix: hal_unix.c, with hal_unix_tcp.c for
 * H4 over TCP and hal_unix_tty.c for H4 over a serial device). The core
 * (Rust) never sees the transport; mpble_port.c moves bytes between the two.
 *
 * Nothing here blocks while the port lock may be held: writes go to a
 * bounded transmit buffer that the transport empties on its own (the unix
 * reader polls for POLLOUT), and mpble_port.c takes from the core only as
 * many bytes as that buffer has room for, so the rest waits, in order, in
 * the core's own H4 transmit buffer. When the buffer drains, the transport
 * pumps the core (mpble_port_pump) so that it hands over more.
 */
#ifndef MICROPY_INCLUDED_MPBLE_HAL_H
#define MICROPY_INCLUDED_MPBLE_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Opens the transport named by the environment (MPBLE_HCI) unless it is
// already open; it stays open until mpble_hal_close().
// Returns 0, or a positive errno value (ENODEV: MPBLE_HCI unset or
// malformed; ECONNREFUSED, ETIMEDOUT, ...: connect failed). On failure
// *msg points to a static, NUL-terminated message naming MPBLE_HCI.
int mpble_hal_open(const char **msg);

// Names the transport for messages, e.g. "MPBLE_HCI=tcp:127.0.0.1:9000".
const char *mpble_hal_describe(void);

// True while the transport is open and the peer has not closed it.
bool mpble_hal_is_open(void);

// Moves up to cap received bytes into buf; returns how many (0: none).
size_t mpble_hal_read(uint8_t *buf, size_t cap);

// When the bytes that the last mpble_hal_read() returned arrived (the
// newest of them), in mp_hal_ticks_us() time: the reader thread's receive
// time on unix, the UART interrupt's (or idle drain's) on bare metal. The
// port times callbacks from it (the stats' callback latency).
uint32_t mpble_hal_rx_time_us(void);

// How many bytes mpble_hal_write() takes now. While the transport is not
// open (or has failed) any number: writes then fail at once, and the core is
// drained instead of stalling on a dead link.
size_t mpble_hal_tx_room(void);

// Queues len bytes (at most mpble_hal_tx_room()) after those queued before
// and starts sending them; never blocks. Returns 0, or a positive errno
// value (the transport is closed or failed: the bytes are dropped).
int mpble_hal_write(const uint8_t *buf, size_t len);

// The core wants mpble_tick() in timeout_ms (UINT32_MAX: no timer runs).
// Publishes the deadline for the transport's reader.
void mpble_hal_set_timeout(uint32_t timeout_ms);

// Blocks the calling thread until received bytes are pending or timeout_ms
// has passed. Returns at once if bytes are already pending.
void mpble_hal_wait_rx(uint32_t timeout_ms);

// Main thread: true while it runs Python code that Ctrl-C interrupts with
// KeyboardInterrupt (a script, or a REPL line being executed); false while
// the REPL waits for a line, where an exception must not escape.
bool mpble_hal_script_running(void);

// Main thread, only while the REPL waits for a line (callbacks about to run
// from a scheduled pass): lets Ctrl-C raise KeyboardInterrupt there too, as
// it does while code runs. Returns whether it did; pass that to
// mpble_hal_interrupt_end() once the callbacks are done.
bool mpble_hal_interrupt_begin(void);
void mpble_hal_interrupt_end(bool begun);

// True when the transport pumps the core itself (mpble_port_pump) whenever
// bytes arrive, its buffer drains or the deadline passes (unix: its reader
// thread). The VM's processing pass then pumps only for input left waiting
// for room in the event queue. False on bare metal, where the interrupt
// handlers only queue bytes and the VM does all the pumping.
bool mpble_hal_pumps_core(void);

// Any thread, nested: while the port holds one of its locks (or is between
// two steps that must not be torn apart) it holds back Ctrl-C. The unix
// port raises KeyboardInterrupt from its SIGINT handler at once, wherever
// the thread is (MICROPY_ASYNC_KBD_INTR): jumping out of a held lock would
// leave it taken for good. A Ctrl-C held back is raised at the VM's next
// check instead, once the outermost hold is released. A no-op where
// Ctrl-C only marks the exception pending (bare metal).
void mpble_hal_hold_interrupt(void);
void mpble_hal_release_interrupt(void);

// Closes the transport: stops (and joins) its reader thread, drops unsent
// bytes. Called with the port lock NOT held (the reader may be waiting for
// it). mpble_hal_open() opens it again.
void mpble_hal_close(void);

// Any thread: makes sure the thread that runs scheduled callbacks (the
// main thread) notices a freshly scheduled processing pass even when it is
// blocked in a system call, and keeps nudging it while the pass is pending.
void mpble_hal_wake_main(void);

// Any thread, without the port lock: starts a capture of every H4 packet
// to and from the controller into the file at path (created or truncated;
// btsnoop format, datalink 1002 = H4), replacing a running one; path NULL
// stops the capture (what it recorded is written out first). Never blocks
// the protocol. Returns 0, or a positive errno with *msg set.
int mpble_hal_snoop(const char *path, const char **msg);

#endif // MICROPY_INCLUDED_MPBLE_HAL_H
