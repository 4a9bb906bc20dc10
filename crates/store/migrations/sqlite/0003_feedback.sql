-- flsdb schema version 3 (SQLite): feedback left by readers of the public report pages. Keep in
-- step with migrations/postgres/0003_feedback.sql. Not patient data, not audited, and it does not
-- change the data version (KPI caches stay valid). Timestamps are RFC 3339 text.

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    page TEXT NOT NULL,
    helpful TEXT,
    message TEXT NOT NULL,
    contact TEXT
);
CREATE INDEX feedback_created ON feedback (created_at);
