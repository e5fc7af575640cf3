/*
 * The LFW pairs protocol: parsing a pairs file (View 2 `pairs.txt` and the
 * single-fold View 1 files) into pairs of relative image paths with their
 * label and fold, and listing the distinct images those pairs name.
 *
 * The file comes from outside, so the parser is strict and says where it
 * stopped: every line is split on tabs and spaces by hand, numbers go through
 * strtol with range checks, and nothing is trusted before it is checked (the
 * header's pair count is weighed against the file size before allocating).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "util/util.h"

/* A line has at most four fields; one more is read to notice extra ones. */
#define MAX_FIELDS 5

/* Longest name accepted (LFW's longest is 35 bytes). */
#define MAX_NAME 255

typedef struct field {
    const char *p;
    size_t len;
} field;

typedef struct reader {
    const char *cur;
    const char *end;
    const char *name; /* for messages */
    size_t line;      /* 1-based number of the line last returned */
} reader;

/*
 * Advance to the next line that is not blank and split it into fields.
 * Returns the number of fields (MAX_FIELDS means "that many or more"), 0 at
 * the end of the text, or -1 (with the error set) if the line holds a NUL.
 */
static int next_line(reader *r, field *f)
{
    while (r->cur < r->end) {
        const char *nl = memchr(r->cur, '\n', (size_t)(r->end - r->cur));
        const char *lend = nl ? nl : r->end;
        const char *p = r->cur;
        r->cur = nl ? nl + 1 : r->end;
        r->line++;
        if (lend > p && lend[-1] == '\r') lend--;
        size_t len = lend > p ? (size_t)(lend - p) : 0;
        if (len && memchr(p, '\0', len)) {
            lfr__err(LFR_ERR_FORMAT, "%s:%zu: NUL byte in line", r->name, r->line);
            return -1;
        }
        int n = 0;
        while (p < lend) {
            while (p < lend && (*p == ' ' || *p == '\t'))
                p++;
            if (p == lend) break;
            const char *s = p;
            while (p < lend && *p != ' ' && *p != '\t')
                p++;
            if (n == MAX_FIELDS) return MAX_FIELDS;
            f[n].p = s;
            f[n].len = (size_t)(p - s);
            n++;
        }
        if (n > 0) return n;
    }
    return 0;
}

/* Parse a decimal integer field (optional '-', then digits) in [lo, hi]. */
static int parse_long(const reader *r, const field *f, const char *what, long lo, long hi,
                      long *out)
{
    char buf[24];
    size_t i = (f->len > 0 && f->p[0] == '-') ? 1 : 0;
    int ok = f->len > i && f->len < sizeof buf;
    for (; ok && i < f->len; i++)
        if (f->p[i] < '0' || f->p[i] > '9') ok = 0;
    if (!ok)
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: %s \"%.*s\" is not a decimal number", r->name,
                        r->line, what, (int)(f->len < 40 ? f->len : 40), f->p);
    memcpy(buf, f->p, f->len);
    buf[f->len] = '\0';
    errno = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < lo || v > hi)
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: %s %s is out of range %ld..%ld", r->name, r->line,
                        what, buf, lo, hi);
    *out = v;
    return LFR_OK;
}

static int check_name(const reader *r, const field *f)
{
    if (f->len > MAX_NAME)
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: name longer than %d bytes", r->name, r->line,
                        MAX_NAME);
    if ((f->len == 1 && f->p[0] == '.') || (f->len == 2 && f->p[0] == '.' && f->p[1] == '.'))
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: \"%.*s\" is not a name", r->name, r->line,
                        (int)f->len, f->p);
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = (unsigned char)f->p[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
            return lfr__err(LFR_ERR_FORMAT,
                            "%s:%zu: name \"%.*s\" contains a path separator or "
                            "control character",
                            r->name, r->line, (int)f->len, f->p);
    }
    return LFR_OK;
}

/* A growable byte buffer for the path strings. */
typedef struct strbuf {
    char *data;
    size_t len;
    size_t cap;
} strbuf;

/* Append "Name/Name_NNNN.jpg" and its NUL; *off_out receives its offset. */
static int append_path(strbuf *b, const field *name, long index, size_t *off_out)
{
    size_t need = 2 * name->len + 16; /* "/", "_", up to 4 digits, ".jpg", NUL, slack */
    if (b->cap - b->len < need) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < need) {
            if (!lfr__mul_ok(ncap, 2, &ncap)) return LFR_ERR_NOMEM;
        }
        char *nd = realloc(b->data, ncap);
        if (!nd) return LFR_ERR_NOMEM;
        b->data = nd;
        b->cap = ncap;
    }
    int w = snprintf(b->data + b->len, b->cap - b->len, "%.*s/%.*s_%04ld.jpg", (int)name->len,
                     name->p, (int)name->len, name->p, index);
    if (w < 0 || (size_t)w >= b->cap - b->len) return LFR_ERR_NOMEM;
    *off_out = b->len;
    b->len += (size_t)w + 1;
    return LFR_OK;
}

