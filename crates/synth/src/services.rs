//! The synthetic organisation registry: invented services in real groupings, with caseloads sized
//! to the number of records asked for.

use crate::names::*;
use crate::profile::Profile;
use crate::rng::{Rng, hash, purpose};
use crate::{SynthConfig, SynthError};
use flsdb_dataset::codes::Setting;
use flsdb_dataset::{Service, ServiceCode};
use std::collections::HashSet;

/// Registers `config.services` invented services, sorted by code.
///
/// Caseloads are sized so that the records [`records`](crate::records) generates for them give
/// each service its own identification rate (about 20% to 120%). About 62% of services give
/// `expected_caseload`, 12% also `nhfd_hip_fractures`, 20% only `nhfd_hip_fractures` (the caseload
/// is then estimated as five times it) and 4% neither (unknown caseload).
pub fn services(config: &SynthConfig) -> Result<Vec<Service>, SynthError> {
    let period = config.period()?;
    let mut rng = Rng::new(hash(&[config.seed, purpose::SERVICES]));
    let mut places = Places::new(&mut rng);
    let mut codes = HashSet::new();
    let mut services = Vec::with_capacity(config.services);
    for (nation, region, count) in nation_plan(config.services) {
        let commissioners = commissioners(nation, count, &mut places);
        let mut trusts: Vec<(usize, String)> = Vec::new();
        for i in 0..count {
            // Every commissioner gets a service first; the rest are spread at random.
            let c = if i < commissioners.len() { i } else { rng.below(commissioners.len() as u32) as usize };
            let commissioner = &commissioners[c];
            let setting = rng.weighted(&[
                (Setting::Hospital, 0.8),
                (Setting::Network, 0.08),
                (Setting::PrimaryCare, 0.06),
                (Setting::Community, 0.06),
            ]);
            let place = places.next(nation == "wales");
            let name = service_name(&mut rng, setting, nation, &place, &mut places);
            let code = unique_code(&place, &mut codes);
            let parent_org = match (nation, setting) {
                ("england", Setting::Hospital) => {
                    // One hospital in five belongs to a trust that already runs another here.
                    let shared = trusts.iter().find(|(tc, _)| *tc == c).filter(|_| rng.chance(0.2));
                    match shared {
                        Some((_, trust)) => trust.clone(),
                        None => {
                            let kind = if rng.chance(0.6) { "NHS Foundation Trust" } else { "NHS Trust" };
                            let trust = format!("{place} Hospitals {kind}");
                            trusts.push((c, trust.clone()));
                            trust
                        }
                    }
                }
                ("england", Setting::Community) => format!("{place} Community Health NHS Trust"),
                _ => commissioner.clone(),
            };
            services.push(Service {
                code: ServiceCode::parse(&code).expect("codes are non-empty upper-case ASCII"),
                name,
                nation: Some(nation.to_owned()),
                region: region.map(str::to_owned),
                commissioner: Some(commissioner.clone()),
                parent_org: Some(parent_org),
                setting: Some(setting),
                expected_caseload: None,
                nhfd_hip_fractures: None,
            });
        }
    }
    set_caseloads(config, &mut services, &mut rng, period.start().to_julian_day(), period.end().to_julian_day());
    services.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(services)
}

/// How many services each nation and English region gets: two in Northern Ireland from 40
/// services up, about 7.5% in Wales, the rest over England's regions by population (largest
/// remainders, so the counts add up exactly).
fn nation_plan(total: usize) -> Vec<(&'static str, Option<&'static str>, usize)> {
    let ni = if total >= 40 { 2 } else { 0 };
    let wales = if total >= 8 { ((total as f64 * 0.075).round() as usize).max(1) } else { 0 };
    let england = total - ni - wales;
    let exact: Vec<f64> = ENGLISH_REGIONS.iter().map(|(_, share, _)| share * england as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| *x as usize).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let short = england - counts.iter().sum::<usize>();
    for &i in order.iter().cycle().take(short) {
        counts[i] += 1;
    }
    let mut plan: Vec<_> =
        ENGLISH_REGIONS.iter().zip(counts).map(|((region, _, _), n)| ("england", Some(*region), n)).collect();
    plan.push(("wales", None, wales));
    plan.push(("northern_ireland", None, ni));
    plan.retain(|(_, _, n)| *n > 0);
    plan
}

