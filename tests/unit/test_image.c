/*
 * Unit tests for the image module: JPEG and PNG decoding of every pixel
 * layout the decoders promise, EXIF orientation, refusal of bad input with
 * the right status and a message naming the file, and the fast resampling
 * kernels against their naive references.
 *
 * Every test image is generated here with libjpeg and libpng (or by hand,
 * byte by byte, where an encoder would refuse to write it); nothing binary
 * is committed. The tests on real photographs read $LFR_DATA (default
 * ../shared/data) and are skipped when it is absent.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkstemp, clock_gettime, opendir */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image/image.h"
#include "lfr/lfr.h"

/* ---- Helpers --------------------------------------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Uniform in [lo, hi). */
static double rnd_uniform(double lo, double hi)
{
    return lo + (hi - lo) * (rnd() / 4294967296.0);
}

static void assert_msg_has(const char *needle)
{
    const char *msg = lfr_errmsg();
    if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
    if (strchr(msg, '\n')) fail_msg("message \"%s\" is not one line", msg);
}

static uint8_t *px(const lfr_image *img, int x, int y)
{
    return img->data + (size_t)y * img->stride + (size_t)x * 3;
}

static void fill_random(lfr_image *img)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width * 3; x++)
            img->data[(size_t)y * img->stride + (size_t)x] = (uint8_t)rnd();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- Encoders -------------------------------------------------------------- */

static void on_encode_error(j_common_ptr cinfo)
{
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    fail_msg("test JPEG encoder: %s", msg);
}

/* Encode w*h pixels of `comps` samples each. 4:4:4 sampling, so that flat
 * 8x8 blocks survive exactly at quality 100. Caller frees the result. */
static uint8_t *make_jpeg_cs(const uint8_t *pix, int w, int h, int comps, J_COLOR_SPACE in_cs,
                             J_COLOR_SPACE jpeg_cs, int quality, int progressive, size_t *n_out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    err.error_exit = on_encode_error;
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, jpeg_cs);
    jpeg_set_quality(&c, quality, TRUE);
    for (int i = 0; i < c.num_components; i++)
        c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)c.next_scanline * (size_t)w * (size_t)comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *n_out = n;
    return buf;
}

static uint8_t *make_jpeg(const uint8_t *pix, int w, int h, int comps, int quality, size_t *n_out)
{
    J_COLOR_SPACE cs = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    J_COLOR_SPACE out = comps == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
    return make_jpeg_cs(pix, w, h, comps, cs, out, quality, 0, n_out);
}

/* A smooth RGB test pattern, w*h*3 bytes; caller frees. */
static uint8_t *gradient_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            q[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            q[2] = (uint8_t)(128 + (x - y) / 2);
        }
    }
    return p;
}

struct membuf {
    uint8_t *p;
    size_t n, cap;
};

static void membuf_write(png_structp png, png_bytep data, size_t n)
{
    struct membuf *b = png_get_io_ptr(png);
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        uint8_t *q = realloc(b->p, cap);
        assert_non_null(q);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void membuf_flush(png_structp png)
{
    (void)png;
}

struct png_spec {
    int w, h, color, depth, interlace;
    const uint8_t *rows; /* packed PNG rows, 16-bit samples big-endian */
    const png_color *palette;
    int n_palette;
    const uint8_t *trns;
    int n_trns;
    const uint8_t *exif;
    uint32_t n_exif;
};

static size_t png_rowbytes(const struct png_spec *s)
{
    int ch = s->color == PNG_COLOR_TYPE_GRAY         ? 1
             : s->color == PNG_COLOR_TYPE_PALETTE    ? 1
             : s->color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
             : s->color == PNG_COLOR_TYPE_RGB        ? 3
                                                     : 4;
    return ((size_t)s->w * (size_t)ch * (size_t)s->depth + 7) / 8;
}

/* Encode a PNG; caller frees. */
static uint8_t *make_png(const struct png_spec *s, size_t *n_out)
{
    struct membuf b = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) fail_msg("test PNG encoder failed");
    png_set_write_fn(png, &b, membuf_write, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color, s->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trns) png_set_tRNS(png, info, s->trns, s->n_trns, NULL);
    if (s->exif) png_set_eXIf_1(png, info, s->n_exif, (png_bytep)s->exif);
    png_write_info(png, info);
    size_t rb = png_rowbytes(s);
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->h);
    assert_non_null(rows);
    for (int y = 0; y < s->h; y++)
        rows[y] = (png_bytep)(s->rows + (size_t)y * rb);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *n_out = b.n;
    return b.p;
}

static uint8_t *make_png_rgb(const uint8_t *pix, int w, int h, size_t *n_out)
{
    struct png_spec s = {.w = w, .h = h, .color = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = pix};
    return make_png(&s, n_out);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Append a PNG chunk with a correct CRC at p; returns its size. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n)
{
    put_be32(p, n);
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    put_be32(p + 8 + n, crc32_of(p + 4, 4 + (size_t)n));
    return 12 + (size_t)n;
}

/* Decode and check the status; returns the image (freed by the caller). */
static lfr_image decode_ok(const uint8_t *data, size_t n, const char *name)
{
    lfr_image img;
    int rc = lfr_image_decode(data, n, name, 0, &img);
    if (rc != LFR_OK) fail_msg("%s: status %d: %s", name, rc, lfr_errmsg());
    return img;
}

static void expect_fail(const uint8_t *data, size_t n, const char *name, uint64_t max_pixels,
                        int status, const char *needle)
{
    lfr_image img;
    memset(&img, 0xAB, sizeof img);
    int rc = lfr_image_decode(data, n, name, max_pixels, &img);
    if (rc != status)
        fail_msg("%s: expected status %d, got %d (%s)", name, status, rc, lfr_errmsg());
    assert_null(img.data);
    assert_int_equal(img.width, 0);
    assert_msg_has(name);
    if (needle) assert_msg_has(needle);
}

/* ---- Allocation -------------------------------------------------------------- */

static void test_alloc_free(void **state)
{
    (void)state;
    lfr_image img;
    assert_int_equal(lfr_image_alloc(1, 1, &img), LFR_OK);
    assert_int_equal(img.width, 1);
    assert_int_equal(img.stride, 3);
    lfr_image_free(&img);
    assert_null(img.data);
    lfr_image_free(&img);
    lfr_image_free(NULL);
    assert_int_equal(lfr_image_alloc(0, 5, &img), LFR_ERR_INVALID);
    assert_int_equal(lfr_image_alloc(5, -1, &img), LFR_ERR_INVALID);
    assert_int_equal(lfr_image_alloc(640, 480, &img), LFR_OK);
    assert_int_equal(img.stride, 1920);
    lfr_image_free(&img);
}

