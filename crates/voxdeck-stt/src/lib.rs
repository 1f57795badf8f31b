//! The wire protocol between the engine and the Whisper worker (`voxdeck-stt`).
//!
//! This library is pure Rust and links no whisper: the engine (`voxdeck-core`) depends on it
//! without the `worker` feature. Only the worker binary links whisper-rs, so whisper.cpp's ggml
//! never meets llama.cpp's in one process. It also holds the one check of a model file's
//! header ([`ggml`]), which the engine and the worker both make before loading a model.
//!
//! # Framing
//!
//! Every message is a *frame*: a little-endian `u32` byte length, then that many bytes of UTF-8
//! JSON. A [`Request::Transcribe`] frame is followed by its audio: exactly `samples` values of
//! `f32` little-endian PCM, 16 kHz mono, nominally in [-1, 1]. Responses are frames only.
//! Sizes are bounded ([`MAX_REQUEST_HEADER_BYTES`], [`MAX_RESPONSE_BYTES`], [`MAX_SAMPLES`]) so a
//! corrupt length never makes either side allocate gigabytes.
//!
//! # Session
//!
//! The engine spawns the worker with piped stdin/stdout (stderr is its log), then:
//!
//! 1. `load` (model path and decoding options) → `loaded` (model info, load time) or `error`;
//! 2. any number of `transcribe` (+ PCM) → `transcript` or `error` (the worker keeps running after
//!    a request-level error);
//! 3. `ping` → `pong` at any time (protocol version, build, loaded model);
//! 4. closing stdin (or `shutdown`) ends the worker, abandoning a decode in progress; so does the
//!    death of the process that started it.
//!
//! A frame the worker cannot parse is answered with an `error` of kind `protocol`, after which
//! the worker exits: the stream may be out of step, so nothing after it can be trusted.

pub mod ggml;

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; the engine refuses a worker that speaks another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// The environment variable through which the engine tells the worker its process id: a worker
/// whose parent is already another process when it starts (the engine died meanwhile) exits.
pub const PARENT_PID_ENV: &str = "VOXDECK_STT_PARENT_PID";

/// The only sample rate the worker accepts (Whisper's).
pub const SAMPLE_RATE: u32 = 16_000;

/// Largest request header (JSON) accepted.
pub const MAX_REQUEST_HEADER_BYTES: u32 = 256 * 1024;

/// Largest response frame accepted.
pub const MAX_RESPONSE_BYTES: u32 = 16 * 1024 * 1024;

/// Most samples in one request: 10 minutes at 16 kHz (38 MB). The engine sends 30 s windows.
pub const MAX_SAMPLES: u64 = 10 * 60 * SAMPLE_RATE as u64;

/// Errors reading or writing frames. Never a panic: every malformed input maps to one of these.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("stt protocol: i/o error: {0}")]
    Io(#[from] io::Error),
    /// The stream ended cleanly between frames.
    #[error("stt protocol: the stream ended")]
    Eof,
    #[error("stt protocol: the stream ended inside {what} ({got} of {expected} bytes)")]
    Truncated {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("stt protocol: {what} of {len} is over the limit of {max}")]
    TooLarge { what: &'static str, len: u64, max: u64 },
    #[error("stt protocol: malformed {what}: {detail}")]
    BadJson { what: &'static str, detail: String },
    #[error("stt protocol: {0}")]
    Invalid(String),
}

impl ProtocolError {
    /// Whether the stream simply ended (cleanly or mid-frame): the peer closed or died.
    pub fn is_eof(&self) -> bool {
        matches!(self, ProtocolError::Eof | ProtocolError::Truncated { .. })
            || matches!(self, ProtocolError::Io(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof))
    }
}

/// A request from the engine to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Health check; answered with [`Response::Pong`].
    Ping,
    /// Load (or replace) the model; answered with [`Response::Loaded`] or an error.
    Load(LoadRequest),
    /// Transcribe the PCM that follows the header; answered with [`Response::Transcript`].
    Transcribe(TranscribeRequest),
    /// Exit after answering nothing (closing stdin does the same).
    Shutdown,
}

/// Which model to load and how to decode with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRequest {
    /// Path to a whisper.cpp ggml model file.
    pub model: String,
    #[serde(default)]
    pub options: DecodeOptions,
}

