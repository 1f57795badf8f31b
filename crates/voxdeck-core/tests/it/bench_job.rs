//! The benchmark's progress, estimate and cancel on the real test set: every model goes through
//! load, warm-up and its runs with reports often enough to look alive and an estimate once the
//! phases to come have been timed; a cancel stops it promptly at a safe point, frees what it
//! loaded and leaves the panel's own models loaded.

use std::time::{Duration, Instant};

use crate::common::{models_dir, need_test_set, spoken_question, voice_config};
use voxdeck_core::bench::progress::{BenchProgress, Phase};
use voxdeck_core::bench::runner::{self, BenchError};
use voxdeck_core::control::{BenchStatus, Command, Controller, ControllerOptions, EngineStatus, Outgoing, PanelEvent};
use voxdeck_core::llm::CancelToken;
use voxdeck_core::models::Catalog;

/// A short benchmark: a small prompt, short answers.
fn bench_config(runs: u32) -> voxdeck_core::Config {
    let mut config = voice_config();
    config.bench.runs = runs;
    config.bench.prompt_tokens = 32;
    config.bench.response_tokens = vec![10, 30];
    config.bench.verdict_tokens = 30;
    config
}

/// This process's threads with this name (as `/proc` truncates names, to 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
                .count()
        })
        .unwrap_or(0)
}

/// Waits up to 5 s for the count of threads named `name` to come down to `count`.
fn settles_to(name: &str, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads_named(name) != count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    threads_named(name)
}

#[test]
fn every_model_reports_its_phases_often_with_an_estimate_once_timed() {
    let _exclusive = crate::exclusive();
    let models = Catalog::builtin().resolve_installed_llms(&models_dir()).unwrap_or_else(|e| need_test_set(e));
    assert!(models.len() >= 2, "the test set has two LLMs: {models:?}");
    let config = bench_config(2);
    let mut seen: Vec<(Instant, BenchProgress)> = Vec::new();
    let report = runner::run(&models, &config, &CancelToken::new(), &mut |p| seen.push((Instant::now(), p)))
        .expect("the benchmark runs");
    let finished = Instant::now();
    assert_eq!(report.models.len(), models.len());

    // Each model's phases, in order.
    for (index, model) in models.iter().enumerate() {
        let mut phases: Vec<Phase> =
            seen.iter().filter(|(_, p)| p.model_index == index as u32).map(|(_, p)| p.phase).collect();
        phases.dedup();
        let runs = |run| Phase::Run { run, runs: 2 };
        assert_eq!(phases, [Phase::Load, Phase::WarmUp, runs(1), runs(2)], "{}", model.name);
        assert!(seen.iter().all(|(_, p)| p.models == models.len() as u32));
    }
    // Token counts while answering, a growing share done, and the time passing.
    assert!(seen.iter().any(|(_, p)| p.tokens.is_some_and(|(done, of)| done > 0 && done < of)), "token progress");
    assert!(seen.windows(2).all(|w| w[1].1.fraction >= w[0].1.fraction), "the share done never goes back");
    assert!(seen.iter().any(|(_, p)| p.step().contains("of 30 tokens")), "the step says which token");
    // "estimating…" first, an estimate once load, warm-up and a run were timed, to the end.
    assert_eq!(seen[0].1.eta_s, None);
    let first_estimate = seen.iter().position(|(_, p)| p.eta_s.is_some()).expect("an estimate");
    assert!(seen[first_estimate..].iter().all(|(_, p)| p.eta_s.is_some()), "the estimate, once there, stays");
    let second_load = seen.iter().find(|(_, p)| p.model_index == 1 && p.phase == Phase::Load).expect("second model");
    assert!(second_load.1.eta_s.is_some(), "the second model's load is estimated from the first's");
    eprintln!(
        "estimate at the second model's load: {:.1} s left, took {:.1} s",
        second_load.1.eta_s.unwrap_or_default(),
        (finished - second_load.0).as_secs_f64()
    );
    // Never still for long: reports come at least every few seconds (a quarter second while a
    // step blocks; the bound is loose for a busy machine).
    let gaps = seen.windows(2).map(|w| w[1].0 - w[0].0).chain([finished - seen[seen.len() - 1].0]);
    let longest = gaps.max().unwrap_or_default();
    assert!(longest < Duration::from_secs(10), "{longest:?} without a report");
    eprintln!("{} reports, at most {longest:?} apart", seen.len());
}

