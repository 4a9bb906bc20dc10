//! Where `kpi` and `spc` read from: a database, or the analyst's files (records CSV, services,
//! caseloads, opt-outs) without any database.

use crate::checking::CheckSummary;
use crate::context::{RuleArgs, local_today, open_store, parse_date_arg};
use anyhow::Context;
use clap::Args;
use flsdb_dataset::{Caseloads, Field, NhsNumber, Record, Service};
use flsdb_kpi::{DenominatorMode, Engine, KpiSet, Partial, Period, Setup};
use flsdb_store::{RecordFilter, Store};
use flsdb_tabular::{
    DateWindow, Detail, RowChecker, RowSource, check_parallel_with, read_caseloads, read_opt_outs, read_services,
};
use std::collections::HashSet;
use std::path::PathBuf;
use time::Date;

#[derive(Args, Clone, Debug)]
pub struct SourceArgs {
    /// Read from this database (SQLite path or URL, or postgres:// URL); ignored with --records.
    #[arg(long, env = "FLSDB_DATABASE_URL")]
    db: Option<String>,
    /// Read records from this CSV or XLSX file instead of a database (needs --services). Rows
    /// of the period are checked as an import checks them (invalid ones are listed and left
    /// out); rows with a fracture date outside it cannot count and are passed over unchecked.
    #[arg(long, value_name = "FILE", requires = "services")]
    records: Option<PathBuf>,
    /// The services registry CSV (with --records).
    #[arg(long, value_name = "FILE")]
    services: Option<PathBuf>,
    /// Per-year caseloads CSV (with --records).
    #[arg(long, value_name = "FILE")]
    caseloads: Option<PathBuf>,
    /// National opt-out list (with --records).
    #[arg(long, value_name = "FILE")]
    opt_outs: Option<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
}

#[derive(Args, Clone, Debug)]
pub struct PeriodArgs {
    /// A calendar year of fracture dates.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    year: Option<i32>,
    /// First fracture date of the period (with --to).
    #[arg(long, value_parser = parse_date_arg, requires = "to")]
    from: Option<Date>,
    /// Last fracture date of the period (with --from).
    #[arg(long, value_parser = parse_date_arg, requires = "from")]
    to: Option<Date>,
    /// The date of the data snapshot: it decides which follow-ups are due (default: today).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
}

impl PeriodArgs {
    pub fn as_of(&self) -> Date {
        self.as_of.unwrap_or_else(local_today)
    }

    /// `--year`, `--from/--to`, or the last calendar year that ended before the as-of date.
    pub fn period(&self) -> anyhow::Result<Period> {
        Ok(match (self.year, self.from, self.to) {
            (Some(year), ..) => Period::calendar_year(year)?,
            (None, Some(from), Some(to)) => Period::new(from, to)?,
            _ => Period::default_for(self.as_of())?,
        })
    }
}

/// The registry side of the inputs, and where the records come from.
pub struct Inputs {
    pub services: Vec<Service>,
    pub caseloads: Caseloads,
    pub opt_outs: HashSet<NhsNumber>,
    from: From,
}

enum From {
    Store(Store),
    File { path: PathBuf, checker: RowChecker },
}

impl Inputs {
    pub async fn load(args: &SourceArgs) -> anyhow::Result<Inputs> {
        if let Some(path) = &args.records {
            let services_path = args.services.as_ref().context("--records needs --services FILE")?;
            let services = read_services(services_path)?;
            let caseloads = match &args.caseloads {
                Some(p) => read_caseloads(p)?,
                None => Caseloads::default(),
            };
            let opt_outs = match &args.opt_outs {
                Some(p) => {
                    let (numbers, errors) = read_opt_outs(p, args.rules.allow_test_nhs_numbers)?;
                    if !errors.is_empty() {
                        eprintln!("{}: {} unreadable lines skipped", p.display(), errors.len());
                    }
                    numbers
                }
                None => HashSet::new(),
            };
            let checker = RowChecker {
                validation: args.rules.validation(),
                registered: services.iter().map(|s| s.code.clone()).collect(),
                permitted: None,
                only: None,
            };
            return Ok(Inputs { services, caseloads, opt_outs, from: From::File { path: path.clone(), checker } });
        }
        let db = args.db.as_deref().unwrap_or("flsdb.sqlite");
        let store = open_store(db).await?;
        Ok(Inputs {
            services: store.services().await?,
            caseloads: store.caseloads().await?,
            opt_outs: store.opt_outs().await?,
            from: From::Store(store),
        })
    }

