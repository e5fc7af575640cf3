/*
 * bench/engine: speed of the face engine against TFLite's own interpreter
 * (the peer, bench/peer/peer.mjs, run in the same invocation on the same
 * frame), single-threaded and with 2 threads, and the peak memory of
 * `lfr compare`.
 *
 *   build/bench_engine [--runs N] [--no-peer] [--lfr build/lfr]
 *
 * Embedding is timed as MobileFaceNet inference on a batch of 2 aligned
 * faces (what the peer times) and as the whole lfr_session_embed call
 * (alignment warp + inference + L2 normalisation). Detection is timed per
 * 640x480 frame: letterbox + inference + decoding + NMS on the whole frame
 * (what the peer does), and with the default passes (frame, zoom-out and
 * tiles: 6 detector runs at 640x480). Medians of N runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "face/face.h"
#include "image/image.h"
#include "bench.h"
#include "lfr/lfr.h"

typedef struct result {
    double embed_infer, embed_call, detect_frame, detect_tiled;
} result;

static int run_ours(const char *models, int threads, int runs, const lfr_image *frame, result *r)
{
    lfr_engine_config cfg = lfr_engine_config_default();
    cfg.model_dir = models;
    lfr_engine *e, *e_tiled;
    lfr_session *s, *st;
    if (lfr_engine_open(&cfg, &e_tiled) != LFR_OK) return fprintf(stderr, "%s\n", lfr_errmsg()), 1;
    cfg.tile = 0;
    cfg.zoom_out = 0; /* one pass over the letterboxed frame, as the peer does */
    if (lfr_engine_open(&cfg, &e) != LFR_OK) return fprintf(stderr, "%s\n", lfr_errmsg()), 1;
    if (lfr_session_open(e, threads, &s) != LFR_OK || lfr_session_open(e_tiled, threads, &st))
        return fprintf(stderr, "%s\n", lfr_errmsg()), 1;
    double *t = malloc((size_t)runs * sizeof *t);
    lfr_face faces[64];
    int n = 0;
    /* Faces to embed: those found in the frame, else a plausible one. */
    lfr_session_detect(s, frame, faces, 64, &n);
    if (n < 2) {
        for (int i = n; i < 2; i++) {
            lfr_face f = {
                {200, 150, 120, 120}, {{230, 190}, {290, 190}, {260, 220}, {260, 250}}, 1};
            faces[i] = f;
        }
        n = 2;
    }
    float tpl[2 * LFR_TEMPLATE_DIM];
    for (int i = 0; i < 5; i++)
        lfr__xnn_run(s->emb);
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        lfr__xnn_run(s->emb);
        t[i] = (now_ms() - t0) / 2;
    }
    r->embed_infer = median(t, runs);
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        lfr_session_embed(s, frame, faces, 2, tpl);
        t[i] = (now_ms() - t0) / 2;
    }
    r->embed_call = median(t, runs);
    for (int i = 0; i < 5; i++)
        lfr_session_detect(s, frame, faces, 64, &n);
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        lfr_session_detect(s, frame, faces, 64, &n);
        t[i] = now_ms() - t0;
    }
    r->detect_frame = median(t, runs);
    for (int i = 0; i < 3; i++)
        lfr_session_detect(st, frame, faces, 64, &n);
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        lfr_session_detect(st, frame, faces, 64, &n);
        t[i] = now_ms() - t0;
    }
    r->detect_tiled = median(t, runs);
    free(t);
    lfr_session_close(s);
    lfr_session_close(st);
    lfr_engine_close(e);
    lfr_engine_close(e_tiled);
    return 0;
}

static int run_peer(const char *models, const char *rgb, int w, int h, int threads, int runs,
                    result *r)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "node bench/peer/peer.mjs --models '%s' --rgb '%s' --width %d --height %d "
             "--threads %d --runs %d 2>/dev/null",
             models, rgb, w, h, threads, runs);
    FILE *p = popen(cmd, "r");
    if (!p) return 1;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    if (pclose(p) != 0 || n == 0) return 1;
    char k[64];
    snprintf(k, sizeof k, "embed_ms_per_face_t%d", threads);
    r->embed_infer = r->embed_call = json_number(buf, NULL, k);
    snprintf(k, sizeof k, "detect_ms_per_frame_t%d", threads);
    r->detect_frame = json_number(buf, NULL, k);
    r->detect_tiled = NAN;
    return isnan(r->embed_infer) || isnan(r->detect_frame);
}

