/*
 * The face engine: loads the detector and embedder once (immutable,
 * shared), and gives each thread a session owning its XNNPACK runtimes and
 * every per-frame buffer.
 *
 * Detection covers a frame with the whole frame letterboxed into the model
 * input plus, for frames larger than the input, a pyramid of overlapping
 * square tiles, so that small faces in large frames reach the model at a
 * usable size. Candidates from all tiles are merged by weighted NMS;
 * candidates cut by an inner tile edge are dropped first, since the same
 * face appears whole in an overlapping tile or level.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <xnnpack.h>

#include "face.h"
#include "image/image.h"
#include "util/util.h"

#define CAND_CAP 8192
#define MAX_TILES_CEILING 256

lfr_engine_config lfr_engine_config_default(void)
{
    lfr_engine_config c;
    memset(&c, 0, sizeof c);
    c.model_dir = NULL;
    c.detector = LFR_DETECTOR_FULL_RANGE;
    c.embed_batch = 2;
    c.min_score = 0.5f;
    c.nms_iou = 0.3f;
    c.tile = 1;
    c.max_tiles = 40;
    c.zoom_out = 1;
    c.max_pixels = LFR_DEFAULT_MAX_PIXELS;
    return c;
}

void lfr__sha256_hex(const uint8_t *data, size_t size, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, size);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int load_model(const char *dir, const char *file, lfr__graph **g, char sha[65])
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return lfr__err(LFR_ERR_INVALID, "%s: model path too long", dir);
    uint8_t *buf;
    size_t n;
    int rc = lfr__read_file(path, (size_t)256 << 20, &buf, &n);
    if (rc == LFR_ERR_IO) {
        char why[512];
        snprintf(why, sizeof why, "%s", lfr_errmsg());
        return lfr__err(rc, "%s (run scripts/setup.sh to fetch the models)", why);
    }
    if (rc != LFR_OK) return rc;
    lfr__sha256_hex(buf, n, sha);
    rc = lfr__tflite_load(buf, n, path, g);
    free(buf);
    return rc;
}

static int shape_is(const lfr__graph *g, int t, int n, const int *d)
{
    const lfr__tensor *T = &g->tensors[t];
    if (T->n_dims != n) return 0;
    for (int i = 0; i < n; i++)
        if (d[i] >= 0 && T->dims[i] != d[i]) return 0;
    return 1;
}

static int check_detector(lfr_engine *e)
{
    lfr__graph *g = e->detector;
    int s = e->bp->input_size, a = e->bp->n_anchors;
    if (g->n_inputs != 1 || !shape_is(g, g->inputs[0], 4, (int[]){1, s, s, 3}))
        return lfr__err(LFR_ERR_FORMAT, "%s: expected one input of shape [1,%d,%d,3]", g->name, s,
                        s);
    e->det_boxes = e->det_scores = -1;
    for (int i = 0; i < g->n_outputs; i++) {
        if (shape_is(g, g->outputs[i], 3, (int[]){1, a, 16})) e->det_boxes = i;
        if (shape_is(g, g->outputs[i], 3, (int[]){1, a, 1})) e->det_scores = i;
    }
    if (g->n_outputs != 2 || e->det_boxes < 0 || e->det_scores < 0)
        return lfr__err(LFR_ERR_FORMAT,
                        "%s: expected outputs [1,%d,16] (boxes) and [1,%d,1] (scores)", g->name, a,
                        a);
    return LFR_OK;
}

static int check_embedder(lfr_engine *e)
{
    lfr__graph *g = e->embedder;
    if (g->n_inputs != 1 || !shape_is(g, g->inputs[0], 4, (int[]){-1, 112, 112, 3}))
        return lfr__err(LFR_ERR_FORMAT, "%s: expected one input of shape [N,112,112,3]", g->name);
    if (g->n_outputs != 1 ||
        !shape_is(g, g->outputs[0], 2, (int[]){g->file_batch, LFR_TEMPLATE_DIM}))
        return lfr__err(LFR_ERR_FORMAT, "%s: expected one output of shape [N,%d]", g->name,
                        LFR_TEMPLATE_DIM);
    return LFR_OK;
}

int lfr_engine_open(const lfr_engine_config *config, lfr_engine **engine_out)
{
    *engine_out = NULL;
    lfr_engine_config def = lfr_engine_config_default();
    if (!config) config = &def;
    if (config->embed_batch < 1 || config->embed_batch > 64)
        return lfr__err(LFR_ERR_INVALID, "embed_batch %d out of range 1..64", config->embed_batch);
    if (!(config->min_score > 0 && config->min_score < 1) ||
        !(config->nms_iou > 0 && config->nms_iou < 1))
        return lfr__err(LFR_ERR_INVALID, "min_score and nms_iou must lie in (0, 1)");
    if (config->max_tiles < 1 || config->max_tiles > MAX_TILES_CEILING)
        return lfr__err(LFR_ERR_INVALID, "max_tiles %d out of range 1..%d", config->max_tiles,
                        MAX_TILES_CEILING);
    if (sodium_init() < 0) return lfr__err(LFR_ERR_BACKEND, "libsodium initialisation failed");
    int rc = lfr__xnn_init();
    if (rc != LFR_OK) return rc;

    lfr_engine *e = calloc(1, sizeof *e);
    if (!e) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    e->cfg = *config;
    if (e->cfg.max_pixels == 0) e->cfg.max_pixels = LFR_DEFAULT_MAX_PIXELS;
    const char *dir = config->model_dir ? config->model_dir : getenv("LFR_MODELS");
    snprintf(e->model_dir, sizeof e->model_dir, "%s", dir && *dir ? dir : "models");
    e->cfg.model_dir = e->model_dir;
    e->bp = lfr__blaze_params_for(config->detector);

    const char *det_file = config->detector == LFR_DETECTOR_SHORT_RANGE
                               ? "face_detection_short_range.tflite"
                               : "face_detection_full_range.tflite";
    if ((rc = load_model(e->model_dir, det_file, &e->detector, e->det_sha)) != LFR_OK ||
        (rc = check_detector(e)) != LFR_OK ||
        (rc = load_model(e->model_dir, "MobileFaceNet.tflite", &e->embedder, e->emb_sha)) !=
            LFR_OK ||
        (rc = check_embedder(e)) != LFR_OK)
        goto fail;
    if (lfr__graph_fuse_prelu(e->embedder) < 0) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    e->anchors = malloc((size_t)e->bp->n_anchors * 2 * sizeof(float));
    if (!e->anchors) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    lfr__blaze_anchors(e->bp, e->anchors, e->bp->n_anchors);
    *engine_out = e;
    return LFR_OK;
fail:
    lfr_engine_close(e);
    return rc;
}

void lfr_engine_close(lfr_engine *e)
{
    if (!e) return;
    lfr__graph_free(e->detector);
    lfr__graph_free(e->embedder);
    free(e->anchors);
    free(e);
}

const char *lfr_engine_model_sha256(const lfr_engine *e, const char *role)
{
    if (!e || !role) return NULL;
    if (!strcmp(role, "detector")) return e->det_sha;
    if (!strcmp(role, "embedder")) return e->emb_sha;
    return NULL;
}

const char *lfr_backend_version(void)
{
    return "XNNPACK (Debian libxnnpack 0.0~git20220216.ae108ef)";
}

/* ---- Sessions ------------------------------------------------------------------ */

