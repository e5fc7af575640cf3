/*
 * One live run: its camera workers, its store thread and its monitor
 * thread (see pipeline.h for the flow, the privacy rules and the alert
 * queue's limits).
 *
 * Who touches what. A worker owns its camera's session, tracker and
 * counters (updated with relaxed atomics, read by the monitor for events
 * and by lfr__run_status). The store thread owns the store handle until it
 * ends; then the monitor uses it for the auto-stop. r->mu guards the
 * videos (interrupted from any thread, closed by the monitor), the status
 * strings and the latency samples; the job queue has its own mutex.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "gallery/gallery.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "util/util.h"
#include "video/video.h"

#define MAX_DETS 64
#define MAX_TRACKS 128
#define TOPK 16
#define CROP_QUALITY 90
#define LATENCY_SAMPLES 4096
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 2000
/* The cameras halt this long before the planned end, so that the last
 * counters reach the store inside the window (it refuses them after). */
#define END_MARGIN_MS 1000

#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TAKE(x) __atomic_exchange_n(&(x), 0, __ATOMIC_RELAXED)

/* ---- Subjects ------------------------------------------------------------------------ */

static int add_subject(const lfr_subject *s, void *ctx)
{
    lfr__subjects *x = ctx;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 64;
        int64_t *ids = realloc(x->ids, (size_t)cap * sizeof *ids);
        if (ids) x->ids = ids;
        char(*refs)[LFR_SUBJECT_REF_MAX + 1] = realloc(x->refs, (size_t)cap * sizeof *refs);
        if (refs) x->refs = refs;
        lfr_category *cats = realloc(x->cats, (size_t)cap * sizeof *cats);
        if (cats) x->cats = cats;
        if (!ids || !refs || !cats) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->cap = cap;
    }
    x->ids[x->n] = s->id;
    snprintf(x->refs[x->n], sizeof x->refs[x->n], "%s", s->reference);
    x->cats[x->n++] = s->category;
    return 0;
}

int lfr__subjects_load(lfr_store *st, const lfr_user *actor, lfr__subjects *out)
{
    memset(out, 0, sizeof *out);
    int rc = lfr_store_subject_list(st, actor, 1, add_subject, out);
    if (rc) lfr__subjects_free(out);
    return rc;
}

void lfr__subjects_free(lfr__subjects *s)
{
    free(s->ids);
    free(s->refs);
    free(s->cats);
    memset(s, 0, sizeof *s);
}

static void subject_of(const lfr__subjects *s, int64_t id, float score, lfr_event_subject *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->score = score;
    for (int i = 0; i < s->n; i++)
        if (s->ids[i] == id) {
            snprintf(out->reference, sizeof out->reference, "%s", s->refs[i]);
            out->category = s->cats[i];
            return;
        }
}

/* ---- The alert queue ----------------------------------------------------------------- */

typedef struct job {
    struct job *next;
    int cam;
    int64_t track, image_id, t_ms, frame_number, media_ms;
    lfr_event_subject subject;
    int n_candidates;
    lfr_event_subject candidates[LFR_EVENT_MAX_CANDIDATES];
    uint8_t *crop; /* the alert's JPEG (biometric: wiped once sealed or given up) */
    size_t crop_n;
} job;

typedef struct jobq {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* monotonic */
    job *head, *tail;
    int n, max_n;
    size_t bytes, max_bytes;
    int closed; /* no more jobs will come */
} jobq;

static void free_job(job *jb)
{
    if (!jb) return;
    if (jb->crop) {
        sodium_memzero(jb->crop, jb->crop_n);
        free(jb->crop);
    }
    free(jb);
}

