/*
 * Resampling kernels: bilinear resize (RGB8 to RGB8) and the affine warp to
 * a float tensor that feeds both networks (letterbox and tiles for the
 * detector, 112x112 alignment for the embedder). Each fast kernel has a
 * naive reference beside it, written to be obviously right, and the unit
 * tests hold the two together.
 *
 * The fast versions differ from the references only in how they compute:
 * everything that depends on the row alone is hoisted out of the pixel
 * loop; floor() becomes integer truncation of a coordinate known to be
 * non-negative; a sample whose four neighbours all lie inside the image
 * (nearly every sample) reads them without bounds checks; and on x86-64 the
 * three channels of that sample are mixed together in one SSE2 vector.
 * Define LFR_NO_SIMD to build (and test) the portable code alone.
 */
#include <math.h>
#include <limits.h>
#include <stddef.h>

#include "image/image.h"

#if defined(__SSE2__) && !defined(LFR_NO_SIMD)
#define RESAMPLE_SSE2 1
#include <emmintrin.h>
#else
#define RESAMPLE_SSE2 0
#endif

#if RESAMPLE_SSE2
/* The bilinear mix of four RGB8 pixels, p[0..2], p[3..5] (top row) and
 * q[0..2], q[3..5] (bottom row), with weights w00, w01, w10, w11, in lanes 0
 * to 2. Loads 8 bytes at p and at q: the caller makes sure they exist. */
static inline __m128 mix4_sse2(const uint8_t *p, const uint8_t *q, float w00, float w01, float w10,
                               float w11)
{
    const __m128i z = _mm_setzero_si128();
    const __m128i a16 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p), z);
    const __m128i b16 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)q), z);
    const __m128 p0 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(a16, z));
    const __m128 p1 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_srli_si128(a16, 6), z));
    const __m128 q0 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(b16, z));
    const __m128 q1 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_srli_si128(b16, 6), z));
    const __m128 top =
        _mm_add_ps(_mm_mul_ps(p0, _mm_set1_ps(w00)), _mm_mul_ps(p1, _mm_set1_ps(w01)));
    const __m128 bot =
        _mm_add_ps(_mm_mul_ps(q0, _mm_set1_ps(w10)), _mm_mul_ps(q1, _mm_set1_ps(w11)));
    return _mm_add_ps(top, bot);
}
#endif

/* ---- Bilinear resize ----------------------------------------------------- */

/* The source coordinate of destination pixel i, half-pixel convention,
 * clamped to the first and last pixel centres (clamp-to-edge). */
static double resize_coord_ref(int i, int src_n, int dst_n)
{
    double s = (i + 0.5) * src_n / dst_n - 0.5;
    if (s < 0) s = 0;
    if (s > src_n - 1) s = src_n - 1;
    return s;
}

void lfr__resize_bilinear_ref(const lfr_image *src, lfr_image *dst)
{
    for (int y = 0; y < dst->height; y++) {
        for (int x = 0; x < dst->width; x++) {
            double sy = resize_coord_ref(y, src->height, dst->height);
            double sx = resize_coord_ref(x, src->width, dst->width);
            int y0 = (int)floor(sy), x0 = (int)floor(sx);
            int y1 = y0 + 1 < src->height ? y0 + 1 : y0;
            int x1 = x0 + 1 < src->width ? x0 + 1 : x0;
            double fy = sy - y0, fx = sx - x0;
            for (int c = 0; c < 3; c++) {
                double a = src->data[(size_t)y0 * src->stride + (size_t)x0 * 3 + c];
                double b = src->data[(size_t)y0 * src->stride + (size_t)x1 * 3 + c];
                double d = src->data[(size_t)y1 * src->stride + (size_t)x0 * 3 + c];
                double e = src->data[(size_t)y1 * src->stride + (size_t)x1 * 3 + c];
                double v = (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * d + fx * e);
                dst->data[(size_t)y * dst->stride + (size_t)x * 3 + c] = (uint8_t)(v + 0.5);
            }
        }
    }
}

