//! Benchmark tables (`flsdb report benchmarks`): one row per service (name, code, records and
//! every KPI with a percent), the national row first, as CSV or as an XLSX workbook whose RAG
//! bands are real conditional formats (a rule per KPI column from the set's band thresholds, so
//! an analyst who edits or sorts a value sees the right colour), with a frozen header, an
//! autofilter and a notes sheet.

use crate::common::ratio_kpis;
use crate::describe::{bands as bands_text, kpi_bands, kpi_text};
use crate::doc::band_colours;
use crate::{ReportError, fmt};
use flsdb_kpi::{Band, Bands, Disclosure, Entry, KpiSet, Report, Shown};
use rust_xlsxwriter::{
    Color, ConditionalFormatBlank, ConditionalFormatCell, ConditionalFormatCellRule, ConditionalFormatFormula,
    DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, column_number_to_name,
};

/// One KPI column.
#[derive(Clone, Debug)]
pub struct BenchKpi {
    pub id: String,
    pub name: String,
    pub bands: Option<Bands>,
    pub numerator: String,
    pub denominator: String,
    pub bands_text: String,
}

/// One row: the nation's total or a service.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub name: String,
    /// Empty for the national row.
    pub code: String,
    pub records: Shown<u64>,
    pub entries: Vec<Option<Entry>>,
}

/// The table and what it states about itself.
#[derive(Clone, Debug)]
pub struct Benchmarks {
    pub kpis: Vec<BenchKpi>,
    pub rows: Vec<BenchRow>,
    pub published: bool,
    pub disclosure: Disclosure,
    pub set_name: String,
    pub set_version: String,
    pub period: flsdb_kpi::Period,
    pub as_of: time::Date,
    pub mode: flsdb_kpi::DenominatorMode,
    pub fingerprint: String,
}

/// The name of the national row.
pub const NATIONAL: &str = "National (all services)";

