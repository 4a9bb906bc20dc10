-- flsdb schema version 1 (SQLite). Keep in step with migrations/postgres/0001_initial.sql: same
-- tables, columns and constraints; only the types differ: dates are ISO `YYYY-MM-DD` text here
-- (declared TEXT, not DATE: DATE has numeric affinity, and SQLite would try to read every date as
-- a number), timestamps RFC 3339 text, decimals REAL. Record columns are named after the
-- dataset's canonical fields.

-- One row: a counter bumped by every change, for cache keys.
CREATE TABLE store_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data_version INTEGER NOT NULL
);
INSERT INTO store_meta (id, data_version) VALUES (1, 0);

CREATE TABLE services (
    service_code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    nation TEXT,
    region TEXT,
    commissioner TEXT,
    parent_org TEXT,
    setting TEXT,
    expected_caseload REAL,
    nhfd_hip_fractures REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE caseloads (
    service_code TEXT NOT NULL REFERENCES services (service_code),
    year INTEGER NOT NULL,
    expected_caseload REAL NOT NULL,
    PRIMARY KEY (service_code, year)
);

-- One per import (records or opt-outs); written in the import's own transaction.
CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    file_name TEXT,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE opt_outs (
    nhs_number INTEGER PRIMARY KEY NOT NULL,
    added_at TEXT NOT NULL,
    batch_id INTEGER REFERENCES import_batches (id)
);

CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    service_code TEXT NOT NULL REFERENCES services (service_code),
    local_id TEXT NOT NULL,
    nhs_number INTEGER,
    date_of_birth TEXT NOT NULL,
    sex TEXT,
    postcode TEXT,
    care_home TEXT,
    fls_contact_date TEXT,
    fls_assessment_date TEXT,
    admitted TEXT,
    fracture_date TEXT NOT NULL,
    fracture_identification TEXT,
    fracture_site TEXT NOT NULL,
    other_fracture_sites TEXT,
    height_cm REAL,
    weight_kg REAL,
    previous_fracture TEXT,
    parental_hip_fracture TEXT,
    smoker TEXT,
    on_bone_therapy TEXT,
    falls_history TEXT,
    dxa TEXT,
    dxa_date TEXT,
    t_score REAL,
    frax_major REAL,
    bone_therapy_recommended TEXT,
    calcium_vitd_recommended TEXT,
    falls_assessment TEXT,
    followup16 TEXT,
    followup16_date TEXT,
    followup16_by TEXT,
    therapy_16w TEXT,
    strength_balance_16w TEXT,
    calcium_vitd_16w TEXT,
    followup52 TEXT,
    followup52_date TEXT,
    followup52_by TEXT,
    therapy_52w TEXT,
    refractures SMALLINT CHECK (refractures BETWEEN 0 AND 20),
    refracture_sites TEXT,
    death_date TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    row_hash INTEGER NOT NULL,
    batch_id INTEGER REFERENCES import_batches (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (service_code, local_id)
);
CREATE INDEX records_service_fracture ON records (service_code, fracture_date);
CREATE INDEX records_nhs_number ON records (nhs_number);

-- Append-only: written in the same transaction as the change it describes.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    logged_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    batch_id INTEGER REFERENCES import_batches (id),
    before_values TEXT,
    after_values TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_key);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
