/*
 * mpble: the unix key store (mpble_keystore.h): one file.
 *
 * MPBLE_BONDS names it; unset, it is mpble-bonds.bin in the firmware's own
 * directory (/proc/self/exe); set but empty, there is no store (bonds live
 * as long as the process). A save writes PATH.tmp, fsyncs it, renames it
 * over PATH and fsyncs the directory, so PATH always holds a complete
 * blob, the old or the new (rename(2) is atomic). A PATH.tmp left behind
 * by a crash is never read, and the next save overwrites it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpble_keystore.h"

#define KEYSTORE_ENV "MPBLE_BONDS"
#define KEYSTORE_DEFAULT_NAME "mpble-bonds.bin"

static char keystore_path[PATH_MAX];

// The store's path, or NULL when there is none (MPBLE_BONDS="").
static const char *keystore_file(void) {
    const char *env = getenv(KEYSTORE_ENV);
    if (env != NULL) {
        if (env[0] == '\0' || strlen(env) >= sizeof(keystore_path) - 8) {
            return NULL;
        }
        strcpy(keystore_path, env);
        return keystore_path;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return KEYSTORE_DEFAULT_NAME;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL) {
        return KEYSTORE_DEFAULT_NAME;
    }
    slash[1] = '\0';
    if (snprintf(keystore_path, sizeof(keystore_path), "%s%s", exe, KEYSTORE_DEFAULT_NAME)
        >= (int)sizeof(keystore_path)) {
        return KEYSTORE_DEFAULT_NAME;
    }
    return keystore_path;
}

const char *mpble_keystore_describe(void) {
    const char *path = keystore_file();
    return path ? path : "(none: MPBLE_BONDS is empty)";
}

int mpble_keystore_load(uint8_t *buf, size_t cap, size_t *len) {
    *len = 0;
    const char *path = keystore_file();
    if (path == NULL) {
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : errno;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            return err;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return 0;
}

static int keystore_write_all(int fd, const uint8_t *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int mpble_keystore_save(const uint8_t *buf, size_t len) {
    const char *path = keystore_file();
    if (path == NULL) {
        return 0;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno;
    }
    int err = keystore_write_all(fd, buf, len);
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        unlink(tmp);
        return err;
    }
    // The rename itself reaches the disk with the directory.
    char dir[PATH_MAX];
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) {
        slash[1] = '\0';
    } else if (slash != NULL) {
        *slash = '\0';
    } else {
        strcpy(dir, ".");
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
