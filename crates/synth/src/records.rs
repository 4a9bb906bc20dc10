//! The stream of synthetic records and the opt-out list that goes with it.
//!
//! Record `i` is made from its own random stream, seeded from `(seed, i)`: its service is drawn
//! first (in proportion to the services' weights), then its NHS number, then the patient and the
//! care that followed, in the order it happens. Each step only draws values the dataset's rules
//! allow given the steps before, so every record is valid by construction (the tests check it
//! through `parse_record`).

use crate::names::{UNIT_LETTERS, postcode_areas};
use crate::nhs::{self, nhs_number};
use crate::profile::{IdStyle, Profile};
use crate::rng::{Rng, hash, hash_text, permute, purpose};
use crate::{SynthConfig, SynthError};
use flsdb_dataset::codes::*;
use flsdb_dataset::{DrugSet, LocalId, NhsNumber, Postcode, Recommendation, Record, Service, ServiceCode, SiteSet};
use std::iter::FusedIterator;
use time::Date;

/// The share of patients (with an NHS number) on the opt-out list.
const OPT_OUT_SHARE: f64 = 0.015;
/// Postcodes invented per service; patients live at one of them.
const POSTCODE_POOL: usize = 256;
/// Hospital numbers have eight digits.
const HOSPITAL_NUMBERS: u64 = 100_000_000;

/// Streams `config.records` valid records for `services` (usually those of
/// [`services`](crate::services), but any registry works: a service's profile is derived from its
/// code).
///
/// Within each service `local_id`s are unique; NHS numbers are distinct for up to 90 million
/// records, and about 3% of records have none (more at services with poor completeness).
pub fn records(config: &SynthConfig, services: &[Service]) -> Result<Records, SynthError> {
    let total = config.records as u64;
    Ok(Records { generator: Generator::new(config, services)?, next: 0, end: total, total })
}

/// The opt-out list for the data of [`records`]: about 1.5% of the generated patients' NHS numbers,
/// plus some numbers of patients not in the data (one for every 250 records, and 3 more), as a
/// real national list would hold. Sorted, without repeats.
pub fn opt_outs(config: &SynthConfig, services: &[Service]) -> Result<Vec<NhsNumber>, SynthError> {
    let generator = Generator::new(config, services)?;
    let key = hash(&[config.seed, purpose::OPT_OUT]);
    let total = config.records as u64;
    let mut numbers: Vec<NhsNumber> = (0..total)
        .filter(|&i| Rng::new(hash(&[key, i])).chance(OPT_OUT_SHARE))
        .filter_map(|i| generator.identity(i).nhs_number)
        .collect();
    // Patient indices past the data's own have numbers nobody in the data has.
    let outsiders = total / 250 + 3;
    numbers.extend((total..total + outsiders).map(|i| nhs_number(generator.nhs_key, i)));
    numbers.sort_unstable();
    numbers.dedup();
    Ok(numbers)
}

/// A streaming iterator over the records: each is made when asked for, so memory does not grow
/// with the number of records. [`Records::record`] makes any one of them directly, so that threads
/// can share out the work and still produce the same data.
#[derive(Clone, Debug)]
pub struct Records {
    generator: Generator,
    next: u64,
    end: u64,
    total: u64,
}

impl Records {
    /// Record `index` (0-based) of the stream, whatever has been iterated; `None` past the end.
    pub fn record(&self, index: u64) -> Option<Record> {
        (index < self.total).then(|| self.generator.record(index))
    }
}

