//! The reports' charts, all drawn by `flsdb-charts` (no second chart implementation): this
//! module only chooses the data, the order and the options.

use crate::fmt;
use flsdb_charts::{ChartOptions, CiRow, FunnelPoint, caterpillar_svg, escape, funnel_svg_adjusted};
use flsdb_kpi::{
    Decoration, Disclosure, Entry, MonthPoint, Number, OverdispersionRule, Report, ServiceChart, Shown, chart_series,
};

/// Width of the report charts in SVG pixels.
pub const WIDTH: u32 = 760;

/// The overall proportion θ of a KPI (Σk / Σn), when it has one.
pub fn theta(report: &Report, kpi: &str) -> Option<f64> {
    let e = report.overall.kpis.entry(kpi)?;
    match e.exact.denominator {
        Some(Number::Count(n)) if n > 0 => Some(e.exact.numerator as f64 / n as f64),
        _ => None,
    }
}

/// τ̂² when the KPI's over-dispersion rule is additive.
pub fn tau2(report: &Report, kpi: &str) -> Option<f64> {
    match &report.overall.kpis.entry(kpi)?.decoration {
        Decoration::Overall { overdispersion: Some(od) } if od.rule == OverdispersionRule::Additive => od.tau2,
        _ => None,
    }
}

fn label(name: &str, code: &str) -> String {
    format!("{name} ({code})")
}

fn shown_f64(v: &Option<Shown<f64>>) -> Option<f64> {
    v.as_ref().and_then(|s| s.value().copied())
}

/// Caterpillar plot of `rows` (service label and entry as shown), sorted by value, highest first;
/// services without a shown value last, by label.
pub fn caterpillar(rows: &[(String, &Entry)], national: Option<f64>, title: &str) -> String {
    // A few services (a commissioner's) get a compact chart; many grow it past this height.
    let height = (110 + 24 * rows.len() as u32).clamp(180, 320);
    let mut ci_rows: Vec<CiRow<'static>> = rows
        .iter()
        .map(|(label, e)| {
            let ci = e.ci95.as_ref().and_then(|c| c.value().copied());
            CiRow {
                label: label.clone(),
                percent: shown_f64(&e.percent),
                lower: ci.map(|c| c[0]),
                upper: ci.map(|c| c[1]),
                band: e.band.as_ref().and_then(|b| b.value()).map(|b| b.as_str()),
            }
        })
        .collect();
    ci_rows.sort_by(|a, b| match (a.percent, b.percent) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.label.cmp(&b.label)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.label.cmp(&b.label),
    });
    let opts = ChartOptions {
        title: title.to_owned(),
        y_label: "Percent".into(),
        // Many rows make a tall chart whose printed size is limited by the page height: a wider
        // canvas then uses the page's width instead of shrinking the plot.
        width: if rows.len() > 40 { 1000 } else { WIDTH },
        height,
        percent: true,
        ..ChartOptions::default()
    };
    caterpillar_svg(&ci_rows, national, &opts)
}

/// The services of `report` (exact) with their shown entries for a caterpillar plot.
pub fn service_rows<'r>(shown: &'r Report, kpi: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, &'r Entry)> {
    shown
        .services
        .iter()
        .filter(|s| keep(&s.code))
        .filter_map(|s| Some((label(&s.name, &s.code), s.kpis.entry(kpi)?)))
        .collect()
}

/// Funnel plot of every service's exact counts against the overall proportion, with the limits
/// widened for over-dispersion when the rule is additive. `highlight` marks services by code.
///
/// `short_labels` labels points by service code only (highlighted points are labelled on the plot).
/// With `disclosure`, the hover texts (HTML) show the published counts instead of the exact
/// ones; the points stay where the exact proportions put them, as the published funnel statuses
/// are decided on them.
pub fn funnel(
    exact: &Report,
    kpi: &str,
    title: &str,
    highlight: impl Fn(&str) -> bool,
    short_labels: bool,
    disclosure: Option<&Disclosure>,
) -> Option<String> {
    let theta = theta(exact, kpi)?;
    let points: Vec<FunnelPoint> = exact
        .services
        .iter()
        .filter_map(|s| {
            let e = s.kpis.entry(kpi)?;
            let Some(Number::Count(n)) = e.exact.denominator else { return None };
            Some(FunnelPoint {
                label: if short_labels { s.code.clone() } else { label(&s.name, &s.code) },
                numerator: e.exact.numerator,
                denominator: n,
                highlight: highlight(&s.code),
            })
        })
        .collect();
    let opts = ChartOptions {
        title: title.to_owned(),
        y_label: "Percent".into(),
        x_label: "Patients in the denominator".into(),
        width: WIDTH,
        height: 430,
        ..ChartOptions::default()
    };
    let mut svg = funnel_svg_adjusted(&points, theta, tau2(exact, kpi), &opts);
    if let Some(d) = disclosure {
        for p in &points {
            let from = format!("{}: {}/{} = ", escape(&p.label), p.numerator, p.denominator);
            let to = format!(
                "{}: {}/{} = ",
                escape(&p.label),
                fmt::shown_count(d.count(p.numerator)).replace(',', ""),
                fmt::shown_count(d.count(p.denominator)).replace(',', "")
            );
            svg = svg.replace(&from, &to);
        }
    }
    Some(svg)
}

/// `2024-01` labels of monthly points.
pub fn month_labels(points: &[MonthPoint]) -> Vec<String> {
    points.iter().map(|p| format!("{}-{:02}", p.from.year(), u8::from(p.from.month()))).collect()
}

/// An SPC chart (XmR, or a run chart under 12 months with data) of a monthly series, with the
/// green threshold as the target line when the KPI has one.
pub fn spc(points: &[MonthPoint], title: &str, target: Option<f64>) -> Option<(ServiceChart, String)> {
    let (_, chart) = chart_series(points, None, target).ok()?;
    let labels = month_labels(points);
    let opts = ChartOptions {
        title: title.to_owned(),
        y_label: "Percent".into(),
        x_label: "Month of fracture".into(),
        width: WIDTH,
        height: 330,
        percent: true,
        scale: 1.0,
        target,
    };
    let svg = match &chart {
        ServiceChart::Spc(c) => flsdb_charts::spc_svg(c, &labels, &opts),
        ServiceChart::Run(c) => flsdb_charts::run_chart_svg(c, &labels, &opts),
    };
    Some((chart, svg))
}
