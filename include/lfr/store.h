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
 * reordered. The entries are also the leaves of a Merkle tree whose head
 * every commit signs with the home's log key (lfr/log.h); the signed head
 * is also written to the file audit.head in the home, so that an entry
 * added without the key, and deleting the newest entries, which leaves a
 * chain that is consistent by itself, are detected too.
 *
 * Time. Every timestamp is UTC, ISO-8601 with milliseconds
 * ("2026-11-24T09:30:00.000Z"), read from one clock. In test builds only
 * (CMake option LFR_TESTING), the environment variable LFR_FAKE_NOW (same
 * format, or a date alone) fixes that clock, for tests that simulate time;
 * release builds ignore it.
 *
 * Threads. A store handle is used by one thread at a time; several processes
 * may open the same home (the database serialises writers, waiting up to
 * 5 s for a lock).
 */
#ifndef LFR_STORE_H
#define LFR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* Where a new home keeps its records. Zero-initialised: the embedded
 * database (lfr.db in the home). */
typedef struct lfr_store_config {
    /* NULL or "": embedded. Otherwise a libpq connection string (a URI,
     * "postgresql://lfr@db.example.org/lfr?sslmode=verify-full", or
     * "host=... dbname=..." pairs; docs/POSTGRESQL.md): records and sealed
     * media then live in that PostgreSQL database, which must exist and
     * hold no lfr store yet, and the home holds the key, audit.head and the
     * file `database` (mode 0600) with the string, but no lfr.db and no
     * media/. Credentials belong in a password file or a client
     * certificate named by the string rather than in it. */
    const char *database;
} lfr_store_config;

/* lfr_store_init, with the records where `config` says (NULL: embedded).
 * A PostgreSQL database that cannot be reached, or already holds an lfr
 * store (LFR_ERR_CONFLICT), is refused before anything is created. */
int lfr_store_init_with(const char *home, const lfr_store_config *config);

/* Open an initialised home (embedded, or PostgreSQL when it holds a file
 * `database`), applying any pending schema migrations (each in
 * its own transaction, each audited). Refuses (LFR_ERR_UNSUPPORTED) a
 * database whose schema is newer than this program, and a key file readable
 * by group or others (LFR_ERR_DENIED). Close with lfr_store_close(). */
int lfr_store_open(const char *home, lfr_store **store_out);

/* Close a store; NULL does nothing. */
void lfr_store_close(lfr_store *store);

/* What lfr_store_copy copied. */
typedef struct lfr_store_copy_result {
    int64_t tables, rows;       /* every table's rows, audit entries included */
    int64_t media, media_bytes; /* sealed media named by records */
    uint64_t entries;           /* the home's audit entries, copied as they are */
    int already;                /* 1: the database already held this copy */
} lfr_store_copy_result;

/* Copy the embedded home `from` into the PostgreSQL database to->database
 * (empty; docs/POSTGRESQL.md), making `to_home` a home on it (absent or
 * empty; it gets a copy of the key). Every row with its id, the audit log
 * entry for entry and every sealed blob a record names are copied; then one
 * "store.copy" entry says what was copied. The home must verify first, and
 * the copy must verify after, with as many rows in each table as the home
 * (LFR_ERR_TAMPERED or LFR_ERR_STORE otherwise). The database's part is
 * one transaction: a copy that is interrupted leaves the database as it
 * was, and run again (the same home, new home and database) it completes,
 * without duplicates, also when only the new home was left unfinished.
 * The home is only read; stop everything that writes to it first. */
int lfr_store_copy(const char *from, const char *to_home, const lfr_store_config *to,
                   lfr_store_copy_result *out);

