//! USD-M and COIN-M: Binance's own JSON examples (`vectors/futures/`,
//! `vectors/coinm/`, not their `user/` and `control/` folders) and real
//! recorded futures traffic decode typed (never `Unknown`) through
//! `binance_types::futures` and encode back to equal JSON.

mod support;

use std::path::Path;

use binance_types::capture;
use binance_types::frame::Envelope;
use binance_types::futures::{decode_futures, FuturesEvent, FuturesStream};
use serde_json::Value;
use support::json_files;

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Decode one vector; it must be typed and must encode back equal.
fn round_trip(path: &Path) -> FuturesEvent {
    let bytes = std::fs::read(path).unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let frame = decode_futures(&bytes).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    assert_eq!(frame.envelope, Envelope::Raw);
    assert!(
        !matches!(frame.event, FuturesEvent::Unknown(_)),
        "{} decoded as Unknown",
        name(path)
    );
    let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(back, value, "{} did not encode back", name(path));
    // The combined envelope round-trips too.
    let combined = format!(
        r#"{{"stream":"x@y","data":{}}}"#,
        std::str::from_utf8(&bytes).unwrap()
    );
    let wrapped = decode_futures(combined.as_bytes()).unwrap();
    assert_eq!(wrapped.stream(), Some("x@y"));
    assert_eq!(wrapped.event, frame.event, "{}", name(path));
    frame.event
}

fn expected(file: &str, event: &FuturesEvent) -> bool {
    use FuturesEvent as E;
    match file {
        "aggTrade.json" => matches!(event, E::AggTrade(_)),
        "markPriceUpdate.json" => matches!(event, E::MarkPrice(_)),
        "markPriceUpdate_arr.json" | "markPriceUpdate_pair_arr.json" => {
            matches!(event, E::MarkPrices(v) if !v.is_empty())
        }
        "indexPriceUpdate.json" => matches!(event, E::IndexPrice(_)),
        "kline.json" => matches!(event, E::Kline(_)),
        "continuous_kline.json" => matches!(event, E::ContinuousKline(_)),
        "indexPrice_kline.json" => matches!(event, E::IndexPriceKline(_)),
        "markPrice_kline.json" => matches!(event, E::MarkPriceKline(_)),
        "miniTicker.json" => matches!(event, E::MiniTicker(_)),
        "miniTicker_arr.json" => matches!(event, E::MiniTickers(v) if !v.is_empty()),
        "ticker.json" => matches!(event, E::Ticker(_)),
        "ticker_arr.json" => matches!(event, E::Tickers(v) if !v.is_empty()),
        "bookTicker.json" | "bookTicker_all.json" => matches!(event, E::BookTicker(_)),
        "forceOrder.json" | "forceOrder_arr_item.json" => matches!(event, E::ForceOrder(_)),
        "depthUpdate.json" | "depth_partial.json" | "rpiDepthUpdate.json" => {
            matches!(event, E::DepthUpdate(_))
        }
        "compositeIndex.json" => matches!(event, E::CompositeIndex(_)),
        "contractInfo.json" => matches!(event, E::ContractInfo(_)),
        "assetIndexUpdate_arr.json" => matches!(event, E::AssetIndexes(v) if v.len() == 2),
        "tradingSession.json" => matches!(event, E::TradingSession(_)),
        other => panic!("new vector {other}: add it to this test"),
    }
}

fn check_vectors(dir: &str, count: usize) {
    let files = json_files(dir);
    assert_eq!(files.len(), count, "{dir}: vectors added or removed");
    for path in &files {
        let event = round_trip(path);
        assert!(
            expected(&name(path), &event),
            "{dir}/{}: decoded as {event:?}",
            name(path)
        );
    }
}

#[test]
fn usdm_vectors() {
    check_vectors("vectors/futures", 20);
}

#[test]
fn coinm_vectors() {
    check_vectors("vectors/coinm", 17);
}

#[test]
fn typed_values_are_exact() {
    use FuturesEvent as E;
    let dir = support::shared().join("vectors");
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();

    let bytes = read("futures/depthUpdate.json");
    let E::DepthUpdate(d) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    assert_eq!((d.first_update_id, d.final_update_id), (157, 160));
    assert_eq!(d.previous_final_update_id, 149);
    assert_eq!(d.bids[0].price.to_string(), "0.0024");
    assert_eq!(d.pair, None);

    let bytes = read("coinm/depthUpdate.json");
    let E::DepthUpdate(d) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    assert_eq!(d.previous_final_update_id, 17285675);
    assert_eq!(d.pair.as_deref(), Some("BTCUSD"));

    let bytes = read("coinm/markPriceUpdate_pair_arr.json");
    let E::MarkPrices(v) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    assert_eq!(v[0].funding_rate, None, "\"\" for a delivery contract");
    assert_eq!(v[0].next_funding_time.get(), 0);
    assert_eq!(v[1].funding_rate.unwrap().to_string(), "0.00000000");

    let bytes = read("futures/markPriceUpdate.json");
    let E::MarkPrice(m) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    assert_eq!(m.mark_price.to_string(), "11794.15000000");
    assert_eq!(m.mark_price_average.unwrap().to_string(), "11794.15000000");

    let bytes = read("futures/contractInfo.json");
    let E::ContractInfo(c) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    let brackets = c.brackets.as_ref().unwrap();
    assert_eq!(brackets[1].maintenance_margin_ratio.to_string(), "0.025");
    assert_eq!(brackets[1].notional_cap.to_string(), "25000");

    let bytes = read("futures/aggTrade.json");
    let E::AggTrade(a) = decode_futures(&bytes).unwrap().event else {
        panic!()
    };
    assert_eq!(a.normal_quantity.unwrap().to_string(), "100");
}

