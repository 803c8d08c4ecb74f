//! User data sockets, as Binance runs them since 2026-02-20: spot through a
//! WebSocket API subscription (`userDataStream.subscribe.signature`, or
//! `session.logon` + `userDataStream.subscribe` with an Ed25519 key),
//! cross and isolated margin through a listen token
//! (`POST /sapi/v1/userListenToken` + `userDataStream.subscribe.listenToken`).
//!
//! What python-binance gets wrong, done right:
//! - every (re)connection subscribes again by itself, and
//!   `eventStreamTerminated` makes a new subscription;
//! - the listen token is renewed before it expires, the new subscription
//!   live before the old one ends;
//! - by default two connections carry the same subscription and events are
//!   deduplicated, so a dropped connection loses nothing; if every
//!   connection was down at once, a [`Status::Gap`] says from when to when;
//! - a bounded queue with the same overflow policy and statuses as market sockets.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use binance_types::frame::Envelope;
use binance_types::{DecodeError, Event, Millis, Symbol, TimeUnit};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::auth::{sign_query, KeyType};
use crate::error::{Error, ErrorKind};
use crate::link::{LinkEnv, State};
use crate::message::{Message, Position, Status, StreamEvent};
use crate::queue::Queue;
use crate::task_socket::{task_stream, Starter, TaskSocket};
use crate::wsapi::{ApiEvent, Signer, WsApi};

/// Which account a user socket follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStream {
    /// The spot account.
    Spot,
    /// The cross-margin account.
    Margin,
    /// The isolated-margin account of one symbol.
    IsolatedMargin(Symbol),
}

/// Everything a user socket's task needs.
pub(crate) struct UserSetup {
    pub stream: UserStream,
    pub ws_api_url: String,
    pub rest_url: String,
    pub shared: Arc<LinkEnv>,
    pub signer: Arc<Signer>,
}

/// Settings of one user socket.
#[derive(Debug, Clone)]
struct Settings {
    connections: usize,
    logon: bool,
    token_validity: Option<Duration>,
}

/// A user data socket: the events of one account (`executionReport`,
/// `outboundAccountPosition`, `balanceUpdate`, `listStatus`,
/// `externalLockUpdate`) with the same `connect` / `recv` / `close` /
/// [`futures_util::Stream`] as market sockets.
pub struct UserSocket<U: TimeUnit = Millis>(TaskSocket<U, UserStarter>);

/// What a user socket starts: its task, with the settings of the moment.
pub(crate) struct UserStarter {
    setup: Arc<UserSetup>,
    settings: Settings,
}

impl<U: TimeUnit> UserSocket<U> {
    pub(crate) fn new(setup: UserSetup) -> Self {
        let options = setup.shared.options.clone();
        let starter = UserStarter {
            settings: Settings {
                connections: options.user_connections.clamp(1, 4),
                logon: false,
                token_validity: None,
            },
            setup: Arc::new(setup),
        };
        UserSocket(TaskSocket::new(starter, &options))
    }

    /// How many connections carry the subscription (1 to 4; default from
    /// [`SocketManagerBuilder::user_connections`](crate::SocketManagerBuilder::user_connections), 2). With two, one can
    /// drop and reconnect without losing an event. Set before connecting.
    pub fn connections(mut self, count: usize) -> Self {
        self.0.starter.settings.connections = count.clamp(1, 4);
        self
    }

    /// Spot only: subscribe with `session.logon` + `userDataStream.subscribe`
    /// (Ed25519 keys only) instead of `userDataStream.subscribe.signature`.
    pub fn logon(mut self) -> Self {
        self.0.starter.settings.logon = true;
        self
    }

    /// Margin only: ask for listen tokens valid this long (Binance's default
    /// and maximum: 24 h). The token is renewed before it expires either way.
    pub fn listen_token_validity(mut self, validity: Duration) -> Self {
        self.0.starter.settings.token_validity = Some(validity);
        self
    }

    /// This socket's queue: capacity and overflow policy. Set before connecting.
    pub fn queue(mut self, capacity: usize, overflow: crate::Overflow) -> Self {
        self.0.set_queue(capacity, overflow);
        self
    }

