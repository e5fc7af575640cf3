/*
 * Deployments, their frozen watchlists, counters and alerts.
 *
 * Life of a deployment: created (by an operator or administrator, with its
 * purpose, justification, legal basis, place, installation, planned window,
 * threshold, impact-assessment references, watchlist categories and
 * cameras) -> authorised (by an authorising officer who did not create it)
 * -> running (start froze the watchlist) -> stopped. Every step is one
 * transaction with its audit entry; every refusal is audited.
 *
 * The snapshot. Start decrypts the templates of every image of every live,
 * unexpired subject in the deployment's categories and seals them together
 * into one new media file, bound to "lfr-snapshot:v1:<file>:<deployment
 * id>:<snapshot hash>". Its plain form is "LFRSNAP1", the count (4 bytes,
 * little endian) and per image its id and subject id (8 bytes each, little
 * endian) and LFR_TEMPLATE_DIM floats. The database keeps which images were
 * frozen and their hashes (snapshot_images), and the snapshot hash: a
 * BLAKE2b-256 over "<image id>:<sha256>\n" of each in order. Retention
 * deletes the file a set time after the stop; the rows and counts stay.
 *
 * Alerts. The crop is sealed into its own media file, bound to
 * "lfr-crop:v1:<file>:<sha256 of the crop>", before the alert row and its
 * audit entry commit together.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

#define CROP_MAX ((size_t)4 << 20)
#define SNAP_MAGIC "LFRSNAP1"
#define SNAP_ENTRY (16 + LFR_TEMPLATE_DIM * sizeof(float))
#define SNAP_MAX_IMAGES 2000000

/* ---- Names --------------------------------------------------------------------------- */

static const char *const installation_names[] = {NULL, "temporary", "permanent", "mobile_unit"};
static const char *const state_names[] = {NULL, "created", "authorised", "running", "stopped"};
static const char *const outcome_names[] = {
    NULL, "not_adjudicated", "true", "false", "confirmed_true", "confirmed_false",
};
static const char *const engagement_names[] = {
    "none", "not_stopped", "spoken_to", "arrested", "other_disposal",
};

/* Index of name in names[lo..hi] ('-' read as '_'), or -1. */
static int find_name(const char *const *names, int lo, int hi, const char *name)
{
    char buf[32];
    size_t len = name ? strnlen(name, sizeof buf) : sizeof buf;
    if (len >= sizeof buf) return -1;
    for (size_t i = 0; i <= len; i++)
        buf[i] = name[i] == '-' ? '_' : name[i];
    for (int i = lo; i <= hi; i++)
        if (!strcmp(buf, names[i])) return i;
    return -1;
}

const char *lfr_installation_name(lfr_installation i)
{
    return i >= 1 && i <= LFR_N_INSTALLATIONS ? installation_names[i] : "?";
}

int lfr_installation_parse(const char *name, lfr_installation *out)
{
    int i = find_name(installation_names, 1, LFR_N_INSTALLATIONS, name);
    if (i < 0)
        return lfr__err(LFR_ERR_INVALID,
                        "unknown installation \"%.40s\" (temporary, permanent, mobile_unit)",
                        name ? name : "");
    *out = (lfr_installation)i;
    return LFR_OK;
}

const char *lfr_deployment_state_name(lfr_deployment_state st)
{
    return st >= 1 && st <= 4 ? state_names[st] : "?";
}

const char *lfr_outcome_name(lfr_outcome o)
{
    return o >= 1 && o <= LFR_N_OUTCOMES ? outcome_names[o] : "?";
}

int lfr_outcome_parse(const char *name, lfr_outcome *out)
{
    int i = find_name(outcome_names, 1, LFR_N_OUTCOMES, name);
    if (i < 0)
        return lfr__err(LFR_ERR_INVALID,
                        "unknown outcome \"%.40s\" (true, false, confirmed_true, confirmed_false,"
                        " not_adjudicated)",
                        name ? name : "");
    *out = (lfr_outcome)i;
    return LFR_OK;
}

const char *lfr_engagement_name(lfr_engagement e)
{
    return e >= 0 && e <= LFR_N_ENGAGEMENTS ? engagement_names[e] : "?";
}

int lfr_engagement_parse(const char *name, lfr_engagement *out)
{
    int i = find_name(engagement_names, 0, LFR_N_ENGAGEMENTS, name);
    if (i < 0)
        return lfr__err(LFR_ERR_INVALID,
                        "unknown engagement \"%.40s\" (not_stopped, spoken_to, arrested,"
                        " other_disposal)",
                        name ? name : "");
    *out = (lfr_engagement)i;
    return LFR_OK;
}

/* ---- Checks and details --------------------------------------------------------------- */

static int check_text(const char *what, const char *v, int may_be_empty)
{
    size_t n = v ? strnlen(v, LFR_DEPLOYMENT_TEXT_MAX + 1) : 0;
    if ((n < 1 && !may_be_empty) || n > LFR_DEPLOYMENT_TEXT_MAX)
        return lfr__err(LFR_ERR_INVALID, "deployment: %s needs 1 to %d characters", what,
                        LFR_DEPLOYMENT_TEXT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return lfr__err(LFR_ERR_INVALID, "deployment: %s holds a control character", what);
    return LFR_OK;
}

static int check_camera_name(const char *n)
{
    size_t len = strnlen(n, LFR_CAMERA_NAME_MAX + 1);
    int ok = len >= 1 && len <= LFR_CAMERA_NAME_MAX &&
             ((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
              (n[0] >= '0' && n[0] <= '9'));
    for (size_t i = 0; ok && i < len; i++) {
        char c = n[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return lfr__err(LFR_ERR_INVALID,
                        "deployment: camera name \"%.40s\" must be 1 to %d of [A-Za-z0-9._-]", n,
                        LFR_CAMERA_NAME_MAX);
    return LFR_OK;
}

/* Append ,"key":"value" to the JSON object in buf. */
static void json_str(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":", n > 1 ? "," : "", key);
    lfr__json_append_str(buf, cap - 1, value);
}

/* Append raw text to buf. */
static void json_raw(char *buf, size_t cap, const char *text)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", text);
}

static void json_num(char *buf, size_t cap, const char *key, double v)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":%.17g", n > 1 ? "," : "", key, v);
}

static void json_int(char *buf, size_t cap, const char *key, int64_t v)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":%lld", n > 1 ? "," : "", key, (long long)v);
}

