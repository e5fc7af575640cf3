/*
 * openlfr records: the store (a "home" folder holding the database, the
 * encryption key and the media folder), its users and roles, and the audit
 * chain that makes every change and every refusal accountable.
 *
 *     lfr_store_init("lfr-data");              // once: creates the home
 *     lfr_store *st;
 *     if (lfr_store_open("lfr-data", &st) != LFR_OK) {
 *         fprintf(stderr, "%s\n", lfr_errmsg());
 *         return 1;
 *     }
 *     // Bootstrap: the first user, an administrator, needs no actor.
 *     lfr_store_user_add(st, NULL, "alice", LFR_ROLE_ADMINISTRATOR, "a long passphrase");
 *     lfr_user me;
 *     if (lfr_store_login(st, "alice", "a long passphrase", &me) == LFR_OK)
 *         lfr_store_user_add(st, &me, "bob", LFR_ROLE_OPERATOR, "another passphrase");
 *     lfr_audit_verdict v;
 *     if (lfr_audit_verify(st, &v) != LFR_OK)
 *         printf("%s\n", lfr_errmsg());  // "audit entry 7: ..."
 *     lfr_store_close(st);
 *
 * Accountability. Every function that changes the store, and every refusal
 * (a wrong password, a role without the right), appends one entry to the
 * audit chain in the same database transaction as the change, so that a
 * crash leaves neither. Each entry holds the BLAKE2b-256 hash of its
 * contents and of the previous entry's hash; lfr_audit_verify() recomputes
 * the chain and names the first entry that was edited, deleted, inserted or
 * reordered. After each commit the newest (seq, hash) is also written to the
 * file audit.head in the home, so that deleting the newest entries, which
 * leaves a chain that is consistent by itself, is detected too.
 *
 * Time. Every timestamp is UTC, ISO-8601 with milliseconds
 * ("2026-11-24T09:30:00.000Z"), read from one clock. The environment variable
 * LFR_FAKE_NOW (same format, or a date alone) fixes that clock, for tests
 * that simulate time.
 *
 * Threads. A store handle is used by one thread at a time; several processes
 * may open the same home (the database serialises writers, waiting up to
 * 5 s for a lock).
 */
#ifndef LFR_STORE_H
#define LFR_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Homes ---------------------------------------------------------------- */

/* Create a home at `home`: the folder (mode 0700; an existing empty folder is
 * used and set to 0700), `lfr.db` (mode 0600, schema migrated to the newest
 * version), `key` (32 random bytes, mode 0600, never printed or logged),
 * `media/` (0700) and `audit.head`. Fails with LFR_ERR_CONFLICT when the home
 * already holds a database ("already initialised") or is a non-empty folder
 * without one. The parent folder must exist. */
int lfr_store_init(const char *home);

typedef struct lfr_store lfr_store;

/* Open an initialised home, applying any pending schema migrations (each in
 * its own transaction, each audited). Refuses (LFR_ERR_UNSUPPORTED) a
 * database whose schema is newer than this program, and a key file readable
 * by group or others (LFR_ERR_DENIED). Close with lfr_store_close(). */
int lfr_store_open(const char *home, lfr_store **store_out);

/* Close a store; NULL does nothing. */
void lfr_store_close(lfr_store *store);

/* Schema version of the open database, and the newest this program knows. */
int lfr_store_schema_version(const lfr_store *store);
int lfr_store_schema_latest(void);

/* ---- Roles and permissions ------------------------------------------------ */

typedef enum lfr_role {
    LFR_ROLE_OPERATOR = 1,            /* runs deployments, adjudicates alerts */
    LFR_ROLE_AUTHORISING_OFFICER = 2, /* authorises deployments */
    LFR_ROLE_AUDITOR = 3,             /* reads the records and the audit chain */
    LFR_ROLE_ADMINISTRATOR = 4,       /* manages users */
} lfr_role;

/* "operator", "authorising_officer", "auditor", "administrator"; "?" for an
 * unknown value. */
const char *lfr_role_name(lfr_role role);

/* The role named `name` (the spellings above; "authorising-officer" also
 * accepted). LFR_ERR_INVALID for anything else. */
int lfr_role_parse(const char *name, lfr_role *role_out);

