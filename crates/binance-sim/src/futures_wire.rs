//! How the futures venues write their frames: numbers at the contract's
//! precision, keys in the order the real servers send them.
//!
//! Futures do not write spot's eight decimals. The recorded USD-M and COIN-M
//! traffic (`shared/captures/BINANCE_FUTURES.*`, `BINANCE_DELIVERY.*`) shows
//! prices with the contract's `pricePrecision` (`"7.6110"` for SUSHIUSDT,
//! precision 4), quantities with its `quantityPrecision` (`"297"`), USD-M
//! quote volumes with both added (`"11096.6410"`), COIN-M base volumes with
//! eight (`"9.49653573"`), and mark and index prices, funding rates with
//! eight (`"11794.15000000"`, `"0.00038167"` in Binance's examples).
//!
//! The typed events of `binance_types::futures::market` serialise their
//! keys in the documented order; where the recorded bytes differ, the
//! recorded order wins: USD-M `bookTicker` is `e u s b B a A T E`, COIN-M's
//! `u e s ps b B a A T E`, `aggTrade` has `a` before `s` on both; COIN-M
//! `markPriceUpdate` and `24hrTicker` follow Binance's COIN-M examples.

use binance_types::venue::Venue;
use binance_types::Level;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::notation::fixed_scale;

/// How one contract writes its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The venue.
    pub venue: Venue,
    /// Decimals of a price.
    pub price: u32,
    /// Decimals of a quantity.
    pub qty: u32,
}

/// `"0"` for zero (as user events write it), otherwise `places` decimals.
pub fn zero_or(v: Decimal, places: u32) -> Decimal {
    if v.is_zero() {
        Decimal::ZERO
    } else {
        fixed_scale(v, places)
    }
}

/// Decimals of mark and index prices and of funding rates.
const RATE_PLACES: u32 = 8;

impl Format {
    /// A price.
    pub fn price(self, v: Decimal) -> Decimal {
        fixed_scale(v, self.price)
    }

    /// A quantity.
    pub fn qty(self, v: Decimal) -> Decimal {
        fixed_scale(v, self.qty)
    }

    /// A quote volume (USD-M) or base volume (COIN-M).
    pub fn quote(self, v: Decimal) -> Decimal {
        match self.venue {
            Venue::CoinM => fixed_scale(v, RATE_PLACES),
            _ => fixed_scale(v, self.price + self.qty),
        }
    }

    /// A mark or index price, or a funding rate.
    pub fn rate(self, v: Decimal) -> Decimal {
        fixed_scale(v, RATE_PLACES)
    }

    /// A price in a user event: `"0"` for zero (`vectors/futures/user`).
    pub fn user_price(self, v: Decimal) -> Decimal {
        zero_or(v, self.price)
    }

    /// A quantity in a user event: `"0"` for zero.
    pub fn user_qty(self, v: Decimal) -> Decimal {
        zero_or(v, self.qty)
    }

    /// Decimals of average and entry prices in user events: three more than
    /// a price on USD-M (`"6563.66500"`), a price's on COIN-M (`"6563.6"`).
    pub fn average_places(self) -> u32 {
        match self.venue {
            Venue::CoinM => self.price,
            _ => self.price + 3,
        }
    }

    /// Decimals of unrealized profit: five on USD-M, eight on COIN-M.
    pub fn unrealized_places(self) -> u32 {
        match self.venue {
            Venue::CoinM => RATE_PLACES,
            _ => 5,
        }
    }

    /// A percentage.
    pub fn percent(self, v: Decimal) -> Decimal {
        fixed_scale(v, 3)
    }

    /// Book levels.
    pub fn levels(self, levels: Vec<Level>) -> Vec<Level> {
        levels
            .into_iter()
            .map(|l| Level::new(self.price(l.price), self.qty(l.quantity)))
            .collect()
    }

