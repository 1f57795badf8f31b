//! The cloud switch end to end: `voxdeck ask` and `voxdeck talk` against a real
//! OpenAI-compatible server on loopback (llama-cpp-python serving SmolLM2), and through a
//! fault-injecting proxy for what a real server will not do on demand. Every fault must still
//! answer the question (locally) and record why.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use voxdeck_e2e::fault_proxy::{Fault, FaultProxy};
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};
use voxdeck_e2e::{run, voxdeck, write_config};


/// One thread per engine, greedy answers.
const ENGINES: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 2048\nmax_tokens = 40\n\n\
                       [stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\n\n";

/// Short deadlines keep the fault tests quick.
const IMPATIENT: &str = "[cloud]\nfirst_token_timeout_s = 2.0\nstall_timeout_s = 1.0\n";

/// Where the real server must answer: a cold server on a busy 2-core CI machine can take
/// seconds over its first prompt, which is not what these tests are about.
const PATIENT: &str = "[cloud]\nfirst_token_timeout_s = 60.0\nstall_timeout_s = 30.0\n";

/// The tests run alone among the heavy tests ([`crate::exclusive`]): each starts a server, and
/// three servers plus three local models on two cores would measure the machine, not the client.
fn one_at_a_time() -> std::sync::RwLockWriteGuard<'static, ()> {
    crate::exclusive()
}

/// A config home with `cloud` deadlines.
fn home(cloud: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &format!("{ENGINES}{cloud}"));
    dir
}