int lfr_session_open(lfr_engine *e, int n_threads, lfr_session **out)
{
    *out = NULL;
    if (!e) return lfr__err(LFR_ERR_INVALID, "no engine");
    lfr_session *s = calloc(1, sizeof *s);
    if (!s) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    s->eng = e;
    s->emb_batch = e->cfg.embed_batch;
    int rc;
    if ((rc = lfr__xnn_pool_create(n_threads, &s->pool)) != LFR_OK ||
        (rc = lfr__xnn_create(e->detector, 1, s->pool, &s->det)) != LFR_OK ||
        (rc = lfr__xnn_create(e->embedder, s->emb_batch, s->pool, &s->emb)) != LFR_OK)
        goto fail;
    s->cand_cap = CAND_CAP;
    s->cand = malloc((size_t)s->cand_cap * sizeof *s->cand);
    s->used = malloc((size_t)s->cand_cap);
    s->tiles = malloc((size_t)(e->cfg.max_tiles + 2) * sizeof *s->tiles);
    if (!s->cand || !s->used || !s->tiles) {
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = s;
    return LFR_OK;
fail:
    lfr_session_close(s);
    return rc;
}

void lfr_session_close(lfr_session *s)
{
    if (!s) return;
    lfr__xnn_wipe(s->det);
    lfr__xnn_wipe(s->emb);
    lfr__xnn_free(s->det);
    lfr__xnn_free(s->emb);
    lfr__xnn_pool_free(s->pool);
    /* Candidates hold face geometry of whoever was in the last frame. */
    if (s->cand) sodium_memzero(s->cand, (size_t)s->cand_cap * sizeof *s->cand);
    free(s->cand);
    free(s->used);
    free(s->tiles);
    free(s);
}

/* ---- Tiling -------------------------------------------------------------------- */

/* A square region [x0, x0+side) x [y0, y0+side) of the frame, scaled to fit
 * the S x S input and centred (letterboxed) where the region leaves the
 * frame. Half-pixel convention: input pixel u covers [u, u+1). */
static lfr__tile make_tile(int S, int w, int h, float x0, float y0, float side)
{
    lfr__tile t;
    float rx1 = fminf(x0 + side, (float)w), ry1 = fminf(y0 + side, (float)h);
    float rw = rx1 - x0, rh = ry1 - y0;
    float scale = (float)S / fmaxf(rw, rh); /* input px per image px */
    float ox = ((float)S - rw * scale) / 2, oy = ((float)S - rh * scale) / 2;
    /* image x = (u + 0.5 - ox) / scale + x0 - 0.5 for input pixel centre u */
    t.m[0] = 1 / scale;
    t.m[1] = 0;
    t.m[2] = (0.5f - ox) / scale + x0 - 0.5f;
    t.m[3] = 0;
    t.m[4] = 1 / scale;
    t.m[5] = (0.5f - oy) / scale + y0 - 0.5f;
    t.x0 = x0;
    t.y0 = y0;
    t.x1 = rx1;
    t.y1 = ry1;
    return t;
}

/* The whole frame centred in a square twice its size: faces that fill most
 * of a frame are larger than BlazeFace full range handles well. */
static lfr__tile zoom_out_tile(int S, int w, int h)
{
    lfr__tile t;
    float side = 2.0f * (float)(w > h ? w : h), scale = (float)S / side;
    float x0 = ((float)w - side) / 2, y0 = ((float)h - side) / 2;
    t.m[0] = t.m[4] = 1 / scale;
    t.m[1] = t.m[3] = 0;
    t.m[2] = 0.5f / scale + x0 - 0.5f;
    t.m[5] = 0.5f / scale + y0 - 0.5f;
    t.x0 = x0;
    t.y0 = y0;
    t.x1 = x0 + side;
    t.y1 = y0 + side;
    return t;
}

int lfr__plan_tiles(const lfr_engine_config *cfg, int S, int w, int h, lfr__tile *tiles, int cap)
{
    int n = 0;
    tiles[n++] = make_tile(S, w, h, 0, 0, (float)(w > h ? w : h));
    if (cfg->zoom_out && n < cap) tiles[n++] = zoom_out_tile(S, w, h);
    if (!cfg->tile) return n;
    int big = w > h ? w : h;
    /* Levels of tile side T = 2S, 4S, ... below the frame size, finest
     * last; a quarter of each tile overlaps its neighbour, so any face up
     * to T/4 wide lies whole inside some tile of its level. */
    int n_levels = 0, sides[16];
    for (int T = 2 * S; T * 3 / 2 < big && n_levels < 16; T *= 2)
        sides[n_levels++] = T;
    for (int l = n_levels - 1; l >= 0; l--) {
        int T = sides[l], step = T * 3 / 4;
        int nx = w <= T ? 1 : (w - T + step - 1) / step + 1;
        int ny = h <= T ? 1 : (h - T + step - 1) / step + 1;
        if (n + nx * ny > cap) break; /* coarser levels first: keep what fits */
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) {
                /* Spread tiles evenly so the last one ends at the frame edge. */
                float x0 = nx == 1 ? 0 : (float)(w - T) * (float)i / (float)(nx - 1);
                float y0 = ny == 1 ? 0 : (float)(h - T) * (float)j / (float)(ny - 1);
                if (x0 < 0) x0 = 0;
                if (y0 < 0) y0 = 0;
                tiles[n++] = make_tile(S, w, h, x0, y0, (float)T);
            }
    }
    return n;
}

