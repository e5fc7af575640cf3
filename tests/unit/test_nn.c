/*
 * Tests of the neural-network layer: every supported operator run through
 * XNNPACK against the naive reference on random inputs; whole models
 * against the reference executor and against fixtures from TFLite's own
 * interpreter (scripts/oracle/oracle.mjs); PReLU fusion; and the loader's
 * answers to truncated, bit-flipped and foreign files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "util/util.h"
#include "testutil.h"

/* ---- Single-operator graphs ------------------------------------------------------ */

typedef struct tgraph {
    lfr__graph *g;
    float *store[8];
    int n_store;
} tgraph;

static uint32_t rng = 1;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static tgraph new_graph(int n_tensors)
{
    tgraph t = {0};
    t.g = calloc(1, sizeof *t.g);
    t.g->n_tensors = n_tensors;
    t.g->tensors = calloc((size_t)n_tensors, sizeof *t.g->tensors);
    t.g->ops = calloc(4, sizeof *t.g->ops);
    snprintf(t.g->name, sizeof t.g->name, "test");
    return t;
}

static void set_shape(tgraph *t, int i, int n, int d0, int d1, int d2, int d3)
{
    lfr__tensor *T = &t->g->tensors[i];
    T->n_dims = n;
    int d[4] = {d0, d1, d2, d3};
    for (int k = 0; k < n; k++)
        T->dims[k] = d[k];
}

static void set_static(tgraph *t, int i)
{
    lfr__tensor *T = &t->g->tensors[i];
    size_t n = 1;
    for (int k = 0; k < T->n_dims; k++)
        n *= (size_t)T->dims[k];
    float *d = malloc(n * sizeof *d);
    for (size_t k = 0; k < n; k++)
        d[k] = frand();
    T->data = d;
    t->store[t->n_store++] = d;
}

static void set_static_i32(tgraph *t, int i, const int32_t *v, int n)
{
    int32_t *d = malloc((size_t)n * sizeof *d);
    memcpy(d, v, (size_t)n * sizeof *d);
    t->g->tensors[i].idata = d;
    t->store[t->n_store++] = (float *)d;
}

static void free_graph(tgraph *t)
{
    for (int i = 0; i < t->n_store; i++)
        free(t->store[i]);
    lfr__graph_free(t->g);
}

/* Run graph input 0 (and 1 when two inputs) through both executors at
 * `batch` and require max |a - r| <= 1e-4 * max(1, |r|). */
static void *test_pool;
static void compare_executors(tgraph *t, int batch)
{
    lfr__graph *g = t->g;
    g->file_batch = g->tensors[g->inputs[0]].dims[0];
    lfr__xnn *x;
    int rc = lfr__xnn_create(g, batch, test_pool, &x);
    if (rc != LFR_OK) fail_msg("xnn_create: %s", lfr_errmsg());
    const float *ins[LFR__MAX_IO];
    for (int i = 0; i < g->n_inputs; i++) {
        float *in = lfr__xnn_input(x, i);
        size_t n = lfr__graph_numel(g, g->inputs[i], batch);
        for (size_t k = 0; k < n; k++)
            in[k] = 3 * frand();
        ins[i] = in;
    }
    assert_int_equal(lfr__xnn_run(x), LFR_OK);
    for (int o = 0; o < g->n_outputs; o++) {
        size_t n = lfr__graph_numel(g, g->outputs[o], batch);
        float *ref = malloc(n * sizeof *ref);
        float *outs[1] = {ref};
        assert_int_equal(lfr__ref_run(g, batch, ins, outs), LFR_OK);
        const float *got = lfr__xnn_output(x, o);
        double worst = 0;
        for (size_t k = 0; k < n; k++) {
            double err = fabs((double)got[k] - ref[k]) / fmax(1.0, fabs(ref[k]));
            if (err > worst) worst = err;
        }
        if (worst > 1e-4)
            fail_msg("%s: max relative error %g", lfr__op_name(g->ops[0].type), worst);
        free(ref);
    }
    lfr__xnn_free(x);
}

static void conv_case(int dw, int k, int stride, int padding, int act, int mult, int batch)
{
    int H = 9, W = 11, C = 5, CO = dw ? C * mult : 7;
    tgraph t = new_graph(4);
    set_shape(&t, 0, 4, 1, H, W, C);
    if (dw)
        set_shape(&t, 1, 4, 1, k, k, CO);
    else
        set_shape(&t, 1, 4, CO, k, k, C);
    set_static(&t, 1);
    set_shape(&t, 2, 1, CO, 0, 0, 0);
    set_static(&t, 2);
    int oh = padding == LFR__PAD_SAME ? (H + stride - 1) / stride : (H - k) / stride + 1;
    int ow = padding == LFR__PAD_SAME ? (W + stride - 1) / stride : (W - k) / stride + 1;
    set_shape(&t, 3, 4, 1, oh, ow, CO);
    t.g->ops[0] = (lfr__op){.type = dw ? LFR__OP_DWCONV2D : LFR__OP_CONV2D,
                            .n_in = 3,
                            .in = {0, 1, 2},
                            .out = 3,
                            .act = act,
                            .padding = padding,
                            .stride_h = stride,
                            .stride_w = stride,
                            .dil_h = 1,
                            .dil_w = 1};
    t.g->n_ops = 1;
    t.g->n_inputs = 1;
    t.g->inputs[0] = 0;
    t.g->n_outputs = 1;
    t.g->outputs[0] = 3;
    compare_executors(&t, batch);
    free_graph(&t);
}

