//! The annual report: the audit's main public output (`flsdb report annual`).
//!
//! Published: every figure below national level goes through [`Disclosure`]; national and
//! nation figures are exact, as `kpis.md` says.

use crate::charts;
use crate::common::*;
use crate::doc::*;
use crate::fmt;
use crate::text::{self, DEFAULT_TEXT, Placeholders};
use flsdb_dataset::Service;
use flsdb_kpi::{
    Band, ColumnKind, Decoration, Disclosure, Entry, FunnelStatus, KpiSet, KpiValue, OverdispersionRule, Report, Shown,
};
use std::collections::BTreeMap;

/// What the annual report is built from.
pub struct AnnualInput<'a> {
    pub set: &'a KpiSet,
    /// The exact report of the year.
    pub report: &'a Report,
    /// The exact report of the year before, with the same as-of date.
    pub previous: &'a Report,
    /// The registry (for services per nation and region).
    pub services: &'a [Service],
    pub fingerprint: &'a str,
    /// The recommendations text (`--text`), or `None` for the built-in one.
    pub text: Option<&'a str>,
    pub disclosure: &'a Disclosure,
}

/// The annual report as a document.
pub fn annual(input: &AnnualInput<'_>) -> Document {
    let exact = input.report;
    let shown = input.disclosure.apply(exact);
    let previous = input.previous;
    let ratio = ratio_kpis(exact, input.set);
    let year = fmt::period_short(exact.period);
    let prev_year = fmt::period_short(previous.period);
    let mut blocks = Vec::new();

    blocks.extend(key_findings(input, &ratio, &year, &prev_year));
    blocks.extend(participation(input, &shown));
    for k in &ratio {
        blocks.extend(kpi_section(input, &shown, k, &year, &prev_year));
    }
    blocks.extend(recommendations(input, &ratio));
    blocks.extend(methods(input, &prev_year));
    blocks.push(services_appendix(&shown, input.set));

    let title = format!("FLS-DB annual report {year}");
    Document {
        title: title.clone(),
        cover: Cover {
            kicker: "Fracture Liaison Service Database".into(),
            title,
            subtitle: format!(
                "Secondary fracture prevention for patients aged 50 and over with a fragility fracture from {}",
                fmt::period_long(exact.period)
            ),
            facts: {
                let mut f = cover_facts(exact, input.fingerprint);
                f.insert(2, ("Compared with".into(), fmt::period_long(previous.period)));
                f
            },
            note: disclosure_sentence(input.disclosure),
            contents: true,
        },
        blocks,
        ident: format!("flsdb annual {year} as of {} {}", exact.as_of, input.fingerprint),
    }
}

/// The disclosure rule in words.
pub fn disclosure_sentence(d: &Disclosure) -> String {
    format!(
        "Published figures: below national and nation level, counts from 1 to {} are shown as *, other counts are \
         rounded to the nearest {}, and a percentage whose denominator is from 1 to {} is shown as * (with its \
         interval and band).",
        d.suppress_up_to, d.round_to, d.suppress_up_to
    )
}

fn services_with_records(report: &Report) -> usize {
    report.services.iter().filter(|s| s.records.value().is_some_and(|n| *n > 0)).count()
}

fn overall_records(report: &Report) -> u64 {
    report.overall.records.value().copied().unwrap_or(0)
}

