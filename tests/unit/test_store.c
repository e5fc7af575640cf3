/*
 * Tests of the store and the audit chain: a new home's files and modes,
 * migrations from empty and from every earlier schema version, refusing a
 * newer schema and an exposed key, users and roles (bootstrap, who may add
 * whom, wrong passwords), audit listing with filters under a fake clock, and
 * tamper evidence: each way of altering the audit table behind the
 * program's back (plain SQL, as a person with the database would) must make
 * lfr_audit_verify fail and name the right entry.
 *
 * Homes are made with mkdtemp under $TMPDIR and removed afterwards. The
 * tests run on embedded homes, and again on PostgreSQL (testdb.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "testdb.h"
#include "util/util.h"

#define ADMIN_PW "correct horse battery"
#define OPER_PW "operator passphrase"

/* ---- Helpers --------------------------------------------------------------- */

typedef struct home {
    char dir[512];  /* the mkdtemp folder */
    char path[600]; /* the home inside it (not yet created) */
} home;

static void home_make(home *h)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/lfr-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->path, sizeof h->path, "%s/home", h->dir);
}

static void home_remove(home *h)
{
    tdb_remove(h->path, h->dir);
}

/* A copy of closed home `src`, in a folder of its own. */
static void home_clone(const home *src, home *dst)
{
    home_make(dst);
    tdb_clone(src->path, dst->path);
}

static void home_file(const home *h, const char *leaf, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", h->path, leaf);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

/* Run SQL on the home's database directly, as a tamperer would. */
static void raw_sql(const home *h, const char *sql)
{
    tdb_sql(h->path, sql);
}

#define drop_triggers                                                                              \
    tdb_q("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;",                           \
          "DROP TRIGGER audit_no_update ON audit; DROP TRIGGER audit_no_delete ON audit;")

static int64_t raw_count(const home *h, const char *sql)
{
    return tdb_count(h->path, sql);
}

/* An initialised home with an administrator "admin" and an operator "op". */
static lfr_store *populated(home *h, lfr_user *admin, lfr_user *op)
{
    home_make(h);
    assert_int_equal(tdb_init(h->path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, admin), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, admin, "op", LFR_ROLE_OPERATOR, OPER_PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, "op", OPER_PW, op), LFR_OK);
    return s;
}

typedef struct collected {
    int n;
    uint64_t seq[64];
    char action[64][48];
    char actor[64][48];
    char time[64][32];
} collected;

static int collect(const lfr_audit_entry *e, void *ctx)
{
    collected *c = ctx;
    if (c->n < 64) {
        c->seq[c->n] = e->seq;
        snprintf(c->action[c->n], sizeof c->action[0], "%s", e->action);
        snprintf(c->actor[c->n], sizeof c->actor[0], "%s", e->actor);
        snprintf(c->time[c->n], sizeof c->time[0], "%s", e->time);
    }
    c->n++;
    return 0;
}

static uint64_t verify_first_bad(const home *h, int want_status)
{
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(s, &v);
    if (rc != want_status) print_error("verify: %s (%s)\n", lfr_strerror(rc), v.reason);
    assert_int_equal(rc, want_status);
    lfr_store_close(s);
    return v.first_bad;
}

/* ---- Homes and migrations ---------------------------------------------------- */

static void test_init_creates_private_home(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    char p[700];
    assert_int_equal(mode_of(h.path), 0700);
    home_file(&h, "key", p, sizeof p);
    assert_int_equal(mode_of(p), 0600);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 32);
    if (tdb_pg()) {
        /* Records and media in the database; the home keeps the key, the
         * anchor and the connection string. */
        home_file(&h, "database", p, sizeof p);
        assert_int_equal(mode_of(p), 0600);
        home_file(&h, "media", p, sizeof p);
        assert_int_not_equal(stat(p, &st), 0);
        home_file(&h, "lfr.db", p, sizeof p);
        assert_int_not_equal(stat(p, &st), 0);
    } else {
        home_file(&h, "media", p, sizeof p);
        assert_int_equal(mode_of(p), 0700);
        home_file(&h, "lfr.db", p, sizeof p);
        assert_int_equal(mode_of(p), 0600);
    }
    home_file(&h, "audit.head", p, sizeof p);
    assert_int_equal(mode_of(p), 0600);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_string_equal(lfr_store_backend(s), tdb_pg() ? "postgresql" : "sqlite");
    lfr_store_close(s);

    /* A second init is refused and changes nothing. */
    assert_int_equal(tdb_init(h.path), LFR_ERR_CONFLICT);
    assert_non_null(strstr(lfr_errmsg(), "already initialised"));

    /* A non-empty folder without a database is refused; an empty one used. */
    char other[700];
    snprintf(other, sizeof other, "%s/other", h.dir);
    assert_int_equal(mkdir(other, 0755), 0);
    char junk[760];
    snprintf(junk, sizeof junk, "%s/notes.txt", other);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(tdb_init(other), LFR_ERR_CONFLICT);
    assert_non_null(strstr(lfr_errmsg(), "not empty"));
    assert_int_equal(remove(junk), 0);
    assert_int_equal(tdb_init(other), LFR_OK);
    assert_int_equal(mode_of(other), 0700);

    /* Opening somewhere that is not a home says so. */
    assert_int_equal(lfr_store_open(h.dir, &s), LFR_ERR_NOT_FOUND);
    assert_null(s);
    tdb_drop(other);
    home_remove(&h);
}

static const char *const_schema_version(void)
{
    return tdb_q("PRAGMA user_version", "SELECT version FROM lfr_schema");
}
#define schema_version_sql const_schema_version()

