/*
 * The store's side of the transparency log. src/audit holds the log itself
 * (hashes, the Merkle tree, signed notes); this keeps it in a home:
 *
 *   log.key     the log's Ed25519 signing key (0600), made at init (or when
 *               an older home is first opened), never in the database, the
 *               audit log or the environment; separate from the media key.
 *   log.pub     the verifier keys of every log key the home has used, one a
 *               line: what an auditor checks signatures with.
 *   log_head    one row in the database: the tree's size, its frontier and
 *               the checkpoint signed at the last commit. Every transaction
 *               that appends entries signs a new head before it commits, in
 *               the same transaction, so an entry written into the database
 *               by anyone without the key is not covered by the signed head
 *               and is found at once.
 *   audit.head  the anchor: the same signed checkpoint, written after the
 *               commit, only forward, so that the database being rolled back
 *               or cut short is found too.
 *   log_checkpoints  the checkpoints published for outside parties: at every
 *               deployment start and stop, and when the policy's
 *               checkpoint_entries or checkpoint_minutes have gone by.
 *
 * Before a transaction appends, the guard checks that the log can be
 * extended honestly: the signed head verifies under the log key and covers
 * every entry, audit.head is present, well formed, signed and not ahead of
 * the database, and the key is at hand. If not, writes stop (LFR_ERR_TAMPERED)
 * until an administrator re-anchors (lfr_audit_reanchor), which records what
 * was found. Nothing is ever recreated silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

#define MAX_KEYS 16
#define KEY_TEXT_MAX 512

static const char anchor_v1_magic[] = "openlfr-audit-head-v1";
static const char stop_hint[] =
    "writes are stopped until an administrator re-anchors the log (lfr audit reanchor)";

struct lfr__log {
    int have_signer;
    lfr__signer signer;
    char key_problem[300];           /* why there is no signer */
    lfr__verifier trusted[MAX_KEYS]; /* log.pub */
    int n_trusted;
    int started;   /* the log has a signed head */
    int guard_off; /* starting or re-anchoring: the guard would refuse */
    /* The open transaction. */
    lfr__frontier pending;
    uint64_t n_added;
    char reason[40];
    char last_time[LFR__TIME_LEN]; /* of the newest entry appended */
    /* Signed before the commit, written to audit.head after it. */
    char sealed[LFR__HEAD_NOTE_MAX];
    size_t n_sealed;
    int anchor_due, anchor_force;
    /* The last head this handle verified or signed, to skip checking it
     * again while no other process has written. */
    uint8_t verified[LFR_HASH_BYTES];
    int have_verified;
};

/* ---- Files of the home ---------------------------------------------------------- */

static int path_of(const lfr_store *s, const char *leaf, char out[4200])
{
    int n = snprintf(out, 4200, "%s/%s", s->home, leaf);
    if (n < 0 || n >= 4200) return lfr__err(LFR_ERR_INVALID, "home path too long");
    return LFR_OK;
}

/* Read log.pub: one verifier key a line; a missing file is no keys. */
static int load_trusted(lfr_store *s)
{
    char p[4200], buf[MAX_KEYS * LFR__VKEY_MAX];
    size_t n;
    int rc = path_of(s, "log.pub", p);
    if (!rc) rc = lfr__file_read_small(p, 0, buf, sizeof buf, &n);
    if (rc == LFR_ERR_NOT_FOUND) return LFR_OK;
    if (rc) return rc;
    s->log->n_trusted = 0;
    for (size_t i = 0; i < n;) {
        const char *eol = memchr(buf + i, '\n', n - i);
        size_t len = eol ? (size_t)(eol - (buf + i)) : n - i;
        if (len > 0) {
            if (s->log->n_trusted == MAX_KEYS)
                return lfr__err(LFR_ERR_FORMAT, "%s: more than %d keys", p, MAX_KEYS);
            if (lfr__verifier_parse(buf + i, len, &s->log->trusted[s->log->n_trusted]))
                return lfr__err_prefix(LFR_ERR_FORMAT, p);
            s->log->n_trusted++;
        }
        i += len + 1;
    }
    return LFR_OK;
}

/* Read log.key; a problem is remembered (writes will stop) but is not an
 * error for opening the home. */
static void load_signer(lfr_store *s)
{
    char p[4200], text[KEY_TEXT_MAX];
    size_t n = 0;
    int rc = path_of(s, "log.key", p);
    if (!rc) rc = lfr__file_read_small(p, 1, text, sizeof text, &n);
    if (!rc) rc = lfr__signer_parse(text, n, &s->log->signer);
    sodium_memzero(text, sizeof text);
    if (!rc) {
        s->log->have_signer = 1;
        return;
    }
    snprintf(s->log->key_problem, sizeof s->log->key_problem, "%s",
             rc == LFR_ERR_NOT_FOUND ? "log.key is missing" : lfr_errmsg());
}

