//! The bulk write of an import: the one place where the two backends take different SQL, because
//! each has its own fast way in. Everything before (which rows are new, changed or unchanged) is
//! the shared code of `records.rs`; the insert audit lines are written per backend here too.
//!
//! * **SQLite**: new rows through `sqlite_bulk` (a prepared multi-row statement, texts bound in
//!   place, on a thread of its own); replaced rows by multi-row upserts through sqlx. Both are
//!   `INSERT OR FAIL` with plain positional `?` parameters (no `$N` renumbering, see
//!   `Tx::dialect`), foreign keys deferred to the commit. Together these keep SQLite from writing
//!   a statement journal of every page each statement touches (a multi-row statement that may
//!   abort half-way needs one; one that fails without undoing itself does not, and the import's
//!   transaction is rolled back as a whole on any error anyway).
//! * **PostgreSQL**: new rows and their audit lines go in by `COPY … FROM STDIN` (text format),
//!   which costs the server a fraction of an `INSERT` per row; replaced rows by multi-row upserts.
//!
//! Into an empty `records` table, indexes (and on PostgreSQL foreign keys) are dropped at the
//! start and built again at the end of the same transaction (one sort instead of a million
//! random index inserts); see [`IndexRebuild`].

use crate::audit::AuditContext;
use crate::db::{Kind, Tx, Value};
use crate::mapping::RECORD_COLUMNS;
use crate::sqlite_bulk;
use crate::{Result, StoreError};
use flsdb_dataset::Field;
use flsdb_dataset::values::format_date;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Values bound per written row: the record's fields, then `row_hash`, `batch_id`, `created_at`
/// and `updated_at` (`version` is the literal 1).
const SQLITE_PARAMS_PER_ROW: usize = Field::COUNT + 4;
/// SQLite's limit on the variables of one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// Rows per SQLite statement: as many as the variable limit allows.
pub(crate) const SQLITE_ROWS: usize = SQLITE_MAX_PARAMS / SQLITE_PARAMS_PER_ROW;

/// A record to write: its column values (in [`RECORD_COLUMNS`] order) and hash.
pub(crate) struct Row {
    pub values: Vec<Value>,
    pub hash: i64,
}

/// Per-import state of the bulk writer: statements built once per shape, and the SQLite text
/// of every date met (a few thousand distinct dates cover a national dataset).
pub(crate) struct Writer {
    batch_id: Option<i64>,
    at: OffsetDateTime,
    /// `at` as SQLite stores it.
    at_text: Arc<str>,
    statements: HashMap<(bool, usize), String>,
    dates: HashMap<Date, Arc<str>>,
    /// PostgreSQL: COPY lines of new records not yet sent, and how many.
    copy_buffer: String,
    copy_rows: usize,
}

/// New records gathered per PostgreSQL COPY: the server's cost per COPY statement (foreign key
/// checks queued and run per statement, the round trips) is paid once per this many rows.
const COPY_ROWS: usize = 50_000;

impl Writer {
    pub fn new(batch_id: Option<i64>, at: OffsetDateTime) -> Writer {
        let at_text: Arc<str> = at.format(&Rfc3339).unwrap_or_default().into();
        Writer {
            batch_id,
            at,
            at_text,
            statements: HashMap::new(),
            dates: HashMap::new(),
            copy_buffer: String::new(),
            copy_rows: 0,
        }
    }

