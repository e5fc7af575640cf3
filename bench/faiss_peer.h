/*
 * C interface to the FAISS peer of bench/search (bench/faiss_peer.cpp).
 */
#ifndef LFR_BENCH_FAISS_PEER_H
#define LFR_BENCH_FAISS_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An IndexFlatIP holding a copy of the n rows of d floats in xb, or NULL. */
void *lfr_bench_faiss_open(const float *xb, size_t n, int d);
/* Top-k of n_queries queries: k scores and ids per query; 0 or -1. */
int lfr_bench_faiss_search(void *index, const float *queries, int n_queries, int k,
                           float *score_out, int64_t *idx_out);
void lfr_bench_faiss_close(void *index);
/* OpenMP threads FAISS may use (omp_set_num_threads / omp_get_max_threads). */
void lfr_bench_faiss_set_threads(int n);
int lfr_bench_faiss_max_threads(void);
/* Queries per call from which FAISS switches to a BLAS matrix product. */
int lfr_bench_faiss_blas_threshold(void);

#ifdef __cplusplus
}
#endif

#endif
