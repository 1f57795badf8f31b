//! The cloud without a key, and a key stored on a machine without an OS keyring, as a person
//! meets them in the panel: `voxdeck serve` in headless Chromium, no Secret Service (no session
//! bus, as on a Jetson over SSH), and the loopback OpenAI server asking for a key.
//!
//! Picking Cloud without a key shows the "No API key" state and marks Cloud and Auto; the turn
//! is answered locally and says why; "Add key" opens the key field; storing the key falls back
//! to the 0600 key file and the panel says where it is kept; the next turn goes to the server
//! with that key, without reloading the models; Forget removes the file. The key never comes
//! back to a client.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};
use voxdeck_e2e::panel::{self, LOAD_TIMEOUT, TURN_TIMEOUT, save_screenshot};
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::ws_client::PanelSocket;
use voxdeck_e2e::{spawn_serve, voxdeck, write_config};

const KEY: &str = "sk-e2e-keyfile-5f3a9c0d1e2b";
const SIZES: [(u32, u32); 2] = [(1280, 860), (390, 844)];

/// Runs `script` in the page and returns its value.
fn page(driver: &WebDriver, script: &str) -> Value {
    driver.execute(script, json!([])).unwrap_or_else(|e| panic!("{e}"))
}

/// What the mode card shows.
const MODE_CARD: &str = r#"
    const b = (m) => document.querySelector('#mode-' + m);
    const card = document.querySelector('.mode-card').getBoundingClientRect();
    const check = document.querySelector('#cloud-check').getBoundingClientRect();
    const add = document.querySelector('#cloud-add-key').getBoundingClientRect();
    const nokey = document.querySelector('#cloud-nokey');
    return {
        nokey_shown: !nokey.hidden && nokey.getBoundingClientRect().height > 0,
        nokey: nokey.textContent,
        warn: ['local', 'cloud', 'auto'].map((m) => b(m).dataset.warn || ''),
        titles: ['local', 'cloud', 'auto'].map((m) => b(m).title),
        labels: ['local', 'cloud', 'auto'].map((m) => b(m).textContent),
        status: document.querySelector('#cloud-status').textContent,
        check_disabled: document.querySelector('#cloud-check').disabled,
        inside: check.right <= card.right + 0.5 && (nokey.hidden || add.right <= card.right + 0.5),
        page_fits: document.documentElement.scrollWidth <= window.innerWidth,
    };"#;

