//! The organisation registry (services and per-year caseloads) and the opt-out list.

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Row, Value, placeholders};
use crate::mapping::{diff_json, json_object, plain_text};
use crate::{Result, Store, StoreError, bump_data_version};
use flsdb_dataset::{Caseloads, NhsNumber, SERVICE_COLUMNS, Service, ServiceCode};
use std::collections::{BTreeMap, HashMap, HashSet};
use time::OffsetDateTime;

/// What a registry write changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

impl Changes {
    fn any(&self) -> bool {
        self.inserted + self.updated + self.deleted > 0
    }
}

/// The `services` columns in [`SERVICE_COLUMNS`] order (the services file's header).
const SERVICE_KINDS: [Kind; 9] =
    [Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Real, Kind::Real];

fn service_values(s: &Service) -> Vec<Value> {
    vec![
        Value::text(s.code.as_str()),
        Value::text(&s.name),
        Value::Text(s.nation.clone()),
        Value::Text(s.region.clone()),
        Value::Text(s.commissioner.clone()),
        Value::Text(s.parent_org.clone()),
        Value::Text(s.setting.map(|s| s.code().to_owned())),
        Value::Real(s.expected_caseload),
        Value::Real(s.nhfd_hip_fractures),
    ]
}

/// Rebuilds a service through the dataset's own parser, so a stored row is a valid service.
fn service_from_row(row: &Row) -> Result<Service> {
    let texts: Vec<String> = row.0.iter().map(plain_text).collect();
    let cells: [&str; 9] = std::array::from_fn(|i| texts.get(i).map_or("", String::as_str));
    Service::parse(cells).map_err(|problems| StoreError::InvalidStored {
        entity: "service",
        key: cells[0].to_owned(),
        reason: problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "),
    })
}

fn texts(values: &[Value]) -> Vec<String> {
    values.iter().map(plain_text).collect()
}

impl Store {
    /// Inserts services new to the registry and replaces those whose fields changed (by code);
    /// each change is audited.
    pub async fn upsert_services(&self, actor: &str, services: &[Service]) -> Result<Changes> {
        let columns = SERVICE_COLUMNS.join(", ");
        self.db
            .in_write(async |tx| {
                let mut stored: HashMap<String, Vec<String>> = HashMap::new();
                for row in tx.fetch(&format!("SELECT {columns} FROM services"), vec![], &SERVICE_KINDS).await? {
                    stored.insert(row.text(0)?.to_owned(), texts(&row.0));
                }
                let now = OffsetDateTime::now_utc();
                let mut changes = Changes::default();
                let mut audit_rows = Vec::new();
                for service in services {
                    let mut values = service_values(service);
                    let new = texts(&values);
                    let code = service.code.as_str().to_owned();
                    let audit = match stored.get(&code) {
                        Some(old) if *old == new => {
                            changes.unchanged += 1;
                            continue;
                        }
                        Some(old) => {
                            let Some((before, after)) = diff_json(&SERVICE_COLUMNS, old, &new) else { continue };
                            let sets: Vec<String> = SERVICE_COLUMNS
                                .iter()
                                .enumerate()
                                .skip(1)
                                .map(|(i, c)| format!("{c} = ${}", i + 1))
                                .collect();
                            let sql = format!(
                                "UPDATE services SET {}, updated_at = $10 WHERE service_code = $1",
                                sets.join(", ")
                            );
                            values.push(Value::Time(Some(now)));
                            tx.execute(&sql, values).await?;
                            changes.updated += 1;
                            AuditRow { action: "update", key: code.clone(), before: Some(before), after: Some(after) }
                        }
                        None => {
                            let sql = format!(
                                "INSERT INTO services ({columns}, created_at, updated_at) VALUES ({}, $10, $10)",
                                placeholders(1, 9)
                            );
                            values.push(Value::Time(Some(now)));
                            tx.execute(&sql, values).await?;
                            changes.inserted += 1;
                            let after = json_object(
                                SERVICE_COLUMNS
                                    .iter()
                                    .zip(&new)
                                    .filter(|(_, t)| !t.is_empty())
                                    .map(|(c, t)| (*c, t.as_str())),
                            );
                            AuditRow { action: "insert", key: code.clone(), before: None, after: Some(after) }
                        }
                    };
                    audit_rows.push(audit);
                    stored.insert(code, new);
                }
                audit::write(tx, &AuditContext { at: now, actor, batch_id: None }, "service", audit_rows).await?;
                if changes.any() {
                    bump_data_version(tx).await?;
                }
                Ok(changes)
            })
            .await
    }

