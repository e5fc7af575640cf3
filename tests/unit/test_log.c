/*
 * Tests of the audit log's own layer (src/audit), which needs no home: the
 * RFC 9162 Merkle tree against the published RFC 6962 test vectors, the
 * fast roots and proofs against the naive references on every size up to a
 * few hundred and on random pairs up to a few thousand, the proof checks
 * (every proof accepted, every altered proof refused), and the frontier's
 * stored form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

typedef uint8_t hash_t[LFR_HASH_BYTES];

static void hex(const uint8_t *h, char out[65])
{
    sodium_bin2hex(out, 65, h, LFR_HASH_BYTES);
}

/* Leaf i of the test trees: the hash of its 8-byte index. */
static hash_t *make_leaves(uint64_t n)
{
    hash_t *l = malloc((n ? n : 1) * sizeof *l);
    assert_non_null(l);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(i >> (8 * k));
        lfr__merkle_leaf(b, sizeof b, l[i]);
    }
    return l;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % n;
}

/* ---- Known answers ------------------------------------------------------------- */

static void test_rfc6962_vectors(void **state)
{
    (void)state;
    static const char *const data[8] = {"",
                                        "\x00",
                                        "\x10",
                                        "\x20\x21",
                                        "\x30\x31",
                                        "\x40\x41\x42\x43",
                                        "\x50\x51\x52\x53\x54\x55\x56\x57",
                                        "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d"
                                        "\x6e\x6f"};
    static const size_t len[8] = {0, 1, 1, 2, 2, 4, 8, 16};
    static const char *const roots[9] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    hash_t leaves[8];
    for (int i = 0; i < 8; i++)
        lfr__merkle_leaf((const uint8_t *)data[i], len[i], leaves[i]);
    lfr__frontier f;
    lfr__frontier_init(&f);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, 8, &t), LFR_OK);
    for (int n = 0; n <= 8; n++) {
        hash_t r;
        char h[65];
        lfr__frontier_root(&f, r);
        hex(r, h);
        assert_string_equal(h, roots[n]);
        lfr__tree_root(t, (uint64_t)n, r);
        hex(r, h);
        assert_string_equal(h, roots[n]);
        lfr__merkle_root_naive((const hash_t *)leaves, (uint64_t)n, r);
        hex(r, h);
        assert_string_equal(h, roots[n]);
        if (n < 8) lfr__frontier_push(&f, leaves[n]);
    }
    lfr__tree_free(t);
}

/* ---- Roots ----------------------------------------------------------------------- */

static void test_roots_agree(void **state)
{
    (void)state;
    enum { N = 600 };
    hash_t *leaves = make_leaves(N);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, N, &t), LFR_OK);
    lfr__frontier f;
    lfr__frontier_init(&f);
    for (uint64_t n = 0; n <= N; n++) {
        hash_t a, b, c;
        lfr__frontier_root(&f, a);
        lfr__tree_root(t, n, b);
        lfr__merkle_root_naive((const hash_t *)leaves, n, c);
        assert_memory_equal(a, c, LFR_HASH_BYTES);
        assert_memory_equal(b, c, LFR_HASH_BYTES);
        /* The stored frontier comes back whole, and refuses a wrong length. */
        uint8_t enc[LFR__FRONTIER_MAX];
        size_t k = lfr__frontier_encode(&f, enc);
        lfr__frontier g;
        assert_int_equal(lfr__frontier_decode(enc, k, &g), 0);
        assert_int_equal(g.size, n);
        lfr__frontier_root(&g, b);
        assert_memory_equal(a, b, LFR_HASH_BYTES);
        assert_int_equal(lfr__frontier_decode(enc, k + 32, &g), -1);
        if (k > 8) assert_int_equal(lfr__frontier_decode(enc, k - 32, &g), -1);
        if (n < N) lfr__frontier_push(&f, leaves[n]);
    }
    lfr__tree_free(t);
    free(leaves);
}

/* ---- Inclusion proofs ---------------------------------------------------------------- */

static void check_inclusion(const lfr__tree *t, const hash_t *leaves, uint64_t m, uint64_t n)
{
    hash_t fast[LFR__PROOF_MAX], naive[LFR__PROOF_MAX], root;
    int nf, nn;
    assert_int_equal(lfr__tree_inclusion(t, m, n, fast, &nf), LFR_OK);
    lfr__merkle_inclusion_naive(leaves, m, n, naive, &nn);
    assert_int_equal(nf, nn);
    if (nf) assert_memory_equal(fast, naive, (size_t)nf * LFR_HASH_BYTES);
    lfr__tree_root(t, n, root);
    assert_int_equal(lfr__merkle_inclusion_check(m, n, leaves[m], (const hash_t *)fast, nf, root),
                     0);
    /* Wrong leaf, wrong index, an index past the end, a flipped bit, a hash
     * missing or one too many: all refused. (The size is bound by the root,
     * which a checkpoint signs together with it: the same proof and root may
     * check for another size, as in every RFC 9162 verifier.) */
    assert_int_equal(
        lfr__merkle_inclusion_check(m, n, leaves[(m + 1) % n], (const hash_t *)fast, nf, root),
        n == 1 ? 0 : -1);
    if (n > 1)
        assert_int_equal(
            lfr__merkle_inclusion_check((m + 1) % n, n, leaves[m], (const hash_t *)fast, nf, root),
            -1);
    assert_int_equal(lfr__merkle_inclusion_check(n, n, leaves[m], (const hash_t *)fast, nf, root),
                     -1);
    if (nf) {
        int i = (int)rnd((uint64_t)nf);
        fast[i][rnd(LFR_HASH_BYTES)] ^= (uint8_t)(1u << rnd(8));
        assert_int_equal(
            lfr__merkle_inclusion_check(m, n, leaves[m], (const hash_t *)fast, nf, root), -1);
        assert_int_equal(
            lfr__merkle_inclusion_check(m, n, leaves[m], (const hash_t *)naive, nf - 1, root), -1);
    }
    memcpy(naive[nn], root, LFR_HASH_BYTES);
    assert_int_equal(
        lfr__merkle_inclusion_check(m, n, leaves[m], (const hash_t *)naive, nn + 1, root), -1);
}

