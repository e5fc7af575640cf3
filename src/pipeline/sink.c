/*
 * Event sinks (include/lfr/run.h): a thread with its own subscription that
 * takes events somewhere else, so that wherever that is (a slow disk, a
 * receiver that is down) only the sink waits: the bus drops what the
 * sink's queue cannot hold and counts it.
 *
 *   file     JSON lines, flushed per event (lfr run --events);
 *   webhook  an HTTP(S) POST per event, signed with HMAC-SHA256 over
 *            "<timestamp>.<body>" (libsodium) and sent through FFmpeg's
 *            HTTP client (the one HTTP client among the project's
 *            dependencies), retried with back-off.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <sodium.h>

#include "lfr/run.h"
#include "util/util.h"

#define SINK_FILE 1
#define SINK_WEBHOOK 2
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define RESPONSE_MAX 65536

struct lfr_event_sink {
    int kind;
    lfr_subscription *sub;
    pthread_t thread;
    FILE *f;
    /* Webhooks. */
    char *url, *ca_file;
    uint8_t *key; /* sodium_malloc'd: locked, guarded */
    size_t key_len;
    int timeout_ms, max_attempts;
    FILE *log;
    /* Closing: set once; the thread delivers until drained or the deadline. */
    int closing;
    int64_t drain_until;
    lfr_event_sink_stats st; /* atomics */
};

static int closing(lfr_event_sink *s)
{
    return __atomic_load_n(&s->closing, __ATOMIC_ACQUIRE);
}

/* Past the drain deadline of a closing sink. */
static int expired(lfr_event_sink *s)
{
    return closing(s) && lfr__mono_ms() >= __atomic_load_n(&s->drain_until, __ATOMIC_ACQUIRE);
}

static void count(uint64_t *x)
{
    __atomic_add_fetch(x, 1, __ATOMIC_RELAXED);
}

/* ---- Files --------------------------------------------------------------------------- */

static void deliver_file(lfr_event_sink *s, const lfr_event *e)
{
    char buf[LFR_EVENT_JSON_MAX];
    size_t n;
    if (lfr_event_json(e, NULL, buf, sizeof buf, &n) || fwrite(buf, 1, n, s->f) != n ||
        fputc('\n', s->f) == EOF || fflush(s->f))
        count(&s->st.failed);
    else
        count(&s->st.delivered);
}

/* ---- Webhooks ------------------------------------------------------------------------ */

static int webhook_interrupt(void *ctx)
{
    return expired(ctx);
}

static void sink_log(lfr_event_sink *s, const char *fmt, ...) LFR__PRINTF(2, 3);
static void sink_log(lfr_event_sink *s, const char *fmt, ...)
{
    FILE *f = s->log ? s->log : stderr;
    va_list ap;
    va_start(ap, fmt);
    flockfile(f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    funlockfile(f);
    va_end(ap);
}

/* "v1=<hex HMAC-SHA256(key, ts "." body)>" */
static void sign(const lfr_event_sink *s, const char *ts, const char *body, size_t n,
                 char out[3 + 2 * crypto_auth_hmacsha256_BYTES + 1])
{
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, s->key, s->key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, n);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1=", 3);
    sodium_bin2hex(out + 3, 2 * crypto_auth_hmacsha256_BYTES + 1, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

/* One POST; LFR_OK on a 2xx answer, else a message. */
static int post(lfr_event_sink *s, const lfr_event *e, const char *body, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))avformat_network_init);
    char ts[24], sig[3 + 2 * crypto_auth_hmacsha256_BYTES + 1], id[LFR_EVENT_ID_MAX];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    sign(s, ts, body, n, sig);
    lfr_event_id(e, id);
    char headers[512];
    snprintf(headers, sizeof headers,
             "X-LFR-Event: %s\r\nX-LFR-Event-Id: %s\r\nX-LFR-Timestamp: %s\r\n"
             "X-LFR-Signature: %s\r\n",
             lfr_event_type_name(e->type), id, ts, sig);
    /* FFmpeg takes binary options as hex. */
    char *hex = malloc(2 * n + 1);
    if (!hex) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    sodium_bin2hex(hex, 2 * n + 1, (const uint8_t *)body, n);
    AVDictionary *o = NULL;
    av_dict_set(&o, "method", "POST", 0);
    av_dict_set(&o, "post_data", hex, 0);
    av_dict_set(&o, "content_type", "application/json", 0);
    av_dict_set(&o, "headers", headers, 0);
    av_dict_set(&o, "protocol_whitelist", "http,https,tls,tcp", 0);
    av_dict_set_int(&o, "rw_timeout", (int64_t)s->timeout_ms * 1000, 0);
    av_dict_set_int(&o, "timeout", (int64_t)s->timeout_ms * 1000, 0);
    if (!strncmp(s->url, "https://", 8)) {
        av_dict_set(&o, "tls_verify", "1", 0);
        if (s->ca_file) av_dict_set(&o, "ca_file", s->ca_file, 0);
    }
    AVIOInterruptCB cb = {webhook_interrupt, s};
    AVIOContext *pb = NULL;
    int r = avio_open2(&pb, s->url, AVIO_FLAG_READ, &cb, &o);
    av_dict_free(&o);
    free(hex);
    if (r < 0) {
        char why[128];
        if (av_strerror(r, why, sizeof why) < 0) snprintf(why, sizeof why, "error %d", r);
        return lfr__err(LFR_ERR_IO, "%s", why);
    }
    /* Read (and drop) the answer, so that the connection ends cleanly. */
    uint8_t buf[4096];
    size_t total = 0;
    int k;
    while (total < RESPONSE_MAX && (k = avio_read(pb, buf, sizeof buf)) > 0)
        total += (size_t)k;
    avio_closep(&pb);
    return LFR_OK;
}

