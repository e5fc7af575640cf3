/*
 * Dataset manifests (manifest.h): the strict parser, the LFW converter, and
 * the drawing of genuine and impostor comparisons from a manifest.
 *
 * The parser copies the text once and cuts it into fields in place; names
 * (identities, label values) are interned by sorting, so loading is
 * O(n log n) and every index is dense. Nothing is trusted before it is
 * checked, and every message names the line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "eval/eval.h"
#include "eval/manifest.h"
#include "util/util.h"

/* ---- Parsing ------------------------------------------------------------------ */

static int column_name_ok(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

/* A path must be non-empty and hold no ".." component (it is joined to a data
 * folder). */
static int path_ok(const char *p)
{
    if (!*p) return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (!e) break;
        s = e + 1;
    }
    return 1;
}

static int hex64_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 64;
}

static const char **sort_keys_;

static int cmp_idx(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int c = strcmp(sort_keys_[a], sort_keys_[b]);
    return c ? c : (a > b) - (a < b);
}

/*
 * Intern n strings (NULL entries are skipped and get -1): ids[i] is the
 * index of keys[i] in *names_out (distinct, strcmp order). order is n
 * scratch entries. Not thread-safe (qsort has no context argument in C17).
 */
static int intern(const char **keys, size_t n, size_t *order, int *ids, const char ***names_out,
                  int *n_names_out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = -1;
        if (keys[i]) order[k++] = i;
    }
    sort_keys_ = keys;
    qsort(order, k, sizeof *order, cmp_idx);
    const char **names = malloc((k ? k : 1) * sizeof *names);
    if (!names) return lfr__err(LFR_ERR_NOMEM, "manifest: out of memory");
    int n_names = 0;
    for (size_t j = 0; j < k; j++) {
        if (j == 0 || strcmp(keys[order[j]], keys[order[j - 1]])) {
            if (n_names == INT32_MAX) {
                free(names);
                return lfr__err(LFR_ERR_TOO_LARGE, "manifest: too many distinct names");
            }
            names[n_names++] = keys[order[j]];
        }
        ids[order[j]] = n_names - 1;
    }
    *names_out = names;
    *n_names_out = n_names;
    return LFR_OK;
}

/* Split a line (NUL-terminated, no newline) on TABs into at most cap fields;
 * returns the count, or cap + 1 if there are more. */
static int split_tabs(char *line, char **f, int cap)
{
    int n = 0;
    for (char *s = line;;) {
        if (n == cap) return cap + 1;
        f[n++] = s;
        char *t = strchr(s, '\t');
        if (!t) break;
        *t = 0;
        s = t + 1;
    }
    return n;
}

void lfr__manifest_free(lfr__manifest *m)
{
    if (!m) return;
    free(m->path);
    free(m->identity);
    free(m->identity_name);
    free(m->column);
    for (int c = 0; m->label && c < m->n_columns; c++)
        free(m->label[c]);
    free(m->label);
    for (int c = 0; m->value && c < m->n_columns; c++)
        free(m->value[c]);
    free(m->value);
    free(m->n_values);
    free(m->by_path_);
    free(m->text_);
    memset(m, 0, sizeof *m);
    m->sha256_column = -1;
}

static int cmp_path_idx(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return strcmp(sort_keys_[a], sort_keys_[b]);
}