static void test_migrations_from_every_version(void **state)
{
    (void)state;
    int latest = lfr_store_schema_latest();
    assert_true(latest >= 1);
    for (int from = 0; from < latest; from++) {
        /* A home whose database stops at version `from`: made by hand, since
         * lfr_store_init always migrates to the newest. */
        home h;
        home_make(&h);
        assert_int_equal(mkdir(h.path, 0700), 0);
        char p[700];
        home_file(&h, "key", p, sizeof p);
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite("0123456789abcdef0123456789abcdef", 1, 32, f), 32);
        fclose(f);
        assert_int_equal(chmod(p, 0600), 0);
        if (tdb_pg()) {
            char ci[2048];
            tdb_new_database(ci, sizeof ci);
            home_file(&h, "database", p, sizeof p);
            f = fopen(p, "w");
            assert_non_null(f);
            fprintf(f, "%s\n", ci);
            fclose(f);
            assert_int_equal(chmod(p, 0600), 0);
        } else {
            home_file(&h, "lfr.db", p, sizeof p);
            sqlite3 *d;
            assert_int_equal(sqlite3_open(p, &d), SQLITE_OK);
            sqlite3_close(d);
        }

        lfr_store *s;
        assert_int_equal(lfr__store_open_raw(h.path, &s), LFR_OK);
        assert_int_equal(lfr_store_schema_version(s), 0);
        assert_int_equal(lfr__store_migrate(s, from), LFR_OK);
        assert_int_equal(lfr_store_schema_version(s), from);
        /* Data written at that version (users exist from version 1) must
         * survive the migrations. */
        if (from >= 1)
            assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                             LFR_OK);
        lfr_store_close(s);

        assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
        assert_int_equal(lfr_store_schema_version(s), latest);
        lfr_audit_verdict v;
        assert_int_equal(lfr_audit_verify(s, &v), LFR_OK);
        /* One per step, the bootstrap user, and the log's start. */
        assert_int_equal(v.n_entries, (uint64_t)latest + (from >= 1) + 1);
        assert_int_equal(v.unanchored, 0);
        if (from >= 1) {
            lfr_user u;
            assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, &u), LFR_OK);
        }
        lfr_store_close(s);
        assert_int_equal(raw_count(&h, schema_version_sql), latest);
        assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'store.migrate'"),
                         latest);
        /* The newest tables exist and are empty after migrating. */
        assert_int_equal(raw_count(&h, "SELECT count(*) FROM subjects"), 0);
        assert_int_equal(raw_count(&h, "SELECT count(*) FROM images"), 0);
        home_remove(&h);
    }
}

static void test_reopen_and_refusals(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);

    /* Reopening migrates nothing more and keeps the users. */
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    int64_t n;
    assert_int_equal(lfr_store_user_count(s, &n), LFR_OK);
    assert_int_equal(n, 2);
    lfr_user u;
    assert_int_equal(lfr_store_login(s, "op", OPER_PW, &u), LFR_OK);
    assert_int_equal(u.role, LFR_ROLE_OPERATOR);
    lfr_store_close(s);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'store.migrate'"),
                     lfr_store_schema_latest());

    /* A key readable by others is refused. */
    char key[700];
    home_file(&h, "key", key, sizeof key);
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_DENIED);
    assert_non_null(strstr(lfr_errmsg(), "key"));
    assert_int_equal(chmod(key, 0600), 0);

    /* A database from a newer program is refused, and left alone. */
    raw_sql(&h, tdb_q("PRAGMA user_version = 99;", "UPDATE lfr_schema SET version = 99"));
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(lfr_errmsg(), "newer"));
    assert_int_equal(raw_count(&h, schema_version_sql), 99);
    home_remove(&h);
}

/* ---- Users and roles ----------------------------------------------------------- */

static void test_role_table(void **state)
{
    (void)state;
    assert_true(lfr_role_allows(LFR_ROLE_ADMINISTRATOR, LFR_ACTION_USER_ADD));
    assert_false(lfr_role_allows(LFR_ROLE_OPERATOR, LFR_ACTION_USER_ADD));
    assert_false(lfr_role_allows(LFR_ROLE_AUDITOR, LFR_ACTION_USER_ADD));
    assert_false(lfr_role_allows(LFR_ROLE_AUTHORISING_OFFICER, LFR_ACTION_USER_ADD));
    assert_true(lfr_role_allows(LFR_ROLE_AUDITOR, LFR_ACTION_AUDIT_LIST));
    assert_false(lfr_role_allows(LFR_ROLE_OPERATOR, LFR_ACTION_AUDIT_LIST));
    assert_false(lfr_role_allows((lfr_role)0, LFR_ACTION_AUDIT_VERIFY));
    assert_false(lfr_role_allows(LFR_ROLE_ADMINISTRATOR, (lfr_action)999));
    lfr_role r;
    assert_int_equal(lfr_role_parse("authorising-officer", &r), LFR_OK);
    assert_int_equal(r, LFR_ROLE_AUTHORISING_OFFICER);
    assert_int_equal(lfr_role_parse("auditor", &r), LFR_OK);
    assert_int_equal(r, LFR_ROLE_AUDITOR);
    assert_int_equal(lfr_role_parse("root", &r), LFR_ERR_INVALID);
    assert_string_equal(lfr_role_name(LFR_ROLE_ADMINISTRATOR), "administrator");
    assert_string_equal(lfr_action_name(LFR_ACTION_USER_ADD), "user.add");
}

static void test_bootstrap_and_roles(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);

    /* The first user must be an administrator. */
    assert_int_equal(lfr_store_user_add(s, NULL, "eve", LFR_ROLE_OPERATOR, OPER_PW),
                     LFR_ERR_DENIED);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    /* No second bootstrap. */
    assert_int_equal(lfr_store_user_add(s, NULL, "eve", LFR_ROLE_ADMINISTRATOR, OPER_PW),
                     LFR_ERR_DENIED);

    lfr_user admin, op;
    assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, &admin), LFR_OK);
    assert_int_equal(admin.role, LFR_ROLE_ADMINISTRATOR);
    assert_int_equal(lfr_store_user_add(s, &admin, "op", LFR_ROLE_OPERATOR, OPER_PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, "op", OPER_PW, &op), LFR_OK);

    /* An operator may not add users, not even by claiming another role in
     * the struct: the role is read from the database. */
    assert_int_equal(lfr_store_user_add(s, &op, "op2", LFR_ROLE_ADMINISTRATOR, OPER_PW),
                     LFR_ERR_DENIED);
    assert_non_null(strstr(lfr_errmsg(), "may not user.add"));
    lfr_user forged = op;
    forged.role = LFR_ROLE_ADMINISTRATOR;
    assert_int_equal(lfr_store_user_add(s, &forged, "op2", LFR_ROLE_ADMINISTRATOR, OPER_PW),
                     LFR_ERR_DENIED);

    /* Bad input is refused before anything happens. */
    assert_int_equal(lfr_store_user_add(s, &admin, "op", LFR_ROLE_OPERATOR, OPER_PW),
                     LFR_ERR_CONFLICT);
    assert_int_equal(lfr_store_user_add(s, &admin, "bad name", LFR_ROLE_OPERATOR, OPER_PW),
                     LFR_ERR_INVALID);
    assert_int_equal(lfr_store_user_add(s, &admin, "-x", LFR_ROLE_OPERATOR, OPER_PW),
                     LFR_ERR_INVALID);
    assert_int_equal(lfr_store_user_add(s, &admin, "short", LFR_ROLE_OPERATOR, "1234567"),
                     LFR_ERR_INVALID);
    assert_int_equal(lfr_store_user_add(s, &admin, "norole", (lfr_role)9, OPER_PW),
                     LFR_ERR_INVALID);

    /* Listing users: administrators and auditors only. */
    collected c = {0};
    assert_int_equal(lfr_store_user_list(s, &op, NULL, &c), LFR_ERR_DENIED);
    int64_t n;
    assert_int_equal(lfr_store_user_count(s, &n), LFR_OK);
    assert_int_equal(n, 2);

    /* Every refusal above that got past input checks is in the chain. */
    memset(&c, 0, sizeof c);
    lfr_audit_filter f = {.action = "user.add.refused"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 5); /* eve, eve again, op2 twice, duplicate op */
    assert_string_equal(c.actor[0], "system");
    assert_string_equal(c.actor[1], "anonymous");
    assert_string_equal(c.actor[2], "op");
    assert_string_equal(c.actor[3], "op");
    assert_string_equal(c.actor[4], "admin");
    memset(&c, 0, sizeof c);
    f = (lfr_audit_filter){.action = "user.list.refused", .actor = "op"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM users"), 2);

    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_OK);
    lfr_store_close(s);
    home_remove(&h);
}

