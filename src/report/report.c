/*
 * Reports from the records alone: the deployment grid and the transparency
 * (FOI) report. Nothing here is stored or estimated: every figure is a
 * count or a sum over rows of the store or over receipts in the audit
 * chain, and says which.
 *
 * Definitions (also in docs/RECORDS.md):
 *   faces seen     sum of the cameras' faces_seen counters (tracks with a
 *                  face that passed the quality gate); audited per camera
 *                  in the deployment.stop entry
 *   true alert     outcome true or confirmed_true (the current outcome)
 *   false alert    outcome false or confirmed_false
 *   engagement     an alert whose engagement is spoken_to, arrested or
 *                  other_disposal (not_stopped is not an engagement)
 *   false-alert rate  false alerts / faces seen (none when no face was seen)
 *   watchlist size the images (and subjects) frozen at the start
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "util/util.h"

int lfr_report_format_parse(const char *name, lfr_report_format *out)
{
    static const char *const names[] = {NULL, "json", "csv", "md", "html"};
    for (int i = 1; i <= 4; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (lfr_report_format)i;
            return LFR_OK;
        }
    return lfr__err(LFR_ERR_INVALID, "unknown report format \"%.20s\" (json, csv, md, html)",
                    name ? name : "");
}

/* ---- Gathering ---------------------------------------------------------------------- */

typedef struct row {
    lfr_deployment d;
    lfr_counters c; /* summed over cameras */
    int64_t alerts, true_alerts, false_alerts, not_adjudicated, confirmed_true, confirmed_false;
    int64_t engagements, arrests, spoken_to, other_disposal, not_stopped;
} row;

typedef struct rows {
    row *v;
    int n, cap;
    lfr_store *s;
} rows;

static int sum_camera(const char *camera, const lfr_counters *c, void *ctx)
{
    (void)camera;
    lfr_counters *t = ctx;
    t->frames += c->frames;
    t->frames_dropped += c->frames_dropped;
    t->detections += c->detections;
    t->faces_seen += c->faces_seen;
    t->quality_rejects += c->quality_rejects;
    t->alerts += c->alerts;
    return 0;
}

static int count_alert(const lfr__alert_row *r, void *ctx)
{
    row *x = ctx;
    const lfr_alert *a = &r->a;
    x->alerts++;
    switch (a->outcome) {
    case LFR_OUTCOME_TRUE:
        x->true_alerts++;
        break;
    case LFR_OUTCOME_CONFIRMED_TRUE:
        x->true_alerts++;
        x->confirmed_true++;
        break;
    case LFR_OUTCOME_FALSE:
        x->false_alerts++;
        break;
    case LFR_OUTCOME_CONFIRMED_FALSE:
        x->false_alerts++;
        x->confirmed_false++;
        break;
    default:
        x->not_adjudicated++;
        break;
    }
    switch (a->engagement) {
    case LFR_ENGAGEMENT_SPOKEN_TO:
        x->engagements++;
        x->spoken_to++;
        break;
    case LFR_ENGAGEMENT_ARRESTED:
        x->engagements++;
        x->arrests++;
        break;
    case LFR_ENGAGEMENT_OTHER_DISPOSAL:
        x->engagements++;
        x->other_disposal++;
        break;
    case LFR_ENGAGEMENT_NOT_STOPPED:
        x->not_stopped++;
        break;
    default:
        break;
    }
    return 0;
}

static int add_row(const lfr__deployment_row *r, void *ctx)
{
    rows *x = ctx;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 8;
        row *v = realloc(x->v, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->v = v;
        x->cap = cap;
    }
    row *w = &x->v[x->n++];
    memset(w, 0, sizeof *w);
    w->d = r->d;
    int rc = x->s->be->counters_each(x->s->db, r->d.id, sum_camera, &w->c);
    lfr_alert_filter f = {.deployment_id = r->d.id};
    if (!rc) rc = x->s->be->alert_each(x->s->db, &f, count_alert, w);
    return rc;
}

/* Canonical range ends, the audit of the report, and the rows. */
static int gather(lfr_store *s, const lfr_user *actor, const char *kind, const char *from,
                  const char *to, lfr_report_format fmt, char f[LFR__TIME_LEN],
                  char t[LFR__TIME_LEN], rows *out)
{
    static const char *const names[] = {"", "json", "csv", "md", "html"};
    memset(out, 0, sizeof *out);
    out->s = s;
    f[0] = t[0] = 0;
    int rc = from ? lfr__filter_time(from, 0, f) : LFR_OK;
    if (!rc && to) rc = lfr__filter_time(to, 1, t);
    if (rc) return rc;
    if (fmt < LFR_REPORT_JSON || fmt > LFR_REPORT_HTML)
        return lfr__err(LFR_ERR_INVALID, "report: unknown format");
    rc = lfr_store_report_begin(s, actor, kind, from, to, names[fmt]);
    if (rc) return rc;
    return s->be->deployment_each(s->db, f[0] ? f : NULL, t[0] ? t : NULL, add_row, out);
}

/* ---- Writing ---------------------------------------------------------------------------- */

/* A text escaped for the format: JSON string (with quotes), CSV field, Markdown cell, HTML. */
static void put_text(FILE *o, lfr_report_format fmt, const char *s)
{
    if (fmt == LFR_REPORT_JSON) fputc('"', o);
    if (fmt == LFR_REPORT_CSV) fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (fmt == LFR_REPORT_JSON) {
            if (c == '"' || c == '\\')
                fprintf(o, "\\%c", c);
            else if (c < 0x20)
                fprintf(o, "\\u%04x", c);
            else
                fputc(c, o);
        } else if (fmt == LFR_REPORT_CSV) {
            if (c == '"') fputc('"', o);
            fputc(c < 0x20 ? ' ' : c, o);
        } else if (fmt == LFR_REPORT_MD) {
            if (c == '|' || c == '\\' || c == '*' || c == '_' || c == '`' || c == '<' || c == '[')
                fputc('\\', o);
            fputc(c < 0x20 ? ' ' : c, o);
        } else {
            if (c == '<')
                fputs("&lt;", o);
            else if (c == '>')
                fputs("&gt;", o);
            else if (c == '&')
                fputs("&amp;", o);
            else if (c == '"')
                fputs("&quot;", o);
            else
                fputc(c < 0x20 ? ' ' : c, o);
        }
    }
    if (fmt == LFR_REPORT_JSON || fmt == LFR_REPORT_CSV) fputc('"', o);
}

