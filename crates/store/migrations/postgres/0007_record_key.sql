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
