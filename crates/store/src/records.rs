//! Patient records: bulk import (one transaction, insert / replace / unchanged by key), reads in
//! chunks, and single-record edits with optimistic concurrency.

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Row, Tx, Value, placeholders};
use crate::mapping::{
    RECORD_COLUMNS, RECORD_KINDS, record_diff_json, record_inserted_json, row_hash, to_record, to_values,
};
use crate::{Result, Store, StoreError, bump_data_version};
use flsdb_dataset::{Field, LocalId, Record, ServiceCode};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use time::{Date, OffsetDateTime};

/// Who imports what; recorded in `import_batches` and on every audit line of the import.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub actor: String,
    pub file_name: Option<String>,
    /// How the data came in, free text (e.g. `csv`, `xlsx`, `api`, `demo`).
    pub mode: String,
}

/// What an import did (or, for a dry run, would do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// `None` for a dry run.
    pub batch_id: Option<i64>,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Which records to read; all bounds inclusive, `None` = no limit.
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    pub service: Option<ServiceCode>,
    pub fracture_from: Option<Date>,
    pub fracture_to: Option<Date>,
}

impl RecordFilter {
    /// ` AND …` conditions with placeholders numbered after `params`, which receives the values.
    fn sql(&self, params: &mut Vec<Value>) -> String {
        let mut sql = String::new();
        let mut add = |condition: &str, value: Value| {
            params.push(value);
            sql.push_str(&format!(" AND {condition} ${}", params.len()));
        };
        if let Some(s) = &self.service {
            add("service_code =", Value::text(s.as_str()));
        }
        if let Some(d) = self.fracture_from {
            add("fracture_date >=", Value::Date(Some(d)));
        }
        if let Some(d) = self.fracture_to {
            add("fracture_date <=", Value::Date(Some(d)));
        }
        sql
    }
}

/// Rows per multi-row upsert. Each row binds 42 values (41 fields and the hash): 500 rows stay
/// under SQLite's 32,766 and PostgreSQL's 65,535 parameters with room to spare.
const IMPORT_CHUNK: usize = 500;
const PARAMS_PER_ROW: usize = Field::COUNT + 1;

fn key_text(service: &str, local_id: &str) -> String {
    format!("{service}/{local_id}")
}

/// A stored record as the import sees it before deciding: enough to spot unchanged rows and
/// repeated keys without loading the rows themselves.
struct Existing {
    id: i64,
    hash: i64,
    seen: bool,
}

/// A record of the import that is new, or whose hash differs from the stored one.
struct Pending {
    values: Vec<Value>,
    hash: i64,
    stored_id: Option<i64>,
}

/// The state of one import between chunks.
struct Import<'a> {
    write: Option<(AuditContext<'a>, OffsetDateTime)>,
    outcome: ImportOutcome,
    upsert_sql: HashMap<usize, String>,
}

