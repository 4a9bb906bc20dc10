//! PostgreSQL: the audit log is append-only by privilege, not only by trigger. Connected as an
//! application login (a member of `flsdb_app`, as the README's deployment has it), the store
//! works, and UPDATE, DELETE and TRUNCATE of `audit_log` are refused by the database itself.
//! (The triggers, which also stop the table's owner, are tested on both backends in the crate's
//! own tests.) SQLite has no roles: there the triggers and the file's permissions are the guard.

mod support;

use flsdb_store::{AuditFilter, ConnectOptions, NewBatch, Store};
use support::{PgDatabase, minimal, service, with_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_application_role_cannot_change_the_audit_log() {
    let Some(db) = PgDatabase::create("flsdb_role").await else { return };
    // Roles belong to the cluster: a unique login per test, dropped at the end.
    let login = db.name.replace("flsdb_role", "flsdb_app_login");
    let admin = sqlx::PgPool::connect(&db.admin_url).await.expect("connect as admin");
    let outcome = tokio::spawn(check(db.url.clone(), login.clone())).await;
    db.drop_database().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {login}"))).execute(&admin).await.expect("drop role");
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn check(owner_url: String, login: String) {
    // The owner (here the test server's superuser) migrates; migration 4 sets up flsdb_app.
    let owner = Store::connect(&owner_url).await.expect("migrate as the owner");
    owner.upsert_services("owner", &[service("BNT")]).await.expect("services");
    let owner_pool = sqlx::PgPool::connect(&owner_url).await.expect("raw owner connection");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {login} LOGIN IN ROLE flsdb_app")))
        .execute(&owner_pool)
        .await
        .expect("create the application login");
    owner_pool.close().await;

    // The application, logged in as that role: connecting needs no DDL (the schema is current)
    // and everything it does works, including writing the audit log.
    let app_url = with_database(&owner_url, owner_url.rsplit('/').next().expect("name"), Some(&login));
    let app = Store::connect_with(&app_url, &ConnectOptions::default()).await.expect("connect as the app role");
    // The first load into the empty `records` table too: the bulk path drops and rebuilds only
    // the indexes its role owns (none here), so it works without owning the table.
    let batch = NewBatch { actor: "app".into(), file_name: None, mode: "test".into() };
    app.import_records(&batch, [minimal("BNT", "1")]).await.expect("first import as the app role");
    app.import_records(&batch, [minimal("BNT", "0")]).await.expect("a second import as the app role");
    let (code, id) =
        (flsdb_dataset::ServiceCode::parse("BNT").expect("c"), flsdb_dataset::LocalId::parse("1").expect("i"));
    let (mut record, version) = app.get_record(&code, &id).await.expect("read").expect("exists");
    record.frax_major = Some(12.5);
    app.update_record("app", &record, version).await.expect("edit as the app role");
    let lines = app.audit_log(&AuditFilter::default()).await.expect("read the audit log").len();
    assert!(lines >= 5, "service, import and edit lines");
    assert!(app.migrate_status().await.expect("status").iter().all(|m| m.applied));
    app.close().await;

    // The same role, by hand: the log cannot be changed, emptied or have its history rewritten.
    let raw = sqlx::PgPool::connect(&app_url).await.expect("raw app connection");
    for sql in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM _sqlx_migrations",
        // Batches are history the log refers to (by privilege, not a foreign key: migration 7).
        "DELETE FROM import_batches",
        "TRUNCATE import_batches",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&raw).await.expect_err(sql);
        let message = err.to_string();
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "{sql}: refused by privilege, not only by the trigger: {message}"
        );
    }
    let (update, delete, truncate, insert, select): (bool, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT has_table_privilege('audit_log', 'UPDATE'), has_table_privilege('audit_log', 'DELETE'), \
         has_table_privilege('audit_log', 'TRUNCATE'), has_table_privilege('audit_log', 'INSERT'), \
         has_table_privilege('audit_log', 'SELECT')",
    )
    .fetch_one(&raw)
    .await
    .expect("privileges");
    assert_eq!((update, delete, truncate, insert, select), (false, false, false, true, true));
    raw.close().await;

    let after = owner.audit_log(&AuditFilter::default()).await.expect("audit").len();
    assert_eq!(after, lines, "nothing was removed");
    owner.close().await;
}
