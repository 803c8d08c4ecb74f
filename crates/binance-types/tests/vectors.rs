//! Binance's own JSON examples decode into their typed form (never
//! `Unknown`) and encode back to equal JSON.

mod support;

use std::path::Path;

use binance_types::control::{ControlRequest, ControlResponse};
use binance_types::frame::{self, Envelope};
use binance_types::user::ListenKeyResponse;
use binance_types::wsapi::{WsApiRequest, WsApiResponse};
use binance_types::{sign, Event};
use serde_json::Value;
use support::json_files;

fn read(path: &Path) -> (Vec<u8>, Value) {
    let bytes = std::fs::read(path).unwrap();
    let value = serde_json::from_slice(&bytes).unwrap();
    (bytes, value)
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Decode as a frame; must be typed and must encode back equal.
fn frame_round_trip(path: &Path) -> Event {
    let (bytes, value) = read(path);
    let frame = frame::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    assert!(
        !matches!(frame.event, Event::Unknown(_)),
        "{} decoded as Unknown",
        name(path)
    );
    let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(back, value, "{} did not encode back", name(path));
    frame.event
}

fn typed_round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(path: &Path) -> T {
    let (bytes, value) = read(path);
    let typed: T = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", name(path)));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        value,
        "{}",
        name(path)
    );
    typed
}

#[test]
fn spot_market_vectors() {
    let files = json_files("vectors/spot");
    for path in &files {
        let event = frame_round_trip(path);
        let expect = match name(path).as_str() {
            "aggTrade.json" => matches!(event, Event::AggTrade(_)),
            "trade.json" => matches!(event, Event::Trade(_)),
            "blockTrade.json" => matches!(event, Event::BlockTrade(_)),
            "referencePrice.json" => matches!(event, Event::ReferencePrice(_)),
            "kline.json" | "kline_utc8.json" => matches!(event, Event::Kline(_)),
            "miniTicker.json" => matches!(event, Event::MiniTicker(_)),
            "miniTicker_arr.json" => matches!(event, Event::MiniTickers(_)),
            "ticker.json" => matches!(event, Event::Ticker(_)),
            "ticker_arr_RETIRED.json" => matches!(event, Event::Tickers(_)),
            "ticker_1h.json" => matches!(event, Event::RollingTicker(_)),
            "ticker_window_arr.json" => matches!(event, Event::RollingTickers(_)),
            "bookTicker.json" => matches!(event, Event::BookTicker(_)),
            "avgPrice.json" => matches!(event, Event::AvgPrice(_)),
            "depth_partial.json" | "rest_depth_snapshot.json" => {
                matches!(event, Event::PartialDepth(_))
            }
            "depthUpdate.json" => matches!(event, Event::DepthUpdate(_)),
            "serverShutdown.json" | "serverShutdown_combined.json" => {
                matches!(event, Event::ServerShutdown(_))
            }
            other => panic!("no expectation for new vector {other}"),
        };
        assert!(expect, "{} decoded as {event:?}", name(path));
    }
    assert_eq!(files.len(), 19);
}

#[test]
fn combined_shutdown_keeps_its_stream() {
    let bytes =
        std::fs::read(support::shared().join("vectors/spot/serverShutdown_combined.json")).unwrap();
    let frame = frame::decode(&bytes).unwrap();
    assert_eq!(frame.stream(), Some("!serverShutdown"));
}

#[test]
fn spot_control_vectors() {
    for path in json_files("vectors/spot/control") {
        let file = name(&path);
        if file.ends_with("_request.json") {
            typed_round_trip::<ControlRequest>(&path);
        } else if file.ends_with("_response.json") {
            let event = frame_round_trip(&path);
            assert!(matches!(event, Event::ControlResponse(_)), "{file}");
        } else {
            assert_eq!(file, "errors_documented.json");
            let (_, rows) = read(&path);
            for row in rows.as_array().unwrap() {
                let text = row["documented"].as_str().unwrap().replace("%s", "1");
                let response: ControlResponse =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                let err = response.result.unwrap_err();
                let documented: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(err.code, documented["code"].as_i64().unwrap());
                assert_eq!(err.msg, documented["msg"].as_str().unwrap());
            }
        }
    }
}

