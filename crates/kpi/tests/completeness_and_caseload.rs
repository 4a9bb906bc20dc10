//! kpi1 (data completeness) and kpi2 (identification against the pro-rated caseload).

mod common;

use common::*;
use flsdb_dataset::{Caseloads, ServiceCode};
use flsdb_kpi::Period;
use serde_json::{Value, json};
use time::macros::date;

/// Every kpi1 field filled (and the follow-ups due and alive as of 2021-03-31).
const COMPLETE: &[(&str, &str)] = &[
    ("nhs_number", "9434765919"),
    ("sex", "female"),
    ("care_home", "no"),
    ("admitted", "outpatient"),
    ("fracture_identification", "clinical"),
    ("fls_assessment_date", "2019-06-10"),
    ("previous_fracture", "no"),
    ("on_bone_therapy", "no"),
    ("falls_history", "none"),
    ("dxa", "not_required"),
    ("bone_therapy_recommended", "alendronate"),
    ("calcium_vitd_recommended", "yes"),
    ("falls_assessment", "done"),
    ("followup16", "yes"),
    ("followup16_date", "2019-09-01"),
    ("therapy_16w", "alendronate"),
    ("strength_balance_16w", "yes"),
    ("followup52", "no"),
];

/// A complete record with some fields replaced (an empty value clears the field).
fn with(changes: &[(&str, &str)]) -> flsdb_dataset::Record {
    let cells: Vec<(&str, &str)> = COMPLETE
        .iter()
        .map(|(k, v)| changes.iter().find(|(c, _)| c == k).copied().unwrap_or((k, v)))
        .chain(changes.iter().copied().filter(|(c, _)| !COMPLETE.iter().any(|(k, _)| k == c)))
        .collect();
    rec(&cells)
}

fn kpi1(j: &Value, service: usize) -> &Value {
    &j["services"][service]["kpis"]["kpi1"]
}

#[test]
fn complete_records_are_good_with_zero_rates() {
    let j = Run::default().json(&[with(&[]), with(&[])]);
    let k = kpi1(&j, 0);
    assert_eq!(k["good"], true);
    assert_eq!(k["poor_fields"], 0);
    let rates = k["missing_rate"].as_object().expect("rates");
    assert_eq!(rates.len(), 17);
    assert!(rates.values().all(|r| r == &json!(0.0)), "{rates:?}");
    let order: Vec<&str> = rates.keys().map(String::as_str).collect();
    assert!(order.contains(&"nhs_number") && order.contains(&"followup52"));
}

#[test]
fn unknown_and_empty_are_both_missing() {
    let j = Run::default().json(&[
        with(&[("sex", "unknown"), ("dxa", ""), ("bone_therapy_recommended", "unknown")]),
        with(&[("sex", ""), ("dxa", "unknown"), ("therapy_16w", "unknown")]),
        with(&[("sex", "male"), ("falls_history", "unknown"), ("admitted", "unknown")]),
        with(&[("fracture_identification", "unknown"), ("care_home", "unknown")]),
    ]);
    let r = &kpi1(&j, 0)["missing_rate"];
    assert_eq!(r["sex"], json!(0.5));
    assert_eq!(r["dxa"], json!(0.5));
    assert_eq!(r["bone_therapy_recommended"], json!(0.25));
    assert_eq!(r["therapy_16w"], json!(0.25));
    assert_eq!(r["falls_history"], json!(0.25));
    assert_eq!(r["admitted"], json!(0.25));
    assert_eq!(r["fracture_identification"], json!(0.25));
    assert_eq!(r["care_home"], json!(0.25));
    // Eight fields above 20%.
    assert_eq!(kpi1(&j, 0)["poor_fields"], 8);
    assert_eq!(kpi1(&j, 0)["good"], false);
}

#[test]
fn exactly_twenty_percent_is_not_poor_and_five_poor_fields_make_a_poor_service() {
    // 1 of 5 missing (20%) in five fields: not poor.
    let one_in_five = |missing: &[(&str, &str)]| {
        let mut rs = vec![with(missing)];
        rs.extend((0..4).map(|_| with(&[])));
        rs
    };
    let five = [("sex", ""), ("care_home", ""), ("admitted", ""), ("dxa", ""), ("falls_history", "")];
    let j = Run::default().json(&one_in_five(&five));
    assert_eq!(kpi1(&j, 0)["missing_rate"]["sex"], json!(0.2));
    assert_eq!(kpi1(&j, 0)["poor_fields"], 0);
    assert_eq!(kpi1(&j, 0)["good"], true);
    // 2 of 5 (40%) in four fields: four poor fields, still good.
    let mut rs = one_in_five(&five[..4]);
    rs.push(with(&five[..4]));
    let j = Run::default().json(&rs);
    assert_eq!(kpi1(&j, 0)["poor_fields"], 4);
    assert_eq!(kpi1(&j, 0)["good"], true);
    // Five poor fields: poor.
    let mut rs = one_in_five(&five);
    rs.push(with(&five));
    let j = Run::default().json(&rs);
    assert_eq!(kpi1(&j, 0)["poor_fields"], 5);
    assert_eq!(kpi1(&j, 0)["good"], false);
}