impl Iterator for Records {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        (self.next < self.end).then(|| {
            self.next += 1;
            self.generator.record(self.next - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next) as usize;
        (left, Some(left))
    }

    fn nth(&mut self, n: usize) -> Option<Record> {
        self.next = self.next.saturating_add(n as u64).min(self.end);
        self.next()
    }
}

impl DoubleEndedIterator for Records {
    fn next_back(&mut self) -> Option<Record> {
        (self.next < self.end).then(|| {
            self.end -= 1;
            self.generator.record(self.end)
        })
    }
}

impl ExactSizeIterator for Records {}
impl FusedIterator for Records {}

#[derive(Clone, Debug)]
struct Generator {
    seed: u64,
    as_of: i32,
    nhs_key: u64,
    local_id_key: u64,
    services: Vec<ServiceGen>,
    /// Cumulative service weights scaled to 2⁵³, for drawing a service with one comparison search.
    thresholds: Vec<u64>,
}

#[derive(Clone, Debug)]
struct ServiceGen {
    code: ServiceCode,
    profile: Profile,
    postcodes: Vec<Postcode>,
}

/// The first draws of a record, shared with [`opt_outs`]: its stream, service and NHS number.
struct Identity {
    rng: Rng,
    service: usize,
    nhs_number: Option<NhsNumber>,
}

const SCALE: f64 = (1u64 << 53) as f64;

impl Generator {
    fn new(config: &SynthConfig, services: &[Service]) -> Result<Generator, SynthError> {
        let period = config.period()?;
        if services.is_empty() && config.records > 0 {
            return Err(SynthError::NoServices);
        }
        let (from, to) = (period.start().to_julian_day(), period.end().to_julian_day());
        let services: Vec<ServiceGen> = services
            .iter()
            .map(|s| ServiceGen {
                code: s.code.clone(),
                profile: Profile::new(config.seed, s, from, to),
                postcodes: postcode_pool(config.seed, s),
            })
            .collect();
        let total: f64 = services.iter().map(|s| s.profile.weight()).sum();
        let mut sum = 0.0;
        let mut thresholds: Vec<u64> = services
            .iter()
            .map(|s| {
                sum += s.profile.weight();
                (sum / total * SCALE) as u64
            })
            .collect();
        if let Some(last) = thresholds.last_mut() {
            *last = 1 << 53;
        }
        Ok(Generator {
            seed: config.seed,
            as_of: config.as_of.to_julian_day(),
            nhs_key: hash(&[config.seed, purpose::NHS]),
            local_id_key: hash(&[config.seed, purpose::LOCAL_ID]),
            services,
            thresholds,
        })
    }

    fn identity(&self, index: u64) -> Identity {
        let mut rng = Rng::new(hash(&[self.seed, purpose::RECORD, index]));
        let x = rng.next_u64() >> 11;
        let service = self.thresholds.partition_point(|&t| t <= x);
        let missing = self.services[service].profile.nhs_missing;
        let nhs_number = (!rng.chance(missing) && index < nhs::DISTINCT).then(|| nhs_number(self.nhs_key, index));
        Identity { rng, service, nhs_number }
    }

