/*
 * bench/store_writers: concurrent writers on one store (issue 13,
 * must-show 4). N client processes, each with its own store handle (as N
 * lfrd nodes or pipelines would have), add alerts to one running
 * deployment as fast as they can for S seconds; then the audit log is
 * verified (linear: every seq once, each entry linked to the one before)
 * and every alert is counted against what the clients said they added.
 * The same run on the embedded store (SQLite, one file) is the peer: the
 * ratio is PostgreSQL's alerts per second over SQLite's.
 *
 *   build/bench_store_writers --database CONNINFO [--clients 8] [--seconds 60]
 *                             [--crop BYTES] [--models DIR] [--stills DIR] [--strict 1]
 *
 * CONNINFO names an empty PostgreSQL database (bench/store_writers.sh
 * starts a durable server and makes one); without it only SQLite runs. Each
 * alert carries a sealed crop of --crop random bytes (default 16384: a
 * face crop's size as a JPEG; 0 for none). The watchlist is one subject
 * enrolled from the stills with the real engine (--models, --stills).
 * --strict 1 also runs PostgreSQL with each writer keeping the write lock
 * until its own commit is on disk (no shared flushes), for comparison.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lfr/lfr.h"
#include "store/pg.h"

#define PW "bench passphrase"
#define MAX_CLIENTS 64

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_store_writers: %s: %s\n", what, lfr_errmsg());
    return 1;
}

typedef struct run_result {
    long long alerts, entries;
    double seconds, per_s;
    int verified;
} run_result;

/* A home with a running deployment whose watchlist holds one image;
 * *image_out is that image's id. */
static int prepare(const char *home, const char *database, const char *models, const char *still,
                   int64_t *image_out)
{
    lfr_store_config cfg = {.database = database};
    if (lfr_store_init_with(home, &cfg)) return die(home);
    lfr_store *s;
    if (lfr_store_open(home, &s)) return die("open");
    lfr_user admin, op, ao;
    int rc = lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, PW) ||
             lfr_store_login(s, "admin", PW, &admin) ||
             lfr_store_user_add(s, &admin, "op", LFR_ROLE_OPERATOR, PW) ||
             lfr_store_login(s, "op", PW, &op) ||
             lfr_store_user_add(s, &admin, "ao", LFR_ROLE_AUTHORISING_OFFICER, PW) ||
             lfr_store_login(s, "ao", PW, &ao);
    if (rc) return die("users");
    lfr_engine_config ec = lfr_engine_config_default();
    ec.model_dir = models;
    lfr_engine *eng;
    if (lfr_engine_open(&ec, &eng)) return die("engine");
    lfr_subject_params sp = {.reference = "BENCH-1",
                             .category = LFR_CATEGORY_SUSPECT,
                             .reason = "benchmark",
                             .expires_at = "2099-01-01"};
    lfr_image_source img = {.path = still, .provenance = LFR_PROVENANCE_CUSTODY_IMAGING};
    int64_t subject;
    rc = lfr_store_subject_add(s, &op, eng, &sp, &img, 1, &subject);
    lfr_engine_close(eng);
    if (rc) return die("enrol");
    float tpl[LFR_TEMPLATE_DIM];
    int n = 0;
    if (lfr_store_subject_templates(s, &op, subject, tpl, image_out, 1, &n) || n != 1)
        return die("image");
    sodium_memzero(tpl, sizeof tpl);
    lfr_camera cam[1] = {{"cam", "rtsp://example.invalid/cam"}};
    lfr_deployment_params dp = {
        .purpose = "benchmark",
        .justification = "benchmark",
        .legal_basis = "benchmark",
        .location = "bench",
        .installation = LFR_INSTALLATION_TEMPORARY,
        .planned_start = "2000-01-01T00:00:00Z",
        .planned_end = "2099-01-01T00:00:00Z",
        .threshold = 0.5,
        .cameras = cam,
        .n_cameras = 1,
    };
    int64_t dep;
    if (lfr_store_deployment_create(s, &op, &dp, &dep) ||
        lfr_store_deployment_authorise(s, &ao, dep) || lfr_store_deployment_start(s, &op, dep))
        return die("deployment");
    lfr_store_close(s);
    return 0;
}

/* One client: alerts until `until` (CLOCK_MONOTONIC seconds); the count
 * goes to the pipe. */
static void client(const char *home, int64_t image, size_t crop_n, double until, int out_fd)
{
    lfr_store *s;
    lfr_user op;
    if (lfr_store_open(home, &s) || lfr_store_login(s, "op", PW, &op)) {
        fprintf(stderr, "client: %s\n", lfr_errmsg());
        _exit(2);
    }
    uint8_t *crop = crop_n ? malloc(crop_n) : NULL;
    long long n = 0;
    int rc = 0;
    while (!rc && now_s() < until) {
        if (crop) randombytes_buf(crop, crop_n);
        lfr_alert_params p = {1, "cam", NULL, n + 1, image, 0.75, crop, crop_n};
        int64_t id;
        rc = lfr_store_alert_add(s, &op, &p, &id);
        if (rc)
            fprintf(stderr, "client: %s\n", lfr_errmsg());
        else
            n++;
    }
    free(crop);
    lfr_store_close(s);
    if (write(out_fd, &n, sizeof n) != (ssize_t)sizeof n) _exit(2);
    _exit(rc ? 1 : 0);
}

