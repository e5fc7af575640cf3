/*
 * Inside the store: the backend interface that keeps every line of SQL out
 * of the rest of the library, and the store handle built on it.
 *
 * A backend (SQLite now, PostgreSQL later) implements lfr__backend: open and
 * close a database, transactions, one schema migration step, and the record
 * operations the public API needs. The backend does no permission checks
 * and writes no audit entries; store.c and audit.c do both, inside a
 * transaction the backend provides. The log's own layer (hashing, the
 * chain) is src/audit, which knows nothing of the store. Operations return lfr_status codes and
 * set lfr_errmsg(); a missing row is LFR_ERR_NOT_FOUND, a uniqueness clash
 * LFR_ERR_CONFLICT, anything else from the database LFR_ERR_STORE.
 */
#ifndef LFR_STORE_INTERNAL_H
#define LFR_STORE_INTERNAL_H

#include <stdint.h>

#include "audit/log.h"
#include "lfr/lfr.h"
#include "util/util.h"

/* A user row as stored, with its argon2id password hash. */
typedef struct lfr__user_row {
    lfr_user user;
    char pwhash[160]; /* crypto_pwhash_STRBYTES is 128 */
    int disabled;
} lfr__user_row;

/* An audit row to insert; hashes computed by audit.c. */
typedef struct lfr__audit_row {
    uint64_t seq;
    const char *time, *actor, *action, *object, *detail;
    const uint8_t *prev_hash, *hash;
} lfr__audit_row;

/* Deployment, snapshot and alert rows: the public structs plus what only
 * the store sees (the names of sealed files). */
typedef struct lfr__deployment_row {
    lfr_deployment d;
    char snapshot_file[65]; /* "" when none or purged */
} lfr__deployment_row;

typedef struct lfr__snapshot_entry {
    int64_t subject_id, image_id;
    lfr_category category;
    char sha256[65];
} lfr__snapshot_entry;

typedef struct lfr__alert_row {
    lfr_alert a;
    char crop_file[65]; /* "" when none or deleted */
    char recorded_at[32];
} lfr__alert_row;

/* The signed head of the transparency log as stored (log.c). */
#define LFR__HEAD_NOTE_MAX 2048
typedef struct lfr__log_head {
    uint64_t size;
    uint8_t frontier[LFR__FRONTIER_MAX];
    size_t n_frontier;
    char note[LFR__HEAD_NOTE_MAX]; /* NUL-terminated */
    size_t n_note;
} lfr__log_head;

