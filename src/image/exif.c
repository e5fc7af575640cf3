/*
 * EXIF orientation: finding the Orientation tag (0x0112) in a JPEG's APP1
 * "Exif\0\0" segment or a bare TIFF structure, and turning an image so that
 * it reads the way the camera held it. The parser trusts no length or offset
 * in the file: every read is checked against the bytes actually present.
 */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "util/util.h"

#define TAG_ORIENTATION 0x0112
#define TIFF_SHORT 3
#define TIFF_LONG 4

/* A TIFF structure and its byte order (1: big-endian "MM"). */
struct tiff {
    const uint8_t *p;
    size_t n;
    int big;
};

/* Read a 16- or 32-bit field at offset `at`; 0 (and *ok cleared) when it
 * would run past the end. */
static uint32_t tiff_u16(const struct tiff *t, size_t at, int *ok)
{
    if (at > t->n || t->n - at < 2) {
        *ok = 0;
        return 0;
    }
    const uint8_t *b = t->p + at;
    return t->big ? (uint32_t)b[0] << 8 | b[1] : (uint32_t)b[1] << 8 | b[0];
}

static uint32_t tiff_u32(const struct tiff *t, size_t at, int *ok)
{
    if (at > t->n || t->n - at < 4) {
        *ok = 0;
        return 0;
    }
    const uint8_t *b = t->p + at;
    if (t->big) return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

int lfr__exif_tiff_orientation(const uint8_t *tiff, size_t size)
{
    if (!tiff || size < 8) return 1;
    struct tiff t = {tiff, size, 0};
    if (memcmp(tiff, "MM\0*", 4) == 0)
        t.big = 1;
    else if (memcmp(tiff, "II*\0", 4) != 0)
        return 1;
    int ok = 1;
    size_t ifd = tiff_u32(&t, 4, &ok);
    size_t count = tiff_u16(&t, ifd, &ok);
    if (!ok) return 1;
    for (size_t i = 0; i < count; i++) {
        /* ifd + 2 + 12 * i cannot wrap: ifd < size and i < 65536. */
        size_t entry = ifd + 2 + 12 * i;
        uint32_t tag = tiff_u16(&t, entry, &ok);
        if (!ok) return 1;
        if (tag != TAG_ORIENTATION) continue;
        uint32_t type = tiff_u16(&t, entry + 2, &ok);
        uint32_t n = tiff_u32(&t, entry + 4, &ok);
        uint32_t v = 0;
        if (type == TIFF_SHORT)
            v = tiff_u16(&t, entry + 8, &ok);
        else if (type == TIFF_LONG)
            v = tiff_u32(&t, entry + 8, &ok);
        if (!ok || n != 1 || v < 1 || v > 8) return 1;
        return (int)v;
    }
    return 1;
}

int lfr__jpeg_exif_orientation(const uint8_t *data, size_t size)
{
    if (!data || size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
    size_t pos = 2;
    /* Walk the marker segments before the first scan. */
    while (pos < size) {
        if (data[pos] != 0xFF) return 1;
        while (pos < size && data[pos] == 0xFF)
            pos++; /* fill bytes */
        if (pos >= size) return 1;
        uint8_t marker = data[pos++];
        if (marker == 0xDA || marker == 0xD9) return 1; /* SOS, EOI */
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
        if (size - pos < 2) return 1;
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        if (len < 2 || len > size - pos) return 1;
        const uint8_t *seg = data + pos + 2;
        size_t seg_len = len - 2;
        if (marker == 0xE1 && seg_len >= 6 && memcmp(seg, "Exif\0\0", 6) == 0)
            return lfr__exif_tiff_orientation(seg + 6, seg_len - 6);
        pos += len;
    }
    return 1;
}

int lfr__image_orient(lfr_image *img, int orientation)
{
    if (orientation <= 1 || orientation > 8) return LFR_OK;
    const int w = img->width, h = img->height;
    const ptrdiff_t s = (ptrdiff_t)img->stride;
    /* Output pixel (x, y) is read from base + x * step_x + y * step_y: the
     * EXIF meaning of each value, written as a walk over the source. */
    ptrdiff_t base, step_x, step_y;
    const ptrdiff_t right = (ptrdiff_t)(w - 1) * 3, bottom = (ptrdiff_t)(h - 1) * s;
    switch (orientation) {
    case 2:
        base = right, step_x = -3, step_y = s;
        break; /* mirror */
    case 3:
        base = bottom + right, step_x = -3, step_y = -s;
        break; /* rotate 180 */
    case 4:
        base = bottom, step_x = 3, step_y = -s;
        break; /* flip */
    case 5:
        base = 0, step_x = s, step_y = 3;
        break; /* transpose */
    case 6:
        base = bottom, step_x = -s, step_y = 3;
        break; /* rotate 90 CW */
    case 7:
        base = bottom + right, step_x = -s, step_y = -3;
        break; /* transverse */
    default:
        base = right, step_x = s, step_y = -3;
        break; /* 8: rotate 90 CCW */
    }
    const int swap = orientation >= 5;
    lfr_image out;
    int rc = lfr_image_alloc(swap ? h : w, swap ? w : h, &out);
    if (rc != LFR_OK) return rc;
    for (int y = 0; y < out.height; y++) {
        ptrdiff_t at = base + (ptrdiff_t)y * step_y;
        uint8_t *dp = out.data + (size_t)y * out.stride;
        for (int x = 0; x < out.width; x++, at += step_x, dp += 3) {
            const uint8_t *sp = img->data + at;
            dp[0] = sp[0];
            dp[1] = sp[1];
            dp[2] = sp[2];
        }
    }
    lfr_image_free(img);
    *img = out;
    return LFR_OK;
}
