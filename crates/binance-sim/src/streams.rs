//! The stream server (`/ws/<name>`, `/ws`, `/stream?streams=…`, `/stream`):
//! the names a connection asks for, checked as Binance checks them, and its
//! [`Protocol`]: hub frames out, live-subscription requests in.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use binance_types::control::{ControlError, ControlRequest, ControlResponse};
use binance_types::market::ServerShutdown;
use binance_types::{Millis, StreamName, Time};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::api_error::{binance_error, retry_after};
use crate::faults::ConnKind;
use crate::hub::{Inbox, Published};
use crate::market::Market;
use crate::session::{self, Notice, Outbox, Protocol};
use crate::shared::{percent_decode, stream_query, ConnMeta, Shared, Unit};

/// `GET /ws`, `/ws/<names>`, `/stream`: upgrade to a stream connection.
pub(crate) async fn upgrade(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let query = stream_query(uri.query().map(str::to_owned));
    let Some((names, combined)) = requested(uri.path(), &query) else {
        return crate::rest::not_found().await;
    };
    if let Some((status, retry)) = s.faults.upgrade_rejection() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        return retry_after(
            status,
            retry,
            -1003,
            "Too many requests; current limit is exceeded.",
        );
    }
    if let Some(refused) = s.over_attempt_limit(meta.peer.ip()) {
        return refused;
    }
    let unit = match Unit::from_query(&query) {
        Ok(unit) => unit,
        Err(other) => {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1194,
                &format!("Invalid time unit `{other}`; valid: MILLISECOND, MICROSECOND."),
            )
        }
    };
    if names.len() > s.limits.max_streams {
        return binance_error(StatusCode::BAD_REQUEST, -1, "Too many streams requested.");
    }
    let mut canonical = Vec::with_capacity(names.len());
    for name in &names {
        match check_stream(s.exchange.market(), name) {
            Ok(name) => canonical.push(name),
            // No `@`: what Binance reads as a listen key (`/ws/<listenKey>`);
            // one it does not know, such as ccxt's connection index in
            // `/ws/0`, opens a connection that carries nothing until SUBSCRIBE.
            Err(_) if !name.contains('@') && !name.starts_with('!') => {}
            Err(msg) => return binance_error(StatusCode::BAD_REQUEST, -1121, &msg),
        }
    }
    if let (Some(flood), [name]) = (s.flood, &canonical[..]) {
        if let Ok(StreamName::Trade(symbol)) = name.parse::<StreamName>() {
            return ws.on_upgrade(move |socket| crate::flood::run(socket, symbol, flood, unit));
        }
    }
    ws.max_message_size(s.limits.max_incoming_frame)
        .on_upgrade(move |socket| {
            session::run(socket, s.clone(), meta, move |conn| {
                Streams::start(s, conn, canonical, combined, unit)
            })
        })
}

