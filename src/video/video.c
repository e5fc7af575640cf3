/*
 * Video sources through FFmpeg: see video.h.
 *
 * Three RGB buffers rotate between the decoder and the consumer when a
 * thread decodes: the consumer holds one, one is the newest ready frame,
 * and the decoder writes the third; handing over is an index swap under a
 * mutex, so no frame is copied and none is allocated after the first.
 *
 * Two clocks: every wait (network deadlines, back-off naps, the pacing of a
 * file played in real time) runs on CLOCK_MONOTONIC, so that stepping the
 * wall clock neither stalls a source nor times every source out at once;
 * the wall clock only stamps frames (their capture time, a record).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <sodium.h>

#include "util/util.h"
#include "video/video.h"

/* Undecodable packets in a row before a source counts as failed. */
#define MAX_BAD_PACKETS 200

struct lfr__video {
    char *url;
    char *shown; /* the URL without user-info, for every message */
    lfr__video_opts o;
    int live, threaded;
    int64_t opened_ms;   /* files: when their clock started (see frame_time), wall clock */
    int64_t opened_mono; /* the same instant on the monotonic clock (real-time pacing) */

    AVFormatContext *fc;
    AVCodecContext *cc;
    AVFrame *fr;
    AVPacket *pk;
    struct SwsContext *sws;
    int stream;
    int sws_w, sws_h, sws_fmt;
    int draining;        /* end of input: the decoder is being flushed */
    int64_t deadline_ms; /* for the interrupt callback; 0: none */
    double tb;           /* stream time base, seconds */
    int64_t first_pts;
    int64_t last_t;            /* files: the time of the last frame delivered, ms */
    int64_t number;            /* frames decoded since the input was opened or rewound */
    int64_t pos_no, pos_media; /* the position of the frame just decoded (frame_time) */
    double fps;
    int convert_failed; /* the last frame could not be converted (logged once) */
    int state;          /* -1 not known yet, 0 down, 1 up (opts.on_state) */

    lfr_image buf[3];
    int held, ready_idx, writing; /* buffer indices (threaded) */
    int ready;
    int64_t ready_t, held_t;
    int64_t ready_no, ready_media, held_no, held_media; /* positions in the source */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;   /* interrupt requested (read under mu, or atomically) */
    int asked;  /* the consumer has asked for a frame (real-time files start then) */
    int ended;  /* the decoder thread is done */
    int status; /* its final status when ended */
    char err[300];

    int64_t decoded, dropped, reconnects;
};

/* The wall clock: frame times only. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The monotonic clock: every deadline and wait. */
#define mono_ms lfr__mono_ms

static void vlog(lfr__video *v, const char *fmt, ...) LFR__PRINTF(2, 3);
static void vlog(lfr__video *v, const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line, "camera %s: %s: ", v->o.name ? v->o.name : "?", v->shown);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (v->o.log)
        v->o.log(v->o.log_ctx, line);
    else
        fprintf(stderr, "%s\n", line);
}

/* Report a change of state through opts.on_state. */
static void set_state(lfr__video *v, int up, const char *reason)
{
    if (v->state == up) return;
    v->state = up;
    if (v->o.on_state) v->o.on_state(v->o.log_ctx, up, reason);
}

static int stopping(lfr__video *v)
{
    return __atomic_load_n(&v->stop, __ATOMIC_ACQUIRE);
}

/* FFmpeg calls this during blocking I/O: non-zero aborts the call. */
static int interrupt_cb(void *ctx)
{
    lfr__video *v = ctx;
    if (stopping(v)) return 1;
    return v->deadline_ms && mono_ms() > v->deadline_ms;
}

static void arm(lfr__video *v)
{
    v->deadline_ms = v->live ? mono_ms() + v->o.timeout_ms : 0;
}

