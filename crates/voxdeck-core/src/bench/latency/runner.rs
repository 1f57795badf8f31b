//! Plays the question set through the whole voice loop and keeps every turn's record.
//!
//! The engines load once; each conversation is a session of its own on them (a fresh Whisper
//! worker, the same LLM and voice), so single questions carry no history while the LLM's cache
//! still holds the previous prompt, as it would in use. Single questions share one session
//! with `pipeline.context_turns = 0`: each is answered as the first turn of a conversation. The
//! conversation gets a session per voice with the configured context. Every file is fed at real
//! time and released at its end, and answers go to a WAV sink (in a temporary folder), so the
//! records carry `first_audible_ms` once the sinks mark it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::set::{Question, QuestionKind, QuestionSet};
use super::{AnswerMode, LatencyConfig, LatencyError, LatencyHost, LatencyReport, SCHEMA_VERSION, Summary, TurnSample};
use crate::audio::open_input_paced;
use crate::audio::sink::{AudioSink, WavSink};
use crate::config::Config;
use crate::llm::CancelToken;
use crate::pipeline::assemble::start_on;
use crate::pipeline::{LoadedEngines, Session, SessionIo, SessionOptions, ThreadPlan, load_engines};
use crate::stt::{Stt, SttOptions};

/// How the set is run.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// Sentence streaming only, without the whole-answer comparison.
    pub streaming_only: bool,
    /// Passes over the single questions (the conversation is asked once per pass too).
    pub repeat: u32,
    /// One unrecorded single question (the set's last) before the measured ones in each answer
    /// mode, so the first measured turn does not pay the engines' first-run costs.
    pub warm_up: bool,
}

impl Default for LatencyOptions {
    fn default() -> Self {
        LatencyOptions { streaming_only: false, repeat: 1, warm_up: true }
    }
}

/// Where the run is, for a progress line or the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyProgress {
    /// Turns finished (warm-ups included) and to do.
    pub done: u32,
    pub total: u32,
    /// What it is doing, in words: "streaming · q03 (espeak)", "loading the models".
    pub step: String,
    pub elapsed_s: f64,
}

impl LatencyProgress {
    pub fn fraction(&self) -> f64 {
        if self.total == 0 { 0.0 } else { f64::from(self.done) / f64::from(self.total) }
    }
}

/// The longest a turn may take before the run gives up on it.
const TURN_TIMEOUT: Duration = Duration::from_secs(180);
/// How often a turn in flight checks for a cancel.
const POLL: Duration = Duration::from_millis(200);

/// One session's questions: what is asked, in order, and whether the first is a warm-up.
struct Plan<'a> {
    mode: AnswerMode,
    conversation: bool,
    questions: Vec<(&'a Question, u32)>,
    warm_up: bool,
}

/// Runs the set (see the module doc) with `config` as it is (mode, models, keys).
pub fn run(
    config: &Config,
    set: &QuestionSet,
    options: &LatencyOptions,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&LatencyProgress),
) -> Result<LatencyReport, LatencyError> {
    let started = Instant::now();
    let mut config = config.clone();
    config.pipeline.history = false;
    let plans = plans(set, options);
    let total = plans.iter().map(|p| p.questions.len() as u32).sum();
    let mut done = 0;
    let tell = |done: u32, step: String, progress: &mut dyn FnMut(&LatencyProgress)| {
        progress(&LatencyProgress { done, total, step, elapsed_s: started.elapsed().as_secs_f64() })
    };
    tell(0, "loading the models".into(), progress);
    let engines = load_engines(&config, &mut |step| tell(0, step.to_owned(), progress))?;
    let threads = engines.threads;
    let facts = config_facts(&config, &engines, set, options);
    let mut stt = Some(engines.stt);
    let tmp = tempfile::Builder::new()
        .prefix("voxdeck-latency-")
        .tempdir()
        .map_err(|source| LatencyError::Io { path: std::env::temp_dir(), source })?;

    let mut turns = Vec::new();
    for plan in &plans {
        if cancel.is_cancelled() {
            return Err(LatencyError::Cancelled);
        }
        let stt = match stt.take() {
            Some(stt) => stt,
            None => Stt::start(
                SttOptions::from_config(&threads.apply(&config)).map_err(crate::pipeline::PipelineError::from)?,
            )
            .map_err(crate::pipeline::PipelineError::from)?,
        };
        let engines = LoadedEngines {
            answerer: engines.answerer.clone(),
            local: engines.local.clone(),
            stt,
            tts: engines.tts.clone(),
            threads,
        };
        let session_config = session_config(&config, plan);
        let mut session_options = SessionOptions::from_config(&session_config);
        session_options.metrics_hz = None;
        let files: Vec<_> = plan.questions.iter().map(|(q, _)| set.path(q)).collect();
        let answers = tmp.path().join("answers.wav");
        let sink: Arc<dyn AudioSink> = Arc::new(WavSink::create(&answers));
        let io = SessionIo { source: open_input_paced(&files, &session_config.audio, true), sink, history: None };
        let session = start_on(engines, session_options, io, &session_config)?.session;
        for (i, (q, repeat)) in plan.questions.iter().enumerate() {
            let warm = plan.warm_up && i == 0;
            let what = if warm { "warm-up".to_owned() } else { format!("{} ({})", q.id, q.voice) };
            let kind = if plan.conversation { "conversation" } else { "single" };
            tell(done, format!("{} · {kind} · {what}", plan.mode.label()), progress);
            let record = ask(&session, q, cancel)?;
            done += 1;
            if warm {
                continue;
            }
            let turn = if plan.conversation { i as u32 + 1 } else { 1 };
            turns.push(TurnSample {
                id: q.id.clone(),
                kind: q.kind,
                voice: q.voice.clone(),
                answer_mode: plan.mode,
                conversation_turn: turn,
                repeat: *repeat,
                text: q.text.clone(),
                duration_s: q.duration_s,
                wer: crate::stt::wer::word_error_rate(&q.text, &record.transcript),
                record,
            });
        }
        drop(session);
        let _ = std::fs::remove_file(&answers);
    }
    tell(done, "done".into(), progress);
    Ok(LatencyReport {
        schema_version: SCHEMA_VERSION,
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        host: LatencyHost {
            cpu: crate::llm::host_cpu_name(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            gpu_offload: crate::llm::gpu_offload_supported(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        },
        config: facts,
        summary: Summary::of_all(&turns),
        turns,
    })
}

/// The sessions to run, in order: per answer mode, the single questions voice by voice (all
/// passes, after a warm-up), then the conversation once per pass and voice.
fn plans<'a>(set: &'a QuestionSet, options: &LatencyOptions) -> Vec<Plan<'a>> {
    let modes: &[AnswerMode] =
        if options.streaming_only { &[AnswerMode::Streaming] } else { &[AnswerMode::Streaming, AnswerMode::Whole] };
    let repeat = options.repeat.max(1);
    // Voice by voice: the same question in the next voice right after would find its whole
    // prompt in the LLM's cache, which a user never asks for.
    let singles: Vec<&Question> = set.voices().iter().flat_map(|v| set.of(QuestionKind::Single, Some(v))).collect();
    let mut plans = Vec::new();
    for &mode in modes {
        if !singles.is_empty() {
            let mut questions = Vec::new();
            if options.warm_up {
                questions.push((singles[singles.len() - 1], 0));
            }
            for r in 1..=repeat {
                questions.extend(singles.iter().map(|q| (*q, r)));
            }
            plans.push(Plan { mode, conversation: false, questions, warm_up: options.warm_up });
        }
        for r in 1..=repeat {
            for voice in set.voices() {
                let turns = set.of(QuestionKind::Conv, Some(&voice));
                if !turns.is_empty() {
                    let questions = turns.into_iter().map(|q| (q, r)).collect();
                    plans.push(Plan { mode, conversation: true, questions, warm_up: false });
                }
            }
        }
    }
    plans
}

