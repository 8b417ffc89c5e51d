/*
 * mpble: MPBLE_HCI=tty:DEVICE[:BAUD[:FLOW]], a controller that speaks H4
 * over a serial device (a UART, a USB CDC ACM dongle), e.g. an nRF52840
 * running Zephyr's hci_uart sample. Opens and configures the device; the
 * rest is hal_unix.c.
 *
 * The line is raw 8N1 (no echo, no CR/LF translation, no signals from
 * bytes), BAUD defaults to 1000000 and FLOW to rtscts (hardware flow
 * control, which H4 assumes: Vol 4 Part A 1 leaves no room for lost bytes);
 * FLOW "none" turns it off for controllers wired without RTS/CTS. DEVICE
 * may itself contain ':' (a /dev/serial/by-path name): when the whole of
 * it names an existing file it is taken whole, with the defaults.
 *
 * VMIN = 1, VTIME = 0: with O_NONBLOCK a read with nothing pending then
 * fails with EAGAIN, and 0 means what it means on a socket, the end of the
 * stream (the device hung up). A device that is unplugged makes read() fail
 * (EIO) or return 0: hal_unix.c treats both as the controller's loss.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "hal_unix.h"

#define TTY_DEFAULT_BAUD (1000000u)

static const struct {
    unsigned long rate;
    speed_t code;
} tty_rates[] = {
    { 9600, B9600 }, { 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 },
    { 115200, B115200 }, { 230400, B230400 },
    #ifdef B460800
    { 460800, B460800 }, { 500000, B500000 }, { 576000, B576000 }, { 921600, B921600 },
    { 1000000, B1000000 }, { 1152000, B1152000 }, { 1500000, B1500000 }, { 2000000, B2000000 },
    { 2500000, B2500000 }, { 3000000, B3000000 }, { 3500000, B3500000 }, { 4000000, B4000000 },
    #endif
};

static bool tty_speed(unsigned long rate, speed_t *code) {
    for (size_t i = 0; i < sizeof(tty_rates) / sizeof(tty_rates[0]); i++) {
        if (tty_rates[i].rate == rate) {
            *code = tty_rates[i].code;
            return true;
        }
    }
    return false;
}

// True if s is a non-empty string of decimal digits.
static bool tty_digits(const char *s) {
    return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

static int tty_open(const char *args, char *msg, size_t msg_len) {
    char path[256];
    unsigned long baud = TTY_DEFAULT_BAUD;
    bool rtscts = true;
    if (strlen(args) >= sizeof(path) || args[0] == '\0') {
        snprintf(msg, msg_len, HAL_ENV "=tty:%s is malformed (expected " HAL_USAGE ")", args);
        return -ENODEV;
    }
    strcpy(path, args);
    struct stat st;
    if (stat(path, &st) != 0) {
        // DEVICE[:BAUD[:FLOW]], fields taken from the end.
        char *colon = strrchr(path, ':');
        if (colon != NULL && (strcmp(colon + 1, "rtscts") == 0 || strcmp(colon + 1, "none") == 0)) {
            rtscts = strcmp(colon + 1, "rtscts") == 0;
            *colon = '\0';
            colon = strrchr(path, ':');
            if (colon == NULL || !tty_digits(colon + 1)) {
                snprintf(msg, msg_len, HAL_ENV "=tty:%s is malformed: a flow setting needs a baud rate "
                    "before it (expected " HAL_USAGE ")", args);
                return -ENODEV;
            }
        }
        if (colon != NULL && tty_digits(colon + 1)) {
            baud = strtoul(colon + 1, NULL, 10);
            *colon = '\0';
        }
    }
    speed_t speed;
    if (!tty_speed(baud, &speed)) {
        snprintf(msg, msg_len, HAL_ENV "=tty:%s: %lu baud is not a rate this serial driver interface "
            "knows (e.g. 115200, 921600, 1000000, 2000000)", args, baud);
        return -EINVAL;
    }
    // O_NONBLOCK: open() must not wait for a modem's carrier (CLOCAL below
    // ignores it from then on); O_NOCTTY: never our controlling terminal.
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(msg, msg_len, "cannot open the controller's serial device %s (" HAL_ENV "=tty:%s): %s%s",
            path, args, strerror(err),
            err == EACCES ? " (is the user in the dialout group?)" : "");
        return -err;
    }
    struct termios t;
    if (!isatty(fd) || tcgetattr(fd, &t) != 0) {
        int err = errno ? errno : ENOTTY;
        close(fd);
        snprintf(msg, msg_len, "%s is not a serial device (" HAL_ENV "=tty:%s): %s", path, args, strerror(err));
        return -err;
    }
    // Nobody else (ModemManager, a second firmware) may open it meanwhile.
    ioctl(fd, TIOCEXCL);
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD | (rtscts ? CRTSCTS : 0);
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    if (tcsetattr(fd, TCSANOW, &t) != 0) {
        int err = errno;
        close(fd);
        snprintf(msg, msg_len, "cannot configure the serial device %s (" HAL_ENV "=tty:%s): %s", path, args, strerror(err));
        return -err;
    }
    // Bytes left from before (a controller's boot banner, a previous
    // session) would desynchronise H4 framing: drop them.
    tcflush(fd, TCIOFLUSH);
    hal_unix_set_flags(fd);
    return fd;
}

const hal_unix_transport_t hal_unix_tty = {
    .scheme = "tty:",
    .open = tty_open,
    .after_read = NULL,
    .lost = "went away (serial device closed or unplugged)",
};
