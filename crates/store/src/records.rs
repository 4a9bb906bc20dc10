//! Patient records: bulk import (one transaction, insert / replace / unchanged by key), reads in
//! chunks, and single-record edits with optimistic concurrency.

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Row, Tx, Value, placeholders};
use crate::mapping::{Interner, RECORD_COLUMNS, RECORD_KINDS, record_diff_json, record_from_row, row_hash, to_values};
use crate::{Result, Store, StoreError, bulk, bump_data_version, read};
use flsdb_dataset::{Field, LocalId, Record, ServiceCode};
use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::{Date, OffsetDateTime};
use tokio::sync::oneshot;

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

/// Records classified and written per step. On SQLite a step's replaced rows go out in
/// statements of at most [`bulk::SQLITE_ROWS`] rows (its variable limit); the stored rows a step
/// replaces are read with one `IN` list of at most this many ids.
pub(crate) const IMPORT_CHUNK: usize = 8 * bulk::SQLITE_ROWS;

/// Yields one row when `records` holds any.
pub(crate) const ANY_RECORD: &str = "SELECT id FROM records LIMIT 1";

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

/// The stored keys of one service (by local id), and of every service met so far. A fast hash:
/// these maps see every row of an import, and their keys come from an authorised user's file.
type Keys = foldhash::HashMap<String, Existing>;
type Known = foldhash::HashMap<Arc<str>, Keys>;

/// A record of the import that is new, or whose hash differs from the stored one.
struct Pending {
    values: Vec<Value>,
    hash: i64,
    stored_id: Option<i64>,
}

/// The state of one import between chunks.
struct Import<'a> {
    /// Who and when, unless this is a dry run.
    write: Option<AuditContext<'a>>,
    outcome: ImportOutcome,
    writer: bulk::Writer,
}

