/*
 * Tests of the watchlist: enrolling subjects from real stills with the real
 * engine (exactly one face each, else a refusal that writes nothing but its
 * audit entry), listing, showing (audited), removing with a deletion
 * receipt, statistics with expiry under a fake clock, decrypting templates
 * for deployments, and a scan of every file in the home proving that
 * neither the images' bytes nor their templates are stored in plain text.
 *
 * Needs the models ($LFR_MODELS) and the stills ($LFR_DATA/stills); each
 * test skips, saying why, when they are absent. Runs on embedded homes, and
 * again on PostgreSQL (testdb.h), where the scan for plain text also covers
 * the server's files of the test's database and its write-ahead log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "testdb.h"
#include "testutil.h"
#include "util/util.h"

#define ADMIN_PW "correct horse battery"
#define OPER_PW "operator passphrase"
#define AUDIT_PW "auditor passphrase"

static lfr_engine *g_engine;
static char g_obama[1024], g_biden[1024], g_two[1024];

static int group_setup(void **state)
{
    (void)state;
    char p[1024];
    if (!test_model_path("MobileFaceNet.tflite", p, sizeof p) ||
        !test_model_path("face_detection_full_range.tflite", p, sizeof p) ||
        !test_data_path("stills/obama.jpg", g_obama, sizeof g_obama) ||
        !test_data_path("stills/biden.jpg", g_biden, sizeof g_biden) ||
        !test_data_path("stills/two_people.jpg", g_two, sizeof g_two))
        return 0;
    lfr_engine_config cfg = lfr_engine_config_default();
    cfg.model_dir = test_env("LFR_MODELS", "models");
    if (lfr_engine_open(&cfg, &g_engine) != LFR_OK) {
        fprintf(stderr, "engine: %s\n", lfr_errmsg());
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    lfr_engine_close(g_engine);
    return 0;
}

#define NEED_ENGINE()                                                                              \
    do {                                                                                           \
        if (!g_engine) {                                                                           \
            print_message("[  SKIP    ] models or stills absent\n");                               \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- Homes ------------------------------------------------------------------- */

typedef struct home {
    char dir[512];
    char path[600];
} home;

static void home_remove(home *h)
{
    tdb_remove(h->path, h->dir);
}

static int64_t raw_count(const home *h, const char *sql)
{
    return tdb_count(h->path, sql);
}

static int media_count(const home *h)
{
    return tdb_media_count(h->path);
}

typedef struct users {
    lfr_user admin, op, auditor;
} users;

static lfr_store *populated(home *h, users *u)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/lfr-subj-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->path, sizeof h->path, "%s/home", h->dir);
    assert_int_equal(tdb_init(h->path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, ADMIN_PW),
                     LFR_OK);
    assert_int_equal(lfr_store_login(s, "admin", ADMIN_PW, &u->admin), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &u->admin, "op", LFR_ROLE_OPERATOR, OPER_PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, "op", OPER_PW, &u->op), LFR_OK);
    assert_int_equal(lfr_store_user_add(s, &u->admin, "aud", LFR_ROLE_AUDITOR, AUDIT_PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, "aud", AUDIT_PW, &u->auditor), LFR_OK);
    return s;
}

static int64_t count_action(const home *h, const char *action)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE action = '%s'", action);
    return raw_count(h, sql);
}

static void verify_ok(lfr_store *s)
{
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(s, &v);
    if (rc) print_error("verify: %s\n", v.reason);
    assert_int_equal(rc, LFR_OK);
}

