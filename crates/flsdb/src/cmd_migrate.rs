//! `flsdb migrate`: bring the database schema up to date explicitly, or check it.

use crate::context::{DbArgs, connect_options, runtime};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
#[command(after_help = "Exit status: 0 up to date (after migrating, or on --check); 1 with --check when \
                        migrations are pending or the SQLite file does not exist; 2 on an error, such as a \
                        database migrated by a newer flsdb (which every command refuses).")]
pub struct Migrate {
    #[command(flatten)]
    db: DbArgs,
    /// Change nothing: list each migration as applied or pending, and exit 1 if any is pending.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Migrate) -> anyhow::Result<ExitCode> {
    let url = args.db.db.as_str();
    let missing = flsdb_store::sqlite_file(url).is_some_and(|f| !f.exists());
    if missing && args.check {
        println!("no database at {url}: `flsdb migrate` creates it");
        return Ok(ExitCode::from(1));
    }
    runtime()?.block_on(async move {
        let mut options = connect_options()?;
        // Only a new SQLite file is created (and so migrated) on connecting; otherwise connect
        // as the database is, to report what this run applies.
        options.migrate = missing;
        let store = flsdb_store::Store::connect_with(url, &options)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        let code = if args.check { check(&store).await } else { migrate(&store, missing).await };
        store.close().await;
        code
    })
}

async fn check(store: &flsdb_store::Store) -> anyhow::Result<ExitCode> {
    let status = store.migrate_status().await?;
    for m in &status {
        let state = match (m.applied, m.known) {
            (true, true) => "applied",
            (false, _) => "pending",
            (true, false) => "applied by a newer flsdb",
        };
        println!("{:>4}  {:<12} {state}", m.version, m.description);
    }
    let pending: Vec<String> = status.iter().filter(|m| !m.applied).map(|m| m.version.to_string()).collect();
    if pending.is_empty() {
        println!("{} database up to date at schema version {}", store.backend(), store.schema_version());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} database: {} migration(s) pending ({}): run `flsdb migrate`",
            store.backend(),
            pending.len(),
            pending.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

async fn migrate(store: &flsdb_store::Store, created: bool) -> anyhow::Result<ExitCode> {
    let applied = if created {
        store.migrate_status().await?.iter().map(|m| m.version).collect()
    } else {
        store.migrate().await.context("migrating failed (nothing of the failed migration was kept)")?
    };
    let status = store.migrate_status().await?;
    for m in status.iter().filter(|m| applied.contains(&m.version)) {
        println!("applied {:>4}  {}", m.version, m.description);
    }
    if created {
        println!("created a new {} database at schema version {}", store.backend(), store.schema_version());
    } else if applied.is_empty() {
        println!("{} database already up to date at schema version {}", store.backend(), store.schema_version());
    } else {
        println!(
            "{} database migrated to schema version {} ({} migration(s) applied)",
            store.backend(),
            store.schema_version(),
            applied.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
