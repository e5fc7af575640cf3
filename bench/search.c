/*
 * bench/search: speed of the watchlist search (src/gallery) against FAISS's
 * exact inner-product index, faiss::IndexFlatIP (the peer, Debian's
 * libfaiss-dev, bench/faiss_peer.cpp), in the same run on the same data.
 *
 *   build/bench_search [--sizes 10000,1000000] [--queries N] [--big-queries N]
 *                      [--k K] [--seed S]
 *
 * For each gallery size: random L2-normalised LFR_TEMPLATE_DIM-d templates
 * (uniform coordinates, then normalised) and random normalised queries;
 * --queries of them for galleries up to 100,000 rows (default 1000),
 * --big-queries above (default 20). Two ways of searching:
 *
 * - one query per call, as the live pipeline searches: ms per query
 *   (median over the queries, the calls interleaved query by query) for
 *   lfr__gallery_topk (AVX2 when the CPU has it), the scalar reference
 *   lfr__gallery_topk_ref (on a tenth of the queries for big galleries),
 *   and FAISS with 1 OpenMP thread and with its default thread count;
 * - all queries in one call: lfr__gallery_topk_batch against FAISS's
 *   search on the whole batch (which, from 20 queries, computes the scores
 *   as a BLAS matrix product), ms per query.
 *
 * Ratios are printed as time(ours) / time(FAISS): below 1, ours is faster.
 * Every query's top-1 is checked to agree between ours and FAISS (a
 * different row counts as agreeing only when the scores are within 1e-5,
 * i.e. an exact tie summed in another order); the run exits with status 1
 * if any disagrees.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faiss_peer.h"
#include "gallery/gallery.h"
#include "bench.h"
#include "lfr/lfr.h"

#define D LFR_TEMPLATE_DIM

static uint64_t rng;

static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* n random unit vectors, or NULL. */
static float *random_unit(size_t n)
{
    float *v = malloc(n * D * sizeof *v);
    if (!v) return NULL;
    for (size_t r = 0; r < n; r++) {
        float *x = v + r * D;
        double s = 0;
        for (int j = 0; j < D; j++) {
            x[j] = rnd();
            s += (double)x[j] * x[j];
        }
        float inv = (float)(1.0 / sqrt(s));
        for (int j = 0; j < D; j++)
            x[j] *= inv;
    }
    return v;
}

/* Does our top-1 agree with FAISS's (same row, or a tie within 1e-5)? */
static int top1_agrees(int ours_idx, float ours_score, int64_t faiss_idx, float faiss_score)
{
    return (int64_t)ours_idx == faiss_idx || fabsf(ours_score - faiss_score) <= 1e-5f;
}

