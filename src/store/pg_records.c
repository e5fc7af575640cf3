/*
 * The PostgreSQL side of deployments, their cameras and counters, frozen
 * watchlists, alerts and the retention policy (schema version 5): the same
 * statements as sqlite_records.c, with the same results, under pg.c's
 * rules (bound values only; ids max + 1 under the write lock; long walks a
 * page at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util/util.h"

#define get lfr__pg_get
#define i64 lfr__pg_i64
#define f64 lfr__pg_f64
#define COPY(field, row, col) lfr__pg_copy(field, sizeof field, r, row, col)

/* ---- Deployments ---------------------------------------------------------------------- */

int lfr__pg_deployment_insert(void *db, const lfr__deployment_row *row, int64_t *id_out)
{
    const lfr_deployment *d = &row->d;
    lfr__pg_params p = {0};
    lfr__pg_text(&p, d->purpose);
    lfr__pg_text(&p, d->justification);
    lfr__pg_text(&p, d->legal_basis);
    lfr__pg_text(&p, d->location);
    lfr__pg_real(&p, d->latitude);
    lfr__pg_real(&p, d->longitude);
    lfr__pg_text(&p, lfr_installation_name(d->installation));
    lfr__pg_text(&p, d->planned_start);
    lfr__pg_text(&p, d->planned_end);
    lfr__pg_real(&p, d->threshold);
    lfr__pg_text(&p, d->dpia_ref);
    lfr__pg_text(&p, d->eia_ref);
    lfr__pg_int(&p, d->categories);
    lfr__pg_text(&p, d->created_by);
    lfr__pg_text(&p, d->created_at);
    PGresult *r;
    int rc = lfr__pg_query(db,
                           "INSERT INTO deployments (id, purpose, justification, legal_basis,"
                           " location, latitude, longitude, installation, planned_start,"
                           " planned_end, threshold, dpia_ref, eia_ref, categories, created_by,"
                           " created_at) VALUES ((SELECT coalesce(max(id), 0) + 1 FROM"
                           " deployments), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                           " $13, $14, $15) RETURNING id;",
                           &p, "add deployment", &r);
    if (rc) return rc;
    int64_t id = i64(r, 0, 0);
    PQclear(r);
    for (int i = 0; !rc && i < d->n_cameras; i++) {
        p = (lfr__pg_params){0};
        lfr__pg_int(&p, id);
        lfr__pg_int(&p, i);
        lfr__pg_text(&p, d->cameras[i].name);
        lfr__pg_text(&p, d->cameras[i].url);
        rc = lfr__pg_run(db,
                         "INSERT INTO cameras (deployment_id, idx, name, url)"
                         " VALUES ($1, $2, $3, $4);",
                         &p, "add camera", NULL);
    }
    if (!rc) *id_out = id;
    return rc;
}

#define DEPLOYMENT_COLUMNS                                                                         \
    "SELECT id, purpose, justification, legal_basis, location, latitude, longitude,"               \
    " installation, planned_start, planned_end, threshold, dpia_ref, eia_ref, categories,"         \
    " created_by, created_at, authorised_by, authorised_at, started_by, started_at, stopped_by,"   \
    " stopped_at, snapshot_subjects, snapshot_images, snapshot_counts, snapshot_expired,"          \
    " snapshot_model, snapshot_hash, snapshot_file, purged_at FROM deployments"

static int read_cameras(void *db, lfr_deployment *d)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, d->id);
    PGresult *r;
    int rc =
        lfr__pg_query(db, "SELECT name, url FROM cameras WHERE deployment_id = $1 ORDER BY idx;",
                      &p, "read cameras", &r);
    if (rc) return rc;
    d->n_cameras = 0;
    for (int i = 0; i < PQntuples(r) && d->n_cameras < LFR_DEPLOYMENT_MAX_CAMERAS; i++) {
        lfr_camera *c = &d->cameras[d->n_cameras++];
        COPY(c->name, i, 0);
        COPY(c->url, i, 1);
    }
    PQclear(r);
    return LFR_OK;
}

