/*
 * `lfr eval manifest` and `lfr eval verify`: data sets described by a
 * manifest (src/eval/manifest.h), 1:1 verification on them with per-group
 * differentials (src/eval/diff.h), a JSON and an HTML report
 * (src/eval/html.h), and the run stored in a home's evaluations table when
 * --home is given.
 *
 * verify, step by step: load the manifest; take the comparisons of a pairs
 * file, or all genuine pairs and a seeded sample of impostor pairs; compute
 * (or read from the template cache) a template per image; score; overall
 * metrics; then for each label column, the groups' error rates at one fixed
 * threshold (by default the one giving an overall FMR of 1e-3) with their
 * ratios to a reference group and bootstrap intervals over identities.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "eval/diff.h"
#include "eval/eval.h"
#include "eval/html.h"
#include "eval/manifest.h"
#include "cli.h"
#include "evalcli.h"
#include "lfr/store.h"

#define fail lfr_cli_fail

/* Columns with more distinct values than this are not taken as groups
 * unless named with --group. */
#define AUTO_GROUP_MAX_VALUES 20

/* Impostor pairs sampled when neither --pairs nor --impostors is given. */
#define DEFAULT_IMPOSTORS 1000000

/* ---- eval manifest lfw ------------------------------------------------------------ */

int lfr_cli_eval_manifest(opts *o)
{
    if (o->n_pos != 2 || strcmp(o->pos[1], "lfw") || !o->data)
        return fail("usage: lfr eval manifest lfw --data DIR [--labels DIR] > manifest.tsv");
    size_t n;
    if (lfr__manifest_write_lfw(stdout, o->data, o->labels, &n) != LFR_OK)
        return fail("%s", lfr_errmsg());
    if (fflush(stdout) != 0 || ferror(stdout)) return fail("write error on the output");
    fprintf(stderr, "lfr: %zu images\n", n);
    return 0;
}

/* ---- The groups of one label column ------------------------------------------------------ */

typedef struct column_result {
    int column; /* manifest column */
    int n_groups;
    int reference;
    lfr__diff_group *g; /* n_groups */
    size_t *n_images;   /* per group */
    int *n_ids;         /* per group: identities with an image of that label */
    size_t n_cross;     /* comparisons in no group (across groups, or unlabelled) */
} column_result;

static void column_result_free(column_result *c)
{
    free(c->g);
    free(c->n_images);
    free(c->n_ids);
    memset(c, 0, sizeof *c);
}

/* Does comparison k belong to a group of column c? Its group, or -1. */
static int comparison_group(const lfr__manifest *m, const lfr__eval_comparisons *cmp,
                            const int *extra_col, int c, size_t k)
{
    if (extra_col && extra_col[k] >= 0 && extra_col[k] != c) return -1;
    int la = m->label[c][cmp->a[k]], lb = m->label[c][cmp->b[k]];
    return la >= 0 && la == lb ? la : -1;
}

static int differentials(const opts *o, const lfr__manifest *m, const lfr__eval_comparisons *cmp,
                         const int *extra_col, const double *score, double thr,
                         const lfr__eval_rates *overall, int c, column_result *out)
{
    memset(out, 0, sizeof *out);
    out->column = c;
    out->n_groups = m->n_values[c];
    lfr__diff_item *items = malloc((cmp->n ? cmp->n : 1) * sizeof *items);
    out->g = calloc((size_t)out->n_groups, sizeof *out->g);
    out->n_images = calloc((size_t)out->n_groups, sizeof *out->n_images);
    out->n_ids = calloc((size_t)out->n_groups, sizeof *out->n_ids);
    int *last = malloc(((size_t)m->n_identities + 1) * sizeof *last);
    if (!items || !out->g || !out->n_images || !out->n_ids || !last) {
        free(last);
        free(items);
        column_result_free(out);
        return fail("out of memory");
    }
    for (size_t i = 0; i < m->n_images; i++)
        if (m->label[c][i] >= 0) out->n_images[m->label[c][i]]++;
    /* Identities per group: last[id] is the last group that counted id. */
    for (int id = 0; id < m->n_identities; id++)
        last[id] = -1;
    for (int g = 0; g < out->n_groups; g++)
        for (size_t i = 0; i < m->n_images; i++)
            if (m->label[c][i] == g && last[m->identity[i]] != g) {
                last[m->identity[i]] = g;
                out->n_ids[g]++;
            }
    free(last);
    for (size_t k = 0; k < cmp->n; k++) {
        int g = comparison_group(m, cmp, extra_col, c, k);
        out->n_cross += g < 0;
        items[k] = (lfr__diff_item){
            .id_a = m->identity[cmp->a[k]],
            .id_b = cmp->same[k] ? -1 : m->identity[cmp->b[k]],
            .group = g,
            .pos = cmp->same[k],
            .err = lfr__diff_error_1to1(score[k], cmp->same[k], thr),
        };
    }
    /* Reference: --reference COLUMN=VALUE, else the group with the most
     * identities. Computed once without a bootstrap to learn the sizes. */
    lfr__diff_params p = {out->n_groups, 0, 0, o->seed, overall->fnmr, overall->fmr};
    int rc = 0;
    if (lfr__diff_compute(items, cmp->n, m->n_identities, &p, out->g) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto done;
    }
    int ref = 0;
    for (int g = 1; g < out->n_groups; g++)
        if (out->n_ids[g] > out->n_ids[ref]) ref = g;
    for (int r = 0; r < o->n_references; r++) {
        const char *eq = strchr(o->references[r], '=');
        size_t len = (size_t)(eq - o->references[r]);
        if (strlen(m->column[c]) != len || strncmp(m->column[c], o->references[r], len)) continue;
        ref = -1;
        for (int g = 0; g < out->n_groups; g++)
            if (!strcmp(m->value[c][g], eq + 1)) ref = g;
        if (ref < 0) {
            rc = fail("--reference %s: no such group in column %s", o->references[r], m->column[c]);
            goto done;
        }
    }
    out->reference = ref;
    p.reference = ref;
    p.replicates = o->bootstrap;
    if (lfr__diff_compute(items, cmp->n, m->n_identities, &p, out->g) != LFR_OK)
        rc = fail("%s", lfr_errmsg());
done:
    free(items);
    if (rc) column_result_free(out);
    return rc;
}

/* "0.00123 [0.00090, 0.0016]" or "not estimable". */
static void fmt_rate(char *buf, size_t cap, int estimable, double v, double lo, double hi)
{
    if (!estimable)
        snprintf(buf, cap, "not estimable");
    else if (isfinite(lo))
        snprintf(buf, cap, "%.3g [%.3g, %.3g]", v, lo, hi);
    else
        snprintf(buf, cap, "%.3g [interval not estimable]", v);
}

static void print_column(const lfr__manifest *m, const column_result *cr, double thr)
{
    int c = cr->column;
    printf("\nby %s at threshold %.4f (reference group: %s; %zu comparisons across groups or "
           "unlabelled left out)\n",
           m->column[c], thr, m->value[c][cr->reference], cr->n_cross);
    printf("%-14s %6s %7s %9s %-34s %-30s %9s %-34s %-30s\n", "group", "ids", "images", "genuine",
           "FNMR [95% CI]", "FNMR ratio [95% CI]", "impostor", "FMR [95% CI]",
           "FMR ratio [95% CI]");
    for (int g = 0; g < cr->n_groups; g++) {
        const lfr__diff_group *d = &cr->g[g];
        char a[64], b[64], x[64], y[64];
        fmt_rate(a, sizeof a, d->pos.estimable, d->pos.value, d->pos.ci_low, d->pos.ci_high);
        fmt_rate(b, sizeof b, d->pos.ratio_estimable, d->pos.ratio, d->pos.ratio_low,
                 d->pos.ratio_high);
        fmt_rate(x, sizeof x, d->neg.estimable, d->neg.value, d->neg.ci_low, d->neg.ci_high);
        fmt_rate(y, sizeof y, d->neg.ratio_estimable, d->neg.ratio, d->neg.ratio_low,
                 d->neg.ratio_high);
        printf("%-14s %6d %7zu %9zu %-34s %-30s %9zu %-34s %-30s\n", m->value[c][g], cr->n_ids[g],
               cr->n_images[g], d->pos.n, a, b, d->neg.n, x, y);
    }
}

/* Log in to o->home as o->user (before the long computation, so that a
 * wrong password is found at once). */
int lfr_cli_store_login(const opts *o, lfr_store **st, lfr_user *me)
{
    *st = NULL;
    if (!o->user) return fail("--home needs --user NAME");
    int rc = lfr_cli_login(o->home, o->user, st, me);
    /* A role that may not record evaluations is refused now, not after an
     * hour of computing. The store makes and audits the refusal: it is asked
     * to add a placeholder run, which it refuses on the role before
     * anything is written. */
    if (!rc && !lfr_role_allows(me->role, LFR_ACTION_EVALUATION_ADD)) {
        char zeros[65];
        memset(zeros, '0', 64);
        zeros[64] = 0;
        lfr_evaluation e = {0};
        e.kind = "verify";
        e.dataset = "(refused before the run)";
        e.dataset_sha256 = zeros;
        e.model = "-";
        e.engine_version = "-";
        if (lfr_store_evaluation_add(*st, me, &e, NULL, 0, NULL) != LFR_OK)
            rc = fail("%s", lfr_errmsg());
        else
            rc = fail("%s may not record evaluations", o->user); /* not reached */
    }
    if (rc) {
        lfr_store_close(*st);
        *st = NULL;
    }
    return rc;
}

