//! The low-level pieces every chart shares: text escaping, number formatting, "nice" axes,
//! clipping, and a small SVG writer that only emits presentation attributes (no `style`
//! attributes, no `<style>` element, no ids), so the output passes a strict Content Security
//! Policy and can be inlined many times in one page.

use std::fmt::Write as _;

/// The font stack of every chart. DejaVu Sans is what the PDF renderer and most Linux servers
/// have; Arial is the usual fallback in browsers.
pub const FONT_FAMILY: &str = "DejaVu Sans, Arial, sans-serif";

/// NHS identity colours used across the charts.
pub(crate) mod colour {
    pub const TEXT: &str = "#231F20";
    pub const AXIS: &str = "#425563";
    pub const GRID: &str = "#E8EDEE";
    pub const MID_GREY: &str = "#768692";
    pub const BLUE: &str = "#005EB8";
    pub const WHITE: &str = "#FFFFFF";
    /// NHS red, amber and green (bands, funnel alarm / alert).
    pub const RED: &str = "#DA291C";
    pub const AMBER: &str = "#FFB81C";
    pub const GREEN: &str = "#009639";
    /// Making Data Count point colours.
    pub const MDC_COMMON: &str = "#7B7D7D";
    pub const MDC_IMPROVEMENT: &str = "#289DE0";
    pub const MDC_CONCERN: &str = "#FAB428";
    pub const MDC_NEUTRAL: &str = "#361475";
    pub const MDC_LINE: &str = "#A6A6A6";
    pub const MDC_TARGET: &str = "#DE1B1B";
}

/// Escapes text for use in SVG/XML character data and in attribute values: `&`, `<`, `>`, `"`
/// and `'`. Control characters that XML 1.0 forbids are dropped, so any label yields a well-formed
/// document.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length with at most two decimals and no trailing zeros. Non-finite values
/// (which the charts never produce on purpose) are written as `0`, so "NaN" and "inf" can never
/// reach the output; `-0` is written as `0`.
pub(crate) fn num(v: f64) -> String {
    fixed(v, 2, true)
}

/// `v` with exactly `decimals` decimals (or trimmed of trailing zeros when `trim`), never
/// "NaN"/"inf" and never "-0".
pub(crate) fn fixed(v: f64, decimals: usize, trim: bool) -> String {
    if !v.is_finite() {
        return "0".to_owned();
    }
    let mut s = format!("{v:.decimals$}");
    if trim && s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s.remove(0);
    }
    s
}

/// Estimated advance width of `text` in DejaVu Sans at `size` px, from the font's advance widths
/// (in em, rounded) by character class. Used for layout only: margins, legend flow, label
/// thinning and truncation; a fallback font of similar width changes nothing important.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(char_em).sum::<f64>() * size
}

fn char_em(c: char) -> f64 {
    match c {
        ' ' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' => 0.32,
        'i' | 'j' | 'l' | 'I' | 'J' => 0.28,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 0.39,
        's' | 'z' | 'c' => 0.54,
        'm' => 0.97,
        'w' => 0.82,
        'M' => 0.86,
        'W' => 0.99,
        '%' | '\u{2014}' => 0.95,
        '0'..='9' => 0.64,
        'A'..='Z' => 0.72,
        c if c.is_ascii() => 0.62,
        _ => 0.7,
    }
}

/// Shortens `text` to at most `max_chars` characters, ending in "…" when cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Shortens `text` with "…" so its estimated width is at most `max_width` at `size` px.
pub(crate) fn fit_width(text: &str, max_width: f64, size: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_owned();
    }
    let budget = max_width - text_width("…", size);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        used += char_em(c) * size;
        if used > budget {
            break;
        }
        out.push(c);
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Tick labels never get more decimals than this.
const MAX_DECIMALS: usize = 6;

/// A linear axis over [lo, hi] with ticks at multiples of `step` (1, 2 or 5 × 10^k).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub step: f64,
    /// Decimals needed to print a tick.
    pub decimals: usize,
}

impl Axis {
    /// A nice axis covering [min, max] with about `target` intervals. A zero-width range is
    /// widened; non-finite input gives [0, 1].
    pub fn nice(min: f64, max: f64, target: usize) -> Self {
        let (mut min, mut max) = if min.is_finite() && max.is_finite() { (min, max) } else { (0.0, 1.0) };
        if min > max {
            std::mem::swap(&mut min, &mut max);
        }
        if max - min < 1e-12 {
            let pad = if min.abs() < 1e-12 { 1.0 } else { min.abs() * 0.1 };
            min -= pad;
            max += pad;
        }
        // Divide before subtracting so a range near f64::MAX does not overflow.
        let target = target.max(1) as f64;
        let step = nice_step(max / target - min / target);
        let lo = (min / step + 1e-9).floor() * step;
        let hi = (max / step - 1e-9).ceil() * step;
        Self::with_step(lo, hi, step)
    }

