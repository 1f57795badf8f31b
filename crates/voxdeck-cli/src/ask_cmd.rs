//! `voxdeck ask`: one question to the local LLM, streamed.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;
use voxdeck_core::Config;
use voxdeck_core::llm::{AnswerMetrics, ChatEngine, ChatMessage, ChatRequest, LocalLlm};
use voxdeck_core::models::Catalog;

#[derive(clap::Args)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true, num_args = 1.., value_name = "QUESTION")]
    question: Vec<String>,
    /// Catalog id or GGUF path (default: llm.model, else the best installed LLM).
    #[arg(long, short)]
    model: Option<String>,
    /// Print one JSON object (answer and metrics) on stdout; the answer streams to stderr.
    #[arg(long)]
    json: bool,
    /// Upper bound on the answer's length in tokens.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Threads for inference (default: llm.threads).
    #[arg(long)]
    threads: Option<u32>,
}

/// `--json` output: stable keys, documented in the README.
#[derive(Serialize)]
struct AskJson<'a> {
    model: &'a str,
    engine: &'static str,
    answer: &'a str,
    #[serde(flatten)]
    metrics: &'a AnswerMetrics,
}

pub fn run(args: AskArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        config.llm.threads = t;
    }
    let spec = args.model.as_deref().unwrap_or(&config.llm.model);
    let model = Catalog::builtin().resolve_llm(spec, &config.models_dir())?;
    voxdeck_core::mem_budget::check_llm_alone(&model, &config)?;
    let llm = LocalLlm::load(&model, &config.llm).with_context(|| format!("loading {}", model.path.display()))?;

    let mut request = ChatRequest::new(vec![
        ChatMessage::system(config.llm.system_prompt.clone()),
        ChatMessage::user(args.question.join(" ")),
    ]);
    request.max_tokens = args.max_tokens;

    // The answer streams where the user reads it: stdout, or stderr when stdout carries JSON.
    let mut out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let (answer, metrics) = llm.chat(request)?.collect_blocking(|text, _, _| {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    })?;
    let _ = writeln!(out);
    drop(out);

    if args.json {
        let json = AskJson {
            model: &model.name,
            engine: "local",
            answer: answer.trim(),
            metrics: &metrics,
        };
        println!("{}", serde_json::to_string(&json)?);
    } else {
        eprintln!("{}", metrics_line(&model.name, &metrics));
    }
    Ok(())
}

/// One line of figures after the answer.
fn metrics_line(model: &str, m: &AnswerMetrics) -> String {
    format!(
        "[{model}] prompt {} tok ({} cached) at {:.1} tok/s | first token {:.2} s | {} tok at {:.1} tok/s | total {:.2} s | {:?} | weights {:.0} MiB, KV cache {:.0} MiB | {}/{} layers on GPU",
        m.prompt_tokens,
        m.cached_tokens,
        m.prompt_tok_s,
        m.ttft_ms / 1000.0,
        m.gen_tokens,
        m.gen_tok_s,
        m.total_ms / 1000.0,
        m.finish,
        m.weights_bytes as f64 / 1048576.0,
        m.kv_cache_bytes as f64 / 1048576.0,
        m.gpu_layers,
        m.total_layers,
    )
}
