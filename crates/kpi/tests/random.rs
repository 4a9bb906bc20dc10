//! Randomised checks on valid random records: chunking and merging never change the report, and
//! the engine agrees with a naive, line-by-line reading of `kpis.md`.

mod common;

use common::*;
use flsdb_dataset::codes::{Dxa, FallsAssessment, FractureSite, YesNo};
use flsdb_dataset::{Recommendation, Record};
use flsdb_kpi::{DenominatorMode, Engine, Period};
use std::collections::BTreeMap;
use time::macros::date;
use time::{Date, Duration};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn day(d: Date, offset: i64) -> String {
    plus(d, offset)
}

fn random_record(rng: &mut Rng) -> Option<Record> {
    let f = date!(2018 - 10 - 01) + Duration::days(rng.below(600) as i64);
    let mut cells: Vec<(&str, String)> = vec![
        ("service_code", rng.pick(&["AAA", "BBB", "CCC", "DDD", "DDD", "ZZZ", "aaa"]).to_owned()),
        ("fracture_date", day(f, 0)),
        ("fracture_site", rng.pick(&["hip", "spine", "wrist", "humerus", "pelvis", "other"]).to_owned()),
        ("sex", rng.pick(&["", "male", "female", "other", "unknown"]).to_owned()),
        ("admitted", rng.pick(&["", "inpatient", "outpatient", "unknown"]).to_owned()),
        ("fracture_identification", rng.pick(&["", "clinical", "radiological", "unknown"]).to_owned()),
        ("falls_history", rng.pick(&["", "none", "one", "two_or_more", "unknown"]).to_owned()),
    ];
    if rng.chance(75) {
        cells.push(("nhs_number", nhs(rng.below(40) as u32)));
    }
    for field in ["care_home", "previous_fracture", "on_bone_therapy", "calcium_vitd_recommended"] {
        cells.push((field, rng.pick(&["", "yes", "no", "unknown"]).to_owned()));
    }
    if rng.chance(70) {
        cells.push(("fls_assessment_date", day(f, rng.below(120) as i64)));
    }
    let dxa = rng.pick(&["", "ordered", "recommended", "not_required", "declined", "not_possible", "unknown"]);
    cells.push(("dxa", dxa.to_owned()));
    if matches!(dxa, "ordered" | "recommended") && rng.chance(70) {
        cells.push(("dxa_date", day(f, rng.below(130) as i64 - 20)));
    }
    cells.push((
        "bone_therapy_recommended",
        rng.pick(&[
            "",
            "alendronate",
            "teriparatide;denosumab",
            "not_indicated",
            "informed_decline",
            "referred_gp",
            "unknown",
        ])
        .to_owned(),
    ));
    cells.push((
        "falls_assessment",
        rng.pick(&["", "done", "referred", "recommended", "not_indicated", "declined", "not_done", "unknown"])
            .to_owned(),
    ));
    let f16 = rng.pick(&["", "yes", "no", "unknown", "yes", "yes"]);
    cells.push(("followup16", f16.to_owned()));
    if f16 == "yes" {
        cells.push(("followup16_date", day(f, 70 + rng.below(60) as i64)));
        cells.push((
            "therapy_16w",
            rng.pick(&["", "alendronate", "not_started", "unknown", "informed_decline"]).to_owned(),
        ));
        cells.push(("strength_balance_16w", rng.pick(&["", "yes", "no", "unknown"]).to_owned()));
    }
    let f52 = rng.pick(&["", "yes", "no", "unknown", "yes"]);
    cells.push(("followup52", f52.to_owned()));
    if f52 == "yes" {
        cells.push(("followup52_date", day(f, 320 + rng.below(90) as i64)));
        cells.push(("therapy_52w", rng.pick(&["", "denosumab", "not_started", "unknown"]).to_owned()));
    }
    if rng.chance(20) {
        cells.push(("death_date", day(f, rng.below(500) as i64)));
    }
    let cells: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (*k, v.as_str())).collect();
    try_rec(&cells).ok()
}

