//! `voxdeck record`: record the microphone to a 16 kHz mono WAV file, with a level meter.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use voxdeck_core::Config;
use voxdeck_core::audio::{
    AudioBuffer, AudioSink, AudioSource, CAPTURE_RATE, DBFS_FLOOR, EndReason, Level, MicSource, SourceEvent, WavSink,
};

#[derive(clap::Args)]
pub struct RecordArgs {
    /// The WAV file to write (16 kHz, mono, 16-bit).
    #[arg(long, short, value_name = "FILE.wav")]
    output: PathBuf,
    /// How long to record, in seconds (at most audio.max_utterance_s).
    #[arg(long, value_name = "N")]
    seconds: f64,
    /// Input device: a name as `voxdeck devices` lists it, or a unique part of one
    /// (default: audio.input_device, else the system default).
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
}

/// Levels below this peak mean nothing was heard.
const SILENT_PEAK_DBFS: f32 = -60.0;

pub fn run(args: RecordArgs, config: Config) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be a positive number, got {}", args.seconds);
    }
    let max_s = config.audio.max_utterance_s;
    let seconds = if args.seconds > max_s {
        eprintln!(
            "note: --seconds {} is above audio.max_utterance_s ({max_s} s); recording {max_s} s \
             (raise max_utterance_s in the [audio] section to record longer)",
            args.seconds
        );
        max_s
    } else {
        args.seconds
    };
    let device = args.device.as_deref().unwrap_or(&config.audio.input_device);
    let sink = WavSink::create(&args.output).with_format(CAPTURE_RATE, 1);
    let mut mic = MicSource::new(Some(device), seconds);
    let rx = mic.start().context("opening the microphone")?;
    if let Some(o) = mic.opened() {
        eprintln!(
            "Recording {seconds} s from {:?} ({}) to {}",
            o.device,
            o.format,
            args.output.display()
        );
    }
    let meter = std::io::stderr().is_terminal();
    let mut recorded = 0usize;
    let mut peak = DBFS_FLOOR;
    let mut since_flush = 0usize;
    let end = loop {
        let Ok(event) = rx.recv() else {
            break EndReason::Failed(voxdeck_core::audio::AudioError::Backend(
                "the microphone stopped without saying why".into(),
            ));
        };
        match event {
            SourceEvent::Audio(chunk) => {
                recorded += chunk.len();
                since_flush += chunk.len();
                sink.write(AudioBuffer::mono(chunk, CAPTURE_RATE))
                    .with_context(|| format!("writing {}", args.output.display()))?;
                // Keep the header valid as we go, so an interrupted recording is still a WAV.
                if since_flush >= CAPTURE_RATE as usize {
                    sink.finish()
                        .with_context(|| format!("writing {}", args.output.display()))?;
                    since_flush = 0;
                }
            }
            SourceEvent::Level(level) => {
                peak = peak.max(level.peak_dbfs);
                if meter {
                    draw_meter(level, recorded as f64 / f64::from(CAPTURE_RATE), seconds);
                }
            }
            SourceEvent::End(reason) => break reason,
        }
    };
    mic.stop();
    if meter {
        eprintln!();
    }
    sink.close()
        .with_context(|| format!("writing {}", args.output.display()))?;
    let got_s = recorded as f64 / f64::from(CAPTURE_RATE);
    match end {
        // The limit is the requested length: a complete recording.
        EndReason::LimitReached { .. } | EndReason::Finished | EndReason::Stopped => {}
        EndReason::Failed(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "recording failed after {got_s:.2} s ({} keeps what was recorded)",
                args.output.display()
            )));
        }
    }
    eprintln!(
        "Recorded {got_s:.2} s (16 kHz mono) to {}; peak {}",
        args.output.display(),
        fmt_db(peak)
    );
    if peak < SILENT_PEAK_DBFS {
        eprintln!("warning: the recording is silent (peak below {SILENT_PEAK_DBFS} dBFS): is the microphone muted?");
    }
    Ok(())
}

fn fmt_db(db: f32) -> String {
    if db <= DBFS_FLOOR {
        "silence".into()
    } else {
        format!("{db:.1} dBFS")
    }
}

/// One line, redrawn: a bar for the RMS level over -60..0 dBFS, the level, and the time.
fn draw_meter(level: Level, at_s: f64, total_s: f64) {
    const WIDTH: usize = 30;
    let fill = (((level.rms_dbfs + 60.0) / 60.0).clamp(0.0, 1.0) * WIDTH as f32).round() as usize;
    let clip = if level.peak_dbfs > -0.5 { " CLIP" } else { "     " };
    let bar: String = "#".repeat(fill) + &"-".repeat(WIDTH - fill);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r  [{bar}] {:>6} dBFS{clip}  {at_s:5.1} / {total_s:.1} s",
        if level.rms_dbfs <= DBFS_FLOOR {
            "-inf".to_owned()
        } else {
            format!("{:.1}", level.rms_dbfs)
        }
    );
    let _ = err.flush();
}
