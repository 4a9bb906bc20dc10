//! The definition language of KPI sets. A set is a value of these types: adding a set, or a new
//! version of one with another window, band or field list, is a new value, never engine code.
//!
//! Conditions name record fields with the dataset's [`Field`] and codes with their canonical
//! spelling; the engine checks them once when it is built ([`crate::Engine::new`]), so a typo in
//! a definition is an error, not a KPI that silently counts nothing.

use flsdb_dataset::Field;
use serde::Serialize;

/// A named, versioned list of KPIs.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiSet {
    /// The name used on the command line and in every output (`fls-db`, `iof-ctf`).
    pub name: String,
    /// The version of the definitions, stated with the results.
    pub version: String,
    /// A human title.
    pub title: String,
    pub kpis: Vec<KpiDef>,
    /// The extra denominator filter that denominator mode `recommended` applies to the KPIs whose
    /// denominator is [`Denominator::mode_sensitive`] (a drug recommended, in both built-in sets).
    pub recommended_filter: Vec<Condition>,
}

impl KpiSet {
    pub fn kpi(&self, id: &str) -> Option<&KpiDef> {
        self.kpis.iter().find(|k| k.id == id)
    }
}

/// One KPI of a set.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiDef {
    /// The id used as the JSON key and the CSV column prefix (`kpi4`).
    pub id: String,
    pub name: String,
    pub measure: Measure,
}

/// What a KPI measures, and so how the engine counts it.
#[derive(Clone, Debug, PartialEq)]
pub enum Measure {
    /// Records meeting the numerator among the records of a denominator (kpi3–kpi11).
    Proportion(Proportion),
    /// Cohort records meeting the numerator against the service's caseload pro-rated to the
    /// period (kpi2, iof1): no confidence interval, funnel or over-dispersion.
    Identification(Identification),
    /// The per-service data completeness of a field list (kpi1): a service is good or poor, and
    /// above service level the KPI is the proportion of good services.
    Completeness(Completeness),
    /// For each listed KPI, the share of its denominator records whose [`Input`] fields are all
    /// present (iof11).
    InputCompleteness { of: Vec<String> },
}

/// A proportion of records.
#[derive(Clone, Debug, PartialEq)]
pub struct Proportion {
    pub denominator: Denominator,
    /// All must hold (evaluated only on denominator records).
    pub numerator: Vec<Condition>,
    pub bands: Bands,
    /// The fields this KPI reads, for input completeness (empty when no set asks for it).
    pub inputs: Vec<Input>,
}

/// Which cohort records a proportion is taken over.
#[derive(Clone, Debug, PartialEq)]
pub struct Denominator {
    /// All must hold ("the KPI's other filters", e.g. `fracture_site` ≠ `hip`).
    pub filter: Vec<Condition>,
    /// Keep only records due and alive at this follow-up; the others are counted as `not_due`
    /// (first) or `died`.
    pub follow_up: Option<FollowUp>,
    /// Denominator mode `recommended` adds [`KpiSet::recommended_filter`] to `filter`.
    pub mode_sensitive: bool,
}

impl Denominator {
    /// Every cohort record.
    pub fn cohort() -> Self {
        Denominator { filter: Vec::new(), follow_up: None, mode_sensitive: false }
    }
}

/// A follow-up point: due when `fracture_date + due_days ≤ as_of`; alive when there is no
/// `death_date` or it is after `fracture_date + alive_days`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub due_days: i32,
    pub alive_days: i32,
}

impl FollowUp {
    /// 16 weeks (112 days).
    pub const WEEK_16: FollowUp = FollowUp { due_days: 112, alive_days: 112 };
    /// 56 weeks (392 days), the end of the 48–56 week window of the 52-week follow-up.
    pub const WEEK_52: FollowUp = FollowUp { due_days: 392, alive_days: 392 };
}

/// Cohort records meeting `numerator` against the pro-rated caseload.
#[derive(Clone, Debug, PartialEq)]
pub struct Identification {
    pub numerator: Vec<Condition>,
    pub bands: Bands,
    /// Input fields, checked over the whole cohort.
    pub inputs: Vec<Input>,
}

/// The kpi1 completeness rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Completeness {
    pub fields: Vec<CompletenessField>,
    /// A field is poor when its missing rate is strictly above this percentage (20).
    pub poor_above_percent: f64,
    /// A service is good when fewer than this many fields are poor (5).
    pub good_if_fewer_than: usize,
    /// Bands of the proportion of good services above service level.
    pub bands: Bands,
}

/// One field of the completeness rule and where it applies.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletenessField {
    pub field: Field,
    /// The field applies to the cohort records meeting all of these.
    pub when: Vec<Condition>,
    /// When given, the field applies only to services of these nations.
    pub nations: Option<Vec<String>>,
}

impl CompletenessField {
    pub fn always(field: Field) -> Self {
        CompletenessField { field, when: Vec::new(), nations: None }
    }

    pub fn when(field: Field, when: Vec<Condition>) -> Self {
        CompletenessField { field, when, nations: None }
    }
}

