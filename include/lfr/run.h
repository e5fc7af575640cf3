/*
 * openlfr live runs: the supervisor that runs deployments' cameras, and the
 * typed event stream it publishes.
 *
 *     lfr_events *bus;
 *     lfr_events_open(NULL, &bus);
 *     lfr_supervisor_config c = lfr_supervisor_config_default();
 *     c.home = "lfr-data";
 *     c.engine = engine;                      // an open lfr_engine
 *     c.events = bus;
 *     lfr_supervisor *sup;
 *     lfr_supervisor_open(&c, &sup);
 *     if (lfr_supervisor_start(sup, &me, 7, NULL) != LFR_OK)
 *         fprintf(stderr, "%s\n", lfr_errmsg());  // refused: not authorised,
 *                                                 // outside its window, running
 *     lfr_subscription *sub;
 *     lfr_subscribe_params p = lfr_subscribe_params_for(me.role);
 *     lfr_events_subscribe(bus, &p, &sub);
 *     lfr_event e;
 *     int got;
 *     while (lfr_subscription_next(sub, 1000, &e, &got) == LFR_OK)
 *         if (got && e.type == LFR_EVENT_ALERT) ...;
 *     lfr_supervisor_stop(sup, store, &me, 7); // every camera halted, then stopped
 *     lfr_subscription_close(sub);
 *     lfr_supervisor_close(sup);
 *     lfr_events_close(bus);
 *
 * Runs. One run per deployment: its cameras each on a worker thread the
 * supervisor owns (decode, detect, track, embed, search), one store thread
 * that records alerts and counters with its own store handle and re-reads
 * the deployment's state, and one monitor thread. docs/LIVE.md describes
 * the pipeline; this header the contract.
 *
 * Threads. Every function here may be called from any thread. Events are
 * delivered to each subscriber through its own bounded queue: a subscriber
 * that does not keep up loses its own events (counted, and marked by a gap
 * event where they were), and never slows a camera or another subscriber.
 *
 * Privacy. No event holds biometric data: no template, no crop, no pixel.
 * An alert event names the alert; its crop is read through the records
 * (lfr_store_alert_show, audited).
 */
#ifndef LFR_RUN_H
#define LFR_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lfr/lfr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Events ---------------------------------------------------------------- */

/* Append-only. Each type's JSON form has a versioned schema in
 * schemas/events/<name>.v1.json. */
typedef enum lfr_event_type {
    LFR_EVENT_ALERT = 1,      /* "alert": a watchlist match, recorded */
    LFR_EVENT_ALERT_LOST = 2, /* "alert_lost": a match the store could not record */
    LFR_EVENT_CAMERA = 3,     /* "camera": a camera came up or went down, with why */
    LFR_EVENT_COUNTERS = 4,   /* "counters": a camera's counts and rate so far */
    LFR_EVENT_DEPLOYMENT = 5, /* "deployment": a run started or halted, a deployment stopped */
    LFR_EVENT_GAP = 6,        /* "gap": events this subscriber lost (slow, or resumed
                                 from further back than the history holds) */
} lfr_event_type;
#define LFR_N_EVENT_TYPES 6

/* "alert", "alert_lost", ...; "?" for an unknown value. */
const char *lfr_event_type_name(lfr_event_type t);

#define LFR_EVENT_MAX_CANDIDATES 3
#define LFR_EVENT_REASON_MAX 255

/* A watchlist subject as events name it: its pseudonymous reference, never
 * a name. */
typedef struct lfr_event_subject {
    int64_t id; /* 0: none (or redacted) */
    char reference[LFR_SUBJECT_REF_MAX + 1];
    lfr_category category;
    double score; /* the best score of the subject's images for this face */
} lfr_event_subject;

