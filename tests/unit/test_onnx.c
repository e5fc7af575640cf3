/*
 * Tests of the ONNX reader and of the executor on ONNX graphs: every
 * shipped ONNX model (YuNet n and s at two sizes, YuNet 2023mar at 640 x
 * 640, EdgeFace XS and XXS on four faces) against onnxruntime's raw outputs
 * on real images (fixtures from scripts/oracle/onnx.mjs), within 1e-4
 * (|ours - ort| <= 1e-4 * max(1, |ort|)); a whole model through the
 * reference executor; small hand-built models against an independent NCHW
 * evaluation (layouts, Split, Concat, Reshape after Transpose); and the
 * reader's answers to truncated, bit-flipped and hostile files (cycles,
 * missing initialisers, wrong element types, overflowing shapes, undefined
 * inputs, malformed protobuf). Model files and face data that are absent
 * are reported as SKIP.
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
#include "onnx_build.h"
#include "onnx_cases.h"
#include "testutil.h"

/* ---- Fixtures from onnxruntime -------------------------------------------------------------- */

typedef struct fixture_row {
    char case_name[64], model[64], model_sha[65], input_sha[65], output[64], file[128], sha[65];
    int n, h, w, n_dims, dims[LFR__MAX_DIMS];
} fixture_row;

static int read_rows(fixture_row *rows, int cap)
{
    size_t size;
    char *text = test_read_fixture("onnx_oracle.tsv", &size);
    if (!text) return -1;
    char *t = realloc(text, size + 1);
    if (!t) return -1;
    t[size] = 0;
    int n = 0;
    for (char *line = t, *next; line && *line && n < cap; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] == '#' || !line[0]) continue;
        fixture_row *r = &rows[n];
        char dims[64];
        if (sscanf(line, "%63s\t%63s\t%64s\t%d\t%d\t%d\t%64s\t%63s\t%63s\t%127s\t%64s",
                   r->case_name, r->model, r->model_sha, &r->n, &r->h, &r->w, r->input_sha,
                   r->output, dims, r->file, r->sha) != 11)
            continue;
        r->n_dims = 0;
        for (char *p = dims; *p && r->n_dims < LFR__MAX_DIMS;) {
            r->dims[r->n_dims++] = (int)strtol(p, &p, 10);
            if (*p == ',') p++;
        }
        n++;
    }
    free(t);
    return n;
}