static int64_t add_one(lfr_store *s, const lfr_user *actor, const char *ref, lfr_category c,
                       const char *path, const char *expires)
{
    lfr_subject_params p = {
        .reference = ref, .category = c, .reason = "warrant 123", .expires_at = expires};
    lfr_image_source img = {
        .path = path, .provenance = LFR_PROVENANCE_CUSTODY_IMAGING, .capture_date = "2026-01-02"};
    int64_t id = 0;
    int rc = lfr_store_subject_add(s, actor, g_engine, &p, &img, 1, &id);
    if (rc) print_error("add %s: %s\n", path, lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
    assert_true(id > 0);
    return id;
}

/* ---- Tests --------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    lfr_category c;
    assert_int_equal(lfr_category_parse("missing-at-risk", &c), LFR_OK);
    assert_int_equal(c, LFR_CATEGORY_MISSING_AT_RISK);
    assert_int_equal(lfr_category_parse("terrorist", &c), LFR_ERR_INVALID);
    for (int i = 1; i <= LFR_N_CATEGORIES; i++) {
        assert_int_equal(lfr_category_parse(lfr_category_name((lfr_category)i), &c), LFR_OK);
        assert_int_equal(c, i);
    }
    lfr_provenance p;
    assert_int_equal(lfr_provenance_parse("public_appeal", &p), LFR_OK);
    assert_int_equal(p, LFR_PROVENANCE_PUBLIC_APPEAL);
    assert_int_equal(lfr_provenance_parse("facebook", &p), LFR_ERR_INVALID);
    assert_string_equal(lfr_category_name((lfr_category)9), "?");
    assert_true(lfr_role_allows(LFR_ROLE_OPERATOR, LFR_ACTION_SUBJECT_ADD));
    assert_false(lfr_role_allows(LFR_ROLE_AUDITOR, LFR_ACTION_SUBJECT_ADD));
    assert_false(lfr_role_allows(LFR_ROLE_AUTHORISING_OFFICER, LFR_ACTION_SUBJECT_REMOVE));
    assert_true(lfr_role_allows(LFR_ROLE_AUDITOR, LFR_ACTION_WATCHLIST_STATS));
    assert_string_equal(lfr_action_name(LFR_ACTION_SUBJECT_ADD), "subject.add");
}

typedef struct listed {
    int n;
    int64_t n_images[8];
    char ref[8][65];
} listed;

static int on_subject(const lfr_subject *sub, void *ctx)
{
    listed *l = ctx;
    if (l->n < 8) {
        l->n_images[l->n] = sub->n_images;
        snprintf(l->ref[l->n], sizeof l->ref[0], "%s", sub->reference);
    }
    l->n++;
    return 0;
}

typedef struct shown {
    int n;
    lfr_subject_image im[4];
} shown;

static int on_image(const lfr_subject_image *im, void *ctx)
{
    shown *sh = ctx;
    if (sh->n < 4) sh->im[sh->n] = *im;
    sh->n++;
    return 0;
}

static void file_sha256(const char *path, char out[65])
{
    uint8_t *b;
    size_t n;
    assert_int_equal(lfr__read_file(path, (size_t)64 << 20, &b, &n), LFR_OK);
    lfr__sha256_hex(b, n, out);
    free(b);
}

static void test_add_list_show_remove(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    int64_t a =
        add_one(s, &u.op, "CUST/2026/001", LFR_CATEGORY_WANTED_BY_COURTS, g_obama, "2099-01-01");
    int64_t b = add_one(s, &u.admin, "CUST/2026/002", LFR_CATEGORY_VICTIM, g_biden, "2099-01-01");
    assert_int_equal(media_count(&h), 2);
    assert_int_equal(count_action(&h, "subject.add"), 2);

    listed l = {0};
    assert_int_equal(lfr_store_subject_list(s, &u.auditor, 0, on_subject, &l), LFR_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ref[0], "CUST/2026/001");
    assert_int_equal(l.n_images[0], 1);

    lfr_subject sub;
    shown sh = {0};
    assert_int_equal(lfr_store_subject_show(s, &u.auditor, a, &sub, on_image, &sh), LFR_OK);
    assert_int_equal(count_action(&h, "subject.show"), 1);
    assert_string_equal(sub.reference, "CUST/2026/001");
    assert_int_equal(sub.category, LFR_CATEGORY_WANTED_BY_COURTS);
    assert_string_equal(sub.added_by, "op");
    assert_string_equal(sub.expires_at, "2099-01-01T23:59:59.999Z");
    assert_int_equal(sh.n, 1);
    char sha[65];
    file_sha256(g_obama, sha);
    assert_string_equal(sh.im[0].sha256, sha);
    assert_string_equal(sh.im[0].model_sha256, lfr_engine_model_sha256(g_engine, "embedder"));
    assert_int_equal(sh.im[0].provenance, LFR_PROVENANCE_CUSTODY_IMAGING);
    assert_true(sh.im[0].score > 0.5f && sh.im[0].box_w > 10.0f);
    assert_string_equal(sh.im[0].deleted_at, "");
    assert_int_equal(lfr_store_subject_show(s, &u.op, 999, &sub, NULL, NULL), LFR_ERR_NOT_FOUND);

    /* Templates decrypt, and are those of the right person. */
    float tpl[2 * LFR_TEMPLATE_DIM];
    int64_t ids[2];
    int n = 0;
    assert_int_equal(lfr_store_subject_templates(s, &u.op, a, tpl, ids, 2, &n), LFR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], sh.im[0].id);
    float tb[LFR_TEMPLATE_DIM];
    assert_int_equal(lfr_store_subject_templates(s, &u.op, b, tb, NULL, 1, &n), LFR_OK);
    assert_true(lfr_template_similarity(tpl, tpl) > 0.99f);
    assert_true(lfr_template_similarity(tpl, tb) < 0.5f);
    assert_int_equal(lfr_store_subject_templates(s, &u.auditor, a, tpl, NULL, 2, &n),
                     LFR_ERR_DENIED);
    assert_int_equal(count_action(&h, "subject.templates"), 2);
    assert_int_equal(count_action(&h, "subject.templates.refused"), 1);

    /* Removal: soft in the database, hard for the files, with a receipt. */
    assert_int_equal(lfr_store_subject_remove(s, &u.auditor, a), LFR_ERR_DENIED);
    assert_int_equal(lfr_store_subject_remove(s, &u.op, a), LFR_OK);
    assert_int_equal(media_count(&h), 1);
    char q[300];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit WHERE action = 'subject.remove' AND detail LIKE "
             "'%%\"n_images\":1,\"sha256\":[\"%s\"]%%'",
             sha);
    assert_int_equal(raw_count(&h, q), 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM images WHERE deleted_at IS NOT NULL"), 1);
    assert_int_equal(lfr_store_subject_remove(s, &u.op, a), LFR_ERR_CONFLICT);
    assert_int_equal(count_action(&h, "subject.remove.refused"), 2);
    assert_int_equal(lfr_store_subject_templates(s, &u.op, a, tpl, NULL, 2, &n), LFR_ERR_CONFLICT);
    memset(&l, 0, sizeof l);
    assert_int_equal(lfr_store_subject_list(s, &u.op, 0, on_subject, &l), LFR_OK);
    assert_int_equal(l.n, 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(lfr_store_subject_list(s, &u.op, 1, on_subject, &l), LFR_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.n_images[0], 0);
    memset(&sh, 0, sizeof sh);
    assert_int_equal(lfr_store_subject_show(s, &u.op, a, &sub, on_image, &sh), LFR_OK);
    assert_string_equal(sub.removed_by, "op");
    assert_int_not_equal(sh.im[0].deleted_at[0], 0);

    /* Sweeping: the live file is named by a row and stays; an orphan (as a
     * crash between the files and the commit leaves) goes once it is an
     * hour old, not before (it may belong to an enrolment in progress). */
    const char *orphan = "0123456789abcdef0123456789abcdef";
    const char *young = "fedcba9876543210fedcba9876543210";
    tdb_media_plant(h.path, orphan, "sealed bytes", 12, 7200);
    tdb_media_plant(h.path, young, "", 0, 0);
    int64_t swept = -1;
    assert_int_equal(lfr_store_media_sweep(s, &swept), LFR_OK);
    assert_int_equal(swept, 1);
    assert_false(tdb_media_exists(h.path, orphan));
    assert_true(tdb_media_exists(h.path, young));
    assert_int_equal(media_count(&h), 2);
    lfr__media_unlink(s, young);
    verify_ok(s);
    lfr_store_close(s);
    home_remove(&h);
}

static void test_refusals_write_nothing(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    char text[700], tiny[700];
    snprintf(text, sizeof text, "%s/notes.txt", h.dir);
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("this is not an image\n", f);
    fclose(f);
    /* A 1x1 grey PNG. */
    static const uint8_t png1x1[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
        0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
        0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x08,
        0xd7, 0x63, 0x68, 0x00, 0x00, 0x00, 0x82, 0x00, 0x81, 0xdd, 0x43, 0x6a, 0xf4, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    snprintf(tiny, sizeof tiny, "%s/tiny.png", h.dir);
    f = fopen(tiny, "wb");
    assert_non_null(f);
    fwrite(png1x1, 1, sizeof png1x1, f);
    fclose(f);

    lfr_subject_params p = {.reference = "REF-1",
                            .category = LFR_CATEGORY_SUSPECT,
                            .reason = "suspected burglary",
                            .expires_at = "2099-01-01"};
    lfr_image_source two[2] = {{.path = g_obama, .provenance = LFR_PROVENANCE_PUBLIC_APPEAL},
                               {.path = g_two, .provenance = LFR_PROVENANCE_OTHER}};
    int64_t audit0 = raw_count(&h, "SELECT count(*) FROM audit");

    /* Two faces in the second image: the first image's sealed file goes too. */
    int64_t id = 7;
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, two, 2, &id), LFR_ERR_NO_FACE);
    assert_int_equal(id, 0);
    assert_non_null(strstr(lfr_errmsg(), "two_people.jpg: 2 faces"));
    assert_null(strchr(lfr_errmsg(), '\n'));
    lfr_image_source one = {.path = text, .provenance = LFR_PROVENANCE_OTHER};
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL), LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "notes.txt"));
    one.path = tiny;
    int rc = lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL);
    assert_true(rc == LFR_ERR_NO_FACE || rc == LFR_ERR_FORMAT);
    assert_non_null(strstr(lfr_errmsg(), "tiny.png"));
    assert_non_null(strstr(lfr_errmsg(), "0 faces"));
    /* A role without the right. */
    one.path = g_obama;
    assert_int_equal(lfr_store_subject_add(s, &u.auditor, g_engine, &p, &one, 1, NULL),
                     LFR_ERR_DENIED);
    assert_int_equal(count_action(&h, "subject.add.refused"), 4);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit"), audit0 + 4);
    /* Bad parameters: refused before anything, not audited. */
    p.category = (lfr_category)0;
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL), LFR_ERR_INVALID);
    p.category = LFR_CATEGORY_SUSPECT;
    p.expires_at = "2001-01-01";
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL), LFR_ERR_INVALID);
    p.expires_at = "2099-01-01";
    p.reference = "Jane Smith";
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL), LFR_ERR_INVALID);
    p.reference = "REF-1";
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit"), audit0 + 4);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM subjects"), 0);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM images"), 0);
    assert_int_equal(media_count(&h), 0);

    /* A reference already used: refused, audited, its new file removed. */
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL), LFR_OK);
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &one, 1, NULL),
                     LFR_ERR_CONFLICT);
    assert_int_equal(count_action(&h, "subject.add.refused"), 5);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM images"), 1);
    assert_int_equal(media_count(&h), 1);
    verify_ok(s);
    lfr_store_close(s);
    home_remove(&h);
}

