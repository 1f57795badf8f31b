//! The Whisper model: loading a ggml file and transcribing one request with bounded decoding.

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::time::Instant;

use voxdeck_stt::ggml::HeaderError;
use voxdeck_stt::{
    DecodeOptions, ErrorKind, Loaded, ModelInfo, PROTOCOL_VERSION, SAMPLE_RATE, Segment, TranscribeRequest,
    TranscriptResponse, WorkerTimings,
};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use crate::lifeline::{abandoned, abort_if_abandoned};
use crate::logging::{LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, log, take_whisper_gpu, take_whisper_messages};
use crate::segments::{join_segments, non_speech};
use crate::timings::{PhaseClock, ms, on_encoder_begin, on_logits};

/// A loaded Whisper model and its decoding state.
pub(crate) struct Model {
    // `state` keeps its own reference to the context; the context is kept for token ids.
    ctx: WhisperContext,
    state: WhisperState,
    pub(crate) info: ModelInfo,
    options: DecodeOptions,
}

impl Model {
    pub(crate) fn load(model: &str, options: DecodeOptions) -> Result<(Model, Loaded), String> {
        let started = Instant::now();
        let path = Path::new(model);
        // The engine checked the file already; this is the last line of defence for any other
        // caller (and for a file replaced since): whisper.cpp trusts the header's sizes.
        let header = voxdeck_stt::ggml::read_header(path).map_err(|e| match e {
            HeaderError::NotGgml(why) => format!(
                "{} is not a whisper.cpp ggml model ({why}); convert it or fetch a ggml-*.bin model",
                path.display()
            ),
            HeaderError::Corrupt(why) => format!("Whisper model {} is corrupt: {why}", path.display()),
            other => format!("Whisper model {}: {other}", path.display()),
        })?;

        let mut params = WhisperContextParameters::default();
        params.use_gpu(options.gpu).flash_attn(options.flash_attn);
        take_whisper_messages();
        take_whisper_gpu();
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
            file_bytes: header.file_bytes,
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
            gpu_device: take_whisper_gpu(),
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

    /// One request's transcript, or the kind of error and why (the caller answers with it).
    pub(crate) fn transcribe(
        &mut self,
        header: &TranscribeRequest,
        pcm: &[f32],
    ) -> Result<TranscriptResponse, (ErrorKind, String)> {
        let started = Instant::now();
        if header.sample_rate != SAMPLE_RATE {
            return Err((
                ErrorKind::BadRequest,
                format!("audio must be {SAMPLE_RATE} Hz mono, got {} Hz", header.sample_rate),
            ));
        }
        if let Some(i) = pcm.iter().position(|s| !s.is_finite()) {
            return Err((ErrorKind::BadRequest, format!("sample {i} is not a finite number")));
        }
        let audio_s = pcm.len() as f64 / f64::from(SAMPLE_RATE);
        let empty = |timings| {
            Ok(TranscriptResponse {
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
        // Fewer threads when the engine asks (other work holds cores), never more than loaded.
        let threads = if header.threads > 0 { header.threads.min(o.threads) } else { o.threads };
        params.set_n_threads(threads as c_int);
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
            // Stops the decode once the engine hung up: its answer could not be delivered.
            params.set_abort_callback(Some(abort_if_abandoned));
        }
        take_whisper_messages();
        if let Err(e) = self.state.full(params, pcm) {
            if abandoned() {
                return Err((ErrorKind::Transcribe, "abandoned: the engine closed the worker's input".into()));
            }
            let detail = take_whisper_messages().join("; ");
            return Err((ErrorKind::Transcribe, format!("whisper.cpp failed: {e} {detail}").trim().to_owned()));
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
        Ok(TranscriptResponse {
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

/// The options with defaults filled in (threads, language, token cap), or why they are unusable.
pub(crate) fn validate_options(options: &DecodeOptions) -> Result<DecodeOptions, String> {
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

#[cfg(test)]
mod tests {
    use super::*;


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
