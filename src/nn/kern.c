/*
 * The project's own fast kernels for the operators Debian's XNNPACK (2022)
 * has no subgraph node for: layer normalisation, GELU and erf, L2
 * normalisation, reductions, batched matrix products of two activations,
 * transposes, slices, concatenations and reshapes. They run between XNNPACK
 * runtimes (xnn.c), on the runtime's thread pool when it has one, and never
 * allocate. Also depthwise convolutions with windows larger than XNNPACK's
 * microkernels (7 x 7, 9 x 9). The hot ones in EdgeFace (GELU, layer
 * normalisation, matrix products, large depthwise convolutions) have
 * AVX2+FMA versions chosen at run time and portable fallbacks. Each kernel
 * is tested against its naive reference in ref.c.
 *
 * erf uses the rational approximation of Eigen's generic_fast_erf_float
 * (odd degree-13 numerator over even degree-8 denominator, input clamped to
 * [-4, 4]): largest absolute error about 4e-7 against the exact erf.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <pthreadpool.h>

#include "nn.h"
#include "util/util.h"

#define AVX2 __attribute__((target("avx2,fma")))

static int have_avx2(void)
{
    static int v = -1;
    if (v < 0) v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return v;
}

/* ---- erf and GELU --------------------------------------------------------------------- */

static inline float erf_approx(float a)
{
    float x = a > 4.f ? 4.f : a < -4.f ? -4.f : a;
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

AVX2 static inline __m256 erf8(__m256 a)
{
    __m256 x = _mm256_max_ps(_mm256_min_ps(a, _mm256_set1_ps(4.f)), _mm256_set1_ps(-4.f));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f),
                               _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
    p = _mm256_mul_ps(x, p);
    __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f),
                               _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
    return _mm256_div_ps(p, q);
}

typedef struct ew_ctx {
    const float *x;
    float *y;
    size_t n;
    int gelu;
} ew_ctx;

#define EW_TILE 4096

AVX2 static void ew_avx2(const ew_ctx *c, size_t lo, size_t hi)
{
    const __m256 r2 = _mm256_set1_ps(0.70710678118654752f), half = _mm256_set1_ps(0.5f),
                 one = _mm256_set1_ps(1.0f);
    size_t i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256 v = _mm256_loadu_ps(c->x + i);
        __m256 r = c->gelu ? _mm256_mul_ps(_mm256_mul_ps(half, v),
                                           _mm256_add_ps(one, erf8(_mm256_mul_ps(v, r2))))
                           : erf8(v);
        _mm256_storeu_ps(c->y + i, r);
    }
    for (; i < hi; i++) {
        float v = c->x[i];
        c->y[i] =
            c->gelu ? 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f)) : erf_approx(v);
    }
}

static void ew_task(void *ctx, size_t start, size_t tile)
{
    const ew_ctx *c = ctx;
    size_t hi = start + tile < c->n ? start + tile : c->n;
    if (have_avx2()) {
        ew_avx2(c, start, hi);
        return;
    }
    for (size_t i = start; i < hi; i++) {
        float v = c->x[i];
        c->y[i] =
            c->gelu ? 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f)) : erf_approx(v);
    }
}

/* ---- Layer normalisation ----------------------------------------------------------------- */

typedef struct ln_ctx {
    const float *x, *scale, *bias;
    float *y;
    size_t inner;
    float eps;
} ln_ctx;

