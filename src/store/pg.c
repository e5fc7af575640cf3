/*
 * The PostgreSQL backend of the store, through libpq: one connection per
 * store handle, given by a libpq connection string (a "postgresql://" URI or
 * "key=value" pairs; see docs/POSTGRESQL.md for TLS with
 * sslmode=verify-full). Every statement is prepared once per connection
 * and run with bound values, never with values spliced into its text.
 *
 * Writers queue on one lock. A write transaction takes a transaction-level
 * advisory lock at BEGIN, so that on this database one transaction at a
 * time reads the audit head, appends after it and commits: the audit log
 * stays linear under any number of writers on any number of machines, with
 * no gap and no fork (seq is also the primary key, so a second entry with
 * the same seq could not commit). The lock is released when the transaction
 * ends, after its commit is visible to the next holder. The same lock makes
 * max(id) + 1 a safe way to give new rows their ids, as SQLite gives
 * rowids. Reads outside a transaction see what was committed when each
 * statement began.
 *
 * Walks over tables that grow (audit, alerts, subjects, deployments, frozen
 * watchlists) read a page of rows at a time, by key, so that memory stays
 * bounded and the callback can run queries of its own.
 *
 * Sealed media are rows of the table media (bytea): put before the rows
 * that name them commit, deleted after, in transactions of their own, as
 * the files of an embedded home are (media.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util/util.h"

/* The advisory lock every write transaction takes ("openlfr" in ASCII). */
#define WRITE_LOCK "31084746437412466"

typedef struct stmt {
    uint64_t hash;
    char *sql;
} stmt;

typedef struct pgdb {
    PGconn *conn;
    stmt *stmts; /* prepared on this connection as "lfr_<index>" */
    int n_stmts, cap_stmts;
} pgdb;

/* ---- Parameters -------------------------------------------------------------- */

static int slot(lfr__pg_params *p)
{
    /* A programming error (more values than the statement could have); the
     * server then reports the count mismatch. */
    if (p->n >= LFR__PG_MAX_PARAMS) return LFR__PG_MAX_PARAMS - 1;
    return p->n++;
}

