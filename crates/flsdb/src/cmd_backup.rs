//! `flsdb backup --out FILE`: an online backup of a SQLite database. A PostgreSQL database is
//! backed up with PostgreSQL's own tools; the command says how.

use crate::context::{DbArgs, connect_options, runtime};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(after_help = "The backup is a consistent snapshot, taken while the server keeps running (SQLite \
                        VACUUM INTO). To restore, stop the server and put the backup file in the \
                        database's place (with no -wal or -shm file beside it); see the README, \"Backup \
                        and restore\".")]
pub struct Backup {
    #[command(flatten)]
    db: DbArgs,
    /// The backup file to write; it must not exist yet.
    #[arg(long)]
    out: PathBuf,
}

const POSTGRES_HOWTO: &str = "\
flsdb backup copies SQLite databases only. Back up a PostgreSQL database with PostgreSQL's own
tools (online, consistent, as the database's owner):

    pg_dump --format=custom --file=flsdb.dump 'postgres://OWNER@HOST/DATABASE'

and restore it into a new, empty database (the role flsdb_app must exist on that server):

    createdb --host=HOST --username=OWNER flsdb_restored
    pg_restore --exit-on-error --dbname='postgres://OWNER@HOST/flsdb_restored' flsdb.dump

Then check the restored copy: `flsdb migrate --check --db …` exits 0, and
`flsdb kpi --db … --format json` gives the same table as before (README, \"Backup and restore\").
No backup was written.";

pub fn run(args: Backup) -> anyhow::Result<ExitCode> {
    let url = args.db.db.as_str();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        eprintln!("{POSTGRES_HOWTO}");
        return Ok(ExitCode::from(1));
    }
    if flsdb_store::sqlite_file(url).is_some_and(|f| !f.exists()) {
        anyhow::bail!("there is no database at {url} to back up");
    }
    if args.out.exists() {
        anyhow::bail!("{} already exists: give a new file name (a backup never overwrites)", args.out.display());
    }
    runtime()?.block_on(async move {
        let mut options = connect_options()?;
        options.migrate = false;
        let store = flsdb_store::Store::connect_with(url, &options)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        store.backup_to(&args.out).await.with_context(|| format!("cannot write the backup {}", args.out.display()))?;
        store.close().await;
        // Read the copy back: it opens, its schema is known, and it has the records.
        let copy = args.out.display().to_string();
        let backup = flsdb_store::Store::connect_with(&copy, &options)
            .await
            .with_context(|| format!("the backup {copy} cannot be opened"))?;
        let records = backup.record_count().await?;
        let version = backup.migrate_status().await?.iter().filter(|m| m.applied).map(|m| m.version).max();
        backup.close().await;
        let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
        println!(
            "backup written to {copy}: {records} records, schema version {}, {:.1} MB",
            version.unwrap_or(0),
            bytes as f64 / 1e6
        );
        Ok(ExitCode::SUCCESS)
    })
}