/* ---- JPEG ---------------------------------------------------------------------- */

static void test_jpeg_rgb(void **state)
{
    (void)state;
    const int w = 64, h = 48;
    uint8_t *pix = gradient_rgb(w, h);
    for (int prog = 0; prog < 2; prog++) {
        size_t n;
        uint8_t *jpg = make_jpeg_cs(pix, w, h, 3, JCS_RGB, JCS_YCbCr, 95, prog, &n);
        lfr_image img = decode_ok(jpg, n, "rgb.jpg");
        assert_int_equal(img.width, w);
        assert_int_equal(img.height, h);
        assert_int_equal(img.stride, (size_t)w * 3);
        double sum = 0;
        int worst = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w * 3; x++) {
                int d = abs(img.data[(size_t)y * img.stride + (size_t)x] -
                            pix[(size_t)y * w * 3 + (size_t)x]);
                sum += d;
                if (d > worst) worst = d;
            }
        }
        assert_true(sum / (w * h * 3) < 2.0);
        assert_true(worst <= 12);
        lfr_image_free(&img);
        free(jpg);
    }
    free(pix);
}

static void test_jpeg_gray(void **state)
{
    (void)state;
    const int w = 40, h = 24;
    uint8_t pix[40 * 24];
    for (int i = 0; i < w * h; i++)
        pix[i] = (uint8_t)((i % w) * 6);
    size_t n;
    uint8_t *jpg = make_jpeg(pix, w, h, 1, 95, &n);
    lfr_image img = decode_ok(jpg, n, "gray.jpg");
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *q = px(&img, x, y);
            assert_int_equal(q[0], q[1]);
            assert_int_equal(q[1], q[2]);
            assert_true(abs(q[0] - pix[y * w + x]) <= 8);
        }
    }
    lfr_image_free(&img);
    free(jpg);
}

/* Adobe CMYK (stored inverted, as Photoshop writes it) and YCCK. Flat 8x8
 * blocks at quality 100 decode exactly enough to check the conversion. */
static void test_jpeg_cmyk(void **state)
{
    (void)state;
    const int w = 16, h = 8;
    uint8_t pix[16 * 8 * 4];
    /* Left block: stored (255, 0, 255, 255) = no cyan ink, full magenta ink,
     * no yellow, no black = magenta. Right block: stored K = 0 = black. */
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *q = pix + (y * w + x) * 4;
            if (x < 8) {
                q[0] = 255, q[1] = 0, q[2] = 255, q[3] = 255;
            } else {
                q[0] = 255, q[1] = 255, q[2] = 255, q[3] = 0;
            }
        }
    }
    const J_COLOR_SPACE spaces[2] = {JCS_CMYK, JCS_YCCK};
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *jpg = make_jpeg_cs(pix, w, h, 4, JCS_CMYK, spaces[i], 100, 0, &n);
        lfr_image img = decode_ok(jpg, n, i ? "ycck.jpg" : "cmyk.jpg");
        assert_int_equal(img.width, w);
        uint8_t *a = px(&img, 3, 3), *b = px(&img, 12, 4);
        assert_true(a[0] >= 250 && a[1] <= 5 && a[2] >= 250);
        assert_true(b[0] <= 5 && b[1] <= 5 && b[2] <= 5);
        lfr_image_free(&img);
        free(jpg);
    }
}

/* A 16x16 grey progressive JPEG with 1 + 63 * (al + 1) scans: the DC, then
 * every AC coefficient on its own, sent at point transform `al` and refined
 * one bit a scan. A valid file, if an absurd one. */
static uint8_t *make_jpeg_many_scans(int al, size_t *n_out)
{
    uint8_t pix[16 * 16];
    for (int i = 0; i < 256; i++)
        pix[i] = (uint8_t)(i % 16 * 8 + i / 16 * 4);
    const int n_scans = 1 + 63 * (al + 1);
    jpeg_scan_info *scans = calloc((size_t)n_scans, sizeof *scans);
    assert_non_null(scans);
    int k = 0;
    scans[k++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int coef = 1; coef < 64; coef++) {
        scans[k++] = (jpeg_scan_info){1, {0}, coef, coef, 0, al};
        for (int a = al - 1; a >= 0; a--)
            scans[k++] = (jpeg_scan_info){1, {0}, coef, coef, a + 1, a};
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    err.error_exit = on_encode_error;
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    c.scan_info = scans;
    c.num_scans = n_scans;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = pix + (size_t)c.next_scanline * 16;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(scans);
    *n_out = n;
    return buf;
}

/* Each progressive scan costs a pass over the whole image, so a small file
 * with thousands of scans would be a cheap way to burn CPU: over 500 are
 * refused (379 are fine). */
static void test_jpeg_scan_limit(void **state)
{
    (void)state;
    size_t n;
    uint8_t *jpg = make_jpeg_many_scans(5, &n);
    lfr_image img = decode_ok(jpg, n, "379scans.jpg");
    assert_int_equal(img.width, 16);
    assert_true(abs(px(&img, 5, 3)[0] - (5 * 8 + 3 * 4)) <= 6);
    lfr_image_free(&img);
    free(jpg);
    jpg = make_jpeg_many_scans(9, &n);
    expect_fail(jpg, n, "631scans.jpg", 0, LFR_ERR_FORMAT,
                "631scans.jpg: corrupt JPEG: more than 500 scans");
    free(jpg);
}

/* ---- PNG ----------------------------------------------------------------------- */

static void test_png_rgb_exact(void **state)
{
    (void)state;
    const int w = 37, h = 23;
    uint8_t *pix = malloc((size_t)w * h * 3);
    assert_non_null(pix);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        pix[i] = (uint8_t)rnd();
    for (int interlace = 0; interlace < 2; interlace++) {
        struct png_spec s = {.w = w,
                             .h = h,
                             .color = PNG_COLOR_TYPE_RGB,
                             .depth = 8,
                             .interlace = interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                             .rows = pix};
        size_t n;
        uint8_t *data = make_png(&s, &n);
        lfr_image img = decode_ok(data, n, interlace ? "adam7.png" : "rgb.png");
        assert_int_equal(img.width, w);
        assert_int_equal(img.height, h);
        for (int y = 0; y < h; y++)
            assert_memory_equal(px(&img, 0, y), pix + (size_t)y * w * 3, (size_t)w * 3);
        lfr_image_free(&img);
        free(data);
    }
    free(pix);
}

static void test_png_gray(void **state)
{
    (void)state;
    const int w = 19, h = 7;
    uint8_t g8[19 * 7];
    for (int i = 0; i < w * h; i++)
        g8[i] = (uint8_t)rnd();
    struct png_spec s = {.w = w, .h = h, .color = PNG_COLOR_TYPE_GRAY, .depth = 8, .rows = g8};
    size_t n;
    uint8_t *data = make_png(&s, &n);
    lfr_image img = decode_ok(data, n, "gray.png");
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *q = px(&img, x, y);
            assert_int_equal(q[0], g8[y * w + x]);
            assert_int_equal(q[1], g8[y * w + x]);
            assert_int_equal(q[2], g8[y * w + x]);
        }
    }
    lfr_image_free(&img);
    free(data);

    /* 1-bit grey: a checkerboard, packed eight pixels a byte. */
    uint8_t g1[7 * 3] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if ((x + y) & 1) g1[y * 3 + x / 8] |= (uint8_t)(0x80 >> (x % 8));
    struct png_spec s1 = {.w = w, .h = h, .color = PNG_COLOR_TYPE_GRAY, .depth = 1, .rows = g1};
    data = make_png(&s1, &n);
    img = decode_ok(data, n, "gray1.png");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            assert_int_equal(px(&img, x, y)[1], (x + y) & 1 ? 255 : 0);
    lfr_image_free(&img);
    free(data);

    /* Grey + alpha: alpha dropped, grey kept. */
    uint8_t ga[19 * 7 * 2];
    for (int i = 0; i < w * h; i++)
        ga[2 * i] = g8[i], ga[2 * i + 1] = (uint8_t)(i * 7);
    struct png_spec s2 = {
        .w = w, .h = h, .color = PNG_COLOR_TYPE_GRAY_ALPHA, .depth = 8, .rows = ga};
    data = make_png(&s2, &n);
    img = decode_ok(data, n, "gray_alpha.png");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            assert_int_equal(px(&img, x, y)[2], g8[y * w + x]);
    lfr_image_free(&img);
    free(data);
}

