/*
 * Small ONNX models written byte by byte (a protobuf writer of a few
 * functions), for tests/unit/test_onnx.c and for the fuzzing seed corpus
 * (tests/tools/lfr_onnx_corpus.c writes tests/fuzz/corpus/onnx/): valid
 * graphs that exercise layouts and folding, and hostile files, each with
 * the status and the words its one-line error must contain. Also the
 * crafted TFLite file of the security review's S12 (shapes whose product
 * wraps around 2^64).
 */
#ifndef LFR_ONNX_BUILD_H
#define LFR_ONNX_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"

/* ---- Protobuf writer ------------------------------------------------------------------ */

typedef struct pbw {
    uint8_t *p;
    size_t n, cap;
} pbw;

static inline void pbw_free(pbw *w)
{
    free(w->p);
    w->p = NULL;
    w->n = w->cap = 0;
}

static inline void pb_raw(pbw *w, const void *data, size_t n)
{
    if (w->n + n > w->cap) {
        size_t cap = (w->cap ? 2 * w->cap : 256) + n;
        uint8_t *p = realloc(w->p, cap);
        if (!p) abort();
        w->p = p;
        w->cap = cap;
    }
    if (n) memcpy(w->p + w->n, data, n);
    w->n += n;
}

static inline void pb_varint(pbw *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(w, b, n);
}

static inline void pb_key(pbw *w, uint32_t field, int wt)
{
    pb_varint(w, (uint64_t)field << 3 | (uint64_t)wt);
}

static inline void pb_int(pbw *w, uint32_t field, int64_t v)
{
    pb_key(w, field, 0);
    pb_varint(w, (uint64_t)v);
}

static inline void pb_bytes(pbw *w, uint32_t field, const void *data, size_t n)
{
    pb_key(w, field, 2);
    pb_varint(w, n);
    pb_raw(w, data, n);
}

static inline void pb_str(pbw *w, uint32_t field, const char *s)
{
    pb_bytes(w, field, s, strlen(s));
}

/* Append sub as a length-delimited field and free it. */
static inline void pb_sub(pbw *w, uint32_t field, pbw *sub)
{
    pb_bytes(w, field, sub->p, sub->n);
    pbw_free(sub);
}

static inline void pb_f32(pbw *w, uint32_t field, float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint8_t le[4] = {(uint8_t)b, (uint8_t)(b >> 8), (uint8_t)(b >> 16), (uint8_t)(b >> 24)};
    pb_key(w, field, 5);
    pb_raw(w, le, 4);
}

/* ---- ONNX messages ------------------------------------------------------------------------- */

enum { OB_FLOAT = 1, OB_INT8 = 3, OB_INT64 = 7 };

/* TensorProto with raw data (n elements of size esz; data may be NULL for
 * a tensor without data). */
static inline pbw ob_tensor(const char *name, int dtype, int nd, const int64_t *dims,
                            const void *data, size_t bytes)
{
    pbw t = {0};
    for (int i = 0; i < nd; i++)
        pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, dtype);
    pb_str(&t, 8, name);
    if (data) pb_bytes(&t, 9, data, bytes);
    return t;
}

static inline pbw ob_f32(const char *name, int nd, const int64_t *dims, const float *v)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)dims[i];
    return ob_tensor(name, OB_FLOAT, nd, dims, v, n * 4);
}

static inline pbw ob_i64(const char *name, int nd, const int64_t *dims, const int64_t *v)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)dims[i];
    return ob_tensor(name, OB_INT64, nd, dims, v, n * 8);
}

/* ValueInfoProto of a tensor; a negative dim is symbolic ("d"). */
static inline pbw ob_value(const char *name, int elem, int nd, const int64_t *dims)
{
    pbw shape = {0}, tt = {0}, tp = {0}, v = {0};
    for (int i = 0; i < nd; i++) {
        pbw d = {0};
        if (dims[i] >= 0)
            pb_int(&d, 1, dims[i]);
        else
            pb_str(&d, 2, "d");
        pb_sub(&shape, 1, &d);
    }
    pb_int(&tt, 1, elem);
    pb_sub(&tt, 2, &shape);
    pb_sub(&tp, 1, &tt);
    pb_str(&v, 1, name);
    pb_sub(&v, 2, &tp);
    return v;
}

static inline pbw ob_attr_i(const char *name, int64_t v)
{
    pbw a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 2);
    pb_int(&a, 3, v);
    return a;
}

static inline pbw ob_attr_f(const char *name, float v)
{
    pbw a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 1);
    pb_f32(&a, 2, v);
    return a;
}

static inline pbw ob_attr_s(const char *name, const char *s)
{
    pbw a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 3);
    pb_str(&a, 4, s);
    return a;
}

static inline pbw ob_attr_ints(const char *name, int n, const int64_t *v)
{
    pbw a = {0}, packed = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 7);
    for (int i = 0; i < n; i++)
        pb_varint(&packed, (uint64_t)v[i]);
    pb_sub(&a, 8, &packed);
    return a;
}

static inline pbw ob_attr_t(const char *name, pbw *t)
{
    pbw a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 4);
    pb_sub(&a, 5, t);
    return a;
}

