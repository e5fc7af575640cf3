/*
 * Walking the log: entries come one at a time in seq order (from whatever
 * holds them) and each is checked against the one before it. The first
 * entry that is missing, out of order, not stored as text, not linked to
 * its predecessor, not matching its own hash, or dated earlier than an
 * entry before it by more than the tolerance stops the walk and is named,
 * with the reason. Each entry is also added to the Merkle tree (its
 * frontier, and when asked every leaf hash, for proofs).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

void lfr__chain_init(lfr__chain *c, int collect_leaves)
{
    memset(c, 0, sizeof *c);
    c->expect = 1;
    c->tolerance_ms = LFR__TIME_TOLERANCE_MS;
    c->latest_ms = INT64_MIN;
    c->collect = collect_leaves;
    lfr__frontier_init(&c->tree);
}

void lfr__chain_free(lfr__chain *c)
{
    free(c->leaves);
    c->leaves = NULL;
    c->cap = 0;
}

static int bad(lfr__chain *c, uint64_t seq, const char *fmt, const char *arg)
{
    c->first_bad = seq;
    snprintf(c->reason, sizeof c->reason, fmt, arg);
    return -1;
}

static int keep_leaf(lfr__chain *c, const uint8_t leaf[LFR_HASH_BYTES])
{
    if (c->tree.size >= c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024, bytes;
        if (!lfr__mul_ok(cap, LFR_HASH_BYTES, &bytes)) return -1;
        uint8_t(*p)[LFR_HASH_BYTES] = realloc(c->leaves, bytes);
        if (!p) return -1;
        c->leaves = p;
        c->cap = cap;
    }
    memcpy(c->leaves[c->tree.size], leaf, LFR_HASH_BYTES);
    return 0;
}

/* The entry's time, which must parse and must not be earlier than the
 * latest before it by more than the tolerance. */
static int check_time(lfr__chain *c, const lfr_audit_entry *e)
{
    int64_t ms;
    char t[48];
    snprintf(t, sizeof t, "%.*s", (int)(e->n_time < 40 ? e->n_time : 40), e->time);
    if (e->n_time != strlen(e->time) || lfr__time_parse(t, &ms))
        return bad(c, e->seq, "entry's time '%s' is not a UTC time: written outside lfr", t);
    if (c->latest_seq && ms < c->latest_ms - c->tolerance_ms) {
        char then[LFR__TIME_LEN];
        lfr__time_format(c->latest_ms, then);
        c->first_bad = e->seq;
        snprintf(c->reason, sizeof c->reason,
                 "entry's time %.40s is earlier than entry %" PRIu64 "'s %s by more than the"
                 " %lld s tolerance: the clock was set back",
                 t, c->latest_seq, then, (long long)(c->tolerance_ms / 1000));
        return -1;
    }
    if (!c->latest_seq || ms > c->latest_ms) {
        c->latest_ms = ms;
        c->latest_seq = e->seq;
    }
    return 0;
}

int lfr__chain_next(lfr__chain *c, const lfr_audit_entry *e)
{
    c->n_entries++;
    char num[32];
    if (e->seq != c->expect) {
        snprintf(num, sizeof num, "%" PRIu64, e->seq);
        if (e->seq > c->expect)
            return bad(c, c->expect, "entry is missing (the next entry is %s)", num);
        return bad(c, c->expect, "entry is out of order (found entry %s in its place)", num);
    }
    if (e->malformed)
        return bad(c, e->seq, "entry has a field that is not text (%s): written outside lfr",
                   "a BLOB, a number or NULL");
    if (sodium_memcmp(e->prev_hash, c->prev, LFR_HASH_BYTES))
        return bad(c, e->seq, "entry does not link to the one before it (prev_hash differs%s)",
                   ": inserted, reordered, or an earlier entry replaced");
    uint8_t h[LFR_HASH_BYTES];
    lfr__entry_hash(e, h);
    if (sodium_memcmp(h, e->hash, LFR_HASH_BYTES))
        return bad(c, e->seq, "entry's contents do not match its hash%s", " (edited)");
    if (check_time(c, e)) return -1;
    lfr__entry_leaf(e, h);
    if (c->collect && keep_leaf(c, h))
        return bad(c, e->seq, "out of memory for the log's %s", "leaf hashes");
    lfr__frontier_push(&c->tree, h);
    memcpy(c->prev, e->hash, LFR_HASH_BYTES);
    c->expect++;
    return 0;
}
