/*
 * Detector tests: anchors, decoding geometry, weighted NMS, alignment
 * maths, the tiling plan, and small faces in a 1920x1080 frame. The last
 * pastes LFW faces scaled to a given width into a grey 1080p frame and
 * counts how many are found; it prints the detection rate by face width
 * (the table in docs/ACCURACY.md) and requires 40 px faces to be found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/face.h"
#include "image/image.h"
#include "testutil.h"

static void test_anchors(void **state)
{
    (void)state;
    float xy[2 * 2304];
    assert_int_equal(lfr__blaze_anchors(lfr__blaze_params_for(LFR_DETECTOR_FULL_RANGE), xy, 2304),
                     2304);
    /* 48x48 grid, one anchor per cell, centres at (i + 0.5) / 48. */
    assert_float_equal(xy[0], 0.5f / 48, 1e-6);
    assert_float_equal(xy[2 * 49], 1.5f / 48, 1e-6);
    assert_float_equal(xy[2 * 49 + 1], 1.5f / 48, 1e-6);
    assert_int_equal(lfr__blaze_anchors(lfr__blaze_params_for(LFR_DETECTOR_SHORT_RANGE), xy, 2304),
                     896);
    /* 16x16 x 2 anchors at stride 8, then 8x8 x 6 at stride 16. */
    assert_float_equal(xy[0], xy[2], 1e-6);
    assert_float_equal(xy[2 * 512], 0.5f / 8, 1e-6);
    assert_float_equal(xy[2 * 517], 0.5f / 8, 1e-6);
    assert_float_equal(xy[2 * 518], 1.5f / 8, 1e-6);
}

static void test_decode(void **state)
{
    (void)state;
    const lfr__blaze_params *p = lfr__blaze_params_for(LFR_DETECTOR_FULL_RANGE);
    float anchor[2] = {0.5f, 0.25f}, raw[16] = {19.2f, -9.6f, 38.4f, 57.6f};
    for (int k = 0; k < 6; k++) {
        raw[4 + 2 * k] = (float)k;
        raw[5 + 2 * k] = -(float)k;
    }
    lfr_face f;
    lfr__blaze_decode(p, anchor, raw, &f);
    assert_float_equal(f.box.w, 0.2f, 1e-6);
    assert_float_equal(f.box.h, 0.3f, 1e-6);
    assert_float_equal(f.box.x + f.box.w / 2, 0.6f, 1e-6);
    assert_float_equal(f.box.y + f.box.h / 2, 0.2f, 1e-6);
    assert_float_equal(f.kp[5].x, 0.5f + 5.0f / 192, 1e-6);
    assert_float_equal(f.kp[5].y, 0.25f - 5.0f / 192, 1e-6);
}

static void test_nms(void **state)
{
    (void)state;
    lfr_face f[4];
    memset(f, 0, sizeof f);
    f[0] = (lfr_face){{0, 0, 10, 10}, {{2, 2}}, 0.9f};
    f[1] = (lfr_face){{1, 0, 10, 10}, {{4, 2}}, 0.6f};     /* overlaps f[0]: merged */
    f[2] = (lfr_face){{50, 50, 10, 10}, {{55, 55}}, 0.8f}; /* apart: kept */
    f[3] = (lfr_face){{9, 9, 10, 10}, {{12, 12}}, 0.5f};   /* IoU < 0.3 with f[0]: kept */
    unsigned char used[4];
    /* Sorted by score: f0 0.9, f2 0.8, f1 0.6, f3 0.5. */
    lfr_face s[4] = {f[0], f[2], f[1], f[3]};
    int n = lfr__nms_weighted(s, 4, 0.3f, used);
    assert_int_equal(n, 3);
    assert_float_equal(s[0].score, 0.9f, 1e-6);
    assert_float_equal(s[0].box.x, 0.6f / 1.5f, 1e-5); /* (0*0.9 + 1*0.6) / 1.5 */
    assert_float_equal(s[0].kp[0].x, (2 * 0.9f + 4 * 0.6f) / 1.5f, 1e-5);
    assert_float_equal(s[1].box.x, 50, 1e-6);
    assert_float_equal(s[2].box.x, 9, 1e-6);
}

static void test_similarity_fit(void **state)
{
    (void)state;
    /* Points moved by a known similarity are mapped back exactly. */
    float a = 0.8f * cosf(0.3f), b = 0.8f * sinf(0.3f), src[4][2], dst[4][2], m[6];
    for (int i = 0; i < 4; i++) {
        src[i][0] = lfr__arcface_bz4[i][0] * 1.7f + 13;
        src[i][1] = lfr__arcface_bz4[i][1] * 1.7f - 4;
        dst[i][0] = a * src[i][0] - b * src[i][1] + 5;
        dst[i][1] = b * src[i][0] + a * src[i][1] - 7;
    }
    assert_true(lfr__similarity_fit((const float(*)[2])src, (const float(*)[2])dst, 4, m));
    assert_float_equal(m[0], a, 1e-5);
    assert_float_equal(m[3], b, 1e-5);
    assert_float_equal(m[2], 5, 1e-3);
    assert_float_equal(m[5], -7, 1e-3);
    /* All points equal: degenerate, refused. */
    float same[4][2] = {{1, 1}, {1, 1}, {1, 1}, {1, 1}};
    assert_false(lfr__similarity_fit((const float(*)[2])same, lfr__arcface_bz4, 4, m));
}

