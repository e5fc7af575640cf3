/*
 * The store's public face: creating and opening a home, schema migrations,
 * roles and the permission table, and users with argon2id passwords. Every
 * change runs in a backend transaction together with its audit entry; every
 * refusal is audited in a transaction of its own. SQL lives in the backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

/* ---- Paths --------------------------------------------------------------------- */

static int home_path(const char *home, const char *leaf, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", home, leaf);
    if (n < 0 || (size_t)n >= cap)
        return lfr__err(LFR_ERR_INVALID, "%.64s...: path too long", home);
    return LFR_OK;
}

/* 1 when the folder holds nothing but "." and "..", 0 when it holds more,
 * -1 (with the message set) when it cannot be read. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno)), -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

int lfr__private_dir(const char *path)
{
    if (mkdir(path, 0700) && errno != EEXIST)
        return lfr__err(LFR_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
    /* Exact mode whatever the umask, and also for an existing empty folder. */
    if (chmod(path, 0700))
        return lfr__err(LFR_ERR_IO, "%s: cannot set mode 0700: %s", path, strerror(errno));
    return LFR_OK;
}

/* Create `path` (which must not exist) with mode 0600 and `size` bytes of
 * `data` (none for an empty file), synced to disk. */
int lfr__private_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int rc = LFR_OK;
    if (fchmod(fd, 0600)) rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    const uint8_t *p = data;
    while (!rc && size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = lfr__err(LFR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            break;
        }
        p += w;
        size -= (size_t)w;
    }
    if (!rc && fsync(fd)) rc = lfr__err(LFR_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) && !rc) rc = lfr__err(LFR_ERR_IO, "%s: close: %s", path, strerror(errno));
    return rc;
}

/* ---- Transactions and migrations -------------------------------------------------- */

int lfr__store_begin(lfr_store *s)
{
    s->head_pending = 0;
    if (s->readonly) return lfr__err(LFR_ERR_DENIED, "%s: opened read-only", s->home);
    int rc = s->be->begin(s->db);
    /* The log's guard runs inside the transaction, so that no other writer
     * moves the log between the check and the appends. */
    if (!rc) rc = lfr__log_begin(s);
    if (rc) s->be->rollback(s->db);
    return rc;
}

int lfr__store_commit(lfr_store *s)
{
    s->committed = 0;
    int rc = lfr__log_seal(s);
    if (!rc) rc = s->be->commit(s->db);
    if (!rc) s->committed = 1;
    if (rc) {
        s->be->rollback(s->db);
        lfr__log_rollback(s);
        s->head_pending = 0;
        return rc;
    }
    if (lfr__log_active(s)) {
        s->head_pending = 0;
        rc = lfr__log_after_commit(s);
    } else if (s->head_pending) {
        /* A home before the log (migrating to it): the old anchor. */
        s->head_pending = 0;
        rc = lfr__audit_anchor_write(s->home, s->head_seq, s->head_hash);
    }
    if (rc) return lfr__err_prefix(rc, "the change was committed, but audit.head was not updated");
    return LFR_OK;
}

void lfr__store_rollback(lfr_store *s)
{
    s->be->rollback(s->db);
    lfr__log_rollback(s);
    s->head_pending = 0;
}

int lfr__store_migrate(lfr_store *s, int target)
{
    int latest = s->be->schema_latest();
    if (target > latest) target = latest;
    while (s->version < target) {
        int to = s->version + 1;
        int rc = lfr__store_begin(s);
        if (rc) return rc;
        rc = s->be->migrate_step(s->db, to);
        if (!rc) {
            char detail[96];
            snprintf(detail, sizeof detail, "{\"from\":%d,\"to\":%d,\"backend\":\"%s\"}", to - 1,
                     to, s->be->name);
            rc = lfr__audit_append(s, "system", "store.migrate", "schema", detail);
        }
        if (rc) {
            lfr__store_rollback(s);
            return lfr__err_prefix(rc, "schema migration");
        }
        rc = lfr__store_commit(s);
        if (rc) return rc;
        s->version = to;
    }
    return LFR_OK;
}

/* ---- Homes ------------------------------------------------------------------------ */

/* The connection string in home/database: a regular file, not a link,
 * mode 0600 or stricter (it may name a password file or hold a password),
 * one line. NULL in *out (and LFR_OK) when the home has no such file. */
