//! Statistical process control (contract §4): XmR and p-charts with the NHS "Making Data Count"
//! rules as NHSRplotthedots implements them, run charts with the IHI median rules, and the Anhøj
//! runs analysis of qicharts2.
//!
//! **Missing points.** A period may have no value (`None`, e.g. a month whose denominator is 0).
//! It stays in the output, in place, with no value, label or point type. The rules run on the
//! sequence of present points, so a gap neither breaks nor extends a shift, trend or two-in-three
//! window (a month without data is not evidence either way). Moving ranges, like in
//! NHSRplotthedots and qicharts2, are only taken between adjacent periods that both have a value.
//! The baseline (`fix_after`) counts periods, present or not, as the peers count rows.

use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::special::{binom_quantile, exact_sum, mean, median};

/// Which direction of change is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Improvement {
    /// Every flsdb KPI.
    #[default]
    Increase,
    Decrease,
    Neutral,
}

/// How the two-in-three rule treats points beyond the process limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoInThree {
    /// NHSRplotthedots v0.2.0: only points between the 2σ and 3σ limits count (issue #153).
    #[default]
    Ptd,
    /// The MDC team's 2023 ruling (NHSRplotthedots issue #194): every point beyond 2σ counts,
    /// including those beyond 3σ.
    Mdc2023,
}

/// Options for [`xmr`] and [`p_chart`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpcOptions {
    pub improvement: Improvement,
    /// Target for the assurance icon.
    pub target: Option<f64>,
    /// Number of leading periods forming the baseline; `None` uses all.
    pub fix_after: Option<usize>,
    /// Drop moving ranges ≥ 3.267·AMR before recomputing AMR (XmR only; NHSRplotthedots' default,
    /// not done by the MDC Excel tool or qicharts2).
    pub screen_outliers: bool,
    pub shift_length: usize,
    pub trend_length: usize,
    pub two_in_three: TwoInThree,
}

impl Default for SpcOptions {
    fn default() -> Self {
        Self {
            improvement: Improvement::Increase,
            target: None,
            fix_after: None,
            screen_outliers: true,
            shift_length: 7,
            trend_length: 7,
            two_in_three: TwoInThree::Ptd,
        }
    }
}

/// A point's special-cause label, serialised exactly as NHSRplotthedots spells it. The labels name
/// the MDC categories and keep their "7" even when the shift or trend length is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecialCause {
    #[serde(rename = "Above UCL")]
    AboveUcl,
    #[serde(rename = "Below LCL")]
    BelowLcl,
    #[serde(rename = "7 Point Trend (Increasing)")]
    TrendIncreasing,
    #[serde(rename = "7 Point Trend (Decreasing)")]
    TrendDecreasing,
    #[serde(rename = "2 in 3 Above CL")]
    TwoInThreeAbove,
    #[serde(rename = "2 in 3 Below CL")]
    TwoInThreeBelow,
    #[serde(rename = "7 Points Above CL")]
    ShiftAbove,
    #[serde(rename = "7 Points Below CL")]
    ShiftBelow,
    #[serde(rename = "Common Cause")]
    CommonCause,
}

impl SpecialCause {
    /// +1 for Above/Increasing, −1 for Below/Decreasing, 0 for common cause: the basis of the
    /// point type.
    pub fn direction(self) -> i8 {
        match self {
            Self::AboveUcl | Self::TrendIncreasing | Self::TwoInThreeAbove | Self::ShiftAbove => 1,
            Self::BelowLcl | Self::TrendDecreasing | Self::TwoInThreeBelow | Self::ShiftBelow => -1,
            Self::CommonCause => 0,
        }
    }
}

/// MDC point type (also the variation icon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointType {
    CommonCause,
    SpecialCauseImprovement,
    SpecialCauseConcern,
    SpecialCauseNeutralHigh,
    SpecialCauseNeutralLow,
}

impl PointType {
    fn of(cause: SpecialCause, improvement: Improvement) -> Self {
        let d = cause.direction();
        match improvement {
            _ if d == 0 => Self::CommonCause,
            Improvement::Neutral if d > 0 => Self::SpecialCauseNeutralHigh,
            Improvement::Neutral => Self::SpecialCauseNeutralLow,
            Improvement::Increase if d > 0 => Self::SpecialCauseImprovement,
            Improvement::Decrease if d < 0 => Self::SpecialCauseImprovement,
            _ => Self::SpecialCauseConcern,
        }
    }
}

/// Whether the process will meet a target (MDC assurance icon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assurance {
    ConsistentPass,
    ConsistentFail,
    Inconsistent,
}

/// Why the limits collapsed onto the centre line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Degenerate {
    /// A constant baseline: AMR = 0, so screening is skipped and the limits equal the mean
    /// (NHSRplotthedots would screen out every range and return NaN limits).
    ZeroMeanMovingRange,
}

/// Process limits (3σ) and near limits (2σ) of a point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpcLimits {
    pub lower: f64,
    pub lower_near: f64,
    pub upper_near: f64,
    pub upper: f64,
}

/// One period of a control chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpcPoint {
    pub value: Option<f64>,
    pub limits: Option<SpcLimits>,
    /// sign(value − centre); 0 when on the centre or missing.
    pub relative_to_centre: i8,
    /// Strictly beyond a process limit.
    pub outside: bool,
    /// Not outside, strictly beyond a near limit.
    pub close: bool,
    pub special_cause: Option<SpecialCause>,
    pub point_type: Option<PointType>,
}

