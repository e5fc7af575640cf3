/*
 * The SQLite side of deployments, their cameras and counters, frozen
 * watchlists, alerts and the retention policy (schema version 5). Same
 * rules as sqlite.c: prepared statements with bound values only, each
 * operation prepares, runs and finalises its statement.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "util/util.h"

#define sq_err lfr__sq_err
#define sq_prepare lfr__sq_prepare

/* Step a statement that returns no row, then finalise it. */
static int sq_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? LFR_OK : sq_err(db, what);
    sqlite3_finalize(st);
    return rc;
}

static void put(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}
#define PUT(field, i) put(field, sizeof field, st, i)

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* NULL for "" (fields not yet set). */
static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* ---- Deployments ------------------------------------------------------------------ */

int lfr__sq_deployment_insert(void *db, const lfr__deployment_row *r, int64_t *id_out)
{
    const lfr_deployment *d = &r->d;
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "INSERT INTO deployments (purpose, justification, legal_basis, location,"
                        " latitude, longitude, installation, planned_start, planned_end, threshold,"
                        " dpia_ref, eia_ref, categories, created_by, created_at) VALUES (?1, ?2,"
                        " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15);",
                        &st);
    if (rc) return rc;
    bind_text(st, 1, d->purpose);
    bind_text(st, 2, d->justification);
    bind_text(st, 3, d->legal_basis);
    bind_text(st, 4, d->location);
    sqlite3_bind_double(st, 5, d->latitude);
    sqlite3_bind_double(st, 6, d->longitude);
    bind_text(st, 7, lfr_installation_name(d->installation));
    bind_text(st, 8, d->planned_start);
    bind_text(st, 9, d->planned_end);
    sqlite3_bind_double(st, 10, d->threshold);
    bind_text(st, 11, d->dpia_ref);
    bind_text(st, 12, d->eia_ref);
    sqlite3_bind_int64(st, 13, d->categories);
    bind_text(st, 14, d->created_by);
    bind_text(st, 15, d->created_at);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sq_err(db, "add deployment");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    int64_t id = sqlite3_last_insert_rowid(db);
    for (int i = 0; !rc && i < d->n_cameras; i++) {
        rc = sq_prepare(db,
                        "INSERT INTO cameras (deployment_id, idx, name, url) VALUES (?1, ?2, ?3,"
                        " ?4);",
                        &st);
        if (rc) break;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, i);
        bind_text(st, 3, d->cameras[i].name);
        bind_text(st, 4, d->cameras[i].url);
        rc = sq_done(db, st, "add camera");
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

static int read_cameras(sqlite3 *db, lfr_deployment *d)
{
    sqlite3_stmt *st;
    int rc =
        sq_prepare(db, "SELECT name, url FROM cameras WHERE deployment_id = ?1 ORDER BY idx;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, d->id);
    int step;
    d->n_cameras = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && d->n_cameras < LFR_DEPLOYMENT_MAX_CAMERAS) {
        lfr_camera *c = &d->cameras[d->n_cameras++];
        PUT(c->name, 0);
        PUT(c->url, 1);
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW) rc = sq_err(db, "read cameras");
    sqlite3_finalize(st);
    return rc;
}

static int read_deployment(sqlite3 *db, sqlite3_stmt *st, lfr__deployment_row *r)
{
    memset(r, 0, sizeof *r);
    lfr_deployment *d = &r->d;
    d->id = sqlite3_column_int64(st, 0);
    PUT(d->purpose, 1);
    PUT(d->justification, 2);
    PUT(d->legal_basis, 3);
    PUT(d->location, 4);
    d->latitude = sqlite3_column_double(st, 5);
    d->longitude = sqlite3_column_double(st, 6);
    const unsigned char *inst = sqlite3_column_text(st, 7);
    if (lfr_installation_parse(inst ? (const char *)inst : "", &d->installation))
        return lfr__err(LFR_ERR_FORMAT, "database: deployment %lld has an unknown installation",
                        (long long)d->id);
    PUT(d->planned_start, 8);
    PUT(d->planned_end, 9);
    d->threshold = sqlite3_column_double(st, 10);
    PUT(d->dpia_ref, 11);
    PUT(d->eia_ref, 12);
    d->categories = (unsigned)sqlite3_column_int64(st, 13);
    PUT(d->created_by, 14);
    PUT(d->created_at, 15);
    PUT(d->authorised_by, 16);
    PUT(d->authorised_at, 17);
    PUT(d->started_by, 18);
    PUT(d->started_at, 19);
    PUT(d->stopped_by, 20);
    PUT(d->stopped_at, 21);
    d->snapshot_subjects = sqlite3_column_int64(st, 22);
    d->snapshot_images = sqlite3_column_int64(st, 23);
    lfr__snapshot_counts_parse((const char *)sqlite3_column_text(st, 24), d);
    d->snapshot_expired_left_out = sqlite3_column_int64(st, 25);
    PUT(d->snapshot_model, 26);
    PUT(d->snapshot_hash, 27);
    PUT(r->snapshot_file, 28);
    PUT(d->purged_at, 29);
    d->state = lfr__deployment_state_of(d);
    return read_cameras(db, d);
}

