/*
 * JPEG decoding with libjpeg-turbo, to 8-bit RGB.
 *
 * libjpeg reports fatal errors through error_exit, which must not return; we
 * longjmp back to jpeg_run() with libjpeg's own message. It reports
 * recoverable damage through emit_message as warnings and carries on, for
 * example painting the rest of a truncated file grey. Those warnings never
 * reach stderr here, and the ones that mean image data was lost (premature
 * end of file, a scan cut short, an undecodable Huffman or arithmetic code,
 * lost restart markers) refuse the image: a face template computed from a
 * half-grey picture is worse than a clear error. Harmless warnings (junk
 * bytes between markers, odd JFIF versions) are ignored.
 *
 * The header's dimensions are checked against the pixel limit before
 * jpeg_start_decompress, which is where libjpeg allocates memory in
 * proportion to the image, and progressive files are limited in their number
 * of scans, since each scan costs a pass over the whole image.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/image.h"
#include "util/util.h"

/* libjpeg-turbo's own TurboJPEG API uses the same default scan limit. */
#define JPEG_MAX_SCANS 500

/* Our error manager: libjpeg's, followed by where to jump and what to say. */
struct jpeg_fail {
    struct jpeg_error_mgr pub; /* first, so that cinfo->err points at us */
    jmp_buf jump;
    int status;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
};

/* Everything the decoder touches lives here, in the caller's frame, so that
 * none of it is an automatic variable of the function that calls setjmp. */
struct jpeg_job {
    const uint8_t *data;
    size_t size;
    const char *name;
    uint64_t max_pixels;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fail fail;
    struct jpeg_progress_mgr progress;
    lfr_image img;
};

static _Noreturn void fail_with(j_common_ptr cinfo, int status, int truncated)
{
    struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
    f->status = status;
    f->truncated = truncated;
    (*cinfo->err->format_message)(cinfo, f->msg);
    longjmp(f->jump, 1);
}

static int status_of_error(int code)
{
    switch (code) {
    case JERR_OUT_OF_MEMORY:
        return LFR_ERR_NOMEM;
    case JERR_IMAGE_TOO_BIG:
        return LFR_ERR_TOO_LARGE;
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_ARITH_NOTIMPL:
        return LFR_ERR_UNSUPPORTED;
    default:
        return LFR_ERR_FORMAT;
    }
}

static void on_error_exit(j_common_ptr cinfo)
{
    fail_with(cinfo, status_of_error(cinfo->err->msg_code), 0);
}

/* level < 0 is a warning; levels >= 0 are trace messages, never wanted. */
static void on_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) return;
    cinfo->err->num_warnings++;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        fail_with(cinfo, LFR_ERR_FORMAT, 1);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        fail_with(cinfo, LFR_ERR_FORMAT, 0);
    default:
        return;
    }
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
        f->status = LFR_ERR_FORMAT;
        f->truncated = 0;
        snprintf(f->msg, sizeof f->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(f->jump, 1);
    }
}

static int describe_failure(const struct jpeg_job *job)
{
    const struct jpeg_fail *f = &job->fail;
    const char *what = f->truncated                       ? "truncated JPEG"
                       : f->status == LFR_ERR_UNSUPPORTED ? "unsupported JPEG"
                       : f->status == LFR_ERR_NOMEM       ? "out of memory decoding JPEG"
                       : f->status == LFR_ERR_TOO_LARGE   ? "JPEG too large"
                                                          : "corrupt JPEG";
    return lfr__err(f->status, "%s: %s: %s", job->name, what, f->msg);
}

/* Four CMYK samples to RGB. Adobe's encoders (the only common source of
 * CMYK JPEGs, marked by their APP14 segment) store the channels inverted. */
static void cmyk_row_to_rgb(const JSAMPLE *in, uint8_t *out, JDIMENSION width, int inverted)
{
    for (JDIMENSION x = 0; x < width; x++, in += 4, out += 3) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        out[0] = (uint8_t)((c * k + 127) / 255);
        out[1] = (uint8_t)((m * k + 127) / 255);
        out[2] = (uint8_t)((y * k + 127) / 255);
    }
}

/* The only function here that calls setjmp. Locals changed after it are
 * not used once a longjmp has landed. */
static int jpeg_run(struct jpeg_job *job)
{
    struct jpeg_decompress_struct *ci = &job->cinfo;
    ci->err = jpeg_std_error(&job->fail.pub);
    job->fail.pub.error_exit = on_error_exit;
    job->fail.pub.emit_message = on_emit_message;
    job->fail.pub.output_message = on_output_message;
    if (setjmp(job->fail.jump)) return describe_failure(job);

    jpeg_create_decompress(ci);
    job->progress.progress_monitor = on_progress;
    ci->progress = &job->progress;
    jpeg_mem_src(ci, job->data, (unsigned long)job->size);
    jpeg_read_header(ci, TRUE);

    int rc = lfr__image_check_size(job->name, ci->image_width, ci->image_height, job->max_pixels);
    if (rc != LFR_OK) return rc;
    int cmyk = 0;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        ci->out_color_space = JCS_EXT_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        ci->out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        return lfr__err(LFR_ERR_UNSUPPORTED,
                        "%s: unsupported JPEG: %d components in an unknown "
                        "colour space",
                        job->name, ci->num_components);
    }

    jpeg_start_decompress(ci);
    if (ci->output_components != (cmyk ? 4 : 3))
        return lfr__err(LFR_ERR_FORMAT, "%s: corrupt JPEG: %d output components", job->name,
                        ci->output_components);
    rc = lfr_image_alloc((int)ci->output_width, (int)ci->output_height, &job->img);
    if (rc != LFR_OK)
        return lfr__err(rc, "%s: out of memory for a %ux%u image", job->name, ci->output_width,
                        ci->output_height);
    JSAMPROW cmyk_row = NULL;
    if (cmyk)
        cmyk_row =
            (*ci->mem->alloc_small)((j_common_ptr)ci, JPOOL_IMAGE, (size_t)ci->output_width * 4);
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = job->img.data + (size_t)ci->output_scanline * job->img.stride;
        JSAMPROW row = cmyk ? cmyk_row : dst;
        /* The memory source never suspends: at the end of the data it
         * warns (which fails above) rather than returning 0 rows. */
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return lfr__err(LFR_ERR_FORMAT, "%s: truncated JPEG", job->name);
        if (cmyk) cmyk_row_to_rgb(cmyk_row, dst, ci->output_width, ci->saw_Adobe_marker);
    }
    jpeg_finish_decompress(ci);
    return LFR_OK;
}

int lfr__jpeg_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                     lfr_image *out)
{
    memset(out, 0, sizeof *out);
    if (size > ULONG_MAX) return lfr__err(LFR_ERR_TOO_LARGE, "%s: JPEG file too large", name);
    struct jpeg_job job;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.size = size;
    job.name = name;
    job.max_pixels = max_pixels;
    int rc = jpeg_run(&job);
    jpeg_destroy_decompress(&job.cinfo);
    if (rc == LFR_OK) {
        rc = lfr__image_orient(&job.img, lfr__jpeg_exif_orientation(data, size));
        if (rc != LFR_OK) rc = lfr__err_prefix(rc, name);
    }
    if (rc != LFR_OK) {
        lfr_image_free(&job.img);
        return rc;
    }
    *out = job.img;
    return LFR_OK;
}