/* NodeProto; ins/outs NULL-terminated; attrs (n_attrs built attributes) freed. */
static inline pbw ob_node(const char *op, const char *name, const char *const *ins,
                          const char *const *outs, int n_attrs, pbw *attrs)
{
    pbw n = {0};
    for (int i = 0; ins[i]; i++)
        pb_str(&n, 1, ins[i]);
    for (int i = 0; outs[i]; i++)
        pb_str(&n, 2, outs[i]);
    pb_str(&n, 3, name);
    pb_str(&n, 4, op);
    for (int i = 0; i < n_attrs; i++)
        pb_sub(&n, 5, &attrs[i]);
    return n;
}

/* A graph under construction: add nodes, initialisers, inputs and outputs,
 * then ob_model. */
typedef struct obg {
    pbw g;
} obg;

static inline void obg_node(obg *G, pbw n)
{
    pb_sub(&G->g, 1, &n);
}

static inline void obg_init(obg *G, pbw t)
{
    pb_sub(&G->g, 5, &t);
}

static inline void obg_input(obg *G, pbw v)
{
    pb_sub(&G->g, 11, &v);
}

static inline void obg_output(obg *G, pbw v)
{
    pb_sub(&G->g, 12, &v);
}

static inline pbw ob_model(obg *G, int64_t opset)
{
    pbw m = {0}, os = {0};
    pb_int(&m, 1, 8);
    pb_str(&m, 2, "openlfr tests");
    pb_str(&G->g, 2, "test");
    pb_sub(&m, 7, &G->g);
    if (opset > 0) {
        pb_str(&os, 1, "");
        pb_int(&os, 2, opset);
        pb_sub(&m, 8, &os);
    }
    return m;
}

#define IN(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- Valid models --------------------------------------------------------------------------- */

/* x [N,C,H,W] -> Conv(groups G, 3x3, pad 1, bias) -> BatchNormalization ->
 * Relu -> MaxPool 2x2 -> Transpose(0,2,3,1) -> Reshape [N, -1, CO] ->
 * Softmax(-1). bn: scale, bias, mean, var (4 rows of CO). */
static inline pbw build_conv_chain(int N, int C, int H, int W, int CO, int G, const float *w,
                                   const float *b, const float *bn)
{
    obg G0 = {0};
    int64_t xd[4] = {-1, C, -1, -1}, wd[4] = {CO, C / G, 3, 3}, bd[1] = {CO}, yd[3] = {N, -1, CO};
    obg_input(&G0, ob_value("x", OB_FLOAT, 4, xd));
    obg_init(&G0, ob_f32("w", 4, wd, w));
    obg_init(&G0, ob_f32("b", 1, bd, b));
    const char *bn_names[4] = {"bn_s", "bn_b", "bn_m", "bn_v"};
    for (int i = 0; i < 4; i++)
        obg_init(&G0, ob_f32(bn_names[i], 1, bd, bn + (size_t)i * CO));
    int64_t shape[3] = {0, -1, CO}, sd[1] = {3};
    obg_init(&G0, ob_i64("shape", 1, sd, shape));
    int64_t pads[4] = {1, 1, 1, 1}, k3[2] = {3, 3}, k2[2] = {2, 2}, perm[4] = {0, 2, 3, 1};
    pbw ca[3] = {ob_attr_i("group", G), ob_attr_ints("pads", 4, pads),
                 ob_attr_ints("kernel_shape", 2, k3)};
    obg_node(&G0, ob_node("Conv", "conv", IN("x", "w", "b"), IN("c"), 3, ca));
    pbw ba[1] = {ob_attr_f("epsilon", 1e-5f)};
    obg_node(&G0, ob_node("BatchNormalization", "bn", IN("c", "bn_s", "bn_b", "bn_m", "bn_v"),
                          IN("bn_out"), 1, ba));
    obg_node(&G0, ob_node("Relu", "relu", IN("bn_out"), IN("r"), 0, NULL));
    pbw pa[2] = {ob_attr_ints("kernel_shape", 2, k2), ob_attr_ints("strides", 2, k2)};
    obg_node(&G0, ob_node("MaxPool", "pool", IN("r"), IN("p"), 2, pa));
    pbw ta[1] = {ob_attr_ints("perm", 4, perm)};
    obg_node(&G0, ob_node("Transpose", "t", IN("p"), IN("pt"), 1, ta));
    obg_node(&G0, ob_node("Reshape", "reshape", IN("pt", "shape"), IN("rs"), 0, NULL));
    pbw sa[1] = {ob_attr_i("axis", -1)};
    obg_node(&G0, ob_node("Softmax", "softmax", IN("rs"), IN("y"), 1, sa));
    obg_output(&G0, ob_value("y", OB_FLOAT, 3, yd));
    (void)H;
    (void)W;
    return ob_model(&G0, 13);
}

/* x [N,C,H,W] -> Split(channels in halves) -> depthwise 3x3 on the first
 * half -> Concat -> Reshape [N, C, H*W] -> Transpose(0,2,1) ->
 * LayerNormalization -> MatMul with DequantizeLinear(int8 [C, D]) -> Add
 * bias -> GELU (Div, Erf, Add, Mul, Mul) -> ReduceMean(axis 1, keepdims 0). */