#[test]
fn user_vectors_bare_and_wrapped() {
    for dir in ["vectors/user", "vectors/user/wsapi"] {
        for path in json_files(dir) {
            let event = frame_round_trip(&path);
            let e = serde_json::to_value(&event).unwrap()["e"]
                .as_str()
                .unwrap()
                .to_owned();
            let ok = match e.as_str() {
                "outboundAccountPosition" => matches!(event, Event::OutboundAccountPosition(_)),
                "balanceUpdate" => matches!(event, Event::BalanceUpdate(_)),
                "executionReport" => matches!(event, Event::ExecutionReport(_)),
                "listStatus" => matches!(event, Event::ListStatus(_)),
                "listenKeyExpired" => matches!(event, Event::ListenKeyExpired(_)),
                "externalLockUpdate" => matches!(event, Event::ExternalLockUpdate(_)),
                "eventStreamTerminated" => matches!(event, Event::EventStreamTerminated(_)),
                _ => false,
            };
            assert!(ok, "{dir}/{}: {event:?}", name(&path));
        }
    }
    let wrapped =
        std::fs::read(support::shared().join("vectors/user/wsapi/executionReport.json")).unwrap();
    assert_eq!(frame::decode(&wrapped).unwrap().subscription_id(), Some(0));
}

#[test]
fn user_rest_vectors() {
    for path in json_files("vectors/user/rest") {
        let typed = typed_round_trip::<ListenKeyResponse>(&path);
        assert_eq!(typed.listen_key.is_some(), name(&path).starts_with("post"));
        assert!(
            !format!("{typed:?}").contains("pqia91"),
            "Debug shows the key"
        );
    }
}

#[test]
fn wsapi_vectors() {
    for path in json_files("vectors/wsapi") {
        let file = name(&path);
        if file.ends_with("_request.json") || file == "request_example.json" {
            let req = typed_round_trip::<WsApiRequest>(&path);
            let debug = format!("{req:?}");
            for secret in [
                "vmPUZE6", "mjcKCrJz", "T59MTDL", "yN1vWpXb", "1cf54395", "5942ad33",
            ] {
                assert!(
                    !debug.contains(secret),
                    "{file}: Debug shows a credential: {debug}"
                );
            }
        } else if file == "signing_hmac_examples.json" {
            let (_, rows) = read(&path);
            for row in rows.as_array().unwrap() {
                let secret = row["secretKey"].as_str().unwrap();
                let payload = row["payload"].as_str().unwrap();
                assert_eq!(
                    sign::hmac_sha256_hex(secret.as_bytes(), payload.as_bytes()),
                    row["signature"].as_str().unwrap()
                );
            }
        } else {
            let event = frame_round_trip(&path);
            match file.as_str() {
                "event_example.json" => assert!(matches!(event, Event::OutboundAccountPosition(_))),
                "serverShutdown.json" => assert!(matches!(event, Event::ServerShutdown(_))),
                _ => {
                    let Event::ApiResponse(resp) = &event else {
                        panic!("{file}: {event:?}")
                    };
                    assert!(
                        !format!("{resp:?}").contains("vmPUZE6"),
                        "{file}: Debug shows the API key"
                    );
                }
            }
        }
    }
}

#[test]
fn retired_wsapi_vectors() {
    for path in json_files("vectors/wsapi/retired") {
        let (bytes, mut value) = read(&path);
        if name(&path).ends_with("_request.json") {
            typed_round_trip::<WsApiRequest>(&path);
            continue;
        }
        let typed: WsApiResponse = serde_json::from_slice(&bytes).unwrap();
        // The old docs' `response` key is read as `result` and written as `result`.
        if let Some(v) = value.as_object_mut().unwrap().remove("response") {
            value["result"] = v;
        }
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            value,
            "{}",
            name(&path)
        );
        let frame = frame::decode(&bytes).unwrap();
        assert!(matches!(frame.event, Event::ApiResponse(_)));
        assert_eq!(frame.envelope, Envelope::Raw);
    }
}
