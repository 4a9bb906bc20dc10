//! The `fls-db` set against `kpis.md`, boundary by boundary.

mod common;

use common::*;
use flsdb_kpi::DenominatorMode;
use serde_json::json;
use time::macros::date;

const F: time::Date = date!(2019 - 06 - 01);

/// One record per `(cells)`, all at service AAA with fracture on 2019-06-01.
fn records(rows: &[&[(&str, &str)]]) -> Vec<flsdb_dataset::Record> {
    rows.iter().map(|cells| rec(cells)).collect()
}

#[test]
fn kpi4_window_is_0_to_90_days() {
    let (d0, d90, d91) = (plus(F, 0), plus(F, 90), plus(F, 91));
    let rs = records(&[
        &[("fls_assessment_date", &d0)],
        &[("fls_assessment_date", &d90)],
        &[("fls_assessment_date", &d91)],
        &[],
    ]);
    let j = Run::default().json(&rs);
    assert_eq!(counts(first_service(&j), "kpi4"), (2, 4, 0, 0));
    assert_eq!(counts(&j["overall"], "kpi4"), (2, 4, 0, 0));
    assert_eq!(j["overall"]["kpis"]["kpi4"]["percent"], json!(50.0));
}

#[test]
fn kpi5_needs_a_requested_scan_within_90_days() {
    let (d90, d91, before) = (plus(F, 90), plus(F, 91), plus(F, -1));
    let rs = records(&[
        &[("dxa", "ordered"), ("dxa_date", &d90)],
        &[("dxa", "recommended"), ("dxa_date", &plus(F, 0))],
        &[("dxa", "ordered"), ("dxa_date", &d91)],
        &[("dxa", "ordered"), ("dxa_date", &before)],
        &[("dxa", "ordered")],
        &[("dxa", "not_required")],
    ]);
    assert_eq!(counts(first_service(&Run::default().json(&rs)), "kpi5"), (2, 6, 0, 0));
}

#[test]
fn kpi3_kpi6_kpi7_codes() {
    let rs = records(&[
        &[("fracture_site", "spine"), ("falls_assessment", "done"), ("bone_therapy_recommended", "alendronate")],
        &[("falls_assessment", "referred"), ("bone_therapy_recommended", "teriparatide;denosumab")],
        &[("falls_assessment", "recommended"), ("bone_therapy_recommended", "not_indicated")],
        &[("falls_assessment", "not_done"), ("bone_therapy_recommended", "unknown")],
        &[("falls_assessment", "unknown"), ("bone_therapy_recommended", "referred_gp")],
        &[],
    ]);
    let j = Run::default().json(&rs);
    let s = first_service(&j);
    assert_eq!(counts(s, "kpi3"), (1, 6, 0, 0));
    assert_eq!(counts(s, "kpi6"), (3, 6, 0, 0));
    assert_eq!(counts(s, "kpi7"), (2, 6, 0, 0), "multi-value drug recommendations count once");
    // kpi7 is red < 50 ≤ green: 2/6 is red; kpi3 bands are 10/20: 1/6 = 16.7% is amber.
    assert_eq!(s["kpis"]["kpi7"]["band"], "red");
    assert_eq!(s["kpis"]["kpi3"]["band"], "amber");
}

#[test]
fn kpi9_window_due_and_death_boundaries() {
    let yes = |days: i64| vec![("followup16", "yes".to_owned()), ("followup16_date", plus(F, days))];
    let mut rows: Vec<Vec<(&str, String)>> = vec![
        yes(112), // in the window
        yes(113), // outside (a warning, still valid)
        yes(0),
        vec![("followup16", "no".to_owned())],
        vec![("death_date", plus(F, 112))], // died exactly at +112: died
        vec![("death_date", plus(F, 113))], // alive at 16 weeks
        vec![("death_date", plus(F, 10))],  // died
    ];
    rows.push(vec![("followup16", "yes".to_owned()), ("followup16_date", plus(F, 100)), ("death_date", plus(F, 112))]);
    let rs: Vec<_> = rows.iter().map(|r| rec(&r.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())).collect();

    // As of exactly fracture + 112: due.
    let run = Run { as_of: date!(2019 - 09 - 21), ..Run::default() };
    assert_eq!(plus(F, 112), "2019-09-21");
    let j = run.json(&rs);
    // Denominator: 8 records − 3 died = 5 (112, 113, 0, no, +113 death); numerator 112 and 0.
    assert_eq!(counts(first_service(&j), "kpi9"), (2, 5, 0, 3));
    // One day earlier: nothing is due; every record counts once, as not due, even the dead.
    let run = Run { as_of: date!(2019 - 09 - 20), ..Run::default() };
    assert_eq!(counts(first_service(&run.json(&rs)), "kpi9"), (0, 0, 8, 0));
    let j = run.json(&rs);
    assert_eq!(j["services"][0]["kpis"]["kpi9"]["percent"], json!(null));
    assert_eq!(j["services"][0]["kpis"]["kpi9"]["band"], json!(null));
    assert_eq!(j["services"][0]["kpis"]["kpi9"]["ci95"], json!(null));
    assert_eq!(j["services"][0]["kpis"]["kpi9"]["funnel"], json!(null));
}

