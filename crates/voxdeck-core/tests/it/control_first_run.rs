//! The engine's states on the real test set: loading reports each of its three steps in
//! order, and the starter set installs nothing that is already there and loads by itself.

use std::time::{Duration, Instant};

use crate::common::voice_config;
use tokio::sync::broadcast::Receiver;
use voxdeck_core::control::{
    Command, Controller, ControllerOptions, EngineStatus, Outgoing, PanelEvent, StarterJob, StarterSetId,
};
use voxdeck_core::pipeline::LOAD_STEPS;

const WAIT: Duration = Duration::from_secs(300);

/// Every message until `done` accepts one (included).
fn collect_until(rx: &mut Receiver<Outgoing>, what: &str, mut done: impl FnMut(&Outgoing) -> bool) -> Vec<Outgoing> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match rx.try_recv() {
            Ok(message) => {
                let last = done(&message);
                seen.push(message);
                if last {
                    return seen;
                }
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(10)),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(e) => panic!("stream ended waiting for {what}: {e}"),
        }
    }
}

fn engine_statuses(messages: &[Outgoing]) -> Vec<EngineStatus> {
    messages
        .iter()
        .filter_map(|m| match m {
            Outgoing::Panel(PanelEvent::Engine { status }) => Some(status.clone()),
            _ => None,
        })
        .collect()
}

fn settled(m: &Outgoing) -> bool {
    matches!(m, Outgoing::Panel(PanelEvent::Engine { status }) if !matches!(status, EngineStatus::Loading { .. }))
}

fn controller(dir: &std::path::Path) -> Controller {
    Controller::start(ControllerOptions {
        config: voice_config(),
        config_path: Some(dir.join("config.toml")),
        input: None,
        output: Some(dir.join("answers.wav")),
        load_on_start: false,
        data_dir: Some(dir.to_owned()),
    })
}

#[test]
fn loading_steps_through_speech_to_text_voice_and_llm() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let controller = controller(dir.path());
    let mut rx = controller.subscribe();
    controller.handle(Command::LoadModels).unwrap();
    let statuses = engine_statuses(&collect_until(&mut rx, "the load to end", settled));
    let (last, loading) = statuses.split_last().unwrap();
    assert!(matches!(last, EngineStatus::Ready { .. }), "{last:?}");
    let steps: Vec<(u32, u32, String)> = loading
        .iter()
        .map(|s| match s {
            EngineStatus::Loading { index, of, steps, .. } => {
                assert_eq!(steps, &LOAD_STEPS.map(String::from).to_vec());
                (*index, *of, steps.get((*index as usize).wrapping_sub(1)).cloned().unwrap_or_default())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<(u32, u32, String)> =
        vec![(0, 3, String::new()), (1, 3, "Speech to text".into()), (2, 3, "Voice".into()), (3, 3, "LLM".into())];
    assert_eq!(steps, expected);
    // A status asked for now agrees with the last event.
    assert!(matches!(controller.status().engine, EngineStatus::Ready { .. }));
    controller.handle(Command::UnloadModels).unwrap();
    assert_eq!(controller.status().engine, EngineStatus::Unloaded);
}

#[test]
fn the_starter_set_skips_installed_files_and_loads_by_itself() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let controller = controller(dir.path());
    // VOXDECK_MODELS holds the whole test set: no first run, nothing missing.
    let view = controller.status().starter;
    assert!(!view.needed, "{view:?}");
    let small = if view.recommended.id == StarterSetId::Test { &view.recommended } else { &view.alternative };
    assert_eq!(small.missing_bytes, 0, "{small:?}");
    assert!(small.models.iter().all(|m| m.installed), "{small:?}");

    let mut rx = controller.subscribe();
    controller.handle(Command::InstallStarter { set: StarterSetId::Test }).unwrap();
    // A second install while the first runs is refused in words.
    let busy = controller.handle(Command::InstallStarter { set: StarterSetId::Test }).unwrap_err().to_string();
    assert!(busy.contains("already"), "{busy}");
    let seen = collect_until(
        &mut rx,
        "the starter job to finish",
        |m| matches!(m, Outgoing::Panel(PanelEvent::Starter { starter }) if starter.job == StarterJob::Idle),
    );
    let jobs: Vec<&StarterJob> = seen
        .iter()
        .filter_map(|m| match m {
            Outgoing::Panel(PanelEvent::Starter { starter }) => Some(&starter.job),
            _ => None,
        })
        .collect();
    // Nothing to download: straight to loading, then idle with the models loaded.
    assert!(
        !jobs.iter().any(|j| matches!(j, StarterJob::Downloading { total_bytes, .. } if *total_bytes > 0)),
        "{jobs:?}"
    );
    assert!(jobs.contains(&&StarterJob::Loading { set: StarterSetId::Test }), "{jobs:?}");
    assert!(matches!(controller.status().engine, EngineStatus::Ready { .. }), "{:?}", controller.status().engine);
}
