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
 * user.add entry, each sharing register row its sharing.add entry, as many
 * entries as rows (first_bad names the entry, or is 0 for a row with no
 * entry or a missing row). Returns LFR_OK, or
 * LFR_ERR_TAMPERED with verdict_out->first_bad and reason set (also in
 * lfr_errmsg()); other codes for a database that cannot be read. */
int lfr_audit_verify(lfr_store *store, lfr_audit_verdict *verdict_out);

#ifdef __cplusplus
}
#endif
#endif /* LFR_STORE_H */
