//! `voxdeck-stt`: voxdeck's Whisper worker.
//!
//! A process of its own so that whisper.cpp's ggml never shares an address space with
//! llama.cpp's. It loads one ggml model, then serves transcription requests on stdin/stdout with
//! the framing of the `voxdeck_stt` library until stdin closes. Logs go to stderr only
//! (`VOXDECK_STT_LOG=error|warn|info|debug`, default `warn`); stdout carries the protocol and
//! nothing else: fd 1 is pointed at stderr at start-up, so stray C prints cannot corrupt it.
//!
//! Decoding is bounded: greedy (or beam) at temperature 0 with no temperature fallback, a token
//! cap per 30 s pass, flash attention off (1.5x slower on CPU). whisper.cpp is built without
//! OpenMP (whisper-rs-sys's `openmp` feature is off), whose spinning threads stall decode steps
//! on a loaded machine.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use voxdeck_stt::{
    DecodeOptions, ErrorKind, ErrorResponse, Loaded, ModelInfo, PROTOCOL_VERSION, Request, Response, SAMPLE_RATE,
    Segment, TranscribeRequest, TranscriptResponse, WorkerInfo, WorkerTimings,
};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState, WhisperSysContext,
    WhisperSysState, WhisperTokenData,
};

// ------------------------------------------------------------------------------------ logging

const LEVEL_ERROR: u32 = 1;
const LEVEL_WARN: u32 = 2;
const LEVEL_INFO: u32 = 3;
const LEVEL_DEBUG: u32 = 4;

static LOG_LEVEL: AtomicU32 = AtomicU32::new(LEVEL_WARN);
/// Level of the line whisper.cpp is in the middle of (it logs `CONT` pieces).
static WHISPER_LINE_LEVEL: AtomicU32 = AtomicU32::new(LEVEL_INFO);
/// whisper.cpp's partial line, and its last warnings and errors (for load-error messages).
static WHISPER_LOG: Mutex<(String, Vec<String>)> = Mutex::new((String::new(), Vec::new()));

macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $level <= LOG_LEVEL.load(Ordering::Relaxed) {
            eprintln!("voxdeck-stt: {}", format_args!($($arg)*));
        }
    };
}

fn init_logging() {
    let level = match std::env::var("VOXDECK_STT_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => LEVEL_ERROR,
        "info" => LEVEL_INFO,
        "debug" | "trace" => LEVEL_DEBUG,
        _ => LEVEL_WARN,
    };
    LOG_LEVEL.store(level, Ordering::Relaxed);
    // SAFETY: the callback neither panics nor unwinds (poisoned locks are recovered, and all
    // formatting is infallible), and it needs no user data.
    unsafe { whisper_rs::set_log_callback(Some(whisper_log_callback), std::ptr::null_mut()) };
}

/// whisper.cpp's and ggml's log sink: complete lines go to stderr when their level is enabled;
/// warnings and errors are also kept for error messages.
unsafe extern "C" fn whisper_log_callback(level: c_uint, text: *const c_char, _user_data: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let ours = match level {
        1 => LEVEL_DEBUG,
        2 => LEVEL_INFO,
        3 => LEVEL_WARN,
        4 => LEVEL_ERROR,
        5 => WHISPER_LINE_LEVEL.load(Ordering::Relaxed), // continuation of the current line
        _ => LEVEL_INFO,
    };
    WHISPER_LINE_LEVEL.store(ours, Ordering::Relaxed);
    let mut guard = WHISPER_LOG.lock().unwrap_or_else(|e| e.into_inner());
    let (partial, recent) = &mut *guard;
    partial.push_str(&text);
    while let Some(end) = partial.find('\n') {
        let line: String = partial.drain(..=end).collect();
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if ours <= LEVEL_WARN {
            if recent.len() >= 8 {
                recent.remove(0);
            }
            recent.push(line.to_owned());
        }
        if ours <= LOG_LEVEL.load(Ordering::Relaxed) {
            eprintln!("whisper.cpp: {line}");
        }
    }
}