/* ---- Detection ---------------------------------------------------------------- */

static int cmp_score_desc(const void *a, const void *b)
{
    float x = ((const lfr_face *)a)->score, y = ((const lfr_face *)b)->score;
    return (x < y) - (x > y);
}

static int check_image(const lfr_image *img, uint64_t max_pixels)
{
    if (!img || !img->data || img->width < 1 || img->height < 1 ||
        img->stride < (size_t)img->width * 3)
        return lfr__err(LFR_ERR_INVALID, "invalid image");
    if ((uint64_t)img->width * (uint64_t)img->height > max_pixels)
        return lfr__err(LFR_ERR_TOO_LARGE, "%dx%d image exceeds the limit of %llu pixels",
                        img->width, img->height, (unsigned long long)max_pixels);
    return LFR_OK;
}

/* Append the candidates of one tile, in image pixels; drop faces cut by an
 * edge of the tile that lies inside the frame. */
static int detect_tile(lfr_session *s, const lfr_image *img, const lfr__tile *t, int *n_cand)
{
    lfr_engine *e = s->eng;
    const lfr__blaze_params *bp = e->bp;
    int S = bp->input_size;
    lfr__warp_affine_f32(img, t->m, S, S, 0.0f, 1.0f / 127.5f, -1.0f, lfr__xnn_input(s->det, 0));
    int rc = lfr__xnn_run(s->det);
    if (rc != LFR_OK) return rc;
    const float *boxes = lfr__xnn_output(s->det, e->det_boxes);
    const float *scores = lfr__xnn_output(s->det, e->det_scores);
    float thr = e->cfg.min_score;
    float logit = logf(thr / (1 - thr));
    float margin = 0.02f * (t->x1 - t->x0);
    /* Input units (0..1) to continuous image coordinates (pixel i covers
     * [i, i+1), as MediaPipe's normalised x times the width): m maps
     * pixel-centre indices, so continuous c maps to m0 (c - 0.5) + m2 + 0.5. */
    const float sc = t->m[0] * (float)S;
    const float ox = t->m[2] + 0.5f - 0.5f * t->m[0], oy = t->m[5] + 0.5f - 0.5f * t->m[4];
    for (int a = 0; a < bp->n_anchors; a++) {
        float raw = scores[a];
        if (raw < logit) continue;
        if (raw > bp->score_clip) raw = bp->score_clip;
        if (raw < -bp->score_clip) raw = -bp->score_clip;
        lfr_face f;
        lfr__blaze_decode(bp, e->anchors + 2 * a, boxes + (size_t)a * 16, &f);
        f.score = 1.0f / (1.0f + expf(-raw));
        f.box.x = f.box.x * sc + ox;
        f.box.y = f.box.y * sc + oy;
        f.box.w *= sc;
        f.box.h *= sc;
        for (int k = 0; k < LFR_N_KEYPOINTS; k++) {
            f.kp[k].x = f.kp[k].x * sc + ox;
            f.kp[k].y = f.kp[k].y * sc + oy;
        }
        int cut = (t->x0 > 0 && f.box.x < t->x0 + margin) ||
                  (t->y0 > 0 && f.box.y < t->y0 + margin) ||
                  (t->x1 < (float)img->width && f.box.x + f.box.w > t->x1 - margin) ||
                  (t->y1 < (float)img->height && f.box.y + f.box.h > t->y1 - margin);
        if (cut || !(f.box.w > 0) || !(f.box.h > 0)) continue;
        if (*n_cand < s->cand_cap) s->cand[(*n_cand)++] = f;
    }
    return LFR_OK;
}

