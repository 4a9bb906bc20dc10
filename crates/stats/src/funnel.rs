//! Funnel-plot control limits for a proportion against a target θ, and the classification of a
//! unit against them (contract §2).

use serde::{Deserialize, Serialize};

use crate::special::{binom_cdf, binom_quantile, level_fraction, z_for_level};
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
pub fn exact_limit(p: f64, n: u64, theta: f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&theta) || !(0.0..=1.0).contains(&p) {
        return None;
    }
    if theta == 0.0 || theta == 1.0 {
        return Some(theta);
    }
    let r = binom_quantile(p, n, theta)?;
    let f_r = binom_cdf(r, n, theta)?;
    let f_prev = if r == 0 { 0.0 } else { binom_cdf(r - 1, n, theta)? };
    let pmf = f_r - f_prev;
    // F(r−1) < p ≤ F(r) keeps α in [0, 1); a zero pmf can only come from underflow far in a tail.
    let alpha = if pmf > 0.0 { ((f_r - p) / pmf).clamp(0.0, 1.0) } else { 0.0 };
    Some(((r as f64 - alpha) / n as f64).clamp(0.0, 1.0))
}

/// Exact interpolated limits at one level (fraction or percentage).
pub fn exact_limits(n: u64, theta: f64, level: f64) -> Option<Interval> {
    let tail = (1.0 - level_fraction(level)?) / 2.0;
    Some(Interval { lower: exact_limit(tail, n, theta)?, upper: exact_limit(1.0 - tail, n, theta)? })
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
pub fn exact_funnel(n: u64, theta: f64) -> Option<FunnelLimits> {
    Some(FunnelLimits { alert: exact_limits(n, theta, ALERT_LEVEL)?, alarm: exact_limits(n, theta, ALARM_LEVEL)? })
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
