//! The header of a whisper.cpp ggml model, checked before anything is allocated for it.
//!
//! whisper.cpp sizes its buffers from the numbers at the start of the file and trusts them: one
//! damaged field (`n_audio_layer` 1000000) made it reserve 12.9 GB and abort. So every path that
//! loads a Whisper model reads the file through [`read_header`] first: the engine before it
//! spawns the worker (and to estimate the memory need), and the worker itself before
//! whisper.cpp sees the file. The check reads the hyperparameters, the mel filters and the
//! vocabulary (about 600 KB for tiny.en, a few milliseconds), and checks that the weights the
//! dimensions describe can fit in the file.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

/// `ggml` as a little-endian u32 ("lmgg" on disk).
pub const MAGIC: u32 = 0x6767_6d6c;

/// Bytes of the magic and the eleven i32 hyperparameters.
pub const HPARAMS_BYTES: usize = 48;

/// The fewest bits a weight takes in any whisper.cpp model: below q2_K's 2.625.
const MIN_BITS_PER_WEIGHT: u64 = 2;

/// Longest vocabulary entry accepted (Whisper's longest token is a few dozen bytes).
const MAX_TOKEN_BYTES: u32 = 1 << 12;

/// The hyperparameters of a whisper.cpp ggml model, as its header states them, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperHeader {
    pub n_vocab: u32,
    pub n_audio_ctx: u32,
    pub n_audio_state: u32,
    pub n_audio_head: u32,
    pub n_audio_layer: u32,
    pub n_text_ctx: u32,
    pub n_text_state: u32,
    pub n_text_head: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
    /// The weight type (plus 1000 x the quantisation version); whisper.cpp checks it.
    pub ftype: i32,
    /// The file's size in bytes.
    pub file_bytes: u64,
}

/// Why a file is not a usable whisper.cpp model. The messages are the part after "the file is
/// not usable:" and name the field at fault; callers add the path.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("it is not a file")]
    NotAFile,
    /// Not a ggml file at all (another format, or too short to tell).
    #[error("{0}")]
    NotGgml(String),
    /// A ggml file whose header or vocabulary is damaged or cut short.
    #[error("{0}")]
    Corrupt(String),
}

impl HeaderError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HeaderError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads and checks the header of the whisper.cpp model at `path`.
pub fn read_header(path: &Path) -> Result<WhisperHeader, HeaderError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(HeaderError::NotAFile);
    }
    parse(&mut BufReader::with_capacity(64 * 1024, file), meta.len())
}

/// Checks a model read from `reader` (at its start), `file_bytes` long: the hyperparameters,
/// the weights they describe against the file's size, the mel filters and the vocabulary.
pub fn parse<R: Read + Seek>(reader: &mut R, file_bytes: u64) -> Result<WhisperHeader, HeaderError> {
    let mut head = [0u8; HPARAMS_BYTES];
    let got = read_up_to(reader, &mut head)?;
    let header = WhisperHeader::from_bytes(&head[..got], file_bytes)?;
    header.check_weights_fit()?;
    let mut left = file_bytes.saturating_sub(HPARAMS_BYTES as u64);

    // Mel filters: n_mel, n_fft, then n_mel * n_fft f32.
    let n_mel = read_i32(reader, "the mel filters")?;
    let n_fft = read_i32(reader, "the mel filters")?;
    left = left.saturating_sub(8);
    if !(1..=1 << 10).contains(&n_mel) || !(1..=1 << 16).contains(&n_fft) {
        return Err(corrupt(format!(
            "its mel filters are {n_mel} x {n_fft} (1 to 1024 by 1 to 65536 in a Whisper model)"
        )));
    }
    let filters = n_mel as u64 * n_fft as u64 * 4;
    if filters > left {
        return Err(truncated("the mel filters", filters, left));
    }
    reader.seek_relative(filters as i64)?;
    left -= filters;

    // Vocabulary: a count, then each token's byte length and bytes.
    let n_vocab = read_i32(reader, "the vocabulary")?;
    left = left.saturating_sub(4);
    if !(0..=1 << 20).contains(&n_vocab) {
        return Err(corrupt(format!(
            "its vocabulary has {n_vocab} tokens (0 to 1048576 in a Whisper model)"
        )));
    }
    for i in 0..n_vocab {
        let len = read_i32(reader, "the vocabulary")? as u32;
        left = left.saturating_sub(4);
        if len > MAX_TOKEN_BYTES {
            return Err(corrupt(format!(
                "token {i} of its vocabulary is {len} bytes long (at most {MAX_TOKEN_BYTES})"
            )));
        }
        if u64::from(len) > left {
            return Err(truncated("the vocabulary", u64::from(len), left));
        }
        reader.seek_relative(i64::from(len))?;
        left -= u64::from(len);
    }
    Ok(header)
}

