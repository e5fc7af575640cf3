/*
 * Inside the PostgreSQL backend (pg.c, pg_records.c, pg_schema.c): bound
 * parameters, running a statement (prepared once per connection, values
 * always bound, never spliced into the text), and reading text results.
 */
#ifndef LFR_STORE_PG_H
#define LFR_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store.h"

#define LFR__PG_MAX_PARAMS 24

/* The values of one statement, in order ($1, $2, ...). Text values point at
 * the caller's strings, which must outlive the call; numbers are formatted
 * into num[]. */
typedef struct lfr__pg_params {
    int n;
    const char *v[LFR__PG_MAX_PARAMS];
    int len[LFR__PG_MAX_PARAMS], fmt[LFR__PG_MAX_PARAMS];
    char num[LFR__PG_MAX_PARAMS][32];
} lfr__pg_params;

void lfr__pg_text(lfr__pg_params *p, const char *v); /* NULL: SQL NULL */
void lfr__pg_opt(lfr__pg_params *p, const char *v);  /* NULL or "": SQL NULL */
void lfr__pg_int(lfr__pg_params *p, int64_t v);
void lfr__pg_real(lfr__pg_params *p, double v); /* NaN: SQL NULL; exact (%.17g) */
void lfr__pg_bytes(lfr__pg_params *p, const void *b, size_t n);

/* Run `sql` with the values in p (NULL for none). lfr__pg_query leaves
 * the rows (text format) in *res_out, which the caller PQclears; lfr__pg_run
 * returns the number of rows changed in *changes_out (may be NULL).
 * Failures: "database: <what>: <the server's message>", with
 * LFR_ERR_CONFLICT for a uniqueness clash, LFR_ERR_INVALID for text the
 * database cannot hold (not UTF-8), LFR_ERR_STORE otherwise. */
int lfr__pg_query(void *db, const char *sql, const lfr__pg_params *p, const char *what,
                  PGresult **res_out);
int lfr__pg_run(void *db, const char *sql, const lfr__pg_params *p, const char *what,
                int64_t *changes_out);

/* Whether write transactions keep the write lock until their WAL is on
 * disk (1), or commit, release it and then wait for the disk with the
 * other writers (0, the default; pg.c's pg_commit). For comparisons in
 * bench/store_writers. */
void lfr__pg_strict_commit(int on);

/* The connection of a store's database handle (pg_copy.c's pipeline). */
PGconn *lfr__pg_conn(void *db);

/* Reading a result: text ("" for NULL), integers (0 for NULL), doubles
 * (NaN for NULL), and text copied into a fixed buffer. */
const char *lfr__pg_get(const PGresult *r, int row, int col);
int lfr__pg_null(const PGresult *r, int row, int col);
int64_t lfr__pg_i64(const PGresult *r, int row, int col);
double lfr__pg_f64(const PGresult *r, int row, int col);
void lfr__pg_copy(char *dst, size_t cap, const PGresult *r, int row, int col);

/* Rows per page of the walks that can be long (audit, alerts, subjects,
 * deployments, frozen watchlists): each page is one query, so that a walk
 * never holds a whole table in memory and callbacks may query in turn. */
#define LFR__PG_PAGE 2000
#define LFR__PG_PAGE_TEXT "2000"

/* pg_schema.c: lfr__pg_migrations[i] takes version i to i + 1, with the
 * same meaning as lfr__sqlite_migrations[i]. */
extern const char *const lfr__pg_migrations[];
extern const int lfr__pg_n_migrations;

/* pg_records.c: deployments, alerts and the policy. */
int lfr__pg_deployment_insert(void *db, const lfr__deployment_row *r, int64_t *id_out);
int lfr__pg_deployment_get(void *db, int64_t id, lfr__deployment_row *out);
int lfr__pg_deployment_each(void *db, const char *from, const char *to,
                            int (*fn)(const lfr__deployment_row *r, void *ctx), void *ctx);
int lfr__pg_deployment_update(void *db, const lfr__deployment_row *r);
int lfr__pg_snapshot_insert(void *db, int64_t deployment_id, int64_t idx,
                            const lfr__snapshot_entry *e);
int lfr__pg_snapshot_each(void *db, int64_t deployment_id,
                          int (*fn)(const lfr__snapshot_entry *e, void *ctx), void *ctx);
int lfr__pg_counters_add(void *db, int64_t deployment_id, const char *camera,
                         const lfr_counters *delta);
int lfr__pg_counters_each(void *db, int64_t deployment_id,
                          int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                          void *ctx);
int lfr__pg_alert_insert(void *db, const lfr__alert_row *r, int64_t *id_out);
int lfr__pg_alert_get(void *db, int64_t id, lfr__alert_row *out);
int lfr__pg_alert_each(void *db, const lfr_alert_filter *f,
                       int (*fn)(const lfr__alert_row *r, void *ctx), void *ctx);
int lfr__pg_alert_update(void *db, const lfr__alert_row *r);
int lfr__pg_image_delete(void *db, int64_t image_id, const char *when);
int lfr__pg_policy_each(void *db,
                        int (*fn)(const char *key, int64_t value, const char *by, const char *at,
                                  void *ctx),
                        void *ctx);
int lfr__pg_policy_put(void *db, const char *key, int64_t value, const char *by, const char *at);

#endif