void lfr__pg_text(lfr__pg_params *p, const char *v)
{
    int i = slot(p);
    p->v[i] = v;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void lfr__pg_opt(lfr__pg_params *p, const char *v)
{
    lfr__pg_text(p, v && *v ? v : NULL);
}

void lfr__pg_int(lfr__pg_params *p, int64_t v)
{
    int i = slot(p);
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void lfr__pg_real(lfr__pg_params *p, double v)
{
    int i = slot(p);
    if (isnan(v)) {
        p->v[i] = NULL;
    } else {
        snprintf(p->num[i], sizeof p->num[i], "%.17g", v);
        p->v[i] = p->num[i];
    }
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void lfr__pg_bytes(lfr__pg_params *p, const void *b, size_t n)
{
    int i = slot(p);
    p->v[i] = b;
    p->len[i] = (int)n;
    p->fmt[i] = 1;
}

/* ---- Errors ------------------------------------------------------------------------ */

/* The first line of libpq's message, without its trailing newline. */
static void first_line(const char *msg, char *out, size_t cap)
{
    snprintf(out, cap, "%s", msg && *msg ? msg : "unknown error");
    out[strcspn(out, "\n")] = 0;
}

static int pg_fail(pgdb *db, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[512];
    first_line(primary ? primary : PQerrorMessage(db->conn), msg, sizeof msg);
    int status = LFR_ERR_STORE;
    if (state && !strcmp(state, "23505"))
        status = LFR_ERR_CONFLICT; /* unique_violation */
    else if (state && (!strcmp(state, "22021") || !strcmp(state, "22P05")))
        status = LFR_ERR_INVALID; /* not valid UTF-8, or not representable */
    return lfr__err(status, "database: %s: %s", what, msg);
}

/* ---- The connection ------------------------------------------------------------------ */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void forget_statements(pgdb *db)
{
    for (int i = 0; i < db->n_stmts; i++)
        free(db->stmts[i].sql);
    db->n_stmts = 0;
}

/* Session settings: UTF-8, doubles printed exactly, notices not printed. */
static int session_setup(pgdb *db)
{
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    PGresult *r = PQexec(db->conn, "SET client_encoding = 'UTF8';"
                                   "SET extra_float_digits = 3;"
                                   "SET client_min_messages = warning;"
                                   "SET standard_conforming_strings = on;");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? LFR_OK : pg_fail(db, r, "session settings");
    PQclear(r);
    return rc;
}

/* Reconnect after the connection was lost (a database restart, a network
 * failure), when no transaction is open: the work of an open one is gone
 * with it, and its caller sees the error. */
static int ensure_connected(pgdb *db)
{
    if (PQstatus(db->conn) == CONNECTION_OK) return LFR_OK;
    forget_statements(db);
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char msg[512];
        first_line(PQerrorMessage(db->conn), msg, sizeof msg);
        return lfr__err(LFR_ERR_STORE, "database: connection lost and not restored: %s", msg);
    }
    return session_setup(db);
}

static int pg_open(const char *conninfo, int create, void **db_out)
{
    (void)create; /* the database is made by its administrator, not by lfr */
    *db_out = NULL;
    pgdb *db = calloc(1, sizeof *db);
    if (!db) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    /* Later values override earlier ones: the connection string's own
     * connect_timeout wins over this default. */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "openlfr", conninfo, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn) {
        free(db);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    int rc = LFR_OK;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        /* libpq's message names the host and the reason, never the
         * password; the connection string itself is not repeated. */
        char msg[512];
        first_line(PQerrorMessage(db->conn), msg, sizeof msg);
        rc = lfr__err(LFR_ERR_STORE, "database: cannot connect: %s", msg);
    }
    if (!rc) rc = session_setup(db);
    if (rc) {
        PQfinish(db->conn);
        free(db);
        return rc;
    }
    *db_out = db;
    return LFR_OK;
}

/* The same, for reading only: every transaction of the session is read
 * only, so nothing can be written through it (lfr_store_open_readonly). */
static int pg_open_readonly(const char *conninfo, void **db_out)
{
    int rc = pg_open(conninfo, 0, db_out);
    if (rc) return rc;
    pgdb *db = *db_out;
    PGresult *r = PQexec(db->conn, "SET default_transaction_read_only = on;");
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? LFR_OK : pg_fail(db, r, "read only");
    PQclear(r);
    if (rc) {
        PQfinish(db->conn);
        free(db);
        *db_out = NULL;
    }
    return rc;
}

static void pg_close(void *h)
{
    pgdb *db = h;
    if (!db) return;
    forget_statements(db);
    free(db->stmts);
    PQfinish(db->conn);
    free(db);
}

/* ---- Running statements ------------------------------------------------------------------ */

static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of `sql` among this connection's prepared statements,
 * preparing it the first time. */
static int prepared(pgdb *db, const char *sql, int n_params, const char *what, int *index_out)
{
    uint64_t h = text_hash(sql);
    for (int i = 0; i < db->n_stmts; i++)
        if (db->stmts[i].hash == h && !strcmp(db->stmts[i].sql, sql)) {
            *index_out = i;
            return LFR_OK;
        }
    if (db->n_stmts == db->cap_stmts) {
        int cap = db->cap_stmts ? 2 * db->cap_stmts : 64;
        stmt *v = realloc(db->stmts, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        db->stmts = v;
        db->cap_stmts = cap;
    }
    char *copy = strdup(sql);
    if (!copy) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    char name[32];
    snprintf(name, sizeof name, "lfr_%d", db->n_stmts);
    PGresult *r = PQprepare(db->conn, name, sql, n_params, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? LFR_OK : pg_fail(db, r, what);
    PQclear(r);
    if (rc) {
        free(copy);
        return rc;
    }
    db->stmts[db->n_stmts] = (stmt){h, copy};
    *index_out = db->n_stmts++;
    return LFR_OK;
}

/* Run `sql`; rows in binary format when `binary`. */
static int execute(pgdb *db, const char *sql, const lfr__pg_params *p, int binary, const char *what,
                   PGresult **res_out)
{
    *res_out = NULL;
    static const lfr__pg_params none = {0};
    if (!p) p = &none;
    if (PQtransactionStatus(db->conn) == PQTRANS_IDLE ||
        PQtransactionStatus(db->conn) == PQTRANS_UNKNOWN) {
        int rc = ensure_connected(db);
        if (rc) return rc;
    }
    int index = 0;
    int rc = prepared(db, sql, p->n, what, &index);
    if (rc) return rc;
    char name[32];
    snprintf(name, sizeof name, "lfr_%d", index);
    PGresult *r = PQexecPrepared(db->conn, name, p->n, p->v, p->len, p->fmt, binary);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = pg_fail(db, r, what);
        PQclear(r);
        return rc;
    }
    *res_out = r;
    return LFR_OK;
}

int lfr__pg_query(void *db, const char *sql, const lfr__pg_params *p, const char *what,
                  PGresult **res_out)
{
    return execute(db, sql, p, 0, what, res_out);
}

int lfr__pg_run(void *db, const char *sql, const lfr__pg_params *p, const char *what,
                int64_t *changes_out)
{
    PGresult *r;
    int rc = execute(db, sql, p, 0, what, &r);
    if (rc) return rc;
    if (changes_out) *changes_out = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return LFR_OK;
}

PGconn *lfr__pg_conn(void *db)
{
    return ((pgdb *)db)->conn;
}

/* ---- Reading results ---------------------------------------------------------------------- */

const char *lfr__pg_get(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

int lfr__pg_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

int64_t lfr__pg_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double lfr__pg_f64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

void lfr__pg_copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", lfr__pg_get(r, row, col));
}

#define get lfr__pg_get
#define i64 lfr__pg_i64
#define f64 lfr__pg_f64
#define COPY(field, row, col) lfr__pg_copy(field, sizeof field, r, row, col)

/* A bytea column (text form "\x<hex>") of exactly 32 bytes into out;
 * otherwise zeros and 0. */
static int get_hash(const PGresult *r, int row, int col, uint8_t out[LFR_HASH_BYTES])
{
    memset(out, 0, LFR_HASH_BYTES);
    const char *v = get(r, row, col);
    if (strncmp(v, "\\x", 2) || strlen(v) != 2 + 2 * LFR_HASH_BYTES) return 0;
    for (int i = 0; i < LFR_HASH_BYTES; i++) {
        unsigned b;
        if (sscanf(v + 2 + 2 * i, "%2x", &b) != 1) {
            memset(out, 0, LFR_HASH_BYTES);
            return 0;
        }
        out[i] = (uint8_t)b;
    }
    return 1;
}

/* The one row of a count or similar; LFR_ERR_STORE when there is none. */
static int one_int(pgdb *db, const char *sql, const lfr__pg_params *p, const char *what,
                   int64_t *out)
{
    PGresult *r;
    int rc = lfr__pg_query(db, sql, p, what, &r);
    if (rc) return rc;
    if (PQntuples(r) != 1)
        rc = lfr__err(LFR_ERR_STORE, "database: %s: no result", what);
    else
        *out = i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- Transactions ---------------------------------------------------------------------- */

static void pg_rollback_quiet(pgdb *db)
{
    PGTransactionStatusType t = PQtransactionStatus(db->conn);
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) PQclear(PQexec(db->conn, "ROLLBACK;"));
}

/* Whether write transactions wait for their WAL flush while holding the
 * write lock (lfr__pg_strict_commit). */
static int strict_commit;

void lfr__pg_strict_commit(int on)
{
    strict_commit = on;
}

static int pg_begin(void *h)
{
    pgdb *db = h;
    int rc = ensure_connected(db);
    if (rc) return rc;
    PGresult *r =
        PQexec(db->conn, strict_commit ? "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ");"
                                       : "BEGIN; SET LOCAL synchronous_commit TO off;"
                                         " SELECT pg_advisory_xact_lock(" WRITE_LOCK ");");
    rc = PQresultStatus(r) == PGRES_TUPLES_OK ? LFR_OK : pg_fail(db, r, "begin");
    PQclear(r);
    if (rc && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        r = PQexec(db->conn, "ROLLBACK;");
        PQclear(r);
    }
    return rc;
}

/* The commit, then (unless strict) the wait for durability. The locked
 * transaction commits without waiting for its WAL to reach the disk, which
 * releases the write lock at once; then a transaction that writes one WAL
 * record (a logical decoding message, which needs no table and no
 * privilege) commits synchronously. Its flush covers everything written
 * before it, our commit included, and the flushes of concurrent writers
 * are shared (PostgreSQL's group commit), instead of one flush per writer
 * in turn under the lock. Only after it does the caller hear "committed".
 * WAL is written in order, so a crash loses at most a suffix of commits
 * none of whose writers heard so: the log loses its newest entries, never
 * a middle one, and never forks. Others may see a commit up to one flush
 * before it is durable (docs/POSTGRESQL.md). */
static int pg_commit(void *h)
{
    pgdb *db = h;
    const char *sql = strict_commit
                          ? "COMMIT;"
                          : "COMMIT; BEGIN; SELECT pg_logical_emit_message(true, 'openlfr',"
                            " 'durable'); COMMIT;";
    if (!PQsendQuery(db->conn, sql)) {
        char msg[512];
        first_line(PQerrorMessage(db->conn), msg, sizeof msg);
        return lfr__err(LFR_ERR_STORE, "database: commit: %s", msg);
    }
    int rc = LFR_OK, first = 1;
    PGresult *r;
    while ((r = PQgetResult(db->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (!rc && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = pg_fail(db, r, first ? "commit" : "commit: waiting for the disk");
        else if (!rc && first && strcmp(PQcmdStatus(r), "COMMIT"))
            /* A transaction in which a statement failed ends in ROLLBACK. */
            rc = lfr__err(LFR_ERR_STORE, "database: commit: the transaction was rolled back");
        first = 0;
        PQclear(r);
    }
    if (rc) pg_rollback_quiet(db);
    return rc;
}

static void pg_rollback(void *h)
{
    pg_rollback_quiet(h);
}

/* ---- Schema -------------------------------------------------------------------------------- */

static int pg_schema_version(void *db, int *version_out)
{
    int64_t exists = 0, v = 0;
    int rc = one_int(db, "SELECT (to_regclass('lfr_schema') IS NOT NULL)::int;", NULL,
                     "schema version", &exists);
    if (!rc && exists)
        rc = one_int(db, "SELECT version FROM lfr_schema;", NULL, "schema version", &v);
    if (!rc) *version_out = (int)v;
    return rc;
}

static int pg_schema_latest(void)
{
    return lfr__pg_n_migrations;
}

static int pg_migrate_step(void *h, int to)
{
    pgdb *db = h;
    if (to < 1 || to > lfr__pg_n_migrations)
        return lfr__err(LFR_ERR_INVALID, "no migration to schema version %d", to);
    char what[64];
    snprintf(what, sizeof what, "migration to version %d", to);
    /* DDL of our own, several statements: run as one simple query, as
     * SQLite's migrations are. */
    PGresult *r = PQexec(db->conn, lfr__pg_migrations[to - 1]);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? LFR_OK : pg_fail(db, r, what);
    PQclear(r);
    lfr__pg_params p = {0};
    lfr__pg_int(&p, to);
    if (!rc) rc = lfr__pg_run(db, "UPDATE lfr_schema SET version = $1;", &p, what, NULL);
    return rc;
}

/* ---- Users -------------------------------------------------------------------------------- */

static int pg_user_count(void *db, int64_t *n_out)
{
    return one_int(db, "SELECT count(*) FROM users;", NULL, "count users", n_out);
}

/* Insert with the new row's id (max + 1, safe under the write lock) back. */
static int insert_id(void *db, const char *sql, const lfr__pg_params *p, const char *what,
                     int64_t *id_out)
{
    return one_int(db, sql, p, what, id_out);
}

static int pg_user_insert(void *db, const char *name, lfr_role role, const char *pwhash,
                          const char *created, const char *created_by, int64_t *id_out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    lfr__pg_text(&p, lfr_role_name(role));
    lfr__pg_text(&p, pwhash);
    lfr__pg_text(&p, created);
    lfr__pg_text(&p, created_by);
    return insert_id(db,
                     "INSERT INTO users (id, name, role, pwhash, created_at, created_by)"
                     " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM users), $1, $2, $3, $4, $5)"
                     " RETURNING id;",
                     &p, "add user", id_out);
}

#define USER_COLUMNS "SELECT id, name, role, created_at, pwhash, disabled FROM users"

static int read_user(const PGresult *r, int i, lfr__user_row *out)
{
    memset(out, 0, sizeof *out);
    out->user.id = i64(r, i, 0);
    COPY(out->user.name, i, 1);
    lfr_role role;
    if (lfr_role_parse(get(r, i, 2), &role))
        return lfr__err(LFR_ERR_FORMAT, "database: user %s has an unknown role", out->user.name);
    out->user.role = role;
    COPY(out->user.created, i, 3);
    COPY(out->pwhash, i, 4);
    out->disabled = (int)i64(r, i, 5);
    return LFR_OK;
}

static int user_one(void *db, const char *sql, const lfr__pg_params *p, lfr__user_row *out)
{
    PGresult *r;
    int rc = lfr__pg_query(db, sql, p, "read user", &r);
    if (rc) return rc;
    rc = PQntuples(r) ? read_user(r, 0, out) : lfr__err(LFR_ERR_NOT_FOUND, "no such user");
    PQclear(r);
    return rc;
}

static int pg_user_by_name(void *db, const char *name, lfr__user_row *out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    return user_one(db, USER_COLUMNS " WHERE name = $1;", &p, out);
}

static int pg_user_by_id(void *db, int64_t id, lfr__user_row *out)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, id);
    return user_one(db, USER_COLUMNS " WHERE id = $1;", &p, out);
}

static int pg_user_each(void *db, int (*fn)(const lfr_user *u, void *ctx), void *ctx)
{
    PGresult *r;
    int rc = lfr__pg_query(db, USER_COLUMNS " ORDER BY name;", NULL, "list users", &r);
    if (rc) return rc;
    lfr__user_row row;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rc = read_user(r, i, &row);
        memset(row.pwhash, 0, sizeof row.pwhash);
        if (!rc) rc = fn(&row.user, ctx);
    }
    PQclear(r);
    return rc;
}

/* ---- Audit -------------------------------------------------------------------------------- */

static int pg_audit_head(void *db, uint64_t *seq_out, uint8_t hash_out[LFR_HASH_BYTES])
{
    PGresult *r;
    *seq_out = 0;
    memset(hash_out, 0, LFR_HASH_BYTES);
    int rc = lfr__pg_query(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;", NULL,
                           "audit head", &r);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        int64_t seq = i64(r, 0, 0);
        if (seq < 1 || !get_hash(r, 0, 1, hash_out))
            rc = lfr__err(LFR_ERR_TAMPERED, "audit head (seq %lld) is malformed", (long long)seq);
        else
            *seq_out = (uint64_t)seq;
    }
    PQclear(r);
    return rc;
}

