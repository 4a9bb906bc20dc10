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
//!   (and TRUNCATE on PostgreSQL) of the log; on PostgreSQL the application role `flsdb_app`
//!   (migration 4) has no UPDATE, DELETE or TRUNCATE right on it either.
//! * [`Store::data_version`] is a counter bumped by every committed change (not by no-op
//!   imports), for cache keys.

mod accounts;
#[cfg(test)]
mod accounts_tests;
mod audit;
mod bulk;
#[cfg(test)]
mod bulk_tests;
mod db;
mod feedback;
mod mapping;
pub mod qi;
mod read;
mod records;
mod registry;
mod settings;
mod sqlite_bulk;
#[cfg(test)]
mod tests;

pub use accounts::{LoginFailure, Role, SessionInfo, User};
pub use audit::{AuditEntry, AuditFilter};
pub use db::{ConnectOptions, sqlite_file};
pub use feedback::{Feedback, NewFeedback};
pub use records::{ImportOutcome, NewBatch, RecordFilter};
pub use registry::Changes;

use db::{Db, Kind, dispatch};
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite, called directly (the bulk insert of `sqlite_bulk`).
    #[error("database error: {message} (SQLite code {code})")]
    Sqlite { code: i32, message: String },
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
    /// The producer of an import's records called it off (an all-or-nothing import met an
    /// invalid row), or its future was dropped: everything was rolled back.
    #[error("the import was called off before its commit: nothing was written")]
    ImportCalledOff,
    #[error("record {key} appears more than once in one import")]
    DuplicateKey { key: String },
    #[error("stored {entity} {key} can no longer be read: {reason}")]
    InvalidStored { entity: &'static str, key: String, reason: String },
    /// An operation this backend or this situation does not support; the message says why.
    #[error("{0}")]
    Unsupported(String),
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
    (3, "feedback", include_str!("../migrations/sqlite/0003_feedback.sql")),
    (4, "app_role", include_str!("../migrations/sqlite/0004_app_role.sql")),
    (5, "settings", include_str!("../migrations/sqlite/0005_settings.sql")),
    (6, "qi", include_str!("../migrations/sqlite/0006_qi.sql")),
    (7, "record_key", include_str!("../migrations/sqlite/0007_record_key.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "accounts", include_str!("../migrations/postgres/0002_accounts.sql")),
    (3, "feedback", include_str!("../migrations/postgres/0003_feedback.sql")),
    (4, "app_role", include_str!("../migrations/postgres/0004_app_role.sql")),
    (5, "settings", include_str!("../migrations/postgres/0005_settings.sql")),
    (6, "qi", include_str!("../migrations/postgres/0006_qi.sql")),
    (7, "record_key", include_str!("../migrations/postgres/0007_record_key.sql")),
];

impl Store {
    /// Opens (and creates, for a SQLite file) the database at `url` with the default
    /// [`ConnectOptions`] and brings its schema up to date. Accepts `sqlite:PATH`,
    /// `sqlite://PATH`, `sqlite::memory:`, a plain file path, and `postgres://…` /
    /// `postgresql://…`. Refuses a database migrated by a newer flsdb.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, &ConnectOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool size, timeouts, and whether to migrate.
    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Store> {
        let store = Store { db: Db::open(url, options).await? };
        if options.migrate {
            store.migrate().await?;
        } else {
            store.refuse_newer().await?;
        }
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

    /// Fails with [`StoreError::NewerSchema`] for a database migrated by a newer flsdb; returns
    /// the versions applied.
    async fn refuse_newer(&self) -> Result<Vec<(i64, String)>> {
        let known = self.schema_version();
        let applied = self.applied_migrations().await?;
        if let Some(found) = applied.iter().map(|m| m.0).max().filter(|v| *v > known) {
            return Err(StoreError::NewerSchema { found, known });
        }
        Ok(applied)
    }

    /// Applies the migrations this database lacks; returns their versions (empty: it was up to
    /// date, and nothing was run, so a role without DDL rights can connect to a current
    /// database). Refuses a database migrated by a newer flsdb.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let applied = self.refuse_newer().await?;
        let pending: Vec<i64> =
            self.migrations().iter().map(|m| m.0).filter(|v| !applied.iter().any(|a| a.0 == *v)).collect();
        if pending.is_empty() {
            return Ok(pending);
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
        Ok(pending)
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
