//! The one code path over both backends: every statement is plain SQL with `$1, $2…`
//! placeholders (SQLite's driver maps `$N` to argument N, PostgreSQL's natively), arguments and
//! results travel as [`Value`]s, and only [`dispatch!`] knows which driver runs them. The rest of
//! the crate never names a backend type, so it cannot drift into backend-specific behaviour.

use crate::{Result, Store, StoreError};
use flsdb_dataset::values::format_date;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions as _, PgPool, Postgres, Row as _, Sqlite, SqlitePool, Transaction};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How to open the database: pool size and timeouts. The defaults suit the web server and the
/// command line alike; `flsdb` reads overrides from `FLSDB_DB_*` environment variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Connections in the pool; `None`: 10 for PostgreSQL, 4 for a SQLite file (SQLite has one
    /// writer at a time anyway), 1 for `sqlite::memory:` (each connection would be its own
    /// database).
    pub max_connections: Option<u32>,
    /// How long a caller waits for a pooled connection (including opening a new one) before
    /// [`StoreError::is_unavailable`] gives up: with the database down or unreachable, a web
    /// request gets its 503 after this long instead of hanging.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` (a runaway statement is cancelled; waiting for a lock counts)
    /// and `idle_in_transaction_session_timeout` (a client that vanished mid-transaction releases
    /// its locks). An import's statements are per chunk, so this bounds a chunk, not a file.
    pub statement_timeout: Duration,
    /// SQLite `busy_timeout`: how long a writer waits for another's write lock before failing
    /// (a large import holds it for seconds; every other writer queues behind it).
    pub busy_timeout: Duration,
    /// Bring the schema up to date on connecting (creating a SQLite file if missing). Without it
    /// the database is opened as it is (a SQLite file must exist), for `flsdb migrate --check`;
    /// a database migrated by a newer flsdb is refused either way.
    pub migrate: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(300),
            busy_timeout: Duration::from_secs(60),
            migrate: true,
        }
    }
}

/// The backend a URL names, and for SQLite the file path (or `:memory:`).
pub(crate) enum Target<'a> {
    Postgres,
    Sqlite(&'a str),
}

pub(crate) fn target(url: &str) -> Result<Target<'_>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres);
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.contains("://") || path.is_empty() {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    Ok(Target::Sqlite(path))
}

/// The file a SQLite URL names (`None` for PostgreSQL, `sqlite::memory:` and unsupported URLs).
pub fn sqlite_file(url: &str) -> Option<&Path> {
    match target(url) {
        Ok(Target::Sqlite(path)) if path != ":memory:" => Some(Path::new(path)),
        _ => None,
    }
}

/// Statements slower than this are logged, at info level, not sqlx's warning: a large import's
/// index builds take longer by design, and a data manager should not see them as a problem
/// (`FLSDB_LOG=sqlx=info` shows them).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);
const SLOW_STATEMENT_LEVEL: log::LevelFilter = log::LevelFilter::Info;

impl Db {
    /// Opens the pool `url` names, with `options`' size and timeouts.
    pub(crate) async fn open(url: &str, options: &ConnectOptions) -> Result<Db> {
        Ok(match target(url)? {
            Target::Postgres => {
                let timeout = format!("{}ms", options.statement_timeout.as_millis());
                let connect = PgConnectOptions::from_str(url)?
                    .application_name("flsdb")
                    .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT)
                    .options([
                        ("statement_timeout", timeout.as_str()),
                        ("idle_in_transaction_session_timeout", timeout.as_str()),
                    ]);
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections.unwrap_or(10))
                    .acquire_timeout(options.acquire_timeout)
                    // A connection cut while idle (database restarted, network dropped) is found
                    // by the ping before use and replaced, so the service recovers by itself.
                    .test_before_acquire(true)
                    .connect_with(connect)
                    .await?;
                Db::Postgres(pool)
            }
            Target::Sqlite(":memory:") => {
                // Every connection to `:memory:` is its own empty database: keep exactly one,
                // forever.
                let connect = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                Db::Sqlite(pool)
            }
            Target::Sqlite(path) => {
                let connect = SqliteConnectOptions::new()
                    .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT)
                    .filename(path)
                    .create_if_missing(options.migrate)
                    // For a new database only (an existing one keeps its own): pages of 16 KiB
                    // hold a record row dozens at a time, so a bulk load, a full scan, an index
                    // build and the checkpoint each handle a quarter of the pages they would at
                    // SQLite's 4 KiB default.
                    .page_size(16384)
                    .journal_mode(SqliteJournalMode::Wal)
                    // In WAL mode NORMAL cannot corrupt the database or lose a transaction to an
                    // application crash; only an OS crash may roll back the last commits.
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(options.busy_timeout)
                    // 256 MiB of page cache (allocated only as used): a million-row import
                    // updates four indexes at random places, and misses cost more than memory.
                    .pragma("cache_size", "-262144")
                    // Statement journals of the multi-row INSERTs stay in memory.
                    .pragma("temp_store", "memory")
                    // Sorts (an index built after a bulk load, a large ORDER BY) may use a
                    // helper thread: the machine has two cores and the import's own threads
                    // are idle by then.
                    .pragma("threads", "2");
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections.unwrap_or(4))
                    // Writers queue in SQLite's busy handler while holding a pooled connection:
                    // wait for a connection as long as for the lock itself.
                    .acquire_timeout(options.acquire_timeout.max(options.busy_timeout))
                    .connect_with(connect)
                    .await?;
                Db::Sqlite(pool)
            }
        })
    }
}