char *lfr__deployment_detail(const lfr_deployment *d)
{
    size_t cap =
        2048 + 6 * (strlen(d->purpose) + strlen(d->justification) + strlen(d->legal_basis) +
                    strlen(d->location) + strlen(d->dpia_ref) + strlen(d->eia_ref));
    for (int i = 0; i < d->n_cameras; i++)
        cap += 64 + 6 * (strlen(d->cameras[i].name) + strlen(d->cameras[i].url));
    char *b = malloc(cap);
    if (!b) return NULL;
    snprintf(b, cap, "{");
    json_str(b, cap, "purpose", d->purpose);
    json_str(b, cap, "justification", d->justification);
    json_str(b, cap, "legal_basis", d->legal_basis);
    json_str(b, cap, "location", d->location);
    json_num(b, cap, "latitude", d->latitude);
    json_num(b, cap, "longitude", d->longitude);
    json_str(b, cap, "installation", lfr_installation_name(d->installation));
    json_str(b, cap, "planned_start", d->planned_start);
    json_str(b, cap, "planned_end", d->planned_end);
    json_num(b, cap, "threshold", d->threshold);
    json_str(b, cap, "dpia_ref", d->dpia_ref);
    json_str(b, cap, "eia_ref", d->eia_ref);
    json_raw(b, cap, ",\"categories\":[");
    int first = 1;
    for (int c = 1; c <= LFR_N_CATEGORIES; c++)
        if (d->categories & (1u << c)) {
            json_raw(b, cap, first ? "" : ",");
            lfr__json_append_str(b, cap - 1, lfr_category_name((lfr_category)c));
            first = 0;
        }
    json_raw(b, cap, "],\"cameras\":[");
    for (int i = 0; i < d->n_cameras; i++) {
        json_raw(b, cap, i ? ",{" : "{");
        json_str(b, cap, "name", d->cameras[i].name);
        json_str(b, cap, "url", d->cameras[i].url);
        json_raw(b, cap, "}");
    }
    json_raw(b, cap, "]}");
    return b;
}

void lfr__deployment_start_detail(const lfr_deployment *d, char *b, size_t cap)
{
    snprintf(b, cap, "{");
    json_int(b, cap, "subjects", d->snapshot_subjects);
    json_int(b, cap, "images", d->snapshot_images);
    json_int(b, cap, "expired_left_out", d->snapshot_expired_left_out);
    json_raw(b, cap, ",\"images_by_category\":{");
    for (int c = 1, k = 0; c <= LFR_N_CATEGORIES; c++)
        if (d->categories & (1u << c)) {
            char tmp[80];
            snprintf(tmp, sizeof tmp, "%s\"%s\":%lld", k++ ? "," : "",
                     lfr_category_name((lfr_category)c), (long long)d->snapshot_by_category[c]);
            json_raw(b, cap, tmp);
        }
    json_raw(b, cap, "},\"subjects_by_category\":{");
    for (int c = 1, k = 0; c <= LFR_N_CATEGORIES; c++)
        if (d->categories & (1u << c)) {
            char tmp[80];
            snprintf(tmp, sizeof tmp, "%s\"%s\":%lld", k++ ? "," : "",
                     lfr_category_name((lfr_category)c),
                     (long long)d->snapshot_subjects_by_category[c]);
            json_raw(b, cap, tmp);
        }
    json_raw(b, cap, "},\"images_by_provenance\":{");
    for (int p = 1; p <= LFR_N_PROVENANCES; p++) {
        char tmp[80];
        snprintf(tmp, sizeof tmp, "%s\"%s\":%lld", p > 1 ? "," : "",
                 lfr_provenance_name((lfr_provenance)p), (long long)d->snapshot_by_provenance[p]);
        json_raw(b, cap, tmp);
    }
    json_raw(b, cap, "}");
    json_str(b, cap, "model_sha256", d->snapshot_model);
    json_str(b, cap, "snapshot_hash", d->snapshot_hash);
    json_raw(b, cap, "}");
}

typedef struct stop_ctx {
    char *buf;
    size_t cap;
    int n;
} stop_ctx;

static int stop_camera(const char *camera, const lfr_counters *c, void *ctx)
{
    stop_ctx *x = ctx;
    json_raw(x->buf, x->cap, x->n++ ? ",{" : "{");
    json_str(x->buf, x->cap, "name", camera);
    json_int(x->buf, x->cap, "frames", c->frames);
    json_int(x->buf, x->cap, "frames_dropped", c->frames_dropped);
    json_int(x->buf, x->cap, "detections", c->detections);
    json_int(x->buf, x->cap, "faces_seen", c->faces_seen);
    json_int(x->buf, x->cap, "quality_rejects", c->quality_rejects);
    json_int(x->buf, x->cap, "alerts", c->alerts);
    json_raw(x->buf, x->cap, "}");
    return 0;
}

char *lfr__deployment_stop_detail(lfr_store *s, int64_t id)
{
    stop_ctx x = {NULL, 64 + LFR_DEPLOYMENT_MAX_CAMERAS * 400, 0};
    x.buf = malloc(x.cap);
    if (!x.buf) return NULL;
    snprintf(x.buf, x.cap, "{\"cameras\":[");
    if (s->be->counters_each(s->db, id, stop_camera, &x)) {
        free(x.buf);
        return NULL;
    }
    json_raw(x.buf, x.cap, "]}");
    return x.buf;
}

void lfr__alert_detail(const lfr_alert *a, char *b, size_t cap)
{
    snprintf(b, cap, "{");
    json_int(b, cap, "deployment", a->deployment_id);
    json_str(b, cap, "camera", a->camera);
    json_str(b, cap, "time", a->time);
    json_int(b, cap, "track", a->track);
    json_int(b, cap, "subject", a->subject_id);
    json_int(b, cap, "image", a->image_id);
    json_num(b, cap, "score", a->score);
    json_str(b, cap, "crop_sha256", a->crop_sha256);
    json_raw(b, cap, "}");
}

void lfr__adjudication_detail(const lfr_alert *a, char *b, size_t cap)
{
    snprintf(b, cap, "{");
    json_str(b, cap, "outcome", lfr_outcome_name(a->outcome));
    json_str(b, cap, "engagement", lfr_engagement_name(a->engagement));
    json_str(b, cap, "note", a->note);
    json_raw(b, cap, "}");
}

/* ---- Rows as the backends store them ---------------------------------------------- */

/* Per-category counts are stored as "n1,...,n8;s1,...,s8;p1,...,p4"
 * (images, then subjects per category, then images per provenance). */
void lfr__snapshot_counts_format(const lfr_deployment *d, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int c = 1; c <= LFR_N_CATEGORIES; c++)
        n += (size_t)snprintf(out + n, cap - n, "%s%lld", c > 1 ? "," : "",
                              (long long)d->snapshot_by_category[c]);
    n += (size_t)snprintf(out + n, cap - n, ";");
    for (int c = 1; c <= LFR_N_CATEGORIES && n < cap; c++)
        n += (size_t)snprintf(out + n, cap - n, "%s%lld", c > 1 ? "," : "",
                              (long long)d->snapshot_subjects_by_category[c]);
    n += (size_t)snprintf(out + n, cap - n, ";");
    for (int p = 1; p <= LFR_N_PROVENANCES && n < cap; p++)
        n += (size_t)snprintf(out + n, cap - n, "%s%lld", p > 1 ? "," : "",
                              (long long)d->snapshot_by_provenance[p]);
}