    pub fn setup<'a>(&'a self, set: &'a KpiSet, period: Period, as_of: Date, mode: DenominatorMode) -> Setup<'a> {
        Setup {
            set,
            services: &self.services,
            caseloads: &self.caseloads,
            opt_outs: &self.opt_outs,
            period,
            as_of,
            mode,
        }
    }

    /// Feeds every record of the period to the engine: a file is checked on both cores (invalid
    /// rows of the period are left out and summarised, rows outside it passed over), a database
    /// is read in chunks.
    pub async fn accumulate<'e>(&self, engine: &'e Engine<'e>) -> anyhow::Result<(Partial<'e>, Option<CheckSummary>)> {
        self.accumulate_with(engine, &|_| {}).await
    }

    /// [`Inputs::accumulate`], also showing every valid record read to `each` (on any thread),
    /// e.g. to fingerprint the data a report is built from. From a file these are the period's
    /// records only; from a database, the period's too (the store filters by fracture date).
    pub async fn accumulate_with<'e>(
        &self,
        engine: &'e Engine<'e>,
        each: &(dyn Fn(&Record) + Sync),
    ) -> anyhow::Result<(Partial<'e>, Option<CheckSummary>)> {
        match &self.from {
            From::File { path, checker } => {
                let source = RowSource::open(path, false)?;
                let checker = within(checker, engine.setup().period);
                // Invalid rows are listed; warnings are only counted (nothing lists them here).
                let checked = check_parallel_with(
                    source,
                    &checker,
                    Detail::WarningsCounted,
                    2,
                    || (engine.partial(), CheckSummary::default()),
                    |(partial, summary), row| {
                        if let Some(record) = &row.record {
                            each(record);
                            partial.add(record);
                        }
                        summary.add(row);
                    },
                );
                let mut summaries = Vec::new();
                let mut total: Option<Partial<'e>> = None;
                for (partial, summary) in checked.states {
                    summaries.push(summary);
                    match &mut total {
                        Some(t) => t.merge(partial),
                        None => total = Some(partial),
                    }
                }
                let summary = CheckSummary { passed_over: checked.passed_over, ..CheckSummary::merge(summaries) };
                Ok((total.unwrap_or_else(|| engine.partial()), Some(summary)))
            }
            From::Store(store) => {
                let period = engine.setup().period;
                let filter = RecordFilter {
                    fracture_from: Some(period.from()),
                    fracture_to: Some(period.to()),
                    ..Default::default()
                };
                let mut partial = engine.partial();
                store
                    .for_each_record_chunk(&filter, 20_000, |chunk: Vec<Record>| {
                        chunk.iter().for_each(|r| {
                            each(r);
                            partial.add(r)
                        });
                        Ok::<(), flsdb_store::StoreError>(())
                    })
                    .await?;
                Ok((partial, None))
            }
        }
    }

    /// One service's records in the period (for its monthly series).
    pub async fn service_records(&self, service: &Service, period: Period) -> anyhow::Result<Vec<Record>> {
        match &self.from {
            From::File { path, checker } => {
                let mut records = Vec::new();
                RowSource::open(path, false)?.check_each(&within(checker, period), |row| {
                    if let Some(r) = row.record.filter(|r| r.service_code == service.code) {
                        records.push(r);
                    }
                });
                Ok(records)
            }
            From::Store(store) => {
                let filter = RecordFilter {
                    service: Some(service.code.clone()),
                    fracture_from: Some(period.from()),
                    fracture_to: Some(period.to()),
                };
                Ok(store.records(&filter).await?)
            }
        }
    }
}

/// `checker` for the fractures of `period` only: a row dated outside it could not change a
/// figure, valid or not, so it is passed over (`flsdb check` is for checking every row).
fn within(checker: &RowChecker, period: Period) -> RowChecker {
    RowChecker {
        only: Some(DateWindow { field: Field::FractureDate, from: period.from(), to: period.to() }),
        ..checker.clone()
    }
}