impl StoreError {
    /// The database cannot be reached or is too busy right now: no connection within the
    /// acquire timeout, a connection lost, the server shutting down or refusing connections, a
    /// statement or lock wait cancelled by a timeout, SQLite's write lock not free within the
    /// busy timeout. Nothing was written; the same request may succeed later (the web answers
    /// 503). Not a bug, unlike every other database error.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => unavailable(e),
            // SQLITE_BUSY, SQLITE_LOCKED and SQLITE_IOERR, plain or extended.
            StoreError::Sqlite { code, .. } => matches!(code & 0xff, 5 | 6 | 10),
            StoreError::Migration(sqlx::migrate::MigrateError::Execute(e)) => unavailable(e),
            _ => false,
        }
    }
}

fn unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // What a driver reports when the stream ends mid-conversation: PostgreSQL's answer to
        // its TLS request is a zero byte when the connection is cut before the server answers.
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(e) => {
            let Some(code) = e.code() else { return false };
            if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY and SQLITE_LOCKED, plain or extended (the low byte is the class).
                code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                // PostgreSQL: connection exceptions (08…), shutting down or starting up
                // (57P01–3), too many connections (53300), statement or lock timeout (57014,
                // 55P03).
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "57014" | "55P03")
            }
        }
        _ => false,
    }
}

impl Store {
    /// Writes a consistent copy of a SQLite database to `out` (`VACUUM INTO`: an online backup,
    /// safe while the server runs; writers are not blocked, the copy is one snapshot, compacted).
    /// `out` must not exist. PostgreSQL has its own tools (`pg_dump`/`pg_restore`): refused with
    /// [`StoreError::Unsupported`].
    pub async fn backup_to(&self, out: &Path) -> Result<()> {
        let Db::Sqlite(pool) = &self.db else {
            return Err(StoreError::Unsupported(
                "a PostgreSQL database is backed up with pg_dump and restored with pg_restore".into(),
            ));
        };
        if out.exists() {
            return Err(StoreError::Unsupported(format!("{} already exists: choose a new file", out.display())));
        }
        let path = out.to_str().ok_or_else(|| StoreError::Unsupported(format!("{} is not UTF-8", out.display())))?;
        sqlx::query("VACUUM INTO $1").bind(path).execute(pool).await?;
        Ok(())
    }
}

/// Runs `$body` with `$p` bound to the backend's own pool/transaction, so generic sqlx calls are
/// instantiated once per concrete driver (no `Any` driver: it has no date type).
macro_rules! dispatch {
    ($e:expr, $enum:ident, $p:ident => $body:expr) => {
        match $e {
            $enum::Sqlite($p) => $body,
            $enum::Postgres($p) => $body,
        }
    };
    ($e:expr, $p:ident => $body:expr) => {
        dispatch!($e, Db, $p => $body)
    };
}
pub(crate) use dispatch;

/// The SQLite text of dates seen so far (a few thousand distinct ones cover any real dataset).
static DATE_TEXTS: LazyLock<Mutex<HashMap<Date, Arc<str>>>> = LazyLock::new(Mutex::default);

/// A bound argument or a decoded column. `None` is SQL NULL.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Text(Option<String>),
    /// Text shared between many rows (codes, dates): binding it to SQLite clones a pointer
    /// instead of allocating a string on this thread that the driver's thread then frees, which
    /// made a bulk import a third slower. Only ever bound, never decoded.
    Shared(Option<Arc<str>>),
    Int(Option<i64>),
    Real(Option<f64>),
    Date(Option<Date>),
    Time(Option<OffsetDateTime>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(Some(s.into()))
    }

    pub fn is_null(&self) -> bool {
        match self {
            Value::Text(v) => v.is_none(),
            Value::Shared(v) => v.is_none(),
            Value::Int(v) => v.is_none(),
            Value::Real(v) => v.is_none(),
            Value::Date(v) => v.is_none(),
            Value::Time(v) => v.is_none(),
        }
    }
}