static int fields_equal(const field *a, const field *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Parse the header into n_folds and n_per_class. */
static int parse_header(reader *r, size_t size, int *n_folds, int *n_per_class, size_t *n_pairs)
{
    field f[MAX_FIELDS];
    int nf = next_line(r, f);
    if (nf < 0) return LFR_ERR_FORMAT;
    if (nf == 0) return lfr__err(LFR_ERR_FORMAT, "%s: empty file, no header line", r->name);
    if (nf > 2)
        return lfr__err(LFR_ERR_FORMAT,
                        "%s:%zu: header must be \"n_folds n_per_class\" or \"n_per_class\"",
                        r->name, r->line);
    long folds = 1, per = 0;
    if (nf == 2 && parse_long(r, &f[0], "fold count", 1, LFR__EVAL_MAX_FOLDS, &folds))
        return LFR_ERR_FORMAT;
    if (parse_long(r, &f[nf - 1], "pairs per fold", 1, INT32_MAX, &per)) return LFR_ERR_FORMAT;
    /* Each pair line takes at least 6 bytes ("a 1 2\n"), so a header promising
     * more pairs than that is wrong whatever follows; checking this before
     * allocating keeps a forged header from asking for gigabytes. */
    size_t total = (size_t)folds * 2 * (size_t)per;
    if (total / 2 / (size_t)folds != (size_t)per || total > size / 5 + 1)
        return lfr__err(LFR_ERR_FORMAT,
                        "%s:%zu: header promises %ld x 2 x %ld pairs, more than "
                        "a %zu-byte file can hold",
                        r->name, r->line, folds, per, size);
    *n_folds = (int)folds;
    *n_per_class = (int)per;
    *n_pairs = total;
    return LFR_OK;
}

/* Check one pair line of nf fields and append its two paths to b, their
 * offsets to offs. */
static int parse_pair(reader *r, const field *f, int nf, int same, strbuf *b, size_t offs[2])
{
    int want = same ? 3 : 4;
    if (nf != want)
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: a %s pair needs %d fields (%s), found %s%d",
                        r->name, r->line, same ? "same-person" : "different-person", want,
                        same ? "Name i j" : "Name1 i Name2 j", nf == MAX_FIELDS ? "at least " : "",
                        nf);
    const field *name_a = &f[0], *name_b = same ? &f[0] : &f[2];
    const field *num_a = &f[1], *num_b = same ? &f[2] : &f[3];
    long ia, ib;
    if (check_name(r, name_a) || check_name(r, name_b)) return LFR_ERR_FORMAT;
    if (parse_long(r, num_a, "image number", 1, LFR__EVAL_MAX_IMAGE_INDEX, &ia) ||
        parse_long(r, num_b, "image number", 1, LFR__EVAL_MAX_IMAGE_INDEX, &ib))
        return LFR_ERR_FORMAT;
    if (same && ia == ib)
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: same-person pair compares image %ld with itself",
                        r->name, r->line, ia);
    if (!same && fields_equal(name_a, name_b))
        return lfr__err(LFR_ERR_FORMAT, "%s:%zu: different-person pair names %.*s twice", r->name,
                        r->line, (int)name_a->len, name_a->p);
    if (append_path(b, name_a, ia, &offs[0]) || append_path(b, name_b, ib, &offs[1]))
        return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", r->name);
    return LFR_OK;
}

