//! One WebSocket session: every [`Outgoing`] as a JSON text frame, and [`WsRequest`]s answered
//! with [`WsReply`]s. Commands run on the blocking pool. Push-to-talk and the other quick
//! commands run one after another in the order they came (a release never overtakes its
//! press); the ones that may wait on the network, the keyring or a chart renderer run beside
//! them, so a slow cloud check cannot hold up push-to-talk.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use voxdeck_core::control::{Command, WsReply, WsRequest};

use super::connections::PING_INTERVAL;
use super::{AppState, Backend};

/// Largest request frame accepted (settings and keys are small).
const MAX_MESSAGE: usize = 1 << 20;
/// Commands of one session running beside the ordered ones at once; more get an error reply.
const MAX_SIDE_JOBS: usize = 16;

/// `GET /ws` (authorised already, see [`super::auth::guard`]).
pub async fn upgrade<B: Backend>(State(state): State<AppState<B>>, ws: WebSocketUpgrade) -> Response {
    // Subscribe now: nothing sent between the handshake and the session's start is missed.
    let events = state.backend.subscribe();
    let stop = state.stop.clone();
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_failed_upgrade(|e| tracing::debug!("WebSocket upgrade failed: {e}"))
        .on_upgrade(move |socket| session(socket, state.backend, events, stop))
}

/// Whether a command may wait long on something outside the engine.
fn runs_beside(command: &Command) -> bool {
    matches!(
        command,
        Command::CheckCloud
            | Command::ExportBench { .. }
            | Command::GetSettings
            | Command::SetCloudKey { .. }
            | Command::ForgetCloudKey
    )
}

pub fn reply(id: u64, result: Result<voxdeck_core::control::Reply, String>) -> WsReply {
    let (ok, error) = match result {
        Ok(reply) => (Some(reply), None),
        Err(message) => (None, Some(message)),
    };
    WsReply {
        kind: "reply".into(),
        id,
        ok,
        error,
    }
}

/// A request from a text frame, or why it is not one (for the error reply) with the id to
/// answer: the frame's own when it is JSON with a numeric `id`, so the client can match the
/// error; else 0.
pub fn parse_request(text: &str) -> Result<WsRequest, (u64, String)> {
    serde_json::from_str::<WsRequest>(text).map_err(|e| {
        let id = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_u64()))
            .unwrap_or(0);
        (
            id,
            format!("bad request: {e} (expected {{\"id\": <number>, \"command\": {{\"cmd\": ...}}}})"),
        )
    })
}

