//! The control panel's engine (`control::Controller`) on the real test set: load in the
//! background, a push-to-talk turn from a WAV question, the live charts it redraws, the mode
//! toggle, settings saved to a file, and commands refused in words when nothing is loaded.

use std::time::{Duration, Instant};

use crate::common::{spoken_question, voice_config};
use tokio::sync::broadcast::Receiver;
use voxdeck_core::config::Mode;
use voxdeck_core::control::{
    ChartSet, Command, Controller, ControllerOptions, EngineStatus, Outgoing, PanelEvent, Reply,
};
use voxdeck_core::pipeline::{Event, Outcome, TurnRecord};

const WAIT: Duration = Duration::from_secs(300);

/// Waits for the first message `pick` accepts.
fn wait_for<T>(rx: &mut Receiver<Outgoing>, what: &str, mut pick: impl FnMut(&Outgoing) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match rx.try_recv() {
            Ok(message) => {
                if let Some(found) = pick(&message) {
                    return found;
                }
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(10)),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(e) => panic!("stream ended waiting for {what}: {e}"),
        }
    }
}

fn figure(set: &ChartSet, chart: &str, label: &str) -> Option<f64> {
    let chart = match chart {
        "tok_s" => &set.tok_s,
        "memory" => &set.memory,
        _ => &set.latency,
    };
    chart.figures.iter().find(|f| f.label == label).and_then(|f| f.current)
}

#[test]
fn a_turn_through_the_controller_streams_events_and_live_charts() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let question = spoken_question(dir.path(), "q.wav", "What is the capital of France?");
    let mut config = voice_config();
    config.ui.charts_hz = 4.0;
    let controller = Controller::start(ControllerOptions {
        config,
        config_path: Some(dir.path().join("config.toml")),
        input: Some(question),
        output: Some(dir.path().join("answers.wav")),
        load_on_start: false,
        data_dir: Some(dir.path().to_owned()),
    });
    let mut rx = controller.subscribe();

    // Nothing loaded: a press is refused in words, not a panic.
    let refused = controller.handle(Command::Press).unwrap_err().to_string();
    assert!(refused.contains("not loaded"), "{refused}");

    controller.handle(Command::LoadModels).unwrap();
    let steps = wait_for(&mut rx, "loading steps", |m| match m {
        Outgoing::Panel(PanelEvent::Engine { status: EngineStatus::Loading { step, .. } }) => Some(step.clone()),
        _ => None,
    });
    assert!(!steps.is_empty());
    let ready = wait_for(&mut rx, "models ready", |m| match m {
        Outgoing::Panel(PanelEvent::Engine { status }) if !matches!(status, EngineStatus::Loading { .. }) => {
            Some(status.clone())
        }
        _ => None,
    });
    let EngineStatus::Ready { llm, stt, load_ms, .. } = ready else { panic!("loading failed: {ready:?}") };
    assert!(llm.contains("SmolLM2"), "{llm}");
    assert!(stt.contains("tiny"), "{stt}");
    assert!(load_ms > 0.0);

    controller.handle(Command::SetMode { mode: Mode::Local }).unwrap();
    let Reply::Turn { turn } = controller.handle(Command::Press).unwrap() else { panic!("press gives the turn") };
    controller.handle(Command::Release).unwrap();

    let mut transcript = String::new();
    let mut deltas = 0;
    let record: TurnRecord = wait_for(&mut rx, "the turn's record", |m| match m {
        Outgoing::Engine(Event::Transcript { text, .. }) => {
            transcript = text.clone();
            None
        }
        Outgoing::Engine(Event::AnswerDelta { .. }) => {
            deltas += 1;
            None
        }
        Outgoing::Engine(Event::TurnComplete { record }) if record.turn == turn => Some((**record).clone()),
        _ => None,
    });
    assert_eq!(record.outcome, Outcome::Answered, "{record:?}");
    assert!(transcript.to_lowercase().contains("france"), "{transcript}");
    assert!(deltas > 1, "the answer streamed in pieces ({deltas})");
    assert_eq!(record.engine.as_deref(), Some("local"));

    // The next redraw includes the finished turn: tok/s and every latency bar above zero.
    let charts = wait_for(&mut rx, "charts with the turn", |m| match m {
        Outgoing::Panel(PanelEvent::Charts { charts }) if figure(charts, "latency", "first audio").is_some() => {
            Some((**charts).clone())
        }
        _ => None,
    });
    assert!(figure(&charts, "tok_s", "generation").unwrap() > 0.0);
    assert!(figure(&charts, "tok_s", "prompt").unwrap() > 0.0);
    for stage in ["transcript", "first token", "first sentence", "first audio"] {
        assert!(figure(&charts, "latency", stage).unwrap() > 0.0, "{stage}");
    }
    for chart in [&charts.tok_s, &charts.memory, &charts.latency] {
        assert!(chart.svg.starts_with("<svg"), "{} is an SVG", chart.name);
        assert!(chart.svg.contains("<rect"), "{} draws something", chart.name);
    }
    // A new front end gets the conversation and the latest charts in one status.
    let Reply::Status { status } = controller.handle(Command::Status).unwrap() else { panic!() };
    assert_eq!(status.turns.len(), 1);
    assert_eq!(status.mode, Mode::Local);
    assert!(status.charts.is_some_and(|c| c.seq >= charts.seq));

    controller.handle(Command::UnloadModels).unwrap();
    assert_eq!(controller.status().engine, EngineStatus::Unloaded);
    // The WAV output was flushed on unload: it holds the spoken answer.
    let answers = hound::WavReader::open(dir.path().join("answers.wav")).unwrap();
    assert!(answers.duration() > answers.spec().sample_rate / 2, "at least half a second spoken");
}

