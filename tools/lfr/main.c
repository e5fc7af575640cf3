/*
 * The `lfr` command. Each subcommand is a function cmd_<name>; all of them
 * use the public API of include/lfr/lfr.h, except `eval`, which also uses
 * the internal evaluation module until that has a public interface.
 * Errors are one line on stderr, "lfr: <what>", and a non-zero exit.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "eval/cache.h"
#include "eval/eval.h"
#include "eval/manifest.h"
#include "evalcli.h"
#include "lfr/lfr.h"
#include "lfr/store.h"
#include "util/util.h"

#include <sodium.h>

#define MAX_FACES 256

/* eval: detection threshold of the second try on an image with no face. */
#define EVAL_FALLBACK_SCORE 0.2

static const char usage_text[] =
    "usage: lfr <command> [options]\n"
    "\n"
    "commands:\n"
    "  detect IMAGE [--json]          faces with boxes, keypoints and scores\n"
    "  embed IMAGE [--json]           one 192-d template per face\n"
    "  compare IMAGE_A IMAGE_B        cosine similarity of the largest faces, and\n"
    "                                 same/different at the default threshold\n"
    "  eval lfw --data DIR [--pairs FILE] [--json FILE] [--scores FILE]\n"
    "                                 LFW View 2 10-fold accuracy, AUC, TAR at FAR\n"
    "  eval identify lfw|MANIFEST --data DIR [--json FILE] [--people N] [--manifest FILE]\n"
    "                                 open-set 1:N on LFW or a manifest: FNIR at FPIR,\n"
    "                                 rank-1, CMC, projection; per group FNIR/FPIR with\n"
    "                                 the manifest's labels (at --diff-threshold X)\n"
    "  eval manifest lfw --data DIR [--labels DIR]\n"
    "                                 print a manifest (TSV: path, identity, sha256, sex,\n"
    "                                 race) of LFW and the label files\n"
    "  eval verify MANIFEST --data DIR [--pairs FILE | --impostors N]\n"
    "                                 1:1 on a manifest: ROC/DET, EER, TAR at FAR, FMR and\n"
    "                                 FNMR at each --threshold X; per group FMR/FNMR at\n"
    "                                 --diff-threshold X (default: overall FMR 1e-3) with\n"
    "                                 ratios to --reference COL=VALUE and bootstrap CIs\n"
    "                                 (--bootstrap N, --seed N, --group COL,\n"
    "                                 --impostors-per-group N, --genuine-per-id N)\n"
    "  eval options: --html FILE (report), --cache FILE (templates, mode 0600),\n"
    "                --home DIR --user NAME (record the run), --dataset NAME\n"
    "  version                        versions of the program, models and XNNPACK\n"
    "\n"
    "options for every command:\n"
    "  --models DIR          model folder (default $LFR_MODELS, else ./models)\n"
    "  --detector full|short BlazeFace full range (default) or short range\n"
    "  --threads N           threads (default 1; eval: workers, default 2)\n"
    "  --min-score X         detection threshold (default 0.5)\n"
    "  --no-tiles            detect on the letterboxed frame only\n"
    "  --max-pixels N        refuse larger images (default 100000000)\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(lfr_cli_records_usage, f);
    fputs(lfr_cli_audit_usage, f);
}

int lfr_cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("lfr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

#define fail lfr_cli_fail

/* ---- Options ------------------------------------------------------------------ */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* `--json` is a flag for detect and embed, and takes a FILE for eval. */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg = lfr_engine_config_default();
    o->threads = 0;
    o->seed = 1;
    o->bootstrap = 1000;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
#define NEED_VALUE                                                                                 \
    do {                                                                                           \
        if (!v) return fail("%s needs a value", a), 0;                                             \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--json") && strcmp(cmd, "eval")) {
            o->json = 1;
        } else if (!strcmp(a, "--json")) {
            NEED_VALUE;
            o->json_file = v;
        } else if (!strcmp(a, "--models")) {
            NEED_VALUE;
            o->cfg.model_dir = v;
        } else if (!strcmp(a, "--detector")) {
            NEED_VALUE;
            if (!strcmp(v, "full"))
                o->cfg.detector = LFR_DETECTOR_FULL_RANGE;
            else if (!strcmp(v, "short"))
                o->cfg.detector = LFR_DETECTOR_SHORT_RANGE;
            else
                return fail("--detector must be full or short, not '%s'", v), 0;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE;
            if (!parse_long(v, 1, 64, &n)) return fail("--threads must be 1..64"), 0;
            o->threads = (int)n;
        } else if (!strcmp(a, "--min-score")) {
            NEED_VALUE;
            char *end;
            o->cfg.min_score = strtof(v, &end);
            if (*end || !(o->cfg.min_score > 0 && o->cfg.min_score < 1))
                return fail("--min-score must be in (0, 1)"), 0;
        } else if (!strcmp(a, "--no-tiles")) {
            o->cfg.tile = 0;
        } else if (!strcmp(a, "--max-pixels")) {
            NEED_VALUE;
            if (!parse_long(v, 1, 2000000000L, &n)) return fail("--max-pixels out of range"), 0;
            o->cfg.max_pixels = (uint64_t)n;
        } else if (!strcmp(a, "--data")) {
            NEED_VALUE;
            o->data = v;
        } else if (!strcmp(a, "--pairs")) {
            NEED_VALUE;
            o->pairs = v;
        } else if (!strcmp(a, "--scores")) {
            NEED_VALUE;
            o->scores_file = v;
        } else if (!strcmp(a, "--people")) {
            NEED_VALUE;
            if (!parse_long(v, 1, 1000000, &n)) return fail("--people must be a positive count"), 0;
            o->people = n;
        } else if (!strcmp(a, "--labels")) {
            NEED_VALUE;
            o->labels = v;
        } else if (!strcmp(a, "--impostors")) {
            NEED_VALUE;
            if (!parse_long(v, 0, 1000000000L, &n)) return fail("--impostors must be a count"), 0;
            o->impostors = n;
            o->impostors_set = 1;
        } else if (!strcmp(a, "--impostors-per-group")) {
            NEED_VALUE;
            if (!parse_long(v, 0, 100000000L, &n))
                return fail("--impostors-per-group must be a count"), 0;
            o->impostors_per_group = n;
        } else if (!strcmp(a, "--genuine-per-id")) {
            NEED_VALUE;
            if (!parse_long(v, 0, 1000000000L, &n))
                return fail("--genuine-per-id must be a count (0: all)"), 0;
            o->genuine_per_id = n;
        } else if (!strcmp(a, "--seed")) {
            NEED_VALUE;
            if (!parse_long(v, 0, 2147483647L, &n)) return fail("--seed must be 0..2^31-1"), 0;
            o->seed = (uint64_t)n;
        } else if (!strcmp(a, "--bootstrap")) {
            NEED_VALUE;
            if (!parse_long(v, 0, 100000, &n)) return fail("--bootstrap must be 0..100000"), 0;
            o->bootstrap = (int)n;
        } else if (!strcmp(a, "--threshold") || !strcmp(a, "--diff-threshold")) {
            NEED_VALUE;
            char *end;
            double t = strtod(v, &end);
            if (*end || end == v || !isfinite(t)) return fail("%s needs a number", a), 0;
            if (!strcmp(a, "--diff-threshold")) {
                o->diff_threshold = t;
                o->diff_threshold_set = 1;
            } else if (o->n_thresholds < EVAL_MAX_THRESHOLDS) {
                o->thresholds[o->n_thresholds++] = t;
            } else {
                return fail("at most %d --threshold values", EVAL_MAX_THRESHOLDS), 0;
            }
        } else if (!strcmp(a, "--group")) {
            NEED_VALUE;
            if (o->n_groups >= EVAL_MAX_GROUP_COLUMNS) return fail("too many --group columns"), 0;
            o->groups[o->n_groups++] = v;
        } else if (!strcmp(a, "--reference")) {
            NEED_VALUE;
            if (o->n_references >= EVAL_MAX_GROUP_COLUMNS) return fail("too many --reference"), 0;
            if (!strchr(v, '=')) return fail("--reference takes COLUMN=VALUE, e.g. sex=male"), 0;
            o->references[o->n_references++] = v;
        } else if (!strcmp(a, "--html")) {
            NEED_VALUE;
            o->html_file = v;
        } else if (!strcmp(a, "--home")) {
            NEED_VALUE;
            o->home = v;
        } else if (!strcmp(a, "--user")) {
            NEED_VALUE;
            o->user = v;
        } else if (!strcmp(a, "--cache")) {
            NEED_VALUE;
            o->cache_file = v;
        } else if (!strcmp(a, "--manifest")) {
            NEED_VALUE;
            o->manifest = v;
        } else if (!strcmp(a, "--dataset")) {
            NEED_VALUE;
            o->dataset = v;
        } else if (a[0] == '-' && a[1] == '-') {
            return fail("unknown option '%s' (see lfr help)", a), 0;
        } else if (o->n_pos < 4) {
            o->pos[o->n_pos++] = a;
        } else {
            return fail("too many arguments"), 0;
        }
#undef NEED_VALUE
    }
    return 1;
}

