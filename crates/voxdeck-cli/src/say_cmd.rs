//! `voxdeck say`: text to speech, played or written to a WAV file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use voxdeck_core::{Config, bounds};
use voxdeck_core::audio::AudioBuffer;
use voxdeck_core::audio::playback::Player;
use voxdeck_core::audio::wav::write_wav;
use voxdeck_core::config::TtsEngine;
use voxdeck_core::tts::{self, Engine};

use crate::bounded::within;

#[derive(clap::Args)]
pub struct SayArgs {
    /// The text to speak.
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    text: Vec<String>,
    /// Write the speech to this WAV file (16-bit mono) instead of playing it.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Piper voice: catalog id or .onnx path (default: tts.voice, else the best installed voice).
    /// With --engine espeak: an espeak-ng voice such as en-gb.
    #[arg(long, value_name = "ID|PATH")]
    voice: Option<String>,
    /// piper, espeak or auto (Piper when a voice and ONNX Runtime are installed, else espeak-ng).
    #[arg(long, value_enum)]
    engine: Option<EngineArg>,
    /// Speaking speed, 1.0 = normal, 2.0 = twice as fast (default: tts.rate).
    #[arg(long, value_parser = within::<f32>(bounds::TTS_RATE))]
    rate: Option<f32>,
    /// Piper inference threads, 0 = one per core (default: tts.threads).
    #[arg(long, value_parser = within::<u32>(bounds::TTS_THREADS))]
    threads: Option<u32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EngineArg {
    Auto,
    Piper,
    Espeak,
}

pub fn run(args: SayArgs, mut config: Config) -> anyhow::Result<()> {
    if let Some(engine) = args.engine {
        config.tts.engine = match engine {
            EngineArg::Auto => TtsEngine::Auto,
            EngineArg::Piper => TtsEngine::Piper,
            EngineArg::Espeak => TtsEngine::Espeak,
        };
    }
    if let Some(voice) = args.voice {
        if config.tts.engine == TtsEngine::Espeak {
            config.tts.espeak_voice = voice;
        } else {
            config.tts.voice = voice;
        }
    }
    if let Some(rate) = args.rate {
        config.tts.rate = rate;
    }
    if let Some(threads) = args.threads {
        config.tts.threads = threads;
    }
    config.check()?;
    let text = args.text.join(" ");
    anyhow::ensure!(
        !tts::split_sentences(&text).is_empty(),
        "nothing to say: the text has no words ({text:?})"
    );

    let load_start = Instant::now();
    let synth = tts::open(&config).context("loading the voice")?;
    let load = load_start.elapsed();
    // Open the speaker before synthesising, so the time to first audio is the engine's.
    let player = match &args.output {
        Some(_) => None,
        None => Some(Player::from_config(&config.audio).context("opening the speaker")?),
    };

    let rate = synth.sample_rate();
    let start = Instant::now();
    let mut first_audio: Option<Duration> = None;
    let mut samples = Vec::new();
    let mut audio_s = 0.0;
    let sentences = synth.synthesize_sentences(&text, &mut |sentence| {
        first_audio.get_or_insert_with(|| start.elapsed());
        audio_s += sentence.duration_s();
        match &player {
            Some(player) => player.enqueue(sentence),
            None => samples.extend_from_slice(&sentence.samples),
        }
        true
    })?;
    let synth_time = start.elapsed();

    if let Some(path) = &args.output {
        let audio = AudioBuffer {
            samples,
            sample_rate: rate,
            channels: 1,
        };
        write_wav(path, &audio).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "{}",
        stats_line(
            synth.engine(),
            synth.voice_name(),
            sentences,
            audio_s,
            synth_time,
            first_audio,
            load
        )
    );
    if let Some(path) = &args.output {
        eprintln!("wrote {}", path.display());
    }
    if let Some(player) = player {
        player.wait_until_done();
    }
    Ok(())
}

/// `[piper: Piper voice en_US joe (medium)] 2 sentences, 3.42 s of audio in 0.21 s (RTF 0.061) | first audio 0.09 s | voice loaded in 0.35 s`
fn stats_line(
    engine: Engine,
    voice: &str,
    sentences: usize,
    audio_s: f64,
    synth: Duration,
    first_audio: Option<Duration>,
    load: Duration,
) -> String {
    let rtf = if audio_s > 0.0 {
        synth.as_secs_f64() / audio_s
    } else {
        0.0
    };
    let first = first_audio.map_or_else(|| "-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
    let plural = if sentences == 1 { "" } else { "s" };
    format!(
        "[{engine}: {voice}] {sentences} sentence{plural}, {audio_s:.2} s of audio in {:.2} s (RTF {rtf:.3}) | \
         first audio {first} | voice loaded in {:.2} s",
        synth.as_secs_f64(),
        load.as_secs_f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_line_reads_well() {
        let line = stats_line(
            Engine::Piper,
            "Piper voice en_US joe (medium)",
            2,
            3.42,
            Duration::from_millis(210),
            Some(Duration::from_millis(90)),
            Duration::from_millis(350),
        );
        assert_eq!(
            line,
            "[piper: Piper voice en_US joe (medium)] 2 sentences, 3.42 s of audio in 0.21 s (RTF 0.061) | first audio 0.09 s | voice loaded in 0.35 s"
        );
        let line = stats_line(
            Engine::Espeak,
            "espeak-ng 1.51 en-us",
            1,
            1.0,
            Duration::ZERO,
            None,
            Duration::ZERO,
        );
        assert!(line.contains("1 sentence,"), "{line}");
    }
}