static int names_into(const lfr_user *u, void *ctx)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s:%s ", u->name, lfr_role_name(u->role));
    return 0;
}

static void test_user_list(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, "auditor pass"),
                     LFR_OK);
    lfr_user aud;
    assert_int_equal(lfr_store_login(s, "aud", "auditor pass", &aud), LFR_OK);
    char names[256] = "";
    assert_int_equal(lfr_store_user_list(s, &aud, names_into, names), LFR_OK);
    assert_string_equal(names, "admin:administrator aud:auditor op:operator ");
    lfr_store_close(s);
    home_remove(&h);
}

static void test_login(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, u;
    lfr_store *s = populated(&h, &admin, &op);

    assert_int_equal(lfr_store_login(s, "op", "Tr0ub4dor&3", &u), LFR_ERR_AUTH);
    char msg_wrong[256];
    snprintf(msg_wrong, sizeof msg_wrong, "%s", lfr_errmsg());
    assert_int_equal(u.id, 0);
    assert_int_equal(lfr_store_login(s, "nobody", "Tr0ub4dor&3", &u), LFR_ERR_AUTH);
    /* The same words for an unknown user: names are not given away. */
    assert_string_equal(lfr_errmsg(), msg_wrong);
    assert_int_equal(lfr_store_login(s, "bad name!", "Tr0ub4dor&3", &u), LFR_ERR_AUTH);
    assert_int_equal(lfr_store_login(s, "op", "", &u), LFR_ERR_AUTH);

    collected c = {0};
    lfr_audit_filter f = {.action = "login.refused"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.actor[0], "op");
    assert_string_equal(c.actor[1], "nobody");
    assert_string_equal(c.actor[2], "anonymous");

    /* The password hash is argon2id and the password is nowhere in the db. */
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM users WHERE pwhash LIKE '$argon2id$%'"),
                     2);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM users WHERE pwhash LIKE '%operator%'"), 0);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE detail LIKE '%passphrase%'"
                                   " OR detail LIKE '%Tr0ub4dor%'"),
                     0);
    lfr_store_close(s);
    home_remove(&h);
}

/* ---- Audit listing and the clock ---------------------------------------------------- */

static void test_audit_list_filters(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    setenv("LFR_FAKE_NOW", "2026-01-01T10:00:00Z", 1);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    lfr_user admin, u;
    assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, &admin), LFR_OK);
    setenv("LFR_FAKE_NOW", "2026-01-02T12:30:00.250Z", 1);
    assert_int_equal(lfr_store_user_add(s, &admin, "op", LFR_ROLE_OPERATOR, OPER_PW), LFR_OK);
    setenv("LFR_FAKE_NOW", "2026-01-03", 1);
    assert_int_equal(lfr_store_login(s, "op", "nope nope", &u), LFR_ERR_AUTH);

    collected c = {0};
    int m = lfr_store_schema_latest();
    assert_int_equal(lfr_audit_list(s, &admin, NULL, collect, &c), LFR_OK);
    assert_int_equal(c.n, m + 1 + 2 + 1); /* migrations, log.init, two user.add, one refusal */
    assert_string_equal(c.time[0], "2026-01-01T10:00:00.000Z");
    assert_string_equal(c.action[m], "log.init");
    assert_string_equal(c.time[m + 1], "2026-01-01T10:00:00.000Z");
    assert_string_equal(c.time[m + 2], "2026-01-02T12:30:00.250Z");
    assert_string_equal(c.time[m + 3], "2026-01-03T00:00:00.000Z");
    for (int i = 0; i < c.n; i++)
        assert_int_equal(c.seq[i], (uint64_t)i + 1);

    memset(&c, 0, sizeof c);
    lfr_audit_filter f = {.from = "2026-01-02", .to = "2026-01-02"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.action[0], "user.add");

    memset(&c, 0, sizeof c);
    f = (lfr_audit_filter){.from = "2026-01-02T12:30:00.251Z"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.action[0], "login.refused");

    memset(&c, 0, sizeof c);
    f = (lfr_audit_filter){.actor = "admin", .object = "user:op"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_OK);
    assert_int_equal(c.n, 1);

    f = (lfr_audit_filter){.from = "yesterday"};
    assert_int_equal(lfr_audit_list(s, &admin, &f, collect, &c), LFR_ERR_INVALID);

    /* A bad fake clock is an error, not a silent real time. */
    setenv("LFR_FAKE_NOW", "2026-13-01", 1);
    assert_int_equal(lfr_store_user_add(s, &admin, "x1", LFR_ROLE_OPERATOR, OPER_PW),
                     LFR_ERR_INVALID);
    assert_non_null(strstr(lfr_errmsg(), "LFR_FAKE_NOW"));
    unsetenv("LFR_FAKE_NOW");
    lfr_store_close(s);
    home_remove(&h);
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t ms;
    char buf[LFR__TIME_LEN];
    assert_int_equal(lfr__time_parse("1970-01-01", &ms), LFR_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(lfr__time_parse("2000-02-29T23:59:59.999Z", &ms), LFR_OK);
    lfr__time_format(ms, buf);
    assert_string_equal(buf, "2000-02-29T23:59:59.999Z");
    assert_int_equal(lfr__time_parse("2001-02-29", &ms), LFR_ERR_INVALID);
    assert_int_equal(lfr__time_parse("2026-01-01T10:00+01:00", &ms), LFR_ERR_INVALID);
    assert_int_equal(lfr__time_parse("2026-01-01T24:00", &ms), LFR_ERR_INVALID);
    assert_int_equal(lfr__time_parse("", &ms), LFR_ERR_INVALID);
    assert_int_equal(lfr__time_parse("2026-1-01", &ms), LFR_ERR_INVALID);
}

