//! The statistical decoration of KPI values, all from flsdb-stats: the Wilson interval, funnel
//! statuses against the overall proportion, and over-dispersion (`statistics.md`, "Decisions").

use flsdb_stats::funnel::MIN_DENOMINATOR;
use flsdb_stats::overdispersion::{Overdispersion, Rule, ServiceFunnel, assess_services};

/// The confidence level of `ci95`.
const CI_LEVEL: f64 = 0.95;

/// `k / n` as a percentage (PHE's order: the proportion, then × 100); `None` unless `n > 0`.
pub(crate) fn percent(k: f64, n: f64) -> Option<f64> {
    (n > 0.0).then(|| k / n * 100.0)
}

/// The Wilson 95% interval of `k / n` in percent; `None` when `n = 0`.
pub(crate) fn ci95(k: u64, n: u64) -> Option<[f64; 2]> {
    flsdb_stats::wilson(k as f64, n as f64, CI_LEVEL).map(|i| {
        let i = i.scaled(100.0);
        [i.lower, i.upper]
    })
}

/// Funnel statuses of every service and the over-dispersion summary of one KPI.
pub(crate) struct Assessment {
    pub services: Vec<ServiceFunnel>,
    pub overdispersion: Overdispersion,
}

/// Assesses the services' `(numerator, denominator)` against θ = Σ numerators / Σ denominators
/// (the overall proportion). Services below the minimum denominator are `too_few`; with no
/// denominator anywhere there is no θ, so every status is `null` and nothing is estimated.
pub(crate) fn assess(counts: &[(u64, u64)]) -> Assessment {
    let (k, n) = counts.iter().fold((0u64, 0u64), |(k, n), &(a, b)| (k + a, n + b));
    let nothing = || Assessment {
        services: counts.iter().map(|_| ServiceFunnel { funnel: None, funnel_adjusted: None }).collect(),
        overdispersion: Overdispersion { phi: None, tau2: None, units: 0, rule: Rule::None },
    };
    if n == 0 {
        return nothing();
    }
    match assess_services(counts, k as f64 / n as f64, MIN_DENOMINATOR) {
        Some(a) => Assessment { services: a.services, overdispersion: a.overdispersion },
        None => nothing(),
    }
}
