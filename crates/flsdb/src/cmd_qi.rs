//! `flsdb qi …`: quality-improvement cycles (open, note, show, close, list), a service's next
//! priorities, and refractures. The verdicts and rankings come from `flsdb-qi`, the store-to-verdict
//! glue from `flsdb_web::qi::judge` (shared with the web pages); this is wiring.

use crate::context::{DbArgs, default_actor, local_today, open_store, parse_date_arg, runtime};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use flsdb_dataset::ServiceCode;
use flsdb_kpi::{DenominatorMode, Engine, KpiSet, Period, set_by_name};
use flsdb_qi::Evaluation;
use flsdb_store::qi::{Cycle, NewCycle, Note, STAGES};
use flsdb_store::{RecordFilter, Store};
use std::process::ExitCode;
use time::Date;

#[derive(Subcommand)]
pub enum Qi {
    /// Open a QI cycle: improve one KPI of a service while keeping the others.
    Open(Open),
    /// Add a dated plan/do/study/act note to an open cycle.
    Note(NoteArgs),
    /// A cycle, its notes, and the verdicts the data give as of a date.
    Show(Judge),
    /// Close a cycle, recording the verdicts the data give as of a date.
    Close(Judge),
    /// The cycles of a service (or all), and how many services completed one in a year.
    List(List),
    /// A service's KPIs ranked by how many patients the gap to the next band represents.
    Priorities(Priorities),
    /// Patients of a service's records who broke again within two years (at any service).
    Refractures(Refractures),
}

