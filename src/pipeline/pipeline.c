/*
 * The live pipeline: see pipeline.h.
 */
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "gallery/gallery.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "store/store.h"
#include "util/util.h"
#include "video/video.h"

#define MAX_DETS 64
#define MAX_TRACKS 128
#define TOPK 16
#define CROP_QUALITY 90

typedef struct shared {
    const lfr__pipeline_config *cfg;
    pthread_mutex_t store_mu; /* the store, the events and the log */
    lfr__video **videos;      /* per camera, for interrupts */
    /* Jobs for the store thread (alerts, counters): the workers never wait
     * for the disk. */
    struct job *head, *tail;
    pthread_cond_t job_cv;
    int jobs_done; /* no more jobs will come */
    pthread_t store_thread;
} shared;

/* Work for the store thread. */
typedef struct job {
    struct job *next;
    struct worker *w;
    int kind;                   /* JOB_ALERT or JOB_COUNTERS */
    lfr_counters delta, totals; /* counters */
    int64_t track, image_id, subject_id, t_ms;
    float score;
    uint8_t *crop; /* the alert's JPEG (biometric: wiped once sealed) */
    size_t crop_n;
} job;
#define JOB_ALERT 1
#define JOB_COUNTERS 2

typedef struct worker {
    shared *sh;
    int cam;
    lfr__camera_stats *st;
    pthread_t thread;
    /* Counters not yet added to the store. */
    lfr_counters pending;
    int64_t last_dropped;
    double last_flush;
    int rc;
    int live;           /* not a regular file: times are capture times */
    lfr_counters carry; /* counters the store refused, for the next try (store thread) */
    int started, done;  /* done: set (atomically) when the thread is about to return */
} worker;

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_line(shared *sh, const char *line)
{
    pthread_mutex_lock(&sh->store_mu);
    FILE *f = sh->cfg->log ? sh->cfg->log : stderr;
    fprintf(f, "%s\n", line);
    fflush(f);
    pthread_mutex_unlock(&sh->store_mu);
}

static void video_log(void *ctx, const char *line)
{
    worker *w = ctx;
    log_line(w->sh, line);
    pthread_mutex_lock(&w->sh->store_mu);
    FILE *ev = w->sh->cfg->events;
    if (ev) {
        fprintf(ev, "{\"type\":\"camera\",\"camera\":\"%s\",\"message\":", w->st->name);
        char buf[600] = "";
        lfr__json_append_str(buf, sizeof buf - 1, line);
        fprintf(ev, "%s}\n", buf);
        fflush(ev);
    }
    pthread_mutex_unlock(&w->sh->store_mu);
}

static void push_job(shared *sh, job *jb)
{
    pthread_mutex_lock(&sh->store_mu);
    jb->next = NULL;
    if (sh->tail)
        sh->tail->next = jb;
    else
        sh->head = jb;
    sh->tail = jb;
    pthread_cond_signal(&sh->job_cv);
    pthread_mutex_unlock(&sh->store_mu);
}

/* Hand the pending counters to the store thread. */
static void flush_counters(worker *w)
{
    lfr_counters c = w->pending;
    w->last_flush = wall_s();
    if (!c.frames && !c.frames_dropped && !c.detections && !c.faces_seen && !c.quality_rejects)
        return;
    job *jb = calloc(1, sizeof *jb);
    if (!jb) return; /* kept in pending for the next flush */
    jb->w = w;
    jb->kind = JOB_COUNTERS;
    jb->delta = c;
    const lfr__camera_stats *st = w->st;
    jb->totals = (lfr_counters){st->frames,     w->last_dropped,     st->detections,
                                st->faces_seen, st->quality_rejects, 0};
    memset(&w->pending, 0, sizeof w->pending);
    push_job(w->sh, jb);
}

static void on_track_end(lfr__track *tr, void *ctx)
{
    worker *w = ctx;
    w->st->tracks++;
    if (!tr->passed) {
        w->st->quality_rejects++;
        w->pending.quality_rejects++;
    }
}

