/*
 * Tests of the transparency log in a home (src/store/log.c, verify.c): the
 * security review's reproductions that concern the log, as regression
 * tests, and what each defence is for.
 *
 *   S3  an entry forged into the database by someone without the log key
 *       (the review's new administrator) is found at once, named, and
 *       writes stop until an administrator re-anchors;
 *   S5  a deleted or malformed audit.head is never recreated silently;
 *   S8  a rewrite of the whole home with its key passes the home's own
 *       checks but not an earlier checkpoint kept outside, nor the witness;
 *   S2  entry times that go back are found and named;
 * and the proofs: every entry's inclusion proof and every consistency proof
 * between published checkpoints checks out; an old home (schema 5) starts
 * its log when opened, recording what its chain and anchor said.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "util/util.h"

#define ADMIN_PW "correct horse battery"
#define OPER_PW "operator passphrase"

typedef struct home {
    char dir[512];
    char path[600];
} home;

static void home_make(home *h)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/lfr-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->path, sizeof h->path, "%s/home", h->dir);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void home_remove(home *h)
{
    nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void home_file(const home *h, const char *leaf, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", h->path, leaf);
}

static void raw_sql(const home *h, const char *sql)
{
    char db[700];
    home_file(h, "lfr.db", db, sizeof db);
    sqlite3 *d;
    assert_int_equal(sqlite3_open(db, &d), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(d, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) print_error("sql: %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(d);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t raw_count(const home *h, const char *sql)
{
    char db[700];
    home_file(h, "lfr.db", db, sizeof db);
    sqlite3 *d;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(db, &d), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return n;
}

static char *slurp(const char *path, size_t *n_out)
{
    uint8_t *d;
    size_t n;
    assert_int_equal(lfr__read_file(path, 1 << 20, &d, &n), LFR_OK);
    char *t = realloc(d, n + 1);
    assert_non_null(t);
    t[n] = 0;
    if (n_out) *n_out = n;
    return t;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *t = slurp(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(t, 1, n, f), n);
    fclose(f);
    chmod(to, 0600);
    free(t);
}

/* A home with an administrator, an operator and a few entries. */
static lfr_store *populated(home *h, lfr_user *admin, lfr_user *op)
{
    home_make(h);
    assert_int_equal(lfr_store_init(h->path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, admin), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, admin, "op", LFR_ROLE_OPERATOR, OPER_PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, "op", OPER_PW, op), LFR_OK);
    lfr_user u;
    assert_int_equal(lfr_store_login(s, "op", "wrong password", &u), LFR_ERR_AUTH);
    return s;
}

/* Verify a home read-only; returns the status, the verdict in *v. */
static int verify(const home *h, const lfr_audit_verify_config *c, lfr_audit_verdict *v)
{
    lfr_store *s;
    assert_int_equal(lfr_store_open_readonly(h->path, &s), LFR_OK);
    int rc = lfr_audit_verify_with(s, c, v);
    lfr_store_close(s);
    return rc;
}

static void verify_fails(const home *h, uint64_t first_bad, const char *why)
{
    lfr_audit_verdict v;
    int rc = verify(h, NULL, &v);
    if (rc != LFR_ERR_TAMPERED || v.first_bad != first_bad || !strstr(lfr_errmsg(), why))
        print_error("verify: %s: %s (entry %llu; wanted %llu, '%s')\n", lfr_strerror(rc),
                    lfr_errmsg(), (unsigned long long)v.first_bad, (unsigned long long)first_bad,
                    why);
    assert_int_equal(rc, LFR_ERR_TAMPERED);
    assert_int_equal(v.first_bad, first_bad);
    assert_non_null(strstr(lfr_errmsg(), why));
}