    /// Writes `rows`: new records (`replace` false) or replacements of stored ones with the same
    /// key (`replace` true: every field overwritten, `version` + 1, `created_at` kept).
    /// `started` is told when the rows are being written on a thread of their own (new rows on
    /// SQLite) and the caller may do other work until this returns.
    pub async fn write(
        &mut self,
        tx: &mut Tx,
        replace: bool,
        rows: Vec<Row>,
        started: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<()> {
        // Only SQLite's new rows have a thread of their own. Elsewhere the caller's work runs
        // whenever this waits (on PostgreSQL, while the server takes the COPY).
        let started = if replace || tx.is_postgres() { None } else { started };
        if rows.is_empty() {
            return Ok(());
        }
        match tx {
            Tx::Sqlite(t) if !replace => {
                let mut handle = t.lock_handle().await?;
                let params = sqlite_bulk::InsertParams {
                    sql: |rows| sqlite_insert_sql(false, rows),
                    batch_id: self.batch_id,
                    at: self.at_text.clone(),
                };
                let job = sqlite_bulk::InsertJob::start(&mut handle, rows, params);
                if let Some(started) = started {
                    // Nobody waiting is fine: the write goes on either way.
                    let _ = started.send(());
                }
                job.wait().await?;
                Ok(())
            }
            Tx::Sqlite(t) => {
                let mut rows = rows.into_iter().peekable();
                while rows.peek().is_some() {
                    let part: Vec<Row> = rows.by_ref().take(SQLITE_ROWS).collect();
                    let sql = self
                        .statements
                        .entry((replace, part.len()))
                        .or_insert_with(|| sqlite_insert_sql(replace, part.len()))
                        .as_str();
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for row in part {
                        for value in row.values {
                            query = match value {
                                Value::Text(x) => query.bind(x),
                                Value::Shared(x) => query.bind(x),
                                Value::Int(x) => query.bind(x),
                                Value::Real(x) => query.bind(x),
                                Value::Date(d) => query.bind(
                                    d.map(|d| self.dates.entry(d).or_insert_with(|| format_date(d).into()).clone()),
                                ),
                                Value::Time(t) => query.bind(t.and_then(|t| t.format(&Rfc3339).ok())),
                            };
                        }
                        query = query
                            .bind(row.hash)
                            .bind(self.batch_id)
                            .bind(self.at_text.clone())
                            .bind(self.at_text.clone());
                    }
                    query.execute(&mut **t).await?;
                }
                Ok(())
            }
            Tx::Postgres(_) if !replace => {
                for row in &rows {
                    copy_line(&mut self.copy_buffer, row, self.batch_id, self.at);
                }
                self.copy_rows += rows.len();
                if self.copy_rows >= COPY_ROWS {
                    self.finish(tx).await?;
                }
                Ok(())
            }
            Tx::Postgres(_) => {
                // PostgreSQL's limit is 65,535 parameters per statement.
                let per_statement = 65_535 / (Field::COUNT + 1) - 1;
                let mut rows = rows.into_iter().peekable();
                while rows.peek().is_some() {
                    let part: Vec<Row> = rows.by_ref().take(per_statement).collect();
                    let sql = self
                        .statements
                        .entry((replace, part.len()))
                        .or_insert_with(|| numbered_insert_sql(replace, part.len()));
                    let mut params = Vec::with_capacity(part.len() * (Field::COUNT + 1) + 2);
                    params.extend([Value::Int(self.batch_id), Value::Time(Some(self.at))]);
                    for row in part {
                        params.extend(row.values);
                        params.push(Value::Int(Some(row.hash)));
                    }
                    tx.execute(sql, params).await?;
                }
                Ok(())
            }
        }
    }
}

impl Writer {
    /// Sends what is still gathered (PostgreSQL's COPY lines). Before anything reads the new
    /// rows back, and at the end of the import.
    pub async fn finish(&mut self, tx: &mut Tx) -> Result<()> {
        let Tx::Postgres(t) = tx else { return Ok(()) };
        if self.copy_rows == 0 {
            return Ok(());
        }
        let sql = format!(
            "COPY records ({}, row_hash, batch_id, created_at, updated_at, version) FROM STDIN",
            *RECORD_COLUMNS
        );
        let expected = std::mem::take(&mut self.copy_rows) as u64;
        copy_in(t, &sql, "COPY records", expected, std::iter::once(self.copy_buffer.as_bytes())).await?;
        self.copy_buffer.clear();
        Ok(())
    }
}

/// The `ON CONFLICT` clause of a replacement: every field, the hash and batch overwritten,
/// `version` + 1, `created_at` kept.
fn upsert_clause() -> String {
    let updates: Vec<String> = Field::ALL[2..]
        .iter()
        .map(|f| f.name())
        .chain(["row_hash", "batch_id", "updated_at"])
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(" ON CONFLICT (service_code, local_id) DO UPDATE SET {}, version = records.version + 1", updates.join(", "))
}

/// SQLite: `rows` tuples of positional parameters (see the module comment for `OR FAIL`).
fn sqlite_insert_sql(replace: bool, rows: usize) -> String {
    let mut tuple = String::from("(");
    for i in 0..SQLITE_PARAMS_PER_ROW {
        tuple.push_str(if i == 0 { "?" } else { ", ?" });
    }
    tuple.push_str(", 1)");
    let mut sql = format!(
        "INSERT OR FAIL INTO records ({}, row_hash, batch_id, created_at, updated_at, version) VALUES ",
        *RECORD_COLUMNS
    );
    sql.reserve(rows * (tuple.len() + 2));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&tuple);
    }
    if replace {
        sql.push_str(&upsert_clause());
    }
    sql
}

