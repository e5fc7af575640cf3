/*
 * Tests of the watchlist search (src/gallery/gallery.c): the AVX2 kernel
 * (lfr__gallery_topk, when the CPU has AVX2+FMA), the portable kernel and
 * the batch search agree with the naive reference on random galleries of
 * awkward sizes, with exact ties, identical rows and k above n; and the
 * best score per subject on a hand-made case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gallery/gallery.h"
#include "lfr/lfr.h"

#define D LFR_TEMPLATE_DIM

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

static void normalise(float *v)
{
    double s = 0;
    for (int j = 0; j < D; j++)
        s += (double)v[j] * v[j];
    float inv = (float)(1.0 / sqrt(s));
    for (int j = 0; j < D; j++)
        v[j] *= inv;
}

/* n random unit rows (at least one row allocated, so n = 0 is fine). */
static float *random_gallery(size_t n)
{
    float *g = malloc((n ? n : 1) * D * sizeof *g);
    assert_non_null(g);
    for (size_t r = 0; r < n; r++) {
        for (int j = 0; j < D; j++)
            g[r * D + j] = rnd();
        normalise(g + r * D);
    }
    return g;
}

static float ref_score(const float *g, int row, const float *q)
{
    double s = 0;
    for (int j = 0; j < D; j++)
        s += (double)g[(size_t)row * D + j] * q[j];
    return (float)s;
}

typedef int (*topk_fn)(const float *, size_t, const float *, int, int *, float *);

/*
 * Compare a kernel's hits with the reference's: the same count, scores
 * within 1e-5 rank by rank, sorted, and the same indices except where the
 * two differ between rows whose scores are within 1e-5 of each other (a
 * tie that summation order may break either way).
 */
static void check_agree(const char *what, const float *g, size_t n, const float *q, int k,
                        const int *idx, const float *score, int cnt)
{
    int ridx[LFR__GALLERY_MAX_K];
    float rscore[LFR__GALLERY_MAX_K];
    int rcnt = lfr__gallery_topk_ref(g, n, q, k, ridx, rscore);
    int want = k <= 0 ? 0 : (size_t)k < n ? k : (int)n;
    if (want > LFR__GALLERY_MAX_K) want = LFR__GALLERY_MAX_K;
    assert_int_equal(rcnt, want);
    if (cnt != rcnt) fail_msg("%s n=%zu k=%d: %d hits, reference %d", what, n, k, cnt, rcnt);
    for (int i = 0; i < cnt; i++) {
        if (fabsf(score[i] - rscore[i]) > 1e-5f)
            fail_msg("%s n=%zu k=%d rank %d: score %.8f, reference %.8f", what, n, k, i,
                     (double)score[i], (double)rscore[i]);
        if (i > 0) assert_true(score[i] <= score[i - 1]);
        if (i > 0 && score[i] == score[i - 1]) assert_true(idx[i] > idx[i - 1]);
        assert_true(idx[i] >= 0 && (size_t)idx[i] < n);
        assert_true(fabsf(score[i] - ref_score(g, idx[i], q)) <= 1e-5f);
        if (idx[i] != ridx[i]) {
            /* Allowed only between near-equal scores. */
            float a = ref_score(g, idx[i], q), b = ref_score(g, ridx[i], q);
            if (fabsf(a - b) > 1e-5f)
                fail_msg("%s n=%zu k=%d rank %d: row %d (%.8f), reference row %d (%.8f)", what, n,
                         k, i, idx[i], (double)a, ridx[i], (double)b);
        }
    }
    /* Every row left out scores no more than the last hit (within 1e-5). */
    if (cnt > 0 && n <= 20000)
        for (size_t r = 0; r < n; r++) {
            int in = 0;
            for (int i = 0; i < cnt; i++)
                in |= (size_t)idx[i] == r;
            if (!in && ref_score(g, (int)r, q) > score[cnt - 1] + 1e-5f)
                fail_msg("%s n=%zu k=%d: row %zu left out", what, n, k, r);
        }
}

static void check_kernel(const char *what, topk_fn fn, const float *g, size_t n, const float *q,
                         int k)
{
    int idx[LFR__GALLERY_MAX_K];
    float score[LFR__GALLERY_MAX_K];
    int cnt = fn(g, n, q, k, idx, score);
    check_agree(what, g, n, q, k, idx, score, cnt);
}

