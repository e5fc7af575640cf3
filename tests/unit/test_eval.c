/*
 * Tests of src/eval: the verification metrics on small score sets whose
 * answers are worked out by hand in the comments, the same metrics against
 * naive O(n^2) references on random data, the LFW pairs parser on good and
 * malformed text and on the real pairs.txt, and the whole chain against the
 * published reference figures for the TFLite MobileFaceNet scores.
 *
 * Data: LFR_DATA (default ../shared/data) for lfw/pairs.txt; LFR_REFERENCE
 * (default $LFR_DATA/../reference, then $LFR_SOURCE/../shared/reference) for
 * the reference score files. Tests needing absent data are skipped, saying so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval.h"
#include "util/util.h"

/* ---- Helpers --------------------------------------------------------------- */

#define EPS 1e-12

#define assert_near(got, want, eps) check_near((got), (want), (eps), #got, __FILE__, __LINE__)

static void check_near(double got, double want, double eps, const char *what, const char *file,
                       int line)
{
    if (fabs(got - want) <= eps) return;
    print_error("%s = %.17g, expected %.17g (within %g)\n", what, got, want, eps);
    _fail(file, line);
}

/* Scores of `n_gen` genuine comparisons followed by `n_imp` impostor ones. */
typedef struct scoreset {
    double score[64];
    unsigned char same[64];
    int fold[64];
    lfr__eval_data d;
} scoreset;

static void make_set(scoreset *s, const double *gen, size_t n_gen, const double *imp, size_t n_imp)
{
    assert_true(n_gen + n_imp <= 64);
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n_gen; i++) {
        s->score[i] = gen[i];
        s->same[i] = 1;
    }
    for (size_t i = 0; i < n_imp; i++)
        s->score[n_gen + i] = imp[i];
    s->d = (lfr__eval_data){s->score, s->same, s->fold, n_gen + n_imp};
}

#define N(a) (sizeof(a) / sizeof(a)[0])

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- Metrics on hand-computed sets ---------------------------------------- */

static void test_perfect_separation(void **state)
{
    (void)state;
    static const double gen[] = {0.9, 0.8, 0.7}, imp[] = {0.1, 0.2, 0.3};
    scoreset s;
    make_set(&s, gen, 3, imp, 3);
    double auc;
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_near(auc, 1.0, EPS);

    /* Only the candidate between 0.3 and 0.7 gets all six right. */
    lfr__eval_rates best;
    assert_int_equal(lfr__eval_best_threshold(&s.d, &best), LFR_OK);
    assert_near(best.threshold, 0.5, EPS);
    assert_near(best.accuracy, 1.0, EPS);
    assert_int_equal(best.n_false_match, 0);
    assert_int_equal(best.n_false_nonmatch, 0);

    /* FMR 1/3 -> 0 while FNMR stays 0 at the 0.5 candidate: EER 0 there. */
    lfr__eval_eer_point e;
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_near(e.eer, 0.0, EPS);
    assert_near(e.threshold, 0.5, EPS);

    lfr__eval_tar t;
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 1e-3, &t), LFR_OK);
    assert_near(t.threshold, 0.5, EPS);
    assert_near(t.tar, 1.0, EPS);
    assert_near(t.far, 0.0, EPS);
    assert_int_equal(t.supported, 0); /* 3 impostors cannot measure 1e-3 */
}

static void test_all_ties(void **state)
{
    (void)state;
    static const double gen[] = {0.5, 0.5}, imp[] = {0.5, 0.5, 0.5};
    scoreset s;
    make_set(&s, gen, 2, imp, 3);
    double auc;
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_near(auc, 0.5, EPS);

    /* Accept all: 2 right; reject all: 3 right, at 0.5 + 1. */
    lfr__eval_rates best;
    assert_int_equal(lfr__eval_best_threshold(&s.d, &best), LFR_OK);
    assert_near(best.threshold, 1.5, EPS);
    assert_near(best.accuracy, 0.6, EPS);

    /* The ROC jumps from (1, 0) straight to (0, 1): EER 0.5 midway; the two
     * candidates are equally far from it and the lower one is reported. */
    lfr__eval_eer_point e;
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_near(e.eer, 0.5, EPS);
    assert_near(e.threshold, -0.5, EPS);
    assert_near(e.fmr, 1.0, EPS);
    assert_near(e.fnmr, 0.0, EPS);
}

static void test_auc_interleaved(void **state)
{
    (void)state;
    scoreset s;
    double auc;
    /* Each genuine score beats the impostors below it: 1+2+3+4 of 16. */
    static const double g1[] = {0.2, 0.4, 0.6, 0.8}, i1[] = {0.1, 0.3, 0.5, 0.7};
    make_set(&s, g1, 4, i1, 4);
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_near(auc, 10.0 / 16.0, EPS);

    /* 0.5 ties 0.5 (1/2), beats 0.3; 0.7 beats both: 3.5 of 4. */
    static const double g2[] = {0.5, 0.7}, i2[] = {0.5, 0.3};
    make_set(&s, g2, 2, i2, 2);
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_near(auc, 0.875, EPS);

    /* Every genuine below every impostor. */
    make_set(&s, i1, 4, g1 + 3, 1);
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_near(auc, 0.0, EPS);
}