fn ask(home: &Path, url: &str, model: &str, mode: &str, question: &str) -> (serde_json::Value, String) {
    let r = run(voxdeck(home).args(["ask", "--json", "--mode", mode, "--cloud-url", url, "--cloud-model", model, question]));
    assert!(r.status.success(), "the question must be answered: {r}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert!(!v["answer"].as_str().unwrap_or("").trim().is_empty(), "an answer: {r}");
    (v, r.stderr)
}

#[test]
fn cloud_answers_and_every_fault_falls_back_to_local() {
    let _serial = one_at_a_time();
    let patient = home(PATIENT);
    let home = home(IMPATIENT);
    let server = LlamaServer::start(&test_model_path());
    let alias = server.model_alias().to_owned();

    // The real server answers in cloud mode.
    let (v, _) = ask(patient.path(), &server.base_url(), &alias, "cloud", "What is the capital of France?");
    assert_eq!(v["engine"], "cloud", "{v}");
    assert_eq!(v["route_reason"], "mode cloud");
    assert!(v["fallback"].is_null() && v["ttfb_ms"].as_f64().is_some() && v["gen_tok_s"].as_f64().unwrap() > 0.0, "{v}");

    let proxy = FaultProxy::start(server.addr(), Fault::Pass);
    let cases: Vec<(Fault, &str)> = vec![
        (Fault::unauthorized(), "HTTP 401"),
        (Fault::rate_limited(30), "HTTP 429"),
        (Fault::server_error(), "HTTP 500"),
        (Fault::Refuse, "stream broken"),
        (Fault::Hang, "no first token within 2.0 s"),
        (Fault::StallAfter { bytes_of_body: 600 }, "stalled"),
        (Fault::ResetAfter { bytes_of_body: 600 }, "broken"),
        (Fault::MalformedAfter { bytes_of_body: 600 }, "malformed"),
    ];
    for (fault, reason) in cases {
        proxy.set_fault(fault.clone());
        let t0 = Instant::now();
        let (v, stderr) = ask(home.path(), &proxy.base_url(), &alias, "cloud", "What is the capital of France?");
        let fallback = v["fallback"].as_str().unwrap_or_else(|| panic!("{fault:?}: no fallback recorded: {v}"));
        assert!(fallback.contains(reason), "{fault:?}: fallback {fallback:?} lacks {reason:?}");
        assert_eq!(v["engine"], "local", "{fault:?}: {v}");
        assert!(
            stderr.contains("Cloud unavailable, answering locally") || stderr.contains("finishing locally"),
            "{fault:?}: the user is told: {stderr}"
        );
        eprintln!(
            "{fault:?}: fallback after {:.0} ms ({fallback}), local first token {:.0} ms later; whole command {:.2} s",
            v["fallback_ms"].as_f64().unwrap_or(f64::NAN),
            v["ttft_ms"].as_f64().unwrap_or(f64::NAN),
            t0.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn killing_the_server_mid_answer_continues_locally() {
    let _serial = one_at_a_time();
    let home = home(PATIENT);
    let mut server = LlamaServer::start(&test_model_path());
    let mut child = voxdeck(home.path())
        .args(["ask", "--json", "--mode", "cloud", "--max-tokens", "200", "--cloud-url", &server.base_url()])
        .args(["--cloud-model", server.model_alias(), "Tell me a long story about a dragon and a knight."])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The answer streams to stderr with --json: wait for some of it, then kill the server.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while seen.len() < 40 {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "the cloud answer never started: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    server.kill();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rest}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fallback = v["fallback"].as_str().unwrap_or_default();
    assert!(fallback.contains("continued locally"), "{v}");
    assert_eq!(v["engine"], "local");
    let answer = v["answer"].as_str().unwrap();
    let streamed = String::from_utf8_lossy(&seen);
    // The first 20 characters streamed (whole ones: the read may end inside one).
    let head: String =
        streamed.trim_start().chars().take_while(|&c| c != char::REPLACEMENT_CHARACTER).take(20).collect();
    assert_eq!(head.chars().count(), 20, "20 characters of the cloud's answer were streamed: {streamed:?}");
    assert!(answer.starts_with(&head), "the cloud's part is kept: {answer:?} / {streamed:?}");
    assert!(rest.contains("finishing locally"), "{rest}");
}

#[test]
fn auto_mode_routes_by_the_question_and_a_429_keeps_later_turns_local() {
    let _serial = one_at_a_time();
    let home = home(PATIENT);
    let server = LlamaServer::start(&test_model_path());
    let alias = server.model_alias().to_owned();
    let url = server.base_url();

    let (v, _) = ask(home.path(), &url, &alias, "auto", "Write a Python function that reverses a list.");
    assert_eq!(v["engine"], "cloud", "{v}");
    assert!(v["route_reason"].as_str().unwrap().starts_with("auto: task for the larger model"), "{v}");
    let (v, _) = ask(home.path(), &url, &alias, "auto", "Tell me a joke about cats.");
    assert_eq!(v["engine"], "local", "{v}");
    assert!(v["route_reason"].as_str().unwrap().starts_with("auto: conversation"), "{v}");
    let (v, _) = ask(home.path(), &url, &alias, "auto", "Think hard: should I learn the piano or the guitar?");
    assert_eq!(v["engine"], "cloud", "{v}");

    // A voice conversation: the 429's Retry-After keeps the next cloud-bound turn local without
    // asking the cloud again.
    let proxy = FaultProxy::start(server.addr(), Fault::rate_limited(60));
    let q1 = home.path().join("q1.wav");
    let q2 = home.path().join("q2.wav");
    for (text, wav) in [("Please help me plan a trip to Rome.", &q1), ("Now plan a trip to Paris.", &q2)] {
        let r = run(voxdeck(home.path()).args(["say", text, "--threads", "1", "-o"]).arg(wav));
        assert!(r.status.success(), "{r}");
    }
    let r = run(voxdeck(home.path())
        .args(["talk", "--json", "--mode", "auto", "--output", "/dev/null", "--cloud-url", &proxy.base_url()])
        .args(["--cloud-model", &alias, "--input"])
        .arg(&q1)
        .arg("--input")
        .arg(&q2));
    assert!(r.status.success(), "{r}");
    let turns: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(turns.len(), 2, "{r}");
    assert_eq!(turns[0]["engine"], "local");
    assert!(turns[0]["fallback"].as_str().unwrap().contains("HTTP 429 (rate limited, retry after 60 s)"), "{r}");
    assert!(turns[1]["route_reason"].as_str().unwrap().contains("rate-limited"), "{r}");
    assert!(turns[1]["fallback"].is_null());
    assert_eq!(proxy.requests().len(), 1, "the second turn did not ask the cloud");
    assert!(!turns[1]["answer"].as_str().unwrap().is_empty());
}