/* A new log key, written to log.key (created, 0600) and added to log.pub. */
static int make_signer(lfr_store *s)
{
    uint8_t r[8];
    char name[64], hex[17];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    /* The origin: names this log in its checkpoints. A previous key's name
     * is kept, so that the log keeps its identity across a new key. */
    if (s->log->n_trusted)
        snprintf(name, sizeof name, "%s", s->log->trusted[s->log->n_trusted - 1].name);
    else
        snprintf(name, sizeof name, "openlfr.local/%s", hex);
    lfr__signer k;
    int rc = lfr__signer_generate(name, LFR__KEY_ED25519, &k);
    if (rc) return rc;
    char p[4200], text[KEY_TEXT_MAX];
    rc = path_of(s, "log.key", p);
    if (!rc) rc = lfr__signer_format(&k, text, sizeof text);
    if (!rc) {
        struct stat st;
        /* A key that cannot be read is kept aside, not overwritten. */
        if (lstat(p, &st) == 0) {
            char aside[4300];
            snprintf(aside, sizeof aside, "%s.unreadable-%s", p, hex);
            if (rename(p, aside))
                rc = lfr__err(LFR_ERR_IO, "%s: cannot move aside: %s", p, strerror(errno));
        }
    }
    if (!rc) rc = lfr__file_create(p, text, strlen(text), 0600);
    sodium_memzero(text, sizeof text);
    if (rc) {
        lfr__signer_free(&k);
        return rc;
    }
    /* log.pub gains the new key's line. */
    lfr__verifier v;
    lfr__verifier_of(&k, &v);
    char pub[MAX_KEYS * LFR__VKEY_MAX + LFR__VKEY_MAX], line[LFR__VKEY_MAX];
    size_t len = 0;
    for (int i = 0; i < s->log->n_trusted; i++) {
        lfr__verifier_format(&s->log->trusted[i], line);
        len += (size_t)snprintf(pub + len, sizeof pub - len, "%s\n", line);
    }
    lfr__verifier_format(&v, line);
    len += (size_t)snprintf(pub + len, sizeof pub - len, "%s\n", line);
    rc = path_of(s, "log.pub", p);
    if (!rc) rc = lfr__file_replace(p, pub, len, 0644);
    if (rc) {
        lfr__signer_free(&k);
        return rc;
    }
    if (s->log->n_trusted < MAX_KEYS) s->log->trusted[s->log->n_trusted++] = v;
    if (s->log->have_signer) lfr__signer_free(&s->log->signer);
    s->log->signer = k;
    s->log->have_signer = 1;
    s->log->key_problem[0] = 0;
    return LFR_OK;
}

/* ---- The anchor ------------------------------------------------------------------- */

enum { ANCHOR_NONE = 0, ANCHOR_V1 = 1, ANCHOR_NOTE = 2, ANCHOR_BAD = -1 };

/* Read audit.head into buf: which kind it is (a checkpoint note, or the
 * (seq, hash) of homes before the log); ANCHOR_BAD with lfr_errmsg() set
 * when it cannot be read. */
static int anchor_load(const lfr_store *s, char *buf, size_t cap, size_t *n)
{
    char p[4200];
    *n = 0;
    int rc = path_of(s, "audit.head", p);
    if (!rc) rc = lfr__file_read_small(p, 0, buf, cap, n);
    if (rc == LFR_ERR_NOT_FOUND) return ANCHOR_NONE;
    if (rc) return ANCHOR_BAD;
    buf[*n] = 0;
    if (*n >= sizeof anchor_v1_magic - 1 &&
        !memcmp(buf, anchor_v1_magic, sizeof anchor_v1_magic - 1))
        return ANCHOR_V1;
    return ANCHOR_NOTE;
}

/* Write audit.head: the note, under the lock, only forward unless forced
 * (starting or re-anchoring); force 1 keeps what the file held aside as
 * evidence, force 2 (an old anchor that matched) replaces it. */
static int anchor_store(lfr_store *s, const char *note, size_t n, uint64_t size, int force)
{
    char p[4200], lock[4200];
    int rc = path_of(s, "audit.head", p);
    if (!rc) rc = path_of(s, "audit.lock", lock);
    if (rc) return rc;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) return lfr__err(LFR_ERR_IO, "%s: %s", lock, strerror(errno));
    while (flock(lfd, LOCK_EX) && errno == EINTR)
        ;
    char old[LFR__HEAD_NOTE_MAX + 1];
    size_t on = 0;
    int kind = anchor_load(s, old, sizeof old, &on);
    if (!force && kind == ANCHOR_NOTE) {
        lfr__note nt;
        lfr__checkpoint cp;
        if (!lfr__note_parse(old, on, &nt) && !lfr__checkpoint_parse(nt.text, nt.n_text, &cp) &&
            cp.size >= size) {
            close(lfd);
            return LFR_OK;
        }
    }
    if (force == 1 && kind != ANCHOR_NONE && !(on == n && !memcmp(old, note, n))) {
        char aside[4300];
        snprintf(aside, sizeof aside, "%s.replaced-%" PRIu64, p, size);
        if (rename(p, aside)) {
            rc = lfr__err(LFR_ERR_IO, "%s: cannot keep it aside: %s", p, strerror(errno));
            close(lfd);
            return rc;
        }
    }
    rc = lfr__file_replace(p, note, n, 0600);
    close(lfd);
    return rc;
}

/* ---- Checking a signed head ----------------------------------------------------------- */

/* Check a stored head: its note is a checkpoint of this log signed by the
 * key, of the frontier's size and root. Fills *f. */
