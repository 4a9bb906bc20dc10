use crate::Header;
use crate::fast;
use crate::source::Inner;
use crate::source::{RawRow, RowSource};
use csv::ByteRecord;
use flsdb_dataset::values::parse_date;
use flsdb_dataset::{
    Cells, Detail, Field, Problem, Record, Rule, ServiceCode, Severity, Validation, parse_record_with,
};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use time::Date;

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
    /// Warnings kept as their rule only (when checked with [`Detail::WarningsCounted`]); they
    /// are not in `problems` then.
    pub counted_warnings: Vec<Rule>,
}

impl CheckedRow {
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Warning).count() + self.counted_warnings.len()
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
    /// The rows wanted, when only some are: see [`DateWindow`]. `None` checks every row.
    pub only: Option<DateWindow>,
}

/// The rows a reader wants: those whose `field` is a date from `from` to `to`, both included
/// (a KPI period's fractures). A row whose cell reads, as the rules read it, as a date outside
/// the window is passed over: it cannot be among the rows wanted whatever else it holds, so it
/// is not checked further. Every other row is checked in full, including one whose cell is
/// empty or not a date (it is invalid), and its key still counts for duplicates, so the rows
/// wanted are judged exactly as when every row is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateWindow {
    pub field: Field,
    pub from: Date,
    pub to: Date,
}

impl DateWindow {
    /// True for a row (cells by field) that lies outside the window.
    #[inline]
    fn passes_over(&self, cells: &Cells<'_>) -> bool {
        let cell = flsdb_dataset::values::trim(cells[self.field.index()]);
        parse_date(cell).is_ok_and(|date| date < self.from || date > self.to)
    }
}

impl RowChecker {
    /// Checks one row as read (cells as bytes, any number of them); `None` for a row passed
    /// over (see [`RowChecker::only`]). So do the other checks below.
    fn check(&self, header: &Header, raw: &RawRow, duplicate_of: Option<u64>, detail: Detail) -> Option<CheckedRow> {
        let cells: Vec<&[u8]> = raw.cells.iter().collect();
        self.check_bytes(header, raw.row, &cells, duplicate_of, detail)
    }

    /// Checks one row given as byte cells: the cell count, then the encoding, then the rules.
    fn check_bytes(
        &self,
        header: &Header,
        row: u64,
        raw: &[&[u8]],
        duplicate_of: Option<u64>,
        detail: Detail,
    ) -> Option<CheckedRow> {
        if raw.len() != header.width {
            let text = |field| Self::key_text(header, raw, field, |c| String::from_utf8_lossy(c).trim().to_owned());
            return Some(cell_count(row, raw.len(), header.width, text));
        }
        let mut strings: Vec<&str> = Vec::with_capacity(raw.len());
        for (i, cell) in raw.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(s) => strings.push(s),
                Err(_) => {
                    let text =
                        |field| Self::key_text(header, raw, field, |c| String::from_utf8_lossy(c).trim().to_owned());
                    return Some(CheckedRow {
                        row,
                        record: None,
                        counted_warnings: Vec::new(),
                        problems: vec![RowError {
                            value: String::from_utf8_lossy(cell).into_owned(),
                            ..row_error(
                                row,
                                text,
                                "",
                                Rule::Encoding,
                                format!("cell {} is not valid UTF-8 text: save the file as \"CSV UTF-8\"", i + 1),
                            )
                        }],
                    });
                }
            }
        }
        self.check_text(header, row, &strings, duplicate_of, &Registered::Set(&self.registered), detail)
    }

    /// The text of a key cell (for error lines), however many cells the row has.
    fn key_text<C>(header: &Header, raw: &[C], field: Field, text: impl Fn(&C) -> String) -> String {
        header.column(field).and_then(|i| raw.get(i)).map(text).unwrap_or_default()
    }

    /// Checks one row of text cells (a quote-free line already known to be UTF-8).
    fn check_str_cells(
        &self,
        header: &Header,
        row: u64,
        raw: &[&str],
        duplicate_of: Option<u64>,
        registered: &Registered<'_>,
        detail: Detail,
    ) -> Option<CheckedRow> {
        if raw.len() != header.width {
            let text = |field| Self::key_text(header, raw, field, |c| c.trim().to_owned());
            return Some(cell_count(row, raw.len(), header.width, text));
        }
        self.check_text(header, row, raw, duplicate_of, registered, detail)
    }

    /// The rules, the registry and the permissions, for a row with the header's width of text.
    fn check_text(
        &self,
        header: &Header,
        row: u64,
        strings: &[&str],
        duplicate_of: Option<u64>,
        registered: &Registered<'_>,
        detail: Detail,
    ) -> Option<CheckedRow> {
        let mut cells: Cells<'_> = [""; Field::COUNT];
        for field in Field::ALL {
            if let Some(i) = header.column(*field) {
                cells[field.index()] = strings[i];
            }
        }
        self.check_cells(row, &cells, duplicate_of, registered, detail)
    }

    /// The rules, the registry and the permissions, for a row's cells filed by field.
    fn check_cells(
        &self,
        row: u64,
        cells: &Cells<'_>,
        duplicate_of: Option<u64>,
        registered: &Registered<'_>,
        detail: Detail,
    ) -> Option<CheckedRow> {
        if self.only.is_some_and(|window| window.passes_over(cells)) {
            return None;
        }
        let text = |field: Field| cells[field.index()].trim().to_owned();
        let outcome = parse_record_with(cells, self.validation, detail);
        let mut problems: Vec<RowError> = Vec::new();
        // A valid record carries its service code already parsed.
        let parsed;
        let service = match &outcome {
            Ok(valid) => Some(&valid.record.service_code),
            Err(_) => {
                parsed = ServiceCode::parse(cells[Field::ServiceCode.index()]);
                parsed.as_ref()
            }
        };
        if let Some(code) = service {
            if !registered.contains(code) {
                problems.push(RowError {
                    value: code.to_string(),
                    ..row_error(
                        row,
                        text,
                        "service_code",
                        Rule::UnknownService,
                        format!("service {code} is not in the organisation registry"),
                    )
                });
            } else if self.permitted.as_ref().is_some_and(|p| !p.contains(code)) {
                problems.push(RowError {
                    value: code.to_string(),
                    ..row_error(
                        row,
                        text,
                        "service_code",
                        Rule::NotYourService,
                        format!("you may not submit records for service {code}: it is not one of your services"),
                    )
                });
            }
        }
        if let Some(first) = duplicate_of {
            problems.push(RowError {
                value: text(Field::LocalId),
                ..row_error(
                    row,
                    text,
                    "local_id",
                    Rule::DuplicateKey,
                    format!("service_code and local_id repeat row {first}: a record may appear once in a file"),
                )
            });
        }
        let to_error = |p: Problem| RowError {
            severity: p.severity,
            value: p.value,
            ..row_error(row, text, p.field.name(), p.rule, p.message)
        };
        // Warnings that are only counted stay as their rule.
        let mut counted_warnings = Vec::new();
        let mut keep = |p: &Problem| {
            let counted = detail == Detail::WarningsCounted && p.severity == Severity::Warning;
            if counted {
                counted_warnings.push(p.rule);
            }
            !counted
        };
        Some(match outcome {
            Ok(valid) if problems.is_empty() => {
                let problems = valid.warnings.into_iter().filter(|p| keep(p)).map(to_error).collect();
                CheckedRow { row, record: Some(valid.record), problems, counted_warnings }
            }
            Ok(valid) => {
                problems.extend(valid.warnings.into_iter().filter(|p| keep(p)).map(to_error));
                CheckedRow { row, record: None, problems, counted_warnings }
            }
            Err(found) => {
                let mut all: Vec<RowError> = found.into_iter().filter(|p| keep(p)).map(to_error).collect();
                all.extend(problems);
                CheckedRow { row, record: None, problems: all, counted_warnings }
            }
        })
    }
}

