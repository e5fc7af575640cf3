/*
 * Naive reference kernels and executor: the plainest correct code for each
 * supported operator, following TFLite's reference semantics (SAME padding
 * split with the extra row/column at the end, bilinear resize with TFLite's
 * clamping) and ONNX's for the operators ONNX models add (explicit padding,
 * grouped convolution, layer normalisation, GELU with the exact erf,
 * reductions, nearest up-sampling). Sums accumulate in double precision.
 * Slow by design; the XNNPACK executor and the project's own fast kernels
 * (kern.c) are tested against it.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util/util.h"

static float act(float v, int a)
{
    switch (a) {
    case LFR__ACT_RELU:
        return v < 0 ? 0 : v;
    case LFR__ACT_RELU6:
        return v < 0 ? 0 : v > 6 ? 6 : v;
    case LFR__ACT_RELU_N1_TO_1:
        return v < -1 ? -1 : v > 1 ? 1 : v;
    default:
        return v;
    }
}

static int pad_before(int in, int out, int k, int s, int d, int padding, int explicit_pad)
{
    if (padding == LFR__PAD_EXPLICIT) return explicit_pad;
    if (padding != LFR__PAD_SAME) return 0;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    return total > 0 ? total / 2 : 0;
}

static void conv(const lfr__op *op, lfr__shape xs, lfr__shape ws, lfr__shape os, const float *x,
                 const float *w, const float *bias, float *y)
{
    int N = xs.d[0], H = xs.d[1], W = xs.d[2], C = xs.d[3];
    int KH = ws.d[1], KW = ws.d[2], OH = os.d[1], OW = os.d[2], CO = os.d[3];
    int pt = pad_before(H, OH, KH, op->stride_h, op->dil_h, op->padding, op->pad[0]);
    int pl = pad_before(W, OW, KW, op->stride_w, op->dil_w, op->padding, op->pad[1]);
    int dw = op->type == LFR__OP_DWCONV2D, mult = dw ? CO / C : 1;
    int groups = !dw && op->groups > 1 ? op->groups : 1, gc = C / groups, gco = CO / groups;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int co = 0; co < CO; co++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ky = 0; ky < KH; ky++) {
                        int iy = oy * op->stride_h - pt + ky * op->dil_h;
                        if (iy < 0 || iy >= H) continue;
                        for (int kx = 0; kx < KW; kx++) {
                            int ix = ox * op->stride_w - pl + kx * op->dil_w;
                            if (ix < 0 || ix >= W) continue;
                            const float *px = x + (((size_t)n * H + iy) * W + ix) * C;
                            if (dw) {
                                acc += (double)px[co / mult] * w[((size_t)ky * KW + kx) * CO + co];
                            } else {
                                const float *pw = w + (((size_t)co * KH + ky) * KW + kx) * gc;
                                const float *pg = px + (size_t)(co / gco) * gc;
                                for (int ci = 0; ci < gc; ci++)
                                    acc += (double)pg[ci] * pw[ci];
                            }
                        }
                    }
                    y[(((size_t)n * OH + oy) * OW + ox) * CO + co] = act((float)acc, op->act);
                }
}

static void maxpool(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    int N = xs.d[0], H = xs.d[1], W = xs.d[2], C = xs.d[3], OH = os.d[1], OW = os.d[2];
    int pt = pad_before(H, OH, op->filter_h, op->stride_h, op->dil_h, op->padding, op->pad[0]);
    int pl = pad_before(W, OW, op->filter_w, op->stride_w, op->dil_w, op->padding, op->pad[1]);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++) {
                    float m = -FLT_MAX;
                    for (int ky = 0; ky < op->filter_h; ky++)
                        for (int kx = 0; kx < op->filter_w; kx++) {
                            int iy = oy * op->stride_h - pt + ky * op->dil_h;
                            int ix = ox * op->stride_w - pl + kx * op->dil_w;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            float v = x[(((size_t)n * H + iy) * W + ix) * C + c];
                            if (v > m) m = v;
                        }
                    y[(((size_t)n * OH + oy) * OW + ox) * C + c] = act(m, op->act);
                }
}

/* Elementwise with numpy broadcasting over up to LFR__MAX_DIMS dims. */
static void binary(const lfr__op *op, lfr__shape as, lfr__shape bs, lfr__shape os, const float *a,
                   const float *b, float *y)
{
    int n = os.n;
    int ad[LFR__MAX_DIMS], bd[LFR__MAX_DIMS];
    for (int i = 0; i < n; i++) {
        int ia = i - (n - as.n), ib = i - (n - bs.n);
        ad[i] = ia >= 0 ? as.d[ia] : 1;
        bd[i] = ib >= 0 ? bs.d[ib] : 1;
    }
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total *= (size_t)os.d[i];
    int idx[LFR__MAX_DIMS] = {0};
    for (size_t e = 0; e < total; e++) {
        size_t ao = 0, bo = 0;
        for (int i = 0; i < n; i++) {
            ao = ao * (size_t)ad[i] + (size_t)(ad[i] == 1 ? 0 : idx[i]);
            bo = bo * (size_t)bd[i] + (size_t)(bd[i] == 1 ? 0 : idx[i]);
        }
        float u = a[ao], v = b[bo], r;
        switch (op->type) {
        case LFR__OP_ADD:
            r = u + v;
            break;
        case LFR__OP_SUB:
            r = u - v;
            break;
        case LFR__OP_MUL:
            r = u * v;
            break;
        case LFR__OP_DIV:
            r = u / v;
            break;
        case LFR__OP_MAX:
            r = u > v ? u : v;
            break;
        case LFR__OP_MIN:
            r = u < v ? u : v;
            break;
        default:
            r = u > 0 ? u : u * v;
            break; /* PRELU */
        }
        y[e] = act(r, op->act);
        for (int i = n - 1; i >= 0; i--) {
            if (++idx[i] < os.d[i]) break;
            idx[i] = 0;
        }
    }
}