static int read_database_file(const char *home, char **out)
{
    *out = NULL;
    char path[4096];
    int rc = home_path(home, "database", path, sizeof path);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return LFR_OK;
        return lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st))
        rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = lfr__err(LFR_ERR_FORMAT, "%s: not a regular file", path);
    else if (st.st_mode & 077)
        rc = lfr__err(LFR_ERR_DENIED, "%s: readable by others (mode %03o; want 600)", path,
                      (unsigned)(st.st_mode & 0777));
    close(fd);
    if (rc) return rc;
    uint8_t *data;
    size_t n;
    rc = lfr__read_file(path, 4096, &data, &n);
    if (rc) return rc;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' '))
        n--;
    int bad = n == 0;
    for (size_t i = 0; i < n; i++)
        if (data[i] < 0x20 || data[i] == 0x7f) bad = 1;
    if (bad) {
        sodium_memzero(data, n);
        free(data);
        return lfr__err(LFR_ERR_FORMAT, "%s: not one line holding a connection string", path);
    }
    char *conninfo = malloc(n + 1);
    if (conninfo) {
        memcpy(conninfo, data, n);
        conninfo[n] = 0;
    }
    sodium_memzero(data, n);
    free(data);
    if (!conninfo) return lfr__err(LFR_ERR_NOMEM, "out of memory");
    *out = conninfo;
    return LFR_OK;
}

static void free_secret(char *s)
{
    if (!s) return;
    sodium_memzero(s, strlen(s));
    free(s);
}

/* A database that may take a new store: reachable, and holding no lfr
 * schema yet (another home's records are not to be mixed with a new key). */
static int check_new_database(const char *conninfo)
{
    void *db;
    int rc = lfr__pg_backend.open(conninfo, 1, &db);
    if (rc) return rc;
    int version = 0;
    rc = lfr__pg_backend.schema_version(db, &version);
    lfr__pg_backend.close(db);
    if (!rc && version != 0)
        rc = lfr__err(LFR_ERR_CONFLICT,
                      "the database already holds an lfr store (schema version %d); a new home"
                      " needs an empty database",
                      version);
    return rc;
}

int lfr_store_init_with(const char *home, const lfr_store_config *config)
{
    if (!home || !*home) return lfr__err(LFR_ERR_INVALID, "no home folder given");
    if (sodium_init() < 0) return lfr__err(LFR_ERR_BACKEND, "libsodium initialisation failed");
    const char *conninfo =
        config && config->database && *config->database ? config->database : NULL;
    if (conninfo) {
        size_t n = strlen(conninfo);
        int bad = n > 4000;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)conninfo[i] < 0x20 || conninfo[i] == 0x7f) bad = 1;
        if (bad)
            return lfr__err(LFR_ERR_INVALID,
                            "database: a connection string is one line of at most 4000 bytes");
    }
    char db[4096], key[4096], media[4096], dbfile[4096];
    int rc = home_path(home, "lfr.db", db, sizeof db);
    if (!rc) rc = home_path(home, "key", key, sizeof key);
    if (!rc) rc = home_path(home, "media", media, sizeof media);
    if (!rc) rc = home_path(home, "database", dbfile, sizeof dbfile);
    if (rc) return rc;

    struct stat st;
    if (lstat(home, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return lfr__err(LFR_ERR_CONFLICT, "%s: not a folder", home);
        if (lstat(db, &st) == 0 || lstat(dbfile, &st) == 0)
            return lfr__err(LFR_ERR_CONFLICT, "%s: already initialised", home);
        int empty = dir_is_empty(home);
        if (empty < 0) return LFR_ERR_IO;
        if (!empty)
            return lfr__err(LFR_ERR_CONFLICT,
                            "%s: folder is not empty and holds no lfr.db; refusing to use it",
                            home);
    } else if (errno != ENOENT) {
        return lfr__err(LFR_ERR_IO, "%s: %s", home, strerror(errno));
    }
    /* Before anything is made: the database must be there, and empty. */
    if (conninfo) rc = check_new_database(conninfo);
    if (!rc) rc = lfr__private_dir(home);
    if (rc) return rc;

    uint8_t k[LFR__KEY_BYTES];
    randombytes_buf(k, sizeof k);
    rc = lfr__private_file(key, k, sizeof k);
    sodium_memzero(k, sizeof k);
    if (conninfo) {
        /* The sealed media live in the database: no media folder. */
        char line[4096 + 2];
        int n = snprintf(line, sizeof line, "%s\n", conninfo);
        if (!rc) rc = lfr__private_file(dbfile, line, (size_t)n);
        sodium_memzero(line, sizeof line);
    } else {
        if (!rc) rc = lfr__private_dir(media);
        /* The database file is created here, 0600, so that SQLite (and its
         * -wal and -shm files, which copy its mode) never makes it
         * world-readable. */
        if (!rc) rc = lfr__private_file(db, NULL, 0);
    }
    if (rc) return rc;

    lfr_store *s;
    rc = lfr_store_open(home, &s);
    lfr_store_close(s);
    return rc;
}