static void test_expiry_and_stats(void **state)
{
    (void)state;
    NEED_ENGINE();
    setenv("LFR_FAKE_NOW", "2026-11-01T10:00:00.000Z", 1);
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    int64_t a = add_one(s, &u.op, "A1", LFR_CATEGORY_WANTED_BY_COURTS, g_obama, "2026-11-10");
    add_one(s, &u.op, "A2", LFR_CATEGORY_WANTED_BY_COURTS, g_biden, "2026-12-31");
    lfr_subject_params p = {.reference = "A3",
                            .category = LFR_CATEGORY_MISSING_AT_RISK,
                            .reason = "missing, vulnerable",
                            .expires_at = "2026-12-31"};
    lfr_image_source imgs[2] = {
        {.path = g_obama, .provenance = LFR_PROVENANCE_PUBLIC_APPEAL},
        {.path = g_biden, .provenance = LFR_PROVENANCE_OTHER_POLICE_SOURCE}};
    int64_t c = 0;
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, imgs, 2, &c), LFR_OK);

    lfr_watchlist_stats w;
    assert_int_equal(lfr_store_watchlist_stats(s, &u.auditor, &w), LFR_OK);
    assert_int_equal(w.active[LFR_CATEGORY_WANTED_BY_COURTS], 2);
    assert_int_equal(w.active[LFR_CATEGORY_MISSING_AT_RISK], 1);
    assert_int_equal(w.active_images[LFR_CATEGORY_MISSING_AT_RISK], 2);
    assert_int_equal(w.images_by_provenance[LFR_PROVENANCE_CUSTODY_IMAGING], 2);
    assert_int_equal(w.images_by_provenance[LFR_PROVENANCE_PUBLIC_APPEAL], 1);
    assert_int_equal(w.images_by_provenance[LFR_PROVENANCE_OTHER_POLICE_SOURCE], 1);
    assert_int_equal(w.expired[LFR_CATEGORY_WANTED_BY_COURTS], 0);

    /* After A1's expiry (end of 10 November). */
    setenv("LFR_FAKE_NOW", "2026-11-11", 1);
    assert_int_equal(lfr_store_watchlist_stats(s, &u.op, &w), LFR_OK);
    assert_int_equal(w.active[LFR_CATEGORY_WANTED_BY_COURTS], 1);
    assert_int_equal(w.expired[LFR_CATEGORY_WANTED_BY_COURTS], 1);
    assert_int_equal(w.expired_images, 1);
    assert_int_equal(w.images_by_provenance[LFR_PROVENANCE_CUSTODY_IMAGING], 1);
    float tpl[LFR_TEMPLATE_DIM];
    int n;
    assert_int_equal(lfr_store_subject_templates(s, &u.op, a, tpl, NULL, 1, &n), LFR_ERR_CONFLICT);
    assert_non_null(strstr(lfr_errmsg(), "expired"));
    lfr_subject sub;
    assert_int_equal(lfr_store_subject_show(s, &u.op, a, &sub, NULL, NULL), LFR_OK);
    assert_int_equal(sub.expired, 1);
    assert_int_equal(lfr_store_subject_remove(s, &u.op, c), LFR_OK);
    assert_int_equal(lfr_store_watchlist_stats(s, &u.op, &w), LFR_OK);
    assert_int_equal(w.removed, 1);
    assert_int_equal(w.active[LFR_CATEGORY_MISSING_AT_RISK], 0);
    assert_int_equal(w.images_by_provenance[LFR_PROVENANCE_PUBLIC_APPEAL], 0);
    verify_ok(s);
    lfr_store_close(s);
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

