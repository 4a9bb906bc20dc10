//! Deterministic synthetic FLS-DB data: a registry of invented services and a stream of valid
//! patient records, for tests, benchmarks and the demo. No real patient, hospital or NHS number is
//! ever produced: NHS numbers are in the test range 900–999, names and postcodes are invented.
//!
//! The data is built to exercise everything the audit measures: every record is valid under
//! `dataset.md` (with test NHS numbers allowed and `as_of` as "today"), national rates sit near the
//! published FLS-DB figures, each service has its own performance and completeness drawn around
//! them (so benchmarking and funnel plots have something to show), identification against the
//! registry's caseloads ranges from about 20% to 120%, and the edges of the KPI rules occur:
//! follow-ups outside their windows, deaths, 52-week data not yet entered, records not yet due.
//!
//! Same [`SynthConfig`] → identical output, on every platform and forever: the random numbers come
//! from this crate's own SplitMix64, not from a crate whose algorithm may change, and only IEEE
//! arithmetic that is exact everywhere is used on them. Records are produced one at a time
//! ([`Records`] is a streaming iterator), so a million of them need no more memory than one, at
//! over a million records a second on one core (release build). Nothing here reads a clock or
//! touches a file: the CLI writes the files.
//!
//! What the numbers look like (100,000 records, seed 1, as of 2025-03-31): kpi4 70%, kpi5 48%,
//! kpi6 62%, kpi7 53%, kpi9 55%, kpi10 30%, kpi11 31%, spine 14%, hip 28%, 7% dead within a year,
//! 3.5% without an NHS number; the per-service kpi4 ranges from about 40% to 95%.
//!
//! ```
//! let config = flsdb_synth::SynthConfig { records: 1000, ..Default::default() };
//! let services = flsdb_synth::services(&config)?;
//! let records = flsdb_synth::records(&config, &services)?;
//! assert_eq!(records.len(), 1000);
//! let opt_outs = flsdb_synth::opt_outs(&config, &services)?;
//! assert!(!opt_outs.is_empty());
//! # Ok::<(), flsdb_synth::SynthError>(())
//! ```

mod names;
mod nhs;
mod profile;
mod records;
mod rng;
mod services;

pub use records::{Records, opt_outs, records};
pub use services::services;

use flsdb_dataset::{FIRST_ELIGIBLE_FRACTURE, Validation};
use std::fmt;
use std::ops::RangeInclusive;
use time::{Date, Month, macros::date};

/// What to generate. The defaults make a national data set of 100,000 records from 80 services
/// with fractures in 2016–2024, looked at on 31 March 2025.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// How many records [`records`] yields.
    pub records: usize,
    /// How many services [`services`] registers (about 7.5% in Wales, two in Northern Ireland from
    /// 40 services up, the rest spread over NHS England's regions by population).
    pub services: usize,
    /// Calendar years of the fracture dates; clipped to the audit's start (2016-01-01) and to
    /// `as_of`.
    pub years: RangeInclusive<i32>,
    pub seed: u64,
    /// The date the data is looked at: no date in the data is after it, and what is due or
    /// entered by then follows from it (the generator has no clock).
    pub as_of: Date,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { records: 100_000, services: 80, years: 2016..=2024, seed: 1, as_of: date!(2025 - 03 - 31) }
    }
}

impl SynthConfig {
    /// The validation settings under which every generated record is valid: `as_of` is "today" and
    /// test NHS numbers are allowed.
    pub fn validation(&self) -> Validation {
        Validation { today: self.as_of, allow_test_nhs_numbers: true }
    }

    /// The dates fractures are drawn from: `years` clipped to 2016-01-01 and to `as_of`.
    pub fn period(&self) -> Result<RangeInclusive<Date>, SynthError> {
        let invalid = || SynthError::EmptyPeriod { years: self.years.clone(), as_of: self.as_of };
        let start = Date::from_calendar_date(*self.years.start(), Month::January, 1).map_err(|_| invalid())?;
        let end = Date::from_calendar_date(*self.years.end(), Month::December, 31).map_err(|_| invalid())?;
        let (from, to) = (start.max(FIRST_ELIGIBLE_FRACTURE), end.min(self.as_of));
        if from > to {
            return Err(invalid());
        }
        Ok(from..=to)
    }
}

/// Why nothing can be generated from a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SynthError {
    /// No date in `years` is both in the audit (from 2016) and on or before `as_of`.
    EmptyPeriod { years: RangeInclusive<i32>, as_of: Date },
    /// Records were asked for but there is no service to give them to.
    NoServices,
}

impl fmt::Display for SynthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SynthError::EmptyPeriod { years, as_of } => write!(
                f,
                "no fracture date possible: years {}–{} have no day from 2016-01-01 up to as-of date {as_of}",
                years.start(),
                years.end()
            ),
            SynthError::NoServices => f.write_str("records were asked for but there are no services"),
        }
    }
}

impl std::error::Error for SynthError {}