/// An error line of `row` (invalid, no value yet); `text` gives the row's key cells.
fn row_error(row: u64, text: impl Fn(Field) -> String, field: &str, rule: Rule, message: String) -> RowError {
    RowError {
        row,
        service_code: text(Field::ServiceCode),
        local_id: text(Field::LocalId),
        field: field.to_owned(),
        value: String::new(),
        rule: rule.code().to_owned(),
        severity: Severity::Invalid,
        message,
    }
}

fn cell_count(row: u64, n: usize, width: usize, text: impl Fn(Field) -> String) -> CheckedRow {
    CheckedRow {
        row,
        record: None,
        counted_warnings: Vec::new(),
        problems: vec![row_error(
            row,
            text,
            "",
            Rule::CellCount,
            format!("the row has {n} cells but the header has {width} columns (check for a stray or missing comma)"),
        )],
    }
}

/// The registered services, as given or as a faster copy made for one file.
enum Registered<'a> {
    Set(&'a HashSet<ServiceCode>),
    /// Keyed by bytes: a parsed code gives them without a UTF-8 check.
    Fast(HashSet<&'a [u8], foldhash::fast::RandomState>),
}

impl<'a> Registered<'a> {
    fn fast(set: &'a HashSet<ServiceCode>) -> Self {
        let mut fast = HashSet::with_capacity_and_hasher(set.len(), foldhash::fast::RandomState::default());
        fast.extend(set.iter().map(ServiceCode::as_bytes));
        Registered::Fast(fast)
    }

    #[inline]
    fn contains(&self, code: &ServiceCode) -> bool {
        match self {
            Registered::Set(set) => set.contains(code),
            Registered::Fast(set) => set.contains(code.as_bytes()),
        }
    }
}

/// Hashes `(service_code, local_id)` keys to 128 bits (two independently seeded foldhash
/// hashes: fast, and a collision between different keys is as good as impossible), so a million
/// keys cost about 24 MB rather than the strings themselves. Shared by the checking threads.
struct KeyHasher {
    first: foldhash::quality::RandomState,
    second: foldhash::quality::RandomState,
}

impl KeyHasher {
    fn new() -> Self {
        KeyHasher { first: Default::default(), second: Default::default() }
    }

    /// The key of a row; cells not given, not UTF-8 or empty make no key. `upper` is scratch
    /// space for the upper-cased service code (ASCII codes are upper-cased without allocating).
    fn key(&self, service: Option<&[u8]>, local_id: Option<&[u8]>, upper: &mut Vec<u8>) -> Option<Key> {
        fn text(cell: Option<&[u8]>) -> Option<&str> {
            cell.and_then(|c| std::str::from_utf8(c).ok())
        }
        self.key_text(text(service), text(local_id), upper)
    }

    /// [`KeyHasher::key`] of cells already known to be text.
    #[inline]
    fn key_text(&self, service: Option<&str>, local_id: Option<&str>, upper: &mut Vec<u8>) -> Option<Key> {
        // `str::trim`, with a shortcut for the usual cell that has nothing to trim.
        let service = flsdb_dataset::values::trim(service?);
        let local_id = flsdb_dataset::values::trim(local_id?);
        if service.is_empty() || local_id.is_empty() {
            return None;
        }
        upper.clear();
        if service.is_ascii() {
            upper.extend(service.bytes().map(|b| b.to_ascii_uppercase()));
        } else {
            upper.extend_from_slice(service.to_uppercase().as_bytes());
        }
        let key = (upper.as_slice(), local_id.as_bytes());
        Some(Key(self.first.hash_one(key), self.second.hash_one(key)))
    }
}

/// A 128-bit key hash; the map uses its first half as the hash.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Passes a [`Key`]'s first half through.
#[derive(Default)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}

/// The first row of every key seen, and where file order has got to. Units of work are
/// numbered as they are read; each enters its keys here in that order, so the first occurrence
/// of a key wins whichever thread checks it, and rows get their numbers in file order.
struct Sequence {
    /// The unit whose turn it is.
    turn: u64,
    /// The row number of the next row of a CSV file.
    next_row: u64,
    seen: HashMap<Key, u64, BuildHasherDefault<KeyHashHasher>>,
    /// A thread gave up (it panicked): the others stop waiting.
    broken: bool,
}

/// A unit of reading, taken under the source's lock.
enum Unit {
    /// Whole quote-free records.
    Block(Vec<u8>),
    /// Rows read by the csv crate (an unreadable one as its message), numbered in turn.
    Rows(Vec<Result<ByteRecord, String>>),
    /// Rows that carry their own numbers (a workbook's).
    Numbered(Vec<(u64, ByteRecord)>),
}

impl RowSource {
    /// The next unit of reading, `None` at the end; `spare` is a used block's buffer to reuse.
    fn next_unit(&mut self, mut spare: Option<Vec<u8>>) -> Option<Unit> {
        loop {
            match &mut self.inner {
                Inner::Blocks(blocks) => match blocks.reader.next_block_reusing(spare.take()) {
                    Ok(Some(bytes)) if fast::is_plain(&bytes) => return Some(Unit::Block(bytes)),
                    Ok(Some(bytes)) => self.switch_to_csv(bytes),
                    Ok(None) => return None,
                    Err(e) => {
                        self.inner = Inner::Rows(Vec::new().into_iter());
                        return Some(Unit::Rows(vec![Err(e.to_string())]));
                    }
                },
                Inner::Csv(csv) => {
                    let mut rows = Vec::with_capacity(BATCH);
                    while rows.len() < BATCH {
                        let mut cells = ByteRecord::new();
                        match csv.read_byte_record(&mut cells) {
                            Ok(true) => rows.push(Ok(cells)),
                            Ok(false) => break,
                            Err(e) => rows.push(Err(e.to_string())),
                        }
                    }
                    return (!rows.is_empty()).then_some(Unit::Rows(rows));
                }
                Inner::Rows(rows) => {
                    let batch: Vec<(u64, ByteRecord)> = rows.by_ref().take(BATCH).collect();
                    return (!batch.is_empty()).then_some(Unit::Numbered(batch));
                }
            }
        }
    }

    /// Checks every row in file order on this thread (rows passed over are not shown to
    /// `each`); returns how many were passed over.
    pub fn check_each(self, checker: &RowChecker, mut each: impl FnMut(CheckedRow)) -> u64 {
        let shared = Shared::new(self, checker, Detail::Full);
        shared.work(&mut each);
        shared.passed_over.into_inner()
    }
}

const BATCH: usize = 2048;

/// What the checking threads share.
struct Shared<'c> {
    header: Header,
    checker: &'c RowChecker,
    registered: Registered<'c>,
    keys: KeyHasher,
    /// The source, and the number of the next unit read from it.
    source: Mutex<(RowSource, u64)>,
    /// Rows expected in the file (from its size), to size the key map once.
    expected_rows: Option<u64>,
    sequence: Mutex<Sequence>,
    turn_taken: Condvar,
    detail: Detail,
    /// Per column, the index of its field (`usize::MAX` for an ignored column).
    targets: Vec<usize>,
    /// The columns are the fields in field order (`targets[i] == i`).
    canonical: bool,
    /// Rows passed over (outside [`RowChecker::only`]), added up as threads finish.
    passed_over: AtomicU64,
}

