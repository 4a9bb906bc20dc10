//! Special functions and accurate summaries that the statistical methods are built on.
//!
//! Everything here is written to agree with R (`qnorm`, `pbeta`, `qbeta`, `pbinom`, `qbinom`,
//! `mean`, `quantile(type = 7)`) far below the 1e-9 the contract asks for, so that values sitting
//! exactly on a limit or on the mean are classified the same way as by the peers.

use std::f64::consts::PI;

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Standard normal quantile Φ⁻¹(p) by Wichura's AS241 (PPND16), as R's `qnorm` uses, so critical
/// values agree with R to the last bit or two. `p` outside (0, 1) gives ±∞ at the ends and NaN
/// beyond them.
// The coefficients are kept exactly as published so they can be checked against AS241.
#[allow(clippy::excessive_precision)]
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852854561 + 28729.085735721942674) * r + 39307.89580009271061) * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 { -val } else { val }
}

/// Reads a confidence level the way PHEindicatormethods does: values above 1 are percentages.
/// `None` unless the level lies in (0, 1] (or (1, 100] as a percentage).
pub fn level_fraction(level: f64) -> Option<f64> {
    let f = if level > 1.0 { level / 100.0 } else { level };
    (f > 0.0 && f <= 1.0).then_some(f)
}

/// Two-sided critical value z = Φ⁻¹(1 − (1 − level)/2); level 1 gives +∞ (an interval of
/// everything), which callers turn into (0, 1).
pub fn z_for_level(level: f64) -> Option<f64> {
    let f = level_fraction(level)?;
    Some(-qnorm((1.0 - f) / 2.0))
}

/// Stirling-series remainder lnΓ(x) − [(x − ½)ln x − x + ln√(2π)] for x ≥ 10; splitting it off lets
/// `ln_beta` cancel the huge leading terms analytically instead of numerically (as R's `lbeta`).
fn lgamma_correction(x: f64) -> f64 {
    let x2 = 1.0 / (x * x);
    (1.0 / 12.0
        + x2 * (-1.0 / 360.0
            + x2 * (1.0 / 1260.0
                + x2 * (-1.0 / 1680.0 + x2 * (1.0 / 1188.0 + x2 * (-691.0 / 360360.0 + x2 * (1.0 / 156.0)))))))
        / x
}

/// ln Γ(x) for x > 0 (NaN otherwise), accurate to a few ulp of the result's magnitude.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    if x >= 10.0 {
        return (x - 0.5) * x.ln() - x + LN_SQRT_2PI + lgamma_correction(x);
    }
    // Recurrence up into the Stirling range: Γ(x) = Γ(x + m) / (x (x+1) … (x+m−1)).
    let mut prod = 1.0;
    let mut y = x;
    while y < 10.0 {
        prod *= y;
        y += 1.0;
    }
    ln_gamma(y) - prod.ln()
}

/// ln B(a, b) for a, b > 0, following R's `lbeta` so that large arguments keep full relative
/// accuracy (the incomplete beta's prefactor depends on it).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    if p.is_nan() || p <= 0.0 {
        return f64::NAN;
    }
    if q.is_infinite() {
        return f64::NEG_INFINITY;
    }
    if p >= 10.0 {
        let corr = lgamma_correction(p) + lgamma_correction(q) - lgamma_correction(p + q);
        q.ln() * -0.5 + LN_SQRT_2PI + corr + (p - 0.5) * (p / (p + q)).ln() + q * (-p / (p + q)).ln_1p()
    } else if q >= 10.0 {
        let corr = lgamma_correction(q) - lgamma_correction(p + q);
        ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// Continued fraction for the incomplete beta (modified Lentz). It converges quickly for
/// x < (a + 1)/(a + b + 2); callers use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let max_iter = 1000 + (10.0 * a.max(b).sqrt()) as usize;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=max_iter {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= 2.0 * f64::EPSILON {
            break;
        }
    }
    h
}

/// ln of x with 1 − x = y known exactly, so logs near 1 keep their precision.
fn ln_pair(x: f64, y: f64) -> (f64, f64) {
    let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
    (ln_x, ln_y)
}

/// Loader's deviance term x·ln(x/m) + m − x, summed as a series when x ≈ m so the binomial and
/// beta prefactors keep full relative precision for large counts (as R's `dbinom`).
fn bd0(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let mut v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            ej *= v;
            let s1 = s + ej / f64::from(2 * j + 1);
            if s1 == s {
                return s1;
            }
            s = s1;
        }
        s
    } else {
        x * (x / m).ln() + m - x
    }
}

