//! `voxdeck ask`: one question, answered by the local model or the cloud (routed as
//! `--mode` says, with fallback to local), streamed.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use voxdeck_core::{Config, bounds};
use voxdeck_core::llm::{AnswerMetrics, ChatMessage, ChatRequest, LocalLlm};
use voxdeck_core::models::Catalog;
use voxdeck_core::pipeline::loader::build_answerer;
use voxdeck_core::router::answerer::AnswerEvent;

use crate::bounded::within;
use crate::engine_args::EngineArgs;

#[derive(clap::Args)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true, num_args = 1.., value_name = "QUESTION")]
    question: Vec<String>,
    /// Catalog id or GGUF path of the local model (default: llm.model, else the best installed).
    #[arg(long, short)]
    model: Option<String>,
    /// Print one JSON object (answer, engine, route and metrics) on stdout; the answer streams
    /// to stderr.
    #[arg(long)]
    json: bool,
    /// Upper bound on the answer's length in tokens.
    #[arg(long, value_parser = within::<u32>(bounds::LLM_MAX_TOKENS))]
    max_tokens: Option<u32>,
    /// Threads for local inference (default: llm.threads).
    #[arg(long, value_parser = within::<u32>(bounds::LLM_THREADS))]
    threads: Option<u32>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// `--json` output: stable keys, documented in the README.
#[derive(Serialize)]
struct AskJson<'a> {
    model: &'a str,
    engine: &'a str,
    route_reason: &'a str,
    fallback: Option<&'a str>,
    fallback_ms: Option<f64>,
    error: Option<&'a str>,
    answer: &'a str,
    #[serde(flatten)]
    metrics: Option<&'a AnswerMetrics>,
}

pub fn run(args: AskArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        config.llm.threads = t;
    }
    if let Some(n) = args.max_tokens {
        config.llm.max_tokens = n;
    }
    args.engine.apply(&mut config);
    config.check()?;
    let spec = args.model.as_deref().unwrap_or(&config.llm.model);
    let model = Catalog::builtin().resolve_llm(spec, &config.models_dir())?;
    voxdeck_core::memory_fit::check_llm_alone(&model, &config)?;
    let llm = LocalLlm::load(&model, &config.llm).with_context(|| format!("loading {}", model.path.display()))?;
    let answerer = build_answerer(&config, Arc::new(llm), &model.name);

    let question = args.question.join(" ");
    let mut request = ChatRequest::new(vec![
        ChatMessage::system(config.llm.system_prompt.clone()),
        ChatMessage::user(question.clone()),
    ]);
    request.max_tokens = args.max_tokens;

    // The answer streams where the user reads it: stdout, or stderr when stdout carries JSON.
    let mut out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let answer = answerer.answer(request, &question, None, &mut |event| match event {
        AnswerEvent::Token { text, .. } => {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        AnswerEvent::Fallback { reason, notice } => {
            eprintln!("{} ({reason})", notice.unwrap_or("answering locally"));
        }
        AnswerEvent::Cut { reason, notice } => {
            let _ = writeln!(out);
            eprintln!("{notice} ({reason})");
        }
        AnswerEvent::ToolCall { call, result, .. } => {
            eprintln!("[{} {} -> {}]", call.name, call.arguments, result.content);
        }
        AnswerEvent::Routed(_) | AnswerEvent::Started { .. } => {}
    });
    let _ = writeln!(out);
    drop(out);

    if args.json {
        let json = AskJson {
            model: &answer.model,
            engine: answer.engine.as_str(),
            route_reason: &answer.route_reason,
            fallback: answer.fallback.as_deref(),
            fallback_ms: answer.fallback_ms,
            error: answer.error.as_deref(),
            answer: answer.text.trim(),
            metrics: answer.metrics.as_ref(),
        };
        println!("{}", serde_json::to_string(&json)?);
    } else if let Some(m) = &answer.metrics {
        let mut line = metrics_line(&answer.model, m);
        line = format!("{line} | {}: {}", answer.engine.as_str(), answer.route_reason);
        if let Some(f) = &answer.fallback {
            line = format!("{line} | fallback: {f}");
        }
        eprintln!("{line}");
    }
    match (&answer.metrics, &answer.error) {
        (None, Some(e)) => anyhow::bail!("{e}"),
        _ => Ok(()),
    }
}

/// One line of figures after the answer.
fn metrics_line(model: &str, m: &AnswerMetrics) -> String {
    let mut line = format!(
        "[{model}] prompt {} tok ({} cached) at {:.1} tok/s | first token {:.2} s | {} tok at {:.1} tok/s | total {:.2} s | {:?}",
        m.prompt_tokens,
        m.cached_tokens,
        m.prompt_tok_s,
        m.ttft_ms / 1000.0,
        m.gen_tokens,
        m.gen_tok_s,
        m.total_ms / 1000.0,
        m.finish,
    );
    if let Some(ttfb) = m.ttfb_ms {
        line.push_str(&format!(" | first byte {:.2} s", ttfb / 1000.0));
    } else {
        line.push_str(&format!(
            " | weights {:.0} MiB, KV cache {:.0} MiB | {}/{} layers on GPU",
            m.weights_bytes as f64 / 1048576.0,
            m.kv_cache_bytes as f64 / 1048576.0,
            m.gpu_layers,
            m.total_layers,
        ));
    }
    line
}