impl Import<'_> {
    /// Decides the pending records of one chunk (a differing hash still has to be confirmed by
    /// the values) and, unless this is a dry run, writes them and their audit lines.
    /// `started` is told once the new rows are being written on another thread (SQLite), so
    /// that the caller can work beside the write; it is dropped unsent otherwise.
    async fn flush(&mut self, tx: &mut Tx, chunk: Vec<Pending>, started: oneshot::Sender<()>) -> Result<()> {
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
        // Updates are audited here; inserts all at once at the end of the import (`import`).
        let mut audit_rows = Vec::new();
        for p in chunk {
            if let Some(id) = p.stored_id {
                let key = || key_text(text(&p.values[0]), text(&p.values[1]));
                let old = stored.get(&id).ok_or_else(|| StoreError::NotFound { key: key() })?;
                let Some((before, after)) = record_diff_json(&old.0[1..], &p.values) else {
                    self.outcome.unchanged += 1;
                    continue;
                };
                self.outcome.updated += 1;
                audit_rows.push(AuditRow { action: "update", key: key(), before: Some(before), after: Some(after) });
            } else {
                self.outcome.inserted += 1;
            }
            if self.write.is_some() {
                writes.push(p);
            }
        }
        let Some(cx) = &self.write else { return Ok(()) };
        if writes.is_empty() {
            return Ok(());
        }
        // New rows by plain INSERT (or COPY), changed ones by upsert: the conflict clause costs
        // SQLite a fifth more per row, so only the rows that need it pay for it.
        let (replaced, inserted): (Vec<Pending>, Vec<Pending>) =
            writes.into_iter().partition(|w| w.stored_id.is_some());
        let rows = |pending: Vec<Pending>| -> Vec<bulk::Row> {
            pending.into_iter().map(|p| bulk::Row { values: p.values, hash: p.hash }).collect()
        };
        self.writer.write(tx, false, rows(inserted), Some(started)).await?;
        self.writer.write(tx, true, rows(replaced), None).await?;
        audit::write(tx, cx, "record", audit_rows).await
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(Some(s)) => s,
        Value::Shared(Some(s)) => s,
        _ => "",
    }
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
        self.import_record_stream(Some(batch), records.into_iter().map(Ok)).await
    }

    /// The counts [`Store::import_records`] would report, without writing anything.
    pub async fn import_records_dry_run<I>(&self, records: I) -> Result<ImportOutcome>
    where
        I: IntoIterator,
        I::Item: Borrow<Record>,
    {
        self.import_record_stream(None, records.into_iter().map(Ok)).await
    }

    /// [`Store::import_records`] (or with no batch, its dry run) from records still being
    /// checked: an `Err` item calls the import off, and it is rolled back and returned as is
    /// (the checker sends [`StoreError::ImportCalledOff`] when all-or-nothing meets a bad row).
    pub async fn import_record_stream<I, R>(&self, batch: Option<&NewBatch>, records: I) -> Result<ImportOutcome>
    where
        I: IntoIterator<Item = Result<R>>,
        R: Borrow<Record>,
    {
        match batch {
            Some(batch) => self.db.in_write(async |tx| import(tx, Some(batch), records).await).await,
            None => self.db.in_read(async |tx| import(tx, None, records).await).await,
        }
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
        let mut params = Vec::new();
        let sql = read::select_sql(&filter.sql(&mut params));
        // The callback's own error stops the read; it is kept while the snapshot closes.
        let failure =
            self.db.in_read(async |tx| read::stream_records(tx, &sql, params, chunk_size, &mut f).await).await?;
        failure.map_or(Ok(()), Err)
    }

    /// One record and its version (to pass back to [`Store::update_record`]).
    pub async fn get_record(&self, service: &ServiceCode, local_id: &LocalId) -> Result<Option<(Record, i64)>> {
        let sql = format!("SELECT version, {} FROM records WHERE service_code = $1 AND local_id = $2", *RECORD_COLUMNS);
        let params = vec![Value::text(service.as_str()), Value::text(local_id.as_str())];
        let rows = self
            .db
            .in_read(async |tx| {
                tx.fetch_map(&sql, params, |row| Ok((record_from_row(row, 1)?, row.value(0, Kind::Int)?))).await
            })
            .await?;
        match rows.into_iter().next() {
            Some((record, Value::Int(Some(version)))) => Ok(Some((record, version))),
            Some(_) => Err(StoreError::InvalidStored {
                entity: "record",
                key: key_text(service.as_str(), local_id.as_str()),
                reason: "no version".into(),
            }),
            None => Ok(None),
        }
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
                let values = to_values(record, &mut Interner::default());
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

/// The column values and hash of the next (up to) [`IMPORT_CHUNK`] records: pure CPU work.
fn prepare<I, R>(records: &mut I, services: &HashSet<String>, interner: &mut Interner) -> Result<Vec<(Vec<Value>, i64)>>
where
    I: Iterator<Item = Result<R>>,
    R: Borrow<Record>,
{
    let mut out = Vec::with_capacity(IMPORT_CHUNK);
    for record in records.by_ref().take(IMPORT_CHUNK) {
        let record = record?;
        let record = record.borrow();
        if !services.contains(record.service_code.as_str()) {
            return Err(StoreError::UnknownService(record.service_code.to_string()));
        }
        let values = to_values(record, interner);
        let hash = row_hash(&values);
        out.push((values, hash));
    }
    Ok(out)
}

/// Sorts prepared records into unchanged (counted, dropped) and pending (new, or a differing
/// hash), loading a service's stored keys the first time it appears.
async fn classify(
    tx: &mut Tx,
    known: &mut Known,
    outcome: &mut ImportOutcome,
    prepared: Vec<(Vec<Value>, i64)>,
) -> Result<Vec<Pending>> {
    let mut pending = Vec::with_capacity(prepared.len());
    for (values, hash) in prepared {
        let (service, local_id) = (text(&values[0]), text(&values[1]));
        // Service codes are interned (`Value::Shared`): keying by them costs no allocation.
        let service_key = match &values[0] {
            Value::Shared(Some(code)) => code.clone(),
            other => text(other).into(),
        };
        let keys = match known.entry(service_key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let sql = "SELECT local_id, id, row_hash FROM records WHERE service_code = $1";
                let rows = tx.fetch(sql, vec![Value::text(service)], &[Kind::Text, Kind::Int, Kind::Int]).await?;
                let mut keys = Keys::with_capacity_and_hasher(rows.len(), Default::default());
                for row in rows {
                    let existing = Existing { id: row.int(1)?, hash: row.int(2)?, seen: false };
                    keys.insert(row.text(0)?.to_owned(), existing);
                }
                e.insert(keys)
            }
        };
        let stored_id = match keys.get_mut(local_id) {
            Some(e) if e.seen => return Err(StoreError::DuplicateKey { key: key_text(service, local_id) }),
            Some(e) => {
                e.seen = true;
                if e.hash == hash {
                    outcome.unchanged += 1;
                    continue;
                }
                Some(e.id)
            }
            None => {
                keys.insert(local_id.to_owned(), Existing { id: 0, hash, seen: true });
                None
            }
        };
        pending.push(Pending { values, hash, stored_id });
    }
    Ok(pending)
}