/* 1 when a job of `bytes` would fit now. */
static int jobq_room(jobq *q, size_t bytes)
{
    pthread_mutex_lock(&q->mu);
    int ok = q->n < q->max_n && q->bytes + bytes <= q->max_bytes;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

/* Queue a job, or refuse (0) when the queue is full. */
static int jobq_push(jobq *q, job *jb)
{
    pthread_mutex_lock(&q->mu);
    int ok = !q->closed && q->n < q->max_n && q->bytes + jb->crop_n <= q->max_bytes;
    if (ok) {
        jb->next = NULL;
        if (q->tail)
            q->tail->next = jb;
        else
            q->head = jb;
        q->tail = jb;
        q->n++;
        q->bytes += jb->crop_n;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

/* The head job without taking it, waiting up to ms for one; NULL when none
 * (*closed_out says whether none will come). */
static job *jobq_peek(jobq *q, int64_t ms, int *closed_out)
{
    pthread_mutex_lock(&q->mu);
    if (!q->head && !q->closed && ms > 0) {
        struct timespec dl;
        lfr__deadline_in(&dl, ms);
        while (!q->head && !q->closed && pthread_cond_timedwait(&q->cv, &q->mu, &dl) != ETIMEDOUT) {
        }
    }
    job *jb = q->head;
    *closed_out = q->closed;
    pthread_mutex_unlock(&q->mu);
    return jb;
}

static void jobq_pop(jobq *q)
{
    pthread_mutex_lock(&q->mu);
    job *jb = q->head;
    if (jb) {
        q->head = jb->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        q->bytes -= jb->crop_n;
    }
    pthread_mutex_unlock(&q->mu);
}

static void jobq_close(jobq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static int jobq_closed(jobq *q)
{
    pthread_mutex_lock(&q->mu);
    int c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

/* Wake the store thread (a halt: its drain deadline starts). */
static void jobq_poke(jobq *q)
{
    pthread_mutex_lock(&q->mu);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* ---- The run ------------------------------------------------------------------------- */

/* A camera's counts: written by its worker (and the store thread for
 * alerts), read by anyone, all relaxed atomics. CPU times in microseconds. */
typedef struct counts {
    int64_t frames, dropped, reconnects, detections, tracks, faces_seen, quality_rejects, alerts,
        alerts_lost, alerts_deferred, embeds;
    int64_t cpu_decode_us, cpu_detect_us, cpu_track_us, cpu_embed_us, cpu_search_us;
} counts;

typedef struct worker {
    struct lfr__run *r;
    int cam;
    pthread_t thread;
    int started;
    int done;          /* set (release) when the thread is about to return */
    int64_t done_mono; /* when */
    int rc;
    int live;
    counts n;
    lfr_counters pending; /* for the store (atomics), taken by the store thread */
    lfr_counters carry;   /* what the store refused, for the next try (store thread) */
    /* Guarded by r->mu: */
    int up;
    int ok;
    char reason[LFR_EVENT_REASON_MAX + 1];
    char error[LFR_EVENT_REASON_MAX + 1];
    double fps;
    int64_t fps_frames, fps_mono; /* the last counters event's */
    int n_latency;
    double *latency; /* LATENCY_SAMPLES */
    int64_t start_mono, end_mono;
} worker;

struct lfr__run {
    lfr__run_config c;
    const lfr_deployment *d;
    int n;
    worker w[LFR_DEPLOYMENT_MAX_CAMERAS];
    lfr__video *videos[LFR_DEPLOYMENT_MAX_CAMERAS];
    jobq q;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* monotonic: halts, workers ending, the run ending */
    pthread_t store_thread, monitor_thread;
    int store_started, monitor_started;
    int halt; /* atomic */
    int64_t halt_mono;
    char halt_by[LFR_USER_NAME_MAX + 1], halt_reason[LFR_EVENT_REASON_MAX + 1];
    int expired;          /* the planned end came (atomic) */
    int stopped_by_store; /* the store says it is no longer running (atomic) */
    char store_by[LFR_USER_NAME_MAX + 1], store_when[32];
    int64_t planned_end_ms;
    int64_t start_mono;
    int ended;
    int status;
    char ended_reason[LFR_EVENT_REASON_MAX + 1];
    int stopped_in_store; /* 1 auto-stopped as system, 2 stopped by someone else */
    int64_t alerts_lost;  /* atomic */
    int refs;             /* atomic: lfr__run_hold / lfr__run_release */
};

static int halted(const lfr__run *r)
{
    return __atomic_load_n(&r->halt, __ATOMIC_ACQUIRE);
}

static void log_line(lfr__run *r, const char *fmt, ...) LFR__PRINTF(2, 3);
static void log_line(lfr__run *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    FILE *f = r->c.sup.log ? r->c.sup.log : stderr;
    flockfile(f);
    fprintf(f, "%s\n", line);
    fflush(f);
    funlockfile(f);
}

static void event_init(lfr__run *r, lfr_event *e, lfr_event_type type, int cam)
{
    memset(e, 0, sizeof *e);
    e->type = type;
    e->deployment_id = r->d->id;
    if (cam >= 0) snprintf(e->camera, sizeof e->camera, "%s", r->d->cameras[cam].name);
}

static void publish(lfr__run *r, const lfr_event *e)
{
    lfr_events_publish(r->c.sup.events, e);
}

static void camera_event(lfr__run *r, int cam, int up, const char *reason)
{
    worker *w = &r->w[cam];
    pthread_mutex_lock(&r->mu);
    int changed = w->up != up || strcmp(w->reason, reason);
    w->up = up;
    snprintf(w->reason, sizeof w->reason, "%s", reason);
    pthread_mutex_unlock(&r->mu);
    if (!changed) return;
    lfr_event e;
    event_init(r, &e, LFR_EVENT_CAMERA, cam);
    e.health.up = up;
    snprintf(e.health.reason, sizeof e.health.reason, "%s", reason);
    publish(r, &e);
}

static void counters_event(lfr__run *r, int cam)
{
    worker *w = &r->w[cam];
    int64_t now = lfr__mono_ms(), frames = GET(w->n.frames);
    lfr_event e;
    event_init(r, &e, LFR_EVENT_COUNTERS, cam);
    pthread_mutex_lock(&r->mu);
    if (now > w->fps_mono)
        w->fps = (double)(frames - w->fps_frames) * 1000.0 / (double)(now - w->fps_mono);
    w->fps_frames = frames;
    w->fps_mono = now;
    e.counters.up = w->up;
    e.counters.fps = w->fps;
    pthread_mutex_unlock(&r->mu);
    e.counters.frames = frames;
    e.counters.dropped = GET(w->n.dropped);
    e.counters.detections = GET(w->n.detections);
    e.counters.faces_seen = GET(w->n.faces_seen);
    e.counters.quality_rejects = GET(w->n.quality_rejects);
    e.counters.alerts = GET(w->n.alerts);
    e.counters.alerts_lost = GET(w->n.alerts_lost);
    e.counters.reconnects = GET(w->n.reconnects);
    publish(r, &e);
}

static void deployment_event(lfr__run *r, lfr_deployment_state state, int running, const char *by,
                             const char *reason)
{
    lfr_event e;
    event_init(r, &e, LFR_EVENT_DEPLOYMENT, -1);
    e.deployment.state = state;
    e.deployment.running = running;
    snprintf(e.deployment.by, sizeof e.deployment.by, "%s", by);
    snprintf(e.deployment.reason, sizeof e.deployment.reason, "%s", reason);
    publish(r, &e);
}

/* An alert that will never be recorded: counted, logged, published. */
static void alert_lost(lfr__run *r, int cam, int64_t track, const lfr_event_subject *subject,
                       int n_cand, const lfr_event_subject *cand, int64_t t_ms,
                       int64_t frame_number, int64_t media_ms, const char *why)
{
    worker *w = &r->w[cam];
    ADD(w->n.alerts_lost, 1);
    ADD(r->alerts_lost, 1);
    log_line(r, "camera %s: alert for track %lld (subject %lld, score %.4f) not recorded: %s",
             r->d->cameras[cam].name, (long long)track, (long long)subject->id, subject->score,
             why);
    lfr_event e;
    event_init(r, &e, LFR_EVENT_ALERT_LOST, cam);
    e.time_ms = t_ms;
    e.alert.track = track;
    e.alert.frame_number = frame_number;
    e.alert.media_ms = media_ms;
    e.alert.subject = *subject;
    e.alert.threshold = r->c.watchlist->threshold;
    e.alert.n_candidates = n_cand;
    for (int i = 0; i < n_cand; i++)
        e.alert.candidates[i] = cand[i];
    int64_t now;
    lfr__clock_now_ms(&now);
    e.alert.latency_ms = (double)(now - t_ms);
    snprintf(e.alert.reason, sizeof e.alert.reason, "%s", why);
    publish(r, &e);
}

/* ---- Video callbacks ------------------------------------------------------------------ */

static void video_log(void *ctx, const char *line)
{
    worker *w = ctx;
    log_line(w->r, "%s", line);
}

static void video_state(void *ctx, int up, const char *reason)
{
    worker *w = ctx;
    camera_event(w->r, w->cam, up, reason);
}

/* ---- Workers -------------------------------------------------------------------------- */

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where a frame came from, for alerts. */
typedef struct frame_info {
    int64_t arrival_ms; /* a live source's capture time, or when a file's frame was read */
    int64_t t_ms;       /* the frame's time (video.h) */
    int64_t number, media_ms;
} frame_info;

static void on_track_end(lfr__track *tr, void *ctx)
{
    worker *w = ctx;
    ADD(w->n.tracks, 1);
    if (!tr->passed) {
        ADD(w->n.quality_rejects, 1);
        ADD(w->pending.quality_rejects, 1);
    }
    /* Matches the full queue deferred and no later shot could queue. */
    for (int i = 0; i < tr->n_deferred; i++) {
        const lfr__deferred *df = &tr->deferred[i];
        lfr_event_subject s;
        subject_of(&w->r->c.subjects, df->subject, df->score, &s);
        char why[160];
        snprintf(why, sizeof why,
                 "the alert queue was full (the store is not keeping up) until the face left");
        alert_lost(w->r, w->cam, tr->id, &s, 0, NULL, df->t_ms, df->frame_number, df->media_ms,
                   why);
    }
    tr->n_deferred = 0;
}

static void defer(lfr__track *tr, int64_t subject, float score, const frame_info *fi)
{
    int i = 0;
    while (i < tr->n_deferred && tr->deferred[i].subject != subject)
        i++;
    if (i == LFR__TRACK_MAX_ALERTED) return;
    if (i == tr->n_deferred) tr->n_deferred++;
    tr->deferred[i] = (lfr__deferred){subject, score, fi->number, fi->media_ms, fi->t_ms};
}

static void undefer(lfr__track *tr, int64_t subject)
{
    for (int i = 0; i < tr->n_deferred; i++)
        if (tr->deferred[i].subject == subject) {
            tr->deferred[i] = tr->deferred[--tr->n_deferred];
            return;
        }
}

/* Queue one alert: encode the crop here, record it in the store thread.
 * 1 when queued, 0 when the queue is full (deferred), < 0 on failure. */
static int raise_alert(worker *w, const lfr_image *img, const lfr__track *tr, int hit,
                       const int *idx, const float *score, int n_hits, const frame_info *fi)
{
    lfr__run *r = w->r;
    const lfr_watchlist *wl = r->c.watchlist;
    if (!jobq_room(&r->q, 0)) return 0;
    const lfr_face *f = &tr->face;
    float mx = f->box.w * 0.5f, my = f->box.h * 0.5f;
    job *jb = calloc(1, sizeof *jb);
    if (!jb) return -1;
    if (lfr__jpeg_encode_region(img, (int)(f->box.x - mx), (int)(f->box.y - my),
                                (int)(f->box.w + 2 * mx), (int)(f->box.h + 2 * my), CROP_QUALITY,
                                &jb->crop, &jb->crop_n)) {
        free(jb);
        return -1;
    }
    jb->cam = w->cam;
    jb->track = tr->id;
    jb->image_id = wl->image_ids[idx[hit]];
    jb->t_ms = fi->arrival_ms;
    jb->frame_number = fi->number;
    jb->media_ms = fi->media_ms;
    int64_t s = wl->subject_ids[idx[hit]];
    subject_of(&r->c.subjects, s, score[hit], &jb->subject);
    /* Runners-up: other subjects whose best score is close to this one. */
    for (int i = 0; i < n_hits && jb->n_candidates < LFR_EVENT_MAX_CANDIDATES; i++) {
        if (score[i] < score[hit] - (float)r->c.sup.candidate_margin) break;
        int64_t o = wl->subject_ids[idx[i]];
        int seen = o == s;
        for (int k = 0; k < jb->n_candidates; k++)
            if (jb->candidates[k].id == o) seen = 1;
        if (!seen) subject_of(&r->c.subjects, o, score[i], &jb->candidates[jb->n_candidates++]);
    }
    if (!jobq_push(&r->q, jb)) {
        free_job(jb);
        return 0;
    }
    return 1;
}

/* Embed a track's face, search the watchlist, alert on new subjects. */
static void identify(worker *w, lfr_session *ses, const lfr_image *img, lfr__track *tr,
                     const frame_info *fi)
{
    lfr__run *r = w->r;
    const lfr_watchlist *wl = r->c.watchlist;
    float tpl[LFR_TEMPLATE_DIM];
    int64_t c0 = cpu_us();
    int rc = lfr_session_embed(ses, img, &tr->face, 1, tpl);
    int64_t c1 = cpu_us();
    ADD(w->n.cpu_embed_us, c1 - c0);
    if (rc) {
        sodium_memzero(tpl, sizeof tpl);
        return;
    }
    ADD(w->n.embeds, 1);
    tr->n_embedded++;
    int idx[TOPK];
    float score[TOPK];
    int n = wl->n > 0 ? lfr__gallery_topk(wl->templates, (size_t)wl->n, tpl, TOPK, idx, score) : 0;
    sodium_memzero(tpl, sizeof tpl);
    ADD(w->n.cpu_search_us, cpu_us() - c1);
    if (n > 0 && score[0] > tr->best_score) tr->best_score = score[0];
    /* Hits are sorted by score: the first hit of a subject is its best. */
    for (int i = 0; i < n && score[i] >= (float)wl->threshold; i++) {
        int64_t s = wl->subject_ids[idx[i]];
        int seen = 0;
        for (int k = 0; k < i; k++)
            if (wl->subject_ids[idx[k]] == s) seen = 1;
        for (int k = 0; k < tr->n_alerted; k++)
            if (tr->alerted[k] == s) seen = 1;
        if (seen || tr->n_alerted >= LFR__TRACK_MAX_ALERTED) continue;
        int q = raise_alert(w, img, tr, i, idx, score, n, fi);
        if (q > 0) {
            tr->alerted[tr->n_alerted++] = s;
            undefer(tr, s);
        } else if (q == 0) {
            ADD(w->n.alerts_deferred, 1);
            defer(tr, s, score[i], fi);
        } else {
            /* The crop could not be made: this shot is lost, a later one
             * of the track may still alert. */
            log_line(r, "camera %s: alert for track %lld not raised: %s",
                     r->d->cameras[w->cam].name, (long long)tr->id, lfr_errmsg());
        }
    }
    sodium_memzero(score, sizeof score);
}

/* Warm up on a grey frame of a file's size, so that the first frame does not
 * pay for planning tiles and allocating buffers (a camera played in real
 * time would drop frames meanwhile). */
static void warm_up(lfr_session *ses, lfr__video *v)
{
    int ww, wh;
    if (!lfr__video_size(v, &ww, &wh)) return;
    lfr_image grey;
    if (lfr_image_alloc(ww, wh, &grey) != LFR_OK) return;
    memset(grey.data, 128, grey.stride * (size_t)wh);
    lfr_face faces[MAX_DETS];
    int n = 0;
    lfr_session_detect(ses, &grey, faces, MAX_DETS, &n);
    /* And one embedding of a made-up face. */
    lfr_face fake;
    memset(&fake, 0, sizeof fake);
    float c = (float)(ww < wh ? ww : wh) / 4;
    fake.box = (lfr_rect){c, c, 2 * c, 2 * c};
    fake.kp[0] = (lfr_point){1.6f * c, 1.8f * c};
    fake.kp[1] = (lfr_point){2.4f * c, 1.8f * c};
    fake.kp[2] = (lfr_point){2.0f * c, 2.2f * c};
    fake.kp[3] = (lfr_point){2.0f * c, 2.6f * c};
    float tpl[LFR_TEMPLATE_DIM];
    lfr_session_embed(ses, &grey, &fake, 1, tpl);
    sodium_memzero(tpl, sizeof tpl);
    lfr_image_free(&grey);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    lfr__run *r = w->r;
    const lfr__run_config *cfg = &r->c;
    lfr__video *v = r->videos[w->cam];
    lfr_session *ses = NULL;
    lfr__tracker tk;
    int have_tracker = 0;
    int rc = lfr_session_open(cfg->engine, 1, &ses);
    if (!rc) rc = lfr__tracker_init(&tk, MAX_TRACKS, MAX_DETS);
    have_tracker = !rc;
    if (!rc) warm_up(ses, v);
    lfr_face faces[MAX_DETS];
    int det_track[MAX_DETS];
    int64_t frame_no = 0, last_dropped = 0;
    int tile_cursor = 0;
    const char *end = "the source ended";
    while (!rc && !halted(r)) {
        lfr_image frame;
        frame_info fi;
        int64_t c0 = cpu_us();
        int rr = lfr__video_read(v, &frame, &fi.t_ms);
        int64_t c1 = cpu_us();
        ADD(w->n.cpu_decode_us, c1 - c0);
        if (halted(r)) break;
        if (rr == LFR_ERR_EOF) break;
        if (rr) {
            rc = rr;
            pthread_mutex_lock(&r->mu);
            snprintf(w->error, sizeof w->error, "%s", lfr_errmsg());
            pthread_mutex_unlock(&r->mu);
            log_line(r, "camera %s: down: %s", cfg->deployment->cameras[w->cam].name, w->error);
            end = w->error;
            break;
        }
        lfr__video_position(v, &fi.number, &fi.media_ms);
        /* The alert latency runs from the frame's arrival: a live source's
         * capture time, or now for a file. */
        fi.arrival_ms = w->live ? fi.t_ms : now_wall_ms();
        frame_no++;
        ADD(w->n.frames, 1);
        ADD(w->pending.frames, 1);
        int n = 0;
        /* The whole-frame passes every frame, the fine tiles in turn. */
        int fine = lfr_session_fine_tiles(ses, frame.width, frame.height);
        int count = cfg->fine_tiles_per_frame < 0 ? -1 : cfg->fine_tiles_per_frame;
        rr = lfr_session_detect_tiles(ses, &frame, tile_cursor, count, faces, MAX_DETS, &n);
        if (fine > 0 && count > 0) tile_cursor = (tile_cursor + count) % fine;
        int64_t c2 = cpu_us();
        ADD(w->n.cpu_detect_us, c2 - c1);
        if (rr) n = 0;
        if (n > MAX_DETS) n = MAX_DETS;
        ADD(w->n.detections, n);
        ADD(w->pending.detections, n);
        lfr__tracker_update(&tk, faces, n, frame_no, det_track, on_track_end, w);
        for (int j = 0; j < n && !halted(r); j++) {
            if (det_track[j] < 0) continue;
            lfr__track *tr = &tk.tracks[det_track[j]];
            lfr__quality q;
            lfr__quality_check(&frame, &faces[j], &cfg->quality, &q);
            if (!q.pass) continue;
            if (!tr->passed) {
                tr->passed = 1;
                ADD(w->n.faces_seen, 1);
                ADD(w->pending.faces_seen, 1);
            }
            /* Best shots, within the budget: a shot clearly better than
             * the best embedded so far, or, every embed_every frames, the
             * current one (pose and expression change what matches). */
            if (tr->n_embedded >= cfg->max_embeds) continue;
            int better = q.score > tr->best_quality * 1.15f;
            int due = frame_no - tr->last_embed_frame >= cfg->embed_every;
            if (!better && !due) continue;
            if (better) tr->best_quality = q.score;
            tr->last_embed_frame = frame_no;
            int64_t c3 = cpu_us();
            ADD(w->n.cpu_track_us, c3 - c2);
            identify(w, ses, &frame, tr, &fi);
            c2 = cpu_us();
        }
        ADD(w->n.cpu_track_us, cpu_us() - c2);
        int64_t dropped, reconnects;
        lfr__video_stats(v, NULL, &dropped, &reconnects);
        ADD(w->pending.frames_dropped, dropped - last_dropped);
        last_dropped = dropped;
        __atomic_store_n(&w->n.dropped, dropped, __ATOMIC_RELAXED);
        __atomic_store_n(&w->n.reconnects, reconnects, __ATOMIC_RELAXED);
    }
    /* Halted: stopped here (the rest is bookkeeping). */
    int64_t done = lfr__mono_ms();
    if (have_tracker) {
        lfr__tracker_flush(&tk, on_track_end, w);
        lfr__tracker_free(&tk);
    }
    int64_t dropped, reconnects;
    lfr__video_stats(v, NULL, &dropped, &reconnects);
    ADD(w->pending.frames_dropped, dropped - last_dropped);
    __atomic_store_n(&w->n.dropped, dropped, __ATOMIC_RELAXED);
    __atomic_store_n(&w->n.reconnects, reconnects, __ATOMIC_RELAXED);
    lfr_session_close(ses);
    pthread_mutex_lock(&r->mu);
    if (halted(r)) end = r->halt_reason;
    if (!rc) w->error[0] = 0;
    w->ok = rc == LFR_OK;
    w->rc = rc;
    w->end_mono = done;
    char why[LFR_EVENT_REASON_MAX + 1];
    snprintf(why, sizeof why, "%s", end);
    pthread_mutex_unlock(&r->mu);
    camera_event(r, w->cam, 0, why);
    pthread_mutex_lock(&r->mu);
    w->done_mono = done;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- The store thread ------------------------------------------------------------------ */

static int fault(lfr__run *r, int op)
{
    if (r->c.fault && r->c.fault(r->c.fault_ctx, op))
        return lfr__err(LFR_ERR_STORE, "database is locked (injected)");
    return LFR_OK;
}

/* A failure that may pass with time: worth retrying. */
static int transient(int rc)
{
    return rc == LFR_ERR_STORE || rc == LFR_ERR_IO || rc == LFR_ERR_NOMEM;
}

/* Record an alert. LFR_OK when it is done with (recorded, or lost for
 * good), else the transient failure to retry. With give_up, the store is
 * not tried again: the alert is lost with the last failure. */
static int store_alert(lfr__run *r, job *jb, int give_up, const char *last_failure)
{
    const lfr_deployment *d = r->d;
    worker *w = &r->w[jb->cam];
    if (give_up) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "the store still failed %g s after the run halted: %s",
                 r->c.sup.drain_s, last_failure);
        alert_lost(r, jb->cam, jb->track, &jb->subject, jb->n_candidates, jb->candidates, jb->t_ms,
                   jb->frame_number, jb->media_ms, why);
        return LFR_OK;
    }
    char when[LFR__TIME_LEN];
    lfr__time_format(jb->t_ms, when);
    lfr_alert_params p = {d->id,        d->cameras[jb->cam].name, when,     jb->track,
                          jb->image_id, jb->subject.score,        jb->crop, jb->crop_n};
    int64_t id = 0;
    int rc = fault(r, LFR__FAULT_ALERT);
    if (!rc) rc = lfr_store_alert_add(r->c.store, &r->c.user, &p, &id);
    int64_t now = now_wall_ms();
    if (rc && id > 0) {
        /* Recorded; only the anchor update after the commit failed. */
        log_line(r, "camera %s: alert %lld recorded, but: %s", w->r->d->cameras[jb->cam].name,
                 (long long)id, lfr_errmsg());
        rc = LFR_OK;
    }
    if (rc) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "%s", lfr_errmsg());
        if (transient(rc)) return lfr__err(rc, "%s", why);
        alert_lost(r, jb->cam, jb->track, &jb->subject, jb->n_candidates, jb->candidates, jb->t_ms,
                   jb->frame_number, jb->media_ms, why);
        return LFR_OK;
    }
    ADD(w->n.alerts, 1);
    double latency = (double)(now - jb->t_ms);
    pthread_mutex_lock(&r->mu);
    if (w->n_latency < LATENCY_SAMPLES) w->latency[w->n_latency++] = latency;
    pthread_mutex_unlock(&r->mu);
    lfr_event e;
    event_init(r, &e, LFR_EVENT_ALERT, jb->cam);
    e.time_ms = jb->t_ms;
    e.alert.id = id;
    e.alert.track = jb->track;
    e.alert.frame_number = jb->frame_number;
    e.alert.media_ms = jb->media_ms;
    e.alert.subject = jb->subject;
    e.alert.threshold = r->c.watchlist->threshold;
    e.alert.n_candidates = jb->n_candidates;
    memcpy(e.alert.candidates, jb->candidates, sizeof e.alert.candidates);
    e.alert.latency_ms = (double)(now_wall_ms() - jb->t_ms);
    publish(r, &e);
    return LFR_OK;
}

/* Add every camera's pending counters; what the store fails to take for a
 * reason that may pass is carried to the next call; what it refuses (the
 * deployment stopped elsewhere) is reported lost. 0 when nothing is
 * carried. */
static int store_counters(lfr__run *r, int quiet)
{
    int failed = 0;
    for (int i = 0; i < r->n; i++) {
        worker *w = &r->w[i];
        lfr_counters c = w->carry;
        c.frames += TAKE(w->pending.frames);
        c.frames_dropped += TAKE(w->pending.frames_dropped);
        c.detections += TAKE(w->pending.detections);
        c.faces_seen += TAKE(w->pending.faces_seen);
        c.quality_rejects += TAKE(w->pending.quality_rejects);
        memset(&w->carry, 0, sizeof w->carry);
        if (!c.frames && !c.frames_dropped && !c.detections && !c.faces_seen && !c.quality_rejects)
            continue;
        int rc = fault(r, LFR__FAULT_COUNTERS);
        if (!rc)
            rc =
                lfr_store_counters_add(r->c.store, &r->c.user, r->d->id, r->d->cameras[i].name, &c);
        if (rc && !transient(rc)) {
            log_line(r,
                     "camera %s: counters not saved: %s (%lld frames, %lld faces seen, %lld "
                     "quality rejects)",
                     r->d->cameras[i].name, lfr_errmsg(), (long long)c.frames,
                     (long long)c.faces_seen, (long long)c.quality_rejects);
        } else if (rc) {
            w->carry = c;
            failed = 1;
            if (!quiet)
                log_line(r, "camera %s: counters not saved (kept for the next try): %s",
                         r->d->cameras[i].name, lfr_errmsg());
        }
    }
    return failed;
}

/* Re-read the deployment: the store is the guard. Halts the run when it is
 * no longer running or its planned end has come. */
static void poll_state(lfr__run *r, lfr_deployment *d)
{
    int64_t now;
    if (lfr__clock_now_ms(&now) == LFR_OK && now >= r->planned_end_ms - END_MARGIN_MS) {
        __atomic_store_n(&r->expired, 1, __ATOMIC_RELEASE);
        lfr__run_halt(r, "system", "the planned end was reached");
        return;
    }
    if (fault(r, LFR__FAULT_POLL) ||
        lfr_store_deployment_get(r->c.store, &r->c.user, r->d->id, d) != LFR_OK)
        return; /* a failing store: the clock above still ends the run */
    if (d->state != LFR_DEPLOYMENT_RUNNING) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "the deployment was %s by %s at %s",
                 lfr_deployment_state_name(d->state), d->stopped_by[0] ? d->stopped_by : "?",
                 d->stopped_at);
        pthread_mutex_lock(&r->mu);
        snprintf(r->store_by, sizeof r->store_by, "%s", d->stopped_by);
        snprintf(r->store_when, sizeof r->store_when, "%s", d->stopped_at);
        pthread_mutex_unlock(&r->mu);
        __atomic_store_n(&r->stopped_by_store, 1, __ATOMIC_RELEASE);
        lfr__run_halt(r, d->stopped_by[0] ? d->stopped_by : "system", why);
    }
}

static void *store_main(void *arg)
{
    lfr__run *r = arg;
    const lfr_supervisor_config *sc = &r->c.sup;
    lfr_deployment *d = malloc(sizeof *d);
    int64_t next_poll = lfr__mono_ms(), next_flush = next_poll + (int64_t)(sc->flush_s * 1000);
    int64_t retry_at = 0, backoff = RETRY_FIRST_MS, drain_until = 0;
    int failing = 0;
    char last_failure[LFR_EVENT_REASON_MAX + 1] = "";
    for (;;) {
        int64_t now = lfr__mono_ms();
        /* The drain deadline runs from the halt, or from the end of the
         * cameras (sources that ended). */
        if (!drain_until && halted(r)) {
            pthread_mutex_lock(&r->mu);
            drain_until = r->halt_mono + (int64_t)(sc->drain_s * 1000);
            pthread_mutex_unlock(&r->mu);
        }
        if (!drain_until && jobq_closed(&r->q)) drain_until = now + (int64_t)(sc->drain_s * 1000);
        if (now >= next_poll) {
            if (d && !halted(r)) poll_state(r, d);
            next_poll = now + (int64_t)(sc->poll_s * 1000);
        }
        if (now >= next_flush) {
            store_counters(r, 0);
            next_flush = now + (int64_t)(sc->flush_s * 1000);
        }
        int64_t wait = (next_poll < next_flush ? next_poll : next_flush) - now;
        if (retry_at > now && retry_at - now < wait) wait = retry_at - now;
        if (wait < 1) wait = 1;
        int closed;
        job *jb = jobq_peek(&r->q, retry_at > now ? 0 : wait, &closed);
        if (!jb) {
            if (closed) break;
            if (retry_at > now) {
                struct timespec ts = {0, (long)(wait > 50 ? 50 : wait) * 1000000L};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (retry_at > lfr__mono_ms()) {
            /* Waiting to retry the head: sleep in short steps. */
            int64_t left = retry_at - lfr__mono_ms();
            struct timespec ts = {0, (long)(left > 50 ? 50 : left) * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int give_up = failing && drain_until && lfr__mono_ms() >= drain_until;
        if (store_alert(r, jb, give_up, last_failure) == LFR_OK) {
            jobq_pop(&r->q);
            free_job(jb);
            if (give_up) continue; /* the next one is given up too, untried */
            if (failing)
                log_line(r, "deployment %lld: the store records alerts again", (long long)r->d->id);
            failing = 0;
            retry_at = 0;
            backoff = RETRY_FIRST_MS;
        } else {
            snprintf(last_failure, sizeof last_failure, "%s", lfr_errmsg());
            if (!failing)
                log_line(r, "deployment %lld: alert not recorded yet, retrying: %s",
                         (long long)r->d->id, last_failure);
            failing = 1;
            retry_at = lfr__mono_ms() + backoff;
            backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
        }
    }
    /* The workers are done and the alerts drained: the last counters,
     * retried like alerts until the drain deadline. */
    if (!drain_until) drain_until = lfr__mono_ms() + (int64_t)(sc->drain_s * 1000);
    backoff = RETRY_FIRST_MS;
    while (store_counters(r, 1)) {
        if (lfr__mono_ms() + backoff > drain_until) {
            store_counters(r, 0);
            for (int i = 0; i < r->n; i++) {
                lfr_counters *c = &r->w[i].carry;
                if (c->frames || c->faces_seen || c->detections || c->quality_rejects ||
                    c->frames_dropped)
                    log_line(r,
                             "camera %s: final counters lost: %lld frames, %lld faces seen, "
                             "%lld quality rejects",
                             r->d->cameras[i].name, (long long)c->frames, (long long)c->faces_seen,
                             (long long)c->quality_rejects);
            }
            break;
        }
        struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
    }
    free(d);
    return NULL;
}

/* ---- The monitor thread ----------------------------------------------------------------- */

static void *monitor_main(void *arg)
{
    lfr__run *r = arg;
    const lfr_supervisor_config *sc = &r->c.sup;
    int64_t next_counters = lfr__mono_ms() + (int64_t)(sc->counters_s * 1000);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int running = 0;
        for (int i = 0; i < r->n; i++)
            if (r->w[i].started && !__atomic_load_n(&r->w[i].done, __ATOMIC_ACQUIRE)) running++;
        if (running) {
            struct timespec dl;
            lfr__deadline_in(&dl, 50);
            pthread_cond_timedwait(&r->cv, &r->mu, &dl);
        }
        pthread_mutex_unlock(&r->mu);
        if (!running) break;
        int64_t now = lfr__mono_ms(), wall;
        if (r->c.opts.duration_s > 0 &&
            now - r->start_mono >= (int64_t)(r->c.opts.duration_s * 1000)) {
            char why[80];
            snprintf(why, sizeof why, "its duration of %g s was reached", r->c.opts.duration_s);
            lfr__run_halt(r, r->c.user.name, why);
        }
        /* The planned end, on the records' clock, without waiting for the
         * store thread (which may be stuck on a busy database). */
        if (lfr__clock_now_ms(&wall) == LFR_OK && wall >= r->planned_end_ms - END_MARGIN_MS &&
            !halted(r)) {
            __atomic_store_n(&r->expired, 1, __ATOMIC_RELEASE);
            lfr__run_halt(r, "system", "the planned end was reached");
        }
        if (now >= next_counters) {
            for (int i = 0; i < r->n; i++)
                counters_event(r, i);
            next_counters = now + (int64_t)(sc->counters_s * 1000);
        }
    }
    for (int i = 0; i < r->n; i++) {
        if (r->w[i].started) pthread_join(r->w[i].thread, NULL);
        r->w[i].started = 0;
        pthread_mutex_lock(&r->mu);
        lfr__video *v = r->videos[i];
        r->videos[i] = NULL;
        pthread_mutex_unlock(&r->mu);
        lfr__video_close(v);
    }
    jobq_close(&r->q);
    if (r->store_started) pthread_join(r->store_thread, NULL);
    r->store_started = 0;
    for (int i = 0; i < r->n; i++)
        counters_event(r, i);

    /* Auto-stop: the planned end came, so the deployment stops, audited as
     * "system". */
    lfr_deployment_state state = LFR_DEPLOYMENT_RUNNING;
    char by[LFR_USER_NAME_MAX + 1], why[LFR_EVENT_REASON_MAX + 1];
    pthread_mutex_lock(&r->mu);
    snprintf(by, sizeof by, "%s", halted(r) ? r->halt_by : "system");
    snprintf(why, sizeof why, "%s",
             halted(r) ? r->halt_reason : "every camera's source ended or failed");
    pthread_mutex_unlock(&r->mu);
    int stopped = 0;
    if (__atomic_load_n(&r->expired, __ATOMIC_ACQUIRE)) {
        /* The cameras stopped just before the end: the store stops the
         * deployment once it has come. */
        int64_t wall;
        while (lfr__clock_now_ms(&wall) == LFR_OK && wall < r->planned_end_ms) {
            int64_t left = r->planned_end_ms - wall;
            struct timespec ts = {0, (long)(left > 100 ? 100 : left) * 1000000L};
            nanosleep(&ts, NULL);
        }
        int rc = lfr_store_deployment_expire(r->c.store, r->d->id);
        if (rc == LFR_OK) {
            stopped = 1;
            state = LFR_DEPLOYMENT_STOPPED;
            log_line(r, "deployment %lld: stopped by system: its planned end (%s) was reached",
                     (long long)r->d->id, r->d->planned_end);
        } else {
            log_line(r, "deployment %lld: not stopped at its planned end: %s", (long long)r->d->id,
                     lfr_errmsg());
        }
    } else if (__atomic_load_n(&r->stopped_by_store, __ATOMIC_ACQUIRE)) {
        stopped = 2;
        state = LFR_DEPLOYMENT_STOPPED;
    }
    deployment_event(r, state, 0, by, why);
    log_line(r, "deployment %lld: run ended: %s", (long long)r->d->id, why);

    /* Release what the run held: the watchlist (wiped), the store, the lock. */
    lfr_watchlist_free(r->c.watchlist);
    r->c.watchlist = NULL;
    lfr_store_close(r->c.store);
    r->c.store = NULL;
    if (r->c.lock_fd >= 0) close(r->c.lock_fd);
    r->c.lock_fd = -1;
    pthread_mutex_lock(&r->mu);
    r->stopped_in_store = stopped;
    for (int i = 0; i < r->n && !r->status; i++)
        r->status = r->w[i].rc;
    snprintf(r->ended_reason, sizeof r->ended_reason, "%s", why);
    r->ended = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- API ----------------------------------------------------------------------------------- */

static void release_config(lfr__run_config *c)
{
    lfr_watchlist_free(c->watchlist);
    lfr_store_close(c->store);
    free(c->deployment);
    lfr__subjects_free(&c->subjects);
    if (c->lock_fd >= 0) close(c->lock_fd);
    c->watchlist = NULL;
    c->store = NULL;
    c->deployment = NULL;
    c->lock_fd = -1;
}

int lfr__run_start(lfr__run_config *cfg, lfr__run **out)
{
    *out = NULL;
    lfr__run *r = calloc(1, sizeof *r);
    if (!r) {
        release_config(cfg);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    r->c = *cfg;
    if (r->c.max_embeds <= 0) r->c.max_embeds = 12;
    if (r->c.embed_every <= 0) r->c.embed_every = 6;
    if (r->c.fine_tiles_per_frame == 0) r->c.fine_tiles_per_frame = 4;
    r->d = r->c.deployment;
    r->n = r->d->n_cameras;
    r->refs = 1;
    r->start_mono = lfr__mono_ms();
    r->planned_end_ms = INT64_MAX;
    int64_t end;
    if (lfr__time_parse(r->d->planned_end, &end) == LFR_OK) r->planned_end_ms = end;
    pthread_mutex_init(&r->mu, NULL);
    lfr__cond_init_mono(&r->cv);
    pthread_mutex_init(&r->q.mu, NULL);
    lfr__cond_init_mono(&r->q.cv);
    r->q.max_n = r->c.sup.alert_queue_max;
    r->q.max_bytes = r->c.sup.alert_queue_bytes;
    int rc = LFR_OK;
    for (int i = 0; i < r->n && !rc; i++) {
        r->w[i].latency = calloc(LATENCY_SAMPLES, sizeof(double));
        if (!r->w[i].latency) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    if (!rc && pthread_create(&r->store_thread, NULL, store_main, r))
        rc = lfr__err(LFR_ERR_NOMEM, "cannot start a thread");
    r->store_started = !rc;
    if (rc) {
        lfr__run_free(r);
        return rc;
    }
    for (int i = 0; i < r->n; i++) {
        worker *w = &r->w[i];
        const lfr_camera *cam = &r->d->cameras[i];
        w->r = r;
        w->cam = i;
        w->ok = 1;
        w->start_mono = w->fps_mono = r->start_mono;
        lfr__video_opts vo;
        memset(&vo, 0, sizeof vo);
        vo.realtime = r->c.opts.realtime;
        vo.loop = r->c.opts.loop;
        vo.reconnect = 1; /* live sources: retried with backoff; files end or fail */
        vo.log = video_log;
        vo.on_state = video_state;
        vo.log_ctx = w;
        vo.name = cam->name;
        vo.max_pixels = r->c.sup.max_pixels;
        int vrc = lfr__video_open(cam->url, &vo, &r->videos[i]);
        if (vrc) {
            char why[LFR_EVENT_REASON_MAX + 1];
            snprintf(why, sizeof why, "%s", lfr_errmsg());
            log_line(r, "camera %s: down: %s", cam->name, why);
            snprintf(w->error, sizeof w->error, "%s", why);
            w->rc = vrc;
            w->ok = 0;
            camera_event(r, i, 0, why);
            w->done = 1;
            continue;
        }
        w->live = lfr__video_is_live(r->videos[i]);
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            lfr__video_close(r->videos[i]);
            r->videos[i] = NULL;
            w->rc = lfr__err(LFR_ERR_NOMEM, "cannot start a thread");
            w->ok = 0;
            w->done = 1;
            continue;
        }
        w->started = 1;
    }
    if (pthread_create(&r->monitor_thread, NULL, monitor_main, r)) {
        lfr__run_free(r);
        return lfr__err(LFR_ERR_NOMEM, "cannot start a thread");
    }
    r->monitor_started = 1;
    *out = r;
    return LFR_OK;
}

void lfr__run_halt(lfr__run *r, const char *by, const char *reason)
{
    pthread_mutex_lock(&r->mu);
    if (!halted(r)) {
        r->halt_mono = lfr__mono_ms();
        snprintf(r->halt_by, sizeof r->halt_by, "%s", by);
        snprintf(r->halt_reason, sizeof r->halt_reason, "%s", reason);
        __atomic_store_n(&r->halt, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < r->n; i++)
            if (r->videos[i]) lfr__video_interrupt(r->videos[i]);
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    jobq_poke(&r->q);
}

int lfr__run_wait(lfr__run *r, int64_t timeout_ms)
{
    struct timespec dl;
    if (timeout_ms >= 0) lfr__deadline_in(&dl, timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!r->ended) {
        if (timeout_ms < 0)
            pthread_cond_wait(&r->cv, &r->mu);
        else if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT)
            break;
    }
    int ended = r->ended;
    pthread_mutex_unlock(&r->mu);
    return ended;
}

int lfr__run_stopped_in_store(lfr__run *r)
{
    pthread_mutex_lock(&r->mu);
    int s = r->stopped_in_store;
    pthread_mutex_unlock(&r->mu);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
    if (n == 0) return 0;
    int k = (int)ceil(p * n) - 1;
    return sorted[k < 0 ? 0 : k];
}

void lfr__run_status(lfr__run *r, lfr_run_status *out)
{
    memset(out, 0, sizeof *out);
    out->deployment_id = r->d->id;
    snprintf(out->started_by, sizeof out->started_by, "%s", r->c.user.name);
    out->n_cameras = r->n;
    out->alerts_lost = GET(r->alerts_lost);
    pthread_mutex_lock(&r->q.mu);
    out->alert_queue = r->q.n;
    out->alert_queue_bytes = r->q.bytes;
    pthread_mutex_unlock(&r->q.mu);
    double *sorted = malloc(LATENCY_SAMPLES * sizeof *sorted);
    int64_t now = lfr__mono_ms();
    pthread_mutex_lock(&r->mu);
    out->active = !r->ended;
    out->status = r->status;
    snprintf(out->ended, sizeof out->ended, "%s", r->ended ? r->ended_reason : "");
    out->halt_ms = -1;
    for (int i = 0; i < r->n; i++) {
        worker *w = &r->w[i];
        lfr_camera_status *c = &out->cameras[i];
        int done = __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
        snprintf(c->name, sizeof c->name, "%s", r->d->cameras[i].name);
        c->up = w->up;
        snprintf(c->reason, sizeof c->reason, "%s", w->error[0] ? w->error : w->reason);
        c->ok = w->ok;
        c->frames = GET(w->n.frames);
        c->dropped = GET(w->n.dropped);
        c->reconnects = GET(w->n.reconnects);
        c->detections = GET(w->n.detections);
        c->tracks = GET(w->n.tracks);
        c->faces_seen = GET(w->n.faces_seen);
        c->quality_rejects = GET(w->n.quality_rejects);
        c->alerts = GET(w->n.alerts);
        c->alerts_lost = GET(w->n.alerts_lost);
        c->alerts_deferred = GET(w->n.alerts_deferred);
        c->embeds = GET(w->n.embeds);
        c->fps = w->fps;
        c->wall_s = (double)((done && w->end_mono ? w->end_mono : now) - w->start_mono) / 1000.0;
        c->cpu_decode_ms = GET(w->n.cpu_decode_us) / 1000.0;
        c->cpu_detect_ms = GET(w->n.cpu_detect_us) / 1000.0;
        c->cpu_track_ms = GET(w->n.cpu_track_us) / 1000.0;
        c->cpu_embed_ms = GET(w->n.cpu_embed_us) / 1000.0;
        c->cpu_search_ms = GET(w->n.cpu_search_us) / 1000.0;
        c->n_latency = w->n_latency;
        if (w->n_latency && sorted) {
            memcpy(sorted, w->latency, (size_t)w->n_latency * sizeof *sorted);
            qsort(sorted, (size_t)w->n_latency, sizeof *sorted, cmp_double);
            c->latency_p50_ms = percentile(sorted, w->n_latency, 0.5);
            c->latency_p99_ms = percentile(sorted, w->n_latency, 0.99);
            c->latency_max_ms = sorted[w->n_latency - 1];
        }
        c->halt_ms = -1;
        if (halted(r) && done) {
            c->halt_ms = w->done_mono > r->halt_mono ? (double)(w->done_mono - r->halt_mono) : 0;
            if (c->halt_ms > out->halt_ms) out->halt_ms = c->halt_ms;
        }
    }
    if (halted(r))
        for (int i = 0; i < r->n; i++)
            if (out->cameras[i].halt_ms < 0 && r->w[i].started) out->halt_ms = -1;
    pthread_mutex_unlock(&r->mu);
    free(sorted);
}

void lfr__run_hold(lfr__run *r)
{
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL);
}

void lfr__run_release(lfr__run *r)
{
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) lfr__run_free(r);
}

void lfr__run_free(lfr__run *r)
{
    if (!r) return;
    if (r->monitor_started) {
        lfr__run_halt(r, "system", "the supervisor closed");
        pthread_join(r->monitor_thread, NULL);
    } else {
        /* Failed to start: stop what did start. */
        lfr__run_halt(r, "system", "the run failed to start");
        for (int i = 0; i < r->n; i++) {
            if (r->w[i].started) pthread_join(r->w[i].thread, NULL);
            lfr__video_close(r->videos[i]);
        }
        jobq_close(&r->q);
        if (r->store_started) pthread_join(r->store_thread, NULL);
    }
    for (int i = 0; i < LFR_DEPLOYMENT_MAX_CAMERAS; i++)
        free(r->w[i].latency);
    /* Jobs left (a failed start) hold crops: wipe them. */
    for (job *jb = r->q.head, *next; jb; jb = next) {
        next = jb->next;
        free_job(jb);
    }
    release_config(&r->c);
    pthread_cond_destroy(&r->q.cv);
    pthread_mutex_destroy(&r->q.mu);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