static int pg_audit_insert(void *db, const lfr__audit_row *a)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, (int64_t)a->seq);
    lfr__pg_text(&p, a->time);
    lfr__pg_text(&p, a->actor);
    lfr__pg_text(&p, a->action);
    lfr__pg_text(&p, a->object);
    lfr__pg_text(&p, a->detail);
    lfr__pg_bytes(&p, a->prev_hash, LFR_HASH_BYTES);
    lfr__pg_bytes(&p, a->hash, LFR_HASH_BYTES);
    return lfr__pg_run(db,
                       "INSERT INTO audit (seq, time, actor, action, object, detail, prev_hash,"
                       " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8);",
                       &p, "append audit entry", NULL);
}

/* A filter's conditions as SQL with numbered placeholders ($2 on: $1 is
 * the page key), built from fixed fragments only, so each combination is
 * one prepared statement with a plan that uses the indexes. */
static void add_cond(char *sql, size_t cap, lfr__pg_params *p, const char *cond, const char *v)
{
    if (!v) return;
    lfr__pg_text(p, v);
    size_t n = strlen(sql);
    snprintf(sql + n, cap - n, " AND %s $%d", cond, p->n);
}

static int pg_audit_each(void *db, const lfr_audit_filter *f,
                         int (*fn)(const lfr_audit_entry *e, void *ctx), void *ctx)
{
    static const lfr_audit_filter none = {0};
    if (!f) f = &none;
    int64_t after = 0;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_int(&p, after);
        char sql[512] = "SELECT seq, time, actor, action, object, detail, prev_hash, hash"
                        " FROM audit WHERE seq > $1";
        add_cond(sql, sizeof sql, &p, "actor =", f->actor);
        add_cond(sql, sizeof sql, &p, "action =", f->action);
        add_cond(sql, sizeof sql, &p, "object =", f->object);
        add_cond(sql, sizeof sql, &p, "time >=", f->from);
        add_cond(sql, sizeof sql, &p, "time <=", f->to);
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, " ORDER BY seq LIMIT " LFR__PG_PAGE_TEXT ";");
        PGresult *r;
        int rc = lfr__pg_query(db, sql, &p, "read audit", &r);
        if (rc) return rc;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            lfr_audit_entry e;
            int64_t seq = i64(r, i, 0);
            e.seq = seq < 0 ? 0 : (uint64_t)seq;
            e.time = get(r, i, 1);
            e.actor = get(r, i, 2);
            e.action = get(r, i, 3);
            e.object = get(r, i, 4);
            e.detail = get(r, i, 5);
            /* Text in PostgreSQL holds no NUL byte: the lengths are the
             * strings'; the columns are TEXT NOT NULL, so never malformed. */
            e.n_time = strlen(e.time);
            e.n_actor = strlen(e.actor);
            e.n_action = strlen(e.action);
            e.n_object = strlen(e.object);
            e.n_detail = strlen(e.detail);
            e.malformed = 0;
            get_hash(r, i, 6, e.prev_hash);
            get_hash(r, i, 7, e.hash);
            rc = fn(&e, ctx);
            after = seq;
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) return rc;
    }
}

