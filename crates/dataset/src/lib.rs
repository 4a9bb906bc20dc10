//! The FLS-DB patient record of `shared/spec/dataset.md`: fields, code lists, value types,
//! validation, the organisation registry and the opt-out list. Pure: no files, no database, no
//! clock (the validation date is a parameter).

pub mod codes;
mod field;
mod optout;
mod problem;
mod record;
mod service;
pub mod values;

pub use field::Field;
pub use optout::{OptOutLineError, parse_opt_outs};
pub use problem::{Problem, Rule, Severity};
pub use record::{
    Cells, Detail, DrugSet, FIRST_ELIGIBLE_FRACTURE, MAX_AGE, MIN_AGE, Recommendation, Record, SiteSet, ValidRecord,
    Validation, parse_record, parse_record_with,
};
pub use service::{Caseloads, RegistryProblem, SERVICE_COLUMNS, Service};
pub use values::{CellError, CodeSet, LocalId, NhsNumber, Postcode, ServiceCode};

/// The version of the dataset this crate implements, stated in every output.
pub const DATASET_VERSION: &str = "1";
