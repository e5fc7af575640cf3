/*
 * Tracking and the quality gate: see track.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pipeline/track.h"
#include "util/util.h"

lfr__quality_params lfr__quality_defaults(void)
{
    lfr__quality_params p = {32.0f, 10.0f, 20.0f, 0.45f, 45.0f};
    return p;
}

/* Keypoints 0 and 1 are the image-left and image-right eyes, 2 the nose. */
static float eye_distance(const lfr_face *f)
{
    float dx = f->kp[1].x - f->kp[0].x, dy = f->kp[1].y - f->kp[0].y;
    return sqrtf(dx * dx + dy * dy);
}

void lfr__quality_check(const lfr_image *img, const lfr_face *f, const lfr__quality_params *p,
                        lfr__quality *q)
{
    memset(q, 0, sizeof *q);
    q->reason = "";
    float ex = f->kp[1].x - f->kp[0].x, ey = f->kp[1].y - f->kp[0].y;
    float eye = sqrtf(ex * ex + ey * ey);
    q->eye_px = eye;
    q->roll_deg = eye > 0 ? fabsf(atan2f(ey, ex)) * 57.29578f : 90.0f;
    if (eye > 0) {
        float mx = 0.5f * (f->kp[0].x + f->kp[1].x), my = 0.5f * (f->kp[0].y + f->kp[1].y);
        float nx = f->kp[2].x - mx, ny = f->kp[2].y - my;
        q->yaw = fabsf((nx * ex + ny * ey) / eye) / eye;
    } else {
        q->yaw = 1.0f;
    }
    /* Sharpness: Laplacian variance over the face box, sampled on a grid. */
    int x0 = (int)floorf(f->box.x), y0 = (int)floorf(f->box.y);
    int x1 = (int)ceilf(f->box.x + f->box.w), y1 = (int)ceilf(f->box.y + f->box.h);
    if (x0 < 1) x0 = 1;
    if (y0 < 1) y0 = 1;
    if (x1 > img->width - 1) x1 = img->width - 1;
    if (y1 > img->height - 1) y1 = img->height - 1;
    double sum = 0, sum2 = 0;
    int n = 0;
    if (x1 > x0 && y1 > y0) {
        int sx = (x1 - x0 + 63) / 64, sy = (y1 - y0 + 63) / 64;
        if (sx < 1) sx = 1;
        if (sy < 1) sy = 1;
        for (int y = y0; y < y1; y += sy)
            for (int x = x0; x < x1; x += sx) {
                const uint8_t *c = img->data + (size_t)y * img->stride + (size_t)x * 3;
#define GREY(p) (0.299f * (p)[0] + 0.587f * (p)[1] + 0.114f * (p)[2])
                float lap = GREY(c - 3) + GREY(c + 3) + GREY(c - img->stride) +
                            GREY(c + img->stride) - 4.0f * GREY(c);
#undef GREY
                sum += lap;
                sum2 += (double)lap * lap;
                n++;
            }
    }
    q->sharpness = n ? (float)(sum2 / n - (sum / n) * (sum / n)) : 0.0f;
    if (f->box.w < p->min_face_px || eye < p->min_eye_px)
        q->reason = "size";
    else if (q->sharpness < p->min_sharpness)
        q->reason = "sharpness";
    else if (q->yaw > p->max_yaw || q->roll_deg > p->max_roll_deg)
        q->reason = "pose";
    q->pass = q->reason[0] == 0;
    /* Bigger (saturating at 112 px between the eyes' scale), sharper and
     * more frontal is better. */
    float size = fminf(1.0f, eye / 40.0f);
    float sharp = q->sharpness / (q->sharpness + 100.0f);
    float frontal = fmaxf(0.05f, 1.0f - q->yaw / (p->max_yaw > 0 ? p->max_yaw : 1.0f) * 0.5f);
    q->score = fmaxf(1e-6f, size * (0.5f + 0.5f * sharp) * frontal);
}

/* ---- Tracker ------------------------------------------------------------------------------ */