/// ln[x^a · y^b / B(a, b)] with y = 1 − x. For large shapes the direct form subtracts terms of
/// size a·|ln x| and loses ~1e-11; the deviance form keeps ~1e-15.
fn ln_beta_front(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if a >= 10.0 && b >= 10.0 {
        let n = a + b;
        let corr = lgamma_correction(a) + lgamma_correction(b) - lgamma_correction(n);
        -bd0(a, n * x) - bd0(b, n * y) + 0.5 * (a / n * b).ln() - LN_SQRT_2PI - corr
    } else {
        let (ln_x, ln_y) = ln_pair(x, y);
        a * ln_x + b * ln_y - ln_beta(a, b)
    }
}

/// Regularised incomplete beta I_x(a, b), given x and y = 1 − x separately (binomial tails pass
/// θ and 1 − θ without rounding 1 − (1 − θ)).
fn inc_beta_xy(a: f64, b: f64, x: f64, y: f64) -> f64 {
    inc_beta_full(a, b, x, y).value
}

/// An incomplete-beta evaluation with the by-products the binomial quantile uses.
struct IncBeta {
    /// I_x(a, b), bit for bit what [`inc_beta_xy`] returns.
    value: f64,
    /// 1 − I_x(a, b) = I_y(b, a), with full relative precision when it is the small side (the
    /// continued fraction computes that side directly; only the other one is 1 − it).
    complement: f64,
    /// The prefactor x^a·y^b/B(a, b) (0 at the ends).
    front: f64,
}

/// [`inc_beta_xy`] with its complement and prefactor from the same continued fraction.
fn inc_beta_full(a: f64, b: f64, x: f64, y: f64) -> IncBeta {
    if x <= 0.0 {
        return IncBeta { value: 0.0, complement: 1.0, front: 0.0 };
    }
    if y <= 0.0 {
        return IncBeta { value: 1.0, complement: 0.0, front: 0.0 };
    }
    let front = ln_beta_front(a, b, x, y).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        let value = (front * beta_cf(a, b, x) / a).clamp(0.0, 1.0);
        IncBeta { value, complement: 1.0 - value, front }
    } else {
        let rest = front * beta_cf(b, a, y) / b;
        IncBeta { value: (1.0 - rest).clamp(0.0, 1.0), complement: rest.clamp(0.0, 1.0), front }
    }
}

/// Beta distribution CDF, the regularised incomplete beta I_x(a, b). `None` for a, b ≤ 0 or
/// non-finite input.
pub fn beta_cdf(x: f64, a: f64, b: f64) -> Option<f64> {
    if !(x.is_finite() && a.is_finite() && b.is_finite()) || a <= 0.0 || b <= 0.0 {
        return None;
    }
    let x = x.clamp(0.0, 1.0);
    Some(inc_beta_xy(a, b, x, 1.0 - x))
}

/// Beta quantile (inverse regularised incomplete beta), as R's `qbeta`, by Newton's method
/// safeguarded with bisection: Newton alone overshoots on skewed shapes, bisection alone is slow
/// to reach 1e-15. `None` for p outside [0, 1] or invalid shapes.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> Option<f64> {
    if !(p.is_finite() && a.is_finite() && b.is_finite()) || a <= 0.0 || b <= 0.0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    if p == 0.0 {
        return Some(0.0);
    }
    if p == 1.0 {
        return Some(1.0);
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    let mut x = a / (a + b);
    for _ in 0..3000 {
        let f = inc_beta_xy(a, b, x, 1.0 - x) - p;
        if f == 0.0 {
            return Some(x);
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let (ln_x, ln_y) = ln_pair(x, 1.0 - x);
        let dens = (ln_beta_front(a, b, x, 1.0 - x) - ln_x - ln_y).exp();
        let newton = x - f / dens;
        let next = if dens.is_finite() && dens > 0.0 && newton > lo && newton < hi {
            newton
        } else if lo > 0.0 && hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * (lo + hi)
        };
        if (next - x).abs() <= 4.0 * f64::EPSILON * next.abs() || next <= lo || next >= hi {
            return Some(next.clamp(lo, hi));
        }
        x = next;
    }
    Some(x)
}

/// Binomial CDF P(Y ≤ r), Y ~ Binomial(n, θ), through the incomplete beta as R's `pbinom`.
/// `None` for θ outside [0, 1].
pub fn binom_cdf(r: u64, n: u64, theta: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&theta) {
        return None;
    }
    if r >= n {
        return Some(1.0);
    }
    if theta == 0.0 {
        return Some(1.0);
    }
    if theta == 1.0 {
        return Some(0.0);
    }
    // P(Y ≤ r) = I_{1−θ}(n − r, r + 1).
    Some(inc_beta_xy((n - r) as f64, r as f64 + 1.0, 1.0 - theta, theta))
}

