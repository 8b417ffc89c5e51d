/*
 * mpble: a btsnoop capture of every H4 packet between the port and its
 * controller, both ways, with timestamps: MPBLE_SNOOP=path (from the first
 * packet) or mpble_hal_snoop() (the vendor modules' calls). Wireshark,
 * tshark and Bumble read it.
 *
 * Format (RFC 1761 "snoop", as Android's btsnoop uses it): a 16-byte header
 * "btsnoop\0", version 1, datalink 1002 (H4: each record starts with the
 * H4 packet indicator), all big-endian; then one record per packet:
 * original length, included length, flags (bit 0: received from the
 * controller; bit 1: command or event), cumulative drops, and the time in
 * microseconds since 0000-01-01 (the Unix epoch is 0x00dcddb30f2f8000).
 *
 * Packet boundaries: the transport sees byte streams, so each direction
 * has a framer that follows H4 (Vol 4 Part A 2): the indicator byte, then
 * the header of that packet type with its length field. The core parses
 * the same framing; doing it here keeps the capture out of the core.
 *
 * Never blocks the protocol: the framers only copy into a bounded buffer
 * (SNOOP_BUF_SIZE, under snoop_mutex, which nothing holds across a system
 * call), and the capture's own thread writes that buffer to the file. A
 * record that does not fit (a disk slower than the radio) is dropped and
 * counted in the next record's cumulative-drops field. A failed write (a
 * full disk) stops the capture with one warning on stderr; BLE goes on.
 *
 * Readable after a crash or SIGKILL: nothing is buffered in the process
 * beyond what the thread has not written yet (it wakes for every record),
 * and each write hands the kernel whole records in one call, so the file
 * ends at a record boundary, or at worst inside the last record (readers
 * stop there). There is no fsync: a power cut may lose what the kernel had
 * not written out.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hal_unix.h"
#include "mpble_hal.h"

#define SNOOP_ENV "MPBLE_SNOOP"
#define SNOOP_BUF_SIZE (256 * 1024)
// The largest H4 packet: indicator, 4-byte ACL/ISO header, 16-bit length.
#define SNOOP_PKT_MAX (1 + 4 + 65535)
#define SNOOP_RECORD_HEADER (24)
// Microseconds from 0000-01-01 to 1970-01-01, as btsnoop counts time.
#define SNOOP_EPOCH_DELTA_US (0x00dcddb30f2f8000ull)

typedef struct {
    uint8_t pkt[SNOOP_PKT_MAX];
    size_t len; // bytes of the current packet so far
    size_t need; // its whole length, once its header is complete (0: not yet)
    bool partial; // some of its payload was skipped (no capture ran): not recorded
} snoop_framer_t;

// Received: touched by the transport's reader thread only (and at open,
// before it starts). Sent: touched with hal_unix.c's mutex held.
static snoop_framer_t snoop_rx_framer;
static snoop_framer_t snoop_tx_framer;

// Serialises start and stop (mpble_hal_snoop, the environment).
static pthread_mutex_t snoop_ctl_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool snoop_env_done;

// Guarded by snoop_mutex (a leaf lock: nothing else is taken under it).
static pthread_mutex_t snoop_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t snoop_cond = PTHREAD_COND_INITIALIZER;
static bool snoop_active; // records are accepted (also read without the lock)
static bool snoop_stop; // the writer drains and returns
static int snoop_fd = -1;
static char snoop_path[256];
static uint8_t snoop_buf[SNOOP_BUF_SIZE];
static size_t snoop_head; // next byte to write to the file
static size_t snoop_len;
static uint32_t snoop_drops;
static pthread_t snoop_writer;
static bool snoop_writer_running;

// With snoop_mutex held: appends n bytes (room checked by the caller).
static void snoop_put_locked(const uint8_t *p, size_t n) {
    size_t tail = (snoop_head + snoop_len) % SNOOP_BUF_SIZE;
    size_t first = SNOOP_BUF_SIZE - tail < n ? SNOOP_BUF_SIZE - tail : n;
    memcpy(snoop_buf + tail, p, first);
    memcpy(snoop_buf, p + first, n - first);
    snoop_len += n;
}

static void snoop_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// One complete packet: a record, if a capture runs and it fits.
static void snoop_record(const uint8_t *pkt, size_t len, bool received) {
    if (!__atomic_load_n(&snoop_active, __ATOMIC_RELAXED)) {
        // No capture: no clock, no lock (a capture starting right now
        // begins with the next packet).
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u + SNOOP_EPOCH_DELTA_US;
    // Commands (0x01) and events (0x04) carry bit 1; data does not.
    uint32_t flags = (received ? 1u : 0u) | (pkt[0] == 0x01 || pkt[0] == 0x04 ? 2u : 0u);
    uint8_t hdr[SNOOP_RECORD_HEADER];
    snoop_be32(hdr, (uint32_t)len);
    snoop_be32(hdr + 4, (uint32_t)len);
    snoop_be32(hdr + 8, flags);
    pthread_mutex_lock(&snoop_mutex);
    if (snoop_active) {
        if (SNOOP_BUF_SIZE - snoop_len < sizeof(hdr) + len) {
            snoop_drops++;
        } else {
            snoop_be32(hdr + 12, snoop_drops);
            snoop_be32(hdr + 16, (uint32_t)(us >> 32));
            snoop_be32(hdr + 20, (uint32_t)us);
            snoop_put_locked(hdr, sizeof(hdr));
            snoop_put_locked(pkt, len);
            pthread_cond_signal(&snoop_cond);
        }
    }
    pthread_mutex_unlock(&snoop_mutex);
}

// The header length after the indicator, and the payload length once the
// header is in (Vol 4 Part A 2; Vol 4 Part E 5.4). 0: not an H4 indicator.
static size_t snoop_header_len(uint8_t indicator) {
    switch (indicator) {
        case 0x01: // command: opcode (2), length (1)
        case 0x03: // SCO data: handle (2), length (1)
            return 3;
        case 0x02: // ACL data: handle (2), length (2)
        case 0x05: // ISO data: handle (2), length (14 bits)
            return 4;
        case 0x04: // event: code (1), length (1)
            return 2;
        default:
            return 0;
    }
}

static size_t snoop_payload_len(const uint8_t *pkt) {
    switch (pkt[0]) {
        case 0x01:
        case 0x03:
            return pkt[3];
        case 0x02:
            return (size_t)pkt[3] | ((size_t)pkt[4] << 8);
        case 0x05:
            return ((size_t)pkt[3] | ((size_t)pkt[4] << 8)) & 0x3fff;
        default: // 0x04
            return pkt[2];
    }
}

static void snoop_feed(snoop_framer_t *f, const uint8_t *p, size_t n, bool received) {
    if (f->len == 0 && !__atomic_load_n(&snoop_active, __ATOMIC_RELAXED)) {
        // No capture, at a packet boundary: step over the whole packets in
        // the buffer from their headers (nearly every buffer is whole
        // packets: a client read passes 8 of them). Copying each header
        // into the framer cost about 100 instructions a packet.
        while (n > 0) {
            size_t header = snoop_header_len(p[0]);
            if (header == 0) {
                p++;
                n--;
                continue;
            }
            if (n < 1 + header) {
                break; // a header that continues in a later buffer
            }
            size_t whole = 1 + header + snoop_payload_len(p);
            if (n < whole) {
                break; // a packet that continues in a later buffer
            }
            p += whole;
            n -= whole;
        }
    }
    while (n > 0) {
        if (f->len == 0 && snoop_header_len(p[0]) == 0) {
            // Not a packet start: the stream is out of step (the core
            // reports that itself); look for the next indicator.
            p++;
            n--;
            continue;
        }
        size_t whole = f->need != 0 ? f->need : 1 + snoop_header_len(f->len > 0 ? f->pkt[0] : p[0]);
        size_t take = whole - f->len < n ? whole - f->len : n;
        if (f->need == 0 || __atomic_load_n(&snoop_active, __ATOMIC_RELAXED)) {
            memcpy(f->pkt + f->len, p, take);
        } else {
            // Only the boundaries matter while no capture runs.
            f->partial = true;
        }
        f->len += take;
        p += take;
        n -= take;
        if (f->need == 0 && f->len == whole) {
            f->need = whole + snoop_payload_len(f->pkt);
        }
        if (f->need != 0 && f->len == f->need) {
            if (!f->partial) {
                snoop_record(f->pkt, f->len, received);
            }
            f->len = 0;
            f->need = 0;
            f->partial = false;
        }
    }
}

void hal_unix_snoop_restart(void) {
    snoop_rx_framer.len = 0;
    snoop_rx_framer.need = 0;
    snoop_rx_framer.partial = false;
    snoop_tx_framer.len = 0;
    snoop_tx_framer.need = 0;
    snoop_tx_framer.partial = false;
}

void hal_unix_snoop_rx(const uint8_t *buf, size_t len) {
    snoop_feed(&snoop_rx_framer, buf, len, true);
}

void hal_unix_snoop_tx(const uint8_t *buf, size_t len) {
    snoop_feed(&snoop_tx_framer, buf, len, false);
}

static void *snoop_writer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&snoop_mutex);
    for (;;) {
        while (snoop_len == 0 && !snoop_stop) {
            pthread_cond_wait(&snoop_cond, &snoop_mutex);
        }
        if (snoop_len == 0) {
            break;
        }
        // Everything queued, in one call (two pieces when it wraps): the
        // producers only append after it, so it is read without the lock.
        struct iovec iov[2];
        size_t first = SNOOP_BUF_SIZE - snoop_head < snoop_len ? SNOOP_BUF_SIZE - snoop_head : snoop_len;
        iov[0].iov_base = snoop_buf + snoop_head;
        iov[0].iov_len = first;
        iov[1].iov_base = snoop_buf;
        iov[1].iov_len = snoop_len - first;
        int fd = snoop_fd;
        pthread_mutex_unlock(&snoop_mutex);
        ssize_t n = writev(fd, iov, iov[1].iov_len > 0 ? 2 : 1);
        int err = errno;
        pthread_mutex_lock(&snoop_mutex);
        if (n < 0 && err == EINTR) {
            continue;
        }
        if (n <= 0) {
            // A full disk (ENOSPC), a removed medium...: stop recording,
            // say so once, leave BLE alone.
            __atomic_store_n(&snoop_active, false, __ATOMIC_RELAXED);
            snoop_len = 0;
            pthread_mutex_unlock(&snoop_mutex);
            // Not under snoop_mutex: stderr may block, the protocol must not.
            fprintf(stderr, "mpble: capture to %s stopped: %s\n", snoop_path, strerror(n < 0 ? err : EIO));
            return NULL;
        }
        snoop_head = (snoop_head + (size_t)n) % SNOOP_BUF_SIZE;
        snoop_len -= (size_t)n;
    }
    pthread_mutex_unlock(&snoop_mutex);
    return NULL;
}

// With snoop_ctl_mutex held.
static void snoop_stop_locked(void) {
    if (!snoop_writer_running) {
        return;
    }
    pthread_mutex_lock(&snoop_mutex);
    __atomic_store_n(&snoop_active, false, __ATOMIC_RELAXED);
    snoop_stop = true;
    pthread_cond_signal(&snoop_cond);
    pthread_mutex_unlock(&snoop_mutex);
    pthread_join(snoop_writer, NULL);
    close(snoop_fd);
    pthread_mutex_lock(&snoop_mutex);
    snoop_fd = -1;
    snoop_stop = false;
    snoop_head = 0;
    snoop_len = 0;
    pthread_mutex_unlock(&snoop_mutex);
    snoop_writer_running = false;
}

static char snoop_msg[320];

// With snoop_ctl_mutex held.
static int snoop_start_locked(const char *path, const char **msg) {
    *msg = snoop_msg;
    snoop_stop_locked();
    if (strlen(path) >= sizeof(snoop_path)) {
        snprintf(snoop_msg, sizeof(snoop_msg), "capture: the path is too long");
        return ENAMETOOLONG;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        snprintf(snoop_msg, sizeof(snoop_msg), "cannot open the capture file %s: %s", path, strerror(err));
        return err;
    }
    static const uint8_t header[16] = {
        'b', 't', 's', 'n', 'o', 'o', 'p', 0,
        0, 0, 0, 1, // version 1
        0, 0, 0x03, 0xea, // datalink 1002: H4
    };
    pthread_mutex_lock(&snoop_mutex);
    strcpy(snoop_path, path);
    snoop_fd = fd;
    snoop_head = 0;
    snoop_len = 0;
    snoop_drops = 0;
    snoop_stop = false;
    // The header goes through the writer too: a file that cannot be
    // written warns once, like a disk that fills up later.
    snoop_put_locked(header, sizeof(header));
    __atomic_store_n(&snoop_active, true, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&snoop_mutex);
    // The writer blocks every signal: they are meant for the main thread.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&snoop_writer, NULL, snoop_writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_mutex_lock(&snoop_mutex);
        __atomic_store_n(&snoop_active, false, __ATOMIC_RELAXED);
        snoop_fd = -1;
        pthread_mutex_unlock(&snoop_mutex);
        close(fd);
        snprintf(snoop_msg, sizeof(snoop_msg), "capture: cannot start its thread: %s", strerror(err));
        return err;
    }
    snoop_writer_running = true;
    return 0;
}

int mpble_hal_snoop(const char *path, const char **msg) {
    mpble_hal_hold_interrupt();
    pthread_mutex_lock(&snoop_ctl_mutex);
    // A capture asked for from Python replaces MPBLE_SNOOP's for good.
    snoop_env_done = true;
    int err = 0;
    if (path == NULL) {
        snoop_stop_locked();
    } else {
        err = snoop_start_locked(path, msg);
    }
    pthread_mutex_unlock(&snoop_ctl_mutex);
    mpble_hal_release_interrupt();
    return err;
}

void hal_unix_snoop_from_env(void) {
    pthread_mutex_lock(&snoop_ctl_mutex);
    if (!snoop_env_done) {
        snoop_env_done = true;
        const char *path = getenv(SNOOP_ENV);
        const char *msg;
        if (path != NULL && path[0] != '\0' && snoop_start_locked(path, &msg) != 0) {
            fprintf(stderr, "mpble: " SNOOP_ENV ": %s\n", msg);
        }
    }
    pthread_mutex_unlock(&snoop_ctl_mutex);
}
