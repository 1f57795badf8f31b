//! `voxdeck ask` on the test-set models.

use voxdeck_e2e::{run, voxdeck};

#[test]
fn ask_streams_the_answer_then_a_metrics_line() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    // Greedy decoding, so the answer is the same on every run.
    let config = home.path().join("greedy.toml");
    std::fs::write(&config, "[llm]\ntemperature = 0.0\n").unwrap();
    let r = run(voxdeck(home.path()).arg("--config").arg(&config).args([
        "ask",
        "--model",
        "smollm2-135m-instruct-q4_1",
        "--max-tokens",
        "40",
        "--threads",
        "1",
        "What is the capital of France?",
    ]));
    assert!(r.status.success(), "{r}");
    assert!(r.stdout.contains("Paris"), "{r}");
    let metrics = r.stderr.lines().last().unwrap_or_default();
    assert!(metrics.starts_with("[SmolLM2 135M Instruct Q4_1]"), "{r}");
    for field in ["prompt", "first token", "tok/s", "layers on GPU"] {
        assert!(metrics.contains(field), "metrics line lacks {field:?}: {metrics}");
    }
}

#[test]
fn ask_json_prints_one_object_with_the_metrics() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).args([
        "ask",
        "--json",
        "--model",
        "gemma-3-270m-q4_k_m",
        "--max-tokens",
        "24",
        "--threads",
        "1",
        "Name a fruit.",
    ]));
    assert!(r.status.success(), "{r}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{r}"));
    assert_eq!(v["engine"], "local");
    assert_eq!(v["model"], "Gemma 3 270M Q4_K_M");
    assert!(!v["answer"].as_str().unwrap().is_empty(), "{r}");
    for key in ["prompt_tokens", "prompt_tok_s", "ttft_ms", "gen_tokens", "gen_tok_s", "total_ms", "weights_bytes", "kv_cache_bytes"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} = {}", v[key]);
    }
    assert!(v["gen_tokens"].as_u64().unwrap() <= 24);
    assert!(["stop", "length"].contains(&v["finish"].as_str().unwrap()));
    // The streamed text went to stderr, so stdout stays machine-readable.
    assert!(r.stderr.contains(v["answer"].as_str().unwrap().split_whitespace().next().unwrap()), "{r}");
}
