//! USD-M and COIN-M user data: Binance's own examples (`vectors/futures/user`,
//! `vectors/coinm/user`, not the `rest_*` answers) decode typed through
//! `binance_types::futures::user` and encode back to the same keys, in the
//! same order, with the same number text.

mod support;

use std::path::Path;

use binance_types::futures::user::{
    decode_futures_user, AccountUpdateReason, ExecutionType, FuturesUserEvent, MarginType,
    OrderStatus, PositionSide, StrategyStatus,
};
use serde_json::Value;
use support::json_files;

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The vector as compact JSON: its keys in its order, its numbers as written.
fn compact(bytes: &[u8]) -> String {
    serde_json::to_string(&serde_json::from_slice::<Value>(bytes).unwrap()).unwrap()
}

/// Decode one vector raw and combined; it must be typed and encode back
/// byte for byte (after removing the vector's whitespace).
fn round_trip(path: &Path) -> FuturesUserEvent {
    let bytes = std::fs::read(path).unwrap();
    let event = decode_futures_user(&bytes).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    assert!(
        !matches!(event, FuturesUserEvent::Unknown(_)),
        "{} decoded as Unknown",
        name(path)
    );
    assert_eq!(
        event.to_json(),
        compact(&bytes),
        "{} did not encode back",
        name(path)
    );
    let back: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(back, serde_json::from_slice::<Value>(&bytes).unwrap());
    let combined = format!(
        r#"{{"stream":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1","data":{}}}"#,
        std::str::from_utf8(&bytes).unwrap()
    );
    let wrapped = decode_futures_user(combined.as_bytes()).unwrap();
    assert_eq!(wrapped, event, "{}: combined differs from raw", name(path));
    event
}

fn expected(file: &str, event: &FuturesUserEvent) -> bool {
    use FuturesUserEvent as E;
    let file = file.trim_end_matches(".json");
    let typed = match event {
        E::AccountUpdate(_) => "ACCOUNT_UPDATE",
        E::OrderTradeUpdate(_) => "ORDER_TRADE_UPDATE",
        E::TradeLite(_) => "TRADE_LITE",
        E::AlgoUpdate(_) => "ALGO_UPDATE",
        E::MarginCall(_) => "MARGIN_CALL",
        E::AccountConfigUpdate(_) => "ACCOUNT_CONFIG_UPDATE",
        E::ListenKeyExpired(_) => "listenKeyExpired",
        _ => return false,
    };
    (file == typed || file.starts_with(&format!("{typed}_"))) && event.event_type() == typed
}

fn check_vectors(dir: &str, count: usize) -> Vec<(String, FuturesUserEvent)> {
    let files: Vec<_> = json_files(dir)
        .into_iter()
        .filter(|p| !name(p).starts_with("rest_"))
        .collect();
    assert_eq!(files.len(), count, "{dir}: vectors added or removed");
    files
        .iter()
        .map(|path| {
            let event = round_trip(path);
            assert!(expected(&name(path), &event), "{}: {event:?}", name(path));
            assert!(event.event_time().is_some());
            (name(path), event)
        })
        .collect()
}

#[test]
fn usdm_user_vectors_decode_typed_and_encode_back() {
    let events = check_vectors("vectors/futures/user", 8);
    let order = events
        .iter()
        .find_map(|(_, e)| match e {
            FuturesUserEvent::OrderTradeUpdate(o) => Some(o),
            _ => None,
        })
        .unwrap();
    assert_eq!(order.order.execution_type, ExecutionType::New);
    assert_eq!(order.order.order_status, OrderStatus::New);
    assert_eq!(order.order.position_side, PositionSide::Long);
    assert_eq!(order.order.stop_price.to_string(), "7103.04");
    assert_eq!(order.order.margin_asset, None);
    let account = events
        .iter()
        .find_map(|(_, e)| match e {
            FuturesUserEvent::AccountUpdate(a) => Some(a),
            _ => None,
        })
        .unwrap();
    assert_eq!(account.update.reason, AccountUpdateReason::Order);
    assert_eq!(
        account.update.positions[0].margin_type,
        MarginType::Isolated
    );
    assert_eq!(
        account.update.balances[1].balance_change.to_string(),
        "-49.12345678"
    );
}

#[test]
fn coinm_user_vectors_decode_typed_and_encode_back() {
    let events = check_vectors("vectors/coinm/user", 5);
    for (file, event) in &events {
        match event {
            FuturesUserEvent::OrderTradeUpdate(o) => {
                assert_eq!(o.account_alias.as_deref(), Some("SfsR"), "{file}");
                assert_eq!(o.order.margin_asset.as_deref(), Some("BTC"), "{file}");
            }
            FuturesUserEvent::MarginCall(m) => {
                assert_eq!(m.positions[0].margin_type, MarginType::Cross, "{file}");
            }
            _ => {}
        }
    }
}

