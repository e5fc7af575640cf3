/*
 * lfr_video_probe: open a video source as lfr run would (src/video) and say
 * what comes out of it: frame size, frames read, decoded, dropped,
 * reconnections, the first and last frame times and the rate, and how it
 * ended. For people checking a camera URL, and for tests.
 *
 *   lfr_video_probe [--realtime] [--loop] [--reconnect] [--seconds S]
 *                   [--slow MS] [--timeout MS] URL
 *
 * --slow MS sleeps MS after each frame, as a slow consumer would. Reads
 * until the source ends, fails, or S seconds pass (default: 10 for a live
 * source or a looped file, no limit otherwise). Log lines go to stderr; the
 * summary is one line on stdout. A read still waiting when the time is up
 * (a source down and retried) is interrupted. Exit status 0 when the source ended or the
 * time was up, 1 on a failure.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "video/video.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

struct watch {
    lfr__video *v;
    long seconds;
};

/* Interrupt the source when the time is up, even in a blocked read. */
static void *watchdog(void *arg)
{
    struct watch *w = arg;
    sleep((unsigned)w->seconds);
    lfr__video_interrupt(w->v);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: lfr_video_probe [--realtime] [--loop] [--reconnect] [--seconds S] "
                    "[--slow MS] [--timeout MS] URL\n");
    return 2;
}

static int number(const char *s, long *out)
{
    char *end;
    *out = strtol(s, &end, 10);
    return *s && !*end && *out >= 0;
}

int main(int argc, char **argv)
{
    lfr__video_opts o;
    memset(&o, 0, sizeof o);
    o.name = "probe";
    o.log = on_log;
    long seconds = -1, slow = 0, timeout = 0;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--realtime")) {
            o.realtime = 1;
        } else if (!strcmp(argv[i], "--loop")) {
            o.loop = 1;
        } else if (!strcmp(argv[i], "--reconnect")) {
            o.reconnect = 1;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            if (!number(argv[++i], &seconds)) return usage();
        } else if (!strcmp(argv[i], "--slow") && i + 1 < argc) {
            if (!number(argv[++i], &slow)) return usage();
        } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (!number(argv[++i], &timeout) || timeout > 3600000) return usage();
        } else if (argv[i][0] == '-' || url) {
            return usage();
        } else {
            url = argv[i];
        }
    }
    if (!url) return usage();
    o.timeout_ms = (int)timeout;
    lfr__video *v;
    int rc = lfr__video_open(url, &o, &v);
    if (rc) {
        printf("error: %s: %s\n", lfr_strerror(rc), lfr_errmsg());
        return 1;
    }
    if (seconds < 0) seconds = lfr__video_is_live(v) || o.loop ? 10 : 0;
    struct watch wd = {v, seconds};
    pthread_t th;
    int watching = seconds > 0 && !pthread_create(&th, NULL, watchdog, &wd);
    int64_t start = mono_ms(), first_t = 0, last_t = 0;
    long frames = 0;
    int w = 0, h = 0;
    lfr_image img;
    int64_t t;
    while (!seconds || mono_ms() - start < seconds * 1000) {
        rc = lfr__video_read(v, &img, &t);
        if (rc) break;
        if (!frames) first_t = t;
        last_t = t;
        w = img.width;
        h = img.height;
        frames++;
        if (slow) usleep((useconds_t)(slow * 1000));
    }
    double el = (double)(mono_ms() - start) / 1000.0;
    int64_t decoded, dropped, reconnects;
    lfr__video_stats(v, &decoded, &dropped, &reconnects);
    printf("%s: %s, %dx%d, %ld frames read in %.1f s (%.1f/s), %lld decoded, %lld dropped, "
           "%lld reconnects, frame times %lld..%lld ms, ended: %s\n",
           url, lfr__video_is_live(v) ? "live" : "file", w, h, frames, el,
           el > 0 ? (double)frames / el : 0.0, (long long)decoded, (long long)dropped,
           (long long)reconnects, (long long)first_t, (long long)last_t,
           rc && (!seconds || mono_ms() - start < seconds * 1000) ? lfr_errmsg() : "time up");
    if (watching) {
        pthread_cancel(th);
        pthread_join(th, NULL);
    }
    lfr__video_close(v);
    return rc && rc != LFR_ERR_EOF ? 1 : 0;
}