static void run_case(const onnx_case *c)
{
    char mpath[1024], probe[1024];
    if (!test_model_path(c->model, mpath, sizeof mpath) ||
        !test_data_path(c->images[0], probe, sizeof probe)) {
        skip();
        return;
    }
    static fixture_row rows[256];
    int n_rows = read_rows(rows, 256);
    assert_true(n_rows > 0);
    uint8_t *buf;
    size_t fsize;
    assert_int_equal(lfr__read_file(mpath, (size_t)64 << 20, &buf, &fsize), LFR_OK);
    char sha[65];
    lfr__sha256_hex(buf, fsize, sha);
    free(buf);

    size_t px = (size_t)c->n * c->h * c->w * 3;
    uint8_t *rgb = malloc(px);
    assert_int_equal(onnx_case_pixels(c, test_env("LFR_DATA", "../shared/data"), rgb), LFR_OK);
    char in_sha[65];
    lfr__sha256_hex(rgb, px, in_sha);

    int shape[4] = {c->n, 3, c->h, c->w};
    lfr__graph *g;
    if (lfr__graph_load_file(mpath, 4, shape, &g) != LFR_OK) fail_msg("%s", lfr_errmsg());
    lfr__xnn *x;
    if (lfr__xnn_create(g, c->n, NULL, &x) != LFR_OK) fail_msg("%s", lfr_errmsg());
    int n_xnn, n_own;
    lfr__xnn_stats(x, &n_xnn, &n_own);
    print_message("%s: %d operators, %d XNNPACK runtimes, %d own kernels\n", c->name, g->n_ops,
                  n_xnn, n_own);
    assert_true(lfr__graph_input_is_nhwc(g, 0));
    onnx_case_input_nhwc(c, rgb, lfr__xnn_input(x, 0));
    assert_int_equal(lfr__xnn_run(x), LFR_OK);

    int compared = 0;
    double case_worst = 0;
    for (int i = 0; i < n_rows; i++) {
        const fixture_row *r = &rows[i];
        if (strcmp(r->case_name, c->name) != 0) continue;
        if (strcmp(r->model_sha, sha) != 0)
            fail_msg("%s is not the file the fixtures were made from", mpath);
        if (strcmp(r->input_sha, in_sha) != 0)
            fail_msg("%s: the input differs from the fixtures' (sha256 %s, fixtures %s): was the "
                     "image decoder or the data changed?",
                     c->name, in_sha, r->input_sha);
        int o = lfr__graph_output_index(g, r->output);
        if (o < 0) fail_msg("%s: no output '%s'", c->name, r->output);
        int n, d[LFR__MAX_DIMS];
        lfr__graph_io_shape(g, 1, o, &n, d);
        assert_int_equal(n, r->n_dims);
        for (int k = 0; k < n; k++)
            assert_int_equal(d[k], r->dims[k]);
        size_t count = lfr__graph_numel(g, g->outputs[o], c->n), got;
        float *ref = test_read_fixture(r->file, &got);
        assert_non_null(ref);
        assert_int_equal(got, count * sizeof(float));
        const float *y = lfr__xnn_output(x, o);
        double worst = 0, worst_abs = 0;
        for (size_t k = 0; k < count; k++) {
            double e = fabs((double)y[k] - ref[k]);
            if (e > worst_abs) worst_abs = e;
            e /= fmax(1.0, fabs(ref[k]));
            if (e > worst) worst = e;
        }
        print_message("%s %s: max |ours - onnxruntime| %.3g, max error relative to max(1, |ort|) "
                      "%.3g\n",
                      c->name, r->output, worst_abs, worst);
        if (worst > case_worst) case_worst = worst;
        assert_true(worst <= 1e-4);
        free(ref);
        compared++;
    }
    print_message("%s: %d outputs, max error %.3g\n", c->name, compared, case_worst);
    assert_int_equal(compared, g->n_outputs);
    lfr__xnn_wipe(x);
    lfr__xnn_free(x);
    lfr__graph_free(g);
    free(rgb);
}

static void test_oracle_case(void **state)
{
    run_case(&ONNX_CASES[*(int *)*state]);
}

static int case_ids[N_ONNX_CASES];

/* EdgeFace XXS through the reference executor agrees with the runtime (the
 * reference is the specification of every kernel), and batch 1 gives the
 * same embedding as batch 4. */
