//! Statistics for flsdb KPIs, following the contract in `shared/spec/statistics.md`: confidence
//! intervals for a proportion, funnel-plot limits, over-dispersion, and SPC (XmR, p-chart, run
//! chart with the NHS "Making Data Count" rules).
//!
//! The crate is pure (no I/O) and reproduces the peer R packages (PHEindicatormethods,
//! FunnelPlotR, NHSRplotthedots, qicharts2) including their edge cases. Undefined results (a
//! denominator of 0, too few points) are `None`, which serialises as JSON `null`; malformed input
//! is rejected with `None` for scalar functions and [`StatsError`] for the multi-unit analyses,
//! never with a panic.

pub mod funnel;
pub mod overdispersion;
pub mod proportion;
pub mod spc;
pub mod special;

use serde::{Deserialize, Serialize};

pub use funnel::{FunnelLimits, FunnelStatus};
pub use proportion::{clopper_pearson, wilson};
pub use special::z_for_level;

/// The alert level of funnel plots (~2 SD, HQIP "alert").
pub const ALERT_LEVEL: f64 = 0.95;
/// The alarm level of funnel plots (~3 SD, HQIP "alarm").
pub const ALARM_LEVEL: f64 = 0.998;

/// A closed interval `[lower, upper]`: a confidence interval or a pair of control limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// Scales both ends, e.g. by 100 for percentages (PHE applies its multiplier after computing).
    pub fn scaled(self, multiplier: f64) -> Self {
        Self { lower: self.lower * multiplier, upper: self.upper * multiplier }
    }

    /// Strictly below the lower end: a value on a limit is inside, as in every peer.
    pub fn is_below(&self, value: f64) -> bool {
        value < self.lower
    }

    /// Strictly above the upper end.
    pub fn is_above(&self, value: f64) -> bool {
        value > self.upper
    }

    fn clamped_unit(self) -> Self {
        Self { lower: self.lower.clamp(0.0, 1.0), upper: self.upper.clamp(0.0, 1.0) }
    }
}

/// Why a multi-unit analysis refused its input.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// A value is not finite, negative, or a count exceeds its denominator; the text says which.
    InvalidValue(&'static str),
    /// An option is out of range; the text says which.
    InvalidOption(&'static str),
    /// The method needs more units than it was given.
    TooFewUnits { needed: usize, got: usize },
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidValue(what) => write!(f, "invalid value: {what}"),
            Self::InvalidOption(what) => write!(f, "invalid option: {what}"),
            Self::TooFewUnits { needed, got } => write!(f, "needs at least {needed} units, got {got}"),
        }
    }
}

impl std::error::Error for StatsError {}

/// True when `k` successes of `n` form a valid proportion (finite, 0 ≤ k ≤ n).
fn valid_count(k: f64, n: f64) -> bool {
    k.is_finite() && n.is_finite() && k >= 0.0 && k <= n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_helpers() {
        let i = Interval { lower: 0.25, upper: 0.5 };
        assert_eq!(i.scaled(100.0), Interval { lower: 25.0, upper: 50.0 });
        assert!(!i.is_below(0.25) && !i.is_above(0.5));
        assert!(i.is_below(0.2499) && i.is_above(0.5001));
        assert_eq!(serde_json::to_string(&i).unwrap_or_default(), r#"{"lower":0.25,"upper":0.5}"#);
    }

    #[test]
    fn error_display() {
        assert_eq!(StatsError::TooFewUnits { needed: 2, got: 1 }.to_string(), "needs at least 2 units, got 1");
    }
}
