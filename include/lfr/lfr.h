/*
 * openlfr: open, auditable live facial recognition.
 *
 * This header is the library's manual. A worked example, from image to
 * comparison:
 *
 *     lfr_engine_config cfg = lfr_engine_config_default();
 *     cfg.model_dir = "models";
 *     lfr_engine *eng;
 *     if (lfr_engine_open(&cfg, &eng) != LFR_OK) {
 *         fprintf(stderr, "%s\n", lfr_errmsg());
 *         return 1;
 *     }
 *     lfr_session *s;                      // one per thread
 *     lfr_session_open(eng, 1, &s);
 *     lfr_image img;
 *     if (lfr_image_load("a.jpg", 0, &img) == LFR_OK) {
 *         lfr_face faces[16];
 *         int n;
 *         lfr_session_detect(s, &img, faces, 16, &n);
 *         float tpl[16 * LFR_TEMPLATE_DIM];
 *         lfr_session_embed(s, &img, faces, n, tpl);
 *         lfr_image_free(&img);
 *     }
 *     lfr_session_close(s);
 *     lfr_engine_close(eng);
 *
 * Conventions. Every function that can fail returns an int status from
 * enum lfr_status (LFR_OK is 0) and leaves a one-line detail message,
 * naming the file, operator or offset concerned, in a thread-local buffer
 * read with lfr_errmsg(). Handles come in open/close pairs; closing NULL does
 * nothing. Out-parameters end in _out and come last. Nothing in the library
 * exits or aborts on bad input.
 */
#ifndef LFR_LFR_H
#define LFR_LFR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LFR_VERSION "0.1.0"

/* ---- Status ------------------------------------------------------------ */

/* Append-only: values are never renumbered. */
typedef enum lfr_status {
    LFR_OK = 0,
    LFR_ERR_NOMEM = 1,       /* an allocation failed */
    LFR_ERR_INVALID = 2,     /* an argument is out of range */
    LFR_ERR_IO = 3,          /* a file could not be opened, read or written */
    LFR_ERR_FORMAT = 4,      /* the input is malformed, truncated or corrupt */
    LFR_ERR_UNSUPPORTED = 5, /* well-formed input this build does not handle */
    LFR_ERR_TOO_LARGE = 6,   /* the input exceeds a configured limit */
    LFR_ERR_BACKEND = 7,     /* the inference backend (XNNPACK) failed */
    LFR_ERR_NO_FACE = 8,     /* no usable face where one was required */
    LFR_ERR_DENIED = 9,      /* the user's role does not allow the action */
    LFR_ERR_AUTH = 10,       /* unknown user or wrong password */
    LFR_ERR_CONFLICT = 11,   /* the object already exists, or the state forbids it */
    LFR_ERR_NOT_FOUND = 12,  /* no such object */
    LFR_ERR_TAMPERED = 13,   /* the audit chain or its anchor does not verify */
    LFR_ERR_STORE = 14,      /* the database failed (busy, full, corrupt, ...) */
    LFR_ERR_EOF = 15,        /* a stream ended (a video file, or a source that was stopped) */
} lfr_status;

/* A short constant description of a status code; never NULL. */
const char *lfr_strerror(int status);

/* The detail message of the last failure on the calling thread, e.g.
 * "models/x.tflite: operator 7 (CONV_2D): filter tensor 12 is not 4-D".
 * Valid until the next failing call on this thread. Never NULL. */
const char *lfr_errmsg(void);

/* ---- Images ------------------------------------------------------------- */

/* An 8-bit RGB image, rows top to bottom, `stride` bytes apart. */
typedef struct lfr_image {
    int width;
    int height;
    size_t stride;
    uint8_t *data;
} lfr_image;

/* Images larger than this many pixels are refused unless the caller passes
 * its own limit. */
#define LFR_DEFAULT_MAX_PIXELS 100000000ull

/* Decode a JPEG or PNG file to RGB, applying its EXIF orientation. The
 * format is found from the content, not the name. Images over max_pixels
 * (0 means LFR_DEFAULT_MAX_PIXELS) are refused before any pixel memory is
 * allocated. On success the caller frees *out with lfr_image_free(). */
int lfr_image_load(const char *path, uint64_t max_pixels, lfr_image *out);

/* The same from memory; `name` is used in error messages only. */
int lfr_image_decode(const void *data, size_t size, const char *name, uint64_t max_pixels,
                     lfr_image *out);

/* Allocate an uninitialised RGB image (stride = 3 * width). */
int lfr_image_alloc(int width, int height, lfr_image *out);

/* Free pixel memory from lfr_image_load/decode/alloc; zeroes *img. */
void lfr_image_free(lfr_image *img);

/* ---- Faces ------------------------------------------------------------- */

typedef struct lfr_point {
    float x, y;
} lfr_point;

typedef struct lfr_rect {
    float x, y, w, h; /* top-left corner and size, in image pixels */
} lfr_rect;