    /// The longest `recv()` waits before a (non-terminal) timeout error.
    pub fn user_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.0.set_user_timeout(timeout);
        self
    }

    /// Open the connections and wait until the subscription is live.
    /// Credentials Binance refuses end here with [`ErrorKind::Auth`].
    pub async fn connect(&mut self) -> Result<(), Error> {
        self.0.connect().await
    }

    /// The next message, connecting first if needed.
    pub async fn recv(&mut self) -> Result<Message<U>, Error> {
        self.0.recv().await
    }

    /// Stop: `recv()` answers [`ErrorKind::Closed`] from now on; the
    /// subscriptions end and the connections close, and `close` returns
    /// once they have (waiting at most about two seconds), as on every
    /// socket type.
    pub async fn close(&mut self) {
        self.0.close().await
    }
}

task_stream!(UserSocket);

impl<U: TimeUnit> Starter<U> for UserStarter {
    fn start(
        &self,
        queue: &Arc<Queue<Message<U>>>,
    ) -> Result<(watch::Receiver<State>, mpsc::UnboundedSender<()>), Error> {
        if self.settings.logon {
            if self.setup.stream != UserStream::Spot {
                return Err(Error::config("logon() is for the spot user socket only"));
            }
            if self.setup.signer.credentials.key_type() != KeyType::Ed25519 {
                return Err(Error::config(
                    "session.logon takes Ed25519 keys only; use the default \
                     (userDataStream.subscribe.signature) with HMAC or RSA keys",
                ));
            }
        }
        let (state_tx, state) = watch::channel(State::Connecting);
        let (close_tx, close_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (internal_tx, internal) = mpsc::unbounded_channel();
        let mut task = UserTask::<U> {
            setup: self.setup.clone(),
            settings: self.settings.clone(),
            queue: queue.clone(),
            state: state_tx,
            events_tx,
            internal_tx,
            legs: BTreeMap::new(),
            next_leg: 1,
            dedupe: EventDedupe::default(),
            token: None,
            fetching_token: false,
            token_failures: 0,
            token_retry_at: None,
            covered: false,
            ever_covered: false,
            gap_since: None,
            rotated_pending: false,
            loss_reason: None,
            _unit: std::marker::PhantomData,
        };
        for _ in 0..self.settings.connections {
            task.add_leg(None);
        }
        if self.setup.stream != UserStream::Spot {
            task.fetch_token();
        }
        tokio::spawn(task.run(close_rx, events, internal));
        Ok((state, close_tx))
    }
}

/// One connection carrying the subscription.
struct Leg {
    api: WsApi,
    /// Its number among the socket's connections, for messages.
    number: u64,
    /// Counts the leg's connections, so an answer from an earlier one is ignored.
    generation: u64,
    /// Where its subscription stands.
    sub: Sub,
    /// Its part in a replacement.
    role: Role,
    /// The leg this one takes over from, once subscribed.
    takes_over: Option<u64>,
    /// Refusals in a row, for the backoff.
    failures: u32,
    /// When to move to a fresh connection (before Binance's 24-hour cut).
    rotate_at: Instant,
    /// The server may hold a subscription this leg does not know (an
    /// unanswered or stale request): end them all before subscribing.
    clear_first: bool,
}

/// Where a leg's subscription stands.
enum Sub {
    /// The connection is down (or not open yet); after a refusal, the next
    /// try waits until `retry_at`.
    Down { retry_at: Option<Instant> },
    /// Up, not subscribed, nothing on its way.
    Up,
    /// Up, waiting for a listen token to subscribe with.
    WantsToken,
    /// Up, the request on its way; frames that come meanwhile wait here.
    Subscribing { early: Vec<Utf8Bytes> },
    /// Up and subscribed (margin: with this listen token).
    Live { id: u64, token: Option<Arc<str>> },
    /// Up; the last try was refused: the next waits until `until`.
    BackingOff { until: Instant },
}

impl Sub {
    fn live(&self) -> Option<u64> {
        match self {
            Sub::Live { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// A leg's part in a replacement (before the 24-hour cut, on
/// `serverShutdown`, on a renewed listen token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Carries the subscription.
    Serving,
    /// Carries it while a replacement is on its way.
    Replaced,
    /// Replaced: its events still count until its subscription ends (its
    /// `eventStreamTerminated`), or until `by`.
    Retiring { by: Option<Instant> },
}

impl Leg {
    fn retiring(&self) -> bool {
        matches!(self.role, Role::Retiring { .. })
    }
}

struct Token {
    value: Arc<str>,
    renew_at: Instant,
    expires_at: Instant,
}

enum Internal {
    Subscribed {
        leg: u64,
        generation: u64,
        token: Option<Arc<str>>,
        result: Result<u64, Error>,
    },
    Token(Result<(String, u64), Error>),
}

/// Recently delivered events, to drop the copies other connections bring.
///
/// Each connection delivers each event once, so the n-th copy of a key from
/// one connection is the n-th such event: it is new when no connection has
/// delivered n of them yet. Two real events that look the same (the same
/// deposit twice in one millisecond) both get through.
#[derive(Default)]
struct EventDedupe {
    /// Key → (how many delivered, how many each leg brought).
    seen: HashMap<String, (u32, HashMap<u64, u32>)>,
    order: VecDeque<String>,
}

impl EventDedupe {
    const KEEP: usize = 4096;

    fn fresh(&mut self, leg: u64, key: String) -> bool {
        let (delivered, legs) = match self.seen.get_mut(&key) {
            Some(entry) => entry,
            None => {
                self.order.push_back(key.clone());
                if self.order.len() > Self::KEEP {
                    if let Some(old) = self.order.pop_front() {
                        self.seen.remove(&old);
                    }
                }
                self.seen.entry(key).or_default()
            }
        };
        let brought = legs.entry(leg).or_default();
        *brought += 1;
        if *brought > *delivered {
            *delivered = *brought;
            true
        } else {
            false
        }
    }
}

/// A user-data frame decoded once: its subscription and its event.
fn decode<U: TimeUnit>(text: &Utf8Bytes) -> Result<(Option<u64>, Event<U>), DecodeError> {
    let frame = binance_types::frame::decode_as::<U>(text.as_bytes())?;
    let subscription = match frame.envelope {
        Envelope::Api { subscription_id } => subscription_id,
        _ => None,
    };
    Ok((subscription, frame.event))
}

/// Whether a frame ends subscription `id`.
fn terminates<U: TimeUnit>(text: &Utf8Bytes, id: u64) -> bool {
    matches!(decode::<U>(text), Ok((Some(sub), Event::EventStreamTerminated(_))) if sub == id)
}

/// An event's identity for deduplication: an execution's `(s, i, I)` for
/// order updates, the event's JSON for the rest.
fn identity<U: TimeUnit>(event: &Event<U>) -> String {
    match event {
        Event::ExecutionReport(r) => {
            format!(
                "executionReport {} {} {}",
                r.symbol, r.order_id, r.execution_id
            )
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Refusals that no retry can cure: the socket ends with an `Auth` error.
fn is_fatal(code: i64) -> bool {
    matches!(
        code,
        -2014 | -2015 | -1022 | -1021 | -1002 | -1131 | -4056 | -1102 | -1100
    )
}

struct UserTask<U: TimeUnit> {
    setup: Arc<UserSetup>,
    settings: Settings,
    queue: Arc<Queue<Message<U>>>,
    state: watch::Sender<State>,
    events_tx: mpsc::UnboundedSender<(u64, ApiEvent)>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    legs: BTreeMap<u64, Leg>,
    next_leg: u64,
    dedupe: EventDedupe,
    token: Option<Token>,
    fetching_token: bool,
    token_failures: u32,
    token_retry_at: Option<Instant>,
    covered: bool,
    ever_covered: bool,
    gap_since: Option<SystemTime>,
    /// A replacement finished with coverage kept: say `Rotated`.
    rotated_pending: bool,
    /// Why the last subscription ended, when no dropped connection says it.
    loss_reason: Option<String>,
    _unit: std::marker::PhantomData<U>,
}

impl<U: TimeUnit> UserTask<U> {
    fn add_leg(&mut self, takes_over: Option<u64>) -> u64 {
        let id = self.next_leg;
        self.next_leg += 1;
        let api = WsApi::spawn(
            self.setup.ws_api_url.clone(),
            self.setup.shared.clone(),
            Some(self.setup.signer.clone()),
            Some((id, self.events_tx.clone())),
            // Spot's WebSocket API pings every 20 s.
            None,
        );
        let number = self.legs.values().filter(|l| !l.retiring()).count() as u64 + 1;
        self.legs.insert(
            id,
            Leg {
                api,
                number,
                generation: 0,
                sub: Sub::Down { retry_at: None },
                role: Role::Serving,
                takes_over,
                failures: 0,
                rotate_at: Instant::now() + self.setup.shared.options.rotate_after,
                clear_first: false,
            },
        );
        id
    }

    fn push(&self, status: Status) {
        self.queue.push(Message::Status(status));
    }

    fn end(&mut self, error: Error) {
        for leg in self.legs.values() {
            leg.api.shut();
        }
        self.queue.end(error.clone());
        let _ = self.state.send(State::Ended(error));
    }

    async fn run(
        mut self,
        mut close: mpsc::UnboundedReceiver<()>,
        mut events: mpsc::UnboundedReceiver<(u64, ApiEvent)>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) {
        loop {
            let deadline = self.next_deadline();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = close.recv() => {
                    self.unsubscribe_all().await;
                    return self.end(Error::closed());
                }
                Some((leg, event)) = events.recv() => {
                    if !self.on_event(leg, event) {
                        return;
                    }
                }
                Some(message) = internal.recv() => {
                    if !self.on_internal(message) {
                        return;
                    }
                }
                _ = timer => self.on_timer(),
            }
        }
    }

    /// Best effort: tell the server the subscriptions end.
    async fn unsubscribe_all(&mut self) {
        let calls = self.legs.values().filter_map(|leg| {
            let sub = leg.sub.live()?;
            let api = leg.api.clone();
            let mut params = Map::new();
            params.insert("subscriptionId".into(), sub.into());
            Some(async move { api.request("userDataStream.unsubscribe", params).await })
        });
        let all = futures_util::future::join_all(calls);
        let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        for leg in self.legs.values() {
            match (&leg.role, &leg.sub) {
                (Role::Retiring { by: Some(t) }, _) => consider(*t),
                (Role::Retiring { .. }, _) => {}
                (_, Sub::Down { retry_at: Some(t) } | Sub::BackingOff { until: t }) => consider(*t),
                _ => {}
            }
            if leg.role == Role::Serving {
                consider(leg.rotate_at);
            }
        }
        if let (Some(token), false, None) = (&self.token, self.fetching_token, self.token_retry_at)
        {
            consider(token.renew_at);
        }
        if let Some(t) = self.token_retry_at {
            consider(t);
        }
        at
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for (id, leg) in &mut self.legs {
            match (&mut leg.role, &leg.sub) {
                (Role::Retiring { by }, _) if by.is_some_and(|t| t <= now) => {
                    *by = None;
                    leg.api.shut();
                }
                (Role::Retiring { .. }, _) => {}
                (_, Sub::Down { retry_at: Some(t) }) if *t <= now => {
                    leg.sub = Sub::Down { retry_at: None };
                }
                (_, Sub::BackingOff { until }) if *until <= now => {
                    leg.sub = Sub::Up;
                    due.push(*id);
                }
                _ => {}
            }
        }
        for id in due {
            self.subscribe(id);
        }
        let old: Vec<u64> = self
            .legs
            .iter()
            .filter(|(_, l)| l.role == Role::Serving && l.rotate_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            tracing::info!("user-data connection near its lifetime: replacing it");
            self.replace(id);
        }
        if self.token_retry_at.is_some_and(|t| t <= now) {
            self.token_retry_at = None;
            self.fetch_token();
        }
        let renew = !self.fetching_token
            && self.token_retry_at.is_none()
            && self.token.as_ref().is_some_and(|t| t.renew_at <= now);
        if renew {
            tracing::info!("listen token near expiry: renewing");
            self.fetch_token();
        }
    }

    /// A replacement took over from `leg`: end its subscription and close it
    /// once its `eventStreamTerminated` shows everything it carried arrived
    /// (or after a few seconds).
    fn retire(&mut self, leg: u64) {
        let Some(old) = self.legs.get_mut(&leg) else {
            return;
        };
        self.rotated_pending = true;
        let Some(sub) = old.sub.live() else {
            old.role = Role::Retiring { by: None };
            old.api.shut();
            return;
        };
        old.role = Role::Retiring {
            by: Some(Instant::now() + Duration::from_secs(5)),
        };
        let api = old.api.clone();
        tokio::spawn(async move {
            let mut params = Map::new();
            params.insert("subscriptionId".into(), sub.into());
            if api
                .request("userDataStream.unsubscribe", params)
                .await
                .is_err()
            {
                api.shut();
            }
        });
    }

    /// Start a connection that takes over from `leg` once subscribed.
    fn replace(&mut self, leg: u64) {
        let Some(old) = self.legs.get_mut(&leg) else {
            return;
        };
        if old.role != Role::Serving {
            return;
        }
        old.role = Role::Replaced;
        self.add_leg(Some(leg));
    }

    fn on_event(&mut self, leg: u64, event: ApiEvent) -> bool {
        let Some(l) = self.legs.get_mut(&leg) else {
            return true;
        };
        let label = format!("user-data connection {}", l.number);
        match event {
            ApiEvent::Up => {
                l.generation += 1;
                l.sub = match l.sub {
                    Sub::Down {
                        retry_at: Some(until),
                    } if until > Instant::now() => Sub::BackingOff { until },
                    _ => Sub::Up,
                };
                self.subscribe(leg);
            }
            ApiEvent::Down(reason) => {
                let retry_at = match l.sub {
                    Sub::BackingOff { until } => Some(until),
                    _ => None,
                };
                l.sub = Sub::Down { retry_at };
                if !l.retiring() {
                    self.push(Status::Disconnected {
                        reason: format!("{label}: {reason}"),
                    });
                }
                self.coverage();
            }
            ApiEvent::Status(status) => {
                if !l.retiring() {
                    self.push(match status {
                        Status::ConnectFailed { reason } => Status::ConnectFailed {
                            reason: format!("{label}: {reason}"),
                        },
                        other => other,
                    });
                }
            }
            ApiEvent::Event(text) => self.on_frame(leg, text),
            ApiEvent::Shutdown => {
                tracing::info!("{label}: serverShutdown; moving to a new connection");
                self.replace(leg);
            }
            ApiEvent::Ended(error) => {
                let was = self.legs.remove(&leg).expect("looked up above");
                if let Some(new) = self.legs.values_mut().find(|l| l.takes_over == Some(leg)) {
                    new.takes_over = None;
                }
                // A replacement that never made it: the old leg carries on, and
                // tries again a little later.
                if let Some(old) = was.takes_over.and_then(|old| self.legs.get_mut(&old)) {
                    if old.role == Role::Replaced {
                        old.role = Role::Serving;
                    }
                    old.rotate_at = Instant::now() + Duration::from_secs(30);
                }
                if !was.retiring() {
                    if !self.legs.values().any(|l| !l.retiring()) {
                        self.end(error);
                        return false;
                    }
                    tracing::warn!("{label} gave up ({error})");
                }
                self.coverage();
            }
        }
        true
    }

    fn on_frame(&mut self, leg: u64, text: Utf8Bytes) {
        let (subscription, event) = match decode::<U>(&text) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!("malformed user-data frame: {error}");
                return self.push(Status::Malformed { error });
            }
        };
        let l = self.legs.get_mut(&leg).expect("caller checked");
        if subscription.is_none() || l.sub.live() != subscription {
            match &mut l.sub {
                // The subscription's answer is still on its way to this task.
                Sub::Subscribing { early } if early.len() < 100_000 => early.push(text),
                // Otherwise: a subscription this leg no longer has.
                _ => {}
            }
            return;
        }
        if let Event::EventStreamTerminated(_) = event {
            let used = match std::mem::replace(&mut l.sub, Sub::Up) {
                Sub::Live { token, .. } => token,
                _ => None,
            };
            if l.retiring() {
                // Everything it carried has arrived: now it can go.
                l.api.shut();
            } else {
                let number = l.number;
                tracing::info!(
                    "user-data connection {number}: subscription ended by the server; subscribing again"
                );
                self.loss_reason = Some(format!(
                    "user-data connection {number}: subscription ended by the server (eventStreamTerminated)"
                ));
                if used.is_some() && self.token.as_ref().map(|t| &t.value) == used.as_ref() {
                    // The token ran out (or was revoked): the next one is needed now.
                    self.token = None;
                }
                self.subscribe(leg);
            }
            self.coverage();
            return;
        }
        if self.dedupe.fresh(leg, identity(&event)) {
            self.queue.push(Message::Event(StreamEvent {
                stream: None,
                event,
            }));
        }
    }

    /// Make the subscription on a leg that is up.
    fn subscribe(&mut self, leg: u64) {
        match self.legs.get(&leg) {
            Some(l) if !l.retiring() && matches!(l.sub, Sub::Up | Sub::WantsToken) => {}
            _ => return,
        }
        let stream = self.setup.stream.clone();
        let token = match &stream {
            UserStream::Spot => None,
            _ => match &self.token {
                Some(t) if t.expires_at > Instant::now() + Duration::from_millis(50) => {
                    Some(t.value.clone())
                }
                _ => {
                    if let Some(l) = self.legs.get_mut(&leg) {
                        l.sub = Sub::WantsToken;
                    }
                    self.fetch_token();
                    return;
                }
            },
        };
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        l.sub = Sub::Subscribing { early: Vec::new() };
        let clear_first = std::mem::take(&mut l.clear_first);
        let api = l.api.clone();
        let generation = l.generation;
        let logon = self.settings.logon;
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            // Every step on this connection only: after a drop, the next
            // connection's own `Up` starts over.
            let on = generation;
            if clear_first {
                let _ = api
                    .request_on(on, "userDataStream.unsubscribe", Map::new())
                    .await;
            }
            let used = token.clone();
            let result = match token {
                Some(token) => {
                    let mut params = Map::new();
                    params.insert("listenToken".into(), Value::String(token.to_string()));
                    api.request_on(on, "userDataStream.subscribe.listenToken", params)
                        .await
                }
                None if logon => {
                    match api.signed_request_on(on, "session.logon", Map::new()).await {
                        Ok(_) => {
                            api.request_on(on, "userDataStream.subscribe", Map::new())
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
                None => {
                    api.signed_request_on(on, "userDataStream.subscribe.signature", Map::new())
                        .await
                }
            };
            let result = result.and_then(|v| {
                v["subscriptionId"].as_u64().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Connect,
                        "subscription answered without a subscriptionId",
                    )
                })
            });
            let _ = internal.send(Internal::Subscribed {
                leg,
                generation,
                token: used,
                result,
            });
        });
    }

    fn fetch_token(&mut self) {
        if self.fetching_token {
            return;
        }
        self.fetching_token = true;
        let setup = self.setup.clone();
        let validity = self.settings.token_validity;
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = listen_token(&setup, validity).await;
            let _ = internal.send(Internal::Token(result));
        });
    }

