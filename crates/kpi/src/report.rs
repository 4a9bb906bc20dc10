//! The result of a computation: exactly the JSON shape of `kpis.md` ("Machine-readable output")
//! when serialised, and the input of the CSV and terminal writers and of disclosure control.

use crate::definition::Band;
use crate::period::{DenominatorMode, Period, iso_date};
use flsdb_stats::FunnelStatus;
use flsdb_stats::overdispersion::Overdispersion;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use time::Date;

/// A figure as published: the value, or `*` where disclosure control hides it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shown<T> {
    Value(T),
    Suppressed,
}

impl<T> Shown<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Shown::Value(v) => Some(v),
            Shown::Suppressed => None,
        }
    }

    pub fn is_suppressed(&self) -> bool {
        matches!(self, Shown::Suppressed)
    }
}

impl<T: Serialize> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Value(v) => v.serialize(s),
            Shown::Suppressed => s.serialize_str("*"),
        }
    }
}

/// A denominator: a count of records or services, or a pro-rated caseload (kpi2, iof1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Count(u64),
    Decimal(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Count(n) => n as f64,
            Number::Decimal(x) => x,
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::Count(n) => s.serialize_u64(n),
            Number::Decimal(x) => s.serialize_f64(x),
        }
    }
}

/// The level of a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Overall,
    Nation,
    Region,
    Commissioner,
    Service,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Overall => "overall",
            Level::Nation => "nation",
            Level::Region => "region",
            Level::Commissioner => "commissioner",
            Level::Service => "service",
        }
    }
}

/// What an entry carries besides the common fields, by level.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoration {
    /// Commissioners, regions, nations: nothing more.
    Group,
    /// A service's funnel statuses (`null` for kpi2/iof1 and when the denominator is 0).
    Service { funnel: Option<FunnelStatus>, funnel_adjusted: Option<FunnelStatus> },
    /// The overall over-dispersion summary (`null` for kpi1, kpi2, iof1).
    Overall { overdispersion: Option<Overdispersion> },
}

/// The exact figures behind an entry, kept through disclosure control (never serialised).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact {
    pub numerator: u64,
    /// `None` for a service without a known caseload (kpi2, iof1).
    pub denominator: Option<Number>,
}

/// A proportion entry: every KPI except kpi1 at service level and iof11.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub numerator: Shown<u64>,
    pub denominator: Option<Shown<Number>>,
    /// Not rounded; `null` when the denominator is 0 or unknown.
    pub percent: Option<Shown<f64>>,
    /// Wilson 95% interval in percent; `null` for kpi2/iof1 and when the denominator is 0.
    pub ci95: Option<Shown<[f64; 2]>>,
    pub band: Option<Shown<Band>>,
    pub not_due: Shown<u64>,
    pub died: Shown<u64>,
    pub decoration: Decoration,
    pub exact: Exact,
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let extra = match self.decoration {
            Decoration::Group => 0,
            Decoration::Service { .. } => 2,
            Decoration::Overall { .. } => 1,
        };
        let mut m = s.serialize_struct("Entry", 7 + extra)?;
        m.serialize_field("numerator", &self.numerator)?;
        m.serialize_field("denominator", &self.denominator)?;
        m.serialize_field("percent", &self.percent)?;
        m.serialize_field("ci95", &self.ci95)?;
        m.serialize_field("band", &self.band)?;
        m.serialize_field("not_due", &self.not_due)?;
        m.serialize_field("died", &self.died)?;
        match &self.decoration {
            Decoration::Group => {}
            Decoration::Service { funnel, funnel_adjusted } => {
                m.serialize_field("funnel", funnel)?;
                m.serialize_field("funnel_adjusted", funnel_adjusted)?;
            }
            Decoration::Overall { overdispersion } => m.serialize_field("overdispersion", overdispersion)?,
        }
        m.end()
    }
}

/// One field's missing rate in a service's kpi1.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRate {
    pub field: &'static str,
    /// Missing ÷ applicable, a fraction in [0, 1]; `null` when the field applies to no record.
    pub rate: Option<Shown<f64>>,
    pub applies: u64,
    pub missing: u64,
    /// Strictly above the threshold.
    pub poor: bool,
}

/// kpi1 of a service: `{"good", "poor_fields", "missing_rate": {field: rate|null}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Completeness {
    /// `null` when the service has no cohort record.
    pub good: Option<bool>,
    pub poor_fields: u64,
    pub missing_rate: Vec<FieldRate>,
}

struct RateMap<'a>(&'a [FieldRate]);

impl Serialize for RateMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for f in self.0 {
            m.serialize_entry(f.field, &f.rate)?;
        }
        m.end()
    }
}