    /// A spot-shaped candle from the statistics as a futures candle.
    pub fn kline(self, k: binance_types::market::Kline) -> binance_types::futures::market::Kline {
        binance_types::futures::market::Kline {
            open_time: k.open_time,
            close_time: k.close_time,
            symbol: Some(k.symbol),
            interval: k.interval,
            first_trade_id: k.first_trade_id,
            last_trade_id: k.last_trade_id,
            open: self.price(k.open),
            close: self.price(k.close),
            high: self.price(k.high),
            low: self.price(k.low),
            volume: self.qty(k.volume),
            trade_count: k.trade_count,
            is_closed: k.is_closed,
            quote_volume: self.quote(k.quote_volume),
            taker_buy_volume: self.qty(k.taker_buy_base_volume),
            taker_buy_quote_volume: self.quote(k.taker_buy_quote_volume),
            ignore: "0".to_owned(),
        }
    }
}

/// The recorded key order of an event type on a venue, where it differs
/// from the typed event's.
fn key_order(venue: Venue, event: &str) -> Option<&'static [&'static str]> {
    Some(match (venue, event) {
        (_, "aggTrade") => &["e", "E", "a", "s", "p", "q", "nq", "f", "l", "T", "m"],
        (Venue::CoinM, "bookTicker") => &["u", "e", "s", "ps", "b", "B", "a", "A", "T", "E"],
        (_, "bookTicker") => &["e", "u", "s", "b", "B", "a", "A", "T", "E"],
        (Venue::CoinM, "markPriceUpdate") => &["e", "E", "s", "p", "P", "i", "r", "T"],
        (Venue::CoinM, "24hrTicker") => &[
            "e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l", "v", "q", "O", "C", "F", "L",
            "n", "ps",
        ],
        _ => return None,
    })
}

/// An object's keys put in the recorded order of its event type.
fn reorder(venue: Venue, value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(|v| reorder(venue, v)).collect()),
        Value::Object(mut map) => {
            let order = map
                .get("e")
                .and_then(Value::as_str)
                .and_then(|e| key_order(venue, e));
            let Some(order) = order else {
                return Value::Object(map);
            };
            let mut out = Map::with_capacity(map.len());
            for key in order {
                if let Some(v) = map.shift_remove(*key) {
                    out.insert((*key).to_owned(), v);
                }
            }
            out.extend(map);
            Value::Object(out)
        }
        other => other,
    }
}

/// A futures event's JSON as `venue` writes it. Most types are written in
/// their struct's order at once; only those whose recorded order differs
/// go through a tree to be reordered.
pub fn encode<T: Serialize>(venue: Venue, event: &T) -> String {
    let text = serde_json::to_string(event).expect("events serialise");
    match event_type(&text) {
        Some(e) if key_order(venue, e).is_none() => text,
        _ => {
            let value = serde_json::to_value(event).expect("events serialise");
            serde_json::to_string(&reorder(venue, value)).expect("values serialise")
        }
    }
}

/// The `e` of a serialised event (or of an array's first one) when it is
/// the first key; `None` otherwise (the tree path then decides).
fn event_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('[').unwrap_or(text);
    let rest = rest.strip_prefix(r#"{"e":""#)?;
    rest.split_once('"').map(|(e, _)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_orders_win() {
        let v: Value = serde_json::from_str(
            r#"{"e":"bookTicker","u":1,"E":2,"T":3,"s":"X","ps":"P","b":"1","B":"2","a":"3","A":"4"}"#,
        )
        .unwrap();
        assert_eq!(
            encode(Venue::CoinM, &v),
            r#"{"u":1,"e":"bookTicker","s":"X","ps":"P","b":"1","B":"2","a":"3","A":"4","T":3,"E":2}"#
        );
        let plain: Value = serde_json::from_str(r#"{"e":"other","z":1,"a":2}"#).unwrap();
        assert_eq!(encode(Venue::UsdM, &plain), r#"{"e":"other","z":1,"a":2}"#);
    }
}
