//! QI verdicts on series built to show (and not show) improvement and concern, priorities on
//! constructed services, 16-week flags and refracture matching across services.

use flsdb_dataset::{Caseloads, Field, Record, Service, Validation, parse_record};
use flsdb_kpi::{DenominatorMode, Engine, MonthPoint, Period, Setup, set_by_name};
use flsdb_qi::{
    Aim, Flag, KpiSeries, QiError, evaluate, flags_at_16_weeks, next_priorities, refractures, therapy_path,
};
use std::collections::HashSet;
use time::macros::date;
use time::{Date, Duration, Month};

const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };

fn rec(cells: &[(&str, &str)]) -> Record {
    let mut row: [&str; Field::COUNT] = [""; Field::COUNT];
    for (field, value) in [
        (Field::ServiceCode, "AAA"),
        (Field::LocalId, "L1"),
        (Field::DateOfBirth, "1940-01-01"),
        (Field::FractureDate, "2023-06-01"),
        (Field::FractureSite, "wrist"),
    ] {
        row[field.index()] = value;
    }
    for (name, value) in cells {
        row[Field::from_header(name).unwrap_or_else(|| panic!("no field {name}")).index()] = value;
    }
    parse_record(&row, RULES).unwrap_or_else(|p| panic!("invalid test record {cells:?}: {p:?}")).record
}

/// Monthly points from January 2023, `percents[i]` of 50 patients in month i.
fn series(kpi: &str, percents: &[f64]) -> KpiSeries {
    let months = percents
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let year = 2023 + (i / 12) as i32;
            let month = Month::try_from((i % 12) as u8 + 1).expect("month");
            let from = Date::from_calendar_date(year, month, 1).expect("date");
            let numerator = (p / 2.0).round() as u64;
            MonthPoint {
                from,
                to: from + Duration::days(27),
                numerator,
                denominator: Some(50.0),
                percent: Some(numerator as f64 * 2.0),
            }
        })
        .collect();
    KpiSeries { kpi: kpi.into(), name: format!("{kpi} name"), months }
}

/// Twelve baseline months wobbling around `level`.
fn baseline(level: f64) -> Vec<f64> {
    [0.0, 4.0, -4.0, 2.0, -2.0, 6.0, -6.0, 0.0, 4.0, -4.0, 2.0, -2.0].iter().map(|d| level + d).collect()
}

const START: Date = date!(2024 - 01 - 01);

#[test]
fn a_step_up_after_the_start_is_improvement_and_steady_others_are_maintained() {
    let mut target = baseline(40.0);
    target.extend([62.0, 64.0, 60.0, 66.0, 62.0, 64.0, 60.0, 62.0]);
    let mut other = baseline(70.0);
    other.extend(baseline(70.0)[..8].iter().copied());
    let e = evaluate(&series("kpi9", &target), &[series("kpi4", &other)], START, None).expect("evaluates");
    assert_eq!(e.baseline_months, 12);
    assert!(e.improved.met, "{:?}", e.improved);
    assert!(e.improved.reason.contains("January 2024"), "{}", e.improved.reason);
    assert!(e.maintained.met, "{:?}", e.maintained);
    assert!(e.concerns.is_empty());
    assert_eq!(e.charts.len(), 2);
    // The centre line is the baseline's mean, not pulled up by the new months.
    let centre = match &e.charts[0].1.centre {
        Some(c) => *c,
        None => panic!("a centre"),
    };
    assert!((centre - 40.0).abs() < 1.0, "{centre}");
}

