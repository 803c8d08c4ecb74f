//! USD-M and COIN-M futures market data (reference §5).
//!
//! - [`stream`]: typed futures stream names ([`FuturesStream`]).
//! - [`market`]: every futures market event, exact decimals.
//! - [`user`]: USD-M and COIN-M user-data (listenKey) events, and
//!   [`decode_futures_user`] for them.
//! - [`decode_futures`]: a raw or combined futures frame into a
//!   [`FuturesFrame`], and back to the JSON Binance sends.
//! - The futures local order book procedure (§5.4) is
//!   [`book_sync`](crate::book_sync) with [`Procedure::Futures`](crate::book_sync::Procedure).
//!
//! Futures frames have their own [`FuturesEvent`] and decoder, so the spot
//! [`frame::decode`](crate::frame::decode) path is untouched by them. The
//! envelope ([`Envelope`]) and the error ([`DecodeError`]) are the spot ones.
//!
//! ```
//! use binance_types::futures::{decode_futures, FuturesEvent};
//! let bytes = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2,"T":1,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.0024","10"]],"a":[]}}"#;
//! let frame = decode_futures(bytes).unwrap();
//! assert_eq!(frame.stream(), Some("btcusdt@depth@100ms"));
//! let FuturesEvent::DepthUpdate(depth) = frame.event else { panic!("not depth") };
//! assert_eq!(depth.previous_final_update_id, 149);
//! ```

pub mod market;
pub mod stream;
pub mod user;

use std::borrow::Cow;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::control::ControlResponse;
use crate::frame::{DecodeError, Envelope, UnknownEvent};
use crate::sniff;
use crate::time::{Micros, Millis, TimeUnit};
pub use market::{
    AggTrade, AssetIndexUpdate, BookTicker, CompositeIndex, ContinuousKlineEvent, ContractInfo,
    DepthUpdate, ForceOrder, IndexPriceKlineEvent, IndexPriceUpdate, KlineEvent,
    MarkPriceKlineEvent, MarkPriceUpdate, MiniTicker, Ticker, TradingSession,
};
pub use stream::{FuturesStream, FuturesSymbol};
pub use user::{decode_futures_user, FuturesUserEvent};

/// Everything a USD-M or COIN-M market stream connection sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged, bound = "")]
#[non_exhaustive]
pub enum FuturesEvent<U: TimeUnit = Millis> {
    /// `aggTrade`.
    AggTrade(AggTrade<U>),
    /// `markPriceUpdate`.
    MarkPrice(Box<MarkPriceUpdate<U>>),
    /// An array of `markPriceUpdate` (`!markPrice@arr`, COIN-M `<pair>@markPrice`).
    MarkPrices(Vec<MarkPriceUpdate<U>>),
    /// `indexPriceUpdate` (COIN-M).
    IndexPrice(IndexPriceUpdate<U>),
    /// `kline`.
    Kline(Box<KlineEvent<U>>),
    /// `continuous_kline`.
    ContinuousKline(Box<ContinuousKlineEvent<U>>),
    /// `indexPrice_kline` (COIN-M).
    IndexPriceKline(Box<IndexPriceKlineEvent<U>>),
    /// `markPrice_kline` (COIN-M).
    MarkPriceKline(Box<MarkPriceKlineEvent<U>>),
    /// `24hrMiniTicker`.
    MiniTicker(Box<MiniTicker<U>>),
    /// `!miniTicker@arr`.
    MiniTickers(Vec<MiniTicker<U>>),
    /// `24hrTicker`.
    Ticker(Box<Ticker<U>>),
    /// `!ticker@arr`.
    Tickers(Vec<Ticker<U>>),
    /// `bookTicker`.
    BookTicker(BookTicker<U>),
    /// `forceOrder`.
    ForceOrder(Box<ForceOrder<U>>),
    /// `depthUpdate` (diff, partial and RPI depth).
    DepthUpdate(DepthUpdate<U>),
    /// `compositeIndex` (USD-M).
    CompositeIndex(CompositeIndex<U>),
    /// `contractInfo`.
    ContractInfo(Box<ContractInfo<U>>),
    /// One `assetIndexUpdate` (USD-M `<asset>@assetIndex`).
    AssetIndex(Box<AssetIndexUpdate<U>>),
    /// An array of `assetIndexUpdate` (`!assetIndex@arr`).
    AssetIndexes(Vec<AssetIndexUpdate<U>>),
    /// `EquityUpdate` (USD-M `tradingSession`).
    TradingSession(TradingSession<U>),
    /// The answer to a `SUBSCRIBE`-family control request.
    ControlResponse(ControlResponse),
    /// An event this version does not know, kept verbatim.
    Unknown(UnknownEvent),
}