typedef struct lfr__backend {
    const char *name;

    /* Open the database at `path`; `create` allows creating it. */
    int (*open)(const char *path, int create, void **db_out);
    /* Open an existing database to read only: nothing is written, not even
     * a journal (lfr_store_open_readonly). */
    int (*open_readonly)(const char *path, void **db_out);
    void (*close)(void *db);

    /* A write transaction (taken at once, so writers queue here rather than
     * fail half-way) and its end. rollback is safe without a transaction. */
    int (*begin)(void *db);
    int (*commit)(void *db);
    void (*rollback)(void *db);

    /* Schema: the version stored in the database, the newest the backend
     * knows, and applying step `to` (from to-1), inside the caller's
     * transaction, including recording the new version. */
    int (*schema_version)(void *db, int *version_out);
    int (*schema_latest)(void);
    int (*migrate_step)(void *db, int to);

    /* Users. */
    int (*user_count)(void *db, int64_t *n_out);
    int (*user_insert)(void *db, const char *name, lfr_role role, const char *pwhash,
                       const char *created, const char *created_by, int64_t *id_out);
    int (*user_by_name)(void *db, const char *name, lfr__user_row *out);
    int (*user_by_id)(void *db, int64_t id, lfr__user_row *out);
    int (*user_each)(void *db, int (*fn)(const lfr_user *u, void *ctx), void *ctx);

    /* Sharing register: insert (every field set, times canonical) and a walk
     * by shared_on within [from, to] (canonical times or NULL). */
    int (*sharing_insert)(void *db, const lfr_sharing *e, int64_t *id_out);
    int (*sharing_each)(void *db, const char *from, const char *to,
                        int (*fn)(const lfr_sharing *e, void *ctx), void *ctx);

    /* Evaluations: insert a run and its figures (fields set, times
     * canonical), walk runs by run_at (with n_metrics set), walk a run's
     * figures in order (LFR_ERR_NOT_FOUND for no such run). */
    int (*evaluation_insert)(void *db, const lfr_evaluation *e, const lfr_eval_metric *m, size_t n,
                             int64_t *id_out);
    int (*evaluation_each)(void *db, const char *from, const char *to,
                           int (*fn)(const lfr_evaluation *e, void *ctx), void *ctx);
    int (*evaluation_metrics_each)(void *db, int64_t id,
                                   int (*fn)(const lfr_eval_metric *m, void *ctx), void *ctx);

    /* Watchlist (times canonical; `now` decides "expired"). subject_remove
     * marks the subject removed and its images deleted; LFR_ERR_CONFLICT
     * when already removed. media_used: whether a live image names the
     * media file. */
    int (*subject_insert)(void *db, const lfr_subject *s, int64_t *id_out);
    int (*image_insert)(void *db, const lfr_subject_image *im, int64_t *id_out);
    int (*subject_get)(void *db, int64_t id, const char *now, lfr_subject *out);
    int (*subject_each)(void *db, int include_removed, const char *now,
                        int (*fn)(const lfr_subject *s, void *ctx), void *ctx);
    int (*image_each)(void *db, int64_t subject_id, int live_only,
                      int (*fn)(const lfr_subject_image *im, void *ctx), void *ctx);
    int (*subject_remove)(void *db, int64_t id, const char *when, const char *by);
    int (*watchlist_stats)(void *db, const char *now, lfr_watchlist_stats *out);
    int (*media_used)(void *db, const char *name, int *used_out);

    /* Deployments (sqlite_records.c). deployment_insert writes the row and
     * its cameras; deployment_update rewrites the fields that change after
     * creation (authorisation, start, stop, snapshot, purge); deployment_each
     * walks those whose window (actual, else planned) meets [from, to].
     * snapshot_* are the frozen watchlist's rows. counters_add adds to a
     * camera's counters (LFR_ERR_NOT_FOUND for no such camera). */
    int (*deployment_insert)(void *db, const lfr__deployment_row *r, int64_t *id_out);
    int (*deployment_get)(void *db, int64_t id, lfr__deployment_row *out);
    int (*deployment_each)(void *db, const char *from, const char *to,
                           int (*fn)(const lfr__deployment_row *r, void *ctx), void *ctx);
    int (*deployment_update)(void *db, const lfr__deployment_row *r);
    int (*snapshot_insert)(void *db, int64_t deployment_id, int64_t idx,
                           const lfr__snapshot_entry *e);
    int (*snapshot_each)(void *db, int64_t deployment_id,
                         int (*fn)(const lfr__snapshot_entry *e, void *ctx), void *ctx);
    int (*counters_add)(void *db, int64_t deployment_id, const char *camera,
                        const lfr_counters *delta);
    int (*counters_each)(void *db, int64_t deployment_id,
                         int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                         void *ctx);
    /* Alerts: alert_update rewrites adjudication and crop fields. */
    int (*alert_insert)(void *db, const lfr__alert_row *r, int64_t *id_out);
    int (*alert_get)(void *db, int64_t id, lfr__alert_row *out);
    int (*alert_each)(void *db, const lfr_alert_filter *f,
                      int (*fn)(const lfr__alert_row *r, void *ctx), void *ctx);
    int (*alert_update)(void *db, const lfr__alert_row *r);
    /* Mark one image deleted (retention of expired subjects). */
    int (*image_delete)(void *db, int64_t image_id, const char *when);
    /* Policy values that were set: each (key, value, by, at). */
    int (*policy_each)(void *db,
                       int (*fn)(const char *key, int64_t value, const char *by, const char *at,
                                 void *ctx),
                       void *ctx);
    int (*policy_put)(void *db, const char *key, int64_t value, const char *by, const char *at);

    /* Audit: the newest entry (seq 0 and zero hash when empty), append, and a
     * walk in seq order with optional exact-match filters and a time range
     * (ISO-8601 strings compared as text; NULL for none). */
    int (*audit_head)(void *db, uint64_t *seq_out, uint8_t hash_out[LFR_HASH_BYTES]);
    int (*audit_insert)(void *db, const lfr__audit_row *row);
    int (*audit_each)(void *db, const lfr_audit_filter *f,
                      int (*fn)(const lfr_audit_entry *e, void *ctx), void *ctx);

    /* Sealed media kept in the database (media.c); NULL in a backend whose
     * homes keep them as files under media/. blob_put stores a new blob
     * (LFR_ERR_CONFLICT when the name exists), committed on return unless a
     * transaction is open; blob_get reads one (at most max_size bytes,
     * malloc'd; LFR_ERR_NOT_FOUND); blob_delete removes one; blob_each_stale
     * walks the names of blobs stored more than an hour ago. */
    int (*blob_put)(void *db, const char *name, const uint8_t *data, size_t n);
    int (*blob_get)(void *db, const char *name, size_t max_size, uint8_t **out, size_t *n_out);
    int (*blob_delete)(void *db, const char *name);
    int (*blob_each_stale)(void *db, int (*fn)(const char *name, void *ctx), void *ctx);

    /* The transparency log (from lfr__sqlite_log_version on): its signed
     * head, one row (LFR_ERR_NOT_FOUND when there is none; LFR_ERR_TAMPERED
     * when it is malformed), written in the open transaction; and the
     * published checkpoints, appended, the newest read (LFR_ERR_NOT_FOUND
     * when none), and walked in size order. */
    int (*log_head_get)(void *db, lfr__log_head *out);
    int (*log_head_put)(void *db, const lfr__log_head *h);
    int (*log_checkpoint_add)(void *db, uint64_t size, const char *time, const char *reason,
                              const char *note);
    int (*log_checkpoint_last)(void *db, uint64_t *size_out, char time_out[LFR__TIME_LEN]);
    int (*log_checkpoint_each)(void *db,
                               int (*fn)(uint64_t size, const char *time, const char *reason,
                                         const char *note, void *ctx),
                               void *ctx);
} lfr__backend;

