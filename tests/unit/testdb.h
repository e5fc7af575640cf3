/*
 * The store tests run against both backends: embedded (SQLite) homes by
 * default, PostgreSQL ones when LFR_TEST_BACKEND=postgresql. For the
 * PostgreSQL pass, LFR_PG_TEST is a connection string to a server on which
 * the tests may create databases (scripts/pg-test-server.sh starts one and
 * sets it; CTest registers each store test twice, the second as <name>_pg);
 * every home then gets a database of its own, dropped with it. Without a
 * server the PostgreSQL pass says SKIP with the reason (LFR_PG_SKIP, set by
 * the script when PostgreSQL could not start) and exits 77.
 *
 * Tests reach the database behind lfr's back, as a person with access to it
 * would, through these helpers: sqlite3 on home/lfr.db, or libpq on the
 * database named in home/database. Statements differ between the two only
 * where the dialects do (tdb_q picks); values are bound as $1, $2, ...
 * in both.
 *
 * Include after <cmocka.h>.
 */
#ifndef LFR_TESTDB_H
#define LFR_TESTDB_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "lfr/lfr.h"
#include "util/util.h"

/* 1 on the PostgreSQL pass. */
static inline int tdb_pg(void)
{
    const char *b = getenv("LFR_TEST_BACKEND");
    return b && (!strcmp(b, "postgresql") || !strcmp(b, "pg"));
}

/* The statement for this pass's dialect. */
static inline const char *tdb_q(const char *sqlite_sql, const char *pg_sql)
{
    return tdb_pg() ? pg_sql : sqlite_sql;
}

/* In main(), first: 77 (after saying SKIP) when this is the PostgreSQL pass
 * and there is no server; else 0. */
static inline int tdb_skip(const char *test)
{
    if (!tdb_pg() || (getenv("LFR_PG_TEST") && *getenv("LFR_PG_TEST"))) {
        if (tdb_pg()) fprintf(stderr, "%s: PostgreSQL pass on %s\n", test, getenv("LFR_PG_TEST"));
        return 0;
    }
    const char *why = getenv("LFR_PG_SKIP");
    printf("SKIP: %s on PostgreSQL: %s\n", test,
           why && *why ? why
                       : "LFR_PG_TEST is not set (run under scripts/pg-test-server.sh, as "
                         "scripts/test does)");
    return 77;
}

/* ---- PostgreSQL connections ------------------------------------------------------ */

/* LFR_PG_TEST with dbname replaced, as key='value' pairs. */
static inline void tdb_conninfo(const char *dbname, char *out, size_t cap)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(getenv("LFR_PG_TEST"), &err);
    if (!o) print_error("LFR_PG_TEST: %s\n", err ? err : "does not parse");
    assert_non_null(o);
    size_t n = 0;
    out[0] = 0;
    for (PQconninfoOption *k = o; k->keyword; k++) {
        const char *v = !strcmp(k->keyword, "dbname") && dbname ? dbname : k->val;
        if (!v) continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s='", n ? " " : "", k->keyword);
        for (const char *c = v; *c && n + 3 < cap; c++) {
            if (*c == '\'' || *c == '\\') out[n++] = '\\';
            out[n++] = *c;
        }
        n += (size_t)snprintf(out + n, cap - n, "'");
    }
    if (dbname && !strstr(out, "dbname=")) snprintf(out + n, cap - n, " dbname='%s'", dbname);
    PQconninfoFree(o);
}

static inline PGconn *tdb_pg_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) print_error("connect: %s\n", PQerrorMessage(c));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Connections are kept open between calls (a new one costs tens of
 * milliseconds on a busy machine): one to the server's database for the
 * tests' own statements, one to the newest home's database. */
static PGconn *tdb_admin_conn, *tdb_home_conn;
static char tdb_home_conn_info[2048];

static inline void tdb_forget_home_conn(void)
{
    PQfinish(tdb_home_conn);
    tdb_home_conn = NULL;
    tdb_home_conn_info[0] = 0;
}

/* Run SQL of the tests' own on the server's maintenance database. */
static inline void tdb_admin(const char *sql)
{
    if (!tdb_admin_conn || PQstatus(tdb_admin_conn) != CONNECTION_OK) {
        PQfinish(tdb_admin_conn);
        tdb_admin_conn = tdb_pg_connect(getenv("LFR_PG_TEST"));
    }
    PGresult *r = PQexec(tdb_admin_conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        print_error("%s: %s\n", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* The connection string a home holds, or "" for an embedded home. */
static inline void tdb_home_conninfo(const char *home, char *out, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/database", home);
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)cap, f)) out[0] = 0;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
}

