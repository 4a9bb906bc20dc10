//! Value types of the dataset, each with a fallible constructor: past the boundary only valid
//! values exist.

use crate::problem::Rule;
use std::fmt;
use time::{Date, Month};

/// Why one cell could not be read, before it is tied to a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellError {
    pub rule: Rule,
    pub message: String,
}

impl CellError {
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        CellError { rule, message: message.into() }
    }
}

/// `str::trim`, with a shortcut for the usual cell that starts and ends with a visible ASCII
/// character (nothing to trim): the result is always the same as `str::trim`'s.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (None, _) => s,
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Parses `YYYY-MM-DD`, or `D/M/YYYY` with one- or two-digit day and month (UK exports).
pub fn parse_date(input: &str) -> Result<Date, CellError> {
    // The canonical form, read directly; anything else takes the general path below.
    if let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = input.as_bytes() {
        // All eight digits at once: after subtracting '0' each byte is a digit exactly when it
        // is at most 9, i.e. neither it nor it plus 0x76 has the high bit set (no byte carries
        // into the next: one with the high bit already fails).
        let digits = u64::from_le_bytes([y0, y1, y2, y3, m0, m1, d0, d1]).wrapping_sub(0x3030_3030_3030_3030);
        let high = (digits | digits.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
        // A borrow in the subtraction leaves a high bit somewhere too, so `high` is zero exactly
        // when every byte was an ASCII digit.
        if high == 0 {
            let [a, b, c, d, e, f, g, h] = digits.to_le_bytes();
            let year = i32::from(a) * 1000 + i32::from(b) * 100 + i32::from(c) * 10 + i32::from(d);
            let (month, day) = (e * 10 + f, g * 10 + h);
            let date = Month::try_from(month).ok().and_then(|m| Date::from_calendar_date(year, m, day).ok());
            return date.ok_or_else(|| CellError::new(Rule::ImpossibleDate, format!("{input} is not a real date")));
        }
    }
    parse_date_general(input)
}

fn parse_date_general(input: &str) -> Result<Date, CellError> {
    let bad_form = || CellError::new(Rule::Date, format!("{input:?} is not a date: use YYYY-MM-DD (or DD/MM/YYYY)"));
    let (year, month, day) = if let Some((y, rest)) = split2(input, '-') {
        let (m, d) = rest;
        if y.len() == 2 && m.len() == 2 && d.len() == 2 && all_digits(y) {
            return Err(two_digit_year(input));
        }
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad_form());
        }
        (y, m, d)
    } else if let Some((d, (m, y))) = split2(input, '/') {
        if !(1..=2).contains(&d.len()) || !(1..=2).contains(&m.len()) {
            return Err(bad_form());
        }
        if y.len() == 2 && all_digits(y) {
            return Err(two_digit_year(input));
        }
        if y.len() != 4 {
            return Err(bad_form());
        }
        (y, m, d)
    } else {
        return Err(bad_form());
    };
    if !(all_digits(year) && all_digits(month) && all_digits(day)) {
        return Err(bad_form());
    }
    let (year, month, day) = (digits(year), digits(month), digits(day));
    let impossible = || CellError::new(Rule::ImpossibleDate, format!("{input} is not a real date"));
    let month = u8::try_from(month).ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(impossible)?;
    let day = u8::try_from(day).map_err(|_| impossible())?;
    Date::from_calendar_date(year as i32, month, day).map_err(|_| impossible())
}

fn two_digit_year(input: &str) -> CellError {
    CellError::new(Rule::TwoDigitYear, format!("{input} has a two-digit year: write the year in full (e.g. 2019)"))
}

