/*
 * Exact watchlist search (see gallery.h): a dot product per gallery row and
 * a running top-k. Three scorers share one selection:
 *
 * - the reference sums each dot product in order, one row at a time;
 * - the portable kernel keeps 8 partial sums per row, which compilers turn
 *   into SSE code on baseline x86-64;
 * - the AVX2+FMA kernel scores 8 rows at once (one accumulator register per
 *   row, the query streamed from L1) and reduces the 8 accumulators to one
 *   register of 8 scores, which it compares with the current k-th score in
 *   one instruction, so the selection costs almost nothing once k hits are
 *   held. It is compiled for AVX2 through a target attribute and chosen at
 *   run time, so the library stays baseline x86-64. A single search
 *   streams the gallery from memory with software prefetching; a batch
 *   scores chunks that stay in L2 for two queries at a time.
 *
 * Rows are visited in increasing index order, so a row whose score equals
 * the k-th best never displaces it: ties go to the lower index, as the
 * contract says. A tail of fewer than 8 rows is scored by the same 8-row
 * code with the missing rows pointing at the last real one (never copied),
 * so every row's score is summed in the same order wherever it lies.
 */
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LFR_GALLERY_X86 1
#endif

#include "gallery/gallery.h"

#define D LFR_TEMPLATE_DIM

_Static_assert(LFR_TEMPLATE_DIM % 8 == 0, "the kernels assume 8-float blocks");

/* The running top-k of one query: s[0..n) sorted by score descending, ties
 * by lower index. */
typedef struct topk {
    int k, n;
    float s[LFR__GALLERY_MAX_K];
    int i[LFR__GALLERY_MAX_K];
} topk;

static int clamp_k(int k, size_t n)
{
    if (k <= 0 || n == 0) return 0;
    if (k > LFR__GALLERY_MAX_K) k = LFR__GALLERY_MAX_K;
    if ((size_t)k > n) k = (int)n;
    return k;
}

/* Offer row `index` (larger than every index offered before). */
static inline void topk_offer(topk *t, float score, int index)
{
    int p;
    if (t->n < t->k) {
        p = t->n++;
    } else {
        if (!(score > t->s[t->k - 1])) return;
        p = t->k - 1;
    }
    while (p > 0 && score > t->s[p - 1]) {
        t->s[p] = t->s[p - 1];
        t->i[p] = t->i[p - 1];
        p--;
    }
    t->s[p] = score;
    t->i[p] = index;
}

static int topk_emit(const topk *t, int *idx_out, float *score_out)
{
    memcpy(idx_out, t->i, (size_t)t->n * sizeof *idx_out);
    memcpy(score_out, t->s, (size_t)t->n * sizeof *score_out);
    return t->n;
}

/* ---- Reference ---- */

int lfr__gallery_topk_ref(const float *gallery, size_t n, const float *query, int k, int *idx_out,
                          float *score_out)
{
    topk t;
    t.k = clamp_k(k, n);
    t.n = 0;
    if (!t.k) return 0;
    for (size_t r = 0; r < n; r++) {
        const float *row = gallery + r * D;
        float s = 0;
        for (int j = 0; j < D; j++)
            s += row[j] * query[j];
        topk_offer(&t, s, (int)r);
    }
    return topk_emit(&t, idx_out, score_out);
}

/* ---- Portable kernel ---- */

static void scan_generic(const float *gallery, size_t begin, size_t end, const float *query,
                         topk *t)
{
    for (size_t r = begin; r < end; r++) {
        const float *row = gallery + r * D;
        float a[8] = {0};
        for (int j = 0; j < D; j += 8)
            for (int l = 0; l < 8; l++)
                a[l] += row[j + l] * query[j + l];
        topk_offer(t, ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])), (int)r);
    }
}

/* ---- AVX2 + FMA kernel ---- */

#ifdef LFR_GALLERY_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* Scores of the 8 rows r[0..8) in one register, lane l for row r[l]. */
static inline AVX2 __m256 dot8(const float *const r[8], const float *q)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int j = 0; j < D; j += 8) {
        __m256 qv = _mm256_loadu_ps(q + j);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[0] + j), qv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r[1] + j), qv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r[2] + j), qv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r[3] + j), qv, a3);
        a4 = _mm256_fmadd_ps(_mm256_loadu_ps(r[4] + j), qv, a4);
        a5 = _mm256_fmadd_ps(_mm256_loadu_ps(r[5] + j), qv, a5);
        a6 = _mm256_fmadd_ps(_mm256_loadu_ps(r[6] + j), qv, a6);
        a7 = _mm256_fmadd_ps(_mm256_loadu_ps(r[7] + j), qv, a7);
    }
    /* Lane sums: every row gets ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)). */
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* Offer lanes lane0 .. lane0 + m - 1 of s as the scores of rows base,
 * base + 1, ... */
