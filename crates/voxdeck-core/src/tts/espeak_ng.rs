//! The few libespeak-ng functions voxdeck uses, behind one process-wide lock.
//!
//! libespeak-ng keeps all its state in globals (the selected voice, the speech parameters, the
//! synthesis callback, the text decoder) and is not thread-safe, so every call goes through
//! [`lock`], which also initialises the library once.
//!
//! **espeak-ng-data: the system's.** voxdeck uses the data the system's libespeak-ng comes with
//! (Debian 12: `espeak-ng-data` 1.51, `/usr/lib/x86_64-linux-gnu/espeak-ng-data`): nothing more
//! to download, and always the version the library expects. Piper voices were trained on
//! phonemes from rhasspy's espeak-ng fork (1.52-dev), whose data ships inside PyPI's `piper-tts`,
//! so some words phonemize differently than in Python Piper: on 12 test sentences, 4 gave the
//! same phoneme ids as piper-tts 1.8 with Debian's data (`oːɹ` for `ɔːɹ` in "for", "before";
//! `hˈæzbiːn` for `hɐzbɪn`), 8 with piper-tts's data (the rest: 1.52's `ʲ` glide, which is in
//! the library, not the data). Where the ids agree the audio is bit-identical to Python Piper's.
//! `ESPEAK_DATA_PATH` (the directory that holds `espeak-ng-data`, as for the `espeak-ng` command)
//! switches data, e.g. to `.../site-packages/piper` of an installed `piper-tts`; Debian's 1.51
//! library loads that data. The Whisper round-trip tests (word error rate) judge whether the
//! system data is good enough.
//!
//! The library is linked dynamically (GPL-3.0): `libespeak-ng-dev` on Debian.

use std::ffi::{CStr, CString, c_char, c_int, c_short, c_uint, c_void};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::TtsError;

// speak_lib.h (espeak-ng 1.51), only what is used here.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const ESPEAK_INITIALIZE_DONT_EXIT: c_int = 0x8000;
const ESPEAK_CHARS_UTF8: c_int = 1;
const ESPEAK_ENDPAUSE: c_uint = 0x1000;
const ESPEAK_PHONEMES_IPA: c_int = 0x02;
const POS_CHARACTER: c_int = 1;
const ESPEAK_RATE: c_int = 1;
const EE_OK: c_int = 0;

/// `espeak_EVENT`. Only its size and layout matter: events are not read.
#[repr(C)]
struct EspeakEvent {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: usize,
}

/// `espeak_VOICE`, as `espeak_SetVoiceByProperties` reads it.
#[repr(C)]
struct EspeakVoice {
    name: *const c_char,
    languages: *const c_char,
    identifier: *const c_char,
    gender: u8,
    age: u8,
    variant: u8,
    xx1: u8,
    score: c_int,
    spare: *mut c_void,
}

type SynthCallback = unsafe extern "C" fn(wav: *mut c_short, numsamples: c_int, events: *mut EspeakEvent) -> c_int;

#[link(name = "espeak-ng")]
unsafe extern "C" {
    fn espeak_Initialize(output: c_int, buflength: c_int, path: *const c_char, options: c_int) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_SetVoiceByProperties(voice_spec: *mut EspeakVoice) -> c_int;
    fn espeak_SetParameter(parameter: c_int, value: c_int, relative: c_int) -> c_int;
    fn espeak_SetSynthCallback(callback: Option<SynthCallback>);
    fn espeak_Synth(
        text: *const c_void,
        size: usize,
        position: c_uint,
        position_type: c_int,
        end_position: c_uint,
        flags: c_uint,
        unique_identifier: *mut c_uint,
        user_data: *mut c_void,
    ) -> c_int;
    fn espeak_TextToPhonemes(textptr: *mut *const c_void, textmode: c_int, phonememode: c_int) -> *const c_char;
    fn espeak_Info(path_data: *mut *const c_char) -> *const c_char;
}

struct State {
    /// Output sample rate, once initialised.
    sample_rate: Option<u32>,
    /// The voice last selected, to skip reselecting it (which reloads its files).
    voice: Option<String>,
}

static ESPEAK: Mutex<State> = Mutex::new(State {
    sample_rate: None,
    voice: None,
});

/// Exclusive access to libespeak-ng, initialised.
pub(crate) struct Espeak {
    state: MutexGuard<'static, State>,
}

