//! SPC charts (XmR, p-chart) in the NHS "Making Data Count" style, and run charts.

use flsdb_stats::spc::{Assurance, PointType, RunChart, SpcChart, SpecialCause};

use crate::ChartOptions;
use crate::frame::{
    self, Frame, LINE_HEIGHT, LegendItem, PAD, SMALL_SIZE, TICK_SIZE, draw_legend, draw_notes, legend_rows, wrap,
};
use crate::svg::{Anchor, Axis, Font, Stroke, Svg, clip_y, colour, text_width, truncate};

/// The label of a special cause, spelled as NHSRplotthedots spells it (the serde names).
fn cause_text(cause: SpecialCause) -> &'static str {
    match cause {
        SpecialCause::AboveUcl => "Above UCL",
        SpecialCause::BelowLcl => "Below LCL",
        SpecialCause::TrendIncreasing => "7 Point Trend (Increasing)",
        SpecialCause::TrendDecreasing => "7 Point Trend (Decreasing)",
        SpecialCause::TwoInThreeAbove => "2 in 3 Above CL",
        SpecialCause::TwoInThreeBelow => "2 in 3 Below CL",
        SpecialCause::ShiftAbove => "7 Points Above CL",
        SpecialCause::ShiftBelow => "7 Points Below CL",
        SpecialCause::CommonCause => "Common Cause",
    }
}

fn point_colour(t: PointType) -> &'static str {
    match t {
        PointType::CommonCause => colour::MDC_COMMON,
        PointType::SpecialCauseImprovement => colour::MDC_IMPROVEMENT,
        PointType::SpecialCauseConcern => colour::MDC_CONCERN,
        PointType::SpecialCauseNeutralHigh | PointType::SpecialCauseNeutralLow => colour::MDC_NEUTRAL,
    }
}

fn point_type_text(t: PointType) -> &'static str {
    match t {
        PointType::CommonCause => "Common cause",
        PointType::SpecialCauseImprovement => "Special cause improvement",
        PointType::SpecialCauseConcern => "Special cause concern",
        PointType::SpecialCauseNeutralHigh | PointType::SpecialCauseNeutralLow => {
            "Special cause, neither improvement nor concern"
        }
    }
}

/// The MDC variation icon as text, from the last point with a value.
fn variation_text(chart: &SpcChart) -> String {
    let last = chart.points.iter().rev().find(|p| p.value.is_some());
    match (chart.variation, last.and_then(|p| p.special_cause)) {
        (None, _) => "Variation: not assessed".to_owned(),
        (Some(PointType::CommonCause), _) => "Variation: common cause".to_owned(),
        (Some(t), cause) => {
            let side = match cause.map(SpecialCause::direction) {
                Some(d) if d > 0 => " (high)",
                Some(d) if d < 0 => " (low)",
                _ => "",
            };
            format!("Variation: {}{side}", point_type_text(t).to_lowercase())
        }
    }
}

/// The MDC assurance icon as text.
fn assurance_text(chart: &SpcChart, opts: &ChartOptions) -> String {
    match (chart.assurance, opts.target) {
        (Some(Assurance::ConsistentPass), _) => "Assurance: consistently meets the target".to_owned(),
        (Some(Assurance::ConsistentFail), _) => "Assurance: consistently fails the target".to_owned(),
        (Some(Assurance::Inconsistent), _) => {
            "Assurance: inconsistent (the target lies within the process limits)".to_owned()
        }
        (None, Some(_)) => "Assurance: not assessed".to_owned(),
        (None, None) => "Assurance: no target".to_owned(),
    }
}

/// Everything the time-series drawing needs, already scaled to display units.
struct Series<'a> {
    kind: &'static str,
    values: Vec<Option<f64>>,
    centre: Option<f64>,
    centre_name: &'static str,
    /// Lower and upper process limits per period.
    limits: Vec<Option<(f64, f64)>>,
    /// Fill colour per period (used only where there is a value).
    colours: Vec<&'static str>,
    /// Text after "label: value" in each hover title.
    hover: Vec<String>,
    dots: Vec<LegendItem<'a>>,
    /// Periods in the baseline when it is shorter than the series.
    baseline: Option<usize>,
    notes: Vec<String>,
    desc: String,
}