static int head_check(const lfr_store *s, const lfr__log_head *h, const lfr__verifier *keys,
                      int n_keys, lfr__frontier *f, lfr__checkpoint *cp)
{
    lfr__note note;
    int rc = lfr__checkpoint_open(h->note, h->n_note, keys, n_keys, cp, &note, NULL);
    if (rc) return lfr__err(LFR_ERR_TAMPERED, "the log's signed head: %s", lfr_errmsg());
    uint8_t root[LFR_HASH_BYTES];
    if (lfr__frontier_decode(h->frontier, h->n_frontier, f) || f->size != cp->size ||
        h->size != cp->size)
        return lfr__err(LFR_ERR_TAMPERED, "the log's signed head: its tree does not match its "
                                          "checkpoint (changed outside lfr)");
    lfr__frontier_root(f, root);
    if (sodium_memcmp(root, cp->root, LFR_HASH_BYTES))
        return lfr__err(LFR_ERR_TAMPERED, "the log's signed head: its tree does not match its "
                                          "checkpoint's root (changed outside lfr)");
    (void)s;
    return LFR_OK;
}

/* The guard: may this transaction extend the log? Loads the frontier the
 * appends build on. */
static int guard(lfr_store *s)
{
    struct lfr__log *L = s->log;
    if (!L->started) return lfr__err(LFR_ERR_TAMPERED, "the log has no signed head: %s", stop_hint);
    if (!L->have_signer) return lfr__err(LFR_ERR_TAMPERED, "%s: %s", L->key_problem, stop_hint);
    lfr__log_head h;
    int rc = s->be->log_head_get(s->db, &h);
    if (rc == LFR_ERR_NOT_FOUND)
        return lfr__err(LFR_ERR_TAMPERED, "the log's signed head (log_head) is missing: %s",
                        stop_hint);
    if (rc == LFR_ERR_TAMPERED) return lfr__err(rc, "%s: %s", lfr_errmsg(), stop_hint);
    if (rc) return rc;
    uint8_t digest[LFR_HASH_BYTES];
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, sizeof digest);
    crypto_generichash_update(&hs, h.frontier, h.n_frontier);
    crypto_generichash_update(&hs, (const uint8_t *)h.note, h.n_note);
    crypto_generichash_final(&hs, digest, sizeof digest);
    lfr__frontier f;
    lfr__checkpoint cp;
    lfr__verifier self;
    lfr__verifier_of(&L->signer, &self);
    if (L->have_verified && !sodium_memcmp(digest, L->verified, sizeof digest)) {
        lfr__frontier_decode(h.frontier, h.n_frontier, &f);
    } else {
        rc = head_check(s, &h, &self, 1, &f, &cp);
        if (rc) return lfr__err(rc, "%s: %s", lfr_errmsg(), stop_hint);
        memcpy(L->verified, digest, sizeof digest);
        L->have_verified = 1;
    }
    uint64_t seq;
    uint8_t hash[LFR_HASH_BYTES];
    rc = s->be->audit_head(s->db, &seq, hash);
    if (rc) return rc;
    if (seq > f.size)
        return lfr__err(LFR_ERR_TAMPERED,
                        "audit entries %" PRIu64 " to %" PRIu64
                        " were added without the log key (the signed head covers %" PRIu64 "): %s",
                        f.size + 1, seq, f.size, stop_hint);
    if (seq < f.size)
        return lfr__err(LFR_ERR_TAMPERED,
                        "audit entries %" PRIu64 " to %" PRIu64
                        " are missing (the signed head covers %" PRIu64 "): %s",
                        seq + 1, f.size, f.size, stop_hint);
    /* The anchor: present, a checkpoint signed by the key, not ahead. */
    char a[LFR__HEAD_NOTE_MAX + 1];
    size_t an;
    int kind = anchor_load(s, a, sizeof a, &an);
    if (kind == ANCHOR_NONE)
        return lfr__err(LFR_ERR_TAMPERED, "audit.head is missing: %s", stop_hint);
    if (kind == ANCHOR_BAD) return lfr__err(LFR_ERR_TAMPERED, "%s: %s", lfr_errmsg(), stop_hint);
    if (kind == ANCHOR_V1 || !(an == h.n_note && !memcmp(a, h.note, an))) {
        lfr__note nt;
        lfr__checkpoint ac;
        if (kind == ANCHOR_V1 || lfr__checkpoint_open(a, an, &self, 1, &ac, &nt, NULL))
            return lfr__err(LFR_ERR_TAMPERED,
                            "audit.head is not a checkpoint signed by the log key: %s", stop_hint);
        if (ac.size > f.size)
            return lfr__err(LFR_ERR_TAMPERED,
                            "audit.head records %" PRIu64 " entries but the database holds %" PRIu64
                            " (rolled back, or entries removed): %s",
                            ac.size, f.size, stop_hint);
    }
    L->pending = f;
    L->n_added = 0;
    L->reason[0] = 0;
    return LFR_OK;
}

int lfr__log_begin(lfr_store *s)
{
    struct lfr__log *L = s->log;
    if (!L) return LFR_OK;
    L->n_added = 0;
    L->reason[0] = 0;
    L->anchor_due = 0;
    if (s->version < lfr__sqlite_log_version || L->guard_off) return LFR_OK;
    return guard(s);
}

int lfr__log_active(const lfr_store *s)
{
    return s->log && s->log->started && s->version >= lfr__sqlite_log_version;
}

