//! The flattened CSV table of a report: one row per unit, the JSON names flattened.
//!
//! Columns: `level` (`overall`, `nation`, `region`, `commissioner`, `service`), `code` (services
//! only), `name`, `records`, then per KPI in set order:
//! - a proportion or identification KPI `k`: `k_numerator`, `k_denominator`, `k_percent`,
//!   `k_ci95_lower`, `k_ci95_upper`, `k_band`, `k_not_due`, `k_died`, `k_funnel`,
//!   `k_funnel_adjusted` (funnel columns filled on service rows only);
//! - kpi1: `kpi1_good`, `kpi1_poor_fields` and `kpi1_missing_rate_<field>` per field (service
//!   rows), then `kpi1_numerator`, `kpi1_denominator`, `kpi1_percent`, `kpi1_ci95_lower`,
//!   `kpi1_ci95_upper`, `kpi1_band` (the proportion of good services, other rows);
//! - iof11: `iof11_<kpi>_numerator`, `iof11_<kpi>_denominator`, `iof11_<kpi>_percent` per KPI;
//!
//! and last the context of every row: `kpi_set`, `kpi_set_version`, `denominator_mode`,
//! `period_from`, `period_to`, `as_of`. Percentages are not rounded; an empty cell is `null`; a
//! suppressed figure is `*`.

use crate::definition::Band;
use crate::report::*;
use crate::table::status_str;
use flsdb_dataset::values::format_date;
use std::fmt::Write;

fn header(report: &Report) -> Vec<String> {
    let mut h: Vec<String> = ["level", "code", "name", "records"].map(str::to_owned).to_vec();
    let proportion = ["numerator", "denominator", "percent", "ci95_lower", "ci95_upper", "band"];
    for c in &report.columns {
        let id = &c.id;
        match &c.kind {
            ColumnKind::Proportion | ColumnKind::Identification => {
                h.extend(proportion.iter().map(|s| format!("{id}_{s}")));
                h.extend(["not_due", "died", "funnel", "funnel_adjusted"].iter().map(|s| format!("{id}_{s}")));
            }
            ColumnKind::Completeness { fields } => {
                h.push(format!("{id}_good"));
                h.push(format!("{id}_poor_fields"));
                h.extend(fields.iter().map(|f| format!("{id}_missing_rate_{f}")));
                h.extend(proportion.iter().map(|s| format!("{id}_{s}")));
            }
            ColumnKind::Inputs { of } => {
                for k in of {
                    h.extend(["numerator", "denominator", "percent"].iter().map(|s| format!("{id}_{k}_{s}")));
                }
            }
        }
    }
    h.extend(
        ["kpi_set", "kpi_set_version", "denominator_mode", "period_from", "period_to", "as_of"].map(str::to_owned),
    );
    h
}

fn shown<T>(v: Option<&Shown<T>>, f: impl Fn(&T) -> String) -> String {
    match v {
        None => String::new(),
        Some(Shown::Suppressed) => "*".to_owned(),
        Some(Shown::Value(x)) => f(x),
    }
}

fn number(n: &Number) -> String {
    match n {
        Number::Count(c) => c.to_string(),
        Number::Decimal(x) => x.to_string(),
    }
}

/// The numerator…band cells of a proportion entry (six cells).
fn entry_cells(e: Option<&Entry>) -> Vec<String> {
    let Some(e) = e else { return vec![String::new(); 6] };
    let ci = |i: usize| shown(e.ci95.as_ref(), |c| c[i].to_string());
    vec![
        shown(Some(&e.numerator), u64::to_string),
        shown(e.denominator.as_ref(), number),
        shown(e.percent.as_ref(), f64::to_string),
        ci(0),
        ci(1),
        shown(e.band.as_ref(), |b: &Band| b.as_str().to_owned()),
    ]
}

fn row_cells(report: &Report, row: &Row<'_>) -> Vec<String> {
    let mut cells = vec![
        row.level.as_str().to_owned(),
        row.code.unwrap_or_default().to_owned(),
        row.name.to_owned(),
        shown(Some(&row.records), u64::to_string),
    ];
    for c in &report.columns {
        let value = row.kpis.get(&c.id);
        match &c.kind {
            ColumnKind::Proportion | ColumnKind::Identification => {
                let e = row.kpis.entry(&c.id);
                cells.extend(entry_cells(e));
                cells.push(e.map(|e| shown(Some(&e.not_due), u64::to_string)).unwrap_or_default());
                cells.push(e.map(|e| shown(Some(&e.died), u64::to_string)).unwrap_or_default());
                let (funnel, adjusted) = match e.map(|e| &e.decoration) {
                    Some(Decoration::Service { funnel, funnel_adjusted }) => (*funnel, *funnel_adjusted),
                    _ => (None, None),
                };
                cells.push(funnel.map(status_str).unwrap_or_default().to_owned());
                cells.push(adjusted.map(status_str).unwrap_or_default().to_owned());
            }
            ColumnKind::Completeness { fields } => {
                match value {
                    Some(KpiValue::Completeness(k)) => {
                        cells.push(k.good.map(|g| g.to_string()).unwrap_or_default());
                        cells.push(k.poor_fields.to_string());
                        for f in fields {
                            let rate = k.missing_rate.iter().find(|r| r.field == *f).and_then(|r| r.rate.as_ref());
                            cells.push(shown(rate, f64::to_string));
                        }
                    }
                    _ => cells.extend(std::iter::repeat_n(String::new(), 2 + fields.len())),
                }
                cells.extend(entry_cells(row.kpis.entry(&c.id)));
            }
            ColumnKind::Inputs { of } => {
                let entries = match value {
                    Some(KpiValue::Inputs(entries)) => entries.as_slice(),
                    _ => &[],
                };
                for k in of {
                    match entries.iter().find(|e| &e.kpi == k) {
                        Some(e) => {
                            cells.push(shown(Some(&e.numerator), u64::to_string));
                            cells.push(shown(Some(&e.denominator), u64::to_string));
                            cells.push(shown(e.percent.as_ref(), f64::to_string));
                        }
                        None => cells.extend(std::iter::repeat_n(String::new(), 3)),
                    }
                }
            }
        }
    }
    cells.extend([
        report.kpi_set.clone(),
        report.kpi_set_version.clone(),
        report.denominator_mode.as_str().to_owned(),
        format_date(report.period.from()),
        format_date(report.period.to()),
        format_date(report.as_of),
    ]);
    cells
}

/// RFC 4180 quoting: a cell with a comma, quote or line break is quoted, quotes doubled.
fn write_row(out: &mut String, cells: &[String]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", cell.replace('"', "\"\""));
        } else {
            out.push_str(cell);
        }
    }
    out.push('\n');
}

/// The report as a CSV table (LF line ends), rows in the order overall, nations,
/// regions, commissioners, services.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::new();
    write_row(&mut out, &header(report));
    for row in report.rows() {
        write_row(&mut out, &row_cells(report, &row));
    }
    out
}
