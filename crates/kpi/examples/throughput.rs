//! Measures the engine's throughput: `cargo run --release -p flsdb-kpi --example throughput`.
//! Builds 1M valid records (500 services, both sets), then times `add` single-threaded, a
//! two-thread split with `merge`, and `finish`.

use flsdb_dataset::{Caseloads, Field, Record, Service, Validation, parse_record};
use flsdb_kpi::{DenominatorMode, Engine, Period, Setup, set_by_name};
use std::collections::HashSet;
use std::time::Instant;
use time::macros::date;

fn main() {
    let rules = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };
    let services: Vec<Service> = (0..500)
        .map(|i| {
            let code = format!("S{i:03}");
            let nation = ["england", "wales", "scotland", "northern_ireland"][i % 4];
            let region = format!("Region {}", i % 17);
            let commissioner = format!("Commissioner {}", i % 61);
            Service::parse([&code, &code, nation, &region, &commissioner, "", "hospital", "300", ""])
                .expect("valid service")
        })
        .collect();
    let sites = ["hip", "spine", "wrist", "humerus", "pelvis", "other"];
    let mut templates = Vec::new();
    for i in 0..2000usize {
        let code = format!("S{:03}", i % 500);
        let fracture = date!(2019 - 01 - 01) + time::Duration::days((i * 37 % 365) as i64);
        let f = |d: i64| flsdb_dataset::values::format_date(fracture + time::Duration::days(d));
        let mut row: [String; Field::COUNT] = std::array::from_fn(|_| String::new());
        let mut set = |field: Field, v: String| row[field.index()] = v;
        set(Field::ServiceCode, code);
        set(Field::LocalId, format!("L{i}"));
        set(Field::DateOfBirth, "1945-03-04".into());
        set(Field::FractureDate, f(0));
        set(Field::FractureSite, sites[i % 6].into());
        set(Field::Sex, ["female", "male", "", "unknown"][i % 4].into());
        if i % 3 != 0 {
            set(Field::FlsAssessmentDate, f((i % 120) as i64));
        }
        set(Field::Dxa, ["ordered", "recommended", "not_required", ""][i % 4].into());
        if i % 4 < 2 {
            set(Field::DxaDate, f((i % 100) as i64));
        }
        set(
            Field::BoneTherapyRecommended,
            ["alendronate", "not_indicated", "", "teriparatide;denosumab"][i % 4].into(),
        );
        set(Field::FallsAssessment, ["done", "referred", "not_done", ""][i % 4].into());
        if i % 5 != 0 {
            set(Field::Followup16, "yes".into());
            set(Field::Followup16Date, f(84 + (i % 40) as i64));
            set(Field::Therapy16w, ["alendronate", "not_started"][i % 2].into());
            set(Field::StrengthBalance16w, ["yes", "no"][i % 2].into());
            set(Field::Followup52, "yes".into());
            set(Field::Followup52Date, f(330 + (i % 70) as i64));
            set(Field::Therapy52w, ["denosumab", "not_started", ""][i % 3].into());
        }
        let cells: [&str; Field::COUNT] = std::array::from_fn(|k| row[k].as_str());
        templates.push(parse_record(&cells, rules).expect("valid record").record);
    }
    let records: Vec<Record> = (0..1_000_000).map(|i| templates[i % templates.len()].clone()).collect();

    let start = Instant::now();
    let baseline: u64 =
        records.iter().map(|r| r.service_code.as_str().len() as u64 + r.fracture_date.to_julian_day() as u64).sum();
    println!(
        "baseline (read each record's service code and date): {:.0} ms ({baseline}); Record is {} bytes",
        start.elapsed().as_secs_f64() * 1e3,
        std::mem::size_of::<Record>()
    );
    let opt_outs = HashSet::new();
    let caseloads = Caseloads::default();
    for name in ["fls-db", "iof-ctf"] {
        let set = set_by_name(name).expect("set");
        let setup = Setup {
            set: &set,
            services: &services,
            caseloads: &caseloads,
            opt_outs: &opt_outs,
            period: Period::calendar_year(2019).expect("year"),
            as_of: date!(2021 - 03 - 31),
            mode: DenominatorMode::All,
        };
        let engine = Engine::new(setup).expect("engine");
        // The fastest of three passes, in CPU time of this thread where Linux reports it: the
        // machine may be shared.
        let mut add = std::time::Duration::MAX;
        let mut partial = engine.partial();
        for _ in 0..3 {
            let (start, cpu) = (Instant::now(), thread_cpu_ns());
            partial = engine.partial();
            for r in &records {
                partial.add(r);
            }
            let spent = match (cpu, thread_cpu_ns()) {
                (Some(a), Some(b)) => std::time::Duration::from_nanos(b - a),
                _ => start.elapsed(),
            };
            add = add.min(spent);
        }
        let start = Instant::now();
        let report = partial.finish();
        let finish = start.elapsed();
        let start = Instant::now();
        let (a, b) = records.split_at(records.len() / 2);
        let merged = std::thread::scope(|s| {
            let t = s.spawn(|| {
                let mut p = engine.partial();
                b.iter().for_each(|r| p.add(r));
                p
            });
            let mut p = engine.partial();
            a.iter().for_each(|r| p.add(r));
            p.merge(t.join().expect("thread"));
            p
        });
        let two = start.elapsed();
        assert_eq!(merged.finish(), report);
        println!(
            "{name}: add {:.0} ms ({:.1} M records/s), two threads {:.0} ms, finish {:.1} ms, records {:?}",
            add.as_secs_f64() * 1e3,
            records.len() as f64 / add.as_secs_f64() / 1e6,
            two.as_secs_f64() * 1e3,
            finish.as_secs_f64() * 1e3,
            report.overall.records
        );
    }
}

/// CPU time of the calling thread in nanoseconds (Linux `schedstat`), if available.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
