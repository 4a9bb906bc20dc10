//! The organisation registry: services, their groupings and estimated caseloads.

use crate::codes::Setting;
use crate::values::{ServiceCode, parse_decimal};
use std::collections::BTreeMap;

/// One FLS in the registry.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub code: ServiceCode,
    pub name: String,
    /// Lower-case, spaces as `_` (`northern_ireland`); `None` puts the service in no nation.
    pub nation: Option<String>,
    pub region: Option<String>,
    pub commissioner: Option<String>,
    pub parent_org: Option<String>,
    pub setting: Option<Setting>,
    pub expected_caseload: Option<f64>,
    pub nhfd_hip_fractures: Option<f64>,
}

/// The canonical header of the services file.
pub const SERVICE_COLUMNS: [&str; 9] = [
    "service_code",
    "name",
    "nation",
    "region",
    "commissioner",
    "parent_org",
    "setting",
    "expected_caseload",
    "nhfd_hip_fractures",
];

/// A problem with one cell of a registry file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryProblem {
    pub column: &'static str,
    pub value: String,
    pub message: String,
}

fn non_blank(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn caseload_value(column: &'static str, raw: &str) -> Result<Option<f64>, RegistryProblem> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match parse_decimal(raw) {
        Ok((v, _)) if v >= 0.0 => Ok(Some(v)),
        _ => Err(RegistryProblem {
            column,
            value: raw.to_owned(),
            message: format!("{column} {raw:?} is not a number ≥ 0"),
        }),
    }
}

impl Service {
    /// Parses one row of the services file, given its cells in [`SERVICE_COLUMNS`] order.
    pub fn parse(cells: [&str; 9]) -> Result<Service, Vec<RegistryProblem>> {
        let [code, name, nation, region, commissioner, parent_org, setting, expected, nhfd] = cells;
        let mut problems = Vec::new();
        let code = ServiceCode::parse(code);
        if code.is_none() {
            problems.push(RegistryProblem {
                column: "service_code",
                value: code_text(cells[0]),
                message: "service_code is required".into(),
            });
        }
        let setting = match non_blank(setting) {
            None => None,
            Some(s) => match Setting::parse(&s) {
                Some(v) => Some(v),
                None => {
                    problems.push(RegistryProblem {
                        column: "setting",
                        message: format!("setting {s:?} is not one of: {}", Setting::expected()),
                        value: s,
                    });
                    None
                }
            },
        };
        let expected_caseload = caseload_value("expected_caseload", expected).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        let nhfd_hip_fractures = caseload_value("nhfd_hip_fractures", nhfd).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        match code {
            Some(code) if problems.is_empty() => Ok(Service {
                name: non_blank(name).unwrap_or_else(|| code.to_string()),
                code,
                nation: non_blank(nation).map(|n| n.to_lowercase().split_whitespace().collect::<Vec<_>>().join("_")),
                region: non_blank(region),
                commissioner: non_blank(commissioner),
                parent_org: non_blank(parent_org),
                setting,
                expected_caseload,
                nhfd_hip_fractures,
            }),
            _ => Err(problems),
        }
    }

    /// The estimated caseload for a year: a per-year override, else `expected_caseload`, else
    /// 5 × `nhfd_hip_fractures`; whichever source applies, 0 means unknown (no further fallback).
    pub fn caseload(&self, year: i32, overrides: &Caseloads) -> Option<f64> {
        let value =
            overrides.get(&self.code, year).or(self.expected_caseload).or(self.nhfd_hip_fractures.map(|n| 5.0 * n))?;
        (value > 0.0).then_some(value)
    }
}

fn code_text(s: &str) -> String {
    s.trim().to_owned()
}

/// Per-year caseloads from `caseloads.csv`, which win over the services file for those years.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caseloads(BTreeMap<(ServiceCode, i32), f64>);

impl Caseloads {
    pub fn get(&self, code: &ServiceCode, year: i32) -> Option<f64> {
        self.0.get(&(code.clone(), year)).copied()
    }

