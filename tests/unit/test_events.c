/*
 * Tests of the event bus (src/pipeline/events.c) and its JSON form:
 *
 *  - every subscriber gets every event in order, with increasing ids;
 *  - a subscriber that never reads loses its own events, counted, with a
 *    gap event where they were, while publishing stays fast and another
 *    subscriber loses nothing;
 *  - filters by type and deployment; redaction leaves no subject in a
 *    redacted subscriber's copy (nor in its JSON);
 *  - resuming with Last-Event-ID from the history, a gap for what the
 *    history no longer holds, a gap of unknown size for another bus's id,
 *    and a clear error for a malformed id;
 *  - closing the bus ends subscribers' waits; waits time out;
 *  - the JSON of each type, with hostile text (quotes, control and
 *    non-UTF-8 bytes) still valid JSON.
 * The schemas themselves are checked against emitted events by
 * tests/e2e/live_events.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lfr/lfr.h"
#include "lfr/run.h"
#include "util/util.h"

static lfr_event make(lfr_event_type t, int64_t dep, const char *cam)
{
    lfr_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.deployment_id = dep;
    snprintf(e.camera, sizeof e.camera, "%s", cam);
    return e;
}

static lfr_event alert(int64_t dep, int64_t id)
{
    lfr_event e = make(LFR_EVENT_ALERT, dep, "north-gate");
    e.alert.id = id;
    e.alert.track = 4;
    e.alert.frame_number = 123;
    e.alert.media_ms = 4104;
    e.alert.subject = (lfr_event_subject){7, "S-0042", LFR_CATEGORY_WANTED_BY_COURTS, 0.7052};
    e.alert.threshold = 0.6;
    e.alert.n_candidates = 1;
    e.alert.candidates[0] = (lfr_event_subject){9, "S-0099", LFR_CATEGORY_SUSPECT, 0.6611};
    e.alert.latency_ms = 96;
    return e;
}

static void test_order_and_ids(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    lfr_subscription *s1, *s2;
    assert_int_equal(lfr_events_subscribe(b, NULL, &s1), LFR_OK);
    assert_int_equal(lfr_events_subscribe(b, NULL, &s2), LFR_OK);
    for (int i = 1; i <= 100; i++) {
        lfr_event e = alert(1, i);
        lfr_events_publish(b, &e);
    }
    for (int k = 0; k < 2; k++) {
        lfr_subscription *s = k ? s2 : s1;
        for (int i = 1; i <= 100; i++) {
            lfr_event e;
            int got;
            assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
            assert_true(got);
            assert_int_equal(e.seq, i);
            assert_int_equal(e.alert.id, i);
            assert_true(e.time_ms > 0);
            char id[LFR_EVENT_ID_MAX];
            lfr_event_id(&e, id);
            assert_non_null(strchr(id, '-'));
        }
        lfr_event e;
        int got;
        assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
        assert_false(got);
    }
    lfr_events_stats st;
    lfr_events_get_stats(b, &st);
    assert_int_equal(st.published, 100);
    assert_int_equal(st.subscribers, 2);
    assert_int_equal(st.lost, 0);
    lfr_subscription_close(s1);
    lfr_subscription_close(s2);
    lfr_events_close(b);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A subscriber that never reads: it loses its own events (a gap where
 * they were), publishing stays fast, the reader alongside loses nothing. */
