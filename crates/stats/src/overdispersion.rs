//! Over-dispersion of many units against one target (contract §3, FunnelPlotR's method), and the
//! flsdb funnel policy built on it ([`assess_services`]).

use serde::{Deserialize, Serialize};

use crate::funnel::{FunnelLimits, FunnelStatus, classify, exact_funnel};
use crate::special::{arcsine, arcsine_back, chisq_upper, exact_sum, quantile_type7, z_for_level};
use crate::{ALARM_LEVEL, ALERT_LEVEL, Interval, StatsError, valid_count};

/// The scale on which z-scores and limits are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// asin(√p) with s = 1/(2√n): FunnelPlotR's `PR` data type.
    #[default]
    Arcsine,
    /// p with s = √(θ(1 − θ)/n): the plain binomial form of Spiegelhalter (2005).
    Identity,
}

/// Options for [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverdispersionOptions {
    pub scale: Scale,
    /// Winsorisation fraction per tail, in [0, 0.5).
    pub trim: f64,
    /// The target θ; `None` pools Σk/Σn over the included units. flsdb passes the overall
    /// proportion of the whole cohort.
    pub target: Option<f64>,
}

impl Default for OverdispersionOptions {
    fn default() -> Self {
        Self { scale: Scale::Arcsine, trim: 0.1, target: None }
    }
}

/// Limits of one unit under the three treatments of over-dispersion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OdLimits {
    pub unadjusted: FunnelLimits,
    /// Scaled by √max(φ̂, 1), so never narrower than unadjusted.
    pub multiplicative: FunnelLimits,
    /// Widened by the between-unit variance τ̂².
    pub additive: FunnelLimits,
}

/// A unit's status under each set of limits (`band()` gives the flag words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OdStatus {
    pub unadjusted: FunnelStatus,
    pub multiplicative: FunnelStatus,
    pub additive: FunnelStatus,
}

/// Per-unit results. Units with n = 0 are reported with everything `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OdUnit {
    pub numerator: f64,
    pub denominator: f64,
    pub proportion: Option<f64>,
    /// (y − t)/s on the chosen scale.
    pub z: Option<f64>,
    pub z_winsorised: Option<f64>,
    pub z_multiplicative: Option<f64>,
    pub z_additive: Option<f64>,
    pub limits: Option<OdLimits>,
    pub status: Option<OdStatus>,
}

/// Result of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdispersionFit {
    pub scale: Scale,
    /// The target θ on the proportion scale.
    pub theta: f64,
    /// Number of included units (n > 0).
    pub units: usize,
    /// Winsorisation bounds of the z-scores (type-7 quantiles at trim and 1 − trim).
    pub winsor_lower: f64,
    pub winsor_upper: f64,
    pub phi: f64,
    pub tau2: f64,
    /// φ̂ > 1: FunnelPlotR only draws adjusted limits then.
    pub overdispersed: bool,
    /// Heuristic χ² test P(χ²_{I−1} > I·φ̂).
    pub chi2_p_value: f64,
    pub results: Vec<OdUnit>,
}

/// Transformed value, target and standard error of the scale, so limits can be built and
/// back-transformed in one place.
struct Transform {
    scale: Scale,
    t: f64,
    theta: f64,
    /// Critical values at the alert and alarm levels.
    z: (f64, f64),
}

impl Transform {
    fn new(scale: Scale, theta: f64) -> Self {
        let t = match scale {
            Scale::Arcsine => arcsine(theta),
            Scale::Identity => theta,
        };
        let z = |level| z_for_level(level).unwrap_or(f64::NAN);
        Self { scale, t, theta, z: (z(ALERT_LEVEL), z(ALARM_LEVEL)) }
    }

    fn y(&self, p: f64) -> f64 {
        match self.scale {
            Scale::Arcsine => arcsine(p),
            Scale::Identity => p,
        }
    }

    fn s(&self, n: f64) -> f64 {
        match self.scale {
            Scale::Arcsine => 1.0 / (2.0 * n.sqrt()),
            Scale::Identity => (self.theta * (1.0 - self.theta) / n).sqrt(),
        }
    }

    fn back(&self, y: f64) -> f64 {
        match self.scale {
            Scale::Arcsine => arcsine_back(y),
            Scale::Identity => y.clamp(0.0, 1.0),
        }
    }

    /// Limits t ∓ z·sd at both levels, back-transformed and clamped.
    fn limits(&self, sd: f64) -> FunnelLimits {
        let at = |z: f64| Interval { lower: self.back(self.t - z * sd), upper: self.back(self.t + z * sd) };
        FunnelLimits { alert: at(self.z.0), alarm: at(self.z.1) }
    }
}

