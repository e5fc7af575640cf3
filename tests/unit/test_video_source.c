/*
 * Tests of the video sources (src/video) on the shared clip: every frame
 * of a file in order, loop, real-time pacing with drops counted for a slow
 * consumer, interrupts, frame positions (number and media time), the
 * frame size limit, and clear errors for a missing file, a corrupt file
 * and an unreachable stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "testutil.h"
#include "video/video.h"

static char g_clip[1024];

static int have_clip(void)
{
    return test_data_path("video/short_hamilton_clip.mp4", g_clip, sizeof g_clip);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int n_logs;
static char last_log[512];
static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    n_logs++;
    snprintf(last_log, sizeof last_log, "%s", line);
}

static void test_file_frames(void **state)
{
    (void)state;
    if (!have_clip()) skip();
    lfr__video *v;
    lfr__video_opts o = {0};
    o.name = "t";
    assert_int_equal(lfr__video_open(g_clip, &o, &v), LFR_OK);
    assert_false(lfr__video_is_live(v));
    lfr_image img;
    int64_t t, prev = 0;
    int n = 0;
    int rc;
    int64_t prev_media = -1;
    while ((rc = lfr__video_read(v, &img, &t)) == LFR_OK) {
        assert_int_equal(img.width, 640);
        assert_int_equal(img.height, 360);
        if (n > 0) assert_true(t > prev);
        prev = t;
        n++;
        /* The frame's position in its source: its number, and its media
         * time (29.97 fps: about 33 ms apart). */
        int64_t no, media;
        lfr__video_position(v, &no, &media);
        assert_int_equal(no, n);
        if (n == 1) assert_int_equal(media, 0);
        if (n > 1) assert_in_range(media - prev_media, 30, 37);
        prev_media = media;
    }
    assert_int_equal(rc, LFR_ERR_EOF);
    /* 9.18 s at 29.97 frames per second: 275 frames (ffprobe -count_frames). */
    print_message("%d frames\n", n);
    assert_int_equal(n, 275);
    int64_t decoded, dropped, reconnects;
    lfr__video_stats(v, &decoded, &dropped, &reconnects);
    assert_int_equal(decoded, n);
    assert_int_equal(dropped, 0);
    lfr__video_close(v);
}

static void test_loop_and_interrupt(void **state)
{
    (void)state;
    if (!have_clip()) skip();
    lfr__video *v;
    lfr__video_opts o = {0};
    o.loop = 1;
    assert_int_equal(lfr__video_open(g_clip, &o, &v), LFR_OK);
    lfr_image img;
    int64_t t, prev = 0;
    /* Past the end of the 275-frame clip, times still increasing: the
     * second pass starts a frame after the first one's last. */
    for (int i = 0; i < 400; i++) {
        assert_int_equal(lfr__video_read(v, &img, &t), LFR_OK);
        assert_int_equal(img.width, 640);
        if (i > 0) assert_true(t > prev);
        if (i == 275) assert_in_range(t - prev, 1, 100);
        prev = t;
        /* Positions start again with each pass. */
        int64_t no;
        lfr__video_position(v, &no, NULL);
        assert_int_equal(no, i < 275 ? i + 1 : i - 274);
    }
    int64_t decoded;
    lfr__video_stats(v, &decoded, NULL, NULL);
    assert_int_equal(decoded, 400);
    lfr__video_interrupt(v);
    assert_int_equal(lfr__video_read(v, &img, &t), LFR_ERR_EOF);
    lfr__video_close(v);
}