#[derive(Args)]
pub struct Open {
    #[arg(long)]
    service: String,
    /// The KPI to improve, e.g. kpi9.
    #[arg(long)]
    kpi: String,
    /// First month of the baseline (the baseline runs to the month before --start).
    #[arg(long, value_parser = parse_date_arg)]
    baseline_from: Date,
    /// When the change began.
    #[arg(long, value_parser = parse_date_arg)]
    start: Date,
    /// The aim, in percent (with --by).
    #[arg(long, requires = "by")]
    aim: Option<f64>,
    /// The date by which the aim should be reached.
    #[arg(long, value_parser = parse_date_arg, requires = "aim")]
    by: Option<Date>,
    /// The change ideas being tested.
    #[arg(long, default_value = "")]
    ideas: String,
    /// Whom the audit log names (default: the login name).
    #[arg(long)]
    as_user: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct NoteArgs {
    /// The cycle's number.
    id: i64,
    /// plan, do, study or act.
    #[arg(long)]
    stage: String,
    /// The note's date (default: today).
    #[arg(long, value_parser = parse_date_arg)]
    on: Option<Date>,
    #[arg(long)]
    text: String,
    #[arg(long)]
    as_user: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct Judge {
    /// The cycle's number.
    id: i64,
    /// Judge on the data up to the end of the month before this date (default: today).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
    #[arg(long)]
    as_user: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct List {
    #[arg(long)]
    service: Option<String>,
    /// Count the services that completed a cycle (closed as of a date in this year; default: this year).
    #[arg(long)]
    year: Option<i32>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct Priorities {
    #[arg(long)]
    service: String,
    /// The calendar year of fracture dates (default: the last year that ended before --as-of).
    #[arg(long)]
    year: Option<i32>,
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct Refractures {
    #[arg(long)]
    service: String,
    #[command(flatten)]
    db: DbArgs,
}

/// Today, or the pinned date of `FLSDB_TODAY` (as the other commands' "today").
fn today() -> Date {
    std::env::var("FLSDB_TODAY").ok().and_then(|t| parse_date_arg(&t).ok()).unwrap_or_else(local_today)
}

fn service_code(text: &str) -> anyhow::Result<ServiceCode> {
    ServiceCode::parse(text).with_context(|| format!("{text:?} is not a service code"))
}

fn fls_db() -> anyhow::Result<KpiSet> {
    set_by_name("fls-db").context("the fls-db set is built in")
}

fn verdict_text(e: &Evaluation) -> String {
    let word = |met: bool| if met { "yes" } else { "no" };
    format!(
        "improved: {} ({}); maintained: {} ({})",
        word(e.improved.met),
        e.improved.reason,
        word(e.maintained.met),
        e.maintained.reason
    )
}

fn describe(cycle: &Cycle) -> String {
    let aim = cycle.spec.aim.map_or(String::new(), |(p, by)| format!(", aim {p}% by {by}"));
    let state = match &cycle.closure {
        Some(c) => format!("closed as of {} by {}: {}", c.on, c.by, c.verdict),
        None => "open".into(),
    };
    format!(
        "cycle {} · {} {}{aim} · baseline from {} · started {} · {state}",
        cycle.id, cycle.spec.service, cycle.spec.kpi, cycle.spec.baseline_from, cycle.spec.start
    )
}

async fn stored_cycle(store: &Store, id: i64) -> anyhow::Result<Cycle> {
    store.cycle(id).await?.with_context(|| format!("there is no QI cycle {id}"))
}

pub fn run(command: Qi) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        match command {
            Qi::Open(a) => {
                let set = fls_db()?;
                if set.kpi(&a.kpi).is_none() {
                    bail!("{:?} is not a KPI of fls-db", a.kpi);
                }
                if a.baseline_from >= a.start {
                    bail!("--baseline-from ({}) must be before --start ({})", a.baseline_from, a.start);
                }
                let store = open_store(&a.db.db).await?;
                let cycle = NewCycle {
                    service: service_code(&a.service)?,
                    kpi: a.kpi,
                    aim: a.aim.zip(a.by),
                    baseline_from: a.baseline_from,
                    start: a.start,
                    change_ideas: a.ideas,
                };
                let id = store.open_cycle(&a.as_user.unwrap_or_else(default_actor), &cycle).await?;
                println!("opened QI cycle {id}");
            }
            Qi::Note(a) => {
                if !STAGES.contains(&a.stage.as_str()) {
                    bail!("--stage {:?}: use one of {}", a.stage, STAGES.join(", "));
                }
                let store = open_store(&a.db.db).await?;
                let note = Note {
                    noted_on: a.on.unwrap_or_else(today),
                    stage: a.stage,
                    author: a.as_user.unwrap_or_else(default_actor),
                    body: a.text,
                };
                store.add_cycle_note(a.id, &note).await?;
                println!("noted on cycle {}", a.id);
            }
            Qi::Show(a) => {
                let store = open_store(&a.db.db).await?;
                let cycle = stored_cycle(&store, a.id).await?;
                println!("{}", describe(&cycle));
                if !cycle.spec.change_ideas.is_empty() {
                    println!("change ideas: {}", cycle.spec.change_ideas);
                }
                for n in store.cycle_notes(a.id).await? {
                    println!("  {} {:<5} {}: {}", n.noted_on, n.stage, n.author, n.body);
                }
                let as_of = a.as_of.unwrap_or_else(today);
                match flsdb_web::qi::judge(&store, &cycle, as_of).await {
                    Ok(e) => println!("as of {as_of}: {}", verdict_text(&e)),
                    Err(e) => println!("as of {as_of}: {e:#}"),
                }
            }
            Qi::Close(a) => {
                let store = open_store(&a.db.db).await?;
                let cycle = stored_cycle(&store, a.id).await?;
                let as_of = a.as_of.unwrap_or_else(today);
                let e = flsdb_web::qi::judge(&store, &cycle, as_of).await?;
                let text = verdict_text(&e);
                let actor = a.as_user.unwrap_or_else(default_actor);
                store.close_cycle(a.id, &actor, as_of, e.improved.met, e.maintained.met, &text).await?;
                println!("closed QI cycle {} as of {as_of}: {text}", a.id);
            }
            Qi::List(a) => {
                let store = open_store(&a.db.db).await?;
                let service = a.service.as_deref().map(service_code).transpose()?;
                let cycles = store.cycles(service.as_ref()).await?;
                for c in &cycles {
                    println!("{}", describe(c));
                }
                let year = a.year.unwrap_or_else(|| today().year());
                println!(
                    "services with a complete QI cycle in {year}: {}",
                    flsdb_store::qi::services_completing(&cycles, year)
                );
            }
            Qi::Priorities(a) => {
                let store = open_store(&a.db.db).await?;
                let code = service_code(&a.service)?;
                let as_of = a.as_of.unwrap_or_else(today);
                let period = match a.year {
                    Some(y) => Period::calendar_year(y)?,
                    None => Period::default_for(as_of)?,
                };
                let set = fls_db()?;
                let (services, caseloads, opt_outs) =
                    (store.services().await?, store.caseloads().await?, store.opt_outs().await?);
                if !services.iter().any(|s| s.code == code) {
                    bail!("service {code} is not in the registry");
                }
                let setup = flsdb_kpi::Setup {
                    set: &set,
                    services: &services,
                    caseloads: &caseloads,
                    opt_outs: &opt_outs,
                    period,
                    as_of,
                    mode: DenominatorMode::All,
                };
                let filter = RecordFilter {
                    fracture_from: Some(period.from()),
                    fracture_to: Some(period.to()),
                    ..Default::default()
                };
                let report = Engine::new(setup)?.compute(&store.records(&filter).await?);
                println!("Next priorities for {code}, fractures {} to {}:", period.from(), period.to());
                for (rank, p) in flsdb_qi::next_priorities(&set, &report, code.as_str()).iter().enumerate() {
                    let alert =
                        if p.spine_alert { "  ← spine identification is red: make it the next priority" } else { "" };
                    println!("{:>2}. {:<6} {}{alert}", rank + 1, p.kpi, p.summary);
                }
            }
            Qi::Refractures(a) => {
                let store = open_store(&a.db.db).await?;
                let code = service_code(&a.service)?;
                let opt_outs = store.opt_outs().await?;
                let records = store.records(&RecordFilter::default()).await?;
                let cared_for = records.iter().filter(|r| r.nhs_number.is_none_or(|n| !opt_outs.contains(&n)));
                let mut shown = 0;
                for r in flsdb_qi::refractures(cared_for).iter().filter(|r| r.earlier.service == code) {
                    // Another service's local id is theirs: the alert names the service only.
                    let at = if r.later.service == code {
                        format!("record {}", r.later.local_id.as_str())
                    } else {
                        format!("service {}", r.later.service)
                    };
                    println!(
                        "{} ({} {}) broke again: {} fracture on {} at {at}, {} days later",
                        r.earlier.local_id.as_str(),
                        r.earlier.site.code(),
                        r.earlier.date,
                        r.later.site.code(),
                        r.later.date,
                        r.days_between
                    );
                    shown += 1;
                }
                println!("{shown} refracture(s) of {code}'s patients within two years");
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
