/*
 * Tests of the bias-evaluation parts of src/eval: the manifest parser (good
 * text, and malformed text with the line named), the drawing of comparisons
 * from a manifest, the demographic differentials on small sets whose
 * answers are worked out by hand in the comments (ties at the threshold,
 * all-genuine, all-impostor, empty groups, the "not estimable" rule, a
 * bootstrap with a known answer), the template cache (round trip, a record
 * cut short, mode 0600, another model's key), and the LFW converter on the
 * real data when LFR_DATA has it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/cache.h"
#include "eval/diff.h"
#include "eval/eval.h"
#include "eval/html.h"
#include "eval/manifest.h"

static int parse(const char *text, lfr__manifest *m)
{
    return lfr__manifest_parse(text, strlen(text), "t.tsv", m);
}

/* ---- Manifests --------------------------------------------------------------------- */

static void test_manifest_good(void **state)
{
    (void)state;
    lfr__manifest m;
    const char *text = "# a comment\n"
                       "path\tidentity\tsex\trace\r\n"
                       "\n"
                       "b/b_1.jpg\tbob\tmale\tx\n"
                       "a/a_1.jpg\talice\tfemale\n" /* trailing label left off */
                       "a/a 2.jpg\talice\t\ty\n"    /* empty sex, a space in the path */
                       "c/c_1.jpg\tcarol\tfemale\tx";
    assert_int_equal(parse(text, &m), LFR_OK);
    assert_int_equal(m.n_images, 4);
    assert_int_equal(m.n_identities, 3);
    assert_string_equal(m.identity_name[0], "alice");
    assert_string_equal(m.identity_name[m.identity[0]], "bob");
    assert_int_equal(m.identity[1], m.identity[2]);
    assert_int_equal(m.n_columns, 2);
    int sex = lfr__manifest_column(&m, "sex"), race = lfr__manifest_column(&m, "race");
    assert_int_equal(sex, 0);
    assert_int_equal(race, 1);
    assert_int_equal(lfr__manifest_column(&m, "age"), -1);
    assert_int_equal(m.n_values[sex], 2);
    assert_string_equal(m.value[sex][m.label[sex][0]], "male");
    assert_int_equal(m.label[sex][2], -1);
    assert_int_equal(m.label[race][1], -1);
    assert_string_equal(m.value[race][m.label[race][2]], "y");
    assert_int_equal(lfr__manifest_find(&m, "a/a 2.jpg"), 2);
    assert_int_equal(lfr__manifest_find(&m, "c/c_1.jpg"), 3);
    assert_int_equal(lfr__manifest_find(&m, "nope"), -1);
    assert_int_equal(m.sha256_column, -1);
    /* The fingerprint is the sha256 of the bytes: one byte more changes it. */
    char sha[65];
    memcpy(sha, m.sha256, 65);
    assert_int_equal(strlen(sha), 64);
    lfr__manifest_free(&m);
    lfr__manifest_free(&m); /* twice is fine */
    char *t2 = malloc(strlen(text) + 2);
    snprintf(t2, strlen(text) + 2, "%s\n", text);
    assert_int_equal(parse(t2, &m), LFR_OK);
    assert_string_not_equal(m.sha256, sha);
    lfr__manifest_free(&m);
    free(t2);
    /* Empty text. */
    assert_int_equal(lfr__manifest_parse("path\tidentity\nx\ty\n", 0, "e", &m), LFR_ERR_FORMAT);
}

static void expect_error(const char *text, const char *where)
{
    lfr__manifest m;
    int rc = parse(text, &m);
    if (rc != LFR_ERR_FORMAT || !strstr(lfr_errmsg(), where)) {
        print_error("text <<%s>>: rc %d, message \"%s\", expected \"%s\"\n", text, rc, lfr_errmsg(),
                    where);
        fail();
    }
    assert_null(m.path);
}

