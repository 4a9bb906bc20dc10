//! flsdb-report: the audit's reports, built from KPI reports of the engine (`flsdb-kpi`) and
//! charts of `flsdb-charts`. Pure: no files, no database, no clock (period and as-of date come
//! with the KPI reports), so the same data always gives the same report.
//!
//! - [`annual`]: the published annual report (key findings with previous-year comparison,
//!   participation, one section per KPI with caterpillar and funnel plots, recommendations,
//!   methods and per-service appendix), with disclosure control below national level;
//! - [`commissioner`]: one commissioner's services against the national picture;
//! - [`service`]: a service's KPIs with SPC charts and the suggested next QI target;
//! - [`benchmarks`]: the benchmark table as CSV or as XLSX with real conditional formats.
//!
//! Each report is a [`Document`] (a small content model), written out by [`html::render`] as
//! one self-contained HTML file and by [`typst::render`] as a [`PdfJob`]: typst markup plus the
//! chart SVGs, which the `flsdb-pdf` binary turns into a PDF. typst itself is not a dependency
//! of this crate, so nothing that links it has to link typst.
//!
//! [`Fingerprint`] hashes the data a report was built from; every report states it.

mod annual;
mod benchmarks;
mod charts;
mod commissioner;
mod common;
pub mod describe;
pub mod doc;
pub mod fingerprint;
pub mod fmt;
pub mod html;
mod service;
pub mod text;
pub mod typst;

pub use annual::{AnnualInput, annual, disclosure_sentence};
pub use benchmarks::{BenchKpi, BenchRow, Benchmarks, NATIONAL, benchmarks, to_csv, to_xlsx};
pub use commissioner::{CommissionerInput, commissioner, commissioners};
pub use doc::Document;
pub use fingerprint::Fingerprint;
pub use service::{ServiceInput, service};
pub use text::DEFAULT_TEXT;
pub use typst::PdfJob;

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write the spreadsheet: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}
