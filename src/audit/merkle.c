/*
 * The Merkle tree over the audit log, hashed as RFC 9162 section 2.1 says
 * with SHA-256 (libsodium's crypto_hash_sha256): a leaf is
 * SHA-256(0x00 || entry), a node SHA-256(0x01 || left || right), the empty
 * tree SHA-256(""), and a tree of n > 1 leaves splits at the largest power
 * of two below n.
 *
 * Three ways in:
 *   - the frontier: the roots of the perfect subtrees that make up a tree of
 *     a given size, left to right (one per bit of the size), which is all a
 *     writer needs to append a leaf and compute the new root;
 *   - a tree built over all the leaves (every perfect subtree's hash, level
 *     by level), from which inclusion and consistency proofs are read in
 *     O(log^2 n) following the recursions of RFC 9162 2.1.3.1 and 2.1.4.1;
 *   - the naive references: the same definitions computed literally by
 *     recursion over the leaves, for the tests that compare the two.
 * Proofs are checked with the algorithms of RFC 9162 2.1.3.2 and 2.1.4.2.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

/* ---- Hashing ------------------------------------------------------------------ */

void lfr__merkle_leaf(const uint8_t *data, size_t n, uint8_t out[LFR_HASH_BYTES])
{
    crypto_hash_sha256_state h;
    const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, &zero, 1);
    crypto_hash_sha256_update(&h, data, n);
    crypto_hash_sha256_final(&h, out);
}

void lfr__merkle_node(const uint8_t left[LFR_HASH_BYTES], const uint8_t right[LFR_HASH_BYTES],
                      uint8_t out[LFR_HASH_BYTES])
{
    crypto_hash_sha256_state h;
    const uint8_t one = 0x01;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, &one, 1);
    crypto_hash_sha256_update(&h, left, LFR_HASH_BYTES);
    crypto_hash_sha256_update(&h, right, LFR_HASH_BYTES);
    crypto_hash_sha256_final(&h, out);
}

void lfr__merkle_empty(uint8_t out[LFR_HASH_BYTES])
{
    crypto_hash_sha256(out, NULL, 0);
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* ---- The frontier ---------------------------------------------------------------- */

void lfr__frontier_init(lfr__frontier *f)
{
    memset(f, 0, sizeof *f);
}

void lfr__frontier_push(lfr__frontier *f, const uint8_t leaf[LFR_HASH_BYTES])
{
    uint8_t cur[LFR_HASH_BYTES];
    memcpy(cur, leaf, LFR_HASH_BYTES);
    /* Each trailing one bit of the size is a perfect subtree of the same
     * height as the one being carried: merge them, as in binary addition. */
    for (uint64_t s = f->size; s & 1; s >>= 1)
        lfr__merkle_node(f->h[--f->n], cur, cur);
    memcpy(f->h[f->n++], cur, LFR_HASH_BYTES);
    f->size++;
}

void lfr__frontier_root(const lfr__frontier *f, uint8_t out[LFR_HASH_BYTES])
{
    if (f->n == 0) {
        lfr__merkle_empty(out);
        return;
    }
    uint8_t r[LFR_HASH_BYTES];
    memcpy(r, f->h[f->n - 1], LFR_HASH_BYTES);
    for (int i = f->n - 2; i >= 0; i--)
        lfr__merkle_node(f->h[i], r, r);
    memcpy(out, r, LFR_HASH_BYTES);
}

size_t lfr__frontier_encode(const lfr__frontier *f, uint8_t out[LFR__FRONTIER_MAX])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(f->size >> (56 - 8 * i));
    memcpy(out + 8, f->h, (size_t)f->n * LFR_HASH_BYTES);
    return 8 + (size_t)f->n * LFR_HASH_BYTES;
}

int lfr__frontier_decode(const uint8_t *in, size_t n, lfr__frontier *f)
{
    lfr__frontier_init(f);
    if (n < 8) return -1;
    uint64_t size = 0;
    for (int i = 0; i < 8; i++)
        size = size << 8 | in[i];
    int k = __builtin_popcountll(size);
    if (n != 8 + (size_t)k * LFR_HASH_BYTES) return -1;
    f->size = size;
    f->n = k;
    memcpy(f->h, in + 8, (size_t)k * LFR_HASH_BYTES);
    return 0;
}

/* ---- A whole tree -------------------------------------------------------------------- */

/* Level j holds the hashes of the perfect subtrees of 2^j leaves, in order:
 * floor(n / 2^j) of them. */
struct lfr__tree {
    uint64_t n;
    int n_levels;
    uint8_t (*level[65])[LFR_HASH_BYTES];
};