extern const lfr__backend lfr__sqlite_backend;
/* pg.c: PostgreSQL through libpq; `path` of open is a connection string. */
extern const lfr__backend lfr__pg_backend;

/* sqlite.c: an error status and message for the database's last failure
 * ("database: <what>: <SQLite's message>", with the system's reason for I/O
 * errors and a full disk; uniqueness clashes are LFR_ERR_CONFLICT), and a
 * prepared statement (a sqlite3_stmt ** in stmt_out). */
int lfr__sq_err(void *db, const char *what);
int lfr__sq_prepare(void *db, const char *sql, void *stmt_out);

/* sqlite_records.c: the deployment, alert and policy operations of the
 * SQLite backend (the table in sqlite.c points at them). */
int lfr__sq_deployment_insert(void *db, const lfr__deployment_row *r, int64_t *id_out);
int lfr__sq_deployment_get(void *db, int64_t id, lfr__deployment_row *out);
int lfr__sq_deployment_each(void *db, const char *from, const char *to,
                            int (*fn)(const lfr__deployment_row *r, void *ctx), void *ctx);
int lfr__sq_deployment_update(void *db, const lfr__deployment_row *r);
int lfr__sq_snapshot_insert(void *db, int64_t deployment_id, int64_t idx,
                            const lfr__snapshot_entry *e);
