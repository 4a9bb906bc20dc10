//! The flsdb web application: server-rendered pages (askama) with a little htmx (vendored,
//! served from the binary), accounts and roles, record entry through the dataset's own
//! `parse_record`, bulk upload through the shared importer, and follow-up worklists.
//!
//! Every patient-level page is scoped on the server by the user's services: a record of another
//! service is "not found"; roles without patient access get 403 before anything is read.

mod admin;
pub mod auth;
mod dashboards;
mod error;
mod extract;
mod kpi_cache;
mod organisations;
mod pages;
mod public;
pub mod qi;
mod records;
mod reports;
mod upload;
mod worklist;

pub use error::WebError;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deployment settings of the web application.
#[derive(Clone, Debug)]
pub struct Config {
    /// Mark cookies `Secure` (served over TLS, or behind a TLS-terminating proxy).
    pub secure_cookies: bool,
    /// Accept NHS numbers in the 900–999 test range (the demo does).
    pub allow_test_nhs_numbers: bool,
    /// "Today" for validation and worklists; `None` = the server's local date.
    pub today: Option<time::Date>,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// A request taking longer than this is answered 503 (uploads run in the background).
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: false,
            allow_test_nhs_numbers: false,
            today: None,
            max_upload_bytes: 50 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl Config {
    pub fn today(&self) -> time::Date {
        self.today.unwrap_or_else(|| {
            time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc()).date()
        })
    }

    pub fn validation(&self) -> flsdb_dataset::Validation {
        flsdb_dataset::Validation { today: self.today(), allow_test_nhs_numbers: self.allow_test_nhs_numbers }
    }
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: flsdb_store::Store,
    pub config: Arc<Config>,
    pub(crate) jobs: Arc<Mutex<HashMap<String, Arc<upload::Job>>>>,
    pub(crate) kpi_cache: Arc<kpi_cache::Cache>,
}

impl AppState {
    pub fn new(store: flsdb_store::Store, config: Config) -> AppState {
        AppState { store, config: Arc::new(config), jobs: Arc::default(), kpi_cache: Arc::default() }
    }
}

const HTMX: &[u8] = include_bytes!("../static/htmx.min.js");
const CSS: &[u8] = include_bytes!("../static/app.css");
const DASHBOARDS_CSS: &[u8] = include_bytes!("../static/dashboards.css");

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Every route of the application.
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    Router::new()
        .route("/health", get(health))
        .route("/static/htmx.min.js", get(|| async { asset("text/javascript", HTMX) }))
        .route("/static/app.css", get(|| async { asset("text/css", CSS) }))
        .route("/static/dashboards.css", get(|| async { asset("text/css", DASHBOARDS_CSS) }))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/", get(pages::home))
        .route("/records", get(records::list))
        .route("/records/new", get(records::new_form).post(records::create))
        .route("/records/{service}/{local_id}", get(records::view))
        .route("/records/{service}/{local_id}/edit", get(records::edit_form).post(records::save))
        .route("/records/{service}/{local_id}/followup16", get(records::edit_form16).post(records::save16))
        .route("/records/{service}/{local_id}/followup52", get(records::edit_form52).post(records::save52))
        .route("/worklists", get(worklist::page))
        .route("/worklists.csv", get(worklist::csv))
        .route("/upload", get(upload::page).post(upload::receive).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/upload/{job}", get(upload::job_page))
        .route("/upload/{job}/status", get(upload::status))
        .route("/upload/{job}/confirm", post(upload::confirm))
        .route("/upload/{job}/errors.csv", get(upload::errors_csv))
        .route("/results", get(admin::results))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/audit", get(admin::audit))
        .route("/dashboard", get(dashboards::index))
        .route("/dashboard/service", get(dashboards::service))
        .route("/dashboard/commissioner", get(dashboards::commissioner))
        .route("/dashboard/national", get(dashboards::national))
        .route("/public", get(public::benchmarks))
        .route("/public/about", get(public::about))
        .route("/public/feedback", get(public::feedback_form).post(public::feedback_send))
        .route("/admin/feedback", get(public::admin_feedback))
        .route("/admin/organisations", get(organisations::organisations).post(organisations::upload))
        .route("/admin/opt-outs", get(organisations::opt_outs).post(organisations::add_opt_outs))
        .route("/qi", get(qi::list).post(qi::open))
        .route("/qi/service", get(qi::service_page))
        .route("/qi/{id}", get(qi::view))
        .route("/qi/{id}/notes", post(qi::add_note))
        .route("/qi/{id}/close", post(qi::close))
        .route("/reports", get(reports::page))
        .route("/reports/{file}", get(reports::benchmarks))
        .route("/extracts", get(extract::page))
        .route("/extracts/records.csv", get(extract::records_csv))
        .fallback(|| async { WebError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Around every request: a timeout, a same-origin check on POST, security headers and a log line.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    if method == Method::POST && !same_origin(&request) {
        return WebError::Csrf.into_response();
    }
    let mut response = match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, "request timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "The request took too long; please try again.").into_response()
        }
    };
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set(headers, "x-content-type-options", "nosniff");
    // `same-origin`, not `no-referrer`: with no-referrer browsers send `Origin: null` on our own POSTs.
    set(headers, "referrer-policy", "same-origin");
    set(headers, "x-frame-options", "DENY");
    if !path.starts_with("/static/") {
        // Patient pages must not linger in caches; simplest and safest for every page.
        set(headers, "cache-control", "no-store");
    }
    tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// A browser's POST names its origin; one from elsewhere is refused (with SameSite=Strict
/// cookies and per-session tokens this is a third line of defence, and the only one on /login).
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store.data_version().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
