//! Layout shared by the charts: canvas, title, plot frame, axes, legend, wrapped notes and the
//! "no data" chart.

use crate::svg::{Anchor, Axis, Font, Scale, Stroke, Svg, colour, fit_width, fixed, text_width};
use crate::{ChartOptions, NO_DATA};

pub(crate) const TITLE_SIZE: f64 = 15.0;
pub(crate) const TICK_SIZE: f64 = 11.0;
pub(crate) const LABEL_SIZE: f64 = 12.0;
pub(crate) const SMALL_SIZE: f64 = 11.0;
/// Outer padding of the canvas.
pub(crate) const PAD: f64 = 12.0;
/// Height of one legend or note line.
pub(crate) const LINE_HEIGHT: f64 = 16.0;

/// The plot area in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Frame {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// Pixel scale for a value axis drawn vertically (high values at the top).
    pub fn y_scale(&self, axis: &Axis) -> Scale {
        Scale { d0: axis.lo, d1: axis.hi, r0: self.y1, r1: self.y0 }
    }

    /// Pixel scale for a value axis drawn horizontally.
    pub fn x_scale(&self, axis: &Axis) -> Scale {
        Scale { d0: axis.lo, d1: axis.hi, r0: self.x0, r1: self.x1 }
    }
}

/// Canvas size with a floor, so tiny sizes degrade instead of producing negative plot areas.
pub(crate) fn canvas(opts: &ChartOptions) -> (f64, f64) {
    (f64::from(opts.width.max(240)), f64::from(opts.height.max(160)))
}

/// The smallest plot height; a canvas too short for it (with the title, axes, legend and notes)
/// is made taller rather than squeezing the plot.
pub(crate) const MIN_PLOT_HEIGHT: f64 = 120.0;

/// The canvas height: `height`, or taller when the plot would be shorter than
/// [`MIN_PLOT_HEIGHT`] between `top` and `bottom` (the space taken below the plot).
pub(crate) fn grown_height(height: f64, top: f64, bottom: f64) -> f64 {
    height.max((top + MIN_PLOT_HEIGHT + bottom).ceil())
}

/// Where the content below the title starts.
pub(crate) fn content_top(opts: &ChartOptions) -> f64 {
    if opts.title.trim().is_empty() { PAD } else { PAD + TITLE_SIZE + 12.0 }
}

/// The visible title (one line, shortened to fit; the `<title>` element keeps it whole).
pub(crate) fn draw_title(svg: &mut Svg, opts: &ChartOptions) {
    let title = opts.title.trim();
    if title.is_empty() {
        return;
    }
    // Bold glyphs are about 10% wider.
    let shown = fit_width(title, (svg.width - 2.0 * PAD) / 1.1, TITLE_SIZE);
    svg.text(PAD, PAD + TITLE_SIZE, &shown, Font::new(TITLE_SIZE, Anchor::Start).bold());
}

/// The accessible name: the title, or a description of the chart kind when there is none.
pub(crate) fn accessible_name(opts: &ChartOptions, kind: &str) -> String {
    let title = opts.title.trim();
    if title.is_empty() { kind.to_owned() } else { title.to_owned() }
}

/// A chart with its title and a framed "No data for this period" message.
pub(crate) fn no_data(opts: &ChartOptions, kind: &str) -> String {
    let (w, h) = canvas(opts);
    let mut svg = Svg::new(w, h, &accessible_name(opts, kind), &format!("{kind}: {NO_DATA}."));
    draw_title(&mut svg, opts);
    let top = content_top(opts);
    svg.rect(PAD, top, w - 2.0 * PAD, h - top - PAD, colour::WHITE, Some(Stroke::solid(colour::GRID, 1.0)));
    svg.text(w / 2.0, (top + h - PAD) / 2.0 + 5.0, NO_DATA, Font::new(14.0, Anchor::Middle).colour(colour::MID_GREY));
    svg.finish()
}

/// A tick label: the value with the axis's decimals, and a `%` sign for percentages.
pub(crate) fn tick_label(v: f64, axis: &Axis, percent: bool) -> String {
    let mut s = fixed(v, axis.decimals, false);
    if percent {
        s.push('%');
    }
    s
}

/// A value for hover texts and notes: one decimal more than the axis (at most three), with `%`
/// for percentages (always one decimal).
pub(crate) fn value_label(v: f64, axis: &Axis, percent: bool) -> String {
    if percent { format!("{}%", fixed(v, 1, false)) } else { fixed(v, (axis.decimals + 1).min(3), false) }
}

/// Width of the widest tick label of an axis.
pub(crate) fn ticks_width(axis: &Axis, percent: bool) -> f64 {
    axis.ticks().iter().map(|&t| text_width(&tick_label(t, axis, percent), TICK_SIZE)).fold(0.0, f64::max)
}

/// Left margin for a vertical value axis with the given tick labels and axis label.
pub(crate) fn left_margin(axis: &Axis, percent: bool, label: &str) -> f64 {
    let label_band = if label.trim().is_empty() { 0.0 } else { LABEL_SIZE + 8.0 };
    PAD + label_band + ticks_width(axis, percent) + 8.0
}