static void test_rates_at(void **state)
{
    (void)state;
    static const double gen[] = {0.2, 0.6, 0.9}, imp[] = {0.1, 0.6, 0.7, 0.3};
    scoreset s;
    make_set(&s, gen, 3, imp, 4);
    lfr__eval_rates r;
    /* A score equal to the threshold is a match. */
    assert_int_equal(lfr__eval_rates_at(&s.d, 0.6, &r), LFR_OK);
    assert_int_equal(r.n_genuine, 3);
    assert_int_equal(r.n_impostor, 4);
    assert_int_equal(r.n_false_match, 2);    /* 0.6, 0.7 */
    assert_int_equal(r.n_false_nonmatch, 1); /* 0.2 */
    assert_near(r.fmr, 0.5, EPS);
    assert_near(r.fnmr, 1.0 / 3.0, EPS);
    assert_near(r.accuracy, 4.0 / 7.0, EPS);
    assert_int_equal(lfr__eval_rates_at(&s.d, INFINITY, &r), LFR_OK);
    assert_near(r.fmr, 0.0, EPS);
    assert_near(r.fnmr, 1.0, EPS);
    assert_int_equal(lfr__eval_rates_at(&s.d, NAN, &r), LFR_ERR_INVALID);
}

static void test_best_threshold_ties(void **state)
{
    (void)state;
    scoreset s;
    lfr__eval_rates best;
    /* 0.1i 0.2g 0.3i 0.4g: 3 of 4 right when accepting from 0.2 and from 0.4,
     * two separate runs; the lower one wins. */
    static const double g1[] = {0.2, 0.4}, i1[] = {0.1, 0.3};
    make_set(&s, g1, 2, i1, 2);
    assert_int_equal(lfr__eval_best_threshold(&s.d, &best), LFR_OK);
    assert_near(best.threshold, 0.15, EPS);
    assert_near(best.accuracy, 0.75, EPS);

    /* 0.1i {0.5g 0.5i} 0.9g: accepting from 0.5 or from 0.9 both give 3 of 4,
     * consecutive candidates 0.3 and 0.7; the midpoint 0.5 accepts the tied
     * group and is as accurate. */
    static const double g2[] = {0.5, 0.9}, i2[] = {0.1, 0.5};
    make_set(&s, g2, 2, i2, 2);
    assert_int_equal(lfr__eval_best_threshold(&s.d, &best), LFR_OK);
    assert_near(best.threshold, 0.5, EPS);
    assert_near(best.accuracy, 0.75, EPS);
    assert_int_equal(best.n_false_match, 1);
    assert_int_equal(best.n_false_nonmatch, 0);
}

static void test_tar_at_far(void **state)
{
    (void)state;
    scoreset s;
    lfr__eval_tar t;
    /* Ten impostors 0.0 .. 0.9, five genuine; sorted top: 0.7i 0.75g 0.8i
     * 0.85g 0.9i 0.95g. */
    static const double gen[] = {0.85, 0.95, 0.75, 0.65, 0.55};
    static const double imp[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    make_set(&s, gen, 5, imp, 10);
    /* FAR 0.1 allows one impostor (0.9): accept from 0.85. */
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 0.1, &t), LFR_OK);
    assert_near(t.threshold, 0.825, EPS);
    assert_near(t.tar, 0.4, EPS);
    assert_near(t.far, 0.1, EPS);
    assert_int_equal(t.supported, 1);
    /* FAR 0.2 allows two (0.8, 0.9): accept from 0.75. */
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 0.2, &t), LFR_OK);
    assert_near(t.threshold, 0.725, EPS);
    assert_near(t.tar, 0.6, EPS);
    assert_near(t.far, 0.2, EPS);
    /* FAR 0.01 allows none: accept only 0.95; 10 impostors cannot show it. */
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 0.01, &t), LFR_OK);
    assert_near(t.threshold, 0.925, EPS);
    assert_near(t.tar, 0.2, EPS);
    assert_near(t.far, 0.0, EPS);
    assert_int_equal(t.supported, 0);
    /* FAR 1 accepts everything. */
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 1.0, &t), LFR_OK);
    assert_near(t.threshold, -1.0, EPS);
    assert_near(t.tar, 1.0, EPS);
    assert_near(t.far, 1.0, EPS);
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 1.5, &t), LFR_ERR_INVALID);
    assert_int_equal(lfr__eval_tar_at_far(&s.d, NAN, &t), LFR_ERR_INVALID);
}

static void test_tar_ties_at_threshold(void **state)
{
    (void)state;
    scoreset s;
    lfr__eval_tar t;
    /* Two impostors tied at 0.9 with a genuine score: at FAR 0.1 (one of ten)
     * the tied group cannot be half accepted, so the threshold goes above it
     * and the genuine 0.9 is lost too. */
    static const double gen[] = {0.9, 0.95, 0.5};
    static const double imp[] = {0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    make_set(&s, gen, 3, imp, 10);
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 0.1, &t), LFR_OK);
    assert_near(t.threshold, 0.925, EPS);
    assert_near(t.tar, 1.0 / 3.0, EPS);
    assert_near(t.far, 0.0, EPS);
    /* At FAR 0.2 the whole tied group fits, and so does everything down to
     * the genuine 0.5: the threshold falls to just above the 0.1 impostors. */
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 0.2, &t), LFR_OK);
    assert_near(t.threshold, 0.3, EPS);
    assert_near(t.tar, 1.0, EPS);
    assert_near(t.far, 0.2, EPS);
}