static void test_slow_subscriber(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    lfr_subscribe_params p = {0};
    p.capacity = 16;
    lfr_subscription *slow, *fast;
    assert_int_equal(lfr_events_subscribe(b, &p, &slow), LFR_OK);
    p.capacity = 20000;
    assert_int_equal(lfr_events_subscribe(b, &p, &fast), LFR_OK);
    int64_t worst = 0, got_fast = 0;
    for (int i = 1; i <= 20000; i++) {
        lfr_event e = alert(1, i);
        int64_t t0 = mono_us();
        lfr_events_publish(b, &e);
        int64_t dt = mono_us() - t0;
        if (dt > worst) worst = dt;
    }
    lfr_event e;
    int got;
    while (lfr_subscription_next(fast, 0, &e, &got) == LFR_OK && got)
        got_fast++;
    assert_int_equal(got_fast, 20000);
    print_message("slowest publish: %lld us\n", (long long)worst);
    /* Generous: a copy per subscriber, even on a loaded machine. */
    assert_true(worst < 200000);
    int queued;
    uint64_t lost;
    lfr_subscription_depth(slow, &queued, &lost);
    assert_int_equal(queued, 16);
    assert_int_equal(lost, 20000 - 16);
    /* The 16 queued, then the gap (when the reader drains the queue). */
    for (int i = 1; i <= 16; i++) {
        assert_int_equal(lfr_subscription_next(slow, 0, &e, &got), LFR_OK);
        assert_int_equal(e.seq, i);
    }
    assert_int_equal(lfr_subscription_next(slow, 0, &e, &got), LFR_OK);
    assert_true(got);
    assert_int_equal(e.type, LFR_EVENT_GAP);
    assert_int_equal(e.gap.lost, 20000 - 16);
    assert_int_equal(e.gap.first, 17);
    assert_int_equal(e.gap.last, 20000);
    /* Twenty more into the drained queue of 16. */
    for (int i = 0; i < 20; i++) {
        lfr_event x = alert(1, 0);
        lfr_events_publish(b, &x);
    }
    int n = 0, gaps = 0;
    while (lfr_subscription_next(slow, 0, &e, &got) == LFR_OK && got) {
        n++;
        if (e.type == LFR_EVENT_GAP) {
            gaps++;
            assert_int_equal(e.gap.lost, 4);
            assert_int_equal(n, 17); /* last: where they were lost */
        }
    }
    /* 16 fit in the queue, 4 were lost, then the gap. */
    assert_int_equal(n, 17);
    assert_int_equal(gaps, 1);
    lfr_events_stats st;
    lfr_events_get_stats(b, &st);
    assert_int_equal(st.lost, 20000 - 16 + 4);
    lfr_subscription_close(slow);
    lfr_subscription_close(fast);
    lfr_events_close(b);
}

static void count_notify(void *ctx)
{
    (*(int *)ctx)++;
}

/* A notify function hears of each event queued for its subscriber (one
 * thread can serve many), and of the bus closing. */
static void test_notify(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    int n = 0;
    lfr_subscribe_params p = {0};
    p.types = 1u << LFR_EVENT_ALERT;
    p.notify = count_notify;
    p.notify_ctx = &n;
    lfr_subscription *s;
    assert_int_equal(lfr_events_subscribe(b, &p, &s), LFR_OK);
    lfr_event a = alert(1, 1), c = make(LFR_EVENT_COUNTERS, 1, "x");
    lfr_events_publish(b, &a);
    lfr_events_publish(b, &c); /* filtered out: no call */
    lfr_events_publish(b, &a);
    assert_int_equal(n, 2);
    lfr_events_close(b);
    assert_int_equal(n, 3);
    lfr_subscription_close(s);
}

static void test_filters_and_redaction(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    lfr_subscribe_params p = lfr_subscribe_params_for(LFR_ROLE_AUDITOR);
    assert_true(p.redact);
    assert_false(lfr_subscribe_params_for(LFR_ROLE_OPERATOR).redact);
    assert_false(lfr_subscribe_params_for(LFR_ROLE_AUTHORISING_OFFICER).redact);
    assert_false(lfr_subscribe_params_for(LFR_ROLE_ADMINISTRATOR).redact);
    lfr_subscription *aud, *only;
    assert_int_equal(lfr_events_subscribe(b, &p, &aud), LFR_OK);
    lfr_subscribe_params q = {0};
    q.types = 1u << LFR_EVENT_COUNTERS;
    q.deployment_id = 2;
    assert_int_equal(lfr_events_subscribe(b, &q, &only), LFR_OK);
    lfr_event a = alert(1, 5), c1 = make(LFR_EVENT_COUNTERS, 1, "x"),
              c2 = make(LFR_EVENT_COUNTERS, 2, "y");
    lfr_events_publish(b, &a);
    lfr_events_publish(b, &c1);
    lfr_events_publish(b, &c2);
    lfr_event e;
    int got;
    assert_int_equal(lfr_subscription_next(aud, 0, &e, &got), LFR_OK);
    assert_int_equal(e.type, LFR_EVENT_ALERT);
    assert_true(e.redacted);
    assert_int_equal(e.alert.subject.id, 0);
    assert_string_equal(e.alert.subject.reference, "");
    assert_int_equal(e.alert.n_candidates, 0);
    assert_null(memmem(&e, sizeof e, "S-00", 4)); /* no reference anywhere in the copy */
    assert_true(e.alert.subject.score > 0.7);     /* the score stays */
    char json[LFR_EVENT_JSON_MAX];
    assert_int_equal(lfr_event_json(&e, "/api/v1/alerts", json, sizeof json, NULL), LFR_OK);
    assert_null(strstr(json, "S-00"));
    assert_null(strstr(json, "subject"));
    assert_non_null(strstr(json, "\"redacted\":true"));
    assert_int_equal(lfr_subscription_next(only, 0, &e, &got), LFR_OK);
    assert_true(got);
    assert_int_equal(e.deployment_id, 2);
    assert_int_equal(lfr_subscription_next(only, 0, &e, &got), LFR_OK);
    assert_false(got);
    lfr_subscription_close(aud);
    lfr_subscription_close(only);
    lfr_events_close(b);
}

