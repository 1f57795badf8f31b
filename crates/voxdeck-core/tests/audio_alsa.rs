//! The real cpal/ALSA capture and playback path, on a machine without a sound card.
//!
//! ALSA is pointed (`ALSA_CONFIG_PATH`, process-wide, hence this separate test binary) at a
//! generated configuration from `fixtures/audio/asound.conf.in`: the `default` device captures
//! a raw PCM file we generate (through ALSA's `file` plugin with `infile`) and plays into a FIFO
//! that the test reads. ALSA's `null` device has no clock, so the FIFOs are read at a chosen
//! pace; that is what advances the streams. The tests share the one `default` device, so they
//! run one at a time.

use std::f32::consts::PI;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use voxdeck_core::audio::level::tone_amplitude;
use voxdeck_core::audio::{
    AudioBuffer, AudioError, AudioSource, DeviceKind, EndReason, MicSource, Player, SourceEvent, find_device,
    list_devices,
};

/// The capture slave format (see the template): S16_LE, 44.1 kHz, stereo.
const IN_RATE: u32 = 44_100;
/// The playback slave format: S16_LE, 44.1 kHz, stereo.
const OUT_RATE: u32 = 44_100;
/// Bytes per second of either (S16, stereo).
const BYTES_PER_S: f64 = 44_100.0 * 4.0;
/// The infile: 1.5 s of 440 Hz then 1.5 s of 1 kHz; left at 0.6, right at 0.2 (mono mean 0.4).
const IN_SECONDS: f32 = 3.0;
const SWITCH_S: f32 = 1.5;

struct Env {
    dir: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// Writes the ALSA config, the infile and the FIFOs, and sets `ALSA_CONFIG_PATH`, once, before
/// anything touches ALSA; returns the lock that runs the tests one at a time.
fn setup() -> (MutexGuard<'static, ()>, &'static Path) {
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let env = ENV.get_or_init(|| {
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let system = ["/usr/share/alsa/alsa.conf", "/usr/local/share/alsa/alsa.conf"]
            .iter()
            .find(|p| Path::new(p).exists())
            .map(|p| format!("<{p}>"))
            .unwrap_or_else(|| "pcm.null { type null }".to_owned());
        let conf = include_str!("fixtures/audio/asound.conf.in")
            .replace("@SYSTEM_INCLUDE@", &system)
            .replace("@DIR@", dir.to_str().unwrap());
        let conf_path = dir.join("asound.conf");
        std::fs::write(&conf_path, conf).unwrap();
        std::fs::write(dir.join("in.raw"), infile_bytes()).unwrap();
        mkfifo(&dir.join("in_pace.fifo"));
        mkfifo(&dir.join("out.fifo"));
        // SAFETY: set once, under the lock, before any test of this binary uses ALSA; nothing
        // else in this process reads the environment concurrently.
        unsafe { std::env::set_var("ALSA_CONFIG_PATH", &conf_path) };
        Env { dir }
    });
    (guard, &env.dir)
}

const DIR_PREFIX: &str = "voxdeck-alsa-test-";

/// Removes the directories of earlier runs (named after their process, which is gone).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn infile_bytes() -> Vec<u8> {
    let n = (IN_RATE as f32 * IN_SECONDS) as usize;
    let mut out = Vec::with_capacity(n * 4);
    for i in 0..n {
        let t = i as f32 / IN_RATE as f32;
        let f = if t < SWITCH_S { 440.0 } else { 1000.0 };
        let s = (2.0 * PI * f * t).sin();
        for amp in [0.6, 0.2] {
            out.extend_from_slice(&((s * amp * 32767.0).round() as i16).to_le_bytes());
        }
    }
    out
}

mod c {
    unsafe extern "C" {
        pub fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
        pub fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    }
}