static void test_manifest_bad(void **state)
{
    (void)state;
    expect_error("", "no header");
    expect_error("# only a comment\n", "no header");
    expect_error("file\tidentity\nx\ty\n", "t.tsv:1: the header");
    expect_error("path\tidentity\n", "no images");
    expect_error("path\tidentity\tsex\tsex\nx\ty\n", "t.tsv:1: column \"sex\" appears twice");
    expect_error("path\tidentity\ts x\n", "t.tsv:1: \"s x\" is not a column name");
    expect_error("path\tidentity\n\na\tb\tc\n", "t.tsv:3: 3 fields, the header has 2");
    expect_error("path\tidentity\na\n", "t.tsv:2: needs at least a path and an identity");
    expect_error("path\tidentity\na\t\n", "t.tsv:2: empty identity");
    expect_error("path\tidentity\n../etc/passwd\tx\n", "t.tsv:2:");
    expect_error("path\tidentity\na/../../b\tx\n", "t.tsv:2:");
    expect_error("path\tidentity\na\tx\na\ty\n", "image \"a\" is listed twice");
    expect_error("path\tidentity\na\tx\x01y\n", "t.tsv:2: control character");
    expect_error("path\tidentity\tsha256\na\tx\tABC\n", "t.tsv:2: sha256");
    char big[3000];
    memset(big, 'a', sizeof big);
    memcpy(big, "path\tidentity\n", 14);
    big[sizeof big - 3] = '\t';
    big[sizeof big - 2] = 'x';
    big[sizeof big - 1] = 0;
    expect_error(big, "t.tsv:2: field 1 longer");
    /* A NUL inside the text. */
    lfr__manifest m;
    assert_int_equal(lfr__manifest_parse("path\tidentity\na\0\tx\n", 19, "t.tsv", &m),
                     LFR_ERR_FORMAT);
}

/* ---- Comparisons --------------------------------------------------------------------- */

static void test_comparisons(void **state)
{
    (void)state;
    lfr__manifest m;
    /* a: 3 images, b: 2, c: 1 -> 3 + 1 genuine pairs. */
    assert_int_equal(parse("path\tidentity\n"
                           "a1\ta\na2\ta\na3\ta\nb1\tb\nb2\tb\nc1\tc\n",
                           &m),
                     LFR_OK);
    lfr__eval_comparisons c;
    assert_int_equal(lfr__eval_comparisons_sample(&m, 0, 50, 7, &c), LFR_OK);
    assert_int_equal(c.n, 54);
    size_t gen = 0;
    for (size_t k = 0; k < c.n; k++) {
        int same_id = m.identity[c.a[k]] == m.identity[c.b[k]];
        assert_int_equal(same_id, c.same[k]);
        assert_true(c.a[k] != c.b[k]);
        gen += c.same[k];
    }
    assert_int_equal(gen, 4);
    /* Deterministic from the seed. */
    lfr__eval_comparisons c2;
    assert_int_equal(lfr__eval_comparisons_sample(&m, 0, 50, 7, &c2), LFR_OK);
    assert_memory_equal(c.a, c2.a, c.n * sizeof *c.a);
    assert_memory_equal(c.b, c2.b, c.n * sizeof *c.b);
    lfr__eval_comparisons_free(&c2);
    lfr__eval_comparisons_free(&c);
    /* A cap of 2 genuine pairs per identity: a gives 2 of its 3. */
    assert_int_equal(lfr__eval_comparisons_sample(&m, 2, 0, 1, &c), LFR_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.a[0] != c.a[1] || c.b[0] != c.b[1]);
    lfr__eval_comparisons_free(&c);
    lfr__manifest_free(&m);
    /* One identity cannot give impostors. */
    assert_int_equal(parse("path\tidentity\na1\ta\na2\ta\n", &m), LFR_OK);
    assert_int_equal(lfr__eval_comparisons_sample(&m, 0, 5, 1, &c), LFR_ERR_INVALID);
    lfr__manifest_free(&m);
}

