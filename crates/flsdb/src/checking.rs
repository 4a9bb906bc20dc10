//! Checking a records file on both cores with a progress bar (`check`, `kpi`, `report` and
//! `spc` from files); the bar is shared with `import records`.

use flsdb_tabular::{Detail, RowChecker, RowSource};
use std::io::IsTerminal;
use std::path::Path;

/// What checking a file learns about it (shared with the import and the web upload).
pub use flsdb_import::CheckSummary;

/// Rows per second are high enough that a bar only helps on big files.
const PROGRESS_FROM_BYTES: u64 = 1 << 20;

pub fn progress(file: &Path, label: &str) -> Option<indicatif::ProgressBar> {
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

/// Shows `rows` done on `bar`, every 4096 rows (drawing more often only costs time).
pub fn advance(bar: &Option<indicatif::ProgressBar>, rows: u64) {
    if let Some(bar) = bar
        && rows.is_multiple_of(4096)
    {
        bar.set_position(rows);
    }
}

/// Every row of a file checked on both cores, only problems kept; warnings kept to `detail`
/// (counted only, when no report lists them).
pub fn check_file(source: RowSource, checker: &RowChecker, file: &Path, detail: Detail) -> CheckSummary {
    let bar = progress(file, "checking");
    let summary = flsdb_import::check_file(source, checker, detail, &|n| advance(&bar, n));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary
}