static inline pbw build_block(int N, int C, int H, int W, int D, const float *dw, const float *dwb,
                              const float *ln_s, const float *ln_b, const int8_t *q, float scale,
                              const float *fcb)
{
    obg G0 = {0};
    int64_t xd[4] = {-1, C, H, W}, yd[2] = {N, D};
    obg_input(&G0, ob_value("x", OB_FLOAT, 4, xd));
    int64_t dwd[4] = {C / 2, 1, 3, 3}, hd[1] = {C / 2}, cd[1] = {C}, qd[2] = {C, D}, dd[1] = {D};
    obg_init(&G0, ob_f32("dw", 4, dwd, dw));
    obg_init(&G0, ob_f32("dwb", 1, hd, dwb));
    obg_init(&G0, ob_f32("ln_s", 1, cd, ln_s));
    obg_init(&G0, ob_f32("ln_b", 1, cd, ln_b));
    obg_init(&G0, ob_tensor("q", OB_INT8, 2, qd, q, (size_t)C * D));
    obg_init(&G0, ob_f32("qs", 0, NULL, &scale));
    int8_t zero = 0;
    obg_init(&G0, ob_tensor("qz", OB_INT8, 0, NULL, &zero, 1));
    obg_init(&G0, ob_f32("fcb", 1, dd, fcb));
    int64_t split[2] = {C / 2, C / 2}, two[1] = {2}, three[1] = {3};
    obg_init(&G0, ob_i64("split", 1, two, split));
    int64_t shape[3] = {0, C, H * W};
    obg_init(&G0, ob_i64("shape", 1, three, shape));
    float sqrt2 = 1.41421356f, one = 1.0f, half = 0.5f;
    obg_init(&G0, ob_f32("sqrt2", 0, NULL, &sqrt2));
    obg_init(&G0, ob_f32("one", 0, NULL, &one));
    obg_init(&G0, ob_f32("half", 0, NULL, &half));
    int64_t ax1[1] = {1};
    obg_init(&G0, ob_i64("axes", 1, (int64_t[]){1}, ax1));
    pbw spa[1] = {ob_attr_i("axis", 1)};
    obg_node(&G0, ob_node("Split", "split", IN("x", "split"), IN("s0", "s1"), 1, spa));
    int64_t pads[4] = {1, 1, 1, 1};
    pbw ca[2] = {ob_attr_i("group", C / 2), ob_attr_ints("pads", 4, pads)};
    obg_node(&G0, ob_node("Conv", "dwconv", IN("s0", "dw", "dwb"), IN("c0"), 2, ca));
    pbw cta[1] = {ob_attr_i("axis", 1)};
    obg_node(&G0, ob_node("Concat", "cat", IN("c0", "s1"), IN("cat"), 1, cta));
    obg_node(&G0, ob_node("Reshape", "flat", IN("cat", "shape"), IN("flat"), 0, NULL));
    int64_t perm[3] = {0, 2, 1};
    pbw ta[1] = {ob_attr_ints("perm", 3, perm)};
    obg_node(&G0, ob_node("Transpose", "tok", IN("flat"), IN("tok"), 1, ta));
    pbw la[1] = {ob_attr_f("epsilon", 1e-6f)};
    obg_node(&G0, ob_node("LayerNormalization", "ln", IN("tok", "ln_s", "ln_b"), IN("ln"), 1, la));
    obg_node(&G0, ob_node("DequantizeLinear", "dq", IN("q", "qs", "qz"), IN("wf"), 0, NULL));
    obg_node(&G0, ob_node("MatMul", "mm", IN("ln", "wf"), IN("mm"), 0, NULL));
    obg_node(&G0, ob_node("Add", "bias", IN("mm", "fcb"), IN("h"), 0, NULL));
    obg_node(&G0, ob_node("Div", "div", IN("h", "sqrt2"), IN("hd"), 0, NULL));
    obg_node(&G0, ob_node("Erf", "erf", IN("hd"), IN("he"), 0, NULL));
    obg_node(&G0, ob_node("Add", "add1", IN("he", "one"), IN("h1"), 0, NULL));
    obg_node(&G0, ob_node("Mul", "mul", IN("h", "h1"), IN("hm"), 0, NULL));
    obg_node(&G0, ob_node("Mul", "mulhalf", IN("hm", "half"), IN("g"), 0, NULL));
    pbw ra[1] = {ob_attr_i("keepdims", 0)};
    obg_node(&G0, ob_node("ReduceMean", "mean", IN("g", "axes"), IN("y"), 1, ra));
    obg_output(&G0, ob_value("y", OB_FLOAT, 2, yd));
    return ob_model(&G0, 18);
}

/* x [1,3,h,w] -> Resize(nearest, x2) -> r; Shape(r) -> Gather(0) ->
 * Unsqueeze -> Concat with [-1, 3] -> Reshape(Transpose(r, 0,2,3,1)). */
