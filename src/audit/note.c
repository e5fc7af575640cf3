/*
 * Signed notes (c2sp.org/signed-note), the keys that sign them, and the two
 * kinds of note the log uses: checkpoints (c2sp.org/tlog-checkpoint: origin,
 * tree size, base64 root hash) signed by the log key with Ed25519 (signature
 * type 0x01), and witness cosignatures (c2sp.org/tlog-cosignature, type
 * 0x04: an 8-byte timestamp and an Ed25519 signature over
 * "cosignature/v1\ntime T\n" and the checkpoint text).
 *
 * Key texts follow Go's golang.org/x/mod/sumdb/note:
 *   signer   PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(type || 32-byte seed)>
 *   verifier <name>+<key id, 8 hex>+<base64(type || 32-byte public key)>
 * with key id = SHA-256(name || "\n" || type || public key)[:4].
 *
 * Every parser here reads text from outside (files an auditor or a witness
 * is handed) and is fuzzed: lengths are checked before every read, base64
 * must be canonical, names are printable ASCII without '+', and nothing is
 * trusted before its signature verifies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

static const char em_dash[] = "\xe2\x80\x94 "; /* U+2014 and a space */

/* ---- Small pieces ------------------------------------------------------------ */

/* Key names (and our origins): printable ASCII, no space, no '+'. */
static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > LFR__NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '+') return 0;
    return 1;
}

uint32_t lfr__key_id(const char *name, uint8_t type, const uint8_t pk[32])
{
    crypto_hash_sha256_state h;
    uint8_t d[32];
    const uint8_t nl = '\n';
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&h, &nl, 1);
    crypto_hash_sha256_update(&h, &type, 1);
    crypto_hash_sha256_update(&h, pk, 32);
    crypto_hash_sha256_final(&h, d);
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* Decode standard padded base64 of exactly `want` bytes (or, want == 0, of
 * 1 to cap bytes), refusing anything that does not re-encode to the same
 * text: one encoding per value. Returns the length, or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t want)
{
    size_t len = 0;
    const char *end = NULL;
    if (n == 0 || n > 4 * (cap / 3 + 2)) return -1;
    if (sodium_base642bin(out, cap, s, n, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) ||
        end != s + n || len == 0 || (want && len != want))
        return -1;
    char again[4 * ((4 + LFR__SIG_MAX) / 3 + 2) + 1];
    if (sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) > sizeof again) return -1;
    sodium_bin2base64(again, sizeof again, out, len, sodium_base64_VARIANT_ORIGINAL);
    if (strlen(again) != n || memcmp(again, s, n)) return -1;
    return (long)len;
}

static void b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
}

static int parse_hex32(const char *s, size_t n, uint32_t *out)
{
    if (n != 8) return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Split `s` (n bytes) at '+' into `k` parts, the last taking the rest
 * (base64 holds '+' too), as Go's note package reads keys. */
static int split_plus(const char *s, size_t n, int k, const char **part, size_t *len)
{
    size_t start = 0;
    for (int i = 0; i < k - 1; i++) {
        const char *plus = memchr(s + start, '+', n - start);
        if (!plus) return -1;
        part[i] = s + start;
        len[i] = (size_t)(plus - (s + start));
        start = (size_t)(plus - s) + 1;
    }
    part[k - 1] = s + start;
    len[k - 1] = n - start;
    return 0;
}

/* Trailing newlines and spaces off a key file's text. */
static size_t trim(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    return n;
}

/* ---- Keys ---------------------------------------------------------------------- */

int lfr__signer_generate(const char *name, uint8_t type, lfr__signer *out)
{
    memset(out, 0, sizeof *out);
    if (!name_ok(name, strlen(name)))
        return lfr__err(LFR_ERR_INVALID,
                        "key name '%.64s': 1 to %d printable characters, no space or '+'", name,
                        LFR__NAME_MAX);
    out->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!out->sk) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    crypto_sign_keypair(out->pk, out->sk);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->type = type;
    out->id = lfr__key_id(out->name, type, out->pk);
    return LFR_OK;
}

void lfr__signer_free(lfr__signer *s)
{
    if (s->sk) sodium_free(s->sk);
    memset(s, 0, sizeof *s);
}