    /// Parses one row (`service_code,year,expected_caseload`) and adds it.
    pub fn add_row(&mut self, cells: [&str; 3]) -> Result<(), Vec<RegistryProblem>> {
        let [code, year, caseload] = cells;
        let mut problems = Vec::new();
        let code = ServiceCode::parse(code);
        if code.is_none() {
            problems.push(RegistryProblem {
                column: "service_code",
                value: String::new(),
                message: "service_code is required".into(),
            });
        }
        let year_text = year.trim();
        let year = year_text.parse::<i32>().ok().filter(|y| (1900..=2200).contains(y));
        if year.is_none() {
            problems.push(RegistryProblem {
                column: "year",
                value: year_text.to_owned(),
                message: format!("year {year_text:?} is not a four-digit year"),
            });
        }
        let caseload = match caseload_value("expected_caseload", caseload) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                problems.push(RegistryProblem {
                    column: "expected_caseload",
                    value: String::new(),
                    message: "expected_caseload is required".into(),
                });
                None
            }
            Err(p) => {
                problems.push(p);
                None
            }
        };
        match (code, year, caseload) {
            (Some(code), Some(year), Some(caseload)) => {
                if self.0.insert((code.clone(), year), caseload).is_some() {
                    return Err(vec![RegistryProblem {
                        column: "year",
                        value: year.to_string(),
                        message: format!("{code} has more than one caseload for {year}"),
                    }]);
                }
                Ok(())
            }
            _ => Err(problems),
        }
    }

    pub fn insert(&mut self, code: ServiceCode, year: i32, caseload: f64) {
        self.0.insert((code, year), caseload);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ServiceCode, i32, f64)> {
        self.0.iter().map(|((c, y), v)| (c, *y, *v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(expected: &str, nhfd: &str) -> Service {
        Service::parse([" bnt ", "Barnet", "Northern Ireland", " London ", "NCL", "", "hospital", expected, nhfd])
            .expect("valid")
    }

    #[test]
    fn normalises_codes_and_groups() {
        let s = service("", "");
        assert_eq!(s.code.as_str(), "BNT");
        assert_eq!(s.nation.as_deref(), Some("northern_ireland"));
        assert_eq!(s.region.as_deref(), Some("London"));
        assert_eq!(s.parent_org, None);
    }

    #[test]
    fn caseload_fallbacks() {
        let none = Caseloads::default();
        assert_eq!(service("400", "100").caseload(2020, &none), Some(400.0));
        assert_eq!(service("", "100").caseload(2020, &none), Some(500.0));
        assert_eq!(service("", "").caseload(2020, &none), None);
        // 0 counts as unknown, with no further fallback.
        assert_eq!(service("0", "100").caseload(2020, &none), None);
        assert_eq!(service("", "0").caseload(2020, &none), None);
        let mut overrides = Caseloads::default();
        overrides.add_row(["bnt", "2021", "250.5"]).expect("valid");
        overrides.add_row(["BNT", "2022", "0"]).expect("valid");
        assert_eq!(service("400", "").caseload(2021, &overrides), Some(250.5));
        assert_eq!(service("400", "").caseload(2020, &overrides), Some(400.0));
        assert_eq!(service("400", "").caseload(2022, &overrides), None);
        assert!(overrides.add_row(["BNT", "2021", "1"]).is_err(), "duplicate year");
        assert!(overrides.add_row(["BNT", "21", "1"]).is_err());
        assert!(overrides.add_row(["BNT", "2023", "-1"]).is_err());
    }

    #[test]
    fn bad_rows() {
        let problems = Service::parse(["", "x", "", "", "", "", "clinic", "-5", "many"]).expect_err("invalid");
        let columns: Vec<_> = problems.iter().map(|p| p.column).collect();
        assert_eq!(columns, ["service_code", "setting", "expected_caseload", "nhfd_hip_fractures"]);
    }
}
