//! The real cpal/ALSA capture and playback path, on a machine without a sound card.
//!
//! ALSA is pointed (`ALSA_CONFIG_PATH`, process-wide, hence this separate test binary) at a
//! generated configuration from `fixtures/audio/asound.conf.in`: the `default` device captures
//! a raw PCM file we generate (through ALSA's `file` plugin with `infile`) and plays into a FIFO
//! that the test reads. ALSA's `null` device has no clock, so the FIFOs are read at a chosen
//! pace; that is what advances the streams. The tests share the one `default` device, so they
//! run one at a time.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::alsa_env::*;
use voxdeck_core::audio::level::tone_amplitude;
use voxdeck_core::audio::{AudioBuffer, AudioError, AudioSink, AudioSource, DeviceKind, EndReason, MicSource, Player, SourceEvent, find_device, list_devices};

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

/// A write reports when its first audible sample is pulled by the output callback: 300 ms of
/// silence then a tone is heard about 300 ms after the write (less the little the device has
/// already pulled ahead of real time); a stop before that never reports it, and the next
/// write reports its own time.
#[test]
fn player_reports_when_the_first_audible_sample_is_heard() {
    let (_g, dir) = setup();
    let reader = PacedReader::spawn_tight(&dir.join("out.fifo"), BYTES_PER_S);
    let player = Player::open(None).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut samples = vec![0.0f32; 4_800];
    samples.extend(sine(440.0, 16_000, 0.3, 0.5));
    let written = Instant::now();
    let heard = AudioSink::write(&player, AudioBuffer::mono(samples.clone(), 16_000)).unwrap();
    assert!(heard.audible() && heard.get().is_none(), "not heard at the write");
    player.wait_until_done();
    let lead = heard.get().expect("heard once played") - written;
    eprintln!("first audible sample pulled {lead:?} after the write");
    assert!(lead >= Duration::from_millis(200) && lead <= Duration::from_millis(500), "{lead:?}");

    // Stopped during its leading silence: never heard.
    let cut = AudioSink::write(&player, AudioBuffer::mono(samples.clone(), 16_000)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    player.stop();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cut.get(), None, "a stopped buffer was reported heard");
    // Silence is never heard; the next audible write is, at its own time.
    let quiet = AudioSink::write(&player, AudioBuffer::mono(vec![0.001; 1_600], 16_000)).unwrap();
    assert!(!quiet.audible());
    let written = Instant::now();
    let next = AudioSink::write(&player, AudioBuffer::mono(samples, 16_000)).unwrap();
    player.wait_until_done();
    let lead = next.get().expect("the next write is heard") - written;
    assert!(lead >= Duration::from_millis(200), "{lead:?}");
    assert_eq!(cut.get(), None);
    drop(player);
    drop(reader);
}