/* ---- Tamper evidence ------------------------------------------------------------------ */

/* A home whose chain holds some entries; returns the newest seq. */
static uint64_t tamper_home(home *h)
{
    lfr_user admin, op, u;
    lfr_store *s = populated(h, &admin, &op);
    assert_int_equal(lfr_store_login(s, "op", "wrong password", &u), LFR_ERR_AUTH);
    assert_int_equal(lfr_store_user_add(s, &op, "x", LFR_ROLE_OPERATOR, OPER_PW), LFR_ERR_DENIED);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, OPER_PW), LFR_OK);
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(s, &v);
    if (rc) print_error("verify: %s\n", lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
    assert_int_equal(v.first_bad, 0);
    assert_int_equal(v.anchor_seq, v.head_seq);
    assert_true(v.n_entries >= 6);
    lfr_store_close(s);
    return v.head_seq;
}

static void test_tamper_edit(void **state)
{
    (void)state;
    home h;
    tamper_home(&h);
    /* The triggers stop the program's own mistakes ... */
    char err[512];
    assert_int_not_equal(tdb_try(h.path, "UPDATE audit SET detail = 'x' WHERE seq = 3", 0, NULL,
                                 NULL, NULL, err, sizeof err),
                         0);
    assert_non_null(strstr(err, "append-only"));
    assert_int_not_equal(
        tdb_try(h.path, "DELETE FROM audit WHERE seq = 3", 0, NULL, NULL, NULL, err, sizeof err),
        0);
    assert_int_equal(verify_first_bad(&h, LFR_OK), 0);
    /* ... a person with the file drops them; the chain still tells. */
    raw_sql(&h, drop_triggers);
    raw_sql(&h, "UPDATE audit SET detail = '{\"id\":3,\"role\":\"operator\"}' WHERE seq = 3");
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), 3);
    home_remove(&h);

    tamper_home(&h);
    raw_sql(&h, drop_triggers);
    raw_sql(&h, "UPDATE audit SET time = '2020-01-01T00:00:00.000Z' WHERE seq = 2");
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), 2);
    home_remove(&h);

    /* Moving a byte from one field to the next is caught too (the fields are
     * length-prefixed in the hash). */
    tamper_home(&h);
    raw_sql(&h, drop_triggers);
    raw_sql(&h, "UPDATE audit SET action = action || substr(object, 1, 1),"
                " object = substr(object, 2) WHERE seq = 4");
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), 4);
    home_remove(&h);
}

static void test_tamper_delete_middle(void **state)
{
    (void)state;
    home h;
    tamper_home(&h);
    raw_sql(&h, drop_triggers);
    raw_sql(&h, "DELETE FROM audit WHERE seq = 3");
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_ERR_TAMPERED);
    assert_int_equal(v.first_bad, 3);
    assert_non_null(strstr(v.reason, "missing"));
    assert_non_null(strstr(lfr_errmsg(), "audit entry 3"));
    lfr_store_close(s);
    home_remove(&h);
}

static void test_tamper_swap(void **state)
{
    (void)state;
    home h;
    tamper_home(&h);
    raw_sql(&h, drop_triggers);
    raw_sql(&h, "UPDATE audit SET seq = 1000 WHERE seq = 3;"
                "UPDATE audit SET seq = 3 WHERE seq = 4;"
                "UPDATE audit SET seq = 4 WHERE seq = 1000;");
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), 3);
    home_remove(&h);
}

static void test_tamper_insert(void **state)
{
    (void)state;
    home h;
    uint64_t head = tamper_home(&h);
    raw_sql(&h, tdb_q("INSERT INTO audit (seq, time, actor, action, object, detail, prev_hash,"
                      " hash) SELECT max(seq) + 1, '2026-01-01T00:00:00.000Z', 'admin',"
                      " 'user.add', 'user:mallory', '{}', zeroblob(32), randomblob(32) FROM audit",
                      "INSERT INTO audit (seq, time, actor, action, object, detail, prev_hash,"
                      " hash) SELECT max(seq) + 1, '2026-01-01T00:00:00.000Z', 'admin',"
                      " 'user.add', 'user:mallory', '{}', decode(repeat('00', 32), 'hex'),"
                      " decode(md5('a') || md5('b'), 'hex') FROM audit"));
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), head + 1);
    home_remove(&h);
}

/* Rewrite entries from `from` on with correctly recomputed hashes, as a
 * tamperer who knows the algorithm would, after changing entry `from`. */
typedef struct chain_rows {
    struct row {
        uint64_t seq;
        char f[5][256];
        uint8_t hash[32];
    } rows[64];
    int n;
} chain_rows;

static void hex32(const char *hex, uint8_t out[32])
{
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, 32);
}

static void on_chain_row(int n, const char **v, void *ctx)
{
    chain_rows *c = ctx;
    assert_int_equal(n, 7);
    if (c->n == 64) return;
    struct row *r = &c->rows[c->n++];
    r->seq = strtoull(v[0], NULL, 10);
    for (int i = 0; i < 5; i++)
        snprintf(r->f[i], 256, "%s", v[i + 1]);
    hex32(v[6], r->hash);
}

#define HASH_HEX tdb_q("hex(hash)", "encode(hash, 'hex')")

static void read_chain(const home *h, chain_rows *c)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT seq, time, actor, action, object, detail, %s FROM audit ORDER BY seq",
             HASH_HEX);
    c->n = 0;
    assert_int_equal(tdb_try(h->path, sql, 0, NULL, on_chain_row, c, NULL, 0), 0);
}

static void rewrite_chain(const home *h, uint64_t from, const char *new_detail)
{
    chain_rows c;
    read_chain(h, &c);
    raw_sql(h, drop_triggers);
    for (int i = 0; i < c.n; i++) {
        struct row *r = &c.rows[i];
        if (r->seq < from) continue;
        if (r->seq == from) snprintf(r->f[4], 256, "%s", new_detail);
        uint8_t prev[32] = {0};
        if (i > 0) memcpy(prev, c.rows[i - 1].hash, 32);
        lfr__audit_hash(r->seq, r->f[0], r->f[1], r->f[2], r->f[3], r->f[4], prev, r->hash);
        tdb_val v[4] = {TDB_TEXT(r->f[4]), TDB_BLOB(prev, 32), TDB_BLOB(r->hash, 32),
                        TDB_INT((int64_t)r->seq)};
        tdb_exec(h->path, "UPDATE audit SET detail = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
                 4, v);
    }
}

