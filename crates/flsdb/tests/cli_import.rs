//! The `flsdb` binary on fixture files and synthetic data, as a data manager would run it.

mod common;

use common::Workspace;
use std::path::Path;

const HEADER: &str = "service_code,local_id,nhs_number,date_of_birth,fracture_date,fracture_site,fls_assessment_date";

#[test]
fn all_or_nothing_writes_nothing_and_reports_every_problem() {
    let ws = Workspace::new();
    ws.write(
        "records.csv",
        &format!(
            "{HEADER}\n\
             BNT,1,9434765919,1950-01-01,2019-03-04,hip,2019-03-10\n\
             BNT,2,,1950-01-01,2019-03-04,hip,2019-03-01\n\
             RFH,3,1234567890,1990-01-01,2019-02-29,knee,\n\
             XYZ,4,,1950-01-01,2019-03-04,wrist,\n"
        ),
    );
    let out = ws.run(&["import", "records", "records.csv", "--errors-out", "errors.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(Workspace::summary(&out), "inserted 0, updated 0, unchanged 0, rejected 3, warnings 0");
    assert!(ws.exported().is_empty(), "nothing may be written");
    let errors = std::fs::read_to_string(ws.path("errors.csv")).expect("errors.csv");
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "row,service_code,local_id,field,value,rule,message");
    assert_eq!(
        lines[1],
        "3,BNT,2,fls_assessment_date,2019-03-01,date_order,fls_assessment_date 2019-03-01 is before fracture_date 2019-03-04"
    );
    let rules: Vec<(&str, &str)> = lines[2..]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0], cells[5])
        })
        .collect();
    assert_eq!(
        rules,
        [("4", "nhs_number_check_digit"), ("4", "impossible_date"), ("4", "code"), ("5", "unknown_service")]
    );
}

#[test]
fn valid_rows_mode_writes_the_valid_rows() {
    let ws = Workspace::new();
    ws.write(
        "records.csv",
        &format!("{HEADER}\nBNT,1,,1950-01-01,2019-03-04,hip,\nBNT,2,,1990-01-01,2019-03-04,hip,\nbnt,1,,1950-01-01,2019-03-04,spine,\n"),
    );
    let out = ws.run(&["import", "records", "records.csv", "--mode", "valid-rows"]);
    assert!(out.status.success());
    // Row 3 is ineligible (aged 29) and row 4 repeats row 2's key.
    assert_eq!(Workspace::summary(&out), "inserted 1, updated 0, unchanged 0, rejected 2, warnings 0");
    assert_eq!(ws.exported().len(), 1);
}

#[test]
fn reimport_is_unchanged_and_a_changed_row_updates() {
    let ws = Workspace::new();
    let rows = "BNT,1,,1950-01-01,2019-03-04,hip,\nRFH,2,4010232137,1945-05-05,2020-01-01,spine,2020-01-05\n";
    ws.write("a.csv", &format!("{HEADER}\n{rows}"));
    assert_eq!(
        ws.ok(&["import", "records", "a.csv"]).trim(),
        "inserted 2, updated 0, unchanged 0, rejected 0, warnings 0"
    );
    assert_eq!(
        ws.ok(&["import", "records", "a.csv"]).trim(),
        "inserted 0, updated 0, unchanged 2, rejected 0, warnings 0"
    );
    // Dry run reports without writing.
    ws.write("b.csv", &format!("{HEADER}\nBNT,1,,1950-01-01,2019-03-04,wrist,\nBNT,9,,1950-01-01,2019-03-04,hip,\n"));
    let dry = ws.ok(&["import", "records", "b.csv", "--dry-run"]);
    assert_eq!(dry.trim(), "inserted 1, updated 1, unchanged 0, rejected 0, warnings 0");
    assert_eq!(ws.exported().len(), 2);
    assert_eq!(
        ws.ok(&["import", "records", "b.csv"]).trim(),
        "inserted 1, updated 1, unchanged 0, rejected 0, warnings 0"
    );
    let exported = ws.exported();
    assert!(exported.iter().any(|l| l.starts_with("BNT,1,,1950-01-01,") && l.contains(",wrist,")), "{exported:?}");
}

#[test]
fn export_then_import_reports_everything_unchanged() {
    let ws = Workspace::new();
    let data = ws.synth(3000, 7);
    let data_str = data.as_str();
    ws.ok(&["import", "services", &format!("{data_str}/services.csv")]);
    let first = ws.ok(&["import", "records", &format!("{data_str}/records.csv")]);
    assert!(first.trim().starts_with("inserted 3000, updated 0, unchanged 0, rejected 0"), "{first}");
    ws.ok(&["export", "records", "--out", "export.csv"]);
    ws.ok(&["export", "records", "--format", "xlsx", "--out", "export.xlsx"]);
    for file in ["export.csv", "export.xlsx"] {
        let again = ws.ok(&["import", "records", file]);
        assert!(again.trim().starts_with("inserted 0, updated 0, unchanged 3000, rejected 0"), "{file}: {again}");
    }
}