/* ---- Differentials -------------------------------------------------------------------- */

#define NAN_OR(x) (isnan(x) ? -999.0 : (x))

static lfr__diff_params params(int n_groups, int reference, int reps, double pos, double neg)
{
    lfr__diff_params p = {n_groups, reference, reps, 12345, pos, neg};
    return p;
}

/*
 * Two groups of 10 identities each. Group 0 (ids 0-9): one genuine pair per
 * identity, identity 0's wrong: FNMR 1/10. Impostors: pairs (i, i+1) of
 * ids 0-9, two each, the pair (0,1) both wrong: FMR 2/18. Group 1 (ids
 * 10-19): genuine all right (FNMR 0), one impostor pair per (i, i+1), one
 * wrong: FMR 1/9. Cross-group items (group -1) are left out.
 */
static size_t make_two_groups(lfr__diff_item *it)
{
    size_t n = 0;
    for (int i = 0; i < 10; i++)
        it[n++] = (lfr__diff_item){i, -1, 0, 1, i == 0};
    for (int i = 0; i < 9; i++)
        for (int r = 0; r < 2; r++)
            it[n++] = (lfr__diff_item){i, i + 1, 0, 0, i == 0};
    for (int i = 10; i < 20; i++)
        it[n++] = (lfr__diff_item){i, -1, 1, 1, 0};
    for (int i = 10; i < 19; i++)
        it[n++] = (lfr__diff_item){i + 1, i, 1, 0, i == 12}; /* reversed order: same cell */
    it[n++] = (lfr__diff_item){3, 15, -1, 0, 1};
    return n;
}

static void test_diff_hand(void **state)
{
    (void)state;
    lfr__diff_item it[64];
    size_t n = make_two_groups(it);
    lfr__diff_group g[2];
    lfr__diff_params p = params(2, 0, 200, 0.05, 0.1);
    assert_int_equal(lfr__diff_compute(it, n, 20, &p, g), LFR_OK);
    assert_int_equal(g[0].pos.n, 10);
    assert_int_equal(g[0].pos.n_err, 1);
    assert_true(fabs(g[0].pos.value - 0.1) < 1e-12);
    assert_int_equal(g[0].neg.n, 18);
    assert_int_equal(g[0].neg.n_err, 2);
    assert_true(fabs(g[0].neg.value - 2.0 / 18) < 1e-12);
    assert_int_equal(g[1].neg.n, 9);
    assert_true(fabs(g[1].neg.value - 1.0 / 9) < 1e-12);
    assert_int_equal(g[0].n_identities, 10);
    assert_int_equal(g[1].n_identities, 10);
    assert_int_equal(g[0].pos.n_identities, 10);
    assert_int_equal(g[0].neg.n_identities, 10);
    /* All estimable: 10 identities, n x overall >= 1 (10 x 0.05 = 0.5 < 1!):
     * the genuine rates are not. */
    assert_false(g[0].pos.estimable);
    assert_false(g[1].pos.estimable);
    assert_true(g[0].neg.estimable);  /* 18 x 0.1 >= 1 */
    assert_false(g[1].neg.estimable); /* 9 x 0.1 < 1 */
    assert_false(g[1].neg.ratio_estimable);
    assert_true(isnan(g[1].neg.ci_low));
    /* The reference's own ratio is 1 with an interval at 1. */
    assert_true(g[0].neg.ratio_estimable);
    assert_true(fabs(g[0].neg.ratio - 1) < 1e-12);
    assert_true(fabs(g[0].neg.ratio_low - 1) < 1e-12 && fabs(g[0].neg.ratio_high - 1) < 1e-12);
    /* Its interval holds the estimate. */
    assert_true(g[0].neg.ci_low <= g[0].neg.value && g[0].neg.value <= g[0].neg.ci_high);
    /* With a higher overall rate, the genuine ones become estimable; group 1
     * has no errors: the interval is [0, 1 - 0.025^(1/10)], and its ratio to
     * group 0 is 0. */
    p = params(2, 0, 200, 0.2, 0.2);
    assert_int_equal(lfr__diff_compute(it, n, 20, &p, g), LFR_OK);
    assert_true(g[1].pos.estimable);
    assert_true(g[1].pos.value == 0);
    assert_true(g[1].pos.ci_low == 0);
    assert_true(fabs(g[1].pos.ci_high - (1 - pow(0.025, 0.1))) < 1e-12);
    assert_true(g[1].pos.ratio_estimable);
    assert_true(g[1].pos.ratio == 0);
    /* Reference group 1: its FNMR is 0, so no ratio is estimable. */
    p.reference = 1;
    assert_int_equal(lfr__diff_compute(it, n, 20, &p, g), LFR_OK);
    assert_false(g[0].pos.ratio_estimable);
    assert_true(isnan(g[0].pos.ratio));
}