static int count_alert(const lfr_alert *a, void *ctx)
{
    (void)a;
    ++*(long long *)ctx;
    return 0;
}

static int run(const char *label, const char *home, const char *database, const char *models,
               const char *still, int clients, double seconds, size_t crop_n, run_result *r)
{
    memset(r, 0, sizeof *r);
    int64_t image = 0;
    if (prepare(home, database, models, still, &image)) return 1;
    int fds[2];
    if (pipe(fds)) return 1;
    /* The clients log in first (argon2id takes a while), then start
     * together at `start`. */
    double start = now_s() + 3, until = start + seconds;
    pid_t pids[MAX_CLIENTS];
    for (int i = 0; i < clients; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(fds[0]);
            lfr_store *s;
            lfr_user op;
            /* Log in before the start, so that only alerts are timed. */
            if (lfr_store_open(home, &s) || lfr_store_login(s, "op", PW, &op)) _exit(2);
            lfr_store_close(s);
            while (now_s() < start)
                usleep(1000);
            client(home, image, crop_n, until, fds[1]);
        }
    }
    close(fds[1]);
    long long total = 0;
    int bad = 0;
    for (int i = 0; i < clients; i++) {
        long long n = 0;
        if (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n) total += n;
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) bad++;
    }
    close(fds[0]);
    double took = now_s() - start;
    r->alerts = total;
    r->seconds = took;
    r->per_s = (double)total / seconds;
    lfr_store *s;
    if (lfr_store_open(home, &s)) return die("reopen");
    lfr_audit_verdict v;
    int vrc = lfr_audit_verify(s, &v);
    lfr_user aud;
    long long listed = 0;
    lfr_store_login(s, "admin", PW, &aud);
    lfr_store_alert_list(s, &aud, NULL, count_alert, &listed);
    lfr_store_close(s);
    r->entries = (long long)v.n_entries;
    r->verified = vrc == LFR_OK && listed == total && !bad;
    printf("%-10s %d clients, %.0f s: %lld alerts, %.1f alerts/s; audit log %s (%lld entries,"
           " head %llu, %llu after the anchor); %lld alerts listed%s\n",
           label, clients, seconds, total, r->per_s, vrc ? "DOES NOT VERIFY" : "verifies",
           r->entries, (unsigned long long)v.head_seq, (unsigned long long)v.unanchored, listed,
           bad ? "; a client failed" : "");
    if (vrc) printf("           %s\n", v.reason);
    return r->verified ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *database = NULL, *models = getenv("LFR_MODELS"), *stills = NULL;
    int clients = 8;
    double seconds = 60;
    size_t crop_n = 16384;
    int strict = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_store_writers: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--database"))
            database = v;
        else if (!strcmp(a, "--clients"))
            clients = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            seconds = strtod(v, NULL);
        else if (!strcmp(a, "--crop"))
            crop_n = (size_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--models"))
            models = v;
        else if (!strcmp(a, "--stills"))
            stills = v;
        else if (!strcmp(a, "--strict"))
            strict = (int)strtol(v, NULL, 10);
        else {
            fprintf(stderr, "bench_store_writers: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (clients < 1 || clients > MAX_CLIENTS || !(seconds > 0) || crop_n > ((size_t)4 << 20)) {
        fprintf(stderr, "bench_store_writers: 1 to %d clients, seconds > 0, crop up to 4 MiB\n",
                MAX_CLIENTS);
        return 2;
    }
    char still[1024];
    const char *data = getenv("LFR_DATA");
    snprintf(still, sizeof still, "%s/obama.jpg",
             stills ? stills
             : data ? data
                    : "../shared/data/stills");
    if (!stills && data) snprintf(still, sizeof still, "%s/stills/obama.jpg", data);
    if (!models) models = "models";
    char dir[] = "/tmp/lfr-bench-writers-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char home_pg[256], home_sq[256], home_strict[256];
    snprintf(home_pg, sizeof home_pg, "%s/pg", dir);
    snprintf(home_strict, sizeof home_strict, "%s/pg-strict", dir);
    snprintf(home_sq, sizeof home_sq, "%s/sqlite", dir);
    printf("concurrent writers: %d client processes, %.0f s each, alerts with %zu-byte sealed"
           " crops\n",
           clients, seconds, crop_n);
    run_result pg = {0}, sq = {0};
    int rc = 0;
    if (database)
        rc |= run("postgresql", home_pg, database, models, still, clients, seconds, crop_n, &pg);
    rc |= run("sqlite", home_sq, NULL, models, still, clients, seconds, crop_n, &sq);
    if (database && strict) {
        /* A second database: the string names the first, "<db>_strict" is
         * made by bench/store_writers.sh. */
        char db2[2048];
        snprintf(db2, sizeof db2, "%s_strict", database);
        lfr__pg_strict_commit(1);
        run_result st;
        rc |= run("pg strict", home_strict, db2, models, still, clients, seconds, crop_n, &st);
        lfr__pg_strict_commit(0);
    }
    if (database && sq.per_s > 0)
        printf("ratio: PostgreSQL / SQLite = %.2f\n", pg.per_s / sq.per_s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "bench_store_writers: could not remove %s\n", dir);
    return rc;
}
