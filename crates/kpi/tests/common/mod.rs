//! Test helpers: records built through the dataset's own parser (so test data is always valid),
//! a registry, and one-call KPI runs.
#![allow(dead_code)]

use flsdb_dataset::{Caseloads, Field, NhsNumber, Record, Service, Validation, parse_record};
use flsdb_kpi::{DenominatorMode, Engine, KpiSet, Period, Report, Setup, set_by_name};
use std::collections::HashSet;
use time::Date;
use time::macros::date;

pub const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };

/// A record of service `AAA`, born 1940-01-01, wrist fracture on 2019-06-01, with `cells`
/// (canonical field names) overriding or adding values.
pub fn rec(cells: &[(&str, &str)]) -> Record {
    try_rec(cells).unwrap_or_else(|problems| panic!("invalid test record {cells:?}: {problems:?}"))
}

pub fn try_rec(cells: &[(&str, &str)]) -> Result<Record, Vec<flsdb_dataset::Problem>> {
    let mut row: [&str; Field::COUNT] = [""; Field::COUNT];
    row[Field::ServiceCode.index()] = "AAA";
    row[Field::LocalId.index()] = "L1";
    row[Field::DateOfBirth.index()] = "1940-01-01";
    row[Field::FractureDate.index()] = "2019-06-01";
    row[Field::FractureSite.index()] = "wrist";
    for (name, value) in cells {
        let field = Field::from_header(name).unwrap_or_else(|| panic!("no field {name}"));
        row[field.index()] = value;
    }
    parse_record(&row, RULES).map(|v| v.record)
}

/// `date + days` as `YYYY-MM-DD`.
pub fn plus(date: Date, days: i64) -> String {
    flsdb_dataset::values::format_date(date + time::Duration::days(days))
}

/// A registered service: `nation` as in the registry file, caseload as `expected_caseload`.
pub fn service(code: &str, nation: &str, region: &str, commissioner: &str, caseload: &str) -> Service {
    Service::parse([code, &format!("{code} hospital"), nation, region, commissioner, "", "hospital", caseload, ""])
        .unwrap_or_else(|p| panic!("invalid service: {p:?}"))
}

/// A valid test-range NHS number (900–999), the `i`-th of a fixed sequence.
pub fn nhs(i: u32) -> String {
    let mut n = 900_000_000u64 + u64::from(i) * 7919;
    loop {
        let digits: Vec<u32> = format!("{n:09}").chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = digits.iter().enumerate().map(|(k, d)| d * (10 - k as u32)).sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => {
                n += 1;
                continue;
            }
            d => d,
        };
        return format!("{n:09}{check}");
    }
}

pub fn nhs_number(s: &str) -> NhsNumber {
    NhsNumber::parse(s, true).expect("valid NHS number")
}

/// The inputs of a run, with defaults: fls-db, services AAA (england, 100/year), period 2019,
/// as-of 2021-03-31, mode all, no opt-outs.
pub struct Run {
    pub set: KpiSet,
    pub services: Vec<Service>,
    pub caseloads: Caseloads,
    pub opt_outs: HashSet<NhsNumber>,
    pub period: Period,
    pub as_of: Date,
    pub mode: DenominatorMode,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            set: set_by_name("fls-db").expect("fls-db"),
            services: vec![service("AAA", "England", "London", "NCL", "100")],
            caseloads: Caseloads::default(),
            opt_outs: HashSet::new(),
            period: Period::calendar_year(2019).expect("year"),
            as_of: date!(2021 - 03 - 31),
            mode: DenominatorMode::All,
        }
    }
}

impl Run {
    pub fn iof() -> Self {
        Run { set: set_by_name("iof-ctf").expect("iof-ctf"), ..Run::default() }
    }

    pub fn setup(&self) -> Setup<'_> {
        Setup {
            set: &self.set,
            services: &self.services,
            caseloads: &self.caseloads,
            opt_outs: &self.opt_outs,
            period: self.period,
            as_of: self.as_of,
            mode: self.mode,
        }
    }

    pub fn report(&self, records: &[Record]) -> Report {
        Engine::new(self.setup()).expect("engine").compute(records)
    }

    /// The report as JSON.
    pub fn json(&self, records: &[Record]) -> serde_json::Value {
        serde_json::to_value(self.report(records)).expect("json")
    }
}

/// `(numerator, denominator, not_due, died)` of a KPI at a JSON unit.
pub fn counts(unit: &serde_json::Value, kpi: &str) -> (u64, u64, u64, u64) {
    let e = &unit["kpis"][kpi];
    let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{kpi}.{k} is not a count: {e}"));
    (n("numerator"), n("denominator"), n("not_due"), n("died"))
}

/// The first service of a JSON report.
pub fn first_service(json: &serde_json::Value) -> &serde_json::Value {
    &json["services"][0]
}
