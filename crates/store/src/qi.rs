//! Quality-improvement cycles of a service: the KPI, aim, baseline and start, the change ideas,
//! dated PDSA notes, and the verdicts recorded when the cycle is closed. Opening, noting and
//! closing are audited (entity `qi_cycle`).

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Row, Tx, Value};
use crate::{Result, Store, StoreError};
use flsdb_dataset::ServiceCode;
use time::{Date, OffsetDateTime};

/// A cycle as a service lead opens it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCycle {
    pub service: ServiceCode,
    pub kpi: String,
    /// The aim: `percent` or more by `by`.
    pub aim: Option<(f64, Date)>,
    /// First month of the baseline; the baseline runs to the month before `start`.
    pub baseline_from: Date,
    /// When the change began.
    pub start: Date,
    pub change_ideas: String,
}

/// The verdicts recorded when a cycle is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    pub by: String,
    /// The date the verdicts were judged as of (the audit log has the exact time of closing); a
    /// cycle counts as completed in this date's year.
    pub on: Date,
    pub improved: bool,
    pub maintained: bool,
    /// The sentences behind the verdicts, as shown when it was closed.
    pub verdict: String,
}

/// A stored cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Cycle {
    pub id: i64,
    pub spec: NewCycle,
    pub opened_by: String,
    pub opened_at: OffsetDateTime,
    pub closure: Option<Closure>,
}

impl Cycle {
    /// Complete: closed with both verdicts recorded, whatever they were.
    pub fn is_complete(&self) -> bool {
        self.closure.is_some()
    }
}

/// How many services completed a cycle (closed as of a date) in `year`.
pub fn services_completing<'a>(cycles: impl IntoIterator<Item = &'a Cycle>, year: i32) -> usize {
    let services: std::collections::HashSet<&ServiceCode> = cycles
        .into_iter()
        .filter(|c| c.closure.as_ref().is_some_and(|x| x.on.year() == year))
        .map(|c| &c.spec.service)
        .collect();
    services.len()
}

/// A dated PDSA note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub noted_on: Date,
    /// `plan`, `do`, `study` or `act`.
    pub stage: String,
    pub author: String,
    pub body: String,
}

pub const STAGES: [&str; 4] = ["plan", "do", "study", "act"];

const COLUMNS: &str = "id, service_code, kpi, aim_percent, aim_by, baseline_from, start_date, change_ideas, \
                       opened_by, opened_at, closed_by, closed_on, improved, maintained, verdict";
const KINDS: [Kind; 15] = [
    Kind::Int,
    Kind::Text,
    Kind::Text,
    Kind::Real,
    Kind::Date,
    Kind::Date,
    Kind::Date,
    Kind::Text,
    Kind::Text,
    Kind::Time,
    Kind::Text,
    Kind::Date,
    Kind::Int,
    Kind::Int,
    Kind::Text,
];

fn date(row: &Row, i: usize) -> Result<Option<Date>> {
    match row.0.get(i) {
        Some(Value::Date(d)) => Ok(*d),
        other => Err(StoreError::InvalidStored {
            entity: "qi_cycle",
            key: format!("column {i}"),
            reason: format!("expected a date, found {other:?}"),
        }),
    }
}

fn cycle_from_row(row: &Row) -> Result<Cycle> {
    let id = row.int(0)?;
    let invalid = |reason: String| StoreError::InvalidStored { entity: "qi_cycle", key: id.to_string(), reason };
    let service = ServiceCode::parse(row.text(1)?).ok_or_else(|| invalid(format!("service code {:?}", row.text(1))))?;
    let required = |i: usize| date(row, i)?.ok_or_else(|| invalid(format!("no date in column {i}")));
    let aim = match (row.opt_real(3)?, date(row, 4)?) {
        (Some(percent), Some(by)) => Some((percent, by)),
        _ => None,
    };
    let closure = match (row.opt_text(10)?, date(row, 11)?) {
        (Some(by), Some(on)) => Some(Closure {
            by: by.to_owned(),
            on,
            improved: row.opt_int(12)? == Some(1),
            maintained: row.opt_int(13)? == Some(1),
            verdict: row.opt_text(14)?.unwrap_or_default().to_owned(),
        }),
        _ => None,
    };
    Ok(Cycle {
        id,
        spec: NewCycle {
            service,
            kpi: row.text(2)?.to_owned(),
            aim,
            baseline_from: required(5)?,
            start: required(6)?,
            change_ideas: row.text(7)?.to_owned(),
        },
        opened_by: row.text(8)?.to_owned(),
        opened_at: row.time(9)?,
        closure,
    })
}

