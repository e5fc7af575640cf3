/*
 * Walking the hash chain: entries come one at a time in seq order (from
 * whatever holds them) and each is checked against the one before it. The
 * first entry that is missing, out of order, not linked to its predecessor
 * or not matching its own hash stops the walk and is named, with the reason.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

void lfr__chain_init(lfr__chain *c)
{
    memset(c, 0, sizeof *c);
    c->expect = 1;
}

static int bad(lfr__chain *c, uint64_t seq, const char *fmt, const char *arg)
{
    c->first_bad = seq;
    snprintf(c->reason, sizeof c->reason, fmt, arg);
    return -1;
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
    if (sodium_memcmp(e->prev_hash, c->prev, LFR_HASH_BYTES))
        return bad(c, e->seq, "entry does not link to the one before it (prev_hash differs%s)",
                   ": inserted, reordered, or an earlier entry replaced");
    uint8_t h[LFR_HASH_BYTES];
    lfr__audit_hash(e->seq, e->time, e->actor, e->action, e->object, e->detail, e->prev_hash, h);
    if (sodium_memcmp(h, e->hash, LFR_HASH_BYTES))
        return bad(c, e->seq, "entry's contents do not match its hash%s", " (edited)");
    memcpy(c->prev, e->hash, LFR_HASH_BYTES);
    c->expect++;
    return 0;
}
