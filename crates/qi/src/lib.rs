//! Quality improvement on top of the KPIs (pure, no I/O): the audit asks every FLS to run a
//! complete QI cycle a year (improve one KPI while keeping the others), to check whether spine
//! fracture identification should be its next priority, and to use the 16-week follow-up to
//! personalise treatment. This crate turns KPI results and records into those answers:
//!
//! * [`cycle::evaluate`]: a cycle's *improved* and *maintained* verdicts from monthly series, by
//!   the SPC rules of `statistics.md` with limits fixed on the baseline;
//! * [`priority::next_priorities`]: a service's KPIs ranked by the patients the gap to the next
//!   band represents, spine identification first when it is red;
//! * [`followup`]: the 16-week flags per patient and the recommended → started → still taking
//!   path per service, from the KPI engine's own counts;
//! * [`refracture::refractures`]: later fractures of the same patient within two years, across
//!   services.

pub mod cycle;
pub mod followup;
pub mod priority;
pub mod refracture;

pub use cycle::{Aim, CycleSpec, Evaluation, KpiSeries, Verdict, evaluate, evaluate_records};
pub use followup::{Flag, PathStep, flags_at_16_weeks, therapy_path};
pub use priority::{Priority, next_priorities};
pub use refracture::{Fracture, Refracture, refractures};

/// Why a QI question cannot be answered from the data given.
#[derive(Debug, thiserror::Error)]
pub enum QiError {
    #[error(
        "{kpi} has {months} month(s) with data before the cycle's start; at least {} are needed for a baseline: \
         start the baseline earlier",
        cycle::MIN_BASELINE_MONTHS
    )]
    ShortBaseline { kpi: String, months: usize },
    #[error("the monthly series of {0} does not cover the same months as the target KPI")]
    MismatchedSeries(String),
    #[error(
        "nothing to judge yet: the baseline from {baseline_from} must begin before the start ({start}), and whole \
         months after the start must have passed (data up to {end})"
    )]
    NothingToJudge { baseline_from: time::Date, start: time::Date, end: time::Date },
    #[error("{0} cannot be the target of a cycle: it has no monthly series (choose a proportion KPI)")]
    NotATarget(String),
    #[error(transparent)]
    Kpi(#[from] flsdb_kpi::KpiError),
    #[error(transparent)]
    Stats(#[from] flsdb_stats::StatsError),
}
