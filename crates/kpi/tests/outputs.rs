//! Writers (CSV, terminal table), disclosure control, SPC series and sets as data.

mod common;

use common::*;
use flsdb_dataset::Field;
use flsdb_kpi::definition::{Denominator, Proportion};
use flsdb_kpi::*;
use serde_json::json;
use time::macros::date;

/// Service AAA: 12 records, 9 assessed within 90 days (one at day 91); BBB: 3 records, 1
/// assessed; CCC: none.
fn fixture() -> (Run, Vec<flsdb_dataset::Record>) {
    let run = Run {
        services: vec![
            service("AAA", "England", "North", "Comm, \"A\"", "20"),
            service("BBB", "England", "North", "Comm B", "3"),
            service("CCC", "Wales", "", "", ""),
        ],
        ..Run::default()
    };
    let mut rs = Vec::new();
    for i in 0..12 {
        let fracture = if i < 6 { date!(2019 - 06 - 01) } else { date!(2019 - 07 - 15) };
        let assessed = match i {
            0..9 => plus(fracture, 9),
            9 => plus(fracture, 91),
            _ => String::new(),
        };
        rs.push(rec(&[("fls_assessment_date", &assessed), ("fracture_date", &plus(fracture, 0))]));
    }
    for i in 0..3 {
        rs.push(rec(&[("service_code", "BBB"), ("fls_assessment_date", if i == 0 { "2019-06-02" } else { "" })]));
    }
    (run, rs)
}

#[test]
fn csv_has_one_row_per_unit_with_flattened_names() {
    let (run, rs) = fixture();
    let report = run.report(&rs);
    let csv = to_csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..4], ["level", "code", "name", "records"]);
    for col in ["kpi4_numerator", "kpi4_denominator", "kpi4_percent", "kpi4_ci95_lower", "kpi4_band", "kpi4_funnel"] {
        assert!(header.contains(&col), "{col}");
    }
    assert!(header.contains(&"kpi1_missing_rate_nhs_number") && header.contains(&"kpi1_good"));
    assert_eq!(header.last(), Some(&"as_of"));
    // overall, 2 nations, 1 region, 2 commissioners, 3 services.
    assert_eq!(lines.len(), 1 + 1 + 2 + 1 + 2 + 3);
    assert!(lines[1].starts_with("overall,,All services,15,"));
    assert!(csv.contains("commissioner,,\"Comm, \"\"A\"\"\",12,"), "{csv}");
    let service_row = lines.iter().find(|l| l.starts_with("service,AAA,")).expect("AAA");
    let cells: Vec<&str> = service_row.split(',').collect();
    let at = |name: &str| cells[header.iter().position(|h| *h == name).expect("column")];
    assert_eq!(at("kpi4_numerator"), "9");
    assert_eq!(at("kpi4_denominator"), "12");
    assert_eq!(at("kpi4_percent"), "75");
    assert_eq!(at("kpi4_band"), "amber");
    assert_eq!(at("kpi4_funnel"), "within");
    assert_eq!(at("kpi1_good"), "false");
    assert_eq!(at("kpi9_not_due"), "0");
    assert_eq!(at("kpi_set"), "fls-db");
    assert_eq!(at("denominator_mode"), "all");
    let ccc = lines.iter().find(|l| l.starts_with("service,CCC,")).expect("CCC");
    let cells: Vec<&str> = ccc.split(',').collect();
    assert_eq!(cells[header.iter().position(|h| *h == "kpi4_percent").expect("column")], "");
}

#[test]
fn table_puts_the_national_row_first_and_rounds_half_away_from_zero() {
    let (run, rs) = fixture();
    let report = run.report(&rs);
    let plain = to_table(&report, &TableOptions::default());
    let rows: Vec<&str> = plain.lines().skip_while(|l| !l.starts_with("level")).collect();
    assert!(rows[1].starts_with("overall"), "{plain}");
    // Overall kpi4: 10/15 = 66.7.
    assert!(rows[1].contains("66.7"), "{plain}");
    assert!(plain.contains("denominator mode all"));
    assert!(plain.contains("kpi4   FLS assessment within 90 days"));
    assert!(!plain.contains('\x1b'));
    let coloured = to_table(&report, &TableOptions { color: true, ..TableOptions::default() });
    assert!(coloured.contains("\x1b[33m"), "amber in yellow");
    let services_only = to_table(&report, &TableOptions { levels: vec![Level::Service], ..TableOptions::default() });
    assert!(!services_only.lines().any(|l| l.starts_with("overall")));
}

