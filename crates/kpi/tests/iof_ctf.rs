//! The `iof-ctf` set: its windows, bands, iof1 and iof11.

mod common;

use common::*;
use flsdb_kpi::{DenominatorMode, set_by_name};
use serde_json::{Value, json};
use time::macros::date;

#[test]
fn sets_by_name_and_versions() {
    let fls = set_by_name("fls-db").expect("fls-db");
    let iof = set_by_name("IOF-CTF").expect("iof-ctf");
    assert!(set_by_name("nice").is_none());
    let ids = |s: &flsdb_kpi::KpiSet| s.kpis.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&fls), (1..=11).map(|i| format!("kpi{i}")).collect::<Vec<_>>());
    assert_eq!(ids(&iof), (1..=11).map(|i| format!("iof{i}")).collect::<Vec<_>>());
    assert!(!fls.version.is_empty() && !iof.version.is_empty());
}

#[test]
fn iof3_and_iof4_windows_are_84_days() {
    let rs = vec![
        rec(&[("fls_assessment_date", "2019-08-24"), ("dxa", "ordered"), ("dxa_date", "2019-08-24")]), // day 84
        rec(&[("fls_assessment_date", "2019-08-25"), ("dxa", "recommended"), ("dxa_date", "2019-08-25")]), // 85
    ];
    let j = Run::iof().json(&rs);
    assert_eq!(j["kpi_set"], "iof-ctf");
    assert_eq!(counts(first_service(&j), "iof3"), (1, 2, 0, 0));
    assert_eq!(counts(first_service(&j), "iof4"), (1, 2, 0, 0));
    // 1/2 = 50%: amber in both conventions.
    assert_eq!(first_service(&j)["kpis"]["iof3"]["band"], "amber");
}

#[test]
fn iof_bands_put_exactly_80_in_amber() {
    let rs: Vec<_> = (0..5).map(|i| rec(&[("fls_assessment_date", if i < 4 { "2019-06-02" } else { "" })])).collect();
    let j = Run::iof().json(&rs);
    assert_eq!(first_service(&j)["kpis"]["iof3"]["band"], "amber");
    // iof6 is red < 50 ≤ green; iof2 keeps kpi3's bands (20% is green).
    let rs: Vec<_> = (0..5)
        .map(|i| {
            rec(&[
                ("bone_therapy_recommended", if i < 3 { "raloxifene" } else { "" }),
                ("fracture_site", if i == 0 { "spine" } else { "hip" }),
            ])
        })
        .collect();
    let j = Run::iof().json(&rs);
    assert_eq!(first_service(&j)["kpis"]["iof6"]["band"], "green");
    assert_eq!(first_service(&j)["kpis"]["iof2"]["band"], "green");
}

#[test]
fn iof1_counts_non_spine_against_the_caseload() {
    let rs = vec![rec(&[("fracture_site", "spine")]), rec(&[("fracture_site", "hip")]), rec(&[])];
    let j = Run::iof().json(&rs);
    let e = &first_service(&j)["kpis"]["iof1"];
    assert_eq!(e["numerator"], 2);
    assert_eq!(e["ci95"], json!(null));
    assert_eq!(e["funnel"], json!(null));
    assert_eq!(j["overall"]["kpis"]["iof1"]["overdispersion"], json!(null));
    assert_eq!(j["overall"]["kpis"]["iof11"]["iof1"], json!({"numerator": 3, "denominator": 3, "percent": 100.0}));
}

