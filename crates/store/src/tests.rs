//! The same test bodies run against SQLite (a temporary file) and PostgreSQL (a fresh database
//! per test, when `FLSDB_TEST_POSTGRES_URL` is set; without it the PostgreSQL half is skipped,
//! unless `CI` is set, where a skip would hide a gap and so fails).

use super::*;
use crate::db::Value;
use crate::mapping::{kind, to_values};
use flsdb_dataset::{
    Caseloads, Cells, Field, LocalId, NhsNumber, Record, Service, ServiceCode, Validation, parse_record,
};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::macros::date;

const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };

fn record(fields: &[(&str, &str)]) -> Record {
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (name, value) in fields {
        cells[Field::from_header(name).expect("known field").index()] = value;
    }
    match parse_record(&cells, RULES) {
        Ok(valid) => valid.record,
        Err(problems) => panic!("test record is invalid: {problems:?}"),
    }
}

fn minimal(service: &str, local_id: &str) -> Record {
    record(&[
        ("service_code", service),
        ("local_id", local_id),
        ("date_of_birth", "1950-03-04"),
        ("fracture_date", "2023-01-05"),
        ("fracture_site", "wrist"),
    ])
}

/// A record with every field set.
fn full(service: &str, local_id: &str) -> Record {
    record(&[
        ("service_code", service),
        ("local_id", local_id),
        ("nhs_number", "9434765919"),
        ("date_of_birth", "1950-03-04"),
        ("sex", "female"),
        ("postcode", "sw1a1aa"),
        ("care_home", "no"),
        ("fls_contact_date", "2023-01-10"),
        ("fls_assessment_date", "2023-01-20"),
        ("admitted", "inpatient"),
        ("fracture_date", "2023-01-05"),
        ("fracture_identification", "clinical"),
        ("fracture_site", "hip"),
        ("other_fracture_sites", "wrist;spine"),
        ("height_cm", "162.5"),
        ("weight_kg", "60.25"),
        ("previous_fracture", "yes"),
        ("parental_hip_fracture", "unknown"),
        ("smoker", "ex"),
        ("on_bone_therapy", "no"),
        ("falls_history", "two_or_more"),
        ("dxa", "ordered"),
        ("dxa_date", "2023-02-01"),
        ("t_score", "-2.5"),
        ("frax_major", "23.4"),
        ("bone_therapy_recommended", "teriparatide;denosumab"),
        ("calcium_vitd_recommended", "yes"),
        ("falls_assessment", "done"),
        ("followup16", "yes"),
        ("followup16_date", "2023-04-20"),
        ("followup16_by", "fls"),
        ("therapy_16w", "teriparatide"),
        ("strength_balance_16w", "yes"),
        ("calcium_vitd_16w", "yes"),
        ("followup52", "yes"),
        ("followup52_date", "2023-12-20"),
        ("followup52_by", "gp"),
        ("therapy_52w", "informed_decline"),
        ("refractures", "2"),
        ("refracture_sites", "humerus;pelvis"),
        ("death_date", "2024-06-01"),
    ])
}

fn service(code: &str, name: &str) -> Service {
    Service::parse([code, name, "England", "London", "NCL", "", "hospital", "400", "85.5"]).expect("valid service")
}

fn batch(file: &str) -> NewBatch {
    NewBatch { actor: "tester".into(), file_name: Some(file.into()), mode: "csv".into() }
}

/// Valid NHS numbers in the test range: the one check digit that works for each prefix.
fn nhs_numbers(count: usize) -> Vec<NhsNumber> {
    (943_000_000u64..)
        .filter_map(|n| (0..10).find_map(|d| NhsNumber::parse(&format!("{n}{d}"), true).ok()))
        .take(count)
        .collect()
}

async fn with_services(store: &Store) {
    store.upsert_services("tester", &[service("BNT", "Barnet"), service("XYZ", "Xyz")]).await.expect("services");
}

async fn audit(store: &Store, entity: &str) -> Vec<AuditEntry> {
    store.audit_log(&AuditFilter { entity: Some(entity.into()), ..Default::default() }).await.expect("audit log")
}

fn json(text: &Option<String>) -> serde_json::Value {
    serde_json::from_str(text.as_deref().expect("has json")).expect("valid json")
}

#[cfg(test)]
impl Store {
    /// Raw SQL for tests that must do what the API never does.
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<u64> {
        self.db.in_write(async |tx| tx.execute(sql, vec![]).await).await
    }
}

