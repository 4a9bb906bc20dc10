use crate::{FileError, RowError};
use flsdb_dataset::{Field, Record, SERVICE_COLUMNS, Service};
use std::borrow::Borrow;
use std::io::Write;
use std::path::Path;

pub const ERROR_COLUMNS: [&str; 7] = ["row", "service_code", "local_id", "field", "value", "rule", "message"];

fn csv_error(e: impl std::fmt::Display) -> FileError {
    FileError::Csv(e.to_string())
}

/// Writes records as canonical CSV (header = field names in dataset order).
pub fn write_records_csv(
    out: impl Write,
    records: impl IntoIterator<Item = impl Borrow<Record>>,
) -> Result<u64, FileError> {
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(Field::ALL.iter().map(|f| f.name())).map_err(csv_error)?;
    let mut n = 0;
    for record in records {
        w.write_record(record.borrow().cells()).map_err(csv_error)?;
        n += 1;
    }
    w.flush().map_err(csv_error)?;
    Ok(n)
}

/// Writes records to an XLSX workbook: text cells throughout, so what is exported is exactly
/// what re-imports (an NHS number stays 10 digits, a date stays a date string).
pub fn write_records_xlsx(
    path: &Path,
    records: impl IntoIterator<Item = impl Borrow<Record>>,
) -> Result<u64, FileError> {
    let err =
        |e: rust_xlsxwriter::XlsxError| FileError::Write { path: path.display().to_string(), message: e.to_string() };
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("records").map_err(err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, field) in Field::ALL.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, field.name(), &bold).map_err(err)?;
    }
    let mut n = 0u32;
    for record in records {
        n += 1;
        for (c, value) in record.borrow().cells().iter().enumerate() {
            if !value.is_empty() {
                sheet.write_string(n, c as u16, value).map_err(err)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    book.save(path).map_err(err)?;
    Ok(u64::from(n))
}

/// Writes an error report, one line per problem.
pub fn write_errors_csv<'a>(out: impl Write, errors: impl IntoIterator<Item = &'a RowError>) -> Result<(), FileError> {
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(ERROR_COLUMNS).map_err(csv_error)?;
    for e in errors {
        let row = e.row.to_string();
        w.write_record([row.as_str(), &e.service_code, &e.local_id, &e.field, &e.value, &e.rule, &e.message])
            .map_err(csv_error)?;
    }
    w.flush().map_err(csv_error)
}

/// Writes a services file in the registry's format.
pub fn write_services_csv(out: impl Write, services: &[Service]) -> Result<(), FileError> {
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(SERVICE_COLUMNS).map_err(csv_error)?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let number = |v: Option<f64>| v.map(|n| n.to_string()).unwrap_or_default();
    for s in services {
        w.write_record([
            s.code.to_string(),
            s.name.clone(),
            text(&s.nation),
            text(&s.region),
            text(&s.commissioner),
            text(&s.parent_org),
            s.setting.map(|x| x.code().to_owned()).unwrap_or_default(),
            number(s.expected_caseload),
            number(s.nhfd_hip_fractures),
        ])
        .map_err(csv_error)?;
    }
    w.flush().map_err(csv_error)
}