void lfr__resize_bilinear(const lfr_image *src, lfr_image *dst)
{
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    if (sw <= 0 || sh <= 0) return;
    const double rx = (double)sw / dw, ry = (double)sh / dh;
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * ry - 0.5;
        sy = sy < 0 ? 0 : sy > sh - 1 ? sh - 1 : sy;
        const int y0 = (int)sy; /* sy >= 0, so truncation is floor */
        const float fy = (float)(sy - y0);
        const uint8_t *r0 = src->data + (size_t)y0 * src->stride;
        const uint8_t *r1 = y0 + 1 < sh ? r0 + src->stride : r0;
        uint8_t *o = dst->data + (size_t)y * dst->stride;
        for (int x = 0; x < dw; x++, o += 3) {
            double sx = (x + 0.5) * rx - 0.5;
            sx = sx < 0 ? 0 : sx > sw - 1 ? sw - 1 : sx;
            const int x0 = (int)sx;
            const float fx = (float)(sx - x0);
            const size_t i0 = (size_t)x0 * 3;
#if RESAMPLE_SSE2
            if (x0 + 2 < sw) { /* x1 = x0 + 1, and 8 bytes at i0 stay in the row */
                const float w11 = fx * fy, w01 = fx - w11, w10 = fy - w11;
                const __m128 v = _mm_add_ps(
                    mix4_sse2(r0 + i0, r1 + i0, 1 - fx - w10, w01, w10, w11), _mm_set1_ps(0.5f));
                const __m128i b = _mm_cvttps_epi32(v);
                const uint32_t rgb = (uint32_t)_mm_cvtsi128_si32(
                    _mm_packus_epi16(_mm_packs_epi32(b, b), _mm_setzero_si128()));
                o[0] = (uint8_t)rgb;
                o[1] = (uint8_t)(rgb >> 8);
                o[2] = (uint8_t)(rgb >> 16);
                continue;
            }
#endif
            const size_t i1 = x0 + 1 < sw ? i0 + 3 : i0;
            for (int c = 0; c < 3; c++) {
                float top = r0[i0 + c] + fx * (float)(r0[i1 + c] - r0[i0 + c]);
                float bot = r1[i0 + c] + fx * (float)(r1[i1 + c] - r1[i0 + c]);
                o[c] = (uint8_t)(top + fy * (bot - top) + 0.5f);
            }
        }
    }
}

/* ---- Affine warp to float ------------------------------------------------ */

void lfr__warp_affine_f32_ref(const lfr_image *src, const float m[6], int dw, int dh, float border,
                              float scale, float bias, float *dst)
{
    for (int y = 0; y < dh; y++) {
        for (int x = 0; x < dw; x++) {
            double sx = (double)m[0] * x + (double)m[1] * y + (double)m[2];
            double sy = (double)m[3] * x + (double)m[4] * y + (double)m[5];
            double x0 = floor(sx), y0 = floor(sy);
            double fx = sx - x0, fy = sy - y0;
            for (int c = 0; c < 3; c++) {
                double p[2][2];
                for (int j = 0; j < 2; j++) {
                    for (int i = 0; i < 2; i++) {
                        double xx = x0 + i, yy = y0 + j;
                        int inside = xx >= 0 && xx < src->width && yy >= 0 && yy < src->height;
                        p[j][i] = inside ? src->data[(size_t)yy * src->stride + (size_t)xx * 3 + c]
                                         : border;
                    }
                }
                double v = (1 - fy) * ((1 - fx) * p[0][0] + fx * p[0][1]) +
                           fy * ((1 - fx) * p[1][0] + fx * p[1][1]);
                dst[((size_t)y * dw + x) * 3 + c] = (float)(v * scale + bias);
            }
        }
    }
}

/* A sample in cell (x0, y0) some of whose neighbours fall outside the image
 * (x0 in [-1, width), y0 in [-1, height)). */
static void warp_edge_pixel(const lfr_image *src, int x0, int y0, float fx, float fy, float border,
                            float scale, float bias, float *o)
{
    const float w11 = fx * fy, w01 = fx - w11, w10 = fy - w11, w00 = 1 - fx - w10;
    const int in_x0 = x0 >= 0, in_x1 = x0 + 1 < src->width;
    const uint8_t *r0 = y0 >= 0 ? src->data + (size_t)y0 * src->stride : NULL;
    const uint8_t *r1 = y0 + 1 < src->height ? src->data + (size_t)(y0 + 1) * src->stride : NULL;
    for (int c = 0; c < 3; c++) {
        const ptrdiff_t i0 = (ptrdiff_t)x0 * 3 + c, i1 = i0 + 3;
        float a = r0 && in_x0 ? r0[i0] : border;
        float b = r0 && in_x1 ? r0[i1] : border;
        float d = r1 && in_x0 ? r1[i0] : border;
        float e = r1 && in_x1 ? r1[i1] : border;
        o[c] = (w00 * a + w01 * b + w10 * d + w11 * e) * scale + bias;
    }
}

/* Output pixels are processed a row at a time in chunks of this many: first
 * every source coordinate of the chunk (a loop the compiler can vectorise),
 * then every sample. */
#define WARP_CHUNK 64

