/*
 * openlfr's transparency log: the audit entries (lfr/store.h) as the leaves
 * of an RFC 9162 Merkle tree (SHA-256), whose head every commit signs with
 * the home's log key (Ed25519, separate from the media key), checkpoints in
 * the common signed-note form (c2sp.org/tlog-checkpoint) that outside
 * parties keep, inclusion proofs a third party can check
 * (c2sp.org/tlog-proof), and a witness that co-signs a checkpoint only when
 * it extends the last one it saw (c2sp.org/tlog-cosignature).
 *
 *     lfr_store *st;
 *     lfr_store_open_readonly("copy-of-home", &st);   // no key, writes nothing
 *     lfr_audit_verify_config c = lfr_audit_verify_config_default();
 *     c.checkpoint = text_kept_from_last_month;       // lfr_audit_checkpoint's output
 *     c.checkpoint_len = strlen(c.checkpoint);
 *     lfr_audit_verdict v;
 *     if (lfr_audit_verify_with(st, &c, &v) != LFR_OK)
 *         printf("%s\n", lfr_errmsg());               // where the log diverges
 *     lfr_store_close(st);
 *
 * What a checkpoint says. "<origin>\n<size>\n<base64 root>\n\n— <key name>
 * <base64(key id || Ed25519 signature)>\n": that the first <size> audit
 * entries of the log named <origin> hash to <root>. Anyone holding an
 * earlier checkpoint can check that the log today extends it; nobody
 * without the log key can make a checkpoint; a forged entry appended to the
 * database is not covered by the signed head and is found at once; and a
 * rewrite of the whole home with its key is found against any checkpoint
 * kept outside it, and refused by the witness. docs/RECORDS.md states the
 * trust model in full.
 */
#ifndef LFR_LOG_H
#define LFR_LOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How far an entry's time may be earlier than that of an entry before it
 * before verification calls the clock set back (5 minutes). */
#define LFR_AUDIT_TIME_TOLERANCE_MS (5 * 60 * 1000)

/* ---- Reading a home without writing it ----------------------------------- */

/* Open a home to read it only: no media key is read, no migration is
 * applied, nothing is written (SQLite read-only; a database in a folder this
 * user may not write is read as an immutable file when no -wal file holds
 * changes). Every function that would change the store fails with
 * LFR_ERR_DENIED. For auditors, on evidential copies. */
int lfr_store_open_readonly(const char *home, lfr_store **store_out);

/* ---- Verification ---------------------------------------------------------- */

typedef struct lfr_audit_verify_config {
    /* An earlier checkpoint (a signed note, e.g. lfr_audit_checkpoint's
     * output, perhaps with witness cosignatures) that the log must extend:
     * its signature is checked, then a consistency proof from its size to
     * the log's signed head. NULL: none. */
    const char *checkpoint;
    size_t checkpoint_len;
    /* The log keys to trust (verifier key texts, name+id+key). None: the
     * keys in the home's log.pub. */
    const char *const *keys;
    int n_keys;
    /* Witness keys (verifier key texts of cosigners), and how many of them
     * must have cosigned the checkpoint above. */
    const char *const *witness_keys;
    int n_witness_keys;
    int require_witness;
    /* LFR_AUDIT_TIME_TOLERANCE_MS by default. */
    int64_t time_tolerance_ms;
} lfr_audit_verify_config;

lfr_audit_verify_config lfr_audit_verify_config_default(void);

/* lfr_audit_verify (lfr/store.h) with the options above, and the log's own
 * checks: the signed head (log_head) must verify under a trusted key and
 * cover every entry (an entry after it was added without the key), the
 * entries must hash to its root, audit.head (now a signed checkpoint) and
 * every published checkpoint must match the log at their size, entry times
 * must not go back by more than the tolerance, then the records. The
 * verdict's log fields are filled in. Works on lfr_store_open_readonly
 * handles. */
int lfr_audit_verify_with(lfr_store *store, const lfr_audit_verify_config *config,
                          lfr_audit_verdict *verdict_out);

/* ---- Checkpoints and proofs ------------------------------------------------- */

