/*
 * Evaluations: accuracy and bias test runs (dataset fingerprint, model and
 * engine version, when, who) and their figures (per group, per metric, at a
 * threshold, with a sample size and an interval), kept so that the
 * transparency report can say when testing was done and what it found.
 *
 * The audit entry of a run carries a BLAKE2b-256 hash of its figures. The
 * hash is over an exact encoding: each text as its length (8 bytes,
 * big-endian) and bytes; each number as a flag byte (0 = none/NaN, 1 = a
 * value) followed by its IEEE-754 bits, big-endian, with -0 taken as 0 (the
 * database does not keep the sign of zero); n as 8 bytes. Verification
 * recomputes it from the stored figures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"

#define TEXT_MAX 1000

static int check_text(const char *what, const char *v, size_t lo, size_t hi)
{
    size_t n = v ? strnlen(v, hi + 1) : 0;
    if (n < lo || n > hi)
        return lfr__err(LFR_ERR_INVALID, "evaluation: %s needs %zu to %zu characters", what, lo,
                        hi);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return lfr__err(LFR_ERR_INVALID, "evaluation: %s holds a control character", what);
    return LFR_OK;
}

static int check_hex64(const char *v)
{
    if (!v || strlen(v) != 64)
        return lfr__err(LFR_ERR_INVALID, "evaluation: dataset_sha256 needs 64 hex digits");
    for (int i = 0; i < 64; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return lfr__err(LFR_ERR_INVALID,
                            "evaluation: dataset_sha256 needs 64 lowercase hex digits");
    return LFR_OK;
}

/* ---- The figures' hash ----------------------------------------------------------- */

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

static void put_text(crypto_generichash_state *h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u64(h, n);
    if (n) crypto_generichash_update(h, (const uint8_t *)s, n);
}

static void put_real(crypto_generichash_state *h, double v)
{
    uint8_t flag = isnan(v) ? 0 : 1;
    crypto_generichash_update(h, &flag, 1);
    if (!flag) return;
    if (v == 0) v = 0; /* -0 as 0 */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u64(h, bits);
}

static void hash_metric(crypto_generichash_state *h, const lfr_eval_metric *m)
{
    put_text(h, m->group);
    put_text(h, m->metric);
    put_real(h, m->threshold);
    put_real(h, m->value);
    put_real(h, m->ci_low);
    put_real(h, m->ci_high);
    put_u64(h, (uint64_t)(m->n < 0 ? -1 : m->n));
}

static void hash_init(crypto_generichash_state *h)
{
    crypto_generichash_init(h, NULL, 0, LFR_HASH_BYTES);
    put_text(h, "openlfr evaluation figures v1");
}

static void hash_final(crypto_generichash_state *h, char hex[2 * LFR_HASH_BYTES + 1])
{
    uint8_t d[LFR_HASH_BYTES];
    crypto_generichash_final(h, d, sizeof d);
    sodium_bin2hex(hex, 2 * LFR_HASH_BYTES + 1, d, sizeof d);
}

static int hash_one(const lfr_eval_metric *m, void *ctx)
{
    hash_metric(ctx, m);
    return 0;
}

int lfr__evaluation_metrics_hash(lfr_store *s, int64_t id, char hex_out[2 * LFR_HASH_BYTES + 1])
{
    crypto_generichash_state h;
    hash_init(&h);
    int rc = s->be->evaluation_metrics_each(s->db, id, hash_one, &h);
    if (rc) return rc;
    hash_final(&h, hex_out);
    return LFR_OK;
}

/* ---- Detail ------------------------------------------------------------------------ */

static void json_field(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":", n > 1 ? "," : "", key);
    lfr__json_append_str(buf, cap - 1, value ? value : "");
}

char *lfr__evaluation_detail(const lfr_evaluation *e, int64_t n_metrics, const char *metrics_hex)
{
    const char *text[] = {e->kind,  e->run_at,         e->dataset, e->dataset_sha256,
                          e->model, e->engine_version, e->notes};
    size_t cap = 512;
    for (int i = 0; i < 7; i++)
        cap += 6 * (text[i] ? strlen(text[i]) : 0);
    char *d = malloc(cap);
    if (!d) return NULL;
    d[0] = '{';
    d[1] = 0;
    json_field(d, cap, "kind", e->kind);
    json_field(d, cap, "run_at", e->run_at);
    json_field(d, cap, "dataset", e->dataset);
    json_field(d, cap, "dataset_sha256", e->dataset_sha256);
    json_field(d, cap, "model", e->model);
    json_field(d, cap, "engine_version", e->engine_version);
    json_field(d, cap, "notes", e->notes);
    size_t n = strlen(d);
    snprintf(d + n, cap - n, ",\"n_metrics\":%lld,\"metrics_blake2b\":\"%s\"}",
             (long long)n_metrics, metrics_hex);
    return d;
}

