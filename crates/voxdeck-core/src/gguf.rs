//! Reading GGUF headers: validation before llama.cpp sees a file, and metadata for reports.
//!
//! llama.cpp answers a bad file with a null pointer and a log line; reading the header ourselves
//! turns "not a GGUF", "truncated" and "corrupt" into errors that name the file and the problem.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Problems with a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `reason` is ours, never the file's bytes: the path may name any file (a config's
    /// `llm.model = "/etc/passwd"`), and its content has no place in a message.
    #[error("{path} is not a GGUF model file ({reason})")]
    NotGguf { path: PathBuf, reason: &'static str },
    #[error("{path} uses GGUF version {version}; versions 2 and 3 are supported")]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error("{path} is truncated: {detail} (the file is {file_size} bytes); download it again")]
    Truncated {
        path: PathBuf,
        detail: String,
        file_size: u64,
    },
    #[error("{path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
}

/// A metadata value; arrays are kept only as their length (the vocabulary is not needed here).
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array { len: u64 },
}

/// What the header says about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufInfo {
    pub version: u32,
    pub tensor_count: u64,
    pub metadata: BTreeMap<String, GgufValue>,
    /// Bytes of tensor data the header describes (from the data section's start).
    pub tensor_data_bytes: u64,
    pub file_size: u64,
}

impl GgufInfo {
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key) {
            Some(GgufValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        match self.metadata.get(key) {
            Some(GgufValue::Uint(v)) => Some(*v),
            Some(GgufValue::Int(v)) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// `general.architecture`, e.g. "llama", "gemma3".
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// `general.name`, when the converter recorded one.
    pub fn name(&self) -> Option<&str> {
        self.get_str("general.name")
    }

    /// A per-architecture key, e.g. `arch_u64("block_count")` reads `llama.block_count`.
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        self.get_u64(&format!("{}.{suffix}", self.architecture()?))
    }
}

const MAGIC: &[u8; 4] = b"GGUF";
/// Bounds that no real model comes near; past them the header is garbage, not a big model.
const MAX_STRING: u64 = 64 << 20;
const MAX_COUNT: u64 = 1 << 32;

/// Reads and checks the header of `path`: magic, version, metadata, tensor table, and that the
/// file is long enough to hold every tensor it describes.
pub fn inspect(path: &Path) -> Result<GgufInfo, GgufError> {
    let io = |source| GgufError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let file_size = file.metadata().map_err(io)?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        path,
        file_size,
    };

    let mut magic = [0u8; 4];
    if file_size < 4 {
        return Err(GgufError::NotGguf {
            path: path.to_owned(),
            reason: "it is shorter than a GGUF header",
        });
    }
    r.bytes(&mut magic, "magic")?;
    if &magic != MAGIC {
        return Err(GgufError::NotGguf {
            path: path.to_owned(),
            reason: "it does not start with the GGUF signature",
        });
    }
    let version = r.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion {
            path: path.to_owned(),
            version,
        });
    }
    let tensor_count = r.count("tensor count")?;
    let kv_count = r.count("metadata count")?;

    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string("metadata key")?;
        let ty = r.u32("metadata type")?;
        let value = r.value(ty, &label(&key))?;
        metadata.insert(key, value);
    }

    let mut data_end = 0u64;
    for _ in 0..tensor_count {
        let name = label(&r.string("tensor name")?);
        let n_dims = r.u32("tensor dimensions")?;
        if n_dims == 0 || n_dims > 8 {
            return Err(r.corrupt(format!("tensor {name} has {n_dims} dimensions")));
        }
        let mut elements: u64 = 1;
        for _ in 0..n_dims {
            let dim = r.u64("tensor shape")?;
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| r.corrupt(format!("the shape of tensor {name} overflows")))?;
        }
        let ggml_type = r.u32("tensor type")?;
        let offset = r.u64("tensor offset")?;
        let bytes = tensor_bytes(ggml_type, elements).unwrap_or(0);
        data_end = data_end.max(offset.saturating_add(bytes));
    }

    let alignment = match metadata.get("general.alignment") {
        Some(GgufValue::Uint(a)) if *a > 0 && a.is_power_of_two() => *a,
        _ => 32,
    };
    let data_start = r.pos.div_ceil(alignment) * alignment;
    let needed = data_start.saturating_add(data_end);
    if needed > file_size {
        return Err(GgufError::Truncated {
            path: path.to_owned(),
            detail: format!("its tensors need {needed} bytes"),
            file_size,
        });
    }
    Ok(GgufInfo {
        version,
        tensor_count,
        metadata,
        tensor_data_bytes: data_end,
        file_size,
    })
}