fn random_records(seed: u64, n: usize) -> Vec<Record> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if let Some(r) = random_record(&mut rng) {
            out.push(r);
        }
    }
    out
}

fn run_for(seed: u64, iof: bool, mode: DenominatorMode) -> Run {
    let base = if iof { Run::iof() } else { Run::default() };
    let mut run = Run {
        services: vec![
            service("AAA", "England", "North", "C1", "60"),
            service("BBB", "Scotland", "North", "C1", ""),
            service("CCC", "Wales", "South", "", "80"),
            service("DDD", "England", "", "C2", "40"),
            service("EEE", "England", "South", "C2", "10"),
        ],
        period: Period::new(date!(2019 - 01 - 01), date!(2019 - 12 - 31)).expect("period"),
        as_of: [date!(2020 - 06 - 30), date!(2021 - 03 - 31), date!(2019 - 10 - 15)][(seed % 3) as usize],
        mode,
        ..base
    };
    for i in 0..8 {
        run.opt_outs.insert(nhs_number(&nhs(i * 5)));
    }
    run
}

#[test]
fn chunking_and_merging_never_change_the_report() {
    for seed in 1..=12u64 {
        let records = random_records(seed, 600);
        for (iof, mode) in [(false, DenominatorMode::All), (true, DenominatorMode::Recommended)] {
            let run = run_for(seed, iof, mode);
            let engine = Engine::new(run.setup()).expect("engine");
            let report = engine.compute(&records);
            // The data exercise every path: opt-outs, unregistered services, exclusions.
            assert!(report.excluded_opt_out > 0 && !report.unregistered.is_empty(), "seed {seed}");
            let whole = report.to_json();

            let mut rng = Rng(seed + 99);
            // Random chunks (some empty), merged in a shuffled order.
            let mut chunks: Vec<Vec<&Record>> = vec![Vec::new(); 1 + rng.below(6) as usize];
            for r in &records {
                let k = rng.below(chunks.len() as u64) as usize;
                chunks[k].push(r);
            }
            let mut partials: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let mut p = engine.partial();
                    for r in chunk {
                        p.add(r);
                    }
                    p
                })
                .collect();
            let mut merged = engine.partial();
            while !partials.is_empty() {
                let i = rng.below(partials.len() as u64) as usize;
                merged.merge(partials.swap_remove(i));
            }
            assert_eq!(merged.finish().to_json(), whole, "seed {seed}");

            // Two threads, records in reverse order.
            let (left, right) = records.split_at(records.len() / 3);
            let merged = std::thread::scope(|s| {
                let a = s.spawn(|| {
                    let mut p = engine.partial();
                    right.iter().rev().for_each(|r| p.add(r));
                    p
                });
                let mut p = engine.partial();
                left.iter().for_each(|r| p.add(r));
                p.merge(a.join().expect("thread"));
                p
            });
            assert_eq!(merged.finish().to_json(), whole, "seed {seed}, threads");
        }
    }
}

type Counts = (u64, u64, u64, u64);