    fn on_internal(&mut self, message: Internal) -> bool {
        match message {
            Internal::Subscribed {
                leg,
                generation,
                token,
                result,
            } => {
                let Some(l) = self.legs.get_mut(&leg) else {
                    return true;
                };
                if l.generation != generation {
                    // Answered on a connection that has since dropped.
                    return true;
                }
                let early = match std::mem::replace(&mut l.sub, Sub::Up) {
                    Sub::Subscribing { early } => early,
                    other => {
                        // Not waiting for this answer (the connection dropped meanwhile).
                        l.sub = other;
                        return true;
                    }
                };
                match result {
                    Ok(id) => {
                        l.failures = 0;
                        // Ended before we knew it began: the old leg keeps its job.
                        let ended_early = early.iter().any(|t| terminates::<U>(t, id));
                        let takes_over = if ended_early {
                            None
                        } else {
                            l.takes_over.take()
                        };
                        // Subscribed with a token that was renewed meanwhile: move on.
                        let stale = token.is_some()
                            && self.token.as_ref().map(|t| &t.value) != token.as_ref();
                        l.sub = Sub::Live { id, token };
                        if let Some(old) = takes_over {
                            self.retire(old);
                        }
                        self.coverage();
                        for text in early {
                            if self.legs.contains_key(&leg) {
                                self.on_frame(leg, text);
                            }
                        }
                        if stale {
                            self.replace(leg);
                        }
                    }
                    Err(e) => return self.subscribe_failed(leg, e),
                }
            }
            Internal::Token(result) => {
                self.fetching_token = false;
                match result {
                    Ok((value, expiration))
                        if expiration > self.setup.signer.clock.now_ms() + 100 =>
                    {
                        self.token_failures = 0;
                        let now = Instant::now();
                        let left = Duration::from_millis(
                            expiration.saturating_sub(self.setup.signer.clock.now_ms()),
                        );
                        // Renew at the later of half-life and five minutes before the end.
                        let renew_in =
                            (left / 2).max(left.saturating_sub(Duration::from_secs(300)));
                        let renewing = self.token.is_some();
                        self.token = Some(Token {
                            value: Arc::from(value),
                            renew_at: now + renew_in,
                            expires_at: now + left,
                        });
                        let ids: Vec<u64> = self.legs.keys().copied().collect();
                        for id in ids {
                            let l = &self.legs[&id];
                            match (&l.sub, l.role) {
                                (_, Role::Retiring { .. }) => {}
                                // Subscribed with the old token: a new connection takes over.
                                (Sub::Live { .. }, Role::Serving) if renewing => self.replace(id),
                                (Sub::Up | Sub::WantsToken, _) => self.subscribe(id),
                                _ => {}
                            }
                        }
                    }
                    Ok(_) => {
                        self.token_failures += 1;
                        let delay = self
                            .setup
                            .shared
                            .options
                            .reconnect
                            .delay(self.token_failures);
                        tracing::warn!(
                            "listen token valid for less than 100 ms; asking again in {delay:?}"
                        );
                        self.token_retry_at = Some(Instant::now() + delay);
                    }
                    Err(e) => {
                        if e.api_code().is_some_and(is_fatal) {
                            self.end(Error::new(
                                ErrorKind::Auth {
                                    code: e.api_code().expect("checked"),
                                },
                                format!("listen token refused: {e}"),
                            ));
                            return false;
                        }
                        self.token_failures += 1;
                        let mut delay = self
                            .setup
                            .shared
                            .options
                            .reconnect
                            .delay(self.token_failures);
                        if let Some(wait) = e.retry_after() {
                            delay = delay.max(wait);
                        }
                        tracing::warn!("listen token: {e}; trying again in {delay:?}");
                        self.push(Status::ConnectFailed {
                            reason: format!("listen token: {e}"),
                        });
                        self.token_retry_at = Some(Instant::now() + delay);
                    }
                }
            }
        }
        true
    }

