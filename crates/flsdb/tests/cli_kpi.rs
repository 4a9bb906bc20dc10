//! `flsdb kpi` and `flsdb spc` as an analyst runs them: from files and from the database.

mod common;

use common::Workspace;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A workspace whose database holds the same synthetic data as its `data/` files.
fn loaded(records: usize) -> (Workspace, String) {
    let ws = Workspace::empty();
    let data = ws.synth(records, 5);
    ws.ok(&["import", "services", &format!("{data}/services.csv")]);
    ws.ok(&["import", "opt-outs", &format!("{data}/opt_outs.txt")]);
    ws.ok(&["import", "records", &format!("{data}/records.csv")]);
    (ws, data)
}

#[test]
fn files_and_database_give_the_same_table() {
    let (ws, data) = loaded(6000);
    let period = ["--year", "2022", "--as-of", "2024-06-30"];
    let from_db = json(&ws.ok(&[&["kpi"][..], &period].concat()));
    let records = format!("{data}/records.csv");
    let services = format!("{data}/services.csv");
    let opt_outs = format!("{data}/opt_outs.txt");
    let file_args = ["kpi", "--records", &records, "--services", &services, "--opt-outs", &opt_outs];
    let mut from_file = json(&ws.ok(&[&file_args[..], &period].concat()));
    assert_eq!(from_file["invalid_records"], 0);
    from_file.as_object_mut().expect("object").remove("invalid_records");
    assert_eq!(from_file, from_db);
    // The shape of kpis.md.
    assert_eq!(from_db["kpi_set"], "fls-db");
    assert_eq!(from_db["denominator_mode"], "all");
    assert_eq!(from_db["period"]["from"], "2022-01-01");
    assert!(from_db["excluded_opt_out"].as_u64().is_some_and(|n| n > 0), "synthetic opt-outs fall in the period");
    let services = from_db["services"].as_array().expect("services");
    assert_eq!(services.len(), 20);
    let records: u64 = services.iter().map(|s| s["records"].as_u64().expect("records")).sum();
    assert_eq!(from_db["overall"]["records"].as_u64(), Some(records));
    let kpi4 = &from_db["overall"]["kpis"]["kpi4"];
    for key in ["numerator", "denominator", "percent", "ci95", "band", "not_due", "died", "overdispersion"] {
        assert!(kpi4.get(key).is_some(), "overall kpi4 lacks {key}: {kpi4}");
    }
    assert!(services[0]["kpis"]["kpi4"].get("funnel").is_some());
}

#[test]
fn invalid_rows_in_a_file_are_left_out_and_counted() {
    let ws = Workspace::empty();
    let data = ws.synth(3000, 9);
    let records = format!("{data}/records.csv");
    let services = format!("{data}/services.csv");
    // Every 40th row gets a fracture site that is not a code, whatever its year.
    let text = std::fs::read_to_string(&records).expect("records");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (site, fracture_date) = (column("fracture_site"), column("fracture_date"));
    let (mut spoiled_in_2022, mut spoiled_elsewhere) = (0, 0);
    for line in lines.iter_mut().skip(1).step_by(40) {
        let mut cells: Vec<&str> = line.split(',').collect();
        if cells[fracture_date].starts_with("2022-") {
            spoiled_in_2022 += 1;
        } else {
            spoiled_elsewhere += 1;
        }
        cells[site] = "elbow-ish";
        *line = cells.join(",");
    }
    assert!(spoiled_in_2022 > 3 && spoiled_elsewhere > 3);
    lines.push("NOPE,1,,1950-01-01,2022-03-03,,,,,,,,hip,,,,,,,,,,,,,,,,,,,,,,,,,,,,".to_owned());
    std::fs::write(&records, lines.join("\n") + "\n").expect("write");
    let period = ["--year", "2022", "--as-of", "2024-06-30"];
    let out = ws.run(&[&["kpi", "--records", &records, "--services", &services][..], &period].concat());
    assert!(out.status.success());
    let mut from_file = json(&String::from_utf8_lossy(&out.stdout));
    // Only rows of the period are checked in full and can be counted invalid.
    assert_eq!(from_file["invalid_records"], spoiled_in_2022 + 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("service NOPE is not in the organisation registry"), "{stderr}");
    assert!(stderr.contains("rows outside the period were not checked"), "{stderr}");
    // The table is the one of the valid rows, as imported.
    ws.ok(&["import", "services", &services]);
    let import = ws.run(&["import", "records", &records, "--mode", "valid-rows"]);
    let summary = Workspace::summary(&import);
    assert!(summary.contains(&format!("rejected {},", spoiled_in_2022 + spoiled_elsewhere + 1)), "{summary}");
    from_file.as_object_mut().expect("object").remove("invalid_records");
    assert_eq!(from_file, json(&ws.ok(&[&["kpi"][..], &period].concat())));
}

