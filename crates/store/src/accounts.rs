//! Web accounts: users with one role and the services they belong to, failed-login counting and
//! lockout, and server-side sessions. Every change is audited in its own transaction (entity
//! `user` keyed by the user's name, entity `session` keyed by the user's name too: a session id
//! is a secret and never goes into the log). Only refreshing a session's `last_seen` is not
//! audited: it happens on every request and records nothing anyone decided.

use crate::audit::{self, AuditContext, AuditRow};
use crate::db::{Kind, Row, Tx, Value};
use crate::mapping::json_object;
use crate::{Result, Store, StoreError};
use flsdb_dataset::ServiceCode;
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

/// What a user may do; see the web crate for the routes each role reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Enters, edits and uploads records for their services; their worklists.
    Clinician,
    /// As a clinician, plus manages their services' users.
    ServiceLead,
    /// Aggregated results of the services they commission; no patient-level pages.
    Commissioner,
    /// Organisations, users, opt-outs, the audit log: everything, for every service.
    NationalAdmin,
    /// National aggregates and pseudonymised extracts; no identifiable patient pages.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 5] =
        [Role::Clinician, Role::ServiceLead, Role::Commissioner, Role::NationalAdmin, Role::Analyst];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::ServiceLead => "service_lead",
            Role::Commissioner => "commissioner",
            Role::NationalAdmin => "national_admin",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        let text = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// May see identifiable patient-level pages (for their services, or all for an admin).
    pub fn sees_patients(self) -> bool {
        matches!(self, Role::Clinician | Role::ServiceLead | Role::NationalAdmin)
    }

    /// Acts for every service, whatever `user_services` says.
    pub fn all_services(self) -> bool {
        matches!(self, Role::NationalAdmin | Role::Analyst)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// An argon2id PHC string; the store never sees a password.
    pub password_hash: String,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<OffsetDateTime>,
    /// The services the user belongs to (or commissions), ordered by code.
    pub services: Vec<ServiceCode>,
}

/// A live server-side session and its user.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub user: User,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What a failed login did to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// No such user (nothing written).
    UnknownUser,
    /// Counted; `failures` in a row so far.
    Counted { failures: i64 },
    /// This failure locked the account until then.
    Locked { until: OffsetDateTime },
}

const USER_COLUMNS: &str = "name, role, password_hash, disabled, failed_logins, locked_until";
const USER_KINDS: [Kind; 6] = [Kind::Text, Kind::Text, Kind::Text, Kind::Int, Kind::Int, Kind::Time];

fn user_from_row(row: &Row, services: Vec<ServiceCode>) -> Result<User> {
    let name = row.text(0)?.to_owned();
    let role = Role::parse(row.text(1)?).ok_or_else(|| StoreError::InvalidStored {
        entity: "user",
        key: name.clone(),
        reason: format!("unknown role {:?}", row.opt_text(1).ok().flatten()),
    })?;
    Ok(User {
        name,
        role,
        password_hash: row.text(2)?.to_owned(),
        disabled: row.int(3)? != 0,
        failed_logins: row.int(4)?,
        locked_until: row.opt_time(5)?,
        services,
    })
}

async fn services_of(tx: &mut Tx, name: &str) -> Result<Vec<ServiceCode>> {
    let rows = tx
        .fetch(
            "SELECT service_code FROM user_services WHERE user_name = $1 ORDER BY service_code",
            vec![Value::text(name)],
            &[Kind::Text],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let code = r.text(0)?;
            ServiceCode::parse(code).ok_or_else(|| StoreError::InvalidStored {
                entity: "user_service",
                key: format!("{name}/{code}"),
                reason: "bad service code".into(),
            })
        })
        .collect()
}

async fn load_user(tx: &mut Tx, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
    let Some(row) = tx.fetch_optional(&sql, vec![Value::text(name)], &USER_KINDS).await? else { return Ok(None) };
    let services = services_of(tx, name).await?;
    Ok(Some(user_from_row(&row, services)?))
}

