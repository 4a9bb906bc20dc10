//! Passwords (argon2id), server-side sessions in the database, the logged-in user as an
//! extractor, CSRF tokens and role/service scoping.

use crate::AppState;
use crate::error::WebError;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use flsdb_dataset::ServiceCode;
use flsdb_store::{Role, User};
use time::{Duration, OffsetDateTime};

/// A session unused this long is over.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session is over this long after login, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// Failed logins in a row that lock an account …
pub const MAX_FAILED_LOGINS: i64 = 5;
/// … for this long.
pub const LOCKOUT: Duration = Duration::minutes(15);
/// `last_seen` is written at most this often (not on every click).
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// `n` random bytes as lower-case hex, from the operating system's generator.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        // Without an OS generator no secure token can be made: refuse rather than guess.
        panic!("the operating system's random number generator is unavailable");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id hash (PHC string) of `password` with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// The session cookie's name; the `__Host-` prefix (only allowed with Secure) pins it to this host.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-flsdb_session" } else { "flsdb_session" }
}

pub fn session_cookie(id: &str, secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    format!("{}={id}; Path=/; HttpOnly; SameSite=Strict{secure_attr}", cookie_name(secure))
}

pub fn clear_cookie(secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure_attr}", cookie_name(secure))
}

/// The value of cookie `name` in the request.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The logged-in user of a request (a live session), or a redirect to the login page.
#[derive(Clone, Debug)]
pub struct Auth {
    pub session_id: String,
    pub user: User,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(id) = cookie(parts, cookie_name(state.config.secure_cookies)) else {
            return Err(WebError::Unauthenticated);
        };
        let Some(session) = state.store.session(&id).await? else { return Err(WebError::Unauthenticated) };
        let now = OffsetDateTime::now_utc();
        if now >= session.expires_at || now - session.last_seen >= IDLE_TIMEOUT || session.user.disabled {
            state.store.end_session(&id, "expired").await?;
            return Err(WebError::Unauthenticated);
        }
        if now - session.last_seen >= TOUCH_EVERY {
            state.store.touch_session(&id, now).await?;
        }
        Ok(Auth { session_id: id, user: session.user, csrf: session.csrf_token })
    }
}

impl Auth {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Checks the form's CSRF token against the session's.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), WebError> {
        match token {
            Some(t) if constant_time_eq(t.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(WebError::Csrf),
        }
    }

    /// The services whose patients this user may see: `None` = all. Roles without patient
    /// access are refused (403) here, before any record is read.
    pub fn patient_services(&self) -> Result<Option<&[ServiceCode]>, WebError> {
        if !self.role().sees_patients() {
            return Err(WebError::Forbidden);
        }
        Ok(if self.role().all_services() { None } else { Some(&self.user.services) })
    }

    /// Refuses a patient-level page of `service` unless it is one of the user's: another
    /// service's record is "not found", never shown.
    pub fn patient_scope(&self, service: &ServiceCode) -> Result<(), WebError> {
        match self.patient_services()? {
            None => Ok(()),
            Some(mine) if mine.contains(service) => Ok(()),
            Some(_) => Err(WebError::NotFound),
        }
    }

    /// Roles that may see aggregated results, and the services they cover (`None` = all).
    pub fn result_services(&self) -> Result<Option<&[ServiceCode]>, WebError> {
        match self.role() {
            Role::NationalAdmin | Role::Analyst => Ok(None),
            Role::Commissioner => Ok(Some(&self.user.services)),
            Role::Clinician | Role::ServiceLead => Err(WebError::Forbidden),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
