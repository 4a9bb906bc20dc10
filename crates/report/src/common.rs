//! Pieces the three reports share: which KPIs get a section, the green threshold and the
//! weakest KPI, KPI definition blocks, cover facts and the methods text.

use crate::describe::{kpi_bands, kpi_text};
use crate::doc::*;
use crate::fmt;
use flsdb_kpi::{Band, ColumnKind, DenominatorMode, Entry, KpiColumn, KpiDef, KpiSet, Kpis, Report};

/// A KPI with a percent at every level: a proportion of records, or identification against the
/// caseload (kpi2, iof1). kpi1 and iof11 are shown with participation instead.
pub struct RatioKpi<'a> {
    pub column: &'a KpiColumn,
    pub def: &'a KpiDef,
}

impl RatioKpi<'_> {
    pub fn id(&self) -> &str {
        &self.column.id
    }

    pub fn name(&self) -> &str {
        &self.column.name
    }

    /// `kpi4: FLS assessment within 90 days`.
    pub fn title(&self) -> String {
        format!("{}: {}", self.column.id, self.column.name)
    }

    pub fn identification(&self) -> bool {
        self.column.kind == ColumnKind::Identification
    }
}

pub fn ratio_kpis<'a>(report: &'a Report, set: &'a KpiSet) -> Vec<RatioKpi<'a>> {
    report
        .columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnKind::Proportion | ColumnKind::Identification))
        .filter_map(|column| Some(RatioKpi { column, def: set.kpi(&column.id)? }))
        .collect()
}

/// The percent from which a KPI is green.
pub fn green_threshold(def: &KpiDef) -> Option<f64> {
    kpi_bands(def)?.steps.iter().find(|s| s.band == Band::Green).map(|s| s.at)
}

fn band_rank(b: Band) -> u8 {
    match b {
        Band::Red => 0,
        Band::Amber => 1,
        Band::Green => 2,
    }
}