#[test]
fn unknown_event_types_and_values_decode_without_error() {
    let newer =
        br#"{"e":"NEWER_UPDATE","T":1669262908216,"E":1669262908218,"nu":{"si":176057039}}"#;
    let event = decode_futures_user(newer).unwrap();
    assert!(matches!(event, FuturesUserEvent::Unknown(_)));
    assert_eq!(event.event_type(), "NEWER_UPDATE");
    assert_eq!(event.event_time().map(|t| t.get()), Some(1669262908218));
    assert_eq!(event.to_json(), std::str::from_utf8(newer).unwrap());
    let no_type = decode_futures_user(br#"{"x":1}"#).unwrap();
    assert_eq!(no_type.event_type(), "");
    assert_eq!(no_type.event_time(), None);

    // Values Binance may add later come through as they were sent.
    let later = br#"{"e":"ACCOUNT_UPDATE","E":2,"T":1,"a":{"m":"NEW_REASON","B":[],"P":[{"s":"BTCUSDT","pa":"1","ep":"1","bep":"1","cr":"0","up":"0","mt":"portfolio","iw":"0","ps":"BOTH"}]}}"#;
    let event = decode_futures_user(later).unwrap();
    let FuturesUserEvent::AccountUpdate(update) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(
        update.update.reason,
        AccountUpdateReason::Other("NEW_REASON".into())
    );
    assert_eq!(
        update.update.positions[0].margin_type,
        MarginType::Other("portfolio".into())
    );
    assert_eq!(event.to_json(), std::str::from_utf8(later).unwrap());
}

/// Grid trading's two events, as Binance's docs show them (no vector file
/// has them): typed, and back to the same bytes.
#[test]
fn grid_and_strategy_updates_are_typed() {
    let grid = r#"{"e":"GRID_UPDATE","T":1669262908216,"E":1669262908218,"gu":{"si":176057039,"st":"GRID","ss":"WORKING","s":"BTCUSDT","r":"-0.00300716","up":"16720","uq":"-0.001","uf":"-0.00300716","mp":"0.0","ut":1669262908197}}"#;
    let event = decode_futures_user(grid.as_bytes()).unwrap();
    let FuturesUserEvent::GridUpdate(update) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(update.grid.status, StrategyStatus::Working);
    assert_eq!(update.grid.unmatched_quantity.to_string(), "-0.001");
    assert_eq!(event.event_type(), "GRID_UPDATE");
    assert_eq!(event.to_json(), grid);

    let strategy = r#"{"e":"STRATEGY_UPDATE","T":1669261797627,"E":1669261797628,"su":{"si":176054594,"st":"GRID","ss":"NEW","s":"BTCUSDT","ut":1669261797627,"c":8007}}"#;
    let event = decode_futures_user(strategy.as_bytes()).unwrap();
    let FuturesUserEvent::StrategyUpdate(update) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(
        (update.strategy.status.clone(), update.strategy.op_code),
        (StrategyStatus::New, 8007)
    );
    assert_eq!(event.event_time().map(|t| t.get()), Some(1669261797628));
    assert_eq!(event.to_json(), strategy);
}

#[test]
fn malformed_frames_are_errors_naming_the_problem() {
    // A price that is not a decimal.
    let bad = br#"{"e":"TRADE_LITE","E":1,"T":1,"s":"BTCUSDT","q":"0.001","p":"abc","m":false,"c":"x","S":"BUY","L":"1","l":"1","t":1,"i":1}"#;
    let err = decode_futures_user(bad).unwrap_err();
    assert!(err.to_string().contains("abc"), "{err}");
    // A missing field.
    let err = decode_futures_user(br#"{"e":"MARGIN_CALL","E":1}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `p`"), "{err}");
    // Not JSON at all.
    let err = decode_futures_user(b"{\"e\":").unwrap_err();
    assert!(err.to_string().contains("EOF"), "{err}");
}

#[test]
fn listen_key_never_shows_in_errors() {
    let key = "WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv";
    for frame in [
        format!(r#"{{"stream":"{key}","data":{{"e":"MARGIN_CALL","E":1}}}}"#),
        format!(r#"{{"stream":"{key}","data":{{"e":"#),
    ] {
        let err = decode_futures_user(frame.as_bytes()).unwrap_err();
        assert!(!err.to_string().contains(key), "{err}");
        assert!(!format!("{err:?}").contains(key), "{err:?}");
    }
}

#[test]
fn listen_key_never_shows_in_debug() {
    let bytes = std::fs::read(support::shared().join("vectors/futures/user/listenKeyExpired.json"))
        .unwrap();
    let event = decode_futures_user(&bytes).unwrap();
    assert!(!format!("{event:?}").contains("WsCMN0a4"));
}