static const char *subject_ref(const lfr__pipeline_config *cfg, int64_t id, lfr_category *cat)
{
    for (int i = 0; i < cfg->n_subjects; i++)
        if (cfg->subject_ids[i] == id) {
            *cat = cfg->subject_cats[i];
            return cfg->subject_refs[i];
        }
    *cat = (lfr_category)0;
    return "";
}

/* Raise one alert: encode the crop here, record it in the store thread. */
static int raise_alert(worker *w, const lfr_image *img, const lfr__track *tr, int image_idx,
                       float score, int64_t t_ms)
{
    const lfr_watchlist *wl = w->sh->cfg->watchlist;
    const lfr_face *f = &tr->face;
    float mx = f->box.w * 0.5f, my = f->box.h * 0.5f;
    job *jb = calloc(1, sizeof *jb);
    if (!jb) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = lfr__jpeg_encode_region(img, (int)(f->box.x - mx), (int)(f->box.y - my),
                                     (int)(f->box.w + 2 * mx), (int)(f->box.h + 2 * my),
                                     CROP_QUALITY, &jb->crop, &jb->crop_n);
    if (rc) {
        free(jb);
        return rc;
    }
    jb->w = w;
    jb->kind = JOB_ALERT;
    jb->track = tr->id;
    jb->image_id = wl->image_ids[image_idx];
    jb->subject_id = wl->subject_ids[image_idx];
    jb->score = score;
    jb->t_ms = t_ms;
    push_job(w->sh, jb);
    return LFR_OK;
}

/* Record an alert (store thread). */
static void store_alert(shared *sh, job *jb)
{
    const lfr__pipeline_config *cfg = sh->cfg;
    worker *w = jb->w;
    char when[LFR__TIME_LEN];
    lfr__time_format(jb->t_ms, when);
    lfr_alert_params p = {cfg->deployment->id,
                          cfg->deployment->cameras[w->cam].name,
                          when,
                          jb->track,
                          jb->image_id,
                          jb->score,
                          jb->crop,
                          jb->crop_n};
    int64_t id = 0;
    int rc = lfr_store_alert_add(cfg->store, cfg->user, &p, &id);
    double latency = (double)(now_ms() - jb->t_ms);
    sodium_memzero(jb->crop, jb->crop_n);
    free(jb->crop);
    jb->crop = NULL;
    pthread_mutex_lock(&sh->store_mu);
    if (rc) {
        FILE *f_log = cfg->log ? cfg->log : stderr;
        fprintf(f_log, "camera %s: alert for track %lld not recorded: %s\n", w->st->name,
                (long long)jb->track, lfr_errmsg());
    } else if (cfg->events) {
        lfr_category cat;
        const char *ref = subject_ref(cfg, jb->subject_id, &cat);
        fprintf(cfg->events,
                "{\"type\":\"alert\",\"alert\":%lld,\"deployment\":%lld,\"camera\":\"%s\","
                "\"time\":\"%s\",\"track\":%lld,\"subject\":%lld,\"reference\":\"%s\","
                "\"category\":\"%s\",\"score\":%.4f,\"latency_ms\":%.0f}\n",
                (long long)id, (long long)cfg->deployment->id, w->st->name, when,
                (long long)jb->track, (long long)jb->subject_id, ref,
                cat ? lfr_category_name(cat) : "", jb->score, latency);
        fflush(cfg->events);
    }
    if (!rc) {
        w->st->alerts++;
        if (w->st->n_latency < LFR__LATENCY_SAMPLES)
            w->st->latency_ms[w->st->n_latency++] = latency;
    }
    pthread_mutex_unlock(&sh->store_mu);
}

