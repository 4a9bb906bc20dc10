//! `flsdb report …`: the annual report, commissioner and service reports, and benchmark tables.
//!
//! The data comes the way `flsdb kpi` gets it (`Inputs`), so a report's national figures are
//! exactly `flsdb kpi`'s; the documents are built by `flsdb-report`; PDFs are rendered by the
//! separate `flsdb-pdf` binary found next to this one, so that `flsdb` does not link typst.

use crate::cmd_kpi::Denominators;
use crate::context::{local_today, parse_date_arg, runtime};
use crate::inputs::{Inputs, PeriodArgs, SourceArgs};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use flsdb_dataset::{Record, ServiceCode};
use flsdb_kpi::{DenominatorMode, Disclosure, Engine, KpiSet, Period, monthly_series, set_by_name};
use flsdb_report::{Document, Fingerprint, PdfJob, fmt};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::Date;

#[derive(Subcommand)]
pub enum Report {
    /// The published annual report: annual-YYYY.pdf and a self-contained annual-YYYY.html.
    Annual(Annual),
    /// One PDF per commissioner (or the one named): its services against the national picture.
    Commissioner(CommissionerArgs),
    /// A short PDF for a service's trust board or QI meeting: KPIs, bands and SPC charts.
    Service(ServiceArgs),
    /// The benchmark table, one row per service, as XLSX (bands as conditional formats) or CSV.
    Benchmarks(BenchmarksArgs),
}

#[derive(Args, Clone)]
pub struct Common {
    #[command(flatten)]
    source: SourceArgs,
    /// KPI set: fls-db (the UK FLS-DB KPIs) or iof-ctf (IOF Capture the Fracture).
    #[arg(long, default_value = "fls-db")]
    set: String,
    #[arg(long, value_enum, default_value = "all")]
    denominators: Denominators,
}

impl Common {
    fn set(&self) -> anyhow::Result<KpiSet> {
        set_by_name(&self.set).with_context(|| format!("unknown KPI set {:?}: use fls-db or iof-ctf", self.set))
    }

    fn mode(&self) -> DenominatorMode {
        match self.denominators {
            Denominators::All => DenominatorMode::All,
            Denominators::Recommended => DenominatorMode::Recommended,
        }
    }
}

#[derive(Args)]
pub struct Annual {
    /// The calendar year of fracture dates; the previous year is shown for comparison.
    #[arg(long)]
    year: i32,
    /// The date of the data snapshot (the data-lock date): it decides which follow-ups are due
    /// (default: today; give it for a reproducible report).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
    #[command(flatten)]
    common: Common,
    /// Folder for annual-YYYY.pdf and annual-YYYY.html.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Recommendations text (Markdown: "## For services", "- bullet", **bold**) instead of the
    /// built-in one; placeholders {year}, {previous_year}, {period}, {as_of}, {weakest_kpi}.
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
    /// Write only the HTML (no PDF, so the flsdb-pdf binary is not needed).
    #[arg(long)]
    no_pdf: bool,
}