#[test]
fn published_output_suppresses_small_numbers() {
    let (ws, _) = loaded(3000);
    let out = json(&ws.ok(&["kpi", "--year", "2023", "--as-of", "2024-06-30", "--published"]));
    let mut checked = 0;
    for service in out["services"].as_array().expect("services") {
        for (id, entry) in service["kpis"].as_object().expect("kpis") {
            for key in ["numerator", "denominator", "not_due", "died"] {
                match entry.get(key) {
                    Some(Value::Number(n)) if id != "kpi2" || key != "denominator" => {
                        let n = n.as_f64().expect("number");
                        assert!(n == 0.0 || (n >= 8.0 && n % 5.0 == 0.0), "{id}.{key} = {n} published unsuppressed");
                        checked += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} counts checked");
    let csv = ws.ok(&["kpi", "--year", "2023", "--as-of", "2024-06-30", "--published", "--format", "csv"]);
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    assert!(header.contains(&"kpi4_numerator") && header.contains(&"kpi4_percent"), "{header:?}");
    assert!(csv.contains('*'), "some small counts must be suppressed");
}

#[test]
fn table_and_iof_set() {
    let (ws, _) = loaded(2000);
    let table = ws.ok(&["kpi", "--year", "2023", "--as-of", "2024-06-30", "--format", "table"]);
    let first_row = table.lines().find(|l| l.starts_with("overall")).expect("overall row");
    assert!(table.find("overall") < table.find("service"), "national row first");
    assert!(!first_row.contains('\u{1b}'), "no colour when piped");
    let iof = json(&ws.ok(&[
        "kpi",
        "--year",
        "2023",
        "--as-of",
        "2024-06-30",
        "--set",
        "iof-ctf",
        "--denominators",
        "recommended",
    ]));
    assert_eq!(iof["kpi_set"], "iof-ctf");
    assert_eq!(iof["denominator_mode"], "recommended");
    assert!(iof["overall"]["kpis"]["iof11"]["iof3"].get("percent").is_some());
}

#[test]
fn spc_json_and_svg() {
    let (ws, _) = loaded(8000);
    let out = json(&ws.ok(&["kpi", "--year", "2022", "--as-of", "2024-06-30"]));
    let code = out["services"][0]["code"].as_str().expect("code").to_owned();
    let spc = json(&ws.ok(&[
        "spc",
        "--service",
        &code,
        "--kpi",
        "kpi4",
        "--from",
        "2021-01-01",
        "--to",
        "2022-12-31",
        "--as-of",
        "2024-06-30",
    ]));
    assert_eq!(spc["points"].as_array().map(Vec::len), Some(24));
    assert_eq!(spc["chart"], "xmr");
    let month_total: u64 =
        spc["points"].as_array().expect("points").iter().map(|p| p["numerator"].as_u64().unwrap_or(0)).sum();
    let year = json(&ws.ok(&["kpi", "--from", "2021-01-01", "--to", "2022-12-31", "--as-of", "2024-06-30"]));
    let service =
        year["services"].as_array().expect("services").iter().find(|s| s["code"] == code.as_str()).expect("service");
    assert_eq!(service["kpis"]["kpi4"]["numerator"].as_u64(), Some(month_total), "months add up to the period");
    let short = json(&ws.ok(&["spc", "--service", &code, "--kpi", "kpi4", "--year", "2022", "--as-of", "2024-06-30"]));
    assert_eq!(short["chart"], "xmr", "12 months is enough for limits");
    let svg = ws.ok(&[
        "spc",
        "--service",
        &code,
        "--kpi",
        "kpi9",
        "--year",
        "2022",
        "--as-of",
        "2024-06-30",
        "--format",
        "svg",
        "--chart",
        "p",
    ]);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
    let bad = ws.run(&["spc", "--service", "NOPE", "--kpi", "kpi4", "--year", "2022"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("service NOPE is not in the registry"));
}

/// The same records written three ways: as synthesised (read by the fast block splitter on two
/// threads), with CRLF line endings, a byte order mark and every service code quoted from the
/// first row (all read by the csv crate), and quoted only from the middle of the file on (the
/// reader switches path mid-file). The KPI JSON and the check summary must not change.
#[test]
fn fast_and_csv_crate_paths_give_the_same_table() {
    let ws = Workspace::empty();
    let data = ws.synth(20_000, 4);
    let records = format!("{data}/records.csv");
    let text = std::fs::read_to_string(&records).expect("records");
    assert!(text.len() > 3 << 20, "several blocks");
    let quote_from = |from: usize, eol: &str| -> String {
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            match line.split_once(',') {
                Some((code, rest)) if i > 0 && i >= from => out.push_str(&format!("\"{code}\",{rest}")),
                _ => out.push_str(line),
            }
            out.push_str(eol);
        }
        out
    };
    let crlf = ws.write("crlf.csv", &format!("\u{feff}{}", quote_from(1, "\r\n")));
    let late = ws.write("late.csv", &quote_from(12_000, "\n"));
    let services = format!("{data}/services.csv");
    let opt_outs = format!("{data}/opt_outs.txt");
    let kpi = |file: &str| {
        json(&ws.ok(&[
            "kpi",
            "--records",
            file,
            "--services",
            &services,
            "--opt-outs",
            &opt_outs,
            "--year",
            "2021",
            "--as-of",
            "2024-06-30",
        ]))
    };
    let check = |file: &str| {
        let out = ws.run(&["check", file, "--services", &services]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let expected = kpi(&records);
    assert!(expected["overall"]["records"].as_u64().is_some_and(|n| n > 1000));
    for file in [&crlf, &late] {
        let file = file.display().to_string();
        assert_eq!(kpi(&file), expected, "{file}");
        assert_eq!(check(&file), check(&records), "{file}");
    }
}
