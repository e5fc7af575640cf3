/*
 * Tests of the run supervisor (src/pipeline/supervisor.c, pipeline.c) on
 * the real engine, the shared clip and the stills (issue 9, must-show 4;
 * security review S6, S19):
 *
 *  - a second start of a running deployment is refused, by the same
 *    supervisor and by another one on the same home (the run lock, which
 *    holds across processes); a stopped deployment does not start again;
 *  - a stop reaches every camera within 1 s: a file played in real time,
 *    a live HTTP stream (a local ffmpeg) and a dead source in back-off,
 *    measured per camera over several stops and halts;
 *  - a deployment past its planned end stops by itself, audited as
 *    "system"; one halted before its end is not resumed after it;
 *  - a stop recorded by another handle (another process) halts the run:
 *    the store is the guard;
 *  - a slow store: alerts wait in the queue and are recorded when it
 *    recovers, none lost; a failing store: every match is reported lost
 *    (counted, alert_lost events), none silently.
 * Needs the models, the clip and the stills; skips without them (and the
 * HTTP camera without ffmpeg).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "livetest.h"
#include "pipeline/pipeline.h"
#include "testutil.h"

static lfr_engine *g_engine;
static char g_clip[1024], g_data[1024];
static int g_have_ffmpeg;
static int64_t g_baseline_alerts = -1;

static int group_setup(void **state)
{
    (void)state;
    char p[1024];
    if (!test_model_path("MobileFaceNet.tflite", p, sizeof p) ||
        !test_data_path("video/short_hamilton_clip.mp4", g_clip, sizeof g_clip) ||
        !test_data_path("stills/lin-manuel-miranda.png", p, sizeof p))
        return 0;
    snprintf(g_data, sizeof g_data, "%s", test_env("LFR_DATA", "../shared/data"));
    lfr_engine_config cfg = lfr_engine_config_default();
    cfg.model_dir = test_env("LFR_MODELS", "models");
    if (lfr_engine_open(&cfg, &g_engine) != LFR_OK) {
        fprintf(stderr, "engine: %s\n", lfr_errmsg());
        return -1;
    }
    g_have_ffmpeg = system("ffmpeg -version >/dev/null 2>&1") == 0;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    lfr_engine_close(g_engine);
    return 0;
}

#define NEED_ENGINE()                                                                              \
    do {                                                                                           \
        if (!g_engine) {                                                                           \
            print_message("[  SKIP    ] models, clip or stills absent\n");                         \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int count_one(const lfr_audit_entry *e, void *ctx)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static int count_alert(const lfr_alert *a, void *ctx)
{
    (void)a;
    (*(int64_t *)ctx)++;
    return 0;
}

typedef struct fixture {
    live_home h;
    lfr_events *bus;
    live_events ev;
    lfr_supervisor *sup;
} fixture;

static void fixture_open(fixture *f, const lfr_supervisor_config *extra)
{
    assert_int_equal(live_home_make(&f->h, g_engine, g_data), 0);
    assert_int_equal(lfr_events_open(NULL, &f->bus), LFR_OK);
    assert_int_equal(live_collect(&f->ev, f->bus), 0);
    lfr_supervisor_config c = extra ? *extra : lfr_supervisor_config_default();
    c.home = f->h.path;
    c.engine = g_engine;
    c.events = f->bus;
    assert_int_equal(lfr_supervisor_open(&c, &f->sup), LFR_OK);
}

static void fixture_close(fixture *f)
{
    lfr_supervisor_close(f->sup);
    live_collect_end(&f->ev);
    lfr_events_close(f->bus);
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(f->h.st, &v);
    if (rc) print_message("audit verify: %s\n", lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
    lfr_store_close(f->h.st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->h.dir);
    assert_int_equal(system(cmd), 0);
}

static void wait_ended(lfr_supervisor *sup, int64_t id, double timeout_s)
{
    int ended = 0;
    assert_int_equal(lfr_supervisor_wait(sup, id, timeout_s, &ended), LFR_OK);
    assert_true(ended);
}

/* A deployment with one camera, the clip, ending to_s from now. */
static int64_t clip_deployment(fixture *f, int64_t to_s)
{
    char cam[1100];
    snprintf(cam, sizeof cam, "file=%s", g_clip);
    const char *cams[] = {cam};
    int64_t id = live_deployment(&f->h, cams, 1, -60, to_s, 0.5);
    assert_true(id > 0);
    return id;
}

static lfr_deployment get(fixture *f, int64_t id)
{
    lfr_deployment d;
    assert_int_equal(lfr_store_deployment_get(f->h.st, &f->h.op, id, &d), LFR_OK);
    return d;
}