/* A growable list of figures whose strings live in one arena of copies. */
typedef struct figures {
    lfr_eval_metric *m;
    size_t n, cap;
    char **strs;
    size_t n_strs;
} figures;

static int fig_add(figures *f, const char *group, const char *metric, double thr, double v,
                   double lo, double hi, int64_t n)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 64;
        lfr_eval_metric *nm = realloc(f->m, nc * sizeof *nm);
        char **ns = realloc(f->strs, 2 * nc * sizeof *ns);
        if (nm) f->m = nm;
        if (ns) f->strs = ns;
        if (!nm || !ns) return fail("out of memory");
        f->cap = nc;
    }
    char *g = strdup(group ? group : ""), *mm = strdup(metric);
    if (!g || !mm) {
        free(g);
        free(mm);
        return fail("out of memory");
    }
    f->strs[f->n_strs++] = g;
    f->strs[f->n_strs++] = mm;
    f->m[f->n++] = (lfr_eval_metric){g, mm, thr, v, lo, hi, n};
    return 0;
}

static void figures_free(figures *f)
{
    for (size_t i = 0; i < f->n_strs; i++)
        free(f->strs[i]);
    free(f->strs);
    free(f->m);
    memset(f, 0, sizeof *f);
}

/* ---- eval verify ------------------------------------------------------------------------ */

typedef struct verify_run {
    lfr__manifest m;
    lfr__eval_comparisons cmp;
    size_t n_main;  /* the first n_main comparisons are the run's sample */
    int *extra_col; /* per comparison: -1, or the column whose groups alone it serves */
    double *score;
    unsigned char *same; /* copy of cmp.same, reordered by the missing-score policy */
    size_t n_missing;
    lfr__eval_summary s;
    lfr__eval_rates at[EVAL_MAX_THRESHOLDS];
    int n_at;
    double diff_thr;
    int has_diff;
    column_result cols[EVAL_MAX_GROUP_COLUMNS];
    int n_cols;
    size_t n_images_used, no_face, unreadable;
    double secs;
    char det_sha[65], emb_sha[65];
} verify_run;

/* The label columns to break down by: --group, else every column with 2 to
 * AUTO_GROUP_MAX_VALUES values, except sha256. */
static int pick_columns(const opts *o, const lfr__manifest *m, int *cols, int *n_cols)
{
    *n_cols = 0;
    if (o->n_groups) {
        for (int k = 0; k < o->n_groups; k++) {
            int c = lfr__manifest_column(m, o->groups[k]);
            if (c < 0) return fail("--group %s: the manifest has no such column", o->groups[k]);
            if (c == m->sha256_column) return fail("--group sha256 makes no sense");
            cols[(*n_cols)++] = c;
        }
        return 0;
    }
    for (int c = 0; c < m->n_columns && *n_cols < EVAL_MAX_GROUP_COLUMNS; c++)
        if (c != m->sha256_column && m->n_values[c] >= 2 && m->n_values[c] <= AUTO_GROUP_MAX_VALUES)
            cols[(*n_cols)++] = c;
    return 0;
}

static void write_rate_json(FILE *f, const char *name, const lfr__diff_rate *r)
{
    fprintf(f, "\"%s\": {\"estimable\": %s, \"value\": ", name, r->estimable ? "true" : "false");
    lfr_cli_json_num(f, r->estimable ? r->value : NAN);
    fprintf(f, ", \"ci\": [");
    lfr_cli_json_num(f, r->ci_low);
    fprintf(f, ", ");
    lfr_cli_json_num(f, r->ci_high);
    fprintf(f, "], \"n\": %zu, \"errors\": %zu, \"identities\": %d, \"ratio\": ", r->n, r->n_err,
            r->n_identities);
    lfr_cli_json_num(f, r->ratio_estimable ? r->ratio : NAN);
    fprintf(f, ", \"ratio_ci\": [");
    lfr_cli_json_num(f, r->ratio_low);
    fprintf(f, ", ");
    lfr_cli_json_num(f, r->ratio_high);
    fprintf(f, "]}");
}

/* The ROC / DET curve of the run's own comparisons as [threshold, FMR,
 * FNMR] points: the first and last, and between them a point wherever FMR or
 * FNMR has moved by a twentieth of a decade since the last one written
 * (about 20 points per decade instead of one per distinct score). */
static void write_det_json(FILE *f, const verify_run *v)
{
    lfr__eval_data d = {v->score, v->same, NULL, v->n_main};
    lfr__eval_roc_point *roc = malloc((v->n_main + 1) * sizeof *roc);
    size_t np = 0;
    if (!roc || v->s.n_genuine == 0 || v->s.n_impostor == 0 ||
        lfr__eval_roc(&d, roc, v->n_main + 1, &np) != LFR_OK) {
        free(roc);
        return;
    }
    double lx = NAN, ly = NAN;
    int first = 1;
    for (size_t i = 0; i < np; i++) {
        double x = roc[i].fmr, y = 1 - roc[i].tmr;
        double tx = x > 0 ? log10(x) : -99, ty = y > 0 ? log10(y) : -99;
        if (!first && i + 1 < np && fabs(tx - lx) < 0.05 && fabs(ty - ly) < 0.05) continue;
        fprintf(f, "%s[", first ? "" : ", ");
        lfr_cli_json_num(f, roc[i].threshold);
        fprintf(f, ", %.6g, %.6g]", x, y);
        first = 0;
        lx = tx;
        ly = ty;
    }
    free(roc);
}

static int write_verify_json(const opts *o, const verify_run *v)
{
    FILE *f = fopen(o->json_file, "w");
    if (!f) return fail("%s: cannot write: %s", o->json_file, strerror(errno));
    const lfr__eval_summary *s = &v->s;
    fprintf(f, "{\n  \"kind\": \"verify\",\n  \"manifest\": ");
    lfr_cli_json_str(f, o->pos[1]);
    fprintf(f, ",\n  \"dataset_sha256\": \"%s\",\n  \"protocol\": ", v->m.sha256);
    if (o->pairs)
        lfr_cli_json_str(f, o->pairs);
    else
        fprintf(f, "\"all genuine pairs%s, %ld sampled impostor pairs, seed %llu\"",
                o->genuine_per_id ? " (capped per identity)" : "",
                o->impostors_set ? o->impostors : (long)DEFAULT_IMPOSTORS,
                (unsigned long long)o->seed);
    fprintf(f, ",\n  \"genuine\": %zu,\n  \"impostor\": %zu,\n  \"images\": %zu,\n", s->n_genuine,
            s->n_impostor, v->n_images_used);
    fprintf(f,
            "  \"no_face\": %zu,\n  \"unreadable\": %zu,\n  \"comparisons_missing_a_face\": %zu,\n",
            v->no_face, v->unreadable, v->n_missing);
    fprintf(f, "  \"accuracy\": ");
    lfr_cli_json_num(f, s->has_kfold ? s->kfold.mean : NAN);
    fprintf(f, ",\n  \"accuracy_std\": ");
    lfr_cli_json_num(f, s->has_kfold ? s->kfold.std_pop : NAN);
    fprintf(f, ",\n  \"auc\": ");
    lfr_cli_json_num(f, s->auc);
    fprintf(f, ",\n  \"eer\": ");
    lfr_cli_json_num(f, s->eer.eer);
    const char *names[LFR__EVAL_N_FAR] = {"1e-2", "1e-3", "1e-4"};
    for (int k = 0; k < LFR__EVAL_N_FAR; k++) {
        fprintf(f, ",\n  \"tar_at_far_%s\": ", names[k]);
        lfr_cli_json_num(f, s->tar[k].supported ? s->tar[k].tar : NAN);
        fprintf(f, ",\n  \"threshold_at_far_%s\": ", names[k]);
        lfr_cli_json_num(f, s->tar[k].supported ? s->tar[k].threshold : NAN);
    }
    fprintf(f, ",\n  \"at_threshold\": [");
    for (int k = 0; k < v->n_at; k++) {
        fprintf(f, "%s\n    {\"threshold\": %.6g, \"fmr\": ", k ? "," : "", v->at[k].threshold);
        lfr_cli_json_num(f, v->at[k].fmr);
        fprintf(f, ", \"fnmr\": ");
        lfr_cli_json_num(f, v->at[k].fnmr);
        fprintf(f, ", \"false_matches\": %zu, \"false_nonmatches\": %zu}", v->at[k].n_false_match,
                v->at[k].n_false_nonmatch);
    }
    fprintf(f, "],\n  \"det\": [");
    write_det_json(f, v);
    fprintf(f, "],\n  \"differential_threshold\": ");
    lfr_cli_json_num(f, v->has_diff ? v->diff_thr : NAN);
    fprintf(f, ",\n  \"bootstrap_replicates\": %d,\n  \"groups\": {", o->bootstrap);
    for (int q = 0; q < v->n_cols; q++) {
        const column_result *cr = &v->cols[q];
        int c = cr->column;
        fprintf(f, "%s\n    ", q ? "," : "");
        lfr_cli_json_str(f, v->m.column[c]);
        fprintf(f, ": {\"reference\": ");
        lfr_cli_json_str(f, v->m.value[c][cr->reference]);
        fprintf(f, ", \"comparisons_in_no_group\": %zu, \"by_group\": {", cr->n_cross);
        for (int g = 0; g < cr->n_groups; g++) {
            fprintf(f, "%s\n      ", g ? "," : "");
            lfr_cli_json_str(f, v->m.value[c][g]);
            fprintf(f, ": {\"identities\": %d, \"images\": %zu, ", cr->n_ids[g], cr->n_images[g]);
            write_rate_json(f, "fnmr", &cr->g[g].pos);
            fprintf(f, ", ");
            write_rate_json(f, "fmr", &cr->g[g].neg);
            fprintf(f, "}");
        }
        fprintf(f, "}}");
    }
    fprintf(f,
            "},\n  \"seconds\": %.1f,\n  \"detector_sha256\": \"%s\",\n"
            "  \"embedder_sha256\": \"%s\",\n  \"version\": \"%s\"\n}\n",
            v->secs, v->det_sha, v->emb_sha, LFR_VERSION);
    if (fclose(f) != 0) return fail("%s: write failed", o->json_file);
    return 0;
}

