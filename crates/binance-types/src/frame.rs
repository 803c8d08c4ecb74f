//! Frames: decoding what a stream or WebSocket API connection sends into a
//! typed [`Event`], and encoding it back to the exact JSON.
//!
//! A frame is parsed once. A look at its first bytes (where Binance writes
//! `"stream"`, `"subscriptionId"` or `"e"`) picks the target type; frames laid
//! out otherwise (hand-written, reordered keys) go through a general path that
//! gives the same result more slowly.

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::time::{Millis, TimeUnit};
use crate::{quick, sniff};
use crate::{redact, Micros};

pub use crate::event::{Event, UnknownEvent};

/// How the event was wrapped on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// Bare payload (`/ws/<name>`).
    Raw,
    /// `{"stream":"<name>","data":…}` (`/stream?streams=…`).
    Combined {
        /// The stream name.
        stream: Cow<'a, str>,
    },
    /// `{"subscriptionId":N,"event":…}` from the WebSocket API
    /// (`subscriptionId` absent for connection-wide events such as `serverShutdown`).
    Api {
        /// The user-data subscription the event belongs to.
        subscription_id: Option<u64>,
    },
}

/// A decoded frame: its envelope and its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a, U: TimeUnit = Millis> {
    /// How it was wrapped.
    pub envelope: Envelope<'a>,
    /// What it said.
    pub event: Event<U>,
}

impl Envelope<'_> {
    /// The stream name, for combined-stream frames.
    pub fn stream(&self) -> Option<&str> {
        match self {
            Envelope::Combined { stream } => Some(stream),
            _ => None,
        }
    }

    /// The same envelope, owning its stream name.
    pub fn into_owned(self) -> Envelope<'static> {
        match self {
            Envelope::Raw => Envelope::Raw,
            Envelope::Combined { stream } => Envelope::Combined {
                stream: Cow::Owned(stream.into_owned()),
            },
            Envelope::Api { subscription_id } => Envelope::Api { subscription_id },
        }
    }

    /// Write `event` wrapped in this envelope, as Binance writes it.
    pub(crate) fn wrap<S: Serializer, E: Serialize>(
        &self,
        event: &E,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Envelope::Raw => event.serialize(s),
            Envelope::Combined { stream } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("stream", stream)?;
                map.serialize_entry("data", event)?;
                map.end()
            }
            Envelope::Api { subscription_id } => {
                let mut map = s.serialize_map(None)?;
                if let Some(id) = subscription_id {
                    map.serialize_entry("subscriptionId", id)?;
                }
                map.serialize_entry("event", event)?;
                map.end()
            }
        }
    }
}

impl<'a, U: TimeUnit> Frame<'a, U> {
    /// The stream name, for combined-stream frames.
    pub fn stream(&self) -> Option<&str> {
        self.envelope.stream()
    }

    /// The user-data subscription id, for WebSocket API events.
    pub fn subscription_id(&self) -> Option<u64> {
        match self.envelope {
            Envelope::Api { subscription_id } => subscription_id,
            _ => None,
        }
    }

    /// The same frame, owning its stream name.
    pub fn into_owned(self) -> Frame<'static, U> {
        Frame {
            envelope: self.envelope.into_owned(),
            event: self.event,
        }
    }

    /// The JSON Binance sends for this frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }
}

impl<U: TimeUnit> Serialize for Frame<'_, U> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.envelope.wrap(&self.event, s)
    }
}

/// A frame that is not valid JSON, or whose fields do not have Binance's types.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
    line: usize,
    column: usize,
    offset: usize,
    snippet: String,
}

impl DecodeError {
    pub(crate) fn new(bytes: &[u8], err: &serde_json::Error) -> Self {
        let (line, column) = (err.line(), err.column());
        let line_start: usize = bytes
            .split(|&b| b == b'\n')
            .take(line.saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum();
        // The message names the fault; serde_json appends the position, which we
        // report in our own words.
        let message = err.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        DecodeError {
            message,
            line,
            column,
            offset: (line_start + column.saturating_sub(1)).min(bytes.len()),
            snippet: redact::snippet(bytes, 80),
        }
    }

    /// The same error with `secret` (a listen key naming a user stream)
    /// cut out of the snippet.
    pub(crate) fn without(mut self, secret: &str) -> Self {
        if !secret.is_empty() {
            self.snippet = self.snippet.replace(secret, redact::REDACTED);
        }
        self
    }

    /// The byte offset of the fault in the frame.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Line and column of the fault (1-based).
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The start of the frame (cut before any credential).
    pub fn snippet(&self) -> &str {
        &self.snippet
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed frame at byte {} (line {}, column {}): {}; frame starts `{}`",
            self.offset, self.line, self.column, self.message, self.snippet
        )
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DecodeError {}

/// Decode a frame whose times are milliseconds (Binance's default).
pub fn decode(bytes: &[u8]) -> Result<Frame<'_, Millis>, DecodeError> {
    decode_as(bytes)
}

/// Decode a frame from a connection opened with `timeUnit=MICROSECOND`.
pub fn decode_micros(bytes: &[u8]) -> Result<Frame<'_, Micros>, DecodeError> {
    decode_as(bytes)
}

