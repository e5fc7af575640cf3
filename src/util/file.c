/*
 * Whole-file reading with a ceiling, so that a huge or endless file (a FIFO,
 * /dev/zero) cannot exhaust memory; from a path, or from a descriptor that
 * was opened (and checked) once, so that what is read is what was checked.
 * And small files read and written whole (keys, the anchor, a witness's
 * state) without following symbolic links, created exclusively or replaced
 * atomically, and synced to disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int lfr__read_fd(int fd, const char *name, size_t max_size, uint8_t **data_out, size_t *size_out)
{
    *data_out = NULL;
    *size_out = 0;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
    for (;;) {
        if (n == cap) {
            if (cap >= max_size + 1) break;
            size_t ncap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return lfr__err(LFR_ERR_IO, "%s: read error: %s", name, strerror(e));
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    if (n > max_size) {
        free(buf);
        return lfr__err(LFR_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes", name,
                        max_size);
    }
    *data_out = buf;
    *size_out = n;
    return LFR_OK;
}

int lfr__read_file(const char *path, size_t max_size, uint8_t **data_out, size_t *size_out)
{
    *data_out = NULL;
    *size_out = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = lfr__read_fd(fd, path, max_size, data_out, size_out);
    close(fd);
    return rc;
}

/* ---- Small files written whole: keys, anchors, witness state ----------------------- */

/* Open `path` for reading without following a final symbolic link, and
 * check it is a regular file (and, when `private`, that neither group nor
 * others may read it). */
static int open_checked(const char *path, int private, int *fd_out, size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return lfr__err(e == ENOENT ? LFR_ERR_NOT_FOUND : LFR_ERR_IO, "%s: %s", path,
                        e == ELOOP ? "is a symbolic link" : strerror(e));
    }
    struct stat st;
    int rc = LFR_OK;
    if (fstat(fd, &st))
        rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = lfr__err(LFR_ERR_FORMAT, "%s: not a regular file", path);
    else if (private && (st.st_mode & 077))
        rc = lfr__err(LFR_ERR_DENIED, "%s: readable by others (mode %03o; want 600)", path,
                      (unsigned)(st.st_mode & 0777));
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return LFR_OK;
}

int lfr__file_read_small(const char *path, int private, char *buf, size_t cap, size_t *n_out)
{
    *n_out = 0;
    int fd = -1;
    size_t size = 0;
    int rc = open_checked(path, private, &fd, &size);
    if (rc) return rc;
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = lfr__err(LFR_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!rc && got == cap)
        rc = lfr__err(LFR_ERR_TOO_LARGE, "%s: larger than %zu bytes", path, cap - 1);
    if (rc) {
        memset(buf, 0, cap);
        return rc;
    }
    *n_out = got;
    return LFR_OK;
}

/* Write all of data to fd. */
static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the folder holding `path`, so that a create or rename in it lasts. */
static void sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return;
        memcpy(dir, path, n ? n : 1);
        dir[n ? n : 1] = 0;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int lfr__file_create(const char *path, const void *data, size_t n, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int rc = LFR_OK;
    if (fchmod(fd, (mode_t)mode)) rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    if (!rc && write_all(fd, data, n))
        rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (!rc && fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close: %s", path, strerror(errno));
    if (rc)
        unlink(path);
    else
        sync_parent(path);
    return rc;
}

int lfr__file_replace(const char *path, const void *data, size_t n, unsigned mode)
{
    char tmp[4200];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (k < 0 || (size_t)k >= sizeof tmp) return lfr__err(LFR_ERR_INVALID, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: %s", tmp, strerror(errno));
    int rc = LFR_OK;
    if (fchmod(fd, (mode_t)mode)) rc = lfr__err(LFR_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (!rc && write_all(fd, data, n))
        rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (!rc && fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
    if (close(fd) && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close failed", tmp);
    if (!rc && rename(tmp, path))
        rc = lfr__err(LFR_ERR_IO, "%s: rename: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        sync_parent(path);
    return rc;
}