static void verify_ok(const home *h, lfr_audit_verdict *v)
{
    int rc = verify(h, NULL, v);
    if (rc) print_error("verify: %s\n", lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
}

/* The review's S3 script: a new administrator and its user.add entry,
 * correctly chained, written with the database alone. Returns its seq. */
static uint64_t forge_admin(const home *h)
{
    char dbp[700];
    home_file(h, "lfr.db", dbp, sizeof dbp);
    sqlite3 *d;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(dbp, &d), SQLITE_OK);
    char t[LFR__TIME_LEN];
    assert_int_equal(lfr__clock_now(t), LFR_OK);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "INSERT INTO users (name, role, pwhash, created_at,"
                                        " created_by) SELECT 'mallory', 'administrator', pwhash,"
                                        " ?1, 'admin' FROM users WHERE name = 'op'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    int64_t uid = sqlite3_last_insert_rowid(d);
    assert_int_equal(sqlite3_prepare_v2(d, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
    uint8_t prev[32], hash[32];
    memcpy(prev, sqlite3_column_blob(st, 1), 32);
    sqlite3_finalize(st);
    char detail[64];
    snprintf(detail, sizeof detail, "{\"id\":%lld,\"role\":\"administrator\"}", (long long)uid);
    lfr__audit_hash(seq, t, "admin", "user.add", "user:mallory", detail, prev, hash);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "INSERT INTO audit VALUES (?1, ?2, 'admin', 'user.add',"
                                        " 'user:mallory', ?3, ?4, ?5)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_text(st, 2, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, hash, 32, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return seq;
}

/* ---- S3: a forged entry ----------------------------------------------------------- */

static void test_forged_entry_found_at_once(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    int64_t before = raw_count(&h, "SELECT count(*) FROM audit");
    uint64_t seq = forge_admin(&h);
    verify_fails(&h, seq, "added without the log key");

    /* The next honest write does not anchor it: writes stop, the refusal
     * says why, nothing is appended. */
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "writes are stopped"));
    assert_int_equal(lfr_store_login(s, "admin", "not the password", &u), LFR_ERR_AUTH);
    assert_non_null(strstr(lfr_errmsg(), "could not be audited"));
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit"), before + 1);
    verify_fails(&h, seq, "added without the log key");

    /* Only an administrator re-anchors, with a reason; it records what was
     * found, and the forged entry stays visible. */
    char found[512];
    assert_int_equal(lfr_audit_reanchor(s, &op, "to hide it", found), LFR_ERR_DENIED);
    assert_int_equal(lfr_audit_reanchor(s, &admin, "", found), LFR_ERR_INVALID);
    assert_int_equal(lfr_audit_reanchor(s, &admin, "forged entry found; incident 42", found),
                     LFR_OK);
    assert_non_null(strstr(found, "added without the log key"));
    assert_int_equal(lfr_audit_reanchor(s, &admin, "again", found), LFR_ERR_CONFLICT);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'log.reanchor' AND"
                                   " actor = 'admin' AND instr(detail, 'incident 42') AND"
                                   " instr(detail, 'not signed') = 0"),
                     1);
    lfr_audit_verdict v;
    verify_ok(&h, &v);
    assert_non_null(strstr(v.notes, "re-anchored 1"));
    home_remove(&h);
}

/* ---- S5: the anchor is never recreated silently ----------------------------------------- */

static void test_lost_anchor_stops_writes(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    char head[700];
    home_file(&h, "audit.head", head, sizeof head);

    /* The review's sequence: the newest entry deleted, audit.head removed,
     * then a routine write (a refused login). */
    raw_sql(&h, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = (SELECT max(seq)"
                " FROM audit);");
    assert_int_equal(remove(head), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_login(s, "admin", "wrong", &u), LFR_ERR_AUTH);
    assert_non_null(strstr(lfr_errmsg(), "could not be audited"));
    struct stat st;
    assert_int_equal(stat(head, &st), -1); /* not recreated */
    lfr_store_close(s);
    lfr_audit_verdict v;
    assert_int_equal(verify(&h, NULL, &v), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "missing"));
    home_remove(&h);

    /* A malformed anchor: writes stop; re-anchoring keeps it as evidence. */
    s = populated(&h, &admin, &op);
    lfr_store_close(s);
    home_file(&h, "audit.head", head, sizeof head);
    FILE *f = fopen(head, "w");
    assert_non_null(f);
    fputs("not a checkpoint\n", f);
    fclose(f);
    verify_fails(&h, 0, "audit.head");
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "audit.head"));
    char found[512];
    assert_int_equal(lfr_audit_reanchor(s, &admin, "anchor damaged by a disk fault", found),
                     LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);
    verify_ok(&h, &v);
    int64_t n = raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'log.reanchor'");
    assert_int_equal(n, 1);
    char aside[760];
    int64_t seq = raw_count(&h, "SELECT seq FROM audit WHERE action = 'log.reanchor'");
    snprintf(aside, sizeof aside, "%s.replaced-%lld", head, (long long)seq);
    char *kept = slurp(aside, NULL);
    assert_string_equal(kept, "not a checkpoint\n");
    free(kept);
    home_remove(&h);
}