int lfr__signer_parse(const char *text, size_t n, lfr__signer *out)
{
    memset(out, 0, sizeof *out);
    n = trim(text, n);
    const char *part[5];
    size_t len[5];
    uint32_t id;
    uint8_t raw[1 + 32 + 3];
    if (split_plus(text, n, 5, part, len) || len[0] != 7 || memcmp(part[0], "PRIVATE", 7) ||
        len[1] != 3 || memcmp(part[1], "KEY", 3) || !name_ok(part[2], len[2]) ||
        parse_hex32(part[3], len[3], &id) || b64_decode(part[4], len[4], raw, sizeof raw, 33) < 0 ||
        (raw[0] != LFR__KEY_ED25519 && raw[0] != LFR__KEY_COSIGNATURE)) {
        sodium_memzero(raw, sizeof raw);
        return lfr__err(LFR_ERR_FORMAT, "not a signing key (PRIVATE+KEY+name+id+key)");
    }
    out->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!out->sk) {
        sodium_memzero(raw, sizeof raw);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    crypto_sign_seed_keypair(out->pk, out->sk, raw + 1);
    sodium_memzero(raw + 1, 32);
    memcpy(out->name, part[2], len[2]);
    out->name[len[2]] = 0;
    out->type = raw[0];
    out->id = lfr__key_id(out->name, out->type, out->pk);
    if (out->id != id) {
        lfr__signer_free(out);
        return lfr__err(LFR_ERR_FORMAT, "signing key: its key id does not match the key");
    }
    return LFR_OK;
}

int lfr__signer_format(const lfr__signer *s, char *out, size_t cap)
{
    uint8_t raw[33];
    raw[0] = s->type;
    memcpy(raw + 1, s->sk, 32); /* libsodium's secret key starts with the seed */
    char b64[64];
    b64_encode(raw, sizeof raw, b64, sizeof b64);
    sodium_memzero(raw, sizeof raw);
    int k = snprintf(out, cap, "PRIVATE+KEY+%s+%08" PRIx32 "+%s\n", s->name, s->id, b64);
    sodium_memzero(b64, sizeof b64);
    if (k < 0 || (size_t)k >= cap) return lfr__err(LFR_ERR_INVALID, "key text too long");
    return LFR_OK;
}

void lfr__verifier_of(const lfr__signer *s, lfr__verifier *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", s->name);
    v->type = s->type;
    v->id = s->id;
    memcpy(v->pk, s->pk, 32);
}

int lfr__verifier_parse(const char *text, size_t n, lfr__verifier *out)
{
    memset(out, 0, sizeof *out);
    n = trim(text, n);
    const char *part[3];
    size_t len[3];
    uint8_t raw[1 + 32 + 3];
    if (split_plus(text, n, 3, part, len) || !name_ok(part[0], len[0]) ||
        parse_hex32(part[1], len[1], &out->id) ||
        b64_decode(part[2], len[2], raw, sizeof raw, 33) < 0 ||
        (raw[0] != LFR__KEY_ED25519 && raw[0] != LFR__KEY_COSIGNATURE))
        return lfr__err(LFR_ERR_FORMAT, "not a verifier key (name+id+key)");
    memcpy(out->name, part[0], len[0]);
    out->name[len[0]] = 0;
    out->type = raw[0];
    memcpy(out->pk, raw + 1, 32);
    if (lfr__key_id(out->name, out->type, out->pk) != out->id)
        return lfr__err(LFR_ERR_FORMAT, "verifier key %s: its key id does not match the key",
                        out->name);
    return LFR_OK;
}

void lfr__verifier_format(const lfr__verifier *v, char out[LFR__VKEY_MAX])
{
    uint8_t raw[33];
    raw[0] = v->type;
    memcpy(raw + 1, v->pk, 32);
    char b64[64];
    b64_encode(raw, sizeof raw, b64, sizeof b64);
    snprintf(out, LFR__VKEY_MAX, "%s+%08" PRIx32 "+%s", v->name, v->id, b64);
}

int lfr__verifier_same(const lfr__verifier *a, const lfr__verifier *b)
{
    return a->type == b->type && a->id == b->id && !strcmp(a->name, b->name) &&
           !memcmp(a->pk, b->pk, 32);
}

/* ---- Notes ----------------------------------------------------------------------- */

