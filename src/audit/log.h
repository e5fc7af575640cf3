/*
 * The audit log itself, below the store: entry hashing and the hash chain.
 * Nothing here knows about homes, databases or records; it depends on
 * src/util and libsodium only, so that the store (which writes entries and
 * checks records against them) builds on it and never the other way round.
 */
#ifndef LFR_AUDIT_LOG_H
#define LFR_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- entry.c: the chain hash ------------------------------------------------ */

/* The entry hash: BLAKE2b-256 over an unambiguous encoding of the fields
 * (docs/RECORDS.md, "Hash"). prev_hash is the previous entry's hash, 32
 * zero bytes for entry 1. */
void lfr__audit_hash(uint64_t seq, const char *time, const char *actor, const char *action,
                     const char *object, const char *detail,
                     const uint8_t prev_hash[LFR_HASH_BYTES], uint8_t out[LFR_HASH_BYTES]);

/* ---- chain.c: walking the chain ------------------------------------------------ */

/* The state of a walk over the entries in seq order. */
typedef struct lfr__chain {
    uint64_t expect;              /* the seq the next entry must have */
    uint8_t prev[LFR_HASH_BYTES]; /* the hash it must link to */
    uint64_t n_entries;           /* entries seen, good or bad */
    uint64_t first_bad;           /* set when a check fails */
    char reason[200];
} lfr__chain;

void lfr__chain_init(lfr__chain *c);

/* Check the next entry: its seq follows the previous one, its prev_hash is
 * the previous entry's hash, and its hash matches its contents. 0, or -1
 * with first_bad and reason set (the walk should stop there). */
int lfr__chain_next(lfr__chain *c, const lfr_audit_entry *e);

#endif
