/*
 * lfr_store_copy: an embedded home copied into PostgreSQL, for a site that
 * outgrows one machine. The copy is exact: every row of every table with
 * its id, the audit log entry for entry (the same times, details and
 * hashes), and every sealed blob that a row names, byte for byte (sealed
 * under the same key, which the new home gets a copy of). One entry is
 * added after the copied ones, "store.copy", saying what was copied from
 * where, through the new home, as any change is (signed, anchored), so
 * that the new log tells how it began. The new home gets copies of the
 * keys (the media key, the log's signing key and its public keys) and of
 * the anchor, so the copy continues the same signed log.
 *
 * Before anything is written the source's chain and records must verify;
 * after, the copy must verify in the new home, with as many rows in each
 * table as the source has.
 *
 * The database's part is one transaction: a copy interrupted (killed, the
 * connection lost) leaves the database as it was, and running it again
 * starts again; a run that finds the database already holding this very
 * copy (its entries up to the source's newest, with or without its
 * store.copy entry after them) only completes what is left. Anything else in the database
 * is refused. The new home (key, `database`, audit.head) is written after
 * the commit, and a rerun completes one that a kill left half-made.
 *
 * The tables are read from the source as SQLite lists them, in creation
 * order (so a table comes after those it refers to), and inserted column
 * by column by name with bound values; a table or column without a
 * PostgreSQL counterpart stops the copy. Rows go in batches through
 * libpq's pipeline mode (one round trip per batch, not per row).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "pg.h"
#include "util/util.h"

#define BATCH 500
#define MAX_COLUMNS 64

/* ---- The new home --------------------------------------------------------------- */

static int path_in(const char *home, const char *leaf, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", home, leaf);
    if (n < 0 || (size_t)n >= cap)
        return lfr__err(LFR_ERR_INVALID, "%.64s...: path too long", home);
    return LFR_OK;
}

/* Whether the file `leaf` of home holds exactly n bytes equal to data:
 * 1 yes, 0 absent, LFR_ERR_CONFLICT (message set) when it differs. */
static int same_file(const char *home, const char *leaf, const void *data, size_t n)
{
    char path[4096];
    int rc = path_in(home, leaf, path, sizeof path);
    if (rc) return rc;
    struct stat st;
    if (lstat(path, &st) && errno == ENOENT) return 0;
    uint8_t *b = NULL;
    size_t bn = 0;
    rc = lfr__read_file(path, 8192, &b, &bn);
    int same = !rc && bn == n && sodium_memcmp(b, data, n) == 0;
    if (b) {
        sodium_memzero(b, bn);
        free(b);
    }
    if (!same)
        return lfr__err(LFR_ERR_CONFLICT, "%s: exists and is not this copy's; give a new home",
                        path);
    return 1;
}

/* The new home may be absent, empty, or what an interrupted run of this
 * same copy left (the same key and connection string, an anchor). */