/// Anhøj runs analysis (qicharts2 `runs.analysis`) on the points not on the centre line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsAnalysis {
    pub useful: usize,
    pub longest_run: usize,
    /// round(log₂ useful) + 3.
    pub longest_run_max: usize,
    pub crossings: usize,
    /// qbinom(0.05, useful − 1, 0.5).
    pub crossings_min: usize,
    /// longest_run > longest_run_max or crossings < crossings_min.
    pub signal: bool,
}

/// An XmR chart or p-chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpcChart {
    /// Mean (XmR) or p̄ (p-chart) of the baseline.
    pub centre: Option<f64>,
    /// Average moving range after screening (XmR only).
    pub amr: Option<f64>,
    /// Moving ranges dropped by screening.
    pub screened_out: usize,
    pub degenerate: Option<Degenerate>,
    /// Chart-wide limits (XmR only; a p-chart's limits vary by point).
    pub limits: Option<SpcLimits>,
    /// Number of periods in the baseline.
    pub baseline: usize,
    pub points: Vec<SpcPoint>,
    /// Point type of the last point with a value.
    pub variation: Option<PointType>,
    pub assurance: Option<Assurance>,
    /// Runs analysis around the centre over all present points.
    pub runs: Option<RunsAnalysis>,
}

/// XmR constants as NHSRplotthedots writes them.
const LIMIT: f64 = 2.66;
const SCREEN: f64 = 3.267;

fn check_options(opts: &SpcOptions, len: usize) -> Result<usize, StatsError> {
    if opts.shift_length < 2 || opts.trend_length < 2 {
        return Err(StatsError::InvalidOption("shift and trend lengths must be at least 2"));
    }
    match opts.fix_after {
        Some(0) => Err(StatsError::InvalidOption("fix_after must be at least 1")),
        Some(k) => Ok(k.min(len)),
        None => Ok(len),
    }
}

/// XmR (individuals) chart. The mean is computed as R does; AMR is screened unless disabled;
/// limits are mean ± 2.66·AMR and near limits mean ± (2·2.66/3)·AMR, null with fewer than two
/// baseline points. Errors on non-finite values or invalid options.
pub fn xmr(values: &[Option<f64>], opts: &SpcOptions) -> Result<SpcChart, StatsError> {
    if values.iter().flatten().any(|v| !v.is_finite()) {
        return Err(StatsError::InvalidValue("SPC values must be finite"));
    }
    let baseline = check_options(opts, values.len())?;
    let base = &values[..baseline];
    let present: Vec<f64> = base.iter().flatten().copied().collect();
    let centre = mean(&present);
    let mut ranges: Vec<f64> = base.windows(2).filter_map(|w| Some((w[1]? - w[0]?).abs())).collect();
    let mut amr = if present.len() >= 2 { mean(&ranges) } else { None };
    let mut screened_out = 0;
    let mut degenerate = None;
    if amr == Some(0.0) {
        degenerate = Some(Degenerate::ZeroMeanMovingRange);
    } else if let (Some(a), true) = (amr, opts.screen_outliers) {
        let before = ranges.len();
        ranges.retain(|&mr| mr < SCREEN * a);
        screened_out = before - ranges.len();
        amr = mean(&ranges);
    }
    let limits = match (centre, amr) {
        (Some(m), Some(a)) => {
            let close = 2.0 * (LIMIT / 3.0);
            Some(SpcLimits {
                lower: m - LIMIT * a,
                lower_near: m - close * a,
                upper_near: m + close * a,
                upper: m + LIMIT * a,
            })
        }
        _ => None,
    };
    let per_point: Vec<Option<SpcLimits>> = vec![limits; values.len()];
    let mut chart = build_chart(values, &per_point, centre, opts, baseline);
    chart.amr = amr;
    chart.screened_out = screened_out;
    chart.degenerate = degenerate;
    chart.limits = limits;
    Ok(chart)
}

/// p-chart (qicharts2 `chart = "p"`): p̄ = Σx/Σn over the baseline, per-point limits
/// p̄ ± 3σᵢ and near limits p̄ ± 2σᵢ with σᵢ = √(p̄(1 − p̄)/nᵢ), clamped to [0, 1], then the same
/// rules as XmR (no screening). Input is (x, n) per period; n = 0 is a missing point. Errors on
/// non-finite or negative counts, or x > n.
pub fn p_chart(counts: &[(f64, f64)], opts: &SpcOptions) -> Result<SpcChart, StatsError> {
    if counts.iter().any(|&(x, n)| !crate::valid_count(x, n)) {
        return Err(StatsError::InvalidValue("p-chart counts must be finite with 0 ≤ x ≤ n"));
    }
    let baseline = check_options(opts, counts.len())?;
    let base = counts[..baseline].iter().filter(|c| c.1 > 0.0);
    let (sum_x, sum_n) = (exact_sum(base.clone().map(|c| c.0)), exact_sum(base.map(|c| c.1)));
    let centre = (sum_n > 0.0).then(|| sum_x / sum_n);
    let values: Vec<Option<f64>> = counts.iter().map(|&(x, n)| (n > 0.0).then(|| x / n)).collect();
    let limits: Vec<Option<SpcLimits>> = counts
        .iter()
        .map(|&(_, n)| {
            let p = centre?;
            if n <= 0.0 {
                return None;
            }
            let sd = (p * (1.0 - p) / n).sqrt();
            let c = |v: f64| v.clamp(0.0, 1.0);
            Some(SpcLimits {
                lower: c(p - 3.0 * sd),
                lower_near: c(p - 2.0 * sd),
                upper_near: c(p + 2.0 * sd),
                upper: c(p + 3.0 * sd),
            })
        })
        .collect();
    Ok(build_chart(&values, &limits, centre, opts, baseline))
}

