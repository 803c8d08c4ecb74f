//! One connection task: connect, read, answer pings, watch for silence,
//! reconnect with backoff, rotate before the 24-hour limit, and hand every
//! frame to the sockets attached to it.
//!
//! The read loop never waits on a reader: queues take what is pushed at once
//! (see [`Queue`]), so pongs always go out in time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use binance_types::control::{ControlRequest, ControlResponse, RequestId};
use binance_types::frame;
use binance_types::{Event, TimeUnit};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};

use crate::error::Error;
use crate::limiter::Window;
use crate::message::{RawFrame, Status};
use crate::queue::{Entry, Queue};
use crate::silence::{combined_stream, Silence};
use crate::transport::{self, Network, Ws};
use crate::Options;

/// What a connection connects to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Plan {
    /// Endpoint base URL.
    pub base: String,
    /// Streams, canonical names.
    pub streams: Vec<String>,
    /// `/stream` (combined envelope) rather than `/ws`.
    pub combined: bool,
    /// `timeUnit=MICROSECOND`.
    pub micros: bool,
    /// Non-zero for a connection no other socket may join (live sockets,
    /// whose subscriptions are their own).
    pub private: u64,
}

/// Above this many streams, connect bare and SUBSCRIBE rather than put the
/// names in the URL (URLs have length limits along the way).
const URL_STREAMS_MAX: usize = 100;
/// Frames read in one go before the loop looks at its timers and commands.
const DRAIN_BATCH: usize = 512;
/// The longest a switch keeps filtering repeats of a stream that stays
/// quiet on the new connection.
const DEDUPE_MAX: Duration = Duration::from_secs(60);
/// The most frames read out of an old connection as it is replaced (a
/// bound on a loop over a socket that keeps receiving).
const SWITCH_DRAIN_MAX: usize = 1_000_000;
/// Streams per SUBSCRIBE request when subscribing after connect.
const SUBSCRIBE_BATCH: usize = 300;

impl Plan {
    /// The URL a connection opens for `streams`.
    fn url(&self, streams: &BTreeSet<String>) -> String {
        let unit = if self.micros {
            "timeUnit=MICROSECOND"
        } else {
            ""
        };
        let (path, mut query) = if streams.len() > URL_STREAMS_MAX || streams.is_empty() {
            (
                if self.combined { "/stream" } else { "/ws" }.to_owned(),
                String::new(),
            )
        } else if self.combined {
            let names: Vec<&str> = streams.iter().map(String::as_str).collect();
            ("/stream".to_owned(), format!("streams={}", names.join("/")))
        } else {
            let names: Vec<&str> = streams.iter().map(String::as_str).collect();
            (format!("/ws/{}", names.join("/")), String::new())
        };
        if !unit.is_empty() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(unit);
        }
        match query.is_empty() {
            true => format!("{}{path}", self.base),
            false => format!("{}{path}?{query}", self.base),
        }
    }

    /// The URL for the plan's own streams.
    pub fn initial_url(&self) -> String {
        self.url(&self.streams.iter().cloned().collect())
    }

    /// Its identity for sharing: the venue, the full URL, and the streams
    /// (which a long list keeps out of the URL).
    pub fn key(&self) -> String {
        format!(
            "{}#{}#{}",
            self.initial_url(),
            self.streams.join("/"),
            self.private
        )
    }

    /// Streams that must be subscribed after connecting to `url(streams)`.
    fn to_subscribe(&self, streams: &BTreeSet<String>) -> Vec<String> {
        if streams.len() > URL_STREAMS_MAX {
            streams.iter().cloned().collect()
        } else {
            Vec::new()
        }
    }
}

/// Connection state, for `connect().await`.
#[derive(Debug, Clone)]
pub(crate) enum State {
    Connecting,
    Open,
    Ended(Error),
}

/// A live subscription request.
pub(crate) enum Control {
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    List,
}

pub(crate) enum Command<U: TimeUnit> {
    Attach {
        id: u64,
        queue: Arc<Queue<Entry<U>>>,
        /// Stamp frames with the time they were read.
        stamp: bool,
        /// How long the connection may stop reading for this reader's full
        /// queue before its overflow policy applies.
        max_stall: Duration,
    },
    Detach {
        id: u64,
    },
    Control {
        control: Control,
        reply: oneshot::Sender<Result<Value, Error>>,
    },
}