/* "sqlite" or "postgresql": where the open store keeps its records. */
const char *lfr_store_backend(const lfr_store *store);

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
 *   LFR_ACTION_DEPLOYMENT_CREATE yes     yes         -          yes
 *   LFR_ACTION_DEPLOYMENT_AUTHORISE -    yes         -           -
 *   LFR_ACTION_DEPLOYMENT_RUN  yes       -           -          yes
 *   LFR_ACTION_DEPLOYMENT_LIST yes       yes         yes         yes
 *   LFR_ACTION_ALERT_LIST      yes       yes         yes         yes
 *   LFR_ACTION_ALERT_SHOW      yes       yes         yes         yes
 *   LFR_ACTION_ALERT_ADJUDICATE yes      -           -          yes
 *   LFR_ACTION_RETENTION_RUN   -         -           -          yes
 *   LFR_ACTION_POLICY_SET      -         -           -          yes
 *   LFR_ACTION_REPORT          yes       yes         yes         yes
 *   LFR_ACTION_AUDIT_REANCHOR  -         -           -          yes
 *
 * A deployment is authorised by an authorising officer who did not create
 * it (the store refuses self-authorisation whatever the roles).
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
    LFR_ACTION_DEPLOYMENT_CREATE = 15,
    LFR_ACTION_DEPLOYMENT_AUTHORISE = 16,
    LFR_ACTION_DEPLOYMENT_RUN = 17, /* start, stop, load the snapshot, record alerts and counts */
    LFR_ACTION_DEPLOYMENT_LIST = 18,
    LFR_ACTION_ALERT_LIST = 19,
    LFR_ACTION_ALERT_SHOW = 20, /* audited; gives the probe crop */
    LFR_ACTION_ALERT_ADJUDICATE = 21,
    LFR_ACTION_RETENTION_RUN = 22,
    LFR_ACTION_POLICY_SET = 23,
    LFR_ACTION_REPORT = 24,         /* grid and FOI reports; audited */
    LFR_ACTION_AUDIT_REANCHOR = 25, /* re-anchor the log after writes stopped (lfr/log.h) */
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
 * LFR_ERR_INVALID (not audited) for bad parameters. *id_out may be NULL.
 * When the transaction commits but the audit.head update after it fails
 * (a full disk), the subject is enrolled: the error is returned with
 * *id_out set and the sealed files kept. */
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

/* ---- Deployments ---------------------------------------------------------- */

/* How the cameras are installed. Append-only; names as stored. */
typedef enum lfr_installation {
    LFR_INSTALLATION_TEMPORARY = 1,   /* "temporary": a one-off deployment */
    LFR_INSTALLATION_PERMANENT = 2,   /* "permanent": fixed cameras */
    LFR_INSTALLATION_MOBILE_UNIT = 3, /* "mobile_unit": a van */
} lfr_installation;
#define LFR_N_INSTALLATIONS 3
const char *lfr_installation_name(lfr_installation i);
int lfr_installation_parse(const char *name, lfr_installation *out);

/* Where a deployment is in its life. */
typedef enum lfr_deployment_state {
    LFR_DEPLOYMENT_CREATED = 1,    /* "created": awaiting authorisation */
    LFR_DEPLOYMENT_AUTHORISED = 2, /* "authorised" */
    LFR_DEPLOYMENT_RUNNING = 3,    /* "running": started, watchlist frozen */
    LFR_DEPLOYMENT_STOPPED = 4,    /* "stopped" */
} lfr_deployment_state;
const char *lfr_deployment_state_name(lfr_deployment_state st);

#define LFR_DEPLOYMENT_MAX_CAMERAS 16
#define LFR_CAMERA_NAME_MAX 32 /* [A-Za-z0-9._-], alnum first */
#define LFR_CAMERA_URL_MAX 1000
#define LFR_DEPLOYMENT_TEXT_MAX 1000

typedef struct lfr_camera {
    char name[LFR_CAMERA_NAME_MAX + 1]; /* e.g. "north-entrance" */
    char url[LFR_CAMERA_URL_MAX + 1];   /* file path, rtsp://, http://, /dev/video0 */
} lfr_camera;

/* What a deployment is for and where it runs. Text fields 1 to 1000 bytes
 * without control characters (the two references may be empty). */
