//! The records import, shared by `flsdb import records`, `flsdb demo` and the web upload: ONE
//! pass over the file, in which a reader thread checks every row (keeping only the problems)
//! and streams the accepted records into ONE store transaction while the store writes them, so
//! memory stays flat however large the file is and a failure at any point leaves the database
//! as it was. All-or-nothing calls the write off at the first rejected row (rolled back) and
//! goes on checking, so the report still covers every row. Printing and progress bars are the
//! caller's business.

use flsdb_dataset::{Record, ServiceCode, Severity};
use flsdb_store::StoreError;
use flsdb_tabular::{CheckedRow, Detail, RowChecker, RowError, RowSource, check_parallel_with};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Everything that stops an import (a bad row is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] flsdb_tabular::FileError),
    #[error(transparent)]
    Store(#[from] flsdb_store::StoreError),
    #[error("the organisation registry is empty: load services first (flsdb import services FILE)")]
    NoServices,
    #[error("the file reader stopped unexpectedly")]
    Reader,
}

/// What checking a file learns about it.
#[derive(Clone, Debug, Default)]
pub struct CheckSummary {
    pub rows: u64,
    pub rejected: u64,
    pub warnings: u64,
    /// Every error and warning, by row (warnings only when checked with [`Detail::Full`]).
    pub problems: Vec<RowError>,
    /// Warnings checked with [`Detail::WarningsCounted`]: how many of each rule (they are not
    /// in `problems`).
    pub counted_warnings: BTreeMap<&'static str, u64>,
    /// Rows not checked: outside the rows wanted ([`RowChecker::only`], a KPI period); not in
    /// `rows`.
    pub passed_over: u64,
}

impl CheckSummary {
    /// Counts the row and keeps its problems; gives back its record (`None`: rejected).
    pub fn add(&mut self, row: CheckedRow) -> Option<Record> {
        self.rows += 1;
        self.rejected += u64::from(row.record.is_none());
        self.warnings += row.warnings() as u64;
        for rule in row.counted_warnings {
            *self.counted_warnings.entry(rule.code()).or_default() += 1;
        }
        self.problems.extend(row.problems);
        row.record
    }

    pub fn merge(mut parts: Vec<CheckSummary>) -> CheckSummary {
        let mut all = parts.pop().unwrap_or_default();
        for part in parts {
            all.rows += part.rows;
            all.passed_over += part.passed_over;
            all.rejected += part.rejected;
            all.warnings += part.warnings;
            all.problems.extend(part.problems);
            for (rule, n) in part.counted_warnings {
                *all.counted_warnings.entry(rule).or_default() += n;
            }
        }
        all.problems.sort_by_key(|p| p.row);
        all
    }
}

