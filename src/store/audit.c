/*
 * The store's side of the audit log: appending entries inside the store's
 * transactions (the hash comes from src/audit), auditing refusals in a
 * transaction of their own, the anchor file, and listing entries.
 *
 * A chain alone cannot show that its newest entries were cut off, since
 * what is left is still a valid chain. So after each commit the newest
 * (seq, hash) is written to <home>/audit.head ("the anchor"), and
 * verification checks that the chain still reaches it. The anchor is only
 * ever moved forward, under a lock, so concurrent writers cannot move it
 * back; it is written after the commit, so it never names an entry that
 * does not exist, and a crash between the two leaves the newest entries
 * merely unanchored, which verification reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

static const char anchor_magic[] = "openlfr-audit-head-v1";

/* ---- Appending ------------------------------------------------------------------- */

int lfr__audit_append(lfr_store *s, const char *actor, const char *action, const char *object,
                      const char *detail)
{
    return lfr__audit_append_at(s, NULL, actor, action, object, detail);
}

int lfr__audit_append_at(lfr_store *s, const char *time, const char *actor, const char *action,
                         const char *object, const char *detail)
{
    uint64_t head;
    uint8_t prev[LFR_HASH_BYTES], hash[LFR_HASH_BYTES];
    char now[LFR__TIME_LEN];
    int rc = LFR_OK;
    if (time)
        snprintf(now, sizeof now, "%s", time);
    else
        rc = lfr__clock_now(now);
    if (!rc) rc = s->be->audit_head(s->db, &head, prev);
    if (rc) return lfr__err_prefix(rc, "audit");
    if (!detail) detail = "{}";
    if (!object) object = "";
    /* Entries are UTF-8 text (the hashes cover bytes, and outside verifiers
     * read text): anything else is refused here, not discovered later. */
    const char *field[] = {actor, action, object, detail};
    for (int i = 0; i < 4; i++)
        if (!lfr__utf8_valid(field[i], strlen(field[i])))
            return lfr__err(LFR_ERR_INVALID,
                            "audit: %s is not valid UTF-8 text (text must be UTF-8)",
                            i == 3 ? "a value given" : "a name");
    lfr_audit_entry e = {.seq = head + 1,
                         .time = now,
                         .actor = actor,
                         .action = action,
                         .object = object,
                         .detail = detail};
    memcpy(e.prev_hash, prev, LFR_HASH_BYTES);
    lfr__entry_lengths(&e);
    lfr__entry_hash(&e, hash);
    memcpy(e.hash, hash, LFR_HASH_BYTES);
    lfr__audit_row row = {head + 1, now, actor, action, object, detail, prev, hash};
    rc = s->be->audit_insert(s->db, &row);
    if (!rc) rc = lfr__log_added(s, &e);
    if (rc) return rc;
    s->head_pending = 1;
    s->head_seq = head + 1;
    memcpy(s->head_hash, hash, LFR_HASH_BYTES);
    return LFR_OK;
}

int lfr__audit_refusal(lfr_store *s, int status, const char *actor, const char *action,
                       const char *object)
{
    char why[512];
    snprintf(why, sizeof why, "%s", lfr_errmsg());
    char detail[sizeof why + 64];
    snprintf(detail, sizeof detail, "{\"status\":\"%s\",\"reason\":", lfr_strerror(status));
    lfr__json_append_str(detail, sizeof detail - 1, why);
    size_t n = strlen(detail);
    detail[n] = '}';
    detail[n + 1] = 0;

    int rc = lfr__store_begin(s);
    if (!rc) rc = lfr__audit_append(s, actor, action, object, detail);
    if (rc)
        lfr__store_rollback(s);
    else
        rc = lfr__store_commit(s);
    if (rc) {
        char cause[400];
        snprintf(cause, sizeof cause, "%s", lfr_errmsg());
        return lfr__err(status, "%s (and the refusal could not be audited: %s)", why, cause);
    }
    return lfr__err(status, "%s", why);
}

/* ---- The anchor --------------------------------------------------------------------- */

