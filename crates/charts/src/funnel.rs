//! Funnel plot of services: percent against denominator, with exact 95% and 99.8% limits.

use std::f64::consts::FRAC_PI_2;

use flsdb_stats::funnel::{FunnelLimits, FunnelStatus, MIN_DENOMINATOR, classify, exact_funnel, funnel_status};
use flsdb_stats::{ALARM_LEVEL, ALERT_LEVEL, Interval, z_for_level};

use crate::ChartOptions;
use crate::frame::{self, Frame, LINE_HEIGHT, LegendItem, PAD, SMALL_SIZE, draw_legend, draw_notes, legend_rows, wrap};
use crate::svg::{Anchor, Axis, Font, Stroke, Svg, clip_y, colour, fixed, text_width, truncate};

/// One service on a funnel plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelPoint {
    pub label: String,
    pub numerator: u64,
    pub denominator: u64,
    /// Drawn larger, outlined and labelled (e.g. the viewer's own service).
    pub highlight: bool,
}

/// Number of denominators at which the limits are evaluated (log-spaced, so the curves are
/// smooth where they bend most, at small n).
const GRID_POINTS: usize = 160;
const ADJUSTED: &str = "#330072";

/// A funnel plot: x = denominator, y = percent (k/n × 100), the overall proportion `theta` (a
/// fraction, e.g. Σk/Σn) as a solid line, and the exact binomial limits of `flsdb-stats`
/// (Spiegelhalter's interpolation) at 95% (dashed) and 99.8% (solid) evaluated on a dense grid of
/// n from the smallest denominator to the end of the axis. Each service is a circle with a hover
/// text (label, k/n, percent, status), coloured by its funnel status: within (blue), outside the
/// 95% limits only (amber), outside the 99.8% limits (red), or too few to assess (n < 10, hollow).
/// Highlighted services are drawn larger, outlined and labelled. Services with a denominator of 0
/// (or k > n) cannot be placed and are left out.
pub fn funnel_svg(points: &[FunnelPoint], theta: f64, opts: &ChartOptions) -> String {
    draw_funnel(points, theta, None, opts)
}

/// [`funnel_svg`] plus the limits adjusted for over-dispersion by the flsdb rule (contract §3,
/// "Decisions"): on each side the wider of the exact limit and the additive limit
/// sin²(asin√θ ∓ z·√(1/(4n) + τ²)), drawn dotted. Pass the τ̂² of the KPI's over-dispersion
/// summary when its rule is `additive`; `None` (rule `none`) draws the plain funnel. Hover texts
/// then also give the adjusted status. Points are coloured by the unadjusted status.
pub fn funnel_svg_adjusted(points: &[FunnelPoint], theta: f64, tau2: Option<f64>, opts: &ChartOptions) -> String {
    draw_funnel(points, theta, tau2, opts)
}

/// The additive (random-effects) limits on the arcsine scale, back-transformed.
fn additive_limits(n: u64, theta: f64, tau2: f64) -> Option<FunnelLimits> {
    let t = theta.sqrt().asin();
    let sd = (1.0 / (4.0 * n as f64) + tau2).sqrt();
    let back = |y: f64| y.clamp(0.0, FRAC_PI_2).sin().powi(2);
    let at = |level: f64| -> Option<Interval> {
        let z = z_for_level(level)?;
        Some(Interval { lower: back(t - z * sd), upper: back(t + z * sd) })
    };
    Some(FunnelLimits { alert: at(ALERT_LEVEL)?, alarm: at(ALARM_LEVEL)? })
}

/// The flsdb adjusted limits: the wider of exact and additive on each side.
fn adjusted_limits(n: u64, theta: f64, tau2: f64) -> Option<FunnelLimits> {
    let (e, a) = (exact_funnel(n, theta)?, additive_limits(n, theta, tau2)?);
    let wide = |x: Interval, y: Interval| Interval { lower: x.lower.min(y.lower), upper: x.upper.max(y.upper) };
    Some(FunnelLimits { alert: wide(e.alert, a.alert), alarm: wide(e.alarm, a.alarm) })
}