static void test_inclusion_all_small(void **state)
{
    (void)state;
    enum { N = 160 };
    hash_t *leaves = make_leaves(N);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, N, &t), LFR_OK);
    for (uint64_t n = 1; n <= N; n++)
        for (uint64_t m = 0; m < n; m++)
            check_inclusion(t, leaves, m, n);
    hash_t proof[LFR__PROOF_MAX];
    int np;
    assert_int_equal(lfr__tree_inclusion(t, 5, 5, proof, &np), LFR_ERR_INVALID);
    assert_int_equal(lfr__tree_inclusion(t, 0, N + 1, proof, &np), LFR_ERR_INVALID);
    lfr__tree_free(t);
    free(leaves);
}

static void test_inclusion_random(void **state)
{
    (void)state;
    enum { N = 3000 };
    hash_t *leaves = make_leaves(N);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, N, &t), LFR_OK);
    for (int i = 0; i < 1500; i++) {
        uint64_t n = 1 + rnd(N);
        check_inclusion(t, leaves, rnd(n), n);
    }
    lfr__tree_free(t);
    free(leaves);
}

/* ---- Consistency proofs ---------------------------------------------------------------- */

static void check_consistency(const lfr__tree *t, const hash_t *leaves, uint64_t m, uint64_t n)
{
    hash_t fast[LFR__PROOF_MAX], naive[LFR__PROOF_MAX], r1, r2;
    int nf, nn;
    assert_int_equal(lfr__tree_consistency(t, m, n, fast, &nf), LFR_OK);
    lfr__merkle_consistency_naive(leaves, m, n, naive, &nn);
    assert_int_equal(nf, nn);
    if (nf) assert_memory_equal(fast, naive, (size_t)nf * LFR_HASH_BYTES);
    lfr__tree_root(t, m, r1);
    lfr__tree_root(t, n, r2);
    assert_int_equal(lfr__merkle_consistency_check(m, n, r1, r2, (const hash_t *)fast, nf), 0);
    /* Another old root (a log rewritten before m), another new root, a
     * flipped bit, a hash missing: refused. */
    if (m > 0) {
        hash_t other;
        lfr__tree_root(t, m - 1, other);
        assert_int_equal(lfr__merkle_consistency_check(m, n, other, r2, (const hash_t *)fast, nf),
                         -1);
    }
    if (m < n) {
        hash_t other;
        lfr__tree_root(t, n - 1, other);
        assert_int_equal(lfr__merkle_consistency_check(m, n, r1, other, (const hash_t *)fast, nf),
                         m == 0 ? 0 : -1);
    }
    if (nf) {
        int i = (int)rnd((uint64_t)nf);
        fast[i][rnd(LFR_HASH_BYTES)] ^= (uint8_t)(1u << rnd(8));
        assert_int_equal(lfr__merkle_consistency_check(m, n, r1, r2, (const hash_t *)fast, nf), -1);
        assert_int_equal(lfr__merkle_consistency_check(m, n, r1, r2, (const hash_t *)naive, nf - 1),
                         -1);
    }
}

static void test_consistency_all_small(void **state)
{
    (void)state;
    enum { N = 160 };
    hash_t *leaves = make_leaves(N);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, N, &t), LFR_OK);
    for (uint64_t n = 0; n <= N; n++)
        for (uint64_t m = 0; m <= n; m++)
            check_consistency(t, leaves, m, n);
    hash_t proof[LFR__PROOF_MAX];
    int np;
    assert_int_equal(lfr__tree_consistency(t, 6, 5, proof, &np), LFR_ERR_INVALID);
    lfr__tree_free(t);
    free(leaves);
}

static void test_consistency_random(void **state)
{
    (void)state;
    enum { N = 3000 };
    hash_t *leaves = make_leaves(N);
    lfr__tree *t;
    assert_int_equal(lfr__tree_build((const hash_t *)leaves, N, &t), LFR_OK);
    for (int i = 0; i < 1500; i++) {
        uint64_t n = 1 + rnd(N);
        check_consistency(t, leaves, rnd(n + 1), n);
    }
    lfr__tree_free(t);
    free(leaves);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6962_vectors),       cmocka_unit_test(test_roots_agree),
        cmocka_unit_test(test_inclusion_all_small),   cmocka_unit_test(test_inclusion_random),
        cmocka_unit_test(test_consistency_all_small), cmocka_unit_test(test_consistency_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
