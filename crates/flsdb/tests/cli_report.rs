//! `flsdb report …` end to end: the annual report's national figures are `flsdb kpi`'s, reports
//! are reproducible and self-contained, published figures are suppressed, the XLSX benchmark
//! table has real conditional formats, and the PDFs carry the same figures (read back with
//! poppler's `pdftotext`; a page of each is rendered to target/test-artifacts/ for people to look
//! at).
//!
//! PDF checks need the `flsdb-pdf` binary next to `flsdb` (`cargo test --workspace` builds it)
//! and poppler-utils (`scripts/test.sh` installs it): under CI=true either missing is a failure,
//! elsewhere those checks are skipped with a message.

mod common;

use common::Workspace;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const YEAR: &str = "2023";
const AS_OF: &str = "2024-06-30";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Synthetic data in the database, plus a tiny service (3 records in 2023) whose figures must
/// be suppressed in published outputs.
fn loaded(records: usize) -> Workspace {
    let ws = Workspace::empty();
    let data = ws.synth(records, 5);
    ws.ok(&["import", "services", &format!("{data}/services.csv")]);
    ws.ok(&["import", "opt-outs", &format!("{data}/opt_outs.txt")]);
    ws.ok(&["import", "records", &format!("{data}/records.csv")]);
    let services = std::fs::read_to_string(format!("{data}/services.csv")).expect("services");
    let header = services.lines().next().expect("header");
    ws.write("tiny_services.csv", &format!("{header}\nTNY,Tiny FLS,england,London,NHS Tiny ICB,,hospital,40,\n"));
    ws.ok(&["import", "services", "tiny_services.csv"]);
    let all = std::fs::read_to_string(format!("{data}/records.csv")).expect("records");
    let mut lines = all.lines();
    let mut tiny = vec![lines.next().expect("header").to_owned()];
    tiny.extend(
        lines
            .filter(|l| l.split(',').nth(10).is_some_and(|d| d.starts_with(YEAR)))
            .take(3)
            .map(|l| format!("TNY,{}", l.split_once(',').expect("cells").1)),
    );
    ws.write("tiny.csv", &(tiny.join("\n") + "\n"));
    ws.ok(&["import", "records", "tiny.csv"]);
    ws
}