static const char *window_start(const lfr_deployment *d)
{
    return d->started_at[0] ? d->started_at : d->planned_start;
}

static const char *window_end(const lfr_deployment *d)
{
    return d->stopped_at[0] ? d->stopped_at : d->planned_end;
}

/* The date part of a time. */
static void date_of(const char *t, char out[11])
{
    size_t n = strnlen(t, 10);
    memcpy(out, t, n);
    out[n] = 0;
}

static void rate(FILE *o, int64_t num, int64_t den, const char *none)
{
    if (den > 0)
        fprintf(o, "%.6g", (double)num / (double)den);
    else
        fputs(none, o);
}

/* ---- The grid ------------------------------------------------------------------------------ */

static void grid_json(FILE *o, const rows *x, const char *f, const char *t, const char *now)
{
    fprintf(o, "{\n  \"report\": \"deployment grid\",\n  \"generated_at\": \"%s\",\n", now);
    fprintf(o, "  \"from\": \"%s\",\n  \"to\": \"%s\",\n  \"definitions\": {\n", f, t);
    fputs("    \"faces_seen\": \"sum of cameras.faces_seen (tracks with a face that passed the"
          " quality gate); per camera in the deployment.stop audit entry\",\n"
          "    \"true_alerts\": \"alerts whose outcome is true or confirmed_true\",\n"
          "    \"false_alerts\": \"alerts whose outcome is false or confirmed_false\",\n"
          "    \"engagements\": \"alerts with engagement spoken_to, arrested or"
          " other_disposal\",\n"
          "    \"false_alert_rate\": \"false_alerts / faces_seen (null when no face was seen)\",\n"
          "    \"watchlist\": \"images and subjects frozen at deployment.start\"\n  },\n",
          o);
    fputs("  \"deployments\": [", o);
    for (int i = 0; i < x->n; i++) {
        const row *r = &x->v[i];
        const lfr_deployment *d = &r->d;
        char date[11];
        date_of(window_start(d), date);
        fprintf(o,
                "%s\n    {\"id\": %lld, \"state\": \"%s\", \"date\": \"%s\", \"start\": \"%s\","
                " \"end\": \"%s\",\n     \"location\": ",
                i ? "," : "", (long long)d->id, lfr_deployment_state_name(d->state), date,
                window_start(d), window_end(d));
        put_text(o, LFR_REPORT_JSON, d->location);
        fprintf(o, ", \"latitude\": %.7f, \"longitude\": %.7f,\n     \"purpose\": ", d->latitude,
                d->longitude);
        put_text(o, LFR_REPORT_JSON, d->purpose);
        fprintf(o, ", \"installation\": \"%s\",\n", lfr_installation_name(d->installation));
        fprintf(o,
                "     \"watchlist_images\": %lld, \"watchlist_subjects\": %lld,"
                " \"watchlist_by_category\": {",
                (long long)d->snapshot_images, (long long)d->snapshot_subjects);
        for (int c = 1, k = 0; c <= LFR_N_CATEGORIES; c++)
            if (d->categories & (1u << c))
                fprintf(o, "%s\"%s\": %lld", k++ ? ", " : "", lfr_category_name((lfr_category)c),
                        (long long)d->snapshot_by_category[c]);
        fprintf(o,
                "},\n     \"faces_seen\": %lld, \"frames\": %lld, \"alerts\": %lld,"
                " \"true_alerts\": %lld, \"false_alerts\": %lld, \"not_adjudicated\": %lld,"
                " \"engagements\": %lld, \"arrests\": %lld, \"false_alert_rate\": ",
                (long long)r->c.faces_seen, (long long)r->c.frames, (long long)r->alerts,
                (long long)r->true_alerts, (long long)r->false_alerts,
                (long long)r->not_adjudicated, (long long)r->engagements, (long long)r->arrests);
        rate(o, r->false_alerts, r->c.faces_seen, "null");
        fputs("}", o);
    }
    fputs("\n  ]\n}\n", o);
}

static const char *const grid_cols[] = {
    "id",
    "date",
    "start",
    "end",
    "location",
    "purpose",
    "installation",
    "watchlist_total",
    "faces_seen",
    "alerts",
    "true_alerts",
    "false_alerts",
    "not_adjudicated",
    "engagements",
    "arrests",
    "false_alert_rate",
};
#define N_GRID_COLS (int)(sizeof grid_cols / sizeof grid_cols[0])