/// Per-point classification and the MDC rule engine shared by XmR and p-charts.
fn build_chart(
    values: &[Option<f64>],
    limits: &[Option<SpcLimits>],
    centre: Option<f64>,
    opts: &SpcOptions,
    baseline: usize,
) -> SpcChart {
    let mut points: Vec<SpcPoint> = values
        .iter()
        .zip(limits)
        .map(|(&value, &limits)| {
            let (rel, outside, close) = match value {
                Some(y) => {
                    let rel = centre.map_or(0, |c| sign(y - c));
                    let outside = limits.is_some_and(|l| y > l.upper || y < l.lower);
                    let close = !outside && limits.is_some_and(|l| y < l.lower_near || y > l.upper_near);
                    (rel, outside, close)
                }
                None => (0, false, false),
            };
            SpcPoint { value, limits, relative_to_centre: rel, outside, close, special_cause: None, point_type: None }
        })
        .collect();

    let present: Vec<usize> = (0..points.len()).filter(|&i| points[i].value.is_some()).collect();
    let ys: Vec<f64> = present.iter().filter_map(|&i| points[i].value).collect();
    let rel: Vec<i8> = present.iter().map(|&i| points[i].relative_to_centre).collect();
    let outside: Vec<bool> = present.iter().map(|&i| points[i].outside).collect();
    let near: Vec<bool> = present
        .iter()
        .map(|&i| match opts.two_in_three {
            TwoInThree::Ptd => points[i].close,
            TwoInThree::Mdc2023 => points[i].outside || points[i].close,
        })
        .collect();
    let causes = special_causes(&ys, &rel, &outside, &near, opts.shift_length, opts.trend_length);
    for (&i, cause) in present.iter().zip(causes) {
        points[i].special_cause = Some(cause);
        points[i].point_type = Some(PointType::of(cause, opts.improvement));
    }

    let variation = present.last().and_then(|&i| points[i].point_type);
    let assurance = assurance(opts, points.iter().rev().find_map(|p| p.limits));
    let runs = centre.and_then(|c| runs_analysis(values, c));
    SpcChart {
        centre,
        amr: None,
        screened_out: 0,
        degenerate: None,
        limits: None,
        baseline,
        points,
        variation,
        assurance,
        runs,
    }
}

fn sign(d: f64) -> i8 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// MDC assurance from the last limits: a target beyond a process limit is consistently met or
/// missed. `None` without a target, without limits, or for a neutral measure.
fn assurance(opts: &SpcOptions, limits: Option<SpcLimits>) -> Option<Assurance> {
    let (target, l) = (opts.target?, limits?);
    let (above, below) = match opts.improvement {
        Improvement::Increase => (Assurance::ConsistentFail, Assurance::ConsistentPass),
        Improvement::Decrease => (Assurance::ConsistentPass, Assurance::ConsistentFail),
        Improvement::Neutral => return None,
    };
    Some(if target > l.upper {
        above
    } else if target < l.lower {
        below
    } else {
        Assurance::Inconsistent
    })
}

/// Flags every member of a maximal run of equal, non-zero keys at least `len` long.
fn flag_runs<T: PartialEq + Copy>(keys: &[T], zero: T, len: usize) -> Vec<bool> {
    let mut flags = vec![false; keys.len()];
    let mut start = 0;
    for end in 1..=keys.len() {
        if end == keys.len() || keys[end] != keys[start] {
            if keys[start] != zero && end - start >= len {
                flags[start..end].iter_mut().for_each(|f| *f = true);
            }
            start = end;
        }
    }
    flags
}

/// The NHSRplotthedots rule engine (`ptd_special_cause_type`) on present points, returning one
/// label per point in precedence order: outside > trend > two-in-three > shift > common cause.
fn special_causes(
    y: &[f64],
    rel: &[i8],
    outside: &[bool],
    near: &[bool],
    shift_len: usize,
    trend_len: usize,
) -> Vec<SpecialCause> {
    let n = y.len();
    let shift = flag_runs(rel, 0, shift_len);
    // A trend of L points is a run of L − 1 equal, non-zero differences.
    let diffs: Vec<i8> = y.windows(2).map(|w| sign(w[1] - w[0])).collect();
    let diff_runs = flag_runs(&diffs, 0, trend_len - 1);
    let mut trend = vec![false; n];
    for (j, _) in diff_runs.iter().enumerate().filter(|(_, f)| **f) {
        trend[j] = true;
        trend[j + 1] = true;
    }
    let mut two_of_three = vec![false; n];
    for j in 0..n.saturating_sub(2) {
        let same_side = rel[j] != 0 && rel[j] == rel[j + 1] && rel[j] == rel[j + 2];
        if same_side && near[j..j + 3].iter().filter(|c| **c).count() >= 2 {
            (j..j + 3).filter(|&i| near[i]).for_each(|i| two_of_three[i] = true);
        }
    }
    (0..n)
        .map(|i| {
            let above = rel[i] > 0;
            if outside[i] {
                if rel[i] == 1 { SpecialCause::AboveUcl } else { SpecialCause::BelowLcl }
            } else if trend[i] {
                // At a point shared by two trends the right-hand one names it.
                let d = if i + 1 < n && trend[i + 1] {
                    diffs[i]
                } else if i > 0 {
                    diffs[i - 1]
                } else {
                    0
                };
                if d == 1 { SpecialCause::TrendIncreasing } else { SpecialCause::TrendDecreasing }
            } else if two_of_three[i] {
                if above { SpecialCause::TwoInThreeAbove } else { SpecialCause::TwoInThreeBelow }
            } else if shift[i] {
                if above { SpecialCause::ShiftAbove } else { SpecialCause::ShiftBelow }
            } else {
                SpecialCause::CommonCause
            }
        })
        .collect()
}

