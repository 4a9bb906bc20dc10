//! The 16-week follow-up as the moment to personalise treatment: for each patient due, what was
//! recommended and what was started, with the flags that call for a personalised plan; and, per
//! service, the path recommended (kpi7) → started by 16 weeks (kpi10) → still taking at 52 weeks
//! (kpi11), so a service sees where patients fall out.

use flsdb_dataset::Record;
use flsdb_dataset::codes::{TherapyOther, YesNo};
use flsdb_kpi::Report;
use serde::Serialize;
use time::{Date, Duration};

/// A reason to look again at a patient's plan at 16 weeks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A drug was recommended and the follow-up found none being taken.
    RecommendedNotStarted,
    /// The patient made an informed decision not to take it.
    InformedDecline,
    /// Twelve weeks have passed and no 16-week contact is recorded.
    NoContactYet,
}

impl Flag {
    pub fn text(self) -> &'static str {
        match self {
            Flag::RecommendedNotStarted => "recommended but not started",
            Flag::InformedDecline => "informed decline",
            Flag::NoContactYet => "no follow-up contact yet",
        }
    }
}

/// The 16-week window opens at 12 weeks.
pub const WINDOW_OPENS_DAYS: i64 = 84;

/// The flags of one record at `as_of`, or `None` when its 16-week follow-up is not due yet (12
/// weeks not reached) or the patient died before the window opened.
pub fn flags_at_16_weeks(record: &Record, as_of: Date) -> Option<Vec<Flag>> {
    let opens = record.fracture_date + Duration::days(WINDOW_OPENS_DAYS);
    if opens > as_of || record.death_date.is_some_and(|d| d < opens) {
        return None;
    }
    let recommended = record.bone_therapy_recommended.is_some_and(|r| r.has_drug());
    let mut flags = Vec::new();
    if record.followup16 != Some(YesNo::Yes) {
        flags.push(Flag::NoContactYet);
        return Some(flags);
    }
    let started = record.therapy_16w.is_some_and(|t| t.is_drug());
    if recommended && !started {
        flags.push(Flag::RecommendedNotStarted);
    }
    if record.therapy_16w == Some(flsdb_dataset::codes::Therapy::Other(TherapyOther::InformedDecline)) {
        flags.push(Flag::InformedDecline);
    }
    Some(flags)
}

/// One step of the therapy path: `count` of `of` patients.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathStep {
    pub label: String,
    pub count: u64,
    pub of: u64,
    pub percent: Option<f64>,
}

/// The therapy path of a service from two KPI reports of the same period and as-of date: `all`
/// (denominator mode `all`) for kpi7 over the cohort, and `recommended` (mode `recommended`) for
/// kpi10 and kpi11 among the patients with a drug recommended who were due and alive at 16 and 52
/// weeks. The KPIs' own counts, so the path always agrees with the KPI tables.
pub fn therapy_path(all: &Report, recommended: &Report, service: &str) -> Option<Vec<PathStep>> {
    let step = |report: &Report, kpi: &str, label: &str| {
        let entry = report.service(service)?.kpis.entry(kpi)?;
        let of = entry.exact.denominator.map_or(0.0, |d| d.as_f64()) as u64;
        let count = entry.exact.numerator;
        Some(PathStep {
            label: label.to_owned(),
            count,
            of,
            percent: (of > 0).then(|| 100.0 * count as f64 / of as f64),
        })
    };
    Some(vec![
        step(all, "kpi7", "bone therapy recommended (of all patients)")?,
        step(recommended, "kpi10", "started by 16 weeks (of those recommended, due at 16 weeks)")?,
        step(recommended, "kpi11", "still taking at 52 weeks (of those recommended, due at 52 weeks)")?,
    ])
}