/// whisper.cpp's warnings and errors since the last call.
fn take_whisper_messages() -> Vec<String> {
    let mut guard = WHISPER_LOG.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut guard.1)
}

// ------------------------------------------------------------------------------------ main

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("--version" | "-V") => {
            println!(
                "voxdeck-stt {} (whisper.cpp {}, protocol {PROTOCOL_VERSION})",
                env!("CARGO_PKG_VERSION"),
                whisper_rs::WHISPER_CPP_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!(
                "voxdeck-stt: voxdeck's Whisper worker. It is started by voxdeck and speaks a binary \
                 protocol on stdin/stdout (see the voxdeck_stt crate); logs go to stderr \
                 (VOXDECK_STT_LOG=error|warn|info|debug)."
            );
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("voxdeck-stt: unknown argument `{other}` (try --help)");
            return ExitCode::from(2);
        }
    }
    if io::stdin().is_terminal() {
        eprintln!("voxdeck-stt: stdin is a terminal; this worker is started by voxdeck (try --help)");
        return ExitCode::from(2);
    }
    init_logging();
    let out = match protocol_stdout() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("voxdeck-stt: cannot set up stdout: {e}");
            return ExitCode::from(1);
        }
    };
    log!(
        LEVEL_INFO,
        "ready (pid {}, whisper.cpp {})",
        std::process::id(),
        whisper_rs::WHISPER_CPP_VERSION
    );
    serve(
        BufReader::with_capacity(256 * 1024, io::stdin().lock()),
        BufWriter::new(out),
    )
}

/// A private handle on the original stdout for the protocol; fd 1 itself then points at stderr.
fn protocol_stdout() -> io::Result<File> {
    // SAFETY: plain fd syscalls on the process's own standard descriptors; `dup` returns a fresh
    // descriptor that the File takes ownership of.
    unsafe {
        let fd = libc::dup(libc::STDOUT_FILENO);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        use std::os::fd::FromRawFd;
        Ok(File::from_raw_fd(fd))
    }
}

fn serve(mut input: impl Read, mut out: impl Write) -> ExitCode {
    let mut model: Option<Model> = None;
    loop {
        let (request, pcm) = match voxdeck_stt::read_request(&mut input) {
            Ok(Some(request)) => request,
            Ok(None) => {
                log!(LEVEL_INFO, "stdin closed; exiting");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                // Out of step with the engine: say why, then stop.
                log!(LEVEL_ERROR, "{e}");
                let _ = send(
                    &mut out,
                    &Response::Error(ErrorResponse {
                        kind: ErrorKind::Protocol,
                        message: e.to_string(),
                        id: None,
                    }),
                );
                return ExitCode::from(2);
            }
        };
        let response = match request {
            Request::Ping => Response::Pong(WorkerInfo {
                protocol: PROTOCOL_VERSION,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                whisper_version: whisper_rs::WHISPER_CPP_VERSION.to_owned(),
                system_info: whisper_rs::print_system_info().trim().to_owned(),
                pid: std::process::id(),
                model: model.as_ref().map(|m| m.info.clone()),
            }),
            Request::Load(load) => {
                model = None; // free the old model before loading a new one
                match validate_options(&load.options) {
                    Err(message) => error(ErrorKind::BadRequest, message, None),
                    Ok(options) => match Model::load(&load.model, options) {
                        Ok((loaded, response)) => {
                            model = Some(loaded);
                            Response::Loaded(response)
                        }
                        Err(message) => error(ErrorKind::ModelLoad, message, None),
                    },
                }
            }
            Request::Transcribe(header) => match model.as_mut() {
                None => error(
                    ErrorKind::NotLoaded,
                    "no model is loaded (send `load` first)".into(),
                    Some(header.id),
                ),
                Some(m) => m.transcribe(&header, &pcm),
            },
            Request::Shutdown => {
                log!(LEVEL_INFO, "shutdown requested");
                return ExitCode::SUCCESS;
            }
        };
        drop(pcm);
        if let Err(e) = send(&mut out, &response) {
            // The engine went away (or killed the pipe): nothing left to serve.
            log!(LEVEL_INFO, "cannot answer: {e}; exiting");
            return ExitCode::from(1);
        }
    }
}

