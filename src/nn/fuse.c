/*
 * Graph rewrites applied once at load, before the graph is shared.
 *
 * MobileFaceNet spells PReLU out as relu(x) + m * (x - |x|), five TFLite
 * operators and four full-size intermediate tensors per activation. For
 * x >= 0 that is x; for x < 0 it is m * 2x: a PReLU with slope 2m. Both
 * forms give bit-identical results (multiplying by 2 is exact), and the
 * fused one is a single XNNPACK node.
 *
 * ONNX exports spell out more: BatchNormalization (as a per-channel
 * multiply and add after the convolution), bias additions after MatMul,
 * activations as separate nodes, GELU as five nodes around erf and L2
 * normalisation as ReduceL2, Max and Div. lfr__graph_fuse_onnx folds them
 * into weights, activation fields and single operators, so that fewer
 * steps run and more of them inside XNNPACK.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util/util.h"

static int consumers(const lfr__graph *g, int t)
{
    int n = 0;
    for (int k = 0; k < g->n_ops; k++)
        for (int i = 0; i < g->ops[k].n_in; i++)
            n += g->ops[k].in[i] == t;
    for (int i = 0; i < g->n_outputs; i++)
        n += g->outputs[i] == t;
    return n;
}

static int producer(const lfr__graph *g, int t)
{
    for (int k = 0; k < g->n_ops; k++)
        if (g->ops[k].out == t) return k;
    return -1;
}

typedef struct chain {
    int add, relu, abs, sub, mul;
    int x, m; /* input activation, static multiplier [C] */
} chain;

static int match(const lfr__graph *g, int add, chain *c)
{
    const lfr__op *a = &g->ops[add];
    if (a->type != LFR__OP_ADD || a->act != LFR__ACT_NONE || a->n_in != 2) return 0;
    for (int side = 0; side < 2; side++) {
        int r = producer(g, a->in[side]), m = producer(g, a->in[1 - side]);
        if (r < 0 || m < 0 || g->ops[r].type != LFR__OP_RELU || g->ops[m].type != LFR__OP_MUL ||
            g->ops[m].act != LFR__ACT_NONE)
            continue;
        int x = g->ops[r].in[0];
        const lfr__op *mul = &g->ops[m];
        int st = g->tensors[mul->in[0]].data ? 0 : g->tensors[mul->in[1]].data ? 1 : -1;
        if (st < 0) continue;
        int s = producer(g, mul->in[1 - st]);
        if (s < 0 || g->ops[s].type != LFR__OP_SUB || g->ops[s].act != LFR__ACT_NONE ||
            g->ops[s].in[0] != x)
            continue;
        int ab = producer(g, g->ops[s].in[1]);
        if (ab < 0 || g->ops[ab].type != LFR__OP_ABS || g->ops[ab].in[0] != x) continue;
        const lfr__tensor *mt = &g->tensors[mul->in[st]], *xt = &g->tensors[x];
        if (xt->n_dims != 4 || mt->n_dims != 1 || mt->dims[0] != xt->dims[3]) continue;
        if (consumers(g, g->ops[r].out) != 1 || consumers(g, mul->out) != 1 ||
            consumers(g, g->ops[s].out) != 1 || consumers(g, g->ops[ab].out) != 1)
            continue;
        *c = (chain){add, r, ab, s, m, x, mul->in[st]};
        return 1;
    }
    return 0;
}

