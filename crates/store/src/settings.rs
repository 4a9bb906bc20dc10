//! Deployment settings kept with the data, and the audit lines of data releases (extracts): a
//! read that hands patient-level data out of the system is logged like a change.

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Value};
use crate::{Result, Store};

impl Store {
    /// The setting `name`; on first use it is set to `initial`. The first writer wins, so two
    /// servers starting at once agree on one value.
    pub async fn setting_or_init(&self, name: &str, initial: &str) -> Result<String> {
        self.db
            .in_write(async |tx| {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    vec![Value::text(name), Value::text(initial)],
                )
                .await?;
                let row = tx
                    .fetch_one("SELECT value FROM settings WHERE name = $1", vec![Value::text(name)], &[Kind::Text])
                    .await?;
                Ok(row.text(0)?.to_owned())
            })
            .await
    }

    /// Logs that `actor` took an extract: entity `extract`, action `export`, the key describing
    /// what was released (e.g. `records year=2023 service=all rows=1204`).
    pub async fn audit_extract(&self, actor: &str, description: &str) -> Result<()> {
        let cx = AuditContext { at: time::OffsetDateTime::now_utc(), actor, batch_id: None };
        let row = AuditRow { action: "export", key: description.to_owned(), before: None, after: None };
        self.db.in_write(async |tx| audit::write(tx, &cx, "extract", vec![row]).await).await
    }
}

#[cfg(test)]
mod tests {
    use crate::{AuditFilter, Store};

    async fn first_value_wins_and_extracts_are_audited(store: Store) {
        let key = store.setting_or_init("pseudonym_key", "first").await.expect("init");
        assert_eq!(key, "first");
        let again = store.setting_or_init("pseudonym_key", "second").await.expect("read");
        assert_eq!(again, "first", "an existing setting is never replaced");

        store.audit_extract("ana", "records year=2023 service=all rows=12").await.expect("audit");
        let log =
            store.audit_log(&AuditFilter { entity: Some("extract".into()), ..Default::default() }).await.expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].actor.as_str(), log[0].action.as_str()), ("ana", "export"));
        assert_eq!(log[0].entity_key, "records year=2023 service=all rows=12");
    }

    #[tokio::test]
    async fn sqlite() {
        crate::tests::run_sqlite(|store, _| first_value_wins_and_extracts_are_audited(store)).await
    }

    #[tokio::test]
    async fn postgres() {
        crate::tests::run_postgres(|store, _| first_value_wins_and_extracts_are_audited(store)).await
    }
}
