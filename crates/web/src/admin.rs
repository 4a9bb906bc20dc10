//! Aggregated results (commissioners, analysts, admins), user management (service leads for
//! their services, national admins for all) and the audit log (national admins).

use crate::AppState;
use crate::auth::{self, Auth};
use crate::error::WebError;
use crate::pages::{Nav, html};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use flsdb_dataset::ServiceCode;
use flsdb_store::{AuditFilter, RecordFilter, Role};
use serde::Deserialize;

pub struct ResultRow {
    pub service: String,
    pub name: String,
    pub records: u64,
    pub followup16: u64,
    pub followup52: u64,
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    nav: Nav,
    rows: Vec<ResultRow>,
}

/// Counts per service: no patient-level data.
pub async fn results(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let scope = auth.result_services()?.map(<[ServiceCode]>::to_vec);
    let mut rows = Vec::new();
    for service in state.store.services().await? {
        if scope.as_ref().is_some_and(|s| !s.contains(&service.code)) {
            continue;
        }
        let filter = RecordFilter { service: Some(service.code.clone()), ..Default::default() };
        let mut row = ResultRow {
            service: service.code.as_str().to_owned(),
            name: service.name.clone(),
            records: 0,
            followup16: 0,
            followup52: 0,
        };
        state
            .store
            .for_each_record_chunk(&filter, 10_000, |chunk| {
                for r in chunk {
                    row.records += 1;
                    row.followup16 += u64::from(r.followup16 == Some(flsdb_dataset::codes::YesNo::Yes));
                    row.followup52 += u64::from(r.followup52 == Some(flsdb_dataset::codes::YesNo::Yes));
                }
                Ok::<_, flsdb_store::StoreError>(())
            })
            .await?;
        rows.push(row);
    }
    html(ResultsPage { nav: Nav::new(&auth), rows })
}

pub struct UserLine {
    pub name: String,
    pub role: String,
    pub services: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    users: Vec<UserLine>,
    roles: Vec<&'static str>,
    message: Option<String>,
    form_name: String,
    form_services: String,
}

/// The services whose users this user manages (`None` = all), or 403.
fn managed(auth: &Auth) -> Result<Option<Vec<ServiceCode>>, WebError> {
    match auth.role() {
        Role::NationalAdmin => Ok(None),
        Role::ServiceLead => Ok(Some(auth.user.services.clone())),
        _ => Err(WebError::Forbidden),
    }
}

async fn users_page(
    state: &AppState,
    auth: &Auth,
    message: Option<String>,
    name: String,
    services: String,
) -> Result<Response, WebError> {
    let scope = managed(auth)?;
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| scope.as_ref().is_none_or(|s| u.services.iter().any(|c| s.contains(c))))
        .map(|u| UserLine {
            name: u.name,
            role: u.role.as_str().to_owned(),
            services: u.services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            state: if u.disabled {
                "disabled".into()
            } else if u.locked_until.is_some_and(|t| t > time::OffsetDateTime::now_utc()) {
                "locked".into()
            } else {
                "active".into()
            },
        })
        .collect();
    let roles = if scope.is_none() {
        Role::ALL.iter().map(|r| r.as_str()).collect()
    } else {
        vec!["clinician", "service_lead"]
    };
    let status =
        if message.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let mut response =
        html(UsersPage { nav: Nav::new(auth), users, roles, message, form_name: name, form_services: services })?;
    *response.status_mut() = status;
    Ok(response)
}

pub async fn users(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    users_page(&state, &auth, None, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct NewUser {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    services: String,
    #[serde(default)]
    password: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<NewUser>,
) -> Result<Response, WebError> {
    let scope = managed(&auth)?;
    auth.check_csrf(form.csrf.as_deref())?;
    let name = form.name.trim().to_owned();
    let again = |m: String| users_page(&state, &auth, Some(m), name.clone(), form.services.clone());
    let Some(role) = Role::parse(&form.role) else { return again(format!("{:?} is not a role", form.role)).await };
    if scope.is_some() && !matches!(role, Role::Clinician | Role::ServiceLead) {
        return again("a service lead can add clinicians and service leads only".into()).await;
    }
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return again("a user name is 1–64 characters without spaces".into()).await;
    }
    if form.password.chars().count() < 12 {
        return again("the password must have at least 12 characters".into()).await;
    }
    let mut services = Vec::new();
    for code in form.services.split([',', ';', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let Some(code) = ServiceCode::parse(code) else {
            return again(format!("{code:?} is not a service code")).await;
        };
        if scope.as_ref().is_some_and(|s| !s.contains(&code)) {
            return again(format!("{code} is not one of your services")).await;
        }
        services.push(code);
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| WebError::Internal(e.into()))??;
    match state.store.create_user(&auth.user.name, &name, role, &hash, &services).await {
        Ok(true) => Ok(Redirect::to("/admin/users").into_response()),
        Ok(false) => again(format!("the name {name} is taken")).await,
        Err(flsdb_store::StoreError::UnknownService(code)) => {
            again(format!("service {code} is not in the registry")).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct AuditLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub key: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    lines: Vec<AuditLine>,
    entity: String,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    entity: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<AuditQuery>,
) -> Result<Response, WebError> {
    if auth.role() != Role::NationalAdmin {
        return Err(WebError::Forbidden);
    }
    let entity = query.entity.filter(|e| !e.is_empty());
    let entries =
        state.store.audit_log(&AuditFilter { entity: entity.clone(), limit: Some(300), ..Default::default() }).await?;
    let lines = entries
        .into_iter()
        .map(|e| AuditLine {
            at: e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            key: e.entity_key,
        })
        .collect();
    html(AuditPage { nav: Nav::new(&auth), lines, entity: entity.unwrap_or_default() })
}
