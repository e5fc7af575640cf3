/*
 * lfr_audit_verify: the whole check of a home's records, on a handle opened
 * for reading only if need be. The log layer (src/audit) walks the entries
 * (the hash chain, the entry times, the Merkle tree); this reads them from
 * the backend and checks, in order:
 *
 *   1. the chain, entry by entry (the first bad entry is named);
 *   2. the signed head (log_head): signed by a trusted log key, covering
 *      every entry (an entry after it was added without the key), with the
 *      root of the entries it covers;
 *   3. the anchor (audit.head, a signed checkpoint; the seq and hash of a
 *      home from before the log): not ahead of the log, matching it;
 *   4. every published checkpoint: signed, matching the log at its size;
 *   5. a checkpoint kept outside (config): signed by a trusted key, extended
 *      by the log (a consistency proof from its size to the signed head),
 *      cosigned by enough of the given witnesses;
 *   6. the records against their entries (verify_records.c).
 * Re-anchorings, and a home whose log has not started, are reported in the
 * verdict's notes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

#define MAX_KEYS 16
#define MAX_WITNESSES 16

lfr_audit_verify_config lfr_audit_verify_config_default(void)
{
    lfr_audit_verify_config c;
    memset(&c, 0, sizeof c);
    c.time_tolerance_ms = LFR_AUDIT_TIME_TOLERANCE_MS;
    return c;
}

/* Published checkpoints, read before the walk. */
typedef struct published {
    int n, cap;
    struct {
        uint64_t size;
        char *note;
        char time[LFR__TIME_LEN], reason[24];
        /* From the walk: the time of entry `size`, and the actions that
         * publish (bits of publishing[]) since the previous checkpoint. */
        char entry_time[LFR__TIME_LEN];
        unsigned seen;
    } * p;
} published;

/* The actions whose commits publish a checkpoint, as its reason says. */
static const char *const publishing[] = {"deployment.start", "deployment.stop", "log.init",
                                         "log.reanchor"};
#define N_PUBLISHING (sizeof publishing / sizeof publishing[0])

/* A size at which the walk must remember the tree's root. */
typedef struct want {
    uint64_t size;
    uint8_t root[LFR_HASH_BYTES];
    int seen;
} want;

typedef struct walk {
    lfr__chain chain;
    lfr_audit_verdict *v;
    want *wants;
    int n_wants;
    uint64_t v1_seq; /* a pre-log anchor's entry: its hash */
    uint8_t v1_hash[LFR_HASH_BYTES];
    uint64_t n_reanchor, last_reanchor;
    char reanchor[200];
    uint8_t empty[LFR_HASH_BYTES]; /* the empty tree's root */
    struct published *pub;         /* in size order: each gets its entry's time */
    int pub_i;
    unsigned seen;
} walk;

static void note(lfr_audit_verdict *v, const char *fmt, const char *a, const char *b)
{
    size_t k = strlen(v->notes);
    if (k + 4 >= sizeof v->notes) return;
    if (k) k += (size_t)snprintf(v->notes + k, sizeof v->notes - k, "; ");
    char tmp[sizeof v->notes];
    snprintf(tmp, sizeof tmp, fmt, a, b);
    snprintf(v->notes + k, sizeof v->notes - k, "%s", tmp);
}

/* Returned by the walk's callback to stop at a bad entry. */
#define STOP (-1)