/// Anhøj runs analysis around `centre` over the present values; `None` when every value is on the
/// centre line (qicharts2 reports NA then).
pub fn runs_analysis(values: &[Option<f64>], centre: f64) -> Option<RunsAnalysis> {
    let sides: Vec<i8> = values.iter().flatten().map(|&v| sign(v - centre)).filter(|&s| s != 0).collect();
    let useful = sides.len();
    if useful == 0 {
        return None;
    }
    let mut runs = vec![1_usize];
    for w in sides.windows(2) {
        match runs.last_mut() {
            Some(last) if w[0] == w[1] => *last += 1,
            _ => runs.push(1),
        }
    }
    let longest_run = runs.iter().copied().max().unwrap_or(0);
    let longest_run_max = (useful as f64).log2().round() as usize + 3;
    let crossings = runs.len() - 1;
    let crossings_min = binom_quantile(0.05, useful as u64 - 1, 0.5).unwrap_or(0) as usize;
    Some(RunsAnalysis {
        useful,
        longest_run,
        longest_run_max,
        crossings,
        crossings_min,
        signal: longest_run > longest_run_max || crossings < crossings_min,
    })
}

/// Options for [`run_chart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunChartOptions {
    /// Number of leading periods forming the baseline for the median; `None` uses all.
    pub fix_after: Option<usize>,
    pub shift_length: usize,
    pub trend_length: usize,
}

impl Default for RunChartOptions {
    fn default() -> Self {
        Self { fix_after: None, shift_length: 6, trend_length: 5 }
    }
}

/// One period of a run chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub value: Option<f64>,
    /// Part of a shift (a point on the median never is).
    pub shift: bool,
    /// Inside the span of a trend.
    pub trend: bool,
}

/// A run chart around the median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunChart {
    pub median: Option<f64>,
    pub baseline: usize,
    pub points: Vec<RunPoint>,
    pub runs: Option<RunsAnalysis>,
}

