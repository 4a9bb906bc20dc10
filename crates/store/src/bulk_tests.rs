//! Bulk import and bulk read paths (`bulk.rs`, `read.rs`) on both backends: imports larger than
//! one chunk and one statement, exact counts and audit lines, all-or-nothing on failures deep
//! inside a large import (also into an empty table, where secondary indexes are rebuilt), texts
//! that need escaping in COPY, and stored rows that no longer fit their types.

use crate::records::ANY_RECORD;
use crate::{AuditFilter, NewBatch, RecordFilter, Store, StoreError};
use flsdb_dataset::codes::{Sex, YesNo};
use flsdb_dataset::{Cells, Field, Record, Service, Validation, parse_record};
use time::macros::date;

const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };

/// More records than one import step (and so than several SQLite statements).
const MANY: usize = 2 * crate::records::IMPORT_CHUNK + 345;

fn record(service: &str, local_id: &str, i: usize) -> Record {
    let fields = [
        (Field::ServiceCode, service.to_owned()),
        (Field::LocalId, local_id.to_owned()),
        (Field::DateOfBirth, "1948-02-29".to_owned()),
        (Field::FractureDate, format!("2023-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
        (Field::FractureSite, ["hip", "wrist", "spine"][i % 3].to_owned()),
        (Field::Sex, ["female", "male", ""][i % 3].to_owned()),
        (Field::HeightCm, if i.is_multiple_of(4) { String::new() } else { format!("{}.{}", 150 + i % 40, i % 10) }),
        (Field::OtherFractureSites, if i.is_multiple_of(5) { "pelvis;humerus".to_owned() } else { String::new() }),
        (Field::BoneTherapyRecommended, ["alendronate;denosumab", "not_indicated", ""][i % 3].to_owned()),
    ];
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (field, value) in &fields {
        cells[field.index()] = value;
    }
    match parse_record(&cells, RULES) {
        Ok(valid) => valid.record,
        Err(problems) => panic!("test record is invalid: {problems:?}"),
    }
}

fn many(n: usize) -> Vec<Record> {
    (0..n).map(|i| record(if i % 3 == 0 { "XYZ" } else { "BNT" }, &format!("r{i}"), i)).collect()
}

fn batch(file: &str) -> NewBatch {
    NewBatch { actor: "bulk tester".into(), file_name: Some(file.into()), mode: "csv".into() }
}

async fn with_services(store: &Store) {
    let service = |code: &str| {
        Service::parse([code, code, "England", "London", "NCL", "", "hospital", "400", ""]).expect("valid service")
    };
    store.upsert_services("tester", &[service("BNT"), service("XYZ")]).await.expect("services");
}

async fn audit_count(store: &Store, action: &str) -> usize {
    let filter = AuditFilter { entity: Some("record".into()), ..Default::default() };
    store.audit_log(&filter).await.expect("audit").iter().filter(|l| l.action == action).count()
}

/// The named indexes of the two bulk-written tables (the schema's, whichever the backend).
async fn indexes(store: &Store) -> Vec<String> {
    let sql = if store.backend() == "postgres" {
        "SELECT indexname::text FROM pg_indexes WHERE tablename IN ('records', 'audit_log') ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('records', 'audit_log') ORDER BY 1"
    };
    let rows =
        store.db.in_read(async |tx| tx.fetch(sql, vec![], &[crate::db::Kind::Text]).await).await.expect("indexes");
    rows.iter().map(|r| r.text(0).expect("name").to_owned()).collect()
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    crate::tests::run_sqlite(super::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    crate::tests::run_postgres(super::$name).await
                }
            }
        )*
    };
}

on_both_backends!(bulk_counts_and_audit, bulk_all_or_nothing, bulk_texts_round_trip, stored_rows_are_checked);

