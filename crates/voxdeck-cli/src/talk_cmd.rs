//! `voxdeck talk`: the voice loop. With `--input`, one turn per WAV file, headless (the file
//! is the utterance, its end the release; `--realtime` feeds it as a microphone would);
//! without, the microphone with Enter as push-to-talk.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::bounded::within;
use crate::engine_args::EngineArgs;
use voxdeck_core::{Config, bounds};
use voxdeck_core::audio::{open_input_paced, open_output};
use voxdeck_core::history::History;
use voxdeck_core::pipeline::{
    Event, Outcome, PipelineError, Session, SessionIo, SessionOptions, TurnRecord, TurnState, assemble,
};

#[derive(clap::Args)]
pub struct TalkArgs {
    /// A WAV file to use as the question (any rate and channels); repeat for several turns of
    /// one conversation. Without it: the microphone, Enter to talk and Enter to stop.
    #[arg(long, short, value_name = "FILE")]
    input: Vec<PathBuf>,
    /// Write the spoken answers to this WAV file instead of playing them.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print one JSON object per turn (its record and timeline) on stdout.
    #[arg(long)]
    json: bool,
    /// Upper bound on each answer's length in tokens (default: llm.max_tokens).
    #[arg(long, value_parser = within::<u32>(bounds::LLM_MAX_TOKENS))]
    max_tokens: Option<u32>,
    /// Wait for the whole answer before speaking (for comparison with sentence streaming).
    #[arg(long)]
    whole_answer: bool,
    /// Feed each --input file at real time, as a microphone would, released at its end (so
    /// press_ms is about minus its length, and work done while "held" counts as it would live).
    #[arg(long, requires = "input")]
    realtime: bool,
    /// Continue the last conversation in history (its turns are the context).
    #[arg(long = "continue")]
    resume: bool,
    /// After the last --input, stay until every running timer has rung and been said (each
    /// is a turn of its own, `announcement: true` in --json).
    #[arg(long, requires = "input")]
    wait_timers: bool,
    /// Catalog id or GGUF path of the LLM (default: llm.model, else the best installed).
    #[arg(long, short)]
    model: Option<String>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Longest wait for one headless turn.
const TURN_TIMEOUT: Duration = Duration::from_secs(600);

pub fn run(args: TalkArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(n) = args.max_tokens {
        config.llm.max_tokens = n;
    }
    if let Some(model) = &args.model {
        config.llm.model = model.clone();
    }
    args.engine.apply(&mut config);
    config.check()?;
    if args.whole_answer {
        config.pipeline.stream_sentences = false;
    }
    for input in &args.input {
        anyhow::ensure!(input.is_file(), "--input {}: no such file", input.display());
    }

    // The speaker (or the output file) first: a machine without one should fail before
    // minutes of loading.
    let sink = open_output(args.output.as_deref(), &args.input, &config.audio).with_context(|| match args.output {
        Some(_) => "--output".to_owned(),
        None => "opening the speaker (use --output FILE to write the answers to a WAV file)".to_owned(),
    })?;
    // One file per press, each capped at audio.max_utterance_s like the microphone.
    let source = open_input_paced(&args.input, &config.audio, args.realtime);
    let history = History::open_configured(&config.pipeline)?;
    let resume = match (&history, args.resume) {
        (Some(h), true) => h.last_conversation()?,
        (None, true) => anyhow::bail!("--continue needs the history (pipeline.history = true)"),
        _ => None,
    };

    let mut options = SessionOptions::from_config(&config);
    options.resume = resume;
    options.metrics_hz = None;
    let io = SessionIo { source, sink, history };
    let assembled = assemble(&config, options, io, &mut |step| eprintln!("voxdeck: {step}…"))?;
    let (session, sink) = (assembled.session, assembled.sink);

    let result = if args.input.is_empty() {
        interactive(&session, args.json)
    } else {
        headless(&session, &args.input, args.json, args.wait_timers)
    };
    drop(session);
    let finished = match &args.output {
        Some(path) => sink.finish().with_context(|| format!("writing {}", path.display())),
        None => Ok(()),
    };
    // Failed turns first: they already name the file if it was the output that failed.
    result.and(finished)
}

/// One turn per file, in order: each press plays the source's next file. A file that cannot be
/// played fails its turn, reported like any other, and the next file still gets its turn.
/// Something the assistant says on its own (a timer that came due while voxdeck was off) is
/// heard out before the next press, as a person would wait.
fn headless(session: &Session, inputs: &[PathBuf], json: bool, wait_timers: bool) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in inputs {
        let mut events = session.subscribe();
        settle(session, &mut events, json)?;
        let turn = match session.press() {
            Ok(turn) => turn,
            // The file could not be opened: the press ended that turn as failed, and its error
            // and record are on the stream.
            Err(PipelineError::Audio(_)) => session.state().0,
            Err(e) => return Err(e.into()),
        };
        let record = Session::follow_turn(&mut events, turn, TURN_TIMEOUT, |event| show(event, json))
            .with_context(|| format!("no answer to {} within {} s", path.display(), TURN_TIMEOUT.as_secs()))?;
        report(&record, json)?;
        if record.outcome == Outcome::Failed {
            failed += 1;
        }
    }
    if wait_timers {
        wait_for_timers(session, json)?;
    }
    anyhow::ensure!(failed == 0, "{failed} of {} turns failed", inputs.len());
    Ok(())
}

