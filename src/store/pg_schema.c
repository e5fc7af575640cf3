/*
 * The PostgreSQL schema, as forward-only migration steps with the same
 * versions and the same meaning as the SQLite ones (schema.c): step i takes
 * a database from version i to i + 1, in one transaction together with its
 * audit entry, and is never edited once released. The version is the one
 * row of lfr_schema (PostgreSQL has no PRAGMA user_version).
 *
 * Differences that keep behaviour identical to the embedded store:
 *  - text columns compare byte by byte (COLLATE "C"), as SQLite's BINARY
 *    collation does, so ordering and time ranges (ISO-8601 text) agree
 *    whatever the database's locale;
 *  - ids are plain BIGINT keys that the backend assigns as max + 1 inside
 *    the write transaction (writers hold one lock, pg.c), as SQLite assigns
 *    a rowid, so the same operations give the same ids on both backends
 *    and a rolled-back insert leaves no gap;
 *  - hashes are bytea, reals double precision;
 *  - sealed media live in the table media (bytea, stored uncompressed:
 *    sealed bytes do not compress), not in files, from version 4, where
 *    the first sealed media appear.
 *
 * The audit table refuses UPDATE, DELETE and TRUNCATE through triggers.
 * That stops mistakes in the program, not the database's owner, who can
 * drop them; the hash chain is what detects that. A site can also run lfrd
 * as a role that does not own the tables and was never granted UPDATE or
 * DELETE on audit (docs/POSTGRESQL.md).
 */
#include "pg.h"

#define TXT "TEXT COLLATE \"C\""