/// P(Y ≤ r), P(Y > r) and P(Y = r) for 0 < θ < 1 and r < n from one incomplete-beta evaluation.
/// P(Y ≤ r) is bit for bit [`binom_cdf`]; whichever tail is smaller has full relative precision.
/// The point probability is the beta prefactor (1 − θ)^(n−r)·θ^(r+1)/B(n − r, r + 1) =
/// P(Y = r)·θ·(n − r), which keeps the prefactor's full relative precision (the deviance form for
/// large counts, as R's `dbinom`).
fn binom_tails_pmf(r: u64, n: u64, theta: f64) -> (f64, f64, f64) {
    let i = inc_beta_full((n - r) as f64, r as f64 + 1.0, 1.0 - theta, theta);
    (i.value, i.complement, i.front / (n - r) as f64 / theta)
}

/// Binomial quantile as R's `qbinom`: the smallest r with P(Y ≤ r) ≥ p, where both F(r) ≥ p and
/// F(r − 1) < p hold for the computed CDF [`binom_cdf`] (library quantiles can be off by one near
/// ties). Same result as [`binom_quantile_bisection`], found with about one CDF evaluation instead
/// of 1 + log₂ n: a short walk from the Cornish–Fisher approximation, as R's `qbinom` does, with
/// every close call re-decided by [`binom_cdf`] itself.
pub fn binom_quantile(p: f64, n: u64, theta: f64) -> Option<u64> {
    binom_quantile_point(p, n, theta).map(|q| q.r)
}

/// The reference binomial quantile: bisection on [`binom_cdf`] itself, keeping F(lo) < p ≤ F(hi),
/// so both F(r) ≥ p and F(r − 1) < p hold for the computed CDF. It costs 1 + ⌈log₂ n⌉ CDF
/// evaluations; [`binom_quantile`] gives the same r much faster. Kept as the fallback for extreme
/// p and as the reference of the differential tests and of `examples/funnel_speed.rs`.
pub fn binom_quantile_bisection(p: f64, n: u64, theta: f64) -> Option<u64> {
    if !(0.0..=1.0).contains(&p) || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    if binom_cdf(0, n, theta)? >= p {
        return Some(0);
    }
    // Invariant: F(lo) < p ≤ F(hi).
    let (mut lo, mut hi) = (0_u64, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if binom_cdf(mid, n, theta)? >= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// A binomial p-quantile r with the ingredients of Spiegelhalter's interpolation
/// α = (F(r) − p)/P(Y = r).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BinomQuantile {
    pub r: u64,
    /// F(r) − p (≥ 0 up to rounding), the numerator of α.
    pub excess: f64,
    /// P(Y = r).
    pub pmf: f64,
    /// Where the walk ended, for another quantile on the same side to walk on from
    /// ([`binom_quantile_near`]); `None` from the bisection, whose P(Y = r) = F(r) − F(r − 1)
    /// can cancel.
    walk: Option<WalkState>,
}

/// The tail a walk follows: F(r) for p ≤ ½ and P(Y > r) = 1 − F(r) for p > ½, so that the value
/// compared with p (or 1 − p) is the small one and keeps full relative precision. Near 1, F(r)
/// itself has an absolute resolution of ~1e-16, which α = (F(r) − p)/P(Y = r) would divide by
/// P(Y = r) and the limit by n (a few 1e-15 for small n).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WalkState {
    upper: bool,
    tail: f64,
}

/// The walk covers 10⁻⁶ ≤ p ≤ 1 − 10⁻⁶; beyond, F(r) can be within rounding of 0 or 1 over many r
/// and the reference bisection decides.
const WALK_P_MIN: f64 = 1e-6;
/// A walk from the Cornish–Fisher start longer than this gives up and leaves the answer to the
/// bisection (in practice the start is within a few steps).
const WALK_MAX_STEPS: u64 = 64;
/// A walk may start from another quantile on the same side of the same distribution instead of
/// a fresh CDF evaluation when the new start is at most this many steps away: a step costs ~2 ns
/// and a CDF evaluation 100–2000 ns (more for larger n), so the funnel's 0.025 → 0.001 and
/// 0.975 → 0.999 moves (≈ 1.1 SD) are walked unless the SD exceeds ~110.
const CHAIN_MAX_STEPS: u64 = 128;
/// A tail probability obtained by adding point probabilities is trusted to decide F(r) ≥ p only
/// when it is further than this from p (or 1 − p); closer calls evaluate [`binom_cdf`] itself,
/// so the decision is always the one [`binom_cdf`], and hence the bisection, makes. The walked
/// value is more accurate than [`binom_cdf`] (rounding per step, relative ~1e-15 on the point
/// probabilities), so what the guard must cover is [`binom_cdf`]'s own error, measured up to
/// ~1e-12 absolute for n ≤ 10⁶ and ~5e-12 for n ≤ 10⁷ (large n with a small tail count, where
/// the continued fraction runs long): 1e-8 leaves a margin of over 1000. Ties are decided exactly
/// as before, and the extra evaluation happens with probability ~2e-8/P(Y = r) per comparison.
const WALK_GUARD: f64 = 1e-8;