static int read_deployment(void *db, const PGresult *r, int i, lfr__deployment_row *row)
{
    memset(row, 0, sizeof *row);
    lfr_deployment *d = &row->d;
    d->id = i64(r, i, 0);
    COPY(d->purpose, i, 1);
    COPY(d->justification, i, 2);
    COPY(d->legal_basis, i, 3);
    COPY(d->location, i, 4);
    d->latitude = f64(r, i, 5);
    d->longitude = f64(r, i, 6);
    if (lfr_installation_parse(get(r, i, 7), &d->installation))
        return lfr__err(LFR_ERR_FORMAT, "database: deployment %lld has an unknown installation",
                        (long long)d->id);
    COPY(d->planned_start, i, 8);
    COPY(d->planned_end, i, 9);
    d->threshold = f64(r, i, 10);
    COPY(d->dpia_ref, i, 11);
    COPY(d->eia_ref, i, 12);
    d->categories = (unsigned)i64(r, i, 13);
    COPY(d->created_by, i, 14);
    COPY(d->created_at, i, 15);
    COPY(d->authorised_by, i, 16);
    COPY(d->authorised_at, i, 17);
    COPY(d->started_by, i, 18);
    COPY(d->started_at, i, 19);
    COPY(d->stopped_by, i, 20);
    COPY(d->stopped_at, i, 21);
    d->snapshot_subjects = i64(r, i, 22);
    d->snapshot_images = i64(r, i, 23);
    lfr__snapshot_counts_parse(get(r, i, 24), d);
    d->snapshot_expired_left_out = i64(r, i, 25);
    COPY(d->snapshot_model, i, 26);
    COPY(d->snapshot_hash, i, 27);
    COPY(row->snapshot_file, i, 28);
    COPY(d->purged_at, i, 29);
    d->state = lfr__deployment_state_of(d);
    return read_cameras(db, d);
}

int lfr__pg_deployment_get(void *db, int64_t id, lfr__deployment_row *out)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, id);
    PGresult *r;
    int rc = lfr__pg_query(db, DEPLOYMENT_COLUMNS " WHERE id = $1;", &p, "read deployment", &r);
    if (rc) return rc;
    rc = PQntuples(r) ? read_deployment(db, r, 0, out)
                      : lfr__err(LFR_ERR_NOT_FOUND, "no deployment %lld", (long long)id);
    PQclear(r);
    return rc;
}

int lfr__pg_deployment_each(void *db, const char *from, const char *to,
                            int (*fn)(const lfr__deployment_row *r, void *ctx), void *ctx)
{
    lfr__deployment_row *row = malloc(sizeof *row);
    if (!row) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int64_t after = 0;
    int rc = LFR_OK;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_int(&p, after);
        char sql[1024] = DEPLOYMENT_COLUMNS " WHERE id > $1";
        size_t n;
        if (from) {
            lfr__pg_text(&p, from);
            n = strlen(sql);
            snprintf(sql + n, sizeof sql - n, " AND coalesce(stopped_at, planned_end) >= $%d", p.n);
        }
        if (to) {
            lfr__pg_text(&p, to);
            n = strlen(sql);
            snprintf(sql + n, sizeof sql - n, " AND coalesce(started_at, planned_start) <= $%d",
                     p.n);
        }
        n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, " ORDER BY id LIMIT " LFR__PG_PAGE_TEXT ";");
        PGresult *r;
        rc = lfr__pg_query(db, sql, &p, "read deployments", &r);
        if (rc) break;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            rc = read_deployment(db, r, i, row);
            if (!rc) rc = fn(row, ctx);
            after = i64(r, i, 0);
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) break;
    }
    free(row);
    return rc;
}

