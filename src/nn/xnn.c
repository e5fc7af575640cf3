/*
 * The executor: runs a checked graph (nn.h) as a sequence of steps, each
 * either an XNNPACK runtime built from a run of consecutive operators that
 * Debian's XNNPACK (2022) has subgraph nodes for, or one operator run by the
 * project's own kernels (kern.c): concatenations, transposes, slices, layer
 * normalisation, GELU, matrix products of two activations and the like.
 * A mean over height and width becomes a global average pooling. Nearest
 * up-sampling runs as our own kernel (row copies): XNNPACK has no node
 * for it, and a depthwise deconvolution with a kernel of ones, which
 * computes the same, took a tenth of YuNet's time.
 *
 * Tensors that cross from one step to another live in buffers owned here:
 * graph inputs and outputs each have their own, and the rest share one
 * arena, packed so that tensors whose lifetimes do not overlap reuse the
 * same memory. Everything is allocated when the runtime is created; a run
 * allocates nothing. One runtime per session: XNNPACK optimises a subgraph
 * in place while creating a runtime, so each session builds its own from
 * the shared, immutable graph and then drops the subgraphs. Static weights
 * are referenced, not copied, by XNNPACK until it packs them, so the graph
 * must outlive the runtime.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthreadpool.h>
#include <sodium.h>
#include <xnnpack.h>

#include "nn.h"
#include "util/util.h"

enum { STEP_XNN, STEP_OWN, STEP_ALIAS };

typedef struct step {
    int kind;
    int first, last; /* operators [first, last) */
    xnn_runtime_t rt;
    const float *in[LFR__MAX_OP_IN];
    float *out;
    char name[64];
} step;

struct lfr__xnn {
    const lfr__graph *g;
    int batch;
    int split;          /* one step per operator (profiling) */
    pthreadpool_t pool; /* the caller's; NULL runs on the calling thread */
    int n_steps;
    step *steps;
    float **buf; /* per tensor: where it lives between steps, else NULL */
    float *in[LFR__MAX_IO];
    float *out[LFR__MAX_IO];
    float *arena; /* shared by intermediate tensors */
    size_t arena_floats;
    float *io_block[2 * LFR__MAX_IO]; /* dedicated input and output buffers */
    size_t io_floats[2 * LFR__MAX_IO];
    int n_io;
    float *zeros; /* bias for layers that have none */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum xnn_status init_status;

static void do_init(void)
{
    init_status = xnn_initialize(NULL);
}

int lfr__xnn_init(void)
{
    pthread_once(&init_once, do_init);
    if (init_status != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "XNNPACK initialisation failed (status %d)",
                        (int)init_status);
    return LFR_OK;
}

static void act_range(int act, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == LFR__ACT_RELU) *lo = 0;
    if (act == LFR__ACT_RELU6) *lo = 0, *hi = 6;
    if (act == LFR__ACT_RELU_N1_TO_1) *lo = -1, *hi = 1;
}

/* Floats to allocate for n elements: whole cache lines plus one more, as
 * XNNPACK may read a little past the end of a tensor. */
static size_t padded(size_t n)
{
    return ((n + 15) & ~(size_t)15) + 16;
}

