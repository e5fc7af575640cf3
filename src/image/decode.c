/*
 * The public image entry points: load a file, recognise JPEG or PNG from its
 * magic bytes (never from its name), check the header's dimensions against
 * the caller's pixel limit, and hand over to jpeg.c or png.c. Also the RGB
 * image allocator that every decoder and kernel uses.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "util/util.h"

/* Image files larger than this are refused before decoding: a 100-megapixel
 * JPEG is far smaller, and an uncompressed-looking PNG of that size is not
 * something a camera or custody system produces. */
#define IMAGE_MAX_FILE_BYTES ((size_t)512 << 20)

static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

int lfr_image_alloc(int width, int height, lfr_image *out)
{
    if (!out) return lfr__err(LFR_ERR_INVALID, "lfr_image_alloc: NULL output");
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0)
        return lfr__err(LFR_ERR_INVALID, "lfr_image_alloc: bad size %dx%d", width, height);
    size_t stride, bytes;
    if (!lfr__mul_ok((size_t)width, 3, &stride) || !lfr__mul_ok(stride, (size_t)height, &bytes))
        return lfr__err(LFR_ERR_TOO_LARGE, "lfr_image_alloc: %dx%d image is too large", width,
                        height);
    uint8_t *data = malloc(bytes);
    if (!data)
        return lfr__err(LFR_ERR_NOMEM, "lfr_image_alloc: out of memory for a %dx%d image", width,
                        height);
    out->width = width;
    out->height = height;
    out->stride = stride;
    out->data = data;
    return LFR_OK;
}

void lfr_image_free(lfr_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

int lfr__image_check_size(const char *name, uint64_t width, uint64_t height, uint64_t max_pixels)
{
    if (max_pixels == 0) max_pixels = LFR_DEFAULT_MAX_PIXELS;
    if (width == 0 || height == 0)
        return lfr__err(LFR_ERR_FORMAT, "%s: image has a zero dimension (%" PRIu64 "x%" PRIu64 ")",
                        name, width, height);
    /* Header fields are at most 32 bits wide, so the product cannot wrap. */
    uint64_t pixels = width * height;
    if (width > INT_MAX || height > INT_MAX || pixels > max_pixels) {
        return lfr__err(LFR_ERR_TOO_LARGE,
                        "%s: %" PRIu64 "x%" PRIu64
                        " image (%.1f megapixels) exceeds the limit of %.1f megapixels",
                        name, width, height, (double)pixels / 1e6, (double)max_pixels / 1e6);
    }
    size_t bytes;
    if (pixels > SIZE_MAX || !lfr__mul_ok((size_t)pixels, 3, &bytes))
        return lfr__err(LFR_ERR_TOO_LARGE,
                        "%s: %" PRIu64 "x%" PRIu64 " image is too large for this machine", name,
                        width, height);
    return LFR_OK;
}

/* Whether data is a proper prefix of magic: a file cut off inside its own
 * signature is a truncated image of that kind, not an unknown format. */
static int is_prefix_of(const uint8_t *data, size_t size, const uint8_t *magic, size_t n)
{
    return size < n && memcmp(data, magic, size) == 0;
}

int lfr_image_decode(const void *data, size_t size, const char *name, uint64_t max_pixels,
                     lfr_image *out)
{
    if (!name) name = "<memory>";
    if (!out) return lfr__err(LFR_ERR_INVALID, "%s: NULL output image", name);
    memset(out, 0, sizeof *out);
    if (!data && size) return lfr__err(LFR_ERR_INVALID, "%s: NULL data", name);
    if (size == 0) return lfr__err(LFR_ERR_FORMAT, "%s: empty file", name);

    const uint8_t *p = data;
    if (size >= sizeof jpeg_magic && memcmp(p, jpeg_magic, sizeof jpeg_magic) == 0)
        return lfr__jpeg_decode(p, size, name, max_pixels, out);
    if (size >= sizeof png_magic && memcmp(p, png_magic, sizeof png_magic) == 0)
        return lfr__png_decode(p, size, name, max_pixels, out);
    if (is_prefix_of(p, size, jpeg_magic, sizeof jpeg_magic))
        return lfr__err(LFR_ERR_FORMAT, "%s: truncated JPEG (%zu bytes)", name, size);
    if (is_prefix_of(p, size, png_magic, sizeof png_magic))
        return lfr__err(LFR_ERR_FORMAT, "%s: truncated PNG (%zu bytes)", name, size);
    return lfr__err(LFR_ERR_UNSUPPORTED, "%s: not a JPEG or PNG image", name);
}

int lfr_image_load(const char *path, uint64_t max_pixels, lfr_image *out)
{
    if (!out) return lfr__err(LFR_ERR_INVALID, "lfr_image_load: NULL output image");
    memset(out, 0, sizeof *out);
    if (!path) return lfr__err(LFR_ERR_INVALID, "lfr_image_load: NULL path");
    uint8_t *data;
    size_t size;
    int rc = lfr__read_file(path, IMAGE_MAX_FILE_BYTES, &data, &size);
    if (rc != LFR_OK) return rc;
    rc = lfr_image_decode(data, size, path, max_pixels, out);
    free(data);
    return rc;
}
