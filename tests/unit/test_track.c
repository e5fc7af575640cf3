/*
 * Tests of the tracker and the quality gate (src/pipeline/track.c) on
 * synthetic detections and images: identities kept through motion and
 * short misses, tracks ended after too many, crossing faces kept apart,
 * and each quality rule (size, sharpness, pose) failing on its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"
#include "pipeline/track.h"

/* A frontal face at (x, y) of width w, eyes level, nose centred. */
static lfr_face face_at(float x, float y, float w)
{
    lfr_face f;
    memset(&f, 0, sizeof f);
    f.box = (lfr_rect){x, y, w, w};
    f.kp[0] = (lfr_point){x + 0.3f * w, y + 0.4f * w};
    f.kp[1] = (lfr_point){x + 0.7f * w, y + 0.4f * w};
    f.kp[2] = (lfr_point){x + 0.5f * w, y + 0.6f * w};
    f.kp[3] = (lfr_point){x + 0.5f * w, y + 0.8f * w};
    f.score = 0.9f;
    return f;
}

typedef struct ended_log {
    int64_t ids[64];
    int n;
} ended_log;

static void on_end(lfr__track *tr, void *ctx)
{
    ended_log *l = ctx;
    l->ids[l->n++] = tr->id;
}

static void test_identity_through_motion_and_misses(void **state)
{
    (void)state;
    lfr__tracker t;
    assert_int_equal(lfr__tracker_init(&t, 16, 16), LFR_OK);
    ended_log log = {{0}, 0};
    int dt[16];
    int64_t id_a = 0, id_b = 0;
    for (int f = 0; f < 30; f++) {
        lfr_face d[2] = {face_at(10 + 4.0f * f, 50, 60), face_at(400 - 3.0f * f, 60, 50)};
        /* Face B is missed for five frames (under max_misses). */
        int n = (f >= 10 && f < 15) ? 1 : 2;
        lfr__tracker_update(&t, d, n, f, dt, on_end, &log);
        assert_true(dt[0] >= 0);
        if (f == 0) {
            id_a = t.tracks[dt[0]].id;
            id_b = t.tracks[dt[1]].id;
            assert_int_not_equal(id_a, id_b);
        }
        assert_int_equal(t.tracks[dt[0]].id, id_a);
        if (n == 2) assert_int_equal(t.tracks[dt[1]].id, id_b);
    }
    assert_int_equal(log.n, 0);
    assert_int_equal(t.n, 2);
    /* Both vanish: they end after max_misses + 1 frames without a match. */
    for (int f = 30; f < 30 + t.max_misses; f++)
        lfr__tracker_update(&t, NULL, 0, f, dt, on_end, &log);
    assert_int_equal(log.n, 0);
    lfr__tracker_update(&t, NULL, 0, 99, dt, on_end, &log);
    assert_int_equal(log.n, 2);
    assert_int_equal(t.n, 0);
    /* A face reappearing later is a new track (a new person seen). */
    lfr_face d = face_at(10, 10, 60);
    lfr__tracker_update(&t, &d, 1, 100, dt, on_end, &log);
    assert_true(t.tracks[dt[0]].id > id_b);
    lfr__tracker_flush(&t, on_end, &log);
    assert_int_equal(log.n, 3);
    lfr__tracker_free(&t);
}