int lfr__graph_fuse_prelu(lfr__graph *g)
{
    /* First pass: count matches and the slope storage they need. */
    int n = 0;
    size_t floats = 0;
    chain c;
    for (int k = 0; k < g->n_ops; k++)
        if (match(g, k, &c)) {
            n++;
            floats += (size_t)g->tensors[c.m].dims[0];
        }
    if (n == 0) return 0;
    lfr__tensor *nt = realloc(g->tensors, (size_t)(g->n_tensors + n) * sizeof *nt);
    if (!nt) return -1;
    g->tensors = nt;
    float *slopes = malloc(floats * sizeof(float));
    if (!slopes) return -1;
    char *drop = calloc((size_t)g->n_ops, 1);
    if (!drop) {
        free(slopes);
        return -1;
    }
    size_t used = 0;
    int fused = 0;
    for (int k = 0; k < g->n_ops; k++) {
        if (drop[k] || !match(g, k, &c)) continue;
        int C = g->tensors[c.m].dims[0];
        float *s = slopes + used;
        for (int i = 0; i < C; i++)
            s[i] = 2.0f * g->tensors[c.m].data[i];
        used += (size_t)C;
        int t = g->n_tensors++;
        memset(&g->tensors[t], 0, sizeof g->tensors[t]);
        g->tensors[t].n_dims = 1;
        g->tensors[t].dims[0] = C;
        g->tensors[t].data = s;
        memcpy(g->tensors[t].name, "prelu_slope", 12);
        lfr__op *a = &g->ops[k];
        a->type = LFR__OP_PRELU;
        a->in[0] = c.x;
        a->in[1] = t;
        drop[c.relu] = drop[c.abs] = drop[c.sub] = drop[c.mul] = 1;
        fused++;
    }
    int w = 0;
    for (int k = 0; k < g->n_ops; k++)
        if (!drop[k]) g->ops[w++] = g->ops[k];
    g->n_ops = w;
    free(drop);
    g->extra = slopes;
    return fused;
}

/* ---- ONNX rewrites ---------------------------------------------------------------- */

static int is_output(const lfr__graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t) return 1;
    return 0;
}

/* The single operator reading t (t not a graph output), or -1. */
static int only_consumer(const lfr__graph *g, int t)
{
    if (is_output(g, t)) return -1;
    int who = -1;
    for (int k = 0; k < g->n_ops; k++)
        for (int i = 0; i < g->ops[k].n_in; i++)
            if (g->ops[k].in[i] == t) {
                if (who >= 0 && who != k) return -1;
                who = k;
            }
    return who;
}

static int uses_of(const lfr__graph *g, int t)
{
    int n = 0;
    for (int k = 0; k < g->n_ops; k++)
        for (int i = 0; i < g->ops[k].n_in; i++)
            n += g->ops[k].in[i] == t;
    return n;
}

static size_t numel_t(const lfr__tensor *t)
{
    size_t e;
    return lfr__numel_ok(t->n_dims, t->dims, &e) ? e : 0;
}

/* A static scalar (every element equal) near v. */
static int static_near(const lfr__graph *g, int t, double v)
{
    if (t < 0 || !g->tensors[t].data) return 0;
    size_t n = numel_t(&g->tensors[t]);
    for (size_t i = 0; i < n; i++)
        if (fabs(g->tensors[t].data[i] - v) > 1e-6 * fmax(1.0, fabs(v))) return 0;
    return n > 0;
}

/* Values per output channel c (of C) of a static operand broadcast along
 * the last axis only: its elements, or one repeated; NULL otherwise. */
static const float *per_channel(const lfr__graph *g, int t, int C, int *scalar)
{
    const lfr__tensor *s = &g->tensors[t];
    if (!s->data) return NULL;
    size_t n = numel_t(s);
    for (int i = 0; i + 1 < s->n_dims; i++)
        if (s->dims[i] != 1) return NULL;
    if (n == 1) {
        *scalar = 1;
        return s->data;
    }
    *scalar = 0;
    return n == (size_t)C && s->n_dims >= 1 && s->dims[s->n_dims - 1] == C ? s->data : NULL;
}

/* Writable copy of static tensor t for op k's use: t itself when only op k
 * reads it and its data is ours, else a new tensor. -1 when out of memory. */
static int private_static(lfr__graph *g, int k, int slot)
{
    int t = g->ops[k].in[slot];
    if (uses_of(g, t) == 1) return t;
    size_t n = numel_t(&g->tensors[t]);
    float *d = lfr__graph_alloc(g, n * sizeof(float));
    if (!d) return -1;
    memcpy(d, g->tensors[t].data, n * sizeof(float));
    int nt = lfr__graph_add_tensor(g, g->tensors[t].name);
    if (nt < 0) return -1;
    g->tensors[nt].n_dims = g->tensors[t].n_dims;
    memcpy(g->tensors[nt].dims, g->tensors[t].dims, sizeof g->tensors[nt].dims);
    g->tensors[nt].data = d;
    g->ops[k].in[slot] = nt;
    return nt;
}

