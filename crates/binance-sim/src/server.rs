//! The stream server (`/ws/<name>`, `/ws`, `/stream?streams=…`, `/stream`),
//! the REST endpoints and the admin endpoints, on one port, plain or TLS.
//!
//! Connections are accepted here rather than by `axum::serve` so that each
//! keeps a second handle on its TCP socket: a reset fault needs it.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use binance_types::control::{ControlError, ControlRequest, ControlResponse};
use binance_types::StreamName;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::faults::{Command, Conn, DropMode, FaultState};
use crate::hub::{Hub, Published};
use crate::market::{now_ms, Market};
use crate::Limits;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub market: Arc<Market>,
    pub hub: Arc<Hub>,
    pub faults: Arc<FaultState>,
    pub limits: Arc<Limits>,
    pub weights: Arc<crate::rest::Weights>,
    pub accounts: crate::accounts::Accounts,
    pub flood: Option<crate::Flood>,
    attempts: Arc<Mutex<HashMap<IpAddr, VecDeque<Instant>>>>,
}

impl Shared {
    pub fn new(
        market: Arc<Market>,
        hub: Arc<Hub>,
        faults: Arc<FaultState>,
        limits: Limits,
        flood: Option<crate::Flood>,
        weights: Arc<crate::rest::Weights>,
        accounts: crate::accounts::Accounts,
    ) -> Self {
        faults.attach_hub(&hub);
        Shared {
            accounts,
            flood,
            market,
            hub,
            faults,
            limits: Arc::new(limits),
            weights,
            attempts: Arc::default(),
        }
    }

    /// Count a connection attempt from `ip`; the wait before the next one is
    /// allowed when over Binance's limit.
    pub(crate) fn over_attempt_limit(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let window = self.limits.connection_attempt_window;
        let mut attempts = self.attempts.lock().unwrap();
        let times = attempts.entry(ip).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= self.limits.max_connection_attempts as usize {
            let oldest = *times.front()?;
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        None
    }
}

/// The peer and a second handle on its TCP socket, for each request.
#[derive(Clone)]
pub(crate) struct ConnMeta {
    pub peer: SocketAddr,
    pub(crate) raw: Arc<std::net::TcpStream>,
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/ws", get(ws_bare))
        .route("/ws/{*names}", get(ws_raw))
        .route("/stream", get(ws_combined))
        .route("/ws-api/v3", get(crate::wsapi::upgrade))
        .merge(crate::rest_user::routes())
        .merge(crate::rest::routes())
        .merge(crate::admin::routes())
        .fallback(crate::rest::not_found)
        .with_state(shared)
}

/// Accept connections until the listener fails.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Shared,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let app = router(shared.clone());
    loop {
        let (tcp, peer) = listener.accept().await?;
        if shared.faults.refusing() {
            reset(&tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let std = tcp.into_std()?;
        let raw = Arc::new(std.try_clone()?);
        let tcp = tokio::net::TcpStream::from_std(std)?;
        let app = app.clone().layer(Extension(ConnMeta { peer, raw }));
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await
                }
            };
            drop(result);
        });
    }
}

/// Close a socket with a TCP reset (linger zero).
pub(crate) fn reset<S: std::os::fd::AsFd>(socket: &S) {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
}