fn send(out: &mut impl Write, response: &Response) -> Result<(), voxdeck_stt::ProtocolError> {
    voxdeck_stt::write_response(out, response)?;
    out.flush()?;
    Ok(())
}

fn error(kind: ErrorKind, message: String, id: Option<u64>) -> Response {
    log!(LEVEL_WARN, "{kind}: {message}");
    Response::Error(ErrorResponse { kind, message, id })
}

// ------------------------------------------------------------------------------------ model

struct Model {
    // `state` keeps its own reference to the context; the context is kept for token ids.
    ctx: WhisperContext,
    state: WhisperState,
    info: ModelInfo,
    options: DecodeOptions,
}

/// whisper.cpp's file magic, "ggml" as a little-endian u32.
const GGML_MAGIC: [u8; 4] = *b"lmgg";

impl Model {
    fn load(model: &str, options: DecodeOptions) -> Result<(Model, Loaded), String> {
        let started = Instant::now();
        let path = Path::new(model);
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read Whisper model {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("Whisper model {} is not a file", path.display()));
        }
        let mut magic = [0u8; 4];
        let magic_ok = File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .map(|()| magic == GGML_MAGIC);
        match magic_ok {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!(
                    "{} is not a whisper.cpp ggml model (it does not start with the ggml magic); \
                     convert it or fetch a ggml-*.bin model",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("cannot read Whisper model {}: {e}", path.display())),
        }