/* A DET curve (FMR, FNMR) of the comparisons selected by sel (NULL: all). */
static int det_curve(const verify_run *v, const unsigned char *sel, double **x, double **y,
                     size_t *n_out)
{
    size_t n = 0;
    *x = *y = NULL;
    *n_out = 0;
    double *sc = malloc((v->cmp.n ? v->cmp.n : 1) * sizeof *sc);
    unsigned char *sa = malloc(v->cmp.n ? v->cmp.n : 1);
    lfr__eval_roc_point *roc = malloc((v->cmp.n + 1) * sizeof *roc);
    if (!sc || !sa || !roc) {
        free(sc);
        free(sa);
        free(roc);
        return fail("out of memory");
    }
    size_t ng = 0;
    for (size_t k = 0; k < v->cmp.n; k++)
        if (!sel || sel[k]) {
            sc[n] = v->score[k];
            sa[n] = v->same[k];
            ng += sa[n];
            n++;
        }
    size_t np = 0;
    lfr__eval_data d = {sc, sa, NULL, n};
    if (ng > 0 && ng < n && lfr__eval_roc(&d, roc, v->cmp.n + 1, &np) == LFR_OK) {
        *x = malloc((np ? np : 1) * sizeof **x);
        *y = malloc((np ? np : 1) * sizeof **y);
        if (*x && *y) {
            for (size_t i = 0; i < np; i++) {
                (*x)[i] = roc[i].fmr;
                (*y)[i] = 1 - roc[i].tmr;
            }
            *n_out = np;
        }
    }
    free(sc);
    free(sa);
    free(roc);
    return 0;
}

static int write_verify_html(const opts *o, const verify_run *v)
{
    FILE *f = fopen(o->html_file, "w");
    if (!f) return fail("%s: cannot write: %s", o->html_file, strerror(errno));
    const lfr__eval_summary *s = &v->s;
    lfr__html_begin(f, "openlfr 1:1 verification report");
    lfr__html_para(f,
                   "Manifest %s (sha256 %s); %zu genuine and %zu impostor comparisons of %zu "
                   "images; %s.",
                   o->pos[1], v->m.sha256, s->n_genuine, s->n_impostor, v->n_images_used,
                   o->pairs ? "pairs from a pairs file" : "all genuine pairs, sampled impostors");
    lfr__html_para(f, "Models: detector sha256 %s, embedder sha256 %s; openlfr %s.", v->det_sha,
                   v->emb_sha, LFR_VERSION);
    char b[8][96];
    const char *row[8];
    for (int i = 0; i < 8; i++)
        row[i] = b[i];
    const char *head[] = {"measure", "value"};
    lfr__html_table_begin(f, head, 2);
    if (s->has_kfold) {
        snprintf(b[0], sizeof b[0], "%d-fold accuracy", s->kfold.n_folds);
        snprintf(b[1], sizeof b[1], "%.2f %% ± %.2f", 100 * s->kfold.mean, 100 * s->kfold.std_pop);
        lfr__html_table_row(f, row, 2);
    }
    snprintf(b[0], sizeof b[0], "AUC");
    snprintf(b[1], sizeof b[1], "%.4f", s->auc);
    lfr__html_table_row(f, row, 2);
    snprintf(b[0], sizeof b[0], "EER");
    snprintf(b[1], sizeof b[1], "%.3f %%", 100 * s->eer.eer);
    lfr__html_table_row(f, row, 2);
    const char *fars[LFR__EVAL_N_FAR] = {"1e-2", "1e-3", "1e-4"};
    for (int k = 0; k < LFR__EVAL_N_FAR; k++) {
        snprintf(b[0], sizeof b[0], "TAR at FAR %s", fars[k]);
        if (s->tar[k].supported)
            snprintf(b[1], sizeof b[1], "%.2f %% (threshold %.4f)", 100 * s->tar[k].tar,
                     s->tar[k].threshold);
        else
            snprintf(b[1], sizeof b[1], "not estimable (%zu impostor comparisons)", s->n_impostor);
        lfr__html_table_row(f, row, 2);
    }
    for (int k = 0; k < v->n_at; k++) {
        snprintf(b[0], sizeof b[0], "FMR / FNMR at %.4f", v->at[k].threshold);
        snprintf(b[1], sizeof b[1], "%.3g / %.3g", v->at[k].fmr, v->at[k].fnmr);
        lfr__html_table_row(f, row, 2);
    }
    lfr__html_table_end(f);

    /* DET: overall, then each group of each column. */
    enum { MAXS = 24 };
    lfr__html_series se[MAXS];
    double *xs[MAXS], *ys[MAXS];
    char names[MAXS][80];
    int ns = 0, rc = 0;
    unsigned char *sel = malloc(v->cmp.n ? v->cmp.n : 1);
    if (!sel) {
        fclose(f);
        return fail("out of memory");
    }
    size_t np;
    for (size_t k = 0; k < v->cmp.n; k++)
        sel[k] = k < v->n_main;
    det_curve(v, sel, &xs[0], &ys[0], &np);
    snprintf(names[0], sizeof names[0], "all (%zu)", v->n_main);
    se[ns++] = (lfr__html_series){names[0], xs[0], ys[0], np, 0, 0};
    for (int q = 0; q < v->n_cols; q++) {
        const column_result *cr = &v->cols[q];
        for (int g = 0; g < cr->n_groups && ns < MAXS; g++) {
            /* Only groups whose rates are both estimable get a curve. */
            if (!cr->g[g].pos.estimable || !cr->g[g].neg.estimable) continue;
            for (size_t k = 0; k < v->cmp.n; k++)
                sel[k] = comparison_group(&v->m, &v->cmp, v->extra_col, cr->column, k) == g;
            det_curve(v, sel, &xs[ns], &ys[ns], &np);
            snprintf(names[ns], sizeof names[ns], "%s=%s", v->m.column[cr->column],
                     v->m.value[cr->column][g]);
            se[ns] = (lfr__html_series){names[ns], xs[ns], ys[ns], np, q % 2, 0};
            ns++;
        }
    }
    lfr__html_heading(f, "DET curves");
    lfr__html_para(f, "False non-match rate against false match rate, both on log scales, over "
                      "all comparisons and over each group whose rates are estimable (same-group "
                      "impostor pairs only).");
    lfr__html_plot det = {"DET: FNMR against FMR",
                          "false match rate (FMR)",
                          "false non-match rate (FNMR)",
                          1,
                          1,
                          0,
                          0,
                          0,
                          0,
                          se,
                          ns};
    if (s->n_impostor > 0) {
        det.xmin = pow(10, floor(log10(1.0 / (double)s->n_impostor)));
        det.xmax = 1;
    }
    if (s->n_genuine > 0) {
        det.ymin = pow(10, floor(log10(1.0 / (double)s->n_genuine)));
        det.ymax = 1;
    }
    lfr__html_lines(f, &det);
    for (int i = 0; i < ns; i++) {
        free(xs[i]);
        free(ys[i]);
    }

    /* Score histograms. */
    double *gen = malloc((v->cmp.n ? v->cmp.n : 1) * sizeof *gen),
           *imp = malloc((v->cmp.n ? v->cmp.n : 1) * sizeof *imp);
    if (!gen || !imp) {
        free(gen);
        free(imp);
        free(sel);
        fclose(f);
        return fail("out of memory");
    }
    size_t n_gen = 0, n_imp = 0;
    for (size_t k = 0; k < v->n_main; k++) {
        if (v->same[k])
            gen[n_gen++] = v->score[k];
        else
            imp[n_imp++] = v->score[k];
    }
    double marks[1] = {v->has_diff ? v->diff_thr : NAN};
    lfr__html_heading(f, "Score distributions");
    lfr__html_histogram(f, "Genuine and impostor scores", gen, n_gen, imp, n_imp, -0.4, 1.0, 70,
                        marks, 1);
    free(gen);
    free(imp);

    /* Per-group error rates with intervals. */
    if (v->has_diff) {
        lfr__html_heading(f, "Demographic differentials at threshold %.4f", v->diff_thr);
        lfr__html_para(f,
                       "Per group: FNMR over genuine pairs of the group's identities, FMR over "
                       "impostor pairs whose two images both carry the group's label; ratios to "
                       "the reference group; 95 %% intervals from %d bootstrap replicates "
                       "resampling identities within groups. A rate is not estimable when its "
                       "group has fewer than %d identities, or fewer comparisons than would show "
                       "one error at the overall rate.",
                       o->bootstrap, LFR__DIFF_MIN_IDENTITIES);
        for (int q = 0; q < v->n_cols; q++) {
            const column_result *cr = &v->cols[q];
            int c = cr->column, G = cr->n_groups;
            const char *h[] = {"group", "identities", "images",       "genuine", "FNMR [95% CI]",
                               "ratio", "impostor",   "FMR [95% CI]", "ratio"};
            lfr__html_heading(f, "By %s (reference: %s)", v->m.column[c],
                              v->m.value[c][cr->reference]);
            lfr__html_table_begin(f, h, 9);
            char cb[9][96];
            const char *cells[9];
            for (int i = 0; i < 9; i++)
                cells[i] = cb[i];
            for (int g = 0; g < G; g++) {
                const lfr__diff_group *d = &cr->g[g];
                snprintf(cb[0], sizeof cb[0], "%s", v->m.value[c][g]);
                snprintf(cb[1], sizeof cb[1], "%d", cr->n_ids[g]);
                snprintf(cb[2], sizeof cb[2], "%zu", cr->n_images[g]);
                snprintf(cb[3], sizeof cb[3], "%zu", d->pos.n);
                fmt_rate(cb[4], sizeof cb[4], d->pos.estimable, d->pos.value, d->pos.ci_low,
                         d->pos.ci_high);
                fmt_rate(cb[5], sizeof cb[5], d->pos.ratio_estimable, d->pos.ratio,
                         d->pos.ratio_low, d->pos.ratio_high);
                snprintf(cb[6], sizeof cb[6], "%zu", d->neg.n);
                fmt_rate(cb[7], sizeof cb[7], d->neg.estimable, d->neg.value, d->neg.ci_low,
                         d->neg.ci_high);
                fmt_rate(cb[8], sizeof cb[8], d->neg.ratio_estimable, d->neg.ratio,
                         d->neg.ratio_low, d->neg.ratio_high);
                lfr__html_table_row(f, cells, 9);
            }
            lfr__html_table_end(f);
            const char **labels = malloc((size_t)G * sizeof *labels);
            double *val = malloc((size_t)G * 3 * sizeof *val);
            int *est = malloc((size_t)G * sizeof *est);
            if (!labels || !val || !est) {
                free(labels);
                free(val);
                free(est);
                rc = fail("out of memory");
                break;
            }
            for (int kind = 0; kind < 2; kind++) {
                for (int g = 0; g < G; g++) {
                    const lfr__diff_rate *r = kind ? &cr->g[g].neg : &cr->g[g].pos;
                    labels[g] = v->m.value[c][g];
                    val[g] = r->value;
                    val[G + g] = r->ci_low;
                    val[2 * G + g] = r->ci_high;
                    est[g] = r->estimable;
                }
                char title[128];
                snprintf(title, sizeof title, "%s by %s", kind ? "FMR" : "FNMR", v->m.column[c]);
                lfr__html_intervals(f, title, kind ? "false match rate" : "false non-match rate",
                                    labels, val, val + G, val + 2 * G, est, G);
            }
            free(labels);
            free(val);
            free(est);
        }
    }
    free(sel);
    lfr__html_end(f);
    if (fclose(f) != 0 && !rc) rc = fail("%s: write failed", o->html_file);
    return rc;
}