int lfr__sq_snapshot_each(void *db, int64_t deployment_id,
                          int (*fn)(const lfr__snapshot_entry *e, void *ctx), void *ctx);
int lfr__sq_counters_add(void *db, int64_t deployment_id, const char *camera,
                         const lfr_counters *delta);
int lfr__sq_counters_each(void *db, int64_t deployment_id,
                          int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                          void *ctx);
int lfr__sq_alert_insert(void *db, const lfr__alert_row *r, int64_t *id_out);
int lfr__sq_alert_get(void *db, int64_t id, lfr__alert_row *out);
int lfr__sq_alert_each(void *db, const lfr_alert_filter *f,
                       int (*fn)(const lfr__alert_row *r, void *ctx), void *ctx);
int lfr__sq_alert_update(void *db, const lfr__alert_row *r);
int lfr__sq_image_delete(void *db, int64_t image_id, const char *when);
int lfr__sq_policy_each(void *db,
                        int (*fn)(const char *key, int64_t value, const char *by, const char *at,
                                  void *ctx),
                        void *ctx);
int lfr__sq_policy_put(void *db, const char *key, int64_t value, const char *by, const char *at);
/* Whether a live row names media file `name` in the records of schema 5
 * (snapshots, alert crops). */
int lfr__sq_media_used_v5(void *db, const char *name, int *used_out);

/* SQLite schema steps: lfr__sqlite_migrations[i] takes version i to i + 1. */
extern const char *const lfr__sqlite_migrations[];
extern const int lfr__sqlite_n_migrations;
/* The schema version that adds the transparency log's tables. */
extern const int lfr__sqlite_log_version;

struct lfr__log;

struct lfr_store {
    const lfr__backend *be;
    void *db;
    struct lfr__log *log; /* the transparency log's state (log.c) */
    int readonly;         /* lfr_store_open_readonly: every write is refused */
    char *home;
    int media_fd; /* home/media, opened once (media.c) */
    uint8_t *key; /* LFR__KEY_BYTES in sodium_malloc'd memory */
    int version;
    /* The newest audit entry appended in the open transaction, written to
     * audit.head once the transaction commits. */
    int head_pending;
    /* Whether the last lfr__store_commit committed the database, even if
     * it then failed to update audit.head: files the committed rows name
     * must then be kept. */
    int committed;
    uint64_t head_seq;
    uint8_t head_hash[LFR_HASH_BYTES];
};

/* Begin / commit (then update the anchor) / roll back a write transaction. */
int lfr__store_begin(lfr_store *s);
int lfr__store_commit(lfr_store *s);
void lfr__store_rollback(lfr_store *s);

/* Apply pending migrations up to version `target` (tests stop early to
 * build databases of earlier versions). */
int lfr__store_migrate(lfr_store *s, int target);

/* Check that `actor` (looked up again by id: its current role, not the one
 * in the struct) may do `action`. A refusal is audited as
 * "<action>.refused" on `object`. The actor's row, with the password hash
 * wiped, goes to *row_out. */
int lfr__store_authorise(lfr_store *s, const lfr_user *actor, lfr_action action, const char *object,
                         lfr__user_row *row_out);

/* store.c: a folder of this user only (mode 0700, also when it exists and
 * is empty), and a new file (O_EXCL, mode 0600) holding `size` bytes,
 * synced. */
int lfr__private_dir(const char *path);
int lfr__private_file(const char *path, const void *data, size_t size);

/* Open without migrating (tests of migrations). */
int lfr__store_open_raw(const char *home, lfr_store **store_out);

/* The audit detail of a user.add entry, and of a sharing.add entry
 * (malloc'd; NULL when out of memory). Verification rebuilds them from the
 * records to check that the records still say what was audited. */
#define LFR__USER_DETAIL_MAX 128
void lfr__user_detail(int64_t id, lfr_role role, int bootstrap, char out[LFR__USER_DETAIL_MAX]);
char *lfr__sharing_detail(const lfr_sharing *e);