void lfr__snapshot_counts_parse(const char *s, lfr_deployment *d)
{
    long long v[2 * LFR_N_CATEGORIES + LFR_N_PROVENANCES] = {0};
    if (s && *s)
        sscanf(s,
               "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld;%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld;"
               "%lld,%lld,%lld,%lld",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11],
               &v[12], &v[13], &v[14], &v[15], &v[16], &v[17], &v[18], &v[19]);
    for (int p = 1; p <= LFR_N_PROVENANCES; p++)
        d->snapshot_by_provenance[p] = v[2 * LFR_N_CATEGORIES + p - 1];
    for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
        d->snapshot_by_category[c] = v[c - 1];
        d->snapshot_subjects_by_category[c] = v[LFR_N_CATEGORIES + c - 1];
    }
}

lfr_deployment_state lfr__deployment_state_of(const lfr_deployment *d)
{
    return d->stopped_at[0]      ? LFR_DEPLOYMENT_STOPPED
           : d->started_at[0]    ? LFR_DEPLOYMENT_RUNNING
           : d->authorised_at[0] ? LFR_DEPLOYMENT_AUTHORISED
                                 : LFR_DEPLOYMENT_CREATED;
}

/* ---- Create, authorise ---------------------------------------------------------------- */

static int canonical_time(const char *what, const char *in, char out[LFR__TIME_LEN])
{
    if (!in || !*in) return lfr__err(LFR_ERR_INVALID, "deployment: %s is missing", what);
    int64_t ms;
    if (lfr__time_parse(in, &ms))
        return lfr__err(LFR_ERR_INVALID, "deployment: %s \"%.40s\" is not an ISO-8601 time", what,
                        in);
    lfr__time_format(ms, out);
    return LFR_OK;
}

static int check_params(const lfr_deployment_params *p, const char *now, lfr_deployment *d)
{
    int rc = check_text("purpose", p->purpose, 0);
    if (!rc) rc = check_text("justification", p->justification, 0);
    if (!rc) rc = check_text("legal basis", p->legal_basis, 0);
    if (!rc) rc = check_text("location", p->location, 0);
    if (!rc) rc = check_text("DPIA reference", p->dpia_ref, 1);
    if (!rc) rc = check_text("equality impact assessment reference", p->eia_ref, 1);
    if (rc) return rc;
    if (!(p->latitude >= -90 && p->latitude <= 90) ||
        !(p->longitude >= -180 && p->longitude <= 180))
        return lfr__err(LFR_ERR_INVALID,
                        "deployment: coordinates %g, %g are not a latitude in [-90, 90] and a"
                        " longitude in [-180, 180]",
                        p->latitude, p->longitude);
    if (p->installation < 1 || p->installation > LFR_N_INSTALLATIONS)
        return lfr__err(LFR_ERR_INVALID, "deployment: installation type is missing");
    if (!(p->threshold > 0 && p->threshold <= 1))
        return lfr__err(LFR_ERR_INVALID, "deployment: threshold %g is not in (0, 1]", p->threshold);
    if ((p->categories & ~0x1feu) != 0)
        return lfr__err(LFR_ERR_INVALID, "deployment: unknown watchlist category bit");
    if (p->n_cameras < 1 || p->n_cameras > LFR_DEPLOYMENT_MAX_CAMERAS || !p->cameras)
        return lfr__err(LFR_ERR_INVALID, "deployment: needs 1 to %d cameras",
                        LFR_DEPLOYMENT_MAX_CAMERAS);
    rc = canonical_time("planned start", p->planned_start, d->planned_start);
    if (!rc) rc = canonical_time("planned end", p->planned_end, d->planned_end);
    if (rc) return rc;
    if (strcmp(d->planned_end, d->planned_start) <= 0)
        return lfr__err(LFR_ERR_INVALID, "deployment: planned end %s is not after the start %s",
                        d->planned_end, d->planned_start);
    if (strcmp(d->planned_end, now) <= 0)
        return lfr__err(LFR_ERR_INVALID, "deployment: planned end %s has already passed",
                        d->planned_end);
    for (int i = 0; i < p->n_cameras; i++) {
        rc = check_camera_name(p->cameras[i].name);
        size_t ulen = strnlen(p->cameras[i].url, LFR_CAMERA_URL_MAX + 1);
        if (!rc && (ulen < 1 || ulen > LFR_CAMERA_URL_MAX))
            rc = lfr__err(LFR_ERR_INVALID, "deployment: camera %s needs a URL of 1 to %d bytes",
                          p->cameras[i].name, LFR_CAMERA_URL_MAX);
        for (size_t k = 0; !rc && k < ulen; k++)
            if ((unsigned char)p->cameras[i].url[k] < 0x20)
                rc = lfr__err(LFR_ERR_INVALID,
                              "deployment: camera %s URL holds a control"
                              " character",
                              p->cameras[i].name);
        for (int j = 0; !rc && j < i; j++)
            if (!strcmp(p->cameras[i].name, p->cameras[j].name))
                rc = lfr__err(LFR_ERR_INVALID, "deployment: camera name %s used twice",
                              p->cameras[i].name);
        if (rc) return rc;
        d->cameras[i] = p->cameras[i];
    }
    snprintf(d->purpose, sizeof d->purpose, "%s", p->purpose);
    snprintf(d->justification, sizeof d->justification, "%s", p->justification);
    snprintf(d->legal_basis, sizeof d->legal_basis, "%s", p->legal_basis);
    snprintf(d->location, sizeof d->location, "%s", p->location);
    snprintf(d->dpia_ref, sizeof d->dpia_ref, "%s", p->dpia_ref ? p->dpia_ref : "");
    snprintf(d->eia_ref, sizeof d->eia_ref, "%s", p->eia_ref ? p->eia_ref : "");
    d->latitude = p->latitude;
    d->longitude = p->longitude;
    d->installation = p->installation;
    d->threshold = p->threshold;
    d->categories = p->categories ? p->categories : 0x1feu;
    d->n_cameras = p->n_cameras;
    d->state = LFR_DEPLOYMENT_CREATED;
    return LFR_OK;
}

