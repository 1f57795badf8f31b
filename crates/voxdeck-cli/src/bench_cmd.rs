//! `voxdeck bench`: the model benchmark with a progress bar, a report, JSON and charts.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use voxdeck_core::{Config, bounds};
use voxdeck_core::bench::runner;
use voxdeck_core::models::Catalog;

use crate::bounded::within;

#[derive(clap::Args)]
pub struct BenchArgs {
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

pub fn run(args: BenchArgs, mut config: Config) -> anyhow::Result<()> {
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

    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = runner::run(&models, &config, &mut |p| {
        bar.set_length(u64::from(p.total));
        bar.set_position(u64::from(p.done));
        bar.set_message(format!("{} {}", p.model, p.step));
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
