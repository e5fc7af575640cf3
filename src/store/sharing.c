/*
 * The sharing register: each disclosure of data outside the force (to
 * another force, a court, a researcher), with recipient, purpose, legal
 * basis, what was shared and how much, and the security controls. Adding
 * one is audited with every field, so the register can be rebuilt from, and
 * checked against, the audit chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define TEXT_MAX 1000

static int check_text(const char *what, const char *v)
{
    size_t n = v ? strnlen(v, TEXT_MAX + 1) : 0;
    if (n < 1 || n > TEXT_MAX)
        return lfr__err(LFR_ERR_INVALID, "sharing: %s needs 1 to %d characters", what, TEXT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return lfr__err(LFR_ERR_INVALID, "sharing: %s holds a control character", what);
    return LFR_OK;
}

/* Append ,"key":"value" to the JSON object being built in buf. */
static void json_field(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":", n > 1 ? "," : "", key);
    lfr__json_append_str(buf, cap - 1, value);
}

char *lfr__sharing_detail(const lfr_sharing *e)
{
    /* Six text fields of at most 1000 bytes (more only if read back from a
     * database altered by hand); escaping, with no control characters, at
     * most doubles them. */
    size_t cap = 512, n;
    const char *text[] = {e->shared_on,   e->recipient, e->purpose,
                          e->legal_basis, e->dataset,   e->security};
    for (int i = 0; i < 6; i++)
        cap += 6 * strlen(text[i]);
    char *d = malloc(cap);
    if (!d) return NULL;
    d[0] = '{';
    d[1] = 0;
    json_field(d, cap, "shared_on", e->shared_on);
    json_field(d, cap, "recipient", e->recipient);
    json_field(d, cap, "purpose", e->purpose);
    json_field(d, cap, "legal_basis", e->legal_basis);
    json_field(d, cap, "dataset", e->dataset);
    json_field(d, cap, "security", e->security);
    n = strlen(d);
    snprintf(d + n, cap - n, ",\"n_images\":%lld}", (long long)e->n_images);
    return d;
}

int lfr_store_sharing_add(lfr_store *s, const lfr_user *actor, const lfr_sharing *in,
                          int64_t *id_out)
{
    if (id_out) *id_out = 0;
    if (!in) return lfr__err(LFR_ERR_INVALID, "sharing: no entry");
    int rc = check_text("recipient", in->recipient);
    if (!rc) rc = check_text("purpose", in->purpose);
    if (!rc) rc = check_text("legal basis", in->legal_basis);
    if (!rc) rc = check_text("dataset", in->dataset);
    if (!rc) rc = check_text("security controls", in->security);
    if (!rc && in->n_images < 0)
        rc = lfr__err(LFR_ERR_INVALID, "sharing: the number of images cannot be negative");
    char now[LFR__TIME_LEN], on[LFR__TIME_LEN];
    if (!rc) rc = lfr__clock_now(now);
    if (!rc && in->shared_on) {
        rc = lfr__filter_time(in->shared_on, 0, on);
        if (rc) lfr__err_prefix(rc, "sharing: date");
    }
    if (rc) return rc;
    if (!in->shared_on) memcpy(on, now, sizeof on);
    if (strcmp(on, now) > 0)
        return lfr__err(LFR_ERR_INVALID, "sharing: date %s is in the future", on);

    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SHARING_ADD, "sharing", &row);
    if (rc) return rc;

    lfr_sharing e = *in;
    e.shared_on = on;
    e.recorded_by = row.user.name;
    e.recorded_at = now;
    rc = lfr__store_begin(s);
    if (rc) return rc;
    int64_t id = 0;
    rc = s->be->sharing_insert(s->db, &e, &id);
    if (!rc) {
        char *detail = lfr__sharing_detail(&e);
        char object[48];
        snprintf(object, sizeof object, "sharing:%lld", (long long)id);
        rc = detail ? lfr__audit_append(s, row.user.name, "sharing.add", object, detail)
                    : lfr__err(LFR_ERR_NOMEM, "out of memory");
        free(detail);
    }
    if (rc) {
        lfr__store_rollback(s);
        return rc;
    }
    rc = lfr__store_commit(s);
    if (!rc && id_out) *id_out = id;
    return rc;
}

int lfr_store_sharing_list(lfr_store *s, const lfr_user *actor, const char *from, const char *to,
                           int (*fn)(const lfr_sharing *entry, void *ctx), void *ctx)
{
    char f[LFR__TIME_LEN], t[LFR__TIME_LEN];
    int rc = from ? lfr__filter_time(from, 0, f) : LFR_OK;
    if (!rc && to) rc = lfr__filter_time(to, 1, t);
    if (rc) return rc;
    lfr__user_row row;
    rc = lfr__store_authorise(s, actor, LFR_ACTION_SHARING_LIST, "sharing", &row);
    if (rc) return rc;
    return s->be->sharing_each(s->db, from ? f : NULL, to ? t : NULL, fn, ctx);
}