int lfr__manifest_parse(const char *text, size_t size, const char *name, lfr__manifest *out)
{
    memset(out, 0, sizeof *out);
    out->sha256_column = -1;
    if (!name) name = "manifest";
    if (size > LFR__MANIFEST_MAX_BYTES)
        return lfr__err(LFR_ERR_TOO_LARGE, "%s: larger than %u bytes", name,
                        LFR__MANIFEST_MAX_BYTES);
    if (memchr(text, '\0', size)) return lfr__err(LFR_ERR_FORMAT, "%s: NUL byte in text", name);
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, size);
    sodium_bin2hex(out->sha256, sizeof out->sha256, h, sizeof h);

    lfr__manifest *m = out;
    const char **keys = NULL, **lab_keys = NULL;
    size_t *order = NULL;
    int rc = LFR_OK;
    m->text_ = malloc(size + 1);
    if (!m->text_) return lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
    memcpy(m->text_, text, size);
    m->text_[size] = 0;
    /* Count lines for an upper bound on rows. */
    size_t max_rows = 1;
    for (size_t i = 0; i < size; i++)
        max_rows += text[i] == '\n';
    char *fields[LFR__MANIFEST_MAX_COLUMNS + 3];
    char **row_fields = NULL; /* n_rows x width, pointers into text_ */
    int width = 0;
    size_t n_rows = 0, line = 0;
    char *p = m->text_, *end = m->text_ + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *lend = nl ? nl : end;
        *lend = 0;
        if (lend > p && lend[-1] == '\r') lend[-1] = 0;
        char *ln = p;
        p = nl ? nl + 1 : end;
        line++;
        if (!ln[0] || ln[0] == '#') continue;
        for (const char *q = ln; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') {
                rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: control character in line", name, line);
                goto fail;
            }
        int n = split_tabs(ln, fields, LFR__MANIFEST_MAX_COLUMNS + 2);
        if (width == 0) {
            /* The header. */
            if (n > LFR__MANIFEST_MAX_COLUMNS + 2) {
                rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: more than %d label columns", name, line,
                              LFR__MANIFEST_MAX_COLUMNS);
                goto fail;
            }
            if (n < 2 || strcmp(fields[0], "path") || strcmp(fields[1], "identity")) {
                rc = lfr__err(LFR_ERR_FORMAT,
                              "%s:%zu: the header must start with the columns \"path\" and "
                              "\"identity\" (TAB-separated)",
                              name, line);
                goto fail;
            }
            width = n;
            m->n_columns = n - 2;
            m->column = calloc((size_t)(n - 2) + 1, sizeof *m->column);
            row_fields = malloc(max_rows * (size_t)width * sizeof *row_fields);
            if (!m->column || !row_fields) {
                rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
                goto fail;
            }
            for (int c = 0; c < m->n_columns; c++) {
                const char *cn = fields[c + 2];
                if (!column_name_ok(cn) || !strcmp(cn, "path") || !strcmp(cn, "identity")) {
                    rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: \"%s\" is not a column name", name, line,
                                  cn);
                    goto fail;
                }
                for (int d = 0; d < c; d++)
                    if (!strcmp(m->column[d], cn)) {
                        rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: column \"%s\" appears twice", name,
                                      line, cn);
                        goto fail;
                    }
                m->column[c] = cn;
                if (!strcmp(cn, "sha256")) m->sha256_column = c;
            }
            continue;
        }
        if (n > width) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: %d fields, the header has %d", name, line,
                          n > LFR__MANIFEST_MAX_COLUMNS + 2 ? LFR__MANIFEST_MAX_COLUMNS + 3 : n,
                          width);
            goto fail;
        }
        if (n < 2) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: needs at least a path and an identity", name,
                          line);
            goto fail;
        }
        for (int c = 0; c < n; c++)
            if (strlen(fields[c]) > LFR__MANIFEST_MAX_FIELD) {
                rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: field %d longer than %d bytes", name, line,
                              c + 1, LFR__MANIFEST_MAX_FIELD);
                goto fail;
            }
        if (!path_ok(fields[0])) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: \"%s\" is not a usable path (empty or with ..)",
                          name, line, fields[0]);
            goto fail;
        }
        if (!fields[1][0]) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: empty identity", name, line);
            goto fail;
        }
        if (m->sha256_column >= 0 &&
            (n <= m->sha256_column + 2 || !hex64_ok(fields[m->sha256_column + 2]))) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: sha256 must be 64 lower-case hex digits", name,
                          line);
            goto fail;
        }
        for (int c = 0; c < width; c++)
            row_fields[n_rows * (size_t)width + (size_t)c] =
                c < n && fields[c][0] ? fields[c] : NULL;
        n_rows++;
    }
    if (width == 0) {
        rc = lfr__err(LFR_ERR_FORMAT, "%s: no header line (path, identity, ...)", name);
        goto fail;
    }
    if (n_rows == 0) {
        rc = lfr__err(LFR_ERR_FORMAT, "%s: no images", name);
        goto fail;
    }
    if (n_rows > INT32_MAX) {
        rc = lfr__err(LFR_ERR_TOO_LARGE, "%s: too many images", name);
        goto fail;
    }
    m->n_images = n_rows;
    m->path = malloc(n_rows * sizeof *m->path);
    m->identity = malloc(n_rows * sizeof *m->identity);
    m->by_path_ = malloc(n_rows * sizeof *m->by_path_);
    keys = malloc(n_rows * sizeof *keys);
    lab_keys = malloc(n_rows * sizeof *lab_keys);
    order = malloc(n_rows * sizeof *order);
    m->label = calloc((size_t)m->n_columns + 1, sizeof *m->label);
    m->value = calloc((size_t)m->n_columns + 1, sizeof *m->value);
    m->n_values = calloc((size_t)m->n_columns + 1, sizeof *m->n_values);
    if (!m->path || !m->identity || !m->by_path_ || !keys || !lab_keys || !order || !m->label ||
        !m->value || !m->n_values) {
        rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    for (size_t i = 0; i < n_rows; i++) {
        m->path[i] = row_fields[i * (size_t)width];
        keys[i] = row_fields[i * (size_t)width + 1];
        m->by_path_[i] = i;
    }
    /* Paths must be unique. */
    sort_keys_ = m->path;
    qsort(m->by_path_, n_rows, sizeof *m->by_path_, cmp_path_idx);
    for (size_t i = 1; i < n_rows; i++)
        if (!strcmp(m->path[m->by_path_[i]], m->path[m->by_path_[i - 1]])) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: image \"%s\" is listed twice", name,
                          m->path[m->by_path_[i]]);
            goto fail;
        }
    if ((rc = intern(keys, n_rows, order, m->identity, &m->identity_name, &m->n_identities)))
        goto fail;
    for (int c = 0; c < m->n_columns; c++) {
        m->label[c] = malloc(n_rows * sizeof **m->label);
        if (!m->label[c]) {
            rc = lfr__err(LFR_ERR_NOMEM, "%s: out of memory", name);
            goto fail;
        }
        for (size_t i = 0; i < n_rows; i++)
            lab_keys[i] = row_fields[i * (size_t)width + 2 + (size_t)c];
        if ((rc = intern(lab_keys, n_rows, order, m->label[c], &m->value[c], &m->n_values[c])))
            goto fail;
    }
    free(row_fields);
    free(keys);
    free(lab_keys);
    free(order);
    return LFR_OK;
