//! How figures are written in reports: counts with thousands separators, percentages to one
//! decimal rounded half away from zero on the exact fraction (as `flsdb kpi --format table`),
//! dates in words.

use flsdb_kpi::{Entry, Period, Shown, format_percent};
use time::Date;

/// `48951` → `48,951`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A published or exact count: `*` when suppressed.
pub fn shown_count(n: Shown<u64>) -> String {
    match n {
        Shown::Value(n) => count(n),
        Shown::Suppressed => "*".into(),
    }
}

/// An entry's percent as displayed (`70.0%`), `*` when suppressed, `–` when undefined.
pub fn percent(e: &Entry) -> String {
    match e.display_percent().as_str() {
        "-" => "–".into(),
        "*" => "*".into(),
        p => format!("{p}%"),
    }
}

/// An optional entry's percent; `–` without an entry.
pub fn percent_of(e: Option<&Entry>) -> String {
    e.map_or_else(|| "–".into(), percent)
}

/// The percent as a number (as the engine computed it), when shown.
pub fn percent_value(e: &Entry) -> Option<f64> {
    e.percent.as_ref().and_then(|p| p.value().copied())
}

/// The displayed percent in tenths, for "rose / fell / unchanged" comparisons on what readers see.
pub fn shown_tenths(e: &Entry) -> Option<i64> {
    let p = e.display_percent();
    let (whole, tenth) = p.split_once('.')?;
    Some(whole.parse::<i64>().ok()? * 10 + tenth.parse::<i64>().ok()?)
}

/// `95% CI 69.7–70.3%`, or an empty string when there is no interval.
pub fn ci(e: &Entry) -> String {
    match &e.ci95 {
        Some(Shown::Value([lo, hi])) => format!("95% CI {}–{}%", format_percent(*lo), format_percent(*hi)),
        Some(Shown::Suppressed) => "95% CI *".into(),
        None => String::new(),
    }
}

/// `31 December 2023`.
pub fn date_long(d: Date) -> String {
    format!("{} {} {}", d.day(), d.month(), d.year())
}

/// `1 January to 31 December 2023`, or with both years when they differ.
pub fn period_long(p: Period) -> String {
    let (from, to) = (p.from(), p.to());
    if from.year() == to.year() {
        format!("{} {} to {}", from.day(), from.month(), date_long(to))
    } else {
        format!("{} to {}", date_long(from), date_long(to))
    }
}

/// A short label for a period: `2023` for a calendar year, else `2023-04-01 to 2024-03-31`.
pub fn period_short(p: Period) -> String {
    let (from, to) = (p.from(), p.to());
    let whole_year =
        from.ordinal() == 1 && to.year() == from.year() && to.month() == time::Month::December && to.day() == 31;
    if whole_year { from.year().to_string() } else { format!("{from} to {to}") }
}

/// A registry name for display: nations are stored as `northern_ireland`.
pub fn nation_name(stored: &str) -> String {
    stored
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file-name-safe form of a name (`NCL ICB` → `ncl-icb`).
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "unnamed".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(date_long(date!(2023 - 12 - 31)), "31 December 2023");
        let year = Period::calendar_year(2023).expect("year");
        assert_eq!(period_long(year), "1 January to 31 December 2023");
        assert_eq!(period_short(year), "2023");
        let p = Period::new(date!(2023 - 04 - 01), date!(2024 - 03 - 31)).expect("period");
        assert_eq!(period_long(p), "1 April 2023 to 31 March 2024");
        assert_eq!(period_short(p), "2023-04-01 to 2024-03-31");
        assert_eq!(nation_name("northern_ireland"), "Northern Ireland");
        assert_eq!(slug("NCL ICB (North)"), "ncl-icb-north");
        assert_eq!(slug("!!"), "unnamed");
    }
}