int lfr_store_init(const char *home)
{
    return lfr_store_init_with(home, NULL);
}

int lfr__store_open_raw(const char *home, lfr_store **store_out)
{
    *store_out = NULL;
    if (!home || !*home) return lfr__err(LFR_ERR_INVALID, "no home folder given");
    if (sodium_init() < 0) return lfr__err(LFR_ERR_BACKEND, "libsodium initialisation failed");
    char db[4096], key[4096];
    int rc = home_path(home, "lfr.db", db, sizeof db);
    if (!rc) rc = home_path(home, "key", key, sizeof key);
    if (rc) return rc;

    /* A file `database` names a PostgreSQL database; else lfr.db is the
     * embedded one. */
    char *conninfo = NULL;
    rc = read_database_file(home, &conninfo);
    if (rc) return rc;
    struct stat st;
    if (!conninfo && stat(db, &st))
        return lfr__err(LFR_ERR_NOT_FOUND, "%s: not an lfr home (no lfr.db; run lfr init)", home);

    lfr_store *s = calloc(1, sizeof *s);
    if (!s) {
        free_secret(conninfo);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    s->be = conninfo ? &lfr__pg_backend : &lfr__sqlite_backend;
    s->media_fd = -1;
    s->home = strdup(home);
    if (!s->home) {
        free_secret(conninfo);
        free(s);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    const char *where = conninfo ? "database" : db;
    rc = lfr__key_load(key, &s->key);
    /* Sealed media are files under media/, unless the backend keeps them. */
    if (!rc && !s->be->blob_put) rc = lfr__media_open_dir(home, &s->media_fd);
    if (!rc) {
        rc = s->be->open(conninfo ? conninfo : db, 0, &s->db);
        if (rc && conninfo) lfr__err_prefix(rc, home);
    }
    free_secret(conninfo);
    if (!rc) rc = s->be->schema_version(s->db, &s->version);
    if (!rc && s->version > s->be->schema_latest())
        rc = lfr__err(LFR_ERR_UNSUPPORTED,
                      "%s: database schema version %d is newer than this program's (%d); "
                      "use a newer lfr",
                      where, s->version, s->be->schema_latest());
    if (!rc && s->version < 0)
        rc = lfr__err(LFR_ERR_FORMAT, "%s: bad schema version %d", where, s->version);
    if (rc) {
        lfr_store_close(s);
        return rc;
    }
    *store_out = s;
    return LFR_OK;
}

int lfr_store_open(const char *home, lfr_store **store_out)
{
    lfr_store *s;
    int rc = lfr__store_open_raw(home, &s);
    *store_out = NULL;
    if (rc) return rc;
    rc = lfr__store_migrate(s, s->be->schema_latest());
    if (!rc) rc = lfr__log_open(s, 0);
    if (rc) {
        lfr_store_close(s);
        return rc;
    }
    *store_out = s;
    return LFR_OK;
}

int lfr_store_open_readonly(const char *home, lfr_store **store_out)
{
    *store_out = NULL;
    if (!home || !*home) return lfr__err(LFR_ERR_INVALID, "no home folder given");
    if (sodium_init() < 0) return lfr__err(LFR_ERR_BACKEND, "libsodium initialisation failed");
    char db[4096];
    int rc = home_path(home, "lfr.db", db, sizeof db);
    if (rc) return rc;
    char *conninfo = NULL;
    rc = read_database_file(home, &conninfo);
    if (rc) return rc;
    struct stat st;
    if (!conninfo && stat(db, &st))
        return lfr__err(LFR_ERR_NOT_FOUND, "%s: not an lfr home (no lfr.db)", home);
    lfr_store *s = calloc(1, sizeof *s);
    if (!s) {
        free_secret(conninfo);
        return lfr__err(LFR_ERR_NOMEM, "out of memory");
    }
    s->be = conninfo ? &lfr__pg_backend : &lfr__sqlite_backend;
    s->media_fd = -1;
    s->readonly = 1;
    s->home = strdup(home);
    if (!s->home) rc = lfr__err(LFR_ERR_NOMEM, "out of memory");
    if (!rc) rc = s->be->open_readonly(conninfo ? conninfo : db, &s->db);
    free_secret(conninfo);
    if (!rc) rc = s->be->schema_version(s->db, &s->version);
    if (!rc && (s->version > s->be->schema_latest() || s->version < 0))
        rc = lfr__err(LFR_ERR_UNSUPPORTED,
                      "%s: database schema version %d is not one this program reads (0 to %d)", db,
                      s->version, s->be->schema_latest());
    if (!rc) rc = lfr__log_open(s, 1);
    if (rc) {
        lfr_store_close(s);
        return rc;
    }
    *store_out = s;
    return LFR_OK;
}

void lfr_store_close(lfr_store *s)
{
    if (!s) return;
    if (s->db) {
        s->be->rollback(s->db);
        s->be->close(s->db);
    }
    lfr__log_close(s);
    lfr__key_free(s->key);
    if (s->media_fd >= 0) close(s->media_fd);
    free(s->home);
    free(s);
}

const char *lfr_store_backend(const lfr_store *s)
{
    return s->be->name;
}

int lfr_store_schema_version(const lfr_store *s)
{
    return s->version;
}

int lfr_store_schema_latest(void)
{
    return lfr__sqlite_backend.schema_latest();
}

/* ---- Roles ------------------------------------------------------------------------- */

const char *lfr_role_name(lfr_role role)
{
    switch (role) {
    case LFR_ROLE_OPERATOR:
        return "operator";
    case LFR_ROLE_AUTHORISING_OFFICER:
        return "authorising_officer";
    case LFR_ROLE_AUDITOR:
        return "auditor";
    case LFR_ROLE_ADMINISTRATOR:
        return "administrator";
    }
    return "?";
}

int lfr_role_parse(const char *name, lfr_role *role_out)
{
    static const lfr_role all[] = {LFR_ROLE_OPERATOR, LFR_ROLE_AUTHORISING_OFFICER,
                                   LFR_ROLE_AUDITOR, LFR_ROLE_ADMINISTRATOR};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (!strcmp(name, lfr_role_name(all[i]))) {
            *role_out = all[i];
            return LFR_OK;
        }
    }
    if (name && !strcmp(name, "authorising-officer")) {
        *role_out = LFR_ROLE_AUTHORISING_OFFICER;
        return LFR_OK;
    }
    return lfr__err(LFR_ERR_INVALID,
                    "unknown role '%.64s' (operator, authorising_officer, auditor, administrator)",
                    name ? name : "");
}

/* The permission table documented in lfr/store.h: a bit per role. */
#define R(role) (1u << (role))
#define ALL                                                                                        \
    (R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_AUTHORISING_OFFICER) | R(LFR_ROLE_AUDITOR) |                \
     R(LFR_ROLE_ADMINISTRATOR))