static int verify_entry(const lfr_audit_entry *e, void *ctx)
{
    walk *w = ctx;
    if (lfr__chain_next(&w->chain, e)) return STOP;
    if (e->seq == w->v1_seq) memcpy(w->v1_hash, e->hash, LFR_HASH_BYTES);
    w->v->head_seq = e->seq;
    memcpy(w->v->head_hash, e->hash, LFR_HASH_BYTES);
    for (int i = 0; i < w->n_wants; i++)
        if (w->wants[i].size == w->chain.tree.size) {
            lfr__frontier_root(&w->chain.tree, w->wants[i].root);
            w->wants[i].seen = 1;
        }
    for (size_t i = 0; i < N_PUBLISHING; i++)
        if (!strcmp(e->action, publishing[i])) w->seen |= 1u << i;
    while (w->pub && w->pub_i < w->pub->n && w->pub->p[w->pub_i].size < w->chain.tree.size)
        w->pub_i++;
    if (w->pub && w->pub_i < w->pub->n && w->pub->p[w->pub_i].size == w->chain.tree.size) {
        snprintf(w->pub->p[w->pub_i].entry_time, LFR__TIME_LEN, "%.*s",
                 (int)(e->n_time < 24 ? e->n_time : 24), e->time);
        w->pub->p[w->pub_i].seen = w->seen;
        w->seen = 0;
        w->pub_i++;
    }
    if (!strcmp(e->action, "log.reanchor")) {
        w->n_reanchor++;
        w->last_reanchor = e->seq;
        snprintf(w->reanchor, sizeof w->reanchor, "%.60s by %.64s", e->time, e->actor);
    }
    return 0;
}

/* The root of the first `size` entries, from the walk (size 0: empty). */
static const uint8_t *root_at(const walk *w, uint64_t size)
{
    if (size == 0) return w->empty;
    for (int i = 0; i < w->n_wants; i++)
        if (w->wants[i].size == size && w->wants[i].seen) return w->wants[i].root;
    return NULL;
}

static int tampered(lfr_audit_verdict *v, uint64_t seq, const char *fmt, ...) LFR__PRINTF(3, 4);

static int tampered(lfr_audit_verdict *v, uint64_t seq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
    v->first_bad = seq;
    if (seq) return lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", seq, v->reason);
    return lfr__err(LFR_ERR_TAMPERED, "%s", v->reason);
}

static int on_published(uint64_t size, const char *time, const char *reason, const char *text,
                        void *ctx)
{
    published *P = ctx;
    if (P->n == P->cap) {
        int cap = P->cap ? 2 * P->cap : 64;
        void *np = realloc(P->p, (size_t)cap * sizeof *P->p);
        if (!np) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        P->p = np;
        P->cap = cap;
    }
    memset(&P->p[P->n], 0, sizeof P->p[P->n]);
    P->p[P->n].size = size;
    snprintf(P->p[P->n].time, sizeof P->p[P->n].time, "%s", time);
    snprintf(P->p[P->n].reason, sizeof P->p[P->n].reason, "%s", reason);
    P->p[P->n].note = strdup(text);
    if (!P->p[P->n].note) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    P->n++;
    return 0;
}

static void published_free(published *P)
{
    for (int i = 0; i < P->n; i++)
        free(P->p[i].note);
    free(P->p);
}

/* Everything verification holds while it runs. */
typedef struct state {
    lfr__verifier keys[MAX_KEYS];
    int n_keys;
    lfr__verifier witnesses[MAX_WITNESSES];
    int n_witnesses;
    int keys_from_home;
    lfr__log_head head;
    int have_head;
    char anchor[LFR__HEAD_NOTE_MAX + 1];
    size_t n_anchor;
    int anchor_kind; /* 0 none, 1 v1, 2 note */
    lfr__checkpoint anchor_cp, head_cp, outside_cp;
    lfr__note outside_note;
    published pub;
    lfr__checkpoint *pub_cp;
} state;

static int load_keys(lfr_store *s, const lfr_audit_verify_config *c, state *S)
{
    if (c->n_keys > MAX_KEYS || c->n_witness_keys > MAX_WITNESSES)
        return lfr__err(LFR_ERR_INVALID, "at most %d log keys and %d witness keys", MAX_KEYS,
                        MAX_WITNESSES);
    for (int i = 0; i < c->n_keys; i++)
        if (lfr__verifier_parse(c->keys[i], strlen(c->keys[i]), &S->keys[S->n_keys++]) ||
            S->keys[S->n_keys - 1].type != LFR__KEY_ED25519)
            return lfr__err(LFR_ERR_INVALID, "log key %d: not an Ed25519 verifier key", i + 1);
    for (int i = 0; i < c->n_witness_keys; i++)
        if (lfr__verifier_parse(c->witness_keys[i], strlen(c->witness_keys[i]),
                                &S->witnesses[S->n_witnesses++]) ||
            S->witnesses[S->n_witnesses - 1].type != LFR__KEY_COSIGNATURE)
            return lfr__err(LFR_ERR_INVALID, "witness key %d: not a cosignature verifier key",
                            i + 1);
    if (S->n_keys == 0) {
        int n;
        const lfr__verifier *home = lfr__log_trusted(s, &n);
        for (int i = 0; i < n && i < MAX_KEYS; i++)
            S->keys[S->n_keys++] = home[i];
        S->keys_from_home = 1;
    }
    return LFR_OK;
}

