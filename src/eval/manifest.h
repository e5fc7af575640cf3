/*
 * Dataset manifests: the plain description of an evaluation data set that
 * every `lfr eval` run on a manifest reads, and whose sha256 is the data
 * set's fingerprint on record.
 *
 * A manifest is UTF-8 text, one image per line, fields separated by a TAB:
 *
 *     # comment lines start with '#'; blank lines are ignored
 *     path	identity	sex	race
 *     Aaron_Eckhart/Aaron_Eckhart_0001.jpg	Aaron_Eckhart	male	caucasian
 *     Abba_Eban/Abba_Eban_0001.jpg	Abba_Eban	male
 *
 * The first non-comment line is the header: "path", "identity", then any
 * number of named label columns (names of [A-Za-z0-9_.-], unique). Every
 * row has exactly as many fields as the header, except that trailing empty
 * label fields may be left off. An empty label means "unlabelled". A column
 * named "sha256" is special: it holds the image file's sha256 (64 lower-case
 * hex digits) and is checked whenever the image is read, so that the
 * fingerprint then covers the images' contents as well as their names.
 * Paths are relative to a data folder (or absolute), must not contain a ".."
 * component, and appear once each.
 *
 * Use:
 *
 *     lfr__manifest m;
 *     if (lfr__manifest_load("lfw.tsv", &m) != LFR_OK) ... lfr_errmsg() ...
 *     int sex = lfr__manifest_column(&m, "sex");   // -1 when absent
 *     for (size_t i = 0; i < m.n_images; i++)
 *         ... m.path[i], m.identity_name[m.identity[i]],
 *             sex >= 0 && m.label[sex][i] >= 0 ? m.value[sex][m.label[sex][i]] : "(none)"
 *     lfr__manifest_free(&m);
 */
#ifndef LFR_EVAL_MANIFEST_H
#define LFR_EVAL_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lfr/lfr.h"

#define LFR__MANIFEST_MAX_BYTES (512u << 20) /* larger files are refused */
#define LFR__MANIFEST_MAX_COLUMNS 64         /* label columns */
#define LFR__MANIFEST_MAX_FIELD 1024         /* bytes in one field */

typedef struct lfr__manifest {
    size_t n_images;
    const char **path;          /* per image, as written */
    int *identity;              /* per image: index into identity_name */
    int n_identities;           /* distinct identities */
    const char **identity_name; /* sorted by strcmp */
    int n_columns;              /* label columns (the header less path and identity) */
    const char **column;        /* their names, in header order */
    int **label;                /* label[c][i]: index into value[c], -1 unlabelled */
    int *n_values;              /* distinct non-empty values of column c */
    const char ***value;        /* value[c][v], sorted by strcmp */
    int sha256_column;          /* index of the "sha256" column, or -1 */
    char sha256[65];            /* of the manifest's bytes: the fingerprint */
    size_t *by_path_;           /* private: image indices sorted by path */
    char *text_;                /* private: storage behind the strings */
} lfr__manifest;

/* Parse manifest text (`name` is for messages: "name:line: what"). On
 * failure *out is zeroed and the error is LFR_ERR_FORMAT (or NOMEM). The
 * caller frees *out with lfr__manifest_free(). */
int lfr__manifest_parse(const char *text, size_t size, const char *name, lfr__manifest *out);

/* Read and parse a manifest file (refusing files over the size limit). */
int lfr__manifest_load(const char *path, lfr__manifest *out);

/* Free and zero; NULL or a freed manifest is fine. */
void lfr__manifest_free(lfr__manifest *m);

/* The index of the label column called `name`, or -1. */
int lfr__manifest_column(const lfr__manifest *m, const char *name);

/* The index of the image whose path is `path`, or -1. O(log n). */
long lfr__manifest_find(const lfr__manifest *m, const char *path);

/*
 * Write the manifest of an LFW folder (lfw-names.txt and the images it
 * names, each checked to exist and hashed into a "sha256" column) to out.
 * With labels_dir, also the columns "sex" (from lfw_male_names.txt and
 * lfw_female_names.txt: an image in both lists, or in neither, is left
 * unlabelled), "race" (from lfw_race_dict_usc_sail.json, per identity: the
 * label when there is one, "multiple" when the annotation lists several)
 * and "race_labels" (the annotation as given, e.g. "african,caucasian").
 * n_out (may be NULL) receives the number of images written.
 */
int lfr__manifest_write_lfw(FILE *out, const char *lfw_dir, const char *labels_dir, size_t *n_out);

/* ---- Comparisons drawn from a manifest ---------------------------------------- */

typedef struct lfr__eval_comparisons {
    size_t n;
    uint32_t *a, *b;     /* image indices into the manifest */
    unsigned char *same; /* 1 genuine (same identity), 0 impostor */
    int *fold;           /* fold of each comparison (0 when not from a pairs file) */
    int n_folds;         /* folds of the pairs file; 0 otherwise */
} lfr__eval_comparisons;

/*
 * Genuine and impostor comparisons of a manifest. Genuine: every pair of two
 * images of one identity, or, when an identity has more than
 * max_genuine_per_identity such pairs (0: no limit), that many drawn without
 * replacement. Impostor: n_impostors pairs of images of different
 * identities, each drawn uniformly from all such image pairs (with
 * replacement; a repeat is possible but rare). Deterministic from seed.
 * Genuine comparisons come first, by identity. Free with
 * lfr__eval_comparisons_free().
 */
int lfr__eval_comparisons_sample(const lfr__manifest *m, size_t max_genuine_per_identity,
                                 size_t n_impostors, uint64_t seed, lfr__eval_comparisons *out);

/* The comparisons of an LFW pairs file whose images are all in the manifest
 * (an image missing from it is an error naming it). A genuine pair must join
 * two images of the same manifest identity and an impostor pair two
 * different identities: LFR_ERR_FORMAT otherwise. */
struct lfr__eval_pairs;
int lfr__eval_comparisons_from_pairs(const lfr__manifest *m, const struct lfr__eval_pairs *pairs,
                                     lfr__eval_comparisons *out);

void lfr__eval_comparisons_free(lfr__eval_comparisons *c);

/* A small, seedable generator (splitmix64) for sampling and bootstraps. */
static inline uint64_t lfr__rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; the bias for n far
 * below 2^64 is negligible, under 2^-32 for n < 2^32). */
static inline uint64_t lfr__rng_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)lfr__rng_next(state) * n) >> 64);
}

#endif