/* A database rolled back to an earlier copy, beside a newer anchor. */
static void test_rollback_found(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    raw_sql(&h, "PRAGMA wal_checkpoint(TRUNCATE);");
    char db[700], old[760];
    home_file(&h, "lfr.db", db, sizeof db);
    snprintf(old, sizeof old, "%s.old", db);
    copy_file(db, old);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);
    raw_sql(&h, "PRAGMA wal_checkpoint(TRUNCATE);");
    copy_file(old, db);
    int64_t n = raw_count(&h, "SELECT count(*) FROM audit");
    verify_fails(&h, (uint64_t)n + 1, "audit.head records");
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud2", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "rolled back"));
    lfr_store_close(s);
    home_remove(&h);
}

/* The signed head removed from the database: never restarted silently. */
static void test_lost_head(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    raw_sql(&h, "DELETE FROM log_head;");
    verify_fails(&h, 0, "signed head (log_head) is missing");
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "writes are stopped"));
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM log_head"), 0);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'log.init'"), 1);
    char found[512];
    assert_int_equal(lfr_audit_reanchor(s, &admin, "head lost in a restore", found), LFR_OK);
    assert_non_null(strstr(found, "no signed head"));
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);
    lfr_audit_verdict v;
    verify_ok(&h, &v);
    home_remove(&h);
}

/* Every column of the log's own tables, changed with plain SQL, is found
 * (log_head's id is held to 1 by its CHECK; its row deleted: test_lost_head). */
static void test_log_tables_covered(void **state)
{
    (void)state;
    static const char *const change[] = {
        "UPDATE log_head SET size = size - 1",
        "UPDATE log_head SET frontier = substr(frontier, 1, 8) || zeroblob(length(frontier) - 8)",
        "UPDATE log_head SET note = replace(note, char(10) || char(10), char(10) || 'x' ||"
        " char(10) || char(10))",
        "DROP TRIGGER log_checkpoints_no_update; UPDATE log_checkpoints SET size = size + 100",
        "DROP TRIGGER log_checkpoints_no_update; UPDATE log_checkpoints SET time ="
        " '2026-01-01T00:00:00.000Z'",
        "DROP TRIGGER log_checkpoints_no_update; UPDATE log_checkpoints SET reason ="
        " 'deployment.stop'",
        "DROP TRIGGER log_checkpoints_no_update; UPDATE log_checkpoints SET note ="
        " (SELECT note FROM log_head)",
    };
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    raw_sql(&h, "PRAGMA wal_checkpoint(TRUNCATE);");
    char db[700], copy[760];
    home_file(&h, "lfr.db", db, sizeof db);
    snprintf(copy, sizeof copy, "%s.orig", db);
    copy_file(db, copy);
    for (size_t i = 0; i < sizeof change / sizeof change[0]; i++) {
        copy_file(copy, db);
        raw_sql(&h, change[i]);
        lfr_audit_verdict v;
        int rc = verify(&h, NULL, &v);
        if (rc != LFR_ERR_TAMPERED) print_error("not found: %s\n", change[i]);
        assert_int_equal(rc, LFR_ERR_TAMPERED);
    }
    home_remove(&h);
}

/* ---- The log key ------------------------------------------------------------------------- */