static inline pbw build_dynamic_reshape(void)
{
    obg G0 = {0};
    int64_t xd[4] = {1, 3, -1, -1}, yd[3] = {1, -1, 3};
    obg_input(&G0, ob_value("x", OB_FLOAT, 4, xd));
    float scales[4] = {1, 1, 2, 2};
    int64_t four[1] = {4}, zero_d[1] = {0}, one[1] = {1}, idx = 0, m1 = -1, c3 = 3;
    obg_init(&G0, ob_f32("roi", 1, zero_d, NULL));
    obg_init(&G0, ob_f32("scales", 1, four, scales));
    obg_init(&G0, ob_i64("idx", 0, NULL, &idx));
    obg_init(&G0, ob_i64("m1", 1, one, &m1));
    obg_init(&G0, ob_i64("c3", 1, one, &c3));
    pbw ra[3] = {ob_attr_s("mode", "nearest"),
                 ob_attr_s("coordinate_transformation_mode", "asymmetric"),
                 ob_attr_s("nearest_mode", "floor")};
    obg_node(&G0, ob_node("Resize", "up", IN("x", "roi", "scales"), IN("r"), 3, ra));
    int64_t perm[4] = {0, 2, 3, 1}, ax0[1] = {0};
    pbw ta[1] = {ob_attr_ints("perm", 4, perm)};
    obg_node(&G0, ob_node("Transpose", "t", IN("r"), IN("rt"), 1, ta));
    obg_node(&G0, ob_node("Shape", "shape", IN("r"), IN("s"), 0, NULL));
    pbw ga[1] = {ob_attr_i("axis", 0)};
    obg_node(&G0, ob_node("Gather", "gather", IN("s", "idx"), IN("n"), 1, ga));
    pbw ua[1] = {ob_attr_ints("axes", 1, ax0)};
    obg_node(&G0, ob_node("Unsqueeze", "unsq", IN("n"), IN("nu"), 1, ua));
    pbw ca[1] = {ob_attr_i("axis", 0)};
    obg_node(&G0, ob_node("Concat", "target", IN("nu", "m1", "c3"), IN("tgt"), 1, ca));
    obg_node(&G0, ob_node("Reshape", "reshape", IN("rt", "tgt"), IN("y"), 0, NULL));
    obg_output(&G0, ob_value("y", OB_FLOAT, 3, yd));
    return ob_model(&G0, 11);
}

/* EdgeFace's cross-covariance attention on tokens x [N, T, C] (C = 3 * 4 * d
 * after the qkv projection): MatMul -> Reshape [N, T, 3, 4, d] ->
 * Transpose(2,0,3,4,1) -> Split(axis 0) -> Squeeze -> ReduceL2 -> Max ->
 * Div -> Transpose -> MatMul (two activations) -> Mul(temperature) ->
 * Softmax -> MatMul -> Transpose -> Reshape [N, T, 4 d]. */
static inline pbw build_xca(int N, int T, int d, const float *wqkv, const float *temp)
{
    obg G0 = {0};
    int C = 4 * d;
    int64_t xd[3] = {N, T, C}, yd[3] = {N, T, C}, wd[2] = {C, 3 * C};
    obg_input(&G0, ob_value("x", OB_FLOAT, 3, xd));
    obg_init(&G0, ob_f32("wqkv", 2, wd, wqkv));
    int64_t s5[5] = {0, T, 3, 4, d}, s3[3] = {0, T, C}, five[1] = {5}, three[1] = {3};
    obg_init(&G0, ob_i64("s5", 1, five, s5));
    obg_init(&G0, ob_i64("s3", 1, three, s3));
    int64_t ones[3] = {1, 1, 1}, ax0 = 0, one[1] = {1};
    obg_init(&G0, ob_i64("split", 1, three, ones));
    obg_init(&G0, ob_i64("ax0", 1, one, &ax0));
    float eps = 1e-12f;
    obg_init(&G0, ob_f32("eps", 0, NULL, &eps));
    int64_t td[4] = {1, 4, 1, 1};
    obg_init(&G0, ob_f32("temp", 4, td, temp));
    obg_node(&G0, ob_node("MatMul", "qkv", IN("x", "wqkv"), IN("qkv"), 0, NULL));
    obg_node(&G0, ob_node("Reshape", "r5", IN("qkv", "s5"), IN("r5"), 0, NULL));
    int64_t p5[5] = {2, 0, 3, 4, 1};
    pbw ta[1] = {ob_attr_ints("perm", 5, p5)};
    obg_node(&G0, ob_node("Transpose", "t5", IN("r5"), IN("t5"), 1, ta));
    pbw sa[1] = {ob_attr_i("axis", 0)};
    obg_node(&G0, ob_node("Split", "split3", IN("t5", "split"), IN("q0", "k0", "v0"), 1, sa));
    obg_node(&G0, ob_node("Squeeze", "sq", IN("q0", "ax0"), IN("q"), 0, NULL));
    obg_node(&G0, ob_node("Squeeze", "sk", IN("k0", "ax0"), IN("k"), 0, NULL));
    obg_node(&G0, ob_node("Squeeze", "sv", IN("v0", "ax0"), IN("v"), 0, NULL));
    int64_t last[1] = {-1};
    pbw r1[2] = {ob_attr_ints("axes", 1, last), ob_attr_i("keepdims", 1)};
    obg_node(&G0, ob_node("ReduceL2", "nq", IN("q"), IN("nq"), 2, r1));
    pbw r2[2] = {ob_attr_ints("axes", 1, last), ob_attr_i("keepdims", 1)};
    obg_node(&G0, ob_node("ReduceL2", "nk", IN("k"), IN("nk"), 2, r2));
    obg_node(&G0, ob_node("Max", "mq", IN("nq", "eps"), IN("mq"), 0, NULL));
    obg_node(&G0, ob_node("Max", "mk", IN("nk", "eps"), IN("mk"), 0, NULL));
    obg_node(&G0, ob_node("Div", "dq", IN("q", "mq"), IN("qn"), 0, NULL));
    obg_node(&G0, ob_node("Div", "dk", IN("k", "mk"), IN("kn"), 0, NULL));
    int64_t p4[4] = {0, 1, 3, 2}, p4b[4] = {0, 3, 1, 2};
    pbw t1[1] = {ob_attr_ints("perm", 4, p4)};
    obg_node(&G0, ob_node("Transpose", "kt", IN("kn"), IN("kt"), 1, t1));
    obg_node(&G0, ob_node("MatMul", "attn", IN("qn", "kt"), IN("a"), 0, NULL));
    obg_node(&G0, ob_node("Mul", "scale", IN("a", "temp"), IN("as"), 0, NULL));
    pbw sm[1] = {ob_attr_i("axis", -1)};
    obg_node(&G0, ob_node("Softmax", "softmax", IN("as"), IN("p"), 1, sm));
    obg_node(&G0, ob_node("MatMul", "pv", IN("p", "v"), IN("o"), 0, NULL));
    pbw t2[1] = {ob_attr_ints("perm", 4, p4b)};
    obg_node(&G0, ob_node("Transpose", "ot", IN("o"), IN("ot"), 1, t2));
    obg_node(&G0, ob_node("Reshape", "r3", IN("ot", "s3"), IN("y"), 0, NULL));
    obg_output(&G0, ob_value("y", OB_FLOAT, 3, yd));
    return ob_model(&G0, 13);
}