/* Read the anchor file (its kind in S->anchor_kind). */
static int load_anchor(lfr_store *s, state *S, lfr_audit_verdict *v)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/audit.head", s->home);
    int rc = lfr__file_read_small(p, 0, S->anchor, sizeof S->anchor, &S->n_anchor);
    if (rc == LFR_ERR_NOT_FOUND) return LFR_OK;
    if (rc) return tampered(v, 0, "audit.head: %s", lfr_errmsg());
    S->anchor[S->n_anchor] = 0;
    S->anchor_kind = strncmp(S->anchor, "openlfr-audit-head-v1", 21) ? 2 : 1;
    return LFR_OK;
}

/* The sizes whose roots the walk must keep. */
static int add_want(want **w, int *n, uint64_t size)
{
    for (int i = 0; i < *n; i++)
        if ((*w)[i].size == size) return LFR_OK;
    want *nw = realloc(*w, (size_t)(*n + 1) * sizeof **w);
    if (!nw) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    *w = nw;
    memset(&nw[*n], 0, sizeof nw[*n]);
    nw[(*n)++].size = size;
    return LFR_OK;
}

/* Steps 2 to 5, after the walk. */
static int check_log(lfr_store *s, const lfr_audit_verify_config *c, state *S, walk *w,
                     lfr_audit_verdict *v)
{
    uint64_t n = w->chain.tree.size;
    /* 2. The signed head: signed, and covering exactly the entries. */
    if (!S->have_head)
        return tampered(v, 0, "the log's signed head (log_head) is missing: %s",
                        S->n_keys ? "removed outside lfr" : "and the home has no log key");
    if (S->n_keys == 0)
        return tampered(v, 0, "no trusted log key: the home has no log.pub and none was given");
    lfr__note hn;
    int key = -1;
    if (lfr__checkpoint_open(S->head.note, S->head.n_note, S->keys, S->n_keys, &S->head_cp, &hn,
                             &key))
        return tampered(v, 0, "the log's signed head: %s%s", lfr_errmsg(),
                        S->keys_from_home ? " (keys from log.pub)" : " (the keys given)");
    lfr__verifier_format(&S->keys[key], v->key);
    if (S->head.size != S->head_cp.size)
        return tampered(v, 0,
                        "the log's signed head: its size (%" PRIu64 ") is not its "
                        "checkpoint's (%" PRIu64 "): changed outside lfr",
                        S->head.size, S->head_cp.size);
    v->tree_size = S->head_cp.size;
    memcpy(v->root, S->head_cp.root, LFR_HASH_BYTES);
    if (n > S->head_cp.size)
        return tampered(v, S->head_cp.size + 1,
                        "entry was added without the log key: the signed head covers entries 1 to "
                        "%" PRIu64 " only (entries %" PRIu64 " to %" PRIu64 " are not signed)",
                        S->head_cp.size, S->head_cp.size + 1, n);
    if (n < S->head_cp.size)
        return tampered(v, n + 1,
                        "entries %" PRIu64 " to %" PRIu64 " are missing: the signed head covers "
                        "%" PRIu64,
                        n + 1, S->head_cp.size, S->head_cp.size);

    /* 3 and 4. The anchor and the published checkpoints: signed, and not
     * ahead of the log. */
    if (S->anchor_kind == 0) return tampered(v, 0, "audit.head is missing");
    if (S->anchor_kind == 1) {
        /* Written between the log's start and the first anchor after it. */
        note(v, "audit.head is still in the form of homes before the log%s%s", "", "");
    } else {
        lfr__note an;
        if (lfr__checkpoint_open(S->anchor, S->n_anchor, S->keys, S->n_keys, &S->anchor_cp, &an,
                                 NULL))
            return tampered(v, 0, "audit.head: %s", lfr_errmsg());
        v->anchor_seq = S->anchor_cp.size;
        if (S->anchor_cp.size > n)
            return tampered(v, n + 1,
                            "entries %" PRIu64 " to %" PRIu64 " are missing (audit.head records "
                            "%" PRIu64 " entries)",
                            n + 1, S->anchor_cp.size, S->anchor_cp.size);
        v->unanchored = n - S->anchor_cp.size;
    }
    S->pub_cp = calloc((size_t)S->pub.n + 1, sizeof *S->pub_cp);
    if (!S->pub_cp) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < S->pub.n; i++) {
        lfr__note pn;
        const char *t = S->pub.p[i].note;
        if (lfr__checkpoint_open(t, strlen(t), S->keys, S->n_keys, &S->pub_cp[i], &pn, NULL) ||
            S->pub_cp[i].size != S->pub.p[i].size)
            return tampered(v, 0, "published checkpoint of %" PRIu64 " entries: %s",
                            S->pub.p[i].size,
                            S->pub_cp[i].size != S->pub.p[i].size ? "its size differs from its row"
                                                                  : lfr_errmsg());
        if (S->pub_cp[i].size > n)
            return tampered(v, n + 1,
                            "entries %" PRIu64 " to %" PRIu64 " are missing (a published "
                            "checkpoint records %" PRIu64 " entries)",
                            n + 1, S->pub_cp[i].size, S->pub_cp[i].size);
        /* Its time is its newest entry's; its reason one of the rules, or
         * an action among the entries it was the first to cover. */
        const char *reason = S->pub.p[i].reason;
        int reason_ok =
            !strcmp(reason, "first") || !strcmp(reason, "entries") || !strcmp(reason, "minutes");
        for (size_t k = 0; k < N_PUBLISHING; k++)
            if (!strcmp(reason, publishing[k]) && (S->pub.p[i].seen >> k & 1)) reason_ok = 1;
        if (strcmp(S->pub.p[i].time, S->pub.p[i].entry_time) || !reason_ok)
            return tampered(v, S->pub_cp[i].size,
                            "entry's published checkpoint no longer says when or why it was "
                            "published (its %s was changed outside lfr)",
                            reason_ok ? "time" : "reason");
        v->n_checkpoints++;
    }

    /* Every root signed in the home against the entries: the largest size
     * that still matches and the smallest that does not bound where the log
     * was rewritten (with its chain recomputed, which the walk cannot see). */
    uint64_t lo = 0, hi = UINT64_MAX;
    const char *hi_what = "";
    uint8_t head_root[LFR_HASH_BYTES];
    lfr__frontier_root(&w->chain.tree, head_root);
    const struct {
        const lfr__checkpoint *cp;
        const char *what;
    } signed_roots[] = {{&S->head_cp, "the signed head"},
                        {S->anchor_kind == 2 ? &S->anchor_cp : NULL, "audit.head"}};
    for (int i = 0; i < 2 + S->pub.n; i++) {
        const lfr__checkpoint *cp = i < 2 ? signed_roots[i].cp : &S->pub_cp[i - 2];
        if (!cp) continue;
        const uint8_t *r = root_at(w, cp->size);
        if (cp == &S->head_cp) r = head_root;
        if (r && !sodium_memcmp(r, cp->root, LFR_HASH_BYTES)) {
            if (cp->size > lo) lo = cp->size;
        } else if (cp->size < hi) {
            hi = cp->size;
            hi_what = i < 2 ? signed_roots[i].what : "a published checkpoint";
        }
    }
    if (hi != UINT64_MAX) {
        if (lo >= hi)
            return tampered(v, 0,
                            "the log forks: %s of %" PRIu64 " entries does not match it, though a "
                            "checkpoint of %" PRIu64 " entries does",
                            hi_what, hi, lo);
        return tampered(v, lo + 1,
                        "the log was rewritten within entries %" PRIu64 " to %" PRIu64
                        ": they no longer hash to the root in %s (the chain was recomputed)",
                        lo + 1, hi, hi_what);
    }
    lfr__frontier f;
    if (lfr__frontier_decode(S->head.frontier, S->head.n_frontier, &f) || f.size != n ||
        memcmp(f.h, w->chain.tree.h, (size_t)f.n * LFR_HASH_BYTES))
        return tampered(v, 0,
                        "the log's signed head: its stored tree differs from the entries' "
                        "(changed outside lfr)");

    /* 5. A checkpoint kept outside. */
    if (!c->checkpoint) {
        if (c->require_witness > 0)
            return lfr__err(LFR_ERR_INVALID, "witness cosignatures are checked on a checkpoint: "
                                             "give one");
        return LFR_OK;
    }
    const lfr__checkpoint *oc = &S->outside_cp;
    v->checkpoint_size = oc->size;
    if (oc->size > n)
        return tampered(v, n + 1,
                        "the log has %" PRIu64 " entries, but the checkpoint of %" PRIu64
                        " records more: entries %" PRIu64 " to %" PRIu64 " were removed",
                        n, oc->size, n + 1, oc->size);
    /* The consistency proof from the checkpoint's size to the signed head,
     * built from the entries and checked as any outside verifier would. */
    lfr__tree *t;
    int rc = lfr__tree_build((const uint8_t(*)[LFR_HASH_BYTES])w->chain.leaves, n, &t);
    if (rc) return rc;
    uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES];
    int np = 0;
    rc = lfr__tree_consistency(t, oc->size, n, proof, &np);
    lfr__tree_free(t);
    if (rc) return rc;
    if (lfr__merkle_consistency_check(oc->size, n, oc->root, S->head_cp.root,
                                      (const uint8_t(*)[LFR_HASH_BYTES])proof, np))
        return tampered(v, 0,
                        "the log does not extend the checkpoint of %" PRIu64
                        " entries: its first %" PRIu64 " entries no longer hash to the "
                        "checkpoint's root, so one of entries 1 to %" PRIu64
                        " was changed, removed or reordered after the checkpoint was signed",
                        oc->size, oc->size, oc->size);
    for (int i = 0; i < S->n_witnesses; i++) {
        int r = lfr__note_verify(&S->outside_note, &S->witnesses[i], NULL);
        if (r < 0)
            return tampered(v, 0, "the checkpoint's cosignature by witness %s does not verify",
                            S->witnesses[i].name);
        v->n_witnesses += r;
    }
    if (v->n_witnesses < c->require_witness)
        return tampered(v, 0,
                        "the checkpoint has %d cosignature%s by the witnesses given; %d required",
                        v->n_witnesses, v->n_witnesses == 1 ? "" : "s", c->require_witness);
    return LFR_OK;
}