    fn record(&self, index: u64) -> Record {
        let Identity { mut rng, service, nhs_number } = self.identity(index);
        let rng = &mut rng;
        let ServiceGen { code, profile: p, postcodes } = &self.services[service];
        let m = p.missing;
        let fracture = p.fracture_day(rng);
        let as_of = self.as_of;
        // Days are counted from the fracture; a date exists only once it has passed.
        let seen = |day: i32| fracture + day <= as_of;

        // Patient and index fracture.
        let site = rng.weighted(&[
            (FractureSite::Hip, p.hip),
            (FractureSite::Spine, p.spine),
            (FractureSite::Wrist, 0.21),
            (FractureSite::Humerus, 0.12),
            (FractureSite::Pelvis, 0.07),
            (FractureSite::Other, 0.16),
        ]);
        let (mean_age, female_share, inpatient_share, death_share) = match site {
            FractureSite::Hip => (82.0, 0.72, 0.97, 0.14),
            FractureSite::Spine => (75.0, 0.78, 0.2, 0.06),
            FractureSite::Wrist => (68.0, 0.85, 0.08, 0.02),
            FractureSite::Humerus => (74.0, 0.8, 0.2, 0.04),
            FractureSite::Pelvis => (81.0, 0.78, 0.6, 0.1),
            FractureSite::Other => (71.0, 0.68, 0.25, 0.03),
        };
        let age = rng.normal(mean_age, 9.0).round().clamp(50.0, 100.0);
        // A birthday at least a week from the fracture's anniversary keeps the age in whole years
        // exactly `age` whatever the leap years.
        let birth = fracture - (365.25 * (age + rng.uniform(0.02, 0.98))) as i32;
        let female = rng.chance(female_share);
        let sex_value = if female {
            Sex::Female
        } else if rng.chance(0.002) {
            Sex::Other
        } else {
            Sex::Male
        };
        let sex = known(rng, m * 0.4, Some(Sex::Unknown), sex_value);
        let postcode = (!rng.chance(0.02 + m)).then(|| postcodes[rng.below(postcodes.len() as u32) as usize].clone());
        let care_home_share = if site == FractureSite::Hip { 0.16 } else { 0.04 } * if age >= 85.0 { 2.0 } else { 1.0 };
        let care_home = yes_no(rng, m * 1.5, care_home_share);
        let inpatient = rng.chance(inpatient_share);
        let admitted =
            known(rng, m, Some(Admitted::Unknown), if inpatient { Admitted::Inpatient } else { Admitted::Outpatient });
        let radiological = rng.chance(if site == FractureSite::Spine { 0.6 } else { 0.03 });
        let identification = known(
            rng,
            m * 1.5,
            Some(FractureIdentification::Unknown),
            if radiological { FractureIdentification::Radiological } else { FractureIdentification::Clinical },
        );
        let mut other_fracture_sites = SiteSet::default();
        if rng.chance(0.045) {
            for _ in 0..1 + usize::from(rng.chance(0.12)) {
                let other = rng.pick(FractureSite::ALL);
                if other != site {
                    other_fracture_sites.push(other);
                }
            }
        }

        // Death, front-loaded in the first year (hip fractures most of all), then a few later.
        let death_risk = death_share * ((age - 78.0) / 25.0 + 1.0).max(0.3);
        let death = if rng.chance(death_risk) {
            let u = rng.f64();
            Some((365.0 * u * u.sqrt()) as i32)
        } else if rng.chance(0.07) {
            Some(365 + rng.below(1095))
        } else {
            None
        }
        .filter(|&d| seen(d));
        // A follow-up on the day of death is allowed; after it, there is none.
        let alive = |day: i32| death.is_none_or(|d| day <= d);

        // FLS contact and assessment.
        let assessment = if rng.chance(p.assess90) {
            Some(if inpatient { 1 + rng.below(10) } else { 3 + (87.0 * squared(rng)) as i32 })
        } else if rng.chance(0.45) {
            Some(91 + rng.below(300))
        } else {
            None
        }
        .filter(|&d| seen(d) && alive(d));
        let contact = match assessment {
            Some(a) if rng.chance(0.85) => Some((f64::from(a) * rng.f64()) as i32),
            Some(_) => None,
            None => rng.chance(0.3).then(|| rng.below(60)).filter(|&d| seen(d) && alive(d)),
        };

        // Risk factors.
        let height_cm = (!rng.chance(0.12 + 2.0 * m))
            .then(|| tenth(rng.normal(if female { 160.5 } else { 174.0 }, 7.0).clamp(135.0, 205.0)));
        let weight_kg = (!rng.chance(0.1 + 2.0 * m))
            .then(|| tenth(rng.normal(if female { 65.0 } else { 78.0 }, 13.0).clamp(35.0, 160.0)));
        let previous_fracture = yes_no(rng, m, 0.3);
        let parental_hip_fracture = yes_no(rng, 0.05 + 2.0 * m, 0.12);
        let smoker_value = rng.weighted(&[(Smoker::Current, 0.12), (Smoker::Ex, 0.33), (Smoker::Never, 0.55)]);
        let smoker = known(rng, m * 1.5, Some(Smoker::Unknown), smoker_value);
        let on_bone_therapy = yes_no(rng, m, 0.14);
        let falls_value =
            rng.weighted(&[(FallsHistory::None, 0.42), (FallsHistory::One, 0.3), (FallsHistory::TwoOrMore, 0.28)]);
        let falls_history = known(rng, m * 1.5, Some(FallsHistory::Unknown), falls_value);

        // DXA: the kpi5 event first, otherwise one of the ways a scan is late, pending or not done.
        let (dxa, dxa_day) = if rng.chance(p.dxa90) {
            (Some(if rng.chance(0.85) { Dxa::Ordered } else { Dxa::Recommended }), Some(5 + rng.below(86)))
        } else {
            match rng.weighted(&[(0, 0.2), (1, 0.12), (2, 0.05), (3, 0.25), (4, 0.08), (5, 0.09), (6, 2.0 * m)]) {
                0 => (Some(Dxa::Ordered), Some(91 + rng.below(240))),
                1 => (Some(if rng.chance(0.6) { Dxa::Ordered } else { Dxa::Recommended }), None),
                // A scan in the year before the fracture.
                2 => (Some(Dxa::Ordered), Some(-1 - rng.below(365))),
                3 => (Some(Dxa::NotRequired), None),
                4 => (Some(Dxa::Declined), None),
                5 => (Some(Dxa::NotPossible), None),
                _ => (rng.chance(0.3).then_some(Dxa::Unknown), None),
            }
        };
        let dxa_day = dxa_day.filter(|&d| seen(d) && alive(d));
        let t_score = dxa_day.filter(|_| rng.chance(0.93 - m)).map(|_| tenth(rng.normal(-2.2, 1.1).clamp(-5.5, 2.5)));
        let frax_major = rng.chance(0.55 - m).then(|| {
            let prior = if previous_fracture == Some(YesNo::Yes) { 5.0 } else { 0.0 };
            tenth((3.0 + (age - 50.0) * 0.45 + prior + rng.normal(0.0, 4.0)).clamp(1.0, 70.0))
        });

        // Treatment recommendation: a low T-score makes a drug likelier, a normal one less likely.
        let drug_chance = match t_score {
            Some(t) if t <= -2.5 => p.drug + 0.15,
            Some(t) if t > -1.0 => p.drug - 0.3,
            _ => p.drug,
        };
        let recommendation = if rng.chance(drug_chance) {
            Some(Recommendation::Drugs(recommend_drugs(rng)))
        } else {
            let other = rng.weighted(&[
                (RecommendationOther::NotIndicated, 0.3),
                (RecommendationOther::InformedDecline, 0.15),
                (RecommendationOther::ReferredSpecialist, 0.12),
                (RecommendationOther::ReferredGp, 0.3),
            ]);
            known(rng, m, Some(Recommendation::Other(RecommendationOther::Unknown)), Recommendation::Other(other))
        };
        let recommended = match recommendation {
            Some(Recommendation::Drugs(drugs)) => drugs.iter().next(),
            _ => None,
        };
        let calcium_vitd_recommended = yes_no(rng, m, 0.72);
        let falls_assessment = if rng.chance(p.falls) {
            Some(rng.weighted(&[
                (FallsAssessment::Done, 0.55),
                (FallsAssessment::Referred, 0.33),
                (FallsAssessment::Recommended, 0.12),
            ]))
        } else {
            let value = rng.weighted(&[
                (FallsAssessment::NotIndicated, 0.3),
                (FallsAssessment::Declined, 0.12),
                (FallsAssessment::NotDone, 0.5),
            ]);
            known(rng, m, Some(FallsAssessment::Unknown), value)
        };
        // Without a drug recommended, some patients are on one anyway: they were already, or the
        // GP or specialist they were referred to started one.
        let start_otherwise = match recommendation {
            _ if on_bone_therapy == Some(YesNo::Yes) => 0.7,
            Some(Recommendation::Other(RecommendationOther::ReferredGp)) => 0.45,
            Some(Recommendation::Other(RecommendationOther::ReferredSpecialist)) => 0.35,
            _ => 0.05,
        };

        // Follow-up at 16 weeks: recorded once it has happened and been entered (a lag after the
        // contact), and only for patients alive on the day.
        let day16 = window_day(rng, p.in_window, (84, 112), (42, 83), (113, 168));
        let entered16 = seen(day16 + lag(rng, p.lag16)) && alive(day16);
        let mut f16 = FollowUp::default();
        if entered16 {
            if rng.chance(p.followup16) {
                let started = match recommended {
                    Some(drug) => rng.chance(p.started16).then_some(drug),
                    None => rng.chance(start_otherwise).then(|| rng.weighted(CONTINUED)),
                };
                f16 = FollowUp {
                    answer: Some(YesNo::Yes),
                    day: Some(day16),
                    by: follow_up_by(rng, m, 0.7),
                    therapy: therapy(rng, m, started),
                };
            } else {
                f16.answer = known(rng, m * 1.5, Some(YesNo::Unknown), YesNo::No);
            }
        }
        let yes16 = f16.answer == Some(YesNo::Yes);
        let strength_balance_16w = yes16.then(|| {
            if rng.chance(p.strength_balance) {
                Some(YesNo::Yes)
            } else {
                known(rng, m, Some(YesNo::Unknown), YesNo::No)
            }
        });
        let calcium_vitd_16w = if yes16 { yes_no(rng, m, 0.65) } else { None };

        // Follow-up at 52 weeks, strictly after the 16-week one.
        let day52 = window_day(rng, p.in_window, (336, 392), (300, 335), (393, 452)).max(f16.day.unwrap_or(0) + 1);
        let entered52 = seen(day52 + lag(rng, p.lag52)) && alive(day52);
        let mut f52 = FollowUp::default();
        let (mut refractures, mut refracture_sites) = (None, SiteSet::default());
        if entered52 {
            if rng.chance(p.followup52) {
                let on16 = f16.therapy.and_then(|t| match t {
                    Therapy::Drug(d) => Some(d),
                    Therapy::Other(_) => None,
                });
                // Most who were taking a drug at 16 weeks still are (some switched); without a
                // 16-week answer, as likely as starting then and persisting; some start late.
                let taking = match (on16, recommended) {
                    (Some(drug), _) => {
                        rng.chance(p.persist52).then(|| if rng.chance(0.08) { rng.weighted(CONTINUED) } else { drug })
                    }
                    (None, Some(drug)) if !yes16 => rng.chance(p.started16 * p.persist52).then_some(drug),
                    (None, None) if !yes16 => {
                        rng.chance(start_otherwise * p.persist52).then(|| rng.weighted(CONTINUED))
                    }
                    _ => rng.chance(0.15).then(|| rng.weighted(CONTINUED)),
                };
                f52 = FollowUp {
                    answer: Some(YesNo::Yes),
                    day: Some(day52),
                    by: follow_up_by(rng, m, 0.55),
                    therapy: therapy(rng, m, taking),
                };
                let count = rng.weighted(&[(0u8, 0.86), (1, 0.1), (2, 0.03), (3, 0.01)]);
                refractures = (!rng.chance(0.05 + m)).then_some(count);
                if count > 0 && refractures.is_some() && rng.chance(0.65) {
                    for _ in 0..count.min(1 + u8::from(rng.chance(0.3))) {
                        refracture_sites.push(rng.pick(FractureSite::ALL));
                    }
                }
            } else {
                f52.answer = known(rng, m * 1.5, Some(YesNo::Unknown), YesNo::No);
            }
        }

        let on = |day: Option<i32>| day.map(|d| julian(fracture + d));
        Record {
            service_code: code.clone(),
            local_id: self.local_id(p.id_style, code, index, julian(fracture).year()),
            nhs_number,
            date_of_birth: julian(birth),
            sex,
            postcode,
            care_home,
            fls_contact_date: on(contact),
            fls_assessment_date: on(assessment),
            admitted,
            fracture_date: julian(fracture),
            fracture_identification: identification,
            fracture_site: site,
            other_fracture_sites,
            height_cm,
            weight_kg,
            previous_fracture,
            parental_hip_fracture,
            smoker,
            on_bone_therapy,
            falls_history,
            dxa,
            dxa_date: on(dxa_day),
            t_score,
            frax_major,
            bone_therapy_recommended: recommendation,
            calcium_vitd_recommended,
            falls_assessment,
            followup16: f16.answer,
            followup16_date: on(f16.day),
            followup16_by: f16.by,
            therapy_16w: f16.therapy,
            strength_balance_16w: strength_balance_16w.flatten(),
            calcium_vitd_16w,
            followup52: f52.answer,
            followup52_date: on(f52.day),
            followup52_by: f52.by,
            therapy_52w: f52.therapy,
            refractures,
            refracture_sites,
            death_date: on(death),
        }
    }

