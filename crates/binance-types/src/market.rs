//! Spot market events, field for field as Binance sends them.
//!
//! Field names are plain English; each maps to Binance's one-letter key.
//! Prices and quantities are exact [`Decimal`]s; times are [`Time<U>`], in
//! milliseconds unless the frame was decoded with [`Micros`](crate::Micros).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::book::Level;
use crate::stream::{KlineInterval, RollingWindow};
use crate::time::{retimed, timeless, Millis, Time, TimeUnit};

/// `<symbol>@trade`: one trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "trade", bound = "")]
pub struct Trade<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair, uppercase.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `t`: trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// `p`: price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `q`: quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `T`: when the trade happened.
    #[serde(rename = "T")]
    pub trade_time: Time<U>,
    /// `m`: the buyer was the maker (so the taker sold).
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
    /// `M`: documented as "ignore"; kept so the frame encodes back exactly.
    #[serde(rename = "M")]
    pub ignore: bool,
}

/// `<symbol>@aggTrade`: the fills of one taker order at one price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "aggTrade", bound = "")]
pub struct AggTrade<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `a`: aggregate trade id.
    #[serde(rename = "a")]
    pub agg_trade_id: u64,
    /// `p`: price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `q`: total quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `f`: first trade id aggregated.
    #[serde(rename = "f")]
    pub first_trade_id: u64,
    /// `l`: last trade id aggregated.
    #[serde(rename = "l")]
    pub last_trade_id: u64,
    /// `T`: trade time.
    #[serde(rename = "T")]
    pub trade_time: Time<U>,
    /// `m`: the buyer was the maker.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
    /// `M`: "ignore".
    #[serde(rename = "M")]
    pub ignore: bool,
}

/// `<symbol>@blockTrade`: a block trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "blockTrade", bound = "")]
pub struct BlockTrade<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `t`: trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// `p`: price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `q`: quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `T`: trade time.
    #[serde(rename = "T")]
    pub trade_time: Time<U>,
    /// `m`: the buyer was the maker.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@referencePrice`: the reference price of the price-range rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "referencePrice", bound = "")]
pub struct ReferencePrice<U: TimeUnit = Millis> {
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `r`: the reference price; `None` when Binance sends `null`.
    #[serde(rename = "r", deserialize_with = "crate::decimal::de_opt")]
    pub reference_price: Option<Decimal>,
    /// `t`: when it was computed.
    #[serde(rename = "t")]
    pub time: Time<U>,
}

/// `<symbol>@kline_<interval>`: the current candle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "kline", bound = "")]
pub struct KlineEvent<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `k`: the candle.
    #[serde(rename = "k")]
    pub kline: Kline<U>,
}

/// One candle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Kline<U: TimeUnit = Millis> {
    /// `t`: open time.
    #[serde(rename = "t")]
    pub open_time: Time<U>,
    /// `T`: close time.
    #[serde(rename = "T")]
    pub close_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `i`: interval.
    #[serde(rename = "i")]
    pub interval: KlineInterval,
    /// `f`: first trade id (-1 when no trade yet).
    #[serde(rename = "f")]
    pub first_trade_id: i64,
    /// `L`: last trade id (-1 when no trade yet).
    #[serde(rename = "L")]
    pub last_trade_id: i64,
    /// `o`: open price.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open: Decimal,
    /// `c`: close price.
    #[serde(rename = "c", deserialize_with = "crate::decimal::de")]
    pub close: Decimal,
    /// `h`: high price.
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub high: Decimal,
    /// `l`: low price.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub low: Decimal,
    /// `v`: base asset volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `n`: number of trades.
    #[serde(rename = "n")]
    pub trade_count: u64,
    /// `x`: the candle is closed.
    #[serde(rename = "x")]
    pub is_closed: bool,
    /// `q`: quote asset volume.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
    /// `V`: taker buy base asset volume.
    #[serde(rename = "V", deserialize_with = "crate::decimal::de")]
    pub taker_buy_base_volume: Decimal,
    /// `Q`: taker buy quote asset volume.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub taker_buy_quote_volume: Decimal,
    /// `B`: "ignore".
    #[serde(rename = "B")]
    pub ignore: String,
}