char *lfr__url_redact(const char *url)
{
    /* scheme://user:password@host/... -> scheme://host/... */
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : NULL;
    size_t end = auth ? strcspn(auth, "/?#") : 0;
    const char *at = NULL; /* the last '@' of the authority ends the user-info */
    for (size_t i = 0; i < end; i++)
        if (auth[i] == '@') at = auth + i;
    if (!at) return strdup(url);
    size_t head = (size_t)(auth - url), tail = strlen(at + 1);
    char *out = malloc(head + tail + 1);
    if (!out) return NULL;
    memcpy(out, url, head);
    memcpy(out + head, at + 1, tail + 1);
    return out;
}

static const char *av_reason(int err, char *buf, size_t cap)
{
    if (av_strerror(err, buf, cap) < 0) snprintf(buf, cap, "error %d", err);
    return buf;
}

static void close_input(lfr__video *v)
{
    sws_freeContext(v->sws);
    v->sws = NULL;
    avcodec_free_context(&v->cc);
    avformat_close_input(&v->fc);
    v->draining = 0;
}

/* Open the input and its decoder; on failure a message in lfr_errmsg(). */
static int open_input(lfr__video *v)
{
    char why[160];
    const AVInputFormat *ifmt = NULL;
    const char *url = v->url;
    if (!strncmp(url, "v4l2://", 7)) {
        url += 7;
        ifmt = av_find_input_format("video4linux2");
    } else if (!strncmp(url, "/dev/video", 10)) {
        ifmt = av_find_input_format("video4linux2");
    }
    v->fc = avformat_alloc_context();
    if (!v->fc) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    v->fc->interrupt_callback.callback = interrupt_cb;
    v->fc->interrupt_callback.opaque = v;
    AVDictionary *opt = NULL;
    if (!strncmp(url, "rtsp://", 7)) av_dict_set(&opt, "rtsp_transport", "tcp", 0);
    arm(v);
    int r = avformat_open_input(&v->fc, url, ifmt, &opt);
    av_dict_free(&opt);
    if (r < 0) {
        v->fc = NULL; /* freed by avformat_open_input on failure */
        if (stopping(v)) return lfr__err(LFR_ERR_EOF, "%s: stopped", v->shown);
        return lfr__err(v->live ? LFR_ERR_IO : (r == AVERROR(ENOENT) ? LFR_ERR_IO : LFR_ERR_FORMAT),
                        "%s: cannot open: %s", v->shown,
                        v->deadline_ms && mono_ms() > v->deadline_ms
                            ? "timed out"
                            : av_reason(r, why, sizeof why));
    }
    arm(v);
    r = avformat_find_stream_info(v->fc, NULL);
    const AVCodec *codec = NULL;
    if (r >= 0) r = av_find_best_stream(v->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r < 0) {
        close_input(v);
        return lfr__err(LFR_ERR_FORMAT, "%s: no video stream FFmpeg can decode: %s", v->shown,
                        av_reason(r, why, sizeof why));
    }
    v->stream = r;
    AVStream *st = v->fc->streams[r];
    v->cc = avcodec_alloc_context3(codec);
    if (!v->cc || avcodec_parameters_to_context(v->cc, st->codecpar) < 0 ||
        avcodec_open2(v->cc, codec, NULL) < 0) {
        close_input(v);
        return lfr__err(LFR_ERR_FORMAT, "%s: cannot open the %s decoder", v->shown,
                        codec ? codec->name : "video");
    }
    v->tb = av_q2d(st->time_base);
    AVRational fr = av_guess_frame_rate(v->fc, st, NULL);
    v->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 25.0;
    if (v->fps < 1 || v->fps > 240) v->fps = 25.0;
    v->first_pts = AV_NOPTS_VALUE;
    v->number = 0;
    return LFR_OK;
}

