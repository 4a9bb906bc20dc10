//! `flsdb synth`: synthetic data for tests, benchmarks and the demo.

use crate::context::{local_today, parse_date_arg};
use anyhow::Context;
use clap::Args;
use flsdb_synth::SynthConfig;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::{Date, Month};

#[derive(Args)]
pub struct Synth {
    /// Number of patient records.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Number of services (England and Wales, a few in Northern Ireland).
    #[arg(long, default_value_t = 80)]
    services: usize,
    /// Fracture years, e.g. 2016-2024 (or one year).
    #[arg(long, default_value = "2016-2024", value_parser = parse_years)]
    years: (i32, i32),
    /// Random seed: the same seed and options always give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The date the data is looked at; nothing is dated after it
    /// (default: 30 June of the year after the last year, or today if that is earlier).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
    /// Folder to write records.csv, services.csv and opt_outs.txt into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn parse_years(s: &str) -> Result<(i32, i32), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let year = |t: &str| t.trim().parse::<i32>().map_err(|_| format!("{s:?} is not a year range like 2016-2024"));
    let (a, b) = (year(a)?, year(b)?);
    if a > b { Err(format!("{s:?}: the first year is after the last")) } else { Ok((a, b)) }
}

pub fn run(args: Synth) -> anyhow::Result<ExitCode> {
    let default_as_of =
        Date::from_calendar_date(args.years.1 + 1, Month::June, 30).context("--years is out of range")?;
    let config = SynthConfig {
        records: args.records,
        services: args.services,
        years: args.years.0..=args.years.1,
        seed: args.seed,
        as_of: args.as_of.unwrap_or_else(|| default_as_of.min(local_today())),
    };
    let summary = write_synthetic(&config, &args.out)?;
    eprintln!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// Writes the three files of a synthetic data set; used by `synth` and `demo`.
pub fn write_synthetic(config: &SynthConfig, dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let create = |name: &str| -> anyhow::Result<BufWriter<std::fs::File>> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let services = flsdb_synth::services(config)?;
    flsdb_tabular::write_services_csv(create("services.csv")?, &services)?;
    let written = flsdb_tabular::write_records_csv(create("records.csv")?, flsdb_synth::records(config, &services)?)?;
    let opt_outs = flsdb_synth::opt_outs(config, &services)?;
    let mut out = create("opt_outs.txt")?;
    writeln!(out, "nhs_number")?;
    for n in &opt_outs {
        writeln!(out, "{n}")?;
    }
    out.flush()?;
    Ok(format!(
        "wrote {written} records, {} services and {} opt-outs to {} (as of {}; NHS numbers in the test range: import with --allow-test-nhs-numbers)",
        services.len(),
        opt_outs.len(),
        dir.display(),
        config.as_of
    ))
}
