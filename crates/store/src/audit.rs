//! The append-only audit log: written only inside the transaction of the change it records.

use crate::db::{Kind, Tx, Value};
use crate::{Result, Store};
use time::OffsetDateTime;

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    /// The user (free text until the web layer brings accounts).
    pub actor: String,
    /// `insert`, `update`, `delete` (caseloads) or `import` (a batch summary).
    pub action: String,
    /// `record`, `service`, `caseload`, `opt_out` or `import_batch`.
    pub entity: String,
    /// `BNT/12345` for a record, the code for a service, `BNT/2021` for a caseload, the NHS
    /// number for an opt-out, the batch id for a batch.
    pub entity_key: String,
    pub batch_id: Option<i64>,
    /// JSON object of the changed fields before (`null` = was empty); `None` for an insert.
    pub before: Option<String>,
    /// JSON object of the changed fields after: for an update the new values, for a service or
    /// caseload insert every non-empty field; `None` for a record insert (see the crate docs).
    pub after: Option<String>,
}

/// Which audit lines to read; newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_key: Option<String>,
    pub batch_id: Option<i64>,
    pub limit: Option<u32>,
}

/// One audit line to write; the shared parts (time, actor, entity, batch) come with the call.
pub(crate) struct AuditRow {
    pub action: &'static str,
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Who, when and in which batch a set of audit rows happened.
pub(crate) struct AuditContext<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub batch_id: Option<i64>,
}

/// Rows per multi-row INSERT (4 parameters each, well under both backends' limits).
const AUDIT_CHUNK: usize = 1000;

/// Appends `rows` about `entity` to the log, inside `tx`.
pub(crate) async fn write(tx: &mut Tx, cx: &AuditContext<'_>, entity: &str, rows: Vec<AuditRow>) -> Result<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<AuditRow> = rows.by_ref().take(AUDIT_CHUNK).collect();
        // Shared parameters first ($1 time, $2 actor, $3 entity, $4 batch), so the numbers only
        // rise through the statement (see `Tx::dialect`).
        let tuples: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 5 + 4 * i;
                format!("($1, $2, ${}, $3, ${}, $4, ${}, ${})", p, p + 1, p + 2, p + 3)
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (logged_at, actor, action, entity, entity_key, batch_id, before_values, after_values) \
             VALUES {}",
            tuples.join(", ")
        );
        let mut params = Vec::with_capacity(4 + 4 * chunk.len());
        params.extend([Value::Time(Some(cx.at)), Value::text(cx.actor), Value::text(entity), Value::Int(cx.batch_id)]);
        for row in chunk {
            params.extend([
                Value::text(row.action),
                Value::text(row.key),
                Value::Text(row.before),
                Value::Text(row.after),
            ]);
        }
        tx.execute(&sql, params).await?;
    }
    Ok(())
}

impl Store {
    /// Reads the audit log, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        for (column, value) in [
            ("entity", filter.entity.clone().map(Value::text)),
            ("entity_key", filter.entity_key.clone().map(Value::text)),
            ("batch_id", filter.batch_id.map(|b| Value::Int(Some(b)))),
        ] {
            if let Some(v) = value {
                params.push(v);
                conditions.push(format!("{column} = ${}", params.len()));
            }
        }
        let mut sql = String::from(
            "SELECT id, logged_at, actor, action, entity, entity_key, batch_id, before_values, after_values \
             FROM audit_log",
        );
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        use Kind::*;
        let kinds = [Int, Time, Text, Text, Text, Text, Int, Text, Text];
        let rows = self.db.in_read(async |tx| tx.fetch(&sql, params, &kinds).await).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.int(0)?,
                    at: r.time(1)?,
                    actor: r.text(2)?.to_owned(),
                    action: r.text(3)?.to_owned(),
                    entity: r.text(4)?.to_owned(),
                    entity_key: r.text(5)?.to_owned(),
                    batch_id: r.opt_int(6)?,
                    before: r.opt_text(7)?.map(str::to_owned),
                    after: r.opt_text(8)?.map(str::to_owned),
                })
            })
            .collect()
    }
}
