/*
 * The event bus of live runs (include/lfr/run.h): publishers (the
 * supervisor's threads) hand it typed events; each subscriber (an SSE
 * client, the events file of lfr run, a webhook) has its own bounded queue.
 *
 * Publishing copies the event into a history ring (for resuming with
 * Last-Event-ID) and into each matching subscriber's queue, under the bus
 * mutex and then each queue's own, held only for the copy: a subscriber
 * that does not read never blocks a publisher. When a queue is full the
 * event is not queued but counted; the next event that fits is preceded by
 * a gap event saying how many were lost and which (so the subscriber can
 * resume from the history), and a reader that drains its queue gets the
 * gap at once. Redaction (subjects left out of alerts) happens when the
 * event is queued, so a redacted subscriber's queue never holds them.
 *
 * Also here: the events' JSON form (jansson), one line per event, the form
 * of schemas/events/<type>.v1.json.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "lfr/run.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

#define DEFAULT_HISTORY 1024
#define MAX_HISTORY 65536
#define DEFAULT_CAPACITY 256
#define MAX_CAPACITY 65536

static const char *const type_names[] = {NULL,       "alert",      "alert_lost", "camera",
                                         "counters", "deployment", "gap"};

const char *lfr_event_type_name(lfr_event_type t)
{
    return t >= 1 && t <= LFR_N_EVENT_TYPES ? type_names[t] : "?";
}

struct lfr_subscription {
    lfr_events *bus;
    lfr_subscription *prev, *next; /* in the bus's list */
    unsigned types;
    int64_t deployment_id;
    int redact;
    void (*notify)(void *ctx);
    void *notify_ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lfr_event *ring;
    int cap, head, n;
    /* Events lost since the last one queued: how many and their seqs. */
    uint64_t gap_n, gap_first, gap_last;
    int gap_unknown; /* resumed from another bus: how many is unknown */
    uint64_t lost;   /* in all */
    int closed;      /* the bus closed */
};

struct lfr_events {
    pthread_mutex_t mu;
    uint64_t epoch, next_seq;
    lfr_event *hist; /* ring of the newest events, seqs hist_first .. next_seq - 1 */
    int hist_cap;
    uint64_t published, lost_closed; /* lost by subscriptions already closed */
    lfr_subscription *subs;
    int n_subs;
    int closed;
};