/// PostgreSQL: `$N` parameters, the batch id and the time shared ($1, $2).
fn numbered_insert_sql(replace: bool, rows: usize) -> String {
    let per_row = Field::COUNT + 1;
    let tuples: Vec<String> =
        (0..rows).map(|r| format!("({}, $1, $2, $2, 1)", crate::db::placeholders(3 + r * per_row, per_row))).collect();
    let mut sql = format!(
        "INSERT INTO records ({}, row_hash, batch_id, created_at, updated_at, version) VALUES {}",
        *RECORD_COLUMNS,
        tuples.join(", ")
    );
    if replace {
        sql.push_str(&upsert_clause());
    }
    sql
}

/// Audit lines per COPY message (about a megabyte).
const AUDIT_LINES_PER_PIECE: usize = 10_000;

/// Runs `sql` (a `COPY … FROM STDIN`) with `pieces` as its data and checks that it wrote
/// `expected` rows; `what` names it in that error.
async fn copy_in<P: AsRef<[u8]>>(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    sql: &str,
    what: &str,
    expected: u64,
    pieces: impl Iterator<Item = P>,
) -> Result<()> {
    let mut copy = t.copy_in_raw(sql).await?;
    for piece in pieces {
        if let Err(e) = copy.send(piece.as_ref()).await {
            // The first error is the one to report; the transaction is rolled back anyway.
            let _ = copy.abort(e.to_string()).await;
            return Err(e.into());
        }
    }
    let written = copy.finish().await?;
    if written != expected {
        return Err(StoreError::InvalidStored {
            entity: "import",
            key: what.into(),
            reason: format!("{written} rows written of {expected}"),
        });
    }
    Ok(())
}

/// PostgreSQL: one `insert` audit line about `entity` per key, by COPY, in the given order.
pub(crate) async fn copy_audit_inserts(
    tx: &mut Tx,
    cx: &AuditContext<'_>,
    entity: &str,
    keys: &[String],
) -> Result<()> {
    let Tx::Postgres(t) = tx else {
        return Err(StoreError::Unsupported("audit lines by COPY need PostgreSQL".into()));
    };
    if keys.is_empty() {
        return Ok(());
    }
    // Everything but the key is the same on every line.
    let mut head = String::new();
    copy_time(&mut head, cx.at);
    head.push('\t');
    copy_text(&mut head, cx.actor);
    head.push_str("\tinsert\t");
    copy_text(&mut head, entity);
    head.push('\t');
    let mut tail = String::from("\t");
    copy_value(&mut tail, &Value::Int(cx.batch_id));
    tail.push('\n');
    let pieces = keys.chunks(AUDIT_LINES_PER_PIECE).map(|chunk| {
        let mut piece = String::new();
        for key in chunk {
            piece.push_str(&head);
            copy_text(&mut piece, key);
            piece.push_str(&tail);
        }
        piece
    });
    let sql = "COPY audit_log (logged_at, actor, action, entity, entity_key, batch_id) FROM STDIN";
    copy_in(t, sql, "COPY audit_log", keys.len() as u64, pieces).await
}

/// Appends `s` escaped for COPY's text format.
fn copy_text(out: &mut String, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A timestamp as PostgreSQL reads it, to the microsecond it stores.
fn copy_time(out: &mut String, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    );
}

