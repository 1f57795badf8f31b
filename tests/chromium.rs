//! Headless Chromium driven through chromedriver: the one way the panel's browser tests start a
//! browser, so every test runs it with the same flags.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/deps.sh` installs them).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::openai_server::free_port;
use crate::panel::{Killed, find_program, spawn_logged};
use crate::webdriver::WebDriver;

/// A browser session: the WebDriver client, and the chromedriver it talks to (stopped on drop,
/// after the session).
pub struct Chromium {
    driver: WebDriver,
    _chromedriver: Killed,
}

impl Chromium {
    /// Starts chromedriver and a headless Chromium with a fresh profile under `home`, its window
    /// `width` x `height` CSS pixels; `extra` flags are added to the usual ones.
    pub fn start(home: &Path, (width, height): (u32, u32), extra: &[&str]) -> Chromium {
        let chromedriver = find_program(&[PathBuf::from("/usr/bin/chromedriver"), PathBuf::from("chromedriver")])
            .expect("chromedriver not found: install Debian's chromium and chromium-driver (.ci/deps.sh does)");
        let binary = find_program(&[PathBuf::from("/usr/bin/chromium"), PathBuf::from("chromium")])
            .expect("chromium not found (.ci/deps.sh installs it)");
        let port = free_port();
        let chromedriver = spawn_logged(
            std::process::Command::new(chromedriver).arg(format!("--port={port}")),
            &home.join("chromedriver.log"),
        );
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", home.join(format!("chromium-profile-{port}")).display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let caps = json!({ "browserName": "chrome", "goog:chromeOptions": { "binary": binary, "args": args } });
        let driver = WebDriver::connect(&format!("http://127.0.0.1:{port}"), caps, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"));
        Chromium { driver, _chromedriver: chromedriver }
    }
}

impl Deref for Chromium {
    type Target = WebDriver;
    fn deref(&self) -> &WebDriver {
        &self.driver
    }
}
