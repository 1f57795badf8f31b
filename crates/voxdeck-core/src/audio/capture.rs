//! The microphone as an [`AudioSource`], through cpal.
//!
//! The device is opened in its default configuration (cpal's choice: 44.1 kHz where supported,
//! stereo or mono, f32 or i16 first), or one asked for with [`MicSource::with_stream_config`].
//! Any sample format is converted to f32 in the device callback, which only copies and hands
//! the data on; a worker thread downmixes, resamples to 16 kHz with the streaming rubato
//! resampler, measures levels and enforces `max_utterance_s`. If the worker falls behind by more
//! than a few seconds the callback drops audio (counted, and logged) rather than grow memory.
//!
//! cpal streams cannot move between threads on every platform, so each capture owns a thread
//! that opens the stream, keeps it alive and drops it on stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use super::AudioError;
use super::devices::{DeviceKind, StreamFormat, config_error, find_device};
use super::source::{AudioSource, Conditioner, EVENT_QUEUE, Emitter, EndReason, Flow, SourceEvent};

/// Callback buffers queued for the worker before audio is dropped (several seconds at the usual
/// 5–20 ms per callback).
const RAW_QUEUE: usize = 512;
/// With no audio from the device for this long, the capture fails instead of waiting forever.
const NO_DATA_TIMEOUT: Duration = Duration::from_secs(3);

/// Microphone capture: 16 kHz mono chunks and levels, bounded by `max_utterance_s`.
pub struct MicSource {
    device: Option<String>,
    max_s: f64,
    stream_config: Option<(u32, u16)>,
    running: Option<Running>,
    opened: Option<OpenedStream>,
}

/// The device and format a capture actually opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedStream {
    pub device: String,
    pub format: StreamFormat,
}

struct Running {
    stopping: Arc<AtomicBool>,
    ctrl: mpsc::Sender<()>,
    stream_thread: JoinHandle<()>,
    worker: JoinHandle<()>,
}

enum Raw {
    Data(Vec<f32>),
    /// A stream error; `fatal` when the device is gone.
    Error {
        message: String,
        fatal: bool,
    },
}

impl MicSource {
    /// Capture from `device` (a name, see [`super::devices`]; `None` or `""` = the default
    /// input), ending after `max_utterance_s` seconds at most.
    pub fn new(device: Option<&str>, max_utterance_s: f64) -> MicSource {
        MicSource {
            device: device.map(str::to_owned).filter(|d| !d.trim().is_empty()),
            max_s: max_utterance_s,
            stream_config: None,
            running: None,
            opened: None,
        }
    }

    /// From the `[audio]` configuration: `input_device` and `max_utterance_s`.
    pub fn from_config(config: &crate::config::AudioConfig) -> MicSource {
        MicSource::new(Some(&config.input_device), config.max_utterance_s)
    }

    /// Opens the device at this rate and channel count instead of its default configuration
    /// (the best sample format supported is used).
    pub fn with_stream_config(mut self, sample_rate: u32, channels: u16) -> MicSource {
        self.stream_config = Some((sample_rate, channels));
        self
    }

    /// The device and format opened by the last [`AudioSource::start`].
    pub fn opened(&self) -> Option<&OpenedStream> {
        self.opened.as_ref()
    }
}