/// Wait until a connection (or subscription) is open; the error it ended
/// with otherwise.
pub(crate) async fn wait_open(mut state: watch::Receiver<State>) -> Result<(), Error> {
    loop {
        match &*state.borrow_and_update() {
            State::Open => return Ok(()),
            State::Ended(e) => return Err(e.clone()),
            State::Connecting => {}
        }
        if state.changed().await.is_err() {
            return Err(Error::closed());
        }
    }
}

/// A cheap handle on a running connection.
#[derive(Clone)]
pub(crate) struct Handle<U: TimeUnit> {
    commands: mpsc::UnboundedSender<Command<U>>,
    pub state: watch::Receiver<State>,
}

impl<U: TimeUnit> Handle<U> {
    pub fn send(&self, command: Command<U>) -> bool {
        self.commands.send(command).is_ok()
    }

    pub fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// What a connection shares with its siblings.
pub(crate) struct Shared {
    pub net: Network,
    pub attempts: Window,
    pub options: Options,
}

/// Start a connection task; `on_exit` runs when it ends.
pub(crate) fn spawn<U: TimeUnit>(
    shared: Arc<Shared>,
    plan: Plan,
    on_exit: Box<dyn FnOnce() + Send>,
) -> Handle<U> {
    let (commands, rx) = mpsc::unbounded_channel();
    let (state_tx, state) = watch::channel(State::Connecting);
    let desired = plan.streams.iter().cloned().collect();
    let silence = shared.options.stream_watchdog.map(Silence::new);
    let conn = Connection {
        silence,
        held_since: None,
        shared,
        plan,
        desired,
        commands: rx,
        state: state_tx,
        readers: Vec::new(),
        next_id: 1,
        heard_any: false,
        pending: HashMap::new(),
        outbox: VecDeque::new(),
        control_pace: Window::new(4, Duration::from_secs(1)),
        batch: Vec::with_capacity(DRAIN_BATCH),
    };
    tokio::spawn(async move {
        conn.run().await;
        on_exit();
    });
    Handle { commands, state }
}

struct Reader<U: TimeUnit> {
    id: u64,
    queue: Arc<Queue<Entry<U>>>,
    stamp: bool,
    max_stall: Duration,
    /// It held the connection back for `max_stall`: its overflow policy
    /// applies until the connection has caught up and it has read half its
    /// queue.
    shedding: bool,
}

/// What the readers' queues allow the read loop to do.
enum Room<U: TimeUnit> {
    /// Read at most this many frames.
    Read(usize),
    /// Stop reading until this queue has room, or until the deadline
    /// (none: a `max_stall` too long to count, never shed).
    Wait(Arc<Queue<Entry<U>>>, Option<Instant>),
}

/// What to do with a control response.
enum Pending {
    /// A request from a socket, with the change to make on success.
    User {
        reply: oneshot::Sender<Result<Value, Error>>,
        control: Control,
        /// The request as sent, to send again if the connection drops
        /// before the answer.
        text: String,
    },
    /// A resubscription after (re)connecting.
    Internal,
}

struct Connection<U: TimeUnit> {
    shared: Arc<Shared>,
    plan: Plan,
    /// The streams this connection should carry now (URL plus live changes).
    desired: BTreeSet<String>,
    commands: mpsc::UnboundedReceiver<Command<U>>,
    state: watch::Sender<State>,
    readers: Vec<Reader<U>>,
    next_id: i64,
    pending: HashMap<i64, Pending>,
    outbox: VecDeque<(i64, String)>,
    control_pace: Window,
    /// Frames read and not yet handed to the readers.
    batch: Vec<RawFrame>,
    /// The current session has received a frame (a connection that never
    /// says anything does not count as stable, however long it stays open).
    heard_any: bool,
    /// Per-stream silence (off when `Options::stream_watchdog` is `None`).
    silence: Option<Silence>,
    /// Since when the readers have held the connection back: it stopped, or
    /// read less than was there because of their room, and has not caught
    /// up with the network since. One clock for the connection, so readers
    /// that hold it back in turn do not add up past Binance's pong deadline.
    held_since: Option<Instant>,
}

/// How a session (one WebSocket) ended.
enum End {
    /// Every socket let go, or the manager closed.
    Released,
    /// The connection dropped.
    Dropped(String),
}

type Connecting = Pin<Box<dyn Future<Output = Result<Ws, Error>> + Send>>;

impl<U: TimeUnit> Connection<U> {
    fn broadcast(&mut self, status: Status) {
        // Frames read before the change come before it.
        self.flush();
        for r in &self.readers {
            r.queue.push_over(Entry::status(status.clone()));
        }
    }

