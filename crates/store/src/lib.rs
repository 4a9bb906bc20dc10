//! Storage for flsdb, the only crate that writes SQL: SQLite (the embedded default) and
//! PostgreSQL behind one code path, versioned migrations, and an append-only audit log written in
//! the same transaction as every change.
//!
//! * `records` has one typed column per dataset field (see `mapping.rs`, the one place a
//!   [`Record`](flsdb_dataset::Record) becomes a row and back), plus `id`, `version` (optimistic
//!   concurrency, 1 on insert, +1 per change), `row_hash`, `batch_id`, `created_at`, `updated_at`.
//! * `audit_log` rows hold `before`/`after` as JSON objects mapping column names to canonical
//!   text (`null` = empty). An update has both sides with **only the changed fields**; an
//!   `import` line summarises its batch. A service or caseload insert has `after` with its
//!   fields. A *record* insert has neither: its values are the row itself, and every later change
//!   keeps the values it replaces in its `before`, so the history stays complete from the current
//!   row backwards, while a million-row import does not write every value twice (that doubled
//!   its time and the database size). SQLite and PostgreSQL triggers reject UPDATE and DELETE
//!   (and TRUNCATE on PostgreSQL) of the log.
//! * [`Store::data_version`] is a counter bumped by every committed change (not by no-op
//!   imports), for cache keys.

mod accounts;
#[cfg(test)]
mod accounts_tests;
mod audit;
mod db;
mod mapping;
mod records;
mod registry;
#[cfg(test)]
mod tests;

pub use accounts::{LoginFailure, Role, SessionInfo, User};
pub use audit::{AuditEntry, AuditFilter};
pub use records::{ImportOutcome, NewBatch, RecordFilter};
pub use registry::Changes;

use db::{Db, Kind, dispatch};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database schema is at version {found}, but this flsdb only knows versions up to {known}: \
         it was upgraded by a newer flsdb; run that version (or point this one at another database)"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("unsupported database URL {0:?}: use sqlite:PATH, sqlite::memory:, a file path or postgres://…")]
    UnsupportedUrl(String),
    #[error(
        "{key} was changed by someone else meanwhile (you edited version {expected}, it is now at {found}): reload it and apply your change again"
    )]
    Conflict { key: String, expected: i64, found: i64 },
    #[error("{key} does not exist")]
    NotFound { key: String },
    #[error("service {0} is not in the registry")]
    UnknownService(String),
    #[error("record {key} appears more than once in one import")]
    DuplicateKey { key: String },
    #[error("stored {entity} {key} can no longer be read: {reason}")]
    InvalidStored { entity: &'static str, key: String, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle to the database; cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

/// One schema version as [`Store::migrate_status`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    /// Recorded as applied in this database.
    pub applied: bool,
    /// Part of this program (false: applied by a newer flsdb).
    pub known: bool,
}

/// The embedded migrations, `(version, description, sql)`, one list per backend. They must have
/// the same versions and descriptions (a test checks, and that every file is listed).
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, "accounts", include_str!("../migrations/sqlite/0002_accounts.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "accounts", include_str!("../migrations/postgres/0002_accounts.sql")),
];

/// How long a SQLite writer waits for another (a large import holds the write lock for seconds).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// A runaway PostgreSQL statement is cancelled after this; an import's statements are per chunk.
const PG_STATEMENT_TIMEOUT: &str = "300s";

