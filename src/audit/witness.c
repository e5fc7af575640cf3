/*
 * A witness: a small program state, kept at an oversight body, that
 * co-signs a log's checkpoint only when it extends the last checkpoint the
 * witness co-signed (c2sp.org/tlog-witness, offline). Its folder holds
 *
 *   witness.key    its Ed25519 key, cosignature type (0600)
 *   witness.pub    its verifier key, for whoever checks cosignatures
 *   witness.state  "openlfr-witness-state-v1", the log's verifier key, and
 *                  the size, root and time of the last checkpoint cosigned
 *   witness.lock   held while a request is checked and the state moved, so
 *                  that two requests cannot both move it (the race the
 *                  tlog-witness specification warns of)
 *
 * A log rewritten since the last cosignature cannot produce a consistency
 * proof from the root the witness holds, and is refused: the witness is
 * what a person holding the log's home and key cannot bend.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/log.h"

static const char state_magic[] = "openlfr-witness-state-v1";

typedef struct wpaths {
    char key[4200], pub[4200], state[4200], lock[4200];
} wpaths;

static int paths(const char *dir, wpaths *p)
{
    /* The witness runs without a store: libsodium is set up here. */
    if (sodium_init() < 0) return lfr__err(LFR_ERR_BACKEND, "libsodium initialisation failed");
    if (!dir || !*dir) return lfr__err(LFR_ERR_INVALID, "no witness folder given");
    int a = snprintf(p->key, sizeof p->key, "%s/witness.key", dir);
    int b = snprintf(p->pub, sizeof p->pub, "%s/witness.pub", dir);
    int c = snprintf(p->state, sizeof p->state, "%s/witness.state", dir);
    int d = snprintf(p->lock, sizeof p->lock, "%s/witness.lock", dir);
    if (a < 0 || b < 0 || c < 0 || d < 0 || (size_t)a >= sizeof p->key ||
        (size_t)b >= sizeof p->key || (size_t)c >= sizeof p->key || (size_t)d >= sizeof p->key)
        return lfr__err(LFR_ERR_INVALID, "witness folder path too long");
    return LFR_OK;
}

/* ---- The state file ------------------------------------------------------------ */

