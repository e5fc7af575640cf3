/*
 * The audit log itself, below the store: entry hashing and the hash chain.
 * Nothing here knows about homes, databases or records; it depends on
 * src/util and libsodium only, so that the store (which writes entries and
 * checks records against them) builds on it and never the other way round.
 */
#ifndef LFR_AUDIT_LOG_H
#define LFR_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- merkle.c: the RFC 9162 Merkle tree (SHA-256) ------------------------------- */

/* A proof has at most this many hashes (one per level of a tree of up to
 * 2^64 leaves). */
#define LFR__PROOF_MAX 64

/* SHA-256(0x00 || data), SHA-256(0x01 || left || right), SHA-256(""). */
void lfr__merkle_leaf(const uint8_t *data, size_t n, uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_node(const uint8_t left[LFR_HASH_BYTES], const uint8_t right[LFR_HASH_BYTES],
                      uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_empty(uint8_t out[LFR_HASH_BYTES]);

/* The frontier of a tree: the roots of its perfect subtrees, largest
 * (leftmost) first, one per one bit of size. Enough to append and to
 * compute the root. */
typedef struct lfr__frontier {
    uint64_t size;
    int n;
    uint8_t h[64][LFR_HASH_BYTES];
} lfr__frontier;

void lfr__frontier_init(lfr__frontier *f);
void lfr__frontier_push(lfr__frontier *f, const uint8_t leaf[LFR_HASH_BYTES]);
void lfr__frontier_root(const lfr__frontier *f, uint8_t out[LFR_HASH_BYTES]);

/* Stored form: the size (8 bytes big-endian), then the hashes. decode
 * returns -1 unless there is exactly one hash per one bit of the size. */
#define LFR__FRONTIER_MAX (8 + 64 * LFR_HASH_BYTES)
size_t lfr__frontier_encode(const lfr__frontier *f, uint8_t out[LFR__FRONTIER_MAX]);
int lfr__frontier_decode(const uint8_t *in, size_t n, lfr__frontier *f);

/* A tree over n leaf hashes, holding every perfect subtree's hash (about
 * 2n hashes), for roots and proofs at any size up to n. */
typedef struct lfr__tree lfr__tree;
int lfr__tree_build(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n, lfr__tree **out);
void lfr__tree_free(lfr__tree *t);
uint64_t lfr__tree_size(const lfr__tree *t);
void lfr__tree_leaf(const lfr__tree *t, uint64_t index, uint8_t out[LFR_HASH_BYTES]);
void lfr__tree_root(const lfr__tree *t, uint64_t size, uint8_t out[LFR_HASH_BYTES]);

/* The inclusion proof of leaf `index` (0-based) in the tree of the first
 * `size` leaves (RFC 9162 2.1.3.1), and the consistency proof from the
 * first m leaves to the first `size` (2.1.4.1; empty when m is 0 or size),
 * hashes from the bottom up; *n_out of them. LFR_ERR_INVALID when the sizes
 * do not fit the tree. */
int lfr__tree_inclusion(const lfr__tree *t, uint64_t index, uint64_t size,
                        uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out);
int lfr__tree_consistency(const lfr__tree *t, uint64_t m, uint64_t size,
                          uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES], int *n_out);

/* The same computed literally from the RFC's recursive definitions over
 * the leaves (MTH, PATH, SUBPROOF): the references the tests compare with. */
void lfr__merkle_root_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t n,
                            uint8_t out[LFR_HASH_BYTES]);
void lfr__merkle_inclusion_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t index,
                                 uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                 int *n_out);
void lfr__merkle_consistency_naive(const uint8_t (*leaves)[LFR_HASH_BYTES], uint64_t m,
                                   uint64_t size, uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES],
                                   int *n_out);

/* Check proofs (RFC 9162 2.1.3.2 and 2.1.4.2): 0 when the proof shows the
 * leaf in the tree with `root`, or the tree of m leaves with old_root to be
 * the first m leaves of the tree with new_root; -1 otherwise. */
int lfr__merkle_inclusion_check(uint64_t index, uint64_t size, const uint8_t leaf[LFR_HASH_BYTES],
                                const uint8_t (*proof)[LFR_HASH_BYTES], int n,
                                const uint8_t root[LFR_HASH_BYTES]);
int lfr__merkle_consistency_check(uint64_t m, uint64_t size, const uint8_t old_root[LFR_HASH_BYTES],
                                  const uint8_t new_root[LFR_HASH_BYTES],
                                  const uint8_t (*proof)[LFR_HASH_BYTES], int n);

/* ---- entry.c: an entry's bytes and hashes ----------------------------------- */

