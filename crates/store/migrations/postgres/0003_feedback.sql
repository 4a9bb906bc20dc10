-- flsdb schema version 3 (PostgreSQL): feedback left by readers of the public report pages. Keep
-- in step with migrations/sqlite/0003_feedback.sql. Not patient data, not audited, and it does not
-- change the data version (KPI caches stay valid).

CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    page TEXT NOT NULL,
    helpful TEXT,
    message TEXT NOT NULL,
    contact TEXT
);
CREATE INDEX feedback_created ON feedback (created_at);
