/*
 * Whole-file reading with a ceiling, so that a huge or endless file (a FIFO,
 * /dev/zero) cannot exhaust memory; from a path, or from a descriptor that
 * was opened (and checked) once, so that what is read is what was checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
