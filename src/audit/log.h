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

/* ---- merkle.c: the RFC 9162 Merkle tree (SHA-256) ------------------------------- */

/* A proof has at most this many hashes (one per level of a tree of up to
 * 2^64 leaves). */
#define LFR__PROOF_MAX 64

/* SHA-256(0x00 || data), SHA-256(0x01 || left || right), SHA-256(""). */
void lfr__merkle_leaf(const uint8_t *data, size_t n, uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_node(const uint8_t left[LFR_HASH_BYTES], const uint8_t right[LFR_HASH_BYTES],
                      uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_empty(uint8_t out[LFR_HASH_BYTES]);

/* The frontier of a tree: the roots of its perfect subtrees, largest
 * (leftmost) first, one per one bit of size. Enough to append and to
 * compute the root. */
typedef struct lfr__frontier {
    uint64_t size;
    int n;
    uint8_t h[64][LFR_HASH_BYTES];
} lfr__frontier;

void lfr__frontier_init(lfr__frontier *f);
void lfr__frontier_push(lfr__frontier *f, const uint8_t leaf[LFR_HASH_BYTES]);
void lfr__frontier_root(const lfr__frontier *f, uint8_t out[LFR_HASH_BYTES]);

/* Stored form: the size (8 bytes big-endian), then the hashes. decode
 * returns -1 unless there is exactly one hash per one bit of the size. */
#define LFR__FRONTIER_MAX (8 + 64 * LFR_HASH_BYTES)
size_t lfr__frontier_encode(const lfr__frontier *f, uint8_t out[LFR__FRONTIER_MAX]);
int lfr__frontier_decode(const uint8_t *in, size_t n, lfr__frontier *f);

/* A tree over n leaf hashes, holding every perfect subtree's hash (about
 * 2n hashes), for roots and proofs at any size up to n. */
typedef struct lfr__tree lfr__tree;
int lfr__tree_build(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n, lfr__tree **out);
void lfr__tree_free(lfr__tree *t);
uint64_t lfr__tree_size(const lfr__tree *t);
void lfr__tree_leaf(const lfr__tree *t, uint64_t index, uint8_t out[LFR_HASH_BYTES]);
void lfr__tree_root(const lfr__tree *t, uint64_t size, uint8_t out[LFR_HASH_BYTES]);

/* The inclusion proof of leaf `index` (0-based) in the tree of the first
 * `size` leaves (RFC 9162 2.1.3.1), and the consistency proof from the
 * first m leaves to the first `size` (2.1.4.1; empty when m is 0 or size),
 * hashes from the bottom up; *n_out of them. LFR_ERR_INVALID when the sizes
 * do not fit the tree. */
int lfr__tree_inclusion(const lfr__tree *t, uint64_t index, uint64_t size,
                        uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out);
int lfr__tree_consistency(const lfr__tree *t, uint64_t m, uint64_t size,
                          uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out);

/* The same computed literally from the RFC's recursive definitions over
 * the leaves (MTH, PATH, SUBPROOF): the references the tests compare with. */
void lfr__merkle_root_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n,
                            uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_inclusion_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t index,
                                 uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                 int *n_out);
void lfr__merkle_consistency_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t m,
                                   uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                   int *n_out);

/* Check proofs (RFC 9162 2.1.3.2 and 2.1.4.2): 0 when the proof shows the
 * leaf in the tree with `root`, or the tree of m leaves with old_root to be
 * the first m leaves of the tree with new_root; -1 otherwise. */
int lfr__merkle_inclusion_check(uint64_t index, uint64_t size, const uint8_t leaf[LFR_HASH_BYTES],
                                const uint8_t (*proof)[LFR_HASH_BYTES], int n,
                                const uint8_t root[LFR_HASH_BYTES]);
int lfr__merkle_consistency_check(uint64_t m, uint64_t size, const uint8_t old_root[LFR_HASH_BYTES],
                                  const uint8_t new_root[LFR_HASH_BYTES],
                                  const uint8_t (*proof)[LFR_HASH_BYTES], int n);

#endif
