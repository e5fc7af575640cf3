/*
 * The graph both readers produce (nn.h): loading by format, ownership,
 * lookups by name, and the shape rules. lfr__op_infer_shape states, per
 * operator, the output shape its inputs imply and everything the kernels
 * rely on (static weights, ranks, channel counts, window sizes); the TFLite
 * reader checks each operator with it and lfr__graph_check applies it to a
 * whole graph built by the ONNX reader, so that a graph that loads is safe
 * to execute. Every product of dimensions is overflow-checked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util/util.h"

/* ---- Sizes ---------------------------------------------------------------------- */

int lfr__numel_ok(int n_dims, const int *dims, size_t *numel_out)
{
    size_t e = 1;
    if (n_dims < 0 || n_dims > LFR__MAX_DIMS) return 0;
    for (int i = 0; i < n_dims; i++) {
        if (dims[i] < 1 || dims[i] > LFR__MAX_DIM) return 0;
        if (!lfr__mul_ok(e, (size_t)dims[i], &e) || e > LFR__MAX_NUMEL) return 0;
    }
    *numel_out = e;
    return 1;
}

static size_t numel_of(int n, const int *d)
{
    size_t e;
    return lfr__numel_ok(n, d, &e) ? e : 0;
}

float lfr__half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return s ? -f : f;
    } else if (e == 31) {
        bits = s | 0x7f800000u | (m << 13);
    } else {
        bits = s | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- Ownership --------------------------------------------------------------------- */

void *lfr__graph_alloc(lfr__graph *g, size_t bytes)
{
    if (bytes == 0 || bytes > ((size_t)1 << 34)) return NULL;
    if (g->n_owned == g->cap_owned) {
        int cap = g->cap_owned ? 2 * g->cap_owned : 64;
        void **o = realloc(g->owned, (size_t)cap * sizeof *o);
        if (!o) return NULL;
        g->owned = o;
        g->cap_owned = cap;
    }
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (!p) return NULL;
    memset(p, 0, rounded);
    g->owned[g->n_owned++] = p;
    return p;
}

int lfr__graph_add_tensor(lfr__graph *g, const char *name)
{
    if (g->n_tensors >= 4000000) return -1;
    lfr__tensor *t = realloc(g->tensors, (size_t)(g->n_tensors + 1) * sizeof *t);
    if (!t) return -1;
    g->tensors = t;
    lfr__tensor *T = &t[g->n_tensors];
    memset(T, 0, sizeof *T);
    snprintf(T->name, sizeof T->name, "%s", name ? name : "");
    return g->n_tensors++;
}

int lfr__graph_add_op(lfr__graph *g, const lfr__op *op)
{
    if (g->n_ops >= 1000000) return -1;
    lfr__op *o = realloc(g->ops, (size_t)(g->n_ops + 1) * sizeof *o);
    if (!o) return -1;
    g->ops = o;
    g->ops[g->n_ops] = *op;
    return g->n_ops++;
}

void lfr__graph_free(lfr__graph *g)
{
    if (!g) return;
    free(g->tensors);
    free(g->ops);
    free(g->arena);
    free(g->extra);
    for (int i = 0; i < g->n_owned; i++)
        free(g->owned[i]);
    free(g->owned);
    free(g);
}

/* ---- Loading by format ---------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int lfr__graph_load(const uint8_t *buf, size_t size, const char *name, int n_dims, const int *shape,
                    lfr__graph **graph_out)
{
    *graph_out = NULL;
    if (!name) name = "model";
    if (n_dims < 0 || n_dims > LFR__MAX_DIMS || (n_dims > 0 && !shape))
        return lfr__err(LFR_ERR_INVALID, "%s: input shape of %d dimensions", name, n_dims);
    if (size >= 8 && memcmp(buf + 4, "TFL3", 4) == 0) {
        int rc = lfr__tflite_load(buf, size, name, graph_out);
        if (rc == LFR_OK && n_dims > 0 && shape[0] > 0) (*graph_out)->batch = shape[0];
        return rc;
    }
    if (ends_with(name, ".tflite"))
        return lfr__tflite_load(buf, size, name, graph_out); /* says why it is not one */
    return lfr__onnx_load(buf, size, name, n_dims, shape, graph_out);
}

