//! Quality-improvement cycles judged from the data: *improved* (special-cause improvement in the
//! target KPI after the start, or the aim reached) and *maintained* (no special-cause concern in
//! any other KPI since the start), by the SPC rules of `statistics.md` §4.1 with the limits fixed
//! on the baseline months, so that what happens after the change is judged against what was
//! usual before it.

use crate::QiError;
use flsdb_kpi::MonthPoint;
use flsdb_stats::spc::{PointType, SpcChart, SpcOptions, SpecialCause, xmr};
use serde::Serialize;
use time::Date;

/// The aim of a cycle: the target KPI at `percent` or more by `by`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Aim {
    pub percent: f64,
    pub by: Date,
}

/// The monthly series of one KPI for the cycle's service, from the first baseline month to the
/// last month evaluated, one point per month (as `flsdb_kpi::monthly_series` gives them).
#[derive(Clone, Debug)]
pub struct KpiSeries {
    pub kpi: String,
    pub name: String,
    pub months: Vec<MonthPoint>,
}

/// Special cause in a month after the start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signal {
    pub kpi: String,
    pub month: Date,
    pub cause: SpecialCause,
}

/// One of the two verdicts, with the sentence that explains it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub met: bool,
    pub reason: String,
}

/// What the data say about a cycle.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub improved: Verdict,
    pub maintained: Verdict,
    /// Months before the start that form the baseline.
    pub baseline_months: usize,
    /// The target KPI pooled over the months since the start (Σ numerators / Σ denominators).
    pub since_start_percent: Option<f64>,
    pub improvements: Vec<Signal>,
    pub concerns: Vec<Signal>,
    /// Every KPI's chart (limits fixed on the baseline), target first.
    pub charts: Vec<(String, SpcChart)>,
}

/// Fewest baseline months with data for limits (`statistics.md` §4.1 gives none with fewer than 2).
pub const MIN_BASELINE_MONTHS: usize = 2;

/// Judges a cycle on `target` (the KPI being improved) started on `start`, with `others` the
/// KPIs to keep. Every series must cover the same months.
pub fn evaluate(
    target: &KpiSeries,
    others: &[KpiSeries],
    start: Date,
    aim: Option<&Aim>,
) -> Result<Evaluation, QiError> {
    let baseline = target.months.iter().take_while(|m| m.to < start).count();
    let with_data = target.months[..baseline].iter().filter(|m| m.percent.is_some()).count();
    if with_data < MIN_BASELINE_MONTHS {
        return Err(QiError::ShortBaseline { kpi: target.kpi.clone(), months: with_data });
    }
    let months = target.months.len();
    if let Some(other) = others.iter().find(|o| o.months.len() != months) {
        return Err(QiError::MismatchedSeries(other.kpi.clone()));
    }
    let options = SpcOptions { fix_after: Some(baseline), ..SpcOptions::default() };
    let mut charts = Vec::with_capacity(1 + others.len());
    let mut improvements = Vec::new();
    let mut concerns = Vec::new();
    for (i, series) in std::iter::once(target).chain(others).enumerate() {
        let values: Vec<Option<f64>> = series.months.iter().map(|m| m.percent).collect();
        let chart = xmr(&values, &options)?;
        for (point, month) in chart.points.iter().zip(&series.months).skip(baseline) {
            let (Some(kind), Some(cause)) = (point.point_type, point.special_cause) else { continue };
            let signal = Signal { kpi: series.kpi.clone(), month: month.from, cause };
            match kind {
                PointType::SpecialCauseImprovement if i == 0 => improvements.push(signal),
                PointType::SpecialCauseConcern if i > 0 => concerns.push(signal),
                _ => {}
            }
        }
        charts.push((series.kpi.clone(), chart));
    }
    let (numerator, denominator) = target.months[baseline..]
        .iter()
        .filter_map(|m| m.denominator.map(|d| (m.numerator as f64, d)))
        .fold((0.0, 0.0), |(n, d), (mn, md)| (n + mn, d + md));
    let since_start_percent = (denominator > 0.0).then(|| 100.0 * numerator / denominator);
    let aim_reached = aim.zip(since_start_percent).filter(|(a, p)| *p >= a.percent);
    let improved = match (improvements.first(), aim_reached) {
        (Some(first), _) => Verdict {
            met: true,
            reason: format!(
                "special-cause improvement in {} from {} ({})",
                target.name,
                month_name(first.month),
                cause_text(first.cause)
            ),
        },
        (None, Some((aim, percent))) => Verdict {
            met: true,
            reason: format!("the aim is reached: {percent:.1}% since the start against {:.1}%", aim.percent),
        },
        (None, None) => Verdict {
            met: false,
            reason: match (since_start_percent, aim) {
                (Some(p), Some(a)) => format!(
                    "no special-cause improvement in {} yet, and {p:.1}% since the start is short of the aim of {:.1}%",
                    target.name, a.percent
                ),
                _ => format!("no special-cause improvement in {} since the start", target.name),
            },
        },
    };
    let maintained = match concerns.first() {
        None => Verdict {
            met: true,
            reason: format!("no special-cause concern in the other {} KPIs since the start", others.len()),
        },
        Some(_) => {
            // The first concern of each KPI names it.
            let mut seen = std::collections::HashSet::new();
            let named: Vec<String> = concerns
                .iter()
                .filter(|c| seen.insert(c.kpi.as_str()))
                .map(|c| {
                    let name = others.iter().find(|o| o.kpi == c.kpi).map_or(c.kpi.as_str(), |o| o.name.as_str());
                    format!("{name} ({}, {})", month_name(c.month), cause_text(c.cause))
                })
                .collect();
            Verdict { met: false, reason: format!("special-cause concern in {}", named.join("; ")) }
        }
    };
    Ok(Evaluation {
        improved,
        maintained,
        baseline_months: baseline,
        since_start_percent,
        improvements,
        concerns,
        charts,
    })
}

