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

    /* 1 -> 2: the register of data shared outside the force. */
    "CREATE TABLE sharing ("
    "  id INTEGER PRIMARY KEY,"
    "  shared_on TEXT NOT NULL,"
    "  recipient TEXT NOT NULL CHECK (length(recipient) BETWEEN 1 AND 1000),"
    "  purpose TEXT NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),"
    "  legal_basis TEXT NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 1000),"
    "  dataset TEXT NOT NULL CHECK (length(dataset) BETWEEN 1 AND 1000),"
    "  n_images INTEGER NOT NULL CHECK (n_images >= 0),"
    "  security TEXT NOT NULL CHECK (length(security) BETWEEN 1 AND 1000),"
    "  recorded_by TEXT NOT NULL,"
    "  recorded_at TEXT NOT NULL"
    ");"
    "CREATE INDEX sharing_shared_on ON sharing (shared_on);",

    /* 2 -> 3: accuracy and bias test runs, and their figures. */
    "CREATE TABLE evaluations ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),"
    "  run_at TEXT NOT NULL,"
    "  dataset TEXT NOT NULL CHECK (length(dataset) BETWEEN 1 AND 1000),"
    "  dataset_sha256 TEXT NOT NULL CHECK (length(dataset_sha256) = 64),"
    "  model TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 1000),"
    "  engine_version TEXT NOT NULL CHECK (length(engine_version) BETWEEN 1 AND 200),"
    "  notes TEXT NOT NULL,"
    "  recorded_by TEXT NOT NULL,"
    "  recorded_at TEXT NOT NULL"
    ");"
    "CREATE INDEX evaluations_run_at ON evaluations (run_at);"
    "CREATE TABLE evaluation_metrics ("
    "  evaluation_id INTEGER NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  grp TEXT NOT NULL,"
    "  metric TEXT NOT NULL CHECK (length(metric) BETWEEN 1 AND 64),"
    "  threshold REAL,"
    "  value REAL,"
    "  ci_low REAL,"
    "  ci_high REAL,"
    "  n INTEGER,"
    "  PRIMARY KEY (evaluation_id, idx)"
    ");",
    /* 3 -> 4: the watchlist: subjects and their reference images. The
     * database holds hashes and metadata only; image bytes and templates
     * are sealed in files under media/ (named by media_file). Categories
     * are the College of Policing's eight (docs/RECORDS.md gives the full
     * wording). */
    "CREATE TABLE subjects ("
    "  id INTEGER PRIMARY KEY,"
    "  reference TEXT NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 64),"
    "  category TEXT NOT NULL CHECK (category IN"
    "    ('wanted_by_courts', 'suspect', 'bail_conditions', 'missing_at_risk',"
    "     'risk_of_harm', 'associate', 'witness', 'victim')),"
    "  reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),"
    "  added_by TEXT NOT NULL,"
    "  added_at TEXT NOT NULL,"
    "  expires_at TEXT NOT NULL,"
    "  removed_at TEXT,"
    "  removed_by TEXT,"
    "  CHECK ((removed_at IS NULL) = (removed_by IS NULL))"
    ");"
    "CREATE INDEX subjects_category ON subjects (category);"
    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects (id),"
    "  provenance TEXT NOT NULL CHECK (provenance IN"
    "    ('custody_imaging', 'other_police_source', 'public_appeal', 'other')),"
    "  capture_date TEXT,"
    "  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
    "  model_sha256 TEXT NOT NULL CHECK (length(model_sha256) = 64),"
    "  score REAL NOT NULL,"
    "  box_x REAL NOT NULL, box_y REAL NOT NULL, box_w REAL NOT NULL, box_h REAL NOT NULL,"
    "  media_file TEXT NOT NULL UNIQUE,"
    "  added_by TEXT NOT NULL,"
    "  added_at TEXT NOT NULL,"
    "  deleted_at TEXT"
    ");"
    "CREATE INDEX images_subject ON images (subject_id);",
};

const int lfr__sqlite_n_migrations =
    (int)(sizeof lfr__sqlite_migrations / sizeof lfr__sqlite_migrations[0]);