static void test_tamper_needs_anchor(void **state)
{
    (void)state;
    home h;
    char head_path[700];

    /* Cutting off the newest entries leaves a valid chain: the anchor tells. */
    uint64_t head = tamper_home(&h);
    raw_sql(&h, drop_triggers);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq >= %llu", (unsigned long long)head - 1);
    raw_sql(&h, sql);
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), head - 1);
    home_remove(&h);

    /* Rewriting the chain consistently from an entry on: the signed roots
     * tell (the first checkpoint published, at the log's start, bounds it). */
    head = tamper_home(&h);
    rewrite_chain(&h, 3, "{\"id\":3,\"role\":\"administrator\"}");
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), 1);
    assert_non_null(strstr(lfr_errmsg(), "rewritten within entries 1 to"));
    home_remove(&h);

    /* So does removing the anchor. */
    tamper_home(&h);
    home_file(&h, "audit.head", head_path, sizeof head_path);
    assert_int_equal(remove(head_path), 0);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_ERR_TAMPERED);
    assert_non_null(strstr(v.reason, "audit.head"));
    lfr_store_close(s);
    home_remove(&h);

    /* A well-formed entry appended behind the program's back is not covered
     * by the signed head: found at once, and named. */
    head = tamper_home(&h);
    chain_rows c;
    read_chain(&h, &c);
    assert_int_equal(c.rows[c.n - 1].seq, head);
    uint8_t hash[32];
    const uint8_t *prev = c.rows[c.n - 1].hash;
    char t[LFR__TIME_LEN];
    assert_int_equal(lfr__clock_now(t), LFR_OK);
    lfr__audit_hash(head + 1, t, "admin", "note", "", "{}", prev, hash);
    tdb_val row[4] = {TDB_INT((int64_t)head + 1), TDB_TEXT(t), TDB_BLOB(prev, 32),
                      TDB_BLOB(hash, 32)};
    tdb_exec(h.path, "INSERT INTO audit VALUES ($1, $2, 'admin', 'note', '', '{}', $3, $4)", 4,
             row);
    assert_int_equal(verify_first_bad(&h, LFR_ERR_TAMPERED), head + 1);
    assert_non_null(strstr(lfr_errmsg(), "added without the log key"));
    home_remove(&h);
}

/* ---- Sharing register -------------------------------------------------------------- */

typedef struct shared {
    int n;
    char line[8][256];
} shared;

static int collect_sharing(const lfr_sharing *e, void *ctx)
{
    shared *c = ctx;
    if (c->n < 8)
        snprintf(c->line[c->n], sizeof c->line[0], "%s|%s|%lld|%s", e->shared_on, e->recipient,
                 (long long)e->n_images, e->recorded_by);
    c->n++;
    return 0;
}

static void test_sharing(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, aud;
    /* The whole record under one simulated clock: entry times never go back. */
    setenv("LFR_FAKE_NOW", "2026-03-01T12:00:00Z", 1);
    lfr_store *s = populated(&h, &admin, &op);
    assert_int_equal(lfr_store_user_add(s, &admin, "aud", LFR_ROLE_AUDITOR, "auditor pass"),
                     LFR_OK);
    assert_int_equal(lfr_store_login(s, "aud", "auditor pass", &aud), LFR_OK);

    lfr_sharing e = {
        .shared_on = "2026-02-10",
        .recipient = "Court \"A\"",
        .purpose = "disclosure to the defence",
        .legal_basis = "CPIA 1996",
        .dataset = "alert 17 probe image",
        .n_images = 1,
        .security = "encrypted, hand delivered",
    };
    int64_t id1, id2;
    assert_int_equal(lfr_store_sharing_add(s, &admin, &e, &id1), LFR_OK);
    e.shared_on = NULL; /* now */
    e.recipient = "University of X";
    e.n_images = 0;
    assert_int_equal(lfr_store_sharing_add(s, &admin, &e, &id2), LFR_OK);
    assert_true(id2 > id1);

    /* Refusals: role (audited), bad fields and a future date (not). */
    assert_int_equal(lfr_store_sharing_add(s, &op, &e, NULL), LFR_ERR_DENIED);
    lfr_sharing b = e;
    b.purpose = "";
    assert_int_equal(lfr_store_sharing_add(s, &admin, &b, NULL), LFR_ERR_INVALID);
    b = e;
    b.security = "line one\nline two";
    assert_int_equal(lfr_store_sharing_add(s, &admin, &b, NULL), LFR_ERR_INVALID);
    b = e;
    b.n_images = -1;
    assert_int_equal(lfr_store_sharing_add(s, &admin, &b, NULL), LFR_ERR_INVALID);
    b = e;
    b.shared_on = "2026-03-02";
    assert_int_equal(lfr_store_sharing_add(s, &admin, &b, NULL), LFR_ERR_INVALID);
    assert_non_null(strstr(lfr_errmsg(), "future"));
    b.shared_on = "last week";
    assert_int_equal(lfr_store_sharing_add(s, &admin, &b, NULL), LFR_ERR_INVALID);

    shared c = {0};
    assert_int_equal(lfr_store_sharing_list(s, &op, NULL, NULL, collect_sharing, &c),
                     LFR_ERR_DENIED);
    assert_int_equal(lfr_store_sharing_list(s, &aud, NULL, NULL, collect_sharing, &c), LFR_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.line[0], "2026-02-10T00:00:00.000Z|Court \"A\"|1|admin");
    assert_string_equal(c.line[1], "2026-03-01T12:00:00.000Z|University of X|0|admin");
    memset(&c, 0, sizeof c);
    assert_int_equal(
        lfr_store_sharing_list(s, &aud, "2026-02-01", "2026-02-10", collect_sharing, &c), LFR_OK);
    assert_int_equal(c.n, 1);

    /* The audit entry holds every field, escaped. */
    collected a = {0};
    lfr_audit_filter f = {.action = "sharing.add"};
    assert_int_equal(lfr_audit_list(s, &aud, &f, collect, &a), LFR_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(
        raw_count(&h, tdb_q("SELECT count(*) FROM audit WHERE action = 'sharing.add' AND"
                            " json_extract(detail, '$.recipient') = 'Court \"A\"' AND"
                            " json_extract(detail, '$.n_images') = 1",
                            "SELECT count(*) FROM audit WHERE action = 'sharing.add' AND"
                            " detail::json->>'recipient' = 'Court \"A\"' AND"
                            " (detail::json->>'n_images')::int = 1")),
        1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action ="
                                   " 'sharing.add.refused' AND actor = 'op'"),
                     1);
    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_OK);
    unsetenv("LFR_FAKE_NOW");
    lfr_store_close(s);
    home_remove(&h);
}

/* ---- Records against the chain --------------------------------------------------------- */

/* The seq of the one entry with this action and object. */
static uint64_t entry_seq(const home *h, const char *action, const char *object)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT seq FROM audit WHERE action = '%s' AND object = '%s'", action,
             object);
    return (uint64_t)raw_count(h, sql);
}

