//! `voxdeck talk`: whole push-to-talk turns, headless, on the test set (SmolLM2, Whisper
//! tiny.en, the Piper test voice): a spoken question in, a spoken answer out, the timeline, the
//! history that survives a crash, and the refusals.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use voxdeck_e2e::{run, say, voxdeck, write_config, write_wav_16bit};

/// One thread per engine (tests run in parallel on two cores) and greedy answers.
const CONFIG: &str = "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 2048\nmax_tokens = 60\n\n\
                      [stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\nnoise_scale = 0.0\nnoise_w = 0.0\n";

/// Writes two seconds of silence (16 kHz mono, 16-bit) to `wav`: a valid question that needs
/// no LLM (it ends as `no_speech`).
fn silence(wav: &Path) {
    write_wav_16bit(wav, 16_000, &[0; 32_000]);
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Milliseconds before the first sample above -40 dBFS (|s| > 0.01 of full scale) of a 16-bit
/// PCM WAV file: the leading silence a listener waits through.
fn leading_silence_ms(wav: &Path) -> f64 {
    let bytes = std::fs::read(wav).unwrap();
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (channels, rate) = (u64::from(u16::from_le_bytes([bytes[22], bytes[23]])), u32_at(24));
    let mut at = 12;
    while &bytes[at..at + 4] != b"data" {
        at += 8 + u32_at(at + 4) as usize;
    }
    let first = bytes[at + 8..]
        .chunks_exact(2)
        .position(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 327)
        .expect("an audible sample");
    first as f64 / channels as f64 * 1000.0 / f64::from(rate)
}

fn ms(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[test]
fn a_spoken_question_gets_a_spoken_answer_with_its_timeline() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("q.wav");
    let a = home.path().join("a.wav");
    say(home.path(), "What is the capital of France?", &q);

    let r = run(voxdeck(home.path()).args(["talk", "--json", "--input"]).arg(&q).arg("--output").arg(&a));
    assert!(r.status.success(), "{r}");
    let turns = json_lines(&r.stdout);
    assert_eq!(turns.len(), 1, "{r}");
    let t = &turns[0];
    assert_eq!(t["outcome"], "answered", "{r}");
    let transcript = t["transcript"].as_str().unwrap().to_lowercase();
    assert!(transcript.contains("capital") && transcript.contains("france"), "{r}");
    let answer = t["answer"].as_str().unwrap();
    assert!(answer.split_whitespace().count() >= 3, "{r}");
    assert_eq!(t["engine"], "local");
    // No cloud is configured here, so auto mode keeps the question on the device.
    let reason = t["route_reason"].as_str().unwrap();
    assert!(reason.starts_with("auto: cloud unavailable (no API key"), "{reason}");
    assert!(t["fallback"].is_null());
    assert!(ms(t, "gen_tok_s") > 0.0);
    // The GPU facts, each from its source: llama.cpp's load log (no offload on this CPU build:
    // 0 of SmolLM2's 30 layers + output), the worker (Whisper on the CPU) and no GPU reading.
    let gpu = &t["gpu"];
    assert_eq!((gpu["llm_layers"].as_u64(), gpu["llm_total_layers"].as_u64()), (Some(0), Some(31)), "{gpu}");
    assert!(gpu["stt_device"].is_null() && gpu["reading"].is_null(), "{gpu}");

    // One clock: every milestone after release, in pipeline order.
    assert!(ms(t, "press_ms") <= 0.0 && ms(t, "release_ms") == 0.0, "{t}");
    let order = ["transcript_ms", "first_token_ms", "first_sentence_ms", "first_audio_ms", "last_audio_ms"];
    for pair in order.windows(2) {
        assert!(ms(t, pair[0]) <= ms(t, pair[1]), "{} after {}: {t}", pair[0], pair[1]);
    }
    assert!(ms(t, "first_token_ms") <= ms(t, "last_token_ms"));
    assert!(ms(t, "stt_ms") <= ms(t, "transcript_ms") + 1.0, "{t}");
    // Audio can only start after its sentence was synthesised.
    assert!(ms(t, "first_audio_ms") >= ms(t, "first_sentence_ms") + ms(t, "first_sentence_tts_ms") - 1.0, "{t}");
    // Heard: the answer file's leading silence after the first piece was written.
    let lead = leading_silence_ms(&a);
    let heard_after = ms(t, "first_audible_ms") - ms(t, "first_audio_ms");
    eprintln!("answer file starts with {lead:.1} ms of silence; heard {heard_after:.1} ms after first audio");
    assert!(heard_after >= 0.0 && (heard_after - lead).abs() < 5.0, "lead {lead} ms: {t}");

    // The answer audio says the answer: Whisper writes it back.
    let r = run(voxdeck(home.path()).args(["transcribe", "--json", "--threads", "1"]).arg(&a));
    assert!(r.status.success(), "{r}");
    let heard: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let heard = heard["text"].as_str().unwrap().to_lowercase();
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(str::to_lowercase)
            .collect()
    };
    let said = words(answer);
    let found = said.iter().filter(|w| heard.contains(w.as_str())).count();
    assert!(
        found * 10 >= said.len() * 7,
        "only {found} of {} answer words heard back\nanswer: {answer}\nheard: {heard}",
        said.len()
    );
}

