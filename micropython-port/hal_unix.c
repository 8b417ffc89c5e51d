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
 *   appends received bytes to a mutex-protected ring and pumps the core
 *   itself (mpble_port_pump, under the port lock); when that leaves events
 *   for Python it asks mpble_port.c to deliver them in the VM
 *   (mp_sched_schedule) and wakes the main thread, which may be blocked in
 *   select() (utime.sleep) or in read() (the REPL): both retry on EINTR and
 *   run pending callbacks.
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

#include "hal_unix.h"
#include "mpble_hal.h"
#include "mpble_port.h"

#define HAL_RING_SIZE (16384)
// Bytes queued for the controller and not yet taken by the kernel. Bounded:
// when it is full the core keeps the rest (mpble_hal_tx_room() is 0).
#define HAL_TX_SIZE (4096)
// Retry delay when the scheduler queue was full.
#define HAL_SCHED_RETRY_MS (10)
// Re-signal the main thread while a scheduled pass has not run, backing off.
#define HAL_NUDGE_FIRST_MS (10)
#define HAL_NUDGE_MAX_MS (1000)

// The unix port uses SIGRTMIN + 5 to make threads scan their stacks for the
// GC (ports/unix/mpthreadport.c); this one only interrupts the main thread's
// blocking system call so that it runs pending scheduled callbacks.
#ifdef SIGRTMIN
#define HAL_WAKE_SIGNAL (SIGRTMIN + 6)
#else
#define HAL_WAKE_SIGNAL (SIGUSR2)
#endif

typedef enum {
    HAL_CLOSED = 0, // never opened
    HAL_OPEN,
    HAL_PEER_CLOSED, // the controller closed the connection; reader stopped
} hal_state_t;

static pthread_mutex_t hal_mutex = PTHREAD_MUTEX_INITIALIZER;
// Serialises mpble_hal_open (Python threads may race to open).
static pthread_mutex_t hal_open_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hal_rx_cond; // CLOCK_MONOTONIC, see hal_init_cond()
static pthread_once_t hal_cond_once = PTHREAD_ONCE_INIT;
static pthread_t hal_main_thread;
static pthread_t hal_reader;

// Guarded by hal_mutex.
static hal_state_t hal_state;
static int hal_fd = -1;
// The transport that opened hal_fd (NULL while closed).
static const hal_unix_transport_t *hal_transport;
// hal_fd is a socket: sent with MSG_NOSIGNAL (a closed peer must not raise
// SIGPIPE); anything else is written with write().
static bool hal_fd_is_socket;
static int hal_wake_pipe[2] = { -1, -1 };
static uint8_t hal_ring[HAL_RING_SIZE];
static size_t hal_ring_head; // next byte to read
static size_t hal_ring_len;
static bool hal_ring_was_full;
static uint64_t hal_deadline_ms = UINT64_MAX; // CLOCK_MONOTONIC ms
static uint8_t hal_tx[HAL_TX_SIZE];
static size_t hal_tx_head; // next byte to send
static size_t hal_tx_len;
static int hal_tx_err; // errno of a failed send (0: none); drops later writes
static bool hal_stop; // mpble_hal_close() asks the reader to return

static char hal_msg[256];

// The unix port runs main() and the REPL on the process's first thread.
__attribute__((constructor)) static void hal_capture_main_thread(void) {
    hal_main_thread = pthread_self();
}

static void hal_init_cond(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hal_rx_cond, &attr);
    pthread_condattr_destroy(&attr);
}

uint64_t hal_unix_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void hal_wake_handler(int sig) {
    (void)sig;
}

static void hal_install_wake_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hal_wake_handler;
    // No SA_RESTART: the point is to make read() of stdin return EINTR.
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(HAL_WAKE_SIGNAL, &sa, NULL);
}

// Wakes the reader out of poll() (new deadline, ring drained). Called with
// hal_mutex held; the pipe is non-blocking, a full pipe already wakes it.
static void hal_poke_reader(void) {
    if (hal_wake_pipe[1] >= 0) {
        uint8_t b = 0;
        ssize_t r = write(hal_wake_pipe[1], &b, 1);
        (void)r;
    }
}