/* Every face up to a quarter of its level's tile lies whole in some tile. */
static void test_tile_plan(void **state)
{
    (void)state;
    lfr_engine_config cfg = lfr_engine_config_default();
    lfr__tile t[64];
    int n = lfr__plan_tiles(&cfg, 192, 250, 250, t, 64);
    assert_int_equal(n, 2); /* the frame, and the zoom-out pass */
    n = lfr__plan_tiles(&cfg, 192, 1920, 1080, t, 64);
    print_message("1920x1080: %d detector passes\n", n);
    assert_true(n <= cfg.max_tiles);
    for (int fx = 0; fx + 40 <= 1920; fx += 37)
        for (int fy = 0; fy + 40 <= 1080; fy += 41) {
            int inside = 0;
            for (int i = 2; i < n && !inside; i++)
                inside = t[i].x0 <= fx && t[i].y0 <= fy && t[i].x1 >= fx + 40 && t[i].y1 >= fy + 40;
            if (!inside) fail_msg("a 40 px face at %d,%d lies whole in no tile", fx, fy);
        }
}

/* Paste `src` scaled by `scale` with its top-left at (x, y). */
static void paste(lfr_image *dst, const lfr_image *src, float scale, int x, int y)
{
    lfr_image cur = *src, tmp = {0};
    int owned = 0;
    /* Halve until within 2x of the target, so the result is not aliased. */
    while ((float)cur.width * scale < (float)cur.width / 2) {
        lfr_image half;
        assert_int_equal(lfr_image_alloc(cur.width / 2, cur.height / 2, &half), LFR_OK);
        lfr__resize_bilinear(&cur, &half);
        if (owned) lfr_image_free(&tmp);
        tmp = half;
        cur = half;
        scale *= 2;
        owned = 1;
    }
    lfr_image out;
    int w = (int)lroundf((float)cur.width * scale), h = (int)lroundf((float)cur.height * scale);
    assert_int_equal(lfr_image_alloc(w, h, &out), LFR_OK);
    lfr__resize_bilinear(&cur, &out);
    for (int r = 0; r < h && y + r < dst->height; r++)
        memcpy(dst->data + (size_t)(y + r) * dst->stride + (size_t)x * 3,
               out.data + (size_t)r * out.stride,
               (size_t)(x + w <= dst->width ? w : dst->width - x) * 3);
    lfr_image_free(&out);
    if (owned) lfr_image_free(&tmp);
}

