//! `flsdb export records`: the canonical file format, ready to re-import.

use crate::context::{DbArgs, open_store, runtime};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use flsdb_dataset::ServiceCode;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Export {
    /// Write patient records with the canonical columns (CSV to standard output unless --out).
    Records(RecordsExport),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Csv,
    Xlsx,
}

#[derive(Args)]
pub struct RecordsExport {
    #[command(flatten)]
    db: DbArgs,
    /// Only this service's records.
    #[arg(long, value_name = "CODE")]
    service: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// The file to write (required for xlsx).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(export: Export) -> anyhow::Result<ExitCode> {
    let Export::Records(args) = export;
    let service = match &args.service {
        Some(code) => Some(ServiceCode::parse(code).context("--service needs a service code")?),
        None => None,
    };
    let records = runtime()?.block_on(async {
        let store = open_store(&args.db.db).await?;
        if let Some(code) = &service
            && !store.services().await?.iter().any(|s| &s.code == code)
        {
            anyhow::bail!("service {code} is not in the organisation registry");
        }
        let filter = flsdb_store::RecordFilter { service, ..Default::default() };
        Ok(store.records(&filter).await?)
    })?;
    let written = match (args.format, &args.out) {
        (Format::Csv, Some(path)) => {
            let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            flsdb_tabular::write_records_csv(std::io::BufWriter::new(file), &records)?
        }
        (Format::Csv, None) => flsdb_tabular::write_records_csv(std::io::stdout().lock(), &records)?,
        (Format::Xlsx, Some(path)) => flsdb_tabular::write_records_xlsx(path, &records)?,
        (Format::Xlsx, None) => anyhow::bail!("--format xlsx needs --out FILE"),
    };
    eprintln!("exported {written} records");
    Ok(ExitCode::SUCCESS)
}