/// An XmR chart or p-chart in the Making Data Count style: a grey line of values, dots coloured by
/// point type (common cause grey, improvement blue, concern orange, neutral purple), the mean as a
/// solid line, the process limits dashed (stepped when they vary per point, as in a p-chart), the
/// target (from `opts.target`) as a red dashed line, and the variation and assurance icons as a
/// line of text. `labels` names the periods (e.g. "2024-01"), one per point; missing values leave
/// a gap in the line.
pub fn spc_svg(chart: &SpcChart, labels: &[String], opts: &ChartOptions) -> String {
    let kind = if chart.amr.is_some() || chart.limits.is_some() {
        "XmR chart"
    } else if chart.points.iter().any(|p| p.limits.is_some()) {
        "p-chart"
    } else {
        "SPC chart"
    };
    let values: Vec<Option<f64>> = chart.points.iter().map(|p| p.value.and_then(|v| opts.scaled(v))).collect();
    if values.iter().all(Option::is_none) {
        return frame::no_data(opts, kind);
    }
    let centre = chart.centre.and_then(|c| opts.scaled(c));
    let limits: Vec<Option<(f64, f64)>> = chart
        .points
        .iter()
        .map(|p| p.limits.and_then(|l| Some((opts.scaled(l.lower)?, opts.scaled(l.upper)?))))
        .collect();
    let varying = kind == "p-chart";
    let colours = chart.points.iter().map(|p| p.point_type.map_or(colour::MDC_COMMON, point_colour)).collect();

    let mut types: Vec<PointType> = vec![PointType::CommonCause];
    for t in chart.points.iter().filter_map(|p| p.point_type) {
        let t = if t == PointType::SpecialCauseNeutralLow { PointType::SpecialCauseNeutralHigh } else { t };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    types.sort_by_key(|t| match t {
        PointType::CommonCause => 0,
        PointType::SpecialCauseImprovement => 1,
        PointType::SpecialCauseConcern => 2,
        _ => 3,
    });
    let dots = types.iter().map(|&t| LegendItem::dot(point_colour(t), point_type_text(t))).collect();

    let baseline = (chart.baseline < chart.points.len() && chart.baseline > 0).then_some(chart.baseline);
    let mut notes = vec![format!("{}. {}.", variation_text(chart), assurance_text(chart, opts))];
    if let Some(b) = baseline {
        notes.push(format!("Mean and limits from the first {b} points (left of the dotted line)."));
    }
    if chart.degenerate.is_some() {
        notes.push("The baseline is constant, so the limits equal the mean.".to_owned());
    }
    let desc_limits = |axis: &Axis| -> String {
        let show = |v: f64| frame::value_label(v, axis, opts.percent);
        let mut s = String::new();
        if let Some(c) = centre {
            s.push_str(&format!(" Mean {}.", show(c)));
        }
        if varying {
            s.push_str(" Process limits vary with the denominator.");
        } else if let Some((lo, hi)) = limits.iter().flatten().next() {
            s.push_str(&format!(" Process limits {} to {}.", show(*lo), show(*hi)));
        }
        s
    };
    let hover_axis = value_axis(&values, &limits, centre, opts);
    let hover = chart
        .points
        .iter()
        .zip(&limits)
        .map(|(p, l)| {
            let mut s = p.special_cause.map_or_else(String::new, |c| cause_text(c).to_owned());
            if let (true, Some((lo, hi))) = (varying, l) {
                let show = |v: f64| frame::value_label(v, &hover_axis, opts.percent);
                s.push_str(&format!(" (limits {} to {})", show(*lo), show(*hi)));
            }
            s
        })
        .collect();
    let desc = format!(
        "{kind} of {} {}{}{} {}. {}.",
        values.len(),
        period_words(&values, labels),
        desc_limits(&hover_axis),
        missing_words(&values),
        variation_text(chart),
        assurance_text(chart, opts)
    );
    let series =
        Series { kind, values, centre, centre_name: "Mean", limits, colours, hover, dots, baseline, notes, desc };
    draw_series(&series, labels, opts)
}

/// A run chart: a grey line of values, the median as a solid line, points in a shift or trend
/// (IHI rules) in purple, the target (from `opts.target`) as a red dashed line, and the Anhøj runs
/// analysis as a line of text.
pub fn run_chart_svg(chart: &RunChart, labels: &[String], opts: &ChartOptions) -> String {
    let kind = "Run chart";
    let values: Vec<Option<f64>> = chart.points.iter().map(|p| p.value.and_then(|v| opts.scaled(v))).collect();
    if values.iter().all(Option::is_none) {
        return frame::no_data(opts, kind);
    }
    let centre = chart.median.and_then(|c| opts.scaled(c));
    let signal = |p: &flsdb_stats::spc::RunPoint| p.shift || p.trend;
    let colours =
        chart.points.iter().map(|p| if signal(p) { colour::MDC_NEUTRAL } else { colour::MDC_COMMON }).collect();
    let hover = chart
        .points
        .iter()
        .map(|p| match (p.shift, p.trend) {
            (true, true) => "part of a shift and a trend",
            (true, false) => "part of a shift",
            (false, true) => "part of a trend",
            (false, false) => "",
        })
        .map(str::to_owned)
        .collect();
    let mut dots = vec![LegendItem::dot(colour::MDC_COMMON, "Random variation")];
    if chart.points.iter().any(signal) {
        dots.push(LegendItem::dot(colour::MDC_NEUTRAL, "Part of a shift or trend"));
    }
    let runs = match chart.runs {
        Some(r) => format!(
            "Runs analysis: longest run {} (signal above {}), crossings {} (signal below {}): {}.",
            r.longest_run,
            r.longest_run_max,
            r.crossings,
            r.crossings_min,
            if r.signal { "non-random variation" } else { "no signal of non-random variation" }
        ),
        None => "Runs analysis: not assessed.".to_owned(),
    };
    let shifts = chart.points.iter().filter(|p| p.shift).count();
    let trends = chart.points.iter().filter(|p| p.trend).count();
    let baseline = (chart.baseline < chart.points.len() && chart.baseline > 0).then_some(chart.baseline);
    let mut notes = vec![runs.clone()];
    if let Some(b) = baseline {
        notes.push(format!("Median from the first {b} points (left of the dotted line)."));
    }
    let axis = value_axis(&values, &[], centre, opts);
    let median =
        centre.map_or_else(String::new, |c| format!(" Median {}.", frame::value_label(c, &axis, opts.percent)));
    let desc = format!(
        "{kind} of {} {}{median}{} {shifts} points in a shift, {trends} in a trend. {runs}",
        values.len(),
        period_words(&values, labels),
        missing_words(&values),
    );
    let series = Series {
        kind,
        limits: vec![None; values.len()],
        values,
        centre,
        centre_name: "Median",
        colours,
        hover,
        dots,
        baseline,
        notes,
        desc,
    };
    draw_series(&series, labels, opts)
}

/// "periods from A to B" for the description.
fn period_words(values: &[Option<f64>], labels: &[String]) -> String {
    let first = labels.first().map(|s| s.trim()).filter(|s| !s.is_empty());
    let last = labels.get(values.len().saturating_sub(1)).map(|s| s.trim()).filter(|s| !s.is_empty());
    match (first, last) {
        (Some(a), Some(b)) => format!("periods from {a} to {b}."),
        _ => "periods.".to_owned(),
    }
}

fn missing_words(values: &[Option<f64>]) -> String {
    match values.iter().filter(|v| v.is_none()).count() {
        0 => String::new(),
        1 => " 1 period has no data.".to_owned(),
        n => format!(" {n} periods have no data."),
    }
}

/// The value axis: covers values, limits, centre and target; kept within 0–100 for percentages
/// unless a value lies outside (then the caller's scale is off and nothing is hidden).
fn value_axis(values: &[Option<f64>], limits: &[Option<(f64, f64)>], centre: Option<f64>, opts: &ChartOptions) -> Axis {
    let target = opts.target.and_then(|t| opts.scaled(t));
    let all = values
        .iter()
        .flatten()
        .copied()
        .chain(limits.iter().flatten().flat_map(|&(lo, hi)| [lo, hi]))
        .chain(centre)
        .chain(target);
    let (min, max) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    // A little room so points on the extremes do not sit on the frame.
    let pad = (max - min) * 0.04;
    let axis = Axis::nice(min - pad, max + pad, 5);
    let in_range = values.iter().flatten().chain(centre.as_ref()).all(|v| (0.0..=100.0).contains(v));
    if opts.percent && in_range { axis.clamp(0.0, 100.0) } else { axis }
}

fn draw_series(s: &Series<'_>, labels: &[String], opts: &ChartOptions) -> String {
    let (w, h0) = frame::canvas(opts);
    let n = s.values.len();
    let axis = value_axis(&s.values, &s.limits, s.centre, opts);
    let target = opts.target.and_then(|t| opts.scaled(t));

    // Legend: point colours, then the lines shown.
    let mut legend = s.dots.clone();
    legend.push(LegendItem::line(Stroke::solid(colour::MDC_LINE, 2.0), "Value"));
    if s.centre.is_some() {
        legend.push(LegendItem::line(centre_stroke(), s.centre_name));
    }
    if s.limits.iter().any(Option::is_some) {
        legend.push(LegendItem::line(limit_stroke(), "Process limits"));
    }
    if target.is_some() {
        legend.push(LegendItem::line(target_stroke(), "Target"));
    }
    let inner_w = w - 2.0 * PAD;
    let rows = legend_rows(&legend, inner_w);
    let notes: Vec<String> = s.notes.iter().flat_map(|n| wrap(n, inner_w, SMALL_SIZE)).collect();

    // Horizontal layout first: it decides how the period labels fit.
    let x0 = frame::left_margin(&axis, opts.percent, &opts.y_label);
    let x1 = w - PAD - 8.0;
    let cell = (x1 - x0) / n.max(1) as f64;
    let shown: Vec<String> = (0..n).map(|i| truncate(labels.get(i).map_or("", |l| l.trim()), 16)).collect();
    let label_w = shown.iter().map(|l| text_width(l, TICK_SIZE)).fold(0.0, f64::max);
    let horizontal = label_w + 6.0 <= cell;
    let step = if horizontal { 1 } else { ((TICK_SIZE * 1.5) / cell).ceil().max(1.0) as usize };
    let label_band = if label_w == 0.0 {
        6.0
    } else if horizontal {
        8.0 + TICK_SIZE
    } else {
        8.0 + (label_w + TICK_SIZE * 0.5) * std::f64::consts::FRAC_1_SQRT_2
    };
    let x_label_band = if opts.x_label.trim().is_empty() { 0.0 } else { frame::LABEL_SIZE + 8.0 };
    let bottom = label_band + x_label_band + 10.0 + (rows.len() + notes.len()) as f64 * LINE_HEIGHT + PAD;
    let top = frame::content_top(opts) + 4.0;
    let h = frame::grown_height(h0, top, bottom);
    let y1 = h - bottom;
    let f = Frame { x0, x1, y0: top, y1 };
    let ys = f.y_scale(&axis);
    let x_at = |i: usize| f.x0 + (i as f64 + 0.5) * cell;

    let mut svg = Svg::new(w, h, &frame::accessible_name(opts, s.kind), &s.desc);
    frame::draw_title(&mut svg, opts);
    frame::y_axis(&mut svg, &f, &axis, opts.percent, &opts.y_label);

    // Period axis: ticks and (thinned, possibly rotated) labels.
    svg.line(f.x0, f.y1, f.x1, f.y1, Stroke::solid(colour::AXIS, 1.0));
    for i in (0..n).filter(|i| i % step == 0) {
        let x = x_at(i);
        svg.line(x, f.y1, x, f.y1 + 4.0, Stroke::solid(colour::AXIS, 1.0));
        if shown[i].is_empty() {
            continue;
        }
        if horizontal {
            svg.text(x, f.y1 + 6.0 + TICK_SIZE, &shown[i], Font::new(TICK_SIZE, Anchor::Middle));
        } else {
            let (ax, ay) = (x + TICK_SIZE * 0.35, f.y1 + 10.0);
            svg.text_rotated(ax, ay, &shown[i], Font::new(TICK_SIZE, Anchor::End), -45.0);
        }
    }
    let mut y = f.y1 + label_band;
    if x_label_band > 0.0 {
        y += frame::LABEL_SIZE + 4.0;
        svg.text((f.x0 + f.x1) / 2.0, y, opts.x_label.trim(), Font::new(frame::LABEL_SIZE, Anchor::Middle));
    }

    if let Some(b) = s.baseline {
        let x = f.x0 + b as f64 * cell;
        svg.line(x, f.y0, x, f.y1, Stroke::dashed(colour::MID_GREY, 1.0, "2 3"));
    }

    // Limits (stepped where they vary), centre, target: clipped to the axis.
    let mut lower: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut upper: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run_lo: Vec<(f64, f64)> = Vec::new();
    let mut run_hi: Vec<(f64, f64)> = Vec::new();
    for (i, l) in s.limits.iter().enumerate() {
        let (xl, xr) = (f.x0 + i as f64 * cell, f.x0 + (i + 1) as f64 * cell);
        match l {
            Some((lo, hi)) => {
                extend_step(&mut run_lo, xl, xr, *lo);
                extend_step(&mut run_hi, xl, xr, *hi);
            }
            None => {
                lower.push(std::mem::take(&mut run_lo));
                upper.push(std::mem::take(&mut run_hi));
            }
        }
    }
    lower.push(run_lo);
    upper.push(run_hi);
    let to_px = |runs: Vec<Vec<(f64, f64)>>| -> Vec<Vec<(f64, f64)>> {
        runs.iter()
            .filter(|r| !r.is_empty())
            .flat_map(|r| clip_y(r, axis.lo, axis.hi))
            .map(|r| r.into_iter().map(|(x, v)| (x, ys.map(v))).collect())
            .collect()
    };
    svg.path(&to_px(lower), limit_stroke());
    svg.path(&to_px(upper), limit_stroke());
    if let Some(c) = s.centre {
        svg.line(f.x0, ys.map(c), f.x1, ys.map(c), centre_stroke());
    }
    if let Some(t) = target.filter(|t| axis.contains(*t)) {
        svg.line(f.x0, ys.map(t), f.x1, ys.map(t), target_stroke());
    }

    // The line of values, broken at missing periods, then the dots on top.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, v) in s.values.iter().enumerate() {
        match (v, runs.last_mut()) {
            (Some(v), Some(run)) => run.push((x_at(i), ys.map(*v))),
            _ => runs.push(Vec::new()),
        }
    }
    runs.retain(|r| r.len() >= 2);
    svg.path(&runs, Stroke::solid(colour::MDC_LINE, 2.0));
    let radius = (cell * 0.3).clamp(2.0, 4.5);
    for (i, v) in s.values.iter().enumerate() {
        let Some(v) = v else { continue };
        let label = labels.get(i).map(|l| l.trim()).filter(|l| !l.is_empty());
        let name = label.map_or_else(|| format!("Point {}", i + 1), str::to_owned);
        let mut hover = format!("{name}: {}", frame::value_label(*v, &axis, opts.percent));
        if !s.hover[i].is_empty() {
            hover.push_str(" — ");
            hover.push_str(&s.hover[i]);
        }
        svg.point(x_at(i), ys.map(*v), radius, s.colours[i], Some(Stroke::solid(colour::WHITE, 1.0)), &hover);
    }

    draw_legend(&mut svg, &legend, &rows, PAD, y + 10.0 + LINE_HEIGHT / 2.0);
    draw_notes(&mut svg, &notes, PAD, y + 10.0 + rows.len() as f64 * LINE_HEIGHT + SMALL_SIZE);
    svg.finish()
}

/// Adds a horizontal step x ∈ [xl, xr] at `v` to a limit polyline, merging equal neighbours so a
/// constant limit is one straight segment.
fn extend_step(run: &mut Vec<(f64, f64)>, xl: f64, xr: f64, v: f64) {
    match run.last_mut() {
        Some(last) if last.1 == v => last.0 = xr,
        _ => {
            run.push((xl, v));
            run.push((xr, v));
        }
    }
}

fn centre_stroke() -> Stroke<'static> {
    Stroke::solid(colour::TEXT, 1.5)
}

fn limit_stroke() -> Stroke<'static> {
    Stroke::dashed(colour::MDC_COMMON, 1.5, "6 4")
}

fn target_stroke() -> Stroke<'static> {
    Stroke::dashed(colour::MDC_TARGET, 1.5, "3 3")
}
