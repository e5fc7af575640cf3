/*
 * bench_stop: how long a stop takes to reach every camera of a run.
 *
 *   bench_stop [ROUNDS]       (default 20; LFR_DATA, LFR_MODELS as for tests)
 *
 * Each round makes a deployment with three cameras: the shared clip played
 * in real time and looped (a file), the clip served over HTTP by a local
 * ffmpeg in real time (a live stream), and an RTSP address nobody listens
 * on (a dead source in back-off); starts it through the supervisor, waits
 * until the file and the stream have delivered frames and the dead source
 * has been retried for 1.5 s, stops it (lfr_supervisor_stop), and reads
 * each camera's halt time: from the stop request to its worker stopped.
 * Prints p50, p90 and max per kind of camera and over all, the time of the
 * whole stop call (halt, counters, the store's stop), and the ratio of the
 * worst halt to the 1 s the service promises. JSON to $LFR_BENCH_DIR/stop.json
 * when set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livetest.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    if (!n) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    int k = (int)(p * n + 0.999999) - 1;
    return v[k < 0 ? 0 : k];
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
    if (rounds < 1 || rounds > 1000) rounds = 20;
    const char *data = getenv("LFR_DATA") ? getenv("LFR_DATA") : "../shared/data";
    const char *models = getenv("LFR_MODELS") ? getenv("LFR_MODELS") : "models";
    char clip[1100];
    snprintf(clip, sizeof clip, "%s/video/short_hamilton_clip.mp4", data);
    if (access(clip, R_OK) || system("ffmpeg -version >/dev/null 2>&1")) {
        fprintf(stderr, "bench_stop: needs %s and ffmpeg\n", clip);
        return 1;
    }
    lfr_engine_config ec = lfr_engine_config_default();
    ec.model_dir = models;
    lfr_engine *eng;
    if (lfr_engine_open(&ec, &eng)) return live_fail("engine");
    live_home h;
    if (live_home_make(&h, eng, data)) return 1;
    FILE *log = fopen("/dev/null", "w");
    lfr_supervisor_config sc = lfr_supervisor_config_default();
    sc.home = h.path;
    sc.engine = eng;
    sc.log = log;
    lfr_supervisor *sup;
    if (lfr_supervisor_open(&sc, &sup)) return live_fail("supervisor");
    const char *kinds[] = {"file", "dead", "http"};
    double *halt[3], *call = calloc((size_t)rounds, sizeof *call);
    double all[3 * 1000];
    int n_all = 0;
    for (int k = 0; k < 3; k++)
        halt[k] = calloc((size_t)rounds, sizeof **halt);
    for (int r = 0; r < rounds; r++) {
        int port = live_port();
        pid_t server = live_serve(clip, port);
        char file[1200], http[100], dead[100];
        snprintf(file, sizeof file, "file=%s", clip);
        snprintf(dead, sizeof dead, "dead=rtsp://127.0.0.1:%d/x", live_port());
        snprintf(http, sizeof http, "http=http://127.0.0.1:%d/live.ts", port);
        const char *cams[] = {file, dead, http};
        int64_t id = live_deployment(&h, cams, 3, -60, 3600, 0.6);
        live_sleep(0.5);
        lfr_run_options o = {.realtime = 1, .loop = 1};
        if (!id || lfr_supervisor_start(sup, &h.op, id, &o)) return live_fail("start");
        lfr_run_status st;
        double t0 = live_now_s();
        do {
            live_sleep(0.1);
            lfr_supervisor_status(sup, id, &st);
        } while ((st.cameras[0].frames < 10 || st.cameras[2].frames < 10) &&
                 live_now_s() - t0 < 30);
        live_sleep(1.5);
        double s0 = live_now_s();
        if (lfr_supervisor_stop(sup, h.st, &h.op, id)) return live_fail("stop");
        call[r] = (live_now_s() - s0) * 1000;
        lfr_supervisor_status(sup, id, &st);
        printf("round %2d:", r + 1);
        for (int k = 0; k < 3; k++) {
            halt[k][r] = st.cameras[k].halt_ms;
            all[n_all++] = st.cameras[k].halt_ms;
            printf(" %s %4.0f ms (%lld frames)", kinds[k], st.cameras[k].halt_ms,
                   (long long)st.cameras[k].frames);
        }
        printf("; stop call %.0f ms\n", call[r]);
        fflush(stdout);
        live_kill(server);
    }
    printf("\n%-6s %7s %7s %7s   (ms from the stop request to the camera's worker stopped, "
           "%d stops)\n",
           "camera", "p50", "p90", "max", rounds);
    FILE *js = NULL;
    const char *dir = getenv("LFR_BENCH_DIR");
    if (dir) {
        char path[1100];
        snprintf(path, sizeof path, "%s/stop.json", dir);
        js = fopen(path, "w");
    }
    if (js) fprintf(js, "{\"rounds\": %d", rounds);
    for (int k = 0; k < 3; k++) {
        double p50 = pct(halt[k], rounds, 0.5), p90 = pct(halt[k], rounds, 0.9),
               mx = pct(halt[k], rounds, 1.0);
        printf("%-6s %7.0f %7.0f %7.0f\n", kinds[k], p50, p90, mx);
        if (js)
            fprintf(js, ", \"%s\": {\"p50\": %.1f, \"p90\": %.1f, \"max\": %.1f}", kinds[k], p50,
                    p90, mx);
    }
    double p50 = pct(all, n_all, 0.5), mx = pct(all, n_all, 1.0);
    printf("%-6s %7.0f %7.0f %7.0f\n", "all", p50, pct(all, n_all, 0.9), mx);
    printf("stop call (halt, counters, the store's stop): p50 %.0f ms, max %.0f ms\n",
           pct(call, rounds, 0.5), pct(call, rounds, 1.0));
    printf("worst halt / 1 s promised: %.2f\n", mx / 1000.0);
    if (js) {
        fprintf(js,
                ", \"all\": {\"p50\": %.1f, \"max\": %.1f}, \"call\": {\"p50\": %.1f, \"max\": "
                "%.1f}}\n",
                p50, mx, pct(call, rounds, 0.5), pct(call, rounds, 1.0));
        fclose(js);
    }
    lfr_supervisor_close(sup);
    lfr_store_close(h.st);
    lfr_engine_close(eng);
    fclose(log);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", h.dir);
    return system(cmd) ? 1 : 0;
}