async fn log(tx: &mut Tx, actor: &str, at: OffsetDateTime, entity: &str, row: AuditRow) -> Result<()> {
    audit::write(tx, &AuditContext { at, actor, batch_id: None }, entity, vec![row]).await
}

impl Store {
    /// Creates an account; `false` (nothing written) when the name is taken. Every service must
    /// be in the registry.
    pub async fn create_user(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        password_hash: &str,
        services: &[ServiceCode],
    ) -> Result<bool> {
        let services: BTreeSet<&str> = services.iter().map(ServiceCode::as_str).collect();
        self.db
            .in_write(async |tx| {
                if load_user(tx, name).await?.is_some() {
                    return Ok(false);
                }
                for code in &services {
                    let known = tx
                        .fetch_optional(
                            "SELECT service_code FROM services WHERE service_code = $1",
                            vec![Value::text(*code)],
                            &[Kind::Text],
                        )
                        .await?;
                    if known.is_none() {
                        return Err(StoreError::UnknownService((*code).to_owned()));
                    }
                }
                let now = OffsetDateTime::now_utc();
                tx.execute(
                    "INSERT INTO users (name, role, password_hash, disabled, failed_logins, created_at) \
                     VALUES ($1, $2, $3, 0, 0, $4)",
                    vec![
                        Value::text(name),
                        Value::text(role.as_str()),
                        Value::text(password_hash),
                        Value::Time(Some(now)),
                    ],
                )
                .await?;
                for code in &services {
                    tx.execute(
                        "INSERT INTO user_services (user_name, service_code) VALUES ($1, $2)",
                        vec![Value::text(name), Value::text(*code)],
                    )
                    .await?;
                }
                let list = services.iter().copied().collect::<Vec<_>>().join(";");
                let after = json_object([("role", role.as_str()), ("services", list.as_str())]);
                let row = AuditRow { action: "insert", key: name.to_owned(), before: None, after: Some(after) };
                log(tx, actor, now, "user", row).await?;
                Ok(true)
            })
            .await
    }