/* ---- Sharing register ------------------------------------------------------------------ */

static int pg_sharing_insert(void *db, const lfr_sharing *e, int64_t *id_out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, e->shared_on);
    lfr__pg_text(&p, e->recipient);
    lfr__pg_text(&p, e->purpose);
    lfr__pg_text(&p, e->legal_basis);
    lfr__pg_text(&p, e->dataset);
    lfr__pg_int(&p, e->n_images);
    lfr__pg_text(&p, e->security);
    lfr__pg_text(&p, e->recorded_by);
    lfr__pg_text(&p, e->recorded_at);
    return insert_id(db,
                     "INSERT INTO sharing (id, shared_on, recipient, purpose, legal_basis, dataset,"
                     " n_images, security, recorded_by, recorded_at)"
                     " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM sharing), $1, $2, $3, $4,"
                     " $5, $6, $7, $8, $9) RETURNING id;",
                     &p, "add sharing entry", id_out);
}

static int pg_sharing_each(void *db, const char *from, const char *to,
                           int (*fn)(const lfr_sharing *e, void *ctx), void *ctx)
{
    lfr__pg_params p = {0};
    char sql[512] = "SELECT id, shared_on, recipient, purpose, legal_basis, dataset, n_images,"
                    " security, recorded_by, recorded_at FROM sharing WHERE true";
    add_cond(sql, sizeof sql, &p, "shared_on >=", from);
    add_cond(sql, sizeof sql, &p, "shared_on <=", to);
    size_t n = strlen(sql);
    snprintf(sql + n, sizeof sql - n, " ORDER BY shared_on, id;");
    PGresult *r;
    int rc = lfr__pg_query(db, sql, &p, "read sharing register", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_sharing e = {
            .id = i64(r, i, 0),
            .shared_on = get(r, i, 1),
            .recipient = get(r, i, 2),
            .purpose = get(r, i, 3),
            .legal_basis = get(r, i, 4),
            .dataset = get(r, i, 5),
            .n_images = i64(r, i, 6),
            .security = get(r, i, 7),
            .recorded_by = get(r, i, 8),
            .recorded_at = get(r, i, 9),
        };
        rc = fn(&e, ctx);
    }
    PQclear(r);
    return rc;
}