static void test_eer_known(void **state)
{
    (void)state;
    scoreset s;
    lfr__eval_eer_point e;
    /* 0.1i 0.2i 0.3i 0.6g 0.65i 0.7g 0.8g 0.9g: accepting from 0.65 gives
     * FMR = FNMR = 1/4 exactly. */
    static const double g1[] = {0.6, 0.7, 0.8, 0.9}, i1[] = {0.1, 0.2, 0.3, 0.65};
    make_set(&s, g1, 4, i1, 4);
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_near(e.eer, 0.25, EPS);
    assert_near(e.threshold, 0.625, EPS);
    assert_near(e.fmr, 0.25, EPS);
    assert_near(e.fnmr, 0.25, EPS);

    /* 0.1i 0.5g 0.6i 0.8g 0.9g: (FMR, FNMR) goes (1/2, 1/3) -> (0, 1/3); the
     * segment crosses FMR = FNMR at 1/3. The nearer candidate is 0.55
     * (|1/2 - 1/3| = 1/6 against 1/3). */
    static const double g2[] = {0.5, 0.8, 0.9}, i2[] = {0.1, 0.6};
    make_set(&s, g2, 3, i2, 2);
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_near(e.eer, 1.0 / 3.0, EPS);
    assert_near(e.threshold, 0.55, EPS);
    assert_near(e.fmr, 0.5, EPS);
    assert_near(e.fnmr, 1.0 / 3.0, EPS);
}

static void test_all_genuine(void **state)
{
    (void)state;
    static const double gen[] = {0.1, 0.5, 0.9};
    scoreset s;
    make_set(&s, gen, 3, NULL, 0);
    double auc;
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_true(isnan(auc));
    /* Accept everything: lowest - 1. */
    lfr__eval_rates r;
    assert_int_equal(lfr__eval_best_threshold(&s.d, &r), LFR_OK);
    assert_near(r.threshold, -0.9, EPS);
    assert_near(r.accuracy, 1.0, EPS);
    assert_near(r.fnmr, 0.0, EPS);
    assert_true(isnan(r.fmr));
    lfr__eval_tar t;
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 1e-3, &t), LFR_OK);
    assert_near(t.threshold, -0.9, EPS);
    assert_near(t.tar, 1.0, EPS);
    assert_true(isnan(t.far));
    assert_int_equal(t.supported, 0);
    lfr__eval_eer_point e;
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_true(isnan(e.eer) && isnan(e.threshold));
    lfr__eval_roc_point pts[8];
    size_t n;
    assert_int_equal(lfr__eval_roc(&s.d, pts, 8, &n), LFR_ERR_INVALID);
    assert_int_equal(lfr__eval_rates_at(&s.d, 0.5, &r), LFR_OK);
    assert_near(r.fnmr, 1.0 / 3.0, EPS);
    assert_true(isnan(r.fmr));
    lfr__eval_summary sum;
    assert_int_equal(lfr__eval_summarize(&s.d, 0, &sum), LFR_OK);
    assert_int_equal(sum.n_genuine, 3);
    assert_int_equal(sum.n_impostor, 0);
    assert_int_equal(sum.has_kfold, 0);
}

static void test_all_impostor(void **state)
{
    (void)state;
    static const double imp[] = {0.1, 0.5, 0.9};
    scoreset s;
    make_set(&s, NULL, 0, imp, 3);
    double auc;
    assert_int_equal(lfr__eval_auc(&s.d, &auc), LFR_OK);
    assert_true(isnan(auc));
    /* Reject everything: highest + 1. */
    lfr__eval_rates r;
    assert_int_equal(lfr__eval_best_threshold(&s.d, &r), LFR_OK);
    assert_near(r.threshold, 1.9, EPS);
    assert_near(r.accuracy, 1.0, EPS);
    assert_near(r.fmr, 0.0, EPS);
    assert_true(isnan(r.fnmr));
    lfr__eval_tar t;
    assert_int_equal(lfr__eval_tar_at_far(&s.d, 1e-2, &t), LFR_OK);
    assert_near(t.threshold, 1.9, EPS);
    assert_true(isnan(t.tar));
    assert_near(t.far, 0.0, EPS);
    assert_int_equal(t.supported, 0);
    lfr__eval_eer_point e;
    assert_int_equal(lfr__eval_eer(&s.d, &e), LFR_OK);
    assert_true(isnan(e.eer));
}

static void test_empty_and_invalid(void **state)
{
    (void)state;
    lfr__eval_data d = {NULL, NULL, NULL, 0};
    double auc;
    assert_int_equal(lfr__eval_auc(&d, &auc), LFR_OK);
    assert_true(isnan(auc));
    lfr__eval_rates r;
    assert_int_equal(lfr__eval_best_threshold(&d, &r), LFR_OK);
    assert_true(isnan(r.threshold) && isnan(r.accuracy));
    lfr__eval_tar t;
    assert_int_equal(lfr__eval_tar_at_far(&d, 1e-3, &t), LFR_OK);
    assert_true(isnan(t.threshold) && isnan(t.tar) && isnan(t.far));
    lfr__eval_summary sum;
    assert_int_equal(lfr__eval_summarize(&d, 0, &sum), LFR_OK);
    assert_int_equal(sum.n, 0);
    lfr__eval_kfold kf;
    assert_int_equal(lfr__eval_kfold_accuracy(&d, 10, &kf), LFR_ERR_INVALID); /* no folds */

    /* NaN and infinite scores are refused until a policy is applied. */
    double score[] = {0.5, NAN, 0.2};
    unsigned char same[] = {1, 1, 0};
    lfr__eval_data bad = {score, same, NULL, 3};
    assert_int_equal(lfr__eval_auc(&bad, &auc), LFR_ERR_INVALID);
    assert_non_null(strstr(lfr_errmsg(), "score 1"));
    score[1] = INFINITY;
    assert_int_equal(lfr__eval_best_threshold(&bad, &r), LFR_ERR_INVALID);
}