/// Turn `n` as the page shows it, once complete.
fn turn(driver: &WebDriver, n: u32) -> Value {
    let script = format!(
        r#"const t = document.querySelector('.turn[data-turn="{n}"]');
           if (!t || t.dataset.complete !== "true") return null;
           return {{ engine: t.dataset.engine || null, outcome: t.dataset.outcome, text: t.textContent }};"#
    );
    driver.wait_for(&format!("turn {n}"), &script, TURN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// Both sizes' screenshots, `cloud-<what>-<W>x<H>`, with `focus` scrolled into view; back at
/// the first size after.
fn screenshots(driver: &WebDriver, what: &str, focus: &str, check: impl Fn(&WebDriver, (u32, u32))) {
    for size in SIZES {
        driver.set_viewport(size.0, size.1).unwrap();
        page(driver, &format!("document.querySelector('{focus}').scrollIntoView({{block: 'center'}}); return true;"));
        check(driver, size);
        save_screenshot(driver, &format!("cloud-{what}-{}x{}", size.0, size.1));
    }
    driver.set_viewport(SIZES[0].0, SIZES[0].1).unwrap();
}

#[test]
fn cloud_without_a_key_then_a_key_kept_in_a_0600_file() {
    let _exclusive = crate::exclusive();
    let server = LlamaServer::start_with(&test_model_path(), &["--api_key", KEY]);
    let home = panel::Setup::new(&server);
    // Start on OpenRouter with no key anywhere: the cloud a new user meets.
    let config = panel::config(&server);
    let start = config.find("[cloud]").unwrap();
    let end = config[start..].find("\n\n").map_or(config.len(), |i| start + i);
    write_config(
        home.path(),
        &format!(
            "{}[cloud]\nprovider = \"openrouter\"\nfirst_token_timeout_s = 60.0\nstall_timeout_s = 30.0{}",
            &config[..start],
            &config[end..]
        ),
    );

    let mut command = voxdeck(home.path());
    for var in ["OPENROUTER_API_KEY", "GROQ_API_KEY", "VOXDECK_CLOUD_API_KEY", "DBUS_SESSION_BUS_ADDRESS"] {
        command.env_remove(var);
    }
    let (q, a) = (home.question.to_str().unwrap(), home.answers.to_str().unwrap());
    let (mut app, url, _) = spawn_serve(command, &["--bind", "127.0.0.1:0", "--input", q, "--output", a]);
    let driver = Chromium::start(home.path(), (1280, 860), &[]);
    driver.goto(&url).unwrap();
    driver.set_viewport(SIZES[0].0, SIZES[0].1).unwrap();
    driver
        .wait_for(
            "the models to load",
            "const s = document.querySelector('#engine-status'); return s && s.dataset.state === 'ready';",
            LOAD_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));

    // Cloud without a key: the state, the marks, the models' names on the buttons.
    driver.click("#mode-cloud").unwrap();
    let card = driver
        .wait_for(
            "the no-key state",
            &format!(
                "const v = (function() {{ {MODE_CARD} }})(); \
                 return document.querySelector('#mode-cloud').getAttribute('aria-pressed') === 'true' && v.nokey_shown ? v : null;"
            ),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("mode card without a key: {card}");
    assert_eq!(card["warn"], json!(["", "no-key", "no-key"]), "{card}");
    assert!(card["titles"][1].as_str().unwrap().starts_with("No API key"), "{card}");
    assert!(card["nokey"].as_str().unwrap().contains("No API key: add one"), "{card}");
    assert!(card["nokey"].as_str().unwrap().contains("OPENROUTER_API_KEY"), "{card}");
    assert_eq!(card["labels"][0], "Local · SmolLM2 135M", "{card}");
    assert_eq!(card["labels"][1], "Cloud · Qwen 2.5 7B", "{card}");
    assert_eq!(card["check_disabled"], true, "nothing to check without a key: {card}");
    screenshots(&driver, "no-key", ".mode-card", |driver, size| {
        let card = page(driver, MODE_CARD);
        assert_eq!(card["inside"], true, "the buttons stay in the card at {size:?}: {card}");
        assert_eq!(card["page_fits"], true, "no sideways scrolling at {size:?}: {card}");
    });

    // The engine's side: no network lookup for a check without a key, and no key anywhere.
    let mut socket = PanelSocket::connect(&url);
    let asked = Instant::now();
    let cloud = socket.ask(json!({"cmd": "check_cloud"}))["cloud"].clone();
    assert!(asked.elapsed() < Duration::from_secs(1), "a check without a key asks nobody: {:?}", asked.elapsed());
    assert_eq!(cloud["reachable"], Value::Null, "{cloud}");
    assert_eq!((cloud["key_set"].clone(), cloud["key_store"].clone()), (json!(false), json!("none")), "{cloud}");
    assert_eq!(cloud["keyring_available"], false, "no session bus, no keyring: {cloud}");
    let key_file = home.path().join("voxdeck/cloud-keys");
    assert_eq!(cloud["key_file"], key_file.to_str().unwrap(), "{cloud}");

    // A turn meant for the cloud is answered locally, and says why.
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let t1 = turn(&driver, 1);
    assert_eq!((t1["outcome"].as_str(), t1["engine"].as_str()), (Some("answered"), Some("local")), "{t1}");
    let status = socket.ask(json!({"cmd": "status"}));
    let record = &status["status"]["turns"][0];
    assert_eq!(record["fallback"], "no API key", "{record}");
    assert_eq!(record["route_reason"], "mode cloud", "{record}");

    // "Add key" opens Settings with the cursor in the key field, which says where a key goes.
    driver.click("#cloud-add-key").unwrap();
    let form = driver
        .wait_for(
            "the key field focused",
            "return document.activeElement && document.activeElement.id === 'cloud-key' && !document.querySelector('#panel-settings').hidden \
             ? document.querySelector('#cloud-key-where').textContent : null;",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let form = form.as_str().unwrap();
    assert!(form.contains("no system keyring") && form.contains(key_file.to_str().unwrap()), "{form}");
    assert!(form.contains("OPENROUTER_API_KEY"), "{form}");

    // The server on this machine, with its key, is the cloud from now on (a second client).
    let view = socket.ask(json!({"cmd": "get_settings"}));
    let mut settings = view["view"]["settings"].clone();
    settings["cloud_provider"] = json!("custom");
    settings["cloud_base_url"] = json!(server.base_url());
    settings["cloud_model"] = json!(server.model_alias());
    assert_eq!(socket.ask(json!({"cmd": "set_settings", "settings": settings}))["kind"], "saved");

    // Storing fails (the key file's place is taken): the field keeps the key, in words why.
    std::fs::create_dir_all(&key_file).unwrap();
    let type_key = format!(
        "const k = document.querySelector('#cloud-key'); k.value = '{KEY}'; \
         k.dispatchEvent(new Event('input', {{bubbles: true}})); return true;"
    );
    page(&driver, &type_key);
    driver.click("#cloud-key-store").unwrap();
    let failed = driver
        .wait_for(
            "the store to fail",
            "const r = document.querySelector('#cloud-key-result'); \
             return !r.hidden && r.dataset.kind === 'error' ? {text: r.textContent, kept: document.querySelector('#cloud-key').value} : null;",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("store failed: {failed}");
    assert_eq!(failed["kept"], KEY, "the field keeps the key on failure");
    assert!(failed["text"].as_str().unwrap().contains("key file"), "{failed}");
    std::fs::remove_dir(&key_file).unwrap();

    // Stored: in the 0600 file, and the panel says so.
    driver.click("#cloud-key-store").unwrap();
    let stored = driver
        .wait_for(
            "the key to be stored",
            "const r = document.querySelector('#cloud-key-result'); \
             return !r.hidden && r.dataset.kind === 'info' ? {result: r.textContent, state: document.querySelector('#cloud-key-state').textContent, \
             field: document.querySelector('#cloud-key').value} : null;",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("stored: {stored}");
    let where_ = format!("{} (readable only by you)", key_file.display());
    assert_eq!(stored["result"], format!("Key stored in {where_}."), "{stored}");
    assert!(stored["state"].as_str().unwrap().contains(&where_), "{stored}");
    assert_eq!(stored["field"], "", "the page does not keep the key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is readable only by its owner");
        let text = std::fs::read_to_string(&key_file).unwrap();
        assert!(text.contains(&format!("\"127.0.0.1\" = \"{KEY}\"")), "{text}");
    }
    screenshots(&driver, "key-file", "#cloud-key-form", |driver, size| {
        let fits = page(driver, "return document.documentElement.scrollWidth <= window.innerWidth;");
        assert_eq!(fits, true, "no sideways scrolling at {size:?}");
    });

    // Back on Talk: no warning, and the next turn goes to the server with the key, no reload.
    driver.click("#tab-talk").unwrap();
    let card = page(&driver, MODE_CARD);
    assert_eq!((card["nokey_shown"].clone(), card["warn"].clone()), (json!(false), json!(["", "", ""])), "{card}");
    assert!(card["status"].as_str().unwrap().contains("key in the key file"), "{card}");
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let t2 = turn(&driver, 2);
    assert_eq!(
        (t2["outcome"].as_str(), t2["engine"].as_str()),
        (Some("answered"), Some("cloud")),
        "{t2} (server log: {})",
        server.log_tail(20)
    );

    // The key never comes back to a client.
    for command in [json!({"cmd": "status"}), json!({"cmd": "get_settings"}), json!({"cmd": "check_cloud"})] {
        let reply = socket.ask(command.clone()).to_string();
        assert!(!reply.contains(KEY), "{command} returned the key");
    }
    let html = page(&driver, "return document.documentElement.outerHTML;");
    assert!(!html.as_str().unwrap().contains(KEY), "the page holds the key");

    // Forget removes it from where it was kept.
    driver.click("#tab-settings").unwrap();
    driver.click("#cloud-key-forget").unwrap();
    driver
        .wait_for(
            "the key to be forgotten",
            "const r = document.querySelector('#cloud-key-result'); return !r.hidden && r.textContent.startsWith('Key forgotten');",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!key_file.exists(), "Forget removed the key file");
    let cloud = socket.ask(json!({"cmd": "check_cloud"}))["cloud"].clone();
    assert_eq!(cloud["key_store"], "none", "{cloud}");

    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