        let mut params = WhisperContextParameters::default();
        params.use_gpu(false).flash_attn(options.flash_attn);
        take_whisper_messages();
        let ctx = WhisperContext::new_with_params(path, params).map_err(|e| {
            let detail = take_whisper_messages().join("; ");
            let detail = if detail.is_empty() { e.to_string() } else { detail };
            format!(
                "cannot load Whisper model {} (corrupt or truncated?): whisper.cpp: {detail}",
                path.display()
            )
        })?;
        let state = ctx
            .create_state()
            .map_err(|e| format!("cannot create a Whisper state for {}: {e}", path.display()))?;
        if !ctx.is_multilingual() && options.language != "en" {
            log!(
                LEVEL_WARN,
                "{} is an English-only model; language `{}` is ignored",
                path.display(),
                options.language
            );
        }
        let info = ModelInfo {
            path: model.to_owned(),
            file_bytes: meta.len(),
            model_type: ctx
                .model_type_readable_str_lossy()
                .map(|s| s.into_owned())
                .unwrap_or_default(),
            multilingual: ctx.is_multilingual(),
            n_vocab: ctx.model_n_vocab(),
            n_audio_layer: ctx.model_n_audio_layer(),
            n_text_layer: ctx.model_n_text_layer(),
            n_audio_state: ctx.model_n_audio_state(),
            n_mels: ctx.model_n_mels(),
            ftype: ctx.model_ftype(),
        };
        let load_ms = ms(started.elapsed());
        log!(
            LEVEL_INFO,
            "loaded {} ({}) in {load_ms:.0} ms",
            info.path,
            info.model_type
        );
        let loaded = Loaded {
            protocol: PROTOCOL_VERSION,
            model: info.clone(),
            options: options.clone(),
            load_ms,
        };
        Ok((
            Model {
                ctx,
                state,
                info,
                options,
            },
            loaded,
        ))
    }

    fn transcribe(&mut self, header: &TranscribeRequest, pcm: &[f32]) -> Response {
        let started = Instant::now();
        let id = Some(header.id);
        if header.sample_rate != SAMPLE_RATE {
            return error(
                ErrorKind::BadRequest,
                format!("audio must be {SAMPLE_RATE} Hz mono, got {} Hz", header.sample_rate),
                id,
            );
        }
        if let Some(i) = pcm.iter().position(|s| !s.is_finite()) {
            return error(ErrorKind::BadRequest, format!("sample {i} is not a finite number"), id);
        }
        let audio_s = pcm.len() as f64 / f64::from(SAMPLE_RATE);
        let empty = |timings| {
            Response::Transcript(TranscriptResponse {
                id: header.id,
                text: String::new(),
                segments: Vec::new(),
                dropped_segments: 0,
                timings,
            })
        };
        if pcm.is_empty() {
            return empty(WorkerTimings {
                total_ms: ms(started.elapsed()),
                ..WorkerTimings::default()
            });
        }

        let o = &self.options;
        let strategy = if o.beam_size > 0 {
            SamplingStrategy::BeamSearch {
                beam_size: o.beam_size as c_int,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(o.threads as c_int);
        params.set_language(Some(&o.language));
        params.set_translate(false);
        params.set_no_context(true);
        if o.fit_audio_ctx {
            params.set_audio_ctx(voxdeck_stt::fitted_audio_ctx(audio_s) as c_int);
        }
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        // Bounded decoding: temperature 0, no fallback to higher temperatures, a token cap.
        params.set_temperature(0.0);
        params.set_temperature_inc(0.0);
        params.set_max_tokens(o.max_tokens as c_int);
        params.set_no_speech_thold(o.no_speech_threshold);
        params.set_logprob_thold(o.logprob_threshold);
        if !o.initial_prompt.is_empty() {
            params.set_initial_prompt(&o.initial_prompt);
        }
        let mut clock = PhaseClock::new(started);
        // SAFETY: the callbacks only touch `clock` through the user-data pointer, which outlives
        // `full` (it is a local borrowed for the call) and is used from the calling thread only.
        unsafe {
            let user = (&mut clock as *mut PhaseClock).cast::<c_void>();
            params.set_start_encoder_callback(Some(on_encoder_begin));
            params.set_start_encoder_callback_user_data(user);
            params.set_filter_logits_callback(Some(on_logits));
            params.set_filter_logits_callback_user_data(user);
        }
        take_whisper_messages();
        if let Err(e) = self.state.full(params, pcm) {
            let detail = take_whisper_messages().join("; ");
            return error(
                ErrorKind::Transcribe,
                format!("whisper.cpp failed: {e} {detail}").trim().to_owned(),
                id,
            );
        }
        let (mel_ms, encode_ms, mut decode_ms) = clock.finish(Instant::now());

        let extract_start = Instant::now();
        let eot = self.ctx.token_eot();
        let mut segments = Vec::new();
        let mut dropped = 0u32;
        for seg in self.state.as_iter() {
            let text = match seg.to_str_lossy() {
                Ok(t) => t.into_owned(),
                Err(_) => continue,
            };
            let (mut sum, mut n) = (0.0f64, 0u32);
            for i in 0..seg.n_tokens() {
                match seg.get_token(i) {
                    Some(token) if token.token_id() < eot => {
                        sum += f64::from(token.token_data().plog);
                        n += 1;
                    }
                    _ => {}
                }
            }
            let avg_logprob = if n > 0 {
                (sum / f64::from(n)) as f32
            } else {
                f32::NEG_INFINITY
            };
            let segment = Segment {
                start_s: seg.start_timestamp() as f64 / 100.0,
                end_s: (seg.end_timestamp() as f64 / 100.0).min(audio_s.max(seg.start_timestamp() as f64 / 100.0)),
                text,
                no_speech_prob: seg.no_speech_probability(),
                avg_logprob,
            };
            if let Some(why) = non_speech(&segment, o) {
                log!(LEVEL_INFO, "dropped segment {:?}: {why}", segment.text);
                dropped += 1;
                continue;
            }
            log!(
                LEVEL_DEBUG,
                "[{:.2}-{:.2}] p(no speech) {:.3} logprob {:.2} {:?}",
                segment.start_s,
                segment.end_s,
                segment.no_speech_prob,
                segment.avg_logprob,
                segment.text
            );
            segments.push(segment);
        }
        decode_ms += ms(extract_start.elapsed());
        let text = join_segments(&segments);
        let total_ms = ms(started.elapsed());
        log!(
            LEVEL_INFO,
            "request {}: {audio_s:.2} s of audio in {total_ms:.0} ms (mel {mel_ms:.0}, encode {encode_ms:.0}, decode {decode_ms:.0})",
            header.id
        );
        Response::Transcript(TranscriptResponse {
            id: header.id,
            text,
            segments,
            dropped_segments: dropped,
            timings: WorkerTimings {
                mel_ms,
                encode_ms,
                decode_ms,
                total_ms,
                audio_s,
            },
        })
    }
}

fn validate_options(options: &DecodeOptions) -> Result<DecodeOptions, String> {
    let mut o = options.clone();
    if o.threads == 0 {
        o.threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4) as u32);
    }
    if o.threads > 256 {
        return Err(format!("threads must be at most 256, got {}", o.threads));
    }
    if o.beam_size > 16 {
        return Err(format!("beam_size must be at most 16, got {}", o.beam_size));
    }
    if o.language.is_empty() {
        o.language = "en".to_owned();
    }
    if o.language != "auto" && whisper_rs::get_lang_id(&o.language).is_none() {
        return Err(format!(
            "unknown language `{}` (use a Whisper code such as `en`, or `auto`)",
            o.language
        ));
    }
    if !(0.0..=1.0).contains(&o.no_speech_threshold) {
        return Err(format!(
            "no_speech_threshold must be in 0..=1, got {}",
            o.no_speech_threshold
        ));
    }
    if o.max_tokens == 0 {
        o.max_tokens = DecodeOptions::default().max_tokens;
    }
    if o.initial_prompt.contains('\0') {
        return Err("initial_prompt must not contain NUL characters".to_owned());
    }
    Ok(o)
}