/* Set the five n_* lengths of an entry with strlen() (for entries being
 * written, which are C strings). */
void lfr__entry_lengths(lfr_audit_entry *e);

/* The chain hash (BLAKE2b-256) and the Merkle leaf hash
 * (SHA-256(0x00 || entry)) of an entry's canonical encoding
 * (docs/RECORDS.md, "Hash"), over its stored byte lengths. */
void lfr__entry_hash(const lfr_audit_entry *e, uint8_t out[LFR_HASH_BYTES]);
void lfr__entry_leaf(const lfr_audit_entry *e, uint8_t out[LFR_HASH_BYTES]);

/* The canonical encoding itself (malloc'd into *out; LFR_ERR_NOMEM): what
 * an inclusion proof carries so that a third party can recompute the leaf
 * and read the entry. */
int lfr__entry_encode(const lfr_audit_entry *e, uint8_t **out, size_t *n_out);

/* The chain hash of an entry given as C strings. */
void lfr__audit_hash(uint64_t seq, const char *time, const char *actor, const char *action,
                     const char *object, const char *detail,
                     const uint8_t prev_hash[LFR_HASH_BYTES], uint8_t out[LFR_HASH_BYTES]);

/* ---- chain.c: walking the log -------------------------------------------------- */

/* How far an entry's time may be earlier than an entry before it: clocks
 * are corrected, and writers take their time just before their turn. */
#define LFR__TIME_TOLERANCE_MS (5 * 60 * 1000)

/* The state of a walk over the entries in seq order. */
typedef struct lfr__chain {
    uint64_t expect;              /* the seq the next entry must have */
    uint8_t prev[LFR_HASH_BYTES]; /* the hash it must link to */
    uint64_t n_entries;           /* entries seen, good or bad */
    uint64_t first_bad;           /* set when a check fails */
    char reason[320];
    int64_t tolerance_ms; /* LFR__TIME_TOLERANCE_MS unless changed */
    int64_t latest_ms;    /* the latest entry time so far */
    uint64_t latest_seq;  /* and its entry */
    lfr__frontier tree;   /* the Merkle tree of the good entries */
    int collect;          /* keep every leaf hash in leaves */
    uint8_t (*leaves)[LFR_HASH_BYTES];
    size_t cap;
} lfr__chain;

void lfr__chain_init(lfr__chain *c, int collect_leaves);
void lfr__chain_free(lfr__chain *c);

/* Check the next entry: its seq follows the previous one, its fields are
 * text, its prev_hash is the previous entry's hash, its hash matches its
 * contents, and its time is not set back; then add it to the tree. 0, or
 * -1 with first_bad and reason set (the walk should stop there). */
int lfr__chain_next(lfr__chain *c, const lfr_audit_entry *e);

/* ---- note.c: signed notes, keys, checkpoints, proof texts --------------------- */

#define LFR__NAME_MAX 128            /* key names: printable ASCII, no space, no '+' */
#define LFR__ORIGIN_MAX 255          /* a checkpoint's origin line, in bytes */
#define LFR__NOTE_MAX 65536          /* a signed note, in bytes */
#define LFR__NOTE_SIGS_MAX 32        /* signature lines kept from one note */
#define LFR__SIG_MAX 72              /* signature bytes after the key id (8 + 64) */
#define LFR__VKEY_MAX 256            /* a verifier key's text with its NUL */
#define LFR__SIGLINE_MAX 320         /* a signature line with its newline and NUL */
#define LFR__EXTRA_B64_MAX (4 << 20) /* a proof's extra data, base64 */

/* Signature types (c2sp.org/signed-note): the log's Ed25519 signatures, and
 * timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature). */
#define LFR__KEY_ED25519 0x01
#define LFR__KEY_COSIGNATURE 0x04

/* SHA-256(name || "\n" || type || public key)[:4], big-endian. */
uint32_t lfr__key_id(const char *name, uint8_t type, const uint8_t pk[32]);

/* A signing key: its secret half in sodium_malloc'd memory. */
typedef struct lfr__signer {
    char name[LFR__NAME_MAX + 1];
    uint8_t type;
    uint32_t id;
    uint8_t pk[32];
    uint8_t *sk; /* crypto_sign_SECRETKEYBYTES */
} lfr__signer;

/* A public key that checks signatures. */
typedef struct lfr__verifier {
    char name[LFR__NAME_MAX + 1];
    uint8_t type;
    uint32_t id;
    uint8_t pk[32];
} lfr__verifier;

/* Make a new key, read one from its text (PRIVATE+KEY+name+id+key), write
 * its text (secret: the caller wipes it), free it (wiping the secret). */