    fn end_all(&mut self, error: Error) {
        for r in self.readers.drain(..) {
            r.queue.end(error.clone());
        }
        let _ = self.state.send(State::Ended(error));
    }

    /// Handle a command; false when no reader is left (after taking any
    /// command already queued, so an attach racing the last detach counts).
    fn command(&mut self, command: Command<U>) -> bool {
        self.apply(command);
        while self.readers.is_empty() {
            match self.commands.try_recv() {
                Ok(command) => self.apply(command),
                Err(_) => return false,
            }
        }
        true
    }

    fn apply(&mut self, command: Command<U>) {
        match command {
            Command::Attach {
                id,
                queue,
                stamp,
                max_stall,
            } => {
                if matches!(*self.state.borrow(), State::Open) {
                    queue.push_over(Entry::status(Status::Connected));
                }
                self.readers.push(Reader {
                    id,
                    queue,
                    stamp,
                    max_stall,
                    shedding: false,
                });
            }
            Command::Detach { id } => self.readers.retain(|r| r.id != id),
            Command::Control { control, reply } => {
                let request = match &control {
                    Control::Subscribe(s) => ControlRequest::Subscribe {
                        streams: s.clone(),
                        id: RequestId::Null,
                    },
                    Control::Unsubscribe(s) => ControlRequest::Unsubscribe {
                        streams: s.clone(),
                        id: RequestId::Null,
                    },
                    Control::List => ControlRequest::ListSubscriptions {
                        id: RequestId::Null,
                    },
                };
                let (id, text) = self.queue_control(request);
                self.pending.insert(
                    id,
                    Pending::User {
                        reply,
                        control,
                        text,
                    },
                );
            }
        }
    }

    /// Queue a control request (sent paced); returns its id and text.
    fn queue_control(&mut self, request: ControlRequest) -> (i64, String) {
        let id = self.next_id;
        self.next_id += 1;
        let mut value = serde_json::to_value(&request).expect("requests serialise");
        value["id"] = id.into();
        let text = value.to_string();
        self.outbox.push_back((id, text.clone()));
        (id, text)
    }