#[test]
fn kpi8_excludes_hip_fractures_before_counting_exclusions() {
    let d = plus(F, 100);
    let full = [("followup16", "yes"), ("followup16_date", d.as_str()), ("strength_balance_16w", "yes")];
    let rs = vec![
        rec(&full),
        rec(&[full.as_slice(), &[("fracture_site", "hip")]].concat()),
        rec(&[("fracture_site", "hip"), ("death_date", "2019-06-05")]),
        rec(&[("followup16", "yes"), ("followup16_date", d.as_str()), ("strength_balance_16w", "no")]),
        rec(&[("death_date", "2019-06-05")]),
        rec(&[("fracture_date", "2019-12-31")]),
    ];
    let run = Run { as_of: date!(2020 - 01 - 31), ..Run::default() };
    // Non-hip: 4 records; 1 died, 1 not due (fractured 2019-12-31), 2 in the denominator.
    assert_eq!(counts(first_service(&run.json(&rs)), "kpi8"), (1, 2, 1, 1));
    // kpi9 counts every site.
    assert_eq!(counts(first_service(&run.json(&rs)), "kpi9"), (3, 3, 1, 2));
}

#[test]
fn kpi10_needs_a_drug_at_16_weeks() {
    let d = plus(F, 90);
    let rs = records(&[
        &[("followup16", "yes"), ("followup16_date", &d), ("therapy_16w", "zoledronate")],
        &[("followup16", "yes"), ("followup16_date", &d), ("therapy_16w", "not_started")],
        &[("followup16", "yes"), ("followup16_date", &d), ("therapy_16w", "unknown")],
        &[("followup16", "yes"), ("followup16_date", &d)],
        &[("followup16", "no")],
    ]);
    assert_eq!(counts(first_service(&Run::default().json(&rs)), "kpi10"), (1, 5, 0, 0));
}

#[test]
fn kpi11_window_336_to_392_and_due_at_392() {
    let f52 = |days: i64, therapy: &str| {
        vec![
            ("followup52".to_owned(), "yes".to_owned()),
            ("followup52_date".to_owned(), plus(F, days)),
            ("therapy_52w".to_owned(), therapy.to_owned()),
        ]
    };
    let rows = [
        f52(335, "alendronate"),
        f52(336, "alendronate"),
        f52(392, "denosumab"),
        f52(393, "denosumab"),
        f52(350, "not_started"),
        vec![("death_date".to_owned(), plus(F, 392))],
        vec![("death_date".to_owned(), plus(F, 393))],
    ];
    let rs: Vec<_> =
        rows.iter().map(|r| rec(&r.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())).collect();
    let as_of = F + time::Duration::days(392);
    let j = Run { as_of, ..Run::default() }.json(&rs);
    assert_eq!(counts(first_service(&j), "kpi11"), (2, 6, 0, 1));
    let j = Run { as_of: as_of - time::Duration::days(1), ..Run::default() }.json(&rs);
    assert_eq!(counts(first_service(&j), "kpi11"), (0, 0, 7, 0));
}

