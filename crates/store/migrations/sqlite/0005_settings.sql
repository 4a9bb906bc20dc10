-- flsdb schema version 5 (SQLite): deployment settings kept with the data (e.g. the secret key
-- behind analysts' pseudonyms, so that pseudonyms stay stable across servers and restarts).
-- Keep in step with migrations/postgres/0005_settings.sql.
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
