//! Confidence intervals for a single proportion k/n (contract §1).

use crate::special::{beta_quantile, level_fraction, z_for_level};
use crate::{Interval, valid_count};

/// Wilson score interval (contract §1.1), the flsdb default for KPI percentages.
///
/// Follows PHEindicatormethods' closed form, but returns exactly 0 for k = 0 and exactly 1 for
/// k = n (the closed form only reaches them up to rounding) and clamps to [0, 1]. Non-integer k is
/// allowed, as in PHE's own tests. `None` when n = 0 (undefined) or the input is invalid.
pub fn wilson(k: f64, n: f64, level: f64) -> Option<Interval> {
    if !valid_count(k, n) || n <= 0.0 {
        return None;
    }
    let z = z_for_level(level)?;
    if z.is_infinite() {
        return Some(Interval { lower: 0.0, upper: 1.0 });
    }
    let z2 = z * z;
    let root = z * (z2 + 4.0 * k * (1.0 - k / n)).sqrt();
    let lower = if k == 0.0 { 0.0 } else { (2.0 * k + z2 - root) / 2.0 / (n + z2) };
    let upper = if k == n { 1.0 } else { (2.0 * k + z2 + root) / 2.0 / (n + z2) };
    Some(Interval { lower, upper }.clamped_unit())
}

/// Exact (Clopper–Pearson) interval (contract §1.2), as R's `binom.test`: beta quantiles, with
/// lower = 0 at k = 0 and upper = 1 at k = n. `None` when n = 0 or the input is invalid.
pub fn clopper_pearson(k: f64, n: f64, level: f64) -> Option<Interval> {
    if !valid_count(k, n) || n <= 0.0 {
        return None;
    }
    let alpha = (1.0 - level_fraction(level)?) / 2.0;
    if alpha == 0.0 {
        return Some(Interval { lower: 0.0, upper: 1.0 });
    }
    let lower = if k == 0.0 { 0.0 } else { beta_quantile(alpha, k, n - k + 1.0)? };
    let upper = if k == n { 1.0 } else { beta_quantile(1.0 - alpha, k + 1.0, n - k)? };
    Some(Interval { lower, upper })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_interval(got: Option<Interval>, lower: f64, upper: f64, tol: f64) {
        let got = got.expect("interval should be defined");
        assert!((got.lower - lower).abs() <= tol && (got.upper - upper).abs() <= tol, "{got:?} vs [{lower}, {upper}]");
    }

    #[test]
    fn worked_examples() {
        // §5 rows 1–5 (printed to 6 dp).
        assert_interval(wilson(0.0, 10.0, 0.95), 0.0, 0.277533, 1e-6);
        assert_interval(wilson(65.0, 100.0, 0.95), 0.552544, 0.736358, 1e-6);
        assert_interval(clopper_pearson(65.0, 100.0, 0.95), 0.548151, 0.742706, 1e-6);
        assert_interval(wilson(10.0, 10.0, 0.998), 0.511521, 1.0, 1e-6);
        assert_interval(wilson(0.445, 1.0, 0.95), 0.043817, 0.933462, 1e-6);
        assert_interval(clopper_pearson(682.0, 925.0, 0.95), 0.707668, 0.765407, 1e-6);
    }

    #[test]
    fn r_binom_test_reference() {
        // R: binom.test(682, 925)$conf.int = 0.7076683 0.7654066 (documented example).
        assert_interval(clopper_pearson(682.0, 925.0, 95.0), 0.7076683, 0.7654066, 5e-8);
        // Closed forms: k = 0 upper = 1 − (α/2)^(1/n); n = 1, k = 1 lower = α/2.
        let cp = clopper_pearson(0.0, 20.0, 0.95).expect("defined");
        assert_eq!(cp.lower, 0.0);
        assert!((cp.upper - (1.0 - 0.025_f64.powf(1.0 / 20.0))).abs() < 1e-14);
        let cp = clopper_pearson(1.0, 1.0, 0.95).expect("defined");
        assert!((cp.lower - 0.025).abs() < 1e-15 && cp.upper == 1.0);
        let cp = clopper_pearson(1.0, 10.0, 0.95).expect("defined");
        assert!((cp.lower - (1.0 - 0.975_f64.powf(0.1))).abs() < 1e-14);
    }

    #[test]
    fn exact_ends() {
        // The closed form gives 0.99999999999999989 for 10/10 and 1.0000000000000002 for 50/50.
        for n in [1.0, 10.0, 50.0, 1e6] {
            assert_eq!(wilson(n, n, 0.95).map(|i| i.upper), Some(1.0));
            assert_eq!(wilson(0.0, n, 0.95).map(|i| i.lower), Some(0.0));
            assert_eq!(clopper_pearson(n, n, 0.95).map(|i| i.upper), Some(1.0));
            assert_eq!(clopper_pearson(0.0, n, 0.95).map(|i| i.lower), Some(0.0));
        }
    }

    #[test]
    fn undefined_and_invalid() {
        assert_eq!(wilson(0.0, 0.0, 0.95), None);
        assert_eq!(clopper_pearson(0.0, 0.0, 0.95), None);
        assert_eq!(wilson(3.0, 2.0, 0.95), None);
        assert_eq!(wilson(-1.0, 2.0, 0.95), None);
        assert_eq!(wilson(f64::NAN, 2.0, 0.95), None);
        assert_eq!(wilson(1.0, 2.0, 0.0), None);
        assert_eq!(wilson(1.0, 2.0, 1.0), Some(Interval { lower: 0.0, upper: 1.0 }));
        assert_eq!(wilson(1.0, 2.0, 100.0), Some(Interval { lower: 0.0, upper: 1.0 }));
        assert_eq!(clopper_pearson(1.0, 2.0, 1.0), Some(Interval { lower: 0.0, upper: 1.0 }));
    }

    #[test]
    fn wilson_matches_alternative_form() {
        // (k + z²/2)/(n + z²) ± z·sqrt(k(n−k)/n + z²/4)/(n + z²).
        let z = 1.959963984540054_f64;
        for (k, n) in [(1.0, 3.0), (17.0, 40.0), (999.0, 1000.0), (0.5, 2.0)] {
            let c = (k + z * z / 2.0) / (n + z * z);
            let h = z * (k * (n - k) / n + z * z / 4.0).sqrt() / (n + z * z);
            assert_interval(wilson(k, n, 0.95), c - h, c + h, 1e-14);
        }
    }
}