static int check_new_home(const char *home, const uint8_t *key, const char *line)
{
    struct stat st;
    if (lstat(home, &st)) {
        if (errno == ENOENT) return LFR_OK;
        return lfr__err(LFR_ERR_IO, "%s: %s", home, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return lfr__err(LFR_ERR_CONFLICT, "%s: not a folder", home);
    DIR *d = opendir(home);
    if (!d) return lfr__err(LFR_ERR_IO, "%s: %s", home, strerror(errno));
    struct dirent *e;
    int rc = LFR_OK;
    while (!rc && (e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strncmp(n, "audit.", 6) ||
            !strncmp(n, "log.", 4))
            continue;
        if (!strcmp(n, "key"))
            rc = same_file(home, "key", key, LFR__KEY_BYTES) < 0 ? LFR_ERR_CONFLICT : LFR_OK;
        else if (!strcmp(n, "database"))
            rc = same_file(home, "database", line, strlen(line)) < 0 ? LFR_ERR_CONFLICT : LFR_OK;
        else
            rc =
                lfr__err(LFR_ERR_CONFLICT,
                         "%s: holds %.64s, so it is not a new home (nor one a copy left)", home, n);
    }
    closedir(d);
    return rc;
}

/* Copy home/leaf to the new home unless it is there already (a rerun
 * after the copy's entry moved the anchor on), with the source's mode. */
static int copy_home_file(const char *from, const char *to, const char *leaf)
{
    char src[4096], dst[4096];
    int rc = path_in(from, leaf, src, sizeof src);
    if (!rc) rc = path_in(to, leaf, dst, sizeof dst);
    if (rc) return rc;
    struct stat st;
    if (lstat(dst, &st) == 0) return LFR_OK;
    if (lstat(src, &st))
        return errno == ENOENT ? LFR_OK : lfr__err(LFR_ERR_IO, "%s: %s", src, strerror(errno));
    uint8_t *b = NULL;
    size_t n = 0;
    rc = lfr__read_file(src, (size_t)1 << 20, &b, &n);
    if (!rc) rc = lfr__private_file(dst, b, n);
    if (!rc && chmod(dst, st.st_mode & 0600))
        rc = lfr__err(LFR_ERR_IO, "%s: %s", dst, strerror(errno));
    if (b) {
        sodium_memzero(b, n);
        free(b);
    }
    return rc;
}

/* The new home: the media key, the connection string, the log's keys and
 * the anchor, as the home has them. */
static int write_home(const char *from, const char *home, const uint8_t *key, const char *line)
{
    char path[4096];
    int rc = lfr__private_dir(home);
    if (!rc) rc = path_in(home, "key", path, sizeof path);
    if (!rc && same_file(home, "key", key, LFR__KEY_BYTES) == 0)
        rc = lfr__private_file(path, key, LFR__KEY_BYTES);
    if (!rc) rc = path_in(home, "database", path, sizeof path);
    if (!rc && same_file(home, "database", line, strlen(line)) == 0)
        rc = lfr__private_file(path, line, strlen(line));
    static const char *const leaves[] = {"log.key", "log.pub", "audit.head"};
    for (size_t i = 0; !rc && i < sizeof leaves / sizeof leaves[0]; i++)
        rc = copy_home_file(from, home, leaves[i]);
    return rc;
}

/* ---- The source ----------------------------------------------------------------- */

typedef struct source {
    sqlite3 *db;
    char tables[64][64];
    int n_tables;
} source;

static int sq_fail(sqlite3 *db, const char *what)
{
    return lfr__err(LFR_ERR_STORE, "source database: %s: %s", what, sqlite3_errmsg(db));
}

/* Table and column names come from the source's schema; they are spliced
 * into statements only when made of [a-z0-9_]. */
static int plain_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > 63) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            return 0;
    return 1;
}

static int source_open(const char *home, source *src)
{
    memset(src, 0, sizeof *src);
    char path[4096];
    int rc = path_in(home, "lfr.db", path, sizeof path);
    if (rc) return rc;
    if (sqlite3_open_v2(path, &src->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK)
        return sq_fail(src->db, "open");
    sqlite3_busy_timeout(src->db, 5000);
    /* One read transaction: every table is read as of one moment. */
    if (sqlite3_exec(src->db, "BEGIN;", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(src->db, "begin");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src->db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE"
                           " 'sqlite_%' ORDER BY rowid;",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(src->db, "tables");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        if (!n || !plain_name(n) || src->n_tables == 64) {
            rc =
                lfr__err(LFR_ERR_FORMAT, "source database: unexpected table \"%.40s\"", n ? n : "");
            break;
        }
        snprintf(src->tables[src->n_tables++], sizeof src->tables[0], "%s", n);
    }
    if (!rc && step != SQLITE_DONE) rc = sq_fail(src->db, "tables");
    sqlite3_finalize(st);
    return rc;
}

static void source_close(source *src)
{
    if (src->db) sqlite3_exec(src->db, "ROLLBACK;", NULL, NULL, NULL);
    sqlite3_close(src->db);
}

static int source_count(source *src, const char *table, int64_t *n_out)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\";", table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(src->db, table);
    int rc = sqlite3_step(st) == SQLITE_ROW ? LFR_OK : sq_fail(src->db, table);
    if (!rc) *n_out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- Copying rows ---------------------------------------------------------------- */

/* Collect the results of a pipeline up to its sync point. */
static int pipeline_drain(PGconn *c, const char *table)
{
    int rc = LFR_OK;
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) continue; /* the end of one query's results */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return rc;
        }
        if (!rc && st != PGRES_COMMAND_OK) {
            const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            rc = lfr__err(LFR_ERR_STORE, "database: copy %s: %s", table, m ? m : PQerrorMessage(c));
        }
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            return rc ? rc : lfr__err(LFR_ERR_STORE, "database: copy %s: connection lost", table);
    }
}