fn key_findings(input: &AnnualInput<'_>, ratio: &[RatioKpi<'_>], year: &str, prev_year: &str) -> Vec<Block> {
    let (exact, previous) = (input.report, input.previous);
    let mut bullets: Vec<Vec<Inline>> = Vec::new();
    bullets.push(text(format!(
        "{} records of patients with a fragility fracture in {year} were submitted by {} of the {} registered \
         services ({prev_year}: {} records from {} services).",
        fmt::count(overall_records(exact)),
        services_with_records(exact),
        exact.services.len(),
        fmt::count(overall_records(previous)),
        services_with_records(previous),
    )));
    for k in ratio {
        let Some(e) = exact.overall.kpis.entry(k.id()) else { continue };
        let before = previous.overall.kpis.entry(k.id());
        let mut line = vec![Inline::Strong(k.name().to_owned()), Inline::Text(format!(" ({}) ", k.id()))];
        line.push(Inline::Text(change_phrase(before, e)));
        if let Some(b) = e.band_value() {
            line.push(Inline::Text(" ".into()));
            line.push(Inline::Band(b));
        }
        line.push(Inline::Text(".".into()));
        bullets.push(line);
    }
    if let Some((k, e)) = weakest(&exact.overall.kpis, ratio) {
        bullets.push(text(format!(
            "Nationally the KPI furthest from its green band is {} ({}), at {}.",
            k.name(),
            k.id(),
            fmt::percent(e)
        )));
    }
    let alarm_low = exact
        .services
        .iter()
        .filter(|s| {
            ratio.iter().any(|k| {
                s.kpis.entry(k.id()).is_some_and(|e| {
                    matches!(e.decoration, Decoration::Service { funnel_adjusted: Some(FunnelStatus::AlarmLow), .. })
                })
            })
        })
        .count();
    bullets.push(text(format!(
        "{alarm_low} services were below the 99.8% funnel limit (after adjustment for over-dispersion) for at least \
         one KPI."
    )));
    if let Some(e) = exact.overall.kpis.entry("kpi1") {
        bullets.push(text(format!(
            "{} of {} services with records had good data completeness (kpi1, {}).",
            e.exact.numerator,
            e.exact.denominator.map_or(0.0, |d| d.as_f64()),
            fmt::percent(e)
        )));
    }

    let mut table = Table {
        columns: vec![
            Column::left("KPI"),
            Column::wide("Name"),
            Column::right(prev_year.to_owned()),
            Column::right(year.to_owned()),
            Column::right("Change"),
            Column::right("95% CI"),
        ],
        caption: format!("National KPIs, {prev_year} and {year}"),
        ..Table::default()
    };
    for k in ratio {
        let now = exact.overall.kpis.entry(k.id());
        let before = previous.overall.kpis.entry(k.id());
        table.rows.push(Row {
            cells: vec![
                Cell::new(k.id()),
                Cell::new(k.name()),
                Cell::banded(fmt::percent_of(before), before.and_then(Entry::band_value)),
                Cell::banded(fmt::percent_of(now), now.and_then(Entry::band_value)),
                Cell::new(change_pp(before, now)),
                Cell::new(now.map(fmt::ci).unwrap_or_default().replace("95% CI ", "")),
            ],
            level: Some("overall"),
            strong: false,
        });
    }
    vec![
        heading(1, "Key findings"),
        Block::Bullets(bullets),
        Block::Table(table),
        Block::Note(text(format!(
            "Both periods use the same as-of date ({}), so follow-up KPIs of {year} are less complete than those of \
             {prev_year} when the as-of date is early: see the not-yet-due counts of each KPI.",
            fmt::date_long(exact.as_of)
        ))),
    ]
}

/// Registered services per group name, from the registry.
fn services_per(services: &[Service], key: impl Fn(&Service) -> Option<&String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in services {
        if let Some(k) = key(s) {
            *out.entry(k.clone()).or_insert(0) += 1;
        }
    }
    out
}

