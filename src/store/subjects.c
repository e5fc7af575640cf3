/*
 * The watchlist: subjects (a pseudonymous reference, one of the College of
 * Policing's eight categories, a reason and an expiry) and their reference
 * images. Enrolment decodes each image, requires exactly one face, computes
 * its template with the caller's engine, and seals the original bytes and
 * the template together (XChaCha20-Poly1305, crypt.c) into a file of its
 * own under media/. The database keeps hashes and metadata only.
 *
 * Order of writes: the sealed files are created and synced first, then the
 * subject, its images and the audit entry commit in one transaction; if the
 * transaction fails the files are removed. A crash in between leaves sealed
 * files that no row names, which lfr_store_media_sweep() removes. Removal
 * commits first and deletes the files after, for the same reason.
 *
 * A sealed media file holds: the original's length (4 bytes, little
 * endian), the original's bytes, then LFR_TEMPLATE_DIM floats. It is bound
 * to "lfr-media:v1:<file name>:<sha256 of the original>", so a file swapped
 * for another image's does not open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

/* ---- Names ------------------------------------------------------------------ */

static const char *const category_names[LFR_N_CATEGORIES + 1] = {
    NULL,           "wanted_by_courts", "suspect", "bail_conditions", "missing_at_risk",
    "risk_of_harm", "associate",        "witness", "victim",
};

static const char *const provenance_names[LFR_N_PROVENANCES + 1] = {
    NULL, "custody_imaging", "other_police_source", "public_appeal", "other",
};

/* Index of `name` in names[1..n], with '-' read as '_'; 0 when absent. */
static int name_index(const char *const *names, int n, const char *name)
{
    if (!name) return 0;
    char buf[32];
    size_t len = strnlen(name, sizeof buf);
    if (len >= sizeof buf) return 0;
    for (size_t i = 0; i <= len; i++)
        buf[i] = name[i] == '-' ? '_' : name[i];
    for (int i = 1; i <= n; i++)
        if (!strcmp(buf, names[i])) return i;
    return 0;
}

const char *lfr_category_name(lfr_category c)
{
    return c >= 1 && c <= LFR_N_CATEGORIES ? category_names[c] : "?";
}

int lfr_category_parse(const char *name, lfr_category *out)
{
    int i = name_index(category_names, LFR_N_CATEGORIES, name);
    if (!i)
        return lfr__err(LFR_ERR_INVALID,
                        "unknown category \"%.40s\" (wanted_by_courts, suspect, bail_conditions,"
                        " missing_at_risk, risk_of_harm, associate, witness, victim)",
                        name ? name : "");
    *out = (lfr_category)i;
    return LFR_OK;
}

const char *lfr_provenance_name(lfr_provenance p)
{
    return p >= 1 && p <= LFR_N_PROVENANCES ? provenance_names[p] : "?";
}

int lfr_provenance_parse(const char *name, lfr_provenance *out)
{
    int i = name_index(provenance_names, LFR_N_PROVENANCES, name);
    if (!i)
        return lfr__err(LFR_ERR_INVALID,
                        "unknown provenance \"%.40s\" (custody_imaging, other_police_source,"
                        " public_appeal, other)",
                        name ? name : "");
    *out = (lfr_provenance)i;
    return LFR_OK;
}

/* ---- Checks ------------------------------------------------------------------ */

static int check_reference(const char *r)
{
    size_t n = r ? strnlen(r, LFR_SUBJECT_REF_MAX + 1) : 0;
    if (n < 1 || n > LFR_SUBJECT_REF_MAX)
        return lfr__err(LFR_ERR_INVALID, "subject: reference needs 1 to %d characters",
                        LFR_SUBJECT_REF_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr("._/-", c)))
            return lfr__err(LFR_ERR_INVALID,
                            "subject: reference may hold letters, digits and . _ / - only,"
                            " starting with a letter or digit");
    }
    return LFR_OK;
}