/* evaluation.c: the audit detail of an evaluation.add entry, given the
 * BLAKE2b-256 hex of its figures; and that hash, computed from the stored
 * figures of run `id`. */
char *lfr__evaluation_detail(const lfr_evaluation *e, int64_t n_metrics, const char *metrics_hex);
int lfr__evaluation_metrics_hash(lfr_store *s, int64_t id, char hex_out[2 * LFR_HASH_BYTES + 1]);

/* subjects.c: the audit detail of a subject.add entry (malloc'd; NULL when
 * out of memory), rebuilt from the rows by verification; and all of a
 * subject's image rows, deleted ones included (*out malloc'd, the caller
 * frees). */
char *lfr__subject_detail(const lfr_subject *sub, const lfr_subject_image *im, int n);
int lfr__subject_images(lfr_store *s, int64_t id, lfr_subject_image **out, int *n_out);

/* media.c: sealed blobs by name, as files under media/ or in the backend,
 * named by LFR__MEDIA_NAME_LEN random hex digits. A name read from the
 * database is used only after lfr__media_name_ok (a malformed one is
 * LFR_ERR_TAMPERED), and files only relative to the media folder's
 * descriptor (openat, unlinkat, O_NOFOLLOW): never as a path.
 * lfr__media_open_dir opens home/media (a folder of this user, mode 700,
 * not a symbolic link); lfr__media_write stores a new blob (a file:
 * O_EXCL, 0600, synced); lfr__media_sync makes writes and unlinks durable
 * (syncs the folder); lfr__media_unlink deletes one (what fails is left to
 * the sweep; a malformed name is ignored); lfr__media_read reads a whole
 * blob (a regular file; at most max_size bytes, malloc'd).
 * subjects.c: lfr__media_template decrypts an image's template. */
#define LFR__MEDIA_NAME_LEN 32
int lfr__media_name_ok(const char *name);
void lfr__media_new_name(char out[LFR__MEDIA_NAME_LEN + 1]);
int lfr__media_open_dir(const char *home, int *fd_out);
int lfr__media_write(const lfr_store *s, const char *name, const uint8_t *data, size_t n);
void lfr__media_unlink(const lfr_store *s, const char *name);
int lfr__media_sync(const lfr_store *s);
int lfr__media_read(const lfr_store *s, const char *name, size_t max_size, uint8_t **out,
                    size_t *n_out);
int lfr__media_template(const lfr_store *s, const lfr_subject_image *im, float *tpl);

/* deployments.c: the audit details verification rebuilds from the rows. */
char *lfr__deployment_detail(const lfr_deployment *d);
void lfr__deployment_start_detail(const lfr_deployment *d, char *out, size_t cap);
char *lfr__deployment_stop_detail(lfr_store *s, int64_t id);
void lfr__alert_detail(const lfr_alert *a, char *out, size_t cap);
void lfr__adjudication_detail(const lfr_alert *a, char *out, size_t cap);
/* A deployment's snapshot counts as the backends store them, in one text
 * column, and back; its state, from which steps happened. */
void lfr__snapshot_counts_format(const lfr_deployment *d, char *out, size_t cap);
void lfr__snapshot_counts_parse(const char *s, lfr_deployment *d);
lfr_deployment_state lfr__deployment_state_of(const lfr_deployment *d);
/* The hash of a snapshot's rows (hex), as recorded at start. */
int lfr__snapshot_hash(lfr_store *s, int64_t id, char hex_out[2 * LFR_HASH_BYTES + 1]);

/* ---- crypt.c: encryption at rest --------------------------------------------- */

#define LFR__KEY_BYTES 32

/* Read a key file (regular, mode 0600 or stricter, exactly 32 bytes) into
 * guarded memory; free with lfr__key_free (which wipes it). */
int lfr__key_load(const char *path, uint8_t **key_out);
void lfr__key_free(uint8_t *key);