static int open_engine(opts *o, lfr_engine **e, lfr_session **s)
{
    *e = NULL;
    *s = NULL;
    if (lfr_engine_open(&o->cfg, e) != LFR_OK) return fail("%s", lfr_errmsg());
    if (lfr_session_open(*e, o->threads > 0 ? o->threads : 1, s) != LFR_OK) {
        fail("%s", lfr_errmsg());
        lfr_engine_close(*e);
        *e = NULL;
        return 1;
    }
    return 0;
}

/* ---- JSON output ---------------------------------------------------------------- */

void lfr_cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void lfr_cli_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

#define json_str lfr_cli_json_str
#define json_num lfr_cli_json_num

/* ---- detect / embed / compare ------------------------------------------------------ */

static int load_and_detect(opts *o, lfr_session *s, const char *path, lfr_image *img,
                           lfr_face *faces, int *n)
{
    if (lfr_image_load(path, o->cfg.max_pixels, img) != LFR_OK) return fail("%s", lfr_errmsg());
    if (lfr_session_detect(s, img, faces, MAX_FACES, n) != LFR_OK) {
        fail("%s: %s", path, lfr_errmsg());
        lfr_image_free(img);
        return 1;
    }
    if (*n > MAX_FACES) *n = MAX_FACES;
    return 0;
}

static void print_face_json(FILE *f, const lfr_face *fc)
{
    fprintf(f, "{\"score\": %.4f, \"box\": [%.2f, %.2f, %.2f, %.2f], \"keypoints\": [", fc->score,
            fc->box.x, fc->box.y, fc->box.w, fc->box.h);
    for (int k = 0; k < LFR_N_KEYPOINTS; k++)
        fprintf(f, "%s[%.2f, %.2f]", k ? ", " : "", fc->kp[k].x, fc->kp[k].y);
    fputs("]", f);
}

static int cmd_detect_embed(opts *o, int embed)
{
    if (o->n_pos != 1) return fail("%s needs one IMAGE", embed ? "embed" : "detect");
    lfr_engine *e;
    lfr_session *s;
    if (open_engine(o, &e, &s)) return 1;
    lfr_image img;
    static lfr_face faces[MAX_FACES];
    static float tpl[MAX_FACES * LFR_TEMPLATE_DIM];
    int n, rc = 0;
    if (load_and_detect(o, s, o->pos[0], &img, faces, &n)) {
        rc = 1;
        goto out;
    }
    if (embed && n > 0 && lfr_session_embed(s, &img, faces, n, tpl) != LFR_OK) {
        rc = fail("%s: %s", o->pos[0], lfr_errmsg());
        lfr_image_free(&img);
        goto out;
    }
    if (o->json) {
        printf("{\"image\": ");
        json_str(stdout, o->pos[0]);
        printf(", \"width\": %d, \"height\": %d, \"faces\": [", img.width, img.height);
        for (int i = 0; i < n; i++) {
            printf(i ? ",\n  " : "\n  ");
            print_face_json(stdout, &faces[i]);
            if (embed) {
                printf(", \"template\": [");
                for (int k = 0; k < LFR_TEMPLATE_DIM; k++)
                    printf("%s%.6f", k ? ", " : "", tpl[i * LFR_TEMPLATE_DIM + k]);
                printf("]");
            }
            printf("}");
        }
        printf("%s]}\n", n ? "\n" : "");
    } else {
        printf("%s: %dx%d, %d face%s\n", o->pos[0], img.width, img.height, n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++) {
            const lfr_face *f = &faces[i];
            printf("face %d: score %.3f box %.1f,%.1f %.1fx%.1f eyes (%.1f,%.1f) (%.1f,%.1f) "
                   "nose (%.1f,%.1f) mouth (%.1f,%.1f)\n",
                   i, f->score, f->box.x, f->box.y, f->box.w, f->box.h, f->kp[0].x, f->kp[0].y,
                   f->kp[1].x, f->kp[1].y, f->kp[2].x, f->kp[2].y, f->kp[3].x, f->kp[3].y);
            if (embed) {
                printf("  template:");
                for (int k = 0; k < LFR_TEMPLATE_DIM; k++)
                    printf(" %.5f", tpl[i * LFR_TEMPLATE_DIM + k]);
                printf("\n");
            }
        }
    }
    /* Templates of whoever was in the image are not left in memory. */
    memset(tpl, 0, sizeof tpl);
    lfr_image_free(&img);
out:
    lfr_session_close(s);
    lfr_engine_close(e);
    return rc;
}

