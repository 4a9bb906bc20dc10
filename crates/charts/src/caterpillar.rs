//! Caterpillar plot: one row per service, its value with a 95% confidence interval, coloured by
//! band, and the national value as a vertical line.

use crate::ChartOptions;
use crate::frame::{self, Frame, LINE_HEIGHT, LegendItem, PAD, SMALL_SIZE, draw_legend, legend_rows};
use crate::svg::{Anchor, Axis, Font, Stroke, Svg, colour, fit_width, text_width};

/// One service (row) of a caterpillar plot. Values are on the value axis's units before
/// `ChartOptions::scale` (KPI percentages: 0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct CiRow<'a> {
    pub label: String,
    /// `None` (no value, or suppressed) draws "no value" in the row.
    pub percent: Option<f64>,
    /// 95% confidence interval; the whisker is drawn when both ends are given.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// "red", "amber" or "green" (case-insensitive); anything else is drawn grey.
    pub band: Option<&'a str>,
}

/// Minimum height of a row; the chart grows taller than `opts.height` rather than squeeze rows.
const MIN_ROW: f64 = 14.0;
const ZEBRA: &str = "#F0F4F5";

fn band_colour(band: Option<&str>) -> (&'static str, &'static str) {
    match band.map(|b| b.trim().to_ascii_lowercase()).as_deref() {
        Some("red") => (colour::RED, "Red"),
        Some("amber") => (colour::AMBER, "Amber"),
        Some("green") => (colour::GREEN, "Green"),
        _ => (colour::MID_GREY, "No band"),
    }
}