static void test_png_palette(void **state)
{
    (void)state;
    const int w = 13, h = 9;
    png_color pal[16];
    for (int i = 0; i < 16; i++)
        pal[i] = (png_color){(uint8_t)(i * 16), (uint8_t)(255 - i * 9), (uint8_t)(i * i)};
    uint8_t trns[3] = {0, 128, 255};
    /* 4-bit indices, two a byte, high nibble first. */
    uint8_t rows[9 * 7] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            rows[y * 7 + x / 2] |= (uint8_t)(((x + 3 * y) % 16) << (x % 2 ? 0 : 4));
    for (int with_trns = 0; with_trns < 2; with_trns++) {
        struct png_spec s = {.w = w,
                             .h = h,
                             .color = PNG_COLOR_TYPE_PALETTE,
                             .depth = 4,
                             .rows = rows,
                             .palette = pal,
                             .n_palette = 16};
        if (with_trns) s.trns = trns, s.n_trns = 3;
        size_t n;
        uint8_t *data = make_png(&s, &n);
        lfr_image img = decode_ok(data, n, "palette.png");
        assert_int_equal(img.stride, (size_t)w * 3);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                png_color c = pal[(x + 3 * y) % 16];
                uint8_t *q = px(&img, x, y);
                assert_int_equal(q[0], c.red);
                assert_int_equal(q[1], c.green);
                assert_int_equal(q[2], c.blue);
            }
        }
        lfr_image_free(&img);
        free(data);
    }
}

static void test_png_16bit(void **state)
{
    (void)state;
    const int w = 11, h = 5;
    uint16_t v[11 * 5 * 3];
    uint8_t rows[11 * 5 * 6];
    for (int i = 0; i < w * h * 3; i++) {
        v[i] = (uint16_t)rnd();
        rows[2 * i] = (uint8_t)(v[i] >> 8);
        rows[2 * i + 1] = (uint8_t)v[i];
    }
    struct png_spec s = {.w = w,
                         .h = h,
                         .color = PNG_COLOR_TYPE_RGB,
                         .depth = 16,
                         .interlace = PNG_INTERLACE_ADAM7,
                         .rows = rows};
    size_t n;
    uint8_t *data = make_png(&s, &n);
    lfr_image img = decode_ok(data, n, "rgb16.png");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++)
            assert_true(fabs(img.data[(size_t)y * img.stride + (size_t)x] -
                             v[y * w * 3 + x] / 257.0) <= 0.51);
    lfr_image_free(&img);
    free(data);
}

static void test_png_rgba(void **state)
{
    (void)state;
    const int w = 9, h = 4;
    uint8_t rows[9 * 4 * 4];
    for (int i = 0; i < w * h * 4; i++)
        rows[i] = (uint8_t)rnd();
    struct png_spec s = {.w = w, .h = h, .color = PNG_COLOR_TYPE_RGBA, .depth = 8, .rows = rows};
    size_t n;
    uint8_t *data = make_png(&s, &n);
    lfr_image img = decode_ok(data, n, "rgba.png");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            assert_memory_equal(px(&img, x, y), rows + (y * w + x) * 4, 3);
    lfr_image_free(&img);
    free(data);
}

/* ---- EXIF orientation --------------------------------------------------------- */

/* Where stored pixel (x, y) of a w x h image is displayed, read straight
 * from the EXIF definitions ("row 0 is the visual right-hand side", ...). */
static void display_pos(int o, int x, int y, int w, int h, int *dx, int *dy)
{
    switch (o) {
    case 1:
        *dx = x, *dy = y;
        break;
    case 2:
        *dx = w - 1 - x, *dy = y;
        break;
    case 3:
        *dx = w - 1 - x, *dy = h - 1 - y;
        break;
    case 4:
        *dx = x, *dy = h - 1 - y;
        break;
    case 5:
        *dx = y, *dy = x;
        break; /* row 0 left, column 0 top */
    case 6:
        *dx = h - 1 - y, *dy = x;
        break; /* row 0 right, column 0 top */
    case 7:
        *dx = h - 1 - y, *dy = w - 1 - x;
        break; /* row 0 right, column 0 bottom */
    default:
        *dx = y, *dy = w - 1 - x;
        break; /* 8: row 0 left, column 0 bottom */
    }
}

/* A TIFF block with two IFD0 entries (ImageWidth, then Orientation). */
static size_t make_tiff(uint8_t *t, int big, int orientation)
{
    /* clang-format off */
    static const uint8_t le[] = {
        'I', 'I', 42, 0, 8, 0, 0, 0,        /* header, IFD0 at offset 8 */
        2, 0,                               /* two entries */
        0x00, 0x01, 4, 0, 1, 0, 0, 0, 24, 0, 0, 0, /* ImageWidth, LONG, 1, 24 */
        0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,  /* Orientation, SHORT, 1, (set below) */
        0, 0, 0, 0,                         /* no next IFD */
    };
    static const uint8_t be[] = {
        'M', 'M', 0, 42, 0, 0, 0, 8,
        0, 2,
        0x01, 0x00, 0, 4, 0, 0, 0, 1, 0, 0, 0, 24,
        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 0,
    };
    /* clang-format on */
    memcpy(t, big ? be : le, sizeof le);
    t[big ? 31 : 30] = (uint8_t)orientation;
    return sizeof le;
}

