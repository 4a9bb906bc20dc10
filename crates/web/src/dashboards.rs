//! Dashboards: a service's KPIs (cards with interval, band, national value and not-yet-due/died
//! counts, an SPC chart per KPI, kpi1's poor fields), and the benchmark table with funnel plots for
//! the national team (every service) and for commissioners (their services only, combined and one
//! by one). Aggregated figures only: no page here reads or shows a patient record.
//!
//! Who sees what: clinicians and service leads the service dashboard of their own services;
//! commissioners those of their services and the commissioner dashboard; national admins and
//! analysts everything, including any commissioner's view. Another service is "not found".

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::kpi_cache::{self, Computed, FunnelView, SpcView};
use crate::pages::{Nav, html};
use crate::records::encode;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use flsdb_dataset::ServiceCode;
use flsdb_kpi::definition::Measure;
use flsdb_kpi::{
    Band, ColumnKind, Decoration, Entry, FunnelStatus, KpiValue, Kpis, Number, Period, SET_NAMES, Shown, format_percent,
};
use flsdb_store::Role;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct DashQuery {
    pub service: Option<String>,
    pub year: Option<String>,
    pub set: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub commissioner: Option<String>,
}

/// The period and set a page shows, and the choices offered.
pub struct Selection {
    pub period: Period,
    pub year: i32,
    pub years: Vec<i32>,
    pub set: &'static str,
    pub sets: Vec<&'static str>,
}

/// `year` (default: the last calendar year that ended before today) and `set` (default fls-db).
pub fn select(state: &AppState, year: Option<&str>, set: Option<&str>) -> Result<Selection, WebError> {
    let today = state.config.today();
    let default = Period::default_for(today).map_err(|e| WebError::Internal(e.into()))?;
    let years: Vec<i32> = (today.year() - 8..=today.year()).rev().collect();
    let year = match year.map(str::trim).filter(|y| !y.is_empty()) {
        None => default.from().year(),
        Some(text) => match text.parse::<i32>() {
            Ok(y) if years.contains(&y) => y,
            _ => {
                return Err(WebError::BadRequest(format!(
                    "{text:?} is not a year this page can show: choose one from {} to {}",
                    today.year() - 8,
                    today.year()
                )));
            }
        },
    };
    let period = Period::calendar_year(year).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let set = match set.map(str::trim).filter(|s| !s.is_empty()) {
        None => SET_NAMES[0],
        Some(name) => SET_NAMES.iter().copied().find(|n| n.eq_ignore_ascii_case(name)).ok_or_else(|| {
            WebError::BadRequest(format!("unknown KPI set {name:?}: use one of {}", SET_NAMES.join(", ")))
        })?,
    };
    Ok(Selection { period, year, years, set, sets: SET_NAMES.to_vec() })
}

// ------------------------------------------------------------------------------------------------
// Formatting shared with the public pages

pub fn count(s: &Shown<u64>) -> String {
    match s {
        Shown::Value(n) => n.to_string(),
        Shown::Suppressed => "*".into(),
    }
}

pub fn number(n: &Option<Shown<Number>>) -> String {
    match n {
        None => "–".into(),
        Some(Shown::Suppressed) => "*".into(),
        Some(Shown::Value(Number::Count(c))) => c.to_string(),
        // `+ 0.0` turns a negative zero (an empty sum) into 0.
        Some(Shown::Value(Number::Decimal(x))) => format!("{:.1}", x + 0.0),
    }
}

pub fn band_class(b: &Option<Shown<Band>>) -> &'static str {
    match b {
        Some(Shown::Value(Band::Green)) => "green",
        Some(Shown::Value(Band::Amber)) => "amber",
        Some(Shown::Value(Band::Red)) => "red",
        Some(Shown::Suppressed) => "suppressed",
        None => "none",
    }
}

/// The percent as `flsdb kpi --format table` shows it (one decimal, `*`, `–` when undefined).
pub fn percent(e: &Entry) -> String {
    match e.display_percent().as_str() {
        "-" => "–".into(),
        p => p.to_owned(),
    }
}

fn ci_text(e: &Entry) -> String {
    match &e.ci95 {
        Some(Shown::Value([lo, hi])) => format!("{}–{}%", format_percent(*lo), format_percent(*hi)),
        Some(Shown::Suppressed) => "*".into(),
        None => String::new(),
    }
}

