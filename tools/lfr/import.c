/*
 * lfr subject import: enrol many subjects from a manifest, a tab-separated
 * file with a header line and then one row per image:
 *
 *     reference  category  reason  expires  provenance  captured  image
 *
 * Rows with the same reference make one subject (at most
 * LFR_SUBJECT_MAX_IMAGES images, in any order in the file); they must agree
 * on category, reason and expiry, while provenance (empty: custody_imaging)
 * and capture date (empty: unknown) belong to each image. A relative image
 * path is read from the manifest's folder.
 *
 * The user logs in and the engine loads once; each subject is then one
 * lfr_store_subject_add call, which is atomic: the subject is enrolled with
 * all its images and its audit entry, or not at all.
 *
 * Resuming. A reference already on the watchlist (and not removed) is
 * skipped, so that running the same command again after a crash, a kill or
 * a full disk finishes the job. A subject that is refused (not exactly one
 * face in an image, a bad row, a missing file) is reported on one line
 * naming its manifest line, and the run goes on; a failure of the store
 * itself (no space left, a database error) stops the run, since every later
 * subject would fail the same way.
 *
 * Written on the public API only, like records.c, whose login it uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "import.h"
#include "lfr/lfr.h"

#define N_COLUMNS 7
#define LINE_MAX_BYTES 16384 /* longest manifest line */
#define MAX_ROWS 1000000     /* most rows (images) in one manifest */

enum { C_REF, C_CATEGORY, C_REASON, C_EXPIRES, C_PROVENANCE, C_CAPTURED, C_IMAGE };

static const char *const column_names[N_COLUMNS] = {
    "reference", "category", "reason", "expires", "provenance", "captured", "image",
};

/* ---- Messages ----------------------------------------------------------------- */

#define fail lfr_cli_fail
#define usage_error lfr_cli_usage_error

/* ---- The manifest ----------------------------------------------------------------- */

/* One row: the line's text, split in place at its tabs. */
typedef struct row {
    int line;
    int n_fields; /* N_COLUMNS for a well-formed row */
    char *text;
    char *f[N_COLUMNS];
    char *path; /* the image, resolved against the manifest's folder (malloc'd) */
} row;

typedef struct manifest {
    row *rows;
    size_t n, cap;
} manifest;

static void manifest_free(manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->rows[i].text);
        free(m->rows[i].path);
    }
    free(m->rows);
    memset(m, 0, sizeof *m);
}

/* Split `text` at tabs into r->f (missing fields point at ""). */
static void split_row(char *text, row *r)
{
    static char empty[1];
    r->text = text;
    r->n_fields = 0;
    for (int i = 0; i < N_COLUMNS; i++)
        r->f[i] = empty;
    char *p = text;
    for (;;) {
        char *tab = strchr(p, '\t');
        if (tab) *tab = 0;
        if (r->n_fields < N_COLUMNS) r->f[r->n_fields] = p;
        r->n_fields++;
        if (!tab) break;
        p = tab + 1;
    }
}

/* `path` as read from the manifest's folder `dir` ("" for the current one). */
static char *resolve_path(const char *dir, const char *path)
{
    if (!*dir || path[0] == '/' || !*path) return strdup(path);
    size_t n = strlen(dir) + 1 + strlen(path) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", dir, path);
    return out;
}

/* Read the manifest: the header line, then the rows (blank lines and lines
 * starting with '#' are skipped; a NUL byte ends its line). Returns 0, or
 * 1 after a message. */