/* Splice an APP1 "Exif\0\0" segment holding `tiff` in right after SOI. */
static uint8_t *add_exif(const uint8_t *jpg, size_t n, const uint8_t *tiff, size_t tn,
                         size_t *n_out)
{
    size_t seg = 2 + 6 + tn;
    uint8_t *out = malloc(n + 2 + seg);
    assert_non_null(out);
    memcpy(out, jpg, 2);
    out[2] = 0xFF, out[3] = 0xE1, out[4] = (uint8_t)(seg >> 8), out[5] = (uint8_t)seg;
    memcpy(out + 6, "Exif\0\0", 6);
    memcpy(out + 12, tiff, tn);
    memcpy(out + 12 + tn, jpg + 2, n - 2);
    *n_out = n + 2 + seg;
    return out;
}

static void test_exif_orientation(void **state)
{
    (void)state;
    /* Six flat 8x8 blocks of distinct grey, 3 across and 2 down. */
    const int w = 24, h = 16;
    uint8_t pix[24 * 16];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            pix[y * w + x] = (uint8_t)(20 + 40 * ((y / 8) * 3 + x / 8));
    size_t n;
    uint8_t *jpg = make_jpeg(pix, w, h, 1, 100, &n);
    for (int big = 0; big < 2; big++) {
        for (int o = 1; o <= 8; o++) {
            uint8_t tiff[64];
            size_t tn = make_tiff(tiff, big, o), en;
            uint8_t *ej = add_exif(jpg, n, tiff, tn, &en);
            assert_int_equal(lfr__jpeg_exif_orientation(ej, en), o);
            lfr_image img = decode_ok(ej, en, "exif.jpg");
            assert_int_equal(img.width, o >= 5 ? h : w);
            assert_int_equal(img.height, o >= 5 ? w : h);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int dx, dy;
                    display_pos(o, x, y, w, h, &dx, &dy);
                    int got = px(&img, dx, dy)[0];
                    if (abs(got - pix[y * w + x]) > 2)
                        fail_msg("orientation %d (%s): stored (%d,%d)=%d shown at (%d,%d)=%d", o,
                                 big ? "MM" : "II", x, y, pix[y * w + x], dx, dy, got);
                }
            }
            lfr_image_free(&img);
            free(ej);
        }
    }
    free(jpg);
}

static void test_exif_orientation_png(void **state)
{
    (void)state;
    const int w = 3, h = 2;
    uint8_t pix[3 * 2 * 3];
    for (int i = 0; i < 18; i++)
        pix[i] = (uint8_t)(i * 10);
    uint8_t tiff[64];
    size_t tn = make_tiff(tiff, 1, 6);
    struct png_spec s = {.w = w, .h = h, .color = PNG_COLOR_TYPE_RGB, .depth = 8, .rows = pix};
    s.exif = tiff, s.n_exif = (uint32_t)tn;
    size_t n;
    uint8_t *data = make_png(&s, &n);
    lfr_image img = decode_ok(data, n, "exif.png");
    assert_int_equal(img.width, 2);
    assert_int_equal(img.height, 3);
    /* Rotated 90 degrees clockwise: stored top-left is shown top-right. */
    assert_memory_equal(px(&img, 1, 0), pix, 3);
    assert_memory_equal(px(&img, 0, 2), pix + (1 * 3 + 2) * 3, 3);
    lfr_image_free(&img);
    free(data);
}

/* Damaged EXIF never reads out of bounds (ASan watches) and yields 1. */
static void test_exif_bounds(void **state)
{
    (void)state;
    uint8_t tiff[64];
    size_t tn = make_tiff(tiff, 0, 6);
    assert_int_equal(lfr__exif_tiff_orientation(tiff, tn), 6);
    /* Every truncation of the TIFF block, copied to an exact-size buffer. */
    for (size_t k = 0; k < tn; k++) {
        uint8_t *t = malloc(k ? k : 1);
        assert_non_null(t);
        memcpy(t, tiff, k);
        int o = lfr__exif_tiff_orientation(t, k);
        assert_true(o == 1 || (o == 6 && k >= 32));
        free(t);
    }
    /* IFD offset past the end, and a huge entry count. */
    uint8_t bad[64];
    memcpy(bad, tiff, tn);
    bad[4] = 0xF0, bad[7] = 0x7F;
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 1);
    memcpy(bad, tiff, tn);
    bad[8] = 0xFF, bad[9] = 0xFF;
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 6); /* found before running out */
    memcpy(bad, tiff, tn);
    bad[22] = 0; /* the orientation entry's tag is no longer 0x0112 */
    bad[8] = 0xFF, bad[9] = 0xFF;
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 1);
    /* Out-of-range values and wrong types. */
    memcpy(bad, tiff, tn);
    bad[30] = 9;
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 1);
    memcpy(bad, tiff, tn);
    bad[24] = 2; /* ASCII */
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 1);
    memcpy(bad, tiff, tn);
    bad[0] = 'X';
    assert_int_equal(lfr__exif_tiff_orientation(bad, tn), 1);
    assert_int_equal(lfr__exif_tiff_orientation(NULL, 0), 1);

    /* The JPEG segment walker: truncated at every length, and a segment
     * length running past the end. */
    const uint8_t gray[64] = {0};
    size_t n, en;
    uint8_t *jpg = make_jpeg(gray, 8, 8, 1, 90, &n);
    uint8_t *ej = add_exif(jpg, n, tiff, tn, &en);
    for (size_t k = 0; k <= en; k++) {
        uint8_t *t = malloc(k ? k : 1);
        assert_non_null(t);
        memcpy(t, ej, k);
        int o = lfr__jpeg_exif_orientation(t, k);
        assert_true(o == 1 || o == 6);
        if (k >= 12 + tn) assert_int_equal(o, 6);
        free(t);
    }
    ej[4] = 0xFF; /* APP1 length far past the end */
    assert_int_equal(lfr__jpeg_exif_orientation(ej, en), 1);
    assert_int_equal(lfr__jpeg_exif_orientation(jpg, n), 1);
    free(ej);
    free(jpg);
}

