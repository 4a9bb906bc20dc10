-- The record key (service_code, local_id) becomes a named unique index instead of a table
-- constraint, so that a first bulk load into an empty `records` can drop it and build it once,
-- sorted, after the rows are in (store/src/bulk.rs, IndexRebuild): inserting a million keys in
-- file order into a live index cost more than all the rest of the rows' write. The key stays
-- unique at every commit. SQLite cannot drop a constraint, so the table is rebuilt as it was
-- (nothing refers to records.id).
-- The index on nhs_number goes: no query looks records up by it (patients are matched across
-- services in memory, from one read of the records), and every import paid for it.
CREATE TABLE records_new (
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
    updated_at TEXT NOT NULL
);
INSERT INTO records_new SELECT * FROM records;
DROP TABLE records;
ALTER TABLE records_new RENAME TO records;
CREATE UNIQUE INDEX records_key ON records (service_code, local_id);
CREATE INDEX records_service_fracture ON records (service_code, fracture_date);