/// The weakest KPI of a unit: the lowest band, then the furthest below its green threshold
/// (percentage points). `None` when no KPI has a value and a band.
pub fn weakest<'a, 'k>(kpis: &'a Kpis, ratio: &'k [RatioKpi<'k>]) -> Option<(&'k RatioKpi<'k>, &'a Entry)> {
    let mut best: Option<(u8, f64, &RatioKpi<'_>, &Entry)> = None;
    for k in ratio {
        let Some(e) = kpis.entry(k.id()) else { continue };
        let (Some(p), Some(band)) = (fmt::percent_value(e), e.band_value()) else { continue };
        let gap = p - green_threshold(k.def).unwrap_or(100.0);
        let rank = band_rank(band);
        if best.as_ref().is_none_or(|(r, g, ..)| rank < *r || (rank == *r && gap < *g)) {
            best = Some((rank, gap, k, e));
        }
    }
    best.map(|(_, _, k, e)| (k, e))
}

/// The definition block of a KPI: numerator, denominator, bands.
pub fn definition(k: &RatioKpi<'_>, set: &KpiSet, mode: DenominatorMode) -> Block {
    let t = kpi_text(k.def, set, mode);
    Block::Bullets(vec![
        vec![Inline::Strong("Numerator: ".into()), Inline::Text(t.numerator)],
        vec![Inline::Strong("Denominator: ".into()), Inline::Text(t.denominator)],
        vec![Inline::Strong("Bands: ".into()), Inline::Text(t.bands)],
    ])
}

/// The KPI definitions of a set as a table (methods appendix).
pub fn definitions_table(set: &KpiSet, mode: DenominatorMode) -> Table {
    Table {
        columns: vec![Column::left("KPI"), Column::wide("Definition")],
        rows: set
            .kpis
            .iter()
            .map(|k| {
                let t = kpi_text(k, set, mode);
                Row {
                    cells: vec![
                        Cell::new(k.id.clone()),
                        Cell::new(format!(
                            "{}. Numerator: {}. Denominator: {}. Bands: {}.",
                            k.name, t.numerator, t.denominator, t.bands
                        )),
                    ],
                    ..Row::default()
                }
            })
            .collect(),
        caption: format!("KPI set {} ({})", set.name, set.version),
        small: true,
    }
}

/// Facts for a cover page.
pub fn cover_facts(report: &Report, fingerprint: &str) -> Vec<(String, String)> {
    vec![
        ("Period (fracture dates)".into(), fmt::period_long(report.period)),
        ("Data as of".into(), fmt::date_long(report.as_of)),
        ("KPI set".into(), format!("{} (version {})", report.kpi_set, report.kpi_set_version)),
        ("Denominators".into(), report.denominator_mode.as_str().into()),
        ("Dataset version".into(), flsdb_dataset::DATASET_VERSION.into()),
        ("Data fingerprint".into(), fingerprint.into()),
    ]
}

/// The statistics paragraph of every methods section.
pub fn statistics_bullets() -> Block {
    Block::Bullets(vec![
        text(
            "Percentages are numerator ÷ denominator × 100, shown to one decimal rounded half away from zero on \
             the exact fraction; bands are decided on the exact fraction (79.996% is amber although it displays \
             as 80.0%). Above service level numerators and denominators are summed: nothing is an average of \
             percentages.",
        ),
        text("95% confidence intervals are Wilson score intervals (none for identification KPIs)."),
        text(
            "Funnel plots compare each service with the national proportion using exact binomial limits with \
             Spiegelhalter's interpolation at 95% (alert) and 99.8% (alarm); services with a denominator below 10 \
             are not assessed.",
        ),
        text(
            "Over-dispersion is estimated per KPI on the arcsine scale with 10% winsorisation per tail over the \
             services with a denominator of at least 10. When φ > 1 the adjusted limits are, on each side, the \
             wider of the exact limit and the additive random-effects limit (τ²), so adjusting never flags more \
             services.",
        ),
        text(
            "SPC charts are XmR charts of monthly percentages with the NHS Making Data Count rules (a run chart \
             when fewer than 12 months have data); improvement is an increase for every KPI.",
        ),
    ])
}

/// The fingerprint sentence of every methods section.
pub fn fingerprint_note(fingerprint: &str) -> Block {
    Block::Paragraph(vec![
        Inline::Text("Data fingerprint ".into()),
        Inline::Strong(fingerprint.into()),
        Inline::Text(
            ": a 64-bit FNV-1a hash over the canonical cells of every record used (all periods shown), the \
             services registry with its caseloads, and the opt-out list. The same database, options and as-of \
             date give the same fingerprint and the same report."
                .into(),
        ),
    ])
}

/// A heading with an anchor made from its text.
pub fn heading(level: u8, text: impl Into<String>) -> Block {
    let text = text.into();
    Block::Heading { level, id: fmt::slug(&text), text }
}

/// "rose from 66.1% to 70.0%" on what readers see (one decimal).
pub fn change_phrase(previous: Option<&Entry>, current: &Entry) -> String {
    let now = fmt::percent(current);
    match (previous.and_then(fmt::shown_tenths), fmt::shown_tenths(current)) {
        (Some(a), Some(b)) if b > a => format!("rose from {} to {now}", fmt::percent_of(previous)),
        (Some(a), Some(b)) if b < a => format!("fell from {} to {now}", fmt::percent_of(previous)),
        (Some(_), Some(_)) => format!("was unchanged at {now}"),
        (None, Some(_)) => format!("was {now} (no value for the previous period)"),
        _ => "has no value for this period".into(),
    }
}

/// Percentage points between two displayed values: `+3.9 pp`.
pub fn change_pp(previous: Option<&Entry>, current: Option<&Entry>) -> String {
    match (previous.and_then(fmt::shown_tenths), current.and_then(fmt::shown_tenths)) {
        (Some(a), Some(b)) => {
            let d = b - a;
            let sign = if d > 0 {
                "+"
            } else if d < 0 {
                "−"
            } else {
                ""
            };
            format!("{sign}{}.{} pp", d.abs() / 10, d.abs() % 10)
        }
        _ => "–".into(),
    }
}