/// Bytes of a tensor of `elements` elements of ggml type `ty`, for the types whose block layout
/// is fixed; `None` for a type this table does not know (its size is then not checked).
fn tensor_bytes(ty: u32, elements: u64) -> Option<u64> {
    // (block size in elements, bytes per block), from ggml's type traits.
    let (block, bytes) = match ty {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        _ => return None,
    };
    Some(elements.div_ceil(block) * bytes)
}

/// A key or tensor name as a message may show it: a real one (short printable ASCII, such as
/// `general.architecture`) in backticks; anything else is described, never echoed, since a
/// damaged or foreign file can put any bytes there.
fn label(name: &str) -> String {
    const LONGEST: usize = 96;
    if !name.is_empty() && name.len() <= LONGEST && name.bytes().all(|b| b.is_ascii_graphic()) {
        format!("`{name}`")
    } else {
        format!("an unreadable name ({} bytes)", name.len())
    }
}

struct Reader<'a> {
    inner: BufReader<File>,
    pos: u64,
    path: &'a Path,
    file_size: u64,
}

impl Reader<'_> {
    fn corrupt(&self, detail: String) -> GgufError {
        GgufError::Corrupt {
            path: self.path.to_owned(),
            detail,
        }
    }

    fn bytes(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!("the header ends inside the {what} at byte {}", self.pos),
                file_size: self.file_size,
            }),
            Err(source) => Err(GgufError::Io {
                path: self.path.to_owned(),
                source,
            }),
        }
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        if self.pos.saturating_add(n) > self.file_size {
            return Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!("the header ends inside the {what} at byte {}", self.pos),
                file_size: self.file_size,
            });
        }
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(|source| {
            GgufError::Io {
                path: self.path.to_owned(),
                source,
            }
        })?;
        self.pos += copied;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.bytes(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn count(&mut self, what: &str) -> Result<u64, GgufError> {
        let n = self.u64(what)?;
        if n > MAX_COUNT {
            return Err(self.corrupt(format!("{what} is {n}")));
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        if len > MAX_STRING {
            return Err(self.corrupt(format!("{what} claims {len} bytes")));
        }
        if self.pos.saturating_add(len) > self.file_size {
            return Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!("the header ends inside the {what} at byte {}", self.pos),
                file_size: self.file_size,
            });
        }
        let mut buf = vec![0u8; len as usize];
        self.bytes(&mut buf, what)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Size in bytes of a fixed-size scalar type, `None` for strings and arrays.
    fn scalar_size(ty: u32) -> Option<u64> {
        match ty {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        }
    }

    /// Reads a value of type `ty`; `key` is its key's [`label`], for messages.
    fn value(&mut self, ty: u32, key: &str) -> Result<GgufValue, GgufError> {
        Ok(match ty {
            0 => GgufValue::Uint(u64::from(self.array::<1>(key)?[0])),
            1 => GgufValue::Int(i64::from(i8::from_le_bytes(self.array(key)?))),
            2 => GgufValue::Uint(u64::from(u16::from_le_bytes(self.array(key)?))),
            3 => GgufValue::Int(i64::from(i16::from_le_bytes(self.array(key)?))),
            4 => GgufValue::Uint(u64::from(self.u32(key)?)),
            5 => GgufValue::Int(i64::from(i32::from_le_bytes(self.array(key)?))),
            6 => GgufValue::Float(f64::from(f32::from_le_bytes(self.array(key)?))),
            7 => GgufValue::Bool(self.array::<1>(key)?[0] != 0),
            8 => GgufValue::Str(self.string(key)?),
            9 => {
                let item_ty = self.u32(key)?;
                let len = self.count(key)?;
                match Self::scalar_size(item_ty) {
                    Some(size) => self.skip(len.saturating_mul(size), key)?,
                    None if item_ty == 8 => {
                        for _ in 0..len {
                            let n = self.u64(key)?;
                            if n > MAX_STRING {
                                return Err(self.corrupt(format!("a string in {key} claims {n} bytes")));
                            }
                            self.skip(n, key)?;
                        }
                    }
                    None => return Err(self.corrupt(format!("{key} is an array of unsupported type {item_ty}"))),
                }
                GgufValue::Array { len }
            }
            10 => GgufValue::Uint(self.u64(key)?),
            11 => GgufValue::Int(i64::from_le_bytes(self.array(key)?)),
            12 => GgufValue::Float(f64::from_le_bytes(self.array(key)?)),
            other => return Err(self.corrupt(format!("{key} has unknown value type {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal, valid GGUF v3 file: two metadata keys and one F32 tensor of 8 elements.
    fn tiny_gguf() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // tensors
        b.extend_from_slice(&2u64.to_le_bytes()); // kv
        let string = |b: &mut Vec<u8>, s: &str| {
            b.extend_from_slice(&(s.len() as u64).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        string(&mut b, "general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes());
        string(&mut b, "llama");
        string(&mut b, "llama.block_count");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        string(&mut b, "w");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&8u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // F32
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&[0u8; 32]);
        b
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_a_valid_header() {
        let f = write(&tiny_gguf());
        let info = inspect(f.path()).unwrap();
        assert_eq!(info.architecture(), Some("llama"));
        assert_eq!(info.arch_u64("block_count"), Some(2));
        assert_eq!(info.tensor_data_bytes, 32);
    }

    #[test]
    fn not_gguf_names_the_file() {
        let f = write(b"<html>not a model</html>");
        let err = inspect(f.path()).unwrap_err();
        assert!(matches!(err, GgufError::NotGguf { .. }), "{err}");
        assert!(err.to_string().contains(&f.path().display().to_string()));
        assert!(matches!(inspect(write(b"GG").path()), Err(GgufError::NotGguf { .. })));
    }

    #[test]
    fn a_foreign_file_is_named_but_never_quoted() {
        let secret = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin";
        for content in [secret.as_bytes(), b"roo", b"\x7fELF\x02\x01\x01"] {
            let f = write(content);
            let text = inspect(f.path()).unwrap_err().to_string();
            let path = f.path().display().to_string();
            assert!(text.contains(&format!("{path} is not a GGUF model file")), "{text}");
            // What the message adds to the path: nothing from the file.
            let rest = text.replace(&path, "");
            for quoted in ["root", "roo", "ELF", "\\u{7f}", "\\x7f"] {
                assert!(!rest.contains(quoted), "{quoted:?} echoed: {text}");
            }
        }
    }

    #[test]
    fn names_from_a_damaged_header_are_not_echoed() {
        // The first key replaced by bytes of the same length (20) that are no name, with a
        // value type that does not exist.
        let mut b = tiny_gguf();
        b[32..52].copy_from_slice(b"secret\npassword=hunt");
        b[52..56].copy_from_slice(&99u32.to_le_bytes());
        let text = inspect(write(&b).path()).unwrap_err().to_string();
        assert!(text.contains("an unreadable name (20 bytes) has unknown value type 99"), "{text}");
        assert!(!text.contains("secret") && !text.contains("password"), "{text}");
        // A real key is still named.
        let mut b = tiny_gguf();
        b[52..56].copy_from_slice(&99u32.to_le_bytes());
        let text = inspect(write(&b).path()).unwrap_err().to_string();
        assert!(text.contains("`general.architecture` has unknown value type 99"), "{text}");
    }

    #[test]
    fn truncation_is_detected_in_header_and_in_data() {
        let full = tiny_gguf();
        for cut in [10, 40, full.len() - 40, full.len() - 1] {
            let f = write(&full[..cut]);
            let err = inspect(f.path()).unwrap_err();
            assert!(matches!(err, GgufError::Truncated { .. }), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn absurd_lengths_are_corrupt_not_allocations() {
        let mut b = tiny_gguf();
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes()); // first key's length
        let err = inspect(write(&b).path()).unwrap_err();
        assert!(matches!(err, GgufError::Corrupt { .. }), "{err}");
    }
}