fail:
    free(row_fields);
    free(keys);
    free(lab_keys);
    free(order);
    lfr__manifest_free(m);
    return rc;
}

int lfr__manifest_load(const char *path, lfr__manifest *out)
{
    memset(out, 0, sizeof *out);
    out->sha256_column = -1;
    uint8_t *data;
    size_t size;
    int rc = lfr__read_file(path, LFR__MANIFEST_MAX_BYTES, &data, &size);
    if (rc) return rc;
    rc = lfr__manifest_parse((const char *)data, size, path, out);
    free(data);
    return rc;
}

int lfr__manifest_column(const lfr__manifest *m, const char *name)
{
    for (int c = 0; c < m->n_columns; c++)
        if (!strcmp(m->column[c], name)) return c;
    return -1;
}

long lfr__manifest_find(const lfr__manifest *m, const char *path)
{
    size_t lo = 0, hi = m->n_images;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->path[m->by_path_[mid]], path);
        if (c == 0) return (long)m->by_path_[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- The LFW converter ------------------------------------------------------------ */

typedef struct strlist {
    char **s;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int strlist_add(strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 1024;
        char **ns = realloc(l->s, nc * sizeof *ns);
        if (!ns) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        l->s = ns;
        l->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    l->s[l->n++] = c;
    return LFR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strlist_has(const strlist *l, const char *s)
{
    return l->n && bsearch(&s, l->s, l->n, sizeof *l->s, cmp_str) != NULL;
}

/* A file of one name per line (the LFW gender lists), sorted for lookup. */
static int read_name_list(const char *path, strlist *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    int rc = lfr__read_file(path, 64u << 20, &data, &size);
    if (rc) return rc;
    const char *p = (const char *)data, *end = p + size;
    size_t line = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        if (le > p) {
            if (memchr(p, '/', (size_t)(le - p)) || memchr(p, '\t', (size_t)(le - p)) ||
                memchr(p, '\0', (size_t)(le - p)) || le - p > 255)
                rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: not an image file name", path, line);
            else
                rc = strlist_add(out, p, (size_t)(le - p));
        }
        p = nl ? nl + 1 : end;
    }
    free(data);
    if (rc) {
        strlist_free(out);
        return rc;
    }
    qsort(out->s, out->n, sizeof *out->s, cmp_str);
    return LFR_OK;
}

/* A JSON string at *p (after the opening quote); only the escapes a name list
 * needs (\" \\ \/ and \uXXXX below 0x80). */
static int json_string(const char **p, const char *end, char *buf, size_t cap, const char *file)
{
    size_t n = 0;
    const char *s = *p;
    while (s < end && *s != '"') {
        char c = *s++;
        if (c == '\\') {
            if (s >= end) break;
            char e = *s++;
            if (e == 'u') {
                unsigned v = 0;
                for (int k = 0; k < 4; k++, s++) {
                    if (s >= end) return lfr__err(LFR_ERR_FORMAT, "%s: truncated \\u escape", file);
                    char h = *s;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9'   ? h - '0'
                                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                                   : 99);
                }
                if (v >= 0x80)
                    return lfr__err(LFR_ERR_UNSUPPORTED, "%s: non-ASCII \\u escape", file);
                c = (char)v;
            } else if (e == '"' || e == '\\' || e == '/') {
                c = e;
            } else {
                return lfr__err(LFR_ERR_FORMAT, "%s: unsupported escape \\%c", file, e);
            }
        }
        if ((unsigned char)c < 0x20 || c == '\t')
            return lfr__err(LFR_ERR_FORMAT, "%s: control character in a string", file);
        if (n + 1 >= cap) return lfr__err(LFR_ERR_FORMAT, "%s: string too long", file);
        buf[n++] = c;
    }
    if (s >= end) return lfr__err(LFR_ERR_FORMAT, "%s: unterminated string", file);
    buf[n] = 0;
    *p = s + 1;
    return LFR_OK;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The USC SAIL race annotation: one JSON object {"Name": "label[,label...]"}.
 * Fills names (sorted) and, in the same order, labels. */
static int read_race_json(const char *path, strlist *names, strlist *labels)
{
    memset(names, 0, sizeof *names);
    memset(labels, 0, sizeof *labels);
    uint8_t *data;
    size_t size;
    int rc = lfr__read_file(path, 64u << 20, &data, &size);
    if (rc) return rc;
    const char *p = (const char *)data, *end = p + size;
    strlist k = {0}, v = {0};
    char key[512], val[512];
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{') {
        rc = lfr__err(LFR_ERR_FORMAT, "%s: expected a JSON object", path);
        goto out;
    }
    p = skip_ws(p, end);
    if (p < end && *p == '}') goto done;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p++ != '"') {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: expected a name at byte %zu", path,
                          (size_t)(p - (const char *)data));
            goto out;
        }
        if ((rc = json_string(&p, end, key, sizeof key, path))) goto out;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':') {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: expected ':' after \"%s\"", path, key);
            goto out;
        }
        p = skip_ws(p, end);
        if (p >= end || *p++ != '"') {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: the label of \"%s\" is not a string", path, key);
            goto out;
        }
        if ((rc = json_string(&p, end, val, sizeof val, path))) goto out;
        if (!key[0] || strchr(key, '/') || !val[0]) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s: empty or bad entry \"%s\"", path, key);
            goto out;
        }
        /* key and label together, so that sorting keeps them paired */
        char both[1100];
        snprintf(both, sizeof both, "%s\t%s", key, val);
        if ((rc = strlist_add(&k, both, strlen(both)))) goto out;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') break;
        rc = lfr__err(LFR_ERR_FORMAT, "%s: expected ',' or '}' after \"%s\"", path, key);
        goto out;
    }
