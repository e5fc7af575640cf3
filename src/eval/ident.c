/*
 * Open-set 1:N identification metrics, after NIST's FRVT 1:N definitions,
 * for the use openlfr makes of a search: a watchlist (gallery) of enrolled
 * subjects, each with one or more templates, searched by probes whose
 * subject is enrolled (mated searches) or not (non-mated searches).
 *
 * A search's score for a subject is the best score over that subject's
 * gallery templates. For a mated search, the mate's rank is 1 plus the
 * number of other subjects that score strictly higher (ties favour the
 * mate's rank, as an operator sees both). At threshold T:
 *   TPIR(T) = mated searches whose mate has rank 1 and score >= T / mated
 *   FNIR(T) = 1 - TPIR(T)
 *   FPIR(T) = non-mated searches whose best score >= T / non-mated
 * FNIR at an FPIR target uses the smallest candidate threshold (midpoints
 * between distinct non-mated top scores, or above them all) whose FPIR is
 * at most the target. CMC(r) = mated searches whose mate has rank <= r.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "util/util.h"

#include <stdint.h>

int lfr__eval_search(const float *gallery, const int *subject, size_t n_gallery, int n_subjects,
                     const float *probe, int dim, int mate, float *scratch,
                     lfr__eval_search_result *out)
{
    if (n_subjects < 1 || dim < 1 || (n_gallery && (!gallery || !subject)) || !probe || !scratch ||
        mate >= n_subjects)
        return lfr__err(LFR_ERR_INVALID, "invalid search arguments");
    for (int s = 0; s < n_subjects; s++)
        scratch[s] = -INFINITY;
    for (size_t g = 0; g < n_gallery; g++) {
        if (subject[g] < 0 || subject[g] >= n_subjects)
            return lfr__err(LFR_ERR_INVALID, "gallery template %zu has subject %d of %d", g,
                            subject[g], n_subjects);
        const float *t = gallery + g * (size_t)dim;
        float sc = 0;
        for (int k = 0; k < dim; k++)
            sc += t[k] * probe[k];
        if (sc > scratch[subject[g]]) scratch[subject[g]] = sc;
    }
    out->top_score = -INFINITY;
    out->top_subject = -1;
    out->mate_score = NAN;
    out->mate_rank = 0;
    float best_other = -INFINITY;
    for (int s = 0; s < n_subjects; s++) {
        if (scratch[s] > out->top_score) {
            out->top_score = scratch[s];
            out->top_subject = s;
        }
        if (s != mate && scratch[s] > best_other) best_other = scratch[s];
    }
    out->best_nonmate_score = best_other;
    if (mate >= 0) {
        float m = scratch[mate];
        int rank = 1;
        for (int s = 0; s < n_subjects; s++)
            rank += s != mate && scratch[s] > m;
        out->mate_score = m;
        out->mate_rank = isfinite(m) ? rank : 0;
    }
    return LFR_OK;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int lfr__eval_ident_rates_at(const lfr__eval_search_result *mated, size_t n_mated,
                             const lfr__eval_search_result *nonmated, size_t n_nonmated,
                             double threshold, lfr__eval_ident_rates *out)
{
    memset(out, 0, sizeof *out);
    out->threshold = threshold;
    out->n_mated = n_mated;
    out->n_nonmated = n_nonmated;
    for (size_t i = 0; i < n_mated; i++)
        out->n_true_positive += mated[i].mate_rank == 1 && mated[i].mate_score >= threshold;
    for (size_t i = 0; i < n_nonmated; i++)
        out->n_false_positive += nonmated[i].top_score >= threshold;
    out->tpir = n_mated ? (double)out->n_true_positive / (double)n_mated : NAN;
    out->fnir = n_mated ? 1.0 - out->tpir : NAN;
    out->fpir = n_nonmated ? (double)out->n_false_positive / (double)n_nonmated : NAN;
    return LFR_OK;
}

int lfr__eval_fnir_at_fpir(const lfr__eval_search_result *mated, size_t n_mated,
                           const lfr__eval_search_result *nonmated, size_t n_nonmated,
                           double fpir_target, lfr__eval_ident_rates *out)
{
    if (!(fpir_target >= 0 && fpir_target <= 1))
        return lfr__err(LFR_ERR_INVALID, "FPIR target %g outside [0, 1]", fpir_target);
    if (n_nonmated == 0) {
        lfr__eval_ident_rates_at(mated, n_mated, nonmated, 0, -INFINITY, out);
        out->supported = 0;
        return LFR_OK;
    }
    double *top = malloc(n_nonmated * sizeof *top);
    if (!top) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_nonmated; i++)
        top[i] = nonmated[i].top_score;
    qsort(top, n_nonmated, sizeof *top, cmp_desc);
    /* Walk down the distinct non-mated scores while FPIR stays in bounds;
     * the threshold sits midway below the last accepted group. */
    size_t allowed = (size_t)floor(fpir_target * (double)n_nonmated + 1e-9), i = 0;
    double thr = top[0] + 1.0;
    while (i < n_nonmated) {
        size_t j = i;
        while (j < n_nonmated && top[j] == top[i])
            j++;
        if (j > allowed) break; /* accepting this group would exceed the target */
        thr = j < n_nonmated ? (top[i] + top[j]) / 2 : top[i] - 1.0;
        i = j;
    }
    free(top);
    lfr__eval_ident_rates_at(mated, n_mated, nonmated, n_nonmated, thr, out);
    out->supported = fpir_target * (double)n_nonmated >= 1.0;
    return LFR_OK;
}

