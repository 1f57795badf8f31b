//! Numbers out of range, from every way in (flag, config file, WebSocket command): refused
//! before anything is allocated or loaded, in words naming the setting and its range.
//! Each of these crashed, hung or exhausted memory before the bounds existed (issue 12).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use voxdeck_e2e::ws_client::PanelSocket;
use voxdeck_e2e::{Run, assert_refused_in_words, run, serve, voxdeck, write_config};

/// Exit code `code`, the words on stderr, no panic, and quickly (the refusal comes before any
/// model is loaded).
fn assert_refused(r: &Run, code: i32, needles: &[&str], took: Duration) {
    assert_refused_in_words(r, code, needles);
    assert!(took < Duration::from_secs(10), "took {took:?}\n{r}");
}

fn timed(cmd: &mut std::process::Command) -> (Run, Duration) {
    let start = Instant::now();
    let r = run(cmd);
    (r, start.elapsed())
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[test]
fn flags_out_of_range_name_the_setting_and_its_range() {
    let home = tempfile::tempdir().unwrap();
    let n = cores();
    let threads = format!("must be between 0 (automatic) and {n} (the cores this machine has), got 100000");
    for (args, needle) in [
        (
            &["bench", "--model", "smollm2-135m-instruct-q4_1", "--runs", "4294967295"][..],
            "`bench.runs` must be between 1 and 100, got 4294967295".to_owned(),
        ),
        (&["say", "--threads", "100000", "hello there", "-o", "s.wav"][..], format!("`tts.threads` {threads}")),
        (&["say", "--rate", "NaN", "hello"][..], "`tts.rate` must be between 0.25 and 4, got NaN".to_owned()),
        (&["ask", "--threads", "100000", "hi"][..], format!("`llm.threads` {threads}")),
        (&["transcribe", "--threads", "100000", "q.wav"][..], format!("`stt.threads` {threads}")),
        (&["talk", "--max-tokens", "0", "-i", "q.wav"][..], "`llm.max_tokens` must be between 1 and 65536, got 0".to_owned()),
    ] {
        let (r, took) = timed(voxdeck(home.path()).current_dir(home.path()).args(args));
        // clap's usage error: exit 2, the flag named.
        assert_refused(&r, 2, &[&needle, "invalid value"], took);
    }
}

#[test]
fn config_values_that_crashed_or_hung_are_refused_before_loading() {
    let n = cores();
    for (toml, args, needle) in [
        (
            "[bench]\nresponse_tokens = [4294967295]\nverdict_tokens = 4294967295\n",
            &["bench", "--model", "smollm2-135m-instruct-q4_1"][..],
            "`bench.response_tokens` must be between 1 and 8192, got 4294967295".to_owned(),
        ),
        (
            "[llm]\nn_batch = 4294967295\nn_ubatch = 512\n",
            &["ask", "--model", "smollm2-135m-instruct-q4_1", "hi"][..],
            "`llm.n_batch` must be between 1 and 65536, got 4294967295".to_owned(),
        ),
        (
            "[tts]\nthreads = 100000\n",
            &["say", "hello there", "-o", "s.wav"][..],
            format!("`tts.threads` must be between 0 (automatic) and {n} (the cores this machine has), got 100000"),
        ),
        (
            "[stt]\nthreads = 256\n",
            &["transcribe", "q.wav"][..],
            format!("`stt.threads` must be between 0 (automatic) and {n} (the cores this machine has), got 256"),
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        write_config(home.path(), toml);
        let (r, took) = timed(voxdeck(home.path()).current_dir(home.path()).args(args));
        assert_refused(&r, 1, &["config.toml", &needle], took);
    }
}

#[test]
fn a_websocket_client_cannot_start_a_bench_that_would_exhaust_memory() {
    let home = tempfile::tempdir().unwrap();
    let (mut app, url, _) = serve(home.path(), &["--no-load"]);
    let mut panel = PanelSocket::connect(&url);

    let reply = panel.request(json!({ "cmd": "run_bench", "runs": 4294967295u32 }));
    assert_eq!(reply["ok"], Value::Null, "{reply}");
    assert_eq!(reply["error"], "`bench.runs` must be between 1 and 100, got 4294967295", "{reply}");

    // The panel learns the same range for its field.
    let reply = panel.ask(json!({ "cmd": "status" }));
    let limits = reply["status"]["limits"].as_array().expect("limits in the status");
    let runs = limits.iter().find(|l| l["key"] == "bench.runs").expect("bench.runs limit");
    assert_eq!((runs["min"].as_f64(), runs["max"].as_f64()), (Some(1.0), Some(100.0)), "{runs}");

    // And serve is still there.
    assert!(app.try_wait().unwrap().is_none(), "serve exited");
    let _ = app.kill();
    let _ = app.wait();
}
