//! Futures user data (USD-M and COIN-M), as Binance still runs it there: a
//! listen key made over REST (`POST /fapi/v1/listenKey`, `/dapi/v1/…`),
//! kept alive over REST, and read on a stream connection
//! (`/private/ws/<key>` on USD-M, `/ws/<key>` on COIN-M).
//!
//! What users of every library lose here, done right:
//! - the key is kept alive on a timer well inside its 60 minutes;
//! - `listenKeyExpired`, or a keepalive answered `-1125` (the key is gone),
//!   makes a new key and new connections, opened before the old ones go;
//! - by default two connections carry the key, opened at different times
//!   (so their 24-hour cuts differ) and each rotated make-before-break on
//!   its own; an event both bring is delivered once;
//! - if every connection was down at once, [`Status::Gap`] says from when
//!   to when (read open orders and positions over REST to catch up).
//!
//! Each connection is a market link (reconnect, backoff, watchdog, client
//! pings on a quiet connection, rotation) whose one "stream" is the key;
//! this task owns the key and the connections.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use binance_types::futures::user::{decode_futures_user, FuturesUserEvent};
use binance_types::venue::{Route, Venue};
use binance_types::{Millis, TimeUnit};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::link::State;
use crate::market::{Command, Connections, Handle};
use crate::message::{Message, Position, Status};
use crate::queue::{Entry, Queue};
use crate::rest;
use crate::task_socket::{task_stream, Starter, TaskSocket};
use crate::transport::Network;

/// Binance's keepalive advice is "about every 60 minutes" for a key that
/// lives 60: this is well inside it.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30 * 60);

/// Everything a futures user socket's task needs.
pub(crate) struct FuturesUserSetup<U: TimeUnit> {
    pub venue: Venue,
    /// The venue's stream base (USD-M: without the route).
    pub stream_base: String,
    /// The venue's REST base.
    pub rest_url: String,
    pub api_key: Arc<str>,
    pub connections: Arc<Connections<U>>,
    /// The reconnect budget, spent on listen keys before the first connection.
    pub retries: crate::Retries,
}

/// A futures user data socket: one account's `ORDER_TRADE_UPDATE`,
/// `ACCOUNT_UPDATE`, `TRADE_LITE`, … as [`Message::FuturesUser`], with the
/// same `connect` / `recv` / `close` / [`futures_util::Stream`] as every
/// socket.
pub struct FuturesUserSocket<U: TimeUnit = Millis>(TaskSocket<U, FuturesUserStarter<U>>);

/// What a futures user socket starts: its task, with the settings of the
/// moment.
pub(crate) struct FuturesUserStarter<U: TimeUnit> {
    setup: Arc<FuturesUserSetup<U>>,
    connections: usize,
    keepalive: Duration,
}

impl<U: TimeUnit> std::fmt::Debug for FuturesUserSocket<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No listen key, no API key.
        let starter = &self.0.starter;
        f.debug_struct("FuturesUserSocket")
            .field("venue", &starter.setup.venue)
            .field("connections", &starter.connections)
            .field("keepalive", &starter.keepalive)
            .field("started", &self.0.is_started())
            .finish_non_exhaustive()
    }
}

impl<U: TimeUnit> FuturesUserSocket<U> {
    pub(crate) fn new(setup: FuturesUserSetup<U>) -> Self {
        let options = setup.connections.env.options.clone();
        let starter = FuturesUserStarter {
            connections: options.user_connections.clamp(1, 4),
            keepalive: DEFAULT_KEEPALIVE,
            setup: Arc::new(setup),
        };
        FuturesUserSocket(TaskSocket::new(starter, &options))
    }

    /// How many connections carry the key (1 to 4; default from
    /// [`SocketManagerBuilder::user_connections`](crate::SocketManagerBuilder::user_connections), 2).
    /// Set before connecting.
    pub fn connections(mut self, count: usize) -> Self {
        self.0.starter.connections = count.clamp(1, 4);
        self
    }

    /// How often the key is kept alive (default 30 minutes; it lives 60).
    /// Set before connecting.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.0.starter.keepalive = every.max(Duration::from_millis(10));
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

