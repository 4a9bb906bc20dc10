//! The fast path for CSV text: the file is read in large blocks cut at record terminators, and a
//! block without any quote character is split here, with no allocation per row or cell. Such a
//! block means exactly what the csv crate reads from it (RFC 4180 as configured in
//! [`crate::RowSource`]: `,` between cells, `\r`, `\n` or `\r\n` ending a record, empty lines
//! skipped). A block that holds a `"` — a quoted cell may contain commas and line breaks — is
//! handed, with the rest of the file, to the csv crate itself, so quoting is only ever
//! interpreted by one implementation.

use std::io::{self, Read};

/// Bytes per block: large enough that a block's fixed costs vanish, small enough that memory
/// stays flat (a few blocks are in flight at once).
pub(crate) const BLOCK: usize = 1 << 20;

/// True for a byte that ends a record.
#[inline]
fn is_terminator(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The next record of a quote-free block at or after `*pos` (terminators before it are skipped,
/// as the csv crate skips empty lines), without its terminator; `None` at the end.
#[inline]
pub(crate) fn next_record<'a>(block: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut start = *pos;
    while start < block.len() && is_terminator(block[start]) {
        start += 1;
    }
    if start >= block.len() {
        *pos = block.len();
        return None;
    }
    let end = memchr::memchr2(b'\n', b'\r', &block[start..]).map_or(block.len(), |i| start + i);
    *pos = end;
    Some(&block[start..end])
}

/// The cells of a record, as `str::split(',')` gives them. Commas are found eight bytes at a
/// time (a comma-dense line defeats both a branch per byte and `memchr`, which restarts per
/// match): each word is turned into a mask with the high bit set in exactly the bytes that
/// are commas, and the mask's bits are walked.
#[inline]
pub(crate) fn split_text<'a>(line: &'a str, cells: &mut Vec<&'a str>) {
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut base = 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in words.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let mut mask = comma_mask(u64::from_le_bytes(word));
        while mask != 0 {
            let end = base + (mask.trailing_zeros() / 8) as usize;
            cells.push(&line[start..end]);
            start = end + 1;
            mask &= mask - 1;
        }
        base += 8;
    }
    for (i, b) in words.remainder().iter().enumerate() {
        if *b == b',' {
            cells.push(&line[start..base + i]);
            start = base + i + 1;
        }
    }
    cells.push(&line[start..]);
}

/// Splits a record as [`split_text`] does, but puts cell `k` straight into `slots[targets[k]]`
/// (cells past `targets` are dropped) and returns the number of cells: the per-record list of
/// cells and the second pass that files them by field are both saved. `canonical` says that
/// `targets[k] == k` for every column (the usual file, see [`is_identity`]): each cell then goes
/// to its own slot, with one bounds check instead of a look-up and two. The comma walk repeats
/// [`split_text`]'s on purpose: one walk taking a closure for both cost 1.5% more instructions
/// in `flsdb check` (callgrind, 100k rows).
#[inline]
pub(crate) fn split_cells<'a>(line: &'a str, targets: &[usize], canonical: bool, slots: &mut [&'a str]) -> usize {
    let mut k = 0;
    let mut put = |k: usize, cell: &'a str| {
        let slot = if canonical { slots.get_mut(k) } else { targets.get(k).and_then(|t| slots.get_mut(*t)) };
        if let Some(slot) = slot {
            *slot = cell;
        }
    };
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut base = 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in words.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let mut mask = comma_mask(u64::from_le_bytes(word));
        while mask != 0 {
            let end = base + (mask.trailing_zeros() / 8) as usize;
            put(k, &line[start..end]);
            k += 1;
            start = end + 1;
            mask &= mask - 1;
        }
        base += 8;
    }
    for (i, b) in words.remainder().iter().enumerate() {
        if *b == b',' {
            put(k, &line[start..base + i]);
            k += 1;
            start = base + i + 1;
        }
    }
    put(k, &line[start..]);
    k + 1
}

/// True when `targets` sends every column to the slot of the same number, and no slot is missed.
pub(crate) fn is_identity(targets: &[usize], slots: usize) -> bool {
    targets.len() == slots && targets.iter().enumerate().all(|(i, t)| *t == i)
}

/// The high bit of every byte of `word` that is a comma, and no other bit. Exact (no false
/// positives from borrows): `(t & 0x7f..) + 0x7f..` sets a byte's high bit when its low seven
/// bits are not all zero, without carrying into the next byte.
#[inline]
fn comma_mask(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let t = word ^ 0x2c2c_2c2c_2c2c_2c2c;
    !(((t & LOW7) + LOW7) | t | LOW7)
}

/// Reads a stream in blocks that end at a record terminator (or at the end of the stream).
pub(crate) struct BlockReader {
    reader: Box<dyn Read + Send>,
    /// Bytes read after the last block handed out.
    pending: Vec<u8>,
    eof: bool,
}

impl BlockReader {
    pub(crate) fn new(reader: Box<dyn Read + Send>, pending: Vec<u8>, eof: bool) -> Self {
        BlockReader { reader, pending, eof }
    }