/// The p-quantile with F(r) − p and P(Y = r). Same r as [`binom_quantile_bisection`]:
///
/// 1. start at the Cornish–Fisher approximation (as R's `qbinom`) and evaluate F(r) there with
///    [`binom_cdf`]'s arithmetic, with P(Y > r) and P(Y = r) from the same evaluation;
/// 2. walk down while F(r − 1) ≥ p, or up until F(r) ≥ p, updating the tail by ±P(Y = r) and
///    P(Y = r) by the ratio P(Y = r + 1)/P(Y = r) = (n − r)/(r + 1)·θ/(1 − θ);
/// 3. every comparison with p closer than [`WALK_GUARD`] re-evaluates [`binom_cdf`] instead.
///
/// Because each decision F(r) ≥ p is the one [`binom_cdf`] gives (the first one exactly, as
/// the start's F(r) is [`binom_cdf`]'s value bit for bit), the result is the unique r with
/// F(r − 1) < p ≤ F(r) for the computed CDF, which is what the bisection finds. F(r) − p and
/// P(Y = r) come with ~1e-15 relative precision, slightly better than the reference's, whose
/// F(r) − F(r − 1) cancels near 1.
pub(crate) fn binom_quantile_point(p: f64, n: u64, theta: f64) -> Option<BinomQuantile> {
    binom_quantile_near(p, n, theta, None)
}

/// [`binom_quantile_point`], walking on from `from`, a quantile of the same Binomial(n, θ) found
/// earlier, when it is on the same side (p ≤ ½ or p > ½) and within [`CHAIN_MAX_STEPS`] of the
/// new start: that replaces step 1, the one CDF evaluation. The result is the same r, and
/// F(r) − p agrees to ~1e-17 per step walked.
pub(crate) fn binom_quantile_near(p: f64, n: u64, theta: f64, from: Option<BinomQuantile>) -> Option<BinomQuantile> {
    if !(0.0..=1.0).contains(&p) || !(0.0..=1.0).contains(&theta) {
        return None;
    }
    let walked = if n > 0 && theta > 0.0 && theta < 1.0 && (WALK_P_MIN..=1.0 - WALK_P_MIN).contains(&p) {
        binom_quantile_walk(p, n, theta, from)
    } else {
        None
    };
    if walked.is_some() {
        return walked;
    }
    let r = binom_quantile_bisection(p, n, theta)?;
    let cdf = binom_cdf(r, n, theta)?;
    let prev = if r == 0 { 0.0 } else { binom_cdf(r - 1, n, theta)? };
    Some(BinomQuantile { r, excess: cdf - p, pmf: cdf - prev, walk: None })
}

