/*
 * Video sources: files, RTSP and HTTP streams and V4L2 devices through the
 * FFmpeg libraries, delivered as RGB frames.
 *
 * A source is "live" unless its URL names a regular file. Live sources are
 * decoded by a thread of their own that keeps only the newest frame: a
 * frame the consumer has not taken when the next one is ready is dropped
 * and counted, so a slow consumer falls behind by at most one frame, never
 * more. Files are decoded on demand, as fast as the consumer reads, unless
 * `realtime` is set: then they too are decoded by a thread, paced at their
 * own frame rate, with drops counted like a live source.
 *
 * Failure. A live source that cannot be opened, stops sending (timeout_ms),
 * ends, or delivers only undecodable data is logged in one line through
 * opts.log and, with `reconnect`, opened again after a delay that doubles
 * from backoff_initial_ms to backoff_max_ms and returns to the start after
 * a good frame; lfr__video_read keeps waiting meanwhile. A file that does
 * not open or decode fails with LFR_ERR_FORMAT or LFR_ERR_IO and a message
 * naming it; a file that ends gives LFR_ERR_EOF (or starts again with
 * `loop`). lfr__video_interrupt, from any thread, makes a blocked read (and
 * any network wait) return LFR_ERR_EOF promptly.
 *
 * A URL without a scheme that names nothing is a missing file: an error
 * from lfr__video_open (LFR_ERR_IO), even with `reconnect`; a missing
 * device under /dev/ is a live source like any other.
 *
 * Frames. The RGB frame belongs to the source and stays valid until the
 * next read; after the first frame of a size nothing is allocated per
 * frame. Frames over opts.max_pixels are refused like undecodable data.
 * *t_ms_out is the frame's time in ms since the epoch, strictly increasing
 * from one read to the next:
 *   - live source: the wall clock when the frame was decoded (its arrival);
 *   - file: the file's start time plus the frame's presentation time
 *     (pts), where the start time is the wall clock at lfr__video_open, or
 *     for `realtime` the wall clock at the first read, so that a frame's
 *     time is then when it was due, as for a camera; with `loop` each pass
 *     starts one frame after the last frame of the previous one.
 * Every wait (network deadlines, back-off, real-time pacing) runs on the
 * monotonic clock: stepping the wall clock changes frame times, not waits.
 *
 * Statuses of lfr__video_read: LFR_OK; LFR_ERR_EOF when a file ends
 * (without `loop`) or after lfr__video_interrupt; LFR_ERR_FORMAT for a file
 * that cannot be decoded (or 200 undecodable packets in a row); LFR_ERR_IO
 * for a live source that fails without `reconnect` (unreachable, timed
 * out, stream ended). Every error sets lfr_errmsg() in the reading thread,
 * naming the URL. A decoder that conceals damage (most do) gives a frame
 * rather than an error.
 */
#ifndef LFR_VIDEO_H
#define LFR_VIDEO_H

#include <stdint.h>

#include "lfr/lfr.h"

typedef struct lfr__video lfr__video;

typedef struct lfr__video_opts {
    int realtime;           /* files: pace at their frame rate, dropping when slow */
    int loop;               /* files: start again at the end */
    int reconnect;          /* live sources: retry failures with backoff */
    int backoff_initial_ms; /* default 500 */
    int backoff_max_ms;     /* default 30000 */
    int timeout_ms;         /* network open and read timeout; default 5000 */
    void (*log)(void *ctx, const char *line); /* one line per event; NULL: stderr */
    void *log_ctx;
    /* Called (with log_ctx) when the source comes up (its first frame after
     * an open, a reconnection or a failure) or goes down (a failure, with
     * the message; not at a file's end or an interrupt); may be NULL. From
     * the decoding thread: the reader's for a file read on demand, the
     * source's own otherwise. */
    void (*on_state)(void *ctx, int up, const char *reason);
    const char *name;   /* camera name for log lines */
    int64_t max_pixels; /* larger frames are refused (LFR_ERR_TOO_LARGE); default
                           LFR__VIDEO_MAX_PIXELS */
} lfr__video_opts;

/* Frames over 4096x2160 (DCI 4K) are refused by default: a hostile stream
 * declaring huge frames would otherwise make each source allocate three
 * buffers of its size. */
#define LFR__VIDEO_MAX_PIXELS (4096 * 2160)

/* A copy of url without user-info ("rtsp://user:pw@cam/x" gives
 * "rtsp://cam/x"), for messages, logs and events; the caller frees it.
 * NULL when out of memory. */
char *lfr__url_redact(const char *url);

/* Open a source. A file is opened at once (errors are returned); a live
 * source with `reconnect` is opened by its thread, so an unreachable one
 * is not an error here. */
int lfr__video_open(const char *url, const lfr__video_opts *opts, lfr__video **out);

/* The next frame (see above). */
int lfr__video_read(lfr__video *v, lfr_image *frame_out, int64_t *t_ms_out);

/* The position in its source of the frame the last successful read gave:
 * its number (1 for the first frame decoded since the input was opened,
 * reconnected or rewound by `loop`) and its presentation time in ms since
 * that first frame (estimated from the frame rate when the stream carries
 * none). NULL outputs are skipped. */
void lfr__video_position(const lfr__video *v, int64_t *number, int64_t *media_ms);

/* Frames decoded, dropped (decoded but never delivered: a newer frame
 * replaced it before it was read), and reconnections (opens of a live
 * source after a failure that followed an earlier good open; a source down
 * from the start that comes up has 0) so far. Thread-safe; NULL outputs are
 * skipped. */
void lfr__video_stats(const lfr__video *v, int64_t *decoded, int64_t *dropped, int64_t *reconnects);

/* Whether the source is live (not a regular file). */
int lfr__video_is_live(const lfr__video *v);

/* A file's frame size, known once it is open (1), for warming up; 0 for
 * live sources, whose size is known only from their first frame. */
int lfr__video_size(const lfr__video *v, int *width, int *height);

/* Make blocked and later reads return LFR_ERR_EOF, and abort any network
 * wait, promptly (within about 100 ms). Thread-safe, but it takes a mutex,
 * so it is not async-signal-safe: a signal handler sets a flag that a
 * thread turns into this call (as lfr run does). */
void lfr__video_interrupt(lfr__video *v);

/* Stop the thread, free everything, wipe the frame buffers. NULL is fine. */
void lfr__video_close(lfr__video *v);

#endif