impl WhisperHeader {
    /// The magic and the hyperparameters, each within bounds no real Whisper comes near, so a
    /// damaged header is an error rather than an absurd allocation.
    fn from_bytes(head: &[u8], file_bytes: u64) -> Result<WhisperHeader, HeaderError> {
        if head.len() < 4 {
            return Err(HeaderError::NotGgml(format!("it is only {} bytes long", head.len())));
        }
        let word = |i: usize| i32::from_le_bytes([head[4 * i], head[4 * i + 1], head[4 * i + 2], head[4 * i + 3]]);
        if word(0) as u32 != MAGIC {
            return Err(HeaderError::NotGgml(
                "it does not start with the ggml magic (a GGUF or CTranslate2 file? convert it first, or \
                 fetch a ggml-*.bin model)"
                    .into(),
            ));
        }
        if head.len() < HPARAMS_BYTES {
            return Err(corrupt(format!(
                "the header is truncated ({} of {HPARAMS_BYTES} bytes)",
                head.len()
            )));
        }
        let field = |i: usize, name: &str, max: i32| -> Result<u32, HeaderError> {
            let v = word(i);
            if v <= 0 || v > max {
                return Err(corrupt(format!("its {name} is {v} (1 to {max} in a Whisper model)")));
            }
            Ok(v as u32)
        };
        let h = WhisperHeader {
            n_vocab: field(1, "n_vocab", 1 << 20)?,
            n_audio_ctx: field(2, "n_audio_ctx", 1 << 16)?,
            n_audio_state: field(3, "n_audio_state", 1 << 16)?,
            n_audio_head: field(4, "n_audio_head", 1 << 10)?,
            n_audio_layer: field(5, "n_audio_layer", 1 << 10)?,
            n_text_ctx: field(6, "n_text_ctx", 1 << 16)?,
            n_text_state: field(7, "n_text_state", 1 << 16)?,
            n_text_head: field(8, "n_text_head", 1 << 10)?,
            n_text_layer: field(9, "n_text_layer", 1 << 10)?,
            n_mels: field(10, "n_mels", 1 << 10)?,
            ftype: word(11),
            file_bytes,
        };
        // whisper.cpp asserts these (or trips over them in ggml) rather than reporting them.
        if h.n_text_state != h.n_audio_state {
            return Err(corrupt(format!(
                "its n_text_state ({}) differs from its n_audio_state ({})",
                h.n_text_state, h.n_audio_state
            )));
        }
        for (state, head, name) in [
            (h.n_audio_state, h.n_audio_head, "n_audio_head"),
            (h.n_text_state, h.n_text_head, "n_text_head"),
        ] {
            if state % head != 0 {
                return Err(corrupt(format!("its {name} ({head}) does not divide its state width ({state})")));
            }
        }
        Ok(h)
    }

    /// The fewest bytes the weight matrices take at [`MIN_BITS_PER_WEIGHT`]: 12 n² per encoder
    /// layer (attention 4 n², MLP 8 n²), 16 n² per decoder layer (self and cross attention, MLP)
    /// and the token embedding. tiny.en: 9 MB of its 78 MB.
    pub fn min_weight_bytes(&self) -> u64 {
        let (a, t) = (u64::from(self.n_audio_state), u64::from(self.n_text_state));
        let weights = u64::from(self.n_audio_layer) * 12 * a * a
            + u64::from(self.n_text_layer) * 16 * t * t
            + u64::from(self.n_vocab) * t;
        weights * MIN_BITS_PER_WEIGHT / 8
    }

    /// A header whose dimensions describe more weights than the file holds is damaged (or the
    /// file was cut short): whisper.cpp would reserve memory for all of them before noticing.
    fn check_weights_fit(&self) -> Result<(), HeaderError> {
        let need = self.min_weight_bytes();
        if need > self.file_bytes {
            return Err(corrupt(format!(
                "its dimensions (n_audio_layer {}, n_text_layer {}, n_audio_state {}, n_vocab {}) describe at \
                 least {} of weights but the file is {}: a damaged header or a truncated file",
                self.n_audio_layer,
                self.n_text_layer,
                self.n_audio_state,
                self.n_vocab,
                megabytes(need),
                megabytes(self.file_bytes)
            )));
        }
        Ok(())
    }
}

fn corrupt(detail: String) -> HeaderError {
    HeaderError::Corrupt(detail)
}

fn truncated(what: &str, need: u64, left: u64) -> HeaderError {
    corrupt(format!(
        "it is truncated: {what} need {need} more bytes but only {left} are left"
    ))
}