fn participation(input: &AnnualInput<'_>, shown: &Report) -> Vec<Block> {
    let exact = input.report;
    let mut blocks = vec![
        heading(1, "Participation"),
        Block::Tiles(vec![
            Tile {
                label: "Registered services".into(),
                value: exact.services.len().to_string(),
                detail: format!("{} submitted records", services_with_records(exact)),
                band: None,
            },
            Tile {
                label: "Records in the cohort".into(),
                value: fmt::count(overall_records(exact)),
                detail: format!("previous period {}", fmt::count(overall_records(input.previous))),
                band: None,
            },
            Tile {
                label: "Opted out".into(),
                value: fmt::count(exact.excluded_opt_out),
                detail: "records excluded from every KPI".into(),
                band: None,
            },
        ]),
    ];
    let per_nation = services_per(input.services, |s| s.nation.as_ref());
    let mut nations = Table {
        columns: vec![
            Column::wide("Nation"),
            Column::right("Services"),
            Column::right("Records"),
            Column::right("Good data (kpi1)"),
        ],
        caption: "Records per nation".into(),
        ..Table::default()
    };
    for n in &shown.nations {
        nations.rows.push(Row {
            cells: vec![
                Cell::new(fmt::nation_name(&n.name)),
                Cell::new(per_nation.get(&n.name).copied().unwrap_or(0).to_string()),
                Cell::count(fmt::shown_count(n.records)),
                Cell::new(n.kpis.entry("kpi1").map(fmt::percent).unwrap_or_else(|| "–".into())),
            ],
            level: Some("nation"),
            strong: false,
        });
    }
    nations.rows.push(Row {
        cells: vec![
            Cell::new("All nations"),
            Cell::new(exact.services.len().to_string()),
            Cell::count(fmt::count(overall_records(exact))),
            Cell::new(exact.overall.kpis.entry("kpi1").map(fmt::percent).unwrap_or_else(|| "–".into())),
        ],
        level: Some("overall"),
        strong: true,
    });
    blocks.push(Block::Table(nations));

    let per_region = services_per(input.services, |s| s.region.as_ref());
    let mut regions = Table {
        columns: vec![Column::wide("Region"), Column::right("Services"), Column::right("Records")],
        caption: "Records per region (published: rounded to the nearest 5, 1–7 shown as *)".into(),
        ..Table::default()
    };
    for r in &shown.regions {
        regions.rows.push(Row {
            cells: vec![
                Cell::new(r.name.clone()),
                Cell::new(per_region.get(&r.name).copied().unwrap_or(0).to_string()),
                Cell::count(fmt::shown_count(r.records)),
            ],
            level: Some("region"),
            strong: false,
        });
    }
    blocks.push(Block::Table(regions));
    blocks.extend(completeness(input));
    blocks
}

/// kpi1 (fls-db) or iof11 (iof-ctf): data completeness.
fn completeness(input: &AnnualInput<'_>) -> Vec<Block> {
    let exact = input.report;
    let mut blocks = vec![heading(2, "Data completeness")];
    for column in &exact.columns {
        match &column.kind {
            ColumnKind::Completeness { fields } => {
                if let Some(e) = exact.overall.kpis.entry(&column.id) {
                    let mut p = text(format!(
                        "{} ({}): {} of {} services with records in the period had good data completeness, {}",
                        column.name,
                        column.id,
                        e.exact.numerator,
                        e.exact.denominator.map_or(0.0, |d| d.as_f64()),
                        fmt::percent(e)
                    ));
                    if let Some(b) = e.band_value() {
                        p.push(Inline::Text(" ".into()));
                        p.push(Inline::Band(b));
                    }
                    p.push(Inline::Text(
                        ". A service has good data when fewer than five of the fields below are missing in more than \
                         20% of the records they apply to."
                            .into(),
                    ));
                    blocks.push(Block::Paragraph(p));
                }
                // Services per field whose missing rate is above the threshold: counts of services,
                // not patients, so not subject to disclosure control.
                let mut poor: Vec<(&str, usize)> = fields
                    .iter()
                    .map(|f| {
                        let n = exact
                            .services
                            .iter()
                            .filter(|s| match s.kpis.get(&column.id) {
                                Some(KpiValue::Completeness(c)) => {
                                    c.missing_rate.iter().any(|r| r.field == *f && r.poor)
                                }
                                _ => false,
                            })
                            .count();
                        (*f, n)
                    })
                    .collect();
                poor.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let table = Table {
                    columns: vec![Column::wide("Field"), Column::right("Services with > 20% missing")],
                    rows: poor
                        .iter()
                        .map(|(f, n)| Row { cells: vec![Cell::new(*f), Cell::new(n.to_string())], ..Row::default() })
                        .collect(),
                    caption: "Fields most often incomplete".into(),
                    small: true,
                };
                blocks.push(Block::Table(table));
            }
            ColumnKind::Inputs { .. } => {
                if let Some(KpiValue::Inputs(entries)) = exact.overall.kpis.get(&column.id) {
                    let table = Table {
                        columns: vec![
                            Column::left("KPI"),
                            Column::right("Complete"),
                            Column::right("Records"),
                            Column::right("Percent"),
                        ],
                        rows: entries
                            .iter()
                            .map(|e| Row {
                                cells: vec![
                                    Cell::new(e.kpi.clone()),
                                    Cell::count(fmt::shown_count(e.numerator)),
                                    Cell::count(fmt::shown_count(e.denominator)),
                                    Cell::new(match e.percent {
                                        Some(Shown::Value(p)) => format!("{}%", flsdb_kpi::format_percent(p)),
                                        Some(Shown::Suppressed) => "*".into(),
                                        None => "–".into(),
                                    }),
                                ],
                                level: Some("overall"),
                                strong: false,
                            })
                            .collect(),
                        caption: format!("{} ({}): records whose input fields are all present", column.name, column.id),
                        small: false,
                    };
                    blocks.push(Block::Table(table));
                }
            }
            _ => {}
        }
    }
    blocks
}

