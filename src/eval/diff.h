/*
 * Demographic differentials: error rates per group at one fixed threshold,
 * their ratio to a reference group, and bootstrap 95 % intervals that
 * resample identities.
 *
 * The input is a list of decided comparisons (the caller applies the
 * threshold): each is "positive" (1:1 genuine, 1:N mated search) or
 * "negative" (1:1 impostor, 1:N non-mated search), has an error flag (a
 * false non-match / false negative, or a false match / false positive), the
 * identities it involves (one or two) and a group (or -1 for none). So the
 * same code gives FNMR/FMR for 1:1 and FNIR/FPIR for 1:N:
 *
 *     rate_pos[g] = errors among group g's positive comparisons / their count
 *     rate_neg[g] = errors among group g's negative comparisons / their count
 *
 * A 1:1 comparison belongs to group g when both images carry label g (so
 * impostor pairs across groups, and pairs with an unlabelled image, are left
 * out: the NIST FRVT convention of same-group impostors).
 *
 * Bootstrap. Comparisons are not independent (one person's images recur in
 * many), so the unit of resampling is the identity. Each identity belongs to
 * one stratum: the group in which it appears most often. A replicate draws,
 * within every stratum, as many identities as it has, with replacement;
 * identity i drawn m_i times gives a comparison between i and j weight
 * m_i * m_j (m_i for a comparison of one identity, e.g. a genuine pair or a
 * search). The interval is the 2.5th and 97.5th percentiles of the
 * replicates' rates; ratios to the reference group are taken within each
 * replicate. Deterministic from the seed.
 *
 * Not estimable. A rate is reported as not estimable (never as a number)
 * when its group has fewer than LFR__DIFF_MIN_IDENTITIES identities among
 * its comparisons of that kind, or so few comparisons that, were the group's
 * rate equal to the overall rate, less than one error would be expected
 * (count x overall rate < 1; this also covers a zero count). A ratio is not
 * estimable when either rate is not, or the reference rate is zero. An
 * interval is not estimable when more than 5 % of the replicates leave the
 * rate (or ratio) undefined. When a group has no errors the bootstrap
 * interval collapses to [0, 0]; the upper end is then replaced by
 * 1 - 0.025^(1/n), the exact binomial bound for n independent comparisons,
 * which understates the uncertainty of correlated comparisons (said in the
 * report).
 */
#ifndef LFR_EVAL_DIFF_H
#define LFR_EVAL_DIFF_H

#include <stddef.h>
#include <stdint.h>

#define LFR__DIFF_MIN_IDENTITIES 10

typedef struct lfr__diff_item {
    int32_t id_a;      /* identity, >= 0 */
    int32_t id_b;      /* second identity, or -1 (a genuine pair, a search) */
    int32_t group;     /* group index, or -1: not in any group */
    unsigned char pos; /* 1 positive (genuine, mated), 0 negative */
    unsigned char err; /* 1 when the decision was wrong */
} lfr__diff_item;

/* The error flag of a 1:1 comparison at a threshold, with the module's
 * decision rule (a match when score >= threshold, eval.h): a genuine score
 * below it is a false non-match, an impostor score at or above it a false
 * match; a score exactly at the threshold is a match. */
static inline unsigned char lfr__diff_error_1to1(double score, int genuine, double threshold)
{
    return genuine ? score < threshold : score >= threshold;
}

typedef struct lfr__diff_rate {
    int estimable;          /* 0: report "not estimable", ignore value */
    double value;           /* errors / count (NaN when count is 0) */
    double ci_low, ci_high; /* NaN when not estimable */
    size_t n;               /* comparisons */
    size_t n_err;           /* errors among them */
    int n_identities;       /* distinct identities among them */
    double ratio;           /* value / reference value; NaN when not estimable */
    double ratio_low, ratio_high;
    int ratio_estimable;
} lfr__diff_rate;

typedef struct lfr__diff_group {
    lfr__diff_rate pos; /* FNMR (1:1) or FNIR (1:N) */
    lfr__diff_rate neg; /* FMR (1:1) or FPIR (1:N) */
    int n_identities;   /* identities in the group's stratum */
} lfr__diff_group;

typedef struct lfr__diff_params {
    int n_groups;
    int reference;  /* group the ratios are taken to */
    int replicates; /* bootstrap replicates, e.g. 1000; 0 for none */
    uint64_t seed;
    double overall_pos; /* overall error rates, for the "expected errors" rule */
    double overall_neg;
} lfr__diff_params;

/*
 * Compute per-group rates, intervals and ratios into out[n_groups].
 * n_identities bounds the identity ids. LFR_ERR_INVALID for a bad argument
 * (an id or group out of range, a reference outside 0..n_groups-1).
 * Allocates O(n + n_identities) scratch; O(replicates x cells) time, where a
 * cell is a distinct (group, identities, kind).
 */
int lfr__diff_compute(const lfr__diff_item *items, size_t n, int n_identities,
                      const lfr__diff_params *p, lfr__diff_group *out);

#endif
