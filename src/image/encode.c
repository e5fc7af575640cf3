/*
 * JPEG encoding of a region of an RGB image (alert crops), with
 * libjpeg-turbo. The output buffer is malloc'd by libjpeg's memory
 * destination; the crop is biometric data, so the caller wipes and frees
 * it. Encoding our own pixels cannot meet bad input, but libjpeg's fatal
 * errors (out of memory) still longjmp back here rather than exit.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image/image.h"
#include "util/util.h"

struct enc_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void enc_error_exit(j_common_ptr cinfo)
{
    longjmp(((struct enc_fail *)cinfo->err)->jump, 1);
}

typedef struct enc_job {
    struct jpeg_compress_struct c;
    struct enc_fail fail;
    unsigned char *out;
    unsigned long out_n;
} enc_job;

/* The only function here that calls setjmp; it changes nothing local
 * after it. */
static int enc_run(enc_job *job, const lfr_image *img, int x0, int y0, int w, int h, int quality)
{
    job->c.err = jpeg_std_error(&job->fail.pub);
    job->fail.pub.error_exit = enc_error_exit;
    if (setjmp(job->fail.jump)) return lfr__err(LFR_ERR_NOMEM, "JPEG encoder failed");
    jpeg_create_compress(&job->c);
    jpeg_mem_dest(&job->c, &job->out, &job->out_n);
    job->c.image_width = (JDIMENSION)w;
    job->c.image_height = (JDIMENSION)h;
    job->c.input_components = 3;
    job->c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&job->c);
    jpeg_set_quality(&job->c, quality, TRUE);
    jpeg_start_compress(&job->c, TRUE);
    while (job->c.next_scanline < job->c.image_height) {
        JSAMPROW row =
            (JSAMPROW)(img->data + (size_t)(y0 + (int)job->c.next_scanline) * img->stride +
                       (size_t)x0 * 3);
        jpeg_write_scanlines(&job->c, &row, 1);
    }
    jpeg_finish_compress(&job->c);
    return LFR_OK;
}

int lfr__jpeg_encode_region(const lfr_image *img, int x, int y, int w, int h, int quality,
                            uint8_t **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > img->width) w = img->width - x;
    if (y + h > img->height) h = img->height - y;
    if (w <= 0 || h <= 0) return lfr__err(LFR_ERR_INVALID, "JPEG encoder: empty region");
    enc_job *job = calloc(1, sizeof *job);
    if (!job) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    /* A buffer the output always fits (a JPEG of quality <= 100 of an RGB
     * region is smaller than its raw pixels plus headers), so libjpeg never
     * reallocates and leaves no copy of the crop in freed memory. */
    job->out_n = (unsigned long)w * (unsigned long)h * 3 + 4096;
    job->out = malloc(job->out_n);
    if (!job->out) {
        free(job);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    int rc = enc_run(job, img, x, y, w, h, quality);
    jpeg_destroy_compress(&job->c);
    if (!rc) {
        *out = job->out;
        *out_n = job->out_n;
    } else {
        free(job->out); /* nothing was written to it that matters */
    }
    free(job);
    return rc;
}
