//! Audio sources: something that delivers 16 kHz mono speech, a microphone or a WAV file.
//!
//! A source is started, delivers [`SourceEvent`]s on a channel (audio chunks of
//! [`CHUNK_SAMPLES`] samples at [`CAPTURE_RATE`], each followed by its [`Level`]), and ends with
//! exactly one [`SourceEvent::End`] saying why: the file finished, [`AudioSource::stop`] was
//! called (push-to-talk released), the length limit was hit, or the device failed. The audio
//! delivered before the end is complete: stopping flushes the resampler's tail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::level::Level;
use super::resample::{StreamResampler, downmix_into};
use super::wav::WavStream;
use super::{AudioError, CAPTURE_RATE};

/// Samples per [`SourceEvent::Audio`] chunk (32 ms at 16 kHz); the last one may be shorter.
pub const CHUNK_SAMPLES: usize = 512;
/// Events buffered between a source and its consumer (about 16 s of audio with the levels).
pub(crate) const EVENT_QUEUE: usize = 1024;

/// What a source delivers.
#[derive(Debug)]
pub enum SourceEvent {
    /// 16 kHz mono samples in [-1, 1].
    Audio(Vec<f32>),
    /// The level of the chunk just delivered.
    Level(Level),
    /// The last event: why the source ended.
    End(EndReason),
}

/// Why a source ended.
#[derive(Debug)]
pub enum EndReason {
    /// The file was read to its end.
    Finished,
    /// [`AudioSource::stop`] was called.
    Stopped,
    /// The length limit (`audio.max_utterance_s`) was reached; the audio up to it was
    /// delivered.
    LimitReached { max_s: f64 },
    /// The device or file failed.
    Failed(AudioError),
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Finished => f.write_str("end of input"),
            EndReason::Stopped => f.write_str("stopped"),
            EndReason::LimitReached { max_s } => write!(f, "reached the {max_s} s limit (audio.max_utterance_s)"),
            EndReason::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// Something that delivers 16 kHz mono audio: a microphone, a WAV file.
pub trait AudioSource: Send {
    /// Starts the source. Events arrive on the returned channel until [`SourceEvent::End`],
    /// after which it closes. Fails if the device or file cannot be opened, or if the source is
    /// already running.
    fn start(&mut self) -> Result<Receiver<SourceEvent>, AudioError>;

    /// Stops the source: the audio captured so far is delivered, then `End(Stopped)`. Returns
    /// once the source is idle; does nothing if it is not running. The source can be started
    /// again afterwards.
    fn stop(&mut self);

    /// What this source is, for messages: `microphone "default"`, `file a.wav`.
    fn describe(&self) -> String;
}

/// Turns raw interleaved audio into 16 kHz mono chunks with levels, and enforces the length
/// limit. Shared by the WAV and microphone sources.
pub(crate) struct Conditioner {
    channels: u16,
    resampler: Option<StreamResampler>,
    mono: Vec<f32>,
    pending: Vec<f32>,
    emitted: u64,
    max_samples: Option<u64>,
    max_s: f64,
}

/// What the consumer side did with a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// The limit was reached; the source must end with `LimitReached`.
    Limit,
    /// The consumer went away (receiver dropped) or stop was requested while it was not reading.
    Gone,
}

impl Conditioner {
    pub(crate) fn new(rate: u32, channels: u16, max_s: Option<f64>) -> Result<Conditioner, AudioError> {
        let resampler = if rate == CAPTURE_RATE {
            None
        } else {
            Some(StreamResampler::new(rate, CAPTURE_RATE)?)
        };
        let max_samples = max_s.map(|s| (s.max(0.0) * f64::from(CAPTURE_RATE)).round() as u64);
        Ok(Conditioner {
            channels: channels.max(1),
            resampler,
            mono: Vec::new(),
            pending: Vec::with_capacity(CHUNK_SAMPLES * 2),
            emitted: 0,
            max_samples,
            max_s: max_s.unwrap_or(0.0),
        })
    }

    pub(crate) fn max_s(&self) -> f64 {
        self.max_s
    }

    /// 16 kHz samples delivered so far.
    pub(crate) fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Feeds interleaved input; emits every whole chunk.
    pub(crate) fn push(&mut self, interleaved: &[f32], out: &mut Emitter) -> Result<Flow, AudioError> {
        self.mono.clear();
        downmix_into(interleaved, self.channels, &mut self.mono);
        match self.resampler.as_mut() {
            Some(r) => r.process(&self.mono, &mut self.pending)?,
            None => self.pending.extend_from_slice(&self.mono),
        }
        self.emit(out, false)
    }

