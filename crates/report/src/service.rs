//! A service's short report (`flsdb report service`) for a trust board or QI meeting: its KPIs
//! with bands against the national values, an SPC chart per KPI, and the poorest KPI flagged as
//! the suggested next quality improvement target. For the service itself: exact figures.

use crate::charts;
use crate::common::*;
use crate::doc::*;
use crate::fmt;
use crate::text::{self, DEFAULT_TEXT};
use flsdb_kpi::{Decoration, Entry, FunnelStatus, KpiSet, KpiValue, MonthPoint, Report, ServiceChart};
use flsdb_stats::spc::{Assurance, PointType};

/// What a service report is built from.
pub struct ServiceInput<'a> {
    pub set: &'a KpiSet,
    /// The exact report of the period (all services, for the national values).
    pub report: &'a Report,
    pub code: &'a str,
    /// Monthly points per KPI id (`flsdb_kpi::monthly_series`), in set order.
    pub series: &'a [(String, Vec<MonthPoint>)],
    pub fingerprint: &'a str,
    pub text: Option<&'a str>,
}

fn funnel_text(e: &Entry) -> &'static str {
    match e.decoration {
        Decoration::Service { funnel_adjusted, .. } => match funnel_adjusted {
            Some(FunnelStatus::AlarmLow) => "below 99.8% limit",
            Some(FunnelStatus::AlertLow) => "below 95% limit",
            Some(FunnelStatus::Within) => "within limits",
            Some(FunnelStatus::AlertHigh) => "above 95% limit",
            Some(FunnelStatus::AlarmHigh) => "above 99.8% limit",
            Some(FunnelStatus::TooFew) => "too few",
            None => "–",
        },
        _ => "–",
    }
}

/// What the SPC chart says about the latest month, in words.
fn spc_reading(chart: &ServiceChart) -> String {
    match chart {
        ServiceChart::Spc(c) => {
            let variation = match c.variation {
                Some(PointType::CommonCause) => "common cause variation only (no signal)",
                Some(PointType::SpecialCauseImprovement) => "special cause variation: improvement",
                Some(PointType::SpecialCauseConcern) => "special cause variation: concern",
                Some(PointType::SpecialCauseNeutralHigh | PointType::SpecialCauseNeutralLow) => {
                    "special cause variation (neutral)"
                }
                None => "no months with data",
            };
            let assurance = match c.assurance {
                Some(Assurance::ConsistentPass) => " The process consistently meets the green threshold.",
                Some(Assurance::ConsistentFail) => {
                    " The process will consistently miss the green threshold unless it changes."
                }
                Some(Assurance::Inconsistent) => " The process will sometimes meet the green threshold.",
                None => "",
            };
            let centre = c.centre.map(|m| format!(" Mean {}%.", flsdb_kpi::format_percent(m))).unwrap_or_default();
            format!("XmR chart, latest month: {variation}.{centre}{assurance}")
        }
        ServiceChart::Run(r) => {
            let signal = match r.runs {
                Some(a) if a.signal => "a non-random pattern (a long run or too few crossings of the median)",
                Some(_) => "random variation around the median",
                None => "too few months to analyse",
            };
            format!("Run chart (fewer than 12 months with data): {signal}.")
        }
    }
}

