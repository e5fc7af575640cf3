/*
 * libFuzzer target for the ONNX reader: any input must load cleanly or
 * fail with a one-line message naming the file; whatever loads (graphs of
 * under a million elements in all) is run once through the reference
 * executor and once through the executor (XNNPACK runtimes and the
 * project's kernels, including the buffer planning), which exercises the
 * shape checks. The input shape: batch 1 with the file's other
 * dimensions, or 32 x 32 where height and width are dynamic, or the file's
 * own for other ranks. Seeds:
 * tests/fuzz/corpus/onnx/ (hand-built models, valid and hostile, written by
 * tests/tools/lfr_onnx_corpus).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"
#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lfr__graph *g;
    /* Batch 1 and the file's other dimensions; else 32 x 32 for dynamic
     * height and width; else the file's own shape (other ranks). */
    static const int shapes[2][4] = {{1, 0, 0, 0}, {1, 0, 32, 32}};
    int rc = lfr__onnx_load(data, size, "fuzz.onnx", 4, shapes[0], &g);
    if (rc == LFR_ERR_UNSUPPORTED || rc == LFR_ERR_INVALID)
        rc = lfr__onnx_load(data, size, "fuzz.onnx", 4, shapes[1], &g);
    if (rc == LFR_ERR_UNSUPPORTED || rc == LFR_ERR_INVALID)
        rc = lfr__onnx_load(data, size, "fuzz.onnx", 0, NULL, &g);
    if (rc != LFR_OK) {
        const char *m = lfr_errmsg();
        if (strncmp(m, "fuzz.onnx: ", 11) != 0 || strchr(m, '\n')) abort();
        return 0;
    }
    size_t total = 0;
    int batch = lfr__graph_batch(g);
    for (int t = 0; t < g->n_tensors; t++)
        total += lfr__graph_numel(g, t, batch);
    if (total < ((size_t)1 << 20)) {
        float *in[LFR__MAX_IO] = {0}, *out[LFR__MAX_IO] = {0};
        int ok = 1;
        for (int i = 0; i < g->n_inputs; i++)
            ok &= (in[i] = calloc(lfr__graph_numel(g, g->inputs[i], batch) + 1, 4)) != NULL;
        for (int i = 0; i < g->n_outputs; i++)
            ok &= (out[i] = calloc(lfr__graph_numel(g, g->outputs[i], batch) + 1, 4)) != NULL;
        if (ok) lfr__ref_run(g, batch, (const float *const *)in, out);
        for (int i = 0; i < LFR__MAX_IO; i++) {
            free(in[i]);
            free(out[i]);
        }
        lfr__xnn *x;
        if (lfr__xnn_create(g, batch, NULL, &x) == LFR_OK) {
            lfr__xnn_run(x);
            lfr__xnn_free(x);
        }
    }
    lfr__graph_free(g);
    return 0;
}