static void test_reference_and_batch(void **state)
{
    (void)state;
    const onnx_case *c = &ONNX_CASES[6];
    char mpath[1024], probe[1024];
    if (!test_model_path(c->model, mpath, sizeof mpath) ||
        !test_data_path(c->images[0], probe, sizeof probe)) {
        skip();
        return;
    }
    size_t px = (size_t)c->n * c->h * c->w * 3;
    uint8_t *rgb = malloc(px);
    assert_int_equal(onnx_case_pixels(c, test_env("LFR_DATA", "../shared/data"), rgb), LFR_OK);
    int shape4[4] = {4, 3, 112, 112}, shape1[4] = {1, 3, 112, 112};
    lfr__graph *g4, *g1;
    assert_int_equal(lfr__graph_load_file(mpath, 4, shape4, &g4), LFR_OK);
    assert_int_equal(lfr__graph_load_file(mpath, 4, shape1, &g1), LFR_OK);
    lfr__xnn *x4, *x1;
    assert_int_equal(lfr__xnn_create(g4, 4, NULL, &x4), LFR_OK);
    assert_int_equal(lfr__xnn_create(g1, 1, NULL, &x1), LFR_OK);
    lfr__xnn *wrong;
    assert_int_equal(lfr__xnn_create(g4, 1, NULL, &wrong), LFR_ERR_INVALID); /* loaded for 4 */
    float *in = lfr__xnn_input(x4, 0);
    onnx_case_input_nhwc(c, rgb, in);
    assert_int_equal(lfr__xnn_run(x4), LFR_OK);
    float *ref = malloc(4 * 512 * sizeof(float));
    const float *ins[1] = {in};
    float *outs[1] = {ref};
    assert_int_equal(lfr__ref_run(g4, 4, ins, outs), LFR_OK);
    const float *y4 = lfr__xnn_output(x4, 0);
    double worst = 0;
    for (int i = 0; i < 4 * 512; i++)
        worst = fmax(worst, fabs(y4[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
    print_message("EdgeFace XXS: runtime against the reference executor: max error %.3g\n", worst);
    assert_true(worst <= 1e-4);
    for (int k = 0; k < 4; k++) {
        memcpy(lfr__xnn_input(x1, 0), in + (size_t)k * 112 * 112 * 3,
               112 * 112 * 3 * sizeof(float));
        assert_int_equal(lfr__xnn_run(x1), LFR_OK);
        const float *y1 = lfr__xnn_output(x1, 0);
        for (int i = 0; i < 512; i++)
            assert_true(fabs(y1[i] - y4[k * 512 + i]) <= 1e-5 * fmax(1.0, fabs(y4[k * 512 + i])));
    }
    free(ref);
    free(rgb);
    lfr__xnn_free(x4);
    lfr__xnn_free(x1);
    lfr__graph_free(g4);
    lfr__graph_free(g1);
}

/* ---- Hand-built models against an independent NCHW evaluation ----------------------------------
 */

static uint32_t rng = 7;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
}

/* Run a built model on an NCHW input; the output (in the file's layout)
 * is returned malloc'd. */
static float *run_built(const pbw *m, const char *name, int n_dims, const int *shape,
                        const float *x_nchw, size_t *n_out)
{
    lfr__graph *g;
    if (lfr__onnx_load(m->p, m->n, name, n_dims, shape, &g) != LFR_OK) fail_msg("%s", lfr_errmsg());
    lfr__xnn *x;
    if (lfr__xnn_create(g, lfr__graph_batch(g), NULL, &x) != LFR_OK) fail_msg("%s", lfr_errmsg());
    float *in = lfr__xnn_input(x, 0);
    if (n_dims == 4 && lfr__graph_input_is_nhwc(g, 0)) {
        int N = shape[0], C = shape[1], H = shape[2], W = shape[3];
        for (int a = 0; a < N; a++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int w = 0; w < W; w++)
                        in[(((size_t)a * H + y) * W + w) * C + c] =
                            x_nchw[(((size_t)a * C + c) * H + y) * W + w];
    } else {
        memcpy(in, x_nchw, lfr__graph_numel(g, g->inputs[0], 1) * sizeof(float));
    }
    assert_int_equal(lfr__xnn_run(x), LFR_OK);
    *n_out = lfr__graph_numel(g, g->outputs[0], lfr__graph_batch(g));
    float *y = malloc(*n_out * sizeof *y);
    memcpy(y, lfr__xnn_output(x, 0), *n_out * sizeof *y);
    /* The reference executor must agree too. */
    float *r = malloc(*n_out * sizeof *r);
    const float *ins[1] = {in};
    float *outs[1] = {r};
    assert_int_equal(lfr__ref_run(g, lfr__graph_batch(g), ins, outs), LFR_OK);
    for (size_t i = 0; i < *n_out; i++)
        assert_true(fabs(r[i] - y[i]) <= 1e-4 * fmax(1.0, fabs(r[i])));
    free(r);
    lfr__xnn_free(x);
    lfr__graph_free(g);
    return y;
}

static void expect_close(const float *got, const float *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i])));
    if (worst > 1e-4) fail_msg("max error %g", worst);
}