/// A decoded futures frame: its envelope and its event.
pub type FuturesFrame<'a, U = Millis> = VenueFrame<'a, FuturesEvent<U>>;

/// A decoded frame of a derivatives venue (futures, options): its envelope
/// and its event of type `E`.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueFrame<'a, E> {
    /// How it was wrapped.
    pub envelope: Envelope<'a>,
    /// What it said.
    pub event: E,
}

impl<E: Serialize> VenueFrame<'_, E> {
    /// The stream name, for combined-stream frames.
    pub fn stream(&self) -> Option<&str> {
        self.envelope.stream()
    }

    /// The same frame, owning its stream name.
    pub fn into_owned(self) -> VenueFrame<'static, E> {
        VenueFrame {
            envelope: self.envelope.into_owned(),
            event: self.event,
        }
    }

    /// The JSON Binance sends for this frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }
}

impl<E: Serialize> Serialize for VenueFrame<'_, E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.envelope.wrap(&self.event, s)
    }
}

/// Decode a futures frame (raw `/ws/…` or combined `/stream?streams=…`).
pub fn decode_futures(bytes: &[u8]) -> Result<FuturesFrame<'_, Millis>, DecodeError> {
    decode_futures_as(bytes)
}

/// Decode a futures frame whose times are microseconds.
pub fn decode_futures_micros(bytes: &[u8]) -> Result<FuturesFrame<'_, Micros>, DecodeError> {
    decode_futures_as(bytes)
}

/// Decode a futures frame, its times in `U`.
pub fn decode_futures_as<U: TimeUnit>(bytes: &[u8]) -> Result<FuturesFrame<'_, U>, DecodeError> {
    decode(bytes).map_err(|e| DecodeError::new(bytes, &e))
}

/// The keys that say what a frame or payload is; everything else is skipped.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    e: Option<Cow<'a, str>>,
    /// `result` is present (even as `null`): a control answer.
    #[serde(default, deserialize_with = "present")]
    result: bool,
    /// `error` is present.
    #[serde(default, deserialize_with = "present")]
    error: bool,
}

impl<'a> Head<'a> {
    /// The head of a payload whose type was sniffed.
    fn of(e: &'a str) -> Self {
        Head {
            stream: None,
            data: None,
            e: Some(Cow::Borrowed(e)),
            result: false,
            error: false,
        }
    }
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Only the event type, for the items of an array payload.
#[derive(Deserialize)]
struct EventType<'a> {
    #[serde(borrow, default)]
    e: Option<Cow<'a, str>>,
}

/// The event type of the object at the start of `payload`, or of an
/// array's first item, read from its first member without parsing the rest
/// (`None`: the first member is not `"e"`; the slow path reads the head).
fn sniff_event_type(payload: &[u8]) -> Option<&str> {
    let pos = sniff::skip_ws(payload, 0);
    let object = match payload.get(pos)? {
        b'[' => sniff::skip_ws(payload, pos + 1),
        _ => pos,
    };
    match sniff::first_member(payload, object)? {
        ("e", sniff::Value::Str(e, _)) => Some(e),
        _ => None,
    }
}

/// What a venue's event type needs from the shared frame decoder: the
/// typed event of an object payload (its `e`, and whether it has `result`
/// or `error`: a control answer) and of an array payload (its first
/// item's `e`).
pub(crate) trait VenueEvent: Sized {
    /// An object payload.
    fn object(e: Option<&str>, control: bool, payload: &[u8]) -> Result<Self, serde_json::Error>;
    /// An array payload.
    fn array(first: Option<&str>, payload: &[u8]) -> Result<Self, serde_json::Error>;
}