static int new_static(lfr__graph *g, const char *name, int C, float fill, float **data_out)
{
    float *d = lfr__graph_alloc(g, (size_t)C * sizeof(float));
    int t = d ? lfr__graph_add_tensor(g, name) : -1;
    if (t < 0) return -1;
    for (int i = 0; i < C; i++)
        d[i] = fill;
    g->tensors[t].n_dims = 1;
    g->tensors[t].dims[0] = C;
    g->tensors[t].data = d;
    *data_out = d;
    return t;
}

/* Fold op c (MUL or ADD by per-channel statics) into the layer k before it. */
static int fold_affine(lfr__graph *g, int k, int c, char *drop)
{
    lfr__op *op = &g->ops[k], *m = &g->ops[c];
    int x = m->in[0] == op->out ? 0 : 1, st = 1 - x;
    const lfr__tensor *w = &g->tensors[op->in[1]];
    int C = op->type == LFR__OP_DWCONV2D ? w->dims[3] : w->dims[0];
    int scalar;
    const float *v = per_channel(g, m->in[st], C, &scalar);
    if (!v) return 0;
    /* The product must keep the layer's output shape. */
    const lfr__tensor *o = &g->tensors[op->out], *mo = &g->tensors[m->out];
    if (o->n_dims != mo->n_dims || memcmp(o->dims, mo->dims, sizeof o->dims) != 0) return 0;
    float *bias;
    int bt;
    if (op->n_in > 2 && op->in[2] >= 0) {
        if ((bt = private_static(g, k, 2)) < 0) return -1;
        bias = (float *)g->tensors[bt].data;
    } else {
        if ((bt = new_static(g, "bias", C, 0.0f, &bias)) < 0) return -1;
        op = &g->ops[k];
        op->in[2] = bt;
        op->n_in = 3;
    }
    op = &g->ops[k];
    m = &g->ops[c];
    if (m->type == LFR__OP_ADD) {
        for (int i = 0; i < C; i++)
            bias[i] += v[scalar ? 0 : i];
    } else {
        int wt = private_static(g, k, 1);
        if (wt < 0) return -1;
        op = &g->ops[k];
        m = &g->ops[c];
        float *wd = (float *)g->tensors[wt].data;
        const lfr__tensor *W = &g->tensors[wt];
        size_t per = numel_t(W) / (size_t)C;
        for (int i = 0; i < C; i++) {
            float f = v[scalar ? 0 : i];
            bias[i] *= f;
            if (op->type == LFR__OP_DWCONV2D)
                for (size_t j = 0; j < per; j++)
                    wd[j * (size_t)C + (size_t)i] *= f; /* [1, KH, KW, C] */
            else
                for (size_t j = 0; j < per; j++)
                    wd[(size_t)i * per + j] *= f; /* [C, ...] */
        }
    }
    op->out = m->out;
    drop[c] = 1;
    return 1;
}

static int act_of_clamp(const lfr__op *c)
{
    if (c->type == LFR__OP_RELU) return LFR__ACT_RELU;
    if (c->type == LFR__OP_RELU6) return LFR__ACT_RELU6;
    if (c->type == LFR__OP_CLAMP) {
        if (c->lo == 0 && isinf(c->hi) && c->hi > 0) return LFR__ACT_RELU;
        if (c->lo == 0 && c->hi == 6) return LFR__ACT_RELU6;
        if (c->lo == -1 && c->hi == 1) return LFR__ACT_RELU_N1_TO_1;
    }
    return -1;
}

/* GELU written out: x / sqrt2 (or x * (1/sqrt2)) -> erf -> + 1 -> times x
 * -> times 0.5 (or x * 0.5 first). Returns the last op of the chain and the
 * ops to drop, or -1. */
