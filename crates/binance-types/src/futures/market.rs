//! USD-M and COIN-M market events, field for field as Binance sends them
//! (reference §5.2, §5.3).
//!
//! Field names are plain English; each maps to Binance's key. Prices,
//! quantities and rates are exact [`Decimal`]s (never `f64`), including the
//! few that Binance writes as JSON numbers (`contractInfo` brackets). COIN-M
//! payloads add `ps` (the pair) to most events; it is an `Option` here, absent
//! on USD-M.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::book::Level;
use crate::stream::KlineInterval;
use crate::time::{Millis, Time, TimeUnit};

/// `<symbol>@aggTrade`: the fills of one taker order at one price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "aggTrade", bound = "")]
pub struct AggTrade<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `a`: aggregate trade id.
    #[serde(rename = "a")]
    pub agg_trade_id: u64,
    /// `p`: price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `q`: quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `nq`: quantity without RPI trades (USD-M, since 2025-12-31).
    #[serde(
        rename = "nq",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub normal_quantity: Option<Decimal>,
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
}

/// `<symbol>@markPrice[@1s]`: mark price, index price and funding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "markPriceUpdate", bound = "")]
pub struct MarkPriceUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `p`: mark price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub mark_price: Decimal,
    /// `ap`: mark price moving average (USD-M, since 2026-03-16).
    #[serde(
        rename = "ap",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub mark_price_average: Option<Decimal>,
    /// `i`: index price.
    #[serde(rename = "i", deserialize_with = "crate::decimal::de")]
    pub index_price: Decimal,
    /// `P`: estimated settle price.
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub estimated_settle_price: Decimal,
    /// `r`: funding rate; `None` where Binance sends `""` (COIN-M delivery
    /// contracts).
    #[serde(rename = "r", with = "empty_or_decimal")]
    pub funding_rate: Option<Decimal>,
    /// `T`: next funding time (0 for COIN-M delivery contracts).
    #[serde(rename = "T")]
    pub next_funding_time: Time<U>,
}

/// `<pair>@indexPrice[@1s]` (COIN-M): the pair's index price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "indexPriceUpdate", bound = "")]
pub struct IndexPriceUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `i`: the pair (`BTCUSD`).
    #[serde(rename = "i")]
    pub pair: String,
    /// `p`: index price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub index_price: Decimal,
}

/// One futures candle (the `k` of every kline event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Kline<U: TimeUnit = Millis> {
    /// `t`: open time.
    #[serde(rename = "t")]
    pub open_time: Time<U>,
    /// `T`: close time.
    #[serde(rename = "T")]
    pub close_time: Time<U>,
    /// `s`: the contract; absent in continuous klines, `"0"` in index
    /// price klines.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// `i`: interval.
    #[serde(rename = "i")]
    pub interval: KlineInterval,
    /// `f`: first trade id (first update time in price klines).
    #[serde(rename = "f")]
    pub first_trade_id: i64,
    /// `L`: last trade id (last update time in price klines).
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
    /// `v`: volume (contracts on COIN-M).
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `n`: number of trades (of updates in price klines).
    #[serde(rename = "n")]
    pub trade_count: u64,
    /// `x`: the candle is closed.
    #[serde(rename = "x")]
    pub is_closed: bool,
    /// `q`: quote volume (base volume on COIN-M).
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
    /// `V`: taker buy volume.
    #[serde(rename = "V", deserialize_with = "crate::decimal::de")]
    pub taker_buy_volume: Decimal,
    /// `Q`: taker buy quote volume.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub taker_buy_quote_volume: Decimal,
    /// `B`: "ignore"; options candles have none (empty here, and then
    /// not written back).
    #[serde(rename = "B", default, skip_serializing_if = "String::is_empty")]
    pub ignore: String,
}

/// `<symbol>@kline_<interval>`: the current candle of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "kline", bound = "")]
pub struct KlineEvent<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `k`: the candle.
    #[serde(rename = "k")]
    pub kline: Kline<U>,
}

/// `<pair>_<contractType>@continuousKline_<interval>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "continuous_kline", bound = "")]
pub struct ContinuousKlineEvent<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `ps`: the pair.
    #[serde(rename = "ps")]
    pub pair: String,
    /// `ct`: contract type, uppercase as sent (`PERPETUAL`, `NEXT_QUARTER`).
    #[serde(rename = "ct")]
    pub contract_type: String,
    /// `k`: the candle (no `s`).
    #[serde(rename = "k")]
    pub kline: Kline<U>,
}

/// `<pair>@indexPriceKline_<interval>` (COIN-M).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "indexPrice_kline", bound = "")]
pub struct IndexPriceKlineEvent<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `ps`: the pair.
    #[serde(rename = "ps")]
    pub pair: String,
    /// `k`: the candle.
    #[serde(rename = "k")]
    pub kline: Kline<U>,
}