static void test_resume(void **state)
{
    (void)state;
    lfr_events_config c = {8};
    lfr_events *b, *other;
    assert_int_equal(lfr_events_open(&c, &b), LFR_OK);
    assert_int_equal(lfr_events_open(&c, &other), LFR_OK);
    char ids[21][LFR_EVENT_ID_MAX];
    lfr_subscription *all;
    assert_int_equal(lfr_events_subscribe(b, NULL, &all), LFR_OK);
    for (int i = 1; i <= 20; i++) {
        lfr_event e = alert(1, i), got_e;
        lfr_events_publish(b, &e);
        int got;
        lfr_subscription_next(all, 0, &got_e, &got);
        lfr_event_id(&got_e, ids[i]);
    }
    lfr_subscription_close(all);
    /* After event 15: 16 to 20 from the history. */
    lfr_subscribe_params p = {0};
    p.last_id = ids[15];
    lfr_subscription *s;
    assert_int_equal(lfr_events_subscribe(b, &p, &s), LFR_OK);
    lfr_event e;
    int got;
    for (int i = 16; i <= 20; i++) {
        assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
        assert_int_equal(e.seq, i);
    }
    assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
    assert_false(got);
    lfr_subscription_close(s);
    /* After event 5: the history holds 13 to 20, so 6 to 12 are a gap. */
    p.last_id = ids[5];
    assert_int_equal(lfr_events_subscribe(b, &p, &s), LFR_OK);
    assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
    assert_int_equal(e.type, LFR_EVENT_GAP);
    assert_int_equal(e.gap.lost, 7);
    assert_int_equal(e.gap.first, 6);
    assert_int_equal(e.gap.last, 12);
    assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
    assert_int_equal(e.seq, 13);
    lfr_subscription_close(s);
    /* An id of another bus (an earlier run of the service): a gap of
     * unknown size, then what comes. */
    lfr_event x = alert(1, 1);
    lfr_events_publish(other, &x);
    lfr_subscription *o;
    assert_int_equal(lfr_events_subscribe(other, NULL, &o), LFR_OK);
    lfr_events_publish(other, &x);
    lfr_subscription_next(o, 0, &e, &got);
    char foreign[LFR_EVENT_ID_MAX];
    lfr_event_id(&e, foreign);
    lfr_subscription_close(o);
    p.last_id = foreign;
    assert_int_equal(lfr_events_subscribe(b, &p, &s), LFR_OK);
    assert_int_equal(lfr_subscription_next(s, 0, &e, &got), LFR_OK);
    assert_true(got);
    assert_int_equal(e.type, LFR_EVENT_GAP);
    assert_int_equal(e.gap.lost, 0);
    lfr_subscription_close(s);
    /* Malformed ids. */
    const char *bad[] = {"", "x", "12", "-3", "ab-", "ab-0", "ab-1x", "zz-1", "ab--1"};
    for (size_t i = 1; i < sizeof bad / sizeof *bad; i++) {
        p.last_id = bad[i];
        assert_int_equal(lfr_events_subscribe(b, &p, &s), LFR_ERR_INVALID);
        assert_non_null(strstr(lfr_errmsg(), "not an event id"));
    }
    lfr_events_close(other);
    lfr_events_close(b);
}

static void *close_later(void *arg)
{
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    lfr_events_close(arg);
    return NULL;
}