static void test_conv(void **state)
{
    (void)state;
    for (int pad = 0; pad < 2; pad++)
        for (int s = 1; s <= 2; s++)
            for (int act = 0; act <= 3; act++) {
                conv_case(0, 3, s, pad, act, 1, 1);
                conv_case(0, 1, s, pad, act, 1, 2);
            }
    conv_case(0, 5, 2, LFR__PAD_SAME, 0, 1, 3);
}

static void test_dwconv(void **state)
{
    (void)state;
    for (int pad = 0; pad < 2; pad++)
        for (int s = 1; s <= 2; s++) {
            conv_case(1, 3, s, pad, LFR__ACT_NONE, 1, 1);
            conv_case(1, 3, s, pad, LFR__ACT_RELU, 2, 2);
        }
    conv_case(1, 5, 1, LFR__PAD_SAME, LFR__ACT_RELU6, 1, 1);
}

static void unary_case(lfr__op_type type, int batch)
{
    tgraph t = new_graph(2);
    set_shape(&t, 0, 4, 1, 4, 5, 6);
    set_shape(&t, 1, 4, 1, 4, 5, 6);
    t.g->ops[0] = (lfr__op){.type = type, .n_in = 1, .in = {0, -1, -1}, .out = 1};
    t.g->n_ops = 1;
    t.g->n_inputs = 1;
    t.g->n_outputs = 1;
    t.g->outputs[0] = 1;
    compare_executors(&t, batch);
    free_graph(&t);
}

static void test_unary(void **state)
{
    (void)state;
    unary_case(LFR__OP_ABS, 1);
    unary_case(LFR__OP_RELU, 2);
    unary_case(LFR__OP_RELU6, 1);
}

static void binary_case(lfr__op_type type, int broadcast, int act, int batch)
{
    tgraph t = new_graph(3);
    set_shape(&t, 0, 4, 1, 4, 5, 6);
    if (broadcast) {
        set_shape(&t, 1, 1, 6, 0, 0, 0);
        set_static(&t, 1);
    } else {
        set_shape(&t, 1, 4, 1, 4, 5, 6);
    }
    set_shape(&t, 2, 4, 1, 4, 5, 6);
    t.g->ops[0] = (lfr__op){.type = type, .n_in = 2, .in = {0, 1, -1}, .out = 2, .act = act};
    t.g->n_ops = 1;
    t.g->n_inputs = broadcast ? 1 : 2;
    t.g->inputs[1] = 1;
    t.g->n_outputs = 1;
    t.g->outputs[0] = 2;
    compare_executors(&t, batch);
    free_graph(&t);
}

static void test_binary(void **state)
{
    (void)state;
    lfr__op_type types[] = {LFR__OP_ADD, LFR__OP_SUB, LFR__OP_MUL};
    for (int i = 0; i < 3; i++) {
        binary_case(types[i], 0, LFR__ACT_NONE, 1);
        binary_case(types[i], 0, LFR__ACT_RELU, 2);
        binary_case(types[i], 1, LFR__ACT_NONE, 1);
    }
    binary_case(LFR__OP_PRELU, 1, LFR__ACT_NONE, 2);
}

static void test_maxpool(void **state)
{
    (void)state;
    int cases[][3] = {{2, 2, LFR__PAD_VALID},
                      {2, 2, LFR__PAD_SAME},
                      {3, 2, LFR__PAD_SAME},
                      {3, 1, LFR__PAD_SAME}};
    for (int c = 0; c < 4; c++) {
        int k = cases[c][0], s = cases[c][1], pad = cases[c][2], H = 9, W = 8;
        int oh = pad == LFR__PAD_SAME ? (H + s - 1) / s : (H - k) / s + 1;
        int ow = pad == LFR__PAD_SAME ? (W + s - 1) / s : (W - k) / s + 1;
        tgraph t = new_graph(2);
        set_shape(&t, 0, 4, 1, H, W, 3);
        set_shape(&t, 1, 4, 1, oh, ow, 3);
        t.g->ops[0] = (lfr__op){.type = LFR__OP_MAXPOOL2D,
                                .n_in = 1,
                                .in = {0, -1, -1},
                                .out = 1,
                                .padding = pad,
                                .stride_h = s,
                                .stride_w = s,
                                .filter_h = k,
                                .filter_w = k,
                                .dil_h = 1,
                                .dil_w = 1};
        t.g->n_ops = 1;
        t.g->n_inputs = 1;
        t.g->n_outputs = 1;
        t.g->outputs[0] = 1;
        compare_executors(&t, 2);
        free_graph(&t);
    }
}

