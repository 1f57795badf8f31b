//! `voxdeck serve`: the control panel in a browser. The web UI (`ui/app`) as static files, and the
//! engine's control protocol as JSON over a WebSocket at `/ws`: every [`Outgoing`] message as
//! a text frame, every [`WsRequest`](voxdeck_core::control::WsRequest) answered with a
//! [`WsReply`](voxdeck_core::control::WsReply). Loopback by default; beyond it a token is
//! required (see [`auth`]).

mod assets;
mod auth;
mod connections;
mod ws;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tokio::sync::{broadcast, watch};
use voxdeck_core::Config;
use voxdeck_core::control::{Command, Controller, ControllerOptions, EngineStatus, Outgoing, Reply};
use voxdeck_core::errors::error_chain;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Beyond loopback (0.0.0.0, a LAN address) every client
    /// needs the token; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT", value_parser = parse_bind)]
    bind: SocketAddr,
    /// The access token every request must carry (?token=, a Bearer header, or the cookie the
    /// first ?token= request sets). Default: none on loopback, a random one printed at start
    /// otherwise. Letters, digits and - _ . ~ only.
    #[arg(long, env = "VOXDECK_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    token: Option<String>,
    /// A WAV file to use as the push-to-talk source instead of the microphone (each press
    /// replays it).
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the spoken answers to this WAV file instead of playing them.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Do not load the models at start (the panel loads them on demand).
    #[arg(long)]
    no_load: bool,
    /// Wait until the models are loaded (or failed) before accepting connections.
    #[arg(long, conflicts_with = "no_load")]
    wait: bool,
    /// The web UI's directory (default: $VOXDECK_UI_DIR, then <exe>/../share/voxdeck/ui, then
    /// the source tree's ui/app).
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
}

/// Longest wait for `--wait`.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Longest wait for open connections after Ctrl-C or SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

pub fn run(args: ServeArgs, config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    // Everything that can be wrong with the command line fails before the engine starts.
    let ui_dir = assets::resolve_ui_dir(args.ui_dir.as_deref())?;
    if let Some(input) = &args.input {
        anyhow::ensure!(input.is_file(), "--input {}: no such file", input.display());
    }
    let (token, generated) = auth::token_for(&args.bind, args.token)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("voxdeck-serve")
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.bind))
        .map_err(|e| bind_error(args.bind, e))?;
    let local = listener.local_addr().context("reading the listening address")?;

    let controller = {
        let _runtime = runtime.enter();
        Controller::start(ControllerOptions {
            config,
            config_path,
            input: args.input,
            output: args.output,
            load_on_start: !args.no_load,
            data_dir: None,
        })
    };
    if args.wait {
        eprintln!("voxdeck: loading the models…");
        if let EngineStatus::Failed { message } = controller.wait_until_loaded(LOAD_TIMEOUT) {
            eprintln!("voxdeck: loading the models failed: {message} (serving anyway)");
        }
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState {
        backend: controller.clone(),
        ui_dir: Arc::new(ui_dir),
        stop: stop_rx,
    };
    let app = router(state, auth::Auth::new(token.clone()));

    if generated {
        eprintln!(
            "voxdeck: {} is reachable from other machines, so every request needs this token \
             (choose your own with --token or $VOXDECK_TOKEN)",
            local.ip()
        );
    }
    eprintln!("voxdeck: serving {}", url(local, token.as_deref()));
    if local.ip().is_unspecified() {
        eprintln!(
            "voxdeck: listening on all addresses; from another machine use http://<this machine>:{}/{}",
            local.port(),
            token.as_ref().map(|t| format!("?token={t}")).unwrap_or_default()
        );
    }

    let result = runtime.block_on(serve(listener, app, stop_tx));
    {
        let _runtime = runtime.enter();
        controller.shutdown();
    }
    // Commands still running on the blocking pool are not waited for long.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// What the server needs of the engine: [`Controller`], or a stand-in in tests.
pub trait Backend: Clone + Send + Sync + 'static {
    fn subscribe(&self) -> broadcast::Receiver<Outgoing>;
    /// Blocking.
    fn handle(&self, command: Command) -> Result<Reply, String>;
}