int lfr__note_parse(const char *in, size_t n, lfr__note *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || n > LFR__NOTE_MAX)
        return lfr__err(LFR_ERR_FORMAT, "signed note: empty or longer than %d bytes",
                        LFR__NOTE_MAX);
    if (!lfr__utf8_valid(in, n)) return lfr__err(LFR_ERR_FORMAT, "signed note: not UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] < 0x20 && in[i] != '\n')
            return lfr__err(LFR_ERR_FORMAT, "signed note: a control character at byte %zu", i);
    if (in[n - 1] != '\n')
        return lfr__err(LFR_ERR_FORMAT, "signed note: does not end with a newline");
    /* The text ends at the last blank line. */
    size_t split = 0;
    int found = 0;
    for (size_t i = n - 1; i-- > 0;)
        if (in[i] == '\n' && in[i + 1] == '\n') {
            split = i;
            found = 1;
            break;
        }
    if (!found || split == 0)
        return lfr__err(LFR_ERR_FORMAT, "signed note: no text, or no blank line before the "
                                        "signatures");
    out->text = in;
    out->n_text = split + 1;
    const char *p = in + split + 2, *end = in + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(eol - p);
        if (out->n_sigs == LFR__NOTE_SIGS_MAX)
            return lfr__err(LFR_ERR_FORMAT, "signed note: more than %d signatures",
                            LFR__NOTE_SIGS_MAX);
        if (len < sizeof em_dash || memcmp(p, em_dash, sizeof em_dash - 1))
            return lfr__err(LFR_ERR_FORMAT, "signed note: a signature line does not start with "
                                            "an em dash");
        const char *name = p + sizeof em_dash - 1;
        const char *sp = memchr(name, ' ', (size_t)(eol - name));
        if (!sp || !name_ok(name, (size_t)(sp - name)))
            return lfr__err(LFR_ERR_FORMAT, "signed note: a signature line's key name is "
                                            "malformed");
        lfr__note_sig *sg = &out->sigs[out->n_sigs];
        uint8_t raw[4 + LFR__SIG_MAX];
        long k = b64_decode(sp + 1, (size_t)(eol - sp - 1), raw, sizeof raw, 0);
        if (k < 5) {
            /* A longer signature (a post-quantum one) from a key this
             * program cannot know: kept as a line, never used. */
            if (k < 0 && (size_t)(eol - sp - 1) > 4 * (LFR__SIG_MAX / 3 + 2)) {
                p = eol + 1;
                out->n_unknown++;
                continue;
            }
            return lfr__err(LFR_ERR_FORMAT, "signed note: a signature is not base64 of a key "
                                            "id and a signature");
        }
        memcpy(sg->name, name, (size_t)(sp - name));
        sg->name[sp - name] = 0;
        sg->id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        sg->n_sig = (size_t)k - 4;
        memcpy(sg->sig, raw + 4, sg->n_sig);
        out->n_sigs++;
        p = eol + 1;
    }
    if (out->n_sigs + out->n_unknown == 0)
        return lfr__err(LFR_ERR_FORMAT, "signed note: no signature");
    return LFR_OK;
}

/* The message a cosignature signs: the header, the time, the note text. */
static int cosigned_message(uint64_t t, const char *text, size_t n, uint8_t **msg, size_t *len)
{
    char head[64];
    int k = snprintf(head, sizeof head, "cosignature/v1\ntime %" PRIu64 "\n", t);
    *msg = malloc((size_t)k + n);
    if (!*msg) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    memcpy(*msg, head, (size_t)k);
    memcpy(*msg + k, text, n);
    *len = (size_t)k + n;
    return LFR_OK;
}

int lfr__note_verify(const lfr__note *note, const lfr__verifier *v, uint64_t *time_out)
{
    if (time_out) *time_out = 0;
    for (int i = 0; i < note->n_sigs; i++) {
        const lfr__note_sig *sg = &note->sigs[i];
        if (sg->id != v->id || strcmp(sg->name, v->name)) continue;
        /* The first line of a known key decides, as in Go's note.Open. */
        if (v->type == LFR__KEY_ED25519) {
            return sg->n_sig == crypto_sign_BYTES &&
                           crypto_sign_verify_detached(sg->sig, (const uint8_t *)note->text,
                                                       note->n_text, v->pk) == 0
                       ? 1
                       : -1;
        }
        if (sg->n_sig != 8 + crypto_sign_BYTES) return -1;
        uint64_t t = 0;
        for (int b = 0; b < 8; b++)
            t = t << 8 | sg->sig[b];
        if (t >> 63) return -1;
        uint8_t *msg;
        size_t len;
        if (cosigned_message(t, note->text, note->n_text, &msg, &len)) return -1;
        int ok = crypto_sign_verify_detached(sg->sig + 8, msg, len, v->pk) == 0;
        free(msg);
        if (!ok) return -1;
        if (time_out) *time_out = t;
        return 1;
    }
    return 0;
}