/// Decoding options, fixed for the lifetime of a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeOptions {
    /// Compute threads (at least 1).
    pub threads: u32,
    /// Spoken language ("en"); "auto" detects it (multilingual models only).
    pub language: String,
    /// 0 = greedy; otherwise beam search of this width.
    pub beam_size: u32,
    /// Text that conditions the decoder (names, spelling); empty = none.
    pub initial_prompt: String,
    /// A segment whose no-speech probability is above this, and whose average token
    /// log-probability is below `logprob_threshold`, is dropped (OpenAI's rule).
    pub no_speech_threshold: f32,
    pub logprob_threshold: f32,
    /// Most tokens decoded per 30 s pass (whisper.cpp's own cap is n_text_ctx/2 - 4 = 220).
    pub max_tokens: u32,
    /// Flash attention: slower on CPU, so off unless asked for.
    pub flash_attn: bool,
    /// Shrink the encoder's context to the audio actually sent (plus a second) instead of
    /// Whisper's fixed 30 s. The encoder's cost scales with its context, so a 3 s utterance
    /// encodes several times faster; whisper.cpp's `audio_ctx`, as its real-time examples use.
    pub fit_audio_ctx: bool,
    /// Run Whisper on the GPU when the worker is built with CUDA and a device is present (the
    /// worker then holds a CUDA context of its own beside the engine's). Ignored otherwise.
    pub gpu: bool,
}

/// Encoder positions per second of audio (1500 for Whisper's 30 s window).
pub const ENCODER_POSITIONS_PER_S: f64 = 50.0;

/// The shortest fitted context: 10 s. Shorter contexts are faster still (a 3 s question encodes
/// in 55 ms instead of 110 ms with tiny.en on 2 cores) but cost accuracy: on the ten test
/// sentences, tiny.en's WER went from 3.8 % (full window) to 8.8 % at 5 s and at 10 s, and
/// espeak-ng speech from 18.8 % to 23.8 % at 5 s but 13.8 % at 10 s.
pub const MIN_FITTED_AUDIO_CTX: u32 = 512;

/// The encoder context for `audio_s` seconds when fitted: the audio plus one second, rounded up
/// to 64 positions, at least [`MIN_FITTED_AUDIO_CTX`]; 0 (whisper.cpp's full 30 s window) when
/// that is nearly the whole window anyway.
pub fn fitted_audio_ctx(audio_s: f64) -> u32 {
    let positions = ((audio_s.max(0.0) + 1.0) * ENCODER_POSITIONS_PER_S).ceil() as u32;
    let rounded = positions.div_ceil(64) * 64;
    if rounded >= 1400 { 0 } else { rounded.max(MIN_FITTED_AUDIO_CTX) }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            threads: 2,
            language: "en".to_owned(),
            beam_size: 0,
            initial_prompt: String::new(),
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            max_tokens: 200,
            flash_attn: false,
            fit_audio_ctx: false,
            gpu: false,
        }
    }
}

/// Header of a transcription request; `samples` f32 values follow it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribeRequest {
    /// Echoed in the response.
    pub id: u64,
    /// Number of f32 samples that follow.
    pub samples: u64,
    /// Must be [`SAMPLE_RATE`].
    pub sample_rate: u32,
    /// Compute threads for this request, at most the loaded options' (the engine asks for
    /// fewer when other work holds cores); 0 = the loaded options'.
    #[serde(default)]
    pub threads: u32,
}

/// A response from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Pong(WorkerInfo),
    Loaded(Loaded),
    Transcript(TranscriptResponse),
    Error(ErrorResponse),
}

/// What a worker is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub protocol: u32,
    /// The worker crate's version.
    pub version: String,
    /// whisper.cpp's version.
    pub whisper_version: String,
    /// whisper.cpp's system info line (SIMD features, backends).
    pub system_info: String,
    pub pid: u32,
    /// The model loaded, if any.
    pub model: Option<ModelInfo>,
}

/// A loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: String,
    pub file_bytes: u64,
    /// whisper.cpp's size name: "tiny", "base", ...
    pub model_type: String,
    pub multilingual: bool,
    pub n_vocab: i32,
    pub n_audio_layer: i32,
    pub n_text_layer: i32,
    pub n_audio_state: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

/// Answer to [`Request::Load`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    pub protocol: u32,
    pub model: ModelInfo,
    pub options: DecodeOptions,
    pub load_ms: f64,
    /// The GPU whisper.cpp runs on ("CUDA0"), from its load log; `None`: the CPU (not asked
    /// for, a build without CUDA, or no device found).
    #[serde(default)]
    pub gpu_device: Option<String>,
}