/// Decode a frame, its times in `U`.
pub fn decode_as<U: TimeUnit>(bytes: &[u8]) -> Result<Frame<'_, U>, DecodeError> {
    match fast(bytes) {
        Some(Ok(frame)) => Ok(frame),
        // The head only guessed the type (`{"u":…}` that is no bookTicker, a
        // repeated key): the frame reads as any other layout of it would. When
        // that fails too, the typed error is the one that says where.
        Some(Err(e)) => general(bytes).map_err(|_| DecodeError::new(bytes, &e)),
        None => general(bytes).map_err(|e| DecodeError::new(bytes, &e)),
    }
}

/// Which type a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trade,
    AggTrade,
    BlockTrade,
    ReferencePrice,
    Kline,
    MiniTicker,
    MiniTickers,
    Ticker,
    Tickers,
    RollingTicker,
    RollingTickers,
    BookTicker,
    AvgPrice,
    PartialDepth,
    DepthUpdate,
    ServerShutdown,
    OutboundAccountPosition,
    BalanceUpdate,
    ExecutionReport,
    ListStatus,
    ListenKeyExpired,
    ExternalLockUpdate,
    EventStreamTerminated,
    ControlResponse,
    ApiResponse,
    Unknown,
}

impl Kind {
    fn from_event_type(e: &str) -> Kind {
        match e {
            "trade" => Kind::Trade,
            "aggTrade" => Kind::AggTrade,
            "blockTrade" => Kind::BlockTrade,
            "referencePrice" => Kind::ReferencePrice,
            "kline" => Kind::Kline,
            "24hrMiniTicker" => Kind::MiniTicker,
            "24hrTicker" => Kind::Ticker,
            "1hTicker" | "4hTicker" | "1dTicker" => Kind::RollingTicker,
            "avgPrice" => Kind::AvgPrice,
            "depthUpdate" => Kind::DepthUpdate,
            "serverShutdown" => Kind::ServerShutdown,
            "outboundAccountPosition" => Kind::OutboundAccountPosition,
            "balanceUpdate" => Kind::BalanceUpdate,
            "executionReport" => Kind::ExecutionReport,
            "listStatus" => Kind::ListStatus,
            "listenKeyExpired" => Kind::ListenKeyExpired,
            "externalLockUpdate" => Kind::ExternalLockUpdate,
            "eventStreamTerminated" => Kind::EventStreamTerminated,
            _ => Kind::Unknown,
        }
    }

    /// An array of this kind of element.
    fn array(self) -> Kind {
        match self {
            Kind::MiniTicker => Kind::MiniTickers,
            Kind::Ticker => Kind::Tickers,
            Kind::RollingTicker => Kind::RollingTickers,
            _ => Kind::Unknown,
        }
    }

    /// The kind from the first member of an object (`None`: can't tell from the head).
    fn from_head(key: &str, value: &sniff::Value<'_>) -> Option<Kind> {
        match (key, value) {
            ("e", sniff::Value::Str(e, _)) => Some(Kind::from_event_type(e)),
            ("u", _) => Some(Kind::BookTicker),
            ("lastUpdateId", _) => Some(Kind::PartialDepth),
            ("result" | "error", _) => Some(Kind::ControlResponse),
            _ => None,
        }
    }
}

/// The kind of the value at `pos`, read from its first bytes.
fn sniff_kind(bytes: &[u8], pos: usize) -> Option<Kind> {
    match bytes.get(pos)? {
        b'{' => {
            let (key, value) = sniff::first_member(bytes, pos)?;
            Kind::from_head(key, &value)
        }
        b'[' => {
            let first = sniff::skip_ws(bytes, pos + 1);
            if bytes.get(first) == Some(&b']') {
                return None; // an empty array has no kind of its own
            }
            Some(sniff_kind(bytes, first)?.array())
        }
        _ => None,
    }
}