/// Query parameters with `%XX` decoded but `+` kept: stream names such as
/// `btcusdt@kline_1d@+08:00` are written into URLs as they are.
pub(crate) fn stream_query(raw: Option<String>) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            match (
                b[i],
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (c, _, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

async fn ws_bare(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let query = stream_query(query);
    upgrade(s, meta, ws, Vec::new(), false, &query)
}

async fn ws_raw(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    Path(names): Path<String>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let query = stream_query(query);
    let names = names
        .split('/')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    upgrade(s, meta, ws, names, false, &query)
}

async fn ws_combined(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let query = stream_query(query);
    let names = query
        .get("streams")
        .map(|s| {
            s.split('/')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    upgrade(s, meta, ws, names, true, &query)
}

/// Time unit of a connection, from its `timeUnit` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millis,
    Micros,
}

fn upgrade(
    s: Shared,
    meta: ConnMeta,
    ws: WebSocketUpgrade,
    names: Vec<String>,
    combined: bool,
    query: &HashMap<String, String>,
) -> Response {
    if let Some((status, retry)) = s.faults.upgrade_rejection() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        return retry_after(
            status,
            retry,
            -1003,
            "Too many requests; current limit is exceeded.",
        );
    }
    if let Some(wait) = s.over_attempt_limit(meta.peer.ip()) {
        return retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            -1003,
            "Too many connection attempts; current limit is 300 per 5 minutes.",
        );
    }
    let unit = match query.get("timeUnit").map(String::as_str) {
        None | Some("MILLISECOND" | "millisecond") => Unit::Millis,
        Some("MICROSECOND" | "microsecond") => Unit::Micros,
        Some(other) => {
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
        match check_stream(&s.market, name) {
            Ok(name) => canonical.push(name),
            // No `@`: what Binance reads as a listen key (`/ws/<listenKey>`);
            // one it does not know, such as ccxt's connection index in
            // `/ws/0`, opens a connection that carries nothing until SUBSCRIBE.
            Err(_) if !name.contains('@') && !name.starts_with('!') => {}
            Err(msg) => return binance_error(StatusCode::BAD_REQUEST, -1121, &msg),
        }
    }
    let max_frame = s.limits.max_incoming_frame;
    if let (Some(flood), [name]) = (s.flood, &canonical[..]) {
        if let Ok(StreamName::Trade(symbol)) = name.parse::<StreamName>() {
            return ws.on_upgrade(move |socket| crate::flood::run(socket, symbol, flood, unit));
        }
    }
    ws.max_message_size(max_frame)
        .on_upgrade(move |socket| connection(socket, s, meta, canonical, combined, unit))
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

pub(crate) fn binance_error(status: StatusCode, code: i64, msg: &str) -> Response {
    (status, Json(json!({ "code": code, "msg": msg }))).into_response()
}

pub(crate) fn retry_after(status: StatusCode, wait: Duration, code: i64, msg: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = binance_error(status, code, msg);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        secs.to_string().parse().expect("digits"),
    );
    response
}

/// The hub key for a stream in a time unit: microsecond subscribers get
/// their own key so the market encodes each unit once.
pub(crate) fn hub_key(stream: &str, unit: Unit) -> String {
    match unit {
        Unit::Millis => stream.to_owned(),
        Unit::Micros => format!("{stream}{}", crate::hub::MICROS_SUFFIX),
    }
}

/// What a client frame asks of a connection.
pub(crate) enum Incoming {
    /// A request to answer.
    Text(String),
    /// Nothing (a ping or pong).
    Nothing,
    /// The client closed.
    Closed,
}

/// End a connection the way a fault or limit asked: TCP reset, close frame,
/// or (for `None`) nothing more.
pub(crate) async fn finish(
    mut tx: futures_util::stream::SplitSink<WebSocket, Message>,
    meta: &ConnMeta,
    end: Option<DropMode>,
) {
    match end {
        Some(DropMode::Reset) => reset(&*meta.raw),
        Some(DropMode::Close { code, reason }) => {
            let _ = tx
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
        None => {}
    }
}

/// Binance's heartbeat on one connection: a ping every `ping_interval`, and
/// a close (1008 "Pong timeout") when one goes unanswered `pong_timeout`.
/// Only a pong echoing one of our pings counts; unsolicited pongs do not.
pub(crate) struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_ping: Instant,
    seq: u64,
    pending: VecDeque<(u64, Instant)>,
    /// Close (1001 "Server shutdown") at this time, after a `serverShutdown`.
    shutdown_at: Option<Instant>,
}

impl Heartbeat {
    pub fn new(limits: &Limits) -> Self {
        Heartbeat {
            interval: limits.ping_interval,
            timeout: limits.pong_timeout,
            last_ping: Instant::now(),
            seq: 0,
            pending: VecDeque::new(),
            shutdown_at: None,
        }
    }

    /// How often [`Heartbeat::tick`] should run.
    pub fn check_every(&self) -> Duration {
        (self.interval.min(self.timeout) / 4).max(Duration::from_millis(5))
    }

    /// A frame from the client: its text, or nothing to answer (pongs are
    /// counted here), or the end.
    pub fn incoming(&mut self, message: Message) -> Incoming {
        match message {
            Message::Text(t) => Incoming::Text(t.to_string()),
            Message::Binary(b) => Incoming::Text(String::from_utf8_lossy(&b).into_owned()),
            Message::Pong(payload) => {
                self.pong(&payload);
                Incoming::Nothing
            }
            Message::Ping(_) => Incoming::Nothing,
            Message::Close(_) => Incoming::Closed,
        }
    }

    /// A pong arrived.
    fn pong(&mut self, payload: &[u8]) {
        if let Ok(seq) = <[u8; 8]>::try_from(payload).map(u64::from_be_bytes) {
            if let Some(pos) = self.pending.iter().position(|(q, _)| *q == seq) {
                self.pending.drain(..=pos);
            }
        }
    }

    /// A `serverShutdown` went out: close this long after it (never: `None`).
    pub fn close_after(&mut self, after: Option<Duration>) {
        self.shutdown_at = after.map(|d| Instant::now() + d);
    }

    /// The ping to send now, if one is due; the close when a ping went
    /// unanswered or the announced shutdown is due.
    pub fn tick(&mut self, now: Instant) -> Result<Option<Vec<u8>>, DropMode> {
        if self.shutdown_at.is_some_and(|t| now >= t) {
            return Err(DropMode::Close {
                code: 1001,
                reason: "Server shutdown".into(),
            });
        }
        if self
            .pending
            .front()
            .is_some_and(|(_, sent)| now.duration_since(*sent) >= self.timeout)
        {
            return Err(DropMode::Close {
                code: 1008,
                reason: "Pong timeout".into(),
            });
        }
        if now.duration_since(self.last_ping) < self.interval {
            return Ok(None);
        }
        self.last_ping = now;
        self.seq += 1;
        self.pending.push_back((self.seq, now));
        Ok(Some(self.seq.to_be_bytes().to_vec()))
    }
}

/// One client connection: frames out from the hub, control requests in,
/// pings, limits and faults.
async fn connection(
    socket: WebSocket,
    s: Shared,
    meta: ConnMeta,
    names: Vec<String>,
    mut combined: bool,
    unit: Unit,
) {
    let (cmd_tx, mut commands) = mpsc::unbounded_channel();
    let id = s.faults.register(Conn {
        commands: cmd_tx,
        kind: crate::faults::ConnKind::Stream,
    });
    let (inbox, mut outbox) = mpsc::channel::<Arc<Published>>(s.limits.send_queue);
    let mut subscribed = BTreeSet::new();
    for name in names {
        s.hub.subscribe(&hub_key(&name, unit), id, &inbox);
        subscribed.insert(name);
    }
    let limits = s.limits.clone();
    let (mut tx, mut rx) = socket.split();
    let lifetime = tokio::time::sleep(limits.max_lifetime);
    tokio::pin!(lifetime);
    let mut heartbeat = Heartbeat::new(&limits);
    let mut check = tokio::time::interval(heartbeat.check_every());
    let mut incoming: VecDeque<Instant> = VecDeque::new();
    let mut batch: Vec<Arc<Published>> = Vec::with_capacity(256);

    let end: Option<DropMode> = loop {
        tokio::select! {
            n = outbox.recv_many(&mut batch, 256) => {
                if n == 0 {
                    // The hub dropped us: we could not keep up.
                    break Some(DropMode::Close { code: 1008, reason: "Slow consumer".into() });
                }
                let delay = s.faults.frame_delay();
                let mut failed = false;
                for p in batch.drain(..) {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if tx.feed(Message::Text(p.frame(combined).into())).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || tx.flush().await.is_err() {
                    break None;
                }
            }
            message = rx.next() => {
                let Some(Ok(message)) = message else { break None };
                let now = Instant::now();
                incoming.push_back(now);
                while incoming.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
                    incoming.pop_front();
                }
                if incoming.len() > limits.max_incoming_per_second as usize {
                    break Some(DropMode::Close { code: 1008, reason: "Too many messages".into() });
                }
                let text = match heartbeat.incoming(message) {
                    Incoming::Text(text) => text,
                    Incoming::Nothing => continue,
                    Incoming::Closed => break None,
                };
                let reply = control(&s, id, &inbox, &mut subscribed, &mut combined, unit, text.as_bytes());
                let reply = serde_json::to_string(&reply).expect("responses serialise");
                if tx.send(Message::Text(reply.into())).await.is_err() {
                    break None;
                }
            }
            _ = check.tick() => match heartbeat.tick(Instant::now()) {
                Err(close) => break Some(close),
                Ok(Some(ping)) => {
                    if tx.send(Message::Ping(ping.into())).await.is_err() {
                        break None;
                    }
                }
                Ok(None) => {}
            },
            _ = &mut lifetime => {
                break Some(DropMode::Close { code: 1000, reason: "Connection lifetime reached".into() });
            }
            command = commands.recv() => {
                let Some(command) = command else { break None };
                let text = match command {
                    Command::Drop(mode) => break Some(mode),
                    Command::Stall(duration) => {
                        crate::faults::stall(duration).await;
                        continue;
                    }
                    Command::Malformed => r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"#.to_owned(),
                    Command::Oversized(bytes) => format!(r#"{{"e":"oversized","pad":"{}"}}"#, "x".repeat(bytes)),
                    Command::ServerShutdown(close_after) => {
                        heartbeat.close_after(close_after);
                        let event = format!(r#"{{"e":"serverShutdown","E":{}}}"#, unit_time(now_ms(), unit));
                        if combined {
                            format!(r#"{{"stream":"!serverShutdown","data":{event}}}"#)
                        } else {
                            event
                        }
                    }
                };
                if tx.send(Message::Text(text.into())).await.is_err() {
                    break None;
                }
            }
        }
    };
    for name in &subscribed {
        s.hub.unsubscribe(&hub_key(name, unit), id);
    }
    s.faults.unregister(id);
    finish(tx, &meta, end).await;
}

fn unit_time(ms: u64, unit: Unit) -> u64 {
    match unit {
        Unit::Millis => ms,
        Unit::Micros => ms * 1000,
    }
}

/// Answer one control request as Binance does.
fn control(
    s: &Shared,
    conn: u64,
    inbox: &mpsc::Sender<Arc<Published>>,
    subscribed: &mut BTreeSet<String>,
    combined: &mut bool,
    unit: Unit,
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
            let canonical: Result<Vec<String>, String> =
                streams.iter().map(|n| check_stream(&s.market, n)).collect();
            match canonical {
                Err(_) => Err(ControlError::invalid_stream()),
                Ok(names) => {
                    let new: BTreeSet<String> = names
                        .into_iter()
                        .filter(|n| !subscribed.contains(n))
                        .collect();
                    if subscribed.len() + new.len() > s.limits.max_streams {
                        Err(ControlError::new(2, "Invalid request: too many streams"))
                    } else {
                        for name in new {
                            s.hub.subscribe(&hub_key(&name, unit), conn, inbox);
                            subscribed.insert(name);
                        }
                        Ok(Value::Null)
                    }
                }
            }
        }
        ControlRequest::Unsubscribe { streams, .. } => {
            for name in streams {
                let name = check_stream(&s.market, &name).unwrap_or(name);
                s.hub.unsubscribe(&hub_key(&name, unit), conn);
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