/// Stored rows read per query of [`load_all_keys`].
const KEY_PAGE: i64 = 100_000;

/// Loads the stored keys of every registered service in one pass over the table in rowid order,
/// for an import large enough to meet most services: reading the keys service by service goes
/// through the key's index and then to the rows at random places of the table (for a million
/// stored rows, 10 µs a row instead of well under one).
async fn load_all_keys(tx: &mut Tx, known: &mut Known, services: &HashSet<String>) -> Result<()> {
    for service in services {
        known.entry(Arc::from(service.as_str())).or_default();
    }
    let sql = "SELECT id, service_code, local_id, row_hash FROM records WHERE id > $1 ORDER BY id LIMIT $2";
    let mut after = 0;
    loop {
        let page = tx
            .fetch_map(sql, vec![Value::Int(Some(after)), Value::Int(Some(KEY_PAGE))], |row| {
                let [Value::Int(Some(id)), Value::Int(Some(hash))] =
                    [row.value(0, Kind::Int)?, row.value(3, Kind::Int)?]
                else {
                    return Err(StoreError::InvalidStored {
                        entity: "record",
                        key: "?".into(),
                        reason: "no id".into(),
                    });
                };
                let service = row.text(1)?.unwrap_or_default();
                let local_id = row.text(2)?.unwrap_or_default();
                let keys = match known.get_mut(service) {
                    Some(keys) => keys,
                    None => known.entry(Arc::from(service)).or_default(),
                };
                keys.insert(local_id.to_owned(), Existing { id, hash, seen: false });
                Ok(id)
            })
            .await?;
        match page.last() {
            Some(&last) if page.len() as i64 == KEY_PAGE => after = last,
            _ => return Ok(()),
        }
    }
}