/* Conv (grouped and plain, explicit pads, bias) + BatchNormalization +
 * Relu + MaxPool + Transpose + Reshape + Softmax, against plain NCHW code. */
static void test_built_conv_chain(void **state)
{
    (void)state;
    enum { N = 2, C = 4, H = 7, W = 6, CO = 6, G = 2 };
    float x[N * C * H * W], w[CO * (C / G) * 3 * 3], b[CO], bn[4][CO];
    fill(x, sizeof x / 4);
    fill(w, sizeof w / 4);
    fill(b, CO);
    for (int i = 0; i < 4; i++)
        fill(bn[i], CO);
    for (int i = 0; i < CO; i++)
        bn[3][i] = 0.5f + fabsf(bn[3][i]); /* variance > 0 */
    pbw m = build_conv_chain(N, C, H, W, CO, G, w, b, &bn[0][0]);

    /* Independent evaluation, NCHW. */
    enum { OH = H / 2, OW = W / 2 }; /* conv keeps size (pad 1), pool 2x2 halves (floor) */
    static float conv[N][CO][H][W], ref[N][OH * OW][CO];
    for (int n = 0; n < N; n++)
        for (int co = 0; co < CO; co++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double acc = b[co];
                    int g = co / (CO / G);
                    for (int ci = 0; ci < C / G; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = y - 1 + ky, ix = xx - 1 + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)x[((n * C + g * (C / G) + ci) * H + iy) * W + ix] *
                                       w[((co * (C / G) + ci) * 3 + ky) * 3 + kx];
                            }
                    double s = bn[0][co] / sqrt(bn[3][co] + 1e-5);
                    double v = (acc - bn[2][co]) * s + bn[1][co];
                    conv[n][co][y][xx] = (float)(v > 0 ? v : 0);
                }
    for (int n = 0; n < N; n++)
        for (int p = 0; p < OH * OW; p++) {
            int y = p / OW, xx = p % OW;
            double mx = -INFINITY, sum = 0;
            float v[CO];
            for (int co = 0; co < CO; co++) {
                float a = conv[n][co][2 * y][2 * xx];
                a = fmaxf(a, conv[n][co][2 * y][2 * xx + 1]);
                a = fmaxf(a, conv[n][co][2 * y + 1][2 * xx]);
                a = fmaxf(a, conv[n][co][2 * y + 1][2 * xx + 1]);
                v[co] = a;
                mx = fmax(mx, a);
            }
            for (int co = 0; co < CO; co++)
                sum += exp(v[co] - mx);
            for (int co = 0; co < CO; co++)
                ref[n][p][co] = (float)(exp(v[co] - mx) / sum);
        }
    int shape[4] = {N, C, H, W};
    size_t n_out;
    float *y = run_built(&m, "conv_chain.onnx", 4, shape, x, &n_out);
    assert_int_equal(n_out, (size_t)N * OH * OW * CO);
    expect_close(y, &ref[0][0][0], n_out);
    free(y);
    pbw_free(&m);
}

/* Split on channels, one half through a depthwise conv, Concat back, then
 * Reshape [N, C, H*W] + Transpose(0,2,1) + LayerNormalization + MatMul with
 * int8 weights behind DequantizeLinear + GELU written out + ReduceMean. */