/// `100·k/n` to one decimal, rounded half away from zero on the exact fraction (as reports show it).
fn one_decimal(entry: &Value) -> String {
    let k = entry["numerator"].as_u64().expect("numerator");
    let n = entry["denominator"].as_u64().expect("denominator");
    let tenths = (2000 * k + n) / (2 * n);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The `flsdb-pdf` renderer next to the `flsdb` under test, when it is there.
fn renderer_present() -> bool {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_flsdb"));
    let renderer = bin.with_file_name(format!("flsdb-pdf{}", std::env::consts::EXE_SUFFIX));
    if renderer.is_file() {
        return true;
    }
    let message = format!(
        "{} is missing: build it with `cargo build --workspace` (scripts/test.sh runs `cargo test --workspace`, \
         which builds it)",
        renderer.display()
    );
    assert!(!in_ci(), "{message}");
    eprintln!("SKIPPED PDF checks: {message}");
    false
}

/// poppler-utils' pdftotext and pdftoppm, when installed.
fn poppler_present() -> bool {
    let ok = ["pdftotext", "pdftoppm"].iter().all(|t| Command::new(t).arg("-v").output().is_ok());
    if !ok {
        let message = "pdftotext/pdftoppm (Debian poppler-utils) are not installed: scripts/test.sh installs them";
        assert!(!in_ci(), "{message}");
        eprintln!("SKIPPED PDF text checks: {message}");
    }
    ok
}

fn pdf_text(path: &Path) -> String {
    let out = Command::new("pdftotext").arg("-layout").arg(path).arg("-").output().expect("run pdftotext");
    assert!(out.status.success(), "pdftotext {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Renders pages of a PDF to PNG under target/test-artifacts/ (for people to look at).
fn artifact_pages(pdf: &Path, name: &str, pages: &[usize]) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).with_file_name("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact folder");
    for page in pages {
        let prefix = dir.join(format!("{name}-page{page}"));
        let status = Command::new("pdftoppm")
            .args(["-r", "70", "-png", "-singlefile", "-f", &page.to_string(), "-l", &page.to_string()])
            .arg(pdf)
            .arg(&prefix)
            .status()
            .expect("run pdftoppm");
        assert!(status.success(), "pdftoppm page {page} of {}", pdf.display());
        assert!(prefix.with_extension("png").is_file());
    }
}

/// The 1-based page of a PDF's text (pages are separated by form feeds) that contains `needle`.
fn page_with(text: &str, needle: &str) -> Option<usize> {
    text.split('\u{c}').position(|p| p.contains(needle)).map(|i| i + 1)
}

/// Count cells of an HTML report with the level of their row: `(level, text)`.
fn count_cells(html: &str) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for row in html.split("<tr").skip(1) {
        let row = row.split("</tr>").next().unwrap_or_default();
        let level = row
            .split_once("data-level=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map_or_else(String::new, |(l, _)| l.to_owned());
        for cell in row.split("<td").skip(1) {
            let Some((attrs, rest)) = cell.split_once('>') else { continue };
            if attrs.contains("count") {
                cells.push((level.clone(), rest.split("</td>").next().unwrap_or_default().to_owned()));
            }
        }
    }
    cells
}

/// A published count below national level: `*`, or a multiple of 5 that is not 1–7.
fn assert_published_count(level: &str, text: &str) {
    if text == "*" {
        return;
    }
    let n: u64 = text.replace(',', "").parse().unwrap_or_else(|_| panic!("{level} count {text:?} is not a number"));
    assert!(!(1..=7).contains(&n), "a {level} count of {n} is published");
    assert_eq!(n % 5, 0, "{level} count {n} is not rounded to 5");
}

#[test]
fn annual_report_states_the_kpi_figures_and_is_reproducible() {
    let ws = loaded(6000);
    let kpi = json(&ws.ok(&["kpi", "--year", YEAR, "--as-of", AS_OF]));
    let previous = json(&ws.ok(&["kpi", "--year", "2022", "--as-of", AS_OF]));
    let with_pdf = renderer_present();
    let mut args = vec!["report", "annual", "--year", YEAR, "--as-of", AS_OF, "--out", "out"];
    if !with_pdf {
        args.push("--no-pdf");
    }
    let stdout = ws.ok(&args);
    assert!(stdout.contains("data fingerprint fnv1a64:"), "{stdout}");
    let html = std::fs::read_to_string(ws.path("out/annual-2023.html")).expect("html");

    // Self-contained: inline CSS and SVG, nothing fetched.
    for external in ["<script", "<link", "src=", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(external), "the HTML contains {external}");
    }
    assert!(html.contains("<style>") && html.matches("<svg").count() >= 15, "charts are inline SVG");

    // National figures equal `flsdb kpi`'s, for every KPI with a percent.
    let overall = &kpi["overall"]["kpis"];
    for id in ["kpi3", "kpi4", "kpi5", "kpi6", "kpi7", "kpi8", "kpi9", "kpi10", "kpi11"] {
        let section = html.split(&format!("<h1 id=\"{id}-")).nth(1).unwrap_or_else(|| panic!("no {id} section"));
        let section = section.split("<h1").next().unwrap_or_default();
        let value = format!("<div class=\"value\">{}</div>", one_decimal(&overall[id]));
        assert!(section.contains(&value), "{id}: {value} not in its section");
        let numerator = thousands(overall[id]["numerator"].as_u64().expect("numerator"));
        assert!(section.contains(&format!("<div class=\"value\">{numerator}</div>")), "{id} numerator {numerator}");
    }
    let kpi4_line =
        format!("rose from {} to {}", one_decimal(&previous["overall"]["kpis"]["kpi4"]), one_decimal(&overall["kpi4"]));
    let fell = kpi4_line.replace("rose", "fell");
    assert!(
        html.contains(&kpi4_line) || html.contains(&fell) || html.contains("was unchanged at"),
        "the key findings compare kpi4 with the previous year: {kpi4_line}"
    );
    assert!(
        html.contains(&format!("{} records of patients", thousands(kpi["overall"]["records"].as_u64().expect("n"))))
    );

    // Disclosure control below national level: regions and services are rounded or suppressed.
    let cells = count_cells(&html);
    let below: Vec<_> = cells.iter().filter(|(l, _)| l != "overall" && l != "nation").collect();
    assert!(below.len() >= 20, "count cells of regions and services: {}", below.len());
    for (level, text) in &below {
        assert_published_count(level, text);
    }
    let tiny = html.split("<td>TNY</td>").nth(1).expect("the tiny service's row");
    let tiny = tiny.split("</tr>").next().unwrap_or_default();
    assert!(tiny.contains("<td class=\"r count\">*</td>"), "3 records are shown as *: {tiny}");
    // kpi3–kpi11 are over 1–7 records; kpi2 is over the caseload (40), so it is shown.
    assert_eq!(tiny.matches(">*</td>").count(), 10, "percentages over 1–7 records are hidden: {tiny}");

    // Reproducible: the same database, options and as-of date give the same files.
    let mut again = args.clone();
    let at = again.iter().position(|a| *a == "out").expect("out");
    again[at] = "out2";
    ws.ok(&again);
    assert_eq!(html, std::fs::read_to_string(ws.path("out2/annual-2023.html")).expect("html again"));
    if !with_pdf {
        return;
    }
    let pdf = std::fs::read(ws.path("out/annual-2023.pdf")).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(pdf, std::fs::read(ws.path("out2/annual-2023.pdf")).expect("pdf again"), "the PDF is reproducible");
    if !poppler_present() {
        return;
    }
    let text = pdf_text(&ws.path("out/annual-2023.pdf"));
    let kpi4_row = text
        .lines()
        .find(|l| l.contains("kpi4") && l.contains("FLS assessment within 90 days") && l.contains('%'))
        .expect("the national kpi4 row in the PDF");
    assert!(kpi4_row.contains(&one_decimal(&overall["kpi4"])), "{kpi4_row}");
    assert!(kpi4_row.contains(&one_decimal(&previous["overall"]["kpis"]["kpi4"])), "{kpi4_row}");
    assert!(text.contains("Data fingerprint") && text.contains("fnv1a64:"));
    assert!(text.contains("Appendix B: Results by service"));
    let kpi_page = page_with(&text, "Numerator: fls_assessment_date").expect("the kpi4 page");
    let last = text.split('\u{c}').filter(|p| !p.trim().is_empty()).count();
    artifact_pages(&ws.path("out/annual-2023.pdf"), "annual", &[1, 3, kpi_page, kpi_page + 1, last]);
}

