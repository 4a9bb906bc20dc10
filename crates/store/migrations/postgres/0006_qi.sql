-- flsdb schema version 6 (PostgreSQL): quality-improvement cycles and their dated PDSA notes.
-- Keep in step with migrations/sqlite/0006_qi.sql. Flags are 0/1 BIGINTs so both backends decode
-- alike.
CREATE TABLE qi_cycles (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_code TEXT NOT NULL REFERENCES services (service_code),
    kpi TEXT NOT NULL,
    aim_percent DOUBLE PRECISION,
    aim_by DATE,
    baseline_from DATE NOT NULL,
    start_date DATE NOT NULL,
    change_ideas TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    closed_by TEXT,
    closed_on DATE,
    improved BIGINT,
    maintained BIGINT,
    verdict TEXT
);
CREATE INDEX qi_cycles_service ON qi_cycles (service_code);

CREATE TABLE qi_notes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cycle_id BIGINT NOT NULL REFERENCES qi_cycles (id),
    noted_on DATE NOT NULL,
    stage TEXT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX qi_notes_cycle ON qi_notes (cycle_id);