typedef struct lfr_event {
    uint64_t seq;   /* 1, 2, 3, ... per bus, in publication order; 0 for gap events */
    uint64_t epoch; /* the bus's, so that ids from another bus are recognised */
    lfr_event_type type;
    int64_t time_ms; /* when it happened (an alert: its frame's time), ms since the epoch */
    int64_t deployment_id;
    char camera[LFR_CAMERA_NAME_MAX + 1]; /* "" for deployment and gap events */
    int redacted;                         /* subjects left out for this subscriber's role */
    union {
        struct {                  /* LFR_EVENT_ALERT, LFR_EVENT_ALERT_LOST */
            int64_t id;           /* the alert's record; 0 when lost */
            int64_t track;        /* the pipeline's track of the face */
            int64_t frame_number; /* in its source (lfr__video_position) */
            int64_t media_ms;     /* presentation time in its source */
            lfr_event_subject subject;
            double threshold; /* the deployment's */
            int n_candidates; /* other subjects that scored close (runners-up) */
            lfr_event_subject candidates[LFR_EVENT_MAX_CANDIDATES];
            double latency_ms;                     /* from the frame's arrival to this event */
            char reason[LFR_EVENT_REASON_MAX + 1]; /* alert_lost: why */
        } alert;
        struct { /* LFR_EVENT_CAMERA */
            int up;
            char reason[LFR_EVENT_REASON_MAX + 1]; /* down: why (URLs without user-info) */
        } health;
        struct { /* LFR_EVENT_COUNTERS: totals of this run */
            int up;
            int64_t frames, dropped, detections, faces_seen, quality_rejects, alerts, alerts_lost,
                reconnects;
            double fps; /* frames processed per second since the last counters event */
        } counters;
        struct {                            /* LFR_EVENT_DEPLOYMENT */
            lfr_deployment_state state;     /* the deployment's, after the change */
            int running;                    /* whether its cameras run (here) now */
            char by[LFR_USER_NAME_MAX + 1]; /* who: a user, or "system" */
            char reason[LFR_EVENT_REASON_MAX + 1];
        } deployment;
        struct {                  /* LFR_EVENT_GAP */
            uint64_t lost;        /* events lost; 0 when unknown (another bus) */
            uint64_t first, last; /* their seqs, when known */
        } gap;
    };
} lfr_event;

/* The bus: events are published to it and every subscriber gets a copy. */
typedef struct lfr_events lfr_events;

typedef struct lfr_events_config {
    int history; /* events kept for resuming (Last-Event-ID); default 1024 */
} lfr_events_config;

/* config may be NULL (defaults). */
int lfr_events_open(const lfr_events_config *config, lfr_events **out);

/* Close the bus: subscribers' lfr_subscription_next returns LFR_ERR_EOF
 * once their queues are drained. Close the subscriptions, then the bus
 * after every publisher (supervisor) is closed. NULL does nothing. */
void lfr_events_close(lfr_events *bus);

/* Publish a copy of *e: seq, epoch and (when 0) time_ms are set by the
 * bus. Never blocks on a subscriber. */
void lfr_events_publish(lfr_events *bus, const lfr_event *e);

/* Counters of the bus, for /metrics. */
typedef struct lfr_events_stats {
    uint64_t published;  /* events */
    int subscribers;     /* now */
    uint64_t lost;       /* events subscribers lost, all together */
    int max_queue_depth; /* the fullest subscriber queue now */
} lfr_events_stats;
void lfr_events_get_stats(lfr_events *bus, lfr_events_stats *out);

/* Which events a subscriber gets. */
typedef struct lfr_subscribe_params {
    unsigned types;        /* bit (1u << lfr_event_type) per type; 0: all */
    int64_t deployment_id; /* 0: every deployment */
    int redact;            /* leave subjects out of alerts (reference, category, id,
                              candidates) */
    int capacity;          /* events queued for this subscriber; default 256 */
    const char *last_id;   /* resume after this event id (lfr_event_id); NULL: from now */
    /* Called, from the publishing thread and with the bus locked, each
     * time an event (or a gap) is queued for this subscriber: it must only
     * wake whoever reads (signal a condition variable) and never call the
     * bus. For one thread serving many subscriptions. NULL: none. */
    void (*notify)(void *ctx);
    void *notify_ctx;
} lfr_subscribe_params;