#[test]
fn a_crash_mid_turn_leaves_the_earlier_turns_in_history() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q1 = home.path().join("q1.wav");
    let q2 = home.path().join("q2.wav");
    say(home.path(), "What is the capital of France?", &q1);
    say(home.path(), "Tell me a long story about a dragon.", &q2);

    let mut child = voxdeck(home.path())
        .args(["talk", "--json", "--output", "/dev/null", "--input"])
        .arg(&q1)
        .arg("--input")
        .arg(&q2)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // Turn 1 is done; turn 2 is in flight. Kill without warning.
    child.kill().unwrap();
    child.wait().unwrap();
    let turn1: serde_json::Value = serde_json::from_str(first.trim()).unwrap_or_else(|e| panic!("{e}: {first:?}"));

    let r = run(voxdeck(home.path()).args(["history", "--json"]));
    assert!(r.status.success(), "{r}");
    let saved = json_lines(&r.stdout);
    assert_eq!(saved.len(), 1, "only the finished turn is kept: {r}");
    assert_eq!(saved[0], turn1, "the saved turn is the one printed");
}

#[test]
fn an_empty_utterance_is_not_sent_to_the_llm() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    // Two seconds of silence.
    let q = home.path().join("silence.wav");
    silence(&q);

    let r = run(voxdeck(home.path()).args(["talk", "--json", "--output", "/dev/null", "--input"]).arg(&q));
    assert!(r.status.success(), "{r}");
    let t = &json_lines(&r.stdout)[0];
    assert_eq!(t["outcome"], "no_speech", "{r}");
    assert!(t["engine"].is_null() && t["gen_tokens"].is_null() && t["first_token_ms"].is_null(), "{r}");
    assert!(r.stderr.contains("didn't catch that"), "{r}");
}

#[test]
fn a_model_that_does_not_fit_is_refused_with_the_numbers() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), &format!("{CONFIG}\n[memory]\nlimit_mb = 200\nheadroom_mb = 64\n"));
    let q = home.path().join("q.wav");
    say(home.path(), "Hello there.", &q);
    let r = run(voxdeck(home.path()).args(["talk", "--output", "/dev/null", "--input"]).arg(&q));
    assert!(!r.status.success() && !r.stderr.contains("panicked"), "{r}");
    for needle in ["SmolLM2", "n_ctx", "MiB", "Whisper"] {
        assert!(r.stderr.contains(needle), "{needle:?} missing: {r}");
    }
}

