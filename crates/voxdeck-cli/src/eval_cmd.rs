//! `voxdeck eval tools`: the tool-call eval (voxdeck-core's `eval`) over the installed models,
//! its table printed and written as Markdown and JSON.

use std::path::PathBuf;

use anyhow::Context;
use voxdeck_core::Config;
use voxdeck_core::eval::runner::{self, EvalOptions};
use voxdeck_core::eval::{report, set};
use voxdeck_core::models::Catalog;

#[derive(clap::Subcommand)]
pub enum EvalCommand {
    /// Spoken requests (eval/tools.toml) through the fast path and each model, free and under
    /// the grammar: valid calls, right tool, arguments, false calls, median added latency.
    Tools(ToolsArgs),
}

#[derive(clap::Args)]
pub struct ToolsArgs {
    /// Models to run: catalog ids or GGUF paths, comma-separated (default: every installed LLM).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Run at most N requests, spread over the set (the no-tool ones get their share).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Directory for report.md and eval.json.
    #[arg(long, default_value = "voxdeck-eval")]
    out: PathBuf,
    /// The fast path only: no model is loaded.
    #[arg(long)]
    fast_path_only: bool,
}

pub fn run(command: EvalCommand, config: Config) -> anyhow::Result<()> {
    let EvalCommand::Tools(args) = command;
    config.check()?;
    let all = set::builtin();
    let requests = set::select(&all, args.limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)));
    let models = if args.fast_path_only {
        Vec::new()
    } else {
        let catalog = Catalog::builtin();
        let models_dir = config.models_dir();
        if args.models.is_empty() {
            catalog.resolve_installed_llms(&models_dir)?
        } else {
            args.models
                .iter()
                .map(|spec| catalog.resolve_llm(spec.trim(), &models_dir))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let options = EvalOptions { fast_path_only: args.fast_path_only };
    let report = runner::run(&requests, all.len(), &models, &config, &options, &mut |step| eprintln!("{step}"))?;
    let written = report::write_outputs(&report, &args.out)
        .with_context(|| format!("writing results to {}", args.out.display()))?;
    println!("{}", report::markdown(&report));
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