static void test_pad_reshape(void **state)
{
    (void)state;
    tgraph t = new_graph(3);
    set_shape(&t, 0, 4, 1, 4, 5, 6);
    set_shape(&t, 1, 2, 4, 2, 0, 0);
    int32_t p[8] = {0, 0, 1, 2, 0, 3, 0, 10};
    set_static_i32(&t, 1, p, 8);
    set_shape(&t, 2, 4, 1, 7, 8, 16);
    t.g->ops[0] = (lfr__op){.type = LFR__OP_PAD, .n_in = 2, .in = {0, 1, -1}, .out = 2};
    t.g->n_ops = 1;
    t.g->n_inputs = 1;
    t.g->n_outputs = 1;
    t.g->outputs[0] = 2;
    compare_executors(&t, 2);
    free_graph(&t);

    tgraph r = new_graph(2);
    set_shape(&r, 0, 4, 1, 4, 5, 6);
    set_shape(&r, 1, 3, 1, 20, 6, 0);
    r.g->ops[0] = (lfr__op){.type = LFR__OP_RESHAPE, .n_in = 1, .in = {0, -1, -1}, .out = 1};
    r.g->n_ops = 1;
    r.g->n_inputs = 1;
    r.g->n_outputs = 1;
    r.g->outputs[0] = 1;
    compare_executors(&r, 3);
    free_graph(&r);
}

static void test_resize(void **state)
{
    (void)state;
    int modes[3][2] = {{0, 1}, {1, 0}, {0, 0}}; /* half-pixel, align corners, legacy */
    int sizes[2][2] = {{12, 16}, {3, 5}};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 2; s++) {
            tgraph t = new_graph(3);
            set_shape(&t, 0, 4, 1, 6, 8, 3);
            set_shape(&t, 1, 1, 2, 0, 0, 0);
            int32_t sz[2] = {sizes[s][0], sizes[s][1]};
            set_static_i32(&t, 1, sz, 2);
            set_shape(&t, 2, 4, 1, sz[0], sz[1], 3);
            t.g->ops[0] = (lfr__op){.type = LFR__OP_RESIZE_BILINEAR,
                                    .n_in = 2,
                                    .in = {0, 1, -1},
                                    .out = 2,
                                    .align_corners = modes[m][0],
                                    .half_pixel_centers = modes[m][1]};
            t.g->n_ops = 1;
            t.g->n_inputs = 1;
            t.g->n_outputs = 1;
            t.g->outputs[0] = 2;
            compare_executors(&t, 1);
            free_graph(&t);
        }
}

/* ---- Operators added for ONNX models ------------------------------------------------------------
 */

/* A graph of one operator with shapes fixed (as the ONNX reader makes
 * them): inputs 0.. are activations unless static, the last tensor is the
 * output. Runs both executors, on one thread and on two. */
static void check_op(tgraph *t, lfr__op op, int n_act_inputs)
{
    lfr__graph *g = t->g;
    op.out = g->n_tensors - 1;
    g->ops[0] = op;
    g->n_ops = 1;
    g->n_inputs = n_act_inputs;
    for (int i = 0; i < n_act_inputs; i++)
        g->inputs[i] = op.in[i];
    g->n_outputs = 1;
    g->outputs[0] = op.out;
    g->fixed = 1;
    const char *why = "";
    int n, d[LFR__MAX_DIMS];
    if (!lfr__op_infer_shape(g, &op, &n, d, &why)) fail_msg("%s: %s", lfr__op_name(op.type), why);
    lfr__tensor *o = &g->tensors[op.out];
    o->n_dims = n;
    memcpy(o->dims, d, sizeof d);
    assert_int_equal(lfr__graph_check(g), LFR_OK);
    int batch = g->tensors[g->inputs[0]].dims[0];
    compare_executors(t, batch);
    void *pool;
    assert_int_equal(lfr__xnn_pool_create(2, &pool), LFR_OK);
    test_pool = pool;
    compare_executors(t, batch);
    test_pool = NULL;
    lfr__xnn_pool_free(pool);
    free_graph(t);
}

static void set_shape_n(tgraph *t, int i, int n, const int *d)
{
    t->g->tensors[i].n_dims = n;
    for (int k = 0; k < n; k++)
        t->g->tensors[i].dims[k] = d[k];
}

static void test_binary_onnx(void **state)
{
    (void)state;
    lfr__op_type types[] = {LFR__OP_DIV, LFR__OP_MAX, LFR__OP_MIN};
    for (int i = 0; i < 3; i++)
        for (int bc = 0; bc < 3; bc++) {
            tgraph t = new_graph(3);
            int x[5] = {2, 3, 4, 5, 6}, y[5] = {1, 1, 4, 1, 6};
            set_shape_n(&t, 0, 5, x);
            set_shape_n(&t, 1, bc == 2 ? 1 : 5, bc == 2 ? (int[]){6} : bc ? y : x);
            if (bc) {
                set_static(&t, 1);
                if (types[i] == LFR__OP_DIV) { /* divisors away from zero */
                    float *d = t.store[t.n_store - 1];
                    for (int k = 0; k < (bc == 2 ? 6 : 24); k++)
                        d[k] = 1.0f + fabsf(d[k]);
                }
            }
            lfr__op op = {.type = types[i], .n_in = 2, .in = {0, 1}};
            check_op(&t, op, bc ? 1 : 2);
        }
}

