//! The human terminal table of a report: the national (overall) row first, percentages rounded
//! half away from zero to one decimal, bands optionally coloured with ANSI escapes.

use crate::definition::Band;
use crate::report::*;
use flsdb_dataset::values::format_date;
use flsdb_stats::FunnelStatus;
use std::fmt::Write;

/// How to draw the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Colour bands with ANSI escapes (red, yellow for amber, green).
    pub color: bool,
    /// The levels to show, in the table's fixed order (overall, nations, regions,
    /// commissioners, services).
    pub levels: Vec<Level>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            color: false,
            levels: vec![Level::Overall, Level::Nation, Level::Region, Level::Commissioner, Level::Service],
        }
    }
}

/// The JSON spelling of a funnel status.
pub(crate) fn status_str(s: FunnelStatus) -> &'static str {
    match s {
        FunnelStatus::AlarmLow => "alarm_low",
        FunnelStatus::AlertLow => "alert_low",
        FunnelStatus::Within => "within",
        FunnelStatus::AlertHigh => "alert_high",
        FunnelStatus::AlarmHigh => "alarm_high",
        FunnelStatus::TooFew => "too_few",
    }
}

/// `100·k/n` rounded half away from zero to one decimal, computed exactly on the fraction.
pub fn format_percent_exact(k: u64, n: u64) -> Option<String> {
    if n == 0 {
        return None;
    }
    // floor(1000·k/n + 1/2) = floor((2000·k + n) / 2n), in tenths of a percent.
    let tenths = (2000 * u128::from(k) + u128::from(n)) / (2 * u128::from(n));
    Some(format!("{}.{}", tenths / 10, tenths % 10))
}

/// A percentage rounded half away from zero to one decimal.
pub fn format_percent(p: f64) -> String {
    format!("{:.1}", (p * 10.0).round() / 10.0)
}

impl Entry {
    /// The percentage as displayed: one decimal, `*` when suppressed, `-` when undefined.
    pub fn display_percent(&self) -> String {
        match (&self.percent, self.exact.denominator) {
            (None, _) => "-".to_owned(),
            (Some(Shown::Suppressed), _) => "*".to_owned(),
            (Some(Shown::Value(p)), Some(Number::Count(n))) => {
                format_percent_exact(self.exact.numerator, n).unwrap_or_else(|| format_percent(*p))
            }
            (Some(Shown::Value(p)), _) => format_percent(*p),
        }
    }

    pub fn band_value(&self) -> Option<Band> {
        self.band.as_ref().and_then(|b| b.value().copied())
    }
}

struct Cell {
    text: String,
    band: Option<Band>,
    right: bool,
}

impl Cell {
    fn left(text: impl Into<String>) -> Self {
        Cell { text: text.into(), band: None, right: false }
    }

    fn right(text: impl Into<String>, band: Option<Band>) -> Self {
        Cell { text: text.into(), band, right: true }
    }
}

fn paint(text: &str, band: Option<Band>, color: bool) -> String {
    match band.filter(|_| color) {
        Some(Band::Red) => format!("\x1b[31m{text}\x1b[0m"),
        Some(Band::Amber) => format!("\x1b[33m{text}\x1b[0m"),
        Some(Band::Green) => format!("\x1b[32m{text}\x1b[0m"),
        None => text.to_owned(),
    }
}

