//! Backends for the store's integration tests: SQLite in a temporary folder, and PostgreSQL in a
//! fresh database per test when `FLSDB_TEST_POSTGRES_URL` is set (without it the PostgreSQL half
//! is skipped with a message, unless `CI` is set, where a skip would hide a gap and so fails).

#![allow(dead_code)] // each test binary uses its own part

use flsdb_dataset::{Cells, Field, Record, Service, Validation, parse_record};
use flsdb_store::{ConnectOptions, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use time::macros::date;

pub const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };

pub fn minimal(service: &str, local_id: &str) -> Record {
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (name, value) in [
        ("service_code", service),
        ("local_id", local_id),
        ("date_of_birth", "1950-03-04"),
        ("fracture_date", "2023-01-05"),
        ("fracture_site", "wrist"),
    ] {
        cells[Field::from_header(name).expect("known field").index()] = value;
    }
    match parse_record(&cells, RULES) {
        Ok(valid) => valid.record,
        Err(problems) => panic!("test record is invalid: {problems:?}"),
    }
}

pub fn service(code: &str) -> Service {
    Service::parse([code, code, "England", "London", "NCL", "", "hospital", "", ""]).expect("valid service")
}

pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("FLSDB_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but FLSDB_TEST_POSTGRES_URL is not: the PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!(
                "skipping the PostgreSQL half: set FLSDB_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `name` (and its user by `user`, if given).
pub fn with_database(url: &str, name: &str, user: Option<&str>) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let (authority, _) = base[authority_start..].split_once('/').unwrap_or((&base[authority_start..], ""));
    let authority = match user {
        Some(user) => format!("{user}@{}", authority.rsplit_once('@').map_or(authority, |(_, host)| host)),
        None => authority.to_owned(),
    };
    let url = format!("{}{authority}/{name}", &base[..authority_start]);
    match query {
        Some(q) => format!("{url}?{q}"),
        None => url,
    }
}

/// A fresh PostgreSQL database, dropped (with every connection to it) when this is dropped.
pub struct PgDatabase {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(prefix: &str) -> Option<PgDatabase> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin_url = postgres_admin_url()?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("{prefix}_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to the PostgreSQL test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create db");
        admin.close().await;
        let url = with_database(&admin_url, &name, None);
        Some(PgDatabase { admin_url, name, url })
    }

    pub async fn drop_database(self) {
        let admin = sqlx::PgPool::connect(&self.admin_url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name)))
            .execute(&admin)
            .await
            .expect("drop database");
        admin.close().await;
    }
}

/// Runs `body` on a fresh SQLite file.
pub async fn run_sqlite<F, Fut>(options: ConnectOptions, body: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("flsdb.db").display());
    let store = Store::connect_with(&url, &options).await.expect("connect to SQLite");
    body(store.clone(), url).await;
    store.close().await;
}

/// Runs `body` on a fresh PostgreSQL database (skipped without one, see the module docs).
pub async fn run_postgres<F, Fut>(options: ConnectOptions, body: F)
where
    F: FnOnce(Store, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = PgDatabase::create("flsdb_ops").await else { return };
    let url = db.url.clone();
    // The body runs as its own task so a failing test still drops its database.
    let outcome = tokio::spawn(async move {
        let store = Store::connect_with(&url, &options).await.expect("connect to PostgreSQL");
        body(store.clone(), url).await;
        store.close().await;
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
