/*
 * 1:1 verification metrics: error rates at a threshold, the best-accuracy
 * threshold, k-fold accuracy (the LFW protocol), exact AUC, TAR at a FAR
 * target, the EER and the ROC curve.
 *
 * Everything works on one sorted view of the scores, a "curve": the distinct
 * scores in ascending order with how many genuine and impostor comparisons
 * sit at each. Candidate threshold j (0 <= j <= k for k distinct scores)
 * accepts distinct scores j .. k-1, so sweeping j from 0 to k visits every
 * distinct decision the data allows, in O(k) after an O(n log n) sort.
 * k-fold accuracy sorts once and rebuilds the curve without the held-out fold
 * in O(n) per fold.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "util/util.h"

const double lfr__eval_far_targets[LFR__EVAL_N_FAR] = {1e-2, 1e-3, 1e-4};

typedef struct item {
    double score;
    int same;
    int fold;
} item;

typedef struct curve {
    double *v;  /* k distinct scores, ascending */
    size_t *g;  /* genuine comparisons at v[j] */
    size_t *im; /* impostor comparisons at v[j] */
    size_t k;
    size_t n_gen;
    size_t n_imp;
} curve;

/* The sorted comparisons and room for a curve over them. */
typedef struct workspace {
    item *it;
    size_t n;
    curve c;
} workspace;

static int cmp_item(const void *a, const void *b)
{
    double x = ((const item *)a)->score, y = ((const item *)b)->score;
    return (x > y) - (x < y);
}

static void ws_free(workspace *w)
{
    free(w->it);
    free(w->c.v);
    free(w->c.g);
    free(w->c.im);
    memset(w, 0, sizeof *w);
}

/* Check d, copy and sort it. */
static int ws_init(const lfr__eval_data *d, workspace *w)
{
    memset(w, 0, sizeof *w);
    if (!d || (d->n && (!d->score || !d->same)))
        return lfr__err(LFR_ERR_INVALID, "eval: missing score or label array");
    for (size_t i = 0; i < d->n; i++)
        if (!isfinite(d->score[i]))
            return lfr__err(LFR_ERR_INVALID,
                            "eval: score %zu is %s; apply a missing-score "
                            "policy first",
                            i, isnan(d->score[i]) ? "NaN (missing)" : "infinite");
    size_t n = d->n ? d->n : 1;
    w->it = malloc(n * sizeof *w->it);
    w->c.v = malloc(n * sizeof *w->c.v);
    w->c.g = malloc(n * sizeof *w->c.g);
    w->c.im = malloc(n * sizeof *w->c.im);
    if (!w->it || !w->c.v || !w->c.g || !w->c.im) {
        ws_free(w);
        return lfr__err(LFR_ERR_NOMEM, "eval: out of memory for %zu scores", d->n);
    }
    for (size_t i = 0; i < d->n; i++) {
        w->it[i].score = d->score[i];
        w->it[i].same = d->same[i] != 0;
        w->it[i].fold = d->fold ? d->fold[i] : 0;
    }
    w->n = d->n;
    qsort(w->it, w->n, sizeof *w->it, cmp_item);
    return LFR_OK;
}

/* Group the sorted items into w->c, leaving out fold `skip` (-1: none). */
static void ws_curve(workspace *w, int skip)
{
    curve *c = &w->c;
    c->k = c->n_gen = c->n_imp = 0;
    for (size_t i = 0; i < w->n; i++) {
        const item *t = &w->it[i];
        if (t->fold == skip) continue;
        if (c->k == 0 || c->v[c->k - 1] != t->score) {
            c->v[c->k] = t->score;
            c->g[c->k] = c->im[c->k] = 0;
            c->k++;
        }
        if (t->same) {
            c->g[c->k - 1]++;
            c->n_gen++;
        } else {
            c->im[c->k - 1]++;
            c->n_imp++;
        }
    }
}

/* ---- Candidate thresholds ------------------------------------------------ */

static double below(double x)
{
    double t = x - 1.0;
    return t < x ? t : nextafter(x, -INFINITY);
}

static double above(double x)
{
    double t = x + 1.0;
    return t > x ? t : nextafter(x, INFINITY);
}

/* A threshold strictly above a and at most b, so that "score >= t" accepts
 * b and rejects a; halving each term first cannot overflow. */
static double midpoint(double a, double b)
{
    double m = a * 0.5 + b * 0.5;
    return m > a && m <= b ? m : b;
}

