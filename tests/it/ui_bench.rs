//! The Bench tab of `voxdeck serve` in headless Chromium: a one-run benchmark of the test set
//! with progress per model and phase and the time left, the result as a table with verdicts in
//! words (no emoji), the exports, and a second run cancelled ("Cancelled", the panel's models
//! still loaded). Screenshots `bench-result-<size>` at three sizes.

use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::panel;
use voxdeck_e2e::webdriver::WebDriver;

/// The test set, one thread each, and a short benchmark: a small prompt, answers of 10 and 30
/// tokens.
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 1024\n\
    max_tokens = 40\n\n[stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\n\n\
    [router]\nmode = \"local\"\n\n[bench]\nruns = 3\nprompt_tokens = 32\nresponse_tokens = [10, 30]\nverdict_tokens = 30\n";

const BENCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Records every progress and time line the tab shows, as it shows them.
const WATCH_PROGRESS: &str = r#"
    window.__benchSeen = [];
    const note = () => {
        const step = document.querySelector('#bench-step');
        const time = document.querySelector('#bench-time');
        if (!step.hidden) window.__benchSeen.push(step.textContent + ' | ' + time.textContent);
    };
    new MutationObserver(note).observe(document.querySelector('#panel-bench'),
        { subtree: true, childList: true, characterData: true, attributes: true });
    return true;"#;

/// What the result card shows.
const RESULT: &str = r#"
    const card = document.querySelector('#bench-result');
    const rows = [...card.querySelectorAll('table.bench-table tbody tr')].map(tr => ({
        model: tr.dataset.model,
        recommended: tr.dataset.recommended === 'true',
        cells: [...tr.children].map(c => c.textContent),
        verdicts: [...tr.querySelectorAll('[data-verdict]')].map(c => c.dataset.verdict),
    }));
    return {
        hidden: card.hidden,
        text: card.innerText,
        rows,
        heads: [...card.querySelectorAll('thead th')].map(th => th.textContent),
        recommendation: document.querySelector('#bench-recommendation').textContent,
        charts: card.querySelectorAll('.bench-charts svg').length,
    };"#;

/// Whether the result fits the page at this size: no page-wide horizontal scroll; the table
/// inside its card, scrolling there if it is wider.
const FITS: &str = r#"
    const wrap = document.querySelector('#bench-table-wrap');
    const card = document.querySelector('#bench-result').getBoundingClientRect();
    const w = wrap.getBoundingClientRect();
    return {
        page_scrolls: document.documentElement.scrollWidth > window.innerWidth + 1,
        wrap_inside: w.left >= card.left - 1 && w.right <= card.right + 1,
        table_scrolls: wrap.scrollWidth > wrap.clientWidth,
        overflow: getComputedStyle(wrap).overflowX,
        viewport: [window.innerWidth, window.innerHeight],
    };"#;

fn state(driver: &WebDriver) -> Value {
    driver.execute("return document.querySelector('#bench-state').textContent;", json!([])).unwrap()
}

/// Waits for the tab's state to be `wanted` (failing fast, with its words, on `failed`).
fn wait_state(driver: &WebDriver, wanted: &str) -> Value {
    let script = format!(
        r#"const s = document.querySelector('#bench-state');
           if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
           return s.dataset.state === '{wanted}' ? s.textContent : null;"#
    );
    let v =
        driver.wait_for(&format!("the bench to be {wanted}"), &script, BENCH_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(!v.as_str().unwrap_or_default().starts_with("failed"), "{v}");
    v
}

#[test]
fn the_bench_tab_shows_progress_a_result_table_exports_and_a_cancel() {
    let _exclusive = crate::exclusive();
    let home = tempfile::tempdir().unwrap();
    voxdeck_e2e::write_config(home.path(), CONFIG);
    let (mut app, driver) = panel::serve_with_wav_io(home.path());
    driver
        .wait_for(
            "the panel's models to load",
            r#"const s = document.querySelector('#engine-status');
               if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
               return s.dataset.state === 'ready' ? 'ready' : null;"#,
            panel::LOAD_TIMEOUT,
        )
        .map(|v| assert_eq!(v, "ready"))
        .unwrap_or_else(|e| panic!("{e}"));

    // One run per model.
    driver.click("#tab-bench").unwrap();
    assert_eq!(state(&driver), "No benchmark run yet.");
    driver.execute(WATCH_PROGRESS, json!([])).unwrap();
    driver.execute("document.querySelector('#bench-runs').value = '1'; return true;", json!([])).unwrap();
    driver.click("#bench-run").unwrap();
    let done = wait_state(&driver, "done");
    assert_eq!(done, "Done.");

    // Progress per model and phase, "estimating" first, then the time left.
    let seen: Vec<String> =
        serde_json::from_value(driver.execute("return window.__benchSeen;", json!([])).unwrap()).unwrap();
    let saw = |needle: &str| seen.iter().any(|l| l.contains(needle));
    for needle in
        ["Model 1 of 2", "Model 2 of 2", "loading", "warming up", "run 1 of 1: ", " of 30 tokens", "estimating"]
    {
        assert!(saw(needle), "no progress line with {needle:?} in {seen:#?}");
    }
    assert!(seen.iter().any(|l| l.contains("about ") && l.contains(" left")), "no time left in {seen:#?}");

    // The result: a table with verdicts in words, the recommendation, the charts, no emoji.
    let result = driver.execute(RESULT, json!([])).unwrap();
    assert_eq!(result["hidden"], false, "{result}");
    let rows = result["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{result:#}");
    let heads: Vec<&str> = result["heads"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for head in ["Model", "Verdict", "10 tokens", "30 tokens", "Generation", "Memory"] {
        assert!(heads.contains(&head), "no column {head:?}: {heads:?}");
    }
    const WORDS: [&str; 4] = ["natural", "acceptable", "too slow", "unusable"];
    for row in rows {
        let cells: Vec<&str> = row["cells"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(WORDS.contains(&cells[1]), "the verdict in words: {cells:?}");
        assert!(WORDS.iter().any(|w| cells[2].ends_with(&format!(" s {w}"))), "a time and its verdict: {cells:?}");
        assert!(cells[4].ends_with("tok/s"), "{cells:?}");
        assert_eq!(row["verdicts"].as_array().unwrap().len(), 3, "{row}");
    }
    assert_eq!(rows.iter().filter(|r| r["recommended"] == true).count(), 1, "{result:#}");
    let recommendation = result["recommendation"].as_str().unwrap();
    assert!(recommendation.starts_with("Recommended for voice: ") && recommendation.len() > 40, "{recommendation}");
    assert_eq!(result["charts"], 2, "{result:#}");
    let text = result["text"].as_str().unwrap();
    assert!(!text.chars().any(|c| c as u32 >= 0x2190), "marks or emoji in the result: {text}");
    assert!(!text.contains("| ---") && !text.contains("**"), "Markdown source in the result: {text}");

    // The screenshots: the table fits its card, scrolling inside it where the screen is narrow.
    for (w, h) in [(1280, 860), (1920, 1080), (390, 844)] {
        driver.set_viewport(w, h).unwrap();
        driver.execute("document.querySelector('#bench-result').scrollIntoView(); return true;", json!([])).unwrap();
        let fits = driver.execute(FITS, json!([])).unwrap();
        assert_eq!(fits["page_scrolls"], false, "{w}x{h}: the page scrolls sideways: {fits}");
        assert_eq!(fits["wrap_inside"], true, "{w}x{h}: the table leaves its card: {fits}");
        assert_eq!(fits["overflow"], "auto", "{fits}");
        if w < 500 {
            assert_eq!(fits["table_scrolls"], true, "{w}x{h}: a narrow screen scrolls the table: {fits}");
        }
        panel::save_screenshot(&driver, &format!("bench-result-{w}x{h}"));
    }
    driver.set_viewport(1280, 860).unwrap();

    // Exports still work: each becomes a download and a file on the server.
    for (button, file, needle) in [
        ("#bench-export-markdown", "report.md", "Voice model benchmark"),
        ("#bench-export-json", "bench.json", "\"models\""),
        ("#bench-export-png_tok_s", "tok_s.png", "PNG"),
    ] {
        driver
            .execute("document.querySelector('#bench-export-result').hidden = true; return true;", json!([]))
            .unwrap();
        driver.click(button).unwrap();
        let said = driver
            .wait_for(
                &format!("the {file} export"),
                r#"const m = document.querySelector('#bench-export-result');
                   const e = document.querySelector('#bench-error');
                   if (!e.hidden) return 'error: ' + e.textContent;
                   return m.hidden ? null : m.textContent;"#,
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let said = said.as_str().unwrap_or_default().to_owned();
        assert!(said.starts_with(&format!("Downloaded {file}")), "{said}");
        let path = said.rsplit(" to ").next().unwrap().trim_end_matches(')');
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(String::from_utf8_lossy(&bytes).contains(needle), "{path} lacks {needle:?}");
    }

    // A second run, cancelled during its first model: "Cancelled", the result above stays, the
    // panel's models stay loaded.
    driver
        .execute("document.querySelector('#bench-runs').value = ''; window.__benchSeen = []; return true;", json!([]))
        .unwrap();
    driver.click("#bench-run").unwrap();
    driver
        .wait_for(
            "the second run's first model",
            r#"const s = document.querySelector('#bench-step');
               return !s.hidden && s.textContent.startsWith('Model 1 of 2') && s.textContent.includes('run ')
                   && !document.querySelector('#bench-cancel').hidden;"#,
            BENCH_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state(&driver), "Benchmark running.");
    driver.execute("window.scrollTo(0, 0); return true;", json!([])).unwrap();
    panel::save_screenshot(&driver, "bench-progress-1280x860");
    driver.click("#bench-cancel").unwrap();
    let cancelled = wait_state(&driver, "cancelled");
    let cancelled = cancelled.as_str().unwrap();
    assert!(cancelled.starts_with("Cancelled after "), "{cancelled}");
    assert!(!cancelled.contains("ailed"), "{cancelled}");
    let after = driver
        .execute(
            r#"return {
                cancel_hidden: document.querySelector('#bench-cancel').hidden,
                run_enabled: !document.querySelector('#bench-run').disabled,
                progress_hidden: document.querySelector('#bench-progress').hidden,
                result_rows: document.querySelectorAll('#bench-result:not([hidden]) tbody tr').length,
                export_enabled: !document.querySelector('#bench-export-markdown').disabled,
                engine: document.querySelector('#engine-status').dataset.state,
            };"#,
            json!([]),
        )
        .unwrap();
    assert_eq!(
        after,
        json!({ "cancel_hidden": true, "run_enabled": true, "progress_hidden": true, "result_rows": 2,
                "export_enabled": true, "engine": "ready" }),
        "after the cancel"
    );
    assert!(cancelled.ends_with("The result below is from the previous run."), "{cancelled}");
    driver.execute("window.scrollTo(0, 0); return true;", json!([])).unwrap();
    panel::save_screenshot(&driver, "bench-cancelled-1280x860");

    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