fn status_colours(s: Option<FunnelStatus>) -> (&'static str, &'static str) {
    match s {
        Some(FunnelStatus::AlarmLow | FunnelStatus::AlarmHigh) => (colour::RED, "#8A1538"),
        Some(FunnelStatus::AlertLow | FunnelStatus::AlertHigh) => (colour::AMBER, "#8A6400"),
        Some(FunnelStatus::Within) => ("#41B6E6", colour::BLUE),
        Some(FunnelStatus::TooFew) | None => (colour::WHITE, colour::MID_GREY),
    }
}

fn status_text(s: Option<FunnelStatus>) -> String {
    match s {
        Some(FunnelStatus::AlarmLow) => "below the 99.8% limit (alarm)".to_owned(),
        Some(FunnelStatus::AlarmHigh) => "above the 99.8% limit (alarm)".to_owned(),
        Some(FunnelStatus::AlertLow) => "below the 95% limit (alert)".to_owned(),
        Some(FunnelStatus::AlertHigh) => "above the 95% limit (alert)".to_owned(),
        Some(FunnelStatus::Within) => "within the limits".to_owned(),
        Some(FunnelStatus::TooFew) => format!("too few to assess (denominator below {MIN_DENOMINATOR})"),
        None => "not assessed".to_owned(),
    }
}

/// A small positive number with three significant digits (τ² is often below 0.001).
fn significant(v: f64) -> String {
    let decimals = if v > 0.0 { (2.0 - v.log10().floor()).clamp(3.0, 8.0) as usize } else { 3 };
    fixed(v, decimals, false)
}

fn pct(v: f64) -> String {
    format!("{}%", fixed(v, 1, false))
}