/// The import itself, inside `tx` (a write transaction, or a read snapshot for a dry run).
async fn import<I, R>(tx: &mut Tx, batch: Option<&NewBatch>, records: I) -> Result<ImportOutcome>
where
    I: IntoIterator<Item = Result<R>>,
    R: Borrow<Record>,
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
    let mut import = Import { write: None, outcome: ImportOutcome::default(), writer: bulk::Writer::new(None, now) };
    // Rows this import inserts get ids above this (SQLite: max rowid + 1; PostgreSQL: a
    // sequence; nobody else inserts meanwhile): how their audit lines are found at the end.
    let mut last_id_before = 0;
    if let Some(b) = batch {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM records";
        last_id_before = tx.fetch_one(sql, vec![], &[Kind::Int]).await?.int(0)?;
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
        import.write = Some(AuditContext { at: now, actor: &b.actor, batch_id: Some(batch_id) });
        import.writer = bulk::Writer::new(Some(batch_id), now);
    }
    let indexes = if batch.is_some() {
        if !tx.is_postgres() {
            // Foreign keys checked once, at the commit (reset by it); this also spares SQLite a
            // statement journal per multi-row INSERT (see `bulk`).
            tx.execute("PRAGMA defer_foreign_keys = ON", vec![]).await?;
        }
        Some(bulk::IndexRebuild::begin(tx).await?)
    } else {
        None
    };

    // Stored keys per service, loaded when the import first meets the service.
    let mut known = Known::default();
    let mut records = records.into_iter();
    let mut interner = Interner::default();
    let mut next = prepare(&mut records, &services, &mut interner)?;
    if next.len() == IMPORT_CHUNK {
        load_all_keys(tx, &mut known, &services).await?;
    }
    while !next.is_empty() {
        let chunk = classify(tx, &mut known, &mut import.outcome, next).await?;
        // Turn the next records into column values while the database writes this chunk: the
        // two threads (ours, and the writer's) then work at the same time. `prepare` never
        // yields, so it waits until the write has begun; run as soon as `flush` first waited,
        // it ran before SQLite's writer even started, and the two took turns.
        let (started, begun) = oneshot::channel();
        let (written, prepared) = tokio::join!(import.flush(tx, chunk, started), async {
            let _ = begun.await;
            prepare(&mut records, &services, &mut interner)
        });
        written?;
        next = prepared?;
    }

    import.writer.finish(tx).await?;
    let outcome = import.outcome;
    let (Some(cx), Some(indexes)) = (import.write, indexes) else { return Ok(outcome) };
    let [inserted, updated, unchanged] =
        [outcome.inserted, outcome.updated, outcome.unchanged].map(|n| Value::Int(Some(n as i64)));
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
    if !tx.is_postgres() {
        // SQLite reads the new keys back from the rows: free the (up to millions of) keys the
        // import met on another thread while the indexes are built, not on this one before the
        // commit.
        let met = std::mem::take(&mut known);
        std::thread::spawn(move || drop(met));
    }
    // The indexes first: the audit lines below are read in key order through the key's index.
    indexes.finish(tx).await?;
    // One audit line per inserted record. The values are not repeated (they are the record's
    // own; see the crate docs). In key order, so the audit log's index on the key grows at one
    // place instead of at a random place per line; the lines of one batch share its time and id.
    if tx.is_postgres() {
        // By COPY, from the keys this import inserted (`Existing::id` 0): PostgreSQL inserts
        // COPY's rows in batches, where `INSERT … SELECT` reading the new rows back in key order
        // cost 12 µs a line.
        let mut keys: Vec<String> = known
            .iter()
            .flat_map(|(service, keys)| {
                keys.iter().filter(|(_, e)| e.id == 0).map(move |(local_id, _)| key_text(service, local_id))
            })
            .collect();
        keys.sort_unstable();
        bulk::copy_audit_inserts(tx, &cx, "record", &keys).await?;
    } else {
        // Written by the database from the rows themselves: nothing to bind per row.
        tx.execute(
            "INSERT INTO audit_log (logged_at, actor, action, entity, entity_key, batch_id) \
             SELECT $1, $2, 'insert', 'record', service_code || '/' || local_id, $3 FROM records WHERE id > $4 \
             ORDER BY service_code, local_id",
            vec![
                Value::Time(Some(cx.at)),
                Value::text(cx.actor),
                Value::Int(cx.batch_id),
                Value::Int(Some(last_id_before)),
            ],
        )
        .await?;
    }
    let key = cx.batch_id.map(|b| b.to_string()).unwrap_or_default();
    audit::write(tx, &cx, "import_batch", vec![AuditRow { action: "import", key, before: None, after: Some(summary) }])
        .await?;
    if outcome.inserted + outcome.updated > 0 {
        bump_data_version(tx).await?;
    }
    Ok(outcome)
}