AVX2 static void ln_row_avx2(const ln_ctx *c, size_t r)
{
    const float *p = c->x + r * c->inner;
    float *y = c->y + r * c->inner;
    size_t n = c->inner, i = 0;
    __m256 s8 = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8)
        s8 = _mm256_add_ps(s8, _mm256_loadu_ps(p + i));
    float buf[8];
    _mm256_storeu_ps(buf, s8);
    float sum = ((buf[0] + buf[1]) + (buf[2] + buf[3])) + ((buf[4] + buf[5]) + (buf[6] + buf[7]));
    for (; i < n; i++)
        sum += p[i];
    float mean = sum / (float)n;
    __m256 m8 = _mm256_set1_ps(mean), v8 = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p + i), m8);
        v8 = _mm256_fmadd_ps(d, d, v8);
    }
    _mm256_storeu_ps(buf, v8);
    float var = ((buf[0] + buf[1]) + (buf[2] + buf[3])) + ((buf[4] + buf[5]) + (buf[6] + buf[7]));
    for (; i < n; i++)
        var += (p[i] - mean) * (p[i] - mean);
    float inv = 1.0f / sqrtf(var / (float)n + c->eps);
    __m256 i8 = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p + i), m8), i8);
        __m256 b = c->bias ? _mm256_loadu_ps(c->bias + i) : _mm256_setzero_ps();
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(c->scale + i), b));
    }
    for (; i < n; i++)
        y[i] = (p[i] - mean) * inv * c->scale[i] + (c->bias ? c->bias[i] : 0.0f);
}

static void ln_row(const ln_ctx *c, size_t r)
{
    const float *p = c->x + r * c->inner;
    float *y = c->y + r * c->inner;
    size_t n = c->inner;
    float sum = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    float mean = sum / (float)n;
    for (size_t i = 0; i < n; i++)
        var += (p[i] - mean) * (p[i] - mean);
    float inv = 1.0f / sqrtf(var / (float)n + c->eps);
    for (size_t i = 0; i < n; i++)
        y[i] = (p[i] - mean) * inv * c->scale[i] + (c->bias ? c->bias[i] : 0.0f);
}

static void ln_task(void *ctx, size_t start, size_t tile)
{
    const ln_ctx *c = ctx;
    int avx = have_avx2();
    for (size_t r = start; r < start + tile; r++) {
        if (avx)
            ln_row_avx2(c, r);
        else
            ln_row(c, r);
    }
}

/* ---- Matrix products of activations ---------------------------------------------------------- */

typedef struct mm_ctx {
    const float *a, *b;
    float *y;
    size_t M, K, N, bstride;
    int trans_b;
} mm_ctx;

/* Dot product of two rows of n floats, 8 lanes at a time. */
AVX2 static float dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 acc = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    float lanes[8], sum = 0;
    _mm256_storeu_ps(lanes, acc);
    for (int i = 0; i < 8; i++)
        sum += lanes[i];
    for (; k < n; k++)
        sum += a[k] * b[k];
    return sum;
}

/* y[0..n) += a * x[0..n). */
AVX2 static void axpy_avx2(float a, const float *x, float *y, size_t n)
{
    __m256 a8 = _mm256_set1_ps(a);
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(y + j,
                         _mm256_fmadd_ps(a8, _mm256_loadu_ps(x + j), _mm256_loadu_ps(y + j)));
    for (; j < n; j++)
        y[j] += a * x[j];
}

/* One output row (batch row / M). */
static void mm_row(void *ctx, size_t row)
{
    const mm_ctx *c = ctx;
    const float *A = c->a + row * c->K, *B = c->b + row / c->M * c->bstride;
    float *Y = c->y + row * c->N;
    int avx = have_avx2();
    if (c->trans_b) {
        for (size_t j = 0; j < c->N; j++) {
            const float *Bj = B + j * c->K;
            if (avx) {
                Y[j] = dot_avx2(A, Bj, c->K);
                continue;
            }
            float acc = 0;
            for (size_t k = 0; k < c->K; k++)
                acc += A[k] * Bj[k];
            Y[j] = acc;
        }
        return;
    }
    for (size_t j = 0; j < c->N; j++)
        Y[j] = 0;
    for (size_t k = 0; k < c->K; k++) {
        if (avx) {
            axpy_avx2(A[k], B + k * c->N, Y, c->N);
            continue;
        }
        for (size_t j = 0; j < c->N; j++)
            Y[j] += A[k] * B[k * c->N + j];
    }
}