/// One stretch of recognised speech. Times are seconds from the start of the request's audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// Whisper's probability that the 30 s window holding this segment has no speech.
    pub no_speech_prob: f32,
    /// Mean log-probability of the segment's text tokens.
    pub avg_logprob: f32,
}

/// Answer to [`Request::Transcribe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptResponse {
    pub id: u64,
    /// The kept segments' text, joined and trimmed.
    pub text: String,
    pub segments: Vec<Segment>,
    /// Segments dropped as non-speech (no-speech rule, or annotations such as "[BLANK_AUDIO]").
    pub dropped_segments: u32,
    pub timings: WorkerTimings,
}

/// Where the worker's time went for one request, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerTimings {
    /// Log-mel spectrogram.
    pub mel_ms: f64,
    /// Encoder passes (each up to the decoder's first step).
    pub encode_ms: f64,
    /// Token decoding (and segment extraction).
    pub decode_ms: f64,
    /// From the end of reading the request to the start of writing the response.
    pub total_ms: f64,
    /// Seconds of audio in the request.
    pub audio_s: f64,
}

/// A request the worker could not serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub kind: ErrorKind,
    pub message: String,
    /// The transcription request this answers, if any.
    #[serde(default)]
    pub id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The model file is missing, unreadable or not a whisper.cpp model.
    ModelLoad,
    /// `transcribe` before a successful `load`.
    NotLoaded,
    /// A well-formed request with unusable content (sample rate, NaN samples, load options).
    BadRequest,
    /// whisper.cpp failed on the audio.
    Transcribe,
    /// The frame itself was malformed; the worker exits after sending this.
    Protocol,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::ModelLoad => "model load",
            ErrorKind::NotLoaded => "no model loaded",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::Transcribe => "transcription failed",
            ErrorKind::Protocol => "protocol error",
        })
    }
}

// ------------------------------------------------------------------------------------ frames

/// Reads one length-prefixed frame of at most `max` bytes. `Ok(None)`: the stream ended cleanly
/// before the frame began.
pub fn read_frame<R: Read>(r: &mut R, max: u32, what: &'static str) -> Result<Option<Vec<u8>>, ProtocolError> {
    let mut len_bytes = [0u8; 4];
    let got = read_full(r, &mut len_bytes)?;
    if got == 0 {
        return Ok(None);
    }
    if got < 4 {
        return Err(ProtocolError::Truncated {
            what: "a frame length",
            expected: 4,
            got: got as u64,
        });
    }
    let len = u32::from_le_bytes(len_bytes);
    if len > max {
        return Err(ProtocolError::TooLarge {
            what,
            len: u64::from(len),
            max: u64::from(max),
        });
    }
    let mut buf = vec![0u8; len as usize];
    let got = read_full(r, &mut buf)?;
    if got < buf.len() {
        return Err(ProtocolError::Truncated {
            what,
            expected: u64::from(len),
            got: got as u64,
        });
    }
    Ok(Some(buf))
}

/// Writes one length-prefixed frame.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> Result<(), ProtocolError> {
    let len = u32::try_from(payload.len()).map_err(|_| ProtocolError::TooLarge {
        what: "frame",
        len: payload.len() as u64,
        max: u64::from(u32::MAX),
    })?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)?;
    Ok(())
}

/// Fills `buf` as far as the stream allows; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, ProtocolError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

// ------------------------------------------------------------------------------------ requests

