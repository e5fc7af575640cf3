/*
 * A small, bounds-checked reader of TFLite flatbuffers, producing the graph
 * of nn.h. It reads only what the supported operators need, checks every
 * offset, length and vtable against the file size before use, and then
 * checks the graph itself: tensor indices in range, operators in execution
 * order, weights of the right size, and every operator's output shape equal
 * to the shape its inputs imply. A file that passes is safe to execute.
 *
 * Flatbuffer layout in brief: the file starts with a u32 offset to the root
 * table and the identifier "TFL3". A table starts with an s32 offset back to
 * its vtable; the vtable holds u16 sizes of itself and of the table, then a
 * u16 offset per field (0 = absent, use the default). Reference fields hold
 * a u32 offset from the field to a table, vector (u32 length + elements) or
 * string (a vector of bytes).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util/util.h"

/* ---- Flatbuffer access ------------------------------------------------- */

typedef struct fb {
    const uint8_t *p;
    size_t n;
    const char *name;
    int bad; /* set on the first out-of-range access */
    char what[160];
} fb;

typedef struct fbt {
    size_t pos; /* table start */
    size_t vt;  /* vtable start */
    uint16_t vt_size, tbl_size;
} fbt;

typedef struct fbv {
    size_t pos; /* first element */
    uint32_t len;
} fbv;

static void fb_fail(fb *b, const char *what, size_t off)
{
    if (b->bad) return;
    b->bad = 1;
    snprintf(b->what, sizeof b->what, "%s at offset %zu", what, off);
}

static int fb_range(fb *b, size_t off, size_t len, const char *what)
{
    if (off > b->n || len > b->n - off) {
        fb_fail(b, what, off);
        return 0;
    }
    return 1;
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t fb_u32(fb *b, size_t off)
{
    return fb_range(b, off, 4, "32-bit field past the end of the file") ? rd_u32(b->p + off) : 0;
}

static int fb_table(fb *b, size_t pos, fbt *t)
{
    memset(t, 0, sizeof *t);
    if (!fb_range(b, pos, 4, "table past the end of the file")) return 0;
    int32_t soff = (int32_t)rd_u32(b->p + pos);
    int64_t vt = (int64_t)pos - soff;
    if (vt < 0 || (uint64_t)vt > b->n || (vt & 1)) {
        fb_fail(b, "vtable offset out of range", pos);
        return 0;
    }
    if (!fb_range(b, (size_t)vt, 4, "vtable past the end of the file")) return 0;
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vt_size = rd_u16(b->p + t->vt);
    t->tbl_size = rd_u16(b->p + t->vt + 2);
    if (t->vt_size < 4 || (t->vt_size & 1) ||
        !fb_range(b, t->vt, t->vt_size, "vtable past the end of the file") ||
        !fb_range(b, pos, t->tbl_size, "table past the end of the file")) {
        fb_fail(b, "invalid vtable", t->vt);
        return 0;
    }
    return 1;
}

/* Offset of field `id` in the file, or 0 when absent. */
static size_t fb_field(fb *b, const fbt *t, int id, size_t width)
{
    size_t slot = 4 + 2 * (size_t)id;
    if (b->bad || slot + 2 > t->vt_size) return 0;
    uint16_t fo = rd_u16(b->p + t->vt + slot);
    if (fo == 0) return 0;
    if ((size_t)fo + width > t->tbl_size) {
        fb_fail(b, "field outside its table", t->pos + fo);
        return 0;
    }
    return t->pos + fo;
}

static int64_t fb_int(fb *b, const fbt *t, int id, size_t width, int is_signed, int64_t dflt)
{
    size_t at = fb_field(b, t, id, width);
    if (!at) return dflt;
    const uint8_t *p = b->p + at;
    switch (width) {
    case 1:
        return is_signed ? (int64_t)(int8_t)p[0] : (int64_t)p[0];
    case 2:
        return is_signed ? (int64_t)(int16_t)rd_u16(p) : (int64_t)rd_u16(p);
    case 4:
        return is_signed ? (int64_t)(int32_t)rd_u32(p) : (int64_t)rd_u32(p);
    default: {
        uint64_t v = (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
        return (int64_t)v;
    }
    }
}

/* Follow a reference field; returns 0 when absent or invalid. */
static size_t fb_ref(fb *b, const fbt *t, int id)
{
    size_t at = fb_field(b, t, id, 4);
    if (!at) return 0;
    uint32_t rel = rd_u32(b->p + at);
    if (rel == 0 || rel > b->n - at) {
        fb_fail(b, "reference out of range", at);
        return 0;
    }
    return at + rel;
}

static int fb_vec(fb *b, const fbt *t, int id, size_t elem, fbv *v)
{
    v->pos = 0;
    v->len = 0;
    size_t at = fb_ref(b, t, id);
    if (!at) return 0;
    uint32_t len = fb_u32(b, at);
    if (b->bad) return 0;
    if (len > (b->n - at - 4) / elem) {
        fb_fail(b, "vector longer than the file", at);
        return 0;
    }
    v->pos = at + 4;
    v->len = len;
    return 1;
}

static int fb_vec_table(fb *b, const fbv *v, uint32_t i, fbt *t)
{
    size_t at = v->pos + 4 * (size_t)i;
    uint32_t rel = fb_u32(b, at);
    if (b->bad) return 0;
    if (rel == 0 || rel > b->n - at) {
        fb_fail(b, "table reference out of range", at);
        return 0;
    }
    return fb_table(b, at + rel, t);
}

static int32_t fb_vec_i32(fb *b, const fbv *v, uint32_t i)
{
    return (int32_t)rd_u32(b->p + v->pos + 4 * (size_t)i);
}

static void fb_string(fb *b, const fbt *t, int id, char *out, size_t cap)
{
    fbv v;
    out[0] = 0;
    if (!fb_vec(b, t, id, 1, &v)) return;
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)b->p[v.pos + i];
        out[i] = (c >= 32 && c < 127) ? c : '?';
    }
    out[n] = 0;
}