/* BlazeFace keypoints, in image pixels. */
enum {
    LFR_KP_EYE_LEFT = 0,  /* the eye on the image's left (subject's right) */
    LFR_KP_EYE_RIGHT = 1, /* the eye on the image's right */
    LFR_KP_NOSE = 2,
    LFR_KP_MOUTH = 3,
    LFR_KP_EAR_LEFT = 4,
    LFR_KP_EAR_RIGHT = 5,
    LFR_N_KEYPOINTS = 6
};

typedef struct lfr_face {
    lfr_rect box;
    lfr_point kp[LFR_N_KEYPOINTS];
    float score; /* detector confidence in [0, 1] */
} lfr_face;

/* Length of a template (MobileFaceNet embedding), L2-normalised. */
#define LFR_TEMPLATE_DIM 192

/* Cosine similarity of two L2-normalised templates. */
float lfr_template_similarity(const float *a, const float *b);

/* ---- Engine (models, shared) and sessions (per thread) ------------------ */

typedef enum lfr_detector_kind {
    LFR_DETECTOR_FULL_RANGE = 0,  /* BlazeFace 192x192, faces up to ~5 m */
    LFR_DETECTOR_SHORT_RANGE = 1, /* BlazeFace 128x128, faces within ~2 m */
} lfr_detector_kind;

typedef struct lfr_engine_config {
    const char *model_dir;      /* folder with the model files; NULL: $LFR_MODELS, else "models" */
    lfr_detector_kind detector; /* default LFR_DETECTOR_FULL_RANGE */
    int embed_batch;            /* faces per embedder call, fixed at load; default 2 */
    float min_score;            /* detection score threshold; default 0.5 */
    float nms_iou;              /* weighted-NMS overlap threshold; default 0.3 */
    int tile;                   /* cover large frames with overlapping tiles; default 1 */
    int max_tiles;              /* ceiling on detector passes per frame; default 40, which
                                   covers 1920x1080 down to 40 px faces (36 passes); a
                                   tiling level that does not fit is dropped, finest first */
    int zoom_out;               /* also detect on the frame shrunk to half the input, for
                                   faces filling much of the frame; default 1 */
    uint64_t max_pixels;        /* largest image accepted; default LFR_DEFAULT_MAX_PIXELS */
} lfr_engine_config;

lfr_engine_config lfr_engine_config_default(void);

/* The loaded models: immutable after open, shared by any number of
 * sessions on any threads. Close it after every session is closed. */
typedef struct lfr_engine lfr_engine;

int lfr_engine_open(const lfr_engine_config *config, lfr_engine **engine_out);
void lfr_engine_close(lfr_engine *engine);

/* Hex sha256 of each model file as loaded ("detector", "embedder"); NULL for
 * an unknown role. Valid while the engine is open. */
const char *lfr_engine_model_sha256(const lfr_engine *engine, const char *role);

/* A session owns the inference runtimes and every per-frame buffer; it is
 * used by one thread at a time. n_threads is the size of its own thread
 * pool (1 = run on the calling thread). After the first call of each kind,
 * detect and embed allocate nothing for frames of the same size. */
typedef struct lfr_session lfr_session;

int lfr_session_open(lfr_engine *engine, int n_threads, lfr_session **session_out);
void lfr_session_close(lfr_session *session);

/* Find faces. Writes up to `cap` faces, best score first, into faces[] and
 * the number found (which may exceed cap) into *n_out. */
int lfr_session_detect(lfr_session *session, const lfr_image *img, lfr_face *faces, int cap,
                       int *n_out);

/* For video, where the tile pyramid can be spread over frames: the number
 * of fine tiles (detector passes besides the whole-frame and zoom-out
 * passes) for frames of this size, and detection on the whole-frame passes
 * plus `count` fine tiles starting at `first` (taken cyclically; count < 0
 * means all, which is lfr_session_detect). Covering the fine tiles in turn,
 * a face that only a fine tile finds is seen every ceil(fine / count)
 * frames. */
int lfr_session_fine_tiles(lfr_session *session, int width, int height);
int lfr_session_detect_tiles(lfr_session *session, const lfr_image *img, int first, int count,
                             lfr_face *faces, int cap, int *n_out);

/* Align each face from its eye, nose and mouth keypoints and compute its
 * template: n * LFR_TEMPLATE_DIM floats written to templates_out. */
int lfr_session_embed(lfr_session *session, const lfr_image *img, const lfr_face *faces, int n,
                      float *templates_out);

/* The similarity at or above which two templates are called the same person
 * by `lfr compare`: the best-accuracy threshold on LFW View 1's 2,200
 * training pairs (0.389), rounded. Deployments set their own threshold,
 * calibrated on representative footage; see docs/ACCURACY.md. */
#define LFR_DEFAULT_THRESHOLD 0.39f

/* Version of the XNNPACK build in use, as a string. */
const char *lfr_backend_version(void);

#ifdef __cplusplus
}
#endif

/* The records: users, roles and the audit chain. */
#include "lfr/store.h"
/* The transparency log over the audit chain: checkpoints, proofs, witness. */
#include "lfr/log.h"

/* Live runs: the supervisor and its events. */
#include "lfr/run.h"

#endif /* LFR_LFR_H */
