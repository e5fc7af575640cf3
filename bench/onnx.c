/*
 * bench/onnx: speed of openlfr's executor on the raw ONNX models against
 * onnxruntime's own times in the same run (bench/peer/onnx_peer.mjs, run
 * between our measurements of each case), on 1 and 2 threads:
 *
 *   EdgeFace XS and XXS, per face (batch 1), and per face in a batch of 8;
 *   YuNet-n and YuNet-s per 640 x 480 and per 1920 x 1088 frame.
 *
 *   build/bench_onnx [--runs N] [--no-peer] [--only SUBSTRING]
 *
 * Only the network is timed (no preprocessing or decoding), on a fixed
 * input. Medians and minima of N runs; the ratio is onnxruntime's median
 * over ours (> 1: openlfr faster), against onnxruntime as shipped
 * ("default": EdgeFace's int8 weights computed by MatMulNBits with int8
 * activations) and against onnxruntime doing the same float32 arithmetic
 * as openlfr ("fp32"). Where ours is slower than the default, the table
 * after the results says where our time goes: every operator timed on its
 * own (one XNNPACK runtime per operator), summed by operator type.
 * Models from $LFR_MODELS (default models/).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "lfr/lfr.h"
#include "nn/nn.h"

typedef struct timing {
    double median, min;
} timing;

static timing stats(double *t, int n)
{
    timing r = {median(t, n), t[0]}; /* median sorts t */
    return r;
}

typedef struct bcase {
    const char *label, *file;
    int n, h, w;
} bcase;

static const bcase CASES[] = {
    {"EdgeFace XS, 1 face", "edgeface_xs_q.onnx", 1, 112, 112},
    {"EdgeFace XS, batch of 8", "edgeface_xs_q.onnx", 8, 112, 112},
    {"EdgeFace XXS, 1 face", "edgeface_xxs_q.onnx", 1, 112, 112},
    {"EdgeFace XXS, batch of 8", "edgeface_xxs_q.onnx", 8, 112, 112},
    {"YuNet-n, 640x480", "yunet_n_dynamic.onnx", 1, 480, 640},
    {"YuNet-s, 640x480", "yunet_s_dynamic.onnx", 1, 480, 640},
    {"YuNet-n, 1920x1088", "yunet_n_dynamic.onnx", 1, 1088, 1920},
    {"YuNet-s, 1920x1088", "yunet_s_dynamic.onnx", 1, 1088, 1920},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static void fill(lfr__xnn *x, const lfr__graph *g)
{
    float *in = lfr__xnn_input(x, 0);
    size_t n = lfr__graph_numel(g, g->inputs[0], lfr__graph_batch(g));
    for (size_t i = 0; i < n; i++)
        in[i] = (float)((i * 7) % 255);
}

static int ours(const lfr__graph *g, int threads, int runs, timing *out)
{
    void *pool;
    lfr__xnn *x;
    if (lfr__xnn_pool_create(threads, &pool) != LFR_OK) return 1;
    if (lfr__xnn_create(g, lfr__graph_batch(g), pool, &x) != LFR_OK) {
        lfr__xnn_pool_free(pool);
        return 1;
    }
    fill(x, g);
    for (int i = 0; i < 3; i++)
        lfr__xnn_run(x);
    double *t = malloc((size_t)runs * sizeof *t);
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        lfr__xnn_run(x);
        t[i] = now_ms() - t0;
    }
    *out = stats(t, runs);
    free(t);
    lfr__xnn_free(x);
    lfr__xnn_pool_free(pool);
    return 0;
}

static int peer(const char *path, const bcase *c, int threads, int runs, timing *dflt, timing *fp32)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "node bench/peer/onnx_peer.mjs --model '%s' --shape %d,3,%d,%d --threads %d "
             "--runs %d 2>/dev/null",
             path, c->n, c->h, c->w, threads, runs);
    FILE *p = popen(cmd, "r");
    if (!p) return 1;
    static char buf[1 << 14];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    if (pclose(p) != 0 || n == 0) return 1;
    dflt->median = json_number(buf, "default", "median_ms");
    dflt->min = json_number(buf, "default", "min_ms");
    fp32->median = json_number(buf, "exact", "median_ms");
    fp32->min = json_number(buf, "exact", "min_ms");
    return isnan(dflt->median) || isnan(fp32->median);
}

