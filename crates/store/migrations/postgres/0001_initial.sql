-- flsdb schema version 1 (PostgreSQL). Keep in step with migrations/sqlite/0001_initial.sql: same
-- tables, columns and constraints; only the types differ. Record columns are named after the
-- dataset's canonical fields.

-- One row: a counter bumped by every change, for cache keys.
CREATE TABLE store_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data_version BIGINT NOT NULL
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
    expected_caseload DOUBLE PRECISION,
    nhfd_hip_fractures DOUBLE PRECISION,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE caseloads (
    service_code TEXT NOT NULL REFERENCES services (service_code),
    year INTEGER NOT NULL,
    expected_caseload DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (service_code, year)
);

-- One per import (records or opt-outs); written in the import's own transaction.
CREATE TABLE import_batches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor TEXT NOT NULL,
    file_name TEXT,
    mode TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE opt_outs (
    nhs_number BIGINT PRIMARY KEY NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    batch_id BIGINT REFERENCES import_batches (id)
);

CREATE TABLE records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_code TEXT NOT NULL REFERENCES services (service_code),
    local_id TEXT NOT NULL,
    nhs_number BIGINT,
    date_of_birth DATE NOT NULL,
    sex TEXT,
    postcode TEXT,
    care_home TEXT,
    fls_contact_date DATE,
    fls_assessment_date DATE,
    admitted TEXT,
    fracture_date DATE NOT NULL,
    fracture_identification TEXT,
    fracture_site TEXT NOT NULL,
    other_fracture_sites TEXT,
    height_cm DOUBLE PRECISION,
    weight_kg DOUBLE PRECISION,
    previous_fracture TEXT,
    parental_hip_fracture TEXT,
    smoker TEXT,
    on_bone_therapy TEXT,
    falls_history TEXT,
    dxa TEXT,
    dxa_date DATE,
    t_score DOUBLE PRECISION,
    frax_major DOUBLE PRECISION,
    bone_therapy_recommended TEXT,
    calcium_vitd_recommended TEXT,
    falls_assessment TEXT,
    followup16 TEXT,
    followup16_date DATE,
    followup16_by TEXT,
    therapy_16w TEXT,
    strength_balance_16w TEXT,
    calcium_vitd_16w TEXT,
    followup52 TEXT,
    followup52_date DATE,
    followup52_by TEXT,
    therapy_52w TEXT,
    refractures SMALLINT CHECK (refractures BETWEEN 0 AND 20),
    refracture_sites TEXT,
    death_date DATE,
    version BIGINT NOT NULL DEFAULT 1,
    row_hash BIGINT NOT NULL,
    batch_id BIGINT REFERENCES import_batches (id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (service_code, local_id)
);
CREATE INDEX records_service_fracture ON records (service_code, fracture_date);
CREATE INDEX records_nhs_number ON records (nhs_number);

-- Append-only: written in the same transaction as the change it describes. The trigger stops
-- accidents and the application's own role; revoking UPDATE/DELETE/TRUNCATE from that role
-- (deployment) stops the rest.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    batch_id BIGINT REFERENCES import_batches (id),
    before_values TEXT,
    after_values TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_key);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
