//! A WebSocket API connection (`/ws-api/v3`): requests matched to responses
//! by id, rate-limit usage kept, errors typed. It reconnects like the stream
//! connections; requests in flight when it drops fail at once (they may or
//! may not have been executed), and a late or unknown response is logged
//! and ignored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binance_types::wsapi::{RateLimit, WsApiResponse};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};

use crate::auth::{sign_params, Clock, Credentials};
use crate::connection::{Shared, State};
use crate::error::{Error, ErrorKind};
use crate::message::Status;
use crate::transport::{self, Ws};

/// What a connection tells its owner (user sockets).
#[derive(Debug)]
pub(crate) enum ApiEvent {
    /// Open (again).
    Up,
    /// Dropped; pending requests failed.
    Down(String),
    /// A connect try failed, or a reconnect is waiting.
    Status(Status),
    /// A user-data frame: `{"subscriptionId":N,"event":{…}}`.
    Event(Utf8Bytes),
    /// The server announced it will close this connection.
    Shutdown,
    /// Gave up (retries spent) or was closed.
    Ended(Error),
}

enum Command {
    Request {
        method: String,
        params: Option<Map<String, Value>>,
        /// Only on this connection (the n-th opened); fails on any other.
        on: Option<u64>,
        reply: oneshot::Sender<Result<Value, Error>>,
    },
    Close,
}

/// Where a connection's events go, tagged with the owner's id for it.
pub(crate) type Events = (u64, mpsc::UnboundedSender<(u64, ApiEvent)>);

/// What signs requests on a connection.
pub(crate) struct Signer {
    pub credentials: Credentials,
    pub clock: Arc<Clock>,
    pub recv_window: Option<Duration>,
}

struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<State>,
    rate_limits: Arc<Mutex<Vec<RateLimit>>>,
    signer: Option<Arc<Signer>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// A WebSocket API connection. Cheap to clone; closes when the last clone