    fn with_step(lo: f64, hi: f64, step: f64) -> Self {
        let decimals =
            if step >= 1.0 { 0 } else { (-(step.log10() + 1e-9).floor()).clamp(0.0, MAX_DECIMALS as f64) as usize };
        Self { lo, hi: if hi > lo { hi } else { lo + step }, step, decimals }
    }

    /// Keeps the axis inside [floor, ceil] (0–100 for percentages). The bounds are multiples of
    /// every nice step up to 100, so the ticks stay aligned.
    pub fn clamp(self, floor: f64, ceil: f64) -> Self {
        let lo = self.lo.max(floor);
        let hi = self.hi.min(ceil);
        if hi > lo { Self::with_step(lo, hi, self.step) } else { self }
    }

    /// Forces a minimum step (1 for counts).
    pub fn min_step(self, step: f64) -> Self {
        if self.step >= step {
            return self;
        }
        let lo = (self.lo / step).floor() * step;
        let hi = (self.hi / step).ceil() * step;
        Self::with_step(lo, hi, step)
    }

    /// Tick values, computed as integer multiples of the step so they print exactly. Degenerate
    /// axes (possible only with absurd input) fall back to their two ends.
    pub fn ticks(&self) -> Vec<f64> {
        let first = (self.lo / self.step - 1e-9).ceil();
        let last = (self.hi / self.step + 1e-9).floor();
        if !(first.is_finite() && last.is_finite()) || last < first || last - first > 100.0 {
            return vec![self.lo, self.hi];
        }
        (first as i64..=last as i64).map(|i| i as f64 * self.step).collect()
    }

    pub fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }
}

/// The smallest of 1, 2, 5, 10 × 10^k that is at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let r = raw / mag;
    let m = if r <= 1.0 + 1e-9 {
        1.0
    } else if r <= 2.0 + 1e-9 {
        2.0
    } else if r <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// A linear map from a data range to a pixel range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Scale {
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 { (self.r0 + self.r1) / 2.0 } else { self.r0 + (v - self.d0) / span * (self.r1 - self.r0) }
    }
}

/// Splits a polyline (data coordinates) into the runs that lie within lo ≤ y ≤ hi, cutting
/// segments where they cross a bound. Used instead of an SVG `clipPath`, which would need an id.
pub(crate) fn clip_y(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let inside = |p: (f64, f64)| p.1 >= lo && p.1 <= hi;
    if points.len() == 1 && inside(points[0]) {
        return vec![points.to_vec()];
    }
    let mut open = false;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let Some((p, q)) = clip_segment(a, b, lo, hi) else {
            open = false;
            continue;
        };
        match runs.last_mut() {
            Some(run) if open && run.last() == Some(&p) => run.push(q),
            _ => runs.push(vec![p, q]),
        }
        // The run continues only if the segment was not cut at its end.
        open = q == b;
    }
    // A segment that only touches a bound leaves a zero-length run: drop it.
    runs.retain(|run| run.iter().any(|p| *p != run[0]));
    runs
}

/// The part of segment a–b within lo ≤ y ≤ hi (Liang–Barsky in y only).
fn clip_segment(a: (f64, f64), b: (f64, f64), lo: f64, hi: f64) -> Option<((f64, f64), (f64, f64))> {
    let dy = b.1 - a.1;
    if dy == 0.0 {
        return (a.1 >= lo && a.1 <= hi).then_some((a, b));
    }
    let t_lo = (lo - a.1) / dy;
    let t_hi = (hi - a.1) / dy;
    let (t_enter, t_exit) = if t_lo < t_hi { (t_lo, t_hi) } else { (t_hi, t_lo) };
    let t0 = t_enter.max(0.0);
    let t1 = t_exit.min(1.0);
    if t0 > t1 || (t0 == t1 && t0 > 0.0 && t0 < 1.0) {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            let y = if (a.1 + t * dy - lo).abs() < (a.1 + t * dy - hi).abs() { lo } else { hi };
            (a.0 + t * (b.0 - a.0), y)
        }
    };
    Some((at(t0), at(t1)))
}