int lfr_events_open(const lfr_events_config *config, lfr_events **out)
{
    *out = NULL;
    int hist = config && config->history > 0 ? config->history : DEFAULT_HISTORY;
    if (hist > MAX_HISTORY)
        return lfr__err(LFR_ERR_INVALID, "events: a history of %d events is over %d", hist,
                        MAX_HISTORY);
    lfr_events *b = calloc(1, sizeof *b);
    if (!b) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    b->hist = calloc((size_t)hist, sizeof *b->hist);
    if (!b->hist) {
        free(b);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    b->hist_cap = hist;
    /* An epoch per bus: ids from an earlier process are told apart. */
    do
        randombytes_buf(&b->epoch, sizeof b->epoch);
    while (!(b->epoch &= 0xffffffffffffull));
    b->next_seq = 1;
    pthread_mutex_init(&b->mu, NULL);
    *out = b;
    return LFR_OK;
}

void lfr_events_close(lfr_events *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    for (lfr_subscription *s = b->subs; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->closed = 1;
        s->bus = NULL;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (s->notify) s->notify(s->notify_ctx);
    }
    b->subs = NULL;
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_destroy(&b->mu);
    free(b->hist);
    free(b);
}

static int wants(const lfr_subscription *s, const lfr_event *e)
{
    if (s->types && !(s->types & (1u << e->type))) return 0;
    return !s->deployment_id || e->deployment_id == s->deployment_id;
}

static void redact(lfr_event *e)
{
    if (e->type != LFR_EVENT_ALERT && e->type != LFR_EVENT_ALERT_LOST) return;
    double score = e->alert.subject.score;
    memset(&e->alert.subject, 0, sizeof e->alert.subject);
    e->alert.subject.score = score;
    memset(e->alert.candidates, 0, sizeof e->alert.candidates);
    e->alert.n_candidates = 0;
    e->redacted = 1;
}

static void ring_put(lfr_subscription *s, const lfr_event *e)
{
    lfr_event *slot = &s->ring[(s->head + s->n) % s->cap];
    *slot = *e;
    if (s->redact) redact(slot);
    s->n++;
}

static void gap_event(lfr_subscription *s, lfr_event *g)
{
    memset(g, 0, sizeof *g);
    g->type = LFR_EVENT_GAP;
    lfr__clock_now_ms(&g->time_ms);
    g->gap.lost = s->gap_unknown ? 0 : s->gap_n;
    g->gap.first = s->gap_unknown ? 0 : s->gap_first;
    g->gap.last = s->gap_unknown ? 0 : s->gap_last;
    s->gap_n = 0;
    s->gap_unknown = 0;
}

/* Queue an event for a subscriber (its mutex held), or count it lost. */
static void sub_push(lfr_subscription *s, const lfr_event *e)
{
    int pending = s->gap_n || s->gap_unknown;
    if (s->n + 1 + pending > s->cap) {
        if (!s->gap_n) s->gap_first = e->seq;
        s->gap_n++;
        s->gap_last = e->seq;
        s->lost++;
        return;
    }
    if (pending) {
        lfr_event g;
        gap_event(s, &g);
        ring_put(s, &g);
    }
    ring_put(s, e);
    pthread_cond_signal(&s->cv);
    if (s->notify) s->notify(s->notify_ctx);
}

void lfr_events_publish(lfr_events *b, const lfr_event *e_in)
{
    if (!b) return;
    lfr_event e = *e_in;
    if (!e.time_ms) lfr__clock_now_ms(&e.time_ms);
    pthread_mutex_lock(&b->mu);
    if (b->closed) {
        pthread_mutex_unlock(&b->mu);
        return;
    }
    e.seq = b->next_seq++;
    e.epoch = b->epoch;
    b->hist[(e.seq - 1) % (uint64_t)b->hist_cap] = e;
    b->published++;
    for (lfr_subscription *s = b->subs; s; s = s->next) {
        if (!wants(s, &e)) continue;
        pthread_mutex_lock(&s->mu);
        sub_push(s, &e);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

void lfr_events_get_stats(lfr_events *b, lfr_events_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    out->published = b->published;
    out->subscribers = b->n_subs;
    out->lost = b->lost_closed;
    for (lfr_subscription *s = b->subs; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        out->lost += s->lost;
        if (s->n > out->max_queue_depth) out->max_queue_depth = s->n;
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

lfr_subscribe_params lfr_subscribe_params_for(lfr_role role)
{
    lfr_subscribe_params p;
    memset(&p, 0, sizeof p);
    /* Anyone who is not an operator, an authorising officer or an
     * administrator (auditors, and roles added later) gets alerts without
     * their subjects. */
    p.redact = !(role == LFR_ROLE_OPERATOR || role == LFR_ROLE_AUTHORISING_OFFICER ||
                 role == LFR_ROLE_ADMINISTRATOR);
    return p;
}

void lfr_event_id(const lfr_event *e, char out[LFR_EVENT_ID_MAX])
{
    if (!e->seq)
        out[0] = 0;
    else
        snprintf(out, LFR_EVENT_ID_MAX, "%" PRIx64 "-%" PRIu64, e->epoch, e->seq);
}

static int parse_id(const char *id, uint64_t *epoch, uint64_t *seq)
{
    char *end;
    errno = 0;
    unsigned long long e = strtoull(id, &end, 16);
    if (errno || end == id || *end != '-' || id[0] == '-' || id[0] == '+') goto bad;
    const char *p = end + 1;
    if (*p < '0' || *p > '9') goto bad;
    unsigned long long s = strtoull(p, &end, 10);
    if (errno || *end || !s) goto bad;
    *epoch = e;
    *seq = s;
    return LFR_OK;
bad:
    return lfr__err(LFR_ERR_INVALID, "events: '%.48s' is not an event id (like 1a2b3c-42)", id);
}

int lfr_events_subscribe(lfr_events *b, const lfr_subscribe_params *p, lfr_subscription **out)
{
    *out = NULL;
    lfr_subscribe_params d;
    memset(&d, 0, sizeof d);
    if (!p) p = &d;
    int cap = p->capacity > 0 ? p->capacity : DEFAULT_CAPACITY;
    if (cap > MAX_CAPACITY)
        return lfr__err(LFR_ERR_INVALID, "events: a queue of %d events is over %d", cap,
                        MAX_CAPACITY);
    uint64_t epoch = 0, after = 0;
    if (p->last_id && *p->last_id && parse_id(p->last_id, &epoch, &after)) return LFR_ERR_INVALID;
    lfr_subscription *s = calloc(1, sizeof *s);
    if (!s) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    s->ring = calloc((size_t)cap, sizeof *s->ring);
    if (!s->ring) {
        free(s);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    s->cap = cap;
    s->types = p->types;
    s->deployment_id = p->deployment_id;
    s->redact = p->redact;
    s->notify = p->notify;
    s->notify_ctx = p->notify_ctx;
    pthread_mutex_init(&s->mu, NULL);
    lfr__cond_init_mono(&s->cv);

    pthread_mutex_lock(&b->mu);
    if (b->closed) {
        pthread_mutex_unlock(&b->mu);
        lfr_subscription_close(s);
        return lfr__err(LFR_ERR_EOF, "events: the bus is closed");
    }
    /* Resume: what the history still holds after `after`, a gap for the rest. */
    if (p->last_id && *p->last_id) {
        uint64_t newest = b->next_seq - 1;
        uint64_t oldest = newest >= (uint64_t)b->hist_cap ? newest - (uint64_t)b->hist_cap + 1 : 1;
        if (epoch != b->epoch) {
            s->gap_unknown = 1;
        } else if (after < newest) {
            if (after + 1 < oldest) {
                s->gap_n = oldest - after - 1;
                s->gap_first = after + 1;
                s->gap_last = oldest - 1;
                s->lost += s->gap_n;
                after = oldest - 1;
            }
            for (uint64_t q = after + 1; q <= newest; q++) {
                const lfr_event *e = &b->hist[(q - 1) % (uint64_t)b->hist_cap];
                if (wants(s, e)) sub_push(s, e);
            }
        }
    }
    s->bus = b;
    s->next = b->subs;
    if (b->subs) b->subs->prev = s;
    b->subs = s;
    b->n_subs++;
    pthread_mutex_unlock(&b->mu);
    *out = s;
    return LFR_OK;
}

int lfr_subscription_next(lfr_subscription *s, int timeout_ms, lfr_event *out, int *got)
{
    *got = 0;
    struct timespec dl;
    if (timeout_ms > 0) lfr__deadline_in(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->n > 0) {
            *out = s->ring[s->head];
            s->head = (s->head + 1) % s->cap;
            s->n--;
            *got = 1;
            break;
        }
        if (s->gap_n || s->gap_unknown) {
            gap_event(s, out);
            *got = 1;
            break;
        }
        if (s->closed) {
            pthread_mutex_unlock(&s->mu);
            return lfr__err(LFR_ERR_EOF, "events: the bus is closed");
        }
        if (timeout_ms == 0) break;
        if (timeout_ms < 0)
            pthread_cond_wait(&s->cv, &s->mu);
        else if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
            timeout_ms = 0; /* one last look */
    }
    pthread_mutex_unlock(&s->mu);
    return LFR_OK;
}

void lfr_subscription_depth(lfr_subscription *s, int *queued, uint64_t *lost)
{
    pthread_mutex_lock(&s->mu);
    if (queued) *queued = s->n;
    if (lost) *lost = s->lost;
    pthread_mutex_unlock(&s->mu);
}

void lfr_subscription_close(lfr_subscription *s)
{
    if (!s) return;
    /* The bus pointer is cleared (under both locks) when the bus closes
     * first; take the bus lock before reading it for good. */
    pthread_mutex_lock(&s->mu);
    lfr_events *b = s->bus;
    pthread_mutex_unlock(&s->mu);
    if (b) {
        pthread_mutex_lock(&b->mu);
        if (s->bus) {
            if (s->prev)
                s->prev->next = s->next;
            else
                b->subs = s->next;
            if (s->next) s->next->prev = s->prev;
            b->n_subs--;
            b->lost_closed += s->lost;
            s->bus = NULL;
        }
        pthread_mutex_unlock(&b->mu);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s);
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* A JSON string; text that is not UTF-8 (say, from a camera's error
 * message) has its non-ASCII bytes replaced by '?' rather than refused. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j) return j;
    char tmp[LFR_EVENT_REASON_MAX + LFR_SUBJECT_REF_MAX + 2];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof tmp; i++)
        tmp[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    tmp[i] = 0;
    return json_string(tmp);
}

static json_t *subject_json(const lfr_event_subject *sub, int with_score)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sub->id));
    json_object_set_new(o, "reference", jstr(sub->reference));
    json_object_set_new(o, "category", json_string(lfr_category_name(sub->category)));
    if (with_score) json_object_set_new(o, "score", json_real(sub->score));
    return o;
}

static void put_time(json_t *o, const char *key, int64_t ms)
{
    char t[LFR__TIME_LEN];
    lfr__time_format(ms, t);
    json_object_set_new(o, key, json_string(t));
}

static void alert_json(json_t *o, const lfr_event *e, const char *crop_base)
{
    const int lost = e->type == LFR_EVENT_ALERT_LOST;
    if (!lost) json_object_set_new(o, "alert", json_integer(e->alert.id));
    json_object_set_new(o, "track", json_integer(e->alert.track));
    json_t *f = json_object();
    json_object_set_new(f, "number", json_integer(e->alert.frame_number));
    json_object_set_new(f, "media_time", json_real((double)e->alert.media_ms / 1000.0));
    json_object_set_new(o, "frame", f);
    if (!e->redacted) {
        json_object_set_new(o, "subject", subject_json(&e->alert.subject, 0));
        json_t *c = json_array();
        for (int i = 0; i < e->alert.n_candidates && i < LFR_EVENT_MAX_CANDIDATES; i++)
            json_array_append_new(c, subject_json(&e->alert.candidates[i], 1));
        json_object_set_new(o, "candidates", c);
    }
    json_object_set_new(o, "score", json_real(e->alert.subject.score));
    json_object_set_new(o, "threshold", json_real(e->alert.threshold));
    json_object_set_new(o, "latency_ms", json_real(e->alert.latency_ms));
    if (lost) json_object_set_new(o, "reason", jstr(e->alert.reason));
    if (!lost && crop_base) {
        char link[256];
        snprintf(link, sizeof link, "%s/%lld/crop", crop_base, (long long)e->alert.id);
        json_object_set_new(o, "crop", json_string(link));
    }
}

int lfr_event_json(const lfr_event *e, const char *crop_base, char *buf, size_t cap,
                   size_t *len_out)
{
    if (e->type < 1 || e->type > LFR_N_EVENT_TYPES)
        return lfr__err(LFR_ERR_INVALID, "events: unknown event type %d", (int)e->type);
    json_t *o = json_object();
    if (!o) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    json_object_set_new(o, "type", json_string(lfr_event_type_name(e->type)));
    json_object_set_new(o, "version", json_integer(1));
    if (e->seq) {
        char id[LFR_EVENT_ID_MAX];
        lfr_event_id(e, id);
        json_object_set_new(o, "id", json_string(id));
    }
    put_time(o, "time", e->time_ms);
    if (e->type != LFR_EVENT_GAP)
        json_object_set_new(o, "deployment", json_integer(e->deployment_id));
    if (e->camera[0]) json_object_set_new(o, "camera", jstr(e->camera));
    if (e->redacted) json_object_set_new(o, "redacted", json_true());
    switch (e->type) {
    case LFR_EVENT_ALERT:
    case LFR_EVENT_ALERT_LOST:
        alert_json(o, e, crop_base);
        break;
    case LFR_EVENT_CAMERA:
        json_object_set_new(o, "state", json_string(e->health.up ? "up" : "down"));
        json_object_set_new(o, "reason", jstr(e->health.reason));
        break;
    case LFR_EVENT_COUNTERS:
        json_object_set_new(o, "up", json_boolean(e->counters.up));
        json_object_set_new(o, "frames", json_integer(e->counters.frames));
        json_object_set_new(o, "dropped", json_integer(e->counters.dropped));
        json_object_set_new(o, "detections", json_integer(e->counters.detections));
        json_object_set_new(o, "faces_seen", json_integer(e->counters.faces_seen));
        json_object_set_new(o, "quality_rejects", json_integer(e->counters.quality_rejects));
        json_object_set_new(o, "alerts", json_integer(e->counters.alerts));
        json_object_set_new(o, "alerts_lost", json_integer(e->counters.alerts_lost));
        json_object_set_new(o, "reconnects", json_integer(e->counters.reconnects));
        json_object_set_new(o, "fps", json_real(e->counters.fps));
        break;
    case LFR_EVENT_DEPLOYMENT:
        json_object_set_new(o, "state",
                            json_string(lfr_deployment_state_name(e->deployment.state)));
        json_object_set_new(o, "running", json_boolean(e->deployment.running));
        json_object_set_new(o, "by", jstr(e->deployment.by));
        json_object_set_new(o, "reason", jstr(e->deployment.reason));
        break;
    case LFR_EVENT_GAP:
        json_object_set_new(o, "lost", json_integer((json_int_t)e->gap.lost));
        if (e->gap.first) {
            json_object_set_new(o, "first", json_integer((json_int_t)e->gap.first));
            json_object_set_new(o, "last", json_integer((json_int_t)e->gap.last));
        }
        break;
    }
    size_t n = json_dumpb(o, buf, cap ? cap - 1 : 0, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (n == 0) return lfr__err(LFR_ERR_NOMEM, "events: cannot write JSON");
    if (n >= cap)
        return lfr__err(LFR_ERR_TOO_LARGE, "events: %zu bytes of JSON do not fit in %zu", n, cap);
    buf[n] = 0;
    if (len_out) *len_out = n;
    return LFR_OK;
}