/// Reads `child`'s stderr until a line contains `until` (or the stream ends), then kills it.
fn stderr_until(mut child: std::process::Child, until: &str) -> String {
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(until) {
            break;
        }
    }
    let _ = child.kill();
    child.wait().unwrap();
    seen
}

#[test]
fn an_output_that_is_one_of_the_inputs_is_refused() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("same.wav");
    silence(&q);
    let question = std::fs::read(&q).unwrap();
    let link = home.path().join("link.wav");
    std::os::unix::fs::symlink(&q, &link).unwrap();
    for output in [&q, &link] {
        let r = run(voxdeck(home.path()).args(["talk", "-i"]).arg(&q).arg("-i").arg(&q).arg("-o").arg(output));
        assert_eq!(r.status.code(), Some(1), "{r}");
        let refusal = format!("{} is the same file as the input {}", output.display(), q.display());
        assert!(r.stderr.contains(&refusal) && r.stderr.contains("overwrite the question"), "{r}");
        assert!(!r.stderr.contains("loading"), "refused before any model loads: {r}");
        assert_eq!(std::fs::read(&q).unwrap(), question, "the question is untouched");
    }
}

#[test]
fn serve_refuses_an_output_that_is_its_input() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("q.wav");
    silence(&q);
    let link = home.path().join("answers.wav");
    std::os::unix::fs::symlink(&q, &link).unwrap();
    let child = voxdeck(home.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--wait", "--input"])
        .arg(&q)
        .arg("--output")
        .arg(&link)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = stderr_until(child, "serving http");
    let refusal = format!("{} is the same file as the input {}", link.display(), q.display());
    assert!(stderr.contains("loading the models failed") && stderr.contains(&refusal), "{stderr}");
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_loading() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("q.wav");
    silence(&q);
    let dir = home.path().join("no/such/dir");
    let out = dir.join("a.wav");
    let r = run(voxdeck(home.path()).args(["talk", "--json", "-i"]).arg(&q).arg("-o").arg(&out));
    assert_eq!(r.status.code(), Some(1), "{r}");
    let why = format!("cannot write {}: the directory {} does not exist", out.display(), dir.display());
    assert!(r.stderr.contains(&why), "{r}");
    assert!(!r.stderr.contains("loading") && r.stdout.trim().is_empty(), "no model loaded, no turn: {r}");
    let r = run(voxdeck(home.path()).args(["history", "--json"]));
    assert!(r.status.success() && r.stdout.trim().is_empty(), "nothing recorded: {r}");
}

#[test]
fn an_answer_that_cannot_be_written_fails_its_turn() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("q.wav");
    say(home.path(), "What is the capital of France?", &q);
    // Opens like any file, and every write fails (no space left on the device).
    let r = run(voxdeck(home.path()).args(["talk", "--json", "-i"]).arg(&q).args(["-o", "/dev/full"]));
    assert_eq!(r.status.code(), Some(1), "{r}");
    assert!(r.stderr.contains("1 of 1 turns failed"), "{r}");
    let turns = json_lines(&r.stdout);
    assert_eq!(turns.len(), 1, "{r}");
    assert_eq!(turns[0]["outcome"], "failed", "{r}");
    let error = turns[0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("could not play the answer: ") && error.contains("/dev/full"), "{r}");
    assert!(!turns[0]["generated"].as_str().unwrap_or_default().is_empty(), "the LLM did answer: {r}");

    let r = run(voxdeck(home.path()).args(["history", "--json"]));
    assert!(r.status.success(), "{r}");
    let saved = json_lines(&r.stdout);
    assert_eq!(saved.len(), 1, "{r}");
    assert_eq!(saved[0]["outcome"], "failed", "{r}");
}