/* The columns table `t` has in PostgreSQL, space-separated in out. */
static int target_columns(void *pg, const char *t, char *out, size_t cap)
{
    lfr__pg_params p = {0};
    lfr__pg_text(&p, t);
    PGresult *r;
    int rc = lfr__pg_query(pg,
                           "SELECT column_name FROM information_schema.columns"
                           " WHERE table_schema = current_schema() AND table_name = $1;",
                           &p, "columns", &r);
    if (rc) return rc;
    snprintf(out, cap, " ");
    for (int i = 0; i < PQntuples(r); i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s ", lfr__pg_get(r, i, 0));
    }
    PQclear(r);
    return LFR_OK;
}

static int copy_table(source *src, void *pg, PGconn *c, const char *t, int64_t *rows_out)
{
    char sql[4096], cols[3000], have[4096];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid;", t);
    sqlite3_stmt *st;
    /* A table without rowid has none to order by: its rows as stored. */
    if (sqlite3_prepare_v2(src->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\";", t);
        if (sqlite3_prepare_v2(src->db, sql, -1, &st, NULL) != SQLITE_OK)
            return sq_fail(src->db, t);
    }
    int n_cols = sqlite3_column_count(st);
    int rc = target_columns(pg, t, have, sizeof have);
    if (!rc && have[1] == 0)
        rc = lfr__err(LFR_ERR_UNSUPPORTED,
                      "table %s has no PostgreSQL counterpart (this program's PostgreSQL schema"
                      " is behind its SQLite one)",
                      t);
    if (!rc && (n_cols < 1 || n_cols > MAX_COLUMNS))
        rc = lfr__err(LFR_ERR_FORMAT, "source table %s: %d columns", t, n_cols);
    size_t n = 0;
    char values[600] = "";
    for (int i = 0; !rc && i < n_cols; i++) {
        const char *name = sqlite3_column_name(st, i);
        char word[80];
        snprintf(word, sizeof word, " %s ", name ? name : "");
        if (!name || !plain_name(name))
            rc = lfr__err(LFR_ERR_FORMAT, "source table %s: unexpected column", t);
        else if (!strstr(have, word))
            rc = lfr__err(LFR_ERR_UNSUPPORTED, "column %s.%s has no PostgreSQL counterpart", t,
                          name);
        else {
            n += (size_t)snprintf(cols + n, sizeof cols - n, "%s\"%s\"", i ? ", " : "", name);
            size_t vn = strlen(values);
            snprintf(values + vn, sizeof values - vn, "%s$%d", i ? ", " : "", i + 1);
        }
    }
    char name[96];
    snprintf(name, sizeof name, "lfr_copy_%s", t);
    if (!rc) {
        snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (%s) VALUES (%s);", t, cols, values);
        PGresult *r = PQprepare(c, name, sql, n_cols, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = lfr__err(LFR_ERR_STORE, "database: copy %s: %s", t, PQresultErrorMessage(r));
        PQclear(r);
    }
    if (!rc && !PQenterPipelineMode(c))
        rc = lfr__err(LFR_ERR_STORE, "database: pipeline mode: %s", PQerrorMessage(c));
    int64_t rows = 0, pending = 0;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v[MAX_COLUMNS];
        int len[MAX_COLUMNS], fmt[MAX_COLUMNS];
        char num[MAX_COLUMNS][32];
        for (int i = 0; i < n_cols; i++) {
            len[i] = fmt[i] = 0;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                v[i] = NULL;
                break;
            case SQLITE_INTEGER:
                snprintf(num[i], sizeof num[i], "%lld", (long long)sqlite3_column_int64(st, i));
                v[i] = num[i];
                break;
            case SQLITE_FLOAT:
                /* Every bit: %.17g reads back as the same double. */
                snprintf(num[i], sizeof num[i], "%.17g", sqlite3_column_double(st, i));
                v[i] = num[i];
                break;
            case SQLITE_BLOB:
                v[i] = sqlite3_column_blob(st, i);
                len[i] = sqlite3_column_bytes(st, i);
                fmt[i] = 1;
                if (!v[i]) v[i] = "";
                break;
            default:
                v[i] = (const char *)sqlite3_column_text(st, i);
            }
        }
        /* The values are copied into libpq's buffer by this call. */
        if (!PQsendQueryPrepared(c, name, n_cols, v, len, fmt, 0))
            rc = lfr__err(LFR_ERR_STORE, "database: copy %s: %s", t, PQerrorMessage(c));
        rows++;
        if (!rc && ++pending == BATCH) {
            rc = PQpipelineSync(c) ? pipeline_drain(c, t)
                                   : lfr__err(LFR_ERR_STORE, "database: %s", PQerrorMessage(c));
            pending = 0;
        }
    }
    if (!rc && step != SQLITE_DONE) rc = sq_fail(src->db, t);
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
        int drc = PQpipelineSync(c) ? pipeline_drain(c, t) : LFR_ERR_STORE;
        if (!rc) rc = drc;
        PQexitPipelineMode(c);
    }
    sqlite3_finalize(st);
    if (!rc) *rows_out = rows;
    return rc;
}

