//! The stream server (`/ws/<name>`, `/ws`, `/stream?streams=…`, `/stream`)
//! and the REST endpoints, on one port as Binance's hosts serve them.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use binance_types::control::{ControlError, ControlRequest, ControlResponse};
use binance_types::StreamName;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::hub::Hub;
use crate::market::{now_ms, partial, Market};

/// Binance's cap on streams per connection.
pub const MAX_STREAMS: usize = 1024;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub market: Arc<Market>,
    pub hub: Arc<Hub>,
    next_conn: Arc<AtomicU64>,
}

impl Shared {
    pub fn new(market: Arc<Market>, hub: Arc<Hub>) -> Self {
        Shared {
            market,
            hub,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/ws", get(ws_bare))
        .route("/ws/{*names}", get(ws_raw))
        .route("/stream", get(ws_combined))
        .route("/api/v3/ping", get(|| async { Json(json!({})) }))
        .route(
            "/api/v3/time",
            get(|| async { Json(json!({ "serverTime": now_ms() })) }),
        )
        .route("/api/v3/depth", get(rest_depth))
        .with_state(shared)
}

/// Serve until the listener fails.
pub(crate) async fn serve(listener: TcpListener, shared: Shared) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(shared).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn ws_bare(State(s): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| connection(socket, s, Vec::new(), false))
}

async fn ws_raw(
    State(s): State<Shared>,
    Path(names): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    // `/ws/a/b` is accepted by Binance as several raw streams.
    let names: Vec<String> = names.split('/').map(str::to_owned).collect();
    upgrade(s, ws, names, false)
}

async fn ws_combined(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let names = query
        .get("streams")
        .map(|s| s.split('/').filter(|n| !n.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    upgrade(s, ws, names, true)
}

fn upgrade(s: Shared, ws: WebSocketUpgrade, names: Vec<String>, combined: bool) -> Response {
    if names.len() > MAX_STREAMS {
        return binance_error(StatusCode::BAD_REQUEST, -1, "Too many streams requested.");
    }
    for name in &names {
        if let Err(msg) = check_stream(&s.market, name) {
            return binance_error(StatusCode::BAD_REQUEST, -1121, &msg);
        }
    }
    ws.on_upgrade(move |socket| connection(socket, s, names, combined))
}

/// Whether the market serves this stream name; the reason when it does not.
fn check_stream(market: &Market, name: &str) -> Result<(), String> {
    let parsed: StreamName = name.parse().map_err(|e| format!("{e}"))?;
    if parsed.to_string() != name && parsed.to_string() != name.to_lowercase() {
        return Err(format!("stream `{name}` is not in Binance's spelling"));
    }
    if market.supports(&parsed) {
        Ok(())
    } else {
        Err(format!("stream `{name}` is not simulated (unknown symbol, or a stream type not yet simulated)"))
    }
}

fn binance_error(status: StatusCode, code: i64, msg: &str) -> Response {
    (status, Json(json!({ "code": code, "msg": msg }))).into_response()
}

/// One client connection: frames out from the hub, control requests in.
async fn connection(socket: WebSocket, s: Shared, names: Vec<String>, mut combined: bool) {
    let conn = s.next_conn.fetch_add(1, Ordering::Relaxed);
    let (inbox, mut outbox) = mpsc::channel(64 * 1024);
    let mut subscribed = BTreeSet::new();
    for name in names {
        let name = name.to_lowercase_symbol();
        s.hub.subscribe(&name, conn, &inbox);
        subscribed.insert(name);
    }
    let (mut tx, mut rx) = futures_util::StreamExt::split(socket);
    use futures_util::SinkExt;
    loop {
        tokio::select! {
            published = outbox.recv() => {
                // `None` cannot happen while we hold `inbox`; a full inbox drops us from the hub.
                let Some(p) = published else { break };
                if tx.send(Message::Text(p.frame(combined).into())).await.is_err() {
                    break;
                }
            }
            incoming = futures_util::StreamExt::next(&mut rx) => {
                let Some(Ok(message)) = incoming else { break };
                let text = match message {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let reply = control(&s, conn, &inbox, &mut subscribed, &mut combined, text.as_bytes());
                let reply = serde_json::to_string(&reply).expect("responses serialise");
                if tx.send(Message::Text(reply.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    for name in &subscribed {
        s.hub.unsubscribe(name, conn);
    }
}

/// Answer one control request as Binance does.
fn control(
    s: &Shared,
    conn: u64,
    inbox: &mpsc::Sender<Arc<crate::hub::Published>>,
    subscribed: &mut BTreeSet<String>,
    combined: &mut bool,
    bytes: &[u8],
) -> ControlResponse {
    let request = match ControlRequest::parse(bytes) {
        Ok(r) => r,
        Err((id, error)) => {
            return ControlResponse {
                id,
                result: Err(error),
            }
        }
    };
    let id = request.id().clone();
    let result = match request {
        ControlRequest::Subscribe { streams, .. } => {
            if streams.iter().any(|n| check_stream(&s.market, n).is_err()) {
                Err(ControlError::invalid_stream())
            } else if subscribed.len() + streams.len() > MAX_STREAMS {
                Err(ControlError::new(2, "Invalid request: too many streams"))
            } else {
                for name in streams {
                    let name = name.to_lowercase_symbol();
                    s.hub.subscribe(&name, conn, inbox);
                    subscribed.insert(name);
                }
                Ok(Value::Null)
            }
        }
        ControlRequest::Unsubscribe { streams, .. } => {
            for name in streams {
                let name = name.to_lowercase_symbol();
                s.hub.unsubscribe(&name, conn);
                subscribed.remove(&name);
            }
            Ok(Value::Null)
        }
        ControlRequest::ListSubscriptions { .. } => Ok(Value::Array(
            subscribed.iter().cloned().map(Value::String).collect(),
        )),
        ControlRequest::SetProperty { value, .. } => {
            *combined = value.as_bool().unwrap_or(*combined);
            Ok(Value::Null)
        }
        ControlRequest::GetProperty { .. } => Ok(Value::Bool(*combined)),
        _ => Err(ControlError::new(2, "Invalid request")),
    };
    ControlResponse { id, result }
}

/// Stream names as the hub keys them: the canonical rendering.
trait Canonical {
    fn to_lowercase_symbol(&self) -> String;
}

impl Canonical for String {
    fn to_lowercase_symbol(&self) -> String {
        self.parse::<StreamName>()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| self.clone())
    }
}

/// `GET /api/v3/depth?symbol=…&limit=…`.
async fn rest_depth(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(symbol) = query.get("symbol") else {
        return binance_error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if l >= 1 => l.min(5000),
        Some(_) => {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1100,
                "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
            )
        }
    };
    let Some(market) = s.market.symbol(symbol) else {
        return binance_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.");
    };
    let book = market.lock().unwrap().engine().depth(limit);
    Json(partial(&book)).into_response()
}
