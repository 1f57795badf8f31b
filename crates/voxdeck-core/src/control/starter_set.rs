//! The first run's offer: which starter set suits this machine, and what each holds.
//!
//! One rule, [`recommend`], over [`MachineFacts`] (cores, free memory, GPU) so it can be tested
//! with any machine's facts. The everyday set (Llama 3.2 3B, Whisper base.en, Piper lessac) is
//! recommended where the memory check says it fits and it can answer within the voice budget: a
//! GPU (a Jetson's included) or at least [`CPU_ONLY_MIN_CORES`] cores. Elsewhere the small set
//! (SmolLM2 135M, Whisper tiny.en, Piper joe) is, with the everyday set as the alternative.

use std::path::Path;

use super::protocol::{StarterModel, StarterSet, StarterSetId};
use crate::config::MemoryConfig;
use crate::memory_fit::session::{Gpu, Part, SessionParts, check_session, detect_gpu};
use crate::memory_fit::{Budget, MemoryNeed, Pool, format_bytes};
use crate::models::{Catalog, CatalogEntry, ModelKind};

/// Without a GPU, a 3B model at Q4 makes roughly 1.5 tokens a second per core on a current
/// ARM or x86 core; below 8 cores its first sentence comes after the voice budget's 4 s.
pub const CPU_ONLY_MIN_CORES: u32 = 8;

/// The models of each set, by catalog id; ONNX Runtime for this platform is added to both
/// (the voices run on it).
const MIB: u64 = 1 << 20;

const PRODUCTION: [&str; 3] = ["llama-3.2-3b-instruct-q4_k_m", "whisper-base.en", "piper-en_us-lessac-medium"];
const SMALL: [&str; 3] = ["smollm2-135m-instruct-q4_1", "whisper-tiny.en", "piper-en_us-joe-medium"];

/// What the recommendation looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFacts {
    pub cores: u32,
    /// Memory free for models now (`None`: unknown, taken as enough).
    pub available_ram: Option<u64>,
    pub gpu: Gpu,
}

impl MachineFacts {
    /// This machine's facts (NVML is asked once per call: call it once).
    pub fn detect() -> MachineFacts {
        MachineFacts {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            available_ram: crate::sysmon::memory::system_available_bytes(),
            gpu: detect_gpu(),
        }
    }
}

/// The set for a machine with `facts`, and why, in words for the card.
pub fn recommend(facts: &MachineFacts, catalog: &Catalog, memory: &MemoryConfig) -> (StarterSetId, String) {
    let production = entries(catalog, StarterSetId::Production);
    if let Err(e) = fits(&production, facts, memory) {
        return (StarterSetId::Test, format!("The everyday set does not fit in this machine's free memory ({e})."));
    }
    let free = facts.available_ram.map_or_else(String::new, |b| format!(" and {} free", format_bytes(b)));
    match facts.gpu {
        Gpu::Unified => {
            (StarterSetId::Production, format!("Jetson GPU{free}: the everyday set fits and answers quickly."))
        }
        Gpu::Discrete { .. } => {
            (StarterSetId::Production, format!("GPU{free}: the everyday set fits and answers quickly."))
        }
        Gpu::None if facts.cores >= CPU_ONLY_MIN_CORES => (
            StarterSetId::Production,
            format!("{} CPU cores{free}: the everyday set fits and answers in time.", facts.cores),
        ),
        Gpu::None => (
            StarterSetId::Test,
            format!(
                "{} CPU cores and no GPU: the everyday set fits in memory but would answer too slowly for a voice \
                 conversation. The small set answers quickly; it knows less.",
                facts.cores
            ),
        ),
    }
}

/// The catalog entries of `set` for this platform (a missing id is skipped: the catalog test
/// checks they exist).
pub fn entries(catalog: &Catalog, set: StarterSetId) -> Vec<&CatalogEntry> {
    let ids: &[&str] = match set {
        StarterSetId::Production => &PRODUCTION,
        StarterSetId::Test => &SMALL,
    };
    let models = ids.iter().filter_map(|id| catalog.get(id).ok());
    let runtime = catalog.entries.iter().filter(|e| e.kind == ModelKind::Runtime);
    models.chain(runtime).collect()
}

/// `set` as the card shows it, with what `models_dir` already holds.
pub fn describe(catalog: &Catalog, set: StarterSetId, models_dir: &Path) -> StarterSet {
    let models: Vec<StarterModel> = entries(catalog, set)
        .into_iter()
        .map(|e| StarterModel {
            id: e.id.clone(),
            name: e.name.clone(),
            kind: e.kind.to_string(),
            purpose: purpose(e.kind).to_owned(),
            size_bytes: e.total_size(),
            installed: e.is_installed(models_dir),
        })
        .collect();
    let missing_bytes = entries(catalog, set)
        .iter()
        .flat_map(|e| &e.files)
        .filter(|f| !std::fs::metadata(models_dir.join(&f.name)).is_ok_and(|m| m.is_file() && m.len() == f.size))
        .map(|f| f.size)
        .sum();
    StarterSet {
        id: set,
        name: match set {
            StarterSetId::Production => "Everyday set",
            StarterSetId::Test => "Small set",
        }
        .to_owned(),
        total_bytes: models.iter().map(|m| m.size_bytes).sum(),
        missing_bytes,
        models,
    }
}

