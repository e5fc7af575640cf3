/*
 * libFuzzer target for the image decoders: any bytes at all go through
 * lfr_image_decode (format sniffing, JPEG, PNG, EXIF orientation) with a
 * 4-megapixel limit, so that a hostile header cannot make a run allocate
 * more than a few tens of megabytes. The EXIF walkers are also run on every
 * input directly, since the decoder only reaches them for files that decode.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "lfr/lfr.h"

#define FUZZ_MAX_PIXELS 4000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int o = lfr__jpeg_exif_orientation(data, size);
    int t = lfr__exif_tiff_orientation(data, size);
    if (o < 1 || o > 8 || t < 1 || t > 8) __builtin_trap();

    lfr_image img;
    if (lfr_image_decode(data, size, "fuzz", FUZZ_MAX_PIXELS, &img) == LFR_OK) {
        if (img.width < 1 || img.height < 1 || img.stride != (size_t)img.width * 3 ||
            (uint64_t)img.width * (uint64_t)img.height > FUZZ_MAX_PIXELS)
            __builtin_trap();
        /* Touch every row, so that a wrong stride or height shows up. */
        volatile uint8_t sink = 0;
        for (int y = 0; y < img.height; y++)
            sink ^= img.data[(size_t)y * img.stride + (size_t)(img.width - 1) * 3 + 2];
        (void)sink;
        lfr_image_free(&img);
    }
    return 0;
}
