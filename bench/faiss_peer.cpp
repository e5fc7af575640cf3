/*
 * The FAISS peer of bench/search: an exact inner-product index
 * (faiss::IndexFlatIP) behind a C interface, because Debian's libfaiss-dev
 * ships the C++ library only (no libfaiss_c). Compiled only for the
 * bench_search target.
 */
#include <cstddef>
#include <cstdint>
#include <new>

#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include "faiss_peer.h"

extern "C" {

void *lfr_bench_faiss_open(const float *xb, size_t n, int d)
{
    try {
        faiss::IndexFlatIP *index = new faiss::IndexFlatIP(d);
        index->add((faiss::Index::idx_t)n, xb);
        return index;
    } catch (...) {
        return nullptr;
    }
}

int lfr_bench_faiss_search(void *index, const float *queries, int n_queries, int k,
                           float *score_out, int64_t *idx_out)
{
    try {
        static_cast<faiss::IndexFlatIP *>(index)->search(
            n_queries, queries, k, score_out, reinterpret_cast<faiss::Index::idx_t *>(idx_out));
        return 0;
    } catch (...) {
        return -1;
    }
}

void lfr_bench_faiss_close(void *index)
{
    delete static_cast<faiss::IndexFlatIP *>(index);
}

void lfr_bench_faiss_set_threads(int n)
{
    omp_set_num_threads(n);
}

int lfr_bench_faiss_max_threads(void)
{
    return omp_get_max_threads();
}

int lfr_bench_faiss_blas_threshold(void)
{
    return faiss::distance_compute_blas_threshold;
}
}