static void check_all(const float *g, size_t n, const float *q, int k)
{
    check_kernel("topk", lfr__gallery_topk, g, n, q, k);
    check_kernel("generic", lfr__gallery_topk_generic, g, n, q, k);
}

static void test_random_galleries(void **state)
{
    (void)state;
    if (!lfr__gallery_have_avx2())
        fprintf(stderr, "note: no AVX2+FMA here; lfr__gallery_topk is the portable kernel\n");
    const size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 1000, 100003};
    const int ks[] = {1, 5, 64};
    float q[D];
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        float *g = random_gallery(n);
        int queries = n > 20000 ? 3 : 10;
        for (int t = 0; t < queries; t++) {
            /* Half the queries are a gallery row plus noise: a clear top-1. */
            for (int j = 0; j < D; j++)
                q[j] = rnd();
            if (n && t % 2) {
                size_t row = (size_t)t * 7919 % n;
                for (int j = 0; j < D; j++)
                    q[j] = g[row * D + j] + 0.2f * q[j];
            }
            normalise(q);
            for (size_t i = 0; i < sizeof ks / sizeof *ks; i++)
                check_all(g, n, q, ks[i]);
        }
        free(g);
    }
}

static void test_k_edges(void **state)
{
    (void)state;
    float *g = random_gallery(9);
    float q[D];
    memcpy(q, g + 3 * D, sizeof q);
    int idx[LFR__GALLERY_MAX_K];
    float score[LFR__GALLERY_MAX_K];
    /* k above n returns n hits; k <= 0 returns none; k above the limit is capped. */
    assert_int_equal(lfr__gallery_topk(g, 9, q, 64, idx, score), 9);
    assert_int_equal(idx[0], 3);
    assert_true(fabsf(score[0] - 1.0f) < 1e-5f);
    assert_int_equal(lfr__gallery_topk(g, 9, q, 0, idx, score), 0);
    assert_int_equal(lfr__gallery_topk(g, 9, q, -1, idx, score), 0);
    assert_int_equal(lfr__gallery_topk(g, 0, q, 5, idx, score), 0);
    assert_int_equal(lfr__gallery_topk_ref(g, 0, q, 5, idx, score), 0);
    free(g);
    float *big = random_gallery(200);
    assert_int_equal(lfr__gallery_topk(big, 200, q, 1000, idx, score), LFR__GALLERY_MAX_K);
    assert_int_equal(lfr__gallery_topk_ref(big, 200, q, 1000, idx, score), LFR__GALLERY_MAX_K);
    free(big);
}

/* Galleries with repeated rows: equal scores must come in index order, and
 * the fast kernels must give identical rows identical scores wherever the
 * rows lie (in an 8-row block or in the tail). */
static void test_ties(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 7, 8, 9, 23, 100, 1001};
    const int ks[] = {1, 5, 64};
    float base[3][D];
    for (int b = 0; b < 3; b++) {
        for (int j = 0; j < D; j++)
            base[b][j] = rnd();
        normalise(base[b]);
    }
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        /* All rows identical, then rows cycling through three templates. */
        for (int pattern = 0; pattern < 2; pattern++) {
            float *g = malloc(n * D * sizeof *g);
            assert_non_null(g);
            for (size_t r = 0; r < n; r++)
                memcpy(g + r * D, base[pattern ? r % 3 : 0], sizeof base[0]);
            for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
                int k = ks[i];
                topk_fn fns[] = {lfr__gallery_topk, lfr__gallery_topk_generic,
                                 lfr__gallery_topk_ref};
                for (int f = 0; f < 3; f++) {
                    int idx[LFR__GALLERY_MAX_K];
                    float score[LFR__GALLERY_MAX_K];
                    int cnt = fns[f](g, n, base[0], k, idx, score);
                    int want = (size_t)k < n ? k : (int)n;
                    assert_int_equal(cnt, want);
                    /* Rows of base[0] first (every third row, or all), in index order. */
                    size_t step = pattern ? 3 : 1;
                    size_t n0 = (n + step - 1) / step;
                    for (int h = 0; h < cnt && (size_t)h < n0; h++) {
                        assert_int_equal(idx[h], (int)(h * step));
                        assert_true(score[h] == score[0]);
                    }
                    check_agree("ties", g, n, base[0], k, idx, score, cnt);
                }
            }
            free(g);
        }
    }
}