/* ---- TFLite schema constants (schema.fbs) --------------------------------- */

enum {
    TFL_ADD = 0,
    TFL_CONCATENATION = 2,
    TFL_CONV_2D = 3,
    TFL_DEPTHWISE_CONV_2D = 4,
    TFL_DEQUANTIZE = 6,
    TFL_MAX_POOL_2D = 17,
    TFL_MUL = 18,
    TFL_RELU = 19,
    TFL_RELU6 = 21,
    TFL_RESHAPE = 22,
    TFL_RESIZE_BILINEAR = 23,
    TFL_PAD = 34,
    TFL_SUB = 41,
    TFL_PRELU = 54,
    TFL_ABS = 101,
};

enum { TT_FLOAT32 = 0, TT_FLOAT16 = 1, TT_INT32 = 2 };

static const char *tfl_op_name(int code)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {0, "ADD"},
        {1, "AVERAGE_POOL_2D"},
        {2, "CONCATENATION"},
        {3, "CONV_2D"},
        {4, "DEPTHWISE_CONV_2D"},
        {5, "DEPTH_TO_SPACE"},
        {6, "DEQUANTIZE"},
        {9, "FULLY_CONNECTED"},
        {11, "L2_NORMALIZATION"},
        {14, "LOGISTIC"},
        {17, "MAX_POOL_2D"},
        {18, "MUL"},
        {19, "RELU"},
        {21, "RELU6"},
        {22, "RESHAPE"},
        {23, "RESIZE_BILINEAR"},
        {25, "SOFTMAX"},
        {28, "TANH"},
        {34, "PAD"},
        {39, "TRANSPOSE"},
        {40, "MEAN"},
        {41, "SUB"},
        {42, "DIV"},
        {43, "SQUEEZE"},
        {49, "SPLIT"},
        {54, "PRELU"},
        {55, "MAXIMUM"},
        {57, "MINIMUM"},
        {65, "SLICE"},
        {67, "TRANSPOSE_CONV"},
        {75, "SQRT"},
        {83, "PACK"},
        {92, "SQUARE"},
        {97, "RESIZE_NEAREST_NEIGHBOR"},
        {101, "ABS"},
        {117, "HARD_SWISH"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code) return names[i].name;
    return "unknown";
}

