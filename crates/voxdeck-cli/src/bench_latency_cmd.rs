//! `voxdeck bench latency`: the spoken question set through the whole voice loop; the work is
//! in `voxdeck_core::bench::latency`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use voxdeck_core::Config;
use voxdeck_core::bench::latency::runner::{self, LatencyOptions};
use voxdeck_core::bench::latency::{self, QuestionSet, SetFilter};
use voxdeck_core::config::Mode;
use voxdeck_core::llm::CancelToken;

use crate::engine_args::EngineArgs;

#[derive(clap::Args)]
pub struct LatencyArgs {
    /// Directory for report.md, latency.json and latency.png/.svg.
    #[arg(long, default_value = "voxdeck-latency")]
    out: PathBuf,
    /// A question set folder with a manifest.toml (default: the set built into voxdeck, from
    /// the repository's bench/questions).
    #[arg(long, value_name = "DIR")]
    questions: Option<PathBuf>,
    /// Only the first N single questions and N conversation turns (a quick run).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
    /// Only this voice's recordings (piper, espeak); repeat for several (default: all).
    #[arg(long, value_name = "VOICE")]
    voice: Vec<String>,
    /// Sentence streaming only: skip the whole-answer comparison.
    #[arg(long)]
    streaming_only: bool,
    /// Passes over the set.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Measure from the first question on, without the unrecorded warm-up turn.
    #[arg(long)]
    no_warm_up: bool,
    /// Upper bound on each answer's length in tokens (default: llm.max_tokens).
    #[arg(long, value_parser = crate::bounded::within::<u32>(voxdeck_core::bounds::LLM_MAX_TOKENS))]
    max_tokens: Option<u32>,
    /// The answering engine; local unless --mode says otherwise.
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: LatencyArgs, mut config: Config) -> anyhow::Result<()> {
    config.router.mode = Mode::Local;
    args.engine.apply(&mut config);
    if let Some(n) = args.max_tokens {
        config.llm.max_tokens = n;
    }
    config.check()?;
    let mut set = match &args.questions {
        Some(dir) => QuestionSet::from_dir(dir)?,
        None => QuestionSet::embedded()?,
    };
    set.filter(&SetFilter { limit: args.limit.map(|n| n as usize), voices: args.voice.clone() })?;
    let options =
        LatencyOptions { streaming_only: args.streaming_only, repeat: args.repeat, warm_up: !args.no_warm_up };

    // One line rewritten in place on a terminal; a line per step in a log.
    let tty = std::io::stderr().is_terminal();
    let report = runner::run(&config, &set, &options, &CancelToken::new(), &mut |p| {
        let mut err = std::io::stderr().lock();
        let line = format!("[{}/{}] {:.0} s · {}", p.done, p.total, p.elapsed_s, p.step);
        let _ = if tty { write!(err, "\r\x1b[K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    });
    if tty {
        eprintln!();
    }
    let report = report?;
    let written = latency::write_outputs(&report, &args.out)
        .with_context(|| format!("writing results to {}", args.out.display()))?;
    println!("{}", latency::report::markdown(&report));
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