int lfr__graph_load_file(const char *path, int n_dims, const int *shape, lfr__graph **graph_out)
{
    uint8_t *buf;
    size_t n;
    *graph_out = NULL;
    int rc = lfr__read_file(path, (size_t)256 << 20, &buf, &n);
    if (rc != LFR_OK) return rc;
    rc = lfr__graph_load(buf, n, path, n_dims, shape, graph_out);
    free(buf);
    return rc;
}

/* ---- Inspection ------------------------------------------------------------------------- */

static int is_act(const lfr__tensor *t)
{
    return t->data == NULL && t->idata == NULL;
}

void lfr__graph_shape(const lfr__graph *g, int t, int batch, int *n_dims_out, int *dims_out)
{
    const lfr__tensor *T = &g->tensors[t];
    *n_dims_out = T->n_dims;
    memcpy(dims_out, T->dims, sizeof T->dims);
    if (!g->fixed && is_act(T) && T->n_dims >= 1 && T->dims[0] == g->file_batch)
        dims_out[0] = batch;
}

lfr__shape lfr__graph_shape_of(const lfr__graph *g, int t, int batch)
{
    lfr__shape s;
    lfr__graph_shape(g, t, batch, &s.n, s.d);
    return s;
}

size_t lfr__shape_numel(lfr__shape s)
{
    size_t e = 1;
    for (int i = 0; i < s.n; i++)
        e *= (size_t)s.d[i];
    return e;
}

size_t lfr__graph_numel(const lfr__graph *g, int t, int batch)
{
    int n, d[LFR__MAX_DIMS];
    lfr__graph_shape(g, t, batch, &n, d);
    return numel_of(n, d);
}

int lfr__graph_batch(const lfr__graph *g)
{
    return g->batch > 0 && !g->fixed ? g->batch : g->file_batch;
}

static int find_io(const lfr__graph *g, const int *ids, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(g->tensors[ids[i]].name, name) == 0) return i;
    return -1;
}

int lfr__graph_input_index(const lfr__graph *g, const char *name)
{
    return find_io(g, g->inputs, g->n_inputs, name);
}

int lfr__graph_output_index(const lfr__graph *g, const char *name)
{
    return find_io(g, g->outputs, g->n_outputs, name);
}

void lfr__graph_io_shape(const lfr__graph *g, int is_output, int i, int *n_dims_out, int *dims_out)
{
    lfr__graph_shape(g, is_output ? g->outputs[i] : g->inputs[i], lfr__graph_batch(g), n_dims_out,
                     dims_out);
}

int lfr__graph_input_is_nhwc(const lfr__graph *g, int i)
{
    return i >= 0 && i < g->n_inputs && g->input_nhwc[i];
}

const char *lfr__op_name(lfr__op_type type)
{
    static const char *const n[LFR__OP_COUNT] = {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "ADD",
        "SUB",
        "MUL",
        "ABS",
        "RELU",
        "RELU6",
        "MAX_POOL_2D",
        "PAD",
        "RESIZE_BILINEAR",
        "RESHAPE",
        "CONCATENATION",
        "PRELU",
        "DIV",
        "MAXIMUM",
        "MINIMUM",
        "SIGMOID",
        "CLAMP",
        "ERF",
        "GELU",
        "TRANSPOSE",
        "SLICE",
        "FULLY_CONNECTED",
        "MATMUL",
        "SOFTMAX",
        "LAYER_NORM",
        "L2_NORM",
        "REDUCE_MEAN",
        "REDUCE_SUM",
        "REDUCE_MAX",
        "REDUCE_L2",
        "RESIZE_NEAREST",
    };
    return (unsigned)type < LFR__OP_COUNT ? n[type] : "?";
}

/* ---- Shape rules ------------------------------------------------------------------------ */

static int conv_out(int in, int k, int s, int d, int padding, int pb, int pa)
{
    int64_t ek = (int64_t)(k - 1) * d + 1;
    if (padding == LFR__PAD_SAME) return (in + s - 1) / s;
    int64_t span = (int64_t)in + (padding == LFR__PAD_EXPLICIT ? (int64_t)pb + pa : 0);
    return span >= ek ? (int)((span - ek) / s + 1) : 0;
}

static int fail(const char **why, const char *w)
{
    *why = w;
    return 0;
}

