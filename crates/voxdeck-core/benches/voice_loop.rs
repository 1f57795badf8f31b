//! Time to first audio of a push-to-talk turn, term by term: speech to text, the LLM to its
//! first sentence, synthesis of that sentence, and what the pipeline adds. Then the same turn
//! spoken only after the whole answer was generated, for comparison.
//!
//! `cargo bench -p voxdeck-core --bench voice_loop [-- RUNS]` with the test set installed
//! (SmolLM2 + Whisper tiny.en + the Piper test voice, or whatever `config.toml` names). The
//! question is about three seconds of Piper speech; answers are exactly 50 tokens.

use std::path::PathBuf;
use std::time::Duration;

use voxdeck_core::Config;
use voxdeck_core::audio::wav::write_wav;
use voxdeck_core::audio::{open_input, open_output};
use voxdeck_core::pipeline::{Session, SessionIo, SessionOptions, TurnRecord, assemble};

/// About three seconds each; a different one every turn, so each prompt has new tokens to
/// process as in a real conversation (the same question again would be all cached).
const QUESTIONS: [&str; 8] = [
    "Can you tell me something interesting about the history of Paris?",
    "What should I cook for dinner tonight with rice and vegetables?",
    "How do I keep my tomato plants healthy during a hot summer?",
    "Why is the sky blue during the day and red in the evening?",
    "What are some good ways to fall asleep faster at night?",
    "Can you explain how a bicycle stays upright when it moves?",
    "What is a simple exercise routine I can do at home?",
    "How do airplanes manage to fly for such long distances?",
];
const ANSWER_TOKENS: u32 = 50;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let mut config = Config::load(None)?;
    if config.llm.model.is_empty() {
        config.llm.model = "smollm2-135m-instruct-q4_1".into();
    }
    config.llm.temperature = 0.0;
    config.pipeline.history = false;
    let dir = tempfile::tempdir()?;
    // The questions, spoken once by the configured voice (loaded for this alone).
    let mut questions: Vec<PathBuf> = Vec::new();
    let mut seconds = Vec::new();
    let voice = voxdeck_core::tts::open(&config)?;
    for (i, text) in QUESTIONS.iter().enumerate() {
        let audio = voice.synthesize(text)?;
        seconds.push(audio.duration_s());
        let path = dir.path().join(format!("question{i}.wav"));
        write_wav(&path, &audio)?;
        questions.push(path);
    }
    drop(voice);

    for stream in [true, false] {
        config.pipeline.stream_sentences = stream;
        let mut options = SessionOptions::from_config(&config);
        options.answer.max_tokens = ANSWER_TOKENS;
        options.answer.ignore_eos = true;
        options.answer.context_turns = 0;
        options.metrics_hz = None;
        // Press `run` plays question `run % 8`: a new prompt every turn.
        let io = SessionIo {
            source: open_input(&questions, &config.audio),
            sink: open_output(Some(&dir.path().join("answers.wav")), &questions, &config.audio)?,
            history: None,
        };
        let assembled = assemble(&config, options, io, &mut |_| {})?;
        if stream {
            let threads = assembled.threads;
            eprintln!(
                "questions: {:.2} s of speech (median); threads: LLM {} / TTS {} / STT {}",
                median(seconds.clone()),
                threads.llm,
                threads.tts,
                threads.stt
            );
        }
        let session = assembled.session;
        let mut records = Vec::new();
        for run in 0..=runs {
            let mut events = session.subscribe();
            let turn = session.press()?;
            let record = Session::wait_for_turn(&mut events, turn, Duration::from_secs(300)).ok_or("turn timed out")?;
            if record.first_audio_ms.is_none() {
                return Err(format!("turn {turn} spoke nothing: {record:?}").into());
            }
            if run > 0 {
                records.push(record); // run 0 warms caches
            }
        }
        report(if stream { "sentence streaming" } else { "the whole answer generated, then spoken" }, &records);
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn report(label: &str, records: &[TurnRecord]) {
    let get = |f: &dyn Fn(&TurnRecord) -> Option<f64>| median(records.iter().filter_map(f).collect());
    let stt = get(&|r| r.stt_ms);
    let transcript = get(&|r| r.transcript_ms);
    let to_sentence = get(&|r| Some(r.first_sentence_ms? - r.transcript_ms?));
    let tts = get(&|r| r.first_sentence_tts_ms);
    let first_audio = get(&|r| r.first_audio_ms);
    let overhead = get(&|r| Some(r.first_audio_ms? - r.stt_ms? - (r.first_sentence_ms? - r.transcript_ms?) - r.first_sentence_tts_ms?));
    println!("\n{label} ({} runs, medians)", records.len());
    println!("  release -> first audio      {first_audio:8.1} ms");
    println!("    STT                        {stt:8.1} ms   (transcript ready at {transcript:.1} ms)");
    println!("    transcript -> 1st piece    {to_sentence:8.1} ms");
    println!("    TTS of the first piece     {tts:8.1} ms");
    println!("    pipeline overhead          {overhead:8.1} ms");
    println!("  first token {:8.1} ms, last token {:8.1} ms, last audio {:8.1} ms",
        get(&|r| r.first_token_ms), get(&|r| r.last_token_ms), get(&|r| r.last_audio_ms));
    println!("  gen {:.1} tok/s, prompt {:.1} tok/s, TTS RTF {:.3}",
        get(&|r| r.gen_tok_s), get(&|r| r.prompt_tok_s), get(&|r| r.tts_rtf));
}