/* The tile plan for frames of this size (planned once per size). */
static void plan_for(lfr_session *s, int w, int h)
{
    if (s->plan_w != w || s->plan_h != h) {
        s->n_tiles = lfr__plan_tiles(&s->eng->cfg, s->eng->bp->input_size, w, h, s->tiles,
                                     s->eng->cfg.max_tiles);
        s->plan_w = w;
        s->plan_h = h;
    }
}

/* Detect on the coarse tiles (the whole frame, and the zoom-out pass) and
 * `count` fine tiles from `first` on (cyclically; count < 0: all). */
static int detect_some(lfr_session *s, const lfr_image *img, int first, int count, lfr_face *faces,
                       int cap, int *n_out)
{
    *n_out = 0;
    if (!s || (cap > 0 && !faces) || cap < 0) return lfr__err(LFR_ERR_INVALID, "invalid argument");
    int rc = check_image(img, s->eng->cfg.max_pixels);
    if (rc != LFR_OK) return rc;
    plan_for(s, img->width, img->height);
    int coarse = s->eng->cfg.zoom_out ? 2 : 1;
    if (coarse > s->n_tiles) coarse = s->n_tiles;
    int fine = s->n_tiles - coarse;
    if (count < 0 || count > fine) count = fine;
    if (first < 0) first = 0;
    int n = 0;
    for (int i = 0; i < coarse; i++)
        if ((rc = detect_tile(s, img, &s->tiles[i], &n)) != LFR_OK) return rc;
    for (int k = 0; k < count; k++) {
        int i = coarse + (first + k) % fine;
        if ((rc = detect_tile(s, img, &s->tiles[i], &n)) != LFR_OK) return rc;
    }
    qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_score_desc);
    n = lfr__nms_weighted(s->cand, n, s->eng->cfg.nms_iou, s->used);
    for (int i = 0; i < n && i < cap; i++)
        faces[i] = s->cand[i];
    *n_out = n;
    return LFR_OK;
}

