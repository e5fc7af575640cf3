/*
 * Exact watchlist search: cosine top-k over an in-memory gallery of
 * L2-normalised templates (LFR_TEMPLATE_DIM floats each, row-major, one row
 * per image), so the cosine similarity is the dot product.
 *
 *     int idx[16];
 *     float score[16];
 *     int n = lfr__gallery_topk(gallery, n_images, query, 16, idx, score);
 *     for (int i = 0; i < n; i++)   // best first
 *         use(idx[i], score[i]);
 *
 * lfr__gallery_topk runs an AVX2+FMA kernel when the CPU has both (checked
 * once, at the first call) and a portable one otherwise;
 * lfr__gallery_topk_ref is the naive reference the tests compare them with.
 *
 * Contract shared by every search function here:
 * - Scores are dot products with the query; hits come sorted by score,
 *   highest first, and equal scores by lower gallery index.
 * - At most min(k, n, LFR__GALLERY_MAX_K) hits are written; the return value
 *   is that count (0 when k <= 0 or n == 0). idx_out and score_out hold at
 *   least that many elements.
 * - Templates and queries are finite (a NaN score is ranked unpredictably).
 * - Nothing is allocated, copied or wiped: the gallery, the query and the
 *   outputs belong to the caller, who wipes them when that is needed. The
 *   selection state lives on the stack; the functions are thread-safe.
 *
 * The fast kernels may sum a dot product in a different order from the
 * reference, so their scores can differ from it by a few ulps (well under
 * 1e-5 for unit vectors), and so can the order of hits whose scores are
 * that close. Identical rows always get identical scores from the same
 * function.
 */
#ifndef LFR_GALLERY_H
#define LFR_GALLERY_H

#include <stddef.h>
#include <stdint.h>

#include "lfr/lfr.h"

/* The most hits one search returns (the size of its on-stack selection). */
#define LFR__GALLERY_MAX_K 64

/* The most queries lfr__gallery_topk_batch scores in one pass over the
 * gallery; larger batches are processed in groups of this size. */
#define LFR__GALLERY_BATCH 16

/* Top-k hits of one query over n gallery rows (see the contract above). */
int lfr__gallery_topk(const float *gallery, size_t n, const float *query, int k, int *idx_out,
                      float *score_out);

/* The naive reference: one dot product per row, summed in order. */
int lfr__gallery_topk_ref(const float *gallery, size_t n, const float *query, int k, int *idx_out,
                          float *score_out);

/* The portable kernel lfr__gallery_topk falls back to without AVX2+FMA
 * (exposed for its test). */
int lfr__gallery_topk_generic(const float *gallery, size_t n, const float *query, int k,
                              int *idx_out, float *score_out);

/* Whether lfr__gallery_topk uses the AVX2+FMA kernel on this CPU. */
int lfr__gallery_have_avx2(void);

/*
 * Top-k for n_queries queries (row-major, LFR_TEMPLATE_DIM floats each) in
 * one call: the gallery is read from memory once per group of
 * LFR__GALLERY_BATCH queries instead of once per query, which is what
 * limits a single search over a large gallery. Query q's hits go to
 * idx_out[q * k ...] and score_out[q * k ...] (stride k), and every query
 * gets the same count, the return value min(k, n, LFR__GALLERY_MAX_K).
 * Results are identical to lfr__gallery_topk's for each query.
 */
int lfr__gallery_topk_batch(const float *gallery, size_t n, const float *queries, int n_queries,
                            int k, int *idx_out, float *score_out);

/*
 * Best score per subject from a search's hits: subject_of[idx[i]] is the
 * subject of hit i's image. Writes each distinct subject once, with the
 * highest score among its hits, to subject_out / best_out, sorted by that
 * score (highest first; of equal scores, the one reached first comes first),
 * at most cap of them (the cap best), and returns how many were written. The hits need not be
 * sorted. Used by the pipeline: a subject's score is the best over its
 * images.
 */
int lfr__gallery_best_per_subject(const int *idx, const float *score, int n_hits,
                                  const int64_t *subject_of, int64_t *subject_out, float *best_out,
                                  int cap);

#endif