/* ---- Records against the chain ----------------------------------------------------- */

static void raw_sql(const home *h, const char *sql)
{
    tdb_sql(h->path, sql);
}

static void expect_tampered(const home *h, const char *sql, const char *why)
{
    raw_sql(h, sql);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(s, &v);
    if (rc != LFR_ERR_TAMPERED || !strstr(v.reason, why))
        print_error("after %s: %s (%s)\n", sql, lfr_strerror(rc), v.reason);
    assert_int_equal(rc, LFR_ERR_TAMPERED);
    assert_non_null(strstr(v.reason, why));
    lfr_store_close(s);
}

static void test_records_match_chain(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    add_one(s, &u.op, "T1", LFR_CATEGORY_SUSPECT, g_obama, "2099-01-01");
    int64_t b = add_one(s, &u.op, "T2", LFR_CATEGORY_WITNESS, g_biden, "2099-01-01");
    assert_int_equal(lfr_store_subject_remove(s, &u.op, b), LFR_OK);
    verify_ok(s);
    lfr_store_close(s);
    expect_tampered(&h, "UPDATE subjects SET category = 'victim' WHERE reference = 'T1'",
                    "subject 1 no longer matches");
    raw_sql(&h, "UPDATE subjects SET category = 'suspect' WHERE reference = 'T1'");
    expect_tampered(&h, "UPDATE images SET sha256 = upper(sha256) WHERE id = 1",
                    "subject 1 no longer matches");
    raw_sql(&h, "UPDATE images SET sha256 = lower(sha256) WHERE id = 1");
    expect_tampered(&h,
                    "UPDATE subjects SET expires_at = '2199-01-01T00:00:00.000Z'"
                    " WHERE id = 1",
                    "subject 1 no longer matches");
    raw_sql(&h, "UPDATE subjects SET expires_at = '2099-01-01T23:59:59.999Z' WHERE id = 1");
    expect_tampered(&h, "UPDATE subjects SET removed_at = NULL, removed_by = NULL WHERE id = 2",
                    "subject 2 was removed by this entry but is back");
    raw_sql(&h, "UPDATE subjects SET removed_at = '2026-01-01T00:00:00.000Z', removed_by = 'x'"
                " WHERE id = 2");
    expect_tampered(&h,
                    "UPDATE subjects SET removed_at = '2026-01-01T00:00:00.000Z',"
                    " removed_by = 'x' WHERE id = 1",
                    "subject 1 is marked removed without an audit entry");
    raw_sql(&h, "UPDATE subjects SET removed_at = NULL, removed_by = NULL WHERE id = 1");
    expect_tampered(&h,
                    "INSERT INTO subjects (id, reference, category, reason, added_by, added_at,"
                    " expires_at) VALUES (3, 'T3', 'victim', 'r', 'op', 'x', 'y')",
                    "subject 3 has no audit entry");
    raw_sql(&h, "DELETE FROM subjects WHERE id = 3");
    expect_tampered(&h,
                    "DELETE FROM images WHERE subject_id = 2; DELETE FROM subjects WHERE id = 2",
                    "2 subject.add entries but 1 subjects");
    home_remove(&h);
}

