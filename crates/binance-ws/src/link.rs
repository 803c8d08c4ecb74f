//! One reconnecting WebSocket, the same for every kind of connection:
//! connect tries paced under Binance's attempt limit, backoff between them
//! (at least what a `Retry-After` asks), a connection counted as stable only
//! once it has said something and stayed up, the watchdog, and
//! make-before-break rotation before Binance's 24-hour cut, on
//! `serverShutdown`, or when the protocol asks.
//!
//! What runs over it is a [`Protocol`]: market streams
//! ([`crate::market`]), WebSocket API requests ([`crate::wsapi`]). The link
//! does not look inside frames; the protocol does not know how connections
//! come and go beyond the [`LinkEvent`]s and [`Phase`]s it is told.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};

use crate::config::Options;
use crate::error::Error;
use crate::limiter::Window;
use crate::transport::{self, Network, Ws};

/// Frames read in one go before the loop looks at its timers and commands.
pub(crate) const DRAIN_BATCH: usize = 512;
/// The most frames read out of an old connection as it is replaced (a
/// bound on a loop over a socket that keeps receiving).
const SWITCH_DRAIN_MAX: usize = 1_000_000;
/// How long after a failed rotation the next one is tried.
const ROTATION_RETRY: Duration = Duration::from_secs(5);

/// What every link of a manager shares: how to reach the server, the
/// connect-attempt pacing, the options.
pub(crate) struct LinkEnv {
    pub net: Network,
    pub attempts: Window,
    pub options: Options,
}

impl LinkEnv {
    /// Take a pacing slot, then open a WebSocket to `url`.
    pub async fn connect(self: Arc<Self>, url: String) -> Result<Ws, Error> {
        self.attempts.acquire().await;
        transport::connect(&url, &self.net).await
    }
}

/// A link's state, for `connect().await`.
#[derive(Debug, Clone)]
pub(crate) enum State {
    Connecting,
    Open,
    Ended(Error),
}

/// Wait until a link (or a subscription) is open; the error it ended with
/// otherwise.
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

/// How long `close()` waits for a handle's connections to say goodbye.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Wait (at most [`CLOSE_WAIT`]) until a link (or a user socket's task) has
/// ended: what `close()` on every handle waits for.
pub(crate) async fn wait_ended(mut state: watch::Receiver<State>) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while !matches!(*state.borrow_and_update(), State::Ended(_)) {
            if state.changed().await.is_err() {
                break;
            }
        }
    })
    .await;
}

/// How one link behaves beyond the options every link shares.
pub(crate) struct Settings {
    /// Move to a fresh connection this long after one opens (`None`: never;
    /// the owner replaces it).
    pub rotate_after: Option<Duration>,
    /// How long both connections of a rotation are read before the old one
    /// goes (zero: switch as soon as the new one is open).
    pub overlap: Duration,
    /// Pacing of outgoing messages (Binance limits control messages per
    /// connection); `None`: sent as soon as queued.
    pub pace: Option<Window>,
    /// The longest a send may take before the connection counts as dead (a
    /// peer that stops reading must not block the loop).
    pub send_timeout: Duration,
    /// Send a WebSocket ping when nothing was heard for this long (servers
    /// that ping more rarely than the watchdog's silence: futures); the
    /// pong is something heard. `None`: never.
    pub keepalive: Option<Duration>,
}

/// What the link tells its protocol about connections.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// A connection is open: the first (`again: false`) or one after a drop.
    Opened { again: bool },
    /// The connection dropped, for this reason.
    Dropped(String),
    /// A connect try failed.
    ConnectFailed(String),
    /// Waiting before connect try `attempt`.
    Reconnecting { attempt: u32, delay: Duration },
    /// A rotation's new connection has taken over.
    Rotated,
    /// The link ended: retries spent, or closed.
    Ended(Error),
}

/// Where a rotation stands, as the protocol is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A new connection is being opened; frames may soon come twice.
    Opening,
    /// It failed; the current connection carries on alone.
    Failed,
    /// The new connection has taken over; the old one is read out.
    Switched,
}

/// Which connection a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// The connection in use.
    Current,
    /// A rotation's new connection, during the overlap.
    Next,
}

/// What the protocol wants after a frame or a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Nothing,
    /// Move to a fresh connection, make-before-break (`serverShutdown`, a
    /// silent stream).
    Rotate,
}