/* ---- Depthwise convolution with large windows
 * ------------------------------------------------------
 *
 * Debian's XNNPACK has depthwise microkernels for windows of up to 25 taps
 * and runs larger ones (EdgeFace's 7 x 7 and 9 x 9) as grouped GEMMs of one
 * channel each, about ten times slower than this: per output pixel, the
 * channels of each tap are multiplied and added as contiguous vectors. */

typedef struct dw_ctx {
    const lfr__op *op;
    const float *x, *w, *b;
    float *y;
    int H, W, C, OH, OW, KH, KW, pt, pl;
    float lo, hi;
} dw_ctx;

AVX2 static void dw_acc_avx2(float *acc, const float *x, const float *w, int C)
{
    int c = 0;
    for (; c + 8 <= C; c += 8)
        _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps(w + c),
                                                  _mm256_loadu_ps(acc + c)));
    for (; c < C; c++)
        acc[c] += x[c] * w[c];
}

/* Output row r (over batch and height). */
static void dw_row(void *ctx, size_t r)
{
    const dw_ctx *c = ctx;
    const lfr__op *op = c->op;
    int n = (int)r / c->OH, oy = (int)r % c->OH, avx = have_avx2();
    for (int ox = 0; ox < c->OW; ox++) {
        float *acc = c->y + (((size_t)n * c->OH + oy) * c->OW + ox) * c->C;
        for (int k = 0; k < c->C; k++)
            acc[k] = c->b ? c->b[k] : 0.0f;
        for (int ky = 0; ky < c->KH; ky++) {
            int iy = oy * op->stride_h - c->pt + ky * op->dil_h;
            if (iy < 0 || iy >= c->H) continue;
            for (int kx = 0; kx < c->KW; kx++) {
                int ix = ox * op->stride_w - c->pl + kx * op->dil_w;
                if (ix < 0 || ix >= c->W) continue;
                const float *px = c->x + (((size_t)n * c->H + iy) * c->W + ix) * c->C;
                const float *pw = c->w + ((size_t)ky * c->KW + kx) * c->C;
                if (avx) {
                    dw_acc_avx2(acc, px, pw, c->C);
                    continue;
                }
                for (int k = 0; k < c->C; k++)
                    acc[k] += px[k] * pw[k];
            }
        }
        for (int k = 0; k < c->C; k++)
            acc[k] = acc[k] < c->lo ? c->lo : acc[k] > c->hi ? c->hi : acc[k];
    }
}

/* Whether op is a depthwise convolution for dw_row: one output channel per
 * input channel, a window of more than 25 taps. */
int lfr__kern_large_dwconv(const lfr__graph *g, const lfr__op *op)
{
    if (op->type != LFR__OP_DWCONV2D) return 0;
    const lfr__tensor *w = &g->tensors[op->in[1]];
    return w->dims[1] * w->dims[2] > 25 && w->dims[3] == g->tensors[op->in[0]].dims[3];
}

static int pad_start(int in, int out, int k, int s, int d, const lfr__op *op, int explicit_pad)
{
    if (op->padding == LFR__PAD_EXPLICIT) return explicit_pad;
    if (op->padding != LFR__PAD_SAME) return 0;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    return total > 0 ? total / 2 : 0;
}

/* ---- Data movement ------------------------------------------------------------------------------
 */

/* Transpose by walking the output in order with an odometer over the
 * input's strides; the innermost output axis is copied in a tight loop. */
static void transpose(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t xst[LFR__MAX_DIMS] = {0}, st[LFR__MAX_DIMS] = {0};
    size_t e = 1;
    for (int i = xs.n - 1; i >= 0; i--) {
        xst[i] = e;
        e *= (size_t)xs.d[i];
    }
    for (int i = 0; i < os.n; i++)
        st[i] = xst[op->perm[i]];
    int last = os.n - 1;
    size_t inner = (size_t)os.d[last], istride = st[last];
    size_t rows = lfr__shape_numel(os) / inner;
    int idx[LFR__MAX_DIMS] = {0};
    size_t xo = 0;
    for (size_t r = 0; r < rows; r++) {
        float *dst = y + r * inner;
        const float *src = x + xo;
        if (istride == 1)
            memcpy(dst, src, inner * sizeof(float));
        else
            for (size_t k = 0; k < inner; k++)
                dst[k] = src[k * istride];
        for (int i = last - 1; i >= 0; i--) {
            xo += st[i];
            if (++idx[i] < os.d[i]) break;
            xo -= st[i] * (size_t)os.d[i];
            idx[i] = 0;
        }
    }
}

