/*
 * Tests of deployments, their frozen watchlists, counters, alerts and
 * retention, on the real engine and stills:
 *
 *  - the life of a deployment: create (by an operator, or an authorising
 *    officer), authorise (never by its creator), start (only authorised,
 *    only inside its window; freezes the watchlist: expired subjects left
 *    out and counted, removed ones absent, categories respected, counts per
 *    category and provenance), the frozen templates bitwise equal to the
 *    subjects' own, stop; counters; alerts and their sealed crops;
 *    adjudication and re-adjudication;
 *  - bad input: each refusal returns its status with a one-line message
 *    and writes nothing but its audit entry (every table compared);
 *  - tamper evidence: each change made with plain SQL to an alert, a
 *    deployment, its frozen rows, its counters, the policy or a purge makes
 *    lfr_audit_verify fail and name the entry concerned, on a copy of a home
 *    that verified just before;
 *  - retention under a fake clock: crops, snapshots and expired subjects'
 *    images deleted with receipts, idempotent reruns, policy changes taking
 *    effect, files a crash left behind swept;
 *  - no crop bytes or templates in plain text anywhere in the home or the
 *    temporary folder.
 *
 * Needs the models ($LFR_MODELS) and the stills ($LFR_DATA/stills); each
 * test skips, saying why, when they are absent. Runs on embedded homes, and
 * again on PostgreSQL (testdb.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "testdb.h"
#include "testutil.h"
#include "util/util.h"

#define PW "a long enough passphrase"

static lfr_engine *g_engine;
static char g_obama[1024], g_biden[1024], g_lin[1024], g_alex[1024];

static int group_setup(void **state)
{
    (void)state;
    char p[1024];
    if (!test_model_path("MobileFaceNet.tflite", p, sizeof p) ||
        !test_model_path("face_detection_full_range.tflite", p, sizeof p) ||
        !test_data_path("stills/obama.jpg", g_obama, sizeof g_obama) ||
        !test_data_path("stills/biden.jpg", g_biden, sizeof g_biden) ||
        !test_data_path("stills/lin-manuel-miranda.png", g_lin, sizeof g_lin) ||
        !test_data_path("stills/alex-lacamoire.png", g_alex, sizeof g_alex))
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

static void at(const char *now)
{
    setenv("LFR_FAKE_NOW", now, 1);
}

/* ---- Homes ------------------------------------------------------------------------- */

typedef struct home {
    char dir[512];
    char path[600];
} home;

static void home_remove(home *h)
{
    tdb_remove(h->path, h->dir);
}

static void home_dir(home *h)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/lfr-dep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->path, sizeof h->path, "%s/home", h->dir);
}

/* A copy of a closed home (files and database), in a folder of its own. */
static void home_clone(const home *src, home *dst)
{
    home_dir(dst);
    tdb_clone(src->path, dst->path);
}

static int64_t raw_count(const home *h, const char *sql)
{
    return tdb_count(h->path, sql);
}

/* The first column of the first row of `sql` as text ("" for none). */
static void raw_text(const home *h, const char *sql, char *out, size_t cap)
{
    tdb_text(h->path, sql, out, cap);
}

static void raw_sql(const home *h, const char *sql)
{
    tdb_sql(h->path, sql);
}

static int64_t audit_count(const home *h)
{
    return raw_count(h, "SELECT count(*) FROM audit");
}

static int64_t count_action(const home *h, const char *action)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE action = '%s'", action);
    return raw_count(h, sql);
}

/* Seq of the newest entry with this action on this object (0 if none). */
static int64_t seq_of(const home *h, const char *action, const char *object)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(seq), 0) FROM audit WHERE action = '%s' AND object = '%s'",
             action, object);
    return raw_count(h, sql);
}

static int media_count(const home *h)
{
    return tdb_media_count(h->path);
}

static int media_exists(const home *h, const char *name)
{
    return tdb_media_exists(h->path, name);
}

/* A growing text. */
typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void text_add(text *t, const char *s)
{
    size_t len = strlen(s);
    if (t->n + len + 1 > t->cap) {
        t->cap = 2 * (t->n + len + 1);
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->n, s, len + 1);
    t->n += len;
}

static void text_row(int n, const char **v, void *ctx)
{
    text *t = ctx;
    text_add(t, "\n");
    for (int i = 0; i < n; i++) {
        text_add(t, v[i]);
        text_add(t, "|");
    }
}

typedef struct tables {
    char name[32][64];
    int n;
} tables;

static void table_name(int n, const char **v, void *ctx)
{
    tables *t = ctx;
    if (n > 0 && t->n < 32) snprintf(t->name[t->n++], sizeof t->name[0], "%s", v[0]);
}

/* Everything but the audit log (its entries, its signed head and published
 * checkpoints): every row of every other table, in rowid order (each row
 * as text, sorted, on PostgreSQL), and the names of the sealed media.
 * Equal fingerprints mean nothing but audit entries was written. The
 * caller frees. */
static char *fingerprint(const home *h)
{
    tables names = {0};
    assert_int_equal(tdb_try(h->path,
                             tdb_q("SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " AND name NOT IN ('audit', 'log_head', 'log_checkpoints')"
                                   " ORDER BY name",
                                   "SELECT tablename FROM pg_tables WHERE schemaname ="
                                   " current_schema() AND tablename NOT IN ('audit', 'log_head',"
                                   " 'log_checkpoints', 'media') ORDER BY 1"),
                             0, NULL, table_name, &names, NULL, 0),
                     0);
    text t = {0};
    text_add(&t, "");
    for (int i = 0; i < names.n; i++) {
        const char *name = names.name[i];
        char sql[200];
        if (tdb_pg())
            snprintf(sql, sizeof sql, "SELECT r::text FROM \"%s\" r ORDER BY 1", name);
        else
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
        text_add(&t, "\n[");
        text_add(&t, name);
        text_add(&t, "]");
        assert_int_equal(tdb_try(h->path, sql, 0, NULL, text_row, &t, NULL, 0), 0);
    }
    text_add(&t, "\n[media]");
    if (tdb_pg()) {
        assert_int_equal(tdb_try(h->path, "SELECT name FROM media ORDER BY name", 0, NULL, text_row,
                                 &t, NULL, 0),
                         0);
        return t.p;
    }
    char p[700];
    snprintf(p, sizeof p, "%s/media", h->path);
    struct dirent **files;
    int n = scandir(p, &files, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (files[i]->d_name[0] != '.') {
            text_add(&t, " ");
            text_add(&t, files[i]->d_name);
        }
        free(files[i]);
    }
    free(files);
    return t.p;
}

/* ---- Users and the watchlist ------------------------------------------------------------ */

typedef struct users {
    lfr_user admin, op, op2, ao1, ao2, aud;
} users;

static void user(lfr_store *s, const lfr_user *admin, const char *name, lfr_role role,
                 lfr_user *out)
{
    assert_int_equal(lfr_store_user_add(s, admin, name, role, PW), LFR_OK);
    assert_int_equal(lfr_store_login(s, name, PW, out), LFR_OK);
}

static lfr_store *populated(home *h, users *u)
{
    home_dir(h);
    assert_int_equal(tdb_init(h->path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h->path, &s), LFR_OK);
    user(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, &u->admin);
    user(s, &u->admin, "op", LFR_ROLE_OPERATOR, &u->op);
    user(s, &u->admin, "op2", LFR_ROLE_OPERATOR, &u->op2);
    user(s, &u->admin, "ao1", LFR_ROLE_AUTHORISING_OFFICER, &u->ao1);
    user(s, &u->admin, "ao2", LFR_ROLE_AUTHORISING_OFFICER, &u->ao2);
    user(s, &u->admin, "aud", LFR_ROLE_AUDITOR, &u->aud);
    return s;
}

static void verify_ok(lfr_store *s)
{
    lfr_audit_verdict v;
    int rc = lfr_audit_verify(s, &v);
    if (rc) print_error("verify: %s (entry %llu)\n", v.reason, (unsigned long long)v.first_bad);
    assert_int_equal(rc, LFR_OK);
}

