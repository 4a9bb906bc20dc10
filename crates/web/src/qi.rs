//! Quality improvement pages: QI cycles (open, PDSA notes, verdicts from the data, close), the
//! national count of services with a complete cycle, a service's next priorities, the 16-week
//! follow-up view and refracture alerts. The answers come from `flsdb-qi`; the data from the store.
//!
//! Access: cycles are not patient data, so a service's own staff, its commissioner, analysts and
//! national admins see them; service leads (their services) and national admins open and close
//! them; staff of the service add notes. The follow-up view and refracture alerts are patient
//! level: the service's own staff and national admins only, and an alert shows another service's
//! record only as "a fracture at service X on date D" (what the alert needs, nothing more).

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::kpi_cache;
use crate::pages::{Nav, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use flsdb_charts::{ChartOptions, spc_svg};
use flsdb_dataset::ServiceCode;
use flsdb_kpi::{DenominatorMode, Engine, Period, Setup, set_by_name};
use flsdb_qi::{Aim, CycleSpec, Evaluation, Flag, PathStep, Priority};
use flsdb_store::qi::{Cycle, NewCycle, Note, STAGES};
use flsdb_store::{RecordFilter, Role, Store};
use serde::Deserialize;
use time::Date;

/// The verdicts of a stored cycle on the store's data as of `as_of` (shared with `flsdb qi`).
pub async fn judge(store: &Store, cycle: &Cycle, as_of: Date) -> anyhow::Result<Evaluation> {
    let set = set_by_name("fls-db").ok_or_else(|| anyhow::anyhow!("the fls-db set is built in"))?;
    let (services, caseloads, opt_outs) = (store.services().await?, store.caseloads().await?, store.opt_outs().await?);
    let filter = RecordFilter {
        service: Some(cycle.spec.service.clone()),
        fracture_from: Some(cycle.spec.baseline_from),
        fracture_to: Some(as_of),
    };
    let records = store.records(&filter).await?;
    let setup = Setup {
        set: &set,
        services: &services,
        caseloads: &caseloads,
        opt_outs: &opt_outs,
        // `evaluate_records` replaces the period with the cycle's own whole months.
        period: Period::new(cycle.spec.baseline_from.min(as_of), as_of)?,
        as_of,
        mode: DenominatorMode::All,
    };
    let spec = CycleSpec {
        service: cycle.spec.service.as_str(),
        kpi: &cycle.spec.kpi,
        baseline_from: cycle.spec.baseline_from,
        start: cycle.spec.start,
        aim: cycle.spec.aim.map(|(percent, by)| Aim { percent, by }),
    };
    Ok(flsdb_qi::evaluate_records(setup, &records, &spec)?)
}

/// Services whose cycles this user may see (`None` = all).
fn visible(auth: &Auth) -> Option<&[ServiceCode]> {
    if auth.role().all_services() { None } else { Some(&auth.user.services) }
}

fn may_see(auth: &Auth, service: &ServiceCode) -> bool {
    visible(auth).is_none_or(|mine| mine.contains(service))
}

/// Open and close: a service lead for their services, a national admin for all.
fn may_lead(auth: &Auth, service: &ServiceCode) -> bool {
    match auth.role() {
        Role::NationalAdmin => true,
        Role::ServiceLead => auth.user.services.contains(service),
        _ => false,
    }
}

/// Notes: the service's own staff and national admins.
fn may_note(auth: &Auth, service: &ServiceCode) -> bool {
    auth.role().sees_patients() && may_see(auth, service)
}

fn parse_code(text: &str) -> Result<ServiceCode, WebError> {
    ServiceCode::parse(text.trim()).ok_or_else(|| WebError::BadRequest(format!("{text:?} is not a service code")))
}

fn parse_day(name: &str, text: &str) -> Result<Date, String> {
    flsdb_dataset::values::parse_date(text.trim()).map_err(|e| format!("{name} {text:?}: {}", e.message))
}

pub struct CycleLine {
    pub id: i64,
    pub service: String,
    pub kpi: String,
    pub aim: String,
    pub start: String,
    pub state: String,
}

fn line(c: &Cycle) -> CycleLine {
    CycleLine {
        id: c.id,
        service: c.spec.service.as_str().to_owned(),
        kpi: c.spec.kpi.clone(),
        aim: c.spec.aim.map_or_else(String::new, |(p, by)| format!("{p}% by {by}")),
        start: c.spec.start.to_string(),
        state: match &c.closure {
            Some(x) => format!(
                "complete {}: improved {}, maintained {}",
                x.on,
                if x.improved { "yes" } else { "no" },
                if x.maintained { "yes" } else { "no" }
            ),
            None => "open".into(),
        },
    }
}

#[derive(Template)]
#[template(path = "qi_list.html")]
struct ListPage {
    nav: Nav,
    cycles: Vec<CycleLine>,
    year: i32,
    completed: usize,
    services_seen: usize,
    can_open: bool,
    kpis: Vec<(String, String)>,
    message: Option<String>,
    form: OpenForm,
}

#[derive(Deserialize, Default, Clone)]
pub struct OpenForm {
    csrf: Option<String>,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub kpi: String,
    #[serde(default)]
    pub baseline_from: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub aim: String,
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub ideas: String,
}

async fn list_page(
    state: &AppState,
    auth: &Auth,
    message: Option<String>,
    form: OpenForm,
) -> Result<Response, WebError> {
    let all = state.store.cycles(None).await?;
    let cycles: Vec<&Cycle> = all.iter().filter(|c| may_see(auth, &c.spec.service)).collect();
    let year = state.config.today().year();
    let completed = flsdb_store::qi::services_completing(cycles.iter().copied(), year);
    let services_seen = match visible(auth) {
        None => state.store.services().await?.len(),
        Some(mine) => mine.len(),
    };
    let set = set_by_name("fls-db").ok_or_else(|| WebError::Internal(anyhow::anyhow!("fls-db is built in")))?;
    let kpis = set.kpis.iter().filter(|k| k.id != "kpi1").map(|k| (k.id.clone(), k.name.clone())).collect();
    let can_open = matches!(auth.role(), Role::NationalAdmin | Role::ServiceLead);
    let failed = message.is_some();
    let mut response = html(ListPage {
        nav: Nav::new(auth),
        cycles: cycles.iter().map(|c| line(c)).collect(),
        year,
        completed,
        services_seen,
        can_open,
        kpis,
        message,
        form,
    })?;
    if failed {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn list(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    list_page(&state, &auth, None, OpenForm::default()).await
}

/// `POST /qi`: opens a cycle; a form with a problem comes back with what was typed.
pub async fn open(State(state): State<AppState>, auth: Auth, Form(form): Form<OpenForm>) -> Result<Response, WebError> {
    auth.check_csrf(form.csrf.as_deref())?;
    let service = parse_code(&form.service)?;
    if !may_lead(&auth, &service) {
        return Err(WebError::Forbidden);
    }
    let parsed = (|| -> Result<NewCycle, String> {
        let set = set_by_name("fls-db").ok_or("fls-db is built in")?;
        if set.kpi(form.kpi.trim()).is_none() {
            return Err(format!("{:?} is not a KPI", form.kpi));
        }
        let baseline_from = parse_day("baseline from", &form.baseline_from)?;
        let start = parse_day("start", &form.start)?;
        if baseline_from >= start {
            return Err(format!("the baseline ({baseline_from}) must begin before the start ({start})"));
        }
        let aim = match (form.aim.trim(), form.by.trim()) {
            ("", "") => None,
            (percent, by) => {
                let p: f64 = percent.parse().map_err(|_| format!("aim {percent:?} is not a percentage"))?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("aim {p} is not between 0 and 100"));
                }
                Some((p, parse_day("aim by", by)?))
            }
        };
        Ok(NewCycle {
            service: service.clone(),
            kpi: form.kpi.trim().to_owned(),
            aim,
            baseline_from,
            start,
            change_ideas: form.ideas.trim().to_owned(),
        })
    })();
    match parsed {
        Ok(cycle) => {
            let id = state.store.open_cycle(&auth.user.name, &cycle).await?;
            Ok(Redirect::to(&format!("/qi/{id}")).into_response())
        }
        Err(message) => list_page(&state, &auth, Some(message), form).await,
    }
}

pub struct Chart {
    pub kpi: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "qi_cycle.html")]