/* lfr__image_orient on a 3x2 image, checked against the same definitions. */
static void test_orient_small(void **state)
{
    (void)state;
    for (int o = 1; o <= 8; o++) {
        lfr_image img;
        assert_int_equal(lfr_image_alloc(3, 2, &img), LFR_OK);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                px(&img, x, y)[0] = (uint8_t)(10 * y + x), px(&img, x, y)[1] = 7,
                            px(&img, x, y)[2] = (uint8_t)o;
        assert_int_equal(lfr__image_orient(&img, o), LFR_OK);
        assert_int_equal(img.width, o >= 5 ? 2 : 3);
        assert_int_equal(img.stride, (size_t)img.width * 3);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 3; x++) {
                int dx, dy;
                display_pos(o, x, y, 3, 2, &dx, &dy);
                assert_int_equal(px(&img, dx, dy)[0], 10 * y + x);
                assert_int_equal(px(&img, dx, dy)[2], o);
            }
        }
        lfr_image_free(&img);
    }
}

/* ---- Bad input ----------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    expect_fail((const uint8_t *)"", 0, "empty.jpg", 0, LFR_ERR_FORMAT, "empty.jpg: empty file");
    expect_fail(NULL, 0, "null.png", 0, LFR_ERR_FORMAT, "empty file");
}

static void test_not_an_image(void **state)
{
    (void)state;
    const char *text = "These are my holiday notes, not a picture.\n";
    expect_fail((const uint8_t *)text, strlen(text), "notes.jpg", 0, LFR_ERR_UNSUPPORTED,
                "notes.jpg: not a JPEG or PNG image");
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    expect_fail(gif, sizeof gif - 1, "x.png", 0, LFR_ERR_UNSUPPORTED, "not a JPEG or PNG");
    /* A file cut off inside the signature itself. */
    const uint8_t png_sig[] = {0x89, 'P', 'N', 'G'};
    expect_fail(png_sig, sizeof png_sig, "sig.png", 0, LFR_ERR_FORMAT, "truncated PNG");
    const uint8_t jpg_sig[] = {0xFF, 0xD8};
    expect_fail(jpg_sig, sizeof jpg_sig, "sig.jpg", 0, LFR_ERR_FORMAT, "truncated JPEG");
    /* A JPEG signature followed by rubbish. */
    const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0x00, 'h', 'e', 'l', 'l', 'o'};
    expect_fail(junk, sizeof junk, "junk.jpg", 0, LFR_ERR_FORMAT, "junk.jpg: ");
}

static void test_truncated(void **state)
{
    (void)state;
    const int w = 48, h = 32;
    uint8_t *pix = gradient_rgb(w, h);
    size_t jn, pn;
    uint8_t *jpg = make_jpeg(pix, w, h, 3, 90, &jn);
    uint8_t *png = make_png_rgb(pix, w, h, &pn);
    expect_fail(jpg, jn / 2, "half.jpg", 0, LFR_ERR_FORMAT, "half.jpg: truncated JPEG");
    assert_msg_has("Premature end of JPEG file");
    expect_fail(png, pn / 2, "half.png", 0, LFR_ERR_FORMAT, "half.png: truncated PNG");

    /* Every proper prefix of the JPEG is refused (a missing EOI included),
     * and every prefix of the PNG that ends before its IEND chunk. Each
     * prefix is copied to an exact-size buffer so that ASan sees overreads. */
    for (size_t k = 1; k < jn; k++) {
        uint8_t *t = malloc(k);
        assert_non_null(t);
        memcpy(t, jpg, k);
        lfr_image img;
        int rc = lfr_image_decode(t, k, "prefix.jpg", 0, &img);
        if (rc != LFR_ERR_FORMAT)
            fail_msg("JPEG prefix of %zu/%zu bytes: status %d (%s)", k, jn, rc, lfr_errmsg());
        assert_msg_has("prefix.jpg: ");
        free(t);
    }
    for (size_t k = 1; k < pn - 12; k++) {
        uint8_t *t = malloc(k);
        assert_non_null(t);
        memcpy(t, png, k);
        lfr_image img;
        int rc = lfr_image_decode(t, k, "prefix.png", 0, &img);
        if (rc != LFR_ERR_FORMAT)
            fail_msg("PNG prefix of %zu/%zu bytes: status %d (%s)", k, pn, rc, lfr_errmsg());
        assert_msg_has("prefix.png: ");
        free(t);
    }
    free(jpg);
    free(png);
    free(pix);
}

static void test_corrupt_middle(void **state)
{
    (void)state;
    const int w = 64, h = 64;
    lfr_image noise;
    assert_int_equal(lfr_image_alloc(w, h, &noise), LFR_OK);
    fill_random(&noise);
    size_t jn, pn;
    uint8_t *jpg = make_jpeg(noise.data, w, h, 3, 90, &jn);
    uint8_t *png = make_png_rgb(noise.data, w, h, &pn);

    /* JPEG: a run of 0xFF in the entropy-coded data reads as a marker where
     * none may be: the scan is cut short. */
    memset(jpg + jn / 2, 0xFF, 16);
    jpg[jn / 2 + 16] = 0x12;
    expect_fail(jpg, jn, "corrupt.jpg", 0, LFR_ERR_FORMAT, "corrupt.jpg: corrupt JPEG: ");

    /* PNG: flipped bits inside IDAT fail its CRC. */
    png[pn / 2] ^= 0x5A;
    png[pn / 2 + 1] ^= 0xA5;
    expect_fail(png, pn, "corrupt.png", 0, LFR_ERR_FORMAT, "corrupt.png: corrupt PNG: ");
    assert_msg_has("CRC");
    free(jpg);
    free(png);
    lfr_image_free(&noise);
}

static void test_one_pixel(void **state)
{
    (void)state;
    const uint8_t rgb[3] = {200, 100, 50};
    size_t n;
    uint8_t *jpg = make_jpeg(rgb, 1, 1, 3, 100, &n);
    lfr_image img = decode_ok(jpg, n, "one.jpg");
    assert_int_equal(img.width, 1);
    assert_int_equal(img.height, 1);
    assert_true(abs(img.data[0] - 200) <= 3 && abs(img.data[1] - 100) <= 3 &&
                abs(img.data[2] - 50) <= 3);
    lfr_image_free(&img);
    free(jpg);
    uint8_t *png = make_png_rgb(rgb, 1, 1, &n);
    img = decode_ok(png, n, "one.png");
    assert_int_equal(img.width, 1);
    assert_int_equal(img.height, 1);
    assert_memory_equal(img.data, rgb, 3);
    lfr_image_free(&img);
    free(png);
}