/* A home from before the log (schema below it): the chain and the anchor of
 * (seq, hash), as such homes were always checked. */
static int check_old_home(lfr_store *s, state *S, walk *w, lfr_audit_verdict *v)
{
    char ver[16];
    snprintf(ver, sizeof ver, "%d", s->version);
    note(v,
         "no signed log yet (schema %s): the chain and audit.head checked as before; any "
         "command that writes starts the log%s",
         ver, "");
    if (S->anchor_kind == 0) {
        if (v->n_entries == 0) return LFR_OK;
        return tampered(v, 0,
                        "audit.head is missing, so removal of the newest entries cannot be ruled "
                        "out");
    }
    uint64_t a_seq;
    uint8_t a_hash[LFR_HASH_BYTES];
    if (S->anchor_kind != 1 || lfr__audit_anchor_read(s->home, &a_seq, a_hash) != 1)
        return tampered(v, 0, "audit.head: malformed");
    v->anchor_seq = a_seq;
    if (v->head_seq < a_seq)
        return tampered(v, v->head_seq + 1,
                        "entries %" PRIu64 " to %" PRIu64 " are missing (audit.head records entry "
                        "%" PRIu64 ")",
                        v->head_seq + 1, a_seq, a_seq);
    if (sodium_memcmp(w->v1_hash, a_hash, LFR_HASH_BYTES))
        return tampered(v, a_seq,
                        "entry differs from the one recorded in audit.head (the chain was "
                        "rewritten from here or earlier)");
    v->unanchored = v->head_seq - a_seq;
    return LFR_OK;
}