int lfr_store_deployment_create(lfr_store *s, const lfr_user *actor, const lfr_deployment_params *p,
                                int64_t *id_out)
{
    if (id_out) *id_out = 0;
    if (!p) return lfr__err(LFR_ERR_INVALID, "deployment: no parameters");
    char now[LFR__TIME_LEN];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_DEPLOYMENT_CREATE, "deployment", &row);
    if (rc) return rc;
    lfr__deployment_row *r = calloc(1, sizeof *r);
    if (!r) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = check_params(p, now, &r->d);
    if (rc) {
        free(r);
        return lfr__audit_refusal(s, rc, row.user.name, "deployment.create.refused", "deployment");
    }
    snprintf(r->d.created_by, sizeof r->d.created_by, "%s", row.user.name);
    snprintf(r->d.created_at, sizeof r->d.created_at, "%s", now);
    int64_t id = 0;
    rc = lfr__store_begin(s);
    if (!rc) rc = s->be->deployment_insert(s->db, r, &id);
    char *detail = NULL;
    if (!rc) {
        detail = lfr__deployment_detail(&r->d);
        char object[48];
        snprintf(object, sizeof object, "deployment:%lld", (long long)id);
        rc = detail
                 ? lfr__audit_append_at(s, now, row.user.name, "deployment.create", object, detail)
                 : lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    free(detail);
    free(r);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    if (!rc && id_out) *id_out = id;
    return rc;
}

/* Load deployment `id` for a change by `actor` doing `action`; refusals
 * audited on "deployment:<id>". */
static int load_for(lfr_store *s, const lfr_user *actor, lfr_action action, int64_t id,
                    lfr__user_row *row, lfr__deployment_row **r_out, char *object, size_t cap)
{
    *r_out = NULL;
    snprintf(object, cap, "deployment:%lld", (long long)id);
    int rc = lfr__store_authorise(s, actor, action, object, row);
    if (rc) return rc;
    lfr__deployment_row *r = malloc(sizeof *r);
    if (!r) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = s->be->deployment_get(s->db, id, r);
    if (rc) {
        free(r);
        if (rc != LFR_ERR_NOT_FOUND) return rc;
        char refused[64];
        snprintf(refused, sizeof refused, "%s.refused", lfr_action_name(action));
        return lfr__audit_refusal(s, rc, row->user.name, refused, object);
    }
    *r_out = r;
    return LFR_OK;
}

/* Refuse (audited) with a message. */
static int refuse(lfr_store *s, int status, const char *actor, const char *action,
                  const char *object, lfr__deployment_row *r)
{
    free(r);
    char refused[64];
    snprintf(refused, sizeof refused, "%s.refused", action);
    return lfr__audit_refusal(s, status, actor, refused, object);
}

/* Counts of the live watchlist in the deployment's categories, for the
 * authorisation record. */
typedef struct wl_count {
    unsigned categories;
    int64_t subjects[LFR_N_CATEGORIES + 1], images[LFR_N_CATEGORIES + 1], expired;
} wl_count;

static int count_subject(const lfr_subject *sub, void *ctx)
{
    wl_count *w = ctx;
    if (!(w->categories & (1u << sub->category))) return 0;
    if (sub->expired) {
        w->expired++;
        return 0;
    }
    w->subjects[sub->category]++;
    w->images[sub->category] += sub->n_images;
    return 0;
}

int lfr_store_deployment_authorise(lfr_store *s, const lfr_user *actor, int64_t id)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    lfr__deployment_row *r;
    rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_AUTHORISE, id, &row, &r, object, sizeof object);
    if (rc) return rc;
    const char *act = "deployment.authorise";
    if (!strcmp(r->d.created_by, row.user.name)) {
        lfr__err(LFR_ERR_DENIED, "deployment %lld was created by %s, who cannot also authorise it",
                 (long long)id, row.user.name);
        return refuse(s, LFR_ERR_DENIED, row.user.name, act, object, r);
    }
    if (r->d.state != LFR_DEPLOYMENT_CREATED) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s, not awaiting authorisation",
                 (long long)id, lfr_deployment_state_name(r->d.state));
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, act, object, r);
    }
    if (strcmp(r->d.planned_end, now) <= 0) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld: its planned end %s has passed", (long long)id,
                 r->d.planned_end);
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, act, object, r);
    }
    wl_count w;
    memset(&w, 0, sizeof w);
    w.categories = r->d.categories;
    rc = s->be->subject_each(s->db, 0, now, count_subject, &w);
    char detail[1200];
    snprintf(detail, sizeof detail, "{\"watchlist\":{");
    for (int c = 1, k = 0; c <= LFR_N_CATEGORIES; c++)
        if (w.categories & (1u << c)) {
            char tmp[120];
            snprintf(tmp, sizeof tmp, "%s\"%s\":{\"subjects\":%lld,\"images\":%lld}",
                     k++ ? "," : "", lfr_category_name((lfr_category)c), (long long)w.subjects[c],
                     (long long)w.images[c]);
            json_raw(detail, sizeof detail, tmp);
        }
    json_raw(detail, sizeof detail, "}");
    json_int(detail, sizeof detail, "expired", w.expired);
    json_raw(detail, sizeof detail, "}");
    snprintf(r->d.authorised_by, sizeof r->d.authorised_by, "%s", row.user.name);
    snprintf(r->d.authorised_at, sizeof r->d.authorised_at, "%s", now);
    if (!rc) rc = lfr__store_begin(s);
    if (!rc) {
        rc = s->be->deployment_update(s->db, r);
        if (!rc) rc = lfr__audit_append_at(s, now, row.user.name, act, object, detail);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
    }
    free(r);
    return rc;
}

/* ---- Start: freeze the watchlist -------------------------------------------------------- */

typedef struct snap {
    unsigned categories;
    lfr__snapshot_entry *e;
    lfr_subject_image *im; /* parallel to e, for decrypting */
    int64_t n, cap;
    int64_t subjects_by_cat[LFR_N_CATEGORIES + 1], images_by_cat[LFR_N_CATEGORIES + 1];
    int64_t by_provenance[LFR_N_PROVENANCES + 1];
    int64_t subjects, expired;
    lfr_store *s;
    lfr_category cur;
    int cur_images;
} snap;

static int snap_image(const lfr_subject_image *im, void *ctx)
{
    snap *x = ctx;
    if (x->n == x->cap) {
        int64_t cap = x->cap ? 2 * x->cap : 256;
        if (cap > SNAP_MAX_IMAGES) return lfr__err(LFR_ERR_INVALID, "watchlist too large");
        lfr__snapshot_entry *e = realloc(x->e, (size_t)cap * sizeof *e);
        if (e) x->e = e;
        lfr_subject_image *m = realloc(x->im, (size_t)cap * sizeof *m);
        if (m) x->im = m;
        if (!e || !m) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->cap = cap;
    }
    lfr__snapshot_entry *e = &x->e[x->n];
    memset(e, 0, sizeof *e);
    e->subject_id = im->subject_id;
    e->image_id = im->id;
    e->category = x->cur;
    memcpy(e->sha256, im->sha256, sizeof e->sha256);
    x->im[x->n++] = *im;
    x->cur_images++;
    if (im->provenance >= 1 && im->provenance <= LFR_N_PROVENANCES)
        x->by_provenance[im->provenance]++;
    return 0;
}