// ---------------------------------------------------------------------------------------------
// Backends

pub(crate) async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("flsdb.db").display());
    let store = Store::connect(&url).await.expect("connect to SQLite");
    body(store.clone(), url).await;
    store.close().await;
}

fn postgres_url() -> Option<String> {
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

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub(crate) async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let Some(admin_url) = postgres_url() else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("flsdb_test_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to the PostgreSQL test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    let url = with_database(&admin_url, &name);
    // Run the body as its own task so a failing test still drops its database.
    let outcome = tokio::spawn(async move {
        let store = Store::connect(&url).await.expect("connect to PostgreSQL");
        body(store.clone(), url).await;
        store.close().await;
    })
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&admin)
        .await
        .expect("drop database");
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// For each test body `name`, a module `name` with a `sqlite` and a `postgres` test.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::run_sqlite(super::bodies::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::run_postgres(super::bodies::$name).await
                }
            }
        )*
    };
}

on_both_backends!(
    migrations,
    import_counts,
    round_trip,
    all_or_nothing,
    audit_is_append_only,
    optimistic_concurrency,
    opt_outs,
    registry,
    newer_schema_is_refused,
    chunked_reads,
);

mod bodies {
    use super::*;

    pub async fn migrations(store: Store, url: String) {
        let status = store.migrate_status().await.expect("status");
        assert!(!status.is_empty());
        assert!(status.iter().all(|m| m.applied && m.known), "{status:?}");
        assert_eq!(store.schema_version(), status.last().map_or(0, |m| m.version));
        assert_eq!(store.data_version().await.expect("version"), 0);
        // Connecting again finds everything applied and changes nothing.
        let again = Store::connect(&url).await.expect("reconnect");
        assert_eq!(again.migrate_status().await.expect("status"), status);
        again.close().await;
    }