static int window_ok(const lfr__op *op)
{
    if (op->stride_h < 1 || op->stride_w < 1 || op->dil_h < 1 || op->dil_w < 1 ||
        op->stride_h > 64 || op->stride_w > 64 || op->dil_h > 64 || op->dil_w > 64)
        return 0;
    if (op->padding != LFR__PAD_SAME && op->padding != LFR__PAD_VALID &&
        op->padding != LFR__PAD_EXPLICIT)
        return 0;
    if (op->padding == LFR__PAD_EXPLICIT)
        for (int i = 0; i < 4; i++)
            if (op->pad[i] < 0 || op->pad[i] > 4096) return 0;
    return 1;
}

static int broadcast(const lfr__tensor *x, const lfr__tensor *y, int *n_out, int *d)
{
    int n = x->n_dims > y->n_dims ? x->n_dims : y->n_dims;
    for (int i = 0; i < n; i++) {
        int a = i - (n - x->n_dims) >= 0 ? x->dims[i - (n - x->n_dims)] : 1;
        int c = i - (n - y->n_dims) >= 0 ? y->dims[i - (n - y->n_dims)] : 1;
        if (a != c && a != 1 && c != 1) return 0;
        d[i] = a > c ? a : c;
    }
    *n_out = n;
    return 1;
}

static size_t inner_from(const lfr__tensor *x, int axis)
{
    size_t e = 1;
    for (int i = axis; i < x->n_dims; i++)
        e *= (size_t)x->dims[i];
    return e;
}