static void pad(const int32_t *p, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t total = 1;
    for (int i = 0; i < os.n; i++)
        total *= (size_t)os.d[i];
    int idx[LFR__MAX_DIMS] = {0};
    for (size_t e = 0; e < total; e++) {
        size_t xo = 0;
        int inside = 1;
        for (int i = 0; i < os.n; i++) {
            int xi = idx[i] - p[2 * i];
            if (xi < 0 || xi >= xs.d[i]) inside = 0;
            xo = xo * (size_t)xs.d[i] + (size_t)(xi < 0 ? 0 : xi);
        }
        y[e] = inside ? x[xo] : 0.0f;
        for (int i = os.n - 1; i >= 0; i--) {
            if (++idx[i] < os.d[i]) break;
            idx[i] = 0;
        }
    }
}

static void interp(int out, int in, int i, int align, int half, int *lo, int *hi, float *frac)
{
    float scale = (align && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    float v = half ? ((float)i + 0.5f) * scale - 0.5f : (float)i * scale;
    float fl = floorf(v);
    *lo = fl > 0 ? (int)fl : 0;
    int c = (int)ceilf(v);
    *hi = c < in - 1 ? c : in - 1;
    *frac = v - fl;
    if (v < 0) { /* TFLite: weight from the clamped lower bound */
        *frac = v - (float)*lo;
    }
}

static void resize(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    int N = xs.d[0], H = xs.d[1], W = xs.d[2], C = xs.d[3], OH = os.d[1], OW = os.d[2];
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++) {
            int y0, y1;
            float fy;
            interp(OH, H, oy, op->align_corners, op->half_pixel_centers, &y0, &y1, &fy);
            for (int ox = 0; ox < OW; ox++) {
                int x0, x1;
                float fx;
                interp(OW, W, ox, op->align_corners, op->half_pixel_centers, &x0, &x1, &fx);
                for (int c = 0; c < C; c++) {
#define P(yy, xx) x[(((size_t)n * H + (yy)) * W + (xx)) * C + c]
                    float v = P(y0, x0) * (1 - fy) * (1 - fx) + P(y1, x0) * fy * (1 - fx) +
                              P(y0, x1) * (1 - fy) * fx + P(y1, x1) * fy * fx;
#undef P
                    y[(((size_t)n * OH + oy) * OW + ox) * C + c] = v;
                }
            }
        }
}

static void concat(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                   float *y)
{
    lfr__shape os = lfr__graph_shape_of(g, op->out, batch);
    int axis = op->axis < 0 ? op->axis + os.n : op->axis;
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= (size_t)os.d[i];
    for (int i = axis + 1; i < os.n; i++)
        inner *= (size_t)os.d[i];
    size_t off = 0;
    for (int k = 0; k < op->n_in; k++) {
        lfr__shape s = lfr__graph_shape_of(g, op->in[k], batch);
        size_t chunk = (size_t)s.d[axis] * inner;
        for (size_t o = 0; o < outer; o++)
            memcpy(y + o * (size_t)os.d[axis] * inner + off, in[k] + o * chunk,
                   chunk * sizeof(float));
        off += chunk;
    }
}