int lfr_audit_verify_with(lfr_store *s, const lfr_audit_verify_config *config, lfr_audit_verdict *v)
{
    memset(v, 0, sizeof *v);
    lfr_audit_verify_config c = config ? *config : lfr_audit_verify_config_default();
    state *S = calloc(1, sizeof *S);
    if (!S) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    walk w;
    memset(&w, 0, sizeof w);
    w.v = v;
    lfr__merkle_empty(w.empty);
    int has_log = s->version >= lfr__sqlite_log_version;
    int rc = load_keys(s, &c, S);
    /* The anchor is read before the entries: it only moves forward, after
     * commits, so the entries read next reach at least as far. */
    if (!rc) rc = load_anchor(s, S, v);
    if (!rc && has_log) {
        int r = s->be->log_head_get(s->db, &S->head);
        if (r == LFR_OK)
            S->have_head = 1;
        else if (r == LFR_ERR_TAMPERED)
            rc = tampered(v, 0, "%s", lfr_errmsg());
        else if (r != LFR_ERR_NOT_FOUND)
            rc = r;
        if (!rc) rc = s->be->log_checkpoint_each(s->db, on_published, &S->pub);
    }
    if (!rc && c.checkpoint) {
        rc = lfr__checkpoint_open(c.checkpoint, c.checkpoint_len, S->keys, S->n_keys,
                                  &S->outside_cp, &S->outside_note, NULL);
        if (rc) rc = tampered(v, 0, "the checkpoint given: %s", lfr_errmsg());
    }
    /* Sizes whose roots the walk keeps. */
    if (!rc && S->anchor_kind == 2) {
        lfr__note an;
        if (!lfr__note_parse(S->anchor, S->n_anchor, &an) &&
            !lfr__checkpoint_parse(an.text, an.n_text, &S->anchor_cp))
            rc = add_want(&w.wants, &w.n_wants, S->anchor_cp.size);
    }
    for (int i = 0; !rc && i < S->pub.n; i++)
        rc = add_want(&w.wants, &w.n_wants, S->pub.p[i].size);
    if (!rc && S->anchor_kind == 1 && !has_log) {
        uint8_t h[LFR_HASH_BYTES];
        if (lfr__audit_anchor_read(s->home, &w.v1_seq, h) != 1) w.v1_seq = 0;
    }

    w.pub = &S->pub;
    if (!rc) {
        lfr__chain_init(&w.chain, c.checkpoint != NULL);
        w.chain.tolerance_ms = c.time_tolerance_ms > 0 ? c.time_tolerance_ms : 0;
        int r = s->be->audit_each(s->db, NULL, verify_entry, &w);
        v->n_entries = w.chain.n_entries;
        if (r == STOP) {
            v->first_bad = w.chain.first_bad;
            snprintf(v->reason, sizeof v->reason, "%s", w.chain.reason);
            rc = lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", v->first_bad, v->reason);
        } else {
            rc = r;
        }
    }
    if (!rc) rc = has_log ? check_log(s, &c, S, &w, v) : check_old_home(s, S, &w, v);
    if (!rc && w.n_reanchor) {
        char num[64];
        snprintf(num, sizeof num, "%" PRIu64 " (newest: entry %" PRIu64 ",", w.n_reanchor,
                 w.last_reanchor);
        note(v, "re-anchored %s %s; see its log.reanchor entry for what was found)", num,
             w.reanchor);
    }
    lfr__chain_free(&w.chain);
    free(w.wants);
    published_free(&S->pub);
    free(S->pub_cp);
    free(S);
    if (rc) return rc;
    return lfr__verify_records(s, v);
}

int lfr_audit_verify(lfr_store *s, lfr_audit_verdict *v)
{
    return lfr_audit_verify_with(s, NULL, v);
}
