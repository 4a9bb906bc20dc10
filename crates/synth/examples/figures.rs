//! Prints the national figures of a synthetic data set and how fast it is made:
//! `cargo run --release -p flsdb-synth --example figures -- [records] [seed] [time]` (`time`: only
//! time the generation).

use flsdb_dataset::codes::{Dxa, FractureSite, YesNo};
use flsdb_dataset::{Cells, Record, Service, parse_record};
use flsdb_synth::{SynthConfig, opt_outs, records, services};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let config = SynthConfig { records: n, seed, ..Default::default() };
    let registry = services(&config)?;

    let start = Instant::now();
    let count = records(&config, &registry)?.count();
    let elapsed = start.elapsed().as_secs_f64();
    println!("{count} records in {elapsed:.3} s: {:.0} records/s", count as f64 / elapsed);
    if args.next().as_deref() == Some("time") {
        return Ok(());
    }

    let mut national = Tally::default();
    let mut by_service: BTreeMap<String, Tally> = BTreeMap::new();
    let mut rejected = 0;
    let mut warned = 0;
    let rules = config.validation();
    for record in records(&config, &registry)? {
        let strings = record.cells();
        let cells: Cells = std::array::from_fn(|i| strings[i].as_str());
        match parse_record(&cells, rules) {
            Ok(valid) if valid.record == record => warned += usize::from(!valid.warnings.is_empty()),
            _ => rejected += 1,
        }
        national.add(&record, &config);
        by_service.entry(record.service_code.to_string()).or_default().add(&record, &config);
    }
    println!("rejected or changed by parse_record: {rejected}; with warnings: {warned}");
    national.print("national");
    let opt = opt_outs(&config, &registry)?;
    println!("opt-outs: {} ({:.2}% of records)", opt.len(), 100.0 * opt.len() as f64 / n as f64);

    let big: Vec<&Tally> = by_service.values().filter(|t| t.records >= 100).collect();
    for (name, f) in [
        ("kpi4", (|t: &Tally| t.pct(t.assess90, t.records)) as fn(&Tally) -> f64),
        ("kpi5", |t| t.pct(t.dxa90, t.records)),
        ("kpi9", |t| t.pct(t.fu16, t.due16)),
        ("kpi11", |t| t.pct(t.adherent52, t.due52)),
        ("spine", |t| t.pct(t.spine, t.records)),
    ] {
        let mut v: Vec<f64> = big.iter().map(|t| f(t)).collect();
        v.sort_by(f64::total_cmp);
        println!("{name} by service: min {:.1} median {:.1} max {:.1}", v[0], v[v.len() / 2], v[v.len() - 1]);
    }
    identification(&config, &registry, &by_service);
    Ok(())
}

fn identification(config: &SynthConfig, registry: &[Service], by_service: &BTreeMap<String, Tally>) {
    let year = config.as_of.year() - 1;
    let mut rates = Vec::new();
    let mut unknown = 0;
    for s in registry {
        let caseload = s.expected_caseload.or(s.nhfd_hip_fractures.map(|h| 5.0 * h));
        let records = by_service.get(s.code.as_str()).map_or(0, |t| t.per_year.get(&year).copied().unwrap_or(0));
        match caseload {
            Some(c) => rates.push(100.0 * records as f64 / c),
            None => unknown += 1,
        }
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "identification {year}: min {:.0}% median {:.0}% max {:.0}%; {unknown} services with unknown caseload",
        rates[0],
        rates[rates.len() / 2],
        rates[rates.len() - 1]
    );
}

#[derive(Default)]
struct Tally {
    records: usize,
    female: usize,
    hip: usize,
    spine: usize,
    age_sum: f64,
    no_nhs: usize,
    assess90: usize,
    dxa90: usize,
    falls: usize,
    drug: usize,
    due16: usize,
    fu16: usize,
    started16: usize,
    due16_nonhip: usize,
    strength16: usize,
    due52: usize,
    adherent52: usize,
    due52_recent: usize,
    missing52_recent: usize,
    died_1y: usize,
    per_year: BTreeMap<i32, usize>,
}