/* ---- Loading ----------------------------------------------------------------- */

typedef struct loader {
    fb b;
    lfr__graph *g;
    uint8_t *arena;
    size_t arena_used, arena_cap;
    fbv buffers;
} loader;

static int ld_fail(loader *L, const char *what)
{
    return lfr__err(LFR_ERR_FORMAT, "%s: malformed TFLite file: %s", L->g->name,
                    L->b.bad ? L->b.what : what);
}

static void *arena_take(loader *L, size_t bytes)
{
    size_t at = (L->arena_used + 63) & ~(size_t)63;
    if (at > L->arena_cap || bytes > L->arena_cap - at) return NULL;
    L->arena_used = at + bytes;
    return L->arena + at;
}

/* Locate a buffer's bytes; *size_out 0 means no data. */
static int buffer_bytes(loader *L, uint32_t index, size_t *pos_out, size_t *size_out)
{
    *pos_out = *size_out = 0;
    if (index == 0) return 1; /* buffer 0 is the empty sentinel */
    if (index >= L->buffers.len) return 0;
    fbt bt;
    if (!fb_vec_table(&L->b, &L->buffers, index, &bt)) return 0;
    fbv data;
    if (fb_vec(&L->b, &bt, 0, 1, &data)) {
        *pos_out = data.pos;
        *size_out = data.len;
        return 1;
    }
    /* Large models keep data outside the flatbuffer: offset/size fields. */
    int64_t off = fb_int(&L->b, &bt, 1, 8, 0, 0), sz = fb_int(&L->b, &bt, 2, 8, 0, 0);
    if (off > 1 && sz > 0) {
        if ((uint64_t)off > L->b.n || (uint64_t)sz > L->b.n - (uint64_t)off) return 0;
        *pos_out = (size_t)off;
        *size_out = (size_t)sz;
    }
    return !L->b.bad;
}

/* Elements of a shape that load_tensors has checked (lfr__numel_ok). */
static size_t numel_dims(int n, const int *d)
{
    size_t e;
    return lfr__numel_ok(n, d, &e) ? e : 0;
}

static int load_tensors(loader *L, const fbt *sg, int *types, size_t *buf_pos, size_t *buf_size)
{
    fb *b = &L->b;
    lfr__graph *g = L->g;
    fbv tv;
    if (!fb_vec(b, sg, 0, 4, &tv) || tv.len == 0) return ld_fail(L, "subgraph has no tensors");
    if (tv.len > 1000000) return ld_fail(L, "too many tensors");
    g->n_tensors = (int)tv.len;
    g->tensors = calloc(tv.len, sizeof *g->tensors);
    if (!g->tensors) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
    for (uint32_t i = 0; i < tv.len; i++) {
        fbt t;
        lfr__tensor *T = &g->tensors[i];
        if (!fb_vec_table(b, &tv, i, &t)) return ld_fail(L, "bad tensor table");
        fbv shape;
        if (fb_vec(b, &t, 0, 4, &shape)) {
            if (shape.len > LFR__MAX_DIMS)
                return lfr__err(LFR_ERR_UNSUPPORTED, "%s: tensor %u has %u dimensions (max %d)",
                                g->name, i, shape.len, LFR__MAX_DIMS);
            T->n_dims = (int)shape.len;
            for (uint32_t d = 0; d < shape.len; d++) {
                int32_t v = fb_vec_i32(b, &shape, d);
                if (v < 1 || v > LFR__MAX_DIM)
                    return lfr__err(LFR_ERR_FORMAT, "%s: tensor %u has dimension %d of %d", g->name,
                                    i, (int)d, v);
                T->dims[d] = v;
            }
        }
        types[i] = (int)fb_int(b, &t, 1, 1, 1, TT_FLOAT32);
        uint32_t buf = (uint32_t)fb_int(b, &t, 2, 4, 0, 0);
        fb_string(b, &t, 3, T->name, sizeof T->name);
        if (b->bad) return ld_fail(L, "bad tensor");
        if (!buffer_bytes(L, buf, &buf_pos[i], &buf_size[i]))
            return lfr__err(LFR_ERR_FORMAT, "%s: tensor %u ('%s') refers to buffer %u, %s", g->name,
                            i, T->name, buf, b->bad ? b->what : "which does not exist");
        /* Checked multiplication: five dimensions of up to 2^24 each overflow
         * 64 bits, and a wrapped product would size buffers too small. */
        size_t numel;
        if (!lfr__numel_ok(T->n_dims, T->dims, &numel))
            return lfr__err(LFR_ERR_TOO_LARGE, "%s: tensor %u ('%s') is too large", g->name, i,
                            T->name);
    }
    return LFR_OK;
}