fn funnel_text(e: &Entry) -> &'static str {
    let status = match e.decoration {
        Decoration::Service { funnel_adjusted, .. } => funnel_adjusted,
        _ => None,
    };
    match status {
        Some(FunnelStatus::AlarmLow) => "below the 99.8% limit",
        Some(FunnelStatus::AlertLow) => "below the 95% limit",
        Some(FunnelStatus::Within) => "within the limits",
        Some(FunnelStatus::AlertHigh) => "above the 95% limit",
        Some(FunnelStatus::AlarmHigh) => "above the 99.8% limit",
        Some(FunnelStatus::TooFew) => "too few patients to compare",
        None => "",
    }
}

// ------------------------------------------------------------------------------------------------
// Service dashboard

/// One KPI card.
pub struct Card {
    pub id: String,
    pub name: String,
    pub percent: String,
    pub band: &'static str,
    pub ci: String,
    pub numerator: String,
    pub denominator: String,
    pub caseload: bool,
    pub national: String,
    pub national_band: &'static str,
    pub follow_up: bool,
    pub not_due: String,
    pub died: String,
    pub funnel: &'static str,
}

/// kpi1 of a service: good or poor, and the fields whose missing rate is above the threshold.
pub struct Completeness {
    pub status: &'static str,
    pub band: &'static str,
    pub poor_fields: u64,
    /// (field, missing rate as a percent, records it applies to)
    pub poor: Vec<(String, String, u64)>,
    pub national: String,
    pub national_band: &'static str,
}

fn card(computed: &Computed, id: &str, name: &str, e: &Entry, national: Option<&Entry>) -> Card {
    let follow_up = matches!(
        computed.set.kpi(id).map(|k| &k.measure),
        Some(Measure::Proportion(p)) if p.denominator.follow_up.is_some()
    );
    Card {
        id: id.to_owned(),
        name: name.to_owned(),
        percent: percent(e),
        band: band_class(&e.band),
        ci: ci_text(e),
        numerator: count(&e.numerator),
        denominator: number(&e.denominator),
        caseload: matches!(e.exact.denominator, Some(Number::Decimal(_))) || e.exact.denominator.is_none(),
        national: national.map_or_else(|| "–".into(), percent),
        national_band: national.map_or("none", |n| band_class(&n.band)),
        follow_up,
        not_due: count(&e.not_due),
        died: count(&e.died),
        funnel: funnel_text(e),
    }
}

fn completeness(computed: &Computed, kpis: &Kpis, id: &str) -> Option<Completeness> {
    let KpiValue::Completeness(c) = kpis.get(id)? else { return None };
    let national = computed.exact.overall.kpis.entry(id);
    let (status, band) = match c.good {
        Some(true) => ("good", "green"),
        Some(false) => ("poor", "red"),
        None => ("no records in the period", "none"),
    };
    let poor = c
        .missing_rate
        .iter()
        .filter(|f| f.poor)
        .map(|f| {
            let rate = match &f.rate {
                Some(Shown::Value(r)) => format!("{}%", format_percent(r * 100.0)),
                Some(Shown::Suppressed) => "*".into(),
                None => "–".into(),
            };
            (f.field.replace('_', " "), rate, f.applies)
        })
        .collect();
    Some(Completeness {
        status,
        band,
        poor_fields: c.poor_fields,
        poor,
        national: national.map_or_else(|| "–".into(), percent),
        national_band: national.map_or("none", |n| band_class(&n.band)),
    })
}

#[derive(Template)]
#[template(path = "dashboard_service.html")]
struct ServicePage {
    nav: Nav,
    code: String,
    name: String,
    services: Vec<(String, String)>,
    sel: Selection,
    period: String,
    as_of: String,
    records: String,
    /// Patients of this service's records who broke again within two years (patient roles only).
    refractures: Option<usize>,
    /// Cards, kpi1 and charts: the same for every user, rendered once per cache key.
    body: Arc<String>,
}

#[derive(Template)]
#[template(path = "dashboard_service_body.html")]
struct ServiceBody {
    cards: Vec<Card>,
    kpi1: Option<Completeness>,
    charts: Arc<Vec<SpcView>>,
    /// The KPIs below green, most actionable first (`flsdb_qi::next_priorities`).
    priorities: Vec<flsdb_qi::Priority>,
}

/// The services whose dashboards this user may open (`None` = every service).
fn dashboard_services(auth: &Auth) -> Option<&[ServiceCode]> {
    match auth.role() {
        Role::NationalAdmin | Role::Analyst => None,
        Role::Clinician | Role::ServiceLead | Role::Commissioner => Some(&auth.user.services),
    }
}

