//! Follow-up worklists: records whose 16-week follow-up is due (day 84 reached) or overdue (past
//! day 112) and not recorded, and the same for 52 weeks (day 336 / past day 392). Patients who
//! have died are left off. Scoped to the user's services.

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::pages::{Nav, html};
use crate::records::{encode, records_in, scoped_services};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flsdb_dataset::{Field, Record};
use serde::Deserialize;
use time::Date;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Week16,
    Week52,
}

impl Which {
    /// (due from day, overdue after day)
    fn window(self) -> (i64, i64) {
        match self {
            Which::Week16 => (84, 112),
            Which::Week52 => (336, 392),
        }
    }

    fn recorded(self, r: &Record) -> bool {
        match self {
            Which::Week16 => r.followup16.is_some() || r.followup16_date.is_some(),
            Which::Week52 => r.followup52.is_some() || r.followup52_date.is_some(),
        }
    }
}

pub struct Item {
    pub service: String,
    pub local_id: String,
    pub href: String,
    pub fracture_date: String,
    pub days: i64,
    pub due_date: String,
    pub status: &'static str,
}

/// The worklist entries of `records` on `today`.
fn items(records: &[Record], which: Which, today: Date) -> Vec<Item> {
    let (from, over) = which.window();
    records
        .iter()
        .filter(|r| r.death_date.is_none() && !which.recorded(r))
        .filter_map(|r| {
            let days = (today - r.fracture_date).whole_days();
            (days >= from).then(|| Item {
                service: r.service_code.as_str().to_owned(),
                local_id: r.local_id.as_str().to_owned(),
                href: format!(
                    "/records/{}/{}/{}",
                    r.service_code.as_str(),
                    encode(r.local_id.as_str()),
                    if which == Which::Week16 { "followup16" } else { "followup52" }
                ),
                fracture_date: r.cell(Field::FractureDate),
                days,
                due_date: flsdb_dataset::values::format_date(r.fracture_date + time::Duration::days(over)),
                status: if days > over { "overdue" } else { "due" },
            })
        })
        .collect()
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub due16: usize,
    pub overdue16: usize,
    pub due52: usize,
    pub overdue52: usize,
}

pub async fn counts(state: &AppState, auth: &Auth) -> Result<Counts, WebError> {
    let services = scoped_services(auth, None)?;
    let records = records_in(state, &services, None).await?;
    let today = state.config.today();
    let mut c = Counts::default();
    for i in items(&records, Which::Week16, today) {
        if i.status == "due" { c.due16 += 1 } else { c.overdue16 += 1 }
    }
    for i in items(&records, Which::Week52, today) {
        if i.status == "due" { c.due52 += 1 } else { c.overdue52 += 1 }
    }
    Ok(c)
}

#[derive(Deserialize, Default)]
pub struct WorklistQuery {
    kind: Option<String>,
    service: Option<String>,
    status: Option<String>,
    sort: Option<String>,
}

struct Selection {
    which: Which,
    service: String,
    status: String,
    sort: String,
    items: Vec<Item>,
}

async fn select(state: &AppState, auth: &Auth, query: WorklistQuery) -> Result<Selection, WebError> {
    let which = match query.kind.as_deref() {
        None | Some("" | "16") => Which::Week16,
        Some("52") => Which::Week52,
        Some(other) => return Err(WebError::BadRequest(format!("unknown worklist {other:?}: use 16 or 52"))),
    };
    let services = scoped_services(auth, query.service.as_deref())?;
    let records = records_in(state, &services, None).await?;
    let mut items = items(&records, which, state.config.today());
    let status = query.status.unwrap_or_default();
    if matches!(status.as_str(), "due" | "overdue") {
        items.retain(|i| i.status == status);
    }
    let sort = query.sort.unwrap_or_else(|| "oldest".into());
    match sort.as_str() {
        "local_id" => items.sort_by(|a, b| (&a.service, &a.local_id).cmp(&(&b.service, &b.local_id))),
        "newest" => items.sort_by_key(|i| i.days),
        _ => items.sort_by_key(|i| std::cmp::Reverse(i.days)),
    }
    Ok(Selection { which, service: query.service.unwrap_or_default(), status, sort, items })
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct Page {
    nav: Nav,
    kind: &'static str,
    services: Vec<String>,
    service: String,
    status: String,
    sort: String,
    total: usize,
    items: Vec<Item>,
    csv_href: String,
}

const SHOWN: usize = 500;

pub async fn page(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<WorklistQuery>,
) -> Result<Response, WebError> {
    let mine = auth.patient_services()?.map(<[_]>::to_vec);
    let mut s = select(&state, &auth, query).await?;
    let kind = if s.which == Which::Week16 { "16" } else { "52" };
    let total = s.items.len();
    s.items.truncate(SHOWN);
    let services = match mine {
        Some(m) => m.iter().map(|c| c.as_str().to_owned()).collect(),
        None => state.store.services().await?.into_iter().map(|x| x.code.as_str().to_owned()).collect(),
    };
    let csv_href = format!(
        "/worklists.csv?kind={kind}&service={}&status={}&sort={}",
        encode(&s.service),
        encode(&s.status),
        encode(&s.sort)
    );
    html(Page {
        nav: Nav::new(&auth),
        kind,
        services,
        service: s.service,
        status: s.status,
        sort: s.sort,
        total,
        items: s.items,
        csv_href,
    })
}

pub async fn csv(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<WorklistQuery>,
) -> Result<Response, WebError> {
    let s = select(&state, &auth, query).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let write =
        |out: &mut csv::Writer<Vec<u8>>, row: &[&str]| out.write_record(row).map_err(|e| WebError::Internal(e.into()));
    write(&mut out, &["service_code", "local_id", "fracture_date", "days_since_fracture", "overdue_after", "status"])?;
    for i in &s.items {
        write(&mut out, &[&i.service, &i.local_id, &i.fracture_date, &i.days.to_string(), &i.due_date, i.status])?;
    }
    let body = out.into_inner().map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))?;
    let name = if s.which == Which::Week16 { "worklist-16-weeks.csv" } else { "worklist-52-weeks.csv" };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}
