//! One WebSocket session loop for both kinds of connection (the stream
//! server and the WebSocket API): frames out, requests in, Binance's
//! heartbeat, the connection's lifetime, the incoming-rate limit, and the
//! faults a test throws at it. What differs between the two kinds is a
//! [`Protocol`].

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::config::Limits;
use crate::faults::{Command, Conn, ConnKind, DropMode};
use crate::shared::{ConnMeta, Shared};

/// Frames the loop sends at most between two flushes.
const BATCH: usize = 256;

/// What one kind of connection does inside [`run`].
pub(crate) trait Protocol: Send {
    /// What its outbox carries.
    type Item: Send;
    /// Which server the connection is on.
    const KIND: ConnKind;

    /// The text frame of an outbox item.
    fn frame(&self, item: Self::Item) -> String;

    /// How long to wait before each outgoing data frame (a fault).
    fn frame_delay(&self) -> Duration {
        Duration::ZERO
    }

    /// Client frames allowed per second before the connection is closed
    /// (`None`: no limit).
    fn incoming_limit(&self) -> Option<u32>;

    /// Answer a client's text frame; `None` when nothing goes out now.
    fn answer(&mut self, text: String) -> impl Future<Output = Option<String>> + Send;

    /// A fault's frame in this server's shape.
    fn notice(&self, notice: Notice) -> String;

    /// The connection ended: let go of what it holds.
    fn close(&mut self);
}

/// Frames a fault sends.
pub(crate) enum Notice {
    /// A frame that is not valid JSON.
    Malformed,
    /// A valid JSON frame of about this many bytes.
    Oversized(usize),
    /// `serverShutdown`.
    ServerShutdown,
}

/// Where a connection's outgoing frames wait.
pub(crate) enum Outbox<T> {
    /// Bounded: when it is full the publisher drops the connection (a slow consumer).
    Bounded(mpsc::Receiver<T>),
    /// Unbounded.
    Unbounded(mpsc::UnboundedReceiver<T>),
}

impl<T> Outbox<T> {
    async fn recv_many(&mut self, batch: &mut Vec<T>, limit: usize) -> usize {
        match self {
            Outbox::Bounded(rx) => rx.recv_many(batch, limit).await,
            Outbox::Unbounded(rx) => rx.recv_many(batch, limit).await,
        }
    }
}

/// Run one connection until it ends: `start` gets the connection id the
/// fault switches know it by and makes its protocol and outbox.
pub(crate) async fn run<P: Protocol>(
    socket: WebSocket,
    s: Shared,
    meta: ConnMeta,
    start: impl FnOnce(u64) -> (P, Outbox<P::Item>),
) {
    let (cmd_tx, mut commands) = mpsc::unbounded_channel();
    let id = s.faults.register(Conn {
        commands: cmd_tx,
        kind: P::KIND,
    });
    let (mut protocol, mut outbox) = start(id);
    let limits = s.limits.clone();
    let (mut tx, mut rx) = socket.split();
    let lifetime = tokio::time::sleep(limits.max_lifetime);
    tokio::pin!(lifetime);
    let mut heartbeat = Heartbeat::new(&limits);
    let mut check = tokio::time::interval(heartbeat.check_every());
    let mut incoming: VecDeque<Instant> = VecDeque::new();
    let mut batch: Vec<P::Item> = Vec::with_capacity(BATCH);

    let end: Option<DropMode> = loop {
        tokio::select! {
            n = outbox.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    // The publisher dropped us: we could not keep up.
                    break Some(DropMode::Close { code: 1008, reason: "Slow consumer".into() });
                }
                let delay = protocol.frame_delay();
                let mut failed = false;
                for item in batch.drain(..) {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let text = protocol.frame(item);
                    if tx.feed(Message::Text(text.into())).await.is_err() {
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
                if let Some(limit) = protocol.incoming_limit() {
                    let now = Instant::now();
                    incoming.push_back(now);
                    while incoming.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
                        incoming.pop_front();
                    }
                    if incoming.len() > limit as usize {
                        break Some(DropMode::Close { code: 1008, reason: "Too many messages".into() });
                    }
                }
                let text = match heartbeat.incoming(message) {
                    Incoming::Text(text) => text,
                    Incoming::Nothing => continue,
                    Incoming::Closed => break None,
                };
                let Some(reply) = protocol.answer(text).await else { continue };
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
                        stall(duration).await;
                        continue;
                    }
                    Command::Malformed => protocol.notice(Notice::Malformed),
                    Command::Oversized(bytes) => protocol.notice(Notice::Oversized(bytes)),
                    Command::ServerShutdown(close_after) => {
                        heartbeat.close_after(close_after);
                        protocol.notice(Notice::ServerShutdown)
                    }
                };
                if tx.send(Message::Text(text.into())).await.is_err() {
                    break None;
                }
            }
        }
    };
    protocol.close();
    s.faults.unregister(id);
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

/// The stall fault: nothing sent, nothing read, for `duration` (or forever).
async fn stall(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending::<()>().await,
    }
}

/// Close a socket with a TCP reset (linger zero).
pub(crate) fn reset<S: std::os::fd::AsFd>(socket: &S) {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
}

/// What a client frame asks of a connection.
enum Incoming {
    /// A request to answer.
    Text(String),
    /// Nothing (a ping or pong).
    Nothing,
    /// The client closed.
    Closed,
}

/// Binance's heartbeat on one connection: a ping every `ping_interval`, and
/// a close (1008 "Pong timeout") when one goes unanswered `pong_timeout`.
/// Only a pong echoing one of our pings counts; unsolicited pongs do not.
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_ping: Instant,
    seq: u64,
    pending: VecDeque<(u64, Instant)>,
    /// Close (1001 "Server shutdown") at this time, after a `serverShutdown`.
    shutdown_at: Option<Instant>,
}

impl Heartbeat {
    fn new(limits: &Limits) -> Self {
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
    fn check_every(&self) -> Duration {
        (self.interval.min(self.timeout) / 4).max(Duration::from_millis(5))
    }

    /// A frame from the client: its text, or nothing to answer (pongs are
    /// counted here), or the end.
    fn incoming(&mut self, message: Message) -> Incoming {
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
    fn close_after(&mut self, after: Option<Duration>) {
        self.shutdown_at = after.map(|d| Instant::now() + d);
    }

    /// The ping to send now, if one is due; the close when a ping went
    /// unanswered or the announced shutdown is due.
    fn tick(&mut self, now: Instant) -> Result<Option<Vec<u8>>, DropMode> {
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
