/*
 * A bounds-checked reader of ONNX models, producing the graph of nn.h (the
 * same one the TFLite reader produces). The protobuf wire format is read
 * directly: every varint, length and field is checked against its enclosing
 * message before use, and nothing is copied out of the file that the model
 * does not need. Reading goes in four stages:
 *
 *  1. Parse ModelProto -> GraphProto: nodes, initialisers, inputs and
 *     outputs, with every value name interned. A value written twice, a
 *     node input nobody defines, an unknown operator domain or a missing
 *     opset is refused here.
 *  2. Order the nodes topologically (a cycle is refused) and keep those the
 *     outputs need.
 *  3. Evaluate each node for the input shape the caller gives. A node whose
 *     inputs are all constants (Shape of a known tensor, Gather, Unsqueeze,
 *     Concat of reshape targets, Constant, DequantizeLinear of int8
 *     weights, ...) is computed here; the others become operators of the
 *     graph. ONNX tensors are NCHW; convolutions run NHWC, so each value
 *     carries a layout (which logical axis each stored axis holds): a
 *     Transpose only relabels its input, a Reshape is free when the stored
 *     order allows, and a real TRANSPOSE is inserted only where an operator
 *     needs another order.
 *  4. Fold what ONNX spells out (BatchNormalization, bias additions,
 *     activations, GELU, L2 normalisation: lfr__graph_fuse_onnx) and check
 *     the whole graph (lfr__graph_check): a graph that loads is safe to run.
 *
 * Every failure names the file and the node (index, operator, name) or the
 * byte offset, in one line.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util/util.h"

#define MAXR LFR__MAX_DIMS
#define MAX_INTS 16
#define MAX_ATTRS 32
#define MAX_NODE_IO 64
#define MAX_CONST_NUMEL ((size_t)1 << 26)
#define MAX_SCRATCH ((size_t)1 << 30)

/* ONNX TensorProto.DataType */
enum {
    DT_FLOAT = 1,
    DT_UINT8 = 2,
    DT_INT8 = 3,
    DT_UINT16 = 4,
    DT_INT16 = 5,
    DT_INT32 = 6,
    DT_INT64 = 7,
    DT_BOOL = 9,
    DT_FLOAT16 = 10,
    DT_DOUBLE = 11,
    DT_UINT32 = 12,
    DT_UINT64 = 13,
    DT_BFLOAT16 = 16,
};

/* AttributeProto.AttributeType */
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_TENSOR = 4, AT_FLOATS = 6, AT_INTS = 7 };

/* How constants are held while reading. */
enum { CT_F32, CT_I64, CT_I8, CT_U8 };

/* ---- Protobuf wire format ------------------------------------------------------ */

typedef struct pmsg {
    const uint8_t *p;
    size_t n;
    size_t off; /* file offset of p[0] */
} pmsg;

typedef struct pfield {
    uint32_t num;
    int wt;
    uint64_t v;
    pmsg sub; /* wire type 2: the bytes; 1 and 5: the fixed bytes */
    size_t off;
} pfield;

typedef struct ostr {
    const uint8_t *p;
    size_t n;
} ostr;

static int varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= n) return 0;
        uint8_t c = p[(*pos)++];
        if (i == 9 && c > 1) return 0; /* more than 64 bits */
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if (c < 0x80) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* ---- The reader's state ---------------------------------------------------------- */

typedef struct oval {
    ostr name;
    int producer; /* node, or -1 */
    int init;     /* initialiser index, or -1 */
    int input;    /* real graph input index, or -1 */
    int state;    /* 0 not yet computed, 1 constant, 2 activation */
    int n;        /* logical rank */
    int64_t d[MAXR];
    int ctype; /* constants */
    void *data;
    int ir_static;             /* constant as a static tensor in its own layout, or -1 */
    int t;                     /* activations: the tensor holding it */
    int perm[MAXR];            /* stored axis j holds logical axis perm[j] */
    int alt_t, alt_perm[MAXR]; /* the last re-laid-out copy, or alt_t -1 */
} oval;

typedef struct onode {
    pmsg msg;
    ostr op, name, domain;
    int in_at, n_in, out_at, n_out;
    size_t off;
} onode;

typedef struct oattr {
    ostr name;
    int type;
    float f;
    int64_t i;
    ostr s;
    pmsg t;
    int n_ints, n_floats;
    int64_t ints[MAX_INTS];
    float floats[MAX_INTS];
} oattr;

typedef struct ld {
    const char *file;
    pmsg model;
    lfr__graph *g;
    int rc; /* first failure */
    int64_t opset;
    /* values */
    oval *vals;
    int n_vals, cap_vals;
    int *hash; /* open addressing, -1 empty */
    size_t hash_cap;
    /* graph */
    onode *nodes;
    int n_nodes;
    int *io; /* node inputs and outputs, value ids (-1 absent) */
    int n_io, cap_io;
    pmsg *inits;
    int n_inits;
    int *graph_in, n_graph_in;
    pmsg *graph_in_msg;
    int *graph_out, n_graph_out;
    /* scratch memory for constants, freed after loading */
    void **scratch;
    int n_scratch, cap_scratch;
    size_t scratch_bytes;
    /* the node being converted, for messages */
    int cur;
    oattr attrs[MAX_ATTRS];
    int n_attrs;
} ld;

static void cstr(ostr s, char *out, size_t cap)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)s.p[i];
        out[i] = c >= 32 && c < 127 ? c : '?';
    }
    out[n] = 0;
}

static int ostr_is(ostr s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && memcmp(s.p, c, n) == 0;
}

static int failv(ld *L, int status, const char *fmt, va_list ap)
{
    if (L->rc) return L->rc;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    L->rc = status;
    lfr__err(status, "%s: %s", L->file, msg);
    return status;
}

static int fail(ld *L, int status, const char *fmt, ...) LFR__PRINTF(3, 4);
static int fail(ld *L, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = failv(L, status, fmt, ap);
    va_end(ap);
    return rc;
}

/* A failure while converting node L->cur. */
static int nfail(ld *L, int status, const char *fmt, ...) LFR__PRINTF(3, 4);
static int nfail(ld *L, int status, const char *fmt, ...)
{
    if (L->rc) return L->rc;
    char msg[400], op[48], name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const onode *n = &L->nodes[L->cur];
    cstr(n->op, op, sizeof op);
    cstr(n->name, name, sizeof name);
    return fail(L, status, "node %d (%s '%s'): %s", L->cur, op, name, msg);
}

static int oom(ld *L)
{
    return fail(L, LFR_ERR_NOMEM, "out of memory");
}

static void *scratch(ld *L, size_t bytes)
{
    if (bytes > MAX_SCRATCH - L->scratch_bytes) {
        fail(L, LFR_ERR_TOO_LARGE, "constants take more than %zu MiB", MAX_SCRATCH >> 20);
        return NULL;
    }
    if (L->n_scratch == L->cap_scratch) {
        int cap = L->cap_scratch ? 2 * L->cap_scratch : 256;
        void **s = realloc(L->scratch, (size_t)cap * sizeof *s);
        if (!s) return oom(L), NULL;
        L->scratch = s;
        L->cap_scratch = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return oom(L), NULL;
    L->scratch[L->n_scratch++] = p;
    L->scratch_bytes += bytes;
    return p;
}

/* Next field of message m from *pos: 1, 0 at the end, -1 on a malformed field. */
static int pb_next(ld *L, const pmsg *m, size_t *pos, pfield *f)
{
    if (*pos >= m->n) return 0;
    f->off = m->off + *pos;
    uint64_t key;
    if (!varint(m->p, m->n, pos, &key) || key >> 32 || (key >> 3) == 0)
        return fail(L, LFR_ERR_FORMAT, "malformed field key at offset %zu", f->off), -1;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->sub = (pmsg){NULL, 0, 0};
    switch (f->wt) {
    case 0:
        if (!varint(m->p, m->n, pos, &f->v))
            return fail(L, LFR_ERR_FORMAT, "malformed varint at offset %zu", f->off), -1;
        return 1;
    case 1:
    case 5: {
        size_t w = f->wt == 1 ? 8 : 4;
        if (m->n - *pos < w)
            return fail(L, LFR_ERR_FORMAT, "field past the end of its message at offset %zu",
                        f->off),
                   -1;
        f->sub = (pmsg){m->p + *pos, w, m->off + *pos};
        f->v = 0;
        for (size_t i = 0; i < w; i++)
            f->v |= (uint64_t)m->p[*pos + i] << (8 * i);
        *pos += w;
        return 1;
    }
    case 2: {
        uint64_t len;
        if (!varint(m->p, m->n, pos, &len) || len > m->n - *pos)
            return fail(L, LFR_ERR_FORMAT, "length past the end of its message at offset %zu",
                        f->off),
                   -1;
        f->sub = (pmsg){m->p + *pos, (size_t)len, m->off + *pos};
        *pos += (size_t)len;
        return 1;
    }
    default:
        return fail(L, LFR_ERR_FORMAT, "unsupported wire type %d at offset %zu", f->wt, f->off), -1;
    }
}

static ostr as_str(const pfield *f)
{
    return (ostr){f->sub.p, f->sub.n};
}

/* ---- Values by name --------------------------------------------------------------------- */

static uint64_t hash_of(ostr s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.n; i++)
        h = (h ^ s.p[i]) * 1099511628211ull;
    return h;
}

static int grow_hash(ld *L)
{
    size_t cap = L->hash_cap ? 2 * L->hash_cap : 1024;
    int *h = malloc(cap * sizeof *h);
    if (!h) return oom(L);
    for (size_t i = 0; i < cap; i++)
        h[i] = -1;
    for (int v = 0; v < L->n_vals; v++) {
        size_t k = hash_of(L->vals[v].name) & (cap - 1);
        while (h[k] >= 0)
            k = (k + 1) & (cap - 1);
        h[k] = v;
    }
    free(L->hash);
    L->hash = h;
    L->hash_cap = cap;
    return LFR_OK;
}

/* The value called s (created when absent); -1 for "" (an absent input). */
static int value_id(ld *L, ostr s, size_t off)
{
    if (s.n == 0) return -1;
    if (s.n > 4096)
        return fail(L, LFR_ERR_FORMAT, "name longer than 4096 bytes at offset %zu", off), -2;
    if ((size_t)L->n_vals * 2 >= L->hash_cap && grow_hash(L)) return -2;
    size_t k = hash_of(s) & (L->hash_cap - 1);
    while (L->hash[k] >= 0) {
        ostr o = L->vals[L->hash[k]].name;
        if (o.n == s.n && memcmp(o.p, s.p, s.n) == 0) return L->hash[k];
        k = (k + 1) & (L->hash_cap - 1);
    }
    if (L->n_vals == L->cap_vals) {
        int cap = L->cap_vals ? 2 * L->cap_vals : 1024;
        if (cap > 4000000) return fail(L, LFR_ERR_TOO_LARGE, "too many values"), -2;
        oval *v = realloc(L->vals, (size_t)cap * sizeof *v);
        if (!v) return oom(L), -2;
        L->vals = v;
        L->cap_vals = cap;
    }
    oval *v = &L->vals[L->n_vals];
    memset(v, 0, sizeof *v);
    v->name = s;
    v->producer = v->init = v->input = -1;
    v->ir_static = v->alt_t = v->t = -1;
    L->hash[k] = L->n_vals;
    return L->n_vals++;
}

static void vname(const ld *L, int id, char *out, size_t cap)
{
    cstr(L->vals[id].name, out, cap);
}

/* ---- Stage 1: the graph's structure -------------------------------------------------------- */

static int push_io(ld *L, int id)
{
    if (L->n_io == L->cap_io) {
        int cap = L->cap_io ? 2 * L->cap_io : 4096;
        int *p = realloc(L->io, (size_t)cap * sizeof *p);
        if (!p) return oom(L);
        L->io = p;
        L->cap_io = cap;
    }
    L->io[L->n_io++] = id;
    return LFR_OK;
}

static int parse_node(ld *L, onode *n)
{
    size_t pos = 0;
    pfield f;
    int r;
    n->in_at = L->n_io;
    /* Inputs first, then outputs: two passes keep each list contiguous. */
    for (int pass = 1; pass <= 2; pass++) {
        pos = 0;
        if (pass == 2) n->out_at = L->n_io;
        while ((r = pb_next(L, &n->msg, &pos, &f)) > 0) {
            if (pass == 1) {
                if (f.num == 3 && f.wt == 2) n->name = as_str(&f);
                if (f.num == 4 && f.wt == 2) n->op = as_str(&f);
                if (f.num == 7 && f.wt == 2) n->domain = as_str(&f);
            }
            if ((uint32_t)pass != f.num) continue;
            if (f.wt != 2)
                return fail(L, LFR_ERR_FORMAT, "node input or output not a string at offset %zu",
                            f.off);
            int id = value_id(L, as_str(&f), f.off);
            if (id < -1) return L->rc;
            if ((pass == 1 ? n->n_in : n->n_out) >= MAX_NODE_IO)
                return fail(L, LFR_ERR_UNSUPPORTED,
                            "node with more than %d inputs or outputs at "
                            "offset %zu",
                            MAX_NODE_IO, n->off);
            if (push_io(L, id)) return L->rc;
            if (pass == 1)
                n->n_in++;
            else
                n->n_out++;
        }
        if (r < 0) return L->rc;
    }
    if (n->op.n == 0)
        return fail(L, LFR_ERR_FORMAT, "node without an operator at offset %zu", n->off);
    return LFR_OK;
}

/* The name of a TensorProto or ValueInfoProto (field 8 or 1). */
static int msg_name(ld *L, const pmsg *m, uint32_t field, ostr *out, size_t *off)
{
    size_t pos = 0;
    pfield f;
    int r;
    out->n = 0;
    while ((r = pb_next(L, m, &pos, &f)) > 0)
        if (f.num == field && f.wt == 2) {
            *out = as_str(&f);
            *off = f.off;
        }
    return r < 0 ? L->rc : LFR_OK;
}

static int parse_graph(ld *L, const pmsg *gm)
{
    size_t pos = 0;
    pfield f;
    int r, n_nodes = 0, n_inits = 0, n_in = 0, n_out = 0;
    while ((r = pb_next(L, gm, &pos, &f)) > 0) {
        if (f.wt != 2) continue;
        n_nodes += f.num == 1;
        n_inits += f.num == 5;
        n_in += f.num == 11;
        n_out += f.num == 12;
        if (f.num == 15)
            return fail(L, LFR_ERR_UNSUPPORTED,
                        "sparse initialisers are not supported (offset %zu)", f.off);
    }
    if (r < 0) return L->rc;
    if (n_nodes == 0) return fail(L, LFR_ERR_FORMAT, "the graph has no nodes");
    if (n_nodes > 100000 || n_inits > 100000 || n_in > 10000 || n_out > LFR__MAX_IO)
        return fail(L, LFR_ERR_UNSUPPORTED,
                    "%d nodes, %d initialisers, %d inputs, %d outputs "
                    "(limits 100000, 100000, 10000, %d)",
                    n_nodes, n_inits, n_in, n_out, LFR__MAX_IO);
    if (n_out == 0) return fail(L, LFR_ERR_FORMAT, "the graph has no outputs");
    L->nodes = calloc((size_t)n_nodes, sizeof *L->nodes);
    L->inits = calloc((size_t)n_inits + 1, sizeof *L->inits);
    L->graph_in = calloc((size_t)n_in + 1, sizeof *L->graph_in);
    L->graph_in_msg = calloc((size_t)n_in + 1, sizeof *L->graph_in_msg);
    L->graph_out = calloc((size_t)n_out, sizeof *L->graph_out);
    if (!L->nodes || !L->inits || !L->graph_in || !L->graph_in_msg || !L->graph_out) return oom(L);
    pos = 0;
    while ((r = pb_next(L, gm, &pos, &f)) > 0) {
        if (f.wt != 2) continue;
        if (f.num == 1) {
            onode *n = &L->nodes[L->n_nodes++];
            n->msg = f.sub;
            n->off = f.off;
            if (parse_node(L, n)) return L->rc;
        } else if (f.num == 5) {
            ostr name;
            size_t off = f.off;
            if (msg_name(L, &f.sub, 8, &name, &off)) return L->rc;
            int id = value_id(L, name, off);
            if (id < -1) return L->rc;
            if (id < 0)
                return fail(L, LFR_ERR_FORMAT, "initialiser without a name at offset %zu", f.off);
            if (L->vals[id].init >= 0) {
                char nm[64];
                vname(L, id, nm, sizeof nm);
                return fail(L, LFR_ERR_FORMAT, "initialiser '%s' given twice (offset %zu)", nm,
                            f.off);
            }
            L->vals[id].init = L->n_inits;
            L->inits[L->n_inits++] = f.sub;
        } else if (f.num == 11 || f.num == 12) {
            ostr name;
            size_t off = f.off;
            if (msg_name(L, &f.sub, 1, &name, &off)) return L->rc;
            int id = value_id(L, name, off);
            if (id < -1) return L->rc;
            if (id < 0)
                return fail(L, LFR_ERR_FORMAT, "graph %s without a name at offset %zu",
                            f.num == 11 ? "input" : "output", f.off);
            if (f.num == 11) {
                L->graph_in_msg[L->n_graph_in] = f.sub;
                L->graph_in[L->n_graph_in++] = id;
            } else {
                L->graph_out[L->n_graph_out++] = id;
            }
        }
    }
    return r < 0 ? L->rc : LFR_OK;
}

