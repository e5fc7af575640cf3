/*
 * What main.c and eval.c share for `lfr eval`: the parsed options, and the
 * pool of worker threads that turns a list of images into templates (with
 * the template cache and the manifest's image hashes).
 */
#ifndef LFR_EVALCLI_H
#define LFR_EVALCLI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/cache.h"
#include "eval/eval.h"
#include "lfr/lfr.h"

#define EVAL_MAX_THRESHOLDS 16
#define EVAL_MAX_GROUP_COLUMNS 16

typedef struct opts {
    lfr_engine_config cfg;
    int threads;
    long people; /* eval identify lfw: only the first N people of lfw-names.txt */
    int json;
    const char *data, *pairs, *json_file, *scores_file;
    const char *labels;      /* eval manifest lfw: the label folder */
    const char *html_file;   /* eval verify/identify: the HTML report */
    const char *home, *user; /* store the run in this home as this user */
    const char *cache_file;  /* the template cache */
    const char *dataset;     /* the data set's name on record (default: the manifest's) */
    const char *manifest;    /* eval identify: group labels from this manifest */
    long impostors;          /* eval verify: sampled impostor pairs */
    int impostors_set;
    long impostors_per_group; /* eval verify: extra same-group impostor pairs per group */
    long genuine_per_id; /* eval verify: at most this many genuine pairs per identity (0 all) */
    uint64_t seed;
    int bootstrap; /* replicates */
    double thresholds[EVAL_MAX_THRESHOLDS];
    int n_thresholds;
    double diff_threshold;
    int diff_threshold_set;
    const char *groups[EVAL_MAX_GROUP_COLUMNS];
    int n_groups;
    const char *references[EVAL_MAX_GROUP_COLUMNS]; /* "column=value" */
    int n_references;
    const char *pos[4];
    int n_pos;
} opts;

typedef struct eval_job {
    opts *o;
    lfr_engine *eng;
    lfr_engine *eng_low;      /* same models, low detection threshold: the fallback */
    const char *const *paths; /* n_paths image paths relative to root */
    size_t n_paths;
    const char *root;
    const char *const *expect_sha; /* per image: its sha256 (hex) from the manifest, or NULL */
    lfr__tplcache *cache;          /* NULL: none */
    float *tpl;                    /* n_images x LFR_TEMPLATE_DIM */
    unsigned char *found;          /* 1 face embedded, 0 no face, 2 unreadable */
    atomic_size_t next;
    atomic_size_t done;
    atomic_int error;
    atomic_size_t low;    /* images whose face was found only by the fallback */
    atomic_size_t cached; /* images whose outcome came from the cache */
    char errmsg[512];
    char det_sha[65], emb_sha[65];
    pthread_mutex_t lock;
} eval_job;

/* Detect and embed every image of paths[] (relative to root) on a pool of
 * worker threads sharing one engine, filling j->tpl and j->found; with
 * o->cache_file, through the template cache. Progress on stderr. The
 * caller allocated j->tpl (n x dim) and j->found (n), set j->expect_sha or
 * NULL, and zeroed the rest of *j. */
int lfr_cli_embed_paths(opts *o, const char *root, const char *const *paths, size_t n, eval_job *j,
                        double *secs);

/* What `eval identify lfw` measured, for its report, groups and record. */
typedef struct lfr_cli_ident {
    const char *const *paths; /* every image of the protocol, relative to the LFW folder */
    const int *person;        /* per image: person index */
    int n_people;
    const lfr__eval_search_result *mated, *nonmated;
    const size_t *mated_img, *nonmated_img; /* each search's probe image */
    size_t n_mated, n_nonmated, n_gallery;
    const lfr__eval_ident_rates *at; /* FNIR at the FPIR targets[0..2] */
    const double *targets;
    const lfr__eval_ident_rates *at_default;
    const double *cmc; /* ranks 1..20 */
    const lfr__eval_projection_point *proj;
    const double *thresholds;
    int n_thresholds;
    const int *sizes;
    int n_sizes;
    double secs;
    const char *det_sha, *emb_sha;
    const char *protocol; /* "LFW", or the manifest's path */
} lfr_cli_ident;

/* Per-group FNIR/FPIR (with --manifest), the HTML report (--html) and the
 * record (st non-NULL) of an identify run (eval.c). */
struct lfr_store;
struct lfr_user;
int lfr_cli_identify_report(opts *o, const lfr_cli_ident *r, struct lfr_store *st,
                            const struct lfr_user *me);

/* Log in to o->home as o->user, the password from $LFR_PASSWORD or the
 * terminal (eval.c). */
int lfr_cli_store_login(const opts *o, struct lfr_store **st, struct lfr_user *me);

/* eval manifest lfw, eval verify (eval.c). */
int lfr_cli_eval_manifest(opts *o);
int lfr_cli_eval_verify(opts *o);

/* One line on stderr, "lfr: ...", returning 1. */
int lfr_cli_fail(const char *fmt, ...);

/* JSON helpers of main.c. */
#include <stdio.h>
void lfr_cli_json_str(FILE *f, const char *s);
void lfr_cli_json_num(FILE *f, double v);

#endif
