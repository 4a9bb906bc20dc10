-- flsdb schema version 2 (SQLite): web accounts and server-side sessions. Keep in step with
-- migrations/postgres/0002_accounts.sql. Timestamps are RFC 3339 text; flags are 0/1 integers.

CREATE TABLE users (
    name TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE user_services (
    user_name TEXT NOT NULL REFERENCES users (name),
    service_code TEXT NOT NULL REFERENCES services (service_code),
    PRIMARY KEY (user_name, service_code)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL REFERENCES users (name),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
