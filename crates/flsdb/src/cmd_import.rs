//! `flsdb import …`: services, caseloads, opt-outs and patient records.

use crate::checking::{advance, progress};
use crate::context::{DbArgs, RuleArgs, default_actor, open_store, runtime};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
pub use flsdb_import::{ImportReport, ImportRequest};
use flsdb_tabular::{read_caseloads, read_opt_outs, read_services};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Import {
    /// Load or update the organisation registry from a services CSV
    /// (service_code,name,nation,region,commissioner,parent_org,setting,expected_caseload,nhfd_hip_fractures).
    Services(RegistryImport),
    /// Load per-year caseloads (service_code,year,expected_caseload); they win over the services file.
    Caseloads(RegistryImport),
    /// Add NHS numbers to the national data opt-out list (one per line; bad lines are reported and skipped).
    OptOuts(OptOutImport),
    /// Check a CSV or XLSX file of patient records and load it.
    ///
    /// Every problem of every row is reported (row numbers as a spreadsheet shows them: the
    /// header is row 1). By default one invalid row means nothing is written (exit status 1).
    /// The last line of the summary is always
    /// `inserted N, updated N, unchanged N, rejected N, warnings N`.
    Records(RecordsImport),
}

#[derive(Args)]
pub struct RegistryImport {
    /// The CSV file.
    file: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// The name recorded in the audit log.
    #[arg(long, value_name = "NAME")]
    as_user: Option<String>,
}

#[derive(Args)]
pub struct OptOutImport {
    #[command(flatten)]
    registry: RegistryImport,
    #[command(flatten)]
    rules: RuleArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Write nothing if any row is invalid.
    AllOrNothing,
    /// Write the valid rows and report the rest.
    ValidRows,
}

#[derive(Args)]
pub struct RecordsImport {
    /// The records file: CSV (UTF-8) or XLSX (first sheet unless --sheet).
    file: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// Check the file and report what would change, without writing anything.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value = "all-or-nothing")]
    mode: Mode,
    /// Write every problem to this CSV (row,service_code,local_id,field,value,rule,message).
    #[arg(long, value_name = "FILE")]
    errors_out: Option<PathBuf>,
    /// Ignore columns that are not fields of the dataset instead of refusing the file.
    #[arg(long)]
    allow_unknown_columns: bool,
    /// The name recorded in the audit log as the submitter.
    #[arg(long, value_name = "NAME")]
    as_user: Option<String>,
    /// The sheet to read from an XLSX workbook.
    #[arg(long, value_name = "NAME")]
    sheet: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
}

pub fn run(import: Import) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let summary = match import {
            Import::Services(args) => {
                let services = read_services(&args.file)?;
                let store = open_store(&args.db.db).await?;
                store.upsert_services(&actor(&args.as_user), &services).await?;
                format!("loaded {} services", services.len())
            }
            Import::Caseloads(args) => {
                let caseloads = read_caseloads(&args.file)?;
                let store = open_store(&args.db.db).await?;
                store.set_caseloads(&actor(&args.as_user), &caseloads).await?;
                format!("loaded {} caseloads", caseloads.len())
            }
            Import::OptOuts(OptOutImport { registry: args, rules }) => {
                let (numbers, errors) = read_opt_outs(&args.file, rules.allow_test_nhs_numbers)?;
                for e in &errors {
                    eprintln!("line {}: {:?} skipped: {}", e.line, e.value, e.message);
                }
                let numbers: Vec<_> = numbers.into_iter().collect();
                let store = open_store(&args.db.db).await?;
                let added = store.add_opt_outs(&actor(&args.as_user), &numbers).await?;
                format!("opt-outs: {} read, {added} new, {} lines skipped", numbers.len(), errors.len())
            }
            Import::Records(args) => return records(args).await,
        };
        println!("{summary}");
        Ok(ExitCode::SUCCESS)
    })
}

fn actor(as_user: &Option<String>) -> String {
    as_user.clone().unwrap_or_else(default_actor)
}

async fn records(args: RecordsImport) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.db.db).await?;
    // A named user may only submit for their services (unless national admin); without
    // --as-user the operator at the command line is trusted.
    let permitted = match &args.as_user {
        None => None,
        Some(name) => {
            let user = store.user(name).await?;
            let user = user.with_context(|| format!("no user {name}: create it with flsdb user add"))?;
            (!user.role.all_services()).then(|| user.services.into_iter().collect::<HashSet<_>>())
        }
    };
    let request = ImportRequest {
        file: args.file.clone(),
        file_name: None,
        sheet: args.sheet.clone(),
        allow_unknown_columns: args.allow_unknown_columns,
        validation: args.rules.validation(),
        mode: args.mode.into(),
        dry_run: args.dry_run,
        actor: actor(&args.as_user),
        permitted,
    };
    let report = import_records_file(&store, &request, args.errors_out.as_deref()).await?;
    println!("{}", report.summary_line());
    Ok(if report.refused { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

impl From<Mode> for flsdb_import::Mode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::AllOrNothing => flsdb_import::Mode::AllOrNothing,
            Mode::ValidRows => flsdb_import::Mode::ValidRows,
        }
    }
}

/// The import of `flsdb_import`, with the command line's progress bar and report.
pub async fn import_records_file(
    store: &flsdb_store::Store,
    request: &ImportRequest,
    errors_out: Option<&std::path::Path>,
) -> anyhow::Result<ImportReport> {
    let bar = progress(&request.file, if request.dry_run { "checking" } else { "importing" });
    let shown = bar.clone();
    let report = flsdb_import::import_records_file(store, request, move |n| advance(&shown, n)).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report?;
    report.summary.report(errors_out)?;
    if report.refused {
        eprintln!(
            "{} of {} rows are invalid or ineligible: nothing was written (fix them, or import with --mode valid-rows)",
            report.summary.rejected, report.summary.rows
        );
    } else if request.dry_run {
        eprintln!("dry run: nothing was written");
    }
    Ok(report)
}