async fn audit_cycle(tx: &mut Tx, actor: &str, action: &'static str, id: i64, after: String) -> Result<()> {
    let cx = AuditContext { at: OffsetDateTime::now_utc(), actor, batch_id: None };
    let row = AuditRow { action, key: id.to_string(), before: None, after: Some(after) };
    audit::write(tx, &cx, "qi_cycle", vec![row]).await
}

fn json(pairs: &[(&str, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

impl Store {
    /// Opens a cycle; returns its id.
    pub async fn open_cycle(&self, actor: &str, cycle: &NewCycle) -> Result<i64> {
        let known = self.services().await?.iter().any(|s| s.code == cycle.service);
        if !known {
            return Err(StoreError::UnknownService(cycle.service.as_str().to_owned()));
        }
        self.db
            .in_write(async |tx| {
                let row = tx
                    .fetch_one(
                        "INSERT INTO qi_cycles (service_code, kpi, aim_percent, aim_by, baseline_from, start_date, \
                         change_ideas, opened_by, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                        vec![
                            Value::text(cycle.service.as_str()),
                            Value::text(&cycle.kpi),
                            Value::Real(cycle.aim.map(|a| a.0)),
                            Value::Date(cycle.aim.map(|a| a.1)),
                            Value::Date(Some(cycle.baseline_from)),
                            Value::Date(Some(cycle.start)),
                            Value::text(&cycle.change_ideas),
                            Value::text(actor),
                            Value::Time(Some(OffsetDateTime::now_utc())),
                        ],
                        &[Kind::Int],
                    )
                    .await?;
                let id = row.int(0)?;
                let after = json(&[
                    ("service_code", cycle.service.as_str().to_owned()),
                    ("kpi", cycle.kpi.clone()),
                    ("start_date", cycle.start.to_string()),
                ]);
                audit_cycle(tx, actor, "insert", id, after).await?;
                Ok(id)
            })
            .await
    }

    /// The cycles of `service` (every service's with `None`), newest first.
    pub async fn cycles(&self, service: Option<&ServiceCode>) -> Result<Vec<Cycle>> {
        let (sql, params) = match service {
            Some(code) => (
                format!("SELECT {COLUMNS} FROM qi_cycles WHERE service_code = $1 ORDER BY id DESC"),
                vec![Value::text(code.as_str())],
            ),
            None => (format!("SELECT {COLUMNS} FROM qi_cycles ORDER BY id DESC"), vec![]),
        };
        let rows = self.db.in_read(async |tx| tx.fetch(&sql, params, &KINDS).await).await?;
        rows.iter().map(cycle_from_row).collect()
    }

    /// One cycle, or `None`.
    pub async fn cycle(&self, id: i64) -> Result<Option<Cycle>> {
        let sql = format!("SELECT {COLUMNS} FROM qi_cycles WHERE id = $1");
        let rows = self.db.in_read(async |tx| tx.fetch(&sql, vec![Value::Int(Some(id))], &KINDS).await).await?;
        rows.first().map(cycle_from_row).transpose()
    }

    /// Adds a PDSA note to an open cycle.
    pub async fn add_cycle_note(&self, id: i64, note: &Note) -> Result<()> {
        self.db
            .in_write(async |tx| {
                let open = tx
                    .fetch_optional(
                        "SELECT id FROM qi_cycles WHERE id = $1 AND closed_on IS NULL",
                        vec![Value::Int(Some(id))],
                        &[Kind::Int],
                    )
                    .await?;
                if open.is_none() {
                    return Err(StoreError::NotFound { key: format!("open QI cycle {id}") });
                }
                tx.execute(
                    "INSERT INTO qi_notes (cycle_id, noted_on, stage, author, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    vec![
                        Value::Int(Some(id)),
                        Value::Date(Some(note.noted_on)),
                        Value::text(&note.stage),
                        Value::text(&note.author),
                        Value::text(&note.body),
                        Value::Time(Some(OffsetDateTime::now_utc())),
                    ],
                )
                .await?;
                audit_cycle(tx, &note.author, "note", id, json(&[("stage", note.stage.clone())])).await
            })
            .await
    }

    /// The notes of a cycle, oldest first.
    pub async fn cycle_notes(&self, id: i64) -> Result<Vec<Note>> {
        let rows = self
            .db
            .in_read(async |tx| {
                tx.fetch(
                    "SELECT noted_on, stage, author, body FROM qi_notes WHERE cycle_id = $1 ORDER BY noted_on, id",
                    vec![Value::Int(Some(id))],
                    &[Kind::Date, Kind::Text, Kind::Text, Kind::Text],
                )
                .await
            })
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Note {
                    noted_on: date(r, 0)?.ok_or_else(|| StoreError::NotFound { key: "note date".into() })?,
                    stage: r.text(1)?.to_owned(),
                    author: r.text(2)?.to_owned(),
                    body: r.text(3)?.to_owned(),
                })
            })
            .collect()
    }

    /// Closes an open cycle with its verdicts, judged as of `on`; a closed cycle stays as it was
    /// closed.
    pub async fn close_cycle(
        &self,
        id: i64,
        actor: &str,
        on: Date,
        improved: bool,
        maintained: bool,
        verdict: &str,
    ) -> Result<()> {
        self.db
            .in_write(async |tx| {
                let changed = tx
                    .execute(
                        "UPDATE qi_cycles SET closed_by = $1, closed_on = $2, improved = $3, maintained = $4, \
                         verdict = $5 WHERE id = $6 AND closed_on IS NULL",
                        vec![
                            Value::text(actor),
                            Value::Date(Some(on)),
                            Value::Int(Some(i64::from(improved))),
                            Value::Int(Some(i64::from(maintained))),
                            Value::text(verdict),
                            Value::Int(Some(id)),
                        ],
                    )
                    .await?;
                if changed == 0 {
                    return Err(StoreError::NotFound { key: format!("open QI cycle {id}") });
                }
                let after = json(&[
                    ("improved", improved.to_string()),
                    ("maintained", maintained.to_string()),
                    ("verdict", verdict.to_owned()),
                ]);
                audit_cycle(tx, actor, "close", id, after).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditFilter;
    use flsdb_dataset::Service;
    use time::macros::date;

    async fn open_note_close(store: Store) {
        let services = [Service::parse(["AAA", "Alpha", "england", "", "", "", "", "", ""]).expect("service")];
        store.upsert_services("test", &services).await.expect("services");
        let spec = NewCycle {
            service: ServiceCode::parse("AAA").expect("code"),
            kpi: "kpi9".into(),
            aim: Some((40.0, date!(2025 - 06 - 30))),
            baseline_from: date!(2024 - 01 - 01),
            start: date!(2025 - 01 - 01),
            change_ideas: "text reminders at 12 weeks".into(),
        };
        let id = store.open_cycle("lead", &spec).await.expect("open");
        let unknown = NewCycle { service: ServiceCode::parse("ZZZ").expect("code"), ..spec.clone() };
        assert!(matches!(store.open_cycle("lead", &unknown).await, Err(StoreError::UnknownService(_))));

        let note = |day: Date, stage: &str| Note {
            noted_on: day,
            stage: stage.into(),
            author: "lead".into(),
            body: format!("{stage} note"),
        };
        store.add_cycle_note(id, &note(date!(2025 - 02 - 01), "do")).await.expect("note");
        store.add_cycle_note(id, &note(date!(2025 - 01 - 02), "plan")).await.expect("note");
        let notes = store.cycle_notes(id).await.expect("notes");
        assert_eq!(notes.iter().map(|n| n.stage.as_str()).collect::<Vec<_>>(), ["plan", "do"], "by date");

        let cycle = store.cycle(id).await.expect("read").expect("the cycle");
        assert_eq!(cycle.spec, spec);
        assert!(!cycle.is_complete());
        store
            .close_cycle(id, "lead", date!(2025 - 07 - 01), true, false, "improved; not maintained")
            .await
            .expect("close");
        let closed = store.cycle(id).await.expect("read").expect("the cycle");
        let closure = closed.closure.expect("closed");
        assert!(closure.improved && !closure.maintained);
        assert_eq!(closure.on, date!(2025 - 07 - 01));
        assert_eq!(closure.verdict, "improved; not maintained");
        // Closed is final: no second closing, no more notes.
        assert!(matches!(
            store.close_cycle(id, "lead", date!(2025 - 07 - 02), true, true, "again").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.add_cycle_note(id, &note(date!(2025 - 03 - 01), "act")).await.is_err());
        assert_eq!(store.cycles(Some(&spec.service)).await.expect("list").len(), 1);
        assert!(store.cycles(Some(&ServiceCode::parse("BBB").expect("code"))).await.expect("list").is_empty());

        let log =
            store.audit_log(&AuditFilter { entity: Some("qi_cycle".into()), ..Default::default() }).await.expect("log");
        let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["insert", "note", "note", "close"]);
    }

    #[tokio::test]
    async fn sqlite() {
        crate::tests::run_sqlite(|store, _| open_note_close(store)).await
    }

    #[tokio::test]
    async fn postgres() {
        crate::tests::run_postgres(|store, _| open_note_close(store)).await
    }
}
