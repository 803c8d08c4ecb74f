//! What a socket yields: events, raw frames and status changes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use binance_types::futures::user::FuturesUserEvent;
use binance_types::futures::FuturesEvent;
use binance_types::{DecodeError, Event, Millis, TimeUnit};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One item from a socket.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message<U: TimeUnit = Millis> {
    /// A decoded event; its times are in `U`.
    Event(StreamEvent<U>),
    /// A decoded USD-M or COIN-M event (futures sockets). Its times are
    /// milliseconds whatever `U` is: futures streams have no `timeUnit`.
    Futures(FuturesStreamEvent),
    /// A futures account's event (futures user sockets), times in
    /// milliseconds (boxed: an order update is large).
    FuturesUser(Box<FuturesUserEvent>),
    /// A frame as received, for sockets in raw mode.
    Raw(RawFrame),
    /// The connection's state changed, or something worth knowing happened.
    Status(Status),
}

impl<U: TimeUnit> Message<U> {
    pub(crate) fn lagged(dropped: u64) -> Self {
        Message::Status(Status::Lagged { dropped })
    }
}

/// A decoded event and the stream it came on.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent<U: TimeUnit = Millis> {
    /// The stream name, for combined (multiplex) sockets.
    pub stream: Option<Arc<str>>,
    /// The event.
    pub event: Event<U>,
}

/// A decoded futures event and the stream it came on.
#[derive(Debug, Clone, PartialEq)]
pub struct FuturesStreamEvent {
    /// The stream name (for combined sockets; `None` on a raw
    /// [`futures_socket`](crate::SocketManager::futures_socket)).
    pub stream: Option<Arc<str>>,
    /// The event, times in milliseconds.
    pub event: FuturesEvent<Millis>,
}

/// A frame exactly as the server sent it, with the time it was read.
#[derive(Clone, PartialEq)]
pub struct RawFrame {
    pub(crate) text: Utf8Bytes,
    /// When the client read it off the socket: for sockets made with
    /// [`Socket::receive_times`](crate::Socket::receive_times) (recorders);
    /// the clock is not read per frame for the others.
    pub received_at: Option<SystemTime>,
    /// Rebuilt from REST to fill a hole in the stream (backfill), not read
    /// off a connection.
    pub(crate) backfilled: bool,
}

impl RawFrame {
    /// The frame's text.
    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    /// Whether the frame was rebuilt from REST to fill a hole in its stream
    /// (backfill) rather than read off a connection. Its text has the
    /// combined envelope and the stream's event layout.
    pub fn backfilled(&self) -> bool {
        self.backfilled
    }
}

impl std::fmt::Debug for RawFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        let cut = text.char_indices().nth(120).map_or(text.len(), |(i, _)| i);
        f.debug_struct("RawFrame")
            .field("text", &&text[..cut])
            .field("len", &text.len())
            .field("backfilled", &self.backfilled)
            .finish()
    }
}

/// Connection state changes and notices, in the order they happen.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Status {
    /// The first connection is open.
    Connected,
    /// The connection dropped; the reason says how.
    Disconnected {
        /// What happened (`connection reset`, `no frame for 60 s`, `close 1008: …`).
        reason: String,
    },
    /// A connect try failed (TCP, TLS, proxy, or an HTTP refusal such as 429).
    ConnectFailed {
        /// Why.
        reason: String,
    },
    /// Waiting before reconnect try `attempt`.
    Reconnecting {
        /// 1 for the first try after a drop.
        attempt: u32,
        /// How long until the try.
        delay: Duration,
    },
    /// A new connection is open after a drop.
    Reconnected,
    /// The connection was replaced by a fresh one (before the 24-hour limit,
    /// or on `serverShutdown`) with nothing lost and nothing repeated.
    Rotated,
    /// The reader fell behind and this many messages were dropped (oldest first).
    Lagged {
        /// How many.
        dropped: u64,
    },
    /// Something is known to be missing from `from` to `to` (both
    /// included), never silence:
    /// - market sockets: events of `stream` whose sequence broke (trade or
    ///   aggregate trade ids, diff-depth update ids, futures `pu`; closed
    ///   kline open times). A socket with backfill fills trade, aggregate
    ///   trade and kline holes from REST and then says [`Status::GapFilled`];
    ///   what it cannot fill stays a gap;
    /// - user sockets (`stream` is `None`): no subscription was live between
    ///   these times (every connection was down at once), so account events
    ///   of that time may be missing: read open orders and balances through
    ///   REST to catch up.
    Gap {
        /// The stream, as Binance names it (market sockets).
        stream: Option<String>,
        /// The first missing id or time.
        from: Position,
        /// The last missing id or time.
        to: Position,
    },
    /// Part of a [`Status::Gap`] was filled from REST: the events of
    /// `stream` from `from` to `to` (both included) were delivered just
    /// before this status, in order, between the gap and it (raw frames say
    /// [`RawFrame::backfilled`]). The rest of the gap, if any, stays missing.
    GapFilled {
        /// The stream, as Binance names it.
        stream: String,
        /// The first id or time filled.
        from: Position,
        /// The last id or time filled.
        to: Position,
    },
    /// One stream of a connection went quiet while the connection stayed
    /// up (see [`SocketManagerBuilder::stream_watchdog`](crate::SocketManagerBuilder::stream_watchdog)):
    /// its streams move to a fresh connection, make-before-break, and
    /// `Rotated` follows.
    StreamSilent {
        /// The stream, as Binance names it.
        stream: String,
        /// How long it had sent nothing.
        silent_for: Duration,
    },
    /// A frame could not be decoded; the stream goes on.
    Malformed {
        /// Where and why.
        error: DecodeError,
    },
}

