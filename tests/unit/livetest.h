/*
 * Helpers for tests and benchmarks of live runs (test_supervisor_slow.c,
 * bench/stop.c): a home with users and a watchlist of the stills, a
 * deployment created by an operator and authorised by an officer, a local
 * ffmpeg serving the clip over HTTP as a live camera would, and a
 * subscriber that collects events on a thread. Failures print why and
 * return non-zero; callers assert.
 */
#ifndef LFR_LIVETEST_H
#define LFR_LIVETEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "lfr/run.h"

#define LIVE_PW "a long enough passphrase"

extern char **environ;

typedef struct live_home {
    char dir[512], path[540];
    lfr_store *st;
    lfr_user admin, op, ao;
} live_home;

static inline int live_fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, lfr_errmsg());
    return 1;
}

/* A fresh home with admin, op (operator) and ao (authorising officer) and
 * the subjects LIN (lin-manuel-miranda.png, in the clip) and BIDEN (not). */
static inline int live_home_make(live_home *h, lfr_engine *eng, const char *data)
{
    memset(h, 0, sizeof *h);
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/lfr-live-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h->dir)) return 1;
    if ((size_t)snprintf(h->path, sizeof h->path, "%.512s/home", h->dir) >= sizeof h->path)
        return 1;
    if (lfr_store_init(h->path) || lfr_store_open(h->path, &h->st)) return live_fail("home");
    if (lfr_store_user_add(h->st, NULL, "admin", LFR_ROLE_ADMINISTRATOR, LIVE_PW) ||
        lfr_store_login(h->st, "admin", LIVE_PW, &h->admin) ||
        lfr_store_user_add(h->st, &h->admin, "op", LFR_ROLE_OPERATOR, LIVE_PW) ||
        lfr_store_user_add(h->st, &h->admin, "ao", LFR_ROLE_AUTHORISING_OFFICER, LIVE_PW) ||
        lfr_store_login(h->st, "op", LIVE_PW, &h->op) ||
        lfr_store_login(h->st, "ao", LIVE_PW, &h->ao))
        return live_fail("users");
    const char *refs[] = {"LIN", "BIDEN"};
    const char *files[] = {"stills/lin-manuel-miranda.png", "stills/biden.jpg"};
    for (int i = 0; i < 2; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%.1000s/%s", data, files[i]);
        lfr_subject_params p = {refs[i], LFR_CATEGORY_WANTED_BY_COURTS, "test", "2035-01-01"};
        lfr_image_source src = {path, LFR_PROVENANCE_OTHER, NULL};
        if (lfr_store_subject_add(h->st, &h->op, eng, &p, &src, 1, NULL))
            return live_fail("subject");
    }
    return 0;
}

static inline void live_time(int64_t offset_s, char out[32])
{
    time_t t = time(NULL) + offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A deployment of the given cameras ("name=url"), window [now + from_s,
 * now + to_s], created by op and authorised by ao; its id, or 0. */
static inline int64_t live_deployment(live_home *h, const char *const *cams, int n, int64_t from_s,
                                      int64_t to_s, double threshold)
{
    lfr_camera c[LFR_DEPLOYMENT_MAX_CAMERAS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(cams[i], '=');
        snprintf(c[i].name, sizeof c[i].name, "%.*s", (int)(eq - cams[i]), cams[i]);
        snprintf(c[i].url, sizeof c[i].url, "%s", eq + 1);
    }
    char start[32], end[32];
    live_time(from_s, start);
    live_time(to_s, end);
    lfr_deployment_params p;
    memset(&p, 0, sizeof p);
    p.purpose = "test";
    p.justification = "test";
    p.legal_basis = "test";
    p.location = "lab";
    p.installation = LFR_INSTALLATION_TEMPORARY;
    p.planned_start = start;
    p.planned_end = end;
    p.threshold = threshold;
    p.cameras = c;
    p.n_cameras = n;
    int64_t id = 0;
    if (lfr_store_deployment_create(h->st, &h->op, &p, &id) ||
        lfr_store_deployment_authorise(h->st, &h->ao, id)) {
        live_fail("deployment");
        return 0;
    }
    return id;
}

/* A free TCP port on the loopback. */
static inline int live_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    int port = 0;
    if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof a) &&
        !getsockname(s, (struct sockaddr *)&a, &n))
        port = ntohs(a.sin_port);
    if (s >= 0) close(s);
    return port;
}

/* ffmpeg serving `clip` looped, in real time, as MPEG-TS over HTTP to one
 * client at http://127.0.0.1:<port>/live.ts; its pid, or 0. */
static inline pid_t live_serve(const char *clip, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/live.ts", port);
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel",  "quiet", "-re",  "-stream_loop",
                    "-1",     "-i",       (char *)clip, "-c",    "copy", "-f",
                    "mpegts", "-listen",  "1",          url,     NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "ffmpeg", NULL, NULL, argv, environ)) return 0;
    return pid;
}

static inline void live_kill(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Collects events on a thread. */
typedef struct live_events {
    lfr_subscription *sub;
    pthread_t th;
    pthread_mutex_t mu;
    lfr_event *ev;
    int n, cap;
    int stop;
} live_events;

static inline void *live_collect_main(void *arg)
{
    live_events *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        lfr_event e;
        int got = 0;
        if (lfr_subscription_next(c->sub, 100, &e, &got) != LFR_OK) break;
        if (!got) continue;
        pthread_mutex_lock(&c->mu);
        if (c->n == c->cap) {
            int cap = c->cap ? 2 * c->cap : 256;
            lfr_event *ev = realloc(c->ev, (size_t)cap * sizeof *ev);
            if (ev) {
                c->ev = ev;
                c->cap = cap;
            }
        }
        if (c->n < c->cap) c->ev[c->n++] = e;
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

static inline int live_collect(live_events *c, lfr_events *bus)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    lfr_subscribe_params p;
    memset(&p, 0, sizeof p);
    p.capacity = 4096;
    if (lfr_events_subscribe(bus, &p, &c->sub)) return live_fail("subscribe");
    return pthread_create(&c->th, NULL, live_collect_main, c);
}

/* Events of a type (and deployment, when not 0) collected so far. */
static inline int live_count(live_events *c, lfr_event_type t, int64_t dep)
{
    pthread_mutex_lock(&c->mu);
    int n = 0;
    for (int i = 0; i < c->n; i++)
        if (c->ev[i].type == t && (!dep || c->ev[i].deployment_id == dep)) n++;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static inline void live_collect_end(live_events *c)
{
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    pthread_join(c->th, NULL);
    lfr_subscription_close(c->sub);
    free(c->ev);
    pthread_mutex_destroy(&c->mu);
}

static inline double live_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void live_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

#endif
