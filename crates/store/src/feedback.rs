//! Feedback on the public report pages: what a reader wrote, on which page, and whether the page
//! helped. Not patient data: it is neither audited nor counted in the data version (a new comment
//! must not invalidate cached KPI results).

use crate::db::{Kind, Value};
use crate::{Result, Store};
use time::OffsetDateTime;

/// Feedback as a reader sends it (the web layer checks lengths before it gets here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFeedback {
    /// The page it is about, e.g. `benchmarks 2024`.
    pub page: String,
    /// "Did this page help you?" — `None` when not answered.
    pub helpful: Option<bool>,
    pub message: String,
    /// An e-mail address or other way to reply, if the reader gave one.
    pub contact: Option<String>,
}

/// Stored feedback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feedback {
    pub id: i64,
    pub created_at: OffsetDateTime,
    pub page: String,
    pub helpful: Option<bool>,
    pub message: String,
    pub contact: Option<String>,
}

impl Store {
    /// Stores one piece of feedback; returns its id.
    pub async fn insert_feedback(&self, feedback: &NewFeedback) -> Result<i64> {
        let helpful = feedback.helpful.map(|h| if h { "yes" } else { "no" });
        self.db
            .in_write(async |tx| {
                let row = tx
                    .fetch_one(
                        "INSERT INTO feedback (created_at, page, helpful, message, contact) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        vec![
                            Value::Time(Some(OffsetDateTime::now_utc())),
                            Value::text(&feedback.page),
                            Value::Text(helpful.map(str::to_owned)),
                            Value::text(&feedback.message),
                            Value::Text(feedback.contact.clone()),
                        ],
                        &[Kind::Int],
                    )
                    .await?;
                row.int(0)
            })
            .await
    }

    /// The newest `limit` pieces of feedback, newest first.
    pub async fn feedback(&self, limit: u32) -> Result<Vec<Feedback>> {
        let rows = self
            .db
            .in_read(async |tx| {
                tx.fetch(
                    "SELECT id, created_at, page, helpful, message, contact FROM feedback \
                     ORDER BY id DESC LIMIT $1",
                    vec![Value::Int(Some(i64::from(limit)))],
                    &[Kind::Int, Kind::Time, Kind::Text, Kind::Text, Kind::Text, Kind::Text],
                )
                .await
            })
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Feedback {
                    id: r.int(0)?,
                    created_at: r.time(1)?,
                    page: r.text(2)?.to_owned(),
                    helpful: r.opt_text(3)?.map(|h| h == "yes"),
                    message: r.text(4)?.to_owned(),
                    contact: r.opt_text(5)?.map(str::to_owned),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::NewFeedback;
    use crate::Store;

    async fn stored_and_listed_newest_first(store: Store) {
        assert!(store.feedback(10).await.expect("empty list").is_empty());
        let version = store.data_version().await.expect("version");
        let first = NewFeedback {
            page: "benchmarks 2024".into(),
            helpful: Some(true),
            message: "Clear, thank you.".into(),
            contact: None,
        };
        let second = NewFeedback {
            page: "about".into(),
            helpful: None,
            message: "What is a DXA scan? ünïcödé ' \" <b>".into(),
            contact: Some("reader@example.org".into()),
        };
        let a = store.insert_feedback(&first).await.expect("insert");
        let b = store.insert_feedback(&second).await.expect("insert");
        assert!(b > a);
        let list = store.feedback(10).await.expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].id, list[0].page.as_str(), list[0].helpful), (b, "about", None));
        assert_eq!(list[0].message, second.message);
        assert_eq!(list[0].contact.as_deref(), Some("reader@example.org"));
        assert_eq!((list[1].id, list[1].helpful, list[1].contact.as_deref()), (a, Some(true), None));
        assert_eq!(store.feedback(1).await.expect("limited").len(), 1);
        assert_eq!(store.data_version().await.expect("version"), version, "feedback is not KPI data");
    }

    #[tokio::test]
    async fn sqlite() {
        crate::tests::run_sqlite(|store, _| stored_and_listed_newest_first(store)).await
    }

    #[tokio::test]
    async fn postgres() {
        crate::tests::run_postgres(|store, _| stored_and_listed_newest_first(store)).await
    }
}
