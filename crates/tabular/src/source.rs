use crate::fast::{self, BlockReader};
use crate::{FileError, Header};
use csv::ByteRecord;
use std::fs::File;
use std::io::Read;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// By extension: `.xlsx` is a workbook, anything else is read as CSV.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("xlsx") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
}

/// One data row as read, before any check: its spreadsheet row number (header = 1) and cells.
#[derive(Clone, Debug)]
pub struct RawRow {
    pub row: u64,
    pub cells: ByteRecord,
}

/// Streams the data rows of a CSV or XLSX file after its header has been matched.
pub struct RowSource {
    pub header: Header,
    pub(crate) inner: Inner,
    pub(crate) next_row: u64,
    /// The file's size in bytes, when known (to size the duplicate-key map once).
    pub(crate) size_hint: Option<u64>,
}

pub(crate) enum Inner {
    /// CSV in blocks, split by [`crate::fast`] while they hold no quote character; the first
    /// block that does turns the rest of the file over to the csv crate.
    Blocks(Blocks),
    Csv(csv::Reader<Box<dyn Read + Send>>),
    Rows(std::vec::IntoIter<(u64, ByteRecord)>),
}

pub(crate) struct Blocks {
    pub(crate) reader: BlockReader,
    /// The block being read row by row ([`RowSource::next_row`]) and the position in it.
    current: Vec<u8>,
    pos: usize,
}

/// The csv crate as every CSV in this crate is read: no header handling, any number of cells.
pub(crate) fn csv_reader(reader: Box<dyn Read + Send>) -> csv::Reader<Box<dyn Read + Send>> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 20).from_reader(reader)
}

impl RowSource {
    pub fn open(path: &Path, allow_unknown_columns: bool) -> Result<RowSource, FileError> {
        match Format::from_path(path) {
            Format::Csv => {
                let file =
                    File::open(path).map_err(|source| FileError::Io { path: path.display().to_string(), source })?;
                let size = file.metadata().ok().map(|m| m.len());
                // Unbuffered: the block reader reads a megabyte at a time itself.
                let mut source = RowSource::csv(Box::new(file), allow_unknown_columns)?;
                source.size_hint = size;
                Ok(source)
            }
            Format::Xlsx => RowSource::xlsx(path, None, allow_unknown_columns),
        }
    }

