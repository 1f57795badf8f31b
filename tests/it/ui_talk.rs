//! The Talk tab in headless Chromium through `voxdeck serve`, spoken to with a WAV question:
//! push-to-talk by keyboard (Space only where it is not another control's key, Enter on the
//! focused talk button, `aria-pressed`, the polite live region), the conversation that fills
//! the window and follows the newest turn unless the user scrolled up, and each turn's label,
//! stats line and per-stage breakdown against the engine's turn records.
//!
//! Needs Debian's `chromium` and `chromium-driver` and the loopback OpenAI server
//! (`VOXDECK_LLAMA_SERVER_PYTHON`), as `ui_serve` does.

use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};
use voxdeck_e2e::panel::{self, save_screenshot};
use voxdeck_e2e::serve;
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::ws_client::PanelSocket;

const SPACE: &str = " ";
const ENTER: &str = "\u{E007}";
const HOLD: Duration = Duration::from_millis(300);

fn no_args() -> Value {
    json!([])
}

/// Makes the page's viewport `width` x `height` and says what it got.
fn set_viewport(driver: &WebDriver, width: u32, height: u32) -> (i64, i64) {
    driver.set_viewport(width, height).unwrap();
    let v = driver.execute("return [window.innerWidth, window.innerHeight];", no_args()).unwrap();
    (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
}

/// Where the newest turn is and whether the page scrolls, at the current size.
const LAYOUT: &str = r#"
    const list = document.querySelector('#conversation');
    const turns = list.querySelectorAll('.turn');
    const last = turns[turns.length - 1];
    const r = last.getBoundingClientRect(), l = list.getBoundingClientRect();
    const doc = document.scrollingElement;
    return {
        turns: turns.length,
        newest_top: r.top, newest_bottom: r.bottom, list_top: l.top, list_bottom: l.bottom,
        inner_height: window.innerHeight,
        doc_scroll_height: doc.scrollHeight, doc_client_height: doc.clientHeight,
        list_scrollable: list.scrollHeight > list.clientHeight + 1,
        at_end: list.scrollHeight - list.scrollTop - list.clientHeight <= 2,
        newest_button: !document.querySelector('#conversation-newest').hidden,
    };"#;

/// The newest turn is wholly inside the conversation's box and the window.
fn assert_newest_in_view(layout: &Value, what: &str) {
    let f = |k: &str| layout[k].as_f64().unwrap_or(f64::NAN);
    assert!(f("newest_top") >= f("list_top") - 1.0, "{what}: the newest turn starts above the list: {layout}");
    assert!(f("newest_bottom") <= f("list_bottom") + 1.0, "{what}: the newest turn ends below the list: {layout}");
    assert!(f("newest_bottom") <= f("inner_height"), "{what}: the newest turn ends below the window: {layout}");
}

/// The page itself does not scroll: the conversation does.
fn assert_page_fits(layout: &Value, what: &str) {
    let f = |k: &str| layout[k].as_f64().unwrap_or(f64::NAN);
    assert!(f("doc_scroll_height") <= f("doc_client_height"), "{what}: the page scrolls: {layout}");
}

/// Waits until turn `n` is complete and shows its stats line; returns what the page shows.
fn wait_turn(driver: &WebDriver, n: u64) -> Value {
    let script = format!(
        r#"const t = document.querySelector('.turn[data-turn="{n}"]');
        if (!t || t.dataset.complete !== "true") return null;
        const stats = {{}};
        for (const s of t.querySelectorAll('.turn-stats > summary .stat[data-stat]'))
            stats[s.dataset.stat] = {{ text: s.textContent, value: Number(s.dataset.value) }};
        return {{
            outcome: t.dataset.outcome, engine: t.dataset.engine || null,
            transcript: t.querySelector('.transcript').textContent,
            model_name: t.querySelector('.model-name')?.textContent ?? null,
            badge: t.querySelector('.route-badge')?.textContent ?? null,
            badge_title: t.querySelector('.route-badge')?.title ?? null,
            stats,
        }};"#
    );
    let shown = driver
        .wait_for(&format!("turn {n} to complete"), &script, panel::TURN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("turn {n} as shown: {shown}");
    assert_eq!(shown["outcome"], "answered", "{shown}");
    shown
}

/// The live region's words and the talk button's `aria-pressed`, as they change.
const WATCH_ARIA: &str = r#"
    window.__live = []; window.__pressed = [];
    const live = document.querySelector('#ptt-live');
    new MutationObserver(() => window.__live.push(live.textContent))
        .observe(live, { childList: true, characterData: true, subtree: true });
    const ptt = document.querySelector('#ptt');
    new MutationObserver(() => window.__pressed.push(ptt.getAttribute('aria-pressed')))
        .observe(ptt, { attributes: true, attributeFilter: ['aria-pressed'] });
    return true;"#;

fn take(driver: &WebDriver, name: &str) -> Vec<String> {
    let v = driver.execute(&format!("const v = window.{name}; window.{name} = []; return v;"), no_args()).unwrap();
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap_or_default().to_owned()).collect()
}

/// "0.61 s": seconds with two decimals, the unit the charts use.
fn seconds(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

#[test]
fn the_talk_tab_follows_the_newest_turn_and_talks_by_keyboard() {
    let _exclusive = crate::exclusive();
    let mut server = LlamaServer::start(&test_model_path());
    let home = panel::Setup::new(&server);
    let (q, a) = (&home.question, &home.answers);
    let (mut app, url, _) =
        serve(home.path(), &["--bind", "127.0.0.1:0", "--input", q.to_str().unwrap(), "--output", a.to_str().unwrap()]);
    let driver = Chromium::start(home.path(), (1280, 860), &[]);
    driver.goto(&url).unwrap();
    let ready = driver
        .wait_for(
            "the models to load",
            r#"const s = document.querySelector('#engine-status');
               if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
               return s.dataset.state === 'ready' ? 'ready' : null;"#,
            panel::LOAD_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready, "ready");
    let viewport = set_viewport(&driver, 1280, 860);
    assert_eq!(viewport, (1280, 860), "the viewport");
    driver.click("#mode-local").unwrap();
    driver
        .wait_for(
            "Local pressed",
            "return document.querySelector('#mode-local').getAttribute('aria-pressed') === 'true';",
            Duration::from_secs(10),
        )
        .unwrap();
    driver.execute(WATCH_ARIA, no_args()).unwrap();

    // Space on a focused mode button is the button's: no turn starts.
    driver.execute("document.querySelector('#mode-local').focus(); return true;", no_args()).unwrap();
    driver.key_hold(SPACE, HOLD).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let quiet = driver
        .execute(
            "return { turns: document.querySelectorAll('.turn').length, state: document.querySelector('#ptt').dataset.state };",
            no_args(),
        )
        .unwrap();
    assert_eq!(quiet, json!({ "turns": 0, "state": "idle" }), "Space on a focused mode button started a turn");
    assert!(take(&driver, "__pressed").is_empty(), "the talk button was pressed by Space on a mode button");

    // Space with the focus on the page talks: pressed while held, the states announced.
    driver.execute("document.activeElement.blur(); return true;", no_args()).unwrap();
    driver.key_hold(SPACE, HOLD).unwrap();
    let t1 = wait_turn(&driver, 1);
    assert!(t1["transcript"].as_str().unwrap().to_lowercase().contains("france"), "{t1}");
    assert_eq!(take(&driver, "__pressed"), ["true", "false"], "aria-pressed while Space was held");
    let idle = "return document.querySelector('#ptt').dataset.state === 'idle' && document.querySelector('#ptt-live').textContent === 'ready';";
    driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();
    let live = take(&driver, "__live");
    eprintln!("live region: {live:?}");
    assert_eq!(live.first().map(String::as_str), Some("listening"), "{live:?}");
    assert!(live.iter().any(|s| s == "thinking"), "{live:?}");
    assert_eq!(live.last().map(String::as_str), Some("ready"), "{live:?}");

    // Enter on the focused talk button talks.
    driver.execute("document.querySelector('#ptt').focus(); return true;", no_args()).unwrap();
    driver.key_hold(ENTER, HOLD).unwrap();
    wait_turn(&driver, 2);
    assert_eq!(take(&driver, "__pressed"), ["true", "false"], "aria-pressed while Enter was held");
    driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();

    // A held key repeats: one press, one release, one turn.
    let repeated = r#"
        const key = (type, repeat) => window.dispatchEvent(new KeyboardEvent(type, { key: ' ', code: 'Space', repeat }));
        key('keydown', false);
        for (let i = 0; i < 5; i++) key('keydown', true);
        return new Promise((done) => setTimeout(() => {
            key('keyup', false);
            setTimeout(() => done(window.__pressed.slice()), 50); // after the observer's records
        }, 300));"#;
    let pressed = driver.execute(repeated, no_args()).unwrap();
    assert_eq!(pressed, json!(["true", "false"]), "a repeating Space pressed once");
    take(&driver, "__pressed");
    wait_turn(&driver, 3);
    driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();
    let turns = driver.execute("return document.querySelectorAll('.turn').length;", no_args()).unwrap();
    assert_eq!(turns, 3, "one turn for the held Space");

    // One more by mouse; the list follows.
    driver.hold("#ptt", HOLD).unwrap();
    wait_turn(&driver, 4);
    driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();
    let layout = driver.execute(LAYOUT, no_args()).unwrap();
    assert!(layout["list_scrollable"].as_bool().unwrap(), "four turns overflow the list at 1280x860: {layout}");
    assert!(layout["at_end"].as_bool().unwrap(), "the list followed the turns: {layout}");

    // Scrolled up, the list stays where the user put it and offers the way back.
    driver.execute("document.querySelector('#conversation').scrollTop = 0; return true;", no_args()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    driver.hold("#ptt", HOLD).unwrap();
    let t5 = wait_turn(&driver, 5);
    let scrolled = driver.execute("return document.querySelector('#conversation').scrollTop;", no_args()).unwrap();
    assert_eq!(scrolled.as_f64(), Some(0.0), "the list did not follow after the user scrolled up");
    let layout = driver.execute(LAYOUT, no_args()).unwrap();
    assert!(layout["newest_button"].as_bool().unwrap(), "the newest button shows: {layout}");
    driver.click("#conversation-newest").unwrap();
    let layout = driver.execute(LAYOUT, no_args()).unwrap();
    eprintln!("1280x860: {layout}");
    assert_eq!(layout["turns"], 5);
    assert!(!layout["newest_button"].as_bool().unwrap(), "{layout}");
    assert_newest_in_view(&layout, "1280x860");
    assert_page_fits(&layout, "1280x860");

    // Each turn's label and stats line against the engine's records.
    let mut socket = PanelSocket::connect(&url);
    let status = socket.ask(json!({ "cmd": "status" }));
    let records = status["status"]["turns"].as_array().expect("turn records").clone();
    assert_eq!(records.len(), 5, "{status}");
    let last = records.last().unwrap();
    assert_eq!(t5["model_name"], last["model_name"], "{t5} vs {last}");
    let name = t5["model_name"].as_str().unwrap();
    assert!(name.starts_with("SmolLM2") && !name.contains("Q4"), "the model's short name: {name}");
    assert_eq!(t5["badge"], "local", "{t5}");
    assert_eq!(t5["badge_title"], "mode local", "{t5}");
    for record in &records {
        let n = record["turn"].as_u64().unwrap();
        let shown = wait_turn(&driver, n);
        let stats = &shown["stats"];
        let f = |k: &str| record[k].as_f64().unwrap_or_else(|| panic!("turn {n}: no {k} in {record}"));
        assert!((stats["tok_s"]["value"].as_f64().unwrap() - f("gen_tok_s")).abs() < 1e-6, "{stats} vs {record}");
        assert_eq!(stats["tok_s"]["text"], format!("{:.1} tok/s", f("gen_tok_s")));
        assert_eq!(stats["tokens"]["text"], format!("{} tokens", f("gen_tokens")));
        assert_eq!(stats["ttft"]["text"], format!("first token {}", seconds(f("ttft_ms"))));
        assert_eq!(stats["first_audio"]["text"], format!("first audio {}", seconds(f("first_audio_ms"))));
        assert!(f("ttft_ms") > 0.0 && f("first_audio_ms") > f("ttft_ms"), "{record}");
        // Heard: the first audible sample, after it was handed over (by the voice's lead-in).
        assert_eq!(stats["heard"]["text"], format!("heard {}", seconds(f("first_audible_ms"))));
        assert!(f("first_audible_ms") >= f("first_audio_ms"), "{record}");
    }
    save_screenshot(&driver, "talk-five-turns-1280x860");

    // The stats line discloses the stages, each from the record's milestones.
    driver.click(".turn[data-turn=\"5\"] .turn-stats > summary").unwrap();
    let stages = driver
        .wait_for(
            "the breakdown to open",
            r#"const d = document.querySelector('.turn[data-turn="5"] .turn-stats');
               if (!d.open) return null;
               const rows = {};
               for (const tr of d.querySelectorAll('tr[data-stage]'))
                   rows[tr.dataset.stage] = { start: Number(tr.dataset.startMs), duration: Number(tr.dataset.durationMs),
                                              text: tr.textContent };
               const facts = {};
               for (const dd of d.querySelectorAll('dd[data-fact]')) facts[dd.dataset.fact] = dd.textContent;
               const r = d.getBoundingClientRect();
               const l = document.querySelector('#conversation').getBoundingClientRect();
               // The scroll into view follows the open (on its toggle event): wait for it.
               const inView = r.top >= l.top - 1 && r.top < l.bottom && (r.bottom <= l.bottom + 1 || Math.abs(r.top - l.top) <= 2);
               if (!inView) return null;
               return { rows, facts, top: r.top, bottom: r.bottom, list_top: l.top, list_bottom: l.bottom };"#,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("breakdown: {stages}");
    for stage in ["listen", "transcribe", "first token", "first sentence", "first audio", "heard", "done"] {
        assert!(stages["rows"][stage].is_object(), "no {stage} stage: {stages}");
    }
    let f = |k: &str| last[k].as_f64().unwrap();
    let transcribe = &stages["rows"]["transcribe"];
    assert_eq!(transcribe["duration"].as_f64().unwrap(), (f("transcript_ms") - f("release_ms")).round(), "{stages}");
    let audio = &stages["rows"]["first audio"];
    assert_eq!(audio["duration"].as_f64().unwrap(), (f("first_audio_ms") - f("first_sentence_ms")).round(), "{stages}");
    // "heard" follows "first audio": it starts where the audio was handed over and ends later.
    let heard = &stages["rows"]["heard"];
    assert_eq!(heard["start"].as_f64().unwrap(), f("first_audio_ms").round(), "{stages}");
    assert_eq!(heard["duration"].as_f64().unwrap(), (f("first_audible_ms") - f("first_audio_ms")).round(), "{stages}");
    assert!(heard["duration"].as_f64().unwrap() >= 0.0, "{stages}");
    assert_eq!(stages["facts"]["route"], "mode local", "{stages}");
    // Scrolled to: all of it if it fits the list, else from its stats line down.
    let g = |k: &str| stages[k].as_f64().unwrap();
    assert!(g("top") >= g("list_top") - 1.0 && g("top") < g("list_bottom"), "the open breakdown is in view: {stages}");
    assert!(g("bottom") <= g("list_bottom") + 1.0 || (g("top") - g("list_top")).abs() <= 2.0, "{stages}");
    save_screenshot(&driver, "talk-breakdown-1280x860");
    driver.click(".turn[data-turn=\"5\"] .turn-stats > summary").unwrap();
    driver.execute("document.querySelector('#conversation-newest').hidden || document.querySelector('#conversation-newest').click(); return true;", no_args()).unwrap();

    // The same at 1920x1080; stacked, with the newest turn in its list, at 390x844.
    for (w, h, fits) in [(1920, 1080, true), (390, 844, false)] {
        let got = set_viewport(&driver, w, h);
        let layout = driver.execute(LAYOUT, no_args()).unwrap();
        eprintln!("{w}x{h} (viewport {got:?}): {layout}");
        let what = format!("{w}x{h}");
        let f = |k: &str| layout[k].as_f64().unwrap();
        assert!(
            f("newest_top") >= f("list_top") - 1.0 && f("newest_bottom") <= f("list_bottom") + 1.0,
            "{what}: {layout}"
        );
        if fits {
            assert_newest_in_view(&layout, &what);
            assert_page_fits(&layout, &what);
        }
        save_screenshot(&driver, &format!("talk-five-turns-{what}"));
    }

    // The cloud's turn names the cloud's model; with the cloud gone, each turn says "fallback"
    // in its badge (the reason in its title), and only the first says so in words.
    set_viewport(&driver, 1280, 860);
    driver.click("#mode-cloud").unwrap();
    driver
        .wait_for(
            "Cloud pressed",
            "return document.querySelector('#mode-cloud').getAttribute('aria-pressed') === 'true';",
            Duration::from_secs(10),
        )
        .unwrap();
    driver.hold("#ptt", HOLD).unwrap();
    let t6 = wait_turn(&driver, 6);
    assert_eq!(t6["engine"], "cloud", "{t6} (server log: {})", server.log_tail(20));
    assert_eq!(t6["badge"], "cloud", "{t6}");
    let cloud_name = t6["model_name"].as_str().unwrap();
    assert!(!cloud_name.is_empty() && !cloud_name.to_lowercase().contains("q4"), "the cloud model's short name: {t6}");
    driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();
    server.kill();
    let notes = |n: u64| {
        let script = format!(
            "const t = document.querySelector('.turn[data-turn=\"{n}\"]'); \
             return {{ notes: Array.from(t.querySelectorAll('.notes p')).map(p => p.textContent), text: t.innerText, \
                      durations: Array.from(t.querySelectorAll('tr[data-stage]')).map(tr => Number(tr.dataset.durationMs)) }};"
        );
        driver.execute(&script, no_args()).unwrap()
    };
    for n in [7, 8] {
        driver.hold("#ptt", HOLD).unwrap();
        let shown = wait_turn(&driver, n);
        assert_eq!((shown["engine"].as_str(), shown["badge"].as_str()), (Some("local"), Some("fallback")), "{shown}");
        let title = shown["badge_title"].as_str().unwrap();
        assert!(title.starts_with("mode cloud; fallback: "), "the whole reason on hover: {shown}");
        let seen = notes(n);
        eprintln!("turn {n} notes: {seen}");
        let reason = title.trim_start_matches("mode cloud; fallback: ");
        assert!(
            !seen["text"].as_str().unwrap().contains(reason),
            "the fallback's reason is not spelled out in the turn: {seen}"
        );
        let told = seen["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t.as_str().unwrap().contains("answering locally"))
            .count();
        assert_eq!(told, usize::from(n == 7), "the fallback is told once, on its first turn: {seen}");
        // The spoken notice is the first sentence, before the first token: still no stage runs backwards.
        assert!(seen["durations"].as_array().unwrap().iter().all(|d| d.as_f64().unwrap() >= 0.0), "{seen}");
        driver.wait_for("ready again", idle, Duration::from_secs(30)).unwrap();
    }
    save_screenshot(&driver, "talk-fallback-1280x860");

    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