/* Actions a user may be allowed. Append-only. Which roles may do what:
 *
 *   action                 operator  authorising  auditor  administrator
 *   LFR_ACTION_USER_ADD       -          -           -          yes
 *   LFR_ACTION_USER_LIST      -          -          yes         yes
 *   LFR_ACTION_AUDIT_LIST     -          -          yes         yes
 *   LFR_ACTION_AUDIT_VERIFY  yes        yes         yes         yes
 *   LFR_ACTION_SHARING_ADD    -          -           -          yes
 *   LFR_ACTION_SHARING_LIST   -          -          yes         yes
 *   LFR_ACTION_EVALUATION_ADD -          -          yes         yes
 *   LFR_ACTION_EVALUATION_LIST -        yes         yes         yes
 *   LFR_ACTION_SUBJECT_ADD    yes        -           -          yes
 *   LFR_ACTION_SUBJECT_LIST   yes        yes         yes         yes
 *   LFR_ACTION_SUBJECT_SHOW   yes        yes         yes         yes
 *   LFR_ACTION_SUBJECT_REMOVE yes        -           -          yes
 *   LFR_ACTION_SUBJECT_TEMPLATES yes     -           -          yes
 *   LFR_ACTION_WATCHLIST_STATS yes       yes         yes         yes
 *
 * Watchlists are compiled by the LFR team (operators) or an administrator;
 * the authorising officer approves the watchlist as part of authorising a
 * deployment, so does not compile it, and an auditor only reads. Reading a
 * subject's image hashes (show) and decrypting its templates are audited.
 *
 * (lfr_audit_verify itself needs no user: anyone who can read the database
 * can check it; the action exists for front ends that log users in.) */
typedef enum lfr_action {
    LFR_ACTION_USER_ADD = 1,
    LFR_ACTION_USER_LIST = 2,
    LFR_ACTION_AUDIT_LIST = 3,
    LFR_ACTION_AUDIT_VERIFY = 4,
    LFR_ACTION_SHARING_ADD = 5,
    LFR_ACTION_SHARING_LIST = 6,
    LFR_ACTION_EVALUATION_ADD = 7,
    LFR_ACTION_EVALUATION_LIST = 8,
    LFR_ACTION_SUBJECT_ADD = 9,
    LFR_ACTION_SUBJECT_LIST = 10,
    LFR_ACTION_SUBJECT_SHOW = 11,
    LFR_ACTION_SUBJECT_REMOVE = 12,
    LFR_ACTION_SUBJECT_TEMPLATES = 13,
    LFR_ACTION_WATCHLIST_STATS = 14,
} lfr_action;

/* 1 when `role` may do `action`, else 0. */
int lfr_role_allows(lfr_role role, lfr_action action);

/* The audit name of an action ("user.add", ...); "?" for an unknown value. */
const char *lfr_action_name(lfr_action action);

/* ---- Users ---------------------------------------------------------------- */

#define LFR_USER_NAME_MAX 64  /* bytes; names are [A-Za-z0-9._-], alnum first */
#define LFR_PASSWORD_MIN 8    /* bytes */
#define LFR_PASSWORD_MAX 1024 /* bytes */

/* A logged-in user, as returned by lfr_store_login(). Functions that take an
 * actor look the user up again by id and use the role held in the database,
 * not the one in this struct. */
typedef struct lfr_user {
    int64_t id;
    char name[LFR_USER_NAME_MAX + 1];
    lfr_role role;
    char created[32]; /* ISO-8601 UTC */
} lfr_user;

/* Add a user with a password (hashed with argon2id; the plain text is not
 * kept). `actor` must be an administrator; or NULL when the store has no user
 * yet, to bootstrap the first user, who must be an administrator (audited
 * with actor "system"). Refusals are audited: LFR_ERR_DENIED (role, or a
 * bootstrap when users exist), LFR_ERR_CONFLICT (name taken),
 * LFR_ERR_INVALID (bad name, role or password length; not audited). */
int lfr_store_user_add(lfr_store *store, const lfr_user *actor, const char *name, lfr_role role,
                       const char *password);

/* Check a user's password and fill *user_out. An unknown user and a wrong
 * password both give LFR_ERR_AUTH with the same message, take about the
 * same time, and append a "login.refused" audit entry. A successful login
 * changes nothing and is not audited; what the user then does is. */
int lfr_store_login(lfr_store *store, const char *name, const char *password, lfr_user *user_out);

/* Number of users (no actor needed: used to offer the bootstrap). */
int lfr_store_user_count(lfr_store *store, int64_t *n_out);