#[test]
fn no_change_is_not_improvement_and_a_drop_elsewhere_is_a_concern() {
    let mut target = baseline(40.0);
    target.extend(baseline(40.0)[..8].iter().copied());
    let mut other = baseline(70.0);
    other.extend([50.0, 48.0, 52.0, 50.0, 48.0, 52.0, 50.0, 48.0]);
    let e = evaluate(&series("kpi9", &target), &[series("kpi4", &other)], START, None).expect("evaluates");
    assert!(!e.improved.met, "{:?}", e.improved);
    assert!(!e.maintained.met, "{:?}", e.maintained);
    assert!(e.maintained.reason.contains("kpi4 name"), "{}", e.maintained.reason);
    assert!(e.concerns.iter().all(|c| c.kpi == "kpi4"));
    // Special cause before the start does not count: a drop in the baseline only.
    let mut dip = vec![70.0, 20.0, 70.0, 72.0, 68.0, 70.0, 71.0, 69.0, 70.0, 72.0, 68.0, 70.0];
    dip.extend(baseline(70.0)[..8].iter().copied());
    let e = evaluate(&series("kpi9", &target), &[series("kpi4", &dip)], START, None).expect("evaluates");
    assert!(e.maintained.met, "{:?}", e.maintained);
}

#[test]
fn reaching_the_aim_is_improvement_without_special_cause() {
    let mut target = baseline(40.0);
    target.extend([44.0, 46.0, 42.0]);
    let flat = baseline(70.0).into_iter().chain([70.0, 72.0, 68.0]).collect::<Vec<_>>();
    let aim = Aim { percent: 44.0, by: date!(2024 - 06 - 30) };
    let e = evaluate(&series("kpi9", &target), &[series("kpi4", &flat)], START, Some(&aim)).expect("evaluates");
    assert!(e.improvements.is_empty(), "no special cause in three months near the centre");
    assert_eq!(e.since_start_percent, Some(44.0));
    assert!(e.improved.met && e.improved.reason.contains("aim is reached"), "{:?}", e.improved);
    let higher = Aim { percent: 45.0, ..aim };
    let e = evaluate(&series("kpi9", &target), &[series("kpi4", &flat)], START, Some(&higher)).expect("evaluates");
    assert!(!e.improved.met && e.improved.reason.contains("short of the aim of 45.0%"), "{:?}", e.improved);
}

#[test]
fn a_cycle_needs_a_baseline() {
    let target = series("kpi9", &[40.0, 42.0, 60.0]);
    let err = evaluate(&target, &[], date!(2023 - 02 - 01), None).expect_err("one baseline month");
    assert!(matches!(err, QiError::ShortBaseline { months: 1, .. }), "{err}");
    assert!(err.to_string().contains("start the baseline earlier"));
    let short = series("kpi4", &[40.0, 42.0]);
    assert!(matches!(evaluate(&target, &[short], date!(2023 - 03 - 01), None), Err(QiError::MismatchedSeries(_))));
}

fn report(records: &[Record], mode: DenominatorMode) -> flsdb_kpi::Report {
    let set = set_by_name("fls-db").expect("fls-db");
    let services = vec![
        Service::parse(["AAA", "Alpha", "england", "London", "NCL", "", "hospital", "100", ""]).expect("service"),
        Service::parse(["BBB", "Beta", "england", "London", "NCL", "", "hospital", "100", ""]).expect("service"),
    ];
    let setup = Setup {
        set: &set,
        services: &services,
        caseloads: &Caseloads::default(),
        opt_outs: &HashSet::new(),
        period: Period::calendar_year(2023).expect("year"),
        as_of: date!(2025 - 06 - 30),
        mode,
    };
    Engine::new(setup).expect("engine").compute(records)
}