/* Sleep up to ms in short steps, returning early past the drain deadline. */
static void nap(lfr_event_sink *s, int64_t ms)
{
    int64_t until = lfr__mono_ms() + ms;
    while (!expired(s)) {
        int64_t left = until - lfr__mono_ms();
        if (left <= 0) break;
        struct timespec ts = {0, (long)(left > 100 ? 100 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void deliver_webhook(lfr_event_sink *s, const lfr_event *e)
{
    char body[LFR_EVENT_JSON_MAX];
    size_t n;
    if (lfr_event_json(e, "/api/v1/alerts", body, sizeof body, &n)) {
        count(&s->st.failed);
        return;
    }
    int64_t backoff = BACKOFF_FIRST_MS;
    for (int attempt = 1;; attempt++) {
        if (post(s, e, body, n) == LFR_OK) {
            count(&s->st.delivered);
            return;
        }
        if (attempt >= s->max_attempts || expired(s)) {
            char id[LFR_EVENT_ID_MAX];
            lfr_event_id(e, id);
            sink_log(s, "webhook %s: %s event %s given up after %d attempts: %s", s->url,
                     lfr_event_type_name(e->type), id[0] ? id : "(gap)", attempt, lfr_errmsg());
            count(&s->st.failed);
            return;
        }
        count(&s->st.retries);
        nap(s, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* ---- The thread ------------------------------------------------------------------------ */

static void *sink_main(void *arg)
{
    lfr_event_sink *s = arg;
    for (;;) {
        if (expired(s)) break;
        lfr_event e;
        int got = 0;
        if (lfr_subscription_next(s->sub, closing(s) ? 0 : 200, &e, &got) != LFR_OK) break;
        if (!got) {
            if (closing(s)) break; /* drained */
            continue;
        }
        if (s->kind == SINK_FILE)
            deliver_file(s, &e);
        else
            deliver_webhook(s, &e);
    }
    return NULL;
}

static int sink_start(lfr_event_sink *s, lfr_events *bus, const lfr_subscribe_params *params,
                      lfr_event_sink **out)
{
    int rc = lfr_events_subscribe(bus, params, &s->sub);
    if (!rc && pthread_create(&s->thread, NULL, sink_main, s))
        rc = lfr__err(LFR_ERR_NOMEM, "cannot start a thread");
    if (rc) {
        lfr_subscription_close(s->sub);
        free(s->url);
        free(s->ca_file);
        if (s->key) sodium_free(s->key);
        free(s);
        return rc;
    }
    *out = s;
    return LFR_OK;
}

int lfr_event_sink_open_file(lfr_events *bus, const lfr_subscribe_params *params, FILE *f,
                             lfr_event_sink **out)
{
    *out = NULL;
    if (!bus || !f) return lfr__err(LFR_ERR_INVALID, "event sink: no bus or no file");
    lfr_event_sink *s = calloc(1, sizeof *s);
    if (!s) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    s->kind = SINK_FILE;
    s->f = f;
    return sink_start(s, bus, params, out);
}

int lfr_event_sink_open_webhook(lfr_events *bus, const lfr_webhook_config *c, lfr_event_sink **out)
{
    *out = NULL;
    if (!bus || !c || !c->url) return lfr__err(LFR_ERR_INVALID, "webhook: no bus or no URL");
    if (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))
        return lfr__err(LFR_ERR_INVALID, "webhook: '%.200s' is not an http:// or https:// URL",
                        c->url);
    if (!c->key || c->key_len < 16 || c->key_len > 64)
        return lfr__err(LFR_ERR_INVALID, "webhook %.200s: the key must be 16 to 64 bytes", c->url);
    lfr_event_sink *s = calloc(1, sizeof *s);
    if (!s) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    s->kind = SINK_WEBHOOK;
    s->url = strdup(c->url);
    s->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
    s->key = sodium_malloc(c->key_len);
    s->key_len = c->key_len;
    s->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 5000;
    s->max_attempts = c->max_attempts > 0 ? c->max_attempts : 8;
    s->log = c->log;
    if (!s->url || !s->key || (c->ca_file && !s->ca_file)) {
        free(s->url);
        free(s->ca_file);
        if (s->key) sodium_free(s->key);
        free(s);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    memcpy(s->key, c->key, c->key_len);
    return sink_start(s, bus, &c->params, out);
}

void lfr_event_sink_get_stats(lfr_event_sink *s, lfr_event_sink_stats *out)
{
    out->delivered = __atomic_load_n(&s->st.delivered, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&s->st.failed, __ATOMIC_RELAXED);
    out->retries = __atomic_load_n(&s->st.retries, __ATOMIC_RELAXED);
    lfr_subscription_depth(s->sub, NULL, &out->lost);
}

void lfr_event_sink_close(lfr_event_sink *s, int drain_ms, lfr_event_sink_stats *stats_out)
{
    if (!s) return;
    __atomic_store_n(&s->drain_until, lfr__mono_ms() + (drain_ms > 0 ? drain_ms : 0),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
    pthread_join(s->thread, NULL);
    if (stats_out) lfr_event_sink_get_stats(s, stats_out);
    lfr_subscription_close(s->sub);
    free(s->url);
    free(s->ca_file);
    if (s->key) sodium_free(s->key);
    free(s);
}