/* ---- One run per deployment ---------------------------------------------------------- */

static void test_second_start_refused(void **state)
{
    (void)state;
    NEED_ENGINE();
    fixture f;
    fixture_open(&f, NULL);
    int64_t id = clip_deployment(&f, 3600);
    lfr_run_options o = {.realtime = 1, .loop = 1};
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, &o), LFR_OK);
    /* Again, here. */
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, &o), LFR_ERR_CONFLICT);
    print_message("here: %s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), "already running here"));
    /* Again, from another supervisor on the same home: the run lock. */
    lfr_supervisor_config c = lfr_supervisor_config_default();
    c.home = f.h.path;
    c.engine = g_engine;
    lfr_supervisor *other;
    assert_int_equal(lfr_supervisor_open(&c, &other), LFR_OK);
    assert_int_equal(lfr_supervisor_start(other, &f.h.op, id, &o), LFR_ERR_CONFLICT);
    print_message("elsewhere: %s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), "another process"));
    /* A role that may not run deployments cannot stop it either; nothing halts. */
    assert_int_equal(lfr_supervisor_stop(f.sup, f.h.st, &f.h.ao, id), LFR_ERR_DENIED);
    lfr_run_status st;
    assert_int_equal(lfr_supervisor_status(f.sup, id, &st), LFR_OK);
    assert_true(st.active);
    assert_int_equal(lfr_supervisor_stop(f.sup, f.h.st, &f.h.op, id), LFR_OK);
    assert_int_equal(get(&f, id).state, LFR_DEPLOYMENT_STOPPED);
    /* A stopped deployment does not run again, here or elsewhere. */
    assert_int_equal(lfr_supervisor_start(other, &f.h.op, id, &o), LFR_ERR_CONFLICT);
    print_message("stopped: %s\n", lfr_errmsg());
    lfr_supervisor_close(other);
    fixture_close(&f);
}

/* ---- A stop reaches every camera within 1 s ------------------------------------------ */

static void wait_up(lfr_supervisor *sup, int64_t id, int cam, double timeout_s)
{
    double t0 = live_now_s();
    lfr_run_status st;
    do {
        live_sleep(0.1);
        assert_int_equal(lfr_supervisor_status(sup, id, &st), LFR_OK);
    } while (st.cameras[cam].frames < 10 && live_now_s() - t0 < timeout_s);
    assert_true(st.cameras[cam].frames >= 10);
}

static void test_stop_reaches_every_camera(void **state)
{
    (void)state;
    NEED_ENGINE();
    fixture f;
    fixture_open(&f, NULL);
    double worst = 0;
    int n = 0;
    /* Three stops, each of a new deployment, then three halts and resumes
     * of one deployment. */
    int64_t resumed = 0;
    int resumed_port = 0;
    for (int round = 0; round < 6; round++) {
        int halt = round >= 3;
        /* A resumed deployment keeps its cameras: the server comes back on its port. */
        int port = !g_have_ffmpeg ? 0 : halt && resumed_port ? resumed_port : live_port();
        if (halt) resumed_port = port;
        pid_t server = port ? live_serve(g_clip, port) : 0;
        char file[1100], http[100], dead[100];
        snprintf(file, sizeof file, "file=%s", g_clip);
        snprintf(http, sizeof http, "http=http://127.0.0.1:%d/live.ts", port);
        snprintf(dead, sizeof dead, "dead=rtsp://127.0.0.1:%d/x", live_port());
        const char *cams[] = {file, dead, http};
        int n_cams = server ? 3 : 2;
        int64_t id =
            halt && resumed ? resumed : live_deployment(&f.h, cams, n_cams, -60, 3600, 0.5);
        if (halt) resumed = id;
        assert_true(id > 0);
        live_sleep(0.5); /* let ffmpeg listen */
        lfr_run_options o = {.realtime = 1, .loop = 1};
        assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, &o), LFR_OK);
        wait_up(f.sup, id, 0, 20);
        if (server) wait_up(f.sup, id, 2, 20);
        live_sleep(1.5); /* the dead source is in back-off by now */
        double t0 = live_now_s();
        if (halt)
            assert_int_equal(lfr_supervisor_halt(f.sup, id), LFR_OK);
        else
            assert_int_equal(lfr_supervisor_stop(f.sup, f.h.st, &f.h.op, id), LFR_OK);
        wait_ended(f.sup, id, 30);
        double call_s = live_now_s() - t0;
        lfr_run_status st;
        assert_int_equal(lfr_supervisor_status(f.sup, id, &st), LFR_OK);
        print_message("%s %d: halt %.0f ms (", halt ? "halt" : "stop", round, st.halt_ms);
        for (int i = 0; i < st.n_cameras; i++) {
            const lfr_camera_status *c = &st.cameras[i];
            print_message("%s%s %.0f ms, %lld frames", i ? "; " : "", c->name, c->halt_ms,
                          (long long)c->frames);
            assert_true(c->halt_ms >= 0 && c->halt_ms <= 1000);
            if (c->halt_ms > worst) worst = c->halt_ms;
            n++;
        }
        print_message("); the call took %.2f s\n", call_s);
        assert_true(st.halt_ms >= 0 && st.halt_ms <= 1000);
        assert_int_equal(get(&f, id).state, halt ? LFR_DEPLOYMENT_RUNNING : LFR_DEPLOYMENT_STOPPED);
        live_kill(server);
    }
    print_message("%d camera halts, the slowest %.0f ms\n", n, worst);
    /* Each camera went down, and each deployment stopped, in the events. */
    assert_true(live_count(&f.ev, LFR_EVENT_CAMERA, 0) >= n);
    assert_true(live_count(&f.ev, LFR_EVENT_DEPLOYMENT, 0) >= 6 * 2);
    fixture_close(&f);
}