#[test]
fn applicability_conditions() {
    let services = vec![
        service("ENG", "England", "", "", ""),
        service("SCO", "Scotland", "", "", ""),
        service("NIR", "Northern Ireland", "", "", ""),
        service("EMP", "England", "", "", ""),
    ];
    let rs = vec![
        // Scotland: nhs_number does not apply, even when missing.
        with(&[("service_code", "SCO"), ("nhs_number", "")]),
        with(&[("service_code", "NIR"), ("nhs_number", "")]),
        // Follow-up 16 not yet due: followup16 does not apply; followup16 = no: therapy_16w
        // and strength_balance_16w do not apply.
        with(&[
            ("service_code", "ENG"),
            ("fracture_date", "2019-12-31"),
            ("fls_assessment_date", "2020-01-02"),
            ("followup16", "no"),
            ("followup16_date", ""),
            ("therapy_16w", ""),
            ("strength_balance_16w", ""),
            ("followup52", ""),
        ]),
    ];
    let run = Run { services, as_of: date!(2020 - 03 - 01), ..Run::default() };
    let j = run.json(&rs);
    let by = |code: &str| -> Value {
        j["services"].as_array().expect("s").iter().find(|s| s["code"] == code).expect("service")["kpis"]["kpi1"]
            .clone()
    };
    assert_eq!(by("SCO")["missing_rate"]["nhs_number"], json!(null));
    assert_eq!(by("NIR")["missing_rate"]["nhs_number"], json!(1.0));
    let eng = by("ENG");
    assert_eq!(eng["missing_rate"]["followup16"], json!(null), "not due at 16 weeks");
    assert_eq!(eng["missing_rate"]["therapy_16w"], json!(null));
    assert_eq!(eng["missing_rate"]["strength_balance_16w"], json!(null));
    assert_eq!(eng["missing_rate"]["followup52"], json!(null));
    assert_eq!(eng["missing_rate"]["sex"], json!(0.0));
    assert_eq!(eng["good"], true);
    // A service without records: good null, every rate null.
    let emp = by("EMP");
    assert_eq!(emp["good"], json!(null));
    assert_eq!(emp["poor_fields"], 0);
    assert!(emp["missing_rate"].as_object().expect("rates").values().all(Value::is_null));
    // Above service level: good services over services with a cohort record (3 of 3 here).
    assert_eq!(counts(&j["overall"], "kpi1"), (3, 3, 0, 0));
    assert_eq!(j["overall"]["kpis"]["kpi1"]["band"], "green");
    assert_eq!(j["overall"]["kpis"]["kpi1"]["overdispersion"], json!(null));
    assert!(j["overall"]["kpis"]["kpi1"]["ci95"].is_array());
    let england = j["nations"].as_array().expect("nations").iter().find(|n| n["name"] == "england").expect("england");
    assert_eq!(counts(england, "kpi1"), (1, 1, 0, 0));
}

#[test]
fn followup_applicability_uses_due_and_alive() {
    // Died at +112: followup16 does not apply.
    let rs = vec![with(&[
        ("followup16", ""),
        ("followup16_date", ""),
        ("therapy_16w", ""),
        ("strength_balance_16w", ""),
        ("followup52", ""),
        ("death_date", "2019-09-21"),
    ])];
    let j = Run::default().json(&rs);
    assert_eq!(kpi1(&j, 0)["missing_rate"]["followup16"], json!(null));
    assert_eq!(kpi1(&j, 0)["missing_rate"]["followup52"], json!(null));
    // Died at +113: it applies, and is missing.
    let rs = vec![with(&[
        ("followup16", ""),
        ("followup16_date", ""),
        ("therapy_16w", ""),
        ("strength_balance_16w", ""),
        ("death_date", "2019-09-22"),
    ])];
    let j = Run::default().json(&rs);
    assert_eq!(kpi1(&j, 0)["missing_rate"]["followup16"], json!(1.0));
}