/// Run chart with the IHI rules (Perla, Provost & Murray 2011): a shift is ≥ `shift_length`
/// consecutive points on one side of the median, skipping (not counting, not breaking, not
/// flagging) points on it; a trend is ≥ `trend_length` points all going up or all down, ignoring
/// a point equal to its predecessor, and flags the whole span from its first to its last counted
/// point. Astronomical points are a matter of judgement and are not automated.
pub fn run_chart(values: &[Option<f64>], opts: &RunChartOptions) -> Result<RunChart, StatsError> {
    if values.iter().flatten().any(|v| !v.is_finite()) {
        return Err(StatsError::InvalidValue("run chart values must be finite"));
    }
    if opts.shift_length < 2 || opts.trend_length < 2 {
        return Err(StatsError::InvalidOption("shift and trend lengths must be at least 2"));
    }
    let baseline = match opts.fix_after {
        Some(0) => return Err(StatsError::InvalidOption("fix_after must be at least 1")),
        Some(k) => k.min(values.len()),
        None => values.len(),
    };
    let base: Vec<f64> = values[..baseline].iter().flatten().copied().collect();
    let centre = median(&base);
    let mut points: Vec<RunPoint> =
        values.iter().map(|&value| RunPoint { value, shift: false, trend: false }).collect();
    let present: Vec<(usize, f64)> = values.iter().enumerate().filter_map(|(i, v)| Some((i, (*v)?))).collect();

    if let Some(m) = centre {
        let off: Vec<(usize, i8)> = present.iter().map(|&(i, v)| (i, sign(v - m))).filter(|&(_, s)| s != 0).collect();
        let sides: Vec<i8> = off.iter().map(|o| o.1).collect();
        for ((i, _), f) in off.iter().zip(flag_runs(&sides, 0, opts.shift_length)) {
            points[*i].shift = f;
        }
    }

    // Counted points: drop each point equal to its predecessor, then look for monotone runs.
    let mut counted: Vec<(usize, f64)> = Vec::with_capacity(present.len());
    for &(i, v) in &present {
        if counted.last().is_none_or(|&(_, prev)| prev != v) {
            counted.push((i, v));
        }
    }
    let diffs: Vec<i8> = counted.windows(2).map(|w| sign(w[1].1 - w[0].1)).collect();
    let in_run = flag_runs(&diffs, 0, opts.trend_length - 1);
    let mut j = 0;
    while j < in_run.len() {
        if in_run[j] {
            let start = j;
            while j + 1 < in_run.len() && in_run[j + 1] && diffs[j + 1] == diffs[start] {
                j += 1;
            }
            let (first, last) = (counted[start].0, counted[j + 1].0);
            points[first..=last].iter_mut().filter(|p| p.value.is_some()).for_each(|p| p.trend = true);
        }
        j += 1;
    }

    let runs = centre.and_then(|m| runs_analysis(values, m));
    Ok(RunChart { median: centre, baseline, points, runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().copied().map(Some).collect()
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6
    }

    fn labels(chart: &SpcChart) -> Vec<Option<SpecialCause>> {
        chart.points.iter().map(|p| p.special_cause).collect()
    }

    /// 1-based positions of points carrying `cause`.
    fn positions(chart: &SpcChart, cause: SpecialCause) -> Vec<usize> {
        chart.points.iter().enumerate().filter(|(_, p)| p.special_cause == Some(cause)).map(|(i, _)| i + 1).collect()
    }

    fn assert_limits(l: SpcLimits, lower: f64, upper: f64) {
        assert!(near(l.lower, lower) && near(l.upper, upper), "{l:?} vs [{lower}, {upper}]");
    }

    #[test]
    fn example_13_nhspy() {
        let c = xmr(&some(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]), &SpcOptions::default()).expect("chart");
        assert!(near(c.centre.unwrap_or(f64::NAN), 3.571429));
        assert!(near(c.amr.unwrap_or(f64::NAN), 3.833333));
        let l = c.limits.expect("limits");
        assert_limits(l, -6.625238, 13.768095);
        assert!(near(l.lower_near, -3.226349) && near(l.upper_near, 10.369206));
        assert!(labels(&c).iter().all(|l| *l == Some(SpecialCause::CommonCause)));
        assert_eq!(c.variation, Some(PointType::CommonCause));
    }

    const RNORM_123: [f64; 20] = [
        -0.56047564655221,
        -0.23017748948328,
        1.55870831414912,
        0.07050839142458,
        0.12928773516095,
        1.71506498688328,
        0.46091621206293,
        -1.26506123460653,
        -0.68685285394208,
        -0.44566197009995,
        1.22408179743946,
        0.35981382705736,
        0.40077145059405,
        0.11068271594512,
        -0.55584113475407,
        1.78691313680308,
        0.49785047822924,
        -1.96661715662964,
        0.70135590156369,
        -0.47279140772793,
    ];

    #[test]
    fn example_14_screening() {
        let mut v = RNORM_123;
        v[14] = 10.0;
        let screened = xmr(&some(&v), &SpcOptions::default()).expect("chart");
        assert_eq!(screened.screened_out, 2);
        assert!(near(screened.amr.unwrap_or(f64::NAN), 1.147775));
        assert_limits(screened.limits.expect("limits"), -2.383666, 3.722497);
        assert_eq!(positions(&screened, SpecialCause::AboveUcl), [15]);
        assert_eq!(screened.points[14].point_type, Some(PointType::SpecialCauseImprovement));
        let plain = xmr(&some(&v), &SpcOptions { screen_outliers: false, ..Default::default() }).expect("chart");
        assert_eq!(plain.screened_out, 0);
        assert!(near(plain.amr.unwrap_or(f64::NAN), 1.979715));
        assert_limits(plain.limits.expect("limits"), -4.596625, 5.935457);
    }

    #[test]
    fn example_15_trend() {
        let v = [5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 5.0, 4.0, 6.0, 5.0];
        let c = xmr(&some(&v), &SpcOptions::default()).expect("chart");
        assert!(near(c.centre.unwrap_or(f64::NAN), 4.611111));
        assert_limits(c.limits.expect("limits"), 0.855817, 8.366405);
        assert_eq!(positions(&c, SpecialCause::TrendIncreasing), (8..=14).collect::<Vec<_>>());
        assert_eq!(c.points[7].point_type, Some(PointType::SpecialCauseImprovement));
        let decrease = xmr(&some(&v), &SpcOptions { improvement: Improvement::Decrease, ..Default::default() });
        assert_eq!(decrease.expect("chart").points[7].point_type, Some(PointType::SpecialCauseConcern));
    }

    fn example_16() -> Vec<Option<f64>> {
        let mut v: Vec<f64> = [10.0, 11.0, 9.0, 10.0].repeat(5);
        v.extend([16.0, 11.0, 13.4, 10.0, 10.0]);
        some(&v)
    }

    #[test]
    fn example_16_two_in_three() {
        let c = xmr(&example_16(), &SpcOptions::default()).expect("chart");
        assert!(near(c.centre.unwrap_or(f64::NAN), 10.416));
        let l = c.limits.expect("limits");
        assert!(near(l.upper_near, 12.790725) && near(l.upper, 13.978087), "{l:?}");
        assert_eq!(positions(&c, SpecialCause::AboveUcl), [21]);
        assert!(c.points[22].close);
        assert_eq!(c.points[22].special_cause, Some(SpecialCause::CommonCause));
        let mdc = SpcOptions { two_in_three: TwoInThree::Mdc2023, ..Default::default() };
        let c = xmr(&example_16(), &mdc).expect("chart");
        assert_eq!(c.points[20].special_cause, Some(SpecialCause::AboveUcl));
        assert_eq!(c.points[22].special_cause, Some(SpecialCause::TwoInThreeAbove));
        assert_eq!(positions(&c, SpecialCause::TwoInThreeAbove), [23]);
    }

    /// Montgomery Table 7.4 (qicharts2 `tbl_07.04`): 25 samples, Σx/Σn = 234/2450.
    const MONTGOMERY_N: [f64; 25] = [
        100.0, 80.0, 80.0, 100.0, 110.0, 110.0, 100.0, 100.0, 90.0, 90.0, 110.0, 120.0, 120.0, 120.0, 110.0, 80.0,
        80.0, 80.0, 90.0, 100.0, 100.0, 100.0, 100.0, 90.0, 90.0,
    ];
    const MONTGOMERY_X: [f64; 25] = [
        12.0, 8.0, 6.0, 9.0, 10.0, 12.0, 11.0, 16.0, 10.0, 6.0, 20.0, 15.0, 9.0, 8.0, 6.0, 8.0, 10.0, 7.0, 5.0, 8.0,
        5.0, 8.0, 10.0, 6.0, 9.0,
    ];

    #[test]
    fn example_17_montgomery_p_chart() {
        let counts: Vec<(f64, f64)> = MONTGOMERY_X.iter().copied().zip(MONTGOMERY_N).collect();
        let c = p_chart(&counts, &SpcOptions::default()).expect("chart");
        assert_eq!(c.centre, Some(0.09551020408163265));
        let at = |i: usize| c.points[i].limits.expect("limits");
        // n = 100 (sample 1): qicharts2 agrees to 1e-15.
        assert!((at(0).lower - 0.007334694727773067).abs() < 1e-15);
        assert!((at(0).upper - 0.18368571343549223).abs() < 1e-15);
        // n = 80 (sample 2): LCL clamped.
        assert_eq!(at(1).lower, 0.0);
        assert!(near(at(1).upper, 0.194093));
        assert_eq!(positions(&c, SpecialCause::AboveUcl), [11]);
        assert!(c.points.iter().enumerate().all(|(i, p)| p.outside == (i == 10)));
        assert!(c.runs.is_some());
    }

    #[test]
    fn example_18_run_chart() {
        let v = some(&[5.0, 3.0, 4.0, 6.0, 7.0, 5.0, 8.0, 9.0, 7.0, 6.0, 4.0, 2.0, 3.0, 5.0]);
        let c = run_chart(&v, &RunChartOptions::default()).expect("chart");
        assert_eq!(c.median, Some(5.0));
        let shift: Vec<usize> = c.points.iter().enumerate().filter(|(_, p)| p.shift).map(|(i, _)| i + 1).collect();
        assert_eq!(shift, [4, 5, 7, 8, 9, 10]);
        // 9, 7, 6, 4, 2 (points 8–12) also go down five times in a row.
        let trend: Vec<usize> = c.points.iter().enumerate().filter(|(_, p)| p.trend).map(|(i, _)| i + 1).collect();
        assert_eq!(trend, [8, 9, 10, 11, 12]);
        let r = c.runs.expect("runs");
        assert_eq!(
            r,
            RunsAnalysis {
                useful: 11,
                longest_run: 6,
                longest_run_max: 6,
                crossings: 2,
                crossings_min: 2,
                signal: false
            }
        );
    }

    #[test]
    fn anhoej_references() {
        // qicharts2 / Anhøj: n = 25 → max run 8, min crossings 8; n = 40 → 8 and 14.
        let alternating =
            |n: usize| -> Vec<Option<f64>> { (0..n).map(|i| Some(if i % 2 == 0 { 1.0 } else { -1.0 })).collect() };
        let r = runs_analysis(&alternating(25), 0.0).expect("runs");
        assert_eq!((r.longest_run_max, r.crossings_min, r.crossings, r.signal), (8, 8, 24, false));
        let r = runs_analysis(&alternating(40), 0.0).expect("runs");
        assert_eq!((r.longest_run_max, r.crossings_min), (8, 14));
        // Points on the centre and missing points are not useful; a long run signals.
        let mut v = vec![Some(0.0), None];
        v.extend(std::iter::repeat_n(Some(1.0), 9));
        let r = runs_analysis(&v, 0.0).expect("runs");
        assert_eq!((r.useful, r.longest_run, r.longest_run_max, r.crossings, r.signal), (9, 9, 6, 0, true));
        assert_eq!(runs_analysis(&[Some(2.0), None], 2.0), None);
    }

    #[test]
    fn run_chart_trend_ignores_ties_and_flags_span() {
        // 1, 2, 2, 3, 4, 5, 5: counted points 1,2,3,4,5 → a 5-point trend over positions 1–6;
        // the trailing 5 repeats the last counted point and is not in the span.
        let v = some(&[1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0]);
        let c = run_chart(&v, &RunChartOptions::default()).expect("chart");
        let trend: Vec<bool> = c.points.iter().map(|p| p.trend).collect();
        assert_eq!(trend, [true, true, true, true, true, true, false]);
        // Four distinct rises only: no trend.
        let c = run_chart(&some(&[1.0, 2.0, 2.0, 3.0, 4.0, 4.0]), &RunChartOptions::default()).expect("chart");
        assert!(c.points.iter().all(|p| !p.trend));
        // A missing period inside the span stays unflagged and does not break it.
        let v = vec![Some(1.0), Some(2.0), None, Some(3.0), Some(4.0), Some(5.0)];
        let c = run_chart(&v, &RunChartOptions::default()).expect("chart");
        assert_eq!(c.points.iter().map(|p| p.trend).collect::<Vec<_>>(), [true, true, false, true, true, true]);
    }

    #[test]
    fn run_chart_shift_length_option() {
        let v = some(&[1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 9.0, 9.0, 9.0, 9.0, 5.0]);
        let c = run_chart(&v, &RunChartOptions::default()).expect("chart");
        assert!(c.points.iter().all(|p| !p.shift));
        let c = run_chart(&v, &RunChartOptions { shift_length: 5, ..Default::default() }).expect("chart");
        assert_eq!(c.points.iter().filter(|p| p.shift).count(), 10);
        assert!(run_chart(&v, &RunChartOptions { trend_length: 1, ..Default::default() }).is_err());
        assert!(run_chart(&[Some(f64::NAN)], &RunChartOptions::default()).is_err());
    }

    fn engine(y: &[f64], rel: &[i8], outside: &[bool], near: &[bool]) -> Vec<SpecialCause> {
        special_causes(y, rel, outside, near, 7, 7)
    }

    #[test]
    fn trend_word_at_shared_peak() {
        // Rising 7 then falling 7, sharing the peak at position 7: the right-hand trend names it.
        let y: Vec<f64> = (1..=7).chain((1..=6).rev()).map(f64::from).collect();
        let n = y.len();
        let causes = engine(&y, &vec![0; n], &vec![false; n], &vec![false; n]);
        assert!(causes[..6].iter().all(|c| *c == SpecialCause::TrendIncreasing));
        assert!(causes[6..].iter().all(|c| *c == SpecialCause::TrendDecreasing), "{causes:?}");
        // A flat step between two trends: the left trend's last point has a trend on its right
        // with difference 0, so it is labelled Decreasing, exactly as NHSRplotthedots does.
        let y: Vec<f64> = (1..=7).chain((1..=7).rev()).map(f64::from).collect();
        let n = y.len();
        let causes = engine(&y, &vec![0; n], &vec![false; n], &vec![false; n]);
        assert_eq!(causes[5], SpecialCause::TrendIncreasing);
        assert_eq!(causes[6], SpecialCause::TrendDecreasing);
        assert_eq!(causes[7], SpecialCause::TrendDecreasing);
    }

    #[test]
    fn equal_neighbours_break_a_trend() {
        let y = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let causes = engine(&y, &[0; 8], &[false; 8], &[false; 8]);
        assert!(causes.iter().all(|c| *c == SpecialCause::CommonCause));
    }

    #[test]
    fn on_mean_breaks_a_shift() {
        let y = [1.0; 8];
        let broken = engine(&y, &[1, 1, 1, 0, 1, 1, 1, 1], &[false; 8], &[false; 8]);
        assert!(broken.iter().all(|c| *c == SpecialCause::CommonCause));
        let shift = engine(&y, &[1, 1, 1, 1, 1, 1, 1, -1], &[false; 8], &[false; 8]);
        assert!(shift[..7].iter().all(|c| *c == SpecialCause::ShiftAbove));
        assert_eq!(shift[7], SpecialCause::CommonCause);
        let shift = special_causes(&y, &[-1, -1, -1, -1, -1, -1, 1, 1], &[false; 8], &[false; 8], 6, 7);
        assert!(shift[..6].iter().all(|c| *c == SpecialCause::ShiftBelow));
    }

    #[test]
    fn precedence_and_two_in_three() {
        // NHSRplotthedots `ptd_part_of_two_in_three` cases: only close points in a same-side
        // window of three with at least two close points are flagged.
        let y = [1.0, 3.0, 2.0, 4.0, 3.0, 5.0];
        let causes = engine(&y, &[1; 6], &[false; 6], &[false, false, true, false, true, false]);
        assert_eq!(causes.iter().map(|c| c.direction()).collect::<Vec<_>>(), [0, 0, 1, 0, 1, 0]);
        assert_eq!(causes[2], SpecialCause::TwoInThreeAbove);
        let causes = engine(&y[..4], &[1; 4], &[false; 4], &[true, false, false, true]);
        assert!(causes.iter().all(|c| *c == SpecialCause::CommonCause));
        // Opposite sides of the mean never form a window.
        let causes = engine(&y[..3], &[1, -1, 1], &[false; 3], &[true, false, true]);
        assert!(causes.iter().all(|c| *c == SpecialCause::CommonCause));
        // Outside beats trend; trend beats two-in-three; two-in-three beats shift.
        let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 6.5, 6.8];
        let rel = [-1, -1, -1, -1, -1, -1, -1, -1, -1];
        let causes = engine(
            &y,
            &rel,
            &[true, false, false, false, false, false, false, false, false],
            &[false, true, false, false, false, false, false, true, true],
        );
        assert_eq!(causes[0], SpecialCause::BelowLcl);
        assert_eq!(causes[1], SpecialCause::TrendIncreasing);
        assert_eq!(causes[7], SpecialCause::TwoInThreeBelow);
        assert_eq!(causes[8], SpecialCause::TwoInThreeBelow);
    }

    #[test]
    fn degenerate_constant_baseline() {
        let v = some(&[5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 5.0, 4.0]);
        let c = xmr(&v, &SpcOptions { fix_after: Some(5), ..Default::default() }).expect("chart");
        assert_eq!(c.degenerate, Some(Degenerate::ZeroMeanMovingRange));
        assert_eq!(c.limits, Some(SpcLimits { lower: 5.0, lower_near: 5.0, upper_near: 5.0, upper: 5.0 }));
        assert_eq!(positions(&c, SpecialCause::AboveUcl), [6]);
        assert_eq!(positions(&c, SpecialCause::BelowLcl), [8]);
        assert_eq!(c.points[6].special_cause, Some(SpecialCause::CommonCause));
        assert_eq!(c.variation, Some(PointType::SpecialCauseConcern));
        assert_eq!(c.baseline, 5);
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert!(json.contains(r#""degenerate":"zero_mean_moving_range""#), "{json}");
        assert!(json.contains(r#""special_cause":"Above UCL""#));
    }

    #[test]
    fn mean_refinement() {
        // Naive summation gives −0.4999999999999999; R's mean gives −0.5 and the point −0.5 must
        // sit on the centre line (rel = 0), not below it.
        let v = [-0.7, -0.5, -2.1, -1.3, 0.4, 0.8, 1.8, -2.4];
        assert_ne!(v.iter().sum::<f64>() / 8.0, -0.5);
        let c = xmr(&some(&v), &SpcOptions::default()).expect("chart");
        assert_eq!(c.centre, Some(-0.5));
        assert_eq!(c.points[1].relative_to_centre, 0);
    }

    #[test]
    fn baseline_and_missing_points() {
        // Missing periods stay in place without labels; rules skip them; MRs need neighbours.
        let mut v = some(&[1.0, 2.0, 1.0, 2.0]);
        v.insert(2, None);
        v.extend(some(&[5.0; 7]));
        let c = xmr(&v, &SpcOptions { fix_after: Some(5), ..Default::default() }).expect("chart");
        assert_eq!(c.centre, Some(1.5));
        assert_eq!(c.amr, Some(1.0)); // |2−1| and |2−1|; the gap gives no range
        assert_eq!(c.points[2].value, None);
        assert_eq!(c.points[2].special_cause, None);
        assert!(c.points[5..].iter().all(|p| p.special_cause == Some(SpecialCause::AboveUcl)));
        // Fewer than two baseline points: no limits, but the mean and shift rule still apply.
        let mut v = vec![Some(0.0)];
        v.extend(some(&[1.0; 7]));
        let c = xmr(&v, &SpcOptions { fix_after: Some(1), ..Default::default() }).expect("chart");
        assert_eq!((c.centre, c.limits, c.amr), (Some(0.0), None, None));
        assert_eq!(positions(&c, SpecialCause::ShiftAbove), (2..=8).collect::<Vec<_>>());
        // A shift across a gap counts as consecutive present points.
        let mut v = some(&[1.0, 0.0].repeat(6));
        v.extend([Some(1.0), Some(1.0), Some(1.0), None, Some(1.0), Some(1.0), Some(1.0), Some(1.0)]);
        let c = xmr(&v, &SpcOptions { fix_after: Some(12), ..Default::default() }).expect("chart");
        assert_eq!(positions(&c, SpecialCause::ShiftAbove), [13, 14, 15, 17, 18, 19, 20]);
        let c = xmr(&[Some(5.0); 3], &SpcOptions::default()).expect("chart");
        assert_eq!(c.degenerate, Some(Degenerate::ZeroMeanMovingRange));
        assert!(xmr(&[], &SpcOptions::default()).is_ok_and(|c| c.centre.is_none() && c.variation.is_none()));
        assert!(xmr(&[Some(f64::INFINITY)], &SpcOptions::default()).is_err());
        assert!(xmr(&v, &SpcOptions { fix_after: Some(0), ..Default::default() }).is_err());
    }

    #[test]
    fn point_types_and_assurance() {
        assert_eq!(PointType::of(SpecialCause::TrendDecreasing, Improvement::Increase), PointType::SpecialCauseConcern);
        assert_eq!(
            PointType::of(SpecialCause::TrendDecreasing, Improvement::Decrease),
            PointType::SpecialCauseImprovement
        );
        assert_eq!(PointType::of(SpecialCause::ShiftAbove, Improvement::Neutral), PointType::SpecialCauseNeutralHigh);
        assert_eq!(PointType::of(SpecialCause::BelowLcl, Improvement::Neutral), PointType::SpecialCauseNeutralLow);
        assert_eq!(PointType::of(SpecialCause::CommonCause, Improvement::Neutral), PointType::CommonCause);
        let v = some(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]); // limits [−6.63, 13.77]
        let with = |target: f64, improvement: Improvement| {
            xmr(&v, &SpcOptions { target: Some(target), improvement, ..Default::default() }).expect("chart").assurance
        };
        assert_eq!(with(20.0, Improvement::Increase), Some(Assurance::ConsistentFail));
        assert_eq!(with(-10.0, Improvement::Increase), Some(Assurance::ConsistentPass));
        assert_eq!(with(5.0, Improvement::Increase), Some(Assurance::Inconsistent));
        assert_eq!(with(20.0, Improvement::Decrease), Some(Assurance::ConsistentPass));
        assert_eq!(with(-10.0, Improvement::Decrease), Some(Assurance::ConsistentFail));
        assert_eq!(with(20.0, Improvement::Neutral), None);
        assert_eq!(xmr(&v, &SpcOptions::default()).expect("chart").assurance, None);
    }

    #[test]
    fn p_chart_missing_and_invalid() {
        let counts = [(1.0, 10.0), (0.0, 0.0), (2.0, 10.0)];
        let c = p_chart(&counts, &SpcOptions::default()).expect("chart");
        assert_eq!(c.centre, Some(0.15));
        assert_eq!((c.points[1].value, c.points[1].limits, c.points[1].special_cause), (None, None, None));
        assert!(p_chart(&[(2.0, 1.0)], &SpcOptions::default()).is_err());
        assert!(p_chart(&[(-1.0, 1.0)], &SpcOptions::default()).is_err());
        let c = p_chart(&[(0.0, 0.0)], &SpcOptions::default()).expect("chart");
        assert_eq!((c.centre, c.runs), (None, None));
    }

    #[test]
    fn labels_serialise_as_spelled() {
        let all = [
            SpecialCause::AboveUcl,
            SpecialCause::BelowLcl,
            SpecialCause::TrendIncreasing,
            SpecialCause::TrendDecreasing,
            SpecialCause::TwoInThreeAbove,
            SpecialCause::TwoInThreeBelow,
            SpecialCause::ShiftAbove,
            SpecialCause::ShiftBelow,
            SpecialCause::CommonCause,
        ];
        let text: Vec<String> = all.iter().map(|c| serde_json::to_string(c).unwrap_or_default()).collect();
        assert_eq!(
            text,
            [
                "\"Above UCL\"",
                "\"Below LCL\"",
                "\"7 Point Trend (Increasing)\"",
                "\"7 Point Trend (Decreasing)\"",
                "\"2 in 3 Above CL\"",
                "\"2 in 3 Below CL\"",
                "\"7 Points Above CL\"",
                "\"7 Points Below CL\"",
                "\"Common Cause\""
            ]
        );
        assert_eq!(
            serde_json::to_string(&PointType::SpecialCauseNeutralHigh).unwrap_or_default(),
            "\"special_cause_neutral_high\""
        );
        assert_eq!(serde_json::to_string(&TwoInThree::Mdc2023).unwrap_or_default(), "\"mdc2023\"");
        assert_eq!(serde_json::to_string(&Assurance::ConsistentPass).unwrap_or_default(), "\"consistent_pass\"");
    }
}