/* What a role sees, decided once here for every front end (docs/LIVE.md,
 * "Who sees what"): operators, authorising officers and administrators get
 * every event in full; auditors get every event but alerts without
 * subjects (they read alerts through the records, whose lists they may
 * see, not live). Capacity default, from now. */
lfr_subscribe_params lfr_subscribe_params_for(lfr_role role);

typedef struct lfr_subscription lfr_subscription;

/* Subscribe. With last_id, the events after it that the history still
 * holds are queued first; those it no longer holds (or an id of another
 * bus) are announced by a gap event. LFR_ERR_INVALID for a malformed id. */
int lfr_events_subscribe(lfr_events *bus, const lfr_subscribe_params *params,
                         lfr_subscription **out);

/* The next event, waiting up to timeout_ms (0: do not wait; < 0: for ever):
 * LFR_OK with *got_out 1 and *out filled, or *got_out 0 on timeout;
 * LFR_ERR_EOF when the bus is closed and the queue empty. */
int lfr_subscription_next(lfr_subscription *sub, int timeout_ms, lfr_event *out, int *got_out);

/* Events queued now, and lost so far, for this subscriber. */
void lfr_subscription_depth(lfr_subscription *sub, int *queued_out, uint64_t *lost_out);

/* NULL does nothing. */
void lfr_subscription_close(lfr_subscription *sub);

/* An event's id, "<epoch hex>-<seq>", for SSE's id field and
 * lfr_subscribe_params.last_id (gap events have none: ""). */
#define LFR_EVENT_ID_MAX 40
void lfr_event_id(const lfr_event *e, char out[LFR_EVENT_ID_MAX]);

/* The event as one line of JSON (no newline), the form of
 * schemas/events/<type>.v1.json: into buf (cap bytes, NUL-terminated),
 * its length to *len_out (may be NULL). crop_base, when not NULL, gives an
 * alert's "crop" link as "<crop_base>/<alert id>/crop" (e.g.
 * "/api/v1/alerts"). LFR_ERR_TOO_LARGE when cap is too small (4096 always
 * suffices). */
#define LFR_EVENT_JSON_MAX 4096
int lfr_event_json(const lfr_event *e, const char *crop_base, char *buf, size_t cap,
                   size_t *len_out);

/* ---- Sinks: a thread that takes a subscription's events somewhere ---------- */

typedef struct lfr_event_sink lfr_event_sink;

/* JSON lines to `f` (which the caller closes after the sink), flushed per
 * event. params may be NULL (everything, unredacted). A failed write is
 * counted and reported by lfr_event_sink_close. */
int lfr_event_sink_open_file(lfr_events *bus, const lfr_subscribe_params *params, FILE *f,
                             lfr_event_sink **out);

/* Webhooks: each event POSTed as its JSON to url (http:// or https://,
 * through FFmpeg's HTTP client; https verifies the peer against ca_file or
 * the system's CAs) with headers
 *     Content-Type: application/json
 *     X-LFR-Event: <type>
 *     X-LFR-Event-Id: <id>
 *     X-LFR-Timestamp: <unix seconds>
 *     X-LFR-Signature: v1=<hex HMAC-SHA256(key, timestamp + "." + body)>
 * A receiver checks the signature and refuses old timestamps (replays).
 * A failed POST (no connection, no 2xx answer within timeout_ms) is
 * retried after 0.5 s, doubling to 30 s, up to max_attempts times, then
 * counted as failed and logged; events queue meanwhile in the sink's own
 * subscription (capacity), so a slow receiver never slows a camera. */
