//! `flsdb kpi`: the KPI table at every level, as JSON (kpis.md), CSV or a terminal table.

use crate::context::runtime;
use crate::inputs::{Inputs, PeriodArgs, SourceArgs};
use anyhow::Context;
use clap::{Args, ValueEnum};
use flsdb_kpi::{DenominatorMode, Disclosure, Engine, TableOptions, set_by_name};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Table,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Denominators {
    /// As in the public FLS-DB benchmark tables.
    All,
    /// kpi9–kpi11 only for records with a drug recommended (as in the annual report's narrative).
    Recommended,
}

#[derive(Args)]
pub struct Kpi {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    period: PeriodArgs,
    /// KPI set: fls-db (the UK FLS-DB KPIs) or iof-ctf (IOF Capture the Fracture).
    #[arg(long, default_value = "fls-db")]
    set: String,
    #[arg(long, value_enum, default_value = "all")]
    denominators: Denominators,
    /// Apply small-number suppression for publication (counts 1–7 shown as *, others rounded to 5).
    #[arg(long)]
    published: bool,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: Kpi) -> anyhow::Result<ExitCode> {
    let set =
        set_by_name(&args.set).with_context(|| format!("unknown KPI set {:?}: use fls-db or iof-ctf", args.set))?;
    let mode = match args.denominators {
        Denominators::All => DenominatorMode::All,
        Denominators::Recommended => DenominatorMode::Recommended,
    };
    let period = args.period.period()?;
    let as_of = args.period.as_of();
    let (report, checked) = runtime()?.block_on(async {
        let inputs = Inputs::load(&args.source).await?;
        let engine = Engine::new(inputs.setup(&set, period, as_of, mode))?;
        let (partial, checked) = inputs.accumulate(&engine).await?;
        anyhow::Ok((partial.finish(), checked))
    })?;
    if let Some(summary) = &checked {
        summary.report(None)?;
    }
    for (code, n) in &report.unregistered {
        eprintln!("{n} records of service {code}, which is not in the registry, were left out");
    }
    let report = if args.published { Disclosure::default().apply(&report) } else { report };
    let color = args.out.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Json => {
            let mut json = serde_json::to_value(&report)?;
            if let (Some(summary), Some(object)) = (&checked, json.as_object_mut()) {
                // Not part of the KPI contract: how many rows of the file were invalid and left out.
                object.insert("invalid_records".into(), summary.rejected.into());
            }
            serde_json::to_string_pretty(&json)? + "\n"
        }
        Format::Csv => flsdb_kpi::to_csv(&report),
        Format::Table => flsdb_kpi::to_table(&report, &TableOptions { color, ..TableOptions::default() }),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    if let Some(summary) = checked.filter(|s| s.rejected > 0) {
        eprintln!("{} invalid rows were left out of the KPIs", summary.rejected);
    }
    Ok(ExitCode::SUCCESS)
}