/* Copy or dequantize static tensors into the arena. */
static int load_static(loader *L, const int *types, const size_t *buf_pos, const size_t *buf_size)
{
    lfr__graph *g = L->g;
    size_t need = 0;
    for (int i = 0; i < g->n_tensors; i++)
        if (buf_size[i]) need += 2 * buf_size[i] + 64; /* float16 doubles; sizes checked below */
    L->arena_cap = need + 64;
    L->arena = aligned_alloc(64, (L->arena_cap + 63) & ~(size_t)63);
    if (!L->arena) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory for weights", g->name);
    g->arena = L->arena;
    for (int i = 0; i < g->n_tensors; i++) {
        if (!buf_size[i]) continue;
        lfr__tensor *T = &g->tensors[i];
        size_t n = numel_dims(T->n_dims, T->dims);
        size_t esz = types[i] == TT_FLOAT16 ? 2 : 4;
        if (types[i] != TT_FLOAT32 && types[i] != TT_FLOAT16 && types[i] != TT_INT32)
            return lfr__err(LFR_ERR_UNSUPPORTED,
                            "%s: tensor %d ('%s') has type %d; only float32, float16 and int32 "
                            "are supported",
                            g->name, i, T->name, types[i]);
        if (buf_size[i] != n * esz)
            return lfr__err(LFR_ERR_FORMAT,
                            "%s: tensor %d ('%s') holds %zu bytes of data, its shape needs %zu",
                            g->name, i, T->name, buf_size[i], n * esz);
        const uint8_t *src = L->b.p + buf_pos[i];
        void *dst = arena_take(L, n * 4);
        if (!dst) return lfr__err(LFR_ERR_NOMEM, "%s: weight arena overflow", g->name);
        if (types[i] == TT_FLOAT16) {
            float *f = dst;
            for (size_t k = 0; k < n; k++)
                f[k] = lfr__half_to_float(rd_u16(src + 2 * k));
            T->data = f;
        } else if (types[i] == TT_FLOAT32) {
            memcpy(dst, src, n * 4);
            T->data = dst;
            const float *f = dst;
            for (size_t k = 0; k < n; k++)
                if (!isfinite(f[k]))
                    return lfr__err(LFR_ERR_FORMAT,
                                    "%s: tensor %d ('%s') holds a non-finite weight", g->name, i,
                                    T->name);
        } else {
            memcpy(dst, src, n * 4);
            T->idata = dst;
        }
    }
    return LFR_OK;
}

static void act_of(lfr__op *op, int64_t a)
{
    op->act = (int)a;
}

static int op_fail(loader *L, int idx, const char *opname, const char *what)
{
    return lfr__err(LFR_ERR_FORMAT, "%s: operator %d (%s): %s", L->g->name, idx, opname, what);
}