/// Estimates over-dispersion over units given as (k, n), one row per unit (sum rows that share a
/// unit id first). Units with n = 0 are reported but excluded. Needs at least two included units
/// (τ̂²'s denominator vanishes with one); the identity scale needs 0 < θ < 1.
pub fn fit(units: &[(f64, f64)], options: &OverdispersionOptions) -> Result<OverdispersionFit, StatsError> {
    if units.iter().any(|&(k, n)| !valid_count(k, n)) {
        return Err(StatsError::InvalidValue("counts must be finite with 0 ≤ k ≤ n"));
    }
    if !(options.trim >= 0.0 && options.trim < 0.5) {
        return Err(StatsError::InvalidOption("trim must be in [0, 0.5)"));
    }
    let included: Vec<(f64, f64)> = units.iter().copied().filter(|&(_, n)| n > 0.0).collect();
    if included.len() < 2 {
        return Err(StatsError::TooFewUnits { needed: 2, got: included.len() });
    }
    let theta = match options.target {
        Some(t) if (0.0..=1.0).contains(&t) => t,
        Some(_) => return Err(StatsError::InvalidValue("target must be in [0, 1]")),
        None => exact_sum(included.iter().map(|u| u.0)) / exact_sum(included.iter().map(|u| u.1)),
    };
    if options.scale == Scale::Identity && (theta <= 0.0 || theta >= 1.0) {
        return Err(StatsError::InvalidValue("the identity scale needs 0 < θ < 1"));
    }
    let tr = Transform::new(options.scale, theta);

    let count = included.len() as f64;
    let (ys, ss): (Vec<f64>, Vec<f64>) = included.iter().map(|&(k, n)| (tr.y(k / n), tr.s(n))).unzip();
    let zs: Vec<f64> = ys.iter().zip(&ss).map(|(y, s)| (y - tr.t) / s).collect();
    let lz = quantile_type7(&zs, options.trim).ok_or(StatsError::InvalidValue("z-scores"))?;
    let uz = quantile_type7(&zs, 1.0 - options.trim).ok_or(StatsError::InvalidValue("z-scores"))?;
    let winsorise = |z: f64| {
        if z < lz {
            lz
        } else if z > uz {
            uz
        } else {
            z
        }
    };
    let phi = (1.0 / count) * exact_sum(zs.iter().map(|&z| winsorise(z).powi(2)));
    let w: Vec<f64> = ss.iter().map(|s| 1.0 / (s * s)).collect();
    let sum_w = exact_sum(w.iter().copied());
    let sum_w2 = exact_sum(w.iter().map(|w| w * w));
    let tau2 = if count * phi < count - 1.0 {
        0.0
    } else {
        ((count * phi - (count - 1.0)) / (sum_w - sum_w2 / sum_w)).max(0.0)
    };
    if !(phi.is_finite() && tau2.is_finite()) {
        return Err(StatsError::InvalidValue("z-scores are not finite"));
    }
    let inflation = phi.max(1.0).sqrt();

    let results = units
        .iter()
        .map(|&(k, n)| {
            if n <= 0.0 {
                return OdUnit {
                    numerator: k,
                    denominator: n,
                    proportion: None,
                    z: None,
                    z_winsorised: None,
                    z_multiplicative: None,
                    z_additive: None,
                    limits: None,
                    status: None,
                };
            }
            let p = k / n;
            let (y, s) = (tr.y(p), tr.s(n));
            let z = (y - tr.t) / s;
            let additive_sd = (s * s + tau2).sqrt();
            let limits = OdLimits {
                unadjusted: tr.limits(s),
                multiplicative: tr.limits(s * inflation),
                additive: tr.limits(additive_sd),
            };
            OdUnit {
                numerator: k,
                denominator: n,
                proportion: Some(p),
                z: Some(z),
                z_winsorised: Some(winsorise(z)),
                z_multiplicative: Some(z / inflation),
                z_additive: Some((y - tr.t) / additive_sd),
                limits: Some(limits),
                status: Some(OdStatus {
                    unadjusted: classify(p, &limits.unadjusted),
                    multiplicative: classify(p, &limits.multiplicative),
                    additive: classify(p, &limits.additive),
                }),
            }
        })
        .collect();

    Ok(OverdispersionFit {
        scale: options.scale,
        theta,
        units: included.len(),
        winsor_lower: lz,
        winsor_upper: uz,
        phi,
        tau2,
        overdispersed: phi > 1.0,
        chi2_p_value: chisq_upper(count * phi, count - 1.0).unwrap_or(f64::NAN),
        results,
    })
}

