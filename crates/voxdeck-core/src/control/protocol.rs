//! The control protocol: what a front end sends ([`Command`]), what it gets back ([`Reply`]) and
//! what it is told unasked ([`Outgoing`]: the engine's events plus the panel's own).
//!
//! One protocol for the Tauri app (commands and one event channel) and `voxdeck serve` (JSON
//! over a WebSocket). The TypeScript types in `ui/bindings/` are generated from these
//! (ts-rs, by `cargo test`) and the UI's modules are type-checked against them (`tsc` over their
//! JSDoc, in CI), so the UI and the engine cannot drift apart silently.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::bench::table::BenchTable;
use crate::bounds::Limit;
use crate::config::{CloudProvider, Mode, TtsEngine};
use crate::pipeline::{Event, TurnRecord, TurnState};

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
    /// The settings, the model catalog with install state, and the audio devices.
    GetSettings,
    /// Changes settings and saves them to the config file.
    SetSettings { settings: Settings },
    /// Stores the cloud API key in the OS keyring. Write-only: no command reads it back.
    SetCloudKey { key: String },
    /// Removes the stored cloud API key.
    ForgetCloudKey,
    /// Asks the cloud API whether the key works (lists its models, times a first token).
    CheckCloud,
    /// Downloads a catalog model (progress as `download` events).
    FetchModel { id: String },
    /// Everything a newly connected front end needs to draw itself.
    Status,
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
    Cloud { cloud: CloudStatus },
    /// An exported bench result: written to `path`; `content` is UTF-8 text, or base64 for
    /// PNG, so a browser can offer it as a download.
    Exported { path: String, file_name: String, mime: String, content: String, base64: bool },
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
    /// The answering mode and what is known of the cloud.
    Mode { mode: Mode, cloud: CloudStatus },
    /// Benchmark progress, then its result or its failure.
    Bench { status: BenchStatus },
    /// A model download's progress, then its end.
    Download { status: DownloadStatus },
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
    Loading { step: String },
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
    pub turn: u64,
    pub state: TurnState,
    /// This conversation's turns so far.
    pub turns: Vec<TurnRecord>,
    pub charts: Option<ChartSet>,
    pub bench: BenchStatus,
    /// What push-to-talk listens to ("microphone (default)", "file q.wav").
    pub input: String,
    /// Where answers are spoken.
    pub output: String,
    /// The global push-to-talk shortcut (desktop app only).
    pub shortcut: String,
    /// The range of every number the panel's fields set, from [`crate::bounds`].
    pub limits: Vec<Limit>,
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
