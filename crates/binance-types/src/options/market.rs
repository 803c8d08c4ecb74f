//! Options market events that futures do not have, field for field as
//! Binance sends them (reference §7). Tickers, book tickers, depth and
//! klines have the futures shapes ([`crate::futures::market`]).
//!
//! Prices, quantities, implied volatilities and greeks are exact
//! [`Decimal`]s (never `f64`), each keeping the scale Binance wrote
//! (`"0.000"`, `"-1.0"`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::time::{Millis, Time};
use crate::user::Side;

/// `<symbol>@optionTrade`, `<underlying>@optionTrade`: one trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "trade")]
pub struct OptionTrade {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<Millis>,
    /// `T`: when the trade happened.
    #[serde(rename = "T")]
    pub trade_time: Time<Millis>,
    /// `s`: the option.
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
    /// `X`: trade type (`MARKET`); kept as sent.
    #[serde(rename = "X")]
    pub trade_type: String,
    /// `S`: the taker's side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `m`: the buyer was the maker.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// One option's mark price and greeks (an item of
/// `<underlying>@optionMarkPrice`, event `markPrice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "markPrice")]
pub struct OptionMarkPrice {
    /// `s`: the option.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `mp`: mark price.
    #[serde(rename = "mp", deserialize_with = "crate::decimal::de")]
    pub mark_price: Decimal,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<Millis>,
    /// `i`: the underlying's index price.
    #[serde(rename = "i", deserialize_with = "crate::decimal::de")]
    pub index_price: Decimal,
    /// `P`: estimated settle price (0 before expiry).
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub estimated_settle_price: Decimal,
    /// `bo`: best bid price.
    #[serde(rename = "bo", deserialize_with = "crate::decimal::de")]
    pub best_bid_price: Decimal,
    /// `ao`: best ask price.
    #[serde(rename = "ao", deserialize_with = "crate::decimal::de")]
    pub best_ask_price: Decimal,
    /// `bq`: best bid quantity.
    #[serde(rename = "bq", deserialize_with = "crate::decimal::de")]
    pub best_bid_quantity: Decimal,
    /// `aq`: best ask quantity.
    #[serde(rename = "aq", deserialize_with = "crate::decimal::de")]
    pub best_ask_quantity: Decimal,
    /// `b`: the best bid's implied volatility (`-1.0` with no bid).
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub bid_iv: Decimal,
    /// `a`: the best ask's implied volatility.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub ask_iv: Decimal,
    /// `hl`: highest price an order may have.
    #[serde(rename = "hl", deserialize_with = "crate::decimal::de")]
    pub high_price_limit: Decimal,
    /// `ll`: lowest price an order may have.
    #[serde(rename = "ll", deserialize_with = "crate::decimal::de")]
    pub low_price_limit: Decimal,
    /// `vo`: the mark price's implied volatility.
    #[serde(rename = "vo", deserialize_with = "crate::decimal::de")]
    pub mark_iv: Decimal,
    /// `rf`: risk-free rate.
    #[serde(rename = "rf", deserialize_with = "crate::decimal::de")]
    pub risk_free_rate: Decimal,
    /// `d`: delta.
    #[serde(rename = "d", deserialize_with = "crate::decimal::de")]
    pub delta: Decimal,
    /// `t`: theta.
    #[serde(rename = "t", deserialize_with = "crate::decimal::de")]
    pub theta: Decimal,
    /// `g`: gamma.
    #[serde(rename = "g", deserialize_with = "crate::decimal::de")]
    pub gamma: Decimal,
    /// `v`: vega.
    #[serde(rename = "v", deserialize_with = "crate::decimal::de")]
    pub vega: Decimal,
}

/// One underlying's index price (an item of `!index@arr`, event
/// `indexPrice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "indexPrice")]
pub struct IndexPrice {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<Millis>,
    /// `s`: the underlying (`BTCUSDT`).
    #[serde(rename = "s")]
    pub underlying: String,
    /// `p`: index price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
}

/// One option's open interest (an item of
/// `<underlying>@optionOpenInterest@<YYMMDD>`, event `openInterest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "openInterest")]
pub struct OpenInterest {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<Millis>,
    /// `s`: the option.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `o`: open interest in contracts.
    #[serde(rename = "o", deserialize_with = "crate::decimal::de")]
    pub open_interest: Decimal,
    /// `h`: open interest in the quote asset (USDT).
    #[serde(rename = "h", deserialize_with = "crate::decimal::de")]
    pub open_interest_value: Decimal,
}

/// Call or put, as `optionSymbol` spells it (`CALL`, `PUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OptionSide {
    /// `CALL`.
    Call,
    /// `PUT`.
    Put,
}

/// `!optionSymbol`: a newly listed option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "optionSymbol")]
pub struct NewOptionSymbol {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<Millis>,
    /// `s`: the option.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: the underlying index (`BTCUSDT`).
    #[serde(rename = "ps")]
    pub underlying: String,
    /// `qa`: quote asset (`USDT`).
    #[serde(rename = "qa")]
    pub quote_asset: String,
    /// `d`: call or put.
    #[serde(rename = "d")]
    pub side: OptionSide,
    /// `sp`: strike price.
    #[serde(rename = "sp", deserialize_with = "crate::decimal::de")]
    pub strike_price: Decimal,
    /// `dt`: delivery (expiry) time.
    #[serde(rename = "dt")]
    pub delivery_time: Time<Millis>,
    /// `u`: contract unit (underlying per contract).
    #[serde(rename = "u")]
    pub unit: u64,
    /// `ot`: when the option was listed.
    #[serde(rename = "ot")]
    pub onboard_time: Time<Millis>,
    /// `cs`: contract status (`TRADING`); kept as sent.
    #[serde(rename = "cs")]
    pub status: String,
}
