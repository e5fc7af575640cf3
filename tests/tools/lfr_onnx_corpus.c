/*
 * lfr_onnx_corpus: writes the hand-built ONNX models of
 * tests/unit/onnx_build.h (valid graphs and hostile files) into a folder,
 * as the seed corpus of tests/fuzz/fuzz_onnx.c (tests/fuzz/corpus/onnx/),
 * and the security review's wrapping TFLite model for fuzz_tflite
 * (tests/fuzz/corpus/tflite/).
 *
 *   lfr_onnx_corpus ONNX-DIR TFLITE-DIR
 */
#include <stdio.h>

#include "onnx_build.h"

static int put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "lfr_onnx_corpus: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lfr_onnx_corpus ONNX-DIR TFLITE-DIR\n");
        return 2;
    }
    float v[4096];
    for (int i = 0; i < 4096; i++)
        v[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    float pos[32];
    for (int i = 0; i < 32; i++)
        pos[i] = 0.5f + (float)i / 32;
    int8_t q[64];
    for (int i = 0; i < 64; i++)
        q[i] = (int8_t)(i * 5 - 150);
    pbw m[5];
    const char *names[5] = {"conv_chain.onnx", "block.onnx", "dynamic_reshape.onnx", "xca.onnx",
                            "classifier.onnx"};
    float bn[4 * 6];
    for (int i = 0; i < 24; i++)
        bn[i] = i >= 18 ? pos[i] : v[i];
    m[0] = build_conv_chain(1, 4, 6, 6, 6, 2, v, v, bn);
    m[1] = build_block(1, 4, 3, 3, 4, v, v, v, v, q, 0.02f, v);
    m[2] = build_dynamic_reshape();
    m[3] = build_xca(1, 3, 2, v, pos);
    float bnc[32];
    for (int i = 0; i < 32; i++)
        bnc[i] = i >= 24 ? pos[i] : v[i];
    m[4] = build_classifier(1, 3, 9, 7, v, bnc, v, v, v, v);
    int rc = 0;
    for (int i = 0; i < 5; i++) {
        rc |= put(argv[1], names[i], m[i].p, m[i].n);
        pbw_free(&m[i]);
    }
    for (int i = 0; i < N_BAD_MODELS; i++) {
        pbw b = build_bad(i);
        char name[96];
        snprintf(name, sizeof name, "bad_%s", BAD_MODELS[i].file);
        rc |= put(argv[1], name, b.p, b.n);
        pbw_free(&b);
    }
    size_t n;
    uint8_t *t = build_wrap_tflite(&n);
    rc |= put(argv[2], "wrap_maxpool.tflite", t, n);
    free(t);
    return rc;
}