static int check_reason(const char *v)
{
    size_t n = v ? strnlen(v, LFR_SUBJECT_REASON_MAX + 1) : 0;
    if (n < 1 || n > LFR_SUBJECT_REASON_MAX)
        return lfr__err(LFR_ERR_INVALID, "subject: reason needs 1 to %d characters",
                        LFR_SUBJECT_REASON_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return lfr__err(LFR_ERR_INVALID, "subject: reason holds a control character");
    return LFR_OK;
}

/* ---- Sealed media ------------------------------------------------------------- */

static void media_ad(const char *name, const char *sha256, char *out, size_t cap)
{
    snprintf(out, cap, "lfr-media:v1:%s:%s", name, sha256);
}

/* Seal the original and its template into a new media file; its random
 * name goes to name_out. */
static int media_seal(const lfr_store *s, const uint8_t *orig, size_t n, const char *sha256,
                      const float *tpl, char name_out[65])
{
    size_t tpl_bytes = LFR_TEMPLATE_DIM * sizeof(float);
    size_t plain_n = 4 + n + tpl_bytes;
    uint8_t *plain = malloc(plain_n);
    if (!plain) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    plain[0] = (uint8_t)n;
    plain[1] = (uint8_t)(n >> 8);
    plain[2] = (uint8_t)(n >> 16);
    plain[3] = (uint8_t)(n >> 24);
    memcpy(plain + 4, orig, n);
    memcpy(plain + 4 + n, tpl, tpl_bytes);
    lfr__media_new_name(name_out);
    char ad[160];
    media_ad(name_out, sha256, ad, sizeof ad);
    uint8_t *sealed = NULL;
    size_t sealed_n = 0;
    int rc = lfr__seal(s->key, plain, plain_n, ad, &sealed, &sealed_n);
    sodium_memzero(plain, plain_n);
    free(plain);
    if (!rc) rc = lfr__media_write(s, name_out, sealed, sealed_n);
    free(sealed);
    return rc;
}

/* Open an image's media file and copy its template to tpl. */
static int media_template(const lfr_store *s, const lfr_subject_image *im, float *tpl)
{
    uint8_t *sealed = NULL, *plain = NULL;
    size_t sealed_n = 0, plain_n = 0;
    int rc = lfr__media_read(
        s, im->media_file,
        lfr__sealed_size(4 + LFR_SUBJECT_IMAGE_MAX + LFR_TEMPLATE_DIM * sizeof(float)), &sealed,
        &sealed_n);
    if (rc) return lfr__err_prefix(rc, "image media file");
    char ad[160];
    media_ad(im->media_file, im->sha256, ad, sizeof ad);
    rc = lfr__unseal(s->key, sealed, sealed_n, ad, &plain, &plain_n);
    free(sealed);
    if (rc) return lfr__err_prefix(rc, "image media file");
    size_t tpl_bytes = LFR_TEMPLATE_DIM * sizeof(float);
    size_t n = plain_n >= 4 ? (size_t)plain[0] | (size_t)plain[1] << 8 | (size_t)plain[2] << 16 |
                                  (size_t)plain[3] << 24
                            : 0;
    if (plain_n < 4 + tpl_bytes || n != plain_n - 4 - tpl_bytes)
        rc = lfr__err(LFR_ERR_FORMAT, "image %lld: media file has a bad layout", (long long)im->id);
    else
        memcpy(tpl, plain + 4 + n, tpl_bytes);
    sodium_memzero(plain, plain_n);
    free(plain);
    return rc;
}

/* ---- Enrolment ------------------------------------------------------------------ */

/* One image being enrolled. */
typedef struct enrol {
    lfr_subject_image rec;
    char capture[LFR__TIME_LEN];
} enrol;

/* Decode, detect, embed and seal image i. On a refusal (not one face, not
 * an image) returns the status with *refusal set. */
static int enrol_image(lfr_store *s, lfr_session *ses, const char *model_sha,
                       const lfr_image_source *src, enrol *e, int *refusal)
{
    uint8_t *orig = NULL;
    size_t n = 0;
    int rc = lfr__read_file(src->path, LFR_SUBJECT_IMAGE_MAX, &orig, &n);
    if (rc) return rc;
    lfr__sha256_hex(orig, n, e->rec.sha256);
    lfr_image img = {0};
    rc = lfr_image_decode(orig, n, src->path, 0, &img);
    if (rc) {
        char why[200];
        snprintf(why, sizeof why, "%s", lfr_errmsg());
        *refusal = 1;
        rc =
            lfr__err(LFR_ERR_FORMAT, "%s: not an image that decodes: 0 faces (%s)", src->path, why);
    }
    lfr_face faces[8];
    int n_faces = 0;
    if (!rc) rc = lfr_session_detect(ses, &img, faces, 8, &n_faces);
    if (!rc && n_faces != 1) {
        *refusal = 1;
        rc = lfr__err(LFR_ERR_NO_FACE, "%s: %d faces found; exactly one is needed", src->path,
                      n_faces);
    }
    float tpl[LFR_TEMPLATE_DIM];
    if (!rc) rc = lfr_session_embed(ses, &img, faces, 1, tpl);
    if (!rc) rc = media_seal(s, orig, n, e->rec.sha256, tpl, e->rec.media_file);
    if (!rc) {
        e->rec.score = faces[0].score;
        e->rec.box_x = faces[0].box.x;
        e->rec.box_y = faces[0].box.y;
        e->rec.box_w = faces[0].box.w;
        e->rec.box_h = faces[0].box.h;
        e->rec.provenance = src->provenance;
        snprintf(e->rec.model_sha256, sizeof e->rec.model_sha256, "%s", model_sha);
    }
    sodium_memzero(tpl, sizeof tpl);
    if (img.data) sodium_memzero(img.data, img.stride * (size_t)img.height);
    lfr_image_free(&img);
    sodium_memzero(orig, n);
    free(orig);
    return rc;
}

/* Append ,"key":"value" to the JSON object in buf. */
static void json_field(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":", n > 1 ? "," : "", key);
    lfr__json_append_str(buf, cap - 1, value);
}