static int snap_subject(const lfr_subject *sub, void *ctx)
{
    snap *x = ctx;
    if (!(x->categories & (1u << sub->category))) return 0;
    if (sub->expired) {
        x->expired++;
        return 0;
    }
    x->cur = sub->category;
    x->cur_images = 0;
    int rc = x->s->be->image_each(x->s->db, sub->id, 1, snap_image, x);
    if (rc) return rc;
    if (x->cur_images > 0) {
        x->subjects++;
        x->subjects_by_cat[sub->category]++;
        x->images_by_cat[sub->category] += x->cur_images;
    }
    return 0;
}

static void snapshot_hash_of(const lfr__snapshot_entry *e, int64_t n, char hex[65])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, LFR_HASH_BYTES);
    for (int64_t i = 0; i < n; i++) {
        char line[120];
        int len = snprintf(line, sizeof line, "%lld:%s\n", (long long)e[i].image_id, e[i].sha256);
        crypto_generichash_update(&h, (const uint8_t *)line, (size_t)len);
    }
    uint8_t out[LFR_HASH_BYTES];
    crypto_generichash_final(&h, out, sizeof out);
    sodium_bin2hex(hex, 65, out, sizeof out);
}

typedef struct snap_rows {
    lfr__snapshot_entry *e;
    int64_t n, cap;
} snap_rows;

static int collect_row(const lfr__snapshot_entry *e, void *ctx)
{
    snap_rows *x = ctx;
    if (x->n == x->cap) {
        int64_t cap = x->cap ? 2 * x->cap : 256;
        lfr__snapshot_entry *v = realloc(x->e, (size_t)cap * sizeof *v);
        if (!v) return lfr__err(LFR_ERR_NOMEM, "out of memory");
        x->e = v;
        x->cap = cap;
    }
    x->e[x->n++] = *e;
    return 0;
}

int lfr__snapshot_hash(lfr_store *s, int64_t id, char hex[2 * LFR_HASH_BYTES + 1])
{
    snap_rows x = {0};
    int rc = s->be->snapshot_each(s->db, id, collect_row, &x);
    if (!rc) snapshot_hash_of(x.e, x.n, hex);
    free(x.e);
    return rc;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void snap_ad(const char *file, int64_t id, const char *hash, char *out, size_t cap)
{
    snprintf(out, cap, "lfr-snapshot:v1:%s:%lld:%s", file, (long long)id, hash);
}

/* Decrypt every frozen template and seal them into a new media file. */
static int write_snapshot(lfr_store *s, const snap *x, int64_t id, const char *hash,
                          char file_out[65])
{
    size_t plain_n = 12 + (size_t)x->n * SNAP_ENTRY;
    uint8_t *plain = sodium_malloc(plain_n);
    if (!plain) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    memcpy(plain, SNAP_MAGIC, 8);
    put_le(plain + 8, (uint64_t)x->n, 4);
    int rc = LFR_OK;
    for (int64_t i = 0; !rc && i < x->n; i++) {
        uint8_t *p = plain + 12 + (size_t)i * SNAP_ENTRY;
        put_le(p, (uint64_t)x->e[i].image_id, 8);
        put_le(p + 8, (uint64_t)x->e[i].subject_id, 8);
        float tpl[LFR_TEMPLATE_DIM];
        rc = lfr__media_template(s, &x->im[i], tpl);
        if (!rc) memcpy(p + 16, tpl, sizeof tpl);
        sodium_memzero(tpl, sizeof tpl);
    }
    lfr__media_new_name(file_out);
    char ad[200];
    snap_ad(file_out, id, hash, ad, sizeof ad);
    uint8_t *sealed = NULL;
    size_t sealed_n = 0;
    if (!rc) rc = lfr__seal(s->key, plain, plain_n, ad, &sealed, &sealed_n);
    sodium_free(plain);
    if (!rc) rc = lfr__media_write(s, file_out, sealed, sealed_n);
    free(sealed);
    if (!rc) rc = lfr__media_sync(s);
    return rc;
}

int lfr_store_deployment_start(lfr_store *s, const lfr_user *actor, int64_t id)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    lfr__deployment_row *r;
    rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_RUN, id, &row, &r, object, sizeof object);
    if (rc) return rc;
    const char *act = "deployment.start";
    if (r->d.state != LFR_DEPLOYMENT_AUTHORISED) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s: only an authorised deployment starts",
                 (long long)id,
                 r->d.state == LFR_DEPLOYMENT_CREATED ? "not authorised"
                                                      : lfr_deployment_state_name(r->d.state));
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, act, object, r);
    }
    if (strcmp(now, r->d.planned_start) < 0 || strcmp(now, r->d.planned_end) >= 0) {
        lfr__err(LFR_ERR_CONFLICT,
                 "deployment %lld is authorised from %s to %s; it cannot start at %s",
                 (long long)id, r->d.planned_start, r->d.planned_end, now);
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, act, object, r);
    }
    snap x;
    memset(&x, 0, sizeof x);
    x.categories = r->d.categories;
    x.s = s;
    rc = s->be->subject_each(s->db, 0, now, snap_subject, &x);
    for (int64_t i = 1; !rc && i < x.n; i++)
        if (strcmp(x.im[i].model_sha256, x.im[0].model_sha256)) {
            lfr__err(LFR_ERR_CONFLICT,
                     "deployment %lld: the watchlist mixes templates of two embedders (images "
                     "%lld and %lld); re-enrol one of them",
                     (long long)id, (long long)x.im[0].id, (long long)x.im[i].id);
            free(x.e);
            free(x.im);
            return refuse(s, LFR_ERR_CONFLICT, row.user.name, act, object, r);
        }
    lfr_deployment *d = &r->d;
    if (!rc) {
        d->snapshot_subjects = x.subjects;
        d->snapshot_images = x.n;
        d->snapshot_expired_left_out = x.expired;
        for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
            d->snapshot_by_category[c] = x.images_by_cat[c];
            d->snapshot_subjects_by_category[c] = x.subjects_by_cat[c];
        }
        for (int p = 1; p <= LFR_N_PROVENANCES; p++)
            d->snapshot_by_provenance[p] = x.by_provenance[p];
        snprintf(d->snapshot_model, sizeof d->snapshot_model, "%s",
                 x.n ? x.im[0].model_sha256 : "");
        snapshot_hash_of(x.e, x.n, d->snapshot_hash);
        snprintf(d->started_by, sizeof d->started_by, "%s", row.user.name);
        snprintf(d->started_at, sizeof d->started_at, "%s", now);
        rc = write_snapshot(s, &x, id, d->snapshot_hash, r->snapshot_file);
    }
    int wrote = !rc;
    if (!rc) rc = lfr__store_begin(s);
    for (int64_t i = 0; !rc && i < x.n; i++)
        rc = s->be->snapshot_insert(s->db, id, i, &x.e[i]);
    if (!rc) rc = s->be->deployment_update(s->db, r);
    if (!rc) {
        char detail[2048];
        lfr__deployment_start_detail(d, detail, sizeof detail);
        rc = lfr__audit_append_at(s, now, row.user.name, act, object, detail);
    }
    int committed = 0;
    if (!rc) {
        rc = lfr__store_commit(s);
        committed = s->committed;
    } else {
        lfr__store_rollback(s);
    }
    /* A commit that only failed to move audit.head still names the file. */
    if (rc && wrote && !committed) lfr__media_unlink(s, r->snapshot_file);
    free(x.e);
    free(x.im);
    free(r);
    return rc;
}

