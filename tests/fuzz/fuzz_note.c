/*
 * libFuzzer target for signed notes and keys (src/audit/note.c), what an
 * auditor or a witness is handed from outside: any bytes must parse or fail
 * with a message; a note that parses is checked against a log key and a
 * witness key (signature lines of every shape, the cosignature's time);
 * a checkpoint's text, a verifier key and a signing key are read too, and a
 * verifier key that parses must write back to the same key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfr__verifier log_key, witness_key;
static lfr__note *note;

static void setup(void)
{
    if (note) return;
    if (sodium_init() < 0) abort();
    static const char lk[] =
        "openlfr.local/cdef26daa7aa2bb2+7ed6e222+ATPYkesoOO8AmrSbPWZwTxfkPINhe0V8mx7F4EAZEXTd";
    static const char wk[] =
        "ipco.example/witness+68566158+BFTdl8Z+CtPW617yo50lksL/hTvg8a4mkMECk81JY0G7";
    /* The keys of the notes in the seed corpus (tests/fuzz/corpus/note). */
    if (lfr__verifier_parse(lk, strlen(lk), &log_key) ||
        lfr__verifier_parse(wk, strlen(wk), &witness_key))
        abort();
    note = malloc(sizeof *note);
    if (!note) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const char *text = (const char *)data;
    if (lfr__note_parse(text, size, note) == 0) {
        lfr__checkpoint cp;
        lfr__checkpoint_parse(note->text, note->n_text, &cp);
        uint64_t t;
        lfr__note_verify(note, &log_key, &t);
        lfr__note_verify(note, &witness_key, &t);
    }
    lfr__checkpoint cp;
    int key;
    lfr__checkpoint_open(text, size, &log_key, 1, &cp, note, &key);
    lfr__checkpoint_parse(text, size, &cp);
    lfr__verifier v, again;
    if (lfr__verifier_parse(text, size, &v) == 0) {
        char out[LFR__VKEY_MAX];
        lfr__verifier_format(&v, out);
        if (lfr__verifier_parse(out, strlen(out), &again) || !lfr__verifier_same(&v, &again))
            abort();
    }
    lfr__signer s;
    if (lfr__signer_parse(text, size, &s) == 0) lfr__signer_free(&s);
    return 0;
}