static void test_built_block(void **state)
{
    (void)state;
    enum { N = 2, C = 8, H = 3, W = 5, D = 6 };
    float x[N * C * H * W], dw[(C / 2) * 9], dwb[C / 2], ln_s[C], ln_b[C], fcb[D];
    int8_t q[C * D];
    fill(x, sizeof x / 4);
    fill(dw, sizeof dw / 4);
    fill(dwb, C / 2);
    fill(ln_s, C);
    fill(ln_b, C);
    fill(fcb, D);
    for (int i = 0; i < C * D; i++)
        q[i] = (int8_t)(frand() * 127);
    float scale = 0.02f;
    pbw m = build_block(N, C, H, W, D, dw, dwb, ln_s, ln_b, q, scale, fcb);

    static float cat[N][C][H][W], ref[N][D];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    if (c >= C / 2) {
                        cat[n][c][y][xx] = x[((n * C + c) * H + y) * W + xx];
                        continue;
                    }
                    double acc = dwb[c];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y - 1 + ky, ix = xx - 1 + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            acc += (double)x[((n * C + c) * H + iy) * W + ix] *
                                   dw[(c * 3 + ky) * 3 + kx];
                        }
                    cat[n][c][y][xx] = (float)acc;
                }
    for (int n = 0; n < N; n++) {
        double mean_out[D] = {0};
        for (int p = 0; p < H * W; p++) {
            double tok[C], mu = 0, var = 0;
            for (int c = 0; c < C; c++)
                mu += tok[c] = cat[n][c][p / W][p % W];
            mu /= C;
            for (int c = 0; c < C; c++)
                var += (tok[c] - mu) * (tok[c] - mu);
            var /= C;
            for (int c = 0; c < C; c++)
                tok[c] = (tok[c] - mu) / sqrt(var + 1e-6) * ln_s[c] + ln_b[c];
            for (int d = 0; d < D; d++) {
                double acc = fcb[d];
                for (int c = 0; c < C; c++)
                    acc += tok[c] * (q[c * D + d] * (double)scale);
                double gl = acc * 0.5 * (1 + erf(acc / sqrt(2.0)));
                mean_out[d] += gl / (H * W);
            }
        }
        for (int d = 0; d < D; d++)
            ref[n][d] = (float)mean_out[d];
    }
    int shape[4] = {N, C, H, W};
    size_t n_out;
    float *y = run_built(&m, "block.onnx", 4, shape, x, &n_out);
    assert_int_equal(n_out, (size_t)N * D);
    expect_close(y, &ref[0][0], n_out);
    free(y);
    pbw_free(&m);
}

/* Shape arithmetic folded for the given input size: Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape, as YuNet's dynamic files compute their
 * reshape targets; and Resize by 2 (nearest). */
static void test_built_dynamic_reshape(void **state)
{
    (void)state;
    float x[1 * 3 * 4 * 6];
    fill(x, sizeof x / 4);
    pbw m = build_dynamic_reshape();
    int shape[4] = {1, 3, 4, 6};
    size_t n_out;
    float *y = run_built(&m, "dyn.onnx", 4, shape, x, &n_out);
    /* out[0][p][c] = up2(x)[c][p / 12][p % 12], p over the 8 x 12 up-sampled grid */
    assert_int_equal(n_out, 3 * 8 * 12);
    float ref[8 * 12 * 3];
    for (int p = 0; p < 96; p++)
        for (int c = 0; c < 3; c++)
            ref[p * 3 + c] = x[(c * 4 + (p / 12) / 2) * 6 + (p % 12) / 2];
    expect_close(y, ref, n_out);
    free(y);
    /* Another size works without the file changing. */
    int shape2[4] = {1, 3, 2, 10};
    y = run_built(&m, "dyn.onnx", 4, shape2, x, &n_out);
    assert_int_equal(n_out, 3 * 4 * 20);
    free(y);
    pbw_free(&m);
}

/* EdgeFace's attention block against a direct evaluation; an
 * ArcFace-style classifier (the rarer operators) against the reference
 * executor (run_built) and its output range. */
