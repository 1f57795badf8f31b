//! The panel's end-to-end flow, shared by the Tauri app test and the `voxdeck serve` test:
//! the same UI, driven the same way, through WebDriver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::openai_server::LlamaServer;
use crate::webdriver::WebDriver;

/// Models load in a few seconds on the test set; a busy 2-core CI machine gets slack.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(180);
/// One spoken turn, end to end.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(180);

/// `voxdeck serve` for `home` (its config already written) on a loopback port, listening to a
/// second of silence from a WAV and answering into another (no microphone or speaker here),
/// with Chromium at 1280x860 on its page: how the Bench tab's tests start.
pub fn serve_with_wav_io(home: &Path) -> (std::process::Child, crate::chromium::Chromium) {
    let (question, answers) = (home.join("q.wav"), home.join("a.wav"));
    crate::write_wav_16bit(&question, 16_000, &[0; 16_000]);
    let (q, a) = (question.to_string_lossy(), answers.to_string_lossy());
    let (app, url, _) = crate::serve(home, &["--bind", "127.0.0.1:0", "--input", &q, "--output", &a]);
    let driver = crate::chromium::Chromium::start(home, (1280, 860), &["--hide-scrollbars"]);
    driver.goto(&url).unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    (app, driver)
}

/// The config for a panel test: the test set, one thread each, and the loopback server as the
/// "cloud" (patient deadlines: a cold server on a busy machine is not what this tests).
pub fn config(server: &LlamaServer) -> String {
    format!(
        "[llm]\nmodel = \"smollm2-135m-instruct-q4_1\"\nthreads = 1\ntemperature = 0.0\nn_ctx = 2048\nmax_tokens = 40\n\n\
         [stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\n\n[tts]\nthreads = 1\nnoise_scale = 0.0\nnoise_w = 0.0\n\n\
         [router]\nmode = \"local\"\n\n\
         [cloud]\nprovider = \"custom\"\nbase_url = \"{}\"\nmodel = \"{}\"\nfirst_token_timeout_s = 60.0\nstall_timeout_s = 30.0\n\n\
         [ui]\ncharts_hz = 4.0\n",
        server.base_url(),
        server.model_alias()
    )
}

/// A panel test's home: the config for `server`, and a spoken question `q.wav` with the
/// answers' file `a.wav` beside it.
pub struct Setup {
    pub home: tempfile::TempDir,
    pub question: PathBuf,
    pub answers: PathBuf,
}

impl Setup {
    pub fn new(server: &LlamaServer) -> Setup {
        let home = tempfile::tempdir().expect("temp dir");
        crate::write_config(home.path(), &config(server));
        let question = home.path().join("q.wav");
        let answers = home.path().join("a.wav");
        let r = crate::run(
            crate::voxdeck(home.path())
                .args(["say", "What is the capital of France?", "--threads", "1", "-o"])
                .arg(&question),
        );
        assert!(r.status.success(), "{r}");
        Setup { home, question, answers }
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }
}

/// Where screenshots go: `VOXDECK_SCREENSHOTS`, else `target/e2e-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOXDECK_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/e2e-screenshots
    exe.ancestors().nth(3).expect("target dir layout").join("e2e-screenshots")
}

/// Keeps the page painting (an opacity step too small to see, every frame) while `on`.
/// WebKitWebDriver answers a screenshot after the web view's next rendering update, and an idle
/// panel (models loaded, nothing changing) may have none for minutes: now and then in CI the
/// first screenshot's request timed out after 120 s.
fn keep_painting(driver: &WebDriver, on: bool) -> Result<(), crate::webdriver::DriverError> {
    let script = if on {
        r#"window.__voxdeckPaint = true;
           const step = () => {
             const b = document.body.style;
             if (!window.__voxdeckPaint) { b.opacity = ''; return; }
             b.opacity = b.opacity === '0.999' ? '1' : '0.999';
             requestAnimationFrame(step);
           };
           requestAnimationFrame(step);
           return true;"#
    } else {
        "window.__voxdeckPaint = false; return true;"
    };
    driver.execute(script, serde_json::json!([])).map(|_| ())
}

