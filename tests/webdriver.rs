//! A small synchronous W3C WebDriver client, enough to drive the panel in Chromium
//! (chromedriver) and in the Tauri app (tauri-driver over WebKitWebDriver): start a session,
//! open a page, run a script, hold the push-to-talk button, take a screenshot.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One WebDriver session; deleted on drop.
pub struct WebDriver {
    http: reqwest::blocking::Client,
    base: String,
    session: String,
}

/// A failed WebDriver call, with the driver's own words.
#[derive(Debug)]
pub struct DriverError(pub String);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl WebDriver {
    /// Opens a session on the driver at `base` (`http://127.0.0.1:PORT`), retrying while the
    /// driver is still starting, for up to `timeout`.
    pub fn connect(base: &str, capabilities: Value, timeout: Duration) -> Result<WebDriver, DriverError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| DriverError(e.to_string()))?;
        let deadline = Instant::now() + timeout;
        loop {
            let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
            let attempt = http
                .post(format!("{base}/session"))
                .json(&body)
                .send()
                .map_err(|e| e.to_string())
                .and_then(|r| r.json::<Value>().map_err(|e| e.to_string()));
            match attempt {
                Ok(v) => {
                    if let Some(id) = v["value"]["sessionId"].as_str() {
                        return Ok(WebDriver { http, base: base.to_owned(), session: id.to_owned() });
                    }
                    return Err(DriverError(format!("new session refused: {v}")));
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(DriverError(format!("driver at {base} unreachable: {e}"))),
            }
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, DriverError> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let v: Value = req
            .send()
            .and_then(|r| r.json())
            .map_err(|e| DriverError(format!("{path}: {e}")))?;
        if let Some(err) = v["value"]["error"].as_str() {
            return Err(DriverError(format!("{path}: {err}: {}", v["value"]["message"])));
        }
        Ok(v["value"].clone())
    }

    pub fn goto(&self, url: &str) -> Result<(), DriverError> {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).map(|_| ())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its
    /// result.
    pub fn execute(&self, script: &str, args: Value) -> Result<Value, DriverError> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    fn element(&self, css: &str) -> Result<Value, DriverError> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(v)
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) -> Result<(), DriverError> {
        let el = self.element(css)?;
        let id = el.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap_or_default().to_owned();
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).map(|_| ())
    }

    /// Presses the mouse on the element `css` selects, holds it `held`, and releases it: a
    /// push-to-talk the way a person does it.
    pub fn hold(&self, css: &str, held: Duration) -> Result<(), DriverError> {
        let el = self.element(css)?;
        let actions = json!({ "actions": [{
            "type": "pointer",
            "id": "mouse",
            "parameters": { "pointerType": "mouse" },
            "actions": [
                { "type": "pointerMove", "duration": 0, "origin": el, "x": 0, "y": 0 },
                { "type": "pointerDown", "button": 0 },
                { "type": "pause", "duration": held.as_millis() as u64 },
                { "type": "pointerUp", "button": 0 }
            ]
        }]});
        self.call(reqwest::Method::POST, "/actions", Some(actions))?;
        let _ = self.call(reqwest::Method::DELETE, "/actions", None);
        Ok(())
    }

    /// Resizes the browser window to `width` x `height` CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), DriverError> {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).map(|_| ())
    }

    /// Holds `key` down for `held` and lets it go, on whatever has the focus: `" "` is Space,
    /// `"\u{E007}"` Enter (WebDriver's key codes).
    pub fn key_hold(&self, key: &str, held: Duration) -> Result<(), DriverError> {
        let actions = json!({ "actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [
                { "type": "keyDown", "value": key },
                { "type": "pause", "duration": held.as_millis() as u64 },
                { "type": "keyUp", "value": key }
            ]
        }]});
        self.call(reqwest::Method::POST, "/actions", Some(actions))?;
        let _ = self.call(reqwest::Method::DELETE, "/actions", None);
        Ok(())
    }

    /// Makes the page's viewport `width` x `height` CSS pixels at 100% zoom (device pixel ratio
    /// 1), whatever the window's size: Chromium (chromedriver) only, through the DevTools
    /// protocol, as a real window cannot be narrower than 500 px.
    pub fn set_viewport(&self, width: u32, height: u32) -> Result<(), DriverError> {
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        let body = json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params });
        self.call(reqwest::Method::POST, "/goog/cdp/execute", Some(body))?;
        // A layout, and a ResizeObserver round (the panel reports its charts' new size).
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Result<Vec<u8>, DriverError> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None)?;
        let b64 = v.as_str().ok_or_else(|| DriverError("screenshot: no data".into()))?;
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| DriverError(format!("screenshot: bad base64: {e}")))
    }

    /// Polls `script` until it returns something other than null/false, or `timeout`.
    pub fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Result<Value, DriverError> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            match self.execute(script, json!([])) {
                Ok(v) if !(v.is_null() || v == Value::Bool(false)) => return Ok(v),
                Ok(v) => last = v,
                Err(e) => last = Value::String(e.0),
            }
            if Instant::now() >= deadline {
                return Err(DriverError(format!("timed out after {timeout:?} waiting for {what} (last: {last})")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send();
    }
}