    /// A service's own record reference, unique within the service because it encodes the record
    /// index; never 10 digits, so never equal to an NHS number. Built on the stack: the only
    /// allocation is the one `LocalId` makes.
    fn local_id(&self, style: IdStyle, code: &ServiceCode, index: u64, year: i32) -> LocalId {
        let mut id = Text::default();
        let serial = index + 1;
        match style {
            // A registry from elsewhere may have long codes; keep the id short.
            IdStyle::Serial => {
                id.push_str(if code.as_str().len() <= 12 { code.as_str() } else { "FLS" });
                id.push_str("-");
                id.push_number(serial, 6);
            }
            IdStyle::HospitalNumber(letter) => {
                id.push_byte(letter);
                if index < HOSPITAL_NUMBERS {
                    id.push_number(permute(index, HOSPITAL_NUMBERS, self.local_id_key), 8);
                } else {
                    id.push_number(index, 9);
                }
            }
            IdStyle::YearSerial => {
                id.push_number(year.unsigned_abs().into(), 4);
                id.push_str("/");
                id.push_number(serial, 6);
            }
        }
        LocalId::parse(id.as_str()).expect("local ids are short printable ASCII")
    }
}

/// The answers of one follow-up.
#[derive(Default)]
struct FollowUp {
    answer: Option<YesNo>,
    day: Option<i32>,
    by: Option<FollowupBy>,
    therapy: Option<Therapy>,
}

/// Drugs that patients already on treatment take, or switch to.
const CONTINUED: &[(Drug, f64)] = &[
    (Drug::Alendronate, 0.6),
    (Drug::Risedronate, 0.1),
    (Drug::Zoledronate, 0.12),
    (Drug::Denosumab, 0.15),
    (Drug::Ibandronate, 0.03),
];

/// What an FLS recommends: mostly one oral bisphosphonate, sometimes an anabolic followed by an
/// antiresorptive (sequential therapy, `teriparatide;denosumab`).
fn recommend_drugs(rng: &mut Rng) -> DrugSet {
    const SEQUENTIAL: [(Drug, Drug); 5] = [
        (Drug::Teriparatide, Drug::Denosumab),
        (Drug::Teriparatide, Drug::Zoledronate),
        (Drug::Teriparatide, Drug::Alendronate),
        (Drug::Romosozumab, Drug::Alendronate),
        (Drug::Abaloparatide, Drug::Alendronate),
    ];
    if rng.chance(0.035) {
        let (first, then) = rng.pick(&SEQUENTIAL);
        DrugSet::from_values([first, then]).expect("two different drugs")
    } else {
        let drug = rng.weighted(&[
            (Drug::Alendronate, 0.5),
            (Drug::Zoledronate, 0.14),
            (Drug::Denosumab, 0.12),
            (Drug::Risedronate, 0.08),
            (Drug::Teriparatide, 0.04),
            (Drug::Romosozumab, 0.03),
            (Drug::Ibandronate, 0.02),
            (Drug::Raloxifene, 0.02),
            (Drug::Abaloparatide, 0.01),
            (Drug::Hrt, 0.01),
        ]);
        DrugSet::from_values([drug]).expect("one drug")
    }
}

/// Medication at a follow-up: the drug being taken, or why none is.
fn therapy(rng: &mut Rng, missing: f64, taking: Option<Drug>) -> Option<Therapy> {
    if let Some(drug) = taking {
        return Some(Therapy::Drug(drug));
    }
    let why = rng.weighted(&[
        (TherapyOther::NotStarted, 0.55),
        (TherapyOther::InformedDecline, 0.25),
        (TherapyOther::NoLongerAppropriate, 0.08),
        (TherapyOther::ReferredSpecialist, 0.12),
    ]);
    known(rng, missing, Some(Therapy::Other(TherapyOther::Unknown)), Therapy::Other(why))
}

fn follow_up_by(rng: &mut Rng, missing: f64, fls: f64) -> Option<FollowupBy> {
    let by = rng.weighted(&[(FollowupBy::Fls, fls), (FollowupBy::Gp, 0.9 - fls), (FollowupBy::Other, 0.1)]);
    known(rng, missing, None, by)
}

/// The day of a follow-up: inside its window with probability `in_window`, else early or late.
fn window_day(rng: &mut Rng, in_window: f64, window: (i32, i32), early: (i32, i32), late: (i32, i32)) -> i32 {
    let (low, high) = if rng.chance(in_window) {
        window
    } else if rng.chance(0.5) {
        early
    } else {
        late
    };
    low + rng.below((high - low + 1) as u32)
}

/// Days until a follow-up is entered: between 0 and twice `mean`, mostly near it.
fn lag(rng: &mut Rng, mean: f64) -> i32 {
    (mean * (rng.f64() + rng.f64() + rng.f64()) * (2.0 / 3.0)) as i32
}

/// An optional answer: missing at rate `missing`, `unknown` (where the field has it) at 40% of
/// that rate, else `value`.
fn known<T>(rng: &mut Rng, missing: f64, unknown: Option<T>, value: T) -> Option<T> {
    let u = rng.f64();
    if u < missing {
        None
    } else if u < missing * 1.4 {
        unknown.or(Some(value))
    } else {
        Some(value)
    }
}

fn yes_no(rng: &mut Rng, missing: f64, yes: f64) -> Option<YesNo> {
    let value = if rng.chance(yes) { YesNo::Yes } else { YesNo::No };
    known(rng, missing, Some(YesNo::Unknown), value)
}

/// A uniform value squared: skewed towards 0 (short delays are commoner than long ones).
fn squared(rng: &mut Rng) -> f64 {
    let u = rng.f64();
    u * u
}

/// Rounds to one decimal as `k / 10`, the double nearest the decimal text, so that the value
/// survives being written out and read back exactly.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn julian(day: i32) -> Date {
    Date::from_julian_day(day).expect("synthetic dates lie between 1900 and the as-of date")
}