#[test]
fn recommendations_text_replaces_the_defaults() {
    let ws = loaded(1500);
    ws.write("text.md", "# Ours\n## For services\n- Audit **every** ward by {year}.\n## For commissioners\nFund it.\n");
    ws.ok(&["report", "annual", "--year", YEAR, "--as-of", AS_OF, "--out", "out", "--no-pdf", "--text", "text.md"]);
    let html = std::fs::read_to_string(ws.path("out/annual-2023.html")).expect("html");
    assert!(html.contains("<li>Audit <strong>every</strong> ward by 2023.</li>"), "custom text with placeholders");
    assert!(html.contains("<p>Fund it.</p>"));
    assert!(!html.contains("For executive teams"), "the defaults are replaced");
}

fn read_zip_entry(path: &Path, name: &str) -> String {
    let file = std::fs::File::open(path).expect("open xlsx");
    let mut zip = zip::ZipArchive::new(file).expect("an xlsx is a zip");
    let mut entry = zip.by_name(name).unwrap_or_else(|_| panic!("{name} in the workbook"));
    let mut text = String::new();
    entry.read_to_string(&mut text).expect("utf-8 xml");
    text
}

#[test]
fn benchmark_tables_match_the_kpis_with_real_conditional_formats() {
    use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
    let ws = loaded(4000);
    let kpi = json(&ws.ok(&["kpi", "--year", YEAR, "--as-of", AS_OF]));
    ws.ok(&["report", "benchmarks", "--year", YEAR, "--as-of", AS_OF, "--out", "exact.xlsx"]);
    let path = ws.path("exact.xlsx");
    let mut book: Xlsx<_> = open_workbook(&path).expect("read the workbook back");
    let sheet = book.worksheet_range("benchmarks").expect("benchmarks sheet");
    let header: Vec<String> = sheet.rows().next().expect("header").iter().map(|c| c.to_string()).collect();
    assert_eq!(&header[..3], ["Service", "Code", "Records"]);
    let ids: Vec<&str> = header[3..].iter().map(|h| h.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(ids, ["kpi2", "kpi3", "kpi4", "kpi5", "kpi6", "kpi7", "kpi8", "kpi9", "kpi10", "kpi11"]);
    let rows: Vec<&[Data]> = sheet.rows().skip(1).collect();
    assert_eq!(rows[0][0].to_string(), "National (all services)", "the national row comes first");
    assert_eq!(rows[0][2].as_f64(), kpi["overall"]["records"].as_f64());
    let services = kpi["services"].as_array().expect("services");
    assert_eq!(rows.len(), 1 + services.len());
    for (row, units) in rows.iter().zip(std::iter::once(&kpi["overall"]).chain(services)) {
        if let Some(code) = units.get("code") {
            assert_eq!(row[1].to_string(), code.as_str().expect("code"));
        }
        for (i, id) in ids.iter().enumerate() {
            let expected = units["kpis"][id]["percent"].as_f64();
            let got = row[3 + i].as_f64();
            match (expected, got) {
                (Some(e), Some(g)) => assert!((e - g).abs() < 1e-9, "{id}: {g} against {e}"),
                (None, None) => assert!(matches!(row[3 + i], Data::Empty), "{id} without a value is empty"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }
    let notes = book.worksheet_range("notes").expect("notes sheet");
    let notes_text: Vec<String> = notes.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
    assert!(notes_text.iter().any(|c| c == AS_OF), "the notes give the as-of date");
    assert!(notes_text.iter().any(|c| c.starts_with("FLS assessment within 90 days. Numerator:")));
    // Real conditional formats: per KPI column a blank guard, a text guard and the band rules.
    let xml = read_zip_entry(&path, "xl/worksheets/sheet1.xml");
    assert_eq!(xml.matches("<conditionalFormatting").count(), 10, "one range per KPI column");
    assert_eq!(xml.matches("<cfRule").count(), 10 * 5 - 1, "two guards and the bands: kpi7 has two, the others three");
    assert!(xml.contains("operator=\"lessThan\"><formula>80</formula>"), "the fls-db green threshold");
    assert!(xml.contains("stopIfTrue=\"1\""));
    assert!(xml.contains("<autoFilter") && xml.contains("state=\"frozen\""), "autofilter and frozen header");

    // Published: counts rounded or suppressed below national level, in XLSX and CSV alike.
    ws.ok(&["report", "benchmarks", "--year", YEAR, "--as-of", AS_OF, "--published", "--out", "pub.xlsx"]);
    let mut book: Xlsx<_> = open_workbook(ws.path("pub.xlsx")).expect("published workbook");
    let sheet = book.worksheet_range("benchmarks").expect("benchmarks sheet");
    for row in sheet.rows().skip(2) {
        match &row[2] {
            Data::String(s) if s == "*" => {}
            Data::Float(n) => assert_published_count("service", &n.to_string()),
            other => panic!("records cell {other:?}"),
        }
        if row[1] == "TNY" {
            assert_eq!(row[2].to_string(), "*", "the tiny service's 3 records");
        }
    }
    let csv = ws.ok(&[
        "report",
        "benchmarks",
        "--year",
        YEAR,
        "--as-of",
        AS_OF,
        "--published",
        "--format",
        "csv",
        "--out",
        "-",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("service_name,service_code,records,kpi2,kpi2_band,"));
    assert!(lines[1].starts_with(&format!("National (all services),,{},", kpi["overall"]["records"])));
    let tiny = lines.iter().find(|l| l.starts_with("Tiny FLS,TNY,")).expect("tiny service row");
    assert!(tiny.starts_with("Tiny FLS,TNY,*,"), "{tiny}");
    for line in &lines[2..] {
        assert_published_count("service", line.split(',').nth(2).expect("records"));
    }
    let national_kpi4 = lines[1].split(',').nth(3 + 2 * 2).expect("kpi4");
    assert_eq!(format!("{national_kpi4}%"), one_decimal(&kpi["overall"]["kpis"]["kpi4"]));
}

#[test]
fn service_and_commissioner_reports() {
    let ws = loaded(6000);
    if !renderer_present() {
        return;
    }
    let kpi = json(&ws.ok(&["kpi", "--year", YEAR, "--as-of", AS_OF]));
    let service = &kpi["services"][0];
    let code = service["code"].as_str().expect("code");
    ws.ok(&["report", "service", "--service", code, "--year", YEAR, "--as-of", AS_OF, "--out", "svc.pdf"]);
    ws.ok(&["report", "commissioner", "--year", YEAR, "--as-of", AS_OF, "--out", "comm"]);
    let all: Vec<_> = std::fs::read_dir(ws.path("comm")).expect("comm").flatten().collect();
    let commissioners = kpi["commissioners"].as_array().expect("commissioners");
    assert_eq!(all.len(), commissioners.len(), "one PDF per commissioner");
    let name = commissioners[0]["name"].as_str().expect("name");
    ws.ok(&["report", "commissioner", "--year", YEAR, "--as-of", AS_OF, "--commissioner", name, "--out", "one"]);
    assert_eq!(std::fs::read_dir(ws.path("one")).expect("one").count(), 1);
    let out = ws.run(&["report", "commissioner", "--year", YEAR, "--commissioner", "Nobody", "--out", "none"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no registered service has the commissioner"));
    if !poppler_present() {
        return;
    }
    let text = pdf_text(&ws.path("svc.pdf"));
    assert!(text.contains("Suggested next QI target"), "the poorest KPI is flagged");
    assert!(text.contains("Next priorities") && text.contains("more patients a year would have met"), "{text}");
    let kpi4 = text.lines().find(|l| l.trim_start().starts_with("kpi4") && l.contains('%')).expect("kpi4 row");
    assert!(kpi4.contains(&one_decimal(&service["kpis"]["kpi4"])), "{kpi4}");
    assert!(kpi4.contains(&one_decimal(&kpi["overall"]["kpis"]["kpi4"])), "national value: {kpi4}");
    assert!(text.contains("Month by month") && text.contains("XmR chart"));
    artifact_pages(&ws.path("svc.pdf"), "service", &[2, 3]);
    let one = std::fs::read_dir(ws.path("one")).expect("one").flatten().next().expect("pdf").path();
    let text = pdf_text(&one);
    assert!(text.contains(name), "the commissioner's name");
    let group = &commissioners[0]["kpis"]["kpi4"];
    let row = text.lines().find(|l| l.contains("kpi4") && l.contains('%')).expect("kpi4 row");
    assert!(row.contains(&one_decimal(group)), "{row}");
    artifact_pages(&one, "commissioner", &[3]);
}

#[test]
fn a_missing_renderer_says_how_to_build_it() {
    let ws = loaded(500);
    // flsdb copied to a folder without flsdb-pdf.
    let lonely = ws.path("bin");
    std::fs::create_dir_all(&lonely).expect("bin folder");
    let exe = lonely.join(format!("flsdb{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(env!("CARGO_BIN_EXE_flsdb"), &exe).expect("copy flsdb");
    let out = Command::new(&exe)
        .args(["report", "annual", "--year", YEAR, "--as-of", AS_OF])
        .current_dir(ws.dir.path())
        .env("FLSDB_DATABASE_URL", ws.path("audit.sqlite"))
        .output()
        .expect("run flsdb");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("flsdb-pdf") && stderr.contains("cargo build --workspace"), "{stderr}");
}
