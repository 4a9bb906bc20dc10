//! From per-service counters to the report: services, then every higher level as sums of its
//! services' counters, then the statistics.

use crate::decorate::{self, Assessment};
use crate::definition::Bands;
use crate::engine::{Engine, Kind, slot};
use crate::period::Period;
use crate::report::*;
use flsdb_dataset::Field;
use flsdb_dataset::{Caseloads, Service, ServiceCode};
use std::collections::BTreeMap;

/// A service's estimated caseload pro-rated to the period: the sum over the calendar years y the
/// period touches of caseload(y) × (days of the period in y) / 365.25; `None` when any touched
/// year's caseload is unknown.
pub fn prorated_caseload(service: &Service, caseloads: &Caseloads, period: &Period) -> Option<f64> {
    let mut total = 0.0;
    for year in period.years() {
        let days = period.in_year(year).map_or(0, |p| p.days());
        total += service.caseload(year, caseloads)? * days as f64 / 365.25;
    }
    Some(total)
}

/// What each KPI needs computed over all services before any unit is built.
enum Prepared {
    /// Funnel statuses and over-dispersion of a proportion.
    Funnel(Assessment),
    /// kpi1 of every service.
    Completeness(Vec<Completeness>),
    Nothing,
}

struct Builder<'a, 'e> {
    engine: &'a Engine<'e>,
    counts: &'a [u64],
    records: Vec<u64>,
    caseload: Vec<Option<f64>>,
    prepared: Vec<Prepared>,
}

impl Builder<'_, '_> {
    fn slots(&self, service: usize) -> &[u64] {
        let stride = self.engine.stride;
        &self.counts[service * stride..(service + 1) * stride]
    }

    fn sum(&self, members: &[usize], at: usize) -> u64 {
        members.iter().map(|&i| self.slots(i)[at]).sum()
    }

    fn kpis(&self, members: &[usize], level: Level) -> Kpis {
        let kpis = &self.engine.kpis;
        let mut out = Vec::with_capacity(kpis.len());
        for (k, kpi) in kpis.iter().enumerate() {
            let at = kpi.offset;
            let value = match (&kpi.kind, &self.prepared[k]) {
                (Kind::Proportion { bands, .. }, prepared) => {
                    let decoration = match (level, prepared) {
                        (Level::Service, Prepared::Funnel(a)) => {
                            let f = members.first().and_then(|&i| a.services.get(i));
                            Decoration::Service {
                                funnel: f.and_then(|f| f.funnel),
                                funnel_adjusted: f.and_then(|f| f.funnel_adjusted),
                            }
                        }
                        (Level::Overall, Prepared::Funnel(a)) => {
                            Decoration::Overall { overdispersion: Some(a.overdispersion) }
                        }
                        _ => plain(level),
                    };
                    KpiValue::Proportion(proportion_entry(
                        self.sum(members, at + slot::NUMERATOR),
                        self.sum(members, at + slot::DENOMINATOR),
                        self.sum(members, at + slot::NOT_DUE),
                        self.sum(members, at + slot::DIED),
                        bands,
                        decoration,
                    ))
                }
                (Kind::Identification { bands, .. }, _) => {
                    let (numerator, denominator) = if level == Level::Service {
                        let i = members.first().copied().unwrap_or_default();
                        (self.sum(members, at + slot::ID_NUMERATOR), self.caseload.get(i).copied().flatten())
                    } else {
                        let known: Vec<usize> =
                            members.iter().copied().filter(|&i| self.caseload[i].is_some()).collect();
                        let caseload = known.iter().filter_map(|&i| self.caseload[i]).sum();
                        (self.sum(&known, at + slot::ID_NUMERATOR), Some(caseload))
                    };
                    KpiValue::Proportion(identification_entry(numerator, denominator, bands, plain(level)))
                }
                (Kind::Completeness { bands, .. }, Prepared::Completeness(services)) => {
                    if level == Level::Service {
                        let i = members.first().copied().unwrap_or_default();
                        KpiValue::Completeness(services[i].clone())
                    } else {
                        let with_records = members.iter().filter(|&&i| self.records[i] > 0).count() as u64;
                        let good = members.iter().filter(|&&i| services[i].good == Some(true)).count() as u64;
                        KpiValue::Proportion(proportion_entry(good, with_records, 0, 0, bands, plain(level)))
                    }
                }
                (Kind::Inputs { of }, _) => KpiValue::Inputs(
                    of.iter()
                        .map(|&j| {
                            let other = &kpis[j];
                            let (complete, denominator) = match other.kind {
                                Kind::Identification { .. } => (
                                    self.sum(members, other.offset + slot::ID_COMPLETE),
                                    self.sum(members, slot::RECORDS),
                                ),
                                _ => (
                                    self.sum(members, other.offset + slot::COMPLETE),
                                    self.sum(members, other.offset + slot::DENOMINATOR),
                                ),
                            };
                            InputEntry {
                                kpi: other.id.clone(),
                                numerator: Shown::Value(complete),
                                denominator: Shown::Value(denominator),
                                percent: decorate::percent(complete as f64, denominator as f64).map(Shown::Value),
                                exact: Exact { numerator: complete, denominator: Some(Number::Count(denominator)) },
                            }
                        })
                        .collect(),
                ),
                // Every completeness KPI is prepared above; nothing else reaches here.
                (Kind::Completeness { .. }, _) => continue,
            };
            out.push((kpi.id.clone(), value));
        }
        Kpis(out)
    }
}