#[derive(Args)]
pub struct CommissionerArgs {
    /// The calendar year of fracture dates.
    #[arg(long)]
    year: i32,
    /// Only this commissioner (as named in the registry); default: every commissioner.
    #[arg(long)]
    commissioner: Option<String>,
    /// The date of the data snapshot (default: today).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<Date>,
    #[command(flatten)]
    common: Common,
    /// Folder for commissioner-YYYY-NAME.pdf files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Recommendations text (see `flsdb report annual --help`); its commissioner sections are used.
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServiceArgs {
    /// The service's code.
    #[arg(long)]
    service: String,
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    common: Common,
    /// The PDF to write (default: service-CODE-PERIOD.pdf).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Recommendations text (see `flsdb report annual --help`); its service sections are used.
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TableFormat {
    Xlsx,
    Csv,
}

#[derive(Args)]
pub struct BenchmarksArgs {
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    common: Common,
    #[arg(long, value_enum, default_value = "xlsx")]
    format: TableFormat,
    /// Apply small-number suppression for publication (counts 1–7 shown as *, others rounded to 5).
    #[arg(long)]
    published: bool,
    /// The file to write (default: benchmarks-PERIOD.xlsx or .csv; `-` writes CSV to standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(report: Report) -> anyhow::Result<ExitCode> {
    match report {
        Report::Annual(a) => annual(a),
        Report::Commissioner(c) => commissioner(c),
        Report::Service(s) => service(s),
        Report::Benchmarks(b) => benchmarks(b),
    }
}

/// The KPI report of one period, every record used added to the fingerprint.
async fn compute(
    inputs: &Inputs,
    set: &KpiSet,
    period: Period,
    as_of: Date,
    mode: DenominatorMode,
    fingerprint: &Fingerprint,
) -> anyhow::Result<flsdb_kpi::Report> {
    let engine = Engine::new(inputs.setup(set, period, as_of, mode))?;
    let each = |r: &Record| {
        // A records file holds every period; only the records this report uses count.
        if period.contains(r.fracture_date) {
            fingerprint.add_record(r);
        }
    };
    let (partial, checked) = inputs.accumulate_with(&engine, &each).await?;
    if let Some(summary) = &checked {
        summary.report(None)?;
        if summary.rejected > 0 {
            eprintln!("{} invalid rows were left out of the report", summary.rejected);
        }
    }
    let report = partial.finish();
    for (code, n) in &report.unregistered {
        eprintln!("{n} records of service {code}, which is not in the registry, were left out");
    }
    Ok(report)
}

/// The KPI reports of two periods, computed at the same time on the runtime's worker threads:
/// reading and decoding records is most of a report's time, and each read has its own database
/// connection.
async fn both_years(
    inputs: &Arc<Inputs>,
    set: &KpiSet,
    periods: [Period; 2],
    as_of: Date,
    mode: DenominatorMode,
    fingerprint: &Arc<Fingerprint>,
) -> anyhow::Result<(flsdb_kpi::Report, flsdb_kpi::Report)> {
    let tasks = periods.map(|period| {
        let (inputs, set, fingerprint) = (Arc::clone(inputs), set.clone(), Arc::clone(fingerprint));
        tokio::spawn(async move { compute(&inputs, &set, period, as_of, mode, &fingerprint).await })
    });
    let [first, second] = tasks;
    let first = first.await.context("a report task failed")??;
    let second = second.await.context("a report task failed")??;
    Ok((first, second))
}

fn read_text(path: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read the text file {}", p.display())))
        .transpose()
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {}", dir.display()))
}

/// The `flsdb-pdf` renderer: next to this executable.
fn pdf_renderer() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the flsdb executable's folder")?;
    let dir = exe.parent().context("the flsdb executable has no folder")?;
    let path = dir.join(format!("flsdb-pdf{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "the PDF renderer {} is missing: build it with `cargo build --workspace` (add --release for a release \
             build); it is a separate binary so that flsdb itself does not link typst",
            path.display()
        );
    }
    Ok(path)
}

/// Renders a document to PDF bytes with `flsdb-pdf` (job as JSON on its standard input).
fn render_pdf(renderer: &Path, job: &PdfJob) -> anyhow::Result<Vec<u8>> {
    let mut child = Command::new(renderer)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", renderer.display()))?;
    let json = job.to_json();
    let mut stdin = child.stdin.take().context("no standard input for flsdb-pdf")?;
    // Written from another thread: the renderer may fill its output pipe before it has read all
    // of its input.
    let writer = std::thread::spawn(move || stdin.write_all(json.as_bytes()));
    let output = child.wait_with_output().context("flsdb-pdf did not finish")?;
    let written = writer.join().map_err(|_| anyhow::anyhow!("the thread writing to flsdb-pdf panicked"))?;
    if !output.status.success() {
        bail!("flsdb-pdf failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    written.context("cannot send the document to flsdb-pdf")?;
    Ok(output.stdout)
}

/// Renders documents to PDFs, on as many renderer processes at a time as there are cores.
fn render_all(renderer: &Path, jobs: &[(PathBuf, Document)]) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len()).max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, doc)) = jobs.get(i) else { return Ok(()) };
                        let pdf = render_pdf(renderer, &flsdb_report::typst::render(doc))
                            .with_context(|| format!("cannot render {}", path.display()))?;
                        write_file(path, &pdf)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a render thread panicked"))))
            .collect()
    });
    results.into_iter().collect()
}

