/*
 * The audit entry's chain hash. Each entry's hash is BLAKE2b-256 over an
 * unambiguous encoding of (seq, time, actor, action, object, detail,
 * prev_hash), where prev_hash is the previous entry's hash (32 zero bytes
 * for entry 1). The encoding is a domain tag, then seq as 8 bytes
 * big-endian, then each text field as its length (8 bytes big-endian) and
 * its bytes, then prev_hash: no two different entries encode the same way,
 * whatever the fields contain.
 */
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

static const char hash_domain[] = "openlfr audit entry v1";

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

static void put_str(crypto_generichash_state *h, const char *s)
{
    size_t n = strlen(s);
    put_u64(h, n);
    crypto_generichash_update(h, (const uint8_t *)s, n);
}

void lfr__audit_hash(uint64_t seq, const char *time, const char *actor, const char *action,
                     const char *object, const char *detail,
                     const uint8_t prev_hash[LFR_HASH_BYTES], uint8_t out[LFR_HASH_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, LFR_HASH_BYTES);
    put_str(&h, hash_domain);
    put_u64(&h, seq);
    put_str(&h, time);
    put_str(&h, actor);
    put_str(&h, action);
    put_str(&h, object);
    put_str(&h, detail);
    crypto_generichash_update(&h, prev_hash, LFR_HASH_BYTES);
    crypto_generichash_final(&h, out, LFR_HASH_BYTES);
}