/* Convert v->fr into buffer b (allocated on the first frame of a size). */
static int convert(lfr__video *v, int b)
{
    AVFrame *f = v->fr;
    if (f->width < 1 || f->height < 1)
        return lfr__err(LFR_ERR_FORMAT, "%s: bad frame size %dx%d", v->shown, f->width, f->height);
    if ((int64_t)f->width * f->height > v->o.max_pixels)
        return lfr__err(LFR_ERR_TOO_LARGE, "%s: frames of %dx%d exceed the limit of %lld pixels",
                        v->shown, f->width, f->height, (long long)v->o.max_pixels);
    lfr_image *img = &v->buf[b];
    if (img->width != f->width || img->height != f->height) {
        if (img->data) {
            sodium_memzero(img->data, img->stride * (size_t)img->height);
            lfr_image_free(img);
        }
        int rc = lfr_image_alloc(f->width, f->height, img);
        if (rc) return rc;
    }
    if (!v->sws || v->sws_w != f->width || v->sws_h != f->height || v->sws_fmt != f->format) {
        sws_freeContext(v->sws);
        v->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
        if (!v->sws) return lfr__err(LFR_ERR_FORMAT, "%s: unsupported pixel format", v->shown);
        v->sws_w = f->width;
        v->sws_h = f->height;
        v->sws_fmt = f->format;
    }
    uint8_t *dst[4] = {img->data, NULL, NULL, NULL};
    int dst_stride[4] = {(int)img->stride, 0, 0, 0};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    return LFR_OK;
}

/* Decode the next frame into v->fr. LFR_OK, LFR_ERR_EOF at the end of the
 * input, or a failure (message set). */
static int decode_next(lfr__video *v)
{
    char why[160];
    int bad = 0;
    for (;;) {
        if (stopping(v)) return lfr__err(LFR_ERR_EOF, "%s: stopped", v->shown);
        int r = avcodec_receive_frame(v->cc, v->fr);
        if (r == 0) {
            __atomic_add_fetch(&v->decoded, 1, __ATOMIC_RELAXED);
            v->number++;
            return LFR_OK;
        }
        if (r == AVERROR_EOF) return LFR_ERR_EOF;
        if (r != AVERROR(EAGAIN))
            return lfr__err(LFR_ERR_FORMAT, "%s: decoding failed: %s", v->shown,
                            av_reason(r, why, sizeof why));
        if (v->draining) return LFR_ERR_EOF;
        arm(v);
        r = av_read_frame(v->fc, v->pk);
        if (r == AVERROR_EOF || (r < 0 && !v->live && avio_feof(v->fc->pb))) {
            v->draining = 1;
            avcodec_send_packet(v->cc, NULL);
            continue;
        }
        if (r < 0) {
            if (stopping(v)) return lfr__err(LFR_ERR_EOF, "%s: stopped", v->shown);
            return lfr__err(v->live ? LFR_ERR_IO : LFR_ERR_FORMAT, "%s: %s", v->shown,
                            v->deadline_ms && mono_ms() > v->deadline_ms
                                ? "no data for too long"
                                : av_reason(r, why, sizeof why));
        }
        if (v->pk->stream_index == v->stream) {
            r = avcodec_send_packet(v->cc, v->pk);
            if (r < 0 && r != AVERROR(EAGAIN)) {
                if (++bad > MAX_BAD_PACKETS) {
                    av_packet_unref(v->pk);
                    return lfr__err(LFR_ERR_FORMAT, "%s: %d undecodable packets in a row: %s",
                                    v->shown, bad, av_reason(r, why, sizeof why));
                }
            } else {
                bad = 0;
            }
        }
        av_packet_unref(v->pk);
    }
}

/* Start a file again from its beginning. */
static int rewind_input(lfr__video *v)
{
    if (av_seek_frame(v->fc, v->stream, 0, AVSEEK_FLAG_BACKWARD) < 0 &&
        avformat_seek_file(v->fc, -1, INT64_MIN, 0, 0, 0) < 0) {
        /* Some containers do not seek: open the file again. */
        close_input(v);
        return open_input(v);
    }
    avcodec_flush_buffers(v->cc);
    v->draining = 0;
    v->number = 0;
    return LFR_OK;
}

static int64_t frame_ms(const lfr__video *v)
{
    return (int64_t)(1000.0 / v->fps + 0.5);
}

/* A frame's time: the wall clock for a live source; for a file, the time
 * its clock started plus the frame's presentation time, kept increasing
 * (a frame without a time, or one out of order, comes a millisecond or a
 * frame after the last). */
