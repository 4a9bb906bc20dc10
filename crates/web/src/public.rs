//! Public pages, no login: the published benchmark table (small-number suppression by
//! `flsdb_kpi::Disclosure`, exactly `flsdb kpi --published`), a patient information page on
//! fragility fractures and fracture liaison services, and a feedback form whose messages national
//! admins read at `/admin/feedback`.

use crate::AppState;
use crate::auth::Auth;
use crate::dashboards::{DashQuery, Selection, Table, TableInput, select, table};
use crate::error::WebError;
use crate::kpi_cache;
use crate::pages::{Nav, html};
use crate::records::encode;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use flsdb_store::{NewFeedback, Role};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "public_benchmarks.html")]
struct BenchmarksPage<'a> {
    sel: &'a Selection,
    period: String,
    as_of: String,
    set_version: String,
    suppress_up_to: u64,
    round_to: u64,
    table: Table,
}

/// `/public`: the published benchmark table.
pub async fn benchmarks(State(state): State<AppState>, Query(query): Query<DashQuery>) -> Result<Response, WebError> {
    let sel = select(&state, query.year.as_deref(), query.set.as_deref())?;
    let key = kpi_cache::key(&state, sel.period, sel.set).await?;
    // The page is the same for everyone: rendered once per data version and sort order.
    let sort = query.sort.unwrap_or_default().chars().take(24).collect::<String>();
    let dir = if query.dir.as_deref() == Some("desc") { "desc" } else { "asc" };
    let page = kpi_cache::html(&state, &key, format!("public {sort} {dir}"), async || {
        let computed = kpi_cache::report(&state, &key).await?;
        let published = &computed.published;
        let base = format!("year={}&set={}", sel.year, encode(sel.set));
        let table = table(TableInput {
            report: published,
            leading: vec![(
                "national",
                "National (all services)".into(),
                &published.overall.records,
                &published.overall.kpis,
            )],
            keep: &|_| true,
            base,
            service_href: None,
            sort: Some(sort.as_str()).filter(|s| !s.is_empty()),
            dir: Some(dir),
        });
        let disclosure = flsdb_kpi::Disclosure::default();
        Ok(BenchmarksPage {
            period: sel.period.to_string(),
            as_of: flsdb_dataset::values::format_date(key.as_of),
            set_version: published.kpi_set_version.clone(),
            sel: &sel,
            suppress_up_to: disclosure.suppress_up_to,
            round_to: disclosure.round_to,
            table,
        }
        .render()?)
    })
    .await?;
    Ok(Html(page.as_str().to_owned()).into_response())
}

#[derive(Template)]
#[template(path = "public_about.html")]
struct AboutPage;

pub async fn about() -> Result<Response, WebError> {
    html(AboutPage)
}

#[derive(Template)]
#[template(path = "public_feedback.html")]
struct FeedbackPage {
    page: String,
    helpful: String,
    message: String,
    contact: String,
    errors: Vec<String>,
    sent: bool,
}

#[derive(Deserialize, Default)]
pub struct FeedbackQuery {
    page: Option<String>,
    sent: Option<String>,
}

pub async fn feedback_form(Query(query): Query<FeedbackQuery>) -> Result<Response, WebError> {
    html(FeedbackPage {
        page: query.page.unwrap_or_else(|| "benchmarks".into()).chars().take(PAGE_MAX).collect(),
        helpful: String::new(),
        message: String::new(),
        contact: String::new(),
        errors: Vec::new(),
        sent: query.sent.is_some(),
    })
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    page: String,
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    contact: String,
    /// A field people never see (hidden by the style sheet): only robots fill it in.
    #[serde(default)]
    website: String,
}

const MESSAGE_MAX: usize = 2000;
const CONTACT_MAX: usize = 200;
const PAGE_MAX: usize = 100;

pub async fn feedback_send(
    State(state): State<AppState>,
    Form(form): Form<FeedbackForm>,
) -> Result<Response, WebError> {
    let message = form.message.trim().to_owned();
    let contact = form.contact.trim().to_owned();
    let page = form.page.trim().chars().take(PAGE_MAX).collect::<String>();
    let mut errors = Vec::new();
    if message.is_empty() {
        errors.push("Write your feedback in the box.".to_owned());
    }
    if message.chars().count() > MESSAGE_MAX {
        errors.push(format!("Your feedback is longer than {MESSAGE_MAX} characters: please shorten it."));
    }
    if contact.chars().count() > CONTACT_MAX {
        errors.push(format!("The contact details are longer than {CONTACT_MAX} characters."));
    }
    let helpful = match form.helpful.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        "" => None,
        _ => {
            errors.push("Answer \"Did this page help you?\" with yes or no, or leave it.".to_owned());
            None
        }
    };
    if message.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        errors.push("Your feedback contains characters that cannot be stored.".to_owned());
    }
    if !errors.is_empty() {
        let page = FeedbackPage { page, helpful: form.helpful, message, contact, errors, sent: false };
        let mut response = html(page)?;
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    if form.website.is_empty() {
        let page = if page.is_empty() { "benchmarks".to_owned() } else { page };
        let contact = (!contact.is_empty()).then_some(contact);
        state.store.insert_feedback(&NewFeedback { page, helpful, message, contact }).await?;
    } else {
        tracing::info!("feedback with the robot trap filled in: dropped");
    }
    Ok(Redirect::to("/public/feedback?sent=1").into_response())
}

pub struct FeedbackLine {
    pub at: String,
    pub page: String,
    pub helpful: &'static str,
    pub message: String,
    pub contact: String,
}

#[derive(Template)]
#[template(path = "admin_feedback.html")]
struct AdminFeedbackPage {
    nav: Nav,
    lines: Vec<FeedbackLine>,
}

/// `/admin/feedback`: national admins read the feedback, newest first.
pub async fn admin_feedback(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    if auth.role() != Role::NationalAdmin {
        return Err(WebError::Forbidden);
    }
    let lines = state
        .store
        .feedback(500)
        .await?
        .into_iter()
        .map(|f| FeedbackLine {
            at: f.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            page: f.page,
            helpful: match f.helpful {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            },
            message: f.message,
            contact: f.contact.unwrap_or_default(),
        })
        .collect();
    html(AdminFeedbackPage { nav: Nav::new(&auth), lines })
}
