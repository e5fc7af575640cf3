/*
 * Self-contained HTML reports with inline SVG plots (html.h). Plain stdio:
 * the report is written top to bottom and every coordinate is computed
 * here, so the file needs nothing but a browser to be read.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eval/html.h"

/* Plot geometry, in SVG user units (pixels at 100 %). */
#define W 640
#define H 400
#define ML 70 /* margins: left, right, top, bottom */
#define MR 170
#define MT 30
#define MB 50

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
#define N_PALETTE (int)(sizeof palette / sizeof palette[0])

void lfr__html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void vescaped(FILE *f, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    lfr__html_escape(f, buf);
}

void lfr__html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    lfr__html_escape(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:1000px;margin:1em auto;padding:0 1em;"
          "color:#222}\n"
          "table{border-collapse:collapse;margin:0.5em 0}\n"
          "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}\n"
          "th{background:#eee}\ntd:first-child{text-align:left}\n"
          "svg.plot{display:block;margin:1em 0;background:#fff;border:1px solid #ddd}\n"
          "svg text{font-family:sans-serif;font-size:12px}\n"
          ".ne{color:#a00;font-style:italic}\n#render-check{color:#666}\n"
          "</style>\n</head>\n<body>\n<h1>",
          f);
    lfr__html_escape(f, title);
    fputs("</h1>\n", f);
}

void lfr__html_heading(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("<h2>", f);
    vescaped(f, fmt, ap);
    fputs("</h2>\n", f);
    va_end(ap);
}

void lfr__html_para(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("<p>", f);
    vescaped(f, fmt, ap);
    fputs("</p>\n", f);
    va_end(ap);
}