static void test_realtime_drops(void **state)
{
    (void)state;
    if (!have_clip()) skip();
    lfr__video *v;
    lfr__video_opts o = {0};
    o.realtime = 1;
    assert_int_equal(lfr__video_open(g_clip, &o, &v), LFR_OK);
    lfr_image img;
    int64_t t;
    int64_t t0 = mono_ms(), prev = 0;
    int got = 0;
    /* A consumer taking 100 ms per frame for 2 s: about 20 frames taken,
     * about 40 dropped; the source stays live (no backlog), and each frame's
     * time is when it was due, close to the wall clock when it is taken. */
    while (mono_ms() - t0 < 2000) {
        assert_int_equal(lfr__video_read(v, &img, &t), LFR_OK);
        int64_t lag = wall_ms() - t;
        assert_true(lag >= -5 && lag < 500);
        if (got > 0) assert_true(t > prev);
        prev = t;
        got++;
        usleep(100000);
    }
    int64_t decoded, dropped, reconnects;
    lfr__video_stats(v, &decoded, &dropped, &reconnects);
    print_message("real time, slow consumer: %d taken, %lld decoded, %lld dropped\n", got,
                  (long long)decoded, (long long)dropped);
    assert_in_range(got, 15, 25);
    assert_true(dropped >= 25);
    assert_true(decoded <= 75); /* paced: about 60 in 2 s, not the whole file */
    lfr__video_close(v);
}