/// A short ASCII text built on the stack (an identifier or a postcode).
struct Text {
    bytes: [u8; 40],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Text { bytes: [0; 40], len: 0 }
    }
}

impl Text {
    /// Appends one ASCII byte (the caller passes letters or digits only).
    fn push_byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn push_str(&mut self, text: &str) {
        for &b in text.as_bytes() {
            self.push_byte(b);
        }
    }

    /// Appends `value` in decimal, zero-padded to `width` digits.
    fn push_number(&mut self, value: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        let mut rest = value;
        loop {
            i -= 1;
            digits[i] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for &d in &digits[i.min(digits.len() - width.min(digits.len()))..] {
            self.push_byte(d);
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("only ASCII is pushed")
    }
}

/// Invented postcodes in the areas of the service's region: one to three areas, districts 1–30.
fn postcode_pool(seed: u64, service: &Service) -> Vec<Postcode> {
    let mut rng = Rng::new(hash(&[seed, purpose::POSTCODES, hash_text(service.code.as_str())]));
    let areas = postcode_areas(service.nation.as_deref(), service.region.as_deref());
    let mine: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(&areas)).collect();
    (0..POSTCODE_POOL)
        .map(|_| {
            let mut text = Text::default();
            text.push_str(rng.pick(&mine));
            text.push_number((1 + rng.below(30)) as u64, 1);
            text.push_str(" ");
            text.push_number(rng.below(10) as u64, 1);
            text.push_byte(rng.pick(UNIT_LETTERS));
            text.push_byte(rng.pick(UNIT_LETTERS));
            Postcode::parse(text.as_str()).expect("built in the shape of a UK postcode")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_padded() {
        let mut s = Text::default();
        s.push_number(42, 6);
        s.push_number(1234567, 3);
        s.push_number(0, 1);
        s.push_number(u64::MAX, 1);
        assert_eq!(s.as_str(), "0000421234567018446744073709551615");
    }

    #[test]
    fn tenths_round_trip_through_text() {
        for k in -70..=50 {
            let x = tenth(f64::from(k) / 10.0 + 0.01);
            assert_eq!(x.to_string().parse::<f64>(), Ok(x));
            assert!(x.to_string().split('.').nth(1).is_none_or(|d| d.len() <= 1), "{x}");
        }
    }
}
