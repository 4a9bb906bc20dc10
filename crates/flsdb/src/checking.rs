//! Checking a records file on both cores, with progress and an error report; shared by
//! `import records` and `check`.

use anyhow::Context;
use flsdb_dataset::Severity;
use flsdb_tabular::{CheckedRow, RowChecker, RowError, RowSource, check_parallel};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the checking pass learns about a file.
#[derive(Default)]
pub struct CheckSummary {
    pub rows: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub problems: Vec<RowError>,
}

impl CheckSummary {
    pub fn add(&mut self, row: CheckedRow) {
        self.rows += 1;
        self.rejected += u64::from(row.record.is_none());
        self.warnings += row.warnings() as u64;
        self.problems.extend(row.problems);
    }

    pub fn merge(mut parts: Vec<CheckSummary>) -> CheckSummary {
        let mut all = parts.pop().unwrap_or_default();
        for part in parts {
            all.rows += part.rows;
            all.rejected += part.rejected;
            all.warnings += part.warnings;
            all.problems.extend(part.problems);
        }
        all.problems.sort_by_key(|p| p.row);
        all
    }
}

/// Rows per second are high enough that a bar only helps on big files.
const PROGRESS_FROM_BYTES: u64 = 1 << 20;

fn progress(file: &Path, label: &str) -> Option<indicatif::ProgressBar> {
    let big = std::fs::metadata(file).map(|m| m.len() >= PROGRESS_FROM_BYTES).unwrap_or(false);
    (big && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    })
}

impl CheckSummary {
    /// Shows the first problems on the terminal and writes all of them to `errors_out`.
    pub fn report(&self, errors_out: Option<&Path>) -> anyhow::Result<()> {
        const SHOWN: usize = 30;
        let rejecting: Vec<&RowError> = self.problems.iter().filter(|p| p.severity.rejects()).collect();
        for p in rejecting.iter().take(SHOWN) {
            let kind = if p.severity == Severity::Ineligible { "ineligible" } else { "error" };
            let who =
                if p.local_id.is_empty() { String::new() } else { format!(" ({} {})", p.service_code, p.local_id) };
            eprintln!("row {}{who}: {kind}: {}", p.row, p.message);
        }
        let where_all = match errors_out {
            Some(path) => format!("all are in {}", path.display()),
            None => "use --errors-out FILE to get them all".to_owned(),
        };
        if rejecting.len() > SHOWN {
            eprintln!("… and {} more errors ({where_all})", rejecting.len() - SHOWN);
        }
        // Warnings do not block, and a large file has many: count them by rule.
        let mut by_rule = std::collections::BTreeMap::<&str, u64>::new();
        for p in self.problems.iter().filter(|p| p.severity == Severity::Warning) {
            *by_rule.entry(p.rule.as_str()).or_default() += 1;
        }
        if !by_rule.is_empty() {
            let counts: Vec<String> = by_rule.iter().map(|(rule, n)| format!("{rule} {n}")).collect();
            eprintln!("warnings (accepted): {} ({where_all})", counts.join(", "));
        }
        if let Some(path) = errors_out {
            let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            flsdb_tabular::write_errors_csv(std::io::BufWriter::new(file), &self.problems)?;
        }
        Ok(())
    }
}

/// Pass 1 of an import, and all of `check`: every row checked, only problems kept.
pub fn check_file(source: RowSource, checker: &RowChecker, file: &Path) -> CheckSummary {
    let bar = progress(file, "checking");
    let seen = AtomicU64::new(0);
    let summary = CheckSummary::merge(check_parallel(source, checker, 2, CheckSummary::default, |s, row| {
        s.add(row);
        let n = seen.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = &bar {
            if n % 4096 == 0 {
                bar.set_position(n);
            }
        }
    }));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary
}