    fn subscribe_failed(&mut self, leg: u64, e: Error) -> bool {
        let code = e.api_code();
        if code.is_some_and(is_fatal) {
            self.end(Error::new(
                ErrorKind::Auth {
                    code: code.expect("checked"),
                },
                format!("user data subscription refused: {e}"),
            ));
            return false;
        }
        if code == Some(-1209) {
            // The token is not valid (any more): fetch another.
            self.token = None;
        }
        let unknown_subscription = code == Some(-2035) || *e.kind() == ErrorKind::NoResponse;
        if *e.kind() == ErrorKind::Disconnected {
            // The leg's next `Up` subscribes again.
            return true;
        }
        let l = self.legs.get_mut(&leg).expect("caller checked");
        l.clear_first |= unknown_subscription;
        l.failures += 1;
        let mut delay = self.setup.shared.options.reconnect.delay(l.failures);
        if let Some(wait) = e.retry_after() {
            delay = delay.max(wait);
        }
        tracing::warn!("user data subscription: {e}; trying again in {delay:?}");
        l.sub = Sub::BackingOff {
            until: Instant::now() + delay,
        };
        let number = l.number;
        self.push(Status::ConnectFailed {
            reason: format!("user-data connection {number}: subscription refused: {e}"),
        });
        true
    }