    /// The registry, ordered by code.
    pub async fn services(&self) -> Result<Vec<Service>> {
        let sql = format!("SELECT {} FROM services ORDER BY service_code", SERVICE_COLUMNS.join(", "));
        let rows = self.db.in_read(async |tx| tx.fetch(&sql, vec![], &SERVICE_KINDS).await).await?;
        rows.iter().map(service_from_row).collect()
    }

    /// Makes the stored per-year caseloads equal to `caseloads` (the caseloads file is the whole
    /// truth: years it no longer lists are deleted); each change is audited (key `CODE/YEAR`).
    pub async fn set_caseloads(&self, actor: &str, caseloads: &Caseloads) -> Result<Changes> {
        self.db
            .in_write(async |tx| {
                let mut stored: BTreeMap<(String, i64), f64> = BTreeMap::new();
                let kinds = [Kind::Text, Kind::Int32, Kind::Real];
                for row in
                    tx.fetch("SELECT service_code, year, expected_caseload FROM caseloads", vec![], &kinds).await?
                {
                    let value = row.opt_real(2)?.unwrap_or_default();
                    stored.insert((row.text(0)?.to_owned(), row.int(1)?), value);
                }
                let now = OffsetDateTime::now_utc();
                let mut changes = Changes::default();
                let mut audit_rows = Vec::new();
                let json = |v: f64| json_object([("expected_caseload", v.to_string().as_str())]);
                for (code, year, value) in caseloads.iter() {
                    let key = (code.as_str().to_owned(), i64::from(year));
                    let params = vec![Value::text(code.as_str()), Value::Int(Some(key.1)), Value::Real(Some(value))];
                    let audit_key = format!("{code}/{year}");
                    match stored.remove(&key) {
                        Some(old) if old == value => changes.unchanged += 1,
                        Some(old) => {
                            tx.execute(
                                "UPDATE caseloads SET expected_caseload = $3 WHERE service_code = $1 AND year = $2",
                                params,
                            )
                            .await?;
                            changes.updated += 1;
                            audit_rows.push(AuditRow {
                                action: "update",
                                key: audit_key,
                                before: Some(json(old)),
                                after: Some(json(value)),
                            });
                        }
                        None => {
                            tx.execute(
                                "INSERT INTO caseloads (service_code, year, expected_caseload) VALUES ($1, $2, $3)",
                                params,
                            )
                            .await?;
                            changes.inserted += 1;
                            audit_rows.push(AuditRow {
                                action: "insert",
                                key: audit_key,
                                before: None,
                                after: Some(json(value)),
                            });
                        }
                    }
                }
                for ((code, year), old) in stored {
                    tx.execute(
                        "DELETE FROM caseloads WHERE service_code = $1 AND year = $2",
                        vec![Value::text(&code), Value::Int(Some(year))],
                    )
                    .await?;
                    changes.deleted += 1;
                    audit_rows.push(AuditRow {
                        action: "delete",
                        key: format!("{code}/{year}"),
                        before: Some(json(old)),
                        after: None,
                    });
                }
                audit::write(tx, &AuditContext { at: now, actor, batch_id: None }, "caseload", audit_rows).await?;
                if changes.any() {
                    bump_data_version(tx).await?;
                }
                Ok(changes)
            })
            .await
    }