int lfr__witness_state_parse(const char *in, size_t n, lfr__witness_state *out)
{
    memset(out, 0, sizeof *out);
    const char *p = in, *end = in + n;
    int have = 0;
    for (int line = 0; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return lfr__err(LFR_ERR_FORMAT, "witness state: line %d has no newline", line + 1);
        size_t len = (size_t)(eol - p);
        if (line == 0) {
            if (len != sizeof state_magic - 1 || memcmp(p, state_magic, len))
                return lfr__err(LFR_ERR_FORMAT, "witness state: does not start with %s",
                                state_magic);
        } else if (len > 4 && !memcmp(p, "log ", 4) && !(have & 1)) {
            if (lfr__verifier_parse(p + 4, len - 4, &out->log) || out->log.type != LFR__KEY_ED25519)
                return lfr__err(LFR_ERR_FORMAT, "witness state: the log key is malformed");
            have |= 1;
        } else if (len > 5 && !memcmp(p, "size ", 5) && !(have & 2)) {
            uint64_t v = 0;
            if (len - 5 > 20 || (len - 5 > 1 && p[5] == '0'))
                return lfr__err(LFR_ERR_FORMAT, "witness state: size is malformed");
            for (size_t i = 5; i < len; i++) {
                if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
                    return lfr__err(LFR_ERR_FORMAT, "witness state: size is malformed");
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            out->size = v;
            have |= 2;
        } else if (len > 5 && !memcmp(p, "root ", 5) && !(have & 4)) {
            size_t got = 0;
            const char *e = NULL;
            char again[64];
            if (len - 5 != 44 ||
                sodium_base642bin(out->root, sizeof out->root, p + 5, len - 5, NULL, &got, &e,
                                  sodium_base64_VARIANT_ORIGINAL) ||
                got != LFR_HASH_BYTES || e != eol)
                return lfr__err(LFR_ERR_FORMAT, "witness state: root is malformed");
            sodium_bin2base64(again, sizeof again, out->root, LFR_HASH_BYTES,
                              sodium_base64_VARIANT_ORIGINAL);
            if (memcmp(again, p + 5, 44))
                return lfr__err(LFR_ERR_FORMAT, "witness state: root is malformed");
            have |= 4;
        } else if (len > 5 && !memcmp(p, "time ", 5) && !(have & 8)) {
            int64_t v = 0;
            if (len - 5 > 18) return lfr__err(LFR_ERR_FORMAT, "witness state: time is malformed");
            for (size_t i = 5; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                    return lfr__err(LFR_ERR_FORMAT, "witness state: time is malformed");
                v = v * 10 + (p[i] - '0');
            }
            out->time = v;
            have |= 8;
        } else {
            return lfr__err(LFR_ERR_FORMAT, "witness state: line %d is not log, size, root or time",
                            line + 1);
        }
        p = eol + 1;
    }
    if (have != 15) return lfr__err(LFR_ERR_FORMAT, "witness state: a line is missing");
    /* A state of size 0 holds the empty tree's root. */
    uint8_t empty[LFR_HASH_BYTES];
    lfr__merkle_empty(empty);
    if (out->size == 0 && sodium_memcmp(out->root, empty, LFR_HASH_BYTES))
        return lfr__err(LFR_ERR_FORMAT, "witness state: size 0 with a root that is not empty");
    return LFR_OK;
}

int lfr__witness_state_format(const lfr__witness_state *st, char *out, size_t cap, size_t *n_out)
{
    char vkey[LFR__VKEY_MAX], root[64];
    lfr__verifier_format(&st->log, vkey);
    sodium_bin2base64(root, sizeof root, st->root, LFR_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
    int k = snprintf(out, cap, "%s\nlog %s\nsize %" PRIu64 "\nroot %s\ntime %lld\n", state_magic,
                     vkey, st->size, root, (long long)st->time);
    if (k < 0 || (size_t)k >= cap) return lfr__err(LFR_ERR_INVALID, "witness state too long");
    *n_out = (size_t)k;
    return LFR_OK;
}

static int read_state(const wpaths *p, lfr__witness_state *st)
{
    char buf[1024];
    size_t n;
    int rc = lfr__file_read_small(p->state, 0, buf, sizeof buf, &n);
    if (!rc) rc = lfr__witness_state_parse(buf, n, st);
    return rc ? lfr__err_prefix(rc, p->state) : LFR_OK;
}

static int read_key(const wpaths *p, lfr__signer *k)
{
    char buf[512];
    size_t n = 0;
    int rc = lfr__file_read_small(p->key, 1, buf, sizeof buf, &n);
    if (!rc) rc = lfr__signer_parse(buf, n, k);
    sodium_memzero(buf, sizeof buf);
    if (!rc && k->type != LFR__KEY_COSIGNATURE) {
        lfr__signer_free(k);
        rc = lfr__err(LFR_ERR_FORMAT, "not a cosignature key");
    }
    return rc ? lfr__err_prefix(rc, p->key) : LFR_OK;
}

/* ---- Init, cosign, show ----------------------------------------------------------- */

int lfr_witness_init(const char *dir, const char *name, const char *log_key)
{
    wpaths p;
    int rc = paths(dir, &p);
    if (rc) return rc;
    lfr__witness_state st;
    memset(&st, 0, sizeof st);
    if (!log_key || lfr__verifier_parse(log_key, strlen(log_key), &st.log) ||
        st.log.type != LFR__KEY_ED25519)
        return lfr__err(LFR_ERR_INVALID, "the log's key is not a verifier key (name+id+key): "
                                         "lfr audit checkpoint --key prints it");
    if (mkdir(dir, 0700) && errno != EEXIST)
        return lfr__err(LFR_ERR_IO, "%s: %s", dir, strerror(errno));
    struct stat sb;
    if (lstat(p.state, &sb) == 0 || lstat(p.key, &sb) == 0)
        return lfr__err(LFR_ERR_CONFLICT, "%s: already holds a witness", dir);
    lfr__signer k;
    rc = lfr__signer_generate(name ? name : "", LFR__KEY_COSIGNATURE, &k);
    if (rc) return rc;
    char text[512], vkey[LFR__VKEY_MAX + 1];
    rc = lfr__signer_format(&k, text, sizeof text);
    if (!rc) rc = lfr__file_create(p.key, text, strlen(text), 0600);
    sodium_memzero(text, sizeof text);
    lfr__verifier v;
    lfr__verifier_of(&k, &v);
    lfr__signer_free(&k);
    lfr__verifier_format(&v, vkey);
    size_t vn = strlen(vkey);
    vkey[vn++] = '\n';
    if (!rc) rc = lfr__file_create(p.pub, vkey, vn, 0644);
    lfr__merkle_empty(st.root);
    size_t n;
    if (!rc) rc = lfr__witness_state_format(&st, text, sizeof text, &n);
    if (!rc) rc = lfr__file_create(p.state, text, n, 0600);
    return rc;
}

/* Check the request against the state; fill the new state. */
static int check_request(const lfr__witness_state *st, const char *req, size_t n,
                         lfr__proof_text *r, lfr__note *note, lfr__checkpoint *cp)
{
    int rc = lfr__witness_request_parse(req, n, r);
    if (rc) return rc;
    rc = lfr__note_parse(r->note, r->n_note, note);
    if (!rc) rc = lfr__checkpoint_parse(note->text, note->n_text, cp);
    if (rc) return rc;
    if (strcmp(cp->origin, st->log.name))
        return lfr__err(LFR_ERR_NOT_FOUND, "this witness watches %s, not %.64s", st->log.name,
                        cp->origin);
    int v = lfr__note_verify(note, &st->log, NULL);
    if (v <= 0)
        return lfr__err(LFR_ERR_TAMPERED, "the checkpoint is %s the log's key",
                        v < 0 ? "badly signed by" : "not signed by");
    if (r->number > cp->size)
        return lfr__err(LFR_ERR_INVALID,
                        "old size %" PRIu64 " is larger than the checkpoint's %" PRIu64, r->number,
                        cp->size);
    if (r->number != st->size)
        return lfr__err(LFR_ERR_CONFLICT,
                        "this witness last cosigned %" PRIu64 " entries: ask for a request from "
                        "%" PRIu64 " (lfr audit checkpoint --old %" PRIu64 ")",
                        st->size, st->size, st->size);
    uint8_t empty[LFR_HASH_BYTES];
    lfr__merkle_empty(empty);
    if (cp->size == 0 && sodium_memcmp(cp->root, empty, LFR_HASH_BYTES))
        return lfr__err(LFR_ERR_TAMPERED, "a checkpoint of size 0 must have the empty tree's root");
    if (lfr__merkle_consistency_check(st->size, cp->size, st->root, cp->root,
                                      (const uint8_t(*)[LFR_HASH_BYTES])r->proof, r->n))
        return lfr__err(LFR_ERR_TAMPERED,
                        "the checkpoint of %" PRIu64 " entries does not extend the one of %" PRIu64
                        " this witness cosigned: the log was rewritten or forked",
                        cp->size, st->size);
    return LFR_OK;
}

int lfr__witness_check(const lfr__witness_state *st, const char *req, size_t n,
                       lfr__checkpoint *cp_out)
{
    lfr__proof_text r;
    lfr__note *note = malloc(sizeof *note);
    if (!note) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    int rc = check_request(st, req, n, &r, note, cp_out);
    lfr__proof_text_free(&r);
    free(note);
    return rc;
}

int lfr_witness_cosign(const char *dir, const char *request, size_t n, char **note_out,
                       size_t *n_out)
{
    *note_out = NULL;
    *n_out = 0;
    wpaths p;
    int rc = paths(dir, &p);
    if (rc) return rc;
    int lfd = open(p.lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) return lfr__err(LFR_ERR_IO, "%s: %s", p.lock, strerror(errno));
    while (flock(lfd, LOCK_EX) && errno == EINTR)
        ;
    lfr__witness_state st;
    lfr__signer k;
    memset(&k, 0, sizeof k);
    rc = read_state(&p, &st);
    if (!rc) rc = read_key(&p, &k);
    lfr__proof_text r;
    memset(&r, 0, sizeof r);
    lfr__note *note = malloc(sizeof *note);
    lfr__checkpoint cp;
    if (!rc && !note) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (!rc) rc = check_request(&st, request, n, &r, note, &cp);
    int64_t now = 0;
    if (!rc) rc = lfr__clock_now_ms(&now);
    char line[LFR__SIGLINE_MAX];
    if (!rc) rc = lfr__note_sign(&k, note->text, note->n_text, (uint64_t)(now / 1000), line);
    /* The state moves forward before the cosignature is handed out. */
    if (!rc) {
        char text[1024];
        size_t tn;
        st.size = cp.size;
        memcpy(st.root, cp.root, LFR_HASH_BYTES);
        st.time = now / 1000;
        rc = lfr__witness_state_format(&st, text, sizeof text, &tn);
        if (!rc) rc = lfr__file_replace(p.state, text, tn, 0600);
    }
    if (!rc) {
        size_t ln = strlen(line);
        char *out = malloc(r.n_note + ln + 1);
        if (!out) {
            rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
        } else {
            memcpy(out, r.note, r.n_note);
            memcpy(out + r.n_note, line, ln + 1);
            *note_out = out;
            *n_out = r.n_note + ln;
        }
    }
    free(note);
    lfr__proof_text_free(&r);
    lfr__signer_free(&k);
    close(lfd);
    return rc;
}

int lfr_witness_show(const char *dir, lfr_witness_info *out)
{
    memset(out, 0, sizeof *out);
    wpaths p;
    int rc = paths(dir, &p);
    lfr__witness_state st;
    lfr__signer k;
    if (!rc) rc = read_state(&p, &st);
    if (!rc) rc = read_key(&p, &k);
    if (rc) return rc;
    lfr__verifier v;
    lfr__verifier_of(&k, &v);
    snprintf(out->name, sizeof out->name, "%s", k.name);
    lfr__signer_free(&k);
    lfr__verifier_format(&v, out->key);
    lfr__verifier_format(&st.log, out->log_key);
    out->size = st.size;
    memcpy(out->root, st.root, LFR_HASH_BYTES);
    out->time = st.time;
    return LFR_OK;
}
