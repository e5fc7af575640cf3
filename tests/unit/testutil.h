/*
 * Helpers shared by the unit tests: where the models, fixtures and face
 * data are (LFR_MODELS, LFR_FIXTURES, LFR_DATA, set by CTest), and reading
 * a fixture. Tests that need something absent print why and skip.
 */
#ifndef LFR_TESTUTIL_H
#define LFR_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

static inline const char *test_env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Path of a model file, or 0 (with a message) when it is absent. */
static inline int test_model_path(const char *file, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", test_env("LFR_MODELS", "models"), file);
    if (access(out, R_OK) == 0) return 1;
    fprintf(stderr, "SKIP: model %s not found (run scripts/setup.sh)\n", out);
    return 0;
}

/* Path under the shared face data, or 0 (with a message) when absent. */
static inline int test_data_path(const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", test_env("LFR_DATA", "../shared/data"), rel);
    if (access(out, R_OK) == 0) return 1;
    fprintf(stderr, "SKIP: test data %s not found (set LFR_DATA)\n", out);
    return 0;
}

/* Read tests/fixtures/<name>; the caller frees. */
static inline void *test_read_fixture(const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_env("LFR_FIXTURES", "tests/fixtures"), name);
    uint8_t *buf = NULL;
    if (lfr__read_file(path, (size_t)64 << 20, &buf, n) != LFR_OK) {
        fprintf(stderr, "%s\n", lfr_errmsg());
        return NULL;
    }
    return buf;
}

#endif