/* Ties: a score exactly at the threshold is a match, for both kinds. */
static void test_diff_ties(void **state)
{
    (void)state;
    assert_int_equal(lfr__diff_error_1to1(0.5, 1, 0.5), 0); /* genuine at t: accepted */
    assert_int_equal(lfr__diff_error_1to1(0.5, 0, 0.5), 1); /* impostor at t: false match */
    assert_int_equal(lfr__diff_error_1to1(0.4999, 1, 0.5), 1);
    assert_int_equal(lfr__diff_error_1to1(0.4999, 0, 0.5), 0);
    /* Twelve identities, each with one genuine score at the threshold and
     * one impostor pair with its neighbour at the threshold: FNMR 0, FMR 1. */
    lfr__diff_item it[24];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        it[n++] = (lfr__diff_item){i, -1, 0, 1, lfr__diff_error_1to1(0.5, 1, 0.5)};
        it[n++] = (lfr__diff_item){i, (i + 1) % 12, 0, 0, lfr__diff_error_1to1(0.5, 0, 0.5)};
    }
    lfr__diff_group g;
    lfr__diff_params p = params(1, 0, 100, 0.5, 0.5);
    assert_int_equal(lfr__diff_compute(it, n, 12, &p, &g), LFR_OK);
    assert_true(g.pos.value == 0);
    assert_true(g.neg.value == 1);
    assert_true(g.neg.ci_low == 1 && g.neg.ci_high == 1);
}

/* Fewer than 10 identities: not estimable whatever the counts. */
static void test_diff_small_and_empty(void **state)
{
    (void)state;
    lfr__diff_item it[200];
    size_t n = 0;
    for (int r = 0; r < 100; r++)
        it[n++] = (lfr__diff_item){r % 9, -1, 0, 1, r % 2};
    lfr__diff_group g[3];
    lfr__diff_params p = params(3, 0, 50, 0.5, 0.5);
    assert_int_equal(lfr__diff_compute(it, n, 9, &p, g), LFR_OK);
    assert_int_equal(g[0].pos.n, 100);
    assert_int_equal(g[0].pos.n_identities, 9);
    assert_false(g[0].pos.estimable);
    /* All-genuine input: every impostor rate is NaN with n 0. */
    assert_int_equal(g[0].neg.n, 0);
    assert_true(isnan(g[0].neg.value));
    assert_false(g[0].neg.estimable);
    /* Empty groups 1 and 2. */
    for (int k = 1; k < 3; k++) {
        assert_int_equal(g[k].pos.n, 0);
        assert_int_equal(g[k].n_identities, 0);
        assert_false(g[k].pos.estimable);
        assert_false(g[k].neg.estimable);
    }
    /* No items at all. */
    assert_int_equal(lfr__diff_compute(it, 0, 9, &p, g), LFR_OK);
    assert_int_equal(g[0].pos.n, 0);
    assert_false(g[0].pos.estimable);
    /* All-impostor input, 12 identities. */
    n = 0;
    for (int i = 0; i < 12; i++)
        for (int j = i + 1; j < 12; j++)
            it[n++] = (lfr__diff_item){i, j, 0, 0, (i + j) % 11 == 0};
    p = params(1, 0, 100, 0.1, 0.1);
    assert_int_equal(lfr__diff_compute(it, n, 12, &p, g), LFR_OK);
    assert_int_equal(g[0].neg.n, 66);
    assert_int_equal(g[0].pos.n, 0);
    assert_true(g[0].neg.estimable);
    assert_false(g[0].pos.estimable);
    /* Bad arguments. */
    p.reference = 1;
    assert_int_equal(lfr__diff_compute(it, n, 12, &p, g), LFR_ERR_INVALID);
    p.reference = 0;
    it[0].id_a = 12;
    assert_int_equal(lfr__diff_compute(it, n, 12, &p, g), LFR_ERR_INVALID);
}