impl Store {
    /// Opens (and creates, for a SQLite file) the database at `url` and brings its schema up to
    /// date. Accepts `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:`, a plain file path, and
    /// `postgres://…` / `postgresql://…`. Refuses a database migrated by a newer flsdb.
    pub async fn connect(url: &str) -> Result<Store> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?
                .application_name("flsdb")
                .options([("statement_timeout", PG_STATEMENT_TIMEOUT)]);
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            if path.contains("://") || path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            let pool = if path == ":memory:" {
                // Every connection to `:memory:` is its own empty database: keep exactly one,
                // forever.
                let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?
            } else {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // In WAL mode NORMAL cannot corrupt the database or lose a transaction to an
                    // application crash; only an OS crash may roll back the last commits.
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    // 256 MiB of page cache (allocated only as used): a million-row import
                    // updates four indexes at random places, and misses cost more than memory.
                    .pragma("cache_size", "-262144")
                    // Statement journals of the multi-row INSERTs stay in memory.
                    .pragma("temp_store", "memory");
                SqlitePoolOptions::new().max_connections(4).connect_with(options).await?
            };
            Db::Sqlite(pool)
        };
        let store = Store { db };
        store.migrate().await?;
        Ok(store)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        if self.db.is_postgres() { "postgres" } else { "sqlite" }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(&self.db, p => p.close().await)
    }

    fn migrations(&self) -> &'static [(i64, &'static str, &'static str)] {
        if self.db.is_postgres() { POSTGRES_MIGRATIONS } else { SQLITE_MIGRATIONS }
    }

    /// The newest schema version this program knows.
    pub fn schema_version(&self) -> i64 {
        self.migrations().iter().map(|m| m.0).max().unwrap_or(0)
    }

    async fn migrate(&self) -> Result<()> {
        let known = self.schema_version();
        if let Some(found) = self.applied_migrations().await?.iter().map(|m| m.0).max().filter(|v| *v > known) {
            return Err(StoreError::NewerSchema { found, known });
        }
        let migrator = Migrator::with_migrations(
            self.migrations()
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        (*description).into(),
                        MigrationType::Simple,
                        sqlx::SqlStr::from_static(sql),
                        false,
                    )
                })
                .collect(),
        );
        dispatch!(&self.db, p => migrator.run(p).await?);
        Ok(())
    }

    /// `(version, description)` of the migrations applied to this database, oldest first; empty
    /// for a new database.
    async fn applied_migrations(&self) -> Result<Vec<(i64, String)>> {
        let exists_sql = if self.db.is_postgres() {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        };
        let rows = self
            .db
            .in_read(async |tx| {
                if tx.fetch_optional(exists_sql, vec![], &[Kind::Text]).await?.is_none() {
                    return Ok(Vec::new());
                }
                let sql = "SELECT version, description FROM _sqlx_migrations WHERE success = TRUE ORDER BY version";
                tx.fetch(sql, vec![], &[Kind::Int, Kind::Text]).await
            })
            .await?;
        rows.iter().map(|row| Ok((row.int(0)?, row.text(1)?.to_owned()))).collect()
    }

    /// Every schema version known here or applied there, oldest first (for `flsdb migrate`).
    pub async fn migrate_status(&self) -> Result<Vec<MigrationState>> {
        let applied = self.applied_migrations().await?;
        let mut states: Vec<MigrationState> = self
            .migrations()
            .iter()
            .map(|(version, description, _)| MigrationState {
                version: *version,
                description: (*description).to_owned(),
                applied: applied.iter().any(|a| a.0 == *version),
                known: true,
            })
            .collect();
        for (version, description) in applied {
            if !states.iter().any(|s| s.version == version) {
                states.push(MigrationState { version, description, applied: true, known: false });
            }
        }
        states.sort_by_key(|s| s.version);
        Ok(states)
    }

    /// A number that changes whenever stored data changes (records, services, caseloads,
    /// opt-outs), for cache keys. Monotonic; not a count of anything.
    pub async fn data_version(&self) -> Result<i64> {
        let sql = "SELECT data_version FROM store_meta WHERE id = 1";
        self.db.in_read(async |tx| tx.fetch_one(sql, vec![], &[Kind::Int]).await?.int(0)).await
    }
}

/// Bumps [`Store::data_version`] inside a write transaction that changed something. Done last,
/// so on PostgreSQL the row lock it takes is held only until the commit that follows.
pub(crate) async fn bump_data_version(tx: &mut db::Tx) -> Result<()> {
    tx.execute("UPDATE store_meta SET data_version = data_version + 1 WHERE id = 1", vec![]).await?;
    Ok(())
}