fn draw_funnel(points: &[FunnelPoint], theta: f64, tau2: Option<f64>, opts: &ChartOptions) -> String {
    let kind = "Funnel plot";
    let placed: Vec<&FunnelPoint> =
        points.iter().filter(|p| p.denominator > 0 && p.numerator <= p.denominator).collect();
    if placed.is_empty() {
        return frame::no_data(opts, kind);
    }
    let theta = Some(theta).filter(|t| (0.0..=1.0).contains(t));
    let tau2 = tau2.filter(|t| t.is_finite() && *t >= 0.0 && theta.is_some_and(|t| t > 0.0 && t < 1.0));
    let status = |p: &FunnelPoint| theta.and_then(|t| funnel_status(p.numerator, p.denominator, t, MIN_DENOMINATOR));
    let adjusted = |p: &FunnelPoint| -> Option<FunnelStatus> {
        let (t, tau2) = (theta?, tau2?);
        if p.denominator < MIN_DENOMINATOR {
            return Some(FunnelStatus::TooFew);
        }
        Some(classify(p.numerator as f64 / p.denominator as f64, &adjusted_limits(p.denominator, t, tau2)?))
    };
    let percent = |p: &FunnelPoint| p.numerator as f64 / p.denominator as f64 * 100.0;

    // Axes: x from 0 to a nice maximum denominator; y over the points, θ, and the limits at the
    // denominators that can be assessed (smaller ones are clipped rather than stretching the axis).
    let n_min = placed.iter().map(|p| p.denominator).min().unwrap_or(1).max(1);
    let n_max = placed.iter().map(|p| p.denominator).max().unwrap_or(1);
    let x_axis = Axis::nice(0.0, n_max as f64, 5).min_step(1.0);
    let grid = log_grid(n_min, (x_axis.hi.round() as u64).max(n_max));
    let curve = |f: &dyn Fn(u64) -> Option<FunnelLimits>| -> Vec<(u64, FunnelLimits)> {
        grid.iter().filter_map(|&n| Some((n, f(n)?))).collect()
    };
    let exact = theta.map_or_else(Vec::new, |t| curve(&|n| exact_funnel(n, t)));
    let adjusted_curve = match (theta, tau2) {
        (Some(t), Some(tau2)) => curve(&|n| adjusted_limits(n, t, tau2)),
        _ => Vec::new(),
    };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in placed.iter().map(|p| percent(p)).chain(theta.map(|t| t * 100.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    for (_, l) in exact.iter().chain(&adjusted_curve).filter(|(n, _)| *n >= MIN_DENOMINATOR) {
        lo = lo.min(l.alarm.lower * 100.0);
        hi = hi.max(l.alarm.upper * 100.0);
    }
    let y_axis = Axis::nice(lo, hi, 5).clamp(0.0, 100.0);

    // Legend and notes.
    let statuses: Vec<Option<FunnelStatus>> = placed.iter().map(|p| status(p)).collect();
    let count = |f: &dyn Fn(FunnelStatus) -> bool| statuses.iter().flatten().filter(|s| f(**s)).count();
    let alarm_high = count(&|s| s == FunnelStatus::AlarmHigh);
    let alarm_low = count(&|s| s == FunnelStatus::AlarmLow);
    let alert = count(&|s| matches!(s, FunnelStatus::AlertHigh | FunnelStatus::AlertLow));
    let within = count(&|s| s == FunnelStatus::Within);
    let too_few = count(&|s| s == FunnelStatus::TooFew);
    let mut legend: Vec<LegendItem<'_>> = Vec::new();
    let ring = |s: FunnelStatus, text: &str| {
        let (fill, stroke) = status_colours(Some(s));
        LegendItem::ring(fill, stroke, text)
    };
    if within > 0 {
        legend.push(ring(FunnelStatus::Within, "Within the limits"));
    }
    if alert > 0 {
        legend.push(ring(FunnelStatus::AlertHigh, "Outside 95% (alert)"));
    }
    if alarm_high + alarm_low > 0 {
        legend.push(ring(FunnelStatus::AlarmHigh, "Outside 99.8% (alarm)"));
    }
    if too_few > 0 {
        legend.push(ring(FunnelStatus::TooFew, &format!("Too few (under {MIN_DENOMINATOR})")));
    }
    if let Some(t) = theta {
        legend.push(LegendItem::line(theta_stroke(), format!("Overall {}", pct(t * 100.0))));
        legend.push(LegendItem::line(alert_stroke(), "95% limits"));
        legend.push(LegendItem::line(alarm_stroke(), "99.8% limits"));
    }
    if !adjusted_curve.is_empty() {
        legend.push(LegendItem::line(adjusted_stroke(1.5), "Adjusted for over-dispersion"));
    }
    let (w, h0) = frame::canvas(opts);
    let inner_w = w - 2.0 * PAD;
    let rows = legend_rows(&legend, inner_w);
    let mut note = format!(
        "Exact binomial limits (Spiegelhalter) around the overall proportion; services with a denominator \
         below {MIN_DENOMINATOR} are not assessed."
    );
    if let Some(t) = tau2 {
        note.push_str(&format!(
            " Dotted: limits widened for over-dispersion (additive, \u{3c4}\u{b2} = {}).",
            significant(t)
        ));
    }
    let notes = wrap(&note, inner_w, SMALL_SIZE);

    let x_label = if opts.x_label.trim().is_empty() { "Denominator" } else { opts.x_label.trim() };
    let y_label = if opts.y_label.trim().is_empty() { "Percent" } else { opts.y_label.trim() };
    let x0 = frame::left_margin(&y_axis, true, y_label);
    let x1 = w - PAD - 12.0;
    let top = frame::content_top(opts) + 4.0;
    let bottom = frame::x_axis_height(x_label) + 10.0 + (rows.len() + notes.len()) as f64 * LINE_HEIGHT + PAD;
    let h = frame::grown_height(h0, top, bottom);
    let f = Frame { x0, x1, y0: top, y1: h - bottom };
    let (xs, ys) = (f.x_scale(&x_axis), f.y_scale(&y_axis));

    let mut desc = format!("{kind} of {} services: percent against denominator", placed.len());
    if let Some(t) = theta {
        desc.push_str(&format!(
            ", with exact binomial 95% and 99.8% limits around the overall {}. {alarm_high} above and \
             {alarm_low} below the 99.8% limits; {alert} outside the 95% limits only; {within} within",
            pct(t * 100.0)
        ));
        if too_few > 0 {
            desc.push_str(&format!("; {too_few} with a denominator below {MIN_DENOMINATOR}"));
        }
    }
    desc.push('.');
    if let Some(p) = placed.iter().find(|p| p.highlight) {
        desc.push_str(&format!(
            " Highlighted: {} ({}/{}, {}, {}).",
            p.label.trim(),
            p.numerator,
            p.denominator,
            pct(percent(p)),
            status_text(status(p))
        ));
    }

    let mut svg = Svg::new(w, h, &frame::accessible_name(opts, kind), &desc);
    frame::draw_title(&mut svg, opts);
    frame::y_axis(&mut svg, &f, &y_axis, true, y_label);
    let y_end = frame::x_axis(&mut svg, &f, &x_axis, false, x_label, false);

    // Limits, clipped to the plot.
    let line = |svg: &mut Svg, curve: &[(u64, FunnelLimits)], pick: &dyn Fn(&FunnelLimits) -> f64, s: Stroke<'_>| {
        let pts: Vec<(f64, f64)> = curve.iter().map(|(n, l)| (xs.map(*n as f64), pick(l) * 100.0)).collect();
        let runs: Vec<Vec<(f64, f64)>> = clip_y(&pts, y_axis.lo, y_axis.hi)
            .into_iter()
            .map(|r| r.into_iter().map(|(x, v)| (x, ys.map(v))).collect())
            .collect();
        svg.path(&runs, s);
    };
    line(&mut svg, &adjusted_curve, &|l| l.alert.lower, adjusted_stroke(1.0));
    line(&mut svg, &adjusted_curve, &|l| l.alert.upper, adjusted_stroke(1.0));
    line(&mut svg, &adjusted_curve, &|l| l.alarm.lower, adjusted_stroke(1.5));
    line(&mut svg, &adjusted_curve, &|l| l.alarm.upper, adjusted_stroke(1.5));
    line(&mut svg, &exact, &|l| l.alert.lower, alert_stroke());
    line(&mut svg, &exact, &|l| l.alert.upper, alert_stroke());
    line(&mut svg, &exact, &|l| l.alarm.lower, alarm_stroke());
    line(&mut svg, &exact, &|l| l.alarm.upper, alarm_stroke());
    if let Some(t) = theta.map(|t| t * 100.0).filter(|t| y_axis.contains(*t)) {
        svg.line(f.x0, ys.map(t), f.x1, ys.map(t), theta_stroke());
    }

    // Points: the others first, highlighted ones on top with their labels.
    let ordered = placed
        .iter()
        .zip(&statuses)
        .filter(|(p, _)| !p.highlight)
        .chain(placed.iter().zip(&statuses).filter(|(p, _)| p.highlight));
    let centres: Vec<(f64, f64)> = placed.iter().map(|p| (xs.map(p.denominator as f64), ys.map(percent(p)))).collect();
    for (p, s) in ordered {
        let (x, y) = (xs.map(p.denominator as f64), ys.map(percent(p)));
        let (fill, stroke) = status_colours(*s);
        let mut hover =
            format!("{}: {}/{} = {}, {}", p.label.trim(), p.numerator, p.denominator, pct(percent(p)), status_text(*s));
        if tau2.is_some() {
            hover.push_str(&format!("; adjusted for over-dispersion: {}", status_text(adjusted(p))));
        }
        if p.highlight {
            svg.point(x, y, 7.0, fill, Some(Stroke::solid(colour::TEXT, 2.0)), &hover);
            let label = truncate(p.label.trim(), 30);
            let (lx, ly, anchor) = place_label(&label, (x, y), &centres, &f);
            svg.text(lx, ly, &label, Font::new(SMALL_SIZE, anchor).bold().halo());
        } else {
            svg.point(x, y, 4.5, fill, Some(Stroke::solid(stroke, 1.0)), &hover);
        }
    }

    draw_legend(&mut svg, &legend, &rows, PAD, y_end + 10.0 + LINE_HEIGHT / 2.0);
    draw_notes(&mut svg, &notes, PAD, y_end + 10.0 + rows.len() as f64 * LINE_HEIGHT + SMALL_SIZE);
    svg.finish()
}

/// Where to put the label of a highlighted point at `at`: the first of twelve positions around it
/// that stays inside the frame and covers the fewest other points (ties keep the earlier
/// position, so the result is deterministic). Returns the text origin and anchor.
fn place_label(label: &str, at: (f64, f64), others: &[(f64, f64)], f: &Frame) -> (f64, f64, Anchor) {
    let (x, y) = at;
    let w = text_width(label, SMALL_SIZE) * 1.1; // bold
    let h = SMALL_SIZE;
    // (dx, baseline dy, anchor): right-above, left-above, right-below, left-below, right, left,
    // above, below, then the four corners a line further out.
    let candidates = [
        (11.0, -8.0, Anchor::Start),
        (-11.0, -8.0, Anchor::End),
        (11.0, 16.0, Anchor::Start),
        (-11.0, 16.0, Anchor::End),
        (12.0, 4.0, Anchor::Start),
        (-12.0, 4.0, Anchor::End),
        (0.0, -12.0, Anchor::Middle),
        (0.0, 21.0, Anchor::Middle),
        (11.0, -20.0, Anchor::Start),
        (-11.0, -20.0, Anchor::End),
        (11.0, 28.0, Anchor::Start),
        (-11.0, 28.0, Anchor::End),
    ];
    let mut best: Option<(usize, (f64, f64, Anchor))> = None;
    for (dx, dy, anchor) in candidates {
        let (lx, ly) = (x + dx, y + dy);
        let left = match anchor {
            Anchor::Start => lx,
            Anchor::End => lx - w,
            Anchor::Middle => lx - w / 2.0,
        };
        let (top, right, bottom) = (ly - h, left + w, ly + 3.0);
        if left < f.x0 + 2.0 || right > f.x1 || top < f.y0 || bottom > f.y1 {
            continue;
        }
        let r = 5.5;
        let covered = others
            .iter()
            .filter(|&&(px, py)| (px, py) != at)
            .filter(|&&(px, py)| px + r > left && px - r < right && py + r > top && py - r < bottom)
            .count();
        if best.as_ref().is_none_or(|(c, _)| covered < *c) {
            best = Some((covered, (lx, ly, anchor)));
        }
        if covered == 0 {
            break;
        }
    }
    best.map_or((x + 11.0, y - 8.0, Anchor::Start), |(_, pos)| pos)
}

/// Log-spaced integer denominators from `from` to `to` (inclusive, deduplicated, increasing).
fn log_grid(from: u64, to: u64) -> Vec<u64> {
    let (from, to) = (from.max(1), to.max(from.max(1)));
    let ratio = to as f64 / from as f64;
    let mut grid: Vec<u64> = (0..GRID_POINTS)
        .map(|j| (from as f64 * ratio.powf(j as f64 / (GRID_POINTS - 1) as f64)).round() as u64)
        .map(|n| n.clamp(from, to))
        .collect();
    grid.push(to);
    grid.dedup();
    grid
}

fn theta_stroke() -> Stroke<'static> {
    Stroke::solid(colour::BLUE, 1.5)
}