static char last_reason[sizeof(((lfr_audit_verdict *)0)->reason)];

static uint64_t verify_reason(const home *h)
{
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_ERR_TAMPERED);
    snprintf(last_reason, sizeof last_reason, "%s", v.reason);
    lfr_store_close(s);
    return v.first_bad;
}

static void test_records_match_chain(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_sharing e = {.recipient = "R",
                     .purpose = "P",
                     .legal_basis = "L",
                     .dataset = "D",
                     .n_images = 3,
                     .security = "S"};
    int64_t id;
    assert_int_equal(lfr_store_sharing_add(s, &admin, &e, &id), LFR_OK);
    lfr_store_close(s);
    assert_int_equal(verify_first_bad(&h, LFR_OK), 0);

    /* Each alteration on a fresh copy of the same home. */
    static const struct {
        const char *sql;
        const char *action, *object; /* the entry to be named, or NULL */
        const char *reason;
    } cases[] = {
        {"UPDATE users SET role = 'administrator' WHERE name = 'op'", "user.add", "user:op",
         "user op no longer matches"},
        {"UPDATE users SET name = 'admin2' WHERE name = 'admin'", NULL, NULL,
         "user admin2 has no audit entry"},
        {"INSERT INTO users (id, name, role, pwhash, created_at, created_by) VALUES (99,"
         " 'mallory', 'administrator', 'x', '2026-01-01', 'admin')",
         NULL, NULL, "user mallory has no audit entry"},
        {"DELETE FROM users WHERE name = 'op'", NULL, NULL, "deleted outside lfr"},
        {"UPDATE sharing SET n_images = 0", "sharing.add", "sharing:1", "sharing entry 1"},
        {"UPDATE sharing SET recipient = 'Q'", "sharing.add", "sharing:1", "no longer matches"},
        {"DELETE FROM sharing", NULL, NULL, "1 sharing.add entries but 0 sharing entries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        home c;
        home_clone(&h, &c);
        raw_sql(&c, cases[i].sql);
        uint64_t want = cases[i].action ? entry_seq(&c, cases[i].action, cases[i].object) : 0;
        uint64_t got = verify_reason(&c);
        if (got != want || !strstr(last_reason, cases[i].reason))
            print_error("case %zu: first_bad %llu (want %llu): %s\n", i, (unsigned long long)got,
                        (unsigned long long)want, last_reason);
        assert_int_equal(got, want);
        assert_non_null(strstr(last_reason, cases[i].reason));
        home_remove(&c);
    }
    home_remove(&h);
}

/* ---- Evaluations ---------------------------------------------------------------------- */

typedef struct figures {
    int n;
    lfr_eval_metric m[8];
    char group[8][32], metric[8][32];
} figures;

static int collect_figure(const lfr_eval_metric *m, void *ctx)
{
    figures *f = ctx;
    if (f->n < 8) {
        f->m[f->n] = *m;
        snprintf(f->group[f->n], 32, "%s", m->group);
        snprintf(f->metric[f->n], 32, "%s", m->metric);
    }
    f->n++;
    return 0;
}

static int count_runs(const lfr_evaluation *e, void *ctx)
{
    assert_int_equal(e->n_metrics, 4);
    assert_string_equal(e->kind, "differential");
    assert_string_equal(e->notes, "");
    ++*(int *)ctx;
    return 0;
}

static void test_evaluations(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op, ao;
    lfr_store *s = populated(&h, &admin, &op);
    assert_int_equal(
        lfr_store_user_add(s, &admin, "ao", LFR_ROLE_AUTHORISING_OFFICER, "officer pass"), LFR_OK);
    assert_int_equal(lfr_store_login(s, "ao", "officer pass", &ao), LFR_OK);

    const lfr_eval_metric m[] = {
        {NULL, "FMR", 0.39, 0.001, 0.0007, 0.0014, 300000},
        {"sex=female", "FMR", 0.39, 0.0013, NAN, NAN, 90000},
        {"sex=male", "FNMR", 0.39, -0.0, 0, 0.01, 1200},
        {"race=x", "FMR", 0.39, NAN, NAN, NAN, 3}, /* too small for an estimate */
    };
    lfr_evaluation e = {
        .kind = "differential",
        .run_at = "2026-02-01T08:00:00Z",
        .dataset = "LFW with the sex labels",
        .dataset_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .model = "MobileFaceNet.tflite sha256 ab12",
        .engine_version = "openlfr 0.1.0",
    };
    int64_t id;
    assert_int_equal(lfr_store_evaluation_add(s, &admin, &e, m, 4, &id), LFR_OK);

    /* Refusals. */
    assert_int_equal(lfr_store_evaluation_add(s, &op, &e, m, 4, NULL), LFR_ERR_DENIED);
    lfr_evaluation b = e;
    b.dataset_sha256 = "0123";
    assert_int_equal(lfr_store_evaluation_add(s, &admin, &b, m, 4, NULL), LFR_ERR_INVALID);
    b = e;
    b.run_at = "2999-01-01";
    assert_int_equal(lfr_store_evaluation_add(s, &admin, &b, m, 4, NULL), LFR_ERR_INVALID);
    lfr_eval_metric inf = m[0];
    inf.value = INFINITY;
    assert_int_equal(lfr_store_evaluation_add(s, &admin, &e, &inf, 1, NULL), LFR_ERR_INVALID);
    inf = m[0];
    inf.metric = "";
    assert_int_equal(lfr_store_evaluation_add(s, &admin, &e, &inf, 1, NULL), LFR_ERR_INVALID);

    /* Authorising officers read them (they authorise deployments on them). */
    int runs = 0;
    assert_int_equal(
        lfr_store_evaluation_list(s, &ao, "2026-02-01", "2026-02-01", count_runs, &runs), LFR_OK);
    assert_int_equal(runs, 1);
    assert_int_equal(lfr_store_evaluation_list(s, &op, NULL, NULL, count_runs, &runs),
                     LFR_ERR_DENIED);
    figures f = {0};
    assert_int_equal(lfr_store_evaluation_metrics(s, &ao, id, collect_figure, &f), LFR_OK);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.group[0], "");
    assert_string_equal(f.group[1], "sex=female");
    assert_string_equal(f.metric[2], "FNMR");
    assert_true(f.m[0].value == 0.001 && f.m[0].n == 300000);
    assert_true(isnan(f.m[1].ci_low) && isnan(f.m[3].value));
    assert_true(f.m[2].value == 0 && f.m[2].ci_high == 0.01);
    assert_int_equal(lfr_store_evaluation_metrics(s, &ao, id + 100, collect_figure, &f),
                     LFR_ERR_NOT_FOUND);
    lfr_store_close(s);
    assert_int_equal(verify_first_bad(&h, LFR_OK), 0);

    /* A figure changed, removed or added behind the program's back, or the
     * run's description changed, is found and the run's entry named. */
    uint64_t seq = entry_seq(&h, "evaluation.add", "evaluation:1");
    static const char *const tamper[] = {
        "UPDATE evaluation_metrics SET value = 0.0001 WHERE idx = 1",
        "UPDATE evaluation_metrics SET value = 0.5 WHERE idx = 3",
        "DELETE FROM evaluation_metrics WHERE idx = 3",
        "INSERT INTO evaluation_metrics VALUES (1, 9, '', 'FMR', 0.5, 0.1, NULL, NULL, 10)",
        "UPDATE evaluations SET run_at = '2026-03-01T00:00:00.000Z'",
    };
    for (size_t i = 0; i < sizeof tamper / sizeof tamper[0]; i++) {
        home c;
        home_clone(&h, &c);
        raw_sql(&c, tamper[i]);
        assert_int_equal(verify_reason(&c), seq);
        assert_non_null(strstr(last_reason, "evaluation 1 no longer matches"));
        home_remove(&c);
    }
    home_remove(&h);
}