int lfr__op_infer_shape(const lfr__graph *g, const lfr__op *op, int *n_out, int *d,
                        const char **why)
{
    /* Only a convolution's or fully connected layer's bias (input 2) and a
     * layer norm's bias are optional. */
    if (op->n_in < 1 || op->n_in > LFR__MAX_OP_IN) return fail(why, "missing input");
    for (int i = 0; i < op->n_in; i++) {
        if (op->in[i] < -1 || op->in[i] >= g->n_tensors) return fail(why, "input out of range");
        if (op->in[i] < 0 && i != 2) return fail(why, "missing input");
    }
    if (op->act < LFR__ACT_NONE || op->act > LFR__ACT_RELU6) return fail(why, "bad activation");
    switch (op->type) {
    case LFR__OP_CONV2D:
    case LFR__OP_DWCONV2D:
    case LFR__OP_MAXPOOL2D:
    case LFR__OP_ADD:
    case LFR__OP_SUB:
    case LFR__OP_MUL:
    case LFR__OP_DIV:
    case LFR__OP_FULLY_CONNECTED:
    case LFR__OP_CONCAT: /* refused below with its own message */
        break;
    default:
        if (op->act != LFR__ACT_NONE) return fail(why, "fused activation not supported here");
    }
    const lfr__tensor *x = &g->tensors[op->in[0]];
    const lfr__tensor *y = op->n_in > 1 ? &g->tensors[op->in[1]] : NULL;
    const lfr__tensor *z = op->n_in > 2 && op->in[2] >= 0 ? &g->tensors[op->in[2]] : NULL;
    *n_out = x->n_dims;
    memcpy(d, x->dims, sizeof x->dims);
    switch (op->type) {
    case LFR__OP_CONV2D:
    case LFR__OP_DWCONV2D: {
        if (!y) return fail(why, "missing filter");
        if (x->n_dims != 4 || y->n_dims != 4 || !y->data)
            return fail(why, "input and filter must be 4-D, filter static");
        if (!window_ok(op)) return fail(why, "stride, dilation or padding out of range");
        int groups = op->groups > 1 ? op->groups : 1;
        int cout = op->type == LFR__OP_CONV2D ? y->dims[0] : y->dims[3];
        if (op->type == LFR__OP_CONV2D &&
            ((int64_t)y->dims[3] * groups != x->dims[3] || cout % groups))
            return fail(why, "filter input channels differ from the input's");
        if (op->type == LFR__OP_DWCONV2D && (y->dims[0] != 1 || cout % x->dims[3]))
            return fail(why, "depthwise filter shape does not fit the input");
        if (z && (!z->data || z->n_dims != 1 || z->dims[0] != cout))
            return fail(why, "bias must be static with one value per output");
        d[1] = conv_out(x->dims[1], y->dims[1], op->stride_h, op->dil_h, op->padding, op->pad[0],
                        op->pad[2]);
        d[2] = conv_out(x->dims[2], y->dims[2], op->stride_w, op->dil_w, op->padding, op->pad[1],
                        op->pad[3]);
        d[3] = cout;
        if (d[1] < 1 || d[2] < 1) return fail(why, "filter larger than the padded input");
        return 1;
    }
    case LFR__OP_MAXPOOL2D:
        if (x->n_dims != 4 || op->filter_h < 1 || op->filter_w < 1 || op->filter_h > 64 ||
            op->filter_w > 64)
            return fail(why, "input must be 4-D with a window of 1..64");
        if (!window_ok(op)) return fail(why, "stride, dilation or padding out of range");
        if (op->padding == LFR__PAD_EXPLICIT &&
            (op->pad[0] >= op->filter_h || op->pad[2] >= op->filter_h ||
             op->pad[1] >= op->filter_w || op->pad[3] >= op->filter_w))
            return fail(why, "padding as large as the window");
        d[1] = conv_out(x->dims[1], op->filter_h, op->stride_h, op->dil_h, op->padding, op->pad[0],
                        op->pad[2]);
        d[2] = conv_out(x->dims[2], op->filter_w, op->stride_w, op->dil_w, op->padding, op->pad[1],
                        op->pad[3]);
        if (d[1] < 1 || d[2] < 1) return fail(why, "window larger than the padded input");
        return 1;
    case LFR__OP_ADD:
    case LFR__OP_SUB:
    case LFR__OP_MUL:
    case LFR__OP_DIV:
    case LFR__OP_MAX:
    case LFR__OP_MIN:
    case LFR__OP_PRELU:
        if (op->n_in != 2 || !y) return fail(why, "needs two inputs");
        if (!broadcast(x, y, n_out, d)) return fail(why, "input shapes do not broadcast");
        if (op->type == LFR__OP_PRELU && is_act(y)) return fail(why, "slope must be static");
        return 1;
    case LFR__OP_ABS:
    case LFR__OP_RELU:
    case LFR__OP_RELU6:
    case LFR__OP_SIGMOID:
    case LFR__OP_ERF:
    case LFR__OP_GELU:
    case LFR__OP_SOFTMAX:
        if (x->n_dims < 1) return fail(why, "input has no dimensions");
        return 1;
    case LFR__OP_CLAMP:
        if (!(op->lo <= op->hi)) return fail(why, "bounds out of order");
        return 1;
    case LFR__OP_PAD: {
        if (!y || !y->idata || y->n_dims != 2 || y->dims[0] != x->n_dims || y->dims[1] != 2)
            return fail(why, "paddings must be a static int32 [rank, 2] tensor");
        for (int i = 0; i < x->n_dims; i++) {
            int32_t a = y->idata[2 * i], c = y->idata[2 * i + 1];
            if (a < 0 || c < 0 || a > 4096 || c > 4096) return fail(why, "padding out of range");
            d[i] = x->dims[i] + a + c;
        }
        return 1;
    }
    case LFR__OP_RESIZE_BILINEAR:
        if (x->n_dims != 4 || !y || !y->idata || y->n_dims != 1 || y->dims[0] != 2 ||
            y->idata[0] < 1 || y->idata[1] < 1 || y->idata[0] > 16384 || y->idata[1] > 16384)
            return fail(why, "needs a 4-D input and a static size [2]");
        if (op->align_corners && op->half_pixel_centers)
            return fail(why, "align_corners and half_pixel_centers both set");
        d[1] = y->idata[0];
        d[2] = y->idata[1];
        return 1;
    case LFR__OP_RESHAPE: {
        const lfr__tensor *o = &g->tensors[op->out];
        if (numel_of(o->n_dims, o->dims) != numel_of(x->n_dims, x->dims))
            return fail(why, "output size differs from the input's");
        if (!g->fixed && (o->n_dims < 1 || x->n_dims < 1 || o->dims[0] != x->dims[0]))
            return fail(why, "reshapes across the batch are not supported");
        *n_out = o->n_dims;
        memcpy(d, o->dims, sizeof o->dims);
        return 1;
    }
    case LFR__OP_CONCAT: {
        int axis = op->axis < 0 ? op->axis + x->n_dims : op->axis;
        if (axis < (g->fixed ? 0 : 1) || axis >= x->n_dims)
            return fail(why, "axis out of range (or the batch axis)");
        for (int i = 1; i < op->n_in; i++) {
            const lfr__tensor *t = &g->tensors[op->in[i]];
            if (t->n_dims != x->n_dims) return fail(why, "input ranks differ");
            for (int k = 0; k < x->n_dims; k++)
                if (k != axis && t->dims[k] != x->dims[k])
                    return fail(why, "input shapes differ off the axis");
            d[axis] += t->dims[axis];
            if (d[axis] > LFR__MAX_DIM) return fail(why, "output too large");
        }
        if (op->act != LFR__ACT_NONE)
            return fail(why, "fused activation on concatenation not supported");
        return 1;
    }
    case LFR__OP_TRANSPOSE: {
        int seen = 0;
        for (int i = 0; i < x->n_dims; i++) {
            int p = op->perm[i];
            if (p < 0 || p >= x->n_dims || (seen >> p & 1)) return fail(why, "bad permutation");
            seen |= 1 << p;
            d[i] = x->dims[p];
        }
        return 1;
    }
    case LFR__OP_SLICE:
        if (op->axis < 0 || op->axis >= x->n_dims || op->begin < 0 || op->size < 1 ||
            op->begin > x->dims[op->axis] - op->size)
            return fail(why, "slice outside the input");
        d[op->axis] = op->size;
        return 1;
    case LFR__OP_FULLY_CONNECTED:
        if (!y || !y->data || y->n_dims != 2 || x->n_dims < 1 ||
            y->dims[1] != x->dims[x->n_dims - 1])
            return fail(why, "weights must be static [outputs, inputs]");
        if (z && (!z->data || z->n_dims != 1 || z->dims[0] != y->dims[0]))
            return fail(why, "bias must be static with one value per output");
        d[x->n_dims - 1] = y->dims[0];
        return 1;
    case LFR__OP_MATMUL: {
        if (!y || op->n_in != 2 || x->n_dims < 2 || y->n_dims < 2)
            return fail(why, "needs two inputs of rank 2 or more");
        int r = x->n_dims, s = y->n_dims;
        int K = x->dims[r - 1];
        int yk = op->trans_b ? y->dims[s - 1] : y->dims[s - 2];
        int N = op->trans_b ? y->dims[s - 2] : y->dims[s - 1];
        if (yk != K) return fail(why, "inner dimensions differ");
        if (s != 2) {
            if (s != r) return fail(why, "batch dimensions differ");
            for (int i = 0; i < r - 2; i++)
                if (x->dims[i] != y->dims[i]) return fail(why, "batch dimensions differ");
        }
        d[r - 1] = N;
        return 1;
    }
    case LFR__OP_LAYERNORM: {
        if (op->axis < 0 || op->axis >= x->n_dims) return fail(why, "axis out of range");
        size_t inner = inner_from(x, op->axis);
        if (!y || !y->data || numel_of(y->n_dims, y->dims) != inner)
            return fail(why, "scale must be static with one value per normalised element");
        if (z && (!z->data || numel_of(z->n_dims, z->dims) != inner))
            return fail(why, "bias must be static with one value per normalised element");
        if (!(op->eps >= 0 && op->eps < 1)) return fail(why, "epsilon out of range");
        return 1;
    }
    case LFR__OP_L2NORM:
        if (op->axis < 0 || op->axis >= x->n_dims) return fail(why, "axis out of range");
        if (!(op->eps >= 0 && op->eps < 1)) return fail(why, "epsilon out of range");
        return 1;
    case LFR__OP_REDUCE_MEAN:
    case LFR__OP_REDUCE_SUM:
    case LFR__OP_REDUCE_MAX:
    case LFR__OP_REDUCE_L2:
        if (op->axes <= 0 || op->axes >= 1 << x->n_dims) return fail(why, "axes out of range");
        for (int i = 0; i < x->n_dims; i++)
            if (op->axes >> i & 1) d[i] = 1;
        return 1;
    case LFR__OP_RESIZE_NEAREST:
        if (x->n_dims != 4 || op->scale_h < 1 || op->scale_w < 1 || op->scale_h > 64 ||
            op->scale_w > 64)
            return fail(why, "needs a 4-D input and scales of 1..64");
        if ((int64_t)x->dims[1] * op->scale_h > LFR__MAX_DIM ||
            (int64_t)x->dims[2] * op->scale_w > LFR__MAX_DIM)
            return fail(why, "output too large");
        d[1] = x->dims[1] * op->scale_h;
        d[2] = x->dims[2] * op->scale_w;
        return 1;
    default:
        break;
    }
    return fail(why, "no shape rule");
}

