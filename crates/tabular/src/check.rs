use crate::Header;
use crate::source::{RawRow, RowSource};
use flsdb_dataset::{Cells, Field, Problem, Record, Rule, ServiceCode, Severity, Validation, parse_record};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Mutex, mpsc};

/// One line of an error report: `row,service_code,local_id,field,value,rule,message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub service_code: String,
    pub local_id: String,
    pub field: String,
    pub value: String,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
}

/// A data row after every check: the record when it is accepted, and every problem it has.
#[derive(Clone, Debug)]
pub struct CheckedRow {
    pub row: u64,
    pub record: Option<Record>,
    /// Errors (when rejected) and warnings, in field order.
    pub problems: Vec<RowError>,
}

impl CheckedRow {
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Warning).count()
    }
}

/// Checks rows against the dataset rules, the registry and the user's services.
#[derive(Clone, Debug)]
pub struct RowChecker {
    pub validation: Validation,
    /// Registered services; a row for any other is rejected.
    pub registered: HashSet<ServiceCode>,
    /// The services the submitting user belongs to; `None` for a user who may submit for all.
    pub permitted: Option<HashSet<ServiceCode>>,
}

impl RowChecker {
    fn check(&self, header: &Header, raw: &RawRow, duplicate_of: Option<u64>) -> CheckedRow {
        let text = |field: Field| -> String {
            header
                .column(field)
                .and_then(|i| raw.cells.get(i))
                .map(|c| String::from_utf8_lossy(c).trim().to_owned())
                .unwrap_or_default()
        };
        let row_error = |field: &str, value: String, rule: Rule, message: String| RowError {
            row: raw.row,
            service_code: text(Field::ServiceCode),
            local_id: text(Field::LocalId),
            field: field.to_owned(),
            value,
            rule: rule.code().to_owned(),
            severity: Severity::Invalid,
            message,
        };
        let rejected = |problems: Vec<RowError>| CheckedRow { row: raw.row, record: None, problems };

        if raw.cells.len() != header.width {
            let (n, w) = (raw.cells.len(), header.width);
            return rejected(vec![row_error(
                "",
                String::new(),
                Rule::CellCount,
                format!("the row has {n} cells but the header has {w} columns (check for a stray or missing comma)"),
            )]);
        }
        let mut strings: Vec<&str> = Vec::with_capacity(raw.cells.len());
        for (i, cell) in raw.cells.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(s) => strings.push(s),
                Err(_) => {
                    return rejected(vec![row_error(
                        "",
                        String::from_utf8_lossy(cell).into_owned(),
                        Rule::Encoding,
                        format!("cell {} is not valid UTF-8 text: save the file as \"CSV UTF-8\"", i + 1),
                    )]);
                }
            }
        }
        let mut cells: Cells<'_> = [""; Field::COUNT];
        for field in Field::ALL {
            if let Some(i) = header.column(*field) {
                cells[field.index()] = strings[i];
            }
        }
        let outcome = parse_record(&cells, self.validation);
        let mut problems: Vec<RowError> = Vec::new();
        let service = ServiceCode::parse(cells[Field::ServiceCode.index()]);
        if let Some(code) = &service {
            if !self.registered.contains(code) {
                problems.push(row_error(
                    "service_code",
                    code.to_string(),
                    Rule::UnknownService,
                    format!("service {code} is not in the organisation registry"),
                ));
            } else if self.permitted.as_ref().is_some_and(|p| !p.contains(code)) {
                problems.push(row_error(
                    "service_code",
                    code.to_string(),
                    Rule::NotYourService,
                    format!("you may not submit records for service {code}: it is not one of your services"),
                ));
            }
        }
        if let Some(first) = duplicate_of {
            problems.push(row_error(
                "local_id",
                text(Field::LocalId),
                Rule::DuplicateKey,
                format!("service_code and local_id repeat row {first}: a record may appear once in a file"),
            ));
        }
        let to_error =
            |p: Problem| RowError { severity: p.severity, ..row_error(p.field.name(), p.value, p.rule, p.message) };
        match outcome {
            Ok(valid) if problems.is_empty() => CheckedRow {
                row: raw.row,
                record: Some(valid.record),
                problems: valid.warnings.into_iter().map(to_error).collect(),
            },
            Ok(valid) => {
                problems.extend(valid.warnings.into_iter().map(to_error));
                rejected(problems)
            }
            Err(found) => {
                let mut all: Vec<RowError> = found.into_iter().map(to_error).collect();
                all.extend(problems);
                rejected(all)
            }
        }
    }
}