int lfr__signer_generate(const char *name, uint8_t type, lfr__signer *out);
int lfr__signer_parse(const char *text, size_t n, lfr__signer *out);
int lfr__signer_format(const lfr__signer *s, char *out, size_t cap);
void lfr__signer_free(lfr__signer *s);

/* A signer's public key; a verifier key's text (name+id+key) read and
 * written; whether two are the same key. */
void lfr__verifier_of(const lfr__signer *s, lfr__verifier *v);
int lfr__verifier_parse(const char *text, size_t n, lfr__verifier *out);
void lfr__verifier_format(const lfr__verifier *v, char out[LFR__VKEY_MAX]);
int lfr__verifier_same(const lfr__verifier *a, const lfr__verifier *b);

typedef struct lfr__note_sig {
    char name[LFR__NAME_MAX + 1];
    uint32_t id;
    uint8_t sig[LFR__SIG_MAX];
    size_t n_sig;
} lfr__note_sig;

/* A parsed signed note: the signed text points into the input. */
typedef struct lfr__note {
    const char *text;
    size_t n_text; /* up to and including the text's final newline */
    int n_sigs;
    int n_unknown; /* lines too long for any key known here (ignored) */
    lfr__note_sig sigs[LFR__NOTE_SIGS_MAX];
} lfr__note;

/* Parse a signed note (UTF-8, no control characters but newlines, text,
 * blank line, one or more "— name base64" lines). LFR_ERR_FORMAT with a
 * one-line reason otherwise. */
int lfr__note_parse(const char *in, size_t n, lfr__note *out);

/* 1 when the note carries a signature by v that verifies (for a
 * cosignature, its time in *time_out), 0 when it carries none, -1 when v's
 * signature line fails (the note must then be refused). */
int lfr__note_verify(const lfr__note *note, const lfr__verifier *v, uint64_t *time_out);

/* The signature line of `s` over the text (a cosigner also signs `time`,
 * seconds since the epoch). */
int lfr__note_sign(const lfr__signer *s, const char *text, size_t n, uint64_t time,
                   char line[LFR__SIGLINE_MAX]);

/* A checkpoint's text: origin, tree size, root hash (then extension lines,
 * which are counted and otherwise ignored). */
typedef struct lfr__checkpoint {
    char origin[LFR__ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[LFR_HASH_BYTES];
    int n_extensions;
} lfr__checkpoint;

int lfr__checkpoint_parse(const char *text, size_t n, lfr__checkpoint *out);
int lfr__checkpoint_format(const lfr__checkpoint *c, char *out, size_t cap, size_t *len_out);

/* Parse a signed checkpoint and check it against the trusted log keys: OK
 * with the index of the key that signed it, or LFR_ERR_FORMAT /
 * LFR_ERR_TAMPERED (no trusted signature, or one that fails). */
int lfr__checkpoint_open(const char *in, size_t n, const lfr__verifier *keys, int n_keys,
                         lfr__checkpoint *cp, lfr__note *note, int *key_out);

/* A proof with its checkpoint: c2sp.org/tlog-proof@v1 (number is the
 * 0-based index, extra the optional extra data, malloc'd) or a witness
 * request as c2sp.org/tlog-witness add-checkpoint takes it ("old N", the
 * consistency proof; number is the old size). note points into the input. */
typedef struct lfr__proof_text {
    uint64_t number;
    int n;
    uint8_t proof[LFR__PROOF_MAX][LFR_HASH_BYTES];
    uint8_t *extra;
    size_t n_extra;
    const char *note;
    size_t n_note;
} lfr__proof_text;

int lfr__tlog_proof_parse(const char *in, size_t n, lfr__proof_text *out);
int lfr__witness_request_parse(const char *in, size_t n, lfr__proof_text *out);
void lfr__proof_text_free(lfr__proof_text *t);

/* ---- witness.c: the witness's state ----------------------------------------------- */

/* What a witness remembers: the log it watches and the checkpoint it last
 * cosigned (size 0 and the empty root before the first). */
typedef struct lfr__witness_state {
    lfr__verifier log;
    uint64_t size;
    uint8_t root[LFR_HASH_BYTES];
    int64_t time;
} lfr__witness_state;

/* Read and write witness.state's text (fuzzed: it is a file on disk). */
int lfr__witness_state_parse(const char *in, size_t n, lfr__witness_state *out);
int lfr__witness_state_format(const lfr__witness_state *st, char *out, size_t cap, size_t *n_out);

/* Check a witness request against a state, as cosigning does (without the
 * key, the files or the lock): OK with the checkpoint it would cosign. */
int lfr__witness_check(const lfr__witness_state *st, const char *req, size_t n,
                       lfr__checkpoint *cp_out);

#endif