/* Row-major strides of a shape. */
static void strides_of(lfr__shape s, size_t *st)
{
    size_t e = 1;
    for (int i = s.n - 1; i >= 0; i--) {
        st[i] = e;
        e *= (size_t)s.d[i];
    }
}

/* Output element e's index (row-major in os) into idx. */
static void unravel(size_t e, lfr__shape os, int *idx)
{
    for (int i = os.n - 1; i >= 0; i--) {
        idx[i] = (int)(e % (size_t)os.d[i]);
        e /= (size_t)os.d[i];
    }
}

static void transpose(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t xst[LFR__MAX_DIMS];
    strides_of(xs, xst);
    int idx[LFR__MAX_DIMS];
    size_t total = lfr__shape_numel(os);
    for (size_t e = 0; e < total; e++) {
        unravel(e, os, idx);
        size_t xo = 0;
        for (int i = 0; i < os.n; i++)
            xo += (size_t)idx[i] * xst[op->perm[i]];
        y[e] = x[xo];
    }
}

static void slice(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t xst[LFR__MAX_DIMS];
    strides_of(xs, xst);
    int idx[LFR__MAX_DIMS];
    size_t total = lfr__shape_numel(os);
    for (size_t e = 0; e < total; e++) {
        unravel(e, os, idx);
        idx[op->axis] += op->begin;
        size_t xo = 0;
        for (int i = 0; i < os.n; i++)
            xo += (size_t)idx[i] * xst[i];
        y[e] = x[xo];
    }
}

static void fully_connected(const lfr__op *op, lfr__shape xs, lfr__shape ws, const float *x,
                            const float *w, const float *bias, float *y)
{
    size_t K = (size_t)ws.d[1], N = (size_t)ws.d[0], rows = lfr__shape_numel(xs) / K;
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < N; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (size_t k = 0; k < K; k++)
                acc += (double)x[r * K + k] * w[o * K + k];
            y[r * N + o] = act((float)acc, op->act);
        }
}

static void matmul(const lfr__op *op, lfr__shape as, lfr__shape bs, const float *a, const float *b,
                   float *y)
{
    size_t M = (size_t)as.d[as.n - 2], K = (size_t)as.d[as.n - 1];
    size_t N = (size_t)(op->trans_b ? bs.d[bs.n - 2] : bs.d[bs.n - 1]);
    size_t batches = lfr__shape_numel(as) / (M * K), bstride = bs.n == 2 ? 0 : K * N;
    for (size_t t = 0; t < batches; t++) {
        const float *A = a + t * M * K, *B = b + t * bstride;
        float *Y = y + t * M * N;
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double acc = 0;
                for (size_t k = 0; k < K; k++)
                    acc += (double)A[i * K + k] * (op->trans_b ? B[j * K + k] : B[k * N + j]);
                Y[i * N + j] = (float)acc;
            }
    }
}

/* x viewed as [outer, n, inner] around `axis`. */
static void around(lfr__shape xs, int axis, size_t *outer, size_t *n, size_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++)
        *outer *= (size_t)xs.d[i];
    for (int i = axis + 1; i < xs.n; i++)
        *inner *= (size_t)xs.d[i];
    *n = (size_t)xs.d[axis];
}

static void softmax(lfr__shape xs, const float *x, float *y)
{
    size_t C = (size_t)xs.d[xs.n - 1], rows = lfr__shape_numel(xs) / C;
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * C;
        double m = -INFINITY, sum = 0;
        for (size_t c = 0; c < C; c++)
            m = p[c] > m ? p[c] : m;
        for (size_t c = 0; c < C; c++)
            sum += exp((double)p[c] - m);
        for (size_t c = 0; c < C; c++)
            y[r * C + c] = (float)(exp((double)p[c] - m) / sum);
    }
}