static void json_raw(char *buf, size_t cap, const char *text)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", text);
}

char *lfr__subject_detail(const lfr_subject *sub, const lfr_subject_image *im, int n)
{
    size_t cap = 1024 + 6 * strlen(sub->reason) + (size_t)n * 320;
    char *d = malloc(cap);
    if (!d) return NULL;
    char num[64];
    snprintf(d, cap, "{\"id\":%lld", (long long)sub->id);
    json_field(d, cap, "reference", sub->reference);
    json_field(d, cap, "category", lfr_category_name(sub->category));
    json_field(d, cap, "reason", sub->reason);
    json_field(d, cap, "expires_at", sub->expires_at);
    json_raw(d, cap, ",\"images\":[");
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%s{\"id\":%lld", i ? "," : "", (long long)im[i].id);
        json_raw(d, cap, num);
        json_field(d, cap, "provenance", lfr_provenance_name(im[i].provenance));
        json_field(d, cap, "capture_date", im[i].capture_date);
        json_field(d, cap, "sha256", im[i].sha256);
        json_field(d, cap, "model_sha256", im[i].model_sha256);
        json_raw(d, cap, "}");
    }
    json_raw(d, cap, "]}");
    return d;
}

static void unlink_all(lfr_store *s, const enrol *e, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].rec.media_file[0]) {
            lfr__media_unlink(s, e[i].rec.media_file);
            any = 1;
        }
    }
    if (any) lfr__media_sync(s);
}

/* After lfr__store_commit() failed: whether the transaction committed
 * nonetheless (the commit succeeded and writing audit.head after it failed,
 * on a full disk for example), told by whether a live image row names the
 * enrolment's first media file, whose name is random. 1 yes, 0 no, -1 when
 * that cannot be read. The error message is left as it was. */
static int commit_survived(lfr_store *s, int status, const char *media_file)
{
    char why[512];
    snprintf(why, sizeof why, "%s", lfr_errmsg());
    int used = 0;
    int known = s->be->media_used(s->db, media_file, &used) == LFR_OK;
    lfr__err(status, "%s", why);
    return known ? used : -1;
}