#[test]
fn denominator_mode_recommended_restricts_kpi9_to_kpi11_only() {
    let d = plus(F, 100);
    let rs = records(&[
        &[("bone_therapy_recommended", "alendronate"), ("followup16", "yes"), ("followup16_date", &d)],
        &[("bone_therapy_recommended", "not_indicated"), ("followup16", "yes"), ("followup16_date", &d)],
        &[("followup16", "yes"), ("followup16_date", &d)],
        &[("bone_therapy_recommended", "risedronate"), ("fracture_date", "2019-12-30")],
        &[("bone_therapy_recommended", "hrt"), ("death_date", "2019-06-02")],
        &[("fracture_date", "2019-12-30")],
    ]);
    let run = Run { as_of: date!(2020 - 01 - 31), ..Run::default() };
    let all = run.json(&rs);
    assert_eq!(all["denominator_mode"], "all");
    assert_eq!(counts(first_service(&all), "kpi9"), (3, 3, 2, 1));
    let run = Run { mode: DenominatorMode::Recommended, ..run };
    let rec_mode = run.json(&rs);
    assert_eq!(rec_mode["denominator_mode"], "recommended");
    assert_eq!(counts(first_service(&rec_mode), "kpi9"), (1, 1, 1, 1));
    assert_eq!(counts(first_service(&rec_mode), "kpi10"), (0, 1, 1, 1));
    assert_eq!(counts(first_service(&rec_mode), "kpi8"), counts(first_service(&all), "kpi8"));
    assert_eq!(counts(first_service(&rec_mode), "kpi4"), counts(first_service(&all), "kpi4"));
}

#[test]
fn opt_outs_and_unregistered_services() {
    let (a, b) = (nhs(1), nhs(2));
    let rs = records(&[
        &[("nhs_number", &a)],
        &[("nhs_number", &b)],
        &[],
        &[("nhs_number", &a), ("fracture_date", "2018-06-01")], // outside the period
        &[("service_code", "ZZZ"), ("nhs_number", &a)],         // not registered
        &[("service_code", "zzz")],
    ]);
    let mut run = Run::default();
    run.opt_outs.insert(nhs_number(&a));
    let report = run.report(&rs);
    assert_eq!(report.excluded_opt_out, 1);
    assert_eq!(report.unregistered, vec![("ZZZ".to_owned(), 2)]);
    let j = serde_json::to_value(&report).expect("json");
    assert_eq!(j["excluded_opt_out"], 1);
    assert_eq!(j["overall"]["records"], 2);
    assert_eq!(j["services"][0]["records"], 2);
    assert!(j.get("unregistered").is_none(), "not part of the JSON shape");
}

#[test]
fn period_bounds_are_inclusive() {
    let rs = records(&[
        &[("fracture_date", "2019-01-01")],
        &[("fracture_date", "2019-12-31")],
        &[("fracture_date", "2018-12-31")],
        &[("fracture_date", "2020-01-01")],
    ]);
    assert_eq!(Run::default().json(&rs)["overall"]["records"], 2);
}

#[test]
fn funnel_too_few_below_ten_and_null_at_zero() {
    let mut services = vec![
        service("AAA", "england", "", "", ""),
        service("BBB", "england", "", "", ""),
        service("CCC", "england", "", "", ""),
    ];
    services.reverse(); // the report sorts by code whatever the registry order
    let mut rs = Vec::new();
    for i in 0..9 {
        rs.push(rec(&[("service_code", "AAA"), ("fls_assessment_date", if i < 5 { "2019-06-02" } else { "" })]));
    }
    for i in 0..10 {
        rs.push(rec(&[("service_code", "BBB"), ("fls_assessment_date", if i < 5 { "2019-06-02" } else { "" })]));
    }
    let j = Run { services, ..Run::default() }.json(&rs);
    let codes: Vec<_> = j["services"].as_array().expect("services").iter().map(|s| s["code"].clone()).collect();
    assert_eq!(codes, [json!("AAA"), json!("BBB"), json!("CCC")]);
    assert_eq!(j["services"][0]["kpis"]["kpi4"]["funnel"], "too_few");
    assert_eq!(j["services"][0]["kpis"]["kpi4"]["funnel_adjusted"], "too_few");
    assert_eq!(j["services"][1]["kpis"]["kpi4"]["funnel"], "within");
    assert_eq!(j["services"][2]["records"], 0);
    assert_eq!(j["services"][2]["kpis"]["kpi4"]["funnel"], json!(null));
    assert_eq!(j["services"][2]["kpis"]["kpi4"]["denominator"], 0);
    // Over-dispersion needs two services with denominator ≥ 10.
    assert_eq!(
        j["overall"]["kpis"]["kpi4"]["overdispersion"],
        json!({"phi": null, "tau2": null, "units": 1, "rule": "none"})
    );
    assert_eq!(j["overall"]["kpis"]["kpi1"]["overdispersion"], json!(null));
    assert_eq!(j["overall"]["kpis"]["kpi2"]["overdispersion"], json!(null));
}