static void test_unary_onnx(void **state)
{
    (void)state;
    lfr__op_type types[] = {LFR__OP_SIGMOID, LFR__OP_CLAMP, LFR__OP_ERF, LFR__OP_GELU};
    for (int i = 0; i < 4; i++) {
        tgraph t = new_graph(2);
        int x[3] = {3, 7, 129};
        set_shape_n(&t, 0, 3, x);
        lfr__op op = {.type = types[i], .n_in = 1, .in = {0}, .lo = -0.5f, .hi = 1.25f};
        check_op(&t, op, 1);
    }
}

/* Grouped and dilated convolutions with explicit, uneven padding; max
 * pooling with explicit padding and dilation. */
static void test_conv_explicit(void **state)
{
    (void)state;
    for (int groups = 1; groups <= 3; groups += 2)
        for (int dil = 1; dil <= 2; dil++) {
            tgraph t = new_graph(4);
            int x[4] = {2, 9, 10, 6}, w[4] = {9, 3, 3, 6 / groups}, b[1] = {9};
            set_shape_n(&t, 0, 4, x);
            set_shape_n(&t, 1, 4, w);
            set_static(&t, 1);
            set_shape_n(&t, 2, 1, b);
            set_static(&t, 2);
            lfr__op op = {.type = LFR__OP_CONV2D,
                          .n_in = 3,
                          .in = {0, 1, 2},
                          .padding = LFR__PAD_EXPLICIT,
                          .pad = {1, 2, 0, 1},
                          .stride_h = 2,
                          .stride_w = 1,
                          .dil_h = dil,
                          .dil_w = dil,
                          .groups = groups,
                          .act = LFR__ACT_RELU};
            check_op(&t, op, 1);
        }
    /* Depthwise windows beyond XNNPACK's microkernels run on our kernel. */
    int windows[][3] = {{7, 1, 1}, {9, 1, 2}, {7, 2, 1}};
    for (int k = 0; k < 3; k++) {
        tgraph t = new_graph(4);
        int K = windows[k][0], x[4] = {2, 11, 9, 13}, w[4] = {1, K, K, 13}, b[1] = {13};
        set_shape_n(&t, 0, 4, x);
        set_shape_n(&t, 1, 4, w);
        set_static(&t, 1);
        set_shape_n(&t, 2, 1, b);
        set_static(&t, 2);
        lfr__op op = {.type = LFR__OP_DWCONV2D,
                      .n_in = 3,
                      .in = {0, 1, 2},
                      .padding = k == 2 ? LFR__PAD_SAME : LFR__PAD_EXPLICIT,
                      .pad = {K / 2, K / 2 + 1, K / 2 - 1, K / 2},
                      .stride_h = windows[k][1],
                      .stride_w = windows[k][1],
                      .dil_h = windows[k][2],
                      .dil_w = 1,
                      .act = k == 1 ? LFR__ACT_RELU6 : LFR__ACT_NONE};
        assert_true(lfr__kern_large_dwconv(t.g, &op));
        check_op(&t, op, 1);
    }
    tgraph t = new_graph(2);
    int x[4] = {1, 11, 9, 4};
    set_shape_n(&t, 0, 4, x);
    lfr__op op = {.type = LFR__OP_MAXPOOL2D,
                  .n_in = 1,
                  .in = {0},
                  .padding = LFR__PAD_EXPLICIT,
                  .pad = {1, 0, 2, 1},
                  .filter_h = 3,
                  .filter_w = 2,
                  .stride_h = 2,
                  .stride_w = 2,
                  .dil_h = 2,
                  .dil_w = 1};
    check_op(&t, op, 1);
}

static void test_transpose_slice(void **state)
{
    (void)state;
    int perms[][5] = {{0, 2, 3, 1, 4}, {2, 0, 3, 4, 1}, {4, 3, 2, 1, 0}, {0, 1, 2, 4, 3}};
    for (int p = 0; p < 4; p++) {
        tgraph t = new_graph(2);
        int x[5] = {2, 3, 4, 5, 7};
        set_shape_n(&t, 0, 5, x);
        lfr__op op = {.type = LFR__OP_TRANSPOSE, .n_in = 1, .in = {0}};
        memcpy(op.perm, perms[p], sizeof op.perm);
        check_op(&t, op, 1);
    }
    for (int axis = 0; axis < 4; axis++) {
        tgraph t = new_graph(2);
        int x[4] = {3, 5, 6, 7};
        set_shape_n(&t, 0, 4, x);
        lfr__op op = {
            .type = LFR__OP_SLICE, .n_in = 1, .in = {0}, .axis = axis, .begin = 1, .size = 2};
        check_op(&t, op, 1);
    }
}

static void test_concat_many(void **state)
{
    (void)state;
    for (int axis = 0; axis < 3; axis++) {
        tgraph t = new_graph(6);
        int x[3] = {2, 3, 4};
        for (int i = 0; i < 4; i++) {
            int d[3] = {2, 3, 4};
            d[axis] += i;
            set_shape_n(&t, i, 3, d);
        }
        (void)x;
        set_static(&t, 3); /* a constant among the inputs */
        lfr__op op = {.type = LFR__OP_CONCAT, .n_in = 4, .in = {0, 1, 2, 3}, .axis = axis};
        check_op(&t, op, 3);
    }
}