typedef struct lfr_deployment_params {
    const char *purpose;        /* what it is for */
    const char *justification;  /* why LFR is necessary and proportionate here */
    const char *legal_basis;    /* e.g. "common law policing powers; DPA 2018 s.35" */
    const char *location;       /* place name */
    double latitude, longitude; /* WGS84 degrees */
    lfr_installation installation;
    const char *planned_start, *planned_end; /* ISO-8601 times; end after start */
    double threshold;                        /* alert threshold, in (0, 1] */
    const char *dpia_ref;                    /* data protection impact assessment */
    const char *eia_ref;                     /* equality impact assessment */
    unsigned categories; /* watchlist: bit (1u << c) per lfr_category; 0 = all eight */
    const lfr_camera *cameras;
    int n_cameras; /* 1 to LFR_DEPLOYMENT_MAX_CAMERAS, names distinct */
} lfr_deployment_params;

/* A deployment as stored. Times are "" when not (yet) set. */
typedef struct lfr_deployment {
    int64_t id;
    lfr_deployment_state state;
    char purpose[LFR_DEPLOYMENT_TEXT_MAX + 1];
    char justification[LFR_DEPLOYMENT_TEXT_MAX + 1];
    char legal_basis[LFR_DEPLOYMENT_TEXT_MAX + 1];
    char location[LFR_DEPLOYMENT_TEXT_MAX + 1];
    double latitude, longitude;
    lfr_installation installation;
    char planned_start[32], planned_end[32];
    double threshold;
    char dpia_ref[LFR_DEPLOYMENT_TEXT_MAX + 1], eia_ref[LFR_DEPLOYMENT_TEXT_MAX + 1];
    unsigned categories;
    lfr_camera cameras[LFR_DEPLOYMENT_MAX_CAMERAS];
    int n_cameras;
    char created_by[LFR_USER_NAME_MAX + 1], created_at[32];
    char authorised_by[LFR_USER_NAME_MAX + 1], authorised_at[32];
    char started_by[LFR_USER_NAME_MAX + 1], started_at[32];
    char stopped_by[LFR_USER_NAME_MAX + 1], stopped_at[32];
    /* The watchlist frozen at start: counts, the embedder it was enrolled
     * with, and a BLAKE2b-256 hash (hex) over the frozen images' ids and
     * sha256 in order. Kept after the purge. */
    int64_t snapshot_subjects, snapshot_images;
    int64_t snapshot_by_category[LFR_N_CATEGORIES + 1]; /* images per category */
    int64_t snapshot_subjects_by_category[LFR_N_CATEGORIES + 1];
    int64_t snapshot_by_provenance[LFR_N_PROVENANCES + 1]; /* images per provenance */
    int64_t snapshot_expired_left_out; /* subjects in the categories, expired at start */
    char snapshot_model[65];
    char snapshot_hash[65];
    char purged_at[32]; /* when the snapshot's templates were deleted */
} lfr_deployment;

/* Create a deployment (actor needs LFR_ACTION_DEPLOYMENT_CREATE); audited
 * as "deployment.create" with every field. LFR_ERR_INVALID (audited as a
 * refusal) for a missing or malformed field, an end not after the start, a
 * planned end already past, a threshold outside (0, 1], bad coordinates. */
int lfr_store_deployment_create(lfr_store *store, const lfr_user *actor,
                                const lfr_deployment_params *params, int64_t *id_out);

/* Authorise deployment `id` (actor needs LFR_ACTION_DEPLOYMENT_AUTHORISE and
 * must not be its creator); audited with the watchlist counts per category
 * at that moment. Refused (audited): LFR_ERR_DENIED for self-authorisation,
 * LFR_ERR_CONFLICT unless it is awaiting authorisation or when its planned
 * end has passed. */
int lfr_store_deployment_authorise(lfr_store *store, const lfr_user *actor, int64_t id);

/* Start deployment `id` (LFR_ACTION_DEPLOYMENT_RUN): it must be authorised
 * and now within its planned window. Freezes its watchlist: every subject
 * in its categories that is neither removed nor expired, with the images
 * that exist now; their templates are decrypted and sealed together into
 * one new media file (the snapshot), the image ids and hashes recorded in
 * the database, and the counts per category, the number of expired
 * subjects left out and the snapshot hash audited ("deployment.start").
 * All images must come from one embedder (LFR_ERR_CONFLICT otherwise).
 * Refusals are audited. */