fn copy_value(out: &mut String, v: &Value) {
    match v {
        v if v.is_null() => out.push_str("\\N"),
        Value::Text(Some(s)) => copy_text(out, s),
        Value::Shared(Some(s)) => copy_text(out, s),
        Value::Int(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        // f64's Display is the shortest text that reads back to the same number, never with an
        // exponent; PostgreSQL's float8 input reads it exactly.
        Value::Real(Some(x)) => {
            let _ = write!(out, "{x}");
        }
        Value::Date(Some(d)) => out.push_str(&format_date(*d)),
        Value::Time(Some(t)) => copy_time(out, *t),
        _ => out.push_str("\\N"),
    }
}

/// One COPY line: the record's values, hash, batch, created and updated time, version 1.
fn copy_line(out: &mut String, row: &Row, batch_id: Option<i64>, at: OffsetDateTime) {
    for v in &row.values {
        copy_value(out, v);
        out.push('\t');
    }
    let _ = write!(out, "{}\t", row.hash);
    copy_value(out, &Value::Int(batch_id));
    out.push('\t');
    copy_time(out, at);
    out.push('\t');
    copy_time(out, at);
    out.push_str("\t1\n");
}

/// Indexes dropped for a bulk load into an empty `records` table and built again before the
/// commit: one sort each instead of a random index insert per row. That includes the unique key
/// `records_key` (migration 7): the import itself refuses a key given twice before writing
/// anything ([`StoreError::DuplicateKey`]), and building the unique index again would fail the
/// whole import if one slipped through; only the primary key stays. SQLite also drops the audit
/// log's index (a single writer anyway); PostgreSQL keeps it, since dropping it would lock every
/// other writer's audit line out until the import commits. On PostgreSQL the import then holds
/// `records` exclusively: readers of the (empty) table wait for the first load to commit.
pub(crate) struct IndexRebuild {
    /// What was dropped: the statement that brings each back, in order.
    rebuild: Vec<String>,
}

/// Foreign keys of `records` this role may drop (PostgreSQL): `(name, ADD CONSTRAINT statement)`.
const RECORD_FOREIGN_KEYS: &str = "SELECT k.conname::text, \
     'ALTER TABLE records ADD CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid) \
     FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid \
     WHERE k.conrelid = 'records'::regclass AND k.contype = 'f' AND pg_has_role(t.relowner, 'USAGE') ORDER BY 1";

impl IndexRebuild {
    /// Drops the indexes (and PostgreSQL's foreign key checks) when `records` is empty;
    /// otherwise does nothing.
    pub async fn begin(tx: &mut Tx) -> Result<IndexRebuild> {
        let mut rebuild = IndexRebuild { rebuild: Vec::new() };
        if !tx.fetch(crate::records::ANY_RECORD, vec![], &[Kind::Int]).await?.is_empty() {
            return Ok(rebuild);
        }
        let sql = if tx.is_postgres() {
            // Only indexes this role may drop (its own, or its roles'): a server running as the
            // application role (`flsdb_app`, 0004_app_role.sql) owns none and keeps them all.
            "SELECT c.relname::text, pg_get_indexdef(c.oid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid \
             WHERE x.indrelid = 'records'::regclass AND NOT x.indisprimary \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) \
             AND pg_has_role(c.relowner, 'USAGE') ORDER BY 1"
        } else {
            // Named indexes only (an automatic index has no SQL; these tables have none).
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ('records', 'audit_log') AND sql IS NOT NULL ORDER BY name"
        };
        let indexes = tx.fetch(sql, vec![], &[Kind::Text, Kind::Text]).await?;
        // PostgreSQL checks a foreign key by a query per row (two per record: the service and
        // the batch), half of a record's cost in COPY; adding the key back at the end checks all
        // rows in one join. SQLite's deferred keys cost little and stay.
        let foreign_keys = if tx.is_postgres() {
            tx.fetch(RECORD_FOREIGN_KEYS, vec![], &[Kind::Text, Kind::Text]).await?
        } else {
            Vec::new()
        };
        if tx.is_postgres() && !(indexes.is_empty() && foreign_keys.is_empty()) {
            tx.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE", vec![]).await?;
        }
        let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        for row in indexes {
            tx.execute(&format!("DROP INDEX {}", quoted(row.text(0)?)), vec![]).await?;
            rebuild.rebuild.push(row.text(1)?.to_owned());
        }
        for row in foreign_keys {
            tx.execute(&format!("ALTER TABLE records DROP CONSTRAINT {}", quoted(row.text(0)?)), vec![]).await?;
            rebuild.rebuild.push(row.text(1)?.to_owned());
        }
        Ok(rebuild)
    }

    /// Builds the dropped indexes again and adds the foreign keys back, checking every row (in
    /// the import's transaction).
    pub async fn finish(self, tx: &mut Tx) -> Result<()> {
        for statement in self.rebuild {
            tx.execute(&statement, vec![]).await?;
        }
        Ok(())
    }
}