static float *alloc_f32(size_t n)
{
    size_t bytes = padded(n) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* ---- Which operators XNNPACK runs ------------------------------------------------------ */

static int is_static(const lfr__graph *g, int t)
{
    return t >= 0 && (g->tensors[t].data || g->tensors[t].idata);
}

static int xnn_supports(const lfr__graph *g, const lfr__op *op)
{
    const lfr__tensor *x = &g->tensors[op->in[0]];
    switch (op->type) {
    case LFR__OP_DWCONV2D:
        return !lfr__kern_large_dwconv(g, op);
    case LFR__OP_CONV2D:
    case LFR__OP_ADD:
    case LFR__OP_SUB:
    case LFR__OP_MUL:
    case LFR__OP_DIV:
    case LFR__OP_MAX:
    case LFR__OP_MIN:
    case LFR__OP_ABS:
    case LFR__OP_RELU:
    case LFR__OP_RELU6:
    case LFR__OP_CLAMP:
    case LFR__OP_SIGMOID:
    case LFR__OP_PAD:
    case LFR__OP_RESIZE_BILINEAR:
    case LFR__OP_RESHAPE:
    case LFR__OP_SOFTMAX:
    case LFR__OP_FULLY_CONNECTED:
        return 1;
    case LFR__OP_MAXPOOL2D:
        return op->filter_h * op->filter_w > 1;
    case LFR__OP_PRELU: {
        const lfr__tensor *s = &g->tensors[op->in[1]];
        return s->data && s->n_dims == 1 && x->n_dims >= 1 && s->dims[0] == x->dims[x->n_dims - 1];
    }
    case LFR__OP_REDUCE_MEAN:
        return x->n_dims == 4 && op->axes == 6;
    default:
        return 0;
    }
}

/* ---- Defining a run of operators as an XNNPACK subgraph ---------------------------------- */

typedef struct builder {
    lfr__xnn *x;
    xnn_subgraph_t sg;
    uint32_t *id;   /* tensor -> value id in this subgraph */
    uint32_t *ext;  /* tensor -> external id in this subgraph, or XNN_INVALID_VALUE_ID */
    char *produced; /* tensor produced inside this run */
} builder;

static int value(builder *B, int t, uint32_t *out)
{
    const lfr__graph *g = B->x->g;
    if (B->id[t] != XNN_INVALID_VALUE_ID) {
        *out = B->id[t];
        return LFR_OK;
    }
    int n;
    int d[LFR__MAX_DIMS];
    size_t dims[LFR__MAX_DIMS];
    lfr__graph_shape(g, t, B->x->batch, &n, d);
    for (int i = 0; i < n; i++)
        dims[i] = (size_t)d[i];
    const lfr__tensor *T = &g->tensors[t];
    uint32_t flags = 0;
    if (B->ext[t] != XNN_INVALID_VALUE_ID)
        flags = B->produced[t] ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
    enum xnn_status s = xnn_define_tensor_value(B->sg, xnn_datatype_fp32, (size_t)n, dims, T->data,
                                                B->ext[t], flags, &B->id[t]);
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK rejected tensor %d ('%s') (status %d)",
                        g->name, t, T->name, (int)s);
    *out = B->id[t];
    return LFR_OK;
}

static int static_value(builder *B, const float *data, size_t n_dims, const size_t *dims,
                        uint32_t *out)
{
    enum xnn_status s = xnn_define_tensor_value(B->sg, xnn_datatype_fp32, n_dims, dims, data,
                                                XNN_INVALID_VALUE_ID, 0, out);
    return s == xnn_status_success ? LFR_OK
                                   : lfr__err(LFR_ERR_BACKEND, "XNNPACK rejected a constant");
}

