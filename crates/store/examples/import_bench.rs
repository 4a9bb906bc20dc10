//! Measures bulk import and read speed.
//!
//! `cargo run --release -p flsdb-store --example import_bench -- [ROWS] [DATABASE_URL]`
//! (default 200,000 rows into a new SQLite file in a temporary directory). Give a PostgreSQL URL
//! of an empty database to measure PostgreSQL. `BENCH_FIRST_ONLY=1` stops after the first
//! import, `BENCH_READ_ONLY=1` reads everything back right after it (for profiling one step).
//! `BENCH_READ_URL=URL` only reads the records of an existing database.
//! Records go to 100 services in turn, the worst case for the indexes; `BENCH_SORTED=1` gives
//! each service runs of 10,000 consecutive records instead.

use flsdb_dataset::{Cells, Field, NhsNumber, Record, Service, Validation, parse_record};
use flsdb_store::{NewBatch, RecordFilter, Store};
use std::time::Instant;
use time::macros::date;
use time::{Date, Duration};

const RULES: Validation = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };
const SERVICES: usize = 100;

/// A small deterministic generator (no dependency needed for benchmark data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Services in turn (worst case for the indexes), or with `BENCH_SORTED=1` in runs of
/// consecutive records, as a national file sorted by service would have them.
fn service_of(i: usize) -> usize {
    if std::env::var_os("BENCH_SORTED").is_some() { i / 10_000 % SERVICES } else { i % SERVICES }
}

/// A realistic, valid record with most fields filled.
fn generate(i: usize, rng: &mut Lcg, variant: u64) -> Record {
    let fracture = date!(2018 - 01 - 01) + Duration::days(rng.next(2000) as i64);
    let birth = date!(1930 - 01 - 01) + Duration::days(rng.next(365 * 35) as i64);
    let prefix = 400_000_000 + rng.next(99_999_999);
    let nhs = (0..10).find_map(|d| NhsNumber::parse(&format!("{prefix}{d}"), false).ok()).map(|n| n.to_string());
    let sites = ["hip", "spine", "wrist", "humerus", "pelvis", "other"];
    let values: Vec<(Field, String)> = vec![
        (Field::ServiceCode, format!("S{:03}", service_of(i))),
        (Field::LocalId, format!("L{i:08}")),
        (Field::NhsNumber, nhs.unwrap_or_default()),
        (Field::DateOfBirth, iso(birth)),
        (Field::Sex, ["female", "male"][rng.next(2) as usize].into()),
        (Field::Postcode, format!("SW{} {}AA", 1 + rng.next(9), rng.next(10))),
        (Field::CareHome, "no".into()),
        (Field::FlsContactDate, iso(fracture + Duration::days(3))),
        (Field::FlsAssessmentDate, iso(fracture + Duration::days(10))),
        (Field::Admitted, "outpatient".into()),
        (Field::FractureDate, iso(fracture)),
        (Field::FractureSite, sites[rng.next(6) as usize].into()),
        (Field::HeightCm, format!("{}.{}", 150 + rng.next(40), rng.next(10))),
        (Field::WeightKg, format!("{}.{}", 50 + rng.next(50), rng.next(10))),
        (Field::Smoker, ["never", "ex", "current"][rng.next(3) as usize].into()),
        (Field::FallsHistory, ["none", "one", "two_or_more"][rng.next(3) as usize].into()),
        (Field::Dxa, "ordered".into()),
        (Field::DxaDate, iso(fracture + Duration::days(30))),
        (Field::TScore, format!("-{}.{}", rng.next(4), rng.next(10))),
        (Field::FraxMajor, format!("{}.{}", rng.next(40), variant % 10)),
        (Field::BoneTherapyRecommended, "alendronate".into()),
        (Field::CalciumVitdRecommended, "yes".into()),
        (Field::FallsAssessment, "done".into()),
        (Field::Followup16, "yes".into()),
        (Field::Followup16Date, iso(fracture + Duration::days(100))),
        (Field::Therapy16w, "alendronate".into()),
        (Field::Followup52, "yes".into()),
        (Field::Followup52Date, iso(fracture + Duration::days(350))),
        (Field::Refractures, "0".into()),
    ];
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (field, value) in &values {
        cells[field.index()] = value;
    }
    match parse_record(&cells, RULES) {
        Ok(valid) => valid.record,
        Err(problems) => panic!("generated an invalid record: {problems:?}"),
    }
}

