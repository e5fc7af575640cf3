/*
 * Per-camera face tracking and the quality gate.
 *
 * Tracker: one track per person in view. Each frame's detections are
 * associated with the live tracks greedily, best match first, where a match
 * needs box overlap (IoU >= iou_min) or, for a face that moved fast, a
 * keypoint displacement under keypoint_max times the face's inter-eye
 * distance. Unmatched detections start tracks; a track not matched for
 * max_misses frames in a row ends. A track is one "face seen" if at least
 * one of its detections passed the quality gate.
 *
 * Quality gate (lfr__quality_check), thresholds in lfr__quality_params:
 *   size       face box width >= min_face_px and inter-eye distance >=
 *              min_eye_px (pixels in the frame)
 *   sharpness  variance of a 4-neighbour Laplacian over the grey face
 *              region, sampled at up to 64x64 points, >= min_sharpness
 *   pose       yaw proxy |nose offset from the eyes' midpoint, along the
 *              eye line| / inter-eye distance <= max_yaw; roll (eye-line
 *              angle) <= max_roll_deg
 * The result also gives a quality score in (0, 1] used to pick a track's
 * best shots: larger, sharper, more frontal faces first.
 *
 * Nothing here allocates after lfr__tracker_init; nothing is biometric
 * (boxes and keypoints only).
 */
#ifndef LFR_PIPELINE_TRACK_H
#define LFR_PIPELINE_TRACK_H

#include <stdint.h>

#include "lfr/lfr.h"

typedef struct lfr__quality_params {
    float min_face_px;   /* default 32 */
    float min_eye_px;    /* default 10 */
    float min_sharpness; /* default 20 (Laplacian variance, grey levels squared) */
    float max_yaw;       /* default 0.45 */
    float max_roll_deg;  /* default 45: alignment corrects roll */
} lfr__quality_params;

lfr__quality_params lfr__quality_defaults(void);

typedef struct lfr__quality {
    int pass;
    const char *reason; /* "size", "sharpness", "pose" when it fails; "" when it passes */
    float eye_px, sharpness, yaw, roll_deg;
    float score; /* (0, 1]: higher is a better shot */
} lfr__quality;

void lfr__quality_check(const lfr_image *img, const lfr_face *f, const lfr__quality_params *p,
                        lfr__quality *out);

#define LFR__TRACK_MAX_ALERTED 8 /* subjects alerted per track */

/* A match that could not be queued (the alert queue was full): tried again
 * at the track's next embedding, lost if the track ends first. */
typedef struct lfr__deferred {
    int64_t subject;
    float score;
    int64_t frame_number, media_ms, t_ms;
} lfr__deferred;

typedef struct lfr__track {
    int64_t id;
    lfr_face face; /* last detection */
    int misses;    /* frames since the last match */
    int64_t first_frame, last_frame;
    int n_detections;
    int passed;                              /* a detection passed the quality gate */
    float best_quality;                      /* of the embedded shots */
    int n_embedded;                          /* shots embedded so far */
    int64_t last_embed_frame;                /* frame of the last embedding */
    float best_score;                        /* best watchlist score so far */
    int64_t alerted[LFR__TRACK_MAX_ALERTED]; /* subjects alerted for this track */
    int n_alerted;
    lfr__deferred deferred[LFR__TRACK_MAX_ALERTED];
    int n_deferred;
    int matched; /* this frame's detection index, or -1 */
} lfr__track;

typedef struct lfr__tracker {
    lfr__track *tracks;
    int n, cap;
    int64_t next_id;
    float iou_min;      /* default 0.3 */
    float keypoint_max; /* default 0.8 inter-eye distances */
    int max_misses;     /* default 10 frames */
    /* scratch for association (cap * max detections) */
    unsigned char *det_used;
    int det_cap;
} lfr__tracker;

/* Room for `cap` tracks and `det_cap` detections per frame. */
int lfr__tracker_init(lfr__tracker *t, int cap, int det_cap);
void lfr__tracker_free(lfr__tracker *t);

/* Associate this frame's detections: updates matched tracks (t->tracks[i].
 * matched = detection index), starts tracks for unmatched detections (at
 * most as many as fit), and for each track that ended (too many misses)
 * calls ended(track, ctx) before removing it. `det_track[j]` receives the
 * index into t->tracks of detection j's track after the update, or -1 when
 * no track could be started. */
void lfr__tracker_update(lfr__tracker *t, const lfr_face *dets, int n_dets, int64_t frame,
                         int *det_track, void (*ended)(lfr__track *tr, void *ctx), void *ctx);

/* End every track (at the end of a stream). */
void lfr__tracker_flush(lfr__tracker *t, void (*ended)(lfr__track *tr, void *ctx), void *ctx);

#endif