fn split2(input: &str, sep: char) -> Option<(&str, (&str, &str))> {
    let mut parts = input.split(sep);
    let a = parts.next()?;
    let b = parts.next()?;
    let c = parts.next()?;
    parts.next().is_none().then_some((a, (b, c)))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn digits(s: &str) -> u32 {
    s.bytes().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

/// Formats a date in the canonical `YYYY-MM-DD` form.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Age in whole years on `on`; someone born on 29 February has their birthday on 1 March in
/// other years.
pub fn age_in_years(birth: Date, on: Date) -> i32 {
    let mut age = on.year() - birth.year();
    let birthday_this_year =
        if birth.month() == Month::February && birth.day() == 29 && !time::util::is_leap_year(on.year()) {
            (3u8, 1u8)
        } else {
            (u8::from(birth.month()), birth.day())
        };
    if (u8::from(on.month()), on.day()) < birthday_this_year {
        age -= 1;
    }
    age
}

/// A decimal as the dataset writes them: optional sign (`+` or `-`), digits, `.` as decimal point.
/// Returns the value and the number of significant decimal places (trailing zeros do not count).
pub fn parse_decimal(input: &str) -> Result<(f64, usize), CellError> {
    match parse_decimal_plain(input) {
        Some(parsed) => Ok(parsed),
        None => parse_decimal_general(input),
    }
}

fn parse_decimal_general(input: &str) -> Result<(f64, usize), CellError> {
    let bad = || CellError::new(Rule::Number, format!("{input:?} is not a number (use . as the decimal point)"));
    let unsigned = input.strip_prefix(['+', '-']).unwrap_or(input);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
        return Err(bad());
    }
    let value: f64 = input.parse().map_err(|_| bad())?;
    // `-0` and `-0.0` are zero: +0.0 keeps one canonical value (and one export text) on every
    // backend (SQLite stores -0.0 as 0).
    Ok((value + 0.0, frac.trim_end_matches('0').len()))
}

/// Exact powers of ten as `f64` (every one up to 1e22 is representable).
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// [`parse_decimal`] for the usual shape, `[+-]digits[.digits]` with at most 15 digits, in one
/// pass and without the general float parser; `None` for anything else (which the general
/// path then reads or rejects). Exact: with at most 15 digits the mantissa and the power of
/// ten are both exact `f64`s, so one IEEE division is correctly rounded, as `str::parse` is
/// (Clinger's fast path).
#[inline]
fn parse_decimal_plain(input: &str) -> Option<(f64, usize)> {
    let bytes = input.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.len() > 16 {
        return None;
    }
    let (mut mantissa, mut int_digits, mut frac_digits, mut places) = (0u64, 0usize, 0usize, 0usize);
    let mut point = false;
    for &b in digits {
        if b.is_ascii_digit() {
            mantissa = mantissa * 10 + u64::from(b - b'0');
            if point {
                frac_digits += 1;
                if b != b'0' {
                    places = frac_digits;
                }
            } else {
                int_digits += 1;
            }
        } else if b == b'.' && !point {
            point = true;
        } else {
            return None;
        }
    }
    if int_digits == 0 || point && frac_digits == 0 || int_digits + frac_digits > 15 {
        return None;
    }
    let value = mantissa as f64 / POW10[frac_digits];
    // As the general path: `-0` is zero.
    Some((if negative { -value } else { value } + 0.0, places))
}

/// A whole number, optionally with a leading `+`.
pub fn parse_integer(input: &str) -> Result<i64, CellError> {
    let unsigned = input.strip_prefix('+').unwrap_or(input);
    if unsigned.is_empty() || unsigned.len() > 18 || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CellError::new(Rule::Number, format!("{input:?} is not a whole number")));
    }
    // At most 18 digits: below i64::MAX, so the fold cannot overflow.
    Ok(unsigned.bytes().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// A 10-digit NHS number that passes the Modulus 11 check and lies in an allocated range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(u64);

impl NhsNumber {
    /// `allow_test` admits the test range 900–999 (a deployment setting; the demo allows it).
    pub fn parse(input: &str, allow_test: bool) -> Result<NhsNumber, CellError> {
        let mut value = 0u64;
        let mut count = 0usize;
        let mut sum = 0u32;
        let mut check = 0u32;
        // The usual form, ten ASCII digits, read without decoding characters; anything else
        // (separators, other characters) goes through the general loop below.
        let plain = input.len() == 10 && input.bytes().all(|b| b.is_ascii_digit());
        let general = if plain { "" } else { input };
        if plain {
            for (i, b) in input.bytes().enumerate() {
                let d = u32::from(b - b'0');
                value = value * 10 + u64::from(d);
                if i < 9 {
                    sum += d * (10 - i as u32);
                } else {
                    check = d;
                }
            }
            count = 10;
        }
        for c in general.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let Some(d) = c.to_digit(10) else {
                return Err(CellError::new(
                    Rule::NhsNumberFormat,
                    format!("{input:?} is not an NHS number: it must have 10 digits"),
                ));
            };
            count += 1;
            if count > 10 {
                break;
            }
            value = value * 10 + u64::from(d);
            if count <= 9 {
                sum += d * (11 - count as u32);
            } else {
                check = d;
            }
        }
        if count != 10 {
            return Err(CellError::new(
                Rule::NhsNumberFormat,
                format!("{input:?} is not an NHS number: it must have 10 digits"),
            ));
        }
        let expected = match 11 - sum % 11 {
            11 => 0,
            10 => {
                return Err(CellError::new(
                    Rule::NhsNumberCheckDigit,
                    format!("{input} is not a valid NHS number: no check digit is possible for its first nine digits"),
                ));
            }
            d => d,
        };
        if check != expected {
            return Err(CellError::new(
                Rule::NhsNumberCheckDigit,
                format!("{input} is not a valid NHS number: the check digit should be {expected}, not {check}"),
            ));
        }
        let prefix = value / 10_000_000;
        let allocated = (10..=499).contains(&prefix) || (600..=799).contains(&prefix);
        let test = (900..=999).contains(&prefix);
        if !(allocated || test && allow_test) {
            let why = if test {
                "it is in the test range 900–999, which this deployment does not accept"
            } else {
                "its first three digits are not in an allocated range (010–499, 600–799)"
            };
            return Err(CellError::new(Rule::NhsNumberRange, format!("{input} is not an NHS number in use: {why}")));
        }
        Ok(NhsNumber(value))
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a number read back from storage, re-checking it (test numbers allowed: storage
    /// only ever holds numbers that passed `parse` under the deployment's setting).
    pub fn from_stored(value: u64) -> Option<NhsNumber> {
        NhsNumber::parse(&format!("{value:010}"), true).ok()
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

/// A UK postcode, stored upper-case with one space before the inward code (`SW1A 1AA`): at most
/// 8 ASCII bytes, held inline (no allocation per record).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Postcode {
    bytes: [u8; 8],
    len: u8,
}

impl fmt::Debug for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Postcode").field(&self.as_str()).finish()
    }
}

impl Postcode {
    pub fn parse(input: &str) -> Result<Postcode, CellError> {
        if input.is_ascii() {
            return Self::parse_ascii(input.as_bytes()).ok_or_else(|| {
                CellError::new(Rule::Postcode, format!("{input:?} is not a UK postcode (e.g. SW1A 1AA)"))
            });
        }
        // Unicode upper-casing can turn a non-ASCII letter into an ASCII one (`ſ` → `S`).
        Self::parse_general(input)
    }

    /// Upper-case, collapse whitespace, check the shape, store with one space before the inward code.
    fn parse_general(input: &str) -> Result<Postcode, CellError> {
        let upper = input.to_uppercase();
        let collapsed: Vec<&str> = upper.split_whitespace().collect();
        let joined = collapsed.join(" ");
        if !postcode_shape(joined.as_bytes()) {
            return Err(CellError::new(Rule::Postcode, format!("{input:?} is not a UK postcode (e.g. SW1A 1AA)")));
        }
        let compact: String = joined.chars().filter(|c| *c != ' ').collect();
        let (outward, inward) = compact.split_at(compact.len() - 3);
        Self::stored(outward.as_bytes(), inward.as_bytes())
            .ok_or_else(|| CellError::new(Rule::Postcode, format!("{input:?} is not a UK postcode (e.g. SW1A 1AA)")))
    }

    /// `outward inward`, when it fits (a checked shape always does).
    fn stored(outward: &[u8], inward: &[u8]) -> Option<Postcode> {
        let len = outward.len() + 1 + inward.len();
        let mut bytes = [0u8; 8];
        bytes.get_mut(..outward.len())?.copy_from_slice(outward);
        *bytes.get_mut(outward.len())? = b' ';
        bytes.get_mut(outward.len() + 1..len)?.copy_from_slice(inward);
        Some(Postcode { bytes, len: len as u8 })
    }

    /// The same steps as the general path for ASCII input, without the intermediate strings:
    /// upper-case, collapse runs of whitespace to one space, check the shape, and store with one
    /// space before the inward code.
    fn parse_ascii(input: &[u8]) -> Option<Postcode> {
        // The longest valid form is 8 bytes (`SW1A 1AA`); anything longer after collapsing fails.
        // One pass: a run of whitespace becomes one space, written only when a word follows
        // (none at either end), which is `split_whitespace` joined by single spaces.
        let mut joined = [0u8; 8];
        let mut len = 0;
        let mut space = false;
        for &b in input {
            if b.is_ascii_whitespace() || b == 0x0b {
                space = len > 0;
                continue;
            }
            if space {
                *joined.get_mut(len)? = b' ';
                len += 1;
                space = false;
            }
            *joined.get_mut(len)? = b.to_ascii_uppercase();
            len += 1;
        }
        let joined = &joined[..len];
        if !postcode_shape(joined) {
            return None;
        }
        let mut compact = [0u8; 8];
        let mut n = 0;
        for b in joined.iter().filter(|b| **b != b' ') {
            compact[n] = *b;
            n += 1;
        }
        let (outward, inward) = compact[..n].split_at(n - 3);
        Self::stored(outward, inward)
    }

    pub fn as_str(&self) -> &str {
        // Only checked ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// `^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`, written out to avoid a regex engine.
fn postcode_shape(s: &[u8]) -> bool {
    let Some((inward, rest)) = s.len().checked_sub(3).map(|i| (&s[i..], &s[..i])) else {
        return false;
    };
    if !(inward[0].is_ascii_digit() && inward[1].is_ascii_uppercase() && inward[2].is_ascii_uppercase()) {
        return false;
    }
    let outward = rest.strip_suffix(b" ").unwrap_or(rest);
    let letters = outward.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if !(1..=2).contains(&letters) {
        return false;
    }
    match &outward[letters..] {
        [d] => d.is_ascii_digit(),
        [d, x] => d.is_ascii_digit() && (x.is_ascii_uppercase() || x.is_ascii_digit()),
        _ => false,
    }
}

/// Text held inline when short (every record has a service code and a local id, usually a few
/// bytes each: a heap allocation and its release for each would cost more than reading them),
/// on the heap otherwise. It behaves as its `str` in every comparison, hash and format.
#[derive(Clone, PartialEq, Eq)]
enum Text {
    /// `bytes[..len]` is the text (copied from a `str`, so UTF-8); the rest is zero, so equal
    /// texts have equal bytes (and a text is inline exactly when it fits).
    Inline {
        len: u8,
        bytes: [u8; Text::INLINE],
    },
    Heap(Box<str>),
}

impl Text {
    /// As many bytes as fit beside the tag and length in the size of a `String`.
    const INLINE: usize = 22;

    fn new(s: &str) -> Text {
        Self::from_bytes_with(s.as_bytes(), |b| b).unwrap_or_else(|| Text::Heap(s.into()))
    }

    /// Inline text from ASCII `bytes` mapped byte by byte with `map` (which must keep ASCII
    /// ASCII), `None` when it does not fit.
    #[inline]
    fn from_bytes_with(bytes: &[u8], map: impl Fn(u8) -> u8) -> Option<Text> {
        let mut inline = [0u8; Text::INLINE];
        let len = u8::try_from(bytes.len()).ok()?;
        for (to, from) in inline.get_mut(..bytes.len())?.iter_mut().zip(bytes) {
            *to = map(*from);
        }
        Some(Text::Inline { len, bytes: inline })
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes: for look-ups on hot paths.
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Text::Heap(s) => s.as_bytes(),
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        match self {
            // Always UTF-8 (see `Inline`); the check is short for these few bytes.
            Text::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Text::Heap(s) => s,
        }
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A registered service's code: trimmed and upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceCode(Text);

impl ServiceCode {
    pub fn parse(input: &str) -> Option<ServiceCode> {
        let trimmed = trim(input);
        if trimmed.is_ascii() {
            let ok = !trimmed.is_empty() && !trimmed.bytes().any(|b| b.is_ascii_control());
            let upper = || {
                Text::from_bytes_with(trimmed.as_bytes(), |b| b.to_ascii_uppercase())
                    .unwrap_or_else(|| Text::Heap(trimmed.to_ascii_uppercase().into()))
            };
            return ok.then(|| ServiceCode(upper()));
        }
        (!trimmed.is_empty() && !trimmed.chars().any(char::is_control))
            .then(|| ServiceCode(Text::new(&trimmed.to_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `as_str().as_bytes()`, cheaper (no UTF-8 check): for look-ups per record.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The service's own record reference: 1–64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(Text);

impl LocalId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<LocalId, CellError> {
        let trimmed = trim(input);
        // For ASCII text characters are bytes, and `char::is_control` is `is_ascii_control`.
        let ascii = trimmed.is_ascii();
        let chars = if ascii { trimmed.len() } else { trimmed.chars().count() };
        if chars > Self::MAX_CHARS {
            return Err(CellError::new(
                Rule::Text,
                format!("local_id has {chars} characters; at most {} are allowed", Self::MAX_CHARS),
            ));
        }
        let control =
            if ascii { trimmed.bytes().any(|b| b.is_ascii_control()) } else { trimmed.chars().any(char::is_control) };
        if control {
            return Err(CellError::new(
                Rule::Text,
                "local_id contains a control character (such as a tab or line break)",
            ));
        }
        if trimmed.is_empty() {
            return Err(CellError::new(Rule::Required, "local_id is required"));
        }
        Ok(LocalId(Text::new(trimmed)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ordered list of distinct codes from a multi-value field, held inline (these lists are
/// short: at most 10 drugs or 6 sites) so a record costs no allocation for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeSet<T: Copy, const N: usize> {
    len: u8,
    items: [Option<T>; N],
}

impl<T: Copy + PartialEq, const N: usize> Default for CodeSet<T, N> {
    fn default() -> Self {
        CodeSet { len: 0, items: [None; N] }
    }
}

impl<T: Copy + PartialEq, const N: usize> CodeSet<T, N> {
    /// Appends a value; `false` when it is already present or the set is full.
    pub fn push(&mut self, value: T) -> bool {
        if self.contains(value) || usize::from(self.len) == N {
            return false;
        }
        self.items[usize::from(self.len)] = Some(value);
        self.len += 1;
        true
    }

    pub fn contains(&self, value: T) -> bool {
        self.iter().any(|v| v == value)
    }

    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.items[..usize::from(self.len)].iter().flatten().copied()
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn from_values(values: impl IntoIterator<Item = T>) -> Option<Self> {
        let mut set = Self::default();
        for v in values {
            if !set.push(v) {
                return None;
            }
        }
        Some(set)
    }
}

/// Splits a multi-value cell on `;`, trimming each element, and parses each with `parse`.
/// An empty element or a repeated value is an error; the order is kept.
pub fn parse_multi<T: Copy + PartialEq + fmt::Display, const N: usize>(
    input: &str,
    parse: impl Fn(&str) -> Result<T, CellError>,
) -> Result<CodeSet<T, N>, CellError> {
    let mut set = CodeSet::default();
    for element in input.split(';') {
        let element = element.trim();
        if element.is_empty() {
            return Err(CellError::new(
                Rule::MultiEmpty,
                format!("{input:?} has an empty value between or after the ';' separators"),
            ));
        }
        let value = parse(element)?;
        if set.contains(value) {
            return Err(CellError::new(Rule::MultiRepeat, format!("{input:?} lists {value} more than once")));
        }
        if !set.push(value) {
            return Err(CellError::new(Rule::MultiTooMany, format!("{input:?} has more than {N} values")));
        }
    }
    Ok(set)
}

/// Joins a multi-value field for export (`a;b`).
pub fn format_multi<T: Copy + PartialEq, const N: usize>(set: &CodeSet<T, N>, code: fn(T) -> &'static str) -> String {
    set.iter().map(code).collect::<Vec<_>>().join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass decimal reader agrees with the general one wherever it answers, and answers
    /// for the usual shapes.
    #[test]
    fn plain_decimals_agree_with_the_general_parser() {
        let mut inputs: Vec<String> = [
            "0",
            "-0",
            "+0",
            "0.0",
            "-0.0",
            "170",
            "181.7",
            "-2.5",
            "-2.50",
            "+1.5",
            "1.25",
            "0.1",
            "0.3",
            "100.00",
            "999999999999999",
            "99999999999999.9",
            "1.000000000000001",
            "1234567890123456",
            "12.",
            ".5",
            "-.5",
            "1..2",
            "1.2.3",
            "--1",
            "+-1",
            "1e2",
            "",
            "-",
            "+",
            ".",
            " 1",
            "1 ",
            "١",
            "1,5",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Every split of a few digit strings into integer and fraction, with each sign.
        for digits in ["7", "05", "123", "4000", "98765", "1000001", "123456789012345", "9007199254740993"] {
            for cut in 0..=digits.len() {
                for sign in ["", "-", "+"] {
                    inputs.push(format!("{sign}{}.{}", &digits[..cut], &digits[cut..]));
                    inputs.push(format!("{sign}{digits}"));
                }
            }
        }
        // A pseudo-random sweep of values with one to four decimals.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let places = (x % 5) as usize;
            let int = (x >> 8) % 100_000;
            let frac = (x >> 32) % 10_000;
            inputs.push(format!("{int}.{frac:04}")[..(int.to_string().len() + 1 + places).min(5 + 1 + 4)].to_owned());
        }
        for input in &inputs {
            let general = parse_decimal_general(input);
            if let Some((value, places)) = parse_decimal_plain(input) {
                let (expected, expected_places) = general.clone().unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
                assert_eq!(value.to_bits(), expected.to_bits(), "{input:?}");
                assert_eq!(places, expected_places, "{input:?}");
            }
            assert_eq!(parse_decimal(input), general, "{input:?}");
        }
        for usual in ["181.7", "-2.5", "92", "+0.25"] {
            assert!(parse_decimal_plain(usual).is_some(), "{usual}");
        }
    }

    #[test]
    fn nhs_numbers_plain_and_with_separators_agree() {
        for digits in ["9434765919", "9434765918", "4010232137", "0000000000", "9999999999", "1000000010"] {
            for allow in [false, true] {
                let plain = NhsNumber::parse(digits, allow);
                let spaced = format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..]);
                let general = NhsNumber::parse(&spaced, allow);
                // The messages quote the input; the outcome is otherwise the same.
                assert_eq!(plain.as_ref().map_err(|e| e.rule), general.as_ref().map_err(|e| e.rule), "{digits}");
                assert_eq!(plain.ok(), general.ok(), "{digits}");
            }
        }
    }

    #[test]
    fn negative_zero_is_zero() {
        for input in ["-0", "-0.0", "+0", "0"] {
            let (value, _) = parse_decimal(input).expect(input);
            assert!(value == 0.0 && value.is_sign_positive(), "{input} gave {value:?}");
        }
    }
    use time::macros::date;

    #[test]
    fn dates_in_both_forms() {
        assert_eq!(parse_date("2023-02-01"), Ok(date!(2023 - 02 - 01)));
        assert_eq!(parse_date("01/02/2023"), Ok(date!(2023 - 02 - 01)));
        assert_eq!(parse_date("1/2/2023"), Ok(date!(2023 - 02 - 01)));
        assert_eq!(parse_date("29/2/2020"), Ok(date!(2020 - 02 - 29)));
    }

    #[test]
    fn canonical_dates_read_directly_agree_with_the_general_path() {
        for input in [
            "2023-02-01",
            "2020-02-29",
            "2019-02-29",
            "2019-13-01",
            "2019-00-10",
            "2019-01-00",
            "2019-01-32",
            "0000-01-01",
            "9999-12-31",
            "1900-02-29",
            "2000-02-29",
            "2019-04-31",
            "2019-1a-01",
            "20a9-01-01",
        ] {
            assert_eq!(parse_date(input), parse_date_general(input), "{input}");
        }
        // Every ASCII byte in every digit position (what the word-at-a-time digit check must
        // refuse: bytes just below '0' and above '9' included).
        for position in [0, 1, 2, 3, 5, 6, 8, 9] {
            for b in 0u8..128 {
                let mut bytes = *b"2023-06-15";
                bytes[position] = b;
                let input = String::from_utf8_lossy(&bytes).into_owned();
                assert_eq!(parse_date(&input), parse_date_general(&input), "{input:?}");
            }
        }
        for y in [1899, 1900, 1996, 2000, 2023, 2024] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let input = format!("{y:04}-{m:02}-{d:02}");
                    assert_eq!(parse_date(&input), parse_date_general(&input), "{input}");
                }
            }
        }
    }

    #[test]
    fn trim_agrees_with_str_trim() {
        for s in ["", " ", "a", " a", "a ", "\u{a0}a", "a\u{85}", "\ta\t", "é", " é ", "a b", "\u{3000}x\u{3000}", "-"]
        {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn bad_dates_name_their_problem() {
        for (input, rule) in [
            ("2019-02-29", Rule::ImpossibleDate),
            ("31/04/2019", Rule::ImpossibleDate),
            ("2019-13-01", Rule::ImpossibleDate),
            ("2019-00-10", Rule::ImpossibleDate),
            ("01/02/23", Rule::TwoDigitYear),
            ("23-02-01", Rule::TwoDigitYear),
            ("2019-2-1", Rule::Date),
            ("2019/02/01", Rule::Date),
            ("001/02/2019", Rule::Date),
            ("1 Feb 2019", Rule::Date),
            ("2019-02-01T00:00", Rule::Date),
            ("", Rule::Date),
            ("+201-02-01", Rule::Date),
        ] {
            assert_eq!(parse_date(input).map_err(|e| e.rule), Err(rule), "{input}");
        }
    }

    #[test]
    fn age_counts_whole_years_and_leap_birthdays() {
        assert_eq!(age_in_years(date!(1960 - 06 - 15), date!(2020 - 06 - 14)), 59);
        assert_eq!(age_in_years(date!(1960 - 06 - 15), date!(2020 - 06 - 15)), 60);
        // Born 29 February: the birthday is 1 March in a common year, 29 February in a leap year.
        assert_eq!(age_in_years(date!(1972 - 02 - 29), date!(2022 - 02 - 28)), 49);
        assert_eq!(age_in_years(date!(1972 - 02 - 29), date!(2022 - 03 - 01)), 50);
        assert_eq!(age_in_years(date!(1972 - 02 - 29), date!(2020 - 02 - 28)), 47);
        assert_eq!(age_in_years(date!(1972 - 02 - 29), date!(2020 - 02 - 29)), 48);
    }

    #[test]
    fn nhs_numbers_from_the_spec() {
        assert_eq!(NhsNumber::parse("9434765919", true).map(|n| n.to_string()), Ok("9434765919".into()));
        assert_eq!(NhsNumber::parse("4010232137", false).map(|n| n.to_string()), Ok("4010232137".into()));
        assert_eq!(NhsNumber::parse("9434765918", true).map_err(|e| e.rule), Err(Rule::NhsNumberCheckDigit));
        assert_eq!(NhsNumber::parse("1234567890", true).map_err(|e| e.rule), Err(Rule::NhsNumberCheckDigit));
        // The test range only where the deployment allows it.
        assert_eq!(NhsNumber::parse("9434765919", false).map_err(|e| e.rule), Err(Rule::NhsNumberRange));
        // Spaces and hyphens anywhere.
        assert_eq!(NhsNumber::parse("401 023-2137", false).map(|n| n.as_u64()), Ok(4010232137));
        assert_eq!(NhsNumber::parse("40102321370", true).map_err(|e| e.rule), Err(Rule::NhsNumberFormat));
        assert_eq!(NhsNumber::parse("401023213", true).map_err(|e| e.rule), Err(Rule::NhsNumberFormat));
        assert_eq!(NhsNumber::parse("40102321x7", true).map_err(|e| e.rule), Err(Rule::NhsNumberFormat));
        assert_eq!(NhsNumber::parse("４010232137", true).map_err(|e| e.rule), Err(Rule::NhsNumberFormat));
    }

    #[test]
    fn nhs_number_ranges() {
        // Build a valid check digit for a prefix and test where it lands.
        fn with_check(first9: &str) -> Option<String> {
            let sum: u32 = first9.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * (10 - i as u32)).sum();
            match 11 - sum % 11 {
                10 => None,
                11 => Some(format!("{first9}0")),
                d => Some(format!("{first9}{d}")),
            }
        }
        for (prefix, ok) in [
            ("009", false),
            ("010", true),
            ("399", true),
            ("400", true),
            ("499", true),
            ("500", false),
            ("599", false),
            ("600", true),
            ("799", true),
            ("800", false),
            ("899", false),
        ] {
            let number = (0..1000)
                .map(|i| format!("{prefix}{i:06}"))
                .find_map(|s| with_check(&s))
                .expect("some suffix has a check digit");
            assert_eq!(NhsNumber::parse(&number, false).is_ok(), ok, "{number}");
        }
    }

    #[test]
    fn postcodes() {
        for (input, stored) in [
            ("sw1a 1aa", "SW1A 1AA"),
            ("SW1A1AA", "SW1A 1AA"),
            ("  m1   1ae", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("cr2 6xh", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 0AX", "W1A 0AX"),
        ] {
            assert_eq!(Postcode::parse(input).map(|p| p.as_str().to_owned()), Ok(stored.to_owned()), "{input}");
        }
        for input in ["SW1A", "12 1AA", "ABC1 1AA", "SW1A 1A", "SW1A-1AA", "SW1A 1AA X", "1AA", "S W1A 1AA"] {
            assert!(Postcode::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn postcode_fast_path_agrees_with_the_general_one() {
        let alphabet = b"AbZ019 \t\x0b\x0c\r\n-";
        // Every string of up to 4 symbols from a small alphabet, plus real shapes with noise.
        let mut inputs: Vec<String> = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> =
                inputs.iter().flat_map(|s| alphabet.iter().map(move |b| format!("{s}{}", char::from(*b)))).collect();
            inputs.extend(longer);
        }
        for base in ["SW1A 1AA", "sw1a1aa", " m1   1ae ", "DN55\t1PT", "W1A\x0b0AX", "B33 8TH X", "EC1A 1BB"] {
            inputs.push(base.to_owned());
            for cut in 0..base.len() {
                inputs.push(format!("{}{}", &base[..cut], &base[cut + 1..]));
                inputs.push(format!("{} {}", &base[..cut], &base[cut..]));
            }
        }
        for input in &inputs {
            assert_eq!(Postcode::parse(input), Postcode::parse_general(input), "{input:?}");
        }
        assert_eq!(Postcode::parse("\u{17f}W1A 1AA").map(|p| p.as_str().to_owned()), Ok("SW1A 1AA".to_owned()));
    }

    /// Inline and heap text behave as the `str` they hold: order, equality, hashes, `Debug`.
    #[test]
    fn text_behaves_as_its_str() {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let samples: Vec<String> =
            ["", "a", "BNT", "é", "Zürich", "x".repeat(21).as_str(), &"x".repeat(22), &"x".repeat(23)]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(["é".repeat(11), "é".repeat(12), "y".repeat(64)])
                .collect();
        for a in &samples {
            let ta = Text::new(a);
            assert_eq!(ta.as_str(), a);
            assert_eq!(ta.as_bytes(), a.as_bytes());
            assert_eq!(matches!(ta, Text::Inline { .. }), a.len() <= Text::INLINE, "{a:?}");
            assert_eq!(format!("{ta:?}"), format!("{a:?}"));
            assert_eq!(hasher.hash_one(&ta), hasher.hash_one(a.as_str()));
            for b in &samples {
                let tb = Text::new(b);
                assert_eq!(ta.cmp(&tb), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(ta == tb, a == b, "{a:?} {b:?}");
            }
        }
        let long = "b".repeat(30);
        assert_eq!(ServiceCode::parse(&long).map(|c| c.as_str().to_owned()), Some("B".repeat(30)));
        assert_eq!(format!("{:?}", ServiceCode::parse("bnt")), "Some(ServiceCode(\"BNT\"))");
        assert_eq!(LocalId::parse(" ab ").map(|l| l.as_str().to_owned()), Ok("ab".to_owned()));
    }

    #[test]
    fn service_codes_fast_path() {
        assert_eq!(ServiceCode::parse(" bnt ").map(|c| c.to_string()), Some("BNT".to_owned()));
        assert_eq!(ServiceCode::parse("b\u{7f}"), None);
        assert_eq!(ServiceCode::parse("ß").map(|c| c.to_string()), Some("SS".to_owned()));
        assert_eq!(ServiceCode::parse("a\u{85}b"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("+1.5"), Ok((1.5, 1)));
        assert_eq!(parse_decimal("-2.50"), Ok((-2.5, 1)));
        assert_eq!(parse_decimal("170"), Ok((170.0, 0)));
        assert_eq!(parse_decimal("1.25"), Ok((1.25, 2)));
        for bad in ["1,5", "1e2", "abc", ".", "+", "1.2.3", "NaN", "inf", "- 1"] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_integer("+3"), Ok(3));
        assert!(parse_integer("3.0").is_err());
        assert!(parse_integer("-1").is_err());
        // Beyond 32 bits: read exactly, so a range rule sees the real number.
        assert_eq!(parse_integer("4294967297"), Ok(4_294_967_297));
        assert_eq!(parse_integer("999999999999999999"), Ok(999_999_999_999_999_999));
        assert!(parse_integer("9999999999999999999").is_err());
    }

    #[test]
    fn local_ids() {
        assert!(LocalId::parse(&"é".repeat(64)).is_ok());
        assert_eq!(LocalId::parse(&"é".repeat(65)).map_err(|e| e.rule), Err(Rule::Text));
        assert_eq!(LocalId::parse("a\u{7}b").map_err(|e| e.rule), Err(Rule::Text));
    }

    #[test]
    fn multi_values() {
        use crate::codes::FractureSite;
        let parse = |s: &str| FractureSite::parse(s).ok_or_else(|| CellError::new(Rule::Code, s));
        let set: CodeSet<FractureSite, 6> = parse_multi("spine ; Wrist", parse).expect("valid");
        assert_eq!(set.iter().collect::<Vec<_>>(), [FractureSite::Spine, FractureSite::Wrist]);
        assert_eq!(parse_multi::<_, 6>("spine;;wrist", parse).map_err(|e| e.rule), Err(Rule::MultiEmpty));
        assert_eq!(parse_multi::<_, 6>("spine;", parse).map_err(|e| e.rule), Err(Rule::MultiEmpty));
        assert_eq!(parse_multi::<_, 6>("spine;SPINE", parse).map_err(|e| e.rule), Err(Rule::MultiRepeat));
        assert_eq!(parse_multi::<_, 6>("spine;knee", parse).map_err(|e| e.rule), Err(Rule::Code));
    }
}