static void grid_table(FILE *o, const rows *x, lfr_report_format fmt, const char *f, const char *t,
                       const char *now)
{
    const char *sep = fmt == LFR_REPORT_CSV ? "," : " | ";
    const char *lead = fmt == LFR_REPORT_CSV ? "" : "| ";
    const char *tail = fmt == LFR_REPORT_CSV ? "\n" : " |\n";
    if (fmt == LFR_REPORT_MD) {
        fprintf(o,
                "# Deployment grid\n\nGenerated %s from the openlfr records; deployments"
                " whose window meets %s to %s.\n\n",
                now, f[0] ? f : "the beginning", t[0] ? t : "now");
    }
    fputs(lead, o);
    for (int k = 0; k < N_GRID_COLS; k++)
        fprintf(o, "%s%s", k ? sep : "", grid_cols[k]);
    for (int c = 1; c <= LFR_N_CATEGORIES; c++)
        fprintf(o, "%swatchlist_%s", sep, lfr_category_name((lfr_category)c));
    fputs(tail, o);
    if (fmt == LFR_REPORT_MD) {
        fputs("|", o);
        for (int k = 0; k < N_GRID_COLS + LFR_N_CATEGORIES; k++)
            fputs("---|", o);
        fputs("\n", o);
    }
    for (int i = 0; i < x->n; i++) {
        const row *r = &x->v[i];
        const lfr_deployment *d = &r->d;
        char date[11];
        date_of(window_start(d), date);
        fprintf(o, "%s%lld%s%s%s%s%s%s%s", lead, (long long)d->id, sep, date, sep, window_start(d),
                sep, window_end(d), sep);
        put_text(o, fmt, d->location);
        fputs(sep, o);
        put_text(o, fmt, d->purpose);
        fprintf(o, "%s%s%s%lld%s%lld%s%lld%s%lld%s%lld%s%lld%s%lld%s%lld%s", sep,
                lfr_installation_name(d->installation), sep, (long long)d->snapshot_images, sep,
                (long long)r->c.faces_seen, sep, (long long)r->alerts, sep,
                (long long)r->true_alerts, sep, (long long)r->false_alerts, sep,
                (long long)r->not_adjudicated, sep, (long long)r->engagements, sep,
                (long long)r->arrests, sep);
        rate(o, r->false_alerts, r->c.faces_seen, fmt == LFR_REPORT_CSV ? "" : "-");
        for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
            if (d->categories & (1u << c))
                fprintf(o, "%s%lld", sep, (long long)d->snapshot_by_category[c]);
            else
                fprintf(o, "%s%s", sep, fmt == LFR_REPORT_CSV ? "" : "-");
        }
        fputs(tail, o);
    }
    if (fmt == LFR_REPORT_MD)
        fputs("\nTrue alerts: outcome true or confirmed_true. False alerts: false or"
              " confirmed_false. Engagements: spoken_to, arrested or other_disposal."
              " False-alert rate: false alerts per face seen. Watchlist: images frozen at"
              " the start (\"-\": category not in the deployment's watchlist).\n",
              o);
}

int lfr_report_grid(lfr_store *s, const lfr_user *actor, const char *from, const char *to,
                    lfr_report_format fmt, FILE *o)
{
    if (fmt == LFR_REPORT_HTML)
        return lfr__err(LFR_ERR_INVALID, "report grid: formats are csv, json and md");
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN], now[LFR__TIME_LEN];
    int rc = lfr__clock_now(now);
    rows x;
    if (!rc) rc = gather(s, actor, "grid", from, to, fmt, f, t, &x);
    if (!rc) {
        if (fmt == LFR_REPORT_JSON)
            grid_json(o, &x, f, t, now);
        else
            grid_table(o, &x, fmt, f, t, now);
        if (fflush(o) || ferror(o)) rc = lfr__err(LFR_ERR_IO, "report: write failed");
    }
    free(x.v);
    return rc;
}

/* ---- The transparency report --------------------------------------------------------------- */

typedef struct deletions {
    const char *from, *to;
    int64_t receipts, alert_crops, snapshot_templates, snapshots, subject_images, removed_subjects,
        removed_images, runs;
    char last_run[32];
} deletions;