/* Candidate threshold j: accepts distinct scores j .. k-1. */
static double candidate(const curve *c, size_t j)
{
    if (c->k == 0) return NAN;
    if (j == 0) return below(c->v[0]);
    if (j == c->k) return above(c->v[c->k - 1]);
    return midpoint(c->v[j - 1], c->v[j]);
}

static double ratio(size_t num, size_t den)
{
    return den ? (double)num / (double)den : NAN;
}

/* Fill rates from counts: fm impostors accepted, fnm genuine rejected. */
static void set_rates(lfr__eval_rates *r, double t, size_t n_gen, size_t n_imp, size_t fm,
                      size_t fnm)
{
    r->threshold = t;
    r->n_genuine = n_gen;
    r->n_impostor = n_imp;
    r->n_false_match = fm;
    r->n_false_nonmatch = fnm;
    r->fmr = ratio(fm, n_imp);
    r->fnmr = ratio(fnm, n_gen);
    r->accuracy = ratio(n_gen + n_imp - fm - fnm, n_gen + n_imp);
}

/* ---- Metrics on a curve ---------------------------------------------------- */

/* The best-accuracy threshold: midpoint of the lowest run of consecutive
 * candidates that reach the highest number of correct decisions. */
static void curve_best(const curve *c, lfr__eval_rates *out)
{
    if (c->k == 0) {
        set_rates(out, NAN, 0, 0, 0, 0);
        return;
    }
    /* correct(j) = impostors below j + genuine at or above j. */
    size_t imp_below = 0, gen_below = 0, best = 0;
    size_t run_lo = 0, run_hi = 0, best_fm = 0, best_fnm = 0;
    int in_run = 0;
    for (size_t j = 0; j <= c->k; j++) {
        size_t correct = imp_below + (c->n_gen - gen_below);
        if (j == 0 || correct > best) {
            best = correct;
            run_lo = run_hi = j;
            best_fm = c->n_imp - imp_below;
            best_fnm = gen_below;
            in_run = 1;
        } else if (correct == best && in_run) {
            run_hi = j;
        } else {
            in_run = 0;
        }
        if (j < c->k) {
            imp_below += c->im[j];
            gen_below += c->g[j];
        }
    }
    double lo = candidate(c, run_lo), hi = candidate(c, run_hi);
    /* Any threshold between two candidates of the run makes the decisions
     * of one of the run's candidates, so the midpoint is as accurate. Which
     * one it matches decides the split between false matches and false
     * non-matches, so those are counted again at the midpoint. */
    double t = run_lo == run_hi ? lo : lo * 0.5 + hi * 0.5;
    size_t fm = best_fm, fnm = best_fnm;
    if (run_lo != run_hi) {
        fm = fnm = 0;
        for (size_t j = 0; j < c->k; j++) {
            if (c->v[j] >= t)
                fm += c->im[j];
            else
                fnm += c->g[j];
        }
    }
    set_rates(out, t, c->n_gen, c->n_imp, fm, fnm);
}

static double curve_auc(const curve *c)
{
    if (c->n_gen == 0 || c->n_imp == 0) return NAN;
    /* Sum over genuine scores of (impostors strictly below + half of those
     * tied). Counts are integers and exact; the half-counts are summed as
     * doubles times two to stay exact up to 2^53. */
    double twice = 0;
    size_t imp_below = 0;
    for (size_t j = 0; j < c->k; j++) {
        twice += (double)c->g[j] * (2.0 * (double)imp_below + (double)c->im[j]);
        imp_below += c->im[j];
    }
    return twice / (2.0 * (double)c->n_gen * (double)c->n_imp);
}

static void curve_tar(const curve *c, double target, lfr__eval_tar *out)
{
    out->far_target = target;
    out->supported = target > 0 && (double)c->n_imp * target >= 1.0 - 1e-9;
    if (c->k == 0) {
        out->threshold = out->tar = out->far = NAN;
        out->supported = 0;
        return;
    }
    /* Raise the threshold from "accept all" until the FAR meets the target. */
    size_t imp_acc = c->n_imp, gen_acc = c->n_gen, j = 0;
    if (c->n_imp > 0) {
        while (j < c->k && (double)imp_acc / (double)c->n_imp > target) {
            imp_acc -= c->im[j];
            gen_acc -= c->g[j];
            j++;
        }
    }
    out->threshold = candidate(c, j);
    out->tar = ratio(gen_acc, c->n_gen);
    out->far = ratio(imp_acc, c->n_imp);
}