/// What a command leaves of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// Nothing uses the link any more, unless a command already queued
    /// says otherwise.
    Idle,
    /// Close now.
    Close,
}

/// What the protocol's readers allow the link to read.
pub(crate) enum Room {
    /// At most this many frames.
    Read(usize),
    /// Nothing until this completes (a reader's queue has room, or its
    /// patience is spent).
    Wait(Pin<Box<dyn Future<Output = ()> + Send>>),
}

/// Why the link stopped reading a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Nothing more was there: caught up with the network.
    CaughtUp,
    /// The readers' room was used up with more maybe there.
    Limited,
}

/// What runs over a link.
pub(crate) trait Protocol: Send + 'static {
    /// What handles send the link's task.
    type Command: Send + 'static;

    /// The URL the next connection opens.
    fn url(&mut self) -> String;
    /// A connection came or went (see [`LinkEvent`]).
    fn on_link(&mut self, event: LinkEvent);
    /// A command from a handle; `open`: a connection is up.
    fn on_command(&mut self, command: Self::Command, open: bool) -> Flow;
    /// A text frame.
    fn on_frame(&mut self, text: Utf8Bytes, from: Which) -> After;
    /// A batch of frames has been passed to `on_frame`: hand them on.
    fn flush(&mut self) {}
    /// How much may be read now.
    fn room(&mut self) -> Room {
        Room::Read(DRAIN_BATCH)
    }
    /// Why the last batch of reads stopped.
    fn read_stopped(&mut self, _why: Stop) {}
    /// A rotation moved on (see [`Phase`]).
    fn on_rotation(&mut self, _phase: Phase) {}
    /// What to send first on a rotation's new connection.
    fn next_opened(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Whether a message waits to be sent (a protocol that must not send
    /// during a rotation says no meanwhile).
    fn has_outgoing(&self) -> bool {
        false
    }
    /// The next message to send on the current connection.
    fn outgoing(&mut self) -> Option<String> {
        None
    }
    /// The watchdog's tick. `held`: the readers hold the link back (their
    /// streams' silence is not the server's); `rotating`: a rotation is on.
    fn tick(&mut self, _now: Instant, _held: bool, _rotating: bool) -> After {
        After::Nothing
    }
    /// A rotation's old connection, read out as far as it had received:
    /// close it (the default), or keep it for answers still due.
    fn retire(&mut self, old: Ws) {
        tokio::spawn(close_quietly(old));
    }
}

/// Close a WebSocket politely, not waiting long for the peer.
pub(crate) async fn close_quietly(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(Some(frame))).await;
}

type Connecting = Pin<Box<dyn Future<Output = Result<Ws, Error>> + Send>>;

/// A rotation: make the new connection, read both, switch.
enum Rotation {
    /// None under way.
    Idle,
    /// The new connection is being opened.
    Opening(Connecting),
    /// Both are read until the switch timer fires.
    Overlap {
        next: Box<Ws>,
        /// The old connection ended meanwhile: switch now.
        old_done: bool,
        /// The new connection's server announced its shutdown too: rotate
        /// again once switched.
        doomed: bool,
    },
}

/// How a session (one connection, with its rotations) ended.
enum End {
    /// Closed by its owner.
    Closed,
    /// The connection dropped.
    Dropped(String),
}

/// Start a link's task; `on_exit` runs when it ends. Returns the command
/// sender and the state.
pub(crate) fn spawn<P: Protocol>(
    env: Arc<LinkEnv>,
    settings: Settings,
    protocol: P,
    on_exit: Box<dyn FnOnce() + Send>,
) -> (mpsc::UnboundedSender<P::Command>, watch::Receiver<State>) {
    let (commands, rx) = mpsc::unbounded_channel();
    let (state_tx, state) = watch::channel(State::Connecting);
    let link = Link {
        env,
        settings,
        protocol,
        commands: rx,
        state: state_tx,
        heard_any: false,
    };
    tokio::spawn(async move {
        link.run().await;
        on_exit();
    });
    (commands, state)
}

struct Link<P: Protocol> {
    env: Arc<LinkEnv>,
    settings: Settings,
    protocol: P,
    commands: mpsc::UnboundedReceiver<P::Command>,
    state: watch::Sender<State>,
    /// The current session has received a frame (a connection that never
    /// says anything does not count as stable, however long it stays open).
    heard_any: bool,
}

