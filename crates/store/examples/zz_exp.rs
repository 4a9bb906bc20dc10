use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let per: usize = std::env::args().nth(2).map(|a| a.parse()).transpose()?.unwrap_or(500);
    let cols: usize = std::env::args().nth(3).map(|a| a.parse()).transpose()?.unwrap_or(42);
    let index: bool = std::env::args().nth(4).is_some_and(|a| a == "idx");
    let dir = tempfile::tempdir()?;
    let opts = SqliteConnectOptions::new()
        .filename(dir.path().join("x.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", "-65536");
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
    let colnames: Vec<String> = (0..cols).map(|i| format!("c{i}")).collect();
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, {})",
        colnames.iter().map(|c| format!("{c} TEXT")).collect::<Vec<_>>().join(", ")
    )))
    .execute(&pool)
    .await?;
    if index {
        sqlx::query("CREATE UNIQUE INDEX t_u ON t (c0, c1)").execute(&pool).await?;
        sqlx::query("CREATE INDEX t_a ON t (c0, c2)").execute(&pool).await?;
        sqlx::query("CREATE INDEX t_b ON t (c3)").execute(&pool).await?;
    }
    let tuple =
        |r: usize| format!("({})", (0..cols).map(|c| format!("?{}", r * cols + c + 1)).collect::<Vec<_>>().join(","));
    let sql =
        format!("INSERT INTO t ({}) VALUES {}", colnames.join(","), (0..per).map(tuple).collect::<Vec<_>>().join(","));
    let anon = format!(
        "INSERT INTO t ({}) VALUES {}",
        colnames.join(","),
        (0..per).map(|_| format!("({})", vec!["?"; cols].join(","))).collect::<Vec<_>>().join(",")
    );
    for (name, sql) in [("numbered", &sql), ("anon", &anon)] {
        sqlx::query("DELETE FROM t").execute(&pool).await?;
        let mut conn = pool.acquire().await?;
        let t = Instant::now();
        let mut tx = conn.begin().await?;
        let mut prep = std::time::Duration::ZERO;
        for chunk in 0..rows / per {
            let t1 = Instant::now();
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for r in 0..per {
                let id = chunk * per + r;
                for c in 0..cols {
                    q = q.bind(format!("v{id}-{c}"));
                }
            }
            prep += t1.elapsed();
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        println!(
            "{name}: {rows} rows, {per}/stmt, {cols} cols, idx {index}: {:.0} rows/s (bind prep {:?})",
            rows as f64 / t.elapsed().as_secs_f64(),
            prep
        );
    }
    Ok(())
}