/// The decoration of a KPI without a funnel (kpi1 above service level, kpi2, iof1): `null`
/// funnel statuses for services and `null` over-dispersion overall.
fn plain(level: Level) -> Decoration {
    match level {
        Level::Service => Decoration::Service { funnel: None, funnel_adjusted: None },
        Level::Overall => Decoration::Overall { overdispersion: None },
        _ => Decoration::Group,
    }
}

fn proportion_entry(k: u64, n: u64, not_due: u64, died: u64, bands: &Bands, decoration: Decoration) -> Entry {
    Entry {
        numerator: Shown::Value(k),
        denominator: Some(Shown::Value(Number::Count(n))),
        percent: decorate::percent(k as f64, n as f64).map(Shown::Value),
        ci95: decorate::ci95(k, n).map(Shown::Value),
        band: bands.classify(k as f64, n as f64).map(Shown::Value),
        not_due: Shown::Value(not_due),
        died: Shown::Value(died),
        decoration,
        exact: Exact { numerator: k, denominator: Some(Number::Count(n)) },
    }
}

fn identification_entry(k: u64, caseload: Option<f64>, bands: &Bands, decoration: Decoration) -> Entry {
    let d = caseload.unwrap_or(0.0);
    Entry {
        numerator: Shown::Value(k),
        denominator: caseload.map(|d| Shown::Value(Number::Decimal(d))),
        percent: decorate::percent(k as f64, d).map(Shown::Value),
        ci95: None,
        band: bands.classify(k as f64, d).map(Shown::Value),
        not_due: Shown::Value(0),
        died: Shown::Value(0),
        decoration,
        exact: Exact { numerator: k, denominator: caseload.map(Number::Decimal) },
    }
}

fn service_completeness(
    counts: &[u64],
    fields: &[Field],
    records: u64,
    poor_above_percent: f64,
    good_if_fewer_than: usize,
) -> Completeness {
    let missing_rate: Vec<FieldRate> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (applies, missing) = (counts[2 * i], counts[2 * i + 1]);
            FieldRate {
                field: f.name(),
                rate: (applies > 0).then(|| Shown::Value(missing as f64 / applies as f64)),
                applies,
                missing,
                poor: missing as f64 * 100.0 > poor_above_percent * applies as f64,
            }
        })
        .collect();
    let poor_fields = missing_rate.iter().filter(|f| f.poor).count();
    Completeness {
        good: (records > 0).then_some(poor_fields < good_if_fewer_than),
        poor_fields: poor_fields as u64,
        missing_rate,
    }
}

