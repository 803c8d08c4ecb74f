//! Binance's symbol filters: the `filters` of a built-in symbol's
//! `exchangeInfo` entry, laid out as Binance's BTCUSDT entry in
//! `shared/captures/BINANCE.0`, and the check of an order against every
//! filter of its symbol's entry (the entry served is the entry checked, also
//! for symbols loaded with `--exchange-info`), failing with Binance's
//! `-1013 Filter failure: <FILTER>`.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::api_error::ApiErr;
use crate::engine::{Side, SymbolSpec};
use crate::notation::Notation;

const SPOT: Notation = Notation::Spot;

/// The filters of a built-in symbol: its tick, step and price range, and
/// Binance's values for the rest (the capture's BTCUSDT and BNBBTC).
pub fn builtin(spec: &SymbolSpec) -> Value {
    // Binance's minimum order value: 10 in a dollar quote, 0.0001 in BTC.
    let min_notional = match spec.quote_asset.as_str() {
        "BTC" => Decimal::new(1, 4),
        _ => Decimal::TEN,
    };
    json!([
        {"filterType": "PRICE_FILTER", "minPrice": SPOT.text(spec.min_price),
         "maxPrice": SPOT.text(spec.max_price), "tickSize": SPOT.text(spec.tick_size)},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "LOT_SIZE", "minQty": SPOT.text(spec.min_qty),
         "maxQty": "9000000.00000000", "stepSize": SPOT.text(spec.step_size)},
        {"filterType": "MIN_NOTIONAL", "minNotional": SPOT.text(min_notional),
         "applyToMarket": true, "avgPriceMins": 5},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
         "maxQty": "100000.00000000", "stepSize": "0.00000000"},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ])
}

/// An order as the filters see it.
pub(crate) struct Order {
    /// Buy or sell.
    pub side: Side,
    /// A market order (no price of its own).
    pub market: bool,
    /// The limit price (`None` for market orders).
    pub price: Option<Decimal>,
    /// The quantity.
    pub qty: Decimal,
    /// The symbol's average price over the last minutes (`PERCENT_PRICE`,
    /// market notional); `None` before the first trade.
    pub avg_price: Option<Decimal>,
    /// The account's open orders on the symbol, before this one.
    pub open_orders: usize,
}

fn failure(filter: &str) -> ApiErr {
    ApiErr::new(400, -1013, format!("Filter failure: {filter}"))
}

/// `Ok` when `order` passes every filter of `entry` (an `exchangeInfo`
/// symbol entry); the first failing filter's error otherwise.
pub(crate) fn check(entry: &Value, order: &Order) -> Result<(), ApiErr> {
    let filters = entry["filters"].as_array().map_or(&[][..], Vec::as_slice);
    for f in filters {
        let kind = f["filterType"].as_str().unwrap_or_default();
        let dec = |k: &str| f[k].as_str().and_then(|v| v.parse::<Decimal>().ok());
        let flag = |k: &str| f[k].as_bool().unwrap_or(false);
        let ok = match kind {
            "PRICE_FILTER" => order.price.is_none_or(|p| {
                let (min, max, tick) = (dec("minPrice"), dec("maxPrice"), dec("tickSize"));
                min.is_none_or(|m| m.is_zero() || p >= m)
                    && max.is_none_or(|m| m.is_zero() || p <= m)
                    && tick.is_none_or(|t| {
                        t.is_zero() || ((p - min.unwrap_or_default()) % t).is_zero()
                    })
            }),
            "LOT_SIZE" => lot(order.qty, &dec),
            "MARKET_LOT_SIZE" => !order.market || lot(order.qty, &dec),
            "PERCENT_PRICE" => within(
                order.price,
                order.avg_price,
                dec("multiplierUp"),
                dec("multiplierDown"),
            ),
            "PERCENT_PRICE_BY_SIDE" => {
                let (up, down) = match order.side {
                    Side::Buy => (dec("bidMultiplierUp"), dec("bidMultiplierDown")),
                    Side::Sell => (dec("askMultiplierUp"), dec("askMultiplierDown")),
                };
                within(order.price, order.avg_price, up, down)
            }
            "MIN_NOTIONAL" => match notional(order, flag("applyToMarket")) {
                Some(value) => dec("minNotional").is_none_or(|m| value >= m),
                None => true,
            },
            "NOTIONAL" => {
                let low = notional(order, flag("applyMinToMarket"));
                let high = notional(order, flag("applyMaxToMarket"));
                low.zip(dec("minNotional")).is_none_or(|(v, m)| v >= m)
                    && high.zip(dec("maxNotional")).is_none_or(|(v, m)| v <= m)
            }
            "MAX_NUM_ORDERS" => f["maxNumOrders"]
                .as_u64()
                .is_none_or(|max| (order.open_orders as u64) < max),
            // Iceberg, algo and trailing orders are not simulated.
            _ => true,
        };
        if !ok {
            return Err(failure(kind));
        }
    }
    Ok(())
}

/// `minQty <= qty <= maxQty` on the step (a zero step or bound is not checked).
fn lot(qty: Decimal, dec: &dyn Fn(&str) -> Option<Decimal>) -> bool {
    let (min, max, step) = (dec("minQty"), dec("maxQty"), dec("stepSize"));
    min.is_none_or(|m| qty >= m)
        && max.is_none_or(|m| m.is_zero() || qty <= m)
        && step.is_none_or(|s| s.is_zero() || ((qty - min.unwrap_or_default()) % s).is_zero())
}

/// A limit price within `avg × down ..= avg × up` (market orders and a
/// symbol with no average yet pass).
fn within(
    price: Option<Decimal>,
    avg: Option<Decimal>,
    up: Option<Decimal>,
    down: Option<Decimal>,
) -> bool {
    let (Some(price), Some(avg)) = (price, avg) else {
        return true;
    };
    up.is_none_or(|u| price <= avg * u) && down.is_none_or(|d| price >= avg * d)
}

/// The order's value: price × quantity, or for a market order (when the
/// filter applies to them) average price × quantity.
fn notional(order: &Order, applies_to_market: bool) -> Option<Decimal> {
    match (order.market, order.price) {
        (false, Some(p)) => Some(p * order.qty),
        (true, _) if applies_to_market => order.avg_price.map(|a| a * order.qty),
        _ => None,
    }
}