int lfr_session_detect(lfr_session *s, const lfr_image *img, lfr_face *faces, int cap, int *n_out)
{
    return detect_some(s, img, 0, -1, faces, cap, n_out);
}

int lfr_session_fine_tiles(lfr_session *s, int width, int height)
{
    if (!s || width < 1 || height < 1) return 0;
    plan_for(s, width, height);
    int coarse = s->eng->cfg.zoom_out ? 2 : 1;
    return s->n_tiles > coarse ? s->n_tiles - coarse : 0;
}

int lfr_session_detect_tiles(lfr_session *s, const lfr_image *img, int first, int count,
                             lfr_face *faces, int cap, int *n_out)
{
    return detect_some(s, img, first, count, faces, cap, n_out);
}

/* ---- Embedding ---------------------------------------------------------------- */

int lfr_session_embed(lfr_session *s, const lfr_image *img, const lfr_face *faces, int n,
                      float *out)
{
    if (!s || n < 0 || (n > 0 && (!faces || !out)))
        return lfr__err(LFR_ERR_INVALID, "invalid argument");
    int rc = check_image(img, s->eng->cfg.max_pixels);
    if (rc != LFR_OK) return rc;
    const int B = s->emb_batch, per = 112 * 112 * 3;
    float *in = lfr__xnn_input(s->emb, 0);
    for (int done = 0; done < n; done += B) {
        int m = n - done < B ? n - done : B;
        for (int i = 0; i < m && rc == LFR_OK; i++)
            if (!lfr__align_face(img, &faces[done + i], in + (size_t)i * per))
                rc = lfr__err(LFR_ERR_INVALID, "face %d has degenerate keypoints", done + i);
        if (rc != LFR_OK || (rc = lfr__xnn_run(s->emb)) != LFR_OK) break;
        const float *o = lfr__xnn_output(s->emb, 0);
        for (int i = 0; i < m; i++) {
            const float *v = o + (size_t)i * LFR_TEMPLATE_DIM;
            double ss = 0;
            for (int k = 0; k < LFR_TEMPLATE_DIM; k++)
                ss += (double)v[k] * v[k];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            float *t = out + (size_t)(done + i) * LFR_TEMPLATE_DIM;
            for (int k = 0; k < LFR_TEMPLATE_DIM; k++)
                t[k] = v[k] * inv;
        }
    }
    /* The runtime's buffers hold the last faces' pixels and features. */
    lfr__xnn_wipe(s->emb);
    return rc;
}

float lfr_template_similarity(const float *a, const float *b)
{
    float s = 0;
    for (int k = 0; k < LFR_TEMPLATE_DIM; k++)
        s += a[k] * b[k];
    return s;
}