static void test_lost_key(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    char old_key[256];
    assert_int_equal(lfr_audit_log_key(s, old_key), LFR_OK);
    lfr_store_close(s);
    char key[700], pub[700];
    home_file(&h, "log.key", key, sizeof key);
    home_file(&h, "log.pub", pub, sizeof pub);
    /* The key is private to the service account, and not the media key. */
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *k = slurp(key, NULL);
    assert_non_null(strstr(k, "PRIVATE+KEY+"));
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE instr(detail, 'PRIVATE')"), 0);
    sodium_memzero(k, strlen(k));
    free(k);

    assert_int_equal(remove(key), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "log.key is missing"));
    char found[512];
    assert_int_equal(lfr_audit_reanchor(s, &admin, "key lost with the old server", found), LFR_OK);
    assert_non_null(strstr(found, "new log key"));
    char new_key[256];
    assert_int_equal(lfr_audit_log_key(s, new_key), LFR_OK);
    assert_string_not_equal(old_key, new_key);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);

    /* log.pub holds both keys; the same origin. An auditor who pinned the
     * old key sees that the head is now signed by another. */
    char *p = slurp(pub, NULL);
    assert_non_null(strstr(p, old_key));
    assert_non_null(strstr(p, new_key));
    free(p);
    lfr_audit_verdict v;
    verify_ok(&h, &v);
    assert_string_equal(v.key, new_key);
    lfr_audit_verify_config c = lfr_audit_verify_config_default();
    const char *pinned[1] = {old_key};
    c.keys = pinned;
    c.n_keys = 1;
    assert_int_equal(verify(&h, &c, &v), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "not signed by a trusted log key"));
    home_remove(&h);
}

/* ---- S2: the clock set back ----------------------------------------------------------------- */

static void test_time_set_back(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);
    /* Within the tolerance: fine (writers take their time before their
     * turn, clocks are corrected). */
    int64_t now;
    assert_int_equal(lfr__clock_now_ms(&now), LFR_OK);
    char t[LFR__TIME_LEN];
    lfr__time_format(now - 60 * 1000, t);
    setenv("LFR_FAKE_NOW", t, 1);
    assert_int_equal(lfr_store_login(s, "op", "wrong", &u), LFR_ERR_AUTH);
    unsetenv("LFR_FAKE_NOW");
    lfr_audit_verdict v;
    verify_ok(&h, &v);
    /* The review's S2: eleven months back (a test build honours the
     * variable; release builds ignore it: test_clock_release). */
    lfr__time_format(now - 330LL * 86400000, t);
    setenv("LFR_FAKE_NOW", t, 1);
    assert_int_equal(lfr_store_login(s, "op", "wrong", &u), LFR_ERR_AUTH);
    unsetenv("LFR_FAKE_NOW");
    lfr_store_close(s);
    int64_t seq = raw_count(&h, "SELECT max(seq) FROM audit");
    verify_fails(&h, (uint64_t)seq, "the clock was set back");
    /* An auditor may widen the tolerance, knowingly. */
    lfr_audit_verify_config c = lfr_audit_verify_config_default();
    c.time_tolerance_ms = 400LL * 86400000;
    assert_int_equal(verify(&h, &c, &v), LFR_OK);
    home_remove(&h);
}

/* ---- Proofs -------------------------------------------------------------------------------- */

static void check_proof(const char *text, size_t n, const lfr__verifier *key, uint64_t seq)
{
    lfr__proof_text p;
    assert_int_equal(lfr__tlog_proof_parse(text, n, &p), LFR_OK);
    assert_int_equal(p.number, seq - 1);
    lfr__checkpoint cp;
    lfr__note note;
    assert_int_equal(lfr__checkpoint_open(p.note, p.n_note, key, 1, &cp, &note, NULL), LFR_OK);
    uint8_t leaf[LFR_HASH_BYTES];
    lfr__merkle_leaf(p.extra, p.n_extra, leaf);
    assert_int_equal(lfr__merkle_inclusion_check(p.number, cp.size, leaf,
                                                 (const uint8_t(*)[LFR_HASH_BYTES])p.proof, p.n,
                                                 cp.root),
                     0);
    /* The wrong entry's bytes are refused. */
    p.extra[p.n_extra / 2] ^= 1;
    lfr__merkle_leaf(p.extra, p.n_extra, leaf);
    assert_int_equal(lfr__merkle_inclusion_check(p.number, cp.size, leaf,
                                                 (const uint8_t(*)[LFR_HASH_BYTES])p.proof, p.n,
                                                 cp.root),
                     -1);
    lfr__proof_text_free(&p);
}

