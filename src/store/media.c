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
 *
 * Names are not paths. They come from the database, which someone with
 * write access to it could change: every name is checked to be exactly 32
 * lowercase hex digits before any use, whatever the backend, and files are
 * created, opened and removed only relative to the media folder's
 * descriptor (openat, unlinkat) with O_NOFOLLOW, so that a name reaches
 * nothing but a regular file directly inside media/. The folder itself is
 * opened once when the store opens, without following a symbolic link, and
 * must be a directory of this user that no one else may use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

/* ---- Names --------------------------------------------------------------------- */

int lfr__media_name_ok(const char *name)
{
    if (!name) return 0;
    for (int i = 0; i < LFR__MEDIA_NAME_LEN; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
    return name[LFR__MEDIA_NAME_LEN] == 0;
}

/* A one-line refusal for a name that is not one of ours. */
static int bad_name(const char *name)
{
    char shown[48];
    size_t i = 0;
    for (; name && name[i] && i + 1 < sizeof shown; i++)
        shown[i] = (unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e ? '?' : name[i];
    shown[i] = 0;
    return lfr__err(LFR_ERR_TAMPERED,
                    "media file name \"%s\"%s is not one openlfr makes (32 hex digits): the"
                    " database was changed outside lfr",
                    shown, name && strlen(name) >= sizeof shown - 1 ? "..." : "");
}

void lfr__media_new_name(char out[LFR__MEDIA_NAME_LEN + 1])
{
    uint8_t rnd[LFR__MEDIA_NAME_LEN / 2];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(out, LFR__MEDIA_NAME_LEN + 1, rnd, sizeof rnd);
}

/* ---- Files under media/ -------------------------------------------------------- */

int lfr__media_open_dir(const char *home, int *fd_out)
{
    *fd_out = -1;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/media", home);
    if (n < 0 || (size_t)n >= sizeof path) return lfr__err(LFR_ERR_INVALID, "home path too long");
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* A home made before there were media files gets its folder now. */
    if (fd < 0 && errno == ENOENT && mkdir(path, 0700) == 0)
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP || e == ENOTDIR)
            return lfr__err(LFR_ERR_DENIED, "%s: not a folder (a symbolic link?): refusing it",
                            path);
        return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    int rc = LFR_OK;
    if (fstat(fd, &st))
        rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    else if (st.st_uid != geteuid())
        rc = lfr__err(LFR_ERR_DENIED, "%s: owned by another user (uid %u): refusing it", path,
                      (unsigned)st.st_uid);
    else if (st.st_mode & 077)
        rc = lfr__err(LFR_ERR_DENIED, "%s: others may use it (mode %03o; want 700)", path,
                      (unsigned)(st.st_mode & 0777));
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return LFR_OK;
}

static int file_sync_dir(const lfr_store *s)
{
    if (fsync(s->media_fd))
        return lfr__err(LFR_ERR_IO, "%s/media: fsync: %s", s->home, strerror(errno));
    return LFR_OK;
}

/* Create media/<name> (new, 0600) holding `n` bytes, synced. */
static int file_write(const lfr_store *s, const char *name, const uint8_t *data, size_t n)
{
    int fd = openat(s->media_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return lfr__err(LFR_ERR_IO, "%s/media/%s: cannot create: %s", s->home, name,
                        strerror(errno));
    int rc = LFR_OK;
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = lfr__err(LFR_ERR_IO, "%s/media/%s: write failed: %s", s->home, name,
                          w < 0 ? strerror(errno) : "no progress");
            break;
        }
        data += w;
        n -= (size_t)w;
    }
    if (!rc && fsync(fd))
        rc = lfr__err(LFR_ERR_IO, "%s/media/%s: fsync: %s", s->home, name, strerror(errno));
    if (close(fd) && !rc)
        rc = lfr__err(LFR_ERR_IO, "%s/media/%s: close: %s", s->home, name, strerror(errno));
    if (rc) unlinkat(s->media_fd, name, 0);
    return rc;
}

static int file_read(const lfr_store *s, const char *name, size_t max_size, uint8_t **out,
                     size_t *n_out)
{
    int fd = openat(s->media_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return lfr__err(LFR_ERR_TAMPERED, "%s/media/%s: a symbolic link, not a sealed file",
                            s->home, name);
        return lfr__err(LFR_ERR_IO, "%s/media/%s: cannot open: %s", s->home, name, strerror(e));
    }
    struct stat st;
    int rc = LFR_OK;
    if (fstat(fd, &st))
        rc = lfr__err(LFR_ERR_IO, "%s/media/%s: %s", s->home, name, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = lfr__err(LFR_ERR_TAMPERED, "%s/media/%s: not a regular file", s->home, name);
    char what[4200];
    snprintf(what, sizeof what, "%s/media/%s", s->home, name);
    if (!rc) rc = lfr__read_fd(fd, what, max_size, out, n_out);
    close(fd);
    return rc;
}

static int file_sweep(lfr_store *s, int64_t *removed)
{
    int dfd = dup(s->media_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int e = errno;
        if (dfd >= 0) close(dfd);
        return lfr__err(LFR_ERR_IO, "%s/media: %s", s->home, strerror(e));
    }
    rewinddir(d);
    time_t cutoff = time(NULL) - 3600;
    int rc = LFR_OK;
    struct dirent *ent;
    while (!rc && (ent = readdir(d))) {
        /* Only names openlfr makes: anything else in the folder is not
         * ours to delete. */
        if (!lfr__media_name_ok(ent->d_name)) continue;
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
    if (!lfr__media_name_ok(name)) return 0;
    int used = 0;
    int rc = x->s->be->media_used(x->s->db, name, &used);
    if (!rc && !used && x->s->be->blob_delete(x->s->db, name) == LFR_OK) x->removed++;
    return rc;
}

/* ---- The interface ------------------------------------------------------------------- */

int lfr__media_write(const lfr_store *s, const char *name, const uint8_t *data, size_t n)
{
    if (!lfr__media_name_ok(name)) return bad_name(name);
    if (s->be->blob_put) return s->be->blob_put(s->db, name, data, n);
    return file_write(s, name, data, n);
}

void lfr__media_unlink(const lfr_store *s, const char *name)
{
    /* A malformed name is never a path: there is nothing of ours to remove. */
    if (!lfr__media_name_ok(name)) return;
    if (s->be->blob_put) {
        /* A blob left behind is an orphan for the sweep. */
        s->be->blob_delete(s->db, name);
        return;
    }
    unlinkat(s->media_fd, name, 0);
}

int lfr__media_sync(const lfr_store *s)
{
    /* The backend's blobs are durable when put or deleted returns. */
    return s->be->blob_put ? LFR_OK : file_sync_dir(s);
}

int lfr__media_read(const lfr_store *s, const char *name, size_t max_size, uint8_t **out,
                    size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!lfr__media_name_ok(name)) return bad_name(name);
    if (s->be->blob_put) return s->be->blob_get(s->db, name, max_size, out, n_out);
    return file_read(s, name, max_size, out, n_out);
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