#[test]
fn bad_files_get_a_clear_message_and_change_nothing() {
    let ws = Workspace::new();
    for (name, content, expected) in [
        ("empty.csv", "", "the file is empty"),
        ("header.csv", "service_code,local_id,colour\n", "column \"colour\" is not a field of the dataset"),
        ("missing.csv", "service_code,local_id\nBNT,1\n", "required column \"fracture_date\" is missing"),
        ("duplicate.csv", "service_code,local_id,LOCAL_ID\n", "appears more than once"),
    ] {
        ws.write(name, content);
        let out = ws.run(&["import", "records", name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} must fail");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    assert!(ws.exported().is_empty());
}

#[test]
fn a_killed_import_leaves_the_database_as_it_was() {
    let ws = Workspace::new();
    let data = ws.synth(60000, 3);
    let data_str = data.as_str();
    ws.ok(&["import", "services", &format!("{data_str}/services.csv")]);
    ws.write("one.csv", &format!("{HEADER}\n{}\n", "BNT,keep-me,,1950-01-01,2019-03-04,hip,"));
    ws.ok(&["import", "records", "one.csv"]);
    let before = ws.exported();

    let mut child = ws
        .command(&["import", "records", &format!("{data_str}/records.csv")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn import");
    // Wait until the write transaction has started putting rows into the write-ahead log.
    let wal = ws.path("audit.sqlite-wal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while wal_size(&wal) < 1 << 20 {
        assert!(std::time::Instant::now() < deadline, "the import never started writing");
        if child.try_wait().expect("poll").is_some() {
            panic!("the import finished before it could be interrupted: make the file bigger");
        }
        std::thread::yield_now();
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(ws.exported(), before, "a killed import must leave no trace");
}

fn wal_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn opt_outs_and_caseloads_load_with_reports() {
    let ws = Workspace::new();
    ws.write("opt_outs.txt", "nhs_number\n943 476 5919\n\n1234567890\n4010232137\n");
    let out = ws.run(&["import", "opt-outs", "opt_outs.txt"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "opt-outs: 2 read, 2 new, 1 lines skipped");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 4"));
    ws.write("caseloads.csv", "service_code,year,expected_caseload\nBNT,2023,420\nRFH,2023,0\n");
    assert_eq!(ws.ok(&["import", "caseloads", "caseloads.csv"]).trim(), "loaded 2 caseloads");
    ws.write("bad_caseloads.csv", "service_code,year,expected_caseload\nBNT,23,420\n");
    let bad = ws.run(&["import", "caseloads", "bad_caseloads.csv"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("row 2: year \"23\" is not a four-digit year"));
}

#[test]
fn a_hundred_thousand_synthetic_rows_import_and_reimport() {
    let ws = Workspace::new();
    let data = ws.path("data");
    let data_str = data.to_str().expect("utf-8 path");
    ws.ok(&["synth", "--records", "100000", "--seed", "11", "--as-of", "2024-06-30", "--out", data_str]);
    ws.ok(&["import", "services", &format!("{data_str}/services.csv")]);
    let checked =
        ws.ok(&["check", &format!("{data_str}/records.csv"), "--services", &format!("{data_str}/services.csv")]);
    assert!(checked.trim().starts_with("valid 100000, rejected 0,"), "{checked}");
    // All-or-nothing meeting a bad row only at the end (the last row repeated, row 100,002),
    // after the rows before it were written in the same pass: all of it is rolled back.
    let records = std::fs::read_to_string(format!("{data_str}/records.csv")).expect("records.csv");
    let last = records.lines().last().expect("a last row");
    ws.write("bad_last.csv", &format!("{records}{last}\n"));
    let refused = ws.run(&["import", "records", "bad_last.csv"]);
    assert_eq!(refused.status.code(), Some(1));
    let summary = Workspace::summary(&refused);
    assert!(summary.starts_with("inserted 0, updated 0, unchanged 0, rejected 1,"), "{summary}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("row 100002 (") && stderr.contains("nothing was written"), "{stderr}");
    assert!(ws.exported().is_empty(), "a refused import writes nothing");
    let first = ws.ok(&["import", "records", &format!("{data_str}/records.csv")]);
    assert!(first.trim().starts_with("inserted 100000, updated 0, unchanged 0, rejected 0,"), "{first}");
    let again = ws.ok(&["import", "records", &format!("{data_str}/records.csv")]);
    assert!(again.trim().starts_with("inserted 0, updated 0, unchanged 100000, rejected 0,"), "{again}");
    assert_eq!(ws.exported().len(), 100_000);
}