typedef struct lfr_webhook_config {
    const char *url;
    const uint8_t *key;          /* the shared secret (copied into locked memory) */
    size_t key_len;              /* 16 to 64 bytes */
    const char *ca_file;         /* NULL: the system's */
    int timeout_ms;              /* per attempt; default 5000 */
    int max_attempts;            /* default 8 */
    lfr_subscribe_params params; /* which events (redact for receivers that need no subjects) */
    FILE *log;                   /* failures, one line each; NULL: stderr */
} lfr_webhook_config;

int lfr_event_sink_open_webhook(lfr_events *bus, const lfr_webhook_config *config,
                                lfr_event_sink **out);

/* What a sink did. */
typedef struct lfr_event_sink_stats {
    uint64_t delivered; /* events written or POSTed (2xx) */
    uint64_t failed;    /* events given up on (write error, attempts exhausted) */
    uint64_t retries;   /* POSTs tried again */
    uint64_t lost;      /* events its subscription lost (queue full) */
} lfr_event_sink_stats;
void lfr_event_sink_get_stats(lfr_event_sink *s, lfr_event_sink_stats *out);

/* Deliver what is queued (waiting up to drain_ms for it), stop the thread
 * and free the sink; the final counts to *stats_out (may be NULL). NULL
 * does nothing. */
void lfr_event_sink_close(lfr_event_sink *s, int drain_ms, lfr_event_sink_stats *stats_out);

/* ---- The supervisor ------------------------------------------------------------ */

typedef struct lfr_supervisor lfr_supervisor;

typedef struct lfr_supervisor_config {
    const char *home; /* the store's home; each run opens its own store handle */
    /* How a run opens its handle, when not lfr_store_open(home): e.g. the
     * service's, with a key it unwrapped (lfr_store_open_key). Called from
     * lfr_supervisor_start's thread; NULL: lfr_store_open. */
    int (*open_store)(void *ctx, lfr_store **out);
    void *open_store_ctx;
    lfr_engine *engine;       /* shared by every camera; open for the supervisor's life */
    lfr_events *events;       /* where events go; NULL: none */
    double poll_s;            /* each run re-reads its deployment's state this often; default 0.5 */
    double flush_s;           /* counters to the store at least this often; default 10 */
    double counters_s;        /* a counters event per camera this often; default 2 */
    int alert_queue_max;      /* alerts waiting for the store, per run; default 64 */
    size_t alert_queue_bytes; /* their crops, per run; default 32 MiB */
    double drain_s;           /* after a halt, how long the store thread keeps retrying alerts
                                 that wait for a failing store before reporting them lost;
                                 default 10 */
    double candidate_margin;  /* runners-up: other subjects within this of the alerted
                                 score; default 0.1 */
    int64_t max_pixels;       /* larger frames are refused; default 4096x2160 */
    FILE *log;                /* one line per camera or run event for operators; NULL: stderr */
} lfr_supervisor_config;

lfr_supervisor_config lfr_supervisor_config_default(void);

/* Open a supervisor. Turns core dumps off for the whole process
 * (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), since runs hold watchlists and
 * frames in memory. */
int lfr_supervisor_open(const lfr_supervisor_config *config, lfr_supervisor **out);

/* Halt every run (the deployments stay running, to be resumed) and wait
 * for them; then free. NULL does nothing. */
void lfr_supervisor_close(lfr_supervisor *sup);

typedef struct lfr_run_options {
    int realtime;      /* files: play at their own frame rate, as a camera would */
    int loop;          /* files: start again at the end */
    double duration_s; /* halt after this long; 0: until stopped or the sources end */
} lfr_run_options;

/* Start deployment `id`'s run as `actor` (LFR_ACTION_DEPLOYMENT_RUN):
 *   - refused (LFR_ERR_CONFLICT) when it already runs, in this supervisor
 *     or in another process (a lock in the home, held for the run's life);
 *   - an authorised deployment is started in the store (which checks the
 *     role, the window, the watchlist; audited), a running one is resumed
 *     (after a crash), unless its planned end has passed: then it is
 *     stopped as "system" and the start refused;
 *   - its frozen watchlist is loaded (audited) and must come from the
 *     engine's embedder;
 *   - the cameras start; a camera that cannot be opened is reported down
 *     (event, log) and the others run.
 * Returns once the cameras are started; the run goes on until stopped,
 * halted, its planned end (auto-stop, audited as "system"), the store
 * saying it is no longer running, its duration, or every source ending.
 * opts may be NULL. */
