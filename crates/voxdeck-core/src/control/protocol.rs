//! The control protocol: what a front end sends ([`Command`]), what it gets back ([`Reply`]) and
//! what it is told unasked ([`Outgoing`]: the engine's events plus the panel's own).
//!
//! One protocol for the Tauri app (commands and one event channel) and `voxdeck serve` (JSON
//! over a WebSocket). The TypeScript types in `ui/bindings/` are generated from these
//! (ts-rs, by `cargo test`) and the UI's modules are type-checked against them (`tsc` over their
//! JSDoc, in CI), so the UI and the engine cannot drift apart silently.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::bench::latency::report::LatencyTable;
use crate::bench::table::BenchTable;
use crate::bounds::Limit;
use crate::config::{CloudProvider, Mode, TtsEngine};
use crate::llm::cloud::KeyStore;
use crate::pipeline::{Event, TurnRecord, TurnState};
use crate::tools::{Fact, TimerView};

/// A request from a front end. Tagged by `cmd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "cmd", rename_all = "snake_case")]
#[ts(export)]
pub enum Command {
    /// Push-to-talk down (barges in while the assistant answers).
    Press,
    /// Push-to-talk up.
    Release,
    /// Local, cloud or auto, from the next turn on.
    SetMode { mode: Mode },
    /// Loads the models (in the background; progress arrives as `engine` events).
    LoadModels,
    /// Unloads them, freeing their memory.
    UnloadModels,
    /// Runs the model benchmark on the installed LLMs (progress as `bench` events).
    RunBench { runs: Option<u32> },
    /// Stops the running benchmark at its next safe point (between tokens, or once a model load
    /// has finished); it frees what it loaded and ends as `cancelled`. Nothing running: no-op.
    CancelBench,
    /// Writes the last bench result as Markdown, JSON or PNG charts and returns it.
    ExportBench { format: ExportFormat },
    /// Runs the latency benchmark (release -> first audible word) on the embedded question
    /// set: the first `limit` questions and conversation turns, one `voice` if given
    /// (progress as `latency_bench` events).
    RunLatencyBench { limit: Option<u32>, voice: Option<String> },
    /// Stops the latency benchmark after the turn in flight. Nothing running: no-op.
    CancelLatencyBench,
    /// The settings, the model catalog with install state, and the audio devices.
    GetSettings,
    /// Changes settings and saves them to the config file; `invalid` names the fields that
    /// would not load, with nothing saved.
    SetSettings { settings: Settings },
    /// Checks settings by the config loader's rules without saving: `ok` or `invalid`.
    ValidateSettings { settings: Settings },
    /// Loads the models the saved settings name in place of the running ones, without leaving
    /// none: the new set is checked first, and the old one comes back if it fails to load
    /// (progress as `switch` events).
    ReloadModels,
    /// Downloads the models `settings` names that are not installed, then saves the settings and
    /// reloads as `reload_models` does (progress as `download` and `switch` events).
    SwitchModels { settings: Settings },
    /// Stores the cloud API key in the OS keyring, or where there is none in the key file
    /// (mode 0600). Write-only: no command reads it back; the reply says where it was kept.
    SetCloudKey { key: String },
    /// Removes the stored cloud API key (keyring and key file).
    ForgetCloudKey,
    /// Asks the cloud API whether the key works (lists its models, times a first token).
    CheckCloud,
    /// Downloads a catalog model (progress as `download` events).
    FetchModel { id: String },
    /// Everything a newly connected front end needs to draw itself.
    Status,
    /// First run: downloads the missing files of a starter set (progress as `starter` events),
    /// then loads the models.
    InstallStarter { set: StarterSetId },
    /// How this front end shows the live charts: one chart's size in CSS pixels, the screen's
    /// device pixel ratio and whether the UI is dark. The charts are redrawn for it (SVG
    /// viewBox = that size). Sent again on every resize; with several front ends connected the
    /// last report wins, as the charts are drawn once for all of them.
    ChartView { width: f64, height: f64, pixel_ratio: f64, dark: bool },
    /// Cancels a running timer (the timers widget's button). Replies `tools`.
    CancelTimer { id: i64 },
    /// Stores a fact, checked as the `remember` tool checks one. Replies `tools`.
    AddFact { text: String },
    /// Replaces a fact's text, with the same checks. Replies `tools`.
    EditFact { id: i64, text: String },
    /// Deletes one fact. Replies `tools`.
    DeleteFact { id: i64 },
    /// Asks to forget every fact, as "forget everything" by voice does: the assistant asks for a
    /// confirmation (`confirm_asked`), which `confirm` or a spoken "yes" carries out. Replies `tools`.
    ForgetAll,
    /// Carries out the action the assistant asked to confirm (`forget_all`). Replies `tools`.
    Confirm { action: String },
    /// Keeps everything: drops the pending confirmation. Replies `tools`.
    Decline,
    /// The timers, facts and pending confirmation now (also in `status`).
    GetTools,
}