static void hal_signal_main(void) {
    if (!pthread_equal(pthread_self(), hal_main_thread)) {
        pthread_kill(hal_main_thread, HAL_WAKE_SIGNAL);
    }
}

void mpble_hal_wake_main(void) {
    pthread_mutex_lock(&hal_mutex);
    if (hal_state == HAL_OPEN && pthread_equal(pthread_self(), hal_reader)) {
        // The reader signals the main thread itself after this returns.
        pthread_mutex_unlock(&hal_mutex);
        return;
    }
    bool reader = hal_state == HAL_OPEN;
    if (reader) {
        // The reader signals the main thread, and again (backing off) until
        // the pass has run: a signal that lands just before the main thread
        // blocks would otherwise be lost.
        hal_poke_reader();
    }
    pthread_mutex_unlock(&hal_mutex);
    if (!reader) {
        hal_signal_main();
    }
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
                hal_tx_err = errno;
                hal_tx_len = 0;
                sent = true;
            }
            break;
        }
        hal_tx_head = (hal_tx_head + (size_t)n) % HAL_TX_SIZE;
        hal_tx_len -= (size_t)n;
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
    // While a delivery pass is pending: when to signal the main thread next
    // (0: not armed) and the current back-off.
    uint64_t nudge_at = 0;
    int nudge_ms = 0;
    for (;;) {
        pthread_mutex_lock(&hal_mutex);
        if (hal_stop) {
            pthread_mutex_unlock(&hal_mutex);
            return NULL;
        }
        int fd = hal_fd;
        int wake_fd = hal_wake_pipe[0];
        size_t room = HAL_RING_SIZE - hal_ring_len;
        uint64_t deadline = hal_deadline_ms;
        bool tx_pending = hal_tx_len > 0 && hal_tx_err == 0;
        pthread_mutex_unlock(&hal_mutex);

        int timeout = -1;
        uint64_t now = hal_unix_now_ms();
        if (retry_sched) {
            timeout = HAL_SCHED_RETRY_MS;
        } else if (deadline != UINT64_MAX) {
            uint64_t left = deadline > now ? deadline - now : 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        bool pending = mpble_port_process_pending();
        if (pending && nudge_at != 0) {
            int left = nudge_at > now ? (int)(nudge_at - now) : 0;
            if (timeout < 0 || timeout > left) {
                timeout = left;
            }
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
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (got <= 0) {
                pthread_mutex_lock(&hal_mutex);
                hal_state = HAL_PEER_CLOSED;
                pthread_cond_broadcast(&hal_rx_cond);
                pthread_mutex_unlock(&hal_mutex);
                int err = got < 0 ? errno : 0;
                fprintf(stderr, "mpble: the controller (%s=%s) %s%s%s\n",
                    HAL_ENV, getenv(HAL_ENV) ? getenv(HAL_ENV) : "", hal_transport->lost,
                    got < 0 ? ": " : "", got < 0 ? strerror(err) : "");
                // Every link ends and BLE stops for the script (events 17
                // and 1); a later gattStart reconnects.
                mpble_port_transport_lost();
                hal_request_process();
                return NULL;
            }
            if (hal_transport->after_read != NULL) {
                hal_transport->after_read(fd);
            }
            // The capture frames what arrived (this thread only).
            hal_unix_snoop_rx(buf, (size_t)got);
            pthread_mutex_lock(&hal_mutex);
            size_t tail = (hal_ring_head + hal_ring_len) % HAL_RING_SIZE;
            for (ssize_t i = 0; i < got; i++) {
                hal_ring[tail] = buf[i];
                tail = (tail + 1) % HAL_RING_SIZE;
            }
            hal_ring_len += (size_t)got;
            if (hal_ring_len == HAL_RING_SIZE) {
                hal_ring_was_full = true;
            }
            pthread_cond_broadcast(&hal_rx_cond);
            pthread_mutex_unlock(&hal_mutex);
            want_process = true;
        }
        if (deadline != UINT64_MAX && hal_unix_now_ms() >= deadline) {
            // The deadline is consumed; the processing pass publishes the next.
            pthread_mutex_lock(&hal_mutex);
            if (hal_deadline_ms == deadline) {
                hal_deadline_ms = UINT64_MAX;
            }
            pthread_mutex_unlock(&hal_mutex);
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
        } else if (retry_sched) {
            retry_sched = !hal_request_process();
        }
        if (mpble_port_process_pending()) {
            // The VM runs the pass on its own between bytecodes; the main
            // thread needs a signal only when it is blocked in read() (the
            // REPL) or select() (utime.sleep). So wait a little before the
            // first signal: signalling at once would often interrupt a
            // write() and run a callback in the middle of a print. Keep
            // signalling, backing off, until the pass has run: a signal that
            // lands just before the thread blocks is lost.
            uint64_t t = hal_unix_now_ms();
            if (nudge_at == 0) {
                nudge_ms = HAL_NUDGE_FIRST_MS;
                nudge_at = t + nudge_ms;
            } else if (t >= nudge_at) {
                hal_signal_main();
                nudge_ms = nudge_ms >= HAL_NUDGE_MAX_MS / 2 ? HAL_NUDGE_MAX_MS : nudge_ms * 2;
                nudge_at = t + nudge_ms;
            }
        } else {
            nudge_at = 0;
            nudge_ms = 0;
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
    hal_stop = true;
    hal_poke_reader();
    pthread_mutex_unlock(&hal_mutex);
    pthread_join(hal_reader, NULL);
    pthread_mutex_lock(&hal_mutex);
    close(hal_fd);
    hal_fd = -1;
    hal_transport = NULL;
    hal_state = HAL_CLOSED;
    hal_stop = false;
    hal_tx_len = 0;
    hal_ring_len = 0;
    hal_deadline_ms = UINT64_MAX;
    pthread_cond_broadcast(&hal_rx_cond);
    pthread_mutex_unlock(&hal_mutex);
}

void mpble_hal_close(void) {
    pthread_mutex_lock(&hal_open_mutex);
    hal_close_locked();
    pthread_mutex_unlock(&hal_open_mutex);
}

bool mpble_hal_interrupt_begin(void) {
    // At the REPL prompt the terminal is raw (no ISIG: Ctrl-C is just a
    // byte, which a callback looping forever never lets readline see) and
    // SIGINT has its default action. Install the port's handler first, then
    // let the terminal turn Ctrl-C into SIGINT; NOFLSH keeps the bytes
    // typed ahead. TCSANOW: unlike the port's own mode switches (TCSAFLUSH)
    // this drops no input.
    struct termios t;
    if (mpble_hal_script_running() || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) != 0) {
        return false;
    }
    mp_hal_set_interrupt_char(CHAR_CTRL_C);
    t.c_lflag |= ISIG | NOFLSH;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
    return true;
}

void mpble_hal_interrupt_end(bool begun) {
    if (!begun) {
        return;
    }
    // In the reverse order: no window where Ctrl-C meets SIGINT's default
    // action (which would end the process).
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) == 0) {
        t.c_lflag &= ~(tcflag_t)(ISIG | NOFLSH);
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    mp_hal_set_interrupt_char(-1);
}