int lfr__eval_pairs_parse(const char *text, size_t size, const char *name, lfr__eval_pairs *out)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "pairs";
    if (!text && size) return lfr__err(LFR_ERR_INVALID, "%s: NULL text", name);
    reader r = {text, text + size, name, 0};
    int n_folds = 0, n_per_class = 0;
    size_t n_pairs = 0;
    int rc = parse_header(&r, size, &n_folds, &n_per_class, &n_pairs);
    if (rc) return rc;

    lfr__eval_pair *pairs = calloc(n_pairs, sizeof *pairs);
    size_t *offs = calloc(n_pairs, 2 * sizeof *offs);
    strbuf b = {0};
    if (!pairs || !offs) {
        rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    size_t per_fold = 2 * (size_t)n_per_class;
    for (size_t i = 0; i < n_pairs; i++) {
        field f[MAX_FIELDS];
        int nf = next_line(&r, f);
        if (nf < 0) {
            rc = LFR_ERR_FORMAT;
            goto fail;
        }
        if (nf == 0) {
            rc = lfr__err(LFR_ERR_FORMAT,
                          "%s:%zu: file ends after %zu of the %zu pairs its "
                          "header promises",
                          name, r.line, i, n_pairs);
            goto fail;
        }
        int same = i % per_fold < (size_t)n_per_class;
        rc = parse_pair(&r, f, nf, same, &b, &offs[2 * i]);
        if (rc) goto fail;
        pairs[i].same = same;
        pairs[i].fold = (int)(i / per_fold);
    }
    field extra[MAX_FIELDS];
    int nf = next_line(&r, extra);
    if (nf != 0) {
        rc = nf < 0 ? LFR_ERR_FORMAT
                    : lfr__err(LFR_ERR_FORMAT,
                               "%s:%zu: more lines than the %zu pairs the header "
                               "promises",
                               name, r.line, n_pairs);
        goto fail;
    }
    /* The buffer has stopped moving: turn offsets into pointers. */
    for (size_t i = 0; i < n_pairs; i++) {
        pairs[i].path_a = b.data + offs[2 * i];
        pairs[i].path_b = b.data + offs[2 * i + 1];
    }
    free(offs);
    out->pair = pairs;
    out->n_pairs = n_pairs;
    out->n_folds = n_folds;
    out->n_per_class = n_per_class;
    out->strings_ = b.data;
    return LFR_OK;

fail:
    free(pairs);
    free(offs);
    free(b.data);
    return rc;
}

int lfr__eval_pairs_load(const char *path, lfr__eval_pairs *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    int rc = lfr__read_file(path, LFR__EVAL_PAIRS_MAX_BYTES, &data, &size);
    if (rc) return rc;
    rc = lfr__eval_pairs_parse((const char *)data, size, path, out);
    free(data);
    return rc;
}

void lfr__eval_pairs_free(lfr__eval_pairs *p)
{
    if (!p) return;
    free(p->pair);
    free(p->strings_);
    memset(p, 0, sizeof *p);
}

/* ---- Distinct images ----------------------------------------------------- */

typedef struct image_ref {
    const char *path;
    size_t id; /* 2 * pair + (0 for path_a, 1 for path_b) */
} image_ref;

static int cmp_ref(const void *a, const void *b)
{
    const image_ref *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c) return c;
    return (x->id > y->id) - (x->id < y->id);
}

int lfr__eval_pairs_images(const lfr__eval_pairs *pairs, lfr__eval_images *out)
{
    memset(out, 0, sizeof *out);
    size_t n = pairs->n_pairs;
    if (n == 0) return LFR_OK;
    size_t n_refs;
    if (!lfr__mul_ok(n, 2, &n_refs)) return lfr__err(LFR_ERR_NOMEM, "too many pairs");
    image_ref *refs = calloc(n_refs, sizeof *refs);
    out->path = calloc(n_refs, sizeof *out->path);
    out->index_a = calloc(n, sizeof *out->index_a);
    out->index_b = calloc(n, sizeof *out->index_b);
    if (!refs || !out->path || !out->index_a || !out->index_b) {
        free(refs);
        lfr__eval_images_free(out);
        return lfr__err(LFR_ERR_NOMEM, "out of memory listing %zu pairs' images", n);
    }
    for (size_t i = 0; i < n; i++) {
        refs[2 * i] = (image_ref){pairs->pair[i].path_a, 2 * i};
        refs[2 * i + 1] = (image_ref){pairs->pair[i].path_b, 2 * i + 1};
    }
    qsort(refs, n_refs, sizeof *refs, cmp_ref);
    size_t u = 0;
    for (size_t k = 0; k < n_refs; k++) {
        if (k == 0 || strcmp(refs[k].path, refs[k - 1].path) != 0) out->path[u++] = refs[k].path;
        size_t p = refs[k].id / 2;
        if (refs[k].id % 2 == 0)
            out->index_a[p] = u - 1;
        else
            out->index_b[p] = u - 1;
    }
    out->n_images = u;
    free(refs);
    return LFR_OK;
}

void lfr__eval_images_free(lfr__eval_images *im)
{
    if (!im) return;
    free(im->path);
    free(im->index_a);
    free(im->index_b);
    memset(im, 0, sizeof *im);
}