/// A raw or combined frame of a derivatives venue: the envelope found once,
/// the event type sniffed from the first member where it can be.
pub(crate) fn decode_frame<E: VenueEvent>(
    bytes: &[u8],
) -> Result<VenueFrame<'_, E>, serde_json::Error> {
    let is_array = |text: &[u8]| text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    // The payload, and its head when already read (a raw object). A raw
    // event whose first member is `e` needs no head: one typed parse.
    let sniffed = sniff_event_type(bytes);
    let (envelope, payload, head): (Envelope<'_>, &[u8], Option<Head<'_>>) = if is_array(bytes) {
        (Envelope::Raw, bytes, None)
    } else if let Some(e) = sniffed {
        (Envelope::Raw, bytes, Some(Head::of(e)))
    } else {
        let head: Head<'_> = serde_json::from_slice(bytes)?;
        match (head.stream, head.data) {
            (Some(stream), Some(data)) => {
                (Envelope::Combined { stream }, data.get().as_bytes(), None)
            }
            (stream, data) => (
                Envelope::Raw,
                bytes,
                Some(Head {
                    stream,
                    data,
                    ..head
                }),
            ),
        }
    };
    let event = if is_array(payload) {
        // The first item's type, sniffed; read whole only if it cannot be.
        let items: Vec<EventType<'_>> = match sniff_event_type(payload) {
            Some(e) => vec![EventType {
                e: Some(Cow::Borrowed(e)),
            }],
            None => serde_json::from_slice(payload)?,
        };
        E::array(items.first().and_then(|i| i.e.as_deref()), payload)?
    } else {
        let head = match (head, sniff_event_type(payload)) {
            (Some(head), _) => head,
            // A combined frame's data starting with `e`: no second head.
            (None, Some(e)) => Head::of(e),
            (None, None) => serde_json::from_slice(payload)?,
        };
        E::object(head.e.as_deref(), head.result || head.error, payload)?
    };
    Ok(VenueFrame { envelope, event })
}

fn decode<U: TimeUnit>(bytes: &[u8]) -> Result<FuturesFrame<'_, U>, serde_json::Error> {
    decode_frame(bytes)
}

impl<U: TimeUnit> VenueEvent for FuturesEvent<U> {
    fn array(first: Option<&str>, payload: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match first {
            Some("markPriceUpdate") => FuturesEvent::MarkPrices(serde_json::from_slice(payload)?),
            Some("24hrMiniTicker") => FuturesEvent::MiniTickers(serde_json::from_slice(payload)?),
            Some("24hrTicker") => FuturesEvent::Tickers(serde_json::from_slice(payload)?),
            Some("assetIndexUpdate") => {
                FuturesEvent::AssetIndexes(serde_json::from_slice(payload)?)
            }
            _ => FuturesEvent::Unknown(unknown(payload)?),
        })
    }

    fn object(e: Option<&str>, control: bool, payload: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match e {
            Some("aggTrade") => FuturesEvent::AggTrade(serde_json::from_slice(payload)?),
            Some("markPriceUpdate") => FuturesEvent::MarkPrice(serde_json::from_slice(payload)?),
            Some("indexPriceUpdate") => FuturesEvent::IndexPrice(serde_json::from_slice(payload)?),
            Some("kline") => FuturesEvent::Kline(serde_json::from_slice(payload)?),
            Some("continuous_kline") => {
                FuturesEvent::ContinuousKline(serde_json::from_slice(payload)?)
            }
            Some("indexPrice_kline") => {
                FuturesEvent::IndexPriceKline(serde_json::from_slice(payload)?)
            }
            Some("markPrice_kline") => {
                FuturesEvent::MarkPriceKline(serde_json::from_slice(payload)?)
            }
            Some("24hrMiniTicker") => FuturesEvent::MiniTicker(serde_json::from_slice(payload)?),
            Some("24hrTicker") => FuturesEvent::Ticker(serde_json::from_slice(payload)?),
            Some("bookTicker") => FuturesEvent::BookTicker(serde_json::from_slice(payload)?),
            Some("forceOrder") => FuturesEvent::ForceOrder(serde_json::from_slice(payload)?),
            Some("depthUpdate") => FuturesEvent::DepthUpdate(serde_json::from_slice(payload)?),
            Some("compositeIndex") => {
                FuturesEvent::CompositeIndex(serde_json::from_slice(payload)?)
            }
            Some("contractInfo") => FuturesEvent::ContractInfo(serde_json::from_slice(payload)?),
            Some("assetIndexUpdate") => FuturesEvent::AssetIndex(serde_json::from_slice(payload)?),
            Some("EquityUpdate") => FuturesEvent::TradingSession(serde_json::from_slice(payload)?),
            None if control => FuturesEvent::ControlResponse(serde_json::from_slice(payload)?),
            _ => FuturesEvent::Unknown(unknown(payload)?),
        })
    }
}

/// A payload this version does not type, kept verbatim.
pub(crate) fn unknown(payload: &[u8]) -> Result<UnknownEvent, serde_json::Error> {
    let raw: &RawValue = serde_json::from_slice(payload)?;
    Ok(UnknownEvent(raw.to_owned()))
}