static int define_op(builder *B, const lfr__op *op)
{
    const lfr__graph *g = B->x->g;
    uint32_t in[LFR__MAX_OP_IN], out;
    int rc;
    for (int i = 0; i < op->n_in; i++) {
        in[i] = XNN_INVALID_VALUE_ID;
        if (op->in[i] < 0) continue;
        if (g->tensors[op->in[i]].idata) continue; /* shapes and paddings are read here */
        if ((rc = value(B, op->in[i], &in[i])) != LFR_OK) return rc;
    }
    if ((rc = value(B, op->out, &out)) != LFR_OK) return rc;
    float lo, hi;
    act_range(op->act, &lo, &hi);
    enum xnn_status s = xnn_status_invalid_parameter;
    uint32_t same = op->padding == LFR__PAD_SAME ? XNN_FLAG_TENSORFLOW_SAME_PADDING : 0;
    /* XNNPACK's order is top, right, bottom, left; ours top, left, bottom, right. */
    int ex = op->padding == LFR__PAD_EXPLICIT;
    uint32_t pt = ex ? (uint32_t)op->pad[0] : 0, pl = ex ? (uint32_t)op->pad[1] : 0,
             pb = ex ? (uint32_t)op->pad[2] : 0, pr = ex ? (uint32_t)op->pad[3] : 0;
    const lfr__tensor *x = &g->tensors[op->in[0]];
    switch (op->type) {
    case LFR__OP_CONV2D:
    case LFR__OP_DWCONV2D: {
        const lfr__tensor *w = &g->tensors[op->in[1]];
        int dw = op->type == LFR__OP_DWCONV2D;
        int cin = x->dims[3], cout = dw ? w->dims[3] : w->dims[0];
        uint32_t groups = !dw && op->groups > 1 ? (uint32_t)op->groups : 1;
        if (op->n_in < 3 || in[2] == XNN_INVALID_VALUE_ID) {
            size_t d1[1] = {(size_t)cout};
            if ((rc = static_value(B, B->x->zeros, 1, d1, &in[2])) != LFR_OK) return rc;
        }
        if (dw)
            s = xnn_define_depthwise_convolution_2d(
                B->sg, pt, pr, pb, pl, (uint32_t)w->dims[1], (uint32_t)w->dims[2],
                (uint32_t)op->stride_h, (uint32_t)op->stride_w, (uint32_t)op->dil_h,
                (uint32_t)op->dil_w, (uint32_t)(cout / cin), (size_t)cin, lo, hi, in[0], in[1],
                in[2], out, same);
        else
            s = xnn_define_convolution_2d(
                B->sg, pt, pr, pb, pl, (uint32_t)w->dims[1], (uint32_t)w->dims[2],
                (uint32_t)op->stride_h, (uint32_t)op->stride_w, (uint32_t)op->dil_h,
                (uint32_t)op->dil_w, groups, (size_t)cin / groups, (size_t)cout / groups, lo, hi,
                in[0], in[1], in[2], out, same);
        break;
    }
    case LFR__OP_MAXPOOL2D:
        s = xnn_define_max_pooling_2d(B->sg, pt, pr, pb, pl, (uint32_t)op->filter_h,
                                      (uint32_t)op->filter_w, (uint32_t)op->stride_h,
                                      (uint32_t)op->stride_w, (uint32_t)op->dil_h,
                                      (uint32_t)op->dil_w, lo, hi, in[0], out, same);
        break;
    case LFR__OP_ADD:
        s = xnn_define_add2(B->sg, lo, hi, in[0], in[1], out, 0);
        break;
    case LFR__OP_MUL:
        s = xnn_define_multiply2(B->sg, lo, hi, in[0], in[1], out, 0);
        break;
    case LFR__OP_SUB:
        s = xnn_define_subtract(B->sg, lo, hi, in[0], in[1], out, 0);
        break;
    case LFR__OP_DIV:
        s = xnn_define_divide(B->sg, lo, hi, in[0], in[1], out, 0);
        break;
    case LFR__OP_MAX:
        s = xnn_define_maximum2(B->sg, in[0], in[1], out, 0);
        break;
    case LFR__OP_MIN:
        s = xnn_define_minimum2(B->sg, in[0], in[1], out, 0);
        break;
    case LFR__OP_ABS:
        s = xnn_define_abs(B->sg, in[0], out, 0);
        break;
    case LFR__OP_RELU:
        s = xnn_define_clamp(B->sg, 0.0f, INFINITY, in[0], out, 0);
        break;
    case LFR__OP_RELU6:
        s = xnn_define_clamp(B->sg, 0.0f, 6.0f, in[0], out, 0);
        break;
    case LFR__OP_CLAMP:
        s = xnn_define_clamp(B->sg, op->lo, op->hi, in[0], out, 0);
        break;
    case LFR__OP_SIGMOID:
        s = xnn_define_sigmoid(B->sg, in[0], out, 0);
        break;
    case LFR__OP_SOFTMAX:
        s = xnn_define_softmax(B->sg, in[0], out, 0);
        break;
    case LFR__OP_PRELU:
        s = xnn_define_prelu(B->sg, in[0], in[1], out, 0);
        break;
    case LFR__OP_PAD: {
        const int32_t *p = g->tensors[op->in[1]].idata;
        size_t pre[LFR__MAX_DIMS], post[LFR__MAX_DIMS];
        for (int i = 0; i < x->n_dims; i++) {
            pre[i] = (size_t)p[2 * i];
            post[i] = (size_t)p[2 * i + 1];
        }
        s = xnn_define_static_constant_pad(B->sg, pre, post, 0.0f, in[0], out, 0);
        break;
    }
    case LFR__OP_RESIZE_BILINEAR: {
        const int32_t *sz = g->tensors[op->in[1]].idata;
        uint32_t flags = op->align_corners        ? XNN_FLAG_ALIGN_CORNERS
                         : op->half_pixel_centers ? 0
                                                  : XNN_FLAG_TENSORFLOW_LEGACY_MODE;
        s = xnn_define_static_resize_bilinear_2d(B->sg, (size_t)sz[0], (size_t)sz[1], in[0], out,
                                                 flags);
        break;
    }
    case LFR__OP_RESHAPE: {
        int n, d[LFR__MAX_DIMS];
        size_t dims[LFR__MAX_DIMS];
        lfr__graph_shape(g, op->out, B->x->batch, &n, d);
        for (int i = 0; i < n; i++)
            dims[i] = (size_t)d[i];
        s = xnn_define_static_reshape(B->sg, (size_t)n, dims, in[0], out, 0);
        break;
    }
    case LFR__OP_FULLY_CONNECTED: {
        const lfr__tensor *w = &g->tensors[op->in[1]];
        if (op->n_in < 3 || in[2] == XNN_INVALID_VALUE_ID) {
            size_t d1[1] = {(size_t)w->dims[0]};
            if ((rc = static_value(B, B->x->zeros, 1, d1, &in[2])) != LFR_OK) return rc;
        }
        s = xnn_define_fully_connected(B->sg, lo, hi, in[0], in[1], in[2], out, 0);
        break;
    }
    case LFR__OP_REDUCE_MEAN:
        s = xnn_define_global_average_pooling_2d(B->sg, -INFINITY, INFINITY, in[0], out, 0);
        break;
    default:
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: operator %d (%s) has no XNNPACK translation",
                        g->name, op->index, lfr__op_name(op->type));
    }
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: operator %d (%s): XNNPACK rejected it (status %d)",
                        g->name, op->index, lfr__op_name(op->type), (int)s);
    return LFR_OK;
}

