//! Funnel-plot control limits for a proportion against a target θ, and the classification of a
//! unit against them (contract §2).

use serde::{Deserialize, Serialize};

use crate::special::{
    BinomQuantile, binom_cdf, binom_quantile_bisection, binom_quantile_near, level_fraction, z_for_level,
};
use crate::{ALARM_LEVEL, ALERT_LEVEL, Interval};

/// The flsdb minimum denominator for funnel flagging: exact limits flag a perfect 1/1 as high, so
/// smaller units are reported as [`FunnelStatus::TooFew`] instead.
pub const MIN_DENOMINATOR: u64 = 10;

/// Limits at the two funnel levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FunnelLimits {
    /// 95% limits (p = 0.025 / 0.975).
    pub alert: Interval,
    /// 99.8% limits (p = 0.001 / 0.999).
    pub alarm: Interval,
}

/// Where a unit falls on a funnel plot. "Outside" is strict: a value on a limit is `Within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelStatus {
    /// Below the 99.8% lower limit.
    AlarmLow,
    /// Below the 95% lower limit only.
    AlertLow,
    Within,
    /// Above the 95% upper limit only.
    AlertHigh,
    /// Above the 99.8% upper limit.
    AlarmHigh,
    /// Denominator below the minimum for flagging.
    TooFew,
}

impl FunnelStatus {
    /// The band word used by the peers' flag columns (`below_99.8`, `below_95`, `within`,
    /// `above_95`, `above_99.8`, `too_few`).
    pub fn band(self) -> &'static str {
        match self {
            Self::AlarmLow => "below_99.8",
            Self::AlertLow => "below_95",
            Self::Within => "within",
            Self::AlertHigh => "above_95",
            Self::AlarmHigh => "above_99.8",
            Self::TooFew => "too_few",
        }
    }
}

/// Spiegelhalter's interpolated exact binomial limit for tail probability `p` (contract §2.1):
/// (r_p − α)/n with r_p = qbinom(p, n, θ) and α = (F(r_p) − p)/P(Y = r_p), clamped to [0, 1].
///
/// The interpolation is the p-quantile of Y − U, U ~ Uniform(0, 1), so the pair of limits is not
/// symmetric even for θ = 0.5; that is reproduced, not "fixed". θ = 0 or 1 gives θ (degenerate);
/// n = 0 gives `None`. Taking `n` as an integer makes the contract's "non-integer n is an error"
/// unrepresentable.
///
/// r_p is found by a short walk from the Cornish–Fisher approximation with about one CDF
/// evaluation (`special::binom_quantile_point`). It is the same r_p as the bisection of
/// [`exact_limit_reference`] finds, and the limit agrees with that one to a few 1e-15 (the
/// contract allows 1e-12), being if anything closer to the exact value.
pub fn exact_limit(p: f64, n: u64, theta: f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&theta) || !(0.0..=1.0).contains(&p) {
        return None;
    }
    if theta == 0.0 || theta == 1.0 {
        return Some(theta);
    }
    chained_limit(p, n, theta, None).map(|(limit, _)| limit)
}

/// [`exact_limit`] for 0 < θ < 1 and n ≥ 1, walking on from a quantile of the same distribution
/// found for a nearby tail probability (saving the CDF evaluation); also returns this limit's
/// quantile for the next one.
fn chained_limit(p: f64, n: u64, theta: f64, from: Option<BinomQuantile>) -> Option<(f64, BinomQuantile)> {
    let q = binom_quantile_near(p, n, theta, from)?;
    Some((interpolate(n, q.r, q.excess, q.pmf), q))
}

/// (r − α)/n with α = (F(r) − p)/P(Y = r), clamped to [0, 1], from `excess` = F(r) − p.
/// F(r − 1) < p ≤ F(r) keeps α in [0, 1); a zero point probability can only come from underflow
/// far in a tail.
fn interpolate(n: u64, r: u64, excess: f64, pmf: f64) -> f64 {
    let alpha = if pmf > 0.0 { (excess / pmf).clamp(0.0, 1.0) } else { 0.0 };
    ((r as f64 - alpha) / n as f64).clamp(0.0, 1.0)
}