static inline AVX2 void offer_lanes(topk *t, __m256 s, int lane0, int m, size_t base)
{
    unsigned mask = ((1u << m) - 1) << lane0;
    if (t->n == t->k) {
        __m256 worst = _mm256_set1_ps(t->s[t->k - 1]);
        mask &= (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(s, worst, _CMP_GT_OQ));
        if (!mask) return;
    }
    float v[8];
    _mm256_storeu_ps(v, s);
    for (int l = lane0; l < lane0 + m; l++)
        if (mask >> l & 1) topk_offer(t, v[l], (int)(base + (size_t)(l - lane0)));
}

static inline AVX2 void offer8(topk *t, __m256 s, size_t base, int m)
{
    offer_lanes(t, s, 0, m, base);
}

/* Blocks of 8 rows that a streaming scan prefetches ahead. */
#define PREFETCH_BLOCKS 2

static inline AVX2 void scan_avx2_with(const float *gallery, size_t begin, size_t end,
                                       const float *query, topk *t, int prefetch)
{
    const float *r[8];
    size_t i = begin;
    for (; i + 8 <= end; i += 8) {
        const float *p = gallery + i * D;
        for (int l = 0; l < 8; l++)
            r[l] = p + l * D;
        if (prefetch && i + 8 * (PREFETCH_BLOCKS + 1) <= end) {
            const char *ahead = (const char *)(p + 8 * PREFETCH_BLOCKS * D);
            for (size_t c = 0; c < 8 * D * sizeof(float); c += 64)
                _mm_prefetch(ahead + c, _MM_HINT_T0);
        }
        offer8(t, dot8(r, query), i, 8);
    }
    if (i < end) {
        int m = (int)(end - i);
        for (int l = 0; l < 8; l++)
            r[l] = gallery + (i + (size_t)(l < m ? l : m - 1)) * D;
        offer8(t, dot8(r, query), i, m);
    }
}

/*
 * Scores of 4 rows for 2 queries in one register: lanes 0-3 rows r[0..4)
 * with q0, lanes 4-7 with q1. Each lane is summed exactly as in dot8 (the
 * same FMAs in the same order, the same reduction), so a batch gives the
 * same scores as single searches, with 6 loads per 8 FMAs instead of 9.
 */