static void test_proofs(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);
    assert_int_equal(lfr_store_policy_set(s, &admin, "checkpoint_entries", 3), LFR_OK);
    for (int i = 0; i < 12; i++)
        assert_int_equal(lfr_store_login(s, "op", "wrong", &u), LFR_ERR_AUTH);
    char vkey[256];
    assert_int_equal(lfr_audit_log_key(s, vkey), LFR_OK);
    lfr_store_close(s);
    lfr__verifier key;
    assert_int_equal(lfr__verifier_parse(vkey, strlen(vkey), &key), LFR_OK);

    /* Published every 3 entries from the policy change on. */
    int64_t n = raw_count(&h, "SELECT count(*) FROM audit");
    int64_t published = raw_count(&h, "SELECT count(*) FROM log_checkpoints");
    assert_true(published >= 4);
    assert_int_equal(
        raw_count(&h, "SELECT count(*) FROM log_checkpoints WHERE reason = 'log.init'"), 1);

    assert_int_equal(lfr_store_open_readonly(h.path, &s), LFR_OK);
    for (int64_t seq = 1; seq <= n; seq++) {
        char *text;
        size_t len;
        assert_int_equal(lfr_audit_prove(s, (uint64_t)seq, &text, &len), LFR_OK);
        check_proof(text, len, &key, (uint64_t)seq);
        free(text);
    }
    char *text;
    size_t len;
    assert_int_equal(lfr_audit_prove(s, (uint64_t)n + 1, &text, &len), LFR_ERR_NOT_FOUND);
    assert_int_equal(lfr_audit_prove(s, 0, &text, &len), LFR_ERR_NOT_FOUND);

    /* Consistency from every published checkpoint to the head, as a witness
     * that cosigned it checks the request; and refused from a wrong root. */
    lfr__witness_state ws;
    memset(&ws, 0, sizeof ws);
    ws.log = key;
    char dbp[700];
    home_file(&h, "lfr.db", dbp, sizeof dbp);
    sqlite3 *d;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(dbp, &d), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(d, "SELECT note FROM log_checkpoints ORDER BY size", -1, &st, NULL),
        SQLITE_OK);
    int checked = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *note_text = (const char *)sqlite3_column_text(st, 0);
        lfr__checkpoint old, cp;
        lfr__note nt;
        assert_int_equal(
            lfr__checkpoint_open(note_text, strlen(note_text), &key, 1, &old, &nt, NULL), LFR_OK);
        ws.size = old.size;
        memcpy(ws.root, old.root, LFR_HASH_BYTES);
        assert_int_equal(lfr_audit_witness_request(s, old.size, &text, &len), LFR_OK);
        assert_int_equal(lfr__witness_check(&ws, text, len, &cp), LFR_OK);
        assert_int_equal(cp.size, (uint64_t)n);
        ws.root[0] ^= 1;
        assert_int_equal(lfr__witness_check(&ws, text, len, &cp), LFR_ERR_TAMPERED);
        free(text);
        checked++;
    }
    sqlite3_finalize(st);
    sqlite3_close(d);
    assert_int_equal(checked, published);
    assert_int_equal(lfr_audit_witness_request(s, (uint64_t)n + 1, &text, &len), LFR_ERR_INVALID);
    lfr_store_close(s);
    home_remove(&h);
}

/* ---- S8: a rewrite with the key -----------------------------------------------------------------
 */

/* What someone holding the home and its key can do: delete every entry of
 * one action, renumber and rechain the rest, rebuild the tree, sign a new
 * head, publish matching checkpoints and write audit.head. */