/// Groups services by a registry value; a blank value puts a service in no group.
fn groups<'s>(services: &[&'s Service], key: impl Fn(&'s Service) -> Option<&'s str>) -> Vec<(String, Vec<usize>)> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in services.iter().enumerate() {
        if let Some(name) = key(s).map(str::trim).filter(|n| !n.is_empty()) {
            map.entry(name).or_default().push(i);
        }
    }
    map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub(crate) fn build(engine: &Engine<'_>, counts: &[u64], unregistered: &BTreeMap<ServiceCode, u64>) -> Report {
    let setup = engine.setup();
    let services = engine.services();
    let stride = engine.stride;
    let n = services.len();
    let slots = |i: usize| &counts[i * stride..(i + 1) * stride];
    let records: Vec<u64> = (0..n).map(|i| slots(i)[slot::RECORDS]).collect();
    let excluded_opt_out = (0..n).map(|i| slots(i)[slot::OPTED_OUT]).sum();
    let caseload = if engine.kpis.iter().any(|k| matches!(k.kind, Kind::Identification { .. })) {
        services.iter().map(|s| prorated_caseload(s, setup.caseloads, &setup.period)).collect()
    } else {
        vec![None; n]
    };
    let prepared = engine
        .kpis
        .iter()
        .map(|kpi| match &kpi.kind {
            Kind::Proportion { .. } => {
                let at = kpi.offset;
                let pairs: Vec<(u64, u64)> =
                    (0..n).map(|i| (slots(i)[at + slot::NUMERATOR], slots(i)[at + slot::DENOMINATOR])).collect();
                Prepared::Funnel(decorate::assess(&pairs))
            }
            Kind::Completeness { fields, poor_above_percent, good_if_fewer_than, .. } => Prepared::Completeness(
                (0..n)
                    .map(|i| {
                        let len = 2 * fields.len();
                        let c = &slots(i)[kpi.offset..kpi.offset + len];
                        service_completeness(c, fields, records[i], *poor_above_percent, *good_if_fewer_than)
                    })
                    .collect(),
            ),
            _ => Prepared::Nothing,
        })
        .collect();
    let b = Builder { engine, counts, records, caseload, prepared };

    let all: Vec<usize> = (0..n).collect();
    let group_rows = |key: fn(&Service) -> Option<&str>, level: Level| -> Vec<GroupRow> {
        groups(services, key)
            .into_iter()
            .map(|(name, members)| GroupRow {
                records: Shown::Value(members.iter().map(|&i| b.records[i]).sum()),
                kpis: b.kpis(&members, level),
                name,
            })
            .collect()
    };
    let commissioners = group_rows(|s| s.commissioner.as_deref(), Level::Commissioner);
    let regions = group_rows(|s| s.region.as_deref(), Level::Region);
    let nations = group_rows(|s| s.nation.as_deref(), Level::Nation);
    Report {
        kpi_set: setup.set.name.clone(),
        kpi_set_version: setup.set.version.clone(),
        denominator_mode: setup.mode,
        period: setup.period,
        as_of: setup.as_of,
        excluded_opt_out,
        unregistered: unregistered.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        published: false,
        columns: engine
            .kpis
            .iter()
            .map(|k| KpiColumn {
                id: k.id.clone(),
                name: k.name.clone(),
                kind: match &k.kind {
                    Kind::Proportion { .. } => ColumnKind::Proportion,
                    Kind::Identification { .. } => ColumnKind::Identification,
                    Kind::Completeness { fields, .. } => {
                        ColumnKind::Completeness { fields: fields.iter().map(|f| f.name()).collect() }
                    }
                    Kind::Inputs { of } => {
                        ColumnKind::Inputs { of: of.iter().map(|&j| engine.kpis[j].id.clone()).collect() }
                    }
                },
            })
            .collect(),
        overall: Overall { records: Shown::Value(b.records.iter().sum()), kpis: b.kpis(&all, Level::Overall) },
        services: services
            .iter()
            .enumerate()
            .map(|(i, s)| ServiceRow {
                code: s.code.to_string(),
                name: s.name.clone(),
                records: Shown::Value(b.records[i]),
                kpis: b.kpis(&[i], Level::Service),
            })
            .collect(),
        commissioners,
        regions,
        nations,
    }
}