/// The answer to a [`Command`]. Tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum Reply {
    /// Done (or started, for long jobs whose progress arrives as events).
    Ok,
    /// `press` started listening in this turn.
    Turn { turn: u64 },
    Status { status: Box<PanelStatus> },
    Settings { view: Box<SettingsView> },
    /// `set_settings`: saved; `reload` when the change applies only after reloading models.
    Saved { path: Option<String>, reload: bool },
    /// Settings refused by the config loader's rules, each beside its field.
    Invalid { fields: Vec<FieldProblem> },
    Cloud { cloud: CloudStatus },
    /// An exported bench result: written to `path`; `content` is UTF-8 text, or base64 for
    /// PNG, so a browser can offer it as a download.
    Exported { path: String, file_name: String, mime: String, content: String, base64: bool },
    /// The tools' state after a tool command.
    Tools { tools: ToolsView },
}

/// Bench export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportFormat {
    Markdown,
    Json,
    /// The tok/s chart.
    PngTokS,
    /// The response-time chart.
    PngResponseTime,
}

/// Everything sent to a front end unasked: the engine's [`Event`]s and the panel's own.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum Outgoing {
    Engine(Event),
    Panel(PanelEvent),
}

/// The panel's events. Tagged by `type`, like the engine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum PanelEvent {
    /// The live charts, redrawn (SVG) at `ui.charts_hz` while anything changed.
    Charts { charts: Box<ChartSet> },
    /// Models loading, loaded, unloaded or failed.
    Engine { status: EngineStatus },
    /// The answering mode and what is known of the cloud; `local_model` is the configured local
    /// model's short name ("SmolLM2 135M"), empty when none is installed.
    Mode { mode: Mode, cloud: CloudStatus, local_model: String },
    /// Benchmark progress, then its result or its failure.
    Bench { status: BenchStatus },
    /// The latency benchmark's progress, then its result or its failure.
    LatencyBench { status: LatencyStatus },
    /// A model download's progress, then its end.
    Download { status: DownloadStatus },
    /// Switching the loaded models (`reload_models`, `switch_models`).
    Switch { status: SwitchStatus },
    /// The first-run offer and its download's progress.
    Starter { starter: StarterView },
}

/// Reply to a WebSocket request: `{"type":"reply","id":..,"ok":..}`. Tauri uses its own
/// invoke replies instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WsReply {
    /// Always "reply".
    #[serde(rename = "type")]
    pub kind: String,
    pub id: u64,
    pub ok: Option<Reply>,
    /// The failure, in words.
    pub error: Option<String>,
}

/// A WebSocket request: a command with the id its reply will carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WsRequest {
    pub id: u64,
    pub command: Command,
}

/// One live chart: the SVG and the figures printed under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Chart {
    /// `tok_s`, `memory` or `latency`.
    pub name: String,
    pub title: String,
    pub svg: String,
    pub figures: Vec<Figure>,
    /// The figures in one line, the chart's accessible name (a screen reader cannot read the SVG).
    pub summary: String,
}

/// A figure under a chart: "generation: 171.2 tok/s now, median 168.0 of the last 10".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Figure {
    pub label: String,
    pub current: Option<f64>,
    /// Median of the last 10 (turns or samples).
    pub median: Option<f64>,
    pub unit: String,
    /// Decimals to show: 2 for seconds and GiB, 1 for tok/s.
    pub digits: u32,
}

/// The three live charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChartSet {
    /// Increases with every redraw.
    pub seq: u64,
    pub tok_s: Chart,
    pub memory: Chart,
    pub latency: Chart,
}