/// "77.7 MB", "1.0 MB", "512 bytes".
fn megabytes(bytes: u64) -> String {
    if bytes < 100_000 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

fn read_i32<R: Read>(reader: &mut R, what: &str) -> Result<i32, HeaderError> {
    let mut b = [0u8; 4];
    match reader.read_exact(&mut b) {
        Ok(()) => Ok(i32::from_le_bytes(b)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(corrupt(format!("it is truncated: it ends inside {what}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// tiny.en's hyperparameters.
    const TINY: [i32; 11] = [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1];
    /// A small model shape, so a whole synthetic file stays small.
    const SMALL: [i32; 11] = [100, 64, 32, 2, 1, 32, 32, 2, 1, 80, 1];

    fn hparams(h: [i32; 11]) -> Vec<u8> {
        let mut b = MAGIC.to_le_bytes().to_vec();
        for v in h {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// A whole file: header, 80 x 201 mel filters, `tokens` vocabulary entries, then weights.
    fn model(h: [i32; 11], tokens: &[&[u8]], weight_bytes: usize) -> Vec<u8> {
        let mut b = hparams(h);
        b.extend_from_slice(&80i32.to_le_bytes());
        b.extend_from_slice(&201i32.to_le_bytes());
        b.resize(b.len() + 80 * 201 * 4, 0);
        b.extend_from_slice(&(tokens.len() as i32).to_le_bytes());
        for t in tokens {
            b.extend_from_slice(&(t.len() as u32).to_le_bytes());
            b.extend_from_slice(t);
        }
        b.resize(b.len() + weight_bytes, 0);
        b
    }

    fn check(bytes: &[u8]) -> Result<WhisperHeader, HeaderError> {
        parse(&mut Cursor::new(bytes), bytes.len() as u64)
    }

    fn message(bytes: &[u8]) -> String {
        check(bytes).unwrap_err().to_string()
    }

    #[test]
    fn a_whole_model_passes() {
        let h = check(&model(SMALL, &[b"a", b"", b"hello"], 10_000)).unwrap();
        assert_eq!((h.n_vocab, h.n_audio_layer, h.n_mels, h.ftype), (100, 1, 80, 1));
    }

    #[test]
    fn foreign_and_short_files_are_not_ggml() {
        assert!(matches!(check(b"GGUF\x03\0\0\0"), Err(HeaderError::NotGgml(m)) if m.contains("ggml magic")));
        assert!(matches!(check(b"lm"), Err(HeaderError::NotGgml(m)) if m.contains("2 bytes")));
        assert!(message(&hparams(TINY)[..20]).contains("truncated (20 of 48 bytes)"));
    }

    #[test]
    fn each_out_of_range_field_is_named() {
        // The case: int32 1000000 at offset 20.
        let mut bytes = model(TINY, &[], 0);
        bytes[20..24].copy_from_slice(&1_000_000i32.to_le_bytes());
        assert_eq!(
            message(&bytes),
            "its n_audio_layer is 1000000 (1 to 1024 in a Whisper model)"
        );
        let mut bad = TINY;
        bad[2] = -5;
        assert!(message(&hparams(bad)).contains("n_audio_state is -5"));
        bad[2] = i32::MAX;
        assert!(message(&hparams(bad)).contains("n_audio_state is 2147483647"));
        let mut odd = TINY;
        odd[6] = 512;
        assert!(message(&hparams(odd)).contains("n_text_state (512) differs"));
        let mut heads = TINY;
        heads[3] = 5;
        assert!(message(&hparams(heads)).contains("n_audio_head (5) does not divide"));
    }

    #[test]
    fn dimensions_larger_than_the_file_are_refused() {
        // Within every field's bound, but 1000 layers cannot fit in a 78 MB file.
        let mut big = TINY;
        big[4] = 1000;
        let err = parse(&mut Cursor::new(hparams(big)), 77_704_715).unwrap_err();
        let m = err.to_string();
        assert!(matches!(err, HeaderError::Corrupt(_)));
        assert!(m.contains("n_audio_layer 1000") && m.contains("77.7 MB"), "{m}");
        // tiny.en's real shape fits its real size with room to spare.
        let tiny = WhisperHeader::from_bytes(&hparams(TINY), 77_704_715).unwrap();
        assert!(tiny.min_weight_bytes() < 77_704_715 / 4, "{}", tiny.min_weight_bytes());
        assert!(tiny.check_weights_fit().is_ok());
    }

    #[test]
    fn damaged_filters_and_vocabulary_are_refused() {
        let good = model(SMALL, &[b"ab"], 10_000);
        let filters_at = HPARAMS_BYTES;
        let mut bad = good.clone();
        bad[filters_at..filters_at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(message(&bad).contains("mel filters are 2147483647 x 201"));
        let mut bad = good.clone();
        bad[filters_at + 4..filters_at + 8].copy_from_slice(&60_000i32.to_le_bytes());
        assert!(message(&bad).contains("the mel filters need"));

        let vocab_at = filters_at + 8 + 80 * 201 * 4;
        let mut bad = good.clone();
        bad[vocab_at..vocab_at + 4].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(message(&bad).contains("vocabulary has -1 tokens"));
        let mut bad = good.clone();
        bad[vocab_at + 4..vocab_at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(message(&bad).contains("token 0 of its vocabulary is 4294967295 bytes"));
        let mut bad = good.clone();
        bad[vocab_at..vocab_at + 4].copy_from_slice(&1_000_000i32.to_le_bytes());
        assert!(message(&bad).contains("truncated"));
        assert!(message(&good[..vocab_at + 2]).contains("ends inside the vocabulary"));
    }
}