/* Build the XNNPACK runtime of step st: its operators, with every tensor
 * that has a buffer as an external value. */
static int build_runtime(lfr__xnn *x, step *st, uint32_t *id, uint32_t *ext, char *produced)
{
    const lfr__graph *g = x->g;
    builder B = {.x = x, .id = id, .ext = ext, .produced = produced};
    struct xnn_external_value *ev = NULL;
    uint32_t n_ext = 0;
    int rc = LFR_OK;
    /* Tensors this run touches: assign external ids to those with buffers. */
    for (int k = st->first; k < st->last; k++) {
        const lfr__op *op = &g->ops[k];
        for (int i = -1; i < op->n_in; i++) {
            int t = i < 0 ? op->out : op->in[i];
            if (t < 0 || is_static(g, t)) continue;
            if (i < 0) produced[t] = 1;
            if (x->buf[t] && ext[t] == XNN_INVALID_VALUE_ID) ext[t] = n_ext++;
        }
    }
    ev = calloc(n_ext ? n_ext : 1, sizeof *ev);
    if (!ev) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto out;
    }
    enum xnn_status s = xnn_create_subgraph(n_ext, 0, &B.sg);
    if (s != xnn_status_success) {
        rc = lfr__err(LFR_ERR_BACKEND, "XNNPACK: cannot create a subgraph (status %d)", (int)s);
        goto out;
    }
    for (int k = st->first; k < st->last && rc == LFR_OK; k++)
        rc = define_op(&B, &g->ops[k]);
    if (rc != LFR_OK) goto out;
    s = xnn_create_runtime_v2(B.sg, x->pool, 0, &st->rt);
    if (s != xnn_status_success) {
        rc = lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK could not create a runtime (status %d)",
                      g->name, (int)s);
        goto out;
    }
    uint32_t k = 0;
    for (int t = 0; t < g->n_tensors; t++)
        if (ext[t] != XNN_INVALID_VALUE_ID) {
            ev[k].id = ext[t];
            ev[k++].data = x->buf[t];
        }
    s = xnn_setup_runtime(st->rt, n_ext, ev);
    if (s != xnn_status_success)
        rc = lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK runtime setup failed (status %d)", g->name,
                      (int)s);