    /// Reads until `pending` holds at least `want` bytes or the stream ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while !self.eof && self.pending.len() < want {
            let missing = want - self.pending.len();
            self.pending.reserve(missing);
            // `read_to_end` reads into the spare capacity without zeroing it first.
            match (&mut self.reader).take(missing as u64).read_to_end(&mut self.pending) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The next block: whole records only, unless a single record is longer than the stream
    /// (the rest of the file then is one block). `None` when the stream is exhausted.
    pub(crate) fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.next_block_reusing(None)
    }

    /// [`BlockReader::next_block`], reading the following block into `spare` (a block already
    /// used) rather than a new buffer.
    pub(crate) fn next_block_reusing(&mut self, spare: Option<Vec<u8>>) -> io::Result<Option<Vec<u8>>> {
        let mut spare = spare;
        let mut want = BLOCK;
        loop {
            self.fill(want)?;
            if self.pending.is_empty() {
                return Ok(None);
            }
            let cut = if self.eof {
                Some(self.pending.len())
            } else {
                memchr::memrchr2(b'\n', b'\r', &self.pending).map(|i| i + 1)
            };
            if let Some(cut) = cut {
                let mut rest = spare.take().unwrap_or_default();
                rest.clear();
                rest.reserve(BLOCK.max(self.pending.len() - cut));
                rest.extend_from_slice(&self.pending[cut..]);
                let mut block = std::mem::replace(&mut self.pending, rest);
                block.truncate(cut);
                return Ok(Some(block));
            }
            // One record longer than a block: read more.
            want = self.pending.len() * 2;
        }
    }

    /// The rest of the stream, starting with `block` (a block already taken), for the csv
    /// crate. A line break goes first: the csv crate skips it as an empty line, and so does not
    /// take bytes at the start of a later block for a byte order mark.
    pub(crate) fn into_rest(self, block: Vec<u8>) -> Box<dyn Read + Send> {
        let mut head = Vec::with_capacity(1 + block.len() + self.pending.len());
        head.push(b'\n');
        head.extend_from_slice(&block);
        head.extend_from_slice(&self.pending);
        Box::new(io::Cursor::new(head).chain(self.reader))
    }
}

/// True when the block can be split here (it holds no quote character).
#[inline]
pub(crate) fn is_plain(block: &[u8]) -> bool {
    memchr::memchr(b'"', block).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(r) = next_record(text, &mut pos) {
            out.push(r.split(|b| *b == b',').map(<[u8]>::to_vec).collect());
        }
        out
    }

    fn by_csv_crate(text: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).expect("readable") {
            out.push(record.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    #[test]
    fn splits_quote_free_text_like_the_csv_crate() {
        for text in [
            &b""[..],
            b"\n\n\r\n",
            b"a,b\nc,d",
            b"a,b\r\nc,d\r\n",
            b"a,b\rc,d\r",
            b"\r\n\r\na,,b,\n\n,\n",
            b",",
            b" , \t,x\n \n",
            b"a\xff,b\n\xef\xbb\xbfc\n",
            b"x,y\n\r\r\n\nz",
        ] {
            assert_eq!(records(text), by_csv_crate(text), "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn splits_cells_like_str_split() {
        let long = "ab,,cdefghij,klmnopqrstu,v,,,,,,,,,wxyz,ééé,ü\u{2c00}x,,".repeat(3);
        let all: Vec<String> =
            (0u32..256).map(|b| (0..20).map(|i| if (b >> (i % 8)) & 1 == 1 { ',' } else { 'x' }).collect()).collect();
        for line in
            ["", ",", "a", "a,b", ",a,,b,", "é,ü,,x", " , ", ",,,,,,,,", "1234567,", "12345678,9", long.as_str()]
                .into_iter()
                .chain(all.iter().map(String::as_str))
        {
            let mut cells = Vec::new();
            split_text(line, &mut cells);
            let expected = line.split(',').collect::<Vec<_>>();
            assert_eq!(cells, expected, "{line:?}");
            // Filed in order, as for a canonical header.
            let identity: Vec<usize> = (0..expected.len()).collect();
            assert!(is_identity(&identity, expected.len()));
            let mut slots = vec!["unset"; expected.len()];
            assert_eq!(split_cells(line, &identity, true, &mut slots), expected.len(), "{line:?}");
            assert_eq!(slots, expected, "{line:?}");
            // Filed by target: reversed, with one column dropped (a dump slot) and a short map.
            for width in [0, 1, 3, expected.len(), expected.len() + 2] {
                let targets: Vec<usize> = (0..width).map(|k| if k == 1 { width } else { width - 1 - k }).collect();
                let mut slots = vec!["unset"; width + 1];
                assert_eq!(split_cells(line, &targets, false, &mut slots), expected.len(), "{line:?}");
                for (k, cell) in expected.iter().enumerate().take(width) {
                    if k != 1 {
                        assert_eq!(slots[width - 1 - k], *cell, "{line:?} cell {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn blocks_end_at_terminators_and_cover_the_stream() {
        let mut text = Vec::new();
        for i in 0..200_000 {
            text.extend_from_slice(format!("row{i},{},x\r\n", "y".repeat(i % 13)).as_bytes());
        }
        text.extend_from_slice(b"last,row,without,newline");
        let mut reader = BlockReader::new(Box::new(io::Cursor::new(text.clone())), Vec::new(), false);
        let mut joined = Vec::new();
        let mut blocks = 0;
        while let Some(block) = reader.next_block().expect("readable") {
            assert!(block.len() <= BLOCK);
            joined.extend_from_slice(&block);
            blocks += 1;
        }
        assert!(blocks > 2);
        assert_eq!(joined, text);
        // A record longer than a block is never cut.
        let long = [b"a,".repeat(BLOCK).as_slice(), b"b\nc\n"].concat();
        let mut reader = BlockReader::new(Box::new(io::Cursor::new(long.clone())), Vec::new(), false);
        let first = reader.next_block().expect("readable").expect("a block");
        assert!(first.ends_with(b"\n"));
        assert_eq!([first, reader.next_block().expect("readable").unwrap_or_default()].concat(), long);
    }
}