impl Import<'_> {
    /// Decides the pending records of one chunk (a differing hash still has to be confirmed by
    /// the values) and, unless this is a dry run, writes them and their audit lines.
    async fn flush(&mut self, tx: &mut Tx, chunk: Vec<Pending>) -> Result<()> {
        let ids: Vec<Value> = chunk.iter().filter_map(|p| p.stored_id).map(|id| Value::Int(Some(id))).collect();
        let mut stored: HashMap<i64, Row> = HashMap::new();
        if !ids.is_empty() {
            let sql =
                format!("SELECT id, {} FROM records WHERE id IN ({})", *RECORD_COLUMNS, placeholders(1, ids.len()));
            let kinds: Vec<Kind> = std::iter::once(Kind::Int).chain(RECORD_KINDS.iter().copied()).collect();
            for row in tx.fetch(&sql, ids, &kinds).await? {
                stored.insert(row.int(0)?, row);
            }
        }
        let mut writes = Vec::with_capacity(chunk.len());
        let mut audit_rows = Vec::with_capacity(chunk.len());
        for p in chunk {
            let key = || key_text(text(&p.values[0]), text(&p.values[1]));
            let audit = match p.stored_id {
                None => {
                    self.outcome.inserted += 1;
                    AuditRow {
                        action: "insert",
                        key: key(),
                        before: None,
                        after: Some(record_inserted_json(&p.values)),
                    }
                }
                Some(id) => {
                    let old = stored.get(&id).ok_or_else(|| StoreError::NotFound { key: key() })?;
                    match record_diff_json(&old.0[1..], &p.values) {
                        None => {
                            self.outcome.unchanged += 1;
                            continue;
                        }
                        Some((before, after)) => {
                            self.outcome.updated += 1;
                            AuditRow { action: "update", key: key(), before: Some(before), after: Some(after) }
                        }
                    }
                }
            };
            if self.write.is_some() {
                writes.push(p);
                audit_rows.push(audit);
            }
        }
        let Some((cx, now)) = &self.write else { return Ok(()) };
        if writes.is_empty() {
            return Ok(());
        }
        let sql = self.upsert_sql.entry(writes.len()).or_insert_with(|| upsert_sql(writes.len()));
        let mut params = Vec::with_capacity(writes.len() * PARAMS_PER_ROW + 2);
        params.extend([Value::Int(cx.batch_id), Value::Time(Some(*now))]);
        for w in writes {
            params.extend(w.values);
            params.push(Value::Int(Some(w.hash)));
        }
        let t = std::time::Instant::now();
        tx.execute(sql, params).await?;
        UPS.fetch_add(t.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::Instant::now();
        let r = audit::write(tx, cx, "record", audit_rows).await;
        AUD.fetch_add(t.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        r
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(Some(s)) => s,
        _ => "",
    }
}

/// `INSERT … ON CONFLICT (key) DO UPDATE` for `rows` records: one statement inserts the new ones
/// and replaces the changed ones (a row is the whole record: every field is overwritten),
/// bumping `version` and keeping `created_at`. The batch id and the time are shared parameters.
fn upsert_sql(rows: usize) -> String {
    // Shared parameters first ($1 batch, $2 time), so the numbers only rise (see `Tx::dialect`).
    let tuples: Vec<String> = (0..rows)
        .map(|r| format!("({}, $1, $2, $2, 1)", placeholders(3 + r * PARAMS_PER_ROW, PARAMS_PER_ROW)))
        .collect();
    let updates: Vec<String> = Field::ALL[2..]
        .iter()
        .map(|f| f.name())
        .chain(["row_hash", "batch_id", "updated_at"])
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO records ({}, row_hash, batch_id, created_at, updated_at, version) VALUES {} \
         ON CONFLICT (service_code, local_id) DO UPDATE SET {}, version = records.version + 1",
        *RECORD_COLUMNS,
        tuples.join(", "),
        updates.join(", ")
    )
}

impl Store {
    /// Imports records in ONE transaction: a record whose key `(service_code, local_id)` is new
    /// is inserted; one equal to the stored record is left alone (no write, no audit); one that
    /// differs replaces the stored record (every field, so an empty value clears), its version
    /// +1. Every insert and update is audited with the batch id. Any error (a service not in the
    /// registry, a key given twice, a database error) rolls the whole import back.
    pub async fn import_records<I>(&self, batch: &NewBatch, records: I) -> Result<ImportOutcome>
    where
        I: IntoIterator,
        I::Item: Borrow<Record>,
    {
        let t0 = std::time::Instant::now();
        let r = self
            .db
            .in_write(async |tx| {
                let r = import(tx, Some(batch), records).await;
                eprintln!("import body {:?}", t0.elapsed());
                r
            })
            .await;
        eprintln!(
            "with commit {:?} upsert {} ms audit {} ms",
            t0.elapsed(),
            UPS.swap(0, std::sync::atomic::Ordering::Relaxed) / 1000,
            AUD.swap(0, std::sync::atomic::Ordering::Relaxed) / 1000
        );
        r
    }

    /// The counts [`Store::import_records`] would report, without writing anything.
    pub async fn import_records_dry_run<I>(&self, records: I) -> Result<ImportOutcome>
    where
        I: IntoIterator,
        I::Item: Borrow<Record>,
    {
        self.db.in_read(async |tx| import(tx, None, records).await).await
    }

    /// Number of stored records.
    pub async fn record_count(&self) -> Result<u64> {
        let sql = "SELECT COUNT(*) FROM records";
        let count = self.db.in_read(async |tx| tx.fetch_one(sql, vec![], &[Kind::Int]).await?.int(0)).await?;
        Ok(count.max(0) as u64)
    }

