/*
 * The audit chain. Each entry's hash is BLAKE2b-256 over an unambiguous
 * encoding of (seq, time, actor, action, object, detail, prev_hash), where
 * prev_hash is the previous entry's hash (32 zero bytes for entry 1). The
 * encoding is a domain tag, then seq as 8 bytes big-endian, then each text
 * field as its length (8 bytes big-endian) and its bytes, then prev_hash: no
 * two different entries encode the same way, whatever the fields contain.
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

#include "store/store.h"
#include "util/util.h"

static const char hash_domain[] = "openlfr audit entry v1";
static const char anchor_magic[] = "openlfr-audit-head-v1";

/* ---- Hashing ------------------------------------------------------------------ */

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

static void put_str(crypto_generichash_state *h, const char *s)
{
    size_t n = strlen(s);
    put_u64(h, n);
    crypto_generichash_update(h, (const uint8_t *)s, n);
}

void lfr__audit_hash(uint64_t seq, const char *time, const char *actor, const char *action,
                     const char *object, const char *detail,
                     const uint8_t prev_hash[LFR_HASH_BYTES], uint8_t out[LFR_HASH_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, LFR_HASH_BYTES);
    put_str(&h, hash_domain);
    put_u64(&h, seq);
    put_str(&h, time);
    put_str(&h, actor);
    put_str(&h, action);
    put_str(&h, object);
    put_str(&h, detail);
    crypto_generichash_update(&h, prev_hash, LFR_HASH_BYTES);
    crypto_generichash_final(&h, out, LFR_HASH_BYTES);
}

/* ---- Detail text ------------------------------------------------------------------ */

void lfr__json_append_str(char *buf, size_t cap, const char *s)
{
    size_t n = strnlen(buf, cap);
    /* Room for the closing quote and the NUL is kept back throughout. */
    if (cap < 3 || n + 3 > cap) return;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        size_t k;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            k = 2;
        } else if (*p < 0x20) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            k = 1;
        }
        if (n + k + 2 > cap) break;
        memcpy(buf + n, esc, k);
        n += k;
    }
    buf[n++] = '"';
    buf[n] = 0;
}

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
    lfr__audit_hash(head + 1, now, actor, action, object, detail, prev, hash);
    lfr__audit_row row = {head + 1, now, actor, action, object, detail, prev, hash};
    rc = s->be->audit_insert(s->db, &row);
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

/* ---- Verification -------------------------------------------------------------------- */

typedef struct walk {
    lfr_audit_verdict *v;
    uint64_t expect;
    uint8_t prev[LFR_HASH_BYTES];
    uint64_t anchor_seq; /* remember this entry's hash in anchor_hash */
    uint8_t anchor_hash[LFR_HASH_BYTES];
} walk;

/* Returned by verify_entry to stop the walk at a bad entry. */
#define STOP (-1)

static int bad(walk *w, uint64_t seq, const char *fmt, const char *arg)
{
    w->v->first_bad = seq;
    snprintf(w->v->reason, sizeof w->v->reason, fmt, arg);
    return STOP;
}

static int verify_entry(const lfr_audit_entry *e, void *ctx)
{
    walk *w = ctx;
    w->v->n_entries++;
    char num[32];
    if (e->seq != w->expect) {
        snprintf(num, sizeof num, "%" PRIu64, e->seq);
        if (e->seq > w->expect)
            return bad(w, w->expect, "entry is missing (the next entry is %s)", num);
        return bad(w, w->expect, "entry is out of order (found entry %s in its place)", num);
    }
    if (sodium_memcmp(e->prev_hash, w->prev, LFR_HASH_BYTES))
        return bad(w, e->seq, "entry does not link to the one before it (prev_hash differs%s)",
                   ": inserted, reordered, or an earlier entry replaced");
    uint8_t h[LFR_HASH_BYTES];
    lfr__audit_hash(e->seq, e->time, e->actor, e->action, e->object, e->detail, e->prev_hash, h);
    if (sodium_memcmp(h, e->hash, LFR_HASH_BYTES))
        return bad(w, e->seq, "entry's contents do not match its hash%s", " (edited)");
    memcpy(w->prev, e->hash, LFR_HASH_BYTES);
    if (e->seq == w->anchor_seq) memcpy(w->anchor_hash, e->hash, LFR_HASH_BYTES);
    w->v->head_seq = e->seq;
    memcpy(w->v->head_hash, e->hash, LFR_HASH_BYTES);
    w->expect++;
    return 0;
}

int lfr_audit_verify(lfr_store *s, lfr_audit_verdict *v)
{
    memset(v, 0, sizeof *v);
    char head[4096], tmp[4096], lock[4096];
    int rc = anchor_paths(s->home, head, tmp, lock, sizeof head);
    if (rc) return rc;

    /* The anchor is read before the chain: it only moves forward, after
     * commits, so the chain read next reaches at least as far. */
    uint64_t a_seq = 0;
    uint8_t a_hash[LFR_HASH_BYTES];
    int have = anchor_read(head, &a_seq, a_hash);
    if (have < 0) {
        snprintf(v->reason, sizeof v->reason, "%s", lfr_errmsg());
        return LFR_ERR_TAMPERED;
    }

    walk w = {v, 1, {0}, have == 1 ? a_seq : 0, {0}};
    rc = s->be->audit_each(s->db, NULL, verify_entry, &w);
    if (rc && rc != STOP) return rc;
    if (rc == STOP)
        return lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", v->first_bad, v->reason);

    if (have == 0) {
        if (v->n_entries == 0) return lfr__audit_check_records(s, v);
        snprintf(v->reason, sizeof v->reason,
                 "audit.head is missing, so removal of the newest entries cannot be ruled out");
        return lfr__err(LFR_ERR_TAMPERED, "%s", v->reason);
    }
    v->anchor_seq = a_seq;
    if (v->head_seq < a_seq) {
        v->first_bad = v->head_seq + 1;
        snprintf(v->reason, sizeof v->reason,
                 "entries %" PRIu64 " to %" PRIu64 " are missing (audit.head records entry %" PRIu64
                 ")",
                 v->head_seq + 1, a_seq, a_seq);
        return lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", v->first_bad, v->reason);
    }
    if (sodium_memcmp(w.anchor_hash, a_hash, LFR_HASH_BYTES)) {
        v->first_bad = a_seq;
        snprintf(v->reason, sizeof v->reason,
                 "entry differs from the one recorded in audit.head (the chain was rewritten "
                 "from here or earlier)");
        return lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", v->first_bad, v->reason);
    }
    v->unanchored = v->head_seq - a_seq;
    return lfr__audit_check_records(s, v);
}

/* ---- Listing --------------------------------------------------------------------------- */

int lfr__filter_time(const char *in, int is_to, char out[LFR__TIME_LEN])
{
    int64_t ms;
    int rc = lfr__time_parse(in, &ms);
    if (rc) return rc;
    if (is_to && strlen(in) == 10) ms += 86400000 - 1;
    lfr__time_format(ms, out);
    return LFR_OK;
}

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