static int parse_model(ld *L)
{
    size_t pos = 0;
    pfield f;
    int r, have_graph = 0;
    pmsg gm = {0};
    L->opset = -1;
    while ((r = pb_next(L, &L->model, &pos, &f)) > 0) {
        if (f.num == 7 && f.wt == 2) {
            gm = f.sub;
            have_graph++;
        } else if (f.num == 8 && f.wt == 2) {
            size_t p2 = 0;
            pfield o;
            ostr domain = {NULL, 0};
            int64_t version = -1;
            while ((r = pb_next(L, &f.sub, &p2, &o)) > 0) {
                if (o.num == 1 && o.wt == 2) domain = as_str(&o);
                if (o.num == 2 && o.wt == 0) version = (int64_t)o.v;
            }
            if (r < 0) return L->rc;
            if (domain.n == 0 || ostr_is(domain, "ai.onnx")) L->opset = version;
        } else if (f.num == 7 || f.num == 8) {
            return fail(L, LFR_ERR_FORMAT, "malformed model field at offset %zu", f.off);
        }
    }
    if (r < 0) return L->rc;
    if (have_graph != 1)
        return fail(L, LFR_ERR_FORMAT, "not an ONNX model (%s graph)",
                    have_graph ? "more than one" : "no");
    if (L->opset < 1 || L->opset > 1000)
        return fail(L, LFR_ERR_FORMAT, "no opset for the default ONNX domain");
    if (L->opset < 7 || L->opset > 22)
        return fail(L, LFR_ERR_UNSUPPORTED, "opset %lld (supported: 7 to 22)", (long long)L->opset);
    return parse_graph(L, &gm);
}

/* ---- Stage 2: order and reachability ------------------------------------------------------------
 */

static int link_values(ld *L)
{
    char nm[64];
    for (int k = 0; k < L->n_nodes; k++) {
        onode *n = &L->nodes[k];
        if (n->domain.n && !ostr_is(n->domain, "ai.onnx")) {
            L->cur = k;
            char d[64];
            cstr(n->domain, d, sizeof d);
            return nfail(L, LFR_ERR_UNSUPPORTED, "operator domain '%s' is not supported", d);
        }
        for (int i = 0; i < n->n_out; i++) {
            int id = L->io[n->out_at + i];
            if (id < 0) continue;
            oval *v = &L->vals[id];
            if (v->producer >= 0 || v->init >= 0) {
                L->cur = k;
                vname(L, id, nm, sizeof nm);
                return nfail(L, LFR_ERR_FORMAT, "writes '%s', which already has a value", nm);
            }
            v->producer = k;
        }
    }
    for (int i = 0; i < L->n_graph_in; i++) {
        oval *v = &L->vals[L->graph_in[i]];
        if (v->producer >= 0) {
            vname(L, L->graph_in[i], nm, sizeof nm);
            return fail(L, LFR_ERR_FORMAT, "graph input '%s' is also written by node %d", nm,
                        v->producer);
        }
        if (v->init < 0) v->input = i; /* an input with an initialiser is a constant */
    }
    for (int k = 0; k < L->n_nodes; k++) {
        onode *n = &L->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            int id = L->io[n->in_at + i];
            if (id < 0) continue;
            oval *v = &L->vals[id];
            if (v->producer < 0 && v->init < 0 && v->input < 0) {
                L->cur = k;
                vname(L, id, nm, sizeof nm);
                return nfail(L, LFR_ERR_FORMAT,
                             "input '%s' is not defined (no node, initialiser "
                             "or graph input)",
                             nm);
            }
        }
    }
    for (int i = 0; i < L->n_graph_out; i++) {
        oval *v = &L->vals[L->graph_out[i]];
        if (v->producer < 0 && v->init < 0 && v->input < 0) {
            vname(L, L->graph_out[i], nm, sizeof nm);
            return fail(L, LFR_ERR_FORMAT, "graph output '%s' is not defined", nm);
        }
    }
    return LFR_OK;
}

/* Nodes in an order where every node follows the producers of its inputs
 * (Kahn's algorithm, lowest file index first), restricted to the nodes
 * the outputs need. A cycle is an error. */
static int order_nodes(ld *L, int **order_out, int *n_out)
{
    int N = L->n_nodes, rc = LFR_OK;
    int *indeg = calloc((size_t)N, sizeof *indeg), *heap = malloc((size_t)N * sizeof *heap);
    int *order = malloc((size_t)N * sizeof *order), *need = calloc((size_t)N, sizeof *need);
    int *first = malloc((size_t)N * sizeof *first), *next = NULL, *edge_to = NULL;
    int n_heap = 0, n_order = 0, n_edges = 0;
    if (!indeg || !heap || !order || !need || !first) {
        rc = oom(L);
        goto out;
    }
    /* Edges producer -> consumer, as adjacency lists. */
    for (int k = 0; k < N; k++)
        n_edges += L->nodes[k].n_in;
    next = malloc(((size_t)n_edges + 1) * sizeof *next);
    edge_to = malloc(((size_t)n_edges + 1) * sizeof *edge_to);
    if (!next || !edge_to) {
        rc = oom(L);
        goto out;
    }
    for (int k = 0; k < N; k++)
        first[k] = -1;
    int e = 0;
    for (int k = 0; k < N; k++) {
        const onode *n = &L->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            int id = L->io[n->in_at + i];
            if (id < 0 || L->vals[id].producer < 0) continue;
            int p = L->vals[id].producer;
            edge_to[e] = k;
            next[e] = first[p];
            first[p] = e++;
            indeg[k]++;
        }
    }
    for (int k = 0; k < N; k++)
        if (indeg[k] == 0) {
            int i = n_heap++;
            heap[i] = k;
            while (i > 0 && heap[(i - 1) / 2] > heap[i]) {
                int t = heap[i];
                heap[i] = heap[(i - 1) / 2];
                heap[(i - 1) / 2] = t;
                i = (i - 1) / 2;
            }
        }
    while (n_heap) {
        int k = heap[0];
        heap[0] = heap[--n_heap];
        for (int i = 0;;) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < n_heap && heap[l] < heap[m]) m = l;
            if (r < n_heap && heap[r] < heap[m]) m = r;
            if (m == i) break;
            int t = heap[i];
            heap[i] = heap[m];
            heap[m] = t;
            i = m;
        }
        order[n_order++] = k;
        for (int q = first[k]; q >= 0; q = next[q])
            if (--indeg[edge_to[q]] == 0) {
                int i = n_heap++;
                heap[i] = edge_to[q];
                while (i > 0 && heap[(i - 1) / 2] > heap[i]) {
                    int t = heap[i];
                    heap[i] = heap[(i - 1) / 2];
                    heap[(i - 1) / 2] = t;
                    i = (i - 1) / 2;
                }
            }
    }
    if (n_order < N) {
        for (int k = 0; k < N; k++)
            if (indeg[k] > 0) {
                L->cur = k;
                rc = nfail(L, LFR_ERR_FORMAT, "is part of a cycle");
                goto out;
            }
    }
    /* Needed nodes: walk back from the outputs (reverse order does it in one pass). */
    for (int i = 0; i < L->n_graph_out; i++)
        if (L->vals[L->graph_out[i]].producer >= 0) need[L->vals[L->graph_out[i]].producer] = 1;
    for (int j = N - 1; j >= 0; j--) {
        int k = order[j];
        if (!need[k]) continue;
        const onode *n = &L->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            int id = L->io[n->in_at + i];
            if (id >= 0 && L->vals[id].producer >= 0) need[L->vals[id].producer] = 1;
        }
    }
    int w = 0;
    for (int j = 0; j < N; j++)
        if (need[order[j]]) order[w++] = order[j];
    *order_out = order;
    *n_out = w;
    order = NULL;
out:
    free(indeg);
    free(heap);
    free(order);
    free(need);
    free(first);
    free(next);
    free(edge_to);
    return rc;
}

/* ---- Reading tensors
 * ----------------------------------------------------------------------------- */

static size_t dtype_size(int dt)
{
    switch (dt) {
    case DT_UINT8:
    case DT_INT8:
    case DT_BOOL:
        return 1;
    case DT_UINT16:
    case DT_INT16:
    case DT_FLOAT16:
    case DT_BFLOAT16:
        return 2;
    case DT_FLOAT:
    case DT_INT32:
    case DT_UINT32:
        return 4;
    case DT_INT64:
    case DT_DOUBLE:
    case DT_UINT64:
        return 8;
    default:
        return 0;
    }
}

static int ctype_of(int dt)
{
    switch (dt) {
    case DT_FLOAT:
    case DT_FLOAT16:
    case DT_BFLOAT16:
    case DT_DOUBLE:
        return CT_F32;
    case DT_INT8:
        return CT_I8;
    case DT_UINT8:
        return CT_U8;
    default:
        return CT_I64;
    }
}

static size_t ctype_size(int ct)
{
    return ct == CT_F32 ? 4 : ct == CT_I64 ? 8 : 1;
}

static size_t cnumel(const oval *v)
{
    size_t e = 1;
    for (int i = 0; i < v->n; i++)
        e *= (size_t)v->d[i];
    return e;
}

/* A double as float, saturating to infinity (a plain conversion of a
 * finite value beyond float's range is undefined behaviour in C). */
static float to_f32(double d)
{
    if (d > FLT_MAX) return INFINITY;
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;
}

/* Element i from little-endian raw bytes of type dt, into the constant. */
static void put_raw(oval *v, size_t i, int dt, const uint8_t *p)
{
    uint64_t u = 0;
    size_t w = dtype_size(dt);
    for (size_t k = 0; k < w; k++)
        u |= (uint64_t)p[k] << (8 * k);
    switch (v->ctype) {
    case CT_F32: {
        float f;
        if (dt == DT_FLOAT) {
            uint32_t b = (uint32_t)u;
            memcpy(&f, &b, 4);
        } else if (dt == DT_FLOAT16) {
            f = lfr__half_to_float((uint16_t)u);
        } else if (dt == DT_BFLOAT16) {
            uint32_t b = (uint32_t)u << 16;
            memcpy(&f, &b, 4);
        } else {
            double d;
            memcpy(&d, &u, 8);
            f = to_f32(d);
        }
        ((float *)v->data)[i] = f;
        break;
    }
    case CT_I8:
    case CT_U8:
        ((uint8_t *)v->data)[i] = (uint8_t)u;
        break;
    default: {
        int64_t s;
        switch (dt) {
        case DT_INT16:
            s = (int16_t)u;
            break;
        case DT_INT32:
            s = (int32_t)u;
            break;
        case DT_UINT16:
        case DT_UINT32:
        case DT_BOOL:
            s = (int64_t)u;
            break;
        default:
            s = (int64_t)u; /* INT64, UINT64 (wrapping above 2^63) */
        }
        ((int64_t *)v->data)[i] = s;
    }
    }
}

/* Element i from a typed-field value (varint or fixed bits). */
static void put_typed(oval *v, size_t i, int dt, uint64_t u)
{
    uint8_t b[8];
    if (dt == DT_FLOAT || dt == DT_DOUBLE) {
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(u >> (8 * k));
        put_raw(v, i, dt, b);
        return;
    }
    if (dt == DT_FLOAT16 || dt == DT_BFLOAT16) {
        uint16_t h = (uint16_t)u;
        b[0] = (uint8_t)h;
        b[1] = (uint8_t)(h >> 8);
        put_raw(v, i, dt, b);
        return;
    }
    if (v->ctype == CT_I8 || v->ctype == CT_U8) {
        ((uint8_t *)v->data)[i] = (uint8_t)u;
        return;
    }
    ((int64_t *)v->data)[i] = dt == DT_INT64 || dt == DT_UINT64 ? (int64_t)u : (int64_t)(int32_t)u;
}

/* The typed field that holds type dt's values, and its element wire type. */
static uint32_t typed_field(int dt, int *wt)
{
    switch (dt) {
    case DT_FLOAT:
        *wt = 5;
        return 4;
    case DT_DOUBLE:
        *wt = 1;
        return 10;
    case DT_INT64:
        *wt = 0;
        return 7;
    case DT_UINT32:
    case DT_UINT64:
        *wt = 0;
        return 11;
    default:
        *wt = 0;
        return 5; /* int32_data: int32, int16, int8, uint16, uint8, bool, float16 */
    }
}

/* Walk the values of the typed field (packed or not); fill when v->data. */
static int typed_values(ld *L, const pmsg *m, int dt, oval *v, size_t *count)
{
    int ewt;
    uint32_t fnum = typed_field(dt, &ewt);
    size_t pos = 0, n = 0, total = cnumel(v);
    pfield f;
    int r;
    while ((r = pb_next(L, m, &pos, &f)) > 0) {
        if (f.num != fnum) continue;
        if (f.wt == ewt) {
            if (v->data && n < total) put_typed(v, n, dt, f.v);
            n++;
        } else if (f.wt == 2) { /* packed */
            size_t p = 0;
            while (p < f.sub.n) {
                uint64_t u = 0;
                if (ewt == 0) {
                    if (!varint(f.sub.p, f.sub.n, &p, &u))
                        return fail(L, LFR_ERR_FORMAT, "malformed packed value at offset %zu",
                                    f.sub.off + p);
                } else {
                    size_t w = ewt == 1 ? 8 : 4;
                    if (f.sub.n - p < w)
                        return fail(L, LFR_ERR_FORMAT, "packed values cut short at offset %zu",
                                    f.sub.off + p);
                    for (size_t k = 0; k < w; k++)
                        u |= (uint64_t)f.sub.p[p + k] << (8 * k);
                    p += w;
                }
                if (v->data && n < total) put_typed(v, n, dt, u);
                n++;
            }
        } else {
            return fail(L, LFR_ERR_FORMAT, "typed tensor data of the wrong wire type at offset %zu",
                        f.off);
        }
        if (n > MAX_CONST_NUMEL) break;
    }
    *count = n;
    return r < 0 ? L->rc : LFR_OK;
}