async fn bulk_counts_and_audit(store: Store, _url: String) {
    with_services(&store).await;
    let before = indexes(&store).await;
    let first = many(MANY);
    let out = store.import_records(&batch("first.csv"), &first).await.expect("first import");
    assert_eq!((out.inserted, out.updated, out.unchanged), (MANY as u64, 0, 0));
    assert_eq!(store.record_count().await.expect("count"), MANY as u64);
    assert_eq!(audit_count(&store, "insert").await, MANY);
    assert_eq!(indexes(&store).await, before, "indexes dropped for the bulk load are back");
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), first, "in import order");

    // Every third record changed, every third unchanged, and as many new ones, in a file order
    // that mixes them.
    let mut second = Vec::new();
    let mut expected = first.clone();
    let (mut updated, mut unchanged) = (0, 0);
    for (i, r) in first.iter().enumerate() {
        match i % 3 {
            0 => {
                let mut changed = r.clone();
                changed.care_home = Some(YesNo::Unknown);
                changed.sex = if r.sex == Some(Sex::Other) { None } else { Some(Sex::Other) };
                expected[i] = changed.clone();
                second.push(changed);
                updated += 1;
            }
            1 => {
                second.push(r.clone());
                unchanged += 1;
            }
            _ => {}
        }
        if i % 3 == 2 {
            let new = record("BNT", &format!("new{i}"), i);
            second.push(new.clone());
            expected.push(new);
        }
    }
    let inserted = second.len() - updated - unchanged;
    assert!(updated > crate::bulk::SQLITE_ROWS && inserted > crate::bulk::SQLITE_ROWS);
    let dry = store.import_records_dry_run(&second).await.expect("dry run");
    assert_eq!((dry.inserted, dry.updated, dry.unchanged), (inserted as u64, updated as u64, unchanged as u64));
    let out = store.import_records(&batch("second.csv"), &second).await.expect("second import");
    assert_eq!((out.inserted, out.updated, out.unchanged), (inserted as u64, updated as u64, unchanged as u64));
    assert_eq!(store.record_count().await.expect("count"), (MANY + inserted) as u64);
    assert_eq!(audit_count(&store, "insert").await, MANY + inserted);
    assert_eq!(audit_count(&store, "update").await, updated);
    // Records come back oldest first: the first import's (some replaced in place), then the new.
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), expected);

    let filter = AuditFilter { entity_key: Some("XYZ/r0".into()), ..Default::default() };
    let lines = store.audit_log(&filter).await.expect("audit");
    assert_eq!(lines.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(), ["update", "insert"]);
    assert_eq!(lines[0].batch_id, out.batch_id);
    assert_eq!(lines[0].actor, "bulk tester");
    let before: serde_json::Value = serde_json::from_str(lines[0].before.as_deref().expect("before")).expect("json");
    let after: serde_json::Value = serde_json::from_str(lines[0].after.as_deref().expect("after")).expect("json");
    assert_eq!(before, serde_json::json!({"sex": "female", "care_home": null}));
    assert_eq!(after, serde_json::json!({"sex": "other", "care_home": "unknown"}));
    let (stored, version) =
        store.get_record(&expected[0].service_code, &expected[0].local_id).await.expect("get").expect("exists");
    assert_eq!((stored, version), (expected[0].clone(), 2));

    // The same file once more changes nothing.
    let again = store.import_records(&batch("second.csv"), &second).await.expect("third import");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, second.len() as u64));
}