void lfr__html_table_begin(FILE *f, const char *const *head, int n_cols)
{
    fputs("<table>\n<tr>", f);
    for (int c = 0; c < n_cols; c++) {
        fputs("<th>", f);
        lfr__html_escape(f, head[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
}

void lfr__html_table_row(FILE *f, const char *const *cells, int n_cols)
{
    fputs("<tr>", f);
    for (int c = 0; c < n_cols; c++) {
        int ne = strstr(cells[c], "not estimable") != NULL;
        fputs(ne ? "<td class=\"ne\">" : "<td>", f);
        lfr__html_escape(f, cells[c]);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

void lfr__html_table_end(FILE *f)
{
    fputs("</table>\n", f);
}

/* The render check: every svg.plot must hold a .data element with a
 * non-empty bounding box once laid out. */
void lfr__html_end(FILE *f)
{
    fputs("<pre id=\"render-check\">not checked</pre>\n<script>\n"
          "(function(){var p=document.querySelectorAll('svg.plot'),d=0,bad=[];\n"
          "for(var i=0;i<p.length;i++){var ok=false,e=p[i].querySelectorAll('.data');\n"
          "for(var j=0;j<e.length&&!ok;j++){var b=e[j].getBBox();ok=b.width>0||b.height>0;}\n"
          "if(ok)d++;else bad.push(p[i].getAttribute('data-title'));}\n"
          "document.getElementById('render-check').textContent="
          "'plots '+p.length+' drawn '+d+(bad.length?' empty: '+bad.join(', '):'');})();\n"
          "</script>\n</body>\n</html>\n",
          f);
}

/* ---- Axes ------------------------------------------------------------------------ */

typedef struct axis {
    double lo, hi; /* in data units (log10 of them on a log axis) */
    int log;
    double p0, p1; /* pixel positions of lo and hi */
} axis;

static double to_px(const axis *a, double v)
{
    double t = a->log ? log10(v) : v;
    return a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

static void fmt_tick(char *buf, size_t cap, double v, int log)
{
    if (log) {
        int e = (int)lround(v);
        if (e >= 0 && e <= 4)
            snprintf(buf, cap, "%g", pow(10, e));
        else
            snprintf(buf, cap, "1e%d", e);
    } else {
        snprintf(buf, cap, "%g", fabs(v) < 1e-12 ? 0.0 : v);
    }
}

/* Axes, ticks, grid and labels; x along the bottom, y up the left. */
static void draw_axes(FILE *f, const axis *x, const axis *y, const char *xlabel, const char *ylabel,
                      int xticks)
{
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    for (int k = xticks ? 0 : 1; k < 2; k++) {
        const axis *a = k ? y : x;
        double step = 1;
        if (!a->log) {
            double span = a->hi - a->lo, mag = pow(10, floor(log10(span / 5)));
            step = span / mag > 25   ? 10 * mag
                   : span / mag > 10 ? 5 * mag
                   : span / mag > 5  ? 2 * mag
                                     : mag;
        }
        for (double t = ceil(a->lo / step - 1e-9) * step; t <= a->hi + 1e-9 * step; t += step) {
            double px = a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
            char lab[32];
            fmt_tick(lab, sizeof lab, t, a->log);
            if (k == 0)
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>"
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                        px, MT, px, H - MB, px, H - MB + 16, lab);
            else
                fprintf(f,
                        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                        ML, px, W - MR, px, ML - 6, px + 4, lab);
        }
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 12);
    lfr__html_escape(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">",
            (MT + H - MB) / 2);
    lfr__html_escape(f, ylabel);
    fputs("</text>\n", f);
}

static void svg_open(FILE *f, const char *title)
{
    fprintf(f, "<svg class=\"plot\" data-title=\"");
    lfr__html_escape(f, title);
    fprintf(f,
            "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n<text x=\"%d\" y=\"18\" font-weight=\"bold\">",
            W, H, W, H, ML);
    lfr__html_escape(f, title);
    fputs("</text>\n", f);
}

static void legend(FILE *f, int i, const char *name, const char *colour, int dashed)
{
    int y = MT + 10 + 18 * i;
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>"
            "<text x=\"%d\" y=\"%d\">",
            W - MR + 10, y, W - MR + 34, y, colour, dashed ? " stroke-dasharray=\"5,3\"" : "",
            W - MR + 40, y + 4);
    lfr__html_escape(f, name);
    fputs("</text>\n", f);
}

/* ---- Line plots ---------------------------------------------------------------------- */

static int usable(double v, int log)
{
    return isfinite(v) && (!log || v > 0);
}

void lfr__html_lines(FILE *f, const lfr__html_plot *p)
{
    axis x = {0, 0, p->logx, ML, W - MR}, y = {0, 0, p->logy, H - MB, MT};
    if (p->xmin != 0 || p->xmax != 0) {
        x.lo = p->logx ? log10(p->xmin) : p->xmin;
        x.hi = p->logx ? log10(p->xmax) : p->xmax;
    } else {
        int any = 0;
        for (int s = 0; s < p->n_series; s++)
            for (size_t i = 0; i < p->series[s].n; i++) {
                double v = p->series[s].x[i];
                if (!usable(v, p->logx)) continue;
                double t = p->logx ? log10(v) : v;
                if (!any || t < x.lo) x.lo = t;
                if (!any || t > x.hi) x.hi = t;
                any = 1;
            }
        if (p->logx) {
            x.lo = floor(x.lo);
            x.hi = ceil(x.hi);
        }
    }
    if (p->ymin != 0 || p->ymax != 0) {
        y.lo = p->logy ? log10(p->ymin) : p->ymin;
        y.hi = p->logy ? log10(p->ymax) : p->ymax;
    } else {
        int any = 0;
        for (int s = 0; s < p->n_series; s++)
            for (size_t i = 0; i < p->series[s].n; i++) {
                double v = p->series[s].y[i];
                if (!usable(v, p->logy)) continue;
                double t = p->logy ? log10(v) : v;
                if (!any || t < y.lo) y.lo = t;
                if (!any || t > y.hi) y.hi = t;
                any = 1;
            }
        if (p->logy) {
            y.lo = floor(y.lo);
            y.hi = ceil(y.hi);
        }
    }
    if (!(x.hi > x.lo)) x.hi = x.lo + 1;
    if (!(y.hi > y.lo)) y.hi = y.lo + 1;
    svg_open(f, p->title);
    draw_axes(f, &x, &y, p->xlabel, p->ylabel, 1);
    /* Clip ids must be unique in the document. */
    static int clip_id;
    int clip = ++clip_id;
    fprintf(
        f, "<clipPath id=\"c%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n",
        clip, ML, MT, W - ML - MR, H - MT - MB);
    for (int s = 0; s < p->n_series; s++) {
        const lfr__html_series *se = &p->series[s];
        const char *colour = palette[(se->colour > 0 ? se->colour - 1 : s) % N_PALETTE];
        fprintf(f,
                "<path class=\"data\" clip-path=\"url(#c%d)\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"1.8\"%s d=\"",
                clip, colour, se->dashed ? " stroke-dasharray=\"5,3\"" : "");
        double lx = -1e9, ly = -1e9;
        int first = 1;
        size_t drawn = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(se->x[i], p->logx) || !usable(se->y[i], p->logy)) continue;
            double px = to_px(&x, se->x[i]), py = to_px(&y, se->y[i]);
            if (!first && fabs(px - lx) < 0.5 && fabs(py - ly) < 0.5 && i + 1 < se->n) continue;
            fprintf(f, "%s%.1f %.1f", first ? "M" : " L", px, py);
            first = 0;
            lx = px;
            ly = py;
            drawn++;
        }
        fputs("\"/>\n", f);
        /* A single point draws nothing as a path: mark it. */
        if (drawn == 1)
            fprintf(f, "<circle class=\"data\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", lx,
                    ly, colour);
        legend(f, s, se->name, colour, se->dashed);
    }
    fputs("</svg>\n", f);
}

/* ---- Histograms ------------------------------------------------------------------------ */

void lfr__html_histogram(FILE *f, const char *title, const double *genuine, size_t n_genuine,
                         const double *impostor, size_t n_impostor, double lo, double hi,
                         int n_bins, const double *marks, int n_marks)
{
    if (n_bins < 1) n_bins = 1;
    if (n_bins > 400) n_bins = 400;
    double frac[2][400];
    memset(frac, 0, sizeof frac);
    const double *src[2] = {genuine, impostor};
    size_t cnt[2] = {n_genuine, n_impostor};
    double top = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < cnt[k]; i++) {
            double v = src[k][i];
            if (!isfinite(v)) continue;
            int b = (int)floor((v - lo) / (hi - lo) * n_bins);
            if (b < 0) b = 0;
            if (b >= n_bins) b = n_bins - 1;
            frac[k][b] += 1.0 / (double)cnt[k];
        }
        for (int b = 0; b < n_bins; b++)
            if (frac[k][b] > top) top = frac[k][b];
    }
    if (top <= 0) top = 1;
    axis x = {lo, hi, 0, ML, W - MR}, y = {0, top * 1.05, 0, H - MB, MT};
    svg_open(f, title);
    draw_axes(f, &x, &y, "score (cosine similarity)", "fraction of comparisons", 1);
    const char *colour[2] = {"#2ca02c", "#d62728"};
    const char *name[2] = {"genuine", "impostor"};
    for (int k = 0; k < 2; k++) {
        if (!cnt[k]) continue;
        fprintf(
            f,
            "<path class=\"data\" fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" d=\"M%.1f %.1f",
            colour[k], colour[k], to_px(&x, lo), to_px(&y, 0));
        for (int b = 0; b < n_bins; b++) {
            double x0 = to_px(&x, lo + (hi - lo) * b / n_bins),
                   x1 = to_px(&x, lo + (hi - lo) * (b + 1) / n_bins), py = to_px(&y, frac[k][b]);
            fprintf(f, " L%.1f %.1f L%.1f %.1f", x0, py, x1, py);
        }
        fprintf(f, " L%.1f %.1f Z\"/>\n", to_px(&x, hi), to_px(&y, 0));
        char lab[64];
        snprintf(lab, sizeof lab, "%s (%zu)", name[k], cnt[k]);
        legend(f, k, lab, colour[k], 0);
    }
    for (int m = 0; m < n_marks; m++) {
        if (!isfinite(marks[m]) || marks[m] < lo || marks[m] > hi) continue;
        double px = to_px(&x, marks[m]);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\" "
                "stroke-dasharray=\"4,3\"/><text x=\"%.1f\" y=\"%d\">%.3f</text>\n",
                px, MT, px, H - MB, px + 3, MT + 12 + 14 * m, marks[m]);
    }
    fputs("</svg>\n", f);
}

