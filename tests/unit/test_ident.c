/*
 * 1:N identification metrics on small hand-computed galleries and score
 * sets: search ranks and ties, TPIR/FPIR at a threshold, FNIR at an FPIR
 * target with ties, CMC, and empty inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "eval/eval.h"

/* Gallery of 2-d templates: subject 0 has two, subjects 1 and 2 one each. */
static const float gallery[4][2] = {{1, 0}, {0.6f, 0.8f}, {0, 1}, {-1, 0}};
static const int subject[4] = {0, 0, 1, 2};

static void test_search(void **state)
{
    (void)state;
    float scratch[3];
    lfr__eval_search_result r;
    const float probe[2] = {0.8f, 0.6f}; /* scores: 0.8, 0.96 -> s0 0.96; s1 0.6; s2 -0.8 */
    assert_int_equal(lfr__eval_search(&gallery[0][0], subject, 4, 3, probe, 2, 1, scratch, &r), 0);
    assert_int_equal(r.top_subject, 0);
    assert_float_equal(r.top_score, 0.96f, 1e-6);
    assert_float_equal(r.mate_score, 0.6f, 1e-6);
    assert_int_equal(r.mate_rank, 2);
    assert_float_equal(r.best_nonmate_score, 0.96f, 1e-6);
    assert_int_equal(lfr__eval_search(&gallery[0][0], subject, 4, 3, probe, 2, 0, scratch, &r), 0);
    assert_int_equal(r.mate_rank, 1);
    assert_float_equal(r.best_nonmate_score, 0.6f, 1e-6);
    /* Non-mated. */
    assert_int_equal(lfr__eval_search(&gallery[0][0], subject, 4, 3, probe, 2, -1, scratch, &r), 0);
    assert_int_equal(r.mate_rank, 0);
    assert_true(isnan(r.mate_score));
    /* A tie with another subject leaves the mate at rank 1. */
    const float tie[2] = {0.70710678f, 0.70710678f}; /* s0: 0.99, s1: 0.707, s2: -0.707 */
    const float g2[2][2] = {{0, 1}, {0, 1}};
    const int sub2[2] = {0, 1};
    assert_int_equal(lfr__eval_search(&g2[0][0], sub2, 2, 2, tie, 2, 1, scratch, &r), 0);
    assert_int_equal(r.mate_rank, 1);
    /* A subject id out of range is refused. */
    const int bad[4] = {0, 0, 1, 3};
    assert_int_not_equal(lfr__eval_search(&gallery[0][0], bad, 4, 3, probe, 2, 1, scratch, &r), 0);
}

static lfr__eval_search_result mated_r(float score, int rank)
{
    lfr__eval_search_result r = {score, 0, score, rank, 0};
    return r;
}

static lfr__eval_search_result nonmated_r(float top)
{
    lfr__eval_search_result r = {top, 0, NAN, 0, top};
    return r;
}

static void test_rates(void **state)
{
    (void)state;
    lfr__eval_search_result m[4] = {mated_r(0.9f, 1), mated_r(0.7f, 1), mated_r(0.8f, 2),
                                    mated_r(0.3f, 1)};
    lfr__eval_search_result n[5] = {nonmated_r(0.2f), nonmated_r(0.5f), nonmated_r(0.75f),
                                    nonmated_r(0.4f), nonmated_r(0.5f)};
    lfr__eval_ident_rates r;
    assert_int_equal(lfr__eval_ident_rates_at(m, 4, n, 5, 0.6, &r), 0);
    assert_int_equal(r.n_true_positive, 2); /* 0.9 and 0.7 at rank 1; 0.8 is rank 2 */
    assert_int_equal(r.n_false_positive, 1);
    assert_float_equal(r.tpir, 0.5, 1e-12);
    assert_float_equal(r.fnir, 0.5, 1e-12);
    assert_float_equal(r.fpir, 0.2, 1e-12);

    /* FPIR target 0.2 (1 of 5): accept only 0.75 -> threshold (0.75+0.5)/2. */
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 0.2, &r), 0);
    assert_float_equal(r.threshold, 0.625, 1e-6);
    assert_int_equal(r.n_false_positive, 1);
    assert_float_equal(r.fnir, 0.5, 1e-12);
    assert_int_equal(r.supported, 1);
    /* Target 0.4 (2 of 5): the two tied 0.5 scores would make 3, so the
     * threshold stays above them. */
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 0.4, &r), 0);
    assert_float_equal(r.threshold, 0.625, 1e-6);
    /* Target 0.6 (3 of 5): 0.75 and both 0.5s -> threshold (0.5+0.4)/2. */
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 0.6, &r), 0);
    assert_float_equal(r.threshold, 0.45, 1e-6);
    assert_float_equal(r.fnir, 0.5, 1e-12); /* 0.3 below, 0.8 at rank 2 */
    /* Target 0: nothing accepted, threshold above the top. */
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 0.0, &r), 0);
    assert_int_equal(r.n_false_positive, 0);
    assert_true(r.threshold > 0.75);
    assert_int_equal(r.supported, 0);
    /* Target 1: everything accepted. */
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 1.0, &r), 0);
    assert_int_equal(r.n_false_positive, 5);
    assert_float_equal(r.fnir, 0.25, 1e-12); /* only the rank-2 mate fails */
    /* Bad target. */
    assert_int_not_equal(lfr__eval_fnir_at_fpir(m, 4, n, 5, 1.5, &r), 0);
}