int lfr__log_added(lfr_store *s, const lfr_audit_entry *e)
{
    struct lfr__log *L = s->log;
    if (!lfr__log_active(s)) return LFR_OK;
    if (e->seq != L->pending.size + 1)
        return lfr__err(LFR_ERR_TAMPERED,
                        "audit entry %" PRIu64 ": the log's tree holds %" PRIu64 " entries", e->seq,
                        L->pending.size);
    uint8_t leaf[LFR_HASH_BYTES];
    lfr__entry_leaf(e, leaf);
    lfr__frontier_push(&L->pending, leaf);
    L->n_added++;
    snprintf(L->last_time, sizeof L->last_time, "%s", e->time);
    static const char *const publish[] = {"deployment.start", "deployment.stop", "log.init",
                                          "log.reanchor"};
    for (size_t i = 0; i < sizeof publish / sizeof publish[0]; i++)
        if (!strcmp(e->action, publish[i])) snprintf(L->reason, sizeof L->reason, "%s", publish[i]);
    return LFR_OK;
}

/* Sign the head of the pending tree into h. */
static int sign_head(lfr_store *s, lfr__log_head *h)
{
    struct lfr__log *L = s->log;
    lfr__checkpoint cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "%s", L->signer.name);
    cp.size = L->pending.size;
    lfr__frontier_root(&L->pending, cp.root);
    size_t n;
    int rc = lfr__checkpoint_format(&cp, h->note, sizeof h->note, &n);
    if (rc) return rc;
    char line[LFR__SIGLINE_MAX];
    rc = lfr__note_sign(&L->signer, h->note, n, 0, line);
    if (rc) return rc;
    int k = snprintf(h->note + n, sizeof h->note - n, "\n%s", line);
    if (k < 0 || (size_t)k >= sizeof h->note - n) return lfr__err(LFR_ERR_INVALID, "note too long");
    h->n_note = n + (size_t)k;
    h->size = cp.size;
    h->n_frontier = lfr__frontier_encode(&L->pending, h->frontier);
    return LFR_OK;
}

/* Whether a checkpoint is due for publication at this commit, and why. */
static int publish_due(lfr_store *s, const char **why)
{
    struct lfr__log *L = s->log;
    if (L->reason[0]) {
        *why = L->reason;
        return 1;
    }
    lfr_policy p;
    uint64_t last = 0;
    char at[LFR__TIME_LEN] = "";
    int rc = lfr_store_policy_get(s, &p);
    if (!rc) rc = s->be->log_checkpoint_last(s->db, &last, at);
    if (rc == LFR_ERR_NOT_FOUND) {
        *why = "first";
        return 1;
    }
    if (rc) return -1;
    if (p.checkpoint_entries == 0 || L->pending.size - last >= (uint64_t)p.checkpoint_entries) {
        *why = "entries";
        return 1;
    }
    int64_t then, now;
    if (lfr__time_parse(at, &then) || lfr__clock_now_ms(&now)) return -1;
    if (now - then >= p.checkpoint_minutes * 60000) {
        *why = "minutes";
        return 1;
    }
    return 0;
}

int lfr__log_seal(lfr_store *s)
{
    struct lfr__log *L = s->log;
    if (!lfr__log_active(s) || L->n_added == 0) return LFR_OK;
    lfr__log_head h;
    int rc = sign_head(s, &h);
    if (!rc) rc = s->be->log_head_put(s->db, &h);
    const char *why = NULL;
    int due = rc ? 0 : publish_due(s, &why);
    if (due < 0) rc = LFR_ERR_STORE;
    /* A published checkpoint's time is its newest entry's, so that
     * verification can check it. */
    if (!rc && due) rc = s->be->log_checkpoint_add(s->db, h.size, L->last_time, why, h.note);
    if (rc) return lfr__err_prefix(rc, "signing the log's head");
    memcpy(L->sealed, h.note, h.n_note);
    L->n_sealed = h.n_note;
    L->anchor_due = 1;
    /* This handle signed it: no need to check it at the next begin. */
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, LFR_HASH_BYTES);
    crypto_generichash_update(&hs, h.frontier, h.n_frontier);
    crypto_generichash_update(&hs, (const uint8_t *)h.note, h.n_note);
    crypto_generichash_final(&hs, L->verified, LFR_HASH_BYTES);
    L->have_verified = 1;
    return LFR_OK;
}

int lfr__log_after_commit(lfr_store *s)
{
    struct lfr__log *L = s->log;
    if (!L || !L->anchor_due) return LFR_OK;
    L->anchor_due = 0;
    int force = L->anchor_force;
    L->anchor_force = 0;
    return anchor_store(s, L->sealed, L->n_sealed, L->pending.size, force);
}

void lfr__log_rollback(lfr_store *s)
{
    if (!s->log) return;
    s->log->n_added = 0;
    s->log->anchor_due = 0;
    s->log->anchor_force = 0;
    s->log->reason[0] = 0;
}

/* ---- Reading the whole log ------------------------------------------------------------ */

typedef struct whole {
    lfr__chain chain;
    int failed;
    uint64_t want_seq; /* keep this entry's encoding */
    uint8_t *entry;
    size_t n_entry;
    uint64_t hash_seq; /* keep this entry's chain hash */
    uint8_t hash[LFR_HASH_BYTES];
    uint64_t n_init; /* log.init entries seen */
} whole;

