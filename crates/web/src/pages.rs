//! Login, logout and the home page.

use crate::auth::{self, Auth};
use crate::error::WebError;
use crate::{AppState, worklist};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use flsdb_store::{LoginFailure, Role};
use serde::Deserialize;
use time::OffsetDateTime;

/// What the page frame (menu, logout form) needs on every page.
pub struct Nav {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub services: String,
}

impl Nav {
    pub fn new(auth: &Auth) -> Nav {
        let services = if auth.role().all_services() {
            "all services".to_owned()
        } else {
            auth.user.services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        };
        Nav { user: auth.user.name.clone(), role: auth.role(), csrf: auth.csrf.clone(), services }
    }
    pub fn patients(&self) -> bool {
        self.role.sees_patients()
    }
    pub fn results(&self) -> bool {
        matches!(self.role, Role::Commissioner | Role::Analyst | Role::NationalAdmin)
    }
    pub fn users(&self) -> bool {
        matches!(self.role, Role::ServiceLead | Role::NationalAdmin)
    }
    pub fn admin(&self) -> bool {
        self.role == Role::NationalAdmin
    }
    pub fn extracts(&self) -> bool {
        matches!(self.role, Role::Analyst | Role::NationalAdmin)
    }
}

pub fn html<T: Template>(page: T) -> Result<Response, WebError> {
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    name: String,
    message: Option<String>,
}

pub async fn login_page() -> Result<Response, WebError> {
    html(LoginPage { name: String::new(), message: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let name = form.name.trim().to_owned();
    let refuse = |message: &str| -> Result<Response, WebError> {
        let page = LoginPage { name: name.clone(), message: Some(message.to_owned()) };
        Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page.render()?)).into_response())
    };
    const WRONG: &str = "The name or password is not right.";
    let Some(user) = state.store.user(&name).await? else { return refuse(WRONG) };
    let now = OffsetDateTime::now_utc();
    if let Some(until) = user.locked_until.filter(|u| *u > now) {
        let minutes = (until - now).whole_minutes() + 1;
        return refuse(&format!(
            "This account is locked after too many failed logins. Try again in {minutes} minutes, or ask an administrator."
        ));
    }
    let hash = user.password_hash.clone();
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    if !ok || user.disabled {
        if !user.disabled
            && let LoginFailure::Locked { .. } =
                state.store.login_failed(&name, auth::MAX_FAILED_LOGINS, auth::LOCKOUT).await?
        {
            return refuse(&format!(
                "Too many failed logins: this account is locked for {} minutes.",
                auth::LOCKOUT.whole_minutes()
            ));
        }
        return refuse(WRONG);
    }
    // A fresh session id at every login; any session this browser had before is ended.
    let secure = state.config.secure_cookies;
    if let Some(old) = cookie_in(&headers, auth::cookie_name(secure)) {
        state.store.end_session(&old, "replaced").await?;
    }
    let id = auth::random_hex(32);
    state.store.start_session(&name, &id, &auth::random_hex(32), now + auth::ABSOLUTE_TIMEOUT).await?;
    tracing::info!(user = %name, "login");
    Ok(([(header::SET_COOKIE, auth::session_cookie(&id, secure))], Redirect::to("/")).into_response())
}

fn cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    auth.check_csrf(form.csrf.as_deref())?;
    state.store.end_session(&auth.session_id, "logout").await?;
    let cookie = auth::clear_cookie(state.config.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
    due: Option<worklist::Counts>,
}

pub async fn home(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    let due = if auth.role().sees_patients() { Some(worklist::counts(&state, &auth).await?) } else { None };
    html(Home { nav: Nav::new(&auth), due })
}