static void test_built_xca_and_classifier(void **state)
{
    (void)state;
    enum { N = 2, T = 9, d = 5, C = 4 * d };
    float x[N * T * C], w[C * 3 * C], temp[4];
    fill(x, sizeof x / 4);
    fill(w, sizeof w / 4);
    fill(temp, 4);
    pbw m = build_xca(N, T, d, w, temp);
    int shape[3] = {N, T, C};
    size_t n_out;
    float *y = run_built(&m, "xca.onnx", 3, shape, x, &n_out);
    assert_int_equal(n_out, (size_t)N * T * C);
    static double q[3][N][4][d][T], ref[N][T][C];
    for (int n = 0; n < N; n++)
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 3 * C; j++) {
                double acc = 0;
                for (int c = 0; c < C; c++)
                    acc += (double)x[(n * T + t) * C + c] * w[c * 3 * C + j];
                q[j / C][n][(j % C) / d][j % d][t] = acc;
            }
    for (int s2 = 0; s2 < 2; s2++) /* L2-normalise q and k over the tokens */
        for (int n = 0; n < N; n++)
            for (int h = 0; h < 4; h++)
                for (int i = 0; i < d; i++) {
                    double ss = 0;
                    for (int t = 0; t < T; t++)
                        ss += q[s2][n][h][i][t] * q[s2][n][h][i][t];
                    double nrm = fmax(sqrt(ss), 1e-12);
                    for (int t = 0; t < T; t++)
                        q[s2][n][h][i][t] /= nrm;
                }
    for (int n = 0; n < N; n++)
        for (int h = 0; h < 4; h++)
            for (int i = 0; i < d; i++) {
                double a[d], mx = -INFINITY, sum = 0;
                for (int j = 0; j < d; j++) {
                    a[j] = 0;
                    for (int t = 0; t < T; t++)
                        a[j] += q[0][n][h][i][t] * q[1][n][h][j][t];
                    a[j] *= temp[h];
                    mx = fmax(mx, a[j]);
                }
                for (int j = 0; j < d; j++)
                    sum += a[j] = exp(a[j] - mx);
                for (int t = 0; t < T; t++) {
                    double o = 0;
                    for (int j = 0; j < d; j++)
                        o += a[j] / sum * q[2][n][h][j][t];
                    ref[n][t][h * d + i] = o;
                }
            }
    float reff[N * T * C];
    for (int i = 0; i < N * T * C; i++)
        reff[i] = (float)(&ref[0][0][0])[i];
    expect_close(y, reff, n_out);
    free(y);
    pbw_free(&m);

    float xi[2 * 3 * 9 * 7], w1[8 * 3 * 9], bn[4 * 8], slope[8], w2[8 * 8 * 9], fc[5 * 8], fcb[5];
    fill(xi, sizeof xi / 4);
    fill(w1, sizeof w1 / 4);
    fill(bn, sizeof bn / 4);
    for (int i = 24; i < 32; i++)
        bn[i] = 0.5f + fabsf(bn[i]);
    fill(slope, 8);
    fill(w2, sizeof w2 / 4);
    fill(fc, sizeof fc / 4);
    fill(fcb, 5);
    m = build_classifier(2, 3, 9, 7, w1, bn, slope, w2, fc, fcb);
    int cshape[4] = {2, 3, 9, 7};
    y = run_built(&m, "classifier.onnx", 4, cshape, xi, &n_out);
    assert_int_equal(n_out, 2);
    for (size_t i = 0; i < n_out; i++)
        assert_true(isfinite(y[i]) && y[i] >= 0 && y[i] <= 18);
    free(y);
    pbw_free(&m);
}

/* ---- Bad files
 * ------------------------------------------------------------------------------------ */

static void expect_refused(const pbw *m, const char *name, int status, const char *phrase)
{
    lfr__graph *g = NULL;
    int shape[4] = {1, 3, 8, 8};
    int rc = lfr__onnx_load(m->p, m->n, name, 4, shape, &g);
    print_message("%s: %s\n", name, lfr_errmsg());
    assert_null(g);
    if (rc != status) fail_msg("%s: status %d, expected %d (%s)", name, rc, status, lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), name));
    if (!strstr(lfr_errmsg(), phrase)) fail_msg("%s: '%s' lacks '%s'", name, lfr_errmsg(), phrase);
    assert_null(strchr(lfr_errmsg(), '\n'));
}