#[test]
fn disclosure_control_below_nation_level() {
    let (run, rs) = fixture();
    let exact = run.report(&rs);
    let published = Disclosure::default().apply(&exact);
    assert!(published.published);
    let j = serde_json::to_value(&published).expect("json");
    // Overall and nations stay exact.
    assert_eq!(j["overall"]["records"], 15);
    assert_eq!(j["overall"]["kpis"]["kpi4"]["numerator"], 10);
    assert_eq!(j["nations"][0]["kpis"]["kpi4"]["denominator"], 15);
    // AAA: 12 records → 10; numerator 9 → 10; the percent stays exact.
    let aaa = &j["services"][0];
    assert_eq!(aaa["records"], 10);
    assert_eq!(aaa["kpis"]["kpi4"]["numerator"], 10);
    assert_eq!(aaa["kpis"]["kpi4"]["denominator"], 10);
    assert_eq!(aaa["kpis"]["kpi4"]["percent"], json!(75.0));
    // BBB: 3 records → *, and the percent, interval and band over 3 → *.
    let bbb = &j["services"][1];
    assert_eq!(bbb["records"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["numerator"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["denominator"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["percent"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["ci95"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["band"], "*");
    assert_eq!(bbb["kpis"]["kpi4"]["funnel"], "too_few");
    assert_eq!(bbb["kpis"]["kpi1"]["missing_rate"]["sex"], "*");
    // A zero stays zero; CCC has nothing.
    assert_eq!(j["services"][2]["records"], 0);
    assert_eq!(j["services"][2]["kpis"]["kpi4"]["percent"], json!(null));
    // The caseload denominator of kpi2 (about 3) hides the percent; it is not a count.
    assert_eq!(bbb["kpis"]["kpi2"]["percent"], "*");
    assert!(bbb["kpis"]["kpi2"]["denominator"].is_f64());
    // Commissioners are protected; kpi1 above service level counts services and stays exact.
    assert_eq!(j["commissioners"][0]["name"], "Comm B");
    assert_eq!(j["commissioners"][0]["records"], "*");
    assert_eq!(j["commissioners"][0]["kpis"]["kpi1"]["denominator"], 1);
    // Applying twice changes nothing; the CSV and table show the stars.
    assert_eq!(Disclosure::default().apply(&published), published);
    assert!(to_csv(&published).contains("service,BBB,BBB hospital,*,"));
    assert!(to_table(&published, &TableOptions::default()).contains("small numbers suppressed"));
    // A looser rule.
    let rule = Disclosure { suppress_up_to: 2, round_to: 1, ..Disclosure::default() };
    let j = serde_json::to_value(rule.apply(&exact)).expect("json");
    assert_eq!(j["services"][1]["records"], 3);
    assert_eq!(j["services"][0]["kpis"]["kpi4"]["numerator"], 9);
}

#[test]
fn monthly_series_for_spc() {
    let (run, rs) = fixture();
    let engine = Engine::new(run.setup()).expect("engine");
    let points = monthly_series(&engine, &rs, "aaa", "kpi4").expect("series");
    assert_eq!(points.len(), 12);
    assert_eq!((points[5].from, points[5].to), (date!(2019 - 06 - 01), date!(2019 - 06 - 30)));
    assert_eq!((points[5].numerator, points[5].denominator), (6, Some(6.0)));
    assert_eq!((points[6].numerator, points[6].denominator), (3, Some(6.0)));
    assert_eq!(points[0].denominator, Some(0.0));
    assert_eq!(points[0].percent, None);
    assert_eq!(points[6].percent, Some(50.0));
    // The months add up to the report.
    let report = engine.compute(&rs);
    let e = report.service("AAA").and_then(|s| s.kpis.entry("kpi4")).expect("entry");
    assert_eq!(Some(points.iter().map(|p| p.numerator).sum::<u64>()), e.numerator.value().copied());
    // kpi2 per month uses the caseload pro-rated to the month.
    let kpi2 = monthly_series(&engine, &rs, "AAA", "kpi2").expect("series");
    let june = kpi2[5].denominator.expect("caseload");
    assert!((june - 20.0 * 30.0 / 365.25).abs() < 1e-12);
    assert_eq!(monthly_series(&engine, &rs, "CCC", "kpi2").expect("series")[0].denominator, None);
    assert!(matches!(monthly_series(&engine, &rs, "XXX", "kpi4"), Err(KpiError::UnknownService(_))));
    assert!(matches!(monthly_series(&engine, &rs, "AAA", "kpi99"), Err(KpiError::UnknownKpi(_))));
    assert!(matches!(monthly_series(&engine, &rs, "AAA", "kpi1"), Err(KpiError::NoSeries(_))));
}

#[test]
fn a_new_version_of_a_set_is_data() {
    // kpi4 with a 30-day window and IOF-style bands, without touching the engine.
    let mut set = set_by_name("fls-db").expect("fls-db");
    set.version = "fls-db/2-test".into();
    let kpi4 = set.kpis.iter_mut().find(|k| k.id == "kpi4").expect("kpi4");
    kpi4.measure = Measure::Proportion(Proportion {
        denominator: Denominator::cohort(),
        numerator: vec![Condition::days_within(Field::FlsAssessmentDate, 0, 30)],
        bands: Bands::upper_exclusive(50.0, 80.0),
        inputs: Vec::new(),
    });
    let (run, rs) = fixture();
    let run = Run { set, ..run };
    let report = run.report(&rs);
    assert_eq!(report.kpi_set_version, "fls-db/2-test");
    let e = report.service("AAA").and_then(|s| s.kpis.entry("kpi4")).expect("kpi4");
    assert_eq!(e.numerator, Shown::Value(9));
}

#[test]
fn invalid_definitions_are_errors() {
    let bad = |c: Condition| {
        let mut set = set_by_name("fls-db").expect("fls-db");
        if let Measure::Proportion(p) = &mut set.kpis[3].measure {
            p.numerator = vec![c];
        }
        let run = Run { set, ..Run::default() };
        Engine::new(run.setup()).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(bad(Condition::code_in(Field::FractureSite, &["knee"])).is_err());
    assert!(bad(Condition::code_in(Field::FlsAssessmentDate, &["yes"])).is_err());
    assert!(bad(Condition::days_within(Field::Sex, 0, 1)).is_err());
    assert!(bad(Condition::days_within(Field::DxaDate, 5, 1)).is_err());
    assert!(bad(Condition::holds_drug(Field::Dxa)).is_err());
    assert!(bad(Condition::code_in(Field::Therapy16w, &["Not started"])).is_err(), "codes, not labels");
    assert!(bad(Condition::code_in(Field::Therapy16w, &["not_started", "hrt"])).is_ok());
    let twice =
        Run { services: vec![service("AAA", "", "", "", ""), service("aaa", "", "", "", "")], ..Run::default() };
    assert!(matches!(Engine::new(twice.setup()), Err(KpiError::DuplicateService(_))));
}
