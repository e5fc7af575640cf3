/*
 * lfr run: run a deployment's cameras in the foreground, for debugging and
 * demonstrations (the service runs them in production). It goes through
 * the library's run supervisor (include/lfr/run.h) exactly as the service
 * does: the same checks, the same run lock, the same events.
 *
 *   lfr run --deployment ID --user NAME [--events FILE|- [--append]] [--realtime]
 *           [--loop] [--duration S] [--stop] [--models DIR] [--stats FILE]
 *           [--flush S] [--webhook URL --webhook-key FILE]
 *
 * SIGINT and SIGTERM halt the run (the deployment stays running, to be
 * resumed); --stop also stops the deployment at the end. Prints a summary
 * per camera on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "lfr/lfr.h"
#include "lfr/run.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

#define fail lfr_cli_fail
#define usage_error(msg) lfr_cli_usage_error("%s", msg)

/* Per camera: counts, CPU per frame per stage, alert latency, halt time. */
static int write_stats(const char *path, const lfr_run_status *st)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return fail("%s: cannot create: %s", path, strerror(errno));
    }
    fprintf(f, "{\"halt_ms\": %.1f, \"alerts_lost\": %lld, \"cameras\": [", st->halt_ms,
            (long long)st->alerts_lost);
    for (int i = 0; i < st->n_cameras; i++) {
        const lfr_camera_status *c = &st->cameras[i];
        double fr = c->frames > 0 ? (double)c->frames : 1.0;
        fprintf(f,
                "%s\n  {\"name\": \"%s\", \"ok\": %s, \"frames\": %lld, \"dropped\": %lld,"
                " \"reconnects\": %lld, \"wall_s\": %.3f, \"fps\": %.3f, \"detections\": %lld,"
                " \"tracks\": %lld, \"faces_seen\": %lld, \"quality_rejects\": %lld,"
                " \"alerts\": %lld, \"alerts_lost\": %lld, \"alerts_deferred\": %lld,"
                " \"embeds\": %lld, \"halt_ms\": %.1f,\n   \"cpu_ms_per_frame\": {\"decode\": %.3f,"
                " \"detect\": %.3f, \"track\": %.3f, \"embed\": %.3f, \"search\": %.4f},"
                " \"latency_ms\": {\"n\": %d, \"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}}",
                i ? "," : "", c->name, c->ok ? "true" : "false", (long long)c->frames,
                (long long)c->dropped, (long long)c->reconnects, c->wall_s,
                c->wall_s > 0 ? c->frames / c->wall_s : 0.0, (long long)c->detections,
                (long long)c->tracks, (long long)c->faces_seen, (long long)c->quality_rejects,
                (long long)c->alerts, (long long)c->alerts_lost, (long long)c->alerts_deferred,
                (long long)c->embeds, c->halt_ms, c->cpu_decode_ms / fr, c->cpu_detect_ms / fr,
                c->cpu_track_ms / fr, c->cpu_embed_ms / fr, c->cpu_search_ms / fr, c->n_latency,
                c->latency_p50_ms, c->latency_p99_ms, c->latency_max_ms);
    }
    fputs("\n]}\n", f);
    if (fclose(f)) return fail("%s: write failed", path);
    return 0;
}

/* The events file: a new file (0600), or with --append an existing one. */
static FILE *open_events(const char *path, int append)
{
    if (!strcmp(path, "-")) return stdout;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_EXCL), 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            fail("%s exists: choose a new file, or add --append to add this run's events to it",
                 path);
        else
            fail("%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "a");
    if (!f) close(fd);
    return f;
}

/* The webhook's shared secret, from a file (never the command line or the
 * environment); trailing newlines dropped. */
