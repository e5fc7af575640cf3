/*
 * An audit entry's bytes and the two hashes over them.
 *
 * The canonical encoding of an entry is a domain tag, then seq as 8 bytes
 * big-endian, then time, actor, action, object and detail each as its
 * length (8 bytes big-endian) and its bytes, then prev_hash (the previous
 * entry's chain hash, 32 zero bytes for entry 1): no two different entries
 * encode the same way, whatever the fields contain, NUL bytes included. The
 * field lengths are the stored byte lengths, never strlen() of what was
 * read back.
 *
 *   - The chain hash (the entry's `hash`) is BLAKE2b-256 of the encoding, as
 *     since the first release.
 *   - The Merkle leaf is SHA-256(0x00 || encoding) (RFC 9162), the leaf of
 *     the transparency log over the same entries.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

static const char hash_domain[] = "openlfr audit entry v1";

/* Somewhere to send the encoding: one of the two hash states, or a buffer
 * (which `len` counts even when it is NULL). */
typedef struct sink {
    crypto_generichash_state *b2;
    crypto_hash_sha256_state *s256;
    uint8_t *buf;
    size_t len;
} sink;

static void put(sink *k, const void *p, size_t n)
{
    if (k->b2)
        crypto_generichash_update(k->b2, p, n);
    else if (k->s256)
        crypto_hash_sha256_update(k->s256, p, n);
    else if (k->buf)
        memcpy(k->buf + k->len, p, n);
    k->len += n;
}

static void put_u64(sink *k, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    put(k, b, sizeof b);
}

static void put_field(sink *k, const char *s, size_t n)
{
    put_u64(k, n);
    put(k, s, n);
}

static void encode(sink *k, const lfr_audit_entry *e)
{
    put_field(k, hash_domain, sizeof hash_domain - 1);
    put_u64(k, e->seq);
    put_field(k, e->time, e->n_time);
    put_field(k, e->actor, e->n_actor);
    put_field(k, e->action, e->n_action);
    put_field(k, e->object, e->n_object);
    put_field(k, e->detail, e->n_detail);
    put(k, e->prev_hash, LFR_HASH_BYTES);
}

void lfr__entry_lengths(lfr_audit_entry *e)
{
    e->n_time = strlen(e->time);
    e->n_actor = strlen(e->actor);
    e->n_action = strlen(e->action);
    e->n_object = strlen(e->object);
    e->n_detail = strlen(e->detail);
}

void lfr__entry_hash(const lfr_audit_entry *e, uint8_t out[LFR_HASH_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, LFR_HASH_BYTES);
    sink k = {&h, NULL, NULL, 0};
    encode(&k, e);
    crypto_generichash_final(&h, out, LFR_HASH_BYTES);
}

void lfr__entry_leaf(const lfr_audit_entry *e, uint8_t out[LFR_HASH_BYTES])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    const uint8_t zero = 0x00;
    crypto_hash_sha256_update(&h, &zero, 1);
    sink k = {NULL, &h, NULL, 0};
    encode(&k, e);
    crypto_hash_sha256_final(&h, out);
}

int lfr__entry_encode(const lfr_audit_entry *e, uint8_t **out, size_t *n_out)
{
    sink k = {0};
    encode(&k, e);
    *out = malloc(k.len);
    if (!*out) return LFR_ERR_NOMEM;
    k.buf = *out;
    k.len = 0;
    encode(&k, e);
    *n_out = k.len;
    return LFR_OK;
}

void lfr__audit_hash(uint64_t seq, const char *time, const char *actor, const char *action,
                     const char *object, const char *detail,
                     const uint8_t prev_hash[LFR_HASH_BYTES], uint8_t out[LFR_HASH_BYTES])
{
    lfr_audit_entry e = {.seq = seq,
                         .time = time,
                         .actor = actor,
                         .action = action,
                         .object = object,
                         .detail = detail};
    memcpy(e.prev_hash, prev_hash, LFR_HASH_BYTES);
    lfr__entry_lengths(&e);
    lfr__entry_hash(&e, out);
}