/* ---- Sealed media ----------------------------------------------------------------- */

typedef struct media_copy {
    lfr_store *src;
    void *pg;
    int64_t n, bytes;
} media_copy;

/* Every blob a live row names, from media/ into the table media. */
static int copy_media(media_copy *m)
{
    int dfd = dup(m->src->media_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return lfr__err(LFR_ERR_IO, "%s/media: %s", m->src->home, strerror(errno));
    }
    rewinddir(d);
    int rc = LFR_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!lfr__media_name_ok(e->d_name)) continue;
        int used = 0;
        rc = m->src->be->media_used(m->src->db, e->d_name, &used);
        if (rc || !used) continue;
        uint8_t *b = NULL;
        size_t n = 0;
        rc = lfr__media_read(m->src, e->d_name, (size_t)1 << 30, &b, &n);
        if (!rc) rc = lfr__pg_backend.blob_put(m->pg, e->d_name, b, n);
        free(b);
        if (!rc) {
            m->n++;
            m->bytes += (int64_t)n;
        }
    }
    closedir(d);
    return rc;
}

/* The names live rows hold, counted in the source: each must have come
 * across (a row naming a missing file stops the copy). */
static int check_media_names(source *src, void *pg, int64_t copied)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src->db,
                           "SELECT media_file FROM images WHERE deleted_at IS NULL UNION"
                           " SELECT snapshot_file FROM deployments WHERE snapshot_file IS NOT NULL"
                           " UNION SELECT crop_file FROM alerts WHERE crop_file IS NOT NULL;",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(src->db, "media names");
    int rc = LFR_OK, step;
    int64_t n = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        n++;
        lfr__pg_params p = {0};
        lfr__pg_text(&p, name);
        PGresult *r;
        rc = lfr__pg_query(pg, "SELECT count(*) FROM media WHERE name = $1;", &p, "media", &r);
        if (rc) break;
        if (lfr__pg_i64(r, 0, 0) != 1)
            rc = lfr__err(LFR_ERR_NOT_FOUND,
                          "source: a record names sealed media %.40s, which is not in media/",
                          name ? name : "");
        PQclear(r);
    }
    sqlite3_finalize(st);
    if (!rc && n != copied)
        rc = lfr__err(LFR_ERR_STORE, "copy: %lld sealed media named, %lld copied", (long long)n,
                      (long long)copied);
    return rc;
}