/// Takes the process-wide espeak-ng lock, initialising the library on first use.
pub(crate) fn lock() -> Result<Espeak, TtsError> {
    let mut state = ESPEAK.lock().unwrap_or_else(PoisonError::into_inner);
    if state.sample_rate.is_none() {
        // SAFETY: called with the lock held; a null path means the compiled-in data directory
        // (or ESPEAK_DATA_PATH), and DONT_EXIT makes a missing data directory an error return
        // instead of exit().
        let rate = unsafe {
            espeak_Initialize(
                AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                std::ptr::null(),
                ESPEAK_INITIALIZE_DONT_EXIT,
            )
        };
        if rate <= 0 {
            return Err(TtsError::Espeak {
                message: "libespeak-ng failed to initialise: its data (espeak-ng-data) was not found; install \
                          Debian's `espeak-ng-data` or set ESPEAK_DATA_PATH to the directory holding it"
                    .into(),
            });
        }
        // SAFETY: the callback only touches a thread-local buffer; see `synth_callback`.
        unsafe { espeak_SetSynthCallback(Some(synth_callback)) };
        state.sample_rate = Some(rate as u32);
        tracing::debug!("espeak-ng {} initialised at {rate} Hz", version_locked());
    }
    Ok(Espeak { state })
}

fn version_locked() -> String {
    // SAFETY: espeak_Info returns a pointer to a static string; a null argument is allowed.
    unsafe {
        let v = espeak_Info(std::ptr::null_mut());
        if v.is_null() {
            "?".to_owned()
        } else {
            CStr::from_ptr(v).to_string_lossy().into_owned()
        }
    }
}

/// One clause as `espeak_TextToPhonemes` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawClause {
    /// IPA phonemes, words separated by spaces (may hold `(lang)` switch flags).
    pub phonemes: String,
    /// Byte range of `text` that the call advanced over. Except for the last clause this ends
    /// one character into the next clause: espeak-ng reads one character ahead.
    pub consumed: std::ops::Range<usize>,
    /// The text pointer came back null: this was the last clause.
    pub last: bool,
}

impl Espeak {
    /// The rate espeak-ng synthesises at (22050 Hz).
    pub fn sample_rate(&self) -> u32 {
        self.state.sample_rate.unwrap_or(22050)
    }

    /// libespeak-ng's version, e.g. "1.51".
    pub fn version(&self) -> String {
        version_locked()
    }

    /// Selects an espeak-ng voice by name ("en-us"), else by language ("en-gb", whose voice is
    /// named "en" in espeak-ng 1.51), as the `espeak-ng -v` option does.
    pub fn set_voice(&mut self, name: &str) -> Result<(), TtsError> {
        if self.state.voice.as_deref() == Some(name) {
            return Ok(());
        }
        let unknown = || TtsError::EspeakVoice { voice: name.to_owned() };
        let c_name = CString::new(name).map_err(|_| unknown())?;
        // SAFETY: lock held, NUL-terminated string.
        let mut rc = unsafe { espeak_SetVoiceByName(c_name.as_ptr()) };
        if rc != EE_OK {
            let mut spec = EspeakVoice {
                name: std::ptr::null(),
                languages: c_name.as_ptr(),
                identifier: std::ptr::null(),
                gender: 0,
                age: 0,
                variant: 0,
                xx1: 0,
                score: 0,
                spare: std::ptr::null_mut(),
            };
            // SAFETY: lock held; the spec and its string outlive the call, which only reads them.
            rc = unsafe { espeak_SetVoiceByProperties(&mut spec) };
        }
        if rc != EE_OK {
            self.state.voice = None;
            return Err(unknown());
        }
        self.state.voice = Some(name.to_owned());
        Ok(())
    }

    /// Phonemizes `text` clause by clause with the selected voice.
    pub fn text_to_phonemes(&mut self, text: &str) -> Vec<RawClause> {
        // espeak-ng stops at a NUL; there is none in text that reaches here in practice, but a
        // stray one must not cut the text short.
        let c_text = CString::new(text.replace('\0', " ")).unwrap_or_default();
        let base = c_text.as_ptr();
        let len = c_text.as_bytes().len();
        let mut ptr: *const c_void = base.cast();
        let mut clauses = Vec::new();
        let mut start = 0usize;
        let mut stalled = 0;
        while !ptr.is_null() {
            // SAFETY: lock held; `ptr` points into `c_text` (NUL-terminated, alive for the loop),
            // which espeak-ng advances, or sets to null at the end of the text.
            let phonemes = unsafe { espeak_TextToPhonemes(&mut ptr, ESPEAK_CHARS_UTF8, ESPEAK_PHONEMES_IPA) };
            let phonemes = if phonemes.is_null() {
                String::new()
            } else {
                // SAFETY: a NUL-terminated string in espeak-ng's static buffer, copied at once.
                unsafe { CStr::from_ptr(phonemes) }.to_string_lossy().into_owned()
            };
            let last = ptr.is_null();
            let end = if last {
                len
            } else {
                // The pointer stays inside the buffer it was given.
                ((ptr as usize).saturating_sub(base as usize)).min(len)
            };
            // espeak-ng advances in whole UTF-8 characters, but be safe against a split one.
            let mut end_char = end.max(start);
            while end_char < len && !text.is_char_boundary(end_char) {
                end_char += 1;
            }
            clauses.push(RawClause {
                phonemes,
                consumed: start..end_char,
                last,
            });
            // Never loop forever should espeak-ng stop advancing.
            stalled = if end_char == start { stalled + 1 } else { 0 };
            if stalled > 8 {
                break;
            }
            start = end_char;
        }
        clauses
    }

