//! `voxdeck transcribe FILE`: speech to text with Whisper, which runs in its worker process
//! (`voxdeck-stt`, installed next to `voxdeck`).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;
use voxdeck_core::{Config, bounds};
use voxdeck_core::stt::{Segment, Stt, SttOptions, Timings};

use crate::bounded::within;

#[derive(clap::Args)]
pub struct TranscribeArgs {
    /// WAV file: 4 to 768 kHz, mono or stereo, integer or float samples.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print one JSON object (text, segments, timings) on stdout.
    #[arg(long)]
    json: bool,
    /// Catalog id or ggml model path (default: stt.model, else the best installed Whisper model).
    #[arg(long, short)]
    model: Option<String>,
    /// Whisper threads (default: stt.threads).
    #[arg(long, value_parser = within::<u32>(bounds::STT_THREADS))]
    threads: Option<u32>,
}

/// `--json` output.
#[derive(Serialize)]
struct TranscribeJson<'a> {
    model: &'a str,
    model_path: String,
    text: &'a str,
    segments: &'a [Segment],
    timings: TimingsJson,
}

/// The transcript's timings, with `load_ms` covering this command's worker start (spawn until
/// the model is loaded), plus the worker's own model load time (part of it).
#[derive(Serialize)]
struct TimingsJson {
    #[serde(flatten)]
    transcript: Timings,
    model_load_ms: f64,
}

pub fn run(args: TranscribeArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(model) = args.model {
        config.stt.model = model;
    }
    if let Some(threads) = args.threads {
        config.stt.threads = threads;
    }
    let options = SttOptions::from_config(&config)?;
    let model_path = options.model.display().to_string();
    let mut stt = Stt::start(options).with_context(|| format!("starting Whisper with {model_path}"))?;
    let transcript = stt
        .transcribe_file(&args.file)
        .with_context(|| format!("transcribing {}", args.file.display()))?;
    let start = stt.worker().last_start();
    let (worker_start_ms, model_load_ms) = start.map_or((0.0, 0.0), |s| (s.start_ms, s.load_ms));

    if args.json {
        let json = TranscribeJson {
            model: stt.model_name(),
            model_path,
            text: &transcript.text,
            segments: &transcript.segments,
            timings: TimingsJson {
                transcript: Timings {
                    load_ms: transcript.timings.load_ms + worker_start_ms,
                    ..transcript.timings
                },
                model_load_ms,
            },
        };
        println!("{}", serde_json::to_string(&json)?);
    } else {
        println!("{}", transcript.text);
        let t = &transcript.timings;
        let speech = if transcript.text.is_empty() { " | no speech" } else { "" };
        eprintln!(
            "[{}] {:.1} s of audio in {:.2} s (RTF {:.2}) | encode {:.0} ms, decode {:.0} ms | IPC {:.1} ms | \
             {} window(s), {} silent | worker start {:.0} ms (model load {:.0} ms){speech}",
            stt.model_name(),
            t.audio_s,
            t.total_ms / 1000.0,
            t.rtf,
            t.encode_ms,
            t.decode_ms,
            t.ipc_ms,
            t.windows,
            t.skipped_windows,
            worker_start_ms,
            model_load_ms,
        );
    }
    Ok(())
}