int lfr_store_deployment_start(lfr_store *store, const lfr_user *actor, int64_t id);

/* Stop a running deployment (LFR_ACTION_DEPLOYMENT_RUN); audited with the
 * final counters of each camera. */
int lfr_store_deployment_stop(lfr_store *store, const lfr_user *actor, int64_t id);

/* Stop running deployment `id` because its planned end has passed: no user
 * is needed, and the stop is audited as "deployment.stop" by "system" with
 * the final counters (the live supervisor's auto-stop). LFR_ERR_CONFLICT,
 * writing nothing, when it is not running or its end has not come. */
int lfr_store_deployment_expire(lfr_store *store, int64_t id);

/* Read one deployment (LFR_ACTION_DEPLOYMENT_LIST; not audited: no
 * biometric data). LFR_ERR_NOT_FOUND when there is none. */
int lfr_store_deployment_get(lfr_store *store, const lfr_user *actor, int64_t id,
                             lfr_deployment *out);

/* Call fn for each deployment whose planned or actual window meets
 * [from, to] (ISO-8601 times or dates, inclusive; NULL for open ends), in id
 * order (LFR_ACTION_DEPLOYMENT_LIST). The struct is valid during the call. */
int lfr_store_deployment_list(lfr_store *store, const lfr_user *actor, const char *from,
                              const char *to, int (*fn)(const lfr_deployment *d, void *ctx),
                              void *ctx);

/* A running deployment's frozen watchlist, in memory, for the pipeline.
 * Biometric data: free it with lfr_watchlist_free(), which wipes it. */
typedef struct lfr_watchlist {
    int64_t deployment_id;
    int n;                /* templates (one per image) */
    float *templates;     /* n * LFR_TEMPLATE_DIM, L2-normalised */
    int64_t *subject_ids; /* n */
    int64_t *image_ids;   /* n */
    double threshold;
    char model_sha256[65]; /* the embedder the templates came from */
} lfr_watchlist;

/* Load the snapshot of running deployment `id` (LFR_ACTION_DEPLOYMENT_RUN;
 * audited as "deployment.watchlist"). LFR_ERR_CONFLICT unless running;
 * LFR_ERR_TAMPERED when the snapshot file was altered. */
int lfr_store_deployment_watchlist(lfr_store *store, const lfr_user *actor, int64_t id,
                                   lfr_watchlist **out);
void lfr_watchlist_free(lfr_watchlist *wl);

/* ---- Counters ---------------------------------------------------------------- */

/* Counts a camera adds up while a deployment runs. Faces seen = tracks with
 * at least one face that passed the quality gate. */
typedef struct lfr_counters {
    int64_t frames;          /* decoded and processed */
    int64_t frames_dropped;  /* dropped to keep up with a live source */
    int64_t detections;      /* faces detected, over all frames */
    int64_t faces_seen;      /* tracks with a face that passed the quality gate */
    int64_t quality_rejects; /* tracks that never passed it */
    int64_t alerts;          /* alerts raised (also counted from the alerts) */
} lfr_counters;

/* Add `delta` to camera `camera`'s counters of running deployment `id`
 * (LFR_ACTION_DEPLOYMENT_RUN). Not audited (the pipeline calls it every few
 * seconds); the totals are audited when the deployment stops and checked by
 * lfr_audit_verify from then on. Negative values are refused. */
int lfr_store_counters_add(lfr_store *store, const lfr_user *actor, int64_t id, const char *camera,
                           const lfr_counters *delta);

/* Call fn for each camera of deployment `id` with its counters
 * (LFR_ACTION_DEPLOYMENT_LIST). */
int lfr_store_counters_get(lfr_store *store, const lfr_user *actor, int64_t id,
                           int (*fn)(const char *camera, const lfr_counters *c, void *ctx),
                           void *ctx);

/* ---- Alerts ------------------------------------------------------------------ */