fn annual(args: Annual) -> anyhow::Result<ExitCode> {
    let set = args.common.set()?;
    let mode = args.common.mode();
    let as_of = args.as_of.unwrap_or_else(local_today);
    let period = Period::calendar_year(args.year)?;
    let previous_period = Period::calendar_year(args.year - 1)?;
    let text = read_text(&args.text)?;
    // Look for the renderer before the work, so a missing binary fails at once.
    let renderer = if args.no_pdf { None } else { Some(pdf_renderer()?) };
    let (doc, fingerprint) = runtime()?.block_on(async {
        let inputs = Arc::new(Inputs::load(&args.common.source).await?);
        let fp = Arc::new(Fingerprint::new(&inputs.services, &inputs.caseloads, &inputs.opt_outs));
        let (report, previous) = both_years(&inputs, &set, [period, previous_period], as_of, mode, &fp).await?;
        let fingerprint = fp.value();
        let doc = flsdb_report::annual(&flsdb_report::AnnualInput {
            set: &set,
            report: &report,
            previous: &previous,
            services: &inputs.services,
            fingerprint: &fingerprint,
            text: text.as_deref(),
            disclosure: &Disclosure::default(),
        });
        anyhow::Ok((doc, fingerprint))
    })?;
    create_dir(&args.out)?;
    let html = args.out.join(format!("annual-{}.html", args.year));
    write_file(&html, flsdb_report::html::render(&doc).as_bytes())?;
    if let Some(renderer) = renderer {
        render_all(&renderer, &[(args.out.join(format!("annual-{}.pdf", args.year)), doc)])?;
    }
    println!("annual report {}: data fingerprint {fingerprint}", args.year);
    Ok(ExitCode::SUCCESS)
}

/// Writes the annual report of `year` from the database at `db_url` into `out`, as `flsdb report
/// annual` would: the PDF too when the `flsdb-pdf` renderer is installed, else the HTML only and a
/// line saying how to get the PDF (the demo must not fail for want of the typesetter).
pub fn annual_from_db(db_url: &str, year: i32, as_of: Date, out: &Path) -> anyhow::Result<()> {
    #[derive(clap::Parser)]
    struct Command {
        #[command(flatten)]
        annual: Annual,
    }
    let no_pdf = pdf_renderer().is_err();
    let mut argv = vec!["annual".to_owned(), "--db".into(), db_url.into(), "--year".into(), year.to_string()];
    argv.extend(["--as-of".into(), as_of.to_string(), "--out".into(), out.display().to_string()]);
    if no_pdf {
        argv.push("--no-pdf".into());
    }
    let Command { annual: args } = clap::Parser::try_parse_from(argv).context("the demo's report options")?;
    annual(args)?;
    if no_pdf {
        println!("(HTML only: `cargo build --release -p flsdb-pdf` adds the PDF renderer, then run flsdb demo again)");
    }
    Ok(())
}

fn commissioner(args: CommissionerArgs) -> anyhow::Result<ExitCode> {
    let set = args.common.set()?;
    let mode = args.common.mode();
    let as_of = args.as_of.unwrap_or_else(local_today);
    let period = Period::calendar_year(args.year)?;
    let previous_period = Period::calendar_year(args.year - 1)?;
    let text = read_text(&args.text)?;
    let renderer = pdf_renderer()?;
    let (jobs, fingerprint) = runtime()?.block_on(async {
        let inputs = Arc::new(Inputs::load(&args.common.source).await?);
        let names = flsdb_report::commissioners(&inputs.services);
        let names: Vec<String> = match &args.commissioner {
            Some(wanted) => {
                let found = names.iter().find(|n| n.eq_ignore_ascii_case(wanted.trim())).with_context(|| {
                    format!("no registered service has the commissioner {wanted:?}; known: {}", names.join(", "))
                })?;
                vec![found.clone()]
            }
            None if names.is_empty() => bail!("no registered service has a commissioner"),
            None => names,
        };
        let fp = Arc::new(Fingerprint::new(&inputs.services, &inputs.caseloads, &inputs.opt_outs));
        let (report, previous) = both_years(&inputs, &set, [period, previous_period], as_of, mode, &fp).await?;
        let fingerprint = fp.value();
        let mut jobs = Vec::new();
        for name in &names {
            let input = flsdb_report::CommissionerInput {
                set: &set,
                report: &report,
                previous: Some(&previous),
                commissioner: name,
                registry: &inputs.services,
                fingerprint: &fingerprint,
                text: text.as_deref(),
            };
            if let Some(doc) = flsdb_report::commissioner(&input) {
                let file = args.out.join(format!("commissioner-{}-{}.pdf", args.year, fmt::slug(name)));
                jobs.push((file, doc));
            }
        }
        anyhow::Ok((jobs, fingerprint))
    })?;
    create_dir(&args.out)?;
    render_all(&renderer, &jobs)?;
    println!("{} commissioner reports for {}: data fingerprint {fingerprint}", jobs.len(), args.year);
    Ok(ExitCode::SUCCESS)
}

