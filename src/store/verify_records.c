/*
 * Records against the chain. The chain proves that the audit entries were
 * not altered; this proves that the records still say what the entries say.
 * Every user row must match the one user.add entry that created it (id,
 * name, role), every row of the sharing register its sharing.add entry
 * (every field), every evaluation its evaluation.add entry (every field,
 * and the hash of its figures), every subject its subject.add entry (its
 * fields and each image's id, provenance and hashes) and, once removed, one
 * subject.remove entry, with as many entries as rows: so a role raised, a
 * disclosure edited, or a row inserted or deleted with plain SQL is found
 * and named. The entries' details are rebuilt from the rows by the same
 * functions that wrote them, and compared as text.
 *
 * Deployments are checked step by step (create, authorise, start with its
 * frozen watchlist's hash, stop with the final counters, purge), each
 * against its one entry, actor and time; the frozen rows against the hash
 * and against the subjects and images they were taken from, and the sealed
 * snapshot file named until a purge that has its receipt. An alert is
 * checked against its alert.add entry (fields, actor, time), its crop
 * against the retention receipt that deleted it, its adjudication against
 * the newest alert.adjudicate entry. A policy value is checked against the
 * newest policy.set entry for it, and every value set must still have its
 * row. An image of a subject that was not removed is deleted only with a
 * retention receipt. Where an entry concerns the mismatch, it is named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util/util.h"

/* Returned by callbacks to stop a walk at a mismatch (status codes are >= 0). */
#define STOP (-1)

typedef struct found {
    int n;
    uint64_t seq;
    char *detail; /* of the first match, malloc'd */
} found;