bool mpble_hal_script_running(void) {
    // The unix port installs its SIGINT handler (which raises
    // KeyboardInterrupt) only while it executes code, and restores SIG_DFL
    // before the REPL reads the next line (ports/unix/main.c).
    struct sigaction sa;
    if (sigaction(SIGINT, NULL, &sa) != 0) {
        return false;
    }
    return sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

const char *mpble_hal_describe(void) {
    static char desc[128];
    const char *spec = getenv(HAL_ENV);
    snprintf(desc, sizeof(desc), "%s=%s", HAL_ENV, spec ? spec : "(unset)");
    return desc;
}

int mpble_hal_open(const char **msg) {
    pthread_mutex_lock(&hal_open_mutex);
    int err = hal_open_locked(msg);
    pthread_mutex_unlock(&hal_open_mutex);
    return err;
}

static int hal_open_locked(const char **msg) {
    pthread_once(&hal_cond_once, hal_init_cond);
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
    hal_install_wake_handler();

    pthread_mutex_lock(&hal_mutex);
    hal_fd = fd;
    hal_transport = transport;
    hal_fd_is_socket = is_socket;
    // A new byte stream: the capture's framers start at a packet boundary.
    hal_unix_snoop_restart();
    hal_ring_head = 0;
    hal_ring_len = 0;
    hal_ring_was_full = false;
    hal_tx_head = 0;
    hal_tx_len = 0;
    hal_tx_err = 0;
    hal_stop = false;
    hal_state = HAL_OPEN;
    pthread_mutex_unlock(&hal_mutex);

    // The reader blocks every signal: Ctrl-C and our wake signal must reach
    // the main thread, whose blocking calls they are meant to interrupt.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&hal_reader, NULL, hal_reader_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_mutex_lock(&hal_mutex);
        hal_state = HAL_CLOSED;
        hal_fd = -1;
        hal_transport = NULL;
        pthread_mutex_unlock(&hal_mutex);
        close(fd);
        return hal_fail(err, "%s: cannot start the reader thread%s", HAL_ENV, "");
    }
    return 0;
}