/// Where the models are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum EngineStatus {
    Unloaded,
    /// `step` in words; `index` of `of` in `steps` (0 while the memory is checked, before the
    /// first step).
    Loading { step: String, index: u32, of: u32, steps: Vec<String> },
    Ready { llm: String, stt: String, voice: String, load_ms: f64 },
    /// Loading failed: why, in words (model missing, not enough memory, ...).
    Failed { message: String },
}

/// The cloud engine as the mode toggle shows it. The key itself is never sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CloudStatus {
    pub provider: CloudProvider,
    pub base_url: String,
    pub model: String,
    pub key_set: bool,
    /// `null` until checked; then whether the last check or request reached it.
    pub reachable: Option<bool>,
    /// The last check's verdict or failure, in words.
    pub detail: Option<String>,
    /// The model's short name ("Qwen 2.5 7B"), for the mode buttons.
    pub model_short: String,
    /// Whether the API needs a key (a server on this machine does not).
    pub key_required: bool,
    /// Where the key in use is kept (`none`: no key).
    pub key_store: KeyStore,
    /// Whether this machine has an OS keyring; without one a stored key goes to `key_file`.
    pub keyring_available: bool,
    /// The key file (mode 0600) a key is kept in where there is no keyring.
    pub key_file: Option<String>,
    /// The environment variable a key may come from instead.
    pub key_env: String,
}

/// The benchmark tab's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum BenchStatus {
    Idle,
    Running {
        /// The model being measured, number `model_index` (from 0) of `models`.
        model: String,
        model_index: u32,
        models: u32,
        /// What it is doing, in words: "loading (12 s)", "run 2 of 3: 23 of 50 tokens".
        step: String,
        /// Share of the whole benchmark done, 0 to 1.
        fraction: f64,
        /// Seconds left, from the phases timed so far; `null` while estimating.
        eta_s: Option<f64>,
        elapsed_s: f64,
        /// Cancel was asked: it stops at the next safe point.
        cancelling: bool,
    },
    /// The result: rows for the tab, the charts, and the Markdown and JSON exports' text.
    Done {
        table: BenchTable,
        markdown: String,
        tok_s_svg: String,
        response_time_svg: String,
        json: String,
    },
    Failed { message: String },
    /// Stopped by `cancel_bench`; what it had loaded is freed. A previous result stays exportable.
    Cancelled { elapsed_s: f64 },
}

/// The latency benchmark's state in the Bench tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum LatencyStatus {
    Idle,
    Running {
        /// What it is doing: "streaming · single · q03 (espeak)".
        step: String,
        /// Turns done (warm-ups included) of `total`; 0 of 0 while loading.
        done: u32,
        total: u32,
        fraction: f64,
        elapsed_s: f64,
        cancelling: bool,
    },
    /// The p50 / p90 table, the chart (dark SVG), and the report as Markdown and JSON.
    Done { table: LatencyTable, chart_svg: String, markdown: String, json: String },
    Failed { message: String },
    Cancelled { elapsed_s: f64 },
}

/// A model download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DownloadStatus {
    pub id: String,
    /// "downloading", "verifying", "done" or "failed".
    pub phase: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub error: Option<String>,
}

/// What a newly connected front end needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PanelStatus {
    pub engine: EngineStatus,
    pub mode: Mode,
    pub cloud: CloudStatus,
    /// The configured local model's short name, as in the `mode` event.
    pub local_model: String,
    pub turn: u64,
    pub state: TurnState,
    /// This conversation's turns so far.
    pub turns: Vec<TurnRecord>,
    pub charts: Option<ChartSet>,
    pub bench: BenchStatus,
    pub latency: LatencyStatus,
    /// What push-to-talk listens to ("microphone (default)", "file q.wav").
    pub input: String,
    /// Where answers are spoken.
    pub output: String,
    /// The global push-to-talk shortcut (desktop app only).
    pub shortcut: String,
    /// The range of every number the panel's fields set, from [`crate::bounds`].
    pub limits: Vec<Limit>,
    /// The last model switch, or `idle`.
    pub switch: SwitchStatus,
    /// The first-run offer (shown while `needed`).
    pub starter: StarterView,
    /// The timers widget, the Memory tab and a pending confirmation.
    pub tools: ToolsView,
}

