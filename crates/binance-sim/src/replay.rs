//! Replaying recorded traffic (the capture format of `shared/captures/` and
//! of `bnws record`, in [`binance_types::capture`]): a stream server that
//! plays the recorded frames, at recorded or scaled speed, and a REST server
//! that answers depth requests with the recorded snapshots.
//!
//! The same play is served on the spot paths (`/stream`, `/ws/…`), the USD-M
//! routed paths (`/public/…`, `/market/…`, reference §5.1) and, for COIN-M,
//! the plain ones; depth snapshots on `/api/v3/depth`, `/fapi/v1/depth` and
//! `/dapi/v1/depth` alike, so one server stands in for any venue's capture.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use binance_types::capture;
use binance_types::control::{ControlRequest, ControlResponse};
use futures_util::{SinkExt, StreamExt};

pub use binance_types::capture::Recorded;

/// Read a WebSocket capture file (plain or gzip): the URL it was recorded
/// from and its frames.
pub fn read_ws_capture(path: &Path) -> Result<(String, Vec<Recorded>), String> {
    let capture = std::fs::File::open(path)
        .map_err(capture::CaptureError::from)
        .and_then(capture::read_ws)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((capture.url, capture.frames))
}

/// Read a REST capture file (plain or gzip) into `symbol → body` for depth
/// requests.
pub fn read_depth_capture(path: &Path) -> Result<HashMap<String, String>, String> {
    let answers = std::fs::File::open(path)
        .map_err(capture::CaptureError::from)
        .and_then(capture::read_http)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bodies = HashMap::new();
    for answer in answers {
        if let Some(symbol) = answer
            .url
            .split("symbol=")
            .nth(1)
            .map(|s| s.split('&').next().unwrap_or(s))
        {
            bodies.insert(symbol.to_uppercase(), answer.body);
        }
    }
    Ok(bodies)
}

struct Replay {
    frames: Vec<Recorded>,
    depth: HashMap<String, String>,
    speed: f64,
}

/// A running replay server. Dropping it stops it.
pub struct ReplayServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ReplayServer {
    /// Serve `frames` (each connection gets all of them, in order, once its
    /// first SUBSCRIBE is answered or at once for a URL with streams) and the
    /// depth snapshots. `speed` 1.0 is recorded speed, 10.0 ten times faster,
    /// 0 as fast as possible.
    pub async fn start(
        frames: Vec<Recorded>,
        depth: HashMap<String, String>,
        speed: f64,
    ) -> std::io::Result<ReplayServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(listener, frames, depth, speed).await
    }

    /// The same on a given listener.
    pub async fn serve(
        listener: tokio::net::TcpListener,
        frames: Vec<Recorded>,
        depth: HashMap<String, String>,
        speed: f64,
    ) -> std::io::Result<ReplayServer> {
        let addr = listener.local_addr()?;
        let state = Arc::new(Replay {
            frames,
            depth,
            speed,
        });
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/ws", get(stream))
            .route("/ws/{*name}", get(stream))
            .route("/public/stream", get(stream))
            .route("/public/ws/{*name}", get(stream))
            .route("/market/stream", get(stream))
            .route("/market/ws/{*name}", get(stream))
            .route("/api/v3/depth", get(depth_snapshot))
            .route("/fapi/v1/depth", get(depth_snapshot))
            .route("/dapi/v1/depth", get(depth_snapshot))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ReplayServer { addr, task })
    }

    /// `ws://…` base URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://…` base URL.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn depth_snapshot(
    State(r): State<Arc<Replay>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let symbol = q
        .get("symbol")
        .map(|s| s.to_uppercase())
        .unwrap_or_default();
    match r.depth.get(&symbol) {
        Some(body) => ([("content-type", "application/json")], body.clone()).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            r#"{"code":-1121,"msg":"Invalid symbol."}"#,
        )
            .into_response(),
    }
}

async fn stream(
    State(r): State<Arc<Replay>>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let start_now = q.contains_key("streams");
    ws.on_upgrade(move |socket| play(socket, r, start_now))
}

async fn play(socket: WebSocket, r: Arc<Replay>, mut started: bool) {
    let (mut tx, mut rx) = socket.split();
    let mut next = 0usize;
    let mut origin: Option<(tokio::time::Instant, f64)> = None;
    loop {
        let due = match (started, r.frames.get(next)) {
            (true, Some(frame)) => {
                let (t0, first) = *origin.get_or_insert((tokio::time::Instant::now(), frame.at));
                let offset = if r.speed > 0.0 {
                    (frame.at - first).max(0.0) / r.speed
                } else {
                    0.0
                };
                Some(t0 + Duration::from_secs_f64(offset))
            }
            _ => None,
        };
        tokio::select! {
            _ = async { tokio::time::sleep_until(due.expect("guarded")).await }, if due.is_some() => {
                if tx.send(Message::Text(r.frames[next].text.clone().into())).await.is_err() {
                    return;
                }
                next += 1;
            }
            incoming = rx.next() => {
                let Some(Ok(Message::Text(text))) = incoming else {
                    match incoming {
                        Some(Ok(_)) => continue,
                        _ => return,
                    }
                };
                let reply = match ControlRequest::parse(text.as_bytes()) {
                    Ok(request) => {
                        started = true;
                        let result = match request {
                            ControlRequest::ListSubscriptions { .. } => serde_json::Value::Array(Vec::new()),
                            _ => serde_json::Value::Null,
                        };
                        ControlResponse { id: request.id().clone(), result: Ok(result) }
                    }
                    Err((id, error)) => ControlResponse { id, result: Err(error) },
                };
                let text = serde_json::to_string(&reply).expect("responses serialise");
                if tx.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
