-- flsdb schema version 4 (SQLite): nothing to do. Keep in step with
-- migrations/postgres/0004_app_role.sql, which gives PostgreSQL an application role that cannot
-- change the audit log. SQLite has no roles: the triggers of version 1 refuse UPDATE and DELETE
-- of audit_log, and the file's permissions decide who may open it.
SELECT 1;