impl CheckSummary {
    /// Shows the first problems on stderr (the command line's report) and writes all of them to
    /// `errors_out` as the error CSV.
    pub fn report(&self, errors_out: Option<&Path>) -> Result<(), ImportError> {
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
        let mut by_rule: BTreeMap<&str, u64> = self.counted_warnings.iter().map(|(r, n)| (*r, *n)).collect();
        for p in self.problems.iter().filter(|p| p.severity == Severity::Warning) {
            *by_rule.entry(p.rule.as_str()).or_default() += 1;
        }
        if !by_rule.is_empty() {
            let counts: Vec<String> = by_rule.iter().map(|(rule, n)| format!("{rule} {n}")).collect();
            eprintln!("warnings (accepted): {} ({where_all})", counts.join(", "));
        }
        if self.passed_over > 0 {
            eprintln!(
                "{} rows outside the period were not checked: they cannot change its figures (`flsdb check` checks every row)",
                self.passed_over
            );
        }
        if let Some(path) = errors_out {
            let file = std::fs::File::create(path).map_err(|e| flsdb_tabular::FileError::Write {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            flsdb_tabular::write_errors_csv(std::io::BufWriter::new(file), &self.problems)?;
        }
        Ok(())
    }
}

/// All of `check`: every row checked on two cores, only problems kept, warnings to the given
/// detail ([`Detail::WarningsCounted`] when only their counts by rule will be shown; errors are
/// always complete). `on_row` is called with the running count of rows checked.
pub fn check_file(
    source: RowSource,
    checker: &RowChecker,
    detail: Detail,
    on_row: &(dyn Fn(u64) + Sync),
) -> CheckSummary {
    let seen = std::sync::atomic::AtomicU64::new(0);
    let checked = check_parallel_with(source, checker, detail, 2, CheckSummary::default, |s, row| {
        s.add(row);
        on_row(seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
    });
    CheckSummary { passed_over: checked.passed_over, ..CheckSummary::merge(checked.states) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write nothing if any row is invalid.
    AllOrNothing,
    /// Write the valid rows and report the rest.
    ValidRows,
}

/// One records import.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub file: PathBuf,
    /// The name shown for the file (an upload's original name); `file` when `None`.
    pub file_name: Option<String>,
    pub sheet: Option<String>,
    pub allow_unknown_columns: bool,
    pub validation: flsdb_dataset::Validation,
    pub mode: Mode,
    pub dry_run: bool,
    pub actor: String,
    /// The services the submitter may submit for; `None` for all.
    pub permitted: Option<HashSet<ServiceCode>>,
}

/// What an import found and did.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub outcome: flsdb_store::ImportOutcome,
    pub summary: CheckSummary,
    /// All-or-nothing found invalid rows, so nothing was written.
    pub refused: bool,
}

impl ImportReport {
    /// The line scripts read.
    pub fn summary_line(&self) -> String {
        let o = &self.outcome;
        format!(
            "inserted {}, updated {}, unchanged {}, rejected {}, warnings {}",
            o.inserted, o.updated, o.unchanged, self.summary.rejected, self.summary.warnings
        )
    }
}

impl ImportRequest {
    pub fn source(&self) -> Result<RowSource, ImportError> {
        Ok(match &self.sheet {
            Some(sheet) => RowSource::xlsx(&self.file, Some(sheet), self.allow_unknown_columns)?,
            None => RowSource::open(&self.file, self.allow_unknown_columns)?,
        })
    }

    /// The checker for this request against the registered services.
    pub async fn checker(&self, store: &flsdb_store::Store) -> Result<RowChecker, ImportError> {
        let registered: HashSet<_> = store.services().await?.into_iter().map(|s| s.code).collect();
        if registered.is_empty() {
            return Err(ImportError::NoServices);
        }
        Ok(RowChecker { validation: self.validation, registered, permitted: self.permitted.clone(), only: None })
    }
}

/// The reader's end of the channel to the store. The store commits when the channel closes, so
/// a reader that dies (a panic) calls the import off first: the rows it sent are not committed.
struct Feed(Option<std::sync::mpsc::SyncSender<Result<Record, StoreError>>>);

impl Feed {
    fn send(&mut self, record: Record) {
        // A closed channel means the store gave up; its error is what the import reports.
        if let Some(to_store) = &self.0
            && to_store.send(Ok(record)).is_err()
        {
            self.0 = None;
        }
    }

    /// Nothing is to be written: the store rolls back when it meets this.
    fn call_off(&mut self) {
        if let Some(to_store) = self.0.take() {
            let _ = to_store.send(Err(StoreError::ImportCalledOff));
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.call_off();
        }
    }
}

/// The import: checks every row and writes the accepted ones in the same pass (see the crate
/// docs). `on_row` sees the running count of rows checked, from the reader thread.
pub async fn import_records_file(
    store: &flsdb_store::Store,
    request: &ImportRequest,
    on_row: impl Fn(u64) + Send + 'static,
) -> Result<ImportReport, ImportError> {
    let checker = request.checker(store).await?;
    let source = request.source()?;
    let all_or_nothing = request.mode == Mode::AllOrNothing;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<Record, StoreError>>(8192);
    let reader = std::thread::spawn(move || {
        let mut summary = CheckSummary::default();
        let mut feed = Feed(Some(sender));
        let passed_over = source.check_each(&checker, |row| {
            let record = summary.add(row);
            on_row(summary.rows);
            match record {
                Some(record) => feed.send(record),
                None if all_or_nothing => feed.call_off(),
                None => {}
            }
        });
        CheckSummary { passed_over, ..summary }
    });
    let name = request.file_name.clone().unwrap_or_else(|| request.file.display().to_string());
    let batch = flsdb_store::NewBatch {
        actor: request.actor.clone(),
        file_name: Some(name.clone()),
        mode: format!("{:?} {:?}", flsdb_tabular::Format::from_path(Path::new(&name)), request.mode).to_lowercase(),
    };
    let outcome = store.import_record_stream((!request.dry_run).then_some(&batch), receiver).await;
    let summary = reader.join().map_err(|_| ImportError::Reader)?;
    let refused = all_or_nothing && summary.rejected > 0;
    let outcome = match outcome {
        Err(StoreError::ImportCalledOff) if refused => flsdb_store::ImportOutcome::default(),
        other => other?,
    };
    Ok(ImportReport { outcome, summary, refused })
}

#[cfg(test)]
mod tests {
    use super::Feed;
    use flsdb_store::StoreError;

    #[test]
    fn a_reader_that_dies_calls_the_import_off() {
        let (sender, receiver) = std::sync::mpsc::sync_channel(4);
        let reader = std::thread::spawn(move || {
            let _feed = Feed(Some(sender));
            panic!("a bug in the checker");
        });
        assert!(reader.join().is_err());
        // A plain disconnect would let the store commit what it had received.
        assert!(matches!(receiver.recv(), Ok(Err(StoreError::ImportCalledOff))));
    }
}
