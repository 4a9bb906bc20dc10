-- flsdb schema version 4 (PostgreSQL): the application role. Keep in step with
-- migrations/sqlite/0004_app_role.sql (a no-op there).
--
-- `flsdb_app` (NOLOGIN) holds what the running application needs: read and write every table,
-- except that audit_log is INSERT and SELECT only, so the log is append-only by privilege as well
-- as by the triggers of version 1 (which a table owner could drop, and which TRUNCATE bypasses
-- without its own statement trigger). Deploy with two roles: the owner runs `flsdb migrate`; the
-- server logs in as a member of flsdb_app, e.g.
--     CREATE ROLE flsdb_web LOGIN PASSWORD '…' IN ROLE flsdb_app;
-- Roles belong to the whole cluster: the role is created once, by the first database's migration
-- (if the migrating role may create roles; if not, the migration only raises a notice and a DBA
-- creates the role and grants the rights below), and each database grants it its own rights.
DO $$
DECLARE
    schema_name TEXT := quote_ident(current_schema());
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flsdb_app') THEN
        BEGIN
            CREATE ROLE flsdb_app NOLOGIN;
        EXCEPTION
            -- Another database's migration created it meanwhile.
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'flsdb: cannot create role flsdb_app (no CREATEROLE): have it created '
                    '(CREATE ROLE flsdb_app NOLOGIN) and grant it the rights listed in 0004_app_role.sql';
                RETURN;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO flsdb_app', schema_name);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO flsdb_app', schema_name);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO flsdb_app', schema_name);
    -- Tables and sequences of later migrations (created by the same migrating role) too.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO flsdb_app',
        schema_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT USAGE, SELECT ON SEQUENCES TO flsdb_app', schema_name);
    -- The log: append and read only. The migration history: read only (the start-up check).
    REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM flsdb_app, PUBLIC;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM flsdb_app, PUBLIC;
END
$$;