/* Stop running deployment r as `by` at `now`, audited with the final
 * counters; frees r. */
static int stop_as(lfr_store *s, const char *by, const char *now, const char *object,
                   lfr__deployment_row *r)
{
    int64_t id = r->d.id;
    snprintf(r->d.stopped_by, sizeof r->d.stopped_by, "%s", by);
    snprintf(r->d.stopped_at, sizeof r->d.stopped_at, "%s", now);
    int rc = lfr__store_begin(s);
    char *detail = NULL;
    if (!rc) rc = s->be->deployment_update(s->db, r);
    if (!rc) {
        detail = lfr__deployment_stop_detail(s, id);
        rc = detail ? lfr__audit_append_at(s, now, by, "deployment.stop", object, detail)
                    : lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    free(detail);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    free(r);
    return rc;
}

int lfr_store_deployment_stop(lfr_store *s, const lfr_user *actor, int64_t id)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    lfr__deployment_row *r;
    rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_RUN, id, &row, &r, object, sizeof object);
    if (rc) return rc;
    if (r->d.state != LFR_DEPLOYMENT_RUNNING) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s, not running", (long long)id,
                 lfr_deployment_state_name(r->d.state));
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, "deployment.stop", object, r);
    }
    return stop_as(s, row.user.name, now, object, r);
}

int lfr_store_deployment_expire(lfr_store *s, int64_t id)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "deployment:%lld", (long long)id);
    lfr__deployment_row *r = malloc(sizeof *r);
    if (!r) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = s->be->deployment_get(s->db, id, r);
    if (rc) {
        free(r);
        return rc;
    }
    /* Nothing to do, and nothing audited: the caller only asks. */
    if (r->d.state != LFR_DEPLOYMENT_RUNNING || strcmp(now, r->d.planned_end) < 0) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s%s%s", (long long)id,
                 lfr_deployment_state_name(r->d.state),
                 r->d.state == LFR_DEPLOYMENT_RUNNING ? " until " : "",
                 r->d.state == LFR_DEPLOYMENT_RUNNING ? r->d.planned_end : "");
        free(r);
        return LFR_ERR_CONFLICT;
    }
    return stop_as(s, "system", now, object, r);
}

int lfr_store_deployment_get(lfr_store *s, const lfr_user *actor, int64_t id, lfr_deployment *out)
{
    char object[48];
    snprintf(object, sizeof object, "deployment:%lld", (long long)id);
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_DEPLOYMENT_LIST, object, &row);
    if (rc) return rc;
    lfr__deployment_row *r = malloc(sizeof *r);
    if (!r) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    rc = s->be->deployment_get(s->db, id, r);
    if (!rc) *out = r->d;
    free(r);
    return rc;
}

typedef struct list_ctx {
    int (*fn)(const lfr_deployment *d, void *ctx);
    void *ctx;
} list_ctx;

static int list_one(const lfr__deployment_row *r, void *ctx)
{
    list_ctx *l = ctx;
    return l->fn(&r->d, l->ctx);
}

int lfr_store_deployment_list(lfr_store *s, const lfr_user *actor, const char *from, const char *to,
                              int (*fn)(const lfr_deployment *d, void *ctx), void *ctx)
{
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN];
    int rc = from ? lfr__filter_time(from, 0, f) : LFR_OK;
    if (!rc && to) rc = lfr__filter_time(to, 1, t);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_DEPLOYMENT_LIST, "deployment", &row);
    if (rc) return rc;
    list_ctx l = {fn, ctx};
    return s->be->deployment_each(s->db, from ? f : NULL, to ? t : NULL, list_one, &l);
}

/* ---- The watchlist in memory ---------------------------------------------------------------- */

void lfr_watchlist_free(lfr_watchlist *wl)
{
    if (!wl) return;
    if (wl->templates) {
        sodium_memzero(wl->templates, (size_t)wl->n * LFR_TEMPLATE_DIM * sizeof(float));
        free(wl->templates);
    }
    free(wl->subject_ids);
    free(wl->image_ids);
    sodium_memzero(wl, sizeof *wl);
    free(wl);
}

int lfr_store_deployment_watchlist(lfr_store *s, const lfr_user *actor, int64_t id,
                                   lfr_watchlist **out)
{
    *out = NULL;
    char object[48];
    lfr__user_row row;
    lfr__deployment_row *r;
    int rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_RUN, id, &row, &r, object, sizeof object);
    if (rc) return rc;
    if (r->d.state != LFR_DEPLOYMENT_RUNNING || !r->snapshot_file[0]) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s: its watchlist is not available",
                 (long long)id, lfr_deployment_state_name(r->d.state));
        return refuse(s, LFR_ERR_CONFLICT, row.user.name, "deployment.watchlist", object, r);
    }
    /* Audited before anything is decrypted. */
    rc = lfr__store_begin(s);
    if (!rc) {
        char detail[160];
        snprintf(detail, sizeof detail, "{\"images\":%lld,\"snapshot_hash\":\"%s\"}",
                 (long long)r->d.snapshot_images, r->d.snapshot_hash);
        rc = lfr__audit_append(s, row.user.name, "deployment.watchlist", object, detail);
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
    }
    uint8_t *sealed = NULL, *plain = NULL;
    size_t sealed_n = 0, plain_n = 0;
    size_t max = lfr__sealed_size(12 + (size_t)r->d.snapshot_images * SNAP_ENTRY);
    if (!rc) rc = lfr__media_read(s, r->snapshot_file, max, &sealed, &sealed_n);
    char ad[200];
    snap_ad(r->snapshot_file, id, r->d.snapshot_hash, ad, sizeof ad);
    if (!rc) rc = lfr__unseal(s->key, sealed, sealed_n, ad, &plain, &plain_n);
    free(sealed);
    int64_t n = r->d.snapshot_images;
    if (!rc && (plain_n != 12 + (size_t)n * SNAP_ENTRY || memcmp(plain, SNAP_MAGIC, 8) ||
                get_le(plain + 8, 4) != (uint64_t)n))
        rc = lfr__err(LFR_ERR_TAMPERED, "deployment %lld: snapshot does not match its record",
                      (long long)id);
    lfr_watchlist *wl = NULL;
    if (!rc) {
        wl = calloc(1, sizeof *wl);
        if (wl) {
            wl->deployment_id = id;
            wl->n = (int)n;
            wl->threshold = r->d.threshold;
            memcpy(wl->model_sha256, r->d.snapshot_model, sizeof wl->model_sha256);
            wl->templates = malloc((size_t)(n ? n : 1) * LFR_TEMPLATE_DIM * sizeof(float));
            wl->subject_ids = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
            wl->image_ids = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        }
        if (!wl || !wl->templates || !wl->subject_ids || !wl->image_ids)
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; !rc && i < n; i++) {
        const uint8_t *p = plain + 12 + (size_t)i * SNAP_ENTRY;
        wl->image_ids[i] = (int64_t)get_le(p, 8);
        wl->subject_ids[i] = (int64_t)get_le(p + 8, 8);
        memcpy(wl->templates + (size_t)i * LFR_TEMPLATE_DIM, p + 16,
               LFR_TEMPLATE_DIM * sizeof(float));
    }
    if (plain) {
        sodium_memzero(plain, plain_n);
        free(plain);
    }
    free(r);
    if (rc) {
        lfr_watchlist_free(wl);
        return rc;
    }
    *out = wl;
    return LFR_OK;
}