void lfr__warp_affine_f32(const lfr_image *src, const float m[6], int dw, int dh, float border,
                          float scale, float bias, float *dst)
{
    const double m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5];
    const int w = src->width, h = src->height;
    /* Coordinates are clamped to [-2, size + 1] before conversion to int, so
     * that any map (huge, infinite, NaN) converts safely; every clamped value
     * lies in a cell with no neighbour inside, as the value did. (The INT_MAX
     * bound only matters for images 2^31 pixels wide, and keeps even those
     * memory-safe.) */
    const double lo = -2, hi_x = fmin(w + 1.0, INT_MAX - 3.0), hi_y = fmin(h + 1.0, INT_MAX - 3.0);
    const size_t stride = src->stride;
    const float outside = border * scale + bias;
    if (w <= 0 || h <= 0) {
        for (size_t i = 0; i < (size_t)dw * (size_t)dh * 3; i++)
            dst[i] = outside;
        return;
    }
    int cx[WARP_CHUNK], cy[WARP_CHUNK];
    float fxs[WARP_CHUNK], fys[WARP_CHUNK];
    for (int y = 0; y < dh; y++) {
        const double row_x = m1 * y + m2, row_y = m4 * y + m5;
        float *o = dst + (size_t)y * (size_t)dw * 3;
        for (int start = 0; start < dw; start += WARP_CHUNK) {
            const int n = dw - start < WARP_CHUNK ? dw - start : WARP_CHUNK;
            for (int i = 0; i < n; i++) {
                double px = row_x + m0 * (start + i), py = row_y + m3 * (start + i);
                px = px > lo ? px : lo; /* also maps NaN to lo */
                px = px < hi_x ? px : hi_x;
                py = py > lo ? py : lo;
                py = py < hi_y ? py : hi_y;
                /* px + 2 >= 0, so truncation then - 2 is floor(px). */
                const int x0 = (int)(px + 2) - 2, y0 = (int)(py + 2) - 2;
                cx[i] = x0;
                cy[i] = y0;
                fxs[i] = (float)(px - x0);
                fys[i] = (float)(py - y0);
            }
            for (int i = 0; i < n; i++, o += 3) {
                const int x0 = cx[i], y0 = cy[i];
                const float fx = fxs[i], fy = fys[i];
                if ((unsigned)x0 < (unsigned)(w - 1) && (unsigned)y0 < (unsigned)(h - 1)) {
                    /* All four neighbours inside. Scale folded into the weights. */
                    const float w11 = fx * fy * scale, w01 = fx * scale - w11;
                    const float w10 = fy * scale - w11, w00 = scale - fx * scale - w10;
                    const uint8_t *p = src->data + (size_t)y0 * stride + (size_t)x0 * 3;
                    const uint8_t *q = p + stride;
#if RESAMPLE_SSE2
                    if (x0 + 2 < w) { /* 8 bytes at p and q stay in their rows */
                        const __m128 v =
                            _mm_add_ps(mix4_sse2(p, q, w00, w01, w10, w11), _mm_set1_ps(bias));
                        _mm_storel_pi((__m64 *)(void *)o, v);
                        _mm_store_ss(o + 2, _mm_movehl_ps(v, v));
                        continue;
                    }
#endif
                    o[0] = w00 * p[0] + w01 * p[3] + w10 * q[0] + w11 * q[3] + bias;
                    o[1] = w00 * p[1] + w01 * p[4] + w10 * q[1] + w11 * q[4] + bias;
                    o[2] = w00 * p[2] + w01 * p[5] + w10 * q[2] + w11 * q[5] + bias;
                } else if (x0 >= -1 && x0 < w && y0 >= -1 && y0 < h) {
                    warp_edge_pixel(src, x0, y0, fx, fy, border, scale, bias, o);
                } else {
                    o[0] = o[1] = o[2] = outside;
                }
            }
        }
    }
}

int lfr__affine_invert(const float m[6], float inv_out[6])
{
    const double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5];
    const double det = a * e - b * d;
    /* Singular, or so nearly that the products cancel to rounding noise. */
    if (!(fabs(det) > 1e-12 * (fabs(a * e) + fabs(b * d)))) return 0;
    const double inv[6] = {e / det,  -b / det, (b * f - e * c) / det,
                           -d / det, a / det,  (d * c - a * f) / det};
    for (int i = 0; i < 6; i++) {
        if (!isfinite(inv[i]) || fabs(inv[i]) > 3.4e38) return 0;
    }
    for (int i = 0; i < 6; i++)
        inv_out[i] = (float)inv[i];
    return 1;
}
