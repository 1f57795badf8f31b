//! `voxdeck bench` on the two test-set models: report, JSON and charts with sane values.

use voxdeck_e2e::{run, voxdeck};

#[test]
fn bench_writes_report_json_and_charts() {
    let _exclusive = crate::exclusive();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).args([
        "bench",
        "--model",
        "smollm2-135m-instruct-q4_1",
        "--model",
        "gemma-3-270m-q4_k_m",
        "--runs",
        "1",
        "--out",
    ])
    .arg(out.path()));
    assert!(r.status.success(), "{r}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for m in models {
        let name = m["name"].as_str().unwrap();
        let positive = |key: &str| m[key].as_f64().is_some_and(|x| x > 0.0 && x.is_finite());
        for key in ["file_size_bytes", "memory_bytes", "total_layers", "gen_tok_s", "prompt_tok_s", "ttft_s"] {
            assert!(positive(key), "{name}: {key} = {}", m[key]);
        }
        assert_eq!(m["gpu_layers"], 0, "{name}: this build has no GPU backend");
        // On the CPU the figure is the measured resident memory, and says so.
        assert_eq!((m["memory_kind"].as_str(), m["memory_source"].as_str()), (Some("ram"), Some("/proc RSS")), "{name}");
        assert_eq!(m["gpu_buffers_bytes"], 0, "{name}: llama.cpp put nothing on a GPU");
        let r30 = m["response_s"]["30"].as_f64().unwrap();
        let r50 = m["response_s"]["50"].as_f64().unwrap();
        let r100 = m["response_s"]["100"].as_f64().unwrap();
        let ttft = m["ttft_s"].as_f64().unwrap();
        assert!(ttft < r30 && r30 < r50 && r50 < r100, "{name}: {ttft} {r30} {r50} {r100}");
        assert!(["natural", "acceptable", "slow", "unusable"].contains(&m["verdict"].as_str().unwrap()));
        assert!(m["file_size_bytes"].as_u64().unwrap() > 90_000_000);
    }
    let recommended = json["recommended"].as_str().unwrap();
    assert!(models.iter().any(|m| m["name"] == recommended));

    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.contains("SmolLM2 135M Instruct Q4_1") && report.contains("Gemma 3 270M Q4_K_M"));
    assert!(report.contains("| 30 tokens | 50 tokens | 100 tokens |"), "{report}");
    assert!(report.contains("slower"), "{report}");
    assert_eq!(r.stdout.trim(), report.trim(), "the report is also printed");

    for chart in ["tok_s.png", "response_time.png"] {
        let bytes = std::fs::read(out.path().join(chart)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{chart}");
        assert!(bytes.len() > 10_000, "{chart} is {} bytes", bytes.len());
    }
    for chart in ["tok_s.svg", "response_time.svg"] {
        let svg = std::fs::read_to_string(out.path().join(chart)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("SmolLM2"), "{chart}");
    }
}
