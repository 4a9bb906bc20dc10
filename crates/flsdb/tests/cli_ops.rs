//! The operational commands: `flsdb migrate [--check]` (and every command refusing a database
//! migrated by a newer flsdb), `flsdb backup`, and restore drills: the KPI table after a
//! restore equals the one before (SQLite with `flsdb backup`; PostgreSQL with pg_dump and
//! pg_restore, as the README says, when a server is configured).

mod common;

use common::Workspace;
use std::io::BufRead;
use std::process::{Command, Output, Stdio};

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Raw SQL on a SQLite file, for states no flsdb command makes.
fn sqlite_exec(path: &std::path::Path, sql: &str) {
    let url = format!("sqlite:{}", path.display());
    let sql = sql.to_owned();
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async move {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("raw SQL");
        pool.close().await;
    });
}

#[test]
fn migrate_check_and_run_on_sqlite() {
    let ws = Workspace::empty();
    let db = ws.path("audit.sqlite");

    // No database yet: --check says so (status 1) and creates nothing.
    let out = ws.run(&["migrate", "--check"]);
    assert_eq!(code(&out), Some(1), "{:?}", text(&out));
    assert!(text(&out).0.contains("no database"), "{:?}", text(&out));
    assert!(!db.exists(), "a check creates nothing");

    let out = ws.run(&["migrate"]);
    assert_eq!(code(&out), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("created a new sqlite database"), "{:?}", text(&out));
    let out = ws.run(&["migrate", "--check"]);
    assert_eq!(code(&out), Some(0), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    assert!(stdout.lines().last().is_some_and(|l| l.contains("up to date")), "{stdout}");
    assert!(stdout.contains("app_role") && !stdout.contains("pending"), "{stdout}");
    let out = ws.run(&["migrate"]);
    assert!(text(&out).0.contains("already up to date"), "{:?}", text(&out));

    // An older database (as if made before migration 4): --check lists it as pending, status 1;
    // migrate applies it.
    sqlite_exec(&db, "DELETE FROM _sqlx_migrations WHERE version = 4");
    let out = ws.run(&["migrate", "--check"]);
    assert_eq!(code(&out), Some(1), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    assert!(stdout.lines().any(|l| l.contains("app_role") && l.contains("pending")), "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.contains("pending (4)")), "{stdout}");
    let out = ws.run(&["migrate"]);
    assert_eq!(code(&out), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("applied    4  app_role"), "{:?}", text(&out));
    assert_eq!(code(&ws.run(&["migrate", "--check"])), Some(0));

    // A database from a newer flsdb: every command refuses it at start-up, status 2.
    sqlite_exec(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         SELECT 9999, 'from the future', TRUE, checksum, 0 FROM _sqlx_migrations WHERE version = 1",
    );
    for args in [&["migrate", "--check"][..], &["migrate"], &["kpi"], &["serve", "--bind", "127.0.0.1:0"]] {
        let out = ws.run(args);
        assert_eq!(code(&out), Some(2), "{args:?}: {:?}", text(&out));
        assert!(text(&out).1.contains("newer flsdb"), "{args:?}: {:?}", text(&out));
    }
}

/// A workspace whose database holds synthetic data, and its KPI table.
fn loaded() -> (Workspace, String) {
    let ws = Workspace::empty();
    let data = ws.synth(3000, 11);
    ws.ok(&["import", "services", &format!("{data}/services.csv")]);
    ws.ok(&["import", "opt-outs", &format!("{data}/opt_outs.txt")]);
    ws.ok(&["import", "records", &format!("{data}/records.csv")]);
    (ws, data)
}

const KPI: [&str; 7] = ["kpi", "--year", "2022", "--as-of", "2024-06-30", "--format", "json"];

fn kpi(ws: &Workspace, db: &str) -> serde_json::Value {
    let out = ws.ok(&[&KPI[..], &["--db", db]].concat());
    serde_json::from_str(&out).expect("KPI JSON")
}

#[test]
fn sqlite_backup_while_serving_and_restore_drill() {
    let (ws, _) = loaded();
    let live = ws.path("audit.sqlite").display().to_string();
    let before = kpi(&ws, &live);
    assert!(before["overall"]["records"].as_u64().is_some_and(|n| n > 0), "{before}");

    // The server runs (its pool holds the database open, WAL mode) while the backup is taken.
    let mut server = ws
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let mut stderr = std::io::BufReader::new(server.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(stderr.read_line(&mut line).expect("read") > 0, "serve exited before it was ready");
    }
    let backup = ws.path("backup.sqlite");
    let out = ws.run(&["backup", "--out", backup.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(0), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    assert!(stdout.contains("backup written to") && stdout.contains(" records, schema version"), "{stdout}");
    // Never over an existing file.
    let out = ws.run(&["backup", "--out", backup.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(2), "{:?}", text(&out));
    assert!(text(&out).1.contains("already exists"), "{:?}", text(&out));
    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    assert!(server.wait().expect("wait").success());

    // Restore drill: the backup file alone, put in place of a database, gives the same table.
    let restored = ws.path("restored/audit.sqlite");
    std::fs::create_dir_all(restored.parent().expect("folder")).expect("mkdir");
    std::fs::copy(&backup, &restored).expect("restore the file");
    let restored = restored.display().to_string();
    assert_eq!(code(&ws.run(&["migrate", "--check", "--db", &restored])), Some(0));
    assert_eq!(kpi(&ws, &restored), before, "KPIs after restore equal those before");
    assert_eq!(ws.ok(&["export", "records", "--db", &restored]), ws.ok(&["export", "records", "--db", &live]));
}

#[test]
fn backup_of_postgres_explains_pg_dump() {
    let ws = Workspace::empty();
    let out = ws.run(&["backup", "--db", "postgres://flsdb@db.invalid/flsdb", "--out", "x.dump"]);
    assert_eq!(code(&out), Some(1), "{:?}", text(&out));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("pg_dump") && stderr.contains("pg_restore"), "{stderr}");
    assert!(!ws.path("x.dump").exists());
}

/// The PostgreSQL server's admin URL, or `None` (skipped, with a message; a failure under CI).
fn postgres_url() -> Option<String> {
    match std::env::var("FLSDB_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("CI is set but FLSDB_TEST_POSTGRES_URL is not"),
        _ => {
            eprintln!("skipping the PostgreSQL half: set FLSDB_TEST_POSTGRES_URL");
            None
        }
    }
}

fn psql(admin_url: &str, sql: &str) {
    let out = Command::new("psql").args([admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql]).output().expect("run psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

fn database_url(admin_url: &str, name: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

/// Fresh databases on the test server, dropped at the end even if the test fails.
struct Databases {
    admin_url: String,
    names: Vec<String>,
}

impl Databases {
    fn create(&mut self, label: &str) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("flsdb_cli_{label}_{}_{nanos}", std::process::id());
        psql(&self.admin_url, &format!("CREATE DATABASE {name}"));
        self.names.push(name.clone());
        database_url(&self.admin_url, &name)
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("psql")
                .args([&self.admin_url, "-qc", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                .output();
        }
    }
}

#[test]
fn postgres_migrate_and_restore_drill() {
    let Some(admin_url) = postgres_url() else { return };
    if Command::new("pg_dump").arg("--version").output().is_err() && std::env::var_os("CI").is_none() {
        eprintln!("skipping the PostgreSQL restore drill: pg_dump is not installed");
        return;
    }
    let mut dbs = Databases { admin_url, names: Vec::new() };
    let live = dbs.create("live");

    // A new, empty database: everything pending (status 1); migrate; then up to date.
    let ws = Workspace::empty();
    let out = ws.run(&["migrate", "--check", "--db", &live]);
    assert_eq!(code(&out), Some(1), "{:?}", text(&out));
    assert!(text(&out).0.contains("postgres database:"), "{:?}", text(&out));
    let out = ws.run(&["migrate", "--db", &live]);
    assert_eq!(code(&out), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("applied    1  initial"), "{:?}", text(&out));
    assert_eq!(code(&ws.run(&["migrate", "--check", "--db", &live])), Some(0));

    let data = ws.synth(3000, 12);
    for (what, file) in [("services", "services.csv"), ("opt-outs", "opt_outs.txt"), ("records", "records.csv")] {
        ws.ok(&["import", what, &format!("{data}/{file}"), "--db", &live]);
    }
    let before = kpi(&ws, &live);
    assert!(before["overall"]["records"].as_u64().is_some_and(|n| n > 0), "{before}");

    // The README's procedure: pg_dump, a new database, pg_restore.
    let dump = ws.path("flsdb.dump");
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--file", dump.to_str().expect("utf-8"), &live])
        .output()
        .expect("pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let restored = dbs.create("restored");
    let out = Command::new("pg_restore")
        .args(["--exit-on-error", "--dbname", &restored, dump.to_str().expect("utf-8")])
        .output()
        .expect("pg_restore");
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(code(&ws.run(&["migrate", "--check", "--db", &restored])), Some(0));
    assert_eq!(kpi(&ws, &restored), before, "KPIs after restore equal those before");
}