/* Read one operator; DEQUANTIZE is applied at load and produces no op. */
static int load_op(loader *L, int idx, const fbt *ot, const int *codes, uint32_t n_codes,
                   int *types, int *n_ops)
{
    fb *b = &L->b;
    lfr__graph *g = L->g;
    uint32_t oc = (uint32_t)fb_int(b, ot, 0, 4, 0, 0);
    if (b->bad) return ld_fail(L, "bad operator");
    if (oc >= n_codes)
        return lfr__err(LFR_ERR_FORMAT, "%s: operator %d uses opcode %u of %u", g->name, idx, oc,
                        n_codes);
    int code = codes[oc];
    const char *nm = tfl_op_name(code);
    fbv iv, ov;
    fb_vec(b, ot, 1, 4, &iv);
    fb_vec(b, ot, 2, 4, &ov);
    if (b->bad) return ld_fail(L, "bad operator inputs");
    if (iv.len > 3 || ov.len != 1) {
        if (code != TFL_CONCATENATION || ov.len != 1)
            return op_fail(L, idx, nm, "unexpected number of inputs or outputs");
    }
    lfr__op op;
    memset(&op, 0, sizeof op);
    op.index = idx;
    op.in[0] = op.in[1] = op.in[2] = -1;
    op.n_in = iv.len > 3 ? 3 : (int)iv.len;
    for (int i = 0; i < op.n_in; i++) {
        op.in[i] = fb_vec_i32(b, &iv, (uint32_t)i);
        if (op.in[i] < -1 || op.in[i] >= g->n_tensors)
            return op_fail(L, idx, nm, "input tensor index out of range");
    }
    op.out = fb_vec_i32(b, &ov, 0);
    if (op.out < 0 || op.out >= g->n_tensors)
        return op_fail(L, idx, nm, "output tensor index out of range");
    op.stride_h = op.stride_w = op.dil_h = op.dil_w = 1;

    size_t optpos = fb_ref(b, ot, 4);
    fbt o;
    int have_opt = optpos && fb_table(b, optpos, &o);
    if (b->bad) return ld_fail(L, "bad operator options");
#define OPT(id, w, s, d) (have_opt ? fb_int(b, &o, id, w, s, d) : (d))

    switch (code) {
    case TFL_DEQUANTIZE: {
        lfr__tensor *in = &g->tensors[op.in[0]], *out = &g->tensors[op.out];
        if (op.n_in != 1 || !in->data || types[op.in[0]] != TT_FLOAT16)
            return op_fail(L, idx, nm,
                           "only dequantization of static float16 weights is supported");
        if (numel_dims(in->n_dims, in->dims) != numel_dims(out->n_dims, out->dims))
            return op_fail(L, idx, nm, "input and output sizes differ");
        out->data = in->data;
        types[op.out] = TT_FLOAT32;
        return LFR_OK;
    }
    case TFL_CONV_2D:
        op.type = LFR__OP_CONV2D;
        op.padding = (int)OPT(0, 1, 1, 0);
        op.stride_w = (int)OPT(1, 4, 1, 1);
        op.stride_h = (int)OPT(2, 4, 1, 1);
        act_of(&op, OPT(3, 1, 1, 0));
        op.dil_w = (int)OPT(4, 4, 1, 1);
        op.dil_h = (int)OPT(5, 4, 1, 1);
        break;
    case TFL_DEPTHWISE_CONV_2D:
        op.type = LFR__OP_DWCONV2D;
        op.padding = (int)OPT(0, 1, 1, 0);
        op.stride_w = (int)OPT(1, 4, 1, 1);
        op.stride_h = (int)OPT(2, 4, 1, 1);
        op.depth_multiplier = (int)OPT(3, 4, 1, 1);
        act_of(&op, OPT(4, 1, 1, 0));
        op.dil_w = (int)OPT(5, 4, 1, 1);
        op.dil_h = (int)OPT(6, 4, 1, 1);
        break;
    case TFL_MAX_POOL_2D:
        op.type = LFR__OP_MAXPOOL2D;
        op.padding = (int)OPT(0, 1, 1, 0);
        op.stride_w = (int)OPT(1, 4, 1, 1);
        op.stride_h = (int)OPT(2, 4, 1, 1);
        op.filter_w = (int)OPT(3, 4, 1, 1);
        op.filter_h = (int)OPT(4, 4, 1, 1);
        act_of(&op, OPT(5, 1, 1, 0));
        break;
    case TFL_ADD:
        op.type = LFR__OP_ADD;
        act_of(&op, OPT(0, 1, 1, 0));
        break;
    case TFL_SUB:
        op.type = LFR__OP_SUB;
        act_of(&op, OPT(0, 1, 1, 0));
        break;
    case TFL_MUL:
        op.type = LFR__OP_MUL;
        act_of(&op, OPT(0, 1, 1, 0));
        break;
    case TFL_ABS:
        op.type = LFR__OP_ABS;
        break;
    case TFL_RELU:
        op.type = LFR__OP_RELU;
        break;
    case TFL_RELU6:
        op.type = LFR__OP_RELU6;
        break;
    case TFL_PAD:
        op.type = LFR__OP_PAD;
        break;
    case TFL_RESHAPE:
        op.type = LFR__OP_RESHAPE;
        break;
    case TFL_PRELU:
        op.type = LFR__OP_PRELU;
        break;
    case TFL_RESIZE_BILINEAR:
        op.type = LFR__OP_RESIZE_BILINEAR;
        op.align_corners = (int)OPT(2, 1, 0, 0);
        op.half_pixel_centers = (int)OPT(3, 1, 0, 0);
        break;
    case TFL_CONCATENATION:
        op.type = LFR__OP_CONCAT;
        op.axis = (int)OPT(0, 4, 1, 0);
        act_of(&op, OPT(1, 1, 1, 0));
        if (iv.len > 3) return op_fail(L, idx, nm, "more than 3 inputs are not supported");
        break;
    default:
        if (code < 0)
            return lfr__err(LFR_ERR_UNSUPPORTED, "%s: operator %d is a custom operator", g->name,
                            idx);
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: operator %d: unsupported operator %s (code %d)",
                        g->name, idx, nm, code);
    }
