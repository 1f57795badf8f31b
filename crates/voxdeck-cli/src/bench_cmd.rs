//! `voxdeck bench`: the model benchmark with a progress bar, a report, JSON and charts;
//! `voxdeck bench latency` is the voice loop's (`bench_latency_cmd`).

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use voxdeck_core::{Config, bounds};
use voxdeck_core::bench::runner;
use voxdeck_core::llm::CancelToken;
use voxdeck_core::models::Catalog;

use crate::bounded::within;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// Model to measure: catalog id or GGUF path; repeat for several (default: every installed LLM).
    #[arg(long, short)]
    model: Vec<String>,
    /// Measured runs per model, after one warm-up (default: bench.runs, 3).
    #[arg(long, value_parser = within::<u32>(bounds::BENCH_RUNS))]
    runs: Option<u32>,
    /// Threads for inference (default: llm.threads).
    #[arg(long, value_parser = within::<u32>(bounds::LLM_THREADS))]
    threads: Option<u32>,
    /// Directory for report.md, bench.json and the charts.
    #[arg(long, default_value = "voxdeck-bench")]
    out: PathBuf,
}

#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Release -> first audible word: the spoken question set through the whole voice loop
    /// (paced at real time), mode local unless --mode, streaming and whole answers; p50/p90 of
    /// every milestone as Markdown, JSON and a chart.
    Latency(crate::bench_latency_cmd::LatencyArgs),
}

pub fn run(args: BenchArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(BenchCommand::Latency(latency)) = args.command {
        return crate::bench_latency_cmd::run(latency, config);
    }
    if let Some(runs) = args.runs {
        config.bench.runs = runs;
    }
    if let Some(t) = args.threads {
        config.llm.threads = t;
    }
    config.check()?;
    let catalog = Catalog::builtin();
    let models_dir = config.models_dir();
    let models = if args.model.is_empty() {
        catalog.resolve_installed_llms(&models_dir)?
    } else {
        args.model
            .iter()
            .map(|spec| catalog.resolve_llm(spec, &models_dir))
            .collect::<Result<Vec<_>, _>>()?
    };

    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = runner::run(&models, &config, &CancelToken::new(), &mut |p| {
        bar.set_position((p.fraction * 1000.0) as u64);
        let left = p.eta_s.map_or_else(|| "estimating...".to_owned(), |s| format!("{s:.0} s left"));
        bar.set_message(format!("model {} of {}: {} {} ({left})", p.model_index + 1, p.models, p.model, p.step()));
    });
    bar.finish_and_clear();
    let report = report?;

    let written = runner::write_outputs(&report, &args.out)
        .with_context(|| format!("writing results to {}", args.out.display()))?;
    println!("{}", voxdeck_core::bench::report::markdown(&report));
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
