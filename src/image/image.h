/*
 * Internal image operations: format sniffing and decoders (JPEG via
 * libjpeg-turbo, PNG via libpng, EXIF orientation), and the two resampling
 * kernels the pipeline needs, each with a naive reference beside it.
 */
#ifndef LFR_IMAGE_H
#define LFR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "lfr/lfr.h"

/* EXIF orientation (1..8) found in a JPEG's APP1 segment, or 1 when absent
 * or unreadable. Never reads outside [data, data + size). */
int lfr__jpeg_exif_orientation(const uint8_t *data, size_t size);

/* Apply an EXIF orientation (1..8) to an image in place (may reallocate). */
int lfr__image_orient(lfr_image *img, int orientation);

/* Bilinear resize of an RGB8 image to dst (already allocated, any size).
 * Pixel centres are at (i + 0.5) in both images (half-pixel convention). */
void lfr__resize_bilinear(const lfr_image *src, lfr_image *dst);
void lfr__resize_bilinear_ref(const lfr_image *src, lfr_image *dst);

/*
 * Affine warp to a float NHWC tensor: for every output pixel (x, y), with
 * pixel centres at integer coordinates, the source point is
 *     sx = m[0] * x + m[1] * y + m[2],  sy = m[3] * x + m[4] * y + m[5]
 * sampled bilinearly from src; each of the four neighbours that falls
 * outside the image contributes `border` (a pixel value, as OpenCV's
 * BORDER_CONSTANT). The sampled value v (0..255) is stored as
 * v * scale + bias. dst holds dh * dw * 3 floats.
 *
 * This one kernel serves letterboxing and tiling for the detector and
 * similarity alignment for the embedder.
 */
void lfr__warp_affine_f32(const lfr_image *src, const float m[6], int dw, int dh, float border,
                          float scale, float bias, float *dst);
void lfr__warp_affine_f32_ref(const lfr_image *src, const float m[6], int dw, int dh, float border,
                              float scale, float bias, float *dst);

/* Invert a 2x3 affine map; returns 0 when singular. */
int lfr__affine_invert(const float m[6], float inv_out[6]);

/* ---- Internal to the image module (decode.c, jpeg.c, png.c, exif.c) ---- */

/* Check an image's dimensions, read from its header, against max_pixels
 * (0 means LFR_DEFAULT_MAX_PIXELS) and against what an lfr_image and size_t
 * can hold, before any pixel memory is allocated. Returns LFR_OK, or
 * LFR_ERR_FORMAT (zero size) / LFR_ERR_TOO_LARGE with a message naming `name`. */
int lfr__image_check_size(const char *name, uint64_t width, uint64_t height, uint64_t max_pixels);

/* The decoders behind lfr_image_decode, for data whose magic bytes have
 * already been recognised; same contract (out is zeroed on failure). Each
 * applies the orientation found in the file: a JPEG's APP1 Exif segment, a
 * PNG's eXIf chunk. */
int lfr__jpeg_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                     lfr_image *out);
int lfr__png_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                    lfr_image *out);

/* EXIF orientation (1..8) from a bare TIFF structure ("II*\0" or "MM\0*"
 * header, IFD0), as held in a JPEG APP1 after "Exif\0\0" or in a PNG eXIf
 * chunk; 1 when absent or unreadable. Never reads outside [tiff, tiff + size). */
int lfr__exif_tiff_orientation(const uint8_t *tiff, size_t size);

/* Encode the region (x, y, w, h) of an RGB image, clipped to the image, as a
 * JPEG of the given quality (1-100) into a malloc'd buffer (*out, *out_n). */
int lfr__jpeg_encode_region(const lfr_image *img, int x, int y, int w, int h, int quality,
                            uint8_t **out, size_t *out_n);

#endif
