//! The speaker: a queue of buffers played in order through rodio, that can be cut off at once.
//!
//! rodio opens the output device (cpal) and mixes; the queue is voxdeck's own rodio `Source`,
//! added to the output mixer once and always in the device's format, so rodio never has to
//! switch formats between sources (rodio 0.21's `Sink` plays the first 512 samples of a source
//! appended to an empty queue in the wrong format, RustAudio/rodio#811, which the tests here
//! caught as a time-squeezed start). Each buffer is converted on [`Player::enqueue`] to mono at
//! the device rate with the rubato resampler, and played on every output channel (speech is
//! mono; a stereo buffer is downmixed).
//!
//! [`Player::stop`] is barge-in: the queue is emptied and the source drops the block it is
//! playing (at most a few ms) at its next frame, so the speaker is silent within the device's
//! buffer (the player asks for about 40 ms); what is enqueued afterwards plays normally.
//!
//! Each write reports when its first audible sample is heard ([`super::sink::Heard`]): the queue
//! keeps the frame number of that sample, and the source sets the time when the output
//! callback pulls it, with one `Instant::now()` and a `OnceLock` write (no lock, no allocation).
//! That is the moment the sample leaves voxdeck for the device. rodio's mixer does not pass on
//! cpal's callback timestamps, so the device's own buffer (about 40 ms asked, but the size
//! granted is not reported back) is NOT added: the real sound comes up to one buffer later.
//!
//! The output stream lives on its own thread (cpal streams cannot move between threads on every
//! platform), so a `Player` is `Send + Sync` and can be shared by the thread that speaks and the
//! one that interrupts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::DeviceTrait;
use rodio::{OutputStreamBuilder, Source};

use super::devices::{DeviceKind, StreamFormat, config_error, find_device};
use super::level::first_audible;
use super::resample::to_mono;
use super::sink::{AudioSink, Heard};
use super::{AudioBuffer, AudioError};

/// Device buffer asked for, in milliseconds: short, so that stop is heard at once.
const BUFFER_MS: u32 = 40;

/// Frames the queue source takes from the shared queue at a time (about 6 ms at 44.1 kHz).
const BLOCK_FRAMES: usize = 256;

/// Plays queued buffers on an output device.
pub struct Player {
    shared: Arc<Shared>,
    failed: Arc<AtomicBool>,
    device: String,
    format: StreamFormat,
    shutdown: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The queue between the player and its source on the output thread.
struct Shared {
    state: Mutex<QueueState>,
    /// Bumped by every stop; the source drops its current block when it changes.
    generation: AtomicU64,
}

struct QueueState {
    /// Mono samples at the device rate, not yet taken by the source.
    queue: VecDeque<f32>,
    /// Frames in the block the source is playing (0 once it has played out).
    in_block: usize,
    /// Frames ever added to the queue, and ever taken out (played or dropped by a stop): frame
    /// numbers for `marks`.
    pushed: u64,
    popped: u64,
    /// The first audible frame of each buffer that has one, oldest first, to report when heard.
    marks: VecDeque<(u64, Heard)>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The rodio source that plays the queue: endless, silence when the queue is empty, in the
/// device's format.
struct QueueSource {
    shared: Arc<Shared>,
    channels: u16,
    rate: u32,
    block: Vec<f32>,
    pos: usize,
    channel: u16,
    current: f32,
    generation: u64,
    /// Frames of silence to play before looking at the queue again (so an idle player does not
    /// take the lock every frame).
    idle: usize,
    /// Marks that fall in `block`: (position in the block, what to tell), in order. Room for a
    /// few is reserved up front so the callback does not allocate.
    marks: VecDeque<(usize, Heard)>,
}

/// Marks reserved per block (more than one buffer starting within 6 ms is rare).
const BLOCK_MARKS: usize = 4;

/// Frames between looks at an empty queue (about 1.5 ms at 44.1 kHz).
const IDLE_FRAMES: usize = 64;

impl Iterator for QueueSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.channel == 0 {
            let generation = self.shared.generation.load(Ordering::Acquire);
            if generation != self.generation {
                self.generation = generation;
                self.pos = self.block.len();
                // Dropped unheard: the stop's turn learns nothing, the next turn has its own.
                self.marks.clear();
            }
            if self.pos >= self.block.len() {
                if self.idle > 0 {
                    self.idle -= 1;
                } else {
                    self.block.clear();
                    self.pos = 0;
                    let mut state = self.shared.lock();
                    let n = state.queue.len().min(BLOCK_FRAMES);
                    self.block.extend(state.queue.drain(..n));
                    state.in_block = n;
                    let first = state.popped;
                    state.popped += n as u64;
                    while let Some((frame, _)) = state.marks.front()
                        && *frame < state.popped
                    {
                        if let Some((frame, heard)) = state.marks.pop_front()
                            && frame >= first
                        {
                            self.marks.push_back(((frame - first) as usize, heard));
                        }
                    }
                    if n == 0 {
                        self.idle = IDLE_FRAMES;
                    }
                }
            }
            if let Some((at, _)) = self.marks.front()
                && *at == self.pos
                && let Some((_, heard)) = self.marks.pop_front()
            {
                heard.set(std::time::Instant::now());
            }
            self.current = match self.block.get(self.pos) {
                Some(&s) => {
                    self.pos += 1;
                    s
                }
                None => 0.0,
            };
        }
        self.channel = (self.channel + 1) % self.channels;
        Some(self.current)
    }
}