/// The commissioners of `count` services in a nation or region: invented ICBs in England (about
/// 2.6 services each), real health boards in Wales and trusts in Northern Ireland.
fn commissioners(nation: &str, count: usize, places: &mut Places) -> Vec<String> {
    match nation {
        "wales" => WELSH_HEALTH_BOARDS[..count.div_ceil(2).min(7)].iter().map(|s| s.to_string()).collect(),
        "northern_ireland" => NI_TRUSTS[..count.min(5)].iter().map(|s| s.to_string()).collect(),
        _ => (0..((count as f64 / 2.6).round() as usize).max(1))
            .map(|_| format!("NHS {} Integrated Care Board", places.next_county()))
            .collect(),
    }
}

fn service_name(rng: &mut Rng, setting: Setting, nation: &str, place: &str, places: &mut Places) -> String {
    match setting {
        Setting::Hospital if nation == "wales" && rng.chance(0.5) => format!("Ysbyty {place}"),
        Setting::Hospital => match rng.below(5) {
            0 => format!("{place} General Hospital"),
            1 => format!("Royal {place} Hospital"),
            2 => format!("{place} District Hospital"),
            3 => format!("{place} University Hospital"),
            _ => format!("{place} Royal Infirmary"),
        },
        Setting::Network => format!("{place} and {} Fracture Liaison Network", places.partner(rng, nation == "wales")),
        Setting::PrimaryCare => format!("{place} Primary Care Bone Health Service"),
        Setting::Community => format!("{place} Community Fracture Liaison Service"),
    }
}

/// A code of 3–5 upper-case letters or digits, unlike any given before: tried from the place's
/// letters first (`Rowanbridge` → `ROW`, `ROE`, `RWN`, …), as services are usually known.
fn unique_code(place: &str, taken: &mut HashSet<String>) -> String {
    let letters: Vec<char> = place.chars().filter(char::is_ascii_alphabetic).map(|c| c.to_ascii_uppercase()).collect();
    let first = letters.first().copied().unwrap_or('X');
    let mut candidates: Vec<String> = Vec::new();
    if letters.len() >= 3 {
        candidates.push(letters[..3].iter().collect());
        candidates.push([letters[0], letters[1], letters[letters.len() - 1]].iter().collect());
        for i in 1..letters.len() {
            for j in i + 1..letters.len() {
                candidates.push([first, letters[i], letters[j]].iter().collect());
            }
        }
        for d in 2..=9 {
            candidates.push(format!("{}{d}", letters[..3].iter().collect::<String>()));
        }
    }
    if let Some(code) = candidates.into_iter().find(|c| !taken.contains(c)) {
        taken.insert(code.clone());
        return code;
    }
    // Base-36 serials: 36⁴ codes, more than any registry will ask for.
    let code = (0u32..)
        .map(|n| {
            let digits: String =
                (0..4).rev().map(|k| char::from_digit(n / 36u32.pow(k) % 36, 36).unwrap_or('0')).collect();
            format!("{first}{}", digits.to_ascii_uppercase())
        })
        .find(|c| !taken.contains(c))
        .expect("an unbounded search finds a free code");
    taken.insert(code.clone());
    code
}