#[test]
fn settings_are_validated_and_saved_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voxdeck").join("config.toml");
    let controller = Controller::start(ControllerOptions {
        config: voice_config(),
        config_path: Some(path.clone()),
        ..Default::default()
    });
    let Reply::Settings { view } = controller.handle(Command::GetSettings).unwrap() else { panic!() };
    assert!(view.models.iter().any(|m| m.kind == "llm" && m.installed && m.test_set));
    let mut settings = view.settings.clone();

    // Thresholds out of order are refused and nothing is written.
    settings.natural_s = 5.0;
    let reply = controller.handle(Command::SetSettings { settings: settings.clone() }).unwrap();
    let Reply::Invalid { fields } = reply else { panic!("refused, with the field named: {reply:?}") };
    assert!(fields.iter().any(|f| f.key.starts_with("voice.") && f.message.contains("natural_s")), "{fields:?}");
    assert!(!path.exists());

    settings.natural_s = 1.5;
    settings.max_tokens = 42;
    let Reply::Saved { path: saved, reload } = controller.handle(Command::SetSettings { settings }).unwrap() else {
        panic!()
    };
    assert_eq!(saved.as_deref(), Some(path.to_str().unwrap()));
    assert!(reload, "a new max_tokens applies after reloading");
    let loaded = voxdeck_core::Config::from_file(&path).unwrap();
    assert_eq!(loaded.llm.max_tokens, 42);
    assert_eq!(loaded.voice.natural_s, 1.5);
}

#[test]
fn settings_are_saved_into_a_commented_config_through_its_link() {
    let dir = tempfile::tempdir().unwrap();
    // The user's own file, kept elsewhere (dotfiles) and linked into the config directory.
    let real = dir.path().join("dotfiles").join("voxdeck.toml");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    let original = "# my voxdeck\n[tts]\nrate = 0.7   # a bit slower\n\n[llm]\nmax_tokens = 64 # short answers\n";
    std::fs::write(&real, original).unwrap();
    let link = dir.path().join("voxdeck").join("config.toml");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let controller = Controller::start(ControllerOptions {
        config: voxdeck_core::Config::from_file(&link).unwrap(),
        config_path: Some(link.clone()),
        ..Default::default()
    });
    let Reply::Settings { view } = controller.handle(Command::GetSettings).unwrap() else { panic!() };

    // Saving what is shown changes nothing, not even the formatting.
    controller.handle(Command::SetSettings { settings: view.settings.clone() }).unwrap();
    assert_eq!(std::fs::read_to_string(&real).unwrap(), original);

    let mut settings = view.settings;
    settings.max_tokens = 100;
    settings.tts_engine = voxdeck_core::config::TtsEngine::Espeak;
    settings.mode = Mode::Cloud;
    controller.handle(Command::SetSettings { settings }).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "# my voxdeck\n[tts]\nrate = 0.7   # a bit slower\nengine = \"espeak\"\n\n[llm]\nmax_tokens = 100 # short answers\n\
         \n[router]\nmode = \"cloud\"\n",
        "only the changed keys differ; comments, order and 0.7 stay"
    );
    // No temporary file is left beside the target.
    assert_eq!(std::fs::read_dir(real.parent().unwrap()).unwrap().count(), 1);
    let loaded = voxdeck_core::Config::from_file(&link).unwrap();
    assert_eq!((loaded.llm.max_tokens, loaded.router.mode), (100, Mode::Cloud));
}

