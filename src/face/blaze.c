/*
 * BlazeFace anchors, decoding and weighted non-maximum suppression, after
 * MediaPipe's SsdAnchorsCalculator, TensorsToDetectionsCalculator and
 * NonMaxSuppressionCalculator with the options of its face_detection
 * graphs. The .binarypb files in the model package only wrap the subgraph
 * by name, so the option values are restated here from those graphs.
 */
#include <math.h>
#include <string.h>

#include "face.h"

/* face_detection_full_range.pbtxt: num_layers 1, strides [4], 192x192,
 * anchor_offset 0.5, fixed_anchor_size, interpolated_scale_aspect_ratio 0;
 * x/y/w/h_scale 192, sigmoid scores clipped at 100, min_score_thresh 0.6.
 * face_detection_short_range.pbtxt: num_layers 4, strides [8,16,16,16],
 * 128x128, interpolated_scale_aspect_ratio 1 (two anchors per layer and
 * cell), scales 128, min_score_thresh 0.5. Both: WEIGHTED NMS at IoU 0.3. */
static const lfr__blaze_params full_range = {192, 1, {4, 0, 0, 0}, 0, 2304, 100.0f, 0.6f};
static const lfr__blaze_params short_range = {128, 4, {8, 16, 16, 16}, 1, 896, 100.0f, 0.5f};

const lfr__blaze_params *lfr__blaze_params_for(lfr_detector_kind kind)
{
    return kind == LFR_DETECTOR_SHORT_RANGE ? &short_range : &full_range;
}

int lfr__blaze_anchors(const lfr__blaze_params *p, float *xy, int cap)
{
    int n = 0, layer = 0;
    while (layer < p->n_layers) {
        /* Consecutive layers with the same stride share one feature map. */
        int per_cell = 0, last = layer;
        while (last < p->n_layers && p->strides[last] == p->strides[layer]) {
            per_cell += 1 + (p->interpolated ? 1 : 0);
            last++;
        }
        int fm = (p->input_size + p->strides[layer] - 1) / p->strides[layer];
        for (int y = 0; y < fm; y++)
            for (int x = 0; x < fm; x++)
                for (int a = 0; a < per_cell; a++) {
                    if (n < cap) {
                        xy[2 * n] = ((float)x + 0.5f) / (float)fm;
                        xy[2 * n + 1] = ((float)y + 0.5f) / (float)fm;
                    }
                    n++;
                }
        layer = last;
    }
    return n;
}

void lfr__blaze_decode(const lfr__blaze_params *p, const float *anchor_xy, const float *raw,
                       lfr_face *out)
{
    float s = (float)p->input_size;
    float cx = raw[0] / s + anchor_xy[0], cy = raw[1] / s + anchor_xy[1];
    float w = raw[2] / s, h = raw[3] / s;
    out->box.x = cx - w / 2;
    out->box.y = cy - h / 2;
    out->box.w = w;
    out->box.h = h;
    for (int k = 0; k < LFR_N_KEYPOINTS; k++) {
        out->kp[k].x = raw[4 + 2 * k] / s + anchor_xy[0];
        out->kp[k].y = raw[5 + 2 * k] / s + anchor_xy[1];
    }
}

float lfr__iou(const lfr_rect *a, const lfr_rect *b)
{
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
    if (x1 <= x0 || y1 <= y0) return 0.0f;
    float inter = (x1 - x0) * (y1 - y0);
    float uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

int lfr__nms_weighted(lfr_face *faces, int n, float iou_threshold, unsigned char *used)
{
    memset(used, 0, (size_t)n);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (used[i]) continue;
        /* Average the cluster around the best remaining candidate, weighted by
         * score; the cluster keeps the best score. */
        lfr_face best = faces[i];
        float wsum = 0, bx = 0, by = 0, bw = 0, bh = 0, kx[LFR_N_KEYPOINTS] = {0},
              ky[LFR_N_KEYPOINTS] = {0};
        for (int j = i; j < n; j++) {
            if (used[j]) continue;
            if (j != i && lfr__iou(&best.box, &faces[j].box) <= iou_threshold) continue;
            used[j] = 1;
            float w = faces[j].score;
            wsum += w;
            bx += w * faces[j].box.x;
            by += w * faces[j].box.y;
            bw += w * faces[j].box.w;
            bh += w * faces[j].box.h;
            for (int k = 0; k < LFR_N_KEYPOINTS; k++) {
                kx[k] += w * faces[j].kp[k].x;
                ky[k] += w * faces[j].kp[k].y;
            }
        }
        lfr_face *o = &faces[kept++];
        o->score = best.score;
        o->box = (lfr_rect){bx / wsum, by / wsum, bw / wsum, bh / wsum};
        for (int k = 0; k < LFR_N_KEYPOINTS; k++)
            o->kp[k] = (lfr_point){kx[k] / wsum, ky[k] / wsum};
    }
    return kept;
}