#[test]
fn groups_are_sums_sorted_by_name_and_blank_is_no_group() {
    let services = vec![
        service("S1", "England", "North", "Zeta CCG", "10"),
        service("S2", "England", "South", "Alpha CCG", "20"),
        service("S3", "Wales", "", "Alpha CCG", ""),
        service("S4", "", "North", "", "5"),
    ];
    let mut rs = Vec::new();
    for (code, n, assessed) in [("S1", 4, 1), ("S2", 6, 6), ("S3", 3, 0), ("S4", 2, 2)] {
        for i in 0..n {
            let date = if i < assessed { "2019-06-10" } else { "" };
            rs.push(rec(&[("service_code", code), ("fls_assessment_date", date)]));
        }
    }
    let j = Run { services, ..Run::default() }.json(&rs);
    let names = |level: &str| -> Vec<String> {
        j[level].as_array().expect("level").iter().map(|g| g["name"].as_str().unwrap_or_default().to_owned()).collect()
    };
    assert_eq!(names("commissioners"), ["Alpha CCG", "Zeta CCG"]);
    assert_eq!(names("regions"), ["North", "South"]);
    assert_eq!(names("nations"), ["england", "wales"]);
    assert_eq!(counts(&j["commissioners"][0], "kpi4"), (6, 9, 0, 0));
    assert_eq!(j["commissioners"][0]["records"], 9);
    assert_eq!(counts(&j["regions"][0], "kpi4"), (3, 6, 0, 0));
    assert_eq!(counts(&j["nations"][0], "kpi4"), (7, 10, 0, 0));
    assert_eq!(counts(&j["overall"], "kpi4"), (9, 15, 0, 0));
    // Group entries carry neither funnel nor over-dispersion.
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect::<Vec<_>>() };
    let mut common =
        ["numerator", "denominator", "percent", "ci95", "band", "not_due", "died"].map(String::from).to_vec();
    common.sort();
    let mut group = keys(&j["regions"][0]["kpis"]["kpi4"]);
    group.sort();
    assert_eq!(group, common);
    let mut svc = keys(&j["services"][0]["kpis"]["kpi4"]);
    svc.sort();
    let mut expected = common.clone();
    expected.extend(["funnel".to_owned(), "funnel_adjusted".to_owned()]);
    expected.sort();
    assert_eq!(svc, expected);
    let mut all = keys(&j["overall"]["kpis"]["kpi4"]);
    all.sort();
    let mut expected = common;
    expected.push("overdispersion".to_owned());
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(keys(&j["services"][0]), ["code", "kpis", "name", "records"]);
    assert_eq!(keys(&j["regions"][0]), ["kpis", "name", "records"]);
    assert_eq!(keys(&j["overall"]), ["kpis", "records"]);
    assert_eq!(
        keys(&j),
        [
            "as_of",
            "commissioners",
            "denominator_mode",
            "excluded_opt_out",
            "kpi_set",
            "nations",
            "overall",
            "period",
            "regions",
            "services"
        ]
    );
}

#[test]
fn percent_ci_and_band_of_the_spec_example() {
    let mut rs = Vec::new();
    for i in 0..416 {
        rs.push(rec(&[("fls_assessment_date", if i < 378 { "2019-06-02" } else { "" })]));
    }
    let j = Run::default().json(&rs);
    let e = &j["services"][0]["kpis"]["kpi4"];
    assert_eq!(e["percent"], json!(90.86538461538461));
    let ci = e["ci95"].as_array().expect("ci");
    assert!((ci[0].as_f64().unwrap_or_default() - 87.7).abs() < 0.05, "{ci:?}");
    assert!((ci[1].as_f64().unwrap_or_default() - 93.3).abs() < 0.05, "{ci:?}");
    assert_eq!(e["band"], "green");
    assert_eq!(j["period"], json!({"from": "2019-01-01", "to": "2019-12-31"}));
    assert_eq!(j["as_of"], "2021-03-31");
    assert_eq!(j["kpi_set"], "fls-db");
}

