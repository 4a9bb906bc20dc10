//! Synthetic NHS numbers: in the test range 900–999 (never a real patient's), with a correct
//! Modulus 11 check digit, and distinct for distinct patients.

use crate::rng::{mix, permute};
use flsdb_dataset::NhsNumber;

/// Patients per block: the first eight digits are `90000000 + a permutation of the index`.
const BLOCK: u64 = 10_000_000;

/// How many patients get distinct numbers: within a block the ninth digit is fixed, and each
/// eight-digit prefix has at least nine ninth digits that allow a check digit.
pub(crate) const DISTINCT: u64 = 9 * BLOCK;

/// The NHS number of patient `index` under `key`: distinct for distinct indices below
/// [`DISTINCT`], and scattered so that neighbouring indices share nothing visible.
pub(crate) fn nhs_number(key: u64, index: u64) -> NhsNumber {
    let prefix = 90_000_000 + permute(index % BLOCK, BLOCK, key);
    let mut digits = [0u8; 10];
    let mut rest = prefix;
    for d in digits[..8].iter_mut().rev() {
        *d = (rest % 10) as u8;
        rest /= 10;
    }
    // Modulus 11: weights 10 down to 2; the ninth digit carries weight 2.
    let sum: u32 = digits[..8].iter().zip((3..=10).rev()).map(|(d, w)| u32::from(*d) * w).sum();
    let check_for = |ninth: u8| match 11 - (sum + 2 * u32::from(ninth)) % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    };
    let offset = (mix(key ^ prefix) % 10) as u8;
    let (ninth, check) = (0..10)
        .map(|j| (offset + j) % 10)
        .filter_map(|ninth| check_for(ninth).map(|check| (ninth, check)))
        .nth((index / BLOCK % 9) as usize)
        .expect("at most one of the ten ninth digits leaves no valid check digit");
    digits[8] = ninth;
    digits[9] = check;
    let text = digits.map(|d| b'0' + d);
    let text = std::str::from_utf8(&text).expect("ASCII digits");
    NhsNumber::parse(text, true).expect("a test-range number built with its Modulus 11 check digit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn valid_test_range_and_distinct() {
        let mut seen = HashSet::new();
        for index in (0..20_000).chain(BLOCK..BLOCK + 5_000).chain(DISTINCT - 5_000..DISTINCT) {
            let n = nhs_number(99, index);
            assert!((900..=999).contains(&(n.as_u64() / 10_000_000)), "{n}");
            assert!(NhsNumber::parse(&n.to_string(), false).is_err(), "test numbers are refused in production");
            assert!(seen.insert(n), "{n} repeated at {index}");
        }
    }
}