static int store_verify(const opts *o, const verify_run *v, lfr_store *st, const lfr_user *me)
{
    figures fg = {0};
    const lfr__eval_summary *s = &v->s;
    int rc = 0;
    int64_t ng = (int64_t)s->n_genuine, ni = (int64_t)s->n_impostor;
    rc |= fig_add(&fg, "", "genuine comparisons", NAN, (double)ng, NAN, NAN, ng);
    rc |= fig_add(&fg, "", "impostor comparisons", NAN, (double)ni, NAN, NAN, ni);
    if (s->has_kfold)
        rc |= fig_add(&fg, "", "accuracy (k-fold)", NAN, s->kfold.mean, NAN, NAN, (int64_t)s->n);
    rc |= fig_add(&fg, "", "AUC", NAN, s->auc, NAN, NAN, (int64_t)s->n);
    rc |= fig_add(&fg, "", "EER", s->eer.threshold, s->eer.eer, NAN, NAN, (int64_t)s->n);
    const char *tars[LFR__EVAL_N_FAR] = {"TAR@FAR=0.01", "TAR@FAR=0.001", "TAR@FAR=0.0001"};
    for (int k = 0; k < LFR__EVAL_N_FAR; k++)
        rc |= fig_add(&fg, "", tars[k], s->tar[k].supported ? s->tar[k].threshold : NAN,
                      s->tar[k].supported ? s->tar[k].tar : NAN, NAN, NAN, ng);
    for (int k = 0; k < v->n_at; k++) {
        rc |= fig_add(&fg, "", "FMR", v->at[k].threshold, v->at[k].fmr, NAN, NAN, ni);
        rc |= fig_add(&fg, "", "FNMR", v->at[k].threshold, v->at[k].fnmr, NAN, NAN, ng);
    }
    for (int q = 0; q < v->n_cols && !rc; q++) {
        const column_result *cr = &v->cols[q];
        int c = cr->column;
        for (int g = 0; g < cr->n_groups && !rc; g++) {
            char grp[256];
            snprintf(grp, sizeof grp, "%s=%s", v->m.column[c], v->m.value[c][g]);
            const lfr__diff_group *d = &cr->g[g];
            double t = v->diff_thr;
            rc |= fig_add(&fg, grp, "identities", NAN, cr->n_ids[g], NAN, NAN, cr->n_ids[g]);
            rc |= fig_add(&fg, grp, "images", NAN, (double)cr->n_images[g], NAN, NAN,
                          (int64_t)cr->n_images[g]);
            const lfr__diff_rate *r[2] = {&d->pos, &d->neg};
            const char *nm[2][2] = {{"FNMR", "FNMR ratio"}, {"FMR", "FMR ratio"}};
            for (int k = 0; k < 2; k++) {
                rc |= fig_add(&fg, grp, nm[k][0], t, r[k]->estimable ? r[k]->value : NAN,
                              r[k]->ci_low, r[k]->ci_high, (int64_t)r[k]->n);
                rc |= fig_add(&fg, grp, nm[k][1], t, r[k]->ratio_estimable ? r[k]->ratio : NAN,
                              r[k]->ratio_low, r[k]->ratio_high, (int64_t)r[k]->n);
            }
        }
    }
    if (rc) {
        figures_free(&fg);
        return 1;
    }
    char model[300], engine[200], notes[600];
    snprintf(model, sizeof model, "detector %s sha256 %s; embedder MobileFaceNet.tflite sha256 %s",
             o->cfg.detector == LFR_DETECTOR_SHORT_RANGE ? "face_detection_short_range.tflite"
                                                         : "face_detection_full_range.tflite",
             v->det_sha, v->emb_sha);
    snprintf(engine, sizeof engine, "openlfr %s / XNNPACK %s", LFR_VERSION, lfr_backend_version());
    if (o->pairs)
        snprintf(notes, sizeof notes,
                 "1:1 on the pairs of %s; differential threshold %.6g; "
                 "bootstrap %d replicates over identities, seed %llu",
                 o->pairs, v->diff_thr, o->bootstrap, (unsigned long long)o->seed);
    else
        snprintf(notes, sizeof notes,
                 "1:1 on all genuine pairs%s and %ld sampled impostor pairs (seed %llu); "
                 "differential threshold %.6g%s; bootstrap %d replicates over identities",
                 o->genuine_per_id ? " (capped per identity)" : "",
                 o->impostors_set ? o->impostors : (long)DEFAULT_IMPOSTORS,
                 (unsigned long long)o->seed, v->diff_thr,
                 o->diff_threshold_set ? "" : " (overall FMR 1e-3)", o->bootstrap);
    const char *base = strrchr(o->pos[1], '/');
    lfr_evaluation e = {0};
    e.kind = "verify";
    e.dataset = o->dataset ? o->dataset : base ? base + 1 : o->pos[1];
    e.dataset_sha256 = v->m.sha256;
    e.model = model;
    e.engine_version = engine;
    e.notes = notes;
    int64_t id;
    if (lfr_store_evaluation_add(st, me, &e, fg.m, fg.n, &id) != LFR_OK)
        rc = fail("%s", lfr_errmsg());
    else
        printf("\nrecorded evaluation %lld (%zu figures) in %s\n", (long long)id, fg.n, o->home);
    figures_free(&fg);
    return rc;
}

