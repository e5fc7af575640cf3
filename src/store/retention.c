/*
 * Retention: the policy (one configuration, in the database, every change
 * audited) and its enforcement.
 *
 * lfr_store_retention_run deletes, in this order: alert crops older than
 * alert_crop_days; the frozen templates of deployments that ended more than
 * snapshot_purge_hours ago (the end is the stop, or the planned end of a
 * deployment that was never stopped); the images of subjects expired more
 * than expired_subject_days ago. Each deletion is one transaction that
 * marks the rows and appends a "retention.delete" receipt (what, how many,
 * which ids and hashes); the files go after the commit. Killed at any
 * point, a rerun finds only what is left: rows not yet marked are deleted
 * then, files whose rows were marked are orphans that the final sweep
 * removes. So the run is idempotent, and safe to kill.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util/util.h"

/* Receipts list at most this many items each; more make several receipts. */
#define BATCH 500

static const struct {
    const char *key;
    int64_t def, max;
    size_t off;
} policy_keys[] = {
    {"alert_crop_days", 31, 3650, offsetof(lfr_policy, alert_crop_days)},
    {"snapshot_purge_hours", 24, 87600, offsetof(lfr_policy, snapshot_purge_hours)},
    {"expired_subject_days", 0, 3650, offsetof(lfr_policy, expired_subject_days)},
    /* How often the transparency log publishes a checkpoint (log.c). */
    {"checkpoint_entries", 1000, 1000000, offsetof(lfr_policy, checkpoint_entries)},
    {"checkpoint_minutes", 60, 1440, offsetof(lfr_policy, checkpoint_minutes)},
};
#define N_KEYS (sizeof policy_keys / sizeof policy_keys[0])

static int policy_row(const char *key, int64_t value, const char *by, const char *at, void *ctx)
{
    lfr_policy *p = ctx;
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(key, policy_keys[i].key)) *(int64_t *)((char *)p + policy_keys[i].off) = value;
    if (strcmp(at, p->set_at) > 0) {
        snprintf(p->set_by, sizeof p->set_by, "%s", by);
        snprintf(p->set_at, sizeof p->set_at, "%s", at);
    }
    return 0;
}

int lfr_store_policy_get(lfr_store *s, lfr_policy *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < N_KEYS; i++)
        *(int64_t *)((char *)out + policy_keys[i].off) = policy_keys[i].def;
    return s->be->policy_each(s->db, policy_row, out);
}

int lfr_store_policy_set(lfr_store *s, const lfr_user *actor, const char *key, int64_t value)
{
    size_t k = 0;
    while (k < N_KEYS && (!key || strcmp(key, policy_keys[k].key)))
        k++;
    if (k == N_KEYS)
        return lfr__err(LFR_ERR_INVALID,
                        "policy: unknown setting \"%.40s\" (alert_crop_days, snapshot_purge_hours,"
                        " expired_subject_days, checkpoint_entries, checkpoint_minutes)",
                        key ? key : "");
    if (value < 0 || value > policy_keys[k].max)
        return lfr__err(LFR_ERR_INVALID, "policy: %s must be 0 to %lld", key,
                        (long long)policy_keys[k].max);
    char now[LFR__TIME_LEN], object[64];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "policy:%s", key);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_POLICY_SET, object, &row);
    if (rc) return rc;
    lfr_policy old;
    rc = lfr_store_policy_get(s, &old);
    if (rc) return rc;
    char detail[128];
    snprintf(detail, sizeof detail, "{\"value\":%lld,\"previous\":%lld}", (long long)value,
             (long long)*(int64_t *)((char *)&old + policy_keys[k].off));
    rc = lfr__store_begin(s);
    if (!rc) rc = s->be->policy_put(s->db, key, value, row.user.name, now);
    if (!rc) rc = lfr__audit_append_at(s, now, row.user.name, "policy.set", object, detail);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    return rc;
}

/* ---- Enforcement -------------------------------------------------------------------- */

/* A sealed file's name read from a row, checked before the row is marked
 * and the file removed: retention stops rather than act on a row that was
 * changed outside lfr. */
