//! "What should this service improve next?": every KPI of a service ranked by how many patients
//! the gap to its next band represents, with the gap to the national value beside it, and spine
//! identification singled out when it is red.

use flsdb_kpi::{Band, Bands, KpiSet, Measure, Report};
use serde::Serialize;

/// One KPI of one service on the priority list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Priority {
    pub kpi: String,
    pub name: String,
    pub percent: Option<f64>,
    pub band: Option<Band>,
    pub national_percent: Option<f64>,
    /// The next band up and the percent where it starts (`None` when already green).
    pub next_band: Option<(Band, f64)>,
    /// More patients over the period who would have met the KPI to reach the next band.
    pub patients_to_next_band: Option<u64>,
    /// The same, to reach the national value (0 when at or above it).
    pub patients_to_national: Option<u64>,
    /// `patients_to_next_band` as a yearly figure (the period scaled to 365.25 days).
    pub per_year: Option<u64>,
    /// Spine identification in the red band: the audit's recommendation is to make it the next
    /// priority, whatever the ranking says.
    pub spine_alert: bool,
    /// A sentence for a dashboard or report.
    pub summary: String,
}

fn band_rank(band: Band) -> u8 {
    match band {
        Band::Red => 0,
        Band::Amber => 1,
        Band::Green => 2,
    }
}

/// The threshold and band of the first step above `band`.
fn next_step(bands: &Bands, band: Band) -> Option<(Band, f64)> {
    bands.steps.iter().find(|s| band_rank(s.band) > band_rank(band)).map(|s| (s.band, s.at))
}

/// How a KPI's figures move when one more patient meets it.
#[derive(Clone, Copy, PartialEq)]
enum Growth {
    /// Another patient of the same denominator meets the numerator (most KPIs).
    Numerator,
    /// A newly found patient joins numerator and denominator: a share of the cohort defined by
    /// where the fracture is (spine identification).
    Both,
}

/// The fewest extra patients `k` for which `reached(n + k, d [+ k])` holds (bounded by the
/// denominator, or a caseload's size, so a KPI that cannot be reached gives `None`).
fn patients_needed(
    numerator: f64,
    denominator: f64,
    growth: Growth,
    reached: impl Fn(f64, f64) -> bool,
) -> Option<u64> {
    let limit = (denominator.max(1.0) * 100.0).ceil() as u64;
    let at = |k: u64| {
        let k = k as f64;
        match growth {
            Growth::Numerator => reached(numerator + k, denominator),
            Growth::Both => reached(numerator + k, denominator + k),
        }
    };
    if at(0) {
        return Some(0);
    }
    // `reached` is monotone in k: binary search for the first k that reaches.
    let (mut low, mut high) = (0u64, 1u64);
    while !at(high) {
        if high >= limit {
            return None;
        }
        low = high;
        high = (high * 2).min(limit);
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if at(mid) { high = mid } else { low = mid }
    }
    Some(high)
}