/* Our time by operator type (each operator a step of its own). */
static void breakdown(const lfr__graph *g)
{
    lfr__xnn *x;
    if (lfr__xnn_create_split(g, lfr__graph_batch(g), NULL, &x) != LFR_OK) return;
    fill(x, g);
    enum { CAP = 4096 };
    static double ms[CAP], sum[CAP];
    static const char *names[CAP], *kinds[CAP];
    int n_kinds = 0, reps = 5;
    double total = 0;
    lfr__xnn_run(x);
    for (int r = 0; r < reps; r++) {
        int n = lfr__xnn_profile(x, ms, names, CAP);
        for (int i = 0; i < n; i++) {
            int k = 0;
            while (k < n_kinds && strcmp(kinds[k], names[i]) != 0)
                k++;
            if (k == n_kinds) {
                kinds[n_kinds] = names[i];
                sum[n_kinds++] = 0;
            }
            sum[k] += ms[i] / reps;
            total += ms[i] / reps;
        }
    }
    for (int i = 0; i < n_kinds; i++) /* largest first */
        for (int j = i + 1; j < n_kinds; j++)
            if (sum[j] > sum[i]) {
                double t = sum[i];
                sum[i] = sum[j];
                sum[j] = t;
                const char *s = kinds[i];
                kinds[i] = kinds[j];
                kinds[j] = s;
            }
    printf("    operators timed one by one, %.2f ms in all:", total);
    for (int i = 0; i < n_kinds && i < 8; i++)
        printf("%s %s %.2f ms (%.0f%%)", i ? "," : "", kinds[i], sum[i], 100 * sum[i] / total);
    printf("\n");
    lfr__xnn_free(x);
}

int main(int argc, char **argv)
{
    int runs = 30, use_peer = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-peer"))
            use_peer = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else
            return fprintf(stderr, "usage: bench_onnx [--runs N] [--no-peer] [--only TEXT]\n"), 2;
    }
    if (runs < 3) runs = 3;
    const char *models = getenv("LFR_MODELS") ? getenv("LFR_MODELS") : "models";
    printf("bench/onnx: raw networks, %d runs, median / min (ms); onnxruntime-node@1.30.0 as "
           "shipped (default) and in float32 (fp32)\n\n",
           runs);
    printf("%-26s %3s %15s %15s %15s %8s %8s\n", "", "thr", "openlfr", "ort default", "ort fp32",
           "vs dflt", "vs fp32");
    int slower[N_CASES] = {0};
    for (int k = 0; k < N_CASES; k++) {
        const bcase *c = &CASES[k];
        if (only && !strstr(c->label, only)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", models, c->file);
        int shape[4] = {c->n, 3, c->h, c->w};
        lfr__graph *g;
        if (lfr__graph_load_file(path, 4, shape, &g) != LFR_OK) {
            printf("%-26s skipped: %s\n", c->label, lfr_errmsg());
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            timing o, d = {NAN, NAN}, f = {NAN, NAN};
            if (ours(g, threads, runs, &o)) {
                printf("%-26s %3d failed: %s\n", c->label, threads, lfr_errmsg());
                continue;
            }
            int have = use_peer && peer(path, c, threads, runs, &d, &f) == 0;
            double per = 1.0 / c->n; /* per face for batches */
            printf("%-26s %3d %7.2f /%6.2f %7.2f /%6.2f %7.2f /%6.2f %7.2fx %7.2fx\n", c->label,
                   threads, o.median * per, o.min * per, d.median * per, d.min * per,
                   f.median * per, f.min * per, have ? d.median / o.median : NAN,
                   have ? f.median / o.median : NAN);
            if (have && d.median < o.median) slower[k] = 1;
        }
        fflush(stdout);
        lfr__graph_free(g);
    }
    printf("\n(EdgeFace rows are per face; ratio = onnxruntime median / openlfr median)\n");
    int any = 0;
    for (int k = 0; k < N_CASES; k++) {
        const bcase *c = &CASES[k];
        if ((!slower[k] && use_peer) || (only && !strstr(c->label, only))) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", models, c->file);
        int shape[4] = {c->n, 3, c->h, c->w};
        lfr__graph *g;
        if (lfr__graph_load_file(path, 4, shape, &g) != LFR_OK) continue;
        if (!any++) printf("\nwhere openlfr's time goes (1 thread):\n");
        printf("  %s\n", c->label);
        breakdown(g);
        lfr__graph_free(g);
    }
    return 0;
}