/* The database name in a home's connection string. */
static inline void tdb_home_dbname(const char *home, char *out, size_t cap)
{
    char ci[2048];
    tdb_home_conninfo(home, ci, sizeof ci);
    PQconninfoOption *o = PQconninfoParse(ci, NULL);
    assert_non_null(o);
    out[0] = 0;
    for (PQconninfoOption *k = o; k->keyword; k++)
        if (!strcmp(k->keyword, "dbname") && k->val) snprintf(out, cap, "%s", k->val);
    PQconninfoFree(o);
    assert_true(out[0] != 0);
}

/* A new, empty database for a home; its connection string to out. */
static inline void tdb_new_database(char *out, size_t cap)
{
    static int counter;
    char name[64], sql[128];
    snprintf(name, sizeof name, "lfr_t%ld_%d", (long)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    tdb_admin(sql);
    tdb_conninfo(name, out, cap);
}

/* ---- Homes ------------------------------------------------------------------------ */

/* lfr_store_init on this pass's backend. */
static inline int tdb_init(const char *home)
{
    if (!tdb_pg()) return lfr_store_init(home);
    char ci[2048];
    tdb_new_database(ci, sizeof ci);
    lfr_store_config cfg = {.database = ci};
    return lfr_store_init_with(home, &cfg);
}

/* Drop a home's database (PostgreSQL; nothing for an embedded home). Call
 * before removing the home's folder. */
static inline void tdb_drop(const char *home)
{
    if (!tdb_pg()) return;
    char ci[2048];
    tdb_home_conninfo(home, ci, sizeof ci);
    if (!ci[0]) return;
    char name[128], sql[256];
    tdb_forget_home_conn();
    tdb_home_dbname(home, name, sizeof name);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    tdb_admin(sql);
}

static inline int tdb_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Drop the database of `home` (when there is one), then remove `dir`. */
static inline void tdb_remove(const char *home, const char *dir)
{
    tdb_drop(home);
    nftw(dir, tdb_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tdb_copy_file(const char *from, const char *to)
{
    uint8_t *b;
    size_t n;
    assert_int_equal(lfr__read_file(from, (size_t)256 << 20, &b, &n), LFR_OK);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(to, 0600), 0);
    free(b);
}

/* Copy the regular files of folder `from` (and of its subfolders) to `to`,
 * which must not exist. */
static inline void tdb_copy_dir(const char *from, const char *to)
{
    assert_int_equal(mkdir(to, 0700), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        assert_int_equal(lstat(a, &st), 0);
        if (S_ISDIR(st.st_mode))
            tdb_copy_dir(a, b);
        else if (S_ISREG(st.st_mode))
            tdb_copy_file(a, b);
    }
    closedir(d);
}

/* A copy of a closed home at `to` (which must not exist): its files, and on
 * PostgreSQL its database (CREATE DATABASE ... TEMPLATE), which the copy's
 * `database` file then names. */
static inline void tdb_clone(const char *from, const char *to)
{
    tdb_copy_dir(from, to);
    if (!tdb_pg()) return;
    static int counter;
    char src[128], name[64], sql[256], ci[2048], path[1200];
    tdb_forget_home_conn(); /* a template may have no connection */
    tdb_home_dbname(from, src, sizeof src);
    snprintf(name, sizeof name, "lfr_c%ld_%d", (long)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE %s", name, src);
    tdb_admin(sql);
    tdb_conninfo(name, ci, sizeof ci);
    snprintf(path, sizeof path, "%s/database", to);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", ci);
    fclose(f);
}

/* ---- SQL behind lfr's back ----------------------------------------------------------- */

/* A bound value: text (NULL for SQL NULL), an integer, or bytes. */
typedef struct tdb_val {
    char kind; /* 't', 'i', 'b' */
    const char *s;
    int64_t i;
    const void *b;
    size_t n;
} tdb_val;

#define TDB_TEXT(v) ((tdb_val){'t', (v), 0, NULL, 0})
#define TDB_INT(v) ((tdb_val){'i', NULL, (v), NULL, 0})
#define TDB_BLOB(p, len) ((tdb_val){'b', NULL, 0, (p), (len)})

/* Rows: fn(n_columns, values as text ("" for NULL), ctx) for each. */
typedef void (*tdb_row_fn)(int n, const char **v, void *ctx);

/* Run `sql` (one statement when values are given; several otherwise) with
 * `values`, calling fn for each row; returns 0, or -1 with the database's
 * message in err (may be NULL). $N placeholders work in both dialects. */
static inline int tdb_try(const char *home, const char *sql, int n_values, const tdb_val *values,
                          tdb_row_fn fn, void *ctx, char *err, size_t err_cap)
{
    if (err) err[0] = 0;
    if (!tdb_pg()) {
        char db[1024];
        snprintf(db, sizeof db, "%s/lfr.db", home);
        sqlite3 *d;
        assert_int_equal(sqlite3_open(db, &d), SQLITE_OK);
        sqlite3_busy_timeout(d, 5000);
        int rc = 0;
        const char *tail = sql;
        while (!rc && tail && *tail) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v2(d, tail, -1, &st, &tail) != SQLITE_OK) {
                rc = -1;
                break;
            }
            if (!st) break; /* only whitespace or a comment left */
            for (int i = 0; i < n_values; i++) {
                char name[16];
                snprintf(name, sizeof name, "$%d", i + 1);
                int k = sqlite3_bind_parameter_index(st, name);
                if (!k) continue;
                const tdb_val *v = &values[i];
                if (v->kind == 'i')
                    sqlite3_bind_int64(st, k, v->i);
                else if (v->kind == 'b')
                    sqlite3_bind_blob(st, k, v->b, (int)v->n, SQLITE_TRANSIENT);
                else if (v->s)
                    sqlite3_bind_text(st, k, v->s, -1, SQLITE_TRANSIENT);
            }
            int step;
            while ((step = sqlite3_step(st)) == SQLITE_ROW) {
                int n = sqlite3_column_count(st);
                const char *vals[64];
                for (int c = 0; c < n && c < 64; c++) {
                    const unsigned char *t = sqlite3_column_text(st, c);
                    vals[c] = t ? (const char *)t : "";
                }
                if (fn) fn(n < 64 ? n : 64, vals, ctx);
            }
            if (step != SQLITE_DONE) rc = -1;
            sqlite3_finalize(st);
        }
        if (rc && err) snprintf(err, err_cap, "%s", sqlite3_errmsg(d));
        sqlite3_close(d);
        return rc;
    }
    char ci[2048];
    tdb_home_conninfo(home, ci, sizeof ci);
    assert_true(ci[0] != 0);
    if (!tdb_home_conn || strcmp(ci, tdb_home_conn_info) ||
        PQstatus(tdb_home_conn) != CONNECTION_OK) {
        tdb_forget_home_conn();
        tdb_home_conn = tdb_pg_connect(ci);
        snprintf(tdb_home_conn_info, sizeof tdb_home_conn_info, "%s", ci);
    }
    PGconn *c = tdb_home_conn;
    PGresult *r;
    if (n_values == 0) {
        r = PQexec(c, sql);
    } else {
        const char *v[16];
        int len[16], fmt[16];
        char num[16][32];
        assert_true(n_values <= 16);
        for (int i = 0; i < n_values; i++) {
            len[i] = fmt[i] = 0;
            if (values[i].kind == 'i') {
                snprintf(num[i], sizeof num[i], "%lld", (long long)values[i].i);
                v[i] = num[i];
            } else if (values[i].kind == 'b') {
                v[i] = values[i].b;
                len[i] = (int)values[i].n;
                fmt[i] = 1;
            } else {
                v[i] = values[i].s;
            }
        }
        r = PQexecParams(c, sql, n_values, NULL, v, len, fmt, 0);
    }
    int rc = 0;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK && fn) {
        int n = PQnfields(r);
        for (int row = 0; row < PQntuples(r); row++) {
            const char *vals[64];
            for (int col = 0; col < n && col < 64; col++)
                vals[col] = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
            fn(n < 64 ? n : 64, vals, ctx);
        }
    } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        rc = -1;
        if (err) snprintf(err, err_cap, "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    return rc;
}

/* Run `sql`, which must succeed. */
static inline void tdb_sql(const char *home, const char *sql)
{
    char err[512];
    if (tdb_try(home, sql, 0, NULL, NULL, NULL, err, sizeof err))
        print_error("sql: %s: %s\n", sql, err);
    assert_true(err[0] == 0);
}

/* The same with bound values. */
static inline void tdb_exec(const char *home, const char *sql, int n, const tdb_val *v)
{
    char err[512];
    if (tdb_try(home, sql, n, v, NULL, NULL, err, sizeof err))
        print_error("sql: %s: %s\n", sql, err);
    assert_true(err[0] == 0);
}

static inline void tdb_first(int n, const char **v, void *ctx)
{
    char **out = ctx;
    if (n > 0 && !out[1]) out[1] = strdup(v[0]);
}

/* The first column of the first row of `sql` as text ("" for none). */
static inline void tdb_text(const char *home, const char *sql, char *out, size_t cap)
{
    char *box[2] = {NULL, NULL};
    char err[512];
    if (tdb_try(home, sql, 0, NULL, tdb_first, box, err, sizeof err))
        print_error("sql: %s: %s\n", sql, err);
    assert_true(err[0] == 0);
    snprintf(out, cap, "%s", box[1] ? box[1] : "");
    free(box[1]);
}

/* The first column of the first row of `sql` as an integer (there must be
 * a row). */
static inline int64_t tdb_count(const char *home, const char *sql)
{
    char *box[2] = {NULL, NULL};
    char err[512];
    if (tdb_try(home, sql, 0, NULL, tdb_first, box, err, sizeof err))
        print_error("sql: %s: %s\n", sql, err);
    assert_true(err[0] == 0);
    if (!box[1]) print_error("sql: %s: no row\n", sql);
    assert_non_null(box[1]);
    int64_t v = strtoll(box[1], NULL, 10);
    free(box[1]);
    return v;
}

/* ---- The server's disk -------------------------------------------------------------- */

static inline void tdb_collect(int n, const char **v, void *ctx)
{
    char(*out)[1024] = ctx;
    for (int i = 0; i < n && i < 2; i++)
        snprintf(out[i], sizeof out[i], "%s", v[i]);
}

/* On PostgreSQL, after a checkpoint (so that what the database holds is in
 * its files), call fn as nftw would for each file of the home's database
 * and of the write-ahead log, and return 1; 0 (saying why) when that cannot
 * be done (embedded homes, or a server whose files this process cannot
 * read). */
static inline int tdb_server_scan(const char *home,
                                  int (*fn)(const char *, const struct stat *, int, struct FTW *))
{
    if (!tdb_pg()) return 0;
    char out[2][1024] = {"", ""};
    char err[512];
    if (tdb_try(home, "CHECKPOINT", 0, NULL, NULL, NULL, err, sizeof err) ||
        tdb_try(home,
                "SELECT current_setting('data_directory'), (SELECT oid FROM pg_database"
                " WHERE datname = current_database())",
                0, NULL, tdb_collect, out, err, sizeof err)) {
        print_message("[  SKIP    ] the server's files: %s\n", err);
        return 0;
    }
    char base[2100], wal[1100];
    snprintf(base, sizeof base, "%s/base/%s", out[0], out[1]);
    snprintf(wal, sizeof wal, "%s/pg_wal", out[0]);
    if (access(base, R_OK | X_OK) || access(wal, R_OK | X_OK)) {
        print_message("[  SKIP    ] the server's files: %s not readable here\n", base);
        return 0;
    }
    assert_int_equal(nftw(base, fn, 16, FTW_PHYS), 0);
    assert_int_equal(nftw(wal, fn, 16, FTW_PHYS), 0);
    return 1;
}

/* ---- Sealed media ---------------------------------------------------------------------- */

/* How many sealed blobs the home's store holds (files under media/, or
 * rows of the table media). */
static inline int tdb_media_count(const char *home)
{
    if (tdb_pg()) return (int)tdb_count(home, "SELECT count(*) FROM media");
    char p[1024];
    snprintf(p, sizeof p, "%s/media", home);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static inline int tdb_media_exists(const char *home, const char *name)
{
    if (tdb_pg()) {
        tdb_val v = TDB_TEXT(name);
        char *box[2] = {NULL, NULL};
        assert_int_equal(tdb_try(home, "SELECT count(*) FROM media WHERE name = $1", 1, &v,
                                 tdb_first, box, NULL, 0),
                         0);
        long n = box[1] ? strtol(box[1], NULL, 10) : 0;
        free(box[1]);
        return n > 0;
    }
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/media/%s", home, name);
    return stat(p, &st) == 0;
}

/* Store a blob under `name` as a crash would have left it: written, named
 * by no row, stored `age_s` seconds ago. */
static inline void tdb_media_plant(const char *home, const char *name, const void *data, size_t n,
                                   int64_t age_s)
{
    if (tdb_pg()) {
        tdb_val v[3] = {TDB_TEXT(name), TDB_BLOB(data, n), TDB_INT(age_s)};
        tdb_exec(home,
                 "INSERT INTO media (name, data, created_at)"
                 " VALUES ($1, $2, now() - $3 * interval '1 second')",
                 3, v);
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/media/%s", home, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
}

/* Make blob `name` (NULL: every blob) look stored `age_s` seconds ago. */
static inline void tdb_media_age(const char *home, const char *name, int64_t age_s)
{
    if (tdb_pg()) {
        tdb_val v[2] = {TDB_INT(age_s), TDB_TEXT(name)};
        tdb_exec(home,
                 "UPDATE media SET created_at = now() - $1 * interval '1 second'"
                 " WHERE $2::text IS NULL OR name = $2",
                 2, v);
        return;
    }
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    char p[1024];
    if (name) {
        snprintf(p, sizeof p, "%s/media/%s", home, name);
        assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
        return;
    }
    snprintf(p, sizeof p, "%s/media", home);
    DIR *d = opendir(p);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') assert_int_equal(utimensat(dirfd(d), e->d_name, t, 0), 0);
    closedir(d);
}

#endif