const char *const lfr__pg_migrations[] = {
    /* 0 -> 1: users and the audit chain. */
    "CREATE TABLE lfr_schema (version INTEGER NOT NULL);"
    "INSERT INTO lfr_schema VALUES (0);"
    "CREATE TABLE users ("
    "  id BIGINT PRIMARY KEY,"
    "  name " TXT " NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),"
    "  role " TXT " NOT NULL CHECK (role IN"
    "    ('operator', 'authorising_officer', 'auditor', 'administrator')),"
    "  pwhash " TXT " NOT NULL,"
    "  created_at " TXT " NOT NULL,"
    "  created_by " TXT " NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))"
    ");"
    "CREATE TABLE audit ("
    "  seq BIGINT PRIMARY KEY CHECK (seq >= 1),"
    "  time " TXT " NOT NULL,"
    "  actor " TXT " NOT NULL,"
    "  action " TXT " NOT NULL,"
    "  object " TXT " NOT NULL,"
    "  detail " TXT " NOT NULL,"
    "  prev_hash BYTEA NOT NULL CHECK (length(prev_hash) = 32),"
    "  hash BYTEA NOT NULL CHECK (length(hash) = 32)"
    ");"
    "CREATE INDEX audit_time ON audit (time);"
    "CREATE INDEX audit_actor ON audit (actor);"
    "CREATE INDEX audit_object ON audit (object);"
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN RAISE EXCEPTION 'the audit table is append-only'; END$$;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    "  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",

    /* 1 -> 2: the register of data shared outside the force. */
    "CREATE TABLE sharing ("
    "  id BIGINT PRIMARY KEY,"
    "  shared_on " TXT " NOT NULL,"
    "  recipient " TXT " NOT NULL CHECK (length(recipient) BETWEEN 1 AND 1000),"
    "  purpose " TXT " NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),"
    "  legal_basis " TXT " NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 1000),"
    "  dataset " TXT " NOT NULL CHECK (length(dataset) BETWEEN 1 AND 1000),"
    "  n_images BIGINT NOT NULL CHECK (n_images >= 0),"
    "  security " TXT " NOT NULL CHECK (length(security) BETWEEN 1 AND 1000),"
    "  recorded_by " TXT " NOT NULL,"
    "  recorded_at " TXT " NOT NULL"
    ");"
    "CREATE INDEX sharing_shared_on ON sharing (shared_on);",

    /* 2 -> 3: accuracy and bias test runs, and their figures. */
    "CREATE TABLE evaluations ("
    "  id BIGINT PRIMARY KEY,"
    "  kind " TXT " NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),"
    "  run_at " TXT " NOT NULL,"
    "  dataset " TXT " NOT NULL CHECK (length(dataset) BETWEEN 1 AND 1000),"
    "  dataset_sha256 " TXT " NOT NULL CHECK (length(dataset_sha256) = 64),"
    "  model " TXT " NOT NULL CHECK (length(model) BETWEEN 1 AND 1000),"
    "  engine_version " TXT " NOT NULL CHECK (length(engine_version) BETWEEN 1 AND 200),"
    "  notes " TXT " NOT NULL,"
    "  recorded_by " TXT " NOT NULL,"
    "  recorded_at " TXT " NOT NULL"
    ");"
    "CREATE INDEX evaluations_run_at ON evaluations (run_at);"
    "CREATE TABLE evaluation_metrics ("
    "  evaluation_id BIGINT NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,"
    "  idx BIGINT NOT NULL,"
    "  grp " TXT " NOT NULL,"
    "  metric " TXT " NOT NULL CHECK (length(metric) BETWEEN 1 AND 64),"
    "  threshold DOUBLE PRECISION,"
    "  value DOUBLE PRECISION,"
    "  ci_low DOUBLE PRECISION,"
    "  ci_high DOUBLE PRECISION,"
    "  n BIGINT,"
    "  PRIMARY KEY (evaluation_id, idx)"
    ");",

    /* 3 -> 4: the watchlist: subjects and their reference images, and the
     * sealed media (image bytes with their templates here; later frozen
     * watchlists and alert crops), named by media_file. */
    "CREATE TABLE subjects ("
    "  id BIGINT PRIMARY KEY,"
    "  reference " TXT " NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 64),"
    "  category " TXT " NOT NULL CHECK (category IN"
    "    ('wanted_by_courts', 'suspect', 'bail_conditions', 'missing_at_risk',"
    "     'risk_of_harm', 'associate', 'witness', 'victim')),"
    "  reason " TXT " NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),"
    "  added_by " TXT " NOT NULL,"
    "  added_at " TXT " NOT NULL,"
    "  expires_at " TXT " NOT NULL,"
    "  removed_at " TXT ","
    "  removed_by " TXT ","
    "  CHECK ((removed_at IS NULL) = (removed_by IS NULL))"
    ");"
    "CREATE INDEX subjects_category ON subjects (category);"
    "CREATE TABLE images ("
    "  id BIGINT PRIMARY KEY,"
    "  subject_id BIGINT NOT NULL REFERENCES subjects (id),"
    "  provenance " TXT " NOT NULL CHECK (provenance IN"
    "    ('custody_imaging', 'other_police_source', 'public_appeal', 'other')),"
    "  capture_date " TXT ","
    "  sha256 " TXT " NOT NULL CHECK (length(sha256) = 64),"
    "  model_sha256 " TXT " NOT NULL CHECK (length(model_sha256) = 64),"
    "  score DOUBLE PRECISION NOT NULL,"
    "  box_x DOUBLE PRECISION NOT NULL, box_y DOUBLE PRECISION NOT NULL,"
    "  box_w DOUBLE PRECISION NOT NULL, box_h DOUBLE PRECISION NOT NULL,"
    "  media_file " TXT " NOT NULL UNIQUE,"
    "  added_by " TXT " NOT NULL,"
    "  added_at " TXT " NOT NULL,"
    "  deleted_at " TXT ");"
    "CREATE INDEX images_subject ON images (subject_id);"
    "CREATE TABLE media ("
    "  name " TXT " PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
    "  data BYTEA NOT NULL,"
    "  created_at TIMESTAMPTZ NOT NULL DEFAULT now()"
    ");"
    "ALTER TABLE media ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE INDEX media_created ON media (created_at);",

    /* 4 -> 5: deployments, their cameras and counters, their frozen
     * watchlists, alerts, and the retention policy. Snapshot templates and
     * alert crops are sealed media (snapshot_file, crop_file; NULL once
     * deleted). */
    "CREATE TABLE deployments ("
    "  id BIGINT PRIMARY KEY,"
    "  purpose " TXT " NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),"
    "  justification " TXT " NOT NULL CHECK (length(justification) BETWEEN 1 AND 1000),"
    "  legal_basis " TXT " NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 1000),"
    "  location " TXT " NOT NULL CHECK (length(location) BETWEEN 1 AND 1000),"
    "  latitude DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),"
    "  longitude DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),"
    "  installation " TXT " NOT NULL CHECK (installation IN"
    "    ('temporary', 'permanent', 'mobile_unit')),"
    "  planned_start " TXT " NOT NULL,"
    "  planned_end " TXT " NOT NULL CHECK (planned_end > planned_start),"
    "  threshold DOUBLE PRECISION NOT NULL CHECK (threshold > 0 AND threshold <= 1),"
    "  dpia_ref " TXT " NOT NULL,"
    "  eia_ref " TXT " NOT NULL,"
    "  categories BIGINT NOT NULL CHECK (categories BETWEEN 1 AND 510),"
    "  created_by " TXT " NOT NULL,"
    "  created_at " TXT " NOT NULL,"
    "  authorised_by " TXT ", authorised_at " TXT ","
    "  started_by " TXT ", started_at " TXT ","
    "  stopped_by " TXT ", stopped_at " TXT ","
    "  snapshot_subjects BIGINT NOT NULL DEFAULT 0,"
    "  snapshot_images BIGINT NOT NULL DEFAULT 0,"
    "  snapshot_counts " TXT " NOT NULL DEFAULT '',"
    "  snapshot_expired BIGINT NOT NULL DEFAULT 0,"
    "  snapshot_model " TXT " NOT NULL DEFAULT '',"
    "  snapshot_hash " TXT " NOT NULL DEFAULT '',"
    "  snapshot_file " TXT " UNIQUE,"
    "  purged_at " TXT ");"
    "CREATE INDEX deployments_start ON deployments (planned_start);"
    "CREATE TABLE cameras ("
    "  deployment_id BIGINT NOT NULL REFERENCES deployments (id),"
    "  idx BIGINT NOT NULL,"
    "  name " TXT " NOT NULL CHECK (length(name) BETWEEN 1 AND 32),"
    "  url " TXT " NOT NULL CHECK (length(url) BETWEEN 1 AND 1000),"
    "  frames BIGINT NOT NULL DEFAULT 0,"
    "  frames_dropped BIGINT NOT NULL DEFAULT 0,"
    "  detections BIGINT NOT NULL DEFAULT 0,"
    "  faces_seen BIGINT NOT NULL DEFAULT 0,"
    "  quality_rejects BIGINT NOT NULL DEFAULT 0,"
    "  alerts BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (deployment_id, idx),"
    "  UNIQUE (deployment_id, name)"
    ");"
    "CREATE TABLE snapshot_images ("
    "  deployment_id BIGINT NOT NULL REFERENCES deployments (id),"
    "  idx BIGINT NOT NULL,"
    "  subject_id BIGINT NOT NULL REFERENCES subjects (id),"
    "  image_id BIGINT NOT NULL REFERENCES images (id),"
    "  category " TXT " NOT NULL,"
    "  sha256 " TXT " NOT NULL CHECK (length(sha256) = 64),"
    "  PRIMARY KEY (deployment_id, idx)"
    ");"
    "CREATE TABLE alerts ("
    "  id BIGINT PRIMARY KEY,"
    "  deployment_id BIGINT NOT NULL REFERENCES deployments (id),"
    "  camera " TXT " NOT NULL,"
    "  time " TXT " NOT NULL,"
    "  track BIGINT NOT NULL,"
    "  subject_id BIGINT NOT NULL REFERENCES subjects (id),"
    "  image_id BIGINT NOT NULL REFERENCES images (id),"
    "  score DOUBLE PRECISION NOT NULL,"
    "  crop_file " TXT " UNIQUE,"
    "  crop_sha256 " TXT " NOT NULL,"
    "  crop_deleted_at " TXT ","
    "  outcome " TXT " NOT NULL DEFAULT 'not_adjudicated' CHECK (outcome IN"
    "    ('not_adjudicated', 'true', 'false', 'confirmed_true', 'confirmed_false')),"
    "  engagement " TXT " NOT NULL DEFAULT 'none' CHECK (engagement IN"
    "    ('none', 'not_stopped', 'spoken_to', 'arrested', 'other_disposal')),"
    "  note " TXT " NOT NULL DEFAULT '',"
    "  adjudicated_by " TXT ", adjudicated_at " TXT ","
    "  recorded_by " TXT " NOT NULL,"
    "  recorded_at " TXT " NOT NULL"
    ");"
    "CREATE INDEX alerts_deployment ON alerts (deployment_id, time);"
    "CREATE TABLE policy ("
    "  key " TXT " PRIMARY KEY,"
    "  value BIGINT NOT NULL CHECK (value >= 0),"
    "  set_by " TXT " NOT NULL,"
    "  set_at " TXT " NOT NULL"
    ");",

    /* 5 -> 6: the transparency log over the audit entries (src/store/log.c):
     * the signed head of its Merkle tree, one row rewritten by every commit
     * that appends, and the checkpoints published for outside parties
     * (append-only). */
    "CREATE TABLE log_head ("
    "  id BIGINT PRIMARY KEY CHECK (id = 1),"
    "  size BIGINT NOT NULL CHECK (size >= 0),"
    "  frontier BYTEA NOT NULL,"
    "  note " TXT " NOT NULL"
    ");"
    "CREATE TABLE log_checkpoints ("
    "  size BIGINT PRIMARY KEY CHECK (size >= 0),"
    "  time " TXT " NOT NULL,"
    "  reason " TXT " NOT NULL,"
    "  note " TXT " NOT NULL"
    ");"
    "CREATE FUNCTION log_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN RAISE EXCEPTION 'published checkpoints are append-only'; END$$;"
    "CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints"
    "  FOR EACH ROW EXECUTE FUNCTION log_checkpoints_append_only();"
    "CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints"
    "  FOR EACH ROW EXECUTE FUNCTION log_checkpoints_append_only();"
    "CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints"
    "  FOR EACH STATEMENT EXECUTE FUNCTION log_checkpoints_append_only();",
};

const int lfr__pg_n_migrations = (int)(sizeof lfr__pg_migrations / sizeof lfr__pg_migrations[0]);