static void test_hostile(void **state)
{
    (void)state;
    for (int i = 0; i < N_BAD_MODELS; i++) {
        pbw m = build_bad(i);
        expect_refused(&m, BAD_MODELS[i].file, BAD_MODELS[i].status, BAD_MODELS[i].phrase);
        pbw_free(&m);
    }
}

/* S12 of the security review: shapes whose product wraps around 2^64 must
 * be refused, in both readers, before any buffer is sized from them. */
static void test_overflowing_shapes(void **state)
{
    (void)state;
    size_t n;
    uint8_t *t = build_wrap_tflite(&n);
    lfr__graph *g;
    int rc = lfr__tflite_load(t, n, "wrap_maxpool.tflite", &g);
    print_message("%s\n", lfr_errmsg());
    assert_int_equal(rc, LFR_ERR_TOO_LARGE);
    assert_non_null(strstr(lfr_errmsg(), "wrap_maxpool.tflite"));
    free(t);
    int dims[5] = {1, 16777183, 16774925, 4129340, 1};
    size_t e;
    assert_false(lfr__numel_ok(5, dims, &e));
    int ok[3] = {1, 4096, 4096};
    assert_true(lfr__numel_ok(3, ok, &e));
    assert_int_equal(e, (size_t)1 << 24);
}

static void test_truncated(void **state)
{
    (void)state;
    char path[1024];
    if (!test_model_path("yunet_s_dynamic.onnx", path, sizeof path)) {
        skip();
        return;
    }
    uint8_t *buf;
    size_t n;
    assert_int_equal(lfr__read_file(path, (size_t)64 << 20, &buf, &n), LFR_OK);
    int shape[4] = {1, 3, 64, 64};
    for (size_t len = 0; len < n; len += len < 4096 ? 1 : 997) {
        lfr__graph *g;
        int rc = lfr__onnx_load(buf, len, "trunc.onnx", 4, shape, &g);
        assert_int_not_equal(rc, LFR_OK);
        assert_null(g);
        assert_non_null(strstr(lfr_errmsg(), "trunc.onnx"));
    }
    free(buf);
}

static void test_bitflips(void **state)
{
    (void)state;
    char path[1024];
    if (!test_model_path("yunet_s_dynamic.onnx", path, sizeof path)) {
        skip();
        return;
    }
    uint8_t *buf;
    size_t n;
    assert_int_equal(lfr__read_file(path, (size_t)64 << 20, &buf, &n), LFR_OK);
    uint8_t *copy = malloc(n);
    int loaded = 0, refused = 0, shape[4] = {1, 3, 64, 64};
    for (int trial = 0; trial < 1500; trial++) {
        memcpy(copy, buf, n);
        rng = rng * 1664525u + 1013904223u;
        /* Mostly the structure: the graph is at the start of the file. */
        size_t at = trial % 3 ? (size_t)(rng % (n < 60000 ? n : 60000)) : (size_t)(rng % n);
        copy[at] ^= (uint8_t)(1u << (trial % 8));
        lfr__graph *g;
        if (lfr__onnx_load(copy, n, "flip.onnx", 4, shape, &g) == LFR_OK) {
            loaded++;
            lfr__xnn *x;
            if (lfr__xnn_create(g, 1, NULL, &x) == LFR_OK) {
                assert_int_equal(lfr__xnn_run(x), LFR_OK);
                lfr__xnn_free(x);
            }
            lfr__graph_free(g);
        } else {
            refused++;
            assert_non_null(strstr(lfr_errmsg(), "flip.onnx"));
            assert_null(strchr(lfr_errmsg(), '\n'));
        }
    }
    print_message("bit flips: %d loaded, %d refused\n", loaded, refused);
    assert_true(refused > 0);
    free(copy);
    free(buf);
}