static void test_fully_connected_matmul(void **state)
{
    (void)state;
    for (int bias = 0; bias < 2; bias++) {
        tgraph t = new_graph(4);
        int x[3] = {2, 5, 24}, w[2] = {40, 24}, b[1] = {40};
        set_shape_n(&t, 0, 3, x);
        set_shape_n(&t, 1, 2, w);
        set_static(&t, 1);
        set_shape_n(&t, 2, 1, b);
        set_static(&t, 2);
        lfr__op op = {.type = LFR__OP_FULLY_CONNECTED,
                      .n_in = bias ? 3 : 2,
                      .in = {0, 1, bias ? 2 : -1},
                      .act = bias ? LFR__ACT_RELU6 : LFR__ACT_NONE};
        check_op(&t, op, 1);
    }
    for (int tb = 0; tb < 2; tb++)
        for (int stat = 0; stat < 2; stat++) {
            tgraph t = new_graph(3);
            int a[4] = {2, 4, 12, 49}, b[4] = {2, 4, 49, 13}, bt[4] = {2, 4, 13, 49};
            int b2[2] = {49, 13}, b2t[2] = {13, 49};
            set_shape_n(&t, 0, 4, a);
            if (stat)
                set_shape_n(&t, 1, 2, tb ? b2t : b2);
            else
                set_shape_n(&t, 1, 4, tb ? bt : b);
            if (stat) set_static(&t, 1);
            lfr__op op = {.type = LFR__OP_MATMUL, .n_in = 2, .in = {0, 1}, .trans_b = tb};
            check_op(&t, op, stat ? 1 : 2);
        }
}

static void test_normalisations(void **state)
{
    (void)state;
    tgraph s = new_graph(2);
    int x[3] = {3, 4, 37};
    set_shape_n(&s, 0, 3, x);
    check_op(&s, (lfr__op){.type = LFR__OP_SOFTMAX, .n_in = 1, .in = {0}}, 1);
    for (int axis = 1; axis <= 2; axis++)
        for (int bias = 0; bias < 2; bias++) {
            tgraph t = new_graph(4);
            int xd[3] = {3, 5, 29}, sd[2] = {5, 29};
            set_shape_n(&t, 0, 3, xd);
            set_shape_n(&t, 1, 3 - axis, sd + axis - 1);
            set_static(&t, 1);
            set_shape_n(&t, 2, 3 - axis, sd + axis - 1);
            set_static(&t, 2);
            lfr__op op = {.type = LFR__OP_LAYERNORM,
                          .n_in = bias ? 3 : 2,
                          .in = {0, 1, bias ? 2 : -1},
                          .axis = axis,
                          .eps = 1e-6f};
            check_op(&t, op, 1);
        }
    for (int axis = 0; axis < 3; axis++) {
        tgraph t = new_graph(2);
        int xd[3] = {4, 7, 33};
        set_shape_n(&t, 0, 3, xd);
        check_op(
            &t,
            (lfr__op){.type = LFR__OP_L2NORM, .n_in = 1, .in = {0}, .axis = axis, .eps = 1e-12f},
            1);
    }
}

static void test_reduce(void **state)
{
    (void)state;
    lfr__op_type types[] = {LFR__OP_REDUCE_MEAN, LFR__OP_REDUCE_SUM, LFR__OP_REDUCE_MAX,
                            LFR__OP_REDUCE_L2};
    int masks[] = {6, 1, 8, 15, 5};
    for (int i = 0; i < 4; i++)
        for (int m = 0; m < 5; m++) {
            tgraph t = new_graph(2);
            int x[4] = {2, 5, 6, 7};
            set_shape_n(&t, 0, 4, x);
            check_op(&t, (lfr__op){.type = types[i], .n_in = 1, .in = {0}, .axes = masks[m]}, 1);
        }
}

static void test_resize_nearest(void **state)
{
    (void)state;
    int scales[][2] = {{2, 2}, {3, 1}, {1, 4}};
    for (int s = 0; s < 3; s++) {
        tgraph t = new_graph(2);
        int x[4] = {2, 5, 6, 7};
        set_shape_n(&t, 0, 4, x);
        check_op(&t,
                 (lfr__op){.type = LFR__OP_RESIZE_NEAREST,
                           .n_in = 1,
                           .in = {0},
                           .scale_h = scales[s][0],
                           .scale_w = scales[s][1]},
                 1);
    }
}

/* Our kernels between XNNPACK runtimes, tensors crossing several steps and
 * sharing arena memory: conv -> layer norm -> conv -> gelu -> concat(with
 * the first conv) -> fully connected, and a reshape run by us. */
