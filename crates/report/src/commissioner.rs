//! A commissioner's report (`flsdb report commissioner`): its services against the national
//! picture, with recommendations. For the commissioner, so its own services' figures are exact;
//! other services appear only as unlabelled points on the funnel plots.

use crate::annual::{overdispersion_note, placeholders};
use crate::charts;
use crate::common::*;
use crate::doc::*;
use crate::fmt;
use crate::text::{self, DEFAULT_TEXT};
use flsdb_dataset::Service;
use flsdb_kpi::{Band, Decoration, Entry, FunnelStatus, GroupRow, KpiSet, Report};

/// What a commissioner's report is built from.
pub struct CommissionerInput<'a> {
    pub set: &'a KpiSet,
    /// The exact report of the period.
    pub report: &'a Report,
    /// The exact report of the previous period, for the trend column.
    pub previous: Option<&'a Report>,
    /// The commissioner's name as in the registry.
    pub commissioner: &'a str,
    pub registry: &'a [Service],
    pub fingerprint: &'a str,
    pub text: Option<&'a str>,
}

/// Commissioners with at least one registered service, by name.
pub fn commissioners(registry: &[Service]) -> Vec<String> {
    let mut names: Vec<String> = registry.iter().filter_map(|s| s.commissioner.clone()).collect();
    names.sort();
    names.dedup();
    names
}

fn group<'r>(report: &'r Report, name: &str) -> Option<&'r GroupRow> {
    report.commissioners.iter().find(|g| g.name == name)
}

fn status_word(s: Option<FunnelStatus>) -> &'static str {
    match s {
        Some(FunnelStatus::AlarmLow) => "below the 99.8% limit",
        Some(FunnelStatus::AlertLow) => "below the 95% limit",
        Some(FunnelStatus::Within) => "within the limits",
        Some(FunnelStatus::AlertHigh) => "above the 95% limit",
        Some(FunnelStatus::AlarmHigh) => "above the 99.8% limit",
        Some(FunnelStatus::TooFew) => "too few to assess",
        None => "–",
    }
}

