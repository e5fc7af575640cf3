/*
 * One live run: the cameras of a running deployment, each on a worker
 * thread, one store thread and one monitor thread (the supervisor in
 * supervisor.c starts and stops runs; include/lfr/run.h is the contract).
 *
 *   source (src/video) -> detect (engine: the whole frame every frame, the
 *   fine tiles of large frames a few per frame in turn) -> track -> quality gate
 *   -> shots (at most max_embeds per track: a clearly better shot at once,
 *      else one every embed_every frames)
 *   -> align + embed -> exact search of the frozen watchlist (src/gallery)
 *   -> per subject, the best image's score; at or above the deployment's
 *      threshold, one alert per (track, subject): the probe crop is
 *      encoded and queued for the store thread, which seals and records it
 *      with its audit entry and then publishes the alert event.
 *
 * Privacy: a track's templates live on the worker's stack only for the
 * search and are wiped right after; no crop is made unless an alert is
 * raised, and it is wiped once sealed (or given up). Tracks hold boxes and
 * keypoints only. The frame buffers belong to the source.
 *
 * The store thread owns the run's store handle (handles are not
 * thread-safe, and writes wait for the disk): it records alerts and
 * counters from a bounded queue, so that a slow disk never makes a camera
 * drop frames, and re-reads the deployment's state every poll_s, halting
 * the run when the store says it is stopped or its planned end has come.
 *
 * The alert queue (S19). At most alert_queue_max alerts and
 * alert_queue_bytes of crops wait for the store, per run:
 *   - a store write that fails for a reason that may pass (busy, I/O, full
 *     disk, memory) is retried, the alert kept at the head of the queue,
 *     after 0.1 s doubling to 2 s, for as long as the run lasts and drain_s
 *     after its halt; a refusal that will not pass (the deployment stopped,
 *     a role withdrawn) loses the alert at once;
 *   - when the queue is full the worker does not mark the track alerted
 *     (it is deferred): the next embedding of that track that still
 *     matches tries again; a track that ends with a deferred match loses
 *     it;
 *   - every lost alert is counted (alerts_lost), logged and published as an
 *     alert_lost event with its subject, score, frame and why: none is lost
 *     silently. What a SIGKILL takes (the queue in memory) is not covered.
 * Counters never wait in the queue for long: one job per camera at most,
 * and what the store refuses is carried to the next try.
 */
#ifndef LFR_PIPELINE_H
#define LFR_PIPELINE_H

#include <stdint.h>

#include "lfr/lfr.h"
#include "lfr/run.h"
#include "pipeline/track.h"

/* The watchlist's subjects, for naming them in events (read-only during a
 * run). */
typedef struct lfr__subjects {
    int64_t *ids;
    char (*refs)[LFR_SUBJECT_REF_MAX + 1];
    lfr_category *cats;
    int n, cap;
} lfr__subjects;

/* Every subject the actor may list, removed ones included. */
int lfr__subjects_load(lfr_store *st, const lfr_user *actor, lfr__subjects *out);
void lfr__subjects_free(lfr__subjects *s);

/* Test seam: a fault function, when set, is asked before each store
 * operation of the store thread and makes it fail (LFR_ERR_STORE) when it
 * returns non-zero, as a busy or failing database would. */
enum { LFR__FAULT_ALERT = 1, LFR__FAULT_COUNTERS = 2, LFR__FAULT_POLL = 3 };
typedef int (*lfr__fault_fn)(void *ctx, int op);

typedef struct lfr__run_config {
    lfr_engine *engine;
    /* Taken over by the run, whether it starts or not: */
    lfr_store *store;           /* used by the store thread only; closed at the end */
    lfr_deployment *deployment; /* malloc'd */
    lfr_watchlist *watchlist;   /* wiped at the end */
    lfr__subjects subjects;
    int lock_fd;   /* the run lock (supervisor.c), closed at the end; -1 none */
    lfr_user user; /* who started it: alerts and counters are recorded as them */
    lfr__quality_params quality;
    int max_embeds;           /* per track; default 12 */
    int embed_every;          /* frames between embeddings of one track; default 6 */
    int fine_tiles_per_frame; /* 0: default 4; -1: all */
    lfr_run_options opts;
    lfr_supervisor_config sup; /* timings, limits, bus, log (defaults filled in) */
    lfr__fault_fn fault;
    void *fault_ctx;
} lfr__run_config;

typedef struct lfr__run lfr__run;

/* Start the run's threads. On failure every resource in cfg is released. */
int lfr__run_start(lfr__run_config *cfg, lfr__run **out);

/* Ask the run to halt: every camera's reads are interrupted now and each
 * worker stops at its next step. `by` and `reason` go into the events and
 * the status (the first halt's are kept). Returns at once. */
void lfr__run_halt(lfr__run *r, const char *by, const char *reason);

/* Wait up to timeout_ms (< 0: for ever) for the run to end: 1 when it has
 * (every thread done, counters written, the lock released). */
int lfr__run_wait(lfr__run *r, int64_t timeout_ms);

void lfr__run_status(lfr__run *r, lfr_run_status *out);

/* Whether the run ended because its deployment expired and was stopped
 * as "system" (1), or was stopped in the store by someone else (2). */
int lfr__run_stopped_in_store(lfr__run *r);

/* Halt, wait, free. NULL does nothing. */
void lfr__run_free(lfr__run *r);

/* References: a run starts with one (its supervisor slot's); each holder
 * releases its own, and the last release frees it (lfr__run_free). */
void lfr__run_hold(lfr__run *r);
void lfr__run_release(lfr__run *r);

/* Tests: make the store thread of every run started from now on fail
 * where fn says (see lfr__fault_fn). */
void lfr__supervisor_set_fault(lfr_supervisor *sup, lfr__fault_fn fn, void *ctx);

#endif