/* ---- The copy ----------------------------------------------------------------------- */

/* What the database holds of this copy: nothing (*state 0: empty), the
 * copy without its store.copy entry (1), or with it (2); LFR_ERR_CONFLICT
 * when it holds anything else. */
static int existing_copy(void *pg, const lfr_audit_verdict *v, int *state)
{
    *state = 0;
    int version = 0;
    int rc = lfr__pg_backend.schema_version(pg, &version);
    if (rc || version == 0) return rc;
    lfr__pg_params p = {0};
    lfr__pg_int(&p, (int64_t)v->head_seq);
    PGresult *r;
    rc = lfr__pg_query(pg,
                       "SELECT (SELECT count(*) FROM audit),"
                       " (SELECT encode(hash, 'hex') FROM audit WHERE seq = $1),"
                       " (SELECT action FROM audit WHERE seq = $1 + 1);",
                       &p, "read the copy", &r);
    if (rc) return rc;
    char hex[2 * LFR_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, v->head_hash, LFR_HASH_BYTES);
    int64_t n = lfr__pg_i64(r, 0, 0);
    int same = !strcmp(lfr__pg_get(r, 0, 1), hex);
    if (same && n == (int64_t)v->head_seq)
        *state = 1;
    else if (same && n == (int64_t)v->head_seq + 1 && !strcmp(lfr__pg_get(r, 0, 2), "store.copy"))
        *state = 2;
    PQclear(r);
    if (!*state)
        return lfr__err(LFR_ERR_CONFLICT,
                        "the database already holds an lfr store that is not a copy of this home"
                        " as it is now (schema version %d); copy into an empty database",
                        version);
    return LFR_OK;
}

static int copy_all(lfr_store *from, source *src, void *pg, lfr_store_copy_result *res)
{
    PGconn *c = lfr__pg_conn(pg);
    int rc = lfr__pg_backend.begin(pg);
    for (int to = 1; !rc && to <= lfr__pg_backend.schema_latest(); to++)
        rc = lfr__pg_backend.migrate_step(pg, to);
    for (int i = 0; !rc && i < src->n_tables; i++) {
        int64_t rows = 0;
        rc = copy_table(src, pg, c, src->tables[i], &rows);
        res->rows += rows;
        res->tables++;
    }
    media_copy m = {from, pg, 0, 0};
    if (!rc) rc = copy_media(&m);
    if (!rc) rc = check_media_names(src, pg, m.n);
    res->media = m.n;
    res->media_bytes = m.bytes;
    if (!rc)
        rc = lfr__pg_backend.commit(pg);
    else
        lfr__pg_backend.rollback(pg);
    return rc;
}

/* After the copy: as many rows in every table as the source (audit: one
 * more once the copy's entry is there); the totals to res. */
static int compare_counts(source *src, void *pg, int with_entry, lfr_store_copy_result *res)
{
    res->tables = res->rows = 0;
    for (int i = 0; i < src->n_tables; i++) {
        const char *t = src->tables[i];
        int64_t a = 0, b = 0;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\";", t);
        PGresult *r;
        int rc = source_count(src, t, &a);
        if (!rc) rc = lfr__pg_query(pg, sql, NULL, "count", &r);
        if (rc) return rc;
        b = lfr__pg_i64(r, 0, 0);
        PQclear(r);
        if (!strcmp(t, "audit")) b -= with_entry;
        /* Its entry's commit may have published a checkpoint. */
        if (with_entry && !strcmp(t, "log_checkpoints") && b > a) b = a;
        res->tables++;
        res->rows += a;
        if (a != b)
            return lfr__err(LFR_ERR_STORE, "copy: table %s has %lld rows here and %lld in the home",
                            t, (long long)b, (long long)a);
    }
    PGresult *r;
    int rc = lfr__pg_query(pg, "SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM media;",
                           NULL, "count", &r);
    if (rc) return rc;
    res->media = lfr__pg_i64(r, 0, 0);
    res->media_bytes = lfr__pg_i64(r, 0, 1);
    PQclear(r);
    return LFR_OK;
}

