//! The front end (`ui/app`: plain ES modules, no build step) as static files: where it is, which request names which file
//! (never one outside it), and with which Content-Type.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Where a UI comes from, for the error when none is found: the UI needs no build step.
pub const UI_HINT: &str = "the source tree's ui/app, or /usr/share/voxdeck/ui from the voxdeck package";

/// The environment variable naming the UI directory.
pub const UI_DIR_ENV: &str = "VOXDECK_UI_DIR";

/// The UI directory, canonical, with an index.html. In order: `--ui-dir`, `$VOXDECK_UI_DIR`,
/// `<dir of the executable>/../share/voxdeck/ui`, the source tree's `ui/app`. A directory
/// named explicitly (flag or variable) must hold the UI; it is not skipped.
pub fn resolve_ui_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let env = std::env::var_os(UI_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("../share/voxdeck/ui")));
    let source_tree = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/app"));
    resolve_from(flag, env.as_deref(), installed.as_deref(), &source_tree)
}

/// [`resolve_ui_dir`] with its inputs given (for tests).
fn resolve_from(
    flag: Option<&Path>,
    env: Option<&Path>,
    installed: Option<&Path>,
    source_tree: &Path,
) -> anyhow::Result<PathBuf> {
    let explicit = flag.map(|p| (p, "--ui-dir")).or(env.map(|p| (p, UI_DIR_ENV)));
    if let Some((dir, from)) = explicit {
        anyhow::ensure!(
            dir.join("index.html").is_file(),
            "{from} {}: no index.html there; point it at voxdeck's UI directory ({UI_HINT})",
            dir.display()
        );
        return canonical(dir);
    }
    let candidates: Vec<&Path> = installed.into_iter().chain([source_tree]).collect();
    for dir in &candidates {
        if dir.join("index.html").is_file() {
            return canonical(dir);
        }
    }
    let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    anyhow::bail!(
        "the web UI is not found (no index.html in {}); name its directory ({UI_HINT}) with \
         --ui-dir or {UI_DIR_ENV}",
        looked.join(" or ")
    )
}

fn canonical(dir: &Path) -> anyhow::Result<PathBuf> {
    dir.canonicalize()
        .with_context(|| format!("resolving the UI directory {}", dir.display()))
}

