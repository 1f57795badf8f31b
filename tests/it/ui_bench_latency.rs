//! The Bench tab's latency benchmark in headless Chromium: a run on a 2-question subset (the
//! first question, in each voice), turn N of M while it runs, then the p50 / p90 table and the
//! dark chart. Screenshots `latency-result-<size>` and `latency-chart-<size>` at 1280x860 and
//! 390x844.

use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::panel;

/// The test set, one thread each, short answers.
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 1024\n\
    max_tokens = 16\n\n[stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\n\n[router]\nmode = \"local\"\n";

const RUN_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn the_bench_tab_runs_the_latency_benchmark_and_shows_its_table_and_chart() {
    let _exclusive = crate::exclusive();
    let home = tempfile::tempdir().unwrap();
    voxdeck_e2e::write_config(home.path(), CONFIG);
    let (mut app, driver) = panel::serve_with_wav_io(home.path());
    driver.click("#tab-bench").unwrap();
    driver
        .wait_for("the latency card", "return document.querySelector('#latency-state').textContent;", RUN_TIMEOUT)
        .map(|v| assert_eq!(v, "No latency run yet."))
        .unwrap_or_else(|e| panic!("{e}"));
    driver
        .execute(
            r#"window.__steps = [];
               const step = document.querySelector('#latency-step');
               new MutationObserver(() => { if (!step.hidden) window.__steps.push(step.textContent); })
                   .observe(step, { subtree: true, childList: true, characterData: true, attributes: true });
               document.querySelector('#latency-limit').value = '1';
               return true;"#,
            json!([]),
        )
        .unwrap();
    driver.click("#latency-run").unwrap();
    let done = driver
        .wait_for(
            "the latency run to finish",
            r#"const s = document.querySelector('#latency-state');
               if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
               return s.dataset.state === 'done' ? s.textContent : null;"#,
            RUN_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done, "Done.");
    let steps: Vec<String> =
        serde_json::from_value(driver.execute("return window.__steps;", json!([])).unwrap()).unwrap();
    // A warm-up, q01 and c1 in two voices, in two answer modes.
    assert!(steps.iter().any(|s| s.starts_with("Turn 2 of 10: streaming · single · q01 (piper)")), "{steps:#?}");
    assert!(steps.iter().any(|s| s.contains("whole answer · conversation · c1 (espeak)")), "{steps:#?}");

    let result = driver
        .execute(
            r#"const card = document.querySelector('#latency-result');
               return {
                   hidden: card.hidden,
                   heads: [...card.querySelectorAll('thead th')].map(th => th.textContent),
                   rows: [...card.querySelectorAll('tbody tr')].map(tr => [tr.dataset.key, ...[...tr.children].map(c => c.textContent)]),
                   headline: card.querySelector('tr[data-headline="true"]')?.dataset.key,
                   chart: card.querySelectorAll('#latency-chart svg').length,
                   text: card.innerText,
               };"#,
            json!([]),
        )
        .unwrap();
    assert_eq!(result["hidden"], false, "{result:#}");
    let heads: Vec<&str> = result["heads"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(
        heads,
        ["p50 / p90", "single turns · streaming (n=2)", "single turns · whole answer (n=2)"],
        "{result:#}"
    );
    assert_eq!(result["headline"], "first_audible_ms");
    let rows = result["rows"].as_array().unwrap();
    let row = |key: &str| rows.iter().find(|r| r[0] == key).unwrap_or_else(|| panic!("no {key} row: {result:#}"));
    for key in ["transcript_ms", "first_token_ms", "first_audio_ms"] {
        for cell in row(key).as_array().unwrap()[2..].iter().filter_map(Value::as_str) {
            let (p50, p90) = cell.split_once(" / ").unwrap_or_else(|| panic!("{key}: {cell}"));
            assert!(p50.parse::<f64>().unwrap() <= p90.parse::<f64>().unwrap(), "{key}: {cell}");
        }
    }
    assert_eq!(result["chart"], 1, "{result:#}");
    let text = result["text"].as_str().unwrap();
    assert!(!text.contains("| ---") && !text.contains("**"), "Markdown source in the result: {text}");

    for (w, h) in [(1280, 860), (390, 844)] {
        driver.set_viewport(w, h).unwrap();
        driver.execute("document.querySelector('#latency-result').scrollIntoView(); return true;", json!([])).unwrap();
        let page_scrolls =
            driver.execute("return document.documentElement.scrollWidth > window.innerWidth + 1;", json!([])).unwrap();
        assert_eq!(page_scrolls, false, "{w}x{h}: the page scrolls sideways");
        panel::save_screenshot(&driver, &format!("latency-result-{w}x{h}"));
        driver.execute("document.querySelector('#latency-chart').scrollIntoView(); return true;", json!([])).unwrap();
        panel::save_screenshot(&driver, &format!("latency-chart-{w}x{h}"));
    }
    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}