/* Read a TensorProto into constant v. what names it in messages. */
static int read_tensor(ld *L, const pmsg *m, oval *v, const char *what)
{
    size_t pos = 0;
    pfield f;
    int r, dt = 0, have_raw = 0;
    pmsg raw = {0};
    v->n = 0;
    while ((r = pb_next(L, m, &pos, &f)) > 0) {
        switch (f.num) {
        case 1: /* dims, packed or not */
            if (f.wt == 0) {
                if (v->n >= MAXR)
                    return fail(L, LFR_ERR_UNSUPPORTED, "%s has more than %d dimensions", what,
                                MAXR);
                v->d[v->n++] = (int64_t)f.v;
            } else if (f.wt == 2) {
                size_t p = 0;
                while (p < f.sub.n) {
                    uint64_t u;
                    if (!varint(f.sub.p, f.sub.n, &p, &u))
                        return fail(L, LFR_ERR_FORMAT, "%s: malformed dims at offset %zu", what,
                                    f.off);
                    if (v->n >= MAXR)
                        return fail(L, LFR_ERR_UNSUPPORTED, "%s has more than %d dimensions", what,
                                    MAXR);
                    v->d[v->n++] = (int64_t)u;
                }
            }
            break;
        case 2:
            if (f.wt == 0) dt = (int)f.v;
            break;
        case 3:
            return fail(L, LFR_ERR_UNSUPPORTED, "%s is segmented", what);
        case 9:
            if (f.wt == 2) {
                raw = f.sub;
                have_raw = 1;
            }
            break;
        case 13:
            return fail(L, LFR_ERR_UNSUPPORTED, "%s keeps its data in an external file", what);
        case 14:
            if (f.wt == 0 && f.v == 1)
                return fail(L, LFR_ERR_UNSUPPORTED, "%s keeps its data in an external file", what);
            break;
        default:
            break;
        }
    }
    if (r < 0) return L->rc;
    size_t esz = dtype_size(dt);
    if (!esz) return fail(L, LFR_ERR_UNSUPPORTED, "%s has element type %d", what, dt);
    size_t numel = 1;
    for (int i = 0; i < v->n; i++) {
        if (v->d[i] < 0 || v->d[i] > (int64_t)LFR__MAX_DIM)
            return fail(L, LFR_ERR_FORMAT, "%s has dimension %d of %lld", what, i,
                        (long long)v->d[i]);
        if (!lfr__mul_ok(numel, (size_t)v->d[i], &numel) || numel > MAX_CONST_NUMEL)
            return fail(L, LFR_ERR_TOO_LARGE, "%s is too large", what);
    }
    v->ctype = ctype_of(dt);
    v->state = 1;
    v->data = scratch(L, numel * ctype_size(v->ctype));
    if (!v->data) return L->rc;
    if (have_raw) {
        if (raw.n != numel * esz)
            return fail(L, LFR_ERR_FORMAT, "%s holds %zu bytes, its shape needs %zu (offset %zu)",
                        what, raw.n, numel * esz, raw.off);
        for (size_t i = 0; i < numel; i++)
            put_raw(v, i, dt, raw.p + i * esz);
        return LFR_OK;
    }
    size_t count = 0;
    if (typed_values(L, m, dt, v, &count)) return L->rc;
    if (count != numel)
        return fail(L, LFR_ERR_FORMAT, "%s holds %zu values, its shape needs %zu", what, count,
                    numel);
    return LFR_OK;
}

/* ---- Node attributes
 * ------------------------------------------------------------------------------ */

static int parse_attrs(ld *L, const onode *n)
{
    size_t pos = 0;
    pfield f;
    int r;
    L->n_attrs = 0;
    while ((r = pb_next(L, &n->msg, &pos, &f)) > 0) {
        if (f.num != 5 || f.wt != 2) continue;
        if (L->n_attrs == MAX_ATTRS) return nfail(L, LFR_ERR_UNSUPPORTED, "too many attributes");
        oattr *a = &L->attrs[L->n_attrs++];
        memset(a, 0, sizeof *a);
        size_t p2 = 0;
        pfield g;
        while ((r = pb_next(L, &f.sub, &p2, &g)) > 0) {
            switch (g.num) {
            case 1:
                if (g.wt == 2) a->name = as_str(&g);
                break;
            case 20:
                if (g.wt == 0) a->type = (int)g.v;
                break;
            case 2:
                if (g.wt == 5) {
                    uint32_t b = (uint32_t)g.v;
                    memcpy(&a->f, &b, 4);
                }
                break;
            case 3:
                if (g.wt == 0) a->i = (int64_t)g.v;
                break;
            case 4:
                if (g.wt == 2) a->s = as_str(&g);
                break;
            case 5:
                if (g.wt == 2) a->t = g.sub;
                break;
            case 7: /* floats */
                if (g.wt == 5) {
                    if (a->n_floats >= MAX_INTS)
                        return nfail(L, LFR_ERR_UNSUPPORTED, "attribute list too long");
                    uint32_t b = (uint32_t)g.v;
                    memcpy(&a->floats[a->n_floats++], &b, 4);
                } else if (g.wt == 2) {
                    if (g.sub.n % 4 || g.sub.n / 4 > (size_t)(MAX_INTS - a->n_floats))
                        return nfail(L, LFR_ERR_UNSUPPORTED,
                                     "attribute list too long or cut short");
                    for (size_t q = 0; q < g.sub.n; q += 4) {
                        uint32_t b = (uint32_t)g.sub.p[q] | (uint32_t)g.sub.p[q + 1] << 8 |
                                     (uint32_t)g.sub.p[q + 2] << 16 |
                                     (uint32_t)g.sub.p[q + 3] << 24;
                        memcpy(&a->floats[a->n_floats++], &b, 4);
                    }
                }
                break;
            case 8: /* ints */
                if (g.wt == 0) {
                    if (a->n_ints >= MAX_INTS)
                        return nfail(L, LFR_ERR_UNSUPPORTED, "attribute list too long");
                    a->ints[a->n_ints++] = (int64_t)g.v;
                } else if (g.wt == 2) {
                    size_t q = 0;
                    while (q < g.sub.n) {
                        uint64_t u;
                        if (!varint(g.sub.p, g.sub.n, &q, &u))
                            return nfail(L, LFR_ERR_FORMAT, "malformed attribute at offset %zu",
                                         g.off);
                        if (a->n_ints >= MAX_INTS)
                            return nfail(L, LFR_ERR_UNSUPPORTED, "attribute list too long");
                        a->ints[a->n_ints++] = (int64_t)u;
                    }
                }
                break;
            case 6:
            case 11:
                return nfail(L, LFR_ERR_UNSUPPORTED,
                             "graph attributes (control flow) are not "
                             "supported");
            default:
                break;
            }
        }
        if (r < 0) return L->rc;
    }
    return r < 0 ? L->rc : LFR_OK;
}

static const oattr *attr(const ld *L, const char *name)
{
    for (int i = 0; i < L->n_attrs; i++)
        if (ostr_is(L->attrs[i].name, name)) return &L->attrs[i];
    return NULL;
}

static int64_t attr_i(const ld *L, const char *name, int64_t dflt)
{
    const oattr *a = attr(L, name);
    return a ? a->i : dflt;
}

static float attr_f(const ld *L, const char *name, float dflt)
{
    const oattr *a = attr(L, name);
    return a ? a->f : dflt;
}

static int attr_s(const ld *L, const char *name, const char *value_if_absent, const char *want)
{
    const oattr *a = attr(L, name);
    return a ? ostr_is(a->s, want) : strcmp(value_if_absent, want) == 0;
}

/* ---- Values during conversion
 * ---------------------------------------------------------------------- */

static oval *in_val(ld *L, int i)
{
    const onode *n = &L->nodes[L->cur];
    if (i >= n->n_in) return NULL;
    int id = L->io[n->in_at + i];
    return id < 0 ? NULL : &L->vals[id];
}

static int n_inputs(const ld *L)
{
    return L->nodes[L->cur].n_in;
}

static oval *out_val(ld *L, int i)
{
    const onode *n = &L->nodes[L->cur];
    if (i >= n->n_out) return NULL;
    int id = L->io[n->out_at + i];
    return id < 0 ? NULL : &L->vals[id];
}

static int is_const(const oval *v)
{
    return v && v->state == 1;
}

static int is_act(const oval *v)
{
    return v && v->state == 2;
}

static void set_identity(int *perm, int n)
{
    for (int i = 0; i < n; i++)
        perm[i] = i;
}

/* A new constant of type ct and shape d[n] (data zeroed). */
static int new_const(ld *L, oval *out, int ct, int n, const int64_t *d)
{
    memset(out, 0, sizeof *out);
    out->state = 1;
    out->ctype = ct;
    out->n = n;
    out->ir_static = out->alt_t = out->t = -1;
    size_t numel = 1;
    for (int i = 0; i < n; i++) {
        if (d[i] < 0 || d[i] > LFR__MAX_DIM || !lfr__mul_ok(numel, (size_t)d[i], &numel) ||
            numel > MAX_CONST_NUMEL)
            return nfail(L, LFR_ERR_TOO_LARGE, "constant of a dimension out of range or too large");
        out->d[i] = d[i];
    }
    out->data = scratch(L, numel * ctype_size(ct));
    return out->data ? LFR_OK : L->rc;
}

/* Store a result in node output i, keeping the output's name. */
static void set_out(ld *L, int i, const oval *v)
{
    oval *o = out_val(L, i);
    if (!o) return;
    ostr name = o->name;
    int producer = o->producer, init = o->init, input = o->input;
    *o = *v;
    o->name = name;
    o->producer = producer;
    o->init = init;
    o->input = input;
    o->alt_t = -1;
    if (v->state == 1) o->ir_static = v->ir_static;
}

static double cget(const oval *v, size_t i)
{
    switch (v->ctype) {
    case CT_F32:
        return ((const float *)v->data)[i];
    case CT_I64:
        return (double)((const int64_t *)v->data)[i];
    case CT_I8:
        return ((const int8_t *)v->data)[i];
    default:
        return ((const uint8_t *)v->data)[i];
    }
}

static int64_t cgeti(const oval *v, size_t i)
{
    switch (v->ctype) {
    case CT_I64:
        return ((const int64_t *)v->data)[i];
    case CT_F32: {
        float f = ((const float *)v->data)[i];
        return isfinite(f) && fabsf(f) < 9e18f ? (int64_t)f : 0;
    }
    case CT_I8:
        return ((const int8_t *)v->data)[i];
    default:
        return ((const uint8_t *)v->data)[i];
    }
}

/* A constant list of integers (a shape, axes, pads) of at most cap values. */
static int const_ints(ld *L, const oval *v, int64_t *out, int cap, int *n_out, const char *what)
{
    if (!is_const(v)) return nfail(L, LFR_ERR_UNSUPPORTED, "%s must be a constant", what);
    if (v->ctype == CT_F32) return nfail(L, LFR_ERR_FORMAT, "%s must be integers", what);
    size_t n = cnumel(v);
    if (v->n > 1 || n > (size_t)cap)
        return nfail(L, LFR_ERR_UNSUPPORTED, "%s has too many values", what);
    for (size_t i = 0; i < n; i++)
        out[i] = cgeti(v, i);
    *n_out = (int)n;
    return LFR_OK;
}

/* Normalise axis a of a rank-n tensor; -1 when out of range. */
static int norm_axis(int64_t a, int n)
{
    if (a < 0) a += n;
    return a >= 0 && a < n ? (int)a : -1;
}

/* ---- The graph under construction
 * --------------------------------------------------------------------- */

static int ir_tensor(ld *L, const char *name, int n, const int *phys)
{
    int t = lfr__graph_add_tensor(L->g, name);
    if (t < 0) return oom(L), -1;
    L->g->tensors[t].n_dims = n;
    for (int i = 0; i < n; i++)
        L->g->tensors[t].dims[i] = phys[i];
    return t;
}

static void out_name(ld *L, char *buf, size_t cap)
{
    oval *o = out_val(L, 0);
    if (o)
        cstr(o->name, buf, cap);
    else
        snprintf(buf, cap, "node%d", L->cur);
}

/* Append op (output shape from lfr__op_infer_shape, or preset for RESHAPE)
 * and describe its output as an activation laid out as perm. */
static int emit(ld *L, lfr__op *op, const int *perm, oval *out)
{
    char name[64];
    out_name(L, name, sizeof name);
    op->index = L->cur;
    int t = lfr__graph_add_tensor(L->g, name);
    if (t < 0) return oom(L);
    lfr__tensor *T = &L->g->tensors[t];
    if (op->type == LFR__OP_RESHAPE) {
        T->n_dims = out->n;
        for (int j = 0; j < out->n; j++)
            T->dims[j] = (int)out->d[perm[j]];
    }
    op->out = t;
    int n, d[MAXR];
    const char *why = "";
    if (!lfr__op_infer_shape(L->g, op, &n, d, &why))
        return nfail(L, LFR_ERR_UNSUPPORTED, "%s: %s", lfr__op_name(op->type), why);
    size_t numel;
    if (!lfr__numel_ok(n, d, &numel))
        return nfail(L, LFR_ERR_TOO_LARGE, "output of %s too large", lfr__op_name(op->type));
    T = &L->g->tensors[t];
    T->n_dims = n;
    memcpy(T->dims, d, sizeof T->dims);
    if (lfr__graph_add_op(L->g, op) < 0) return oom(L);
    memset(out, 0, sizeof *out);
    out->state = 2;
    out->t = t;
    out->n = n;
    out->ir_static = out->alt_t = -1;
    for (int j = 0; j < n; j++) {
        out->perm[j] = perm[j];
        out->d[perm[j]] = d[j];
    }
    return LFR_OK;
}

/* A constant as a float static tensor, stored in layout perm. */
static int ir_static_perm(ld *L, oval *c, const int *perm, int n, const int64_t *ld_dims)
{
    int phys[MAXR];
    size_t numel = 1, lst[MAXR];
    for (int i = n - 1; i >= 0; i--) {
        lst[i] = numel;
        numel *= (size_t)ld_dims[i];
    }
    for (int j = 0; j < n; j++)
        phys[j] = (int)ld_dims[perm[j]];
    for (int j = 0; j < n; j++)
        if (phys[j] < 1) return nfail(L, LFR_ERR_UNSUPPORTED, "empty constant operand");
    char name[64];
    cstr(c->name, name, sizeof name);
    int t = ir_tensor(L, name[0] ? name : "const", n, phys);
    if (t < 0) return -1;
    float *d = lfr__graph_alloc(L->g, numel * sizeof(float));
    if (!d) return oom(L), -1;
    int idx[MAXR] = {0};
    for (size_t e = 0; e < numel; e++) {
        size_t src = 0;
        for (int j = 0; j < n; j++)
            src += (size_t)idx[j] * lst[perm[j]];
        d[e] = (float)cget(c, src);
        for (int j = n - 1; j >= 0; j--) {
            if (++idx[j] < phys[j]) break;
            idx[j] = 0;
        }
    }
    L->g->tensors[t].data = d;
    return t;
}

/* A constant as a static tensor in its own (row-major) layout. */
static int ir_static(ld *L, oval *c)
{
    if (c->ir_static >= 0) return c->ir_static;
    int perm[MAXR] = {0};
    set_identity(perm, c->n);
    if (c->n == 0) { /* a scalar: one element of rank 1 */
        int64_t one = 1;
        oval tmp = *c;
        tmp.n = 1;
        tmp.d[0] = one;
        c->ir_static = ir_static_perm(L, &tmp, perm, 1, tmp.d);
    } else {
        c->ir_static = ir_static_perm(L, c, perm, c->n, c->d);
    }
    return c->ir_static;
}

/* Whether layouts p and q store a tensor of logical dims d in the same
 * memory order (axes of size 1 can go anywhere). */
static int same_order(const int *p, const int *q, int n, const int64_t *d)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < n && d[p[i]] == 1)
            i++;
        while (j < n && d[q[j]] == 1)
            j++;
        if (i == n || j == n) return i == n && j == n;
        if (p[i++] != q[j++]) return 0;
    }
}

/* The tensor holding activation v in layout want (inserting a RESHAPE or
 * TRANSPOSE when v is stored otherwise). */
static int layout_as(ld *L, oval *v, const int *want)
{
    int n = v->n;
    if (memcmp(v->perm, want, (size_t)n * sizeof *want) == 0) return v->t;
    if (v->alt_t >= 0 && memcmp(v->alt_perm, want, (size_t)n * sizeof *want) == 0) return v->alt_t;
    lfr__op op = {.n_in = 1};
    op.in[0] = v->t;
    oval r = *v;
    if (same_order(v->perm, want, n, v->d)) {
        op.type = LFR__OP_RESHAPE;
    } else {
        int inv[MAXR];
        for (int j = 0; j < n; j++)
            inv[v->perm[j]] = j;
        op.type = LFR__OP_TRANSPOSE;
        for (int j = 0; j < n; j++)
            op.perm[j] = inv[want[j]];
    }
    if (emit(L, &op, want, &r)) return -1;
    v->alt_t = r.t;
    memcpy(v->alt_perm, want, sizeof v->alt_perm);
    return r.t;
}

/* Reshape activation v to logical dims d[m], without moving data when its
 * stored order allows (each group of merged or split axes contiguous and in
 * order), else after laying it out row-major. */