/* ---- Atomicity and concurrency ------------------------------------------------------ */

static void test_change_and_entry_are_one(void **state)
{
    (void)state;
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    int64_t users = raw_count(&h, "SELECT count(*) FROM users");
    int64_t entries = raw_count(&h, "SELECT count(*) FROM audit");

    /* Make every audit append fail: the user row written just before it in
     * the same transaction must go too. */
    raw_sql(&h, tdb_q("CREATE TRIGGER audit_fail BEFORE INSERT ON audit"
                      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                      "CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS"
                      " $$BEGIN RAISE EXCEPTION 'injected failure'; END$$;"
                      " CREATE TRIGGER audit_fail BEFORE INSERT ON audit"
                      " FOR EACH ROW EXECUTE FUNCTION audit_fail();"));
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &admin, "ghost", LFR_ROLE_AUDITOR, OPER_PW),
                     LFR_ERR_STORE);
    assert_non_null(strstr(lfr_errmsg(), "injected failure"));
    /* A refusal that cannot be audited still refuses, and says so. */
    lfr_user u;
    assert_int_equal(lfr_store_login(s, "op", "Tr0ub4dor&3", &u), LFR_ERR_AUTH);
    assert_non_null(strstr(lfr_errmsg(), "could not be audited"));
    lfr_store_close(s);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM users"), users);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit"), entries);

    raw_sql(&h, tdb_q("DROP TRIGGER audit_fail;", "DROP TRIGGER audit_fail ON audit;"));
    assert_int_equal(verify_first_bad(&h, LFR_OK), 0);
    home_remove(&h);
}

/* Several processes appending at once: seq stays gap-free, the chain
 * verifies, and the anchor ends at the newest entry. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    enum { N_PROC = 4, N_EACH = 3 };
    home h;
    lfr_user admin, op;
    lfr_store *s = populated(&h, &admin, &op);
    lfr_store_close(s);
    int64_t before = raw_count(&h, "SELECT count(*) FROM audit");
    pid_t pids[N_PROC];
    for (int p = 0; p < N_PROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            lfr_store *cs;
            int bad = lfr_store_open(h.path, &cs) != LFR_OK;
            for (int i = 0; i < N_EACH && !bad; i++) {
                lfr_user u;
                bad = lfr_store_login(cs, "op", "Tr0ub4dor&3", &u) != LFR_ERR_AUTH;
                if (bad) fprintf(stderr, "child %d: %s\n", p, lfr_errmsg());
            }
            lfr_store_close(cs);
            _exit(bad);
        }
    }
    for (int p = 0; p < N_PROC; p++) {
        int st;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit"), before + N_PROC * N_EACH);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    lfr_audit_verdict v;
    assert_int_equal(lfr_audit_verify(s, &v), LFR_OK);
    assert_int_equal(v.head_seq, (uint64_t)(before + N_PROC * N_EACH));
    assert_int_equal(v.anchor_seq, v.head_seq);
    assert_int_equal(v.unanchored, 0);
    lfr_store_close(s);
    home_remove(&h);
}

/* Several first users at once: exactly one wins, the others are refused. */
static void test_concurrent_bootstrap(void **state)
{
    (void)state;
    enum { N_PROC = 4 };
    home h;
    home_make(&h);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    pid_t pids[N_PROC];
    for (int p = 0; p < N_PROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            lfr_store *cs;
            char name[16];
            snprintf(name, sizeof name, "admin%d", p);
            int rc = lfr_store_open(h.path, &cs);
            if (!rc) rc = lfr_store_user_add(cs, NULL, name, LFR_ROLE_ADMINISTRATOR, ADMIN_PW);
            lfr_store_close(cs);
            _exit(rc == LFR_OK ? 0 : rc == LFR_ERR_CONFLICT || rc == LFR_ERR_DENIED ? 1 : 2);
        }
    }
    int won = 0;
    for (int p = 0; p < N_PROC; p++) {
        int st;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) <= 1);
        won += WEXITSTATUS(st) == 0;
    }
    assert_int_equal(won, 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM users"), 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'user.add.refused'"),
                     N_PROC - 1);
    assert_int_equal(verify_first_bad(&h, LFR_OK), 0);
    home_remove(&h);
}

/* ---- Encryption at rest ------------------------------------------------------------- */