    /// Statuses when coverage (any live subscription) starts, stops, resumes.
    fn coverage(&mut self) {
        let covered = self.legs.values().any(|l| l.sub.live().is_some());
        match (self.covered, covered) {
            (false, true) => {
                if self.ever_covered {
                    let from = self.gap_since.take().unwrap_or_else(SystemTime::now);
                    self.push(Status::Gap {
                        stream: None,
                        from: Position::Time(from),
                        to: Position::Time(SystemTime::now()),
                    });
                    self.push(Status::Reconnected);
                } else {
                    self.ever_covered = true;
                    self.push(Status::Connected);
                    let _ = self.state.send(State::Open);
                }
                self.rotated_pending = false;
            }
            (true, false) => {
                self.gap_since = Some(SystemTime::now());
                if let Some(reason) = self.loss_reason.take() {
                    self.push(Status::Disconnected { reason });
                }
            }
            (true, true) if self.rotated_pending => {
                self.rotated_pending = false;
                self.push(Status::Rotated);
            }
            _ => {}
        }
        self.covered = covered;
        self.loss_reason = None;
        if covered {
            // A connection that gave up is replaced while others carry the
            // subscription (with nothing live, the last to give up ends the socket).
            let active = self
                .legs
                .values()
                .filter(|l| !l.retiring() && l.takes_over.is_none())
                .count();
            for _ in active..self.settings.connections {
                self.add_leg(None);
            }
        }
    }
}

