-- flsdb schema version 6 (SQLite): quality-improvement cycles and their dated PDSA notes. Keep in
-- step with migrations/postgres/0006_qi.sql. Dates are ISO text, flags 0/1 integers.
CREATE TABLE qi_cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_code TEXT NOT NULL REFERENCES services (service_code),
    kpi TEXT NOT NULL,
    aim_percent REAL,
    aim_by TEXT,
    baseline_from TEXT NOT NULL,
    start_date TEXT NOT NULL,
    change_ideas TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_by TEXT,
    closed_on TEXT,
    improved INTEGER,
    maintained INTEGER,
    verdict TEXT
);
CREATE INDEX qi_cycles_service ON qi_cycles (service_code);

CREATE TABLE qi_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cycle_id INTEGER NOT NULL REFERENCES qi_cycles (id),
    noted_on TEXT NOT NULL,
    stage TEXT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX qi_notes_cycle ON qi_notes (cycle_id);