int lfr_store_copy(const char *from_home, const char *to_home, const lfr_store_config *to,
                   lfr_store_copy_result *out)
{
    lfr_store_copy_result res;
    memset(&res, 0, sizeof res);
    if (out) *out = res;
    if (!from_home || !to_home || !to || !to->database || !*to->database)
        return lfr__err(LFR_ERR_INVALID, "copy: a home, a new home and a database are needed");
    lfr_store *from = NULL;
    int rc = lfr_store_open(from_home, &from);
    if (rc) return lfr__err_prefix(rc, "copy: source");
    if (strcmp(from->be->name, "sqlite")) {
        lfr_store_close(from);
        return lfr__err(LFR_ERR_UNSUPPORTED, "copy: %s is not an embedded home", from_home);
    }
    char line[4096 + 2];
    snprintf(line, sizeof line, "%s\n", to->database);
    lfr_audit_verdict v;
    rc = lfr_audit_verify(from, &v);
    if (rc) lfr__err_prefix(rc, "copy: the home does not verify, so it is not copied");
    if (!rc) rc = check_new_home(to_home, from->key, line);
    void *pg = NULL;
    if (!rc) rc = lfr__pg_backend.open(to->database, 1, &pg);
    int state = 0;
    if (!rc) rc = existing_copy(pg, &v, &state);
    source src = {0};
    if (!rc) rc = source_open(from_home, &src);
    if (!rc && state == 0) rc = copy_all(from, &src, pg, &res);
    res.already = state != 0;
    res.entries = v.head_seq;
    if (!rc) rc = compare_counts(&src, pg, state == 2, &res);
    source_close(&src);
    lfr__pg_backend.close(pg);
    if (!rc) rc = write_home(from_home, to_home, from->key, line);
    lfr_store_close(from);
    sodium_memzero(line, sizeof line);
    if (rc) return rc;

    /* The copy's own entry, through the new home: signed and anchored as
     * every change is. */
    lfr_store *copy = NULL;
    rc = lfr_store_open(to_home, &copy);
    if (!rc && state < 2) {
        char hex[2 * LFR_HASH_BYTES + 1], detail[400];
        sodium_bin2hex(hex, sizeof hex, v.head_hash, LFR_HASH_BYTES);
        snprintf(detail, sizeof detail,
                 "{\"from\":\"sqlite\",\"entries\":%llu,\"head\":\"%s\",\"tables\":%lld,"
                 "\"rows\":%lld,\"media\":%lld,\"media_bytes\":%lld}",
                 (unsigned long long)v.head_seq, hex, (long long)res.tables, (long long)res.rows,
                 (long long)res.media, (long long)res.media_bytes);
        rc = lfr__store_begin(copy);
        if (!rc) rc = lfr__audit_append(copy, "system", "store.copy", "store", detail);
        if (!rc)
            rc = lfr__store_commit(copy);
        else
            lfr__store_rollback(copy);
    }
    /* The copy, as the new home sees it. */
    lfr_audit_verdict cv;
    if (!rc) rc = lfr_audit_verify(copy, &cv);
    if (!rc && cv.head_seq != v.head_seq + 1)
        rc = lfr__err(LFR_ERR_STORE, "copy: verified to entry %llu, not %llu",
                      (unsigned long long)cv.head_seq, (unsigned long long)v.head_seq + 1);
    lfr_store_close(copy);
    if (rc) return lfr__err_prefix(rc, "copy: the copy does not verify");
    if (out) *out = res;
    return LFR_OK;
}
