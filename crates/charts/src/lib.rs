//! Deterministic SVG charts for flsdb, shared by the web app (inline SVG) and the PDF reports
//! (embedded figure): one implementation, no second copy anywhere.
//!
//! * [`spc_svg`]: XmR chart or p-chart in the NHS "Making Data Count" style;
//! * [`run_chart_svg`]: run chart around the median;
//! * [`funnel_svg`] / [`funnel_svg_adjusted`]: funnel plot of services with exact 95% and 99.8%
//!   limits (and optionally the limits adjusted for over-dispersion);
//! * [`caterpillar_svg`]: services with 95% confidence intervals, coloured by band.
//!
//! Every chart is a standalone SVG 1.1 document (namespace, `viewBox`, `width`/`height`,
//! `role="img"`, `<title>` and `<desc>`) with no external references, scripts, `<style>`
//! elements, `style` attributes or ids: only presentation attributes, so it can be inlined under a
//! strict Content Security Policy and several times in one page. Data points are `<circle>`
//! elements, each with a `<title>` hover text; legend swatches are rounded `<rect>`s, so a chart
//! has exactly one circle per plotted point. Numbers are written with at most two decimals, so the
//! same input gives the same bytes; "NaN" and "inf" are never written. A chart without data shows
//! "No data for this period" instead of failing.
//!
//! The statistics come from `flsdb-stats` (limits, special causes, funnel statuses); this crate
//! only draws them.

mod caterpillar;
mod frame;
mod funnel;
mod spc;
mod svg;

pub use caterpillar::{CiRow, caterpillar_svg};
pub use funnel::{FunnelPoint, funnel_svg, funnel_svg_adjusted};
pub use spc::{run_chart_svg, spc_svg};
pub use svg::{FONT_FAMILY, escape};

/// The message drawn when a chart has nothing to plot.
pub const NO_DATA: &str = "No data for this period";

/// Options shared by every chart.
///
/// Values on the value axis (SPC values, limits and target; caterpillar percentages and the
/// national value) are multiplied by `scale` before drawing. With `percent`, the scaled values are
/// read as percentages (0–100): ticks and hover texts get a `%` sign and the axis stays within
/// 0–100. So an XmR chart of KPI percentages uses `percent: true, scale: 1.0`, and a p-chart (whose
/// values are proportions) uses `percent: true, scale: 100.0`. The funnel plot always shows k/n as
/// a percentage and ignores `percent`, `scale` and `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Drawn at the top and used as the accessible name (`<title>`). May be empty.
    pub title: String,
    /// Label of the value axis (y for SPC and funnel, x for the caterpillar plot).
    pub y_label: String,
    /// Label of the other axis (e.g. "Month", "Patients in the denominator"); empty for none.
    pub x_label: String,
    /// Size in px (also the `viewBox`); at least 240 × 160. A chart grows taller than `height`
    /// rather than squeeze its plot below 120 px (after title, axes, legend and notes) or, for
    /// the caterpillar plot, its rows below 14 px each.
    pub width: u32,
    pub height: u32,
    pub percent: bool,
    /// Multiplier applied to values on the value axis (100 turns proportions into percentages).
    pub scale: f64,
    /// Target line (SPC and run charts), in the units of the values before `scale`. Pass the same
    /// target as `SpcOptions::target`, which decides the assurance text.
    pub target: Option<f64>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            title: String::new(),
            y_label: String::new(),
            x_label: String::new(),
            width: 720,
            height: 400,
            percent: false,
            scale: 1.0,
            target: None,
        }
    }
}

impl ChartOptions {
    /// Options with a title and a value-axis label, other fields at their defaults.
    pub fn new(title: impl Into<String>, y_label: impl Into<String>) -> Self {
        Self { title: title.into(), y_label: y_label.into(), ..Self::default() }
    }

    /// The scale factor, treating a non-finite or zero value as 1.
    fn factor(&self) -> f64 {
        if self.scale.is_finite() && self.scale != 0.0 { self.scale } else { 1.0 }
    }

    /// A scaled value on the value axis, `None` when not finite.
    fn scaled(&self, v: f64) -> Option<f64> {
        let s = v * self.factor();
        s.is_finite().then_some(s)
    }
}
