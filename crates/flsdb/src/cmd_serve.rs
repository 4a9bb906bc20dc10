//! `flsdb serve`: the web application.

use crate::context::{DbArgs, RuleArgs, open_store, runtime};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct Serve {
    #[command(flatten)]
    db: DbArgs,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Mark cookies Secure: set when users reach flsdb over HTTPS (directly or through a proxy).
    #[arg(long, env = "FLSDB_SECURE_COOKIES", value_parser = clap::builder::BoolishValueParser::new())]
    secure_cookies: bool,
    #[command(flatten)]
    rules: RuleArgs,
}

pub fn run(args: Serve) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let store = open_store(&args.db.db).await?;
        let config = flsdb_web::Config {
            secure_cookies: args.secure_cookies,
            allow_test_nhs_numbers: args.rules.allow_test_nhs_numbers,
            today: args.rules.today,
            ..Default::default()
        };
        serve(store, config, &args.bind, |url| eprintln!("flsdb is serving on {url} (Ctrl-C to stop)")).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Binds, reports the URL through `ready`, and serves until SIGINT or SIGTERM.
pub async fn serve(
    store: flsdb_store::Store,
    config: flsdb_web::Config,
    bind: &str,
    ready: impl FnOnce(String),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, backend = store.backend(), "serving");
    ready(format!("http://{address}/"));
    let state = flsdb_web::AppState::new(store.clone(), config);
    flsdb_web::serve(listener, state, flsdb_web::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}
