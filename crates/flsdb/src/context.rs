//! Settings shared by the commands: which database, what "today" is, deployment rules.

use anyhow::Context;
use clap::Args;
use flsdb_dataset::Validation;
use time::Date;

#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database: a SQLite file path or sqlite: URL, or a postgres:// URL.
    #[arg(long, env = "FLSDB_DATABASE_URL", default_value = "flsdb.sqlite")]
    pub db: String,
}

#[derive(Args, Clone, Debug)]
pub struct RuleArgs {
    /// Accept NHS numbers in the test range 900–999 (synthetic and demo data use them).
    #[arg(long, env = "FLSDB_ALLOW_TEST_NHS_NUMBERS", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_test_nhs_numbers: bool,
    /// The date that counts as today for "not in the future" checks (default: the local date).
    #[arg(long, env = "FLSDB_TODAY", value_parser = parse_date_arg, hide = true)]
    pub today: Option<Date>,
}

impl RuleArgs {
    pub fn validation(&self) -> Validation {
        Validation {
            today: self.today.unwrap_or_else(local_today),
            allow_test_nhs_numbers: self.allow_test_nhs_numbers,
        }
    }
}

pub fn local_today() -> Date {
    time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc()).date()
}

/// Dates on the command line: `YYYY-MM-DD` (or the dataset's `D/M/YYYY`).
pub fn parse_date_arg(s: &str) -> Result<Date, String> {
    flsdb_dataset::values::parse_date(s.trim()).map_err(|e| e.message)
}

pub async fn open_store(db: &str) -> anyhow::Result<flsdb_store::Store> {
    let options = connect_options()?;
    flsdb_store::Store::connect_with(db, &options).await.with_context(|| format!("cannot open the database {db}"))
}

/// Pool size and timeouts: the store's defaults, overridden by `FLSDB_DB_MAX_CONNECTIONS` and
/// `FLSDB_DB_ACQUIRE_TIMEOUT`, `FLSDB_DB_STATEMENT_TIMEOUT`, `FLSDB_DB_BUSY_TIMEOUT` (seconds).
pub fn connect_options() -> anyhow::Result<flsdb_store::ConnectOptions> {
    fn var<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>> {
        match std::env::var(name) {
            Ok(text) if !text.trim().is_empty() => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("{name} must be a whole number, not {text:?}")),
            _ => Ok(None),
        }
    }
    let seconds = |name| Ok::<_, anyhow::Error>(var::<u64>(name)?.map(std::time::Duration::from_secs));
    let mut options = flsdb_store::ConnectOptions::default();
    if let Some(n) = var::<u32>("FLSDB_DB_MAX_CONNECTIONS")? {
        options.max_connections = Some(n.max(1));
    }
    if let Some(t) = seconds("FLSDB_DB_ACQUIRE_TIMEOUT")? {
        options.acquire_timeout = t;
    }
    if let Some(t) = seconds("FLSDB_DB_STATEMENT_TIMEOUT")? {
        options.statement_timeout = t;
    }
    if let Some(t) = seconds("FLSDB_DB_BUSY_TIMEOUT")? {
        options.busy_timeout = t;
    }
    Ok(options)
}

/// The name recorded in the audit log when `--as-user` is not given.
pub fn default_actor() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "cli".into())
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}