fn band_counts(shown: &Report, kpi: &str) -> String {
    let mut counts = [0usize; 4];
    for s in &shown.services {
        match s.kpis.entry(kpi).and_then(Entry::band_value) {
            Some(Band::Green) => counts[0] += 1,
            Some(Band::Amber) => counts[1] += 1,
            Some(Band::Red) => counts[2] += 1,
            None => counts[3] += 1,
        }
    }
    format!(
        "Services: {} green, {} amber, {} red, {} without a value (no records in the denominator, or fewer than 8).",
        counts[0], counts[1], counts[2], counts[3]
    )
}

fn status_counts(exact: &Report, kpi: &str, adjusted: bool) -> (usize, usize) {
    let (mut low, mut high) = (0, 0);
    for s in &exact.services {
        if let Some(Entry { decoration: Decoration::Service { funnel, funnel_adjusted }, .. }) = s.kpis.entry(kpi) {
            match if adjusted { funnel_adjusted } else { funnel } {
                Some(FunnelStatus::AlarmLow) => low += 1,
                Some(FunnelStatus::AlarmHigh) => high += 1,
                _ => {}
            }
        }
    }
    (low, high)
}

/// The over-dispersion note under a funnel plot.
pub fn overdispersion_note(exact: &Report, kpi: &str) -> Option<Block> {
    let e = exact.overall.kpis.entry(kpi)?;
    let Decoration::Overall { overdispersion: Some(od) } = &e.decoration else { return None };
    let (low, high) = status_counts(exact, kpi, false);
    let (low_adj, high_adj) = status_counts(exact, kpi, true);
    let text = match (od.rule, od.phi, od.tau2) {
        (OverdispersionRule::Additive, Some(phi), Some(tau2)) => format!(
            "Over-dispersion: φ = {phi:.2} over {} services with a denominator of at least 10, so the services vary \
             more than chance alone explains; the dotted limits are widened by the additive method (τ² = {tau2:.5}). \
             Below the 99.8% limit: {low} services ({low_adj} after adjustment); above it: {high} ({high_adj} after \
             adjustment).",
            od.units
        ),
        (_, Some(phi), _) => format!(
            "Over-dispersion: φ = {phi:.2} over {} services with a denominator of at least 10: no more variation than \
             chance explains, so the exact limits are used unadjusted. Below the 99.8% limit: {low} services; above \
             it: {high}.",
            od.units
        ),
        _ => format!(
            "Over-dispersion could not be estimated ({} services with a denominator of at least 10). Below the 99.8% \
             limit: {low} services; above it: {high}.",
            od.units
        ),
    };
    Some(Block::Note(crate::doc::text(text)))
}