int lfr__pg_deployment_update(void *db, const lfr__deployment_row *row)
{
    const lfr_deployment *d = &row->d;
    char counts[400];
    lfr__snapshot_counts_format(d, counts, sizeof counts);
    lfr__pg_params p = {0};
    lfr__pg_int(&p, d->id);
    lfr__pg_opt(&p, d->authorised_by);
    lfr__pg_opt(&p, d->authorised_at);
    lfr__pg_opt(&p, d->started_by);
    lfr__pg_opt(&p, d->started_at);
    lfr__pg_opt(&p, d->stopped_by);
    lfr__pg_opt(&p, d->stopped_at);
    lfr__pg_int(&p, d->snapshot_subjects);
    lfr__pg_int(&p, d->snapshot_images);
    lfr__pg_text(&p, d->snapshot_subjects || d->snapshot_images ? counts : "");
    lfr__pg_int(&p, d->snapshot_expired_left_out);
    lfr__pg_text(&p, d->snapshot_model);
    lfr__pg_text(&p, d->snapshot_hash);
    lfr__pg_opt(&p, row->snapshot_file);
    lfr__pg_opt(&p, d->purged_at);
    int64_t changed = 0;
    int rc = lfr__pg_run(db,
                         "UPDATE deployments SET authorised_by = $2, authorised_at = $3,"
                         " started_by = $4, started_at = $5, stopped_by = $6, stopped_at = $7,"
                         " snapshot_subjects = $8, snapshot_images = $9, snapshot_counts = $10,"
                         " snapshot_expired = $11, snapshot_model = $12, snapshot_hash = $13,"
                         " snapshot_file = $14, purged_at = $15 WHERE id = $1;",
                         &p, "update deployment", &changed);
    if (!rc && changed != 1)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no deployment %lld", (long long)d->id);
    return rc;
}

int lfr__pg_snapshot_insert(void *db, int64_t deployment_id, int64_t idx,
                            const lfr__snapshot_entry *e)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, deployment_id);
    lfr__pg_int(&p, idx);
    lfr__pg_int(&p, e->subject_id);
    lfr__pg_int(&p, e->image_id);
    lfr__pg_text(&p, lfr_category_name(e->category));
    lfr__pg_text(&p, e->sha256);
    return lfr__pg_run(db,
                       "INSERT INTO snapshot_images (deployment_id, idx, subject_id, image_id,"
                       " category, sha256) VALUES ($1, $2, $3, $4, $5, $6);",
                       &p, "add snapshot image", NULL);
}

int lfr__pg_snapshot_each(void *db, int64_t deployment_id,
                          int (*fn)(const lfr__snapshot_entry *e, void *ctx), void *ctx)
{
    int64_t after = -1;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_int(&p, deployment_id);
        lfr__pg_int(&p, after);
        PGresult *r;
        int rc = lfr__pg_query(db,
                               "SELECT subject_id, image_id, category, sha256, idx"
                               " FROM snapshot_images WHERE deployment_id = $1 AND idx > $2"
                               " ORDER BY idx LIMIT " LFR__PG_PAGE_TEXT ";",
                               &p, "read snapshot", &r);
        if (rc) return rc;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            lfr__snapshot_entry e;
            memset(&e, 0, sizeof e);
            e.subject_id = i64(r, i, 0);
            e.image_id = i64(r, i, 1);
            if (lfr_category_parse(get(r, i, 2), &e.category)) {
                rc = lfr__err(LFR_ERR_FORMAT, "database: snapshot of deployment %lld: bad category",
                              (long long)deployment_id);
                break;
            }
            COPY(e.sha256, i, 3);
            after = i64(r, i, 4);
            rc = fn(&e, ctx);
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) return rc;
    }
}

/* ---- Counters ---------------------------------------------------------------------------- */

int lfr__pg_counters_add(void *db, int64_t deployment_id, const char *camera, const lfr_counters *c)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, deployment_id);
    lfr__pg_text(&p, camera);
    lfr__pg_int(&p, c->frames);
    lfr__pg_int(&p, c->frames_dropped);
    lfr__pg_int(&p, c->detections);
    lfr__pg_int(&p, c->faces_seen);
    lfr__pg_int(&p, c->quality_rejects);
    lfr__pg_int(&p, c->alerts);
    int64_t changed = 0;
    int rc = lfr__pg_run(db,
                         "UPDATE cameras SET frames = frames + $3, frames_dropped = frames_dropped"
                         " + $4, detections = detections + $5, faces_seen = faces_seen + $6,"
                         " quality_rejects = quality_rejects + $7, alerts = alerts + $8"
                         " WHERE deployment_id = $1 AND name = $2;",
                         &p, "add counters", &changed);
    if (!rc && changed != 1)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "deployment %lld has no camera \"%.40s\"",
                      (long long)deployment_id, camera);
    return rc;
}