static int64_t detail_int(const char *detail, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(detail, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : 0;
}

static int on_deletion(const lfr_audit_entry *e, void *ctx)
{
    deletions *d = ctx;
    if (!strcmp(e->action, "retention.run")) {
        d->runs++;
        snprintf(d->last_run, sizeof d->last_run, "%s", e->time);
        return 0;
    }
    if (!strcmp(e->action, "subject.remove")) {
        d->receipts++;
        d->removed_subjects++;
        d->removed_images += detail_int(e->detail, "n_images");
        return 0;
    }
    if (strcmp(e->action, "retention.delete")) return 0;
    d->receipts++;
    int64_t n = detail_int(e->detail, "n");
    if (!strcmp(e->object, "alerts"))
        d->alert_crops += n;
    else if (!strncmp(e->object, "deployment:", 11)) {
        d->snapshots++;
        d->snapshot_templates += n;
    } else if (!strncmp(e->object, "subject:", 8))
        d->subject_images += n;
    return 0;
}

static int read_deletions(lfr_store *s, deletions *d)
{
    static const char *const actions[] = {"retention.delete", "retention.run", "subject.remove"};
    for (int i = 0; i < 3; i++) {
        lfr_audit_filter q = {.action = actions[i], .from = d->from, .to = d->to};
        int rc = s->be->audit_each(s->db, &q, on_deletion, d);
        if (rc) return rc;
    }
    return LFR_OK;
}

typedef struct retained {
    int64_t alert_crops, snapshots, snapshot_templates;
} retained;

static int on_retained_alert(const lfr__alert_row *r, void *ctx)
{
    if (r->crop_file[0]) ((retained *)ctx)->alert_crops++;
    return 0;
}

static int on_retained_deployment(const lfr__deployment_row *r, void *ctx)
{
    retained *x = ctx;
    if (r->snapshot_file[0]) {
        x->snapshots++;
        x->snapshot_templates += r->d.snapshot_images;
    }
    return 0;
}

typedef struct evals {
    lfr_store *s;
    FILE *o;
    lfr_report_format fmt;
    int n;
} evals;

typedef struct metric_line {
    FILE *o;
    lfr_report_format fmt;
    int n;
} metric_line;

static void put_num(FILE *o, double v)
{
    if (isnan(v))
        fputs("null", o);
    else
        fprintf(o, "%.6g", v);
}

static int on_metric(const lfr_eval_metric *m, void *ctx)
{
    metric_line *l = ctx;
    if (l->n >= 40) {
        l->n++;
        return 0;
    }
    FILE *o = l->o;
    if (l->fmt == LFR_REPORT_JSON) {
        fprintf(o, "%s{\"group\": ", l->n ? ", " : "");
        put_text(o, l->fmt, m->group ? m->group : "");
        fputs(", \"metric\": ", o);
        put_text(o, l->fmt, m->metric);
        fputs(", \"threshold\": ", o);
        put_num(o, m->threshold);
        fputs(", \"value\": ", o);
        put_num(o, m->value);
        fputs(", \"ci_low\": ", o);
        put_num(o, m->ci_low);
        fputs(", \"ci_high\": ", o);
        put_num(o, m->ci_high);
        fprintf(o, ", \"n\": %lld}", (long long)m->n);
    } else {
        fputs(l->fmt == LFR_REPORT_HTML ? "<li>" : "    - ", o);
        if (m->group && m->group[0]) {
            put_text(o, l->fmt, m->group);
            fputs(": ", o);
        }
        put_text(o, l->fmt, m->metric);
        if (isnan(m->value))
            fputs(" not estimable", o);
        else
            fprintf(o, " = %.4g", m->value);
        if (!isnan(m->ci_low)) fprintf(o, " (95%% CI %.4g to %.4g)", m->ci_low, m->ci_high);
        if (!isnan(m->threshold)) fprintf(o, " at threshold %.4g", m->threshold);
        if (m->n >= 0) fprintf(o, ", n = %lld", (long long)m->n);
        fputs(l->fmt == LFR_REPORT_HTML ? "</li>\n" : "\n", o);
    }
    l->n++;
    return 0;
}

static int on_eval(const lfr_evaluation *e, void *ctx)
{
    evals *x = ctx;
    FILE *o = x->o;
    if (x->fmt == LFR_REPORT_JSON) {
        fprintf(o, "%s\n    {\"id\": %lld, \"run_at\": \"%s\", \"kind\": ", x->n ? "," : "",
                (long long)e->id, e->run_at);
        put_text(o, x->fmt, e->kind);
        fputs(", \"dataset\": ", o);
        put_text(o, x->fmt, e->dataset);
        fputs(", \"model\": ", o);
        put_text(o, x->fmt, e->model);
        fputs(", \"engine_version\": ", o);
        put_text(o, x->fmt, e->engine_version);
        fprintf(o, ", \"recorded_by\": \"%s\", \"n_metrics\": %lld, \"metrics\": [", e->recorded_by,
                (long long)e->n_metrics);
    } else {
        fputs(x->fmt == LFR_REPORT_HTML ? "<li>" : "- ", o);
        fprintf(o, "Run %lld on %s: ", (long long)e->id, e->run_at);
        put_text(o, x->fmt, e->kind);
        fputs(" test on ", o);
        put_text(o, x->fmt, e->dataset);
        fprintf(o, " (%lld figures; evaluations table, evaluation.add entry)",
                (long long)e->n_metrics);
        fputs(x->fmt == LFR_REPORT_HTML ? "<ul>\n" : "\n", o);
    }
    metric_line l = {o, x->fmt, 0};
    int rc = x->s->be->evaluation_metrics_each(x->s->db, e->id, on_metric, &l);
    if (x->fmt == LFR_REPORT_JSON)
        fputs("]}", o);
    else {
        if (l.n > 40)
            fprintf(o, "%s%d more figures: lfr evaluation show %lld%s",
                    x->fmt == LFR_REPORT_HTML ? "<li>" : "    - ", l.n - 40, (long long)e->id,
                    x->fmt == LFR_REPORT_HTML ? "</li>\n" : "\n");
        if (x->fmt == LFR_REPORT_HTML) fputs("</ul></li>\n", o);
    }
    x->n++;
    return rc;
}

typedef struct shares {
    FILE *o;
    lfr_report_format fmt;
    int n;
    int64_t images;
} shares;

static int on_share(const lfr_sharing *e, void *ctx)
{
    shares *x = ctx;
    FILE *o = x->o;
    x->images += e->n_images;
    if (x->fmt == LFR_REPORT_JSON) {
        fprintf(o, "%s\n    {\"id\": %lld, \"shared_on\": \"%s\", \"recipient\": ", x->n ? "," : "",
                (long long)e->id, e->shared_on);
        put_text(o, x->fmt, e->recipient);
        fputs(", \"purpose\": ", o);
        put_text(o, x->fmt, e->purpose);
        fputs(", \"legal_basis\": ", o);
        put_text(o, x->fmt, e->legal_basis);
        fputs(", \"dataset\": ", o);
        put_text(o, x->fmt, e->dataset);
        fprintf(o, ", \"n_images\": %lld, \"security\": ", (long long)e->n_images);
        put_text(o, x->fmt, e->security);
        fputs("}", o);
    } else {
        fputs(x->fmt == LFR_REPORT_HTML ? "<li>" : "- ", o);
        fprintf(o, "%.10s: ", e->shared_on);
        put_text(o, x->fmt, e->dataset);
        fprintf(o, " (%lld images) to ", (long long)e->n_images);
        put_text(o, x->fmt, e->recipient);
        fputs(" for ", o);
        put_text(o, x->fmt, e->purpose);
        fputs("; legal basis ", o);
        put_text(o, x->fmt, e->legal_basis);
        fputs("; controls: ", o);
        put_text(o, x->fmt, e->security);
        fputs(x->fmt == LFR_REPORT_HTML ? "</li>\n" : "\n", o);
    }
    x->n++;
    return 0;
}

/* Sums over the rows. */
typedef struct totals {
    row t;
    int64_t by_category[LFR_N_CATEGORIES + 1], by_provenance[LFR_N_PROVENANCES + 1];
    int64_t temporary, permanent, mobile;
} totals;

static void sum_rows(const rows *x, totals *T)
{
    memset(T, 0, sizeof *T);
    for (int i = 0; i < x->n; i++) {
        const row *r = &x->v[i];
        T->t.c.faces_seen += r->c.faces_seen;
        T->t.c.frames += r->c.frames;
        T->t.alerts += r->alerts;
        T->t.true_alerts += r->true_alerts;
        T->t.false_alerts += r->false_alerts;
        T->t.not_adjudicated += r->not_adjudicated;
        T->t.confirmed_true += r->confirmed_true;
        T->t.confirmed_false += r->confirmed_false;
        T->t.engagements += r->engagements;
        T->t.arrests += r->arrests;
        T->t.spoken_to += r->spoken_to;
        T->t.other_disposal += r->other_disposal;
        T->t.not_stopped += r->not_stopped;
        for (int c = 1; c <= LFR_N_CATEGORIES; c++)
            T->by_category[c] += r->d.snapshot_by_category[c];
        for (int p = 1; p <= LFR_N_PROVENANCES; p++)
            T->by_provenance[p] += r->d.snapshot_by_provenance[p];
        T->temporary += r->d.installation == LFR_INSTALLATION_TEMPORARY;
        T->permanent += r->d.installation == LFR_INSTALLATION_PERMANENT;
        T->mobile += r->d.installation == LFR_INSTALLATION_MOBILE_UNIT;
    }
}

static const char SRC_DEPLOY[] =
    "deployments table; deployment.create, .authorise, .start and .stop audit entries";
static const char SRC_FACES[] =
    "cameras.faces_seen summed per deployment; totals per camera audited in deployment.stop";
static const char SRC_ALERTS[] =
    "alerts table (outcome, engagement); each adjudication audited as alert.adjudicate";
static const char SRC_WATCHLIST[] = "deployments table (counts frozen at start), snapshot_images"
                                    " rows, deployment.start audit entry";
static const char SRC_RETAINED[] =
    "images (deleted_at IS NULL), alerts.crop_file, deployments.snapshot_file, now";
static const char SRC_DELETED[] = "retention.delete and subject.remove receipts in the audit"
                                  " chain, by entry time";
static const char SRC_POLICY[] = "policy table (defaults where unset); policy.set audit entries";
static const char SRC_EVAL[] = "evaluations and evaluation_metrics tables, by run date";
static const char SRC_SHARING[] = "sharing register, by date shared";
static const char STATEMENT[] =
    "openlfr does not infer or record any demographic attribute (sex, ethnicity, age or"
    " other) of the people its cameras scan: the database has no field for one, and faces"
    " that do not match the watchlist are discarded from memory without being stored.";

static void foi_json(FILE *o, lfr_store *s, const rows *x, const totals *T, const deletions *del,
                     const retained *ret, const lfr_watchlist_stats *ws, const lfr_policy *p,
                     const char *f, const char *t, const char *now, int *rc)
{
    fprintf(o, "{\n  \"report\": \"transparency\",\n  \"generated_at\": \"%s\",\n", now);
    fprintf(o, "  \"from\": \"%s\",\n  \"to\": \"%s\",\n", f, t);
    fprintf(o,
            "  \"deployments\": {\"count\": %d, \"temporary\": %lld, \"permanent\": %lld,"
            " \"mobile_unit\": %lld, \"source\": \"%s\", \"list\": [",
            x->n, (long long)T->temporary, (long long)T->permanent, (long long)T->mobile,
            SRC_DEPLOY);
    for (int i = 0; i < x->n; i++) {
        const row *r = &x->v[i];
        const lfr_deployment *d = &r->d;
        fprintf(o,
                "%s\n    {\"id\": %lld, \"state\": \"%s\", \"start\": \"%s\", \"end\": \"%s\","
                " \"planned_start\": \"%s\", \"planned_end\": \"%s\", \"location\": ",
                i ? "," : "", (long long)d->id, lfr_deployment_state_name(d->state),
                window_start(d), window_end(d), d->planned_start, d->planned_end);
        put_text(o, LFR_REPORT_JSON, d->location);
        fprintf(o,
                ", \"latitude\": %.7f, \"longitude\": %.7f, \"installation\": \"%s\","
                " \"purpose\": ",
                d->latitude, d->longitude, lfr_installation_name(d->installation));
        put_text(o, LFR_REPORT_JSON, d->purpose);
        fputs(", \"justification\": ", o);
        put_text(o, LFR_REPORT_JSON, d->justification);
        fputs(", \"legal_basis\": ", o);
        put_text(o, LFR_REPORT_JSON, d->legal_basis);
        fputs(", \"dpia_ref\": ", o);
        put_text(o, LFR_REPORT_JSON, d->dpia_ref);
        fputs(", \"eia_ref\": ", o);
        put_text(o, LFR_REPORT_JSON, d->eia_ref);
        fprintf(o,
                ", \"authorised_by\": \"%s\", \"authorised_at\": \"%s\", \"threshold\": %.4g,"
                " \"faces_seen\": %lld, \"alerts\": %lld, \"true_alerts\": %lld,"
                " \"false_alerts\": %lld, \"not_adjudicated\": %lld, \"led_to_action\": %lld,"
                " \"arrests\": %lld,\n     \"watchlist\": {\"images\": %lld, \"subjects\": %lld,"
                " \"expired_left_out\": %lld, \"by_category\": {",
                d->authorised_by, d->authorised_at, d->threshold, (long long)r->c.faces_seen,
                (long long)r->alerts, (long long)r->true_alerts, (long long)r->false_alerts,
                (long long)r->not_adjudicated, (long long)r->engagements, (long long)r->arrests,
                (long long)d->snapshot_images, (long long)d->snapshot_subjects,
                (long long)d->snapshot_expired_left_out);
        for (int c = 1, k = 0; c <= LFR_N_CATEGORIES; c++)
            if (d->categories & (1u << c))
                fprintf(o, "%s\"%s\": %lld", k++ ? ", " : "", lfr_category_name((lfr_category)c),
                        (long long)d->snapshot_by_category[c]);
        fputs("}, \"by_provenance\": {", o);
        for (int q = 1; q <= LFR_N_PROVENANCES; q++)
            fprintf(o, "%s\"%s\": %lld", q > 1 ? ", " : "", lfr_provenance_name((lfr_provenance)q),
                    (long long)d->snapshot_by_provenance[q]);
        fputs("}}}", o);
    }
    fputs("\n  ]},\n", o);
    fprintf(o, "  \"faces_scanned\": {\"total\": %lld, \"source\": \"%s\"},\n",
            (long long)T->t.c.faces_seen, SRC_FACES);
    fprintf(o,
            "  \"alerts\": {\"total\": %lld, \"true\": %lld, \"false\": %lld,"
            " \"confirmed_true\": %lld, \"confirmed_false\": %lld, \"not_adjudicated\": %lld,"
            " \"led_to_action\": %lld, \"spoken_to\": %lld, \"arrests\": %lld,"
            " \"other_disposal\": %lld, \"not_stopped\": %lld, \"false_alert_rate\": ",
            (long long)T->t.alerts, (long long)T->t.true_alerts, (long long)T->t.false_alerts,
            (long long)T->t.confirmed_true, (long long)T->t.confirmed_false,
            (long long)T->t.not_adjudicated, (long long)T->t.engagements, (long long)T->t.spoken_to,
            (long long)T->t.arrests, (long long)T->t.other_disposal, (long long)T->t.not_stopped);
    rate(o, T->t.false_alerts, T->t.c.faces_seen, "null");
    fprintf(o, ", \"source\": \"%s\"},\n", SRC_ALERTS);
    fputs("  \"watchlists\": {\"images_by_category\": {", o);
    for (int c = 1; c <= LFR_N_CATEGORIES; c++)
        fprintf(o, "%s\"%s\": %lld", c > 1 ? ", " : "", lfr_category_name((lfr_category)c),
                (long long)T->by_category[c]);
    fputs("}, \"images_by_provenance\": {", o);
    for (int q = 1; q <= LFR_N_PROVENANCES; q++)
        fprintf(o, "%s\"%s\": %lld", q > 1 ? ", " : "", lfr_provenance_name((lfr_provenance)q),
                (long long)T->by_provenance[q]);
    fprintf(o,
            "}, \"note\": \"summed over the deployments above; an image frozen in two"
            " deployments counts twice\", \"source\": \"%s\"},\n",
            SRC_WATCHLIST);
    int64_t live_images = 0, active_subjects = 0;
    for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
        live_images += ws->active_images[c];
        active_subjects += ws->active[c];
    }
    fprintf(o,
            "  \"retention\": {\"policy\": {\"alert_crop_days\": %lld,"
            " \"snapshot_purge_hours\": %lld, \"expired_subject_days\": %lld,"
            " \"set_by\": \"%s\", \"set_at\": \"%s\", \"source\": \"%s\"},\n",
            (long long)p->alert_crop_days, (long long)p->snapshot_purge_hours,
            (long long)p->expired_subject_days, p->set_by, p->set_at, SRC_POLICY);
    fprintf(o,
            "    \"retained_now\": {\"watchlist_subjects\": %lld, \"watchlist_images\": %lld,"
            " \"expired_images_awaiting_deletion\": %lld, \"alert_crops\": %lld,"
            " \"snapshots\": %lld, \"snapshot_templates\": %lld, \"source\": \"%s\"},\n",
            (long long)active_subjects, (long long)live_images, (long long)ws->expired_images,
            (long long)ret->alert_crops, (long long)ret->snapshots,
            (long long)ret->snapshot_templates, SRC_RETAINED);
    fprintf(o,
            "    \"deleted\": {\"receipts\": %lld, \"alert_crops\": %lld, \"snapshots\": %lld,"
            " \"snapshot_templates\": %lld, \"expired_subject_images\": %lld,"
            " \"removed_subjects\": %lld, \"removed_subject_images\": %lld,"
            " \"retention_runs\": %lld, \"last_run\": \"%s\", \"source\": \"%s\"}},\n",
            (long long)del->receipts, (long long)del->alert_crops, (long long)del->snapshots,
            (long long)del->snapshot_templates, (long long)del->subject_images,
            (long long)del->removed_subjects, (long long)del->removed_images, (long long)del->runs,
            del->last_run, SRC_DELETED);
    fputs("  \"evaluations\": {\"source\": \"", o);
    fputs(SRC_EVAL, o);
    fputs("\", \"runs\": [", o);
    evals ev = {s, o, LFR_REPORT_JSON, 0};
    if (!*rc) *rc = s->be->evaluation_each(s->db, f[0] ? f : NULL, t[0] ? t : NULL, on_eval, &ev);
    fprintf(o, "\n  ], \"count\": %d},\n", ev.n);
    fputs("  \"sharing\": {\"source\": \"", o);
    fputs(SRC_SHARING, o);
    fputs("\", \"disclosures\": [", o);
    shares sh = {o, LFR_REPORT_JSON, 0, 0};
    if (!*rc) *rc = s->be->sharing_each(s->db, f[0] ? f : NULL, t[0] ? t : NULL, on_share, &sh);
    fprintf(o, "\n  ], \"count\": %d, \"images\": %lld},\n", sh.n, (long long)sh.images);
    fprintf(o, "  \"demographics\": \"%s\"\n}\n", STATEMENT);
}

