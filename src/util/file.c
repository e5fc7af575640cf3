/*
 * Whole-file reading with a ceiling, so that a huge or endless file (a FIFO,
 * /dev/zero) cannot exhaust memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int lfr__read_file(const char *path, size_t max_size, uint8_t **data_out, size_t *size_out)
{
    *data_out = NULL;
    *size_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_size + 1) break;
            size_t ncap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(buf);
        return lfr__err(LFR_ERR_IO, "%s: read error", path);
    }
    if (n > max_size) {
        free(buf);
        return lfr__err(LFR_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes", path,
                        max_size);
    }
    *data_out = buf;
    *size_out = n;
    return LFR_OK;
}