/// The priority list of `service` in `report` (computed with `set`), most patients first.
/// KPIs without a figure for the service (no denominator, no caseload) are left out, as is kpi1
/// (completeness is a list of fields, shown on its own).
pub fn next_priorities(set: &KpiSet, report: &Report, service: &str) -> Vec<Priority> {
    let Some(row) = report.service(service) else { return Vec::new() };
    let year_scale = 365.25 / report.period.days() as f64;
    let mut list = Vec::new();
    for def in &set.kpis {
        let (bands, growth) = match &def.measure {
            Measure::Proportion(p) => {
                let share_by_site = p.denominator.filter.is_empty()
                    && p.denominator.follow_up.is_none()
                    && !p.numerator.is_empty()
                    && p.numerator.iter().all(|c| {
                        matches!(c, flsdb_kpi::Condition::CodeIn { field: flsdb_dataset::Field::FractureSite, .. })
                    });
                (&p.bands, if share_by_site { Growth::Both } else { Growth::Numerator })
            }
            Measure::Identification(i) => (&i.bands, Growth::Numerator),
            Measure::Completeness(_) | Measure::InputCompleteness { .. } => continue,
        };
        let Some(entry) = row.kpis.entry(&def.id) else { continue };
        let Some(denominator) = entry.exact.denominator.map(|d| d.as_f64()).filter(|d| *d > 0.0) else { continue };
        let numerator = entry.exact.numerator as f64;
        let Some(band) = bands.classify(numerator, denominator) else { continue };
        let national = report.overall.kpis.entry(&def.id).and_then(|e| {
            let d = e.exact.denominator?.as_f64();
            (d > 0.0).then(|| e.exact.numerator as f64 / d)
        });
        let next_band = next_step(bands, band);
        let patients_to_next_band = next_band.and_then(|(target, _)| {
            patients_needed(numerator, denominator, growth, |n, d| {
                bands.classify(n, d).is_some_and(|b| band_rank(b) >= band_rank(target))
            })
        });
        let patients_to_national =
            national.and_then(|p| patients_needed(numerator, denominator, growth, |n, d| n >= p * d));
        let per_year = patients_to_next_band.map(|k| (k as f64 * year_scale).round() as u64);
        let spine_alert = growth == Growth::Both && band == Band::Red;
        let percent = 100.0 * numerator / denominator;
        let summary = match (next_band, per_year) {
            (Some((target, _)), Some(k)) => format!(
                "{k} more patients a year would have met \"{}\" (now {percent:.1}%, {}), enough for {}",
                def.name,
                band.as_str(),
                target.as_str()
            ),
            (Some((target, _)), None) => {
                format!(
                    "\"{}\" is {percent:.1}% ({}); {} is out of reach this period",
                    def.name,
                    band.as_str(),
                    target.as_str()
                )
            }
            (None, _) => format!("\"{}\" is {percent:.1}%, green", def.name),
        };
        list.push(Priority {
            kpi: def.id.clone(),
            name: def.name.clone(),
            percent: Some(percent),
            band: Some(band),
            national_percent: national.map(|p| 100.0 * p),
            next_band,
            patients_to_next_band,
            patients_to_national,
            per_year,
            spine_alert,
            summary,
        });
    }
    // Spine alerts first; then KPIs below green by patients to the next band (fewest first: the
    // nearest win), then by the gap to the national value; green KPIs last.
    list.sort_by_key(|p| {
        (
            !p.spine_alert,
            p.next_band.is_none(),
            p.patients_to_next_band.map_or(u64::MAX, |k| k),
            std::cmp::Reverse(p.patients_to_national.unwrap_or(0)),
        )
    });
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_patients_to_reach_a_band_on_the_exact_fraction() {
        let bands = Bands::lower_inclusive(50.0, 80.0);
        let green = |n: f64, d: f64| bands.classify(n, d) == Some(Band::Green);
        // 70 of 100: 80 of 100 is the first green.
        assert_eq!(patients_needed(70.0, 100.0, Growth::Numerator, green), Some(10));
        // Already there.
        assert_eq!(patients_needed(80.0, 100.0, Growth::Numerator, green), Some(0));
        // Found patients join the denominator too: (5 + k) / (100 + k) ≥ 20% → k = 19 (24/119 = 20.2%).
        let spine_green = |n: f64, d: f64| Bands::lower_inclusive(10.0, 20.0).classify(n, d) == Some(Band::Green);
        assert_eq!(patients_needed(5.0, 100.0, Growth::Both, spine_green), Some(19));
        assert!(!spine_green(23.0, 118.0));
        // A numerator cannot pass its denominator.
        let full = |n: f64, d: f64| n > d;
        assert_eq!(patients_needed(3.0, 4.0, Growth::Numerator, full), Some(2));
        let never = |_: f64, _: f64| false;
        assert_eq!(patients_needed(3.0, 4.0, Growth::Numerator, never), None);
    }
}