out:
    if (B.sg) xnn_delete_subgraph(B.sg);
    /* Leave the per-tensor scratch clean for the next run of operators. */
    for (int k2 = st->first; k2 < st->last; k2++) {
        const lfr__op *op = &g->ops[k2];
        for (int i = -1; i < op->n_in; i++) {
            int t = i < 0 ? op->out : op->in[i];
            if (t < 0) continue;
            id[t] = ext[t] = XNN_INVALID_VALUE_ID;
            produced[t] = 0;
        }
    }
    free(ev);
    return rc;
}

/* ---- Planning: steps, lifetimes, buffers ---------------------------------------------------- */

typedef struct plan {
    int *step_of; /* op -> step */
    int *prod;    /* tensor -> producing step (-1: graph input or static) */
    int *last;    /* tensor -> last step reading it */
    int *outside; /* tensor crosses a step boundary or touches an own kernel */
    int *root;    /* tensor -> the tensor whose storage it shares */
    int *io;      /* tensor is a graph input (1) or output (2) */
} plan;

static int find_root(const plan *P, int t)
{
    while (P->root[t] != t)
        t = P->root[t];
    return t;
}

typedef struct slot {
    int root;
    int start, end;
    size_t floats, off;
} slot;

static int cmp_slot(const void *a, const void *b)
{
    const slot *p = a, *q = b;
    return (p->floats < q->floats) - (p->floats > q->floats);
}

/* Place each slot at the lowest offset not used by a slot live at the same
 * time (largest first). */
static size_t pack(slot *s, int n)
{
    qsort(s, (size_t)n, sizeof *s, cmp_slot);
    size_t top = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                if (s[j].end < s[i].start || s[i].end < s[j].start) continue;
                if (off < s[j].off + s[j].floats && s[j].off < off + s[i].floats) {
                    off = s[j].off + s[j].floats;
                    moved = 1;
                }
            }
        }
        s[i].off = off;
        if (off + s[i].floats > top) top = off + s[i].floats;
    }
    return top;
}

static int plan_steps(lfr__xnn *x, plan *P)
{
    const lfr__graph *g = x->g;
    x->steps = calloc((size_t)g->n_ops + 1, sizeof *x->steps);
    if (!x->steps) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->n_ops; k++) {
        const lfr__op *op = &g->ops[k];
        int xs = xnn_supports(g, op);
        step *prev = x->n_steps ? &x->steps[x->n_steps - 1] : NULL;
        if (xs && prev && prev->kind == STEP_XNN && prev->last == k && !x->split) {
            prev->last = k + 1;
        } else {
            step *st = &x->steps[x->n_steps++];
            st->kind = xs ? STEP_XNN : STEP_OWN;
            st->first = k;
            st->last = k + 1;
        }
        P->step_of[k] = x->n_steps - 1;
    }
    return LFR_OK;
}

