//! `flsdb import …`: services, caseloads, opt-outs and patient records.

use crate::checking::check_file;
use crate::context::{DbArgs, RuleArgs, default_actor, open_store, runtime};
use clap::{Args, Subcommand, ValueEnum};
use flsdb_dataset::Record;
use flsdb_tabular::{RowChecker, RowSource, read_caseloads, read_opt_outs, read_services};
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
    let request = ImportRequest {
        file: args.file.clone(),
        sheet: args.sheet.clone(),
        allow_unknown_columns: args.allow_unknown_columns,
        validation: args.rules.validation(),
        mode: args.mode,
        dry_run: args.dry_run,
        actor: actor(&args.as_user),
        errors_out: args.errors_out.clone(),
    };
    let report = import_records_file(&store, &request).await?;
    println!("{}", report.summary_line());
    Ok(if report.refused { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// One records import, as the CLI and the demo run it.
pub struct ImportRequest {
    pub file: PathBuf,
    pub sheet: Option<String>,
    pub allow_unknown_columns: bool,
    pub validation: flsdb_dataset::Validation,
    pub mode: Mode,
    pub dry_run: bool,
    pub actor: String,
    pub errors_out: Option<PathBuf>,
}

pub struct ImportReport {
    pub outcome: flsdb_store::ImportOutcome,
    pub rejected: u64,
    pub warnings: u64,
    /// All-or-nothing found invalid rows, so nothing was written.
    pub refused: bool,
}

impl ImportReport {
    /// The line scripts read.
    pub fn summary_line(&self) -> String {
        let o = &self.outcome;
        format!(
            "inserted {}, updated {}, unchanged {}, rejected {}, warnings {}",
            o.inserted, o.updated, o.unchanged, self.rejected, self.warnings
        )
    }
}

impl ImportRequest {
    fn source(&self) -> anyhow::Result<RowSource> {
        Ok(match &self.sheet {
            Some(sheet) => RowSource::xlsx(&self.file, Some(sheet), self.allow_unknown_columns)?,
            None => RowSource::open(&self.file, self.allow_unknown_columns)?,
        })
    }
}

/// Checks the whole file (pass 1), then, unless all-or-nothing found a bad row, reads it again and
/// streams the accepted records into one transaction (pass 2), so memory stays flat however large
/// the file is and a failure at any point leaves the database as it was.
pub async fn import_records_file(store: &flsdb_store::Store, request: &ImportRequest) -> anyhow::Result<ImportReport> {
    let registered: HashSet<_> = store.services().await?.into_iter().map(|s| s.code).collect();
    if registered.is_empty() {
        anyhow::bail!("the organisation registry is empty: load services first (flsdb import services FILE)");
    }
    let checker = RowChecker { validation: request.validation, registered, permitted: None };

    let summary = check_file(request.source()?, &checker, &request.file);
    summary.report(request.errors_out.as_deref())?;
    let mut report = ImportReport {
        outcome: flsdb_store::ImportOutcome::default(),
        rejected: summary.rejected,
        warnings: summary.warnings,
        refused: summary.rejected > 0 && request.mode == Mode::AllOrNothing,
    };
    if report.refused {
        eprintln!(
            "{} of {} rows are invalid or ineligible: nothing was written (fix them, or import with --mode valid-rows)",
            summary.rejected, summary.rows
        );
        return Ok(report);
    }

    let source = request.source()?;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Record>(8192);
    let reader = std::thread::spawn(move || {
        source.check_each(&checker, |row| {
            if let Some(record) = row.record {
                // A closed channel means the store gave up; its error is reported below.
                let _ = sender.send(record);
            }
        })
    });
    let batch = flsdb_store::NewBatch {
        actor: request.actor.clone(),
        file_name: Some(request.file.display().to_string()),
        mode: format!("{:?} {:?}", flsdb_tabular::Format::from_path(&request.file), request.mode).to_lowercase(),
    };
    report.outcome = if request.dry_run {
        store.import_records_dry_run(receiver).await?
    } else {
        store.import_records(&batch, receiver).await?
    };
    reader.join().map_err(|_| anyhow::anyhow!("the file reader stopped unexpectedly"))?;
    if request.dry_run {
        eprintln!("dry run: nothing was written");
    }
    Ok(report)
}