    pub async fn import_counts(store: Store, _url: String) {
        with_services(&store).await;
        let first = vec![full("BNT", "1"), minimal("BNT", "2"), minimal("XYZ", "1")];
        let out = store.import_records(&batch("a.csv"), &first).await.expect("import");
        assert_eq!((out.inserted, out.updated, out.unchanged), (3, 0, 0));
        assert!(out.batch_id.is_some());
        let version = store.data_version().await.expect("version");
        let audit_lines = store.audit_log(&AuditFilter::default()).await.expect("audit").len();

        // The same file again: nothing changes, nothing is audited but the batch itself.
        let again = store.import_records(&batch("a.csv"), &first).await.expect("re-import");
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 3));
        assert_eq!(store.data_version().await.expect("version"), version);
        let lines = store.audit_log(&AuditFilter::default()).await.expect("audit");
        assert_eq!(lines.len(), audit_lines + 1);
        assert_eq!(lines[0].action, "import");

        // One changed (sex), one cleared (sex emptied: a row is the whole record), one new.
        let mut changed = full("BNT", "1");
        changed.sex = Some(flsdb_dataset::codes::Sex::Male);
        let mut cleared = minimal("BNT", "2");
        cleared.care_home = None;
        let second = vec![changed.clone(), minimal("BNT", "3"), minimal("XYZ", "1"), cleared];
        let dry = store.import_records_dry_run(&second).await.expect("dry run");
        assert_eq!((dry.batch_id, dry.inserted, dry.updated, dry.unchanged), (None, 1, 1, 2));
        assert_eq!(store.record_count().await.expect("count"), 3, "a dry run writes nothing");
        let out = store.import_records(&batch("b.csv"), &second).await.expect("import");
        assert_eq!((out.inserted, out.updated, out.unchanged), (1, 1, 2));
        assert!(store.data_version().await.expect("version") > version);

        let key = |s: &str, l: &str| (ServiceCode::parse(s).expect("code"), LocalId::parse(l).expect("id"));
        let (s, l) = key("BNT", "1");
        let (stored, v) = store.get_record(&s, &l).await.expect("get").expect("exists");
        assert_eq!((stored, v), (changed.clone(), 2));

        let lines = store
            .audit_log(&AuditFilter { entity_key: Some("BNT/1".into()), ..Default::default() })
            .await
            .expect("audit");
        assert_eq!(lines.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(), ["update", "insert"]);
        assert_eq!(json(&lines[0].before), serde_json::json!({"sex": "female"}));
        assert_eq!(json(&lines[0].after), serde_json::json!({"sex": "male"}));
        assert_eq!(lines[0].batch_id, out.batch_id);
        assert_eq!(lines[0].actor, "tester");
        // A record insert carries no values: they are the row's own (see the crate docs).
        assert_eq!((&lines[1].before, &lines[1].after), (&None, &None));
        assert_eq!((lines[1].actor.as_str(), lines[1].batch_id.is_some()), ("tester", true));

        // Clearing a field: the change is audited as value → null.
        let mut cleared = full("BNT", "1");
        cleared.sex = Some(flsdb_dataset::codes::Sex::Male);
        cleared.postcode = None;
        let out = store.import_records(&batch("c.csv"), [cleared.clone()]).await.expect("import");
        assert_eq!(out.updated, 1);
        let (stored, v) = store.get_record(&s, &l).await.expect("get").expect("exists");
        assert_eq!((stored.postcode, v), (None, 3));
        let last = &store
            .audit_log(&AuditFilter { entity_key: Some("BNT/1".into()), limit: Some(1), ..Default::default() })
            .await
            .expect("audit")[0];
        assert_eq!(json(&last.before), serde_json::json!({"postcode": "SW1A 1AA"}));
        assert_eq!(json(&last.after), serde_json::json!({"postcode": null}));
    }

    pub async fn round_trip(store: Store, _url: String) {
        with_services(&store).await;
        let originals = vec![full("BNT", "every-field"), minimal("XYZ", "required-only"), full("XYZ", "ünïcode/ id")];
        store.import_records(&batch("a.csv"), &originals).await.expect("import");
        for original in &originals {
            let (stored, version) =
                store.get_record(&original.service_code, &original.local_id).await.expect("get").expect("exists");
            assert_eq!(&stored, original);
            assert_eq!(version, 1);
        }
        assert_eq!(store.records(&RecordFilter::default()).await.expect("records"), originals);
        let xyz = RecordFilter { service: ServiceCode::parse("xyz"), ..Default::default() };
        assert_eq!(store.records(&xyz).await.expect("records"), originals[1..]);
        let window = RecordFilter {
            service: None,
            fracture_from: Some(date!(2023 - 01 - 05)),
            fracture_to: Some(date!(2023 - 01 - 05)),
        };
        assert_eq!(store.records(&window).await.expect("records").len(), 3);
        let later = RecordFilter { fracture_from: Some(date!(2023 - 01 - 06)), ..Default::default() };
        assert!(store.records(&later).await.expect("records").is_empty());
        let missing = LocalId::parse("nope").expect("id");
        assert_eq!(store.get_record(&originals[0].service_code, &missing).await.expect("get"), None);
    }

    pub async fn all_or_nothing(store: Store, _url: String) {
        with_services(&store).await;
        let version = store.data_version().await.expect("version");
        let audit_lines = store.audit_log(&AuditFilter::default()).await.expect("audit").len();
        let many = |n: usize| (0..n).map(|i| minimal("BNT", &format!("r{i}"))).collect::<Vec<_>>();
        let unchanged = |store: Store| async move {
            assert_eq!(store.record_count().await.expect("count"), 0);
            assert_eq!(store.audit_log(&AuditFilter::default()).await.expect("audit").len(), audit_lines);
            assert_eq!(store.data_version().await.expect("version"), version);
        };

        // Fails in the third chunk, after two chunks have been written inside the transaction.
        let mut records = many(1200);
        records[1100] = minimal("NOPE", "x");
        let err = store.import_records(&batch("a.csv"), &records).await.expect_err("unknown service");
        assert!(matches!(err, StoreError::UnknownService(ref s) if s == "NOPE"), "{err}");
        unchanged(store.clone()).await;

        let mut records = many(1200);
        records[1150] = minimal("BNT", "r3");
        let err = store.import_records(&batch("a.csv"), &records).await.expect_err("duplicate");
        assert!(matches!(err, StoreError::DuplicateKey { ref key } if key == "BNT/r3"), "{err}");
        unchanged(store.clone()).await;

        // A failure inside the database: a CHECK constraint in the last chunk.
        let mut records = many(1200);
        records[1199].refractures = Some(25);
        let err = store.import_records(&batch("a.csv"), &records).await.expect_err("check constraint");
        assert!(matches!(err, StoreError::Database(_) | StoreError::Sqlite { .. }), "{err}");
        unchanged(store.clone()).await;

        // The same records without the fault go in.
        let out = store.import_records(&batch("a.csv"), many(1200)).await.expect("import");
        assert_eq!(out.inserted, 1200);
    }

    pub async fn audit_is_append_only(store: Store, _url: String) {
        with_services(&store).await;
        assert!(!store.audit_log(&AuditFilter::default()).await.expect("audit").is_empty());
        for sql in ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"] {
            let err = store.execute_raw(sql).await.expect_err("append-only");
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        if store.backend() == "postgres" {
            let err = store.execute_raw("TRUNCATE audit_log").await.expect_err("append-only");
            assert!(err.to_string().contains("append-only"), "{err}");
        }
        let services = audit(&store, "service").await;
        assert_eq!(services.len(), 2);
        assert!(services.iter().all(|l| l.actor == "tester" && l.action == "insert"));
        assert_eq!(json(&services[0].after)["name"], "Xyz");
    }

    pub async fn optimistic_concurrency(store: Store, _url: String) {
        with_services(&store).await;
        store.import_records(&batch("a.csv"), [full("BNT", "1")]).await.expect("import");
        let (code, id) = (ServiceCode::parse("BNT").expect("code"), LocalId::parse("1").expect("id"));
        let (mut mine, v1) = store.get_record(&code, &id).await.expect("get").expect("exists");
        let (mut theirs, _) = store.get_record(&code, &id).await.expect("get").expect("exists");
        mine.weight_kg = Some(61.0);
        theirs.weight_kg = Some(59.0);
        assert_eq!(store.update_record("alice", &mine, v1).await.expect("first save"), v1 + 1);
        let err = store.update_record("bob", &theirs, v1).await.expect_err("second save");
        assert!(
            matches!(err, StoreError::Conflict { ref key, expected, found } if key == "BNT/1" && expected == v1 && found == v1 + 1),
            "{err}"
        );
        assert!(err.to_string().contains("changed by someone else"));
        let (stored, v2) = store.get_record(&code, &id).await.expect("get").expect("exists");
        assert_eq!((stored.weight_kg, v2), (Some(61.0), 2));
        let last = &store
            .audit_log(&AuditFilter { entity_key: Some("BNT/1".into()), ..Default::default() })
            .await
            .expect("audit")[0];
        assert_eq!((last.actor.as_str(), last.action.as_str(), last.batch_id), ("alice", "update", None));
        assert_eq!(json(&last.before), serde_json::json!({"weight_kg": "60.25"}));
        assert_eq!(json(&last.after), serde_json::json!({"weight_kg": "61"}));
        // Saving the same values writes nothing.
        let lines = store.audit_log(&AuditFilter::default()).await.expect("audit").len();
        assert_eq!(store.update_record("alice", &stored, v2).await.expect("no-op save"), v2);
        assert_eq!(store.audit_log(&AuditFilter::default()).await.expect("audit").len(), lines);
        let err = store.update_record("alice", &minimal("BNT", "ghost"), 1).await.expect_err("missing");
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    }

    pub async fn opt_outs(store: Store, _url: String) {
        let n = nhs_numbers(3);
        assert!(store.opt_outs().await.expect("opt-outs").is_empty());
        assert_eq!(store.add_opt_outs("tester", &[n[0], n[1], n[0]]).await.expect("add"), 2);
        assert_eq!(store.add_opt_outs("tester", &[n[1], n[2]]).await.expect("add"), 1);
        assert_eq!(store.add_opt_outs("tester", &[]).await.expect("add"), 0);
        assert_eq!(store.opt_outs().await.expect("opt-outs"), n.iter().copied().collect::<HashSet<_>>());
        let lines = audit(&store, "opt_out").await;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].entity_key, n[2].to_string());
    }

    pub async fn registry(store: Store, _url: String) {
        let services = vec![
            service("BNT", "Barnet"),
            service(" xyz ", ""),
            Service::parse(["ABC", "", "", "", "", "", "", "", ""]).expect("valid"),
        ];
        let c = store.upsert_services("tester", &services).await.expect("upsert");
        assert_eq!((c.inserted, c.updated, c.unchanged), (3, 0, 0));
        let mut sorted = services.clone();
        sorted.sort_by(|a, b| a.code.cmp(&b.code));
        assert_eq!(store.services().await.expect("services"), sorted);
        let c = store.upsert_services("tester", &services).await.expect("upsert");
        assert_eq!((c.inserted, c.updated, c.unchanged), (0, 0, 3));
        let mut renamed = service("BNT", "Barnet FLS");
        renamed.nhfd_hip_fractures = None;
        let c = store.upsert_services("tester", &[renamed.clone()]).await.expect("upsert");
        assert_eq!((c.inserted, c.updated, c.unchanged), (0, 1, 0));
        let line = &store
            .audit_log(&AuditFilter { entity_key: Some("BNT".into()), limit: Some(1), ..Default::default() })
            .await
            .expect("audit")[0];
        assert_eq!(json(&line.before), serde_json::json!({"name": "Barnet", "nhfd_hip_fractures": "85.5"}));
        assert_eq!(json(&line.after), serde_json::json!({"name": "Barnet FLS", "nhfd_hip_fractures": null}));
        assert_eq!(store.services().await.expect("services")[1], renamed);

        let mut caseloads = Caseloads::default();
        caseloads.add_row(["BNT", "2021", "250.5"]).expect("valid");
        caseloads.add_row(["XYZ", "2022", "0"]).expect("valid");
        let c = store.set_caseloads("tester", &caseloads).await.expect("caseloads");
        assert_eq!((c.inserted, c.updated, c.unchanged, c.deleted), (2, 0, 0, 0));
        assert_eq!(store.caseloads().await.expect("caseloads"), caseloads);
        let mut next = Caseloads::default();
        next.add_row(["BNT", "2021", "300"]).expect("valid");
        next.add_row(["ABC", "2023", "12"]).expect("valid");
        let c = store.set_caseloads("tester", &next).await.expect("caseloads");
        assert_eq!((c.inserted, c.updated, c.unchanged, c.deleted), (1, 1, 0, 1));
        assert_eq!(store.caseloads().await.expect("caseloads"), next);
        let lines = audit(&store, "caseload").await;
        assert_eq!(lines.iter().filter(|l| l.action == "delete" && l.entity_key == "XYZ/2022").count(), 1);

        // A record may only name a registered service (a foreign key backs the check).
        let err = store.import_records(&batch("a.csv"), [minimal("QQQ", "1")]).await.expect_err("unknown");
        assert!(matches!(err, StoreError::UnknownService(_)));
    }

    pub async fn newer_schema_is_refused(store: Store, url: String) {
        store
            .execute_raw(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 SELECT 9999, 'from the future', TRUE, checksum, 0 FROM _sqlx_migrations WHERE version = 1",
            )
            .await
            .expect("fake a newer migration");
        let status = store.migrate_status().await.expect("status");
        assert_eq!(status.last().map(|m| (m.version, m.applied, m.known)), Some((9999, true, false)));
        let err = Store::connect(&url).await.expect_err("newer schema");
        let known = store.schema_version();
        assert!(matches!(err, StoreError::NewerSchema { found: 9999, known: k } if k == known), "{err}");
        assert!(err.to_string().contains("newer flsdb"), "{err}");
    }

    pub async fn chunked_reads(store: Store, _url: String) {
        with_services(&store).await;
        let records: Vec<Record> =
            (0..25).map(|i| minimal(if i % 2 == 0 { "BNT" } else { "XYZ" }, &format!("r{i}"))).collect();
        store.import_records(&batch("a.csv"), &records).await.expect("import");
        assert_eq!(store.record_count().await.expect("count"), 25);
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        store
            .for_each_record_chunk(&RecordFilter::default(), 10, |chunk| {
                sizes.push(chunk.len());
                seen.extend(chunk);
                Ok::<_, StoreError>(())
            })
            .await
            .expect("read");
        assert_eq!((sizes, seen), (vec![10, 10, 5], records.clone()));
        let bnt = RecordFilter { service: ServiceCode::parse("BNT"), ..Default::default() };
        let mut sizes = Vec::new();
        store
            .for_each_record_chunk(&bnt, 5, |chunk| {
                sizes.push(chunk.len());
                Ok::<_, StoreError>(())
            })
            .await
            .expect("read");
        assert_eq!(sizes, [5, 5, 3]);
        // The callback's own error stops the read and comes back.
        let err = store
            .for_each_record_chunk(&bnt, 5, |_| Err(StoreError::NotFound { key: "stop".into() }))
            .await
            .expect_err("stopped");
        assert!(matches!(err, StoreError::NotFound { .. }));
    }
}