static void test_close_and_timeout(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    lfr_subscription *s;
    assert_int_equal(lfr_events_subscribe(b, NULL, &s), LFR_OK);
    lfr_event e;
    int got;
    int64_t t0 = mono_us();
    assert_int_equal(lfr_subscription_next(s, 150, &e, &got), LFR_OK);
    assert_false(got);
    assert_in_range(mono_us() - t0, 140000, 2000000);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, close_later, b), 0);
    t0 = mono_us();
    assert_int_equal(lfr_subscription_next(s, -1, &e, &got), LFR_ERR_EOF);
    assert_true(mono_us() - t0 < 2000000);
    pthread_join(th, NULL);
    lfr_subscription_close(s); /* after the bus: fine */
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j) print_message("%s: %s\n", text, err.text);
    assert_non_null(j);
    return j;
}

static void test_json(void **state)
{
    (void)state;
    lfr_events *b;
    assert_int_equal(lfr_events_open(NULL, &b), LFR_OK);
    lfr_subscription *s;
    assert_int_equal(lfr_events_subscribe(b, NULL, &s), LFR_OK);
    lfr_event a = alert(3, 12);
    lfr_events_publish(b, &a);
    lfr_event cam = make(LFR_EVENT_CAMERA, 3, "north-gate");
    /* Hostile text from a camera's error: quotes, a control and non-UTF-8 bytes. */
    snprintf(cam.health.reason, sizeof cam.health.reason, "bad \"stream\"\n\xff\xfe end");
    lfr_events_publish(b, &cam);
    lfr_event e, got_e[2];
    int got;
    lfr_subscription_next(s, 0, &got_e[0], &got);
    lfr_subscription_next(s, 0, &got_e[1], &got);
    char buf[LFR_EVENT_JSON_MAX];
    size_t n;
    assert_int_equal(lfr_event_json(&got_e[0], "/api/v1/alerts", buf, sizeof buf, &n), LFR_OK);
    assert_int_equal(n, strlen(buf));
    print_message("%s\n", buf);
    json_t *j = parse(buf);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "alert");
    assert_int_equal(json_integer_value(json_object_get(j, "alert")), 12);
    assert_string_equal(json_string_value(json_object_get(j, "crop")), "/api/v1/alerts/12/crop");
    json_t *f = json_object_get(j, "frame");
    assert_int_equal(json_integer_value(json_object_get(f, "number")), 123);
    assert_true(fabs(json_real_value(json_object_get(f, "media_time")) - 4.104) < 1e-9);
    json_t *sub = json_object_get(j, "subject");
    assert_string_equal(json_string_value(json_object_get(sub, "reference")), "S-0042");
    assert_string_equal(json_string_value(json_object_get(sub, "category")), "wanted_by_courts");
    assert_true(fabs(json_real_value(json_object_get(j, "score")) - 0.7052) < 1e-9);
    assert_int_equal(json_array_size(json_object_get(j, "candidates")), 1);
    json_decref(j);
    assert_int_equal(lfr_event_json(&got_e[1], NULL, buf, sizeof buf, NULL), LFR_OK);
    print_message("%s\n", buf);
    j = parse(buf);
    const char *why = json_string_value(json_object_get(j, "reason"));
    assert_non_null(why);
    assert_non_null(strstr(why, "\"stream\""));
    json_decref(j);
    /* Too small a buffer: refused, not truncated. */
    assert_int_equal(lfr_event_json(&got_e[0], NULL, buf, 40, NULL), LFR_ERR_TOO_LARGE);
    /* Every type has a name and a JSON form. */
    for (int t = 1; t <= LFR_N_EVENT_TYPES; t++) {
        e = make((lfr_event_type)t, 1, t == LFR_EVENT_DEPLOYMENT ? "" : "c");
        e.time_ms = 1;
        assert_string_not_equal(lfr_event_type_name((lfr_event_type)t), "?");
        assert_int_equal(lfr_event_json(&e, NULL, buf, sizeof buf, NULL), LFR_OK);
        json_decref(parse(buf));
    }
    e.type = (lfr_event_type)99;
    assert_int_equal(lfr_event_json(&e, NULL, buf, sizeof buf, NULL), LFR_ERR_INVALID);
    lfr_subscription_close(s);
    lfr_events_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ids),
        cmocka_unit_test(test_slow_subscriber),
        cmocka_unit_test(test_filters_and_redaction),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_close_and_timeout),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_notify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
