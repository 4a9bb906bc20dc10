//! `flsdb`: the command line of the fracture liaison service audit.

mod checking;
mod cmd_backup;
mod cmd_check;
mod cmd_demo;
mod cmd_export;
mod cmd_import;
mod cmd_kpi;
mod cmd_migrate;
mod cmd_qi;
mod cmd_report;
mod cmd_serve;
mod cmd_spc;
mod cmd_synth;
mod cmd_user;
mod context;
mod inputs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "flsdb",
    version,
    about = "A national clinical audit for fracture liaison services (FLS-DB dataset v1)",
    long_about = "flsdb keeps the audit's patient records, checks them against the FLS-DB dataset rules, \
                  and turns them into key performance indicators.\n\n\
                  The database is SQLite by default (the file flsdb.sqlite in the current folder); \
                  give --db or set FLSDB_DATABASE_URL to use another file or a PostgreSQL server."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load services, caseloads, opt-outs or patient records from files.
    #[command(subcommand)]
    Import(cmd_import::Import),
    /// Build (or reuse) a demo audit on synthetic data and show its KPIs.
    Demo(cmd_demo::Demo),
    /// Check a records file against the dataset rules without loading it.
    Check(cmd_check::Check),
    /// Write records out in the canonical file format.
    #[command(subcommand)]
    Export(cmd_export::Export),
    /// Compute the KPI table (all services, commissioners, regions, nations and overall).
    Kpi(cmd_kpi::Kpi),
    /// Chart one service's KPI month by month with SPC limits and special-cause rules.
    Spc(cmd_spc::Spc),
    /// Write realistic synthetic data (records.csv, services.csv, opt_outs.txt) for tests and demos.
    Synth(cmd_synth::Synth),
    /// Annual, commissioner and service reports, and benchmark tables.
    #[command(subcommand)]
    Report(cmd_report::Report),
    /// Run the web application.
    Serve(cmd_serve::Serve),
    /// Manage web accounts.
    #[command(subcommand)]
    User(cmd_user::User),
    /// Bring the database schema up to date, or check it (--check).
    Migrate(cmd_migrate::Migrate),
    /// Write an online backup of a SQLite database (PostgreSQL: explains pg_dump/pg_restore).
    Backup(cmd_backup::Backup),
    /// Quality improvement: QI cycles, next priorities, refractures.
    #[command(subcommand)]
    Qi(cmd_qi::Qi),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FLSDB_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import(import) => cmd_import::run(import),
        Command::Check(check) => cmd_check::run(check),
        Command::Demo(demo) => cmd_demo::run(demo),
        Command::Export(export) => cmd_export::run(export),
        Command::Synth(synth) => cmd_synth::run(synth),
        Command::Kpi(kpi) => cmd_kpi::run(kpi),
        Command::Spc(spc) => cmd_spc::run(spc),
        Command::Qi(qi) => cmd_qi::run(qi),
        Command::Report(report) => cmd_report::run(report),
        Command::Serve(serve) => cmd_serve::run(serve),
        Command::User(user) => cmd_user::run(user),
        Command::Migrate(migrate) => cmd_migrate::run(migrate),
        Command::Backup(backup) => cmd_backup::run(backup),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