impl AudioSource for MicSource {
    fn start(&mut self) -> Result<Receiver<SourceEvent>, AudioError> {
        if self.running.is_some() {
            return Err(AudioError::AlreadyStarted);
        }
        if !(self.max_s > 0.0 && self.max_s.is_finite()) {
            return Err(AudioError::InvalidBuffer(format!(
                "max_utterance_s must be a positive number of seconds, got {}",
                self.max_s
            )));
        }
        let (raw_tx, raw_rx) = sync_channel::<Raw>(RAW_QUEUE);
        let (ctrl_tx, ctrl_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(OpenedStream, u32, u16), AudioError>>();
        let device = self.device.clone();
        let stream_config = self.stream_config;
        let stream_thread = std::thread::Builder::new()
            .name("voxdeck-mic".into())
            .spawn(move || run_stream(device, stream_config, raw_tx, ctrl_rx, ready_tx))
            .map_err(|e| AudioError::Backend(format!("cannot start the capture thread: {e}")))?;
        let (opened, rate, channels) = match ready_rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = stream_thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = stream_thread.join();
                return Err(AudioError::Backend(
                    "the capture thread ended while opening the device".into(),
                ));
            }
        };
        tracing::info!(device = %opened.device, format = %opened.format, "capturing");
        let mut cond = Conditioner::new(rate, channels, Some(self.max_s))?;
        let (tx, rx) = sync_channel(EVENT_QUEUE);
        let stopping = Arc::new(AtomicBool::new(false));
        let stopping2 = stopping.clone();
        let ctrl_worker = ctrl_tx.clone();
        let device_name = opened.device.clone();
        let worker = std::thread::Builder::new()
            .name("voxdeck-mic-worker".into())
            .spawn(move || {
                let mut out = Emitter::new(tx, stopping2.clone());
                let reason = loop {
                    match raw_rx.recv_timeout(NO_DATA_TIMEOUT) {
                        Ok(Raw::Data(data)) => match cond.push(&data, &mut out) {
                            Ok(Flow::Continue) => {}
                            Ok(Flow::Limit) => break EndReason::LimitReached { max_s: cond.max_s() },
                            Ok(Flow::Gone) => break EndReason::Stopped,
                            Err(e) => break EndReason::Failed(e),
                        },
                        Ok(Raw::Error { message, fatal: true }) => {
                            break EndReason::Failed(AudioError::Device {
                                kind: DeviceKind::Input,
                                device: device_name.clone(),
                                message,
                            });
                        }
                        Ok(Raw::Error { message, fatal: false }) => {
                            tracing::warn!(device = %device_name, "capture: {message}");
                        }
                        // The stream was dropped: stop() was called (or the stream thread died).
                        Err(RecvTimeoutError::Disconnected) => {
                            let reason = match cond.finish(&mut out) {
                                Ok(Flow::Limit) => EndReason::LimitReached { max_s: cond.max_s() },
                                Ok(_) => EndReason::Stopped,
                                Err(e) => EndReason::Failed(e),
                            };
                            if stopping2.load(Ordering::Relaxed) {
                                break reason;
                            }
                            break EndReason::Failed(AudioError::Device {
                                kind: DeviceKind::Input,
                                device: device_name.clone(),
                                message: "the capture stream ended unexpectedly".into(),
                            });
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if stopping2.load(Ordering::Relaxed) {
                                break EndReason::Stopped;
                            }
                            break EndReason::Failed(AudioError::Device {
                                kind: DeviceKind::Input,
                                device: device_name.clone(),
                                message: format!("no audio from the device for {} s", NO_DATA_TIMEOUT.as_secs()),
                            });
                        }
                    }
                };
                // Close the device before reporting, so the end means the microphone is off.
                let _ = ctrl_worker.send(());
                drop(raw_rx);
                out.end(reason);
            })
            .map_err(|e| AudioError::Backend(format!("cannot start the capture worker: {e}")))?;
        self.opened = Some(opened);
        self.running = Some(Running {
            stopping,
            ctrl: ctrl_tx,
            stream_thread,
            worker,
        });
        Ok(rx)
    }

    fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stopping.store(true, Ordering::Relaxed);
            let _ = r.ctrl.send(());
            let _ = r.stream_thread.join();
            let _ = r.worker.join();
        }
    }

    fn describe(&self) -> String {
        match (&self.opened, &self.device) {
            (Some(o), _) => format!("microphone {:?}", o.device),
            (None, Some(d)) => format!("microphone {d:?}"),
            (None, None) => "the default microphone".into(),
        }
    }
}