int lfr__note_sign(const lfr__signer *s, const char *text, size_t n, uint64_t time,
                   char line[LFR__SIGLINE_MAX])
{
    uint8_t raw[4 + 8 + crypto_sign_BYTES];
    size_t k = 0;
    raw[k++] = (uint8_t)(s->id >> 24);
    raw[k++] = (uint8_t)(s->id >> 16);
    raw[k++] = (uint8_t)(s->id >> 8);
    raw[k++] = (uint8_t)s->id;
    if (s->type == LFR__KEY_ED25519) {
        crypto_sign_detached(raw + k, NULL, (const uint8_t *)text, n, s->sk);
        k += crypto_sign_BYTES;
    } else {
        for (int b = 0; b < 8; b++)
            raw[k++] = (uint8_t)(time >> (56 - 8 * b));
        uint8_t *msg;
        size_t len;
        int rc = cosigned_message(time, text, n, &msg, &len);
        if (rc) return rc;
        crypto_sign_detached(raw + k, NULL, msg, len, s->sk);
        free(msg);
        k += crypto_sign_BYTES;
    }
    char b64[4 * (sizeof raw / 3 + 2) + 1];
    b64_encode(raw, k, b64, sizeof b64);
    snprintf(line, LFR__SIGLINE_MAX, "%s%s %s\n", em_dash, s->name, b64);
    return LFR_OK;
}

/* ---- Checkpoints -------------------------------------------------------------------- */

int lfr__checkpoint_parse(const char *text, size_t n, lfr__checkpoint *out)
{
    memset(out, 0, sizeof *out);
    const char *line[3];
    size_t len[3];
    const char *p = text, *end = text + n;
    for (int i = 0; i < 3; i++) {
        const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!eol || eol == p)
            return lfr__err(LFR_ERR_FORMAT, "checkpoint: fewer than three non-empty lines");
        line[i] = p;
        len[i] = (size_t)(eol - p);
        p = eol + 1;
    }
    /* Extension lines may follow (none are written here); each non-empty. */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p)
            return lfr__err(LFR_ERR_FORMAT, "checkpoint: an empty extension line");
        out->n_extensions++;
        p = eol + 1;
    }
    if (len[0] > LFR__ORIGIN_MAX || !lfr__utf8_valid(line[0], len[0]))
        return lfr__err(LFR_ERR_FORMAT, "checkpoint: origin line is too long or not UTF-8");
    memcpy(out->origin, line[0], len[0]);
    out->origin[len[0]] = 0;
    if (len[1] > 20 || (len[1] > 1 && line[1][0] == '0'))
        return lfr__err(LFR_ERR_FORMAT, "checkpoint: tree size is not a decimal without leading "
                                        "zeros");
    uint64_t size = 0;
    for (size_t i = 0; i < len[1]; i++) {
        char c = line[1][i];
        if (c < '0' || c > '9' || size > (UINT64_MAX - 9) / 10)
            return lfr__err(LFR_ERR_FORMAT, "checkpoint: tree size is not a decimal number");
        size = size * 10 + (uint64_t)(c - '0');
    }
    out->size = size;
    if (b64_decode(line[2], len[2], out->root, LFR_HASH_BYTES, LFR_HASH_BYTES) < 0)
        return lfr__err(LFR_ERR_FORMAT, "checkpoint: root hash is not base64 of 32 bytes");
    return LFR_OK;
}

int lfr__checkpoint_format(const lfr__checkpoint *c, char *out, size_t cap, size_t *len_out)
{
    char b64[64];
    b64_encode(c->root, LFR_HASH_BYTES, b64, sizeof b64);
    int k = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, b64);
    if (k < 0 || (size_t)k >= cap) return lfr__err(LFR_ERR_INVALID, "checkpoint: origin too long");
    *len_out = (size_t)k;
    return LFR_OK;
}