static int on_whole(const lfr_audit_entry *e, void *ctx)
{
    whole *w = ctx;
    if (!strcmp(e->action, "log.init")) w->n_init++;
    if (w->failed) return 0;
    if (lfr__chain_next(&w->chain, e)) {
        w->failed = 1;
        return 0;
    }
    if (e->seq == w->hash_seq) memcpy(w->hash, e->hash, LFR_HASH_BYTES);
    if (e->seq == w->want_seq) {
        free(w->entry);
        w->entry = NULL;
        if (lfr__entry_encode(e, &w->entry, &w->n_entry))
            return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Walk every entry: the chain checked, the tree built (with every leaf
 * when collect), entry want_seq's bytes kept. */
static int read_whole(lfr_store *s, int collect, uint64_t want_seq, uint64_t hash_seq, whole *w)
{
    memset(w, 0, sizeof *w);
    lfr__chain_init(&w->chain, collect);
    w->chain.tolerance_ms = INT64_MAX / 2; /* times are verification's business */
    w->want_seq = want_seq;
    w->hash_seq = hash_seq;
    return s->be->audit_each(s->db, NULL, on_whole, w);
}

static void whole_free(whole *w)
{
    lfr__chain_free(&w->chain);
    free(w->entry);
    w->entry = NULL;
}

/* ---- Starting the log --------------------------------------------------------------- */

/* A home whose schema has the log's tables but no signed head yet: a new
 * home, or an older home opened by this version for the first time. The
 * entries so far become the first leaves, and a log.init entry records the
 * key, and what the chain and the old anchor said (signing them does not
 * hide a break: the chain is still checked as before). */
static int start(lfr_store *s)
{
    struct lfr__log *L = s->log;
    char a[LFR__HEAD_NOTE_MAX + 1];
    size_t an;
    int kind = anchor_load(s, a, sizeof a, &an);
    if (kind == ANCHOR_NOTE)
        return lfr__err(LFR_ERR_TAMPERED,
                        "audit.head holds a checkpoint but the database has no "
                        "signed head: %s",
                        stop_hint);
    uint64_t v1_seq = 0;
    uint8_t v1_hash[LFR_HASH_BYTES];
    int v1 = kind == ANCHOR_V1 ? lfr__audit_anchor_read(s->home, &v1_seq, v1_hash) : 0;

    whole w;
    int rc = read_whole(s, 0, 0, v1 == 1 ? v1_seq : 0, &w);
    if (!rc && w.n_init)
        rc = lfr__err(LFR_ERR_TAMPERED,
                      "the log was started (a log.init entry exists) but its "
                      "signed head is missing: %s",
                      stop_hint);
    if (!rc && !L->have_signer) rc = make_signer(s);
    if (rc) {
        whole_free(&w);
        return rc;
    }

    char chain[400], anchor[160], vkey[LFR__VKEY_MAX];
    if (w.failed)
        snprintf(chain, sizeof chain, "entry %" PRIu64 ": %s", w.chain.first_bad, w.chain.reason);
    else
        snprintf(chain, sizeof chain, "ok");
    if (kind == ANCHOR_NONE)
        snprintf(anchor, sizeof anchor, "missing");
    else if (v1 != 1)
        snprintf(anchor, sizeof anchor, "malformed");
    else if (w.failed && v1_seq >= w.chain.first_bad)
        snprintf(anchor, sizeof anchor, "entry %" PRIu64 ", after the break", v1_seq);
    else if (v1_seq > w.chain.tree.size)
        snprintf(anchor, sizeof anchor, "entry %" PRIu64 ", which is missing", v1_seq);
    else if (sodium_memcmp(w.hash, v1_hash, LFR_HASH_BYTES))
        snprintf(anchor, sizeof anchor, "entry %" PRIu64 ", which differs", v1_seq);
    else
        snprintf(anchor, sizeof anchor, "entry %" PRIu64 " matches", v1_seq);
    lfr__verifier v;
    lfr__verifier_of(&L->signer, &v);
    lfr__verifier_format(&v, vkey);

    /* Entries after a break in the chain cannot be leaves of an honest
     * tree; the log then starts over the whole table as it stands, and the
     * break is recorded and still reported by verification. */
    char detail[1200];
    snprintf(detail, sizeof detail, "{\"origin\":");
    lfr__json_append_str(detail, sizeof detail, L->signer.name);
    size_t k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, ",\"key\":");
    lfr__json_append_str(detail, sizeof detail, vkey);
    k = strlen(detail);
    snprintf(
        detail + k, sizeof detail - k,
        ",\"tree\":\"RFC 9162, SHA-256\",\"entries\":%" PRIu64 ",\"chain\":", w.chain.n_entries);
    lfr__json_append_str(detail, sizeof detail, chain);
    k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, ",\"anchor\":");
    lfr__json_append_str(detail, sizeof detail - 1, anchor);
    k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, "}");
    lfr__frontier f = w.chain.tree;
    int broken = w.failed;
    whole_free(&w);
    if (broken) {
        /* Rebuild over every entry as stored, break and all. */
        rc = lfr__log_rebuild(s, &f);
        if (rc) return rc;
    }

    L->guard_off = 1;
    rc = lfr__store_begin(s);
    if (!rc) {
        L->started = 1;
        L->pending = f;
        L->n_added = 0;
        /* An old anchor that matched is replaced; anything else is kept. */
        L->anchor_force = strstr(anchor, "matches") || kind == ANCHOR_NONE ? 2 : 1;
        rc = lfr__audit_append(s, "system", "log.init", "log", detail);
    }
    if (rc) {
        L->started = 0;
        lfr__store_rollback(s);
    } else {
        rc = lfr__store_commit(s);
        if (rc && !s->committed) L->started = 0;
    }
    L->guard_off = 0;
    return rc;
}

typedef struct rebuild {
    lfr__frontier f;
} rebuild;