static void test_too_large(void **state)
{
    (void)state;
    static const char want[] =
        "60000x60000 image (3600.0 megapixels) exceeds the limit of 100.0 megapixels";

    /* PNG: signature, an IHDR claiming 60000x60000 with a valid CRC, an
     * empty IDAT and IEND. */
    uint8_t png[80];
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memcpy(png, sig, 8);
    uint8_t ihdr[13] = {0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 8, 2, 0, 0, 0};
    size_t n = 8;
    n += put_chunk(png + n, "IHDR", ihdr, 13);
    n += put_chunk(png + n, "IDAT", NULL, 0);
    n += put_chunk(png + n, "IEND", NULL, 0);
    expect_fail(png, n, "huge.png", 0, LFR_ERR_TOO_LARGE, want);
    assert_string_equal(lfr_errmsg(), "huge.png: 60000x60000 image (3600.0 megapixels) exceeds "
                                      "the limit of 100.0 megapixels");

    /* JPEG: a real 8x8 file whose SOF0 is rewritten to 60000x60000. */
    const uint8_t gray[64] = {0};
    size_t jn;
    uint8_t *jpg = make_jpeg(gray, 8, 8, 1, 90, &jn);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < jn; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    jpg[sof + 5] = 0xEA, jpg[sof + 6] = 0x60, jpg[sof + 7] = 0xEA, jpg[sof + 8] = 0x60;
    expect_fail(jpg, jn, "huge.jpg", 0, LFR_ERR_TOO_LARGE, want);

    /* A chunk that claims far more bytes than the file holds is refused at
     * its header, before libpng would allocate a buffer for it. */
    n = 8;
    n += put_chunk(png + n, "IHDR", ihdr, 13);
    uint8_t *zt = png + n;
    n += put_chunk(png + n, "zTXt", NULL, 0);
    put_be32(zt, 0x7FFFFFF0u);
    expect_fail(png, n, "liar.png", 0, LFR_ERR_FORMAT, "liar.png: truncated PNG: zTXt chunk");

    /* A caller's own, smaller limit. */
    uint8_t *pix = gradient_rgb(64, 48);
    uint8_t *ok = make_jpeg(pix, 64, 48, 3, 90, &n);
    expect_fail(ok, n, "small.jpg", 3000, LFR_ERR_TOO_LARGE,
                "64x48 image (0.0 megapixels) exceeds the limit of 0.0 megapixels");
    lfr_image img;
    assert_int_equal(lfr_image_decode(ok, n, "small.jpg", 64 * 48, &img), LFR_OK);
    lfr_image_free(&img);
    free(ok);
    ok = make_png_rgb(pix, 64, 48, &n);
    expect_fail(ok, n, "small.png", 3071, LFR_ERR_TOO_LARGE, "64x48 image");
    assert_int_equal(lfr_image_decode(ok, n, "small.png", 3072, &img), LFR_OK);
    lfr_image_free(&img);
    free(ok);
    free(pix);
    free(jpg);
}

static char *write_temp(const char *suffix, const uint8_t *data, size_t n)
{
    char tmpl[] = "/tmp/lfr_test_image_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    if (n) assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    size_t len = strlen(tmpl) + strlen(suffix) + 1;
    char *path = malloc(len);
    assert_non_null(path);
    snprintf(path, len, "%s%s", tmpl, suffix);
    assert_int_equal(rename(tmpl, path), 0);
    return path;
}

static void test_load_files(void **state)
{
    (void)state;
    lfr_image img;
    assert_int_equal(lfr_image_load("/nonexistent/dir/face.jpg", 0, &img), LFR_ERR_IO);
    assert_msg_has("/nonexistent/dir/face.jpg");
    assert_null(img.data);

    uint8_t *pix = gradient_rgb(20, 10);
    size_t n;
    uint8_t *jpg = make_jpeg(pix, 20, 10, 3, 90, &n);
    char *path = write_temp(".png", jpg, n); /* misnamed: content decides */
    assert_int_equal(lfr_image_load(path, 0, &img), LFR_OK);
    assert_int_equal(img.width, 20);
    assert_int_equal(img.height, 10);
    lfr_image_free(&img);
    unlink(path);
    free(path);

    path = write_temp(".jpg", NULL, 0);
    assert_int_equal(lfr_image_load(path, 0, &img), LFR_ERR_FORMAT);
    assert_msg_has(path);
    assert_msg_has("empty file");
    unlink(path);
    free(path);

    const char *text = "name,score\nalice,0.9\n";
    path = write_temp(".jpg", (const uint8_t *)text, strlen(text));
    assert_int_equal(lfr_image_load(path, 0, &img), LFR_ERR_UNSUPPORTED);
    assert_msg_has(path);
    assert_msg_has("not a JPEG or PNG image");
    unlink(path);
    free(path);

    path = write_temp(".jpg", jpg, n / 3);
    assert_int_equal(lfr_image_load(path, 0, &img), LFR_ERR_FORMAT);
    assert_msg_has(path);
    unlink(path);
    free(path);
    free(jpg);
    free(pix);
}

/* ---- Resampling ---------------------------------------------------------------- */

static void test_resize_values(void **state)
{
    (void)state;
    lfr_image src, dst;
    assert_int_equal(lfr_image_alloc(2, 1, &src), LFR_OK);
    memset(src.data, 0, 3);
    memset(src.data + 3, 100, 3);
    assert_int_equal(lfr_image_alloc(4, 1, &dst), LFR_OK);
    /* Half-pixel centres: sources -0.25 (clamped), 0.25, 0.75, 1.25 (clamped). */
    const uint8_t want[4] = {0, 25, 75, 100};
    lfr__resize_bilinear_ref(&src, &dst);
    for (int x = 0; x < 4; x++)
        assert_int_equal(px(&dst, x, 0)[1], want[x]);
    memset(dst.data, 0, 12);
    lfr__resize_bilinear(&src, &dst);
    for (int x = 0; x < 4; x++)
        assert_int_equal(px(&dst, x, 0)[1], want[x]);
    lfr_image_free(&dst);
    /* Same size is the identity. */
    lfr_image_free(&src);
    assert_int_equal(lfr_image_alloc(7, 5, &src), LFR_OK);
    fill_random(&src);
    assert_int_equal(lfr_image_alloc(7, 5, &dst), LFR_OK);
    lfr__resize_bilinear(&src, &dst);
    assert_memory_equal(src.data, dst.data, 7 * 5 * 3);
    lfr_image_free(&dst);
    lfr_image_free(&src);
}