static void curve_eer(const curve *c, lfr__eval_eer_point *out)
{
    out->eer = out->threshold = out->fmr = out->fnmr = NAN;
    if (c->n_gen == 0 || c->n_imp == 0) return;
    /* diff(j) = FMR(j) - FNMR(j) falls from 1 at j = 0 to -1 at j = k; find
     * the first j where it is <= 0 and interpolate with j - 1. */
    double ng = (double)c->n_gen, ni = (double)c->n_imp;
    size_t imp_acc = c->n_imp, gen_rej = 0;
    double fmr0 = 1, fnmr0 = 0;
    for (size_t j = 1; j <= c->k; j++) {
        imp_acc -= c->im[j - 1];
        gen_rej += c->g[j - 1];
        double fmr1 = (double)imp_acc / ni, fnmr1 = (double)gen_rej / ng;
        double d0 = fmr0 - fnmr0, d1 = fmr1 - fnmr1;
        if (d1 <= 0) {
            double s = d0 / (d0 - d1);
            out->eer = fmr0 + s * (fmr1 - fmr0);
            int take_j = -d1 < d0;
            out->threshold = candidate(c, take_j ? j : j - 1);
            out->fmr = take_j ? fmr1 : fmr0;
            out->fnmr = take_j ? fnmr1 : fnmr0;
            return;
        }
        fmr0 = fmr1;
        fnmr0 = fnmr1;
    }
}

/* ---- Public functions ----------------------------------------------------- */

int lfr__eval_missing_apply(int policy, double value, double *score, unsigned char *same, int *fold,
                            size_t n, size_t *n_out, size_t *n_missing_out)
{
    if (policy < LFR__EVAL_MISSING_FAIL || policy > LFR__EVAL_MISSING_DROP)
        return lfr__err(LFR_ERR_INVALID, "eval: unknown missing-score policy %d", policy);
    if (policy == LFR__EVAL_MISSING_SCORE && !isfinite(value))
        return lfr__err(LFR_ERR_INVALID, "eval: the score for missing comparisons must be finite");
    size_t missing = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(score[i])) {
            if (policy == LFR__EVAL_MISSING_DROP && k != i) {
                score[k] = score[i];
                same[k] = same[i];
                if (fold) fold[k] = fold[i];
            }
            k++;
            continue;
        }
        missing++;
        if (policy == LFR__EVAL_MISSING_FAIL)
            return lfr__err(LFR_ERR_INVALID, "eval: score %zu is missing (NaN)", i);
        if (policy == LFR__EVAL_MISSING_SCORE) {
            score[i] = value;
            k++;
        }
    }
    *n_out = k;
    if (n_missing_out) *n_missing_out = missing;
    return LFR_OK;
}

int lfr__eval_rates_at(const lfr__eval_data *d, double threshold, lfr__eval_rates *out)
{
    if (!d || (d->n && (!d->score || !d->same)) || isnan(threshold))
        return lfr__err(LFR_ERR_INVALID, "eval: missing data or NaN threshold");
    size_t n_gen = 0, n_imp = 0, fm = 0, fnm = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!isfinite(d->score[i]))
            return lfr__err(LFR_ERR_INVALID, "eval: score %zu is not finite", i);
        int accept = d->score[i] >= threshold;
        if (d->same[i]) {
            n_gen++;
            if (!accept) fnm++;
        } else {
            n_imp++;
            if (accept) fm++;
        }
    }
    set_rates(out, threshold, n_gen, n_imp, fm, fnm);
    return LFR_OK;
}

int lfr__eval_best_threshold(const lfr__eval_data *d, lfr__eval_rates *out)
{
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    curve_best(&w.c, out);
    ws_free(&w);
    return LFR_OK;
}

int lfr__eval_auc(const lfr__eval_data *d, double *auc_out)
{
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    *auc_out = curve_auc(&w.c);
    ws_free(&w);
    return LFR_OK;
}

int lfr__eval_tar_at_far(const lfr__eval_data *d, double far_target, lfr__eval_tar *out)
{
    if (!(far_target >= 0 && far_target <= 1))
        return lfr__err(LFR_ERR_INVALID, "eval: FAR target %g is not in [0, 1]", far_target);
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    curve_tar(&w.c, far_target, out);
    ws_free(&w);
    return LFR_OK;
}

int lfr__eval_eer(const lfr__eval_data *d, lfr__eval_eer_point *out)
{
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    curve_eer(&w.c, out);
    ws_free(&w);
    return LFR_OK;
}

