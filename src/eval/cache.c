/*
 * The template cache (cache.h): an append-only file of checksummed
 * fixed-size records, loaded into a sorted array for lookups.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "eval/cache.h"
#include "util/util.h"

static const char magic[8] = {'L', 'F', 'R', 'T', 'P', 'L', 'C', '1'};

#define KEY_BYTES 32
#define BODY (KEY_BYTES * 2 + 4 + LFR__CACHE_DIM * 4)
#define RECORD (BODY + 32)

typedef struct entry {
    uint8_t sha[KEY_BYTES];
    int status;
    float tpl[LFR__CACHE_DIM];
} entry;

struct lfr__tplcache {
    int fd;
    uint8_t key[KEY_BYTES];
    entry *e; /* sorted by sha */
    size_t n;
    pthread_mutex_t lock;
    char path[1024];
};

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(a, b, KEY_BYTES);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int lfr__tplcache_open(const char *path, const uint8_t model_key[32], lfr__tplcache **out,
                       size_t *n_loaded_out, size_t *n_bad_out)
{
    *out = NULL;
    if (n_loaded_out) *n_loaded_out = 0;
    if (n_bad_out) *n_bad_out = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lfr__err(LFR_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_mode & 077) {
        close(fd);
        return lfr__err(LFR_ERR_DENIED,
                        "%s: the template cache holds biometric data and is readable by group "
                        "or others (mode %03o): chmod 600 it, or delete it",
                        path, (unsigned)(sb.st_mode & 0777));
    }
    lfr__tplcache *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", path);
    }
    c->fd = fd;
    memcpy(c->key, model_key, KEY_BYTES);
    snprintf(c->path, sizeof c->path, "%s", path);
    pthread_mutex_init(&c->lock, NULL);
    int rc = LFR_OK;
    if (sb.st_size == 0) {
        if (write_all(fd, (const uint8_t *)magic, sizeof magic)) {
            rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        FILE *f = fopen(path, "rb");
        uint8_t hdr[8], rec[RECORD], sum[32];
        if (!f) {
            rc = lfr__err(LFR_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            goto fail;
        }
        if (fread(hdr, 1, 8, f) != 8 || memcmp(hdr, magic, 8)) {
            fclose(f);
            rc = lfr__err(LFR_ERR_FORMAT, "%s: not an openlfr template cache", path);
            goto fail;
        }
        size_t cap = (size_t)(sb.st_size / RECORD) + 1, bad = 0;
        c->e = malloc(cap * sizeof *c->e);
        if (!c->e) {
            fclose(f);
            rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        size_t got;
        while ((got = fread(rec, 1, RECORD, f)) > 0) {
            if (got < RECORD) {
                bad++; /* cut short by an interruption */
                break;
            }
            crypto_generichash(sum, sizeof sum, rec, BODY, NULL, 0);
            if (sodium_memcmp(sum, rec + BODY, 32) != 0 || rec[64] > 2) {
                bad++;
                continue;
            }
            if (memcmp(rec + KEY_BYTES, c->key, KEY_BYTES) || c->n >= cap) continue;
            entry *e = &c->e[c->n++];
            memcpy(e->sha, rec, KEY_BYTES);
            e->status = rec[64];
            for (int k = 0; k < LFR__CACHE_DIM; k++) {
                const uint8_t *q = rec + 68 + 4 * k;
                uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                             (uint32_t)q[3] << 24;
                memcpy(&e->tpl[k], &u, 4);
            }
        }
        sodium_memzero(rec, sizeof rec);
        fclose(f);
        qsort(c->e, c->n, sizeof *c->e, cmp_entry);
        if (n_bad_out) *n_bad_out = bad;
    }
    if (n_loaded_out) *n_loaded_out = c->n;
    *out = c;
    return LFR_OK;
fail:
    lfr__tplcache_close(c);
    return rc;
}

int lfr__tplcache_get(const lfr__tplcache *c, const uint8_t image_sha256[32], int *status_out,
                      float *tpl_out)
{
    if (!c || !c->n) return 0;
    const entry *e = bsearch(image_sha256, c->e, c->n, sizeof *c->e, cmp_entry);
    if (!e) return 0;
    *status_out = e->status;
    if (e->status == 1) memcpy(tpl_out, e->tpl, sizeof e->tpl);
    return 1;
}

int lfr__tplcache_add(lfr__tplcache *c, const uint8_t image_sha256[32], int status,
                      const float *tpl)
{
    if (status < 0 || status > 2 || (status == 1 && !tpl))
        return lfr__err(LFR_ERR_INVALID, "template cache: bad record");
    uint8_t rec[RECORD];
    memset(rec, 0, sizeof rec);
    memcpy(rec, image_sha256, KEY_BYTES);
    memcpy(rec + KEY_BYTES, c->key, KEY_BYTES);
    rec[64] = (uint8_t)status;
    for (int k = 0; status == 1 && k < LFR__CACHE_DIM; k++) {
        uint32_t u;
        memcpy(&u, &tpl[k], 4);
        uint8_t *q = rec + 68 + 4 * k;
        q[0] = (uint8_t)u;
        q[1] = (uint8_t)(u >> 8);
        q[2] = (uint8_t)(u >> 16);
        q[3] = (uint8_t)(u >> 24);
    }
    crypto_generichash(rec + BODY, 32, rec, BODY, NULL, 0);
    pthread_mutex_lock(&c->lock);
    int w = write_all(c->fd, rec, sizeof rec);
    pthread_mutex_unlock(&c->lock);
    sodium_memzero(rec, sizeof rec);
    if (w) return lfr__err(LFR_ERR_IO, "%s: write failed: %s", c->path, strerror(errno));
    return LFR_OK;
}

int lfr__tplcache_close(lfr__tplcache *c)
{
    if (!c) return LFR_OK;
    int rc = LFR_OK;
    if (fsync(c->fd) != 0 && errno != EINVAL)
        rc = lfr__err(LFR_ERR_IO, "%s: fsync failed: %s", c->path, strerror(errno));
    if (close(c->fd) != 0 && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close failed", c->path);
    if (c->e) sodium_memzero(c->e, c->n * sizeof *c->e);
    free(c->e);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return rc;
}