/* Call fn for each user in name order (actor needs LFR_ACTION_USER_LIST).
 * The lfr_user is valid during the call only. A non-zero return from fn
 * stops the walk and is returned. */
int lfr_store_user_list(lfr_store *store, const lfr_user *actor,
                        int (*fn)(const lfr_user *user, void *ctx), void *ctx);

/* ---- Sharing register ------------------------------------------------------ */

/* One disclosure of data outside the force. Text fields are 1 to 1000 bytes
 * without control characters. */
typedef struct lfr_sharing {
    int64_t id;              /* set by the store */
    const char *shared_on;   /* when it was shared: ISO-8601 time or date;
                                NULL on add means now */
    const char *recipient;   /* who received it */
    const char *purpose;     /* why */
    const char *legal_basis; /* e.g. "DPA 2018 s.35; Crime and Disorder Act 1998 s.115" */
    const char *dataset;     /* what: e.g. "probe images of deployment 12" */
    int64_t n_images;        /* how many images (faces) it held; 0 if none */
    const char *security;    /* controls: e.g. "encrypted drive, courier, deleted after 30 d" */
    const char *recorded_by; /* set by the store: the actor */
    const char *recorded_at; /* set by the store */
} lfr_sharing;

/* Record a disclosure (actor needs LFR_ACTION_SHARING_ADD); audited as
 * "sharing.add" with every field. The new id goes to *id_out (may be NULL).
 * LFR_ERR_INVALID for a missing or malformed field (not audited). */
int lfr_store_sharing_add(lfr_store *store, const lfr_user *actor, const lfr_sharing *entry,
                          int64_t *id_out);

/* Call fn for each disclosure shared between from and to (ISO-8601 times or
 * dates, inclusive; NULL for open ends), oldest first (actor needs
 * LFR_ACTION_SHARING_LIST). The entry is valid during the call only. A
 * non-zero return from fn stops the walk and is returned. */
int lfr_store_sharing_list(lfr_store *store, const lfr_user *actor, const char *from,
                           const char *to, int (*fn)(const lfr_sharing *entry, void *ctx),
                           void *ctx);

/* ---- Evaluations --------------------------------------------------------- */

/* One figure of an accuracy or bias test run. NaN in a double means "none":
 * a threshold for a figure not taken at one, a value that could not be
 * estimated (a group too small: stored as such, never as a number), no
 * confidence interval. */
typedef struct lfr_eval_metric {
    const char *group;  /* "" (or NULL on add) overall, else e.g. "sex=female" (0-200 bytes) */
    const char *metric; /* e.g. "FMR", "FNMR", "FNIR@FPIR=0.01", "TPIR", "rank1" (1-64) */
    double threshold;
    double value;
    double ci_low, ci_high; /* 95 % interval */
    int64_t n;              /* sample behind the value (comparisons, probes); -1 unknown */
} lfr_eval_metric;

/* A test run. Text fields have no control characters. */
typedef struct lfr_evaluation {
    int64_t id;                 /* set by the store */
    const char *kind;           /* "verify", "identify", "differential", "projection", ... */
    const char *run_at;         /* when it ran: ISO-8601 time or date; NULL on add means now */
    const char *dataset;        /* name or description */
    const char *dataset_sha256; /* fingerprint of the dataset manifest, 64 hex digits */
    const char *model;          /* model files and their sha256 */
    const char *engine_version; /* e.g. "openlfr 0.1.0 / XNNPACK ..." */
    const char *notes;          /* free text; NULL or "" for none */
    const char *recorded_by;    /* set by the store */
    const char *recorded_at;    /* set by the store */
    int64_t n_metrics;          /* set by the store on listing */
} lfr_evaluation;

/* Most figures per run. */
#define LFR_EVAL_MAX_METRICS 100000

/* Record a run and its figures in one transaction (actor needs
 * LFR_ACTION_EVALUATION_ADD). Audited as "evaluation.add" with the run's
 * fields and a BLAKE2b hash of its figures, so that a figure changed later
 * is found by lfr_audit_verify. *id_out may be NULL. */
int lfr_store_evaluation_add(lfr_store *store, const lfr_user *actor, const lfr_evaluation *e,
                             const lfr_eval_metric *metrics, size_t n_metrics, int64_t *id_out);

