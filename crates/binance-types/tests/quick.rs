//! The hand-rolled readers for hot events and the serde path agree on every
//! input: generated events, and the real captures.

mod support;

use binance_types::market::{AggTrade, BookTicker, DepthUpdate, Trade};
use binance_types::{frame, Decimal, Event, Level, Time};
use proptest::prelude::*;

/// The same frame with a space after the first brace: still valid JSON, but
/// no longer Binance's exact layout, so the hand-rolled readers step aside.
fn spaced(json: &str) -> String {
    json.replacen('{', "{ ", 1)
}

fn assert_paths_agree(json: &str) -> Event {
    let quick = frame::decode(json.as_bytes()).unwrap();
    let spaced = spaced(json);
    let slow = frame::decode(spaced.as_bytes()).unwrap();
    assert_eq!(quick, slow, "{json}");
    quick.event
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (0i64..10_000_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s))
}

fn levels() -> impl Strategy<Value = Vec<Level>> {
    proptest::collection::vec(
        (decimal(), decimal()).prop_map(|(p, q)| Level::new(p, q)),
        0..25,
    )
}

fn symbol() -> impl Strategy<Value = String> {
    "[A-Z0-9]{2,12}"
}

proptest! {
    #[test]
    fn trades(e in any::<u64>(), symbol in symbol(), t in any::<u64>(), p in decimal(), q in decimal(), tt in any::<u64>(), m in any::<bool>(), mm in any::<bool>()) {
        let trade = Trade { event_time: Time::new(e), symbol, trade_id: t, price: p, quantity: q, trade_time: Time::new(tt), buyer_is_maker: m, ignore: mm };
        let json = serde_json::to_string(&trade).unwrap();
        prop_assert_eq!(assert_paths_agree(&json), Event::Trade(trade.clone()));
        let combined = format!(r#"{{"stream":"x@trade","data":{json}}}"#);
        prop_assert_eq!(assert_paths_agree(&combined), Event::Trade(trade));
    }

    #[test]
    fn agg_trades(e in any::<u64>(), symbol in symbol(), a in any::<u64>(), p in decimal(), q in decimal(), f in any::<u64>(), l in any::<u64>(), m in any::<bool>()) {
        let agg = AggTrade { event_time: Time::new(e), symbol, agg_trade_id: a, price: p, quantity: q, first_trade_id: f, last_trade_id: l, trade_time: Time::new(e), buyer_is_maker: m, ignore: true };
        let json = serde_json::to_string(&agg).unwrap();
        prop_assert_eq!(assert_paths_agree(&json), Event::AggTrade(agg));
    }

    #[test]
    fn depth_updates(e in any::<u64>(), symbol in symbol(), first in any::<u64>(), last in any::<u64>(), bids in levels(), asks in levels()) {
        let update = DepthUpdate { event_time: Time::new(e), symbol, first_update_id: first, final_update_id: last, bids, asks };
        let json = serde_json::to_string(&update).unwrap();
        let combined = format!(r#"{{"stream":"x@depth@100ms","data":{json}}}"#);
        prop_assert_eq!(assert_paths_agree(&combined), Event::DepthUpdate(update));
    }

    #[test]
    fn partial_depths(id in any::<u64>(), bids in levels(), asks in levels()) {
        let depth = binance_types::market::PartialDepth { last_update_id: id, bids, asks };
        let json = serde_json::to_string(&depth).unwrap();
        prop_assert_eq!(assert_paths_agree(&json), Event::PartialDepth(depth));
    }

    #[test]
    fn book_tickers(u in any::<u64>(), symbol in symbol(), b in decimal(), bq in decimal(), a in decimal(), aq in decimal()) {
        let ticker = BookTicker { update_id: u, symbol, best_bid: b, best_bid_qty: bq, best_ask: a, best_ask_qty: aq };
        let json = serde_json::to_string(&ticker).unwrap();
        prop_assert_eq!(assert_paths_agree(&json), Event::BookTicker(ticker));
    }

    #[test]
    fn near_misses_never_panic_and_agree_with_serde(cut in 0usize..120, byte in any::<u8>()) {
        let mut json = br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#.to_vec();
        let at = cut % json.len();
        json[at] = byte;
        let quick = frame::decode(&json);
        if let Ok(text) = std::str::from_utf8(&json) {
            let spaced = spaced(text);
            let slow = frame::decode(spaced.as_bytes());
            prop_assert_eq!(quick.is_ok(), slow.is_ok(), "{}", text);
            if let (Ok(a), Ok(b)) = (quick, slow) {
                // Unknown events keep their raw text, which differs by the space.
                let value = |f: &frame::Frame| serde_json::from_str::<serde_json::Value>(&f.to_json()).unwrap();
                prop_assert_eq!(value(&a), value(&b));
                prop_assert_eq!(std::mem::discriminant(&a.event), std::mem::discriminant(&b.event));
            }
        }
    }
}

#[test]
fn captures_agree() {
    for file in ["BINANCE.ws.1.0", "BINANCE_US.ws.1.0"] {
        let text = std::fs::read_to_string(support::shared().join("captures").join(file)).unwrap();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let (_, json) = line.split_once(": ").unwrap();
            assert_paths_agree(json);
        }
    }
}