/// Where the payload sits, for the one typed parse.
enum Source<'a> {
    Raw(&'a [u8]),
    Combined(&'a [u8]),
    Api(&'a [u8]),
    Value(&'a serde_json::Value),
}

#[derive(Deserialize)]
struct DataField<T> {
    data: T,
}

#[derive(Deserialize)]
struct EventField<T> {
    event: T,
}

impl Source<'_> {
    fn read<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match self {
            Source::Raw(b) => serde_json::from_slice(b),
            Source::Combined(b) => serde_json::from_slice::<DataField<T>>(b).map(|d| d.data),
            Source::Api(b) => serde_json::from_slice::<EventField<T>>(b).map(|d| d.event),
            Source::Value(v) => T::deserialize(*v),
        }
    }

    fn unknown(&self) -> Result<UnknownEvent, serde_json::Error> {
        match self {
            Source::Value(v) => serde_json::value::to_raw_value(v).map(UnknownEvent),
            _ => self.read::<Box<RawValue>>().map(UnknownEvent),
        }
    }

    fn event<U: TimeUnit>(&self, kind: Kind) -> Result<Event<U>, serde_json::Error> {
        Ok(match kind {
            Kind::Trade => Event::Trade(self.read()?),
            Kind::AggTrade => Event::AggTrade(self.read()?),
            Kind::BlockTrade => Event::BlockTrade(self.read()?),
            Kind::ReferencePrice => Event::ReferencePrice(self.read()?),
            Kind::Kline => Event::Kline(self.read()?),
            Kind::MiniTicker => Event::MiniTicker(self.read()?),
            Kind::MiniTickers => Event::MiniTickers(self.read()?),
            Kind::Ticker => Event::Ticker(self.read()?),
            Kind::Tickers => Event::Tickers(self.read()?),
            Kind::RollingTicker => Event::RollingTicker(self.read()?),
            Kind::RollingTickers => Event::RollingTickers(self.read()?),
            Kind::BookTicker => Event::BookTicker(self.read()?),
            Kind::AvgPrice => Event::AvgPrice(self.read()?),
            Kind::PartialDepth => Event::PartialDepth(self.read()?),
            Kind::DepthUpdate => Event::DepthUpdate(self.read()?),
            Kind::ServerShutdown => Event::ServerShutdown(self.read()?),
            Kind::OutboundAccountPosition => Event::OutboundAccountPosition(self.read()?),
            Kind::BalanceUpdate => Event::BalanceUpdate(self.read()?),
            Kind::ExecutionReport => Event::ExecutionReport(self.read()?),
            Kind::ListStatus => Event::ListStatus(self.read()?),
            Kind::ListenKeyExpired => Event::ListenKeyExpired(self.read()?),
            Kind::ExternalLockUpdate => Event::ExternalLockUpdate(self.read()?),
            Kind::EventStreamTerminated => Event::EventStreamTerminated(self.read()?),
            Kind::ControlResponse => Event::ControlResponse(self.read()?),
            Kind::ApiResponse => Event::ApiResponse(self.read()?),
            Kind::Unknown => Event::Unknown(self.unknown()?),
        })
    }
}

/// The one-parse path for frames laid out as Binance lays them out; `None`
/// when the head does not say enough.
fn fast<U: TimeUnit>(bytes: &[u8]) -> Option<Result<Frame<'_, U>, serde_json::Error>> {
    let pos = sniff::skip_ws(bytes, 0);
    if bytes.get(pos) == Some(&b'{') {
        let (key, value) = sniff::first_member(bytes, pos)?;
        match (key, &value) {
            ("stream", sniff::Value::Str(stream, end)) => {
                let data = sniff::next_member(bytes, *end, "data")?;
                let envelope = Envelope::Combined {
                    stream: Cow::Borrowed(stream),
                };
                if let Some(event) = quick_tail(bytes, data, b"}") {
                    return Some(Ok(Frame { envelope, event }));
                }
                let kind = sniff_kind(bytes, data)?;
                return Some(
                    Source::Combined(bytes)
                        .event(kind)
                        .map(|event| Frame { envelope, event }),
                );
            }
            ("subscriptionId", sniff::Value::Other(at)) => {
                let (id, end) = sniff::unsigned(bytes, *at)?;
                let event = sniff::next_member(bytes, end, "event")?;
                let kind = sniff_kind(bytes, event)?;
                let envelope = Envelope::Api {
                    subscription_id: Some(id),
                };
                return Some(
                    Source::Api(bytes)
                        .event(kind)
                        .map(|event| Frame { envelope, event }),
                );
            }
            ("event", sniff::Value::Other(at)) => {
                let kind = sniff_kind(bytes, *at)?;
                let envelope = Envelope::Api {
                    subscription_id: None,
                };
                return Some(
                    Source::Api(bytes)
                        .event(kind)
                        .map(|event| Frame { envelope, event }),
                );
            }
            _ => {}
        }
    }
    if let Some(event) = quick_tail(bytes, pos, b"") {
        return Some(Ok(Frame {
            envelope: Envelope::Raw,
            event,
        }));
    }
    let kind = sniff_kind(bytes, pos)?;
    Some(Source::Raw(bytes).event(kind).map(|event| Frame {
        envelope: Envelope::Raw,
        event,
    }))
}