/* ---- Evaluations ---------------------------------------------------------------------- */

static int pg_evaluation_insert(void *db, const lfr_evaluation *e, const lfr_eval_metric *m,
                                size_t n, int64_t *id_out)
{
    lfr__pg_params p = {0};
    const char *text[] = {e->kind,           e->run_at, e->dataset,     e->dataset_sha256, e->model,
                          e->engine_version, e->notes,  e->recorded_by, e->recorded_at};
    for (int i = 0; i < 9; i++)
        lfr__pg_text(&p, text[i]);
    int64_t id = 0;
    int rc = insert_id(db,
                       "INSERT INTO evaluations (id, kind, run_at, dataset, dataset_sha256, model,"
                       " engine_version, notes, recorded_by, recorded_at)"
                       " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM evaluations), $1, $2, $3,"
                       " $4, $5, $6, $7, $8, $9) RETURNING id;",
                       &p, "add evaluation", &id);
    for (size_t i = 0; !rc && i < n; i++) {
        p = (lfr__pg_params){0};
        lfr__pg_int(&p, id);
        lfr__pg_int(&p, (int64_t)i);
        lfr__pg_text(&p, m[i].group ? m[i].group : "");
        lfr__pg_text(&p, m[i].metric);
        lfr__pg_real(&p, m[i].threshold);
        lfr__pg_real(&p, m[i].value);
        lfr__pg_real(&p, m[i].ci_low);
        lfr__pg_real(&p, m[i].ci_high);
        if (m[i].n < 0)
            lfr__pg_text(&p, NULL);
        else
            lfr__pg_int(&p, m[i].n);
        rc = lfr__pg_run(db,
                         "INSERT INTO evaluation_metrics (evaluation_id, idx, grp, metric,"
                         " threshold, value, ci_low, ci_high, n)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);",
                         &p, "add evaluation figure", NULL);
    }
    if (!rc) *id_out = id;
    return rc;
}

static int pg_evaluation_each(void *db, const char *from, const char *to,
                              int (*fn)(const lfr_evaluation *e, void *ctx), void *ctx)
{
    lfr__pg_params p = {0};
    char sql[512] = "SELECT id, kind, run_at, dataset, dataset_sha256, model, engine_version,"
                    " notes, recorded_by, recorded_at,"
                    " (SELECT count(*) FROM evaluation_metrics m WHERE m.evaluation_id = e.id)"
                    " FROM evaluations e WHERE true";
    add_cond(sql, sizeof sql, &p, "run_at >=", from);
    add_cond(sql, sizeof sql, &p, "run_at <=", to);
    size_t n = strlen(sql);
    snprintf(sql + n, sizeof sql - n, " ORDER BY run_at, id;");
    PGresult *r;
    int rc = lfr__pg_query(db, sql, &p, "read evaluations", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_evaluation e = {
            .id = i64(r, i, 0),
            .kind = get(r, i, 1),
            .run_at = get(r, i, 2),
            .dataset = get(r, i, 3),
            .dataset_sha256 = get(r, i, 4),
            .model = get(r, i, 5),
            .engine_version = get(r, i, 6),
            .notes = get(r, i, 7),
            .recorded_by = get(r, i, 8),
            .recorded_at = get(r, i, 9),
            .n_metrics = i64(r, i, 10),
        };
        rc = fn(&e, ctx);
    }
    PQclear(r);
    return rc;
}

static int pg_evaluation_metrics_each(void *db, int64_t id,
                                      int (*fn)(const lfr_eval_metric *m, void *ctx), void *ctx)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, id);
    int64_t exists = 0;
    int rc = one_int(db, "SELECT count(*) FROM evaluations WHERE id = $1;", &p, "read evaluation",
                     &exists);
    if (rc) return rc;
    if (!exists) return lfr__err(LFR_ERR_NOT_FOUND, "no evaluation %lld", (long long)id);
    PGresult *r;
    rc = lfr__pg_query(db,
                       "SELECT grp, metric, threshold, value, ci_low, ci_high, n"
                       " FROM evaluation_metrics WHERE evaluation_id = $1 ORDER BY idx;",
                       &p, "read evaluation figures", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_eval_metric m = {
            .group = get(r, i, 0),
            .metric = get(r, i, 1),
            .threshold = f64(r, i, 2),
            .value = f64(r, i, 3),
            .ci_low = f64(r, i, 4),
            .ci_high = f64(r, i, 5),
            .n = lfr__pg_null(r, i, 6) ? -1 : i64(r, i, 6),
        };
        rc = fn(&m, ctx);
    }
    PQclear(r);
    return rc;
}

/* ---- Watchlist -------------------------------------------------------------------------- */

static int pg_subject_insert(void *db, const lfr_subject *s, int64_t *id_out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, s->reference);
    lfr__pg_text(&p, lfr_category_name(s->category));
    lfr__pg_text(&p, s->reason);
    lfr__pg_text(&p, s->added_by);
    lfr__pg_text(&p, s->added_at);
    lfr__pg_text(&p, s->expires_at);
    return insert_id(db,
                     "INSERT INTO subjects (id, reference, category, reason, added_by, added_at,"
                     " expires_at) VALUES ((SELECT coalesce(max(id), 0) + 1 FROM subjects), $1,"
                     " $2, $3, $4, $5, $6) RETURNING id;",
                     &p, "add subject", id_out);
}

static int pg_image_insert(void *db, const lfr_subject_image *im, int64_t *id_out)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, im->subject_id);
    lfr__pg_text(&p, lfr_provenance_name(im->provenance));
    lfr__pg_opt(&p, im->capture_date);
    lfr__pg_text(&p, im->sha256);
    lfr__pg_text(&p, im->model_sha256);
    /* As SQLite stores them: the float widened to a double. */
    lfr__pg_real(&p, im->score);
    lfr__pg_real(&p, im->box_x);
    lfr__pg_real(&p, im->box_y);
    lfr__pg_real(&p, im->box_w);
    lfr__pg_real(&p, im->box_h);
    lfr__pg_text(&p, im->media_file);
    lfr__pg_text(&p, im->added_by);
    lfr__pg_text(&p, im->added_at);
    return insert_id(db,
                     "INSERT INTO images (id, subject_id, provenance, capture_date, sha256,"
                     " model_sha256, score, box_x, box_y, box_w, box_h, media_file, added_by,"
                     " added_at) VALUES ((SELECT coalesce(max(id), 0) + 1 FROM images), $1, $2,"
                     " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id;",
                     &p, "add image", id_out);
}