/// Steps 1–3 of [`binom_quantile_point`] for n ≥ 1, 0 < θ < 1 and p inside (0, 1); `None` hands
/// over to the bisection (a point probability that underflows, or a walk that runs too long).
fn binom_quantile_walk(p: f64, n: u64, theta: f64, from: Option<BinomQuantile>) -> Option<BinomQuantile> {
    let nf = n as f64;
    // 1 − θ rounded exactly as `binom_cdf` rounds it, so the walk and the CDF agree.
    let q = 1.0 - theta;
    let sd = (nf * theta * q).sqrt();
    let z = qnorm(p);
    let skew = (q - theta) / sd;
    let guess = (nf * theta + sd * (z + skew * (z * z - 1.0) / 6.0) + 0.5).floor();
    if !guess.is_finite() {
        return None;
    }
    // F(n) = 1 needs no evaluation, so a fresh start is at most n − 1; the walk up reaches n.
    let guess = (guess.max(0.0) as u64).min(n - 1);

    // The walk follows t(k) = F(k) (lower side) or P(Y > k) (upper side) and compares it with
    // `target`: F(k) ≥ p ⇔ t(k) ≥ p, or t(k) ≤ 1 − p (exact, p > ½).
    let upper = p > 0.5;
    let target = if upper { 1.0 - p } else { p };
    let reaches = |t: f64| if upper { t <= target } else { t >= target };
    // Decides F(k) ≥ p from a walked t(k): trusted away from the target, else recomputed, and
    // then decided by `binom_cdf` itself. Returns the decision and the t(k) to carry on with.
    let decide = |t: f64, k: u64| -> (bool, f64) {
        if k >= n {
            (true, if upper { 0.0 } else { 1.0 })
        } else if (t - target).abs() > WALK_GUARD {
            (reaches(t), t)
        } else {
            let (cdf, sf, _) = binom_tails_pmf(k, n, theta);
            (cdf >= p, if upper { sf } else { cdf })
        }
    };

    let (mut r, mut t, mut pmf, mut at_least, max_steps) = match from {
        Some(BinomQuantile { r, pmf, walk: Some(w), .. })
            if w.upper == upper && r <= n && r.abs_diff(guess) <= CHAIN_MAX_STEPS =>
        {
            let (at_least, t) = decide(w.tail, r);
            (r, t, pmf, at_least, CHAIN_MAX_STEPS + WALK_MAX_STEPS)
        }
        _ => {
            // `cdf` is bit for bit `binom_cdf(guess)`, so this first decision is exact.
            let (cdf, sf, pmf) = binom_tails_pmf(guess, n, theta);
            (guess, if upper { sf } else { cdf }, pmf, cdf >= p, WALK_MAX_STEPS)
        }
    };
    if !(pmf > 0.0 && pmf.is_finite()) {
        return None;
    }
    let odds = theta / q;
    // The effect of a point probability on t: F grows with k, P(Y > k) shrinks.
    let sign = if upper { -1.0 } else { 1.0 };
    let mut steps = 0;
    loop {
        if steps == max_steps {
            return None;
        }
        steps += 1;
        if at_least {
            // F(r) ≥ p: r is the answer if F(r − 1) < p, else step down.
            if r == 0 {
                break;
            }
            let (prev_at_least, prev) = decide(t - sign * pmf, r - 1);
            if !prev_at_least {
                break;
            }
            // P(Y = r − 1) = P(Y = r)·r/((n − r + 1)·θ/(1 − θ)).
            pmf *= r as f64 / ((n - r + 1) as f64 * odds);
            t = prev;
            r -= 1;
        } else {
            // F(r) < p, so r < n: step up; the first r with F(r) ≥ p is the answer.
            pmf *= (n - r) as f64 / (r + 1) as f64 * odds;
            r += 1;
            if r == n {
                t = if upper { 0.0 } else { 1.0 };
                break;
            }
            (at_least, t) = decide(t + sign * pmf, r);
            if at_least {
                break;
            }
        }
    }
    let excess = if upper { target - t } else { t - p };
    Some(BinomQuantile { r, excess, pmf, walk: Some(WalkState { upper, tail: t }) })
}

/// Regularised upper incomplete gamma Q(a, x); used for the heuristic χ² test of over-dispersion.
pub fn gamma_q(a: f64, x: f64) -> Option<f64> {
    if !(a.is_finite() && a > 0.0) || x.is_nan() || x < 0.0 {
        return None;
    }
    if x == 0.0 {
        return Some(1.0);
    }
    if x.is_infinite() {
        return Some(0.0);
    }
    let ln_front = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..100_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * f64::EPSILON {
                break;
            }
        }
        Some((1.0 - sum * ln_front.exp()).clamp(0.0, 1.0))
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..100_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() <= 2.0 * f64::EPSILON {
                break;
            }
        }
        Some((ln_front.exp() * h).clamp(0.0, 1.0))
    }
}

/// Upper tail P(χ²_df > x).
pub fn chisq_upper(x: f64, df: f64) -> Option<f64> {
    gamma_q(df / 2.0, x / 2.0)
}