/// Text anchor of an SVG `<text>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn word(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Middle => "middle",
            Self::End => "end",
        }
    }
}

/// Stroke of a line or path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stroke<'a> {
    pub colour: &'a str,
    pub width: f64,
    /// `stroke-dasharray`, e.g. "6 4".
    pub dash: Option<&'a str>,
}

impl<'a> Stroke<'a> {
    pub fn solid(colour: &'a str, width: f64) -> Self {
        Self { colour, width, dash: None }
    }

    pub fn dashed(colour: &'a str, width: f64, dash: &'a str) -> Self {
        Self { colour, width, dash: Some(dash) }
    }

    fn attrs(&self) -> String {
        let mut s = format!(r#" fill="none" stroke="{}" stroke-width="{}""#, self.colour, num(self.width));
        if let Some(d) = self.dash {
            let _ = write!(s, r#" stroke-dasharray="{d}""#);
        }
        s
    }
}

/// Font settings of a `<text>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Font<'a> {
    pub size: f64,
    pub colour: &'a str,
    pub anchor: Anchor,
    pub bold: bool,
    pub halo: bool,
}

impl<'a> Font<'a> {
    pub fn new(size: f64, anchor: Anchor) -> Self {
        Self { size, colour: colour::TEXT, anchor, bold: false, halo: false }
    }

    pub fn bold(self) -> Self {
        Self { bold: true, ..self }
    }

    pub fn colour(self, colour: &'a str) -> Self {
        Self { colour, ..self }
    }

    /// A white outline behind the glyphs, so the text stays legible over lines and points.
    pub fn halo(self) -> Self {
        Self { halo: true, ..self }
    }
}

/// Builds one SVG document as a string.
pub(crate) struct Svg {
    out: String,
    pub width: f64,
}

impl Svg {
    /// Opens the document: root element with namespace, size, viewBox, `role="img"`, the font
    /// family, then `<title>` and `<desc>` (the accessible name and description), then a white
    /// background.
    pub fn new(width: f64, height: f64, title: &str, desc: &str) -> Self {
        let (w, h) = (num(width), num(height));
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" font-family="{FONT_FAMILY}">"#
        );
        out.push('\n');
        let _ = writeln!(out, "<title>{}</title>", escape(title));
        let _ = writeln!(out, "<desc>{}</desc>", escape(desc));
        let _ = writeln!(out, r#"<rect x="0" y="0" width="{w}" height="{h}" fill="{}"/>"#, colour::WHITE);
        Self { out, width }
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: Stroke<'_>) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}"{}/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            stroke.attrs()
        );
    }