/// Sizes caseloads to the records each service will get (see [`Profile::caseload`]) and decides
/// which of `expected_caseload` and `nhfd_hip_fractures` each service gives. The counts of each
/// kind are fixed shares, dealt out in a shuffled order.
fn set_caseloads(config: &SynthConfig, services: &mut [Service], rng: &mut Rng, from: i32, to: i32) {
    let profiles: Vec<Profile> = services.iter().map(|s| Profile::new(config.seed, s, from, to)).collect();
    let total: f64 = profiles.iter().map(Profile::weight).sum();
    let n = services.len();
    let neither = if n >= 10 { ((n as f64 * 0.04).round() as usize).max(1) } else { 0 };
    let nhfd_only = (n as f64 * 0.2).round() as usize;
    let both = (n as f64 * 0.12).round() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u32 + 1) as usize);
    }
    for (rank, &i) in order.iter().enumerate() {
        let records = config.records as f64 * profiles[i].weight() / total;
        let caseload = profiles[i].caseload(records).round().max(1.0);
        // NHFD counts hip fractures only, so five times them is a rougher estimate.
        let hips = (caseload / 5.0 * rng.uniform(0.85, 1.15)).round().max(1.0);
        let service = &mut services[i];
        match rank {
            r if r < neither => {}
            r if r < neither + nhfd_only => service.nhfd_hip_fractures = Some(hips),
            r if r < neither + nhfd_only + both => {
                service.expected_caseload = Some(caseload);
                service.nhfd_hip_fractures = Some(hips);
            }
            _ => service.expected_caseload = Some(caseload),
        }
    }
}

/// Invented place names, handed out without repeats: English and Welsh lists shuffled once, then
/// prefixed with a compass point, then numbered, should a registry outgrow them.
struct Places {
    english: Vec<String>,
    welsh: Vec<String>,
    counties: Vec<String>,
    used: [usize; 3],
}

impl Places {
    fn new(rng: &mut Rng) -> Places {
        let combine = |stems: &[&str], endings: &[&str], rng: &mut Rng| {
            let mut names: Vec<String> =
                stems.iter().flat_map(|s| endings.iter().map(move |e| format!("{s}{e}"))).collect();
            for i in (1..names.len()).rev() {
                names.swap(i, rng.below(i as u32 + 1) as usize);
            }
            names
        };
        Places {
            english: combine(&ENGLISH_STEMS, &ENGLISH_ENDINGS, rng),
            welsh: combine(&WELSH_STEMS, &WELSH_ENDINGS, rng),
            counties: combine(&ENGLISH_STEMS, &COUNTY_ENDINGS, rng),
            used: [0; 3],
        }
    }

    fn take(list: &[String], used: &mut usize) -> String {
        let i = *used;
        *used += 1;
        let base = &list[i % list.len()];
        match i / list.len() {
            0 => base.clone(),
            round @ 1..=4 => format!("{} {base}", COMPASS[round - 1]),
            round => format!("{base} {round}"),
        }
    }

    fn next(&mut self, welsh: bool) -> String {
        if welsh { Self::take(&self.welsh, &mut self.used[1]) } else { Self::take(&self.english, &mut self.used[0]) }
    }

    fn next_county(&mut self) -> String {
        Self::take(&self.counties, &mut self.used[2])
    }

    /// A second place for a network's name; it need not be unique.
    fn partner(&self, rng: &mut Rng, welsh: bool) -> String {
        let list = if welsh { &self.welsh } else { &self.english };
        list[rng.below(list.len() as u32) as usize].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_adds_up() {
        for total in [0, 1, 5, 8, 39, 40, 80, 250] {
            let plan = nation_plan(total);
            assert_eq!(plan.iter().map(|(_, _, n)| n).sum::<usize>(), total, "{total}");
        }
        let plan = nation_plan(80);
        assert!(plan.contains(&("wales", None, 6)));
        assert!(plan.contains(&("northern_ireland", None, 2)));
    }

    #[test]
    fn codes_stay_unique() {
        let mut taken = HashSet::new();
        let codes: Vec<String> = (0..2000).map(|_| unique_code("Rowanbridge", &mut taken)).collect();
        assert_eq!(taken.len(), 2000);
        for code in &codes {
            assert!(
                (3..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );
        }
    }
}