/* The latest signed checkpoint of the log (the head signed at the last
 * commit), as a signed note. *text_out is malloc'd (the caller frees it).
 * LFR_ERR_CONFLICT for a home whose log has not started (an old home not yet
 * opened by this version). */
int lfr_audit_checkpoint(lfr_store *store, char **text_out, size_t *n_out);

/* A request for a witness (the body of c2sp.org/tlog-witness add-checkpoint):
 * "old N", the consistency proof from the first N entries to the latest
 * checkpoint, a blank line, the checkpoint. N is the size of the last
 * checkpoint the witness cosigned (0 the first time). */
int lfr_audit_witness_request(lfr_store *store, uint64_t old_size, char **text_out, size_t *n_out);

/* An inclusion proof of entry `seq` in the latest checkpoint, as
 * c2sp.org/tlog-proof@v1: the entry's canonical bytes (docs/RECORDS.md) as
 * its extra data, its index (seq - 1), the proof hashes, and the checkpoint.
 * scripts/audit-verify.py --proof checks one without lfr. */
int lfr_audit_prove(lfr_store *store, uint64_t seq, char **text_out, size_t *n_out);

/* Publish the latest checkpoint (into the log's list of published
 * checkpoints) if entries are waiting and the policy's checkpoint_minutes
 * have passed since the last one; for a service's timer. *published_out
 * (may be NULL) says whether one was. Commits publish by themselves: at a
 * deployment's start and stop, and when checkpoint_entries entries or
 * checkpoint_minutes have gone by. */
int lfr_audit_checkpoint_tick(lfr_store *store, int *published_out);

/* The log's key, as a verifier key text (name+id+key) in out, and the
 * log's origin (its checkpoints' first line). */
int lfr_audit_log_key(lfr_store *store, char out[256]);

/* ---- Re-anchoring ------------------------------------------------------------- */

/* When the log cannot be extended (audit.head missing or malformed, entries
 * added without the log key, the signed head missing, the log key lost),
 * writes stop with LFR_ERR_TAMPERED. An administrator who has looked into it
 * re-anchors: a "log.reanchor" entry records `reason` and what was found
 * (which entries were not signed, what was wrong with audit.head, a new key
 * if the old one was lost), the head is signed again and audit.head written
 * anew (a malformed one is kept beside it as evidence). The entries stay as
 * they were: verification reports every re-anchoring. LFR_ERR_CONFLICT when
 * nothing needs re-anchoring; the actor needs LFR_ACTION_AUDIT_REANCHOR. */
int lfr_audit_reanchor(lfr_store *store, const lfr_user *actor, const char *reason,
                       char found_out[512]);

/* ---- The witness ----------------------------------------------------------------- */

/* A witness lives in its own folder, at an oversight body: its key
 * (witness.key, 0600), its public key (witness.pub) and a small state file
 * (witness.state: the log it watches, the size and root it last cosigned).
 *
 * Create one in `dir` (made 0700; an existing folder must be empty), named
 * `name` (e.g. "ipco.example/witness"), watching the log whose key is
 * `log_key` (a verifier key text, from lfr_audit_log_key). */
int lfr_witness_init(const char *dir, const char *name, const char *log_key);

/* Cosign a request made by lfr_audit_witness_request: the checkpoint must
 * be signed by the log's key, its old size must be the size this witness
 * last cosigned (LFR_ERR_CONFLICT otherwise, naming that size), and the
 * consistency proof must show that it extends that checkpoint
 * (LFR_ERR_TAMPERED otherwise: the log was rewritten). Then the state moves
 * forward (atomically, under a lock) and *note_out is the checkpoint with
 * this witness's cosignature added (malloc'd). */
int lfr_witness_cosign(const char *dir, const char *request, size_t n, char **note_out,
                       size_t *n_out);

typedef struct lfr_witness_info {
    char name[256];
    char key[256];     /* the witness's verifier key (cosignature type) */
    char log_key[256]; /* the log it watches */
    uint64_t size;     /* the last size it cosigned (0: none yet) */
    uint8_t root[32];
    int64_t time; /* when, seconds since the epoch */
} lfr_witness_info;

int lfr_witness_show(const char *dir, lfr_witness_info *out);

#ifdef __cplusplus
}
#endif
#endif /* LFR_LOG_H */