impl Tally {
    fn add(&mut self, r: &Record, config: &SynthConfig) {
        let days = |d: Option<time::Date>| d.map(|d| (d - r.fracture_date).whole_days());
        let within = |d, lo, hi| days(d).is_some_and(|x| (lo..=hi).contains(&x));
        let age_days = (config.as_of - r.fracture_date).whole_days();
        let alive = |n: i64| r.death_date.is_none_or(|d| (d - r.fracture_date).whole_days() > n);
        self.records += 1;
        *self.per_year.entry(r.fracture_date.year()).or_default() += 1;
        self.female += usize::from(r.sex == Some(flsdb_dataset::codes::Sex::Female));
        self.hip += usize::from(r.fracture_site == FractureSite::Hip);
        self.spine += usize::from(r.fracture_site == FractureSite::Spine);
        self.age_sum += f64::from(flsdb_dataset::values::age_in_years(r.date_of_birth, r.fracture_date));
        self.no_nhs += usize::from(r.nhs_number.is_none());
        self.assess90 += usize::from(within(r.fls_assessment_date, 0, 90));
        self.dxa90 += usize::from(r.dxa.is_some_and(Dxa::is_requested) && within(r.dxa_date, 0, 90));
        self.falls += usize::from(r.falls_assessment.is_some_and(|f| f.is_assessed()));
        self.drug += usize::from(r.bone_therapy_recommended.is_some_and(|b| b.has_drug()));
        self.died_1y += usize::from(days(r.death_date).is_some_and(|d| d <= 365));
        if age_days >= 112 && alive(112) {
            self.due16 += 1;
            let yes = r.followup16 == Some(YesNo::Yes) && within(r.followup16_date, 0, 112);
            self.fu16 += usize::from(yes);
            self.started16 += usize::from(yes && r.therapy_16w.is_some_and(|t| t.is_drug()));
            if r.fracture_site != FractureSite::Hip {
                self.due16_nonhip += 1;
                self.strength16 += usize::from(yes && r.strength_balance_16w == Some(YesNo::Yes));
            }
        }
        if age_days >= 392 && alive(392) {
            self.due52 += 1;
            self.adherent52 += usize::from(
                r.followup52 == Some(YesNo::Yes)
                    && within(r.followup52_date, 336, 392)
                    && r.therapy_52w.is_some_and(|t| t.is_drug()),
            );
            if age_days < 392 + 90 {
                self.due52_recent += 1;
                self.missing52_recent += usize::from(r.followup52.is_none());
            }
        }
    }

    fn pct(&self, a: usize, b: usize) -> f64 {
        100.0 * a as f64 / b.max(1) as f64
    }

    fn print(&self, label: &str) {
        let n = self.records;
        println!("{label}: {n} records, mean age {:.1}", self.age_sum / n as f64);
        println!(
            "  female {:.1}%, hip {:.1}%, spine (kpi3) {:.1}%, no NHS number {:.1}%, died within a year {:.1}%",
            self.pct(self.female, n),
            self.pct(self.hip, n),
            self.pct(self.spine, n),
            self.pct(self.no_nhs, n),
            self.pct(self.died_1y, n)
        );
        println!(
            "  kpi4 assessment ≤90d {:.1}%, kpi5 DXA ≤90d {:.1}%, kpi6 falls {:.1}%, kpi7 drug {:.1}%",
            self.pct(self.assess90, n),
            self.pct(self.dxa90, n),
            self.pct(self.falls, n),
            self.pct(self.drug, n)
        );
        println!(
            "  kpi8 strength/balance {:.1}%, kpi9 monitoring {:.1}%, kpi10 started {:.1}%, kpi11 adherence {:.1}%",
            self.pct(self.strength16, self.due16_nonhip),
            self.pct(self.fu16, self.due16),
            self.pct(self.started16, self.due16),
            self.pct(self.adherent52, self.due52)
        );
        println!(
            "  due at 52 weeks in the last 90 days: {} records, {:.1}% without followup52 yet",
            self.due52_recent,
            self.pct(self.missing52_recent, self.due52_recent)
        );
    }
}