fn mkfifo(path: &Path) {
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { c::mkfifo(cpath.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Reads a FIFO at `bytes_per_s` until its writer closes it, keeping what it read.
struct PacedReader {
    data: Arc<Mutex<Vec<u8>>>,
    opened: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PacedReader {
    fn spawn(path: &Path, bytes_per_s: f64) -> PacedReader {
        let data = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::new(AtomicBool::new(false));
        let (data2, opened2, path) = (data.clone(), opened.clone(), path.to_owned());
        let thread = std::thread::spawn(move || {
            // Blocks until ALSA's file plugin opens the FIFO for writing.
            let mut f = File::open(&path).unwrap();
            opened2.store(true, Ordering::SeqCst);
            shrink_pipe(&f);
            let t0 = Instant::now();
            let mut buf = [0u8; 1024];
            let mut total = 0usize;
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => panic!("reading {}: {e}", path.display()),
                };
                data2.lock().unwrap().extend_from_slice(&buf[..n]);
                total += n;
                let due = t0 + Duration::from_secs_f64(total as f64 / bytes_per_s);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        });
        PacedReader {
            data,
            opened,
            thread: Some(thread),
        }
    }

    /// The left channel of the S16_LE stereo read so far, as f32.
    fn samples(&self) -> Vec<f32> {
        left_channel(&self.data.lock().unwrap())
    }

    /// Waits for the writer to close the FIFO.
    fn finish(mut self) -> Vec<f32> {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.samples()
    }
}

/// A small pipe buffer makes the pace tight (64 KiB is 2 s of the playback format). Best effort.
fn shrink_pipe(f: &File) {
    use std::os::fd::AsRawFd;
    const F_SETPIPE_SZ: i32 = 1031;
    // SAFETY: fcntl on an open descriptor we own; failure is harmless.
    unsafe { c::fcntl(f.as_raw_fd(), F_SETPIPE_SZ, 4096) };
}

fn left_channel(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}


/// Frequency from zero crossings.
fn frequency(x: &[f32], rate: u32) -> f32 {
    let crossings = x.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    crossings as f32 / 2.0 / (x.len() as f32 / rate as f32)
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Index range of the samples louder than `threshold` (first to last).
fn loud_span(x: &[f32], threshold: f32) -> Option<(usize, usize)> {
    let first = x.iter().position(|s| s.abs() > threshold)?;
    let last = x.iter().rposition(|s| s.abs() > threshold)?;
    Some((first, last + 1))
}

fn sine(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
    (0..(rate as f32 * seconds) as usize)
        .map(|i| amp * (2.0 * PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// Pace for the capture FIFO: 4x real time.
const CAPTURE_PACE: f64 = 4.0 * BYTES_PER_S;

#[test]
fn devices_lists_the_test_devices() {
    let (_g, _dir) = setup();
    for kind in [DeviceKind::Input, DeviceKind::Output] {
        let devices = list_devices(kind).unwrap();
        let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
        let default = devices
            .iter()
            .find(|d| d.name == "default")
            .unwrap_or_else(|| panic!("no default {kind} device in {names:?}"));
        assert!(default.is_default, "{default:?}");
        assert!(default.error.is_none(), "{default:?}");
        // The plug in front of the file plugin takes any common rate and 1 or 2 channels.
        assert!(
            default.supports_rate(16_000) && default.supports_rate(48_000),
            "{}",
            default.summary()
        );
        let ch = default.channel_counts();
        assert!(ch.contains(&1) && ch.contains(&2), "{ch:?}");
        assert!(default.default_format.is_some());
        eprintln!("{kind}: {names:?}; default: {}", default.summary());
    }
    // By name: exact, case-insensitive; an unknown name lists what exists.
    assert_eq!(find_device(DeviceKind::Input, Some("default")).unwrap().1, "default");
    assert_eq!(find_device(DeviceKind::Output, Some("DEFAULT")).unwrap().1, "default");
    assert_eq!(find_device(DeviceKind::Input, None).unwrap().1, "default");
    let Err(err) = find_device(DeviceKind::Input, Some("Imaginary USB Mic")) else {
        panic!("found a device that does not exist");
    };
    assert!(matches!(err, AudioError::NoSuchDevice { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("Imaginary USB Mic") && msg.contains("\"default\""),
        "{msg}"
    );
}

/// Captures from the default device in its default configuration (cpal picks 44.1 kHz stereo
/// f32 here: ALSA converts i16 to f32, voxdeck downmixes and resamples to 16 kHz), until the
/// length limit.
#[test]
fn microphone_captures_the_infile_until_the_limit() {
    let (_g, dir) = setup();
    let pace = PacedReader::spawn(&dir.join("in_pace.fifo"), CAPTURE_PACE);
    let mut mic = MicSource::new(None, 2.0);
    let rx = mic.start().unwrap();
    let opened = mic.opened().unwrap().clone();
    eprintln!("opened {opened:?}");
    assert_eq!(opened.device, "default");
    assert_eq!(
        (opened.format.sample_rate, opened.format.channels),
        (44_100, 2),
        "{opened:?}"
    );
    let mut audio = Vec::new();
    let mut levels = Vec::new();
    let mut end = None;
    for ev in rx.iter() {
        match ev {
            SourceEvent::Audio(c) => audio.extend(c),
            SourceEvent::Level(l) => levels.push(l),
            SourceEvent::End(r) => end = Some(r),
        }
    }
    mic.stop();
    pace.finish();
    let end = end.expect("an end event");
    assert!(
        matches!(end, EndReason::LimitReached { max_s } if max_s == 2.0),
        "{end:?}"
    );
    // Exactly the limit: 2 s at 16 kHz.
    assert_eq!(audio.len(), 32_000);
    // 440 Hz for the first 1.5 s, then 1 kHz; mono amplitude 0.4 (mean of 0.6 and 0.2).
    let a = &audio[1_600..22_400]; // 0.1 .. 1.4 s
    let b = &audio[25_600..31_000]; // 1.6 .. 1.94 s
    let (fa, fb) = (frequency(a, 16_000), frequency(b, 16_000));
    assert!((fa - 440.0).abs() < 5.0, "first part at {fa} Hz");
    assert!((fb - 1000.0).abs() < 10.0, "second part at {fb} Hz");
    let (aa, ab) = (tone_amplitude(a, 440.0, 16_000), tone_amplitude(b, 1000.0, 16_000));
    assert!((aa - 0.4).abs() < 0.03, "440 Hz amplitude {aa}");
    assert!((ab - 0.4).abs() < 0.03, "1 kHz amplitude {ab}");
    // Levels: one per chunk, a 0.4 sine is -10.97 dBFS RMS.
    assert_eq!(levels.len(), 32_000usize.div_ceil(voxdeck_core::audio::CHUNK_SAMPLES));
    let mid = levels[levels.len() / 4];
    assert!((mid.rms_dbfs + 10.97).abs() < 0.5, "{mid:?}");
    assert!((mid.peak_dbfs + 7.96).abs() < 0.5, "{mid:?}");
}

/// A stream opened in mono (ALSA downmixes), stopped by hand like a released push-to-talk key:
/// the audio so far arrives, then `Stopped`.
#[test]
fn microphone_at_16k_mono_stops_on_request() {
    let (_g, dir) = setup();
    let pace = PacedReader::spawn(&dir.join("in_pace.fifo"), CAPTURE_PACE);
    let mut mic = MicSource::new(Some("default"), 60.0).with_stream_config(44_100, 1);
    let rx = mic.start().unwrap();
    let opened = mic.opened().unwrap().clone();
    assert_eq!(
        (opened.format.sample_rate, opened.format.channels),
        (44_100, 1),
        "{opened:?}"
    );
    let mut audio = Vec::new();
    while audio.len() < 16_000 {
        match rx.recv().unwrap() {
            SourceEvent::Audio(c) => audio.extend(c),
            SourceEvent::Level(_) => {}
            SourceEvent::End(r) => panic!("ended early: {r}"),
        }
    }
    mic.stop();
    let mut end = None;
    for ev in rx.iter() {
        match ev {
            SourceEvent::Audio(c) => audio.extend(c),
            SourceEvent::Level(_) => {}
            SourceEvent::End(r) => end = Some(r),
        }
    }
    pace.finish();
    assert!(matches!(end, Some(EndReason::Stopped)), "{end:?}");
    assert!(audio.len() >= 16_000 && audio.len() < 48_000, "{}", audio.len());
    let a = &audio[1_600..16_000];
    let f = frequency(a, 16_000);
    assert!((f - 440.0).abs() < 5.0, "{f} Hz");
    // ALSA's plug mixes stereo down to mono itself; whatever its gains, the tone is there.
    assert!(tone_amplitude(a, 440.0, 16_000) > 0.15);
    // A new capture starts from the beginning again.
    let pace = PacedReader::spawn(&dir.join("in_pace.fifo"), CAPTURE_PACE);
    let mut mic = MicSource::new(None, 0.5);
    let rx = mic.start().unwrap();
    let (audio, end) = voxdeck_core::audio::collect(&rx);
    assert!(matches!(end, EndReason::LimitReached { .. }), "{end:?}");
    assert_eq!(audio.len(), 8_000);
    drop(mic);
    pace.finish();
}

/// Playing a buffer writes it to the device: 1 s of 16 kHz mono 440 Hz at 0.5 comes out
/// (through rodio's mixer at the device's 44.1 kHz stereo) as 1 s of 440 Hz at 0.5.
#[test]
fn player_writes_the_buffer_to_the_device() {
    let (_g, dir) = setup();
    // 8x real time.
    let reader = PacedReader::spawn(&dir.join("out.fifo"), 8.0 * BYTES_PER_S);
    let player = Player::open(None).unwrap();
    eprintln!("player on {:?}: {}", player.device(), player.format());
    assert!(!player.is_playing());
    player.enqueue(AudioBuffer::mono(sine(440.0, 16_000, 1.0, 0.5), 16_000));
    assert!(player.is_playing());
    player.wait_until_done();
    assert!(!player.is_playing());
    // Let the device buffer drain into the FIFO: wait for 0.5 s of output after the tone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let x = reader.samples();
        let done = loud_span(&x, 0.05).is_some_and(|(_, end)| x.len() > end + OUT_RATE as usize / 2);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tone never came out ({} samples read)",
            x.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(player);
    let out = reader.finish();
    let (start, end) = loud_span(&out, 0.05).unwrap();
    let len = end - start;
    assert!(
        (44_000..=44_200).contains(&len),
        "tone length {len} samples at 44.1 kHz"
    );
    let body = &out[start + 1000..end - 1000];
    let f = frequency(body, OUT_RATE);
    assert!((f - 440.0).abs() < 5.0, "{f} Hz");
    let r = rms(body);
    assert!((r - 0.5 / 2f32.sqrt()).abs() < 0.03, "rms {r}");
    assert!((tone_amplitude(body, 440.0, OUT_RATE) - 0.5).abs() < 0.03);
    // Silence before and after.
    assert!(out[..start].iter().all(|s| s.abs() < 0.05));
    assert!(rms(&out[end..]) < 0.01);
}

/// `stop()` cuts playback short: of a 10 s buffer, much less than 10 s reaches the device; and
/// what is enqueued after the stop plays.
#[test]
fn player_stop_cuts_playback_short() {
    let (_g, dir) = setup();
    // Real time, so that the device consumes at its nominal rate.
    let reader = PacedReader::spawn(&dir.join("out.fifo"), BYTES_PER_S);
    let player = Player::open(None).unwrap();
    assert!(reader.opened.load(Ordering::SeqCst));
    player.enqueue(AudioBuffer::mono(sine(440.0, 16_000, 10.0, 0.5), 16_000));
    player.enqueue(AudioBuffer::mono(sine(440.0, 16_000, 5.0, 0.5), 16_000));
    // Wait until the tone reaches the device, then barge in.
    let deadline = Instant::now() + Duration::from_secs(30);
    while loud_span(&reader.samples(), 0.05).is_none() {
        assert!(Instant::now() < deadline, "the tone never came out");
        std::thread::sleep(Duration::from_millis(10));
    }
    player.stop();
    assert!(!player.is_playing());
    player.wait_until_done(); // returns at once: nothing queued
    // A second, different tone after the stop plays normally.
    std::thread::sleep(Duration::from_millis(300));
    player.enqueue(AudioBuffer::mono(sine(1000.0, 16_000, 0.5, 0.5), 16_000));
    player.wait_until_done();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Done when the last loud stretch is the 1 kHz tone and 0.25 s of silence follows it.
        let x = reader.samples();
        let done = loud_span(&x, 0.05).is_some_and(|(_, end)| {
            end > 6_000 && x.len() > end + 11_000 && frequency(&x[end - 6_000..end - 1_000], OUT_RATE) > 900.0
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second tone never came out ({} samples)",
            x.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(player);
    let out = reader.finish();
    // The first tone: from its start to the first silence gap.
    let (start, _) = loud_span(&out, 0.05).unwrap();
    let gap = out[start..]
        .windows(2_000)
        .position(|w| w.iter().all(|s| s.abs() < 0.05))
        .expect("a silent gap after the stop");
    let first_len_s = gap as f32 / OUT_RATE as f32;
    eprintln!("first tone played {first_len_s:.2} s of 15 s before the stop took effect");
    assert!(
        first_len_s < 5.0,
        "stop did not cut the playback: {first_len_s} s of 15 s played"
    );
    // The second tone: 0.5 s of 1 kHz after the gap.
    let rest = &out[start + gap..];
    let (s2, e2) = loud_span(rest, 0.05).expect("the second tone");
    let len2 = e2 - s2;
    assert!((22_000..=22_100).contains(&len2), "second tone {len2} samples");
    let f2 = frequency(&rest[s2 + 1_000..e2 - 1_000], OUT_RATE);
    assert!((f2 - 1000.0).abs() < 10.0, "{f2} Hz");
}