impl Serialize for Completeness {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Completeness", 3)?;
        m.serialize_field("good", &self.good)?;
        m.serialize_field("poor_fields", &self.poor_fields)?;
        m.serialize_field("missing_rate", &RateMap(&self.missing_rate))?;
        m.end()
    }
}

/// One KPI's input completeness in iof11: `{"numerator", "denominator", "percent"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputEntry {
    #[serde(skip)]
    pub kpi: String,
    pub numerator: Shown<u64>,
    pub denominator: Shown<u64>,
    pub percent: Option<Shown<f64>>,
    #[serde(skip)]
    pub exact: Exact,
}

/// The value of one KPI for one unit.
#[derive(Clone, Debug, PartialEq)]
pub enum KpiValue {
    Proportion(Entry),
    Completeness(Completeness),
    /// iof11: one entry per KPI, in set order.
    Inputs(Vec<InputEntry>),
}

impl Serialize for KpiValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KpiValue::Proportion(e) => e.serialize(s),
            KpiValue::Completeness(c) => c.serialize(s),
            KpiValue::Inputs(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for e in entries {
                    m.serialize_entry(&e.kpi, e)?;
                }
                m.end()
            }
        }
    }
}

/// The KPIs of a unit, in set order, serialised as a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kpis(pub Vec<(String, KpiValue)>);

impl Kpis {
    pub fn get(&self, id: &str) -> Option<&KpiValue> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }

    /// The proportion entry of a KPI, if it has one at this level.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        match self.get(id) {
            Some(KpiValue::Proportion(e)) => Some(e),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &KpiValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Serialize for Kpis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The whole cohort.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overall {
    pub records: Shown<u64>,
    pub kpis: Kpis,
}

/// One registered service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceRow {
    pub code: String,
    pub name: String,
    pub records: Shown<u64>,
    pub kpis: Kpis,
}

/// One commissioner, region or nation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub records: Shown<u64>,
    pub kpis: Kpis,
}

/// A KPI's id, name and shape, for headers and writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KpiColumn {
    pub id: String,
    pub name: String,
    pub kind: ColumnKind,
}

/// The shape of a KPI's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A proportion of records at every level, with funnel statuses for services.
    Proportion,
    /// Records against a pro-rated caseload (kpi2, iof1): no interval, no funnel.
    Identification,
    /// kpi1: a completeness object per service, the proportion of good services above.
    Completeness { fields: Vec<&'static str> },
    /// iof11: input completeness of the listed KPIs.
    Inputs { of: Vec<String> },
}

/// The KPI report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub kpi_set: String,
    /// The version of the set's definitions (not in the JSON, whose shape is fixed by the spec).
    #[serde(skip)]
    pub kpi_set_version: String,
    pub denominator_mode: DenominatorMode,
    pub period: Period,
    #[serde(serialize_with = "iso_date")]
    pub as_of: Date,
    /// Period records excluded by the opt-out list, across all registered services.
    pub excluded_opt_out: u64,
    /// Period records of services missing from the registry, by code; ignored by every KPI.
    #[serde(skip)]
    pub unregistered: Vec<(String, u64)>,
    /// True once disclosure control has been applied.
    #[serde(skip)]
    pub published: bool,
    #[serde(skip)]
    pub columns: Vec<KpiColumn>,
    pub overall: Overall,
    pub services: Vec<ServiceRow>,
    pub commissioners: Vec<GroupRow>,
    pub regions: Vec<GroupRow>,
    pub nations: Vec<GroupRow>,
}

/// A unit of any level, for writers that walk every row.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub level: Level,
    pub code: Option<&'a str>,
    pub name: &'a str,
    pub records: Shown<u64>,
    pub kpis: &'a Kpis,
}

/// The name shown for the overall row.
pub const OVERALL_NAME: &str = "All services";

impl Report {
    pub fn service(&self, code: &str) -> Option<&ServiceRow> {
        self.services.iter().find(|s| s.code.eq_ignore_ascii_case(code))
    }

    /// Every row: overall, nations, regions, commissioners, services.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let mut rows = vec![Row {
            level: Level::Overall,
            code: None,
            name: OVERALL_NAME,
            records: self.overall.records,
            kpis: &self.overall.kpis,
        }];
        for (level, groups) in
            [(Level::Nation, &self.nations), (Level::Region, &self.regions), (Level::Commissioner, &self.commissioners)]
        {
            rows.extend(groups.iter().map(|g| Row {
                level,
                code: None,
                name: &g.name,
                records: g.records,
                kpis: &g.kpis,
            }));
        }
        rows.extend(self.services.iter().map(|s| Row {
            level: Level::Service,
            code: Some(&s.code),
            name: &s.name,
            records: s.records,
            kpis: &s.kpis,
        }));
        rows
    }

    /// Pretty JSON of the shape in `kpis.md`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