static void slice(const lfr__op *op, lfr__shape xs, const float *x, float *y)
{
    size_t outer = 1, inner = 1;
    for (int i = 0; i < op->axis; i++)
        outer *= (size_t)xs.d[i];
    for (int i = op->axis + 1; i < xs.n; i++)
        inner *= (size_t)xs.d[i];
    size_t n = (size_t)xs.d[op->axis], chunk = (size_t)op->size * inner;
    for (size_t o = 0; o < outer; o++)
        memcpy(y + o * chunk, x + (o * n + (size_t)op->begin) * inner, chunk * sizeof(float));
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
    size_t row = (size_t)os.d[axis] * inner, off = 0;
    for (int k = 0; k < op->n_in; k++) {
        lfr__shape s = lfr__graph_shape_of(g, op->in[k], batch);
        size_t chunk = (size_t)s.d[axis] * inner;
        for (size_t o = 0; o < outer; o++)
            memcpy(y + o * row + off, in[k] + o * chunk, chunk * sizeof(float));
        off += chunk;
    }
}

/* ---- Reductions and normalisation ---------------------------------------------------------------
 */

static void reduce(const lfr__op *op, lfr__shape xs, lfr__shape os, const float *x, float *y)
{
    size_t total_out = lfr__shape_numel(os), total_in = lfr__shape_numel(xs);
    size_t count = total_in / total_out;
    size_t yst[LFR__MAX_DIMS], e = 1;
    for (int i = os.n - 1; i >= 0; i--) {
        yst[i] = op->axes >> i & 1 ? 0 : e;
        e *= (size_t)os.d[i];
    }
    float init = op->type == LFR__OP_REDUCE_MAX ? -INFINITY : 0.0f;
    for (size_t k = 0; k < total_out; k++)
        y[k] = init;
    int idx[LFR__MAX_DIMS] = {0}, last = xs.n - 1;
    size_t yo = 0;
    for (size_t k = 0; k < total_in; k++) {
        float v = x[k];
        if (op->type == LFR__OP_REDUCE_MAX)
            y[yo] = v > y[yo] ? v : y[yo];
        else
            y[yo] += op->type == LFR__OP_REDUCE_L2 ? v * v : v;
        for (int i = last; i >= 0; i--) {
            yo += yst[i];
            if (++idx[i] < xs.d[i]) break;
            yo -= yst[i] * (size_t)xs.d[i];
            idx[i] = 0;
        }
    }
    if (op->type == LFR__OP_REDUCE_MEAN)
        for (size_t k = 0; k < total_out; k++)
            y[k] /= (float)count;
    else if (op->type == LFR__OP_REDUCE_L2)
        for (size_t k = 0; k < total_out; k++)
            y[k] = sqrtf(y[k]);
}

static void l2norm(const lfr__op *op, lfr__shape xs, const float *x, float *y)
{
    size_t outer = 1, inner = 1, n = (size_t)xs.d[op->axis];
    for (int i = 0; i < op->axis; i++)
        outer *= (size_t)xs.d[i];
    for (int i = op->axis + 1; i < xs.n; i++)
        inner *= (size_t)xs.d[i];
    for (size_t o = 0; o < outer; o++) {
        const float *p = x + o * n * inner;
        float *q = y + o * n * inner;
        if (inner == 1) {
            float ss = 0;
            for (size_t k = 0; k < n; k++)
                ss += p[k] * p[k];
            float d = sqrtf(ss);
            float inv = 1.0f / (d < op->eps ? op->eps : d);
            for (size_t k = 0; k < n; k++)
                q[k] = p[k] * inv;
            continue;
        }
        for (size_t i = 0; i < inner; i++) {
            float ss = 0;
            for (size_t k = 0; k < n; k++)
                ss += p[k * inner + i] * p[k * inner + i];
            float d = sqrtf(ss);
            float inv = 1.0f / (d < op->eps ? op->eps : d);
            for (size_t k = 0; k < n; k++)
                q[k * inner + i] = p[k * inner + i] * inv;
        }
    }
}