/// The file a request path names, relative to the UI directory: `/` is `index.html`. `None`
/// for anything that could leave the directory or name a hidden file: `..`, `.`, empty
/// segments, backslashes, NUL, drive prefixes, dotfiles, bad percent-escapes.
pub fn relative_path(uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(uri_path)?;
    let trimmed = decoded.strip_prefix('/')?;
    if trimmed.is_empty() {
        return Some(PathBuf::from("index.html"));
    }
    let mut path = PathBuf::new();
    for segment in trimmed.split('/') {
        let bad = segment.is_empty() || segment.starts_with('.') || segment.contains(['\\', '\0', ':']);
        if bad {
            return None;
        }
        path.push(segment);
    }
    // Belt and braces: only plain names may remain.
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

/// `%XX` escapes decoded; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The Content-Type for a file name.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The file under `root` (canonical) that `uri_path` names, if it is a regular file inside it
/// after symlinks are followed.
pub async fn locate(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let relative = relative_path(uri_path)?;
    let path = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if !path.starts_with(root) {
        return None;
    }
    tokio::fs::metadata(&path).await.ok()?.is_file().then_some(path)
}

/// The fallback route: a static file for GET and HEAD, 404 when there is none.
pub async fn serve_file<B>(State(state): State<AppState<B>>, request: Request) -> Response {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Some(path) = locate(&state.ui_dir, request.uri().path()).await else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!("reading {}: {e}", path.display());
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
    };
    // HEAD: axum drops the body and keeps the length.
    let mut response = Response::new(Body::from(bytes));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_index() {
        assert_eq!(relative_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(relative_path("/app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(
            relative_path("/bindings/Command.js"),
            Some(PathBuf::from("bindings/Command.js"))
        );
        assert_eq!(relative_path("/a%20b.css"), Some(PathBuf::from("a b.css")));
    }

    #[test]
    fn traversal_is_rejected() {
        for bad in [
            "/..",
            "/../etc/passwd",
            "/bindings/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fsecret",
            "/bindings/%2e%2e%2f%2e%2e%2fx",
            "/js/%2e%2e/%2e%2e/bindings/Command.ts",
            "/..%5c..%5cx",
            "/a\\..\\b",
            "//etc/passwd",
            "/./index.html",
            "/.env",
            "/bindings//x.js",
            "/x%00.js",
            "/C:/x",
            "/%zz",
            "/%2",
            "/%ff",
            "relative",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(Path::new("index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("styles.css")), "text/css; charset=utf-8");
        assert_eq!(
            content_type(Path::new("bindings/Command.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("icon.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("icon.PNG")), "image/png");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }

    fn ui_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::create_dir(dir.path().join("bindings")).unwrap();
        std::fs::write(dir.path().join("bindings/Command.js"), "export {}").unwrap();
        dir
    }

    #[tokio::test]
    async fn locate_stays_inside() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        let ui = outer.path().join("ui");
        std::fs::create_dir(&ui).unwrap();
        std::fs::write(ui.join("index.html"), "<!doctype html>").unwrap();
        std::fs::create_dir(ui.join("bindings")).unwrap();
        let root = ui.canonicalize().unwrap();
        assert!(locate(&root, "/").await.is_some());
        assert!(locate(&root, "/index.html").await.is_some());
        assert!(locate(&root, "/../secret.txt").await.is_none());
        assert!(locate(&root, "/%2e%2e/secret.txt").await.is_none());
        assert!(locate(&root, "/missing.js").await.is_none());
        // The ts-rs types sit beside the served directory (ui/bindings next to ui/app): out of reach.
        std::fs::create_dir(outer.path().join("bindings")).unwrap();
        std::fs::write(outer.path().join("bindings/Command.ts"), "export type Command = {};").unwrap();
        assert!(locate(&root, "/../bindings/Command.ts").await.is_none());
        assert!(locate(&root, "/bindings/%2e%2e/%2e%2e/bindings/Command.ts").await.is_none());
        assert!(locate(&root, "/bindings").await.is_none(), "directories are not files");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret.txt"), ui.join("link.txt")).unwrap();
            assert!(
                locate(&root, "/link.txt").await.is_none(),
                "a symlink out of the UI is refused"
            );
        }
    }

    #[test]
    fn resolution_order() {
        let a = ui_dir();
        let b = ui_dir();
        let empty = tempfile::tempdir().unwrap();
        let canon = |d: &tempfile::TempDir| d.path().canonicalize().unwrap();
        // The flag wins, then the variable.
        assert_eq!(
            resolve_from(Some(a.path()), Some(b.path()), None, empty.path()).unwrap(),
            canon(&a)
        );
        assert_eq!(
            resolve_from(None, Some(b.path()), Some(a.path()), empty.path()).unwrap(),
            canon(&b)
        );
        // Named explicitly but empty: an error, not a silent fallback.
        let e = resolve_from(Some(empty.path()), None, Some(a.path()), a.path()).unwrap_err();
        assert!(
            e.to_string().contains("--ui-dir") && e.to_string().contains(UI_HINT),
            "{e}"
        );
        let e = resolve_from(None, Some(empty.path()), Some(a.path()), a.path()).unwrap_err();
        assert!(e.to_string().contains(UI_DIR_ENV), "{e}");
        // The installed copy, else the source tree.
        assert_eq!(resolve_from(None, None, Some(a.path()), b.path()).unwrap(), canon(&a));
        assert_eq!(
            resolve_from(None, None, Some(empty.path()), b.path()).unwrap(),
            canon(&b)
        );
        assert_eq!(resolve_from(None, None, None, b.path()).unwrap(), canon(&b));
        let e = resolve_from(None, None, Some(empty.path()), empty.path()).unwrap_err();
        assert!(e.to_string().contains(UI_HINT), "{e}");
    }
}