/// The service's report; `None` when the code is not in the report.
pub fn service(input: &ServiceInput<'_>) -> Option<Document> {
    let exact = input.report;
    let row = exact.service(input.code)?;
    let ratio = ratio_kpis(exact, input.set);
    let period = fmt::period_short(exact.period);
    let mut blocks = vec![heading(1, "Summary")];

    if let Some((k, e)) = weakest(&row.kpis, &ratio) {
        let mut body = vec![Inline::Strong(k.title()), Inline::Text(format!(": {} ", fmt::percent(e)))];
        if let Some(b) = e.band_value() {
            body.push(Inline::Band(b));
        }
        body.push(Inline::Text(format!(
            ", national {}. Of this service's KPIs it is in the lowest band and furthest below its green threshold \
             ({}%).",
            fmt::percent_of(exact.overall.kpis.entry(k.id())),
            green_threshold(k.def).map(flsdb_kpi::format_percent).unwrap_or_else(|| "–".into())
        )));
        blocks.push(Block::Callout { title: "Suggested next QI target".into(), body });
    }
    // The patients behind each gap, most actionable first (spine identification first when red).
    let priorities: Vec<Vec<Inline>> = flsdb_qi::next_priorities(input.set, exact, input.code)
        .into_iter()
        .filter(|p| p.patients_to_next_band.is_some_and(|k| k > 0))
        .take(5)
        .map(|p| {
            let mut line = Vec::new();
            if p.spine_alert {
                line.push(Inline::Strong("Spine identification is red: make it the next priority. ".into()));
            }
            line.push(Inline::Text(format!("{}: {}.", p.kpi, p.summary)));
            line
        })
        .collect();
    if !priorities.is_empty() {
        blocks.push(heading(2, "Next priorities"));
        blocks.push(Block::Bullets(priorities));
    }
    let mut table = Table {
        columns: vec![
            Column::left("KPI"),
            Column::wide("Name"),
            Column::right("Value"),
            Column::right("95% CI"),
            Column::right("Patients"),
            Column::right("National"),
            Column::left("Funnel (adjusted)"),
        ],
        caption: format!("{} ({}), {period}", row.name, row.code),
        ..Table::default()
    };
    for k in &ratio {
        let Some(e) = row.kpis.entry(k.id()) else { continue };
        let national = exact.overall.kpis.entry(k.id());
        let patients = match e.exact.denominator {
            Some(flsdb_kpi::Number::Count(n)) => format!("{} / {}", fmt::count(e.exact.numerator), fmt::count(n)),
            _ => fmt::count(e.exact.numerator),
        };
        table.rows.push(Row {
            cells: vec![
                Cell::new(k.id()),
                Cell::new(k.name()),
                Cell::banded(fmt::percent(e), e.band_value()),
                Cell::new(fmt::ci(e).replace("95% CI ", "")),
                Cell::new(patients),
                Cell::banded(fmt::percent_of(national), national.and_then(Entry::band_value)),
                Cell::new(funnel_text(e)),
            ],
            level: Some("service"),
            strong: false,
        });
    }
    blocks.push(Block::Table(table));
    for (id, value) in row.kpis.iter() {
        if let KpiValue::Completeness(c) = value {
            let poor: Vec<&str> = c.missing_rate.iter().filter(|f| f.poor).map(|f| f.field).collect();
            let verdict = match c.good {
                Some(true) => "good",
                Some(false) => "poor",
                None => "not assessed (no records)",
            };
            blocks.push(Block::Paragraph(text(format!(
                "Data completeness ({id}): {verdict}; {} fields missing in more than 20% of the records they apply to{}",
                poor.len(),
                if poor.is_empty() { ".".to_owned() } else { format!(": {}.", poor.join(", ")) }
            ))));
        }
    }
    blocks.push(Block::Paragraph(text(format!(
        "{} records in the period ({} nationally). Funnel statuses compare the service with the national value after \
         adjustment for over-dispersion.",
        fmt::shown_count(row.records),
        fmt::shown_count(exact.overall.records)
    ))));

    blocks.push(heading(1, "Month by month"));
    blocks.push(Block::Note(text(
        "Statistical process control (NHS Making Data Count): grey dots are common cause variation; blue dots are \
         special cause improvement, orange special cause concern. The dashed lines are the process limits, the red \
         dashed line the green threshold of the KPI. Improvement is an increase for every KPI.",
    )));
    for k in &ratio {
        let Some((_, points)) = input.series.iter().find(|(id, _)| id == k.id()) else { continue };
        let Some((chart, svg)) = charts::spc(points, &format!("{}: {}", row.code, k.title()), green_threshold(k.def))
        else {
            continue;
        };
        blocks.push(Block::Figure(Figure {
            name: format!("{}-spc.svg", k.id()),
            svg,
            caption: format!("{}: {}", k.title(), spc_reading(&chart)),
            width: 0.92,
        }));
    }

    let ph = crate::annual::placeholders(exact, None, &ratio);
    let sections = text::parse(input.text.unwrap_or(DEFAULT_TEXT), &ph);
    let about = text::sections_about(&sections, "service");
    if !about.is_empty() {
        blocks.push(heading(1, "Recommendations"));
        for s in about {
            blocks.push(heading(2, s.title.clone()));
            blocks.extend(s.blocks.clone());
        }
    }
    blocks.push(heading(1, "Methods"));
    blocks.push(statistics_bullets());
    blocks.push(fingerprint_note(input.fingerprint));

    let title = format!("{} ({}): FLS-DB KPIs {period}", row.name, row.code);
    Some(Document {
        title: title.clone(),
        cover: Cover {
            kicker: "Fracture Liaison Service Database".into(),
            title: format!("{} ({})", row.name, row.code),
            subtitle: format!("Service report {period}: KPIs, bands and SPC charts for the trust board or QI meeting"),
            facts: cover_facts(exact, input.fingerprint),
            note: "For the service: figures are exact (not suppressed for publication).".into(),
            contents: false,
        },
        blocks,
        ident: format!("flsdb service {} {period} as of {} {}", row.code, exact.as_of, input.fingerprint),
    })
}
