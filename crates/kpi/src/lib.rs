//! KPI sets and the KPI engine of flsdb (`shared/spec/kpis.md`). Pure: no I/O, no clock (the
//! as-of date is a parameter).
//!
//! - [`definition`]: the language KPI sets are written in; [`sets`]: `fls-db` and `iof-ctf` as
//!   values of it ([`set_by_name`]).
//! - [`Engine`]: a set checked and laid out for one computation ([`Setup`]: set, registry,
//!   caseloads, opt-outs, period, as-of date, denominator mode).
//! - [`Partial`]: mergeable per-service counters. `add` records (in any order, on any number of
//!   threads), `merge`, then `finish` into a [`Report`]; every level above services is derived
//!   from the service counters at `finish`, so chunking never changes a result.
//! - [`Report`]: serialises to the JSON of `kpis.md`; [`to_csv`] and [`to_table`] write it as a
//!   flat CSV table and a terminal table; [`Disclosure`] turns it into its published form.
//! - [`monthly_series`]: one service's monthly points of one KPI, for SPC charts.
//!
//! Statistics (Wilson intervals, funnel statuses, over-dispersion) come from `flsdb-stats`
//! through one small module (`decorate`).
//!
//! ```
//! use flsdb_dataset::{Caseloads, Record, Service};
//! use flsdb_kpi::{DenominatorMode, Disclosure, Engine, Period, Setup, set_by_name, to_csv};
//! use std::collections::HashSet;
//! use time::macros::date;
//!
//! let set = set_by_name("fls-db").expect("built in");
//! let row = ["BNT", "Barnet Hospital", "england", "London", "NCL", "", "hospital", "400", ""];
//! let services = vec![Service::parse(row).expect("valid service")];
//! let (caseloads, opt_outs) = (Caseloads::default(), HashSet::new());
//! let engine = Engine::new(Setup {
//!     set: &set,
//!     services: &services,
//!     caseloads: &caseloads,
//!     opt_outs: &opt_outs,
//!     period: Period::calendar_year(2019)?,
//!     as_of: date!(2021 - 03 - 31),
//!     mode: DenominatorMode::All,
//! })?;
//! let records: Vec<Record> = Vec::new(); // from `flsdb_dataset::parse_record`
//! let mut partial = engine.partial(); // one per thread; `merge` them
//! for r in &records {
//!     partial.add(r);
//! }
//! let report = partial.finish();
//! assert_eq!(report.services[0].code, "BNT");
//! let json = report.to_json();
//! let published_csv = to_csv(&Disclosure::default().apply(&report));
//! # let _ = (json, published_csv);
//! # Ok::<(), flsdb_kpi::KpiError>(())
//! ```
//!
//! Speed: `add` allocates nothing. The set's conditions are compiled once into a deduplicated
//! list of atomic tests, evaluated per record into a bit set from facts extracted without
//! branching on field names, so every KPI check is a mask comparison (about 5 M records/s on
//! one core here; `cargo run --release -p flsdb-kpi --example throughput`).
//!
//! # Decisions where the specification is silent
//! 1. **Order of exclusions.** A record outside the period is ignored. A period record of a
//!    service missing from the registry is counted in [`Report::unregistered`] (by code) and
//!    nowhere else, not even in `excluded_opt_out`, which counts the period records of
//!    registered services excluded by the opt-out list.
//! 2. **Condition semantics.** `fracture_site ≠ x` style conditions ([`Condition::CodeNotIn`])
//!    let a missing value pass; `CodeIn` needs the value. Day windows need the date present.
//! 3. **kpi2 / iof1 above service level with no service that has a caseload**: numerator 0,
//!    denominator 0 (the empty sum), so percent and band are `null`.
//! 4. **iof11 for iof1** counts the whole cohort of every service at every level (the input
//!    fields concern data quality, not the caseload), unlike iof1 itself, which above service
//!    level keeps only services with a caseload. iof11 entries carry exactly `numerator`,
//!    `denominator` and `percent`: no band, interval, funnel or `overdispersion` (the value is a
//!    map keyed by KPI id, so an `overdispersion` key would read as a KPI).
//! 5. **kpi1 missing rates** are fractions in [0, 1] (as "missing ÷ applicable" reads), not
//!    percentages; the 20% threshold is compared exactly (`100·missing > 20·applicable`).
//! 6. **Overall `overdispersion` with a denominator of 0 everywhere**: `{"phi": null, "tau2":
//!    null, "units": 0, "rule": "none"}` (there is no θ); services' statuses are then `null`.
//! 7. **Groups** (commissioners, regions, nations) come from the registry: a group whose
//!    services have no record in the period is still listed, with zero counts. Names are the
//!    registry values (nations in their stored form, e.g. `northern_ireland`), sorted by byte
//!    order. The nation check of kpi1's `nhs_number` ignores case.
//! 8. **Disclosure control** ([`Disclosure`]): below overall and nation levels, patient counts
//!    (`records`, numerators, count denominators, `not_due`, `died`, iof11 counts) of 1–7 become
//!    `*` and others are rounded to the nearest 5; where a percentage is hidden (count
//!    denominator 1–7, or a pro-rated caseload above 0 and below 8), its interval and band are
//!    hidden too, since either would reveal it. kpi1 above service level counts services, not
//!    patients, and is left exact; a kpi1 missing rate is hidden when 1–7 records apply. Funnel
//!    statuses are kept (below 10 they are `too_few` anyway). `excluded_opt_out` is a national
//!    figure and stays exact.
//! 9. **Percent** is `k / n × 100` (PHE's order: proportion first, then the multiplier).
//! 10. **SPC points** of kpi2 / iof1 use the caseload pro-rated to the month's days; kpi1 and
//!     iof11 have no monthly series (they are not proportions of records at service level).
//! 11. **The CSV** ([`to_csv`]) has one row per unit (overall, nations, regions, commissioners,
//!     services) and the set's metadata in trailing columns; over-dispersion is in the JSON only.
//! 12. **The JSON shape is exactly the spec's**: the set's version and the unregistered-service
//!     counts are fields of [`Report`] (for the CLI and web to show) but not JSON keys. kpi2/iof1
//!     service entries carry `funnel`/`funnel_adjusted` as `null`, and `not_due`/`died` as 0.
//! 13. **The terminal table** ([`to_table`]) lists overall, nations, regions, commissioners and
//!     services in that order (filterable by level); a percentage is rounded half away from zero
//!     on the exact fraction; kpi1 of a service shows `good`/`poor`; iof11 gets its own table;
//!     the overall `not_due`/`died` counts of follow-up KPIs are stated under the table.
//! 14. **Default period** ([`Period::default_for`]): the calendar year before the as-of date's
//!     year (a year that ends on the as-of date has not ended before it).