#[test]
fn priorities_rank_by_patients_and_put_red_spine_identification_first() {
    // AAA: 100 records, 70 assessed within 90 days (kpi4 amber: 10 more patients to green),
    // 45 falls assessments (kpi6 red: 5 more to amber), 2 spine fractures (kpi3 red).
    let mut records = Vec::new();
    for i in 0..100 {
        let id = format!("A{i}");
        let mut cells = vec![("local_id", id.as_str())];
        if i < 70 {
            cells.push(("fls_assessment_date", "2023-06-20"));
        }
        if i < 45 {
            cells.push(("falls_assessment", "done"));
        }
        if i < 2 {
            cells.push(("fracture_site", "spine"));
        }
        records.push(rec(&cells));
    }
    // BBB lifts the national values.
    for i in 0..100 {
        let id = format!("B{i}");
        let mut cells = vec![("service_code", "BBB"), ("local_id", id.as_str()), ("falls_assessment", "done")];
        cells.push(("fls_assessment_date", "2023-06-20"));
        if i < 20 {
            cells.push(("fracture_site", "spine"));
        }
        records.push(rec(&cells));
    }
    let set = set_by_name("fls-db").expect("fls-db");
    let list = next_priorities(&set, &report(&records, DenominatorMode::All), "AAA");
    let ids: Vec<&str> = list.iter().map(|p| p.kpi.as_str()).collect();
    assert_eq!(&ids[..3], ["kpi3", "kpi6", "kpi4"], "{list:#?}");
    let spine = &list[0];
    assert!(spine.spine_alert);
    // (2 + k) / (100 + k) ≥ 10% → k = 9 (11/109 = 10.1%; 10/108 = 9.3%).
    assert_eq!(spine.patients_to_next_band, Some(9));
    let falls = &list[1];
    assert_eq!(falls.patients_to_next_band, Some(5));
    // National: 145 / 200 = 72.5% → 73 of 100 (72.5 exactly is reached at 73 > 72.5).
    assert_eq!(falls.patients_to_national, Some(28));
    assert!(falls.summary.starts_with("5 more patients a year"), "{}", falls.summary);
    assert_eq!(list[2].patients_to_next_band, Some(10));
    // Green KPIs come last and ask for nothing.
    let last = list.last().expect("a list");
    assert_eq!((last.kpi.as_str(), last.next_band, last.patients_to_next_band), ("kpi2", None, None), "{last:?}");
    assert!(next_priorities(&set, &report(&records, DenominatorMode::All), "ZZZ").is_empty());
}

#[test]
fn sixteen_week_flags() {
    let as_of = date!(2023 - 09 - 01); // fracture 2023-06-01 + 84 days = 2023-08-24: due
    let drug = ("bone_therapy_recommended", "alendronate");
    let contacted = [("followup16", "yes"), ("followup16_date", "2023-08-30")];
    let flags = |cells: &[(&str, &str)]| flags_at_16_weeks(&rec(cells), as_of);
    assert_eq!(flags(&[drug]), Some(vec![Flag::NoContactYet]));
    assert_eq!(flags(&[drug, contacted[0], contacted[1], ("therapy_16w", "alendronate")]), Some(vec![]));
    assert_eq!(
        flags(&[drug, contacted[0], contacted[1], ("therapy_16w", "not_started")]),
        Some(vec![Flag::RecommendedNotStarted])
    );
    assert_eq!(
        flags(&[drug, contacted[0], contacted[1], ("therapy_16w", "informed_decline")]),
        Some(vec![Flag::RecommendedNotStarted, Flag::InformedDecline])
    );
    assert_eq!(flags(&[("fracture_date", "2023-06-10")]), None, "12 weeks not reached on the as-of date");
    assert_eq!(flags(&[("death_date", "2023-07-01")]), None, "died before the window opened");
}

#[test]
fn therapy_path_uses_the_kpi_counts() {
    let mut records = Vec::new();
    for i in 0..10 {
        let id = format!("P{i}");
        let mut cells = vec![("local_id", id.as_str())];
        if i < 6 {
            cells.push(("bone_therapy_recommended", "alendronate"));
            cells.extend([("followup16", "yes"), ("followup16_date", "2023-09-01")]);
            cells.push(("therapy_16w", if i < 4 { "alendronate" } else { "not_started" }));
        }
        if i < 2 {
            cells.extend([("followup52", "yes"), ("followup52_date", "2024-06-01"), ("therapy_52w", "alendronate")]);
        }
        records.push(rec(&cells));
    }
    let path =
        therapy_path(&report(&records, DenominatorMode::All), &report(&records, DenominatorMode::Recommended), "AAA")
            .expect("a path");
    let counts: Vec<(u64, u64)> = path.iter().map(|s| (s.count, s.of)).collect();
    assert_eq!(counts, [(6, 10), (4, 6), (2, 6)]);
}