/// The stream names of a stream-server path (`/ws/<name>/<name>…`, `/ws`,
/// `/stream?streams=<name>/<name>…`, `/stream`) and whether frames come
/// combined; `None` for other paths.
pub(crate) fn requested(
    path: &str,
    query: &HashMap<String, String>,
) -> Option<(Vec<String>, bool)> {
    let split = |names: &str| -> Vec<String> {
        names
            .split('/')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match path {
        "/ws" => Some((Vec::new(), false)),
        "/stream" => Some((
            query.get("streams").map(|s| split(s)).unwrap_or_default(),
            true,
        )),
        _ => path
            .strip_prefix("/ws/")
            .map(|names| (split(&percent_decode(names)), false)),
    }
}

/// The stream's canonical name if the market serves it; the reason if not.
pub(crate) fn check_stream(market: &Market, name: &str) -> Result<String, String> {
    let parsed: StreamName = alias(name).parse().map_err(|e| format!("{e}"))?;
    if market.supports(&parsed) {
        Ok(parsed.to_string())
    } else {
        Err(format!(
            "stream `{name}` is not simulated (unknown symbol, or a stream type not simulated)"
        ))
    }
}

/// The documented name of a stream Binance also serves under another
/// spelling: python-binance's `miniticker_socket()` has opened
/// `!miniTicker@arr@1000ms` against production for years, and gets the array.
fn alias(name: &str) -> &str {
    match name {
        "!miniTicker@arr@1000ms" => "!miniTicker@arr",
        other => other,
    }
}

/// One stream connection: its subscriptions in the hub, raw or combined.
struct Streams {
    s: Shared,
    conn: u64,
    inbox: Inbox,
    subscribed: BTreeSet<String>,
    combined: bool,
    unit: Unit,
}

impl Streams {
    fn start(
        s: Shared,
        conn: u64,
        names: Vec<String>,
        combined: bool,
        unit: Unit,
    ) -> (Self, Outbox<Arc<Published>>) {
        let (inbox, outbox) = mpsc::channel(s.limits.send_queue);
        let mut streams = Streams {
            s,
            conn,
            inbox,
            subscribed: BTreeSet::new(),
            combined,
            unit,
        };
        for name in names {
            streams.subscribe(name);
        }
        (streams, Outbox::Bounded(outbox))
    }

    fn subscribe(&mut self, name: String) {
        self.s
            .hub
            .subscribe(&self.unit.hub_key(&name), self.conn, &self.inbox);
        self.subscribed.insert(name);
    }

    /// Answer one control request as Binance does.
    fn control(&mut self, bytes: &[u8]) -> ControlResponse {
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
        let market = self.s.exchange.market();
        let result = match request {
            ControlRequest::Subscribe { streams, .. } => {
                let canonical: Result<Vec<String>, String> =
                    streams.iter().map(|n| check_stream(market, n)).collect();
                match canonical {
                    Err(_) => Err(ControlError::invalid_stream()),
                    Ok(names) => {
                        let new: BTreeSet<String> = names
                            .into_iter()
                            .filter(|n| !self.subscribed.contains(n))
                            .collect();
                        if self.subscribed.len() + new.len() > self.s.limits.max_streams {
                            Err(ControlError::new(2, "Invalid request: too many streams"))
                        } else {
                            new.into_iter().for_each(|name| self.subscribe(name));
                            Ok(Value::Null)
                        }
                    }
                }
            }
            ControlRequest::Unsubscribe { streams, .. } => {
                for name in streams {
                    let name = check_stream(market, &name).unwrap_or(name);
                    self.s.hub.unsubscribe(&self.unit.hub_key(&name), self.conn);
                    self.subscribed.remove(&name);
                }
                Ok(Value::Null)
            }
            ControlRequest::ListSubscriptions { .. } => Ok(Value::Array(
                self.subscribed.iter().cloned().map(Value::String).collect(),
            )),
            ControlRequest::SetProperty { value, .. } => {
                self.combined = value.as_bool().unwrap_or(self.combined);
                Ok(Value::Null)
            }
            ControlRequest::GetProperty { .. } => Ok(Value::Bool(self.combined)),
            _ => Err(ControlError::new(2, "Invalid request")),
        };
        ControlResponse { id, result }
    }
}

impl Protocol for Streams {
    type Item = Arc<Published>;
    const KIND: ConnKind = ConnKind::Stream;

    fn frame(&self, item: Arc<Published>) -> String {
        item.frame(self.combined)
    }

    fn frame_delay(&self) -> std::time::Duration {
        self.s.faults.frame_delay()
    }

    fn incoming_limit(&self) -> Option<u32> {
        Some(self.s.limits.max_incoming_per_second)
    }

    async fn answer(&mut self, text: String) -> Option<String> {
        let reply = self.control(text.as_bytes());
        Some(serde_json::to_string(&reply).expect("responses serialise"))
    }

    fn notice(&self, notice: Notice) -> String {
        match notice {
            Notice::Malformed => {
                r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"#
                    .to_owned()
            }
            Notice::Oversized(bytes) => {
                format!(r#"{{"e":"oversized","pad":"{}"}}"#, "x".repeat(bytes))
            }
            Notice::ServerShutdown => {
                let event = self.unit.encode(ServerShutdown::<Millis> {
                    event_time: Time::now(),
                });
                match self.combined {
                    true => Published {
                        stream: "!serverShutdown".into(),
                        json: event,
                    }
                    .frame(true),
                    false => event,
                }
            }
        }
    }

    fn close(&mut self) {
        for name in &self.subscribed {
            self.s.hub.unsubscribe(&self.unit.hub_key(name), self.conn);
        }
    }
}