/// Whether the first-run card is needed: no installed model answers, hears or speaks.
pub fn needed(catalog: &Catalog, models_dir: &Path) -> bool {
    [ModelKind::Llm, ModelKind::Stt, ModelKind::Tts]
        .iter()
        .any(|kind| !catalog.entries.iter().any(|e| e.kind == *kind && e.is_installed(models_dir)))
}

fn purpose(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Llm => "answers",
        ModelKind::Stt => "hears you",
        ModelKind::Tts => "speaks",
        ModelKind::Runtime => "runs the voice",
    }
}

/// The memory check the engine makes before loading, with needs estimated from the file sizes
/// (the headers are not there yet): the weights plus a quarter and 256 MiB for caches and
/// buffers, which covers Llama 3.2 3B's KV cache at n_ctx 4096 (448 MiB) and its compute buffers.
fn fits(set: &[&CatalogEntry], facts: &MachineFacts, memory: &MemoryConfig) -> Result<(), String> {
    let part = |kind: ModelKind| {
        set.iter().find(|e| e.kind == kind).map(|e| {
            let size = e.total_size();
            Part {
                name: e.name.clone(),
                need: MemoryNeed { weights: size, kv_cache: 0, compute: size / 4 + 256 * MIB, n_ctx: 0 },
            }
        })
    };
    let Some(llm) = part(ModelKind::Llm) else { return Err("its LLM is not in the catalog".into()) };
    let pool = if facts.gpu == Gpu::Unified { Pool::Unified } else { Pool::SystemRam };
    let parts = SessionParts {
        stt: part(ModelKind::Stt),
        stt_on_gpu: false,
        voice: part(ModelKind::Tts),
        llm,
        llm_layers: (1, 1),
    };
    let system = Budget::from_available(pool, facts.available_ram, None, memory);
    check_session(&parts, &facts.gpu, system, memory).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn memory() -> MemoryConfig {
        MemoryConfig::default()
    }

    #[test]
    fn an_orin_nx_16gb_gets_the_everyday_set() {
        // Orin NX 16 GB: 8 Cortex-A78AE cores, unified memory, ~13 GiB free after boot.
        let facts = MachineFacts { cores: 8, available_ram: Some(13 * GIB), gpu: Gpu::Unified };
        let (set, reason) = recommend(&facts, &Catalog::builtin(), &memory());
        assert_eq!(set, StarterSetId::Production, "{reason}");
        assert!(reason.contains("Jetson"), "{reason}");
    }

    #[test]
    fn two_cores_without_a_gpu_get_the_small_set_even_with_24_gb() {
        // Memory is no problem; speed is: two cores answer a 3B model too slowly for a voice.
        let facts = MachineFacts { cores: 2, available_ram: Some(24 * GIB), gpu: Gpu::None };
        let (set, reason) = recommend(&facts, &Catalog::builtin(), &memory());
        assert_eq!(set, StarterSetId::Test, "{reason}");
        assert!(reason.contains("2 CPU cores and no GPU"), "{reason}");
        // Eight cores are enough without a GPU.
        let facts = MachineFacts { cores: 8, ..facts };
        assert_eq!(recommend(&facts, &Catalog::builtin(), &memory()).0, StarterSetId::Production);
    }

    #[test]
    fn a_gpu_machine_short_of_memory_gets_the_small_set() {
        // A Jetson Orin Nano 4 GB with 2 GiB free: the everyday set (about 3.4 GiB) does not fit.
        let facts = MachineFacts { cores: 6, available_ram: Some(2 * GIB), gpu: Gpu::Unified };
        let (set, reason) = recommend(&facts, &Catalog::builtin(), &memory());
        assert_eq!(set, StarterSetId::Test, "{reason}");
        assert!(reason.contains("does not fit"), "{reason}");
    }

    #[test]
    fn each_set_answers_hears_and_speaks() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        for set in [StarterSetId::Production, StarterSetId::Test] {
            let view = describe(&catalog, set, dir.path());
            let purposes: Vec<&str> = view.models.iter().map(|m| m.purpose.as_str()).collect();
            for p in ["answers", "hears you", "speaks", "runs the voice"] {
                assert!(purposes.contains(&p), "{set:?}: {purposes:?}");
            }
            assert_eq!(view.missing_bytes, view.total_bytes, "nothing installed in an empty dir");
        }
        assert!(needed(&catalog, dir.path()));
    }

    #[test]
    fn installed_files_are_not_counted_as_missing() {
        let Some(models) = std::env::var_os("VOXDECK_MODELS") else { return };
        let catalog = Catalog::builtin();
        let view = describe(&catalog, StarterSetId::Test, Path::new(&models));
        assert!(view.models.iter().all(|m| m.installed), "{view:?}");
        assert_eq!(view.missing_bytes, 0);
        assert!(!needed(&catalog, Path::new(&models)));
    }
}