#[test]
fn refractures_match_across_services_within_two_years() {
    let nhs = "9434765919";
    let records = [
        rec(&[("local_id", "first"), ("nhs_number", nhs), ("fracture_date", "2022-03-01")]),
        rec(&[("service_code", "BBB"), ("local_id", "again"), ("nhs_number", nhs), ("fracture_date", "2024-03-01")]),
        rec(&[("local_id", "too-late"), ("nhs_number", nhs), ("fracture_date", "2026-03-02")]),
        rec(&[
            ("local_id", "same-day"),
            ("nhs_number", nhs),
            ("fracture_date", "2022-03-01"),
            ("fracture_site", "hip"),
        ]),
        rec(&[("local_id", "other-patient"), ("nhs_number", "9400000006"), ("fracture_date", "2022-04-01")]),
        rec(&[("local_id", "no-number"), ("fracture_date", "2022-05-01")]),
    ];
    let found = refractures(&records);
    let pairs: Vec<(&str, &str)> =
        found.iter().map(|r| (r.earlier.local_id.as_str(), r.later.local_id.as_str())).collect();
    // 2024-03-01 is within two years of both 2022-03-01 fractures; 2026-03-02 is 2 years and a
    // day after 2024-03-01, so it matches nothing.
    assert_eq!(pairs, [("first", "again"), ("same-day", "again")]);
    assert_eq!(found[0].later.service.as_str(), "BBB");
    assert_eq!(found[0].days_between, 731);
}

#[test]
fn cycle_judged_from_records_by_the_engine() {
    // 20 fractures a month at AAA through 2023 and 2024; 8 of 20 assessed within 90 days before
    // the change on 2024-01-01, 16 of 20 after.
    let mut records = Vec::new();
    for month in 0..24 {
        let year = 2023 + month / 12;
        let first =
            Date::from_calendar_date(year, Month::try_from((month % 12) as u8 + 1).expect("month"), 1).expect("date");
        for i in 0..20 {
            let fracture = first + Duration::days(i64::from(i));
            let assessed = if month < 12 { i < 8 } else { i < 16 };
            let (id, date, seen) = (
                format!("M{month}-{i}"),
                flsdb_dataset::values::format_date(fracture),
                flsdb_dataset::values::format_date(fracture + Duration::days(30)),
            );
            let mut cells = vec![("local_id", id.as_str()), ("fracture_date", date.as_str())];
            if assessed {
                cells.push(("fls_assessment_date", seen.as_str()));
            }
            records.push(rec(&cells));
        }
    }
    let set = set_by_name("fls-db").expect("fls-db");
    let services =
        vec![Service::parse(["AAA", "Alpha", "england", "London", "NCL", "", "hospital", "", ""]).expect("service")];
    let (caseloads, opt_outs) = (Caseloads::default(), HashSet::new());
    let setup = |as_of: Date| Setup {
        set: &set,
        services: &services,
        caseloads: &caseloads,
        opt_outs: &opt_outs,
        period: Period::calendar_year(2023).expect("year"),
        as_of,
        mode: DenominatorMode::All,
    };
    let spec = flsdb_qi::CycleSpec {
        service: "AAA",
        kpi: "kpi4",
        baseline_from: date!(2023 - 01 - 15),
        start: START,
        aim: None,
    };
    let e = flsdb_qi::evaluate_records(setup(date!(2025 - 01 - 10)), &records, &spec).expect("evaluates");
    assert_eq!(e.baseline_months, 12);
    assert!(e.improved.met, "{:?}", e.improved);
    assert!(e.maintained.met, "{:?}", e.maintained);
    assert_eq!(e.since_start_percent, Some(80.0));
    let kpis: Vec<&str> = e.charts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kpis[0], "kpi4");
    assert!(kpis.contains(&"kpi9") && !kpis.contains(&"kpi1"), "{kpis:?}");
    // Before a whole month after the start has passed there is nothing to judge.
    let early = flsdb_qi::evaluate_records(setup(date!(2024 - 01 - 20)), &records, &spec);
    assert!(matches!(early, Err(QiError::NothingToJudge { .. })), "{early:?}");
    let not_a_target = flsdb_qi::CycleSpec { kpi: "kpi1", ..spec };
    assert!(matches!(
        flsdb_qi::evaluate_records(setup(date!(2025 - 01 - 10)), &records, &not_a_target),
        Err(QiError::NotATarget(_))
    ));
}