async fn bulk_all_or_nothing(store: Store, _url: String) {
    with_services(&store).await;
    let before = indexes(&store).await;
    let version = store.data_version().await.expect("version");
    let lines = store.audit_log(&AuditFilter::default()).await.expect("audit").len();
    let nothing_changed = |store: Store, records: u64| {
        let before = before.clone();
        async move {
            assert_eq!(store.record_count().await.expect("count"), records);
            assert_eq!(indexes(&store).await, before, "the indexes are as they were");
            let any = store.db.in_read(async |tx| tx.fetch(ANY_RECORD, vec![], &[crate::db::Kind::Int]).await);
            assert_eq!(any.await.expect("read").len(), usize::from(records > 0));
        }
    };

    // Into an empty table, a database error in the last step, after earlier steps went in.
    let mut records = many(MANY);
    records[MANY - 5].refractures = Some(25);
    let err = store.import_records(&batch("a.csv"), &records).await.expect_err("check constraint");
    assert!(matches!(err, StoreError::Database(_) | StoreError::Sqlite { .. }), "{err}");
    nothing_changed(store.clone(), 0).await;
    assert_eq!(store.audit_log(&AuditFilter::default()).await.expect("audit").len(), lines);
    assert_eq!(store.data_version().await.expect("version"), version);

    // A repeated key deep in the file.
    let mut records = many(MANY);
    records[MANY - 1] = records[3].clone();
    let err = store.import_records(&batch("a.csv"), &records).await.expect_err("duplicate");
    assert!(matches!(err, StoreError::DuplicateKey { .. }), "{err}");
    nothing_changed(store.clone(), 0).await;

    // Into a filled table: updates and inserts of earlier steps are undone too.
    let first = many(MANY);
    store.import_records(&batch("a.csv"), &first).await.expect("import");
    let lines = store.audit_log(&AuditFilter::default()).await.expect("audit").len();
    let mut second: Vec<Record> = first
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.care_home = Some(YesNo::Yes);
            r
        })
        .chain((0..1000).map(|i| record("XYZ", &format!("extra{i}"), i)))
        .collect();
    let last = second.len() - 1;
    second[last].refractures = Some(30);
    let err = store.import_records(&batch("b.csv"), &second).await.expect_err("check constraint");
    assert!(matches!(err, StoreError::Database(_) | StoreError::Sqlite { .. }), "{err}");
    nothing_changed(store.clone(), MANY as u64).await;
    assert_eq!(store.audit_log(&AuditFilter::default()).await.expect("audit").len(), lines);
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), first);
}

async fn bulk_texts_round_trip(store: Store, _url: String) {
    with_services(&store).await;
    // Texts COPY's text format must escape (backslashes, `\N`), quotes, and non-ASCII.
    let ids = ["back\\slash", "\\N", "quote'd \"id\"", "ünïcode ✓", "semi;colon", "comma,id", "  "];
    let records: Vec<Record> =
        ids.iter().enumerate().filter(|(_, id)| !id.trim().is_empty()).map(|(i, id)| record("BNT", id, i)).collect();
    store.import_records(&batch("texts.csv"), &records).await.expect("import");
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), records);
    for r in &records {
        let (stored, _) = store.get_record(&r.service_code, &r.local_id).await.expect("get").expect("exists");
        assert_eq!(&stored, r);
    }
}

async fn stored_rows_are_checked(store: Store, _url: String) {
    with_services(&store).await;
    store.import_records(&batch("a.csv"), &many(10)).await.expect("import");
    // Something other than flsdb wrote a value no record can have: reading refuses it.
    store.execute_raw("UPDATE records SET sex = 'sometimes' WHERE local_id = 'r4'").await.expect("corrupt");
    let err = store.records(&RecordFilter::default()).await.expect_err("invalid stored row");
    assert!(
        matches!(err, StoreError::InvalidStored { ref key, ref reason, .. } if key == "BNT/r4" && reason.contains("sex")),
        "{err}"
    );
    store
        .execute_raw("UPDATE records SET sex = NULL, fracture_site = 'knee' WHERE local_id = 'r4'")
        .await
        .expect("corrupt");
    let err = store.records(&RecordFilter::default()).await.expect_err("invalid stored row");
    assert!(matches!(err, StoreError::InvalidStored { .. }), "{err}");
}

on_both_backends!(key_migration_keeps_records);

// SQLite only: the bulk-insert thread is SQLite's. (On PostgreSQL, sqlx 0.9 can leave a pooled
// connection unable to BEGIN after an import future is dropped mid-statement; the web runs
// uploads to the end on a thread of their own, so nothing there cancels an import.)
#[tokio::test]
async fn cancelled_import_leaves_nothing_sqlite() {
    crate::tests::run_sqlite(cancelled_import_leaves_nothing).await
}