// ---------------------------------------------------------------------------------------------
// Without a database

#[test]
fn migrations_are_kept_in_step() {
    let strip = |m: &[(i64, &str, &str)]| m.iter().map(|(v, d, _)| (*v, d.to_string())).collect::<Vec<_>>();
    assert_eq!(strip(SQLITE_MIGRATIONS), strip(POSTGRES_MIGRATIONS));
    // Every file in each folder is embedded, under the version its name starts with.
    for (folder, list) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
        let mut versions: Vec<i64> = std::fs::read_dir(&dir)
            .expect("migrations folder")
            .map(|e| {
                let name = e.expect("entry").file_name().to_string_lossy().into_owned();
                name.split('_').next().and_then(|v| v.parse().ok()).expect("file name starts with a version")
            })
            .collect();
        versions.sort();
        assert_eq!(versions, list.iter().map(|m| m.0).collect::<Vec<_>>(), "{folder}");
    }
    // Both create every record column.
    for list in [SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS] {
        let all: String = list.iter().map(|m| m.2).collect();
        for f in Field::ALL {
            assert!(all.contains(&format!("\n    {} ", f.name())), "{} missing", f.name());
        }
    }
}

#[test]
fn column_kinds_match_values() {
    for (f, v) in Field::ALL.iter().zip(to_values(&full("BNT", "1"), &mut mapping::Interner::default())) {
        let expected = match v {
            Value::Text(_) | Value::Shared(_) => kind(*f) == db::Kind::Text,
            Value::Int(_) => matches!(kind(*f), db::Kind::Int | db::Kind::Int16),
            Value::Real(_) => kind(*f) == db::Kind::Real,
            Value::Date(_) => kind(*f) == db::Kind::Date,
            Value::Time(_) => false,
        };
        assert!(expected, "{f}");
    }
}