bool mpble_hal_is_open(void) {
    pthread_mutex_lock(&hal_mutex);
    bool open = hal_state == HAL_OPEN;
    pthread_mutex_unlock(&hal_mutex);
    return open;
}

size_t mpble_hal_read(uint8_t *buf, size_t cap) {
    pthread_mutex_lock(&hal_mutex);
    size_t n = 0;
    while (n < cap && hal_ring_len > 0) {
        buf[n++] = hal_ring[hal_ring_head];
        hal_ring_head = (hal_ring_head + 1) % HAL_RING_SIZE;
        hal_ring_len--;
    }
    if (n > 0 && hal_ring_was_full) {
        // The reader stopped reading the descriptor while the ring was full.
        hal_ring_was_full = false;
        hal_poke_reader();
    }
    pthread_mutex_unlock(&hal_mutex);
    return n;
}

size_t mpble_hal_tx_room(void) {
    pthread_mutex_lock(&hal_mutex);
    size_t room = hal_state == HAL_OPEN && hal_tx_err == 0 ? HAL_TX_SIZE - hal_tx_len : SIZE_MAX;
    pthread_mutex_unlock(&hal_mutex);
    return room;
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
    size_t tail = (hal_tx_head + hal_tx_len) % HAL_TX_SIZE;
    for (size_t i = 0; i < len; i++) {
        hal_tx[tail] = buf[i];
        tail = (tail + 1) % HAL_TX_SIZE;
    }
    hal_tx_len += len;
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
    pthread_mutex_lock(&hal_mutex);
    uint64_t old = hal_deadline_ms;
    hal_deadline_ms = deadline;
    if (deadline < old) {
        // The reader may sleep in poll() with a later (or no) deadline.
        hal_poke_reader();
    }
    pthread_mutex_unlock(&hal_mutex);
}

void mpble_hal_wait_rx(uint32_t timeout_ms) {
    pthread_once(&hal_cond_once, hal_init_cond);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&hal_mutex);
    while (hal_ring_len == 0 && hal_state == HAL_OPEN) {
        if (pthread_cond_timedwait(&hal_rx_cond, &hal_mutex, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool open = hal_state == HAL_OPEN;
    bool pending = hal_ring_len > 0;
    pthread_mutex_unlock(&hal_mutex);
    if (!open && !pending && timeout_ms > 0) {
        // Nothing will arrive: sleep out the timeout without spinning.
        struct timespec rq = { (time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L };
        nanosleep(&rq, NULL);
    }
}