/* Columns of a subject with whether it expired by $1 and its live images. */
#define SUBJECT_COLUMNS                                                                            \
    "SELECT s.id, s.reference, s.category, s.reason, s.added_by, s.added_at, s.expires_at,"        \
    " s.removed_at, s.removed_by, (s.expires_at <= $1)::int,"                                      \
    " (SELECT count(*) FROM images i WHERE i.subject_id = s.id AND i.deleted_at IS NULL)"          \
    " FROM subjects s"

static int read_subject(const PGresult *r, int i, lfr_subject *o)
{
    memset(o, 0, sizeof *o);
    o->id = i64(r, i, 0);
    COPY(o->reference, i, 1);
    if (lfr_category_parse(get(r, i, 2), &o->category))
        return lfr__err(LFR_ERR_FORMAT, "database: subject %lld has an unknown category",
                        (long long)o->id);
    COPY(o->reason, i, 3);
    COPY(o->added_by, i, 4);
    COPY(o->added_at, i, 5);
    COPY(o->expires_at, i, 6);
    COPY(o->removed_at, i, 7);
    COPY(o->removed_by, i, 8);
    o->expired = (int)i64(r, i, 9);
    o->n_images = i64(r, i, 10);
    return LFR_OK;
}

static int pg_subject_get(void *db, int64_t id, const char *now, lfr_subject *out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, now);
    lfr__pg_int(&p, id);
    PGresult *r;
    int rc = lfr__pg_query(db, SUBJECT_COLUMNS " WHERE s.id = $2;", &p, "read subject", &r);
    if (rc) return rc;
    rc = PQntuples(r) ? read_subject(r, 0, out)
                      : lfr__err(LFR_ERR_NOT_FOUND, "no subject %lld", (long long)id);
    PQclear(r);
    return rc;
}

static int pg_subject_each(void *db, int include_removed, const char *now,
                           int (*fn)(const lfr_subject *s, void *ctx), void *ctx)
{
    int64_t after = 0;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_text(&p, now);
        lfr__pg_int(&p, after);
        PGresult *r;
        int rc = lfr__pg_query(db,
                               include_removed ? SUBJECT_COLUMNS
                                   " WHERE s.id > $2 ORDER BY s.id LIMIT " LFR__PG_PAGE_TEXT ";"
                                               : SUBJECT_COLUMNS
                                   " WHERE s.id > $2 AND s.removed_at IS NULL"
                                   " ORDER BY s.id LIMIT " LFR__PG_PAGE_TEXT ";",
                               &p, "read subjects", &r);
        if (rc) return rc;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            lfr_subject sub;
            rc = read_subject(r, i, &sub);
            if (!rc) rc = fn(&sub, ctx);
            after = sub.id;
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) return rc;
    }
}

static int pg_image_each(void *db, int64_t subject_id, int live_only,
                         int (*fn)(const lfr_subject_image *im, void *ctx), void *ctx)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, subject_id);
    PGresult *r;
#define IMAGE_COLUMNS                                                                              \
    "SELECT id, subject_id, provenance, capture_date, sha256, model_sha256, score, box_x, box_y,"  \
    " box_w, box_h, media_file, added_by, added_at, deleted_at FROM images WHERE subject_id = $1"
    int rc = lfr__pg_query(db,
                           live_only ? IMAGE_COLUMNS " AND deleted_at IS NULL ORDER BY id;"
                                     : IMAGE_COLUMNS " ORDER BY id;",
                           &p, "read images", &r);
#undef IMAGE_COLUMNS
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_subject_image im;
        memset(&im, 0, sizeof im);
        im.id = i64(r, i, 0);
        im.subject_id = i64(r, i, 1);
        if (lfr_provenance_parse(get(r, i, 2), &im.provenance)) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: image %lld has an unknown provenance",
                          (long long)im.id);
            break;
        }
        COPY(im.capture_date, i, 3);
        COPY(im.sha256, i, 4);
        COPY(im.model_sha256, i, 5);
        im.score = (float)f64(r, i, 6);
        im.box_x = (float)f64(r, i, 7);
        im.box_y = (float)f64(r, i, 8);
        im.box_w = (float)f64(r, i, 9);
        im.box_h = (float)f64(r, i, 10);
        COPY(im.media_file, i, 11);
        COPY(im.added_by, i, 12);
        COPY(im.added_at, i, 13);
        COPY(im.deleted_at, i, 14);
        rc = fn(&im, ctx);
    }
    PQclear(r);
    return rc;
}

static int pg_subject_remove(void *db, int64_t id, const char *when, const char *by)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, id);
    lfr__pg_text(&p, when);
    lfr__pg_text(&p, by);
    int64_t changed = 0;
    int rc = lfr__pg_run(db,
                         "UPDATE subjects SET removed_at = $2, removed_by = $3"
                         " WHERE id = $1 AND removed_at IS NULL;",
                         &p, "remove subject", &changed);
    if (!rc && changed != 1)
        return lfr__err(LFR_ERR_CONFLICT, "subject %lld is already removed", (long long)id);
    p.n = 2;
    if (!rc)
        rc = lfr__pg_run(db,
                         "UPDATE images SET deleted_at = $2 WHERE subject_id = $1"
                         " AND deleted_at IS NULL;",
                         &p, "delete images", NULL);
    return rc;
}

