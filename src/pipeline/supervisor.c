/*
 * The run supervisor (include/lfr/run.h): starts deployments' runs through
 * the store's checks, holds one run per deployment, stops and halts them,
 * and reports on them. The runs themselves are in pipeline.c.
 *
 * One run per deployment, across processes too: a run holds a write lock
 * on byte <id> of <home>/run.lock (an open-file-description lock, so two
 * runs of one process conflict as two processes do, and a killed process
 * releases it), taken before the store is asked to start or resume.
 *
 * Core dumps are turned off for the process when a supervisor opens: its
 * runs hold watchlists, frames and crops in memory (S13).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "util/util.h"

#define MAX_SLOTS 64

typedef struct slot {
    int64_t id;
    lfr__run *run; /* NULL while starting */
    int starting;
} slot;

struct lfr_supervisor {
    lfr_supervisor_config c;
    char *home;
    pthread_mutex_t mu;
    slot slots[MAX_SLOTS];
    int n;
    lfr__fault_fn fault;
    void *fault_ctx;
};

lfr_supervisor_config lfr_supervisor_config_default(void)
{
    lfr_supervisor_config c;
    memset(&c, 0, sizeof c);
    c.poll_s = 0.5;
    c.flush_s = 10;
    c.counters_s = 2;
    c.alert_queue_max = 64;
    c.alert_queue_bytes = (size_t)32 << 20;
    c.drain_s = 10;
    c.candidate_margin = 0.1;
    return c;
}

/* Core dumps off, for the whole process. */
static int no_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl))
        return lfr__err(LFR_ERR_IO, "cannot turn core dumps off: %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
        return lfr__err(LFR_ERR_IO, "cannot make the process undumpable: %s", strerror(errno));
    return LFR_OK;
}

int lfr_supervisor_open(const lfr_supervisor_config *config, lfr_supervisor **out)
{
    *out = NULL;
    if (!config || !config->home || !*config->home || !config->engine)
        return lfr__err(LFR_ERR_INVALID, "supervisor: a home and an engine are needed");
    lfr_supervisor_config d = lfr_supervisor_config_default(), c = *config;
    if (!(c.poll_s > 0)) c.poll_s = d.poll_s;
    if (!(c.flush_s > 0)) c.flush_s = d.flush_s;
    if (!(c.counters_s > 0)) c.counters_s = d.counters_s;
    if (c.alert_queue_max <= 0) c.alert_queue_max = d.alert_queue_max;
    if (!c.alert_queue_bytes) c.alert_queue_bytes = d.alert_queue_bytes;
    if (!(c.drain_s >= 0)) c.drain_s = d.drain_s;
    if (!(c.candidate_margin >= 0)) c.candidate_margin = d.candidate_margin;
    int rc = no_core_dumps();
    if (rc) return rc;
    lfr_supervisor *s = calloc(1, sizeof *s);
    if (!s) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    s->c = c;
    s->home = strdup(c.home);
    if (!s->home) {
        free(s);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    s->c.home = s->home;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return LFR_OK;
}

void lfr__supervisor_set_fault(lfr_supervisor *s, lfr__fault_fn fn, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->fault = fn;
    s->fault_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

void lfr_supervisor_close(lfr_supervisor *s)
{
    if (!s) return;
    /* Halt them all first, so that they wind down together. */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        if (s->slots[i].run) lfr__run_halt(s->slots[i].run, "system", "the service is closing");
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++)
        lfr__run_release(s->slots[i].run);
    pthread_mutex_destroy(&s->mu);
    free(s->home);
    free(s);
}

/* ---- Slots ------------------------------------------------------------------------------ */

static slot *find(lfr_supervisor *s, int64_t id)
{
    for (int i = 0; i < s->n; i++)
        if (s->slots[i].id == id) return &s->slots[i];
    return NULL;
}

static int active(slot *sl)
{
    return sl && (sl->starting || (sl->run && !lfr__run_wait(sl->run, 0)));
}

/* Reserve deployment id's slot for a start (s->mu held). */
static int reserve(lfr_supervisor *s, int64_t id, lfr__run **old_out)
{
    *old_out = NULL;
    slot *sl = find(s, id);
    if (active(sl)) {
        if (sl->starting)
            return lfr__err(LFR_ERR_CONFLICT, "deployment %lld is being started", (long long)id);
        lfr_run_status st;
        lfr__run_status(sl->run, &st);
        return lfr__err(LFR_ERR_CONFLICT,
                        "deployment %lld is already running here (started by %s): one run per "
                        "deployment",
                        (long long)id, st.started_by);
    }
    if (!sl && s->n == MAX_SLOTS) {
        /* Forget the ended run that ended first... or any ended one. */
        for (int i = 0; i < s->n && !sl; i++)
            if (!active(&s->slots[i])) sl = &s->slots[i];
        if (!sl)
            return lfr__err(LFR_ERR_TOO_LARGE, "this service runs %d deployments already",
                            MAX_SLOTS);
    }
    if (!sl) sl = &s->slots[s->n++];
    *old_out = sl->run;
    sl->id = id;
    sl->run = NULL;
    sl->starting = 1;
    return LFR_OK;
}

/* ---- The run lock ----------------------------------------------------------------------- */

static int run_lock(const char *home, int64_t id, int *fd_out)
{
    *fd_out = -1;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/run.lock", home) >= sizeof path)
        return lfr__err(LFR_ERR_INVALID, "%s: home path too long", home);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)id;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES)
            return lfr__err(LFR_ERR_CONFLICT,
                            "deployment %lld is already running in another process on this home: "
                            "one run per deployment",
                            (long long)id);
        return lfr__err(LFR_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
    }
    *fd_out = fd;
    return LFR_OK;
}