static void test_resize_fast_vs_ref(void **state)
{
    (void)state;
    int mismatched = 0, total = 0;
    for (int t = 0; t < 60; t++) {
        int sw = 1 + (int)(rnd() % 90), sh = 1 + (int)(rnd() % 90);
        int dw = 1 + (int)(rnd() % 120), dh = 1 + (int)(rnd() % 120);
        lfr_image src, a, b;
        assert_int_equal(lfr_image_alloc(sw, sh, &src), LFR_OK);
        fill_random(&src);
        assert_int_equal(lfr_image_alloc(dw, dh, &a), LFR_OK);
        assert_int_equal(lfr_image_alloc(dw, dh, &b), LFR_OK);
        lfr__resize_bilinear_ref(&src, &a);
        lfr__resize_bilinear(&src, &b);
        for (size_t i = 0; i < (size_t)dw * dh * 3; i++) {
            int d = abs(a.data[i] - b.data[i]);
            if (d > 1)
                fail_msg("resize %dx%d -> %dx%d: byte %zu differs by %d", sw, sh, dw, dh, i, d);
            mismatched += d != 0;
            total++;
        }
        lfr_image_free(&src);
        lfr_image_free(&a);
        lfr_image_free(&b);
    }
    /* Off-by-one only where float and double round a .5 differently. */
    assert_true(mismatched * 100 < total);
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float worst = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    return worst;
}

static void test_warp_values(void **state)
{
    (void)state;
    lfr_image src;
    assert_int_equal(lfr_image_alloc(4, 3, &src), LFR_OK);
    fill_random(&src);
    float out[4 * 3 * 3], out2[4 * 3 * 3];
    /* The identity reproduces the image, scaled and biased. */
    const float id[6] = {1, 0, 0, 0, 1, 0};
    lfr__warp_affine_f32(&src, id, 4, 3, 0, 0.5f, -1, out);
    for (int i = 0; i < 36; i++)
        assert_float_equal(out[i], src.data[i] * 0.5f - 1, 1e-5);
    /* An empty source image gives the border everywhere. */
    const lfr_image empty = {0, 0, 0, NULL};
    lfr__warp_affine_f32(&empty, id, 4, 3, 9, 1, 0, out);
    lfr__warp_affine_f32_ref(&empty, id, 4, 3, 9, 1, 0, out2);
    for (int i = 0; i < 36; i++) {
        assert_float_equal(out[i], 9, 0);
        assert_float_equal(out2[i], 9, 0);
    }
    /* Entirely outside: the border value. */
    const float away[6] = {1, 0, 100, 0, 1, -50};
    lfr__warp_affine_f32(&src, away, 4, 3, 77, 1, 0, out);
    lfr__warp_affine_f32_ref(&src, away, 4, 3, 77, 1, 0, out2);
    for (int i = 0; i < 36; i++) {
        assert_float_equal(out[i], 77, 1e-5);
        assert_float_equal(out2[i], 77, 1e-5);
    }
    /* Half a pixel left of the image: half border, half first column. */
    const float left[6] = {1, 0, -0.5f, 0, 1, 0};
    lfr__warp_affine_f32_ref(&src, left, 1, 3, 10, 1, 0, out);
    lfr__warp_affine_f32(&src, left, 1, 3, 10, 1, 0, out2);
    for (int y = 0; y < 3; y++) {
        for (int c = 0; c < 3; c++) {
            float want = 0.5f * 10 + 0.5f * px(&src, 0, y)[c];
            assert_float_equal(out[y * 3 + c], want, 1e-4);
            assert_float_equal(out2[y * 3 + c], want, 1e-4);
        }
    }
    /* Half a pixel right and down: the mean of four. */
    const float half[6] = {1, 0, 0.5f, 0, 1, 0.5f};
    lfr__warp_affine_f32(&src, half, 1, 1, 0, 1, 0, out);
    for (int c = 0; c < 3; c++) {
        float want =
            (px(&src, 0, 0)[c] + px(&src, 1, 0)[c] + px(&src, 0, 1)[c] + px(&src, 1, 1)[c]) / 4.0f;
        assert_float_equal(out[c], want, 1e-4);
    }
    lfr_image_free(&src);
}

/* A random similarity-plus-shear map that sends a dw x dh output somewhere
 * around (and often partly outside) a w x h image. */
static void random_map(int w, int h, int dw, int dh, float m[6])
{
    double ang = rnd_uniform(-3.2, 3.2), s = rnd_uniform(0.2, 4.0) * (double)w / dw;
    double shear = rnd_uniform(-0.3, 0.3);
    m[0] = (float)(s * cos(ang));
    m[1] = (float)(-s * sin(ang) + shear);
    m[3] = (float)(s * sin(ang));
    m[4] = (float)(s * cos(ang));
    /* Put the output centre anywhere from well outside to well inside. */
    double cx = rnd_uniform(-0.5, 1.5) * w, cy = rnd_uniform(-0.5, 1.5) * h;
    m[2] = (float)(cx - m[0] * dw / 2.0 - m[1] * dh / 2.0);
    m[5] = (float)(cy - m[3] * dw / 2.0 - m[4] * dh / 2.0);
    if (rnd() % 8 == 0) {
        /* Integer-aligned maps put samples exactly on the image's edges. */
        m[0] = m[4] = 1, m[1] = m[3] = 0;
        m[2] = (float)((int)(rnd() % 40) - 20), m[5] = (float)((int)(rnd() % 40) - 20);
    }
}

static void test_warp_fast_vs_ref(void **state)
{
    (void)state;
    float worst = 0;
    for (int t = 0; t < 300; t++) {
        int w = 1 + (int)(rnd() % 80), h = 1 + (int)(rnd() % 80);
        int dw = 1 + (int)(rnd() % 64), dh = 1 + (int)(rnd() % 64);
        lfr_image src;
        assert_int_equal(lfr_image_alloc(w, h, &src), LFR_OK);
        fill_random(&src);
        float m[6];
        random_map(w, h, dw, dh, m);
        float border = (float)(rnd() % 256);
        float scale = t % 2 ? 1.0f : 1.0f / 127.5f, bias = t % 2 ? 0.0f : -1.0f;
        size_t n = (size_t)dw * dh * 3;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        assert_non_null(a);
        assert_non_null(b);
        lfr__warp_affine_f32_ref(&src, m, dw, dh, border, scale, bias, a);
        lfr__warp_affine_f32(&src, m, dw, dh, border, scale, bias, b);
        float d = max_abs_diff(a, b, n);
        if (!(d <= 1e-3f))
            fail_msg("warp %dx%d -> %dx%d, m = [%g %g %g; %g %g %g]: max diff %g", w, h, dw, dh,
                     m[0], m[1], m[2], m[3], m[4], m[5], d);
        if (d > worst) worst = d;
        free(a);
        free(b);
        lfr_image_free(&src);
    }
    print_message("warp fast vs ref: worst absolute difference %.3g over 300 random maps\n", worst);
}

