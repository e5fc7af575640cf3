/*
 * PNG decoding with libpng, to 8-bit RGB: palettes are expanded, grey is
 * copied to three channels, 16-bit samples are scaled (rounded) to 8 bits,
 * Adam7 interlacing is undone, and any alpha channel is dropped (the pixels
 * keep their colour; nothing is composited). An eXIf chunk ahead of the
 * image data sets the orientation, as it does for JPEG.
 *
 * libpng reports errors through a callback that must not return; ours keeps
 * the message and longjmps back to png_run(). Warnings are dropped silently.
 * The IHDR dimensions are checked against the pixel limit before any row
 * memory exists, no chunk may claim more bytes than the file has left, and
 * text and ICC chunks are skipped unparsed, so what a file can make us
 * allocate is bounded by its size and its (checked) dimensions. Chunks after
 * the image data are not read: the pixels are complete by then and nothing
 * there changes them.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "image/image.h"
#include "util/util.h"

/* Ceiling on the memory for one ancillary chunk (text, ICC profile, eXIf),
 * libpng's usual default, restated so that a different build of libpng
 * cannot loosen it. */
#define PNG_MAX_CHUNK_BYTES 8000000

/* The whole decoder state lives in the caller's frame, so that none of it is
 * an automatic variable of the function that calls setjmp. */
struct png_job {
    const uint8_t *data;
    size_t size;
    size_t pos;
    const char *name;
    uint64_t max_pixels;
    png_structp png;
    png_infop info;
    lfr_image img;
    int orientation;
    int truncated;
    char msg[256];
};

static void on_png_error(png_structp png, png_const_charp msg)
{
    struct png_job *job = png_get_error_ptr(png);
    if (msg != job->msg) snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void on_png_read(png_structp png, png_bytep buf, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    size_t left = job->size - job->pos;
    if (n > left) {
        job->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    /* libpng allocates a buffer of a chunk's declared length before reading
     * its data (and merely warns when that length is absurd), so a 100-byte
     * file could ask for 2 GiB. Every byte is already in memory: a chunk
     * longer than what is left of the file is a truncated file, and is
     * refused here, at its header. */
    if ((png_get_io_state(png) & PNG_IO_MASK_LOC) == PNG_IO_CHUNK_HDR && n == 8) {
        const uint8_t *hdr = job->data + job->pos;
        uint32_t len = be32(hdr);
        if (len > left - 8 || left - 8 - len < 4) {
            char type[5];
            for (int i = 0; i < 4; i++)
                type[i] = isalpha(hdr[4 + i]) ? (char)hdr[4 + i] : '?';
            type[4] = 0;
            job->truncated = 1;
            snprintf(job->msg, sizeof job->msg, "%s chunk of %u bytes, with %zu bytes left", type,
                     (unsigned)len, left - 8);
            png_error(png, job->msg);
        }
    }
    memcpy(buf, job->data + job->pos, n);
    job->pos += n;
}

static int describe_failure(const struct png_job *job)
{
    if (job->truncated)
        return lfr__err(LFR_ERR_FORMAT, "%s: truncated PNG: %s", job->name, job->msg);
    /* libpng's allocation failures all say "memory" ("Out of memory",
     * "Insufficient memory for ..."). */
    if (strstr(job->msg, "memory"))
        return lfr__err(LFR_ERR_NOMEM, "%s: out of memory decoding PNG: %s", job->name, job->msg);
    return lfr__err(LFR_ERR_FORMAT, "%s: corrupt PNG: %s", job->name, job->msg);
}

/* The only function here that calls setjmp. Locals changed after it are
 * not used once a longjmp has landed. */
static int png_run(struct png_job *job)
{
    png_structp png = job->png;
    png_infop info = job->info;
    if (setjmp(png_jmpbuf(png))) return describe_failure(job);

    png_set_read_fn(png, job, on_png_read);
    png_set_benign_errors(png, 1);
    /* Our own check below gives the uniform "exceeds the limit" message, so
     * libpng's per-side limits are opened up to the format's maximum. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_chunk_malloc_max(png, PNG_MAX_CHUNK_BYTES);
    /* Text, ICC profiles and suggested palettes change no pixel here; not
     * parsing them keeps their decompressors out of reach of the input. */
    static const png_byte ignored[] = "iCCP\0iTXt\0tEXt\0zTXt\0sPLT";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored, 5);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    int rc = lfr__image_check_size(job->name, w, h, job->max_pixels);
    if (rc != LFR_OK) return rc;

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if (!(color & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * 3)
        return lfr__err(LFR_ERR_UNSUPPORTED,
                        "%s: unsupported PNG: pixel layout (colour type %d, "
                        "depth %d) not converted to RGB",
                        job->name, color, depth);

    rc = lfr_image_alloc((int)w, (int)h, &job->img);
    if (rc != LFR_OK)
        return lfr__err(rc, "%s: out of memory for a %ux%u image", job->name, (unsigned)w,
                        (unsigned)h);
    /* Every pass visits every row; libpng fills in the pixels of the rows
     * and columns that belong to it (as png_read_image does). */
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png, job->img.data + (size_t)y * job->img.stride, NULL);

    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) & PNG_INFO_eXIf)
        job->orientation = lfr__exif_tiff_orientation(exif, exif_len);
    return LFR_OK;
}

int lfr__png_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                    lfr_image *out)
{
    memset(out, 0, sizeof *out);
    struct png_job job;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.size = size;
    job.name = name;
    job.max_pixels = max_pixels;
    job.orientation = 1;
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_png_error, on_png_warning);
    if (job.png) job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(&job.png, NULL, NULL);
        return lfr__err(LFR_ERR_NOMEM, "%s: out of memory starting the PNG decoder", name);
    }
    int rc = png_run(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    if (rc == LFR_OK) {
        rc = lfr__image_orient(&job.img, job.orientation);
        if (rc != LFR_OK) rc = lfr__err_prefix(rc, name);
    }
    if (rc != LFR_OK) {
        lfr_image_free(&job.img);
        return rc;
    }
    *out = job.img;
    return LFR_OK;
}