#[test]
fn a_bad_file_among_the_inputs_fails_its_turn_and_the_next_still_runs() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("silence.wav");
    silence(&q);
    let bad = home.path().join("bad.wav");
    std::fs::write(&bad, "these are notes, not audio\n").unwrap();
    let r = run(voxdeck(home.path())
        .args(["talk", "--json", "-o", "/dev/null", "-i"])
        .arg(&q)
        .arg("-i")
        .arg(&bad)
        .arg("-i")
        .arg(&q));
    assert_eq!(r.status.code(), Some(1), "a turn failed: {r}");
    let turns = json_lines(&r.stdout);
    let outcomes: Vec<&str> = turns.iter().map(|t| t["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["no_speech", "failed", "no_speech"], "{r}");
    let why = format!("{} is not a WAV file", bad.display());
    assert!(turns[1]["error"].as_str().unwrap().contains(&why), "{r}");
    assert!(r.stderr.contains(&format!("error (capture): cannot listen to file {}", bad.display())), "{r}");
    assert!(r.stderr.contains("1 of 3 turns failed"), "{r}");
}

#[test]
fn history_skips_and_counts_a_row_it_cannot_read() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    let q = home.path().join("silence.wav");
    silence(&q);
    let r = run(voxdeck(home.path()).args(["talk", "-o", "/dev/null", "-i"]).arg(&q).arg("-i").arg(&q));
    assert!(r.status.success(), "{r}");
    let r = run(voxdeck(home.path()).args(["history", "--path"]));
    let db = std::path::PathBuf::from(r.stdout.trim());
    // Another program left BLOBs where turn 1 keeps its text.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE turns SET transcript = X'00FF10', record = X'7B22' WHERE turn = 1", [])
        .unwrap();
    let id: i64 = conn.query_row("SELECT id FROM turns WHERE turn = 1", [], |r| r.get(0)).unwrap();
    drop(conn);
    let note = format!("1 unreadable row skipped (id {id})");

    let r = run(voxdeck(home.path()).arg("history"));
    assert!(r.status.success(), "the listing survives the row: {r}");
    assert!(r.stdout.contains("turn 2") && !r.stdout.contains("turn 1\n"), "{r}");
    assert!(r.stdout.contains(&note), "counted in the listing: {r}");
    let warning = format!("history row {id} cannot be read (its transcript is a Blob");
    assert!(r.stderr.contains(&warning), "a warning names the row: {r}");

    let r = run(voxdeck(home.path()).args(["history", "--json"]));
    assert!(r.status.success(), "{r}");
    let turns = json_lines(&r.stdout);
    assert_eq!(turns.len(), 1, "{r}");
    assert_eq!(turns[0]["turn"], 2, "{r}");
    assert!(r.stderr.contains(&note), "{r}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let kind: String = conn
        .query_row("SELECT typeof(transcript) FROM turns WHERE turn = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "blob", "the row is left as it was");
}

#[test]
fn realtime_input_is_released_at_its_end_like_a_microphone() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), CONFIG);
    // A question of the shipped latency set: its length is known, and needs no voice to make.
    let q = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/questions/espeak/q03.wav");
    // The set's files are plain 16 kHz mono 16-bit WAV: a 44-byte header, then the samples.
    let bytes = std::fs::metadata(&q).unwrap().len();
    let duration_ms = (bytes - 44) as f64 / 32.0;
    let a = home.path().join("a.wav");

    let r = run(voxdeck(home.path()).args(["talk", "--json", "--realtime", "--input"]).arg(&q).arg("--output").arg(&a));
    assert!(r.status.success(), "{r}");
    let turns = json_lines(&r.stdout);
    assert_eq!(turns.len(), 1, "{r}");
    let t = &turns[0];
    assert_eq!(t["outcome"], "answered", "{r}");
    // Pressed when the file starts, released when its last sample has been delivered at real
    // time: the press is the file's length before the release (plus a little scheduling).
    let press = ms(t, "press_ms");
    assert!(press <= -duration_ms + 30.0 && press >= -duration_ms - 400.0, "press_ms {press} for {duration_ms} ms: {t}");
    assert!((ms(t, "utterance_s") * 1000.0 - duration_ms).abs() < 50.0, "{t}");
}