/// CPU seconds (user + system) this process has used so far, from /proc (Linux; else 0): on a
/// busy machine, wall time alone mostly measures the neighbours.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Timer(Instant, f64);

fn start() -> Timer {
    Timer(Instant::now(), cpu_seconds())
}

fn rate(rows: usize, started: Timer) -> String {
    let secs = started.0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - started.1;
    format!("{rows} rows in {secs:.2} s = {:.0} rows/s (CPU {cpu:.2} s)", rows as f64 / secs)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(url) = std::env::var_os("BENCH_READ_URL") {
        // Only read an existing database (e.g. one `flsdb import records` filled).
        let store = Store::connect(&url.to_string_lossy()).await?;
        let started = start();
        let mut read = 0;
        store
            .for_each_record_chunk(&RecordFilter::default(), 20_000, |chunk| {
                read += chunk.len();
                Ok::<_, flsdb_store::StoreError>(())
            })
            .await?;
        println!("read back ({}): {}", store.backend(), rate(read, started));
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let url = args.next().unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display()));

    let started = start();
    let mut rng = Lcg(42);
    let records: Vec<Record> = (0..rows).map(|i| generate(i, &mut rng, 0)).collect();
    println!("generated {}", rate(rows, started));

    let store = Store::connect(&url).await?;
    println!("backend: {}", store.backend());
    let services: Vec<Service> = (0..SERVICES)
        .map(|i| {
            let code = format!("S{i:03}");
            Service::parse([&code, "Bench", "england", "", "", "", "hospital", "100", ""]).map_err(|p| format!("{p:?}"))
        })
        .collect::<Result<_, _>>()?;
    store.upsert_services("bench", &services).await?;
    let batch = NewBatch { actor: "bench".into(), file_name: Some("bench.csv".into()), mode: "bench".into() };

    let started = start();
    let out = store.import_records(&batch, &records).await?;
    println!("first import ({} inserted): {}", out.inserted, rate(rows, started));
    if std::env::var_os("BENCH_FIRST_ONLY").is_some() {
        return Ok(());
    }
    if std::env::var_os("BENCH_READ_ONLY").is_some() {
        let started = start();
        let read = store.records(&RecordFilter::default()).await?.len();
        println!("read back: {}", rate(read, started));
        return Ok(());
    }

    let started = start();
    let out = store.import_records(&batch, &records).await?;
    println!("same file again ({} unchanged): {}", out.unchanged, rate(rows, started));

    // Every tenth record changed (frax_major), the rest the same.
    let mut rng = Lcg(42);
    let changed: Vec<Record> = (0..rows).map(|i| generate(i, &mut rng, u64::from(i % 10 == 0))).collect();
    let started = start();
    let out = store.import_records_dry_run(&changed).await?;
    println!("dry run, 10% changed ({} updated, {} unchanged): {}", out.updated, out.unchanged, rate(rows, started));
    let started = start();
    let out = store.import_records(&batch, &changed).await?;
    println!("10% changed ({} updated, {} unchanged): {}", out.updated, out.unchanged, rate(rows, started));

    let started = start();
    let mut read = 0;
    store
        .for_each_record_chunk(&RecordFilter::default(), 10_000, |chunk| {
            read += chunk.len();
            Ok::<_, flsdb_store::StoreError>(())
        })
        .await?;
    println!("read back: {}", rate(read, started));
    store.close().await;
    Ok(())
}
