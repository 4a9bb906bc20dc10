//! `flsdb-pdf`: reads a job as JSON on standard input (`{"main": typst source, "files": {name:
//! content}, "ident": …}`), writes the PDF to standard output. `flsdb report …` runs it, so that
//! the `flsdb` binary does not link typst.

use anyhow::Context;
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flsdb-pdf: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    if std::env::args().nth(1).is_some_and(|a| a == "--help" || a == "-h") {
        println!(
            "flsdb-pdf: renders a typst document to PDF, offline.\n\n\
             Reads {{\"main\": TYPST SOURCE, \"files\": {{NAME: CONTENT}}, \"ident\": ID}} as JSON on \
             standard input and writes the PDF to standard output. Used by `flsdb report`."
        );
        return Ok(());
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("cannot read the job from standard input")?;
    let job: flsdb_pdf::Job = serde_json::from_str(&input).context("the job on standard input is not valid JSON")?;
    let pdf = flsdb_pdf::render(&job)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&pdf).context("cannot write the PDF to standard output")?;
    out.flush()?;
    Ok(())
}
