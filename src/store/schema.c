/*
 * The SQLite schema, as forward-only migration steps. Step i takes a
 * database from version i to i + 1 (PRAGMA user_version); the backend runs
 * each in its own transaction, together with the audit entry recording it.
 * Steps are never edited once released: a change is a new step appended at
 * the end, and tests migrate from empty and from every earlier version.
 *
 * The audit table refuses UPDATE and DELETE through triggers. That stops
 * mistakes in the program, not a person with the database file, who can drop
 * the triggers; the hash chain is what detects that.
 */
#include "store.h"

const char *const lfr__sqlite_migrations[] = {
    /* 0 -> 1: users and the audit chain. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),"
    "  role TEXT NOT NULL CHECK (role IN"
    "    ('operator', 'authorising_officer', 'auditor', 'administrator')),"
    "  pwhash TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  created_by TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))"
    ");"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    "  time TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    "  hash BLOB NOT NULL CHECK (length(hash) = 32)"
    ");"
    "CREATE INDEX audit_time ON audit (time);"
    "CREATE INDEX audit_actor ON audit (actor);"
    "CREATE INDEX audit_object ON audit (object);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END;",
};

const int lfr__sqlite_n_migrations =
    (int)(sizeof lfr__sqlite_migrations / sizeof lfr__sqlite_migrations[0]);