/// A vertical value axis: horizontal grid lines, tick labels, the axis line and its label.
pub(crate) fn y_axis(svg: &mut Svg, frame: &Frame, axis: &Axis, percent: bool, label: &str) {
    let scale = frame.y_scale(axis);
    for t in axis.ticks() {
        let y = scale.map(t);
        svg.line(frame.x0, y, frame.x1, y, Stroke::solid(colour::GRID, 1.0));
        svg.text(frame.x0 - 6.0, y + 4.0, &tick_label(t, axis, percent), Font::new(TICK_SIZE, Anchor::End));
    }
    svg.line(frame.x0, frame.y0, frame.x0, frame.y1, Stroke::solid(colour::AXIS, 1.0));
    let label = label.trim();
    if !label.is_empty() {
        let (x, y) = (PAD + LABEL_SIZE - 2.0, (frame.y0 + frame.y1) / 2.0);
        let shown = fit_width(label, frame.height(), LABEL_SIZE);
        svg.text_rotated(x, y, &shown, Font::new(LABEL_SIZE, Anchor::Middle), -90.0);
    }
}

/// A horizontal numeric axis at the bottom of the frame: ticks, labels, optional vertical grid
/// lines, the axis line and its label (centred below). Returns the y below the axis label.
pub(crate) fn x_axis(svg: &mut Svg, frame: &Frame, axis: &Axis, percent: bool, label: &str, grid: bool) -> f64 {
    let scale = frame.x_scale(axis);
    for t in axis.ticks() {
        let x = scale.map(t);
        if grid {
            svg.line(x, frame.y0, x, frame.y1, Stroke::solid(colour::GRID, 1.0));
        }
        svg.line(x, frame.y1, x, frame.y1 + 4.0, Stroke::solid(colour::AXIS, 1.0));
        svg.text(x, frame.y1 + 6.0 + TICK_SIZE, &tick_label(t, axis, percent), Font::new(TICK_SIZE, Anchor::Middle));
    }
    svg.line(frame.x0, frame.y1, frame.x1, frame.y1, Stroke::solid(colour::AXIS, 1.0));
    let mut y = frame.y1 + 6.0 + TICK_SIZE;
    let label = label.trim();
    if !label.is_empty() {
        y += LABEL_SIZE + 6.0;
        svg.text((frame.x0 + frame.x1) / 2.0, y, label, Font::new(LABEL_SIZE, Anchor::Middle));
    }
    y
}

/// Height taken below the frame by a numeric x axis (tick labels and axis label).
pub(crate) fn x_axis_height(label: &str) -> f64 {
    6.0 + TICK_SIZE + if label.trim().is_empty() { 0.0 } else { LABEL_SIZE + 6.0 }
}

/// What a legend entry shows before its text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// A dot (drawn as a rounded square, not a circle).
    Dot { fill: &'a str, stroke: Option<&'a str> },
    /// A line sample.
    Line(Stroke<'a>),
}

#[derive(Debug, Clone)]
pub(crate) struct LegendItem<'a> {
    pub key: Key<'a>,
    pub text: String,
}

impl<'a> LegendItem<'a> {
    pub fn dot(fill: &'a str, text: impl Into<String>) -> Self {
        Self { key: Key::Dot { fill, stroke: None }, text: text.into() }
    }

    pub fn ring(fill: &'a str, stroke: &'a str, text: impl Into<String>) -> Self {
        Self { key: Key::Dot { fill, stroke: Some(stroke) }, text: text.into() }
    }

    pub fn line(stroke: Stroke<'a>, text: impl Into<String>) -> Self {
        Self { key: Key::Line(stroke), text: text.into() }
    }

    fn width(&self) -> f64 {
        KEY_WIDTH + text_width(&self.text, SMALL_SIZE) + ITEM_GAP
    }
}

const KEY_WIDTH: f64 = 26.0;
const ITEM_GAP: f64 = 14.0;

/// Flows legend items into rows no wider than `max_width`.
pub(crate) fn legend_rows(items: &[LegendItem<'_>], max_width: f64) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0.0;
    for (i, item) in items.iter().enumerate() {
        let w = item.width();
        match rows.last_mut() {
            Some(row) if used + w - ITEM_GAP <= max_width => {
                row.push(i);
                used += w;
            }
            _ => {
                rows.push(vec![i]);
                used = w;
            }
        }
    }
    rows
}

/// Draws legend rows starting at (x, y) (y is the first row's centre line).
pub(crate) fn draw_legend(svg: &mut Svg, items: &[LegendItem<'_>], rows: &[Vec<usize>], x: f64, y: f64) {
    for (r, row) in rows.iter().enumerate() {
        let cy = y + r as f64 * LINE_HEIGHT;
        let mut cx = x;
        for &i in row {
            let item = &items[i];
            match item.key {
                Key::Dot { fill, stroke } => svg.swatch(cx + 10.0, cy, 4.5, fill, stroke),
                Key::Line(stroke) => svg.line(cx, cy, cx + 20.0, cy, stroke),
            }
            svg.text(cx + KEY_WIDTH, cy + 4.0, &item.text, Font::new(SMALL_SIZE, Anchor::Start));
            cx += item.width();
        }
    }
}

/// Greedy word wrap by estimated width.
pub(crate) fn wrap(text: &str, max_width: f64, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && text_width(&format!("{line} {word}"), size) > max_width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws note lines (already wrapped) from baseline y.
pub(crate) fn draw_notes(svg: &mut Svg, lines: &[String], x: f64, y: f64) {
    for (i, line) in lines.iter().enumerate() {
        svg.text(x, y + i as f64 * LINE_HEIGHT, line, Font::new(SMALL_SIZE, Anchor::Start).colour(colour::AXIS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_and_legend_flow() {
        let width = text_width("a bb ccc", 10.0);
        assert_eq!(wrap("a bb ccc dddd", width, 10.0), ["a bb ccc", "dddd"]);
        assert!(wrap("", 100.0, 11.0).is_empty());
        let items = vec![LegendItem::dot("#000000", "x".repeat(20)); 5];
        let rows = legend_rows(&items, 400.0);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 5);
        assert!(rows.len() >= 2);
    }
}