/* Add counters (store thread); what the store refuses is carried over. */
static void store_counters(shared *sh, job *jb)
{
    const lfr__pipeline_config *cfg = sh->cfg;
    worker *w = jb->w;
    lfr_counters c = jb->delta;
    c.frames += w->carry.frames;
    c.frames_dropped += w->carry.frames_dropped;
    c.detections += w->carry.detections;
    c.faces_seen += w->carry.faces_seen;
    c.quality_rejects += w->carry.quality_rejects;
    int rc = lfr_store_counters_add(cfg->store, cfg->user, cfg->deployment->id,
                                    cfg->deployment->cameras[w->cam].name, &c);
    pthread_mutex_lock(&sh->store_mu);
    if (rc) {
        w->carry = c;
        FILE *f = cfg->log ? cfg->log : stderr;
        fprintf(f, "camera %s: counters not saved (kept for the next try): %s\n", w->st->name,
                lfr_errmsg());
    } else {
        memset(&w->carry, 0, sizeof w->carry);
        if (cfg->events) {
            fprintf(cfg->events,
                    "{\"type\":\"counters\",\"camera\":\"%s\",\"frames\":%lld,\"dropped\":%lld,"
                    "\"detections\":%lld,\"faces_seen\":%lld,\"quality_rejects\":%lld}\n",
                    w->st->name, (long long)jb->totals.frames, (long long)jb->totals.frames_dropped,
                    (long long)jb->totals.detections, (long long)jb->totals.faces_seen,
                    (long long)jb->totals.quality_rejects);
            fflush(cfg->events);
        }
    }
    pthread_mutex_unlock(&sh->store_mu);
}

static void *store_main(void *arg)
{
    shared *sh = arg;
    for (;;) {
        pthread_mutex_lock(&sh->store_mu);
        while (!sh->head && !sh->jobs_done)
            pthread_cond_wait(&sh->job_cv, &sh->store_mu);
        job *jb = sh->head;
        if (jb) {
            sh->head = jb->next;
            if (!sh->head) sh->tail = NULL;
        }
        pthread_mutex_unlock(&sh->store_mu);
        if (!jb) break; /* done and drained */
        if (jb->kind == JOB_ALERT)
            store_alert(sh, jb);
        else
            store_counters(sh, jb);
        free(jb);
    }
    return NULL;
}

/* Embed a track's face, search the watchlist, alert on new subjects. */
static void identify(worker *w, lfr_session *ses, const lfr_image *img, lfr__track *tr,
                     int64_t t_ms)
{
    const lfr__pipeline_config *cfg = w->sh->cfg;
    const lfr_watchlist *wl = cfg->watchlist;
    float tpl[LFR_TEMPLATE_DIM];
    double c0 = cpu_ms();
    int rc = lfr_session_embed(ses, img, &tr->face, 1, tpl);
    double c1 = cpu_ms();
    w->st->cpu_embed_ms += c1 - c0;
    if (rc) {
        sodium_memzero(tpl, sizeof tpl);
        return;
    }
    w->st->embeds++;
    tr->n_embedded++;
    int idx[TOPK];
    float score[TOPK];
    int n = wl->n > 0 ? lfr__gallery_topk(wl->templates, (size_t)wl->n, tpl, TOPK, idx, score) : 0;
    sodium_memzero(tpl, sizeof tpl);
    w->st->cpu_search_ms += cpu_ms() - c1;
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
        if (raise_alert(w, img, tr, idx[i], score[i], t_ms) == LFR_OK)
            tr->alerted[tr->n_alerted++] = s;
    }
    sodium_memzero(score, sizeof score);
}