static void test_batch(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 9, 1000, 5003};
    enum { NQ = 37 }; /* more than two groups of LFR__GALLERY_BATCH */
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        float *g = random_gallery(n);
        float *q = random_gallery(NQ);
        for (int k = 1; k <= 64; k += 63) {
            int *idx = malloc((size_t)NQ * (size_t)k * sizeof *idx);
            float *score = malloc((size_t)NQ * (size_t)k * sizeof *score);
            assert_true(idx && score);
            int cnt = lfr__gallery_topk_batch(g, n, q, NQ, k, idx, score);
            assert_int_equal(cnt, (size_t)k < n ? k : (int)n);
            for (int i = 0; i < NQ; i++) {
                int one_idx[LFR__GALLERY_MAX_K];
                float one_score[LFR__GALLERY_MAX_K];
                int c1 = lfr__gallery_topk(g, n, q + (size_t)i * D, k, one_idx, one_score);
                assert_int_equal(c1, cnt);
                /* Bit-identical to the single-query search. */
                assert_memory_equal(one_idx, idx + (size_t)i * (size_t)k,
                                    (size_t)cnt * sizeof *idx);
                assert_memory_equal(one_score, score + (size_t)i * (size_t)k,
                                    (size_t)cnt * sizeof *score);
                check_agree("batch", g, n, q + (size_t)i * D, k, idx + (size_t)i * (size_t)k,
                            score + (size_t)i * (size_t)k, cnt);
            }
            free(idx);
            free(score);
        }
        free(g);
        free(q);
    }
}

static void test_best_per_subject(void **state)
{
    (void)state;
    /* Images 0..6 of subjects 10, 20, 10, 30, 20, 40, 30. */
    const int64_t subject_of[] = {10, 20, 10, 30, 20, 40, 30};
    /* Hits as a search returns them, and unsorted. */
    const int idx[] = {2, 4, 0, 6, 1, 3};
    const float score[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
    int64_t subj[8];
    float best[8];
    int n = lfr__gallery_best_per_subject(idx, score, 6, subject_of, subj, best, 8);
    assert_int_equal(n, 3);
    assert_int_equal(subj[0], 10);
    assert_true(best[0] == 0.9f);
    assert_int_equal(subj[1], 20);
    assert_true(best[1] == 0.8f);
    assert_int_equal(subj[2], 30);
    assert_true(best[2] == 0.6f);

    const int uidx[] = {1, 3, 4, 0, 6, 5, 2};
    const float uscore[] = {0.3f, 0.5f, 0.85f, 0.2f, 0.55f, 0.1f, 0.95f};
    n = lfr__gallery_best_per_subject(uidx, uscore, 7, subject_of, subj, best, 8);
    assert_int_equal(n, 4);
    const int64_t want_s[] = {10, 20, 30, 40};
    const float want_b[] = {0.95f, 0.85f, 0.55f, 0.1f};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(subj[i], want_s[i]);
        assert_true(best[i] == want_b[i]);
    }
    /* A cap keeps the best subjects. */
    n = lfr__gallery_best_per_subject(uidx, uscore, 7, subject_of, subj, best, 2);
    assert_int_equal(n, 2);
    assert_int_equal(subj[0], 10);
    assert_int_equal(subj[1], 20);
    assert_true(best[1] == 0.85f);
    /* Equal scores: first reached first. */
    const int tidx[] = {5, 3};
    const float tscore[] = {0.5f, 0.5f};
    n = lfr__gallery_best_per_subject(tidx, tscore, 2, subject_of, subj, best, 8);
    assert_int_equal(n, 2);
    assert_int_equal(subj[0], 40);
    assert_int_equal(subj[1], 30);
    assert_int_equal(lfr__gallery_best_per_subject(idx, score, 0, subject_of, subj, best, 8), 0);
    assert_int_equal(lfr__gallery_best_per_subject(idx, score, 6, subject_of, subj, best, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_galleries),
        cmocka_unit_test(test_k_edges),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_best_per_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