static void test_mixed_steps(void **state)
{
    (void)state;
    tgraph t = new_graph(13);
    lfr__graph *g = t.g;
    int x[4] = {1, 6, 5, 8}, w[4] = {8, 1, 1, 8}, b[1] = {8}, c8[4] = {1, 6, 5, 8};
    set_shape_n(&t, 0, 4, x);
    set_shape_n(&t, 1, 4, w);
    set_static(&t, 1);
    set_shape_n(&t, 2, 1, b);
    set_static(&t, 2);
    set_shape_n(&t, 3, 4, c8); /* conv1 */
    set_shape_n(&t, 4, 1, b);
    set_static(&t, 4);         /* ln scale */
    set_shape_n(&t, 5, 4, c8); /* ln */
    set_shape_n(&t, 6, 4, c8); /* conv2 */
    set_shape_n(&t, 7, 4, c8); /* gelu */
    int cat[4] = {1, 6, 5, 16};
    set_shape_n(&t, 8, 4, cat);
    int fw[2] = {3, 16};
    set_shape_n(&t, 9, 2, fw);
    set_static(&t, 9);
    int fo[4] = {1, 6, 5, 3}, ro[2] = {30, 3};
    set_shape_n(&t, 10, 4, fo);
    set_shape_n(&t, 11, 2, ro);
    int so[2] = {30, 3};
    set_shape_n(&t, 12, 2, so);
    free(g->ops);
    g->ops = calloc(8, sizeof *g->ops);
    lfr__op conv = {.type = LFR__OP_CONV2D,
                    .n_in = 3,
                    .in = {0, 1, 2},
                    .padding = LFR__PAD_VALID,
                    .stride_h = 1,
                    .stride_w = 1,
                    .dil_h = 1,
                    .dil_w = 1};
    conv.out = 3;
    g->ops[0] = conv;
    g->ops[1] = (lfr__op){
        .type = LFR__OP_LAYERNORM, .n_in = 2, .in = {3, 4}, .out = 5, .axis = 3, .eps = 1e-5f};
    conv.in[0] = 5;
    conv.out = 6;
    g->ops[2] = conv;
    g->ops[3] = (lfr__op){.type = LFR__OP_GELU, .n_in = 1, .in = {6}, .out = 7};
    g->ops[4] = (lfr__op){.type = LFR__OP_CONCAT, .n_in = 2, .in = {3, 7}, .out = 8, .axis = 3};
    g->ops[5] = (lfr__op){.type = LFR__OP_FULLY_CONNECTED, .n_in = 2, .in = {8, 9}, .out = 10};
    g->ops[6] = (lfr__op){.type = LFR__OP_RESHAPE, .n_in = 1, .in = {10}, .out = 11};
    g->ops[7] = (lfr__op){.type = LFR__OP_SOFTMAX, .n_in = 1, .in = {11}, .out = 12};
    g->n_ops = 8;
    g->n_inputs = 1;
    g->n_outputs = 1;
    g->outputs[0] = 12;
    g->fixed = 1;
    g->file_batch = 1;
    assert_int_equal(lfr__graph_check(g), LFR_OK);
    lfr__xnn *xr;
    assert_int_equal(lfr__xnn_create(g, 1, NULL, &xr), LFR_OK);
    int nx, no;
    lfr__xnn_stats(xr, &nx, &no);
    print_message("mixed graph: %d XNNPACK runtimes, %d own kernels\n", nx, no);
    assert_true(nx >= 3 && no >= 3);
    /* One step per operator (for profiling) computes the same. */
    lfr__xnn *xs;
    assert_int_equal(lfr__xnn_create_split(g, 1, NULL, &xs), LFR_OK);
    size_t n_in = lfr__graph_numel(g, 0, 1);
    for (size_t i = 0; i < n_in; i++)
        lfr__xnn_input(xr, 0)[i] = lfr__xnn_input(xs, 0)[i] = frand();
    assert_int_equal(lfr__xnn_run(xr), LFR_OK);
    double ms[64];
    const char *names[64];
    int steps = lfr__xnn_profile(xs, ms, names, 64);
    assert_int_equal(steps, 8);
    for (int i = 0; i < 30 * 3; i++)
        assert_true(fabsf(lfr__xnn_output(xr, 0)[i] - lfr__xnn_output(xs, 0)[i]) < 1e-5f);
    lfr__xnn_free(xs);
    lfr__xnn_free(xr);
    compare_executors(&t, 1);
    free_graph(&t);
}

static void test_concat_tail(void **state)
{
    (void)state;
    /* relu(a) and abs(b) concatenated on axis 1 as the graph output: the
     * concatenation runs after the XNNPACK runtime. */
    tgraph t = new_graph(5);
    set_shape(&t, 0, 3, 1, 4, 3, 0);
    set_shape(&t, 1, 3, 1, 4, 3, 0);
    set_shape(&t, 2, 3, 1, 4, 3, 0);
    set_shape(&t, 3, 3, 1, 4, 3, 0);
    set_shape(&t, 4, 3, 1, 8, 3, 0);
    t.g->ops[0] = (lfr__op){.type = LFR__OP_RELU, .n_in = 1, .in = {0, -1, -1}, .out = 2};
    t.g->ops[1] = (lfr__op){.type = LFR__OP_ABS, .n_in = 1, .in = {1, -1, -1}, .out = 3};
    t.g->ops[2] =
        (lfr__op){.type = LFR__OP_CONCAT, .n_in = 2, .in = {2, 3, -1}, .out = 4, .axis = 1};
    t.g->n_ops = 3;
    t.g->n_inputs = 2;
    t.g->inputs[1] = 1;
    t.g->n_outputs = 1;
    t.g->outputs[0] = 4;
    compare_executors(&t, 2);
    free_graph(&t);
}