static int manifest_read(const char *file, manifest *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(file, "rb");
    if (!f) return fail("%s: cannot open: %s", file, strerror(errno));
    char dir[4096] = "";
    const char *slash = strrchr(file, '/');
    if (slash) {
        size_t n = (size_t)(slash - file);
        if (n == 0) n = 1; /* "/manifest.tsv" */
        if (n >= sizeof dir) {
            fclose(f);
            return fail("%s: path too long", file);
        }
        memcpy(dir, file, n);
        dir[n] = 0;
    }
    static char buf[LINE_MAX_BYTES + 2];
    int line = 0, have_header = 0, rc = 0;
    while (!rc && fgets(buf, sizeof buf, f)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            rc = fail("%s: line %d is longer than %d bytes", file, line, LINE_MAX_BYTES);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        char *text = buf;
        if (line == 1 && !strncmp(text, "\xef\xbb\xbf", 3)) text += 3; /* a UTF-8 BOM */
        if (!*text || *text == '#') continue;
        if (!have_header) {
            row h;
            split_row(text, &h);
            int good = h.n_fields == N_COLUMNS;
            for (int i = 0; good && i < N_COLUMNS; i++)
                good = !strcmp(h.f[i], column_names[i]);
            if (!good)
                rc = fail("%s: line %d: the first line must be the header: reference, category,"
                          " reason, expires, provenance, captured, image (tab-separated)",
                          file, line);
            have_header = 1;
            continue;
        }
        if (m->n == MAX_ROWS) {
            rc = fail("%s: more than %d rows", file, MAX_ROWS);
            break;
        }
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 256;
            row *v = realloc(m->rows, cap * sizeof *v);
            if (!v) {
                rc = fail("out of memory");
                break;
            }
            m->rows = v;
            m->cap = cap;
        }
        row *r = &m->rows[m->n];
        memset(r, 0, sizeof *r);
        char *copy = strdup(text);
        if (!copy) {
            rc = fail("out of memory");
            break;
        }
        split_row(copy, r);
        r->line = line;
        r->path = resolve_path(dir, r->f[C_IMAGE]);
        m->n++;
        if (!r->path) rc = fail("out of memory");
    }
    if (!rc && ferror(f)) rc = fail("%s: read error: %s", file, strerror(errno));
    if (!rc && !have_header) rc = fail("%s: empty manifest (no header line)", file);
    fclose(f);
    if (rc) manifest_free(m);
    return rc;
}

/* ---- Grouping rows into subjects -------------------------------------------------- */

/* A subject of the manifest: n rows, order[first .. first + n - 1]. */
typedef struct group {
    size_t first, n;
    int line; /* its first line */
} group;

static const manifest *sort_m; /* qsort has no context argument */

static int by_reference(const void *a, const void *b)
{
    const row *x = &sort_m->rows[*(const size_t *)a], *y = &sort_m->rows[*(const size_t *)b];
    int c = strcmp(x->f[C_REF], y->f[C_REF]);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

/* Group the rows by reference (a row without one stands alone), subjects
 * in the order of their first line. */
static int group_rows(const manifest *m, size_t **order_out, group **groups_out, size_t *n_out)
{
    size_t *order = malloc((m->n ? m->n : 1) * sizeof *order);
    group *g = malloc((m->n ? m->n : 1) * sizeof *g);
    if (!order || !g) {
        free(order);
        free(g);
        return fail("out of memory");
    }
    for (size_t i = 0; i < m->n; i++)
        order[i] = i;
    sort_m = m;
    qsort(order, m->n, sizeof *order, by_reference);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *ref = m->rows[order[i]].f[C_REF];
        if (n > 0 && *ref && !strcmp(ref, m->rows[order[g[n - 1].first]].f[C_REF])) {
            g[n - 1].n++;
            continue;
        }
        g[n].first = i;
        g[n].n = 1;
        g[n].line = m->rows[order[i]].line;
        n++;
    }
    qsort(g, n, sizeof *g, by_line);
    *order_out = order;
    *groups_out = g;
    *n_out = n;
    return 0;
}

/* ---- What is already enrolled ---------------------------------------------------- */

typedef struct known {
    char reference[LFR_SUBJECT_REF_MAX + 1];
    int64_t id;
    char removed_at[32]; /* "" while on the watchlist */
} known;

typedef struct known_set {
    known *v;
    size_t n, cap;
} known_set;

static int keep_known(const lfr_subject *s, void *ctx)
{
    known_set *k = ctx;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 256;
        known *v = realloc(k->v, cap * sizeof *v);
        if (!v) return fail("out of memory");
        k->v = v;
        k->cap = cap;
    }
    known *e = &k->v[k->n++];
    snprintf(e->reference, sizeof e->reference, "%s", s->reference);
    e->id = s->id;
    snprintf(e->removed_at, sizeof e->removed_at, "%s", s->removed_at);
    return 0;
}

static int by_known_reference(const void *a, const void *b)
{
    return strcmp(((const known *)a)->reference, ((const known *)b)->reference);
}

static const known *known_find(const known_set *k, const char *ref)
{
    known key;
    if (strlen(ref) >= sizeof key.reference) return NULL;
    snprintf(key.reference, sizeof key.reference, "%s", ref);
    return k->n ? bsearch(&key, k->v, k->n, sizeof *k->v, by_known_reference) : NULL;
}

/* ---- One subject ------------------------------------------------------------------- */

typedef struct import_run {
    const manifest *m;
    const size_t *order;
    lfr_store *st;
    const lfr_user *me;
    lfr_engine *eng;
    long enrolled, skipped, refused;
} import_run;