static int plan_buffers(lfr__xnn *x, plan *P)
{
    const lfr__graph *g = x->g;
    int nt = g->n_tensors, end = x->n_steps;
    for (int t = 0; t < nt; t++) {
        P->prod[t] = -1;
        P->last[t] = -1;
        P->root[t] = t;
    }
    for (int i = 0; i < g->n_inputs; i++)
        P->io[g->inputs[i]] |= 1;
    for (int i = 0; i < g->n_outputs; i++)
        P->io[g->outputs[i]] |= 2;
    for (int k = 0; k < g->n_ops; k++) {
        const lfr__op *op = &g->ops[k];
        int s = P->step_of[k];
        P->prod[op->out] = s;
        if (x->steps[s].kind != STEP_XNN) P->outside[op->out] = 1;
        for (int i = 0; i < op->n_in; i++) {
            int t = op->in[i];
            if (t < 0 || is_static(g, t)) continue;
            if (s > P->last[t]) P->last[t] = s;
            if (x->steps[s].kind != STEP_XNN || P->prod[t] != s) P->outside[t] = 1;
        }
    }
    /* Graph ends, and outputs nobody reads (XNNPACK leaves those without
     * memory), live in our buffers. */
    for (int t = 0; t < nt; t++)
        if (P->io[t] || (P->prod[t] >= 0 && P->last[t] < 0)) P->outside[t] = 1;
    /* A reshape run by us between our own steps needs no copy: its output
     * shares its input's storage (both are written once). */
    for (int s = 0; s < x->n_steps; s++) {
        step *st = &x->steps[s];
        if (st->kind != STEP_OWN) continue;
        const lfr__op *op = &g->ops[st->first];
        if (op->type == LFR__OP_RESHAPE && !P->io[op->out]) {
            st->kind = STEP_ALIAS;
            P->root[op->out] = find_root(P, op->in[0]);
        }
    }
    /* Dedicated buffers for graph inputs and outputs. */
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        int t = i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs];
        if (x->buf[t]) continue; /* an input that is also an output */
        size_t n = lfr__graph_numel(g, t, x->batch);
        if (!(x->io_block[x->n_io] = alloc_f32(n))) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->io_floats[x->n_io] = padded(n);
        x->buf[t] = x->io_block[x->n_io++];
    }
    for (int i = 0; i < g->n_inputs; i++)
        x->in[i] = x->buf[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++)
        x->out[i] = x->buf[g->outputs[i]];
    /* Lifetimes of the shared storage of every other crossing tensor. */
    slot *sl = calloc((size_t)nt + 1, sizeof *sl);
    int *slot_of = malloc(((size_t)nt + 1) * sizeof *slot_of);
    if (!sl || !slot_of) {
        free(sl);
        free(slot_of);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    int n_slots = 0;
    for (int t = 0; t < nt; t++)
        slot_of[t] = -1;
    for (int t = 0; t < nt; t++) {
        if (!P->outside[t] || P->io[t] || is_static(g, t)) continue;
        int r = find_root(P, t);
        if (P->io[r]) continue; /* a view of an input */
        int start = P->prod[t] < 0 ? 0 : P->prod[t], stop = P->last[t] < 0 ? end : P->last[t];
        if (stop < start) stop = start;
        if (slot_of[r] < 0) {
            slot_of[r] = n_slots;
            sl[n_slots++] = (slot){r, start, stop, padded(lfr__graph_numel(g, r, x->batch)), 0};
        } else {
            slot *q = &sl[slot_of[r]];
            if (start < q->start) q->start = start;
            if (stop > q->end) q->end = stop;
        }
    }
    x->arena_floats = pack(sl, n_slots);
    int rc = LFR_OK;
    if (x->arena_floats) {
        x->arena = aligned_alloc(64, x->arena_floats * sizeof(float));
        if (!x->arena)
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        else
            memset(x->arena, 0, x->arena_floats * sizeof(float));
    }
    for (int i = 0; rc == LFR_OK && i < n_slots; i++)
        x->buf[sl[i].root] = x->arena + sl[i].off;
    for (int t = 0; rc == LFR_OK && t < nt; t++)
        if (P->outside[t] && !x->buf[t] && !is_static(g, t)) x->buf[t] = x->buf[find_root(P, t)];
    free(sl);
    free(slot_of);
    return rc;
}

