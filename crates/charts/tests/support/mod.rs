//! Test helpers: fixed example data built with `flsdb-stats`, a tiny XML well-formedness check and
//! a snapshot comparison (no insta).

use std::path::PathBuf;

use flsdb_charts::{ChartOptions, CiRow, FunnelPoint};
use flsdb_stats::spc::{self, RunChart, RunChartOptions, SpcChart, SpcOptions};

/// Compares `actual` with `tests/snapshots/<name>.svg`. With `UPDATE_SNAPSHOTS=1` the file is
/// (re)written instead. On a mismatch the actual output is saved next to the build's temporary
/// files (not in the source tree) and the first differing line is shown.
pub fn check_snapshot(name: &str, actual: &str) -> Result<(), String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.svg"));
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot dir")).expect("create snapshot dir");
        std::fs::write(&path, actual).expect("write snapshot");
        return Ok(());
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        return Err(format!(
            "snapshot {} is missing: run `UPDATE_SNAPSHOTS=1 cargo test -p flsdb-charts` to create it",
            path.display()
        ));
    };
    if expected == actual {
        return Ok(());
    }
    let saved = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.actual.svg"));
    let _ = std::fs::write(&saved, actual);
    let (line, want, got) = expected
        .lines()
        .zip(actual.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| (i + 1, e.to_owned(), a.to_owned()))
        .unwrap_or_else(|| {
            let n = expected.lines().count().min(actual.lines().count());
            (n + 1, format!("({} lines)", expected.lines().count()), format!("({} lines)", actual.lines().count()))
        });
    Err(format!(
        "snapshot {name} differs at line {line}:\n  expected: {want}\n  actual:   {got}\nactual output saved to {}\n\
         if the change is intended, run `UPDATE_SNAPSHOTS=1 cargo test -p flsdb-charts` and review the diff",
        saved.display()
    ))
}

/// Checks that `doc` is a well-formed XML document with one root element: balanced and properly
/// nested tags, quoted attributes without duplicates or raw `<`, only the five predefined entities
/// or character references, comments without `--`. Returns the element names in document order.
pub fn check_xml(doc: &str) -> Result<Vec<String>, String> {
    let b = doc.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut elements: Vec<String> = Vec::new();
    let mut roots = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let end = doc[i..].find('<').map_or(b.len(), |j| i + j);
            let text = &doc[i..end];
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root at byte {i}"));
            }
            check_text(text).map_err(|e| format!("{e} at byte {i}"))?;
            i = end;
            continue;
        }
        if doc[i..].starts_with("<!--") {
            let end = doc[i + 4..].find("-->").ok_or("unclosed comment")? + i + 4;
            if doc[i + 4..end].contains("--") {
                return Err(format!("'--' inside a comment at byte {i}"));
            }
            i = end + 3;
            continue;
        }
        if doc[i..].starts_with("<?") || doc[i..].starts_with("<!") {
            return Err(format!("unexpected declaration at byte {i}"));
        }
        let end = find_tag_end(doc, i)?;
        let inner = &doc[i + 1..end];
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?} at byte {i}")),
            }
        } else {
            let self_closing = inner.ends_with('/');
            let inner = inner.strip_suffix('/').unwrap_or(inner);
            let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
            let name = &inner[..name_end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
            {
                return Err(format!("bad element name {name:?} at byte {i}"));
            }
            check_attributes(&inner[name_end..]).map_err(|e| format!("{e} in <{name}> at byte {i}"))?;
            if stack.is_empty() {
                roots += 1;
                if roots > 1 {
                    return Err("more than one root element".to_owned());
                }
            }
            elements.push(name.to_owned());
            if !self_closing {
                stack.push(name.to_owned());
            }
        }
        i = end + 1;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err("no root element".to_owned());
    }
    Ok(elements)
}

/// The `>` ending the tag that starts at `start`, skipping quoted attribute values.
fn find_tag_end(doc: &str, start: usize) -> Result<usize, String> {
    let mut quote: Option<u8> = None;
    for (j, &c) in doc.as_bytes().iter().enumerate().skip(start + 1) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b'>') => return Ok(j),
            (None, b'<') => return Err(format!("'<' inside the tag at byte {start}")),
            _ => {}
        }
    }
    Err(format!("unclosed tag at byte {start}"))
}

fn check_attributes(mut s: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let trimmed = s.trim_start();
        if trimmed.is_empty() {
            return Ok(());
        }
        if trimmed.len() == s.len() {
            return Err("attributes must be separated by white space".to_owned());
        }
        let eq = trimmed.find('=').ok_or("attribute without a value")?;
        let name = &trimmed[..eq];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')) {
            return Err(format!("bad attribute name {name:?}"));
        }
        if seen.contains(&name) {
            return Err(format!("duplicate attribute {name}"));
        }
        seen.push(name);
        let rest = &trimmed[eq + 1..];
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or("unquoted attribute value")?;
        let close = rest[1..].find(quote).ok_or("unclosed attribute value")? + 1;
        let value = &rest[1..close];
        if value.contains('<') {
            return Err(format!("raw '<' in attribute {name}"));
        }
        check_text(value)?;
        s = &rest[close + 1..];
    }
}

/// Every `&` starts a predefined entity or a character reference.
fn check_text(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(j) = rest.find('&') {
        let after = &rest[j + 1..];
        let semi = after.find(';').ok_or("'&' without ';'")?;
        let entity = &after[..semi];
        let ok = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity.strip_prefix("#x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || entity.strip_prefix('#').is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("bad entity &{entity};"));
        }
        rest = &after[semi + 1..];
    }
    Ok(())
}