static inline AVX2 __m256 dot4x2(const float *const r[4], const float *q0, const float *q1)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int j = 0; j < D; j += 8) {
        __m256 x0 = _mm256_loadu_ps(r[0] + j), x1 = _mm256_loadu_ps(r[1] + j);
        __m256 x2 = _mm256_loadu_ps(r[2] + j), x3 = _mm256_loadu_ps(r[3] + j);
        __m256 p = _mm256_loadu_ps(q0 + j), p1 = _mm256_loadu_ps(q1 + j);
        /* Keep the rows in registers: folded into the FMAs as memory
         * operands (what compilers prefer) each would be loaded twice. */
        __asm__("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3));
        a0 = _mm256_fmadd_ps(x0, p, a0);
        a1 = _mm256_fmadd_ps(x1, p, a1);
        a2 = _mm256_fmadd_ps(x2, p, a2);
        a3 = _mm256_fmadd_ps(x3, p, a3);
        a4 = _mm256_fmadd_ps(x0, p1, a4);
        a5 = _mm256_fmadd_ps(x1, p1, a5);
        a6 = _mm256_fmadd_ps(x2, p1, a6);
        a7 = _mm256_fmadd_ps(x3, p1, a7);
    }
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* Rows [begin, end) for two queries at once (a batch's chunk, in L2). */
static AVX2 void scan_avx2_pair(const float *gallery, size_t begin, size_t end, const float *q0,
                                const float *q1, topk *t0, topk *t1)
{
    const float *r[4];
    for (size_t i = begin; i < end; i += 4) {
        int m = end - i < 4 ? (int)(end - i) : 4;
        for (int l = 0; l < 4; l++)
            r[l] = gallery + (i + (size_t)(l < m ? l : m - 1)) * D;
        __m256 s = dot4x2(r, q0, q1);
        offer_lanes(t0, s, 0, m, i);
        offer_lanes(t1, s, 4, m, i);
    }
}

/* A whole gallery streams from memory: prefetching a few blocks ahead keeps
 * more cache-line requests in flight than the hardware prefetcher alone
 * (about 20 % faster on a 1M-row gallery). A batch's chunk already sits in
 * L2, where the prefetches only cost instructions. */
static AVX2 void scan_avx2_stream(const float *gallery, size_t begin, size_t end,
                                  const float *query, topk *t)
{
    scan_avx2_with(gallery, begin, end, query, t, 1);
}

static AVX2 void scan_avx2_cached(const float *gallery, size_t begin, size_t end,
                                  const float *query, topk *t)
{
    scan_avx2_with(gallery, begin, end, query, t, 0);
}
#endif

/* ---- Dispatch ---- */

typedef void (*scan_fn)(const float *, size_t, size_t, const float *, topk *);

int lfr__gallery_have_avx2(void)
{
#ifdef LFR_GALLERY_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static scan_fn best_scan(int streaming)
{
#ifdef LFR_GALLERY_X86
    if (lfr__gallery_have_avx2()) return streaming ? scan_avx2_stream : scan_avx2_cached;
#endif
    return scan_generic;
}

static int topk_with(scan_fn scan, const float *gallery, size_t n, const float *query, int k,
                     int *idx_out, float *score_out)
{
    topk t;
    t.k = clamp_k(k, n);
    t.n = 0;
    if (!t.k) return 0;
    scan(gallery, 0, n, query, &t);
    return topk_emit(&t, idx_out, score_out);
}

int lfr__gallery_topk(const float *gallery, size_t n, const float *query, int k, int *idx_out,
                      float *score_out)
{
    return topk_with(best_scan(1), gallery, n, query, k, idx_out, score_out);
}

int lfr__gallery_topk_generic(const float *gallery, size_t n, const float *query, int k,
                              int *idx_out, float *score_out)
{
    return topk_with(scan_generic, gallery, n, query, k, idx_out, score_out);
}

/* Rows per chunk in a batch: 256 rows (192 KiB) stay in L2 while every
 * query of the group is scored against them. */
#define CHUNK_ROWS 256

int lfr__gallery_topk_batch(const float *gallery, size_t n, const float *queries, int n_queries,
                            int k, int *idx_out, float *score_out)
{
    int kk = clamp_k(k, n);
    if (!kk || n_queries <= 0) return 0;
    scan_fn scan = best_scan(0);
    int avx2 = lfr__gallery_have_avx2();
    topk t[LFR__GALLERY_BATCH];
    for (int q0 = 0; q0 < n_queries; q0 += LFR__GALLERY_BATCH) {
        int nq = n_queries - q0 < LFR__GALLERY_BATCH ? n_queries - q0 : LFR__GALLERY_BATCH;
        for (int q = 0; q < nq; q++) {
            t[q].k = kk;
            t[q].n = 0;
        }
        for (size_t c = 0; c < n; c += CHUNK_ROWS) {
            size_t end = n - c < CHUNK_ROWS ? n : c + CHUNK_ROWS;
            int q = 0;
#ifdef LFR_GALLERY_X86
            if (avx2)
                for (; q + 2 <= nq; q += 2)
                    scan_avx2_pair(gallery, c, end, queries + (size_t)(q0 + q) * D,
                                   queries + (size_t)(q0 + q + 1) * D, &t[q], &t[q + 1]);
#endif
            for (; q < nq; q++)
                scan(gallery, c, end, queries + (size_t)(q0 + q) * D, &t[q]);
        }
        for (int q = 0; q < nq; q++)
            topk_emit(&t[q], idx_out + (size_t)(q0 + q) * (size_t)k,
                      score_out + (size_t)(q0 + q) * (size_t)k);
    }
    return kk;
}

/* ---- Per subject ---- */

int lfr__gallery_best_per_subject(const int *idx, const float *score, int n_hits,
                                  const int64_t *subject_of, int64_t *subject_out, float *best_out,
                                  int cap)
{
    if (cap <= 0) return 0;
    int n = 0;
    for (int h = 0; h < n_hits; h++) {
        int64_t s = subject_of[idx[h]];
        int j = 0;
        while (j < n && subject_out[j] != s)
            j++;
        if (j < n) {
            if (!(score[h] > best_out[j])) continue;
            /* Its best rose: take it out and insert it again below. */
            memmove(subject_out + j, subject_out + j + 1,
                    (size_t)(n - j - 1) * sizeof *subject_out);
            memmove(best_out + j, best_out + j + 1, (size_t)(n - j - 1) * sizeof *best_out);
            n--;
        } else if (n == cap) {
            /* Full: a new subject enters only by beating the last one. */
            if (!(score[h] > best_out[n - 1])) continue;
            n--;
        }
        int p = n++;
        while (p > 0 && score[h] > best_out[p - 1]) {
            subject_out[p] = subject_out[p - 1];
            best_out[p] = best_out[p - 1];
            p--;
        }
        subject_out[p] = s;
        best_out[p] = score[h];
    }
    return n;
}
