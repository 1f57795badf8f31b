//! A panel session over `voxdeck serve`'s `/ws`, as a front end holds one: JSON commands with
//! ids, and their replies picked out of the event stream.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::stream::MaybeTlsStream;

pub struct PanelSocket {
    socket: tungstenite::WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl PanelSocket {
    /// Connects to the `/ws` of the panel `serving` (the URL serve printed).
    pub fn connect(serving: &str) -> PanelSocket {
        let ws = format!("{}/ws", serving.trim_end_matches('/').replacen("http://", "ws://", 1));
        let (socket, _) = tungstenite::connect(ws.as_str()).unwrap_or_else(|e| panic!("{ws}: {e}"));
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        }
        PanelSocket { socket, next_id: 1 }
    }

    /// Sends `command` and returns its whole reply (`ok` or `error`).
    pub fn request(&mut self, command: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "command": command}).to_string();
        self.socket.send(Message::text(request)).expect("send");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let message = match self.socket.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => panic!("the WebSocket failed: {e}"),
            };
            let Message::Text(text) = message else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if v["type"] == "reply" && v["id"] == id {
                return v;
            }
        }
        panic!("no reply to {command} within 60 s");
    }

    /// Sends `command` and returns its reply's `ok` (panics on an error reply).
    pub fn ask(&mut self, command: Value) -> Value {
        let v = self.request(command.clone());
        assert!(v["error"].is_null(), "{command}: {v}");
        v["ok"].clone()
    }
}