/// What the panel shows of the assistant's tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ToolsView {
    /// A toolbox runs (models loaded, `[tools] enabled`); otherwise `reason` says why not.
    pub available: bool,
    pub reason: String,
    /// Running timers, and those that rang or were missed lately.
    pub timers: Vec<TimerView>,
    /// Every fact, newest first.
    pub facts: Vec<Fact>,
    /// The confirmation the assistant waits for, if any.
    pub confirm: Option<ConfirmView>,
}

/// A confirmation the assistant asked for ("forget all"), as in the `confirm_asked` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConfirmView {
    pub action: String,
    pub prompt: String,
    /// 0 when unknown (asked before this controller saw it).
    pub expires_unix_ms: i64,
}

/// A setting the config loader would refuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldProblem {
    /// The [`Settings`] field (`max_tokens`); empty when the problem is in no panel field.
    pub field: String,
    /// Its key in `config.toml` (`llm.max_tokens`).
    pub key: String,
    /// What is wrong, without the key: "must be between 1 and 65536, got 1000000".
    pub message: String,
}

/// A switch of the loaded models. Each state replaces the last one's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum SwitchStatus {
    Idle,
    /// Downloading, checking, loading or restoring, in words.
    Working { step: String },
    /// The new set is loaded.
    Switched { message: String },
    /// The new set could not be loaded; the old one is running (kept or loaded again).
    Refused { message: String },
    /// Neither set could be loaded: nothing is.
    Failed { message: String },
}

/// The two starter sets a first run can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StarterSetId {
    /// Llama 3.2 3B, Whisper base.en, Piper lessac: needs a GPU or many cores.
    Production,
    /// SmolLM2 135M, Whisper tiny.en, Piper joe: small and quick anywhere.
    Test,
}

/// What the first-run card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StarterView {
    /// No model of some kind (answers, hears, speaks) is installed: the card is shown.
    pub needed: bool,
    /// The set for this machine, and why.
    pub recommended: StarterSet,
    pub reason: String,
    /// The other set.
    pub alternative: StarterSet,
    pub job: StarterJob,
}

/// A starter set as offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StarterSet {
    pub id: StarterSetId,
    /// "Everyday set", "Small set".
    pub name: String,
    pub models: Vec<StarterModel>,
    pub total_bytes: u64,
    /// What is not installed yet (installed files are skipped).
    pub missing_bytes: u64,
}

/// One model of a starter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StarterModel {
    pub id: String,
    pub name: String,
    /// "llm", "stt", "tts" or "runtime".
    pub kind: String,
    /// What it is for, in a few words ("answers", "hears you", "speaks").
    pub purpose: String,
    pub size_bytes: u64,
    pub installed: bool,
}

/// The starter set's download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum StarterJob {
    Idle,
    /// `done_bytes` of `total_bytes` (what was missing), now on `model`.
    Downloading { set: StarterSetId, model: String, done_bytes: u64, total_bytes: u64 },
    /// Downloaded; the models are loading (the engine status has the steps).
    Loading { set: StarterSetId },
    /// Why the download failed, in words; Retry sends the same command again.
    Failed { set: StarterSetId, message: String },
}

/// The settings a user changes from the panel (the rest stays in the config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Settings {
    /// Catalog id or GGUF path; empty = the best installed.
    pub llm_model: String,
    pub max_tokens: u32,
    pub mode: Mode,
    /// The voice budget, seconds.
    pub natural_s: f64,
    pub acceptable_s: f64,
    pub unusable_s: f64,
    pub cloud_provider: CloudProvider,
    pub cloud_base_url: String,
    pub cloud_model: String,
    pub tts_engine: TtsEngine,
    /// Catalog id or .onnx path; empty = the best installed.
    pub tts_voice: String,
    pub input_device: String,
    pub output_device: String,
    pub global_shortcut: String,
}

/// The settings tab: current settings and the choices for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub settings: Settings,
    pub config_path: Option<String>,
    pub models: Vec<ModelView>,
    pub input_devices: Vec<String>,
    pub output_devices: Vec<String>,
    /// Why devices could not be listed (no sound card), if so.
    pub device_error: Option<String>,
    pub cloud: CloudStatus,
}

/// A catalog model and whether it is installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ModelView {
    pub id: String,
    pub name: String,
    /// "llm", "stt" or "tts".
    pub kind: String,
    pub size_bytes: u64,
    pub installed: bool,
    /// Part of the small test set (installed with `voxdeck models fetch --test-set`).
    pub test_set: bool,
}