static void softmax(lfr__shape xs, const float *x, float *y)
{
    size_t C = (size_t)xs.d[xs.n - 1], rows = lfr__shape_numel(xs) / C;
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * C;
        float *q = y + r * C, m = -INFINITY, sum = 0;
        for (size_t c = 0; c < C; c++)
            m = p[c] > m ? p[c] : m;
        for (size_t c = 0; c < C; c++)
            sum += q[c] = expf(p[c] - m);
        float inv = 1.0f / sum;
        for (size_t c = 0; c < C; c++)
            q[c] *= inv;
    }
}

typedef struct rn_ctx {
    const float *x;
    float *y;
    size_t H, W, C, sh, sw;
} rn_ctx;

/* Input row r (over batch and height) to its sh output rows. */
static void rn_row(void *ctx, size_t r)
{
    const rn_ctx *c = ctx;
    size_t OW = c->W * c->sw, C = c->C;
    const float *src = c->x + r * c->W * C;
    float *row = c->y + r * c->sh * OW * C;
    if (c->sw > 1) {
        for (size_t ix = 0; ix < c->W; ix++)
            for (size_t k = 0; k < c->sw; k++)
                memcpy(row + (ix * c->sw + k) * C, src + ix * C, C * sizeof(float));
    } else {
        memcpy(row, src, c->W * C * sizeof(float));
    }
    for (size_t k = 1; k < c->sh; k++)
        memcpy(row + k * OW * C, row, OW * C * sizeof(float));
}

/* ---- Entry points
 * -------------------------------------------------------------------------------- */

int lfr__kern_has(const lfr__op *op)
{
    switch (op->type) {
    case LFR__OP_DWCONV2D: /* large windows only: lfr__kern_large_dwconv */
    case LFR__OP_TRANSPOSE:
    case LFR__OP_SLICE:
    case LFR__OP_CONCAT:
    case LFR__OP_RESHAPE:
    case LFR__OP_MATMUL:
    case LFR__OP_LAYERNORM:
    case LFR__OP_L2NORM:
    case LFR__OP_GELU:
    case LFR__OP_ERF:
    case LFR__OP_REDUCE_MEAN:
    case LFR__OP_REDUCE_SUM:
    case LFR__OP_REDUCE_MAX:
    case LFR__OP_REDUCE_L2:
    case LFR__OP_SOFTMAX:
    case LFR__OP_RESIZE_NEAREST:
        return 1;
    default:
        return 0;
    }
}

