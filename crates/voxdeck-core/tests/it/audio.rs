//! Audio files and sources against outside tools: WAVs written by sox in every format voxdeck
//! accepts, speech from espeak-ng resampled by voxdeck and by sox, and a 10-minute "push-to-talk"
//! that must stop at the length limit. (The device path is in `alsa/audio_alsa.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use voxdeck_core::audio::level::tone_amplitude;
use voxdeck_core::audio::{
    AudioError, AudioSource, EndReason, WavSource, collect, read_wav, read_wav_mono, rms_dbfs, to_mono,
};

fn run(cmd: &mut Command) {
    let name = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e} (install the test tools: bash .ci/deps.sh)"));
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sox -n` a 440 Hz sine at 0.5 for `seconds`, in the given format.
fn sox_sine(dir: &Path, name: &str, rate: u32, channels: u16, format: &[&str], seconds: f32) -> PathBuf {
    let path = dir.join(name);
    run(Command::new("sox")
        .args(["-n", "-r", &rate.to_string(), "-c", &channels.to_string()])
        .args(format)
        .arg(&path)
        .args(["synth", &seconds.to_string(), "sine", "440", "vol", "0.5"]));
    path
}


#[test]
fn reads_every_format_sox_writes() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, u32, u16, &[&str])] = &[
        ("u8.wav", 8_000, 1, &["-b", "8", "-e", "unsigned-integer"]),
        ("s16.wav", 16_000, 1, &["-b", "16", "-e", "signed-integer"]),
        ("s24.wav", 44_100, 2, &["-b", "24", "-e", "signed-integer"]),
        ("s32.wav", 48_000, 2, &["-b", "32", "-e", "signed-integer"]),
        ("f32.wav", 22_050, 1, &["-b", "32", "-e", "floating-point"]),
        ("six.wav", 48_000, 6, &["-b", "16", "-e", "signed-integer"]),
    ];
    for &(name, rate, channels, format) in cases {
        let path = sox_sine(dir.path(), name, rate, channels, format, 1.0);
        let buf = read_wav(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((buf.sample_rate, buf.channels), (rate, channels), "{name}");
        assert_eq!(buf.frames(), rate as usize, "{name}");
        let mono = to_mono(&buf, 16_000).unwrap();
        assert_eq!(mono.len(), 16_000, "{name}");
        let amp = tone_amplitude(&mono[800..15_200], 440.0, 16_000);
        // 8-bit is coarse, and sox dithers low bit depths.
        assert!((amp - 0.5).abs() < 0.01, "{name}: amplitude {amp}");
        let streamed = read_wav_mono(&path, 16_000).unwrap();
        assert_eq!(streamed.len(), 16_000, "{name}");
    }
}

/// Speech from espeak-ng (22.05 kHz) resampled to 16 kHz by voxdeck matches sox's very-high-
/// quality resampler: same length, same timing, and below 6 kHz (the two anti-aliasing filters
/// differ in their transition bands near 8 kHz, by design) the difference is at least 60 dB
/// below the speech.
#[test]
fn speech_resampled_like_sox() {
    let dir = tempfile::tempdir().unwrap();
    let speech = dir.path().join("speech.wav");
    run(Command::new("espeak-ng")
        .args(["-w"])
        .arg(&speech)
        .arg("The quick brown fox jumps over the lazy dog. Voice assistants should hear every word."));
    // Band-limit to 6 kHz first (a steep FIR), so only the passbands are compared.
    let band = dir.path().join("band.wav");
    run(Command::new("sox").arg(&speech).arg(&band).args(["sinc", "-6000"]));
    let speech = band;
    let by_sox = dir.path().join("sox16k.wav");
    run(Command::new("sox")
        .arg(&speech)
        .args(["-b", "32", "-e", "floating-point"])
        .arg(&by_sox)
        .args(["rate", "-v", "16000"]));
    let buf = read_wav(&speech).unwrap();
    assert_eq!(buf.sample_rate, 22_050);
    let ours = to_mono(&buf, 16_000).unwrap();
    let theirs = read_wav(&by_sox).unwrap().samples;
    assert!(
        ours.len().abs_diff(theirs.len()) <= 1,
        "{} vs {}",
        ours.len(),
        theirs.len()
    );
    let n = ours.len().min(theirs.len());
    let signal: f64 = theirs[..n].iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let noise: f64 = ours[..n]
        .iter()
        .zip(&theirs[..n])
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    let snr = 10.0 * (signal / noise).log10();
    eprintln!("voxdeck vs sox below 6 kHz: {snr:.1} dB");
    assert!(snr > 60.0, "voxdeck vs sox: {snr:.1} dB");
    assert!(rms_dbfs(&ours) > -40.0, "speech level {}", rms_dbfs(&ours));
}

/// Push-to-talk held for 10 minutes: the source stops at `max_utterance_s` (60 s) with a clear
/// reason, having delivered exactly 60 s; the rest of the file is never read into memory.
#[test]
fn ten_minute_input_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = sox_sine(
        dir.path(),
        "long.wav",
        16_000,
        1,
        &["-b", "16", "-e", "signed-integer"],
        600.0,
    );
    let mut src = WavSource::new(&path).max_seconds(60.0);
    let rx = src.start().unwrap();
    let (audio, end) = collect(&rx);
    assert_eq!(audio.len(), 60 * 16_000);
    match end {
        EndReason::LimitReached { max_s } => assert_eq!(max_s, 60.0),
        other => panic!("expected the limit, got {other}"),
    }
    let notice = EndReason::LimitReached { max_s: 60.0 }.to_string();
    assert!(notice.contains("60") && notice.contains("max_utterance_s"), "{notice}");
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // An MP3-ish file, a text file, a header-only WAV.
    let mp3 = dir.path().join("song.mp3");
    std::fs::write(&mp3, b"ID3\x03\x00\x00\x00\x00\x00\x00 not really mp3 data").unwrap();
    let err = read_wav(&mp3).unwrap_err();
    assert!(matches!(err, AudioError::NotWav { .. }), "{err}");
    assert!(err.to_string().contains("song.mp3"), "{err}");
    let empty = dir.path().join("empty.wav");
    run(Command::new("sox")
        .args(["-n", "-r", "16000", "-c", "1", "-b", "16"])
        .arg(&empty)
        .args(["trim", "0", "0"]));
    let err = read_wav(&empty).unwrap_err();
    assert!(matches!(err, AudioError::EmptyWav { .. }), "{err}");
    assert!(err.to_string().contains("empty.wav"), "{err}");
    let err = WavSource::new(&empty).start().unwrap_err();
    assert!(matches!(err, AudioError::EmptyWav { .. }), "{err}");
}