static int64_t frame_time(lfr__video *v)
{
    /* The position in the source: the frame's number since the input was
     * opened (or rewound) and its presentation time since the first. */
    int64_t pts = v->fr->best_effort_timestamp;
    v->pos_no = v->number;
    if (pts != AV_NOPTS_VALUE && v->first_pts == AV_NOPTS_VALUE) v->first_pts = pts;
    v->pos_media = pts != AV_NOPTS_VALUE ? (int64_t)((double)(pts - v->first_pts) * v->tb * 1000.0)
                                         : (v->number - 1) * frame_ms(v);
    if (v->live) return now_ms();
    int64_t t;
    if (pts == AV_NOPTS_VALUE)
        t = v->last_t ? v->last_t + frame_ms(v) : v->opened_ms;
    else
        t = v->opened_ms + v->pos_media;
    if (v->last_t && t <= v->last_t) t = v->last_t + 1;
    v->last_t = t;
    return t;
}

/* Start a file's clock again at `start`, or a frame after its last time if
 * that is later: after a loop, times go on increasing. */
static void restart_clock(lfr__video *v, int64_t start)
{
    int64_t now = now_ms();
    if (v->last_t && start < v->last_t + frame_ms(v)) start = v->last_t + frame_ms(v);
    v->opened_ms = start;
    v->opened_mono = mono_ms() + (start - now);
    v->first_pts = AV_NOPTS_VALUE;
}

/* ---- The decoder thread (live sources, and files in real time) ----------------------- */

/* Wait up to ms (monotonic: v->cv waits on CLOCK_MONOTONIC), returning
 * early when stopped. */
static void nap(lfr__video *v, int64_t ms)
{
    pthread_mutex_lock(&v->mu);
    struct timespec ts;
    lfr__deadline_in(&ts, ms);
    while (!v->stop && pthread_cond_timedwait(&v->cv, &v->mu, &ts) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&v->mu);
}

