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
} shared;

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
    int live;          /* not a regular file: times are capture times */
    int started, done; /* done: set (atomically) when the thread is about to return */
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

/* Add the pending counters to the store. */
static void flush_counters(worker *w)
{
    const lfr__pipeline_config *cfg = w->sh->cfg;
    lfr_counters c = w->pending;
    if (!c.frames && !c.frames_dropped && !c.detections && !c.faces_seen && !c.quality_rejects)
        return;
    pthread_mutex_lock(&w->sh->store_mu);
    int rc = lfr_store_counters_add(cfg->store, cfg->user, cfg->deployment->id,
                                    cfg->deployment->cameras[w->cam].name, &c);
    if (rc) {
        FILE *f = cfg->log ? cfg->log : stderr;
        fprintf(f, "camera %s: counters not saved (kept for the next try): %s\n", w->st->name,
                lfr_errmsg());
    }
    if (!rc && cfg->events) {
        const lfr__camera_stats *st = w->st;
        fprintf(cfg->events,
                "{\"type\":\"counters\",\"camera\":\"%s\",\"frames\":%lld,\"dropped\":%lld,"
                "\"detections\":%lld,\"faces_seen\":%lld,\"alerts\":%lld}\n",
                st->name, (long long)st->frames, (long long)w->last_dropped,
                (long long)st->detections, (long long)st->faces_seen, (long long)st->alerts);
        fflush(cfg->events);
    }
    pthread_mutex_unlock(&w->sh->store_mu);
    if (!rc) memset(&w->pending, 0, sizeof w->pending);
    w->last_flush = wall_s();
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

/* Record one alert: the crop, the store, the event. */
static int raise_alert(worker *w, const lfr_image *img, const lfr__track *tr, int image_idx,
                       float score, int64_t t_ms)
{
    const lfr__pipeline_config *cfg = w->sh->cfg;
    const lfr_watchlist *wl = cfg->watchlist;
    const lfr_face *f = &tr->face;
    float mx = f->box.w * 0.5f, my = f->box.h * 0.5f;
    uint8_t *crop = NULL;
    size_t crop_n = 0;
    int rc = lfr__jpeg_encode_region(img, (int)(f->box.x - mx), (int)(f->box.y - my),
                                     (int)(f->box.w + 2 * mx), (int)(f->box.h + 2 * my),
                                     CROP_QUALITY, &crop, &crop_n);
    char when[LFR__TIME_LEN];
    lfr__time_format(t_ms, when);
    lfr_alert_params p = {cfg->deployment->id,
                          cfg->deployment->cameras[w->cam].name,
                          when,
                          tr->id,
                          wl->image_ids[image_idx],
                          score,
                          crop,
                          crop_n};
    int64_t id = 0;
    pthread_mutex_lock(&w->sh->store_mu);
    if (!rc) rc = lfr_store_alert_add(cfg->store, cfg->user, &p, &id);
    double latency = (double)(now_ms() - t_ms);
    FILE *f_log = cfg->log ? cfg->log : stderr;
    if (rc) {
        fprintf(f_log, "camera %s: alert for track %lld not recorded: %s\n", w->st->name,
                (long long)tr->id, lfr_errmsg());
    } else if (cfg->events) {
        lfr_category cat;
        const char *ref = subject_ref(cfg, wl->subject_ids[image_idx], &cat);
        fprintf(cfg->events,
                "{\"type\":\"alert\",\"alert\":%lld,\"deployment\":%lld,\"camera\":\"%s\","
                "\"time\":\"%s\",\"track\":%lld,\"subject\":%lld,\"reference\":\"%s\","
                "\"category\":\"%s\",\"score\":%.4f,\"latency_ms\":%.0f}\n",
                (long long)id, (long long)cfg->deployment->id, w->st->name, when, (long long)tr->id,
                (long long)wl->subject_ids[image_idx], ref, cat ? lfr_category_name(cat) : "",
                score, latency);
        fflush(cfg->events);
    }
    pthread_mutex_unlock(&w->sh->store_mu);
    if (crop) {
        sodium_memzero(crop, crop_n);
        free(crop);
    }
    if (!rc) {
        w->st->alerts++;
        if (w->st->n_latency < LFR__LATENCY_SAMPLES)
            w->st->latency_ms[w->st->n_latency++] = latency;
    }
    return rc;
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
            char line[400];
            snprintf(line, sizeof line, "camera %s: %s: down: %s", cam->name, cam->url, st->error);
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
    worker *w = calloc((size_t)n, sizeof *w);
    sh.videos = calloc((size_t)n, sizeof *sh.videos);
    if (!w || !sh.videos) {
        free(w);
        free(sh.videos);
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
            char line[400];
            snprintf(line, sizeof line, "camera %s: %s: down: %s", d->cameras[i].name,
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
    free(sh.videos);
    free(w);
    pthread_mutex_destroy(&sh.store_mu);
    return first_rc;
}