/* What became of one subject. */
enum { ENROLLED, SKIPPED, REFUSED, STOP };

/* Check a subject's rows and fill src[]; on a problem, write the line it
 * is on and the reason, and return 1. */
static int check_subject(const import_run *ir, const group *g, lfr_category *cat,
                         lfr_image_source *src, int *line, char *why, size_t cap)
{
    const row *r0 = &ir->m->rows[ir->order[g->first]];
    *line = r0->line;
    if (!*r0->f[C_REF]) {
        snprintf(why, cap, "no reference");
        return 1;
    }
    if (g->n > LFR_SUBJECT_MAX_IMAGES) {
        snprintf(why, cap, "%zu images; at most %d per subject", g->n, LFR_SUBJECT_MAX_IMAGES);
        return 1;
    }
    if (lfr_category_parse(r0->f[C_CATEGORY], cat)) {
        snprintf(why, cap, "%s", lfr_errmsg());
        return 1;
    }
    for (size_t i = 0; i < g->n; i++) {
        const row *r = &ir->m->rows[ir->order[g->first + i]];
        *line = r->line;
        if (r->n_fields != N_COLUMNS) {
            snprintf(why, cap, "expected %d tab-separated fields, found %d", N_COLUMNS,
                     r->n_fields);
            return 1;
        }
        for (int c = C_CATEGORY; c <= C_EXPIRES; c++) {
            if (strcmp(r->f[c], r0->f[c])) {
                snprintf(why, cap, "%s differs from line %d of the same reference", column_names[c],
                         r0->line);
                return 1;
            }
        }
        lfr_provenance prov = LFR_PROVENANCE_CUSTODY_IMAGING;
        if (*r->f[C_PROVENANCE] && lfr_provenance_parse(r->f[C_PROVENANCE], &prov)) {
            snprintf(why, cap, "%s", lfr_errmsg());
            return 1;
        }
        if (!*r->path) {
            snprintf(why, cap, "no image path");
            return 1;
        }
        /* A file that cannot be read is a bad row, not a failure of the store. */
        int fd = open(r->path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
            snprintf(why, cap, "%s: cannot open: %s", r->path,
                     fd < 0 ? strerror(errno) : "not a regular file");
            if (fd >= 0) close(fd);
            return 1;
        }
        close(fd);
        src[i] = (lfr_image_source){r->path, prov, *r->f[C_CAPTURED] ? r->f[C_CAPTURED] : NULL};
    }
    *line = r0->line;
    return 0;
}

/* The line of the image whose path starts the message `msg`, else `line`. */
static int line_of_image(const import_run *ir, const group *g, const char *msg, int line)
{
    for (size_t i = 0; i < g->n; i++) {
        const row *r = &ir->m->rows[ir->order[g->first + i]];
        size_t n = strlen(r->path);
        if (n && !strncmp(msg, r->path, n) && msg[n] == ':') return r->line;
    }
    return line;
}

static int import_subject(import_run *ir, const known_set *k, const group *g)
{
    const row *r0 = &ir->m->rows[ir->order[g->first]];
    const char *ref = r0->f[C_REF];
    const known *hit = *ref ? known_find(k, ref) : NULL;
    if (hit && !hit->removed_at[0]) return SKIPPED;

    lfr_category cat;
    lfr_image_source src[LFR_SUBJECT_MAX_IMAGES];
    int line;
    char why[600];
    if (check_subject(ir, g, &cat, src, &line, why, sizeof why)) {
        fail("line %d: %s%s%s", line, ref, *ref ? ": " : "", why);
        return REFUSED;
    }
    lfr_subject_params p = {ref, cat, r0->f[C_REASON], r0->f[C_EXPIRES]};
    int64_t id = 0;
    int rc = lfr_store_subject_add(ir->st, ir->me, ir->eng, &p, src, (int)g->n, &id);
    if (rc == LFR_OK) return ENROLLED;
    const char *msg = lfr_errmsg();
    if (id > 0) {
        /* Enrolled, but something after the commit failed (audit.head). */
        fail("line %d: %s: %s (import stopped; run the same command again to resume)", line, ref,
             msg);
        ir->enrolled++;
        return STOP;
    }
    line = line_of_image(ir, g, msg, line);
    switch (rc) {
    case LFR_ERR_NO_FACE:
    case LFR_ERR_FORMAT:
    case LFR_ERR_INVALID:
    case LFR_ERR_TOO_LARGE:
    case LFR_ERR_UNSUPPORTED:
        fail("line %d: %s: %s", line, ref, msg);
        return REFUSED;
    case LFR_ERR_CONFLICT:
        if (hit)
            fail("line %d: %s: %s (taken off the watchlist %s; a reference is not reused)", line,
                 ref, msg, hit->removed_at);
        else
            fail("line %d: %s: %s", line, ref, msg);
        return REFUSED;
    default:
        fail("line %d: %s: %s (import stopped; run the same command again to resume)", line, ref,
             msg);
        return STOP;
    }
}