/* Call fn for each run with run_at between from and to (inclusive; NULL for
 * open ends), oldest first (actor needs LFR_ACTION_EVALUATION_LIST). */
int lfr_store_evaluation_list(lfr_store *store, const lfr_user *actor, const char *from,
                              const char *to, int (*fn)(const lfr_evaluation *e, void *ctx),
                              void *ctx);

/* Call fn for each figure of run `id`, in the order they were added.
 * LFR_ERR_NOT_FOUND for an unknown run. */
int lfr_store_evaluation_metrics(lfr_store *store, const lfr_user *actor, int64_t id,
                                 int (*fn)(const lfr_eval_metric *m, void *ctx), void *ctx);

/* ---- Watchlist: subjects and their images --------------------------------- */

/* The College of Policing's eight watchlist categories (docs/RECORDS.md has
 * the wording). Append-only; the names below are stored in the database. */
typedef enum lfr_category {
    LFR_CATEGORY_WANTED_BY_COURTS = 1, /* "wanted_by_courts" */
    LFR_CATEGORY_SUSPECT = 2,          /* "suspect": of an offence, or about to commit one */
    LFR_CATEGORY_BAIL_CONDITIONS = 3,  /* "bail_conditions": bail or court conditions */
    LFR_CATEGORY_MISSING_AT_RISK = 4,  /* "missing_at_risk": missing, at increased risk */
    LFR_CATEGORY_RISK_OF_HARM = 5,     /* "risk_of_harm": to themselves or others */
    LFR_CATEGORY_ASSOCIATE = 6,        /* "associate": of a person in 1-5 */
    LFR_CATEGORY_WITNESS = 7,          /* "witness" */
    LFR_CATEGORY_VICTIM = 8,           /* "victim" */
} lfr_category;
#define LFR_N_CATEGORIES 8

/* Where a reference image came from. Append-only. */
typedef enum lfr_provenance {
    LFR_PROVENANCE_CUSTODY_IMAGING = 1,     /* "custody_imaging" */
    LFR_PROVENANCE_OTHER_POLICE_SOURCE = 2, /* "other_police_source" */
    LFR_PROVENANCE_PUBLIC_APPEAL = 3,       /* "public_appeal" */
    LFR_PROVENANCE_OTHER = 4,               /* "other" */
} lfr_provenance;
#define LFR_N_PROVENANCES 4

/* Names as stored ("?" for an unknown value) and parsing them (a '-' may
 * stand for '_'); LFR_ERR_INVALID for anything else. */
const char *lfr_category_name(lfr_category c);
int lfr_category_parse(const char *name, lfr_category *out);
const char *lfr_provenance_name(lfr_provenance p);
int lfr_provenance_parse(const char *name, lfr_provenance *out);

#define LFR_SUBJECT_REF_MAX 64 /* bytes; [A-Za-z0-9._/-], alnum first */
#define LFR_SUBJECT_REASON_MAX 1000
#define LFR_SUBJECT_MAX_IMAGES 32                /* per lfr_store_subject_add call */
#define LFR_SUBJECT_IMAGE_MAX ((size_t)32 << 20) /* bytes per image file */

/* What lfr_store_subject_add needs besides the images. */
typedef struct lfr_subject_params {
    const char *reference; /* pseudonymous, e.g. a custody record number; never a name */
    lfr_category category;
    const char *reason;     /* why this person is on the watchlist (1-1000 bytes) */
    const char *expires_at; /* ISO-8601 time or date (end of that day), in the future */
} lfr_subject_params;

/* One reference image to enrol. */
typedef struct lfr_image_source {
    const char *path;
    lfr_provenance provenance;
    const char *capture_date; /* ISO-8601 date or time; NULL when unknown */
} lfr_image_source;

/* A subject as stored. */
typedef struct lfr_subject {
    int64_t id;
    char reference[LFR_SUBJECT_REF_MAX + 1];
    lfr_category category;
    char reason[LFR_SUBJECT_REASON_MAX + 1];
    char added_by[LFR_USER_NAME_MAX + 1];
    char added_at[32], expires_at[32];
    char removed_at[32]; /* "" while on the watchlist */
    char removed_by[LFR_USER_NAME_MAX + 1];
    int64_t n_images; /* images whose sealed file still exists */
    int expired;      /* 1 when expires_at has passed (by the store's clock) */
} lfr_subject;

