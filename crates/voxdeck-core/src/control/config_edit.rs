//! Saving settings into the user's own config file: only the keys that changed are set, in the
//! document as the user wrote it, so comments, order and formatting stay.
//!
//! A setting changed back to its default is written, not removed: the user's line (and its
//! comment) stays where it was with the value chosen in the panel, and the file keeps saying what
//! the panel shows even if a later version changes the default.

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::config::{CloudProvider, Config, Mode, TtsEngine};

/// The config file's text could not take the settings.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("it is not valid TOML ({0}); fix or remove it, then save again")]
    NotToml(String),
    #[error("its `{0}` is not a table, so `{0}.{1}` cannot be set in it")]
    NotATable(&'static str, &'static str),
    #[error("cannot write the setting `{0}.{1}`: {2}")]
    Value(&'static str, &'static str, String),
}

/// `text` (a config file, empty when there is none) with each settings key whose value differs
/// between `old` and `new` set to its value in `new`; everything else is left as written.
pub fn apply_changes(text: &str, old: &Config, new: &Config) -> Result<String, EditError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::NotToml(e.to_string()))?;
    macro_rules! set_changed {
        ($($section:ident . $key:ident),* $(,)?) => {$(
            if old.$section.$key != new.$section.$key {
                let value = new.$section.$key.to_toml().map_err(|e| {
                    EditError::Value(stringify!($section), stringify!($key), e)
                })?;
                set(&mut doc, stringify!($section), stringify!($key), value)?;
            }
        )*};
    }
    // The fields of `control::protocol::Settings`, as `settings::merged` applies them.
    set_changed!(
        llm.model,
        llm.max_tokens,
        router.mode,
        voice.natural_s,
        voice.acceptable_s,
        voice.unusable_s,
        cloud.provider,
        cloud.base_url,
        cloud.model,
        tts.engine,
        tts.voice,
        audio.input_device,
        audio.output_device,
        ui.global_shortcut,
    );
    // A base URL moved from the panel must not take the environment key along after a
    // restart either: the file keeps the URL the key was for (`llm::cloud::pin_env_key`).
    let moved = old.cloud.base_url != new.cloud.base_url || old.cloud.provider != new.cloud.provider;
    if moved && !new.cloud.key_url.is_empty() {
        set(&mut doc, "cloud", "key_url", new.cloud.key_url.to_toml().map_err(|e| EditError::Value("cloud", "key_url", e))?)?;
    }
    Ok(doc.to_string())
}

/// Sets `section.key` to `value` wherever the document keeps that section (a `[section]` table,
/// dotted keys or an inline table), adding a `[section]` table at the end when it has none. A
/// value already there keeps its place and its comment.
fn set(doc: &mut DocumentMut, section: &'static str, key: &'static str, mut value: Value) -> Result<(), EditError> {
    let table = doc
        .as_table_mut()
        .entry(section)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or(EditError::NotATable(section, key))?;
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        Some(item) => *item = Item::Value(value),
        None => {
            table.insert(key, Item::Value(value));
        }
    }
    Ok(())
}

/// A setting's value as TOML writes it.
trait ToToml {
    fn to_toml(&self) -> Result<Value, String>;
}

impl ToToml for String {
    fn to_toml(&self) -> Result<Value, String> {
        Ok(Value::from(self.as_str()))
    }
}

impl ToToml for u32 {
    fn to_toml(&self) -> Result<Value, String> {
        Ok(Value::from(i64::from(*self)))
    }
}

impl ToToml for f64 {
    fn to_toml(&self) -> Result<Value, String> {
        Ok(Value::from(*self))
    }
}

/// The shortest decimal that reads back as the same f32: `0.7`, not the f64 widening's
/// `0.699999988079071`.
impl ToToml for f32 {
    fn to_toml(&self) -> Result<Value, String> {
        let shortest = self.to_string().parse::<f64>().map_err(|e| e.to_string())?;
        Ok(Value::from(shortest))
    }
}

/// The enums are written as their config names (`"auto"`, `"openrouter"`, ...).
fn serde_name<T: serde::Serialize>(v: &T) -> Result<Value, String> {
    match toml::Value::try_from(v).map_err(|e| e.to_string())? {
        toml::Value::String(name) => Ok(Value::from(name)),
        other => Err(format!("expected a name, got {other}")),
    }
}

