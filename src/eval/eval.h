/*
 * Internal evaluation: the LFW pairs protocol and 1:1 verification metrics.
 *
 * The pairs reader turns an LFW pairs file (View 2 `pairs.txt`, or the
 * single-fold View 1 files) into an array of pairs in file order, and lists
 * the distinct images they name so that each template is computed once.
 *
 * The metrics take a score per comparison (higher means more alike, e.g. a
 * cosine similarity), a label saying whether the two samples are of the same
 * person (genuine, mated) or not (impostor), and for k-fold accuracy a fold
 * id. Everything sorts the scores once, so all of it is O(n log n); nothing
 * keeps global state and every result lands in a struct the caller owns.
 *
 * Conventions shared by every function here:
 *
 *  - Decision rule: a comparison is a match when score >= threshold.
 *  - Candidate thresholds: every threshold this module chooses is one of the
 *    midpoints between consecutive distinct scores, or lowest - 1 (accept
 *    everything), or highest + 1 (reject everything). Choosing between
 *    observed scores rather than at one keeps thresholds away from the data.
 *  - Rates are fractions in [0, 1]. A rate whose denominator is zero (FMR
 *    without impostors, TAR without genuine comparisons, anything of an
 *    empty input) is NaN; counts are always defined. So an all-genuine or
 *    all-impostor input, or an empty one, is not an error: callers computing
 *    breakdowns by group can pass any subset and check the counts.
 *  - Scores must be finite; a NaN (a pair where no face was found) is refused
 *    with LFR_ERR_INVALID. Decide what a missing score means first with
 *    lfr__eval_missing_apply(): the usual LFW practice is to give it the
 *    lowest possible cosine, -1, so that it counts as "different".
 *
 * Typical use, as `lfr eval lfw` does it:
 *
 *     lfr__eval_pairs pairs;
 *     lfr__eval_pairs_load("lfw/pairs.txt", &pairs);
 *     lfr__eval_images imgs;
 *     lfr__eval_pairs_images(&pairs, &imgs);
 *     ... one template per imgs.path[i]; for pair p, cosine of templates
 *         imgs.index_a[p] and imgs.index_b[p] into score[p], NaN if a face
 *         is missing; same[p] = pairs.pair[p].same, fold[p] = ....fold ...
 *     lfr__eval_missing_apply(LFR__EVAL_MISSING_SCORE, -1.0, score, same, fold,
 *                             n, &n, &n_missing);
 *     lfr__eval_data d = {score, same, fold, n};
 *     lfr__eval_summary s;
 *     lfr__eval_summarize(&d, pairs.n_folds > 1 ? pairs.n_folds : 0, &s);
 *     lfr__eval_images_free(&imgs);
 *     lfr__eval_pairs_free(&pairs);
 */
#ifndef LFR_EVAL_H
#define LFR_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "lfr/lfr.h"

/* ---- LFW pairs protocol ------------------------------------------------- */

/* Pairs files larger than this are refused (View 2 is about 140 KB). */
#define LFR__EVAL_PAIRS_MAX_BYTES (16u << 20)

/* The most folds a pairs file or a k-fold evaluation may have. */
#define LFR__EVAL_MAX_FOLDS 64

/* Image numbers in a pairs file run from 1 to this (LFW names files with
 * four digits: Name_0001.jpg). */
#define LFR__EVAL_MAX_IMAGE_INDEX 9999

typedef struct lfr__eval_pair {
    const char *path_a; /* "Name/Name_0001.jpg", relative to the LFW root */
    const char *path_b;
    int same; /* 1: both images show the same person; 0: different */
    int fold; /* 0 .. n_folds - 1 */
} lfr__eval_pair;

typedef struct lfr__eval_pairs {
    lfr__eval_pair *pair; /* n_pairs entries, in file order */
    size_t n_pairs;       /* n_folds * 2 * n_per_class */
    int n_folds;          /* 10 for View 2; 1 for a View 1 file */
    int n_per_class;      /* same pairs per fold, and different pairs per fold */
    char *strings_;       /* storage behind the paths; private */
} lfr__eval_pairs;