int lfr__sq_deployment_get(void *db, int64_t id, lfr__deployment_row *out)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db, DEPLOYMENT_COLUMNS " WHERE id = ?1;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_deployment(db, st, out);
    else if (step == SQLITE_DONE)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no deployment %lld", (long long)id);
    else
        rc = sq_err(db, "read deployment");
    sqlite3_finalize(st);
    return rc;
}

int lfr__sq_deployment_each(void *db, const char *from, const char *to,
                            int (*fn)(const lfr__deployment_row *r, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        DEPLOYMENT_COLUMNS
                        " WHERE (?1 IS NULL OR coalesce(stopped_at, planned_end) >= ?1)"
                        " AND (?2 IS NULL OR coalesce(started_at, planned_start) <= ?2)"
                        " ORDER BY id;",
                        &st);
    if (rc) return rc;
    bind_opt(st, 1, from);
    bind_opt(st, 2, to);
    int step;
    lfr__deployment_row *r = sqlite3_malloc(sizeof *r);
    if (!r) {
        sqlite3_finalize(st);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_deployment(db, st, r);
        if (!rc) rc = fn(r, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_err(db, "read deployments");
    sqlite3_free(r);
    sqlite3_finalize(st);
    return rc;
}

int lfr__sq_deployment_update(void *db, const lfr__deployment_row *r)
{
    const lfr_deployment *d = &r->d;
    char counts[400];
    lfr__snapshot_counts_format(d, counts, sizeof counts);
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "UPDATE deployments SET authorised_by = ?2, authorised_at = ?3,"
                        " started_by = ?4, started_at = ?5, stopped_by = ?6, stopped_at = ?7,"
                        " snapshot_subjects = ?8, snapshot_images = ?9, snapshot_counts = ?10,"
                        " snapshot_expired = ?11, snapshot_model = ?12, snapshot_hash = ?13,"
                        " snapshot_file = ?14, purged_at = ?15 WHERE id = ?1;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, d->id);
    bind_opt(st, 2, d->authorised_by);
    bind_opt(st, 3, d->authorised_at);
    bind_opt(st, 4, d->started_by);
    bind_opt(st, 5, d->started_at);
    bind_opt(st, 6, d->stopped_by);
    bind_opt(st, 7, d->stopped_at);
    sqlite3_bind_int64(st, 8, d->snapshot_subjects);
    sqlite3_bind_int64(st, 9, d->snapshot_images);
    bind_text(st, 10, d->snapshot_subjects || d->snapshot_images ? counts : "");
    sqlite3_bind_int64(st, 11, d->snapshot_expired_left_out);
    bind_text(st, 12, d->snapshot_model);
    bind_text(st, 13, d->snapshot_hash);
    bind_opt(st, 14, r->snapshot_file);
    bind_opt(st, 15, d->purged_at);
    rc = sq_done(db, st, "update deployment");
    if (!rc && sqlite3_changes(db) != 1)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no deployment %lld", (long long)d->id);
    return rc;
}

int lfr__sq_snapshot_insert(void *db, int64_t deployment_id, int64_t idx,
                            const lfr__snapshot_entry *e)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "INSERT INTO snapshot_images (deployment_id, idx, subject_id, image_id,"
                        " category, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6);",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, deployment_id);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int64(st, 3, e->subject_id);
    sqlite3_bind_int64(st, 4, e->image_id);
    bind_text(st, 5, lfr_category_name(e->category));
    bind_text(st, 6, e->sha256);
    return sq_done(db, st, "add snapshot image");
}