/// Why a segment is not speech, if it is not: Whisper's no-speech rule, or text that is only a
/// non-speech annotation ("[BLANK_AUDIO]", "(wind blowing)", "♪") or punctuation.
fn non_speech(segment: &Segment, o: &DecodeOptions) -> Option<&'static str> {
    if segment.no_speech_prob > o.no_speech_threshold && segment.avg_logprob < o.logprob_threshold {
        return Some("no-speech probability");
    }
    let text = segment.text.trim();
    if !text.chars().any(char::is_alphanumeric) {
        return Some("no words");
    }
    if is_annotation(text) {
        return Some("annotation");
    }
    None
}

/// Text made only of bracketed or starred annotations: "[BLANK_AUDIO]", "(music) [Applause]", "*sigh*".
fn is_annotation(text: &str) -> bool {
    let mut rest = text.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('(') => ')',
            Some('*') => '*',
            _ => return false,
        };
        let Some(end) = rest[1..].find(close) else {
            return false;
        };
        rest = rest[1 + end + 1..].trim_start_matches(|c: char| {
            c.is_whitespace() || (c.is_ascii_punctuation() && !matches!(c, '[' | '(' | '*'))
        });
    }
    true
}

fn join_segments(segments: &[Segment]) -> String {
    let mut text = String::new();
    for s in segments {
        let t = s.text.trim();
        if t.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(t);
    }
    text
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ------------------------------------------------------------------------------------ timings

/// Splits one `whisper_full` call into mel, encoder and decoder time from its callbacks: the
/// encoder starts at `encoder_begin`, the decoder at the first logits filter after it.
struct PhaseClock {
    start: Instant,
    first_encode: Option<Instant>,
    encoding_since: Option<Instant>,
    decoding_since: Option<Instant>,
    encode_ms: f64,
    decode_ms: f64,
}

impl PhaseClock {
    fn new(start: Instant) -> PhaseClock {
        PhaseClock {
            start,
            first_encode: None,
            encoding_since: None,
            decoding_since: None,
            encode_ms: 0.0,
            decode_ms: 0.0,
        }
    }

    fn encoder_begins(&mut self, now: Instant) {
        if let Some(since) = self.decoding_since.take() {
            self.decode_ms += ms(now - since);
        }
        self.first_encode.get_or_insert(now);
        self.encoding_since = Some(now);
    }

    fn decoder_step(&mut self, now: impl FnOnce() -> Instant) {
        if let Some(since) = self.encoding_since.take() {
            let now = now();
            self.encode_ms += ms(now - since);
            self.decoding_since = Some(now);
        }
    }

    /// (mel_ms, encode_ms, decode_ms)
    fn finish(mut self, end: Instant) -> (f64, f64, f64) {
        if let Some(since) = self.encoding_since.take() {
            self.encode_ms += ms(end - since);
        }
        if let Some(since) = self.decoding_since.take() {
            self.decode_ms += ms(end - since);
        }
        let mel_ms = ms(self.first_encode.unwrap_or(end) - self.start);
        (mel_ms, self.encode_ms, self.decode_ms)
    }
}

unsafe extern "C" fn on_encoder_begin(
    _ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    user: *mut c_void,
) -> bool {
    // SAFETY: `user` is the PhaseClock set in `transcribe`, alive for the whole `full` call.
    if let Some(clock) = unsafe { user.cast::<PhaseClock>().as_mut() } {
        clock.encoder_begins(Instant::now());
    }
    true
}

unsafe extern "C" fn on_logits(
    _ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    _tokens: *const WhisperTokenData,
    _n_tokens: c_int,
    _logits: *mut f32,
    user: *mut c_void,
) {
    // SAFETY: as in `on_encoder_begin`.
    if let Some(clock) = unsafe { user.cast::<PhaseClock>().as_mut() } {
        clock.decoder_step(Instant::now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, no_speech_prob: f32, avg_logprob: f32) -> Segment {
        Segment {
            start_s: 0.0,
            end_s: 1.0,
            text: text.into(),
            no_speech_prob,
            avg_logprob,
        }
    }

    #[test]
    fn annotations_and_no_speech_are_dropped() {
        let o = DecodeOptions::default();
        for text in [
            " [BLANK_AUDIO]",
            "(wind blowing)",
            " [Music] (applause)",
            "*sigh*",
            " ...",
            "♪ ♪",
            "",
        ] {
            assert!(non_speech(&seg(text, 0.0, -0.1), &o).is_some(), "{text:?}");
        }
        assert!(non_speech(&seg(" Hello there.", 0.9, -1.5), &o).is_some());
        for text in [" Hello there.", " (quietly) hello", " 42", "[note] then words"] {
            assert!(non_speech(&seg(text, 0.9, -0.3), &o).is_none(), "{text:?}");
        }
    }

    #[test]
    fn segments_join_with_single_spaces() {
        let s = [seg(" Hello.", 0.0, 0.0), seg("  ", 0.0, 0.0), seg(" World. ", 0.0, 0.0)];
        assert_eq!(join_segments(&s), "Hello. World.");
    }

    #[test]
    fn phase_clock_splits_mel_encode_decode() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let mut c = PhaseClock::new(t0);
        c.encoder_begins(at(10));
        c.decoder_step(|| at(110));
        c.decoder_step(|| panic!("only the first step after an encode is timed"));
        c.encoder_begins(at(150));
        c.decoder_step(|| at(250));
        let (mel, enc, dec) = c.finish(at(300));
        assert_eq!((mel.round(), enc.round(), dec.round()), (10.0, 200.0, 90.0));
    }

    #[test]
    fn options_are_validated() {
        let mut o = DecodeOptions {
            threads: 0,
            ..DecodeOptions::default()
        };
        assert!(validate_options(&o).unwrap().threads >= 1);
        o.language = "xx-nope".into();
        assert!(validate_options(&o).unwrap_err().contains("unknown language"));
        o.language = "en".into();
        o.beam_size = 99;
        assert!(validate_options(&o).unwrap_err().contains("beam_size"));
    }
}