/// Which limits the adjusted funnel status uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// φ̂ > 1: each side uses the wider of the exact and the additive (τ̂²) limit.
    Additive,
    /// No adjustment: the adjusted status equals the unadjusted one.
    None,
}

/// The over-dispersion summary attached to a KPI at the overall level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overdispersion {
    pub phi: Option<f64>,
    pub tau2: Option<f64>,
    /// Services included in the estimate (denominator ≥ the minimum).
    pub units: usize,
    pub rule: Rule,
}

/// One service's funnel statuses; both `None` when its denominator is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFunnel {
    pub funnel: Option<FunnelStatus>,
    pub funnel_adjusted: Option<FunnelStatus>,
}

/// Result of [`assess_services`], services in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceAssessment {
    pub services: Vec<ServiceFunnel>,
    pub overdispersion: Overdispersion,
}

/// The flsdb funnel policy ("Decisions" in the contract) for one KPI over services given as
/// (numerator, denominator), against θ = the overall proportion of the cohort.
///
/// Services with 0 < n < `min_n` are `too_few` and take no part in the estimate; n = 0 gives
/// `None`. φ̂ and τ̂² come from [`fit`] on the arcsine scale with 10% winsorisation and target θ.
/// When φ̂ > 1 the adjusted status compares each service with, on each side, the wider of its
/// exact limit and its additive limit, so adjusting never flags more than the unadjusted funnel.
/// Fewer than two included services, or θ = 0 or 1, leave φ̂ and τ̂² `None` and the rule `none`.
/// `None` overall only for invalid input (k > n, θ outside [0, 1]).
pub fn assess_services(counts: &[(u64, u64)], theta: f64, min_n: u64) -> Option<ServiceAssessment> {
    if counts.iter().any(|&(k, n)| k > n) || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    let min_n = min_n.max(1);
    let included: Vec<(f64, f64)> =
        counts.iter().filter(|&&(_, n)| n >= min_n).map(|&(k, n)| (k as f64, n as f64)).collect();
    let estimate = if included.len() >= 2 && theta > 0.0 && theta < 1.0 {
        let options = OverdispersionOptions { scale: Scale::Arcsine, trim: 0.1, target: Some(theta) };
        fit(&included, &options).ok()
    } else {
        None
    };
    let rule = match &estimate {
        Some(f) if f.phi > 1.0 => Rule::Additive,
        _ => Rule::None,
    };
    let additive_transform = Transform::new(Scale::Arcsine, theta);
    let tau2 = estimate.as_ref().map_or(0.0, |f| f.tau2);

    let services = counts
        .iter()
        .map(|&(k, n)| {
            if n == 0 {
                return Some(ServiceFunnel { funnel: None, funnel_adjusted: None });
            }
            if n < min_n {
                return Some(ServiceFunnel {
                    funnel: Some(FunnelStatus::TooFew),
                    funnel_adjusted: Some(FunnelStatus::TooFew),
                });
            }
            let p = k as f64 / n as f64;
            let exact = exact_funnel(n, theta)?;
            let funnel = classify(p, &exact);
            let funnel_adjusted = match rule {
                Rule::None => funnel,
                Rule::Additive => {
                    let s = 1.0 / (2.0 * (n as f64).sqrt());
                    let additive = additive_transform.limits((s * s + tau2).sqrt());
                    classify(p, &widest(&exact, &additive))
                }
            };
            Some(ServiceFunnel { funnel: Some(funnel), funnel_adjusted: Some(funnel_adjusted) })
        })
        .collect::<Option<Vec<_>>>()?;

    Some(ServiceAssessment {
        services,
        overdispersion: Overdispersion {
            phi: estimate.as_ref().map(|f| f.phi),
            tau2: estimate.as_ref().map(|f| f.tau2),
            units: included.len(),
            rule,
        },
    })
}