int lfr__sq_snapshot_each(void *db, int64_t deployment_id,
                          int (*fn)(const lfr__snapshot_entry *e, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "SELECT subject_id, image_id, category, sha256 FROM snapshot_images"
                        " WHERE deployment_id = ?1 ORDER BY idx;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, deployment_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr__snapshot_entry e;
        memset(&e, 0, sizeof e);
        e.subject_id = sqlite3_column_int64(st, 0);
        e.image_id = sqlite3_column_int64(st, 1);
        const unsigned char *c = sqlite3_column_text(st, 2);
        if (lfr_category_parse(c ? (const char *)c : "", &e.category)) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: snapshot of deployment %lld: bad category",
                          (long long)deployment_id);
            break;
        }
        PUT(e.sha256, 3);
        rc = fn(&e, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_err(db, "read snapshot");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Counters ------------------------------------------------------------------------ */

int lfr__sq_counters_add(void *db, int64_t deployment_id, const char *camera, const lfr_counters *c)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "UPDATE cameras SET frames = frames + ?3, frames_dropped = frames_dropped"
                        " + ?4, detections = detections + ?5, faces_seen = faces_seen + ?6,"
                        " quality_rejects = quality_rejects + ?7, alerts = alerts + ?8"
                        " WHERE deployment_id = ?1 AND name = ?2;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, deployment_id);
    bind_text(st, 2, camera);
    sqlite3_bind_int64(st, 3, c->frames);
    sqlite3_bind_int64(st, 4, c->frames_dropped);
    sqlite3_bind_int64(st, 5, c->detections);
    sqlite3_bind_int64(st, 6, c->faces_seen);
    sqlite3_bind_int64(st, 7, c->quality_rejects);
    sqlite3_bind_int64(st, 8, c->alerts);
    rc = sq_done(db, st, "add counters");
    if (!rc && sqlite3_changes(db) != 1)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "deployment %lld has no camera \"%.40s\"",
                      (long long)deployment_id, camera);
    return rc;
}

int lfr__sq_counters_each(void *db, int64_t deployment_id,
                          int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                          void *ctx)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "SELECT name, frames, frames_dropped, detections, faces_seen,"
                        " quality_rejects, alerts FROM cameras WHERE deployment_id = ?1"
                        " ORDER BY idx;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, deployment_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char name[LFR_CAMERA_NAME_MAX + 1];
        PUT(name, 0);
        lfr_counters c = {
            sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
            sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6),
        };
        rc = fn(name, &c, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_err(db, "read counters");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Alerts ------------------------------------------------------------------------------ */

int lfr__sq_alert_insert(void *db, const lfr__alert_row *r, int64_t *id_out)
{
    const lfr_alert *a = &r->a;
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "INSERT INTO alerts (deployment_id, camera, time, track, subject_id,"
                        " image_id, score, crop_file, crop_sha256, recorded_by, recorded_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11);",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, a->deployment_id);
    bind_text(st, 2, a->camera);
    bind_text(st, 3, a->time);
    sqlite3_bind_int64(st, 4, a->track);
    sqlite3_bind_int64(st, 5, a->subject_id);
    sqlite3_bind_int64(st, 6, a->image_id);
    sqlite3_bind_double(st, 7, a->score);
    bind_opt(st, 8, r->crop_file);
    bind_text(st, 9, a->crop_sha256);
    bind_text(st, 10, a->recorded_by);
    bind_text(st, 11, r->recorded_at);
    rc = sq_done(db, st, "add alert");
    if (!rc) *id_out = sqlite3_last_insert_rowid(db);
    return rc;
}

#define ALERT_COLUMNS                                                                              \
    "SELECT a.id, a.deployment_id, a.camera, a.time, a.track, a.subject_id, a.image_id, a.score,"  \
    " a.crop_file, a.crop_sha256, a.crop_deleted_at, a.outcome, a.engagement, a.note,"             \
    " a.adjudicated_by, a.adjudicated_at, a.recorded_by, a.recorded_at, s.reference, s.category"   \
    " FROM alerts a JOIN subjects s ON s.id = a.subject_id"

static int read_alert(sqlite3_stmt *st, lfr__alert_row *r)
{
    memset(r, 0, sizeof *r);
    lfr_alert *a = &r->a;
    a->id = sqlite3_column_int64(st, 0);
    a->deployment_id = sqlite3_column_int64(st, 1);
    PUT(a->camera, 2);
    PUT(a->time, 3);
    a->track = sqlite3_column_int64(st, 4);
    a->subject_id = sqlite3_column_int64(st, 5);
    a->image_id = sqlite3_column_int64(st, 6);
    a->score = sqlite3_column_double(st, 7);
    PUT(r->crop_file, 8);
    a->has_crop = r->crop_file[0] != 0;
    PUT(a->crop_sha256, 9);
    PUT(a->crop_deleted_at, 10);
    const unsigned char *o = sqlite3_column_text(st, 11), *e = sqlite3_column_text(st, 12);
    if (lfr_outcome_parse(o ? (const char *)o : "", &a->outcome) ||
        lfr_engagement_parse(e ? (const char *)e : "", &a->engagement))
        return lfr__err(LFR_ERR_FORMAT, "database: alert %lld has an unknown outcome",
                        (long long)a->id);
    PUT(a->note, 13);
    PUT(a->adjudicated_by, 14);
    PUT(a->adjudicated_at, 15);
    PUT(a->recorded_by, 16);
    PUT(r->recorded_at, 17);
    PUT(a->subject_reference, 18);
    const unsigned char *c = sqlite3_column_text(st, 19);
    if (lfr_category_parse(c ? (const char *)c : "", &a->category))
        return lfr__err(LFR_ERR_FORMAT, "database: alert %lld: bad category", (long long)a->id);
    return LFR_OK;
}