/* Adjudication by the operator, then confirmation after an engagement. */
typedef enum lfr_outcome {
    LFR_OUTCOME_NOT_ADJUDICATED = 1, /* "not_adjudicated" */
    LFR_OUTCOME_TRUE = 2,            /* "true": operator judged it the same person */
    LFR_OUTCOME_FALSE = 3,           /* "false": operator judged it someone else */
    LFR_OUTCOME_CONFIRMED_TRUE = 4,  /* "confirmed_true": identity confirmed on engagement */
    LFR_OUTCOME_CONFIRMED_FALSE = 5, /* "confirmed_false": engagement showed someone else */
} lfr_outcome;
#define LFR_N_OUTCOMES 5

/* What officers did. */
typedef enum lfr_engagement {
    LFR_ENGAGEMENT_NONE = 0,           /* "none": not recorded (yet) */
    LFR_ENGAGEMENT_NOT_STOPPED = 1,    /* "not_stopped" */
    LFR_ENGAGEMENT_SPOKEN_TO = 2,      /* "spoken_to" */
    LFR_ENGAGEMENT_ARRESTED = 3,       /* "arrested" */
    LFR_ENGAGEMENT_OTHER_DISPOSAL = 4, /* "other_disposal" */
} lfr_engagement;
#define LFR_N_ENGAGEMENTS 4

const char *lfr_outcome_name(lfr_outcome o);
int lfr_outcome_parse(const char *name, lfr_outcome *out);
const char *lfr_engagement_name(lfr_engagement e);
int lfr_engagement_parse(const char *name, lfr_engagement *out);

/* What the pipeline records of an alert. */
typedef struct lfr_alert_params {
    int64_t deployment_id;
    const char *camera;  /* one of the deployment's camera names */
    const char *time;    /* when the frame was captured; NULL = now */
    int64_t track;       /* the pipeline's track number */
    int64_t image_id;    /* the best-scoring watchlist image (its subject follows) */
    double score;        /* cosine similarity, >= the deployment's threshold */
    const uint8_t *crop; /* the probe face as a JPEG; sealed at rest; may be NULL */
    size_t crop_size;    /* at most 4 MiB */
} lfr_alert_params;

typedef struct lfr_alert {
    int64_t id, deployment_id, track, subject_id, image_id;
    char camera[LFR_CAMERA_NAME_MAX + 1];
    char time[32];
    double score;
    char subject_reference[LFR_SUBJECT_REF_MAX + 1];
    lfr_category category;
    int has_crop;         /* 1 while the probe crop exists */
    char crop_sha256[65]; /* "" when recorded without a crop */
    char crop_deleted_at[32];
    lfr_outcome outcome;
    char adjudicated_by[LFR_USER_NAME_MAX + 1], adjudicated_at[32];
    lfr_engagement engagement;
    char note[LFR_DEPLOYMENT_TEXT_MAX + 1];
    char recorded_by[LFR_USER_NAME_MAX + 1];
} lfr_alert;

/* Record an alert for a running deployment (LFR_ACTION_DEPLOYMENT_RUN): the
 * image must belong to the deployment's snapshot. The crop is sealed into a
 * media file before the row and its "alert.add" entry commit. */
int lfr_store_alert_add(lfr_store *store, const lfr_user *actor, const lfr_alert_params *a,
                        int64_t *id_out);

/* Filter for lfr_store_alert_list: 0 / NULL fields match everything. */
typedef struct lfr_alert_filter {
    int64_t deployment_id;
    lfr_outcome outcome;
    const char *from, *to; /* alert time, inclusive */
} lfr_alert_filter;

/* Call fn for each matching alert in id order (LFR_ACTION_ALERT_LIST; no
 * biometric data, not audited). */
int lfr_store_alert_list(lfr_store *store, const lfr_user *actor, const lfr_alert_filter *filter,
                         int (*fn)(const lfr_alert *a, void *ctx), void *ctx);

/* Read alert `id` (LFR_ACTION_ALERT_SHOW; audited as "alert.show"). When
 * crop_out is not NULL and the crop still exists, it is decrypted into a
 * malloc'd buffer (*crop_out, *crop_size): biometric data the caller wipes
 * and frees. */