static void test_missing_policy(void **state)
{
    (void)state;
    double score[] = {0.9, NAN, 0.2, NAN, 0.7};
    unsigned char same[] = {1, 1, 0, 0, 1};
    int fold[] = {0, 1, 2, 3, 4};
    size_t n, missing;
    assert_int_equal(
        lfr__eval_missing_apply(LFR__EVAL_MISSING_FAIL, 0, score, same, fold, 5, &n, &missing),
        LFR_ERR_INVALID);
    assert_int_equal(
        lfr__eval_missing_apply(LFR__EVAL_MISSING_SCORE, NAN, score, same, fold, 5, &n, &missing),
        LFR_ERR_INVALID);
    assert_int_equal(lfr__eval_missing_apply(7, 0, score, same, fold, 5, &n, &missing),
                     LFR_ERR_INVALID);

    double s2[5];
    memcpy(s2, score, sizeof s2);
    assert_int_equal(
        lfr__eval_missing_apply(LFR__EVAL_MISSING_SCORE, -1.0, s2, same, fold, 5, &n, &missing),
        LFR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(missing, 2);
    assert_near(s2[1], -1.0, 0);
    assert_near(s2[3], -1.0, 0);
    /* The missing genuine pair now counts as a wrong decision at any sane
     * threshold, the missing impostor pair as a right one. */
    lfr__eval_data d = {s2, same, NULL, 5};
    lfr__eval_rates r;
    assert_int_equal(lfr__eval_rates_at(&d, 0.5, &r), LFR_OK);
    assert_int_equal(r.n_false_nonmatch, 1);
    assert_int_equal(r.n_false_match, 0);

    assert_int_equal(
        lfr__eval_missing_apply(LFR__EVAL_MISSING_DROP, 0, score, same, fold, 5, &n, NULL), LFR_OK);
    assert_int_equal(n, 3);
    assert_near(score[0], 0.9, 0);
    assert_near(score[1], 0.2, 0);
    assert_near(score[2], 0.7, 0);
    assert_int_equal(same[1], 0);
    assert_int_equal(fold[1], 2);
    assert_int_equal(fold[2], 4);
}

/*
 * Ten folds of two genuine and two impostor comparisons. Folds 0-8 are
 * {0.8g 0.9g 0.1i 0.2i}; fold 9 is {0.15g 0.9g 0.1i 0.85i}.
 *  - Testing fold k < 9, training holds 0.1i x9, 0.15g, 0.2i x8, 0.8g x8,
 *    0.85i, 0.9g x9: accepting from 0.8 gets 17 + 17 = 34 of 36 right and
 *    is the only best candidate, threshold 0.5; fold k is then 4/4 right.
 *  - Testing fold 9, training is nine clean folds: threshold 0.5 again;
 *    fold 9 loses 0.15g and 0.85i: 2/4.
 * Mean (9 + 0.5) / 10 = 0.95; squared deviations 9 x 0.0025 + 0.2025 =
 * 0.225; sample std sqrt(0.225 / 9) = 0.158113883, population std 0.15.
 */
static void test_kfold_hand(void **state)
{
    (void)state;
    double score[40];
    unsigned char same[40];
    int fold[40];
    static const double clean[4] = {0.8, 0.9, 0.1, 0.2}, odd[4] = {0.15, 0.9, 0.1, 0.85};
    /* Interleave folds so nothing depends on the order of the input. */
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        for (int k = 9; k >= 0; k--) {
            score[n] = k == 9 ? odd[i] : clean[i];
            same[n] = i < 2;
            fold[n] = k;
            n++;
        }
    }
    lfr__eval_data d = {score, same, fold, n};
    lfr__eval_kfold kf;
    assert_int_equal(lfr__eval_kfold_accuracy(&d, 10, &kf), LFR_OK);
    assert_int_equal(kf.n_folds, 10);
    for (int k = 0; k < 10; k++) {
        assert_near(kf.threshold[k], 0.5, EPS);
        assert_int_equal(kf.n_test[k], 4);
        assert_int_equal(kf.n_correct[k], k == 9 ? 2 : 4);
    }
    assert_near(kf.mean, 0.95, EPS);
    assert_near(kf.std, sqrt(0.025), EPS);
    assert_near(kf.std_pop, 0.15, EPS);

    /* Bad fold arguments. */
    assert_int_equal(lfr__eval_kfold_accuracy(&d, 9, &kf), LFR_ERR_INVALID);  /* fold 9 */
    assert_int_equal(lfr__eval_kfold_accuracy(&d, 11, &kf), LFR_ERR_INVALID); /* empty */
    assert_int_equal(lfr__eval_kfold_accuracy(&d, 1, &kf), LFR_ERR_INVALID);
    assert_int_equal(lfr__eval_kfold_accuracy(&d, LFR__EVAL_MAX_FOLDS + 1, &kf), LFR_ERR_INVALID);
}

/* Adjacent doubles and the ends of the range still get a threshold that
 * separates them. */