fn service(args: ServiceArgs) -> anyhow::Result<ExitCode> {
    let set = args.common.set()?;
    let mode = args.common.mode();
    let code = ServiceCode::parse(&args.service).context("--service needs a service code")?;
    let period = args.period.period()?;
    let as_of = args.period.as_of();
    let text = read_text(&args.text)?;
    let renderer = pdf_renderer()?;
    let (doc, fingerprint) = runtime()?.block_on(async {
        let inputs = Inputs::load(&args.common.source).await?;
        let service = inputs
            .services
            .iter()
            .find(|s| s.code == code)
            .with_context(|| format!("service {code} is not in the registry"))?
            .clone();
        let fp = Fingerprint::new(&inputs.services, &inputs.caseloads, &inputs.opt_outs);
        let report = compute(&inputs, &set, period, as_of, mode, &fp).await?;
        let records = inputs.service_records(&service, period).await?;
        let engine = Engine::new(inputs.setup(&set, period, as_of, mode))?;
        let mut series = Vec::new();
        for column in &report.columns {
            // kpi1 and iof11 have no monthly series: they are not proportions of records.
            if let Ok(points) = monthly_series(&engine, &records, code.as_str(), &column.id) {
                series.push((column.id.clone(), points));
            }
        }
        let fingerprint = fp.value();
        let doc = flsdb_report::service(&flsdb_report::ServiceInput {
            set: &set,
            report: &report,
            code: code.as_str(),
            series: &series,
            fingerprint: &fingerprint,
            text: text.as_deref(),
        })
        .with_context(|| format!("service {code} is not in the KPI report"))?;
        anyhow::Ok((doc, fingerprint))
    })?;
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!("service-{}-{}.pdf", code.as_str(), fmt::period_short(period).replace(" to ", "_")))
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    render_all(&renderer, &[(out, doc)])?;
    println!("service report {code}: data fingerprint {fingerprint}");
    Ok(ExitCode::SUCCESS)
}

fn benchmarks(args: BenchmarksArgs) -> anyhow::Result<ExitCode> {
    let set = args.common.set()?;
    let mode = args.common.mode();
    let period = args.period.period()?;
    let as_of = args.period.as_of();
    let table = runtime()?.block_on(async {
        let inputs = Inputs::load(&args.common.source).await?;
        let fp = Fingerprint::new(&inputs.services, &inputs.caseloads, &inputs.opt_outs);
        let report = compute(&inputs, &set, period, as_of, mode, &fp).await?;
        anyhow::Ok(flsdb_report::benchmarks(&report, &set, args.published, &Disclosure::default(), &fp.value()))
    })?;
    let ext = match args.format {
        TableFormat::Xlsx => "xlsx",
        TableFormat::Csv => "csv",
    };
    let bytes = match args.format {
        TableFormat::Xlsx => flsdb_report::to_xlsx(&table)?,
        TableFormat::Csv => flsdb_report::to_csv(&table).into_bytes(),
    };
    match &args.out {
        Some(p) if p.as_os_str() == "-" => {
            if matches!(args.format, TableFormat::Xlsx) {
                bail!("an XLSX workbook cannot go to standard output: give --out FILE, or --format csv");
            }
            std::io::stdout().lock().write_all(&bytes)?;
        }
        Some(p) => write_file(p, &bytes)?,
        None => {
            let name = format!("benchmarks-{}.{ext}", fmt::period_short(period).replace(" to ", "_"));
            write_file(Path::new(&name), &bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