#[test]
fn json_escapes() {
    assert_eq!(mapping::json_object([("a", "x\"y\\z\u{1}"), ("b", "")]), r#"{"a":"x\"y\\z\u0001","b":null}"#);
}

#[test]
fn database_names_in_urls() {
    assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
}

#[tokio::test]
async fn url_forms() {
    let dir = tempfile::tempdir().expect("temp dir");
    for url in [
        dir.path().join("plain.db").display().to_string(),
        format!("sqlite:{}", dir.path().join("colon.db").display()),
        format!("sqlite://{}", dir.path().join("slashes.db").display()),
    ] {
        let store = Store::connect(&url).await.expect(&url);
        assert_eq!(store.backend(), "sqlite");
        store.close().await;
    }
    for name in ["plain.db", "colon.db", "slashes.db"] {
        assert!(dir.path().join(name).exists(), "{name}");
    }
    assert!(matches!(Store::connect("mysql://h/db").await, Err(StoreError::UnsupportedUrl(_))));

    // In memory: one connection for the life of the pool, so the data stays.
    let store = Store::connect("sqlite::memory:").await.expect("memory");
    with_services(&store).await;
    store.import_records(&batch("a.csv"), [minimal("BNT", "1")]).await.expect("import");
    for _ in 0..3 {
        assert_eq!(store.record_count().await.expect("count"), 1);
    }
    store.close().await;
}

/// The web server runs these on a multi-threaded runtime: their futures must be `Send`. Checked
/// by compiling, never run.
#[allow(dead_code, clippy::let_underscore_future)]
fn futures_are_send(store: &Store, records: Vec<Record>, record: &Record) {
    fn send<T: Send>(_: T) {}
    send(store.import_records(&batch("a.csv"), records.clone()));
    send(store.import_records_dry_run(&records));
    send(store.records(&RecordFilter::default()));
    send(store.for_each_record_chunk(&RecordFilter::default(), 10, |_| Ok::<_, StoreError>(())));
    send(store.get_record(&record.service_code, &record.local_id));
    send(store.update_record("a", record, 1));
    send(store.upsert_services("a", &[]));
    send(store.set_caseloads("a", &Caseloads::default()));
    send(store.add_opt_outs("a", &[]));
    send(store.audit_log(&AuditFilter::default()));
    send(store.data_version());
    send(store.migrate_status());
    send(Store::connect("sqlite::memory:"));
}
