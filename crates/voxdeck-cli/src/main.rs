//! `voxdeck`: the command line over voxdeck-core. Parsing and printing only; the work is in the
//! engine.

mod ask_cmd;
mod bench_cmd;
mod bench_latency_cmd;
mod bounded;
mod cloud_cmd;
mod devices_cmd;
mod engine_args;
mod eval_cmd;
mod history_cmd;
mod models_cmd;
mod record_cmd;
mod say_cmd;
mod serve;
mod talk_cmd;
mod transcribe_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use voxdeck_core::Config;
use voxdeck_core::errors::error_chain;

#[derive(Parser)]
#[command(name = "voxdeck", version, about = "On-device voice assistant: benchmark, ask, listen, speak, manage models")]
struct Cli {
    /// Config file (default: $VOXDECK_CONFIG, then $XDG_CONFIG_HOME/voxdeck/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ask the local LLM one question; the answer streams to stdout.
    Ask(ask_cmd::AskArgs),
    /// Benchmark LLMs for voice: tok/s, memory, response times, verdicts, report and charts;
    /// `bench latency`: release to first audible word over spoken questions.
    Bench(bench_cmd::BenchArgs),
    /// Evaluate the assistant: `eval tools` runs spoken requests through the fast path and the
    /// models and scores their tool calls.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
    /// Transcribe a WAV file with Whisper (in its worker process).
    Transcribe(transcribe_cmd::TranscribeArgs),
    /// Speak text with a Piper voice (espeak-ng without one): to the speaker, or a WAV file.
    Say(say_cmd::SayArgs),
    /// Talk: push-to-talk turns through Whisper, the LLM and the voice, with a timeline per
    /// turn. `--input q.wav` runs headless; without it, the microphone with Enter to talk.
    Talk(talk_cmd::TalkArgs),
    /// Show or clear the history of turns (transcripts, answers, timelines).
    History(history_cmd::HistoryArgs),
    /// List audio input and output devices.
    Devices(devices_cmd::DevicesArgs),
    /// Record from the microphone to a 16 kHz mono WAV file.
    Record(record_cmd::RecordArgs),
    /// The cloud provider: test it, store or forget its API key.
    #[command(subcommand)]
    Cloud(cloud_cmd::CloudCommand),
    /// List, fetch and verify models.
    #[command(subcommand)]
    Models(models_cmd::ModelsCommand),
    /// The control panel in a browser: the web UI and its WebSocket, on 127.0.0.1:8765 by
    /// default (beyond loopback, with an access token).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    voxdeck_core::logging::init("warn");
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&*e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Ask(args) => ask_cmd::run(args, config),
        Command::Bench(args) => bench_cmd::run(args, config),
        Command::Eval(cmd) => eval_cmd::run(cmd, config),
        Command::Transcribe(args) => transcribe_cmd::run(args, config),
        Command::Say(args) => say_cmd::run(args, config),
        Command::Talk(args) => talk_cmd::run(args, config),
        Command::History(args) => history_cmd::run(args, config),
        Command::Devices(args) => devices_cmd::run(args, config),
        Command::Record(args) => record_cmd::run(args, config),
        Command::Cloud(cmd) => cloud_cmd::run(cmd, config),
        Command::Models(cmd) => models_cmd::run(cmd, &config),
        Command::Serve(args) => serve::run(args, config, cli.config),
    }
}