int lfr_store_alert_show(lfr_store *store, const lfr_user *actor, int64_t id, lfr_alert *out,
                         uint8_t **crop_out, size_t *crop_size);

/* Adjudicate alert `id` (LFR_ACTION_ALERT_ADJUDICATE): set its outcome and,
 * unless LFR_ENGAGEMENT_NONE, the engagement; note may be NULL. Audited as
 * "alert.adjudicate"; lfr_audit_verify checks each alert against its newest
 * such entry. Outcome not_adjudicated is refused. */
int lfr_store_alert_adjudicate(lfr_store *store, const lfr_user *actor, int64_t id,
                               lfr_outcome outcome, lfr_engagement engagement, const char *note);

/* ---- Retention policy ------------------------------------------------------------ */

/* The one configuration of what is kept and for how long. */
typedef struct lfr_policy {
    int64_t alert_crop_days;      /* alert crops and probe data: 31 */
    int64_t snapshot_purge_hours; /* a stopped deployment's frozen templates: 24 */
    int64_t expired_subject_days; /* grace after a subject expires before its images go: 0 */
    int64_t checkpoint_entries;   /* publish a log checkpoint after this many entries: 1000 */
    int64_t
        checkpoint_minutes; /* ... or this many minutes, whichever first: 60 (0: every commit) */
    char set_by[LFR_USER_NAME_MAX + 1]; /* "" for the defaults */
    char set_at[32];
} lfr_policy;

/* The policy in force (no actor: it is public). */
int lfr_store_policy_get(lfr_store *store, lfr_policy *out);

/* Set one value ("alert_crop_days", "snapshot_purge_hours",
 * "expired_subject_days"; 0 to 3650 days / 87600 hours; "checkpoint_entries",
 * 0 to 1000000, "checkpoint_minutes", 0 to 1440) (actor needs
 * LFR_ACTION_POLICY_SET); audited as "policy.set" with old and new values. */
int lfr_store_policy_set(lfr_store *store, const lfr_user *actor, const char *key, int64_t value);

/* What one retention run deleted. */
typedef struct lfr_retention_result {
    int64_t alert_crops;     /* alert crops deleted */
    int64_t snapshots;       /* deployment snapshots purged */
    int64_t snapshot_images; /* templates in them */
    int64_t subject_images;  /* images of expired subjects deleted */
    int64_t subjects;        /* expired subjects whose images went */
    int64_t orphans;         /* unreferenced media files swept */
} lfr_retention_result;

/* Enforce the policy (LFR_ACTION_RETENTION_RUN). Each kind of deletion
 * commits the rows' deletion and a "retention.delete" receipt (what, how
 * many, the hashes) in one transaction, then removes the files; so it can
 * be killed at any point and run again: it is idempotent, and files a kill
 * left behind are swept. Ends with a "retention.run" entry holding the
 * policy and the totals. */
int lfr_store_retention_run(lfr_store *store, const lfr_user *actor, lfr_retention_result *out);

/* Check that a user may produce a report and audit it ("report.<kind>",
 * detail: the range and format). Reports are built from the lists above. */
int lfr_store_report_begin(lfr_store *store, const lfr_user *actor, const char *kind,
                           const char *from, const char *to, const char *format);

/* ---- Reports ---------------------------------------------------------------- */

/* Output formats. */
typedef enum lfr_report_format {
    LFR_REPORT_JSON = 1,
    LFR_REPORT_CSV = 2, /* grid only */
    LFR_REPORT_MD = 3,
    LFR_REPORT_HTML = 4, /* FOI only */
} lfr_report_format;

/* "json", "csv", "md" or "html"; LFR_ERR_INVALID otherwise. */
int lfr_report_format_parse(const char *name, lfr_report_format *out);

/* The deployment grid: one row per deployment whose window (actual, else
 * planned) meets [from, to] (ISO-8601 times or dates, inclusive; NULL for
 * open ends): date, window, location, purpose, installation, watchlist size
 * (total and per category, as frozen at start), faces seen, alerts, true
 * alerts (outcome true or confirmed_true), false alerts (false or
 * confirmed_false), engagements (spoken to, arrested or other disposal),
 * arrests, and the false-alert rate (false alerts per face seen). JSON, CSV
 * or Markdown to `out` (actor needs LFR_ACTION_REPORT; audited). */