#undef OPT
    if (b->bad) return ld_fail(L, "bad operator options");
    if (op.act != LFR__ACT_NONE && op.act != LFR__ACT_RELU && op.act != LFR__ACT_RELU6 &&
        op.act != LFR__ACT_RELU_N1_TO_1)
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: operator %d (%s): unsupported activation %d",
                        g->name, idx, nm, op.act);
    if (op.stride_h < 1 || op.stride_w < 1 || op.dil_h < 1 || op.dil_w < 1 || op.stride_h > 64 ||
        op.stride_w > 64 || op.dil_h > 64 || op.dil_w > 64 || op.padding < 0 || op.padding > 1)
        return op_fail(L, idx, nm, "stride, dilation or padding out of range");
    g->ops[(*n_ops)++] = op;
    return LFR_OK;
}

/* ---- Shape checking ------------------------------------------------------------ */

static int is_act(const lfr__tensor *t)
{
    return t->data == NULL && t->idata == NULL;
}

static int check_graph(loader *L, const int *types)
{
    lfr__graph *g = L->g;
    char *ready = calloc((size_t)g->n_tensors, 1);
    if (!ready) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
    int rc = LFR_OK;
    for (int t = 0; t < g->n_tensors; t++)
        if (!is_act(&g->tensors[t])) ready[t] = 1;
    for (int i = 0; i < g->n_inputs; i++) {
        lfr__tensor *t = &g->tensors[g->inputs[i]];
        if (!is_act(t) || types[g->inputs[i]] != TT_FLOAT32 || t->n_dims < 1) {
            rc = lfr__err(LFR_ERR_UNSUPPORTED, "%s: input %d ('%s') must be a float32 activation",
                          g->name, i, t->name);
            goto done;
        }
        ready[g->inputs[i]] = 1;
    }
    for (int k = 0; k < g->n_ops; k++) {
        lfr__op *op = &g->ops[k];
        const char *nm = lfr__op_name(op->type);
        for (int i = 0; i < op->n_in; i++) {
            if (op->in[i] < 0) continue;
            if (!ready[op->in[i]]) {
                rc = op_fail(L, op->index, nm, "reads a tensor no earlier operator produced");
                goto done;
            }
            int ty = types[op->in[i]];
            if (ty != TT_FLOAT32 && !((op->type == LFR__OP_PAD || op->type == LFR__OP_RESHAPE ||
                                       op->type == LFR__OP_RESIZE_BILINEAR) &&
                                      i == 1 && ty == TT_INT32)) {
                rc = lfr__err(LFR_ERR_UNSUPPORTED,
                              "%s: operator %d (%s): input %d has type %d, only float32 is "
                              "supported",
                              g->name, op->index, nm, i, ty);
                goto done;
            }
        }
        if (ready[op->out]) {
            rc = op_fail(L, op->index, nm, "writes a tensor that already has a value");
            goto done;
        }
        if (types[op->out] != TT_FLOAT32) {
            rc = op_fail(L, op->index, nm, "output is not float32");
            goto done;
        }
        if ((rc = lfr__graph_check_op(g, op)) != LFR_OK) goto done;
        ready[op->out] = 1;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!ready[g->outputs[i]] || !is_act(&g->tensors[g->outputs[i]])) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: output %d is never computed", g->name, i);
            goto done;
        }