/// `<symbol>@miniTicker`: 24-hour rolling statistics, short form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "24hrMiniTicker", bound = "")]
pub struct MiniTicker<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `c`: close (last) price.
    #[serde(rename = "c", deserialize_with = "crate::decimal::de")]
    pub close: Decimal,
    /// `o`: open price.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open: Decimal,
    /// `h`: high price.
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub high: Decimal,
    /// `l`: low price.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub low: Decimal,
    /// `v`: base asset volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `q`: quote asset volume.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
}

/// `<symbol>@ticker`: 24-hour rolling statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "24hrTicker", bound = "")]
pub struct Ticker<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `p`: price change.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price_change: Decimal,
    /// `P`: price change percent.
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub price_change_percent: Decimal,
    /// `w`: weighted average price.
    #[serde(rename = "w", deserialize_with = "crate::decimal::de")]
    pub weighted_avg_price: Decimal,
    /// `x`: price of the last trade before the window.
    #[serde(rename = "x", deserialize_with = "crate::decimal::de")]
    pub prev_close: Decimal,
    /// `c`: last price.
    #[serde(rename = "c", deserialize_with = "crate::decimal::de")]
    pub last_price: Decimal,
    /// `Q`: last quantity.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub last_quantity: Decimal,
    /// `b`: best bid price.
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub best_bid: Decimal,
    /// `B`: best bid quantity.
    #[serde(rename = "B", deserialize_with = "crate::decimal::de")]
    pub best_bid_qty: Decimal,
    /// `a`: best ask price.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub best_ask: Decimal,
    /// `A`: best ask quantity.
    #[serde(rename = "A", deserialize_with = "crate::decimal::de")]
    pub best_ask_qty: Decimal,
    /// `o`: open price.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open: Decimal,
    /// `h`: high price.
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub high: Decimal,
    /// `l`: low price.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub low: Decimal,
    /// `v`: base asset volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `q`: quote asset volume.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
    /// `O`: window open time.
    #[serde(rename = "O")]
    pub open_time: Time<U>,
    /// `C`: window close time.
    #[serde(rename = "C")]
    pub close_time: Time<U>,
    /// `F`: first trade id.
    #[serde(rename = "F")]
    pub first_trade_id: i64,
    /// `L`: last trade id.
    #[serde(rename = "L")]
    pub last_trade_id: i64,
    /// `n`: number of trades.
    #[serde(rename = "n")]
    pub trade_count: u64,
}

/// `<symbol>@ticker_<window>`: rolling-window statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RollingTicker<U: TimeUnit = Millis> {
    /// `e`: the window (`1hTicker`, `4hTicker`, `1dTicker`).
    #[serde(rename = "e", with = "window_event")]
    pub window: RollingWindow,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `p`: price change.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price_change: Decimal,
    /// `P`: price change percent.
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub price_change_percent: Decimal,
    /// `o`: open price.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open: Decimal,
    /// `h`: high price.
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub high: Decimal,
    /// `l`: low price.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub low: Decimal,
    /// `c`: last price.
    #[serde(rename = "c", deserialize_with = "crate::decimal::de")]
    pub last_price: Decimal,
    /// `w`: weighted average price.
    #[serde(rename = "w", deserialize_with = "crate::decimal::de")]
    pub weighted_avg_price: Decimal,
    /// `v`: base asset volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `q`: quote asset volume.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
    /// `O`: window open time.
    #[serde(rename = "O")]
    pub open_time: Time<U>,
    /// `C`: window close time.
    #[serde(rename = "C")]
    pub close_time: Time<U>,
    /// `F`: first trade id.
    #[serde(rename = "F")]
    pub first_trade_id: i64,
    /// `L`: last trade id.
    #[serde(rename = "L")]
    pub last_trade_id: i64,
    /// `n`: number of trades.
    #[serde(rename = "n")]
    pub trade_count: u64,
}

