/*
 * libFuzzer target for the witness (src/audit/witness.c): its state file
 * (witness.state, on disk, so outside input to the program that reads it)
 * and the requests it is asked to cosign. Any bytes must parse or fail with
 * a message; a state that parses must write back to text that parses to the
 * same state; a request is checked against a fixed state exactly as
 * cosigning checks it, without the key or the files.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lfr__witness_state fixed;
    static int ready;
    if (!ready) {
        if (sodium_init() < 0) abort();
        static const char st[] =
            "openlfr-witness-state-v1\n"
            "log "
            "openlfr.local/cdef26daa7aa2bb2+7ed6e222+ATPYkesoOO8AmrSbPWZwTxfkPINhe0V8mx7F4EAZEXTd\n"
            "size 0\nroot 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 0\n";
        if (lfr__witness_state_parse(st, sizeof st - 1, &fixed)) abort();
        ready = 1;
    }
    const char *text = (const char *)data;
    lfr__witness_state st, again;
    if (lfr__witness_state_parse(text, size, &st) == 0) {
        char out[1024];
        size_t n;
        if (lfr__witness_state_format(&st, out, sizeof out, &n) ||
            lfr__witness_state_parse(out, n, &again) || again.size != st.size ||
            again.time != st.time || memcmp(again.root, st.root, sizeof st.root) ||
            !lfr__verifier_same(&again.log, &st.log))
            abort();
    }
    lfr__checkpoint cp;
    lfr__witness_check(&fixed, text, size, &cp);
    fixed.size = 5;
    lfr__witness_check(&fixed, text, size, &cp);
    fixed.size = 0;
    return 0;
}
