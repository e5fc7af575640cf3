/*
 * libFuzzer target for the TFLite reader: any input must load cleanly or
 * fail with a message; whatever loads is run once through the reference
 * executor when small enough, which exercises the shape checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lfr__graph *g;
    if (lfr__tflite_load(data, size, "fuzz.tflite", &g) != 0) return 0;
    size_t total = 0;
    for (int t = 0; t < g->n_tensors; t++)
        total += lfr__graph_numel(g, t, g->file_batch);
    if (total < ((size_t)1 << 20) && g->n_inputs > 0) {
        float *in[LFR__MAX_IO] = {0}, *out[LFR__MAX_IO] = {0};
        int ok = 1;
        for (int i = 0; i < g->n_inputs; i++)
            ok &= (in[i] = calloc(lfr__graph_numel(g, g->inputs[i], g->file_batch) + 1, 4)) != NULL;
        for (int i = 0; i < g->n_outputs; i++)
            ok &=
                (out[i] = calloc(lfr__graph_numel(g, g->outputs[i], g->file_batch) + 1, 4)) != NULL;
        if (ok) lfr__ref_run(g, g->file_batch, (const float *const *)in, out);
        for (int i = 0; i < LFR__MAX_IO; i++) {
            free(in[i]);
            free(out[i]);
        }
    }
    lfr__graph_free(g);
    return 0;
}