    async fn run(mut self) {
        let options = self.shared.options.clone();
        let mut attempt: u32 = 0;
        let mut ever_open = false;
        loop {
            // Connect, answering commands meanwhile.
            let url = self.plan.url(&self.desired);
            let shared = self.shared.clone();
            let mut connecting: Connecting = Box::pin(async move {
                shared.attempts.acquire().await;
                transport::connect(&url, &shared.net).await
            });
            let result = loop {
                tokio::select! {
                    result = &mut connecting => break result,
                    command = self.commands.recv() => {
                        let Some(command) = command else { return };
                        if !self.command(command) {
                            return;
                        }
                    }
                }
            };
            let error = match result {
                Ok(ws) => {
                    let status = if ever_open {
                        Status::Reconnected
                    } else {
                        Status::Connected
                    };
                    ever_open = true;
                    let _ = self.state.send(State::Open);
                    self.broadcast(status);
                    let opened = Instant::now();
                    self.heard_any = false;
                    match self.session(ws).await {
                        End::Released => return,
                        End::Dropped(reason) => {
                            if self.heard_any && opened.elapsed() >= options.reconnect.stable_after
                            {
                                attempt = 0;
                            }
                            self.broadcast(Status::Disconnected { reason });
                            None
                        }
                    }
                }
                Err(e) => Some(e),
            };
            attempt += 1;
            if !options.reconnect.allows(attempt) {
                if let Some(e) = &error {
                    self.broadcast(Status::ConnectFailed {
                        reason: e.to_string(),
                    });
                }
                let last = error.map(|e| format!(": {e}")).unwrap_or_default();
                tracing::warn!(url = %self.plan.base, "giving up after {} tries{last}", attempt - 1);
                self.end_all(Error::max_reconnects());
                return;
            }
            let mut delay = options.reconnect.delay(attempt);
            if let Some(retry_after) = error.as_ref().and_then(Error::retry_after) {
                delay = delay.max(retry_after);
            }
            if let Some(e) = &error {
                tracing::info!("connect failed: {e}; try {attempt} in {delay:?}");
                self.broadcast(Status::ConnectFailed {
                    reason: e.to_string(),
                });
            }
            self.broadcast(Status::Reconnecting { attempt, delay });
            let _ = self.state.send(State::Connecting);
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = self.commands.recv() => {
                        let Some(command) = command else { return };
                        if !self.command(command) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Read one WebSocket until it ends; rotates to a fresh one before its
    /// lifetime ends or when the server announces a shutdown.
    async fn session(&mut self, ws: Ws) -> End {
        let options = self.shared.options.clone();
        let mut current = ws;
        // After a (re)connect, subscribe what the URL could not carry.
        self.pending
            .retain(|_, p| matches!(p, Pending::User { .. }));
        self.resubscribe();
        // Reading the clock per frame costs more than decoding it under a
        // flood: frames only set a flag, and the watchdog tick reads the clock.
        let mut last_frame = Instant::now();
        let mut heard = false;
        let mut was_stalled = false;
        self.held_since = None;
        if let Some(silence) = &mut self.silence {
            silence.restart(last_frame);
        }
        let mut check = tokio::time::interval(Duration::from_millis(
            (options.watchdog.as_millis() as u64 / 4).clamp(5, 1000),
        ));
        let mut rotate_at = Instant::now() + options.rotate_after;
        let mut next: Option<Ws> = None;
        let mut connecting: Option<Connecting> = None;
        let mut dedupe: Option<Dedupe> = None;
        let mut switch_at: Option<Instant> = None;
        // The next connection's server announced a shutdown too.
        let mut next_doomed = false;
        // The old connection ended during an overlap; stop polling it.
        let mut current_done = false;
        let mut dedupe_until: Option<Instant> = None;
        let mut send_at = Instant::now();
        // The pacing slot reserved for the next control message.
        let mut slot: Option<Instant> = None;
        // Timers live across iterations: making a `Sleep` per select pass
        // registers a timer per frame.
        let rotate_timer = tokio::time::sleep_until(rotate_at);
        let switch_timer = tokio::time::sleep_until(rotate_at);
        let send_timer = tokio::time::sleep_until(send_at);
        tokio::pin!(rotate_timer, switch_timer, send_timer);
        loop {
            // Not while rotating: the new connection's streams were fixed when it opened.
            let sending = !self.outbox.is_empty() && connecting.is_none() && next.is_none();
            // Backpressure: read no more than the readers' queues take; while
            // one is full, TCP holds the rest (up to that reader's max_stall).
            let room = self.room();
            let (limit, stalled) = match room {
                Room::Read(n) => (n, false),
                Room::Wait(..) => (0, true),
            };
            // A pong queued by the last ping read goes out before the pause
            // (tungstenite sends it on the next read or write).
            if stalled && !was_stalled {
                let _ = current.flush().await;
            }
            was_stalled = stalled;
            tokio::select! {
                biased;
                // Commands and timers first: under a flood the socket is always
                // ready, and must not starve them.
                command = self.commands.recv() => {
                    let alive = match command {
                        Some(command) => self.command(command),
                        None => false,
                    };
                    if !alive {
                        close_quietly(current).await;
                        if let Some(next) = next {
                            close_quietly(next).await;
                        }
                        let _ = self.state.send(State::Ended(Error::closed()));
                        return End::Released;
                    }
                }
                opened = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                    connecting = None;
                    match opened {
                        Ok(ws) => {
                            next = Some(ws);
                            switch_at = Some(Instant::now() + options.rotation_overlap);
                            switch_timer.as_mut().reset(switch_at.expect("just set"));
                            // The new connection needs the live subscriptions too.
                            for (id, request) in self.subscribe_requests() {
                                let _ = next.as_mut().expect("just set").send(tungstenite::Message::Text(request.into())).await;
                                self.pending.insert(id, Pending::Internal);
                            }
                        }
                        Err(e) => {
                            tracing::info!("rotation connect failed: {e}");
                            // Filtering a previous switch's repeats goes on.
                            if dedupe_until.is_none() {
                                dedupe = None;
                            }
                            rotate_at = Instant::now() + Duration::from_secs(5);
                            rotate_timer.as_mut().reset(rotate_at);
                        }
                    }
                }
                _ = &mut switch_timer, if switch_at.is_some() => {
                    // What the old connection received before the new one
                    // opened is only on the old one: it is all read out
                    // before it closes, past the readers' room if need be
                    // (a backlog held back by a slow reader is data too).
                    // What arrives meanwhile is on the new one as well.
                    if !current_done {
                        for _ in 0..SWITCH_DRAIN_MAX {
                            match current.next().now_or_never() {
                                Some(Some(Ok(tungstenite::Message::Text(text)))) => {
                                    self.deliver(text, dedupe.as_mut());
                                    if self.batch.len() >= DRAIN_BATCH {
                                        self.flush();
                                    }
                                }
                                Some(Some(Ok(_))) => {}
                                Some(_) | None => break,
                            }
                        }
                        self.flush();
                    }
                    let old = std::mem::replace(&mut current, next.take().expect("switch follows a new connection"));
                    close_quietly(old).await;
                    // What the new connection buffered during the overlap may
                    // repeat what the old one delivered: keep filtering until
                    // each stream has passed it.
                    if let Some(d) = dedupe.as_mut() {
                        d.behind = d.last.keys().cloned().collect();
                    }
                    dedupe_until = Some(Instant::now() + DEDUPE_MAX);
                    switch_at = None;
                    current_done = false;
                    rotate_at = Instant::now() + options.rotate_after;
                    rotate_timer.as_mut().reset(rotate_at);
                    last_frame = Instant::now();
                    if let Some(silence) = &mut self.silence {
                        silence.restart(last_frame);
                    }
                    self.broadcast(Status::Rotated);
                    if std::mem::take(&mut next_doomed) {
                        connecting = Some(self.open_next());
                        dedupe.get_or_insert_with(Dedupe::default);
                    }
                }
                _ = &mut rotate_timer, if connecting.is_none() && next.is_none() => {
                    tracing::info!("connection near its lifetime: rotating");
                    connecting = Some(self.open_next());
                    dedupe.get_or_insert_with(Dedupe::default);
                    rotate_at = Instant::now() + options.rotate_after;
                    rotate_timer.as_mut().reset(rotate_at);
                }
                _ = &mut send_timer, if sending => {
                    // One reservation per message: wait for it, then use it.
                    let at = *slot.get_or_insert_with(|| self.control_pace.reserve());
                    if at > Instant::now() {
                        send_at = at;
                        send_timer.as_mut().reset(send_at);
                        continue;
                    }
                    slot = None;
                    let (_, text) = self.outbox.pop_front().expect("sending");
                    if let Err(e) = current.send(tungstenite::Message::Text(text.into())).await {
                        return End::Dropped(e.to_string());
                    }
                }
                _ = async {
                    if let Room::Wait(queue, deadline) = &room {
                        match deadline {
                            Some(deadline) => {
                                let _ = tokio::time::timeout_at(*deadline, queue.room()).await;
                            }
                            None => queue.room().await,
                        }
                    }
                }, if stalled => {}
                _ = check.tick() => {
                    // Filtering ends once every stream's new connection has
                    // passed what the old one delivered (or, for a stream
                    // that stays quiet, after a long while).
                    if dedupe_until.is_some() && next.is_none() && connecting.is_none() {
                        let caught_up = dedupe.as_ref().is_none_or(|d| d.behind.is_empty());
                        if caught_up || dedupe_until.is_some_and(|t| Instant::now() >= t) {
                            dedupe = None;
                            dedupe_until = None;
                        }
                    }
                    // A stream gone quiet while others flow: report it, and
                    // move everything to a fresh connection (make-before-break).
                    for (stream, silent_for) in self.silent_streams(stalled) {
                        tracing::warn!("{stream}: no frame for {} ms; moving to a fresh connection", silent_for.as_millis());
                        self.broadcast(Status::StreamSilent { stream, silent_for });
                        if connecting.is_none() && next.is_none() {
                            connecting = Some(self.open_next());
                            dedupe.get_or_insert_with(Dedupe::default);
                        }
                    }
                    // Not reading is not the server's silence.
                    if std::mem::take(&mut heard) || stalled {
                        last_frame = Instant::now();
                    } else if last_frame.elapsed() >= options.watchdog {
                        let reason = format!("no frame for {} ms", last_frame.elapsed().as_millis());
                        close_quietly(current).await;
                        return End::Dropped(reason);
                    }
                }
                frame = current.next(), if !current_done && limit > 0 => {
                    heard = true;
                    self.heard_any = true;
                    // Take what else is already readable (as much as the
                    // queues take) before selecting again, and hand it over
                    // in one batch. Every frame read is delivered.
                    let mut item = frame;
                    let mut read = 1;
                    loop {
                        match item {
                            Some(Ok(tungstenite::Message::Text(text))) => {
                                if self.deliver(text, dedupe.as_mut()) == Delivered::Shutdown && connecting.is_none() && next.is_none() {
                                    tracing::info!("serverShutdown: rotating to a new connection");
                                    connecting = Some(self.open_next());
                                    dedupe.get_or_insert_with(Dedupe::default);
                                }
                            }
                            Some(Ok(tungstenite::Message::Close(frame))) => {
                                let reason = frame.map_or("closed by the server".to_owned(), |f| format!("close {}: {}", u16::from(f.code), f.reason));
                                if next.is_none() {
                                    return End::Dropped(reason);
                                }
                                current_done = true;
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) if next.is_none() => return End::Dropped(e.to_string()),
                            None if next.is_none() => return End::Dropped("connection closed".into()),
                            // The old connection ended during an overlap: switch now.
                            _ => current_done = true,
                        }
                        if current_done {
                            switch_at = Some(Instant::now());
                            switch_timer.as_mut().reset(switch_at.expect("just set"));
                            break;
                        }
                        if read >= limit {
                            // Stopped by the readers' room with more maybe
                            // there: held back, unless the batch was whole.
                            if limit < DRAIN_BATCH {
                                self.held_since.get_or_insert_with(Instant::now);
                            }
                            break;
                        }
                        match current.next().now_or_never() {
                            Some(more) => {
                                item = more;
                                read += 1;
                            }
                            None => {
                                // Nothing more to read: caught up.
                                self.held_since = None;
                                break;
                            }
                        }
                    }
                    self.flush();
                }
                frame = async { next.as_mut().expect("guarded").next().await }, if next.is_some() && limit > 0 => {
                    match frame {
                        Some(Ok(tungstenite::Message::Text(text))) => {
                            if self.deliver(text, dedupe.as_mut()) == Delivered::Shutdown {
                                next_doomed = true;
                            }
                            self.flush();
                        }
                        Some(Ok(_)) => {}
                        // The new connection failed during the overlap: keep the old one.
                        _ => {
                            next = None;
                            if dedupe_until.is_none() {
                                dedupe = None;
                            }
                            switch_at = None;
                            next_doomed = false;
                            rotate_at = Instant::now() + Duration::from_secs(5);
                            rotate_timer.as_mut().reset(rotate_at);
                        }
                    }
                }
            }
        }
    }

    fn open_next(&self) -> Connecting {
        let url = self.plan.url(&self.desired);
        let shared = self.shared.clone();
        Box::pin(async move {
            shared.attempts.acquire().await;
            transport::connect(&url, &shared.net).await
        })
    }

    /// SUBSCRIBE requests for streams the URL does not carry.
    fn subscribe_requests(&mut self) -> Vec<(i64, String)> {
        let streams = self.plan.to_subscribe(&self.desired);
        streams
            .chunks(SUBSCRIBE_BATCH)
            .map(|chunk| {
                let id = self.next_id;
                self.next_id += 1;
                let request = serde_json::json!({"method": "SUBSCRIBE", "params": chunk, "id": id});
                (id, request.to_string())
            })
            .collect()
    }

    fn resubscribe(&mut self) {
        let mut requests = self.subscribe_requests();
        for (id, _) in &requests {
            self.pending.insert(*id, Pending::Internal);
        }
        // A socket's request sent on the old connection and never answered
        // goes again (same id), then what was still queued.
        let queued: std::collections::HashSet<i64> =
            self.outbox.iter().map(|(id, _)| *id).collect();
        let mut unanswered: Vec<(i64, String)> = self
            .pending
            .iter()
            .filter_map(|(id, p)| match p {
                Pending::User { text, .. } if !queued.contains(id) => Some((*id, text.clone())),
                _ => None,
            })
            .collect();
        unanswered.sort_by_key(|(id, _)| *id);
        requests.extend(unanswered);
        requests.extend(self.outbox.drain(..));
        self.outbox = requests.into();
    }

    /// Streams silent past their limit (none while the readers hold the
    /// connection back: not reading is not the server's silence).
    fn silent_streams(&mut self, stalled: bool) -> Vec<(String, Duration)> {
        let Some(silence) = &mut self.silence else {
            return Vec::new();
        };
        // A raw connection's frames do not say their stream: with more than
        // one (live-subscribed), silence cannot be told apart.
        if !self.plan.combined && self.desired.len() > 1 {
            return Vec::new();
        }
        let now = Instant::now();
        silence.watch(&self.desired, now);
        if stalled {
            silence.restart(now);
            return Vec::new();
        }
        silence.check(now)
    }

    /// Decode (when a reader needs it) and hand a frame to every reader.
    fn deliver(&mut self, text: Utf8Bytes, dedupe: Option<&mut Dedupe>) -> Delivered {
        // Only recorders need the receive time.
        let received_at = match self.readers.iter().any(|r| r.stamp) {
            true => Some(SystemTime::now()),
            false => None,
        };
        // Control answers and shutdown notices are for this task; everything
        // else goes to the readers undecoded, and each decodes in its own
        // `recv()`, so decoding costs the reader's time, not the read loop's.
        if looks_like_control(&text) {
            if let Ok(frame) = frame::decode_as::<U>(text.as_bytes()) {
                if let Event::ControlResponse(response) = frame.event {
                    self.answer(response);
                    return Delivered::Control;
                }
            }
        } else if is_shutdown(&text) {
            return Delivered::Shutdown;
        }
        if let Some(dedupe) = dedupe {
            // During a rotation both connections deliver: pass what is new.
            if let Ok(frame) = frame::decode_as::<U>(text.as_bytes()) {
                if !dedupe.fresh(frame.stream().unwrap_or(""), &frame.event) {
                    return Delivered::Duplicate;
                }
            }
        }
        if let Some(silence) = &mut self.silence {
            match combined_stream(&text) {
                Some(stream) => silence.saw(stream),
                // A raw (`/ws`) connection carries one stream.
                None if !self.plan.combined => silence.saw_the_one(),
                None => {}
            }
        }
        self.batch.push(RawFrame { text, received_at });
        Delivered::Data
    }

    /// Hand the frames read so far to every reader (one lock per reader).
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let push = |r: &Reader<U>, frames: &mut dyn Iterator<Item = Entry<U>>| {
            match Self::admits_over(r) {
                true => r.queue.push_many_over(frames),
                false => r.queue.push_many(frames),
            }
        };
        if let Some((last, rest)) = self.readers.split_last() {
            for r in rest {
                push(r, &mut self.batch.iter().cloned().map(Entry::Frame));
            }
            push(last, &mut self.batch.drain(..).map(Entry::Frame));
        }
        self.batch.clear();
    }

    /// Backpressure: how many frames the readers' queues take now, or which
    /// full queue to wait for. Once the connection has been held back for a
    /// reader's `max_stall`, that reader no longer limits it (its overflow
    /// policy applies) until the connection has caught up and the reader
    /// has read half its queue: a reader that stays behind, stopped or only
    /// slow, loses messages and is told how many, and pongs are never held
    /// back for long. While a socket's own control request is unanswered
    /// nothing is held back: its answer is behind the unread frames.
    fn room(&mut self) -> Room<U> {
        let now = Instant::now();
        let control_pending = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::User { .. }));
        let mut room = DRAIN_BATCH;
        // The reader to wait for (by index), and its deadline.
        let mut wait: Option<(usize, Option<Instant>)> = None;
        for (i, r) in self.readers.iter_mut().enumerate() {
            let space = r.queue.space();
            if r.shedding {
                if self.held_since.is_some() || space < r.queue.capacity() / 2 {
                    continue;
                }
                r.shedding = false;
            }
            if control_pending || space >= DRAIN_BATCH {
                continue;
            }
            if space == 0 {
                self.held_since.get_or_insert(now);
            }
            let deadline = self
                .held_since
                .and_then(|since| since.checked_add(r.max_stall));
            if deadline.is_some_and(|d| d <= now) {
                if !r.max_stall.is_zero() {
                    tracing::warn!(
                        "a reader held the connection back for {} ms: its overflow policy applies",
                        r.max_stall.as_millis()
                    );
                }
                r.shedding = true;
                continue;
            }
            let sooner = |d: Option<Instant>| match (deadline, d) {
                (Some(mine), Some(theirs)) => mine < theirs,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if space == 0 && wait.is_none_or(|(_, d)| sooner(d)) {
                wait = Some((i, deadline));
            }
            room = room.min(space);
        }
        match wait {
            Some((i, deadline)) => Room::Wait(self.readers[i].queue.clone(), deadline),
            None => Room::Read(room),
        }
    }