/* ---- Start -------------------------------------------------------------------------------- */

static void publish_state(lfr_supervisor *s, int64_t id, lfr_deployment_state state, int running,
                          const char *by, const char *reason)
{
    lfr_event e;
    memset(&e, 0, sizeof e);
    e.type = LFR_EVENT_DEPLOYMENT;
    e.deployment_id = id;
    e.deployment.state = state;
    e.deployment.running = running;
    snprintf(e.deployment.by, sizeof e.deployment.by, "%s", by);
    snprintf(e.deployment.reason, sizeof e.deployment.reason, "%s", reason);
    lfr_events_publish(s->c.events, &e);
}

/* Everything a run needs, through the store's checks: started (or resumed)
 * and loaded. On failure everything taken is released. */
static int prepare(lfr_supervisor *s, const lfr_user *actor, int64_t id, lfr__run_config *rc_out,
                   const char **how_out)
{
    lfr__run_config *c = rc_out;
    int rc = run_lock(s->home, id, &c->lock_fd);
    if (!rc)
        rc = s->c.open_store ? s->c.open_store(s->c.open_store_ctx, &c->store)
                             : lfr_store_open(s->home, &c->store);
    if (!rc && !(c->deployment = malloc(sizeof *c->deployment)))
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    lfr_deployment *d = c->deployment;
    if (!rc) rc = lfr_store_deployment_get(c->store, actor, id, d);
    *how_out = "resumed";
    if (!rc && d->state == LFR_DEPLOYMENT_RUNNING) {
        /* A run that ended without stopping the deployment (a crash, a
         * halt): resumed, unless its planned end has passed. */
        char now[LFR__TIME_LEN];
        rc = lfr__clock_now(now);
        if (!rc && strcmp(now, d->planned_end) >= 0) {
            int st = lfr_store_deployment_expire(c->store, id);
            if (st == LFR_OK)
                publish_state(s, id, LFR_DEPLOYMENT_STOPPED, 0, "system",
                              "the planned end was reached");
            rc =
                lfr__err(LFR_ERR_CONFLICT, "deployment %lld's planned end (%s) has passed: %s",
                         (long long)id, d->planned_end, st == LFR_OK ? "stopped" : "it cannot run");
        }
    } else if (!rc) {
        /* The store decides (and audits a refusal): only an authorised
         * deployment within its window starts. */
        rc = lfr_store_deployment_start(c->store, actor, id);
        if (!rc) rc = lfr_store_deployment_get(c->store, actor, id, d);
        *how_out = "started";
    }
    if (!rc) rc = lfr_store_deployment_watchlist(c->store, actor, id, &c->watchlist);
    if (!rc && c->watchlist->n > 0) {
        const char *have = lfr_engine_model_sha256(s->c.engine, "embedder");
        if (!have || strcmp(have, c->watchlist->model_sha256))
            rc = lfr__err(LFR_ERR_CONFLICT,
                          "deployment %lld's watchlist was enrolled with embedder %.16s, but "
                          "this service runs %.16s",
                          (long long)id, c->watchlist->model_sha256, have ? have : "none");
    }
    if (!rc) rc = lfr__subjects_load(c->store, actor, &c->subjects);
    if (rc) {
        /* The message first: closing the store may set another. */
        char why[1024];
        snprintf(why, sizeof why, "%s", lfr_errmsg());
        lfr_watchlist_free(c->watchlist);
        lfr_store_close(c->store);
        free(c->deployment);
        lfr__subjects_free(&c->subjects);
        if (c->lock_fd >= 0) close(c->lock_fd);
        return lfr__err(rc, "%s", why);
    }
    return LFR_OK;
}