/* An image's record: hashes and metadata only, no biometric data. */
typedef struct lfr_subject_image {
    int64_t id, subject_id;
    lfr_provenance provenance;
    char capture_date[32];            /* "" when unknown */
    char sha256[65];                  /* of the original file's bytes */
    char model_sha256[65];            /* of the embedder model that made the template */
    float score;                      /* detector confidence */
    float box_x, box_y, box_w, box_h; /* the face, in the original's pixels */
    char media_file[65];              /* name of the sealed file under media/ */
    char added_by[LFR_USER_NAME_MAX + 1];
    char added_at[32];
    char deleted_at[32]; /* "" while the sealed file exists */
} lfr_subject_image;

typedef struct lfr_engine lfr_engine;

/* Enrol a subject with n_images (1 to LFR_SUBJECT_MAX_IMAGES) reference
 * images (actor needs LFR_ACTION_SUBJECT_ADD). The caller passes an open
 * engine (the store never loads models: the engine is what the caller
 * trusts and its model hashes are recorded); the store opens a session of
 * its own on it for the call. Each image is decoded and must hold exactly
 * one face: otherwise the call is refused (LFR_ERR_NO_FACE, or
 * LFR_ERR_FORMAT for an image that does not decode) with a one-line message
 * naming the image and the number of faces, nothing is written, and the
 * refusal is audited as "subject.add.refused". For each image, the
 * original bytes and the template are sealed together into a new file
 * media/<32 random hex digits> (created with O_EXCL, mode 0600, fsync'd,
 * then the folder fsync'd) before the subject, its images and the
 * "subject.add" audit entry are written in one transaction; if that fails
 * the files are removed again. A crash in between leaves only sealed files
 * that no row names: unreadable without the key and its row, and removed by
 * lfr_store_media_sweep(). Pixels and templates are wiped from memory after
 * use. LFR_ERR_CONFLICT (audited) for a reference already used;
 * LFR_ERR_INVALID (not audited) for bad parameters. *id_out may be NULL. */
int lfr_store_subject_add(lfr_store *store, const lfr_user *actor, lfr_engine *engine,
                          const lfr_subject_params *params, const lfr_image_source *images,
                          int n_images, int64_t *id_out);

/* Call fn for each subject in id order (actor needs LFR_ACTION_SUBJECT_LIST;
 * holds no biometric data, not audited). Removed subjects are included only
 * when include_removed is set. The subject is valid during the call only. */
int lfr_store_subject_list(lfr_store *store, const lfr_user *actor, int include_removed,
                           int (*fn)(const lfr_subject *subject, void *ctx), void *ctx);

/* Read subject `id` into *subject_out and call image_fn (may be NULL) for
 * each of its images, deleted ones included (actor needs
 * LFR_ACTION_SUBJECT_SHOW; audited as "subject.show"). LFR_ERR_NOT_FOUND
 * for no such subject. */
int lfr_store_subject_show(lfr_store *store, const lfr_user *actor, int64_t id,
                           lfr_subject *subject_out,
                           int (*image_fn)(const lfr_subject_image *image, void *ctx), void *ctx);

/* Take subject `id` off the watchlist (actor needs LFR_ACTION_SUBJECT_REMOVE):
 * mark it removed and its images deleted, and audit "subject.remove" with a
 * deletion receipt (how many images, their sha256) in one transaction; then
 * delete the sealed files. LFR_ERR_CONFLICT (audited) when already removed.
 * A file that could not be deleted is left to lfr_store_media_sweep(). */
int lfr_store_subject_remove(lfr_store *store, const lfr_user *actor, int64_t id);

/* Counts for the watchlist, by the store's clock. "Active" subjects are
 * not removed and not expired; "expired" are not removed but past
 * expires_at; removed ones are counted apart. Images are those whose file
 * still exists, of active subjects (by_provenance) or expired ones. Indexes
 * are the enum values (index 0 unused). */
typedef struct lfr_watchlist_stats {
    int64_t active[LFR_N_CATEGORIES + 1];  /* subjects per category */
    int64_t expired[LFR_N_CATEGORIES + 1]; /* subjects per category */
    int64_t removed;                       /* subjects */
    int64_t active_images[LFR_N_CATEGORIES + 1];
    int64_t images_by_provenance[LFR_N_PROVENANCES + 1]; /* of active subjects */
    int64_t expired_images;
} lfr_watchlist_stats;