static void layernorm(const lfr__op *op, lfr__shape xs, const float *x, const float *scale,
                      const float *bias, float *y)
{
    size_t inner = 1;
    for (int i = op->axis; i < xs.n; i++)
        inner *= (size_t)xs.d[i];
    size_t rows = lfr__shape_numel(xs) / inner;
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * inner;
        double mean = 0, var = 0;
        for (size_t c = 0; c < inner; c++)
            mean += p[c];
        mean /= (double)inner;
        for (size_t c = 0; c < inner; c++)
            var += ((double)p[c] - mean) * ((double)p[c] - mean);
        var /= (double)inner;
        double inv = 1.0 / sqrt(var + (double)op->eps);
        for (size_t c = 0; c < inner; c++)
            y[r * inner + c] =
                (float)(((double)p[c] - mean) * inv * scale[c] + (bias ? bias[c] : 0.0));
    }
}

static void l2norm(const lfr__op *op, lfr__shape xs, const float *x, float *y)
{
    size_t outer, n, inner;
    around(xs, op->axis, &outer, &n, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const float *p = x + o * n * inner + i;
            double ss = 0;
            for (size_t k = 0; k < n; k++)
                ss += (double)p[k * inner] * p[k * inner];
            double d = sqrt(ss);
            if (d < op->eps) d = op->eps;
            for (size_t k = 0; k < n; k++)
                y[o * n * inner + i + k * inner] = (float)(p[k * inner] / d);
        }
}

static int reduce(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t total_out = lfr__shape_numel(os), total_in = lfr__shape_numel(xs);
    double *acc = NULL;
    size_t count = total_in / total_out;
    size_t yst[LFR__MAX_DIMS];
    strides_of(os, yst);
    /* Accumulate in double per output element, one pass over the input. */
    acc = calloc(total_out, sizeof *acc);
    if (!acc) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (op->type == LFR__OP_REDUCE_MAX)
        for (size_t e = 0; e < total_out; e++)
            acc[e] = -INFINITY;
    int idx[LFR__MAX_DIMS];
    for (size_t e = 0; e < total_in; e++) {
        unravel(e, xs, idx);
        size_t o = 0;
        for (int i = 0; i < xs.n; i++)
            if (!(op->axes >> i & 1)) o += (size_t)idx[i] * yst[i];
        double v = x[e];
        if (op->type == LFR__OP_REDUCE_MAX)
            acc[o] = v > acc[o] ? v : acc[o];
        else
            acc[o] += op->type == LFR__OP_REDUCE_L2 ? v * v : v;
    }
    for (size_t e = 0; e < total_out; e++)
        y[e] = (float)(op->type == LFR__OP_REDUCE_MEAN ? acc[e] / (double)count
                       : op->type == LFR__OP_REDUCE_L2 ? sqrt(acc[e])
                                                       : acc[e]);
    free(acc);
    return LFR_OK;
}

static void resize_nearest(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x,
                           float *y)
{
    int N = xs.d[0], H = xs.d[1], W = xs.d[2], C = xs.d[3], OH = os.d[1], OW = os.d[2];
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++)
                    y[(((size_t)n * OH + oy) * OW + ox) * C + c] =
                        x[(((size_t)n * H + oy / op->scale_h) * W + ox / op->scale_w) * C + c];
}

static float gelu(float v)
{
    return (float)(0.5 * v * (1.0 + erf((double)v / sqrt(2.0))));
}