/// `/dashboard`: the dashboard of the user's role.
pub async fn index(auth: Auth) -> Result<Response, WebError> {
    Ok(Redirect::to(match auth.role() {
        Role::Clinician | Role::ServiceLead => "/dashboard/service",
        Role::Commissioner => "/dashboard/commissioner",
        Role::NationalAdmin | Role::Analyst => "/dashboard/national",
    })
    .into_response())
}

pub async fn service(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<DashQuery>,
) -> Result<Response, WebError> {
    let sel = select(&state, query.year.as_deref(), query.set.as_deref())?;
    let key = kpi_cache::key(&state, sel.period, sel.set).await?;
    let computed = kpi_cache::report(&state, &key).await?;
    let allowed = dashboard_services(&auth);
    let services: Vec<(String, String)> = computed
        .services
        .iter()
        .filter(|s| allowed.is_none_or(|a| a.contains(&s.code)))
        .map(|s| (s.code.as_str().to_owned(), s.name.clone()))
        .collect();
    let code = match query.service.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(asked) => ServiceCode::parse(asked).ok_or(WebError::NotFound)?,
        None => match services.first() {
            Some((first, _)) => ServiceCode::parse(first).ok_or(WebError::NotFound)?,
            None => return Err(WebError::BadRequest("no service is linked to your account".into())),
        },
    };
    if !services.iter().any(|(c, _)| c == code.as_str()) {
        return Err(WebError::NotFound);
    }
    let row = computed.exact.service(code.as_str()).ok_or(WebError::NotFound)?;
    let body = kpi_cache::html(&state, &key, format!("service {}", row.code), async || {
        let charts = kpi_cache::service_charts(&state, &computed, &code).await?;
        let mut cards = Vec::new();
        let mut kpi1 = None;
        for column in &computed.exact.columns {
            match column.kind {
                ColumnKind::Proportion | ColumnKind::Identification => {
                    if let Some(e) = row.kpis.entry(&column.id) {
                        let national = computed.exact.overall.kpis.entry(&column.id);
                        cards.push(card(&computed, &column.id, &column.name, e, national));
                    }
                }
                ColumnKind::Completeness { .. } => kpi1 = completeness(&computed, &row.kpis, &column.id),
                ColumnKind::Inputs { .. } => {}
            }
        }
        let priorities = flsdb_qi::next_priorities(&computed.set, &computed.exact, code.as_str())
            .into_iter()
            .filter(|p| p.patients_to_next_band.is_some_and(|k| k > 0))
            .take(5)
            .collect();
        Ok(ServiceBody { cards, kpi1, charts, priorities }.render()?)
    })
    .await?;
    html(ServicePage {
        nav: Nav::new(&auth),
        code: row.code.clone(),
        name: row.name.clone(),
        services,
        period: sel.period.to_string(),
        as_of: flsdb_dataset::values::format_date(key.as_of),
        sel,
        records: count(&row.records),
        refractures: match auth.patient_scope(&code) {
            Ok(()) => Some(
                kpi_cache::recent_refractures(&state, key.version)
                    .await?
                    .iter()
                    .filter(|r| r.earlier.service == code)
                    .count(),
            ),
            Err(_) => None,
        },
        body,
    })
}

// ------------------------------------------------------------------------------------------------
// Benchmark tables (national, commissioner and public)

/// One cell of the benchmark table.
pub struct TableCell {
    pub kpi: String,
    pub text: String,
    pub band: &'static str,
    /// "k of n" as shown (published counts on the public page).
    pub counts: String,
    sort: Option<f64>,
}

pub struct TableRow {
    /// `national`, `combined` or `service`.
    pub kind: &'static str,
    pub name: String,
    pub code: String,
    pub records: String,
    pub cells: Vec<TableCell>,
    pub href: String,
    records_sort: f64,
}

pub struct TableHead {
    pub id: String,
    pub name: String,
    pub href: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    pub aria: &'static str,
}

pub struct Table {
    pub heads: Vec<TableHead>,
    pub name_head: TableHead,
    pub records_head: TableHead,
    pub rows: Vec<TableRow>,
}

