/*
 * The clock behind every timestamp in the records, and the one ISO-8601
 * format they are written in. Tests of retention and reports move time with
 * LFR_FAKE_NOW instead of waiting for it, in test builds only (the CMake
 * option LFR_TESTING, on in the build trees the tests use, off for release
 * and packaging): a release build reads the system clock whatever the
 * environment says, so nobody sets the records' clock with a variable.
 * Nothing else in the library reads the system time for records. Also the
 * monotonic clock, for every wait and duration, which records never use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so that parsing does not depend on the TZ setting. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/* Read exactly `n` digits at *p into *v. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return 0;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 1;
}

int lfr__time_parse(const char *s, int64_t *ms_out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (!s) return lfr__err(LFR_ERR_INVALID, "no time given");
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        goto bad;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) goto bad;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec)) goto bad;
            if (*p == '.') {
                p++;
                if (!digits(&p, 3, &ms)) goto bad;
            }
        }
    }
    if (*p == 'Z') p++;
    if (*p) goto bad;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        goto bad;
    *ms_out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
    return LFR_OK;
bad:
    return lfr__err(LFR_ERR_INVALID,
                    "'%.64s' is not a UTC time like 2026-11-24 or 2026-11-24T09:30:00.000Z", s);
}

void lfr__time_format(int64_t ms, char out[LFR__TIME_LEN])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* A roomy buffer first: the compiler cannot see that the fields are small. */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, tmp, LFR__TIME_LEN - 1);
    out[LFR__TIME_LEN - 1] = 0;
}

int lfr__clock_is_testing(void)
{
#ifdef LFR_TESTING
    return 1;
#else
    return 0;
#endif
}

int lfr__clock_now_ms(int64_t *ms_out)
{
#ifdef LFR_TESTING
    const char *fake = getenv("LFR_FAKE_NOW");
    if (fake && *fake) {
        int rc = lfr__time_parse(fake, ms_out);
        return rc ? lfr__err_prefix(rc, "LFR_FAKE_NOW") : LFR_OK;
    }
#endif
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ms_out = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return LFR_OK;
}

int lfr__clock_now(char out[LFR__TIME_LEN])
{
    int64_t ms;
    int rc = lfr__clock_now_ms(&ms);
    if (rc) return rc;
    lfr__time_format(ms, out);
    return LFR_OK;
}

int lfr__filter_time(const char *in, int is_upper, char out[LFR__TIME_LEN])
{
    int64_t ms;
    int rc = lfr__time_parse(in, &ms);
    if (rc) return rc;
    if (is_upper && strlen(in) == 10) ms += 86400000 - 1;
    lfr__time_format(ms, out);
    return LFR_OK;
}

int64_t lfr__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lfr__cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

void lfr__deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t ns = ts->tv_nsec + (ms % 1000) * 1000000;
    ts->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}
