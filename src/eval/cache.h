/*
 * The template cache of long evaluation runs: a file of records, each the
 * template (or the "no face" outcome) of one image under one model
 * configuration, keyed by the sha256 of the image file's bytes and a key
 * that names the models and the detection settings. A rerun, or a run
 * resumed after an interruption, reads every record under its key and only
 * computes the images it lacks.
 *
 * Templates are biometric data. The file is created with mode 0600 (an
 * existing file readable by group or others is refused), holds nothing but
 * hashes and templates (no names, no paths), and should be deleted when the
 * evaluation is done with.
 *
 * Format: the 8 bytes "LFRTPLC1", then records of a fixed size, appended:
 * 32-byte image sha256, 32-byte model key, 1 status byte (1 face, 0 no
 * face, 2 unreadable), 3 zero bytes, LFR__CACHE_DIM little-endian float32,
 * and a 32-byte BLAKE2b checksum of everything before it in the record.
 * A record cut short by an interruption, or whose checksum fails, is
 * ignored (and counted). Each record is appended with one write() under a
 * lock, so threads may add concurrently.
 */
#ifndef LFR_EVAL_CACHE_H
#define LFR_EVAL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define LFR__CACHE_DIM 192

typedef struct lfr__tplcache lfr__tplcache;

/* Open (creating if need be) the cache at path for records under
 * model_key. *n_loaded_out (may be NULL) gets the number of usable records
 * under that key, *n_bad_out (may be NULL) the number of records ignored as
 * cut short or corrupt. */
int lfr__tplcache_open(const char *path, const uint8_t model_key[32], lfr__tplcache **out,
                       size_t *n_loaded_out, size_t *n_bad_out);

/* Look an image up: 1 with *status_out and tpl_out (LFR__CACHE_DIM floats,
 * written only when the status is 1) filled, 0 when absent. Thread-safe
 * with other lookups and with adds (records added during the run are not
 * seen by lookups; they are for the next run). */
int lfr__tplcache_get(const lfr__tplcache *c, const uint8_t image_sha256[32], int *status_out,
                      float *tpl_out);

/* Append a record; tpl may be NULL when status is not 1. Thread-safe. */
int lfr__tplcache_add(lfr__tplcache *c, const uint8_t image_sha256[32], int status,
                      const float *tpl);

/* fsync and close; the loaded templates are wiped from memory. NULL is fine.
 * Returns an I/O error from fsync or close. */
int lfr__tplcache_close(lfr__tplcache *c);

#endif