mod window_event {
    use super::RollingWindow;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(w: &RollingWindow, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(w.event_type())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RollingWindow, D::Error> {
        let name = <&str>::deserialize(d)?;
        RollingWindow::ALL
            .iter()
            .copied()
            .find(|w| w.event_type() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rolling ticker `{name}`")))
    }
}

/// `<symbol>@bookTicker`: best bid and ask, in real time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookTicker {
    /// `u`: order book update id.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `b`: best bid price.
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub best_bid: Decimal,
    /// `B`: best bid quantity.
    #[serde(rename = "B", deserialize_with = "crate::decimal::de")]
    pub best_bid_qty: Decimal,
    /// `a`: best ask price.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub best_ask: Decimal,
    /// `A`: best ask quantity.
    #[serde(rename = "A", deserialize_with = "crate::decimal::de")]
    pub best_ask_qty: Decimal,
}

/// `<symbol>@avgPrice`: the average price over an interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "avgPrice", bound = "")]
pub struct AvgPrice<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `i`: the averaging interval (`5m`).
    #[serde(rename = "i")]
    pub interval: String,
    /// `w`: the average price.
    #[serde(rename = "w", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `T`: last trade time.
    #[serde(rename = "T")]
    pub last_trade_time: Time<U>,
}

/// `<symbol>@depth<n>` and the REST `GET /api/v3/depth` answer: the top of the book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDepth {
    /// `lastUpdateId`: the book's update id at this snapshot (the options
    /// snapshot `GET /eapi/v1/depth` calls it `u`).
    #[serde(rename = "lastUpdateId", alias = "u")]
    pub last_update_id: u64,
    /// Bids, best first.
    pub bids: Vec<Level>,
    /// Asks, best first.
    pub asks: Vec<Level>,
}

/// The REST depth snapshot has the same shape as a partial depth event.
pub type DepthSnapshot = PartialDepth;

/// `<symbol>@depth[@100ms]`: changed levels, with absolute quantities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "depthUpdate", bound = "")]
pub struct DepthUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `U`: first update id in this event.
    #[serde(rename = "U")]
    pub first_update_id: u64,
    /// `u`: last update id in this event.
    #[serde(rename = "u")]
    pub final_update_id: u64,
    /// `b`: changed bids; quantity zero removes the level.
    #[serde(rename = "b")]
    pub bids: Vec<Level>,
    /// `a`: changed asks; quantity zero removes the level.
    #[serde(rename = "a")]
    pub asks: Vec<Level>,
}

/// `serverShutdown`: the server is about to go down; reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "serverShutdown", bound = "")]
pub struct ServerShutdown<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
}

retimed! {
    Trade { event_time, symbol, trade_id, price, quantity, trade_time, buyer_is_maker, ignore }
    AggTrade {
        event_time, symbol, agg_trade_id, price, quantity, first_trade_id,
        last_trade_id, trade_time, buyer_is_maker, ignore,
    }
    BlockTrade { event_time, symbol, trade_id, price, quantity, trade_time, buyer_is_maker }
    ReferencePrice { symbol, reference_price, time }
    KlineEvent { event_time, symbol, kline }
    Kline {
        open_time, close_time, symbol, interval, first_trade_id, last_trade_id, open,
        close, high, low, volume, trade_count, is_closed, quote_volume,
        taker_buy_base_volume, taker_buy_quote_volume, ignore,
    }
    MiniTicker { event_time, symbol, close, open, high, low, volume, quote_volume }
    Ticker {
        event_time, symbol, price_change, price_change_percent, weighted_avg_price,
        prev_close, last_price, last_quantity, best_bid, best_bid_qty, best_ask,
        best_ask_qty, open, high, low, volume, quote_volume, open_time, close_time,
        first_trade_id, last_trade_id, trade_count,
    }
    RollingTicker {
        window, event_time, symbol, price_change, price_change_percent, open, high, low,
        last_price, weighted_avg_price, volume, quote_volume, open_time, close_time,
        first_trade_id, last_trade_id, trade_count,
    }
    AvgPrice { event_time, symbol, interval, price, last_trade_time }
    DepthUpdate { event_time, symbol, first_update_id, final_update_id, bids, asks }
    ServerShutdown { event_time }
}

timeless!(
    BookTicker,
    PartialDepth,
    Level,
    KlineInterval,
    RollingWindow
);