/* ---- API ----------------------------------------------------------------------------- */

static int check_metric(size_t i, const lfr_eval_metric *m)
{
    char what[64];
    snprintf(what, sizeof what, "figure %zu metric", i);
    int rc = check_text(what, m->metric, 1, 64);
    snprintf(what, sizeof what, "figure %zu group", i);
    if (!rc && m->group) rc = check_text(what, m->group, 0, 200);
    double v[4] = {m->threshold, m->value, m->ci_low, m->ci_high};
    for (int k = 0; k < 4 && !rc; k++)
        if (isinf(v[k]))
            rc = lfr__err(LFR_ERR_INVALID, "evaluation: figure %zu holds an infinity", i);
    if (!rc && m->n < -1)
        rc = lfr__err(LFR_ERR_INVALID, "evaluation: figure %zu has a negative sample size", i);
    return rc;
}

int lfr_store_evaluation_add(lfr_store *s, const lfr_user *actor, const lfr_evaluation *in,
                             const lfr_eval_metric *metrics, size_t n_metrics, int64_t *id_out)
{
    if (id_out) *id_out = 0;
    if (!in || (n_metrics && !metrics)) return lfr__err(LFR_ERR_INVALID, "evaluation: no run");
    int rc = check_text("kind", in->kind, 1, 64);
    if (!rc) rc = check_text("dataset", in->dataset, 1, TEXT_MAX);
    if (!rc) rc = check_hex64(in->dataset_sha256);
    if (!rc) rc = check_text("model", in->model, 1, TEXT_MAX);
    if (!rc) rc = check_text("engine version", in->engine_version, 1, 200);
    if (!rc && in->notes) rc = check_text("notes", in->notes, 0, TEXT_MAX);
    if (!rc && n_metrics > LFR_EVAL_MAX_METRICS)
        rc = lfr__err(LFR_ERR_TOO_LARGE, "evaluation: more than %d figures", LFR_EVAL_MAX_METRICS);
    for (size_t i = 0; i < n_metrics && !rc; i++)
        rc = check_metric(i, &metrics[i]);
    char now[LFR__TIME_LEN], at[LFR__TIME_LEN];
    if (!rc) rc = lfr__clock_now(now);
    if (!rc && in->run_at) {
        rc = lfr__filter_time(in->run_at, 0, at);
        if (rc) lfr__err_prefix(rc, "evaluation: run_at");
    }
    if (rc) return rc;
    if (!in->run_at) memcpy(at, now, sizeof at);
    if (strcmp(at, now) > 0)
        return lfr__err(LFR_ERR_INVALID, "evaluation: run_at %s is in the future", at);

    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_EVALUATION_ADD, "evaluation", &row);
    if (rc) return rc;

    lfr_evaluation e = *in;
    e.run_at = at;
    e.notes = in->notes ? in->notes : "";
    e.recorded_by = row.user.name;
    e.recorded_at = now;
    crypto_generichash_state h;
    hash_init(&h);
    for (size_t i = 0; i < n_metrics; i++)
        hash_metric(&h, &metrics[i]);
    char hex[2 * LFR_HASH_BYTES + 1];
    hash_final(&h, hex);

    rc = lfr__store_begin(s);
    if (rc) return rc;
    int64_t id = 0;
    rc = s->be->evaluation_insert(s->db, &e, metrics, n_metrics, &id);
    if (!rc) {
        char *detail = lfr__evaluation_detail(&e, (int64_t)n_metrics, hex);
        char object[48];
        snprintf(object, sizeof object, "evaluation:%lld", (long long)id);
        rc = detail ? lfr__audit_append(s, row.user.name, "evaluation.add", object, detail)
                    : lfr__err(LFR_ERR_NOMEM, "out of memory");
        free(detail);
    }
    if (rc) {
        lfr__store_rollback(s);
        return rc;
    }
    rc = lfr__store_commit(s);
    if (!rc && id_out) *id_out = id;
    return rc;
}

int lfr_store_evaluation_list(lfr_store *s, const lfr_user *actor, const char *from, const char *to,
                              int (*fn)(const lfr_evaluation *e, void *ctx), void *ctx)
{
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN];
    int rc = from ? lfr__filter_time(from, 0, f) : LFR_OK;
    if (!rc && to) rc = lfr__filter_time(to, 1, t);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_EVALUATION_LIST, "evaluation", &row);
    if (rc) return rc;
    return s->be->evaluation_each(s->db, from ? f : NULL, to ? t : NULL, fn, ctx);
}

int lfr_store_evaluation_metrics(lfr_store *s, const lfr_user *actor, int64_t id,
                                 int (*fn)(const lfr_eval_metric *m, void *ctx), void *ctx)
{
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_EVALUATION_LIST, "evaluation", &row);
    if (rc) return rc;
    return s->be->evaluation_metrics_each(s->db, id, fn, ctx);
}