static void finish(lfr__video *v, int status)
{
    pthread_mutex_lock(&v->mu);
    v->ended = 1;
    v->status = status;
    snprintf(v->err, sizeof v->err, "%s", status ? lfr_errmsg() : "");
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

static void *decoder_main(void *arg)
{
    lfr__video *v = arg;
    int backoff = v->o.backoff_initial_ms;
    /* A file played in real time starts when the consumer first asks, as
     * a camera would be switched on then: not while it is still loading. */
    if (!v->live) {
        pthread_mutex_lock(&v->mu);
        while (!v->asked && !v->stop)
            pthread_cond_wait(&v->cv, &v->mu);
        pthread_mutex_unlock(&v->mu);
        restart_clock(v, now_ms());
    }
    int fails = 0, connected = v->fc != NULL;
    for (;;) {
        if (stopping(v)) break;
        int rc = LFR_OK;
        if (!v->fc) {
            rc = open_input(v);
            if (!rc && fails) {
                /* A reconnection is an open after an earlier good one. */
                if (connected) __atomic_add_fetch(&v->reconnects, 1, __ATOMIC_RELAXED);
                vlog(v, "connected%s after %d failed attempt%s", connected ? " again" : "", fails,
                     fails > 1 ? "s" : "");
            }
            if (!rc) connected = 1;
        }
        if (!rc) rc = decode_next(v);
        if (rc == LFR_ERR_EOF && !v->live && !stopping(v)) {
            if (!v->o.loop) {
                finish(v, LFR_ERR_EOF);
                return NULL;
            }
            rc = rewind_input(v);
            restart_clock(v, now_ms());
            if (!rc) continue;
        }
        if (stopping(v)) break;
        if (rc) {
            if (rc == LFR_ERR_EOF) lfr__err(LFR_ERR_IO, "%s: the stream ended", v->shown);
            char msg[400];
            snprintf(msg, sizeof msg, "%s", lfr_errmsg());
            if (!v->live || !v->o.reconnect) {
                vlog(v, "%s", msg);
                set_state(v, 0, msg);
                rc = lfr__err(rc == LFR_ERR_EOF ? LFR_ERR_IO : rc, "%s", msg);
                finish(v, rc);
                return NULL;
            }
            fails++;
            /* The message names the URL already: log what follows it. */
            const char *p = strstr(msg, v->shown);
            p = p ? p + strlen(v->shown) + (p[strlen(v->shown)] == ':' ? 2 : 0) : msg;
            vlog(v, "%s; down, retrying in %.1f s", p, backoff / 1000.0);
            set_state(v, 0, p);
            close_input(v);
            nap(v, backoff);
            backoff = backoff * 2 > v->o.backoff_max_ms ? v->o.backoff_max_ms : backoff * 2;
            continue;
        }
        fails = 0;
        backoff = v->o.backoff_initial_ms;
        /* Files in real time: wait for the frame's time, which is then the
         * wall clock when it is due, as for a camera. */
        int64_t t = frame_time(v);
        int64_t wait = v->live ? 0 : v->opened_mono + (t - v->opened_ms) - mono_ms();
        if (wait > 0) nap(v, wait);
        if (convert(v, v->writing)) {
            if (!v->convert_failed) vlog(v, "%s", lfr_errmsg());
            v->convert_failed = 1;
            continue;
        }
        v->convert_failed = 0;
        set_state(v, 1, "");
        pthread_mutex_lock(&v->mu);
        if (v->ready) v->dropped++;
        int w = v->writing;
        v->writing = v->ready_idx;
        v->ready_idx = w;
        v->ready = 1;
        v->ready_t = t;
        v->ready_no = v->pos_no;
        v->ready_media = v->pos_media;
        pthread_cond_broadcast(&v->cv);
        pthread_mutex_unlock(&v->mu);
    }
    finish(v, LFR_ERR_EOF);
    return NULL;
}

/* ---- API ---------------------------------------------------------------------------------- */

int lfr__video_open(const char *url, const lfr__video_opts *opts, lfr__video **out)
{
    *out = NULL;
    if (!url || !*url) return lfr__err(LFR_ERR_INVALID, "video: no URL");
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, avdevice_register_all);
    av_log_set_level(AV_LOG_QUIET);
    lfr__video *v = calloc(1, sizeof *v);
    if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (opts) v->o = *opts;
    if (v->o.backoff_initial_ms <= 0) v->o.backoff_initial_ms = 500;
    if (v->o.backoff_max_ms <= 0) v->o.backoff_max_ms = 30000;
    if (v->o.timeout_ms <= 0) v->o.timeout_ms = 5000;
    if (v->o.max_pixels <= 0) v->o.max_pixels = LFR__VIDEO_MAX_PIXELS;
    v->url = strdup(url);
    v->shown = lfr__url_redact(url);
    v->fr = av_frame_alloc();
    v->pk = av_packet_alloc();
    pthread_mutex_init(&v->mu, NULL);
    lfr__cond_init_mono(&v->cv);
    v->state = -1;
    v->held = 0;
    v->ready_idx = 1;
    v->writing = 2;
    if (!v->url || !v->shown || !v->fr || !v->pk) {
        lfr__video_close(v);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    /* Live is anything but a regular file. A plain path (no scheme) that
     * does not exist is taken for a missing file, an error now, rather than
     * a source to retry forever; a missing device (/dev/...) is retried. */
    struct stat sb;
    int exists = stat(url, &sb) == 0, e = errno;
    const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
    int plain = !colon || (slash && slash < colon);
    v->live = !exists || !S_ISREG(sb.st_mode);
    if (!exists && plain && strncmp(url, "/dev/", 5)) {
        lfr__video_close(v);
        return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", url, strerror(e));
    }
    if (!v->live && access(url, R_OK) != 0) {
        e = errno;
        lfr__video_close(v);
        return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", url, strerror(e));
    }
    v->threaded = v->live || v->o.realtime;
    restart_clock(v, now_ms());
    int rc = LFR_OK;
    /* Files, and live sources that are not retried, are opened now so that
     * their errors come back from here. */
    if (!v->live || !v->o.reconnect) rc = open_input(v);
    if (!rc && v->threaded && pthread_create(&v->thread, NULL, decoder_main, v))
        rc = lfr__err(LFR_ERR_NOMEM, "%s: cannot start a thread", v->shown);
    if (rc) {
        v->threaded = 0;
        lfr__video_close(v);
        return rc;
    }
    *out = v;
    return LFR_OK;
}

int lfr__video_read(lfr__video *v, lfr_image *frame, int64_t *t_ms)
{
    if (!v->threaded) {
        if (stopping(v)) return lfr__err(LFR_ERR_EOF, "%s: stopped", v->shown);
        int rc = decode_next(v);
        if (rc == LFR_ERR_EOF && v->o.loop && !stopping(v)) {
            rc = rewind_input(v);
            if (!rc) {
                restart_clock(v, v->opened_ms);
                rc = decode_next(v);
            }
        }
        if (rc == LFR_ERR_EOF) return lfr__err(LFR_ERR_EOF, "%s: end of file", v->shown);
        if (!rc) {
            *t_ms = frame_time(v);
            rc = convert(v, 0);
        }
        if (rc) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", lfr_errmsg());
            set_state(v, 0, msg);
            return lfr__err(rc, "%s", msg);
        }
        set_state(v, 1, "");
        v->held_no = v->pos_no;
        v->held_media = v->pos_media;
        *frame = v->buf[0];
        return LFR_OK;
    }
    pthread_mutex_lock(&v->mu);
    if (!v->asked) {
        v->asked = 1;
        pthread_cond_broadcast(&v->cv);
    }
    while (!v->ready && !v->ended && !v->stop)
        pthread_cond_wait(&v->cv, &v->mu);
    int rc = LFR_OK;
    if (v->ready && !v->stop) {
        int h = v->held;
        v->held = v->ready_idx;
        v->ready_idx = h;
        v->ready = 0;
        v->held_t = v->ready_t;
        v->held_no = v->ready_no;
        v->held_media = v->ready_media;
        *frame = v->buf[v->held];
        *t_ms = v->held_t;
    } else if (v->stop || v->status == LFR_ERR_EOF) {
        rc = lfr__err(LFR_ERR_EOF, "%s: end of stream", v->shown);
    } else {
        rc = lfr__err(v->status, "%s", v->err);
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void lfr__video_stats(const lfr__video *v, int64_t *decoded, int64_t *dropped, int64_t *reconnects)
{
    lfr__video *m = (lfr__video *)v;
    pthread_mutex_lock(&m->mu);
    if (decoded) *decoded = __atomic_load_n(&m->decoded, __ATOMIC_RELAXED);
    if (dropped) *dropped = m->dropped;
    if (reconnects) *reconnects = __atomic_load_n(&m->reconnects, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&m->mu);
}

void lfr__video_position(const lfr__video *v, int64_t *number, int64_t *media_ms)
{
    if (number) *number = v->held_no;
    if (media_ms) *media_ms = v->held_media;
}

int lfr__video_is_live(const lfr__video *v)
{
    return v->live;
}

int lfr__video_size(const lfr__video *v, int *width, int *height)
{
    if (!v->live && v->cc && v->cc->width > 0 && v->cc->height > 0) {
        *width = v->cc->width;
        *height = v->cc->height;
        return 1;
    }
    return 0;
}

void lfr__video_interrupt(lfr__video *v)
{
    pthread_mutex_lock(&v->mu);
    __atomic_store_n(&v->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

void lfr__video_close(lfr__video *v)
{
    if (!v) return;
    if (v->threaded) {
        lfr__video_interrupt(v);
        pthread_join(v->thread, NULL);
    }
    close_input(v);
    av_frame_free(&v->fr);
    av_packet_free(&v->pk);
    for (int i = 0; i < 3; i++)
        if (v->buf[i].data) {
            sodium_memzero(v->buf[i].data, v->buf[i].stride * (size_t)v->buf[i].height);
            lfr_image_free(&v->buf[i]);
        }
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v->url);
    free(v->shown);
    free(v);
}