static int on_rebuild(const lfr_audit_entry *e, void *ctx)
{
    rebuild *r = ctx;
    uint8_t leaf[LFR_HASH_BYTES];
    lfr__entry_leaf(e, leaf);
    lfr__frontier_push(&r->f, leaf);
    return 0;
}

int lfr__log_rebuild(lfr_store *s, lfr__frontier *f_out)
{
    rebuild r;
    lfr__frontier_init(&r.f);
    int rc = s->be->audit_each(s->db, NULL, on_rebuild, &r);
    if (!rc) *f_out = r.f;
    return rc;
}

/* ---- Opening and closing ------------------------------------------------------------- */

int lfr__log_open(lfr_store *s, int readonly)
{
    s->log = calloc(1, sizeof *s->log);
    if (!s->log) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = load_trusted(s);
    if (rc) {
        /* A damaged log.pub: verification will say so; writers need it
         * only to know the log's name. */
        s->log->n_trusted = 0;
    }
    if (!readonly) load_signer(s);
    if (s->version < lfr__sqlite_log_version) return LFR_OK;
    lfr__log_head h;
    rc = s->be->log_head_get(s->db, &h);
    if (!rc || rc == LFR_ERR_TAMPERED) {
        s->log->started = 1; /* the guard reports a malformed head */
        return LFR_OK;
    }
    if (rc != LFR_ERR_NOT_FOUND || readonly) return rc == LFR_ERR_NOT_FOUND ? LFR_OK : rc;
    rc = start(s);
    /* A home whose head was removed opens (to be read, and re-anchored);
     * its writes stop at the guard. */
    return rc == LFR_ERR_TAMPERED ? LFR_OK : rc;
}

void lfr__log_close(lfr_store *s)
{
    if (!s->log) return;
    if (s->log->have_signer) lfr__signer_free(&s->log->signer);
    sodium_memzero(s->log, sizeof *s->log);
    free(s->log);
    s->log = NULL;
}

const lfr__verifier *lfr__log_trusted(const lfr_store *s, int *n_out)
{
    *n_out = s->log ? s->log->n_trusted : 0;
    return s->log ? s->log->trusted : NULL;
}

/* ---- Checkpoints and proofs ----------------------------------------------------------- */

static int head_for_export(lfr_store *s, lfr__log_head *h)
{
    if (s->version < lfr__sqlite_log_version)
        return lfr__err(LFR_ERR_CONFLICT,
                        "this home has no signed log yet (schema %d): opening it with this "
                        "version of lfr, as any command that writes does, starts it",
                        s->version);
    int rc = s->be->log_head_get(s->db, h);
    if (rc == LFR_ERR_NOT_FOUND)
        return lfr__err(LFR_ERR_TAMPERED, "the log's signed head (log_head) is missing");
    return rc;
}

static char *dup_text(const char *p, size_t n)
{
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, p, n);
        t[n] = 0;
    }
    return t;
}

int lfr_audit_checkpoint(lfr_store *s, char **text_out, size_t *n_out)
{
    *text_out = NULL;
    *n_out = 0;
    lfr__log_head h;
    int rc = head_for_export(s, &h);
    if (rc) return rc;
    if (!(*text_out = dup_text(h.note, h.n_note))) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    *n_out = h.n_note;
    return LFR_OK;
}

/* The tree over every entry up to the signed head, checked against it. */
static int head_tree(lfr_store *s, uint64_t want_seq, lfr__log_head *h, lfr__checkpoint *cp,
                     lfr__tree **t, whole *w)
{
    *t = NULL;
    int rc = head_for_export(s, h);
    if (rc) return rc;
    lfr__note note;
    if (lfr__note_parse(h->note, h->n_note, &note) ||
        lfr__checkpoint_parse(note.text, note.n_text, cp))
        return lfr__err(LFR_ERR_TAMPERED, "the log's signed head is malformed");
    rc = read_whole(s, 1, want_seq, 0, w);
    if (!rc && w->failed)
        rc = lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s (run lfr audit verify)",
                      w->chain.first_bad, w->chain.reason);
    if (!rc && w->chain.tree.size < cp->size)
        rc = lfr__err(LFR_ERR_TAMPERED,
                      "the log holds %" PRIu64 " entries, fewer than its signed "
                      "head (run lfr audit verify)",
                      w->chain.tree.size);
    if (!rc) rc = lfr__tree_build((const uint8_t(*)[LFR_HASH_BYTES])w->chain.leaves, cp->size, t);
    if (!rc) {
        uint8_t root[LFR_HASH_BYTES];
        lfr__tree_root(*t, cp->size, root);
        if (sodium_memcmp(root, cp->root, LFR_HASH_BYTES))
            rc = lfr__err(LFR_ERR_TAMPERED, "the entries do not hash to the signed head's root "
                                            "(run lfr audit verify)");
    }
    if (rc) {
        lfr__tree_free(*t);
        *t = NULL;
        whole_free(w);
    }
    return rc;
}

