//! The live charts as a person sees them, in headless Chromium on `voxdeck serve` after one
//! spoken turn: at 1280x860, 1920x1080 and 390x844 each chart is redrawn for the size it is
//! shown at (viewBox width = shown width), its text is at least 11 px on screen and no two
//! labels overlap, each chart is named by its figures for a screen reader, and the section
//! collapses and stays collapsed after a reload. Screenshots: `charts-<w>x<h>.png`.

use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};
use voxdeck_e2e::panel;
use voxdeck_e2e::serve;

const SIZES: [(u32, u32); 3] = [(1280, 860), (1920, 1080), (390, 844)];

/// Each chart's SVG as shown: viewBox and box widths, the smallest text on screen (its SVG
/// font size times the SVG's scale), overlapping labels, and the accessible name. Null until
/// every chart has been redrawn for the width it is shown at.
const MEASURE: &str = r#"
    const out = {};
    for (const name of ["tok_s", "memory", "latency"]) {
        const svg = document.querySelector(`#chart-${name} .chart-svg svg`);
        if (!svg) return null;
        const box = svg.getBoundingClientRect();
        const vb = svg.viewBox.baseVal;
        if (Math.abs(vb.width - box.width) > 1) return null;
        const scale = svg.getScreenCTM().a;
        const texts = [...svg.querySelectorAll("text")].filter(t => t.textContent.trim() !== "");
        const rects = texts.map(t => ({ text: t.textContent.trim(), r: t.getBoundingClientRect() }));
        const overlaps = [];
        for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
            const a = rects[i].r, b = rects[j].r;
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
                overlaps.push(`${rects[i].text} / ${rects[j].text}`);
        }
        const outside = rects.filter(({ r }) => r.left < box.left - 1 || r.right > box.right + 1
            || r.top < box.top - 1 || r.bottom > box.bottom + 1).map(({ text }) => text);
        out[name] = {
            view_box_width: vb.width, shown_width: box.width, shown_height: box.height,
            min_font_px: Math.min(...texts.map(t => parseFloat(t.getAttribute("font-size")) * scale)),
            texts: rects.map(({ text }) => text),
            overlaps, outside,
            label: svg.getAttribute("aria-label") || "",
            role: svg.getAttribute("role"),
        };
    }
    out.dpr = window.devicePixelRatio;
    out.viewport = [window.innerWidth, window.innerHeight];
    return out;"#;

#[test]
fn charts_are_drawn_for_their_size_readable_named_and_collapsible() {
    let _exclusive = crate::exclusive();
    let server = LlamaServer::start(&test_model_path());
    let home = panel::Setup::new(&server);
    let (q, a) = (&home.question, &home.answers);
    let (mut app, url, _) =
        serve(home.path(), &["--bind", "127.0.0.1:0", "--input", q.to_str().unwrap(), "--output", a.to_str().unwrap()]);
    let driver = Chromium::start(home.path(), (1280, 860), &["--force-device-scale-factor=1"]);
    driver.goto(&url).unwrap();
    driver
        .wait_for(
            "the models to load",
            r#"const s = document.querySelector('#engine-status');
               return s && s.dataset.state === 'ready';"#,
            panel::LOAD_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));

    // One spoken turn (the WAV question), so every chart has data.
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    driver
        .wait_for(
            "turn 1's figures in the charts",
            r#"const f = document.querySelector('#chart-latency .figure[data-label="first audio"]');
               const g = document.querySelector('#chart-tok_s .figure[data-label="generation"]');
               return f && g && f.dataset.current !== "" && g.dataset.current !== "";"#,
            panel::TURN_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));

    for (w, h) in SIZES {
        driver.set_viewport(w, h).unwrap();
        let m = driver
            .wait_for(&format!("the charts redrawn for {w}x{h}"), MEASURE, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("charts at {w}x{h}: {m}");
        assert_eq!(m["viewport"], json!([w, h]), "the window is {w}x{h}: {m}");
        assert_eq!(m["dpr"], json!(1), "100% zoom");
        for name in ["tok_s", "memory", "latency"] {
            let c = &m[name];
            let min_font = c["min_font_px"].as_f64().unwrap();
            assert!(min_font >= 11.0, "{name} at {w}x{h}: smallest text {min_font} px: {c}");
            assert!(c["overlaps"].as_array().unwrap().is_empty(), "{name} at {w}x{h}: overlapping labels: {c}");
            assert!(c["outside"].as_array().unwrap().is_empty(), "{name} at {w}x{h}: text cut off: {c}");
            assert_eq!(c["role"], "img");
            let label = c["label"].as_str().unwrap();
            assert!(label.len() > 20 && label.contains(':'), "{name}: a one-line summary as its name: {label:?}");
            for text in c["texts"].as_array().unwrap().iter().filter_map(Value::as_str) {
                assert!(!text.ends_with(".0"), "{name}: tick label {text:?}");
            }
        }
        let texts = |name: &str| {
            m[name]["texts"].as_array().unwrap().iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>()
        };
        assert!(texts("tok_s").iter().any(|t| t == "tok/s"), "the unit is written once");
        assert!(texts("memory").iter().any(|t| t.starts_with("headroom")), "{:?}", texts("memory"));
        assert!(m["latency"]["label"].as_str().unwrap().contains(" s"), "latency in seconds");
        driver
            .execute("document.querySelector('.charts').scrollIntoView({ block: 'start' }); return true;", json!([]))
            .unwrap();
        panel::save_screenshot(&driver, &format!("charts-{w}x{h}"));
        if w < 800 {
            // One column: the latency chart is below the fold; show it too.
            let script = "document.querySelector('#chart-latency').scrollIntoView({ block: 'end' }); return true;";
            driver.execute(script, json!([])).unwrap();
            panel::save_screenshot(&driver, &format!("charts-{w}x{h}-latency"));
        }
    }

    // Collapsing gives the height back and survives a reload.
    driver.set_viewport(1280, 860).unwrap();
    driver.click("#charts-toggle").unwrap();
    let state = "return [document.querySelector('#charts-toggle').getAttribute('aria-expanded'), \
                 document.querySelector('#charts-body').getBoundingClientRect().height];";
    assert_eq!(driver.execute(state, json!([])).unwrap(), json!(["false", 0]));
    driver.goto(&url).unwrap();
    let collapsed = driver
        .wait_for(
            "the page again",
            "return document.querySelector('#engine-status')?.dataset.state === 'ready';",
            Duration::from_secs(30),
        )
        .and_then(|_| driver.execute(state, json!([])))
        .unwrap();
    assert_eq!(collapsed, json!(["false", 0]), "remembered");
    driver.click("#charts-toggle").unwrap();
    let shown = driver.execute(state, json!([])).unwrap();
    assert_eq!(shown[0], "true");
    assert!(shown[1].as_f64().unwrap() > 150.0, "{shown}");
    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