    /// Make the key and open the connections; returns once one carries it.
    /// An API key Binance refuses ends here with [`ErrorKind::Auth`].
    pub async fn connect(&mut self) -> Result<(), Error> {
        self.0.connect().await
    }

    /// The next message, connecting first if needed.
    pub async fn recv(&mut self) -> Result<Message<U>, Error> {
        self.0.recv().await
    }

    /// Stop: `recv()` answers [`ErrorKind::Closed`] from now on and the
    /// connections end; `close` returns once they have (waiting at most
    /// about two seconds), as on every socket. The listen key is left to
    /// expire rather than closed: Binance gives every socket of an account
    /// the same key, and a `DELETE` would end the others' streams too.
    pub async fn close(&mut self) {
        self.0.close().await
    }
}

task_stream!(FuturesUserSocket);

impl<U: TimeUnit> Starter<U> for FuturesUserStarter<U> {
    fn start(
        &self,
        queue: &Arc<Queue<Message<U>>>,
    ) -> Result<(watch::Receiver<State>, mpsc::UnboundedSender<()>), Error> {
        let (state_tx, state) = watch::channel(State::Connecting);
        let (close_tx, close_rx) = mpsc::unbounded_channel();
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let task = Task {
            setup: self.setup.clone(),
            want: self.connections,
            keepalive: self.keepalive,
            queue: queue.clone(),
            state: state_tx,
            frames_tx,
            key: None,
            legs: Vec::new(),
            next_leg: 1,
            seen: SeenOnce::default(),
            covered: false,
            ever_covered: false,
            gap_since: None,
            confirmed_at: SystemTime::now(),
        };
        tokio::spawn(task.run(close_rx, frames));
        Ok((state, close_tx))
    }
}

/// The REST paths of the venue's listen key.
fn listen_key_path(venue: Venue) -> &'static str {
    match venue {
        Venue::CoinM => "/dapi/v1/listenKey",
        _ => "/fapi/v1/listenKey",
    }
}

/// What a listen-key request came to.
enum KeyAnswer {
    Key(String),
    /// `-1125`: the key does not exist (expired or closed).
    Gone,
}

/// `POST` (a key), `PUT` (keep `key` alive) or `DELETE` (close it).
async fn listen_key<U: TimeUnit>(
    setup: &FuturesUserSetup<U>,
    net: &Network,
    method: &str,
    key: Option<&str>,
) -> Result<KeyAnswer, Error> {
    let mut url = format!("{}{}", setup.rest_url, listen_key_path(setup.venue));
    if let Some(key) = key {
        url.push_str("?listenKey=");
        url.push_str(key);
    }
    let headers = [("X-MBX-APIKEY", &*setup.api_key)];
    // The URL carries the key: errors name the method and path only.
    let what = format!("{method} {}", listen_key_path(setup.venue));
    // rest's errors name the host, never the path or query.
    let response = rest::send(method, &url, &headers, net)
        .await
        .map_err(|e| Error::new(e.kind().clone(), format!("{what}: {e}")))?;
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = body.get("code").and_then(serde_json::Value::as_i64);
    if response.status == 200 {
        let key = body
            .get("listenKey")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        return Ok(KeyAnswer::Key(key.to_owned()));
    }
    if code == Some(-1125) {
        return Ok(KeyAnswer::Gone);
    }
    let message = body
        .get("msg")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned();
    let kind = match code {
        Some(code @ (-2014 | -2015 | -1022 | -2008)) => ErrorKind::Auth { code },
        _ => ErrorKind::Http {
            status: response.status,
            retry_after: response.retry_after,
        },
    };
    Err(Error::new(
        kind,
        format!(
            "{what}: HTTP {} {}{message}",
            response.status,
            code.map(|c| format!("code {c}: ")).unwrap_or_default()
        ),
    ))
}

/// Events delivered lately, by their bytes: the same event from a second
/// connection (or from both connections of one rotating) is dropped.
/// Binance's user events carry their time and ids, so two real events are
/// never the same bytes.
#[derive(Default)]
struct SeenOnce {
    seen: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

impl SeenOnce {
    const KEEP: usize = 4096;

