/*
 * mpble: the unix port's transport to an H4 controller (the part every
 * transport shares: reader thread, receive ring, transmit ring, flow
 * control, wake-ups, the loss of the stream, the capture hooks).
 *
 * MPBLE_HCI names the controller; hal_unix_tcp.c (tcp:HOST:PORT, e.g.
 * Bumble's virtual controller) and hal_unix_tty.c (tty:/dev/ttyACM0, a
 * serial HCI controller) only open and configure a file descriptor
 * (hal_unix.h). Everything after that is the same for both.
 *
 * Threads:
 * - The VM thread(s) open the transport and close it (mpble_hal_close); any
 *   thread that holds the port lock queues bytes for it (mpble_hal_write)
 *   and drains received bytes (mpble_hal_read).
 * - One reader thread blocks in poll() on the descriptor and on a wake pipe,
 *   with the core's next timer deadline as timeout (no busy polling). It
 *   appends received bytes to a lock-free ring (one producer, one
 *   consumer) and pumps the core itself (mpble_port_pump, under the port
 *   lock); when that leaves events
 *   for Python it asks mpble_port.c to deliver them in the VM
 *   (mp_sched_schedule), which wakes the main thread if it is blocked (the
 *   REPL's read, the sleeps, a blocking API call) through an eventfd that
 *   cannot miss a wake-up (hal_unix_wait.c). No signal is sent: a callback
 *   never runs inside a write() of the main thread's output.
 * The reader never touches Python objects.
 *
 * The descriptor is non-blocking: nothing here blocks while the port lock
 * is held. mpble_hal_write() queues into a bounded transmit ring and writes
 * what the kernel takes at once; while bytes remain the reader also polls
 * for POLLOUT, writes them and pumps the core so that it hands over more
 * (what did not fit waits in the core's own H4 transmit buffer, in order).
 * A controller (or a bridge in front of it) that reads from us only after
 * we have read from it therefore never deadlocks with us. When the stream
 * ends (the far end closed the connection, the serial device went away:
 * read() returns 0 or fails) the core is told (mpble_port_transport_lost):
 * the script gets its disconnect and stop events.
 *
 * Every H4 packet that passes, both ways, is offered to the btsnoop capture
 * (hal_unix_snoop.c), which frames and records it without blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "py/mphal.h"
#include "py/runtime.h"

#include "hal_unix.h"
#include "mpble_hal.h"
#include "mpble_port.h"

#define HAL_RING_SIZE (16384)
// Bytes queued for the controller and not yet taken by the kernel. Bounded:
// when it is full the core keeps the rest (mpble_hal_tx_room() is 0).
#define HAL_TX_SIZE (4096)
// Retry delay when the scheduler queue was full.
#define HAL_SCHED_RETRY_MS (10)

typedef enum {
    HAL_CLOSED = 0, // never opened
    HAL_OPEN,
    HAL_PEER_CLOSED, // the controller closed the connection; reader stopped
} hal_state_t;

static pthread_mutex_t hal_mutex = PTHREAD_MUTEX_INITIALIZER;
// Serialises mpble_hal_open (Python threads may race to open).
static pthread_mutex_t hal_open_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_t hal_reader;

// Guarded by hal_mutex (hal_state, hal_tx_len, hal_tx_err and hal_stop are
// written with atomic stores under it, and read without it where a stale
// value is safe; see mpble_hal_tx_room and hal_reader_main).
static hal_state_t hal_state;
static int hal_fd = -1;
// The transport that opened hal_fd (NULL while closed).
static const hal_unix_transport_t *hal_transport;
// hal_fd is a socket: sent with MSG_NOSIGNAL (a closed peer must not raise
// SIGPIPE); anything else is written with write().
static bool hal_fd_is_socket;
static int hal_wake_pipe[2] = { -1, -1 };
// The receive ring has one producer (the reader thread) and one consumer
// at a time (whoever holds the port lock), so it needs no lock: each side
// owns its counter (bytes ever written, bytes ever read; the difference is
// the fill), publishes it with release and reads the other's with acquire
// (a client read passed 3 lock pairs here). When the ring is full the
// reader stops reading the descriptor and sets hal_ring_was_full; a
// consumer that then frees room pokes it. Both sides store, then load the
// other's variable, sequentially consistent: either the consumer sees the
// flag or the reader sees the room, so the reader never sleeps on a ring
// that has room.
static uint8_t hal_ring[HAL_RING_SIZE];
static size_t hal_ring_wr; // written by the reader
static size_t hal_ring_rd; // written by the port lock's holder
static bool hal_ring_was_full;
// mp_hal_ticks_us() of the reader's latest read() (atomic), and its value
// when mpble_hal_read() last returned bytes (port lock).
static uint32_t hal_rx_time_us;
static uint32_t hal_rx_time_read_us;
// CLOCK_MONOTONIC ms; atomic: the VM publishes, the reader consumes.
static uint64_t hal_deadline_ms = UINT64_MAX;
static uint8_t hal_tx[HAL_TX_SIZE];
static size_t hal_tx_head; // next byte to send
static size_t hal_tx_len;
static int hal_tx_err; // errno of a failed send (0: none); drops later writes
static bool hal_stop; // mpble_hal_close() asks the reader to return

static char hal_msg[256];

// Copies len bytes into a ring of size at position pos (wrapping), in at
// most two slices.
static void hal_ring_put(uint8_t *ring, size_t size, size_t pos, const uint8_t *src, size_t len) {
    size_t first = size - pos < len ? size - pos : len;
    memcpy(ring + pos, src, first);
    memcpy(ring, src + first, len - first);
}

// Copies len bytes out of a ring of size from position pos (wrapping).
static void hal_ring_get(const uint8_t *ring, size_t size, size_t pos, uint8_t *dst, size_t len) {
    size_t first = size - pos < len ? size - pos : len;
    memcpy(dst, ring + pos, first);
    memcpy(dst + first, ring, len - first);
}

uint64_t hal_unix_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// Wakes the reader out of poll() (new deadline, ring drained). The pipe is
// made once per process and never closed, so no lock is needed; it is
// non-blocking, and a full pipe already wakes the reader.
static void hal_poke_reader(void) {
    if (hal_wake_pipe[1] >= 0) {
        uint8_t b = 0;
        ssize_t r = write(hal_wake_pipe[1], &b, 1);
        (void)r;
    }
}

bool mpble_hal_pumps_core(void) {
    // The reader pumps after every read, drained write and deadline.
    return true;
}

void mpble_hal_wake_main(void) {
    // The pass is scheduled (mp_sched_schedule) before this: a waiting main
    // thread finds it, or is woken.
    hal_unix_wake(HAL_UNIX_WAKE_SCHED | HAL_UNIX_WAKE_PROGRESS);
}

// With hal_mutex held: hands the kernel as much of the transmit ring as it
// takes without blocking. Returns true if any byte left the ring.
static bool hal_tx_flush_locked(void) {
    bool sent = false;
    while (hal_tx_len > 0 && hal_tx_err == 0 && hal_fd >= 0) {
        size_t chunk = HAL_TX_SIZE - hal_tx_head;
        if (chunk > hal_tx_len) {
            chunk = hal_tx_len;
        }
        ssize_t n = hal_fd_is_socket
            ? send(hal_fd, hal_tx + hal_tx_head, chunk, MSG_DONTWAIT | MSG_NOSIGNAL)
            : write(hal_fd, hal_tx + hal_tx_head, chunk);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                // The link is dead: drop what is queued; later writes fail.
                __atomic_store_n(&hal_tx_err, errno, __ATOMIC_RELAXED);
                __atomic_store_n(&hal_tx_len, 0, __ATOMIC_RELAXED);
                sent = true;
            }
            break;
        }
        hal_tx_head = (hal_tx_head + (size_t)n) % HAL_TX_SIZE;
        __atomic_store_n(&hal_tx_len, hal_tx_len - (size_t)n, __ATOMIC_RELAXED);
        sent = sent || n > 0;
    }
    return sent;
}

// Asks for a processing pass in the VM; false if it could not be queued
// (scheduler full), in which case the reader retries shortly.
static bool hal_request_process(void) {
    return mpble_port_request_process() >= 0;
}

static void *hal_reader_main(void *arg) {
    (void)arg;
    uint8_t buf[2048];
    bool retry_sched = false;
    // Set before this thread starts and cleared after it ends.
    int fd = hal_fd;
    int wake_fd = hal_wake_pipe[0];
    for (;;) {
        // Without the lock: whoever changes these pokes the wake pipe after
        // the change, so a stale value costs one more turn of the loop.
        if (__atomic_load_n(&hal_stop, __ATOMIC_SEQ_CST)) {
            return NULL;
        }
        size_t wr = hal_ring_wr;
        size_t room = HAL_RING_SIZE - (wr - __atomic_load_n(&hal_ring_rd, __ATOMIC_SEQ_CST));
        uint64_t deadline = __atomic_load_n(&hal_deadline_ms, __ATOMIC_SEQ_CST);
        bool tx_pending = __atomic_load_n(&hal_tx_len, __ATOMIC_SEQ_CST) > 0
            && __atomic_load_n(&hal_tx_err, __ATOMIC_RELAXED) == 0;

        int timeout = -1;
        uint64_t now = hal_unix_now_ms();
        if (retry_sched) {
            timeout = HAL_SCHED_RETRY_MS;
        } else if (deadline != UINT64_MAX) {
            uint64_t left = deadline > now ? deadline - now : 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }

        struct pollfd pfd[2] = {
            { .fd = wake_fd, .events = POLLIN },
            // When the ring is full, stop reading until the VM drains it
            // (it pokes the wake pipe); the stream's own flow control (TCP's
            // window, a UART's RTS/CTS) does the rest.
            // While bytes wait to be sent, wait for room in the descriptor too.
            {
                .fd = room > 0 || tx_pending ? fd : -1,
                .events = (short)((room > 0 ? POLLIN : 0) | (tx_pending ? POLLOUT : 0)),
            },
        };
        int n = poll(pfd, 2, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "mpble: poll() on " HAL_ENV " failed: %s\n", strerror(errno));
            break;
        }
        if (pfd[0].revents & POLLIN) {
            // Poked: a new deadline, room in the ring, or a pass to watch.
            uint8_t drain[64];
            while (read(wake_fd, drain, sizeof(drain)) > 0) {
            }
        }
        bool want_process = false;
        if (tx_pending && (pfd[1].revents & (POLLOUT | POLLHUP | POLLERR))) {
            pthread_mutex_lock(&hal_mutex);
            bool sent = hal_tx_flush_locked();
            pthread_mutex_unlock(&hal_mutex);
            // Room in the ring: the core may hand over what it kept back
            // (and learns of a failed link).
            want_process = sent;
        }
        if (room > 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            size_t cap = room < sizeof(buf) ? room : sizeof(buf);
            ssize_t got = read(fd, buf, cap);
            uint32_t got_us = (uint32_t)mp_hal_ticks_us();
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (got <= 0) {
                pthread_mutex_lock(&hal_mutex);
                __atomic_store_n(&hal_state, HAL_PEER_CLOSED, __ATOMIC_RELEASE);
                pthread_mutex_unlock(&hal_mutex);
                int err = got < 0 ? errno : 0;
                fprintf(stderr, "mpble: the controller (%s=%s) %s%s%s\n",
                    HAL_ENV, getenv(HAL_ENV) ? getenv(HAL_ENV) : "", hal_transport->lost,
                    got < 0 ? ": " : "", got < 0 ? strerror(err) : "");
                // Every link ends and BLE stops for the script (events 17
                // and 1); a later gattStart reconnects.
                mpble_port_transport_lost();
                hal_request_process();
                hal_unix_wake(HAL_UNIX_WAKE_PROGRESS);
                return NULL;
            }
            if (hal_transport->after_read != NULL) {
                hal_transport->after_read(fd);
            }
            // The capture frames what arrived (this thread only).
            hal_unix_snoop_rx(buf, (size_t)got);
            hal_ring_put(hal_ring, HAL_RING_SIZE, wr % HAL_RING_SIZE, buf, (size_t)got);
            __atomic_store_n(&hal_rx_time_us, got_us, __ATOMIC_RELAXED);
            __atomic_store_n(&hal_ring_wr, wr + (size_t)got, __ATOMIC_RELEASE);
            if ((size_t)got == room) {
                // Full (as of the room read above): the next turn reads the
                // consumer's counter again after this store.
                __atomic_store_n(&hal_ring_was_full, true, __ATOMIC_SEQ_CST);
            }
            want_process = true;
        }
        if (deadline != UINT64_MAX && hal_unix_now_ms() >= deadline) {
            // The deadline is consumed (unless a new one came meanwhile);
            // the processing pass publishes the next.
            uint64_t seen = deadline;
            __atomic_compare_exchange_n(&hal_deadline_ms, &seen, UINT64_MAX, false,
                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
            want_process = true;
        }
        if (want_process) {
            // The protocol runs here, not in the VM: commands, ATT responses
            // and timers must not wait for Python, which may be busy (the
            // REPL reading a burst of input runs no scheduled task). The VM
            // is only asked to deliver events.
            if (mpble_port_pump()) {
                retry_sched = !hal_request_process();
            }
            // A blocking API call on the main thread looks at the new state.
            hal_unix_wake(HAL_UNIX_WAKE_PROGRESS);
        } else if (retry_sched) {
            retry_sched = !hal_request_process();
        }
    }
    return NULL;
}

void hal_unix_set_flags(int fd) {
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int hal_fail(int err, const char *fmt, const char *a, const char *b) {
    snprintf(hal_msg, sizeof(hal_msg), fmt, a, b);
    return err;
}

static int hal_open_locked(const char **msg);

// With hal_open_mutex held: stops and joins the reader, closes the descriptor.
static void hal_close_locked(void) {
    pthread_mutex_lock(&hal_mutex);
    hal_state_t state = hal_state;
    if (state == HAL_CLOSED) {
        pthread_mutex_unlock(&hal_mutex);
        return;
    }
    __atomic_store_n(&hal_stop, true, __ATOMIC_SEQ_CST);
    hal_poke_reader();
    pthread_mutex_unlock(&hal_mutex);
    pthread_join(hal_reader, NULL);
    pthread_mutex_lock(&hal_mutex);
    close(hal_fd);
    hal_fd = -1;
    hal_transport = NULL;
    __atomic_store_n(&hal_state, HAL_CLOSED, __ATOMIC_RELAXED);
    hal_stop = false;
    __atomic_store_n(&hal_tx_len, 0, __ATOMIC_RELAXED);
    hal_ring_wr = 0;
    hal_ring_rd = 0;
    __atomic_store_n(&hal_deadline_ms, UINT64_MAX, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&hal_mutex);
}

void mpble_hal_close(void) {
    mpble_hal_hold_interrupt();
    pthread_mutex_lock(&hal_open_mutex);
    hal_close_locked();
    pthread_mutex_unlock(&hal_open_mutex);
    mpble_hal_release_interrupt();
}

// Ctrl-C for callbacks that run while the REPL waits for a line, at the
// cost of a system call or two per pass. The port's own switches are
// tracked (main thread only; the linker wraps them, see micropython.mk)
// instead of asked of the kernel before every pass:
// - mp_hal_set_interrupt_char: the unix port installs its SIGINT handler
//   (which raises KeyboardInterrupt) only while it executes code
//   (ports/unix/main.c; also micropython.kbd_intr()). What the port last
//   asked for, not what a callback pass set for itself.
// - mp_hal_stdio_mode_raw/_orig: the REPL's terminal mode around reading a
//   line (and input()). While it is raw (no ISIG: Ctrl-C is just a byte,
//   which a callback looping forever never lets readline see), the raw
//   settings are known, and with ISIG added; a pass switches between the
//   two without asking the terminal first. Any other time the terminal is
//   left alone: it is as the script had it (the original mode, ISIG on),
//   and a pass must not change that (clearing ISIG there broke Ctrl-C for
//   every later script).
static int hal_intr_char = -1;
// The unix port's own SIGINT handler (raises KeyboardInterrupt at once:
// MICROPY_ASYNC_KBD_INTR), learnt the first time it is installed; ours
// (hal_sigint) is installed in its place and calls it unless the port's
// locks are held.
static void (*hal_port_sigint)(int);
// mpble_hal_hold_interrupt() depth of this thread, and a Ctrl-C held back.
static __thread volatile sig_atomic_t hal_intr_hold;
static volatile sig_atomic_t hal_intr_held_back;
static bool hal_raw_known;
static struct termios hal_raw;
static struct termios hal_raw_isig;
// The current pass switched the terminal to hal_raw_isig.
static bool hal_raw_switched;
// isatty(STDIN_FILENO), asked once (-1: not yet).
static int hal_stdin_tty = -1;

// Ctrl-C raises KeyboardInterrupt now: the port asked for it, or a pass at
// the REPL switched it on. Once hal_sigint is installed it stays installed
// (switching is then a store, not two sigaction calls per pass), and while
// this is off it does what SIG_DFL did: the signal ends the process.
static volatile sig_atomic_t hal_intr_on;

static void hal_sigint(int signum) {
    if (!hal_intr_on) {
        // Delivered again once this handler returns (it is blocked here),
        // with its default action.
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (hal_intr_hold > 0) {
        hal_intr_held_back = 1;
        return;
    }
    hal_port_sigint(signum);
}

void mpble_hal_hold_interrupt(void) {
    hal_intr_hold++;
}

void mpble_hal_release_interrupt(void) {
    // A Ctrl-C from here on runs the port's handler itself.
    if (--hal_intr_hold == 0 && hal_intr_held_back) {
        hal_intr_held_back = 0;
        mp_sched_keyboard_interrupt();
    }
}

void __real_mp_hal_set_interrupt_char(char c);

// mp_hal_set_interrupt_char, with hal_sigint in place of the port's handler.
static void hal_set_interrupt_char(char c) {
    if (hal_port_sigint == NULL) {
        // Until Ctrl-C is first switched on: as upstream.
        __real_mp_hal_set_interrupt_char(c);
        struct sigaction sa;
        if (c != CHAR_CTRL_C || sigaction(SIGINT, NULL, &sa) != 0
            || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN) {
            return;
        }
        hal_port_sigint = sa.sa_handler;
        hal_intr_on = 1;
        // As the port installs its own (no SA_RESTART: Ctrl-C interrupts a
        // blocking call).
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = hal_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        return;
    }
    hal_intr_on = c == CHAR_CTRL_C;
}

void __wrap_mp_hal_set_interrupt_char(char c);
void __wrap_mp_hal_set_interrupt_char(char c) {
    hal_intr_char = c;
    hal_set_interrupt_char(c);
}

void __real_mp_hal_stdio_mode_raw(void);
void __wrap_mp_hal_stdio_mode_raw(void);
void __wrap_mp_hal_stdio_mode_raw(void) {
    __real_mp_hal_stdio_mode_raw();
    // NOFLSH keeps the bytes typed ahead when Ctrl-C comes.
    hal_raw_known = tcgetattr(STDIN_FILENO, &hal_raw) == 0;
    hal_raw_isig = hal_raw;
    hal_raw_isig.c_lflag |= ISIG | NOFLSH;
    // Only Ctrl-C: Ctrl-Z and Ctrl-\ stay bytes, as in raw mode, instead
    // of stopping (SIGTSTP) or killing (SIGQUIT) the process.
    hal_raw_isig.c_cc[VQUIT] = _POSIX_VDISABLE;
    hal_raw_isig.c_cc[VSUSP] = _POSIX_VDISABLE;
}

void __real_mp_hal_stdio_mode_orig(void);
void __wrap_mp_hal_stdio_mode_orig(void);
void __wrap_mp_hal_stdio_mode_orig(void) {
    hal_raw_known = false;
    __real_mp_hal_stdio_mode_orig();
}

bool mpble_hal_interrupt_begin(void) {
    if (hal_stdin_tty < 0) {
        hal_stdin_tty = isatty(STDIN_FILENO);
    }
    if (mpble_hal_script_running() || !hal_stdin_tty) {
        return false;
    }
    // Install the handler first, then let the terminal turn Ctrl-C into
    // SIGINT. TCSANOW: unlike the port's own mode switches (TCSAFLUSH) this
    // drops no input. Held: the caller must learn that it began.
    mpble_hal_hold_interrupt();
    hal_set_interrupt_char(CHAR_CTRL_C);
    hal_raw_switched = hal_raw_known;
    if (hal_raw_switched) {
        tcsetattr(STDIN_FILENO, TCSANOW, &hal_raw_isig);
    }
    mpble_hal_release_interrupt();
    return true;
}

void mpble_hal_interrupt_end(bool begun) {
    if (!begun) {
        return;
    }
    // In the reverse order: no window where Ctrl-C meets SIGINT's default
    // action (which would end the process). The terminal goes back to
    // exactly the raw mode the REPL set.
    mpble_hal_hold_interrupt();
    if (hal_raw_switched) {
        hal_raw_switched = false;
        tcsetattr(STDIN_FILENO, TCSANOW, &hal_raw);
    }
    hal_set_interrupt_char((char)hal_intr_char);
    mpble_hal_release_interrupt();
}

bool mpble_hal_script_running(void) {
    return hal_intr_char == CHAR_CTRL_C;
}

const char *mpble_hal_describe(void) {
    static char desc[128];
    const char *spec = getenv(HAL_ENV);
    snprintf(desc, sizeof(desc), "%s=%s", HAL_ENV, spec ? spec : "(unset)");
    return desc;
}

int mpble_hal_open(const char **msg) {
    // Connecting may take up to a second (hal_unix_tcp.c): Ctrl-C stops the
    // script once it has failed or succeeded.
    mpble_hal_hold_interrupt();
    pthread_mutex_lock(&hal_open_mutex);
    int err = hal_open_locked(msg);
    pthread_mutex_unlock(&hal_open_mutex);
    mpble_hal_release_interrupt();
    return err;
}

static int hal_open_locked(const char **msg) {
    *msg = hal_msg;
    pthread_mutex_lock(&hal_mutex);
    hal_state_t state = hal_state;
    pthread_mutex_unlock(&hal_mutex);
    if (state == HAL_OPEN) {
        return 0;
    }
    if (state == HAL_PEER_CLOSED) {
        // The reader has returned; reconnect (the controller may be back).
        hal_close_locked();
    }

    const char *spec = getenv(HAL_ENV);
    if (spec == NULL || spec[0] == '\0') {
        return hal_fail(ENODEV, "%s%s is not set (expected " HAL_USAGE ")", HAL_ENV, "");
    }
    static const hal_unix_transport_t *const transports[] = { &hal_unix_tcp, &hal_unix_tty };
    const hal_unix_transport_t *transport = NULL;
    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        if (strncmp(spec, transports[i]->scheme, strlen(transports[i]->scheme)) == 0) {
            transport = transports[i];
        }
    }
    if (transport == NULL) {
        return hal_fail(ENODEV, HAL_ENV "=%s is malformed (expected " HAL_USAGE ")%s", spec, "");
    }
    int fd = transport->open(spec + strlen(transport->scheme), hal_msg, sizeof(hal_msg));
    if (fd < 0) {
        return -fd;
    }
    struct stat st;
    bool is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    // MPBLE_SNOOP: a capture from the first packet on (once per process).
    hal_unix_snoop_from_env();

    if (hal_wake_pipe[0] < 0) {
        if (pipe(hal_wake_pipe) != 0) {
            int err = errno;
            close(fd);
            return hal_fail(err, "%s: cannot create a pipe%s", HAL_ENV, "");
        }
        for (int i = 0; i < 2; i++) {
            hal_unix_set_flags(hal_wake_pipe[i]);
        }
    }

    pthread_mutex_lock(&hal_mutex);
    hal_fd = fd;
    hal_transport = transport;
    hal_fd_is_socket = is_socket;
    // A new byte stream: the capture's framers start at a packet boundary.
    hal_unix_snoop_restart();
    hal_ring_wr = 0;
    hal_ring_rd = 0;
    hal_ring_was_full = false;
    hal_tx_head = 0;
    __atomic_store_n(&hal_tx_len, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hal_tx_err, 0, __ATOMIC_RELAXED);
    hal_stop = false;
    __atomic_store_n(&hal_state, HAL_OPEN, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&hal_mutex);

    // The reader blocks every signal: Ctrl-C must reach the main thread,
    // whose blocking calls it is meant to interrupt.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&hal_reader, NULL, hal_reader_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_mutex_lock(&hal_mutex);
        __atomic_store_n(&hal_state, HAL_CLOSED, __ATOMIC_RELAXED);
        hal_fd = -1;
        hal_transport = NULL;
        pthread_mutex_unlock(&hal_mutex);
        close(fd);
        return hal_fail(err, "%s: cannot start the reader thread%s", HAL_ENV, "");
    }
    return 0;
}

bool mpble_hal_is_open(void) {
    mpble_hal_hold_interrupt();
    pthread_mutex_lock(&hal_mutex);
    bool open = hal_state == HAL_OPEN;
    pthread_mutex_unlock(&hal_mutex);
    mpble_hal_release_interrupt();
    return open;
}

size_t mpble_hal_read(uint8_t *buf, size_t cap) {
    // The port lock's holder is the only consumer: hal_ring_rd is ours.
    size_t rd = hal_ring_rd;
    size_t len = __atomic_load_n(&hal_ring_wr, __ATOMIC_ACQUIRE) - rd;
    if (len == 0) {
        // Nothing (the common answer: the port asks after every packet
        // until the ring is empty). Bytes the reader adds right now are not
        // missed: it pumps the core after adding them.
        return 0;
    }
    size_t n = cap < len ? cap : len;
    hal_ring_get(hal_ring, HAL_RING_SIZE, rd % HAL_RING_SIZE, buf, n);
    hal_rx_time_read_us = __atomic_load_n(&hal_rx_time_us, __ATOMIC_RELAXED);
    __atomic_store_n(&hal_ring_rd, rd + n, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&hal_ring_was_full, __ATOMIC_SEQ_CST)
        && __atomic_exchange_n(&hal_ring_was_full, false, __ATOMIC_SEQ_CST)) {
        // The reader stopped reading the descriptor while the ring was full.
        hal_poke_reader();
    }
    return n;
}

uint32_t mpble_hal_rx_time_us(void) {
    // Only the port calls this, with its lock held, right after
    // mpble_hal_read(): no lock of ours needed.
    return hal_rx_time_read_us;
}

size_t mpble_hal_tx_room(void) {
    // Without the lock (asked once per flush, before mpble_hal_write): only
    // its caller, the port lock's holder, adds to the transmit ring, so the
    // room read here can only grow before that write (the reader sends
    // meanwhile); a state or error that turns bad meanwhile is what the
    // write then returns.
    if (__atomic_load_n(&hal_state, __ATOMIC_ACQUIRE) != HAL_OPEN
        || __atomic_load_n(&hal_tx_err, __ATOMIC_RELAXED) != 0) {
        return SIZE_MAX;
    }
    return HAL_TX_SIZE - __atomic_load_n(&hal_tx_len, __ATOMIC_RELAXED);
}

int mpble_hal_write(const uint8_t *buf, size_t len) {
    pthread_mutex_lock(&hal_mutex);
    int err = hal_state != HAL_OPEN ? ENOTCONN : hal_tx_err;
    if (err == 0 && len > HAL_TX_SIZE - hal_tx_len) {
        // The caller asked mpble_hal_tx_room() first; never drop silently.
        err = ENOBUFS;
    }
    if (err != 0) {
        pthread_mutex_unlock(&hal_mutex);
        return err;
    }
    hal_ring_put(hal_tx, HAL_TX_SIZE, (hal_tx_head + hal_tx_len) % HAL_TX_SIZE, buf, len);
    __atomic_store_n(&hal_tx_len, hal_tx_len + len, __ATOMIC_SEQ_CST);
    // The capture frames what the core sends, in the order it is queued.
    hal_unix_snoop_tx(buf, len);
    hal_tx_flush_locked();
    err = hal_tx_err;
    if (hal_tx_len > 0) {
        // The kernel did not take it all: the reader waits for POLLOUT.
        hal_poke_reader();
    }
    pthread_mutex_unlock(&hal_mutex);
    return err;
}

void mpble_hal_set_timeout(uint32_t timeout_ms) {
    uint64_t deadline = timeout_ms == UINT32_MAX ? UINT64_MAX : hal_unix_now_ms() + timeout_ms;
    uint64_t old = __atomic_exchange_n(&hal_deadline_ms, deadline, __ATOMIC_SEQ_CST);
    if (deadline < old) {
        // The reader may sleep in poll() with a later (or no) deadline.
        hal_poke_reader();
    }
}

void mpble_hal_wait_rx(uint32_t timeout_ms) {
    // Any progress of the reader since the last wait ends this one (and so
    // does a scheduled pass): the caller processes and asks its question
    // again. A wake-up that came between the last wait and this one (while
    // the caller processed) returns at once, so none is missed.
    static unsigned seen;
    hal_unix_wait(-1, 0, (uint64_t)timeout_ms * 1000u, HAL_UNIX_WAKE_SCHED | HAL_UNIX_WAKE_PROGRESS, seen);
    seen = hal_unix_wake_seq();
}