impl std::fmt::Display for Status {
    /// One readable line, as `bnws` prints it on stderr.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Connected => f.write_str("connected"),
            Status::Disconnected { reason } => write!(f, "disconnected: {reason}"),
            Status::ConnectFailed { reason } => write!(f, "connect failed: {reason}"),
            Status::Reconnecting { attempt, delay } => {
                write!(f, "reconnecting (try {attempt} in {} ms)", delay.as_millis())
            }
            Status::Reconnected => f.write_str("reconnected"),
            Status::Rotated => f.write_str("switched to a fresh connection"),
            Status::Lagged { dropped } => write!(f, "fell behind: {dropped} messages dropped"),
            Status::Gap {
                stream: None,
                from,
                to,
            } => write!(
                f,
                "no live subscription for {} ms: account events of that time may be missing",
                to.value().saturating_sub(from.value())
            ),
            Status::Gap {
                stream: Some(stream),
                from,
                to,
            } => write!(f, "{stream}: missing {from} to {to}"),
            Status::GapFilled { stream, from, to } => {
                write!(f, "{stream}: filled {from} to {to} from REST")
            }
            Status::StreamSilent { stream, silent_for } => write!(
                f,
                "{stream}: nothing for {} ms while the connection was up; moving to a fresh connection",
                silent_for.as_millis()
            ),
            Status::Malformed { error } => write!(f, "malformed frame: {error}"),
        }
    }
}

impl Status {
    /// The status as one JSON object, `{"e":"status","state":…}` and its
    /// fields (times in epoch milliseconds), as `bnws --status` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let mut value = match self {
            Status::Connected => json!({"state": "connected"}),
            Status::Disconnected { reason } => json!({"state": "disconnected", "reason": reason}),
            Status::ConnectFailed { reason } => {
                json!({"state": "connect_failed", "reason": reason})
            }
            Status::Reconnecting { attempt, delay } => {
                json!({"state": "reconnecting", "attempt": attempt, "delay_ms": delay.as_millis() as u64})
            }
            Status::Reconnected => json!({"state": "reconnected"}),
            Status::Rotated => json!({"state": "rotated"}),
            Status::Lagged { dropped } => json!({"state": "lagged", "dropped": dropped}),
            Status::Gap { stream, from, to } => {
                let mut gap = json!({"state": "gap", "from": from.value(), "to": to.value(), "unit": from.unit()});
                if let Some(stream) = stream {
                    gap["stream"] = stream.as_str().into();
                }
                gap
            }
            Status::GapFilled { stream, from, to } => {
                json!({"state": "gap_filled", "stream": stream, "from": from.value(), "to": to.value(), "unit": from.unit()})
            }
            Status::StreamSilent { stream, silent_for } => {
                json!({"state": "stream_silent", "stream": stream, "silent_ms": silent_for.as_millis() as u64})
            }
            Status::Malformed { error } => {
                json!({"state": "malformed", "error": error.to_string()})
            }
        };
        value["e"] = "status".into();
        value
    }
}

/// A bound of a [`Status::Gap`]: an id of the stream's sequence, or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// A trade id, aggregate trade id or depth update id.
    Id(u64),
    /// A time (a closed kline's open time; a user socket's outage).
    Time(SystemTime),
}

impl Position {
    /// The id, or the time in epoch milliseconds.
    pub fn value(&self) -> u64 {
        match self {
            Position::Id(id) => *id,
            Position::Time(t) => epoch_ms(t),
        }
    }

    /// `"id"` or `"ms"`: what [`value`](Self::value) counts.
    pub fn unit(&self) -> &'static str {
        match self {
            Position::Id(_) => "id",
            Position::Time(_) => "ms",
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Id(id) => write!(f, "id {id}"),
            Position::Time(_) => write!(f, "{} ms", self.value()),
        }
    }
}

fn epoch_ms(t: &SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
