//! Reading and writing FLS-DB files (CSV and XLSX): header matching, row-by-row checks with
//! spreadsheet row numbers, error reports, and exports in canonical form. Knows nothing of the
//! database; the importer and the KPI command both read files through here.

mod check;
mod fast;
mod header;
mod registry;
mod source;
mod write;

pub use check::{Checked, CheckedRow, DateWindow, RowChecker, RowError, check_parallel, check_parallel_with};
pub use flsdb_dataset::Detail;
pub use header::{FileProblem, Header};
pub use registry::{RegistryFileError, read_caseloads, read_opt_outs, read_services};
pub use source::{Format, RawRow, RowSource};
pub use write::{ERROR_COLUMNS, write_errors_csv, write_records_csv, write_records_xlsx, write_services_csv};

/// A file that cannot be read as a whole (as opposed to a bad row).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a readable XLSX workbook: {message}")]
    Xlsx { path: String, message: String },
    #[error("{0}")]
    Csv(String),
    #[error("the file's header has problems:\n{}", .0.iter().map(|p| format!("  - {}", p.message)).collect::<Vec<_>>().join("\n"))]
    Header(Vec<FileProblem>),
    #[error("the file is empty: it needs a header row naming the columns")]
    Empty,
    #[error("the file is {0}, not UTF-8: save it as \"CSV UTF-8\" and import it again")]
    Encoding(&'static str),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}