    /// Whether `r` takes frames past its capacity: every reader but one
    /// whose overflow policy applies (a reader's room was counted before
    /// reading; a second connection feeding the same queue may have used
    /// some of it meanwhile, which must not drop anything).
    fn admits_over(r: &Reader<U>) -> bool {
        !r.shedding
    }

    fn answer(&mut self, response: ControlResponse) {
        let RequestId::Int(id) = response.id else {
            return;
        };
        match self.pending.remove(&id) {
            Some(Pending::User { reply, control, .. }) => {
                if response.result.is_ok() {
                    match &control {
                        Control::Subscribe(s) => self.desired.extend(s.iter().cloned()),
                        Control::Unsubscribe(s) => s.iter().for_each(|n| {
                            self.desired.remove(n);
                        }),
                        Control::List => {}
                    }
                }
                let _ = reply.send(response.result.map_err(Error::from));
            }
            Some(Pending::Internal) => {
                if let Err(e) = response.result {
                    tracing::warn!("resubscribe refused: {e}");
                }
            }
            None => {}
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Delivered {
    Data,
    Control,
    Shutdown,
    Duplicate,
}

/// `serverShutdown`, raw or combined, as Binance writes it.
fn is_shutdown(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("{\"e\":\"serverShutdown\"") || t.starts_with("{\"stream\":\"!serverShutdown\"")
}

/// Control answers start with `{"result"`, `{"error"`, `{"id"` or `{"code"`.
fn looks_like_control(text: &str) -> bool {
    let t = text.trim_start();
    ["{\"result\"", "{\"error\"", "{\"id\"", "{\"code\""]
        .iter()
        .any(|p| t.starts_with(p))
}

async fn close_quietly(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(Some(frame))).await;
}

/// During a rotation, both connections deliver; each stream's events pass
/// only if newer than the last one delivered.
#[derive(Default)]
struct Dedupe {
    last: HashMap<String, u64>,
    /// After the switch: streams whose new connection has not yet passed
    /// the old one's last key (its backlog may still repeat).
    behind: std::collections::HashSet<String>,
}

impl Dedupe {
    fn fresh<U: TimeUnit>(&mut self, stream: &str, event: &Event<U>) -> bool {
        let Some(key) = order_key(event) else {
            return true;
        };
        match self.last.get_mut(stream) {
            Some(last) if key <= *last => false,
            Some(last) => {
                *last = key;
                // One connection's keys only grow: the rest of this
                // stream on it is new.
                self.behind.remove(stream);
                true
            }
            None => {
                self.last.insert(stream.to_owned(), key);
                true
            }
        }
    }
}

/// A per-stream increasing key: ids where Binance has them, else event time.
fn order_key<U: TimeUnit>(event: &Event<U>) -> Option<u64> {
    Some(match event {
        Event::Trade(t) => t.trade_id,
        Event::AggTrade(a) => a.agg_trade_id,
        Event::DepthUpdate(d) => d.final_update_id,
        Event::BookTicker(b) => b.update_id,
        Event::PartialDepth(p) => p.last_update_id,
        Event::Kline(k) => k.event_time.get(),
        Event::MiniTicker(m) => m.event_time.get(),
        Event::Ticker(t) => t.event_time.get(),
        Event::RollingTicker(r) => r.event_time.get(),
        Event::AvgPrice(a) => a.event_time.get(),
        Event::MiniTickers(v) => v.iter().map(|m| m.event_time.get()).max()?,
        Event::RollingTickers(v) => v.iter().map(|m| m.event_time.get()).max()?,
        _ => return None,
    })
}