/* ---- Planned end ----------------------------------------------------------------------- */

static void test_auto_stop(void **state)
{
    (void)state;
    NEED_ENGINE();
    fixture f;
    fixture_open(&f, NULL);
    int64_t a = clip_deployment(&f, 7), b = clip_deployment(&f, 7);
    lfr_run_options o = {.realtime = 1, .loop = 1};
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, a, &o), LFR_OK);
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, b, &o), LFR_OK);
    assert_int_equal(lfr_supervisor_halt(f.sup, b), LFR_OK);
    wait_ended(f.sup, b, 10);
    lfr_deployment d = get(&f, a);
    int64_t end_ms;
    assert_int_equal(lfr__time_parse(d.planned_end, &end_ms), LFR_OK);
    wait_ended(f.sup, a, 20);
    int64_t now_ms;
    lfr__clock_now_ms(&now_ms);
    print_message("run ended %lld ms after the planned end\n", (long long)(now_ms - end_ms));
    assert_true(now_ms >= end_ms);
    assert_true(now_ms - end_ms < 1500);
    lfr_run_status st;
    assert_int_equal(lfr_supervisor_status(f.sup, a, &st), LFR_OK);
    print_message("%s; halt %.0f ms\n", st.ended, st.halt_ms);
    assert_non_null(strstr(st.ended, "planned end"));
    assert_true(st.halt_ms >= 0 && st.halt_ms <= 1000);
    d = get(&f, a);
    assert_int_equal(d.state, LFR_DEPLOYMENT_STOPPED);
    assert_string_equal(d.stopped_by, "system");
    /* b was halted before its end: not resumed after it, and stopped. */
    d = get(&f, b);
    assert_int_equal(d.state, LFR_DEPLOYMENT_RUNNING);
    assert_int_equal(lfr__time_parse(d.planned_end, &end_ms), LFR_OK);
    for (lfr__clock_now_ms(&now_ms); now_ms <= end_ms; lfr__clock_now_ms(&now_ms))
        live_sleep(0.1);
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, b, &o), LFR_ERR_CONFLICT);
    print_message("resume after the end: %s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), "planned end"));
    d = get(&f, b);
    assert_int_equal(d.state, LFR_DEPLOYMENT_STOPPED);
    assert_string_equal(d.stopped_by, "system");
    /* Audited as system's. */
    lfr_audit_filter af = {.actor = "system", .action = "deployment.stop"};
    int n = 0;
    assert_int_equal(lfr_audit_list(f.h.st, &f.h.admin, &af, count_one, &n), LFR_OK);
    assert_int_equal(n, 2);
    fixture_close(&f);
}

/* ---- The store is the guard ------------------------------------------------------------ */

static void test_stopped_elsewhere(void **state)
{
    (void)state;
    NEED_ENGINE();
    fixture f;
    fixture_open(&f, NULL);
    int64_t id = clip_deployment(&f, 3600);
    lfr_run_options o = {.realtime = 1, .loop = 1};
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, &o), LFR_OK);
    wait_up(f.sup, id, 0, 20);
    /* As `lfr deployment stop` in another process would: through the store. */
    double t0 = live_now_s();
    assert_int_equal(lfr_store_deployment_stop(f.h.st, &f.h.op, id), LFR_OK);
    print_message("the stop took %.2f s\n", live_now_s() - t0);
    wait_ended(f.sup, id, 10);
    double took = live_now_s() - t0;
    lfr_run_status st;
    assert_int_equal(lfr_supervisor_status(f.sup, id, &st), LFR_OK);
    print_message("%s: ended %.2f s after the stop\n", st.ended, took);
    assert_non_null(strstr(st.ended, "stopped by op"));
    assert_true(took < 0.5 /* poll_s */ + 1.0);
    fixture_close(&f);
}

