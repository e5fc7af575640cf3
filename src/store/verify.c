/*
 * lfr_audit_verify: the whole check of a home's records. The log layer
 * (src/audit) walks the hash chain; this reads the entries from the
 * backend, checks that the chain reaches the anchor in audit.head, and then
 * that the records still say what their entries say (verify_records.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

/* Returned by the walk's callback to stop at a bad entry. */
#define STOP (-1)

typedef struct walk {
    lfr__chain chain;
    lfr_audit_verdict *v;
    uint64_t anchor_seq; /* remember this entry's hash in anchor_hash */
    uint8_t anchor_hash[LFR_HASH_BYTES];
} walk;

static int verify_entry(const lfr_audit_entry *e, void *ctx)
{
    walk *w = ctx;
    if (lfr__chain_next(&w->chain, e)) return STOP;
    if (e->seq == w->anchor_seq) memcpy(w->anchor_hash, e->hash, LFR_HASH_BYTES);
    w->v->head_seq = e->seq;
    memcpy(w->v->head_hash, e->hash, LFR_HASH_BYTES);
    return 0;
}

int lfr_audit_verify(lfr_store *s, lfr_audit_verdict *v)
{
    memset(v, 0, sizeof *v);
    /* The anchor is read before the chain: it only moves forward, after
     * commits, so the chain read next reaches at least as far. */
    uint64_t a_seq = 0;
    uint8_t a_hash[LFR_HASH_BYTES];
    int have = lfr__audit_anchor_read(s->home, &a_seq, a_hash);
    if (have < 0) {
        snprintf(v->reason, sizeof v->reason, "%s", lfr_errmsg());
        return LFR_ERR_TAMPERED;
    }

    walk w = {.v = v, .anchor_seq = have == 1 ? a_seq : 0};
    lfr__chain_init(&w.chain);
    int rc = s->be->audit_each(s->db, NULL, verify_entry, &w);
    v->n_entries = w.chain.n_entries;
    if (rc && rc != STOP) return rc;
    if (rc == STOP) {
        v->first_bad = w.chain.first_bad;
        snprintf(v->reason, sizeof v->reason, "%s", w.chain.reason);
        return lfr__err(LFR_ERR_TAMPERED, "audit entry %" PRIu64 ": %s", v->first_bad, v->reason);
    }

    if (have == 0) {
        if (v->n_entries == 0) return lfr__verify_records(s, v);
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
    return lfr__verify_records(s, v);
}