static void test_fast_motion_matched_by_keypoints(void **state)
{
    (void)state;
    lfr__tracker t;
    assert_int_equal(lfr__tracker_init(&t, 4, 4), LFR_OK);
    int dt[4];
    lfr_face a = face_at(100, 100, 40);
    lfr__tracker_update(&t, &a, 1, 0, dt, NULL, NULL);
    int64_t id = t.tracks[dt[0]].id;
    /* Moved 30 px: no box overlap left at IoU 0.3, keypoints within 0.8 eye
     * distances (16 px)? 30 px is 1.9 eye distances: a new track. */
    lfr_face far = face_at(130, 100, 40);
    lfr__tracker_update(&t, &far, 1, 1, dt, NULL, NULL);
    assert_int_not_equal(t.tracks[dt[0]].id, id);
    lfr__tracker_flush(&t, NULL, NULL);
    /* Moved 12 px (0.75 eye distances): the same track. */
    lfr__tracker_update(&t, &a, 1, 2, dt, NULL, NULL);
    id = t.tracks[dt[0]].id;
    lfr_face near = face_at(112, 100, 40);
    lfr__tracker_update(&t, &near, 1, 3, dt, NULL, NULL);
    assert_int_equal(t.tracks[dt[0]].id, id);
    lfr__tracker_free(&t);
}

static void test_capacity(void **state)
{
    (void)state;
    lfr__tracker t;
    assert_int_equal(lfr__tracker_init(&t, 2, 8), LFR_OK);
    lfr_face d[3] = {face_at(0, 0, 30), face_at(100, 0, 30), face_at(200, 0, 30)};
    int dt[8];
    lfr__tracker_update(&t, d, 3, 0, dt, NULL, NULL);
    assert_int_equal(t.n, 2);
    assert_int_equal(dt[2], -1); /* no room: not tracked this frame */
    lfr__tracker_free(&t);
}

/* A textured RGB image (sharp), or flat grey. */
static void make_image(lfr_image *img, int w, int h, int textured)
{
    assert_int_equal(lfr_image_alloc(w, h, img), LFR_OK);
    uint32_t s = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++) {
            s = s * 1103515245u + 12345u;
            img->data[(size_t)y * img->stride + (size_t)x] =
                textured ? (uint8_t)(64 + (s >> 24) % 128) : 128;
        }
}

static void test_quality_rules(void **state)
{
    (void)state;
    lfr_image sharp, flat;
    make_image(&sharp, 320, 240, 1);
    make_image(&flat, 320, 240, 0);
    lfr__quality_params p = lfr__quality_defaults();
    lfr__quality q;

    lfr_face good = face_at(100, 60, 100);
    lfr__quality_check(&sharp, &good, &p, &q);
    assert_true(q.pass);
    assert_string_equal(q.reason, "");
    assert_true(q.score > 0 && q.score <= 1);

    lfr_face small = face_at(100, 60, 20); /* 8 px between the eyes */
    lfr__quality_check(&sharp, &small, &p, &q);
    assert_false(q.pass);
    assert_string_equal(q.reason, "size");

    lfr__quality_check(&flat, &good, &p, &q);
    assert_false(q.pass);
    assert_string_equal(q.reason, "sharpness");

    lfr_face turned = good;
    turned.kp[2].x += 0.3f * 40; /* nose 0.3 inter-eye distances... */
    lfr__quality_check(&sharp, &turned, &p, &q);
    assert_true(q.pass);
    turned.kp[2].x += 0.3f * 40; /* ... then 0.6: past max_yaw 0.45 */
    lfr__quality_check(&sharp, &turned, &p, &q);
    assert_false(q.pass);
    assert_string_equal(q.reason, "pose");
    assert_true(fabsf(q.yaw - 0.6f) < 1e-3f);

    lfr_face rolled = good;
    rolled.kp[1].y += 60; /* eye line at 56 degrees */
    lfr__quality_check(&sharp, &rolled, &p, &q);
    assert_false(q.pass);
    assert_string_equal(q.reason, "pose");

    /* A bigger face of the same sharpness scores higher. */
    lfr__quality qs, qb;
    lfr_face mid = face_at(100, 60, 60);
    lfr__quality_check(&sharp, &mid, &p, &qs);
    lfr__quality_check(&sharp, &good, &p, &qb);
    assert_true(qb.score > qs.score);
    lfr_image_free(&sharp);
    lfr_image_free(&flat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_through_motion_and_misses),
        cmocka_unit_test(test_fast_motion_matched_by_keypoints),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_quality_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