static void test_extreme_scores(void **state)
{
    (void)state;
    const double up = nextafter(0.5, 1.0);
    const double gen[] = {up, DBL_MAX}, imp[] = {0.5, -DBL_MAX};
    scoreset s;
    make_set(&s, gen, 2, imp, 2);
    lfr__eval_rates r;
    assert_int_equal(lfr__eval_best_threshold(&s.d, &r), LFR_OK);
    assert_true(r.threshold > 0.5 && r.threshold <= up);
    assert_near(r.accuracy, 1.0, 0);
    lfr__eval_roc_point roc[5];
    size_t n;
    assert_int_equal(lfr__eval_roc(&s.d, roc, 5, &n), LFR_OK);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(roc[i].threshold < roc[i - 1].threshold);
    assert_int_equal(lfr__eval_roc(&s.d, roc, 4, &n), LFR_ERR_INVALID);
    assert_int_equal(n, 5);
}

/* ---- Metrics against naive references on random data ---------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static double naive_auc(const lfr__eval_data *d)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!d->same[i]) continue;
        for (size_t j = 0; j < d->n; j++) {
            if (d->same[j]) continue;
            den += 1;
            num += d->score[i] > d->score[j] ? 1.0 : d->score[i] == d->score[j] ? 0.5 : 0.0;
        }
    }
    return num / den;
}

static size_t naive_correct(const lfr__eval_data *d, double t)
{
    size_t c = 0;
    for (size_t i = 0; i < d->n; i++)
        c += (d->score[i] >= t) == (d->same[i] != 0);
    return c;
}

static void test_random_vs_naive(void **state)
{
    (void)state;
    enum { N = 300 };
    static double score[N];
    static unsigned char same[N];
    static lfr__eval_roc_point roc[N + 1];
    rng_state = 42;
    for (int round = 0; round < 20; round++) {
        /* Coarse scores (many ties), genuine shifted up by a varying amount. */
        size_t n = 20 + rng() % (N - 20);
        for (size_t i = 0; i < n; i++) {
            same[i] = rng() % 3 == 0;
            score[i] = (double)(int)(rng() % 41 + (same[i] ? (unsigned)round : 0u)) / 40.0 - 0.5;
        }
        same[0] = 1;
        same[1] = 0;
        lfr__eval_data d = {score, same, NULL, n};
        double auc;
        assert_int_equal(lfr__eval_auc(&d, &auc), LFR_OK);
        assert_near(auc, naive_auc(&d), 1e-12);

        /* The trapezoidal area under the ROC points is the same AUC. */
        size_t np;
        assert_int_equal(lfr__eval_roc(&d, roc, N + 1, &np), LFR_OK);
        assert_near(roc[0].fmr, 0, 0);
        assert_near(roc[np - 1].tmr, 1, 0);
        double area = 0;
        for (size_t p = 1; p < np; p++)
            area += (roc[p].fmr - roc[p - 1].fmr) * (roc[p].tmr + roc[p - 1].tmr) / 2;
        assert_near(area, auc, 1e-12);

        /* No threshold, tried at every score and between, beats the best. */
        lfr__eval_rates best, r;
        assert_int_equal(lfr__eval_best_threshold(&d, &best), LFR_OK);
        size_t best_c = naive_correct(&d, best.threshold);
        assert_int_equal(best_c, n - best.n_false_match - best.n_false_nonmatch);
        assert_int_equal(lfr__eval_rates_at(&d, best.threshold, &r), LFR_OK);
        assert_near(r.accuracy, best.accuracy, 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(naive_correct(&d, score[i]) <= best_c);
            assert_true(naive_correct(&d, score[i] + 1e-9) <= best_c);
        }

        /* TAR at FAR agrees with rates at its threshold, and nothing lower in
         * the ROC meets the target. */
        for (int f = 0; f < 3; f++) {
            double target = f == 0 ? 0.01 : f == 1 ? 0.1 : 0.3;
            lfr__eval_tar t;
            assert_int_equal(lfr__eval_tar_at_far(&d, target, &t), LFR_OK);
            assert_int_equal(lfr__eval_rates_at(&d, t.threshold, &r), LFR_OK);
            assert_near(t.far, r.fmr, 0);
            assert_near(t.tar, 1 - r.fnmr, 1e-15);
            assert_true(t.far <= target);
            for (size_t p = 0; p < np; p++)
                if (roc[p].threshold < t.threshold) assert_true(roc[p].fmr > target);
        }
    }
}

/* ---- Pairs parser ------------------------------------------------------------ */

static int parse_str(const char *text, lfr__eval_pairs *p)
{
    return lfr__eval_pairs_parse(text, strlen(text), "t.txt", p);
}

