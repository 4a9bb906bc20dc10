//! National admins' registry pages: the organisations (services with their commissioner, region,
//! nation, setting and caseload, replaced or extended from a services CSV or a caseloads CSV) and
//! the national data opt-out list. The files are read by `flsdb-tabular`'s registry readers, the
//! same as `flsdb import services|caseloads|opt-outs`; a file with any problem changes nothing.

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::pages::{Nav, html};
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use flsdb_store::Role;
use flsdb_tabular::{RegistryFileError, read_caseloads, read_services};
use serde::Deserialize;
use std::collections::HashMap;

/// Registry files are small (a national registry is a few hundred lines); larger is a mistake.
const MAX_REGISTRY_BYTES: usize = 2 * 1024 * 1024;

fn national_admin(auth: &Auth) -> Result<(), WebError> {
    if auth.role() == Role::NationalAdmin { Ok(()) } else { Err(WebError::Forbidden) }
}

pub struct ServiceLine {
    pub code: String,
    pub name: String,
    pub nation: String,
    pub region: String,
    pub commissioner: String,
    pub setting: String,
    pub caseload: String,
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct OrganisationsPage {
    nav: Nav,
    services: Vec<ServiceLine>,
    caseload_years: usize,
    message: Option<String>,
    problems: Vec<String>,
}

async fn organisations_page(
    state: &AppState,
    auth: &Auth,
    message: Option<String>,
    problems: Vec<String>,
) -> Result<Response, WebError> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let services = state
        .store
        .services()
        .await?
        .into_iter()
        .map(|s| ServiceLine {
            code: s.code.as_str().to_owned(),
            nation: text(&s.nation),
            region: text(&s.region),
            commissioner: text(&s.commissioner),
            setting: s.setting.map(|x| x.code().to_owned()).unwrap_or_default(),
            caseload: s.expected_caseload.map(|c| format!("{c}")).unwrap_or_default(),
            name: s.name,
        })
        .collect();
    let caseload_years = state.store.caseloads().await?.len();
    let failed = !problems.is_empty();
    let mut response = html(OrganisationsPage { nav: Nav::new(auth), services, caseload_years, message, problems })?;
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn organisations(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    national_admin(&auth)?;
    organisations_page(&state, &auth, None, Vec::new()).await
}

/// The text fields and the one file of a small multipart form.
struct SmallForm {
    fields: HashMap<String, String>,
    file: Option<Vec<u8>>,
}

async fn read_small_form(mut multipart: Multipart) -> Result<SmallForm, WebError> {
    let too_large = WebError::TooLarge((MAX_REGISTRY_BYTES >> 20) as u64);
    let mut form = SmallForm { fields: HashMap::new(), file: None };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(form),
            Err(e) => return Err(WebError::BadRequest(format!("the form could not be read: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes =
            field.bytes().await.map_err(|e| WebError::BadRequest(format!("the form could not be read: {e}")))?;
        if bytes.len() > MAX_REGISTRY_BYTES {
            return Err(too_large);
        }
        if name == "file" {
            form.file = Some(bytes.to_vec());
        } else {
            form.fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

fn problem_lines(error: &RegistryFileError) -> Vec<String> {
    error
        .problems
        .iter()
        .map(|(row, p)| {
            let place = if *row == 0 { String::new() } else { format!("row {row}: ") };
            let column = if p.column.is_empty() { String::new() } else { format!("{} ", p.column) };
            let value = if p.value.is_empty() { String::new() } else { format!("{:?} ", p.value) };
            format!("{place}{column}{value}— {}", p.message)
        })
        .collect()
}

fn describe(c: &flsdb_store::Changes) -> String {
    format!("{} added, {} updated, {} unchanged, {} removed", c.inserted, c.updated, c.unchanged, c.deleted)
}

/// `POST /admin/organisations`: a services CSV (adds new services, updates changed ones) or a
/// caseloads CSV (`kind=caseloads`: replaces the per-year caseloads it names).
pub async fn upload(State(state): State<AppState>, auth: Auth, multipart: Multipart) -> Result<Response, WebError> {
    national_admin(&auth)?;
    let form = read_small_form(multipart).await?;
    auth.check_csrf(form.fields.get("csrf").map(String::as_str))?;
    let Some(bytes) = form.file.filter(|b| !b.is_empty()) else {
        return organisations_page(&state, &auth, None, vec!["no file was chosen: choose a CSV file".into()]).await;
    };
    let dir = tempfile::tempdir().map_err(|e| WebError::Internal(e.into()))?;
    let path = dir.path().join("registry.csv");
    std::fs::write(&path, &bytes).map_err(|e| WebError::Internal(e.into()))?;
    let actor = auth.user.name.as_str();
    let message = match form.fields.get("kind").map(String::as_str) {
        Some("caseloads") => match read_caseloads(&path) {
            Ok(caseloads) => {
                let changes = state.store.set_caseloads(actor, &caseloads).await?;
                format!("caseloads: {}", describe(&changes))
            }
            Err(e) => return organisations_page(&state, &auth, None, problem_lines(&e)).await,
        },
        _ => match read_services(&path) {
            Ok(services) => {
                let changes = state.store.upsert_services(actor, &services).await?;
                format!("services: {}", describe(&changes))
            }
            Err(e) => return organisations_page(&state, &auth, None, problem_lines(&e)).await,
        },
    };
    organisations_page(&state, &auth, Some(message), Vec::new()).await
}

#[derive(Template)]
#[template(path = "opt_outs.html")]
struct OptOutsPage {
    nav: Nav,
    count: usize,
    message: Option<String>,
    problems: Vec<String>,
    numbers: String,
}

async fn opt_outs_page(
    state: &AppState,
    auth: &Auth,
    message: Option<String>,
    problems: Vec<String>,
    numbers: String,
) -> Result<Response, WebError> {
    let count = state.store.opt_outs().await?.len();
    let failed = !problems.is_empty();
    let mut response = html(OptOutsPage { nav: Nav::new(auth), count, message, problems, numbers })?;
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// The list itself is never shown: a page of NHS numbers would be a page of patients.
pub async fn opt_outs(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    national_admin(&auth)?;
    opt_outs_page(&state, &auth, None, Vec::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct OptOutForm {
    csrf: Option<String>,
    #[serde(default)]
    numbers: String,
}

/// `POST /admin/opt-outs`: NHS numbers, one per line; any invalid line adds nothing and keeps
/// what was typed.
pub async fn add_opt_outs(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<OptOutForm>,
) -> Result<Response, WebError> {
    national_admin(&auth)?;
    auth.check_csrf(form.csrf.as_deref())?;
    let (numbers, errors) = flsdb_dataset::parse_opt_outs(&form.numbers, state.config.allow_test_nhs_numbers);
    if !errors.is_empty() || numbers.is_empty() {
        let mut problems: Vec<String> =
            errors.iter().map(|e| format!("line {}: {:?} — {}", e.line, e.value, e.message)).collect();
        if problems.is_empty() {
            problems.push("no NHS number was given: enter one per line".into());
        }
        return opt_outs_page(&state, &auth, None, problems, form.numbers).await;
    }
    let numbers: Vec<_> = numbers.into_iter().collect();
    let added = state.store.add_opt_outs(&auth.user.name, &numbers).await?;
    let message = format!("{added} added, {} already on the list", numbers.len() as u64 - added);
    opt_outs_page(&state, &auth, Some(message), Vec::new(), String::new()).await
}