fn kpi_section(input: &AnnualInput<'_>, shown: &Report, k: &RatioKpi<'_>, year: &str, prev_year: &str) -> Vec<Block> {
    let exact = input.report;
    let mut blocks = vec![heading(1, k.title()), definition(k, input.set, exact.denominator_mode)];
    let Some(e) = exact.overall.kpis.entry(k.id()) else { return blocks };
    let before = input.previous.overall.kpis.entry(k.id());
    let denominator = match e.exact.denominator {
        Some(flsdb_kpi::Number::Count(n)) => fmt::count(n),
        Some(flsdb_kpi::Number::Decimal(d)) => format!("{} (pro-rated caseload)", fmt::count(d.round() as u64)),
        None => "–".into(),
    };
    blocks.push(Block::Tiles(vec![
        Tile {
            label: format!("National {year}"),
            value: fmt::percent(e),
            detail: if k.identification() { String::new() } else { fmt::ci(e) },
            band: e.band_value(),
        },
        Tile {
            label: "Numerator / denominator".into(),
            value: fmt::count(e.exact.numerator),
            detail: format!("of {denominator}"),
            band: None,
        },
        Tile {
            label: format!("National {prev_year}"),
            value: fmt::percent_of(before),
            detail: format!("change {}", change_pp(before, Some(e))),
            band: before.and_then(Entry::band_value),
        },
    ]));
    let (not_due, died) = (e.not_due.value().copied().unwrap_or(0), e.died.value().copied().unwrap_or(0));
    blocks.push(Block::Paragraph(text(format!(
        "Excluded from the denominator nationally: not yet due {}, died {}; opted out (excluded from every KPI) {}. {}",
        fmt::count(not_due),
        fmt::count(died),
        fmt::count(exact.excluded_opt_out),
        band_counts(shown, k.id())
    ))));
    let rows = charts::service_rows(shown, k.id(), |_| true);
    let many = rows.len() > 30;
    let caterpillar = Block::Figure(Figure {
        name: format!("{}-caterpillar.svg", k.id()),
        svg: charts::caterpillar(&rows, fmt::percent_value(e), &format!("{}: services by value", k.title())),
        caption: format!(
            "{}: each service's value{} coloured by band, highest first; the dashed line is the national value.",
            k.title(),
            if k.identification() { "" } else { " with its 95% confidence interval," }
        ),
        width: 1.0,
    });
    let mut funnel = Vec::new();
    if !k.identification()
        && let Some(svg) = charts::funnel(
            exact,
            k.id(),
            &format!("{}: funnel plot", k.title()),
            |_| false,
            false,
            Some(input.disclosure),
        )
    {
        funnel.push(Block::Figure(Figure {
            name: format!("{}-funnel.svg", k.id()),
            svg,
            caption: format!(
                "{}: services against the number of patients in their denominator, with 95% and 99.8% limits around \
                 the national value.",
                k.title()
            ),
            width: 0.9,
        }));
        funnel.extend(overdispersion_note(exact, k.id()));
    }
    // A caterpillar plot of many services fills a page of its own: the funnel plot goes first, on
    // the page of the KPI's figures, rather than leaving that page half empty.
    if many {
        blocks.extend(funnel);
        blocks.push(caterpillar);
    } else {
        blocks.push(caterpillar);
        blocks.extend(funnel);
    }
    blocks
}

/// Placeholder values for the recommendations text.
pub fn placeholders(report: &Report, previous: Option<&Report>, ratio: &[RatioKpi<'_>]) -> Placeholders {
    let weakest = weakest(&report.overall.kpis, ratio)
        .map(|(k, e)| format!("{} ({}, {} nationally)", k.name(), k.id(), fmt::percent(e)))
        .unwrap_or_else(|| "–".into());
    Placeholders {
        pairs: vec![
            ("year", fmt::period_short(report.period)),
            ("previous_year", previous.map(|p| fmt::period_short(p.period)).unwrap_or_default()),
            ("period", fmt::period_long(report.period)),
            ("as_of", fmt::date_long(report.as_of)),
            ("weakest_kpi", weakest),
            ("services", report.services.len().to_string()),
            ("records", fmt::count(overall_records(report))),
        ],
    }
}

fn recommendations(input: &AnnualInput<'_>, ratio: &[RatioKpi<'_>]) -> Vec<Block> {
    let ph = placeholders(input.report, Some(input.previous), ratio);
    let sections = text::parse(input.text.unwrap_or(DEFAULT_TEXT), &ph);
    let mut blocks = vec![heading(1, "Recommendations")];
    for s in sections {
        if !s.title.is_empty() {
            blocks.push(heading(2, s.title.clone()));
        }
        blocks.extend(s.blocks);
    }
    blocks
}