/// A hot event read by hand at `pos`, if what follows it is exactly `tail`
/// and then only white space.
fn quick_tail<U: TimeUnit>(bytes: &[u8], pos: usize, tail: &[u8]) -> Option<Event<U>> {
    let (event, end) = quick::event(bytes, pos)?;
    let rest = bytes.get(end..end + tail.len())?;
    (rest.iter().zip(tail).all(|(a, b)| a == b)
        && sniff::skip_ws(bytes, end + tail.len()) == bytes.len())
    .then_some(event)
}

/// Any layout: parse to a JSON tree, then read the envelope and kind from it.
fn general<U: TimeUnit>(bytes: &[u8]) -> Result<Frame<'static, U>, serde_json::Error> {
    use serde_json::Value;
    let tree: Value = serde_json::from_slice(bytes)?;
    let (envelope, payload) = match &tree {
        Value::Object(map) => match (map.get("stream"), map.get("data"), map.get("event")) {
            (Some(Value::String(stream)), Some(data), _) => (
                Envelope::Combined {
                    stream: Cow::Owned(stream.clone()),
                },
                data,
            ),
            (_, _, Some(event)) if map.len() <= 2 => (
                Envelope::Api {
                    subscription_id: map.get("subscriptionId").and_then(Value::as_u64),
                },
                event,
            ),
            _ => (Envelope::Raw, &tree),
        },
        _ => (Envelope::Raw, &tree),
    };
    let kind_of = |v: &Value| -> Kind {
        let Value::Object(map) = v else {
            return Kind::Unknown;
        };
        if let Some(Value::String(e)) = map.get("e") {
            Kind::from_event_type(e)
        } else if map.contains_key("status") && map.contains_key("id") {
            Kind::ApiResponse
        } else if map.contains_key("result")
            || map.contains_key("error")
            || map.contains_key("code")
        {
            Kind::ControlResponse
        } else if map.contains_key("lastUpdateId") {
            Kind::PartialDepth
        } else if map.contains_key("u") && map.contains_key("b") && map.contains_key("a") {
            Kind::BookTicker
        } else {
            Kind::Unknown
        }
    };
    let kind = match payload {
        Value::Array(items) => items
            .first()
            .map_or(Kind::Unknown, |first| kind_of(first).array()),
        other => kind_of(other),
    };
    let event = match kind {
        // An unknown event keeps its text as sent (numbers as written, not
        // as a tree re-encodes them), read from wherever its envelope put it;
        // only a frame with a repeated envelope key falls back to the tree.
        Kind::Unknown => {
            let raw = match &envelope {
                Envelope::Raw => Source::Raw(bytes),
                Envelope::Combined { .. } => Source::Combined(bytes),
                Envelope::Api { .. } => Source::Api(bytes),
            };
            Event::Unknown(
                raw.unknown()
                    .or_else(|_| Source::Value(payload).unknown())?,
            )
        }
        kind => Source::Value(payload).event(kind)?,
    };
    Ok(Frame { envelope, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordered_keys_take_the_general_path_and_agree() {
        let binance = br#"{"e":"trade","E":1,"s":"BNBBTC","t":2,"p":"0.001","q":"100","T":3,"m":true,"M":true}"#;
        let reordered = br#"{ "s":"BNBBTC","E":1,"t":2,"p":"0.001","q":"100","T":3,"m":true,"M":true, "e":"trade"}"#;
        assert!(fast::<Millis>(reordered).is_none());
        assert_eq!(decode(binance).unwrap(), decode(reordered).unwrap());
    }

    #[test]
    fn a_head_that_only_looks_like_a_book_ticker_reads_as_in_any_layout() {
        // Found by fuzz/frame_decode: an event without `e` whose first key is
        // `u` was an error when laid out so, and Unknown when `u` came later,
        // so decode → to_json → decode failed.
        let head_u = br#"{"u":1564034571073,"E":1564034571105,"B":[{"a":"ETH","f":"10000.000-00","l":"0.000000"}]}"#;
        let later_u = br#"{"E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000-00","l":"0.000000"}]}"#;
        for bytes in [&head_u[..], &later_u[..]] {
            let frame = decode(bytes).unwrap();
            assert!(matches!(frame.event, Event::Unknown(_)), "{frame:?}");
            assert_eq!(decode(frame.to_json().as_bytes()).unwrap(), frame);
        }
        let wrapped = br#"{"subsc`ripnId":0,"event":{"u":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000-00","l":"0.000000"}]}}"#;
        let frame = decode(wrapped).unwrap();
        assert_eq!(decode(frame.to_json().as_bytes()).unwrap(), frame);
        // A real bookTicker with a bad field is still an error, with its position.
        let err =
            decode(br#"{"u":400900217,"s":"BNBUSDT","b":"x","B":"31.21","a":"25.36","A":"40.66"}"#)
                .unwrap_err();
        assert!(err.offset() > 0, "{err}");
    }

    #[test]
    fn unknown_events_keep_their_numbers_in_any_layout() {
        // Found by fuzz/frame_decode: a 118-digit number read through the
        // general path came back as a float, and re-encoded differently.
        let big = "2".repeat(40) + &"3".repeat(78);
        for text in [
            big.clone(),
            format!(r#"{{"x":{big},"e":1}}"#),
            format!(r#"{{"data":{{"x":{big}}},"stream":"s"}}"#),
            format!(r#"{{"event":[{big}, 1e2]}}"#),
        ] {
            let frame = decode(text.as_bytes()).unwrap();
            let Event::Unknown(unknown) = &frame.event else {
                panic!("{frame:?}")
            };
            assert!(unknown.json().contains(&big), "{}", unknown.json());
            assert_eq!(decode(frame.to_json().as_bytes()).unwrap(), frame);
        }
    }

    #[test]
    fn malformed_frames_report_position_and_start() {
        let err = decode(br#"{"e":"trade","E":1,"s":"BNBBTC","t":2,"p":"0.001","q":"100","T":3,"m":true,"M":tru}"#)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("column"), "{text}");
        assert!(err.offset() > 70 && err.offset() < 90, "{text}");
        assert!(text.contains(r#"{"e":"trade""#), "{text}");
    }

    #[test]
    fn wrong_field_types_are_errors_not_unknown() {
        let err = decode(br#"{"e":"trade","E":1,"s":"BNBBTC","t":2,"p":"abc","q":"100","T":3,"m":true,"M":true}"#)
            .unwrap_err();
        assert!(err.to_string().contains("p") || err.to_string().contains("decimal"));
    }

    #[test]
    fn unknown_event_types_keep_their_json() {
        let json = r#"{"e":"newThing","E":1,"x":[1,2]}"#;
        let frame = decode(json.as_bytes()).unwrap();
        let Event::Unknown(unknown) = &frame.event else {
            panic!("{frame:?}")
        };
        assert_eq!(unknown.json(), json);
        assert_eq!(unknown.event_type().as_deref(), Some("newThing"));
        assert_eq!(frame.to_json(), json);
    }

    #[test]
    fn micro_times_are_typed() {
        let frame = decode_micros(br#"{"e":"trade","E":1672515782136123,"s":"BNBBTC","t":2,"p":"0.001","q":"100","T":1672515782136000,"m":true,"M":true}"#)
            .unwrap();
        let Event::Trade(t) = frame.event else {
            panic!()
        };
        assert_eq!(t.trade_time.as_millis(), 1672515782136);
    }

    #[test]
    fn events_stay_small_to_move() {
        // Hot events are moved several times on the way out; big, rare ones are boxed.
        assert!(
            std::mem::size_of::<Event>() <= 104,
            "{}",
            std::mem::size_of::<Event>()
        );
    }

    #[test]
    fn zero_in_any_scale_is_zero() {
        let a: rust_decimal::Decimal = "0.00000000".parse().unwrap();
        let b: rust_decimal::Decimal = "0".parse().unwrap();
        assert_eq!(a, b);
        assert!(a.is_zero());
    }
}