done:
    free(ready);
    return rc;
}

/* ---- Entry points ------------------------------------------------------------ */

static int read_io(loader *L, const fbt *sg, int id, int *n_out, int *ids, const char *what)
{
    fbv v;
    if (!fb_vec(&L->b, sg, id, 4, &v) || v.len == 0)
        return lfr__err(LFR_ERR_FORMAT, "%s: malformed TFLite file: subgraph has no %s", L->g->name,
                        what);
    if (v.len > LFR__MAX_IO)
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: %u %s (max %d)", L->g->name, v.len, what,
                        LFR__MAX_IO);
    for (uint32_t i = 0; i < v.len; i++) {
        ids[i] = fb_vec_i32(&L->b, &v, i);
        if (ids[i] < 0 || ids[i] >= L->g->n_tensors)
            return lfr__err(LFR_ERR_FORMAT, "%s: %s %u refers to tensor %d of %d", L->g->name, what,
                            i, ids[i], L->g->n_tensors);
    }
    *n_out = (int)v.len;
    return LFR_OK;
}

static int load(loader *L)
{
    fb *b = &L->b;
    lfr__graph *g = L->g;
    if (b->n == 0) return lfr__err(LFR_ERR_FORMAT, "%s: empty file", g->name);
    if (b->n < 16 || memcmp(b->p + 4, "TFL3", 4) != 0)
        return lfr__err(LFR_ERR_FORMAT, "%s: not a TFLite model (no TFL3 identifier)", g->name);
    fbt model;
    if (!fb_table(b, fb_u32(b, 0), &model)) return ld_fail(L, "bad root table");
    uint32_t version = (uint32_t)fb_int(b, &model, 0, 4, 0, 0);
    if (version != 3)
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: TFLite schema version %u (expected 3)", g->name,
                        version);
    fbv codes_v, sgs;
    if (!fb_vec(b, &model, 1, 4, &codes_v) || codes_v.len == 0)
        return ld_fail(L, "no operator codes");
    if (!fb_vec(b, &model, 2, 4, &sgs) || sgs.len == 0) return ld_fail(L, "no subgraphs");
    fb_vec(b, &model, 4, 4, &L->buffers);
    if (b->bad) return ld_fail(L, "bad buffers");
    if (codes_v.len > 4096) return ld_fail(L, "too many operator codes");
    int codes[4096];
    for (uint32_t i = 0; i < codes_v.len; i++) {
        fbt ct;
        if (!fb_vec_table(b, &codes_v, i, &ct)) return ld_fail(L, "bad operator code");
        int dep = (int)fb_int(b, &ct, 0, 1, 1, 0);
        int full = (int)fb_int(b, &ct, 3, 4, 1, 0);
        fbv custom;
        codes[i] = dep > full ? dep : full;
        if (fb_vec(b, &ct, 1, 1, &custom) && custom.len) {
            char cname[64];
            fb_string(b, &ct, 1, cname, sizeof cname);
            return lfr__err(LFR_ERR_UNSUPPORTED, "%s: unsupported custom operator '%s'", g->name,
                            cname);
        }
        if (b->bad) return ld_fail(L, "bad operator code");
    }
    fbt sg;
    if (!fb_vec_table(b, &sgs, 0, &sg)) return ld_fail(L, "bad subgraph");
    int rc;
    int *types = NULL;
    size_t *bpos = NULL, *bsize = NULL;
    fbv ops;
    {
        fbv tv;
        if (!fb_vec(b, &sg, 0, 4, &tv) || tv.len == 0 || tv.len > 1000000)
            return ld_fail(L, "subgraph has no tensors");
        types = calloc(tv.len, sizeof *types);
        bpos = calloc(tv.len, sizeof *bpos);
        bsize = calloc(tv.len, sizeof *bsize);
        if (!types || !bpos || !bsize) {
            rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
            goto out;
        }
    }
    if ((rc = load_tensors(L, &sg, types, bpos, bsize)) != LFR_OK) goto out;
    if ((rc = load_static(L, types, bpos, bsize)) != LFR_OK) goto out;
    if ((rc = read_io(L, &sg, 1, &g->n_inputs, g->inputs, "inputs")) != LFR_OK) goto out;
    if ((rc = read_io(L, &sg, 2, &g->n_outputs, g->outputs, "outputs")) != LFR_OK) goto out;
    g->file_batch = g->tensors[g->inputs[0]].n_dims ? g->tensors[g->inputs[0]].dims[0] : 1;
    if (!fb_vec(b, &sg, 3, 4, &ops) || ops.len == 0) {
        rc = ld_fail(L, "subgraph has no operators");
        goto out;
    }
    if (ops.len > 100000) {
        rc = ld_fail(L, "too many operators");
        goto out;
    }
    g->ops = calloc(ops.len, sizeof *g->ops);
    if (!g->ops) {
        rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", g->name);
        goto out;
    }
    for (uint32_t i = 0; i < ops.len; i++) {
        fbt ot;
        if (!fb_vec_table(b, &ops, i, &ot)) {
            rc = ld_fail(L, "bad operator table");
            goto out;
        }
        if ((rc = load_op(L, (int)i, &ot, codes, codes_v.len, types, &g->n_ops)) != LFR_OK)
            goto out;
    }
    rc = check_graph(L, types);
