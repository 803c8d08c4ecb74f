//! [`Event`]: everything a spot stream or WebSocket API connection sends,
//! typed. [`frame`](crate::frame) decodes frames into it; the hand-rolled
//! readers for the hottest events build it too.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::control::ControlResponse;
use crate::market::{
    AggTrade, AvgPrice, BlockTrade, BookTicker, DepthUpdate, KlineEvent, MiniTicker, PartialDepth,
    ReferencePrice, RollingTicker, ServerShutdown, Ticker, Trade,
};
use crate::time::{Millis, TimeUnit};
use crate::user::{
    BalanceUpdate, EventStreamTerminated, ExecutionReport, ExternalLockUpdate, ListStatus,
    ListenKeyExpired, OutboundAccountPosition,
};
use crate::wsapi::WsApiResponse;

/// Everything a spot stream or WebSocket API connection sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged, bound = "")]
#[non_exhaustive]
pub enum Event<U: TimeUnit = Millis> {
    /// `trade`.
    Trade(Trade<U>),
    /// `aggTrade`.
    AggTrade(AggTrade<U>),
    /// `blockTrade`.
    BlockTrade(BlockTrade<U>),
    /// `referencePrice`.
    ReferencePrice(ReferencePrice<U>),
    /// `kline`.
    Kline(Box<KlineEvent<U>>),
    /// `24hrMiniTicker`.
    MiniTicker(Box<MiniTicker<U>>),
    /// `!miniTicker@arr`: the mini tickers that changed.
    MiniTickers(Vec<MiniTicker<U>>),
    /// `24hrTicker`.
    Ticker(Box<Ticker<U>>),
    /// An array of `24hrTicker` (the retired `!ticker@arr`; still decoded for recordings).
    Tickers(Vec<Ticker<U>>),
    /// `1hTicker`, `4hTicker`, `1dTicker`.
    RollingTicker(Box<RollingTicker<U>>),
    /// `!ticker_<w>@arr`: the rolling tickers that changed.
    RollingTickers(Vec<RollingTicker<U>>),
    /// `bookTicker`.
    BookTicker(BookTicker),
    /// `avgPrice`.
    AvgPrice(AvgPrice<U>),
    /// `depth<n>`: top-of-book snapshot.
    PartialDepth(PartialDepth),
    /// `depthUpdate`.
    DepthUpdate(DepthUpdate<U>),
    /// `serverShutdown`.
    ServerShutdown(ServerShutdown<U>),
    /// `outboundAccountPosition`.
    OutboundAccountPosition(OutboundAccountPosition<U>),
    /// `balanceUpdate`.
    BalanceUpdate(BalanceUpdate<U>),
    /// `executionReport`.
    ExecutionReport(Box<ExecutionReport<U>>),
    /// `listStatus`.
    ListStatus(Box<ListStatus<U>>),
    /// `listenKeyExpired`.
    ListenKeyExpired(ListenKeyExpired<U>),
    /// `externalLockUpdate`.
    ExternalLockUpdate(ExternalLockUpdate<U>),
    /// `eventStreamTerminated`.
    EventStreamTerminated(EventStreamTerminated<U>),
    /// The answer to a `SUBSCRIBE`-family control request.
    ControlResponse(ControlResponse),
    /// A WebSocket API response.
    ApiResponse(Box<WsApiResponse>),
    /// An event this version does not know, kept verbatim.
    Unknown(UnknownEvent),
}

/// An event of a type this version does not know, with its JSON untouched.
#[derive(Debug, Clone)]
pub struct UnknownEvent(pub(crate) Box<RawValue>);

impl UnknownEvent {
    /// The raw JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The `e` field, when the event has one.
    pub fn event_type(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Probe {
            e: Option<String>,
        }
        serde_json::from_str::<Probe>(self.0.get()).ok()?.e
    }

    /// The `e` field as written, when it has one and needs no unescaping.
    pub(crate) fn event_type_str(&self) -> Option<&str> {
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(borrow)]
            e: Option<&'a str>,
        }
        serde_json::from_str::<Probe<'_>>(self.0.get()).ok()?.e
    }

    /// The `E` field (event time), when it has one.
    pub(crate) fn event_time(&self) -> Option<u64> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "E")]
            e: Option<u64>,
        }
        serde_json::from_str::<Probe>(self.0.get()).ok()?.e
    }
}

impl PartialEq for UnknownEvent {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for UnknownEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