static void test_small_faces(void **state)
{
    (void)state;
    char pairs[1024], mpath[1024];
    if (!test_data_path("lfw/pairs.txt", pairs, sizeof pairs) ||
        !test_model_path("face_detection_full_range.tflite", mpath, sizeof mpath)) {
        skip();
        return;
    }
    lfr_engine_config cfg = lfr_engine_config_default();
    lfr_engine *e;
    lfr_session *s;
    assert_int_equal(lfr_engine_open(&cfg, &e), LFR_OK);
    assert_int_equal(lfr_session_open(e, 2, &s), LFR_OK);

    /* 24 faces: the first image of the first 24 same-person pairs. */
    enum { N = 24 };
    lfr_image src[N];
    float box_w[N], cx[N], cy[N];
    FILE *fp = fopen(pairs, "r");
    char line[512];
    assert_non_null(fgets(line, sizeof line, fp));
    int n_src = 0;
    while (n_src < N && fgets(line, sizeof line, fp)) {
        char name[256];
        int i1, i2;
        if (sscanf(line, "%255s %d %d", name, &i1, &i2) != 3) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/lfw/%s/%s_%04d.jpg", test_env("LFR_DATA", "../shared/data"),
                 name, name, i1);
        if (lfr_image_load(path, 0, &src[n_src]) != LFR_OK) continue;
        lfr_face f[8];
        int n;
        assert_int_equal(lfr_session_detect(s, &src[n_src], f, 8, &n), LFR_OK);
        if (n < 1) {
            lfr_image_free(&src[n_src]);
            continue;
        }
        box_w[n_src] = f[0].box.w;
        cx[n_src] = f[0].box.x + f[0].box.w / 2;
        cy[n_src] = f[0].box.y + f[0].box.h / 2;
        n_src++;
    }
    fclose(fp);
    assert_int_equal(n_src, N);

    lfr_image frame;
    assert_int_equal(lfr_image_alloc(1920, 1080, &frame), LFR_OK);
    int widths[] = {16, 20, 24, 28, 32, 40, 48, 64, 96};
    print_message("face width (px) in 1920x1080 -> found of %d\n", N);
    int found40 = 0;
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        int w = widths[wi];
        memset(frame.data, 118, frame.stride * 1080);
        float ex[N], ey[N];
        for (int i = 0; i < N; i++) {
            /* 6 x 4 grid of cells, each face at an off-centre spot in its cell
             * so that faces fall across tile edges too. */
            float sc = (float)w / box_w[i];
            int x = (i % 6) * 320 + 40 + (i * 53) % 160, y = (i / 6) * 270 + 30 + (i * 29) % 120;
            paste(&frame, &src[i], sc, x, y);
            ex[i] = (float)x + cx[i] * sc;
            ey[i] = (float)y + cy[i] * sc;
        }
        lfr_face f[256];
        int n;
        assert_int_equal(lfr_session_detect(s, &frame, f, 256, &n), LFR_OK);
        int hit = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < n && k < 256; k++) {
                float dx = f[k].box.x + f[k].box.w / 2 - ex[i],
                      dy = f[k].box.y + f[k].box.h / 2 - ey[i];
                if (sqrtf(dx * dx + dy * dy) < 0.4f * (float)w &&
                    fabsf(f[k].box.w - (float)w) < 0.5f * (float)w) {
                    hit++;
                    break;
                }
            }
        print_message("  %3d px: %2d/%d found, %d detections\n", w, hit, N, n);
        if (w == 40) {
            found40 = hit;
            /* All tiles through lfr_session_detect_tiles is lfr_session_detect. */
            lfr_face g[256];
            int m;
            assert_int_equal(lfr_session_detect_tiles(s, &frame, 0, -1, g, 256, &m), LFR_OK);
            assert_int_equal(m, n);
            for (int k = 0; k < n && k < 256; k++)
                assert_memory_equal(&g[k], &f[k], sizeof g[k]);
            /* Four fine tiles per frame, in turn: over ceil(fine / 4) frames
             * every face is found at least once. */
            int fine = lfr_session_fine_tiles(s, 1920, 1080);
            assert_true(fine > 4);
            int seen[N] = {0}, cursor = 0;
            for (int fr = 0; fr < (fine + 3) / 4; fr++, cursor = (cursor + 4) % fine) {
                assert_int_equal(lfr_session_detect_tiles(s, &frame, cursor, 4, g, 256, &m),
                                 LFR_OK);
                for (int i = 0; i < N; i++)
                    for (int k = 0; k < m && k < 256; k++) {
                        float dx = g[k].box.x + g[k].box.w / 2 - ex[i],
                              dy = g[k].box.y + g[k].box.h / 2 - ey[i];
                        if (sqrtf(dx * dx + dy * dy) < 0.4f * (float)w) seen[i] = 1;
                    }
            }
            int n_seen = 0;
            for (int i = 0; i < N; i++)
                n_seen += seen[i];
            print_message("  fine tiles %d, 4 per frame: %d/%d found over %d frames\n", fine,
                          n_seen, N, (fine + 3) / 4);
            assert_true(n_seen >= hit);
        }
    }
    assert_true(found40 >= N - 1);
    lfr_image_free(&frame);
    for (int i = 0; i < N; i++)
        lfr_image_free(&src[i]);
    lfr_session_close(s);
    lfr_engine_close(e);
}

/* After an embedding call the session keeps no aligned face or feature. */
static void test_embed_wipes(void **state)
{
    (void)state;
    char still[1024], mpath[1024];
    if (!test_data_path("stills/obama.jpg", still, sizeof still) ||
        !test_model_path("MobileFaceNet.tflite", mpath, sizeof mpath)) {
        skip();
        return;
    }
    lfr_engine_config cfg = lfr_engine_config_default();
    lfr_engine *e;
    lfr_session *s;
    assert_int_equal(lfr_engine_open(&cfg, &e), LFR_OK);
    assert_int_equal(lfr_session_open(e, 1, &s), LFR_OK);
    lfr_image img;
    assert_int_equal(lfr_image_load(still, 0, &img), LFR_OK);
    lfr_face f[4];
    int n;
    assert_int_equal(lfr_session_detect(s, &img, f, 4, &n), LFR_OK);
    assert_int_equal(n, 1);
    float t[LFR_TEMPLATE_DIM];
    assert_int_equal(lfr_session_embed(s, &img, f, 1, t), LFR_OK);
    const float *in = lfr__xnn_input(s->emb, 0), *out = lfr__xnn_output(s->emb, 0);
    for (int i = 0; i < s->emb_batch * 112 * 112 * 3; i++)
        assert_true(in[i] == 0.0f);
    for (int i = 0; i < s->emb_batch * LFR_TEMPLATE_DIM; i++)
        assert_true(out[i] == 0.0f);
    double norm = 0;
    for (int i = 0; i < LFR_TEMPLATE_DIM; i++)
        norm += (double)t[i] * t[i];
    assert_float_equal(norm, 1.0, 1e-5);
    lfr_image_free(&img);
    lfr_session_close(s);
    lfr_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anchors),     cmocka_unit_test(test_decode),
        cmocka_unit_test(test_nms),         cmocka_unit_test(test_similarity_fit),
        cmocka_unit_test(test_tile_plan),   cmocka_unit_test(test_small_faces),
        cmocka_unit_test(test_embed_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
