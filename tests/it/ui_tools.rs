//! What the assistant does, in headless Chromium through `voxdeck serve`: the Memory tab adds,
//! edits and deletes facts in the engine (a second client sees each change), refuses a fact
//! the `remember` tool would refuse, and forgets all once the engine's confirmation (the
//! banner, with its countdown) is answered; a real spoken turn
//! ("Set a timer for ten minutes.", synthesised by Piper) through push-to-talk shows the fast
//! path's `set_timer` chip, the `tool` stage in the breakdown and a running countdown in the
//! timers widget, which cancels it. Screenshots `tools-<what>-<size>`.
//!
//! Needs Debian's `chromium` and `chromium-driver`, as `ui_serve` does.

use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::panel::{self, save_screenshot};
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::ws_client::PanelSocket;

/// The test set, one thread each, local answers; tools as they come (on, fast path first).
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 2048\n\
    max_tokens = 40\n\n[stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\nnoise_scale = 0.0\n\
    noise_w = 0.0\n\n[router]\nmode = \"local\"\n\n[ui]\ncharts_hz = 4.0\n";

const WAIT: Duration = Duration::from_secs(20);
const SIZES: [(u32, u32); 2] = [(1280, 860), (390, 844)];

/// The talk button, the timers under it and the newest turn in view (a phone: the page's top,
/// where the conversation's own scroll shows its end).
const SHOW_TALK: &str = r#"window.scrollTo(0, 0);
    if (window.innerWidth < 800) document.querySelectorAll('details.turn-stats').forEach(d => { d.open = false; });
    const list = document.querySelector('#conversation'); list.scrollTop = list.scrollHeight; return true;"#;

fn no_args() -> Value {
    json!([])
}

/// The facts the engine holds, as a second client asks for them.
fn engine_facts(ws: &mut PanelSocket) -> Vec<(i64, String)> {
    let reply = ws.ask(json!({"cmd": "get_tools"}));
    assert_eq!(reply["kind"], "tools", "{reply}");
    assert_eq!(reply["tools"]["available"], true, "{reply}");
    reply["tools"]["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .map(|f| (f["id"].as_i64().expect("id"), f["text"].as_str().expect("text").to_owned()))
        .collect()
}

/// The texts the Memory tab lists, top to bottom, once it lists `n` of them.
fn shown_facts(driver: &WebDriver, n: usize) -> Vec<String> {
    let script = format!(
        r#"const items = [...document.querySelectorAll('#facts > li.fact-item .fact-text')];
           return items.length === {n} ? items.map(p => p.textContent) : null;"#
    );
    let v = driver.wait_for(&format!("{n} facts in the Memory tab"), &script, WAIT).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_value(v).expect("texts")
}

/// Types `text` into the add field and presses Remember.
fn add_fact(driver: &WebDriver, text: &str) {
    driver
        .execute(
            "const i = document.querySelector('#fact-new'); i.value = arguments[0]; return true;",
            json!([text]),
        )
        .unwrap();
    driver.click("#fact-add").unwrap();
}

fn wait_ready(driver: &WebDriver) {
    driver
        .wait_for(
            "the panel's models to load",
            r#"const s = document.querySelector('#engine-status');
               if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
               if (s.dataset.state !== 'ready') return null;
               const off = document.querySelector('#memory-state');
               if (!off.hidden && off.textContent.includes('tools are off')) return off.textContent;
               return document.querySelector('#fact-new').disabled ? null : 'ready';"#,
            panel::LOAD_TIMEOUT,
        )
        .map(|v| assert_eq!(v, "ready"))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The page does not scroll sideways at this size.
fn assert_fits(driver: &WebDriver, what: &str) {
    let v = driver
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, window.innerHeight];",
            no_args(),
        )
        .unwrap();
    assert!(v[0].as_i64() <= v[1].as_i64().map(|w| w + 1), "{what}: the page scrolls sideways: {v}");
}

#[test]
fn the_panel_shows_and_edits_what_the_assistant_does_facts_timers_and_tool_calls() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    voxdeck_e2e::write_config(home.path(), CONFIG);
    let question = home.path().join("q.wav");
    let answers = home.path().join("a.wav");
    voxdeck_e2e::say(home.path(), "Set a timer for ten minutes.", &question);
    let (q, a) = (question.to_string_lossy(), answers.to_string_lossy());
    let (app, url, _) = voxdeck_e2e::serve(home.path(), &["--bind", "127.0.0.1:0", "--input", &q, "--output", &a]);
    // Stopped however the test ends.
    let _app = panel::Killed { child: app, log: home.path().join("serve.log") };
    let driver = Chromium::start(home.path(), (1280, 860), &["--hide-scrollbars"]);
    driver.goto(&url).unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    wait_ready(&driver);
    let mut ws = PanelSocket::connect(&url);

    // The Memory tab, empty; three facts added, newest first, each in the engine.
    driver.click("#tab-memory").unwrap();
    assert_eq!(driver.execute("return document.querySelector('#facts-empty').hidden;", no_args()).unwrap(), false);
    assert_eq!(driver.execute("return document.querySelector('#forget-all').disabled;", no_args()).unwrap(), true);
    for (i, text) in ["My bike is the blue one.", "The spare key is under the plant.", "Anna's birthday is in May."]
        .iter()
        .enumerate()
    {
        add_fact(&driver, text);
        let shown = shown_facts(&driver, i + 1);
        assert_eq!(shown[0], *text, "the newest first: {shown:?}");
        assert_eq!(
            driver.execute("return document.querySelector('#fact-new').value;", no_args()).unwrap(),
            "",
            "the field is cleared once stored"
        );
    }
    let facts = engine_facts(&mut ws);
    let texts: Vec<&str> = facts.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts.len(), 3, "{facts:?}");
    for text in ["My bike is the blue one.", "The spare key is under the plant.", "Anna's birthday is in May."] {
        assert!(texts.contains(&text), "the engine holds {text:?}: {facts:?}");
    }

    // A fact `remember` would refuse (over 500 characters) is refused in words; nothing stored.
    add_fact(&driver, &"x".repeat(600));
    let refused = driver
        .wait_for(
            "the refusal",
            "const e = document.querySelector('#facts-error'); return e.hidden ? null : e.textContent;",
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(refused.as_str().unwrap_or_default().contains("too long"), "{refused}");
    assert_eq!(engine_facts(&mut ws).len(), 3);

    // Edit in place (keyboard: Enter saves), then the engine has the new text.
    let bike = facts.iter().find(|(_, t)| t.starts_with("My bike")).expect("bike").0;
    driver.click(&format!("#facts > li[data-fact-id='{bike}'] .fact-edit")).unwrap();
    driver
        .wait_for(
            "the edit field, focused",
            "const i = document.querySelector('#facts .fact-input'); return i && document.activeElement === i;",
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    for (w, h) in SIZES {
        driver.set_viewport(w, h).unwrap();
        assert_fits(&driver, "the Memory tab");
        save_screenshot(&driver, &format!("tools-memory-edit-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();
    driver
        .execute(
            r#"const i = document.querySelector('#facts .fact-input');
               i.value = 'My bike is the red one now.';
               i.form.requestSubmit(); return true;"#,
            no_args(),
        )
        .unwrap();
    driver
        .wait_for(
            "the edit to be saved",
            r#"return !document.querySelector('#facts .fact-input')
                 && [...document.querySelectorAll('#facts .fact-text')].some(p => p.textContent === 'My bike is the red one now.');"#,
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let facts = engine_facts(&mut ws);
    assert!(facts.contains(&(bike, "My bike is the red one now.".to_owned())), "{facts:?}");

    // Delete one; a reload (a new connection) lists what the engine has.
    let key = facts.iter().find(|(_, t)| t.starts_with("The spare key")).expect("key").0;
    driver.click(&format!("#facts > li[data-fact-id='{key}'] .fact-delete")).unwrap();
    shown_facts(&driver, 2);
    assert!(engine_facts(&mut ws).iter().all(|(id, _)| *id != key));
    driver.goto(&url).unwrap();
    wait_ready(&driver);
    driver.click("#tab-memory").unwrap();
    let shown = shown_facts(&driver, 2);
    assert_eq!(shown, ["Anna's birthday is in May.", "My bike is the red one now."], "after a reload: {shown:?}");
    for (w, h) in [(1280, 860), (1920, 1080), (390, 844)] {
        driver.set_viewport(w, h).unwrap();
        assert_fits(&driver, "the Memory tab");
        save_screenshot(&driver, &format!("tools-memory-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();

    // Forget all asks the engine, as "forget everything" by voice does: its confirmation is the
    // banner with the time left to answer. "Keep" keeps the facts; "Forget all" forgets them.
    let ask = |driver: &WebDriver| {
        driver.click("#forget-all").unwrap();
        driver
            .wait_for(
                "the confirm banner",
                r#"const b = document.querySelector('#confirm-banner');
                   const left = Number(document.querySelector('#confirm-left').dataset.leftS || 0);
                   return b.hidden || left <= 0 ? null : {
                     prompt: document.querySelector('#confirm-prompt').textContent, left,
                     focused: document.activeElement.id };"#,
                WAIT,
            )
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let asked = ask(&driver);
    assert!(asked["prompt"].as_str().unwrap_or_default().contains("Forget all 2 facts"), "{asked}");
    assert!((1..=60).contains(&asked["left"].as_i64().unwrap_or_default()), "a countdown: {asked}");
    assert_eq!(asked["focused"], "confirm-no", "the keyboard goes on to the answer: {asked}");
    let pending = ws.ask(json!({"cmd": "get_tools"}));
    assert_eq!(pending["tools"]["confirm"]["action"], "forget_all", "a second client sees it pending: {pending}");
    for (w, h) in SIZES {
        driver.set_viewport(w, h).unwrap();
        assert_fits(&driver, "the confirm banner");
        save_screenshot(&driver, &format!("tools-confirm-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();
    driver.click("#confirm-no").unwrap();
    driver
        .wait_for("the banner to go", "return document.querySelector('#confirm-banner').hidden;", WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(engine_facts(&mut ws).len(), 2, "kept");
    assert!(ws.ask(json!({"cmd": "get_tools"}))["tools"]["confirm"].is_null(), "nothing pending once kept");
    ask(&driver);
    driver.click("#confirm-yes").unwrap();
    shown_facts(&driver, 0);
    assert!(engine_facts(&mut ws).is_empty(), "forgotten in the engine");
    assert_eq!(driver.execute("return document.querySelector('#confirm-banner').hidden;", no_args()).unwrap(), true);
    assert_eq!(driver.execute("return document.querySelector('#facts-empty').hidden;", no_args()).unwrap(), false);

    // A real turn: "Set a timer for ten minutes." through push-to-talk. The fast path's chip,
    // the tool stage, a running countdown.
    driver.click("#tab-talk").unwrap();
    assert_eq!(driver.execute("return document.querySelector('#timers').hidden;", no_args()).unwrap(), true);
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let chip = driver
        .wait_for(
            "turn 1's set_timer chip",
            r#"const t = document.querySelector('.turn[data-turn="1"]');
               if (!t || t.dataset.complete !== 'true') return null;
               const c = t.querySelector('.tool-call');
               return {
                 transcript: t.querySelector('.transcript').textContent,
                 chip: c && { tool: c.dataset.tool, ok: c.dataset.ok, source: c.dataset.source,
                              text: c.textContent, label: c.getAttribute('aria-label') },
                 answer: t.querySelector('.answer').textContent,
               };"#,
            panel::TURN_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chip["chip"]["tool"], "set_timer", "{chip:#}");
    assert_eq!(chip["chip"]["ok"], "true", "{chip:#}");
    assert_eq!(chip["chip"]["source"], "fast_path", "{chip:#}");
    let text = chip["chip"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("10 min") && text.contains("fast path") && text.contains(" ms"), "in words: {chip:#}");
    assert!(!text.contains('{'), "no raw JSON: {chip:#}");

    let timer = driver
        .wait_for(
            "the timers widget to count down",
            r#"const w = document.querySelector('#timers');
               const li = w.querySelector('li.timer[data-state="running"]');
               return w.hidden || !li ? null : { left: li.querySelector('.timer-left').textContent,
                                               left_s: Number(li.querySelector('.timer-left').dataset.leftS),
                                               id: li.dataset.timerId };"#,
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let left_s = timer["left_s"].as_i64().unwrap_or_default();
    assert!((560..=600).contains(&left_s), "about ten minutes left: {timer}");
    // It counts down by itself (client-side, from the due time).
    std::thread::sleep(Duration::from_millis(2200));
    let later = driver
        .execute("return Number(document.querySelector('#timers li.timer .timer-left').dataset.leftS);", no_args())
        .unwrap();
    assert!(later.as_i64().unwrap_or(i64::MAX) < left_s, "the countdown moves: {left_s} then {later}");
    let tool_row = driver
        .execute(
            r#"const t = document.querySelector('.turn[data-turn="1"]');
               t.querySelector('details.turn-stats').open = true;
               const r = t.querySelector('tr[data-stage="tool"]');
               return r && Number(r.dataset.startMs);"#,
            no_args(),
        )
        .unwrap();
    assert!(tool_row.as_f64().is_some(), "the breakdown has the tool stage: {tool_row}");
    let engine_timers = ws.ask(json!({"cmd": "get_tools"}));
    assert!(
        engine_timers["tools"]["timers"].as_array().unwrap().iter().any(|t| t["state"] == "running"),
        "{engine_timers}"
    );
    for (w, h) in [(1280, 860), (1920, 1080), (390, 844)] {
        driver.set_viewport(w, h).unwrap();
        driver.execute(SHOW_TALK, no_args()).unwrap();
        assert_fits(&driver, "the Talk tab");
        save_screenshot(&driver, &format!("tools-talk-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();

    // Cancel from the widget: gone from the widget, cancelled in the engine.
    driver.click("#timers li.timer .timer-cancel").unwrap();
    driver
        .wait_for(
            "the timer to leave the widget",
            "return document.querySelector('#timers').hidden;",
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let engine_timers = ws.ask(json!({"cmd": "get_tools"}));
    assert!(
        engine_timers["tools"]["timers"].as_array().unwrap().iter().all(|t| t["state"] != "running"),
        "{engine_timers}"
    );

    // A short timer by voice rings: the assistant speaks up on its own (an announcement turn,
    // not an answer), and the widget shows the notice and the timer as done.
    voxdeck_e2e::say(home.path(), "Remind me in five seconds to check the oven.", &question);
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let rang = driver
        .wait_for(
            "the timer to ring",
            r#"const a = document.querySelector('.turn.announcement[data-complete="true"]');
               const n = document.querySelector('#timer-notice');
               const done = document.querySelector('#timers li.timer[data-state="rang"]');
               if (!a || n.hidden || !done) return null;
               const set = document.querySelector('.turn[data-turn="2"] .tool-call');
               return { answer: a.querySelector('.answer').textContent, head: a.querySelector('.turn-no').textContent,
                        transcript_hidden: a.querySelector('.transcript').hidden,
                        notice: document.querySelector('#timer-notice-text').textContent,
                        done: done.querySelector('.timer-left').textContent,
                        set: set && set.textContent };"#,
            panel::TURN_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rang["set"].as_str().unwrap_or_default().contains("5 s"), "{rang:#}");
    assert_eq!(rang["head"], "Assistant", "{rang:#}");
    assert_eq!(rang["transcript_hidden"], true, "{rang:#}");
    assert!(!rang["answer"].as_str().unwrap_or_default().is_empty(), "it says so: {rang:#}");
    assert!(!rang["notice"].as_str().unwrap_or_default().is_empty(), "{rang:#}");
    assert_eq!(rang["done"], "done", "{rang:#}");
    for (w, h) in SIZES {
        driver.set_viewport(w, h).unwrap();
        driver.execute(SHOW_TALK, no_args()).unwrap();
        assert_fits(&driver, "the announcement");
        save_screenshot(&driver, &format!("tools-rang-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();
    driver.click("#timer-notice-dismiss").unwrap();
    assert_eq!(driver.execute("return document.querySelector('#timer-notice').hidden;", no_args()).unwrap(), true);

}