static int64_t enrol(lfr_store *s, const lfr_user *actor, const char *ref, lfr_category c,
                     const char *expires, const lfr_image_source *img, int n)
{
    lfr_subject_params p = {
        .reference = ref, .category = c, .reason = "warrant 123", .expires_at = expires};
    int64_t id = 0;
    int rc = lfr_store_subject_add(s, actor, g_engine, &p, img, n, &id);
    if (rc) print_error("enrol %s: %s\n", ref, lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
    return id;
}

static int64_t enrol1(lfr_store *s, const lfr_user *actor, const char *ref, lfr_category c,
                      const char *expires, const char *path, lfr_provenance prov)
{
    lfr_image_source img = {.path = path, .provenance = prov, .capture_date = "2026-01-02"};
    return enrol(s, actor, ref, c, expires, &img, 1);
}

/* Image ids of subject `id` (live or deleted), in order. */
typedef struct id_list {
    int64_t *v;
    int n, cap;
} id_list;

static void on_id(int n, const char **v, void *ctx)
{
    id_list *l = ctx;
    if (n > 0 && l->n < l->cap) l->v[l->n++] = strtoll(v[0], NULL, 10);
}

static int image_ids(const home *h, int64_t subject, int64_t *out, int cap)
{
    id_list l = {out, 0, cap};
    tdb_val v = TDB_INT(subject);
    assert_int_equal(tdb_try(h->path, "SELECT id FROM images WHERE subject_id = $1 ORDER BY id", 1,
                             &v, on_id, &l, NULL, 0),
                     0);
    return l.n;
}

static int64_t image_of(const home *h, int64_t subject)
{
    int64_t id = 0;
    assert_int_equal(image_ids(h, subject, &id, 1), 1);
    return id;
}

/* ---- Deployments -------------------------------------------------------------------------- */

static const lfr_camera g_cameras[2] = {
    {"cam-a", "rtsp://10.0.0.1/stream"},
    {"cam-b", "/dev/video0"},
};

static lfr_deployment_params params(const char *start, const char *end, unsigned categories)
{
    lfr_deployment_params p = {
        .purpose = "find people wanted on warrant at the station",
        .justification = "serious offences; targeted list; 8 hours only",
        .legal_basis = "common law policing powers; DPA 2018 s.35",
        .location = "Central station, main concourse",
        .latitude = 51.5308,
        .longitude = -0.1238,
        .installation = LFR_INSTALLATION_MOBILE_UNIT,
        .planned_start = start,
        .planned_end = end,
        .threshold = 0.5,
        .dpia_ref = "DPIA-2026-07",
        .eia_ref = "EIA-2026-03",
        .categories = categories,
        .cameras = g_cameras,
        .n_cameras = 2,
    };
    return p;
}

static int64_t create(lfr_store *s, const lfr_user *actor, const lfr_deployment_params *p)
{
    int64_t id = 0;
    int rc = lfr_store_deployment_create(s, actor, p, &id);
    if (rc) print_error("create: %s\n", lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
    assert_true(id > 0);
    return id;
}

static void ok(int rc)
{
    if (rc) print_error("%s: %s\n", lfr_strerror(rc), lfr_errmsg());
    assert_int_equal(rc, LFR_OK);
}

/* Deterministic bytes that stand for a probe crop (a JPEG, to the store). */
static void fill(uint8_t *b, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)(x >> 11);
    }
}

static int64_t alert(lfr_store *s, const lfr_user *actor, int64_t dep, const char *camera,
                     int64_t image, double score, const char *time, const uint8_t *crop,
                     size_t crop_n)
{
    lfr_alert_params p = {dep, camera, time, 7, image, score, crop, crop_n};
    int64_t id = 0;
    ok(lfr_store_alert_add(s, actor, &p, &id));
    assert_true(id > 0);
    return id;
}

/* A refusal: the status, one line of message naming `why`, one audit entry
 * `action` and nothing else written. Frees `before`. */
