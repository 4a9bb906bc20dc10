//! Monthly points of one service's KPI, for the SPC charts of `flsdb spc` (`statistics.md` §4).

use crate::decorate;
use crate::engine::{Engine, Kind, slot};
use crate::finish::prorated_caseload;
use crate::{KpiError, Period};
use flsdb_dataset::Record;
use time::Date;

/// One month of fracture dates (cut to the period at its ends).
#[derive(Clone, Debug, PartialEq)]
pub struct MonthPoint {
    pub from: Date,
    pub to: Date,
    pub numerator: u64,
    /// A count of records, or for kpi2/iof1 the caseload pro-rated to the month (`None` when
    /// the service's caseload is unknown).
    pub denominator: Option<f64>,
    /// `None` (not plotted) when the denominator is 0 or unknown.
    pub percent: Option<f64>,
}

fn month_number(d: Date) -> i32 {
    d.year() * 12 + i32::from(u8::from(d.month()))
}

/// The monthly series (by `fracture_date` month within the period, every month of the period
/// included, empty ones with a denominator of 0) of KPI `kpi` for service `service`, counted
/// exactly as the engine counts the report (cohort, opt-outs, due and alive, mode).
pub fn monthly_series<'r>(
    engine: &Engine<'_>,
    records: impl IntoIterator<Item = &'r Record>,
    service: &str,
    kpi: &str,
) -> Result<Vec<MonthPoint>, KpiError> {
    let index = engine
        .service_index(&service.trim().to_uppercase())
        .ok_or_else(|| KpiError::UnknownService(service.to_owned()))?;
    let compiled = engine.kpis.iter().find(|k| k.id == kpi).ok_or_else(|| KpiError::UnknownKpi(kpi.to_owned()))?;
    if !matches!(compiled.kind, Kind::Proportion { .. } | Kind::Identification { .. }) {
        return Err(KpiError::NoSeries(kpi.to_owned()));
    }
    let setup = engine.setup();
    let code = &engine.services()[index].code;
    let months: Vec<Period> = setup.period.months();
    let first = month_number(setup.period.from());
    let stride = engine.stride;
    let mut counts = vec![0u64; months.len() * stride];
    for r in records {
        if r.service_code != *code || !setup.period.contains(r.fracture_date) || engine.opted_out(r) {
            continue;
        }
        let m = (month_number(r.fracture_date) - first) as usize;
        engine.tally(&mut counts[m * stride..(m + 1) * stride], index, r);
    }
    let service = engine.services()[index];
    Ok(months
        .iter()
        .enumerate()
        .map(|(m, month)| {
            let c = &counts[m * stride + compiled.offset..];
            let (numerator, denominator) = match compiled.kind {
                Kind::Identification { .. } => {
                    (c[slot::ID_NUMERATOR], prorated_caseload(service, setup.caseloads, month))
                }
                _ => (c[slot::NUMERATOR], Some(c[slot::DENOMINATOR] as f64)),
            };
            MonthPoint {
                from: month.from(),
                to: month.to(),
                numerator,
                denominator,
                percent: denominator.and_then(|d| decorate::percent(numerator as f64, d)),
            }
        })
        .collect())
}

/// Which control chart to draw for a monthly series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Individuals (XmR) chart of the monthly percentages: the default.
    Xmr,
    /// p-chart with per-month limits from the denominators (on request).
    P,
    /// Run chart around the median: used when fewer than 12 months have data.
    Run,
}

/// Months with data needed before XmR limits mean anything (`statistics.md`, Decisions).
pub const MIN_POINTS_FOR_LIMITS: usize = 12;

/// A monthly series charted by the rules of `statistics.md`.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum ServiceChart {
    Spc(flsdb_stats::spc::SpcChart),
    Run(flsdb_stats::spc::RunChart),
}

/// Charts a series: the requested kind (XmR when `None`), falling back to a run chart when fewer
/// than [`MIN_POINTS_FOR_LIMITS`] months have a value. Improvement is "increase" for every KPI.
pub fn chart_series(
    points: &[MonthPoint],
    requested: Option<ChartKind>,
    target: Option<f64>,
) -> Result<(ChartKind, ServiceChart), flsdb_stats::StatsError> {
    use flsdb_stats::spc::{RunChartOptions, SpcOptions, p_chart, run_chart, xmr};
    let values: Vec<Option<f64>> = points.iter().map(|p| p.percent).collect();
    let with_data = values.iter().flatten().count();
    let kind = match requested {
        Some(kind) => kind,
        None if with_data < MIN_POINTS_FOR_LIMITS => ChartKind::Run,
        None => ChartKind::Xmr,
    };
    let options = SpcOptions { target, ..SpcOptions::default() };
    Ok(match kind {
        ChartKind::Xmr => (kind, ServiceChart::Spc(xmr(&values, &options)?)),
        ChartKind::P => {
            let counts: Vec<(f64, f64)> =
                points.iter().map(|p| (p.numerator as f64, p.denominator.unwrap_or(0.0))).collect();
            (kind, ServiceChart::Spc(p_chart(&counts, &options)?))
        }
        ChartKind::Run => (kind, ServiceChart::Run(run_chart(&values, &RunChartOptions::default())?)),
    })
}