#[test]
fn iof7_counts_every_site_and_iof8_to_iof10_follow_the_mode() {
    let d = "2019-09-01";
    let rs = vec![
        rec(&[
            ("fracture_site", "hip"),
            ("followup16", "yes"),
            ("followup16_date", d),
            ("strength_balance_16w", "yes"),
        ]),
        rec(&[("followup16", "yes"), ("followup16_date", d), ("bone_therapy_recommended", "denosumab")]),
    ];
    let j = Run::iof().json(&rs);
    assert_eq!(counts(first_service(&j), "iof7"), (1, 2, 0, 0));
    assert_eq!(counts(first_service(&j), "iof8"), (2, 2, 0, 0));
    let j = Run { mode: DenominatorMode::Recommended, ..Run::iof() }.json(&rs);
    assert_eq!(counts(first_service(&j), "iof7"), (1, 2, 0, 0));
    assert_eq!(counts(first_service(&j), "iof8"), (1, 1, 0, 0));
}

#[test]
fn iof11_input_completeness() {
    let d16 = "2019-09-01";
    let rs = vec![
        // Complete for iof3..iof9; followup52 missing.
        rec(&[
            ("fls_assessment_date", "2019-06-05"),
            ("dxa", "ordered"),
            ("dxa_date", "2019-07-01"),
            ("falls_assessment", "done"),
            ("bone_therapy_recommended", "alendronate"),
            ("followup16", "yes"),
            ("followup16_date", d16),
            ("strength_balance_16w", "no"),
            ("therapy_16w", "alendronate"),
        ]),
        // dxa ordered without a date: iof4 incomplete; followup16 yes without therapy: iof9
        // incomplete, iof8 complete; unknown falls assessment: iof5 incomplete.
        rec(&[
            ("dxa", "ordered"),
            ("falls_assessment", "unknown"),
            ("followup16", "yes"),
            ("followup16_date", d16),
            ("strength_balance_16w", "yes"),
            ("followup52", "no"),
        ]),
        // dxa declined needs no date; followup16 no needs nothing more; not yet due at 52 weeks
        // as of 2020-07-01, so outside iof10's denominator and so outside iof11's iof10 entry.
        rec(&[("dxa", "declined"), ("followup16", "no"), ("fracture_date", "2019-12-01")]),
    ];
    let run = Run { as_of: date!(2020 - 07 - 01), ..Run::iof() };
    let j = run.json(&rs);
    let i = &first_service(&j)["kpis"]["iof11"];
    let entry = |k: &str| (i[k]["numerator"].clone(), i[k]["denominator"].clone());
    assert_eq!(entry("iof1"), (json!(3), json!(3)));
    assert_eq!(entry("iof3"), (json!(1), json!(3)));
    assert_eq!(entry("iof4"), (json!(2), json!(3)));
    assert_eq!(entry("iof5"), (json!(1), json!(3)));
    assert_eq!(entry("iof6"), (json!(1), json!(3)));
    assert_eq!(entry("iof7"), (json!(3), json!(3)));
    assert_eq!(entry("iof8"), (json!(3), json!(3)));
    assert_eq!(entry("iof9"), (json!(2), json!(3)));
    // Two records are due at 52 weeks; the first lacks followup52.
    assert_eq!(i["iof10"], json!({"numerator": 1, "denominator": 2, "percent": 50.0}));
    assert_eq!(counts(first_service(&j), "iof10"), (0, 2, 1, 0));
    // Nobody due at all: denominator 0, percent null.
    let early = Run { as_of: date!(2019 - 07 - 01), ..Run::iof() }.json(&rs);
    assert_eq!(
        first_service(&early)["kpis"]["iof11"]["iof10"],
        json!({"numerator": 0, "denominator": 0, "percent": null})
    );
    let keys: Vec<&String> = i.as_object().expect("iof11").keys().collect();
    assert_eq!(keys.len(), 10);
    // The same at every level, and no kpi1 in this set.
    assert_eq!(j["overall"]["kpis"]["iof11"]["iof4"], i["iof4"]);
    assert_eq!(j["regions"][0]["kpis"]["iof11"]["iof4"], i["iof4"]);
    assert!(first_service(&j)["kpis"].get("kpi1").is_none());
    let percent: &Value = &i["iof4"]["percent"];
    assert!((percent.as_f64().expect("percent") - 200.0 / 3.0).abs() < 1e-12);
}