static int match_gelu(const lfr__graph *g, int e, int *x_out, int ch[5])
{
    const lfr__op *E = &g->ops[e];
    if (E->type != LFR__OP_ERF) return -1;
    int dv = -1;
    for (int k = 0; k < g->n_ops; k++)
        if (g->ops[k].out == E->in[0]) dv = k;
    if (dv < 0 || only_consumer(g, E->in[0]) != e) return -1;
    const lfr__op *D = &g->ops[dv];
    if (D->n_in != 2 || D->act) return -1;
    int x = D->in[0];
    if (!((D->type == LFR__OP_DIV && static_near(g, D->in[1], sqrt(2.0))) ||
          (D->type == LFR__OP_MUL && static_near(g, D->in[1], sqrt(0.5)))))
        return -1;
    int a = only_consumer(g, E->out);
    if (a < 0) return -1;
    const lfr__op *A = &g->ops[a];
    int one = A->in[0] == E->out ? 1 : 0;
    if (A->type != LFR__OP_ADD || A->act || !static_near(g, A->in[one], 1.0)) return -1;
    int m1 = only_consumer(g, A->out);
    if (m1 < 0) return -1;
    const lfr__op *M1 = &g->ops[m1];
    if (M1->type != LFR__OP_MUL || M1->act) return -1;
    int other = M1->in[0] == A->out ? M1->in[1] : M1->in[0];
    ch[0] = dv, ch[1] = e, ch[2] = a, ch[3] = m1;
    if (other == x) {
        int m2 = only_consumer(g, M1->out);
        if (m2 < 0) return -1;
        const lfr__op *M2 = &g->ops[m2];
        int h = M2->in[0] == M1->out ? 1 : 0;
        if (M2->type != LFR__OP_MUL || M2->act || !static_near(g, M2->in[h], 0.5)) return -1;
        ch[4] = m2;
    } else {
        int hm = -1;
        for (int k = 0; k < g->n_ops; k++)
            if (g->ops[k].out == other) hm = k;
        if (hm < 0 || only_consumer(g, other) != m1) return -1;
        const lfr__op *H = &g->ops[hm];
        int h = H->in[0] == x ? 1 : 0;
        if (H->type != LFR__OP_MUL || H->act || H->in[1 - h] != x || !static_near(g, H->in[h], 0.5))
            return -1;
        ch[4] = hm;
    }
    const lfr__tensor *X = &g->tensors[x], *O = &g->tensors[g->ops[ch[4]].out];
    const lfr__tensor *last = other == x ? O : &g->tensors[M1->out];
    if (X->n_dims != last->n_dims || memcmp(X->dims, last->dims, sizeof X->dims) != 0) return -1;
    *x_out = x;
    return other == x ? ch[4] : m1;
}

/* x / max(reduce_l2(x, axis), eps). */
static int match_l2norm(const lfr__graph *g, int r, int *div_out, float *eps_out)
{
    const lfr__op *R = &g->ops[r];
    if (R->type != LFR__OP_REDUCE_L2 || (R->axes & (R->axes - 1)) != 0) return 0;
    int mx = only_consumer(g, R->out);
    if (mx < 0) return 0;
    const lfr__op *M = &g->ops[mx];
    int e = M->in[0] == R->out ? 1 : 0;
    const lfr__tensor *E = &g->tensors[M->in[e]];
    if (M->type != LFR__OP_MAX || !E->data || numel_t(E) != 1) return 0;
    int dv = only_consumer(g, M->out);
    if (dv < 0) return 0;
    const lfr__op *D = &g->ops[dv];
    if (D->type != LFR__OP_DIV || D->act || D->in[0] != R->in[0] || D->in[1] != M->out) return 0;
    *div_out = dv;
    *eps_out = E->data[0];
    return mx;
}

/* Drop operators whose outputs nothing reads (walking back from the graph
 * outputs). */