/// The bytes of one request: its header frame, then (for `transcribe`) the PCM. For
/// [`Request::Transcribe`], `header.samples` must equal `pcm.len()`; other requests take no PCM.
pub fn encode_request(request: &Request, pcm: &[f32]) -> Result<Vec<u8>, ProtocolError> {
    let expected = match request {
        Request::Transcribe(header) => {
            if header.samples > MAX_SAMPLES {
                return Err(ProtocolError::TooLarge {
                    what: "audio (samples)",
                    len: header.samples,
                    max: MAX_SAMPLES,
                });
            }
            header.samples
        }
        _ => 0,
    };
    if pcm.len() as u64 != expected {
        return Err(ProtocolError::Invalid(format!(
            "the request announces {expected} samples but {} were given",
            pcm.len()
        )));
    }
    let header = serde_json::to_vec(request).map_err(|e| ProtocolError::BadJson {
        what: "request header",
        detail: e.to_string(),
    })?;
    if header.len() > MAX_REQUEST_HEADER_BYTES as usize {
        return Err(ProtocolError::TooLarge {
            what: "request header",
            len: header.len() as u64,
            max: u64::from(MAX_REQUEST_HEADER_BYTES),
        });
    }
    let mut out = Vec::with_capacity(4 + header.len() + pcm.len() * 4);
    write_frame(&mut out, &header)?;
    for sample in pcm {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    Ok(out)
}

/// Writes one request (see [`encode_request`]).
pub fn write_request<W: Write>(w: &mut W, request: &Request, pcm: &[f32]) -> Result<(), ProtocolError> {
    w.write_all(&encode_request(request, pcm)?)?;
    Ok(())
}

/// Reads one request and, for `transcribe`, its PCM. `Ok(None)`: stdin closed between requests.
pub fn read_request<R: Read>(r: &mut R) -> Result<Option<(Request, Vec<f32>)>, ProtocolError> {
    let Some(header) = read_frame(r, MAX_REQUEST_HEADER_BYTES, "request header")? else {
        return Ok(None);
    };
    let request: Request = serde_json::from_slice(&header).map_err(|e| ProtocolError::BadJson {
        what: "request header",
        detail: e.to_string(),
    })?;
    let pcm = match &request {
        Request::Transcribe(t) => read_pcm(r, t.samples)?,
        _ => Vec::new(),
    };
    Ok(Some((request, pcm)))
}

/// Reads `samples` little-endian f32 values, in chunks (no second full-size buffer).
fn read_pcm<R: Read>(r: &mut R, samples: u64) -> Result<Vec<f32>, ProtocolError> {
    if samples > MAX_SAMPLES {
        return Err(ProtocolError::TooLarge {
            what: "audio (samples)",
            len: samples,
            max: MAX_SAMPLES,
        });
    }
    let total = samples as usize;
    let mut pcm = Vec::with_capacity(total);
    let mut chunk = vec![0u8; 64 * 1024];
    while pcm.len() < total {
        let want = ((total - pcm.len()) * 4).min(chunk.len());
        let got = read_full(r, &mut chunk[..want])?;
        // Keep whole samples only; a partial one means the stream ended.
        pcm.extend(
            chunk[..got - got % 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        if got < want {
            return Err(ProtocolError::Truncated {
                what: "audio",
                expected: samples * 4,
                got: (pcm.len() * 4 + got % 4) as u64,
            });
        }
    }
    Ok(pcm)
}

// ------------------------------------------------------------------------------------ responses

/// Writes one response frame.
pub fn write_response<W: Write>(w: &mut W, response: &Response) -> Result<(), ProtocolError> {
    let bytes = serde_json::to_vec(response).map_err(|e| ProtocolError::BadJson {
        what: "response",
        detail: e.to_string(),
    })?;
    if bytes.len() > MAX_RESPONSE_BYTES as usize {
        return Err(ProtocolError::TooLarge {
            what: "response",
            len: bytes.len() as u64,
            max: u64::from(MAX_RESPONSE_BYTES),
        });
    }
    write_frame(w, &bytes)
}

/// Reads one response frame. A stream that ends, cleanly or not, is an error here: the engine
/// only reads when it expects an answer.
pub fn read_response<R: Read>(r: &mut R) -> Result<Response, ProtocolError> {
    let frame = read_frame(r, MAX_RESPONSE_BYTES, "response")?.ok_or(ProtocolError::Eof)?;
    serde_json::from_slice(&frame).map_err(|e| ProtocolError::BadJson {
        what: "response",
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn fitted_audio_ctx_covers_the_audio_with_a_floor() {
        assert_eq!(fitted_audio_ctx(0.0), MIN_FITTED_AUDIO_CTX);
        assert_eq!(fitted_audio_ctx(3.0), MIN_FITTED_AUDIO_CTX);
        // 14 s + 1 s = 750 positions -> 768.
        assert_eq!(fitted_audio_ctx(14.0), 768);
        assert!(fitted_audio_ctx(20.0) as f64 >= 21.0 * ENCODER_POSITIONS_PER_S);
        assert_eq!(fitted_audio_ctx(27.5), 0);
        assert_eq!(fitted_audio_ctx(30.0), 0);
        assert_eq!(fitted_audio_ctx(f64::NAN).max(MIN_FITTED_AUDIO_CTX), MIN_FITTED_AUDIO_CTX);
    }

    use super::*;
    use std::io::Cursor;

    fn transcribe_header(id: u64, n: usize) -> Request {
        Request::Transcribe(TranscribeRequest {
            id,
            samples: n as u64,
            sample_rate: SAMPLE_RATE,
            threads: 0,
        })
    }

    #[test]
    fn transcribe_request_round_trips_with_exact_samples() {
        let pcm: Vec<f32> = (0..100_003).map(|i| ((i as f32) * 0.001).sin()).collect();
        let request = transcribe_header(7, pcm.len());
        let bytes = encode_request(&request, &pcm).unwrap();
        let mut cursor = Cursor::new(bytes);
        let (back, samples) = read_request(&mut cursor).unwrap().unwrap();
        assert_eq!(back, request);
        assert_eq!(samples, pcm, "samples must survive bit-exactly");
        // Nothing left, and the next read sees a clean end.
        assert!(read_request(&mut cursor).unwrap().is_none());
    }

    #[test]
    fn several_requests_in_one_stream() {
        let load = Request::Load(LoadRequest {
            model: "/m/ggml-tiny.en.bin".into(),
            options: DecodeOptions {
                beam_size: 5,
                initial_prompt: "Voxdeck, Jetson.".into(),
                ..DecodeOptions::default()
            },
        });
        let mut stream = Vec::new();
        write_request(&mut stream, &Request::Ping, &[]).unwrap();
        write_request(&mut stream, &load, &[]).unwrap();
        write_request(&mut stream, &transcribe_header(1, 3), &[0.5, -0.25, 1.0]).unwrap();
        write_request(&mut stream, &transcribe_header(2, 0), &[]).unwrap();
        write_request(&mut stream, &Request::Shutdown, &[]).unwrap();
        let mut r = Cursor::new(stream);
        assert_eq!(read_request(&mut r).unwrap().unwrap(), (Request::Ping, vec![]));
        assert_eq!(read_request(&mut r).unwrap().unwrap(), (load, vec![]));
        assert_eq!(read_request(&mut r).unwrap().unwrap().1, vec![0.5, -0.25, 1.0]);
        assert_eq!(
            read_request(&mut r).unwrap().unwrap(),
            (transcribe_header(2, 0), vec![])
        );
        assert_eq!(read_request(&mut r).unwrap().unwrap().0, Request::Shutdown);
        assert!(read_request(&mut r).unwrap().is_none());
    }

    #[test]
    fn responses_round_trip() {
        let responses = [
            Response::Pong(WorkerInfo {
                protocol: PROTOCOL_VERSION,
                version: "0.1.0".into(),
                whisper_version: "1.8.3".into(),
                system_info: "AVX2 = 1".into(),
                pid: 42,
                model: None,
            }),
            Response::Loaded(Loaded {
                protocol: PROTOCOL_VERSION,
                model: ModelInfo {
                    path: "/m/x.bin".into(),
                    file_bytes: 77_704_715,
                    model_type: "tiny".into(),
                    multilingual: false,
                    n_vocab: 51864,
                    n_audio_layer: 4,
                    n_text_layer: 4,
                    n_audio_state: 384,
                    n_mels: 80,
                    ftype: 1,
                },
                options: DecodeOptions::default(),
                load_ms: 101.5,
                gpu_device: None,
            }),
            Response::Transcript(TranscriptResponse {
                id: 3,
                text: "Hello world.".into(),
                segments: vec![Segment {
                    start_s: 0.0,
                    end_s: 1.5,
                    text: " Hello world.".into(),
                    no_speech_prob: 0.01,
                    avg_logprob: -0.2,
                }],
                dropped_segments: 1,
                timings: WorkerTimings {
                    mel_ms: 3.0,
                    encode_ms: 500.0,
                    decode_ms: 100.0,
                    total_ms: 610.0,
                    audio_s: 1.5,
                },
            }),
            Response::Error(ErrorResponse {
                kind: ErrorKind::ModelLoad,
                message: "cannot load /m/x.bin: \"quoted\" \u{e9}".into(),
                id: None,
            }),
        ];
        let mut stream = Vec::new();
        for r in &responses {
            write_response(&mut stream, r).unwrap();
        }
        let mut cursor = Cursor::new(stream);
        for r in &responses {
            assert_eq!(&read_response(&mut cursor).unwrap(), r);
        }
        assert!(matches!(read_response(&mut cursor), Err(ProtocolError::Eof)));
    }

    #[test]
    fn wire_format_is_length_prefixed_json_then_le_f32() {
        let bytes = encode_request(&transcribe_header(9, 1), &[1.0]).unwrap();
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[4..4 + len]).unwrap();
        assert_eq!(header["op"], "transcribe");
        assert_eq!(header["samples"], 1);
        assert_eq!(&bytes[4 + len..], &1.0f32.to_le_bytes());
        let ping = encode_request(&Request::Ping, &[]).unwrap();
        assert_eq!(&ping[4..], br#"{"op":"ping"}"#);
    }

    #[test]
    fn sample_count_must_match_the_header() {
        let err = encode_request(&transcribe_header(1, 5), &[0.0; 4]).unwrap_err();
        assert!(err.to_string().contains("announces 5 samples but 4"), "{err}");
        assert!(encode_request(&Request::Ping, &[0.0]).is_err());
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        let full = encode_request(&transcribe_header(1, 1000), &vec![0.25; 1000]).unwrap();
        // Every possible cut: a clean end only at 0, a clear truncation elsewhere.
        for cut in 0..full.len() {
            let result = read_request(&mut Cursor::new(&full[..cut]));
            match cut {
                0 => assert!(matches!(result, Ok(None))),
                _ => {
                    let err = result.unwrap_err();
                    assert!(matches!(err, ProtocolError::Truncated { .. }), "cut {cut}: {err}");
                    assert!(err.is_eof());
                }
            }
        }
        let response = {
            let mut v = Vec::new();
            write_response(
                &mut v,
                &Response::Error(ErrorResponse {
                    kind: ErrorKind::Transcribe,
                    message: "x".into(),
                    id: Some(1),
                }),
            )
            .unwrap();
            v
        };
        for cut in 1..response.len() {
            assert!(matches!(
                read_response(&mut Cursor::new(&response[..cut])),
                Err(ProtocolError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn oversized_lengths_are_refused_before_allocating() {
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let err = read_request(&mut Cursor::new(&bytes)).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::TooLarge {
                    what: "request header",
                    ..
                }
            ),
            "{err}"
        );
        let err = read_response(&mut Cursor::new(&bytes)).unwrap_err();
        assert!(matches!(err, ProtocolError::TooLarge { what: "response", .. }), "{err}");

        // A header announcing more audio than allowed.
        let header = format!(
            r#"{{"op":"transcribe","id":1,"samples":{},"sample_rate":16000}}"#,
            MAX_SAMPLES + 1
        );
        let mut frame = Vec::new();
        write_frame(&mut frame, header.as_bytes()).unwrap();
        let err = read_request(&mut Cursor::new(&frame)).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::TooLarge {
                    what: "audio (samples)",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("limit"), "{err}");
        let huge = transcribe_header(1, 0);
        let Request::Transcribe(mut t) = huge else {
            unreachable!()
        };
        t.samples = u64::MAX;
        assert!(matches!(
            encode_request(&Request::Transcribe(t), &[]),
            Err(ProtocolError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_json_is_a_clear_error() {
        for payload in [
            &b"not json"[..],
            br#"{"op":"fly"}"#,
            br#"{"samples":3}"#,
            br#"{"op":"transcribe","id":"x","samples":1,"sample_rate":16000}"#,
            b"\xff\xfe",
            b"",
        ] {
            let mut frame = Vec::new();
            write_frame(&mut frame, payload).unwrap();
            let err = read_request(&mut Cursor::new(&frame)).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProtocolError::BadJson {
                        what: "request header",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("malformed request header"), "{err}");
            let err = read_response(&mut Cursor::new(&frame)).unwrap_err();
            assert!(matches!(err, ProtocolError::BadJson { what: "response", .. }), "{err}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: random-looking streams, with and without a sane length.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..2000 {
            let len = (round % 64) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if round % 2 == 0 && len >= 4 {
                let body = (len - 4) as u32;
                bytes[..4].copy_from_slice(&body.to_le_bytes());
            }
            let _ = read_request(&mut Cursor::new(&bytes));
            let _ = read_response(&mut Cursor::new(&bytes));
        }
    }

    #[test]
    fn defaults_are_greedy_english_bounded() {
        let d = DecodeOptions::default();
        assert_eq!((d.beam_size, d.language.as_str(), d.flash_attn), (0, "en", false));
        assert!(d.max_tokens > 0 && d.max_tokens <= 220);
        // Options omitted on the wire take their defaults.
        let load: Request = serde_json::from_str(r#"{"op":"load","model":"m.bin"}"#).unwrap();
        assert_eq!(
            load,
            Request::Load(LoadRequest {
                model: "m.bin".into(),
                options: DecodeOptions::default()
            })
        );
    }
}