static int on_found(const lfr_audit_entry *e, void *ctx)
{
    found *f = ctx;
    if (f->n++ == 0) {
        f->seq = e->seq;
        f->detail = strdup(e->detail);
        if (!f->detail) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int lookup(lfr_store *s, const char *action, const char *object, found *f)
{
    memset(f, 0, sizeof *f);
    lfr_audit_filter q = {.action = action, .object = object};
    return s->be->audit_each(s->db, &q, on_found, f);
}

typedef struct check {
    lfr_store *s;
    lfr_audit_verdict *v;
    int64_t n_rows;
} check;

static int mismatch(check *c, uint64_t seq, const char *fmt, const char *what)
{
    c->v->first_bad = seq;
    snprintf(c->v->reason, sizeof c->v->reason, fmt, what);
    return STOP;
}

/* Compare one record with its creating entry; `expected` and `alt` are the
 * details it may have (alt may be NULL). */
static int compare(check *c, const char *what, const char *action, const char *object,
                   const char *expected, const char *alt)
{
    found f;
    int rc = lookup(c->s, action, object, &f);
    if (rc) {
        free(f.detail);
        return rc;
    }
    c->n_rows++;
    if (f.n == 0) return mismatch(c, 0, "%s has no audit entry: it was added outside lfr", what);
    if (f.n > 1) {
        free(f.detail);
        return mismatch(c, f.seq, "%s has more than one creating audit entry", what);
    }
    int same = !strcmp(f.detail, expected) || (alt && !strcmp(f.detail, alt));
    free(f.detail);
    if (!same)
        return mismatch(c, f.seq, "%s no longer matches this audit entry: changed outside lfr",
                        what);
    return 0;
}

static int check_user(const lfr_user *u, void *ctx)
{
    check *c = ctx;
    char what[96], object[96], d1[LFR__USER_DETAIL_MAX], d2[LFR__USER_DETAIL_MAX];
    snprintf(what, sizeof what, "user %s", u->name);
    snprintf(object, sizeof object, "user:%s", u->name);
    lfr__user_detail(u->id, u->role, 0, d1);
    lfr__user_detail(u->id, u->role, 1, d2);
    return compare(c, what, "user.add", object, d1, d2);
}

static int check_sharing(const lfr_sharing *e, void *ctx)
{
    check *c = ctx;
    char what[64], object[64];
    snprintf(what, sizeof what, "sharing entry %lld", (long long)e->id);
    snprintf(object, sizeof object, "sharing:%lld", (long long)e->id);
    char *d = lfr__sharing_detail(e);
    if (!d) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = compare(c, what, "sharing.add", object, d, NULL);
    free(d);
    return rc;
}

static int check_evaluation(const lfr_evaluation *e, void *ctx)
{
    check *c = ctx;
    char what[64], object[64], hex[2 * LFR_HASH_BYTES + 1];
    snprintf(what, sizeof what, "evaluation %lld", (long long)e->id);
    snprintf(object, sizeof object, "evaluation:%lld", (long long)e->id);
    int rc = lfr__evaluation_metrics_hash(c->s, e->id, hex);
    if (rc) return rc;
    char *d = lfr__evaluation_detail(e, e->n_metrics, hex);
    if (!d) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = compare(c, what, "evaluation.add", object, d, NULL);
    free(d);
    return rc;
}

/* An entry of `action` on `object` at time `at` (any detail). */
typedef struct at_time {
    const char *time;
    int64_t id; /* for receipts listing alert ids: the id to find; 0: any entry */
    int n;
} at_time;

/* Whether the JSON array after "key":[ in detail holds the integer id. */
static int lists_id(const char *detail, const char *key, int64_t id)
{
    const char *p = strstr(detail, key);
    if (!p) return 0;
    p += strlen(key);
    while (*p && *p != ']') {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) return 0;
        if (v == id) return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static int on_at_time(const lfr_audit_entry *e, void *ctx)
{
    at_time *x = ctx;
    if (!strcmp(e->time, x->time) && (!x->id || lists_id(e->detail, "\"alerts\":[", x->id))) x->n++;
    return 0;
}

static int receipt_at(lfr_store *s, const char *object, const char *time, int64_t id, int *has)
{
    at_time x = {time, id, 0};
    lfr_audit_filter q = {.action = "retention.delete", .object = object, .from = time, .to = time};
    int rc = s->be->audit_each(s->db, &q, on_at_time, &x);
    *has = x.n > 0;
    return rc;
}

/* The images of a subject that was not removed are deleted only by
 * retention, with a receipt at that time: an image marked deleted with
 * plain SQL (which takes it off every later watchlist) is found. */
static int check_image_deletions(check *c, const lfr_subject *sub, const char *what)
{
    lfr_subject_image *im = NULL;
    int n = 0, rc = lfr__subject_images(c->s, sub->id, &im, &n);
    char object[48];
    snprintf(object, sizeof object, "subject:%lld", (long long)sub->id);
    for (int i = 0; !rc && i < n; i++) {
        if (!im[i].deleted_at[0]) continue;
        int has = 0;
        rc = receipt_at(c->s, object, im[i].deleted_at, 0, &has);
        if (!rc && !has) {
            char ref[96];
            snprintf(ref, sizeof ref, "subject:%s", sub->reference);
            found f;
            rc = lookup(c->s, "subject.add", ref, &f);
            free(f.detail);
            if (!rc)
                rc = mismatch(c, f.seq,
                              "%s: an image is marked deleted without a removal or a retention"
                              " receipt: changed outside lfr",
                              what);
        }
    }
    free(im);
    return rc;
}

static int check_subject(const lfr_subject *sub, void *ctx)
{
    check *c = ctx;
    char what[96], object[96];
    snprintf(what, sizeof what, "subject %lld", (long long)sub->id);
    snprintf(object, sizeof object, "subject:%s", sub->reference);
    lfr_subject_image *im = NULL;
    int n = 0;
    int rc = lfr__subject_images(c->s, sub->id, &im, &n);
    if (rc) return rc;
    char *d = lfr__subject_detail(sub, im, n);
    free(im);
    if (!d) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = compare(c, what, "subject.add", object, d, NULL);
    free(d);
    if (rc) return rc;
    /* A removal is recorded once, and only for a subject marked removed. */
    found f;
    snprintf(object, sizeof object, "subject:%lld", (long long)sub->id);
    rc = lookup(c->s, "subject.remove", object, &f);
    free(f.detail);
    if (rc) return rc;
    if (f.n > 1) return mismatch(c, f.seq, "%s has more than one removal entry", what);
    if (f.n == 1 && !sub->removed_at[0])
        return mismatch(c, f.seq, "%s was removed by this entry but is back: changed outside lfr",
                        what);
    if (f.n == 0 && sub->removed_at[0])
        return mismatch(c, 0, "%s is marked removed without an audit entry: changed outside lfr",
                        what);
    return f.n ? 0 : check_image_deletions(c, sub, what);
}

static int count_entry(const lfr_audit_entry *e, void *ctx)
{
    (void)e;
    ++*(int64_t *)ctx;
    return 0;
}

/* As many creating entries as rows: with each row matched to its own entry,
 * a surplus entry means a row was deleted. */
static int same_count(check *c, const char *action, const char *kind)
{
    int64_t n = 0;
    lfr_audit_filter q = {.action = action};
    int rc = c->s->be->audit_each(c->s->db, &q, count_entry, &n);
    if (rc) return rc;
    if (n == c->n_rows) return LFR_OK;
    char what[160];
    snprintf(what, sizeof what, "%lld %s entries but %lld %s", (long long)n, action,
             (long long)c->n_rows, kind);
    return mismatch(c, 0, "%s: records were deleted outside lfr", what);
}

/* ---- Deployments, alerts, policy ------------------------------------------------------ */

/* All entries of one action on one object: how many, and the newest. */
typedef struct newest {
    int n;
    uint64_t seq;
    char *detail, *actor, *time;
} newest;

static void newest_free(newest *f)
{
    free(f->detail);
    free(f->actor);
    free(f->time);
}

static int on_newest(const lfr_audit_entry *e, void *ctx)
{
    newest *f = ctx;
    f->n++;
    newest_free(f);
    f->seq = e->seq;
    f->detail = strdup(e->detail);
    f->actor = strdup(e->actor);
    f->time = strdup(e->time);
    if (!f->detail || !f->actor || !f->time) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    return 0;
}

static int lookup_newest(lfr_store *s, const char *action, const char *object, newest *f)
{
    memset(f, 0, sizeof *f);
    lfr_audit_filter q = {.action = action, .object = object};
    return s->be->audit_each(s->db, &q, on_newest, f);
}

/* A step of a record's life: recorded by exactly one `action` entry when
 * `by` is set (none otherwise), by that actor at that time, with `detail`
 * (NULL: not compared). */
static int check_step(check *c, const char *what, const char *action, const char *object,
                      const char *by, const char *at, const char *detail)
{
    newest f;
    int rc = lookup_newest(c->s, action, object, &f);
    if (rc) {
        newest_free(&f);
        return rc;
    }
    if (!by[0] && f.n)
        rc = mismatch(c, f.seq, "%s was undone outside lfr", what);
    else if (by[0] && !f.n)
        rc = mismatch(c, 0, "%s: a step has no audit entry: changed outside lfr", what);
    else if (f.n > 1)
        rc = mismatch(c, f.seq, "%s has more than one entry for one step", what);
    else if (f.n == 1 &&
             (strcmp(f.actor, by) || strcmp(f.time, at) || (detail && strcmp(f.detail, detail))))
        rc = mismatch(c, f.seq, "%s no longer matches this audit entry: changed outside lfr", what);
    newest_free(&f);
    return rc;
}

/* Seq of the newest `action` entry on `object`; 0 when there is none (or
 * it cannot be read: the caller is already reporting a mismatch). */
static uint64_t newest_seq(check *c, const char *action, const char *object)
{
    newest f;
    uint64_t seq = lookup_newest(c->s, action, object, &f) ? 0 : f.seq;
    newest_free(&f);
    return seq;
}

/* One frozen row against the watchlist it was taken from: the image must
 * be one of that subject's, with the same hash, and the category the
 * subject's. (The snapshot hash covers only the image ids and hashes.) */
typedef struct snap_check {
    lfr_store *s;
    int bad;
    /* The rows come subject by subject: the current subject's category and
     * images are read once. */
    int64_t subject_id;
    lfr_category category;
    lfr_subject_image *im;
    int n;
} snap_check;

static int on_snap_row(const lfr__snapshot_entry *e, void *ctx)
{
    snap_check *x = ctx;
    if (!x->im || e->subject_id != x->subject_id) {
        free(x->im);
        x->im = NULL;
        x->n = 0;
        char now[LFR__TIME_LEN] = "";
        lfr_subject sub;
        int rc = x->s->be->subject_get(x->s->db, e->subject_id, now, &sub);
        if (rc == LFR_ERR_NOT_FOUND) {
            x->bad = 1;
            return STOP;
        }
        if (!rc) rc = lfr__subject_images(x->s, e->subject_id, &x->im, &x->n);
        if (rc) return rc;
        x->subject_id = e->subject_id;
        x->category = sub.category;
    }
    int same = 0;
    for (int i = 0; i < x->n; i++)
        if (x->im[i].id == e->image_id && !strcmp(x->im[i].sha256, e->sha256)) same = 1;
    if (!same || x->category != e->category) {
        x->bad = 1;
        return STOP;
    }
    return 0;
}

/* A started deployment's frozen watchlist: its rows hash to the recorded
 * snapshot hash and match the watchlist, and its sealed file exists until
 * a purge (a file name cleared with plain SQL would silently end the
 * deployment's ability to load its watchlist and let the sweep delete it).
 * Mismatches name the deployment.start entry, which recorded the hash. */
static int check_snapshot(check *c, const lfr__deployment_row *r, const char *what,
                          const char *object)
{
    const lfr_deployment *d = &r->d;
    char hex[2 * LFR_HASH_BYTES + 1];
    int rc = lfr__snapshot_hash(c->s, d->id, hex);
    if (rc) return rc;
    if (strcmp(hex, d->snapshot_hash))
        return mismatch(c, newest_seq(c, "deployment.start", object),
                        "%s: its frozen watchlist rows were changed outside lfr", what);
    snap_check x = {c->s, 0, 0, 0, NULL, 0};
    rc = c->s->be->snapshot_each(c->s->db, d->id, on_snap_row, &x);
    free(x.im);
    if (rc == STOP && x.bad)
        return mismatch(c, newest_seq(c, "deployment.start", object),
                        "%s: a frozen watchlist row no longer matches its subject or image:"
                        " changed outside lfr",
                        what);
    if (rc) return rc;
    if (!d->purged_at[0] && !r->snapshot_file[0])
        return mismatch(c, newest_seq(c, "deployment.start", object),
                        "%s: its frozen watchlist file was unlinked from its record outside lfr",
                        what);
    if (d->purged_at[0] && r->snapshot_file[0])
        return mismatch(c, newest_seq(c, "deployment.start", object),
                        "%s: marked purged but still names its frozen watchlist file", what);
    return LFR_OK;
}

static int check_deployment(const lfr__deployment_row *r, void *ctx)
{
    check *c = ctx;
    const lfr_deployment *d = &r->d;
    char what[64], object[48];
    snprintf(what, sizeof what, "deployment %lld", (long long)d->id);
    snprintf(object, sizeof object, "deployment:%lld", (long long)d->id);
    char *det = lfr__deployment_detail(d);
    if (!det) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    c->n_rows++;
    int rc = check_step(c, what, "deployment.create", object, d->created_by, d->created_at, det);
    free(det);
    if (!rc)
        rc = check_step(c, what, "deployment.authorise", object, d->authorised_by, d->authorised_at,
                        NULL);
    if (!rc) {
        char start[2048];
        lfr__deployment_start_detail(d, start, sizeof start);
        rc = check_step(c, what, "deployment.start", object, d->started_by, d->started_at, start);
    }
    if (!rc && d->started_at[0]) rc = check_snapshot(c, r, what, object);
    if (!rc && d->stopped_at[0]) {
        char *stop = lfr__deployment_stop_detail(c->s, d->id);
        if (!stop) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        rc = check_step(c, what, "deployment.stop", object, d->stopped_by, d->stopped_at, stop);
        free(stop);
    } else if (!rc) {
        rc = check_step(c, what, "deployment.stop", object, "", "", NULL);
    }
    if (!rc) {
        /* A purge is recorded by its receipt, at the same time. */
        newest f;
        rc = lookup_newest(c->s, "retention.delete", object, &f);
        if (!rc && f.n && (!d->purged_at[0] || strcmp(f.time, d->purged_at)))
            rc = mismatch(c, f.seq,
                          "%s: its snapshot purge and the audit chain disagree: changed outside"
                          " lfr",
                          what);
        else if (!rc && !f.n && d->purged_at[0])
            rc = mismatch(c, newest_seq(c, "deployment.start", object),
                          "%s: its snapshot is marked purged without a receipt: changed outside"
                          " lfr",
                          what);
        newest_free(&f);
    }
    return rc;
}

/* An alert against its alert.add entry (every field, who recorded it and
 * when), its crop against the retention receipts, and its adjudication
 * against the newest alert.adjudicate entry. Mismatches that no later entry
 * concerns name the alert.add entry. */
static int check_alert(const lfr__alert_row *r, void *ctx)
{
    check *c = ctx;
    const lfr_alert *a = &r->a;
    char what[64], object[48], det[1024];
    snprintf(what, sizeof what, "alert %lld", (long long)a->id);
    snprintf(object, sizeof object, "alert:%lld", (long long)a->id);
    lfr__alert_detail(a, det, sizeof det);
    newest add;
    int rc = lookup_newest(c->s, "alert.add", object, &add);
    c->n_rows++;
    if (!rc && !add.n)
        rc = mismatch(c, 0, "%s has no audit entry: it was added outside lfr", what);
    else if (!rc && add.n > 1)
        rc = mismatch(c, add.seq, "%s has more than one creating audit entry", what);
    else if (!rc && (strcmp(add.detail, det) || strcmp(add.actor, a->recorded_by) ||
                     strcmp(add.time, r->recorded_at)))
        rc = mismatch(c, add.seq, "%s no longer matches this audit entry: changed outside lfr",
                      what);
    uint64_t add_seq = add.seq;
    newest_free(&add);
    if (rc) return rc;

    /* The crop: present until retention deletes it with a receipt listing
     * this alert at that time. */
    if (!a->crop_sha256[0] && (r->crop_file[0] || a->crop_deleted_at[0]))
        return mismatch(c, add_seq, "%s was recorded without a crop: changed outside lfr", what);
    if (a->crop_sha256[0] && !r->crop_file[0] && !a->crop_deleted_at[0])
        return mismatch(c, add_seq, "%s: its crop was unlinked from its record outside lfr", what);
    if (a->crop_deleted_at[0]) {
        int has = 0;
        rc = r->crop_file[0] ? LFR_OK : receipt_at(c->s, "alerts", a->crop_deleted_at, a->id, &has);
        if (rc) return rc;
        if (!has)
            return mismatch(c, add_seq,
                            "%s: its crop deletion has no retention receipt: changed outside lfr",
                            what);
    }

    if (a->adjudicated_by[0]) {
        char adj[3200];
        lfr__adjudication_detail(a, adj, sizeof adj);
        newest f;
        rc = lookup_newest(c->s, "alert.adjudicate", object, &f);
        if (!rc && (!f.n || strcmp(f.detail, adj) || strcmp(f.actor, a->adjudicated_by) ||
                    strcmp(f.time, a->adjudicated_at)))
            rc = mismatch(c, f.n ? f.seq : add_seq,
                          "%s: its adjudication no longer matches its newest audit entry:"
                          " changed outside lfr",
                          what);
        newest_free(&f);
        return rc;
    }
    if (a->outcome != LFR_OUTCOME_NOT_ADJUDICATED || a->engagement != LFR_ENGAGEMENT_NONE ||
        a->note[0] || a->adjudicated_at[0])
        return mismatch(c, add_seq, "%s: adjudicated without an audit entry: changed outside lfr",
                        what);
    return check_step(c, what, "alert.adjudicate", object, "", "", NULL);
}

#define MAX_POLICY_KEYS 32

typedef struct policy_check {
    check *c;
    char keys[MAX_POLICY_KEYS][64];
    int n;
} policy_check;

static int check_policy(const char *key, int64_t value, const char *by, const char *at, void *ctx)
{
    policy_check *p = ctx;
    check *c = p->c;
    if (p->n < MAX_POLICY_KEYS) snprintf(p->keys[p->n++], sizeof p->keys[0], "%s", key);
    char what[96], object[96], prefix[64];
    snprintf(what, sizeof what, "policy %s", key);
    snprintf(object, sizeof object, "policy:%s", key);
    snprintf(prefix, sizeof prefix, "{\"value\":%lld,", (long long)value);
    newest f;
    int rc = lookup_newest(c->s, "policy.set", object, &f);
    if (!rc && (!f.n || strncmp(f.detail, prefix, strlen(prefix)) || strcmp(f.actor, by) ||
                strcmp(f.time, at)))
        rc = mismatch(c, f.seq, "%s no longer matches its newest audit entry: changed outside lfr",
                      what);
    newest_free(&f);
    return rc;
}

/* Every value set through lfr still has its row: deleting one would put
 * the default back in force without a trace. */
static int on_policy_entry(const lfr_audit_entry *e, void *ctx)
{
    policy_check *p = ctx;
    if (strncmp(e->object, "policy:", 7)) return 0;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(e->object + 7, p->keys[i])) return 0;
    char what[96];
    snprintf(what, sizeof what, "policy %.60s", e->object + 7);
    return mismatch(p->c, newest_seq(p->c, "policy.set", e->object),
                    "%s was set by this entry but its value is gone: changed outside lfr", what);
}

static int check_policies(check *c)
{
    policy_check p;
    memset(&p, 0, sizeof p);
    p.c = c;
    int rc = c->s->be->policy_each(c->s->db, check_policy, &p);
    lfr_audit_filter q = {.action = "policy.set"};
    if (!rc) rc = c->s->be->audit_each(c->s->db, &q, on_policy_entry, &p);
    return rc;
}

int lfr__verify_records(lfr_store *s, lfr_audit_verdict *v)
{
    check c = {s, v, 0};
    int rc = s->be->user_each(s->db, check_user, &c);
    if (!rc) rc = same_count(&c, "user.add", "users");
    if (!rc && s->version >= 2) {
        c.n_rows = 0;
        rc = s->be->sharing_each(s->db, NULL, NULL, check_sharing, &c);
        if (!rc) rc = same_count(&c, "sharing.add", "sharing entries");
    }
    if (!rc && s->version >= 3) {
        c.n_rows = 0;
        rc = s->be->evaluation_each(s->db, NULL, NULL, check_evaluation, &c);
        if (!rc) rc = same_count(&c, "evaluation.add", "evaluations");
    }
    if (!rc && s->version >= 4) {
        c.n_rows = 0;
        rc = s->be->subject_each(s->db, 1, "", check_subject, &c);
        if (!rc) rc = same_count(&c, "subject.add", "subjects");
    }
    if (!rc && s->version >= 5) {
        c.n_rows = 0;
        rc = s->be->deployment_each(s->db, NULL, NULL, check_deployment, &c);
        if (!rc) rc = same_count(&c, "deployment.create", "deployments");
        c.n_rows = 0;
        if (!rc) rc = s->be->alert_each(s->db, NULL, check_alert, &c);
        if (!rc) rc = same_count(&c, "alert.add", "alerts");
        if (!rc) rc = check_policies(&c);
    }
    if (rc == STOP) {
        if (v->first_bad)
            return lfr__err(LFR_ERR_TAMPERED, "audit entry %llu: %s",
                            (unsigned long long)v->first_bad, v->reason);
        return lfr__err(LFR_ERR_TAMPERED, "%s", v->reason);
    }
    return rc;
}
