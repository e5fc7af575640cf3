/*
 * libFuzzer target for the proof texts (src/audit/note.c): an inclusion
 * proof (c2sp.org/tlog-proof@v1, from `lfr audit prove`) and a witness
 * request ("old N", a consistency proof, a checkpoint). Any bytes must parse
 * or fail with a message; what parses is run through the RFC 9162 proof
 * checks with sizes and roots taken from the input, which must answer
 * without reading outside the proof.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) ready = sodium_init() >= 0;
    const char *text = (const char *)data;
    uint8_t root[LFR_HASH_BYTES], other[LFR_HASH_BYTES];
    crypto_hash_sha256(root, data, size);
    memcpy(other, root, sizeof other);
    other[0] ^= 1;
    lfr__proof_text p;
    if (lfr__tlog_proof_parse(text, size, &p) == 0) {
        uint8_t leaf[LFR_HASH_BYTES];
        lfr__merkle_leaf(p.extra ? p.extra : data, p.extra ? p.n_extra : 0, leaf);
        uint64_t sizes[3] = {p.number + 1, p.number + (uint64_t)p.n + 1, UINT64_MAX};
        for (int i = 0; i < 3; i++)
            lfr__merkle_inclusion_check(p.number, sizes[i], leaf,
                                        (const uint8_t(*)[LFR_HASH_BYTES])p.proof, p.n, root);
        lfr__proof_text_free(&p);
    }
    if (lfr__witness_request_parse(text, size, &p) == 0) {
        uint64_t sizes[3] = {p.number, p.number + 1, p.number * 2 + (uint64_t)p.n};
        for (int i = 0; i < 3; i++)
            lfr__merkle_consistency_check(p.number, sizes[i], root, other,
                                          (const uint8_t(*)[LFR_HASH_BYTES])p.proof, p.n);
        lfr__proof_text_free(&p);
    }
    return 0;
}