impl ToToml for Mode {
    fn to_toml(&self) -> Result<Value, String> {
        serde_name(self)
    }
}

impl ToToml for CloudProvider {
    fn to_toml(&self) -> Result<Value, String> {
        serde_name(self)
    }
}

impl ToToml for TtsEngine {
    fn to_toml(&self) -> Result<Value, String> {
        serde_name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str =
        "# my voxdeck\n[llm]\nmax_tokens=64   # short answers\nmodel = \"x\"\n\n[tts]\nrate = 0.7 # slower\n";

    fn config(text: &str) -> Config {
        Config::from_toml(text, std::path::Path::new("c.toml")).unwrap()
    }

    #[test]
    fn only_changed_keys_are_set_and_the_rest_stays_as_written() {
        let old = config(COMMENTED);
        let mut new = old.clone();
        new.llm.max_tokens = 100;
        new.router.mode = Mode::Cloud;
        let text = apply_changes(COMMENTED, &old, &new).unwrap();
        assert_eq!(
            text,
            "# my voxdeck\n[llm]\nmax_tokens=100   # short answers\nmodel = \"x\"\n\n[tts]\nrate = 0.7 # slower\n\
             \n[router]\nmode = \"cloud\"\n"
        );
        assert_eq!(config(&text), new);
        // Nothing changed: not a byte differs.
        assert_eq!(apply_changes(COMMENTED, &old, &old).unwrap(), COMMENTED);
    }

    #[test]
    fn dotted_and_inline_sections_are_edited_where_they_are() {
        let text = "llm.max_tokens = 64\nvoice = { natural_s = 1.0 }\n";
        let old = config(text);
        let mut new = old.clone();
        new.llm.max_tokens = 65;
        new.voice.natural_s = 0.7;
        let edited = apply_changes(text, &old, &new).unwrap();
        assert_eq!(edited, "llm.max_tokens = 65\nvoice = { natural_s = 0.7 }\n");
    }

    #[test]
    fn a_missing_file_gets_only_the_changed_keys() {
        let old = Config::default();
        let mut new = old.clone();
        new.tts.engine = TtsEngine::Espeak;
        new.voice.natural_s = 0.7;
        let text = apply_changes("", &old, &new).unwrap();
        assert_eq!(text, "[voice]\nnatural_s = 0.7\n\n[tts]\nengine = \"espeak\"\n");
    }

    #[test]
    fn a_base_url_moved_from_the_panel_keeps_the_url_the_environment_key_was_for() {
        let text = "[cloud]\nprovider = \"custom\"\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"m\"\n";
        let mut old = config(text);
        crate::llm::cloud::pin_env_key(&mut old.cloud);
        let mut new = old.clone();
        new.cloud.base_url = "http://127.0.0.1:18999/v1".into();
        let saved = config(&apply_changes(text, &old, &new).unwrap());
        assert_eq!(saved.cloud.base_url, "http://127.0.0.1:18999/v1");
        assert_eq!(saved.cloud.key_url, "http://127.0.0.1:8080/v1");
        // The next start pins what the file says, not the moved URL.
        let mut restarted = saved.clone();
        crate::llm::cloud::pin_env_key(&mut restarted.cloud);
        assert_eq!(restarted.cloud.key_url, "http://127.0.0.1:8080/v1");
        // A change that does not move the URL writes nothing about the key.
        let mut other = old.clone();
        other.llm.max_tokens = 99;
        assert!(!apply_changes(text, &old, &other).unwrap().contains("key_url"));
    }

    #[test]
    fn floats_are_written_without_widening_noise() {
        assert_eq!(0.7f32.to_toml().unwrap().to_string(), "0.7");
        assert_eq!(0.7f64.to_toml().unwrap().to_string(), "0.7");
    }

    #[test]
    fn a_section_that_is_not_a_table_is_refused_in_words() {
        let mut new = Config::default();
        new.llm.max_tokens = 7;
        let err = apply_changes("llm = 3\n", &Config::default(), &new).unwrap_err();
        assert_eq!(err.to_string(), "its `llm` is not a table, so `llm.max_tokens` cannot be set in it");
        let err = apply_changes("[llm\n", &Config::default(), &new).unwrap_err();
        assert!(err.to_string().starts_with("it is not valid TOML"), "{err}");
    }
}