/// Marks the sequence broken if a thread leaves its turn without finishing it (a panic).
struct TurnGuard<'a>(&'a Shared<'a>, bool);

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        if !self.1 {
            if let Ok(mut s) = self.0.sequence.lock() {
                s.broken = true;
            }
            self.0.turn_taken.notify_all();
        }
    }
}

impl<'c> Shared<'c> {
    fn new(source: RowSource, checker: &'c RowChecker, detail: Detail) -> Self {
        let next_row = source.next_row;
        let mut targets = vec![usize::MAX; source.header.width];
        for field in Field::ALL {
            if let Some(slot) = source.header.column(*field).and_then(|i| targets.get_mut(i)) {
                *slot = field.index();
            }
        }
        Shared {
            canonical: fast::is_identity(&targets, Field::COUNT),
            targets,
            header: source.header.clone(),
            checker,
            registered: Registered::fast(&checker.registered),
            keys: KeyHasher::new(),
            expected_rows: None,
            source: Mutex::new((source, 0)),
            sequence: Mutex::new(Sequence { turn: 0, next_row, seen: HashMap::default(), broken: false }),
            turn_taken: Condvar::new(),
            detail,
            passed_over: AtomicU64::new(0),
        }
    }

    fn key_of(&self, raw: &ByteRecord, upper: &mut Vec<u8>) -> Option<Key> {
        let cell = |field| self.header.column(field).and_then(|i| raw.get(i));
        self.keys.key(cell(Field::ServiceCode), cell(Field::LocalId), upper)
    }

