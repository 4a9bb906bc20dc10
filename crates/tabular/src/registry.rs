//! The registry files: services, per-year caseloads and the opt-out list.

use flsdb_dataset::{Caseloads, NhsNumber, OptOutLineError, RegistryProblem, SERVICE_COLUMNS, Service, parse_opt_outs};
use std::collections::HashSet;
use std::path::Path;

/// A registry file that could not be loaded, with every problem found (nothing is loaded).
#[derive(Debug, thiserror::Error)]
#[error("{path}:\n{}", .problems.iter().map(|p| format!("  row {}: {}", p.0, p.1.message)).collect::<Vec<_>>().join("\n"))]
pub struct RegistryFileError {
    pub path: String,
    pub problems: Vec<(u64, RegistryProblem)>,
}

fn error(path: &Path, row: u64, column: &'static str, message: String) -> RegistryFileError {
    RegistryFileError {
        path: path.display().to_string(),
        problems: vec![(row, RegistryProblem { column, value: String::new(), message })],
    }
}

/// Reads a CSV whose header must hold `columns` (any order, case-insensitive, extra columns
/// refused) and hands each row's cells, in `columns` order, to `row`.
fn read_table<const N: usize>(
    path: &Path,
    columns: [&'static str; N],
    required: &[&str],
    mut each_row: impl FnMut([&str; N]) -> Result<(), Vec<RegistryProblem>>,
) -> Result<(), RegistryFileError> {
    let text = std::fs::read(path).map_err(|e| error(path, 0, "", format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(text)
        .map_err(|_| error(path, 0, "", "the file is not UTF-8 text: save it as \"CSV UTF-8\"".into()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(error(path, 1, "", e.to_string())),
        None => return Err(error(path, 1, "", "the file is empty: it needs a header row".into())),
    };
    let mut index = [usize::MAX; N];
    let mut problems = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim();
        match columns.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(c) if index[c] != usize::MAX => problems.push((
                1,
                RegistryProblem {
                    column: columns[c],
                    value: name.into(),
                    message: format!("column {name:?} appears twice"),
                },
            )),
            Some(c) => index[c] = i,
            None => problems.push((
                1,
                RegistryProblem {
                    column: "",
                    value: name.into(),
                    message: format!("column {name:?} is not one of: {}", columns.join(", ")),
                },
            )),
        }
    }
    for (c, name) in columns.iter().enumerate() {
        if index[c] == usize::MAX && required.contains(name) {
            problems.push((
                1,
                RegistryProblem {
                    column: name,
                    value: String::new(),
                    message: format!("required column {name:?} is missing"),
                },
            ));
        }
    }
    if problems.is_empty() {
        for (i, record) in records.enumerate() {
            let row = i as u64 + 2;
            match record {
                Ok(r) if r.len() != header.len() => problems.push((
                    row,
                    RegistryProblem {
                        column: "",
                        value: String::new(),
                        message: format!("the row has {} cells but the header has {}", r.len(), header.len()),
                    },
                )),
                Ok(r) => {
                    let cells = index.map(|i| if i == usize::MAX { "" } else { r.get(i).unwrap_or("") });
                    if let Err(found) = each_row(cells) {
                        problems.extend(found.into_iter().map(|p| (row, p)));
                    }
                }
                Err(e) => {
                    problems.push((row, RegistryProblem { column: "", value: String::new(), message: e.to_string() }))
                }
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(RegistryFileError { path: path.display().to_string(), problems }) }
}

/// Reads a services file; a repeated service code is an error.
pub fn read_services(path: &Path) -> Result<Vec<Service>, RegistryFileError> {
    let mut services: Vec<Service> = Vec::new();
    let mut seen = HashSet::new();
    read_table(path, SERVICE_COLUMNS, &["service_code", "name"], |cells| {
        let service = Service::parse(cells)?;
        if !seen.insert(service.code.clone()) {
            return Err(vec![RegistryProblem {
                column: "service_code",
                value: service.code.to_string(),
                message: format!("service {} appears more than once", service.code),
            }]);
        }
        services.push(service);
        Ok(())
    })?;
    Ok(services)
}

/// Reads `caseloads.csv` (`service_code,year,expected_caseload`).
pub fn read_caseloads(path: &Path) -> Result<Caseloads, RegistryFileError> {
    let mut caseloads = Caseloads::default();
    read_table(
        path,
        ["service_code", "year", "expected_caseload"],
        &["service_code", "year", "expected_caseload"],
        |cells| caseloads.add_row(cells),
    )?;
    Ok(caseloads)
}

/// Reads an opt-out list; unreadable lines are returned for reporting, the rest loads.
pub fn read_opt_outs(
    path: &Path,
    allow_test: bool,
) -> Result<(HashSet<NhsNumber>, Vec<OptOutLineError>), RegistryFileError> {
    let bytes = std::fs::read(path).map_err(|e| error(path, 0, "", format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| error(path, 0, "", "the file is not UTF-8 text".into()))?;
    Ok(parse_opt_outs(&text, allow_test))
}
