/*
 * lfr_nn_probe: loads a model file (TFLite or ONNX, told apart by content)
 * with the library's reader, builds a runtime and runs it once on zeros,
 * then prints what it found: operators, XNNPACK runtimes, own kernels and
 * the outputs' names and shapes. A file the reader refuses gets the
 * library's one-line message on stderr and exit status 1. For the bad-input
 * tests of the ONNX reader (tests/e2e/bad_onnx.sh) until the engine loads
 * ONNX models itself.
 *
 *   lfr_nn_probe MODEL [N,C,H,W]   (0: the file's own dimension)
 */
#include <stdio.h>
#include <stdlib.h>

#include "lfr/lfr.h"
#include "nn/nn.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: lfr_nn_probe MODEL [N,C,H,W]\n");
        return 2;
    }
    int shape[LFR__MAX_DIMS], n = 0;
    if (argc == 3) {
        char *p = argv[2];
        while (*p && n < LFR__MAX_DIMS) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0 || v > 65536) {
                fprintf(stderr, "lfr_nn_probe: bad shape '%s'\n", argv[2]);
                return 2;
            }
            shape[n++] = (int)v;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') break;
        }
    }
    lfr__graph *g;
    if (lfr__graph_load_file(argv[1], n, shape, &g) != LFR_OK) {
        fprintf(stderr, "%s\n", lfr_errmsg());
        return 1;
    }
    lfr__xnn *x;
    int rc = lfr__xnn_create(g, lfr__graph_batch(g), NULL, &x);
    if (rc == LFR_OK) rc = lfr__xnn_run(x);
    if (rc != LFR_OK) {
        fprintf(stderr, "%s\n", lfr_errmsg());
        lfr__graph_free(g);
        return 1;
    }
    int n_xnn, n_own;
    lfr__xnn_stats(x, &n_xnn, &n_own);
    printf("%s: %d operators, %d XNNPACK runtimes, %d own kernels\n", argv[1], g->n_ops, n_xnn,
           n_own);
    for (int i = 0; i < g->n_outputs; i++) {
        int nd, d[LFR__MAX_DIMS];
        lfr__graph_io_shape(g, 1, i, &nd, d);
        printf("  output %s [", g->tensors[g->outputs[i]].name);
        for (int k = 0; k < nd; k++)
            printf(k ? ",%d" : "%d", d[k]);
        printf("]\n");
    }
    lfr__xnn_free(x);
    lfr__graph_free(g);
    return 0;
}
