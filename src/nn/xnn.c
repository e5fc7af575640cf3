/*
 * The XNNPACK executor: translates a checked graph (nn.h) into an XNNPACK
 * subgraph at a chosen batch size and owns the resulting runtime, its thread
 * pool and its input/output buffers. One runtime per session: XNNPACK
 * optimises a subgraph in place while creating a runtime, so each session
 * builds its own from the shared, immutable graph and then drops the
 * subgraph. Static weights are referenced, not copied, by XNNPACK until it
 * packs them, so the graph must outlive the runtime.
 *
 * CONCATENATION has no subgraph node in the XNNPACK version Debian ships;
 * where it produces a graph output (BlazeFace short range) its inputs become
 * runtime outputs and the concatenation runs here after each invocation.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>
#include <sodium.h>
#include <xnnpack.h>

#include "nn.h"
#include "util/util.h"

struct lfr__xnn {
    const lfr__graph *g;
    int batch;
    xnn_runtime_t rt;
    pthreadpool_t pool; /* the caller's; NULL runs on the calling thread */
    float *in[LFR__MAX_IO];
    float *out[LFR__MAX_IO];
    int n_tail;                       /* concatenations run after the runtime */
    const lfr__op *tail[LFR__MAX_IO]; /* ... and the output index each fills */
    int tail_out[LFR__MAX_IO];
    float *tail_in[LFR__MAX_IO][3];
    int n_ext;
    struct xnn_external_value ext[4 * LFR__MAX_IO];
    int ext_tensor[4 * LFR__MAX_IO]; /* the graph tensor behind each ext[] */
    float *zeros;                    /* bias for convolutions that have none */
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

static float *alloc_f32(size_t n)
{
    size_t bytes = ((n * sizeof(float)) + 63 + 64) & ~(size_t)63; /* XNNPACK may over-read */
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

typedef struct builder {
    const lfr__graph *g;
    lfr__xnn *x;
    xnn_subgraph_t sg;
    uint32_t *id;  /* tensor index -> value id */
    uint32_t *ext; /* external id assigned to a tensor, or XNN_INVALID_VALUE_ID */
    uint32_t next_ext;
} builder;

static int value(builder *B, int t, uint32_t *out)
{
    if (B->id[t] != XNN_INVALID_VALUE_ID) {
        *out = B->id[t];
        return LFR_OK;
    }
    int n;
    int d[LFR__MAX_DIMS];
    size_t dims[LFR__MAX_DIMS];
    lfr__graph_shape(B->g, t, B->x->batch, &n, d);
    for (int i = 0; i < n; i++)
        dims[i] = (size_t)d[i];
    const lfr__tensor *T = &B->g->tensors[t];
    uint32_t flags = 0, ext = XNN_INVALID_VALUE_ID;
    if (B->ext[t] != XNN_INVALID_VALUE_ID) {
        ext = B->ext[t];
        for (int i = 0; i < B->g->n_inputs; i++)
            if (B->g->inputs[i] == t) flags |= XNN_VALUE_FLAG_EXTERNAL_INPUT;
        if (!(flags & XNN_VALUE_FLAG_EXTERNAL_INPUT)) flags |= XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
    }
    enum xnn_status s = xnn_define_tensor_value(B->sg, xnn_datatype_fp32, (size_t)n, dims, T->data,
                                                ext, flags, &B->id[t]);
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK rejected tensor %d ('%s') (status %d)",
                        B->g->name, t, T->name, (int)s);
    *out = B->id[t];
    return LFR_OK;
}