int lfr__pg_counters_each(void *db, int64_t deployment_id,
                          int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                          void *ctx)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, deployment_id);
    PGresult *r;
    int rc = lfr__pg_query(db,
                           "SELECT name, frames, frames_dropped, detections, faces_seen,"
                           " quality_rejects, alerts FROM cameras WHERE deployment_id = $1"
                           " ORDER BY idx;",
                           &p, "read counters", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        char name[LFR_CAMERA_NAME_MAX + 1];
        COPY(name, i, 0);
        lfr_counters c = {i64(r, i, 1), i64(r, i, 2), i64(r, i, 3),
                          i64(r, i, 4), i64(r, i, 5), i64(r, i, 6)};
        rc = fn(name, &c, ctx);
    }
    PQclear(r);
    return rc;
}

/* ---- Alerts -------------------------------------------------------------------------------- */

int lfr__pg_alert_insert(void *db, const lfr__alert_row *row, int64_t *id_out)
{
    const lfr_alert *a = &row->a;
    lfr__pg_params p = {0};
    lfr__pg_int(&p, a->deployment_id);
    lfr__pg_text(&p, a->camera);
    lfr__pg_text(&p, a->time);
    lfr__pg_int(&p, a->track);
    lfr__pg_int(&p, a->subject_id);
    lfr__pg_int(&p, a->image_id);
    lfr__pg_real(&p, a->score);
    lfr__pg_opt(&p, row->crop_file);
    lfr__pg_text(&p, a->crop_sha256);
    lfr__pg_text(&p, a->recorded_by);
    lfr__pg_text(&p, row->recorded_at);
    PGresult *r;
    int rc = lfr__pg_query(db,
                           "INSERT INTO alerts (id, deployment_id, camera, time, track, subject_id,"
                           " image_id, score, crop_file, crop_sha256, recorded_by, recorded_at)"
                           " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM alerts), $1, $2, $3,"
                           " $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id;",
                           &p, "add alert", &r);
    if (rc) return rc;
    *id_out = i64(r, 0, 0);
    PQclear(r);
    return LFR_OK;
}

#define ALERT_COLUMNS                                                                              \
    "SELECT a.id, a.deployment_id, a.camera, a.time, a.track, a.subject_id, a.image_id, a.score,"  \
    " a.crop_file, a.crop_sha256, a.crop_deleted_at, a.outcome, a.engagement, a.note,"             \
    " a.adjudicated_by, a.adjudicated_at, a.recorded_by, a.recorded_at, s.reference, s.category"   \
    " FROM alerts a JOIN subjects s ON s.id = a.subject_id"

static int read_alert(const PGresult *r, int i, lfr__alert_row *row)
{
    memset(row, 0, sizeof *row);
    lfr_alert *a = &row->a;
    a->id = i64(r, i, 0);
    a->deployment_id = i64(r, i, 1);
    COPY(a->camera, i, 2);
    COPY(a->time, i, 3);
    a->track = i64(r, i, 4);
    a->subject_id = i64(r, i, 5);
    a->image_id = i64(r, i, 6);
    a->score = f64(r, i, 7);
    COPY(row->crop_file, i, 8);
    a->has_crop = row->crop_file[0] != 0;
    COPY(a->crop_sha256, i, 9);
    COPY(a->crop_deleted_at, i, 10);
    if (lfr_outcome_parse(get(r, i, 11), &a->outcome) ||
        lfr_engagement_parse(get(r, i, 12), &a->engagement))
        return lfr__err(LFR_ERR_FORMAT, "database: alert %lld has an unknown outcome",
                        (long long)a->id);
    COPY(a->note, i, 13);
    COPY(a->adjudicated_by, i, 14);
    COPY(a->adjudicated_at, i, 15);
    COPY(a->recorded_by, i, 16);
    COPY(row->recorded_at, i, 17);
    COPY(a->subject_reference, i, 18);
    if (lfr_category_parse(get(r, i, 19), &a->category))
        return lfr__err(LFR_ERR_FORMAT, "database: alert %lld: bad category", (long long)a->id);
    return LFR_OK;
}

int lfr__pg_alert_get(void *db, int64_t id, lfr__alert_row *out)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, id);
    PGresult *r;
    int rc = lfr__pg_query(db, ALERT_COLUMNS " WHERE a.id = $1;", &p, "read alert", &r);
    if (rc) return rc;
    rc = PQntuples(r) ? read_alert(r, 0, out)
                      : lfr__err(LFR_ERR_NOT_FOUND, "no alert %lld", (long long)id);
    PQclear(r);
    return rc;
}

