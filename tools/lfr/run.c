/*
 * lfr run: watch a deployment's cameras (src/pipeline).
 *
 *   lfr run --deployment ID --user NAME [--events FILE|-] [--realtime] [--loop]
 *           [--duration S] [--stop] [--models DIR] [--stats FILE] [--flush S]
 *
 * An authorised deployment is started first (freezing its watchlist); a
 * running one is resumed. The frozen watchlist is loaded into memory (and
 * wiped at exit); the engine's embedder must be the one the watchlist was
 * enrolled with. SIGINT and SIGTERM stop cleanly: counters are flushed and
 * alerts already recorded stay recorded. --stop also stops the deployment
 * at the end. Prints a summary per camera on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lfr/lfr.h"
#include "pipeline/pipeline.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

#define fail lfr_cli_fail
#define usage_error(msg) lfr_cli_usage_error("%s", msg)

typedef struct subjects {
    int64_t *ids;
    char (*refs)[LFR_SUBJECT_REF_MAX + 1];
    lfr_category *cats;
    int n, cap;
} subjects;

static int add_subject(const lfr_subject *s, void *ctx)
{
    subjects *x = ctx;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 64;
        int64_t *ids = realloc(x->ids, (size_t)cap * sizeof *ids);
        if (ids) x->ids = ids;
        char(*refs)[LFR_SUBJECT_REF_MAX + 1] = realloc(x->refs, (size_t)cap * sizeof *refs);
        if (refs) x->refs = refs;
        lfr_category *cats = realloc(x->cats, (size_t)cap * sizeof *cats);
        if (cats) x->cats = cats;
        if (!ids || !refs || !cats) return LFR_ERR_NOMEM;
        x->cap = cap;
    }
    x->ids[x->n] = s->id;
    snprintf(x->refs[x->n], sizeof x->refs[x->n], "%s", s->reference);
    x->cats[x->n++] = s->category;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
    if (n == 0) return 0;
    int k = (int)(p * (n - 1) + 0.5);
    return sorted[k];
}

/* Per camera: counts, CPU per frame per stage, alert latency (sorted). */
static int write_stats(const char *path, const lfr__camera_stats *st, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) return fail("%s: cannot create: %s", path, strerror(errno));
    fputs("{\"cameras\": [", f);
    for (int i = 0; i < n; i++) {
        const lfr__camera_stats *c = &st[i];
        double fr = c->frames > 0 ? (double)c->frames : 1.0;
        fprintf(f,
                "%s\n  {\"name\": \"%s\", \"ok\": %s, \"frames\": %lld, \"dropped\": %lld,"
                " \"reconnects\": %lld, \"wall_s\": %.3f, \"fps\": %.3f, \"detections\": %lld,"
                " \"tracks\": %lld, \"faces_seen\": %lld, \"quality_rejects\": %lld,"
                " \"alerts\": %lld, \"embeds\": %lld,\n   \"cpu_ms_per_frame\": {\"decode\": %.3f,"
                " \"detect\": %.3f, \"track\": %.3f, \"embed\": %.3f, \"search\": %.4f},"
                " \"latency_ms\": {\"n\": %d, \"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}}",
                i ? "," : "", c->name, c->ok ? "true" : "false", (long long)c->frames,
                (long long)c->dropped, (long long)c->reconnects, c->wall_s,
                c->wall_s > 0 ? c->frames / c->wall_s : 0.0, (long long)c->detections,
                (long long)c->tracks, (long long)c->faces_seen, (long long)c->quality_rejects,
                (long long)c->alerts, (long long)c->embeds, c->cpu_decode_ms / fr,
                c->cpu_detect_ms / fr, c->cpu_track_ms / fr, c->cpu_embed_ms / fr,
                c->cpu_search_ms / fr, c->n_latency, percentile(c->latency_ms, c->n_latency, 0.5),
                percentile(c->latency_ms, c->n_latency, 0.99),
                c->n_latency ? c->latency_ms[c->n_latency - 1] : 0.0);
    }
    fputs("\n]}\n", f);
    if (fclose(f)) return fail("%s: write failed", path);
    return 0;
}

