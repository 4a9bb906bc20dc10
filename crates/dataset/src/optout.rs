//! The national data opt-out list: NHS numbers whose records stay out of every analysis.

use crate::values::NhsNumber;
use std::collections::HashSet;

/// A line of an opt-out file that could not be read; it is skipped and the rest loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOutLineError {
    /// 1-based line number.
    pub line: usize,
    pub value: String,
    pub message: String,
}

/// Parses an opt-out file: one NHS number per line, spaces and hyphens allowed, blank lines
/// ignored, an optional `nhs_number` header line.
pub fn parse_opt_outs(text: &str, allow_test: bool) -> (HashSet<NhsNumber>, Vec<OptOutLineError>) {
    let mut numbers = HashSet::new();
    let mut errors = Vec::new();
    let mut seen_content = false;
    for (i, line) in text.lines().enumerate() {
        let value = line.trim().trim_start_matches('\u{feff}').trim();
        if value.is_empty() {
            continue;
        }
        let first = !seen_content;
        seen_content = true;
        if first && value.eq_ignore_ascii_case("nhs_number") {
            continue;
        }
        match NhsNumber::parse(value, allow_test) {
            Ok(n) => {
                numbers.insert(n);
            }
            Err(e) => errors.push(OptOutLineError { line: i + 1, value: value.to_owned(), message: e.message }),
        }
    }
    (numbers, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_skips_bad_lines() {
        let (numbers, errors) = parse_opt_outs("\u{feff}nhs_number\n943 476 5919\n\n401-023-2137\n1234567890\n", true);
        assert_eq!(numbers.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 5);
        assert_eq!(errors[0].value, "1234567890");
    }
}
