//! `flsdb check`: validate a records file without loading it anywhere.

use crate::checking::check_file;
use crate::context::{RuleArgs, open_store, runtime};
use clap::Args;
use flsdb_tabular::{Detail, RowChecker, RowSource, read_services};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Check {
    /// The records file (CSV or XLSX).
    file: PathBuf,
    /// The services registry CSV to check service codes against.
    #[arg(long, value_name = "FILE", required_unless_present = "db")]
    services: Option<PathBuf>,
    /// Check service codes against this database's registry (when --services is not given).
    #[arg(long, env = "FLSDB_DATABASE_URL")]
    db: Option<String>,
    /// Write every problem to this CSV (row,service_code,local_id,field,value,rule,message).
    #[arg(long, value_name = "FILE")]
    errors_out: Option<PathBuf>,
    /// Ignore columns that are not fields of the dataset.
    #[arg(long)]
    allow_unknown_columns: bool,
    #[command(flatten)]
    rules: RuleArgs,
}

pub fn run(args: Check) -> anyhow::Result<ExitCode> {
    let services = match (&args.services, &args.db) {
        (Some(path), _) => read_services(path)?,
        (None, Some(db)) => runtime()?.block_on(async { anyhow::Ok(open_store(db).await?.services().await?) })?,
        (None, None) => anyhow::bail!("give --services FILE or --db URL"),
    };
    let checker = RowChecker {
        validation: args.rules.validation(),
        registered: services.into_iter().map(|s| s.code).collect(),
        permitted: None,
        only: None,
    };
    // Without an error file, warnings are only counted by rule: no text is built for them.
    let detail = if args.errors_out.is_some() { Detail::Full } else { Detail::WarningsCounted };
    let source = RowSource::open(&args.file, args.allow_unknown_columns)?;
    let summary = check_file(source, &checker, &args.file, detail);
    summary.report(args.errors_out.as_deref())?;
    println!("valid {}, rejected {}, warnings {}", summary.rows - summary.rejected, summary.rejected, summary.warnings);
    Ok(if summary.rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