int lfr__checkpoint_open(const char *in, size_t n, const lfr__verifier *keys, int n_keys,
                         lfr__checkpoint *cp, lfr__note *note, int *key_out)
{
    int rc = lfr__note_parse(in, n, note);
    if (!rc) rc = lfr__checkpoint_parse(note->text, note->n_text, cp);
    if (rc) return rc;
    for (int i = 0; i < n_keys; i++) {
        int v = lfr__note_verify(note, &keys[i], NULL);
        if (v < 0)
            return lfr__err(LFR_ERR_TAMPERED, "checkpoint: the signature by %s does not verify",
                            keys[i].name);
        if (v > 0) {
            if (key_out) *key_out = i;
            return LFR_OK;
        }
    }
    return lfr__err(LFR_ERR_TAMPERED, "checkpoint for %.64s: not signed by a trusted log key",
                    cp->origin);
}

/* ---- Proof texts ---------------------------------------------------------------------- */

/* Read one line (without its newline) at *p; NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
    if (*p >= end) return NULL;
    const char *eol = memchr(*p, '\n', (size_t)(end - *p));
    if (!eol) return NULL;
    const char *line = *p;
    *len = (size_t)(eol - line);
    *p = eol + 1;
    return line;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0')) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* The hash lines, the blank line, and the note that follows. */
static int proof_body(const char **p, const char *end, lfr__proof_text *out, const char *what)
{
    size_t len;
    const char *line;
    while ((line = next_line(p, end, &len)) && len > 0) {
        if (out->n == LFR__PROOF_MAX - 1)
            return lfr__err(LFR_ERR_FORMAT, "%s: more than %d proof hashes", what,
                            LFR__PROOF_MAX - 1);
        if (b64_decode(line, len, out->proof[out->n], LFR_HASH_BYTES, LFR_HASH_BYTES) < 0)
            return lfr__err(LFR_ERR_FORMAT, "%s: proof line %d is not base64 of 32 bytes", what,
                            out->n + 1);
        out->n++;
    }
    if (!line) return lfr__err(LFR_ERR_FORMAT, "%s: no blank line before the checkpoint", what);
    out->note = *p;
    out->n_note = (size_t)(end - *p);
    return LFR_OK;
}

int lfr__tlog_proof_parse(const char *in, size_t n, lfr__proof_text *out)
{
    memset(out, 0, sizeof *out);
    const char *p = in, *end = in + n;
    size_t len;
    const char *line = next_line(&p, end, &len);
    static const char magic[] = "c2sp.org/tlog-proof@v1";
    if (!line || len != sizeof magic - 1 || memcmp(line, magic, len))
        return lfr__err(LFR_ERR_FORMAT, "proof: does not start with %s", magic);
    line = next_line(&p, end, &len);
    if (line && len > 6 && !memcmp(line, "extra ", 6)) {
        size_t cap = (len - 6) / 4 * 3 + 3;
        if (len - 6 > LFR__EXTRA_B64_MAX || !(out->extra = malloc(cap)))
            return lfr__err(LFR_ERR_FORMAT, "proof: extra data is too long");
        size_t got = 0;
        const char *e = NULL;
        if (sodium_base642bin(out->extra, cap, line + 6, len - 6, NULL, &got, &e,
                              sodium_base64_VARIANT_ORIGINAL) ||
            e != line + len) {
            lfr__proof_text_free(out);
            return lfr__err(LFR_ERR_FORMAT, "proof: extra data is not base64");
        }
        out->n_extra = got;
        line = next_line(&p, end, &len);
    }
    if (!line || len < 7 || memcmp(line, "index ", 6) ||
        parse_u64(line + 6, len - 6, &out->number)) {
        lfr__proof_text_free(out);
        return lfr__err(LFR_ERR_FORMAT, "proof: no 'index N' line");
    }
    int rc = proof_body(&p, end, out, "proof");
    if (rc) lfr__proof_text_free(out);
    return rc;
}

int lfr__witness_request_parse(const char *in, size_t n, lfr__proof_text *out)
{
    memset(out, 0, sizeof *out);
    const char *p = in, *end = in + n;
    size_t len;
    const char *line = next_line(&p, end, &len);
    if (!line || len < 5 || memcmp(line, "old ", 4) || parse_u64(line + 4, len - 4, &out->number))
        return lfr__err(LFR_ERR_FORMAT, "witness request: no 'old N' line");
    return proof_body(&p, end, out, "witness request");
}

void lfr__proof_text_free(lfr__proof_text *t)
{
    free(t->extra);
    t->extra = NULL;
    t->n_extra = 0;
}