done:
    qsort(k.s, k.n, sizeof *k.s, cmp_str);
    for (size_t i = 0; i < k.n && !rc; i++) {
        char *t = strchr(k.s[i], '\t');
        *t = 0;
        if (i && !strcmp(k.s[i], names->s[names->n - 1]))
            rc = lfr__err(LFR_ERR_FORMAT, "%s: \"%s\" appears twice", path, k.s[i]);
        if (!rc) rc = strlist_add(names, k.s[i], strlen(k.s[i]));
        if (!rc) rc = strlist_add(&v, t + 1, strlen(t + 1));
    }
    if (!rc) {
        *labels = v;
        memset(&v, 0, sizeof v);
    }
out:
    strlist_free(&k);
    strlist_free(&v);
    if (rc) strlist_free(names);
    free(data);
    return rc;
}

/* Hex sha256 of a file's bytes. */
static int file_sha256(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_hash_sha256_update(&st, buf, got);
    int err = ferror(f);
    fclose(f);
    if (err) return lfr__err(LFR_ERR_IO, "%s: read error", path);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 65, h, sizeof h);
    return LFR_OK;
}

int lfr__manifest_write_lfw(FILE *out, const char *lfw_dir, const char *labels_dir, size_t *n_out)
{
    if (n_out) *n_out = 0;
    strlist male = {0}, female = {0}, race_names = {0}, race_labels = {0};
    char path[4096];
    int rc = LFR_OK;
    FILE *f = NULL;
    if (labels_dir) {
        snprintf(path, sizeof path, "%s/lfw_male_names.txt", labels_dir);
        if ((rc = read_name_list(path, &male))) goto out;
        snprintf(path, sizeof path, "%s/lfw_female_names.txt", labels_dir);
        if ((rc = read_name_list(path, &female))) goto out;
        snprintf(path, sizeof path, "%s/lfw_race_dict_usc_sail.json", labels_dir);
        if ((rc = read_race_json(path, &race_names, &race_labels))) goto out;
    }
    snprintf(path, sizeof path, "%s/lfw-names.txt", lfw_dir);
    f = fopen(path, "r");
    if (!f) {
        rc = lfr__err(LFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    /* Nothing machine-specific (no folder names): the fingerprint is of the data. */
    fprintf(out, "# LFW, the images listed in lfw-names.txt%s\n",
            labels_dir ? "; sex and race: third-party annotations (see docs/ACCURACY.md)" : "");
    fprintf(out, "path\tidentity\tsha256%s\n", labels_dir ? "\tsex\trace\trace_labels" : "");
    char line[512], img[4096], rel[1100], sha[65];
    size_t lineno = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *tab = strpbrk(line, "\t ");
        if (!tab) continue;
        *tab = 0;
        char *endp;
        errno = 0;
        long count = strtol(tab + 1, &endp, 10);
        if (errno || endp == tab + 1 || count < 1 || count > LFR__EVAL_MAX_IMAGE_INDEX ||
            !line[0] || strchr(line, '/') || !strcmp(line, "..") || strlen(line) > 255) {
            rc = lfr__err(LFR_ERR_FORMAT, "%s:%zu: expected 'Name count'", path, lineno);
            goto out;
        }
        const char *race = "", *race_all = "";
        if (labels_dir) {
            const char *key = line;
            char **hit = race_names.n ? bsearch(&key, race_names.s, race_names.n,
                                                sizeof *race_names.s, cmp_str)
                                      : NULL;
            if (hit) {
                race_all = race_labels.s[hit - race_names.s];
                race = strchr(race_all, ',') ? "multiple" : race_all;
            }
        }
        for (long k = 1; k <= count; k++) {
            snprintf(rel, sizeof rel, "%s/%s_%04ld.jpg", line, line, k);
            snprintf(img, sizeof img, "%s/%s", lfw_dir, rel);
            if ((rc = file_sha256(img, sha))) goto out;
            fprintf(out, "%s\t%s\t%s", rel, line, sha);
            if (labels_dir) {
                const char *base = strchr(rel, '/') + 1;
                int is_m = strlist_has(&male, base), is_f = strlist_has(&female, base);
                fprintf(out, "\t%s\t%s\t%s",
                        is_m == is_f ? ""
                        : is_m       ? "male"
                                     : "female",
                        race, race_all);
            }
            fputc('\n', out);
            n++;
        }
    }
    if (ferror(f)) rc = lfr__err(LFR_ERR_IO, "%s: read error", path);
    if (!rc && ferror(out)) rc = lfr__err(LFR_ERR_IO, "manifest: write error");
    if (n_out) *n_out = n;
out:
    if (f) fclose(f);
    strlist_free(&male);
    strlist_free(&female);
    strlist_free(&race_names);
    strlist_free(&race_labels);
    return rc;
}

/* ---- Comparisons --------------------------------------------------------------------- */

void lfr__eval_comparisons_free(lfr__eval_comparisons *c)
{
    if (!c) return;
    free(c->a);
    free(c->b);
    free(c->same);
    free(c->fold);
    memset(c, 0, sizeof *c);
}

static int comparisons_alloc(lfr__eval_comparisons *c, size_t n)
{
    memset(c, 0, sizeof *c);
    size_t k = n ? n : 1;
    c->a = malloc(k * sizeof *c->a);
    c->b = malloc(k * sizeof *c->b);
    c->same = malloc(k);
    c->fold = calloc(k, sizeof *c->fold);
    if (!c->a || !c->b || !c->same || !c->fold) {
        lfr__eval_comparisons_free(c);
        return lfr__err(LFR_ERR_NOMEM, "comparisons: out of memory");
    }
    return LFR_OK;
}

int lfr__eval_comparisons_sample(const lfr__manifest *m, size_t max_genuine_per_identity,
                                 size_t n_impostors, uint64_t seed, lfr__eval_comparisons *out)
{
    memset(out, 0, sizeof *out);
    size_t n = m->n_images;
    int n_id = m->n_identities;
    /* Images grouped by identity: start[id] .. start[id+1] in by_id[]. */
    size_t *start = calloc((size_t)n_id + 1, sizeof *start), *by_id = malloc(n * sizeof *by_id);
    size_t *fill = calloc((size_t)n_id + 1, sizeof *fill);
    int rc = LFR_OK;
    if (!start || !by_id || !fill) {
        rc = lfr__err(LFR_ERR_NOMEM, "comparisons: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        start[m->identity[i] + 1]++;
    for (int k = 0; k < n_id; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++) {
        int id = m->identity[i];
        by_id[start[id] + fill[id]++] = i;
    }
    /* How many genuine comparisons. */
    size_t n_gen = 0, biggest = 0;
    for (int k = 0; k < n_id; k++) {
        size_t c = start[k + 1] - start[k];
        size_t pairs = c * (c - 1) / 2;
        if (pairs > biggest) biggest = pairs;
        n_gen += max_genuine_per_identity && pairs > max_genuine_per_identity
                     ? max_genuine_per_identity
                     : pairs;
    }
    if (n_gen > SIZE_MAX / 2 - n_impostors || n_gen + n_impostors > (size_t)1 << 32) {
        rc = lfr__err(LFR_ERR_TOO_LARGE, "comparisons: %zu genuine + %zu impostor is too many",
                      n_gen, n_impostors);
        goto out;
    }
    if (n_impostors && n_id < 2) {
        rc = lfr__err(LFR_ERR_INVALID, "comparisons: impostor pairs need two identities");
        goto out;
    }
    if ((rc = comparisons_alloc(out, n_gen + n_impostors))) goto out;
    uint64_t st = seed;
    size_t *pick = NULL;
    if (max_genuine_per_identity && biggest > max_genuine_per_identity) {
        pick = malloc(biggest * sizeof *pick);
        if (!pick) {
            rc = lfr__err(LFR_ERR_NOMEM, "comparisons: out of memory");
            goto out;
        }
    }
    size_t k = 0;
    for (int id = 0; id < n_id; id++) {
        size_t s = start[id], c = start[id + 1] - s, pairs = c * (c - 1) / 2;
        if (max_genuine_per_identity && pairs > max_genuine_per_identity) {
            /* A partial Fisher-Yates shuffle of the pair numbers, then the
             * chosen ones in increasing order for a stable file order. */
            for (size_t q = 0; q < pairs; q++)
                pick[q] = q;
            for (size_t q = 0; q < max_genuine_per_identity; q++) {
                size_t r = q + (size_t)lfr__rng_below(&st, pairs - q);
                size_t t = pick[q];
                pick[q] = pick[r];
                pick[r] = t;
            }
            for (size_t q = 0; q < max_genuine_per_identity; q++) {
                /* pair number -> (x, y), x < y, in row order */
                size_t num = pick[q], x = 0;
                while (num >= c - 1 - x) {
                    num -= c - 1 - x;
                    x++;
                }
                out->a[k] = (uint32_t)by_id[s + x];
                out->b[k] = (uint32_t)by_id[s + x + 1 + num];
                out->same[k++] = 1;
            }
        } else {
            for (size_t x = 0; x < c; x++)
                for (size_t y = x + 1; y < c; y++) {
                    out->a[k] = (uint32_t)by_id[s + x];
                    out->b[k] = (uint32_t)by_id[s + y];
                    out->same[k++] = 1;
                }
        }
    }
    free(pick);
    for (size_t q = 0; q < n_impostors; q++) {
        size_t x, y;
        do {
            x = (size_t)lfr__rng_below(&st, n);
            y = (size_t)lfr__rng_below(&st, n);
        } while (m->identity[x] == m->identity[y]);
        out->a[k] = (uint32_t)x;
        out->b[k] = (uint32_t)y;
        out->same[k++] = 0;
    }
    out->n = k;
out:
    free(start);
    free(by_id);
    free(fill);
    if (rc) lfr__eval_comparisons_free(out);
    return rc;
}

int lfr__eval_comparisons_from_pairs(const lfr__manifest *m, const struct lfr__eval_pairs *pairs,
                                     lfr__eval_comparisons *out)
{
    int rc = comparisons_alloc(out, pairs->n_pairs);
    if (rc) return rc;
    for (size_t p = 0; p < pairs->n_pairs; p++) {
        const lfr__eval_pair *pp = &pairs->pair[p];
        long a = lfr__manifest_find(m, pp->path_a), b = lfr__manifest_find(m, pp->path_b);
        if (a < 0 || b < 0) {
            lfr__eval_comparisons_free(out);
            return lfr__err(LFR_ERR_NOT_FOUND, "pair %zu: image %s is not in the manifest", p + 1,
                            a < 0 ? pp->path_a : pp->path_b);
        }
        int same_id = m->identity[a] == m->identity[b];
        if (same_id != (pp->same != 0)) {
            lfr__eval_comparisons_free(out);
            return lfr__err(LFR_ERR_FORMAT,
                            "pair %zu (%s, %s): the pairs file says %s, the manifest's identities "
                            "say otherwise",
                            p + 1, pp->path_a, pp->path_b, pp->same ? "same" : "different");
        }
        out->a[p] = (uint32_t)a;
        out->b[p] = (uint32_t)b;
        out->same[p] = (unsigned char)(pp->same != 0);
        out->fold[p] = pp->fold;
    }
    out->n = pairs->n_pairs;
    out->n_folds = pairs->n_folds;
    return LFR_OK;
}
