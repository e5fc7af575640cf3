/*
 * "No allocation per frame": after one frame of a given size, detecting and
 * embedding on further frames of that size allocates nothing. Our objects
 * are linked with --wrap=malloc/calloc/realloc (see CMakeLists.txt) so that
 * every allocation made by openlfr's code is counted here. XNNPACK is a
 * shared library and does not allocate when a runtime is invoked. The same
 * holds for ONNX models run through the executor, with our own kernels
 * between XNNPACK runtimes, on one thread and on two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"
#include "nn/nn.h"
#include "testutil.h"

static int counting;
static long n_alloc;

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    n_alloc += counting;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
    n_alloc += counting;
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
    n_alloc += counting;
    return __real_realloc(p, n);
}

static void test_steady_state(void **state)
{
    (void)state;
    char still[1024], mpath[1024];
    if (!test_data_path("stills/two_people.jpg", still, sizeof still) ||
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
    lfr_face f[16];
    float t[16 * LFR_TEMPLATE_DIM];
    int n;
    assert_int_equal(lfr_session_detect(s, &img, f, 16, &n), LFR_OK); /* warm-up */
    assert_int_equal(n, 2);
    assert_int_equal(lfr_session_embed(s, &img, f, n, t), LFR_OK);
    counting = 1;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lfr_session_detect(s, &img, f, 16, &n), LFR_OK);
        assert_int_equal(lfr_session_embed(s, &img, f, n, t), LFR_OK);
    }
    counting = 0;
    print_message("allocations in 5 frames after warm-up: %ld\n", n_alloc);
    assert_int_equal(n_alloc, 0);
    /* The counter does see the library's allocations: decoding allocates. */
    lfr_image again;
    counting = 1;
    assert_int_equal(lfr_image_load(still, 0, &again), LFR_OK);
    counting = 0;
    assert_true(n_alloc > 0);
    lfr_image_free(&again);
    lfr_image_free(&img);
    lfr_session_close(s);
    lfr_engine_close(e);
}

static void onnx_steady(const char *file, int n, int h, int w)
{
    char path[1024];
    if (!test_model_path(file, path, sizeof path)) {
        skip();
        return;
    }
    int shape[4] = {n, 3, h, w};
    lfr__graph *g;
    assert_int_equal(lfr__graph_load_file(path, 4, shape, &g), LFR_OK);
    for (int threads = 1; threads <= 2; threads++) {
        void *pool;
        lfr__xnn *x;
        assert_int_equal(lfr__xnn_pool_create(threads, &pool), LFR_OK);
        assert_int_equal(lfr__xnn_create(g, n, pool, &x), LFR_OK);
        float *in = lfr__xnn_input(x, 0);
        size_t k = lfr__graph_numel(g, g->inputs[0], n);
        for (size_t i = 0; i < k; i++)
            in[i] = (float)(i % 251) - 125.0f;
        assert_int_equal(lfr__xnn_run(x), LFR_OK); /* warm-up */
        n_alloc = 0;
        counting = 1;
        for (int i = 0; i < 5; i++)
            assert_int_equal(lfr__xnn_run(x), LFR_OK);
        lfr__xnn_wipe(x);
        counting = 0;
        print_message("%s, %d thread(s): allocations in 5 runs after warm-up: %ld\n", file, threads,
                      n_alloc);
        assert_int_equal(n_alloc, 0);
        lfr__xnn_free(x);
        lfr__xnn_pool_free(pool);
    }
    lfr__graph_free(g);
}

static void test_onnx_edgeface(void **state)
{
    (void)state;
    onnx_steady("edgeface_xs_q.onnx", 2, 112, 112);
}

static void test_onnx_yunet(void **state)
{
    (void)state;
    onnx_steady("yunet_s_dynamic.onnx", 1, 256, 320);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_steady_state),
                                       cmocka_unit_test(test_onnx_edgeface),
                                       cmocka_unit_test(test_onnx_yunet)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