fn month_name(d: Date) -> String {
    format!("{} {}", d.month(), d.year())
}

fn cause_text(cause: SpecialCause) -> &'static str {
    match cause {
        SpecialCause::AboveUcl => "a point above the upper limit",
        SpecialCause::BelowLcl => "a point below the lower limit",
        SpecialCause::TrendIncreasing => "a rising trend",
        SpecialCause::TrendDecreasing => "a falling trend",
        SpecialCause::TwoInThreeAbove => "two of three points near the upper limit",
        SpecialCause::TwoInThreeBelow => "two of three points near the lower limit",
        SpecialCause::ShiftAbove => "a run above the centre line",
        SpecialCause::ShiftBelow => "a run below the centre line",
        SpecialCause::CommonCause => "common cause",
    }
}

/// What a cycle is, as stored: its service, target KPI, baseline start, start and aim.
#[derive(Clone, Debug)]
pub struct CycleSpec<'a> {
    pub service: &'a str,
    pub kpi: &'a str,
    pub baseline_from: Date,
    pub start: Date,
    pub aim: Option<Aim>,
}

/// Judges a cycle from records: the monthly series of every KPI of the set that has one (the
/// target and all the others), from the first baseline month to the end of the month before
/// `as_of` (whole months only), counted by the KPI engine exactly as the KPI tables count them.
pub fn evaluate_records<'r>(
    setup: flsdb_kpi::Setup<'_>,
    records: impl IntoIterator<Item = &'r flsdb_dataset::Record> + Clone,
    cycle: &CycleSpec<'_>,
) -> Result<Evaluation, QiError> {
    let first_of_month = |d: Date| d.replace_day(1).unwrap_or(d);
    let end = first_of_month(setup.as_of).previous_day().unwrap_or(setup.as_of);
    let from = first_of_month(cycle.baseline_from);
    if end < cycle.start || from >= cycle.start {
        return Err(QiError::NothingToJudge { baseline_from: from, start: cycle.start, end });
    }
    let period = flsdb_kpi::Period::new(from, end)?;
    let set = setup.set;
    let engine = flsdb_kpi::Engine::new(flsdb_kpi::Setup { period, ..setup })?;
    let mut target = None;
    let mut others = Vec::new();
    for def in &set.kpis {
        let months = match flsdb_kpi::monthly_series(&engine, records.clone(), cycle.service, &def.id) {
            Ok(months) => months,
            Err(flsdb_kpi::KpiError::NoSeries(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let series = KpiSeries { kpi: def.id.clone(), name: def.name.clone(), months };
        if def.id == cycle.kpi {
            target = Some(series);
        } else {
            others.push(series);
        }
    }
    let target = target.ok_or_else(|| QiError::NotATarget(cycle.kpi.to_owned()))?;
    evaluate(&target, &others, cycle.start, cycle.aim.as_ref())
}