    /// All records matching `filter`, in the order they were first stored.
    pub async fn records(&self, filter: &RecordFilter) -> Result<Vec<Record>> {
        let mut all = Vec::new();
        self.for_each_record_chunk(filter, 10_000, |chunk| {
            all.extend(chunk);
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(all)
    }

    /// Streams the records matching `filter` to `f` in chunks of at most `chunk_size`, in the
    /// order they were first stored, from one consistent snapshot. Memory stays bounded by the
    /// chunk, so this is the way to read a national dataset.
    pub async fn for_each_record_chunk<F, E>(&self, filter: &RecordFilter, chunk_size: usize, mut f: F) -> Result<(), E>
    where
        F: FnMut(Vec<Record>) -> Result<(), E>,
        E: From<StoreError>,
    {
        let chunk_size = chunk_size.max(1);
        let kinds: Vec<Kind> = std::iter::once(Kind::Int).chain(RECORD_KINDS.iter().copied()).collect();
        // The callback's own error stops the read; it is kept here while the snapshot closes.
        let mut failure = None;
        self.db
            .in_read(async |tx| {
                let mut after_id = 0;
                loop {
                    // Keyset pagination on id: each page is an index range, however far in.
                    let mut params = vec![Value::Int(Some(after_id))];
                    let conditions = filter.sql(&mut params);
                    let sql = format!(
                        "SELECT id, {} FROM records WHERE id > $1{conditions} ORDER BY id LIMIT {chunk_size}",
                        *RECORD_COLUMNS
                    );
                    let rows = tx.fetch(&sql, params, &kinds).await?;
                    let Some(last) = rows.last() else { return Ok(()) };
                    after_id = last.int(0)?;
                    let records = rows.iter().map(|r| to_record(&r.0[1..])).collect::<Result<Vec<_>>>()?;
                    let full = records.len() == chunk_size;
                    if let Err(e) = f(records) {
                        failure = Some(e);
                        return Ok(());
                    }
                    if !full {
                        return Ok(());
                    }
                }
            })
            .await?;
        failure.map_or(Ok(()), Err)
    }

    /// One record and its version (to pass back to [`Store::update_record`]).
    pub async fn get_record(&self, service: &ServiceCode, local_id: &LocalId) -> Result<Option<(Record, i64)>> {
        let sql = format!("SELECT version, {} FROM records WHERE service_code = $1 AND local_id = $2", *RECORD_COLUMNS);
        let kinds: Vec<Kind> = std::iter::once(Kind::Int).chain(RECORD_KINDS.iter().copied()).collect();
        let params = vec![Value::text(service.as_str()), Value::text(local_id.as_str())];
        let row = self.db.in_read(async |tx| tx.fetch_optional(&sql, params, &kinds).await).await?;
        row.map(|r| Ok((to_record(&r.0[1..])?, r.int(0)?))).transpose()
    }

    /// Saves an edited record over the stored one with the same key, if that is still at
    /// `expected_version` (else [`StoreError::Conflict`]: someone saved in between). Returns the
    /// new version; saving identical values writes nothing and returns the current version.
    pub async fn update_record(&self, actor: &str, record: &Record, expected_version: i64) -> Result<i64> {
        let service = record.service_code.as_str();
        let local_id = record.local_id.as_str();
        let key = key_text(service, local_id);
        self.db
            .in_write(async |tx| {
                let lock = if tx.is_postgres() {
                    // Take the table lock an UPDATE needs before the row lock, in the same order as an
                    // import, so the two wait for each other instead of deadlocking.
                    tx.execute("LOCK TABLE records IN ROW EXCLUSIVE MODE", vec![]).await?;
                    " FOR UPDATE"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT id, version, {} FROM records WHERE service_code = $1 AND local_id = $2{lock}",
                    *RECORD_COLUMNS
                );
                let kinds: Vec<Kind> = [Kind::Int, Kind::Int].into_iter().chain(RECORD_KINDS.iter().copied()).collect();
                let Some(row) =
                    tx.fetch_optional(&sql, vec![Value::text(service), Value::text(local_id)], &kinds).await?
                else {
                    return Err(StoreError::NotFound { key });
                };
                let (id, found) = (row.int(0)?, row.int(1)?);
                if found != expected_version {
                    return Err(StoreError::Conflict { key, expected: expected_version, found });
                }
                let values = to_values(record);
                let Some((before, after)) = record_diff_json(&row.0[2..], &values) else { return Ok(found) };
                let now = OffsetDateTime::now_utc();
                let n = Field::COUNT;
                let sets: Vec<String> =
                    Field::ALL.iter().enumerate().map(|(i, f)| format!("{} = ${}", f.name(), i + 1)).collect();
                let sql = format!(
                    "UPDATE records SET {}, row_hash = ${}, batch_id = NULL, updated_at = ${}, version = version + 1 \
             WHERE id = ${} AND version = ${}",
                    sets.join(", "),
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4
                );
                let hash = row_hash(&values);
                let mut params = values;
                params.extend([
                    Value::Int(Some(hash)),
                    Value::Time(Some(now)),
                    Value::Int(Some(id)),
                    Value::Int(Some(expected_version)),
                ]);
                if tx.execute(&sql, params).await? != 1 {
                    return Err(StoreError::Conflict { key, expected: expected_version, found: expected_version + 1 });
                }
                let cx = AuditContext { at: now, actor, batch_id: None };
                audit::write(
                    tx,
                    &cx,
                    "record",
                    vec![AuditRow { action: "update", key, before: Some(before), after: Some(after) }],
                )
                .await?;
                bump_data_version(tx).await?;
                Ok(expected_version + 1)
            })
            .await
    }
}

pub static UPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static AUD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static COMMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// The import itself, inside `tx` (a write transaction, or a read snapshot for a dry run).
async fn import<I>(tx: &mut Tx, batch: Option<&NewBatch>, records: I) -> Result<ImportOutcome>
where
    I: IntoIterator,
    I::Item: Borrow<Record>,
{
    let now = OffsetDateTime::now_utc();
    if batch.is_some() && tx.is_postgres() {
        // One import at a time and no edits meanwhile (reads go on), like SQLite's single
        // writer: the stored keys and hashes read below stay true until the commit.
        tx.execute("LOCK TABLE records IN SHARE ROW EXCLUSIVE MODE", vec![]).await?;
    }
    let services: HashSet<String> = tx
        .fetch("SELECT service_code FROM services", vec![], &[Kind::Text])
        .await?
        .iter()
        .map(|r| r.text(0).map(str::to_owned))
        .collect::<Result<_>>()?;
    let mut import = Import { write: None, outcome: ImportOutcome::default(), upsert_sql: HashMap::new() };
    if let Some(b) = batch {
        let row = tx
            .fetch_one(
                "INSERT INTO import_batches (actor, file_name, mode, started_at) VALUES ($1, $2, $3, $4) RETURNING id",
                vec![
                    Value::text(&b.actor),
                    Value::Text(b.file_name.clone()),
                    Value::text(&b.mode),
                    Value::Time(Some(now)),
                ],
                &[Kind::Int],
            )
            .await?;
        let batch_id = row.int(0)?;
        import.outcome.batch_id = Some(batch_id);
        import.write = Some((AuditContext { at: now, actor: &b.actor, batch_id: Some(batch_id) }, now));
    }

    // Stored keys per service, loaded when the import first meets the service.
    let mut known: HashMap<String, HashMap<String, Existing>> = HashMap::new();
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    for record in records {
        let record = record.borrow();
        let service = record.service_code.as_str();
        if !services.contains(service) {
            return Err(StoreError::UnknownService(service.to_owned()));
        }
        if !known.contains_key(service) {
            let rows = tx
                .fetch(
                    "SELECT local_id, id, row_hash FROM records WHERE service_code = $1",
                    vec![Value::text(service)],
                    &[Kind::Text, Kind::Int, Kind::Int],
                )
                .await?;
            let mut keys = HashMap::with_capacity(rows.len());
            for row in rows {
                keys.insert(row.text(0)?.to_owned(), Existing { id: row.int(1)?, hash: row.int(2)?, seen: false });
            }
            known.insert(service.to_owned(), keys);
        }
        let keys = known.entry(service.to_owned()).or_default();
        let values = to_values(record);
        let hash = row_hash(&values);
        let local_id = record.local_id.as_str();
        match keys.get_mut(local_id) {
            Some(e) if e.seen => return Err(StoreError::DuplicateKey { key: key_text(service, local_id) }),
            Some(e) => {
                e.seen = true;
                if e.hash == hash {
                    import.outcome.unchanged += 1;
                } else {
                    chunk.push(Pending { values, hash, stored_id: Some(e.id) });
                }
            }
            None => {
                keys.insert(local_id.to_owned(), Existing { id: 0, hash, seen: true });
                chunk.push(Pending { values, hash, stored_id: None });
            }
        }
        if chunk.len() == IMPORT_CHUNK {
            import.flush(tx, std::mem::take(&mut chunk)).await?;
        }
    }
    import.flush(tx, chunk).await?;

    let outcome = import.outcome;
    let Some((cx, _)) = import.write else { return Ok(outcome) };
    let counts = |o: &ImportOutcome| [o.inserted, o.updated, o.unchanged].map(|n| Value::Int(Some(n as i64)));
    let [inserted, updated, unchanged] = counts(&outcome);
    tx.execute(
        "UPDATE import_batches SET finished_at = $1, inserted = $2, updated = $3, unchanged = $4 WHERE id = $5",
        vec![Value::Time(Some(OffsetDateTime::now_utc())), inserted, updated, unchanged, Value::Int(cx.batch_id)],
    )
    .await?;
    let summary = format!(
        "{{\"file_name\":{},\"mode\":{},\"inserted\":{},\"updated\":{},\"unchanged\":{}}}",
        serde_json::Value::from(batch.and_then(|b| b.file_name.clone())),
        serde_json::Value::from(batch.map(|b| b.mode.clone())),
        outcome.inserted,
        outcome.updated,
        outcome.unchanged
    );
    let key = cx.batch_id.map(|b| b.to_string()).unwrap_or_default();
    audit::write(tx, &cx, "import_batch", vec![AuditRow { action: "import", key, before: None, after: Some(summary) }])
        .await?;
    if outcome.inserted + outcome.updated > 0 {
        bump_data_version(tx).await?;
    }
    Ok(outcome)
}