static void test_pairs_parse_ok(void **state)
{
    (void)state;
    lfr__eval_pairs p;
    /* Tabs and spaces, CRLF, blank lines, no final newline. */
    const char *text = "2\t1\r\n"
                       "Ann_B\t1\t12\r\n"
                       "\n"
                       "Ann_B 2   Carl  3\n"
                       "   \t\n"
                       "Dee 12 345\n"
                       "Ed 1\tFlo-O'Neil 1";
    assert_int_equal(parse_str(text, &p), LFR_OK);
    assert_int_equal(p.n_pairs, 4);
    assert_int_equal(p.n_folds, 2);
    assert_int_equal(p.n_per_class, 1);
    assert_string_equal(p.pair[0].path_a, "Ann_B/Ann_B_0001.jpg");
    assert_string_equal(p.pair[0].path_b, "Ann_B/Ann_B_0012.jpg");
    assert_string_equal(p.pair[1].path_a, "Ann_B/Ann_B_0002.jpg");
    assert_string_equal(p.pair[1].path_b, "Carl/Carl_0003.jpg");
    assert_string_equal(p.pair[2].path_b, "Dee/Dee_0345.jpg");
    assert_string_equal(p.pair[3].path_b, "Flo-O'Neil/Flo-O'Neil_0001.jpg");
    static const int same[] = {1, 0, 1, 0}, fold[] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p.pair[i].same, same[i]);
        assert_int_equal(p.pair[i].fold, fold[i]);
    }

    /* Distinct images: Ann_B 1, 12, 2; Carl 3; Dee 12, 345; Ed 1; Flo 1. */
    lfr__eval_images im;
    assert_int_equal(lfr__eval_pairs_images(&p, &im), LFR_OK);
    assert_int_equal(im.n_images, 8);
    for (size_t i = 1; i < im.n_images; i++)
        assert_true(strcmp(im.path[i - 1], im.path[i]) < 0);
    for (size_t i = 0; i < p.n_pairs; i++) {
        assert_string_equal(im.path[im.index_a[i]], p.pair[i].path_a);
        assert_string_equal(im.path[im.index_b[i]], p.pair[i].path_b);
    }
    assert_string_equal(im.path[0], "Ann_B/Ann_B_0001.jpg");
    lfr__eval_images_free(&im);
    lfr__eval_images_free(&im); /* twice is fine */
    lfr__eval_pairs_free(&p);
    lfr__eval_pairs_free(&p);
    lfr__eval_pairs_free(NULL);

    /* View 1 style: one count, one fold. */
    assert_int_equal(parse_str("2\nA 1 2\nB 1 3\nC 1 D 2\nE 1 F 1\n", &p), LFR_OK);
    assert_int_equal(p.n_folds, 1);
    assert_int_equal(p.n_pairs, 4);
    assert_int_equal(p.pair[1].same, 1);
    assert_int_equal(p.pair[2].same, 0);
    assert_int_equal(p.pair[3].fold, 0);
    lfr__eval_pairs_free(&p);
}

/* Each malformed text must fail with LFR_ERR_FORMAT, a zeroed result and a
 * message starting with the expected "file:line" (or "file:" alone). */
static void test_pairs_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *where;
        const char *says;
    } cases[] = {
        {"", "t.txt: ", "no header"},
        {"\n\n", "t.txt: ", "no header"},
        {"x 1\nA 1 2\nB 1 C 2\n", "t.txt:1:", "not a decimal"},
        {"1 x\nA 1 2\nB 1 C 2\n", "t.txt:1:", "not a decimal"},
        {"0 1\n", "t.txt:1:", "out of range"},
        {"65 1\n", "t.txt:1:", "out of range"},
        {"1 0\n", "t.txt:1:", "out of range"},
        {"1 -3\n", "t.txt:1:", "out of range"},
        {"1 1 1\nA 1 2\nB 1 C 2\n", "t.txt:1:", "header"},
        {"10 300\nA 1 2\nB 1 C 2\n", "t.txt:1:", "more than"},
        {"1 99999999999999999999\n", "t.txt:1:", "out of range"},
        /* Too few lines. */
        {"1 1\nA 1 2\n", "t.txt:2:", "ends after 1 of the 2"},
        {"2 1\nA 1 2\nB 1 C 2\nD 1 2\n", "t.txt:4:", "ends after 3 of the 4"},
        /* Missing or extra fields. */
        {"1 1\nA 1\nB 1 C 2\n", "t.txt:2:", "needs 3 fields"},
        {"1 1\nA 1 2 3\nB 1 C 2\n", "t.txt:2:", "found 4"},
        {"1 1\nA 1 2\nB 1 C\n", "t.txt:3:", "needs 4 fields"},
        {"1 1\nA 1 2\nB 1 C 2 D 5\n", "t.txt:3:", "at least 5"},
        /* Numbers. */
        {"1 1\nA one 2\nB 1 C 2\n", "t.txt:2:", "not a decimal"},
        {"1 1\nA 1.5 2\nB 1 C 2\n", "t.txt:2:", "not a decimal"},
        {"1 1\nA 1 2a\nB 1 C 2\n", "t.txt:2:", "not a decimal"},
        {"1 1\nA 1 2\nB 1 C -\n", "t.txt:3:", "not a decimal"},
        {"1 1\nA 0 2\nB 1 C 2\n", "t.txt:2:", "out of range"},
        {"1 1\nA 1 -2\nB 1 C 2\n", "t.txt:2:", "out of range"},
        {"1 1\nA 1 2\nB 1 C 10000\n", "t.txt:3:", "out of range"},
        /* Protocol consistency and path safety. */
        {"1 1\nA 3 3\nB 1 C 2\n", "t.txt:2:", "with itself"},
        {"1 1\nA 1 2\nB 1 B 2\n", "t.txt:3:", "names B twice"},
        {"1 1\n../x 1 2\nB 1 C 2\n", "t.txt:2:", "path separator"},
        {"1 1\n.. 1 2\nB 1 C 2\n", "t.txt:2:", "not a name"},
        {"1 1\nA 1 2\nB\\x 1 C 2\n", "t.txt:3:", "path separator"},
        /* Too many lines. */
        {"1 1\nA 1 2\nB 1 C 2\nD 1 2\n", "t.txt:4:", "more lines"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        lfr__eval_pairs p;
        int rc = parse_str(cases[i].text, &p);
        const char *msg = lfr_errmsg();
        if (rc != LFR_ERR_FORMAT || strncmp(msg, cases[i].where, strlen(cases[i].where)) != 0 ||
            !strstr(msg, cases[i].says))
            fail_msg("case %zu (\"%s\"): status %d, message \"%s\"", i, cases[i].text, rc, msg);
        assert_null(p.pair);
        assert_int_equal(p.n_pairs, 0);
    }

    /* A NUL byte inside a line. */
    static const char nul[] = "1 1\nA 1 2\nB 1\0 C 2\n";
    lfr__eval_pairs p;
    assert_int_equal(lfr__eval_pairs_parse(nul, sizeof nul - 1, "t.txt", &p), LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "t.txt:3: NUL"));
}

