//! The short name a person reads for a model ("SmolLM2 135M", "Qwen 2.5 7B"): one rule for the
//! mode buttons, the turn labels and anything else that names a model.

use std::path::Path;
use std::sync::OnceLock;

use super::catalog::Catalog;

/// The short name of a model given by catalog id, file path or cloud model id
/// ("qwen/qwen-2.5-7b-instruct"). Prefers the catalog's name (matched by id or by file name),
/// then a GGUF file's `general.name`, then the id or file name itself; quantization, "Instruct"
/// and anything after the parameter count are dropped.
pub fn short_name(id_or_path: &str) -> String {
    let trimmed = id_or_path.trim();
    if let Some(name) = catalog_name(trimmed) {
        return shorten(&name);
    }
    let path = Path::new(trimmed);
    if is_gguf(path) && path.is_file() {
        if let Ok(info) = crate::gguf::inspect(path) {
            if let Some(name) = info.name().filter(|n| !n.trim().is_empty()) {
                let short = shorten(name);
                if !short.is_empty() {
                    return short;
                }
            }
        }
    }
    let short = shorten(&bare_id(trimmed));
    if short.is_empty() { trimmed.to_owned() } else { short }
}

/// The catalog name of the entry with this id, or whose main file has this file name.
fn catalog_name(id_or_path: &str) -> Option<String> {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(Catalog::builtin);
    let file = Path::new(id_or_path).file_name().and_then(|f| f.to_str()).unwrap_or(id_or_path);
    catalog
        .entries
        .iter()
        .find(|e| e.id == id_or_path || e.files.first().is_some_and(|f| f.name.eq_ignore_ascii_case(file)))
        .map(|e| e.name.clone())
}

fn is_gguf(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// The model part of an id or path: after the last `/`, without a `:free`-style tag or a model
/// file extension.
fn bare_id(id_or_path: &str) -> String {
    let last = id_or_path.rsplit(['/', '\\']).next().unwrap_or(id_or_path);
    let last = last.split(':').next().unwrap_or(last);
    let lower = last.to_ascii_lowercase();
    for ext in [".gguf", ".bin", ".onnx"] {
        if lower.ends_with(ext) {
            return last[..last.len() - ext.len()].to_owned();
        }
    }
    last.to_owned()
}

/// Words that say how a model was tuned or packed, not which model it is.
const DROPPED: &[&str] = &["instruct", "it", "chat", "gguf", "ggml", "hf", "voice"];

/// Family names written with their own capitals.
const SPELLED: &[(&str, &str)] = &[
    ("smollm", "SmolLM"),
    ("smollm2", "SmolLM2"),
    ("smollm3", "SmolLM3"),
    ("gpt", "GPT"),
    ("deepseek", "DeepSeek"),
    ("tinyllama", "TinyLlama"),
    ("openai", "OpenAI"),
];

/// Families whose version follows the name with a space ("qwen2.5" is "Qwen 2.5").
const SPACED: &[&str] = &["qwen", "llama", "gemma", "phi", "mistral", "claude"];

/// Drops quantization, tuning words and whatever follows the parameter count; fixes the case.
fn shorten(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for raw in name.split(|c: char| c.is_whitespace() || c == '-') {
        if raw.starts_with('(') || raw.ends_with(')') {
            continue;
        }
        // "Instruct.Q4_1": split at dots only when a part is noise, so "3.2" and "base.en" stay.
        let parts: Vec<&str> = raw.split('.').collect();
        let pieces = if parts.len() > 1 && parts.iter().any(|p| is_noise(p)) { parts } else { vec![raw] };
        for piece in pieces {
            if piece.is_empty() || is_noise(piece) {
                continue;
            }
            let is_size = is_param_count(piece);
            words.push(if is_size { piece.to_ascii_uppercase() } else { spell(piece) });
            if is_size {
                return words.join(" ");
            }
        }
    }
    words.join(" ")
}

fn is_noise(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    DROPPED.contains(&lower.as_str()) || is_quant(&lower)
}

/// "q4_k_m", "q4_1", "iq3_xs", "f16", "bf16", "fp16", "k", "m" (a split quant's tail).
fn is_quant(lower: &str) -> bool {
    let digit_after = |prefix: &str| {
        lower.strip_prefix(prefix).is_some_and(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    digit_after("q") || digit_after("iq") || matches!(lower, "f16" | "f32" | "bf16" | "fp16" | "fp8")
}

/// "135M", "3b", "0.5B", "8x7b": a parameter count, the last word of a short name.
fn is_param_count(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let Some(number) = lower.strip_suffix('b').or_else(|| lower.strip_suffix('m')) else {
        return false;
    };
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
        && number.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// A family word with its usual capitals: "smollm2" is "SmolLM2", "qwen2.5" is "Qwen 2.5".
fn spell(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if let Some((_, spelled)) = SPELLED.iter().find(|(w, _)| *w == lower) {
        return (*spelled).to_owned();
    }
    for family in SPACED {
        if let Some(version) = lower.strip_prefix(family) {
            if version.contains('.') && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return format!("{} {version}", capitalize(family));
            }
        }
    }
    if word.chars().all(|c| !c.is_ascii_uppercase()) { capitalize(word) } else { word.to_owned() }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_ids_and_files_give_the_catalog_name_shortened() {
        assert_eq!(short_name("smollm2-135m-instruct-q4_1"), "SmolLM2 135M");
        assert_eq!(short_name("gemma-3-270m-q4_k_m"), "Gemma 3 270M");
        assert_eq!(short_name("llama-3.2-3b-instruct-q4_k_m"), "Llama 3.2 3B");
        assert_eq!(short_name("/models/Qwen2.5-7B-Instruct-Q3_K_M.gguf"), "Qwen 2.5 7B");
        assert_eq!(short_name("/any/dir/SmolLM2-135M-Instruct.Q4_1.gguf"), "SmolLM2 135M");
    }

    #[test]
    fn cloud_ids_are_shortened_from_the_id() {
        assert_eq!(short_name("qwen/qwen-2.5-7b-instruct"), "Qwen 2.5 7B");
        assert_eq!(short_name("meta-llama/llama-3.1-8b-instruct:free"), "Llama 3.1 8B");
        assert_eq!(short_name("qwen/qwen3-32b"), "Qwen3 32B");
        assert_eq!(short_name("openai/gpt-4o-mini"), "GPT 4o Mini");
        assert_eq!(short_name("test-model"), "Test Model");
    }

    #[test]
    fn unknown_files_fall_back_to_the_file_name() {
        assert_eq!(short_name("/nowhere/mistral-7b-instruct-v0.2.Q4_K_M.gguf"), "Mistral 7B");
        assert_eq!(short_name("/nowhere/qwen2.5-0.5b-instruct-q8_0.gguf"), "Qwen 2.5 0.5B");
        assert_eq!(short_name(""), "");
    }

    #[cfg(unix)]
    #[test]
    fn a_gguf_outside_the_catalog_is_named_by_its_general_name() {
        let Ok(dir) = std::env::var("VOXDECK_MODELS") else { return };
        let source = Path::new(&dir).join("gemma-3-270m-q4_k_m.gguf");
        if !source.is_file() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let renamed = tmp.path().join("renamed-model.gguf");
        // A link keeps the test set read-only; the name no longer matches the catalog.
        std::os::unix::fs::symlink(&source, &renamed).unwrap();
        assert_eq!(short_name(renamed.to_str().unwrap()), "Gemma 3 270M");
    }
}