fn table_cell(id: &str, value: Option<&KpiValue>) -> TableCell {
    match value {
        Some(KpiValue::Proportion(e)) => TableCell {
            kpi: id.to_owned(),
            text: percent(e),
            band: band_class(&e.band),
            counts: format!("{} of {}", count(&e.numerator), number(&e.denominator)),
            sort: e.percent.as_ref().and_then(|p| p.value().copied()),
        },
        Some(KpiValue::Completeness(c)) => {
            let (text, band, sort) = match c.good {
                Some(true) => ("good", "green", Some(1.0)),
                Some(false) => ("poor", "red", Some(0.0)),
                None => ("–", "none", None),
            };
            TableCell {
                kpi: id.to_owned(),
                text: text.into(),
                band,
                counts: format!("{} poor fields", c.poor_fields),
                sort,
            }
        }
        _ => TableCell { kpi: id.to_owned(), text: "–".into(), band: "none", counts: String::new(), sort: None },
    }
}

/// What goes into a table: the leading rows (national, combined) stay first; services are sorted.
pub struct TableInput<'a> {
    pub report: &'a flsdb_kpi::Report,
    pub leading: Vec<(&'static str, String, &'a Shown<u64>, &'a Kpis)>,
    pub keep: &'a dyn Fn(&str) -> bool,
    /// Query string (without sort/dir) the header links keep, e.g. `year=2024&set=fls-db`.
    pub base: String,
    /// Link of a service row (`None`: not linked).
    pub service_href: Option<&'a dyn Fn(&str) -> String>,
    pub sort: Option<&'a str>,
    pub dir: Option<&'a str>,
}