struct CyclePage {
    nav: Nav,
    cycle: CycleLine,
    ideas: String,
    notes: Vec<Note>,
    evaluation: Result<(String, String, bool, bool), String>,
    charts: Vec<Chart>,
    can_note: bool,
    can_close: bool,
    stages: [&'static str; 4],
    today: String,
}

async fn stored(state: &AppState, auth: &Auth, id: i64) -> Result<Cycle, WebError> {
    match state.store.cycle(id).await? {
        Some(c) if may_see(auth, &c.spec.service) => Ok(c),
        _ => Err(WebError::NotFound),
    }
}

pub async fn view(State(state): State<AppState>, auth: Auth, Path(id): Path<i64>) -> Result<Response, WebError> {
    let cycle = stored(&state, &auth, id).await?;
    let today = state.config.today();
    let judged = judge(&state.store, &cycle, today).await;
    let mut charts = Vec::new();
    let evaluation = match &judged {
        Ok(e) => {
            // The target's chart, and the chart of every KPI with a concern.
            for (kpi, chart) in &e.charts {
                if *kpi == cycle.spec.kpi || e.concerns.iter().any(|c| c.kpi == *kpi) {
                    let labels: Vec<String> =
                        (0..chart.points.len()).map(|i| month_label(cycle.spec.baseline_from, i)).collect();
                    let options = ChartOptions {
                        title: format!("{} {kpi} (limits from the baseline)", cycle.spec.service),
                        y_label: "Percent".into(),
                        x_label: "Month of fracture".into(),
                        percent: true,
                        width: 640,
                        height: 320,
                        target: cycle.spec.aim.filter(|_| *kpi == cycle.spec.kpi).map(|a| a.0),
                        ..ChartOptions::default()
                    };
                    charts.push(Chart { kpi: kpi.clone(), svg: spc_svg(chart, &labels, &options) });
                }
            }
            Ok((e.improved.reason.clone(), e.maintained.reason.clone(), e.improved.met, e.maintained.met))
        }
        Err(e) => Err(format!("{e:#}")),
    };
    let open = cycle.closure.is_none();
    html(CyclePage {
        nav: Nav::new(&auth),
        can_note: open && may_note(&auth, &cycle.spec.service),
        can_close: open && judged.is_ok() && may_lead(&auth, &cycle.spec.service),
        notes: state.store.cycle_notes(id).await?,
        ideas: cycle.spec.change_ideas.clone(),
        cycle: line(&cycle),
        evaluation,
        charts,
        stages: STAGES,
        today: today.to_string(),
    })
}

fn month_label(first: Date, i: usize) -> String {
    let months = first.year() * 12 + i32::from(u8::from(first.month())) - 1 + i as i32;
    format!("{}-{:02}", months / 12, months % 12 + 1)
}

#[derive(Deserialize)]
pub struct NoteForm {
    csrf: Option<String>,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    text: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    auth.check_csrf(form.csrf.as_deref())?;
    let cycle = stored(&state, &auth, id).await?;
    if !may_note(&auth, &cycle.spec.service) {
        return Err(WebError::Forbidden);
    }
    if !STAGES.contains(&form.stage.as_str()) || form.text.trim().is_empty() {
        return Err(WebError::BadRequest(format!(
            "a note needs a stage ({}) and some text: go back and complete it",
            STAGES.join(", ")
        )));
    }
    let noted_on = if form.on.trim().is_empty() {
        state.config.today()
    } else {
        parse_day("date", &form.on).map_err(WebError::BadRequest)?
    };
    let note = Note { noted_on, stage: form.stage, author: auth.user.name.clone(), body: form.text.trim().to_owned() };
    state.store.add_cycle_note(id, &note).await?;
    Ok(Redirect::to(&format!("/qi/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

pub async fn close(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    auth.check_csrf(form.csrf.as_deref())?;
    let cycle = stored(&state, &auth, id).await?;
    if !may_lead(&auth, &cycle.spec.service) {
        return Err(WebError::Forbidden);
    }
    let today = state.config.today();
    let e = judge(&state.store, &cycle, today).await.map_err(|e| WebError::BadRequest(format!("{e:#}")))?;
    let text = format!("improved: {}; maintained: {}", e.improved.reason, e.maintained.reason);
    state.store.close_cycle(id, &auth.user.name, today, e.improved.met, e.maintained.met, &text).await?;
    Ok(Redirect::to(&format!("/qi/{id}")).into_response())
}

// ------------------------------------------------------------------------------------------------
// A service's priorities, 16-week follow-up view and refracture alerts

#[derive(Deserialize, Default)]
pub struct ServiceQuery {
    service: Option<String>,
}

/// The service a patient-level QI page is about: the one asked for (if the user may see its
/// patients), else the user's first (a national admin's: the first registered).
async fn patient_service(state: &AppState, auth: &Auth, query: &ServiceQuery) -> Result<ServiceCode, WebError> {
    let mine = auth.patient_services()?;
    let code = match (query.service.as_deref().map(str::trim).filter(|s| !s.is_empty()), mine) {
        (Some(text), _) => parse_code(text)?,
        (None, Some(mine)) => mine.first().cloned().ok_or(WebError::NotFound)?,
        (None, None) => state.store.services().await?.first().map(|s| s.code.clone()).ok_or(WebError::NotFound)?,
    };
    auth.patient_scope(&code)?;
    Ok(code)
}

pub struct PatientLine {
    pub local_id: String,
    pub fracture_date: String,
    pub recommended: String,
    pub started: String,
    pub flags: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "qi_service.html")]
struct ServicePage {
    nav: Nav,
    service: String,
    period: String,
    priorities: Vec<Priority>,
    path: Vec<PathStep>,
    path_svg: String,
    patients: Vec<PatientLine>,
    flagged: usize,
    refractures: Vec<AlertLine>,
}

pub struct AlertLine {
    pub local_id: String,
    pub earlier: String,
    pub later: String,
    pub days: i64,
}

/// Refractures whose later fracture is in the last two years (older ones are no longer news), at
/// every service: records of the last four years, so each later fracture meets its earlier ones;
/// opted-out patients are left out of cross-service matching.
pub async fn recent_refractures(state: &AppState, today: Date) -> Result<Vec<flsdb_qi::Refracture>, WebError> {
    let opt_outs = state.store.opt_outs().await?;
    let window =
        RecordFilter { service: None, fracture_from: Some(today - time::Duration::days(4 * 366)), fracture_to: None };
    let records = state.store.records(&window).await?;
    let since = today - time::Duration::days(2 * 366);
    let cared_for = records.iter().filter(|r| r.nhs_number.is_none_or(|n| !opt_outs.contains(&n)));
    Ok(flsdb_qi::refractures(cared_for).into_iter().filter(|r| r.later.date >= since).collect())
}

/// `GET /qi/service?service=CODE`: next priorities, the therapy path, the 16-week follow-up view
/// and refracture alerts of one service.
pub async fn service_page(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<ServiceQuery>,
) -> Result<Response, WebError> {
    let code = patient_service(&state, &auth, &query).await?;
    let today = state.config.today();
    // The last complete calendar year, from the dashboards' cached results (mode `all`); only the
    // recommended-mode counts of the therapy path are computed here, over this service's records.
    let period = Period::default_for(today).map_err(|e| WebError::Internal(e.into()))?;
    let key = kpi_cache::key(&state, period, "fls-db").await?;
    let computed = kpi_cache::report(&state, &key).await?;
    let priorities = flsdb_qi::next_priorities(&computed.set, &computed.exact, code.as_str());
    let own = RecordFilter {
        service: Some(code.clone()),
        fracture_from: Some(period.from()),
        fracture_to: Some(period.to()),
    };
    let records = state.store.records(&own).await?;
    let recommended = Setup { mode: DenominatorMode::Recommended, ..computed.setup() };
    let recommended = Engine::new(recommended).map_err(|e| WebError::Internal(e.into()))?.compute(&records);
    let path = flsdb_qi::therapy_path(&computed.exact, &recommended, code.as_str()).unwrap_or_default();

    // The 16-week view: fractures of the last 16 weeks plus a margin, due now (12 weeks reached).
    let recent = RecordFilter {
        service: Some(code.clone()),
        fracture_from: Some(today - time::Duration::days(200)),
        fracture_to: Some(today),
    };
    let mut patients = Vec::new();
    for r in state.store.records(&recent).await? {
        let Some(flags) = flsdb_qi::flags_at_16_weeks(&r, today) else { continue };
        patients.push(PatientLine {
            local_id: r.local_id.as_str().to_owned(),
            fracture_date: r.fracture_date.to_string(),
            recommended: r.cell(flsdb_dataset::Field::BoneTherapyRecommended),
            started: r.cell(flsdb_dataset::Field::Therapy16w),
            flags: flags.iter().map(|f: &Flag| f.text()).collect(),
        });
    }
    patients.sort_by(|a, b| (b.flags.len(), &a.fracture_date).cmp(&(a.flags.len(), &b.fracture_date)));
    let flagged = patients.iter().filter(|p| !p.flags.is_empty()).count();

    let refractures = kpi_cache::recent_refractures(&state, key.version)
        .await?
        .iter()
        .filter(|r| r.earlier.service == code)
        .map(|r| AlertLine {
            local_id: r.earlier.local_id.as_str().to_owned(),
            earlier: format!("{} {}", r.earlier.site.code(), r.earlier.date),
            later: if r.later.service == code {
                format!("{} {} (your record {})", r.later.site.code(), r.later.date, r.later.local_id.as_str())
            } else {
                format!("{} {} at service {}", r.later.site.code(), r.later.date, r.later.service)
            },
            days: r.days_between,
        })
        .collect();
    html(ServicePage {
        nav: Nav::new(&auth),
        service: code.as_str().to_owned(),
        period: format!("{} to {}", period.from(), period.to()),
        priorities,
        path_svg: path_svg(&path),
        path,
        patients,
        flagged,
        refractures,
    })
}

/// The therapy path as a funnel: one centred bar per step, as wide as its percent (each step's
/// percent is of its own denominator, as the KPIs count them).
fn path_svg(steps: &[PathStep]) -> String {
    const WIDTH: f64 = 360.0;
    const BAR: f64 = 26.0;
    const ROW: f64 = 40.0;
    let height = ROW * steps.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 {height}\" width=\"720\" height=\"{height}\" \
         role=\"img\"><title>From recommendation to adherence</title>"
    );
    for (i, step) in steps.iter().enumerate() {
        let percent = step.percent.unwrap_or(0.0).clamp(0.0, 100.0);
        let width = (WIDTH * percent / 100.0).max(1.0);
        let (x, y) = ((WIDTH - width) / 2.0, 4.0 + ROW * i as f64);
        let shown = step.percent.map_or("–".to_owned(), |p| format!("{p:.1}%"));
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR}\" fill=\"#005eb8\"><title>{}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-family=\"sans-serif\">{shown} ({} of {}) {}</text>",
            flsdb_charts::escape(&step.label),
            WIDTH + 12.0,
            y + BAR * 0.7,
            step.count,
            step.of,
            flsdb_charts::escape(&step.label),
        ));
    }
    svg.push_str("</svg>");
    svg
}