/// The report of one commissioner; `None` when no registered service has that commissioner.
pub fn commissioner(input: &CommissionerInput<'_>) -> Option<Document> {
    let exact = input.report;
    let name = input.commissioner;
    let codes: Vec<&str> =
        input.registry.iter().filter(|s| s.commissioner.as_deref() == Some(name)).map(|s| s.code.as_str()).collect();
    if codes.is_empty() {
        return None;
    }
    let own = |code: &str| codes.iter().any(|c| c.eq_ignore_ascii_case(code));
    let ratio = ratio_kpis(exact, input.set);
    let year = fmt::period_short(exact.period);
    let mine = group(exact, name);
    let mine_before = input.previous.and_then(|p| group(p, name));
    let mut blocks = Vec::new();

    // Summary.
    blocks.push(heading(1, "Summary"));
    let records = mine.and_then(|g| g.records.value().copied()).unwrap_or(0);
    let red: usize = exact
        .services
        .iter()
        .filter(|s| own(&s.code))
        .map(|s| ratio.iter().filter(|k| s.kpis.entry(k.id()).and_then(Entry::band_value) == Some(Band::Red)).count())
        .sum();
    blocks.push(Block::Tiles(vec![
        Tile { label: "Services".into(), value: codes.len().to_string(), detail: codes.join(", "), band: None },
        Tile {
            label: format!("Records {year}"),
            value: fmt::count(records),
            detail: format!("{} nationally", fmt::count(exact.overall.records.value().copied().unwrap_or(0))),
            band: None,
        },
        Tile {
            label: "Service KPIs in the red band".into(),
            value: red.to_string(),
            detail: format!("of {} service × KPI values", codes.len() * ratio.len()),
            band: None,
        },
    ]));
    let mut summary = Table {
        columns: vec![
            Column::left("KPI"),
            Column::wide("Name"),
            Column::right(input.previous.map_or_else(|| "Previous".into(), |p| fmt::period_short(p.period))),
            Column::right(year.clone()),
            Column::right(format!("National {year}")),
            Column::right("vs national"),
        ],
        caption: format!("{name} against the national value, {year}"),
        ..Table::default()
    };
    for k in &ratio {
        let here = mine.and_then(|g| g.kpis.entry(k.id()));
        let before = mine_before.and_then(|g| g.kpis.entry(k.id()));
        let national = exact.overall.kpis.entry(k.id());
        summary.rows.push(Row {
            cells: vec![
                Cell::new(k.id()),
                Cell::new(k.name()),
                Cell::banded(fmt::percent_of(before), before.and_then(Entry::band_value)),
                Cell::banded(fmt::percent_of(here), here.and_then(Entry::band_value)),
                Cell::banded(fmt::percent_of(national), national.and_then(Entry::band_value)),
                Cell::new(change_pp(national, here)),
            ],
            level: Some("commissioner"),
            strong: false,
        });
    }
    blocks.push(Block::Table(summary));
    if let Some((k, e)) = mine.and_then(|g| weakest(&g.kpis, &ratio)) {
        blocks.push(Block::Callout {
            title: "Weakest KPI across your services".into(),
            body: vec![
                Inline::Strong(k.title()),
                Inline::Text(format!(
                    ": {} against {} nationally.",
                    fmt::percent(e),
                    fmt::percent_of(exact.overall.kpis.entry(k.id()))
                )),
            ],
        });
    }

    // Services.
    blocks.push(Block::Landscape(vec![heading(1, "Your services"), services_table(input, &own, name)]));

    // One section per KPI.
    blocks.push(heading(1, "KPIs"));
    for k in &ratio {
        blocks.push(heading(2, k.title()));
        blocks.push(definition(k, input.set, exact.denominator_mode));
        let rows = charts::service_rows(exact, k.id(), own);
        let national = exact.overall.kpis.entry(k.id()).and_then(fmt::percent_value);
        blocks.push(Block::Figure(Figure {
            name: format!("{}-services.svg", k.id()),
            svg: charts::caterpillar(&rows, national, &format!("{}: your services", k.title())),
            caption: format!("{}: your services, highest first; the dashed line is the national value.", k.title()),
            width: 0.85,
        }));
        if !k.identification()
            && let Some(svg) = charts::funnel(exact, k.id(), &format!("{}: funnel plot", k.title()), own, true, None)
        {
            blocks.push(Block::Figure(Figure {
                name: format!("{}-funnel.svg", k.id()),
                svg,
                caption: format!(
                    "{}: every service in the country; yours are outlined and labelled with their codes.",
                    k.title()
                ),
                width: 0.85,
            }));
            if let Some(note) = overdispersion_note(exact, k.id()) {
                blocks.push(note);
            }
        }
    }

    // Recommendations: from the data first, then the audit's text for commissioners.
    blocks.push(heading(1, "Recommendations"));
    let mut findings: Vec<Vec<Inline>> = Vec::new();
    for s in exact.services.iter().filter(|s| own(&s.code)) {
        for k in &ratio {
            let Some(e) = s.kpis.entry(k.id()) else { continue };
            let Decoration::Service { funnel_adjusted, .. } = e.decoration else { continue };
            if funnel_adjusted == Some(FunnelStatus::AlarmLow) {
                findings.push(text(format!(
                    "{} ({}) is {} for {} ({}, national {}) even after adjustment for over-dispersion: agree an \
                     improvement plan with the service.",
                    s.name,
                    s.code,
                    status_word(funnel_adjusted),
                    k.title(),
                    fmt::percent(e),
                    fmt::percent_of(exact.overall.kpis.entry(k.id()))
                )));
            }
        }
        if s.records.value().is_some_and(|n| *n == 0) {
            findings.push(text(format!(
                "{} ({}) submitted no records for {year}: check that the service is running and submitting data.",
                s.name, s.code
            )));
        }
    }
    if findings.is_empty() {
        findings.push(text("None of your services is below the 99.8% funnel limit for any KPI after adjustment."));
    }
    blocks.push(heading(2, "From the data"));
    blocks.push(Block::Bullets(findings));
    let ph = placeholders(exact, input.previous, &ratio);
    let sections = text::parse(input.text.unwrap_or(DEFAULT_TEXT), &ph);
    for s in text::sections_about(&sections, "commissioner") {
        blocks.push(heading(2, s.title.clone()));
        blocks.extend(s.blocks.clone());
    }

    blocks.push(heading(1, "Methods"));
    blocks.push(statistics_bullets());
    blocks.push(fingerprint_note(input.fingerprint));

    let title = format!("FLS-DB {year}: {name}");
    Some(Document {
        title: title.clone(),
        cover: Cover {
            kicker: "Fracture Liaison Service Database".into(),
            title: format!("Commissioner report {year}"),
            subtitle: format!("{name}: your services against the national picture"),
            facts: cover_facts(exact, input.fingerprint),
            note: "For the commissioner: the figures of your own services are exact (not suppressed for \
                   publication). Other services appear only as unlabelled points on the funnel plots."
                .into(),
            contents: true,
        },
        blocks,
        ident: format!("flsdb commissioner {name} {year} as of {} {}", exact.as_of, input.fingerprint),
    })
}

fn services_table(input: &CommissionerInput<'_>, own: &dyn Fn(&str) -> bool, name: &str) -> Block {
    let exact = input.report;
    let mut columns = vec![Column::left("Code"), Column::wide("Service"), Column::right("Records")];
    columns.extend(
        exact
            .columns
            .iter()
            .filter(|c| !matches!(c.kind, flsdb_kpi::ColumnKind::Inputs { .. }))
            .map(|c| Column::right(c.id.clone())),
    );
    let mut rows = vec![Row {
        cells: [Cell::new(""), Cell::new("National"), Cell::count(fmt::shown_count(exact.overall.records))]
            .into_iter()
            .chain(crate::annual::kpi_cells(&exact.overall.kpis, exact))
            .collect(),
        level: Some("overall"),
        strong: true,
    }];
    if let Some(g) = group(exact, name) {
        rows.push(Row {
            cells: [Cell::new(""), Cell::new(name), Cell::count(fmt::shown_count(g.records))]
                .into_iter()
                .chain(crate::annual::kpi_cells(&g.kpis, exact))
                .collect(),
            level: Some("commissioner"),
            strong: true,
        });
    }
    for s in exact.services.iter().filter(|s| own(&s.code)) {
        rows.push(Row {
            cells: [Cell::new(s.code.clone()), Cell::new(s.name.clone()), Cell::count(fmt::shown_count(s.records))]
                .into_iter()
                .chain(crate::annual::kpi_cells(&s.kpis, exact))
                .collect(),
            level: Some("service"),
            strong: false,
        });
    }
    Block::Table(Table {
        columns,
        rows,
        caption: "Every KPI of your services (exact figures), coloured by band".into(),
        small: true,
    })
}