    /// Flushes the resampler and emits what is left.
    pub(crate) fn finish(&mut self, out: &mut Emitter) -> Result<Flow, AudioError> {
        if let Some(r) = self.resampler.as_mut() {
            r.flush(&mut self.pending)?;
        }
        self.emit(out, true)
    }

    fn emit(&mut self, out: &mut Emitter, all: bool) -> Result<Flow, AudioError> {
        let mut start = 0;
        let mut flow = Flow::Continue;
        while self.pending.len() - start >= CHUNK_SAMPLES || (all && start < self.pending.len()) {
            let mut n = CHUNK_SAMPLES.min(self.pending.len() - start);
            let mut hit_limit = false;
            if let Some(max) = self.max_samples {
                let left = max.saturating_sub(self.emitted);
                if n as u64 > left {
                    n = left as usize;
                    hit_limit = true;
                }
            }
            if n > 0 {
                let chunk = self.pending[start..start + n].to_vec();
                let level = Level::of(&chunk);
                self.emitted += n as u64;
                start += n;
                if !out.send(SourceEvent::Audio(chunk)) || !out.send(SourceEvent::Level(level)) {
                    flow = Flow::Gone;
                    break;
                }
            }
            if hit_limit {
                flow = Flow::Limit;
                break;
            }
        }
        self.pending.drain(..start);
        Ok(flow)
    }
}

/// The sending side of a source's event channel: blocks while the consumer is behind, but gives
/// up once stop is requested and the consumer does not read for a while, so stopping never
/// hangs.
pub(crate) struct Emitter {
    tx: SyncSender<SourceEvent>,
    stop: Arc<AtomicBool>,
    gone: bool,
}

impl Emitter {
    pub(crate) fn new(tx: SyncSender<SourceEvent>, stop: Arc<AtomicBool>) -> Emitter {
        Emitter { tx, stop, gone: false }
    }