int lfr__kern_op(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                 float *out, void *pool)
{
    lfr__shape xs = lfr__graph_shape_of(g, op->in[0], batch),
               os = lfr__graph_shape_of(g, op->out, batch);
    size_t n = lfr__shape_numel(os);
    switch (op->type) {
    case LFR__OP_TRANSPOSE:
        transpose(op, xs, os, in[0], out);
        return LFR_OK;
    case LFR__OP_DWCONV2D: {
        if (!lfr__kern_large_dwconv(g, op)) break;
        lfr__shape ws = lfr__graph_shape_of(g, op->in[1], batch);
        dw_ctx c = {.op = op,
                    .x = in[0],
                    .w = in[1],
                    .b = op->n_in > 2 && op->in[2] >= 0 ? in[2] : NULL,
                    .y = out,
                    .H = xs.d[1],
                    .W = xs.d[2],
                    .C = xs.d[3],
                    .OH = os.d[1],
                    .OW = os.d[2],
                    .KH = ws.d[1],
                    .KW = ws.d[2],
                    .lo = -INFINITY,
                    .hi = INFINITY};
        c.pt = pad_start(c.H, c.OH, c.KH, op->stride_h, op->dil_h, op, op->pad[0]);
        c.pl = pad_start(c.W, c.OW, c.KW, op->stride_w, op->dil_w, op, op->pad[1]);
        if (op->act == LFR__ACT_RELU) c.lo = 0;
        if (op->act == LFR__ACT_RELU6) c.lo = 0, c.hi = 6;
        if (op->act == LFR__ACT_RELU_N1_TO_1) c.lo = -1, c.hi = 1;
        pthreadpool_parallelize_1d(pool, dw_row, &c, (size_t)xs.d[0] * (size_t)c.OH, 0);
        return LFR_OK;
    }
    case LFR__OP_SLICE:
        slice(op, xs, in[0], out);
        return LFR_OK;
    case LFR__OP_CONCAT:
        concat(g, op, batch, in, out);
        return LFR_OK;
    case LFR__OP_RESHAPE:
        if (out != in[0]) memcpy(out, in[0], n * sizeof(float));
        return LFR_OK;
    case LFR__OP_MATMUL: {
        lfr__shape bs = lfr__graph_shape_of(g, op->in[1], batch);
        mm_ctx c = {.a = in[0],
                    .b = in[1],
                    .y = out,
                    .M = (size_t)xs.d[xs.n - 2],
                    .K = (size_t)xs.d[xs.n - 1],
                    .N = (size_t)os.d[os.n - 1],
                    .trans_b = op->trans_b};
        c.bstride = bs.n == 2 ? 0 : c.K * c.N;
        pthreadpool_parallelize_1d(pool, mm_row, &c, lfr__shape_numel(xs) / c.K, 0);
        return LFR_OK;
    }
    case LFR__OP_LAYERNORM: {
        ln_ctx c = {.x = in[0],
                    .scale = in[1],
                    .bias = op->n_in > 2 && op->in[2] >= 0 ? in[2] : NULL,
                    .y = out,
                    .eps = op->eps};
        c.inner = 1;
        for (int i = op->axis; i < xs.n; i++)
            c.inner *= (size_t)xs.d[i];
        pthreadpool_parallelize_1d_tile_1d(pool, ln_task, &c, n / c.inner, 16, 0);
        return LFR_OK;
    }
    case LFR__OP_GELU:
    case LFR__OP_ERF: {
        ew_ctx c = {.x = in[0], .y = out, .n = n, .gelu = op->type == LFR__OP_GELU};
        pthreadpool_parallelize_1d_tile_1d(pool, ew_task, &c, n, EW_TILE, 0);
        return LFR_OK;
    }
    case LFR__OP_L2NORM:
        l2norm(op, xs, in[0], out);
        return LFR_OK;
    case LFR__OP_REDUCE_MEAN:
    case LFR__OP_REDUCE_SUM:
    case LFR__OP_REDUCE_MAX:
    case LFR__OP_REDUCE_L2:
        reduce(op, xs, os, in[0], out);
        return LFR_OK;
    case LFR__OP_SOFTMAX:
        softmax(xs, in[0], out);
        return LFR_OK;
    case LFR__OP_RESIZE_NEAREST: {
        rn_ctx c = {.x = in[0],
                    .y = out,
                    .H = (size_t)xs.d[1],
                    .W = (size_t)xs.d[2],
                    .C = (size_t)xs.d[3],
                    .sh = (size_t)op->scale_h,
                    .sw = (size_t)op->scale_w};
        pthreadpool_parallelize_1d(pool, rn_row, &c, (size_t)xs.d[0] * c.H, 0);
        return LFR_OK;
    }
    default:
        break;
    }
    return lfr__ref_op(g, op, batch, in, out);
}
