/*
 * The inputs of the ONNX fixtures, made the same way by the tool that feeds
 * onnxruntime (tests/tools/lfr_onnx_inputs.c, run by
 * scripts/oracle/onnx.mjs) and by the test that compares our outputs with
 * its (tests/unit/test_onnx.c): real images from the shared face data,
 * decoded by the project's decoder and scaled by the naive bilinear
 * reference (plain double arithmetic, the same on every machine), as 8-bit
 * RGB. The fixtures record each input's sha256, so a decoder that ever
 * decodes differently is reported instead of compared.
 *
 * YuNet reads raw BGR values 0..255; EdgeFace reads RGB as
 * (x - 127.5) / 127.5 (computed in double, then rounded to float, as
 * JavaScript does). EdgeFace's faces are LFW images cropped to their
 * central 150 x 150 pixels and scaled to 112 x 112: real faces, roughly
 * centred, not landmark-aligned (the raw outputs are what is compared).
 */
#ifndef LFR_ONNX_CASES_H
#define LFR_ONNX_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "lfr/lfr.h"

typedef struct onnx_case {
    const char *name;      /* fixture stem */
    const char *model;     /* file in the models folder */
    int n, h, w;           /* input batch and size (3 channels) */
    int edgeface;          /* 1: RGB, (x - 127.5) / 127.5; 0: raw BGR */
    const char *images[4]; /* under the data folder, one per batch item */
} onnx_case;

static const onnx_case ONNX_CASES[] = {
    {"yunet_n_640x480", "yunet_n_dynamic.onnx", 1, 480, 640, 0, {"stills/two_people.jpg"}},
    {"yunet_n_320x416", "yunet_n_dynamic.onnx", 1, 416, 320, 0, {"stills/obama.jpg"}},
    {"yunet_s_640x480", "yunet_s_dynamic.onnx", 1, 480, 640, 0, {"stills/two_people.jpg"}},
    {"yunet_s_320x416", "yunet_s_dynamic.onnx", 1, 416, 320, 0, {"stills/obama.jpg"}},
    {"yunet_2023mar_640x640",
     "face_detection_yunet_2023mar.onnx",
     1,
     640,
     640,
     0,
     {"stills/lin-manuel-miranda.png"}},
    {"edgeface_xs_4faces",
     "edgeface_xs_q.onnx",
     4,
     112,
     112,
     1,
     {"lfw/Colin_Powell/Colin_Powell_0001.jpg", "lfw/Serena_Williams/Serena_Williams_0001.jpg",
      "lfw/Hu_Jintao/Hu_Jintao_0001.jpg", "lfw/Jennifer_Lopez/Jennifer_Lopez_0001.jpg"}},
    {"edgeface_xxs_4faces",
     "edgeface_xxs_q.onnx",
     4,
     112,
     112,
     1,
     {"lfw/Colin_Powell/Colin_Powell_0001.jpg", "lfw/Serena_Williams/Serena_Williams_0001.jpg",
      "lfw/Hu_Jintao/Hu_Jintao_0001.jpg", "lfw/Jennifer_Lopez/Jennifer_Lopez_0001.jpg"}},
};
#define N_ONNX_CASES ((int)(sizeof ONNX_CASES / sizeof ONNX_CASES[0]))

/* The case's n images as 8-bit RGB, row-major HWC, one after another
 * (n * h * w * 3 bytes, caller-sized). LFR_OK, or the loader's status with
 * lfr_errmsg() naming the file. */
static inline int onnx_case_pixels(const onnx_case *c, const char *data_dir, uint8_t *rgb)
{
    for (int k = 0; k < c->n; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", data_dir, c->images[k]);
        lfr_image img, crop, out;
        int rc = lfr_image_load(path, 0, &img);
        if (rc != LFR_OK) return rc;
        if (c->edgeface) {
            /* Central 150 x 150 of the 250 x 250 LFW image. */
            int s = img.width < img.height ? img.width : img.height, side = s * 150 / 250;
            int x0 = (img.width - side) / 2, y0 = (img.height - side) / 2;
            if (lfr_image_alloc(side, side, &crop) != LFR_OK) {
                lfr_image_free(&img);
                return LFR_ERR_NOMEM;
            }
            for (int y = 0; y < side; y++)
                memcpy(crop.data + (size_t)y * crop.stride,
                       img.data + (size_t)(y0 + y) * img.stride + (size_t)x0 * 3, (size_t)side * 3);
            lfr_image_free(&img);
            img = crop;
        }
        if (lfr_image_alloc(c->w, c->h, &out) != LFR_OK) {
            lfr_image_free(&img);
            return LFR_ERR_NOMEM;
        }
        lfr__resize_bilinear_ref(&img, &out);
        for (int y = 0; y < c->h; y++)
            memcpy(rgb + ((size_t)k * c->h + y) * c->w * 3, out.data + (size_t)y * out.stride,
                   (size_t)c->w * 3);
        lfr_image_free(&img);
        lfr_image_free(&out);
    }
    return LFR_OK;
}

/* The model's input for those pixels, NHWC (what our runtime reads). */
static inline void onnx_case_input_nhwc(const onnx_case *c, const uint8_t *rgb, float *x)
{
    size_t px = (size_t)c->n * c->h * c->w;
    for (size_t i = 0; i < px; i++)
        for (int ch = 0; ch < 3; ch++) {
            if (c->edgeface)
                x[i * 3 + ch] = (float)(((double)rgb[i * 3 + ch] - 127.5) / 127.5);
            else
                x[i * 3 + ch] = (float)rgb[i * 3 + (2 - ch)]; /* BGR */
        }
}

#endif