impl Source for QueueSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        self.channels
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.rate
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

impl Player {
    /// Opens an output device: `None` or `""` is the default output, anything else a name as
    /// `voxdeck devices` lists it.
    pub fn open(device: Option<&str>) -> Result<Player, AudioError> {
        let wanted = device.map(str::to_owned);
        let failed = Arc::new(AtomicBool::new(false));
        let failed2 = failed.clone();
        let shared = Arc::new(Shared {
            state: Mutex::new(QueueState {
                queue: VecDeque::new(),
                in_block: 0,
                pushed: 0,
                popped: 0,
                marks: VecDeque::new(),
            }),
            generation: AtomicU64::new(0),
        });
        let shared2 = shared.clone();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(String, StreamFormat), AudioError>>();
        let (shutdown_tx, shutdown_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("voxdeck-player".into())
            .spawn(move || {
                let stream = match open_stream(wanted.as_deref(), failed2) {
                    Ok((stream, name, format)) => {
                        stream.mixer().add(QueueSource {
                            shared: shared2,
                            channels: format.channels.max(1),
                            rate: format.sample_rate,
                            block: Vec::with_capacity(BLOCK_FRAMES),
                            pos: 0,
                            channel: 0,
                            current: 0.0,
                            generation: 0,
                            idle: 0,
                            marks: VecDeque::with_capacity(BLOCK_MARKS),
                        });
                        if ready_tx.send(Ok((name, format))).is_err() {
                            return;
                        }
                        stream
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Keep the stream until the player is dropped.
                let _ = shutdown_rx.recv();
                drop(stream);
                tracing::debug!("output stream closed");
            })
            .map_err(|e| AudioError::Backend(format!("cannot start the playback thread: {e}")))?;
        let (name, format) = match ready_rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(AudioError::Backend(
                    "the playback thread ended while opening the device".into(),
                ));
            }
        };
        tracing::info!(device = %name, format = %format, "playback opened");
        Ok(Player {
            shared,
            failed,
            device: name,
            format,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// From the `[audio]` configuration's `output_device`.
    pub fn from_config(config: &crate::config::AudioConfig) -> Result<Player, AudioError> {
        Player::open(Some(&config.output_device))
    }

    /// The device's name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The format the device was opened in (rodio converts every buffer to it).
    pub fn format(&self) -> &StreamFormat {
        &self.format
    }

    /// Queues a buffer to play after those before it. It is converted to mono at the device
    /// rate here (rubato), so a long buffer costs its conversion on the caller's thread. An empty
    /// buffer is ignored; an invalid one (zero rate or channels, partial frame) is logged and
    /// skipped.
    pub fn enqueue(&self, buf: AudioBuffer) {
        if let Err(e) = self.try_enqueue(buf) {
            tracing::warn!("not playing a buffer: {e}");
        }
    }

    fn try_enqueue(&self, buf: AudioBuffer) -> Result<Heard, AudioError> {
        buf.validate()?;
        if buf.samples.is_empty() {
            return Ok(Heard::never());
        }
        let samples = to_mono(&buf, self.format.sample_rate)?;
        let audible = first_audible(&samples);
        let mut state = self.shared.lock();
        let heard = match audible {
            Some(i) => {
                let heard = Heard::pending();
                let frame = state.pushed + i as u64;
                state.marks.push_back((frame, heard.clone()));
                heard
            }
            None => Heard::never(),
        };
        state.pushed += samples.len() as u64;
        state.queue.extend(samples);
        Ok(heard)
    }

    /// Stops at once: drops everything queued and playing. Later buffers play normally.
    pub fn stop(&self) {
        let mut state = self.shared.lock();
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        state.queue.clear();
        state.in_block = 0;
        state.popped = state.pushed;
        state.marks.clear();
        drop(state);
        tracing::debug!("playback stopped");
    }

    /// Blocks until the queue has played out (or [`Player::stop`] was called, or the device
    /// failed).
    pub fn wait_until_done(&self) {
        // The queue only shrinks while the device pulls audio; if it stops moving for this long
        // the device has stalled (cpal reports some failures only as silence).
        const STALL: Duration = Duration::from_secs(3);
        let mut last = (usize::MAX, std::time::Instant::now());
        loop {
            let left = {
                let state = self.shared.lock();
                state.queue.len() + state.in_block
            };
            if left == 0 {
                return;
            }
            if self.failed.load(Ordering::Relaxed) {
                tracing::warn!(device = %self.device, "output device failed; not waiting for playback");
                return;
            }
            if left != last.0 {
                last = (left, std::time::Instant::now());
            } else if last.1.elapsed() > STALL {
                tracing::warn!(device = %self.device, "output device stopped taking audio; not waiting for playback");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether anything is queued or playing.
    pub fn is_playing(&self) -> bool {
        let state = self.shared.lock();
        !state.queue.is_empty() || state.in_block > 0
    }
}

impl AudioSink for Player {
    fn write(&self, buf: AudioBuffer) -> Result<Heard, AudioError> {
        self.try_enqueue(buf)
    }

    fn stop(&self) {
        Player::stop(self);
    }

    fn finish(&self) -> Result<(), AudioError> {
        self.wait_until_done();
        if self.failed.load(Ordering::Relaxed) {
            return Err(AudioError::Device {
                kind: DeviceKind::Output,
                device: self.device.clone(),
                message: "the output stream failed".into(),
            });
        }
        Ok(())
    }

    fn is_playing(&self) -> bool {
        Player::is_playing(self)
    }

    fn pending_s(&self) -> f64 {
        let state = self.shared.lock();
        let frames = state.queue.len() + state.in_block;
        frames as f64 / f64::from(self.format.sample_rate.max(1))
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
        drop(self.shutdown.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open_stream(
    device: Option<&str>,
    failed: Arc<AtomicBool>,
) -> Result<(rodio::OutputStream, String, StreamFormat), AudioError> {
    let (device, name) = find_device(DeviceKind::Output, device)?;
    let dev_err = |message: String| AudioError::Device {
        kind: DeviceKind::Output,
        device: name.clone(),
        message,
    };
    let default = device
        .default_output_config()
        .map_err(|e| config_error(DeviceKind::Output, &name, e))?;
    let rate = default.sample_rate().0;
    let wanted = rate * BUFFER_MS / 1000;
    let buffer = match *default.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => cpal::BufferSize::Fixed(wanted.clamp(min, max)),
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Default,
    };
    let on_error = move |e: cpal::StreamError| {
        if matches!(e, cpal::StreamError::DeviceNotAvailable) {
            failed.store(true, Ordering::Relaxed);
        }
        tracing::warn!("playback: {e}");
    };
    let builder = || {
        OutputStreamBuilder::default()
            .with_device(device.clone())
            .with_supported_config(&default)
            .with_error_callback(on_error.clone())
    };
    // A fixed short buffer where the device takes one; else the device's default.
    let mut stream = match builder().with_buffer_size(buffer).open_stream() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("short buffer refused ({e}); using the device default");
            builder()
                .open_stream_or_fallback()
                .map_err(|e| dev_err(format!("cannot open for playback: {e}")))?
        }
    };
    stream.log_on_drop(false);
    let c = stream.config();
    let format = StreamFormat {
        channels: c.channel_count(),
        sample_rate: c.sample_rate(),
        sample_format: c.sample_format().to_string(),
    };
    Ok((stream, name, format))
}