/// Error-free transformation: a + b = s + e exactly.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Correctly rounded sum (Shewchuk's algorithm, as Python's `math.fsum`): the "on the mean" tests
/// of SPC depend on the last bit of the mean.
pub fn exact_sum<I: IntoIterator<Item = f64>>(values: I) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in values {
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        partials.push(x);
    }
    let Some((&last, rest)) = partials.split_last() else {
        return 0.0;
    };
    if !last.is_finite() {
        return last;
    }
    let mut hi = last;
    let mut lo = 0.0;
    let mut n = rest.len();
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = rest[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Round half-way cases correctly using the sign of the next partial.
    if n > 0 && ((lo < 0.0 && rest[n - 1] < 0.0) || (lo > 0.0 && rest[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// Mean as R's `mean()` computes it: an accurate sum divided by n, then one refinement pass adding
/// Σ(x − m)/n. A naive sum turned −0.5 into −0.49999999999999983 in a differential test and a
/// point on the mean became a spurious shift. `None` for an empty slice.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mut m = exact_sum(values.iter().copied()) / n;
    if m.is_infinite() && values.iter().all(|x| x.is_finite()) {
        // The sum overflowed although the mean cannot: average the scaled values instead.
        m = exact_sum(values.iter().map(|x| x / n));
    }
    if !m.is_finite() {
        return Some(m);
    }
    let residual = exact_sum(values.iter().flat_map(|&x| {
        let (s, e) = two_sum(x, -m);
        [s, e]
    }));
    Some(m + residual / n)
}

/// Median (mean of the two middle values for an even count), as R's `median`.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => mean(&v[n / 2 - 1..=n / 2]),
    }
}

/// R's default quantile (type 7), with R's own interpolation formula (1 − h)·x_lo + h·x_hi so the
/// winsorisation bounds agree with FunnelPlotR to the last bit. `None` for an empty slice or a
/// probability outside [0, 1].
pub fn quantile_type7(values: &[f64], prob: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&prob) {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let index = 1.0 + (v.len() - 1) as f64 * prob;
    let lo = index.floor();
    let hi = index.ceil();
    let (xl, xh) = (v[lo as usize - 1], v[hi as usize - 1]);
    if index > lo && xh != xl {
        let h = index - lo;
        Some((1.0 - h) * xl + h * xh)
    } else {
        Some(xl)
    }
}

/// asin(√p), the variance-stabilising transform for proportions.
pub(crate) fn arcsine(p: f64) -> f64 {
    p.sqrt().asin()
}

/// Back-transform from the arcsine scale, clamping to [0, π/2] first so a limit past the end of
/// the scale gives 0 or 1 rather than folding back (sin² is not monotone beyond it).
pub(crate) fn arcsine_back(y: f64) -> f64 {
    y.clamp(0.0, PI / 2.0).sin().powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_quantiles() {
        // The contract prints R's values to 16 significant digits.
        for (level, z) in [(0.95, 1.959963984540054), (95.0, 1.959963984540054), (0.998, 3.090232306167813)] {
            assert!(close(z_for_level(level).unwrap_or(f64::NAN), z, 1e-15), "{level}");
        }
        assert_eq!(z_for_level(99.8), z_for_level(0.998));
        assert_eq!(z_for_level(1.0), Some(f64::INFINITY));
        assert_eq!(z_for_level(0.0), None);
        assert_eq!(z_for_level(f64::NAN), None);
        assert_eq!(z_for_level(100.5), None);
        assert_eq!(qnorm(0.5), 0.0);
        assert!(close(qnorm(0.1), -1.2815515655446004, 1e-15));
        assert!(close(qnorm(1e-300), -37.0470962993612, 1e-12));
        assert!(qnorm(-0.1).is_nan());
    }

    #[test]
    fn gamma_and_beta() {
        assert!(close(ln_gamma(1.0), 0.0, 5e-15));
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 5e-15));
        assert!(close(ln_gamma(10.0), 362880_f64.ln(), 1e-13));
        assert!(close(ln_gamma(171.0), 706.5730622457873, 1e-12));
        assert!(close(ln_beta(2.0, 3.0), (1.0_f64 / 12.0).ln(), 1e-14));
        assert!(close(ln_beta(12.0, 15.0), ln_gamma(12.0) + ln_gamma(15.0) - ln_gamma(27.0), 1e-12));
        // I_x(1, 1) = x; I_x(2, 1) = x²; I_0.5(a, a) = 0.5.
        for x in [0.0, 1e-10, 0.3, 0.5, 0.9999] {
            assert!(close(beta_cdf(x, 1.0, 1.0).unwrap_or(f64::NAN), x, 1e-15));
            assert!(close(beta_cdf(x, 2.0, 1.0).unwrap_or(f64::NAN), x * x, 1e-15));
        }
        for a in [0.5, 3.0, 50.0, 4000.0] {
            assert!(close(beta_cdf(0.5, a, a).unwrap_or(f64::NAN), 0.5, 1e-13));
        }
        // Inversion round-trips (shapes chosen so the CDF changes little over one ulp of x).
        for (a, b) in [(0.5, 0.5), (1.0, 30.0), (682.0, 244.0), (3.0, 1e5), (2.0, 1e5), (40.0, 7.0)] {
            for p in [1e-10, 0.001, 0.025, 0.5, 0.975, 0.999] {
                let x = beta_quantile(p, a, b).unwrap_or(f64::NAN);
                let back = beta_cdf(x, a, b).unwrap_or(f64::NAN);
                assert!(close(back, p, 1e-12 * p.max(1e-3) + 1e-13), "a={a} b={b} p={p} x={x} back={back}");
            }
        }
        assert_eq!(beta_quantile(0.5, 0.0, 1.0), None);
    }

    #[test]
    fn binomial() {
        // θ = 0.5, n = 10: F(1) = 11/1024, F(2) = 56/1024.
        assert!(close(binom_cdf(1, 10, 0.5).unwrap_or(f64::NAN), 11.0 / 1024.0, 1e-16));
        assert!(close(binom_cdf(2, 10, 0.5).unwrap_or(f64::NAN), 56.0 / 1024.0, 1e-16));
        assert!(close(binom_cdf(7, 10, 0.5).unwrap_or(f64::NAN), 968.0 / 1024.0, 1e-15));
        assert_eq!(binom_quantile(0.025, 10, 0.5), Some(2));
        assert_eq!(binom_quantile(0.975, 10, 0.5), Some(8));
        // qicharts2 / Anhøj references: qbinom(0.05, 24, 0.5) = 8, qbinom(0.05, 39, 0.5) = 14.
        assert_eq!(binom_quantile(0.05, 24, 0.5), Some(8));
        assert_eq!(binom_quantile(0.05, 39, 0.5), Some(14));
        assert_eq!(binom_quantile(0.05, 0, 0.5), Some(0));
        assert_eq!(binom_quantile(1.0, 7, 0.3), Some(7));
        assert_eq!(binom_quantile(0.0, 7, 0.3), Some(0));
        // Large n: F(n/2) = ½ + P(Y = n/2)/2 by symmetry (exact value from 50-digit arithmetic).
        let f = binom_cdf(50_000, 100_000, 0.5).unwrap_or(f64::NAN);
        assert!(close(f, 0.501_261_563_107_098_4, 1e-13), "{f}");
    }

    #[test]
    fn chi_square() {
        // P(χ²₁ > 3.841459) = 0.05; P(χ²₉ > 16.91898) = 0.05.
        assert!(close(chisq_upper(3.841458820694124, 1.0).unwrap_or(f64::NAN), 0.05, 1e-12));
        assert!(close(chisq_upper(16.918977604620448, 9.0).unwrap_or(f64::NAN), 0.05, 1e-12));
        assert!(close(chisq_upper(2.0, 4.0).unwrap_or(f64::NAN), 2.0 * (-1.0_f64).exp(), 1e-14));
    }

    #[test]
    fn accurate_sum_and_mean() {
        assert_eq!(exact_sum([0.1; 10]), 1.0);
        assert_eq!(exact_sum([1e100, 1.0, -1e100, 1e-100]), 1.0);
        assert_eq!(exact_sum(Vec::new()), 0.0);
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[0.1, 0.2, 0.3]), Some(0.2));
        assert_eq!(mean(&[1e308, 1e308]), Some(1e308));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn type7_quantile() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile_type7(&v, 0.0), Some(1.0));
        assert_eq!(quantile_type7(&v, 1.0), Some(5.0));
        assert_eq!(quantile_type7(&v, 0.1), Some(1.4));
        assert_eq!(quantile_type7(&v, 0.9), Some(4.6));
        assert_eq!(quantile_type7(&[], 0.5), None);
    }

    /// The tail probabilities of the funnel limits: the contract's and the ones the funnel
    /// actually computes, (1 − level)/2 and 1 − that.
    fn funnel_ps() -> Vec<f64> {
        let (alert, alarm) = ((1.0 - 0.95) / 2.0, (1.0 - 0.998) / 2.0);
        vec![0.001, 0.025, 0.975, 0.999, alarm, alert, 1.0 - alert, 1.0 - alarm]
    }

    /// The walk against the bisection at one (p, n, θ), fresh and walking on from each of `from`:
    /// identical r, both CDF conditions, and F(r) − p and P(Y = r) as the reference's.
    fn check_walk(p: f64, n: u64, theta: f64, from: &[BinomQuantile]) -> BinomQuantile {
        let case = format!("p={p:e} n={n} θ={theta:e}");
        let reference = binom_quantile_bisection(p, n, theta).expect("valid");
        let f_r = binom_cdf(reference, n, theta).expect("valid");
        let f_prev = if reference == 0 { 0.0 } else { binom_cdf(reference - 1, n, theta).expect("valid") };
        assert!(f_r >= p && f_prev < p, "{case}: bisection r={reference} F(r)={f_r:e} F(r-1)={f_prev:e}");
        assert_eq!(binom_quantile(p, n, theta), Some(reference), "{case}");
        let fresh = binom_quantile_point(p, n, theta).expect("valid");
        for q in std::iter::once(fresh)
            .chain(from.iter().map(|&f| binom_quantile_near(p, n, theta, Some(f)).expect("valid")))
        {
            assert_eq!(q.r, reference, "{case}: {q:?}");
            // Within 1e-11 of the reference's values, which are [`binom_cdf`]'s and carry its
            // error (up to ~1e-12 here, e.g. F = 0.0448 for n = 991200, θ = 1.35e-5 is 7.6e-13 off
            // while the walk is within 1e-16 of the 50-digit value): 1000× inside `WALK_GUARD`.
            assert!((q.excess - (f_r - p)).abs() <= 1e-11, "{case}: {q:?} vs F(r) − p = {:e}", f_r - p);
            assert!((q.pmf - (f_r - f_prev)).abs() <= 2e-11, "{case}: {q:?} vs {:e}", f_r - f_prev);
        }
        fresh
    }

    #[test]
    fn quantile_walk_matches_bisection_random() {
        const CASES: usize = 4000;
        let mut state = 0x5eed_f15d_b000_0001;
        let mut walked = 0;
        for _ in 0..CASES {
            let (n, theta) = test_cases::random_n_theta(&mut state);
            let mut found: Vec<BinomQuantile> = Vec::new();
            for p in funnel_ps() {
                let q = check_walk(p, n, theta, &found);
                walked += usize::from(q.walk.is_some());
                found.push(q);
            }
        }
        // The walk, not the fallback, did the work.
        assert!(walked >= CASES * 8 * 99 / 100, "{walked}");
    }

    #[test]
    fn quantile_walk_matches_bisection_extremes() {
        for theta in [1e-6, 1.0 - 1e-6, 1e-3, 0.5, 0.999] {
            for n in [1, 2, 3, 10, 99, 1000, 12_345, 999_999, 1_000_000] {
                let mut found: Vec<BinomQuantile> = Vec::new();
                for p in funnel_ps().into_iter().chain([0.05, 0.5, 1e-6, 1.0 - 1e-6]) {
                    found.push(check_walk(p, n, theta, &found));
                }
            }
        }
        // Outside the walk's range and at the ends: the bisection (or its shortcuts) answers.
        for p in [0.0, 1e-300, 1e-9, 1.0 - 1e-9, 1.0] {
            for (n, theta) in [(0, 0.5), (1, 0.5), (10, 1e-6), (1000, 0.3), (10, 0.0), (10, 1.0)] {
                assert_eq!(binom_quantile(p, n, theta), binom_quantile_bisection(p, n, theta), "p={p} n={n} θ={theta}");
            }
        }
        assert_eq!(binom_quantile(0.5, 10, 1.5), None);
        assert_eq!(binom_quantile(-0.1, 10, 0.5), None);
    }

    #[test]
    fn quantile_walk_decides_ties_like_bisection() {
        // p exactly at a computed F(r), and one ulp either side: F(r) ≥ p flips within an ulp,
        // which only an exact re-evaluation of the CDF decides as the bisection does.
        let mut state = 0x7135_7135;
        let mut cases: Vec<(u64, f64)> = vec![(10, 0.5), (24, 0.5), (39, 0.5), (25, 0.8), (1, 0.8), (1_000_000, 1e-6)];
        cases.extend((0..150).map(|_| test_cases::random_n_theta(&mut state)));
        for (n, theta) in cases {
            let centre = (n as f64 * theta) as u64;
            for r in [0, 1, centre.saturating_sub(3), centre, centre + 2, n.saturating_sub(1)] {
                let r = r.min(n);
                let f = binom_cdf(r, n, theta).expect("valid");
                for p in [f, f.next_down(), f.next_up()] {
                    if !(WALK_P_MIN..=1.0 - WALK_P_MIN).contains(&p) {
                        continue;
                    }
                    let reference = binom_quantile_bisection(p, n, theta).expect("valid");
                    assert_eq!(binom_quantile(p, n, theta), Some(reference), "p={p:e} n={n} θ={theta} r={r}");
                    if p == f {
                        assert!(reference <= r, "F(r) ≥ p at the tie itself");
                    }
                }
            }
        }
    }
}

/// Shared by the differential tests of the binomial quantile and of the funnel limits.
#[cfg(test)]
pub(crate) mod test_cases {
    /// splitmix64, so the tests need no random-number crate and always see the same cases.
    pub(crate) fn next_u64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    pub(crate) fn unit(state: &mut u64) -> f64 {
        (next_u64(state) >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// A random Binomial(n, θ): n log-uniform on [1, 10⁶]; θ uniform on (0, 1) a third of the
    /// time, else log-uniform on [10⁻⁶, ½] towards 0 or 1, with 1 in 20 exactly 10⁻⁶ or 1 − 10⁻⁶.
    pub(crate) fn random_n_theta(state: &mut u64) -> (u64, f64) {
        let n = (1e6_f64.powf(unit(state))).round().max(1.0) as u64;
        let pick = unit(state);
        let theta = if pick < 0.025 {
            1e-6
        } else if pick < 0.05 {
            1.0 - 1e-6
        } else if pick < 0.35 {
            unit(state).max(1e-6)
        } else {
            let small = 1e-6 * (0.5e6_f64).powf(unit(state));
            if unit(state) < 0.5 { small } else { 1.0 - small }
        };
        (n, theta)
    }
}