static void refused(const home *h, char *before, int64_t audit_before, int rc, int want,
                    const char *action, const char *why)
{
    const char *msg = lfr_errmsg();
    if (rc != want || !strstr(msg, why))
        print_error("%s: got %s \"%s\", want %s \"...%s...\"\n", action, lfr_strerror(rc), msg,
                    lfr_strerror(want), why);
    assert_int_equal(rc, want);
    assert_true(msg[0] != 0);
    assert_null(strchr(msg, '\n'));
    assert_non_null(strstr(msg, why));
    assert_int_equal(audit_count(h), audit_before + 1);
    char last[64];
    raw_text(h, "SELECT action FROM audit ORDER BY seq DESC LIMIT 1", last, sizeof last);
    assert_string_equal(last, action);
    char *after = fingerprint(h);
    if (strcmp(before, after))
        print_error("%s changed records:\n%s\n---\n%s\n", action, before, after);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

#define REFUSED(h, call, want, action, why)                                                        \
    do {                                                                                           \
        char *fp_ = fingerprint(h);                                                                \
        int64_t na_ = audit_count(h);                                                              \
        int rc_ = (call);                                                                          \
        refused(h, fp_, na_, rc_, want, action, why);                                              \
    } while (0)

typedef struct cams {
    int n;
    char name[4][40];
    lfr_counters c[4];
} cams;

static int on_camera(const char *camera, const lfr_counters *c, void *ctx)
{
    cams *x = ctx;
    if (x->n < 4) {
        snprintf(x->name[x->n], sizeof x->name[0], "%s", camera);
        x->c[x->n] = *c;
    }
    x->n++;
    return 0;
}

/* Index of image `id` in the watchlist, or -1. */
static int wl_find(const lfr_watchlist *wl, int64_t id)
{
    for (int i = 0; i < wl->n; i++)
        if (wl->image_ids[i] == id) return i;
    return -1;
}

typedef struct ids_seen {
    int n;
    int64_t id[8];
} ids_seen;

static int on_deployment(const lfr_deployment *d, void *ctx)
{
    ids_seen *l = ctx;
    if (l->n < 8) l->id[l->n] = d->id;
    l->n++;
    return 0;
}

static int on_alert(const lfr_alert *a, void *ctx)
{
    ids_seen *l = ctx;
    if (l->n < 8) l->id[l->n] = a->id;
    l->n++;
    return 0;
}

/* ---- The life of a deployment ------------------------------------------------------------ */

static void test_lifecycle(void **state)
{
    (void)state;
    NEED_ENGINE();
    at("2026-11-01T08:00:00.000Z");
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    /* The watchlist: A (wanted), B (wanted, expires before the start), C
     * (missing, two images), D (suspect, removed before the start), E
     * (victim: not in the deployment's categories), F (suspect, removed
     * after the start). */
    int64_t A = enrol1(s, &u.op, "A", LFR_CATEGORY_WANTED_BY_COURTS, "2099-01-01", g_obama,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    int64_t B = enrol1(s, &u.op, "B", LFR_CATEGORY_WANTED_BY_COURTS, "2026-11-01T09:00:00Z",
                       g_biden, LFR_PROVENANCE_PUBLIC_APPEAL);
    lfr_image_source two[2] = {
        {.path = g_lin, .provenance = LFR_PROVENANCE_OTHER_POLICE_SOURCE},
        {.path = g_alex, .provenance = LFR_PROVENANCE_OTHER},
    };
    int64_t C = enrol(s, &u.admin, "C", LFR_CATEGORY_MISSING_AT_RISK, "2099-01-01", two, 2);
    int64_t D = enrol1(s, &u.op, "D", LFR_CATEGORY_SUSPECT, "2099-01-01", g_alex,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    int64_t E = enrol1(s, &u.op, "E", LFR_CATEGORY_VICTIM, "2099-01-01", g_lin,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    int64_t F = enrol1(s, &u.op, "F", LFR_CATEGORY_SUSPECT, "2099-01-01", g_biden,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    ok(lfr_store_subject_remove(s, &u.op, D));

    unsigned cats = (1u << LFR_CATEGORY_WANTED_BY_COURTS) | (1u << LFR_CATEGORY_MISSING_AT_RISK) |
                    (1u << LFR_CATEGORY_SUSPECT);
    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", cats);
    int64_t d1 = create(s, &u.op, &p);
    int64_t d2 = create(s, &u.ao1, &p); /* an authorising officer may create one too */
    lfr_deployment d;
    ok(lfr_store_deployment_get(s, &u.aud, d1, &d));
    assert_int_equal(d.state, LFR_DEPLOYMENT_CREATED);
    assert_string_equal(d.created_by, "op");
    assert_string_equal(d.planned_start, "2026-11-01T10:00:00.000Z");
    assert_int_equal(d.categories, cats);
    assert_int_equal(d.n_cameras, 2);
    assert_string_equal(d.cameras[1].url, "/dev/video0");
    assert_true(d.threshold == 0.5);

    /* Self-authorisation: refused whatever the role, one entry, nothing else. */
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.ao1, d2), LFR_ERR_DENIED,
            "deployment.authorise.refused", "cannot also authorise");
    assert_int_equal(count_action(&h, "deployment.authorise.refused"), 1);
    ok(lfr_store_deployment_authorise(s, &u.ao2, d2));
    ok(lfr_store_deployment_get(s, &u.op, d2, &d));
    assert_int_equal(d.state, LFR_DEPLOYMENT_AUTHORISED);
    assert_string_equal(d.authorised_by, "ao2");

    /* Start: not before authorisation, not before the window opens. */
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT,
            "deployment.start.refused", "not authorised");
    ok(lfr_store_deployment_authorise(s, &u.ao1, d1));
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT,
            "deployment.start.refused", "cannot start at 2026-11-01T08:00:00.000Z");
    verify_ok(s);

    at("2026-11-01T10:30:00.000Z");
    ok(lfr_store_deployment_start(s, &u.op2, d1));
    ok(lfr_store_deployment_get(s, &u.aud, d1, &d));
    assert_int_equal(d.state, LFR_DEPLOYMENT_RUNNING);
    assert_string_equal(d.started_by, "op2");
    assert_string_equal(d.started_at, "2026-11-01T10:30:00.000Z");
    /* A, C (two images), F; B expired; D removed; E out of the categories. */
    assert_int_equal(d.snapshot_subjects, 3);
    assert_int_equal(d.snapshot_images, 4);
    assert_int_equal(d.snapshot_expired_left_out, 1);
    assert_int_equal(d.snapshot_subjects_by_category[LFR_CATEGORY_WANTED_BY_COURTS], 1);
    assert_int_equal(d.snapshot_by_category[LFR_CATEGORY_WANTED_BY_COURTS], 1);
    assert_int_equal(d.snapshot_subjects_by_category[LFR_CATEGORY_MISSING_AT_RISK], 1);
    assert_int_equal(d.snapshot_by_category[LFR_CATEGORY_MISSING_AT_RISK], 2);
    assert_int_equal(d.snapshot_subjects_by_category[LFR_CATEGORY_SUSPECT], 1);
    assert_int_equal(d.snapshot_by_category[LFR_CATEGORY_SUSPECT], 1);
    assert_int_equal(d.snapshot_by_category[LFR_CATEGORY_VICTIM], 0);
    assert_int_equal(d.snapshot_by_provenance[LFR_PROVENANCE_CUSTODY_IMAGING], 2);
    assert_int_equal(d.snapshot_by_provenance[LFR_PROVENANCE_PUBLIC_APPEAL], 0);
    assert_int_equal(d.snapshot_by_provenance[LFR_PROVENANCE_OTHER_POLICE_SOURCE], 1);
    assert_int_equal(d.snapshot_by_provenance[LFR_PROVENANCE_OTHER], 1);
    assert_string_equal(d.snapshot_model, lfr_engine_model_sha256(g_engine, "embedder"));
    assert_int_equal(strlen(d.snapshot_hash), 64);
    assert_string_equal(d.purged_at, "");

    /* The frozen templates are bitwise the subjects' own. */
    lfr_watchlist *wl;
    ok(lfr_store_deployment_watchlist(s, &u.op, d1, &wl));
    assert_int_equal(wl->n, 4);
    assert_int_equal(wl->deployment_id, d1);
    assert_true(wl->threshold == 0.5);
    int64_t ids[4];
    int64_t expect_subject[4] = {A, C, C, F};
    int64_t expect_image[4] = {image_of(&h, A), 0, 0, image_of(&h, F)};
    assert_int_equal(image_ids(&h, C, ids, 4), 2);
    expect_image[1] = ids[0];
    expect_image[2] = ids[1];
    for (int k = 0; k < 4; k++) {
        int i = wl_find(wl, expect_image[k]);
        assert_true(i >= 0);
        assert_int_equal(wl->subject_ids[i], expect_subject[k]);
        float tpl[2 * LFR_TEMPLATE_DIM];
        int64_t got[2];
        int n = 0;
        ok(lfr_store_subject_templates(s, &u.op, expect_subject[k], tpl, got, 2, &n));
        int j = got[0] == expect_image[k] ? 0 : 1;
        assert_true(j < n && got[j] == expect_image[k]);
        assert_memory_equal(wl->templates + (size_t)i * LFR_TEMPLATE_DIM,
                            tpl + (size_t)j * LFR_TEMPLATE_DIM, LFR_TEMPLATE_DIM * sizeof(float));
    }
    assert_int_equal(wl_find(wl, image_of(&h, B)), -1);
    assert_int_equal(wl_find(wl, image_of(&h, D)), -1);
    assert_int_equal(wl_find(wl, image_of(&h, E)), -1);
    assert_int_equal(count_action(&h, "deployment.watchlist"), 1);

    /* A subject removed after the start stays in the frozen snapshot. */
    ok(lfr_store_subject_remove(s, &u.op, F));
    lfr_watchlist *wl2;
    ok(lfr_store_deployment_watchlist(s, &u.op, d1, &wl2));
    assert_int_equal(wl2->n, wl->n);
    assert_memory_equal(wl2->image_ids, wl->image_ids, (size_t)wl->n * sizeof(int64_t));
    assert_memory_equal(wl2->templates, wl->templates,
                        (size_t)wl->n * LFR_TEMPLATE_DIM * sizeof(float));
    lfr_watchlist_free(wl2);
    assert_int_equal(lfr_store_deployment_watchlist(s, &u.aud, d1, &wl2), LFR_ERR_DENIED);
    assert_null(wl2);
    assert_int_equal(lfr_store_deployment_watchlist(s, &u.op, d2, &wl2), LFR_ERR_CONFLICT);

    /* Counters add up while running, and only then. */
    lfr_counters k = {100, 2, 40, 9, 1, 0};
    ok(lfr_store_counters_add(s, &u.op, d1, "cam-a", &k));
    ok(lfr_store_counters_add(s, &u.op, d1, "cam-a", &k));
    lfr_counters kb = {10, 0, 3, 1, 0, 0};
    ok(lfr_store_counters_add(s, &u.op, d1, "cam-b", &kb));
    assert_int_equal(lfr_store_counters_add(s, &u.op, d2, "cam-a", &k), LFR_ERR_CONFLICT);
    assert_int_equal(lfr_store_counters_add(s, &u.op, d1, "cam-z", &k), LFR_ERR_NOT_FOUND);
    lfr_counters neg = {-1, 0, 0, 0, 0, 0};
    assert_int_equal(lfr_store_counters_add(s, &u.op, d1, "cam-a", &neg), LFR_ERR_INVALID);
    assert_int_equal(lfr_store_counters_add(s, &u.aud, d1, "cam-a", &k), LFR_ERR_DENIED);
    cams cm = {0};
    ok(lfr_store_counters_get(s, &u.aud, d1, on_camera, &cm));
    assert_int_equal(cm.n, 2);
    assert_string_equal(cm.name[0], "cam-a");
    assert_int_equal(cm.c[0].frames, 200);
    assert_int_equal(cm.c[0].frames_dropped, 4);
    assert_int_equal(cm.c[0].detections, 80);
    assert_int_equal(cm.c[0].faces_seen, 18);
    assert_int_equal(cm.c[0].quality_rejects, 2);
    assert_int_equal(cm.c[1].frames, 10);

    /* Alerts: only for an image of the snapshot, a camera of the deployment,
     * a score at or above the threshold. Each refusal is audited. */
    uint8_t crop[3000];
    fill(crop, sizeof crop, 1);
    int64_t imA = image_of(&h, A);
    lfr_alert_params ap = {d1,   "cam-a",    "2026-11-01T10:40:00Z", 7, image_of(&h, B), 0.7,
                           crop, sizeof crop};
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "not in deployment");
    ap.image_id = image_of(&h, E);
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "not in deployment");
    ap.image_id = image_of(&h, D);
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "not in deployment");
    ap.image_id = imA;
    ap.camera = "cam-z";
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "no camera \"cam-z\"");
    ap.camera = "cam-a";
    ap.score = 0.49;
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "below the threshold");
    ap.score = NAN;
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "below the threshold");
    ap.score = 1.5;
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "at most 1");
    ap.score = 0.7;
    ap.time = "yesterday";
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "not ISO-8601");
    ap.time = "2026-11-01T10:40:00Z";
    ap.crop_size = ((size_t)4 << 20) + 1;
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "larger than 4 MiB");
    ap.crop = NULL;
    ap.crop_size = 10;
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_INVALID, "alert.add.refused",
            "without the crop");
    ap.crop = crop;
    ap.crop_size = sizeof crop;
    int64_t a1 = alert(s, &u.op, d1, "cam-a", imA, 0.7, "2026-11-01T10:40:00Z", crop, sizeof crop);
    int64_t a2 = alert(s, &u.op, d1, "cam-b", ids[1], 0.5, NULL, NULL, 0); /* C's second image */
    /* The alert counted on its camera. */
    memset(&cm, 0, sizeof cm);
    ok(lfr_store_counters_get(s, &u.op, d1, on_camera, &cm));
    assert_int_equal(cm.c[0].alerts, 1);
    assert_int_equal(cm.c[1].alerts, 1);

    /* The crop goes in sealed and comes back whole. */
    lfr_alert a;
    uint8_t *back = NULL;
    size_t back_n = 0;
    ok(lfr_store_alert_show(s, &u.aud, a1, &a, &back, &back_n));
    assert_int_equal(back_n, sizeof crop);
    assert_memory_equal(back, crop, sizeof crop);
    free(back);
    char sha[65];
    lfr__sha256_hex(crop, sizeof crop, sha);
    assert_string_equal(a.crop_sha256, sha);
    assert_int_equal(a.has_crop, 1);
    assert_int_equal(a.subject_id, A);
    assert_int_equal(a.image_id, imA);
    assert_string_equal(a.subject_reference, "A");
    assert_int_equal(a.category, LFR_CATEGORY_WANTED_BY_COURTS);
    assert_string_equal(a.time, "2026-11-01T10:40:00.000Z");
    assert_string_equal(a.camera, "cam-a");
    assert_int_equal(a.outcome, LFR_OUTCOME_NOT_ADJUDICATED);
    assert_int_equal(a.engagement, LFR_ENGAGEMENT_NONE);
    assert_string_equal(a.recorded_by, "op");
    ok(lfr_store_alert_show(s, &u.op, a2, &a, &back, &back_n));
    assert_null(back);
    assert_int_equal(a.has_crop, 0);
    assert_string_equal(a.crop_sha256, "");
    assert_string_equal(a.time, "2026-11-01T10:30:00.000Z");
    assert_int_equal(count_action(&h, "alert.show"), 2);

    /* Adjudication, then confirmation after the engagement. */
    REFUSED(&h, lfr_store_alert_adjudicate(s, &u.aud, a1, LFR_OUTCOME_TRUE, 0, NULL),
            LFR_ERR_DENIED, "alert.adjudicate.refused", "may not");
    REFUSED(&h,
            lfr_store_alert_adjudicate(s, &u.op, a1, LFR_OUTCOME_NOT_ADJUDICATED,
                                       LFR_ENGAGEMENT_NONE, NULL),
            LFR_ERR_INVALID, "alert.adjudicate.refused", "outcome");
    REFUSED(&h, lfr_store_alert_adjudicate(s, &u.op, 999, LFR_OUTCOME_TRUE, 0, NULL),
            LFR_ERR_NOT_FOUND, "alert.adjudicate.refused", "no alert 999");
    at("2026-11-01T10:45:00.000Z");
    ok(lfr_store_alert_adjudicate(s, &u.op, a1, LFR_OUTCOME_TRUE, LFR_ENGAGEMENT_SPOKEN_TO,
                                  "stopped at the exit"));
    at("2026-11-01T11:00:00.000Z");
    ok(lfr_store_alert_adjudicate(s, &u.op2, a1, LFR_OUTCOME_CONFIRMED_TRUE,
                                  LFR_ENGAGEMENT_ARRESTED, NULL));
    ok(lfr_store_alert_show(s, &u.op, a1, &a, NULL, NULL));
    assert_int_equal(a.outcome, LFR_OUTCOME_CONFIRMED_TRUE);
    assert_int_equal(a.engagement, LFR_ENGAGEMENT_ARRESTED);
    assert_string_equal(a.note, "stopped at the exit"); /* NULL keeps the note */
    assert_string_equal(a.adjudicated_by, "op2");
    assert_string_equal(a.adjudicated_at, "2026-11-01T11:00:00.000Z");
    ok(lfr_store_alert_adjudicate(s, &u.op, a2, LFR_OUTCOME_FALSE, LFR_ENGAGEMENT_NONE, ""));
    ok(lfr_store_alert_adjudicate(s, &u.op, a2, LFR_OUTCOME_CONFIRMED_FALSE, LFR_ENGAGEMENT_NONE,
                                  NULL));
    ok(lfr_store_alert_show(s, &u.op, a2, &a, NULL, NULL));
    assert_int_equal(a.outcome, LFR_OUTCOME_CONFIRMED_FALSE);
    assert_int_equal(a.engagement, LFR_ENGAGEMENT_NONE);
    assert_int_equal(count_action(&h, "alert.adjudicate"), 4);
    verify_ok(s);

    /* The log published a checkpoint covering the start entry. */
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM log_checkpoints WHERE reason ="
                                   " 'deployment.start' AND size = (SELECT seq FROM audit WHERE"
                                   " action = 'deployment.start')"),
                     1);

    /* Stop: the final counters go into the chain; nothing runs after. */
    at("2026-11-01T12:00:00.000Z");
    ok(lfr_store_deployment_stop(s, &u.op, d1));
    ok(lfr_store_deployment_get(s, &u.op, d1, &d));
    assert_int_equal(d.state, LFR_DEPLOYMENT_STOPPED);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM log_checkpoints WHERE reason ="
                                   " 'deployment.stop' AND size = (SELECT seq FROM audit WHERE"
                                   " action = 'deployment.stop')"),
                     1);
    assert_string_equal(d.stopped_by, "op");
    char detail[2000];
    raw_text(&h, "SELECT detail FROM audit WHERE action = 'deployment.stop'", detail,
             sizeof detail);
    assert_non_null(strstr(detail, "\"name\":\"cam-a\",\"frames\":200,\"frames_dropped\":4,"
                                   "\"detections\":80,\"faces_seen\":18,\"quality_rejects\":2,"
                                   "\"alerts\":1"));
    REFUSED(&h, lfr_store_deployment_stop(s, &u.op, d1), LFR_ERR_CONFLICT,
            "deployment.stop.refused", "not running");
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT,
            "deployment.start.refused", "stopped");
    assert_int_equal(lfr_store_counters_add(s, &u.op, d1, "cam-a", &k), LFR_ERR_CONFLICT);
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_CONFLICT, "alert.add.refused",
            "not running");
    assert_int_equal(lfr_store_deployment_watchlist(s, &u.op, d1, &wl2), LFR_ERR_CONFLICT);

    /* Lists: deployments by window, alerts by deployment, outcome and time. */
    ids_seen l = {0};
    ok(lfr_store_deployment_list(s, &u.aud, "2026-11-01", "2026-11-01", on_deployment, &l));
    assert_int_equal(l.n, 2);
    memset(&l, 0, sizeof l);
    ok(lfr_store_deployment_list(s, &u.aud, "2026-11-01T12:00:00.001Z", NULL, on_deployment, &l));
    assert_int_equal(l.n, 1); /* d1 stopped at 12:00; d2's planned end is 18:00 */
    assert_int_equal(l.id[0], d2);
    memset(&l, 0, sizeof l);
    ok(lfr_store_deployment_list(s, &u.aud, "2026-11-02", NULL, on_deployment, &l));
    assert_int_equal(l.n, 0);
    memset(&l, 0, sizeof l);
    lfr_alert_filter af = {.deployment_id = d1};
    ok(lfr_store_alert_list(s, &u.aud, &af, on_alert, &l));
    assert_int_equal(l.n, 2);
    memset(&l, 0, sizeof l);
    af.outcome = LFR_OUTCOME_CONFIRMED_TRUE;
    ok(lfr_store_alert_list(s, &u.aud, &af, on_alert, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], a1);
    memset(&l, 0, sizeof l);
    lfr_alert_filter at_ = {.from = "2026-11-01T10:35:00Z", .to = "2026-11-01"};
    ok(lfr_store_alert_list(s, &u.aud, &at_, on_alert, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], a1);
    memset(&l, 0, sizeof l);
    af.deployment_id = d2;
    af.outcome = 0;
    ok(lfr_store_alert_list(s, &u.aud, &af, on_alert, &l));
    assert_int_equal(l.n, 0);
    verify_ok(s);
    lfr_watchlist_free(wl);
    lfr_store_close(s);
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