static int build(lfr__xnn *x)
{
    const lfr__graph *g = x->g;
    int nt = g->n_tensors, rc;
    plan P = {0};
    uint32_t *id = NULL, *ext = NULL;
    char *produced = NULL;
    P.step_of = calloc((size_t)g->n_ops + 1, sizeof(int));
    P.prod = calloc((size_t)nt, sizeof(int));
    P.last = calloc((size_t)nt, sizeof(int));
    P.outside = calloc((size_t)nt, sizeof(int));
    P.root = calloc((size_t)nt, sizeof(int));
    P.io = calloc((size_t)nt, sizeof(int));
    x->buf = calloc((size_t)nt, sizeof *x->buf);
    id = malloc((size_t)nt * sizeof *id);
    ext = malloc((size_t)nt * sizeof *ext);
    produced = calloc((size_t)nt, 1);
    if (!P.step_of || !P.prod || !P.last || !P.outside || !P.root || !P.io || !x->buf || !id ||
        !ext || !produced) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int t = 0; t < nt; t++)
        id[t] = ext[t] = XNN_INVALID_VALUE_ID;
    if ((rc = plan_steps(x, &P)) != LFR_OK || (rc = plan_buffers(x, &P)) != LFR_OK) goto out;

    /* Zero biases for layers that have none, sized for the widest. */
    size_t zeros = 1;
    for (int k = 0; k < g->n_ops; k++) {
        const lfr__op *op = &g->ops[k];
        if (x->steps[P.step_of[k]].kind != STEP_XNN) continue;
        const lfr__tensor *w = op->n_in > 1 && op->in[1] >= 0 ? &g->tensors[op->in[1]] : NULL;
        size_t c = 0;
        if (op->type == LFR__OP_CONV2D) c = (size_t)w->dims[0];
        if (op->type == LFR__OP_DWCONV2D) c = (size_t)w->dims[3];
        if (op->type == LFR__OP_FULLY_CONNECTED) c = (size_t)w->dims[0];
        if (c > zeros) zeros = c;
    }
    if (!(x->zeros = alloc_f32(zeros))) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto out;
    }

    for (int s = 0; s < x->n_steps && rc == LFR_OK; s++) {
        step *st = &x->steps[s];
        const lfr__op *op = &g->ops[st->first];
        if (st->kind == STEP_XNN) {
            if (x->split)
                snprintf(st->name, sizeof st->name, "%s (XNNPACK)", lfr__op_name(op->type));
            else
                snprintf(st->name, sizeof st->name, "XNNPACK, %d operator%s from %s",
                         st->last - st->first, st->last - st->first > 1 ? "s" : "",
                         lfr__op_name(op->type));
            rc = build_runtime(x, st, id, ext, produced);
            continue;
        }
        snprintf(st->name, sizeof st->name, "%s%s", lfr__op_name(op->type),
                 st->kind == STEP_ALIAS ? " (shared storage)" : "");
        for (int i = 0; i < op->n_in; i++) {
            int t = op->in[i];
            st->in[i] = t < 0 ? NULL : g->tensors[t].data ? g->tensors[t].data : x->buf[t];
        }
        st->out = x->buf[op->out];
    }
out:
    free(P.step_of);
    free(P.prod);
    free(P.last);
    free(P.outside);
    free(P.root);
    free(P.io);
    free(id);
    free(ext);
    free(produced);
    return rc;
}

/* ---- Entry points -------------------------------------------------------------------------------
 */

int lfr__xnn_pool_create(int n_threads, void **pool_out)
{
    *pool_out = NULL;
    if (n_threads < 1 || n_threads > 256)
        return lfr__err(LFR_ERR_INVALID, "thread count %d out of range 1..256", n_threads);
    if (n_threads == 1) return LFR_OK;
    *pool_out = pthreadpool_create((size_t)n_threads);
    if (!*pool_out)
        return lfr__err(LFR_ERR_BACKEND, "cannot create a pool of %d threads", n_threads);
    return LFR_OK;
}

void lfr__xnn_pool_free(void *pool)
{
    if (pool) pthreadpool_destroy(pool);
}