int lfr__pg_alert_each(void *db, const lfr_alert_filter *f,
                       int (*fn)(const lfr__alert_row *r, void *ctx), void *ctx)
{
    static const lfr_alert_filter none = {0};
    if (!f) f = &none;
    lfr__alert_row *row = malloc(sizeof *row);
    if (!row) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int64_t after = 0;
    int rc = LFR_OK;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_int(&p, after);
        char sql[1024] = ALERT_COLUMNS " WHERE a.id > $1";
        size_t n;
        if (f->deployment_id) {
            lfr__pg_int(&p, f->deployment_id);
            n = strlen(sql);
            snprintf(sql + n, sizeof sql - n, " AND a.deployment_id = $%d", p.n);
        }
        const char *conds[3] = {"a.outcome =", "a.time >=", "a.time <="};
        const char *vals[3] = {f->outcome ? lfr_outcome_name(f->outcome) : NULL, f->from, f->to};
        for (int k = 0; k < 3; k++) {
            if (!vals[k] || !*vals[k]) continue;
            lfr__pg_text(&p, vals[k]);
            n = strlen(sql);
            snprintf(sql + n, sizeof sql - n, " AND %s $%d", conds[k], p.n);
        }
        n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, " ORDER BY a.id LIMIT " LFR__PG_PAGE_TEXT ";");
        PGresult *r;
        rc = lfr__pg_query(db, sql, &p, "read alerts", &r);
        if (rc) break;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            rc = read_alert(r, i, row);
            if (!rc) rc = fn(row, ctx);
            after = i64(r, i, 0);
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) break;
    }
    free(row);
    return rc;
}

int lfr__pg_alert_update(void *db, const lfr__alert_row *row)
{
    const lfr_alert *a = &row->a;
    lfr__pg_params p = {0};
    lfr__pg_int(&p, a->id);
    lfr__pg_opt(&p, row->crop_file);
    lfr__pg_opt(&p, a->crop_deleted_at);
    lfr__pg_text(&p, lfr_outcome_name(a->outcome));
    lfr__pg_text(&p, lfr_engagement_name(a->engagement));
    lfr__pg_text(&p, a->note);
    lfr__pg_opt(&p, a->adjudicated_by);
    lfr__pg_opt(&p, a->adjudicated_at);
    int64_t changed = 0;
    int rc = lfr__pg_run(db,
                         "UPDATE alerts SET crop_file = $2, crop_deleted_at = $3, outcome = $4,"
                         " engagement = $5, note = $6, adjudicated_by = $7, adjudicated_at = $8"
                         " WHERE id = $1;",
                         &p, "update alert", &changed);
    if (!rc && changed != 1) rc = lfr__err(LFR_ERR_NOT_FOUND, "no alert %lld", (long long)a->id);
    return rc;
}

/* ---- Images, policy ------------------------------------------------------------------------ */

int lfr__pg_image_delete(void *db, int64_t image_id, const char *when)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, image_id);
    lfr__pg_text(&p, when);
    return lfr__pg_run(db,
                       "UPDATE images SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL;",
                       &p, "delete image", NULL);
}

int lfr__pg_policy_each(void *db,
                        int (*fn)(const char *key, int64_t value, const char *by, const char *at,
                                  void *ctx),
                        void *ctx)
{
    PGresult *r;
    int rc = lfr__pg_query(db, "SELECT key, value, set_by, set_at FROM policy ORDER BY key;", NULL,
                           "read policy", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        char key[64], by[LFR_USER_NAME_MAX + 1], at[32];
        COPY(key, i, 0);
        COPY(by, i, 2);
        COPY(at, i, 3);
        rc = fn(key, i64(r, i, 1), by, at, ctx);
    }
    PQclear(r);
    return rc;
}

int lfr__pg_policy_put(void *db, const char *key, int64_t value, const char *by, const char *at)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, key);
    lfr__pg_int(&p, value);
    lfr__pg_text(&p, by);
    lfr__pg_text(&p, at);
    return lfr__pg_run(db,
                       "INSERT INTO policy (key, value, set_by, set_at) VALUES ($1, $2, $3, $4)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                       " set_by = excluded.set_by, set_at = excluded.set_at;",
                       &p, "set policy", NULL);
}