int lfr__ref_op(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                float *out)
{
    lfr__shape xs = lfr__graph_shape_of(g, op->in[0], batch),
               os = lfr__graph_shape_of(g, op->out, batch);
    size_t n = lfr__graph_numel(g, op->out, batch);
    switch (op->type) {
    case LFR__OP_CONV2D:
    case LFR__OP_DWCONV2D:
        conv(op, xs, lfr__graph_shape_of(g, op->in[1], batch), os, in[0], in[1],
             op->n_in > 2 && op->in[2] >= 0 ? in[2] : NULL, out);
        break;
    case LFR__OP_MAXPOOL2D:
        maxpool(op, xs, os, in[0], out);
        break;
    case LFR__OP_ADD:
    case LFR__OP_SUB:
    case LFR__OP_MUL:
    case LFR__OP_DIV:
    case LFR__OP_MAX:
    case LFR__OP_MIN:
    case LFR__OP_PRELU:
        binary(op, xs, lfr__graph_shape_of(g, op->in[1], batch), os, in[0], in[1], out);
        break;
    case LFR__OP_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(1.0 / (1.0 + exp(-(double)in[0][i])));
        break;
    case LFR__OP_CLAMP:
        for (size_t i = 0; i < n; i++)
            out[i] = in[0][i] < op->lo ? op->lo : in[0][i] > op->hi ? op->hi : in[0][i];
        break;
    case LFR__OP_ERF:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)erf((double)in[0][i]);
        break;
    case LFR__OP_GELU:
        for (size_t i = 0; i < n; i++)
            out[i] = gelu(in[0][i]);
        break;
    case LFR__OP_TRANSPOSE:
        transpose(op, xs, os, in[0], out);
        break;
    case LFR__OP_SLICE:
        slice(op, xs, os, in[0], out);
        break;
    case LFR__OP_FULLY_CONNECTED:
        fully_connected(op, xs, lfr__graph_shape_of(g, op->in[1], batch), in[0], in[1],
                        op->n_in > 2 && op->in[2] >= 0 ? in[2] : NULL, out);
        break;
    case LFR__OP_MATMUL:
        matmul(op, xs, lfr__graph_shape_of(g, op->in[1], batch), in[0], in[1], out);
        break;
    case LFR__OP_SOFTMAX:
        softmax(xs, in[0], out);
        break;
    case LFR__OP_LAYERNORM:
        layernorm(op, xs, in[0], in[1], op->n_in > 2 && op->in[2] >= 0 ? in[2] : NULL, out);
        break;
    case LFR__OP_L2NORM:
        l2norm(op, xs, in[0], out);
        break;
    case LFR__OP_REDUCE_MEAN:
    case LFR__OP_REDUCE_SUM:
    case LFR__OP_REDUCE_MAX:
    case LFR__OP_REDUCE_L2:
        return reduce(op, xs, os, in[0], out);
    case LFR__OP_RESIZE_NEAREST:
        resize_nearest(op, xs, os, in[0], out);
        break;
    case LFR__OP_ABS:
        for (size_t i = 0; i < n; i++)
            out[i] = fabsf(in[0][i]);
        break;
    case LFR__OP_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = act(in[0][i], LFR__ACT_RELU);
        break;
    case LFR__OP_RELU6:
        for (size_t i = 0; i < n; i++)
            out[i] = act(in[0][i], LFR__ACT_RELU6);
        break;
    case LFR__OP_PAD:
        pad(g->tensors[op->in[1]].idata, xs, os, in[0], out);
        break;
    case LFR__OP_RESIZE_BILINEAR:
        resize(op, xs, os, in[0], out);
        break;
    case LFR__OP_RESHAPE:
        memcpy(out, in[0], n * sizeof(float));
        break;
    case LFR__OP_CONCAT:
        concat(g, op, batch, in, out);
        break;
    default:
        return lfr__err(LFR_ERR_UNSUPPORTED, "reference: no kernel for op %d", op->type);
    }
    return LFR_OK;
}

int lfr__ref_run(const lfr__graph *g, int batch, const float *const *inputs, float *const *outputs)
{
    float **buf = calloc((size_t)g->n_tensors, sizeof *buf);
    if (!buf) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = LFR_OK;
    for (int i = 0; i < g->n_inputs; i++)
        buf[g->inputs[i]] = (float *)inputs[i];
    for (int k = 0; k < g->n_ops && rc == LFR_OK; k++) {
        const lfr__op *op = &g->ops[k];
        const float *in[LFR__MAX_OP_IN] = {NULL};
        for (int i = 0; i < op->n_in; i++) {
            if (op->in[i] < 0) continue;
            const lfr__tensor *t = &g->tensors[op->in[i]];
            in[i] = t->data ? t->data : buf[op->in[i]];
        }
        float *o = malloc(lfr__graph_numel(g, op->out, batch) * sizeof(float));
        if (!o) {
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
            break;
        }
        buf[op->out] = o;
        rc = lfr__ref_op(g, op, batch, in, o);
    }
    for (int i = 0; i < g->n_outputs && rc == LFR_OK; i++)
        memcpy(outputs[i], buf[g->outputs[i]],
               lfr__graph_numel(g, g->outputs[i], batch) * sizeof(float));
    for (int t = 0; t < g->n_tensors; t++) {
        int is_input = 0;
        for (int i = 0; i < g->n_inputs; i++)
            is_input |= g->inputs[i] == t;
        if (!is_input) free(buf[t]);
    }
    free(buf);
    return rc;
}