/*
 * Two groups built identically (group 1 is group 0 with identities shifted
 * by 30): equal rates, ratio exactly 1, and the ratio's bootstrap interval
 * contains 1 and is not degenerate (the groups are resampled independently).
 */
static void test_diff_bootstrap_identical(void **state)
{
    (void)state;
    static lfr__diff_item it[4000];
    size_t n = 0;
    uint64_t st = 99;
    for (int grp = 0; grp < 2; grp++) {
        uint64_t s2 = st; /* same draws for both groups */
        for (int i = 0; i < 30; i++) {
            for (int r = 0; r < 5; r++)
                it[n++] = (lfr__diff_item){grp * 30 + i, -1, grp, 1, lfr__rng_below(&s2, 10) == 0};
            for (int j = i + 1; j < 30; j += 3)
                it[n++] = (lfr__diff_item){grp * 30 + i, grp * 30 + j, grp, 0,
                                           lfr__rng_below(&s2, 20) == 0};
        }
    }
    lfr__diff_group g[2];
    lfr__diff_params p = params(2, 0, 1000, 0.1, 0.05);
    assert_int_equal(lfr__diff_compute(it, n, 60, &p, g), LFR_OK);
    for (int k = 0; k < 2; k++) {
        const lfr__diff_rate *a = k ? &g[1].neg : &g[1].pos, *b = k ? &g[0].neg : &g[0].pos;
        assert_true(a->estimable && b->estimable);
        assert_true(a->value == b->value);
        assert_true(a->ratio_estimable);
        assert_true(fabs(a->ratio - 1) < 1e-12);
        assert_true(a->ratio_low < 1 && a->ratio_high > 1);
        assert_true(a->ratio_high - a->ratio_low > 0.05);
        assert_true(a->ci_low < a->value && a->value < a->ci_high);
    }
    /* Same seed, same intervals. */
    lfr__diff_group h[2];
    assert_int_equal(lfr__diff_compute(it, n, 60, &p, h), LFR_OK);
    assert_true(h[1].pos.ratio_low == g[1].pos.ratio_low);
    assert_true(h[1].neg.ci_high == g[1].neg.ci_high);
}

/* ---- Template cache -------------------------------------------------------------------- */