/// Saves a screenshot as `<name>.png` and says where.
pub fn save_screenshot(driver: &WebDriver, name: &str) -> PathBuf {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    keep_painting(driver, true).expect("painting for the screenshot");
    let png = driver.screenshot().expect("screenshot");
    keep_painting(driver, false).expect("painting stopped after the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
    path
}

/// What the page shows of turn `n`, once it is complete (null until then).
fn turn_script(n: u32) -> String {
    format!(
        r#"const t = document.querySelector('.turn[data-turn="{n}"]');
        if (!t || t.dataset.complete !== "true") return null;
        const fig = (chart, label) => {{
            const f = document.querySelector(`#chart-${{chart}} .figure[data-label="${{label}}"]`);
            return f && f.dataset.current !== "" ? Number(f.dataset.current) : null;
        }};
        return {{
            outcome: t.dataset.outcome, engine: t.dataset.engine || null,
            transcript: t.querySelector('.transcript')?.textContent || "",
            answer: t.querySelector('.answer')?.textContent || "",
            tag: t.querySelector('.engine')?.textContent || "",
            gen_tok_s: fig("tok_s", "generation"),
            first_audio: fig("latency", "first audio"),
            first_token: fig("latency", "first token"),
            transcript_ms: fig("latency", "transcript"),
            latency_rects: document.querySelectorAll('#chart-latency svg rect').length,
            tok_s_rects: document.querySelectorAll('#chart-tok_s svg rect').length,
        }};"#
    )
}

/// The answer streamed: the page saw the answer grow in several steps while turn `n` ran.
const WATCH_STREAM: &str = r#"
    window.__voxdeckGrowth = 0;
    const conv = document.querySelector('#conversation');
    new MutationObserver(() => {
        const a = document.querySelector('.turn:last-of-type .answer');
        const len = a ? a.textContent.length : 0;
        if (len > (window.__voxdeckLast || 0)) { window.__voxdeckGrowth++; window.__voxdeckLast = len; }
    }).observe(conv, { subtree: true, childList: true, characterData: true });
    return true;"#;

/// Waits for the models, speaks one turn locally, then one through the cloud switch, checking
/// what the page shows; screenshots go to `<prefix>-*.png`.
pub fn talk_local_then_cloud(driver: &WebDriver, server: &LlamaServer, prefix: &str) {
    let ready = driver
        .wait_for(
            "the models to load",
            r#"const s = document.querySelector('#engine-status');
               if (!s) return null;
               if (s.dataset.state === 'failed') return 'failed: ' + s.textContent;
               return s.dataset.state === 'ready' ? 'ready' : null;"#,
            LOAD_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready, "ready", "{ready}");
    save_screenshot(driver, &format!("{prefix}-ready"));

    // Local first, by the toggle.
    driver.click("#mode-local").unwrap();
    driver
        .wait_for("Local pressed", "return document.querySelector('#mode-local').getAttribute('aria-pressed') === 'true';", Duration::from_secs(10))
        .unwrap();
    driver.execute(WATCH_STREAM, Value::Array(vec![])).unwrap();
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let t1 = driver.wait_for("turn 1 to complete", &turn_script(1), TURN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("turn 1 as shown: {t1}");
    assert_eq!(t1["outcome"], "answered", "{t1}");
    assert!(t1["transcript"].as_str().unwrap().to_lowercase().contains("france"), "{t1}");
    assert!(t1["answer"].as_str().unwrap().split_whitespace().count() >= 2, "{t1}");
    assert_eq!(t1["engine"], "local", "{t1}");
    let growth = driver.execute("return window.__voxdeckGrowth;", Value::Array(vec![])).unwrap();
    assert!(growth.as_u64().unwrap_or(0) >= 2, "the answer appeared in several steps ({growth})");
    // Charts are redrawn a moment after the record: wait for the turn's figures.
    let charts = driver
        .wait_for(
            "the latency waterfall and tok/s of turn 1",
            &format!(
                "const v = (function() {{ {} }})(); return v && v.first_audio > 0 && v.gen_tok_s > 0 ? v : null;",
                turn_script(1)
            ),
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    for key in ["transcript_ms", "first_token", "first_audio", "gen_tok_s"] {
        assert!(charts[key].as_f64().unwrap_or(0.0) > 0.0, "{key}: {charts}");
    }
    assert!(charts["latency_rects"].as_u64().unwrap() >= 4, "waterfall bars drawn: {charts}");
    assert!(charts["tok_s_rects"].as_u64().unwrap() >= 2, "tok/s bars drawn: {charts}");
    save_screenshot(driver, &format!("{prefix}-local-turn"));

    // One click to the cloud: the next turn goes to the loopback OpenAI-compatible server.
    driver.click("#mode-cloud").unwrap();
    driver
        .wait_for("Cloud pressed", "return document.querySelector('#mode-cloud').getAttribute('aria-pressed') === 'true';", Duration::from_secs(10))
        .unwrap();
    driver.hold("#ptt", Duration::from_millis(300)).unwrap();
    let t2 = driver.wait_for("turn 2 to complete", &turn_script(2), TURN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("turn 2 as shown: {t2}");
    assert_eq!(t2["outcome"], "answered", "{t2}");
    assert_eq!(t2["engine"], "cloud", "routed to the loopback server: {t2} (server log: {})", server.log_tail(20));
    assert!(t2["tag"].as_str().unwrap().to_lowercase().contains("cloud"), "{t2}");
    assert!(!t2["answer"].as_str().unwrap().trim().is_empty(), "{t2}");
    save_screenshot(driver, &format!("{prefix}-cloud-turn"));
}

/// A free display for Xvfb, and the server itself; killed on drop.
pub struct Xvfb {
    child: std::process::Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        use std::io::Read;
        let mut child = std::process::Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Xvfb ({e}): install it (`apt-get install xvfb`, .ci/deps.sh does)"));
        let mut stdout = child.stdout.take().expect("Xvfb stdout");
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        assert!(!number.trim().is_empty(), "Xvfb did not report its display");
        Xvfb { child, display: format!(":{}", number.trim()) }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed on drop (drivers, the app, the server), its output in a log file.
pub struct Killed {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Killed {
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Killed {
    /// SIGTERM first, so a driver can stop what it started (tauri-driver its WebKitWebDriver);
    /// SIGKILL after a grace period.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` with stdout and stderr into `log`.
pub fn spawn_logged(cmd: &mut std::process::Command, log: &Path) -> Killed {
    let file = std::fs::File::create(log).expect("log file");
    let child = cmd
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    Killed { child, log: log.to_owned() }
}

/// The first program of `candidates` that exists (absolute paths, or names found on PATH).
pub fn find_program(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates.iter().find_map(|c| {
        if c.is_absolute() {
            c.is_file().then(|| c.clone())
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path).map(|d| d.join(c)).find(|p| p.is_file())
            })
        }
    })
}