/// Waits for the turn in flight (an announcement) and any queued after it to end, reporting each.
fn settle(session: &Session, events: &mut tokio::sync::broadcast::Receiver<Event>, json: bool) -> anyhow::Result<()> {
    loop {
        let (turn, state) = session.state();
        if state == TurnState::Idle {
            return Ok(());
        }
        let record = Session::follow_turn(events, turn, TURN_TIMEOUT, |event| show(event, json))
            .with_context(|| format!("turn {turn} did not end within {} s", TURN_TIMEOUT.as_secs()))?;
        report(&record, json)?;
    }
}

/// Stays until no timer is running and nothing is being said, reporting each announcement.
fn wait_for_timers(session: &Session, json: bool) -> anyhow::Result<()> {
    let Some(toolbox) = session.toolbox() else { return Ok(()) };
    let mut events = session.subscribe();
    loop {
        settle(session, &mut events, json)?;
        let now = voxdeck_core::turn_record::unix_ms_now();
        let running: Vec<_> =
            toolbox.timers().into_iter().filter(|t| t.state == voxdeck_core::tools::TimerState::Running).collect();
        let Some(last_due) = running.iter().map(|t| t.due_unix_ms).max() else { return Ok(()) };
        eprintln!("voxdeck: waiting {:.0} s for {} timer(s)…", ((last_due - now).max(0) as f64) / 1000.0, running.len());
        // The next announcement starts a turn: a light poll of the state (the CLI has nothing
        // else to do), with a minute's grace past the last due time.
        let limit = Duration::from_millis((last_due - now).max(0) as u64) + Duration::from_secs(60);
        let started = std::time::Instant::now();
        loop {
            if session.state().1 != TurnState::Idle {
                break;
            }
            anyhow::ensure!(started.elapsed() < limit, "a timer did not ring within a minute of its due time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Enter toggles push-to-talk; Enter while the assistant answers interrupts it and listens.
fn interactive(session: &Session, json: bool) -> anyhow::Result<()> {
    eprintln!("Press Enter to talk, Enter again when done. Enter while I answer interrupts me. Ctrl-D quits.");
    let mut events = session.subscribe();
    let printer = std::thread::spawn(move || {
        while let Ok(event) = events.blocking_recv() {
            match event {
                Event::TurnComplete { record } => {
                    let _ = report(&record, json);
                }
                other => show(&other, json),
            }
        }
    });
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        line.context("reading the keyboard")?;
        match session.state().1 {
            TurnState::Listening => session.release(),
            _ => {
                if let Err(e) = session.press() {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    let _ = printer; // ends when the session closes its stream
    Ok(())
}

/// Live text on stderr: the transcript, the answer as it streams, notices and errors.
fn show(event: &Event, json: bool) {
    let mut err = std::io::stderr().lock();
    let _ = match event {
        Event::State { state: TurnState::Listening, .. } if !json => writeln!(err, "(listening…)"),
        Event::Transcript { text, .. } => writeln!(err, "you: {text}"),
        Event::AnswerDelta { text, tokens, .. } => {
            if *tokens == 1 {
                let _ = write!(err, "assistant: ");
            }
            write!(err, "{text}").and_then(|()| err.flush())
        }
        Event::Notice { message, .. } => writeln!(err, "\n{message}"),
        Event::Error { stage, message, .. } => writeln!(err, "\nerror ({stage}): {message}"),
        _ => Ok(()),
    };
}

/// The turn's record: JSON on stdout, or a timeline line on stderr.
fn report(record: &TurnRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(record)?);
        return Ok(());
    }
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0} ms"));
    let mut line = format!(
        "\n[turn {} {:?}] stt {} | first token {} | first sentence {} | first audio {} | heard {} | last audio {}",
        record.turn,
        record.outcome,
        ms(record.stt_ms),
        ms(record.first_token_ms),
        ms(record.first_sentence_ms),
        ms(record.first_audio_ms),
        ms(record.first_audible_ms),
        ms(record.last_audio_ms),
    );
    if let (Some(n), Some(rate)) = (record.gen_tokens, record.gen_tok_s) {
        line.push_str(&format!(" | {n} tok at {rate:.1} tok/s"));
    }
    if let Some(rtf) = record.tts_rtf {
        line.push_str(&format!(" | TTS RTF {rtf:.3}"));
    }
    if let (Some(engine), Some(model)) = (&record.engine, &record.model) {
        line.push_str(&format!(" | {engine}: {model}"));
    }
    let gpu = &record.gpu;
    if let (Some(n), Some(total)) = (gpu.llm_layers.filter(|n| *n > 0), gpu.llm_total_layers) {
        line.push_str(&format!(" | {n}/{total} layers on GPU"));
    }
    if let Some(device) = &gpu.stt_device {
        line.push_str(&format!(" | Whisper on {device}"));
    }
    if let Some(vram) = gpu.reading.as_ref().filter(|r| !r.unified_memory).and_then(|r| r.process_memory_bytes) {
        line.push_str(&format!(" | VRAM {} MiB", vram >> 20));
    }
    if let Some(e) = &record.error {
        line.push_str(&format!(" | {e}"));
    }
    eprintln!("{line}");
    Ok(())
}