/* An embedder of the ArcFace family's shape: Conv (stride 2, SAME_UPPER) ->
 * BatchNormalization -> PRelu -> Pad -> Conv (no bias) -> Clip(0, 6) ->
 * LeakyRelu -> GlobalAveragePool -> Flatten -> Gemm (transB) -> Slice ->
 * Sub/Min/Max with constants -> ReduceSum over the features. */
static inline pbw build_classifier(int N, int C, int H, int W, const float *w1, const float *bn,
                                   const float *slope, const float *w2, const float *fc,
                                   const float *fcb)
{
    obg G0 = {0};
    int F = 8, D = 5;
    int64_t xd[4] = {-1, C, H, W}, yd[2] = {N, 1};
    obg_input(&G0, ob_value("x", OB_FLOAT, 4, xd));
    int64_t w1d[4] = {F, C, 3, 3}, fd[1] = {F}, sd[3] = {F, 1, 1}, w2d[4] = {F, F, 3, 3};
    int64_t fcd[2] = {D, F}, dd[1] = {D};
    obg_init(&G0, ob_f32("w1", 4, w1d, w1));
    const char *bn_names[4] = {"s", "b", "m", "v"};
    for (int i = 0; i < 4; i++)
        obg_init(&G0, ob_f32(bn_names[i], 1, fd, bn + (size_t)i * F));
    obg_init(&G0, ob_f32("slope", 3, sd, slope));
    obg_init(&G0, ob_f32("w2", 4, w2d, w2));
    obg_init(&G0, ob_f32("fc", 2, fcd, fc));
    obg_init(&G0, ob_f32("fcb", 1, dd, fcb));
    int64_t pads[8] = {0, 0, 1, 1, 0, 0, 1, 1}, eight[1] = {8};
    obg_init(&G0, ob_i64("pads", 1, eight, pads));
    float lo = 0, hi = 6, c = 0.25f;
    obg_init(&G0, ob_f32("lo", 0, NULL, &lo));
    obg_init(&G0, ob_f32("hi", 0, NULL, &hi));
    obg_init(&G0, ob_f32("c", 0, NULL, &c));
    int64_t st[1] = {1}, en[1] = {4}, ax[1] = {1}, one[1] = {1};
    obg_init(&G0, ob_i64("st", 1, one, st));
    obg_init(&G0, ob_i64("en", 1, one, en));
    obg_init(&G0, ob_i64("ax", 1, one, ax));
    int64_t s2[2] = {2, 2};
    pbw ca[2] = {ob_attr_s("auto_pad", "SAME_UPPER"), ob_attr_ints("strides", 2, s2)};
    obg_node(&G0, ob_node("Conv", "conv1", IN("x", "w1"), IN("c1"), 2, ca));
    obg_node(&G0,
             ob_node("BatchNormalization", "bn", IN("c1", "s", "b", "m", "v"), IN("b1"), 0, NULL));
    obg_node(&G0, ob_node("PRelu", "prelu", IN("b1", "slope"), IN("p1"), 0, NULL));
    obg_node(&G0, ob_node("Pad", "pad", IN("p1", "pads"), IN("pd"), 0, NULL));
    obg_node(&G0, ob_node("Conv", "conv2", IN("pd", "w2"), IN("c2"), 0, NULL));
    obg_node(&G0, ob_node("Clip", "clip", IN("c2", "lo", "hi"), IN("cl"), 0, NULL));
    pbw la[1] = {ob_attr_f("alpha", 0.1f)};
    obg_node(&G0, ob_node("LeakyRelu", "leaky", IN("cl"), IN("lr"), 1, la));
    obg_node(&G0, ob_node("GlobalAveragePool", "gap", IN("lr"), IN("gp"), 0, NULL));
    obg_node(&G0, ob_node("Flatten", "flat", IN("gp"), IN("fl"), 0, NULL));
    pbw ga[1] = {ob_attr_i("transB", 1)};
    obg_node(&G0, ob_node("Gemm", "gemm", IN("fl", "fc", "fcb"), IN("e"), 1, ga));
    obg_node(&G0, ob_node("Slice", "slice", IN("e", "st", "en", "ax"), IN("sl"), 0, NULL));
    obg_node(&G0, ob_node("Sub", "sub", IN("c", "sl"), IN("su"), 0, NULL));
    obg_node(&G0, ob_node("Min", "min", IN("su", "hi"), IN("mi"), 0, NULL));
    obg_node(&G0, ob_node("Max", "max", IN("mi", "lo"), IN("mx"), 0, NULL));
    pbw ra[1] = {ob_attr_i("keepdims", 1)};
    obg_node(&G0, ob_node("ReduceSum", "sum", IN("mx", "ax"), IN("y"), 1, ra));
    obg_output(&G0, ob_value("y", OB_FLOAT, 2, yd));
    return ob_model(&G0, 13);
}