/* ---- No plaintext ------------------------------------------------------------------ */

typedef struct needle {
    const uint8_t *p;
    size_t n;
    const char *what;
} needle;

static needle g_needles[16];
static int g_n_needles, g_hits, g_files, g_quiet;

static int scan_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag != FTW_F) return 0;
    uint8_t *b;
    size_t n;
    assert_int_equal(lfr__read_file(path, (size_t)256 << 20, &b, &n), LFR_OK);
    g_files++;
    for (int i = 0; i < g_n_needles; i++) {
        if (n >= g_needles[i].n && memmem(b, n, g_needles[i].p, g_needles[i].n)) {
            if (!g_quiet) print_error("%s found in %s\n", g_needles[i].what, path);
            g_hits++;
        }
    }
    free(b);
    return 0;
}

static void test_no_plaintext_on_disk(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    int64_t a = add_one(s, &u.op, "P1", LFR_CATEGORY_RISK_OF_HARM, g_obama, "2099-01-01");
    add_one(s, &u.op, "P2", LFR_CATEGORY_WITNESS, g_biden, "2099-01-01");

    /* The template, computed here through the engine. */
    lfr_image img;
    assert_int_equal(lfr_image_load(g_obama, 0, &img), LFR_OK);
    lfr_session *ses;
    assert_int_equal(lfr_session_open(g_engine, 1, &ses), LFR_OK);
    lfr_face faces[4];
    int nf = 0;
    assert_int_equal(lfr_session_detect(ses, &img, faces, 4, &nf), LFR_OK);
    assert_int_equal(nf, 1);
    float mine[LFR_TEMPLATE_DIM], stored[LFR_TEMPLATE_DIM];
    assert_int_equal(lfr_session_embed(ses, &img, faces, 1, mine), LFR_OK);
    lfr_session_close(ses);
    lfr_image_free(&img);
    int n = 0;
    assert_int_equal(lfr_store_subject_templates(s, &u.op, a, stored, NULL, 1, &n), LFR_OK);
    /* The search below looks for the very bytes the store holds. */
    assert_memory_equal(mine, stored, sizeof mine);

    uint8_t *ob, *bi;
    size_t on, bn;
    assert_int_equal(lfr__read_file(g_obama, (size_t)64 << 20, &ob, &on), LFR_OK);
    assert_int_equal(lfr__read_file(g_biden, (size_t)64 << 20, &bi, &bn), LFR_OK);
    assert_true(on > 4096 && bn > 4096);
    g_n_needles = 0;
    g_needles[g_n_needles++] = (needle){ob + on / 3, 48, "obama.jpg bytes (1/3)"};
    g_needles[g_n_needles++] = (needle){ob + on / 2, 48, "obama.jpg bytes (1/2)"};
    g_needles[g_n_needles++] = (needle){ob + on - 64, 48, "obama.jpg bytes (end)"};
    g_needles[g_n_needles++] = (needle){bi + bn / 2, 48, "biden.jpg bytes (1/2)"};
    g_needles[g_n_needles++] = (needle){(const uint8_t *)mine, 32, "template (start)"};
    g_needles[g_n_needles++] = (needle){(const uint8_t *)(mine + 100), 32, "template (middle)"};
    lfr_store_close(s);
    g_hits = g_files = 0;
    assert_int_equal(nftw(h.path, scan_file, 16, FTW_PHYS), 0);
    /* lfr.db, key, audit.head, two media files; or key, audit.head, database */
    assert_true(g_files >= (tdb_pg() ? 3 : 5));
    assert_int_equal(g_hits, 0);
    g_files = 0;
    if (tdb_server_scan(h.path, scan_file)) assert_true(g_files > 0);
    assert_int_equal(g_hits, 0);

    /* Sanity: the scan does find the bytes where they are. */
    char copy[700];
    snprintf(copy, sizeof copy, "%s/plain.bin", h.path);
    FILE *f = fopen(copy, "wb");
    assert_non_null(f);
    fwrite(mine, 1, sizeof mine, f);
    fwrite(ob, 1, on, f);
    fclose(f);
    g_hits = 0;
    g_quiet = 1;
    assert_int_equal(nftw(h.path, scan_file, 16, FTW_PHYS), 0);
    g_quiet = 0;
    assert_int_equal(g_hits, 5); /* obama's three needles and both template ones */
    if (tdb_pg()) {
        /* ... and in the server's files, once the database holds them. */
        tdb_sql(h.path, "CREATE TABLE plain (b bytea)");
        tdb_val v = TDB_BLOB(mine, sizeof mine);
        tdb_exec(h.path, "INSERT INTO plain VALUES ($1)", 1, &v);
        g_hits = 0;
        g_quiet = 1;
        if (tdb_server_scan(h.path, scan_file)) assert_true(g_hits >= 2);
        g_quiet = 0;
    }
    free(ob);
    free(bi);
    home_remove(&h);
}