/// The reference implementation of [`exact_limit`]: r_p by bisection on the CDF
/// ([`binom_quantile_bisection`], 1 + ⌈log₂ n⌉ evaluations) and P(Y = r_p) = F(r_p) − F(r_p − 1)
/// from two more: the implementation before the walk. Same r_p and, to a few 1e-15, the same limit
/// as [`exact_limit`] at about 9× the cost; kept for the differential tests and
/// `examples/funnel_speed.rs`.
pub fn exact_limit_reference(p: f64, n: u64, theta: f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&theta) || !(0.0..=1.0).contains(&p) {
        return None;
    }
    if theta == 0.0 || theta == 1.0 {
        return Some(theta);
    }
    let r = binom_quantile_bisection(p, n, theta)?;
    let f_r = binom_cdf(r, n, theta)?;
    let f_prev = if r == 0 { 0.0 } else { binom_cdf(r - 1, n, theta)? };
    Some(interpolate(n, r, f_r - p, f_r - f_prev))
}

/// Exact interpolated limits at one level (fraction or percentage).
pub fn exact_limits(n: u64, theta: f64, level: f64) -> Option<Interval> {
    let tail = (1.0 - level_fraction(level)?) / 2.0;
    if n == 0 || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    if theta == 0.0 || theta == 1.0 {
        return Some(Interval { lower: theta, upper: theta });
    }
    // No chaining across the distribution: F(r) built by summing from the lower tail up to the
    // upper one would carry ~(number of steps)·ε of absolute error into α.
    Some(Interval {
        lower: chained_limit(tail, n, theta, None)?.0,
        upper: chained_limit(1.0 - tail, n, theta, None)?.0,
    })
}

/// Normal-approximation limits θ ∓ z·√(θ(1 − θ)/n), clamped (contract §2.2). These are what
/// PHEindicatormethods labels "Wilson" funnel limits: the set of p̂ whose Wilson interval just
/// touches θ. `None` when n ≤ 0 or the input is invalid.
pub fn normal_limits(n: f64, theta: f64, level: f64) -> Option<Interval> {
    if !(n.is_finite() && n > 0.0 && (0.0..=1.0).contains(&theta)) {
        return None;
    }
    let z = z_for_level(level)?;
    if z.is_infinite() {
        return Some(Interval { lower: 0.0, upper: 1.0 });
    }
    let half = z * (theta * (1.0 - theta) / n).sqrt();
    Some(Interval { lower: theta - half, upper: theta + half }.clamped_unit())
}

/// Exact limits at 95% and 99.8%.
///
/// Same limits as [`exact_limits`] at each level (and [`exact_funnel_reference`]). Each side
/// costs one CDF evaluation: the 95% quantile is walked to from the 99.8% one on the same side
/// (≈ 1.1 SD), inwards, so the tail probability grows as point probabilities are added and no
/// precision is lost (walking outwards would subtract them, and walking across from one side to
/// the other would carry ~(steps)·ε of absolute error into α: a few 1e-15 on a limit).
pub fn exact_funnel(n: u64, theta: f64) -> Option<FunnelLimits> {
    let alert_tail = (1.0 - level_fraction(ALERT_LEVEL)?) / 2.0;
    let alarm_tail = (1.0 - level_fraction(ALARM_LEVEL)?) / 2.0;
    if n == 0 || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    if theta == 0.0 || theta == 1.0 {
        let degenerate = Interval { lower: theta, upper: theta };
        return Some(FunnelLimits { alert: degenerate, alarm: degenerate });
    }
    let (alarm_lower, alarm_lower_q) = chained_limit(alarm_tail, n, theta, None)?;
    let (alert_lower, _) = chained_limit(alert_tail, n, theta, Some(alarm_lower_q))?;
    let (alarm_upper, alarm_upper_q) = chained_limit(1.0 - alarm_tail, n, theta, None)?;
    let (alert_upper, _) = chained_limit(1.0 - alert_tail, n, theta, Some(alarm_upper_q))?;
    Some(FunnelLimits {
        alert: Interval { lower: alert_lower, upper: alert_upper },
        alarm: Interval { lower: alarm_lower, upper: alarm_upper },
    })
}

/// [`exact_funnel`] from [`exact_limit_reference`] (bisection): the reference of the differential
/// tests and of `examples/funnel_speed.rs`.
pub fn exact_funnel_reference(n: u64, theta: f64) -> Option<FunnelLimits> {
    let limits = |level: f64| -> Option<Interval> {
        let tail = (1.0 - level_fraction(level)?) / 2.0;
        Some(Interval {
            lower: exact_limit_reference(tail, n, theta)?,
            upper: exact_limit_reference(1.0 - tail, n, theta)?,
        })
    };
    Some(FunnelLimits { alert: limits(ALERT_LEVEL)?, alarm: limits(ALARM_LEVEL)? })
}