/// `<symbol>@markPriceKline_<interval>` (COIN-M).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "markPrice_kline", bound = "")]
pub struct MarkPriceKlineEvent<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `ps`: the pair.
    #[serde(rename = "ps")]
    pub pair: String,
    /// `k`: the candle (`s` is the contract).
    #[serde(rename = "k")]
    pub kline: Kline<U>,
}

/// `<symbol>@miniTicker`, items of `!miniTicker@arr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "24hrMiniTicker", bound = "")]
pub struct MiniTicker<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair (COIN-M).
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// `c`: close price.
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
    /// `v`: volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `q`: quote volume (base volume on COIN-M).
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
}

/// `<symbol>@ticker`, items of `!ticker@arr` (no bid/ask, no `x`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "24hrTicker", bound = "")]
pub struct Ticker<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair (COIN-M).
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// `p`: price change.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price_change: Decimal,
    /// `P`: price change percent.
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub price_change_percent: Decimal,
    /// `w`: weighted average price.
    #[serde(rename = "w", deserialize_with = "crate::decimal::de")]
    pub weighted_avg_price: Decimal,
    /// `c`: last price.
    #[serde(rename = "c", deserialize_with = "crate::decimal::de")]
    pub last_price: Decimal,
    /// `Q`: last quantity.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub last_quantity: Decimal,
    /// `o`: open price.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open: Decimal,
    /// `h`: high price.
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub high: Decimal,
    /// `l`: low price.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub low: Decimal,
    /// `v`: volume.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub volume: Decimal,
    /// `q`: quote volume (base volume on COIN-M).
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quote_volume: Decimal,
    /// `O`: statistics open time.
    #[serde(rename = "O")]
    pub open_time: Time<U>,
    /// `C`: statistics close time.
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

/// `<symbol>@bookTicker`, `!bookTicker`: best bid and ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "bookTicker", bound = "")]
pub struct BookTicker<U: TimeUnit = Millis> {
    /// `u`: order book update id.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair (COIN-M).
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// `b`: best bid price.
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub bid_price: Decimal,
    /// `B`: best bid quantity.
    #[serde(rename = "B", deserialize_with = "crate::decimal::de")]
    pub bid_quantity: Decimal,
    /// `a`: best ask price.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub ask_price: Decimal,
    /// `A`: best ask quantity.
    #[serde(rename = "A", deserialize_with = "crate::decimal::de")]
    pub ask_quantity: Decimal,
}

/// `<symbol>@forceOrder`, `!forceOrder@arr`: the largest liquidation of a
/// contract in the last second (one object per message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "forceOrder", bound = "")]
pub struct ForceOrder<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `o`: the liquidation order.
    #[serde(rename = "o")]
    pub order: LiquidationOrder<U>,
}

/// The `o` of a [`ForceOrder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct LiquidationOrder<U: TimeUnit = Millis> {
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair (COIN-M).
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// `S`: side (`BUY`, `SELL`).
    #[serde(rename = "S")]
    pub side: String,
    /// `o`: order type (`LIMIT`).
    #[serde(rename = "o")]
    pub order_type: String,
    /// `f`: time in force (`IOC`).
    #[serde(rename = "f")]
    pub time_in_force: String,
    /// `q`: original quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `p`: price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `ap`: average price.
    #[serde(rename = "ap", deserialize_with = "crate::decimal::de")]
    pub average_price: Decimal,
    /// `X`: order status (`FILLED`).
    #[serde(rename = "X")]
    pub status: String,
    /// `l`: last filled quantity.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub last_filled_quantity: Decimal,
    /// `z`: accumulated filled quantity.
    #[serde(rename = "z", deserialize_with = "crate::decimal::de")]
    pub filled_quantity: Decimal,
    /// `T`: trade time.
    #[serde(rename = "T")]
    pub trade_time: Time<U>,
}

/// `depthUpdate`: the diff streams (`@depth…`, `@rpiDepth@500ms`) and the
/// partial-depth streams (`@depth<n>…`), which on futures carry the same
/// fields. Continuity is checked with `pu` (§5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "depthUpdate", bound = "")]
pub struct DepthUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair (COIN-M).
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// `U`: first update id in the event.
    #[serde(rename = "U")]
    pub first_update_id: u64,
    /// `u`: final update id in the event.
    #[serde(rename = "u")]
    pub final_update_id: u64,
    /// `pu`: the previous event's `u`; a mismatch means a gap.
    #[serde(rename = "pu")]
    pub previous_final_update_id: u64,
    /// `b`: bids to update.
    #[serde(rename = "b")]
    pub bids: Vec<Level>,
    /// `a`: asks to update.
    #[serde(rename = "a")]
    pub asks: Vec<Level>,
}

/// `<symbol>@compositeIndex` (USD-M): a composite index and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "compositeIndex", bound = "")]
pub struct CompositeIndex<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the index symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `p`: index price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `C`: component type (`baseAsset`).
    #[serde(rename = "C")]
    pub component_type: String,
    /// `c`: the components.
    #[serde(rename = "c")]
    pub components: Vec<IndexComponent>,
}

