//! Benchmark tables to download (`flsdb report benchmarks` on the live database): any
//! logged-in user may take the published table (small numbers suppressed); national admins and
//! analysts may also take the exact one. Computed from the dashboards' cached KPI results, so a
//! table regenerated after new data arrives is never stale.

use crate::AppState;
use crate::auth::Auth;
use crate::dashboards::select;
use crate::error::WebError;
use crate::kpi_cache;
use crate::pages::{Nav, html};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flsdb_kpi::{Disclosure, set_by_name};
use flsdb_store::Role;
use serde::Deserialize;

fn may_take_exact(auth: &Auth) -> bool {
    matches!(auth.role(), Role::NationalAdmin | Role::Analyst)
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    years: Vec<i32>,
    year: i32,
    exact: bool,
}

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    year: Option<String>,
    published: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let sel = select(&state, q.year.as_deref(), None)?;
    html(ReportsPage { nav: Nav::new(&auth), years: sel.years, year: sel.year, exact: may_take_exact(&auth) })
}

/// `GET /reports/benchmarks.{xlsx|csv}?year=YYYY[&published=0]`.
pub async fn benchmarks(
    State(state): State<AppState>,
    auth: Auth,
    Path(file): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let xlsx = match file.as_str() {
        "benchmarks.xlsx" => true,
        "benchmarks.csv" => false,
        _ => return Err(WebError::NotFound),
    };
    let published = q.published.as_deref() != Some("0");
    if !published && !may_take_exact(&auth) {
        return Err(WebError::Forbidden);
    }
    let sel = select(&state, q.year.as_deref(), None)?;
    let key = kpi_cache::key(&state, sel.period, sel.set).await?;
    let computed = kpi_cache::report(&state, &key).await?;
    let set = set_by_name(sel.set).ok_or_else(|| WebError::Internal(anyhow::anyhow!("{} is built in", sel.set)))?;
    // The database's data version identifies the data (the CLI's fingerprint hashes a file's records).
    let identity = format!("flsdb database, data version {}", key.version);
    let table = flsdb_report::benchmarks(&computed.exact, &set, published, &Disclosure::default(), &identity);
    let (bytes, content_type) = if xlsx {
        let bytes = flsdb_report::to_xlsx(&table).map_err(|e| WebError::Internal(e.into()))?;
        (bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else {
        (flsdb_report::to_csv(&table).into_bytes(), "text/csv; charset=utf-8")
    };
    let kind = if published { "published" } else { "exact" };
    let name = format!("attachment; filename=\"benchmarks-{}-{kind}.{}\"", sel.year, if xlsx { "xlsx" } else { "csv" });
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, name)], bytes).into_response())
}