static void rewrite_whole_log(const home *h, const char *drop_action)
{
    char p[700];
    home_file(h, "log.key", p, sizeof p);
    size_t kn;
    char *kt = slurp(p, &kn);
    lfr__signer key;
    assert_int_equal(lfr__signer_parse(kt, kn, &key), LFR_OK);
    free(kt);
    home_file(h, "lfr.db", p, sizeof p);
    sqlite3 *d;
    sqlite3_stmt *st, *up;
    assert_int_equal(sqlite3_open(p, &d), SQLITE_OK);
    char del[200];
    snprintf(del, sizeof del,
             "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
             " DROP TRIGGER log_checkpoints_no_delete; DELETE FROM log_checkpoints;"
             " DELETE FROM audit WHERE action = '%s';",
             drop_action);
    assert_int_equal(sqlite3_exec(d, del, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "SELECT seq, time, actor, action, object, detail FROM"
                                        " audit ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "UPDATE audit SET seq = ?1, prev_hash = ?2, hash = ?3"
                                        " WHERE seq = ?4",
                                        -1, &up, NULL),
                     SQLITE_OK);
    uint8_t prev[32] = {0};
    lfr__frontier f;
    lfr__frontier_init(&f);
    uint64_t seq = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        seq++;
        lfr_audit_entry e = {.seq = seq};
        e.time = (const char *)sqlite3_column_text(st, 1);
        e.actor = (const char *)sqlite3_column_text(st, 2);
        e.action = (const char *)sqlite3_column_text(st, 3);
        e.object = (const char *)sqlite3_column_text(st, 4);
        e.detail = (const char *)sqlite3_column_text(st, 5);
        memcpy(e.prev_hash, prev, 32);
        lfr__entry_lengths(&e);
        lfr__entry_hash(&e, e.hash);
        uint8_t leaf[32];
        lfr__entry_leaf(&e, leaf);
        lfr__frontier_push(&f, leaf);
        sqlite3_bind_int64(up, 1, (sqlite3_int64)seq);
        sqlite3_bind_blob(up, 2, prev, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(up, 3, e.hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 4, sqlite3_column_int64(st, 0));
        assert_int_equal(sqlite3_step(up), SQLITE_DONE);
        sqlite3_reset(up);
        memcpy(prev, e.hash, 32);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    lfr__checkpoint cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "%s", key.name);
    cp.size = f.size;
    lfr__frontier_root(&f, cp.root);
    lfr__log_head hd;
    size_t tn;
    assert_int_equal(lfr__checkpoint_format(&cp, hd.note, sizeof hd.note, &tn), LFR_OK);
    char line[LFR__SIGLINE_MAX];
    assert_int_equal(lfr__note_sign(&key, hd.note, tn, 0, line), LFR_OK);
    snprintf(hd.note + tn, sizeof hd.note - tn, "\n%s", line);
    hd.n_note = strlen(hd.note);
    hd.n_frontier = lfr__frontier_encode(&f, hd.frontier);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "UPDATE log_head SET size = ?1, frontier = ?2, note = ?3;"
                                        "",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)f.size);
    sqlite3_bind_blob(st, 2, hd.frontier, (int)hd.n_frontier, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hd.note, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(d,
                                        "INSERT INTO log_checkpoints SELECT ?1, time,"
                                        " 'entries', ?2 FROM audit WHERE seq = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)f.size);
    sqlite3_bind_text(st, 2, hd.note, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_exec(d,
                     "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT"
                     " RAISE(ABORT, 'the audit table is append-only'); END;"
                     "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT"
                     " RAISE(ABORT, 'the audit table is append-only'); END;"
                     "CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints"
                     " BEGIN SELECT RAISE(ABORT, 'published checkpoints are append-only'); END;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(d);
    home_file(h, "audit.head", p, sizeof p);
    assert_int_equal(lfr__file_replace(p, hd.note, hd.n_note, 0600), LFR_OK);
    lfr__signer_free(&key);
}

static void test_rewrite_with_key(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);
    char vkey[256];
    assert_int_equal(lfr_audit_log_key(s, vkey), LFR_OK);

    /* An oversight body keeps a checkpoint, and runs a witness. */
    char *kept, *req, *cosigned;
    size_t kept_n, req_n, cos_n;
    assert_int_equal(lfr_audit_checkpoint(s, &kept, &kept_n), LFR_OK);
    char wdir[700];
    snprintf(wdir, sizeof wdir, "%s/witness", h.dir);
    assert_int_equal(lfr_witness_init(wdir, "oversight.example/witness", vkey), LFR_OK);
    assert_int_equal(lfr_audit_witness_request(s, 0, &req, &req_n), LFR_OK);
    assert_int_equal(lfr_witness_cosign(wdir, req, req_n, &cosigned, &cos_n), LFR_OK);
    free(req);
    lfr_witness_info wi;
    assert_int_equal(lfr_witness_show(wdir, &wi), LFR_OK);

    /* More honest entries: the log still extends what was kept, cosigned. */
    assert_int_equal(lfr_store_login(s, "admin", "wrong", &u), LFR_ERR_AUTH);
    const char *more[3] = {"aud1", "aud2", "aud3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lfr_store_user_add(s, &admin, more[i], LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_store_close(s);
    lfr_audit_verify_config c = lfr_audit_verify_config_default();
    const char *wk[1] = {wi.key};
    c.checkpoint = cosigned;
    c.checkpoint_len = cos_n;
    c.witness_keys = wk;
    c.n_witness_keys = 1;
    c.require_witness = 1;
    lfr_audit_verdict v;
    assert_int_equal(verify(&h, &c, &v), LFR_OK);
    assert_int_equal(v.n_witnesses, 1);
    c.require_witness = 2;
    assert_int_equal(verify(&h, &c, &v), LFR_ERR_TAMPERED);
    c.require_witness = 1;

    /* The whole log rewritten with the key: the refused logins gone. The
     * home's own checks pass: that is what holding the key allows. */
    rewrite_whole_log(&h, "login.refused");
    assert_int_equal(verify(&h, NULL, &v), LFR_OK);
    /* A checkpoint kept outside finds it, naming how far. */
    c.checkpoint = kept;
    c.checkpoint_len = kept_n;
    c.n_witness_keys = 0;
    c.require_witness = 0;
    assert_int_equal(verify(&h, &c, &v), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "does not extend the checkpoint"));
    assert_non_null(strstr(lfr_errmsg(), "one of entries 1 to"));
    /* And the witness refuses the new head. */
    assert_int_equal(lfr_store_open_readonly(h.path, &s), LFR_OK);
    assert_int_equal(lfr_audit_witness_request(s, wi.size, &req, &req_n), LFR_OK);
    lfr_store_close(s);
    char *out;
    size_t on;
    assert_int_equal(lfr_witness_cosign(wdir, req, req_n, &out, &on), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "rewritten"));
    free(req);
    lfr_witness_info after;
    assert_int_equal(lfr_witness_show(wdir, &after), LFR_OK);
    assert_int_equal(after.size, wi.size);
    free(kept);
    free(cosigned);
    home_remove(&h);
}

/* ---- An old home ------------------------------------------------------------------------------
 */

static void test_old_home_starts_log(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    assert_int_equal(mkdir(h.path, 0700), 0);
    char p[700];
    home_file(&h, "key", p, sizeof p);
    uint8_t key[32] = {1};
    assert_int_equal(lfr__file_create(p, key, sizeof key, 0600), LFR_OK);
    home_file(&h, "lfr.db", p, sizeof p);
    assert_int_equal(lfr__file_create(p, "", 0, 0600), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr__store_open_raw(h.path, &s), LFR_OK);
    assert_int_equal(lfr__store_migrate(s, lfr__sqlite_log_version - 1), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    lfr_store_close(s);
    /* Read-only, it is checked as such homes always were. */
    lfr_audit_verdict v;
    verify_ok(&h, &v);
    assert_non_null(strstr(v.notes, "no signed log yet"));
    assert_int_equal(v.tree_size, 0);
    home_file(&h, "log.key", p, sizeof p);
    struct stat st;
    assert_int_equal(stat(p, &st), -1);

    /* Opened by this version: migrated, the log started over every entry. */
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    lfr_store_close(s);
    assert_int_equal(stat(p, &st), 0);
    verify_ok(&h, &v);
    int64_t n = raw_count(&h, "SELECT count(*) FROM audit");
    assert_int_equal(v.tree_size, (uint64_t)n);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'log.init' AND"
                                   " instr(detail, '\"chain\":\"ok\"') AND"
                                   " instr(detail, 'matches')"),
                     1);
    home_remove(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_entry_found_at_once),
        cmocka_unit_test(test_lost_anchor_stops_writes),
        cmocka_unit_test(test_rollback_found),
        cmocka_unit_test(test_lost_head),
        cmocka_unit_test(test_log_tables_covered),
        cmocka_unit_test(test_lost_key),
        cmocka_unit_test(test_time_set_back),
        cmocka_unit_test(test_proofs),
        cmocka_unit_test(test_rewrite_with_key),
        cmocka_unit_test(test_old_home_starts_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