/// Finds repeated `(service_code, local_id)` keys in file order, so the first occurrence wins
/// whichever thread checks the rows. Keys are kept as 128-bit hashes: a million keys cost
/// about 32 MB rather than the strings themselves.
#[derive(Default)]
struct KeyTracker {
    seen: HashMap<u128, u64>,
    hasher: std::hash::RandomState,
}

impl KeyTracker {
    fn first_row(&mut self, header: &Header, raw: &RawRow) -> Option<u64> {
        let cell =
            |field| header.column(field).and_then(|i| raw.cells.get(i)).and_then(|c| std::str::from_utf8(c).ok());
        let (service, local_id) = (cell(Field::ServiceCode)?.trim(), cell(Field::LocalId)?.trim());
        if service.is_empty() || local_id.is_empty() {
            return None;
        }
        let service = service.to_uppercase();
        let half = |salt: u8| self.hasher.hash_one((salt, &service, local_id));
        let key = (u128::from(half(0)) << 64) | u128::from(half(1));
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(raw.row);
                None
            }
        }
    }
}

impl RowSource {
    /// Checks every row in file order on this thread.
    pub fn check_each(mut self, checker: &RowChecker, mut each: impl FnMut(CheckedRow)) {
        let mut keys = KeyTracker::default();
        while let Some(next) = self.next_row() {
            match next {
                Ok(raw) => {
                    let dup = keys.first_row(&self.header, &raw);
                    each(checker.check(&self.header, &raw, dup));
                }
                Err((row, message)) => each(unreadable(row, message)),
            }
        }
    }
}

fn unreadable(row: u64, message: String) -> CheckedRow {
    CheckedRow {
        row,
        record: None,
        problems: vec![RowError {
            row,
            service_code: String::new(),
            local_id: String::new(),
            field: String::new(),
            value: String::new(),
            rule: Rule::CellCount.code().to_owned(),
            severity: Severity::Invalid,
            message: format!("the row cannot be read: {message}"),
        }],
    }
}

const BATCH: usize = 2048;

/// Checks rows on `threads` worker threads while this thread reads the file: each worker folds
/// the rows it checks into its own state, and the states are returned for the caller to merge
/// (rows reach a worker in file order, but workers interleave).
pub fn check_parallel<S: Send>(
    mut source: RowSource,
    checker: &RowChecker,
    threads: usize,
    init: impl Fn() -> S + Sync,
    fold: impl Fn(&mut S, CheckedRow) + Sync,
) -> Vec<S> {
    let (sender, receiver) = mpsc::sync_channel::<Vec<(RawRow, Option<u64>)>>(threads * 4);
    let receiver = Mutex::new(receiver);
    let header = source.header.clone();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (receiver, header, init, fold) = (&receiver, &header, &init, &fold);
                scope.spawn(move || {
                    let mut state = init();
                    loop {
                        let batch = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => break,
                        };
                        let Ok(batch) = batch else { break };
                        for (raw, dup) in batch {
                            fold(&mut state, checker.check(header, &raw, dup));
                        }
                    }
                    state
                })
            })
            .collect();
        let mut keys = KeyTracker::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut unreadable_rows = Vec::new();
        while let Some(next) = source.next_row() {
            match next {
                Ok(raw) => {
                    let dup = keys.first_row(&header, &raw);
                    batch.push((raw, dup));
                    if batch.len() == BATCH
                        && sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err()
                    {
                        break;
                    }
                }
                Err((row, message)) => unreadable_rows.push(unreadable(row, message)),
            }
        }
        if !batch.is_empty() {
            let _ = sender.send(batch);
        }
        drop(sender);
        let mut states: Vec<S> = workers.into_iter().filter_map(|w| w.join().ok()).collect();
        if let Some(first) = states.first_mut() {
            for row in unreadable_rows {
                fold(first, row);
            }
        }
        states
    })
}