static int pg_watchlist_stats(void *db, const char *now, lfr_watchlist_stats *out)
{
    memset(out, 0, sizeof *out);
    lfr__pg_params p = {0};
    lfr__pg_text(&p, now);
    PGresult *r;
    int rc = lfr__pg_query(db,
                           "SELECT s.category, (s.removed_at IS NOT NULL)::int,"
                           " (s.expires_at <= $1)::int, i.provenance, count(DISTINCT s.id),"
                           " count(i.id) FROM subjects s"
                           " LEFT JOIN images i ON i.subject_id = s.id AND i.deleted_at IS NULL"
                           " GROUP BY 1, 2, 3, 4;",
                           &p, "watchlist stats", &r);
    if (rc) return rc;
    /* A subject with images of several provenances appears in several
     * groups: count subjects apart, per category and state. */
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_category c;
        lfr_provenance pv = 0;
        if (lfr_category_parse(get(r, i, 0), &c) ||
            (!lfr__pg_null(r, i, 3) && lfr_provenance_parse(get(r, i, 3), &pv))) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: unknown category or provenance");
            break;
        }
        int64_t n_img = i64(r, i, 5);
        if (i64(r, i, 1)) continue;
        if (i64(r, i, 2)) {
            out->expired_images += n_img;
        } else {
            out->active_images[c] += n_img;
            if (pv) out->images_by_provenance[pv] += n_img;
        }
    }
    PQclear(r);
    if (rc) return rc;
    rc = lfr__pg_query(db,
                       "SELECT category, (removed_at IS NOT NULL)::int, (expires_at <= $1)::int,"
                       " count(*) FROM subjects GROUP BY 1, 2, 3;",
                       &p, "watchlist stats", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        lfr_category c;
        if (lfr_category_parse(get(r, i, 0), &c)) {
            rc = lfr__err(LFR_ERR_FORMAT, "database: unknown category");
            break;
        }
        int64_t n = i64(r, i, 3);
        if (i64(r, i, 1))
            out->removed += n;
        else if (i64(r, i, 2))
            out->expired[c] += n;
        else
            out->active[c] += n;
    }
    PQclear(r);
    return rc;
}

static int pg_media_used(void *db, const char *name, int *used_out)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    int64_t n = 0;
    int rc = one_int(db,
                     "SELECT (SELECT count(*) FROM images WHERE media_file = $1"
                     " AND deleted_at IS NULL)"
                     " + (SELECT count(*) FROM deployments WHERE snapshot_file = $1)"
                     " + (SELECT count(*) FROM alerts WHERE crop_file = $1);",
                     &p, "read media names", &n);
    if (!rc) *used_out = n > 0;
    return rc;
}

/* ---- Sealed media --------------------------------------------------------------------------- */

static int pg_blob_put(void *db, const char *name, const uint8_t *data, size_t n)
{
    if (n > (size_t)1 << 30) return lfr__err(LFR_ERR_TOO_LARGE, "media %s: over 1 GiB", name);
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    lfr__pg_bytes(&p, data, n);
    /* Not waiting for the disk here: the transaction that commits the rows
     * naming the blob waits for a flush that covers this earlier commit
     * (pg_commit), and a blob whose rows never commit is an orphan either
     * way. Inside an open transaction it is simply part of it. */
    if (PQtransactionStatus(((pgdb *)db)->conn) == PQTRANS_IDLE && !strict_commit)
        return lfr__pg_run(db,
                           "WITH put AS (INSERT INTO media (name, data) VALUES ($1, $2))"
                           " SELECT set_config('synchronous_commit', 'off', true);",
                           &p, "store media", NULL);
    return lfr__pg_run(db, "INSERT INTO media (name, data) VALUES ($1, $2);", &p, "store media",
                       NULL);
}

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static int pg_blob_get(void *h, const char *name, size_t max_size, uint8_t **out, size_t *n_out)
{
    pgdb *db = h;
    *out = NULL;
    *n_out = 0;
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    lfr__pg_int(&p, max_size > INT64_MAX ? INT64_MAX : (int64_t)max_size);
    PGresult *r;
    /* Binary rows: the bytes as they are, and the size as 8 bytes. */
    int rc = execute(db,
                     "SELECT CASE WHEN octet_length(data) <= $2::bigint THEN data END,"
                     " octet_length(data)::bigint FROM media WHERE name = $1;",
                     &p, 1, "read media", &r);
    if (rc) return rc;
    if (PQntuples(r) != 1) {
        rc = lfr__err(LFR_ERR_NOT_FOUND, "media %s: not in the database", name);
    } else if (PQgetisnull(r, 0, 0)) {
        rc = lfr__err(LFR_ERR_TOO_LARGE, "media %s: %llu bytes, more than %zu", name,
                      (unsigned long long)be64((const uint8_t *)PQgetvalue(r, 0, 1)), max_size);
    } else {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        *out = malloc(n ? n : 1);
        if (!*out)
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory reading %zu bytes", n);
        else {
            memcpy(*out, PQgetvalue(r, 0, 0), n);
            *n_out = n;
        }
    }
    PQclear(r);
    return rc;
}

static int pg_blob_delete(void *db, const char *name)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, name);
    return lfr__pg_run(db, "DELETE FROM media WHERE name = $1;", &p, "delete media", NULL);
}

static int pg_blob_each_stale(void *db, int (*fn)(const char *name, void *ctx), void *ctx)
{
    PGresult *r;
    int rc = lfr__pg_query(db,
                           "SELECT name FROM media WHERE created_at < now() - interval '1 hour'"
                           " ORDER BY name;",
                           NULL, "read media names", &r);
    if (rc) return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++)
        rc = fn(get(r, i, 0), ctx);
    PQclear(r);
    return rc;
}

/* ---- The transparency log ------------------------------------------------------ */

