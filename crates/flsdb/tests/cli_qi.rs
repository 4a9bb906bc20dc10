//! `flsdb qi …` end to end: a cycle opened, noted, judged from imported records and closed; the
//! national count of services with a complete cycle; priorities; refractures across services.

mod common;

use common::Workspace;

/// BNT: 20 fractures a month through 2022 and 2023, 8 of 20 assessed within 90 days in 2022 and
/// 16 of 20 from 2023; one patient also broke again at RFH 14 months after a BNT fracture.
fn workspace_with_an_improvement() -> Workspace {
    let ws = Workspace::new();
    let mut csv = String::from(
        "service_code,local_id,nhs_number,date_of_birth,fracture_date,fracture_site,fls_assessment_date\n",
    );
    for month in 0..24 {
        let (year, m) = (2022 + month / 12, month % 12 + 1);
        for day in 1..=20 {
            let assessed = if year == 2022 { day <= 8 } else { day <= 16 };
            let seen = if assessed { format!("{year}-{m:02}-{:02}", day + 5) } else { String::new() };
            csv.push_str(&format!("BNT,M{month}-{day},,1950-01-01,{year}-{m:02}-{day:02},wrist,{seen}\n"));
        }
    }
    csv.push_str("BNT,first,9434765919,1950-01-01,2022-03-10,hip,\n");
    csv.push_str("RFH,rfh-77,9434765919,1950-01-01,2023-05-01,spine,\n");
    ws.write("records.csv", &csv);
    ws.ok(&["import", "records", "records.csv"]);
    ws
}

#[test]
fn a_cycle_from_open_to_closed() {
    let ws = workspace_with_an_improvement();
    let out = ws.ok(&[
        "qi",
        "open",
        "--service",
        "BNT",
        "--kpi",
        "kpi4",
        "--baseline-from",
        "2022-01-01",
        "--start",
        "2023-01-01",
        "--aim",
        "70",
        "--by",
        "2023-12-31",
        "--ideas",
        "daily ward list",
        "--as-user",
        "lead",
    ]);
    assert_eq!(out.trim(), "opened QI cycle 1");
    ws.ok(&[
        "qi",
        "note",
        "1",
        "--stage",
        "plan",
        "--on",
        "2022-12-01",
        "--text",
        "agree the list",
        "--as-user",
        "lead",
    ]);
    let bad = ws.run(&["qi", "note", "1", "--stage", "think", "--text", "x"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("plan, do, study, act"));

    let shown = ws.ok(&["qi", "show", "1", "--as-of", "2024-01-15"]);
    assert!(shown.contains("BNT kpi4, aim 70% by 2023-12-31"), "{shown}");
    assert!(shown.contains("2022-12-01 plan  lead: agree the list"), "{shown}");
    assert!(
        shown.contains("improved: yes (special-cause improvement in FLS assessment within 90 days from January 2023"),
        "{shown}"
    );
    assert!(shown.contains("maintained: yes"), "{shown}");

    let closed = ws.ok(&["qi", "close", "1", "--as-of", "2024-01-15", "--as-user", "lead"]);
    assert!(closed.contains("closed QI cycle 1") && closed.contains("improved: yes"), "{closed}");
    assert!(!ws.run(&["qi", "close", "1"]).status.success(), "a closed cycle stays closed");

    // Closed as of 2024-01-15: one service completed a cycle in 2024 (the default year here).
    let listed = ws.ok(&["qi", "list"]);
    assert!(listed.contains("closed as of 2024-01-15 by lead: improved: yes"), "{listed}");
    assert!(listed.contains("services with a complete QI cycle in 2024: 1"), "{listed}");
    let other_year = ws.ok(&["qi", "list", "--year", "2001"]);
    assert!(other_year.contains("in 2001: 0"), "{other_year}");

    let unknown = ws.run(&[
        "qi",
        "open",
        "--service",
        "BNT",
        "--kpi",
        "kpi99",
        "--baseline-from",
        "2022-01-01",
        "--start",
        "2023-01-01",
    ]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("\"kpi99\" is not a KPI of fls-db"));
}

#[test]
fn priorities_and_refractures() {
    let ws = workspace_with_an_improvement();
    let out = ws.ok(&["qi", "priorities", "--service", "BNT", "--year", "2023", "--as-of", "2024-06-30"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Next priorities for BNT, fractures 2023-01-01 to 2023-12-31"), "{out}");
    // No spine fractures at BNT in 2023: spine identification is red and comes first.
    assert!(lines[1].contains("kpi3") && lines[1].contains("spine identification is red"), "{out}");
    // kpi4 is 192 of 240 = 80%: green, so it asks for nothing and sits at the bottom.
    assert!(lines.last().is_some_and(|l| l.contains("FLS assessment within 90 days\" is 80.0%, green")), "{out}");

    let alerts = ws.ok(&["qi", "refractures", "--service", "BNT"]);
    assert!(
        alerts.contains(
            "first (hip 2022-03-10) broke again: spine fracture on 2023-05-01 at service RFH, 417 days later"
        ),
        "{alerts}"
    );
    assert!(!alerts.contains("rfh-77"), "RFH's own record id is not shown to BNT: {alerts}");
    assert!(alerts.trim_end().ends_with("1 refracture(s) of BNT's patients within two years"), "{alerts}");
    let rfh = ws.ok(&["qi", "refractures", "--service", "RFH"]);
    assert!(rfh.contains("0 refracture(s)"), "RFH holds the later record, not the earlier: {rfh}");
}