/*
 * Parse the text of a pairs file. The first line is "n_folds n_per_class"
 * (View 2: "10 300"), or a single count "n_per_class" meaning one fold
 * (View 1). Then, for each fold, n_per_class lines "Name i j" (two images of
 * one person) followed by n_per_class lines "Name1 i Name2 j" (two people).
 * Fields are separated by tabs or spaces; lines end in LF or CRLF; blank
 * lines are ignored. Names must not contain '/' or '\\' nor be "." or "..",
 * image numbers are decimal in 1..LFR__EVAL_MAX_IMAGE_INDEX, a same pair
 * must name two different images and a different pair two different names.
 *
 * Any deviation, including too few or too many pair lines, fails with
 * LFR_ERR_FORMAT and a message "name:line: what is wrong". On success the
 * caller frees *out with lfr__eval_pairs_free(); on failure *out is zeroed.
 */
int lfr__eval_pairs_parse(const char *text, size_t size, const char *name, lfr__eval_pairs *out);

/* Read and parse a pairs file (refusing files over LFR__EVAL_PAIRS_MAX_BYTES). */
int lfr__eval_pairs_load(const char *path, lfr__eval_pairs *out);

/* Free what lfr__eval_pairs_parse/load allocated and zero *p; NULL or an
 * already freed struct is fine. */
void lfr__eval_pairs_free(lfr__eval_pairs *p);

/* The distinct images referenced by a set of pairs. */
typedef struct lfr__eval_images {
    const char **path; /* n_images distinct paths in strcmp order; they point
                          into the pairs and live as long as the pairs do */
    size_t n_images;
    size_t *index_a; /* per pair: path[index_a[p]] is pair p's path_a */
    size_t *index_b; /* per pair: path[index_b[p]] is pair p's path_b */
} lfr__eval_images;

/* List the distinct images of `pairs` (7,701 for LFW View 2) with, for each
 * pair, where its two images are in that list. O(n log n). The caller frees
 * *out with lfr__eval_images_free(). */
int lfr__eval_pairs_images(const lfr__eval_pairs *pairs, lfr__eval_images *out);

/* Free and zero *im; NULL or an already freed struct is fine. */
void lfr__eval_images_free(lfr__eval_images *im);

/* ---- Scores ---------------------------------------------------------------- */

/* A set of scored comparisons. The arrays belong to the caller; functions
 * here only read them. */
typedef struct lfr__eval_data {
    const double *score;       /* n finite scores, higher = more alike */
    const unsigned char *same; /* n labels: nonzero genuine, 0 impostor */
    const int *fold;           /* n fold ids in [0, n_folds); NULL if unused */
    size_t n;
} lfr__eval_data;

/* What a missing (NaN) score means. */
enum lfr__eval_missing {
    LFR__EVAL_MISSING_FAIL = 0,  /* it is an error (LFR_ERR_INVALID) */
    LFR__EVAL_MISSING_SCORE = 1, /* it gets a fixed score (LFW practice: -1) */
    LFR__EVAL_MISSING_DROP = 2,  /* the comparison is left out */
};

/*
 * Apply a missing-score policy in place. With LFR__EVAL_MISSING_SCORE every
 * NaN in score[] becomes `value` (which must be finite); with
 * LFR__EVAL_MISSING_DROP the comparisons with a NaN score are removed from
 * score[], same[] and fold[] (fold may be NULL), keeping the order of the
 * others; with LFR__EVAL_MISSING_FAIL a NaN is an error. *n_out receives the
 * new count, *n_missing_out (may be NULL) how many scores were NaN.
 */
int lfr__eval_missing_apply(int policy, double value, double *score, unsigned char *same, int *fold,
                            size_t n, size_t *n_out, size_t *n_missing_out);

/* ---- Metrics --------------------------------------------------------------- */

/* Error rates at one threshold. */
typedef struct lfr__eval_rates {
    double threshold;
    size_t n_genuine;
    size_t n_impostor;
    size_t n_false_match;    /* impostors with score >= threshold */
    size_t n_false_nonmatch; /* genuine comparisons with score < threshold */
    double fmr;              /* n_false_match / n_impostor (the FAR) */
    double fnmr;             /* n_false_nonmatch / n_genuine (1 - TAR) */
    double accuracy;         /* correct decisions / all */
} lfr__eval_rates;

/* FMR, FNMR and accuracy at a given threshold (any value; O(n)). */
int lfr__eval_rates_at(const lfr__eval_data *d, double threshold, lfr__eval_rates *out);

/*
 * The candidate threshold with the highest accuracy over all of d, and the
 * rates there. Several candidates can share the best accuracy; the lowest
 * run of consecutive best candidates is taken and the threshold is the
 * midpoint of that run's lowest and highest candidates (all thresholds in
 * between give the same decisions on d, so the midpoint keeps the widest
 * margin). With one class only, every score is classified correctly (the
 * threshold is lowest - 1 when all are genuine, highest + 1 when all are
 * impostors). Empty input: threshold and rates NaN.
 */