/// The wider of two limit sets on each side at each level.
fn widest(a: &FunnelLimits, b: &FunnelLimits) -> FunnelLimits {
    let wide = |x: &Interval, y: &Interval| Interval { lower: x.lower.min(y.lower), upper: x.upper.max(y.upper) };
    FunnelLimits { alert: wide(&a.alert, &b.alert), alarm: wide(&a.alarm, &b.alarm) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: [f64; 10] = [12.0, 30.0, 26.0, 50.0, 42.0, 71.0, 4.0, 29.0, 48.0, 36.0];
    const N: [f64; 10] = [82.0, 98.0, 100.0, 125.0, 162.0, 151.0, 12.0, 100.0, 82.0, 99.0];

    fn example(scale: Scale) -> OverdispersionFit {
        let units: Vec<(f64, f64)> = K.iter().copied().zip(N).collect();
        fit(&units, &OverdispersionOptions { scale, ..Default::default() }).expect("fit")
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6
    }

    #[test]
    fn worked_example_arcsine() {
        // §5 row 10.
        let f = example(Scale::Arcsine);
        assert!(near(f.theta, 0.344214), "{}", f.theta);
        assert!(near(f.winsor_lower, -2.549447) && near(f.winsor_upper, 3.286864));
        assert!(near(f.phi, 4.009053) && near(f.tau2, 0.008688), "{} {}", f.phi, f.tau2);
        assert!(f.overdispersed && f.units == 10);
        // P(χ²₉ > 40.09053) = 7.31685e-6 (50-digit arithmetic).
        assert!((f.chi2_p_value - 7.31685e-6).abs() < 1e-10, "{}", f.chi2_p_value);
        // §5 row 11: unit A (12/82).
        let a = &f.results[0];
        assert!(near(a.z.unwrap_or(f64::NAN), -4.245599));
        assert!(near(a.z_winsorised.unwrap_or(f64::NAN), -2.549447));
        let l = a.limits.expect("limits");
        let check = |i: Interval, lo: f64, hi: f64| assert!(near(i.lower, lo) && near(i.upper, hi), "{i:?}");
        check(l.unadjusted.alarm, 0.194190, 0.512204);
        check(l.multiplicative.alarm, 0.079227, 0.679148);
        check(l.additive.alarm, 0.082971, 0.672730);
        let s = a.status.expect("status");
        assert_eq!(
            [s.unadjusted.band(), s.multiplicative.band(), s.additive.band()],
            ["below_99.8", "below_95", "below_95"]
        );
        let z_mult = a.z_multiplicative.unwrap_or(f64::NAN);
        assert!((z_mult - -4.245599 / f.phi.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn worked_example_identity() {
        // §5 row 12.
        let f = example(Scale::Identity);
        assert!(near(f.phi, 4.015592) && near(f.tau2, 0.007861), "{} {}", f.phi, f.tau2);
    }

    #[test]
    fn excluded_units_and_errors() {
        let units = [(0.0, 0.0), (5.0, 10.0), (9.0, 10.0), (1.0, 10.0)];
        let f = fit(&units, &OverdispersionOptions::default()).expect("fit");
        assert_eq!(f.units, 3);
        assert_eq!(f.results[0].z, None);
        assert!((f.theta - 0.5).abs() < 1e-15);
        assert_eq!(
            fit(&[(1.0, 2.0), (0.0, 0.0)], &OverdispersionOptions::default()),
            Err(StatsError::TooFewUnits { needed: 2, got: 1 })
        );
        assert!(fit(&[(3.0, 2.0), (1.0, 2.0)], &OverdispersionOptions::default()).is_err());
        let bad_trim = OverdispersionOptions { trim: 0.5, ..Default::default() };
        assert!(fit(&units, &bad_trim).is_err());
        let identity_zero = OverdispersionOptions { scale: Scale::Identity, target: Some(0.0), trim: 0.1 };
        assert!(fit(&units, &identity_zero).is_err());
    }

    #[test]
    fn no_winsorising_gives_dersimonian_laird() {
        // With trim 0 and t the inverse-variance mean on the identity scale, τ̂² is DerSimonian–Laird:
        // Q = Σ w (y − ȳ_w)², τ̂² = (Q − (I − 1)) / (Σw − Σw²/Σw).
        let units: Vec<(f64, f64)> = K.iter().copied().zip(N).collect();
        let f = example(Scale::Identity);
        let theta = f.theta;
        let w: Vec<f64> = N.iter().map(|n| n / (theta * (1.0 - theta))).collect();
        let sw: f64 = w.iter().sum();
        let ybar = units.iter().zip(&w).map(|((k, n), w)| w * k / n).sum::<f64>() / sw;
        let opts = OverdispersionOptions { scale: Scale::Identity, trim: 0.0, target: Some(ybar) };
        let g = fit(&units, &opts).expect("fit");
        let w: Vec<f64> = N.iter().map(|n| n / (ybar * (1.0 - ybar))).collect();
        let sw: f64 = w.iter().sum();
        let q: f64 = units.iter().zip(&w).map(|((k, n), w)| w * (k / n - ybar).powi(2)).sum();
        let dl = (q - 9.0) / (sw - w.iter().map(|w| w * w).sum::<f64>() / sw);
        assert!((g.tau2 - dl).abs() < 1e-12, "{} {}", g.tau2, dl);
    }

    #[test]
    fn clamped_limits() {
        // A tiny unit against a high target: on the arcsine scale its limits pass both 0 and π/2
        // and must back-transform to 0 and 1, not fold back.
        let units = [(1.0, 1.0), (95.0, 100.0), (90.0, 100.0), (99.0, 100.0)];
        let f = fit(&units, &OverdispersionOptions::default()).expect("fit");
        let l = f.results[0].limits.expect("limits");
        assert_eq!(l.unadjusted.alarm.upper, 1.0);
        assert_eq!(l.additive.alarm.upper, 1.0);
        assert_eq!(l.unadjusted.alarm.lower, 0.0);
        assert!(f.results[1].limits.is_some_and(|l| l.unadjusted.alarm.upper < 1.0));
    }

    #[test]
    fn flsdb_policy() {
        let counts: Vec<(u64, u64)> = K.iter().zip(N).map(|(&k, n)| (k as u64, n as u64)).chain([(0, 0)]).collect();
        let theta = 348.0 / 1011.0;
        let a = assess_services(&counts, theta, 10).expect("assessment");
        assert_eq!(a.overdispersion.units, 10);
        assert_eq!(a.overdispersion.rule, Rule::Additive);
        assert!((a.overdispersion.phi.unwrap_or(f64::NAN) - 4.009053).abs() < 1e-6);
        assert_eq!(a.services[10], ServiceFunnel { funnel: None, funnel_adjusted: None });
        // Unit A is an alarm on the exact funnel and only an alert once adjusted.
        assert_eq!(a.services[0].funnel, Some(FunnelStatus::AlarmLow));
        assert_eq!(a.services[0].funnel_adjusted, Some(FunnelStatus::AlertLow));
        // Adjusting never flags more.
        let rank = |s: Option<FunnelStatus>| match s {
            Some(FunnelStatus::AlarmLow | FunnelStatus::AlarmHigh) => 2,
            Some(FunnelStatus::AlertLow | FunnelStatus::AlertHigh) => 1,
            _ => 0,
        };
        assert!(a.services.iter().all(|s| rank(s.funnel_adjusted) <= rank(s.funnel)));
        let json = serde_json::to_string(&a.overdispersion).unwrap_or_default();
        assert!(json.contains(r#""rule":"additive""#) && json.contains(r#""units":10"#), "{json}");
    }

    #[test]
    fn flsdb_policy_too_few_and_degenerate() {
        // The 4/12 unit is the only one with n ≥ 10 besides one other: two included.
        let counts = [(1, 1), (4, 9), (4, 12), (30, 40)];
        let a = assess_services(&counts, 0.5, 10).expect("assessment");
        assert_eq!(a.services[0].funnel, Some(FunnelStatus::TooFew));
        assert_eq!(a.services[1].funnel_adjusted, Some(FunnelStatus::TooFew));
        assert_eq!(a.overdispersion.units, 2);
        assert!(a.overdispersion.phi.is_some());
        // One included service: no estimate.
        let a = assess_services(&[(1, 1), (5, 20)], 0.5, 10).expect("assessment");
        assert_eq!(a.overdispersion, Overdispersion { phi: None, tau2: None, units: 1, rule: Rule::None });
        assert_eq!(a.services[1].funnel, a.services[1].funnel_adjusted);
        // θ = 0: no estimate, degenerate limits.
        let a = assess_services(&[(0, 20), (0, 30)], 0.0, 10).expect("assessment");
        assert_eq!(a.overdispersion, Overdispersion { phi: None, tau2: None, units: 2, rule: Rule::None });
        assert_eq!(a.services[0].funnel, Some(FunnelStatus::Within));
        // φ̂ ≤ 1: rule none, adjusted equals unadjusted.
        let a = assess_services(&[(10, 20), (15, 30), (20, 40), (25, 50)], 0.5, 10).expect("assessment");
        assert_eq!(a.overdispersion.rule, Rule::None);
        assert_eq!(a.overdispersion.phi, Some(0.0));
        assert!(a.services.iter().all(|s| s.funnel == s.funnel_adjusted));
        assert_eq!(assess_services(&[(3, 2)], 0.5, 10), None);
        assert_eq!(assess_services(&[(1, 2)], 1.5, 10), None);
    }
}