static int reshape_act(ld *L, oval *v, int m, const int64_t *d, oval *out)
{
    int n = v->n, ia[MAXR], ob[MAXR], nia = 0, nob = 0;
    int perm[MAXR], ok = 1;
    for (int i = 0; i < n; i++)
        if (v->d[i] != 1) ia[nia++] = i;
    for (int j = 0; j < m; j++)
        if (d[j] != 1) ob[nob++] = j;
    /* Stored position of each logical input axis of size > 1. */
    int pos[MAXR], k = 0;
    for (int j = 0; j < n; j++)
        if (v->d[v->perm[j]] != 1) pos[v->perm[j]] = k++;
    /* Groups of input axes matching groups of output axes. */
    int g_ia[MAXR], g_na[MAXR], g_ob[MAXR], g_nb[MAXR], ng = 0, i = 0, j = 0;
    while (ok && (i < nia || j < nob)) {
        if (i >= nia || j >= nob) {
            ok = 0;
            break;
        }
        g_ia[ng] = i;
        g_ob[ng] = j;
        int64_t pa = v->d[ia[i++]], pb = d[ob[j++]];
        while (pa != pb) {
            if (pa < pb) {
                if (i >= nia) break;
                pa *= v->d[ia[i++]];
            } else {
                if (j >= nob) break;
                pb *= d[ob[j++]];
            }
        }
        if (pa != pb) ok = 0;
        g_na[ng] = i - g_ia[ng];
        g_nb[ng] = j - g_ob[ng];
        for (int q = 1; ok && q < g_na[ng]; q++)
            if (pos[ia[g_ia[ng] + q]] != pos[ia[g_ia[ng]]] + q) ok = 0;
        ng++;
    }
    if (ok) {
        /* Output layout: groups in stored order; size-1 axes first. */
        int order[MAXR], w = 0, in_order = 1;
        for (int q = 0; q < ng; q++)
            order[q] = q;
        for (int a = 1; a < ng; a++)
            for (int b = a; b > 0 && pos[ia[g_ia[order[b]]]] < pos[ia[g_ia[order[b - 1]]]]; b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        for (int q = 0; q < ng; q++)
            in_order &= order[q] == q;
        if (in_order) {
            set_identity(perm, m);
        } else {
            for (int q = 0; q < m; q++)
                if (d[q] == 1) perm[w++] = q;
            for (int q = 0; q < ng; q++)
                for (int b = 0; b < g_nb[order[q]]; b++)
                    perm[w++] = ob[g_ob[order[q]] + b];
        }
    } else {
        int id[MAXR] = {0};
        set_identity(id, n);
        int t = layout_as(L, v, id);
        if (t < 0) return L->rc;
        oval tmp = *v;
        tmp.t = t;
        set_identity(tmp.perm, n);
        *v = tmp; /* the caller's copy now refers to the row-major tensor */
        set_identity(perm, m);
    }
    /* Same stored dims: the same tensor; else a RESHAPE (free between our kernels). */
    const lfr__tensor *T = &L->g->tensors[v->t];
    int same = T->n_dims == m;
    for (int q = 0; same && q < m; q++)
        same = T->dims[q] == d[perm[q]];
    memset(out, 0, sizeof *out);
    out->state = 2;
    out->n = m;
    memcpy(out->d, d, (size_t)m * sizeof *d);
    memcpy(out->perm, perm, (size_t)m * sizeof *perm);
    out->ir_static = out->alt_t = -1;
    if (same) {
        out->t = v->t;
        return LFR_OK;
    }
    lfr__op op = {.type = LFR__OP_RESHAPE, .n_in = 1};
    op.in[0] = v->t;
    return emit(L, &op, perm, out);
}

static int reshape_value(ld *L, oval *v, int m, const int64_t *d, oval *out)
{
    size_t a = cnumel(v), b = 1;
    for (int i = 0; i < m; i++)
        if (d[i] < 0 || d[i] > LFR__MAX_DIM || !lfr__mul_ok(b, (size_t)d[i], &b))
            return nfail(L, LFR_ERR_FORMAT, "dimension out of range");
    if (a != b) return nfail(L, LFR_ERR_FORMAT, "reshape from %zu to %zu elements", a, b);
    if (m > MAXR) return nfail(L, LFR_ERR_UNSUPPORTED, "more than %d dimensions", MAXR);
    if (is_const(v)) {
        *out = *v;
        out->n = m;
        memcpy(out->d, d, (size_t)m * sizeof *d);
        out->ir_static = -1;
        return LFR_OK;
    }
    oval copy = *v;
    int rc = reshape_act(L, &copy, m, d, out);
    if (copy.t != v->t) { /* remember the row-major copy */
        v->alt_t = copy.t;
        set_identity(v->alt_perm, v->n);
    }
    return rc;
}

/* ---- Constant folding
 * ------------------------------------------------------------------------------- */

static int bcast_shape(ld *L, const oval *a, const oval *b, int *n, int64_t *d)
{
    *n = a->n > b->n ? a->n : b->n;
    for (int i = 0; i < *n; i++) {
        int ia = i - (*n - a->n), ib = i - (*n - b->n);
        int64_t x = ia >= 0 ? a->d[ia] : 1, y = ib >= 0 ? b->d[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return nfail(L, LFR_ERR_FORMAT, "input shapes do not broadcast");
        d[i] = x == 1 ? y : x;
    }
    return LFR_OK;
}

/* Source index in v (broadcast to rank n, dims d) of output index idx. */
static size_t bcast_index(const oval *v, int n, const int *idx)
{
    size_t o = 0;
    for (int i = 0; i < v->n; i++) {
        int k = i + (n - v->n);
        o = o * (size_t)v->d[i] + (size_t)(v->d[i] == 1 ? 0 : idx[k]);
    }
    return o;
}

static int fold_binary(ld *L, ostr op, const oval *a, const oval *b)
{
    oval r;
    int n;
    int64_t d[MAXR];
    if (bcast_shape(L, a, b, &n, d)) return L->rc;
    int fl = a->ctype == CT_F32 || b->ctype == CT_F32;
    if (new_const(L, &r, fl ? CT_F32 : CT_I64, n, d)) return L->rc;
    size_t total = cnumel(&r);
    int idx[MAXR] = {0};
    for (size_t e = 0; e < total; e++) {
        size_t ia = bcast_index(a, n, idx), ib = bcast_index(b, n, idx);
        if (fl) {
            double x = cget(a, ia), y = cget(b, ib), z;
            if (ostr_is(op, "Add"))
                z = x + y;
            else if (ostr_is(op, "Sub"))
                z = x - y;
            else if (ostr_is(op, "Mul"))
                z = x * y;
            else if (ostr_is(op, "Div"))
                z = x / y;
            else if (ostr_is(op, "Max"))
                z = x > y ? x : y;
            else
                z = x < y ? x : y;
            ((float *)r.data)[e] = to_f32(z);
        } else {
            int64_t x = cgeti(a, ia), y = cgeti(b, ib), z;
            if (ostr_is(op, "Add"))
                z = (int64_t)((uint64_t)x + (uint64_t)y);
            else if (ostr_is(op, "Sub"))
                z = (int64_t)((uint64_t)x - (uint64_t)y);
            else if (ostr_is(op, "Mul"))
                z = (int64_t)((uint64_t)x * (uint64_t)y);
            else if (ostr_is(op, "Div")) {
                if (y == 0 || (x == INT64_MIN && y == -1))
                    return nfail(L, LFR_ERR_FORMAT, "integer division by zero or overflow");
                z = x / y;
            } else if (ostr_is(op, "Max"))
                z = x > y ? x : y;
            else
                z = x < y ? x : y;
            ((int64_t *)r.data)[e] = z;
        }
        for (int i = n - 1; i >= 0; i--) {
            if (++idx[i] < d[i]) break;
            idx[i] = 0;
        }
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

static int fold_transpose(ld *L, const oval *c, const int *perm, oval *r)
{
    int64_t d[MAXR];
    for (int i = 0; i < c->n; i++)
        d[i] = c->d[perm[i]];
    if (new_const(L, r, c->ctype, c->n, d)) return L->rc;
    size_t st[MAXR], e = 1, total = cnumel(c), w = ctype_size(c->ctype);
    for (int i = c->n - 1; i >= 0; i--) {
        st[i] = e;
        e *= (size_t)c->d[i];
    }
    int idx[MAXR] = {0};
    for (size_t k = 0; k < total; k++) {
        size_t src = 0;
        for (int i = 0; i < c->n; i++)
            src += (size_t)idx[i] * st[perm[i]];
        memcpy((uint8_t *)r->data + k * w, (const uint8_t *)c->data + src * w, w);
        for (int i = c->n - 1; i >= 0; i--) {
            if (++idx[i] < d[i]) break;
            idx[i] = 0;
        }
    }
    return LFR_OK;
}

/* ---- Node conversion
 * ---------------------------------------------------------------------------------- */

static int need_in(ld *L, int i, oval **out)
{
    *out = in_val(L, i);
    if (!*out) return nfail(L, LFR_ERR_FORMAT, "input %d is missing", i);
    if ((*out)->state == 0) return nfail(L, LFR_ERR_FORMAT, "input %d has no value", i);
    return LFR_OK;
}

static int need_act(ld *L, int i, oval **out)
{
    if (need_in(L, i, out)) return L->rc;
    if (!is_act(*out)) return nfail(L, LFR_ERR_UNSUPPORTED, "input %d is a constant", i);
    return LFR_OK;
}

/* Operand for a binary operator laid out as `perm` over rank n: a static
 * tensor for a constant, else the activation reshaped and re-laid out. */
static int operand(ld *L, oval *v, int n, const int *perm)
{
    int64_t d[MAXR];
    int k = n - v->n;
    for (int i = 0; i < n; i++)
        d[i] = i < k ? 1 : v->d[i - k];
    if (is_const(v)) {
        oval c = *v;
        c.n = n;
        memcpy(c.d, d, sizeof d);
        return ir_static_perm(L, &c, perm, n, d);
    }
    oval w = *v;
    if (k > 0) {
        if (reshape_value(L, v, n, d, &w)) return -1;
    }
    return layout_as(L, &w, perm);
}

static int emit_binary(ld *L, lfr__op_type type, oval *a, oval *b, oval *out)
{
    int n;
    int64_t d[MAXR];
    if (bcast_shape(L, a, b, &n, d)) return L->rc;
    if (n > MAXR) return nfail(L, LFR_ERR_UNSUPPORTED, "more than %d dimensions", MAXR);
    /* The reference layout: that of the highest-rank activation. */
    const oval *ref = is_act(a) && (!is_act(b) || a->n >= b->n) ? a : b;
    int perm[MAXR], k = n - ref->n;
    for (int i = 0; i < k; i++)
        perm[i] = i;
    for (int i = 0; i < ref->n; i++)
        perm[k + i] = ref->perm[i] + k;
    lfr__op op = {.type = type, .n_in = 2};
    if ((op.in[0] = operand(L, a, n, perm)) < 0 || (op.in[1] = operand(L, b, n, perm)) < 0)
        return L->rc ? L->rc : nfail(L, LFR_ERR_UNSUPPORTED, "operand layout");
    return emit(L, &op, perm, out);
}

static int emit_unary(ld *L, lfr__op *op, oval *x, oval *out)
{
    op->n_in = 1;
    op->in[0] = x->t;
    return emit(L, op, x->perm, out);
}

/* NHWC layout for a logical NCHW tensor. */
static const int NHWC[4] = {0, 2, 3, 1};

static int conv_pads(ld *L, int spatial_in[2], int k[2], int s[2], int dil[2], int pads[4])
{
    const oattr *ap = attr(L, "auto_pad");
    int mode = 0; /* NOTSET */
    if (ap && ap->s.n) {
        if (ostr_is(ap->s, "SAME_UPPER"))
            mode = 1;
        else if (ostr_is(ap->s, "SAME_LOWER"))
            mode = 2;
        else if (ostr_is(ap->s, "VALID"))
            mode = 3;
        else if (!ostr_is(ap->s, "NOTSET"))
            return nfail(L, LFR_ERR_UNSUPPORTED, "unknown auto_pad");
    }
    const oattr *p = attr(L, "pads");
    for (int i = 0; i < 4; i++)
        pads[i] = 0;
    if (mode == 0 && p) {
        if (p->n_ints != 4) return nfail(L, LFR_ERR_UNSUPPORTED, "pads must have 4 values (2-D)");
        /* ONNX: top, left, bottom, right (begins then ends). */
        for (int i = 0; i < 4; i++) {
            if (p->ints[i] < 0 || p->ints[i] > 4096)
                return nfail(L, LFR_ERR_FORMAT, "pad out of range");
            pads[i] = (int)p->ints[i];
        }
    } else if (mode == 1 || mode == 2) {
        for (int a = 0; a < 2; a++) {
            int64_t out = ((int64_t)spatial_in[a] + s[a] - 1) / s[a];
            int64_t total = (out - 1) * s[a] + ((int64_t)k[a] - 1) * dil[a] + 1 - spatial_in[a];
            if (total < 0) total = 0;
            if (total > 1 << 20) total = 1 << 20; /* refused later as out of range */
            int small = (int)(total / 2), big = (int)(total - total / 2);
            pads[a] = mode == 1 ? small : big;
            pads[a + 2] = mode == 1 ? big : small;
        }
    }
    return LFR_OK;
}

static int read_window(ld *L, const char *kname, int k[2], int s[2], int dil[2])
{
    const oattr *ks = attr(L, kname), *st = attr(L, "strides"), *dl = attr(L, "dilations");
    if (ks && ks->n_ints != 2)
        return nfail(L, LFR_ERR_UNSUPPORTED, "only 2-D windows are supported");
    for (int i = 0; i < 2; i++) {
        if (ks) k[i] = ks->ints[i] < 1 || ks->ints[i] > 4096 ? -1 : (int)ks->ints[i];
        s[i] = st && st->n_ints == 2 ? (int)(st->ints[i] < 1 || st->ints[i] > 64 ? -1 : st->ints[i])
                                     : 1;
        dil[i] = dl && dl->n_ints == 2
                     ? (int)(dl->ints[i] < 1 || dl->ints[i] > 64 ? -1 : dl->ints[i])
                     : 1;
        if (k[i] < 1 || s[i] < 1 || dil[i] < 1)
            return nfail(L, LFR_ERR_FORMAT, "kernel, stride or dilation out of range");
    }
    if ((st && st->n_ints != 2) || (dl && dl->n_ints != 2))
        return nfail(L, LFR_ERR_UNSUPPORTED, "only 2-D windows are supported");
    return LFR_OK;
}

static int finite_all(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

static int do_conv(ld *L)
{
    oval *x, *w, *b = in_val(L, 2);
    if (need_act(L, 0, &x) || need_in(L, 1, &w)) return L->rc;
    if (!is_const(w) || w->ctype != CT_F32)
        return nfail(L, LFR_ERR_UNSUPPORTED, "weights must be float constants");
    if (x->n != 4 || w->n != 4)
        return nfail(L, LFR_ERR_UNSUPPORTED, "only 2-D convolutions are supported");
    if (b && (!is_const(b) || b->ctype != CT_F32 || b->n != 1 || b->d[0] != w->d[0]))
        return nfail(L, LFR_ERR_FORMAT, "bias must be a float constant with one value per output");
    int64_t CO = w->d[0], CIg = w->d[1], KH = w->d[2], KW = w->d[3], CI = x->d[1];
    int64_t G = attr_i(L, "group", 1);
    if (G < 1 || G > CI || CI % G || CO % G || CIg * G != CI)
        return nfail(L, LFR_ERR_FORMAT,
                     "group %lld does not fit %lld input and %lld output channels", (long long)G,
                     (long long)CI, (long long)CO);
    int k[2] = {(int)KH, (int)KW}, s[2], dil[2], pads[4];
    if (read_window(L, "kernel_shape", k, s, dil)) return L->rc;
    if (k[0] != KH || k[1] != KW)
        return nfail(L, LFR_ERR_FORMAT, "kernel_shape differs from the weights");
    int sp[2] = {(int)x->d[2], (int)x->d[3]};
    if (conv_pads(L, sp, k, s, dil, pads)) return L->rc;
    size_t wn = cnumel(w);
    if (!finite_all(w->data, wn) || (b && !finite_all(b->data, (size_t)CO)))
        return nfail(L, LFR_ERR_FORMAT, "holds a non-finite weight");
    int dw = G == CI && CIg == 1 && G > 1;
    int phys[4] = {dw ? 1 : (int)CO, (int)KH, (int)KW, dw ? (int)CO : (int)CIg};
    char name[64];
    cstr(w->name, name, sizeof name);
    int wt = ir_tensor(L, name, 4, phys);
    float *wd = wt < 0 ? NULL : lfr__graph_alloc(L->g, wn * sizeof(float));
    if (!wd) return L->rc ? L->rc : oom(L);
    const float *src = w->data;
    for (int64_t co = 0; co < CO; co++)
        for (int64_t ci = 0; ci < CIg; ci++)
            for (int64_t ky = 0; ky < KH; ky++)
                for (int64_t kx = 0; kx < KW; kx++) {
                    float v = src[((co * CIg + ci) * KH + ky) * KW + kx];
                    if (dw)
                        wd[(ky * KW + kx) * CO + co] = v;
                    else
                        wd[((co * KH + ky) * KW + kx) * CIg + ci] = v;
                }
    L->g->tensors[wt].data = wd;
    lfr__op op = {.type = dw ? LFR__OP_DWCONV2D : LFR__OP_CONV2D,
                  .n_in = b ? 3 : 2,
                  .padding = LFR__PAD_EXPLICIT,
                  .stride_h = s[0],
                  .stride_w = s[1],
                  .dil_h = dil[0],
                  .dil_w = dil[1],
                  .groups = dw ? 1 : (int)G,
                  .depth_multiplier = dw ? (int)(CO / CI) : 1};
    memcpy(op.pad, pads, sizeof pads);
    if ((op.in[0] = layout_as(L, x, NHWC)) < 0) return L->rc;
    op.in[1] = wt;
    op.in[2] = -1;
    if (b && (op.in[2] = ir_static(L, b)) < 0) return L->rc;
    oval r;
    if (emit(L, &op, NHWC, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_maxpool(ld *L)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    if (x->n != 4) return nfail(L, LFR_ERR_UNSUPPORTED, "only 2-D pooling is supported");
    if (out_val(L, 1)) return nfail(L, LFR_ERR_UNSUPPORTED, "the Indices output is not supported");
    int k[2] = {0, 0}, s[2], dil[2], pads[4];
    if (!attr(L, "kernel_shape")) return nfail(L, LFR_ERR_FORMAT, "no kernel_shape");
    if (read_window(L, "kernel_shape", k, s, dil)) return L->rc;
    int sp[2] = {(int)x->d[2], (int)x->d[3]};
    if (conv_pads(L, sp, k, s, dil, pads)) return L->rc;
    if (attr_i(L, "ceil_mode", 0)) {
        /* Ceil mode: extra padding at the end (excluded from the maximum). */
        for (int a = 0; a < 2; a++) {
            int64_t ek = (int64_t)(k[a] - 1) * dil[a] + 1, span = sp[a] + pads[a] + pads[a + 2];
            int64_t outc = (span - ek + s[a] - 1) / s[a] + 1;
            if ((outc - 1) * s[a] >= sp[a] + pads[a]) outc--; /* last window must start inside */
            int64_t need = (outc - 1) * s[a] + ek - span;
            if (need > 0) pads[a + 2] += (int)need;
        }
    }
    lfr__op op = {.type = LFR__OP_MAXPOOL2D,
                  .n_in = 1,
                  .padding = LFR__PAD_EXPLICIT,
                  .filter_h = k[0],
                  .filter_w = k[1],
                  .stride_h = s[0],
                  .stride_w = s[1],
                  .dil_h = dil[0],
                  .dil_w = dil[1]};
    memcpy(op.pad, pads, sizeof pads);
    if ((op.in[0] = layout_as(L, x, NHWC)) < 0) return L->rc;
    oval r;
    if (emit(L, &op, NHWC, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

/* Reduce activation x over the logical axes in mask; keepdims or not. */
static int emit_reduce(ld *L, lfr__op_type type, oval *x, int mask, int keep)
{
    lfr__op op = {.type = type, .n_in = 1};
    op.in[0] = x->t;
    for (int j = 0; j < x->n; j++)
        if (mask >> x->perm[j] & 1) op.axes |= 1 << j;
    oval r;
    if (emit(L, &op, x->perm, &r)) return L->rc;
    if (!keep) {
        int64_t d[MAXR];
        int m = 0;
        for (int i = 0; i < x->n; i++)
            if (!(mask >> i & 1)) d[m++] = r.d[i];
        oval s;
        if (reshape_value(L, &r, m, d, &s)) return L->rc;
        r = s;
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_reduce(ld *L, lfr__op_type type)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    int64_t axes[MAXR];
    int n_axes = 0;
    oval *ai = in_val(L, 1);
    const oattr *aa = attr(L, "axes");
    if (ai) {
        if (const_ints(L, ai, axes, MAXR, &n_axes, "axes")) return L->rc;
    } else if (aa) {
        if (aa->n_ints > MAXR) return nfail(L, LFR_ERR_FORMAT, "too many axes");
        n_axes = aa->n_ints;
        memcpy(axes, aa->ints, (size_t)n_axes * sizeof *axes);
    }
    int mask = 0;
    if (n_axes == 0) {
        if (attr_i(L, "noop_with_empty_axes", 0)) {
            set_out(L, 0, x);
            return LFR_OK;
        }
        mask = (1 << x->n) - 1;
    }
    for (int i = 0; i < n_axes; i++) {
        int a = norm_axis(axes[i], x->n);
        if (a < 0 || (mask >> a & 1))
            return nfail(L, LFR_ERR_FORMAT, "axis out of range or repeated");
        mask |= 1 << a;
    }
    return emit_reduce(L, type, x, mask, attr_i(L, "keepdims", 1) != 0);
}

static int do_layernorm(ld *L)
{
    oval *x, *sc, *bi = in_val(L, 2);
    if (need_act(L, 0, &x) || need_in(L, 1, &sc)) return L->rc;
    if (out_val(L, 1) || out_val(L, 2))
        return nfail(L, LFR_ERR_UNSUPPORTED, "the Mean and InvStdDev outputs are not supported");
    int axis = norm_axis(attr_i(L, "axis", -1), x->n);
    if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
    if (!is_const(sc) || (bi && !is_const(bi)))
        return nfail(L, LFR_ERR_UNSUPPORTED, "scale and bias must be constants");
    /* Stored layout: the normalised axes last, in order. */
    int want[MAXR], w = 0;
    for (int j = 0; j < x->n; j++)
        if (x->perm[j] < axis) want[w++] = x->perm[j];
    for (int a = axis; a < x->n; a++)
        want[w++] = a;
    size_t inner = 1;
    for (int a = axis; a < x->n; a++)
        inner *= (size_t)x->d[a];
    lfr__op op = {.type = LFR__OP_LAYERNORM, .n_in = bi ? 3 : 2, .axis = axis};
    op.eps = attr_f(L, "epsilon", 1e-5f);
    if ((op.in[0] = layout_as(L, x, want)) < 0) return L->rc;
    for (int i = 1; i <= (bi ? 2 : 1); i++) {
        oval *c = i == 1 ? sc : bi;
        size_t cn = cnumel(c);
        if (cn != inner && cn != 1)
            return nfail(L, LFR_ERR_UNSUPPORTED, "scale and bias must cover the normalised axes");
        oval e = *c;
        if (cn == 1 && inner > 1) { /* broadcast a single value */
            int64_t d1 = (int64_t)inner;
            if (new_const(L, &e, CT_F32, 1, &d1)) return L->rc;
            for (size_t q = 0; q < inner; q++)
                ((float *)e.data)[q] = (float)cget(c, 0);
        }
        if ((op.in[i] = ir_static(L, i == 1 && cn == inner   ? sc
                                     : i == 2 && cn == inner ? bi
                                                             : &e)) < 0)
            return L->rc;
    }
    if (op.n_in < 3) op.in[2] = -1;
    oval r;
    if (emit(L, &op, want, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_softmax(ld *L)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    int axis = norm_axis(attr_i(L, "axis", L->opset >= 13 ? -1 : 1), x->n);
    if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
    oval v = *x;
    if (L->opset < 13 && axis != x->n - 1) {
        /* Before opset 13: over everything from axis on, as one row. */
        int64_t d[2] = {1, 1};
        for (int i = 0; i < x->n; i++)
            d[i >= axis] *= x->d[i];
        if (reshape_value(L, x, 2, d, &v)) return L->rc;
        axis = 1;
    }
    int want[MAXR], w = 0;
    for (int j = 0; j < v.n; j++)
        if (v.perm[j] != axis) want[w++] = v.perm[j];
    want[w++] = axis;
    lfr__op op = {.type = LFR__OP_SOFTMAX, .n_in = 1};
    if ((op.in[0] = layout_as(L, &v, want)) < 0) return L->rc;
    oval r;
    if (emit(L, &op, want, &r)) return L->rc;
    if (r.n != x->n) {
        oval s;
        if (reshape_value(L, &r, x->n, x->d, &s)) return L->rc;
        r = s;
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

/* A fully connected layer: x [.., K] times W [K, N] (as stored in ONNX),
 * plus bias [N]. */
static int emit_fc(ld *L, oval *x, const float *w, int64_t K, int64_t N, int transposed,
                   float alpha, const float *bias, float beta, oval *out)
{
    int want[MAXR], k = 0;
    for (int j = 0; j < x->n; j++)
        if (x->perm[j] != x->n - 1) want[k++] = x->perm[j];
    want[k] = x->n - 1;
    int phys[2] = {(int)N, (int)K};
    char name[64];
    snprintf(name, sizeof name, "weights%d", L->cur);
    int wt = ir_tensor(L, name, 2, phys);
    float *wd = wt < 0 ? NULL : lfr__graph_alloc(L->g, (size_t)(N * K) * sizeof(float));
    if (!wd) return L->rc ? L->rc : oom(L);
    for (int64_t n = 0; n < N; n++)
        for (int64_t q = 0; q < K; q++)
            wd[n * K + q] = alpha * (transposed ? w[n * K + q] : w[q * N + n]);
    if (!finite_all(wd, (size_t)(N * K)))
        return nfail(L, LFR_ERR_FORMAT, "holds a non-finite weight");
    L->g->tensors[wt].data = wd;
    lfr__op op = {.type = LFR__OP_FULLY_CONNECTED, .n_in = bias ? 3 : 2};
    if ((op.in[0] = layout_as(L, x, want)) < 0) return L->rc;
    op.in[1] = wt;
    op.in[2] = -1;
    if (bias) {
        int bp[1] = {(int)N};
        snprintf(name, sizeof name, "bias%d", L->cur);
        int bt = ir_tensor(L, name, 1, bp);
        float *bd = bt < 0 ? NULL : lfr__graph_alloc(L->g, (size_t)N * sizeof(float));
        if (!bd) return L->rc ? L->rc : oom(L);
        for (int64_t n = 0; n < N; n++)
            bd[n] = beta * bias[n];
        L->g->tensors[bt].data = bd;
        op.in[2] = bt;
    }
    return emit(L, &op, want, out);
}

static int do_matmul(ld *L)
{
    oval *a, *b;
    if (need_in(L, 0, &a) || need_in(L, 1, &b)) return L->rc;
    if (!is_act(a)) return nfail(L, LFR_ERR_UNSUPPORTED, "the first input must be computed");
    if (a->n < 2 || b->n < 2)
        return nfail(L, LFR_ERR_UNSUPPORTED, "vector operands are not supported");
    oval r;
    if (is_const(b) && b->n == 2) {
        if (b->ctype != CT_F32) return nfail(L, LFR_ERR_UNSUPPORTED, "integer weights");
        if (b->d[0] != a->d[a->n - 1]) return nfail(L, LFR_ERR_FORMAT, "inner dimensions differ");
        if (emit_fc(L, a, b->data, b->d[0], b->d[1], 0, 1.0f, NULL, 0, &r)) return L->rc;
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (a->n != b->n) return nfail(L, LFR_ERR_UNSUPPORTED, "operands of different ranks");
    int n = a->n, id[MAXR], tb[MAXR];
    set_identity(id, n);
    set_identity(tb, n);
    tb[n - 2] = n - 1;
    tb[n - 1] = n - 2;
    lfr__op op = {.type = LFR__OP_MATMUL, .n_in = 2};
    if ((op.in[0] = layout_as(L, a, id)) < 0) return L->rc;
    if (is_const(b)) {
        if ((op.in[1] = ir_static(L, b)) < 0) return L->rc;
    } else if (same_order(b->perm, tb, n, b->d) && !same_order(b->perm, id, n, b->d)) {
        op.trans_b = 1;
        if ((op.in[1] = layout_as(L, b, tb)) < 0) return L->rc;
    } else if ((op.in[1] = layout_as(L, b, id)) < 0) {
        return L->rc;
    }
    if (emit(L, &op, id, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_gemm(ld *L)
{
    oval *a, *b, *c = in_val(L, 2);
    if (need_act(L, 0, &a) || need_in(L, 1, &b)) return L->rc;
    if (a->n != 2 || b->n != 2) return nfail(L, LFR_ERR_FORMAT, "inputs must be 2-D");
    if (!is_const(b) || b->ctype != CT_F32)
        return nfail(L, LFR_ERR_UNSUPPORTED, "B must be a float constant");
    oval at = *a;
    if (attr_i(L, "transA", 0)) { /* relabel: A^T */
        at.d[0] = a->d[1];
        at.d[1] = a->d[0];
        for (int j = 0; j < 2; j++)
            at.perm[j] = 1 - a->perm[j];
        at.alt_t = -1;
    }
    int tb = attr_i(L, "transB", 0) != 0;
    int64_t K = tb ? b->d[1] : b->d[0], N = tb ? b->d[0] : b->d[1];
    if (K != at.d[1]) return nfail(L, LFR_ERR_FORMAT, "inner dimensions differ");
    float alpha = attr_f(L, "alpha", 1.0f), beta = attr_f(L, "beta", 1.0f);
    const float *bias = NULL;
    oval bc;
    if (c) {
        if (!is_const(c)) return nfail(L, LFR_ERR_UNSUPPORTED, "C must be a constant");
        size_t cn = cnumel(c);
        if (cn != 1 && cn != (size_t)N)
            return nfail(L, LFR_ERR_UNSUPPORTED, "C must hold one value or one per output");
        int64_t dn = N;
        if (new_const(L, &bc, CT_F32, 1, &dn)) return L->rc;
        for (int64_t i = 0; i < N; i++)
            ((float *)bc.data)[i] = (float)cget(c, cn == 1 ? 0 : (size_t)i);
        bias = bc.data;
    }
    oval r;
    if (emit_fc(L, &at, b->data, K, N, tb, alpha, bias, beta, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_resize(ld *L, int upsample)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    if (x->n != 4) return nfail(L, LFR_ERR_UNSUPPORTED, "only 4-D (NCHW) inputs are supported");
    double scale[4] = {1, 1, 1, 1};
    int64_t out[4];
    oval *sizes = NULL, *scales = NULL;
    if (upsample || L->opset < 11) {
        scales = in_val(L, 1);
        const oattr *sa = attr(L, "scales");
        if (!scales && sa && sa->n_floats == 4)
            for (int i = 0; i < 4; i++)
                scale[i] = sa->floats[i];
    } else {
        scales = in_val(L, 2);
        sizes = in_val(L, 3);
    }
    if (sizes && cnumel(sizes) == 0) sizes = NULL;
    if (scales && is_const(scales) && cnumel(scales) == 0) scales = NULL;
    if (sizes) {
        int64_t sz[4];
        int n;
        if (const_ints(L, sizes, sz, 4, &n, "sizes")) return L->rc;
        if (n != 4) return nfail(L, LFR_ERR_UNSUPPORTED, "sizes must have 4 values");
        for (int i = 0; i < 4; i++) {
            out[i] = sz[i];
            scale[i] = (double)sz[i] / (double)x->d[i];
        }
    } else {
        if (scales) {
            if (!is_const(scales) || scales->ctype != CT_F32 || cnumel(scales) != 4)
                return nfail(L, LFR_ERR_UNSUPPORTED, "scales must be a constant of 4 values");
            for (int i = 0; i < 4; i++)
                scale[i] = ((const float *)scales->data)[i];
        }
        for (int i = 0; i < 4; i++) {
            if (!(scale[i] > 0 && scale[i] <= 4096))
                return nfail(L, LFR_ERR_FORMAT, "scale out of range");
            out[i] = (int64_t)floor((double)x->d[i] * scale[i]);
        }
    }
    if (out[0] != x->d[0] || out[1] != x->d[1])
        return nfail(L, LFR_ERR_UNSUPPORTED, "only height and width can be resized");
    for (int i = 2; i < 4; i++)
        if (out[i] < 1 || out[i] > LFR__MAX_DIM)
            return nfail(L, LFR_ERR_FORMAT, "output size out of range");
    int linear = attr_s(L, "mode", "nearest", "linear") || attr_s(L, "mode", "nearest", "bilinear");
    if (!linear && !attr_s(L, "mode", "nearest", "nearest"))
        return nfail(L, LFR_ERR_UNSUPPORTED, "only nearest and linear modes are supported");
    const char *ctm_default = upsample || L->opset < 11 ? "asymmetric" : "half_pixel";
    int ctm;
    const char *modes[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                           "tf_half_pixel_for_nn"};
    for (ctm = 0; ctm < 5; ctm++)
        if (attr_s(L, "coordinate_transformation_mode", ctm_default, modes[ctm])) break;
    if (ctm == 5)
        return nfail(L, LFR_ERR_UNSUPPORTED, "coordinate transformation mode not supported");
    oval r;
    if (!linear) {
        /* Nearest: supported when every output pixel maps to in[o / s]. */
        int nm; /* round_prefer_floor, round_prefer_ceil, floor, ceil */
        const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        const char *nm_default = upsample || L->opset < 11 ? "floor" : "round_prefer_floor";
        for (nm = 0; nm < 4; nm++)
            if (attr_s(L, "nearest_mode", nm_default, nms[nm])) break;
        if (nm == 4) return nfail(L, LFR_ERR_UNSUPPORTED, "nearest mode not supported");
        int sf[2];
        for (int a = 0; a < 2; a++) {
            int64_t in = x->d[2 + a], o = out[2 + a];
            if (o % in)
                return nfail(L, LFR_ERR_UNSUPPORTED, "nearest resize by a non-integer factor");
            sf[a] = (int)(o / in);
            if (sf[a] > 64) return nfail(L, LFR_ERR_UNSUPPORTED, "up-sampling factor above 64");
            for (int64_t q = 0; q < o; q++) {
                double s = scale[2 + a], v;
                switch (ctm) {
                case 0:
                    v = ((double)q + 0.5) / s - 0.5;
                    break;
                case 1:
                    v = (double)q / s;
                    break;
                case 2:
                    v = o > 1 ? (double)q * (double)(in - 1) / (double)(o - 1) : 0;
                    break;
                case 3:
                    v = o > 1 ? ((double)q + 0.5) / s - 0.5 : 0;
                    break;
                default:
                    v = ((double)q + 0.5) / s;
                }
                double iv = nm == 0   ? ceil(v - 0.5)
                            : nm == 1 ? floor(v + 0.5)
                            : nm == 2 ? floor(v)
                                      : ceil(v);
                if (iv < 0) iv = 0;
                if (iv > (double)(in - 1)) iv = (double)(in - 1);
                if ((int64_t)iv != q / sf[a])
                    return nfail(L, LFR_ERR_UNSUPPORTED,
                                 "nearest resize mapping other than "
                                 "whole-pixel repetition");
            }
        }
        lfr__op op = {
            .type = LFR__OP_RESIZE_NEAREST, .n_in = 1, .scale_h = sf[0], .scale_w = sf[1]};
        if ((op.in[0] = layout_as(L, x, NHWC)) < 0) return L->rc;
        if (emit(L, &op, NHWC, &r)) return L->rc;
    } else {
        if (ctm != 1 && ctm != 2)
            return nfail(L, LFR_ERR_UNSUPPORTED,
                         "linear resize supports the asymmetric and "
                         "align_corners modes only");
        int sz[1] = {2};
        int st = ir_tensor(L, "size", 1, sz);
        int32_t *sd = st < 0 ? NULL : lfr__graph_alloc(L->g, 2 * sizeof(int32_t));
        if (!sd) return L->rc ? L->rc : oom(L);
        sd[0] = (int32_t)out[2];
        sd[1] = (int32_t)out[3];
        L->g->tensors[st].idata = sd;
        lfr__op op = {.type = LFR__OP_RESIZE_BILINEAR, .n_in = 2, .align_corners = ctm == 2};
        if ((op.in[0] = layout_as(L, x, NHWC)) < 0) return L->rc;
        op.in[1] = st;
        if (emit(L, &op, NHWC, &r)) return L->rc;
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_split(ld *L)
{
    oval *x;
    if (need_in(L, 0, &x)) return L->rc;
    int axis = norm_axis(attr_i(L, "axis", 0), x->n);
    if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
    int n_out = L->nodes[L->cur].n_out;
    int64_t sizes[MAX_NODE_IO];
    int n_sizes = 0;
    oval *si = in_val(L, 1);
    const oattr *sa = attr(L, "split");
    if (si) {
        if (const_ints(L, si, sizes, MAX_NODE_IO, &n_sizes, "split")) return L->rc;
    } else if (sa) {
        n_sizes = sa->n_ints;
        memcpy(sizes, sa->ints, (size_t)n_sizes * sizeof *sizes);
    } else {
        int64_t dim = x->d[axis], each = (dim + n_out - 1) / n_out;
        for (int i = 0; i < n_out; i++) {
            int64_t rest = dim - each * i;
            sizes[i] = rest < each ? rest : each;
        }
        n_sizes = n_out;
    }
    if (n_sizes != n_out)
        return nfail(L, LFR_ERR_FORMAT, "%d sizes for %d outputs", n_sizes, n_out);
    int64_t at = 0;
    for (int i = 0; i < n_out; i++) {
        if (sizes[i] < 1 || sizes[i] > x->d[axis] - at)
            return nfail(L, LFR_ERR_FORMAT, "split sizes do not add up to the axis");
        at += sizes[i];
    }
    if (at != x->d[axis]) return nfail(L, LFR_ERR_FORMAT, "split sizes do not add up to the axis");
    at = 0;
    for (int i = 0; i < n_out; i++) {
        oval r;
        if (is_const(x)) {
            int64_t d[MAXR];
            memcpy(d, x->d, sizeof d);
            d[axis] = sizes[i];
            if (new_const(L, &r, x->ctype, x->n, d)) return L->rc;
            size_t outer = 1, inner = 1, w = ctype_size(x->ctype);
            for (int q = 0; q < axis; q++)
                outer *= (size_t)x->d[q];
            for (int q = axis + 1; q < x->n; q++)
                inner *= (size_t)x->d[q];
            for (size_t o = 0; o < outer; o++)
                memcpy((uint8_t *)r.data + o * (size_t)sizes[i] * inner * w,
                       (const uint8_t *)x->data + (o * (size_t)x->d[axis] + (size_t)at) * inner * w,
                       (size_t)sizes[i] * inner * w);
        } else {
            int j = 0;
            while (x->perm[j] != axis)
                j++;
            lfr__op op = {.type = LFR__OP_SLICE,
                          .n_in = 1,
                          .axis = j,
                          .begin = (int)at,
                          .size = (int)sizes[i]};
            op.in[0] = x->t;
            if (emit(L, &op, x->perm, &r)) return L->rc;
        }
        at += sizes[i];
        set_out(L, i, &r);
    }
    return LFR_OK;
}

static int do_concat(ld *L)
{
    int n = n_inputs(L), all_const = 1;
    oval *first = NULL;
    for (int i = 0; i < n; i++) {
        oval *v;
        if (need_in(L, i, &v)) return L->rc;
        if (is_act(v) && !first) first = v;
        all_const &= is_const(v);
    }
    oval *x0 = in_val(L, 0);
    int axis = norm_axis(attr_i(L, "axis", 0), x0->n);
    if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
    int64_t d[MAXR];
    memcpy(d, x0->d, sizeof d);
    d[axis] = 0;
    for (int i = 0; i < n; i++) {
        oval *v = in_val(L, i);
        if (v->n != x0->n) return nfail(L, LFR_ERR_FORMAT, "input ranks differ");
        for (int q = 0; q < v->n; q++)
            if (q != axis && v->d[q] != x0->d[q])
                return nfail(L, LFR_ERR_FORMAT, "input shapes differ");
        d[axis] += v->d[axis];
    }
    oval r;
    if (all_const) {
        int ct = x0->ctype;
        for (int i = 0; i < n; i++)
            if (in_val(L, i)->ctype != ct) ct = CT_F32;
        if (new_const(L, &r, ct, x0->n, d)) return L->rc;
        size_t outer = 1, inner = 1, off = 0, w = ctype_size(ct);
        for (int q = 0; q < axis; q++)
            outer *= (size_t)d[q];
        for (int q = axis + 1; q < x0->n; q++)
            inner *= (size_t)d[q];
        for (int i = 0; i < n; i++) {
            oval *v = in_val(L, i);
            size_t chunk = (size_t)v->d[axis] * inner;
            for (size_t o = 0; o < outer; o++)
                for (size_t e = 0; e < chunk; e++) {
                    size_t dst = o * (size_t)d[axis] * inner + off + e, src = o * chunk + e;
                    if (ct == v->ctype)
                        memcpy((uint8_t *)r.data + dst * w, (const uint8_t *)v->data + src * w, w);
                    else
                        ((float *)r.data)[dst] = (float)cget(v, src);
                }
            off += chunk;
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (n > LFR__MAX_OP_IN)
        return nfail(L, LFR_ERR_UNSUPPORTED, "more than %d inputs", LFR__MAX_OP_IN);
    lfr__op op = {.type = LFR__OP_CONCAT, .n_in = n};
    for (int i = 0; i < n; i++) {
        oval *v = in_val(L, i);
        if ((op.in[i] = is_const(v) ? ir_static_perm(L, v, first->perm, v->n, v->d)
                                    : layout_as(L, v, first->perm)) < 0)
            return L->rc;
    }
    int j = 0;
    while (first->perm[j] != axis)
        j++;
    op.axis = j;
    if (emit(L, &op, first->perm, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

/* Slice with constant starts, ends, axes and steps (steps of 1 for
 * activations). */
static int do_slice(ld *L)
{
    oval *x;
    if (need_in(L, 0, &x)) return L->rc;
    int64_t starts[MAXR], ends[MAXR], axes[MAXR], steps[MAXR];
    int ns, ne, na = -1, nst = -1;
    if (L->opset < 10) {
        const oattr *s = attr(L, "starts"), *e = attr(L, "ends"), *a = attr(L, "axes");
        if (!s || !e || s->n_ints > MAXR || e->n_ints > MAXR)
            return nfail(L, LFR_ERR_FORMAT, "starts and ends required");
        ns = s->n_ints;
        ne = e->n_ints;
        memcpy(starts, s->ints, (size_t)ns * sizeof *starts);
        memcpy(ends, e->ints, (size_t)ne * sizeof *ends);
        if (a) {
            if (a->n_ints > MAXR) return nfail(L, LFR_ERR_FORMAT, "too many axes");
            na = a->n_ints;
            memcpy(axes, a->ints, (size_t)na * sizeof *axes);
        }
    } else {
        oval *s, *e;
        if (need_in(L, 1, &s) || need_in(L, 2, &e)) return L->rc;
        if (const_ints(L, s, starts, MAXR, &ns, "starts") ||
            const_ints(L, e, ends, MAXR, &ne, "ends"))
            return L->rc;
        if (in_val(L, 3) && const_ints(L, in_val(L, 3), axes, MAXR, &na, "axes")) return L->rc;
        if (in_val(L, 4) && const_ints(L, in_val(L, 4), steps, MAXR, &nst, "steps")) return L->rc;
    }
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return nfail(L, LFR_ERR_FORMAT, "starts, ends, axes and steps differ in length");
    int64_t b[MAXR], len[MAXR], st[MAXR];
    for (int i = 0; i < x->n; i++) {
        b[i] = 0;
        len[i] = x->d[i];
        st[i] = 1;
    }
    int seen = 0;
    for (int i = 0; i < ns; i++) {
        int a = norm_axis(na >= 0 ? axes[i] : i, x->n);
        if (a < 0 || (seen >> a & 1))
            return nfail(L, LFR_ERR_FORMAT, "axis out of range or repeated");
        seen |= 1 << a;
        int64_t dim = x->d[a], s = starts[i], e = ends[i], step = nst >= 0 ? steps[i] : 1;
        if (step == 0 || step < -LFR__MAX_DIM || step > LFR__MAX_DIM)
            return nfail(L, LFR_ERR_FORMAT, "step out of range");
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            len[a] = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            len[a] = s > e ? (s - e + (-step) - 1) / (-step) : 0;
        }
        b[a] = s;
        st[a] = step;
        if (len[a] < 1) return nfail(L, LFR_ERR_UNSUPPORTED, "empty slice");
    }
    oval r;
    if (is_const(x)) {
        if (new_const(L, &r, x->ctype, x->n, len)) return L->rc;
        size_t xs[MAXR], e = 1, total = cnumel(&r), w = ctype_size(x->ctype);
        for (int i = x->n - 1; i >= 0; i--) {
            xs[i] = e;
            e *= (size_t)x->d[i];
        }
        int idx[MAXR] = {0};
        for (size_t k = 0; k < total; k++) {
            size_t src = 0;
            for (int i = 0; i < x->n; i++)
                src += (size_t)(b[i] + idx[i] * st[i]) * xs[i];
            memcpy((uint8_t *)r.data + k * w, (const uint8_t *)x->data + src * w, w);
            for (int i = x->n - 1; i >= 0; i--) {
                if (++idx[i] < len[i]) break;
                idx[i] = 0;
            }
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    r = *x;
    for (int a = 0; a < x->n; a++) {
        if (len[a] == x->d[a]) continue;
        if (st[a] != 1) return nfail(L, LFR_ERR_UNSUPPORTED, "slices with steps other than 1");
        int j = 0;
        while (r.perm[j] != a)
            j++;
        lfr__op op = {
            .type = LFR__OP_SLICE, .n_in = 1, .axis = j, .begin = (int)b[a], .size = (int)len[a]};
        op.in[0] = r.t;
        oval nr;
        if (emit(L, &op, r.perm, &nr)) return L->rc;
        r = nr;
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_pad(ld *L)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    if (!attr_s(L, "mode", "constant", "constant"))
        return nfail(L, LFR_ERR_UNSUPPORTED, "only constant padding is supported");
    int64_t pads[2 * MAXR];
    int np = 0;
    if (L->opset < 11) {
        const oattr *p = attr(L, "pads");
        if (!p || p->n_ints > 2 * MAXR) return nfail(L, LFR_ERR_FORMAT, "pads required");
        np = p->n_ints;
        memcpy(pads, p->ints, (size_t)np * sizeof *pads);
        if (attr_f(L, "value", 0.0f) != 0.0f)
            return nfail(L, LFR_ERR_UNSUPPORTED, "only zero padding is supported");
    } else {
        oval *p, *cv = in_val(L, 2);
        if (need_in(L, 1, &p) || const_ints(L, p, pads, 2 * MAXR, &np, "pads")) return L->rc;
        if (cv && (!is_const(cv) || cnumel(cv) != 1 || cget(cv, 0) != 0))
            return nfail(L, LFR_ERR_UNSUPPORTED, "only zero padding is supported");
        if (in_val(L, 3)) return nfail(L, LFR_ERR_UNSUPPORTED, "the axes input is not supported");
    }
    if (np != 2 * x->n) return nfail(L, LFR_ERR_FORMAT, "pads must have two values per axis");
    int sz[2] = {x->n, 2};
    int pt = ir_tensor(L, "pads", 2, sz);
    int32_t *pd = pt < 0 ? NULL : lfr__graph_alloc(L->g, (size_t)(2 * x->n) * sizeof(int32_t));
    if (!pd) return L->rc ? L->rc : oom(L);
    for (int j = 0; j < x->n; j++) {
        int64_t a = pads[x->perm[j]], c = pads[x->perm[j] + x->n];
        if (a < 0 || c < 0 || a > 4096 || c > 4096)
            return nfail(L, LFR_ERR_UNSUPPORTED, "negative or huge padding");
        pd[2 * j] = (int32_t)a;
        pd[2 * j + 1] = (int32_t)c;
    }
    L->g->tensors[pt].idata = pd;
    lfr__op op = {.type = LFR__OP_PAD, .n_in = 2};
    op.in[0] = x->t;
    op.in[1] = pt;
    oval r;
    if (emit(L, &op, x->perm, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

/* PRelu / LeakyRelu: a slope per element of the stored last axis. */
static int do_prelu(ld *L, int leaky)
{
    oval *x, *sl = NULL;
    if (need_act(L, 0, &x)) return L->rc;
    if (!leaky && (need_in(L, 1, &sl) || !is_const(sl)))
        return L->rc ? L->rc : nfail(L, LFR_ERR_UNSUPPORTED, "slope must be a constant");
    int last = x->perm[x->n - 1];
    int64_t C = x->d[last];
    int64_t dn = C;
    oval s;
    if (new_const(L, &s, CT_F32, 1, &dn)) return L->rc;
    if (leaky) {
        for (int64_t c = 0; c < C; c++)
            ((float *)s.data)[c] = attr_f(L, "alpha", 0.01f);
    } else {
        if (sl->n > x->n) return nfail(L, LFR_ERR_FORMAT, "slope of higher rank than the input");
        size_t sn = cnumel(sl);
        int k = x->n - sl->n;
        /* The slope may vary only along the stored last axis. */
        for (int i = 0; i < sl->n; i++)
            if (sl->d[i] != 1 && !(i + k == last && sl->d[i] == C))
                return nfail(L, LFR_ERR_UNSUPPORTED, "slope must vary along the channel axis only");
        for (int64_t c = 0; c < C; c++)
            ((float *)s.data)[c] = (float)cget(sl, sn == 1 ? 0 : (size_t)c);
    }
    lfr__op op = {.type = LFR__OP_PRELU, .n_in = 2};
    op.in[0] = x->t;
    if ((op.in[1] = ir_static(L, &s)) < 0) return L->rc;
    oval r;
    if (emit(L, &op, x->perm, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_batchnorm(ld *L)
{
    oval *x, *sc, *b, *mean, *var;
    if (need_act(L, 0, &x) || need_in(L, 1, &sc) || need_in(L, 2, &b) || need_in(L, 3, &mean) ||
        need_in(L, 4, &var))
        return L->rc;
    if (out_val(L, 1) || out_val(L, 2) || attr_i(L, "training_mode", 0))
        return nfail(L, LFR_ERR_UNSUPPORTED, "training mode is not supported");
    if (x->n < 2) return nfail(L, LFR_ERR_FORMAT, "input needs a channel axis");
    int64_t C = x->d[1];
    oval *p[4] = {sc, b, mean, var};
    for (int i = 0; i < 4; i++)
        if (!is_const(p[i]) || cnumel(p[i]) != (size_t)C)
            return nfail(L, LFR_ERR_UNSUPPORTED,
                         "parameters must be constants with one value per channel");
    float eps = attr_f(L, "epsilon", 1e-5f);
    int64_t d[MAXR];
    for (int i = 0; i < x->n; i++)
        d[i] = i == 1 ? C : 1;
    oval m, a;
    if (new_const(L, &m, CT_F32, x->n, d) || new_const(L, &a, CT_F32, x->n, d)) return L->rc;
    for (int64_t c = 0; c < C; c++) {
        double s = cget(sc, (size_t)c) / sqrt(cget(var, (size_t)c) + eps);
        ((float *)m.data)[c] = to_f32(s);
        ((float *)a.data)[c] = to_f32(cget(b, (size_t)c) - cget(mean, (size_t)c) * s);
    }
    oval t1, r;
    if (emit_binary(L, LFR__OP_MUL, x, &m, &t1) || emit_binary(L, LFR__OP_ADD, &t1, &a, &r))
        return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_clip(ld *L)
{
    oval *x;
    if (need_act(L, 0, &x)) return L->rc;
    float lo = -INFINITY, hi = INFINITY;
    if (L->opset < 11) {
        lo = attr_f(L, "min", -INFINITY);
        hi = attr_f(L, "max", INFINITY);
    } else {
        oval *a = in_val(L, 1), *b = in_val(L, 2);
        if ((a && (!is_const(a) || cnumel(a) != 1)) || (b && (!is_const(b) || cnumel(b) != 1)))
            return nfail(L, LFR_ERR_UNSUPPORTED, "bounds must be constants");
        if (a) lo = (float)cget(a, 0);
        if (b) hi = (float)cget(b, 0);
    }
    if (!(lo <= hi)) return nfail(L, LFR_ERR_FORMAT, "bounds out of order");
    lfr__op op = {.type = LFR__OP_CLAMP, .lo = lo, .hi = hi};
    if (lo == 0 && isinf(hi))
        op.type = LFR__OP_RELU;
    else if (lo == 0 && hi == 6)
        op.type = LFR__OP_RELU6;
    oval r;
    if (emit_unary(L, &op, x, &r)) return L->rc;
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_dequantize(ld *L)
{
    oval *x, *s, *z = in_val(L, 2);
    if (need_in(L, 0, &x) || need_in(L, 1, &s)) return L->rc;
    if (!is_const(x) || !is_const(s) || (z && !is_const(z)))
        return nfail(L, LFR_ERR_UNSUPPORTED, "only constant (weight) dequantisation is supported");
    if (x->ctype == CT_F32 || s->ctype != CT_F32)
        return nfail(L, LFR_ERR_FORMAT, "wrong element types (integer input, float scale)");
    if (z && z->ctype != x->ctype)
        return nfail(L, LFR_ERR_FORMAT, "zero point type differs from the input's");
    size_t sn = cnumel(s), n = cnumel(x);
    int axis = -1;
    size_t inner = 1, dim = 1;
    if (sn > 1) {
        axis = norm_axis(attr_i(L, "axis", 1), x->n);
        if (axis < 0 || s->n != 1 || (size_t)x->d[axis] != sn)
            return nfail(L, LFR_ERR_FORMAT, "per-axis scale does not match the axis");
        for (int i = axis + 1; i < x->n; i++)
            inner *= (size_t)x->d[i];
        dim = sn;
    }
    if (z && cnumel(z) != sn)
        return nfail(L, LFR_ERR_FORMAT, "zero point and scale differ in size");
    oval r;
    if (new_const(L, &r, CT_F32, x->n, x->d)) return L->rc;
    for (size_t i = 0; i < n; i++) {
        size_t c = axis < 0 ? 0 : (i / inner) % dim;
        double v = (cget(x, i) - (z ? cget(z, c) : 0)) * cget(s, c);
        ((float *)r.data)[i] = to_f32(v);
    }
    set_out(L, 0, &r);
    return LFR_OK;
}

static int do_shape_ops(ld *L, ostr op, int *handled)
{
    *handled = 1;
    oval *x = in_val(L, 0), r;
    if (ostr_is(op, "Shape") || ostr_is(op, "Size")) {
        if (need_in(L, 0, &x)) return L->rc;
        if (ostr_is(op, "Size")) {
            if (new_const(L, &r, CT_I64, 0, NULL)) return L->rc;
            ((int64_t *)r.data)[0] = (int64_t)cnumel(x);
        } else {
            int64_t n = x->n, s = attr_i(L, "start", 0), e = attr_i(L, "end", n);
            if (s < 0) s += n;
            if (e < 0) e += n;
            s = s < 0 ? 0 : s > n ? n : s;
            e = e < 0 ? 0 : e > n ? n : e;
            int64_t len = e > s ? e - s : 0;
            if (new_const(L, &r, CT_I64, 1, &len)) return L->rc;
            for (int64_t i = s; i < e; i++)
                ((int64_t *)r.data)[i - s] = x->d[i];
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Identity") || ostr_is(op, "Dropout")) {
        if (need_in(L, 0, &x)) return L->rc;
        if (ostr_is(op, "Dropout") && out_val(L, 1))
            return nfail(L, LFR_ERR_UNSUPPORTED, "the mask output is not supported");
        set_out(L, 0, x);
        return LFR_OK;
    }
    if (ostr_is(op, "Cast")) {
        if (need_in(L, 0, &x)) return L->rc;
        int64_t to = attr_i(L, "to", 0);
        if (!dtype_size((int)to))
            return nfail(L, LFR_ERR_UNSUPPORTED, "cast to type %lld", (long long)to);
        int ct = ctype_of((int)to);
        if (is_act(x)) {
            if (ct != CT_F32)
                return nfail(L, LFR_ERR_UNSUPPORTED, "only casts to float on computed tensors");
            set_out(L, 0, x);
            return LFR_OK;
        }
        if (new_const(L, &r, ct == CT_F32 ? CT_F32 : CT_I64, x->n, x->d)) return L->rc;
        for (size_t i = 0; i < cnumel(x); i++) {
            if (r.ctype == CT_F32)
                ((float *)r.data)[i] = (float)cget(x, i);
            else
                ((int64_t *)r.data)[i] = cgeti(x, i);
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Reshape") || ostr_is(op, "Flatten") || ostr_is(op, "Squeeze") ||
        ostr_is(op, "Unsqueeze")) {
        if (need_in(L, 0, &x)) return L->rc;
        int64_t d[MAXR], v[MAXR];
        int m = 0, nv = 0;
        if (ostr_is(op, "Reshape")) {
            oval *s;
            if (need_in(L, 1, &s) || const_ints(L, s, v, MAXR, &nv, "shape")) return L->rc;
            int allowzero = attr_i(L, "allowzero", 0) != 0, infer = -1;
            size_t known = 1;
            for (int i = 0; i < nv; i++) {
                if (v[i] == -1) {
                    if (infer >= 0) return nfail(L, LFR_ERR_FORMAT, "shape has two -1");
                    infer = i;
                    d[i] = 1;
                    continue;
                }
                if (v[i] == 0 && !allowzero) {
                    if (i >= x->n)
                        return nfail(L, LFR_ERR_FORMAT, "shape copies a missing dimension");
                    d[i] = x->d[i];
                } else if (v[i] < 0 || v[i] > LFR__MAX_DIM) {
                    return nfail(L, LFR_ERR_FORMAT, "shape value %lld", (long long)v[i]);
                } else {
                    d[i] = v[i];
                }
                if (!lfr__mul_ok(known, (size_t)d[i], &known))
                    return nfail(L, LFR_ERR_FORMAT, "shape overflows");
            }
            m = nv;
            if (infer >= 0) {
                if (known == 0 || cnumel(x) % known)
                    return nfail(L, LFR_ERR_FORMAT, "cannot infer the -1 dimension");
                d[infer] = (int64_t)(cnumel(x) / known);
            }
        } else if (ostr_is(op, "Flatten")) {
            int axis = norm_axis(attr_i(L, "axis", 1), x->n + 1);
            if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
            d[0] = d[1] = 1;
            for (int i = 0; i < x->n; i++)
                d[i >= axis] *= x->d[i];
            m = 2;
        } else {
            int sq = ostr_is(op, "Squeeze");
            const oattr *aa = attr(L, "axes");
            oval *ai = in_val(L, 1);
            if (ai) {
                if (const_ints(L, ai, v, MAXR, &nv, "axes")) return L->rc;
            } else if (aa) {
                if (aa->n_ints > MAXR) return nfail(L, LFR_ERR_FORMAT, "too many axes");
                nv = aa->n_ints;
                memcpy(v, aa->ints, (size_t)nv * sizeof *v);
            } else if (!sq) {
                return nfail(L, LFR_ERR_FORMAT, "axes required");
            }
            int rank = sq ? x->n : x->n + nv, mask = 0;
            if (rank > MAXR) return nfail(L, LFR_ERR_UNSUPPORTED, "more than %d dimensions", MAXR);
            for (int i = 0; i < nv; i++) {
                int a = norm_axis(v[i], rank);
                if (a < 0 || (mask >> a & 1))
                    return nfail(L, LFR_ERR_FORMAT, "axis out of range or repeated");
                mask |= 1 << a;
            }
            if (sq) {
                for (int i = 0; i < x->n; i++) {
                    int drop = nv ? (mask >> i & 1) : x->d[i] == 1;
                    if (drop && x->d[i] != 1)
                        return nfail(L, LFR_ERR_FORMAT, "squeezes an axis of size %lld",
                                     (long long)x->d[i]);
                    if (!drop) d[m++] = x->d[i];
                }
            } else {
                for (int i = 0, k = 0; i < rank; i++)
                    d[m++] = mask >> i & 1 ? 1 : x->d[k++];
            }
        }
        if (reshape_value(L, x, m, d, &r)) return L->rc;
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Transpose")) {
        if (need_in(L, 0, &x)) return L->rc;
        const oattr *pa = attr(L, "perm");
        int perm[MAXR], seen = 0;
        if (pa && pa->n_ints != x->n) return nfail(L, LFR_ERR_FORMAT, "perm of the wrong length");
        for (int i = 0; i < x->n; i++) {
            int64_t p = pa ? pa->ints[i] : x->n - 1 - i;
            if (p < 0 || p >= x->n || (seen >> p & 1)) return nfail(L, LFR_ERR_FORMAT, "bad perm");
            seen |= 1 << p;
            perm[i] = (int)p;
        }
        if (is_const(x)) {
            if (fold_transpose(L, x, perm, &r)) return L->rc;
        } else {
            /* Relabel: no data moves. */
            int inv[MAXR];
            for (int i = 0; i < x->n; i++)
                inv[perm[i]] = i;
            r = *x;
            for (int i = 0; i < x->n; i++) {
                r.d[i] = x->d[perm[i]];
                r.perm[i] = inv[x->perm[i]];
            }
            r.alt_t = -1;
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Constant")) {
        const oattr *a = L->n_attrs == 1 ? &L->attrs[0] : NULL;
        if (!a) return nfail(L, LFR_ERR_FORMAT, "needs exactly one attribute");
        if (ostr_is(a->name, "value")) {
            if (a->type != AT_TENSOR && !a->t.p)
                return nfail(L, LFR_ERR_FORMAT, "value is not a tensor");
            memset(&r, 0, sizeof r);
            if (read_tensor(L, &a->t, &r, "constant")) return L->rc;
        } else if (ostr_is(a->name, "value_float") || ostr_is(a->name, "value_int")) {
            int fl = ostr_is(a->name, "value_float");
            if (new_const(L, &r, fl ? CT_F32 : CT_I64, 0, NULL)) return L->rc;
            if (fl)
                ((float *)r.data)[0] = a->f;
            else
                ((int64_t *)r.data)[0] = a->i;
        } else if (ostr_is(a->name, "value_floats") || ostr_is(a->name, "value_ints")) {
            int fl = ostr_is(a->name, "value_floats");
            int64_t n = fl ? a->n_floats : a->n_ints;
            if (new_const(L, &r, fl ? CT_F32 : CT_I64, 1, &n)) return L->rc;
            for (int64_t i = 0; i < n; i++) {
                if (fl)
                    ((float *)r.data)[i] = a->floats[i];
                else
                    ((int64_t *)r.data)[i] = a->ints[i];
            }
        } else {
            return nfail(L, LFR_ERR_UNSUPPORTED, "constant of this kind is not supported");
        }
        r.ir_static = r.alt_t = r.t = -1;
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "ConstantOfShape")) {
        oval *s, val;
        int64_t d[MAXR];
        int n;
        if (need_in(L, 0, &s) || const_ints(L, s, d, MAXR, &n, "shape")) return L->rc;
        const oattr *a = attr(L, "value");
        int ct = CT_F32;
        double fill = 0;
        int64_t ifill = 0;
        if (a) {
            if (read_tensor(L, &a->t, &val, "value")) return L->rc;
            if (cnumel(&val) != 1) return nfail(L, LFR_ERR_FORMAT, "value must hold one element");
            ct = val.ctype == CT_F32 ? CT_F32 : CT_I64;
            fill = cget(&val, 0);
            ifill = cgeti(&val, 0);
        }
        if (new_const(L, &r, ct, n, d)) return L->rc;
        for (size_t i = 0; i < cnumel(&r); i++) {
            if (ct == CT_F32)
                ((float *)r.data)[i] = to_f32(fill);
            else
                ((int64_t *)r.data)[i] = ifill;
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Range")) {
        oval *a, *b, *c;
        if (need_in(L, 0, &a) || need_in(L, 1, &b) || need_in(L, 2, &c)) return L->rc;
        if (!is_const(a) || !is_const(b) || !is_const(c) || cnumel(a) != 1 || cnumel(b) != 1 ||
            cnumel(c) != 1)
            return nfail(L, LFR_ERR_UNSUPPORTED, "inputs must be scalar constants");
        double s = cget(a, 0), e = cget(b, 0), dl = cget(c, 0), big = 9007199254740992.0;
        if (dl == 0) return nfail(L, LFR_ERR_FORMAT, "delta of 0");
        if (!(fabs(s) < big && fabs(e) < big && fabs(dl) < big))
            return nfail(L, LFR_ERR_FORMAT, "range bounds out of range");
        double cnt = ceil((e - s) / dl);
        if (cnt > (double)MAX_CONST_NUMEL) return nfail(L, LFR_ERR_TOO_LARGE, "range too long");
        int64_t n = cnt > 0 ? (int64_t)cnt : 0;
        int ct = a->ctype == CT_F32 ? CT_F32 : CT_I64;
        if (new_const(L, &r, ct, 1, &n)) return L->rc;
        for (int64_t i = 0; i < n; i++) {
            if (ct == CT_F32)
                ((float *)r.data)[i] = to_f32(s + (double)i * dl);
            else
                ((int64_t *)r.data)[i] = (int64_t)s + i * (int64_t)dl; /* |s|, |dl| < 2^53 */
        }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Gather")) {
        oval *data, *ix;
        if (need_in(L, 0, &data) || need_in(L, 1, &ix)) return L->rc;
        if (!is_const(data) || !is_const(ix))
            return nfail(L, LFR_ERR_UNSUPPORTED,
                         "gathering from computed tensors is not supported");
        if (ix->ctype == CT_F32) return nfail(L, LFR_ERR_FORMAT, "indices must be integers");
        int axis = norm_axis(attr_i(L, "axis", 0), data->n);
        if (axis < 0) return nfail(L, LFR_ERR_FORMAT, "axis out of range");
        int n = data->n - 1 + ix->n;
        if (n > MAXR) return nfail(L, LFR_ERR_UNSUPPORTED, "more than %d dimensions", MAXR);
        int64_t d[MAXR];
        int m = 0;
        for (int i = 0; i < axis; i++)
            d[m++] = data->d[i];
        for (int i = 0; i < ix->n; i++)
            d[m++] = ix->d[i];
        for (int i = axis + 1; i < data->n; i++)
            d[m++] = data->d[i];
        if (new_const(L, &r, data->ctype, n, d)) return L->rc;
        size_t outer = 1, inner = 1, ni = cnumel(ix), w = ctype_size(data->ctype);
        int64_t dim = data->d[axis];
        for (int i = 0; i < axis; i++)
            outer *= (size_t)data->d[i];
        for (int i = axis + 1; i < data->n; i++)
            inner *= (size_t)data->d[i];
        for (size_t o = 0; o < outer; o++)
            for (size_t q = 0; q < ni; q++) {
                int64_t k = cgeti(ix, q);
                if (k < 0) k += dim;
                if (k < 0 || k >= dim) return nfail(L, LFR_ERR_FORMAT, "index out of range");
                memcpy((uint8_t *)r.data + ((o * ni + q) * inner) * w,
                       (const uint8_t *)data->data + ((o * (size_t)dim + (size_t)k) * inner) * w,
                       inner * w);
            }
        set_out(L, 0, &r);
        return LFR_OK;
    }
    *handled = 0;
    return LFR_OK;
}

static int convert_node(ld *L)
{
    const onode *n = &L->nodes[L->cur];
    ostr op = n->op;
    if (parse_attrs(L, n)) return L->rc;
    int handled;
    if (do_shape_ops(L, op, &handled) || handled) return L->rc;
    static const struct {
        const char *name;
        lfr__op_type type;
    } binary[] = {{"Add", LFR__OP_ADD}, {"Sub", LFR__OP_SUB}, {"Mul", LFR__OP_MUL},
                  {"Div", LFR__OP_DIV}, {"Max", LFR__OP_MAX}, {"Min", LFR__OP_MIN}};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
        if (!ostr_is(op, binary[i].name)) continue;
        int k = n_inputs(L);
        oval *a, *b;
        if (k == 1 && (ostr_is(op, "Max") || ostr_is(op, "Min"))) {
            if (need_in(L, 0, &a)) return L->rc;
            set_out(L, 0, a);
            return LFR_OK;
        }
        if (k != 2) return nfail(L, LFR_ERR_UNSUPPORTED, "needs two inputs");
        if (need_in(L, 0, &a) || need_in(L, 1, &b)) return L->rc;
        if (is_const(a) && is_const(b)) return fold_binary(L, op, a, b);
        if ((is_const(a) && a->ctype != CT_F32) || (is_const(b) && b->ctype != CT_F32))
            return nfail(L, LFR_ERR_FORMAT, "integer constant with a float tensor");
        oval r;
        if (emit_binary(L, binary[i].type, a, b, &r)) return L->rc;
        set_out(L, 0, &r);
        return LFR_OK;
    }
    static const struct {
        const char *name;
        lfr__op_type type;
    } unary[] = {{"Relu", LFR__OP_RELU},
                 {"Sigmoid", LFR__OP_SIGMOID},
                 {"Erf", LFR__OP_ERF},
                 {"Abs", LFR__OP_ABS}};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        if (!ostr_is(op, unary[i].name)) continue;
        oval *x, r;
        if (need_act(L, 0, &x)) return L->rc;
        lfr__op o = {.type = unary[i].type};
        if (emit_unary(L, &o, x, &r)) return L->rc;
        set_out(L, 0, &r);
        return LFR_OK;
    }
    if (ostr_is(op, "Conv")) return do_conv(L);
    if (ostr_is(op, "MaxPool")) return do_maxpool(L);
    if (ostr_is(op, "GlobalAveragePool")) {
        oval *x;
        if (need_act(L, 0, &x)) return L->rc;
        if (x->n != 4) return nfail(L, LFR_ERR_UNSUPPORTED, "only 4-D inputs are supported");
        return emit_reduce(L, LFR__OP_REDUCE_MEAN, x, 12, 1);
    }
    if (ostr_is(op, "ReduceMean")) return do_reduce(L, LFR__OP_REDUCE_MEAN);
    if (ostr_is(op, "ReduceSum")) return do_reduce(L, LFR__OP_REDUCE_SUM);
    if (ostr_is(op, "ReduceMax")) return do_reduce(L, LFR__OP_REDUCE_MAX);
    if (ostr_is(op, "ReduceL2")) return do_reduce(L, LFR__OP_REDUCE_L2);
    if (ostr_is(op, "LayerNormalization")) return do_layernorm(L);
    if (ostr_is(op, "Softmax")) return do_softmax(L);
    if (ostr_is(op, "MatMul")) return do_matmul(L);
    if (ostr_is(op, "Gemm")) return do_gemm(L);
    if (ostr_is(op, "Resize")) return do_resize(L, 0);
    if (ostr_is(op, "Upsample")) return do_resize(L, 1);
    if (ostr_is(op, "Split")) return do_split(L);
    if (ostr_is(op, "Concat")) return do_concat(L);
    if (ostr_is(op, "Slice")) return do_slice(L);
    if (ostr_is(op, "Pad")) return do_pad(L);
    if (ostr_is(op, "PRelu")) return do_prelu(L, 0);
    if (ostr_is(op, "LeakyRelu")) return do_prelu(L, 1);
    if (ostr_is(op, "BatchNormalization")) return do_batchnorm(L);
    if (ostr_is(op, "Clip")) return do_clip(L);
    if (ostr_is(op, "DequantizeLinear")) return do_dequantize(L);
    return nfail(L, LFR_ERR_UNSUPPORTED, "unsupported operator");
}

/* ---- Inputs and outputs
 * ------------------------------------------------------------------------------ */

/* Input i's shape from its ValueInfoProto, with the caller's values for
 * dynamic dimensions of input 0. */
static int setup_input(ld *L, int gi, int n_dims, const int *shape)
{
    int id = L->graph_in[gi];
    oval *v = &L->vals[id];
    char nm[64];
    vname(L, id, nm, sizeof nm);
    const pmsg *m = &L->graph_in_msg[gi];
    size_t pos = 0;
    pfield f;
    int r, elem = 0, n = 0, known = 0;
    int64_t d[MAXR];
    int dyn[MAXR];
    while ((r = pb_next(L, m, &pos, &f)) > 0) {
        if (f.num != 2 || f.wt != 2) continue;
        size_t p2 = 0;
        pfield tt;
        while ((r = pb_next(L, &f.sub, &p2, &tt)) > 0) {
            if (tt.num != 1 || tt.wt != 2) {
                if (tt.num == 4 || tt.num == 5 || tt.num == 8 || tt.num == 9)
                    return fail(L, LFR_ERR_UNSUPPORTED, "input '%s' is not a tensor", nm);
                continue;
            }
            size_t p3 = 0;
            pfield tf;
            while ((r = pb_next(L, &tt.sub, &p3, &tf)) > 0) {
                if (tf.num == 1 && tf.wt == 0) elem = (int)tf.v;
                if (tf.num == 2 && tf.wt == 2) {
                    known = 1;
                    size_t p4 = 0;
                    pfield dim;
                    while ((r = pb_next(L, &tf.sub, &p4, &dim)) > 0) {
                        if (dim.num != 1 || dim.wt != 2) continue;
                        if (n >= MAXR)
                            return fail(L, LFR_ERR_UNSUPPORTED,
                                        "input '%s' has more than %d "
                                        "dimensions",
                                        nm, MAXR);
                        size_t p5 = 0;
                        pfield dv;
                        d[n] = -1;
                        dyn[n] = 1;
                        while ((r = pb_next(L, &dim.sub, &p5, &dv)) > 0)
                            if (dv.num == 1 && dv.wt == 0) {
                                d[n] = (int64_t)dv.v;
                                dyn[n] = 0;
                            }
                        if (r < 0) return L->rc;
                        n++;
                    }
                    if (r < 0) return L->rc;
                }
            }
            if (r < 0) return L->rc;
        }
        if (r < 0) return L->rc;
    }
    if (r < 0) return L->rc;
    if (elem != DT_FLOAT)
        return fail(L, LFR_ERR_UNSUPPORTED,
                    "input '%s' has element type %d; only float is "
                    "supported",
                    nm, elem);
    if (!known) return fail(L, LFR_ERR_UNSUPPORTED, "input '%s' has no shape", nm);
    {
        if (n_dims > 0 && n_dims != n)
            return fail(L, LFR_ERR_INVALID, "input '%s' has %d dimensions; %d given", nm, n,
                        n_dims);
        for (int i = 0; i < n && n_dims > 0; i++) {
            if (shape[i] <= 0) continue;
            if (!dyn[i] && d[i] != shape[i])
                return fail(L, LFR_ERR_INVALID,
                            "input '%s' has dimension %d fixed at %lld; %d "
                            "given",
                            nm, i, (long long)d[i], shape[i]);
            d[i] = shape[i];
            dyn[i] = 0;
        }
    }
    for (int i = 0; i < n; i++)
        if (dyn[i] || d[i] < 1 || d[i] > LFR__MAX_DIM)
            return fail(L, dyn[i] ? LFR_ERR_UNSUPPORTED : LFR_ERR_FORMAT,
                        "input '%s': dimension %d is %s; give the input shape", nm, i,
                        dyn[i] ? "dynamic" : "out of range");
    size_t numel;
    int phys[MAXR], perm[MAXR];
    set_identity(perm, n);
    if (n == 4) memcpy(perm, NHWC, sizeof NHWC);
    for (int j = 0; j < n; j++)
        phys[j] = (int)d[perm[j]];
    if (!lfr__numel_ok(n, phys, &numel))
        return fail(L, LFR_ERR_TOO_LARGE, "input '%s' is too large", nm);
    int t = ir_tensor(L, nm, n, phys);
    if (t < 0) return L->rc;
    v->state = 2;
    v->n = n;
    memcpy(v->d, d, sizeof d);
    memcpy(v->perm, perm, sizeof perm);
    v->t = t;
    v->alt_t = -1;
    lfr__graph *g = L->g;
    if (g->n_inputs == LFR__MAX_IO)
        return fail(L, LFR_ERR_UNSUPPORTED, "more than %d inputs", LFR__MAX_IO);
    g->input_nhwc[g->n_inputs] = n == 4;
    g->inputs[g->n_inputs++] = t;
    return LFR_OK;
}

static int setup_outputs(ld *L)
{
    lfr__graph *g = L->g;
    for (int i = 0; i < L->n_graph_out; i++) {
        int id = L->graph_out[i];
        oval *v = &L->vals[id];
        char nm[64];
        vname(L, id, nm, sizeof nm);
        if (!is_act(v))
            return fail(L, LFR_ERR_UNSUPPORTED, "output '%s' does not depend on the input", nm);
        int id_perm[MAXR];
        set_identity(id_perm, v->n);
        L->cur = v->producer >= 0 ? v->producer : 0;
        int t = layout_as(L, v, id_perm);
        if (t < 0) return L->rc;
        int taken = 0;
        for (int k = 0; k < g->n_inputs; k++)
            taken |= g->inputs[k] == t;
        for (int k = 0; k < g->n_outputs; k++)
            taken |= g->outputs[k] == t;
        if (taken) { /* one tensor cannot be two graph ends: copy it */
            lfr__op op = {.type = LFR__OP_RESHAPE, .n_in = 1};
            op.in[0] = t;
            oval r = *v;
            r.t = t;
            set_identity(r.perm, r.n);
            if (emit(L, &op, id_perm, &r)) return L->rc;
            t = r.t;
        }
        snprintf(g->tensors[t].name, sizeof g->tensors[t].name, "%s", nm);
        g->outputs[g->n_outputs++] = t;
    }
    return LFR_OK;
}

static int load(ld *L, int n_dims, const int *shape)
{
    if (L->model.n == 0) return fail(L, LFR_ERR_FORMAT, "empty file");
    if (parse_model(L) || link_values(L)) return L->rc;
    int n_real = 0;
    for (int i = 0; i < L->n_graph_in; i++)
        if (L->vals[L->graph_in[i]].input >= 0) {
            L->vals[L->graph_in[i]].input = n_real++;
            if (setup_input(L, i, n_real == 1 ? n_dims : 0, shape)) return L->rc;
        }
    if (n_real == 0) return fail(L, LFR_ERR_FORMAT, "the graph has no inputs");
    /* Initialisers are read when first used. */
    int *order = NULL, n_order = 0;
    if (order_nodes(L, &order, &n_order)) return L->rc;
    for (int j = 0; j < n_order && !L->rc; j++) {
        L->cur = order[j];
        const onode *n = &L->nodes[L->cur];
        for (int i = 0; i < n->n_in && !L->rc; i++) {
            int id = L->io[n->in_at + i];
            if (id < 0) continue;
            oval *v = &L->vals[id];
            if (v->state == 0 && v->init >= 0) {
                char what[96], nm[64];
                vname(L, id, nm, sizeof nm);
                snprintf(what, sizeof what, "initialiser '%s'", nm);
                oval c;
                memset(&c, 0, sizeof c);
                if (read_tensor(L, &L->inits[v->init], &c, what)) break;
                c.ir_static = c.alt_t = c.t = -1;
                ostr name = v->name;
                int producer = v->producer, init = v->init, input = v->input;
                *v = c;
                v->name = name;
                v->producer = producer;
                v->init = init;
                v->input = input;
            }
        }
        if (L->rc) break;
        convert_node(L);
        for (int i = 0; i < n->n_out && !L->rc; i++) {
            int id = L->io[n->out_at + i];
            if (id >= 0 && L->vals[id].state == 0 && i == 0)
                nfail(L, LFR_ERR_UNSUPPORTED, "produced no value");
        }
    }
    free(order);
    if (L->rc) return L->rc;
    for (int i = 0; i < L->n_graph_out; i++) {
        oval *v = &L->vals[L->graph_out[i]];
        if (v->state == 0 && v->init >= 0) {
            char nm[64];
            vname(L, L->graph_out[i], nm, sizeof nm);
            return fail(L, LFR_ERR_UNSUPPORTED, "output '%s' is a constant", nm);
        }
    }
    return setup_outputs(L);
}

int lfr__onnx_load(const uint8_t *buf, size_t size, const char *name, int n_dims, const int *shape,
                   lfr__graph **graph_out)
{
    *graph_out = NULL;
    if (n_dims < 0 || n_dims > LFR__MAX_DIMS || (n_dims > 0 && !shape))
        return lfr__err(LFR_ERR_INVALID, "%s: input shape of %d dimensions", name ? name : "model",
                        n_dims);
    lfr__graph *g = calloc(1, sizeof *g);
    if (!g) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    snprintf(g->name, sizeof g->name, "%s", name ? name : "model");
    g->fixed = 1;
    ld L;
    memset(&L, 0, sizeof L);
    L.file = g->name;
    L.g = g;
    L.model = (pmsg){buf, size, 0};
    int rc = load(&L, n_dims, shape);
    if (rc == LFR_OK) {
        const lfr__tensor *in0 = &g->tensors[g->inputs[0]];
        g->file_batch = in0->n_dims ? in0->dims[0] : 1;
        if (lfr__graph_fuse_onnx(g) < 0) rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
    }
    if (rc == LFR_OK) rc = lfr__graph_check(g);
    for (int i = 0; i < L.n_scratch; i++)
        free(L.scratch[i]);
    free(L.scratch);
    free(L.vals);
    free(L.hash);
    free(L.nodes);
    free(L.io);
    free(L.inits);
    free(L.graph_in);
    free(L.graph_in_msg);
    free(L.graph_out);
    if (rc != LFR_OK) {
        lfr__graph_free(g);
        return rc;
    }
    *graph_out = g;
    return LFR_OK;
}