/// One component of a [`CompositeIndex`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexComponent {
    /// `b`: base asset.
    #[serde(rename = "b")]
    pub base_asset: String,
    /// `q`: quote asset.
    #[serde(rename = "q")]
    pub quote_asset: String,
    /// `w`: weight in quantity.
    #[serde(rename = "w", deserialize_with = "crate::decimal::de")]
    pub weight_quantity: Decimal,
    /// `W`: weight in percentage.
    #[serde(rename = "W", deserialize_with = "crate::decimal::de")]
    pub weight_percent: Decimal,
    /// `i`: index price.
    #[serde(rename = "i", deserialize_with = "crate::decimal::de")]
    pub index_price: Decimal,
}

/// `!contractInfo`: a contract was listed, changed status or brackets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "contractInfo", bound = "")]
pub struct ContractInfo<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the pair.
    #[serde(rename = "ps")]
    pub pair: String,
    /// `ct`: contract type, uppercase (`PERPETUAL`).
    #[serde(rename = "ct")]
    pub contract_type: String,
    /// `dt`: delivery date.
    #[serde(rename = "dt")]
    pub delivery_time: Time<U>,
    /// `ot`: onboard date.
    #[serde(rename = "ot")]
    pub onboard_time: Time<U>,
    /// `cs`: contract status (`TRADING`).
    #[serde(rename = "cs")]
    pub status: String,
    /// `bks`: notional brackets, sent only when they change.
    #[serde(rename = "bks", default, skip_serializing_if = "Option::is_none")]
    pub brackets: Option<Vec<Bracket>>,
}

/// One notional bracket of a [`ContractInfo`]. Binance writes these values
/// as JSON numbers; they are read and written back exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    /// `bs`: bracket number.
    #[serde(rename = "bs")]
    pub bracket: u32,
    /// `bnf`: notional floor.
    #[serde(rename = "bnf", with = "number")]
    pub notional_floor: Decimal,
    /// `bnc`: notional cap.
    #[serde(rename = "bnc", with = "number")]
    pub notional_cap: Decimal,
    /// `mmr`: maintenance margin ratio.
    #[serde(rename = "mmr", with = "number")]
    pub maintenance_margin_ratio: Decimal,
    /// `cf`: auxiliary number for quick calculation.
    #[serde(rename = "cf", with = "number")]
    pub cum: Decimal,
    /// `mi`: minimum leverage.
    #[serde(rename = "mi")]
    pub min_leverage: u32,
    /// `ma`: maximum leverage.
    #[serde(rename = "ma")]
    pub max_leverage: u32,
}

/// Items of `!assetIndex@arr`, `<asset>@assetIndex` (USD-M multi-assets mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "assetIndexUpdate", bound = "")]
pub struct AssetIndexUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: asset index symbol (`ADAUSD`).
    #[serde(rename = "s")]
    pub symbol: String,
    /// `i`: index price.
    #[serde(rename = "i", deserialize_with = "crate::decimal::de")]
    pub index_price: Decimal,
    /// `b`: bid buffer.
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub bid_buffer: Decimal,
    /// `a`: ask buffer.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub ask_buffer: Decimal,
    /// `B`: bid rate.
    #[serde(rename = "B", deserialize_with = "crate::decimal::de")]
    pub bid_rate: Decimal,
    /// `A`: ask rate.
    #[serde(rename = "A", deserialize_with = "crate::decimal::de")]
    pub ask_rate: Decimal,
    /// `q`: auto exchange bid buffer.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub auto_exchange_bid_buffer: Decimal,
    /// `g`: auto exchange ask buffer.
    #[serde(rename = "g", deserialize_with = "crate::decimal::de")]
    pub auto_exchange_ask_buffer: Decimal,
    /// `Q`: auto exchange bid rate.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub auto_exchange_bid_rate: Decimal,
    /// `G`: auto exchange ask rate.
    #[serde(rename = "G", deserialize_with = "crate::decimal::de")]
    pub auto_exchange_ask_rate: Decimal,
}

/// `tradingSession` (USD-M): the current TradFi session; the event type is
/// `EquityUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "EquityUpdate", bound = "")]
pub struct TradingSession<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `t`: session start.
    #[serde(rename = "t")]
    pub start_time: Time<U>,
    /// `T`: session end.
    #[serde(rename = "T")]
    pub end_time: Time<U>,
    /// `S`: session type (`OVERNIGHT`, …).
    #[serde(rename = "S")]
    pub session: String,
}

/// A decimal in a string where `""` means "none" (COIN-M funding rate).
mod empty_or_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.collect_str(d),
            None => s.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Decimal>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.is_empty() {
            return Ok(None);
        }
        crate::decimal::parse(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a decimal: {text:?}")))
    }
}

/// A decimal that Binance writes as a JSON number: read from the number's
/// text (never through `f64`) and written back as a number.
mod number {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub(super) fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(v.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        if text.starts_with('"') {
            return Err(serde::de::Error::custom(format!(
                "expected a JSON number, got {text}"
            )));
        }
        crate::decimal::parse(text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a decimal number: {text}")))
    }
}