/// A caterpillar plot of services in the order given (the caller sorts, e.g. by value): each row
/// a dot (a circle with a hover text) coloured by band (NHS red #DA291C, amber #FFB81C, green
/// #009639; grey without a band) with its confidence interval as a whisker, and `national` as a
/// dashed vertical line. Labels too long for the label column are shortened with "…" (the hover
/// text keeps them whole). When the rows do not fit in `opts.height` at 14 px each, the chart is
/// made taller.
pub fn caterpillar_svg(rows: &[CiRow<'_>], national: Option<f64>, opts: &ChartOptions) -> String {
    let kind = "Caterpillar plot";
    let value = |v: Option<f64>| v.and_then(|v| opts.scaled(v));
    if rows.iter().all(|r| value(r.percent).is_none()) {
        return frame::no_data(opts, kind);
    }
    let national = value(national);
    let all = rows.iter().flat_map(|r| [value(r.percent), value(r.lower), value(r.upper)]).flatten().chain(national);
    let (min, max) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let mut axis = Axis::nice(min, max, 5);
    if opts.percent && min >= 0.0 && max <= 100.0 {
        axis = axis.clamp(0.0, 100.0);
    }
    let show = |v: f64| frame::value_label(v, &axis, opts.percent);

    let (w, h0) = frame::canvas(opts);
    let inner_w = w - 2.0 * PAD;
    let mut legend: Vec<LegendItem<'_>> = Vec::new();
    for band in ["red", "amber", "green", ""] {
        let (fill, name) = band_colour(Some(band));
        let used = rows.iter().any(|r| value(r.percent).is_some() && band_colour(r.band).1 == name);
        if used {
            legend.push(LegendItem::dot(fill, name));
        }
    }
    legend.push(LegendItem::line(whisker_stroke(), "95% confidence interval"));
    if let Some(n) = national {
        legend.push(LegendItem::line(national_stroke(), format!("National {}", show(n))));
    }
    let legend_rows = legend_rows(&legend, inner_w);

    // Label column: as wide as the longest label, at most 35% of the width.
    let tick_size = frame::TICK_SIZE;
    let max_label_w = (w * 0.35).max(60.0);
    let labels: Vec<String> = rows.iter().map(|r| fit_width(r.label.trim(), max_label_w, tick_size)).collect();
    let label_w = labels.iter().map(|l| text_width(l, tick_size)).fold(0.0, f64::max).min(max_label_w);
    let x0 = PAD + label_w + 10.0;
    let x1 = w - PAD - 14.0;

    let top = frame::content_top(opts) + if national.is_some() { LINE_HEIGHT } else { 4.0 };
    let bottom = frame::x_axis_height(&opts.y_label) + 10.0 + legend_rows.len() as f64 * LINE_HEIGHT + PAD;
    let needed = top + bottom + rows.len() as f64 * MIN_ROW;
    let h = h0.max(needed.ceil());
    let f = Frame { x0, x1, y0: top, y1: h - bottom };
    let row_h = f.height() / rows.len() as f64;
    let xs = f.x_scale(&axis);

    let counts: Vec<String> = ["red", "amber", "green"]
        .iter()
        .map(|b| {
            let n =
                rows.iter().filter(|r| value(r.percent).is_some() && band_colour(r.band).1 == band_colour(Some(b)).1);
            format!("{} {b}", n.count())
        })
        .collect();
    let mut desc = format!("{kind} of {} services with 95% confidence intervals", rows.len());
    if let Some(n) = national {
        desc.push_str(&format!("; national {}", show(n)));
    }
    desc.push_str(&format!(". {}.", counts.join(", ")));
    let missing = rows.iter().filter(|r| value(r.percent).is_none()).count();
    if missing > 0 {
        desc.push_str(&format!(" {missing} without a value."));
    }

    let mut svg = Svg::new(w, h, &frame::accessible_name(opts, kind), &desc);
    frame::draw_title(&mut svg, opts);
    for i in (0..rows.len()).filter(|i| i % 2 == 1) {
        svg.rect(f.x0, f.y0 + i as f64 * row_h, f.width(), row_h, ZEBRA, None);
    }
    let y_end = frame::x_axis(&mut svg, &f, &axis, opts.percent, &opts.y_label, true);
    svg.line(f.x0, f.y0, f.x0, f.y1, Stroke::solid(colour::AXIS, 1.0));

    if let Some(n) = national.filter(|n| axis.contains(*n)) {
        let x = xs.map(n);
        svg.line(x, f.y0 - 4.0, x, f.y1, national_stroke());
        let text = format!("National {}", show(n));
        let half = text_width(&text, SMALL_SIZE) / 2.0;
        let tx = x.clamp(PAD + half, w - PAD - half);
        svg.text(tx, f.y0 - 7.0, &text, Font::new(SMALL_SIZE, Anchor::Middle).colour(colour::BLUE));
    }

    let font = (row_h * 0.75).clamp(8.0, tick_size);
    let radius = (row_h * 0.32).clamp(2.5, 5.0);
    let cap = (row_h * 0.25).clamp(2.0, 5.0);
    for (i, (row, label)) in rows.iter().zip(&labels).enumerate() {
        let cy = f.y0 + (i as f64 + 0.5) * row_h;
        svg.text(f.x0 - 8.0, cy + font * 0.35, label, Font::new(font, Anchor::End));
        let Some(v) = value(row.percent) else {
            svg.text(f.x0 + 6.0, cy + font * 0.35, "no value", Font::new(font, Anchor::Start).colour(colour::MID_GREY));
            continue;
        };
        let (lo, hi) = (value(row.lower), value(row.upper));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let (a, b) = (xs.map(lo.max(axis.lo)), xs.map(hi.min(axis.hi)));
            svg.line(a, cy, b, cy, whisker_stroke());
            svg.line(a, cy - cap, a, cy + cap, whisker_stroke());
            svg.line(b, cy - cap, b, cy + cap, whisker_stroke());
        }
        let (fill, band) = band_colour(row.band);
        let mut hover = format!("{}: {}", row.label.trim(), show(v));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            hover.push_str(&format!(" (95% CI {} to {})", show(lo), show(hi)));
        }
        if row.band.is_some() {
            hover.push_str(&format!(", {}", band.to_lowercase()));
        }
        svg.point(xs.map(v), cy, radius, fill, Some(Stroke::solid(colour::TEXT, 0.8)), &hover);
    }

    draw_legend(&mut svg, &legend, &legend_rows, PAD, y_end + 10.0 + LINE_HEIGHT / 2.0);
    svg.finish()
}

fn whisker_stroke() -> Stroke<'static> {
    Stroke::solid(colour::AXIS, 1.2)
}

fn national_stroke() -> Stroke<'static> {
    Stroke::dashed(colour::BLUE, 1.5, "5 3")
}