static int bench_size(size_t n, int nq, int k, int default_threads)
{
    double t0 = now_ms();
    float *g = random_unit(n), *q = random_unit((size_t)nq);
    if (!g || !q) return fprintf(stderr, "bench_search: out of memory for n=%zu\n", n), 1;
    double t_gen = now_ms() - t0;
    t0 = now_ms();
    void *index = lfr_bench_faiss_open(g, n, D);
    if (!index) return fprintf(stderr, "bench_search: FAISS index failed\n"), 1;
    double t_add = now_ms() - t0;
    int n_ref = n > 100000 ? (nq + 9) / 10 : nq;
    printf("\n## %zu templates (%.0f MiB), %d queries, top-%d  "
           "(generated in %.0f ms, FAISS add %.0f ms)\n",
           n, (double)n * D * sizeof(float) / 1048576.0, nq, k, t_gen, t_add);

    int *idx = malloc((size_t)nq * (size_t)k * sizeof *idx);
    float *score = malloc((size_t)nq * (size_t)k * sizeof *score);
    int64_t *fidx = malloc((size_t)nq * (size_t)k * sizeof *fidx);
    float *fscore = malloc((size_t)nq * (size_t)k * sizeof *fscore);
    double *t_ours = malloc((size_t)nq * sizeof(double)),
           *t_ref = malloc((size_t)nq * sizeof(double)),
           *t_f1 = malloc((size_t)nq * sizeof(double)), *t_fd = malloc((size_t)nq * sizeof(double));
    if (!idx || !score || !fidx || !fscore || !t_ours || !t_ref || !t_f1 || !t_fd)
        return fprintf(stderr, "bench_search: out of memory\n"), 1;

    /* Warm up: page in both copies of the gallery. */
    lfr__gallery_topk(g, n, q, k, idx, score);
    lfr_bench_faiss_set_threads(1);
    lfr_bench_faiss_search(index, q, 1, k, fscore, fidx);

    /* One query per call, interleaved so that load changes hit all alike. */
    int disagree = 0, ref_disagree = 0;
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * D;
        double a = now_ms();
        int cnt = lfr__gallery_topk(g, n, qi, k, idx, score);
        t_ours[i] = now_ms() - a;
        lfr_bench_faiss_set_threads(1);
        a = now_ms();
        lfr_bench_faiss_search(index, qi, 1, k, fscore, fidx);
        t_f1[i] = now_ms() - a;
        if (cnt < 1 || !top1_agrees(idx[0], score[0], fidx[0], fscore[0])) {
            if (disagree++ < 5)
                fprintf(stderr, "query %d: top-1 ours row %d (%.7f), FAISS row %lld (%.7f)\n", i,
                        idx[0], (double)score[0], (long long)fidx[0], (double)fscore[0]);
        }
        lfr_bench_faiss_set_threads(default_threads);
        a = now_ms();
        lfr_bench_faiss_search(index, qi, 1, k, fscore, fidx);
        t_fd[i] = now_ms() - a;
        if (i < n_ref) {
            int ridx[LFR__GALLERY_MAX_K];
            float rscore[LFR__GALLERY_MAX_K];
            a = now_ms();
            lfr__gallery_topk_ref(g, n, qi, k, ridx, rscore);
            t_ref[i] = now_ms() - a;
            if (!top1_agrees(ridx[0], rscore[0], (int64_t)idx[0], score[0])) ref_disagree++;
        }
    }
    double m_ours = median(t_ours, nq), m_ref = median(t_ref, n_ref), m_f1 = median(t_f1, nq),
           m_fd = median(t_fd, nq);
    double gbps = (double)n * D * sizeof(float) / (m_ours * 1e-3) / 1e9;
    printf("one query per call, ms per query (median):\n");
    printf("  ours (%-8s)%*s %10.4f   (%.1f GB/s of gallery)\n",
           lfr__gallery_have_avx2() ? "AVX2+FMA" : "portable", 14, "", m_ours, gbps);
    printf("  ours, scalar reference       %10.4f   (%d queries)\n", m_ref, n_ref);
    printf("  FAISS IndexFlatIP, 1 thread  %10.4f\n", m_f1);
    printf("  FAISS IndexFlatIP, %d threads %10.4f\n", default_threads, m_fd);
    printf("  ratio ours/FAISS: %.3f (1 thread), %.3f (%d threads); reference/ours: %.1f\n",
           m_ours / m_f1, m_ours / m_fd, default_threads, m_ref / m_ours);
    printf("  top-1 ours vs FAISS: %d of %d agree; reference vs ours: %d of %d agree\n",
           nq - disagree, nq, n_ref - ref_disagree, n_ref);

    /* All queries in one call. */
    double a = now_ms();
    int cnt = lfr__gallery_topk_batch(g, n, q, nq, k, idx, score);
    double b_ours = (now_ms() - a) / nq;
    lfr_bench_faiss_set_threads(1);
    a = now_ms();
    lfr_bench_faiss_search(index, q, nq, k, fscore, fidx);
    double b_f1 = (now_ms() - a) / nq;
    int batch_disagree = 0;
    for (int i = 0; i < nq; i++)
        if (cnt < 1 || !top1_agrees(idx[(size_t)i * k], score[(size_t)i * k], fidx[(size_t)i * k],
                                    fscore[(size_t)i * k]))
            batch_disagree++;
    lfr_bench_faiss_set_threads(default_threads);
    a = now_ms();
    lfr_bench_faiss_search(index, q, nq, k, fscore, fidx);
    double b_fd = (now_ms() - a) / nq;
    printf("all %d queries in one call, ms per query:\n", nq);
    printf("  ours, lfr__gallery_topk_batch %9.4f\n", b_ours);
    printf("  FAISS IndexFlatIP, 1 thread  %10.4f\n", b_f1);
    printf("  FAISS IndexFlatIP, %d threads %10.4f\n", default_threads, b_fd);
    printf("  ratio ours/FAISS: %.3f (1 thread), %.3f (%d threads)\n", b_ours / b_f1, b_ours / b_fd,
           default_threads);
    printf("  top-1 ours vs FAISS: %d of %d agree\n", nq - batch_disagree, nq);
    disagree += batch_disagree;

    lfr_bench_faiss_close(index);
    free(g);
    free(q);
    free(idx);
    free(score);
    free(fidx);
    free(fscore);
    free(t_ours);
    free(t_ref);
    free(t_f1);
    free(t_fd);
    if (disagree) fprintf(stderr, "bench_search: %d top-1 disagreements with FAISS\n", disagree);
    return disagree || ref_disagree ? 1 : 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {10000, 1000000};
    int n_sizes = 2;
    long queries = 1000, big_queries = 20, k = 10, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--sizes") && v) {
            n_sizes = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *p = buf, *save = NULL, *tok; (tok = strtok_r(p, ",", &save)) && n_sizes < 8;
                 p = NULL) {
                long s;
                if (!parse_int(tok, 1, 100000000, &s))
                    return fprintf(stderr, "bench_search: bad size %s\n", tok), 2;
                sizes[n_sizes++] = (size_t)s;
            }
            i++;
        } else if (!strcmp(argv[i], "--queries") && v && parse_int(v, 1, 1000000, &queries)) {
            i++;
        } else if (!strcmp(argv[i], "--big-queries") && v &&
                   parse_int(v, 1, 1000000, &big_queries)) {
            i++;
        } else if (!strcmp(argv[i], "--k") && v && parse_int(v, 1, LFR__GALLERY_MAX_K, &k)) {
            i++;
        } else if (!strcmp(argv[i], "--seed") && v && parse_int(v, 1, 1L << 30, &seed)) {
            i++;
        } else {
            fprintf(stderr,
                    "usage: bench_search [--sizes N,N...] [--queries N] [--big-queries N] "
                    "[--k K (1..%d)] [--seed S]\n",
                    LFR__GALLERY_MAX_K);
            return 2;
        }
    }
    rng = 0x9e3779b97f4a7c15u * (uint64_t)seed;
    int default_threads = lfr_bench_faiss_max_threads();
    printf("bench_search: %d-d float templates, kernel %s, FAISS default threads %d, "
           "FAISS BLAS from %d queries per call\n",
           D, lfr__gallery_have_avx2() ? "AVX2+FMA" : "portable (no AVX2+FMA)", default_threads,
           lfr_bench_faiss_blas_threshold());
    int rc = 0;
    for (int s = 0; s < n_sizes; s++)
        rc |= bench_size(sizes[s], (int)(sizes[s] > 100000 ? big_queries : queries), (int)k,
                         default_threads);
    return rc;
}