/* ---- Bad input (Must show 4) ---------------------------------------------------------- */

static void test_bad_inputs(void **state)
{
    (void)state;
    at("2026-11-01T08:00:00.000Z");
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    const char *cr = "deployment.create.refused";
    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", 0);
    lfr_deployment_params q = p;
    q.planned_end = "2026-11-01T09:00:00Z";
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "is not after the start");
    q.planned_end = q.planned_start;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "is not after the start");
    q = params("2026-10-01T10:00:00Z", "2026-10-01T18:00:00Z", 0);
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "has already passed");
    q = p;
    q.planned_start = "next tuesday";
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "not an ISO-8601 time");
    const double thresholds[] = {0.0, -0.5, 1.5, NAN};
    for (size_t i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++) {
        q = p;
        q.threshold = thresholds[i];
        REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
                "is not in (0, 1]");
    }
    const double coords[][2] = {{91, 0}, {-90.5, 0}, {0, 180.5}, {0, -181}, {NAN, 0}, {0, NAN}};
    for (size_t i = 0; i < sizeof coords / sizeof coords[0]; i++) {
        q = p;
        q.latitude = coords[i][0];
        q.longitude = coords[i][1];
        REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
                "coordinates");
    }
    q = p;
    q.purpose = "";
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr, "purpose");
    q = p;
    q.location = "Central\nstation";
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "control character");
    q = p;
    q.installation = (lfr_installation)0;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "installation");
    q = p;
    q.categories = 1u << 9;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr, "category");
    q = p;
    q.n_cameras = 0;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr, "cameras");
    lfr_camera same[2] = {{"cam-a", "a"}, {"cam-a", "b"}};
    q.cameras = same;
    q.n_cameras = 2;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr, "used twice");
    lfr_camera bad[1] = {{"north door", "a"}};
    q.cameras = bad;
    q.n_cameras = 1;
    REFUSED(&h, lfr_store_deployment_create(s, &u.op, &q, NULL), LFR_ERR_INVALID, cr,
            "camera name");
    /* Roles without the right. */
    REFUSED(&h, lfr_store_deployment_create(s, &u.aud, &p, NULL), LFR_ERR_DENIED, cr, "may not");
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM deployments"), 0);

    int64_t d1 = create(s, &u.op, &p);
    int64_t d2 = create(s, &u.ao1, &p);
    int64_t d3 = create(s, &u.admin, &p);
    const char *ar = "deployment.authorise.refused", *sr = "deployment.start.refused";
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT, sr, "not authorised");
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.op, d1), LFR_ERR_DENIED, ar, "may not");
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.admin, d1), LFR_ERR_DENIED, ar, "may not");
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.ao1, d2), LFR_ERR_DENIED, ar,
            "cannot also authorise");
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.ao1, 99), LFR_ERR_NOT_FOUND, ar,
            "no deployment 99");
    ok(lfr_store_deployment_authorise(s, &u.ao1, d1));
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.ao2, d1), LFR_ERR_CONFLICT, ar,
            "not awaiting authorisation");
    REFUSED(&h, lfr_store_deployment_start(s, &u.aud, d1), LFR_ERR_DENIED, "deployment.run.refused",
            "may not");
    REFUSED(&h, lfr_store_deployment_start(s, &u.ao2, d1), LFR_ERR_DENIED, "deployment.run.refused",
            "may not");
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT, sr, "cannot start at");
    REFUSED(&h, lfr_store_deployment_stop(s, &u.op, d1), LFR_ERR_CONFLICT,
            "deployment.stop.refused", "not running");
    lfr_alert_params ap = {d1, "cam-a", NULL, 1, 1, 0.9, NULL, 0};
    REFUSED(&h, lfr_store_alert_add(s, &u.op, &ap, NULL), LFR_ERR_CONFLICT, "alert.add.refused",
            "not running");
    REFUSED(&h, lfr_store_alert_add(s, &u.aud, &ap, NULL), LFR_ERR_DENIED, "deployment.run.refused",
            "may not");
    lfr_alert a;
    REFUSED(&h, lfr_store_alert_show(s, &u.aud, 5, &a, NULL, NULL), LFR_ERR_NOT_FOUND,
            "alert.show.refused", "no alert 5");
    REFUSED(&h, lfr_store_retention_run(s, &u.op, NULL), LFR_ERR_DENIED, "retention.run.refused",
            "may not");
    REFUSED(&h, lfr_store_policy_set(s, &u.op, "alert_crop_days", 7), LFR_ERR_DENIED,
            "policy.set.refused", "may not");
    /* After the window: too late to authorise or to start. */
    at("2026-11-01T18:00:00.000Z");
    REFUSED(&h, lfr_store_deployment_authorise(s, &u.ao1, d3), LFR_ERR_CONFLICT, ar, "has passed");
    REFUSED(&h, lfr_store_deployment_start(s, &u.op, d1), LFR_ERR_CONFLICT, sr,
            "it cannot start at 2026-11-01T18:00:00.000Z");
    verify_ok(s);
    lfr_store_close(s);
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