static int define_op(builder *B, const lfr__op *op)
{
    const lfr__graph *g = B->g;
    uint32_t in[3] = {XNN_INVALID_VALUE_ID, XNN_INVALID_VALUE_ID, XNN_INVALID_VALUE_ID}, out;
    int rc;
    for (int i = 0; i < op->n_in; i++) {
        if (op->in[i] < 0) continue;
        const lfr__tensor *T = &g->tensors[op->in[i]];
        if (T->idata) continue; /* shapes and paddings are read at definition */
        if ((rc = value(B, op->in[i], &in[i])) != LFR_OK) return rc;
    }
    if ((rc = value(B, op->out, &out)) != LFR_OK) return rc;
    float lo, hi;
    act_range(op->act, &lo, &hi);
    enum xnn_status s = xnn_status_invalid_parameter;
    uint32_t same = op->padding == LFR__PAD_SAME ? XNN_FLAG_TENSORFLOW_SAME_PADDING : 0;
    switch (op->type) {
    case LFR__OP_CONV2D:
    case LFR__OP_DWCONV2D: {
        const lfr__tensor *w = &g->tensors[op->in[1]];
        int dw = op->type == LFR__OP_DWCONV2D;
        int cin = g->tensors[op->in[0]].dims[3], cout = dw ? w->dims[3] : w->dims[0];
        if (in[2] == XNN_INVALID_VALUE_ID) {
            /* A zero bias: its own static tensor, sized for the widest layer. */
            size_t dims1[1] = {(size_t)cout};
            if (cout > 65536) return lfr__err(LFR_ERR_UNSUPPORTED, "layer too wide");
            s = xnn_define_tensor_value(B->sg, xnn_datatype_fp32, 1, dims1, B->x->zeros,
                                        XNN_INVALID_VALUE_ID, 0, &in[2]);
            if (s != xnn_status_success) break;
        }
        if (dw)
            s = xnn_define_depthwise_convolution_2d(
                B->sg, 0, 0, 0, 0, (uint32_t)w->dims[1], (uint32_t)w->dims[2],
                (uint32_t)op->stride_h, (uint32_t)op->stride_w, (uint32_t)op->dil_h,
                (uint32_t)op->dil_w, (uint32_t)(cout / cin), (size_t)cin, lo, hi, in[0], in[1],
                in[2], out, same);
        else
            s = xnn_define_convolution_2d(B->sg, 0, 0, 0, 0, (uint32_t)w->dims[1],
                                          (uint32_t)w->dims[2], (uint32_t)op->stride_h,
                                          (uint32_t)op->stride_w, (uint32_t)op->dil_h,
                                          (uint32_t)op->dil_w, 1, (size_t)cin, (size_t)cout, lo, hi,
                                          in[0], in[1], in[2], out, same);
        break;
    }
    case LFR__OP_MAXPOOL2D:
        s = xnn_define_max_pooling_2d(B->sg, 0, 0, 0, 0, (uint32_t)op->filter_h,
                                      (uint32_t)op->filter_w, (uint32_t)op->stride_h,
                                      (uint32_t)op->stride_w, 1, 1, lo, hi, in[0], out, same);
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
    case LFR__OP_ABS:
        s = xnn_define_abs(B->sg, in[0], out, 0);
        break;
    case LFR__OP_RELU:
        s = xnn_define_clamp(B->sg, 0.0f, INFINITY, in[0], out, 0);
        break;
    case LFR__OP_RELU6:
        s = xnn_define_clamp(B->sg, 0.0f, 6.0f, in[0], out, 0);
        break;
    case LFR__OP_PRELU:
        s = xnn_define_prelu(B->sg, in[0], in[1], out, 0);
        break;
    case LFR__OP_PAD: {
        const lfr__tensor *x = &g->tensors[op->in[0]];
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
    default:
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: operator %d (%s) has no XNNPACK translation",
                        g->name, op->index, lfr__op_name(op->type));
    }
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: operator %d (%s): XNNPACK rejected it (status %d)",
                        g->name, op->index, lfr__op_name(op->type), (int)s);
    return LFR_OK;
}

static int graph_output_index(const lfr__graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t) return i;
    return -1;
}

