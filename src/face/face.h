/*
 * Internal face-engine definitions shared by engine.c, detect.c and
 * align.c: the engine (immutable, shared) and session (per thread) structs,
 * BlazeFace anchors and decoding parameters, and the alignment maths.
 */
#ifndef LFR_FACE_H
#define LFR_FACE_H

#include "lfr/lfr.h"
#include "nn/nn.h"

/* MediaPipe's SsdAnchorsCalculator and TensorsToDetectionsCalculator options
 * for the two BlazeFace models (face_detection_{full_range,short_range}
 * graphs). With fixed_anchor_size every anchor is 1x1, so only centres are
 * stored. */
typedef struct lfr__blaze_params {
    int input_size; /* square input, pixels */
    int n_layers;
    int strides[4];
    int interpolated; /* interpolated_scale_aspect_ratio > 0: 2 anchors per layer */
    int n_anchors;
    float score_clip;   /* raw scores are clipped to +-this before the sigmoid */
    float mp_min_score; /* MediaPipe's own threshold, reported for reference */
} lfr__blaze_params;

const lfr__blaze_params *lfr__blaze_params_for(lfr_detector_kind kind);

/* Anchor centres (x, y) in [0, 1]; returns the count written (<= cap). */
int lfr__blaze_anchors(const lfr__blaze_params *p, float *xy, int cap);

/* Decode one anchor's 16 regressors into a face in input-tensor units
 * (0..1 of the square input). */
void lfr__blaze_decode(const lfr__blaze_params *p, const float *anchor_xy, const float *raw,
                       lfr_face *out);

/* Weighted non-maximum suppression (MediaPipe's WEIGHTED algorithm) over
 * `n` candidates sorted by descending score, in place; returns the number
 * of faces kept at the front. `used` is n bytes of scratch. */
int lfr__nms_weighted(lfr_face *faces, int n, float iou_threshold, unsigned char *used);

float lfr__iou(const lfr_rect *a, const lfr_rect *b);

/* The ArcFace 112x112 template for the four BlazeFace points used
 * (image-left eye, image-right eye, nose tip, mouth centre). */
extern const float lfr__arcface_bz4[4][2];

/* Least-squares similarity transform (rotation, uniform scale,
 * translation; no reflection) mapping src[i] onto dst[i]: m is 2x3 with
 * dst = [m0 m1; m3 m4] src + [m2; m5]. Returns 0 when degenerate. */
int lfr__similarity_fit(const float (*src)[2], const float (*dst)[2], int n, float m_out[6]);

/* Fill a 112x112x3 embedder input for one face (MODELS.md preprocessing). */
int lfr__align_face(const lfr_image *img, const lfr_face *face, float *dst);

struct lfr_engine {
    lfr_engine_config cfg;
    char model_dir[512];
    const lfr__blaze_params *bp;
    lfr__graph *detector;
    lfr__graph *embedder;
    int det_scores, det_boxes; /* detector output indices */
    float *anchors;            /* n_anchors * 2 */
    char det_sha[65], emb_sha[65];
};

typedef struct lfr__tile {
    float m[6];           /* model input pixel -> image pixel (affine, half-pixel) */
    float x0, y0, x1, y1; /* image region covered; edges inside the image mark cut faces */
} lfr__tile;

struct lfr_session {
    lfr_engine *eng;
    void *pool;
    lfr__xnn *det;
    lfr__xnn *emb;
    int emb_batch;
    /* Tiling plan, rebuilt only when the frame size changes. */
    int plan_w, plan_h, n_tiles;
    lfr__tile *tiles;
    /* Candidate detections across tiles, then NMS scratch. */
    int cand_cap;
    lfr_face *cand;
    unsigned char *used;
};

/* Plan the tiles covering a w x h frame; returns the count (<= cap). */
int lfr__plan_tiles(const lfr_engine_config *cfg, int input_size, int w, int h, lfr__tile *tiles,
                    int cap);

#endif