int lfr_store_watchlist_stats(lfr_store *store, const lfr_user *actor,
                              lfr_watchlist_stats *stats_out);

/* Decrypt the templates of subject `id`'s images that still exist, for a
 * deployment (actor needs LFR_ACTION_SUBJECT_TEMPLATES; audited as
 * "subject.templates" with the image ids). Writes up to cap templates of
 * LFR_TEMPLATE_DIM floats to templates_out and their image ids to
 * image_ids_out (may be NULL), and the number of images to *n_out (which
 * may exceed cap). The templates are biometric data: the caller wipes them
 * (sodium_memzero) when done. Refused (LFR_ERR_CONFLICT) for a removed or
 * expired subject; LFR_ERR_TAMPERED for a sealed file that was altered or
 * swapped. */
int lfr_store_subject_templates(lfr_store *store, const lfr_user *actor, int64_t id,
                                float *templates_out, int64_t *image_ids_out, int cap, int *n_out);

/* Delete files under media/ that no existing image names and that are older
 * than one hour (younger ones may belong to an enrolment in progress in
 * another process). Needs no user: it removes only data no record points
 * at. The number removed goes to *n_out (may be NULL). */
int lfr_store_media_sweep(lfr_store *store, int64_t *n_out);

/* ---- Audit chain ---------------------------------------------------------- */

#define LFR_HASH_BYTES 32

/* One audit entry; the strings are valid during the callback only. */
typedef struct lfr_audit_entry {
    uint64_t seq;       /* 1, 2, 3, ... without gaps */
    const char *time;   /* ISO-8601 UTC with milliseconds */
    const char *actor;  /* user name, or "system" */
    const char *action; /* e.g. "user.add", "user.add.refused", "login.refused" */
    const char *object; /* e.g. "user:bob"; "" when none */
    const char *detail; /* a JSON object */
    uint8_t prev_hash[LFR_HASH_BYTES];
    uint8_t hash[LFR_HASH_BYTES];
} lfr_audit_entry;

/* Filters for lfr_audit_list; NULL fields match everything. actor, action and
 * object match exactly; from and to are ISO-8601 times (or dates, meaning
 * midnight UTC), both inclusive. */
typedef struct lfr_audit_filter {
    const char *actor;
    const char *action;
    const char *object;
    const char *from;
    const char *to;
} lfr_audit_filter;

/* Call fn for each matching entry in chain order (actor needs
 * LFR_ACTION_AUDIT_LIST). A non-zero return from fn stops the walk and is
 * returned. filter may be NULL. */
int lfr_audit_list(lfr_store *store, const lfr_user *actor, const lfr_audit_filter *filter,
                   int (*fn)(const lfr_audit_entry *entry, void *ctx), void *ctx);

/* What lfr_audit_verify found. */
typedef struct lfr_audit_verdict {
    uint64_t n_entries; /* entries read */
    uint64_t head_seq;  /* newest entry that verified */
    uint8_t head_hash[LFR_HASH_BYTES];
    uint64_t first_bad;  /* the first bad entry; 0 if it verifies or no entry is to blame */
    char reason[200];    /* why first_bad is bad; "" when it verifies */
    uint64_t anchor_seq; /* the (seq, hash) recorded in audit.head; 0 if none */
    uint64_t unanchored; /* verified entries after the anchor: a crash between a
                            commit and the anchor update, or a concurrent writer */
} lfr_audit_verdict;

/* Walk the whole chain: seq must run 1, 2, 3, ... without gaps, each
 * prev_hash must equal the previous entry's hash (zeros for entry 1), and
 * each hash must match the entry's contents. Then the anchor in audit.head
 * must name an entry that exists with the same hash. Last, the records must
 * match the entries that created them: each user (id, name, role) its
 * user.add entry, each sharing register row its sharing.add entry, each
 * evaluation its evaluation.add entry, each subject (with its images' ids,
 * provenance and hashes) its subject.add entry and, when removed, exactly
 * one subject.remove entry; as many entries as rows (first_bad names the entry, or is 0 for a row
 * with no entry or a missing row). Returns LFR_OK, or LFR_ERR_TAMPERED with verdict_out->first_bad
 * and reason set (also in lfr_errmsg()); other codes for a database that cannot be read. */
int lfr_audit_verify(lfr_store *store, lfr_audit_verdict *verdict_out);

#ifdef __cplusplus
}
#endif
#endif /* LFR_STORE_H */
