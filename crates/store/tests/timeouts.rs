//! The timeouts set on connecting: a PostgreSQL statement stuck behind a lock is cancelled after
//! `statement_timeout`, a SQLite writer waiting for another's write lock gives up after
//! `busy_timeout`, and both come back as "unavailable" (the web answers 503), not as a bug.
//! Released in time, the same write goes through.

mod support;

use flsdb_store::{ConnectOptions, Store, StoreError};
use std::time::{Duration, Instant};
use support::{run_postgres, run_sqlite, service};

const SHORT: Duration = Duration::from_millis(500);

fn options() -> ConnectOptions {
    ConnectOptions { statement_timeout: SHORT, busy_timeout: SHORT, ..ConnectOptions::default() }
}

/// A write while another connection holds the lock `hold` takes: refused as unavailable after
/// about `SHORT`, not hanging and not a generic error.
async fn blocked_write(store: &Store) -> StoreError {
    let started = Instant::now();
    let err = store.upsert_services("test", &[service("NEW")]).await.expect_err("blocked by the other writer");
    let waited = started.elapsed();
    assert!(err.is_unavailable(), "a timeout is 'unavailable': {err}");
    assert!(waited >= SHORT / 2 && waited < Duration::from_secs(10), "gave up after {waited:?}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_timeout() {
    run_sqlite(options(), |store, url| async move {
        let other = sqlx::SqlitePool::connect(&url).await.expect("a second connection");
        let lock = other.begin_with("BEGIN IMMEDIATE").await.expect("take the write lock");
        let err = blocked_write(&store).await;
        assert!(err.to_string().contains("locked"), "{err}");
        lock.rollback().await.expect("release");
        store.upsert_services("test", &[service("NEW")]).await.expect("the write lock is free again");
        other.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statement_timeout() {
    run_postgres(options(), |store, url| async move {
        let other = sqlx::PgPool::connect(&url).await.expect("a second connection");
        let mut lock = other.begin().await.expect("begin");
        sqlx::query("LOCK TABLE services IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");
        let err = blocked_write(&store).await;
        assert!(err.to_string().contains("statement timeout"), "{err}");
        lock.rollback().await.expect("release");
        store.upsert_services("test", &[service("NEW")]).await.expect("the table is free again");
        other.close().await;
    })
    .await;
}
