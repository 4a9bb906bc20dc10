//! Bulk upload: CSV/XLSX → a dry run in the background (progress polled with htmx) → the
//! counts and the row errors → confirm → the import, also in the background. The importer is
//! `flsdb_import`, the same as `flsdb import records`.

use crate::AppState;
use crate::auth::{Auth, random_hex};
use crate::error::WebError;
use crate::pages::{Nav, html};
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use flsdb_import::{ImportReport, ImportRequest, Mode};
use flsdb_tabular::RowError;
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum JobState {
    Checking,
    Checked(Arc<ImportReport>),
    Importing(Arc<ImportReport>),
    Imported(Arc<ImportReport>),
    Failed(String),
}

/// One uploaded file and what has been done with it; only its owner can see it.
pub struct Job {
    owner: String,
    file_name: String,
    request: ImportRequest,
    rows: AtomicU64,
    state: Mutex<JobState>,
    _dir: tempfile::TempDir,
}

impl Job {
    fn state(&self) -> JobState {
        self.state.lock().map(|s| s.clone()).unwrap_or_else(|_| JobState::Failed("internal state lost".into()))
    }
    fn set(&self, state: JobState) {
        if let Ok(mut s) = self.state.lock() {
            *s = state;
        }
    }
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    nav: Nav,
    max_mb: u64,
    message: Option<String>,
}

pub async fn page(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    auth.patient_services()?;
    html(UploadPage { nav: Nav::new(&auth), max_mb: state.config.max_upload_bytes >> 20, message: None })
}

pub async fn receive(
    State(state): State<AppState>,
    auth: Auth,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let mine = auth.patient_services()?.map(|m| m.iter().cloned().collect::<HashSet<_>>());
    let max = state.config.max_upload_bytes;
    let too_large = WebError::TooLarge(max >> 20);
    let dir = tempfile::tempdir().map_err(|e| WebError::Internal(e.into()))?;
    let mut csrf = None;
    let mut saved: Option<(String, std::path::PathBuf)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large),
            Err(e) => return Err(WebError::BadRequest(format!("the upload could not be read: {e}"))),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.ok(),
            Some("file") => {
                let original = field.file_name().unwrap_or("upload.csv").to_owned();
                let xlsx = original.to_ascii_lowercase().ends_with(".xlsx");
                let path = dir.path().join(if xlsx { "upload.xlsx" } else { "upload.csv" });
                let mut file = std::fs::File::create(&path).map_err(|e| WebError::Internal(e.into()))?;
                let mut field = field;
                let mut written = 0u64;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            written += chunk.len() as u64;
                            if written > max {
                                return Err(too_large);
                            }
                            file.write_all(&chunk).map_err(|e| WebError::Internal(e.into()))?;
                        }
                        Ok(None) => break,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large),
                        Err(e) => return Err(WebError::BadRequest(format!("the upload could not be read: {e}"))),
                    }
                }
                if written == 0 {
                    return Err(WebError::BadRequest(
                        "the file is empty: choose a CSV or XLSX file with a header row".into(),
                    ));
                }
                saved = Some((original, path));
            }
            _ => {}
        }
    }
    auth.check_csrf(csrf.as_deref())?;
    let Some((file_name, path)) = saved else {
        return Err(WebError::BadRequest("no file was chosen: choose a CSV or XLSX file and upload it".into()));
    };
    let request = ImportRequest {
        file: path,
        file_name: Some(file_name.clone()),
        sheet: None,
        allow_unknown_columns: false,
        validation: state.config.validation(),
        mode: Mode::ValidRows,
        dry_run: true,
        actor: auth.user.name.clone(),
        permitted: mine,
    };
    let id = random_hex(16);
    let job = Arc::new(Job {
        owner: auth.user.name.clone(),
        file_name,
        request,
        rows: AtomicU64::new(0),
        state: Mutex::new(JobState::Checking),
        _dir: dir,
    });
    if let Ok(mut jobs) = state.jobs.lock() {
        jobs.insert(id.clone(), job.clone());
    }
    run(state.store.clone(), job, true);
    Ok(Redirect::to(&format!("/upload/{id}")).into_response())
}