/* ---- Per-group intervals --------------------------------------------------------------- */

void lfr__html_intervals(FILE *f, const char *title, const char *ylabel, const char *const *labels,
                         const double *value, const double *lo, const double *hi,
                         const int *estimable, int n)
{
    double top = 0;
    for (int i = 0; i < n; i++)
        if (estimable[i]) {
            double t = isfinite(hi[i]) ? hi[i] : value[i];
            if (t > top) top = t;
        }
    if (!(top > 0)) top = 1;
    axis x = {0, n > 0 ? n : 1, 0, ML, W - MR}, y = {0, top * 1.1, 0, H - MB, MT};
    svg_open(f, title);
    /* No x ticks: the groups are named under their bars. */
    draw_axes(f, &x, &y, "", ylabel, 0);
    for (int i = 0; i < n; i++) {
        double px = to_px(&x, i + 0.5);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", px, H - MB + 16);
        lfr__html_escape(f, labels[i]);
        fputs("</text>\n", f);
        if (!estimable[i]) {
            /* The words are this group's content: the render check counts them. */
            fprintf(f,
                    "<text class=\"data\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                    "fill=\"#a00\">not estimable</text>\n",
                    px, H - MB - 10);
            continue;
        }
        if (isfinite(lo[i]) && isfinite(hi[i]))
            fprintf(f,
                    "<path class=\"data\" stroke=\"#1f77b4\" stroke-width=\"2\" "
                    "d=\"M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f\"/>\n",
                    px, to_px(&y, lo[i]), px, to_px(&y, hi[i]), px - 8, to_px(&y, lo[i]), px + 8,
                    to_px(&y, lo[i]), px - 8, to_px(&y, hi[i]), px + 8, to_px(&y, hi[i]));
        fprintf(f,
                "<circle class=\"data\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#1f77b4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">%.3g</text>\n",
                px, to_px(&y, value[i]), px + 10, to_px(&y, value[i]) + 4, value[i]);
    }
    fputs("</svg>\n", f);
}