int lfr_cli_run(int argc, char **argv)
{
    const char *home = NULL, *user = NULL, *dep = NULL, *events = NULL, *models = NULL;
    const char *stats_path = NULL;
    double duration = 0, flush = 10;
    int realtime = 0, loop = 0, stop_at_end = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--realtime"))
            realtime = 1;
        else if (!strcmp(a, "--loop"))
            loop = 1;
        else if (!strcmp(a, "--stop"))
            stop_at_end = 1;
        else if (i + 1 < argc && !strcmp(a, "--home"))
            home = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--user"))
            user = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--deployment"))
            dep = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--events"))
            events = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--models"))
            models = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--stats"))
            stats_path = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--flush")) {
            char *end;
            flush = strtod(argv[++i], &end);
            if (*end || !(flush > 0 && flush <= 10))
                return usage_error("--flush needs 0 < S <= 10");
        } else if (i + 1 < argc && !strcmp(a, "--duration")) {
            char *end;
            duration = strtod(argv[++i], &end);
            if (*end || !(duration > 0)) return usage_error("--duration needs seconds > 0");
        } else {
            fprintf(stderr, "lfr: unknown or incomplete option '%s' (lfr help)\n", a);
            return 2;
        }
    }
    if (!dep || !user) return usage_error("usage: lfr run --deployment ID --user NAME ...");
    char *end;
    errno = 0;
    long long id = strtoll(dep, &end, 10);
    if (errno || *end || id < 1) return usage_error("--deployment needs an id");

    lfr_store *st = NULL;
    lfr_user me;
    int rc = lfr_cli_login(home, user, &st, &me);
    if (rc) return rc;
    lfr_deployment *d = malloc(sizeof *d);
    lfr_engine *eng = NULL;
    lfr_watchlist *wl = NULL;
    subjects subs = {0};
    FILE *ev = NULL;
    lfr__camera_stats *stats = NULL;
    if (!d) rc = fail("out of memory");
    if (!rc && lfr_store_deployment_get(st, &me, id, d)) rc = fail("%s", lfr_errmsg());
    if (!rc && d->state == LFR_DEPLOYMENT_AUTHORISED) {
        if (lfr_store_deployment_start(st, &me, id) || lfr_store_deployment_get(st, &me, id, d))
            rc = fail("%s", lfr_errmsg());
        else
            fprintf(stderr, "started deployment %lld: %lld images of %lld subjects frozen\n", id,
                    (long long)d->snapshot_images, (long long)d->snapshot_subjects);
    }
    if (!rc && d->state != LFR_DEPLOYMENT_RUNNING)
        rc = fail("deployment %lld is %s: only an authorised or running deployment runs", id,
                  lfr_deployment_state_name(d->state));
    if (!rc) {
        lfr_engine_config cfg = lfr_engine_config_default();
        cfg.model_dir = models ? models : getenv("LFR_MODELS");
        if (!cfg.model_dir || !*cfg.model_dir) cfg.model_dir = "models";
        if (lfr_engine_open(&cfg, &eng)) rc = fail("%s", lfr_errmsg());
    }
    if (!rc && lfr_store_deployment_watchlist(st, &me, id, &wl)) rc = fail("%s", lfr_errmsg());
    if (!rc && wl->n > 0) {
        const char *have = lfr_engine_model_sha256(eng, "embedder");
        if (!have || strcmp(have, wl->model_sha256))
            rc = fail("deployment %lld's watchlist was enrolled with embedder %.16s, but %s holds"
                      " %.16s",
                      id, wl->model_sha256, models ? models : "the model folder",
                      have ? have : "none");
    }
    if (!rc && lfr_store_subject_list(st, &me, 1, add_subject, &subs))
        rc = fail("%s", lfr_errmsg());
    if (!rc && events) {
        ev = strcmp(events, "-") ? fopen(events, "a") : stdout;
        if (!ev) rc = fail("%s: cannot open: %s", events, strerror(errno));
    }
    if (!rc) {
        stats = calloc((size_t)d->n_cameras, sizeof *stats);
        if (!stats) rc = fail("out of memory");
    }
    if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        lfr__pipeline_config pc;
        memset(&pc, 0, sizeof pc);
        pc.engine = eng;
        pc.store = st;
        pc.user = &me;
        pc.deployment = d;
        pc.watchlist = wl;
        pc.subject_ids = subs.ids;
        pc.subject_refs = (const char(*)[LFR_SUBJECT_REF_MAX + 1]) subs.refs;
        pc.subject_cats = subs.cats;
        pc.n_subjects = subs.n;
        pc.quality = lfr__quality_defaults();
        pc.realtime = realtime;
        pc.loop = loop;
        pc.duration_s = duration;
        pc.flush_s = flush;
        pc.events = ev;
        pc.stop = &g_stop;
        fprintf(stderr, "running deployment %lld: %d cameras, %d templates, threshold %.3g\n", id,
                d->n_cameras, wl->n, wl->threshold);
        int prc = lfr__pipeline_run(&pc, stats);
        for (int i = 0; i < d->n_cameras; i++) {
            lfr__camera_stats *c = &stats[i];
            qsort(c->latency_ms, (size_t)c->n_latency, sizeof c->latency_ms[0], cmp_double);
            fprintf(stderr,
                    "camera %s: %s; %lld frames (%.1f/s), %lld dropped, %lld reconnects, %lld"
                    " faces seen, %lld quality rejects, %lld alerts\n",
                    c->name,
                    c->ok         ? "ended"
                    : c->error[0] ? c->error
                                  : "failed",
                    (long long)c->frames, c->wall_s > 0 ? c->frames / c->wall_s : 0.0,
                    (long long)c->dropped, (long long)c->reconnects, (long long)c->faces_seen,
                    (long long)c->quality_rejects, (long long)c->alerts);
        }
        if (stats_path && write_stats(stats_path, stats, d->n_cameras)) rc = 1;
        if (prc) rc = 1;
    }
    if (!rc && stop_at_end && lfr_store_deployment_stop(st, &me, id)) rc = fail("%s", lfr_errmsg());
    if (ev && ev != stdout) fclose(ev);
    free(stats);
    free(subs.ids);
    free(subs.refs);
    free(subs.cats);
    lfr_watchlist_free(wl);
    lfr_engine_close(eng);
    free(d);
    lfr_store_close(st);
    return rc;
}