/* ---- Hostile models ------------------------------------------------------------------------- */

typedef struct bad_model {
    const char *file;
    int status;
    const char *phrase;
} bad_model;

static const bad_model BAD_MODELS[] = {
    {"cycle.onnx", LFR_ERR_FORMAT, "cycle"},
    {"missing_initialiser.onnx", LFR_ERR_FORMAT, "'w' is not defined"},
    {"int64_input.onnx", LFR_ERR_UNSUPPORTED, "element type 7"},
    {"int64_weights.onnx", LFR_ERR_UNSUPPORTED, "weights must be float"},
    {"huge_initialiser.onnx", LFR_ERR_TOO_LARGE, "too large"},
    {"reshape_overflow.onnx", LFR_ERR_FORMAT, "reshape"},
    {"undefined_output.onnx", LFR_ERR_FORMAT, "'nowhere' is not defined"},
    {"written_twice.onnx", LFR_ERR_FORMAT, "already has a value"},
    {"unsupported_op.onnx", LFR_ERR_UNSUPPORTED, "NonMaxSuppression"},
    {"wire_type.onnx", LFR_ERR_FORMAT, "wire type"},
    {"length_past_end.onnx", LFR_ERR_FORMAT, "past the end"},
    {"overlong_varint.onnx", LFR_ERR_FORMAT, "offset"},
    {"external_data.onnx", LFR_ERR_UNSUPPORTED, "external file"},
    {"raw_size.onnx", LFR_ERR_FORMAT, "its shape needs"},
    {"gather_index.onnx", LFR_ERR_FORMAT, "index out of range"},
    {"no_opset.onnx", LFR_ERR_FORMAT, "opset"},
    {"foreign_domain.onnx", LFR_ERR_UNSUPPORTED, "domain 'com.example'"},
    {"negative_dim.onnx", LFR_ERR_FORMAT, "dimension"},
    {"division_by_zero.onnx", LFR_ERR_FORMAT, "division by zero"},
    {"conv_channels.onnx", LFR_ERR_FORMAT, "group"},
    {"empty.onnx", LFR_ERR_FORMAT, "empty file"},
    {"text.onnx", LFR_ERR_FORMAT, "offset"},
    {"huge_input.onnx", LFR_ERR_INVALID, "fixed at"},
    {"shape_overflow.onnx", LFR_ERR_FORMAT, "shape overflows"},
};
#define N_BAD_MODELS ((int)(sizeof BAD_MODELS / sizeof BAD_MODELS[0]))

/* A graph with input x [1,3,8,8] (dims as given) and output y. */
static inline obg bad_start(int elem, const int64_t *xd)
{
    obg G0 = {0};
    int64_t d[4] = {1, 3, 8, 8};
    obg_input(&G0, ob_value("x", elem, 4, xd ? xd : d));
    return G0;
}

static inline pbw bad_finish(obg *G0, int64_t opset)
{
    int64_t yd[4] = {1, 3, 8, 8};
    obg_output(G0, ob_value("y", OB_FLOAT, 4, yd));
    return ob_model(G0, opset);
}