#[test]
fn bands_on_the_exact_fraction_at_80_percent() {
    // 4/5 = exactly 80%: green in fls-db.
    let rs: Vec<_> = (0..5).map(|i| rec(&[("fls_assessment_date", if i < 4 { "2019-06-02" } else { "" })])).collect();
    assert_eq!(Run::default().json(&rs)["services"][0]["kpis"]["kpi4"]["band"], "green");
}

#[test]
fn overdispersion_of_the_statistics_worked_example() {
    // statistics.md §5 examples 10–11: ten units, θ = the overall proportion 348/1011.
    let k = [12, 30, 26, 50, 42, 71, 4, 29, 48, 36];
    let n = [82, 98, 100, 125, 162, 151, 12, 100, 82, 99];
    let codes: Vec<String> = (0..10).map(|i| format!("S{i:02}")).collect();
    let services = codes.iter().map(|c| service(c, "england", "", "", "")).collect();
    let mut rs = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        for j in 0..n[i] {
            let assessed = if j < k[i] { "2019-06-02" } else { "" };
            rs.push(rec(&[("service_code", code), ("fls_assessment_date", assessed)]));
        }
    }
    let j = Run { services, ..Run::default() }.json(&rs);
    let od = &j["overall"]["kpis"]["kpi4"]["overdispersion"];
    assert!((od["phi"].as_f64().expect("phi") - 4.009053).abs() < 1e-6, "{od}");
    assert!((od["tau2"].as_f64().expect("tau2") - 0.008688).abs() < 1e-6, "{od}");
    assert_eq!(od["units"], 10);
    assert_eq!(od["rule"], "additive");
    let a = &j["services"][0]["kpis"]["kpi4"];
    assert_eq!(a["funnel"], "alarm_low");
    assert_eq!(a["funnel_adjusted"], "alert_low");
    // Adjusting never flags more than the unadjusted funnel.
    let rank = |s: &serde_json::Value| match s.as_str() {
        Some("alarm_low" | "alarm_high") => 2,
        Some("alert_low" | "alert_high") => 1,
        _ => 0,
    };
    for s in j["services"].as_array().expect("services") {
        let e = &s["kpis"]["kpi4"];
        assert!(rank(&e["funnel_adjusted"]) <= rank(&e["funnel"]), "{e}");
    }
}

#[test]
fn whole_entries_of_a_one_record_report() {
    let j = Run::default().json(&[rec(&[("fls_assessment_date", "2019-06-02")])]);
    let z2 = 1.959963984540054f64.powi(2);
    let lower = 100.0 / (1.0 + z2);
    let service = &j["services"][0];
    assert_eq!(service["code"], "AAA");
    assert_eq!(service["name"], "AAA hospital");
    let e = &service["kpis"]["kpi4"];
    assert!((e["ci95"][0].as_f64().expect("lower") - lower).abs() < 1e-9);
    let mut e = e.clone();
    e["ci95"][0] = json!(0);
    assert_eq!(
        e,
        json!({"numerator": 1, "denominator": 1, "percent": 100.0, "ci95": [0, 100.0], "band": "green",
               "not_due": 0, "died": 0, "funnel": "too_few", "funnel_adjusted": "too_few"})
    );
    let mut o = j["overall"]["kpis"]["kpi4"].clone();
    o["ci95"][0] = json!(0);
    assert_eq!(
        o,
        json!({"numerator": 1, "denominator": 1, "percent": 100.0, "ci95": [0, 100.0], "band": "green",
               "not_due": 0, "died": 0, "overdispersion": {"phi": null, "tau2": null, "units": 0, "rule": "none"}})
    );
    let mut c = j["commissioners"][0]["kpis"]["kpi9"].clone();
    assert!((c["ci95"][1].as_f64().expect("upper") - (100.0 - lower)).abs() < 1e-9);
    c["ci95"][1] = json!(0);
    assert_eq!(
        c,
        json!({"numerator": 0, "denominator": 1, "percent": 0.0, "ci95": [0.0, 0], "band": "red",
               "not_due": 0, "died": 0})
    );
    let kpi2 = &service["kpis"]["kpi2"];
    assert_eq!(kpi2["ci95"], json!(null));
    assert_eq!((kpi2["not_due"].clone(), kpi2["died"].clone()), (json!(0), json!(0)));
    assert_eq!(j["overall"]["kpis"]["kpi1"]["denominator"], 1);
}