/// An import whose future is dropped part-way (a client gone, a timeout) is all or nothing,
/// wherever it stopped: on SQLite that includes the middle of a write on the bulk-insert thread,
/// which must not go on writing once the transaction is rolled back. (Dropped while its COMMIT is
/// under way, an import may still commit, as with any database client.)
async fn cancelled_import_leaves_nothing(store: Store, _url: String) {
    with_services(&store).await;
    let records = many(MANY);
    let mut budget = std::time::Duration::from_micros(200);
    loop {
        let run = tokio::time::timeout(budget, store.import_records(&batch("a.csv"), &records)).await;
        if let Ok(outcome) = &run {
            assert_eq!(outcome.as_ref().expect("import").inserted, MANY as u64);
        }
        // An empty import waits for the write lock, so whatever the dropped import left queued
        // (its rollback, or a commit already sent) has happened.
        store.import_records(&batch("empty.csv"), Vec::<Record>::new()).await.expect("empty import");
        let count = store.record_count().await.expect("count");
        let lines = audit_count(&store, "insert").await;
        assert!(
            (count, lines) == (0, 0) || (count, lines) == (MANY as u64, MANY),
            "after {budget:?}: {count} records and {lines} insert lines"
        );
        if count > 0 {
            break;
        }
        assert!(run.is_err(), "an import that finished left nothing");
        budget = budget * 3 / 2;
    }
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), records);
}

/// Migration 7 (the record key as a unique index, no NHS number index) on a database holding
/// records in the earlier shape: the records stay, the key stays unique, the indexes are those
/// of a new database.
async fn key_migration_keeps_records(store: Store, _url: String) {
    with_services(&store).await;
    let fresh = indexes(&store).await;
    let earlier_shape: Vec<String> = if store.backend() == "postgres" {
        vec![
            "DROP INDEX records_key".into(),
            "ALTER TABLE records ADD CONSTRAINT records_service_code_local_id_key UNIQUE (service_code, local_id)"
                .into(),
            "CREATE INDEX records_nhs_number ON records (nhs_number)".into(),
        ]
    } else {
        let initial = include_str!("../migrations/sqlite/0001_initial.sql");
        let table = initial
            .find("CREATE TABLE records (")
            .and_then(|start| initial[start..].find("\n);").map(|end| &initial[start..start + end + 3]))
            .expect("records in migration 1");
        vec![
            "DROP TABLE records".into(),
            table.into(),
            "CREATE INDEX records_service_fracture ON records (service_code, fracture_date)".into(),
            "CREATE INDEX records_nhs_number ON records (nhs_number)".into(),
        ]
    };
    // One transaction, so one connection: another pooled SQLite connection may still hold the
    // schema as it was before the DROP when it prepares the next statement.
    let reshape = store.db.in_write(async |tx| {
        for sql in &earlier_shape {
            tx.execute(sql, vec![]).await?;
        }
        Ok(())
    });
    reshape.await.expect("earlier shape");
    store.execute_raw("DELETE FROM _sqlx_migrations WHERE version = 7").await.expect("forget migration 7");
    let records = many(100);
    store.import_records(&batch("a.csv"), &records).await.expect("import into the earlier shape");
    assert_ne!(indexes(&store).await, fresh, "the earlier shape has other indexes");

    assert_eq!(store.migrate().await.expect("migrate"), vec![7]);
    assert_eq!(indexes(&store).await, fresh);
    assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), records);
    let again = store.execute_raw(
        "INSERT INTO records (service_code, local_id, date_of_birth, fracture_date, fracture_site, row_hash, \
         created_at, updated_at) SELECT service_code, local_id, date_of_birth, fracture_date, fracture_site, 0, \
         created_at, updated_at FROM records WHERE local_id = 'r7'",
    );
    assert!(again.await.is_err(), "a stored key given again is refused");
}