static void test_load_by_format(void **state)
{
    (void)state;
    lfr__graph *g;
    const char *text = "plain text, neither TFLite nor ONNX";
    assert_int_equal(lfr__graph_load((const uint8_t *)text, strlen(text), "x.onnx", 0, NULL, &g),
                     LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "x.onnx"));
    assert_int_equal(lfr__graph_load((const uint8_t *)text, strlen(text), "x.tflite", 0, NULL, &g),
                     LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "not a TFLite model"));
    assert_int_equal(lfr__graph_load_file("/nonexistent/m.onnx", 0, NULL, &g), LFR_ERR_IO);
    char path[1024];
    if (test_model_path("MobileFaceNet.tflite", path, sizeof path)) {
        int shape[4] = {3, 112, 112, 3};
        assert_int_equal(lfr__graph_load_file(path, 4, shape, &g), LFR_OK);
        assert_int_equal(lfr__graph_batch(g), 3);
        assert_int_equal(lfr__graph_output_index(g, "embeddings"), 0);
        int n, d[LFR__MAX_DIMS];
        lfr__graph_io_shape(g, 1, 0, &n, d);
        assert_int_equal(d[0], 3); /* the file's batch is 2 */
        lfr__xnn *x;
        assert_int_equal(lfr__xnn_create(g, lfr__graph_batch(g), NULL, &x), LFR_OK);
        assert_int_equal(lfr__xnn_run(x), LFR_OK);
        lfr__xnn_free(x);
        lfr__graph_free(g);
    }
    if (test_model_path("yunet_n_dynamic.onnx", path, sizeof path)) {
        /* A dynamic model needs its size; a wrong rank or fixed size is refused. */
        assert_int_equal(lfr__graph_load_file(path, 0, NULL, &g), LFR_ERR_UNSUPPORTED);
        assert_non_null(strstr(lfr_errmsg(), "dynamic"));
        int bad[3] = {1, 3, 480};
        assert_int_equal(lfr__graph_load_file(path, 3, bad, &g), LFR_ERR_INVALID);
        int wrong[4] = {1, 4, 480, 640};
        assert_int_equal(lfr__graph_load_file(path, 4, wrong, &g), LFR_ERR_INVALID);
        int ok[4] = {1, 3, 96, 128};
        assert_int_equal(lfr__graph_load_file(path, 4, ok, &g), LFR_OK);
        assert_int_equal(lfr__graph_output_index(g, "kps_32"), 11);
        int n, d[LFR__MAX_DIMS];
        lfr__graph_io_shape(g, 1, 11, &n, d);
        assert_int_equal(n, 3);
        assert_int_equal(d[1], 3 * 4);
        assert_int_equal(d[2], 10);
        lfr__graph_io_shape(g, 0, 0, &n, d);
        assert_int_equal(d[3], 3); /* NHWC */
        lfr__graph_free(g);
    }
}

int main(void)
{
    struct CMUnitTest tests[N_ONNX_CASES + 16];
    int n = 0;
    for (int i = 0; i < N_ONNX_CASES; i++) {
        case_ids[i] = i;
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_oracle_case, &case_ids[i]);
        tests[n++].name = ONNX_CASES[i].name;
    }
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_reference_and_batch),
        cmocka_unit_test(test_built_conv_chain),
        cmocka_unit_test(test_built_block),
        cmocka_unit_test(test_built_dynamic_reshape),
        cmocka_unit_test(test_built_xca_and_classifier),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_overflowing_shapes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_load_by_format),
    };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        tests[n++] = rest[i];
    return _cmocka_run_group_tests("test_onnx", tests, (size_t)n, NULL, NULL);
}