/* Markdown or HTML. */
static void foi_text(FILE *o, lfr_store *s, lfr_report_format fmt, const rows *x, const totals *T,
                     const deletions *del, const retained *ret, const lfr_watchlist_stats *ws,
                     const lfr_policy *p, const char *f, const char *t, const char *now, int *rc)
{
    int html = fmt == LFR_REPORT_HTML;
    const char *h2 = html ? "<h2>" : "## ", *h2e = html ? "</h2>\n" : "\n\n";
    const char *li = html ? "<li>" : "- ", *lie = html ? "</li>\n" : "\n";
    const char *ul = html ? "<ul>\n" : "", *ule = html ? "</ul>\n" : "\n";
    const char *src = html ? "<br><small>Source: " : "  \n  *Source: ";
    const char *srce = html ? "</small>" : "*";
    if (html)
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>Live facial recognition: transparency report</title>"
              "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
              "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
              "small{color:#555}</style></head><body>\n<h1>Live facial recognition:"
              " transparency report</h1>\n",
              o);
    else
        fputs("# Live facial recognition: transparency report\n\n", o);
    fprintf(o, "%sPeriod: %s to %s. Generated %s by openlfr from its own records.%s",
            html ? "<p>" : "", f[0] ? f : "the first record", t[0] ? t : "now", now,
            html ? "</p>\n" : "\n\n");

    fprintf(o, "%s1. Deployments%s", h2, h2e);
    fprintf(o, "%s%d deployments (%lld temporary, %lld permanent, %lld mobile unit).%s%s%s%s",
            html ? "<p>" : "", x->n, (long long)T->temporary, (long long)T->permanent,
            (long long)T->mobile, src, SRC_DEPLOY, srce, html ? "</p>\n" : "\n\n");
    fputs(ul, o);
    for (int i = 0; i < x->n; i++) {
        const lfr_deployment *d = &x->v[i].d;
        fprintf(o, "%sDeployment %lld (%s): %s to %s at ", li, (long long)d->id,
                lfr_deployment_state_name(d->state), window_start(d), window_end(d));
        put_text(o, fmt, d->location);
        fprintf(o, " (%.5f, %.5f), %s. Purpose: ", d->latitude, d->longitude,
                lfr_installation_name(d->installation));
        put_text(o, fmt, d->purpose);
        fputs(". Justification: ", o);
        put_text(o, fmt, d->justification);
        fputs(". Legal basis: ", o);
        put_text(o, fmt, d->legal_basis);
        fprintf(o, ". Authorised by %s at %s; threshold %.4g; DPIA ",
                d->authorised_by[0] ? d->authorised_by : "(not authorised)",
                d->authorised_at[0] ? d->authorised_at : "-", d->threshold);
        put_text(o, fmt, d->dpia_ref[0] ? d->dpia_ref : "none recorded");
        fputs(", equality impact assessment ", o);
        put_text(o, fmt, d->eia_ref[0] ? d->eia_ref : "none recorded");
        fprintf(o, ".%s", lie);
    }
    fputs(ule, o);

    fprintf(o, "%s2. Faces scanned%s", h2, h2e);
    fprintf(o, "%s%lld faces seen in total.%s%s%s%s", html ? "<p>" : "",
            (long long)T->t.c.faces_seen, src, SRC_FACES, srce, html ? "</p>\n" : "\n\n");
    fputs(ul, o);
    for (int i = 0; i < x->n; i++)
        fprintf(o, "%sDeployment %lld: %lld faces seen in %lld frames%s", li,
                (long long)x->v[i].d.id, (long long)x->v[i].c.faces_seen,
                (long long)x->v[i].c.frames, lie);
    fputs(ule, o);

    fprintf(o, "%s3. Alerts and what followed%s", h2, h2e);
    fprintf(o,
            "%s%lld alerts: %lld true (%lld confirmed on engagement), %lld false (%lld"
            " confirmed), %lld not adjudicated. %lld led to police action (%lld spoken to,"
            " %lld arrests, %lld other disposals); %lld were not stopped. False-alert rate: ",
            html ? "<p>" : "", (long long)T->t.alerts, (long long)T->t.true_alerts,
            (long long)T->t.confirmed_true, (long long)T->t.false_alerts,
            (long long)T->t.confirmed_false, (long long)T->t.not_adjudicated,
            (long long)T->t.engagements, (long long)T->t.spoken_to, (long long)T->t.arrests,
            (long long)T->t.other_disposal, (long long)T->t.not_stopped);
    rate(o, T->t.false_alerts, T->t.c.faces_seen, "none (no face seen)");
    fprintf(o, " false alerts per face seen.%s%s%s%s", src, SRC_ALERTS, srce,
            html ? "</p>\n" : "\n\n");
    fputs(ul, o);
    for (int i = 0; i < x->n; i++) {
        const row *r = &x->v[i];
        fprintf(o,
                "%sDeployment %lld: %lld alerts, %lld true, %lld false, %lld not adjudicated,"
                " %lld led to action, %lld arrests%s",
                li, (long long)r->d.id, (long long)r->alerts, (long long)r->true_alerts,
                (long long)r->false_alerts, (long long)r->not_adjudicated,
                (long long)r->engagements, (long long)r->arrests, lie);
    }
    fputs(ule, o);

    fprintf(o, "%s4. Watchlists%s", h2, h2e);
    fputs(ul, o);
    for (int i = 0; i < x->n; i++) {
        const lfr_deployment *d = &x->v[i].d;
        fprintf(o,
                "%sDeployment %lld: %lld images of %lld subjects (%lld expired subjects left"
                " out). By category:",
                li, (long long)d->id, (long long)d->snapshot_images,
                (long long)d->snapshot_subjects, (long long)d->snapshot_expired_left_out);
        for (int c = 1; c <= LFR_N_CATEGORIES; c++)
            if (d->categories & (1u << c))
                fprintf(o, " %s %lld;", lfr_category_name((lfr_category)c),
                        (long long)d->snapshot_by_category[c]);
        fputs(" by provenance:", o);
        for (int q = 1; q <= LFR_N_PROVENANCES; q++)
            fprintf(o, " %s %lld%s", lfr_provenance_name((lfr_provenance)q),
                    (long long)d->snapshot_by_provenance[q], q < LFR_N_PROVENANCES ? ";" : ".");
        fputs(lie, o);
    }
    fputs(ule, o);
    fprintf(o, "%sSource: %s%s", html ? "<p><small>" : "*", SRC_WATCHLIST,
            html ? "</small></p>\n" : "*\n\n");

    int64_t live_images = 0, active_subjects = 0;
    for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
        live_images += ws->active_images[c];
        active_subjects += ws->active[c];
    }
    fprintf(o, "%s5. Retention and deletion%s", h2, h2e);
    fprintf(o,
            "%sPolicy in force: alert crops kept %lld days; a deployment's frozen watchlist"
            " templates deleted %lld hours after it ends; an expired subject's images"
            " deleted %lld days after expiry. %s%s%s%s%s",
            html ? "<p>" : "", (long long)p->alert_crop_days, (long long)p->snapshot_purge_hours,
            (long long)p->expired_subject_days,
            p->set_by[0] ? "Last changed by " : "These are the defaults.",
            p->set_by[0] ? p->set_by : "", p->set_by[0] ? " at " : "", p->set_at, html ? "" : "");
    fprintf(o, "%s%s%s%s", src, SRC_POLICY, srce, html ? "</p>\n" : "\n\n");
    fprintf(o,
            "%sRetained now: %lld watchlist images of %lld active subjects, %lld images of"
            " expired subjects awaiting deletion, %lld alert crops, %lld frozen watchlists"
            " holding %lld templates.%s%s%s%s",
            html ? "<p>" : "", (long long)live_images, (long long)active_subjects,
            (long long)ws->expired_images, (long long)ret->alert_crops, (long long)ret->snapshots,
            (long long)ret->snapshot_templates, src, SRC_RETAINED, srce, html ? "</p>\n" : "\n\n");
    fprintf(o,
            "%sDeleted in the period (%lld receipts): %lld alert crops, %lld frozen"
            " watchlists (%lld templates), %lld images of expired subjects, %lld subjects"
            " removed with %lld images. Retention ran %lld times%s%s.%s%s%s%s",
            html ? "<p>" : "", (long long)del->receipts, (long long)del->alert_crops,
            (long long)del->snapshots, (long long)del->snapshot_templates,
            (long long)del->subject_images, (long long)del->removed_subjects,
            (long long)del->removed_images, (long long)del->runs, del->runs ? ", last at " : "",
            del->last_run, src, SRC_DELETED, srce, html ? "</p>\n" : "\n\n");

    fprintf(o, "%s6. Accuracy and bias testing%s", h2, h2e);
    fputs(ul, o);
    evals ev = {s, o, fmt, 0};
    if (!*rc) *rc = s->be->evaluation_each(s->db, f[0] ? f : NULL, t[0] ? t : NULL, on_eval, &ev);
    if (ev.n == 0) fprintf(o, "%sNo accuracy or bias test is on record for the period.%s", li, lie);
    fputs(ule, o);
    fprintf(o, "%sSource: %s%s", html ? "<p><small>" : "*", SRC_EVAL,
            html ? "</small></p>\n" : "*\n\n");

    fprintf(o, "%s7. Data shared with third parties%s", h2, h2e);
    fputs(ul, o);
    shares sh = {o, fmt, 0, 0};
    if (!*rc) *rc = s->be->sharing_each(s->db, f[0] ? f : NULL, t[0] ? t : NULL, on_share, &sh);
    if (sh.n == 0) fprintf(o, "%sNothing was shared in the period.%s", li, lie);
    fputs(ule, o);
    fprintf(o, "%s%d disclosures, %lld images.%s%s%s%s", html ? "<p>" : "", sh.n,
            (long long)sh.images, src, SRC_SHARING, srce, html ? "</p>\n" : "\n\n");

    fprintf(o, "%s8. Demographic data%s", h2, h2e);
    fprintf(o, "%s%s%s", html ? "<p>" : "", STATEMENT, html ? "</p>\n" : "\n");
    if (html) fputs("</body></html>\n", o);
}