static int stop_requested(const lfr__pipeline_config *cfg)
{
    return cfg->stop && *cfg->stop;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const lfr__pipeline_config *cfg = w->sh->cfg;
    const lfr_camera *cam = &cfg->deployment->cameras[w->cam];
    lfr__camera_stats *st = w->st;
    lfr_session *ses = NULL;
    lfr__tracker tk;
    int have_tracker = 0;
    lfr__video *v = w->sh->videos[w->cam];
    int rc = lfr_session_open(cfg->engine, 1, &ses);
    if (!rc) rc = lfr__tracker_init(&tk, MAX_TRACKS, MAX_DETS);
    have_tracker = !rc;
    lfr_face faces[MAX_DETS];
    int det_track[MAX_DETS];
    /* Warm up on a grey frame of a file's size, so that the first frame does
     * not pay for planning tiles and allocating buffers (a camera played in
     * real time would drop frames meanwhile). */
    int ww, wh;
    if (!rc && lfr__video_size(v, &ww, &wh)) {
        lfr_image grey;
        if (lfr_image_alloc(ww, wh, &grey) == LFR_OK) {
            memset(grey.data, 128, grey.stride * (size_t)wh);
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
    }
    double start = wall_s();
    w->last_flush = start;
    int64_t frame_no = 0;
    int tile_cursor = 0;
    while (!rc && !stop_requested(cfg)) {
        if (cfg->duration_s > 0 && wall_s() - start >= cfg->duration_s) break;
        lfr_image frame;
        int64_t t_ms = 0;
        double c0 = cpu_ms();
        int r = lfr__video_read(v, &frame, &t_ms);
        double c1 = cpu_ms();
        st->cpu_decode_ms += c1 - c0;
        if (r == LFR_ERR_EOF || stop_requested(cfg) ||
            (cfg->duration_s > 0 && wall_s() - start >= cfg->duration_s))
            break;
        if (r) {
            rc = r;
            snprintf(st->error, sizeof st->error, "%s", lfr_errmsg());
            char line[700];
            snprintf(line, sizeof line, "camera %s: %.300s: down: %.250s", cam->name, cam->url,
                     st->error);
            video_log(w, line);
            break;
        }
        /* The alert latency runs from the frame's arrival: a live source's
         * capture time, or now for a file. */
        int64_t arrival = w->live ? t_ms : now_ms();
        frame_no++;
        st->frames++;
        w->pending.frames++;
        int n = 0;
        /* The whole-frame passes every frame, the fine tiles in turn. */
        int fine = lfr_session_fine_tiles(ses, frame.width, frame.height);
        int count = cfg->fine_tiles_per_frame < 0 ? -1 : cfg->fine_tiles_per_frame;
        r = lfr_session_detect_tiles(ses, &frame, tile_cursor, count, faces, MAX_DETS, &n);
        if (fine > 0 && count > 0) tile_cursor = (tile_cursor + count) % fine;
        double c2 = cpu_ms();
        st->cpu_detect_ms += c2 - c1;
        if (r) n = 0;
        st->detections += n;
        w->pending.detections += n;
        lfr__tracker_update(&tk, faces, n, frame_no, det_track, on_track_end, w);
        for (int j = 0; j < n; j++) {
            if (det_track[j] < 0) continue;
            lfr__track *tr = &tk.tracks[det_track[j]];
            lfr__quality q;
            lfr__quality_check(&frame, &faces[j], &cfg->quality, &q);
            if (!q.pass) continue;
            if (!tr->passed) {
                tr->passed = 1;
                st->faces_seen++;
                w->pending.faces_seen++;
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
            double c3 = cpu_ms();
            st->cpu_track_ms += c3 - c2;
            identify(w, ses, &frame, tr, arrival);
            c2 = cpu_ms();
        }
        st->cpu_track_ms += cpu_ms() - c2;
        int64_t decoded, dropped, reconnects;
        lfr__video_stats(v, &decoded, &dropped, &reconnects);
        w->pending.frames_dropped += dropped - w->last_dropped;
        w->last_dropped = dropped;
        if (wall_s() - w->last_flush >= cfg->flush_s) flush_counters(w);
    }
    if (have_tracker) {
        lfr__tracker_flush(&tk, on_track_end, w);
        lfr__tracker_free(&tk);
    }
    int64_t decoded, dropped, reconnects;
    lfr__video_stats(v, &decoded, &dropped, &reconnects);
    w->pending.frames_dropped += dropped - w->last_dropped;
    w->last_dropped = dropped;
    st->dropped = dropped;
    st->reconnects = reconnects;
    flush_counters(w);
    lfr_session_close(ses);
    st->wall_s = wall_s() - start;
    st->ok = rc == LFR_OK;
    w->rc = rc;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

int lfr__pipeline_run(const lfr__pipeline_config *cfg_in, lfr__camera_stats *stats)
{
    lfr__pipeline_config cfg = *cfg_in;
    if (cfg.max_embeds <= 0) cfg.max_embeds = 12;
    if (cfg.embed_every <= 0) cfg.embed_every = 6;
    if (cfg.fine_tiles_per_frame == 0) cfg.fine_tiles_per_frame = 4;
    if (cfg.flush_s <= 0) cfg.flush_s = 10;
    const lfr_deployment *d = cfg.deployment;
    int n = d->n_cameras;
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = &cfg;
    pthread_mutex_init(&sh.store_mu, NULL);
    pthread_cond_init(&sh.job_cv, NULL);
    worker *w = calloc((size_t)n, sizeof *w);
    sh.videos = calloc((size_t)n, sizeof *sh.videos);
    if (!w || !sh.videos || pthread_create(&sh.store_thread, NULL, store_main, &sh)) {
        free(w);
        free(sh.videos);
        pthread_cond_destroy(&sh.job_cv);
        pthread_mutex_destroy(&sh.store_mu);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    int first_rc = LFR_OK;
    for (int i = 0; i < n; i++) {
        memset(&stats[i], 0, sizeof stats[i]);
        snprintf(stats[i].name, sizeof stats[i].name, "%s", d->cameras[i].name);
        w[i].sh = &sh;
        w[i].cam = i;
        w[i].st = &stats[i];
        lfr__video_opts vo;
        memset(&vo, 0, sizeof vo);
        vo.realtime = cfg.realtime;
        vo.loop = cfg.loop;
        vo.reconnect = 1; /* live sources: retried with backoff; files end or fail */
        vo.log = video_log;
        vo.log_ctx = &w[i];
        vo.name = d->cameras[i].name;
        int rc = lfr__video_open(d->cameras[i].url, &vo, &sh.videos[i]);
        if (rc) {
            snprintf(stats[i].error, sizeof stats[i].error, "%s", lfr_errmsg());
            char line[700];
            snprintf(line, sizeof line, "camera %s: %.300s: down: %.250s", d->cameras[i].name,
                     d->cameras[i].url, stats[i].error);
            video_log(&w[i], line);
            w[i].rc = rc;
            if (!first_rc) first_rc = rc;
            continue;
        }
        struct stat sb;
        w[i].live = stat(d->cameras[i].url, &sb) != 0 || !S_ISREG(sb.st_mode);
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i])) {
            lfr__video_close(sh.videos[i]);
            sh.videos[i] = NULL;
            w[i].rc = lfr__err(LFR_ERR_NOMEM, "cannot start a thread");
            if (!first_rc) first_rc = w[i].rc;
            continue;
        }
        w[i].started = 1;
    }
    /* Wait, turning a stop request or the end of the duration into
     * interrupts of reads blocked on a source that is down. */
    double t0 = wall_s();
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++) {
            if (!w[i].started) continue;
            if (!__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE)) {
                running++;
                continue;
            }
            pthread_join(w[i].thread, NULL);
            w[i].started = 0;
            lfr__video_close(sh.videos[i]);
            sh.videos[i] = NULL;
            if (w[i].rc && !first_rc) first_rc = w[i].rc;
        }
        if (!running) break;
        if (stop_requested(&cfg) || (cfg.duration_s > 0 && wall_s() - t0 >= cfg.duration_s + 1))
            for (int i = 0; i < n; i++)
                if (sh.videos[i]) lfr__video_interrupt(sh.videos[i]);
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    /* The workers are done: let the store thread drain the last jobs. */
    pthread_mutex_lock(&sh.store_mu);
    sh.jobs_done = 1;
    pthread_cond_signal(&sh.job_cv);
    pthread_mutex_unlock(&sh.store_mu);
    pthread_join(sh.store_thread, NULL);
    free(sh.videos);
    free(w);
    pthread_cond_destroy(&sh.job_cv);
    pthread_mutex_destroy(&sh.store_mu);
    return first_rc;
}