#[test]
fn a_missing_input_file_fails_the_load_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(ControllerOptions {
        config: voice_config(),
        input: Some(dir.path().join("nope.wav")),
        output: Some(dir.path().join("a.wav")),
        load_on_start: true,
        ..Default::default()
    });
    let status = controller.wait_until_loaded(WAIT);
    let EngineStatus::Failed { message } = status else { panic!("{status:?}") };
    assert!(message.contains("nope.wav"), "{message}");
    let err = controller.handle(Command::Press).unwrap_err().to_string();
    assert!(err.contains("nope.wav"), "{err}");
}

#[test]
fn bench_export_before_any_run_says_so() {
    let controller = Controller::start(ControllerOptions { config: voice_config(), ..Default::default() });
    let err = controller
        .handle(Command::ExportBench { format: voxdeck_core::control::ExportFormat::Markdown })
        .unwrap_err()
        .to_string();
    assert!(err.contains("no benchmark"), "{err}");
    let err = controller.handle(Command::FetchModel { id: "no-such-model".into() }).unwrap_err().to_string();
    assert!(err.contains("no-such-model"), "{err}");
}

#[test]
fn the_bench_tab_runs_with_progress_and_exports_every_format() {
    let _heavy = crate::heavy();
    let data = tempfile::tempdir().unwrap();
    let mut config = voice_config();
    config.bench.prompt_tokens = 64;
    config.bench.response_tokens = vec![10, 20];
    config.bench.verdict_tokens = 20;
    let controller = Controller::start(ControllerOptions {
        config,
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    });
    let mut rx = controller.subscribe();
    controller.handle(Command::RunBench { runs: Some(1) }).unwrap();
    let again = controller.handle(Command::RunBench { runs: Some(1) }).unwrap_err().to_string();
    assert!(again.contains("already running"), "{again}");

    let mut progress = 0;
    let done = wait_for(&mut rx, "the bench result", |m| match m {
        Outgoing::Panel(PanelEvent::Bench { status: voxdeck_core::control::BenchStatus::Running { .. } }) => {
            progress += 1;
            None
        }
        Outgoing::Panel(PanelEvent::Bench { status }) => Some(status.clone()),
        _ => None,
    });
    let voxdeck_core::control::BenchStatus::Done { table, markdown, tok_s_svg, response_time_svg, json } = done else {
        panic!("{done:?}")
    };
    assert!(progress >= 3, "progress events ({progress})");
    assert!(markdown.contains("SmolLM2"), "{markdown}");
    assert!(table.rows.iter().any(|r| r.name.contains("SmolLM2") && !r.verdict_text.is_empty()), "{table:?}");
    assert!(tok_s_svg.starts_with("<svg") && response_time_svg.starts_with("<svg"));
    assert!(serde_json::from_str::<serde_json::Value>(&json).unwrap()["models"].is_array());

    // Exports land under the data directory; PNGs travel as base64.
    use voxdeck_core::control::ExportFormat;
    for (format, name, binary) in [
        (ExportFormat::Markdown, "report.md", false),
        (ExportFormat::Json, "bench.json", false),
        (ExportFormat::PngTokS, "tok_s.png", true),
        (ExportFormat::PngResponseTime, "response_time.png", true),
    ] {
        let Reply::Exported { path, file_name, content, base64, .. } =
            controller.handle(Command::ExportBench { format }).unwrap()
        else {
            panic!("{format:?}")
        };
        assert_eq!((file_name.as_str(), base64), (name, binary));
        assert!(std::path::Path::new(&path).starts_with(data.path()), "{path}");
        if binary {
            assert!(content.starts_with("iVBORw0KGgo"), "a PNG in base64");
        } else {
            assert!(!content.is_empty());
        }
    }
}