static void test_pairs_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/lfr_test_eval_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "1 2\nA 1 2\nA 2 3\nA 1 B 1\nB 1 C 1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    lfr__eval_pairs p;
    assert_int_equal(lfr__eval_pairs_load(path, &p), LFR_OK);
    assert_int_equal(p.n_pairs, 4);
    lfr__eval_images im;
    assert_int_equal(lfr__eval_pairs_images(&p, &im), LFR_OK);
    assert_int_equal(im.n_images, 5); /* A1 A2 A3 B1 C1 */
    assert_int_equal(im.index_a[2], im.index_a[0]);
    assert_int_equal(im.index_b[2], im.index_a[3]);
    lfr__eval_images_free(&im);
    lfr__eval_pairs_free(&p);
    unlink(path);

    /* A missing file is an I/O error naming it. */
    assert_int_equal(lfr__eval_pairs_load(path, &p), LFR_ERR_IO);
    assert_non_null(strstr(lfr_errmsg(), path));
    assert_null(p.pair);
}

static void test_pairs_real(void **state)
{
    (void)state;
    const char *data = env_or("LFR_DATA", "../shared/data");
    char path[4096];
    snprintf(path, sizeof path, "%s/lfw/pairs.txt", data);
    if (!file_exists(path)) {
        print_message("[  SKIP    ] %s not found (set LFR_DATA)\n", path);
        skip();
    }
    lfr__eval_pairs p;
    if (lfr__eval_pairs_load(path, &p) != LFR_OK) fail_msg("%s", lfr_errmsg());
    assert_int_equal(p.n_pairs, 6000);
    assert_int_equal(p.n_folds, 10);
    assert_int_equal(p.n_per_class, 300);
    size_t n_same = 0, per_fold[10] = {0};
    for (size_t i = 0; i < p.n_pairs; i++) {
        n_same += p.pair[i].same != 0;
        assert_true(p.pair[i].fold >= 0 && p.pair[i].fold < 10);
        per_fold[p.pair[i].fold]++;
    }
    assert_int_equal(n_same, 3000);
    for (int k = 0; k < 10; k++)
        assert_int_equal(per_fold[k], 600);
    assert_string_equal(p.pair[0].path_a, "Abel_Pacheco/Abel_Pacheco_0001.jpg");
    assert_string_equal(p.pair[0].path_b, "Abel_Pacheco/Abel_Pacheco_0004.jpg");
    assert_int_equal(p.pair[300].same, 0);
    assert_int_equal(p.pair[600].same, 1);
    assert_int_equal(p.pair[600].fold, 1);

    /* Every distinct image exists under the LFW root. */
    lfr__eval_images im;
    assert_int_equal(lfr__eval_pairs_images(&p, &im), LFR_OK);
    print_message("pairs.txt: %zu pairs, %zu distinct images\n", p.n_pairs, im.n_images);
    assert_int_equal(im.n_images, 7701);
    size_t missing = 0;
    for (size_t i = 0; i < im.n_images; i++) {
        char img[4096];
        snprintf(img, sizeof img, "%s/lfw/%s", data, im.path[i]);
        if (!file_exists(img) && missing++ < 3) print_error("missing image %s\n", img);
    }
    assert_int_equal(missing, 0);
    lfr__eval_images_free(&im);
    lfr__eval_pairs_free(&p);
}

/* ---- Reference figures ------------------------------------------------------- */

typedef struct ref_scores {
    double score[6000];
    unsigned char same[6000];
    int fold[6000];
    size_t n;
} ref_scores;

/* Read "pair_index fold same|diff cosine" rows (after a header line). */
static int load_ref_tsv(const char *path, ref_scores *rs)
{
    uint8_t *buf;
    size_t size;
    if (lfr__read_file(path, 1 << 20, &buf, &size) != LFR_OK) return -1;
    char *text = realloc(buf, size + 1);
    if (!text) {
        free(buf);
        return -1;
    }
    text[size] = '\0';
    rs->n = 0;
    char *line = strchr(text, '\n'); /* skip the header */
    int rc = 0;
    while (line && *++line) {
        char *end;
        errno = 0;
        long idx = strtol(line, &end, 10);
        long fold = strtol(end, &end, 10);
        while (*end == '\t' || *end == ' ')
            end++;
        int same = strncmp(end, "same", 4) == 0;
        if (!same && strncmp(end, "diff", 4) != 0) rc = -1;
        double cosine = strtod(end + 4, &end);
        if (errno || rc || idx != (long)rs->n || fold < 1 || fold > 10 || rs->n >= 6000 ||
            (*end != '\n' && *end != '\0')) {
            rc = -1;
            break;
        }
        rs->score[rs->n] = cosine;
        rs->same[rs->n] = (unsigned char)same;
        rs->fold[rs->n] = (int)fold - 1;
        rs->n++;
        line = strchr(line, '\n');
    }
    free(text);
    return rc;
}