async fn session<B: Backend>(
    mut socket: WebSocket,
    backend: B,
    mut events: broadcast::Receiver<voxdeck_core::control::Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<WsReply>();
    let (ordered_tx, ordered_rx) = mpsc::unbounded_channel::<WsRequest>();
    let ordered = tokio::spawn(run_ordered(backend.clone(), ordered_rx, replies_tx.clone()));
    let side_jobs = Arc::new(Semaphore::new(MAX_SIDE_JOBS));
    // A quiet connection is closed (see `connections::IDLE_TIMEOUT`); a live client's pongs
    // keep the panel's open.
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        let step = tokio::select! {
            message = socket.recv() => Step::Incoming(message),
            _ = ping.tick() => Step::Ping,
            event = events.recv() => Step::Event(event),
            Some(answer) = replies.recv() => Step::Reply(answer),
            // Shutdown (or the server gone).
            _ = async { let _ = stop.wait_for(|stop| *stop).await; } => Step::Stop,
        };
        let outgoing = match step {
            Step::Incoming(Some(Ok(Message::Text(text)))) => {
                match parse_request(text.as_str()) {
                    Ok(request) if runs_beside(&request.command) => match side_jobs.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let backend = backend.clone();
                            let replies_tx = replies_tx.clone();
                            tokio::spawn(async move {
                                let answer = run_one(backend, request).await;
                                drop(permit);
                                let _ = replies_tx.send(answer);
                            });
                        }
                        Err(_) => {
                            let _ = replies_tx.send(reply(request.id, Err("busy: too many requests at once".into())));
                        }
                    },
                    Ok(request) => {
                        let _ = ordered_tx.send(request);
                    }
                    Err((id, message)) => {
                        let _ = replies_tx.send(reply(id, Err(message)));
                    }
                }
                continue;
            }
            Step::Incoming(Some(Ok(Message::Binary(_)))) => serde_json::to_string(&reply(
                0,
                Err("binary frames are not understood; send JSON text".into()),
            )),
            // Pings are answered by the WebSocket layer; pongs need nothing.
            Step::Incoming(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Step::Incoming(Some(Ok(Message::Close(_))) | None) => break,
            Step::Incoming(Some(Err(e))) => {
                tracing::debug!("WebSocket closed: {e}");
                break;
            }
            Step::Event(Ok(event)) => serde_json::to_string(&event),
            Step::Event(Err(broadcast::error::RecvError::Lagged(n))) => {
                tracing::debug!("a WebSocket client fell behind; {n} events skipped");
                continue;
            }
            Step::Event(Err(broadcast::error::RecvError::Closed)) => {
                close(&mut socket, close_code::AWAY, "the engine stopped").await;
                break;
            }
            Step::Reply(answer) => serde_json::to_string(&answer),
            Step::Ping => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
            Step::Stop => {
                close(&mut socket, close_code::AWAY, "voxdeck is shutting down").await;
                break;
            }
        };
        match outgoing {
            Ok(text) => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            Err(e) => tracing::warn!("could not serialise a message for the WebSocket: {e}"),
        }
    }
    // Commands already running finish; their replies have nowhere to go.
    drop(ordered_tx);
    ordered.abort();
}

/// What woke the session up.
enum Step {
    Incoming(Option<Result<Message, axum::Error>>),
    Event(Result<voxdeck_core::control::Outgoing, broadcast::error::RecvError>),
    Reply(WsReply),
    Ping,
    Stop,
}

/// The ordered lane: one command at a time, in arrival order.
async fn run_ordered<B: Backend>(
    backend: B,
    mut requests: mpsc::UnboundedReceiver<WsRequest>,
    replies: mpsc::UnboundedSender<WsReply>,
) {
    while let Some(request) = requests.recv().await {
        let answer = run_one(backend.clone(), request).await;
        if replies.send(answer).is_err() {
            break;
        }
    }
}

/// One command on the blocking pool.
async fn run_one<B: Backend>(backend: B, request: WsRequest) -> WsReply {
    let id = request.id;
    let result = tokio::task::spawn_blocking(move || backend.handle(request.command))
        .await
        .unwrap_or_else(|e| Err(format!("the command failed inside the engine: {e}")));
    reply(id, result)
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_frames_get_words() {
        let request = parse_request(r#"{"id":7,"command":{"cmd":"status"}}"#).unwrap();
        assert_eq!(request.id, 7);
        assert_eq!(request.command, Command::Status);

        let (id, message) = parse_request("not json").unwrap_err();
        assert_eq!(id, 0);
        assert!(message.starts_with("bad request: "), "{message}");

        let (id, message) = parse_request(r#"{"id":9,"command":{"cmd":"no_such"}}"#).unwrap_err();
        assert_eq!(id, 9);
        assert!(message.contains("no_such"), "{message}");

        let (id, message) = parse_request(r#"{"id":-1}"#).unwrap_err();
        assert_eq!(id, 0);

        let answer = reply(id, Err(message));
        assert_eq!((answer.kind.as_str(), answer.ok.is_none()), ("reply", true));
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["type"], "reply");
        assert_eq!(json["ok"], serde_json::Value::Null);
    }

    #[test]
    fn lanes() {
        assert!(!runs_beside(&Command::Press));
        assert!(!runs_beside(&Command::Release));
        assert!(!runs_beside(&Command::Status));
        assert!(runs_beside(&Command::CheckCloud));
    }
}