int lfr__eval_cmc(const lfr__eval_search_result *mated, size_t n_mated, int max_rank,
                  double *cmc_out)
{
    if (max_rank < 1) return lfr__err(LFR_ERR_INVALID, "max_rank must be at least 1");
    for (int r = 0; r < max_rank; r++)
        cmc_out[r] = 0;
    if (n_mated == 0) {
        for (int r = 0; r < max_rank; r++)
            cmc_out[r] = NAN;
        return LFR_OK;
    }
    for (size_t i = 0; i < n_mated; i++) {
        int rank = mated[i].mate_rank;
        if (rank >= 1 && rank <= max_rank) cmc_out[rank - 1] += 1;
    }
    double run = 0;
    for (int r = 0; r < max_rank; r++) {
        run += cmc_out[r];
        cmc_out[r] = run / (double)n_mated;
    }
    return LFR_OK;
}

/* ---- Operating-point projection ------------------------------------------------ */

static int cmp_float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

int lfr__eval_projection(const float *scores, size_t n_probes, int n_subjects,
                         const double *thresholds, int n_thresholds, const int *sizes, int n_sizes,
                         int repeats, uint32_t seed, lfr__eval_projection_point *out)
{
    if (n_subjects < 1 || n_probes < 1 || repeats < 1 || !scores)
        return lfr__err(LFR_ERR_INVALID, "projection needs probes, subjects and repeats");
    size_t total = n_probes * (size_t)n_subjects;
    float *sorted = malloc(total * sizeof *sorted);
    int *perm = malloc((size_t)n_subjects * sizeof *perm);
    if (!sorted || !perm) {
        free(sorted);
        free(perm);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    memcpy(sorted, scores, total * sizeof *sorted);
    qsort(sorted, total, sizeof *sorted, cmp_float_desc);
    uint32_t st = seed ? seed : 1;
    for (int ti = 0; ti < n_thresholds; ti++) {
        double t = thresholds[ti];
        /* Per-comparison false match rate: binary search in the sorted scores. */
        size_t lo = 0, hi = total;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (sorted[mid] >= t)
                lo = mid + 1;
            else
                hi = mid;
        }
        double fmr = (double)lo / (double)total;
        for (int si = 0; si < n_sizes; si++) {
            lfr__eval_projection_point *p = &out[ti * n_sizes + si];
            int N = sizes[si];
            p->threshold = t;
            p->gallery_size = N;
            p->fmr = fmr;
            p->n_comparisons = total;
            /* Independent comparisons: a search of N subjects raises a false
             * alert unless all N stay below the threshold. */
            p->fpir_model = 1.0 - pow(1.0 - fmr, (double)N);
            p->fpir_measured = NAN;
            if (N < 1 || N > n_subjects) continue;
            /* Measured: random subsets of N subjects, `repeats` times. */
            size_t hits = 0;
            for (int r = 0; r < repeats; r++) {
                for (int k = 0; k < n_subjects; k++)
                    perm[k] = k;
                for (int k = 0; k < N; k++) { /* partial Fisher-Yates */
                    st = st * 1664525u + 1013904223u;
                    int pick = k + (int)((uint64_t)st * (uint64_t)(n_subjects - k) >> 32);
                    int tmp = perm[k];
                    perm[k] = perm[pick];
                    perm[pick] = tmp;
                }
                for (size_t q = 0; q < n_probes; q++) {
                    const float *row = scores + q * (size_t)n_subjects;
                    for (int k = 0; k < N; k++)
                        if (row[perm[k]] >= t) {
                            hits++;
                            break;
                        }
                }
            }
            p->fpir_measured = (double)hits / ((double)n_probes * repeats);
        }
    }
    free(sorted);
    free(perm);
    return LFR_OK;
}