/* ---- Counters ---------------------------------------------------------------------------------
 */

int lfr_store_counters_add(lfr_store *s, const lfr_user *actor, int64_t id, const char *camera,
                           const lfr_counters *c)
{
    if (!c || !camera) return lfr__err(LFR_ERR_INVALID, "counters: nothing to add");
    if (c->frames < 0 || c->frames_dropped < 0 || c->detections < 0 || c->faces_seen < 0 ||
        c->quality_rejects < 0 || c->alerts != 0)
        return lfr__err(LFR_ERR_INVALID, "counters: counts cannot be negative, and alerts are"
                                         " counted by lfr_store_alert_add");
    char object[48];
    lfr__user_row row;
    lfr__deployment_row *r;
    int rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_RUN, id, &row, &r, object, sizeof object);
    if (rc) return rc;
    if (r->d.state != LFR_DEPLOYMENT_RUNNING) {
        lfr__err(LFR_ERR_CONFLICT, "deployment %lld is %s, not running", (long long)id,
                 lfr_deployment_state_name(r->d.state));
        free(r);
        return LFR_ERR_CONFLICT;
    }
    free(r);
    rc = lfr__store_begin(s);
    if (!rc) rc = s->be->counters_add(s->db, id, camera, c);
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    return rc;
}

int lfr_store_counters_get(lfr_store *s, const lfr_user *actor, int64_t id,
                           int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                           void *ctx)
{
    char object[48];
    snprintf(object, sizeof object, "deployment:%lld", (long long)id);
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_DEPLOYMENT_LIST, object, &row);
    if (rc) return rc;
    return s->be->counters_each(s->db, id, fn, ctx);
}

/* ---- Alerts
 * -------------------------------------------------------------------------------------- */

typedef struct find_image {
    int64_t image_id;
    lfr__snapshot_entry hit;
    int found;
} find_image;

static int on_snapshot_image(const lfr__snapshot_entry *e, void *ctx)
{
    find_image *f = ctx;
    if (e->image_id != f->image_id) return 0;
    f->hit = *e;
    f->found = 1;
    return 1;
}

static void crop_ad(const char *file, const char *sha, char *out, size_t cap)
{
    snprintf(out, cap, "lfr-crop:v1:%s:%s", file, sha);
}

int lfr_store_alert_add(lfr_store *s, const lfr_user *actor, const lfr_alert_params *p,
                        int64_t *id_out)
{
    if (id_out) *id_out = 0;
    if (!p || !p->camera) return lfr__err(LFR_ERR_INVALID, "alert: no parameters");
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    lfr__user_row row;
    lfr__deployment_row *r;
    rc = load_for(s, actor, LFR_ACTION_DEPLOYMENT_RUN, p->deployment_id, &row, &r, object,
                  sizeof object);
    if (rc) return rc;
    lfr__alert_row a;
    memset(&a, 0, sizeof a);
    if (r->d.state != LFR_DEPLOYMENT_RUNNING)
        rc = lfr__err(LFR_ERR_CONFLICT, "alert: deployment %lld is %s, not running",
                      (long long)p->deployment_id, lfr_deployment_state_name(r->d.state));
    int cam = -1;
    for (int i = 0; !rc && i < r->d.n_cameras; i++)
        if (!strcmp(r->d.cameras[i].name, p->camera)) cam = i;
    if (!rc && cam < 0)
        rc = lfr__err(LFR_ERR_INVALID, "alert: deployment %lld has no camera \"%.40s\"",
                      (long long)p->deployment_id, p->camera);
    if (!rc && !(p->score >= r->d.threshold))
        rc = lfr__err(LFR_ERR_INVALID, "alert: score %g is below the threshold %g", p->score,
                      r->d.threshold);
    if (!rc && !(p->score <= 1.0 + 1e-6))
        rc = lfr__err(LFR_ERR_INVALID, "alert: score %g is not a cosine similarity (at most 1)",
                      p->score);
    if (!rc && p->crop_size > CROP_MAX)
        rc = lfr__err(LFR_ERR_INVALID, "alert: crop larger than 4 MiB");
    if (!rc && p->crop_size && !p->crop)
        rc = lfr__err(LFR_ERR_INVALID, "alert: crop size given without the crop");
    if (!rc && p->time) {
        int64_t ms;
        if (lfr__time_parse(p->time, &ms))
            rc = lfr__err(LFR_ERR_INVALID, "alert: time \"%.40s\" is not ISO-8601", p->time);
        else
            lfr__time_format(ms, a.a.time);
    }
    find_image f = {p->image_id, {0}, 0};
    if (!rc) {
        rc = s->be->snapshot_each(s->db, p->deployment_id, on_snapshot_image, &f);
        if (rc == 1) rc = 0;
        if (!rc && !f.found)
            rc = lfr__err(LFR_ERR_INVALID,
                          "alert: image %lld is not in deployment %lld's"
                          " watchlist",
                          (long long)p->image_id, (long long)p->deployment_id);
    }
    if (rc) {
        free(r);
        return rc == LFR_ERR_NOMEM || rc == LFR_ERR_STORE
                   ? rc
                   : lfr__audit_refusal(s, rc, row.user.name, "alert.add.refused", object);
    }
    free(r);
    if (!p->time) memcpy(a.a.time, now, LFR__TIME_LEN);
    a.a.deployment_id = p->deployment_id;
    snprintf(a.a.camera, sizeof a.a.camera, "%s", p->camera);
    a.a.track = p->track;
    a.a.subject_id = f.hit.subject_id;
    a.a.image_id = p->image_id;
    a.a.score = p->score;
    a.a.outcome = LFR_OUTCOME_NOT_ADJUDICATED;
    snprintf(a.a.recorded_by, sizeof a.a.recorded_by, "%s", row.user.name);
    memcpy(a.recorded_at, now, LFR__TIME_LEN);
    int wrote = 0;
    if (p->crop_size) {
        lfr__sha256_hex(p->crop, p->crop_size, a.a.crop_sha256);
        lfr__media_new_name(a.crop_file);
        char ad[160];
        crop_ad(a.crop_file, a.a.crop_sha256, ad, sizeof ad);
        uint8_t *sealed = NULL;
        size_t sealed_n = 0;
        rc = lfr__seal(s->key, p->crop, p->crop_size, ad, &sealed, &sealed_n);
        if (!rc) rc = lfr__media_write(s, a.crop_file, sealed, sealed_n);
        free(sealed);
        if (!rc) rc = lfr__media_sync(s);
        wrote = !rc;
    }
    int64_t id = 0;
    if (!rc) rc = lfr__store_begin(s);
    if (!rc) rc = s->be->alert_insert(s->db, &a, &id);
    if (!rc) {
        lfr_counters one = {0, 0, 0, 0, 0, 1};
        rc = s->be->counters_add(s->db, p->deployment_id, p->camera, &one);
    }
    if (!rc) {
        char detail[1024], aobj[48];
        a.a.id = id;
        lfr__alert_detail(&a.a, detail, sizeof detail);
        snprintf(aobj, sizeof aobj, "alert:%lld", (long long)id);
        /* At the alert's recorded_at, so that verification can check both. */
        rc = lfr__audit_append_at(s, now, row.user.name, "alert.add", aobj, detail);
    }
    int committed = 0;
    if (!rc) {
        rc = lfr__store_commit(s);
        committed = s->committed;
    } else {
        lfr__store_rollback(s);
    }
    /* A commit that only failed to move audit.head still names the crop:
     * the alert is recorded, and the caller gets its id with the error. */
    if (rc && wrote && !committed) lfr__media_unlink(s, a.crop_file);
    if ((!rc || committed) && id_out) *id_out = id;
    return rc;
}