fn render(out: &mut String, header: &[String], rows: &[Vec<Cell>], color: bool) {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(&c.text));
        }
    }
    let line = |out: &mut String, cells: Vec<(String, Option<Band>, bool)>| {
        let mut text = String::new();
        for (i, ((t, band, right), w)) in cells.into_iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(w - width(&t));
            let painted = paint(&t, band, color);
            if right {
                text.push_str(&pad);
                text.push_str(&painted);
            } else {
                text.push_str(&painted);
                text.push_str(&pad);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(out, header.iter().enumerate().map(|(i, h)| (h.clone(), None, i >= 3)).collect());
    for row in rows {
        line(out, row.iter().map(|c| (c.text.clone(), c.band, c.right)).collect());
    }
}

fn kpi_cell(value: Option<&KpiValue>) -> Cell {
    match value {
        Some(KpiValue::Proportion(e)) => Cell::right(e.display_percent(), e.band_value()),
        Some(KpiValue::Completeness(c)) => match c.good {
            Some(true) => Cell::right("good", Some(Band::Green)),
            Some(false) => Cell::right("poor", Some(Band::Red)),
            None => Cell::right("-", None),
        },
        _ => Cell::right("-", None),
    }
}

fn count(shown: &Shown<u64>) -> String {
    match shown {
        Shown::Value(n) => n.to_string(),
        Shown::Suppressed => "*".to_owned(),
    }
}

/// The report as a terminal table, with a header stating set, mode, period and as-of date, the
/// KPI names, and the overall not-yet-due and died counts.
pub fn to_table(report: &Report, options: &TableOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "KPI set {} ({}), denominator mode {}, period {}, as of {}",
        report.kpi_set,
        report.kpi_set_version,
        report.denominator_mode,
        report.period,
        format_date(report.as_of)
    );
    let _ =
        writeln!(out, "Records: {}; excluded (opt-out): {}", count(&report.overall.records), report.excluded_opt_out);
    if !report.unregistered.is_empty() {
        let total: u64 = report.unregistered.iter().map(|(_, n)| n).sum();
        let codes: Vec<&str> = report.unregistered.iter().map(|(c, _)| c.as_str()).collect();
        let _ = writeln!(out, "Ignored: {total} records of services not in the registry ({})", codes.join(", "));
    }
    if report.published {
        let _ = writeln!(out, "Published figures: small numbers suppressed (*) and counts rounded below nation level");
    }
    out.push('\n');

    let rows: Vec<Row<'_>> = report.rows().into_iter().filter(|r| options.levels.contains(&r.level)).collect();
    let main: Vec<&KpiColumn> =
        report.columns.iter().filter(|c| !matches!(c.kind, ColumnKind::Inputs { .. })).collect();
    let mut header: Vec<String> = LEADING_COLUMNS.map(str::to_owned).to_vec();
    header.extend(main.iter().map(|c| c.id.clone()));
    let body: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let mut cells = leading_cells(r);
            cells.extend(main.iter().map(|c| kpi_cell(r.kpis.get(&c.id))));
            cells
        })
        .collect();
    render(&mut out, &header, &body, options.color);

    for column in &report.columns {
        let ColumnKind::Inputs { of } = &column.kind else { continue };
        let _ = writeln!(
            out,
            "\n{}: {} (% of each KPI's denominator records with all input fields)",
            column.id, column.name
        );
        let mut header: Vec<String> = LEADING_COLUMNS.map(str::to_owned).to_vec();
        header.extend(of.iter().cloned());
        let body: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                let mut cells = leading_cells(r);
                let entries = match r.kpis.get(&column.id) {
                    Some(KpiValue::Inputs(e)) => e.as_slice(),
                    _ => &[],
                };
                cells.extend(of.iter().map(|k| {
                    let text = match entries.iter().find(|e| &e.kpi == k) {
                        Some(InputEntry { percent: Some(Shown::Suppressed), .. }) => "*".to_owned(),
                        Some(InputEntry { percent: Some(Shown::Value(_)), exact, .. }) => match exact.denominator {
                            Some(Number::Count(n)) => format_percent_exact(exact.numerator, n).unwrap_or_default(),
                            _ => "-".to_owned(),
                        },
                        _ => "-".to_owned(),
                    };
                    Cell::right(text, None)
                }));
                cells
            })
            .collect();
        render(&mut out, &header, &body, options.color);
    }

    out.push('\n');
    for c in &report.columns {
        let mut note = format!("{:<6} {}", c.id, c.name);
        if let Some(e) = report.overall.kpis.entry(&c.id) {
            let (due, died) = (count(&e.not_due), count(&e.died));
            if e.not_due != Shown::Value(0) || e.died != Shown::Value(0) {
                let _ = write!(note, " (overall: not yet due {due}, died {died})");
            }
        }
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// The columns every table starts with, before its KPI columns.
const LEADING_COLUMNS: [&str; 4] = ["level", "code", "name", "records"];

fn leading_cells(r: &Row<'_>) -> Vec<Cell> {
    vec![
        Cell::left(r.level.as_str()),
        Cell::left(r.code.unwrap_or_default()),
        Cell::left(r.name),
        Cell::right(count(&r.records), None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_half_away_from_zero() {
        assert_eq!(format_percent_exact(1, 16).as_deref(), Some("6.3"), "6.25 rounds up");
        assert_eq!(format_percent_exact(7, 2000).as_deref(), Some("0.4"), "0.35 rounds up");
        assert_eq!(format_percent_exact(19_999, 25_000).as_deref(), Some("80.0"));
        assert_eq!(format_percent_exact(0, 3).as_deref(), Some("0.0"));
        assert_eq!(format_percent_exact(3, 3).as_deref(), Some("100.0"));
        assert_eq!(format_percent_exact(1, 3).as_deref(), Some("33.3"));
        assert_eq!(format_percent_exact(2, 3).as_deref(), Some("66.7"));
        assert_eq!(format_percent_exact(1, 0), None);
        assert_eq!(format_percent(6.25), "6.3");
        assert_eq!(format_percent(120.04), "120.0");
    }
}