/// Runs the import (a dry run first, the real one on confirm) off the request, on a blocking
/// thread: checking is CPU work on two threads of its own.
fn run(store: flsdb_store::Store, job: Arc<Job>, dry_run: bool) {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut request = job.request.clone();
        request.dry_run = dry_run;
        job.rows.store(0, Ordering::Relaxed);
        let counted = job.clone();
        let on_row = move |n: u64| counted.rows.store(n, Ordering::Relaxed);
        let result = handle.block_on(flsdb_import::import_records_file(&store, &request, on_row));
        job.set(match result {
            Ok(report) if dry_run => JobState::Checked(Arc::new(report)),
            Ok(report) => {
                tracing::info!(user = %job.owner, file = %job.file_name, summary = %report.summary_line(), "upload imported");
                JobState::Imported(Arc::new(report))
            }
            Err(e @ (flsdb_import::ImportError::File(_) | flsdb_import::ImportError::NoServices)) => {
                JobState::Failed(e.to_string())
            }
            Err(e) => {
                let id = crate::error::request_id();
                tracing::error!(request_id = %id, error = %e, "upload failed");
                JobState::Failed(format!("Something went wrong on our side (request id {id}); nothing was imported."))
            }
        });
    });
}

fn job(state: &AppState, auth: &Auth, id: &str) -> Result<Arc<Job>, WebError> {
    auth.patient_services()?;
    let jobs = state.jobs.lock().map_err(|_| WebError::Internal(anyhow::anyhow!("upload list lock poisoned")))?;
    jobs.get(id).filter(|j| j.owner == auth.user.name).cloned().ok_or(WebError::NotFound)
}

pub struct ErrorLine {
    pub row: u64,
    pub key: String,
    pub field: String,
    pub value: String,
    pub kind: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "upload_status.html")]
struct StatusFragment {
    status: Status,
}

struct Status {
    id: String,
    csrf: String,
    file_name: String,
    phase: &'static str,
    rows: u64,
    failure: String,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    warnings: u64,
    checked_rows: u64,
    errors: Vec<ErrorLine>,
    more_errors: usize,
}

#[derive(Template)]
#[template(path = "upload_job.html")]
struct JobPage {
    nav: Nav,
    status: Status,
}

const ERRORS_SHOWN: usize = 200;

fn status_of(id: &str, auth: &Auth, job: &Job) -> Status {
    let state = job.state();
    let (phase, report, failure) = match &state {
        JobState::Checking => ("checking", None, String::new()),
        JobState::Checked(r) => ("checked", Some(r.clone()), String::new()),
        JobState::Importing(r) => ("importing", Some(r.clone()), String::new()),
        JobState::Imported(r) => ("imported", Some(r.clone()), String::new()),
        JobState::Failed(m) => ("failed", None, m.clone()),
    };
    let default = ImportReport::default();
    let r = report.as_deref().unwrap_or(&default);
    let errors: Vec<&RowError> = r.summary.problems.iter().collect();
    Status {
        id: id.to_owned(),
        csrf: auth.csrf.clone(),
        file_name: job.file_name.clone(),
        phase,
        rows: job.rows.load(Ordering::Relaxed),
        failure,
        inserted: r.outcome.inserted,
        updated: r.outcome.updated,
        unchanged: r.outcome.unchanged,
        rejected: r.summary.rejected,
        warnings: r.summary.warnings,
        checked_rows: r.summary.rows,
        more_errors: errors.len().saturating_sub(ERRORS_SHOWN),
        errors: errors
            .iter()
            .take(ERRORS_SHOWN)
            .map(|e| ErrorLine {
                row: e.row,
                key: if e.local_id.is_empty() { String::new() } else { format!("{} {}", e.service_code, e.local_id) },
                field: e.field.clone(),
                value: e.value.clone(),
                kind: match e.severity {
                    flsdb_dataset::Severity::Warning => "warning",
                    flsdb_dataset::Severity::Ineligible => "ineligible",
                    _ => "error",
                },
                message: e.message.clone(),
            })
            .collect(),
    }
}

pub async fn job_page(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, WebError> {
    let job = job(&state, &auth, &id)?;
    html(JobPage { status: status_of(&id, &auth, &job), nav: Nav::new(&auth) })
}

pub async fn status(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, WebError> {
    let job = job(&state, &auth, &id)?;
    html(StatusFragment { status: status_of(&id, &auth, &job) })
}

#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, WebError> {
    let job = job(&state, &auth, &id)?;
    auth.check_csrf(form.csrf.as_deref())?;
    let JobState::Checked(report) = job.state() else {
        return Err(WebError::BadRequest("this upload is not waiting for confirmation (already imported?)".into()));
    };
    job.set(JobState::Importing(report));
    run(state.store.clone(), job, false);
    Ok(Redirect::to(&format!("/upload/{id}")).into_response())
}

pub async fn errors_csv(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let job = job(&state, &auth, &id)?;
    let (JobState::Checked(report) | JobState::Importing(report) | JobState::Imported(report)) = job.state() else {
        return Err(WebError::BadRequest("the file has not been checked yet".into()));
    };
    let mut body = Vec::new();
    flsdb_tabular::write_errors_csv(&mut body, &report.summary.problems).map_err(|e| WebError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"upload-errors.csv\"".to_owned()),
        ],
        body,
    )
        .into_response())
}
