//! `voxdeck eval tools --limit 6` on the test set: the fast path's row, a free and a grammar row
//! for a model with rates in [0, 1], the report and the JSON.

use voxdeck_e2e::{run, voxdeck};

/// One test model (both are checked under the grammar by voxdeck-core's `local_tools`).
const MODELS: [&str; 1] = ["SmolLM2 135M Instruct Q4_1"];

#[test]
fn eval_tools_scores_the_fast_path_and_a_model_free_and_under_the_grammar() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let args = ["eval", "tools", "--limit", "6", "--models", "smollm2-135m-instruct-q4_1", "--out"];
    let r = run(voxdeck(home.path()).args(args).arg(out.path()));
    assert!(r.status.success(), "{r}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["requests"], 6);
    assert!(json["set_size"].as_u64().unwrap() >= 70);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1 + 2 * MODELS.len(), "{rows:#?}");

    let fast = &rows[0];
    assert_eq!((fast["path"].as_str(), fast["model"].is_null()), (Some("fast"), true));
    assert!(fast["no_tool_requests"].as_u64().unwrap() >= 2, "the spread keeps no-tool requests: {fast}");
    assert_eq!(fast["valid_call_rate"], 1.0, "every fast-path call is valid: {fast}");
    assert_eq!(fast["false_call_rate"], 0.0, "no fast-path call where none is wanted: {fast}");
    // 0.64 over the whole set, whose other requests need a model.
    assert!(fast["right_tool_rate"].as_f64().unwrap() >= 0.6, "{fast}");
    assert!(fast["argument_accuracy"].as_f64().unwrap() >= 0.6, "{fast}");
    assert!(fast["median_added_ms"].as_f64().unwrap() < 5.0, "the fast path adds microseconds: {fast}");

    for model in MODELS {
        for path in ["free", "grammar"] {
            let row = rows
                .iter()
                .find(|r| r["model"] == model && r["path"] == path)
                .unwrap_or_else(|| panic!("no {path} row for {model}: {rows:#?}"));
            assert_eq!(row["requests"], 6, "{row}");
            let calls = row["calls"].as_u64().unwrap();
            for key in ["right_tool_rate", "argument_accuracy", "false_call_rate", "median_added_ms"] {
                assert!(row[key].is_number(), "{model} {path}: {key} = {}", row[key]);
            }
            for key in ["valid_call_rate", "right_tool_rate", "argument_accuracy", "false_call_rate"] {
                let x = &row[key];
                assert!(
                    x.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x))
                        || (x.is_null() && key == "valid_call_rate" && calls == 0),
                    "{model} {path}: {key} = {x}"
                );
            }
            assert!(row["median_added_ms"].as_f64().unwrap() > 0.0, "{row}");
            if path == "grammar" {
                // Every request is answered with a call, and every call is valid.
                assert_eq!(calls, 6, "{model}: {row}");
                assert_eq!(row["valid_call_rate"], 1.0, "{model}: a call under the grammar is always valid: {row}");
            }
        }
    }
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6 * (1 + 2 * MODELS.len()));
    assert!(cases.iter().all(|c| c["say"].as_str().is_some_and(|s| !s.is_empty())));

    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        report.contains(
            "| Path | Model | Calls | Valid calls | Right tool | Arguments | False calls | Median added latency |"
        ),
        "{report}"
    );
    for model in MODELS {
        assert!(
            report.contains(&format!("| free | {model} |")) && report.contains(&format!("| grammar | {model} |")),
            "{report}"
        );
    }
    assert_eq!(r.stdout.trim(), report.trim(), "the report is also printed");
}

#[test]
fn eval_tools_fast_path_only_runs_the_whole_set_without_a_model() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).args(["eval", "tools", "--fast-path-only", "--out"]).arg(out.path()));
    assert!(r.status.success(), "{r}");
    assert!(!r.stderr.contains("loading"), "{r}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("eval.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["requests"], json["set_size"]);
    assert_eq!((rows[0]["valid_call_rate"].as_f64(), rows[0]["false_call_rate"].as_f64()), (Some(1.0), Some(0.0)));

    let bad = run(voxdeck(home.path()).args(["eval", "tools", "--limit", "0"]));
    assert!(!bad.status.success());
    let missing = run(voxdeck(home.path())
        .args(["eval", "tools", "--models", "no-such-model", "--limit", "2"])
        .arg("--out")
        .arg(out.path().join("x")));
    assert!(!missing.status.success() && missing.stderr.contains("no-such-model"), "{missing}");
}