/* ---- Whole models ------------------------------------------------------------------- */

static lfr__graph *load_model(const char *file)
{
    char path[1024];
    if (!test_model_path(file, path, sizeof path)) return NULL;
    lfr__graph *g;
    if (lfr__tflite_load_file(path, &g) != LFR_OK) fail_msg("%s", lfr_errmsg());
    return g;
}

/* The oracle's deterministic input (scripts/oracle/oracle.mjs). */
static void oracle_input(float *x, int n_, int h, int w, int detector, int k)
{
    uint32_t st = k == 0 ? 12345u : 777u;
    size_t i = 0;
    for (int n = 0; n < n_; n++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int c = 0; c < 3; c++, i++) {
                    uint32_t b;
                    if (k < 2) {
                        st = st * 1664525u + 1013904223u;
                        b = st >> 24;
                    } else {
                        b = (uint32_t)(xx * 7 + y * 3 + c * 50 + n * 101) & 255u;
                    }
                    x[i] =
                        detector ? (float)((double)b / 127.5 - 1.0) : ((float)b - 127.5f) / 128.0f;
                }
}

static void oracle_model(const char *file, const char *stem, int detector, int fuse)
{
    lfr__graph *g = load_model(file);
    if (!g) {
        skip();
        return;
    }
    if (fuse) assert_true(lfr__graph_fuse_prelu(g) > 0);
    int batch = g->file_batch;
    const lfr__tensor *in = &g->tensors[g->inputs[0]];
    lfr__xnn *x;
    if (lfr__xnn_create(g, batch, NULL, &x) != LFR_OK) fail_msg("%s", lfr_errmsg());
    for (int k = 0; k < 3; k++) {
        oracle_input(lfr__xnn_input(x, 0), in->dims[0], in->dims[1], in->dims[2], detector, k);
        assert_int_equal(lfr__xnn_run(x), LFR_OK);
        for (int o = 0; o < g->n_outputs; o++) {
            char name[256];
            snprintf(name, sizeof name, "oracle_%s_case%d_%d.f32", stem, k, o);
            size_t n = lfr__graph_numel(g, g->outputs[o], batch), got_n;
            float *ref = test_read_fixture(name, &got_n);
            assert_non_null(ref);
            assert_int_equal(got_n, n * sizeof(float));
            const float *y = lfr__xnn_output(x, o);
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                double e = fabs((double)y[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
                if (e > worst) worst = e;
            }
            print_message("%s case %d output %d: max relative error %.3g\n", stem, k, o, worst);
            assert_true(worst <= 1e-4);
            free(ref);
        }
    }
    lfr__xnn_free(x);
    lfr__graph_free(g);
}

static void test_oracle_mobilefacenet(void **state)
{
    (void)state;
    oracle_model("MobileFaceNet.tflite", "MobileFaceNet", 0, 1);
}

static void test_oracle_full_range(void **state)
{
    (void)state;
    oracle_model("face_detection_full_range.tflite", "face_detection_full_range", 1, 0);
}

static void test_oracle_short_range(void **state)
{
    (void)state;
    oracle_model("face_detection_short_range.tflite", "face_detection_short_range", 1, 0);
}

/* Fused and unfused MobileFaceNet, and the reference executor, agree; a
 * batch other than the file's works. */
static void test_fusion_and_batch(void **state)
{
    (void)state;
    lfr__graph *a = load_model("MobileFaceNet.tflite");
    if (!a) {
        skip();
        return;
    }
    lfr__graph *b = load_model("MobileFaceNet.tflite");
    int before = b->n_ops;
    assert_int_equal(lfr__graph_fuse_prelu(b), 33);
    assert_int_equal(b->n_ops, before - 4 * 33);
    const int batch = 3;
    size_t n = lfr__graph_numel(a, a->inputs[0], batch);
    float *in = malloc(n * sizeof *in);
    oracle_input(in, batch, 112, 112, 0, 0);
    float *r1 = malloc(batch * 192 * sizeof(float)), *r2 = malloc(batch * 192 * sizeof(float));
    const float *ins[1] = {in};
    float *o1[1] = {r1}, *o2[1] = {r2};
    assert_int_equal(lfr__ref_run(a, batch, ins, o1), LFR_OK);
    assert_int_equal(lfr__ref_run(b, batch, ins, o2), LFR_OK);
    for (int i = 0; i < batch * 192; i++)
        assert_true(r1[i] == r2[i]);
    lfr__xnn *x;
    assert_int_equal(lfr__xnn_create(b, batch, NULL, &x), LFR_OK);
    memcpy(lfr__xnn_input(x, 0), in, n * sizeof *in);
    assert_int_equal(lfr__xnn_run(x), LFR_OK);
    const float *y = lfr__xnn_output(x, 0);
    for (int i = 0; i < batch * 192; i++)
        assert_true(fabs(y[i] - r1[i]) <= 1e-4 * fmax(1, fabs(r1[i])));
    lfr__xnn_free(x);
    free(in);
    free(r1);
    free(r2);
    lfr__graph_free(a);
    lfr__graph_free(b);
}

/* ---- Bad files ------------------------------------------------------------------------ */

static uint8_t *read_model_bytes(const char *file, size_t *n, char *path, size_t cap)
{
    if (!test_model_path(file, path, cap)) return NULL;
    uint8_t *buf;
    if (lfr__read_file(path, (size_t)64 << 20, &buf, n) != LFR_OK) return NULL;
    return buf;
}

static void test_truncated(void **state)
{
    (void)state;
    char path[1024];
    size_t n;
    uint8_t *buf = read_model_bytes("face_detection_short_range.tflite", &n, path, sizeof path);
    if (!buf) {
        skip();
        return;
    }
    /* Every truncation must fail cleanly with the name in the message. */
    for (size_t len = 0; len < n; len += len < 4096 ? 1 : 997) {
        lfr__graph *g;
        int rc = lfr__tflite_load(buf, len, "short.tflite", &g);
        assert_int_not_equal(rc, LFR_OK);
        assert_null(g);
        assert_non_null(strstr(lfr_errmsg(), "short.tflite"));
    }
    free(buf);
}

static void test_bitflips(void **state)
{
    (void)state;
    char path[1024];
    size_t n;
    uint8_t *buf = read_model_bytes("face_detection_short_range.tflite", &n, path, sizeof path);
    if (!buf) {
        skip();
        return;
    }
    /* Flip bits all over the structure (weights, being opaque data, mostly
     * load fine); whatever loads must also build and run. */
    uint8_t *copy = malloc(n);
    int loaded = 0, refused = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, buf, n);
        rng = rng * 1664525u + 1013904223u;
        size_t at = trial < 1500 ? (size_t)(rng % 4096) : (size_t)(rng % n);
        copy[at] ^= (uint8_t)(1u << (trial % 8));
        lfr__graph *g;
        if (lfr__tflite_load(copy, n, "flip.tflite", &g) == LFR_OK) {
            loaded++;
            lfr__xnn *x;
            if (lfr__xnn_create(g, 1, NULL, &x) == LFR_OK) {
                lfr__xnn_run(x);
                lfr__xnn_free(x);
            }
            lfr__graph_free(g);
        } else {
            refused++;
            assert_non_null(strstr(lfr_errmsg(), "flip.tflite"));
        }
    }
    print_message("bit flips: %d loaded, %d refused\n", loaded, refused);
    assert_true(refused > 0);
    free(copy);
    free(buf);
}