int lfr__sq_alert_get(void *db, int64_t id, lfr__alert_row *out)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db, ALERT_COLUMNS " WHERE a.id = ?1;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_alert(st, out);
    else if (step == SQLITE_DONE)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no alert %lld", (long long)id);
    else
        rc = sq_err(db, "read alert");
    sqlite3_finalize(st);
    return rc;
}

int lfr__sq_alert_each(void *db, const lfr_alert_filter *f,
                       int (*fn)(const lfr__alert_row *r, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        ALERT_COLUMNS " WHERE (?1 = 0 OR a.deployment_id = ?1)"
                                      " AND (?2 IS NULL OR a.outcome = ?2)"
                                      " AND (?3 IS NULL OR a.time >= ?3)"
                                      " AND (?4 IS NULL OR a.time <= ?4) ORDER BY a.id;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, f ? f->deployment_id : 0);
    bind_opt(st, 2, f && f->outcome ? lfr_outcome_name(f->outcome) : NULL);
    bind_opt(st, 3, f ? f->from : NULL);
    bind_opt(st, 4, f ? f->to : NULL);
    int step;
    lfr__alert_row *r = sqlite3_malloc(sizeof *r);
    if (!r) {
        sqlite3_finalize(st);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_alert(st, r);
        if (!rc) rc = fn(r, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_err(db, "read alerts");
    sqlite3_free(r);
    sqlite3_finalize(st);
    return rc;
}

int lfr__sq_alert_update(void *db, const lfr__alert_row *r)
{
    const lfr_alert *a = &r->a;
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "UPDATE alerts SET crop_file = ?2, crop_deleted_at = ?3, outcome = ?4,"
                        " engagement = ?5, note = ?6, adjudicated_by = ?7, adjudicated_at = ?8"
                        " WHERE id = ?1;",
                        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, a->id);
    bind_opt(st, 2, r->crop_file);
    bind_opt(st, 3, a->crop_deleted_at);
    bind_text(st, 4, lfr_outcome_name(a->outcome));
    bind_text(st, 5, lfr_engagement_name(a->engagement));
    bind_text(st, 6, a->note);
    bind_opt(st, 7, a->adjudicated_by);
    bind_opt(st, 8, a->adjudicated_at);
    rc = sq_done(db, st, "update alert");
    if (!rc && sqlite3_changes(db) != 1)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no alert %lld", (long long)a->id);
    return rc;
}

/* ---- Images, policy, media ------------------------------------------------------------- */

int lfr__sq_image_delete(void *db, int64_t image_id, const char *when)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(
        db, "UPDATE images SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, image_id);
    bind_text(st, 2, when);
    return sq_done(db, st, "delete image");
}

int lfr__sq_policy_each(void *db,
                        int (*fn)(const char *key, int64_t value, const char *by, const char *at,
                                  void *ctx),
                        void *ctx)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db, "SELECT key, value, set_by, set_at FROM policy ORDER BY key;", &st);
    if (rc) return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char key[64], by[LFR_USER_NAME_MAX + 1], at[32];
        PUT(key, 0);
        PUT(by, 2);
        PUT(at, 3);
        rc = fn(key, sqlite3_column_int64(st, 1), by, at, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_err(db, "read policy");
    sqlite3_finalize(st);
    return rc;
}

int lfr__sq_policy_put(void *db, const char *key, int64_t value, const char *by, const char *at)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "INSERT INTO policy (key, value, set_by, set_at) VALUES (?1, ?2, ?3, ?4)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                        " set_by = excluded.set_by, set_at = excluded.set_at;",
                        &st);
    if (rc) return rc;
    bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, value);
    bind_text(st, 3, by);
    bind_text(st, 4, at);
    return sq_done(db, st, "set policy");
}

int lfr__sq_media_used_v5(void *db, const char *name, int *used_out)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(db,
                        "SELECT (SELECT count(*) FROM deployments WHERE snapshot_file = ?1)"
                        " + (SELECT count(*) FROM alerts WHERE crop_file = ?1);",
                        &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *used_out = sqlite3_column_int(st, 0) > 0;
    else
        rc = sq_err(db, "read media names");
    sqlite3_finalize(st);
    return rc;
}
