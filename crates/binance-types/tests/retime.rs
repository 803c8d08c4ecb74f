//! `timeUnit=MICROSECOND`: every event of Binance's examples, retimed to
//! microseconds, is the example with its documented time fields times 1000
//! and nothing else changed, byte for byte.

mod support;

use binance_types::market::{
    AggTrade, AvgPrice, BlockTrade, BookTicker, DepthUpdate, KlineEvent, MiniTicker,
    ReferencePrice, RollingTicker, ServerShutdown, Ticker, Trade,
};
use binance_types::user::{
    BalanceUpdate, EventStreamTerminated, ExecutionReport, ExternalLockUpdate, ListStatus,
    OutboundAccountPosition,
};
use binance_types::{Micros, Millis, Retime};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The example at `vectors/<name>` (the event of a WebSocket API frame).
fn example(name: &str) -> Value {
    let path = support::shared().join("vectors").join(name);
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v.get("event").cloned().unwrap_or(v)
}

/// `keys` (a path of object keys each) of `v` times 1000.
fn scaled(mut v: Value, keys: &[&[&str]]) -> Value {
    for path in keys {
        let mut at = &mut v;
        for key in *path {
            at = &mut at[*key];
        }
        *at = (at.as_u64().unwrap() * 1000).into();
    }
    v
}

/// The example decoded in milliseconds, retimed, encoded: the example
/// with `keys` scaled.
fn check<T>(name: &str, keys: &[&[&str]])
where
    T: DeserializeOwned + Retime<Micros>,
    T::Output: Serialize,
{
    let v = example(name);
    let typed: T = serde_json::from_str(&v.to_string()).unwrap();
    let micros = serde_json::to_string(&typed.retime()).unwrap();
    assert_eq!(micros, scaled(v, keys).to_string(), "{name}");
}

#[test]
fn market_events_retime_to_microseconds() {
    let e_t: &[&[&str]] = &[&["E"], &["T"]];
    check::<Trade<Millis>>("spot/trade.json", e_t);
    check::<AggTrade<Millis>>("spot/aggTrade.json", e_t);
    check::<BlockTrade<Millis>>("spot/blockTrade.json", e_t);
    check::<AvgPrice<Millis>>("spot/avgPrice.json", e_t);
    check::<ReferencePrice<Millis>>("spot/referencePrice.json", &[&["t"]]);
    check::<KlineEvent<Millis>>("spot/kline.json", &[&["E"], &["k", "t"], &["k", "T"]]);
    check::<MiniTicker<Millis>>("spot/miniTicker.json", &[&["E"]]);
    check::<Ticker<Millis>>("spot/ticker.json", &[&["E"], &["O"], &["C"]]);
    check::<RollingTicker<Millis>>("spot/ticker_1h.json", &[&["E"], &["O"], &["C"]]);
    check::<DepthUpdate<Millis>>("spot/depthUpdate.json", &[&["E"]]);
    check::<ServerShutdown<Millis>>("spot/serverShutdown.json", &[&["E"]]);
    check::<BookTicker>("spot/bookTicker.json", &[]);
}

#[test]
fn user_events_retime_to_microseconds() {
    let e_t: &[&[&str]] = &[&["E"], &["T"]];
    check::<ExecutionReport<Millis>>(
        "user/wsapi/executionReport.json",
        &[&["E"], &["T"], &["O"], &["W"]],
    );
    check::<OutboundAccountPosition<Millis>>(
        "user/wsapi/outboundAccountPosition.json",
        &[&["E"], &["u"]],
    );
    check::<BalanceUpdate<Millis>>("user/wsapi/balanceUpdate.json", e_t);
    check::<ExternalLockUpdate<Millis>>("user/wsapi/externalLockUpdate.json", e_t);
    check::<ListStatus<Millis>>("user/wsapi/listStatus.json", e_t);
    check::<EventStreamTerminated<Millis>>("user/wsapi/eventStreamTerminated.json", &[&["E"]]);
}