static int pg_log_head_get(void *h, lfr__log_head *out)
{
    pgdb *db = h;
    memset(out, 0, sizeof *out);
    PGresult *r;
    /* Binary rows: the size (8 bytes), the frontier as it is, the note. */
    int rc = execute(db, "SELECT size, frontier, note FROM log_head WHERE id = 1;", NULL, 1,
                     "read the log's head", &r);
    if (rc) return rc;
    if (PQntuples(r) == 0) {
        rc = lfr__err(LFR_ERR_NOT_FOUND, "the log has no signed head");
    } else {
        int nf = PQgetlength(r, 0, 1), nn = PQgetlength(r, 0, 2);
        int64_t size =
            PQgetlength(r, 0, 0) == 8 ? (int64_t)be64((const uint8_t *)PQgetvalue(r, 0, 0)) : -1;
        if (size < 0 || nf > LFR__FRONTIER_MAX || nn >= LFR__HEAD_NOTE_MAX) {
            rc = lfr__err(LFR_ERR_TAMPERED, "the log's signed head (log_head) is malformed");
        } else {
            out->size = (uint64_t)size;
            out->n_frontier = (size_t)nf;
            if (nf) memcpy(out->frontier, PQgetvalue(r, 0, 1), (size_t)nf);
            out->n_note = (size_t)nn;
            memcpy(out->note, PQgetvalue(r, 0, 2), (size_t)nn);
            out->note[nn] = 0;
        }
    }
    PQclear(r);
    return rc;
}

static int pg_log_head_put(void *db, const lfr__log_head *hd)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, (int64_t)hd->size);
    lfr__pg_bytes(&p, hd->frontier, hd->n_frontier);
    lfr__pg_text(&p, hd->note);
    return lfr__pg_run(db,
                       "INSERT INTO log_head (id, size, frontier, note) VALUES (1, $1, $2, $3)"
                       " ON CONFLICT (id) DO UPDATE SET size = excluded.size,"
                       " frontier = excluded.frontier, note = excluded.note;",
                       &p, "write the log's head", NULL);
}

static int pg_log_checkpoint_add(void *db, uint64_t size, const char *time, const char *reason,
                                 const char *note)
{
    lfr__pg_params p = {0};
    lfr__pg_int(&p, (int64_t)size);
    lfr__pg_text(&p, time);
    lfr__pg_text(&p, reason);
    lfr__pg_text(&p, note);
    return lfr__pg_run(db,
                       "INSERT INTO log_checkpoints (size, time, reason, note)"
                       " VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING;",
                       &p, "publish a checkpoint", NULL);
}

static int pg_log_checkpoint_last(void *db, uint64_t *size_out, char time_out[LFR__TIME_LEN])
{
    PGresult *r;
    int rc = lfr__pg_query(db, "SELECT size, time FROM log_checkpoints ORDER BY size DESC LIMIT 1;",
                           NULL, "read checkpoints", &r);
    if (rc) return rc;
    if (PQntuples(r) == 0) {
        rc = lfr__err(LFR_ERR_NOT_FOUND, "no checkpoint published yet");
    } else {
        int64_t size = i64(r, 0, 0);
        *size_out = size < 0 ? 0 : (uint64_t)size;
        snprintf(time_out, LFR__TIME_LEN, "%s", get(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

static int pg_log_checkpoint_each(void *db,
                                  int (*fn)(uint64_t size, const char *time, const char *reason,
                                            const char *note, void *ctx),
                                  void *ctx)
{
    int64_t after = -1;
    for (;;) {
        lfr__pg_params p = {0};
        lfr__pg_int(&p, after);
        PGresult *r;
        int rc = lfr__pg_query(db,
                               "SELECT size, time, reason, note FROM log_checkpoints"
                               " WHERE size > $1 ORDER BY size LIMIT " LFR__PG_PAGE_TEXT ";",
                               &p, "read checkpoints", &r);
        if (rc) return rc;
        int rows = PQntuples(r);
        for (int i = 0; !rc && i < rows; i++) {
            int64_t size = i64(r, i, 0);
            rc = fn(size < 0 ? 0 : (uint64_t)size, get(r, i, 1), get(r, i, 2), get(r, i, 3), ctx);
            after = size;
        }
        PQclear(r);
        if (rc || rows < LFR__PG_PAGE) return rc;
    }
}

const lfr__backend lfr__pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .open_readonly = pg_open_readonly,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .schema_version = pg_schema_version,
    .schema_latest = pg_schema_latest,
    .migrate_step = pg_migrate_step,
    .user_count = pg_user_count,
    .user_insert = pg_user_insert,
    .user_by_name = pg_user_by_name,
    .user_by_id = pg_user_by_id,
    .user_each = pg_user_each,
    .sharing_insert = pg_sharing_insert,
    .sharing_each = pg_sharing_each,
    .evaluation_insert = pg_evaluation_insert,
    .evaluation_each = pg_evaluation_each,
    .evaluation_metrics_each = pg_evaluation_metrics_each,
    .subject_insert = pg_subject_insert,
    .image_insert = pg_image_insert,
    .subject_get = pg_subject_get,
    .subject_each = pg_subject_each,
    .image_each = pg_image_each,
    .subject_remove = pg_subject_remove,
    .watchlist_stats = pg_watchlist_stats,
    .media_used = pg_media_used,
    .deployment_insert = lfr__pg_deployment_insert,
    .deployment_get = lfr__pg_deployment_get,
    .deployment_each = lfr__pg_deployment_each,
    .deployment_update = lfr__pg_deployment_update,
    .snapshot_insert = lfr__pg_snapshot_insert,
    .snapshot_each = lfr__pg_snapshot_each,
    .counters_add = lfr__pg_counters_add,
    .counters_each = lfr__pg_counters_each,
    .alert_insert = lfr__pg_alert_insert,
    .alert_get = lfr__pg_alert_get,
    .alert_each = lfr__pg_alert_each,
    .alert_update = lfr__pg_alert_update,
    .image_delete = lfr__pg_image_delete,
    .policy_each = lfr__pg_policy_each,
    .policy_put = lfr__pg_policy_put,
    .audit_head = pg_audit_head,
    .audit_insert = pg_audit_insert,
    .audit_each = pg_audit_each,
    .blob_put = pg_blob_put,
    .blob_get = pg_blob_get,
    .blob_delete = pg_blob_delete,
    .blob_each_stale = pg_blob_each_stale,
    .log_head_get = pg_log_head_get,
    .log_head_put = pg_log_head_put,
    .log_checkpoint_add = pg_log_checkpoint_add,
    .log_checkpoint_last = pg_log_checkpoint_last,
    .log_checkpoint_each = pg_log_checkpoint_each,
};