static int name_ok(const char *what, int64_t id, const char *name)
{
    if (lfr__media_name_ok(name)) return LFR_OK;
    return lfr__err(LFR_ERR_TAMPERED,
                    "retention: %s %lld names media file \"%.40s\", not one openlfr makes: the"
                    " database was changed outside lfr (run lfr audit verify)",
                    what, (long long)id, name);
}

static int64_t minus(int64_t ms, int64_t amount, int64_t unit_ms)
{
    return ms - amount * unit_ms;
}

/* A growing JSON text. */
typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void add(buf *b, const char *fmt, const char *a, long long v)
{
    if (b->oom) return;
    size_t need = strlen(fmt) + (a ? strlen(a) : 0) + 32;
    if (b->n + need >= b->cap) {
        size_t cap = (b->cap ? 2 * b->cap : 1024) + need;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    int w = a ? snprintf(b->p + b->n, b->cap - b->n, fmt, a, v)
              : snprintf(b->p + b->n, b->cap - b->n, fmt, v);
    if (w > 0) b->n += (size_t)w;
}

/* Alerts with a crop older than the cutoff. A crop's age runs from the
 * alert's capture time, or from when the store recorded it if that is
 * earlier: the capture time comes from the pipeline, and a camera clock
 * set in the future must not keep a crop past the policy. */
typedef struct crops {
    const char *cutoff;
    lfr__alert_row *v;
    int n;
} crops;

static int on_crop(const lfr__alert_row *r, void *ctx)
{
    crops *c = ctx;
    const char *since = strcmp(r->a.time, r->recorded_at) < 0 ? r->a.time : r->recorded_at;
    if (!r->crop_file[0] || strcmp(since, c->cutoff) >= 0) return 0;
    c->v[c->n++] = *r;
    return c->n == BATCH ? 1 : 0;
}

static int delete_crops(lfr_store *s, const char *actor, const char *now, const char *cutoff,
                        lfr_retention_result *res)
{
    for (;;) {
        crops c = {cutoff, malloc(BATCH * sizeof(lfr__alert_row)), 0};
        if (!c.v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        lfr_alert_filter f = {0};
        int rc = s->be->alert_each(s->db, &f, on_crop, &c);
        if (rc == 1) rc = 0;
        if (rc || c.n == 0) {
            free(c.v);
            return rc;
        }
        buf d = {0};
        add(&d, "{\"receipt\":\"alert crops deleted\",\"recorded_before\":\"%s\"", cutoff, 0);
        add(&d, ",\"n\":%lld,\"alerts\":[", NULL, c.n);
        for (int i = 0; i < c.n; i++)
            add(&d, i ? ",%lld" : "%lld", NULL, (long long)c.v[i].a.id);
        add(&d, "],\"sha256\":[", NULL, 0);
        for (int i = 0; i < c.n; i++)
            add(&d, i ? ",\"%s\"" : "\"%s\"", c.v[i].a.crop_sha256, 0);
        add(&d, "]}", NULL, 0);
        rc = d.oom ? lfr__err(LFR_ERR_NOMEM, "out of memory") : LFR_OK;
        for (int i = 0; !rc && i < c.n; i++)
            rc = name_ok("alert", c.v[i].a.id, c.v[i].crop_file);
        if (!rc) rc = lfr__store_begin(s);
        for (int i = 0; !rc && i < c.n; i++) {
            lfr__alert_row r = c.v[i];
            r.crop_file[0] = 0;
            r.a.has_crop = 0;
            snprintf(r.a.crop_deleted_at, sizeof r.a.crop_deleted_at, "%s", now);
            rc = s->be->alert_update(s->db, &r);
        }
        if (!rc) rc = lfr__audit_append_at(s, now, actor, "retention.delete", "alerts", d.p);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
        free(d.p);
        if (!rc) {
            for (int i = 0; i < c.n; i++)
                lfr__media_unlink(s, c.v[i].crop_file);
            lfr__media_sync(s);
            res->alert_crops += c.n;
        }
        free(c.v);
        if (rc) return rc;
    }
}

/* Deployments whose snapshot is due for purging. */
typedef struct due {
    const char *cutoff;
    int64_t *ids;
    int n, cap;
} due;

static int on_deployment(const lfr__deployment_row *r, void *ctx)
{
    due *x = ctx;
    const char *end = r->d.stopped_at[0] ? r->d.stopped_at : r->d.planned_end;
    if (!r->snapshot_file[0] || !r->d.started_at[0] || strcmp(end, x->cutoff) > 0) return 0;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 16;
        int64_t *v = realloc(x->ids, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->ids = v;
        x->cap = cap;
    }
    x->ids[x->n++] = r->d.id;
    return 0;
}

static int purge_snapshots(lfr_store *s, const char *actor, const char *now, const char *cutoff,
                           lfr_retention_result *res)
{
    due x = {cutoff, NULL, 0, 0};
    int rc = s->be->deployment_each(s->db, NULL, NULL, on_deployment, &x);
    lfr__deployment_row *r = malloc(sizeof *r);
    if (!r && !rc) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < x.n; i++) {
        rc = s->be->deployment_get(s->db, x.ids[i], r);
        if (!rc) rc = name_ok("deployment", r->d.id, r->snapshot_file);
        if (rc) break;
        char file[65], object[48], detail[400];
        snprintf(file, sizeof file, "%s", r->snapshot_file);
        snprintf(object, sizeof object, "deployment:%lld", (long long)r->d.id);
        snprintf(detail, sizeof detail,
                 "{\"receipt\":\"watchlist snapshot templates deleted\",\"ended\":\"%s\","
                 "\"n\":%lld,\"snapshot_hash\":\"%s\"}",
                 r->d.stopped_at[0] ? r->d.stopped_at : r->d.planned_end,
                 (long long)r->d.snapshot_images, r->d.snapshot_hash);
        r->snapshot_file[0] = 0;
        snprintf(r->d.purged_at, sizeof r->d.purged_at, "%s", now);
        rc = lfr__store_begin(s);
        if (!rc) rc = s->be->deployment_update(s->db, r);
        if (!rc) rc = lfr__audit_append_at(s, now, actor, "retention.delete", object, detail);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
        if (!rc) {
            lfr__media_unlink(s, file);
            lfr__media_sync(s);
            res->snapshots++;
            res->snapshot_images += r->d.snapshot_images;
        }
    }
    free(r);
    free(x.ids);
    return rc;
}

/* Expired subjects (not removed) with images left. */
typedef struct expired {
    const char *cutoff;
    lfr_subject *v;
    int n, cap;
} expired;

static int on_subject(const lfr_subject *sub, void *ctx)
{
    expired *x = ctx;
    if (sub->n_images == 0 || strcmp(sub->expires_at, x->cutoff) > 0) return 0;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 16;
        lfr_subject *v = realloc(x->v, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = *sub;
    return 0;
}

typedef struct imgs {
    lfr_subject_image *v;
    int n, cap;
} imgs;

static int on_image(const lfr_subject_image *im, void *ctx)
{
    imgs *x = ctx;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 8;
        lfr_subject_image *v = realloc(x->v, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = *im;
    return 0;
}

static int delete_expired(lfr_store *s, const char *actor, const char *now, const char *cutoff,
                          lfr_retention_result *res)
{
    expired x = {cutoff, NULL, 0, 0};
    int rc = s->be->subject_each(s->db, 0, now, on_subject, &x);
    for (int i = 0; !rc && i < x.n; i++) {
        imgs l = {0};
        rc = s->be->image_each(s->db, x.v[i].id, 1, on_image, &l);
        for (int k = 0; !rc && k < l.n; k++)
            rc = name_ok("image", l.v[k].id, l.v[k].media_file);
        buf d = {0};
        add(&d, "{\"receipt\":\"expired subject's images deleted\",\"reference\":\"%s\"",
            x.v[i].reference, 0);
        add(&d, ",\"expired\":\"%s\"", x.v[i].expires_at, 0);
        add(&d, ",\"n\":%lld,\"sha256\":[", NULL, l.n);
        for (int k = 0; k < l.n; k++)
            add(&d, k ? ",\"%s\"" : "\"%s\"", l.v[k].sha256, 0);
        add(&d, "]}", NULL, 0);
        if (!rc && d.oom) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        if (!rc) rc = lfr__store_begin(s);
        for (int k = 0; !rc && k < l.n; k++)
            rc = s->be->image_delete(s->db, l.v[k].id, now);
        char object[48];
        snprintf(object, sizeof object, "subject:%lld", (long long)x.v[i].id);
        if (!rc) rc = lfr__audit_append_at(s, now, actor, "retention.delete", object, d.p);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
        free(d.p);
        if (!rc) {
            for (int k = 0; k < l.n; k++)
                lfr__media_unlink(s, l.v[k].media_file);
            lfr__media_sync(s);
            res->subjects++;
            res->subject_images += l.n;
        }
        free(l.v);
    }
    free(x.v);
    return rc;
}

int lfr_store_retention_run(lfr_store *s, const lfr_user *actor, lfr_retention_result *out)
{
    lfr_retention_result res;
    memset(&res, 0, sizeof res);
    if (out) *out = res;
    char now[LFR__TIME_LEN];
    int64_t now_ms;
    int rc = lfr__clock_now_ms(&now_ms);
    if (rc) return rc;
    lfr__time_format(now_ms, now);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_RETENTION_RUN, "retention", &row);
    if (rc) return rc;
    lfr_policy p;
    rc = lfr_store_policy_get(s, &p);
    if (rc) return rc;
    char c1[LFR__TIME_LEN], c2[LFR__TIME_LEN], c3[LFR__TIME_LEN];
    lfr__time_format(minus(now_ms, p.alert_crop_days, 86400000), c1);
    lfr__time_format(minus(now_ms, p.snapshot_purge_hours, 3600000), c2);
    lfr__time_format(minus(now_ms, p.expired_subject_days, 86400000), c3);
    const char *who = row.user.name;
    rc = delete_crops(s, who, now, c1, &res);
    if (!rc) rc = purge_snapshots(s, who, now, c2, &res);
    if (!rc) rc = delete_expired(s, who, now, c3, &res);
    if (!rc) rc = lfr_store_media_sweep(s, &res.orphans);
    if (!rc) {
        char detail[600];
        snprintf(detail, sizeof detail,
                 "{\"policy\":{\"alert_crop_days\":%lld,\"snapshot_purge_hours\":%lld,"
                 "\"expired_subject_days\":%lld},\"deleted\":{\"alert_crops\":%lld,"
                 "\"snapshots\":%lld,\"snapshot_templates\":%lld,\"subjects\":%lld,"
                 "\"subject_images\":%lld,\"orphan_files\":%lld}}",
                 (long long)p.alert_crop_days, (long long)p.snapshot_purge_hours,
                 (long long)p.expired_subject_days, (long long)res.alert_crops,
                 (long long)res.snapshots, (long long)res.snapshot_images, (long long)res.subjects,
                 (long long)res.subject_images, (long long)res.orphans);
        rc = lfr__store_begin(s);
        if (!rc) rc = lfr__audit_append_at(s, now, who, "retention.run", "retention", detail);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
    }
    if (out) *out = res;
    return rc;
}

int lfr_store_report_begin(lfr_store *s, const lfr_user *actor, const char *kind, const char *from,
                           const char *to, const char *format)
{
    if (!kind || (strcmp(kind, "grid") && strcmp(kind, "foi")))
        return lfr__err(LFR_ERR_INVALID, "report: unknown kind");
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN];
    int rc = from ? lfr__filter_time(from, 0, f) : LFR_OK;
    if (!rc && to) rc = lfr__filter_time(to, 1, t);
    if (rc) return rc;
    char object[32], action[32];
    snprintf(object, sizeof object, "report:%s", kind);
    snprintf(action, sizeof action, "report.%s", kind);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_REPORT, object, &row);
    if (rc) return rc;
    for (const char *c = format ? format : ""; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            return lfr__err(LFR_ERR_INVALID, "report: bad format name");
    char detail[200];
    snprintf(detail, sizeof detail, "{\"from\":\"%s\",\"to\":\"%s\",\"format\":\"%.16s\"}",
             from ? f : "", to ? t : "", format ? format : "");
    rc = lfr__store_begin(s);
    if (!rc) rc = lfr__audit_append(s, row.user.name, action, object, detail);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    return rc;
}