static int largest_face(const lfr_face *f, int n)
{
    int best = -1;
    float area = -1;
    for (int i = 0; i < n; i++)
        if (f[i].box.w * f[i].box.h > area) {
            area = f[i].box.w * f[i].box.h;
            best = i;
        }
    return best;
}

static int cmd_compare(opts *o)
{
    if (o->n_pos != 2) return fail("compare needs IMAGE_A and IMAGE_B");
    lfr_engine *e;
    lfr_session *s;
    if (open_engine(o, &e, &s)) return 1;
    float tpl[2][LFR_TEMPLATE_DIM];
    static lfr_face faces[MAX_FACES];
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        lfr_image img;
        int n;
        if (load_and_detect(o, s, o->pos[k], &img, faces, &n)) {
            rc = 1;
            break;
        }
        int b = largest_face(faces, n);
        if (b < 0)
            rc = fail("%s: no face found", o->pos[k]);
        else if (lfr_session_embed(s, &img, &faces[b], 1, tpl[k]) != LFR_OK)
            rc = fail("%s: %s", o->pos[k], lfr_errmsg());
        lfr_image_free(&img);
    }
    if (!rc) {
        float sim = lfr_template_similarity(tpl[0], tpl[1]);
        printf("%.4f %s\n", sim, sim >= LFR_DEFAULT_THRESHOLD ? "same" : "different");
    }
    memset(tpl, 0, sizeof tpl);
    lfr_session_close(s);
    lfr_engine_close(e);
    return rc;
}

/* ---- eval lfw ------------------------------------------------------------------ */

/* LFW images are centred on the person they are labelled with: use the
 * face whose box centre is nearest the image centre. */
static int central_face(const lfr_face *f, int n, const lfr_image *img)
{
    int best = -1;
    float bd = 0;
    for (int i = 0; i < n; i++) {
        float dx = f[i].box.x + f[i].box.w / 2 - (float)img->width / 2;
        float dy = f[i].box.y + f[i].box.h / 2 - (float)img->height / 2;
        if (best < 0 || dx * dx + dy * dy < bd) {
            best = i;
            bd = dx * dx + dy * dy;
        }
    }
    return best;
}

/* The outcome of one image: found 1 (template written), 0 (no face) or 2
 * (unreadable), from the cache when it has the image, else computed (and
 * added to the cache). */
static void embed_one(eval_job *j, size_t i, lfr_session *s, lfr_session *s_low, lfr_face *faces,
                      char *path, size_t path_cap)
{
    float *tpl = j->tpl + i * LFR_TEMPLATE_DIM;
    snprintf(path, path_cap, "%s/%s", j->root, j->paths[i]);
    j->found[i] = 2;
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (lfr__read_file(path, 256u << 20, &bytes, &size) != LFR_OK) {
        pthread_mutex_lock(&j->lock);
        fprintf(stderr, "\nlfr: %s\n", lfr_errmsg());
        pthread_mutex_unlock(&j->lock);
        return;
    }
    uint8_t sha[32];
    crypto_hash_sha256(sha, bytes, size);
    if (j->expect_sha && j->expect_sha[i]) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, sha, sizeof sha);
        if (strcmp(hex, j->expect_sha[i])) {
            pthread_mutex_lock(&j->lock);
            snprintf(j->errmsg, sizeof j->errmsg,
                     "%.300s: the file's sha256 is not the manifest's: the data set has changed",
                     path);
            pthread_mutex_unlock(&j->lock);
            atomic_store(&j->error, 1);
            free(bytes);
            return;
        }
    }
    int status;
    if (j->cache && lfr__tplcache_get(j->cache, sha, &status, tpl)) {
        j->found[i] = (unsigned char)status;
        atomic_fetch_add(&j->cached, 1);
        free(bytes);
        return;
    }
    lfr_image img;
    if (lfr_image_decode(bytes, size, path, j->o->cfg.max_pixels, &img) == LFR_OK) {
        j->found[i] = 0;
        int n, rc = lfr_session_detect(s, &img, faces, 64, &n);
        if (rc == LFR_OK && n == 0) {
            rc = lfr_session_detect(s_low, &img, faces, 64, &n);
            if (rc == LFR_OK && n > 0) atomic_fetch_add(&j->low, 1);
        }
        if (rc == LFR_OK && n > 0) {
            int b = central_face(faces, n < 64 ? n : 64, &img);
            if (lfr_session_embed(s, &img, &faces[b], 1, tpl) == LFR_OK) j->found[i] = 1;
        }
        lfr_image_free(&img);
    } else {
        pthread_mutex_lock(&j->lock);
        fprintf(stderr, "\nlfr: %s\n", lfr_errmsg());
        pthread_mutex_unlock(&j->lock);
    }
    free(bytes);
    if (j->cache && lfr__tplcache_add(j->cache, sha, j->found[i], tpl) != LFR_OK) {
        pthread_mutex_lock(&j->lock);
        snprintf(j->errmsg, sizeof j->errmsg, "%s", lfr_errmsg());
        pthread_mutex_unlock(&j->lock);
        atomic_store(&j->error, 1);
    }
}

static void *eval_worker(void *arg)
{
    eval_job *j = arg;
    lfr_session *s, *s_low = NULL;
    if (lfr_session_open(j->eng, 1, &s) != LFR_OK ||
        lfr_session_open(j->eng_low, 1, &s_low) != LFR_OK) {
        pthread_mutex_lock(&j->lock);
        snprintf(j->errmsg, sizeof j->errmsg, "%s", lfr_errmsg());
        pthread_mutex_unlock(&j->lock);
        atomic_store(&j->error, 1);
        return NULL;
    }
    lfr_face faces[64];
    char path[4096];
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n_paths || atomic_load(&j->error)) break;
        embed_one(j, i, s, s_low, faces, path, sizeof path);
        atomic_fetch_add(&j->done, 1);
    }
    lfr_session_close(s);
    lfr_session_close(s_low);
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void progress(size_t done, size_t total, double t0)
{
    int width = 40, filled = total ? (int)(width * done / total) : width;
    double el = now_s() - t0, eta = done ? el * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu images, %.0f s, eta %.0f s ", filled,
            "########################################", width - filled, "", done, total, el, eta);
}

/* Detect and embed every image of paths[] (relative to root) on a pool of
 * worker threads sharing one engine, filling j->tpl and j->found; a
 * progress bar goes to stderr. The caller allocated j->tpl (n x dim) and
 * j->found (n) and zeroed the rest of *j. */
/* The cache key of a model configuration: everything that changes a
 * template (the model files, the detection settings, the program version). */
