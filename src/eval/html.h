/*
 * Self-contained HTML reports of evaluation runs: one file, no external
 * resources (no scripts, fonts, styles or images from elsewhere), with the
 * plots drawn as inline SVG.
 *
 *     lfr__html_begin(f, "lfr eval verify");
 *     lfr__html_para(f, "Dataset %s ...", name);
 *     lfr__html_lines(f, &det_plot);          // DET curves
 *     lfr__html_histogram(f, ...);            // genuine / impostor scores
 *     lfr__html_intervals(f, ...);            // per-group rates with CIs
 *     lfr__html_end(f);
 *
 * Every plot is an <svg class="plot"> whose drawn data carry the class
 * "data" (so do the words "not estimable" standing in for a group's
 * interval); lfr__html_end() adds a short inline script that, once the page is
 * laid out, checks that each plot has data with a non-empty bounding box and
 * writes the verdict into <pre id="render-check"> ("plots 4 drawn 4"), which
 * a headless browser's --dump-dom shows (tests/e2e/eval_report_slow.sh).
 * Text is HTML-escaped. Writing errors are the FILE's (check ferror).
 */
#ifndef LFR_EVAL_HTML_H
#define LFR_EVAL_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "util/util.h"

void lfr__html_begin(FILE *f, const char *title);
void lfr__html_end(FILE *f);

/* Escaped text; the format's arguments are escaped too. */
void lfr__html_escape(FILE *f, const char *s);
void lfr__html_heading(FILE *f, const char *fmt, ...) LFR__PRINTF(2, 3);
void lfr__html_para(FILE *f, const char *fmt, ...) LFR__PRINTF(2, 3);

/* A table: call begin with the header cells, row for each row (cells
 * already formatted), then end. */
void lfr__html_table_begin(FILE *f, const char *const *head, int n_cols);
void lfr__html_table_row(FILE *f, const char *const *cells, int n_cols);
void lfr__html_table_end(FILE *f);

/* One polyline of a line plot. */
typedef struct lfr__html_series {
    const char *name;
    const double *x, *y; /* n points, in drawing order */
    size_t n;
    int dashed;
    int colour; /* 0: by position in the plot; k > 0: the k-th colour of the palette */
} lfr__html_series;

typedef struct lfr__html_plot {
    const char *title, *xlabel, *ylabel;
    int logx, logy;    /* log10 axes (points <= 0 are left out) */
    double xmin, xmax; /* axis ranges; both 0: from the data */
    double ymin, ymax;
    const lfr__html_series *series;
    int n_series;
} lfr__html_plot;

/* A line plot (DET curves, the projection of false alerts). Points closer
 * than half a pixel to the previous one drawn are skipped. */
void lfr__html_lines(FILE *f, const lfr__html_plot *p);

/* Histograms of genuine and impostor scores over [lo, hi] in n_bins bins,
 * each normalised to its own total, with a vertical line at each of the
 * n_marks thresholds (NaN ones skipped). */
void lfr__html_histogram(FILE *f, const char *title, const double *genuine, size_t n_genuine,
                         const double *impostor, size_t n_impostor, double lo, double hi,
                         int n_bins, const double *marks, int n_marks);

/* Per-group values with 95 % intervals: a dot and a bar for each estimable
 * group, the words "not estimable" for the others. */
void lfr__html_intervals(FILE *f, const char *title, const char *ylabel, const char *const *labels,
                         const double *value, const double *lo, const double *hi,
                         const int *estimable, int n);

#endif