    /// One account by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        self.db.in_read(async |tx| load_user(tx, name).await).await
    }

    /// Every account, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        self.db
            .in_read(async |tx| {
                let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
                let rows = tx.fetch(&sql, vec![], &USER_KINDS).await?;
                let mut users = Vec::with_capacity(rows.len());
                for row in &rows {
                    let services = services_of(tx, row.text(0)?).await?;
                    users.push(user_from_row(row, services)?);
                }
                Ok(users)
            })
            .await
    }

    /// Disables (or re-enables) an account; disabling also ends its sessions. `false` when there
    /// is no such user.
    pub async fn set_user_disabled(&self, actor: &str, name: &str, disabled: bool) -> Result<bool> {
        self.db
            .in_write(async |tx| {
                let Some(user) = load_user(tx, name).await? else { return Ok(false) };
                if user.disabled == disabled {
                    return Ok(true);
                }
                let now = OffsetDateTime::now_utc();
                tx.execute(
                    "UPDATE users SET disabled = $2, failed_logins = 0, locked_until = NULL WHERE name = $1",
                    vec![Value::text(name), Value::Int(Some(i64::from(disabled)))],
                )
                .await?;
                if disabled {
                    tx.execute("DELETE FROM sessions WHERE user_name = $1", vec![Value::text(name)]).await?;
                }
                let flag = |d: bool| json_object([("disabled", if d { "yes" } else { "no" })]);
                let row = AuditRow {
                    action: "update",
                    key: name.to_owned(),
                    before: Some(flag(user.disabled)),
                    after: Some(flag(disabled)),
                };
                log(tx, actor, now, "user", row).await?;
                Ok(true)
            })
            .await
    }

    /// Counts a failed login; the `max_failures`-th in a row locks the account for `lock_for`.
    pub async fn login_failed(&self, name: &str, max_failures: i64, lock_for: Duration) -> Result<LoginFailure> {
        self.db
            .in_write(async |tx| {
                let Some(user) = load_user(tx, name).await? else { return Ok(LoginFailure::UnknownUser) };
                let now = OffsetDateTime::now_utc();
                let failures = user.failed_logins + 1;
                let (outcome, locked_until, failures_stored) = if failures >= max_failures {
                    let until = now + lock_for;
                    (LoginFailure::Locked { until }, Some(until), 0)
                } else {
                    (LoginFailure::Counted { failures }, user.locked_until, failures)
                };
                tx.execute(
                    "UPDATE users SET failed_logins = $2, locked_until = $3 WHERE name = $1",
                    vec![Value::text(name), Value::Int(Some(failures_stored)), Value::Time(locked_until)],
                )
                .await?;
                let action = if matches!(outcome, LoginFailure::Locked { .. }) { "lock" } else { "login_failed" };
                let after = json_object([("failed_logins", failures.to_string().as_str())]);
                let row = AuditRow { action, key: name.to_owned(), before: None, after: Some(after) };
                log(tx, name, now, "user", row).await?;
                Ok(outcome)
            })
            .await
    }

    /// Starts a session for a user whose password was just checked: clears the failure count
    /// and any lock, and stores the session (`id` fresh from the caller, never reused).
    pub async fn start_session(
        &self,
        name: &str,
        id: &str,
        csrf_token: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.db
            .in_write(async |tx| {
                let now = OffsetDateTime::now_utc();
                tx.execute(
                    "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = $1",
                    vec![Value::text(name)],
                )
                .await?;
                tx.execute(
                    "INSERT INTO sessions (id, user_name, csrf_token, created_at, last_seen, expires_at) \
                     VALUES ($1, $2, $3, $4, $4, $5)",
                    vec![
                        Value::text(id),
                        Value::text(name),
                        Value::text(csrf_token),
                        Value::Time(Some(now)),
                        Value::Time(Some(expires_at)),
                    ],
                )
                .await?;
                let row = AuditRow { action: "login", key: name.to_owned(), before: None, after: None };
                log(tx, name, now, "session", row).await
            })
            .await
    }

    /// The session with this id and its user, if it exists (expiry is the caller's to judge).
    pub async fn session(&self, id: &str) -> Result<Option<SessionInfo>> {
        self.db
            .in_read(async |tx| {
                let kinds = [Kind::Text, Kind::Text, Kind::Time, Kind::Time, Kind::Time];
                let Some(row) = tx
                    .fetch_optional(
                        "SELECT user_name, csrf_token, created_at, last_seen, expires_at FROM sessions WHERE id = $1",
                        vec![Value::text(id)],
                        &kinds,
                    )
                    .await?
                else {
                    return Ok(None);
                };
                let Some(user) = load_user(tx, row.text(0)?).await? else { return Ok(None) };
                Ok(Some(SessionInfo {
                    user,
                    csrf_token: row.text(1)?.to_owned(),
                    created_at: row.time(2)?,
                    last_seen: row.time(3)?,
                    expires_at: row.time(4)?,
                }))
            })
            .await
    }

    /// Marks a session as used now (for the idle timeout).
    pub async fn touch_session(&self, id: &str, now: OffsetDateTime) -> Result<()> {
        self.db
            .in_write(async |tx| {
                tx.execute(
                    "UPDATE sessions SET last_seen = $2 WHERE id = $1",
                    vec![Value::text(id), Value::Time(Some(now))],
                )
                .await
            })
            .await?;
        Ok(())
    }

    /// Ends a session (logout, or expiry found on use); `reason` is the audit action.
    pub async fn end_session(&self, id: &str, reason: &'static str) -> Result<()> {
        self.db
            .in_write(async |tx| {
                let row = tx
                    .fetch_optional(
                        "SELECT user_name FROM sessions WHERE id = $1",
                        vec![Value::text(id)],
                        &[Kind::Text],
                    )
                    .await?;
                let Some(row) = row else { return Ok(()) };
                let name = row.text(0)?.to_owned();
                tx.execute("DELETE FROM sessions WHERE id = $1", vec![Value::text(id)]).await?;
                let now = OffsetDateTime::now_utc();
                let audit = AuditRow { action: reason, key: name.clone(), before: None, after: None };
                log(tx, &name, now, "session", audit).await
            })
            .await
    }
}