int lfr__tree_build(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n, lfr__tree **out)
{
    *out = NULL;
    lfr__tree *t = calloc(1, sizeof *t);
    if (!t) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    t->n = n;
    for (uint64_t count = n, j = 0; count > 0; count >>= 1, j++) {
        size_t bytes;
        if (!lfr__mul_ok((size_t)count, LFR_HASH_BYTES, &bytes) || !(t->level[j] = malloc(bytes))) {
            lfr__tree_free(t);
            return lfr__err(LFR_ERR_NOMEM, "out of memory for a tree of %llu leaves",
                            (unsigned long long)n);
        }
        t->n_levels = (int)j + 1;
        if (j == 0) {
            memcpy(t->level[0], leaves, bytes);
        } else {
            for (uint64_t i = 0; i < count; i++)
                lfr__merkle_node(t->level[j - 1][2 * i], t->level[j - 1][2 * i + 1],
                                 t->level[j][i]);
        }
    }
    *out = t;
    return LFR_OK;
}

void lfr__tree_free(lfr__tree *t)
{
    if (!t) return;
    for (int j = 0; j < t->n_levels; j++)
        free(t->level[j]);
    free(t);
}

uint64_t lfr__tree_size(const lfr__tree *t)
{
    return t->n;
}

/* The hash of the subtree of leaves [lo, hi), where lo is a multiple of the
 * smallest power of two >= hi - lo (as every subtree the RFC's recursions
 * visit is): the left part is perfect and read from the levels, the rest
 * folded in. */
static void range_hash(const lfr__tree *t, uint64_t lo, uint64_t hi, uint8_t out[LFR_HASH_BYTES])
{
    if (hi == lo) {
        lfr__merkle_empty(out);
        return;
    }
    uint64_t len = hi - lo;
    if ((len & (len - 1)) == 0) {
        int j = __builtin_ctzll(len);
        memcpy(out, t->level[j][lo >> j], LFR_HASH_BYTES);
        return;
    }
    uint64_t k = split_point(len);
    uint8_t right[LFR_HASH_BYTES];
    range_hash(t, lo + k, hi, right);
    int j = __builtin_ctzll(k);
    lfr__merkle_node(t->level[j][lo >> j], right, out);
}

void lfr__tree_root(const lfr__tree *t, uint64_t size, uint8_t out[LFR_HASH_BYTES])
{
    range_hash(t, 0, size, out);
}

void lfr__tree_leaf(const lfr__tree *t, uint64_t index, uint8_t out[LFR_HASH_BYTES])
{
    memcpy(out, t->level[0][index], LFR_HASH_BYTES);
}

/* The proofs are built from the root down and then reversed, since the RFC
 * lists them from the leaf up. */
static void reverse(uint8_t (*p)[LFR_HASH_BYTES], int n)
{
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        uint8_t tmp[LFR_HASH_BYTES];
        memcpy(tmp, p[i], LFR_HASH_BYTES);
        memcpy(p[i], p[j], LFR_HASH_BYTES);
        memcpy(p[j], tmp, LFR_HASH_BYTES);
    }
}

int lfr__tree_inclusion(const lfr__tree *t, uint64_t index, uint64_t size,
                        uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out)
{
    *n_out = 0;
    if (size > t->n || index >= size)
        return lfr__err(LFR_ERR_INVALID, "no entry %llu in a tree of %llu",
                        (unsigned long long)index + 1, (unsigned long long)size);
    /* PATH(m, D[lo:hi]): descend towards the leaf, taking the other side's
     * hash at each split. */
    uint64_t lo = 0, hi = size, m = index;
    int n = 0;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (m < k) {
            range_hash(t, lo + k, hi, proof[n++]);
            hi = lo + k;
        } else {
            range_hash(t, lo, lo + k, proof[n++]);
            lo += k;
            m -= k;
        }
    }
    reverse(proof, n);
    *n_out = n;
    return LFR_OK;
}

int lfr__tree_consistency(const lfr__tree *t, uint64_t m, uint64_t size,
                          uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out)
{
    *n_out = 0;
    if (size > t->n || m > size)
        return lfr__err(LFR_ERR_INVALID, "no consistency proof from %llu to %llu entries",
                        (unsigned long long)m, (unsigned long long)size);
    if (m == 0 || m == size) return LFR_OK;
    /* SUBPROOF(m, D[lo:hi], b). */
    uint64_t lo = 0, hi = size;
    int b = 1, n = 0;
    while (m != hi - lo) {
        uint64_t k = split_point(hi - lo);
        if (m <= k) {
            range_hash(t, lo + k, hi, proof[n++]);
            hi = lo + k;
        } else {
            range_hash(t, lo, lo + k, proof[n++]);
            lo += k;
            m -= k;
            b = 0;
        }
    }
    if (!b) range_hash(t, lo, hi, proof[n++]);
    reverse(proof, n);
    *n_out = n;
    return LFR_OK;
}