impl Drop for MicSource {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The capture thread: opens the stream, reports, keeps it alive until told to stop.
fn run_stream(
    device: Option<String>,
    stream_config: Option<(u32, u16)>,
    raw_tx: SyncSender<Raw>,
    ctrl_rx: Receiver<()>,
    ready_tx: mpsc::Sender<Result<(OpenedStream, u32, u16), AudioError>>,
) {
    let opened = open_stream(device.as_deref(), stream_config, raw_tx);
    let stream = match opened {
        Ok((stream, info, rate, channels)) => {
            if ready_tx.send(Ok((info, rate, channels))).is_err() {
                return;
            }
            stream
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
            return;
        }
    };
    // Wait for stop (from the source or from the worker); a dropped sender also stops.
    let _ = ctrl_rx.recv();
    let _ = stream.pause();
    drop(stream);
    tracing::debug!("capture stream closed");
}

fn open_stream(
    device: Option<&str>,
    stream_config: Option<(u32, u16)>,
    raw_tx: SyncSender<Raw>,
) -> Result<(cpal::Stream, OpenedStream, u32, u16), AudioError> {
    let (device, name) = find_device(DeviceKind::Input, device)?;
    let dev_err = |message: String| AudioError::Device {
        kind: DeviceKind::Input,
        device: name.clone(),
        message,
    };
    let supported = match stream_config {
        None => device
            .default_input_config()
            .map_err(|e| config_error(DeviceKind::Input, &name, e))?,
        Some((rate, channels)) => {
            let ranges: Vec<_> = device
                .supported_input_configs()
                .map_err(|e| dev_err(format!("cannot read its configurations: {e}")))?
                .filter(|r| r.channels() == channels && r.min_sample_rate().0 <= rate && rate <= r.max_sample_rate().0)
                .collect();
            let best = ranges
                .into_iter()
                .max_by_key(|r| format_preference(r.sample_format()))
                .ok_or_else(|| dev_err(format!("does not support {rate} Hz with {channels} channels")))?;
            best.with_sample_rate(cpal::SampleRate(rate))
        }
    };
    let format = supported.sample_format();
    let config: cpal::StreamConfig = supported.config();
    let info = OpenedStream {
        device: name.clone(),
        format: StreamFormat {
            channels: config.channels,
            sample_rate: config.sample_rate.0,
            sample_format: format.to_string(),
        },
    };
    let dropped = Arc::new(AtomicU64::new(0));
    let err_tx = raw_tx.clone();
    let on_error = move |e: cpal::StreamError| {
        let fatal = matches!(e, cpal::StreamError::DeviceNotAvailable);
        let _ = err_tx.try_send(Raw::Error {
            message: e.to_string(),
            fatal,
        });
    };
    let on_data = move |data: &cpal::Data, _: &cpal::InputCallbackInfo| {
        let Some(samples) = to_f32(data) else {
            return;
        };
        match raw_tx.try_send(Raw::Data(samples)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = dropped.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!("capture is falling behind; dropped {} audio buffers", n + 1);
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    };
    let stream = device
        .build_input_stream_raw(&config, format, on_data, on_error, None)
        .map_err(|e| dev_err(format!("cannot open a {} stream: {e}", info.format)))?;
    stream
        .play()
        .map_err(|e| dev_err(format!("cannot start capture: {e}")))?;
    Ok((stream, info, config.sample_rate.0, config.channels))
}

/// Higher is better: f32, then the wider integer formats.
fn format_preference(f: SampleFormat) -> u8 {
    match f {
        SampleFormat::F32 => 9,
        SampleFormat::I32 => 8,
        SampleFormat::I24 => 7,
        SampleFormat::I16 => 6,
        SampleFormat::F64 => 5,
        SampleFormat::U16 => 4,
        SampleFormat::U32 => 3,
        SampleFormat::I8 | SampleFormat::U8 => 2,
        _ => 1,
    }
}

/// Any cpal sample format to f32 in [-1, 1]; `None` for a format cpal added later.
pub fn to_f32(data: &cpal::Data) -> Option<Vec<f32>> {
    match data.sample_format() {
        SampleFormat::F32 => data.as_slice::<f32>().map(slice_to_f32),
        SampleFormat::I16 => data.as_slice::<i16>().map(slice_to_f32),
        SampleFormat::I32 => data.as_slice::<i32>().map(slice_to_f32),
        SampleFormat::I24 => data.as_slice::<cpal::I24>().map(slice_to_f32),
        SampleFormat::I8 => data.as_slice::<i8>().map(slice_to_f32),
        SampleFormat::I64 => data.as_slice::<i64>().map(slice_to_f32),
        SampleFormat::U8 => data.as_slice::<u8>().map(slice_to_f32),
        SampleFormat::U16 => data.as_slice::<u16>().map(slice_to_f32),
        SampleFormat::U32 => data.as_slice::<u32>().map(slice_to_f32),
        SampleFormat::U64 => data.as_slice::<u64>().map(slice_to_f32),
        SampleFormat::F64 => data.as_slice::<f64>().map(slice_to_f32),
        other => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::error!("unsupported capture sample format {other}");
            }
            None
        }
    }
}

/// Samples of one format to f32, clamped to [-1, 1] (some drivers deliver float slightly over
/// full scale), NaN as 0.
pub fn slice_to_f32<T>(samples: &[T]) -> Vec<f32>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    samples
        .iter()
        .map(|&x| {
            let s = f32::from_sample(x);
            if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_formats_convert_to_unit_range() {
        let f = slice_to_f32(&[i16::MIN, 0, i16::MAX, 16_384]);
        assert_eq!(f[0], -1.0);
        assert_eq!(f[1], 0.0);
        assert!((f[2] - 1.0).abs() < 1e-4);
        assert!((f[3] - 0.5).abs() < 1e-4);
        let f = slice_to_f32(&[0u8, 128, 255]);
        assert_eq!((f[0], f[1]), (-1.0, 0.0));
        assert!(f[2] > 0.99);
        let f = slice_to_f32(&[cpal::I24::new(-(1 << 23)).unwrap(), cpal::I24::new(1 << 22).unwrap()]);
        assert_eq!(f[0], -1.0);
        assert!((f[1] - 0.5).abs() < 1e-6);
        assert_eq!(slice_to_f32(&[i32::MIN, 0]), vec![-1.0, 0.0]);
        assert_eq!(slice_to_f32(&[1.5f32, -0.25, f32::NAN]), vec![1.0, -0.25, 0.0]);
        assert_eq!(slice_to_f32(&[0.5f64]), vec![0.5]);
    }

    #[test]
    fn invalid_limit_is_rejected_before_touching_a_device() {
        let mut mic = MicSource::new(None, 0.0);
        assert!(matches!(mic.start(), Err(AudioError::InvalidBuffer(_))));
        let mut mic = MicSource::new(Some(""), f64::NAN);
        assert!(mic.start().is_err());
        assert_eq!(mic.describe(), "the default microphone");
    }
}