fn methods(input: &AnnualInput<'_>, prev_year: &str) -> Vec<Block> {
    let exact = input.report;
    vec![
        heading(1, "Appendix A: Methods"),
        Block::Bullets(vec![
            text(format!("Dataset: FLS-DB dataset version {}.", flsdb_dataset::DATASET_VERSION)),
            text(format!("KPI set: {} ({}), {}.", input.set.name, input.set.version, input.set.title)),
            text(format!(
                "Period: fracture dates from {}; compared with {} ({prev_year}).",
                fmt::period_long(exact.period),
                fmt::period_long(input.previous.period)
            )),
            text(format!(
                "As-of date (data snapshot) {}: it decides which follow-ups are due; records are used as they are.",
                fmt::date_long(exact.as_of)
            )),
            text(format!(
                "Cohort: the period's records whose NHS number is not on the national opt-out list ({} records \
                 excluded). Denominator mode: {} (kpi9–kpi11 {}).",
                fmt::count(exact.excluded_opt_out),
                exact.denominator_mode,
                if exact.denominator_mode == flsdb_kpi::DenominatorMode::All {
                    "over all due and alive records, as in the public benchmark tables"
                } else {
                    "only over records with a bone therapy drug recommended"
                }
            )),
            text(disclosure_sentence(input.disclosure)),
        ]),
        heading(2, "KPI definitions"),
        Block::Table(definitions_table(input.set, exact.denominator_mode)),
        heading(2, "Statistics"),
        statistics_bullets(),
        fingerprint_note(input.fingerprint),
        Block::Note(text(format!("Produced by flsdb {} (flsdb report annual).", env!("CARGO_PKG_VERSION")))),
    ]
}

/// The per-service table: every KPI with its band (published figures).
fn services_appendix(shown: &Report, set: &KpiSet) -> Block {
    let mut columns = vec![Column::left("Code"), Column::wide("Service"), Column::right("Records")];
    for c in &shown.columns {
        if matches!(c.kind, ColumnKind::Inputs { .. }) {
            continue;
        }
        columns.push(Column::right(c.id.clone()));
    }
    let mut rows = Vec::new();
    let national = Row {
        cells: std::iter::once(Cell::new(""))
            .chain(std::iter::once(Cell::new("National")))
            .chain(std::iter::once(Cell::count(fmt::shown_count(shown.overall.records))))
            .chain(kpi_cells(&shown.overall.kpis, shown))
            .collect(),
        level: Some("overall"),
        strong: true,
    };
    rows.push(national);
    for s in &shown.services {
        rows.push(Row {
            cells: [Cell::new(s.code.clone()), Cell::new(s.name.clone()), Cell::count(fmt::shown_count(s.records))]
                .into_iter()
                .chain(kpi_cells(&s.kpis, shown))
                .collect(),
            level: Some("service"),
            strong: false,
        });
    }
    let names: Vec<String> = set
        .kpis
        .iter()
        .filter(|k| !matches!(k.measure, flsdb_kpi::Measure::InputCompleteness { .. }))
        .map(|k| format!("{} {}", k.id, k.name))
        .collect();
    Block::Landscape(vec![
        heading(1, "Appendix B: Results by service"),
        Block::Note(text(format!(
            "Percentages coloured by band; kpi1 is good or poor data completeness. Counts of 1–7 are shown as * and \
             others rounded to the nearest 5; a percentage over a denominator of 1–7 is shown as *. KPIs: {}.",
            names.join("; ")
        ))),
        Block::Table(Table { columns, rows, caption: String::new(), small: true }),
    ])
}

/// One cell per KPI column except input completeness.
pub fn kpi_cells(kpis: &flsdb_kpi::Kpis, report: &Report) -> Vec<Cell> {
    report
        .columns
        .iter()
        .filter(|c| !matches!(c.kind, ColumnKind::Inputs { .. }))
        .map(|c| match kpis.get(&c.id) {
            Some(KpiValue::Proportion(e)) => Cell::banded(fmt::percent(e), e.band_value()),
            Some(KpiValue::Completeness(cm)) => Cell::new(match cm.good {
                Some(true) => "good",
                Some(false) => "poor",
                None => "–",
            }),
            _ => Cell::new("–"),
        })
        .collect()
}