/* ---- Tamper evidence (Must show 2) ---------------------------------------------------- */

/* Subjects 1 (A: obama), 2 (C: lin and alex, images 2 and 3), 3 (G: biden,
 * image 4); deployment 1 (created by op, authorised by ao1, stopped, crops
 * of its alerts 1 and 2 deleted by retention; alert 1 adjudicated twice),
 * deployment 2 (created by ao1, authorised by ao2, running, alert 3 with a
 * crop); alert_crop_days set to 0. */
static void tamper_scenario(home *h)
{
    at("2026-11-01T08:00:00.000Z");
    users u;
    lfr_store *s = populated(h, &u);
    enrol1(s, &u.op, "A", LFR_CATEGORY_WANTED_BY_COURTS, "2099-01-01", g_obama,
           LFR_PROVENANCE_CUSTODY_IMAGING);
    lfr_image_source two[2] = {
        {.path = g_lin, .provenance = LFR_PROVENANCE_OTHER_POLICE_SOURCE},
        {.path = g_alex, .provenance = LFR_PROVENANCE_OTHER},
    };
    enrol(s, &u.op, "C", LFR_CATEGORY_MISSING_AT_RISK, "2099-01-01", two, 2);
    enrol1(s, &u.op, "G", LFR_CATEGORY_SUSPECT, "2099-01-01", g_biden,
           LFR_PROVENANCE_PUBLIC_APPEAL);
    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", 0);
    int64_t d1 = create(s, &u.op, &p), d2 = create(s, &u.ao1, &p);
    assert_true(d1 == 1 && d2 == 2);
    ok(lfr_store_deployment_authorise(s, &u.ao1, d1));
    ok(lfr_store_deployment_authorise(s, &u.ao2, d2));
    at("2026-11-01T10:30:00.000Z");
    ok(lfr_store_deployment_start(s, &u.op, d1));
    ok(lfr_store_deployment_start(s, &u.op2, d2));
    lfr_counters k = {100, 0, 20, 5, 1, 0};
    ok(lfr_store_counters_add(s, &u.op, d1, "cam-a", &k));
    uint8_t crop[1500];
    fill(crop, sizeof crop, 11);
    assert_int_equal(alert(s, &u.op, d1, "cam-a", 1, 0.8, "2026-11-01T10:40:00Z", crop, 1500), 1);
    fill(crop, sizeof crop, 12);
    assert_int_equal(alert(s, &u.op, d1, "cam-b", 2, 0.6, "2026-11-01T10:50:00Z", crop, 1500), 2);
    at("2026-11-01T10:55:00.000Z");
    ok(lfr_store_alert_adjudicate(s, &u.op, 1, LFR_OUTCOME_TRUE, LFR_ENGAGEMENT_SPOKEN_TO,
                                  "spoke to him at the gate"));
    at("2026-11-01T11:00:00.000Z");
    ok(lfr_store_alert_adjudicate(s, &u.op, 1, LFR_OUTCOME_CONFIRMED_TRUE, LFR_ENGAGEMENT_ARRESTED,
                                  NULL));
    at("2026-11-01T11:30:00.000Z");
    ok(lfr_store_deployment_stop(s, &u.op, d1));
    at("2026-11-01T11:40:00.000Z");
    ok(lfr_store_policy_set(s, &u.admin, "alert_crop_days", 0));
    at("2026-11-01T12:00:00.000Z");
    lfr_retention_result res;
    ok(lfr_store_retention_run(s, &u.admin, &res));
    assert_int_equal(res.alert_crops, 2);
    assert_int_equal(res.snapshots, 0);
    at("2026-11-01T12:10:00.000Z");
    fill(crop, sizeof crop, 13);
    assert_int_equal(alert(s, &u.op2, d2, "cam-a", 4, 0.9, NULL, crop, 1500), 3);
    verify_ok(s);
    lfr_store_close(s);
}

typedef struct tamper {
    const char *sql;
    const char *action, *object; /* the entry to be named; NULL: none (first_bad 0) */
    const char *why;             /* in the reason */
} tamper;

static void test_tamper(void **state)
{
    (void)state;
    NEED_ENGINE();
    home h;
    tamper_scenario(&h);
    int64_t adj = seq_of(&h, "alert.adjudicate", "alert:1");
    assert_true(adj > 0);
    char edit_entry[300];
    snprintf(edit_entry, sizeof edit_entry,
             "%s UPDATE audit SET detail ="
             " replace(detail, 'confirmed_true', 'confirmed_false') WHERE seq = %lld",
             tdb_q("DROP TRIGGER audit_no_update;", "DROP TRIGGER audit_no_update ON audit;"),
             (long long)adj);
    const tamper cases[] = {
        /* Alerts: their adjudication, their record, rows added or removed. */
        {"UPDATE alerts SET outcome = 'false' WHERE id = 1", "alert.adjudicate", "alert:1",
         "alert 1"},
        {"UPDATE alerts SET engagement = 'not_stopped' WHERE id = 1", "alert.adjudicate", "alert:1",
         "alert 1"},
        {"UPDATE alerts SET note = 'nothing to see' WHERE id = 1", "alert.adjudicate", "alert:1",
         "alert 1"},
        {"UPDATE alerts SET adjudicated_by = 'op2' WHERE id = 1", "alert.adjudicate", "alert:1",
         "alert 1"},
        {"UPDATE alerts SET outcome = 'not_adjudicated', engagement = 'none', note = '',"
         " adjudicated_by = NULL, adjudicated_at = NULL WHERE id = 1",
         "alert.adjudicate", "alert:1", "alert 1"},
        {"UPDATE alerts SET outcome = 'true' WHERE id = 2", "alert.add", "alert:2", "alert 2"},
        {"UPDATE alerts SET engagement = 'arrested' WHERE id = 3", "alert.add", "alert:3",
         "alert 3"},
        {"UPDATE alerts SET score = 0.99 WHERE id = 2", "alert.add", "alert:2", "alert 2"},
        {"UPDATE alerts SET recorded_by = 'op2' WHERE id = 2", "alert.add", "alert:2", "alert 2"},
        {"UPDATE alerts SET recorded_at = '2026-11-01T10:00:00.000Z' WHERE id = 2", "alert.add",
         "alert:2", "alert 2"},
        {"UPDATE alerts SET crop_file = NULL WHERE id = 3", "alert.add", "alert:3", "alert 3"},
        {"UPDATE alerts SET crop_deleted_at = '2026-11-01T11:00:00.000Z' WHERE id = 1", "alert.add",
         "alert:1", "alert 1"},
        {"INSERT INTO alerts (id, deployment_id, camera, time, track, subject_id, image_id, score,"
         " crop_sha256, recorded_by, recorded_at) SELECT 4, deployment_id, camera, time, track,"
         " subject_id, image_id, score, crop_sha256, recorded_by, recorded_at FROM alerts"
         " WHERE id = 3",
         NULL, NULL, "alert 4 has no audit entry"},
        {"DELETE FROM alerts WHERE id = 2", NULL, NULL, "3 alert.add entries but 2 alerts"},
        {edit_entry, "alert.adjudicate", "alert:1", ""},
        /* Deployments: each step against its entry. */
        {"UPDATE deployments SET purpose = 'something else' WHERE id = 1", "deployment.create",
         "deployment:1", "deployment 1"},
        {"UPDATE deployments SET threshold = 0.3 WHERE id = 1", "deployment.create", "deployment:1",
         "deployment 1"},
        {"UPDATE cameras SET url = 'rtsp://elsewhere' WHERE deployment_id = 1 AND idx = 0",
         "deployment.create", "deployment:1", "deployment 1"},
        {"UPDATE deployments SET authorised_by = 'ao2' WHERE id = 1", "deployment.authorise",
         "deployment:1", "deployment 1"},
        {"UPDATE deployments SET started_at = '2026-11-01T10:00:00.000Z' WHERE id = 1",
         "deployment.start", "deployment:1", "deployment 1"},
        {"UPDATE deployments SET snapshot_images = 3 WHERE id = 2", "deployment.start",
         "deployment:2", "deployment 2"},
        /* The frozen watchlist's rows. */
        {"UPDATE snapshot_images SET sha256 = upper(sha256) WHERE deployment_id = 2 AND idx = 0",
         "deployment.start", "deployment:2", "deployment 2"},
        {"UPDATE snapshot_images SET subject_id = 1 WHERE deployment_id = 2 AND subject_id = 3",
         "deployment.start", "deployment:2", "deployment 2"},
        {"UPDATE snapshot_images SET category = 'victim' WHERE deployment_id = 2 AND idx = 0",
         "deployment.start", "deployment:2", "deployment 2"},
        {"DELETE FROM snapshot_images WHERE deployment_id = 2 AND idx = 3", "deployment.start",
         "deployment:2", "deployment 2"},
        {"UPDATE deployments SET snapshot_file = NULL WHERE id = 2", "deployment.start",
         "deployment:2", "deployment 2"},
        {"UPDATE deployments SET purged_at = '2026-11-01T12:00:00.000Z', snapshot_file = NULL"
         " WHERE id = 1",
         "deployment.start", "deployment:1", "deployment 1"},
        /* An image taken off the watchlist without a removal or a receipt. */
        {"UPDATE images SET deleted_at = '2026-11-01T12:00:00.000Z' WHERE id = 4", "subject.add",
         "subject:G", "subject 3"},
        /* Counters, once stopped; the policy. */
        {"UPDATE cameras SET faces_seen = faces_seen + 1 WHERE deployment_id = 1 AND idx = 0",
         "deployment.stop", "deployment:1", "deployment 1"},
        {"UPDATE cameras SET alerts = 0 WHERE deployment_id = 1 AND idx = 1", "deployment.stop",
         "deployment:1", "deployment 1"},
        {"UPDATE policy SET value = 365 WHERE key = 'alert_crop_days'", "policy.set",
         "policy:alert_crop_days", "policy alert_crop_days"},
        {"DELETE FROM policy", "policy.set", "policy:alert_crop_days", "policy alert_crop_days"},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tamper *t = &cases[i];
        int64_t want = t->action ? seq_of(&h, t->action, t->object) : 0;
        assert_true(!t->action || want > 0);
        home c;
        home_clone(&h, &c);
        lfr_store *s;
        assert_int_equal(lfr_store_open(c.path, &s), LFR_OK);
        verify_ok(s); /* the copy verifies before it is touched */
        lfr_store_close(s);
        raw_sql(&c, t->sql);
        assert_int_equal(lfr_store_open(c.path, &s), LFR_OK);
        lfr_audit_verdict v;
        int rc = lfr_audit_verify(s, &v);
        lfr_store_close(s);
        if (rc != LFR_ERR_TAMPERED || v.first_bad != (uint64_t)want || !strstr(v.reason, t->why)) {
            print_error("case %zu (%s): %s, entry %llu (want %lld): %s\n", i, t->sql,
                        lfr_strerror(rc), (unsigned long long)v.first_bad, (long long)want,
                        v.reason);
            failures++;
        }
        home_remove(&c);
    }
    assert_int_equal(failures, 0);
    home_remove(&h);
    unsetenv("LFR_FAKE_NOW");
}

