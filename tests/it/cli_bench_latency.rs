//! `voxdeck bench latency` on a subset of the shipped question set (2 single questions and 2
//! conversation turns, espeak's recordings), streaming and whole answers, on the test set.

use voxdeck_e2e::{run, voxdeck, write_config};

/// One thread per engine, greedy and short answers: a quick run on two cores.
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 2048\n\n\
                      [stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\nnoise_scale = 0.0\nnoise_w = 0.0\n";

#[test]
fn bench_latency_reports_every_milestone_for_single_and_conversation_turns() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let out = home.path().join("latency");
    let r = run(voxdeck(home.path())
        .args(["bench", "latency", "--limit", "2", "--voice", "espeak", "--max-tokens", "16", "--out"])
        .arg(&out));
    assert!(r.status.success(), "{r}");
    for file in ["report.md", "latency.json", "latency.png", "latency.svg"] {
        assert!(out.join(file).is_file(), "{file} missing: {r}");
    }
    assert!(r.stdout.contains("| **first audible (ms)** |"), "{r}");
    assert!(r.stderr.contains("[8/10]"), "progress lines: {r}");

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("latency.json")).unwrap()).unwrap();
    assert_eq!(json["config"]["mode"], "local");
    assert_eq!(json["config"]["keys"]["llm.max_tokens"], "16");
    assert!(json["host"]["cores"].as_u64().unwrap() >= 1);
    let turns = json["turns"].as_array().unwrap();
    let asked: Vec<String> = turns
        .iter()
        .map(|t| {
            format!("{} {} {}", t["answer_mode"].as_str().unwrap(), t["id"].as_str().unwrap(), t["conversation_turn"])
        })
        .collect();
    let expected: Vec<String> = ["streaming", "whole"]
        .iter()
        .flat_map(|m| ["q01 1", "q02 1", "c1 1", "c2 2"].map(|q| format!("{m} {q}")))
        .collect();
    assert_eq!(asked, expected, "the warm-up is not recorded, every other turn is");
    for t in turns {
        let rec = &t["record"];
        let wer = t["wer"].as_f64().unwrap_or_else(|| panic!("no WER: {t}"));
        assert!((0.0..=1.0).contains(&wer) || wer > 1.0, "{t}");
        if t["kind"] == "single" {
            assert_eq!(rec["outcome"], "answered", "{t}");
        }
        // Fed at real time and released at the end of the file, as a microphone would be.
        let press = rec["press_ms"].as_f64().unwrap();
        let duration_ms = t["duration_s"].as_f64().unwrap() * 1000.0;
        assert!(press <= -duration_ms + 30.0 && press >= -duration_ms - 500.0, "press {press}: {t}");
    }
    // The conversation remembers: its second turn is asked with the first one as context.
    let c2 = turns.iter().find(|t| t["id"] == "c2").unwrap();
    assert!(
        c2["record"]["prompt_tokens"].as_u64().unwrap() + c2["record"]["cached_tokens"].as_u64().unwrap() > 40,
        "{c2}"
    );

    let summary = json["summary"].as_array().unwrap();
    let groups: Vec<String> = summary
        .iter()
        .map(|s| format!("{} {}", s["answer_mode"].as_str().unwrap(), s["group"].as_str().unwrap()))
        .collect();
    assert_eq!(
        groups,
        ["streaming single", "streaming conversation_later", "whole single", "whole conversation_later"]
    );
    for s in summary {
        let n = s["turns"].as_u64().unwrap();
        assert_eq!(n, if s["group"] == "single" { 2 } else { 1 }, "{s}");
        assert_eq!(s["wer"]["n"].as_u64(), Some(n), "{s}");
        for (key, st) in s["stats"].as_object().unwrap() {
            let k = st["n"].as_u64().unwrap();
            assert!(k <= n, "{key}: {st}");
            if k == 0 {
                assert!(st["p50"].is_null() && st["p90"].is_null(), "{key}: {st}");
                continue;
            }
            let v = |q: &str| st[q].as_f64().unwrap();
            assert!(v("min") <= v("p50") && v("p50") <= v("p90") && v("p90") <= v("max"), "{key}: {st}");
        }
        for key in ["transcript_ms", "first_token_ms", "first_audio_ms", "last_audio_ms", "stt_ms", "gen_tok_s"] {
            assert_eq!(s["stats"][key]["n"].as_u64(), Some(n), "{key}: {s}");
        }
    }
}