static void verify_run_free(verify_run *v)
{
    for (int q = 0; q < v->n_cols; q++)
        column_result_free(&v->cols[q]);
    free(v->score);
    free(v->same);
    free(v->extra_col);
    lfr__eval_comparisons_free(&v->cmp);
    lfr__manifest_free(&v->m);
}

/*
 * Impostor pairs within each group of the chosen columns, appended after the
 * run's sample and used only for those groups' rates: a uniform sample of a
 * data set holds too few same-group impostor pairs of a small group (LFW's
 * 178 images labelled african make 1 pair in 5,500 of a uniform sample).
 * Per group, every pair of images of different identities when there are at
 * most n of them, else n drawn uniformly with replacement. Either way the
 * group's impostor pairs remain a uniform sample of its impostor pairs, so
 * the union with the run's own same-group pairs is one too.
 */
static int add_group_impostors(verify_run *v, const int *cols, int n_cols, size_t n, uint64_t seed)
{
    const lfr__manifest *m = &v->m;
    size_t n0 = v->cmp.n, cap = n0, k = n0;
    uint64_t st = seed ^ 0x5eed5eedull;
    size_t *img = malloc((m->n_images ? m->n_images : 1) * sizeof *img);
    v->extra_col = malloc((n0 ? n0 : 1) * sizeof *v->extra_col);
    if (!img || !v->extra_col) {
        free(img);
        return fail("out of memory");
    }
    for (size_t q = 0; q < n0; q++)
        v->extra_col[q] = -1;
    int rc = 0;
    for (int ci = 0; ci < n_cols && !rc; ci++) {
        int c = cols[ci];
        for (int g = 0; g < m->n_values[c] && !rc; g++) {
            size_t ni = 0;
            for (size_t i = 0; i < m->n_images; i++)
                if (m->label[c][i] == g) img[ni++] = i;
            /* Pairs of different identities in the group. */
            size_t total = 0;
            for (size_t x = 0; x < ni; x++)
                for (size_t y = x + 1; y < ni; y++)
                    total += m->identity[img[x]] != m->identity[img[y]];
            if (total == 0) continue;
            size_t want = total <= n ? total : n;
            if (k + want > cap) {
                size_t nc = k + want;
                uint32_t *na = realloc(v->cmp.a, nc * sizeof *na);
                if (na) v->cmp.a = na;
                uint32_t *nb = realloc(v->cmp.b, nc * sizeof *nb);
                if (nb) v->cmp.b = nb;
                unsigned char *ns = realloc(v->cmp.same, nc);
                if (ns) v->cmp.same = ns;
                int *nf = realloc(v->cmp.fold, nc * sizeof *nf);
                if (nf) v->cmp.fold = nf;
                int *ne = realloc(v->extra_col, nc * sizeof *ne);
                if (ne) v->extra_col = ne;
                if (!na || !nb || !ns || !nf || !ne) {
                    rc = fail("out of memory");
                    break;
                }
                cap = nc;
            }
            if (total <= n) {
                for (size_t x = 0; x < ni; x++)
                    for (size_t y = x + 1; y < ni; y++)
                        if (m->identity[img[x]] != m->identity[img[y]]) {
                            v->cmp.a[k] = (uint32_t)img[x];
                            v->cmp.b[k++] = (uint32_t)img[y];
                        }
            } else {
                for (size_t q = 0; q < want; q++) {
                    size_t x, y;
                    do {
                        x = img[lfr__rng_below(&st, ni)];
                        y = img[lfr__rng_below(&st, ni)];
                    } while (m->identity[x] == m->identity[y]);
                    v->cmp.a[k] = (uint32_t)x;
                    v->cmp.b[k++] = (uint32_t)y;
                }
            }
            for (size_t q = k - want; q < k; q++) {
                v->cmp.same[q] = 0;
                v->cmp.fold[q] = 0;
                v->extra_col[q] = c;
            }
        }
    }
    free(img);
    v->cmp.n = k;
    return rc;
}

