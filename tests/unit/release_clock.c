/*
 * The records' clock as a release build has it (compiled without
 * LFR_TESTING): LFR_FAKE_NOW is ignored, so that nobody can set the time of
 * the records with an environment variable (security review S2). Built from
 * src/util/clock.c alone, beside the test build's library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/util.h"

int main(void)
{
    if (lfr__clock_is_testing()) {
        fprintf(stderr, "FAIL: this clock was compiled as a test build\n");
        return 1;
    }
    setenv("LFR_FAKE_NOW", "2026-01-01T00:00:00Z", 1);
    int64_t ms;
    if (lfr__clock_now_ms(&ms)) {
        fprintf(stderr, "FAIL: %s\n", lfr_errmsg());
        return 1;
    }
    int64_t sys = (int64_t)time(NULL) * 1000;
    if (ms < sys - 5000 || ms > sys + 5000) {
        fprintf(stderr, "FAIL: the clock read %lld ms, the system %lld: LFR_FAKE_NOW was used\n",
                (long long)ms, (long long)sys);
        return 1;
    }
    /* A malformed value is not even parsed. */
    setenv("LFR_FAKE_NOW", "not a time", 1);
    if (lfr__clock_now_ms(&ms)) {
        fprintf(stderr, "FAIL: a malformed LFR_FAKE_NOW was read: %s\n", lfr_errmsg());
        return 1;
    }
    printf("ok: a release build ignores LFR_FAKE_NOW\n");
    return 0;
}