/// Month labels "YYYY-MM" from January of `year`.
pub fn months(year: i32, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{}-{:02}", year + (i / 12) as i32, i % 12 + 1)).collect()
}

/// A 24-month KPI percentage series with an upward shift after the first year and one month
/// without data; the first 12 months are the baseline, the target is 60%.
pub fn shift_series() -> Vec<Option<f64>> {
    let mut v: Vec<Option<f64>> = [
        54.2, 57.9, 52.1, 55.6, 58.3, 53.0, 56.4, 51.8, 55.1, 57.2, 54.6, 53.9, 60.1, 63.5, 66.2, 64.8, 67.9, 65.3,
        69.1, 66.4, 68.7, 70.2, 67.5, 71.0,
    ]
    .iter()
    .map(|&x| Some(x))
    .collect();
    v[8] = None;
    v
}

pub fn xmr_chart() -> SpcChart {
    let opts = SpcOptions { target: Some(60.0), fix_after: Some(12), ..SpcOptions::default() };
    spc::xmr(&shift_series(), &opts).expect("xmr")
}

pub fn xmr_options() -> ChartOptions {
    ChartOptions {
        title: "KPI 4: DXA within 90 days — Northshire FLS".to_owned(),
        y_label: "Percent of patients".to_owned(),
        x_label: "Month of fracture".to_owned(),
        percent: true,
        target: Some(60.0),
        ..ChartOptions::default()
    }
}

/// Montgomery Table 7.4 (qicharts2 `tbl_07.04`), sample 11 above the UCL.
pub fn montgomery_chart() -> SpcChart {
    const N: [f64; 25] = [
        100.0, 80.0, 80.0, 100.0, 110.0, 110.0, 100.0, 100.0, 90.0, 90.0, 110.0, 120.0, 120.0, 120.0, 110.0, 80.0,
        80.0, 80.0, 90.0, 100.0, 100.0, 100.0, 100.0, 90.0, 90.0,
    ];
    const X: [f64; 25] = [
        12.0, 8.0, 6.0, 9.0, 10.0, 12.0, 11.0, 16.0, 10.0, 6.0, 20.0, 15.0, 9.0, 8.0, 6.0, 8.0, 10.0, 7.0, 5.0, 8.0,
        5.0, 8.0, 10.0, 6.0, 9.0,
    ];
    let counts: Vec<(f64, f64)> = X.iter().copied().zip(N).collect();
    // Nonconforming units: lower is better.
    let opts = SpcOptions { improvement: spc::Improvement::Decrease, ..SpcOptions::default() };
    spc::p_chart(&counts, &opts).expect("p-chart")
}

/// Contract §5 row 18.
pub fn run_example() -> RunChart {
    let v: Vec<Option<f64>> =
        [5.0, 3.0, 4.0, 6.0, 7.0, 5.0, 8.0, 9.0, 7.0, 6.0, 4.0, 2.0, 3.0, 5.0].iter().map(|&x| Some(x)).collect();
    spc::run_chart(&v, &RunChartOptions::default()).expect("run chart")
}

/// Thirty services with fixed counts: mostly near 62%, a few outliers, one tiny service, and a
/// label that needs escaping. Service 7 is highlighted.
pub fn services() -> Vec<FunnelPoint> {
    (0..30u64)
        .map(|i| {
            let n = 20 + ((i * 7919 + 13) % 97) * 5;
            let wobble = ((i * 29 + 7) % 17) as f64 / 17.0 - 0.5; // in [−0.5, 0.5)
            let p = match i {
                3 => 0.38,
                11 => 0.85,
                19 => 0.49,
                _ => 0.62 + wobble * 0.12,
            };
            let (k, n) = if i == 23 { (4, 6) } else { ((p * n as f64).round() as u64, n) };
            let label =
                if i == 5 { "St Mary's & <Royal> \"Bone\" Unit".to_owned() } else { format!("Service {:02}", i + 1) };
            FunnelPoint { label, numerator: k, denominator: n, highlight: i == 7 }
        })
        .collect()
}

pub fn overall(points: &[FunnelPoint]) -> f64 {
    let k: u64 = points.iter().map(|p| p.numerator).sum();
    let n: u64 = points.iter().map(|p| p.denominator).sum();
    k as f64 / n as f64
}

/// Caterpillar rows from the services: Wilson 95% intervals in percent, bands red < 50 ≤ amber
/// < 80 ≤ green, sorted by percent (highest first), plus one service without data.
pub fn ci_rows(points: &[FunnelPoint]) -> Vec<CiRow<'static>> {
    let mut rows: Vec<CiRow<'static>> = points
        .iter()
        .map(|p| {
            let (k, n) = (p.numerator as f64, p.denominator as f64);
            let percent = k / n * 100.0;
            let ci = flsdb_stats::wilson(k, n, 0.95).expect("ci");
            let band = if percent < 50.0 {
                "red"
            } else if percent < 80.0 {
                "amber"
            } else {
                "green"
            };
            CiRow {
                label: p.label.clone(),
                percent: Some(percent),
                lower: Some(ci.lower * 100.0),
                upper: Some(ci.upper * 100.0),
                band: Some(band),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.percent.unwrap_or(0.0).total_cmp(&a.percent.unwrap_or(0.0)));
    rows.push(CiRow {
        label: "Service 31 (no records)".to_owned(),
        percent: None,
        lower: None,
        upper: None,
        band: None,
    });
    rows
}
