/*
 * libFuzzer target for the manifest parser (src/eval/manifest.h), the
 * description of an evaluation data set that comes from outside: any text
 * must parse or fail with a message, and what parses must be consistent
 * (every path found again, every index in range) and give comparisons.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "eval/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lfr__manifest m;
    if (lfr__manifest_parse((const char *)data, size, "fuzz.tsv", &m) != 0) return 0;
    for (size_t i = 0; i < m.n_images; i++) {
        if (lfr__manifest_find(&m, m.path[i]) != (long)i) abort();
        if (m.identity[i] < 0 || m.identity[i] >= m.n_identities) abort();
        for (int c = 0; c < m.n_columns; c++)
            if (m.label[c][i] < -1 || m.label[c][i] >= m.n_values[c]) abort();
    }
    lfr__eval_comparisons cmp;
    if (m.n_identities >= 2 && lfr__eval_comparisons_sample(&m, 3, 16, 1, &cmp) == 0)
        lfr__eval_comparisons_free(&cmp);
    lfr__manifest_free(&m);
    return 0;
}