/// The benchmark table of an exact report; `published` applies `disclosure` below national level.
pub fn benchmarks(
    exact: &Report,
    set: &KpiSet,
    published: bool,
    disclosure: &Disclosure,
    fingerprint: &str,
) -> Benchmarks {
    let shown = if published { disclosure.apply(exact) } else { exact.clone() };
    let ratio = ratio_kpis(exact, set);
    let kpis: Vec<BenchKpi> = ratio
        .iter()
        .map(|k| {
            let t = kpi_text(k.def, set, exact.denominator_mode);
            BenchKpi {
                id: k.id().to_owned(),
                name: k.name().to_owned(),
                bands: kpi_bands(k.def).cloned(),
                numerator: t.numerator,
                denominator: t.denominator,
                bands_text: t.bands,
            }
        })
        .collect();
    let entries = |k: &flsdb_kpi::Kpis| kpis.iter().map(|c| k.entry(&c.id).cloned()).collect::<Vec<_>>();
    let mut rows = vec![BenchRow {
        name: NATIONAL.into(),
        code: String::new(),
        records: shown.overall.records,
        entries: entries(&shown.overall.kpis),
    }];
    rows.extend(shown.services.iter().map(|s| BenchRow {
        name: s.name.clone(),
        code: s.code.clone(),
        records: s.records,
        entries: entries(&s.kpis),
    }));
    Benchmarks {
        kpis,
        rows,
        published,
        disclosure: disclosure.clone(),
        set_name: set.name.clone(),
        set_version: set.version.clone(),
        period: exact.period,
        as_of: exact.as_of,
        mode: exact.denominator_mode,
        fingerprint: fingerprint.to_owned(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// The displayed percent (one decimal), `*` when suppressed, empty when undefined.
fn shown_percent(e: &Option<Entry>) -> String {
    match e.as_ref().map(Entry::display_percent).as_deref() {
        None | Some("-") => String::new(),
        Some(p) => p.to_owned(),
    }
}

fn shown_band(e: &Option<Entry>) -> String {
    match e.as_ref().and_then(|e| e.band.as_ref()) {
        Some(Shown::Value(b)) => b.as_str().to_owned(),
        Some(Shown::Suppressed) => "*".into(),
        None => String::new(),
    }
}

/// CSV: `service_name, service_code, records`, then `kpiN` (percent to one decimal) and
/// `kpiN_band` per KPI; the national row first.
pub fn to_csv(b: &Benchmarks) -> String {
    let mut header = vec!["service_name".to_owned(), "service_code".into(), "records".into()];
    for k in &b.kpis {
        header.push(k.id.clone());
        header.push(format!("{}_band", k.id));
    }
    let mut out = header.join(",") + "\n";
    for r in &b.rows {
        let mut cells = vec![csv_cell(&r.name), csv_cell(&r.code), fmt::shown_count(r.records).replace(',', "")];
        for e in &r.entries {
            cells.push(shown_percent(e));
            cells.push(shown_band(e));
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn band_format(band: Band) -> Format {
    let (fill, ink) = band_colours(band);
    let rgb = |hex: &str| Color::RGB(u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0));
    Format::new().set_background_color(rgb(fill)).set_font_color(rgb(ink))
}

/// The conditional-format rules of one band definition, in priority order: each band below a
/// threshold up to it (`<` for an inclusive threshold such as fls-db's "< 80 ≤ green", `≤` for
/// IOF's "≤ 80 < green"), then the top band; each stops the later ones.
fn band_rules(bands: &Bands) -> Vec<ConditionalFormatCell> {
    let mut rules = Vec::new();
    let mut below = Band::Red;
    for step in &bands.steps {
        let rule = if step.inclusive {
            ConditionalFormatCellRule::LessThan(step.at)
        } else {
            ConditionalFormatCellRule::LessThanOrEqualTo(step.at)
        };
        rules.push(ConditionalFormatCell::new().set_rule(rule).set_format(band_format(below)).set_stop_if_true(true));
        below = step.band;
    }
    if let Some(last) = bands.steps.last() {
        let rule = if last.inclusive {
            ConditionalFormatCellRule::GreaterThanOrEqualTo(last.at)
        } else {
            ConditionalFormatCellRule::GreaterThan(last.at)
        };
        rules.push(
            ConditionalFormatCell::new().set_rule(rule).set_format(band_format(last.band)).set_stop_if_true(true),
        );
    }
    rules
}

/// The workbook: sheet `benchmarks` and sheet `notes`.
pub fn to_xlsx(b: &Benchmarks) -> Result<Vec<u8>, ReportError> {
    let mut book = Workbook::new();
    // A fixed creation time (the as-of date): the same data gives the same file.
    let created =
        ExcelDateTime::from_ymd(b.as_of.year().clamp(1900, 9999) as u16, b.as_of.month().into(), b.as_of.day())?;
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("FLS-DB benchmarks {}", fmt::period_short(b.period)))
            .set_author("flsdb")
            .set_creation_datetime(&created),
    );
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_background_color(Color::RGB(0x005EB8))
        .set_font_color(Color::White);
    let percent = Format::new().set_num_format("0.0");
    let count = Format::new().set_num_format("#,##0");
    let right = Format::new().set_align(FormatAlign::Right);
    let bold = Format::new().set_bold();

    let sheet = book.add_worksheet();
    sheet.set_name("benchmarks")?;
    let titles = ["Service", "Code", "Records"];
    for (c, t) in titles.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *t, &header)?;
    }
    for (i, k) in b.kpis.iter().enumerate() {
        sheet.write_string_with_format(0, (titles.len() + i) as u16, format!("{} {}", k.id, k.name), &header)?;
    }
    sheet.set_row_height(0, 45)?;
    sheet.set_column_width(0, 36)?;
    sheet.set_column_width(1, 8)?;
    sheet.set_column_width(2, 10)?;
    for (r, row) in b.rows.iter().enumerate() {
        let r = (r + 1) as u32;
        if r == 1 {
            sheet.write_string_with_format(r, 0, &row.name, &bold)?;
        } else {
            sheet.write_string(r, 0, &row.name)?;
        }
        sheet.write_string(r, 1, &row.code)?;
        match row.records {
            Shown::Value(n) => sheet.write_number_with_format(r, 2, n as f64, &count)?,
            Shown::Suppressed => sheet.write_string_with_format(r, 2, "*", &right)?,
        };
        for (i, e) in row.entries.iter().enumerate() {
            let c = (titles.len() + i) as u16;
            match e.as_ref().and_then(|e| e.percent.as_ref()) {
                Some(Shown::Value(p)) => {
                    sheet.write_number_with_format(r, c, *p, &percent)?;
                }
                Some(Shown::Suppressed) => {
                    sheet.write_string_with_format(r, c, "*", &right)?;
                }
                None => {}
            }
        }
    }
    let last_row = b.rows.len() as u32;
    let last_col = (titles.len() + b.kpis.len() - 1) as u16;
    for (i, k) in b.kpis.iter().enumerate() {
        let c = (titles.len() + i) as u16;
        let Some(bands) = &k.bands else { continue };
        // Empty cells (no value) and "*" (suppressed) must not be coloured: Excel compares a blank
        // as 0 (red) and text as greater than any number (green). These two rules come first and
        // stop the band rules.
        let blank = ConditionalFormatBlank::new().set_stop_if_true(true);
        sheet.add_conditional_format(1, c, last_row.max(1), c, &blank)?;
        let text = ConditionalFormatFormula::new()
            .set_rule(format!("=ISTEXT({}2)", column_number_to_name(c)).as_str())
            .set_stop_if_true(true);
        sheet.add_conditional_format(1, c, last_row.max(1), c, &text)?;
        for rule in band_rules(bands) {
            sheet.add_conditional_format(1, c, last_row.max(1), c, &rule)?;
        }
        sheet.set_column_width(c, 12)?;
    }
    sheet.set_freeze_panes(1, 1)?;
    sheet.autofilter(0, 0, last_row, last_col)?;

    let notes = book.add_worksheet();
    notes.set_name("notes")?;
    notes.set_column_width(0, 22)?;
    notes.set_column_width(1, 120)?;
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let mut lines: Vec<(String, String)> = vec![
        ("Title".into(), format!("FLS-DB benchmark table {}", fmt::period_short(b.period))),
        ("Period (fracture dates)".into(), fmt::period_long(b.period)),
        ("As-of date".into(), b.as_of.to_string()),
        ("KPI set".into(), format!("{} ({})", b.set_name, b.set_version)),
        ("Denominator mode".into(), b.mode.as_str().into()),
        ("Dataset version".into(), flsdb_dataset::DATASET_VERSION.into()),
        (
            "Disclosure control".into(),
            if b.published {
                crate::annual::disclosure_sentence(&b.disclosure)
            } else {
                "None: exact figures, not for publication.".into()
            },
        ),
        ("Data fingerprint".into(), b.fingerprint.clone()),
        (
            "Values".into(),
            "Percentages of the KPI's denominator (not rounded in the cells; shown to one decimal). Colours are \
             conditional formats from each KPI's bands; an empty cell has no value (denominator 0 or no caseload)."
                .into(),
        ),
    ];
    lines.push((String::new(), String::new()));
    for k in &b.kpis {
        lines.push((
            k.id.clone(),
            format!(
                "{}. Numerator: {}. Denominator: {}. Bands: {}.",
                k.name,
                k.numerator,
                k.denominator,
                k.bands.as_ref().map(bands_text).unwrap_or_else(|| k.bands_text.clone())
            ),
        ));
    }
    for (r, (label, value)) in lines.iter().enumerate() {
        notes.write_string_with_format(r as u32, 0, label, &bold)?;
        notes.write_string_with_format(r as u32, 1, value, &wrap)?;
    }
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_thresholds() {
        let rules = band_rules(&Bands::lower_inclusive(50.0, 80.0));
        assert_eq!(rules.len(), 3);
        let iof = band_rules(&Bands::upper_exclusive(50.0, 80.0));
        assert_eq!(iof.len(), 3);
        assert_eq!(band_rules(&Bands::red_green(50.0)).len(), 2);
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
