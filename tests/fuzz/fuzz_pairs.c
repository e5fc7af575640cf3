/*
 * libFuzzer target for the LFW pairs parser (the evaluation input that
 * comes from outside): any text must parse or fail with a message, and what
 * parses must list its images without error.
 */
#include <stddef.h>
#include <stdint.h>

#include "eval/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lfr__eval_pairs p;
    if (lfr__eval_pairs_parse((const char *)data, size, "fuzz.txt", &p) != 0) return 0;
    lfr__eval_images im;
    if (lfr__eval_pairs_images(&p, &im) == 0) lfr__eval_images_free(&im);
    lfr__eval_pairs_free(&p);
    return 0;
}