static int create(const lfr__graph *g, int batch, void *pool, int split, lfr__xnn **out);

int lfr__xnn_create(const lfr__graph *g, int batch, void *pool, lfr__xnn **out)
{
    return create(g, batch, pool, 0, out);
}

int lfr__xnn_create_split(const lfr__graph *g, int batch, void *pool, lfr__xnn **out)
{
    return create(g, batch, pool, 1, out);
}

static int create(const lfr__graph *g, int batch, void *pool, int split, lfr__xnn **out)
{
    *out = NULL;
    int rc = lfr__xnn_init();
    if (rc != LFR_OK) return rc;
    if (batch < 1 || batch > 1024)
        return lfr__err(LFR_ERR_INVALID, "batch %d out of range 1..1024", batch);
    if (g->fixed && batch != g->file_batch)
        return lfr__err(LFR_ERR_INVALID, "%s: loaded for batch %d, asked for %d", g->name,
                        g->file_batch, batch);
    lfr__xnn *x = calloc(1, sizeof *x);
    if (!x) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    x->g = g;
    x->batch = batch;
    x->pool = pool;
    x->split = split;
    rc = build(x);
    if (rc != LFR_OK) {
        lfr__xnn_free(x);
        return rc;
    }
    *out = x;
    return LFR_OK;
}

float *lfr__xnn_input(lfr__xnn *x, int i)
{
    return i >= 0 && i < x->g->n_inputs ? x->in[i] : NULL;
}

const float *lfr__xnn_output(lfr__xnn *x, int i)
{
    return i >= 0 && i < x->g->n_outputs ? x->out[i] : NULL;
}

static int run_step(lfr__xnn *x, step *st)
{
    if (st->kind == STEP_ALIAS) return LFR_OK;
    if (st->kind == STEP_OWN)
        return lfr__kern_op(x->g, &x->g->ops[st->first], x->batch, st->in, st->out, x->pool);
    enum xnn_status s = xnn_invoke_runtime(st->rt);
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK invocation failed (status %d)", x->g->name,
                        (int)s);
    return LFR_OK;
}

int lfr__xnn_run(lfr__xnn *x)
{
    for (int s = 0; s < x->n_steps; s++) {
        int rc = run_step(x, &x->steps[s]);
        if (rc != LFR_OK) return rc;
    }
    return LFR_OK;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int lfr__xnn_profile(lfr__xnn *x, double *ms_out, const char **names_out, int cap)
{
    for (int s = 0; s < x->n_steps; s++) {
        double t0 = now_ms();
        int rc = run_step(x, &x->steps[s]);
        if (rc != LFR_OK) return -1;
        if (s < cap) {
            ms_out[s] = now_ms() - t0;
            names_out[s] = x->steps[s].name;
        }
    }
    return x->n_steps < cap ? x->n_steps : cap;
}

void lfr__xnn_stats(const lfr__xnn *x, int *n_xnn_out, int *n_own_out)
{
    *n_xnn_out = *n_own_out = 0;
    for (int s = 0; s < x->n_steps; s++) {
        if (x->steps[s].kind == STEP_XNN) ++*n_xnn_out;
        if (x->steps[s].kind == STEP_OWN) ++*n_own_out;
    }
}

void lfr__xnn_wipe(lfr__xnn *x)
{
    if (!x) return;
    for (int i = 0; i < x->n_io; i++)
        sodium_memzero(x->io_block[i], x->io_floats[i] * sizeof(float));
    if (x->arena) sodium_memzero(x->arena, x->arena_floats * sizeof(float));
}

void lfr__xnn_free(lfr__xnn *x)
{
    if (!x) return;
    for (int s = 0; s < x->n_steps; s++)
        if (x->steps[s].rt) xnn_delete_runtime(x->steps[s].rt);
    free(x->steps);
    for (int i = 0; i < x->n_io; i++)
        free(x->io_block[i]);
    free(x->arena);
    free(x->buf);
    free(x->zeros);
    free(x);
}