/// How to decode a result column. PostgreSQL checks integer widths strictly, hence three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    /// BIGINT / INTEGER (SQLite).
    Int,
    /// PostgreSQL INTEGER.
    Int32,
    /// PostgreSQL SMALLINT.
    Int16,
    Real,
    Date,
    Time,
}

/// One decoded result row, with typed accessors that turn a surprise into an error, not a panic.
#[derive(Debug)]
pub(crate) struct Row(pub Vec<Value>);

impl Row {
    fn bad(&self, i: usize, wanted: &str) -> StoreError {
        StoreError::InvalidStored {
            entity: "row",
            key: format!("column {i}"),
            reason: format!("expected {wanted}, found {:?}", self.0.get(i)),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<&str>> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.as_deref()),
            Some(Value::Shared(v)) => Ok(v.as_deref()),
            _ => Err(self.bad(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<&str> {
        self.opt_text(i)?.ok_or_else(|| self.bad(i, "non-null text"))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            _ => Err(self.bad(i, "integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.bad(i, "non-null integer"))
    }

    pub fn opt_real(&self, i: usize) -> Result<Option<f64>> {
        match self.0.get(i) {
            Some(Value::Real(v)) => Ok(*v),
            _ => Err(self.bad(i, "real")),
        }
    }

    pub fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>> {
        match self.0.get(i) {
            Some(Value::Time(v)) => Ok(*v),
            _ => Err(self.bad(i, "timestamp")),
        }
    }

    pub fn time(&self, i: usize) -> Result<OffsetDateTime> {
        self.opt_time(i)?.ok_or_else(|| self.bad(i, "non-null timestamp"))
    }
}

/// An open transaction on either backend. Reads use one too, for a consistent snapshot across
/// the several statements of a chunked read.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Binds `$params` in order to the query `$q` (a macro so it expands inside each dispatch arm).
macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for v in $params {
            q = match v {
                Value::Text(x) => q.bind(x),
                Value::Shared(x) => q.bind(x),
                Value::Int(x) => q.bind(x),
                Value::Real(x) => q.bind(x),
                Value::Date(x) => q.bind(x),
                Value::Time(x) => q.bind(x),
            };
        }
        q
    }};
}

/// A result row read in place, whichever the driver: text is borrowed from the row's buffer
/// rather than copied, which is most of the cost of reading a million records.
pub(crate) trait RowRef {
    fn text(&self, i: usize) -> Result<Option<&str>>;
    fn value(&self, i: usize, kind: Kind) -> Result<Value>;
}

macro_rules! impl_row_ref {
    ($row:ty) => {
        impl RowRef for $row {
            fn text(&self, i: usize) -> Result<Option<&str>> {
                Ok(self.try_get(i)?)
            }

            fn value(&self, i: usize, kind: Kind) -> Result<Value> {
                Ok(match kind {
                    Kind::Text => Value::Text(self.try_get(i)?),
                    Kind::Int => Value::Int(self.try_get(i)?),
                    Kind::Int32 => Value::Int(self.try_get::<Option<i32>, _>(i)?.map(i64::from)),
                    Kind::Int16 => Value::Int(self.try_get::<Option<i16>, _>(i)?.map(i64::from)),
                    Kind::Real => Value::Real(self.try_get(i)?),
                    Kind::Date => Value::Date(self.try_get(i)?),
                    Kind::Time => Value::Time(self.try_get(i)?),
                })
            }
        }
    };
}
impl_row_ref!(sqlx::sqlite::SqliteRow);
impl_row_ref!(sqlx::postgres::PgRow);

impl Db {
    /// A write transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads first and writes later can fail with SQLITE_BUSY instead of
    /// waiting out the busy timeout.
    async fn write(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read-only transaction that sees one snapshot (WAL gives SQLite that by itself).
    async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs `f` in a write transaction (`write`) or a read snapshot: commits a write when `f`
    /// succeeds, otherwise rolls back at once. (A dropped sqlx transaction only rolls back when
    /// its connection is next used; until then a SQLite connection would keep the write lock.)
    pub async fn transaction<T>(&self, write: bool, f: impl AsyncFnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let mut tx = if write { self.write().await? } else { self.read().await? };
        match f(&mut tx).await {
            Ok(value) if write => tx.commit().await.map(|()| value),
            Ok(value) => tx.rollback().await.map(|()| value),
            Err(e) => {
                // The first error is the one worth reporting; a failed rollback closes the
                // connection anyway.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    pub async fn in_write<T>(&self, f: impl AsyncFnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        self.transaction(true, f).await
    }

    pub async fn in_read<T>(&self, f: impl AsyncFnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        self.transaction(false, f).await
    }
}

impl Tx {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// The statement and arguments as this backend should see them. SQLite takes `$1` as a
    /// *named* parameter, and both SQLite (while parsing) and sqlx (while binding, once per
    /// parameter) look names up in a list: quadratic, so a 20,000-parameter multi-row INSERT took
    /// over half a second to bind. Plain `?` parameters are positional and cost nothing, so for
    /// SQLite every `$N` becomes `?` and the arguments are laid out in order of appearance
    /// (a parameter used twice is bound twice). Only our own SQL passes here, and it never has
    /// `$` before a digit inside a literal.
    fn dialect<'a>(&self, sql: &'a str, params: Vec<Value>) -> (Cow<'a, str>, Vec<Value>) {
        if self.is_postgres() || !sql.contains('$') {
            return (Cow::Borrowed(sql), params);
        }
        let bytes = sql.as_bytes();
        let mut out = String::with_capacity(sql.len());
        let mut order = Vec::with_capacity(params.len());
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let end = (i + 1..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
                // Slicing at ASCII bytes always lands on character boundaries.
                out.push_str(&sql[copied..i]);
                out.push('?');
                order.push(sql[i + 1..end].parse::<usize>().unwrap_or(0));
                (copied, i) = (end, end);
            } else {
                i += 1;
            }
        }
        out.push_str(&sql[copied..]);
        // Move each argument to its last use and clone it for earlier ones.
        let mut uses = vec![0usize; params.len() + 1];
        for &n in &order {
            if let Some(u) = uses.get_mut(n) {
                *u += 1;
            }
        }
        // Dates and times go in as the text sqlx would write, formatted once rather than once
        // per use of a shared parameter, and dates shared across rows.
        let mut dates = DATE_TEXTS.lock().ok();
        let mut params: Vec<Value> = params
            .into_iter()
            .map(|v| match v {
                Value::Date(d) => Value::Shared(d.map(|d| match dates.as_deref_mut() {
                    Some(cache) if cache.len() < 100_000 => {
                        cache.entry(d).or_insert_with(|| format_date(d).into()).clone()
                    }
                    _ => format_date(d).into(),
                })),
                Value::Time(t) => Value::Text(t.and_then(|t| t.format(&Rfc3339).ok())),
                v => v,
            })
            .collect();
        drop(dates);
        let ordered = order
            .iter()
            .map(|&n| match (n.checked_sub(1).and_then(|k| params.get_mut(k)), uses.get_mut(n)) {
                (Some(v), Some(u)) => {
                    *u -= 1;
                    if *u == 0 { std::mem::replace(v, Value::Text(None)) } else { v.clone() }
                }
                // Like SQLite itself: a parameter without an argument is NULL.
                _ => Value::Text(None),
            })
            .collect();
        (Cow::Owned(out), ordered)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64> {
        let (sql, params) = self.dialect(sql, params);
        let sql = &*sql;
        Ok(dispatch!(self, Tx, tx => {
            bind_all!(sqlx::query(AssertSqlSafe(sql)), params).execute(&mut **tx).await?.rows_affected()
        }))
    }

    /// Runs a query and maps each result row with `f`, in place.
    pub async fn fetch_map<T>(
        &mut self,
        sql: &str,
        params: Vec<Value>,
        mut f: impl FnMut(&dyn RowRef) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (sql, params) = self.dialect(sql, params);
        let sql = &*sql;
        dispatch!(self, Tx, tx => {
            let rows = bind_all!(sqlx::query(AssertSqlSafe(sql)), params).fetch_all(&mut **tx).await?;
            rows.iter().map(|row| f(row)).collect()
        })
    }

    pub async fn fetch(&mut self, sql: &str, params: Vec<Value>, kinds: &[Kind]) -> Result<Vec<Row>> {
        self.fetch_map(sql, params, |row| {
            Ok(Row(kinds.iter().enumerate().map(|(i, k)| row.value(i, *k)).collect::<Result<_>>()?))
        })
        .await
    }

    pub async fn fetch_optional(&mut self, sql: &str, params: Vec<Value>, kinds: &[Kind]) -> Result<Option<Row>> {
        Ok(self.fetch(sql, params, kinds).await?.into_iter().next())
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Value>, kinds: &[Kind]) -> Result<Row> {
        self.fetch_optional(sql, params, kinds).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    pub async fn commit(self) -> Result<()> {
        dispatch!(self, Tx, tx => tx.commit().await?);
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        dispatch!(self, Tx, tx => tx.rollback().await?);
        Ok(())
    }
}

/// `$first, $first+1, …` for `count` placeholders, e.g. for `IN (…)` lists and VALUES rows.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