int lfr__eval_roc(const lfr__eval_data *d, lfr__eval_roc_point *points, size_t cap, size_t *n_out)
{
    *n_out = 0;
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    const curve *c = &w.c;
    if (c->n_gen == 0 || c->n_imp == 0) {
        ws_free(&w);
        return lfr__err(LFR_ERR_INVALID, "eval: a ROC curve needs genuine and impostor scores");
    }
    *n_out = c->k + 1;
    if (c->k + 1 > cap) {
        ws_free(&w);
        return lfr__err(LFR_ERR_INVALID, "eval: ROC has %zu points, room for %zu", c->k + 1, cap);
    }
    /* From the highest threshold (nothing accepted) down. */
    size_t imp_acc = 0, gen_acc = 0;
    for (size_t p = 0; p <= c->k; p++) {
        size_t j = c->k - p;
        if (p > 0) {
            imp_acc += c->im[j];
            gen_acc += c->g[j];
        }
        points[p].threshold = candidate(c, j);
        points[p].fmr = (double)imp_acc / (double)c->n_imp;
        points[p].tmr = (double)gen_acc / (double)c->n_gen;
    }
    ws_free(&w);
    return LFR_OK;
}

/* k-fold accuracy over an initialised workspace (its curve is overwritten). */
static int ws_kfold(workspace *w, const lfr__eval_data *d, int n_folds, lfr__eval_kfold *out)
{
    memset(out, 0, sizeof *out);
    if (!d->fold) return lfr__err(LFR_ERR_INVALID, "eval: k-fold accuracy needs fold ids");
    if (n_folds < 2 || n_folds > LFR__EVAL_MAX_FOLDS)
        return lfr__err(LFR_ERR_INVALID, "eval: %d folds; need 2..%d", n_folds,
                        LFR__EVAL_MAX_FOLDS);
    for (size_t i = 0; i < d->n; i++) {
        if (d->fold[i] < 0 || d->fold[i] >= n_folds)
            return lfr__err(LFR_ERR_INVALID, "eval: comparison %zu has fold %d, outside 0..%d", i,
                            d->fold[i], n_folds - 1);
        out->n_test[d->fold[i]]++;
    }
    for (int k = 0; k < n_folds; k++)
        if (out->n_test[k] == 0) return lfr__err(LFR_ERR_INVALID, "eval: fold %d is empty", k);
    out->n_folds = n_folds;
    for (int k = 0; k < n_folds; k++) {
        lfr__eval_rates train;
        ws_curve(w, k);
        curve_best(&w->c, &train);
        double t = train.threshold;
        size_t correct = 0;
        for (size_t i = 0; i < w->n; i++) {
            const item *it = &w->it[i];
            if (it->fold == k) correct += (it->score >= t) == it->same;
        }
        out->threshold[k] = t;
        out->n_correct[k] = correct;
        out->accuracy[k] = (double)correct / (double)out->n_test[k];
    }
    double sum = 0, ss = 0;
    for (int k = 0; k < n_folds; k++)
        sum += out->accuracy[k];
    out->mean = sum / n_folds;
    for (int k = 0; k < n_folds; k++)
        ss += (out->accuracy[k] - out->mean) * (out->accuracy[k] - out->mean);
    out->std = sqrt(ss / (n_folds - 1));
    out->std_pop = sqrt(ss / n_folds);
    return LFR_OK;
}

int lfr__eval_kfold_accuracy(const lfr__eval_data *d, int n_folds, lfr__eval_kfold *out)
{
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    rc = ws_kfold(&w, d, n_folds, out);
    ws_free(&w);
    return rc;
}

int lfr__eval_summarize(const lfr__eval_data *d, int n_folds, lfr__eval_summary *out)
{
    memset(out, 0, sizeof *out);
    workspace w;
    int rc = ws_init(d, &w);
    if (rc) return rc;
    ws_curve(&w, -1);
    const curve *c = &w.c;
    out->n = w.n;
    out->n_genuine = c->n_gen;
    out->n_impostor = c->n_imp;
    out->auc = curve_auc(c);
    curve_eer(c, &out->eer);
    curve_best(c, &out->best);
    for (int i = 0; i < LFR__EVAL_N_FAR; i++)
        curve_tar(c, lfr__eval_far_targets[i], &out->tar[i]);
    if (n_folds > 0) {
        rc = ws_kfold(&w, d, n_folds, &out->kfold);
        out->has_kfold = rc == LFR_OK;
    }
    ws_free(&w);
    return rc;
}