impl<P: Protocol> Link<P> {
    /// A command; false when the link is to close (after taking any command
    /// already queued, so one racing the last user's departure counts).
    fn command(&mut self, command: Option<P::Command>, open: bool) -> bool {
        let Some(command) = command else {
            return false;
        };
        let mut flow = self.protocol.on_command(command, open);
        while flow == Flow::Idle {
            match self.commands.try_recv() {
                Ok(command) => flow = self.protocol.on_command(command, open),
                Err(_) => return false,
            }
        }
        flow == Flow::Continue
    }

    fn end(&mut self, error: Error) {
        self.protocol.on_link(LinkEvent::Ended(error.clone()));
        let _ = self.state.send(State::Ended(error));
    }

    fn open(&mut self) -> Connecting {
        Box::pin(self.env.clone().connect(self.protocol.url()))
    }

    async fn run(mut self) {
        let reconnect = self.env.options.reconnect.clone();
        let mut attempt: u32 = 0;
        let mut ever_open = false;
        loop {
            let mut connecting = self.open();
            let result = loop {
                tokio::select! {
                    result = &mut connecting => break result,
                    command = self.commands.recv() => {
                        if !self.command(command, false) {
                            return self.end(Error::closed());
                        }
                    }
                }
            };
            let error = match result {
                Ok(ws) => {
                    let _ = self.state.send(State::Open);
                    self.protocol
                        .on_link(LinkEvent::Opened { again: ever_open });
                    ever_open = true;
                    let opened = Instant::now();
                    self.heard_any = false;
                    match self.session(ws).await {
                        End::Closed => return self.end(Error::closed()),
                        End::Dropped(reason) => {
                            if self.heard_any && opened.elapsed() >= reconnect.stable_after {
                                attempt = 0;
                            }
                            self.protocol.on_link(LinkEvent::Dropped(reason));
                            None
                        }
                    }
                }
                Err(e) => Some(e),
            };
            let _ = self.state.send(State::Connecting);
            attempt += 1;
            if let Some(e) = &error {
                self.protocol
                    .on_link(LinkEvent::ConnectFailed(e.to_string()));
            }
            if !reconnect.allows(attempt) {
                let last = error.map(|e| format!(": {e}")).unwrap_or_default();
                tracing::warn!("giving up after {} tries{last}", attempt - 1);
                return self.end(Error::max_reconnects());
            }
            let mut delay = reconnect.delay(attempt);
            if let Some(retry_after) = error.as_ref().and_then(Error::retry_after) {
                delay = delay.max(retry_after);
            }
            if let Some(e) = &error {
                tracing::info!("connect failed: {e}; try {attempt} in {delay:?}");
            }
            self.protocol
                .on_link(LinkEvent::Reconnecting { attempt, delay });
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = self.commands.recv() => {
                        if !self.command(command, false) {
                            return self.end(Error::closed());
                        }
                    }
                }
            }
        }
    }

    /// Start a rotation unless one is under way.
    fn rotate(&mut self, rotation: &mut Rotation) {
        if matches!(rotation, Rotation::Idle) {
            *rotation = Rotation::Opening(self.open());
            self.protocol.on_rotation(Phase::Opening);
        }
    }

    /// Read one connection until it ends, rotating to fresh ones.
    async fn session(&mut self, ws: Ws) -> End {
        let watchdog = self.env.options.watchdog;
        let mut current = ws;
        let mut rotation = Rotation::Idle;
        // Reading the clock per frame costs more than decoding it under a
        // flood: frames only set a flag, and the tick reads the clock.
        let mut last_frame = Instant::now();
        let mut heard = false;
        let mut was_held = false;
        // A keepalive ping went out for the current quiet spell.
        let mut pinged = false;
        let mut check = tokio::time::interval(Duration::from_millis(
            (watchdog.as_millis() as u64 / 4).clamp(5, 250),
        ));
        // Timers live across iterations: making a `Sleep` per select pass
        // registers a timer per frame.
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        let rotate_at = |after: Option<Duration>| after.map_or(far, |d| Instant::now() + d);
        let rotate_timer = tokio::time::sleep_until(rotate_at(self.settings.rotate_after));
        let switch_timer = tokio::time::sleep_until(far);
        let send_timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(rotate_timer, switch_timer, send_timer);
        // The pacing slot reserved for the next outgoing message.
        let mut slot: Option<Instant> = None;
        loop {
            let sending = self.protocol.has_outgoing();
            // Backpressure: read no more than the readers take; while one
            // is full, TCP holds the rest.
            let mut room = self.protocol.room();
            let (limit, held) = match &room {
                Room::Read(n) => (*n, false),
                Room::Wait(_) => (0, true),
            };
            // A pong queued by the last ping read goes out before the pause
            // (tungstenite sends it on the next read or write).
            if held && !was_held {
                let _ = current.flush().await;
            }
            was_held = held;
            let idle = matches!(rotation, Rotation::Idle);
            let (overlap, old_done) = match &rotation {
                Rotation::Overlap { old_done, .. } => (true, *old_done),
                _ => (false, false),
            };
            // The rotation's future and new connection, borrowed apart for
            // the branches that read them.
            let (opening, next) = match &mut rotation {
                Rotation::Opening(connecting) => (Some(connecting), None),
                Rotation::Overlap { next, .. } => (None, Some(next)),
                Rotation::Idle => (None, None),
            };
            let is_opening = opening.is_some();
            tokio::select! {
                biased;
                // Commands and timers first: under a flood the socket is
                // always ready, and must not starve them.
                command = self.commands.recv() => {
                    if !self.command(command, true) {
                        close_quietly(current).await;
                        if let Rotation::Overlap { next, .. } = rotation {
                            close_quietly(*next).await;
                        }
                        return End::Closed;
                    }
                }
                opened = async { opening.expect("guarded").await }, if is_opening => match opened {
                    Ok(mut next) => {
                        for text in self.protocol.next_opened() {
                            let _ = next.send(tungstenite::Message::Text(text.into())).await;
                        }
                        let switch_at = Instant::now() + self.settings.overlap;
                        switch_timer.as_mut().reset(switch_at);
                        rotation = Rotation::Overlap { next: Box::new(next), old_done: false, doomed: false };
                    }
                    Err(e) => {
                        tracing::info!("rotation connect failed: {e}; trying again in {ROTATION_RETRY:?}");
                        rotation = Rotation::Idle;
                        self.protocol.on_rotation(Phase::Failed);
                        rotate_timer.as_mut().reset(Instant::now() + ROTATION_RETRY);
                    }
                },
                _ = &mut switch_timer, if overlap => {
                    let Rotation::Overlap { next, old_done, doomed } =
                        std::mem::replace(&mut rotation, Rotation::Idle) else { unreachable!("guarded") };
                    // What the old connection received before the new one
                    // opened is only on the old one: it is all read out before
                    // it goes, past the readers' room if need be (a backlog
                    // held back by a slow reader is data too). What arrives
                    // meanwhile is on the new one as well.
                    if !old_done {
                        for _ in 0..SWITCH_DRAIN_MAX {
                            match current.next().now_or_never() {
                                Some(Some(Ok(tungstenite::Message::Text(text)))) => {
                                    self.protocol.on_frame(text, Which::Current);
                                }
                                Some(Some(Ok(_))) => {}
                                Some(_) | None => break,
                            }
                        }
                        self.protocol.flush();
                    }
                    let old = std::mem::replace(&mut current, *next);
                    self.protocol.retire(old);
                    self.protocol.on_rotation(Phase::Switched);
                    self.protocol.on_link(LinkEvent::Rotated);
                    rotate_timer.as_mut().reset(rotate_at(self.settings.rotate_after));
                    switch_timer.as_mut().reset(far);
                    last_frame = Instant::now();
                    // The new connection's quiet spell starts now: a ping
                    // sent on the old one does not count for it.
                    pinged = false;
                    if doomed {
                        self.rotate(&mut rotation);
                    }
                }
                _ = &mut rotate_timer, if idle => {
                    tracing::info!("connection near its lifetime: rotating");
                    rotate_timer.as_mut().reset(rotate_at(self.settings.rotate_after));
                    self.rotate(&mut rotation);
                }
                _ = &mut send_timer, if sending => {
                    // One reservation per message: wait for it, then use it.
                    if let Some(pace) = &self.settings.pace {
                        let at = *slot.get_or_insert_with(|| pace.reserve());
                        if at > Instant::now() {
                            send_timer.as_mut().reset(at);
                            continue;
                        }
                    }
                    slot = None;
                    let Some(text) = self.protocol.outgoing() else { continue };
                    let limit = self.settings.send_timeout;
                    match tokio::time::timeout(limit, current.send(tungstenite::Message::Text(text.into()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return End::Dropped(e.to_string()),
                        Err(_) => return End::Dropped(format!("could not send within {} ms", limit.as_millis())),
                    }
                }
                _ = async {
                    if let Room::Wait(wait) = &mut room {
                        wait.await;
                    }
                }, if held => {}
                _ = check.tick() => {
                    let now = Instant::now();
                    let rotating = !matches!(rotation, Rotation::Idle);
                    if self.protocol.tick(now, held, rotating) == After::Rotate {
                        self.rotate(&mut rotation);
                    }
                    // Not reading is not the server's silence.
                    if std::mem::take(&mut heard) || held {
                        last_frame = now;
                        pinged = false;
                    } else if now.duration_since(last_frame) >= watchdog {
                        let reason = format!("no frame for {} ms", now.duration_since(last_frame).as_millis());
                        close_quietly(current).await;
                        return End::Dropped(reason);
                    }
                    if let Some(quiet) = self.settings.keepalive {
                        if !pinged && now.duration_since(last_frame) >= quiet {
                            pinged = true;
                            let ping = tungstenite::Message::Ping(Vec::new().into());
                            match tokio::time::timeout(self.settings.send_timeout, current.send(ping)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => return End::Dropped(e.to_string()),
                                Err(_) => return End::Dropped("could not send a ping in time".to_owned()),
                            }
                        }
                    }
                }
                frame = current.next(), if !old_done && limit > 0 => {
                    heard = true;
                    self.heard_any = true;
                    // Take what else is already readable (as much as the
                    // readers take) before selecting again, and hand it over
                    // in one batch. Every frame read is delivered.
                    let mut item = frame;
                    let mut read = 1;
                    let ended = loop {
                        match item {
                            Some(Ok(tungstenite::Message::Text(text))) => {
                                if self.protocol.on_frame(text, Which::Current) == After::Rotate {
                                    tracing::info!("serverShutdown: rotating to a new connection");
                                    self.rotate(&mut rotation);
                                }
                            }
                            Some(Ok(tungstenite::Message::Close(frame))) => {
                                break Some(frame.map_or("closed by the server".to_owned(), |f| {
                                    format!("close {}: {}", u16::from(f.code), f.reason)
                                }));
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break Some(e.to_string()),
                            None => break Some("connection closed".to_owned()),
                        }
                        if read >= limit {
                            if limit < DRAIN_BATCH {
                                self.protocol.read_stopped(Stop::Limited);
                            }
                            break None;
                        }
                        match current.next().now_or_never() {
                            Some(more) => {
                                item = more;
                                read += 1;
                            }
                            None => {
                                self.protocol.read_stopped(Stop::CaughtUp);
                                break None;
                            }
                        }
                    };
                    self.protocol.flush();
                    if let Some(reason) = ended {
                        match &mut rotation {
                            // The old connection ended during an overlap: switch now.
                            Rotation::Overlap { old_done, .. } => {
                                *old_done = true;
                                switch_timer.as_mut().reset(Instant::now());
                            }
                            _ => return End::Dropped(reason),
                        }
                    }
                }
                frame = async { next.expect("guarded").next().await }, if overlap && limit > 0 => match frame {
                    Some(Ok(tungstenite::Message::Text(text))) => {
                        if self.protocol.on_frame(text, Which::Next) == After::Rotate {
                            if let Rotation::Overlap { doomed, .. } = &mut rotation {
                                *doomed = true;
                            }
                        }
                        self.protocol.flush();
                    }
                    Some(Ok(_)) => {}
                    // The new connection failed during the overlap: keep the old one.
                    _ => {
                        rotation = Rotation::Idle;
                        switch_timer.as_mut().reset(far);
                        self.protocol.on_rotation(Phase::Failed);
                        rotate_timer.as_mut().reset(Instant::now() + ROTATION_RETRY);
                    }
                },
            }
        }
    }
}