int lfr_supervisor_start(lfr_supervisor *s, const lfr_user *actor, int64_t id,
                         const lfr_run_options *opts)
{
    lfr__run *old = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = reserve(s, id, &old);
    lfr__fault_fn fault = s->fault;
    void *fault_ctx = s->fault_ctx;
    pthread_mutex_unlock(&s->mu);
    if (rc) return rc;
    lfr__run_release(old); /* the last run of this deployment, ended */

    lfr__run_config c;
    memset(&c, 0, sizeof c);
    c.lock_fd = -1;
    c.engine = s->c.engine;
    c.quality = lfr__quality_defaults();
    c.sup = s->c;
    c.fault = fault;
    c.fault_ctx = fault_ctx;
    if (opts) c.opts = *opts;
    if (actor) c.user = *actor;
    const char *how = "";
    rc = prepare(s, actor, id, &c, &how);
    lfr__run *run = NULL;
    int n_cameras = 0, n_templates = 0;
    double threshold = 0;
    if (!rc) {
        n_cameras = c.deployment->n_cameras;
        n_templates = c.watchlist->n;
        threshold = c.watchlist->threshold;
        rc = lfr__run_start(&c, &run);
    }
    if (!rc) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "%s by %s: %d cameras, %d templates, threshold %.3g", how,
                 actor->name, n_cameras, n_templates, threshold);
        publish_state(s, id, LFR_DEPLOYMENT_RUNNING, 1, actor->name, why);
    }
    pthread_mutex_lock(&s->mu);
    slot *sl = find(s, id);
    sl->starting = 0;
    sl->run = run;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- Stop, halt, wait -------------------------------------------------------------------------
 */

/* The active run of deployment id, held (the caller releases it), or NULL. */
static lfr__run *active_run(lfr_supervisor *s, int64_t id)
{
    pthread_mutex_lock(&s->mu);
    slot *sl = find(s, id);
    lfr__run *r = sl && sl->run && !lfr__run_wait(sl->run, 0) ? sl->run : NULL;
    if (r) lfr__run_hold(r);
    pthread_mutex_unlock(&s->mu);
    return r;
}

int lfr_supervisor_stop(lfr_supervisor *s, lfr_store *store, const lfr_user *actor, int64_t id)
{
    /* A role that may not stop it: the store refuses, audited, and nothing
     * is halted. (The store checks the role again from its records.) */
    if (!actor || !lfr_role_allows(actor->role, LFR_ACTION_DEPLOYMENT_RUN))
        return lfr_store_deployment_stop(store, actor, id);
    lfr__run *r = active_run(s, id);
    if (r) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "stopped by %s", actor->name);
        lfr__run_halt(r, actor->name, why);
        lfr__run_wait(r, -1);
        int already = lfr__run_stopped_in_store(r);
        lfr__run_release(r);
        if (already) /* the planned end, or another stop, came first */
            return lfr__err(LFR_ERR_CONFLICT, "deployment %lld was stopped already", (long long)id);
    }
    int rc = lfr_store_deployment_stop(store, actor, id);
    if (!rc) {
        char why[LFR_EVENT_REASON_MAX + 1];
        snprintf(why, sizeof why, "stopped by %s", actor->name);
        publish_state(s, id, LFR_DEPLOYMENT_STOPPED, 0, actor->name, why);
    }
    return rc;
}

int lfr_supervisor_halt(lfr_supervisor *s, int64_t id)
{
    lfr__run *r = active_run(s, id);
    if (!r) return lfr__err(LFR_ERR_NOT_FOUND, "deployment %lld has no run here", (long long)id);
    lfr__run_halt(r, "system", "halted");
    lfr__run_release(r);
    return LFR_OK;
}

int lfr_supervisor_wait(lfr_supervisor *s, int64_t id, double timeout_s, int *ended_out)
{
    *ended_out = 1;
    pthread_mutex_lock(&s->mu);
    slot *sl = find(s, id);
    lfr__run *r = sl ? sl->run : NULL;
    int starting = sl && sl->starting;
    if (r) lfr__run_hold(r);
    pthread_mutex_unlock(&s->mu);
    if (starting) {
        *ended_out = 0;
        return LFR_OK;
    }
    if (r) *ended_out = lfr__run_wait(r, timeout_s < 0 ? -1 : (int64_t)(timeout_s * 1000));
    lfr__run_release(r);
    return LFR_OK;
}

/* ---- Status ------------------------------------------------------------------------------------
 */

int lfr_supervisor_status(lfr_supervisor *s, int64_t id, lfr_run_status *out)
{
    pthread_mutex_lock(&s->mu);
    slot *sl = find(s, id);
    if (!sl || !sl->run) {
        pthread_mutex_unlock(&s->mu);
        return lfr__err(LFR_ERR_NOT_FOUND, "deployment %lld has no run here", (long long)id);
    }
    lfr__run_status(sl->run, out);
    pthread_mutex_unlock(&s->mu);
    return LFR_OK;
}

int lfr_supervisor_each(lfr_supervisor *s, int (*fn)(const lfr_run_status *st, void *ctx),
                        void *ctx)
{
    lfr_run_status *st = malloc(sizeof *st);
    if (!st) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    /* In deployment order, without sorting the slots themselves. */
    int64_t last = 0;
    for (;;) {
        slot *next = NULL;
        for (int i = 0; i < s->n; i++)
            if (s->slots[i].run && s->slots[i].id > last && (!next || s->slots[i].id < next->id))
                next = &s->slots[i];
        if (!next) break;
        last = next->id;
        lfr__run_status(next->run, st);
        if ((rc = fn(st, ctx)) != 0) break;
    }
    pthread_mutex_unlock(&s->mu);
    free(st);
    return rc;
}