#[test]
fn kpi2_prorates_the_caseload_over_calendar_years() {
    // 2019-07-01..2020-06-30: 184 days of 2019, 182 of 2020 (a leap year).
    let period = Period::new(date!(2019 - 07 - 01), date!(2020 - 06 - 30)).expect("period");
    assert_eq!(period.days(), 366);
    let mut caseloads = Caseloads::default();
    let code = ServiceCode::parse("AAA").expect("code");
    caseloads.insert(code.clone(), 2020, 730.5);
    let run = Run { period, caseloads, ..Run::default() };
    let rs: Vec<_> = (0..10).map(|_| rec(&[("fracture_date", "2019-08-01")])).collect();
    let j = run.json(&rs);
    let e = &j["services"][0]["kpis"]["kpi2"];
    let expected = 100.0 * 184.0 / 365.25 + 730.5 * 182.0 / 365.25;
    assert!((e["denominator"].as_f64().expect("decimal") - expected).abs() < 1e-9);
    assert_eq!(e["numerator"], 10);
    assert_eq!(e["ci95"], json!(null));
    assert_eq!(e["funnel"], json!(null));
    assert_eq!(e["funnel_adjusted"], json!(null));
    assert!((e["percent"].as_f64().expect("percent") - 1000.0 / expected).abs() < 1e-9);
    assert_eq!(e["band"], "red");

    // A leap calendar year: 366 days of a caseload of 365.25 is 366.
    let run = Run { period: Period::calendar_year(2020).expect("year"), ..Run::default() };
    let cl = flsdb_kpi::prorated_caseload(&run.services[0], &run.caseloads, &run.period);
    assert_eq!(cl.map(|c| (c * 365.25 / 100.0 * 1e9).round() / 1e9), Some(366.0));
}

#[test]
fn kpi2_unknown_caseload_and_above_service_level() {
    let services = vec![
        service("AAA", "england", "R", "", "10"),
        service("BBB", "england", "R", "", ""),  // unknown caseload
        service("CCC", "england", "R", "", "0"), // 0 counts as unknown
        service("DDD", "england", "R", "", "5"), // no records: counts at 0%
    ];
    let mut rs: Vec<_> = (0..12).map(|_| rec(&[("service_code", "AAA")])).collect();
    rs.extend((0..3).map(|_| rec(&[("service_code", "BBB")])));
    rs.extend((0..4).map(|_| rec(&[("service_code", "CCC")])));
    let j = Run { services, ..Run::default() }.json(&rs);
    let s = &j["services"];
    assert_eq!(s[0]["kpis"]["kpi2"]["numerator"], 12);
    // A calendar year of 365 days holds 365/365.25 of the yearly caseload.
    let year = 365.0 / 365.25;
    let close = |v: &Value, x: f64| (v.as_f64().expect("number") - x).abs() < 1e-9;
    assert!(close(&s[0]["kpis"]["kpi2"]["percent"], 1200.0 / (10.0 * year)), "kpi2 may exceed 100%");
    assert_eq!(s[0]["kpis"]["kpi2"]["band"], "green");
    for i in [1, 2] {
        let e = &s[i]["kpis"]["kpi2"];
        assert!(e["numerator"].as_u64().expect("count") > 0);
        assert_eq!(
            (e["denominator"].clone(), e["percent"].clone(), e["band"].clone()),
            (json!(null), json!(null), json!(null))
        );
    }
    assert_eq!(s[3]["kpis"]["kpi2"]["percent"], json!(0.0));
    let o = &j["overall"]["kpis"]["kpi2"];
    assert_eq!(o["numerator"], 12);
    assert!(close(&o["denominator"], 15.0 * year));
    // 80.05%: green (≥ 80).
    assert!(close(&o["percent"], 1200.0 / (15.0 * year)));
    assert_eq!(o["band"], "green");
    assert_eq!(o["ci95"], json!(null));
    assert_eq!(o["overdispersion"], json!(null));
    assert!(close(&j["regions"][0]["kpis"]["kpi2"]["denominator"], 15.0 * year));
    assert_eq!(j["overall"]["records"], 19);
}

#[test]
fn kpi2_touching_a_year_without_caseload_is_unknown() {
    let mut caseloads = Caseloads::default();
    let code = ServiceCode::parse("AAA").expect("code");
    caseloads.insert(code, 2020, 0.0);
    let period = Period::new(date!(2019 - 12 - 01), date!(2020 - 01 - 31)).expect("period");
    let run = Run { period, caseloads, as_of: date!(2021 - 06 - 01), ..Run::default() };
    let j = run.json(&[rec(&[("fracture_date", "2019-12-05")])]);
    assert_eq!(j["services"][0]["kpis"]["kpi2"]["denominator"], json!(null));
    assert_eq!(j["overall"]["kpis"]["kpi2"]["denominator"], json!(0.0));
    assert_eq!(j["overall"]["kpis"]["kpi2"]["percent"], json!(null));
}