static int build(lfr__xnn *x)
{
    const lfr__graph *g = x->g;
    builder B = {.g = g, .x = x};
    int rc = LFR_OK;
    B.id = malloc((size_t)g->n_tensors * sizeof *B.id);
    B.ext = malloc((size_t)g->n_tensors * sizeof *B.ext);
    if (!B.id || !B.ext) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int t = 0; t < g->n_tensors; t++)
        B.id[t] = B.ext[t] = XNN_INVALID_VALUE_ID;

    /* Which operators run after the runtime: concatenations producing outputs. */
    int n_sub = g->n_ops;
    for (int k = 0; k < g->n_ops; k++) {
        const lfr__op *op = &g->ops[k];
        if (op->type != LFR__OP_CONCAT) continue;
        int oi = graph_output_index(g, op->out);
        if (oi < 0 || x->n_tail == LFR__MAX_IO) {
            rc = lfr__err(LFR_ERR_UNSUPPORTED,
                          "%s: operator %d (CONCATENATION) is only supported where it produces "
                          "a model output",
                          g->name, op->index);
            goto out;
        }
        x->tail[x->n_tail] = op;
        x->tail_out[x->n_tail++] = oi;
    }
    /* External ids: inputs, then outputs computed by XNNPACK, then tail inputs. */
    for (int i = 0; i < g->n_inputs; i++)
        B.ext[g->inputs[i]] = B.next_ext++;
    for (int i = 0; i < g->n_outputs; i++) {
        int is_tail = 0;
        for (int k = 0; k < x->n_tail; k++)
            is_tail |= x->tail_out[k] == i;
        if (!is_tail && B.ext[g->outputs[i]] == XNN_INVALID_VALUE_ID)
            B.ext[g->outputs[i]] = B.next_ext++;
    }
    for (int k = 0; k < x->n_tail; k++)
        for (int i = 0; i < x->tail[k]->n_in; i++)
            if (B.ext[x->tail[k]->in[i]] == XNN_INVALID_VALUE_ID)
                B.ext[x->tail[k]->in[i]] = B.next_ext++;
    if (B.next_ext > 4 * LFR__MAX_IO) {
        rc = lfr__err(LFR_ERR_UNSUPPORTED, "%s: too many inputs and outputs", g->name);
        goto out;
    }

    x->zeros = alloc_f32(65536);
    if (!x->zeros) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto out;
    }
    enum xnn_status s = xnn_create_subgraph(B.next_ext, 0, &B.sg);
    if (s != xnn_status_success) {
        rc = lfr__err(LFR_ERR_BACKEND, "XNNPACK: cannot create a subgraph (status %d)", (int)s);
        goto out;
    }
    for (int k = 0; k < n_sub && rc == LFR_OK; k++)
        if (g->ops[k].type != LFR__OP_CONCAT) rc = define_op(&B, &g->ops[k]);
    if (rc != LFR_OK) goto out;

    /* Buffers for every external value. */
    for (int t = 0; t < g->n_tensors; t++) {
        if (B.ext[t] == XNN_INVALID_VALUE_ID) continue;
        float *buf = alloc_f32(lfr__graph_numel(g, t, x->batch));
        if (!buf) {
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
            goto out;
        }
        x->ext[x->n_ext].id = B.ext[t];
        x->ext_tensor[x->n_ext] = t;
        x->ext[x->n_ext++].data = buf;
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == t) x->in[i] = buf;
        int oi = graph_output_index(g, t);
        if (oi >= 0) x->out[oi] = buf;
        for (int k = 0; k < x->n_tail; k++)
            for (int i = 0; i < x->tail[k]->n_in; i++)
                if (x->tail[k]->in[i] == t) x->tail_in[k][i] = buf;
    }
    for (int k = 0; k < x->n_tail; k++) {
        x->out[x->tail_out[k]] = alloc_f32(lfr__graph_numel(g, x->tail[k]->out, x->batch));
        if (!x->out[x->tail_out[k]]) {
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    s = xnn_create_runtime_v2(B.sg, x->pool, 0, &x->rt);
    if (s != xnn_status_success) {
        rc = lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK could not create a runtime (status %d)",
                      g->name, (int)s);
        goto out;
    }
    s = xnn_setup_runtime(x->rt, (size_t)x->n_ext, x->ext);
    if (s != xnn_status_success)
        rc = lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK runtime setup failed (status %d)", g->name,
                      (int)s);
out:
    if (B.sg) xnn_delete_subgraph(B.sg);
    free(B.id);
    free(B.ext);
    return rc;
}

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

int lfr__xnn_create(const lfr__graph *g, int batch, void *pool, lfr__xnn **out)
{
    *out = NULL;
    int rc = lfr__xnn_init();
    if (rc != LFR_OK) return rc;
    if (batch < 1 || batch > 1024)
        return lfr__err(LFR_ERR_INVALID, "batch %d out of range 1..1024", batch);
    lfr__xnn *x = calloc(1, sizeof *x);
    if (!x) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    x->g = g;
    x->batch = batch;
    x->pool = pool;
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

int lfr__xnn_run(lfr__xnn *x)
{
    enum xnn_status s = xnn_invoke_runtime(x->rt);
    if (s != xnn_status_success)
        return lfr__err(LFR_ERR_BACKEND, "%s: XNNPACK invocation failed (status %d)", x->g->name,
                        (int)s);
    for (int k = 0; k < x->n_tail; k++) {
        const float *in[3] = {x->tail_in[k][0], x->tail_in[k][1], x->tail_in[k][2]};
        int rc = lfr__ref_op(x->g, x->tail[k], x->batch, in, x->out[x->tail_out[k]]);
        if (rc != LFR_OK) return rc;
    }
    return LFR_OK;
}

void lfr__xnn_wipe(lfr__xnn *x)
{
    if (!x) return;
    for (int i = 0; i < x->n_ext; i++)
        sodium_memzero(x->ext[i].data,
                       lfr__graph_numel(x->g, (int)x->ext_tensor[i], x->batch) * sizeof(float));
    for (int k = 0; k < x->n_tail; k++)
        sodium_memzero(x->out[x->tail_out[k]],
                       lfr__graph_numel(x->g, x->tail[k]->out, x->batch) * sizeof(float));
}

void lfr__xnn_free(lfr__xnn *x)
{
    if (!x) return;
    if (x->rt) xnn_delete_runtime(x->rt);
    for (int i = 0; i < x->n_ext; i++)
        free(x->ext[i].data);
    for (int k = 0; k < x->n_tail; k++)
        free(x->out[x->tail_out[k]]);
    free(x->zeros);
    free(x);
}
