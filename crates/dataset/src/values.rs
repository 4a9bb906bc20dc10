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
        let digit = |b: u8| b.is_ascii_digit().then(|| u32::from(b - b'0'));
        if let (Some(a), Some(b), Some(c), Some(d), Some(e), Some(f), Some(g), Some(h)) =
            (digit(y0), digit(y1), digit(y2), digit(y3), digit(m0), digit(m1), digit(d0), digit(d1))
        {
            let (year, month, day) = (a * 1000 + b * 100 + c * 10 + d, e * 10 + f, g * 10 + h);
            let date = u8::try_from(month)
                .ok()
                .and_then(|m| Month::try_from(m).ok())
                .and_then(|m| Date::from_calendar_date(year as i32, m, day as u8).ok());
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

/// A whole number, optionally with a leading `+`.
pub fn parse_integer(input: &str) -> Result<i64, CellError> {
    let unsigned = input.strip_prefix('+').unwrap_or(input);
    if unsigned.is_empty() || unsigned.len() > 18 || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CellError::new(Rule::Number, format!("{input:?} is not a whole number")));
    }
    Ok(digits(unsigned) as i64)
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
        for c in input.chars() {
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
        let mut joined = [0u8; 8];
        let mut len = 0;
        for word in input.split(|b| b.is_ascii_whitespace() || *b == 0x0b).filter(|w| !w.is_empty()) {
            let need = word.len() + usize::from(len > 0);
            if len + need > joined.len() {
                return None;
            }
            if len > 0 {
                joined[len] = b' ';
                len += 1;
            }
            for b in word {
                joined[len] = b.to_ascii_uppercase();
                len += 1;
            }
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

/// A registered service's code: trimmed and upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceCode(String);

impl ServiceCode {
    pub fn parse(input: &str) -> Option<ServiceCode> {
        let trimmed = input.trim();
        if trimmed.is_ascii() {
            let ok = !trimmed.is_empty() && !trimmed.bytes().any(|b| b.is_ascii_control());
            return ok.then(|| ServiceCode(trimmed.to_ascii_uppercase()));
        }
        (!trimmed.is_empty() && !trimmed.chars().any(char::is_control)).then(|| ServiceCode(trimmed.to_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The service's own record reference: 1–64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(String);

impl LocalId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<LocalId, CellError> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(CellError::new(
                Rule::Text,
                format!("local_id has {chars} characters; at most {} are allowed", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(CellError::new(
                Rule::Text,
                "local_id contains a control character (such as a tab or line break)",
            ));
        }
        if trimmed.is_empty() {
            return Err(CellError::new(Rule::Required, "local_id is required"));
        }
        Ok(LocalId(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