    /// Sends one event; false if the consumer is gone.
    pub(crate) fn send(&mut self, event: SourceEvent) -> bool {
        if self.gone {
            return false;
        }
        let mut event = event;
        let mut stop_seen: Option<Instant> = None;
        loop {
            match self.tx.try_send(event) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => {
                    self.gone = true;
                    return false;
                }
                Err(TrySendError::Full(e)) => {
                    event = e;
                    if self.stop.load(Ordering::Relaxed) {
                        let since = *stop_seen.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_millis(500) {
                            tracing::warn!("audio consumer is not reading; dropping the rest of the audio");
                            self.gone = true;
                            return false;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    /// Sends the final event (best effort).
    pub(crate) fn end(&mut self, reason: EndReason) {
        match &reason {
            EndReason::LimitReached { max_s } => tracing::info!("audio source reached its {max_s} s limit; stopping"),
            EndReason::Failed(e) => tracing::error!("audio source failed: {e}"),
            _ => tracing::debug!("audio source ended: {reason}"),
        }
        self.gone = false;
        self.send(SourceEvent::End(reason));
    }
}

/// Replays a WAV file as a source: any WAV, delivered as 16 kHz mono, in real time (as a
/// microphone would) or as fast as the consumer reads.
pub struct WavSource {
    path: PathBuf,
    realtime: bool,
    max_s: Option<f64>,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl WavSource {
    /// A source reading `path` as fast as possible, without a length limit.
    pub fn new(path: &Path) -> WavSource {
        WavSource {
            path: path.to_owned(),
            realtime: false,
            max_s: None,
            running: None,
        }
    }

    /// Paces delivery at real time (one second of audio per second).
    pub fn realtime(mut self, realtime: bool) -> WavSource {
        self.realtime = realtime;
        self
    }

    /// Ends with [`EndReason::LimitReached`] after `max_s` seconds of audio.
    pub fn max_seconds(mut self, max_s: f64) -> WavSource {
        self.max_s = Some(max_s);
        self
    }
}

impl AudioSource for WavSource {
    fn start(&mut self) -> Result<Receiver<SourceEvent>, AudioError> {
        if self.running.is_some() {
            return Err(AudioError::AlreadyStarted);
        }
        let mut stream = WavStream::open(&self.path)?;
        let mut cond = Conditioner::new(stream.sample_rate(), stream.channels(), self.max_s)?;
        let (tx, rx) = sync_channel(EVENT_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let realtime = self.realtime;
        let stop2 = stop.clone();
        // Read about one chunk's worth of input per step.
        let frames_per_read =
            ((CHUNK_SAMPLES as u64 * u64::from(stream.sample_rate())) / u64::from(CAPTURE_RATE)).max(1) as usize;
        let thread = std::thread::Builder::new()
            .name("voxdeck-wav-source".into())
            .spawn(move || {
                let mut out = Emitter::new(tx, stop2.clone());
                let t0 = Instant::now();
                let reason = loop {
                    if stop2.load(Ordering::Relaxed) {
                        break match cond.finish(&mut out) {
                            Ok(Flow::Limit) => EndReason::LimitReached { max_s: cond.max_s() },
                            Ok(_) => EndReason::Stopped,
                            Err(e) => EndReason::Failed(e),
                        };
                    }
                    let chunk = match stream.next_chunk(frames_per_read) {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            break match cond.finish(&mut out) {
                                Ok(Flow::Limit) => EndReason::LimitReached { max_s: cond.max_s() },
                                Ok(_) => EndReason::Finished,
                                Err(e) => EndReason::Failed(e),
                            };
                        }
                        Err(e) => break EndReason::Failed(e),
                    };
                    match cond.push(&chunk, &mut out) {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Limit) => break EndReason::LimitReached { max_s: cond.max_s() },
                        Ok(Flow::Gone) => return,
                        Err(e) => break EndReason::Failed(e),
                    }
                    if realtime {
                        let due = t0 + Duration::from_secs_f64(cond.emitted() as f64 / f64::from(CAPTURE_RATE));
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                    }
                };
                out.end(reason);
            })
            .map_err(|e| AudioError::Backend(format!("cannot start the WAV source thread: {e}")))?;
        self.running = Some(Running { stop, thread });
        Ok(rx)
    }

    fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop.store(true, Ordering::Relaxed);
            let _ = r.thread.join();
        }
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

impl Drop for WavSource {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Several WAV files as one push-to-talk source: each start plays the next file (after the
/// last, the first again), so a session answers one file per press without a new source each
/// time. Each file keeps its own settings (length limit, pacing).
pub struct WavPlaylist {
    files: Vec<WavSource>,
    /// The file playing, or the last one played.
    current: usize,
    started: bool,
}

impl WavPlaylist {
    pub fn new(files: Vec<WavSource>) -> WavPlaylist {
        WavPlaylist { files, current: 0, started: false }
    }
}

impl AudioSource for WavPlaylist {
    fn start(&mut self) -> Result<Receiver<SourceEvent>, AudioError> {
        if self.files.is_empty() {
            return Err(AudioError::Backend("no WAV file to play".into()));
        }
        if self.started {
            if self.files[self.current].running.is_some() {
                return Err(AudioError::AlreadyStarted);
            }
            self.current = (self.current + 1) % self.files.len();
        }
        self.started = true;
        self.files[self.current].start()
    }

    fn stop(&mut self) {
        if let Some(file) = self.files.get_mut(self.current) {
            file.stop();
        }
    }

    fn describe(&self) -> String {
        self.files.get(self.current).map_or_else(|| "no file".into(), WavSource::describe)
    }
}

/// Collects a source's audio until its end: the samples and the reason. A convenience for tests
/// and for one-shot recording.
pub fn collect(rx: &Receiver<SourceEvent>) -> (Vec<f32>, EndReason) {
    let mut samples = Vec::new();
    for event in rx.iter() {
        match event {
            SourceEvent::Audio(chunk) => samples.extend_from_slice(&chunk),
            SourceEvent::Level(_) => {}
            SourceEvent::End(reason) => return (samples, reason),
        }
    }
    (
        samples,
        EndReason::Failed(AudioError::Backend("the source closed without an end event".into())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{AudioBuffer, write_wav};

    fn sine_wav(dir: &Path, rate: u32, channels: u16, seconds: f32) -> PathBuf {
        let n = (rate as f32 * seconds) as usize;
        let mut samples = Vec::with_capacity(n * usize::from(channels));
        for i in 0..n {
            let v = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin();
            samples.extend(std::iter::repeat_n(v, usize::from(channels)));
        }
        let path = dir.join(format!("sine_{rate}_{channels}.wav"));
        write_wav(
            &path,
            &AudioBuffer {
                samples,
                sample_rate: rate,
                channels,
            },
        )
        .unwrap();
        path
    }

    #[test]
    fn wav_source_delivers_16k_mono_chunks_with_levels() {
        let dir = tempfile::tempdir().unwrap();
        let path = sine_wav(dir.path(), 44_100, 2, 1.0);
        let mut src = WavSource::new(&path);
        let rx = src.start().unwrap();
        let mut audio = Vec::new();
        let mut levels = Vec::new();
        let mut end = None;
        for ev in rx.iter() {
            match ev {
                SourceEvent::Audio(c) => {
                    assert!(c.len() <= CHUNK_SAMPLES);
                    audio.extend(c);
                }
                SourceEvent::Level(l) => levels.push(l),
                SourceEvent::End(r) => end = Some(r),
            }
        }
        assert!(matches!(end, Some(EndReason::Finished)), "{end:?}");
        assert_eq!(audio.len(), 16_000);
        assert_eq!(levels.len(), 16_000usize.div_ceil(CHUNK_SAMPLES));
        // A 0.5 sine: -9.03 dBFS RMS.
        let mid = levels[levels.len() / 2];
        assert!((mid.rms_dbfs + 9.03).abs() < 0.2, "{mid:?}");
    }

    #[test]
    fn wav_source_limit_ends_cleanly_with_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = sine_wav(dir.path(), 16_000, 1, 3.0);
        let mut src = WavSource::new(&path).max_seconds(1.25);
        let rx = src.start().unwrap();
        let (audio, end) = collect(&rx);
        assert!(
            matches!(end, EndReason::LimitReached { max_s } if max_s == 1.25),
            "{end:?}"
        );
        assert_eq!(audio.len(), 20_000);
        assert!(end.to_string().contains("max_utterance_s"));
    }

    #[test]
    fn wav_source_stop_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = sine_wav(dir.path(), 16_000, 1, 5.0);
        let mut src = WavSource::new(&path).realtime(true);
        let rx = src.start().unwrap();
        assert!(matches!(src.start(), Err(AudioError::AlreadyStarted)));
        // Take a little audio, then stop (as push-to-talk released).
        let first = rx.recv().unwrap();
        assert!(matches!(first, SourceEvent::Audio(_)));
        src.stop();
        let (audio, end) = collect(&rx);
        assert!(matches!(end, EndReason::Stopped), "{end:?}");
        assert!(audio.len() < 80_000 - CHUNK_SAMPLES);
        // Restart: from the beginning, to the end.
        let mut src = src.realtime(false);
        let rx = src.start().unwrap();
        let (audio, end) = collect(&rx);
        assert!(matches!(end, EndReason::Finished), "{end:?}");
        assert_eq!(audio.len(), 80_000);
    }

    #[test]
    fn wav_source_errors_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut src = WavSource::new(&dir.path().join("nope.wav"));
        assert!(matches!(src.start(), Err(AudioError::Read { .. })));
        assert!(src.describe().contains("nope.wav"));
    }

    /// `voxdeck talk --input a.wav --input b.wav` once capped only the first file; every file
    /// given to push-to-talk goes through `open_input`, which caps each one.
    #[test]
    fn every_input_file_is_capped_at_max_utterance_s() {
        let dir = tempfile::tempdir().unwrap();
        let first = sine_wav(dir.path(), 16_000, 1, 3.0);
        let second = sine_wav(dir.path(), 44_100, 2, 4.0);
        let config = crate::config::AudioConfig { max_utterance_s: 1.25, ..Default::default() };
        let mut src = crate::audio::open_input(&[first.clone(), second.clone()], &config);
        // Three presses: the first file, the second, the first again; each stops at the limit.
        for expected in [&first, &second, &first] {
            src.stop();
            let rx = src.start().unwrap();
            let (audio, end) = collect(&rx);
            assert!(matches!(end, EndReason::LimitReached { max_s } if max_s == 1.25), "{expected:?}: {end:?}");
            assert_eq!(audio.len(), 20_000, "{expected:?}");
            assert_eq!(src.describe(), format!("file {}", expected.display()));
        }
    }

    #[test]
    fn consumer_going_away_ends_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = sine_wav(dir.path(), 16_000, 1, 60.0);
        let mut src = WavSource::new(&path);
        let rx = src.start().unwrap();
        // Let the reader fill the queue and wait on it, then go away without reading.
        std::thread::sleep(Duration::from_millis(50));
        drop(rx);
        // The thread ends by itself, without `stop`: a source that kept waiting on a consumer
        // that is gone (the regression) fails here instead of hanging.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !src.running.as_ref().is_some_and(|r| r.thread.is_finished()) {
            assert!(Instant::now() < deadline, "the source was still running 5 s after its consumer went away");
            std::thread::sleep(Duration::from_millis(5));
        }
        src.stop();
    }
}