    /// Takes units until the source is exhausted: keys are hashed here, entered in file order
    /// (waiting for this unit's turn), then the rows are checked and passed to `each`.
    fn work(&self, each: &mut impl FnMut(CheckedRow)) {
        let mut passed_over = 0;
        self.work_counting(&mut |row| match row {
            Some(row) => each(row),
            None => passed_over += 1,
        });
        self.passed_over.fetch_add(passed_over, Ordering::Relaxed);
    }

    /// [`Shared::work`], each row checked shown to `each`, `None` for one passed over.
    fn work_counting(&self, each: &mut impl FnMut(Option<CheckedRow>)) {
        let (service_col, local_col) = (self.header.column(Field::ServiceCode), self.header.column(Field::LocalId));
        let mut upper = Vec::with_capacity(64);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut keys: Vec<Option<Key>> = Vec::new();
        let mut duplicates: Vec<(usize, u64)> = Vec::new();
        // The last block checked here, handed back to the reader to fill again: fresh blocks
        // would cost a page fault per 4 KiB.
        let mut spare: Option<Vec<u8>> = None;
        loop {
            let (unit, number) = {
                let Ok(mut source) = self.source.lock() else { return };
                let Some(unit) = source.0.next_unit(spare.take()) else { return };
                source.1 += 1;
                (unit, source.1 - 1)
            };
            let mut guard = TurnGuard(self, false);
            // Records are cut at ASCII terminators, so when the whole block is UTF-8 so is every
            // record (and every cell: cells are cut at an ASCII comma); one check per block then
            // replaces one per record and per key cell.
            let whole = match &unit {
                Unit::Block(bytes) => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            // Keys, off the critical path.
            keys.clear();
            ranges.clear();
            duplicates.clear();
            match &unit {
                Unit::Block(bytes) => {
                    let mut pos = 0;
                    while let Some(record) = fast::next_record(bytes, &mut pos) {
                        let start = pos - record.len();
                        ranges.push((start, pos));
                        let cells = key_cells(record, service_col, local_col);
                        let key = match whole.and_then(|w| w.get(start..pos)) {
                            Some(line) => cells.and_then(|(service, local)| {
                                let text = |cell: Option<(usize, usize)>| cell.and_then(|(a, b)| line.get(a..b));
                                self.keys.key_text(text(service), text(local), &mut upper)
                            }),
                            None => cells.and_then(|(service, local)| {
                                let bytes = |cell: Option<(usize, usize)>| cell.and_then(|(a, b)| record.get(a..b));
                                self.keys.key(bytes(service), bytes(local), &mut upper)
                            }),
                        };
                        keys.push(key);
                    }
                }
                Unit::Rows(rows) => {
                    keys.extend(rows.iter().map(|r| r.as_ref().ok().and_then(|raw| self.key_of(raw, &mut upper))));
                }
                Unit::Numbered(rows) => {
                    keys.extend(rows.iter().map(|(_, raw)| self.key_of(raw, &mut upper)));
                }
            }
            // This unit's turn: number the rows and enter the keys in file order.
            let first_row = {
                let Ok(mut s) = self.sequence.lock() else { return };
                while s.turn != number && !s.broken {
                    s = match self.turn_taken.wait(s) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                }
                if s.broken {
                    return;
                }
                if s.seen.capacity() == 0 {
                    let expected = match (&unit, self.expected_rows) {
                        (Unit::Block(bytes), Some(total)) if !bytes.is_empty() => {
                            total.saturating_mul(ranges.len() as u64) / bytes.len() as u64
                        }
                        _ => 0,
                    };
                    s.seen.reserve(expected.min(1 << 26) as usize);
                }
                let first_row = s.next_row;
                for (i, key) in keys.iter().enumerate() {
                    let Some(key) = key else { continue };
                    let row = match &unit {
                        Unit::Numbered(rows) => rows[i].0,
                        _ => first_row + i as u64,
                    };
                    match s.seen.entry(*key) {
                        std::collections::hash_map::Entry::Occupied(first) => duplicates.push((i, *first.get())),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert(row);
                        }
                    }
                }
                if !matches!(unit, Unit::Numbered(_)) {
                    s.next_row += keys.len() as u64;
                }
                s.turn += 1;
                first_row
            };
            guard.1 = true;
            drop(guard);
            self.turn_taken.notify_all();
            // The checks themselves.
            let mut dups = duplicates.iter().peekable();
            let mut dup_of = |i: usize| dups.next_if(|d| d.0 == i).map(|d| d.1);
            if let Unit::Block(bytes) = &unit {
                let mut text: Vec<&str> = Vec::with_capacity(self.header.width);
                let mut cells: Vec<&[u8]> = Vec::with_capacity(self.header.width);
                // Fields whose column the header lacks stay empty in every record.
                let mut slots: Cells<'_> = [""; Field::COUNT];
                for (i, &(start, end)) in ranges.iter().enumerate() {
                    let record = &bytes[start..end];
                    let (row, dup) = (first_row + i as u64, dup_of(i));
                    let line = match whole {
                        Some(whole) => whole.get(start..end),
                        None => std::str::from_utf8(record).ok(),
                    };
                    match line {
                        Some(line)
                            if fast::split_cells(line, &self.targets, self.canonical, &mut slots)
                                == self.header.width =>
                        {
                            each(self.checker.check_cells(row, &slots, dup, &self.registered, self.detail));
                        }
                        Some(line) => {
                            text.clear();
                            fast::split_text(line, &mut text);
                            each(self.checker.check_str_cells(
                                &self.header,
                                row,
                                &text,
                                dup,
                                &self.registered,
                                self.detail,
                            ));
                        }
                        None => {
                            cells.clear();
                            cells.extend(record.split(|b| *b == b','));
                            each(self.checker.check_bytes(&self.header, row, &cells, dup, self.detail));
                        }
                    }
                }
            }
            match unit {
                Unit::Block(bytes) => spare = Some(bytes),
                Unit::Rows(rows) => {
                    for (i, raw) in rows.into_iter().enumerate() {
                        let row = first_row + i as u64;
                        match raw {
                            Ok(cells) => {
                                let dup = dup_of(i);
                                each(self.checker.check(&self.header, &RawRow { row, cells }, dup, self.detail));
                            }
                            Err(message) => each(Some(unreadable(row, message))),
                        }
                    }
                }
                Unit::Numbered(rows) => {
                    for (i, (row, cells)) in rows.into_iter().enumerate() {
                        let dup = dup_of(i);
                        each(self.checker.check(&self.header, &RawRow { row, cells }, dup, self.detail));
                    }
                }
            }
        }
    }
}