static void cache_key(const opts *o, lfr_engine *e, uint8_t key[32])
{
    char desc[512];
    snprintf(desc, sizeof desc,
             "openlfr %s|detector %s|embedder %s|kind %d|min_score %.6g|fallback %.6g|nms %.6g|"
             "tile %d|max_tiles %d|zoom_out %d|face central",
             LFR_VERSION, lfr_engine_model_sha256(e, "detector"),
             lfr_engine_model_sha256(e, "embedder"), (int)o->cfg.detector, (double)o->cfg.min_score,
             EVAL_FALLBACK_SCORE, (double)o->cfg.nms_iou, o->cfg.tile, o->cfg.max_tiles,
             o->cfg.zoom_out);
    crypto_hash_sha256(key, (const unsigned char *)desc, strlen(desc));
}

int lfr_cli_embed_paths(opts *o, const char *root, const char *const *paths, size_t n, eval_job *j,
                        double *secs)
{
    lfr_engine_config low = o->cfg;
    low.min_score = EVAL_FALLBACK_SCORE;
    lfr_engine *e = NULL, *e_low = NULL;
    int rc = 0;
    if (lfr_engine_open(&o->cfg, &e) != LFR_OK || lfr_engine_open(&low, &e_low) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    if (o->cache_file) {
        uint8_t key[32];
        size_t loaded, bad;
        cache_key(o, e, key);
        if (lfr__tplcache_open(o->cache_file, key, &j->cache, &loaded, &bad) != LFR_OK) {
            rc = fail("%s", lfr_errmsg());
            goto out;
        }
        fprintf(stderr, "template cache %s: %zu records for these models%s\n", o->cache_file,
                loaded, bad ? " (records cut short or corrupt were skipped)" : "");
    }
    j->eng_low = e_low;
    j->o = o;
    j->eng = e;
    j->paths = paths;
    j->n_paths = n;
    j->root = root;
    pthread_mutex_init(&j->lock, NULL);
    int nt = o->threads > 0 ? o->threads : 2;
    pthread_t th[64];
    int joined[64] = {0};
    double t0 = now_s();
    int started = 0;
    for (int i = 0; i < nt; i++)
        if (pthread_create(&th[i], NULL, eval_worker, j) == 0) started++;
    if (started == 0) {
        rc = fail("cannot start worker threads");
        goto out;
    }
    int tty = isatty(2);
    double last = t0;
    while (atomic_load(&j->done) < n && !atomic_load(&j->error)) {
        if (tty) {
            progress(atomic_load(&j->done), n, t0);
        } else if (now_s() - last >= 15) {
            /* Not a terminal (a log file): a line every 15 s. */
            last = now_s();
            fprintf(stderr, "lfr: %zu/%zu images (%zu from the cache), %.0f s\n",
                    (size_t)atomic_load(&j->done), n, (size_t)atomic_load(&j->cached), last - t0);
        }
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        int alive = 0;
        for (int i = 0; i < started; i++) {
            if (!joined[i]) joined[i] = pthread_tryjoin_np(th[i], NULL) == 0;
            alive += !joined[i];
        }
        if (!alive) break;
    }
    /* A thread joined by tryjoin must not be joined again. */
    for (int i = 0; i < started; i++)
        if (!joined[i]) pthread_join(th[i], NULL);
    *secs = now_s() - t0;
    progress(atomic_load(&j->done), n, t0);
    fputc('\n', stderr);
    pthread_mutex_destroy(&j->lock);
    if (atomic_load(&j->error)) rc = fail("%s", j->errmsg);
    /* The sha256 of the models go into reports: keep them. */
    snprintf(j->det_sha, sizeof j->det_sha, "%s", lfr_engine_model_sha256(e, "detector"));
    snprintf(j->emb_sha, sizeof j->emb_sha, "%s", lfr_engine_model_sha256(e, "embedder"));
    if (atomic_load(&j->cached))
        fprintf(stderr, "template cache: %zu of %zu images from the cache\n",
                (size_t)atomic_load(&j->cached), n);
out:
    if (j->cache && lfr__tplcache_close(j->cache) != LFR_OK && !rc) rc = fail("%s", lfr_errmsg());
    j->cache = NULL;
    lfr_engine_close(e);
    lfr_engine_close(e_low);
    return rc;
}

static int write_json(const char *file, const lfr__eval_summary *s,
                      const lfr__eval_rates *at_default, size_t n_images, size_t no_face,
                      size_t low, size_t unreadable, size_t n_missing_pairs, double secs,
                      const eval_job *j)
{
    FILE *f = fopen(file, "w");
    if (!f) return fail("%s: cannot write: %s", file, strerror(errno));
    fprintf(f, "{\n  \"protocol\": \"LFW pairs, %d-fold\",\n  \"pairs\": %zu,\n",
            s->has_kfold ? s->kfold.n_folds : 1, s->n);
    fprintf(f, "  \"accuracy\": ");
    json_num(f, s->has_kfold ? s->kfold.mean : NAN);
    fprintf(f, ",\n  \"default_threshold\": %.4f,\n  \"accuracy_at_default_threshold\": ",
            (double)LFR_DEFAULT_THRESHOLD);
    json_num(f, at_default->accuracy);
    fprintf(f, ",\n  \"best_accuracy\": ");
    json_num(f, s->best.accuracy);
    fprintf(f, ",\n  \"accuracy_std\": ");
    json_num(f, s->has_kfold ? s->kfold.std_pop : NAN);
    fprintf(f, ",\n  \"accuracy_std_sample\": ");
    json_num(f, s->has_kfold ? s->kfold.std : NAN);
    fprintf(f, ",\n  \"auc\": ");
    json_num(f, s->auc);
    const char *names[LFR__EVAL_N_FAR] = {"1e-2", "1e-3", "1e-4"};
    for (int k = 0; k < LFR__EVAL_N_FAR; k++) {
        fprintf(f, ",\n  \"tar_at_far_%s\": ", names[k]);
        json_num(f, s->tar[k].supported ? s->tar[k].tar : NAN);
        fprintf(f, ",\n  \"threshold_at_far_%s\": ", names[k]);
        json_num(f, s->tar[k].supported ? s->tar[k].threshold : NAN);
    }
    fprintf(f, ",\n  \"eer\": ");
    json_num(f, s->eer.eer);
    fprintf(f, ",\n  \"best_threshold\": ");
    json_num(f, s->best.threshold);
    fprintf(f, ",\n  \"fold_accuracy\": [");
    for (int k = 0; s->has_kfold && k < s->kfold.n_folds; k++) {
        fprintf(f, k ? ", " : "");
        json_num(f, s->kfold.accuracy[k]);
    }
    fprintf(f, "],\n  \"fold_threshold\": [");
    for (int k = 0; s->has_kfold && k < s->kfold.n_folds; k++) {
        fprintf(f, k ? ", " : "");
        json_num(f, s->kfold.threshold[k]);
    }
    fprintf(f, "],\n  \"images\": %zu,\n  \"no_face\": %zu,\n  \"unreadable\": %zu,\n", n_images,
            no_face, unreadable);
    fprintf(f, "  \"found_by_fallback\": %zu,\n  \"fallback_min_score\": %.2f,\n", low,
            EVAL_FALLBACK_SCORE);
    fprintf(f, "  \"pairs_missing_a_face\": %zu,\n  \"seconds\": %.1f,\n", n_missing_pairs, secs);
    fprintf(f, "  \"detector_sha256\": \"%s\",\n  \"embedder_sha256\": \"%s\",\n", j->det_sha,
            j->emb_sha);
    fprintf(f, "  \"version\": \"%s\"\n}\n", LFR_VERSION);
    if (fclose(f) != 0) return fail("%s: write failed: %s", file, strerror(errno));
    return 0;
}

static int cmd_eval_identify(opts *o);

static int cmd_eval(opts *o)
{
    if (o->n_pos >= 1 && !strcmp(o->pos[0], "identify")) return cmd_eval_identify(o);
    if (o->n_pos >= 1 && !strcmp(o->pos[0], "manifest")) return lfr_cli_eval_manifest(o);
    if (o->n_pos >= 1 && !strcmp(o->pos[0], "verify")) return lfr_cli_eval_verify(o);
    if (o->n_pos != 1 || strcmp(o->pos[0], "lfw"))
        return fail("usage: lfr eval lfw --data DIR [--pairs FILE] [--json FILE] "
                    "[--scores FILE]");
    if (!o->data) return fail("eval lfw needs --data DIR (the LFW folder)");
    char pairs_path[4096];
    snprintf(pairs_path, sizeof pairs_path, "%s/pairs.txt", o->data);
    lfr__eval_pairs pairs;
    if (lfr__eval_pairs_load(o->pairs ? o->pairs : pairs_path, &pairs) != LFR_OK)
        return fail("%s", lfr_errmsg());
    lfr__eval_images imgs;
    if (lfr__eval_pairs_images(&pairs, &imgs) != LFR_OK) {
        lfr__eval_pairs_free(&pairs);
        return fail("%s", lfr_errmsg());
    }
    int rc = 0;
    double secs = 0;
    eval_job j;
    memset(&j, 0, sizeof j);
    double *score = malloc(pairs.n_pairs * sizeof *score);
    unsigned char *same = malloc(pairs.n_pairs);
    int *fold = malloc(pairs.n_pairs * sizeof *fold);
    j.tpl = calloc(imgs.n_images, LFR_TEMPLATE_DIM * sizeof(float));
    j.found = calloc(imgs.n_images, 1);
    if (!score || !same || !fold || !j.tpl || !j.found) {
        rc = fail("out of memory");
        goto out;
    }
    if (lfr_cli_embed_paths(o, o->data, imgs.path, imgs.n_images, &j, &secs) != 0) {
        rc = 1;
        goto out;
    }
    size_t no_face = 0, unreadable = 0;
    for (size_t i = 0; i < imgs.n_images; i++) {
        no_face += j.found[i] == 0;
        unreadable += j.found[i] == 2;
    }
    for (size_t p = 0; p < pairs.n_pairs; p++) {
        size_t a = imgs.index_a[p], b = imgs.index_b[p];
        score[p] = j.found[a] == 1 && j.found[b] == 1
                       ? (double)lfr_template_similarity(j.tpl + a * LFR_TEMPLATE_DIM,
                                                         j.tpl + b * LFR_TEMPLATE_DIM)
                       : NAN;
        same[p] = (unsigned char)pairs.pair[p].same;
        fold[p] = pairs.pair[p].fold;
    }
    const char *scores_file = o->scores_file ? o->scores_file : "lfw_scores.tsv";
    FILE *sf = fopen(scores_file, "w");
    if (!sf) {
        rc = fail("%s: cannot write: %s", scores_file, strerror(errno));
        goto out;
    }
    fprintf(sf, "pair_index\tfold\tsame\tcosine\timage_a\timage_b\n");
    for (size_t p = 0; p < pairs.n_pairs; p++) {
        fprintf(sf, "%zu\t%d\t%s\t", p, fold[p] + 1, same[p] ? "same" : "diff");
        if (isnan(score[p]))
            fprintf(sf, "nan");
        else
            fprintf(sf, "%.6f", score[p]);
        fprintf(sf, "\t%s\t%s\n", pairs.pair[p].path_a, pairs.pair[p].path_b);
    }
    if (fclose(sf) != 0) {
        rc = fail("%s: write failed", scores_file);
        goto out;
    }
    size_t n = pairs.n_pairs, n_missing = 0;
    if (lfr__eval_missing_apply(LFR__EVAL_MISSING_SCORE, -1.0, score, same, fold, n, &n,
                                &n_missing) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    lfr__eval_data d = {score, same, fold, n};
    lfr__eval_summary s;
    /* k-fold accuracy needs two folds or more; a single-fold file (View 1,
     * or one fold of View 2) is reported at the default threshold and at
     * its own best threshold, which is optimistic and said to be. */
    int kfold = pairs.n_folds >= 2;
    if (lfr__eval_summarize(&d, kfold ? pairs.n_folds : 0, &s) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    lfr__eval_rates at_default;
    if (lfr__eval_rates_at(&d, LFR_DEFAULT_THRESHOLD, &at_default) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    printf("LFW pairs: %zu pairs, %d fold%s, %zu images in %.1f s\n", n, pairs.n_folds,
           pairs.n_folds == 1 ? "" : "s", imgs.n_images, secs);
    if (kfold)
        printf("accuracy        %.2f %% +- %.2f (%d-fold, threshold chosen on the other folds; "
               "population std)\n",
               100 * s.kfold.mean, 100 * s.kfold.std_pop, pairs.n_folds);
    printf("at threshold %.2f (the default): accuracy %.2f %%, FMR %.4f, FNMR %.4f\n",
           (double)LFR_DEFAULT_THRESHOLD, 100 * at_default.accuracy, at_default.fmr,
           at_default.fnmr);
    printf("best threshold  %.4f on these pairs (accuracy %.2f %%)\n", s.best.threshold,
           100 * s.best.accuracy);
    printf("AUC             %.4f\n", s.auc);
    printf("TAR at FAR 1e-2 %.2f %% (threshold %.3f)\n", 100 * s.tar[0].tar, s.tar[0].threshold);
    printf("TAR at FAR 1e-3 %.2f %% (threshold %.3f)%s\n", 100 * s.tar[1].tar, s.tar[1].threshold,
           s.tar[1].supported ? "" : " (too few impostor pairs to measure)");
    printf("EER             %.2f %%\n", 100 * s.eer.eer);
    printf("no face         %zu of %zu images (%.3f %%), %zu unreadable; %zu pairs scored -1\n",
           no_face, imgs.n_images, 100.0 * (double)no_face / (double)imgs.n_images, unreadable,
           n_missing);
    printf("low-score faces %zu images had no face at %.2f, found at %.2f\n",
           (size_t)atomic_load(&j.low), (double)o->cfg.min_score, EVAL_FALLBACK_SCORE);
    printf("scores          %s\n", scores_file);
    if (o->json_file && write_json(o->json_file, &s, &at_default, imgs.n_images, no_face,
                                   (size_t)atomic_load(&j.low), unreadable, n_missing, secs, &j))
        rc = 1;
out:
    if (j.tpl) memset(j.tpl, 0, imgs.n_images * LFR_TEMPLATE_DIM * sizeof(float));
    free(j.tpl);
    free(j.found);
    free(score);
    free(same);
    free(fold);
    lfr__eval_images_free(&imgs);
    lfr__eval_pairs_free(&pairs);
    return rc;
}

/* ---- eval identify lfw -------------------------------------------------------- */

/*
 * The LFW open-set 1:N protocol: the gallery holds the first image of each
 * person with two or more images (1,680 people); their other images are the
 * mated probes; the images of the people with a single image (4,069) are
 * the non-mated probes. People and counts come from lfw-names.txt.
 */
typedef struct lfw_list {
    char **path; /* "Name/Name_0001.jpg" */
    int *person; /* index into the names, in file order */
    int *role;   /* 0 gallery, 1 mated probe, 2 non-mated probe */
    size_t n, cap;
    int n_people;
    const char **sha; /* from a manifest: each image's sha256, or NULL; NULL for LFW */
} lfw_list;

static void lfw_list_free(lfw_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->path[i]);
    free(l->path);
    free(l->person);
    free(l->role);
    free(l->sha);
    memset(l, 0, sizeof *l);
}

/*
 * The same protocol on a manifest: people in the order they first appear,
 * the first image (in manifest order) of each person with two or more
 * images in the gallery, their other images mated probes, the images of
 * people with one image non-mated probes. max_people > 0 keeps the first
 * max_people people.
 */
static int manifest_list_load(const lfr__manifest *m, long max_people, lfw_list *l)
{
    memset(l, 0, sizeof *l);
    size_t n = m->n_images, k = (size_t)m->n_identities;
    int *count = calloc(k + 1, sizeof *count), *order = malloc((k + 1) * sizeof *order),
        *seen = calloc(k + 1, sizeof *seen);
    l->path = calloc(n + 1, sizeof *l->path);
    l->person = malloc((n + 1) * sizeof *l->person);
    l->role = malloc((n + 1) * sizeof *l->role);
    l->sha = calloc(n + 1, sizeof *l->sha);
    int rc = 0;
    if (!count || !order || !seen || !l->path || !l->person || !l->role || !l->sha) {
        rc = fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        count[m->identity[i]]++;
    for (size_t c = 0; c <= k; c++)
        order[c] = -1;
    int sc = m->sha256_column;
    for (size_t i = 0; i < n; i++) {
        int id = m->identity[i];
        if (order[id] < 0) {
            if (max_people > 0 && l->n_people >= max_people) continue;
            order[id] = l->n_people++;
        }
        l->path[l->n] = strdup(m->path[i]);
        if (!l->path[l->n]) {
            rc = fail("out of memory");
            goto out;
        }
        l->person[l->n] = order[id];
        l->role[l->n] = count[id] == 1 ? 2 : seen[id]++ == 0 ? 0 : 1;
        l->sha[l->n] = sc >= 0 ? m->value[sc][m->label[sc][i]] : NULL;
        l->n++;
    }
out:
    free(count);
    free(order);
    free(seen);
    if (rc) lfw_list_free(l);
    return rc;
}

static int lfw_list_load(const char *dir, long max_people, lfw_list *l)
{
    memset(l, 0, sizeof *l);
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/lfw-names.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return fail("%s: cannot open: %s", path, strerror(errno));
    int lineno = 0, rc = 0;
    while ((max_people <= 0 || l->n_people < max_people) && fgets(line, sizeof line, f)) {
        lineno++;
        char *tab = strpbrk(line, "\t ");
        if (!tab) continue;
        *tab = 0;
        long count;
        char *end;
        errno = 0;
        count = strtol(tab + 1, &end, 10);
        if (errno || end == tab + 1 || count < 1 || count > 9999 || !line[0] || strchr(line, '/')) {
            rc = fail("%s:%d: expected 'Name count'", path, lineno);
            break;
        }
        for (long k = 1; k <= count; k++) {
            if (l->n == l->cap) {
                size_t nc = l->cap ? 2 * l->cap : 16384;
                char **np = realloc(l->path, nc * sizeof *np);
                if (np) l->path = np;
                int *pp = realloc(l->person, nc * sizeof *pp);
                if (pp) l->person = pp;
                int *rp = realloc(l->role, nc * sizeof *rp);
                if (rp) l->role = rp;
                if (!np || !pp || !rp) {
                    rc = fail("out of memory");
                    break;
                }
                l->cap = nc;
            }
            char rel[1100];
            snprintf(rel, sizeof rel, "%s/%s_%04ld.jpg", line, line, k);
            l->path[l->n] = strdup(rel);
            if (!l->path[l->n]) {
                rc = fail("out of memory");
                break;
            }
            l->person[l->n] = l->n_people;
            l->role[l->n] = count == 1 ? 2 : k == 1 ? 0 : 1;
            l->n++;
        }
        if (rc) break;
        l->n_people++;
    }
    fclose(f);
    if (rc) lfw_list_free(l);
    return rc;
}

static int cmd_eval_identify(opts *o)
{
    if (o->n_pos != 2 || !o->data)
        return fail("usage: lfr eval identify lfw|MANIFEST --data DIR [--json FILE] [--people N] "
                    "[--manifest FILE]");
    lfw_list l;
    lfr__manifest man;
    memset(&man, 0, sizeof man);
    /* "lfw": LFW's own list of people; anything else names a manifest,
     * whose labels then also give the groups. */
    int is_lfw = !strcmp(o->pos[1], "lfw");
    char proto[300];
    snprintf(proto, sizeof proto, "%s", is_lfw ? "LFW" : o->pos[1]);
    if (is_lfw) {
        if (lfw_list_load(o->data, o->people, &l)) return 1;
    } else {
        if (lfr__manifest_load(o->pos[1], &man) != LFR_OK) return fail("%s", lfr_errmsg());
        if (!o->manifest) o->manifest = o->pos[1];
        if (manifest_list_load(&man, o->people, &l)) {
            lfr__manifest_free(&man);
            return 1;
        }
    }
    int rc = 0;
    double secs = 0;
    eval_job j;
    memset(&j, 0, sizeof j);
    j.tpl = calloc(l.n, LFR_TEMPLATE_DIM * sizeof(float));
    j.found = calloc(l.n, 1);
    float *gallery = calloc(l.n, LFR_TEMPLATE_DIM * sizeof(float));
    int *gsubj = calloc(l.n, sizeof *gsubj),
        *subj_of_person = malloc((size_t)l.n_people * sizeof(int));
    lfr__eval_search_result *mated = calloc(l.n, sizeof *mated),
                            *nonmated = calloc(l.n, sizeof *nonmated);
    /* Each search's probe image, for the per-group breakdown. */
    size_t *mated_img = calloc(l.n, sizeof *mated_img),
           *nonmated_img = calloc(l.n, sizeof *nonmated_img);
    lfr_store *st = NULL;
    lfr_user me;
    float *scratch = malloc((size_t)l.n_people * sizeof *scratch), *nm_scores = NULL;
    if (o->home && lfr_cli_store_login(o, &st, &me)) {
        rc = 1;
        goto out;
    }
    if (!j.tpl || !j.found || !gallery || !gsubj || !subj_of_person || !mated || !nonmated ||
        !scratch || !mated_img || !nonmated_img) {
        rc = fail("out of memory");
        goto out;
    }
    j.expect_sha = l.sha;
    if (lfr_cli_embed_paths(o, o->data, (const char *const *)l.path, l.n, &j, &secs) != 0) {
        rc = 1;
        goto out;
    }
    /* Gallery: one template per enrolled person; subjects numbered densely. */
    size_t n_gal = 0, gal_missing = 0, probe_missing[3] = {0, 0, 0};
    int n_subj = 0;
    for (int p = 0; p < l.n_people; p++)
        subj_of_person[p] = -1;
    for (size_t i = 0; i < l.n; i++) {
        if (l.role[i] != 0) continue;
        if (j.found[i] != 1) {
            gal_missing++;
            continue;
        }
        subj_of_person[l.person[i]] = n_subj;
        memcpy(gallery + n_gal * LFR_TEMPLATE_DIM, j.tpl + i * LFR_TEMPLATE_DIM,
               LFR_TEMPLATE_DIM * sizeof(float));
        gsubj[n_gal++] = n_subj++;
    }
    size_t n_mated = 0, n_nonmated = 0, mated_unenrolled = 0, n_rows = 0;
    /* Every non-mated probe's score against every subject, for the
     * projection of FPIR with watchlist size. */
    size_t n_non = 0;
    for (size_t i = 0; i < l.n; i++)
        n_non += l.role[i] == 2;
    nm_scores = malloc((n_non ? n_non : 1) * (size_t)(n_subj > 0 ? n_subj : 1) * sizeof *nm_scores);
    if (!nm_scores || n_subj < 1) {
        rc = fail(n_subj < 1 ? "no gallery face found" : "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (l.role[i] == 0) continue;
        int mate = l.role[i] == 1 ? subj_of_person[l.person[i]] : -1;
        if (l.role[i] == 1 && mate < 0) {
            mated_unenrolled++; /* its gallery image had no face */
            continue;
        }
        lfr__eval_search_result r;
        if (j.found[i] != 1) {
            /* No face: the search returns nothing, a miss for a mated probe. */
            probe_missing[l.role[i]]++;
            r = (lfr__eval_search_result){-INFINITY, -1, -INFINITY, 0, -INFINITY};
        } else if (lfr__eval_search(gallery, gsubj, n_gal, n_subj, j.tpl + i * LFR_TEMPLATE_DIM,
                                    LFR_TEMPLATE_DIM, mate, scratch, &r) != LFR_OK) {
            rc = fail("%s", lfr_errmsg());
            goto out;
        }
        if (l.role[i] == 1) {
            mated_img[n_mated] = i;
            mated[n_mated++] = r;
        } else {
            nonmated_img[n_nonmated] = i;
            nonmated[n_nonmated++] = r;
        }
        if (l.role[i] == 2 && j.found[i] == 1)
            memcpy(nm_scores + n_rows++ * (size_t)n_subj, scratch, (size_t)n_subj * sizeof(float));
    }
    double targets[3] = {1e-1, 1e-2, 1e-3}, cmc[20];
    lfr__eval_ident_rates at[3], at_default;
    for (int k = 0; k < 3; k++)
        lfr__eval_fnir_at_fpir(mated, n_mated, nonmated, n_nonmated, targets[k], &at[k]);
    lfr__eval_ident_rates_at(mated, n_mated, nonmated, n_nonmated, LFR_DEFAULT_THRESHOLD,
                             &at_default);
    lfr__eval_cmc(mated, n_mated, 20, cmc);
    printf(
        "%s 1:N (open set): gallery %zu people (first image of each person with 2+ images),\n"
        "  %zu mated probes, %zu non-mated probes (people with one image); %zu images in %.1f s\n",
        proto, n_gal, n_mated, n_nonmated, l.n, secs);
    printf("no face: %zu gallery, %zu mated, %zu non-mated images (%zu mated probes dropped with "
           "their gallery image)\n",
           gal_missing, probe_missing[1], probe_missing[2], mated_unenrolled);
    for (int k = 0; k < 3; k++)
        printf("FNIR at FPIR %-6g %.4f (threshold %.3f, %zu false positives)%s\n", targets[k],
               at[k].fnir, at[k].threshold, at[k].n_false_positive,
               at[k].supported ? "" : " (too few non-mated probes)");
    printf("rank-1 identification rate %.4f; CMC rank 5 %.4f, rank 10 %.4f, rank 20 %.4f\n", cmc[0],
           cmc[4], cmc[9], cmc[19]);
    printf("at threshold %.2f (the default): TPIR %.4f, FPIR %.4f\n", (double)LFR_DEFAULT_THRESHOLD,
           at_default.tpir, at_default.fpir);

    /* Projection: FPIR and false alerts per 10,000 faces seen, by watchlist
     * size, measured by subsampling subjects and from the per-comparison
     * false match rate assuming independent comparisons. */
    enum { NT = 4, NS = 5 };
    double pthr[NT] = {0.5, 0.6, 0.7, 0.8};
    int psize[NS] = {100, 500, 1000, 10000, n_subj};
    for (int a = NS - 1; a > 0 && psize[a] < psize[a - 1]; a--) { /* keep ascending */
        int t = psize[a];
        psize[a] = psize[a - 1];
        psize[a - 1] = t;
    }
    lfr__eval_projection_point proj[NT * NS];
    if (n_rows == 0) {
        rc = fail("no non-mated probe with a face: no projection");
        goto out;
    }
    if (lfr__eval_projection(nm_scores, n_rows, n_subj, pthr, NT, psize, NS, 20, 12345, proj) !=
        LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    printf("\nprojection: false alerts per 10,000 faces seen (one search per face), measured by "
           "sampling\nwatchlists from the gallery (20 draws) / modelled as 1-(1-FMR)^size\n");
    printf("%-9s %-11s", "threshold", "FMR");
    for (int k = 0; k < NS; k++)
        printf(" %15d", psize[k]);
    printf("\n");
    for (int t = 0; t < NT; t++) {
        printf("%-9.2f %-11.3g", pthr[t], proj[t * NS].fmr);
        for (int k = 0; k < NS; k++) {
            const lfr__eval_projection_point *q = &proj[t * NS + k];
            char m[32];
            if (isnan(q->fpir_measured))
                snprintf(m, sizeof m, "-");
            else
                snprintf(m, sizeof m, "%.0f", q->fpir_measured * 1e4);
            printf(" %7s / %-6.0f", m, q->fpir_model * 1e4);
        }
        printf("\n");
    }
    /* The target of at most 1 false alert in 6,000 faces with a 10,000
     * watchlist needs a per-comparison FMR this data may not resolve. */
    double need = 1.0 - pow(1.0 - 1.0 / 6000.0, 1.0 / 10000.0);
    printf("1 false alert in 6,000 faces against 10,000 entries needs FMR <= %.2g; %zu "
           "comparisons resolve FMR down to %.2g%s\n",
           need, proj[0].n_comparisons, 1.0 / (double)proj[0].n_comparisons,
           need * (double)proj[0].n_comparisons < 1 ? ": not measurable on this data" : "");
    if (o->json_file) {
        FILE *f = fopen(o->json_file, "w");
        if (!f) {
            rc = fail("%s: cannot write: %s", o->json_file, strerror(errno));
            goto out;
        }
        fprintf(f, "{\n  \"protocol\": ");
        json_str(f, is_lfw ? "LFW open-set 1:N: gallery = first image of each person with 2+ "
                             "images"
                           : "open-set 1:N on a manifest: gallery = first image of each person "
                             "with 2+ images");
        fprintf(f, ",\n");
        fprintf(f, "  \"gallery\": %zu,\n  \"mated_probes\": %zu,\n  \"nonmated_probes\": %zu,\n",
                n_gal, n_mated, n_nonmated);
        fprintf(f, "  \"no_face\": {\"gallery\": %zu, \"mated\": %zu, \"nonmated\": %zu},\n",
                gal_missing, probe_missing[1], probe_missing[2]);
        const char *names[3] = {"1e-1", "1e-2", "1e-3"};
        for (int k = 0; k < 3; k++) {
            /* null where the sample has too few non-mated probes */
            fprintf(f, "  \"fnir_at_fpir_%s\": ", names[k]);
            json_num(f, at[k].supported ? at[k].fnir : NAN);
            fprintf(f, ",\n  \"threshold_at_fpir_%s\": ", names[k]);
            json_num(f, at[k].supported ? at[k].threshold : NAN);
            fprintf(f, ",\n");
        }
        fprintf(f, "  \"rank1\": ");
        json_num(f, cmc[0]);
        fprintf(f, ",\n  \"cmc\": [");
        for (int r = 0; r < 20; r++) {
            fprintf(f, r ? ", " : "");
            json_num(f, cmc[r]);
        }
        fprintf(f, "],\n  \"default_threshold\": %.2f,\n  \"tpir_at_default\": ",
                (double)LFR_DEFAULT_THRESHOLD);
        json_num(f, at_default.tpir);
        fprintf(f, ",\n  \"fpir_at_default\": ");
        json_num(f, at_default.fpir);
        fprintf(f,
                ",\n  \"seconds\": %.1f,\n  \"detector_sha256\": \"%s\",\n"
                "  \"embedder_sha256\": \"%s\"\n}\n",
                secs, j.det_sha, j.emb_sha);
        if (fclose(f) != 0) rc = fail("%s: write failed", o->json_file);
    }
    if (!rc && (o->html_file || st || o->manifest)) {
        lfr_cli_ident ir = {
            .paths = (const char *const *)l.path,
            .person = l.person,
            .n_people = l.n_people,
            .mated = mated,
            .mated_img = mated_img,
            .n_mated = n_mated,
            .nonmated = nonmated,
            .nonmated_img = nonmated_img,
            .n_nonmated = n_nonmated,
            .n_gallery = n_gal,
            .at = at,
            .targets = targets,
            .at_default = &at_default,
            .cmc = cmc,
            .proj = proj,
            .thresholds = pthr,
            .n_thresholds = NT,
            .sizes = psize,
            .n_sizes = NS,
            .secs = secs,
            .det_sha = j.det_sha,
            .emb_sha = j.emb_sha,
            .protocol = proto,
        };
        rc = lfr_cli_identify_report(o, &ir, st, st ? &me : NULL);
    }
out:
    lfr_store_close(st);
    free(mated_img);
    free(nonmated_img);
    if (j.tpl) memset(j.tpl, 0, l.n * LFR_TEMPLATE_DIM * sizeof(float));
    if (gallery) memset(gallery, 0, l.n * LFR_TEMPLATE_DIM * sizeof(float));
    free(j.tpl);
    free(j.found);
    free(gallery);
    free(gsubj);
    free(subj_of_person);
    free(mated);
    free(nonmated);
    free(scratch);
    free(nm_scores);
    lfw_list_free(&l);
    lfr__manifest_free(&man);
    return rc;
}

/* ---- version ---------------------------------------------------------------- */

static int cmd_version(opts *o)
{
    printf("lfr %s\n", LFR_VERSION);
    printf("backend %s\n", lfr_backend_version());
    lfr_engine *e;
    if (lfr_engine_open(&o->cfg, &e) != LFR_OK) {
        printf("models: not loaded (%s)\n", lfr_errmsg());
        return 1;
    }
    printf("detector %s sha256 %s\n",
           o->cfg.detector == LFR_DETECTOR_SHORT_RANGE ? "face_detection_short_range.tflite"
                                                       : "face_detection_full_range.tflite",
           lfr_engine_model_sha256(e, "detector"));
    printf("embedder MobileFaceNet.tflite sha256 %s\n", lfr_engine_model_sha256(e, "embedder"));
    lfr_engine_close(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    int rc = lfr_cli_records(cmd, argc - 2, argv + 2);
    if (rc >= 0) return rc;
    opts o;
    if (!parse_opts(cmd, argc - 2, argv + 2, &o)) return 2;
    if (!strcmp(cmd, "detect")) return cmd_detect_embed(&o, 0);
    if (!strcmp(cmd, "embed")) return cmd_detect_embed(&o, 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(&o);
    if (!strcmp(cmd, "eval")) return cmd_eval(&o);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(&o);
    fail("unknown command '%s'", cmd);
    usage(stderr);
    return 2;
}
