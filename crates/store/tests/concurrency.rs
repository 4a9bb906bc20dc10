//! 50 concurrent writers on one database, on both backends: editors saving records (many on
//! the same record, some on records of their own) and importers loading files into the same
//! service, all at once. No save may be lost (every save is either stored or refused with a
//! conflict, and the stored record is the last save that was accepted), nothing may deadlock or
//! fail spuriously (SQLite's single writer must queue, not answer "database is locked"), every
//! change is audited exactly once, and imports of the same service serialise.

mod support;

use flsdb_dataset::{LocalId, Record, ServiceCode};
use flsdb_store::{AuditEntry, AuditFilter, ConnectOptions, NewBatch, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use support::{minimal, run_postgres, run_sqlite, service};

const EDITORS: usize = 40;
const IMPORTERS: usize = 10;
/// Accepted saves each editor makes.
const SAVES: usize = 3;
/// New records in each importer's file, besides the shared ones every file has.
const NEW_PER_IMPORT: usize = 20;
const SHARED: usize = 5;
/// Far beyond what the slowest backend needs here; reaching it means a deadlock or a hang.
const DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    run_sqlite(ConnectOptions::default(), |store, _| fifty_writers(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    run_postgres(ConnectOptions::default(), |store, _| fifty_writers(store)).await;
}

/// Half the editors share one record; the others edit one of ten records, two editors each.
fn editor_target(editor: usize) -> (&'static str, String) {
    if editor.is_multiple_of(2) {
        ("BNT", "hot".into())
    } else {
        (if editor % 4 == 1 { "BNT" } else { "XYZ" }, format!("e{}", (editor / 2) % 10))
    }
}

/// A value no other save uses (0.1 % steps stay exact through the canonical text).
fn editor_value(editor: usize, save: usize) -> f64 {
    (1 + editor * SAVES + save) as f64 / 10.0
}

fn importer_value(importer: usize) -> f64 {
    50.0 + importer as f64
}

fn key(service: &str, local_id: &str) -> (ServiceCode, LocalId) {
    (ServiceCode::parse(service).expect("code"), LocalId::parse(local_id).expect("id"))
}

struct Accepted {
    key: String,
    version: i64,
    value: f64,
}

/// One editor: load, change, save; on a conflict load again and redo the change.
async fn editor(store: Store, editor: usize) -> (Vec<Accepted>, usize) {
    let (service, local_id) = editor_target(editor);
    let (code, id) = key(service, &local_id);
    let (mut accepted, mut conflicts) = (Vec::new(), 0);
    for save in 0..SAVES {
        let value = editor_value(editor, save);
        loop {
            let (mut record, version) = store.get_record(&code, &id).await.expect("read").expect("exists");
            record.frax_major = Some(value);
            match store.update_record(&format!("editor{editor}"), &record, version).await {
                Ok(new) => {
                    assert_eq!(new, version + 1, "a change bumps the version by one");
                    accepted.push(Accepted { key: format!("{service}/{local_id}"), version: new, value });
                    break;
                }
                Err(StoreError::Conflict { expected, found, .. }) => {
                    assert_eq!(expected, version);
                    assert!(found > expected, "a conflict is a real one: {expected} → {found}");
                    conflicts += 1;
                }
                Err(e) => panic!("editor {editor}: a save failed instead of being stored or refused: {e}"),
            }
        }
    }
    (accepted, conflicts)
}

fn import_file(importer: usize) -> Vec<Record> {
    let mut records: Vec<Record> = (0..NEW_PER_IMPORT).map(|n| minimal("BNT", &format!("imp{importer}-{n}"))).collect();
    for n in 0..SHARED {
        let mut shared = minimal("BNT", &format!("shared-{n}"));
        shared.frax_major = Some(importer_value(importer));
        records.push(shared);
    }
    records
}

async fn fifty_writers(store: Store) {
    store.upsert_services("setup", &[service("BNT"), service("XYZ")]).await.expect("services");
    let mut initial = vec![minimal("BNT", "hot")];
    for n in 0..10 {
        initial.push(minimal("BNT", &format!("e{n}")));
        initial.push(minimal("XYZ", &format!("e{n}")));
    }
    let setup = NewBatch { actor: "setup".into(), file_name: None, mode: "test".into() };
    store.import_records(&setup, &initial).await.expect("initial records");

    // Everyone starts at once.
    let start = Arc::new(tokio::sync::Barrier::new(EDITORS + IMPORTERS));
    let mut editors = Vec::new();
    for e in 0..EDITORS {
        let (store, start) = (store.clone(), start.clone());
        editors.push(tokio::spawn(async move {
            start.wait().await;
            editor(store, e).await
        }));
    }
    let mut importers = Vec::new();
    for i in 0..IMPORTERS {
        let (store, start) = (store.clone(), start.clone());
        importers.push(tokio::spawn(async move {
            start.wait().await;
            let batch =
                NewBatch { actor: format!("importer{i}"), file_name: Some(format!("{i}.csv")), mode: "csv".into() };
            let outcome = store.import_records(&batch, import_file(i)).await;
            (i, outcome.unwrap_or_else(|e| panic!("importer {i} failed: {e}")))
        }));
    }
    let all = async {
        let mut accepted = Vec::new();
        let mut conflicts = 0;
        for h in editors {
            let (a, c) = h.await.expect("editor task");
            accepted.extend(a);
            conflicts += c;
        }
        let mut outcomes = Vec::new();
        for h in importers {
            outcomes.push(h.await.expect("importer task"));
        }
        (accepted, conflicts, outcomes)
    };
    let (accepted, conflicts, outcomes) =
        tokio::time::timeout(DEADLINE, all).await.expect("50 writers finish: no deadlock, no hang");
    assert_eq!(accepted.len(), EDITORS * SAVES);
    assert!(conflicts > 0, "20 editors on one record must have met conflicts");

    let audit = store.audit_log(&AuditFilter { entity: Some("record".into()), ..Default::default() }).await;
    let audit = audit.expect("audit log");

    // Editors: per record, the accepted saves are versions 2, 3, … with no gaps and no
    // repeats, the stored record is the last of them, and each is audited exactly once.
    let mut by_key: BTreeMap<&str, Vec<&Accepted>> = BTreeMap::new();
    for a in &accepted {
        by_key.entry(&a.key).or_default().push(a);
    }
    for (k, saves) in &mut by_key {
        saves.sort_by_key(|a| a.version);
        let versions: Vec<i64> = saves.iter().map(|a| a.version).collect();
        assert_eq!(versions, (2..2 + saves.len() as i64).collect::<Vec<_>>(), "{k}: versions of accepted saves");
        let (service, local_id) = k.split_once('/').expect("key");
        let (code, id) = key(service, local_id);
        let (stored, version) = store.get_record(&code, &id).await.expect("read").expect("exists");
        let last = saves.last().expect("saves");
        assert_eq!((version, stored.frax_major), (last.version, Some(last.value)), "{k}: the last accepted save");

        let mut audited: Vec<f64> =
            audit.iter().filter(|l| l.entity_key == *k && l.action == "update").map(audited_frax).collect();
        let mut saved: Vec<f64> = saves.iter().map(|a| a.value).collect();
        audited.sort_by(f64::total_cmp);
        saved.sort_by(f64::total_cmp);
        assert_eq!(audited, saved, "{k}: every accepted save audited once, and nothing else");
    }
    assert_eq!(by_key.get("BNT/hot").map(Vec::len), Some(EDITORS / 2 * SAVES));

    // Importers: all went in, one after another. The first to commit inserted the shared
    // records, each later one replaced them; the stored values are the last committer's (batch
    // ids are taken in commit order: imports hold the write lock from before they take one).
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(_, o)| o.batch_id);
    let inserted: u64 = outcomes.iter().map(|(_, o)| o.inserted).sum();
    let updated: u64 = outcomes.iter().map(|(_, o)| o.updated).sum();
    assert_eq!(inserted as usize, IMPORTERS * NEW_PER_IMPORT + SHARED);
    assert_eq!(updated as usize, (IMPORTERS - 1) * SHARED);
    assert_eq!(outcomes[0].1.inserted as usize, NEW_PER_IMPORT + SHARED, "the first import inserted the shared ones");
    assert!(outcomes[1..].iter().all(|(_, o)| o.inserted as usize == NEW_PER_IMPORT && o.updated as usize == SHARED));
    let (last_importer, _) = outcomes.last().expect("outcomes");
    for n in 0..SHARED {
        let (code, id) = key("BNT", &format!("shared-{n}"));
        let (stored, version) = store.get_record(&code, &id).await.expect("read").expect("exists");
        assert_eq!(stored.frax_major, Some(importer_value(*last_importer)), "shared-{n}: the last import's values");
        assert_eq!(version as usize, IMPORTERS, "shared-{n}: one insert and one replacement per later import");
    }
    for (i, o) in &outcomes {
        let lines: Vec<&AuditEntry> = audit.iter().filter(|l| l.batch_id == o.batch_id).collect();
        let count = |action: &str| lines.iter().filter(|l| l.action == action).count() as u64;
        assert_eq!((count("insert"), count("update")), (o.inserted, o.updated), "importer {i}: audit lines");
        assert!(lines.iter().all(|l| l.actor == format!("importer{i}")));
    }

    // Nothing else was written, and every record is there.
    let changes = initial.len() + accepted.len() + (inserted + updated) as usize;
    assert_eq!(audit.len(), changes, "one audit line per change");
    let records = store.record_count().await.expect("count") as usize;
    assert_eq!(records, initial.len() + IMPORTERS * NEW_PER_IMPORT + SHARED);
    let batches = store.audit_log(&AuditFilter { entity: Some("import_batch".into()), ..Default::default() }).await;
    assert_eq!(batches.expect("audit").len(), IMPORTERS + 1, "one summary line per import");
}

/// The new `frax_major` of an audited update.
fn audited_frax(line: &AuditEntry) -> f64 {
    let after: HashMap<String, Option<String>> =
        serde_json::from_str(line.after.as_deref().expect("an update has after values")).expect("json");
    let text = after.get("frax_major").cloned().flatten().expect("the edit changed frax_major");
    text.parse().expect("a number")
}