static void test_cache(void **state)
{
    (void)state;
    char path[] = "/tmp/lfr_cache_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    uint8_t key[32] = {1}, other[32] = {2}, sha[3][32];
    for (int i = 0; i < 3; i++)
        memset(sha[i], 10 + i, 32);
    float t[LFR__CACHE_DIM], u[LFR__CACHE_DIM];
    for (int k = 0; k < LFR__CACHE_DIM; k++)
        t[k] = (float)k / 7.0f - 3.0f;
    lfr__tplcache *c;
    size_t loaded, bad;
    assert_int_equal(lfr__tplcache_open(path, key, &c, &loaded, &bad), LFR_OK);
    assert_int_equal(loaded, 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(lfr__tplcache_add(c, sha[0], 1, t), LFR_OK);
    assert_int_equal(lfr__tplcache_add(c, sha[1], 0, NULL), LFR_OK);
    assert_int_equal(lfr__tplcache_add(c, sha[1], 1, NULL), LFR_ERR_INVALID);
    assert_int_equal(lfr__tplcache_close(c), LFR_OK);
    /* Another model's key sees nothing. */
    assert_int_equal(lfr__tplcache_open(path, other, &c, &loaded, &bad), LFR_OK);
    assert_int_equal(loaded, 0);
    assert_int_equal(lfr__tplcache_add(c, sha[2], 1, t), LFR_OK);
    lfr__tplcache_close(c);
    /* Cut the last record short, as an interrupted run would. */
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 5), 0);
    assert_int_equal(lfr__tplcache_open(path, key, &c, &loaded, &bad), LFR_OK);
    assert_int_equal(loaded, 2);
    assert_int_equal(bad, 1);
    int status = -1;
    assert_int_equal(lfr__tplcache_get(c, sha[0], &status, u), 1);
    assert_int_equal(status, 1);
    assert_memory_equal(t, u, sizeof t);
    assert_int_equal(lfr__tplcache_get(c, sha[1], &status, u), 1);
    assert_int_equal(status, 0);
    assert_int_equal(lfr__tplcache_get(c, sha[2], &status, u), 0);
    lfr__tplcache_close(c);
    /* A cache readable by others is refused. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(lfr__tplcache_open(path, key, &c, &loaded, &bad), LFR_ERR_DENIED);
    assert_null(c);
    /* A file that is not a cache. */
    assert_int_equal(chmod(path, 0600), 0);
    FILE *f = fopen(path, "wb");
    fputs("hello, world", f);
    fclose(f);
    assert_int_equal(lfr__tplcache_open(path, key, &c, &loaded, &bad), LFR_ERR_FORMAT);
    unlink(path);
}

/* ---- HTML reports ------------------------------------------------------------------------ */

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Text is escaped, every plot is an svg.plot with drawn data, points that
 * cannot go on a log axis are left out, and nothing is loaded from
 * elsewhere. (That the plots render is checked in Chromium by
 * tests/e2e/eval_report_slow.sh.) */