/* Append the base64 proof lines to a growing text. */
static size_t put_proof(char *out, size_t k, size_t cap, const uint8_t (*p)[LFR_HASH_BYTES], int n)
{
    for (int i = 0; i < n && k < cap; i++) {
        char b64[64];
        sodium_bin2base64(b64, sizeof b64, p[i], LFR_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
        k += (size_t)snprintf(out + k, cap - k, "%s\n", b64);
    }
    return k;
}

int lfr_audit_witness_request(lfr_store *s, uint64_t old_size, char **text_out, size_t *n_out)
{
    *text_out = NULL;
    *n_out = 0;
    lfr__log_head h;
    lfr__checkpoint cp;
    lfr__tree *t;
    whole w;
    int rc = head_tree(s, 0, &h, &cp, &t, &w);
    if (rc) return rc;
    uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES];
    int np = 0;
    if (old_size > cp.size)
        rc = lfr__err(LFR_ERR_INVALID,
                      "the witness last cosigned %" PRIu64
                      " entries, but the log's head has %" PRIu64
                      ": it was given another log, or this log was cut short",
                      old_size, cp.size);
    if (!rc) rc = lfr__tree_consistency(t, old_size, cp.size, proof, &np);
    size_t cap = 64 + (size_t)np * 48 + h.n_note + 2;
    char *out = rc ? NULL : malloc(cap);
    if (!rc && !out) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (!rc) {
        size_t k = (size_t)snprintf(out, cap, "old %" PRIu64 "\n", old_size);
        k = put_proof(out, k, cap, (const uint8_t(*)[LFR_HASH_BYTES])proof, np);
        k += (size_t)snprintf(out + k, cap - k, "\n%s", h.note);
        *text_out = out;
        *n_out = k;
    }
    lfr__tree_free(t);
    whole_free(&w);
    return rc;
}

int lfr_audit_prove(lfr_store *s, uint64_t seq, char **text_out, size_t *n_out)
{
    *text_out = NULL;
    *n_out = 0;
    lfr__log_head h;
    lfr__checkpoint cp;
    lfr__tree *t;
    whole w;
    int rc = head_tree(s, seq, &h, &cp, &t, &w);
    if (rc) return rc;
    uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES];
    int np = 0;
    if (seq == 0 || seq > cp.size)
        rc = lfr__err(LFR_ERR_NOT_FOUND,
                      "no audit entry %" PRIu64
                      " under the latest checkpoint (entries 1 to %" PRIu64 ")",
                      seq, cp.size);
    if (!rc) rc = lfr__tree_inclusion(t, seq - 1, cp.size, proof, &np);
    size_t b64 = sodium_base64_ENCODED_LEN(w.n_entry, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = 96 + b64 + (size_t)np * 48 + h.n_note;
    char *out = rc ? NULL : malloc(cap);
    if (!rc && !out) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (!rc) {
        size_t k = (size_t)snprintf(out, cap, "c2sp.org/tlog-proof@v1\nextra ");
        sodium_bin2base64(out + k, cap - k, w.entry, w.n_entry, sodium_base64_VARIANT_ORIGINAL);
        k += strlen(out + k);
        k += (size_t)snprintf(out + k, cap - k, "\nindex %" PRIu64 "\n", seq - 1);
        k = put_proof(out, k, cap, (const uint8_t(*)[LFR_HASH_BYTES])proof, np);
        k += (size_t)snprintf(out + k, cap - k, "\n%s", h.note);
        *text_out = out;
        *n_out = k;
    }
    lfr__tree_free(t);
    whole_free(&w);
    return rc;
}

int lfr_audit_log_key(lfr_store *s, char out[256])
{
    out[0] = 0;
    if (s->log && s->log->have_signer) {
        lfr__verifier v;
        lfr__verifier_of(&s->log->signer, &v);
        lfr__verifier_format(&v, out);
        return LFR_OK;
    }
    if (s->log && s->log->n_trusted) {
        lfr__verifier_format(&s->log->trusted[s->log->n_trusted - 1], out);
        return LFR_OK;
    }
    return lfr__err(LFR_ERR_NOT_FOUND, "%s: no log key (log.key, log.pub)", s->home);
}

/* The time of the newest entry at or after `from` (NULL: any). */
typedef struct newest_time {
    uint64_t seq;
    char time[LFR__TIME_LEN];
} newest_time;

static int on_newest_time(const lfr_audit_entry *e, void *ctx)
{
    newest_time *t = ctx;
    t->seq = e->seq;
    snprintf(t->time, sizeof t->time, "%.*s", (int)(e->n_time < 24 ? e->n_time : 24), e->time);
    return 0;
}

int lfr_audit_checkpoint_tick(lfr_store *s, int *published_out)
{
    if (published_out) *published_out = 0;
    if (s->readonly) return lfr__err(LFR_ERR_DENIED, "%s: opened read-only", s->home);
    if (!lfr__log_active(s)) return LFR_OK;
    int rc = lfr__store_begin(s);
    if (rc) return rc;
    lfr__log_head h;
    uint64_t last = 0;
    char at[LFR__TIME_LEN] = "";
    lfr_policy p;
    rc = s->be->log_head_get(s->db, &h);
    if (!rc) rc = lfr_store_policy_get(s, &p);
    int have_last = 0;
    if (!rc) {
        int r = s->be->log_checkpoint_last(s->db, &last, at);
        if (r && r != LFR_ERR_NOT_FOUND) rc = r;
        have_last = r == LFR_OK;
    }
    int64_t then = 0, now = 0;
    int due = 0;
    if (!rc && (!have_last || last < h.size)) {
        rc = lfr__clock_now_ms(&now);
        if (!rc && have_last) rc = lfr__time_parse(at, &then);
        due = !rc && (!have_last || now - then >= p.checkpoint_minutes * 60000);
    }
    newest_time nt = {0, ""};
    if (!rc && due) {
        /* The head's entry: the newest since the last publication. */
        lfr_audit_filter f = {.from = have_last ? at : NULL};
        rc = s->be->audit_each(s->db, &f, on_newest_time, &nt);
        if (!rc && nt.seq != h.size)
            rc = lfr__err(LFR_ERR_TAMPERED, "the log's head does not match its newest entry");
    }
    if (!rc && due) rc = s->be->log_checkpoint_add(s->db, h.size, nt.time, "minutes", h.note);
    if (rc) {
        lfr__store_rollback(s);
        return rc;
    }
    rc = lfr__store_commit(s);
    if (!rc && published_out) *published_out = due;
    return rc;
}