/// Measure the exchange's clock with `GET /api/v3/time`.
async fn sync_clock(setup: &UserSetup) -> Result<(), Error> {
    let sent = crate::auth::local_ms();
    let url = format!("{}/api/v3/time", setup.rest_url);
    let response = crate::rest::get(&url, &setup.shared.net).await?;
    let received = crate::auth::local_ms();
    let server = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v["serverTime"].as_i64())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Connect,
                format!(
                    "GET /api/v3/time answered {} without serverTime",
                    response.status
                ),
            )
        })?;
    setup.signer.clock.set(server, sent, received);
    Ok(())
}

/// A listen token, the exchange's clock measured first (and again after a
/// `-1021`).
async fn listen_token(
    setup: &UserSetup,
    validity: Option<Duration>,
) -> Result<(String, u64), Error> {
    if !setup.signer.clock.is_synced() {
        if let Err(e) = sync_clock(setup).await {
            tracing::warn!("cannot read the exchange's clock: {e}");
        }
    }
    match request_listen_token(setup, validity).await {
        Err(e) if e.api_code() == Some(-1021) => {
            sync_clock(setup).await?;
            request_listen_token(setup, validity).await
        }
        other => other,
    }
}

/// `POST /sapi/v1/userListenToken`: the token and its expiration (ms).
async fn request_listen_token(
    setup: &UserSetup,
    validity: Option<Duration>,
) -> Result<(String, u64), Error> {
    let signer = &setup.signer;
    let mut params: Vec<(&str, String)> = Vec::new();
    if let UserStream::IsolatedMargin(symbol) = &setup.stream {
        params.push(("isIsolated", "TRUE".into()));
        params.push(("symbol", symbol.as_str().to_owned()));
    }
    if let Some(validity) = validity {
        params.push(("validity", validity.as_millis().to_string()));
    }
    let query = sign_query(
        &signer.credentials,
        &signer.clock,
        signer.recv_window,
        &params,
    );
    let url = format!("{}/sapi/v1/userListenToken?{query}", setup.rest_url);
    let response = crate::rest::send(
        "POST",
        &url,
        &[("X-MBX-APIKEY", signer.credentials.api_key())],
        &setup.shared.net,
    )
    .await
    .map_err(|e| {
        Error::new(
            e.kind().clone(),
            format!("POST /sapi/v1/userListenToken: {e}"),
        )
    })?;
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if response.status != 200 {
        let code = body["code"].as_i64().unwrap_or(0);
        let msg = body["msg"]
            .as_str()
            .unwrap_or("no Binance error in the body");
        return Err(Error::new(
            ErrorKind::Api {
                status: response.status,
                code,
                retry_after: response.retry_after,
            },
            format!(
                "POST /sapi/v1/userListenToken: Binance error {code} (HTTP {}): {msg}",
                response.status
            ),
        ));
    }
    match (body["token"].as_str(), body["expirationTime"].as_u64()) {
        (Some(token), Some(expiration)) => Ok((token.to_owned(), expiration)),
        _ => Err(Error::new(
            ErrorKind::Connect,
            "POST /sapi/v1/userListenToken answered without token and expirationTime",
        )),
    }
}