/* ---- Retention ------------------------------------------------------------------------- */

/* Run retention and check that an immediate rerun deletes nothing and
 * changes no record (only its own retention.run entry is added). */
static lfr_retention_result retain(const home *h, lfr_store *s, const lfr_user *admin)
{
    lfr_retention_result r, again;
    ok(lfr_store_retention_run(s, admin, &r));
    verify_ok(s);
    char *before = fingerprint(h);
    int64_t n = audit_count(h);
    ok(lfr_store_retention_run(s, admin, &again));
    char *after = fingerprint(h);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(audit_count(h), n + 1);
    assert_true(again.alert_crops == 0 && again.snapshots == 0 && again.snapshot_images == 0 &&
                again.subject_images == 0 && again.subjects == 0 && again.orphans == 0);
    verify_ok(s);
    return r;
}

static void media_of(const home *h, const char *sql, char out[65])
{
    raw_text(h, sql, out, 65);
    assert_int_equal(strlen(out), 32);
}

static void test_retention(void **state)
{
    (void)state;
    NEED_ENGINE();
    at("2026-11-01T08:00:00.000Z");
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    int64_t A = enrol1(s, &u.op, "A", LFR_CATEGORY_WANTED_BY_COURTS, "2099-01-01", g_obama,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    int64_t B = enrol1(s, &u.op, "B", LFR_CATEGORY_SUSPECT, "2026-11-05", g_biden,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    enrol1(s, &u.op, "C", LFR_CATEGORY_VICTIM, "2099-01-01", g_lin, LFR_PROVENANCE_OTHER);
    lfr_policy pol;
    ok(lfr_store_policy_get(s, &pol));
    assert_true(pol.alert_crop_days == 31 && pol.snapshot_purge_hours == 24 &&
                pol.expired_subject_days == 0);
    assert_string_equal(pol.set_by, "");

    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", 0);
    int64_t d1 = create(s, &u.op, &p), d2 = create(s, &u.op, &p);
    ok(lfr_store_deployment_authorise(s, &u.ao1, d1));
    ok(lfr_store_deployment_authorise(s, &u.ao1, d2));
    at("2026-11-01T10:30:00.000Z");
    ok(lfr_store_deployment_start(s, &u.op, d1));
    ok(lfr_store_deployment_start(s, &u.op, d2)); /* never stopped */
    uint8_t crop[2000];
    fill(crop, sizeof crop, 21);
    at("2026-11-01T11:00:00.000Z");
    int64_t a1 = alert(s, &u.op, d1, "cam-a", image_of(&h, A), 0.8, "2026-11-01T11:00:00Z", crop,
                       sizeof crop);
    char crop1_sha[65];
    lfr__sha256_hex(crop, sizeof crop, crop1_sha);
    fill(crop, sizeof crop, 22);
    at("2026-11-01T12:00:00.000Z");
    int64_t a2 = alert(s, &u.op, d1, "cam-b", image_of(&h, B), 0.7, NULL, crop, sizeof crop);
    at("2026-11-01T12:30:00.000Z");
    int64_t a3 = alert(s, &u.op, d1, "cam-b", image_of(&h, A), 0.9, NULL, NULL, 0);
    /* Captured "in 2027" by a camera whose clock is wrong; recorded at 12:40. */
    fill(crop, sizeof crop, 23);
    at("2026-11-01T12:40:00.000Z");
    int64_t a4 = alert(s, &u.op, d1, "cam-a", image_of(&h, A), 0.9, "2027-06-01T00:00:00Z", crop,
                       sizeof crop);
    ok(lfr_store_alert_adjudicate(s, &u.op, a1, LFR_OUTCOME_TRUE, LFR_ENGAGEMENT_ARRESTED, "ok"));
    at("2026-11-01T17:00:00.000Z");
    ok(lfr_store_deployment_stop(s, &u.op, d1));
    char crop1[65], crop2[65], snap1[65], snap2[65], imgB[65], imgA[65];
    media_of(&h, "SELECT crop_file FROM alerts WHERE id = 1", crop1);
    media_of(&h, "SELECT crop_file FROM alerts WHERE id = 2", crop2);
    char crop4[65];
    media_of(&h, "SELECT crop_file FROM alerts WHERE id = 4", crop4);
    media_of(&h, "SELECT snapshot_file FROM deployments WHERE id = 1", snap1);
    media_of(&h, "SELECT snapshot_file FROM deployments WHERE id = 2", snap2);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT media_file FROM images WHERE subject_id = %lld",
             (long long)B);
    media_of(&h, sql, imgB);
    snprintf(sql, sizeof sql, "SELECT media_file FROM images WHERE subject_id = %lld",
             (long long)A);
    media_of(&h, sql, imgA);
    lfr_deployment d;
    ok(lfr_store_deployment_get(s, &u.op, d1, &d));
    lfr_deployment before1 = d;

    /* The policy: only an administrator, audited with old and new values. */
    at("2026-11-01T17:10:00.000Z");
    ok(lfr_store_policy_set(s, &u.admin, "alert_crop_days", 10));
    assert_int_equal(lfr_store_policy_set(s, &u.admin, "alert_crop_days", -1), LFR_ERR_INVALID);
    assert_int_equal(lfr_store_policy_set(s, &u.admin, "alert_crop_hours", 1), LFR_ERR_INVALID);
    ok(lfr_store_policy_get(s, &pol));
    assert_int_equal(pol.alert_crop_days, 10);
    assert_string_equal(pol.set_by, "admin");
    assert_string_equal(pol.set_at, "2026-11-01T17:10:00.000Z");
    char detail[400];
    raw_text(&h, "SELECT detail FROM audit WHERE action = 'policy.set'", detail, sizeof detail);
    assert_string_equal(detail, "{\"value\":10,\"previous\":31}");

    /* An hour after the stop: nothing is due. */
    at("2026-11-01T18:00:00.000Z");
    lfr_retention_result r = retain(&h, s, &u.admin);
    assert_true(r.alert_crops == 0 && r.snapshots == 0 && r.subject_images == 0 && r.orphans == 0);
    assert_int_equal(count_action(&h, "retention.delete"), 0);
    assert_int_equal(media_count(&h), 3 + 2 + 3); /* images, snapshots, crops */

    /* 24 hours after the stop: deployment 1's snapshot goes; deployment 2,
     * never stopped, ended at its planned end, a little later. */
    at("2026-11-02T17:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.snapshots, 1);
    assert_int_equal(r.snapshot_images, 3);
    assert_false(media_exists(&h, snap1));
    assert_true(media_exists(&h, snap2));
    ok(lfr_store_deployment_get(s, &u.op, d1, &d));
    assert_string_equal(d.purged_at, "2026-11-02T17:00:00.000Z");
    assert_int_equal(d.snapshot_images, before1.snapshot_images);
    assert_int_equal(d.snapshot_subjects, before1.snapshot_subjects);
    assert_memory_equal(d.snapshot_by_category, before1.snapshot_by_category,
                        sizeof d.snapshot_by_category);
    assert_memory_equal(d.snapshot_by_provenance, before1.snapshot_by_provenance,
                        sizeof d.snapshot_by_provenance);
    assert_string_equal(d.snapshot_hash, before1.snapshot_hash);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM snapshot_images WHERE deployment_id = 1"),
                     3);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'retention.delete' AND object ="
             " 'deployment:1' AND detail LIKE '%%\"n\":3,\"snapshot_hash\":\"%s\"%%'",
             before1.snapshot_hash);
    assert_int_equal(raw_count(&h, sql), 1);
    at("2026-11-02T18:00:00.000Z");
    lfr_watchlist *wl = NULL;
    ok(lfr_store_deployment_watchlist(s, &u.op, d2, &wl));
    lfr_watchlist_free(wl);
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.snapshots, 1);
    assert_false(media_exists(&h, snap2));
    ok(lfr_store_deployment_get(s, &u.op, d2, &d));
    assert_int_equal(d.state, LFR_DEPLOYMENT_RUNNING);
    assert_int_not_equal(d.purged_at[0], 0);
    assert_int_equal(lfr_store_deployment_watchlist(s, &u.op, d2, &wl), LFR_ERR_CONFLICT);
    assert_null(wl);
    ok(lfr_store_deployment_stop(s, &u.op, d2));

    /* B expired at the end of 5 November: by default its image would go at
     * once; with two days' grace, set now, it goes on the 8th. */
    at("2026-11-05T23:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.subject_images, 0);
    ok(lfr_store_policy_set(s, &u.admin, "expired_subject_days", 2));
    at("2026-11-06T00:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.subject_images, 0);
    at("2026-11-07T12:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.subject_images, 0);
    assert_true(media_exists(&h, imgB));
    at("2026-11-08T00:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.subjects, 1);
    assert_int_equal(r.subject_images, 1);
    assert_false(media_exists(&h, imgB));
    assert_true(media_exists(&h, imgA));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM images WHERE subject_id = %lld AND deleted_at"
             " = '2026-11-08T00:00:00.000Z'",
             (long long)B);
    assert_int_equal(raw_count(&h, sql), 1);
    char shaB[65];
    snprintf(sql, sizeof sql, "SELECT sha256 FROM images WHERE subject_id = %lld", (long long)B);
    raw_text(&h, sql, shaB, sizeof shaB);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'retention.delete' AND object ="
             " 'subject:%lld' AND detail LIKE '%%\"n\":1,\"sha256\":[\"%s\"]%%'",
             (long long)B, shaB);
    assert_int_equal(raw_count(&h, sql), 1);

    /* Crops: older than 10 days (the policy set above; 31 by default) go;
     * the alert keeps its hashes and outcome. */
    lfr_alert a;
    at("2026-11-11T11:00:00.000Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.alert_crops, 0);
    at("2026-11-11T11:00:00.001Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.alert_crops, 1);
    assert_false(media_exists(&h, crop1));
    assert_true(media_exists(&h, crop2));
    uint8_t *back = (uint8_t *)1;
    size_t back_n = 1;
    ok(lfr_store_alert_show(s, &u.op, a1, &a, &back, &back_n));
    assert_null(back);
    assert_int_equal(back_n, 0);
    assert_int_equal(a.has_crop, 0);
    assert_string_equal(a.crop_sha256, crop1_sha);
    assert_string_equal(a.crop_deleted_at, "2026-11-11T11:00:00.001Z");
    assert_int_equal(a.outcome, LFR_OUTCOME_TRUE);
    assert_int_equal(a.engagement, LFR_ENGAGEMENT_ARRESTED);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'retention.delete' AND object = 'alerts'"
             " AND detail LIKE '%%\"n\":1,\"alerts\":[%lld],\"sha256\":[\"%s\"]%%'",
             (long long)a1, crop1_sha);
    assert_int_equal(raw_count(&h, sql), 1);
    /* The future-dated crop counts from when it was recorded. */
    at("2026-11-11T12:40:00.001Z");
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.alert_crops, 2);
    assert_false(media_exists(&h, crop2));
    assert_false(media_exists(&h, crop4));
    ok(lfr_store_alert_show(s, &u.op, a4, &a, NULL, NULL));
    assert_string_equal(a.crop_deleted_at, "2026-11-11T12:40:00.001Z");
    ok(lfr_store_alert_show(s, &u.op, a2, &a, NULL, NULL));
    assert_int_equal(a.has_crop, 0);
    ok(lfr_store_alert_show(s, &u.op, a3, &a, NULL, NULL));
    assert_string_equal(a.crop_deleted_at, "");

    /* A kill between a commit and the unlinks leaves files no row names
     * (made here by putting deleted files back): the next run sweeps them
     * once they are an hour old, and keeps live files. */
    const char *gone[3] = {crop1, snap1, imgB};
    for (int i = 0; i < 3; i++)
        tdb_media_plant(h.path, gone[i], "sealed", 6, 7200);
    /* young: may be an enrolment in progress */
    tdb_media_plant(h.path, "0123456789abcdef0123456789abcdef", "sealed", 6, 0);
    tdb_media_age(h.path, imgA, 7200); /* old but live */
    r = retain(&h, s, &u.admin);
    assert_int_equal(r.orphans, 3);
    for (int i = 0; i < 3; i++)
        assert_false(media_exists(&h, gone[i]));
    assert_true(media_exists(&h, "0123456789abcdef0123456789abcdef"));
    assert_true(media_exists(&h, imgA));
    lfr__media_unlink(s, "0123456789abcdef0123456789abcdef");
    char receipt[600];
    raw_text(&h,
             "SELECT detail FROM audit WHERE action = 'retention.run' AND detail LIKE"
             " '%\"orphan_files\":3%'",
             receipt, sizeof receipt);
    assert_non_null(strstr(receipt, "\"alert_crop_days\":10,\"snapshot_purge_hours\":24,"
                                    "\"expired_subject_days\":2"));
    assert_int_equal(count_action(&h, "policy.set"), 2);
    assert_int_equal(count_action(&h, "retention.delete"), 5);
    verify_ok(s);
    lfr_store_close(s);
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

/* Every name a live row holds is a file in media/ (a file unlinked before
 * its row's deletion committed would break this); with `exact`, the folder
 * holds nothing else. */
typedef struct live_names {
    const home *h;
    int n;
} live_names;

static void on_live_name(int n, const char **v, void *ctx)
{
    live_names *l = ctx;
    assert_int_equal(n, 1);
    if (!media_exists(l->h, v[0])) print_error("live row names missing file %s\n", v[0]);
    assert_true(media_exists(l->h, v[0]));
    l->n++;
}

static void media_matches_rows(const home *h, int exact)
{
    live_names l = {h, 0};
    assert_int_equal(
        tdb_try(h->path,
                "SELECT media_file FROM images WHERE deleted_at IS NULL UNION ALL"
                " SELECT snapshot_file FROM deployments WHERE snapshot_file IS NOT NULL"
                " UNION ALL SELECT crop_file FROM alerts WHERE crop_file IS NOT NULL",
                0, NULL, on_live_name, &l, NULL, 0),
        0);
    if (exact) assert_int_equal(media_count(h), l.n);
}

/* The database is whole: SQLite's integrity check; on PostgreSQL, whose
 * server a killed client cannot corrupt, every table and index read. */
static void integrity_ok(const home *h)
{
    char r[64];
    raw_text(h,
             tdb_q("PRAGMA integrity_check",
                   "SELECT CASE WHEN (SELECT count(*) FROM alerts) + (SELECT count(*) FROM"
                   " deployments) + (SELECT count(*) FROM images) + (SELECT count(*) FROM media)"
                   " + (SELECT count(*) FROM audit) >= 0 THEN 'ok' END"),
             r, sizeof r);
    assert_string_equal(r, "ok");
}

/* Retention killed (SIGKILL) at random points, again and again, until a
 * run completes: after every kill the database is whole, the chain
 * verifies, and every row that still names a file has it; at the end the
 * totals are those of one run, and files the kills left behind are swept
 * once they are an hour old. */
static void test_retention_killed(void **state)
{
    (void)state;
    NEED_ENGINE();
    at("2026-11-01T08:00:00.000Z");
    home h;
    users u;
    lfr_store *s = populated(&h, &u);
    const char *stills[4] = {g_obama, g_biden, g_lin, g_alex};
    int64_t img[4];
    for (int i = 0; i < 4; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "X%d", i);
        int64_t id = enrol1(s, &u.op, ref, LFR_CATEGORY_SUSPECT, "2026-11-02", stills[i],
                            LFR_PROVENANCE_CUSTODY_IMAGING);
        img[i] = image_of(&h, id);
    }
    enum { N_DEP = 4, N_ALERTS = 120 };
    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", 0);
    int64_t dep[N_DEP];
    /* The clock only moves forward: entry times may not go back. */
    at("2026-11-01T08:00:00.000Z");
    for (int i = 0; i < N_DEP; i++) {
        dep[i] = create(s, &u.op, &p);
        ok(lfr_store_deployment_authorise(s, &u.ao1, dep[i]));
    }
    at("2026-11-01T10:30:00.000Z");
    for (int i = 0; i < N_DEP; i++)
        ok(lfr_store_deployment_start(s, &u.op, dep[i]));
    uint8_t crop[800];
    for (int i = 0; i < N_ALERTS; i++) {
        fill(crop, sizeof crop, (uint32_t)(100 + i));
        alert(s, &u.op, dep[i % N_DEP], "cam-a", img[i % 4], 0.8, NULL, crop, sizeof crop);
    }
    at("2026-11-01T17:00:00.000Z");
    for (int i = 0; i < N_DEP; i++)
        ok(lfr_store_deployment_stop(s, &u.op, dep[i]));
    ok(lfr_store_policy_set(s, &u.admin, "alert_crop_days", 2));
    lfr_store_close(s);
    media_matches_rows(&h, 1);

    /* Everything is due: crops (2 days), snapshots (24 h), the four
     * expired subjects' images. */
    at("2026-11-05T12:00:00.000Z");
    int kills = 0, partial = 0, done = 0;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 60 && !done; round++) {
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(go[0]);
            lfr_store *cs;
            lfr_user me;
            if (lfr_store_open(h.path, &cs) || lfr_store_login(cs, "admin", PW, &me)) _exit(2);
            if (write(go[1], "g", 1) != 1) _exit(2);
            _exit(lfr_store_retention_run(cs, &me, NULL) ? 3 : 0);
        }
        close(go[1]);
        char c;
        assert_int_equal(read(go[0], &c, 1), 1);
        close(go[0]);
        /* Early rounds kill soon after the start; later ones let it run
         * longer, so that every phase is hit and a run finally completes. */
        usleep((useconds_t)(rand() % (1000 << (round / 3 < 12 ? round / 3 : 12))));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) {
            assert_int_equal(WEXITSTATUS(status), 0);
            done = 1;
        } else {
            kills++;
            int64_t n = count_action(&h, "retention.delete");
            if (n > 0 && n < 1 + N_DEP + 4) partial++;
        }
        integrity_ok(&h);
        media_matches_rows(&h, 0);
        assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
        verify_ok(s);
        lfr_store_close(s);
    }
    assert_true(done);
    print_message("retention killed %d times (%d part-way through its deletions) before a run"
                  " completed\n",
                  kills, partial);

    /* Whatever the kills did, the records end as one run leaves them. */
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM alerts WHERE crop_file IS NULL AND"
                                   " crop_deleted_at IS NOT NULL"),
                     N_ALERTS);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM deployments WHERE purged_at IS NOT NULL"
                                   " AND snapshot_file IS NULL"),
                     N_DEP);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM images WHERE deleted_at IS NULL"), 0);
    /* Each crop, snapshot and image in exactly one receipt. */
    assert_int_equal(raw_count(&h, tdb_q("SELECT coalesce(sum(json_extract(detail, '$.n')), 0) FROM"
                                         " audit WHERE action = 'retention.delete' AND object ="
                                         " 'alerts'",
                                         "SELECT coalesce(sum((detail::json->>'n')::int), 0) FROM"
                                         " audit WHERE action = 'retention.delete' AND object ="
                                         " 'alerts'")),
                     N_ALERTS);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'retention.delete'"
                                   " AND object LIKE 'deployment:%'"),
                     N_DEP);
    assert_int_equal(raw_count(&h, "SELECT count(*) FROM audit WHERE action = 'retention.delete'"
                                   " AND object LIKE 'subject:%'"),
                     4);
    /* Files the kills left behind go once they are an hour old. */
    tdb_media_age(h.path, NULL, 7200);
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    lfr_retention_result r;
    ok(lfr_store_retention_run(s, &u.admin, &r));
    assert_true(r.alert_crops == 0 && r.snapshots == 0 && r.subject_images == 0);
    media_matches_rows(&h, 1);
    assert_int_equal(media_count(&h), 0);
    verify_ok(s);
    lfr_store_close(s);
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

