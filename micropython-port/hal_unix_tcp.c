/*
 * mpble: MPBLE_HCI=tcp:HOST:PORT, a controller that speaks H4 (UART
 * framing) over a TCP stream, e.g. Bumble's virtual controller or a
 * bridge in front of a serial one. Opens and configures the socket; the
 * rest is hal_unix.c.
 *
 * Latency: after every read we set TCP_QUICKACK (Linux clears it again by
 * itself), so that our ACK leaves at once. A far end with Nagle's algorithm
 * on (a plain `socat TCP-LISTEN` without nodelay) holds back its next small
 * segment until the previous one is acknowledged, and a delayed ACK would
 * cost up to 40 ms per request/response. Our own side sets TCP_NODELAY.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hal_unix.h"

#define HAL_CONNECT_TIMEOUT_MS (1000)

// Connects to host:port within HAL_CONNECT_TIMEOUT_MS. Returns the socket or
// -errno.
static int tcp_connect(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        return -EHOSTUNREACH;
    }
    int err = ECONNREFUSED;
    int fd = -1;
    uint64_t deadline = hal_unix_now_ms() + HAL_CONNECT_TIMEOUT_MS;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        hal_unix_set_flags(fd);
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            for (;;) {
                uint64_t now = hal_unix_now_ms();
                int left = now < deadline ? (int)(deadline - now) : 0;
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                int n = poll(&pfd, 1, left);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    errno = n == 0 ? ETIMEDOUT : errno;
                    r = -1;
                    break;
                }
                int so_err = 0;
                socklen_t len = sizeof(so_err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
                errno = so_err;
                r = so_err == 0 ? 0 : -1;
                break;
            }
        }
        if (r == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return -err;
    }
    // The socket stays non-blocking: writes never block (they may run with
    // the port lock held); the reader only reads after poll() said so.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    #ifdef TCP_QUICKACK
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    #endif
    return fd;
}

// args: HOST:PORT; HOST may be [v6addr].
static int tcp_open(const char *args, char *msg, size_t msg_len) {
    char host[128], port[16];
    const char *p = args;
    const char *colon = strrchr(args, ':');
    size_t host_len = colon != NULL && colon > p ? (size_t)(colon - p) : 0;
    size_t port_len = colon != NULL ? strlen(colon + 1) : 0;
    if (host_len == 0 || host_len >= sizeof(host)
        || port_len == 0 || port_len >= sizeof(port)
        || strspn(colon + 1, "0123456789") != port_len) {
        snprintf(msg, msg_len, HAL_ENV "=tcp:%s is malformed (expected " HAL_USAGE ")", args);
        return -ENODEV;
    }
    if (p[0] == '[' && p[host_len - 1] == ']' && host_len > 2) {
        p++;
        host_len -= 2;
    }
    memcpy(host, p, host_len);
    host[host_len] = '\0';
    memcpy(port, colon + 1, port_len + 1);

    int fd = tcp_connect(host, port);
    if (fd < 0) {
        snprintf(msg, msg_len, "cannot connect to the controller at %s:%s (" HAL_ENV "=tcp:%s): %s",
            host, port, args, strerror(-fd));
    }
    return fd;
}

static void tcp_after_read(int fd) {
    #ifdef TCP_QUICKACK
    // Acknowledge at once (see the top of this file); Linux turns quick-ack
    // mode off again by itself, so re-arm after every read.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    #else
    (void)fd;
    #endif
}

const hal_unix_transport_t hal_unix_tcp = {
    .scheme = "tcp:",
    .open = tcp_open,
    .after_read = tcp_after_read,
    .lost = "closed the connection",
};