static const char *reference_dir(char *buf, size_t cap)
{
    const char *r = getenv("LFR_REFERENCE");
    if (r && *r) return r;
    snprintf(buf, cap, "%s/../reference", env_or("LFR_DATA", "../shared/data"));
    struct stat st;
    if (stat(buf, &st) == 0) return buf;
    const char *src = getenv("LFR_SOURCE");
    if (src && *src) snprintf(buf, cap, "%s/../shared/reference", src);
    return buf;
}

/* Round to `places` decimals the way a printed table does. */
static double rounded(double x, int places)
{
    double s = pow(10, places);
    return round(x * s) / s;
}

static void check_reference(const char *file, double acc, double std, double auc, double tar)
{
    char dirbuf[4096], path[4200];
    const char *dir = reference_dir(dirbuf, sizeof dirbuf);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!file_exists(path)) {
        print_message("[  SKIP    ] %s not found (set LFR_REFERENCE)\n", path);
        skip();
    }
    static ref_scores rs;
    if (load_ref_tsv(path, &rs) != 0) fail_msg("%s: cannot parse", path);
    assert_int_equal(rs.n, 6000);

    /* The rows follow pairs.txt when it is there. */
    char pairs_path[4096];
    snprintf(pairs_path, sizeof pairs_path, "%s/lfw/pairs.txt",
             env_or("LFR_DATA", "../shared/data"));
    lfr__eval_pairs p;
    if (file_exists(pairs_path) && lfr__eval_pairs_load(pairs_path, &p) == LFR_OK) {
        for (size_t i = 0; i < rs.n; i++) {
            assert_int_equal(rs.fold[i], p.pair[i].fold);
            assert_int_equal(rs.same[i], p.pair[i].same);
        }
        lfr__eval_pairs_free(&p);
    }

    lfr__eval_data d = {rs.score, rs.same, rs.fold, rs.n};
    lfr__eval_summary s;
    if (lfr__eval_summarize(&d, 10, &s) != LFR_OK) fail_msg("%s", lfr_errmsg());
    print_message("%s:\n  10-fold accuracy %.4f %% +- %.4f (population std; sample std %.4f)\n"
                  "  AUC %.6f  EER %.4f %% at %.4f  best accuracy %.4f %% at %.6f\n",
                  file, 100 * s.kfold.mean, 100 * s.kfold.std_pop, 100 * s.kfold.std, s.auc,
                  100 * s.eer.eer, s.eer.threshold, 100 * s.best.accuracy, s.best.threshold);
    print_message("  fold thresholds:");
    for (int k = 0; k < 10; k++)
        print_message(" %.4f", s.kfold.threshold[k]);
    print_message("\n  fold correct (of 600):");
    for (int k = 0; k < 10; k++)
        print_message(" %zu", s.kfold.n_correct[k]);
    print_message("\n");
    for (int i = 0; i < LFR__EVAL_N_FAR; i++)
        print_message("  TAR %.4f %% at FAR %g (threshold %.6f, FAR %.5f, supported %d)\n",
                      100 * s.tar[i].tar, s.tar[i].far_target, s.tar[i].threshold, s.tar[i].far,
                      s.tar[i].supported);

    /* The published table: "acc % ± std", AUC, TAR at FAR 1e-3 in %. Its ±
     * is the population standard deviation (numpy's default); the sample
     * one is 0.03 higher and does not round to it. */
    assert_near(rounded(100 * s.kfold.mean, 2), acc, 1e-9);
    assert_near(rounded(100 * s.kfold.std_pop, 2), std, 1e-9);
    assert_near(rounded(s.auc, 4), auc, 1e-9);
    assert_near(lfr__eval_far_targets[1], 1e-3, 0);
    assert_near(rounded(100 * s.tar[1].tar, 1), tar, 1e-9);
    assert_int_equal(s.tar[1].supported, 1);
    assert_int_equal(s.tar[2].supported, 0); /* 3,000 impostors cannot show 1e-4 */
}

static void test_reference_blaze(void **state)
{
    (void)state;
    check_reference("lfw_scores_tflite_mobilefacenet_blaze.tsv", 99.00, 0.48, 0.9988, 97.8);
}

static void test_reference_5pt(void **state)
{
    (void)state;
    check_reference("lfw_scores_tflite_mobilefacenet.tsv", 99.12, 0.59, 0.9979, 98.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect_separation),
        cmocka_unit_test(test_all_ties),
        cmocka_unit_test(test_auc_interleaved),
        cmocka_unit_test(test_rates_at),
        cmocka_unit_test(test_best_threshold_ties),
        cmocka_unit_test(test_tar_at_far),
        cmocka_unit_test(test_tar_ties_at_threshold),
        cmocka_unit_test(test_eer_known),
        cmocka_unit_test(test_all_genuine),
        cmocka_unit_test(test_all_impostor),
        cmocka_unit_test(test_empty_and_invalid),
        cmocka_unit_test(test_missing_policy),
        cmocka_unit_test(test_kfold_hand),
        cmocka_unit_test(test_extreme_scores),
        cmocka_unit_test(test_random_vs_naive),
        cmocka_unit_test(test_pairs_parse_ok),
        cmocka_unit_test(test_pairs_malformed),
        cmocka_unit_test(test_pairs_load_file),
        cmocka_unit_test(test_pairs_real),
        cmocka_unit_test(test_reference_blaze),
        cmocka_unit_test(test_reference_5pt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