static int read_key(const char *path, uint8_t *key, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail("%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(key, 1, 65, f);
    fclose(f);
    while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
        n--;
    if (n < 16 || n > 64) return fail("%s: a webhook key is 16 to 64 bytes", path);
    *len = n;
    return 0;
}

int lfr_cli_run(int argc, char **argv)
{
    const char *home = NULL, *user = NULL, *dep = NULL, *events = NULL, *models = NULL;
    const char *stats_path = NULL, *webhook = NULL, *webhook_key = NULL;
    lfr_run_options opts = {0};
    double flush = 10;
    int stop_at_end = 0, append = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--realtime"))
            opts.realtime = 1;
        else if (!strcmp(a, "--loop"))
            opts.loop = 1;
        else if (!strcmp(a, "--stop"))
            stop_at_end = 1;
        else if (!strcmp(a, "--append"))
            append = 1;
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
        else if (i + 1 < argc && !strcmp(a, "--webhook"))
            webhook = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--webhook-key"))
            webhook_key = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--flush")) {
            char *end;
            flush = strtod(argv[++i], &end);
            if (*end || !(flush > 0 && flush <= 10))
                return usage_error("--flush needs 0 < S <= 10");
        } else if (i + 1 < argc && !strcmp(a, "--duration")) {
            char *end;
            opts.duration_s = strtod(argv[++i], &end);
            if (*end || !(opts.duration_s > 0)) return usage_error("--duration needs seconds > 0");
        } else {
            fprintf(stderr, "lfr: unknown or incomplete option '%s' (lfr help)\n", a);
            return 2;
        }
    }
    if (!dep || !user) return usage_error("usage: lfr run --deployment ID --user NAME ...");
    if (!webhook != !webhook_key) return usage_error("--webhook and --webhook-key go together");
    if (append && !events) return usage_error("--append needs --events FILE");
    char *end;
    errno = 0;
    long long id = strtoll(dep, &end, 10);
    if (errno || *end || id < 1) return usage_error("--deployment needs an id");
    uint8_t key[65];
    size_t key_len = 0;
    if (webhook_key && read_key(webhook_key, key, &key_len)) return 1;

    if (!home) home = getenv("LFR_HOME");
    if (!home || !*home) home = "lfr-data";
    lfr_store *st = NULL;
    lfr_user me;
    int rc = lfr_cli_login(home, user, &st, &me);
    if (rc) return rc;
    lfr_engine *eng = NULL;
    lfr_events *bus = NULL;
    lfr_event_sink *file_sink = NULL, *hook = NULL;
    lfr_supervisor *sup = NULL;
    FILE *ev = NULL;
    lfr_engine_config ec = lfr_engine_config_default();
    ec.model_dir = models ? models : getenv("LFR_MODELS");
    if (!ec.model_dir || !*ec.model_dir) ec.model_dir = "models";
    if (lfr_engine_open(&ec, &eng)) rc = fail("%s", lfr_errmsg());
    if (!rc && lfr_events_open(NULL, &bus)) rc = fail("%s", lfr_errmsg());
    if (!rc && events && !(ev = open_events(events, append))) rc = 1;
    if (!rc && ev && lfr_event_sink_open_file(bus, NULL, ev, &file_sink))
        rc = fail("%s", lfr_errmsg());
    if (!rc && webhook) {
        lfr_webhook_config wc;
        memset(&wc, 0, sizeof wc);
        wc.url = webhook;
        wc.key = key;
        wc.key_len = key_len;
        if (lfr_event_sink_open_webhook(bus, &wc, &hook)) rc = fail("%s", lfr_errmsg());
    }
    sodium_memzero(key, sizeof key);
    if (!rc) {
        lfr_supervisor_config sc = lfr_supervisor_config_default();
        sc.home = home;
        sc.engine = eng;
        sc.events = bus;
        sc.flush_s = flush;
        if (lfr_supervisor_open(&sc, &sup)) rc = fail("%s", lfr_errmsg());
    }
    if (!rc && lfr_supervisor_start(sup, &me, id, &opts)) rc = fail("%s", lfr_errmsg());
    if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        lfr_run_status rs;
        lfr_supervisor_status(sup, id, &rs);
        fprintf(stderr, "running deployment %lld: %d cameras\n", id, rs.n_cameras);
        int ended = 0, halted = 0;
        while (!ended) {
            if (g_stop && !halted) {
                lfr_supervisor_halt(sup, id);
                halted = 1;
            }
            lfr_supervisor_wait(sup, id, 0.1, &ended);
        }
        if (stop_at_end && lfr_supervisor_stop(sup, st, &me, id)) rc = fail("%s", lfr_errmsg());
        lfr_supervisor_status(sup, id, &rs);
        for (int i = 0; i < rs.n_cameras; i++) {
            const lfr_camera_status *c = &rs.cameras[i];
            fprintf(stderr,
                    "camera %s: %s; %lld frames (%.1f/s), %lld dropped, %lld reconnects, %lld"
                    " faces seen, %lld quality rejects, %lld alerts%s\n",
                    c->name, c->reason[0] ? c->reason : "ended", (long long)c->frames,
                    c->wall_s > 0 ? c->frames / c->wall_s : 0.0, (long long)c->dropped,
                    (long long)c->reconnects, (long long)c->faces_seen,
                    (long long)c->quality_rejects, (long long)c->alerts,
                    c->alerts_lost ? " (and alerts lost: see above)" : "");
        }
        if (stats_path && write_stats(stats_path, &rs)) rc = 1;
        if (rs.status || rs.alerts_lost) rc = 1;
    }
    lfr_supervisor_close(sup);
    lfr_event_sink_stats ss;
    lfr_event_sink_close(file_sink, 5000, &ss);
    if (file_sink && (ss.failed || ss.lost))
        rc = fail("%s: %llu events not written, %llu lost", events, (unsigned long long)ss.failed,
                  (unsigned long long)ss.lost);
    lfr_event_sink_close(hook, 10000, NULL);
    lfr_events_close(bus);
    if (ev && ev != stdout && fclose(ev)) rc = fail("%s: write failed", events);
    lfr_engine_close(eng);
    lfr_store_close(st);
    return rc;
}