static inline pbw build_bad(int i)
{
    obg G0;
    pbw m = {0};
    const char *f = BAD_MODELS[i].file;
    if (!strcmp(f, "cycle.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Add", "a", IN("x", "b"), IN("a"), 0, NULL));
        obg_node(&G0, ob_node("Relu", "b", IN("a"), IN("b"), 0, NULL));
        obg_node(&G0, ob_node("Relu", "out", IN("a"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "missing_initialiser.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Conv", "conv", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "int64_input.onnx")) {
        G0 = bad_start(OB_INT64, NULL);
        obg_node(&G0, ob_node("Relu", "relu", IN("x"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "int64_weights.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t wd[4] = {3, 3, 1, 1}, w[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        obg_init(&G0, ob_i64("w", 4, wd, w));
        obg_node(&G0, ob_node("Conv", "conv", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "huge_initialiser.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t wd[5] = {16777183, 16774925, 4129340, 1, 3};
        obg_init(&G0, ob_tensor("w", OB_FLOAT, 5, wd, NULL, 0));
        obg_node(&G0, ob_node("Add", "add", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "reshape_overflow.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t sd[1] = {4}, s[4] = {16777183, 16774925, 4129340, 1};
        obg_init(&G0, ob_i64("s", 1, sd, s));
        obg_node(&G0, ob_node("Reshape", "reshape", IN("x", "s"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "shape_overflow.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t sd[1] = {5}, s[5] = {16777183, 16774925, 4129340, 16777215, -1};
        obg_init(&G0, ob_i64("s", 1, sd, s));
        obg_node(&G0, ob_node("Reshape", "reshape", IN("x", "s"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "undefined_output.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Relu", "relu", IN("x"), IN("r"), 0, NULL));
        int64_t yd[4] = {1, 3, 8, 8};
        obg_output(&G0, ob_value("nowhere", OB_FLOAT, 4, yd));
        return ob_model(&G0, 13);
    }
    if (!strcmp(f, "written_twice.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Relu", "one", IN("x"), IN("y"), 0, NULL));
        obg_node(&G0, ob_node("Sigmoid", "two", IN("x"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "unsupported_op.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("NonMaxSuppression", "nms", IN("x"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "wire_type.onnx")) {
        pb_key(&m, 7, 3); /* a group start: a wire type ONNX never uses */
        pb_varint(&m, 1);
        return m;
    }
    if (!strcmp(f, "length_past_end.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Relu", "relu", IN("x"), IN("y"), 0, NULL));
        m = bad_finish(&G0, 13);
        /* The graph's length claims 1000 bytes more than the file has. */
        pbw cut = {0};
        pb_int(&cut, 1, 8);
        pb_key(&cut, 7, 2);
        pb_varint(&cut, m.n + 1000);
        pb_raw(&cut, m.p, m.n);
        pbw_free(&m);
        return cut;
    }
    if (!strcmp(f, "overlong_varint.onnx")) {
        uint8_t b[12] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        pb_raw(&m, b, sizeof b);
        return m;
    }
    if (!strcmp(f, "external_data.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        pbw t = {0};
        pb_int(&t, 1, 3);
        pb_int(&t, 2, OB_FLOAT);
        pb_str(&t, 8, "w");
        pb_int(&t, 14, 1);
        obg_init(&G0, t);
        obg_node(&G0, ob_node("Add", "add", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "raw_size.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t wd[1] = {8};
        float w[3] = {1, 2, 3};
        obg_init(&G0, ob_tensor("w", OB_FLOAT, 1, wd, w, sizeof w));
        obg_node(&G0, ob_node("Add", "add", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "gather_index.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t idx = 7;
        obg_init(&G0, ob_i64("i", 0, NULL, &idx));
        obg_node(&G0, ob_node("Shape", "shape", IN("x"), IN("s"), 0, NULL));
        obg_node(&G0, ob_node("Gather", "gather", IN("s", "i"), IN("g"), 0, NULL));
        obg_node(&G0, ob_node("Reshape", "reshape", IN("x", "g"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "no_opset.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        obg_node(&G0, ob_node("Relu", "relu", IN("x"), IN("y"), 0, NULL));
        return bad_finish(&G0, 0);
    }
    if (!strcmp(f, "foreign_domain.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        pbw n = ob_node("Relu", "relu", IN("x"), IN("y"), 0, NULL);
        pb_str(&n, 7, "com.example");
        obg_node(&G0, n);
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "negative_dim.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t wd[1] = {-3};
        obg_init(&G0, ob_tensor("w", OB_FLOAT, 1, wd, NULL, 0));
        obg_node(&G0, ob_node("Add", "add", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "division_by_zero.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t zero = 0;
        obg_init(&G0, ob_i64("z", 0, NULL, &zero));
        obg_node(&G0, ob_node("Shape", "shape", IN("x"), IN("s"), 0, NULL));
        obg_node(&G0, ob_node("Div", "div", IN("s", "z"), IN("d"), 0, NULL));
        obg_node(&G0, ob_node("Reshape", "reshape", IN("x", "d"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "conv_channels.onnx")) {
        G0 = bad_start(OB_FLOAT, NULL);
        int64_t wd[4] = {3, 5, 1, 1};
        float w[15] = {0};
        obg_init(&G0, ob_f32("w", 4, wd, w));
        obg_node(&G0, ob_node("Conv", "conv", IN("x", "w"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    if (!strcmp(f, "empty.onnx")) return m;
    if (!strcmp(f, "text.onnx")) {
        const char *t = "this is a text file, not a model at all";
        pb_raw(&m, t, strlen(t));
        return m;
    }
    if (!strcmp(f, "huge_input.onnx")) {
        int64_t xd[4] = {1, 3, 16777183, 16774925};
        G0 = bad_start(OB_FLOAT, xd);
        obg_node(&G0, ob_node("Relu", "relu", IN("x"), IN("y"), 0, NULL));
        return bad_finish(&G0, 13);
    }
    abort();
}

/* ---- The security review's S12: a TFLite file whose shapes wrap -------------------------------
 */

/* Flatbuffer writer, front to back: children after parents, references
 * patched when the child is placed. */
typedef struct fbw {
    uint8_t b[512];
    size_t n;
} fbw;

static inline size_t fbw_align(fbw *w, size_t a)
{
    while (w->n % a)
        w->b[w->n++] = 0;
    return w->n;
}

static inline void fbw_put(fbw *w, size_t at, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        w->b[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* A table with n fields of the given byte widths (0: absent); positions of
 * the fields are returned in at[]. */
static inline size_t fbw_table(fbw *w, int n, const int *width, size_t *at)
{
    size_t vt = fbw_align(w, 2), vsize = 4 + 2 * (size_t)n;
    w->n += vsize;
    size_t tp = fbw_align(w, 4);
    w->n += 4;
    for (int i = 0; i < n; i++) {
        at[i] = 0;
        if (!width[i]) continue;
        at[i] = fbw_align(w, (size_t)width[i]);
        w->n += (size_t)width[i];
    }
    fbw_align(w, 4);
    fbw_put(w, vt, vsize, 2);
    fbw_put(w, vt + 2, w->n - tp, 2);
    for (int i = 0; i < n; i++)
        fbw_put(w, vt + 4 + 2 * (size_t)i, at[i] ? at[i] - tp : 0, 2);
    fbw_put(w, tp, tp - vt, 4);
    return tp;
}

static inline void fbw_ref(fbw *w, size_t field, size_t target)
{
    fbw_put(w, field, target - field, 4);
}

static inline size_t fbw_ivec(fbw *w, int n, const int32_t *v)
{
    size_t at = fbw_align(w, 4);
    fbw_put(w, at, (uint64_t)n, 4);
    for (int i = 0; i < n; i++)
        fbw_put(w, at + 4 + 4 * (size_t)i, (uint32_t)v[i], 4);
    w->n += 4 + 4 * (size_t)n;
    return at;
}

/* Returns a malloc'd file of *n bytes: one MAX_POOL_2D operator without
 * options, input and output float32 [1, 16777183, 16774925, 4129340],
 * whose product is 56692 modulo 2^64, and no buffers. */
static inline uint8_t *build_wrap_tflite(size_t *n)
{
    fbw w = {{0}, 8};
    memcpy(w.b + 4, "TFL3", 4);
    size_t at[5];
    size_t model = fbw_table(&w, 3, (const int[]){4, 4, 4}, at);
    fbw_put(&w, 0, model, 4);
    fbw_put(&w, at[0], 3, 4);
    size_t f_codes = at[1], f_sgs = at[2];
    /* operator_codes: [ {deprecated_builtin_code 17, builtin_code 17} ] */
    size_t codes = fbw_ivec(&w, 1, (const int32_t[]){0});
    fbw_ref(&w, f_codes, codes);
    size_t code = fbw_table(&w, 4, (const int[]){1, 0, 0, 4}, at);
    w.b[at[0]] = 17;
    fbw_put(&w, at[3], 17, 4);
    fbw_ref(&w, codes + 4, code);
    /* subgraphs: [ {tensors, inputs [0], outputs [1], operators} ] */
    size_t sgs = fbw_ivec(&w, 1, (const int32_t[]){0});
    fbw_ref(&w, f_sgs, sgs);
    size_t sg = fbw_table(&w, 4, (const int[]){4, 4, 4, 4}, at);
    fbw_ref(&w, sgs + 4, sg);
    size_t sg_f[4] = {at[0], at[1], at[2], at[3]};
    fbw_ref(&w, sg_f[1], fbw_ivec(&w, 1, (const int32_t[]){0}));
    fbw_ref(&w, sg_f[2], fbw_ivec(&w, 1, (const int32_t[]){1}));
    size_t tensors = fbw_ivec(&w, 2, (const int32_t[]){0, 0});
    fbw_ref(&w, sg_f[0], tensors);
    const int32_t shape[4] = {1, 16777183, 16774925, 4129340};
    for (int t = 0; t < 2; t++) {
        size_t tt = fbw_table(&w, 2, (const int[]){4, 1}, at);
        fbw_ref(&w, tensors + 4 + 4 * (size_t)t, tt);
        w.b[at[1]] = 0; /* float32 */
        fbw_ref(&w, at[0], fbw_ivec(&w, 4, shape));
    }
    size_t ops = fbw_ivec(&w, 1, (const int32_t[]){0});
    fbw_ref(&w, sg_f[3], ops);
    size_t op = fbw_table(&w, 3, (const int[]){4, 4, 4}, at);
    fbw_ref(&w, ops + 4, op);
    size_t op_f[3] = {at[0], at[1], at[2]};
    fbw_put(&w, op_f[0], 0, 4);
    fbw_ref(&w, op_f[1], fbw_ivec(&w, 1, (const int32_t[]){0}));
    fbw_ref(&w, op_f[2], fbw_ivec(&w, 1, (const int32_t[]){1}));
    uint8_t *out = malloc(w.n);
    if (!out) abort();
    memcpy(out, w.b, w.n);
    *n = w.n;
    return out;
}

#endif
