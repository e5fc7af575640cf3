/*
 * Graph rewrites applied once at load, before the graph is shared.
 *
 * MobileFaceNet spells PReLU out as relu(x) + m * (x - |x|), five TFLite
 * operators and four full-size intermediate tensors per activation. For
 * x >= 0 that is x; for x < 0 it is m * 2x: a PReLU with slope 2m. Both
 * forms give bit-identical results (multiplying by 2 is exact), and the
 * fused one is a single XNNPACK node.
 */
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
    if (g->extra) return -1; /* fused already */
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