static void shape_str(int n, const int *d, char *out, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(out + k, cap - k, "[");
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, i ? ",%d" : "%d", d[i]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

int lfr__graph_check_op(const lfr__graph *g, const lfr__op *op)
{
    const char *nm = lfr__op_name(op->type), *why = "";
    int n = 0, d[LFR__MAX_DIMS] = {0};
    if (!lfr__op_infer_shape(g, op, &n, d, &why))
        return lfr__err(LFR_ERR_FORMAT, "%s: operator %d (%s): %s", g->name, op->index, nm, why);
    const lfr__tensor *o = &g->tensors[op->out];
    int same = n == o->n_dims;
    for (int i = 0; same && i < n; i++)
        same = d[i] == o->dims[i];
    if (!same) {
        char want[80], have[80];
        shape_str(n, d, want, sizeof want);
        shape_str(o->n_dims, o->dims, have, sizeof have);
        return lfr__err(LFR_ERR_FORMAT,
                        "%s: operator %d (%s): output tensor '%s' has shape %s, its inputs give %s",
                        g->name, op->index, nm, o->name, have, want);
    }
    return LFR_OK;
}

int lfr__graph_check(const lfr__graph *g)
{
    if (g->n_inputs < 1 || g->n_inputs > LFR__MAX_IO || g->n_outputs < 1 ||
        g->n_outputs > LFR__MAX_IO)
        return lfr__err(LFR_ERR_FORMAT, "%s: %d inputs and %d outputs", g->name, g->n_inputs,
                        g->n_outputs);
    for (int t = 0; t < g->n_tensors; t++) {
        size_t e;
        const lfr__tensor *T = &g->tensors[t];
        if (!lfr__numel_ok(T->n_dims, T->dims, &e))
            return lfr__err(LFR_ERR_TOO_LARGE,
                            "%s: tensor %d ('%s') has a dimension out of range or too many "
                            "elements",
                            g->name, t, T->name);
    }
    char *ready = calloc((size_t)g->n_tensors + 1, 1);
    if (!ready) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
    int rc = LFR_OK;
    for (int t = 0; t < g->n_tensors; t++)
        if (!is_act(&g->tensors[t])) ready[t] = 1;
    for (int i = 0; i < g->n_inputs; i++) {
        int t = g->inputs[i];
        if (t < 0 || t >= g->n_tensors || !is_act(&g->tensors[t]) || g->tensors[t].n_dims < 1) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: input %d is not an activation", g->name, i);
            goto done;
        }
        ready[t] = 1;
    }
    for (int k = 0; k < g->n_ops; k++) {
        const lfr__op *op = &g->ops[k];
        const char *nm = lfr__op_name(op->type);
        if ((unsigned)op->type >= LFR__OP_COUNT || op->n_in < 1 || op->n_in > LFR__MAX_OP_IN ||
            op->out < 0 || op->out >= g->n_tensors) {
            rc =
                lfr__err(LFR_ERR_FORMAT, "%s: operator %d (%s): malformed", g->name, op->index, nm);
            goto done;
        }
        for (int i = 0; i < op->n_in; i++)
            if (op->in[i] >= g->n_tensors || (op->in[i] >= 0 && !ready[op->in[i]])) {
                rc = lfr__err(LFR_ERR_FORMAT,
                              "%s: operator %d (%s): reads a tensor no earlier operator produced",
                              g->name, op->index, nm);
                goto done;
            }
        if (ready[op->out] || !is_act(&g->tensors[op->out])) {
            rc = lfr__err(LFR_ERR_FORMAT,
                          "%s: operator %d (%s): writes a tensor that already has a value", g->name,
                          op->index, nm);
            goto done;
        }
        if ((rc = lfr__graph_check_op(g, op)) != LFR_OK) goto done;
        ready[op->out] = 1;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (t < 0 || t >= g->n_tensors || !ready[t] || !is_act(&g->tensors[t])) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: output %d is never computed", g->name, i);
            goto done;
        }
    }
done:
    free(ready);
    return rc;
}