    fn fresh(&mut self, payload: &str) -> bool {
        if self.seen.contains(payload) {
            return false;
        }
        let payload: Arc<str> = Arc::from(payload);
        self.seen.insert(payload.clone());
        self.order.push_back(payload);
        if self.order.len() > Self::KEEP {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// One connection carrying the key.
struct Leg<U: TimeUnit> {
    /// Its number in this task (what its forwarder tags entries with).
    number: u64,
    /// Its reader's id on the connection.
    reader: u64,
    handle: Handle<U>,
    /// Forwards what its reader queue gets to the task.
    forward: JoinHandle<()>,
    /// The key it carries.
    key: Arc<str>,
    up: bool,
}

impl<U: TimeUnit> Leg<U> {
    fn stop(&self) {
        self.forward.abort();
        self.handle.send(Command::Detach {
            id: self.reader,
            last: None,
        });
    }
}

struct ListenKey {
    value: Arc<str>,
    keep_alive_at: Instant,
}

/// What a leg's forwarder sends: the leg's number and an entry of its queue.
type LegEntry<U> = (u64, Result<Entry<U>, Error>);

struct Task<U: TimeUnit> {
    setup: Arc<FuturesUserSetup<U>>,
    want: usize,
    keepalive: Duration,
    queue: Arc<Queue<Message<U>>>,
    state: watch::Sender<State>,
    frames_tx: mpsc::UnboundedSender<LegEntry<U>>,
    key: Option<ListenKey>,
    legs: Vec<Leg<U>>,
    next_leg: u64,
    seen: SeenOnce,
    /// Some connection carries the key now.
    covered: bool,
    ever_covered: bool,
    /// Every connection has been down since then.
    gap_since: Option<SystemTime>,
    /// When the current key was last confirmed alive (made or kept alive).
    confirmed_at: SystemTime,
}

/// What a leg's entry came to, for the task.
enum Seen {
    Nothing,
    /// The current key's `listenKeyExpired`.
    Expired,
    /// The last connection gave up: the socket ends with this.
    Ended(Error),
}

/// After a failed key request, the next try waits this long (doubling).
const KEY_RETRY: Duration = Duration::from_millis(500);
const KEY_RETRY_MAX: Duration = Duration::from_secs(30);

impl<U: TimeUnit> Task<U> {
    fn net(&self) -> Network {
        self.setup.connections.env.net.clone()
    }

    async fn run(
        mut self,
        mut close: mpsc::UnboundedReceiver<()>,
        mut frames: mpsc::UnboundedReceiver<LegEntry<U>>,
    ) {
        let mut retry = KEY_RETRY;
        let mut failures = 0u32;
        // A key to get (at start, on expiry, on -1125) and when to try.
        let mut renew_at: Option<Instant> = Some(Instant::now());
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        loop {
            let keep_alive_at = self.key.as_ref().map_or(far, |k| k.keep_alive_at);
            let renew = renew_at.unwrap_or(far);
            tokio::select! {
                biased;
                _ = close.recv() => break,
                _ = tokio::time::sleep_until(renew), if renew_at.is_some() => {
                    match listen_key(&self.setup, &self.net(), "POST", None).await {
                        Ok(KeyAnswer::Key(key)) if !key.is_empty() => {
                            retry = KEY_RETRY;
                            failures = 0;
                            renew_at = None;
                            self.confirmed_at = SystemTime::now();
                            self.use_key(key);
                        }
                        Err(e) if e.is_auth() => {
                            self.end(e);
                            break;
                        }
                        answer => {
                            let e = match answer {
                                Err(e) => e,
                                Ok(_) => Error::new(ErrorKind::Connect, "POST listenKey: no key in the answer"),
                            };
                            failures += 1;
                            // Before the first connection the reconnect budget
                            // applies: a host that never answers ends `connect`.
                            let spent = matches!(self.setup.retries, crate::Retries::Limited(n) if failures > n);
                            if !self.ever_covered && spent {
                                self.end(Error::new(
                                    ErrorKind::MaxReconnects,
                                    format!("no listen key after {failures} tries: {e}"),
                                ));
                                break;
                            }
                            let wait = e.retry_after().unwrap_or(retry).max(retry);
                            tracing::info!("listen key: {e}; again in {wait:?}");
                            renew_at = Some(Instant::now() + wait);
                            retry = (retry * 2).min(KEY_RETRY_MAX);
                        }
                    }
                }
                _ = tokio::time::sleep_until(keep_alive_at), if self.key.is_some() => {
                    let key = self.key.as_ref().expect("guarded").value.clone();
                    match listen_key(&self.setup, &self.net(), "PUT", Some(&key)).await {
                        Ok(KeyAnswer::Key(_)) => {
                            retry = KEY_RETRY;
                            self.confirmed_at = SystemTime::now();
                            if let Some(k) = &mut self.key {
                                k.keep_alive_at = Instant::now() + self.keepalive;
                            }
                        }
                        Ok(KeyAnswer::Gone) => {
                            tracing::info!("listen key gone (-1125): making a new one");
                            // Dead since some time after it was last confirmed.
                            let since = self.confirmed_at;
                            self.key_died(since);
                            renew_at = Some(Instant::now());
                        }
                        Err(e) if e.is_auth() => {
                            self.end(e);
                            break;
                        }
                        Err(e) => {
                            // Inside its 60 minutes: try again soon.
                            let wait = e.retry_after().unwrap_or(retry).max(retry);
                            tracing::info!("listen key keepalive: {e}; again in {wait:?}");
                            if let Some(k) = &mut self.key {
                                k.keep_alive_at = Instant::now() + wait;
                            }
                            retry = (retry * 2).min(KEY_RETRY_MAX);
                        }
                    }
                }
                Some((leg, entry)) = frames.recv() => {
                    match self.on_entry(leg, entry) {
                        Seen::Expired if renew_at.is_none() => {
                            tracing::info!("listenKeyExpired: making a new key");
                            self.key_died(SystemTime::now());
                            renew_at = Some(Instant::now());
                        }
                        Seen::Ended(error) => {
                            self.end(error);
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
        // The key is left to expire, not DELETEd: a second POST for the
        // account returns the same key, so another socket (or process) of
        // the account may be reading it.
        for leg in self.legs.drain(..) {
            leg.stop();
        }
        // An end with an error (a refused key) stays what it was.
        self.state.send_if_modified(|state| {
            if matches!(state, State::Ended(_)) {
                return false;
            }
            *state = State::Ended(Error::closed());
            true
        });
    }

    /// Carry `key`: new connections for it (unless it is the key they
    /// carry already: a POST while a key lives returns the same key);
    /// connections of an older key stay until one of the new is up.
    fn use_key(&mut self, key: String) {
        let key: Arc<str> = Arc::from(key);
        self.key = Some(ListenKey {
            value: key.clone(),
            keep_alive_at: Instant::now() + self.keepalive,
        });
        let carrying = self.legs.iter().filter(|l| l.key == key).count();
        for _ in carrying..self.want {
            self.add_leg(key.clone());
        }
    }

    fn add_leg(&mut self, key: Arc<str>) {
        let connections = &self.setup.connections;
        let base = match self.setup.venue {
            Venue::UsdM => format!("{}{}", self.setup.stream_base, Route::Private.path()),
            _ => self.setup.stream_base.clone(),
        };
        let mut plan = connections.plan_at(base, self.setup.venue, vec![key.to_string()], false);
        plan.private = connections.next_reader();
        plan.user_data = true;
        let handle = connections.connection(&plan);
        let reader = connections.next_reader();
        let options = &connections.env.options;
        let queue = Arc::new(Queue::new(options.queue_capacity, options.overflow));
        handle.send(Command::Attach {
            id: reader,
            queue: queue.clone(),
            stamp: false,
            max_stall: options.max_stall,
        });
        let tx = self.frames_tx.clone();
        let number = self.next_leg;
        self.next_leg += 1;
        let forward = tokio::spawn(async move {
            loop {
                let entry = queue.pop().await;
                let ended = entry.is_err();
                if tx.send((number, entry)).is_err() || ended {
                    return;
                }
            }
        });
        self.legs.push(Leg {
            number,
            reader,
            handle,
            forward,
            key,
            up: false,
        });
    }

    /// One entry of leg `number`.
    fn on_entry(&mut self, number: u64, entry: Result<Entry<U>, Error>) -> Seen {
        let Some(at) = self.legs.iter().position(|l| l.number == number) else {
            return Seen::Nothing; // a leg already stopped
        };
        let frame = match entry {
            Ok(Entry::Frame(frame)) => frame,
            Ok(Entry::Status(status, _)) => {
                match *status {
                    Status::Connected | Status::Reconnected | Status::Rotated => {
                        self.legs[at].up = true;
                        self.retire_old_legs();
                    }
                    Status::Disconnected { .. } => self.legs[at].up = false,
                    // Events lost on the way to this task: say so.
                    lagged @ Status::Lagged { .. } => self.queue.push(Message::Status(lagged)),
                    _ => {}
                }
                self.coverage();
                return Seen::Nothing;
            }
            // Only a market socket's own ledger backfills.
            Ok(Entry::Backfill(_)) => return Seen::Nothing,
            Err(e) => {
                // The connection gave up (its reconnect budget spent).
                tracing::info!("user connection {number} ended: {e}");
                let leg = self.legs.remove(at);
                leg.stop();
                self.coverage();
                if !self.covered {
                    // No other carries the account: the socket ends, as
                    // every socket does when its retries run out.
                    return Seen::Ended(e);
                }
                if let Some(key) = self.key.as_ref().map(|k| k.value.clone()) {
                    if leg.key == key {
                        self.add_leg(key);
                    }
                }
                return Seen::Nothing;
            }
        };
        if !self.seen.fresh(frame.text()) {
            return Seen::Nothing;
        }
        match decode_futures_user(frame.text().as_bytes()) {
            Ok(event) => {
                // Only the current key's expiry matters (an old key's, late
                // on a connection about to go, does not).
                let expired = match (&event, &self.key) {
                    (FuturesUserEvent::ListenKeyExpired(e), Some(key)) => {
                        *e.listen_key == *key.value
                    }
                    _ => false,
                };
                self.queue.push(Message::FuturesUser(Box::new(event)));
                match expired {
                    true => Seen::Expired,
                    false => Seen::Nothing,
                }
            }
            Err(error) => {
                tracing::warn!("malformed user frame: {error}");
                self.queue
                    .push(Message::Status(Status::Malformed { error }));
                Seen::Nothing
            }
        }
    }

    /// The current key no longer carries the account (expired, or gone):
    /// its connections stop counting, so the time until a new key's
    /// connection is up is reported as a [`Status::Gap`] from `since`.
    fn key_died(&mut self, since: SystemTime) {
        self.key = None;
        self.coverage();
        if let Some(from) = &mut self.gap_since {
            *from = (*from).min(since);
        }
    }

    /// Once a connection of the current key is up, those of older keys go.
    fn retire_old_legs(&mut self) {
        let Some(key) = self.key.as_ref().map(|k| k.value.clone()) else {
            return;
        };
        if !self.legs.iter().any(|l| l.key == key && l.up) {
            return;
        }
        let before = self.legs.len();
        self.legs.retain(|leg| {
            let keep = leg.key == key;
            if !keep {
                leg.stop();
            }
            keep
        });
        if self.legs.len() < before {
            // The new key's connections carry the account now.
            self.queue.push(Message::Status(Status::Rotated));
        }
    }

    /// Say when coverage starts, stops and comes back (with the gap).
    fn coverage(&mut self) {
        let current = self.key.as_ref().map(|k| k.value.clone());
        let covered = self
            .legs
            .iter()
            .any(|l| l.up && current.as_ref() == Some(&l.key));
        if covered == self.covered {
            return;
        }
        self.covered = covered;
        let now = SystemTime::now();
        if !covered {
            self.gap_since = Some(now);
            self.queue.push(Message::Status(Status::Disconnected {
                reason: "every user data connection is down".into(),
            }));
            return;
        }
        if !self.ever_covered {
            self.ever_covered = true;
            self.queue.push(Message::Status(Status::Connected));
            let _ = self.state.send(State::Open);
        } else {
            self.queue.push(Message::Status(Status::Reconnected));
        }
        if let Some(from) = self.gap_since.take() {
            self.queue.push(Message::Status(Status::Gap {
                stream: None,
                from: Position::Time(from),
                to: Position::Time(now),
            }));
        }
    }

    fn end(&mut self, error: Error) {
        self.queue.end(error.clone());
        let _ = self.state.send(State::Ended(error));
    }
}