/// The fls-db proportions per service, straight from the text of `kpis.md`.
fn reference(run: &Run, records: &[Record]) -> BTreeMap<(String, &'static str), Counts> {
    let mut out: BTreeMap<(String, &'static str), Counts> = BTreeMap::new();
    for s in &run.services {
        for k in ["kpi3", "kpi4", "kpi5", "kpi6", "kpi7", "kpi8", "kpi9", "kpi10", "kpi11"] {
            out.insert((s.code.to_string(), k), (0, 0, 0, 0));
        }
    }
    for r in records {
        let code = r.service_code.to_string();
        if !run.period.contains(r.fracture_date)
            || !run.services.iter().any(|s| s.code == r.service_code)
            || r.nhs_number.is_some_and(|n| run.opt_outs.contains(&n))
        {
            continue;
        }
        let f = r.fracture_date;
        let within = |d: Option<Date>, lo: i64, hi: i64| d.is_some_and(|d| (lo..=hi).contains(&(d - f).whole_days()));
        let due = |days: i64| f + Duration::days(days) <= run.as_of;
        let alive = |days: i64| r.death_date.is_none_or(|d| d > f + Duration::days(days));
        let drug_recommended = r.bone_therapy_recommended.is_some_and(Recommendation::has_drug);
        let monitored = r.followup16 == Some(YesNo::Yes) && within(r.followup16_date, 0, 112);
        let recommended_ok = run.mode == DenominatorMode::All || drug_recommended;
        let mut count = |kpi: &'static str, filter: bool, follow: Option<i64>, numerator: bool| {
            let e = out.entry((code.clone(), kpi)).or_default();
            if !filter {
                return;
            }
            if let Some(days) = follow {
                if !due(days) {
                    e.2 += 1;
                    return;
                }
                if !alive(days) {
                    e.3 += 1;
                    return;
                }
            }
            e.1 += 1;
            e.0 += u64::from(numerator);
        };
        count("kpi3", true, None, r.fracture_site == FractureSite::Spine);
        count("kpi4", true, None, within(r.fls_assessment_date, 0, 90));
        count("kpi5", true, None, matches!(r.dxa, Some(Dxa::Ordered | Dxa::Recommended)) && within(r.dxa_date, 0, 90));
        count("kpi6", true, None, r.falls_assessment.is_some_and(FallsAssessment::is_assessed));
        count("kpi7", true, None, drug_recommended);
        count(
            "kpi8",
            r.fracture_site != FractureSite::Hip,
            Some(112),
            monitored && r.strength_balance_16w == Some(YesNo::Yes),
        );
        count("kpi9", recommended_ok, Some(112), monitored);
        count("kpi10", recommended_ok, Some(112), monitored && r.therapy_16w.is_some_and(|t| t.is_drug()));
        count(
            "kpi11",
            recommended_ok,
            Some(392),
            r.followup52 == Some(YesNo::Yes)
                && within(r.followup52_date, 336, 392)
                && r.therapy_52w.is_some_and(|t| t.is_drug()),
        );
    }
    out
}

#[test]
fn engine_agrees_with_a_naive_reading_of_the_spec() {
    let (mut died, mut numerators) = (0, 0);
    for seed in 1..=9u64 {
        let records = random_records(seed, 800);
        for mode in [DenominatorMode::All, DenominatorMode::Recommended] {
            let run = run_for(seed, false, mode);
            let j = run.json(&records);
            let expected = reference(&run, &records);
            let mut overall: BTreeMap<&str, Counts> = BTreeMap::new();
            for ((code, kpi), want) in &expected {
                let s = j["services"]
                    .as_array()
                    .expect("services")
                    .iter()
                    .find(|s| s["code"] == code.as_str())
                    .expect("service");
                assert_eq!(counts(s, kpi), *want, "seed {seed} {mode} {code} {kpi}");
                let o = overall.entry(kpi).or_default();
                *o = (o.0 + want.0, o.1 + want.1, o.2 + want.2, o.3 + want.3);
            }
            died += overall["kpi9"].3;
            numerators += overall["kpi11"].0;
            for (kpi, want) in overall {
                assert_eq!(counts(&j["overall"], kpi), want, "seed {seed} {mode} overall {kpi}");
                let e = &j["overall"]["kpis"][kpi];
                let (k, n) = (want.0 as f64, want.1 as f64);
                if want.1 > 0 {
                    assert_eq!(e["percent"].as_f64(), Some(k / n * 100.0));
                } else {
                    assert!(e["percent"].is_null());
                }
            }
        }
    }
    assert!(died > 0 && numerators > 0, "the data exercise deaths and kpi11");
}
