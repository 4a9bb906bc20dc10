//! Times the exact funnel limits the KPI engine needs: 500 services × 9 KPIs × 2 levels (95% and
//! 99.8%, a lower and an upper limit each, 18,000 limits), with the bisection reference and with
//! the walk that replaced it, and checks that both give the same limits.
//!
//! Run with `cargo run --release -p flsdb-stats --example funnel_speed`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use flsdb_stats::funnel::{FunnelLimits, exact_funnel, exact_funnel_reference, exact_limits};
use flsdb_stats::{ALARM_LEVEL, ALERT_LEVEL};

const SERVICES: usize = 500;
/// Target proportions of 9 KPIs, from rare to near-universal.
const THETAS: [f64; 9] = [0.03, 0.12, 0.27, 0.41, 0.5, 0.63, 0.78, 0.9, 0.97];
const REPEATS: usize = 9;

/// splitmix64: a fixed, dependency-free stream of service sizes.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Denominators log-uniform on [10, 5000], one per service × KPI.
fn denominators() -> Vec<u64> {
    let mut state = 2026;
    (0..SERVICES * THETAS.len())
        .map(|_| {
            let u = (next(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            (10.0 * 500f64.powf(u)).round() as u64
        })
        .collect()
}

/// Both levels from two `exact_limits` calls (each walks lower → upper).
fn per_level(n: u64, theta: f64) -> Option<FunnelLimits> {
    Some(FunnelLimits { alert: exact_limits(n, theta, ALERT_LEVEL)?, alarm: exact_limits(n, theta, ALARM_LEVEL)? })
}

/// The limits of every service × KPI, flattened.
fn all_limits(ns: &[u64], funnel: fn(u64, f64) -> Option<FunnelLimits>) -> Vec<f64> {
    let mut out = Vec::with_capacity(ns.len() * 4);
    for (i, &n) in ns.iter().enumerate() {
        let l = funnel(n, THETAS[i % THETAS.len()]).unwrap_or(FunnelLimits {
            alert: flsdb_stats::Interval { lower: f64::NAN, upper: f64::NAN },
            alarm: flsdb_stats::Interval { lower: f64::NAN, upper: f64::NAN },
        });
        out.extend([l.alert.lower, l.alert.upper, l.alarm.lower, l.alarm.upper]);
    }
    out
}

/// Fastest of several passes, and the limits.
fn time(ns: &[u64], funnel: fn(u64, f64) -> Option<FunnelLimits>) -> (Duration, Vec<f64>) {
    let mut best = Duration::MAX;
    let mut limits = Vec::new();
    for _ in 0..REPEATS {
        let start = Instant::now();
        limits = black_box(all_limits(black_box(ns), funnel));
        best = best.min(start.elapsed());
    }
    (best, limits)
}

fn main() {
    let ns = denominators();
    let (old, reference) = time(&ns, exact_funnel_reference);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{SERVICES} services × {} KPIs × 2 levels ({} limits; n log-uniform on [10, 5000]), best of {REPEATS}:",
        THETAS.len(),
        reference.len()
    );
    println!("  bisection (exact_funnel_reference):  {:7.2} ms", ms(old));
    for (label, funnel) in [
        ("walk, per level (exact_limits × 2):  ", per_level as fn(u64, f64) -> Option<FunnelLimits>),
        ("walk, chained (exact_funnel):        ", exact_funnel),
    ] {
        let (new, limits) = time(&ns, funnel);
        let max_diff = reference.iter().zip(&limits).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let nan = limits.iter().filter(|l| l.is_nan()).count();
        println!(
            "  {label}{:7.2} ms  ({:.1}× faster; largest |Δ limit| {max_diff:.1e}, {nan} undefined)",
            ms(new),
            ms(old) / ms(new)
        );
    }
}