    /// Reads CSV from any reader (a file, an upload). UTF-16 is detected and refused up front.
    pub fn csv(mut reader: Box<dyn Read + Send>, allow_unknown_columns: bool) -> Result<RowSource, FileError> {
        let mut start = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match reader.read(&mut start[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(FileError::Csv(format!("cannot read the file: {e}"))),
            }
        }
        if got == 2 && (start == [0xFF, 0xFE] || start == [0xFE, 0xFF]) {
            return Err(FileError::Encoding("UTF-16"));
        }
        // Read the first block and find the header in it with the csv crate; the data rows then
        // go through the block reader. A header that does not end within the first block (a
        // pathological file) is read, with everything else, by the csv crate alone.
        let mut head = start[..got].to_vec();
        let mut eof = got < 2;
        while !eof && head.len() < fast::BLOCK {
            let old = head.len();
            head.resize(fast::BLOCK, 0);
            match reader.read(&mut head[old..]) {
                Ok(0) => {
                    head.truncate(old);
                    eof = true;
                }
                Ok(n) => head.truncate(old + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => head.truncate(old),
                Err(e) => return Err(FileError::Csv(format!("cannot read the file: {e}"))),
            }
        }
        let mut header_reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&head[..]);
        let mut first = ByteRecord::new();
        let found = header_reader.read_byte_record(&mut first);
        let end = usize::try_from(header_reader.position().byte()).unwrap_or(usize::MAX);
        if matches!(found, Ok(true)) && (end < head.len() || eof) {
            let header = Self::header(&first, allow_unknown_columns)?;
            let pending = head.get(end..).unwrap_or_default().to_vec();
            let blocks = Blocks { reader: BlockReader::new(reader, pending, eof), current: Vec::new(), pos: 0 };
            return Ok(RowSource { header, inner: Inner::Blocks(blocks), next_row: 2, size_hint: None });
        }
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(reader));
        let mut csv = csv_reader(reader);
        match csv.read_byte_record(&mut first) {
            Ok(true) => {}
            Ok(false) => return Err(FileError::Empty),
            Err(e) => return Err(FileError::Csv(format!("row 1: {e}"))),
        }
        let header = Self::header(&first, allow_unknown_columns)?;
        Ok(RowSource { header, inner: Inner::Csv(csv), next_row: 2, size_hint: None })
    }

    fn header(first: &ByteRecord, allow_unknown_columns: bool) -> Result<Header, FileError> {
        let names = first
            .iter()
            .map(|cell| {
                std::str::from_utf8(cell).map_err(|_| FileError::Encoding("not UTF-8 (row 1 has bytes that are not)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Header::parse(names, allow_unknown_columns).map_err(FileError::Header)
    }

    /// Reads the first sheet (or the named one) of a workbook; typed cells become the text a
    /// person would expect (dates as YYYY-MM-DD, whole numbers without `.0`, booleans as yes/no).
    pub fn xlsx(path: &Path, sheet: Option<&str>, allow_unknown_columns: bool) -> Result<RowSource, FileError> {
        use calamine::{Reader, open_workbook_auto};
        let xlsx_error = |message: String| FileError::Xlsx { path: path.display().to_string(), message };
        let mut book = open_workbook_auto(path).map_err(|e| xlsx_error(e.to_string()))?;
        let range = match sheet {
            Some(name) => book.worksheet_range(name).map_err(|e| xlsx_error(format!("sheet {name:?}: {e}")))?,
            None => book
                .worksheet_range_at(0)
                .ok_or_else(|| xlsx_error("it has no sheet".into()))?
                .map_err(|e| xlsx_error(e.to_string()))?,
        };
        let first_row = range.start().map_or(0, |(r, _)| u64::from(r));
        let first_col = range.start().map_or(0, |(_, c)| c as usize);
        let mut rows = range.rows().enumerate().map(|(i, cells)| {
            let mut record = ByteRecord::new();
            for _ in 0..first_col {
                record.push_field(b"");
            }
            for cell in cells {
                record.push_field(xlsx_cell_text(cell).as_bytes());
            }
            (first_row + i as u64 + 1, record)
        });
        let Some((_, names)) = rows.next() else { return Err(FileError::Empty) };
        let names: Vec<String> = names.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let header =
            Header::parse(names.iter().map(String::as_str), allow_unknown_columns).map_err(FileError::Header)?;
        let data: Vec<(u64, ByteRecord)> = rows.filter(|(_, r)| r.iter().any(|c| !c.is_empty())).collect();
        Ok(RowSource { header, inner: Inner::Rows(data.into_iter()), next_row: 2, size_hint: None })
    }

    /// The next data row, or a message for a row the CSV parser could not read.
    pub fn next_row(&mut self) -> Option<Result<RawRow, (u64, String)>> {
        loop {
            match &mut self.inner {
                Inner::Csv(csv) => return read_csv_row(csv, &mut self.next_row),
                Inner::Rows(rows) => return rows.next().map(|(row, cells)| Ok(RawRow { row, cells })),
                Inner::Blocks(b) => {
                    if let Some(record) = fast::next_record(&b.current, &mut b.pos) {
                        let mut cells = ByteRecord::with_capacity(record.len(), self.header.width);
                        record.split(|c| *c == b',').for_each(|cell| cells.push_field(cell));
                        let row = self.next_row;
                        self.next_row += 1;
                        return Some(Ok(RawRow { row, cells }));
                    }
                    match b.reader.next_block() {
                        Ok(Some(block)) if fast::is_plain(&block) => {
                            b.current = block;
                            b.pos = 0;
                        }
                        Ok(Some(block)) => self.switch_to_csv(block),
                        Ok(None) => return None,
                        Err(e) => {
                            let row = self.next_row;
                            self.next_row += 1;
                            return Some(Err((row, e.to_string())));
                        }
                    }
                }
            }
        }
    }

    /// Hands the rest of a block-read file, from `block` on, to the csv crate.
    pub(crate) fn switch_to_csv(&mut self, block: Vec<u8>) {
        let empty = Inner::Rows(Vec::new().into_iter());
        if let Inner::Blocks(b) = std::mem::replace(&mut self.inner, empty) {
            self.inner = Inner::Csv(csv_reader(b.reader.into_rest(block)));
        }
    }
}

/// One row through the csv crate; `next_row` is the row number it gets.
pub(crate) fn read_csv_row(
    csv: &mut csv::Reader<Box<dyn Read + Send>>,
    next_row: &mut u64,
) -> Option<Result<RawRow, (u64, String)>> {
    let row = *next_row;
    let mut cells = ByteRecord::new();
    match csv.read_byte_record(&mut cells) {
        Ok(true) => {
            *next_row += 1;
            Some(Ok(RawRow { row, cells }))
        }
        Ok(false) => None,
        Err(e) => {
            *next_row += 1;
            Some(Err((row, e.to_string())))
        }
    }
}

fn xlsx_cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Data::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        Data::Error(e) => format!("#{e:?}"),
    }
}
