//! `cargo bench -p voxdeck-e2e --bench panel`: what the desktop panel costs (issue 6).
//!
//! - generation tok/s of the same spoken turn in the Tauri app (charts live at `ui.charts_hz`)
//!   and headless (`voxdeck talk`), medians over the turns after a warm-up;
//! - the app's start: WebDriver session request to first paint, and to models ready;
//! - CPU while idle, per process (the app with the engine, WebKit's web process, the rest),
//!   from /proc over [`IDLE_S`] seconds.
//!
//! Needs what the UI tests need (Xvfb, WebKitWebDriver, tauri-driver) and the test set. Usage:
//! `cargo bench -p voxdeck-e2e --bench panel -- [TURNS]` (default 6, the first one a warm-up).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use voxdeck_e2e::panel::{Xvfb, find_program, spawn_logged};
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::{run, voxdeck, voxdeck_bin, write_config};

const IDLE_S: u64 = 30;
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\ntemperature = 0.0\nn_ctx = 2048\nmax_tokens = 50\n\n\
                      [stt]\nmodel = \"whisper-tiny.en\"\n\n[tts]\nnoise_scale = 0.0\nnoise_w = 0.0\n\n\
                      [router]\nmode = \"local\"\n\n[pipeline]\ncontext_turns = 0\n";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The history's records (gen_tok_s per turn, in order).
fn history_rates(home: &Path) -> Vec<f64> {
    let r = run(voxdeck(home).args(["history", "--json"]));
    assert!(r.status.success(), "{r}");
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["gen_tok_s"].as_f64())
        .collect()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Every process: pid -> (parent, name).
fn processes() -> HashMap<u32, (u32, String)> {
    let mut all = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_owned();
        let ppid = stat[close + 2..].split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        all.insert(pid, (ppid, name));
    }
    all
}

/// The app's process and everything under it.
fn app_tree() -> Vec<(u32, String)> {
    let all = processes();
    let Some(root) = all.iter().find(|(_, (_, n))| n == "voxdeck-app").map(|(p, _)| *p) else { return Vec::new() };
    let mut tree = vec![(root, "voxdeck-app".to_owned())];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].0;
        tree.extend(all.iter().filter(|(_, (pp, _))| *pp == parent).map(|(p, (_, n))| (*p, n.clone())));
        i += 1;
    }
    tree
}

