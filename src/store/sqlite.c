/*
 * The SQLite backend of the store: WAL journal, foreign keys on,
 * synchronous=FULL (a committed change survives a power cut), a 5 s busy
 * timeout, and prepared statements with bound values only, never SQL built
 * from user input. Each operation prepares, runs and finalises its statement;
 * the store is not a hot path.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store.h"
#include "util/util.h"

#define BUSY_TIMEOUT_MS 5000

/* "database: <what>: <SQLite's message>", followed by the operating
 * system's reason when the failure was an I/O error or a full disk: SQLite
 * says only "disk I/O error" when, for instance, the shared-memory file of
 * the WAL cannot grow on a full disk. */
static int db_fail(sqlite3 *db, int status, const char *what, const char *msg)
{
    int code = sqlite3_extended_errcode(db) & 0xff;
    int sys = sqlite3_system_errno(db);
    if ((code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN) && sys > 0)
        return lfr__err(status, "database: %s: %s (%s)", what, msg, strerror(sys));
    return lfr__err(status, "database: %s: %s", what, msg);
}

int lfr__sq_err(void *handle, const char *what)
{
    sqlite3 *db = handle;
    int code = sqlite3_extended_errcode(db);
    int status = LFR_ERR_STORE;
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        status = LFR_ERR_CONFLICT;
    return db_fail(db, status, what, sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return LFR_OK;
    int rc = db_fail(db, LFR_ERR_STORE, what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
}

int lfr__sq_prepare(void *db, const char *sql, void *stmt_out)
{
    if (sqlite3_prepare_v2(db, sql, -1, (sqlite3_stmt **)stmt_out, NULL) == SQLITE_OK)
        return LFR_OK;
    return lfr__sq_err(db, "prepare");
}
#define db_err lfr__sq_err
#define prepare lfr__sq_prepare

/* ---- Open, close, transactions ------------------------------------------------ */

static int sq_open(const char *path, int create, void **db_out)
{
    *db_out = NULL;
    sqlite3 *db = NULL;
    /* The database file is never reached through a symbolic link. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
                (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        int sys = db ? sqlite3_system_errno(db) : 0;
        int rc = lfr__err(LFR_ERR_STORE, "%s: cannot open database: %s%s%s%s", path,
                          db ? sqlite3_errmsg(db) : "out of memory", sys > 0 ? " (" : "",
                          sys > 0 ? strerror(sys) : "", sys > 0 ? ")" : "");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    int rc = exec(db,
                  "PRAGMA journal_mode = WAL;"
                  "PRAGMA synchronous = FULL;"
                  "PRAGMA foreign_keys = ON;",
                  "settings");
    /* Reading the schema here turns "file is not a database" into an error
     * at open rather than at the first query. */
    if (!rc) rc = exec(db, "SELECT count(*) FROM sqlite_schema;", "schema");
    if (rc) {
        sqlite3_close(db);
        return lfr__err_prefix(rc, path);
    }
    *db_out = db;
    return LFR_OK;
}

/* A read-only connection: settings that write nothing, and a first read
 * that turns "cannot open" into an error here. */
static int ro_try(const char *name, int uri, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
                (uri ? SQLITE_OPEN_URI : 0);
    int rc = sqlite3_open_v2(name, &db, flags, NULL) == SQLITE_OK ? LFR_OK : LFR_ERR_STORE;
    if (!rc) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        rc = exec(db, "PRAGMA query_only = 1; SELECT count(*) FROM sqlite_schema;", "read");
    }
    if (rc) {
        if (!db) lfr__err(LFR_ERR_NOMEM, "out of memory");
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return LFR_OK;
}

static int sq_open_readonly(const char *path, void **db_out)
{
    *db_out = NULL;
    sqlite3 *db = NULL;
    int rc = ro_try(path, 0, &db);
    if (rc) {
        /* A WAL database in a folder this user may not write (an evidential
         * copy) opens only if its -shm file was copied too. With no -wal
         * file, or an empty one, nothing is lost by reading the main file
         * as immutable; otherwise the -wal holds committed changes that
         * would be missed, and reading must stop. */
        char why[512], wal[4200], uri[12600];
        snprintf(why, sizeof why, "%s", lfr_errmsg());
        snprintf(wal, sizeof wal, "%s-wal", path);
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > 0)
            return lfr__err(LFR_ERR_STORE,
                            "%s: %s; its -wal file holds changes that cannot be read without "
                            "its -shm file in a folder it may not write: copy the home with "
                            "lfr.db-shm, or into a writable folder",
                            path, why);
        size_t k = (size_t)snprintf(uri, sizeof uri, "file:");
        for (const char *c = path; *c && k + 4 < sizeof uri; c++)
            k += (size_t)(*c == '%' || *c == '?' || *c == '#'
                              ? snprintf(uri + k, sizeof uri - k, "%%%02X", (unsigned char)*c)
                              : snprintf(uri + k, sizeof uri - k, "%c", *c));
        snprintf(uri + k, sizeof uri - k, "?immutable=1");
        rc = ro_try(uri, 1, &db);
        if (rc) return lfr__err_prefix(rc, path);
    }
    *db_out = db;
    return LFR_OK;
}

static void sq_close(void *db)
{
    sqlite3_close(db);
}

static int sq_begin(void *db)
{
    return exec(db, "BEGIN IMMEDIATE;", "begin");
}

static int sq_commit(void *db)
{
    return exec(db, "COMMIT;", "commit");
}

static void sq_rollback(void *db)
{
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
}

/* ---- Schema --------------------------------------------------------------------- */

static int sq_schema_version(void *db, int *version_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, "PRAGMA user_version;", &st);
    if (rc) return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version_out = sqlite3_column_int(st, 0);
        rc = LFR_OK;
    } else {
        rc = db_err(db, "user_version");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_schema_latest(void)
{
    return lfr__sqlite_n_migrations;
}

static int sq_migrate_step(void *db, int to)
{
    if (to < 1 || to > lfr__sqlite_n_migrations)
        return lfr__err(LFR_ERR_INVALID, "no migration to schema version %d", to);
    char what[64];
    snprintf(what, sizeof what, "migration to version %d", to);
    int rc = exec(db, lfr__sqlite_migrations[to - 1], what);
    if (rc) return rc;
    /* PRAGMA takes no bound parameters; `to` is a small integer of ours. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d;", to);
    return exec(db, sql, what);
}

/* ---- Users ---------------------------------------------------------------------- */

static int sq_user_count(void *db, int64_t *n_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT count(*) FROM users;", &st);
    if (rc) return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n_out = sqlite3_column_int64(st, 0);
        rc = LFR_OK;
    } else {
        rc = db_err(db, "count users");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_user_insert(void *db, const char *name, lfr_role role, const char *pwhash,
                          const char *created, const char *created_by, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO users (name, role, pwhash, created_at, created_by)"
                     " VALUES (?1, ?2, ?3, ?4, ?5);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lfr_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, created, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, created_by, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) {
        *id_out = sqlite3_last_insert_rowid(db);
        rc = LFR_OK;
    } else {
        rc = db_err(db, "add user");
    }
    sqlite3_finalize(st);
    return rc;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Columns: id, name, role, created_at, pwhash, disabled. */
#define USER_COLUMNS "SELECT id, name, role, created_at, pwhash, disabled FROM users"

static int read_user(sqlite3_stmt *st, lfr__user_row *out)
{
    memset(out, 0, sizeof *out);
    out->user.id = sqlite3_column_int64(st, 0);
    copy_text(out->user.name, sizeof out->user.name, sqlite3_column_text(st, 1));
    lfr_role role;
    const unsigned char *r = sqlite3_column_text(st, 2);
    if (lfr_role_parse(r ? (const char *)r : "", &role))
        return lfr__err(LFR_ERR_FORMAT, "database: user %s has an unknown role", out->user.name);
    out->user.role = role;
    copy_text(out->user.created, sizeof out->user.created, sqlite3_column_text(st, 3));
    copy_text(out->pwhash, sizeof out->pwhash, sqlite3_column_text(st, 4));
    out->disabled = sqlite3_column_int(st, 5);
    return LFR_OK;
}

static int user_one(sqlite3 *db, sqlite3_stmt *st, lfr__user_row *out)
{
    int rc, step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_user(st, out);
    else if (step == SQLITE_DONE)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no such user");
    else
        rc = db_err(db, "read user");
    sqlite3_finalize(st);
    return rc;
}

static int sq_user_by_name(void *db, const char *name, lfr__user_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, USER_COLUMNS " WHERE name = ?1;", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return user_one(db, st, out);
}

static int sq_user_by_id(void *db, int64_t id, lfr__user_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, USER_COLUMNS " WHERE id = ?1;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    return user_one(db, st, out);
}

static int sq_user_each(void *db, int (*fn)(const lfr_user *u, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db, USER_COLUMNS " ORDER BY name;", &st);
    if (rc) return rc;
    lfr__user_row row;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_user(st, &row);
        memset(row.pwhash, 0, sizeof row.pwhash);
        if (rc) break;
        rc = fn(&row.user, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "list users");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Audit ------------------------------------------------------------------- */

static int sq_audit_head(void *db, uint64_t *seq_out, uint8_t hash_out[LFR_HASH_BYTES])
{
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;", &st);
    if (rc) return rc;
    *seq_out = 0;
    memset(hash_out, 0, LFR_HASH_BYTES);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        sqlite3_int64 seq = sqlite3_column_int64(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        if (seq < 1 || !h || sqlite3_column_bytes(st, 1) != LFR_HASH_BYTES) {
            rc = lfr__err(LFR_ERR_TAMPERED, "audit head (seq %lld) is malformed", (long long)seq);
        } else {
            *seq_out = (uint64_t)seq;
            memcpy(hash_out, h, LFR_HASH_BYTES);
        }
    } else if (step != SQLITE_DONE) {
        rc = db_err(db, "audit head");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_audit_insert(void *db, const lfr__audit_row *r)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO audit (seq, time, actor, action, object, detail, prev_hash, hash)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
    sqlite3_bind_text(st, 2, r->time, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, r->prev_hash, LFR_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, r->hash, LFR_HASH_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? LFR_OK : db_err(db, "append audit entry");
    sqlite3_finalize(st);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* A blob column of exactly 32 bytes into out; otherwise zeros and 0. */
static int col_hash(sqlite3_stmt *st, int i, uint8_t out[LFR_HASH_BYTES])
{
    const void *b = sqlite3_column_blob(st, i);
    if (!b || sqlite3_column_bytes(st, i) != LFR_HASH_BYTES) {
        memset(out, 0, LFR_HASH_BYTES);
        return 0;
    }
    memcpy(out, b, LFR_HASH_BYTES);
    return 1;
}

static int sq_audit_each(void *db, const lfr_audit_filter *f,
                         int (*fn)(const lfr_audit_entry *e, void *ctx), void *ctx)
{
    static const lfr_audit_filter none = {0};
    if (!f) f = &none;
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT seq, time, actor, action, object, detail, prev_hash, hash FROM audit"
                     " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
                     " AND (?3 IS NULL OR object = ?3) AND (?4 IS NULL OR time >= ?4)"
                     " AND (?5 IS NULL OR time <= ?5) ORDER BY seq;",
                     &st);
    if (rc) return rc;
    const char *binds[5] = {f->actor, f->action, f->object, f->from, f->to};
    for (int i = 0; i < 5; i++) {
        if (binds[i])
            sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_audit_entry e;
        /* Types first: reading a column as text converts it. */
        e.malformed = 0;
        for (int i = 1; i <= 5; i++)
            if (sqlite3_column_type(st, i) != SQLITE_TEXT) e.malformed = 1;
        sqlite3_int64 seq = sqlite3_column_int64(st, 0);
        e.seq = seq < 0 ? 0 : (uint64_t)seq;
        e.time = col_text(st, 1);
        e.actor = col_text(st, 2);
        e.action = col_text(st, 3);
        e.object = col_text(st, 4);
        e.detail = col_text(st, 5);
        /* The byte lengths as stored (a NUL byte does not end a field). */
        size_t *len[5] = {&e.n_time, &e.n_actor, &e.n_action, &e.n_object, &e.n_detail};
        for (int i = 0; i < 5; i++)
            *len[i] = (size_t)sqlite3_column_bytes(st, i + 1);
        col_hash(st, 6, e.prev_hash);
        col_hash(st, 7, e.hash);
        rc = fn(&e, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read audit");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Sharing register ---------------------------------------------------------- */

static int sq_sharing_insert(void *db, const lfr_sharing *e, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO sharing (shared_on, recipient, purpose, legal_basis, dataset,"
                     " n_images, security, recorded_by, recorded_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);",
                     &st);
    if (rc) return rc;
    const char *text[] = {e->shared_on, e->recipient, e->purpose,     e->legal_basis,
                          e->dataset,   e->security,  e->recorded_by, e->recorded_at};
    static const int col[] = {1, 2, 3, 4, 5, 7, 8, 9};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(st, col[i], text[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, e->n_images);
    if (sqlite3_step(st) == SQLITE_DONE) {
        *id_out = sqlite3_last_insert_rowid(db);
        rc = LFR_OK;
    } else {
        rc = db_err(db, "add sharing entry");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_sharing_each(void *db, const char *from, const char *to,
                           int (*fn)(const lfr_sharing *e, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT id, shared_on, recipient, purpose, legal_basis, dataset, n_images,"
                     " security, recorded_by, recorded_at FROM sharing"
                     " WHERE (?1 IS NULL OR shared_on >= ?1) AND (?2 IS NULL OR shared_on <= ?2)"
                     " ORDER BY shared_on, id;",
                     &st);
    if (rc) return rc;
    if (from) sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    if (to) sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_sharing e = {
            .id = sqlite3_column_int64(st, 0),
            .shared_on = col_text(st, 1),
            .recipient = col_text(st, 2),
            .purpose = col_text(st, 3),
            .legal_basis = col_text(st, 4),
            .dataset = col_text(st, 5),
            .n_images = sqlite3_column_int64(st, 6),
            .security = col_text(st, 7),
            .recorded_by = col_text(st, 8),
            .recorded_at = col_text(st, 9),
        };
        rc = fn(&e, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read sharing register");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Evaluations ----------------------------------------------------------------- */

/* NaN is stored as NULL ("none"), and read back as NaN. */
static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int sq_evaluation_insert(void *db, const lfr_evaluation *e, const lfr_eval_metric *m,
                                size_t n, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO evaluations (kind, run_at, dataset, dataset_sha256, model,"
                     " engine_version, notes, recorded_by, recorded_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);",
                     &st);
    if (rc) return rc;
    const char *text[] = {e->kind,           e->run_at, e->dataset,     e->dataset_sha256, e->model,
                          e->engine_version, e->notes,  e->recorded_by, e->recorded_at};
    for (int i = 0; i < 9; i++)
        sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? LFR_OK : db_err(db, "add evaluation");
    sqlite3_finalize(st);
    if (rc) return rc;
    int64_t id = sqlite3_last_insert_rowid(db);
    rc = prepare(db,
                 "INSERT INTO evaluation_metrics (evaluation_id, idx, grp, metric, threshold,"
                 " value, ci_low, ci_high, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);",
                 &st);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, m[i].group ? m[i].group : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m[i].metric, -1, SQLITE_STATIC);
        bind_real(st, 5, m[i].threshold);
        bind_real(st, 6, m[i].value);
        bind_real(st, 7, m[i].ci_low);
        bind_real(st, 8, m[i].ci_high);
        if (m[i].n < 0)
            sqlite3_bind_null(st, 9);
        else
            sqlite3_bind_int64(st, 9, m[i].n);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(db, "add evaluation figure");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (!rc) *id_out = id;
    return rc;
}

static int sq_evaluation_each(void *db, const char *from, const char *to,
                              int (*fn)(const lfr_evaluation *e, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT id, kind, run_at, dataset, dataset_sha256, model, engine_version,"
                     " notes, recorded_by, recorded_at,"
                     " (SELECT count(*) FROM evaluation_metrics WHERE evaluation_id = id)"
                     " FROM evaluations"
                     " WHERE (?1 IS NULL OR run_at >= ?1) AND (?2 IS NULL OR run_at <= ?2)"
                     " ORDER BY run_at, id;",
                     &st);
    if (rc) return rc;
    if (from) sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    if (to) sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_evaluation e = {
            .id = sqlite3_column_int64(st, 0),
            .kind = col_text(st, 1),
            .run_at = col_text(st, 2),
            .dataset = col_text(st, 3),
            .dataset_sha256 = col_text(st, 4),
            .model = col_text(st, 5),
            .engine_version = col_text(st, 6),
            .notes = col_text(st, 7),
            .recorded_by = col_text(st, 8),
            .recorded_at = col_text(st, 9),
            .n_metrics = sqlite3_column_int64(st, 10),
        };
        rc = fn(&e, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read evaluations");
    sqlite3_finalize(st);
    return rc;
}

static int sq_evaluation_metrics_each(void *db, int64_t id,
                                      int (*fn)(const lfr_eval_metric *m, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT count(*) FROM evaluations WHERE id = ?1;", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int exists = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    if (!exists) return lfr__err(LFR_ERR_NOT_FOUND, "no evaluation %lld", (long long)id);
    rc = prepare(db,
                 "SELECT grp, metric, threshold, value, ci_low, ci_high, n"
                 " FROM evaluation_metrics WHERE evaluation_id = ?1 ORDER BY idx;",
                 &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_eval_metric m = {
            .group = col_text(st, 0),
            .metric = col_text(st, 1),
            .threshold = col_real(st, 2),
            .value = col_real(st, 3),
            .ci_low = col_real(st, 4),
            .ci_high = col_real(st, 5),
            .n = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6),
        };
        rc = fn(&m, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read evaluation figures");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Watchlist ------------------------------------------------------------------ */

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int step_insert(sqlite3 *db, sqlite3_stmt *st, const char *what, int64_t *id_out)
{
    int rc = LFR_OK;
    if (sqlite3_step(st) == SQLITE_DONE)
        *id_out = sqlite3_last_insert_rowid(db);
    else
        rc = db_err(db, what);
    sqlite3_finalize(st);
    return rc;
}

static int sq_subject_insert(void *db, const lfr_subject *s, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO subjects (reference, category, reason, added_by, added_at,"
                     " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, s->reference, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lfr_category_name(s->category), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->added_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s->added_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, s->expires_at, -1, SQLITE_STATIC);
    return step_insert(db, st, "add subject", id_out);
}

static int sq_image_insert(void *db, const lfr_subject_image *im, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT INTO images (subject_id, provenance, capture_date, sha256,"
                     " model_sha256, score, box_x, box_y, box_w, box_h, media_file, added_by,"
                     " added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, im->subject_id);
    sqlite3_bind_text(st, 2, lfr_provenance_name(im->provenance), -1, SQLITE_STATIC);
    bind_opt_text(st, 3, im->capture_date);
    sqlite3_bind_text(st, 4, im->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, im->model_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, im->score);
    sqlite3_bind_double(st, 7, im->box_x);
    sqlite3_bind_double(st, 8, im->box_y);
    sqlite3_bind_double(st, 9, im->box_w);
    sqlite3_bind_double(st, 10, im->box_h);
    sqlite3_bind_text(st, 11, im->media_file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, im->added_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, im->added_at, -1, SQLITE_STATIC);
    return step_insert(db, st, "add image", id_out);
}

/* Columns of a subject, with its live image count; ?1 is now. */
#define SUBJECT_COLUMNS                                                                            \
    "SELECT s.id, s.reference, s.category, s.reason, s.added_by, s.added_at, s.expires_at,"        \
    " s.removed_at, s.removed_by, s.expires_at <= ?1,"                                             \
    " (SELECT count(*) FROM images i WHERE i.subject_id = s.id AND i.deleted_at IS NULL)"          \
    " FROM subjects s"

static int read_subject(sqlite3_stmt *st, lfr_subject *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    copy_text(o->reference, sizeof o->reference, sqlite3_column_text(st, 1));
    if (lfr_category_parse(col_text(st, 2), &o->category))
        return lfr__err(LFR_ERR_FORMAT, "database: subject %lld has an unknown category",
                        (long long)o->id);
    copy_text(o->reason, sizeof o->reason, sqlite3_column_text(st, 3));
    copy_text(o->added_by, sizeof o->added_by, sqlite3_column_text(st, 4));
    copy_text(o->added_at, sizeof o->added_at, sqlite3_column_text(st, 5));
    copy_text(o->expires_at, sizeof o->expires_at, sqlite3_column_text(st, 6));
    copy_text(o->removed_at, sizeof o->removed_at, sqlite3_column_text(st, 7));
    copy_text(o->removed_by, sizeof o->removed_by, sqlite3_column_text(st, 8));
    o->expired = sqlite3_column_int(st, 9);
    o->n_images = sqlite3_column_int64(st, 10);
    return LFR_OK;
}

static int sq_subject_get(void *db, int64_t id, const char *now, lfr_subject *out)
{
    sqlite3_stmt *st;
    int rc = prepare(db, SUBJECT_COLUMNS " WHERE s.id = ?2;", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_subject(st, out);
    else if (step == SQLITE_DONE)
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no subject %lld", (long long)id);
    else
        rc = db_err(db, "read subject");
    sqlite3_finalize(st);
    return rc;
}

static int sq_subject_each(void *db, int include_removed, const char *now,
                           int (*fn)(const lfr_subject *s, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db, SUBJECT_COLUMNS " WHERE ?2 OR s.removed_at IS NULL ORDER BY s.id;", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, include_removed ? 1 : 0);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_subject sub;
        rc = read_subject(st, &sub);
        if (!rc) rc = fn(&sub, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read subjects");
    sqlite3_finalize(st);
    return rc;
}

static int sq_image_each(void *db, int64_t subject_id, int live_only,
                         int (*fn)(const lfr_subject_image *im, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "SELECT id, subject_id, provenance, capture_date, sha256, model_sha256, score,"
                     " box_x, box_y, box_w, box_h, media_file, added_by, added_at, deleted_at"
                     " FROM images WHERE subject_id = ?1 AND (NOT ?2 OR deleted_at IS NULL)"
                     " ORDER BY id;",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, subject_id);
    sqlite3_bind_int(st, 2, live_only ? 1 : 0);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_subject_image im;
        memset(&im, 0, sizeof im);
        im.id = sqlite3_column_int64(st, 0);
        im.subject_id = sqlite3_column_int64(st, 1);
        if (lfr_provenance_parse(col_text(st, 2), &im.provenance)) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: image %lld has an unknown provenance",
                          (long long)im.id);
            break;
        }
        copy_text(im.capture_date, sizeof im.capture_date, sqlite3_column_text(st, 3));
        copy_text(im.sha256, sizeof im.sha256, sqlite3_column_text(st, 4));
        copy_text(im.model_sha256, sizeof im.model_sha256, sqlite3_column_text(st, 5));
        im.score = (float)sqlite3_column_double(st, 6);
        im.box_x = (float)sqlite3_column_double(st, 7);
        im.box_y = (float)sqlite3_column_double(st, 8);
        im.box_w = (float)sqlite3_column_double(st, 9);
        im.box_h = (float)sqlite3_column_double(st, 10);
        copy_text(im.media_file, sizeof im.media_file, sqlite3_column_text(st, 11));
        copy_text(im.added_by, sizeof im.added_by, sqlite3_column_text(st, 12));
        copy_text(im.added_at, sizeof im.added_at, sqlite3_column_text(st, 13));
        copy_text(im.deleted_at, sizeof im.deleted_at, sqlite3_column_text(st, 14));
        rc = fn(&im, ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read images");
    sqlite3_finalize(st);
    return rc;
}

static int run_bound(sqlite3 *db, const char *sql, int64_t id, const char *a, const char *b,
                     const char *what)
{
    sqlite3_stmt *st;
    int rc = prepare(db, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    if (a) sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(db, what);
    sqlite3_finalize(st);
    return rc;
}

static int sq_subject_remove(void *db, int64_t id, const char *when, const char *by)
{
    int rc = run_bound(db,
                       "UPDATE subjects SET removed_at = ?2, removed_by = ?3"
                       " WHERE id = ?1 AND removed_at IS NULL;",
                       id, when, by, "remove subject");
    if (!rc && sqlite3_changes(db) != 1)
        return lfr__err(LFR_ERR_CONFLICT, "subject %lld is already removed", (long long)id);
    if (!rc)
        rc = run_bound(db,
                       "UPDATE images SET deleted_at = ?2 WHERE subject_id = ?1"
                       " AND deleted_at IS NULL;",
                       id, when, NULL, "delete images");
    return rc;
}

static int sq_watchlist_stats(void *db, const char *now, lfr_watchlist_stats *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc =
        prepare(db,
                "SELECT s.category, s.removed_at IS NOT NULL, s.expires_at <= ?1, i.provenance,"
                " count(DISTINCT s.id), count(i.id) FROM subjects s"
                " LEFT JOIN images i ON i.subject_id = s.id AND i.deleted_at IS NULL"
                " GROUP BY 1, 2, 3, 4;",
                &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    int step;
    /* A subject with images of several provenances appears in several
     * groups: count subjects apart, per category and state. */
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_category c;
        lfr_provenance p = 0;
        if (lfr_category_parse(col_text(st, 0), &c) ||
            (sqlite3_column_type(st, 3) != SQLITE_NULL &&
             lfr_provenance_parse(col_text(st, 3), &p))) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: unknown category or provenance");
            break;
        }
        int removed = sqlite3_column_int(st, 1), expired = sqlite3_column_int(st, 2);
        int64_t n_img = sqlite3_column_int64(st, 5);
        if (removed) continue;
        if (expired) {
            out->expired_images += n_img;
        } else {
            out->active_images[c] += n_img;
            if (p) out->images_by_provenance[p] += n_img;
        }
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "watchlist stats");
    sqlite3_finalize(st);
    if (rc) return rc;
    rc = prepare(db,
                 "SELECT category, removed_at IS NOT NULL, expires_at <= ?1, count(*)"
                 " FROM subjects GROUP BY 1, 2, 3;",
                 &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        lfr_category c;
        if (lfr_category_parse(col_text(st, 0), &c)) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: unknown category");
            break;
        }
        int64_t n = sqlite3_column_int64(st, 3);
        if (sqlite3_column_int(st, 1))
            out->removed += n;
        else if (sqlite3_column_int(st, 2))
            out->expired[c] += n;
        else
            out->active[c] += n;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "watchlist stats");
    sqlite3_finalize(st);
    return rc;
}

static int sq_media_used(void *db, const char *name, int *used_out)
{
    sqlite3_stmt *st;
    int rc = prepare(
        db, "SELECT count(*) FROM images WHERE media_file = ?1 AND deleted_at IS NULL;", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *used_out = sqlite3_column_int(st, 0) > 0;
    else
        rc = db_err(db, "read images");
    sqlite3_finalize(st);
    if (!rc && !*used_out) rc = lfr__sq_media_used_v5(db, name, used_out);
    return rc;
}

/* ---- The transparency log ------------------------------------------------------ */

static int sq_log_head_get(void *db, lfr__log_head *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT size, frontier, note FROM log_head WHERE id = 1;", &st);
    if (rc) return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        sqlite3_int64 size = sqlite3_column_int64(st, 0);
        int nf = sqlite3_column_bytes(st, 1), nn = sqlite3_column_bytes(st, 2);
        if (size < 0 || sqlite3_column_type(st, 1) != SQLITE_BLOB || nf > LFR__FRONTIER_MAX ||
            sqlite3_column_type(st, 2) != SQLITE_TEXT || nn >= LFR__HEAD_NOTE_MAX) {
            rc = lfr__err(LFR_ERR_TAMPERED, "the log's signed head (log_head) is malformed");
        } else {
            out->size = (uint64_t)size;
            out->n_frontier = (size_t)nf;
            if (nf) memcpy(out->frontier, sqlite3_column_blob(st, 1), (size_t)nf);
            out->n_note = (size_t)nn;
            memcpy(out->note, sqlite3_column_text(st, 2), (size_t)nn);
            out->note[nn] = 0;
        }
    } else if (step == SQLITE_DONE) {
        rc = lfr__err(LFR_ERR_NOT_FOUND, "the log has no signed head");
    } else {
        rc = db_err(db, "read the log's head");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_log_head_put(void *db, const lfr__log_head *h)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT OR REPLACE INTO log_head (id, size, frontier, note)"
                     " VALUES (1, ?1, ?2, ?3);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)h->size);
    sqlite3_bind_blob(st, 2, h->frontier, (int)h->n_frontier, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->note, (int)h->n_note, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? LFR_OK : db_err(db, "write the log's head");
    sqlite3_finalize(st);
    return rc;
}

static int sq_log_checkpoint_add(void *db, uint64_t size, const char *time, const char *reason,
                                 const char *note)
{
    sqlite3_stmt *st;
    int rc = prepare(db,
                     "INSERT OR IGNORE INTO log_checkpoints (size, time, reason, note)"
                     " VALUES (?1, ?2, ?3, ?4);",
                     &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_text(st, 2, time, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? LFR_OK : db_err(db, "publish a checkpoint");
    sqlite3_finalize(st);
    return rc;
}

static int sq_log_checkpoint_last(void *db, uint64_t *size_out, char time_out[LFR__TIME_LEN])
{
    sqlite3_stmt *st;
    int rc = prepare(db, "SELECT size, time FROM log_checkpoints ORDER BY size DESC LIMIT 1;", &st);
    if (rc) return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        sqlite3_int64 size = sqlite3_column_int64(st, 0);
        *size_out = size < 0 ? 0 : (uint64_t)size;
        snprintf(time_out, LFR__TIME_LEN, "%s", col_text(st, 1));
    } else if (step == SQLITE_DONE) {
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no checkpoint published yet");
    } else {
        rc = db_err(db, "read checkpoints");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_log_checkpoint_each(void *db,
                                  int (*fn)(uint64_t size, const char *time, const char *reason,
                                            const char *note, void *ctx),
                                  void *ctx)
{
    sqlite3_stmt *st;
    int rc =
        prepare(db, "SELECT size, time, reason, note FROM log_checkpoints ORDER BY size;", &st);
    if (rc) return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 size = sqlite3_column_int64(st, 0);
        rc = fn(size < 0 ? 0 : (uint64_t)size, col_text(st, 1), col_text(st, 2), col_text(st, 3),
                ctx);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = db_err(db, "read checkpoints");
    sqlite3_finalize(st);
    return rc;
}

const lfr__backend lfr__sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .open_readonly = sq_open_readonly,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .schema_version = sq_schema_version,
    .schema_latest = sq_schema_latest,
    .migrate_step = sq_migrate_step,
    .user_count = sq_user_count,
    .user_insert = sq_user_insert,
    .user_by_name = sq_user_by_name,
    .user_by_id = sq_user_by_id,
    .user_each = sq_user_each,
    .sharing_insert = sq_sharing_insert,
    .sharing_each = sq_sharing_each,
    .evaluation_insert = sq_evaluation_insert,
    .evaluation_each = sq_evaluation_each,
    .evaluation_metrics_each = sq_evaluation_metrics_each,
    .subject_insert = sq_subject_insert,
    .image_insert = sq_image_insert,
    .subject_get = sq_subject_get,
    .subject_each = sq_subject_each,
    .image_each = sq_image_each,
    .subject_remove = sq_subject_remove,
    .watchlist_stats = sq_watchlist_stats,
    .media_used = sq_media_used,
    .deployment_insert = lfr__sq_deployment_insert,
    .deployment_get = lfr__sq_deployment_get,
    .deployment_each = lfr__sq_deployment_each,
    .deployment_update = lfr__sq_deployment_update,
    .snapshot_insert = lfr__sq_snapshot_insert,
    .snapshot_each = lfr__sq_snapshot_each,
    .counters_add = lfr__sq_counters_add,
    .counters_each = lfr__sq_counters_each,
    .alert_insert = lfr__sq_alert_insert,
    .alert_get = lfr__sq_alert_get,
    .alert_each = lfr__sq_alert_each,
    .alert_update = lfr__sq_alert_update,
    .image_delete = lfr__sq_image_delete,
    .policy_each = lfr__sq_policy_each,
    .policy_put = lfr__sq_policy_put,
    .audit_head = sq_audit_head,
    .audit_insert = sq_audit_insert,
    .audit_each = sq_audit_each,
    .log_head_get = sq_log_head_get,
    .log_head_put = sq_log_head_put,
    .log_checkpoint_add = sq_log_checkpoint_add,
    .log_checkpoint_last = sq_log_checkpoint_last,
    .log_checkpoint_each = sq_log_checkpoint_each,
};