fn alert_stroke() -> Stroke<'static> {
    Stroke::dashed(colour::AXIS, 1.2, "6 4")
}

fn alarm_stroke() -> Stroke<'static> {
    Stroke::solid(colour::AXIS, 1.2)
}

fn adjusted_stroke(width: f64) -> Stroke<'static> {
    Stroke::dashed(ADJUSTED, width, "1.5 3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_increasing_and_spans() {
        let g = log_grid(12, 600);
        assert_eq!((g.first(), g.last()), (Some(&12), Some(&600)));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(log_grid(5, 5), [5]);
        assert_eq!(log_grid(0, 0), [1]);
    }

    #[test]
    fn adjusted_never_narrower_than_exact() {
        for n in [10, 50, 200, 1000] {
            let e = exact_funnel(n, 0.6).expect("exact");
            let a = adjusted_limits(n, 0.6, 0.01).expect("adjusted");
            assert!(a.alarm.lower <= e.alarm.lower && a.alarm.upper >= e.alarm.upper);
            assert!(a.alert.lower <= e.alert.lower && a.alert.upper >= e.alert.upper);
        }
        // §5 row 11: additive 99.8% limits of unit A (n = 82) at θ = 0.344214, τ² = 0.008688.
        let a = additive_limits(82, 0.344_214_4, 0.008_688).expect("additive");
        assert!((a.alarm.lower - 0.082971).abs() < 2e-5 && (a.alarm.upper - 0.672730).abs() < 2e-5, "{a:?}");
    }
}