fn main() {
    let turns: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(6).max(2);
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("q.wav");
    let r = run(voxdeck(home.path()).args(["say", "Tell me about the history of Paris in a few sentences.", "-o"]).arg(&q));
    assert!(r.status.success(), "{r}");

    // Headless: the same turns through `voxdeck talk`.
    let headless_home = home.path().join("headless");
    write_config(&headless_home, CONFIG);
    let mut talk = voxdeck(&headless_home);
    talk.args(["talk", "--json", "--output"]).arg(home.path().join("headless.wav"));
    for _ in 0..turns {
        talk.arg("--input").arg(&q);
    }
    let r = run(&mut talk);
    assert!(r.status.success(), "{r}");
    let headless: Vec<f64> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["gen_tok_s"].as_f64())
        .collect();
    assert_eq!(headless.len(), turns, "{r}");

    // The app, under Xvfb, through tauri-driver.
    let app_home = home.path().join("app");
    write_config(&app_home, CONFIG);
    let xvfb = Xvfb::start();
    let port = voxdeck_e2e::openai_server::free_port();
    let native_port = voxdeck_e2e::openai_server::free_port();
    let driver_bin = std::env::var_os("VOXDECK_TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| find_program(&[PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/voxdeck/tools/bin/tauri-driver"), PathBuf::from("tauri-driver")]))
        .expect("tauri-driver (run .ci/tauri-driver.sh)");
    let _driver = spawn_logged(
        std::process::Command::new(driver_bin)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string(), "--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("DISPLAY", &xvfb.display)
            .env("XDG_CONFIG_HOME", &app_home)
            .env("XDG_DATA_HOME", app_home.join("data"))
            .env("NO_AT_BRIDGE", "1"),
        &home.path().join("tauri-driver.log"),
    );
    let app = voxdeck_bin().with_file_name("voxdeck-app");
    let started = Instant::now();
    let caps = json!({ "tauri:options": { "application": app, "args": ["--input", q, "--output", home.path().join("app.wav")] } });
    let driver = WebDriver::connect(&format!("http://127.0.0.1:{port}"), caps, Duration::from_secs(60)).expect("session");
    let session_s = started.elapsed().as_secs_f64();
    let poll = |what: &str, script: &str| -> f64 {
        let t0 = Instant::now();
        loop {
            if driver.execute(script, json!([])).is_ok_and(|v| v == json!(true)) {
                return started.elapsed().as_secs_f64();
            }
            assert!(t0.elapsed() < Duration::from_secs(180), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let painted_s = poll("the UI", "return document.body.dataset.connection === 'connected';");
    let ready_s = poll("the models", "return document.querySelector('#engine-status').dataset.state === 'ready';");
    let paint = driver
        .execute(
            "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint'); \
             const n = performance.getEntriesByType('navigation')[0]; \
             return { fcp_ms: p ? p.startTime : null, dom_ms: n ? n.domContentLoadedEventEnd : null };",
            json!([]),
        )
        .unwrap_or(json!(null));

    driver.click("#mode-local").unwrap();
    let mut busy_tree = app_tree();
    // The X server draws what the web process paints: part of the UI's cost.
    busy_tree.push((xvfb.pid(), "Xvfb".to_owned()));
    let busy_before: Vec<_> = busy_tree.iter().map(|(p, _)| cpu_ticks(*p).unwrap_or(0)).collect();
    let busy_t0 = Instant::now();
    for n in 1..=turns {
        driver.hold("#ptt", Duration::from_millis(200)).unwrap();
        let script = format!("const t = document.querySelector('.turn[data-turn=\"{n}\"]'); return !!t && t.dataset.complete === 'true';");
        poll(&format!("turn {n}"), &script);
    }
    let busy_wall = busy_t0.elapsed().as_secs_f64();
    let busy: Vec<(String, f64)> = busy_tree
        .iter()
        .zip(busy_before)
        .map(|((pid, name), before)| {
            let after = cpu_ticks(*pid).unwrap_or(before);
            (name.clone(), after.saturating_sub(before) as f64 / 100.0 / busy_wall * 100.0)
        })
        .collect();
    let app_rates = history_rates(&app_home);
    assert_eq!(app_rates.len(), turns, "every app turn is in history");

    // Idle: nothing pressed; the charts' idle redraws and the metrics sampler keep running.
    std::thread::sleep(Duration::from_secs(5));
    let mut tree = app_tree();
    tree.push((xvfb.pid(), "Xvfb".to_owned()));
    let before: Vec<_> = tree.iter().map(|(p, _)| cpu_ticks(*p).unwrap_or(0)).collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(IDLE_S));
    let wall = t0.elapsed().as_secs_f64();
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let mut idle = Vec::new();
    for ((pid, name), before) in tree.iter().zip(before) {
        let after = cpu_ticks(*pid).unwrap_or(before);
        idle.push((name.clone(), (after.saturating_sub(before)) as f64 / ticks_per_s / wall * 100.0));
    }
    drop(driver);

    let h = median(headless[1..].to_vec());
    let a = median(app_rates[1..].to_vec());
    println!("\n## Panel benchmark ({} turns after a warm-up, SmolLM2 135M Q4_1, 50-token answers)\n", turns - 1);
    println!("| | generation tok/s (median) | per turn |");
    println!("|---|--:|---|");
    println!("| headless `voxdeck talk` | {h:.1} | {:?} |", headless[1..].iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>());
    println!("| Tauri app, charts live | {a:.1} | {:?} |", app_rates[1..].iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>());
    println!("\nratio app / headless: {:.3}\n", a / h);
    println!("start: WebDriver session {session_s:.2} s, UI connected {painted_s:.2} s, models ready {ready_s:.2} s after the session request; in-page paint timing {paint}\n");
    println!("| idle process ({IDLE_S} s) | CPU % of one core |");
    println!("|---|--:|");
    for (name, pct) in &idle {
        println!("| {name} | {pct:.2} |");
    }
    println!("| all | {:.2} |", idle.iter().map(|(_, p)| p).sum::<f64>());
    println!("\n| during the {turns} app turns ({busy_wall:.1} s) | CPU % of one core |");
    println!("|---|--:|");
    for (name, pct) in &busy {
        println!("| {name} | {pct:.1} |");
    }
}