/// Normal-approximation limits at 95% and 99.8%.
pub fn normal_funnel(n: f64, theta: f64) -> Option<FunnelLimits> {
    Some(FunnelLimits { alert: normal_limits(n, theta, ALERT_LEVEL)?, alarm: normal_limits(n, theta, ALARM_LEVEL)? })
}

/// Classifies a proportion against a pair of limits, checking the 99.8% limits before the 95%
/// ones (PHE's order) and comparing strictly.
pub fn classify(p: f64, limits: &FunnelLimits) -> FunnelStatus {
    if limits.alarm.is_below(p) {
        FunnelStatus::AlarmLow
    } else if limits.alarm.is_above(p) {
        FunnelStatus::AlarmHigh
    } else if limits.alert.is_below(p) {
        FunnelStatus::AlertLow
    } else if limits.alert.is_above(p) {
        FunnelStatus::AlertHigh
    } else {
        FunnelStatus::Within
    }
}

/// The flsdb funnel status of a unit with k of n against θ: exact limits, `TooFew` below
/// `min_n` (flsdb uses [`MIN_DENOMINATOR`]). `None` when n = 0 (no percentage to place) or the
/// input is invalid (k > n, θ outside [0, 1]).
pub fn funnel_status(k: u64, n: u64, theta: f64, min_n: u64) -> Option<FunnelStatus> {
    if n == 0 || k > n || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    if n < min_n {
        return Some(FunnelStatus::TooFew);
    }
    Some(classify(k as f64 / n as f64, &exact_funnel(n, theta)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_limits(got: Option<Interval>, lower: f64, upper: f64, tol: f64) {
        let got = got.expect("limits should be defined");
        assert!((got.lower - lower).abs() <= tol && (got.upper - upper).abs() <= tol, "{got:?} vs [{lower}, {upper}]");
    }

    #[test]
    fn worked_examples() {
        // §5 rows 6–9.
        assert_limits(exact_limits(10, 0.5, 0.95), 0.132444, 0.767556, 1e-6);
        assert_limits(exact_limits(10, 0.5, 0.998), 0.000240, 0.899760, 1e-6);
        assert_limits(exact_limits(25, 0.8, 0.95), 0.610418, 0.924048, 1e-6);
        assert_limits(exact_limits(25, 0.8, 0.998), 0.501553, 0.989412, 1e-6);
        let limits = exact_funnel(25, 0.8).expect("defined");
        assert_eq!(classify(15.0 / 25.0, &limits), FunnelStatus::AlertLow);
        assert_eq!(FunnelStatus::AlertLow.band(), "below_95");
        assert_limits(normal_limits(25.0, 0.8, 0.95), 0.643203, 0.956797, 1e-6);
        assert_limits(normal_limits(25.0, 0.8, 0.998), 0.552781, 1.0, 1e-6);
        assert_eq!(normal_limits(25.0, 0.8, 0.998).map(|l| l.upper), Some(1.0));
        assert_limits(exact_limits(1, 0.8, 0.95), 0.0, 0.96875, 1e-12);
        assert_limits(exact_limits(1, 0.8, 0.998), 0.0, 0.99875, 1e-12);
        // 1/1 is above the 95% upper limit (the contract's "flagged above_95") and, with the
        // 99.8% upper limit at 0.99875, above that too, so its single status is alarm_high.
        let tiny = exact_funnel(1, 0.8).expect("defined");
        assert!(tiny.alert.is_above(1.0) && tiny.alarm.is_above(1.0));
        assert_eq!(classify(1.0, &tiny), FunnelStatus::AlarmHigh);
    }

    #[test]
    fn exact_fractions() {
        // θ = 0.5, n = 10: α = (56/1024 − 0.025)/(45/1024), limit = (2 − α)/10; upper (8 − α')/10.
        let alpha = (56.0 / 1024.0 - 0.025) / (45.0 / 1024.0);
        assert!((exact_limit(0.025, 10, 0.5).unwrap_or(f64::NAN) - (2.0 - alpha) / 10.0).abs() < 1e-15);
        let f8 = 1013.0 / 1024.0;
        let alpha_hi = (f8 - 0.975) / (45.0 / 1024.0);
        assert!((exact_limit(0.975, 10, 0.5).unwrap_or(f64::NAN) - (8.0 - alpha_hi) / 10.0).abs() < 1e-15);
        // Not symmetric: the pair is shifted down by exactly 1/n.
        let l = exact_limits(10, 0.5, 0.95).expect("defined");
        assert!(((1.0 - l.upper) - l.lower - 0.1).abs() < 1e-14);
    }

    #[test]
    fn degenerate_and_undefined() {
        assert_eq!(exact_limits(20, 0.0, 0.95), Some(Interval { lower: 0.0, upper: 0.0 }));
        assert_eq!(exact_limits(20, 1.0, 0.95), Some(Interval { lower: 1.0, upper: 1.0 }));
        assert_eq!(exact_limits(0, 0.5, 0.95), None);
        assert_eq!(normal_limits(0.0, 0.5, 0.95), None);
        assert_eq!(exact_limits(10, 1.5, 0.95), None);
        assert_eq!(exact_limits(10, 0.5, 0.0), None);
        assert_eq!(exact_limits(10, 0.5, 1.0), Some(Interval { lower: 0.0, upper: 1.0 }));
        assert_eq!(normal_limits(10.0, 0.0, 0.95), Some(Interval { lower: 0.0, upper: 0.0 }));
        assert_eq!(funnel_status(0, 0, 0.5, 10), None);
        assert_eq!(funnel_status(3, 2, 0.5, 10), None);
        assert_eq!(funnel_status(1, 1, 0.8, 10), Some(FunnelStatus::TooFew));
        assert_eq!(funnel_status(1, 1, 0.8, 0), Some(FunnelStatus::AlarmHigh));
    }

    #[test]
    fn tiny_theta_clamps_both_limits() {
        // θ = 0.001, n = 10: even the raw upper limit is negative; clamping gives (0, 0) at 95%,
        // so only a unit with k > 0 is flagged (high) and 0/10 is within.
        let l = exact_limits(10, 0.001, 0.95).expect("defined");
        assert_eq!(l, Interval { lower: 0.0, upper: 0.0 });
        assert_eq!(funnel_status(0, 10, 0.001, 10), Some(FunnelStatus::Within));
        assert_eq!(funnel_status(1, 10, 0.001, 10), Some(FunnelStatus::AlarmHigh));
    }

    #[test]
    fn strict_outside_on_exact_limit() {
        // A value exactly on a limit is inside; the next representable value beyond it is outside.
        let limits =
            FunnelLimits { alert: Interval { lower: 0.2, upper: 0.8 }, alarm: Interval { lower: 0.1, upper: 0.9 } };
        assert_eq!(classify(0.8, &limits), FunnelStatus::Within);
        assert_eq!(classify(0.2, &limits), FunnelStatus::Within);
        assert_eq!(classify(0.9, &limits), FunnelStatus::AlertHigh);
        assert_eq!(classify(0.1, &limits), FunnelStatus::AlertLow);
        assert_eq!(classify(0.9000000000000001, &limits), FunnelStatus::AlarmHigh);
        assert_eq!(classify(0.09999999999999999, &limits), FunnelStatus::AlarmLow);
        // With exact limits: θ = 0.5, n = 2 gives F(0) = 0.25 ≥ 0.025, α = 0.9, lower = −0.45 → 0;
        // 0/2 sits exactly on the clamped limit and is within.
        assert_eq!(funnel_status(0, 2, 0.5, 0), Some(FunnelStatus::Within));
    }

    #[test]
    fn large_n_approaches_normal() {
        let n = 100_000;
        let e = exact_limits(n, 0.3, 0.95).expect("defined");
        let a = normal_limits(n as f64, 0.3, 0.95).expect("defined");
        assert!((e.lower - a.lower).abs() < 2e-5 && (e.upper - a.upper).abs() < 2e-5, "{e:?} {a:?}");
    }

    /// |a − b| ≤ 1e-12, the contract for the walk against the bisection reference.
    fn assert_same_limit(new: f64, reference: f64, case: &str) {
        assert!((new - reference).abs() <= 1e-12, "{case}: {new:e} vs reference {reference:e}");
    }

    fn assert_same_funnel(new: &FunnelLimits, reference: &FunnelLimits, case: &str) {
        assert_same_limit(new.alert.lower, reference.alert.lower, &format!("{case} alert lower"));
        assert_same_limit(new.alert.upper, reference.alert.upper, &format!("{case} alert upper"));
        assert_same_limit(new.alarm.lower, reference.alarm.lower, &format!("{case} alarm lower"));
        assert_same_limit(new.alarm.upper, reference.alarm.upper, &format!("{case} alarm upper"));
    }

    #[test]
    fn exact_limits_match_reference_random() {
        // n log-uniform on [1, 10⁶], θ across (0, 1) with 10⁻⁶ and 1 − 10⁻⁶; the quantiles r
        // themselves are compared in `special` (same cases).
        let mut state = 0x5eed_f15d_b000_0002;
        let mut worst: f64 = 0.0;
        for _ in 0..4000 {
            let (n, theta) = crate::special::test_cases::random_n_theta(&mut state);
            for p in [0.001, 0.025, 0.975, 0.999] {
                let case = format!("p={p} n={n} θ={theta:e}");
                let (new, reference) = (exact_limit(p, n, theta), exact_limit_reference(p, n, theta));
                let (new, reference) = (new.expect("defined"), reference.expect("defined"));
                assert_same_limit(new, reference, &case);
                worst = worst.max((new - reference).abs());
            }
            let case = format!("n={n} θ={theta:e}");
            let reference = exact_funnel_reference(n, theta).expect("defined");
            assert_same_funnel(&exact_funnel(n, theta).expect("defined"), &reference, &case);
            for (level, reference) in [(ALERT_LEVEL, reference.alert), (ALARM_LEVEL, reference.alarm)] {
                let new = exact_limits(n, theta, level).expect("defined");
                assert_same_limit(new.lower, reference.lower, &format!("{case} {level} lower"));
                assert_same_limit(new.upper, reference.upper, &format!("{case} {level} upper"));
            }
        }
        // In practice the two agree to a few 1e-15 (the reference's own rounding).
        assert!(worst < 1e-13, "{worst:e}");
    }

    #[test]
    fn exact_limits_match_reference_edges() {
        for theta in [1e-6, 1.0 - 1e-6, 0.001, 0.5, 0.8, 0.999, 0.0, 1.0] {
            for n in [1, 2, 3, 9, 10, 11, 25, 100, 1000, 65_537, 999_999, 1_000_000] {
                let case = format!("n={n} θ={theta:e}");
                let (new, reference) = (exact_funnel(n, theta), exact_funnel_reference(n, theta));
                assert_same_funnel(&new.expect("defined"), &reference.expect("defined"), &case);
                for p in [0.001, 0.025, 0.975, 0.999] {
                    let (new, reference) = (exact_limit(p, n, theta), exact_limit_reference(p, n, theta));
                    assert_same_limit(new.expect("defined"), reference.expect("defined"), &format!("{case} p={p}"));
                }
                // Any other p, including the ends and outside the walk's range. Where F(r) is near 1
                // and P(Y = r)·n tiny, the reference's P(Y = r) = F(r) − F(r − 1) cancels and its
                // limit is off by up to ~4ε/(n·P(Y = r)): for n = 2, θ = 1e-6, p = 1 − 1e-6 it is
                // 6.7e-12 from the 50-digit value 0.24999999999281106537, the walk 2e-16.
                for p in [0.0, 1e-9, 1e-6, 0.05, 0.5, 0.95, 1.0 - 1e-6, 1.0 - 1e-9, 1.0] {
                    let (new, reference) = (exact_limit(p, n, theta), exact_limit_reference(p, n, theta));
                    let (new, reference) = (new.expect("defined"), reference.expect("defined"));
                    let r = crate::special::binom_quantile_bisection(p, n, theta).expect("valid");
                    let f = |k: u64| binom_cdf(k, n, theta).expect("valid");
                    let pmf = f(r) - if r == 0 { 0.0 } else { f(r - 1) };
                    let tol = 1e-12 + 4.0 * f64::EPSILON / (n as f64 * pmf);
                    assert!((new - reference).abs() <= tol, "{case} p={p}: {new:e} vs reference {reference:e}");
                }
            }
        }
        assert_eq!(exact_funnel(0, 0.5), None);
        assert_eq!(exact_funnel(10, -0.1), None);
        assert_eq!(exact_funnel(10, 0.0), exact_funnel_reference(10, 0.0));
        assert_eq!(exact_limit(1.5, 10, 0.5), None);
    }

    #[test]
    fn status_serialises_snake_case() {
        let words: Vec<String> = [
            FunnelStatus::AlarmLow,
            FunnelStatus::AlertLow,
            FunnelStatus::Within,
            FunnelStatus::AlertHigh,
            FunnelStatus::AlarmHigh,
            FunnelStatus::TooFew,
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
        assert_eq!(
            words,
            ["\"alarm_low\"", "\"alert_low\"", "\"within\"", "\"alert_high\"", "\"alarm_high\"", "\"too_few\""]
        );
    }
}