int lfr_supervisor_start(lfr_supervisor *sup, const lfr_user *actor, int64_t id,
                         const lfr_run_options *opts);

/* Stop deployment `id` as `actor`: its cameras here are halted first
 * (within about a second; lfr_run_status.halt_ms says how long), its
 * counters written, then the deployment is stopped in the store through
 * `store` (the caller's handle; checks and audit as
 * lfr_store_deployment_stop). A deployment with no run here is just
 * stopped in the store. An actor whose role may not stop it is refused
 * (audited) before anything is halted. */
int lfr_supervisor_stop(lfr_supervisor *sup, lfr_store *store, const lfr_user *actor, int64_t id);

/* Halt deployment `id`'s run here, leaving the deployment running in the
 * store (to be resumed). LFR_ERR_NOT_FOUND when it has no active run. */
int lfr_supervisor_halt(lfr_supervisor *sup, int64_t id);

/* Wait up to timeout_s (< 0: for ever) for deployment `id`'s run to end:
 * *ended_out 1 when it has (or there is none). */
int lfr_supervisor_wait(lfr_supervisor *sup, int64_t id, double timeout_s, int *ended_out);

/* One camera of a run. */
typedef struct lfr_camera_status {
    char name[LFR_CAMERA_NAME_MAX + 1];
    int up;                                /* delivering frames */
    char reason[LFR_EVENT_REASON_MAX + 1]; /* why it is down, or how it ended */
    int ok;                                /* ended normally (or still running) */
    int64_t frames, dropped, reconnects, detections, tracks, faces_seen, quality_rejects, alerts,
        alerts_lost, alerts_deferred, embeds;
    double fps;    /* frames processed per second over the last counters period */
    double wall_s; /* how long it has run */
    /* The worker thread's CPU time, ms in all, per stage. */
    double cpu_decode_ms, cpu_detect_ms, cpu_track_ms, cpu_embed_ms, cpu_search_ms;
    /* From a frame's arrival to its alert recorded: first 4,096 alerts. */
    int n_latency;
    double latency_p50_ms, latency_p99_ms, latency_max_ms;
    double halt_ms; /* halt request to the worker stopped; -1 before a halt */
} lfr_camera_status;

typedef struct lfr_run_status {
    int64_t deployment_id;
    char started_by[LFR_USER_NAME_MAX + 1];
    int active;                           /* cameras are still running */
    int status;                           /* LFR_OK, or the first camera failure */
    char ended[LFR_EVENT_REASON_MAX + 1]; /* why it ended; "" while active */
    int alert_queue;                      /* alerts waiting for the store now */
    size_t alert_queue_bytes;
    int64_t alerts_lost; /* matches never recorded, all cameras */
    double halt_ms;      /* halt request to every camera stopped; -1 */
    int n_cameras;
    lfr_camera_status cameras[LFR_DEPLOYMENT_MAX_CAMERAS];
} lfr_run_status;

/* The run of deployment `id` (active, or the last one that ended here).
 * LFR_ERR_NOT_FOUND when there has been none. */
int lfr_supervisor_status(lfr_supervisor *sup, int64_t id, lfr_run_status *out);

/* Call fn for each run the supervisor knows (active ones and the last
 * ended run of each deployment, up to 64), in deployment order. The status
 * is valid during the call; a non-zero return stops the walk and is
 * returned. */
int lfr_supervisor_each(lfr_supervisor *sup, int (*fn)(const lfr_run_status *st, void *ctx),
                        void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* LFR_RUN_H */