pub fn table(input: TableInput<'_>) -> Table {
    let columns: Vec<&flsdb_kpi::KpiColumn> =
        input.report.columns.iter().filter(|c| !matches!(c.kind, ColumnKind::Inputs { .. })).collect();
    let sort =
        input.sort.filter(|s| *s == "name" || *s == "code" || *s == "records" || columns.iter().any(|c| c.id == *s));
    let descending = input.dir == Some("desc");
    let head = |id: &str, name: &str| {
        let current = sort == Some(id);
        let next = if current && !descending { "desc" } else { "asc" };
        TableHead {
            id: id.to_owned(),
            name: name.to_owned(),
            href: format!("?{}&sort={}&dir={next}", input.base, encode(id)),
            aria: match (current, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    };
    let cells = |kpis: &Kpis| columns.iter().map(|c| table_cell(&c.id, kpis.get(&c.id))).collect::<Vec<_>>();
    let as_sort = |s: &Shown<u64>| s.value().map_or(-1.0, |v| *v as f64);
    let mut rows: Vec<TableRow> = input
        .leading
        .iter()
        .map(|(kind, name, records, kpis)| TableRow {
            kind,
            name: name.clone(),
            code: String::new(),
            records: count(records),
            cells: cells(kpis),
            href: String::new(),
            records_sort: as_sort(records),
        })
        .collect();
    let mut services: Vec<TableRow> = input
        .report
        .services
        .iter()
        .filter(|s| (input.keep)(&s.code))
        .map(|s| TableRow {
            kind: "service",
            name: s.name.clone(),
            code: s.code.clone(),
            records: count(&s.records),
            cells: cells(&s.kpis),
            href: input.service_href.map(|f| f(&s.code)).unwrap_or_default(),
            records_sort: as_sort(&s.records),
        })
        .collect();
    if let Some(by) = sort {
        let index = columns.iter().position(|c| c.id == by);
        services.sort_by(|a, b| {
            let order = match (by, index) {
                ("name", _) => a.name.cmp(&b.name),
                ("code", _) => a.code.cmp(&b.code),
                ("records", _) => a.records_sort.total_cmp(&b.records_sort),
                (_, Some(i)) => match (a.cells[i].sort, b.cells[i].sort) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    // Rows without a value go last in both directions.
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
                _ => std::cmp::Ordering::Equal,
            };
            let order = if descending { order.reverse() } else { order };
            order.then_with(|| a.code.cmp(&b.code))
        });
    }
    rows.extend(services);
    Table {
        heads: columns.iter().map(|c| head(&c.id, &format!("{}: {}", c.id, c.name))).collect(),
        name_head: head("name", "Service"),
        records_head: head("records", "Records"),
        rows,
    }
}

#[derive(Template)]
#[template(path = "dashboard_table.html")]
struct TablePage {
    nav: Nav,
    title: String,
    lead: String,
    action: &'static str,
    /// Registry commissioners to choose from (national roles only).
    commissioners: Vec<String>,
    commissioner: String,
    sel: Selection,
    period: String,
    as_of: String,
    set_version: String,
    table: Table,
    funnels: Vec<FunnelView>,
}

fn base_query(sel: &Selection, extra: &[(&str, &str)]) -> String {
    let mut q = format!("year={}&set={}", sel.year, encode(sel.set));
    for (k, v) in extra {
        q.push_str(&format!("&{k}={}", encode(v)));
    }
    q
}

pub async fn national(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<DashQuery>,
) -> Result<Response, WebError> {
    if !matches!(auth.role(), Role::NationalAdmin | Role::Analyst) {
        return Err(WebError::Forbidden);
    }
    let sel = select(&state, query.year.as_deref(), query.set.as_deref())?;
    let key = kpi_cache::key(&state, sel.period, sel.set).await?;
    let computed = kpi_cache::report(&state, &key).await?;
    let base = base_query(&sel, &[]);
    let link = |code: &str| format!("/dashboard/service?service={}&{base}", encode(code));
    let table = table(TableInput {
        report: &computed.exact,
        leading: vec![(
            "national",
            "National (all services)".into(),
            &computed.exact.overall.records,
            &computed.exact.overall.kpis,
        )],
        keep: &|_| true,
        base: base.clone(),
        service_href: Some(&link),
        sort: query.sort.as_deref(),
        dir: query.dir.as_deref(),
    });
    html(TablePage {
        nav: Nav::new(&auth),
        title: "National dashboard".into(),
        lead: format!(
            "Every service's KPIs, exact figures (not for publication: the public page applies small-number \
             suppression). {} services.",
            computed.exact.services.len()
        ),
        action: "/dashboard/national",
        commissioners: Vec::new(),
        commissioner: String::new(),
        period: sel.period.to_string(),
        as_of: flsdb_dataset::values::format_date(key.as_of),
        set_version: computed.exact.kpi_set_version.clone(),
        sel,
        table,
        funnels: computed.national_funnels().to_vec(),
    })
}

pub async fn commissioner(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<DashQuery>,
) -> Result<Response, WebError> {
    let sel = select(&state, query.year.as_deref(), query.set.as_deref())?;
    let key = kpi_cache::key(&state, sel.period, sel.set).await?;
    let computed = kpi_cache::report(&state, &key).await?;
    let (codes, chosen, commissioners, label) = match auth.role() {
        Role::Commissioner => (auth.user.services.clone(), String::new(), Vec::new(), "Your services".to_owned()),
        Role::NationalAdmin | Role::Analyst => {
            let mut names: Vec<String> = computed.services.iter().filter_map(|s| s.commissioner.clone()).collect();
            names.sort();
            names.dedup();
            let chosen = match query.commissioner.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) if names.iter().any(|n| n == c) => c.to_owned(),
                Some(_) => return Err(WebError::NotFound),
                None => names.first().cloned().unwrap_or_default(),
            };
            let codes = computed
                .services
                .iter()
                .filter(|s| s.commissioner.as_deref() == Some(chosen.as_str()))
                .map(|s| s.code.clone())
                .collect();
            let label = format!("{chosen} (combined)");
            (codes, chosen, names, label)
        }
        Role::Clinician | Role::ServiceLead => return Err(WebError::Forbidden),
    };
    let combined = kpi_cache::combined(&state, &computed, &codes).await?;
    let mine = |code: &str| codes.iter().any(|c| c.as_str() == code);
    let extra: Vec<(&str, &str)> = if chosen.is_empty() { Vec::new() } else { vec![("commissioner", chosen.as_str())] };
    let base = base_query(&sel, &extra);
    let link = |code: &str| format!("/dashboard/service?service={}&{}", encode(code), base_query(&sel, &[]));
    let table = table(TableInput {
        report: &computed.exact,
        leading: vec![
            (
                "national",
                "National (all services)".into(),
                &computed.exact.overall.records,
                &computed.exact.overall.kpis,
            ),
            ("combined", label, &combined.overall.records, &combined.overall.kpis),
        ],
        keep: &mine,
        base,
        service_href: Some(&link),
        sort: query.sort.as_deref(),
        dir: query.dir.as_deref(),
    });
    let funnels = computed.funnels_of(mine, true);
    html(TablePage {
        nav: Nav::new(&auth),
        title: if chosen.is_empty() { "Commissioner dashboard".into() } else { format!("Commissioner: {chosen}") },
        lead: format!(
            "{} services: each service's KPIs and the services combined, against the national figures. \
             Funnel plots show these services only, against the national limits.",
            codes.len()
        ),
        action: "/dashboard/commissioner",
        commissioners,
        commissioner: chosen.clone(),
        period: sel.period.to_string(),
        as_of: flsdb_dataset::values::format_date(key.as_of),
        set_version: computed.exact.kpi_set_version.clone(),
        sel,
        table,
        funnels,
    })
}
