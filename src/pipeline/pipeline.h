/*
 * The live pipeline: one worker thread per camera of a running deployment.
 *
 *   source (src/video) -> detect (engine: the whole frame every frame, the
 *   fine tiles of large frames a few per frame in turn) -> track -> quality gate
 *   -> shots (at most max_embeds per track: a clearly better shot at once,
 *      else one every embed_every frames)
 *   -> align + embed -> exact search of the frozen watchlist (src/gallery)
 *   -> per subject, the best image's score; at or above the deployment's
 *      threshold, one alert per (track, subject): the probe crop is
 *      encoded, sealed and recorded through the store with its audit
 *      entry, and an event is written (JSON line, no biometric data).
 *
 * Privacy: a track's templates live on the worker's stack only for the
 * search and are wiped right after; no crop is made unless an alert is
 * raised, and it is wiped once sealed. Tracks hold boxes and keypoints only.
 * The frame buffers belong to the source and are overwritten each frame.
 *
 * Counters (frames, dropped, detections, faces seen, quality rejects) are
 * added to the store every flush_s seconds (default 10) and at the end.
 * "Faces seen" counts a track the first time one of its faces passes the
 * quality gate; a track that ends without one counts as a quality reject.
 *
 * The store handle is not thread-safe, and its writes wait for the disk: the
 * workers hand alerts and counters to one store thread through a queue, so
 * that a slow disk never makes a camera drop frames.
 */
#ifndef LFR_PIPELINE_H
#define LFR_PIPELINE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "lfr/lfr.h"
#include "pipeline/track.h"

#define LFR__LATENCY_SAMPLES 4096

typedef struct lfr__pipeline_config {
    lfr_engine *engine;
    lfr_store *store;
    const lfr_user *user;
    const lfr_deployment *deployment;
    const lfr_watchlist *watchlist;
    /* subject id -> reference and category, for events (may be NULL). */
    const int64_t *subject_ids;
    const char (*subject_refs)[LFR_SUBJECT_REF_MAX + 1];
    const lfr_category *subject_cats;
    int n_subjects;
    lfr__quality_params quality;
    int max_embeds;              /* per track; default 12 */
    int embed_every;             /* frames between embeddings of one track when no
                                    clearly better shot comes; default 6 */
    int fine_tiles_per_frame;    /* fine detector tiles per frame, in turn (see
                                    lfr_session_detect_tiles); 0: default 4; -1: all */
    int realtime, loop;          /* files: pace at their frame rate; start again at the end */
    double duration_s;           /* stop after this long (0: until the sources end or a signal) */
    double flush_s;              /* counters to the store at least this often; default 10 */
    FILE *events;                /* JSON lines, or NULL */
    FILE *log;                   /* one line per camera event; stderr when NULL */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to stop */
} lfr__pipeline_config;

/* What one camera did (for the command's summary and bench/live). CPU
 * times are the worker thread's, in milliseconds. */
typedef struct lfr__camera_stats {
    char name[LFR_CAMERA_NAME_MAX + 1];
    int ok;          /* ended normally (stream end, duration, signal) */
    char error[256]; /* the last failure, "" if none */
    int64_t frames, dropped, reconnects, detections, tracks, faces_seen, quality_rejects, alerts,
        embeds;
    double cpu_decode_ms, cpu_detect_ms, cpu_track_ms, cpu_embed_ms, cpu_search_ms;
    double wall_s;
    int n_latency;
    double latency_ms[LFR__LATENCY_SAMPLES]; /* frame arrival to alert recorded */
} lfr__camera_stats;

/* Run every camera of the deployment until the sources end, duration_s
 * passes or *stop is set. stats_out holds deployment->n_cameras entries
 * (caller-allocated). Returns LFR_OK when every camera ended normally,
 * else the status of the first failure (the other cameras ran on). */
int lfr__pipeline_run(const lfr__pipeline_config *cfg, lfr__camera_stats *stats_out);

#endif