static const struct {
    lfr_action action;
    const char *name;
    unsigned roles;
} permissions[] = {
    {LFR_ACTION_USER_ADD, "user.add", R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_USER_LIST, "user.list", R(LFR_ROLE_AUDITOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_AUDIT_LIST, "audit.list", R(LFR_ROLE_AUDITOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_AUDIT_VERIFY, "audit.verify",
     R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_AUTHORISING_OFFICER) | R(LFR_ROLE_AUDITOR) |
         R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_SHARING_ADD, "sharing.add", R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_SHARING_LIST, "sharing.list", R(LFR_ROLE_AUDITOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_EVALUATION_ADD, "evaluation.add", R(LFR_ROLE_AUDITOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_EVALUATION_LIST, "evaluation.list",
     R(LFR_ROLE_AUTHORISING_OFFICER) | R(LFR_ROLE_AUDITOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_SUBJECT_ADD, "subject.add", R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_SUBJECT_LIST, "subject.list", ALL},
    {LFR_ACTION_SUBJECT_SHOW, "subject.show", ALL},
    {LFR_ACTION_SUBJECT_REMOVE, "subject.remove", R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_SUBJECT_TEMPLATES, "subject.templates",
     R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_WATCHLIST_STATS, "watchlist.stats", ALL},
    {LFR_ACTION_DEPLOYMENT_CREATE, "deployment.create",
     R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_AUTHORISING_OFFICER) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_DEPLOYMENT_AUTHORISE, "deployment.authorise", R(LFR_ROLE_AUTHORISING_OFFICER)},
    {LFR_ACTION_DEPLOYMENT_RUN, "deployment.run", R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_DEPLOYMENT_LIST, "deployment.list", ALL},
    {LFR_ACTION_ALERT_LIST, "alert.list", ALL},
    {LFR_ACTION_ALERT_SHOW, "alert.show", ALL},
    {LFR_ACTION_ALERT_ADJUDICATE, "alert.adjudicate",
     R(LFR_ROLE_OPERATOR) | R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_RETENTION_RUN, "retention.run", R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_POLICY_SET, "policy.set", R(LFR_ROLE_ADMINISTRATOR)},
    {LFR_ACTION_REPORT, "report", ALL},
    {LFR_ACTION_AUDIT_REANCHOR, "audit.reanchor", R(LFR_ROLE_ADMINISTRATOR)},
};
#undef ALL
#undef R

int lfr_role_allows(lfr_role role, lfr_action action)
{
    if (role < LFR_ROLE_OPERATOR || role > LFR_ROLE_ADMINISTRATOR) return 0;
    for (size_t i = 0; i < sizeof permissions / sizeof permissions[0]; i++)
        if (permissions[i].action == action) return (permissions[i].roles >> role) & 1u;
    return 0;
}

const char *lfr_action_name(lfr_action action)
{
    for (size_t i = 0; i < sizeof permissions / sizeof permissions[0]; i++)
        if (permissions[i].action == action) return permissions[i].name;
    return "?";
}

int lfr__store_authorise(lfr_store *s, const lfr_user *actor, lfr_action action, const char *object,
                         lfr__user_row *row_out)
{
    char refused[64];
    snprintf(refused, sizeof refused, "%s.refused", lfr_action_name(action));
    if (!actor) {
        lfr__err(LFR_ERR_DENIED, "%s needs a logged-in user", lfr_action_name(action));
        return lfr__audit_refusal(s, LFR_ERR_DENIED, "anonymous", refused, object);
    }
    int rc = s->be->user_by_id(s->db, actor->id, row_out);
    if (rc == LFR_ERR_NOT_FOUND || (!rc && row_out->disabled)) {
        lfr__err(LFR_ERR_DENIED, "user %s no longer exists or is disabled", actor->name);
        return lfr__audit_refusal(s, LFR_ERR_DENIED, actor->name, refused, object);
    }
    if (rc) return rc;
    sodium_memzero(row_out->pwhash, sizeof row_out->pwhash);
    if (!lfr_role_allows(row_out->user.role, action)) {
        lfr__err(LFR_ERR_DENIED, "user %s (%s) may not %s", row_out->user.name,
                 lfr_role_name(row_out->user.role), lfr_action_name(action));
        return lfr__audit_refusal(s, LFR_ERR_DENIED, row_out->user.name, refused, object);
    }
    return LFR_OK;
}

/* ---- Users -------------------------------------------------------------------------- */

void lfr__user_detail(int64_t id, lfr_role role, int bootstrap, char out[LFR__USER_DETAIL_MAX])
{
    snprintf(out, LFR__USER_DETAIL_MAX, "{\"id\":%lld,\"role\":\"%s\"%s}", (long long)id,
             lfr_role_name(role), bootstrap ? ",\"bootstrap\":true" : "");
}

static int check_user_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > LFR_USER_NAME_MAX)
        return lfr__err(LFR_ERR_INVALID, "a user name has 1 to %d characters", LFR_USER_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return lfr__err(LFR_ERR_INVALID,
                            "bad user name: use letters, digits, '.', '_' and '-', "
                            "starting with a letter or digit");
    }
    return LFR_OK;
}

static int check_password(const char *password)
{
    size_t n = password ? strnlen(password, LFR_PASSWORD_MAX + 1) : 0;
    if (n < LFR_PASSWORD_MIN)
        return lfr__err(LFR_ERR_INVALID, "a password needs at least %d characters",
                        LFR_PASSWORD_MIN);
    if (n > LFR_PASSWORD_MAX)
        return lfr__err(LFR_ERR_INVALID, "a password has at most %d characters", LFR_PASSWORD_MAX);
    return LFR_OK;
}

int lfr_store_user_count(lfr_store *s, int64_t *n_out)
{
    return s->be->user_count(s->db, n_out);
}

int lfr_store_user_add(lfr_store *s, const lfr_user *actor, const char *name, lfr_role role,
                       const char *password)
{
    int rc = check_user_name(name);
    if (!rc && (role < LFR_ROLE_OPERATOR || role > LFR_ROLE_ADMINISTRATOR))
        rc = lfr__err(LFR_ERR_INVALID, "unknown role %d", (int)role);
    if (!rc) rc = check_password(password);
    if (rc) return rc;

    char object[16 + LFR_USER_NAME_MAX];
    snprintf(object, sizeof object, "user:%s", name);
    const char *by = "system";
    lfr__user_row row;
    if (!actor) {
        /* Bootstrap: only the first user, and only an administrator. */
        int64_t n;
        rc = s->be->user_count(s->db, &n);
        if (rc) return rc;
        if (n > 0) {
            lfr__err(LFR_ERR_DENIED, "users exist: adding one needs a logged-in administrator");
            return lfr__audit_refusal(s, LFR_ERR_DENIED, "anonymous", "user.add.refused", object);
        }
        if (role != LFR_ROLE_ADMINISTRATOR) {
            lfr__err(LFR_ERR_DENIED, "the first user must be an administrator");
            return lfr__audit_refusal(s, LFR_ERR_DENIED, "system", "user.add.refused", object);
        }
    } else {
        rc = lfr__store_authorise(s, actor, LFR_ACTION_USER_ADD, object, &row);
        if (rc) return rc;
        by = row.user.name;
    }

    char pwhash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(pwhash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return lfr__err(LFR_ERR_NOMEM, "password hashing ran out of memory");

    char now[LFR__TIME_LEN];
    rc = lfr__clock_now(now);
    if (rc) return rc;
    rc = lfr__store_begin(s);
    if (rc) return rc;
    int64_t id = 0;
    /* Checked inside the transaction, so that two bootstraps cannot both win. */
    if (!actor) {
        int64_t n;
        rc = s->be->user_count(s->db, &n);
        if (!rc && n > 0)
            rc = lfr__err(LFR_ERR_CONFLICT, "another user was added first: log in as them");
    }
    if (!rc) rc = s->be->user_insert(s->db, name, role, pwhash, now, by, &id);
    sodium_memzero(pwhash, sizeof pwhash);
    if (!rc) {
        char detail[LFR__USER_DETAIL_MAX];
        lfr__user_detail(id, role, !actor, detail);
        rc = lfr__audit_append(s, by, "user.add", object, detail);
    }
    if (rc) {
        lfr__store_rollback(s);
        if (rc == LFR_ERR_CONFLICT) {
            /* The name is taken, or (bootstrap) another first user won. */
            if (actor) lfr__err(rc, "user %s already exists", name);
            return lfr__audit_refusal(s, rc, by, "user.add.refused", object);
        }
        return rc;
    }
    return lfr__store_commit(s);
}

int lfr_store_login(lfr_store *s, const char *name, const char *password, lfr_user *user_out)
{
    memset(user_out, 0, sizeof *user_out);
    if (!name || !password) return lfr__err(LFR_ERR_INVALID, "no user name or password");
    size_t plen = strnlen(password, LFR_PASSWORD_MAX + 1);
    lfr__user_row row;
    int rc = check_user_name(name);
    int found = 0;
    if (!rc) {
        rc = s->be->user_by_name(s->db, name, &row);
        if (rc && rc != LFR_ERR_NOT_FOUND) return rc;
        found = rc == LFR_OK && !row.disabled;
    }
    int ok = 0;
    if (found && plen <= LFR_PASSWORD_MAX) {
        ok = crypto_pwhash_str_verify(row.pwhash, password, plen) == 0;
    } else {
        /* Spend the same effort for an unknown user, so that timing does not
         * tell which names exist. */
        char dummy[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(dummy, "not a password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
            sodium_memzero(dummy, sizeof dummy);
    }
    if (found) sodium_memzero(row.pwhash, sizeof row.pwhash);
    if (!ok) {
        /* The name as typed is recorded only if well formed (and so bounded). */
        int valid = check_user_name(name) == LFR_OK;
        char object[16 + LFR_USER_NAME_MAX];
        snprintf(object, sizeof object, "user:%s", valid ? name : "(invalid name)");
        lfr__err(LFR_ERR_AUTH, "unknown user or wrong password");
        return lfr__audit_refusal(s, LFR_ERR_AUTH, valid ? name : "anonymous", "login.refused",
                                  object);
    }
    *user_out = row.user;
    return LFR_OK;
}

int lfr_store_user_list(lfr_store *s, const lfr_user *actor,
                        int (*fn)(const lfr_user *user, void *ctx), void *ctx)
{
    lfr__user_row row;
    int rc = lfr__store_authorise(s, actor, LFR_ACTION_USER_LIST, "users", &row);
    if (rc) return rc;
    return s->be->user_each(s->db, fn, ctx);
}