int lfr_report_grid(lfr_store *store, const lfr_user *actor, const char *from, const char *to,
                    lfr_report_format format, FILE *out);

/* The transparency report for [from, to]: deployments (dates, places,
 * purposes, justification, legal basis, installation, authorisation);
 * faces scanned; true and false alerts and those that led to police
 * action; watchlist sizes per category and image provenance; images
 * retained now and deletions performed (from the receipts in the audit
 * chain); the retention policy in force; accuracy and bias tests on
 * record; data shared with third parties; and the statement that no
 * demographic attribute of scanned people is inferred or recorded. Every
 * figure names the records it was computed from. JSON, Markdown or HTML
 * (actor needs LFR_ACTION_REPORT; audited). */
int lfr_report_foi(lfr_store *store, const lfr_user *actor, const char *from, const char *to,
                   lfr_report_format format, FILE *out);

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
    /* The byte lengths of time, actor, action, object and detail. Entries
     * written by lfr hold UTF-8 text without NUL bytes, so these equal
     * strlen(); a database edited outside lfr may hide bytes after a NUL,
     * and the hashes cover every byte. */
    size_t n_time, n_actor, n_action, n_object, n_detail;
    /* Non-zero when a field is not stored as text (a BLOB, a number, NULL):
     * written outside lfr; verification names the entry. */
    int malformed;
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
    char reason[320];    /* why first_bad is bad; "" when it verifies */
    uint64_t anchor_seq; /* the (seq, hash) recorded in audit.head; 0 if none */
    uint64_t unanchored; /* verified entries after the anchor: a crash between a
                            commit and the anchor update, or a concurrent writer */
    /* The transparency log (lfr/log.h), for homes from schema 6 on: */
    uint64_t tree_size;           /* entries covered by the signed head */
    uint8_t root[LFR_HASH_BYTES]; /* their Merkle root (RFC 9162, SHA-256) */
    char key[256];                /* the log key that signed it (name+id+key) */
    uint64_t n_checkpoints;       /* published checkpoints checked */
    uint64_t checkpoint_size;     /* the size of the outside checkpoint extended */
    int n_witnesses;              /* its cosignatures by the given witness keys */
    char notes[512];              /* re-anchorings, an old home without a log, ... */
} lfr_audit_verdict;

/* Walk the whole chain: seq must run 1, 2, 3, ... without gaps, each
 * prev_hash must equal the previous entry's hash (zeros for entry 1), and
 * each hash must match the entry's contents. Then the anchor in audit.head
 * must name an entry that exists with the same hash. Last, the records must
 * match the entries that created them: each user (id, name, role) its
 * user.add entry, each sharing register row its sharing.add entry, each
 * evaluation its evaluation.add entry, each subject (with its images' ids,
 * provenance and hashes) its subject.add entry and, when removed, exactly
 * one subject.remove entry (an image deleted otherwise needs its retention
 * receipt); each deployment every step it took (create, authorise, start
 * with its frozen rows and snapshot hash, stop with the final counters,
 * purge with its receipt) by the same user at the same time, and none it
 * did not; each alert its alert.add entry, its adjudication the newest
 * alert.adjudicate entry, a deleted crop its receipt; each policy value
 * the newest policy.set entry; as many entries as rows (first_bad names
 * the entry, or is 0 for a row with no entry or a missing row). Returns LFR_OK, or LFR_ERR_TAMPERED
 * with verdict_out->first_bad and reason set (also in lfr_errmsg()); other codes for a database
 * that cannot be read. The transparency log's checks (lfr/log.h) come first:
 * this is lfr_audit_verify_with() with the default configuration. */
int lfr_audit_verify(lfr_store *store, lfr_audit_verdict *verdict_out);

#ifdef __cplusplus
}
#endif
#endif /* LFR_STORE_H */
