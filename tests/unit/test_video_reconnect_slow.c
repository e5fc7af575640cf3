/*
 * A live source that goes away and comes back: the clip is served over
 * HTTP (MPEG-TS) by a local `ffmpeg -listen 1`, which the test kills
 * mid-stream and starts again. The source must log the failure, retry with
 * backoff while the read waits, reconnect (reconnects goes up) and deliver
 * frames again, without the consumer doing anything. Skipped without ffmpeg
 * or the clip. About 15 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "testutil.h"
#include "video/video.h"

extern char **environ;

static char g_clip[1024];
static char g_url[64];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int n_logs, n_retry_logs;
static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    n_logs++;
    if (strstr(line, "retrying in")) n_retry_logs++;
    print_message("log: %s\n", line);
}

/* Start `ffmpeg -re -stream_loop -1 -i clip -c copy -f mpegts -listen 1
 * URL`, its output to /dev/null; its pid, or -1. */
static pid_t serve(void)
{
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "quiet", "-re",  "-stream_loop",
                    "-1",     "-i",       g_clip,      "-c",    "copy", "-f",
                    "mpegts", "-listen",  "1",         g_url,   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, "ffmpeg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return r ? -1 : pid;
}

static void stop_server(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Read frames for ms milliseconds (or until n more after the reconnect
 * count passes min_reconnects); the number read. */
static int read_for(lfr__video *v, int64_t ms, int64_t min_reconnects, int want)
{
    int64_t end = mono_ms() + ms;
    int got = 0, after = 0;
    lfr_image img;
    int64_t t;
    while (mono_ms() < end) {
        assert_int_equal(lfr__video_read(v, &img, &t), LFR_OK);
        assert_int_equal(img.width, 640);
        assert_int_equal(img.height, 360);
        got++;
        int64_t rec;
        lfr__video_stats(v, NULL, NULL, &rec);
        if (min_reconnects >= 0 && rec >= min_reconnects && ++after >= want) break;
    }
    return got;
}

static void test_reconnect(void **state)
{
    (void)state;
    if (!test_data_path("video/short_hamilton_clip.mp4", g_clip, sizeof g_clip)) skip();
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        print_message("SKIP: ffmpeg not found\n");
        skip();
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/live.ts", 20000 + rand() % 20000);

    pid_t server = serve();
    assert_true(server > 0);
    lfr__video *v;
    lfr__video_opts o = {0};
    o.name = "live";
    o.reconnect = 1;
    o.backoff_initial_ms = 200;
    o.backoff_max_ms = 1000;
    o.timeout_ms = 2000;
    o.log = on_log;
    o.log_ctx = NULL;
    /* The server may not listen yet: the source retries until it does. */
    assert_int_equal(lfr__video_open(g_url, &o, &v), LFR_OK);
    assert_true(lfr__video_is_live(v));
    int before = read_for(v, 4000, -1, 0);
    int64_t rec0;
    lfr__video_stats(v, NULL, NULL, &rec0);
    print_message("before the kill: %d frames, %lld reconnects\n", before, (long long)rec0);
    assert_true(before >= 60);

    stop_server(server);
    int logs0 = n_retry_logs;
    /* Down for 2 s: the reads wait (no frames, no error) while it retries. */
    sleep(2);
    server = serve();
    assert_true(server > 0);
    int64_t t0 = mono_ms();
    int after = read_for(v, 30000, rec0 + 1, 60);
    int64_t decoded, dropped, rec;
    lfr__video_stats(v, &decoded, &dropped, &rec);
    print_message("after the restart: %d frames in %lld ms; %lld decoded, %lld dropped, "
                  "%lld reconnects, %d retry lines\n",
                  after, (long long)(mono_ms() - t0), (long long)decoded, (long long)dropped,
                  (long long)rec, n_retry_logs - logs0);
    assert_true(rec >= rec0 + 1);
    assert_true(n_retry_logs > logs0);
    assert_true(after >= 60);
    lfr__video_close(v);
    stop_server(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
