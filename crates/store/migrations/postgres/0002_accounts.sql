-- flsdb schema version 2 (PostgreSQL): web accounts and server-side sessions. Keep in step with
-- migrations/sqlite/0002_accounts.sql. Flags are 0/1 BIGINTs so both backends decode alike.

CREATE TABLE users (
    name TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
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
    created_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