/* ---- Naive references -------------------------------------------------------------------- */

void lfr__merkle_root_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n,
                            uint8_t out[LFR_HASH_BYTES])
{
    if (n == 0) {
        lfr__merkle_empty(out);
    } else if (n == 1) {
        memcpy(out, leaves[0], LFR_HASH_BYTES);
    } else {
        uint64_t k = split_point(n);
        uint8_t l[LFR_HASH_BYTES], r[LFR_HASH_BYTES];
        lfr__merkle_root_naive(leaves, k, l);
        lfr__merkle_root_naive(leaves + k, n - k, r);
        lfr__merkle_node(l, r, out);
    }
}

static void path_naive(uint64_t m, const uint8_t (*d)[LFR_HASH_BYTES], uint64_t n,
                       uint8_t (*proof)[LFR_HASH_BYTES], int *len)
{
    if (n <= 1) return;
    uint64_t k = split_point(n);
    if (m < k) {
        path_naive(m, d, k, proof, len);
        lfr__merkle_root_naive(d + k, n - k, proof[(*len)++]);
    } else {
        path_naive(m - k, d + k, n - k, proof, len);
        lfr__merkle_root_naive(d, k, proof[(*len)++]);
    }
}

void lfr__merkle_inclusion_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t index,
                                 uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                 int *n_out)
{
    *n_out = 0;
    path_naive(index, leaves, size, proof, n_out);
}

static void subproof_naive(uint64_t m, const uint8_t (*d)[LFR_HASH_BYTES], uint64_t n, int b,
                           uint8_t (*proof)[LFR_HASH_BYTES], int *len)
{
    if (m == n) {
        if (!b) lfr__merkle_root_naive(d, n, proof[(*len)++]);
        return;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        subproof_naive(m, d, k, b, proof, len);
        lfr__merkle_root_naive(d + k, n - k, proof[(*len)++]);
    } else {
        subproof_naive(m - k, d + k, n - k, 0, proof, len);
        lfr__merkle_root_naive(d, k, proof[(*len)++]);
    }
}

void lfr__merkle_consistency_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t m,
                                   uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                   int *n_out)
{
    *n_out = 0;
    if (m == 0 || m >= size) return;
    subproof_naive(m, leaves, size, 1, proof, n_out);
}

/* ---- Checking proofs ------------------------------------------------------------------------ */

int lfr__merkle_inclusion_check(uint64_t index, uint64_t size, const uint8_t leaf[LFR_HASH_BYTES],
                                const uint8_t (*proof)[LFR_HASH_BYTES], int n,
                                const uint8_t root[LFR_HASH_BYTES])
{
    if (index >= size || n < 0 || n > LFR__PROOF_MAX) return -1;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[LFR_HASH_BYTES];
    memcpy(r, leaf, LFR_HASH_BYTES);
    for (int i = 0; i < n; i++) {
        if (sn == 0) return -1;
        if ((fn & 1) || fn == sn) {
            lfr__merkle_node(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            lfr__merkle_node(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, LFR_HASH_BYTES) == 0 ? 0 : -1;
}

int lfr__merkle_consistency_check(uint64_t m, uint64_t size, const uint8_t old_root[LFR_HASH_BYTES],
                                  const uint8_t new_root[LFR_HASH_BYTES],
                                  const uint8_t (*proof)[LFR_HASH_BYTES], int n)
{
    if (m > size || n < 0 || n > LFR__PROOF_MAX) return -1;
    if (m == size) return n == 0 && sodium_memcmp(old_root, new_root, LFR_HASH_BYTES) == 0 ? 0 : -1;
    if (m == 0) return n == 0 ? 0 : -1;
    if (n == 0) return -1;
    /* When m is a power of two the old root is itself the first node. */
    const uint8_t *first = proof[0];
    int i = 0;
    if ((m & (m - 1)) == 0)
        first = old_root;
    else
        i = 1;
    uint64_t fn = m - 1, sn = size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[LFR_HASH_BYTES], sr[LFR_HASH_BYTES];
    memcpy(fr, first, LFR_HASH_BYTES);
    memcpy(sr, first, LFR_HASH_BYTES);
    for (; i < n; i++) {
        if (sn == 0) return -1;
        if ((fn & 1) || fn == sn) {
            lfr__merkle_node(proof[i], fr, fr);
            lfr__merkle_node(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            lfr__merkle_node(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(fr, old_root, LFR_HASH_BYTES) == 0 &&
                   sodium_memcmp(sr, new_root, LFR_HASH_BYTES) == 0
               ? 0
               : -1;
}