int lfr_cli_eval_verify(opts *o)
{
    if (o->n_pos != 2 || !o->data)
        return fail("usage: lfr eval verify MANIFEST --data DIR [--pairs FILE | --impostors N] "
                    "[--threshold X]... [--diff-threshold X] [--json FILE] [--html FILE] "
                    "[--cache FILE] [--home DIR --user NAME]");
    if (o->pairs && (o->impostors_set || o->genuine_per_id))
        return fail("--pairs and --impostors/--genuine-per-id exclude each other");
    verify_run *v = calloc(1, sizeof *v);
    if (!v) return fail("out of memory");
    lfr_store *st = NULL;
    lfr_user me;
    int rc = 0;
    eval_job j;
    memset(&j, 0, sizeof j);
    size_t *img_of = NULL, *slot = NULL;
    const char **paths = NULL, **shas = NULL;
    if (o->home && lfr_cli_store_login(o, &st, &me)) {
        free(v);
        return 1;
    }
    if (lfr__manifest_load(o->pos[1], &v->m) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    if (o->pairs) {
        lfr__eval_pairs pairs;
        if (lfr__eval_pairs_load(o->pairs, &pairs) != LFR_OK) {
            rc = fail("%s", lfr_errmsg());
            goto out;
        }
        int e = lfr__eval_comparisons_from_pairs(&v->m, &pairs, &v->cmp);
        lfr__eval_pairs_free(&pairs);
        if (e != LFR_OK) {
            rc = fail("%s", lfr_errmsg());
            goto out;
        }
    } else if (lfr__eval_comparisons_sample(&v->m, (size_t)o->genuine_per_id,
                                            o->impostors_set ? (size_t)o->impostors
                                                             : DEFAULT_IMPOSTORS,
                                            o->seed, &v->cmp) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    v->n_main = v->cmp.n;
    int cols[EVAL_MAX_GROUP_COLUMNS], n_cols = 0;
    if (pick_columns(o, &v->m, cols, &n_cols)) {
        rc = 1;
        goto out;
    }
    if (o->impostors_per_group > 0 &&
        add_group_impostors(v, cols, n_cols, (size_t)o->impostors_per_group, o->seed)) {
        rc = 1;
        goto out;
    }
    /* The images the comparisons use, each embedded once. */
    size_t n_img = v->m.n_images, n_used = 0;
    slot = malloc(n_img * sizeof *slot);
    img_of = malloc(n_img * sizeof *img_of);
    paths = malloc(n_img * sizeof *paths);
    shas = malloc(n_img * sizeof *shas);
    v->score = malloc((v->cmp.n ? v->cmp.n : 1) * sizeof *v->score);
    v->same = malloc(v->cmp.n ? v->cmp.n : 1);
    if (!slot || !img_of || !paths || !shas || !v->score || !v->same) {
        rc = fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_img; i++)
        slot[i] = SIZE_MAX;
    for (size_t k = 0; k < v->cmp.n; k++) {
        uint32_t ab[2] = {v->cmp.a[k], v->cmp.b[k]};
        for (int t = 0; t < 2; t++)
            if (slot[ab[t]] == SIZE_MAX) {
                slot[ab[t]] = n_used;
                img_of[n_used] = ab[t];
                paths[n_used] = v->m.path[ab[t]];
                shas[n_used] =
                    v->m.sha256_column >= 0
                        ? v->m.value[v->m.sha256_column][v->m.label[v->m.sha256_column][ab[t]]]
                        : NULL;
                n_used++;
            }
    }
    v->n_images_used = n_used;
    j.tpl = calloc(n_used ? n_used : 1, LFR_TEMPLATE_DIM * sizeof(float));
    j.found = calloc(n_used ? n_used : 1, 1);
    j.expect_sha = shas;
    if (!j.tpl || !j.found) {
        rc = fail("out of memory");
        goto out;
    }
    fprintf(stderr, "lfr: %zu comparisons of %zu images (manifest sha256 %s)\n", v->cmp.n, n_used,
            v->m.sha256);
    if (lfr_cli_embed_paths(o, o->data, paths, n_used, &j, &v->secs) != 0) {
        rc = 1;
        goto out;
    }
    memcpy(v->det_sha, j.det_sha, sizeof v->det_sha);
    memcpy(v->emb_sha, j.emb_sha, sizeof v->emb_sha);
    for (size_t i = 0; i < n_used; i++) {
        v->no_face += j.found[i] == 0;
        v->unreadable += j.found[i] == 2;
    }
    /* Scores; a comparison with a missing face scores -1 (it counts as
     * "different"), the LFW practice, and is counted. */
    for (size_t k = 0; k < v->cmp.n; k++) {
        size_t a = slot[v->cmp.a[k]], b = slot[v->cmp.b[k]];
        v->score[k] = j.found[a] == 1 && j.found[b] == 1
                          ? (double)lfr_template_similarity(j.tpl + a * LFR_TEMPLATE_DIM,
                                                            j.tpl + b * LFR_TEMPLATE_DIM)
                          : -1.0;
        v->n_missing += !(j.found[a] == 1 && j.found[b] == 1);
        v->same[k] = v->cmp.same[k];
    }
    sodium_memzero(j.tpl, n_used * LFR_TEMPLATE_DIM * sizeof(float));
    /* Overall figures from the run's own sample, not the per-group extras. */
    lfr__eval_data d = {v->score, v->same, v->cmp.fold, v->n_main};
    int kfold = v->cmp.n_folds >= 2 ? v->cmp.n_folds : 0;
    if (lfr__eval_summarize(&d, kfold, &v->s) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        goto out;
    }
    const lfr__eval_summary *s = &v->s;
    if (o->n_thresholds == 0) {
        o->thresholds[0] = LFR_DEFAULT_THRESHOLD;
        o->n_thresholds = 1;
    }
    v->n_at = o->n_thresholds;
    for (int k = 0; k < v->n_at; k++)
        lfr__eval_rates_at(&d, o->thresholds[k], &v->at[k]);

    printf("1:1 verification on %s (sha256 %s)\n", o->pos[1], v->m.sha256);
    printf("%zu genuine and %zu impostor comparisons of %zu images in %.1f s; no face in %zu "
           "images, %zu unreadable; %zu comparisons scored -1 for a missing face\n",
           s->n_genuine, s->n_impostor, n_used, v->secs, v->no_face, v->unreadable, v->n_missing);
    if (s->has_kfold)
        printf("accuracy        %.2f %% +- %.2f (%d-fold, threshold chosen on the other folds)\n",
               100 * s->kfold.mean, 100 * s->kfold.std_pop, s->kfold.n_folds);
    printf("AUC             %.4f\nEER             %.3f %% (threshold %.4f)\n", s->auc,
           100 * s->eer.eer, s->eer.threshold);
    const char *fars[LFR__EVAL_N_FAR] = {"1e-2", "1e-3", "1e-4"};
    for (int k = 0; k < LFR__EVAL_N_FAR; k++) {
        if (s->tar[k].supported)
            printf("TAR at FAR %-4s %.2f %% (threshold %.4f, FAR %.2g)\n", fars[k],
                   100 * s->tar[k].tar, s->tar[k].threshold, s->tar[k].far);
        else
            printf("TAR at FAR %-4s not estimable: %zu impostor comparisons cannot measure it\n",
                   fars[k], s->n_impostor);
    }
    for (int k = 0; k < v->n_at; k++)
        printf("at threshold %.4f: FMR %.4g (%zu of %zu), FNMR %.4g (%zu of %zu)\n",
               v->at[k].threshold, v->at[k].fmr, v->at[k].n_false_match, v->at[k].n_impostor,
               v->at[k].fnmr, v->at[k].n_false_nonmatch, v->at[k].n_genuine);

    /* Differentials. */
    if (o->diff_threshold_set) {
        v->diff_thr = o->diff_threshold;
        v->has_diff = 1;
    } else if (s->tar[1].supported) {
        v->diff_thr = s->tar[1].threshold;
        v->has_diff = 1;
    } else {
        printf("\ndemographic differentials: not estimable at overall FMR 1e-3 with %zu impostor "
               "comparisons (give --diff-threshold or more --impostors)\n",
               s->n_impostor);
    }
    if (v->has_diff) {
        lfr__eval_rates overall;
        lfr__eval_rates_at(&d, v->diff_thr, &overall);
        printf("\ndifferentials at threshold %.4f%s: overall FMR %.3g, FNMR %.3g\n", v->diff_thr,
               o->diff_threshold_set ? "" : " (overall FMR 1e-3)", overall.fmr, overall.fnmr);
        for (int q = 0; q < n_cols; q++) {
            if (differentials(o, &v->m, &v->cmp, v->extra_col, v->score, v->diff_thr, &overall,
                              cols[q], &v->cols[v->n_cols])) {
                rc = 1;
                goto out;
            }
            print_column(&v->m, &v->cols[v->n_cols], v->diff_thr);
            v->n_cols++;
        }
        if (n_cols)
            printf("(95 %% intervals: %d bootstrap replicates resampling identities; not "
                   "estimable: fewer than %d identities, or fewer comparisons than one error at "
                   "the overall rate)\n",
                   o->bootstrap, LFR__DIFF_MIN_IDENTITIES);
    }
    if (o->json_file && write_verify_json(o, v)) rc = 1;
    if (o->html_file && write_verify_html(o, v)) rc = 1;
    if (!rc && st && store_verify(o, v, st, &me)) rc = 1;
out:
    if (j.tpl) sodium_memzero(j.tpl, v->n_images_used * LFR_TEMPLATE_DIM * sizeof(float));
    free(j.tpl);
    free(j.found);
    free(slot);
    free(img_of);
    free(paths);
    free(shas);
    verify_run_free(v);
    free(v);
    lfr_store_close(st);
    return rc;
}

/* ---- eval identify: groups, report, record ----------------------------------------------- */

/* Per-group FNIR and FPIR of one manifest column at threshold thr. A search
 * belongs to the group of its probe image's label; its identity is the
 * probe's person (a non-mated probe is its own person). */
static int ident_groups(const opts *o, const lfr_cli_ident *r, const lfr__manifest *m,
                        const long *img_row, int c, double thr,
                        const lfr__eval_ident_rates *overall, column_result *out)
{
    memset(out, 0, sizeof *out);
    out->column = c;
    out->n_groups = m->n_values[c];
    size_t n = r->n_mated + r->n_nonmated;
    lfr__diff_item *items = malloc((n ? n : 1) * sizeof *items);
    out->g = calloc((size_t)out->n_groups, sizeof *out->g);
    out->n_images = calloc((size_t)out->n_groups, sizeof *out->n_images);
    out->n_ids = calloc((size_t)out->n_groups, sizeof *out->n_ids);
    int *last = malloc(((size_t)r->n_people + 1) * sizeof *last);
    if (!items || !out->g || !out->n_images || !out->n_ids || !last) {
        free(items);
        free(last);
        column_result_free(out);
        return fail("out of memory");
    }
    for (int p = 0; p < r->n_people; p++)
        last[p] = -1;
    for (size_t k = 0; k < n; k++) {
        int mated = k < r->n_mated;
        size_t img = mated ? r->mated_img[k] : r->nonmated_img[k - r->n_mated];
        const lfr__eval_search_result *s = mated ? &r->mated[k] : &r->nonmated[k - r->n_mated];
        long row = img_row[img];
        int g = row >= 0 ? m->label[c][row] : -1;
        int person = r->person[img];
        items[k] = (lfr__diff_item){
            .id_a = person,
            .id_b = -1,
            .group = g,
            .pos = (unsigned char)mated,
            .err = mated ? !(s->mate_rank == 1 && s->mate_score >= thr) : s->top_score >= thr,
        };
        if (g >= 0)
            out->n_images[g]++;
        else
            out->n_cross++;
    }
    /* People per group: last[person] is the last group that counted them. */
    for (int g = 0; g < out->n_groups; g++)
        for (size_t k = 0; k < n; k++)
            if (items[k].group == g && last[items[k].id_a] != g) {
                last[items[k].id_a] = g;
                out->n_ids[g]++;
            }
    free(last);
    int ref = 0;
    for (int g = 1; g < out->n_groups; g++)
        if (out->n_ids[g] > out->n_ids[ref]) ref = g;
    for (int q = 0; q < o->n_references; q++) {
        const char *eq = strchr(o->references[q], '=');
        size_t len = (size_t)(eq - o->references[q]);
        if (strlen(m->column[c]) != len || strncmp(m->column[c], o->references[q], len)) continue;
        ref = -1;
        for (int g = 0; g < out->n_groups; g++)
            if (!strcmp(m->value[c][g], eq + 1)) ref = g;
        if (ref < 0) {
            free(items);
            column_result_free(out);
            return fail("--reference %s: no such group in column %s", o->references[q],
                        m->column[c]);
        }
    }
    out->reference = ref;
    lfr__diff_params p = {out->n_groups, ref, o->bootstrap, o->seed, overall->fnir, overall->fpir};
    int rc = 0;
    if (lfr__diff_compute(items, n, r->n_people, &p, out->g) != LFR_OK) {
        rc = fail("%s", lfr_errmsg());
        column_result_free(out);
    }
    free(items);
    return rc;
}

static void print_ident_column(const lfr__manifest *m, const column_result *cr, double thr)
{
    int c = cr->column;
    printf("\nby %s at threshold %.4f (reference group: %s; %zu searches without a label)\n",
           m->column[c], thr, m->value[c][cr->reference], cr->n_cross);
    printf("%-14s %7s %8s %-34s %-30s %8s %-34s %-30s\n", "group", "people", "mated",
           "FNIR [95% CI]", "FNIR ratio [95% CI]", "nonmated", "FPIR [95% CI]",
           "FPIR ratio [95% CI]");
    for (int g = 0; g < cr->n_groups; g++) {
        const lfr__diff_group *d = &cr->g[g];
        char a[64], b[64], x[64], y[64];
        fmt_rate(a, sizeof a, d->pos.estimable, d->pos.value, d->pos.ci_low, d->pos.ci_high);
        fmt_rate(b, sizeof b, d->pos.ratio_estimable, d->pos.ratio, d->pos.ratio_low,
                 d->pos.ratio_high);
        fmt_rate(x, sizeof x, d->neg.estimable, d->neg.value, d->neg.ci_low, d->neg.ci_high);
        fmt_rate(y, sizeof y, d->neg.ratio_estimable, d->neg.ratio, d->neg.ratio_low,
                 d->neg.ratio_high);
        printf("%-14s %7d %8zu %-34s %-30s %8zu %-34s %-30s\n", m->value[c][g], cr->n_ids[g],
               d->pos.n, a, b, d->neg.n, x, y);
    }
}

static void ident_interval_plots(FILE *f, const lfr__manifest *m, const column_result *cr,
                                 const char **labels, double *val, int *est)
{
    int c = cr->column, G = cr->n_groups;
    for (int kind = 0; kind < 2; kind++) {
        for (int g = 0; g < G; g++) {
            const lfr__diff_rate *d = kind ? &cr->g[g].neg : &cr->g[g].pos;
            labels[g] = m->value[c][g];
            val[g] = d->value;
            val[G + g] = d->ci_low;
            val[2 * G + g] = d->ci_high;
            est[g] = d->estimable;
        }
        char title[128];
        snprintf(title, sizeof title, "%s by %s", kind ? "FPIR" : "FNIR", m->column[c]);
        lfr__html_intervals(f, title,
                            kind ? "false positive identification rate"
                                 : "false negative identification rate",
                            labels, val, val + G, val + 2 * G, est, G);
    }
}

static int write_ident_html(const opts *o, const lfr_cli_ident *r, const lfr__manifest *m,
                            const column_result *cols, int n_cols, double thr)
{
    FILE *f = fopen(o->html_file, "w");
    if (!f) return fail("%s: cannot write: %s", o->html_file, strerror(errno));
    int rc = 0;
    lfr__html_begin(f, "openlfr 1:N identification report");
    lfr__html_para(f,
                   "%s open-set 1:N: gallery of %zu people (the first image of each person with "
                   "two or more images), %zu mated probes (their other images), %zu non-mated "
                   "probes (the people with one image).",
                   r->protocol, r->n_gallery, r->n_mated, r->n_nonmated);
    lfr__html_para(f, "Models: detector sha256 %s, embedder sha256 %s; openlfr %s.", r->det_sha,
                   r->emb_sha, LFR_VERSION);
    const char *head[] = {"measure", "value"};
    char b0[96], b1[96];
    const char *row[2] = {b0, b1};
    lfr__html_table_begin(f, head, 2);
    for (int k = 0; k < 3; k++) {
        snprintf(b0, sizeof b0, "FNIR at FPIR %g", r->targets[k]);
        if (r->at[k].supported)
            snprintf(b1, sizeof b1, "%.2f %% (threshold %.3f)", 100 * r->at[k].fnir,
                     r->at[k].threshold);
        else
            snprintf(b1, sizeof b1, "not estimable (%zu non-mated searches)", r->n_nonmated);
        lfr__html_table_row(f, row, 2);
    }
    snprintf(b0, sizeof b0, "rank-1 identification rate");
    snprintf(b1, sizeof b1, "%.2f %%", 100 * r->cmc[0]);
    lfr__html_table_row(f, row, 2);
    snprintf(b0, sizeof b0, "TPIR / FPIR at %.2f", (double)LFR_DEFAULT_THRESHOLD);
    snprintf(b1, sizeof b1, "%.2f %% / %.2f %%", 100 * r->at_default->tpir,
             100 * r->at_default->fpir);
    lfr__html_table_row(f, row, 2);
    lfr__html_table_end(f);

    /* Projection: false alerts per 10,000 faces against watchlist size,
     * measured (solid) and modelled (dashed), per threshold. */
    enum { MAXT = 8, MAXS = 16 };
    int nt = r->n_thresholds < MAXT ? r->n_thresholds : MAXT;
    int ns = r->n_sizes < MAXS ? r->n_sizes : MAXS;
    double x[MAXT][MAXS], ym[MAXT][MAXS], yd[MAXT][MAXS];
    char names[2 * MAXT][48];
    lfr__html_series se[2 * MAXT];
    int n_se = 0;
    for (int t = 0; t < nt; t++) {
        for (int q = 0; q < ns; q++) {
            const lfr__eval_projection_point *p = &r->proj[t * r->n_sizes + q];
            x[t][q] = p->gallery_size;
            ym[t][q] = p->fpir_model * 1e4;
            yd[t][q] = isnan(p->fpir_measured) ? NAN : p->fpir_measured * 1e4;
        }
        snprintf(names[2 * t], sizeof names[0], "%.2f measured", r->thresholds[t]);
        snprintf(names[2 * t + 1], sizeof names[0], "%.2f model", r->thresholds[t]);
        se[n_se++] = (lfr__html_series){names[2 * t], x[t], yd[t], (size_t)ns, 0, t + 1};
        se[n_se++] = (lfr__html_series){names[2 * t + 1], x[t], ym[t], (size_t)ns, 1, t + 1};
    }
    lfr__html_heading(f, "Projection of false alerts with watchlist size");
    lfr__html_para(f, "False alerts per 10,000 faces seen (one search per face), measured by "
                      "sampling watchlists from the gallery (solid), and modelled as "
                      "1-(1-FMR)^size from the per-comparison false match rate (dashed), for "
                      "each threshold. Zero measured alerts cannot be drawn on a log scale.");
    lfr__html_plot pp = {"False alerts per 10,000 faces",
                         "watchlist size (people)",
                         "false alerts per 10,000 faces",
                         1,
                         1,
                         0,
                         0,
                         0.1,
                         1e4,
                         se,
                         n_se};
    lfr__html_lines(f, &pp);

    double ranks[20], cmc[20];
    for (int k = 0; k < 20; k++) {
        ranks[k] = k + 1;
        cmc[k] = r->cmc[k];
    }
    lfr__html_series cs = {"CMC", ranks, cmc, 20, 0, 0};
    lfr__html_plot cp = {"Cumulative match characteristic",
                         "rank",
                         "identification rate",
                         0,
                         0,
                         1,
                         20,
                         0,
                         1,
                         &cs,
                         1};
    if (isfinite(r->cmc[0])) cp.ymin = floor(r->cmc[0] * 20) / 20;
    if (cp.ymin >= 1) cp.ymin = 0.95;
    lfr__html_heading(f, "Rank");
    lfr__html_lines(f, &cp);

    double *mate = malloc((r->n_mated ? r->n_mated : 1) * sizeof *mate),
           *top = malloc((r->n_nonmated ? r->n_nonmated : 1) * sizeof *top);
    if (!mate || !top) {
        free(mate);
        free(top);
        fclose(f);
        return fail("out of memory");
    }
    for (size_t k = 0; k < r->n_mated; k++)
        mate[k] = r->mated[k].mate_score;
    for (size_t k = 0; k < r->n_nonmated; k++)
        top[k] = r->nonmated[k].top_score;
    lfr__html_heading(f, "Scores");
    lfr__html_para(f, "Mated searches: the mate's score; non-mated searches: the top score.");
    double marks[1] = {thr};
    lfr__html_histogram(f, "Mated and non-mated search scores", mate, r->n_mated, top,
                        r->n_nonmated, -0.4, 1.0, 70, marks, 1);
    free(mate);
    free(top);
    if (n_cols) {
        lfr__html_heading(f, "Demographic differentials at threshold %.4f", thr);
        lfr__html_para(f,
                       "FNIR over each group's mated searches, FPIR over its non-mated searches, "
                       "by the probe's label; 95 %% intervals from %d bootstrap replicates "
                       "resampling people within groups; not estimable: fewer than %d people, "
                       "or fewer searches than one error at the overall rate.",
                       o->bootstrap, LFR__DIFF_MIN_IDENTITIES);
    }
    for (int q = 0; q < n_cols && !rc; q++) {
        int G = cols[q].n_groups;
        const char **labels = malloc((size_t)G * sizeof *labels);
        double *val = malloc((size_t)G * 3 * sizeof *val);
        int *est = malloc((size_t)G * sizeof *est);
        if (!labels || !val || !est)
            rc = fail("out of memory");
        else
            ident_interval_plots(f, m, &cols[q], labels, val, est);
        free(labels);
        free(val);
        free(est);
    }
    lfr__html_end(f);
    if (fclose(f) != 0 && !rc) rc = fail("%s: write failed", o->html_file);
    return rc;
}

static int store_ident(const opts *o, const lfr_cli_ident *r, const lfr__manifest *m,
                       const char *dataset_sha, const column_result *cols, int n_cols, double thr,
                       lfr_store *st, const lfr_user *me)
{
    figures fg = {0};
    int rc = 0;
    int64_t nm = (int64_t)r->n_mated, nn = (int64_t)r->n_nonmated;
    rc |= fig_add(&fg, "", "gallery", NAN, (double)r->n_gallery, NAN, NAN, (int64_t)r->n_gallery);
    for (int k = 0; k < 3 && !rc; k++) {
        char name[64];
        snprintf(name, sizeof name, "FNIR@FPIR=%g", r->targets[k]);
        rc |= fig_add(&fg, "", name, r->at[k].supported ? r->at[k].threshold : NAN,
                      r->at[k].supported ? r->at[k].fnir : NAN, NAN, NAN, nm);
    }
    rc |= fig_add(&fg, "", "rank1", NAN, r->cmc[0], NAN, NAN, nm);
    rc |= fig_add(&fg, "", "TPIR", LFR_DEFAULT_THRESHOLD, r->at_default->tpir, NAN, NAN, nm);
    rc |= fig_add(&fg, "", "FPIR", LFR_DEFAULT_THRESHOLD, r->at_default->fpir, NAN, NAN, nn);
    for (int t = 0; t < r->n_thresholds && !rc; t++)
        for (int q = 0; q < r->n_sizes && !rc; q++) {
            const lfr__eval_projection_point *p = &r->proj[t * r->n_sizes + q];
            char name[64];
            snprintf(name, sizeof name, "FPIR@watchlist=%d (measured)", p->gallery_size);
            rc |= fig_add(&fg, "", name, p->threshold, p->fpir_measured, NAN, NAN, nn);
            snprintf(name, sizeof name, "FPIR@watchlist=%d (model)", p->gallery_size);
            rc |= fig_add(&fg, "", name, p->threshold, p->fpir_model, NAN, NAN,
                          (int64_t)p->n_comparisons);
        }
    for (int q = 0; q < n_cols && !rc; q++) {
        const column_result *cr = &cols[q];
        int c = cr->column;
        for (int g = 0; g < cr->n_groups && !rc; g++) {
            char grp[256];
            snprintf(grp, sizeof grp, "%s=%s", m->column[c], m->value[c][g]);
            const lfr__diff_group *d = &cr->g[g];
            rc |= fig_add(&fg, grp, "people", NAN, cr->n_ids[g], NAN, NAN, cr->n_ids[g]);
            const lfr__diff_rate *x[2] = {&d->pos, &d->neg};
            const char *nmz[2][2] = {{"FNIR", "FNIR ratio"}, {"FPIR", "FPIR ratio"}};
            for (int k = 0; k < 2; k++) {
                rc |= fig_add(&fg, grp, nmz[k][0], thr, x[k]->estimable ? x[k]->value : NAN,
                              x[k]->ci_low, x[k]->ci_high, (int64_t)x[k]->n);
                rc |= fig_add(&fg, grp, nmz[k][1], thr, x[k]->ratio_estimable ? x[k]->ratio : NAN,
                              x[k]->ratio_low, x[k]->ratio_high, (int64_t)x[k]->n);
            }
        }
    }
    if (rc) {
        figures_free(&fg);
        return 1;
    }
    char model[300], engine[200], notes[400];
    snprintf(model, sizeof model, "detector %s sha256 %s; embedder MobileFaceNet.tflite sha256 %s",
             o->cfg.detector == LFR_DETECTOR_SHORT_RANGE ? "face_detection_short_range.tflite"
                                                         : "face_detection_full_range.tflite",
             r->det_sha, r->emb_sha);
    snprintf(engine, sizeof engine, "openlfr %s / XNNPACK %s", LFR_VERSION, lfr_backend_version());
    snprintf(notes, sizeof notes,
             "%s open-set 1:N (gallery: first image of each person with 2+ images)%s; group "
             "threshold %.6g; bootstrap %d replicates over people",
             r->protocol, o->people ? " on the first --people people" : "", thr, o->bootstrap);
    lfr_evaluation e = {0};
    e.kind = "identify";
    const char *base = strrchr(r->protocol, '/');
    e.dataset = o->dataset                    ? o->dataset
                : !strcmp(r->protocol, "LFW") ? "LFW (lfw-names.txt)"
                : base                        ? base + 1
                                              : r->protocol;
    e.dataset_sha256 = dataset_sha;
    e.model = model;
    e.engine_version = engine;
    e.notes = notes;
    int64_t id;
    if (lfr_store_evaluation_add(st, me, &e, fg.m, fg.n, &id) != LFR_OK)
        rc = fail("%s", lfr_errmsg());
    else
        printf("\nrecorded evaluation %lld (%zu figures) in %s\n", (long long)id, fg.n, o->home);
    figures_free(&fg);
    return rc;
}

/* The number of protocol images the searches refer to. */
static size_t ident_n_images(const lfr_cli_ident *r)
{
    size_t n = 0;
    for (size_t k = 0; k < r->n_mated; k++)
        if (r->mated_img[k] + 1 > n) n = r->mated_img[k] + 1;
    for (size_t k = 0; k < r->n_nonmated; k++)
        if (r->nonmated_img[k] + 1 > n) n = r->nonmated_img[k] + 1;
    return n;
}

int lfr_cli_identify_report(opts *o, const lfr_cli_ident *r, lfr_store *st, const lfr_user *me)
{
    lfr__manifest m;
    memset(&m, 0, sizeof m);
    column_result cols[EVAL_MAX_GROUP_COLUMNS];
    int n_cols = 0, rc = 0;
    long *img_row = NULL;
    size_t n_img = ident_n_images(r);
    /* The group threshold: --diff-threshold, else the one giving FPIR 1e-2
     * (FPIR 1e-3 rests on a handful of false positives on LFW). */
    double thr = o->diff_threshold_set ? o->diff_threshold
                 : r->at[1].supported  ? r->at[1].threshold
                                       : NAN;
    char sha[65] = "";
    if (o->manifest) {
        if (lfr__manifest_load(o->manifest, &m) != LFR_OK) return fail("%s", lfr_errmsg());
        memcpy(sha, m.sha256, sizeof sha);
        img_row = malloc((n_img ? n_img : 1) * sizeof *img_row);
        if (!img_row) {
            rc = fail("out of memory");
            goto out;
        }
        for (size_t i = 0; i < n_img; i++)
            img_row[i] = lfr__manifest_find(&m, r->paths[i]);
        int want[EVAL_MAX_GROUP_COLUMNS], n_want = 0;
        if (pick_columns(o, &m, want, &n_want)) {
            rc = 1;
            goto out;
        }
        if (isnan(thr)) {
            printf("\ndemographic differentials: not estimable (too few non-mated probes for FPIR "
                   "1e-2; give --diff-threshold)\n");
            n_want = 0;
        }
        lfr__eval_ident_rates overall;
        if (n_want)
            lfr__eval_ident_rates_at(r->mated, r->n_mated, r->nonmated, r->n_nonmated, thr,
                                     &overall);
        if (n_want)
            printf("\ndifferentials at threshold %.4f%s: overall FNIR %.3g, FPIR %.3g\n", thr,
                   o->diff_threshold_set ? "" : " (overall FPIR 1e-2)", overall.fnir, overall.fpir);
        for (int q = 0; q < n_want; q++) {
            if (ident_groups(o, r, &m, img_row, want[q], thr, &overall, &cols[n_cols])) {
                rc = 1;
                goto out;
            }
            print_ident_column(&m, &cols[n_cols], thr);
            n_cols++;
        }
    } else {
        /* The data set's fingerprint: the sha256 of the protocol's image list. */
        crypto_hash_sha256_state hs;
        crypto_hash_sha256_init(&hs);
        for (size_t i = 0; i < n_img; i++) {
            crypto_hash_sha256_update(&hs, (const unsigned char *)r->paths[i], strlen(r->paths[i]));
            crypto_hash_sha256_update(&hs, (const unsigned char *)"\n", 1);
        }
        unsigned char h[32];
        crypto_hash_sha256_final(&hs, h);
        sodium_bin2hex(sha, sizeof sha, h, sizeof h);
    }
    if (o->html_file && write_ident_html(o, r, &m, cols, n_cols, thr)) rc = 1;
    if (!rc && st && store_ident(o, r, &m, sha, cols, n_cols, thr, st, me)) rc = 1;
out:
    for (int q = 0; q < n_cols; q++)
        column_result_free(&cols[q]);
    free(img_row);
    lfr__manifest_free(&m);
    return rc;
}