out:
    free(types);
    free(bpos);
    free(bsize);
    return rc;
}

int lfr__tflite_load(const uint8_t *buf, size_t size, const char *name, lfr__graph **graph_out)
{
    *graph_out = NULL;
    lfr__graph *g = calloc(1, sizeof *g);
    if (!g) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    snprintf(g->name, sizeof g->name, "%s", name ? name : "model");
    loader L;
    memset(&L, 0, sizeof L);
    L.b.p = buf;
    L.b.n = size;
    L.b.name = g->name;
    L.g = g;
    int rc = load(&L);
    if (rc != LFR_OK) {
        lfr__graph_free(g);
        return rc;
    }
    *graph_out = g;
    return LFR_OK;
}

int lfr__tflite_load_file(const char *path, lfr__graph **graph_out)
{
    uint8_t *buf;
    size_t n;
    *graph_out = NULL;
    int rc = lfr__read_file(path, (size_t)256 << 20, &buf, &n);
    if (rc != LFR_OK) return rc;
    rc = lfr__tflite_load(buf, n, path, graph_out);
    free(buf);
    return rc;
}

int lfr__tflite_opcode_offset(const uint8_t *buf, size_t size, int i, size_t *off_out)
{
    fb b = {.p = buf, .n = size, .name = "model"};
    fbt model, ct;
    fbv codes;
    *off_out = 0;
    if (size < 8 || !fb_table(&b, fb_u32(&b, 0), &model) || !fb_vec(&b, &model, 1, 4, &codes) ||
        i < 0 || (uint32_t)i >= codes.len || !fb_vec_table(&b, &codes, (uint32_t)i, &ct))
        return LFR_ERR_FORMAT;
    size_t at = fb_field(&b, &ct, 0, 1);
    if (!at) return LFR_ERR_FORMAT;
    if (fb_int(&b, &ct, 3, 4, 1, 0) > 127) return LFR_ERR_UNSUPPORTED;
    /* Point the wider builtin_code field at the same value when present. */
    *off_out = fb_field(&b, &ct, 3, 4) ? fb_field(&b, &ct, 3, 4) : at;
    return LFR_OK;
}