int lfr__tracker_init(lfr__tracker *t, int cap, int det_cap)
{
    memset(t, 0, sizeof *t);
    t->tracks = calloc((size_t)cap, sizeof *t->tracks);
    t->det_used = calloc((size_t)det_cap, 1);
    if (!t->tracks || !t->det_used) {
        lfr__tracker_free(t);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    t->cap = cap;
    t->det_cap = det_cap;
    t->next_id = 1;
    t->iou_min = 0.3f;
    t->keypoint_max = 0.8f;
    t->max_misses = 10;
    return LFR_OK;
}

void lfr__tracker_free(lfr__tracker *t)
{
    if (t->tracks) sodium_memzero(t->tracks, (size_t)t->cap * sizeof *t->tracks);
    free(t->tracks);
    free(t->det_used);
    memset(t, 0, sizeof *t);
}

static float iou(const lfr_rect *a, const lfr_rect *b)
{
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
    float inter = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
    float uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0;
}

/* Match cost in [0, 2): lower is better; >= 2 means no match. */
static float affinity(const lfr__tracker *t, const lfr_face *a, const lfr_face *b)
{
    float o = iou(&a->box, &b->box);
    if (o >= t->iou_min) return 1.0f - o;
    float eye = fmaxf(eye_distance(a), 1.0f), d = 0;
    for (int k = 0; k < 3; k++) {
        float dx = a->kp[k].x - b->kp[k].x, dy = a->kp[k].y - b->kp[k].y;
        d += sqrtf(dx * dx + dy * dy);
    }
    d /= 3.0f * eye;
    return d <= t->keypoint_max ? 1.0f + d / (t->keypoint_max + 1e-6f) * 0.99f : 2.0f;
}

static void remove_track(lfr__tracker *t, int i)
{
    t->tracks[i] = t->tracks[t->n - 1];
    sodium_memzero(&t->tracks[t->n - 1], sizeof t->tracks[0]);
    t->n--;
}

void lfr__tracker_update(lfr__tracker *t, const lfr_face *dets, int n_dets, int64_t frame,
                         int *det_track, void (*ended)(lfr__track *tr, void *ctx), void *ctx)
{
    if (n_dets > t->det_cap) n_dets = t->det_cap;
    memset(t->det_used, 0, (size_t)n_dets);
    for (int i = 0; i < t->n; i++)
        t->tracks[i].matched = -1;
    for (int j = 0; j < n_dets; j++)
        det_track[j] = -1;
    /* Greedy: repeatedly take the best remaining (track, detection) pair. */
    for (;;) {
        float best = 2.0f;
        int bi = -1, bj = -1;
        for (int i = 0; i < t->n; i++) {
            if (t->tracks[i].matched >= 0) continue;
            for (int j = 0; j < n_dets; j++) {
                if (t->det_used[j]) continue;
                float c = affinity(t, &t->tracks[i].face, &dets[j]);
                if (c < best) {
                    best = c;
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi < 0) break;
        t->tracks[bi].matched = bj;
        t->det_used[bj] = 1;
    }
    for (int i = 0; i < t->n; i++) {
        lfr__track *tr = &t->tracks[i];
        if (tr->matched >= 0) {
            tr->face = dets[tr->matched];
            tr->misses = 0;
            tr->last_frame = frame;
            tr->n_detections++;
        } else {
            tr->misses++;
        }
    }
    /* End tracks that missed too often (before starting new ones, so that
     * their slots are free). */
    for (int i = t->n - 1; i >= 0; i--)
        if (t->tracks[i].matched < 0 && t->tracks[i].misses > t->max_misses) {
            if (ended) ended(&t->tracks[i], ctx);
            remove_track(t, i);
        }
    for (int j = 0; j < n_dets; j++) {
        if (t->det_used[j] || t->n >= t->cap) continue;
        lfr__track *tr = &t->tracks[t->n++];
        memset(tr, 0, sizeof *tr);
        tr->id = t->next_id++;
        tr->face = dets[j];
        tr->first_frame = tr->last_frame = frame;
        tr->n_detections = 1;
        tr->matched = j;
        tr->best_score = -2.0f;
    }
    for (int i = 0; i < t->n; i++)
        if (t->tracks[i].matched >= 0) det_track[t->tracks[i].matched] = i;
}

void lfr__tracker_flush(lfr__tracker *t, void (*ended)(lfr__track *tr, void *ctx), void *ctx)
{
    while (t->n > 0) {
        if (ended) ended(&t->tracks[t->n - 1], ctx);
        remove_track(t, t->n - 1);
    }
}
