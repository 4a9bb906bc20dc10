-- The record key (service_code, local_id) becomes a named unique index instead of a table
-- constraint, so that a first bulk load into an empty `records` can drop it and build it once,
-- sorted, after the rows are in (store/src/bulk.rs, IndexRebuild; only a role that owns the
-- index does so). The key stays unique at every commit, and `ON CONFLICT (service_code,
-- local_id)` takes the index as its arbiter just as it took the constraint.
ALTER TABLE records DROP CONSTRAINT records_service_code_local_id_key;
CREATE UNIQUE INDEX records_key ON records (service_code, local_id);
-- No query looks records up by NHS number (patients are matched across services in memory,
-- from one read of the records), and every import paid for the index.
DROP INDEX records_nhs_number;
-- The audit log's reference to its import batch is kept by privilege instead of a foreign key:
-- the key's check (a query per line) was a third of the cost of an import's audit lines. Batches
-- are history: the application role may no longer delete them (it never did), so no line's batch
-- can disappear. (SQLite keeps its foreign key, whose check costs little there.)
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_batch_id_fkey;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flsdb_app') THEN
        REVOKE DELETE, TRUNCATE ON import_batches FROM flsdb_app;
    END IF;
END
$$;