int lfr__eval_best_threshold(const lfr__eval_data *d, lfr__eval_rates *out);

/*
 * Area under the ROC curve, exactly: the Mann-Whitney probability that a
 * genuine score exceeds an impostor score, ties counting one half. All
 * scores tied give 0.5. NaN when either class is empty.
 */
int lfr__eval_auc(const lfr__eval_data *d, double *auc_out);

/* TAR at a FAR target. */
typedef struct lfr__eval_tar {
    double far_target;
    double threshold; /* the smallest candidate threshold with FAR <= target */
    double tar;       /* genuine scores >= threshold / n_genuine */
    double far;       /* impostor scores >= threshold / n_impostor (<= target) */
    int supported;    /* 1 if n_impostor * far_target >= 1, i.e. the sample
                         has enough impostors to measure that FAR at all */
} lfr__eval_tar;

/*
 * TAR at the smallest candidate threshold whose FAR is at most far_target
 * (0 <= far_target <= 1). Impostors tied at a score are accepted or rejected
 * together, so when accepting a tied group would exceed the target the
 * threshold goes above the whole group, genuine scores in it included.
 * Without impostors the FAR cannot be measured: far is NaN, supported 0 and
 * the threshold is lowest - 1 (everything accepted). Without genuine scores
 * tar is NaN. Empty input: all NaN, supported 0.
 */
int lfr__eval_tar_at_far(const lfr__eval_data *d, double far_target, lfr__eval_tar *out);

/* The equal error rate. */
typedef struct lfr__eval_eer_point {
    double eer;       /* where FMR = FNMR on the ROC, linearly interpolated */
    double threshold; /* the candidate where |FMR - FNMR| is smallest
                         (the lower one on a tie) */
    double fmr;       /* FMR and FNMR at that threshold */
    double fnmr;
} lfr__eval_eer_point;

/* The EER. With either class empty, every field is NaN. */
int lfr__eval_eer(const lfr__eval_data *d, lfr__eval_eer_point *out);

/* A point of the ROC curve. */
typedef struct lfr__eval_roc_point {
    double threshold;
    double fmr; /* false match rate (FAR) */
    double tmr; /* true match rate (TAR = 1 - FNMR) */
} lfr__eval_roc_point;

/*
 * The ROC curve at every candidate threshold, from the highest threshold
 * (fmr = tmr = 0) down to the lowest (fmr = tmr = 1): one point more than
 * there are distinct scores. *n_out receives that count; if it exceeds cap,
 * nothing is written and LFR_ERR_INVALID is returned (pass d->n + 1 to be
 * safe). Needs both classes (LFR_ERR_INVALID otherwise).
 */
int lfr__eval_roc(const lfr__eval_data *d, lfr__eval_roc_point *points, size_t cap, size_t *n_out);

/* k-fold accuracy. */
typedef struct lfr__eval_kfold {
    int n_folds;
    double mean;    /* mean of the fold accuracies */
    double std;     /* their sample standard deviation (divisor n_folds - 1) */
    double std_pop; /* their population standard deviation (divisor n_folds),
                       the convention of published LFW "mean ± std" tables */
    double threshold[LFR__EVAL_MAX_FOLDS]; /* chosen on the other folds */
    double accuracy[LFR__EVAL_MAX_FOLDS];  /* on fold k with that threshold */
    size_t n_correct[LFR__EVAL_MAX_FOLDS];
    size_t n_test[LFR__EVAL_MAX_FOLDS];
} lfr__eval_kfold;

/*
 * k-fold cross-validated accuracy (the LFW View 2 protocol with 10 folds):
 * for each fold k the threshold is lfr__eval_best_threshold() of the other
 * folds' comparisons, and the accuracy is measured on fold k. Needs d->fold,
 * 2 <= n_folds <= LFR__EVAL_MAX_FOLDS and every fold non-empty.
 */
int lfr__eval_kfold_accuracy(const lfr__eval_data *d, int n_folds, lfr__eval_kfold *out);

/* The FAR targets of a summary. */
#define LFR__EVAL_N_FAR 3
extern const double lfr__eval_far_targets[LFR__EVAL_N_FAR]; /* 1e-2, 1e-3, 1e-4 */

