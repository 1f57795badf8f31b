//! Accepting connections, with the limits a server on a LAN needs before any token is checked:
//! a request head must arrive within a deadline, a connection that goes quiet is closed, and
//! one peer (and all peers together) may hold only so many connections. `axum::serve` has none
//! of these knobs, so this is its accept loop with hyper's HTTP/1 connection builder.
//!
//! Every connection holds a [`Slot`] until its socket closes, WebSockets included (the slot
//! travels inside the socket that hyper hands to the upgraded session).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_io_timeout::TimeoutStream;
use voxdeck_core::sync::lock;

/// A browser sends a request head in one piece; 10 s is generous on a slow Wi-Fi link and
/// bounds how long a half-sent head (slowloris) holds a slot. hyper starts it whenever it
/// waits for a head, so it also closes keep-alive connections idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Nothing read from the peer, or a write it does not take, for this long closes the
/// connection. WebSocket sessions ping every [`PING_INTERVAL`], which a live browser answers,
/// so only a dead or stuck peer goes this quiet.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a WebSocket session pings its client: three pings per [`IDLE_TIMEOUT`], so one
/// lost or late pong does not close a live panel.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);

/// A browser opens about six connections to a host plus one WebSocket per tab: 32 leaves
/// room for several tabs and keeps one address from taking every slot.
pub const MAX_PER_PEER: usize = 32;

/// Well under the usual limit of 1024 open files, which the engine shares (models, the
/// speech-to-text worker's pipes, the history database).
pub const MAX_CONNECTIONS: usize = 256;

/// IPv6 peers count by their /64: one host usually has a whole /64 to pick addresses from.
const IPV6_PEER_PREFIX: u32 = 64;

/// The limits in force (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_per_peer: usize,
    pub max_connections: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        header_read_timeout: HEADER_READ_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
        max_per_peer: MAX_PER_PEER,
        max_connections: MAX_CONNECTIONS,
    };
}

/// Serves `app` on `listener` until `stop` turns true, then stops accepting, lets open
/// requests finish and returns when every connection has closed (WebSocket sessions close
/// themselves on `stop`). The caller bounds that wait.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: watch::Receiver<bool>) {
    let slots = Arc::new(Slots::new(limits));
    let mut stopping = stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, say: wait for connections to close rather than spin.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match slots.admit(peer.ip()) {
            Ok(slot) => {
                tokio::spawn(connection(stream, slot, app.clone(), limits, stop.clone()));
            }
            Err(refusal) => refuse(stream, peer, refusal),
        }
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.total.acquire_many(all).await;
}

/// One connection: HTTP/1 with the head and idle deadlines, upgrades allowed; on `stop`,
/// finishes the request in flight and closes.
async fn connection(stream: TcpStream, slot: Slot, app: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    // Small frames (push-to-talk, replies) go out at once.
    let _ = stream.set_nodelay(true);
    let mut timed = TimeoutStream::new(stream);
    timed.set_read_timeout(Some(limits.idle_timeout));
    timed.set_write_timeout(Some(limits.idle_timeout));
    let io = TokioIo::new(Held { io: Box::pin(timed), _slot: slot });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, TowerToHyperService::new(app)).with_upgrades();
    tokio::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and bad requests: the peer's business, not the operator's.
        tracing::debug!("connection closed: {e}");
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    PeerFull(usize),
    AllFull(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::PeerFull(max) => {
                write!(f, "too many connections from your address (at most {max} at once); try again shortly")
            }
            Refusal::AllFull(max) => write!(f, "too many connections (at most {max} at once); try again shortly"),
        }
    }
}

/// Answers 503 in words if the socket takes it at once (never waits on the peer), and closes.
/// What the peer already sent is read first where it is there: closing on unread data resets
/// the connection, and the peer may then never see the answer.
fn refuse(stream: TcpStream, peer: SocketAddr, refusal: Refusal) {
    tracing::debug!(%peer, "connection refused: {refusal}");
    let body = format!("{refusal}\n");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
         retry-after: {}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        HEADER_READ_TIMEOUT.as_secs()
    );
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        if !matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = stream.try_write(response.as_bytes());
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The connection slots: a semaphore for the total, a count per peer.
struct Slots {
    total: Arc<Semaphore>,
    per_peer: Mutex<HashMap<IpAddr, usize>>,
    limits: Limits,
}

impl Slots {
    fn new(limits: Limits) -> Slots {
        Slots { total: Arc::new(Semaphore::new(limits.max_connections)), per_peer: Mutex::default(), limits }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let peer = peer_key(ip);
        let mut counts = lock(&self.per_peer);
        let count = counts.entry(peer).or_insert(0);
        if *count >= self.limits.max_per_peer {
            return Err(Refusal::PeerFull(self.limits.max_per_peer));
        }
        let permit =
            self.total.clone().try_acquire_owned().map_err(|_| Refusal::AllFull(self.limits.max_connections))?;
        *count += 1;
        Ok(Slot { slots: self.clone(), peer, _permit: permit })
    }
}

/// What a peer counts as: its address, or for IPv6 its /64 (IPv4-mapped addresses as IPv4).
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - IPV6_PEER_PREFIX);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

/// One admitted connection; dropping it frees the slot.
struct Slot {
    slots: Arc<Slots>,
    peer: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.slots.per_peer);
        if let Some(count) = counts.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.peer);
            }
        }
    }
}

/// The socket with its idle deadlines and its slot, which it keeps until it is dropped.
struct Held {
    io: Pin<Box<TimeoutStream<TcpStream>>>,
    _slot: Slot,
}

impl AsyncRead for Held {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