    /// One `<path>` made of several polylines (pixel coordinates); empty runs are skipped and
    /// nothing is written when all are empty.
    pub fn path(&mut self, runs: &[Vec<(f64, f64)>], stroke: Stroke<'_>) {
        let mut d = String::new();
        for run in runs.iter().filter(|r| !r.is_empty()) {
            for (i, (x, y)) in run.iter().enumerate() {
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push(if i == 0 { 'M' } else { 'L' });
                d.push_str(&num(*x));
                d.push(' ');
                d.push_str(&num(*y));
            }
        }
        if !d.is_empty() {
            let _ = writeln!(self.out, r#"<path d="{d}"{} stroke-linejoin="round"/>"#, stroke.attrs());
        }
    }

    /// A data point: a circle with a hover text (`<title>` child).
    pub fn point(&mut self, cx: f64, cy: f64, r: f64, fill: &str, stroke: Option<Stroke<'_>>, hover: &str) {
        let stroke =
            stroke.map_or_else(String::new, |s| format!(r#" stroke="{}" stroke-width="{}""#, s.colour, num(s.width)));
        let _ = writeln!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{fill}"{stroke}><title>{}</title></circle>"#,
            num(cx),
            num(cy),
            num(r),
            escape(hover)
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: Option<Stroke<'_>>) {
        let stroke =
            stroke.map_or_else(String::new, |s| format!(r#" stroke="{}" stroke-width="{}""#, s.colour, num(s.width)));
        let _ = writeln!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"{stroke}/>"#,
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
    }

    /// A round legend swatch (a rounded square, so circles stay one per data point).
    pub fn swatch(&mut self, cx: f64, cy: f64, r: f64, fill: &str, stroke: Option<&str>) {
        let stroke = stroke.map_or_else(String::new, |s| format!(r#" stroke="{s}" stroke-width="1.5""#));
        let _ = writeln!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="{fill}"{stroke}/>"#,
            num(cx - r),
            num(cy - r),
            num(2.0 * r),
            num(2.0 * r),
            num(r)
        );
    }

    pub fn text(&mut self, x: f64, y: f64, content: &str, font: Font<'_>) {
        self.text_rotated(x, y, content, font, 0.0);
    }

    /// Text rotated by `angle` degrees about its anchor point.
    pub fn text_rotated(&mut self, x: f64, y: f64, content: &str, font: Font<'_>, angle: f64) {
        let (xs, ys) = (num(x), num(y));
        let mut attrs = format!(r#"x="{xs}" y="{ys}" font-size="{}" fill="{}""#, num(font.size), font.colour);
        if font.anchor != Anchor::Start {
            let _ = write!(attrs, r#" text-anchor="{}""#, font.anchor.word());
        }
        if font.bold {
            attrs.push_str(r#" font-weight="bold""#);
        }
        if font.halo {
            let _ = write!(
                attrs,
                r#" stroke="{}" stroke-width="3" stroke-linejoin="round" paint-order="stroke""#,
                colour::WHITE
            );
        }
        if angle != 0.0 {
            let _ = write!(attrs, r#" transform="rotate({} {xs} {ys})""#, num(angle));
        }
        let _ = writeln!(self.out, "<text {attrs}>{}</text>", escape(content));
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"A&B <x> "q" 'a'"#), "A&amp;B &lt;x&gt; &quot;q&quot; &apos;a&apos;");
        assert_eq!(escape("bell\u{7}tab\t"), "belltab\t");
    }

    #[test]
    fn numbers_are_fixed_and_finite() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.005), "1"); // 1.005 is 1.00499… in binary
        assert_eq!(num(12.345_67), "12.35");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(fixed(2.5, 1, false), "2.5");
        assert_eq!(fixed(-0.04, 1, false), "0.0");
        assert_eq!(fixed(40.0, 0, false), "40");
    }

    #[test]
    fn nice_axes() {
        let a = Axis::nice(3.2, 97.0, 5);
        assert_eq!((a.lo, a.hi, a.step, a.decimals), (0.0, 100.0, 20.0, 0));
        assert_eq!(a.ticks(), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let a = Axis::nice(0.3, 0.7, 4);
        assert_eq!((a.step, a.decimals), (0.1, 1));
        assert_eq!(a.ticks().len(), 5);
        assert!((a.lo - 0.3).abs() < 1e-12 && (a.hi - 0.7).abs() < 1e-12);
        let a = Axis::nice(-6.6, 13.8, 5);
        assert_eq!((a.lo, a.hi, a.step), (-10.0, 15.0, 5.0));
        let a = Axis::nice(5.0, 5.0, 5);
        assert!(a.lo < 5.0 && a.hi > 5.0);
        let a = Axis::nice(f64::NAN, 1.0, 5);
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
        let a = Axis::nice(-12.0, 130.0, 5).clamp(0.0, 100.0);
        assert_eq!((a.lo, a.hi), (0.0, 100.0));
        assert_eq!(Axis::nice(0.0, 3.0, 8).min_step(1.0).step, 1.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(150.0), 200.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn clipping_splits_runs() {
        let pts = [(0.0, 0.0), (1.0, 2.0), (2.0, 0.0), (3.0, 0.5)];
        let runs = clip_y(&pts, -1.0, 1.0);
        assert_eq!(runs, vec![vec![(0.0, 0.0), (0.5, 1.0)], vec![(1.5, 1.0), (2.0, 0.0), (3.0, 0.5)]]);
        assert!(clip_y(&[(0.0, 5.0), (1.0, 6.0)], 0.0, 1.0).is_empty());
        assert_eq!(clip_y(&[(0.0, 0.5)], 0.0, 1.0), vec![vec![(0.0, 0.5)]]);
        // Touching a bound at a single point yields nothing degenerate.
        assert!(clip_y(&[(0.0, 2.0), (1.0, 1.0), (2.0, 2.0)], 0.0, 1.0).is_empty());
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("Short", 10), "Short");
        assert_eq!(truncate("A very long service name", 10), "A very lo…");
        assert_eq!(fit_width("Short", 100.0, 10.0), "Short");
        let cut = fit_width("A very long service name", 60.0, 10.0);
        assert!(cut.ends_with('…') && text_width(&cut, 10.0) <= 60.0, "{cut}");
    }
}