#[test]
fn control_answers_and_unknown_events() {
    let ok = decode_futures(br#"{"result":null,"id":1}"#).unwrap();
    assert!(matches!(ok.event, FuturesEvent::ControlResponse(_)));
    assert_eq!(ok.to_json(), r#"{"result":null,"id":1}"#);
    let err =
        decode_futures(br#"{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}"#)
            .unwrap();
    assert!(matches!(err.event, FuturesEvent::ControlResponse(_)));
    let unknown = decode_futures(br#"{"e":"somethingNew","E":1,"x":1.50}"#).unwrap();
    let FuturesEvent::Unknown(u) = &unknown.event else {
        panic!()
    };
    assert_eq!(u.event_type().as_deref(), Some("somethingNew"));
    assert_eq!(unknown.to_json(), r#"{"e":"somethingNew","E":1,"x":1.50}"#);
    // Wrong field types are errors, not Unknown.
    assert!(decode_futures(br#"{"e":"aggTrade","E":"soon"}"#).is_err());
    assert!(decode_futures(b"{").is_err());
}

fn check_capture(file: &str) {
    let path = support::shared().join("captures").join(file);
    let capture = capture::read_ws(std::fs::File::open(&path).unwrap())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(capture.frames.len(), lines - 1, "{file}");
    // Every stream named in the URL is a valid futures stream name.
    let streams = capture
        .url
        .split("streams=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    for stream in streams.split('/') {
        let parsed: FuturesStream = stream.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.to_string(), stream);
    }
    let mut counts = std::collections::BTreeMap::new();
    for recorded in &capture.frames {
        let text = recorded.text.as_str();
        let frame = decode_futures(text.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let stream: FuturesStream = frame
            .stream()
            .expect("combined stream frames carry their name")
            .parse()
            .unwrap();
        let kind = match (&frame.event, &stream) {
            (FuturesEvent::DepthUpdate(_), FuturesStream::Depth { .. }) => "depthUpdate",
            (FuturesEvent::BookTicker(_), FuturesStream::BookTicker(_)) => "bookTicker",
            (FuturesEvent::Kline(_), FuturesStream::Kline { .. }) => "kline",
            (FuturesEvent::AggTrade(_), FuturesStream::AggTrade(_)) => "aggTrade",
            (other, _) => panic!("{file}: unexpected {other:?} on {stream}"),
        };
        *counts.entry(kind).or_insert(0) += 1;
        let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig, "{file}: re-encoding changed {text}");
    }
    assert_eq!(counts.len(), 4, "{file}: {counts:?}");
}

#[test]
fn usdm_capture_decodes() {
    check_capture("BINANCE_FUTURES.ws.1.0");
}

#[test]
fn coinm_capture_decodes() {
    check_capture("BINANCE_DELIVERY.ws.1.0");
}

#[test]
fn single_asset_index_and_microsecond_frames() {
    // `<asset>@assetIndex` sends one object: the first item of the array vector.
    let bytes = std::fs::read(
        support::shared()
            .join("vectors")
            .join("futures/assetIndexUpdate_arr.json"),
    )
    .unwrap();
    let items: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let one = serde_json::to_string(&items[0]).unwrap();
    let frame = decode_futures(one.as_bytes()).unwrap();
    let FuturesEvent::AssetIndex(a) = &frame.event else {
        panic!("{:?}", frame.event)
    };
    assert_eq!(a.symbol, "ADAUSD");
    assert_eq!(a.index_price.to_string(), "0.27462452");
    let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(back, items[0]);

    let micros = br#"{"e":"aggTrade","E":1591261134288123,"a":1,"s":"BTCUSD_PERP","p":"9643.5","q":"2","f":2,"l":2,"T":1591261134199456,"m":false}"#;
    let frame = binance_types::futures::decode_futures_micros(micros).unwrap();
    let FuturesEvent::AggTrade(t) = &frame.event else {
        panic!()
    };
    assert_eq!(t.trade_time.as_millis(), 1591261134199);
    assert_eq!(t.normal_quantity, None);
    let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(back, serde_json::from_slice::<Value>(micros).unwrap());
}