static int anchor_paths(const char *home, char *head, char *tmp, char *lock, size_t cap)
{
    int a = snprintf(head, cap, "%s/audit.head", home);
    int b = snprintf(tmp, cap, "%s/audit.head.tmp", home);
    int c = snprintf(lock, cap, "%s/audit.lock", home);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= cap || (size_t)b >= cap || (size_t)c >= cap)
        return lfr__err(LFR_ERR_INVALID, "home path too long");
    return LFR_OK;
}

static int hex_to_bin(const char *hex, uint8_t *out, size_t n)
{
    size_t len;
    if (strlen(hex) != 2 * n) return 0;
    return sodium_hex2bin(out, n, hex, 2 * n, NULL, &len, NULL) == 0 && len == n;
}

/* Read the anchor: 1 and (seq, hash) when present and well formed, 0 when
 * the file does not exist, -1 (message set) when it is malformed. */
static int anchor_read(const char *path, uint64_t *seq, uint8_t hash[LFR_HASH_BYTES])
{
    uint8_t *data;
    size_t size;
    if (access(path, F_OK) && errno == ENOENT) return 0;
    if (lfr__read_file(path, 4096, &data, &size)) return -1;
    char text[4096 + 1];
    memcpy(text, data, size);
    text[size] = 0;
    free(data);
    char magic[64], hex[2 * LFR_HASH_BYTES + 2];
    unsigned long long v;
    int n = -1;
    if (sscanf(text, "%63s seq %llu hash %65s%n", magic, &v, hex, &n) != 3 || n < 0 ||
        strcmp(magic, anchor_magic) || v == 0 || !hex_to_bin(hex, hash, LFR_HASH_BYTES)) {
        lfr__err(LFR_ERR_TAMPERED, "%s: malformed", path);
        return -1;
    }
    *seq = v;
    return 1;
}

int lfr__audit_anchor_write(const char *home, uint64_t seq, const uint8_t hash[LFR_HASH_BYTES])
{
    char head[4096], tmp[4096], lock[4096];
    int rc = anchor_paths(home, head, tmp, lock, sizeof head);
    if (rc) return rc;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) return lfr__err(LFR_ERR_IO, "%s: %s", lock, strerror(errno));
    while (flock(lfd, LOCK_EX) && errno == EINTR)
        ;

    uint64_t old_seq = 0;
    uint8_t old_hash[LFR_HASH_BYTES];
    int have = anchor_read(head, &old_seq, old_hash);
    /* A malformed anchor is replaced: verification has already been told
     * about it by the time anyone reads it, and the chain itself is intact. */
    if (have == 1 && old_seq >= seq) {
        close(lfd);
        return LFR_OK;
    }
    char hex[2 * LFR_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, hash, LFR_HASH_BYTES);
    char text[160];
    int len = snprintf(text, sizeof text, "%s\nseq %" PRIu64 "\nhash %s\n", anchor_magic, seq, hex);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) rc = lfr__err(LFR_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (!rc && write(fd, text, (size_t)len) != len)
        rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (!rc && fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close failed", tmp);
    if (!rc && rename(tmp, head))
        rc = lfr__err(LFR_ERR_IO, "%s: rename: %s", head, strerror(errno));
    if (!rc) {
        /* Make the rename itself durable. */
        int dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    close(lfd);
    return rc;
}

int lfr__audit_anchor_read(const char *home, uint64_t *seq, uint8_t hash[LFR_HASH_BYTES])
{
    char head[4096], tmp[4096], lock[4096];
    if (anchor_paths(home, head, tmp, lock, sizeof head)) return -1;
    return anchor_read(head, seq, hash);
}

/* ---- Listing --------------------------------------------------------------------------- */

int lfr_audit_list(lfr_store *s, const lfr_user *actor, const lfr_audit_filter *filter,
                   int (*fn)(const lfr_audit_entry *entry, void *ctx), void *ctx)
{
    lfr_audit_filter f = {0};
    if (filter) f = *filter;
    char from[LFR__TIME_LEN], to[LFR__TIME_LEN];
    int rc = f.from ? lfr__filter_time(f.from, 0, from) : LFR_OK;
    if (!rc && f.to) rc = lfr__filter_time(f.to, 1, to);
    if (rc) return rc;
    if (f.from) f.from = from;
    if (f.to) f.to = to;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_AUDIT_LIST, "audit", &row);
    if (rc) return rc;
    return s->be->audit_each(s->db, &f, fn, ctx);
}
