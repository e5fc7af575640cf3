/*
 * lfr_events_sample: print, as JSON lines, one event of every type and
 * variant the bus delivers (an alert in full and redacted for an auditor,
 * an alert lost, a camera up and down with hostile text, counters, a
 * deployment change, a gap of known and of unknown size), each through a
 * real subscription, so that tests/e2e/live_events.sh can check every
 * variant against schemas/events/ (the runs there cannot produce them all
 * on demand).
 *
 *   lfr_events_sample > sample.jsonl
 */
#include <stdio.h>
#include <string.h>

#include "lfr/lfr.h"
#include "lfr/run.h"

static void print_all(lfr_subscription *s)
{
    lfr_event e;
    int got;
    char buf[LFR_EVENT_JSON_MAX];
    while (lfr_subscription_next(s, 0, &e, &got) == LFR_OK && got)
        if (lfr_event_json(&e, "/api/v1/alerts", buf, sizeof buf, NULL) == LFR_OK)
            printf("%s\n", buf);
        else
            fprintf(stderr, "lfr_events_sample: %s\n", lfr_errmsg());
}

static lfr_event make(lfr_event_type t, const char *cam)
{
    lfr_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.deployment_id = 3;
    snprintf(e.camera, sizeof e.camera, "%s", cam);
    return e;
}

int main(void)
{
    lfr_events *bus;
    lfr_events_config c = {4};
    if (lfr_events_open(&c, &bus)) return 1;
    lfr_subscription *full, *auditor, *tiny;
    lfr_subscribe_params p = lfr_subscribe_params_for(LFR_ROLE_OPERATOR);
    lfr_subscribe_params a = lfr_subscribe_params_for(LFR_ROLE_AUDITOR);
    lfr_subscribe_params t = {0};
    t.capacity = 2;
    if (lfr_events_subscribe(bus, &p, &full) || lfr_events_subscribe(bus, &a, &auditor) ||
        lfr_events_subscribe(bus, &t, &tiny))
        return 1;

    lfr_event e = make(LFR_EVENT_ALERT, "north-gate");
    e.alert.id = 12;
    e.alert.track = 4;
    e.alert.frame_number = 123;
    e.alert.media_ms = 4104;
    e.alert.subject = (lfr_event_subject){7, "S-0042", LFR_CATEGORY_WANTED_BY_COURTS, 0.7052};
    e.alert.threshold = 0.6;
    e.alert.n_candidates = 2;
    e.alert.candidates[0] = (lfr_event_subject){9, "S-0099", LFR_CATEGORY_SUSPECT, 0.6611};
    e.alert.candidates[1] = (lfr_event_subject){10, "CRN/12.3", LFR_CATEGORY_VICTIM, 0.6102};
    e.alert.latency_ms = 96;
    lfr_events_publish(bus, &e);
    e.type = LFR_EVENT_ALERT_LOST;
    e.alert.id = 0;
    snprintf(e.alert.reason, sizeof e.alert.reason, "database is locked");
    lfr_events_publish(bus, &e);
    e = make(LFR_EVENT_CAMERA, "cam.2");
    e.health.up = 0;
    snprintf(e.health.reason, sizeof e.health.reason,
             "rtsp://cam/x: \"no\" data\tfor too long \xff; retrying in 0.5 s");
    lfr_events_publish(bus, &e);
    e.health.up = 1;
    e.health.reason[0] = 0;
    lfr_events_publish(bus, &e);
    e = make(LFR_EVENT_COUNTERS, "cam.2");
    e.counters.up = 1;
    e.counters.frames = 275;
    e.counters.faces_seen = 18;
    e.counters.alerts = 2;
    e.counters.fps = 24.97;
    lfr_events_publish(bus, &e);
    e = make(LFR_EVENT_DEPLOYMENT, "");
    e.deployment.state = LFR_DEPLOYMENT_STOPPED;
    snprintf(e.deployment.by, sizeof e.deployment.by, "system");
    snprintf(e.deployment.reason, sizeof e.deployment.reason, "the planned end was reached");
    lfr_events_publish(bus, &e);

    print_all(full);
    print_all(auditor);
    print_all(tiny); /* two events, then a gap of four */
    /* Resuming from an id the history (4 events) no longer holds, and from
     * another bus's id. */
    lfr_subscription *r1, *r2;
    lfr_subscribe_params r = {0};
    char id[LFR_EVENT_ID_MAX];
    e.seq = 1;
    lfr_events_publish(bus, &e);
    lfr_subscription_next(full, 0, &e, &(int){0});
    lfr_event_id(&e, id);
    char *dash = strchr(id, '-');
    if (dash) snprintf(dash, sizeof id - (size_t)(dash - id), "-1");
    r.last_id = id;
    if (lfr_events_subscribe(bus, &r, &r1)) return 1;
    print_all(r1);
    r.last_id = "1-1";
    if (lfr_events_subscribe(bus, &r, &r2)) return 1;
    print_all(r2);
    lfr_subscription_close(r1);
    lfr_subscription_close(r2);
    lfr_subscription_close(full);
    lfr_subscription_close(auditor);
    lfr_subscription_close(tiny);
    lfr_events_close(bus);
    return 0;
}
