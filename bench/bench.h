/*
 * Helpers shared by the benchmarks in bench/: a monotonic clock in
 * milliseconds, medians, and reading a number out of a peer's one-line JSON.
 */
#ifndef LFR_BENCH_H
#define LFR_BENCH_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[n] (sorts v); NaN when n is 0. */
static inline double median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The number after "key": in json, looked for after "section": when
 * section is not NULL; NaN when absent or null. */
static inline double json_number(const char *json, const char *section, const char *key)
{
    char pat[128];
    const char *p = json;
    if (section) {
        snprintf(pat, sizeof pat, "\"%s\":", section);
        if (!(p = strstr(p, pat))) return NAN;
    }
    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(p, pat))) return NAN;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

#endif