int lfr_store_subject_add(lfr_store *s, const lfr_user *actor, lfr_engine *engine,
                          const lfr_subject_params *p, const lfr_image_source *images, int n_images,
                          int64_t *id_out)
{
    if (id_out) *id_out = 0;
    if (!p || !engine || (n_images > 0 && !images))
        return lfr__err(LFR_ERR_INVALID, "subject: missing parameters");
    if (n_images < 1 || n_images > LFR_SUBJECT_MAX_IMAGES)
        return lfr__err(LFR_ERR_INVALID, "subject: needs 1 to %d images", LFR_SUBJECT_MAX_IMAGES);
    int rc = check_reference(p->reference);
    if (!rc && (p->category < 1 || p->category > LFR_N_CATEGORIES))
        rc = lfr__err(LFR_ERR_INVALID, "subject: unknown category");
    if (!rc) rc = check_reason(p->reason);
    char now[LFR__TIME_LEN], expires[LFR__TIME_LEN];
    if (!rc) rc = lfr__clock_now(now);
    if (!rc) {
        rc = p->expires_at ? lfr__filter_time(p->expires_at, 1, expires)
                           : lfr__err(LFR_ERR_INVALID, "subject: an expiry is required");
        if (rc && p->expires_at) lfr__err_prefix(rc, "subject: expiry");
    }
    if (!rc && strcmp(expires, now) <= 0)
        rc = lfr__err(LFR_ERR_INVALID, "subject: expiry %s is not in the future", expires);
    enrol *e = rc ? NULL : calloc((size_t)n_images, sizeof *e);
    if (!rc && !e) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < n_images; i++) {
        if (!images[i].path)
            rc = lfr__err(LFR_ERR_INVALID, "subject: image %d has no path", i + 1);
        else if (images[i].provenance < 1 || images[i].provenance > LFR_N_PROVENANCES)
            rc = lfr__err(LFR_ERR_INVALID, "%s: unknown provenance", images[i].path);
        else if (images[i].capture_date) {
            rc = lfr__filter_time(images[i].capture_date, 0, e[i].capture);
            if (rc)
                lfr__err_prefix(rc, "subject: capture date");
            else if (strcmp(e[i].capture, now) > 0)
                rc = lfr__err(LFR_ERR_INVALID, "%s: capture date is in the future", images[i].path);
        }
    }
    if (rc) {
        free(e);
        return rc;
    }

    char object[LFR_SUBJECT_REF_MAX + 16];
    snprintf(object, sizeof object, "subject:%s", p->reference);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SUBJECT_ADD, object, &row);
    if (rc) {
        free(e);
        return rc;
    }
    const char *model_sha = lfr_engine_model_sha256(engine, "embedder");
    lfr_session *ses = NULL;
    if (!model_sha || strlen(model_sha) != 64)
        rc = lfr__err(LFR_ERR_INVALID, "subject: the engine reports no embedder hash");
    if (!rc) rc = lfr_session_open(engine, 1, &ses);
    int refusal = 0;
    for (int i = 0; !rc && i < n_images; i++)
        rc = enrol_image(s, ses, model_sha, &images[i], &e[i], &refusal);
    lfr_session_close(ses);
    if (!rc) rc = lfr__media_sync(s);
    if (rc) {
        unlink_all(s, e, n_images);
        free(e);
        if (refusal) return lfr__audit_refusal(s, rc, row.user.name, "subject.add.refused", object);
        return rc;
    }

    lfr_subject sub;
    memset(&sub, 0, sizeof sub);
    snprintf(sub.reference, sizeof sub.reference, "%s", p->reference);
    sub.category = p->category;
    snprintf(sub.reason, sizeof sub.reason, "%s", p->reason);
    snprintf(sub.added_by, sizeof sub.added_by, "%s", row.user.name);
    snprintf(sub.added_at, sizeof sub.added_at, "%s", now);
    snprintf(sub.expires_at, sizeof sub.expires_at, "%s", expires);
    rc = lfr__store_begin(s);
    if (!rc) rc = s->be->subject_insert(s->db, &sub, &sub.id);
    for (int i = 0; !rc && i < n_images; i++) {
        e[i].rec.subject_id = sub.id;
        snprintf(e[i].rec.capture_date, sizeof e[i].rec.capture_date, "%s",
                 images[i].capture_date ? e[i].capture : "");
        snprintf(e[i].rec.added_by, sizeof e[i].rec.added_by, "%s", row.user.name);
        snprintf(e[i].rec.added_at, sizeof e[i].rec.added_at, "%s", now);
        rc = s->be->image_insert(s->db, &e[i].rec, &e[i].rec.id);
    }
    if (!rc) {
        lfr_subject_image *ims = malloc((size_t)n_images * sizeof *ims);
        for (int i = 0; ims && i < n_images; i++)
            ims[i] = e[i].rec;
        char *detail = ims ? lfr__subject_detail(&sub, ims, n_images) : NULL;
        free(ims);
        rc = detail ? lfr__audit_append(s, row.user.name, "subject.add", object, detail)
                    : lfr__err(LFR_ERR_NOMEM, "out of memory");
        free(detail);
    }
    int committed = 0;
    if (!rc) {
        rc = lfr__store_commit(s);
        if (rc) committed = commit_survived(s, rc, e[0].rec.media_file);
    } else {
        lfr__store_rollback(s);
    }
    if (rc && committed) {
        /* Committed, and only the anchor update after it failed (1); or
         * not known (-1). Either way the files stay: they are the
         * subject's, or lfr_store_media_sweep() removes them later. */
        if (committed > 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", lfr_errmsg());
            lfr__err(rc, "subject %s was enrolled (id %lld); %s", p->reference, (long long)sub.id,
                     why);
            if (id_out) *id_out = sub.id;
        }
        free(e);
        return rc;
    }
    if (rc) {
        unlink_all(s, e, n_images);
        free(e);
        if (rc == LFR_ERR_CONFLICT) {
            lfr__err(rc, "subject: reference %s is already on the watchlist", p->reference);
            return lfr__audit_refusal(s, rc, row.user.name, "subject.add.refused", object);
        }
        return rc;
    }
    free(e);
    if (id_out) *id_out = sub.id;
    return LFR_OK;
}

