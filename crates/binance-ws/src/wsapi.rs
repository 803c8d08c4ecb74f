//! A WebSocket API connection (`/ws-api/v3`): requests matched to responses
//! by id, rate-limit usage kept, errors typed. It reconnects like the stream
//! connections; requests in flight when it drops fail at once (they may or
//! may not have been executed), and a late or unknown response is logged
//! and ignored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binance_types::control::RequestId;
use binance_types::peek::{peek, Peek};
use binance_types::wsapi::{RateLimit, WsApiRequest, WsApiResponse};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};

use crate::auth::{sign_params, Clock, Credentials};
use crate::error::{Error, ErrorKind};
use crate::link::{
    self, close_quietly, After, Flow, LinkEnv, LinkEvent, Phase, Protocol, Settings, State, Which,
};
use crate::message::Status;
use crate::transport::Ws;

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
    /// Start a connection to `url`; `events` gets what the owner must know
    /// (a connection with an owner does not rotate by itself: the owner
    /// replaces it).
    pub(crate) fn spawn(
        url: String,
        env: Arc<LinkEnv>,
        signer: Option<Arc<Signer>>,
        events: Option<Events>,
        keepalive: Option<Duration>,
    ) -> WsApi {
        let options = &env.options;
        let rotates = events.is_none();
        let settings = Settings {
            rotate_after: rotates.then_some(options.rotate_after),
            // Requests go on the new connection as soon as it is open; the
            // old one stays until those sent on it are answered.
            overlap: Duration::ZERO,
            pace: None,
            send_timeout: options.request_timeout,
            keepalive,
        };
        let rate_limits = Arc::new(Mutex::new(Vec::new()));
        let api = Api {
            url,
            rate_limits: rate_limits.clone(),
            events,
            pending: HashMap::new(),
            outbox: VecDeque::new(),
            next_id: 1,
            opened: 0,
            request_timeout: options.request_timeout,
            rotates,
        };
        let (commands, state) = link::spawn(env, settings, api, Box::new(|| {}));
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
        crate::link::wait_open(self.inner.state.clone()).await
    }

    /// Send a request and wait for its result (`result` of the response).
    /// Refusals come back as [`ErrorKind::Api`]; a request made while the
    /// connection is down fails at once with [`ErrorKind::Disconnected`].
    ///
    /// `params` is anything that serialises to a JSON object (a struct, a
    /// `serde_json::Map`, `json!({…})`), or `()` / `None` for none.
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, Error> {
        self.send(method, params_of(method, params)?, None).await
    }

    /// [`WsApi::request`], only on the `on`-th connection (its `Up` count):
    /// if that one dropped, the request fails instead of going out on the next.
    pub(crate) async fn request_on(
        &self,
        on: u64,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Value, Error> {
        self.send(method, params, Some(on)).await
    }

    /// A signed request (`apiKey`, `timestamp`, `recvWindow`, `signature`
    /// added); after a `-1021` (clock outside `recvWindow`) the server time
    /// is measured again and the request signed and sent once more.
    pub async fn signed_request(
        &self,
        method: &str,
        params: impl Serialize,
    ) -> Result<Value, Error> {
        let params = params_of(method, params)?;
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
            match self.send(method, signed, on).await {
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
        let result = self.send("time", Map::new(), None).await?;
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

    /// Stop: the connection (of every clone) closes, pending requests fail
    /// and later ones answer [`ErrorKind::Closed`]; `close` returns once the
    /// connection is closed (waiting at most about two seconds), as on
    /// every socket type.
    pub async fn close(&self) {
        self.shut();
        crate::link::wait_ended(self.inner.state.clone()).await;
    }

    /// Close without waiting.
    pub(crate) fn shut(&self) {
        let _ = self.inner.commands.send(Command::Close);
    }

    async fn send(
        &self,
        method: &str,
        params: Map<String, Value>,
        on: Option<u64>,
    ) -> Result<Value, Error> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Request {
            method: method.to_owned(),
            params: (!params.is_empty()).then_some(params),
            on,
            reply,
        };
        if self.inner.commands.send(command).is_err() {
            return Err(Error::closed());
        }
        answer.await.unwrap_or_else(|_| Err(Error::closed()))
    }
}

/// Request parameters as a JSON object (empty for `()` / `None`).
fn params_of(method: &str, params: impl Serialize) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(params) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => {
            let what = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            Err(Error::config(format!(
                "{method}: parameters must serialise to a JSON object (a struct, a map, \
                 json!({{…}})) or to nothing (`()`), not to {what}"
            )))
        }
        Err(e) => Err(Error::config(format!(
            "{method}: parameters do not serialise: {e}"
        ))),
    }
}

struct Pending {
    method: String,
    reply: oneshot::Sender<Result<Value, Error>>,
    deadline: Instant,
}

/// Requests over a [`link`](crate::link): ids, deadlines, rate limits, and
/// the owner's events.
struct Api {
    url: String,
    rate_limits: Arc<Mutex<Vec<RateLimit>>>,
    events: Option<Events>,
    /// Sent (or queued), not yet answered.
    pending: HashMap<u64, Pending>,
    /// Queued, not yet sent.
    outbox: VecDeque<(u64, String)>,
    next_id: u64,
    /// Connections opened so far (the current one's number).
    opened: u64,
    request_timeout: Duration,
    /// A connection of its own (no owner managing it) moves to a fresh one
    /// before Binance's 24-hour cut and on `serverShutdown`.
    rotates: bool,
}

impl Protocol for Api {
    type Command = Command;

    fn url(&mut self) -> String {
        self.url.clone()
    }

    fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Opened { .. } => {
                self.opened += 1;
                self.tell(ApiEvent::Up);
            }
            LinkEvent::Dropped(reason) => {
                self.fail_pending(&reason);
                self.tell(ApiEvent::Down(reason));
            }
            LinkEvent::ConnectFailed(reason) => {
                self.tell(ApiEvent::Status(Status::ConnectFailed { reason }))
            }
            LinkEvent::Reconnecting { attempt, delay } => {
                self.tell(ApiEvent::Status(Status::Reconnecting { attempt, delay }))
            }
            LinkEvent::Rotated => {}
            LinkEvent::Ended(error) => {
                self.fail_pending("the connection was closed");
                self.tell(ApiEvent::Ended(error));
            }
        }
    }

    fn on_command(&mut self, command: Command, open: bool) -> Flow {
        let (method, params, on, reply) = match command {
            Command::Close => return Flow::Close,
            Command::Request {
                method,
                params,
                on,
                reply,
            } => (method, params, on, reply),
        };
        if !open {
            // Requests fail fast while the connection is down.
            let _ = reply.send(Err(Error::new(
                ErrorKind::Disconnected,
                format!("{method}: the WebSocket API connection is down (reconnecting)"),
            )));
            return Flow::Continue;
        }
        if on.is_some_and(|on| on != self.opened) {
            let _ = reply.send(Err(Error::new(
                ErrorKind::Disconnected,
                format!("{method}: the connection it was meant for has dropped"),
            )));
            return Flow::Continue;
        }
        let id = self.next_id;
        self.next_id += 1;
        let text = serde_json::to_string(&WsApiRequest {
            id: RequestId::Int(id as i64),
            method: method.clone(),
            params,
        })
        .expect("requests serialise");
        let deadline = Instant::now() + self.request_timeout;
        self.pending.insert(
            id,
            Pending {
                method,
                reply,
                deadline,
            },
        );
        self.outbox.push_back((id, text));
        Flow::Continue
    }

    /// A response, a user-data event, or a connection event.
    fn on_frame(&mut self, text: Utf8Bytes, _from: Which) -> After {
        match peek(text.as_bytes()) {
            Peek::UserEvent { .. } => self.tell(ApiEvent::Event(text)),
            Peek::ServerShutdown => {
                tracing::info!("WebSocket API: serverShutdown announced");
                self.tell(ApiEvent::Shutdown);
                if self.rotates {
                    return After::Rotate;
                }
            }
            Peek::ConnectionEvent => {}
            _ => answer(&mut self.pending, &self.rate_limits, &text),
        }
        After::Nothing
    }

    fn on_rotation(&mut self, phase: Phase) {
        if phase == Phase::Switched {
            self.opened += 1;
        }
    }

    fn has_outgoing(&self) -> bool {
        !self.outbox.is_empty()
    }

    fn outgoing(&mut self) -> Option<String> {
        self.outbox.pop_front().map(|(_, text)| text)
    }

    fn tick(&mut self, _now: tokio::time::Instant, _held: bool, _rotating: bool) -> After {
        let now = Instant::now();
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            let p = self.pending.remove(&id).expect("listed");
            self.outbox.retain(|(queued, _)| *queued != id);
            let _ = p.reply.send(Err(Error::new(
                ErrorKind::NoResponse,
                format!(
                    "{}: no answer within {} ms; it may or may not have been executed",
                    p.method,
                    self.request_timeout.as_millis()
                ),
            )));
        }
        After::Nothing
    }

    /// The old connection stays until the requests sent on it are answered.
    fn retire(&mut self, old: Ws) {
        let queued: HashSet<u64> = self.outbox.iter().map(|(id, _)| *id).collect();
        let sent: Vec<u64> = self
            .pending
            .keys()
            .filter(|id| !queued.contains(id))
            .copied()
            .collect();
        let on_old = sent
            .into_iter()
            .filter_map(|id| self.pending.remove_entry(&id))
            .collect();
        tokio::spawn(drain(old, on_old, self.rate_limits.clone()));
    }
}

impl Api {
    fn tell(&self, event: ApiEvent) {
        if let Some((tag, events)) = &self.events {
            let _ = events.send((*tag, event));
        }
    }

    fn fail_pending(&mut self, reason: &str) {
        let unsent: HashSet<u64> = self.outbox.drain(..).map(|(id, _)| id).collect();
        for (id, p) in self.pending.drain() {
            let what = match unsent.contains(&id) {
                true => "it was not sent",
                false => "the request may or may not have been executed",
            };
            let _ = p.reply.send(Err(Error::new(
                ErrorKind::Disconnected,
                format!(
                    "{}: connection dropped before the answer ({reason}); {what}",
                    p.method
                ),
            )));
        }
    }
}

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
    close_quietly(ws).await;
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

#[cfg(test)]
mod tests {
    use super::params_of;

    /// Parameters are anything that serialises to an object, or nothing;
    /// anything else is refused with a message naming the method and what
    /// was given.
    #[test]
    fn parameters_are_an_object_or_nothing() {
        #[derive(serde::Serialize)]
        struct Depth {
            symbol: &'static str,
            limit: u32,
        }
        let map = params_of(
            "depth",
            Depth {
                symbol: "BTCUSDT",
                limit: 5,
            },
        )
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(map),
            serde_json::json!({"symbol": "BTCUSDT", "limit": 5})
        );
        assert!(params_of("time", ()).unwrap().is_empty());
        assert!(params_of("time", None::<u8>).unwrap().is_empty());
        let refused = params_of("depth", vec![1, 2]).unwrap_err().to_string();
        assert!(
            refused.contains("depth") && refused.contains("an array"),
            "{refused}"
        );
    }
}