/* ---- No plaintext (Must show 5) --------------------------------------------------------- */

typedef struct needle {
    const uint8_t *p;
    size_t n;
    const char *what;
} needle;

static needle g_needles[16];
static int g_n_needles, g_hits, g_files, g_quiet;
static time_t g_since; /* 0: every file; else only files changed since */

static int scan_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || !S_ISREG(sb->st_mode) || (g_since && sb->st_mtime < g_since)) return 0;
    if (sb->st_size > (off_t)256 << 20) return 0;
    uint8_t *b;
    size_t n;
    if (lfr__read_file(path, (size_t)256 << 20, &b, &n) != LFR_OK) return 0; /* not ours */
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

static int scan(const char *dir, time_t since)
{
    g_hits = g_files = 0;
    g_since = since;
    nftw(dir, scan_file, 16, FTW_PHYS);
    return g_hits;
}

/* On PostgreSQL, the server's files of the home's database and its
 * write-ahead log. */
static int scan_server(const home *h)
{
    g_hits = g_files = 0;
    g_since = 0;
    if (tdb_server_scan(h->path, scan_file)) assert_true(g_files > 0);
    return g_hits;
}

static void test_no_plaintext(void **state)
{
    (void)state;
    NEED_ENGINE();
    time_t t0 = time(NULL) - 1;
    const char *ambient = test_env("TMPDIR", "/tmp");
    char *saved_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    /* The library runs with a temporary folder of this test's own, so that
     * everything it could put there is scanned. */
    home h;
    home_dir(&h);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/tmp", h.dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    setenv("TMPDIR", tmp, 1);
    assert_int_equal(tdb_init(h.path), LFR_OK);
    lfr_store *s;
    assert_int_equal(lfr_store_open(h.path, &s), LFR_OK);
    users u;
    user(s, NULL, "admin", LFR_ROLE_ADMINISTRATOR, &u.admin);
    user(s, &u.admin, "op", LFR_ROLE_OPERATOR, &u.op);
    user(s, &u.admin, "ao1", LFR_ROLE_AUTHORISING_OFFICER, &u.ao1);

    at("2026-11-01T08:00:00.000Z");
    int64_t A = enrol1(s, &u.op, "A", LFR_CATEGORY_WANTED_BY_COURTS, "2099-01-01", g_obama,
                       LFR_PROVENANCE_CUSTODY_IMAGING);
    int64_t C = enrol1(s, &u.op, "C", LFR_CATEGORY_SUSPECT, "2026-11-03", g_lin,
                       LFR_PROVENANCE_PUBLIC_APPEAL);
    lfr_deployment_params p = params("2026-11-01T10:00:00Z", "2026-11-01T18:00:00Z", 0);
    int64_t d1 = create(s, &u.op, &p);
    ok(lfr_store_deployment_authorise(s, &u.ao1, d1));
    at("2026-11-01T10:30:00.000Z");
    ok(lfr_store_deployment_start(s, &u.op, d1));
    /* Crops unique to this run. */
    static uint8_t crops[3][5000];
    for (int i = 0; i < 3; i++)
        fill(crops[i], sizeof crops[i], (uint32_t)(getpid() * 7 + i + (uint32_t)t0));
    alert(s, &u.op, d1, "cam-a", image_of(&h, A), 0.8, NULL, crops[0], sizeof crops[0]);
    alert(s, &u.op, d1, "cam-b", image_of(&h, C), 0.6, NULL, crops[1], sizeof crops[1]);
    int64_t a3 = alert(s, &u.op, d1, "cam-b", image_of(&h, A), 0.9, NULL, crops[2], 4000);
    ok(lfr_store_alert_adjudicate(s, &u.op, a3, LFR_OUTCOME_FALSE, LFR_ENGAGEMENT_NONE, NULL));
    lfr_watchlist *wl;
    ok(lfr_store_deployment_watchlist(s, &u.op, d1, &wl));
    assert_int_equal(wl->n, 2);
    static float tpl[2][LFR_TEMPLATE_DIM];
    memcpy(tpl, wl->templates, sizeof tpl);
    lfr_watchlist_free(wl);
    at("2026-11-01T17:00:00.000Z");
    ok(lfr_store_deployment_stop(s, &u.op, d1));

    g_n_needles = 0;
    for (int i = 0; i < 3; i++) {
        g_needles[g_n_needles++] = (needle){crops[i] + 16, 48, "crop bytes (start)"};
        g_needles[g_n_needles++] = (needle){crops[i] + 2500, 48, "crop bytes (middle)"};
    }
    for (int i = 0; i < 2; i++) {
        g_needles[g_n_needles++] = (needle){(const uint8_t *)tpl[i], 32, "template (start)"};
        g_needles[g_n_needles++] = (needle){(const uint8_t *)(tpl[i] + 100), 32, "template (mid)"};
    }
    /* While the snapshot and every crop exist (the store open, its WAL
     * included), then after retention deleted some. */
    assert_int_equal(scan(h.dir, 0), 0);
    /* lfr.db, key, audit.head, 2 images, snapshot, 3 crops; or key,
     * audit.head, database and the server's files */
    assert_true(g_files >= (tdb_pg() ? 3 : 8));
    assert_int_equal(scan_server(&h), 0);
    at("2026-11-04T12:00:00.000Z");
    ok(lfr_store_policy_set(s, &u.admin, "alert_crop_days", 1));
    lfr_retention_result r;
    ok(lfr_store_retention_run(s, &u.admin, &r));
    assert_true(r.snapshots == 1 && r.alert_crops == 3 && r.subject_images == 1);
    assert_int_equal(scan(h.dir, 0), 0);
    lfr_store_close(s);
    assert_int_equal(scan(h.dir, 0), 0);
    assert_true(g_files >= (tdb_pg() ? 3 : 4));
    assert_int_equal(scan_server(&h), 0);
    /* The shared temporary folder: files changed while this test ran, for
     * the crops (which exist nowhere else). */
    int keep = g_n_needles;
    g_n_needles = 6;
    assert_int_equal(scan(ambient, t0), 0);
    g_n_needles = keep;

    /* Sanity: the scan does find the bytes where they are. */
    char copy[800];
    snprintf(copy, sizeof copy, "%s/plain.bin", tmp);
    FILE *f = fopen(copy, "wb");
    assert_non_null(f);
    fwrite(tpl, 1, sizeof tpl, f);
    fwrite(crops, 1, sizeof crops, f);
    fclose(f);
    g_quiet = 1;
    assert_int_equal(scan(h.dir, 0), g_n_needles);
    g_quiet = 0;
    if (saved_tmp) {
        setenv("TMPDIR", saved_tmp, 1);
        free(saved_tmp);
    } else {
        unsetenv("TMPDIR");
    }
    unsetenv("LFR_FAKE_NOW");
    home_remove(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_tamper),           cmocka_unit_test(test_retention),
        cmocka_unit_test(test_retention_killed), cmocka_unit_test(test_no_plaintext),
    };
    int skip = tdb_skip("test_deploy");
    if (skip) return skip;
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