/* ---- Reading ------------------------------------------------------------------------ */

int lfr_store_subject_list(lfr_store *s, const lfr_user *actor, int include_removed,
                           int (*fn)(const lfr_subject *subject, void *ctx), void *ctx)
{
    char now[LFR__TIME_LEN];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SUBJECT_LIST, "watchlist", &row);
    if (rc) return rc;
    return s->be->subject_each(s->db, include_removed, now, fn, ctx);
}

int lfr_store_subject_show(lfr_store *s, const lfr_user *actor, int64_t id, lfr_subject *out,
                           int (*image_fn)(const lfr_subject_image *image, void *ctx), void *ctx)
{
    memset(out, 0, sizeof *out);
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "subject:%lld", (long long)id);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SUBJECT_SHOW, object, &row);
    if (rc) return rc;
    rc = s->be->subject_get(s->db, id, now, out);
    if (rc) return rc;
    /* The read is recorded before anything is handed out. */
    rc = lfr__store_begin(s);
    if (!rc) rc = lfr__audit_append(s, row.user.name, "subject.show", object, NULL);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    if (rc) return rc;
    return image_fn ? s->be->image_each(s->db, id, 0, image_fn, ctx) : LFR_OK;
}

int lfr_store_watchlist_stats(lfr_store *s, const lfr_user *actor, lfr_watchlist_stats *out)
{
    memset(out, 0, sizeof *out);
    char now[LFR__TIME_LEN];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_WATCHLIST_STATS, "watchlist", &row);
    if (rc) return rc;
    return s->be->watchlist_stats(s->db, now, out);
}

/* ---- Removal ------------------------------------------------------------------------- */

typedef struct image_list {
    lfr_subject_image *v;
    int n, cap;
} image_list;

static int collect_image(const lfr_subject_image *im, void *ctx)
{
    image_list *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        lfr_subject_image *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *im;
    return 0;
}

int lfr__subject_images(lfr_store *s, int64_t id, lfr_subject_image **out, int *n_out)
{
    image_list l = {0};
    int rc = s->be->image_each(s->db, id, 0, collect_image, &l);
    if (rc) {
        free(l.v);
        l.v = NULL;
        l.n = 0;
    }
    *out = l.v;
    *n_out = l.n;
    return rc;
}