/// Where the service code and local id cells of a row are (byte ranges), when it has them.
type KeyCells = (Option<(usize, usize)>, Option<(usize, usize)>);

/// The key cells of a quote-free record, found by splitting it up to the later of the two
/// columns; `None` when the header lacks either.
fn key_cells(record: &[u8], service_col: Option<usize>, local_col: Option<usize>) -> Option<KeyCells> {
    let (mut service, mut local) = (None, None);
    let last = service_col?.max(local_col?);
    let mut start = 0;
    for (i, cell) in record.split(|b| *b == b',').enumerate().take(last + 1) {
        let range = Some((start, start + cell.len()));
        start += cell.len() + 1;
        if Some(i) == service_col {
            service = range;
        }
        if Some(i) == local_col {
            local = range;
        }
    }
    Some((service, local))
}

fn unreadable(row: u64, message: String) -> CheckedRow {
    CheckedRow {
        row,
        record: None,
        counted_warnings: Vec::new(),
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

/// Checks rows on `threads` threads, each reading the next block of the file in turn (reading
/// is a small part of the work): each folds the rows it checks into its own state, and the
/// states are returned for the caller to merge (rows reach a thread in file order, but threads
/// interleave). Duplicate keys are judged in file order whichever thread meets them.
pub fn check_parallel<S: Send>(
    source: RowSource,
    checker: &RowChecker,
    threads: usize,
    init: impl Fn() -> S + Sync,
    fold: impl Fn(&mut S, CheckedRow) + Sync,
) -> Vec<S> {
    check_parallel_with(source, checker, Detail::Full, threads, init, fold).states
}

/// What [`check_parallel_with`] gives back.
#[derive(Debug)]
pub struct Checked<S> {
    /// Each thread's state.
    pub states: Vec<S>,
    /// Rows passed over, outside [`RowChecker::only`] (no state saw them).
    pub passed_over: u64,
}

/// [`check_parallel`], building warnings to the given detail (errors are always complete), and
/// counting the rows passed over.
pub fn check_parallel_with<S: Send>(
    source: RowSource,
    checker: &RowChecker,
    detail: Detail,
    threads: usize,
    init: impl Fn() -> S + Sync,
    fold: impl Fn(&mut S, CheckedRow) + Sync,
) -> Checked<S> {
    let mut shared = Shared::new(source, checker, detail);
    shared.expected_rows = shared.source.get_mut().ok().and_then(|s| s.0.size_hint);
    let shared = &shared;
    let (init, fold) = (&init, &fold);
    let states = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(move || {
                    let mut state = init();
                    shared.work(&mut |row| fold(&mut state, row));
                    state
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    Checked { states, passed_over: shared.passed_over.load(Ordering::Relaxed) }
}

#[cfg(test)]
mod tests {
    //! The fast path (blocks split here, checked on several threads) against the reference path
    //! (every row through the csv crate, one thread), on files that exercise every way the two
    //! could part: line endings, a byte order mark, blank lines, quoted cells with line breaks
    //! (early, late, in the last row), a last row without a line break, repeated keys across
    //! blocks, bytes that are not UTF-8, wrong cell counts.
    use super::*;
    use time::macros::date;

    const HEADER: &str =
        "service_code,local_id,date_of_birth,fracture_date,fracture_site,nhs_number,followup16,followup16_date";

    fn checker() -> RowChecker {
        RowChecker {
            validation: Validation { today: date!(2024 - 06 - 30), allow_test_nhs_numbers: true },
            registered: ["BNT", "RFH"].iter().filter_map(|c| ServiceCode::parse(c)).collect(),
            permitted: None,
            only: None,
        }
    }

    /// Rows of every kind, `n` of them, with line ending `eol`.
    fn rows(n: usize, eol: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let line = match i % 11 {
                0 => format!("BNT,{i},1950-01-01,2020-01-01,hip,,yes,2020-02-01"), // warning
                1 => format!("rfh,{i},1950-01-01,2020-01-01,spine,9434765919,,"),
                2 => format!("BNT,{},1950-01-01,2020-01-01,hip,,,", i / 3), // repeats keys
                3 => format!("XYZ,{i},1950-01-01,2019-02-29,hip,,,"),
                4 => format!("BNT,{i},1950-01-01,2020-01-01"),
                5 => format!(" BNT , {i} ,1950-01-01,2020-01-01,wrist,,no,"),
                6 => String::new(), // a blank line
                7 => format!("BNT,{i},1990-01-01,2020-01-01,hip,,,,extra"),
                8 => format!("RFH,é{i},1950-01-01,01/02/2020,hip,,,"),
                9 => format!("BNT,{i},1950-01-01,2015-01-01,hip,,,"),
                _ => format!("BNT,{i}\u{0},1950-01-01,2020-01-01,other,,,"),
            };
            out.extend_from_slice(line.as_bytes());
            if i % 97 == 13 {
                out.extend_from_slice(b"\xff"); // not UTF-8
            }
            out.extend_from_slice(eol.as_bytes());
        }
        out
    }

    fn file(head: &[u8], body: &[u8]) -> Vec<u8> {
        [head, HEADER.as_bytes(), b"\n", body].concat()
    }

    type Seen = Vec<(u64, Option<Record>, Vec<RowError>, Vec<Rule>)>;

    fn seen(rows: Vec<CheckedRow>) -> Seen {
        let mut out: Seen = rows.into_iter().map(|r| (r.row, r.record, r.problems, r.counted_warnings)).collect();
        out.sort_by_key(|r| r.0);
        out
    }

    fn source(bytes: &[u8]) -> RowSource {
        RowSource::csv(Box::new(std::io::Cursor::new(bytes.to_vec())), false).expect("readable")
    }

    /// The reference: the csv crate reads every row (after the same header).
    fn reference(bytes: &[u8]) -> RowSource {
        let mut s = source(bytes);
        if let Inner::Blocks(b) = std::mem::replace(&mut s.inner, Inner::Rows(Vec::new().into_iter())) {
            s.inner = Inner::Csv(crate::source::csv_reader(b.reader.into_rest(Vec::new())));
        }
        s
    }

    fn parallel(s: RowSource, detail: Detail) -> Vec<CheckedRow> {
        parallel_with(s, &checker(), detail).0
    }

    fn sequential(s: RowSource) -> Vec<CheckedRow> {
        sequential_with(s, &checker()).0
    }

    /// The rows checked, and the number passed over.
    fn parallel_with(s: RowSource, checker: &RowChecker, detail: Detail) -> (Vec<CheckedRow>, u64) {
        let checked = check_parallel_with(s, checker, detail, 3, Vec::new, |v, r| v.push(r));
        (checked.states.into_iter().flatten().collect(), checked.passed_over)
    }

    fn sequential_with(s: RowSource, checker: &RowChecker) -> (Vec<CheckedRow>, u64) {
        let mut v = Vec::new();
        let passed_over = s.check_each(checker, |r| v.push(r));
        (v, passed_over)
    }

    fn assert_paths_agree(name: &str, bytes: &[u8]) {
        let expected = seen(sequential(reference(bytes)));
        assert!(expected.len() > 10, "{name}: too few rows");
        assert_eq!(seen(sequential(source(bytes))), expected, "{name}: sequential fast path");
        assert_eq!(seen(parallel(source(bytes), Detail::Full)), expected, "{name}: parallel fast path");
        // Row by row (`next_row`) the rows are the csv crate's too.
        let (mut fast, mut slow) = (source(bytes), reference(bytes));
        loop {
            match (fast.next_row(), slow.next_row()) {
                (None, None) => break,
                (Some(Ok(a)), Some(Ok(b))) => assert_eq!((a.row, a.cells), (b.row, b.cells), "{name}"),
                (a, b) => panic!("{name}: {:?} vs {:?}", a.map(|r| r.map(|r| r.row)), b.map(|r| r.map(|r| r.row))),
            }
        }
        // Counted warnings: the same rows and errors, the warnings as rules only.
        let counted = seen(parallel(source(bytes), Detail::WarningsCounted));
        let stripped: Seen = expected
            .iter()
            .map(|(row, record, problems, _)| {
                let (warnings, errors): (Vec<&RowError>, Vec<&RowError>) =
                    problems.iter().partition(|p| p.severity == Severity::Warning);
                let rules = warnings.iter().map(|w| rule_of(&w.rule)).collect();
                (*row, record.clone(), errors.into_iter().cloned().collect(), rules)
            })
            .collect();
        assert_eq!(counted, stripped, "{name}: counted warnings");
    }

    fn rule_of(code: &str) -> Rule {
        [Rule::AssessmentAfter730Days, Rule::Followup16Window, Rule::Followup52Window]
            .into_iter()
            .find(|r| r.code() == code)
            .unwrap_or_else(|| panic!("not a warning rule: {code}"))
    }

    #[test]
    fn fast_and_reference_paths_agree() {
        // 60,000 rows make several blocks.
        let lf = rows(60_000, "\n");
        assert!(lf.len() > 2 * fast::BLOCK);
        assert_paths_agree("LF", &file(b"", &lf));
        assert_paths_agree("CRLF and BOM", &file(b"\xef\xbb\xbf", &rows(60_000, "\r\n")));
        assert_paths_agree("CR", &file(b"", &rows(60_000, "\r")));
        let mut no_final_break = file(b"", &lf);
        no_final_break.truncate(no_final_break.len() - 1);
        assert_paths_agree("last row without a line break", &no_final_break);
        let mut blank_tail = file(b"", &lf);
        blank_tail.extend_from_slice(b"\n\r\n\n");
        assert_paths_agree("blank lines at the end", &blank_tail);
        // Quotes: from the first block, from a late block (the switch happens mid-file), and in
        // the last row only.
        let quoted = |at: usize, cell: &str| {
            let mut body = lf.clone();
            let cut = body[at..].iter().position(|b| *b == b'\n').map_or(body.len(), |i| at + i + 1);
            body.splice(cut..cut, format!("BNT,{cell},1950-01-01,2020-01-01,hip,,,\n").bytes());
            file(b"", &body)
        };
        assert_paths_agree("quoted line break early", &quoted(10, "\"two\nlines\""));
        assert_paths_agree("quoted line break late", &quoted(lf.len() - 5000, "\"two\r\nlines, \"\"quoted\"\"\""));
        assert_paths_agree("quoted key late", &quoted(fast::BLOCK + 100, "\"q1\""));
        let mut last = file(b"", &lf);
        last.extend_from_slice(b"BNT,\"last\nrow\",1950-01-01,2020-01-01,hip,,,");
        assert_paths_agree("quoted last row", &last);
    }

    #[test]
    fn a_window_passes_over_exactly_the_rows_dated_outside_it() {
        // (fracture_date cell, outside 2020) for: the edges on both sides, another date form,
        // padding, and cells that are not dates (those rows are checked, and rejected).
        let dates = [
            ("2019-12-31", true),
            ("2020-01-01", false),
            ("2020-12-31", false),
            ("2021-01-01", true),
            ("31/12/2019", true),
            (" 2021-06-01 ", true),
            ("2019-02-29", false),
            ("", false),
            ("20-01-01", false),
        ];
        let mut body = String::new();
        let mut outside = Vec::new();
        for i in 0..30_000 {
            let (date, out) = dates[i % dates.len()];
            let line = match i % 7 {
                // Pairs of rows share a key, on different dates: a row passed over still makes
                // the later one a duplicate.
                0 => format!("BNT,k{},1950-01-01,{date},hip,,,", i / 14),
                1 => format!("BNT,{i},1950-01-01,{date},hip"), // too few cells: checked
                2 => format!("NOPE,{i},1990-01-01,{date},hip,,,"),
                3 => format!("RFH,{i},1950-01-01,{date},wrist,,yes,2018-01-01"),
                _ => format!("rfh,{i},1950-01-01,{date},wrist,,no,"),
            };
            body.push_str(&line);
            body.push('\n');
            outside.push(out && i % 7 != 1);
        }
        let bytes = file(b"", body.as_bytes());
        let windowed = RowChecker {
            only: Some(DateWindow {
                field: Field::FractureDate,
                from: date!(2020 - 01 - 01),
                to: date!(2020 - 12 - 31),
            }),
            ..checker()
        };
        // Every row checked, less those dated outside 2020 (rows are numbered from 2).
        let all = seen(sequential(reference(&bytes)));
        let expected: Seen = all.into_iter().filter(|r| !outside[(r.0 - 2) as usize]).collect();
        let passed = outside.iter().filter(|o| **o).count() as u64;
        assert!(passed > 10_000 && expected.len() > 10_000);
        assert!(expected.iter().any(|r| r.2.iter().any(|p| p.rule == Rule::DuplicateKey.code())));
        for (name, (rows, passed_over)) in [
            ("reference", sequential_with(reference(&bytes), &windowed)),
            ("sequential", sequential_with(source(&bytes), &windowed)),
            ("parallel", parallel_with(source(&bytes), &windowed, Detail::Full)),
        ] {
            assert_eq!(passed_over, passed, "{name}");
            assert_eq!(seen(rows), expected, "{name}");
        }
    }

    /// A complete, valid row of every field (with the checker's services and date).
    const FULL: &[(Field, &str)] = &[
        (Field::ServiceCode, "BNT"),
        (Field::LocalId, "L1"),
        (Field::NhsNumber, "9434765919"),
        (Field::DateOfBirth, "1940-01-01"),
        (Field::Sex, "female"),
        (Field::Postcode, "SW1A 1AA"),
        (Field::CareHome, "no"),
        (Field::FlsContactDate, "2019-06-02"),
        (Field::FlsAssessmentDate, "2019-06-03"),
        (Field::Admitted, "inpatient"),
        (Field::FractureDate, "2019-06-01"),
        (Field::FractureIdentification, "clinical"),
        (Field::FractureSite, "wrist"),
        (Field::OtherFractureSites, "hip"),
        (Field::HeightCm, "160"),
        (Field::WeightKg, "60.5"),
        (Field::PreviousFracture, "yes"),
        (Field::ParentalHipFracture, "no"),
        (Field::Smoker, "never"),
        (Field::OnBoneTherapy, "no"),
        (Field::FallsHistory, "one"),
        (Field::Dxa, "ordered"),
        (Field::DxaDate, "2019-06-20"),
        (Field::TScore, "-2.5"),
        (Field::FraxMajor, "20"),
        (Field::BoneTherapyRecommended, "alendronate"),
        (Field::CalciumVitdRecommended, "yes"),
        (Field::FallsAssessment, "done"),
        (Field::Followup16, "yes"),
        (Field::Followup16Date, "2019-09-01"),
        (Field::Followup16By, "fls"),
        (Field::Therapy16w, "alendronate"),
        (Field::StrengthBalance16w, "yes"),
        (Field::CalciumVitd16w, "yes"),
        (Field::Followup52, "yes"),
        (Field::Followup52Date, "2020-06-01"),
        (Field::Followup52By, "gp"),
        (Field::Therapy52w, "alendronate"),
        (Field::Refractures, "1"),
        (Field::RefractureSites, "spine"),
        (Field::DeathDate, "2020-07-01"),
    ];

    /// Values that exercise every shortcut of the cell parsers (canonical forms, labels, case,
    /// padding, other date and number forms, separators, non-ASCII, control characters) and
    /// the ways around them.
    const TRICKY: &[&str] = &[
        "",
        " ",
        "YES",
        " no ",
        "Y",
        "true",
        "0",
        "2",
        "unknown",
        "Two Or More",
        "two_or more",
        "not required",
        "NOT_POSSIBLE",
        "Informed decline",
        "alendronate;denosumab",
        "alendronate; alendronate",
        "hip;spine;wrist",
        "hip;",
        "1.",
        ".5",
        "+1.50",
        "-0",
        "-2.55",
        "1e2",
        "150.0000000000001",
        "99999999999999999",
        "2019-02-29",
        "2020-02-29",
        "2019-13-01",
        "2019-1-01",
        "2o19-01-01",
        "1/6/2019",
        "19-06-01",
        "2030-01-01",
        "1900-01-01",
        "943 476 5919",
        "943-476-5919",
        "9434765918",
        "9999999999",
        "L1",
        "sw1a1aa",
        "é",
        "Zürich",
        "a\u{7}b",
        "ﬁ",
        "bnt",
        "rfh",
        "XYZ",
    ];

    #[test]
    fn fast_and_reference_paths_agree_on_every_field() {
        // The canonical columns (cells filed by position), and the same in an unusual order
        // with an ignored column in the middle (cells filed by look-up).
        let canonical: Vec<Option<Field>> = Field::ALL.iter().copied().map(Some).collect();
        let mut shuffled: Vec<Option<Field>> = Field::ALL.iter().rev().copied().map(Some).collect();
        shuffled.insert(7, None);
        every_field_agrees(canonical);
        every_field_agrees(shuffled);
    }

    fn every_field_agrees(order: Vec<Option<Field>>) {
        let header: Vec<&str> = order.iter().map(|f| f.map_or("notes", Field::name)).collect();
        let value = |f: Field| FULL.iter().find(|(g, _)| *g == f).map_or("", |(_, v)| *v);
        let base: Vec<String> = order.iter().map(|f| f.map_or("x".to_owned(), |f| value(f).to_owned())).collect();
        let local = order.iter().position(|f| *f == Some(Field::LocalId)).unwrap_or(0);
        let mut rows = vec![base.clone()];
        for (column, field) in order.iter().enumerate() {
            for tricky in TRICKY {
                let mut cells = base.clone();
                // A fresh key per row, unless the key itself is being varied.
                if *field != Some(Field::LocalId) {
                    cells[local] = format!("L{}", rows.len());
                }
                cells[column] = (*tricky).to_owned();
                rows.push(cells);
            }
        }
        let body: String = rows.iter().map(|cells| cells.join(",") + "\n").collect();
        let bytes = [header.join(",").as_bytes(), b"\n", body.as_bytes()].concat();
        let open = |b: &[u8]| RowSource::csv(Box::new(std::io::Cursor::new(b.to_vec())), true).expect("readable");
        let mut reference = open(&bytes);
        if let Inner::Blocks(b) = std::mem::replace(&mut reference.inner, Inner::Rows(Vec::new().into_iter())) {
            reference.inner = Inner::Csv(crate::source::csv_reader(b.reader.into_rest(Vec::new())));
        }
        let expected = seen(sequential(reference));
        assert!(expected.len() > 1000);
        assert!(expected[0].1.is_some(), "the base row is valid: {:?}", expected[0].2);
        assert!(expected.iter().any(|r| r.1.is_some()) && expected.iter().any(|r| r.1.is_none()));
        assert_eq!(seen(sequential(open(&bytes))), expected, "sequential fast path");
        assert_eq!(seen(parallel(open(&bytes), Detail::Full)), expected, "parallel fast path");
    }

    #[test]
    fn repeated_keys_name_the_first_row_across_blocks() {
        let mut body = Vec::new();
        for i in 0..40_000 {
            body.extend_from_slice(format!("BNT,{},1950-01-01,2020-01-01,hip,,,\n", i % 20_000).as_bytes());
        }
        let rows = seen(parallel(source(&file(b"", &body)), Detail::Full));
        assert_eq!(rows.len(), 40_000);
        for (row, record, problems, _) in &rows[20_000..] {
            assert!(record.is_none());
            assert_eq!(
                problems[0].message,
                format!("service_code and local_id repeat row {}: a record may appear once in a file", row - 20_000)
            );
        }
        assert!(rows[..20_000].iter().all(|r| r.1.is_some()));
    }
}
