//! `flsdb demo`: a ready-to-explore audit on synthetic data, in one command.

use crate::cmd_import::{ImportRequest, import_records_file};
use crate::cmd_synth::write_synthetic;
use crate::context::{local_today, open_store, parse_date_arg, runtime};
use anyhow::Context;
use clap::Args;
use flsdb_dataset::Validation;
use flsdb_kpi::{DenominatorMode, Engine, Period, TableOptions, set_by_name};
use flsdb_synth::SynthConfig;
use flsdb_tabular::{read_opt_outs, read_services};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Demo {
    /// Folder for the demo database and its synthetic data (reused when it exists).
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
    /// Synthetic records to generate on first run.
    #[arg(long, default_value_t = 60_000)]
    records: usize,
    /// Where the web application listens once the demo is built.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Only build the demo data and users; do not start the web application.
    #[arg(long)]
    no_serve: bool,
    /// The date that counts as today (default: the local date; tests pin it).
    #[arg(long, env = "FLSDB_TODAY", value_parser = parse_date_arg, hide = true)]
    today: Option<time::Date>,
}

/// The demo accounts: (name, role, password). Fixed, printed, and only ever in the demo database.
const DEMO_USERS: [(&str, flsdb_store::Role, &str); 5] = [
    ("admin", flsdb_store::Role::NationalAdmin, "demo-admin-password"),
    ("clinician", flsdb_store::Role::Clinician, "demo-clinician-password"),
    ("lead", flsdb_store::Role::ServiceLead, "demo-lead-password"),
    ("commissioner", flsdb_store::Role::Commissioner, "demo-commissioner-password"),
    ("analyst", flsdb_store::Role::Analyst, "demo-analyst-password"),
];

/// Creates the demo accounts that do not exist yet and prints every one with its password.
async fn demo_users(store: &flsdb_store::Store, services: &[flsdb_dataset::Service]) -> anyhow::Result<()> {
    let first = services.first().context("the demo has no services")?;
    let commissioned: Vec<_> = services
        .iter()
        .filter(|s| s.commissioner.is_some() && s.commissioner == first.commissioner)
        .map(|s| s.code.clone())
        .collect();
    println!("\nDemo users (demo passwords; this database only):");
    for (name, role, password) in DEMO_USERS {
        let scope = match role {
            flsdb_store::Role::Clinician | flsdb_store::Role::ServiceLead => vec![first.code.clone()],
            flsdb_store::Role::Commissioner => commissioned.clone(),
            _ => Vec::new(),
        };
        if store.user(name).await?.is_none() {
            let hash = flsdb_web::auth::hash_password(password)?;
            store.create_user("demo", name, role, &hash, &scope).await?;
        }
        let list = if scope.is_empty() {
            "all services".to_owned()
        } else {
            scope.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        };
        println!("  {name:<13} {password:<27} {role} ({list})");
    }
    Ok(())
}

pub fn run(args: Demo) -> anyhow::Result<ExitCode> {
    let today = args.today.unwrap_or_else(local_today);
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let db = args.dir.join("flsdb.sqlite");
    let db_url = db.to_str().context("the demo folder's path is not UTF-8")?.to_owned();
    let runtime = runtime()?;
    let (store, report_year) = runtime.block_on(async {
        let store = open_store(&db_url).await?;
        if store.record_count().await? == 0 {
            let data = args.dir.join("data");
            // Four complete years up to last year, looked at today: recent records are not yet due.
            let config = SynthConfig {
                records: args.records,
                services: 80,
                years: today.year() - 4..=today.year() - 1,
                seed: 2016,
                as_of: today,
            };
            eprintln!("{}", write_synthetic(&config, &data)?);
            store.upsert_services("demo", &read_services(&data.join("services.csv"))?).await?;
            let (opt_outs, _) = read_opt_outs(&data.join("opt_outs.txt"), true)?;
            store.add_opt_outs("demo", &opt_outs.into_iter().collect::<Vec<_>>()).await?;
            let request = ImportRequest {
                file: data.join("records.csv"),
                file_name: None,
                sheet: None,
                allow_unknown_columns: false,
                validation: Validation { today, allow_test_nhs_numbers: true },
                mode: flsdb_import::Mode::AllOrNothing,
                dry_run: false,
                actor: "demo".into(),
                permitted: None,
            };
            let report = import_records_file(&store, &request, None).await?;
            eprintln!("demo database {}: {}", db.display(), report.summary_line());
        } else {
            eprintln!("reusing the demo database {}", db.display());
        }
        let services = store.services().await?;
        let caseloads = store.caseloads().await?;
        let opt_outs = store.opt_outs().await?;
        let set = set_by_name("fls-db").context("the fls-db set is built in")?;
        let period = Period::calendar_year(today.year() - 2)?;
        let setup = flsdb_kpi::Setup {
            set: &set,
            services: &services,
            caseloads: &caseloads,
            opt_outs: &opt_outs,
            period,
            as_of: today,
            mode: DenominatorMode::All,
        };
        let engine = Engine::new(setup)?;
        let filter = flsdb_store::RecordFilter {
            fracture_from: Some(period.from()),
            fracture_to: Some(period.to()),
            ..Default::default()
        };
        let report = engine.compute(&store.records(&filter).await?);
        let options = TableOptions {
            color: std::io::stdout().is_terminal(),
            levels: vec![flsdb_kpi::Level::Overall, flsdb_kpi::Level::Nation, flsdb_kpi::Level::Region],
        };
        print!("{}", flsdb_kpi::to_table(&report, &options));
        println!(
            "\nExplore further: flsdb kpi --db {db_url} --year {} --format table, or flsdb spc --db {db_url} --service CODE --kpi kpi4",
            period.from().year()
        );
        demo_users(&store, &services).await?;
        anyhow::Ok((store, period.from().year()))
    })?;
    // The latest year whose follow-ups are complete, as the national report would publish it.
    println!("\nWriting the annual report {report_year} into {}", args.dir.display());
    crate::cmd_report::annual_from_db(&db_url, report_year, today, &args.dir)?;
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    runtime.block_on(async {
        let config = flsdb_web::Config { allow_test_nhs_numbers: true, ..Default::default() };
        crate::cmd_serve::serve(store, config, &args.bind, |url| {
            println!("\nThe web application is at {url} (Ctrl-C to stop)");
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}