/// The config one session runs with: its answer mode, and no context for single questions.
fn session_config(config: &Config, plan: &Plan<'_>) -> Config {
    let mut c = config.clone();
    c.pipeline.stream_sentences = plan.mode == AnswerMode::Streaming;
    if !plan.conversation {
        c.pipeline.context_turns = 0;
    }
    // The set's questions are for the LLM ("What time is it?" included): the fast path would
    // answer some without one, and its microseconds are `voxdeck eval tools`' to measure. The
    // tools are still offered to the LLM as configured, so its prompt is the one users get.
    c.tools.fast_path = false;
    c
}

/// Presses once (the source plays the next file at real time and releases at its end) and
/// waits for the turn's record.
fn ask(session: &Session, q: &Question, cancel: &CancelToken) -> Result<crate::turn_record::TurnRecord, LatencyError> {
    let mut events = session.subscribe();
    let turn = match session.press() {
        Ok(turn) => turn,
        // The file could not be played: the press ended the turn as failed, its record follows.
        Err(crate::pipeline::PipelineError::Audio(_)) => session.state().0,
        Err(e) => return Err(e.into()),
    };
    let deadline = Instant::now() + TURN_TIMEOUT;
    loop {
        if cancel.is_cancelled() {
            return Err(LatencyError::Cancelled);
        }
        if let Some(record) = Session::follow_turn(&mut events, turn, POLL, |_| {}) {
            return Ok(record);
        }
        if Instant::now() >= deadline {
            return Err(LatencyError::Timeout {
                id: q.id.clone(),
                voice: q.voice.clone(),
                seconds: TURN_TIMEOUT.as_secs(),
            });
        }
    }
}

/// The models, threads and latency-relevant config keys, for the report.
fn config_facts(
    config: &Config,
    engines: &LoadedEngines,
    set: &QuestionSet,
    options: &LatencyOptions,
) -> LatencyConfig {
    let ThreadPlan { llm, tts, stt } = engines.threads;
    LatencyConfig {
        mode: serde_json::to_value(config.router.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        llm: engines.answerer.local_model().to_owned(),
        stt: engines.stt.model_name().to_owned(),
        voice: engines.tts.voice_name().to_owned(),
        threads_llm: llm,
        threads_tts: tts,
        threads_stt: stt,
        keys: config_keys(config),
        questions: set.origin.clone(),
        repeat: options.repeat.max(1),
        warm_up: options.warm_up,
    }
}

/// Every scalar key of the sections that shape a turn's latency ([llm], [stt], [tts],
/// [pipeline], [audio]), flattened to `section.key`: whatever keys later changes add (each
/// latency cut has one) are recorded without listing them here.
fn config_keys(config: &Config) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(config) else { return keys };
    for section in ["llm", "stt", "tts", "pipeline", "audio"] {
        if let Some(toml::Value::Table(t)) = table.get(section) {
            for (k, v) in t {
                if !matches!(v, toml::Value::Table(_)) {
                    keys.insert(format!("{section}.{k}"), v.to_string());
                }
            }
        }
    }
    keys
}
