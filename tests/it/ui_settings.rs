//! The Settings tab against a real `voxdeck serve` with the test set loaded: fields refused by
//! the config loader's rules are marked beside themselves (live and on Save) and nothing is
//! saved; switching the LLM loads the other test-set model; a switch that cannot load brings
//! the old models back (over the WebSocket, and in headless Chromium with screenshots).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::openai_server::{models_dir, test_model_path};
use voxdeck_e2e::panel;
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::ws_client::PanelSocket;
use voxdeck_e2e::{serve, write_config, write_wav_16bit};

/// The test set, one thread each, answering locally; no cloud is used.
const CONFIG: &str = "# my voxdeck\n[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"   # the small one\nthreads = 1\n\
                      temperature = 0.7\nn_ctx = 1024\nmax_tokens = 40\n\n\
                      [stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\n\n[router]\nmode = \"local\"\n";

/// A home with [`CONFIG`] (and `extra`) and a silent question file, served with the models
/// loading.
fn start(home: &Path, extra: &str) -> (std::process::Child, String) {
    write_config(home, &format!("{CONFIG}{extra}"));
    let q = home.join("q.wav");
    write_wav_16bit(&q, 16_000, &[0; 16_000]);
    let a = home.join("a.wav");
    let (app, url, _) =
        serve(home, &["--bind", "127.0.0.1:0", "--input", q.to_str().unwrap(), "--output", a.to_str().unwrap()]);
    (app, url)
}

fn config_text(home: &Path) -> String {
    std::fs::read_to_string(home.join("voxdeck/config.toml")).unwrap()
}

/// Polls `status` until `done` accepts it.
fn wait_status(ws: &mut PanelSocket, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + panel::LOAD_TIMEOUT;
    loop {
        let status = ws.ask(json!({"cmd": "status"}))["status"].clone();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ready_with(status: &Value, llm: &str) -> bool {
    status["engine"]["state"] == "ready" && status["engine"]["llm"].as_str().is_some_and(|l| l.contains(llm))
}

/// A copy of the test LLM whose architecture no llama.cpp knows ("llama" renamed in its
/// header): every check before loading passes, and loading it fails.
fn unloadable_gguf(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(test_model_path()).unwrap();
    let header = bytes.len().min(8 << 20);
    for i in 0..header.saturating_sub(5) {
        if &bytes[i..i + 5] == b"llama" {
            bytes[i..i + 5].copy_from_slice(b"qqqqq");
        }
    }
    let path = dir.join("unloadable.gguf");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Saves `llm_model`, reloads and waits for the switch to end; its final status.
fn switch_llm(ws: &mut PanelSocket, llm_model: &str) -> Value {
    let mut settings = ws.ask(json!({"cmd": "get_settings"}))["view"]["settings"].clone();
    settings["llm_model"] = json!(llm_model);
    let saved = ws.ask(json!({"cmd": "set_settings", "settings": settings}));
    assert_eq!(saved["kind"], "saved", "{saved}");
    ws.ask(json!({"cmd": "reload_models"}));
    wait_status(ws, "the switch to end", |s| !matches!(s["switch"]["state"].as_str(), Some("working" | "idle")))
}

#[test]
fn a_switch_that_cannot_load_leaves_the_old_models_running() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    let (mut app, url) = start(home.path(), "");
    let mut ws = PanelSocket::connect(&url);
    let before = wait_status(&mut ws, "SmolLM2 loaded", |s| ready_with(s, "SmolLM2"));

    // Not installed: refused before anything is loaded or unloaded.
    let status = switch_llm(&mut ws, "llama-3.2-3b-instruct-q4_k_m");
    let message = status["switch"]["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status["switch"]["state"], "refused", "{status}");
    assert!(message.starts_with("Not switched, still on SmolLM2 135M Instruct Q4_1: "), "{message}");
    assert!(message.contains("not installed"), "{message}");
    assert_eq!(status["engine"], before["engine"], "the running set was never touched");

    // Readable but not loadable, with memory for both sets: it is loaded beside the running
    // set, fails, and the running set was never unloaded (the same load, to the millisecond).
    let broken = unloadable_gguf(home.path());
    let status = switch_llm(&mut ws, broken.to_str().unwrap());
    let message = status["switch"]["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status["switch"]["state"], "refused", "{status}");
    assert!(message.starts_with("Not switched, still on SmolLM2 135M Instruct Q4_1: "), "{message}");
    assert!(message.contains("unloadable.gguf"), "{message}");
    assert_eq!(status["engine"], before["engine"], "the running set was never touched");

    // The other test-set LLM fits beside: it loads while SmolLM2 still answers. A refused
    // switch_models saves nothing.
    let mut bad = ws.ask(json!({"cmd": "get_settings"}))["view"]["settings"].clone();
    bad["natural_s"] = json!(5.0);
    let refused = ws.ask(json!({"cmd": "switch_models", "settings": bad}));
    assert_eq!(refused["fields"][0]["field"], "acceptable_s", "{refused}");
    if models_dir().join("gemma-3-270m-q4_k_m.gguf").is_file() {
        let mut settings = ws.ask(json!({"cmd": "get_settings"}))["view"]["settings"].clone();
        settings["llm_model"] = json!("gemma-3-270m-q4_k_m");
        // switch_models: nothing to download here, so it saves and reloads at once.
        assert_eq!(ws.ask(json!({"cmd": "switch_models", "settings": settings}))["kind"], "ok");
        let (mut beside, deadline) = (false, Instant::now() + panel::LOAD_TIMEOUT);
        let status = loop {
            let s = ws.ask(json!({"cmd": "status"}))["status"].clone();
            let step = s["switch"]["step"].as_str().unwrap_or_default();
            beside |= s["switch"]["state"] == "working" && step.contains("Gemma") && s["engine"] == before["engine"];
            if !matches!(s["switch"]["state"].as_str(), Some("working" | "idle")) || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status["switch"]["message"], "Switched to Gemma 3 270M Q4_K_M.", "{status}");
        assert!(ready_with(&status, "Gemma"), "{status}");
        assert!(beside, "SmolLM2 stayed loaded while Gemma loaded");
        // The memory chart counts what Gemma added while it loaded beside SmolLM2, not the
        // nothing that starting it added after SmolLM2 was gone.
        let charted = wait_status(&mut ws, "the memory chart after the switch", |s| {
            s["charts"]["memory"]["title"].is_string() && ready_with(s, "Gemma")
        });
        let models = charted["charts"]["memory"]["figures"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["label"] == "models"))
            .and_then(|f| f["current"].as_f64());
        assert!(models.is_some_and(|gib| gib > 0.05), "Gemma's memory is charted: {models:?} GiB");
        switch_llm(&mut ws, "smollm2-135m-instruct-q4_1");
    }

    // The settings (and the file, comments kept) name the model that runs again.
    let view = ws.ask(json!({"cmd": "get_settings"}))["view"].clone();
    assert_eq!(view["settings"]["llm_model"], "smollm2-135m-instruct-q4_1");
    let text = config_text(home.path());
    assert!(text.contains("model = \"smollm2-135m-instruct-q4_1\"   # the small one"), "{text}");
    assert!(text.starts_with("# my voxdeck\n") && text.contains("temperature = 0.7\n"), "{text}");
    let _ = app.kill();
    let _ = app.wait();

    // Without the memory check nothing says both sets fit: the old set is unloaded first, the
    // new one fails, and the old one is loaded again.
    let home = tempfile::tempdir().unwrap();
    let (mut app, url) = start(home.path(), "\n[memory]\ncheck = false\n");
    let mut ws = PanelSocket::connect(&url);
    let before = wait_status(&mut ws, "SmolLM2 loaded", |s| ready_with(s, "SmolLM2"));
    let broken = unloadable_gguf(home.path());
    let status = switch_llm(&mut ws, broken.to_str().unwrap());
    let message = status["switch"]["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status["switch"]["state"], "refused", "{status}");
    assert!(
        message.starts_with("Back on SmolLM2 135M Instruct Q4_1: the new models could not be loaded ("),
        "{message}"
    );
    assert!(ready_with(&status, "SmolLM2"), "{status}");
    assert_ne!(status["engine"]["load_ms"], before["engine"]["load_ms"], "loaded again");
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(ws.ask(json!({"cmd": "get_settings"}))["view"]["settings"]["llm_model"], "smollm2-135m-instruct-q4_1");
    let _ = app.kill();
    let _ = app.wait();
}

/// Sets a form field as typing would (an `input` event, which starts the live check).
fn type_into(driver: &WebDriver, id: &str, value: &str) {
    let script = "const f = document.getElementById(arguments[0]); f.value = arguments[1];\
                  f.dispatchEvent(new Event('input', {bubbles: true})); \
                  f.dispatchEvent(new Event('change', {bubbles: true})); return true;";
    driver.execute(script, json!([id, value])).unwrap();
}

/// What the page shows beside each field, by field.
const FIELD_MESSAGES: &str = "const out = {}; for (const m of document.querySelectorAll('.field-error')) {\
     if (!m.hidden) out[m.id.replace(/^set-/, '').replace(/-error$/, '')] = {text: m.textContent, \
     kind: m.dataset.kind, color: getComputedStyle(m).color, \
     invalid: document.getElementById(m.id.replace(/-error$/, '')).getAttribute('aria-invalid')}; } return out;";

fn scroll_to(driver: &WebDriver, css: &str) {
    driver
        .execute("document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); return true;", json!([css]))
        .unwrap();
}

fn open_settings(driver: &WebDriver) {
    driver.click("#tab-settings").unwrap();
    driver
        .wait_for(
            "the settings form",
            "return document.getElementById('set-max_tokens').value !== '' && \
             document.querySelector('#models li') !== null;",
            Duration::from_secs(30),
        )
        .unwrap();
}

#[test]
fn the_settings_tab_marks_refused_fields_and_switches_the_llm() {
    let _exclusive = crate::exclusive();
    let home = tempfile::tempdir().unwrap();
    let (mut app, url) = start(home.path(), "");
    let driver = Chromium::start(home.path(), (1280, 860), &["--hide-scrollbars"]);
    let gemma = std::env::var_os("VOXDECK_MODELS")
        .map(PathBuf::from)
        .is_some_and(|d| d.join("gemma-3-270m-q4_k_m.gguf").is_file());
    let mut ws = PanelSocket::connect(&url);
    wait_status(&mut ws, "SmolLM2 loaded", |s| ready_with(s, "SmolLM2"));

    for (i, (w, h)) in [(1280u32, 860u32), (390, 844), (1920, 1080)].into_iter().enumerate() {
        let saved_before = config_text(home.path());
        driver.goto(&url).unwrap();
        driver.set_viewport(w, h).unwrap();
        open_settings(&driver);

        // Live: each refused field is marked beside itself, in the loader's words.
        type_into(&driver, "set-max_tokens", "1000000");
        type_into(&driver, "set-cloud_base_url", "not a url");
        type_into(&driver, "set-global_shortcut", "Banana+Q");
        type_into(&driver, "set-natural_s", "3");
        type_into(&driver, "set-acceptable_s", "2");
        let marked = driver
            .wait_for(
                "four fields marked",
                &format!("const m = (() => {{ {FIELD_MESSAGES} }})(); return Object.keys(m).length === 4 ? m : null;"),
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(marked["max_tokens"]["text"], "must be between 1 and 65536, got 1000000", "{marked}");
        assert!(
            marked["cloud_base_url"]["text"].as_str().unwrap().starts_with("must be a URL such as https://"),
            "{marked}"
        );
        assert!(
            marked["global_shortcut"]["text"].as_str().unwrap().starts_with("does not know the key \"Banana\""),
            "{marked}"
        );
        assert_eq!(marked["acceptable_s"]["text"], "must be at least voice.natural_s (3), got 2", "{marked}");
        for field in ["max_tokens", "cloud_base_url", "global_shortcut", "acceptable_s"] {
            assert_eq!(marked[field]["kind"], "error", "{marked}");
            assert_eq!(marked[field]["invalid"], "true", "{marked}");
            assert_eq!(marked[field]["color"], "rgb(239, 93, 93)", "red: {marked}");
        }
        // Save: refused, nothing written, focus on the first refused field.
        driver.click("#settings-save").unwrap();
        let result = driver
            .wait_for(
                "the refusal",
                "const r = document.getElementById('settings-result'); return !r.hidden && r.textContent;",
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(result, "Not saved: 4 fields need changing (marked).");
        assert_eq!(driver.execute("return document.activeElement.id;", json!([])).unwrap(), "set-max_tokens");
        assert_eq!(config_text(home.path()), saved_before, "a refused save writes nothing");
        scroll_to(&driver, if w < 800 { "label:has(#set-max_tokens)" } else { "body" });
        panel::save_screenshot(&driver, &format!("settings-invalid-{w}x{h}"));
        if w < 800 {
            // The form is taller than a phone: the rest of it, down to the refusal.
            scroll_to(&driver, "label:has(#set-cloud_model)");
            panel::save_screenshot(&driver, &format!("settings-invalid-end-{w}x{h}"));
        }

        // A fixed field loses its mark as soon as it is right.
        type_into(&driver, "set-max_tokens", "64");
        driver
            .wait_for("max_tokens cleared", "return document.getElementById('set-max_tokens-error').hidden && !document.getElementById('set-max_tokens').hasAttribute('aria-invalid');", Duration::from_secs(10))
            .unwrap();

        // An uninstalled LLM turns Save into "Download and switch", with its size beside it.
        driver.goto(&url).unwrap();
        open_settings(&driver);
        driver.execute("const s = document.getElementById('set-llm_model'); s.value = 'llama-3.2-3b-instruct-q4_k_m'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;", json!([])).unwrap();
        let offer = driver
            .wait_for("the download offer", "const b = document.getElementById('settings-save'); const n = document.getElementById('set-llm_model-note'); return b.textContent === 'Download and switch' && n && !n.hidden ? n.textContent : null;", Duration::from_secs(5))
            .unwrap();
        assert!(offer.as_str().unwrap().starts_with("Not installed ("), "{offer}");
        scroll_to(&driver, if w < 800 { "label:has(#set-llm_model)" } else { "body" });
        panel::save_screenshot(&driver, &format!("settings-offer-{w}x{h}"));

        // The switch: save the other test-set LLM, then Reload; the message follows the state.
        if !gemma {
            eprintln!("gemma-3-270m is not in VOXDECK_MODELS: the switch part is skipped");
            continue;
        }
        let (target, name) =
            if i % 2 == 0 { ("gemma-3-270m-q4_k_m", "Gemma") } else { ("smollm2-135m-instruct-q4_1", "SmolLM2") };
        driver.execute("const s = document.getElementById('set-llm_model'); s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true})); return true;", json!([target])).unwrap();
        assert_eq!(
            driver.execute("return document.getElementById('settings-save').textContent;", json!([])).unwrap(),
            "Save"
        );
        driver.click("#settings-save").unwrap();
        driver
            .wait_for(
                "the reload offer",
                "return !document.getElementById('settings-reload').hidden;",
                Duration::from_secs(10),
            )
            .unwrap();
        driver.click("#settings-reload-models").unwrap();
        let done = driver
            .wait_for(
                "the switch",
                "const r = document.getElementById('settings-result'); const end = r.textContent.startsWith('Switched') || r.dataset.kind === 'error'; return !r.hidden && end ? {text: r.textContent, kind: r.dataset.kind} : null;",
                panel::LOAD_TIMEOUT,
            )
            .unwrap();
        assert_eq!(done["kind"], "info", "{done}");
        assert!(done["text"].as_str().unwrap().starts_with(&format!("Switched to {name}")), "{done}");
        let status = wait_status(&mut ws, "the engine ready", |s| s["engine"]["state"] == "ready");
        assert!(ready_with(&status, name), "{status}");
        assert!(config_text(home.path()).contains(&format!("model = \"{target}\"   # the small one")));
        scroll_to(&driver, if w < 800 { "label:has(#set-tts_voice)" } else { "body" });
        panel::save_screenshot(&driver, &format!("settings-switch-{w}x{h}"));

        // A switch that fails to load (started from another client): the page shows the way
        // back in red, in place of the last message, and the form names the running model.
        let broken = unloadable_gguf(home.path());
        let status = switch_llm(&mut ws, broken.to_str().unwrap());
        assert_eq!(status["switch"]["state"], "refused", "{status}");
        let shown = driver
            .wait_for(
                "the rollback message",
                "const r = document.getElementById('settings-result'); const m = document.getElementById('set-llm_model');\
                 return r.dataset.kind === 'error' && !r.hidden ? {text: r.textContent, llm: m.value} : null;",
                Duration::from_secs(20),
            )
            .unwrap();
        assert_eq!(shown["text"], status["switch"]["message"], "{shown}");
        let llm = status["engine"]["llm"].as_str().unwrap();
        assert!(shown["text"].as_str().unwrap().starts_with(&format!("Not switched, still on {llm}: ")), "{shown}");
        driver
            .wait_for(
                "the form restored",
                &format!("return document.getElementById('set-llm_model').value === '{target}';"),
                Duration::from_secs(10),
            )
            .unwrap();
        scroll_to(&driver, if w < 800 { "label:has(#set-tts_voice)" } else { "body" });
        panel::save_screenshot(&driver, &format!("settings-rollback-{w}x{h}"));
    }
    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