static long peak_rss_kb(const char *lfr, const char *a, const char *b, const char *models)
{
    fflush(stdout); /* the child must not inherit unwritten output */
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execl(lfr, lfr, "compare", a, b, "--models", models, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    int runs = 30, peer = 1;
    const char *lfr = "build/lfr";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-peer"))
            peer = 0;
        else if (!strcmp(argv[i], "--lfr") && i + 1 < argc)
            lfr = argv[++i];
        else
            return fprintf(stderr, "usage: bench_engine [--runs N] [--no-peer] [--lfr PATH]\n"), 2;
    }
    if (runs < 3) runs = 3;
    const char *models = getenv("LFR_MODELS") ? getenv("LFR_MODELS") : "models";
    const char *data = getenv("LFR_DATA") ? getenv("LFR_DATA") : "../shared/data";

    /* The frame: two_people.jpg scaled to 640x480, else a synthetic one. */
    lfr_image frame, src;
    lfr_image_alloc(640, 480, &frame);
    char path[1024], path2[1024];
    snprintf(path, sizeof path, "%s/stills/two_people.jpg", data);
    const char *frame_desc = "two_people.jpg scaled to 640x480";
    if (lfr_image_load(path, 0, &src) == LFR_OK) {
        lfr__resize_bilinear(&src, &frame);
        lfr_image_free(&src);
    } else {
        frame_desc = "synthetic 640x480";
        for (size_t i = 0; i < 640 * 480 * 3; i++)
            frame.data[i] = (uint8_t)((i * 7) ^ (i >> 9));
    }
    char rgb[] = "/tmp/lfr-bench-frame-XXXXXX";
    int fd = mkstemp(rgb);
    if (fd < 0 || write(fd, frame.data, 640 * 480 * 3) != 640 * 480 * 3) return 1;
    close(fd);

    printf("bench/engine: %s, %d runs, medians (ms)\n\n", frame_desc, runs);
    printf("%-34s %10s %10s %10s %10s\n", "", "openlfr 1t", "peer 1t", "openlfr 2t", "peer 2t");
    result ours[2], theirs[2];
    int have_peer[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        if (run_ours(models, t + 1, runs, &frame, &ours[t])) return 1;
        if (peer) have_peer[t] = run_peer(models, rgb, 640, 480, t + 1, runs, &theirs[t]) == 0;
    }
    unlink(rgb);
#define ROW(label, field)                                                                          \
    printf("%-34s %10.2f %10.2f %10.2f %10.2f\n", label, ours[0].field,                            \
           have_peer[0] ? theirs[0].field : NAN, ours[1].field,                                    \
           have_peer[1] ? theirs[1].field : NAN)
    ROW("embed, inference, per face", embed_infer);
    ROW("embed, align+infer+norm, per face", embed_call);
    ROW("detect, 640x480 frame, one pass", detect_frame);
    printf("%-34s %10.2f %10s %10.2f %10s\n", "detect, 640x480 frame, tiled", ours[0].detect_tiled,
           "-", ours[1].detect_tiled, "-");
    printf("\nratios (peer time / openlfr time; > 1 means openlfr is faster)\n");
    for (int t = 0; t < 2; t++) {
        if (!have_peer[t]) {
            printf("  %d thread%s: peer not run (install it: sh scripts/oracle/install.sh)\n",
                   t + 1, t ? "s" : "");
            continue;
        }
        printf("  %d thread%s: embed inference %.2fx, embed call %.2fx, detect frame %.2fx\n",
               t + 1, t ? "s" : "", theirs[t].embed_infer / ours[t].embed_infer,
               theirs[t].embed_infer / ours[t].embed_call,
               theirs[t].detect_frame / ours[t].detect_frame);
    }
    snprintf(path, sizeof path, "%s/stills/obama.jpg", data);
    snprintf(path2, sizeof path2, "%s/stills/biden.jpg", data);
    long kb = peak_rss_kb(lfr, path, path2, models);
    if (kb > 0)
        printf("\npeak memory of `lfr compare obama.jpg biden.jpg`: %.1f MiB (max RSS)\n",
               (double)kb / 1024);
    else
        printf("\npeak memory of lfr compare: not measured (%s or the stills missing)\n", lfr);
    lfr_image_free(&frame);
    return 0;
}
