/*
 * lfr_onnx_inputs: writes the inputs of the ONNX fixtures (the cases of
 * tests/unit/onnx_cases.h, real images from the shared face data) for
 * scripts/oracle/onnx.mjs, which runs them through onnxruntime. Each case
 * becomes OUT/<name>.rgb (8-bit RGB, n images of h x w, HWC, one after
 * another) and a line on stdout:
 *
 *   name <TAB> model <TAB> n <TAB> h <TAB> w <TAB> edgeface <TAB> sha256
 *
 *   lfr_onnx_inputs DATA OUT
 */
#include <stdio.h>
#include <stdlib.h>

#include "onnx_cases.h"
#include "util/util.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lfr_onnx_inputs DATA OUT\n");
        return 2;
    }
    for (int i = 0; i < N_ONNX_CASES; i++) {
        const onnx_case *c = &ONNX_CASES[i];
        size_t n = (size_t)c->n * c->h * c->w * 3;
        uint8_t *rgb = malloc(n);
        if (!rgb) return 1;
        if (onnx_case_pixels(c, argv[1], rgb) != LFR_OK) {
            fprintf(stderr, "lfr_onnx_inputs: %s\n", lfr_errmsg());
            return 1;
        }
        char path[1024], sha[65];
        snprintf(path, sizeof path, "%s/%s.rgb", argv[2], c->name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(rgb, 1, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "lfr_onnx_inputs: cannot write %s\n", path);
            return 1;
        }
        lfr__sha256_hex(rgb, n, sha);
        printf("%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c->name, c->model, c->n, c->h, c->w, c->edgeface,
               sha);
        free(rgb);
    }
    return 0;
}