static void test_affine_invert(void **state)
{
    (void)state;
    for (int t = 0; t < 100; t++) {
        float m[6], inv[6];
        random_map(100, 80, 50, 40, m);
        assert_int_equal(lfr__affine_invert(m, inv), 1);
        /* inv(m(p)) == p */
        double x = rnd_uniform(-50, 150), y = rnd_uniform(-50, 150);
        double u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
        double bx = inv[0] * u + inv[1] * v + inv[2], by = inv[3] * u + inv[4] * v + inv[5];
        assert_true(fabs(bx - x) < 1e-2 && fabs(by - y) < 1e-2);
    }
    const float sing[6] = {1, 2, 3, 2, 4, 5}, zero[6] = {0};
    float inv[6];
    assert_int_equal(lfr__affine_invert(sing, inv), 0);
    assert_int_equal(lfr__affine_invert(zero, inv), 0);
    const float nan_map[6] = {NAN, 0, 0, 0, 1, 0};
    assert_int_equal(lfr__affine_invert(nan_map, inv), 0);
}

/* Timings, printed for the record; asserted only loosely, since a shared
 * machine can stall either run. */
static void test_kernel_speed(void **state)
{
    (void)state;
    lfr_image frame;
    assert_int_equal(lfr_image_alloc(1280, 720, &frame), LFR_OK);
    fill_random(&frame);
    /* Detector letterbox: 1280x720 into 192x192, bands above and below. */
    const float s = 1280.0f / 192.0f;
    const float letterbox[6] = {s, 0, 0.5f * s - 0.5f, 0, s, 0.5f * s - 0.5f - (1280 - 720) / 2.0f};
    /* Embedder alignment: a rotated, scaled 112x112 crop inside the frame. */
    const float ang = 0.2f, k = 1.7f;
    const float align[6] = {k * cosf(ang), -k * sinf(ang), 600, k * sinf(ang), k * cosf(ang), 300};
    static float out[192 * 192 * 3];
    struct {
        const char *name;
        const float *m;
        int n;
    } cases[2] = {{"letterbox 1280x720 -> 192x192", letterbox, 192}, {"align 112x112", align, 112}};
    for (int c = 0; c < 2; c++) {
        /* Best of three rounds each, so that one stall does not decide. */
        const int reps = c ? 40 : 10;
        double t_ref = 1e9, t_fast = 1e9;
        for (int round = 0; round < 3; round++) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++)
                lfr__warp_affine_f32_ref(&frame, cases[c].m, cases[c].n, cases[c].n, 0, 1 / 127.5f,
                                         -1, out);
            t_ref = fmin(t_ref, (now_s() - t0) / reps);
            t0 = now_s();
            for (int r = 0; r < reps; r++)
                lfr__warp_affine_f32(&frame, cases[c].m, cases[c].n, cases[c].n, 0, 1 / 127.5f, -1,
                                     out);
            t_fast = fmin(t_fast, (now_s() - t0) / reps);
        }
        print_message("warp %s: ref %.1f us, fast %.1f us, %.1fx\n", cases[c].name, t_ref * 1e6,
                      t_fast * 1e6, t_ref / t_fast);
        assert_true(t_fast < t_ref);
    }
    lfr_image half;
    assert_int_equal(lfr_image_alloc(640, 360, &half), LFR_OK);
    double t_ref = 1e9, t_fast = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = now_s();
        lfr__resize_bilinear_ref(&frame, &half);
        t_ref = fmin(t_ref, now_s() - t0);
        t0 = now_s();
        lfr__resize_bilinear(&frame, &half);
        t_fast = fmin(t_fast, now_s() - t0);
    }
    print_message("resize 1280x720 -> 640x360: ref %.2f ms, fast %.2f ms, %.1fx\n", t_ref * 1e3,
                  t_fast * 1e3, t_ref / t_fast);
    assert_true(t_fast < t_ref);
    lfr_image_free(&half);
    lfr_image_free(&frame);
}

/* ---- Real photographs ------------------------------------------------------- */

static const char *data_dir(void)
{
    const char *d = getenv("LFR_DATA");
    return d && *d ? d : "../shared/data";
}

static void test_real_stills(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int w, h;
    } stills[] = {{"obama.jpg", 910, 1137},
                  {"biden.jpg", 970, 2204},
                  {"two_people.jpg", 1126, 661},
                  {"alex-lacamoire.png", 424, 394},
                  {"lin-manuel-miranda.png", 704, 612}};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/stills", data_dir());
    if (access(dir, R_OK) != 0) {
        print_message("skipping: no face data at %s (set LFR_DATA)\n", dir);
        skip();
    }
    for (size_t i = 0; i < sizeof stills / sizeof stills[0]; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, stills[i].file);
        lfr_image img;
        int rc = lfr_image_load(path, 0, &img);
        if (rc != LFR_OK) fail_msg("%s: %s", path, lfr_errmsg());
        assert_int_equal(img.width, stills[i].w);
        assert_int_equal(img.height, stills[i].h);
        /* A photograph, not a flat field: its samples spread widely. */
        uint8_t lo = 255, hi = 0;
        for (size_t k = 0; k < img.stride * (size_t)img.height; k++) {
            if (img.data[k] < lo) lo = img.data[k];
            if (img.data[k] > hi) hi = img.data[k];
        }
        assert_true(hi - lo > 100);
        lfr_image_free(&img);
    }
}

static void test_real_lfw(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lfw", data_dir());
    DIR *d = opendir(dir);
    if (!d) {
        print_message("skipping: no LFW images at %s (set LFR_DATA)\n", dir);
        skip();
    }
    int decoded = 0;
    struct dirent *e;
    while (decoded < 20 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8400];
        snprintf(path, sizeof path, "%s/%s/%s_0001.jpg", dir, e->d_name, e->d_name);
        if (access(path, R_OK) != 0) continue;
        lfr_image img;
        int rc = lfr_image_load(path, 0, &img);
        if (rc != LFR_OK) fail_msg("%s: %s", path, lfr_errmsg());
        assert_int_equal(img.width, 250);
        assert_int_equal(img.height, 250);
        lfr_image_free(&img);
        decoded++;
    }
    closedir(d);
    if (decoded == 0) {
        print_message("skipping: no LFW images found under %s\n", dir);
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_free),
        cmocka_unit_test(test_jpeg_rgb),
        cmocka_unit_test(test_jpeg_gray),
        cmocka_unit_test(test_jpeg_cmyk),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_png_rgb_exact),
        cmocka_unit_test(test_png_gray),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_16bit),
        cmocka_unit_test(test_png_rgba),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_exif_orientation_png),
        cmocka_unit_test(test_exif_bounds),
        cmocka_unit_test(test_orient_small),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_one_pixel),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_resize_values),
        cmocka_unit_test(test_resize_fast_vs_ref),
        cmocka_unit_test(test_warp_values),
        cmocka_unit_test(test_warp_fast_vs_ref),
        cmocka_unit_test(test_affine_invert),
        cmocka_unit_test(test_kernel_speed),
        cmocka_unit_test(test_real_stills),
        cmocka_unit_test(test_real_lfw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