/* ---- A slow or failing store ----------------------------------------------------------- */

typedef struct fault_ctx {
    double until; /* fail alerts until then (monotonic s); < 0: always */
    int calls;
} fault_ctx;

static int fail_alerts(void *ctx, int op)
{
    fault_ctx *fc = ctx;
    if (op != LFR__FAULT_ALERT) return 0;
    __atomic_add_fetch(&fc->calls, 1, __ATOMIC_RELAXED);
    return fc->until < 0 || live_now_s() < fc->until;
}

static int64_t store_alerts(fixture *f, int64_t id)
{
    int64_t n = 0;
    lfr_alert_filter af = {.deployment_id = id};
    assert_int_equal(lfr_store_alert_list(f->h.st, &f->h.op, &af, count_alert, &n), LFR_OK);
    return n;
}

static void test_slow_store(void **state)
{
    (void)state;
    NEED_ENGINE();
    fixture f;
    fixture_open(&f, NULL);
    fault_ctx fc = {live_now_s() + 4, 0};
    lfr__supervisor_set_fault(f.sup, fail_alerts, &fc);
    int64_t id = clip_deployment(&f, 3600);
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, NULL), LFR_OK);
    wait_ended(f.sup, id, 120);
    lfr_run_status st;
    assert_int_equal(lfr_supervisor_status(f.sup, id, &st), LFR_OK);
    const lfr_camera_status *c = &st.cameras[0];
    print_message("slow store: %lld alerts, %lld lost, %d store attempts, latency max %.0f ms\n",
                  (long long)c->alerts, (long long)c->alerts_lost, fc.calls, c->latency_max_ms);
    assert_true(c->alerts >= 1);
    assert_int_equal(c->alerts_lost, 0);
    assert_true(fc.calls > c->alerts);     /* retried */
    assert_true(c->latency_max_ms > 2000); /* waited for the store */
    assert_int_equal(store_alerts(&f, id), c->alerts);
    live_sleep(0.3);
    assert_int_equal(live_count(&f.ev, LFR_EVENT_ALERT, id), c->alerts);
    assert_int_equal(live_count(&f.ev, LFR_EVENT_ALERT_LOST, id), 0);
    g_baseline_alerts = c->alerts;
    fixture_close(&f);
}

static void test_failing_store(void **state)
{
    (void)state;
    NEED_ENGINE();
    if (g_baseline_alerts < 0) skip();
    fixture f;
    lfr_supervisor_config sc = lfr_supervisor_config_default();
    sc.alert_queue_max = 1; /* the second match waits for room: deferred */
    sc.drain_s = 1;
    fixture_open(&f, &sc);
    fault_ctx fc = {-1, 0};
    lfr__supervisor_set_fault(f.sup, fail_alerts, &fc);
    int64_t id = clip_deployment(&f, 3600);
    assert_int_equal(lfr_supervisor_start(f.sup, &f.h.op, id, NULL), LFR_OK);
    wait_ended(f.sup, id, 120);
    lfr_run_status st;
    assert_int_equal(lfr_supervisor_status(f.sup, id, &st), LFR_OK);
    const lfr_camera_status *c = &st.cameras[0];
    print_message("failing store: %lld alerts, %lld lost, %lld deferred (the working store "
                  "recorded %lld)\n",
                  (long long)c->alerts, (long long)c->alerts_lost, (long long)c->alerts_deferred,
                  (long long)g_baseline_alerts);
    assert_int_equal(c->alerts, 0);
    /* Every match the working store recorded is reported lost: none silently. */
    assert_int_equal(c->alerts_lost, g_baseline_alerts);
    assert_int_equal(st.alerts_lost, g_baseline_alerts);
    assert_int_equal(store_alerts(&f, id), 0);
    live_sleep(0.3);
    assert_int_equal(live_count(&f.ev, LFR_EVENT_ALERT_LOST, id), g_baseline_alerts);
    assert_int_equal(live_count(&f.ev, LFR_EVENT_ALERT, id), 0);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_start_refused),
        cmocka_unit_test(test_stop_reaches_every_camera),
        cmocka_unit_test(test_auto_stop),
        cmocka_unit_test(test_stopped_elsewhere),
        cmocka_unit_test(test_slow_store),
        cmocka_unit_test(test_failing_store),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