int lfr_store_subject_remove(lfr_store *s, const lfr_user *actor, int64_t id)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "subject:%lld", (long long)id);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SUBJECT_REMOVE, object, &row);
    if (rc) return rc;
    image_list l = {0};
    rc = lfr__store_begin(s);
    lfr_subject sub;
    if (!rc) rc = s->be->subject_get(s->db, id, now, &sub);
    if (!rc) rc = s->be->image_each(s->db, id, 1, collect_image, &l);
    /* Names read back are checked before anything is marked: a row
     * pointing elsewhere (changed outside lfr) stops the removal. */
    for (int i = 0; !rc && i < l.n; i++)
        if (!lfr__media_name_ok(l.v[i].media_file))
            rc = lfr__err(LFR_ERR_TAMPERED,
                          "subject %lld: image %lld names media file \"%.40s\", not one openlfr"
                          " makes: the database was changed outside lfr (run lfr audit verify)",
                          (long long)id, (long long)l.v[i].id, l.v[i].media_file);
    if (!rc) rc = s->be->subject_remove(s->db, id, now, row.user.name);
    char *d = NULL;
    if (!rc) {
        /* The deletion receipt: what, how many, which. */
        size_t cap = 256 + (size_t)l.n * 80;
        d = malloc(cap);
        if (!d) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        if (d) {
            snprintf(d, cap, "{\"receipt\":\"subject removed, images deleted\"");
            json_field(d, cap, "reference", sub.reference);
            size_t n = strlen(d);
            snprintf(d + n, cap - n, ",\"n_images\":%d,\"sha256\":[", l.n);
            for (int i = 0; i < l.n; i++) {
                n = strlen(d);
                snprintf(d + n, cap - n, "%s\"%s\"", i ? "," : "", l.v[i].sha256);
            }
            json_raw(d, cap, "]}");
            rc = lfr__audit_append(s, row.user.name, "subject.remove", object, d);
        }
    }
    free(d);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    if (rc == LFR_ERR_CONFLICT || rc == LFR_ERR_NOT_FOUND || rc == LFR_ERR_TAMPERED) {
        free(l.v);
        return lfr__audit_refusal(s, rc, row.user.name, "subject.remove.refused", object);
    }
    if (!rc) {
        for (int i = 0; i < l.n; i++)
            lfr__media_unlink(s, l.v[i].media_file);
        if (l.n) lfr__media_sync(s);
    }
    free(l.v);
    return rc;
}

/* ---- Templates for deployments --------------------------------------------------------- */

int lfr_store_subject_templates(lfr_store *s, const lfr_user *actor, int64_t id, float *tpl_out,
                                int64_t *ids_out, int cap, int *n_out)
{
    *n_out = 0;
    if (cap < 0 || (cap > 0 && !tpl_out)) return lfr__err(LFR_ERR_INVALID, "templates: bad buffer");
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "subject:%lld", (long long)id);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SUBJECT_TEMPLATES, object, &row);
    if (rc) return rc;
    lfr_subject sub;
    rc = s->be->subject_get(s->db, id, now, &sub);
    if (rc) return rc;
    if (sub.removed_at[0] || sub.expired) {
        lfr__err(LFR_ERR_CONFLICT, "subject %lld is %s", (long long)id,
                 sub.removed_at[0] ? "removed" : "expired");
        return lfr__audit_refusal(s, LFR_ERR_CONFLICT, row.user.name, "subject.templates.refused",
                                  object);
    }
    image_list l = {0};
    rc = s->be->image_each(s->db, id, 1, collect_image, &l);
    char *d = NULL;
    if (!rc) {
        size_t dcap = 64 + (size_t)l.n * 24;
        d = malloc(dcap);
        if (!d) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        if (d) {
            snprintf(d, dcap, "{\"images\":[");
            for (int i = 0; i < l.n; i++) {
                size_t n = strlen(d);
                snprintf(d + n, dcap - n, "%s%lld", i ? "," : "", (long long)l.v[i].id);
            }
            json_raw(d, dcap, "]}");
        }
    }
    /* Audited before any template is decrypted. */
    if (!rc) rc = lfr__store_begin(s);
    if (!rc) {
        rc = lfr__audit_append(s, row.user.name, "subject.templates", object, d);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
    }
    free(d);
    for (int i = 0; !rc && i < l.n && i < cap; i++) {
        rc = media_template(s, &l.v[i], tpl_out + (size_t)i * LFR_TEMPLATE_DIM);
        if (!rc && ids_out) ids_out[i] = l.v[i].id;
    }
    if (rc && cap > 0) sodium_memzero(tpl_out, (size_t)cap * LFR_TEMPLATE_DIM * sizeof(float));
    if (!rc) *n_out = l.n;
    free(l.v);
    return rc;
}

int lfr__media_template(const lfr_store *s, const lfr_subject_image *im, float *tpl)
{
    return media_template(s, im, tpl);
}