/// goes (or on [`WsApi::close`]).
///
/// ```no_run
/// # async fn demo(manager: binance_ws::SocketManager) -> Result<(), binance_ws::Error> {
/// let api = manager.ws_api().await?;
/// let time = api.request("time", serde_json::Map::new()).await?;
/// println!("server time {}", time["serverTime"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WsApi {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsApi")
            .field("signed", &self.inner.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl WsApi {
    /// Start a connection to `url`; `events` gets what the owner must know.
    pub(crate) fn spawn(
        url: String,
        shared: Arc<Shared>,
        signer: Option<Arc<Signer>>,
        events: Option<Events>,
    ) -> WsApi {
        let (commands, rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(State::Connecting);
        let rate_limits = Arc::new(Mutex::new(Vec::new()));
        let task = Task {
            url,
            shared,
            commands: rx,
            state: state_tx,
            rate_limits: rate_limits.clone(),
            events,
            pending: HashMap::new(),
            next_id: 1,
            opened: 0,
            heard_any: false,
        };
        tokio::spawn(task.run());
        WsApi {
            inner: Arc::new(Inner {
                commands,
                state,
                rate_limits,
                signer,
            }),
        }
    }

    /// Wait until the connection is open (the first time, or again).
    pub async fn connected(&self) -> Result<(), Error> {
        crate::connection::wait_open(self.inner.state.clone()).await
    }

    /// Send a request and wait for its result (`result` of the response).
    /// Refusals come back as [`ErrorKind::Api`]; a request made while the
    /// connection is down fails at once with [`ErrorKind::Disconnected`].
    pub async fn request(&self, method: &str, params: Map<String, Value>) -> Result<Value, Error> {
        let params = (!params.is_empty()).then_some(params);
        self.send(method, params, None).await
    }

    /// [`WsApi::request`], only on the `on`-th connection (its `Up` count):
    /// if that one dropped, the request fails instead of going out on the next.
    pub(crate) async fn request_on(
        &self,
        on: u64,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, Error> {
        let params = (!params.is_empty()).then_some(params);
        self.send(method, params, Some(on)).await
    }

    /// A signed request (`apiKey`, `timestamp`, `recvWindow`, `signature`
    /// added); after a `-1021` (clock outside `recvWindow`) the server time
    /// is measured again and the request signed and sent once more.
    pub async fn signed_request(
        &self,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, Error> {
        self.signed(method, params, None).await
    }

    /// [`WsApi::signed_request`], only on the `on`-th connection.
    pub(crate) async fn signed_request_on(
        &self,
        on: u64,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, Error> {
        self.signed(method, params, Some(on)).await
    }

    async fn signed(
        &self,
        method: &str,
        params: Map<String, Value>,
        on: Option<u64>,
    ) -> Result<Value, Error> {
        let signer = self.inner.signer.clone().ok_or_else(|| {
            Error::config(format!(
                "{method} is signed, and this connection has no credentials"
            ))
        })?;
        if !signer.clock.is_synced() {
            let _ = self.sync_clock(&signer.clock).await;
        }
        let mut retried = false;
        loop {
            let signed = sign_params(
                &signer.credentials,
                &signer.clock,
                signer.recv_window,
                params.clone(),
            );
            match self.send(method, Some(signed), on).await {
                Err(e) if e.api_code() == Some(-1021) && !retried => {
                    retried = true;
                    tracing::info!("{method}: timestamp refused; measuring the server time again");
                    self.sync_clock(&signer.clock).await?;
                }
                other => return other,
            }
        }
    }

    /// Measure the server-time offset with the `time` method.
    async fn sync_clock(&self, clock: &Clock) -> Result<(), Error> {
        let sent = crate::auth::local_ms();
        let result = self.send("time", None, None).await?;
        let received = crate::auth::local_ms();
        let server = result["serverTime"].as_i64().ok_or_else(|| {
            Error::new(
                ErrorKind::Connect,
                "the `time` method answered without serverTime",
            )
        })?;
        clock.set(server, sent, received);
        Ok(())
    }

    /// The rate-limit usage of the last response that carried it.
    pub fn rate_limits(&self) -> Vec<RateLimit> {
        self.inner.rate_limits.lock().unwrap().clone()
    }

    /// Close the connection (every clone); pending requests fail.
    pub fn close(&self) {
        let _ = self.inner.commands.send(Command::Close);
    }

    async fn send(
        &self,
        method: &str,
        params: Option<Map<String, Value>>,
        on: Option<u64>,
    ) -> Result<Value, Error> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Request {
            method: method.to_owned(),
            params,
            on,
            reply,
        };
        if self.inner.commands.send(command).is_err() {
            return Err(Error::closed());
        }
        answer.await.unwrap_or_else(|_| Err(Error::closed()))
    }
}

struct Pending {
    method: String,
    reply: oneshot::Sender<Result<Value, Error>>,
    deadline: Instant,
}

struct Task {
    url: String,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<State>,
    rate_limits: Arc<Mutex<Vec<RateLimit>>>,
    events: Option<Events>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    /// Connections opened so far (the current one's number).
    opened: u64,
    /// The current session has received a frame (silence is not stability).
    heard_any: bool,
}

type Connecting = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Ws, Error>> + Send>>;

/// Read a replaced connection until its requests are answered (or their
/// time is up), then close it.
async fn drain(
    mut ws: Ws,
    mut pending: HashMap<u64, Pending>,
    rate_limits: Arc<Mutex<Vec<RateLimit>>>,
) {
    let deadline = pending.values().map(|p| p.deadline).max();
    if let Some(deadline) = deadline {
        let reading = async {
            while !pending.is_empty() {
                match ws.next().await {
                    Some(Ok(tungstenite::Message::Text(text))) => {
                        answer(&mut pending, &rate_limits, &text)
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline.into(), reading).await;
    }
    for (_, p) in pending.drain() {
        let _ = p.reply.send(Err(Error::new(
            ErrorKind::NoResponse,
            format!("{}: no answer before the old connection closed; it may or may not have been executed", p.method),
        )));
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// How a session ended.
enum End {
    Closed,
    Dropped(String),
}

impl Task {
    fn tell(&self, event: ApiEvent) {
        if let Some((tag, events)) = &self.events {
            let _ = events.send((*tag, event));
        }
    }

    /// A command while not connected: requests fail fast.
    fn refuse(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Request { method, reply, .. }) => {
                let _ = reply.send(Err(Error::new(
                    ErrorKind::Disconnected,
                    format!("{method}: the WebSocket API connection is down (reconnecting)"),
                )));
                true
            }
            Some(Command::Close) | None => false,
        }
    }

    fn end(&mut self, error: Error) {
        self.fail_pending("the connection was closed");
        let _ = self.state.send(State::Ended(error.clone()));
        self.tell(ApiEvent::Ended(error));
    }

    async fn run(mut self) {
        let options = self.shared.options.clone();
        let mut attempt: u32 = 0;
        loop {
            let shared = self.shared.clone();
            let url = self.url.clone();
            let connecting = async move {
                shared.attempts.acquire().await;
                transport::connect(&url, &shared.net).await
            };
            tokio::pin!(connecting);
            let result = loop {
                tokio::select! {
                    result = &mut connecting => break result,
                    command = self.commands.recv() => {
                        if !self.refuse(command) {
                            return self.end(Error::closed());
                        }
                    }
                }
            };
            let error = match result {
                Ok(ws) => {
                    self.opened += 1;
                    let _ = self.state.send(State::Open);
                    self.tell(ApiEvent::Up);
                    let opened = Instant::now();
                    self.heard_any = false;
                    match self.session(ws).await {
                        End::Closed => return self.end(Error::closed()),
                        End::Dropped(reason) => {
                            if self.heard_any && opened.elapsed() >= options.reconnect.stable_after
                            {
                                attempt = 0;
                            }
                            self.fail_pending(&reason);
                            self.tell(ApiEvent::Down(reason));
                            None
                        }
                    }
                }
                Err(e) => Some(e),
            };
            let _ = self.state.send(State::Connecting);
            attempt += 1;
            if let Some(e) = &error {
                self.tell(ApiEvent::Status(Status::ConnectFailed {
                    reason: e.to_string(),
                }));
            }
            if !options.reconnect.allows(attempt) {
                return self.end(Error::max_reconnects());
            }
            let mut delay = options.reconnect.delay(attempt);
            if let Some(wait) = error.as_ref().and_then(Error::retry_after) {
                delay = delay.max(wait);
            }
            self.tell(ApiEvent::Status(Status::Reconnecting { attempt, delay }));
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = self.commands.recv() => {
                        if !self.refuse(command) {
                            return self.end(Error::closed());
                        }
                    }
                }
            }
        }
    }

    /// Start opening another connection to the same URL.
    fn open(&self) -> Connecting {
        let shared = self.shared.clone();
        let url = self.url.clone();
        Box::pin(async move {
            shared.attempts.acquire().await;
            transport::connect(&url, &shared.net).await
        })
    }

    fn fail_pending(&mut self, reason: &str) {
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(Error::new(
                ErrorKind::Disconnected,
                format!(
                    "{}: connection dropped before the answer ({reason}); the request may or may not have been executed",
                    p.method
                ),
            )));
        }
    }

    async fn session(&mut self, mut ws: Ws) -> End {
        let watchdog = self.shared.options.watchdog;
        let mut last_frame = Instant::now();
        let mut check = tokio::time::interval(Duration::from_millis(
            (watchdog.as_millis() as u64 / 4).clamp(5, 250),
        ));
        // A connection of its own (no owner managing it) moves to a fresh
        // one before Binance's 24-hour cut and on `serverShutdown`; the old
        // one stays until its requests are answered.
        let rotates = self.events.is_none();
        let rotate_after = self.shared.options.rotate_after;
        let rotate_timer = tokio::time::sleep(rotate_after);
        tokio::pin!(rotate_timer);
        let mut next: Option<Connecting> = None;
        loop {
            tokio::select! {
                _ = &mut rotate_timer, if rotates && next.is_none() => {
                    tracing::info!("WebSocket API connection near its lifetime: opening a fresh one");
                    next = Some(self.open());
                }
                opened = async { next.as_mut().expect("guarded").await }, if next.is_some() => {
                    next = None;
                    match opened {
                        Ok(fresh) => {
                            let old = std::mem::replace(&mut ws, fresh);
                            let pending = std::mem::take(&mut self.pending);
                            tokio::spawn(drain(old, pending, self.rate_limits.clone()));
                            self.opened += 1;
                            last_frame = Instant::now();
                            rotate_timer.as_mut().reset((Instant::now() + rotate_after).into());
                        }
                        Err(e) => {
                            tracing::info!("WebSocket API rotation: {e}; trying again in 5 s");
                            rotate_timer.as_mut().reset((Instant::now() + Duration::from_secs(5)).into());
                        }
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Request { method, reply, on: Some(on), .. }) if on != self.opened => {
                        let _ = reply.send(Err(Error::new(
                            ErrorKind::Disconnected,
                            format!("{method}: the connection it was meant for has dropped"),
                        )));
                    }
                    Some(Command::Request { method, params, reply, .. }) => {
                        let id = self.next_id;
                        self.next_id += 1;
                        let mut request = Map::new();
                        request.insert("id".into(), id.into());
                        request.insert("method".into(), method.clone().into());
                        if let Some(params) = params {
                            request.insert("params".into(), Value::Object(params));
                        }
                        let text = Value::Object(request).to_string();
                        let deadline = Instant::now() + self.shared.options.request_timeout;
                        self.pending.insert(id, Pending { method, reply, deadline });
                        // A peer that stops reading must not block the loop (and its deadlines).
                        let limit = self.shared.options.request_timeout;
                        match tokio::time::timeout(limit, ws.send(tungstenite::Message::Text(text.into()))).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return End::Dropped(e.to_string()),
                            Err(_) => return End::Dropped(format!("could not send within {} ms", limit.as_millis())),
                        }
                    }
                    Some(Command::Close) | None => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return End::Closed;
                    }
                },
                _ = check.tick() => {
                    let now = Instant::now();
                    if now.duration_since(last_frame) >= watchdog {
                        return End::Dropped(format!("no frame for {} ms", now.duration_since(last_frame).as_millis()));
                    }
                    let late: Vec<u64> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
                    for id in late {
                        let p = self.pending.remove(&id).expect("listed");
                        let _ = p.reply.send(Err(Error::new(
                            ErrorKind::NoResponse,
                            format!("{}: no answer within {} ms; it may or may not have been executed", p.method, self.shared.options.request_timeout.as_millis()),
                        )));
                    }
                }
                frame = ws.next() => {
                    last_frame = Instant::now();
                    self.heard_any = true;
                    match frame {
                        Some(Ok(tungstenite::Message::Text(text))) => {
                            if self.frame(text) && rotates && next.is_none() {
                                next = Some(self.open());
                            }
                        }
                        Some(Ok(tungstenite::Message::Close(frame))) => {
                            return End::Dropped(frame.map_or("closed by the server".to_owned(), |f| format!("close {}: {}", u16::from(f.code), f.reason)));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return End::Dropped(e.to_string()),
                        None => return End::Dropped("connection closed".into()),
                    }
                }
            }
        }
    }

    /// One text frame: a response, a user-data event, or a connection
    /// event; true when the server announced its shutdown.
    fn frame(&mut self, text: Utf8Bytes) -> bool {
        let head = &text.as_bytes()[..text.len().min(32)];
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        if has(b"\"subscriptionId\"") {
            self.tell(ApiEvent::Event(text));
            return false;
        }
        if has(b"\"event\"") {
            let shutdown = text.as_str().contains("\"serverShutdown\"");
            if shutdown {
                tracing::info!("WebSocket API: serverShutdown announced");
                self.tell(ApiEvent::Shutdown);
            }
            return shutdown;
        }
        answer(&mut self.pending, &self.rate_limits, &text);
        false
    }
}

/// A response: to its pending request (typed), rate limits kept; an
/// unknown or late one is logged and ignored.
fn answer(
    pending: &mut HashMap<u64, Pending>,
    rate_limits: &Mutex<Vec<RateLimit>>,
    text: &Utf8Bytes,
) {
    let response: WsApiResponse = match serde_json::from_str(text.as_str()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("WebSocket API: unreadable frame ignored: {e}");
            return;
        }
    };
    if let Some(limits) = &response.rate_limits {
        *rate_limits.lock().unwrap() = limits.clone();
    }
    let id = serde_json::to_value(&response.id)
        .ok()
        .and_then(|v| v.as_u64());
    let Some(pending) = id.and_then(|id| pending.remove(&id)) else {
        match &response.error {
            // An unsolicited error (session revoked: 401 / -2015) concerns everyone.
            Some(error) if id.is_none() => tracing::warn!(
                "WebSocket API: error without a request: {} {}",
                error.code,
                error.msg
            ),
            _ => {
                tracing::debug!("WebSocket API: response to an unknown or expired request ignored")
            }
        }
        return;
    };
    let result = match (response.error, response.result) {
        (Some(error), _) => {
            let retry_after = error
                .data
                .as_ref()
                .and_then(|d| d.get("retryAfter")?.as_u64())
                .map(|at| {
                    Duration::from_millis(at.saturating_sub(crate::auth::local_ms().max(0) as u64))
                });
            Err(Error::new(
                ErrorKind::Api {
                    status: response.status,
                    code: error.code,
                    retry_after,
                },
                format!(
                    "{}: Binance error {} (HTTP {}): {}",
                    pending.method, error.code, response.status, error.msg
                ),
            ))
        }
        (None, result) => Ok(result.unwrap_or(Value::Null)),
    };
    let _ = pending.reply.send(result);
}