impl Backend for Controller {
    fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        Controller::subscribe(self)
    }

    fn handle(&self, command: Command) -> Result<Reply, String> {
        Controller::handle(self, command).map_err(|e| error_chain(&e))
    }
}

/// Shared by the handlers.
#[derive(Clone)]
pub struct AppState<B> {
    pub backend: B,
    /// Canonical.
    pub ui_dir: Arc<PathBuf>,
    /// Becomes true at shutdown: WebSocket sessions close.
    pub stop: watch::Receiver<bool>,
}

/// The routes: `/ws`, else a static file; the token and origin rules before both; the security
/// headers on every response.
pub fn router<B: Backend>(state: AppState<B>, auth: auth::Auth) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade::<B>))
        .fallback(assets::serve_file::<B>)
        .with_state(state)
        .layer(middleware::from_fn_with_state(Arc::new(auth), auth::guard))
        .layer(middleware::from_fn(security_headers))
}

/// The page's Content Security Policy: its own scripts, styles and WebSocket only; no `<base>`
/// that could redirect its relative URLs, no form posting anywhere else. The desktop app's is
/// in `src-tauri/tauri.conf.json`, the page's own `<meta>` in `ui/app/index.html`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'";

/// The headers every response carries (unless a handler set its own).
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-cache"),
];

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Serves until Ctrl-C or SIGTERM, then lets open requests finish (at most [`GRACE`]); a
/// second signal exits at once. Connections are accepted within [`connections::Limits`].
async fn serve(listener: tokio::net::TcpListener, app: Router, stop_tx: watch::Sender<bool>) -> anyhow::Result<()> {
    let mut signals = Signals::new().context("installing the signal handlers")?;
    let mut stopping = stop_tx.subscribe();
    tokio::spawn(async move {
        signals.recv().await;
        eprintln!("voxdeck: shutting down (again to stop at once)…");
        let _ = stop_tx.send(true);
        signals.recv().await;
        eprintln!("voxdeck: stopped");
        std::process::exit(130);
    });
    let server = connections::serve(listener, app, connections::Limits::DEFAULT, stopping.clone());
    tokio::select! {
        () = server => {}
        _ = async {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(GRACE).await;
        } => tracing::warn!("connections still open {} s after the signal; closing them", GRACE.as_secs()),
    }
    Ok(())
}

/// Ctrl-C, and SIGTERM on Unix.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        tokio::select! {
            _ = ctrl_c => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        ctrl_c.await;
    }
}

/// `--bind`: an IP address and port (`127.0.0.1:8765`, `[::1]:8765`, `0.0.0.0:0`), or
/// `localhost:PORT`.
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    let hint = "expected an address and port such as 127.0.0.1:8765, 0.0.0.0:8765 or [::1]:8765";
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| format!("bad port {port:?}; {hint}"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if !text.contains(':') && text.parse::<u16>().is_ok() {
        return Err(format!(
            "{hint} (a port alone is ambiguous; 127.0.0.1:{text} is this machine only)"
        ));
    }
    Err(hint.to_string())
}

fn bind_error(addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let why = match e.kind() {
        ErrorKind::AddrInUse => format!(
            "{addr} is already in use (another `voxdeck serve`?); choose another port with --bind {}:PORT",
            if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            }
        ),
        ErrorKind::AddrNotAvailable => format!("{} is not an address of this machine", addr.ip()),
        ErrorKind::PermissionDenied => {
            format!(
                "not allowed to listen on port {} (ports below 1024 need privileges)",
                addr.port()
            )
        }
        _ => format!("cannot listen on {addr}"),
    };
    anyhow::Error::new(e).context(why)
}

/// The URL to open: the address, and the token when one is in force.
fn url(addr: SocketAddr, token: Option<&str>) -> String {
    match token {
        Some(token) => format!("http://{addr}/?token={token}"),
        None => format!("http://{addr}/"),
    }
}
