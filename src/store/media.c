/*
 * Sealed media: images with their templates, frozen watchlists, alert crops,
 * each a blob already sealed by crypt.c and known by a random name. Callers
 * put, get and delete blobs by name and do not care where they live: an
 * embedded (SQLite) home keeps each in a file of its own under media/; a
 * backend that keeps them itself (PostgreSQL: a bytea column, so that every
 * node reads them and no node's disk holds them) says so by providing the
 * blob_* operations of lfr__backend, and the store uses those instead.
 *
 * The order of writes is the same for both: a blob is stored and made
 * durable before the rows that name it commit, and deleted after the rows
 * stop naming it commit. A crash in between leaves a blob that no row
 * names; lfr_store_media_sweep() deletes such blobs once they are an hour
 * old (younger ones may belong to a change still in progress elsewhere).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util/util.h"

/* ---- Files under media/ -------------------------------------------------------- */

static int media_path(const lfr_store *s, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/media%s%s", s->home, name ? "/" : "", name ? name : "");
    if (n < 0 || (size_t)n >= cap) return lfr__err(LFR_ERR_INVALID, "media path too long");
    return LFR_OK;
}

static int file_sync_dir(const lfr_store *s)
{
    char dir[4096];
    int rc = media_path(s, NULL, dir, sizeof dir);
    if (rc) return rc;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: %s", dir, strerror(errno));
    if (fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* Create media/<name> (new, 0600) holding `n` bytes, synced. */
static int file_write(const lfr_store *s, const char *name, const uint8_t *data, size_t n)
{
    char path[4096];
    int rc = media_path(s, name, path, sizeof path);
    if (rc) return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    while (!rc && n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            break;
        }
        data += w;
        n -= (size_t)w;
    }
    if (!rc && fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close: %s", path, strerror(errno));
    if (rc) unlink(path);
    return rc;
}

static int file_sweep(lfr_store *s, int64_t *removed)
{
    char dir[4096];
    int rc = media_path(s, NULL, dir, sizeof dir);
    if (rc) return rc;
    DIR *d = opendir(dir);
    if (!d) return lfr__err(LFR_ERR_IO, "%s: %s", dir, strerror(errno));
    time_t cutoff = time(NULL) - 3600;
    struct dirent *ent;
    while (!rc && (ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_mtime > cutoff)
            continue;
        int used = 0;
        rc = s->be->media_used(s->db, ent->d_name, &used);
        if (!rc && !used && unlinkat(dirfd(d), ent->d_name, 0) == 0) ++*removed;
    }
    closedir(d);
    if (!rc && *removed) rc = file_sync_dir(s);
    return rc;
}

/* ---- Blobs kept by the backend ----------------------------------------------------- */

typedef struct sweep_ctx {
    lfr_store *s;
    int64_t removed;
} sweep_ctx;

static int on_stale_blob(const char *name, void *ctx)
{
    sweep_ctx *x = ctx;
    int used = 0;
    int rc = x->s->be->media_used(x->s->db, name, &used);
    if (!rc && !used && x->s->be->blob_delete(x->s->db, name) == LFR_OK) x->removed++;
    return rc;
}

/* ---- The interface ------------------------------------------------------------------- */

int lfr__media_write(const lfr_store *s, const char *name, const uint8_t *data, size_t n)
{
    if (s->be->blob_put) return s->be->blob_put(s->db, name, data, n);
    return file_write(s, name, data, n);
}

void lfr__media_unlink(const lfr_store *s, const char *name)
{
    if (s->be->blob_put) {
        /* A blob left behind is an orphan for the sweep. */
        s->be->blob_delete(s->db, name);
        return;
    }
    char path[4096];
    if (!media_path(s, name, path, sizeof path)) unlink(path);
}

int lfr__media_sync(const lfr_store *s)
{
    /* The backend's blobs are durable when put or deleted returns. */
    return s->be->blob_put ? LFR_OK : file_sync_dir(s);
}

int lfr__media_read(const lfr_store *s, const char *name, size_t max_size, uint8_t **out,
                    size_t *n_out)
{
    if (s->be->blob_put) return s->be->blob_get(s->db, name, max_size, out, n_out);
    char path[4096];
    int rc = media_path(s, name, path, sizeof path);
    if (!rc) rc = lfr__read_file(path, max_size, out, n_out);
    return rc;
}

int lfr_store_media_sweep(lfr_store *s, int64_t *n_out)
{
    if (n_out) *n_out = 0;
    int64_t removed = 0;
    int rc;
    if (s->be->blob_put) {
        sweep_ctx x = {s, 0};
        rc = s->be->blob_each_stale(s->db, on_stale_blob, &x);
        removed = x.removed;
    } else {
        rc = file_sweep(s, &removed);
    }
    if (n_out) *n_out = removed;
    return rc;
}