static int drop_dead(lfr__graph *g)
{
    char *need = calloc((size_t)g->n_tensors + 1, 1);
    if (!need) return -1;
    for (int i = 0; i < g->n_outputs; i++)
        need[g->outputs[i]] = 1;
    int w = g->n_ops, n = 0;
    char *keep = calloc((size_t)g->n_ops + 1, 1);
    if (!keep) {
        free(need);
        return -1;
    }
    for (int k = g->n_ops - 1; k >= 0; k--) {
        const lfr__op *op = &g->ops[k];
        if (!need[op->out]) continue;
        keep[k] = 1;
        for (int i = 0; i < op->n_in; i++)
            if (op->in[i] >= 0) need[op->in[i]] = 1;
    }
    w = 0;
    for (int k = 0; k < g->n_ops; k++) {
        if (keep[k])
            g->ops[w++] = g->ops[k];
        else
            n++;
    }
    g->n_ops = w;
    free(need);
    free(keep);
    return n;
}

int lfr__graph_fuse_onnx(lfr__graph *g)
{
    int total = 0;
    char *drop = NULL;
    for (int pass = 0; pass < 4; pass++) {
        drop = calloc((size_t)g->n_ops + 1, 1);
        if (!drop) return -1;
        int n = 0;
        for (int k = 0; k < g->n_ops; k++) {
            if (drop[k]) continue;
            lfr__op *op = &g->ops[k];
            int c;
            switch (pass) {
            case 0: /* per-channel scale and shift into the layer before */
                if ((op->type != LFR__OP_CONV2D && op->type != LFR__OP_DWCONV2D &&
                     op->type != LFR__OP_FULLY_CONNECTED) ||
                    op->act != LFR__ACT_NONE)
                    break;
                while ((c = only_consumer(g, g->ops[k].out)) >= 0 && !drop[c] &&
                       (g->ops[c].type == LFR__OP_MUL || g->ops[c].type == LFR__OP_ADD) &&
                       g->ops[c].act == LFR__ACT_NONE) {
                    int r = fold_affine(g, k, c, drop);
                    if (r < 0) goto oom;
                    if (r == 0) break;
                    n++;
                }
                break;
            case 1: { /* GELU */
                int x, ch[5], last = match_gelu(g, k, &x, ch);
                if (last < 0) break;
                int out = g->ops[last].out;
                lfr__op gelu = {.type = LFR__OP_GELU, .index = g->ops[ch[1]].index, .n_in = 1};
                gelu.in[0] = x;
                gelu.out = out;
                for (int i = 0; i < 5; i++)
                    drop[ch[i]] = 1;
                drop[last] = 0;
                g->ops[last] = gelu;
                n++;
                break;
            }
            case 2: { /* L2 normalisation */
                int dv;
                float eps;
                int mx = match_l2norm(g, k, &dv, &eps);
                if (!mx) break;
                int axis = 0;
                while (!(op->axes >> axis & 1))
                    axis++;
                lfr__op l2 = {.type = LFR__OP_L2NORM, .index = op->index, .n_in = 1};
                l2.in[0] = op->in[0];
                l2.out = g->ops[dv].out;
                l2.axis = axis;
                l2.eps = eps;
                drop[k] = drop[mx] = 1;
                g->ops[dv] = l2;
                n++;
                break;
            }
            case 3: { /* activations into the operator before */
                if (op->act != LFR__ACT_NONE) break;
                switch (op->type) {
                case LFR__OP_CONV2D:
                case LFR__OP_DWCONV2D:
                case LFR__OP_FULLY_CONNECTED:
                case LFR__OP_MAXPOOL2D:
                case LFR__OP_ADD:
                case LFR__OP_SUB:
                case LFR__OP_MUL:
                case LFR__OP_DIV:
                    break;
                default:
                    continue;
                }
                c = only_consumer(g, op->out);
                if (c < 0 || drop[c]) break;
                int a = act_of_clamp(&g->ops[c]);
                if (a < 0) break;
                op->act = a;
                op->out = g->ops[c].out;
                drop[c] = 1;
                n++;
                break;
            }
            }
        }
        int w = 0;
        for (int k = 0; k < g->n_ops; k++)
            if (!drop[k]) g->ops[w++] = g->ops[k];
        g->n_ops = w;
        free(drop);
        drop = NULL;
        total += n;
    }
    int dead = drop_dead(g);
    return dead < 0 ? -1 : total + dead;
oom:
    free(drop);
    return -1;
}