static void test_cmc_and_empty(void **state)
{
    (void)state;
    lfr__eval_search_result m[4] = {mated_r(0.9f, 1), mated_r(0.7f, 3), mated_r(0.8f, 2),
                                    mated_r(0.3f, 1)};
    double cmc[4];
    assert_int_equal(lfr__eval_cmc(m, 4, 4, cmc), 0);
    assert_float_equal(cmc[0], 0.5, 1e-12);
    assert_float_equal(cmc[1], 0.75, 1e-12);
    assert_float_equal(cmc[2], 1.0, 1e-12);
    assert_float_equal(cmc[3], 1.0, 1e-12);
    assert_int_equal(lfr__eval_cmc(m, 0, 2, cmc), 0);
    assert_true(isnan(cmc[0]));
    lfr__eval_ident_rates r;
    assert_int_equal(lfr__eval_ident_rates_at(NULL, 0, NULL, 0, 0.5, &r), 0);
    assert_true(isnan(r.tpir) && isnan(r.fpir));
    assert_int_equal(lfr__eval_fnir_at_fpir(m, 4, NULL, 0, 0.01, &r), 0);
    assert_int_equal(r.supported, 0);
    assert_float_equal(r.fnir, 0.5, 1e-12); /* everything accepted: ranks 3 and 2 miss */
}

static void test_projection(void **state)
{
    (void)state;
    const float sc[4][3] = {
        {0.9f, 0.1f, 0.2f}, {0.1f, 0.1f, 0.1f}, {0.6f, 0.7f, 0.1f}, {0.2f, 0.3f, 0.4f}};
    double thr[1] = {0.5};
    int sizes[3] = {1, 3, 10};
    lfr__eval_projection_point p[3];
    assert_int_equal(lfr__eval_projection(&sc[0][0], 4, 3, thr, 1, sizes, 3, 4000, 7, p), 0);
    assert_float_equal(p[0].fmr, 0.25, 1e-12); /* 3 of 12 comparisons >= 0.5 */
    assert_int_equal(p[0].n_comparisons, 12);
    /* One random subject: subjects catch 2, 1 and 0 of the 4 probes. */
    assert_float_equal(p[0].fpir_measured, 0.25, 0.02);
    assert_float_equal(p[0].fpir_model, 0.25, 1e-12);
    /* All three subjects: probes 0 and 2. */
    assert_float_equal(p[1].fpir_measured, 0.5, 1e-12);
    assert_float_equal(p[1].fpir_model, 1 - 0.75 * 0.75 * 0.75, 1e-12);
    /* Beyond the gallery: the model only. */
    assert_true(isnan(p[2].fpir_measured));
    assert_float_equal(p[2].fpir_model, 1 - pow(0.75, 10), 1e-12);
    assert_int_not_equal(lfr__eval_projection(&sc[0][0], 4, 3, thr, 1, sizes, 3, 0, 7, p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_cmc_and_empty),
        cmocka_unit_test(test_projection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