static void test_unknown_operator(void **state)
{
    (void)state;
    char path[1024];
    size_t n;
    uint8_t *buf = read_model_bytes("face_detection_short_range.tflite", &n, path, sizeof path);
    if (!buf) {
        skip();
        return;
    }
    size_t off;
    assert_int_equal(lfr__tflite_opcode_offset(buf, n, 0, &off), LFR_OK);
    /* Make operator code 0 a FULLY_CONNECTED (9), which is not supported. */
    buf[off] = 9;
    lfr__graph *g;
    assert_int_equal(lfr__tflite_load(buf, n, "unknown-op.tflite", &g), LFR_ERR_UNSUPPORTED);
    print_message("%s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), "unknown-op.tflite"));
    assert_non_null(strstr(lfr_errmsg(), "FULLY_CONNECTED"));
    free(buf);
}

static void test_not_tflite(void **state)
{
    (void)state;
    lfr__graph *g;
    const char *text = "this is a text file, not a model at all";
    assert_int_equal(lfr__tflite_load((const uint8_t *)text, strlen(text), "a.tflite", &g),
                     LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "a.tflite: not a TFLite model"));
    assert_int_equal(lfr__tflite_load((const uint8_t *)"", 0, "e.tflite", &g), LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "empty"));
    assert_int_equal(lfr__tflite_load_file("/nonexistent/m.tflite", &g), LFR_ERR_IO);
    assert_non_null(strstr(lfr_errmsg(), "/nonexistent/m.tflite"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_dwconv),
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_pad_reshape),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_concat_tail),
        cmocka_unit_test(test_binary_onnx),
        cmocka_unit_test(test_unary_onnx),
        cmocka_unit_test(test_conv_explicit),
        cmocka_unit_test(test_transpose_slice),
        cmocka_unit_test(test_concat_many),
        cmocka_unit_test(test_fully_connected_matmul),
        cmocka_unit_test(test_normalisations),
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_resize_nearest),
        cmocka_unit_test(test_mixed_steps),
        cmocka_unit_test(test_oracle_mobilefacenet),
        cmocka_unit_test(test_oracle_full_range),
        cmocka_unit_test(test_oracle_short_range),
        cmocka_unit_test(test_fusion_and_batch),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_unknown_operator),
        cmocka_unit_test(test_not_tflite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