int lfr_report_foi(lfr_store *s, const lfr_user *actor, const char *from, const char *to,
                   lfr_report_format fmt, FILE *o)
{
    if (fmt == LFR_REPORT_CSV)
        return lfr__err(LFR_ERR_INVALID, "report foi: formats are md, html and json");
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN], now[LFR__TIME_LEN];
    int rc = lfr__clock_now(now);
    rows x;
    memset(&x, 0, sizeof x);
    if (!rc) rc = gather(s, actor, "foi", from, to, fmt, f, t, &x);
    totals T;
    deletions del;
    memset(&del, 0, sizeof del);
    del.from = f[0] ? f : NULL;
    del.to = t[0] ? t : NULL;
    retained ret = {0, 0, 0};
    lfr_watchlist_stats ws;
    lfr_policy p;
    if (!rc) rc = read_deletions(s, &del);
    if (!rc) rc = s->be->alert_each(s->db, NULL, on_retained_alert, &ret);
    if (!rc) rc = s->be->deployment_each(s->db, NULL, NULL, on_retained_deployment, &ret);
    if (!rc) rc = s->be->watchlist_stats(s->db, now, &ws);
    if (!rc) rc = lfr_store_policy_get(s, &p);
    if (!rc) {
        sum_rows(&x, &T);
        if (fmt == LFR_REPORT_JSON)
            foi_json(o, s, &x, &T, &del, &ret, &ws, &p, f, t, now, &rc);
        else
            foi_text(o, s, fmt, &x, &T, &del, &ret, &ws, &p, f, t, now, &rc);
        if (!rc && (fflush(o) || ferror(o))) rc = lfr__err(LFR_ERR_IO, "report: write failed");
    }
    free(x.v);
    return rc;
}