/* Size of the sealed form of `plain_size` bytes. */
size_t lfr__sealed_size(size_t plain_size);

/* Seal n bytes with XChaCha20-Poly1305 under `key`, bound to the associated
 * text `ad` (what the blob is, e.g. "image:17:jpeg"). *out is malloc'd; the
 * caller frees it. */
int lfr__seal(const uint8_t *key, const void *plain, size_t n, const char *ad, uint8_t **out,
              size_t *out_n);

/* Open a sealed blob; LFR_ERR_TAMPERED if it was altered or belongs to
 * another `ad`. *out is malloc'd plaintext (possibly biometric): the caller
 * wipes it with sodium_memzero and frees it. */
int lfr__unseal(const uint8_t *key, const uint8_t *sealed, size_t n, const char *ad, uint8_t **out,
                size_t *out_n);

/* ---- audit.c: appending entries and the anchor ----------------------------- */

/* Append an entry in the open transaction. `detail` is a JSON object ("{}"
 * when NULL). The time comes from the clock. */
int lfr__audit_append(lfr_store *s, const char *actor, const char *action, const char *object,
                      const char *detail);

/* The same with the entry's time given (a time the record also holds, so
 * that verification can compare the two); NULL means now. */
int lfr__audit_append_at(lfr_store *s, const char *time, const char *actor, const char *action,
                         const char *object, const char *detail);

/* Append a refusal in a transaction of its own, then return `status`
 * unchanged with lfr_errmsg() as it was: `return lfr__audit_refusal(s, ...)`.
 * The refusal's detail records the reason (the current lfr_errmsg()). */
int lfr__audit_refusal(lfr_store *s, int status, const char *actor, const char *action,
                       const char *object);

/* Write home/audit.head with (seq, hash), atomically, if seq is newer than
 * what it holds. */
int lfr__audit_anchor_write(const char *home, uint64_t seq, const uint8_t hash[LFR_HASH_BYTES]);

/* Read home/audit.head: 1 and (seq, hash) when present and well formed, 0
 * when it does not exist, -1 (message set) when it is malformed. */
int lfr__audit_anchor_read(const char *home, uint64_t *seq, uint8_t hash[LFR_HASH_BYTES]);

/* ---- log.c: the transparency log in the home ------------------------------- */

/* After opening (and migrating): load log.pub and (unless readonly) log.key,
 * and start the log of a home that has its tables but no signed head. */
int lfr__log_open(lfr_store *s, int readonly);
void lfr__log_close(lfr_store *s);

/* Whether commits sign the log's head (schema with the log, started). */
int lfr__log_active(const lfr_store *s);

/* Inside lfr__store_begin: the guard (may this transaction extend the log?
 * LFR_ERR_TAMPERED, writes stopped, if not). */
int lfr__log_begin(lfr_store *s);
/* After each entry is inserted: add its leaf to the pending tree. */
int lfr__log_added(lfr_store *s, const lfr_audit_entry *e);
/* Just before COMMIT: sign the new head, store it, publish a checkpoint if
 * one is due. After it: write audit.head. On a rollback: forget. */
int lfr__log_seal(lfr_store *s);
int lfr__log_after_commit(lfr_store *s);
void lfr__log_rollback(lfr_store *s);

/* The tree over every entry as stored (re-anchoring, and a log started
 * over a broken chain). */
int lfr__log_rebuild(lfr_store *s, lfr__frontier *f_out);

/* The home's trusted log keys (log.pub). */
const lfr__verifier *lfr__log_trusted(const lfr_store *s, int *n_out);

/* ---- verify_records.c: records against the entries that made them ----------- */

/* Check that the records (users, sharing register, evaluations, subjects,
 * deployments, alerts, policy) match the audit entries that created them,
 * one for one. LFR_OK, or LFR_ERR_TAMPERED with the verdict's reason (and
 * first_bad, when an entry is concerned) set. */
int lfr__verify_records(lfr_store *s, lfr_audit_verdict *v);

#endif