static void test_html(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    lfr__html_begin(f, "a<b>&\"c");
    lfr__html_para(f, "group %s", "<script>alert(1)</script>");
    double x[4] = {0, 1e-3, 1e-2, 1}, y[4] = {1, 0.1, 0.01, 0.001};
    lfr__html_series se = {"all", x, y, 4, 0, 0};
    lfr__html_plot p = {"DET", "FMR", "FNMR", 1, 1, 0, 0, 0, 0, &se, 1};
    lfr__html_lines(f, &p);
    double gen[3] = {0.7, 0.8, 0.9}, imp[3] = {-0.1, 0.0, 0.2}, mark = 0.5;
    lfr__html_histogram(f, "scores", gen, 3, imp, 3, -0.4, 1.0, 14, &mark, 1);
    const char *labels[2] = {"x", "y<z"};
    double v[2] = {0.1, NAN}, lo[2] = {0.05, NAN}, hi[2] = {0.2, NAN};
    int est[2] = {1, 0};
    lfr__html_intervals(f, "rates", "FMR", labels, v, lo, hi, est, 2);
    lfr__html_end(f);
    fclose(f);
    assert_non_null(strstr(buf, "<title>a&lt;b&gt;&amp;&quot;c</title>"));
    assert_null(strstr(buf, "<script>alert"));
    assert_non_null(strstr(buf, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(buf, "y&lt;z"));
    assert_int_equal(count(buf, "<svg class=\"plot\""), 3);
    assert_int_equal(count(buf, "</svg>"), 3);
    assert_true(count(buf, "class=\"data\"") >= 5); /* path, 2 areas, bar, dot, words */
    assert_int_equal(count(buf, "not estimable"), 1);
    /* The DET path: 3 points (FMR 0 cannot go on a log axis), one M and two L. */
    const char *d = strstr(buf, "class=\"data\" clip-path");
    assert_non_null(d);
    d = strstr(d, " d=\"");
    const char *e = strchr(d + 4, '"');
    size_t n_l = 0, n_m = 0;
    for (const char *q = d; q < e; q++) {
        n_l += *q == 'L';
        n_m += *q == 'M';
    }
    assert_int_equal(n_m, 1);
    assert_int_equal(n_l, 2);
    assert_null(strstr(buf, "src="));
    assert_null(strstr(buf, "href="));
    assert_null(strstr(buf, "https:"));
    assert_int_equal(count(buf, "http://"), 3); /* the three svg namespaces only */
    assert_non_null(strstr(buf, "id=\"render-check\""));
    assert_true(size > 8 && !strcmp(buf + size - 8, "</html>\n"));
    free(buf);
}

/* ---- The LFW converter on the real data ------------------------------------------------- */

static void test_lfw_manifest(void **state)
{
    (void)state;
    const char *data = getenv("LFR_DATA");
    char lfw[4096], labels[4096], names[4200];
    snprintf(lfw, sizeof lfw, "%s/lfw", data ? data : "../shared/data");
    snprintf(labels, sizeof labels, "%s/labels", data ? data : "../shared/data");
    snprintf(names, sizeof names, "%s/lfw-names.txt", lfw);
    if (access(names, R_OK) != 0 || access(labels, R_OK) != 0) {
        print_message("SKIP: LFW or its labels not found under %s (set LFR_DATA)\n", lfw);
        skip();
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    size_t n;
    assert_int_equal(lfr__manifest_write_lfw(f, lfw, labels, &n), LFR_OK);
    fclose(f);
    assert_int_equal(n, 13233);
    lfr__manifest m;
    assert_int_equal(lfr__manifest_parse(buf, size, "lfw", &m), LFR_OK);
    assert_int_equal(m.n_images, 13233);
    assert_int_equal(m.n_identities, 5749);
    int sex = lfr__manifest_column(&m, "sex"), race = lfr__manifest_column(&m, "race");
    assert_true(sex >= 0 && race >= 0 && m.sha256_column >= 0);
    /* The data README: 10,268 male and 2,967 female list entries, 5 images
     * in both and 3 in neither -> 10,263 male, 2,962 female, 8 unlabelled. */
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < m.n_images; i++) {
        int l = m.label[sex][i];
        cnt[l < 0 ? 2 : !strcmp(m.value[sex][l], "male") ? 0 : 1]++;
    }
    assert_int_equal(cnt[0], 10263);
    assert_int_equal(cnt[1], 2962);
    assert_int_equal(cnt[2], 8);
    /* 866 annotated people; their images get a race label. */
    int last = -1, people = 0;
    size_t images = 0;
    for (size_t i = 0; i < m.n_images; i++)
        if (m.label[race][i] >= 0) {
            images++;
            if (m.identity[i] != last) people++;
            last = m.identity[i];
        }
    assert_int_equal(images, 3610);
    assert_int_equal(people, 866);
    long k = lfr__manifest_find(&m, "Sidney_Poitier/Sidney_Poitier_0001.jpg");
    assert_true(k >= 0);
    assert_string_equal(m.value[race][m.label[race][k]], "african");
    lfr__manifest_free(&m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_good),
        cmocka_unit_test(test_manifest_bad),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_diff_hand),
        cmocka_unit_test(test_diff_ties),
        cmocka_unit_test(test_diff_small_and_empty),
        cmocka_unit_test(test_diff_bootstrap_identical),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_lfw_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