typedef struct alert_list_ctx {
    int (*fn)(const lfr_alert *a, void *ctx);
    void *ctx;
} alert_list_ctx;

static int alert_one(const lfr__alert_row *r, void *ctx)
{
    alert_list_ctx *l = ctx;
    return l->fn(&r->a, l->ctx);
}

int lfr_store_alert_list(lfr_store *s, const lfr_user *actor, const lfr_alert_filter *filter,
                         int (*fn)(const lfr_alert *a, void *ctx), void *ctx)
{
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN];
    lfr_alert_filter q = {0};
    if (filter) q = *filter;
    int rc = q.from ? lfr__filter_time(q.from, 0, f) : LFR_OK;
    if (!rc && q.to) rc = lfr__filter_time(q.to, 1, t);
    if (rc) return rc;
    if (q.from) q.from = f;
    if (q.to) q.to = t;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_ALERT_LIST, "alert", &row);
    if (rc) return rc;
    alert_list_ctx l = {fn, ctx};
    return s->be->alert_each(s->db, &q, alert_one, &l);
}

int lfr_store_alert_show(lfr_store *s, const lfr_user *actor, int64_t id, lfr_alert *out,
                         uint8_t **crop_out, size_t *crop_size)
{
    if (crop_out) *crop_out = NULL;
    if (crop_size) *crop_size = 0;
    char object[48];
    snprintf(object, sizeof object, "alert:%lld", (long long)id);
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_ALERT_SHOW, object, &row);
    if (rc) return rc;
    lfr__alert_row a;
    rc = s->be->alert_get(s->db, id, &a);
    if (rc == LFR_ERR_NOT_FOUND)
        return lfr__audit_refusal(s, rc, row.user.name, "alert.show.refused", object);
    if (rc) return rc;
    rc = lfr__store_begin(s);
    if (!rc) {
        rc = lfr__audit_append(s, row.user.name, "alert.show", object,
                               crop_out && a.crop_file[0] ? "{\"crop\":true}" : "{\"crop\":false}");
        if (!rc)
            rc = lfr__store_commit(s);
        else
            lfr__store_rollback(s);
    }
    if (rc) return rc;
    *out = a.a;
    if (!crop_out || !a.crop_file[0]) return LFR_OK;
    uint8_t *sealed = NULL, *plain = NULL;
    size_t sealed_n = 0, plain_n = 0;
    rc = lfr__media_read(s, a.crop_file, lfr__sealed_size(CROP_MAX), &sealed, &sealed_n);
    char ad[160];
    crop_ad(a.crop_file, a.a.crop_sha256, ad, sizeof ad);
    if (!rc) rc = lfr__unseal(s->key, sealed, sealed_n, ad, &plain, &plain_n);
    free(sealed);
    if (rc) return lfr__err_prefix(rc, "alert crop");
    *crop_out = plain;
    *crop_size = plain_n;
    return LFR_OK;
}

int lfr_store_alert_adjudicate(lfr_store *s, const lfr_user *actor, int64_t id, lfr_outcome outcome,
                               lfr_engagement engagement, const char *note)
{
    char now[LFR__TIME_LEN], object[48];
    int rc = lfr__clock_now(now);
    if (rc) return rc;
    snprintf(object, sizeof object, "alert:%lld", (long long)id);
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_ALERT_ADJUDICATE, object, &row);
    if (rc) return rc;
    if (outcome < LFR_OUTCOME_TRUE || outcome > LFR_N_OUTCOMES)
        rc = lfr__err(LFR_ERR_INVALID, "adjudicate: outcome must be true, false, confirmed_true"
                                       " or confirmed_false");
    else if (engagement < LFR_ENGAGEMENT_NONE || engagement > LFR_N_ENGAGEMENTS)
        rc = lfr__err(LFR_ERR_INVALID, "adjudicate: unknown engagement");
    else if (note && *note)
        rc = check_text("note", note, 1);
    lfr__alert_row a;
    if (!rc) rc = s->be->alert_get(s->db, id, &a);
    if (rc) {
        if (rc == LFR_ERR_NOMEM || rc == LFR_ERR_STORE) return rc;
        return lfr__audit_refusal(s, rc, row.user.name, "alert.adjudicate.refused", object);
    }
    a.a.outcome = outcome;
    if (engagement != LFR_ENGAGEMENT_NONE) a.a.engagement = engagement;
    if (note) snprintf(a.a.note, sizeof a.a.note, "%s", note);
    snprintf(a.a.adjudicated_by, sizeof a.a.adjudicated_by, "%s", row.user.name);
    snprintf(a.a.adjudicated_at, sizeof a.a.adjudicated_at, "%s", now);
    rc = lfr__store_begin(s);
    if (!rc) rc = s->be->alert_update(s->db, &a);
    if (!rc) {
        char detail[3200];
        lfr__adjudication_detail(&a.a, detail, sizeof detail);
        rc = lfr__audit_append_at(s, now, row.user.name, "alert.adjudicate", object, detail);
    }
    if (!rc)
        rc = lfr__store_commit(s);
    else
        lfr__store_rollback(s);
    return rc;
}