/* ---- The command ------------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parse MANIFEST --models DIR --user NAME --home DIR. */
static int parse_args(int argc, char **argv, const char **file, const char **models,
                      const char **user, const char **home)
{
    *file = *models = *user = *home = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--models") ? models
                            : !strcmp(a, "--user") ? user
                            : !strcmp(a, "--home") ? home
                                                   : NULL;
        if (slot) {
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (*file) {
            return usage_error("unexpected argument '%s'", a);
        } else {
            *file = a;
        }
    }
    if (!*file)
        return usage_error("usage: lfr subject import MANIFEST --user NAME [--models DIR]"
                           " [--home DIR]");
    if (!*user) return usage_error("this command needs --user NAME");
    if (!*home) *home = getenv("LFR_HOME");
    if (!*home || !**home) *home = "lfr-data";
    return 0;
}

/* Enrol the manifest's subjects as `me`, skipping those already on the
 * watchlist; print the summary line. Returns the exit status. */
static int run_import(const char *file, manifest *m, lfr_store *st, const lfr_user *me,
                      lfr_engine *eng)
{
    size_t *order = NULL, n_groups = 0;
    group *groups = NULL;
    if (group_rows(m, &order, &groups, &n_groups)) return 1;
    known_set k = {0};
    int rc = 0;
    if (lfr_store_subject_list(st, me, 1, keep_known, &k)) rc = fail("%s", lfr_errmsg());
    if (rc) {
        free(order);
        free(groups);
        free(k.v);
        return rc;
    }
    if (k.n) qsort(k.v, k.n, sizeof *k.v, by_known_reference);
    size_t n_on = 0;
    for (size_t i = 0; i < n_groups; i++) {
        const known *hit = known_find(&k, m->rows[order[groups[i].first]].f[C_REF]);
        if (hit && !hit->removed_at[0]) n_on++;
    }
    fprintf(stderr, "import: %s: %zu subjects, %zu images; %zu already on the watchlist\n", file,
            n_groups, m->n, n_on);

    import_run ir = {m, order, st, me, eng, 0, 0, 0};
    double last = now_s();
    size_t done = 0;
    int stopped = 0;
    for (; done < n_groups && !stopped; done++) {
        switch (import_subject(&ir, &k, &groups[done])) {
        case ENROLLED:
            ir.enrolled++;
            break;
        case SKIPPED:
            ir.skipped++;
            break;
        case REFUSED:
            ir.refused++;
            break;
        default:
            stopped = 1;
            break;
        }
        double t = now_s();
        if (t - last >= 1.0 && done + 1 < n_groups) {
            fprintf(stderr, "import: %zu/%zu subjects (enrolled %ld, skipped %ld, refused %ld)\n",
                    done + 1, n_groups, ir.enrolled, ir.skipped, ir.refused);
            last = t;
        }
    }
    if (stopped)
        printf("enrolled %ld, skipped %ld, refused %ld; stopped with %zu subjects not attempted\n",
               ir.enrolled, ir.skipped, ir.refused, n_groups - done);
    else
        printf("enrolled %ld, skipped %ld, refused %ld\n", ir.enrolled, ir.skipped, ir.refused);
    fflush(stdout);
    free(order);
    free(groups);
    free(k.v);
    return stopped || ir.refused ? 1 : 0;
}

int lfr_cli_subject_import(int argc, char **argv)
{
    const char *file, *models, *user, *home;
    int rc = parse_args(argc, argv, &file, &models, &user, &home);
    if (rc) return rc;
    manifest m;
    if (manifest_read(file, &m)) return 1;

    lfr_store *st = NULL;
    lfr_user me;
    rc = lfr_cli_login(home, user, &st, &me);
    lfr_engine *eng = NULL;
    if (!rc) {
        lfr_engine_config cfg = lfr_engine_config_default();
        cfg.model_dir = models;
        if (lfr_engine_open(&cfg, &eng)) rc = fail("%s", lfr_errmsg());
    }
    if (!rc) rc = run_import(file, &m, st, &me, eng);
    lfr_engine_close(eng);
    lfr_store_close(st);
    manifest_free(&m);
    return rc;
}
