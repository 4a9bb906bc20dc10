//! `flsdb user …`: web accounts.

use crate::context::{DbArgs, default_actor, open_store, runtime};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use flsdb_dataset::ServiceCode;
use flsdb_store::Role;
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum User {
    /// Create an account (the password is read from stdin with --password-stdin, else generated and printed).
    Add(Add),
    /// List the accounts.
    List(DbOnly),
    /// Disable an account and end its sessions.
    Disable(Disable),
}

#[derive(Args)]
pub struct Add {
    name: String,
    /// clinician, service_lead, commissioner, national_admin or analyst.
    #[arg(long)]
    role: String,
    /// A service the user belongs to (or commissions); repeat for more.
    #[arg(long = "service", value_name = "CODE")]
    services: Vec<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct DbOnly {
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct Disable {
    name: String,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(command: User) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        match command {
            User::Add(args) => {
                let role = Role::parse(&args.role).with_context(|| {
                    format!(
                        "unknown role {:?}: use clinician, service_lead, commissioner, national_admin or analyst",
                        args.role
                    )
                })?;
                let services = args
                    .services
                    .iter()
                    .map(|s| ServiceCode::parse(s).with_context(|| format!("{s:?} is not a service code")))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let (password, generated) = if args.password_stdin {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
                    (line.trim_end_matches(['\r', '\n']).to_owned(), false)
                } else {
                    (flsdb_web::auth::random_hex(12), true)
                };
                if password.chars().count() < 12 {
                    bail!("the password must have at least 12 characters");
                }
                let hash = flsdb_web::auth::hash_password(&password)?;
                let store = open_store(&args.db.db).await?;
                if !store.create_user(&default_actor(), &args.name, role, &hash, &services).await? {
                    bail!("there is already a user {}", args.name);
                }
                println!("created user {} ({role})", args.name);
                if generated {
                    println!("password: {password}");
                }
            }
            User::List(args) => {
                let store = open_store(&args.db.db).await?;
                for u in store.users().await? {
                    let services = u.services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
                    let state = if u.disabled { "disabled" } else { "active" };
                    println!("{}\t{}\t{}\t{state}", u.name, u.role, services);
                }
            }
            User::Disable(args) => {
                let store = open_store(&args.db.db).await?;
                if !store.set_user_disabled(&default_actor(), &args.name, true).await? {
                    bail!("no user {}", args.name);
                }
                println!("disabled user {}", args.name);
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