/* A commit that succeeds while updating audit.head after it fails (on a
 * full disk; here audit.head.tmp is a folder, so the new anchor cannot be
 * written) leaves the subject enrolled: the call says so and gives the id,
 * and the sealed file stays, so that the template still decrypts. */
static void test_anchor_failure_keeps_enrolment(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    char blocker[700];
    snprintf(blocker, sizeof blocker, "%s/audit.head.tmp", h.path);
    assert_int_equal(mkdir(blocker, 0700), 0);
    lfr_subject_params p = {.reference = "ANCHOR-1",
                            .category = LFR_CATEGORY_SUSPECT,
                            .reason = "anchor test",
                            .expires_at = "2099-01-01"};
    lfr_image_source img = {.path = g_obama, .provenance = LFR_PROVENANCE_OTHER};
    int64_t id = 0;
    assert_int_equal(lfr_store_subject_add(s, &u.op, g_engine, &p, &img, 1, &id), LFR_ERR_IO);
    assert_true(id > 0);
    assert_non_null(strstr(lfr_errmsg(), "subject ANCHOR-1 was enrolled"));
    assert_non_null(strstr(lfr_errmsg(), "audit.head was not updated"));
    assert_int_equal(rmdir(blocker), 0);
    assert_int_equal(media_count(&h), 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM images"), 1);
    float tpl[LFR_TEMPLATE_DIM];
    int n = 0;
    assert_int_equal(lfr_store_subject_templates(s, &u.op, id, tpl, NULL, 1, &n), LFR_OK);
    assert_int_equal(n, 1);
    sodium_memzero(tpl, sizeof tpl);
    verify_ok(s);
    lfr_store_close(s);
    home_remove(&h);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* S5: a file name read from the database is never a path. A media_file
 * changed with plain SQL to "../audit.head", to an absolute path, or left
 * a valid name whose file was replaced by a symbolic link, reaches nothing
 * outside media/: removal and decryption refuse (audited), and the files
 * named survive; a media folder that is a symbolic link is refused at open.
 * (On PostgreSQL, where media are rows and not files, the names are checked
 * all the same.) */
static void test_db_file_names_are_not_paths(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    int64_t a = add_one(s, &u.op, "S5-A", LFR_CATEGORY_SUSPECT, g_obama, "2099-01-01");
    int64_t b = add_one(s, &u.op, "S5-B", LFR_CATEGORY_SUSPECT, g_biden, "2099-01-01");
    lfr_store_close(s);

    char head[700], victim[700], sql[1200];
    snprintf(head, sizeof head, "%s/audit.head", h.path);
    snprintf(victim, sizeof victim, "%s/victim", h.dir);
    write_text(victim, "not openlfr's\n");
    snprintf(sql, sizeof sql,
             "UPDATE images SET media_file = '../audit.head' WHERE subject_id = %lld",
             (long long)a);
    raw_sql(&h, sql);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    float tpl[LFR_TEMPLATE_DIM];
    int n = 0;
    assert_int_equal(lfr_store_subject_templates(s, &u.op, a, tpl, NULL, 1, &n), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "not one openlfr makes"));
    assert_int_equal(lfr_store_subject_remove(s, &u.op, a), LFR_ERR_TAMPERED);
    assert_int_equal(access(head, F_OK), 0);
    assert_int_equal(count_action(&h, "subject.remove.refused"), 1);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM subjects WHERE removed_at IS NOT NULL"),
                     0);
    lfr_store_close(s);

    snprintf(sql, sizeof sql, "UPDATE images SET media_file = '%s' WHERE subject_id = %lld", victim,
             (long long)a);
    raw_sql(&h, sql);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    assert_int_equal(lfr_store_subject_remove(s, &u.op, a), LFR_ERR_TAMPERED);
    assert_int_equal(access(victim, F_OK), 0);
    if (tdb_pg()) {
        lfr_store_close(s);
        home_remove(&h);
        return;
    }

    /* A valid name whose file became a symbolic link to another file. */
    shown sh = {0};
    lfr_subject sub;
    assert_int_equal(lfr_store_subject_show(s, &u.op, b, &sub, on_image, &sh), LFR_OK);
    char media[800];
    snprintf(media, sizeof media, "%s/media/%s", h.path, sh.im[0].media_file);
    assert_int_equal(unlink(media), 0);
    assert_int_equal(symlink(victim, media), 0);
    assert_int_equal(lfr_store_subject_templates(s, &u.op, b, tpl, NULL, 1, &n), LFR_ERR_TAMPERED);
    assert_non_null(strstr(lfr_errmsg(), "symbolic link"));
    assert_int_equal(lfr_store_subject_remove(s, &u.op, b), LFR_OK);
    assert_int_equal(access(victim, F_OK), 0); /* the link went, not what it pointed at */
    lfr_store_close(s);

    /* media/ itself replaced by a symbolic link. */
    char mdir[700], moved[700];
    snprintf(mdir, sizeof mdir, "%s/media", h.path);
    snprintf(moved, sizeof moved, "%s/media-elsewhere", h.dir);
    assert_int_equal(rename(mdir, moved), 0);
    assert_int_equal(symlink(moved, mdir), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_DENIED);
    assert_non_null(strstr(lfr_errmsg(), "symbolic link"));
    assert_int_equal(unlink(mdir), 0);
    assert_int_equal(rename(moved, mdir), 0);
    assert_int_equal(chmod(mdir, 0755), 0);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_ERR_DENIED);
    assert_non_null(strstr(lfr_errmsg(), "mode 755"));
    home_remove(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_add_list_show_remove),
        cmocka_unit_test(test_refusals_write_nothing),
        cmocka_unit_test(test_expiry_and_stats),
        cmocka_unit_test(test_records_match_chain),
        cmocka_unit_test(test_no_plaintext_on_disk),
        cmocka_unit_test(test_anchor_failure_keeps_enrolment),
        cmocka_unit_test(test_db_file_names_are_not_paths),
    };
    int skip = tdb_skip("test_subjects");
    if (skip) return skip;
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