    /// Synthesises `text` with the selected voice at `words_per_minute`; 16-bit samples at
    /// [`Self::sample_rate`]. A pause ends the audio, so consecutive calls concatenate well.
    pub fn synthesize(&mut self, text: &str, words_per_minute: u32) -> Result<Vec<i16>, TtsError> {
        let wpm = words_per_minute.clamp(80, 450) as c_int;
        // SAFETY: lock held.
        let rc = unsafe { espeak_SetParameter(ESPEAK_RATE, wpm, 0) };
        if rc != EE_OK {
            return Err(TtsError::Espeak {
                message: format!("espeak-ng rejected the rate {wpm} words per minute (error {rc})"),
            });
        }
        let c_text = CString::new(text.replace('\0', " ")).unwrap_or_default();
        SINK.with(|s| *s.borrow_mut() = Some(Vec::new()));
        // SAFETY: lock held; synchronous mode, so the callback runs on this thread before
        // espeak_Synth returns, and `c_text` outlives the call.
        let rc = unsafe {
            espeak_Synth(
                c_text.as_ptr().cast(),
                c_text.as_bytes_with_nul().len(),
                0,
                POS_CHARACTER,
                0,
                ESPEAK_CHARS_UTF8 as c_uint | ESPEAK_ENDPAUSE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let samples = SINK.with(|s| s.borrow_mut().take()).unwrap_or_default();
        if rc != EE_OK {
            return Err(TtsError::Espeak {
                message: format!("espeak-ng synthesis failed (error {rc})"),
            });
        }
        Ok(samples)
    }
}

thread_local! {
    /// Where the synthesis callback puts samples: set by `Espeak::synthesize` around its
    /// espeak_Synth call (which runs the callback on the calling thread).
    static SINK: std::cell::RefCell<Option<Vec<i16>>> = const { std::cell::RefCell::new(None) };
}

unsafe extern "C" fn synth_callback(wav: *mut c_short, numsamples: c_int, _events: *mut EspeakEvent) -> c_int {
    if wav.is_null() || numsamples <= 0 {
        return 0;
    }
    // SAFETY: espeak-ng passes `numsamples` valid samples at `wav` for the duration of the call.
    let samples = unsafe { std::slice::from_raw_parts(wav, numsamples as usize) };
    SINK.with(|s| {
        if let Some(buf) = s.borrow_mut().as_mut() {
            buf.extend_from_slice(samples);
        }
    });
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_layout_matches_speak_lib_h() {
        // 6 ints, a pointer and a union of {int, char*, char[8]} on LP64.
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::size_of::<EspeakEvent>(), 40);
        }
    }

    #[test]
    fn clauses_advance_through_the_text() {
        let mut espeak = lock().unwrap();
        espeak.set_voice("en-us").unwrap();
        let text = "Hello, world. How are you?";
        let clauses = espeak.text_to_phonemes(text);
        assert_eq!(clauses.len(), 3, "{clauses:?}");
        assert!(clauses[2].last);
        assert_eq!(clauses.last().unwrap().consumed.end, text.len());
        // One character of look-ahead: "Hello, w".
        assert_eq!(&text[clauses[0].consumed.clone()], "Hello, w");
        assert!(clauses[1].phonemes.contains("wˈɜːld"), "{clauses:?}");
    }

    #[test]
    fn voices_by_name_or_language() {
        let mut espeak = lock().unwrap();
        let err = espeak.set_voice("xx-nowhere").unwrap_err();
        assert!(err.to_string().contains("xx-nowhere"), "{err}");
        // "en-gb" is a language (its voice file is gmw/en), not a voice name, in espeak-ng 1.51.
        espeak.set_voice("en-gb").unwrap();
        espeak.set_voice("en").unwrap();
        espeak.set_voice("en-us").unwrap();
    }
}