#[test]
fn a_cancel_stops_promptly_between_tokens_and_frees_the_model() {
    let _exclusive = crate::exclusive();
    let models = Catalog::builtin().resolve_installed_llms(&models_dir()).unwrap_or_else(|e| need_test_set(e));
    let before = threads_named("voxdeck-llm");
    let config = bench_config(3);
    let cancel = CancelToken::new();
    let mut asked: Option<Instant> = None;
    let mut after_cancel = Vec::new();
    let result = runner::run(&models, &config, &cancel, &mut |p| {
        if asked.is_some() {
            after_cancel.push(p);
        } else if p.phase == (Phase::Run { run: 1, runs: 3 }) && p.tokens.is_some_and(|(done, _)| done >= 3) {
            cancel.cancel();
            asked = Some(Instant::now());
        }
    });
    let stopped = asked.expect("the first run generated tokens").elapsed();
    assert!(matches!(result, Err(BenchError::Cancelled)), "{result:?}");
    eprintln!("the runner stopped {stopped:?} after the cancel");
    assert!(stopped < Duration::from_secs(2), "stopped {stopped:?} after the cancel");
    assert!(
        after_cancel.iter().all(|p| p.model_index == 0 && p.phase == Phase::Run { run: 1, runs: 3 }),
        "no phase started after the cancel: {after_cancel:?}"
    );
    assert!(
        after_cancel.iter().all(|p| p.tokens.is_none_or(|(done, of)| done < of)),
        "the answer stopped between tokens, not at its end: {after_cancel:?}"
    );
    assert_eq!(threads_named("voxdeck-llm"), before, "the model's inference thread is gone");
}

#[test]
fn a_cancel_during_a_load_lets_it_finish_then_stops() {
    let _exclusive = crate::exclusive();
    let models = Catalog::builtin().resolve_installed_llms(&models_dir()).unwrap_or_else(|e| need_test_set(e));
    let before = threads_named("voxdeck-llm");
    let cancel = CancelToken::new();
    let mut phases = Vec::new();
    let result = runner::run(&models, &bench_config(1), &cancel, &mut |p| {
        if p.phase == Phase::Load {
            cancel.cancel();
        }
        phases.push(p.phase);
    });
    assert!(matches!(result, Err(BenchError::Cancelled)), "{result:?}");
    assert!(phases.iter().all(|p| *p == Phase::Load), "nothing after the load: {phases:?}");
    assert_eq!(threads_named("voxdeck-llm"), before, "the loaded model is freed");
}

#[test]
fn cancelling_the_bench_tab_says_cancelled_and_leaves_the_panels_models_loaded() {
    let _exclusive = crate::exclusive();
    let data = tempfile::tempdir().unwrap();
    // The panel's voice loop reads a WAV question and writes its answers to a file (no sound
    // card here).
    let controller = Controller::start(ControllerOptions {
        config: bench_config(3),
        input: Some(spoken_question(data.path(), "q.wav", "Hello there.")),
        output: Some(data.path().join("answers.wav")),
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    });
    // Nothing running: a cancel is a no-op.
    controller.handle(Command::CancelBench).expect("cancel with nothing running");
    controller.handle(Command::LoadModels).unwrap();
    let ready = controller.wait_until_loaded(Duration::from_secs(300));
    assert!(matches!(ready, EngineStatus::Ready { .. }), "{ready:?}");
    let panel_llm = threads_named("voxdeck-llm");

    let mut rx = controller.subscribe();
    controller.handle(Command::RunBench { runs: None }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut cancelled_at, mut saw_cancelling, mut steps) = (None, false, Vec::new());
    let end = loop {
        assert!(Instant::now() < deadline, "no end to the benchmark; steps: {steps:?}");
        let message = match rx.try_recv() {
            Ok(m) => m,
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(e) => panic!("{e}"),
        };
        let Outgoing::Panel(PanelEvent::Bench { status }) = message else { continue };
        match status {
            BenchStatus::Running { step, cancelling, .. } => {
                saw_cancelling |= cancelling;
                if cancelled_at.is_none() && step.starts_with("run 1 of 3:") {
                    controller.handle(Command::CancelBench).unwrap();
                    cancelled_at = Some(Instant::now());
                }
                steps.push(step);
            }
            other => break other,
        }
    };
    let took = cancelled_at.expect("cancelled during the first run").elapsed();
    assert!(matches!(end, BenchStatus::Cancelled { .. }), "{end:?}");
    eprintln!("the tab said cancelled {took:?} after the cancel");
    assert!(took < Duration::from_secs(3), "cancelled after {took:?}");
    assert!(saw_cancelling, "the tab said it was cancelling");
    assert!(matches!(controller.bench_status(), BenchStatus::Cancelled { .. }));
    assert_eq!(settles_to("voxdeck-bench", 0), 0, "the bench thread has ended");
    assert_eq!(threads_named("voxdeck-llm"), panel_llm, "only the panel's model remains");
    assert!(matches!(controller.status().engine, EngineStatus::Ready { .. }), "the panel's models stay loaded");
    // Nothing left holding the slot: export says no result, and a new run starts.
    let err = controller
        .handle(Command::ExportBench { format: voxdeck_core::control::ExportFormat::Json })
        .unwrap_err()
        .to_string();
    assert!(err.contains("no benchmark"), "{err}");
    controller.handle(Command::RunBench { runs: Some(1) }).expect("a new run after a cancel");
    controller.handle(Command::CancelBench).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while matches!(controller.bench_status(), BenchStatus::Running { .. }) {
        assert!(Instant::now() < deadline, "the second run did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(matches!(controller.bench_status(), BenchStatus::Cancelled { .. }), "{:?}", controller.bench_status());
    controller.shutdown();
}
