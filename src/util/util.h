/*
 * Internal helpers shared by every module: the thread-local error message,
 * whole-file reading with a size ceiling, and small checked arithmetic.
 */
#ifndef LFR_UTIL_H
#define LFR_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lfr/lfr.h"

#if defined(__GNUC__)
#define LFR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LFR__PRINTF(a, b)
#endif

/* Record a detail message for lfr_errmsg() and return `status`, so that
 * failures read `return lfr__err(LFR_ERR_FORMAT, "%s: ...", path);`. */
int lfr__err(int status, const char *fmt, ...) LFR__PRINTF(2, 3);

/* Prefix the current message with "prefix: " (e.g. a file name). */
int lfr__err_prefix(int status, const char *prefix);

/* Read a whole file into a malloc'd buffer, refusing files over max_size.
 * The caller frees *data_out. */
int lfr__read_file(const char *path, size_t max_size, uint8_t **data_out, size_t *size_out);

/* The same from an open descriptor, read to its end; `name` is for messages. */
int lfr__read_fd(int fd, const char *name, size_t max_size, uint8_t **data_out, size_t *size_out);

/* Read a small file whole into buf (cap bytes, which it must be smaller
 * than), without following a final symbolic link; a regular file only,
 * and with `private`, one that neither group nor others may read
 * (LFR_ERR_DENIED). LFR_ERR_NOT_FOUND when it does not exist. */
int lfr__file_read_small(const char *path, int private, char *buf, size_t cap, size_t *n_out);

/* Create `path`, which must not exist, with `mode` whatever the umask, and
 * the n bytes of data, synced with its folder. */
int lfr__file_create(const char *path, const void *data, size_t n, unsigned mode);

/* Replace `path` atomically (write path.tmp, sync, rename, sync the
 * folder) with the n bytes of data, mode `mode`. */
int lfr__file_replace(const char *path, const void *data, size_t n, unsigned mode);

/* Hex sha256 of a buffer into out[65]. */
void lfr__sha256_hex(const uint8_t *data, size_t size, char out[65]);

/* The one clock every timestamp comes from: milliseconds since the Unix
 * epoch, UTC; in test builds (LFR_TESTING) the time in $LFR_FAKE_NOW when
 * set (ISO-8601, see lfr__time_parse; LFR_ERR_INVALID when it does not
 * parse). Release builds never read LFR_FAKE_NOW. */
int lfr__clock_now_ms(int64_t *ms_out);

/* 1 in a test build (LFR_FAKE_NOW honoured), 0 in a release build. */
int lfr__clock_is_testing(void);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters and a NUL) for a time in ms. */
#define LFR__TIME_LEN 25
void lfr__time_format(int64_t ms, char out[LFR__TIME_LEN]);

/* Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.mmm]]" with an optional "Z"
 * (UTC is assumed; other offsets are refused) into ms since the epoch. */
int lfr__time_parse(const char *s, int64_t *ms_out);

/* The clock's current time, formatted. */
int lfr__clock_now(char out[LFR__TIME_LEN]);

/* A filter time as given (a date or a time) in the stored form; a date
 * alone as an upper bound means the end of that day. */
int lfr__filter_time(const char *in, int is_upper, char out[LFR__TIME_LEN]);

/* 1 when the n bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF), else 0 (json.c). */
int lfr__utf8_valid(const char *s, size_t n);

/* Append `s` to the JSON text in buf (capacity cap, NUL-terminated) as a
 * quoted, escaped JSON string; truncates safely (json.c). */
void lfr__json_append_str(char *buf, size_t cap, const char *s);

/* The monotonic clock in ms, for every wait and duration (never for
 * records): stepping the wall clock does not move it. */
int64_t lfr__mono_ms(void);

/* A condition variable whose timed waits run on the monotonic clock, and a
 * deadline `ms` from now on that clock for pthread_cond_timedwait. */
void lfr__cond_init_mono(pthread_cond_t *cv);
void lfr__deadline_in(struct timespec *ts, int64_t ms);

/* a * b into *out, failing on overflow of size_t. */
static inline int lfr__mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
