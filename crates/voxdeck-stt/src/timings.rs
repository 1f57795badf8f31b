//! Where the time of one transcription goes: mel, encoder and decoder, from whisper.cpp's
//! callbacks.

use std::ffi::{c_int, c_void};
use std::time::Instant;

use whisper_rs::{WhisperSysContext, WhisperSysState, WhisperTokenData};

/// Milliseconds, as the protocol's timings count them.
pub(crate) fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Splits one `whisper_full` call into mel, encoder and decoder time from its callbacks: the
/// encoder starts at `encoder_begin`, the decoder at the first logits filter after it.
pub(crate) struct PhaseClock {
    start: Instant,
    first_encode: Option<Instant>,
    encoding_since: Option<Instant>,
    decoding_since: Option<Instant>,
    encode_ms: f64,
    decode_ms: f64,
}

impl PhaseClock {
    pub(crate) fn new(start: Instant) -> PhaseClock {
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
    pub(crate) fn finish(mut self, end: Instant) -> (f64, f64, f64) {
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

/// whisper.cpp's encoder-begin callback: `user` is the [`PhaseClock`].
pub(crate) unsafe extern "C" fn on_encoder_begin(
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

/// whisper.cpp's logits-filter callback, called once per decoder step: `user` is the
/// [`PhaseClock`].
pub(crate) unsafe extern "C" fn on_logits(
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
}
