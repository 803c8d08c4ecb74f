//! Options: Binance's own JSON examples (`vectors/options/`) decode typed
//! (never `Unknown`) through `binance_types::options`, raw and combined,
//! and encode back to the same JSON; unknown events stay raw.

mod support;

use std::path::Path;

use binance_types::frame::Envelope;
use binance_types::options::{decode_options, OptionsEvent};
use serde_json::Value;
use support::json_files;

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Decode one vector; it must be typed and must encode back equal.
fn round_trip(path: &Path) -> OptionsEvent {
    let bytes = std::fs::read(path).unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let frame = decode_options(&bytes).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    assert_eq!(frame.envelope, Envelope::Raw);
    assert!(
        !matches!(frame.event, OptionsEvent::Unknown(_)),
        "{} decoded as Unknown",
        name(path)
    );
    let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(back, value, "{} did not encode back", name(path));
    let combined = format!(
        r#"{{"stream":"x@y","data":{}}}"#,
        std::str::from_utf8(&bytes).unwrap()
    );
    let wrapped = decode_options(combined.as_bytes()).unwrap();
    assert_eq!(wrapped.stream(), Some("x@y"));
    assert_eq!(wrapped.event, frame.event, "{}", name(path));
    frame.event
}

fn expected(file: &str, event: &OptionsEvent) -> bool {
    use OptionsEvent as E;
    match file {
        "bookTicker.json" => matches!(event, E::BookTicker(_)),
        "depthUpdate.json" | "depth_partial.json" => {
            matches!(event, E::DepthUpdate(d) if d.previous_final_update_id == 464)
        }
        "indexPrice_arr.json" => matches!(event, E::IndexPrices(v) if v.len() == 2),
        "kline.json" => matches!(event, E::Kline(_)),
        "openInterest_arr.json" => matches!(event, E::OpenInterests(v) if v.len() == 1),
        "optionMarkPrice_arr.json" => matches!(event, E::MarkPrices(v) if v.len() == 2),
        "optionSymbol.json" => matches!(event, E::NewSymbol(_)),
        "optionTicker.json" => matches!(event, E::Ticker(_)),
        "optionTrade.json" => matches!(event, E::Trade(_)),
        other => panic!("new vector {other}: add it to this test"),
    }
}

#[test]
fn options_vectors() {
    let files = json_files("vectors/options");
    assert_eq!(files.len(), 10, "vectors added or removed");
    for path in &files {
        let event = round_trip(path);
        assert!(
            expected(&name(path), &event),
            "{}: decoded as {event:?}",
            name(path)
        );
    }
}

#[test]
fn typed_values_are_exact() {
    let read = |file: &str| {
        let bytes = std::fs::read(support::shared().join("vectors/options").join(file)).unwrap();
        decode_options(&bytes).unwrap().event
    };
    let OptionsEvent::MarkPrices(marks) = read("optionMarkPrice_arr.json") else {
        panic!()
    };
    let first = &marks[0];
    assert_eq!(first.symbol, "BTC-251120-126000-C");
    assert_eq!(first.bid_iv.to_string(), "-1.0");
    assert_eq!(first.estimated_settle_price.to_string(), "0.000");
    assert_eq!(first.gamma.to_string(), "0.00001245");
    assert_eq!(first.vega.to_string(), "30.63855919");
    let OptionsEvent::Trade(trade) = read("optionTrade.json") else {
        panic!()
    };
    assert_eq!(
        (trade.price.to_string(), trade.quantity.to_string()),
        ("1300.000".into(), "0.1000".into())
    );
    let OptionsEvent::NewSymbol(symbol) = read("optionSymbol.json") else {
        panic!()
    };
    assert_eq!(symbol.strike_price.to_string(), "21000");
    assert_eq!(symbol.delivery_time.get(), 4133404800000);
    let OptionsEvent::OpenInterests(oi) = read("openInterest_arr.json") else {
        panic!()
    };
    assert_eq!(oi[0].open_interest_value.to_string(), "1912992.178168204");
}

#[test]
fn unknown_events_stay_raw_and_control_answers_are_typed() {
    let text = r#"{"e":"blockTrade","E":1,"s":"BTC-251226-110000-C"}"#;
    let frame = decode_options(text.as_bytes()).unwrap();
    assert!(matches!(frame.event, OptionsEvent::Unknown(_)));
    assert_eq!(frame.to_json(), text);
    let array = r#"[{"e":"somethingNew","E":1}]"#;
    let frame = decode_options(array.as_bytes()).unwrap();
    assert!(matches!(frame.event, OptionsEvent::Unknown(_)));
    assert_eq!(frame.to_json(), array);
    let answer = decode_options(br#"{"result":null,"id":3}"#).unwrap();
    assert!(matches!(answer.event, OptionsEvent::ControlResponse(_)));
    let err = decode_options(br#"{"e":"trade","E":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("trade") || !err.to_string().is_empty());
}

/// Binance's documented `GET /eapi/v1/depth` answer names its update id
/// `u` (and adds `T`); it reads as a depth snapshot like the others.
#[test]
fn the_options_rest_snapshot_reads_as_a_depth_snapshot() {
    let text = r#"{"T":1589436922972,"u":37461,"bids":[["1000","0.9"]],"asks":[["1100","0.1"]]}"#;
    let snapshot: binance_types::market::DepthSnapshot = serde_json::from_str(text).unwrap();
    assert_eq!(snapshot.last_update_id, 37461);
    assert_eq!(snapshot.bids[0].price.to_string(), "1000");
    let futures = r#"{"lastUpdateId":7,"E":1,"T":1,"bids":[],"asks":[]}"#;
    let snapshot: binance_types::market::DepthSnapshot = serde_json::from_str(futures).unwrap();
    assert_eq!(snapshot.last_update_id, 7);
}