static void test_errors(void **state)
{
    (void)state;
    lfr__video *v = NULL;
    lfr__video_opts o = {0};
    o.name = "t";
    assert_int_equal(lfr__video_open("/nonexistent/clip.mp4", &o, &v), LFR_ERR_IO);
    assert_non_null(strstr(lfr_errmsg(), "/nonexistent/clip.mp4"));
    assert_null(v);

    char path[] = "/tmp/lfr-video-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    int rc = lfr__video_open(path, &o, &v);
    assert_int_equal(rc, LFR_ERR_FORMAT);
    print_message("corrupt: %s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), path));
    unlink(path);

    /* A truncated copy of the clip: a shorter stream or a clean error. */
    if (have_clip()) {
        FILE *in = fopen(g_clip, "rb");
        char cut[] = "/tmp/lfr-video-cut-XXXXXX";
        fd = mkstemp(cut);
        assert_non_null(in);
        assert_true(fd >= 0);
        static unsigned char buf[200000];
        size_t n = fread(buf, 1, sizeof buf, in);
        fclose(in);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        close(fd);
        rc = lfr__video_open(cut, &o, &v);
        if (rc == LFR_OK) {
            lfr_image img;
            int64_t t;
            int frames = 0;
            while ((rc = lfr__video_read(v, &img, &t)) == LFR_OK)
                frames++;
            print_message("truncated: %d frames, then %s\n", frames, lfr_errmsg());
            assert_true(frames < 275);
            lfr__video_close(v);
        } else {
            print_message("truncated: %s\n", lfr_errmsg());
        }
        unlink(cut);
    }

    /* A missing file is an error at once, even when live sources would be
     * retried. */
    o.reconnect = 1;
    assert_int_equal(lfr__video_open("missing-clip.mp4", &o, &v), LFR_ERR_IO);
    assert_non_null(strstr(lfr_errmsg(), "No such file"));
    o.reconnect = 0;

    /* Nothing listens on port 1: one clear error, quickly, without retries. */
    int64_t t0 = mono_ms();
    rc = lfr__video_open("rtsp://127.0.0.1:1/x", &o, &v);
    assert_int_equal(rc, LFR_ERR_IO);
    print_message("unreachable: %s (%lld ms)\n", lfr_errmsg(), (long long)(mono_ms() - t0));
    assert_true(mono_ms() - t0 < 6000);

    /* With retries, the failures are logged and reading waits until
     * interrupted. */
    n_logs = 0;
    o.reconnect = 1;
    o.backoff_initial_ms = 100;
    o.log = on_log;
    assert_int_equal(lfr__video_open("rtsp://127.0.0.1:1/x", &o, &v), LFR_OK);
    assert_true(lfr__video_is_live(v));
    usleep(700000);
    lfr__video_interrupt(v);
    lfr_image img;
    int64_t t;
    assert_int_equal(lfr__video_read(v, &img, &t), LFR_ERR_EOF);
    lfr__video_close(v);
    print_message("%d log lines, last: %s\n", n_logs, last_log);
    assert_true(n_logs >= 2);
    assert_non_null(strstr(last_log, "retrying"));
}

/* Frames over the size limit are refused with a message naming the
 * limit, before any buffer of their size is allocated. */
static void test_frame_limit(void **state)
{
    (void)state;
    if (!have_clip()) skip();
    lfr__video *v;
    lfr__video_opts o = {0};
    o.max_pixels = 640 * 360 - 1;
    assert_int_equal(lfr__video_open(g_clip, &o, &v), LFR_OK);
    lfr_image img;
    int64_t t;
    assert_int_equal(lfr__video_read(v, &img, &t), LFR_ERR_TOO_LARGE);
    print_message("%s\n", lfr_errmsg());
    assert_non_null(strstr(lfr_errmsg(), "640x360 exceed the limit of 230399 pixels"));
    lfr__video_close(v);
}

/* A copy of the clip with bytes of its media data overwritten: decoders
 * conceal or report the damage; either way frames or a clean error, never
 * a crash (the sanitizers run this too). */
static void test_damaged_media(void **state)
{
    (void)state;
    if (!have_clip()) skip();
    size_t n;
    uint8_t *d = NULL;
    assert_int_equal(lfr__read_file(g_clip, (size_t)64 << 20, &d, &n), LFR_OK);
    assert_true(n > 500000);
    uint32_t x = 12345;
    for (size_t at = 20000; at + 3000 < 590000 && at + 3000 < n; at += 37000)
        for (size_t i = 0; i < 3000; i++) {
            x = x * 1664525u + 1013904223u;
            d[at + i] = (uint8_t)(x >> 24);
        }
    char path[] = "/tmp/lfr-video-dmg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, n), (ssize_t)n);
    close(fd);
    free(d);
    lfr__video *v;
    lfr__video_opts o = {0};
    o.name = "t";
    assert_int_equal(lfr__video_open(path, &o, &v), LFR_OK);
    lfr_image img;
    int64_t t;
    int frames = 0, rc;
    while ((rc = lfr__video_read(v, &img, &t)) == LFR_OK)
        frames++;
    print_message("damaged: %d frames, then %s\n", frames, lfr_errmsg());
    assert_true(rc == LFR_ERR_EOF || rc == LFR_ERR_FORMAT);
    assert_true(frames <= 275);
    lfr__video_close(v);
    unlink(path);
}

static void *interrupt_later(void *arg)
{
    usleep(300000);
    lfr__video_interrupt(arg);
    return NULL;
}

/* A server that accepts connections and never answers: the open gives up
 * at timeout_ms (the interrupt callback), and an interrupt from another
 * thread ends a read blocked in a retried open at once. */
static void test_timeout_and_interrupt(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    char url[64];
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/x", ntohs(a.sin_port));

    lfr__video *v = NULL;
    lfr__video_opts o = {0};
    o.name = "mute";
    o.timeout_ms = 1000;
    int64_t t0 = mono_ms();
    assert_int_equal(lfr__video_open(url, &o, &v), LFR_ERR_IO);
    int64_t took = mono_ms() - t0;
    print_message("silent server: %s (%lld ms)\n", lfr_errmsg(), (long long)took);
    assert_non_null(strstr(lfr_errmsg(), "timed out"));
    assert_in_range(took, 900, 3000);

    o.timeout_ms = 20000;
    o.reconnect = 1;
    o.log = on_log;
    assert_int_equal(lfr__video_open(url, &o, &v), LFR_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, interrupt_later, v), 0);
    lfr_image img;
    int64_t t;
    t0 = mono_ms();
    assert_int_equal(lfr__video_read(v, &img, &t), LFR_ERR_EOF);
    took = mono_ms() - t0;
    pthread_join(th, NULL);
    print_message("interrupted after %lld ms\n", (long long)took);
    assert_in_range(took, 250, 1000);
    lfr__video_close(v);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_frames),    cmocka_unit_test(test_loop_and_interrupt),
        cmocka_unit_test(test_realtime_drops), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_damaged_media),  cmocka_unit_test(test_timeout_and_interrupt),
        cmocka_unit_test(test_frame_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