/* ---- Re-anchoring ------------------------------------------------------------------------ */

/* Add one finding to the list (a JSON array of strings being built). */
static void found(char *list, size_t cap, char *plain, size_t pcap, const char *what)
{
    size_t k = strlen(list);
    if (k > 1 && k + 2 < cap) {
        list[k++] = ',';
        list[k] = 0;
    }
    lfr__json_append_str(list, cap - 1, what);
    k = strlen(plain);
    snprintf(plain + k, pcap - k, "%s%s", k ? "; " : "", what);
}

int lfr_audit_reanchor(lfr_store *s, const lfr_user *actor, const char *reason, char found_out[512])
{
    found_out[0] = 0;
    if (s->readonly) return lfr__err(LFR_ERR_DENIED, "%s: opened read-only", s->home);
    if (s->version < lfr__sqlite_log_version)
        return lfr__err(LFR_ERR_CONFLICT, "this home has no log to re-anchor yet");
    size_t rl = reason ? strlen(reason) : 0;
    if (rl < 1 || rl > 1000 || !lfr__utf8_valid(reason, rl))
        return lfr__err(LFR_ERR_INVALID, "re-anchoring needs a reason (1 to 1000 characters)");
    struct lfr__log *L = s->log;
    /* A refusal is audited only if the log can take it (it cannot while
     * writes are stopped); the refusal itself stands either way. */
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_AUDIT_REANCHOR, "log", &row);
    if (rc) return rc;

    /* What is wrong: the guard's own verdict, then each part in turn. */
    char list[1200] = "[", plain[512] = "";
    rc = lfr__store_begin(s);
    if (!rc) {
        lfr__store_rollback(s);
        return lfr__err(LFR_ERR_CONFLICT, "the log is signed and anchored: nothing to re-anchor");
    }
    if (rc != LFR_ERR_TAMPERED) return rc;
    char stopped[400];
    snprintf(stopped, sizeof stopped, "%s", lfr_errmsg());
    char *cut = strstr(stopped, ": writes are stopped");
    if (cut) *cut = 0;
    found(list, sizeof list, plain, sizeof plain, stopped);

    lfr__log_head h;
    int have_head = s->be->log_head_get(s->db, &h) == LFR_OK;
    char a[LFR__HEAD_NOTE_MAX + 1];
    size_t an;
    int kind = anchor_load(s, a, sizeof a, &an);
    char prior_anchor[160];
    if (kind == ANCHOR_NONE)
        snprintf(prior_anchor, sizeof prior_anchor, "missing");
    else if (kind == ANCHOR_NOTE && have_head && an == h.n_note && !memcmp(a, h.note, an))
        snprintf(prior_anchor, sizeof prior_anchor, "the signed head");
    else
        snprintf(prior_anchor, sizeof prior_anchor, "%s",
                 kind == ANCHOR_BAD ? "unreadable" : "not the signed head (kept aside)");

    int new_key = 0;
    if (!L->have_signer) {
        char was[300];
        snprintf(was, sizeof was, "%.250s: a new log key was made", L->key_problem);
        found(list, sizeof list, plain, sizeof plain, was);
        rc = make_signer(s);
        if (rc) return rc;
        new_key = 1;
    }

    /* The tree over every entry as stored. */
    lfr__frontier f;
    rc = lfr__log_rebuild(s, &f);
    if (rc) return rc;
    char vkey[LFR__VKEY_MAX], detail[3000];
    lfr__verifier v;
    lfr__verifier_of(&L->signer, &v);
    lfr__verifier_format(&v, vkey);
    snprintf(detail, sizeof detail, "{\"reason\":");
    lfr__json_append_str(detail, sizeof detail, reason);
    size_t k = strlen(detail);
    snprintf(detail + k, sizeof detail - k,
             ",\"found\":%s],\"entries\":%" PRIu64 ",\"signed_head\":", list, f.size);
    k = strlen(detail);
    if (have_head)
        snprintf(detail + k, sizeof detail - k, "%" PRIu64, h.size);
    else
        snprintf(detail + k, sizeof detail - k, "null");
    k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, ",\"anchor\":");
    lfr__json_append_str(detail, sizeof detail, prior_anchor);
    k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, ",\"key\":");
    lfr__json_append_str(detail, sizeof detail, vkey);
    k = strlen(detail);
    snprintf(detail + k, sizeof detail - k, ",\"new_key\":%s}", new_key ? "true" : "false");

    L->guard_off = 1;
    rc = lfr__store_begin(s);
    if (!rc) {
        L->started = 1;
        L->pending = f;
        L->n_added = 0;
        L->anchor_force = 1;
        rc = lfr__audit_append(s, row.user.name, "log.reanchor", "log", detail);
    }
    if (rc)
        lfr__store_rollback(s);
    else
        rc = lfr__store_commit(s);
    L->guard_off = 0;
    if (!rc) snprintf(found_out, 512, "%s", plain);
    return rc;
}