/// A field a KPI reads, which must be present (not empty, not `unknown`) when `when` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub field: Field,
    pub when: Vec<Condition>,
}

impl Input {
    pub fn always(field: Field) -> Self {
        Input { field, when: Vec::new() }
    }

    pub fn when(field: Field, when: Vec<Condition>) -> Self {
        Input { field, when }
    }
}

/// A test on one record. Lists of conditions are conjunctions.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The single-valued code field holds one of these codes (a missing value does not).
    CodeIn { field: Field, codes: Vec<String> },
    /// The single-valued code field does not hold any of these codes (a missing value passes).
    CodeNotIn { field: Field, codes: Vec<String> },
    /// The date field is given and `min ≤ date − fracture_date ≤ max` (days, both ends included).
    DaysWithin { field: Field, min: i32, max: i32 },
    /// `bone_therapy_recommended` holds a drug, or `therapy_16w` / `therapy_52w` is a drug.
    HoldsDrug { field: Field },
    /// Due and alive at the follow-up.
    DueAndAlive(FollowUp),
}

impl Condition {
    pub fn code_in(field: Field, codes: &[&str]) -> Self {
        Condition::CodeIn { field, codes: codes.iter().map(|c| (*c).to_owned()).collect() }
    }

    pub fn code_not_in(field: Field, codes: &[&str]) -> Self {
        Condition::CodeNotIn { field, codes: codes.iter().map(|c| (*c).to_owned()).collect() }
    }

    pub fn days_within(field: Field, min: i32, max: i32) -> Self {
        Condition::DaysWithin { field, min, max }
    }

    pub fn holds_drug(field: Field) -> Self {
        Condition::HoldsDrug { field }
    }
}

/// A RAG band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Red,
    Amber,
    Green,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Red => "red",
            Band::Amber => "amber",
            Band::Green => "green",
        }
    }
}

/// Bands on a percentage: red below the first step, then each step's band from its threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Bands {
    /// Ascending thresholds.
    pub steps: Vec<BandStep>,
}

/// From `at` percent upwards the band is `band`; a value exactly at `at` belongs to it when
/// `inclusive` (fls-db's "amber < 80 ≤ green"), else to the band below (IOF's "amber ≤ 80 < green").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandStep {
    pub at: f64,
    pub inclusive: bool,
    pub band: Band,
}

impl Bands {
    /// red < `amber` ≤ amber < `green` ≤ green (fls-db).
    pub fn lower_inclusive(amber: f64, green: f64) -> Self {
        Bands {
            steps: vec![
                BandStep { at: amber, inclusive: true, band: Band::Amber },
                BandStep { at: green, inclusive: true, band: Band::Green },
            ],
        }
    }

    /// red < `amber` ≤ amber ≤ `green` < green (IOF Capture the Fracture).
    pub fn upper_exclusive(amber: f64, green: f64) -> Self {
        Bands {
            steps: vec![
                BandStep { at: amber, inclusive: true, band: Band::Amber },
                BandStep { at: green, inclusive: false, band: Band::Green },
            ],
        }
    }

    /// red < `green` ≤ green.
    pub fn red_green(green: f64) -> Self {
        Bands { steps: vec![BandStep { at: green, inclusive: true, band: Band::Green }] }
    }

    /// The band of `numerator / denominator`, decided on the exact fraction (`100·k` against
    /// `at·n`, not on a rounded percentage); `None` when the denominator is not positive.
    pub fn classify(&self, numerator: f64, denominator: f64) -> Option<Band> {
        // Written so that NaN is rejected too.
        if denominator.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let scaled = numerator * 100.0;
        let mut band = Band::Red;
        for step in &self.steps {
            let bound = step.at * denominator;
            if scaled > bound || (step.inclusive && scaled == bound) {
                band = step.band;
            }
        }
        Some(band)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_on_the_exact_fraction() {
        let fls = Bands::lower_inclusive(50.0, 80.0);
        let iof = Bands::upper_exclusive(50.0, 80.0);
        assert_eq!(fls.classify(4.0, 5.0), Some(Band::Green), "exactly 80% is green in fls-db");
        assert_eq!(iof.classify(4.0, 5.0), Some(Band::Amber), "exactly 80% is amber in iof-ctf");
        assert_eq!(fls.classify(1.0, 2.0), Some(Band::Amber));
        assert_eq!(iof.classify(1.0, 2.0), Some(Band::Amber));
        assert_eq!(fls.classify(49_999.0, 100_000.0), Some(Band::Red));
        // 79.996% displays as 80.0 but is amber.
        assert_eq!(fls.classify(19_999.0, 25_000.0), Some(Band::Amber));
        assert_eq!(fls.classify(0.0, 0.0), None);
        let two = Bands::red_green(50.0);
        assert_eq!(two.classify(1.0, 2.0), Some(Band::Green));
        assert_eq!(two.classify(0.0, 2.0), Some(Band::Red));
        assert_eq!(two.classify(99.0, 100.0), Some(Band::Green));
    }
}
