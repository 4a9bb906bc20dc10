//! `flsdb spc`: one service's KPI month by month, with control limits and special-cause rules.

use crate::context::runtime;
use crate::inputs::{Inputs, PeriodArgs, SourceArgs};
use anyhow::Context;
use clap::{Args, ValueEnum};
use flsdb_charts::ChartOptions;
use flsdb_dataset::ServiceCode;
use flsdb_kpi::{ChartKind, DenominatorMode, Engine, ServiceChart, chart_series, monthly_series, set_by_name};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Chart {
    /// Individuals chart of monthly percentages (default; a run chart under 12 months).
    Xmr,
    /// p-chart with limits from each month's denominator.
    P,
    /// Run chart around the median.
    Run,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Json,
    Svg,
}

#[derive(Args)]
pub struct Spc {
    /// The service's code.
    #[arg(long)]
    service: String,
    /// The KPI, e.g. kpi4.
    #[arg(long)]
    kpi: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    period: PeriodArgs,
    #[arg(long, default_value = "fls-db")]
    set: String,
    #[arg(long, value_enum)]
    chart: Option<Chart>,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: Spc) -> anyhow::Result<ExitCode> {
    let set = set_by_name(&args.set).with_context(|| format!("unknown KPI set {:?}", args.set))?;
    let code = ServiceCode::parse(&args.service).context("--service needs a service code")?;
    let period = args.period.period()?;
    let as_of = args.period.as_of();
    let points = runtime()?.block_on(async {
        let inputs = Inputs::load(&args.source).await?;
        let service = inputs
            .services
            .iter()
            .find(|s| s.code == code)
            .with_context(|| format!("service {code} is not in the registry"))?
            .clone();
        let records = inputs.service_records(&service, period).await?;
        let engine = Engine::new(inputs.setup(&set, period, as_of, DenominatorMode::All))?;
        anyhow::Ok((monthly_series(&engine, &records, code.as_str(), &args.kpi)?, service.name))
    })?;
    let (points, name) = points;
    let requested = args.chart.map(|c| match c {
        Chart::Xmr => ChartKind::Xmr,
        Chart::P => ChartKind::P,
        Chart::Run => ChartKind::Run,
    });
    let (kind, chart) = chart_series(&points, requested, None)?;
    let labels: Vec<String> =
        points.iter().map(|p| format!("{}-{:02}", p.from.year(), u8::from(p.from.month()))).collect();
    let text = match args.format {
        Format::Json => {
            let months: Vec<_> = points
                .iter()
                .zip(&labels)
                .map(|(p, month)| {
                    serde_json::json!({"month": month, "numerator": p.numerator, "denominator": p.denominator, "percent": p.percent})
                })
                .collect();
            let json = serde_json::json!({
                "service": code.as_str(), "name": name, "kpi": args.kpi, "kpi_set": args.set,
                "period": {"from": period.from().to_string(), "to": period.to().to_string()},
                "as_of": as_of.to_string(), "chart": kind, "improvement": "increase",
                "points": months, "spc": chart,
            });
            serde_json::to_string_pretty(&json)? + "\n"
        }
        Format::Svg => {
            let kpi_name = set.kpi(&args.kpi).map(|k| k.name.clone()).unwrap_or_else(|| args.kpi.clone());
            let options = ChartOptions {
                title: format!("{name}: {kpi_name}"),
                y_label: "Percent".into(),
                x_label: "Month of fracture".into(),
                percent: true,
                scale: if kind == ChartKind::P { 100.0 } else { 1.0 },
                ..ChartOptions::default()
            };
            match &chart {
                ServiceChart::Spc(c) => flsdb_charts::spc_svg(c, &labels, &options),
                ServiceChart::Run(c) => flsdb_charts::run_chart_svg(c, &labels, &options),
            }
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
