//! Each service's own size, case mix and performance, drawn around the national figures.
//!
//! A profile depends only on the seed and the service's code (plus its setting and the period), so
//! [`services`](crate::services) and [`records`](crate::records) derive the same one independently:
//! the registry's caseloads match the records generated for it, and records can be generated for a
//! registry that came from somewhere else.

use crate::rng::{Rng, hash, hash_text, purpose};
use flsdb_dataset::Service;
use flsdb_dataset::codes::Setting;

/// How a service writes its `local_id`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStyle {
    /// `ROW-004512`: the service code and a serial number.
    Serial,
    /// `K04821937`: a hospital number, a letter and eight digits.
    HospitalNumber(u8),
    /// `2019/004512`: the fracture year and a serial number.
    YearSerial,
}

#[derive(Clone, Debug)]
pub(crate) struct Profile {
    /// Relative yearly number of fragility fractures in the population served.
    pub size: f64,
    /// Share of those fractures the service finds (kpi2 before year-to-year growth).
    pub identification: f64,
    /// Julian days of the service's first and last possible fracture (some join the audit late).
    pub from: i32,
    pub to: i32,
    /// Case mix: shares of hip and spine index fractures.
    pub hip: f64,
    pub spine: f64,
    /// Probabilities of the events behind kpi4–kpi11.
    pub assess90: f64,
    pub dxa90: f64,
    pub falls: f64,
    pub drug: f64,
    pub followup16: f64,
    pub started16: f64,
    pub strength_balance: f64,
    pub followup52: f64,
    pub persist52: f64,
    /// Share of follow-ups that fall inside their window (the rest are early or late).
    pub in_window: f64,
    /// How often an optional answer is left empty (`unknown` is given at 40% of this rate).
    pub missing: f64,
    pub nhs_missing: f64,
    /// Mean days between a follow-up and its entry into the audit.
    pub lag16: f64,
    pub lag52: f64,
    pub id_style: IdStyle,
}

/// Fractures per year grow by this fraction over the period (more services find more patients
/// each year, as in the real audit).
const GROWTH: f64 = 0.5;

impl Profile {
    pub fn new(seed: u64, service: &Service, from: i32, to: i32) -> Profile {
        let mut rng = Rng::new(hash(&[seed, purpose::PROFILE, hash_text(service.code.as_str())]));
        let rng = &mut rng;
        let setting = service.setting.unwrap_or(Setting::Hospital);
        let size = match setting {
            Setting::Network => 1.6,
            Setting::Hospital => 1.0,
            Setting::Community | Setting::PrimaryCare => 0.6,
        } * rng.uniform(0.45, 1.9);
        let identification = rng.normal(0.62, 0.2).clamp(0.18, 1.05);
        // One service in eight joins the audit during the first 60% of the period.
        let from = if rng.chance(0.125) { from + rng.below(((to - from) as f64 * 0.6) as u32) } else { from };
        let poor = rng.chance(0.1);
        let missing = if poor { rng.uniform(0.15, 0.35) } else { rng.uniform(0.005, 0.05) };
        let nhs_missing = if poor { rng.uniform(0.06, 0.15) } else { rng.uniform(0.005, 0.035) };
        // Primary care services search radiology reports for vertebral fractures.
        let (hip, spine) = match setting {
            Setting::PrimaryCare => (rng.uniform(0.05, 0.15), rng.uniform(0.15, 0.3)),
            _ => (rng.uniform(0.22, 0.33), rng.uniform(0.08, 0.18)),
        };
        // A few services do no monitoring at all; the rest vary widely.
        let monitoring = |mean: f64, rng: &mut Rng| {
            if rng.chance(0.06) { rng.uniform(0.0, 0.05) } else { rng.normal(mean, 0.16).clamp(0.1, 0.97) }
        };
        let followup16 = monitoring(0.69, rng);
        let followup52 = monitoring(0.76, rng);
        Profile {
            size,
            identification,
            from,
            to,
            hip,
            spine,
            assess90: rng.normal(0.70, 0.12).clamp(0.25, 0.98),
            dxa90: rng.normal(0.49, 0.13).clamp(0.08, 0.9),
            falls: rng.normal(0.63, 0.17).clamp(0.05, 0.97),
            drug: rng.normal(0.50, 0.09).clamp(0.2, 0.85),
            followup16,
            started16: rng.normal(0.78, 0.08).clamp(0.4, 0.97),
            strength_balance: rng.normal(0.45, 0.15).clamp(0.05, 0.9),
            followup52,
            persist52: rng.normal(0.88, 0.05).clamp(0.6, 0.97),
            in_window: rng.uniform(0.8, 0.97),
            missing,
            nhs_missing,
            lag16: rng.uniform(10.0, 60.0),
            lag52: rng.uniform(20.0, 120.0),
            id_style: match rng.below(3) {
                0 => IdStyle::Serial,
                1 => IdStyle::HospitalNumber(b'A' + rng.below(26) as u8),
                _ => IdStyle::YearSerial,
            },
        }
    }

    fn active_days(&self) -> f64 {
        f64::from(self.to - self.from + 1)
    }

    /// The service's share of all records: population × identification × time in the audit.
    pub fn weight(&self) -> f64 {
        self.size * self.identification * self.active_days()
    }

    /// The estimated yearly caseload that gives this service its identification rate when it has
    /// `records` records in all.
    pub fn caseload(&self, records: f64) -> f64 {
        records / (self.active_days() / 365.25) / self.identification
    }

    /// A fracture date (Julian day), more frequent later in the period: the density rises
    /// linearly by [`GROWTH`], sampled by inverting its distribution function.
    pub fn fracture_day(&self, rng: &mut Rng) -> i32 {
        let u = rng.f64();
        let x = ((1.0 + u * GROWTH * (2.0 + GROWTH)).sqrt() - 1.0) / GROWTH;
        (self.from + (x * self.active_days()) as i32).min(self.to)
    }
}