    /// The per-year caseloads.
    pub async fn caseloads(&self) -> Result<Caseloads> {
        let sql = "SELECT service_code, year, expected_caseload FROM caseloads";
        let kinds = [Kind::Text, Kind::Int32, Kind::Real];
        let rows = self.db.in_read(async |tx| tx.fetch(sql, vec![], &kinds).await).await?;
        let mut caseloads = Caseloads::default();
        for row in rows {
            let code = row.text(0)?;
            let invalid = |reason: &str| StoreError::InvalidStored {
                entity: "caseload",
                key: code.to_owned(),
                reason: reason.to_owned(),
            };
            let service = ServiceCode::parse(code).ok_or_else(|| invalid("bad service code"))?;
            let year = i32::try_from(row.int(1)?).map_err(|_| invalid("bad year"))?;
            let value = row.opt_real(2)?.ok_or_else(|| invalid("no caseload"))?;
            caseloads.insert(service, year, value);
        }
        Ok(caseloads)
    }

    /// Adds NHS numbers to the national opt-out list as one batch; returns how many were new.
    /// Each new number is audited.
    pub async fn add_opt_outs(&self, actor: &str, numbers: &[NhsNumber]) -> Result<u64> {
        let mut seen = HashSet::new();
        let numbers: Vec<NhsNumber> = numbers.iter().copied().filter(|n| seen.insert(*n)).collect();
        let now = OffsetDateTime::now_utc();
        self.db
            .in_write(async |tx| {
                let batch_id = tx
                    .fetch_one(
                        "INSERT INTO import_batches (actor, mode, started_at) VALUES ($1, 'opt_outs', $2) RETURNING id",
                        vec![Value::text(actor), Value::Time(Some(now))],
                        &[Kind::Int],
                    )
                    .await?
                    .int(0)?;
                let cx = AuditContext { at: now, actor, batch_id: Some(batch_id) };
                let mut added = Vec::new();
                for chunk in numbers.chunks(1000) {
                    // Shared parameters first, so the numbers only rise (see `Tx::dialect`).
                    let tuples: Vec<String> = (3..3 + chunk.len()).map(|i| format!("(${i}, $1, $2)")).collect();
                    let sql = format!(
                        "INSERT INTO opt_outs (nhs_number, added_at, batch_id) VALUES {} \
                         ON CONFLICT (nhs_number) DO NOTHING RETURNING nhs_number",
                        tuples.join(", ")
                    );
                    let mut params = vec![Value::Time(Some(now)), Value::Int(Some(batch_id))];
                    params.extend(chunk.iter().map(|n| Value::Int(Some(n.as_u64() as i64))));
                    for row in tx.fetch(&sql, params, &[Kind::Int]).await? {
                        added.push(row.int(0)?);
                    }
                }
                let new = added.len() as u64;
                tx.execute(
                    "UPDATE import_batches SET finished_at = $1, inserted = $2, unchanged = $3 WHERE id = $4",
                    vec![
                        Value::Time(Some(OffsetDateTime::now_utc())),
                        Value::Int(Some(new as i64)),
                        Value::Int(Some((numbers.len() as u64 - new) as i64)),
                        Value::Int(Some(batch_id)),
                    ],
                )
                .await?;
                let rows = added
                    .iter()
                    .map(|n| AuditRow { action: "insert", key: format!("{n:010}"), before: None, after: None })
                    .collect();
                audit::write(tx, &cx, "opt_out", rows).await?;
                if new > 0 {
                    bump_data_version(tx).await?;
                }
                Ok(new)
            })
            .await
    }

    /// The national opt-out list.
    pub async fn opt_outs(&self) -> Result<HashSet<NhsNumber>> {
        let sql = "SELECT nhs_number FROM opt_outs";
        let rows = self.db.in_read(async |tx| tx.fetch(sql, vec![], &[Kind::Int]).await).await?;
        rows.iter()
            .map(|row| {
                let n = row.int(0)?;
                u64::try_from(n).ok().and_then(NhsNumber::from_stored).ok_or_else(|| StoreError::InvalidStored {
                    entity: "opt_out",
                    key: n.to_string(),
                    reason: "not a valid NHS number".into(),
                })
            })
            .collect()
    }
}