static void test_seal(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);

    /* The key in memory is the key file. */
    char kp[700];
    home_file(&h, "key", kp, sizeof kp);
    uint8_t *file;
    size_t fn;
    assert_int_equal(lfr__read_file(kp, 64, &file, &fn), LFR_OK);
    assert_int_equal(fn, LFR__KEY_BYTES);
    assert_memory_equal(file, s->key, LFR__KEY_BYTES);
    free(file);

    static const char plain[] = "pretend these are the bytes of a face image";
    uint8_t *a, *b, *p;
    size_t an, bn, pn;
    assert_int_equal(lfr__seal(s->key, plain, sizeof plain, "image:1:jpeg", &a, &an), LFR_OK);
    assert_int_equal(an, lfr__sealed_size(sizeof plain));
    assert_int_equal(lfr__seal(s->key, plain, sizeof plain, "image:1:jpeg", &b, &bn), LFR_OK);
    assert_memory_not_equal(a, b, an); /* a fresh nonce each time */
    assert_null(memmem(a, an, "face image", 10));

    assert_int_equal(lfr__unseal(s->key, a, an, "image:1:jpeg", &p, &pn), LFR_OK);
    assert_int_equal(pn, sizeof plain);
    assert_memory_equal(p, plain, pn);
    free(p);

    /* Bound to what it is: the same blob under another record fails. */
    assert_int_equal(lfr__unseal(s->key, a, an, "image:2:jpeg", &p, &pn), LFR_ERR_TAMPERED);
    assert_null(p);
    /* Any flipped bit fails; so does a cut. */
    for (size_t i = 4; i < an; i += 7) {
        a[i] ^= 0x10;
        int want = i == 4 ? LFR_ERR_UNSUPPORTED : LFR_ERR_TAMPERED;
        assert_int_equal(lfr__unseal(s->key, a, an, "image:1:jpeg", &p, &pn), want);
        a[i] ^= 0x10;
    }
    assert_int_equal(lfr__unseal(s->key, a, an - 1, "image:1:jpeg", &p, &pn), LFR_ERR_TAMPERED);
    assert_int_equal(lfr__unseal(s->key, a, 20, "image:1:jpeg", &p, &pn), LFR_ERR_FORMAT);
    a[0] = 'X';
    assert_int_equal(lfr__unseal(s->key, a, an, "image:1:jpeg", &p, &pn), LFR_ERR_FORMAT);
    free(a);
    free(b);

    /* Empty plaintexts work too. */
    assert_int_equal(lfr__seal(s->key, "", 0, "empty", &a, &an), LFR_OK);
    assert_int_equal(lfr__unseal(s->key, a, an, "empty", &p, &pn), LFR_OK);
    assert_int_equal(pn, 0);
    free(p);
    free(a);
    lfr_store_close(s);

    /* A key that is a symbolic link, or the wrong size, is refused. */
    char moved[700];
    home_file(&h, "key.real", moved, sizeof moved);
    assert_int_equal(rename(kp, moved), 0);
    assert_int_equal(symlink(moved, kp), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_IO);
    assert_int_equal(remove(kp), 0);
    FILE *f = fopen(kp, "wb");
    assert_non_null(f);
    fputs("short", f);
    fclose(f);
    assert_int_equal(chmod(kp, 0600), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_FORMAT);
    home_remove(&h);
}

/* A PostgreSQL home's connection string: refused when others may read it,
 * when it is not one line, when it is a link; a database that cannot be
 * reached is an error naming the home; init refuses a database that
 * already holds a store, and one it cannot reach, before making anything. */
static void pg_bad_database(home *h)
{
    char p[700], ci[2048];
    home_file(h, "database", p, sizeof p);
    tdb_home_conninfo(h->path, ci, sizeof ci);
    lfr_store *s;
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(lfr_store_open(h->path, &s), LFR_ERR_DENIED);
    assert_non_null(strstr(lfr_errmsg(), "readable by others"));
    assert_int_equal(chmod(p, 0600), 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\nhost=elsewhere\n", ci);
    fclose(f);
    assert_int_equal(lfr_store_open(h->path, &s), LFR_ERR_FORMAT);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "host=/nonexistent/socket/dir dbname=nothing connect_timeout=2\n");
    fclose(f);
    assert_int_equal(lfr_store_open(h->path, &s), LFR_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(lfr_errmsg(), h->path));
    assert_non_null(strstr(lfr_errmsg(), "cannot connect"));
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", ci);
    fclose(f);

    /* The database holds a store: a second home may not take it. */
    char other[700];
    snprintf(other, sizeof other, "%s/other", h->dir);
    lfr_store_config cfg = {.database = ci};
    assert_int_equal(lfr_store_init_with(other, &cfg), LFR_ERR_CONFLICT);
    assert_non_null(strstr(lfr_errmsg(), "already holds an lfr store"));
    struct stat st;
    assert_int_not_equal(stat(other, &st), 0);
    cfg.database = "host=/nonexistent/socket/dir dbname=nothing connect_timeout=2";
    assert_int_equal(lfr_store_init_with(other, &cfg), LFR_ERR_STORE);
    assert_int_not_equal(stat(other, &st), 0);
    cfg.database = "host=x\ndbname=y";
    assert_int_equal(lfr_store_init_with(other, &cfg), LFR_ERR_INVALID);

    /* A link in place of the file is refused. */
    char real[760];
    snprintf(real, sizeof real, "%s.real", p);
    assert_int_equal(rename(p, real), 0);
    assert_int_equal(symlink(real, p), 0);
    assert_int_equal(lfr_store_open(h->path, &s), LFR_ERR_IO);
    assert_int_equal(remove(p), 0);
    assert_int_equal(rename(real, p), 0);
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    lfr_store_close(s);
}

static void test_corrupt_database(void **state)
{
    (void)state;
    home h;
    home_make(&h);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    if (tdb_pg()) {
        pg_bad_database(&h);
        home_remove(&h);
        return;
    }
    char db[700], wal[720];
    home_file(&h, "lfr.db", db, sizeof db);
    snprintf(wal, sizeof wal, "%s-wal", db);
    remove(wal);
    FILE *f = fopen(db, "wb");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(lfr_errmsg(), "lfr.db"));
    home_remove(&h);
}

/* The two backends know the same schema versions. */
static void test_backends_agree(void **state)
{
    (void)state;
    assert_int_equal(lfr__pg_backend.schema_latest(), lfr__sqlite_backend.schema_latest());
    assert_int_equal(lfr_store_schema_latest(), lfr__sqlite_backend.schema_latest());
}

static void test_json_escape(void **state)
{
    (void)state;
    char buf[32] = "{\"a\":";
    lfr__json_append_str(buf, sizeof buf, "q\"b\\\n");
    assert_string_equal(buf, "{\"a\":\"q\\\"b\\\\\\u000a\"");
    char tiny[12] = "";
    lfr__json_append_str(tiny, sizeof tiny, "a long string that cannot fit");
    assert_int_equal(strlen(tiny), 11);
    assert_int_equal(tiny[0], '"');
    assert_int_equal(tiny[10], '"');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_creates_private_home),
        cmocka_unit_test(test_migrations_from_every_version),
        cmocka_unit_test(test_reopen_and_refusals),
        cmocka_unit_test(test_role_table),
        cmocka_unit_test(test_bootstrap_and_roles),
        cmocka_unit_test(test_user_list),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_audit_list_filters),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_tamper_edit),
        cmocka_unit_test(test_tamper_delete_middle),
        cmocka_unit_test(test_tamper_swap),
        cmocka_unit_test(test_tamper_insert),
        cmocka_unit_test(test_tamper_needs_anchor),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_records_match_chain),
        cmocka_unit_test(test_evaluations),
        cmocka_unit_test(test_change_and_entry_are_one),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_concurrent_bootstrap),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_corrupt_database),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_backends_agree),
    };
    int skip = tdb_skip("test_store");
    if (skip) return skip;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