/* Everything above for one set of comparisons, with a single sort. */
typedef struct lfr__eval_summary {
    size_t n;
    size_t n_genuine;
    size_t n_impostor;
    double auc;
    lfr__eval_eer_point eer;
    lfr__eval_rates best; /* best-accuracy threshold over all comparisons */
    lfr__eval_tar tar[LFR__EVAL_N_FAR];
    int has_kfold;
    lfr__eval_kfold kfold; /* when has_kfold */
} lfr__eval_summary;

/* Fill *out. k-fold accuracy is computed when n_folds > 0 (then as for
 * lfr__eval_kfold_accuracy, whose errors this returns); pass 0 to skip it,
 * e.g. for a subgroup, or for a single-fold View 1 file. */
int lfr__eval_summarize(const lfr__eval_data *d, int n_folds, lfr__eval_summary *out);

/* ---- 1:N identification (ident.c) ------------------------------------------- */

/* One search of a gallery. */
typedef struct lfr__eval_search_result {
    float top_score;          /* best score over all subjects */
    int top_subject;          /* the subject with that score (-1: empty gallery) */
    float mate_score;         /* the mate's score (NaN for a non-mated search) */
    int mate_rank;            /* 1-based; 0 for a non-mated search */
    float best_nonmate_score; /* best score of any subject but the mate */
} lfr__eval_search_result;

/*
 * Search a gallery of n_gallery templates (dim floats each, row-major) whose
 * subject ids (0 .. n_subjects-1) are in subject[], with one probe. mate is
 * the probe's subject id, or -1 for a non-mated search. A subject's score is
 * its best template's dot product with the probe (cosine for L2-normalised
 * templates). scratch holds n_subjects floats. Exact and naive: O(n_gallery
 * * dim).
 */
int lfr__eval_search(const float *gallery, const int *subject, size_t n_gallery, int n_subjects,
                     const float *probe, int dim, int mate, float *scratch,
                     lfr__eval_search_result *out);

/* Open-set identification rates at a threshold (see ident.c for the
 * definitions). Rates with an empty denominator are NaN. */
typedef struct lfr__eval_ident_rates {
    double threshold;
    size_t n_mated, n_nonmated;
    size_t n_true_positive;  /* mated: mate at rank 1 with score >= threshold */
    size_t n_false_positive; /* non-mated: top score >= threshold */
    double tpir, fnir, fpir;
    int supported; /* FNIR-at-FPIR only: 1 if n_nonmated * target >= 1 */
} lfr__eval_ident_rates;

int lfr__eval_ident_rates_at(const lfr__eval_search_result *mated, size_t n_mated,
                             const lfr__eval_search_result *nonmated, size_t n_nonmated,
                             double threshold, lfr__eval_ident_rates *out);

/* FNIR at the smallest candidate threshold whose FPIR <= fpir_target.
 * Non-mated searches tied at a score are accepted or rejected together. */
int lfr__eval_fnir_at_fpir(const lfr__eval_search_result *mated, size_t n_mated,
                           const lfr__eval_search_result *nonmated, size_t n_nonmated,
                           double fpir_target, lfr__eval_ident_rates *out);

/* Cumulative match characteristic: cmc_out[r-1] = fraction of mated searches
 * whose mate has rank <= r, for r = 1 .. max_rank (NaN when n_mated is 0). */
int lfr__eval_cmc(const lfr__eval_search_result *mated, size_t n_mated, int max_rank,
                  double *cmc_out);

/* FPIR as a function of watchlist size at a threshold. */
typedef struct lfr__eval_projection_point {
    double threshold;
    int gallery_size;
    double fmr;           /* per-comparison false match rate of the non-mated scores */
    size_t n_comparisons; /* how many non-mated comparisons measured it */
    double fpir_measured; /* by subsampling subjects; NaN above the gallery's size */
    double fpir_model;    /* 1 - (1 - fmr)^size, assuming independent comparisons */
} lfr__eval_projection_point;

/*
 * scores: n_probes x n_subjects scores of non-mated probes against every
 * subject (row-major). For each threshold and watchlist size, the measured
 * FPIR over `repeats` random subsets of that many subjects (deterministic
 * from seed), and the independence model's FPIR, which also extends beyond
 * the gallery's size. out holds n_thresholds x n_sizes points, threshold
 * major.
 */
int lfr__eval_projection(const float *scores, size_t n_probes, int n_subjects,
                         const double *thresholds, int n_thresholds, const int *sizes, int n_sizes,
                         int repeats, uint32_t seed, lfr__eval_projection_point *out);

#endif