mod csv;
mod decorate;
pub mod definition;
mod disclosure;
mod engine;
mod fields;
mod finish;
mod period;
mod report;
pub mod sets;
mod spc;
mod table;

pub use csv::to_csv;
pub use definition::{Band, Bands, Condition, FollowUp, KpiDef, KpiSet, Measure};
pub use disclosure::Disclosure;
pub use engine::{Engine, Partial, Setup};
pub use finish::prorated_caseload;
pub use flsdb_stats::FunnelStatus;
pub use flsdb_stats::overdispersion::{Overdispersion, Rule as OverdispersionRule};
pub use period::{DenominatorMode, Period};
pub use report::*;
pub use sets::{SET_NAMES, set_by_name};
pub use spc::{ChartKind, MIN_POINTS_FOR_LIMITS, MonthPoint, ServiceChart, chart_series, monthly_series};
pub use table::{TableOptions, format_percent, format_percent_exact, to_table};

use time::Date;

/// Why a computation could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KpiError {
    #[error("the period starts ({from}) after it ends ({to})")]
    PeriodReversed { from: Date, to: Date },
    #[error("year {0} is out of range")]
    YearOutOfRange(i32),
    #[error("unknown KPI set {0:?}: use one of fls-db, iof-ctf")]
    UnknownSet(String),
    #[error("unknown denominator mode {0:?}: use all or recommended")]
    UnknownMode(String),
    #[error("KPI {kpi}: {message}")]
    InvalidDefinition { kpi: String, message: String },
    #[error("service {0} appears twice in the registry")]
    DuplicateService(String),
    #[error("no registered service has the code {0:?}")]
    UnknownService(String),
    #[error("the set has no KPI {0:?}")]
    UnknownKpi(String),
    #[error("{0} has no monthly series: it is not a proportion of records at service level")]
    NoSeries(String),
}
