//! The conformance walk: every REST endpoint and WebSocket API method the
//! simulator serves, and every stream frame kind, answered and compared
//! with Binance's own example (`shared/vectors`, `tests/vectors/rest`) or
//! recording (`shared/captures`): keys, their order, and value types.
//!
//! The routes and methods are read from the simulator's source, so an
//! endpoint added without an entry here fails `every_endpoint_is_walked`.

mod support;

use std::collections::BTreeSet;

use binance_sim::{AccountSpec, Sim, SimConfig, Wallet};
use binance_types::sign::hmac_sha256_hex;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::*;

/// Keys in order and value types, recursively (arrays by their first
/// element): two values agree when Binance's example and the simulator's
/// answer have the same fields in the same order.
fn ordered(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Array(m.iter().map(|(k, v)| json!([k, ordered(v)])).collect()),
        other => shape(other),
    }
}

/// `(METHOD, path)` of every route in the simulator's REST sources.
fn served_routes() -> BTreeSet<(String, String)> {
    let sources = [
        include_str!("../src/rest.rs"),
        include_str!("../src/rest_ticker.rs"),
        include_str!("../src/rest_user.rs"),
    ];
    let mut out = BTreeSet::new();
    for source in sources {
        for part in source.split(".route(").skip(1) {
            let path = part.split('"').nth(1).unwrap_or_default();
            let handlers = part.split(".route(").next().unwrap_or_default();
            let handlers = handlers.split(".merge(").next().unwrap_or_default();
            // The last route of a file ends with its function.
            let handlers = handlers.split("\n}").next().unwrap_or_default();
            for method in ["get", "post", "put", "delete"] {
                if handlers.contains(&format!("{method}(")) {
                    out.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    out
}

/// The method names the WebSocket API answers, from its source.
fn served_methods() -> BTreeSet<String> {
    let source = include_str!("../src/wsapi.rs");
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let line = line.trim();
        // Match arms: `"name" => …` and `"a" | "b" => …`.
        if line.starts_with('"') && line.contains("=>") {
            let arm = line.split("=>").next().unwrap();
            for name in arm.split('|') {
                let name = name.trim().trim_matches('"');
                if !name.starts_with('/') && !name.is_empty() {
                    out.insert(name.to_owned());
                }
            }
        }
    }
    out
}

const KEY: &str = "conformance-key";
const SECRET: &str = "conformance-secret";

/// The REST walk: (method, path, query, expected status, Binance's example).
fn rest_walk() -> Vec<(&'static str, &'static str, String, u16, Value)> {
    let rest = rest_vector;
    let order_full = {
        let mut v = any_vector("wsapi/response_success.json")["result"].clone();
        v["fills"] = json!([]);
        v
    };
    let resting = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=40000&quantity=0.001";
    let gone = Value::Null;
    vec![
        ("GET", "/api/v3/ping", String::new(), 200, rest("ping.json")),
        ("GET", "/api/v3/time", String::new(), 200, rest("time.json")),
        ("GET", "/api/v3/exchangeInfo", String::new(), 200, Value::Null),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT".into(), 200, vector("rest_depth_snapshot.json")),
        ("GET", "/api/v3/trades", "symbol=BTCUSDT".into(), 200, rest("trades.json")),
        ("GET", "/api/v3/historicalTrades", "symbol=BTCUSDT".into(), 200, rest("trades.json")),
        ("GET", "/api/v3/aggTrades", "symbol=BTCUSDT".into(), 200, rest("aggTrades.json")),
        ("GET", "/api/v3/klines", "symbol=BTCUSDT&interval=1s".into(), 200, rest("klines.json")),
        ("GET", "/api/v3/uiKlines", "symbol=BTCUSDT&interval=1s".into(), 200, rest("klines.json")),
        ("GET", "/api/v3/ticker/24hr", "symbol=BTCUSDT".into(), 200, rest("ticker_24hr.json")),
        ("GET", "/api/v3/ticker/price", "symbol=BTCUSDT".into(), 200, rest("ticker_price.json")),
        ("GET", "/api/v3/ticker/bookTicker", "symbol=BTCUSDT".into(), 200, rest("ticker_bookTicker.json")),
        ("GET", "/api/v3/ticker", "symbol=BTCUSDT".into(), 200, rest("ticker_rolling.json")),
        ("GET", "/api/v3/avgPrice", "symbol=BTCUSDT".into(), 200, rest("avgPrice.json")),
        // Retired on 2026-02-20: 410 Gone, as observed (reference §8).
        ("GET", "/api/v3/userDataStream", String::new(), 410, gone.clone()),
        ("POST", "/api/v3/userDataStream", String::new(), 410, gone.clone()),
        ("PUT", "/api/v3/userDataStream", String::new(), 410, gone.clone()),
        ("DELETE", "/api/v3/userDataStream", String::new(), 410, gone),
        // Signed, in an order that leaves something to find each time.
        ("POST", "/api/v3/order", resting.into(), 200, order_full.clone()),
        ("GET", "/api/v3/order", "symbol=BTCUSDT&orderId=ID".into(), 200, rest("order.json")),
        ("GET", "/api/v3/openOrders", "symbol=BTCUSDT".into(), 200, json!([rest("order.json")])),
        ("GET", "/api/v3/allOrders", "symbol=BTCUSDT".into(), 200, json!([rest("order.json")])),
        (
            "POST",
            "/api/v3/order/cancelReplace",
            format!("{resting}&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId=ID&newOrderRespType=FULL"),
            200,
            json!({"cancelResult": "", "newOrderResult": "", "cancelResponse": rest("cancel_order.json"),
                   "newOrderResponse": order_full.clone()}),
        ),
        ("DELETE", "/api/v3/order", "symbol=BTCUSDT&orderId=ID".into(), 200, rest("cancel_order.json")),
        ("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001".into(), 200, Value::Null),
        ("GET", "/api/v3/myTrades", "symbol=BTCUSDT".into(), 200, rest("myTrades.json")),
        ("POST", "/api/v3/order", resting.into(), 200, Value::Null),
        ("DELETE", "/api/v3/openOrders", "symbol=BTCUSDT".into(), 200, json!([rest("cancel_order.json")])),
        ("GET", "/api/v3/account", String::new(), 200, rest("account.json")),
        (
            "POST",
            "/sapi/v1/margin/order",
            format!("{resting}&newOrderRespType=ACK"),
            200,
            rest("margin_order_ack.json"),
        ),
        ("DELETE", "/sapi/v1/margin/order", "symbol=BTCUSDT&orderId=ID".into(), 200, rest("margin_cancel_order.json")),
        ("POST", "/sapi/v1/userListenToken", String::new(), 200, rest("user_listen_token.json")),
    ]
}

#[test]
fn every_endpoint_is_walked() {
    let walked: BTreeSet<(String, String)> = rest_walk()
        .into_iter()
        .map(|(m, p, ..)| (m.to_owned(), p.to_owned()))
        .collect();
    let served = served_routes();
    assert!(served.len() > 25, "the route scan found {served:?}");
    let missing: Vec<_> = served.difference(&walked).collect();
    assert!(
        missing.is_empty(),
        "served without a Binance example in the walk: {missing:?}"
    );
    let methods = served_methods();
    let walked: BTreeSet<String> = ws_api_walk()
        .into_iter()
        .map(|(m, ..)| m.to_owned())
        .collect();
    let missing: Vec<_> = methods.difference(&walked).collect();
    assert!(
        missing.is_empty(),
        "WebSocket API methods without a Binance example: {missing:?}"
    );
    let forms: BTreeSet<&str> = binance_types::stream::VALID_FORMS.split(", ").collect();
    let walked: BTreeSet<&str> = stream_walk().into_iter().map(|(form, ..)| form).collect();
    assert_eq!(forms, walked, "stream forms and the stream walk differ");
}

/// The stream walk: (form in `VALID_FORMS`, a stream of that form, Binance's
/// example of its frame; `None` for a stream the simulator refuses).
fn stream_walk() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let v = |name: &str| Some(vector(name));
    vec![
        ("<symbol>@trade", "btcusdt@trade", v("trade.json")),
        ("<symbol>@aggTrade", "btcusdt@aggTrade", v("aggTrade.json")),
        // The engine makes no block trades: refused, saying so.
        ("<symbol>@blockTrade", "btcusdt@blockTrade", None),
        ("<symbol>@referencePrice", "btcusdt@referencePrice", v("referencePrice.json")),
        (
            "<symbol>@kline_<interval>[@+08:00] (interval: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M)",
            "btcusdt@kline_1s@+08:00",
            v("kline_utc8.json"),
        ),
        ("<symbol>@depth[@100ms]", "btcusdt@depth@100ms", v("depthUpdate.json")),
        ("<symbol>@depth<5|10|20>[@100ms]", "btcusdt@depth5@100ms", v("depth_partial.json")),
        ("<symbol>@miniTicker", "btcusdt@miniTicker", v("miniTicker.json")),
        ("!miniTicker@arr", "!miniTicker@arr", v("miniTicker_arr.json")),
        ("<symbol>@ticker", "btcusdt@ticker", v("ticker.json")),
        ("<symbol>@ticker_<1h|4h|1d>", "btcusdt@ticker_1h", v("ticker_1h.json")),
        ("!ticker_<1h|4h|1d>@arr", "!ticker_1h@arr", v("ticker_window_arr.json")),
        ("<symbol>@bookTicker", "btcusdt@bookTicker", v("bookTicker.json")),
        ("<symbol>@avgPrice", "btcusdt@avgPrice", v("avgPrice.json")),
    ]
}

#[tokio::test]
async fn stream_frames_match_binances_examples() {
    let sim = sim().await;
    let walk = stream_walk();
    let served: Vec<&str> = walk.iter().filter(|w| w.2.is_some()).map(|w| w.1).collect();
    let mut ws = connect(&format!(
        "{}/stream?streams={}",
        sim.ws_url(),
        served.join("/")
    ))
    .await;
    let mut seen = BTreeSet::new();
    while seen.len() < served.len() {
        let frame = next_json(&mut ws).await;
        let stream = frame["stream"].as_str().unwrap().to_owned();
        let (_, _, example) = walk.iter().find(|w| w.1 == stream).unwrap();
        let example = example.as_ref().unwrap();
        assert_eq!(
            ordered(&frame["data"]),
            ordered(example),
            "{stream}: {frame}"
        );
        seen.insert(stream);
    }
    for (_, stream, example) in &walk {
        if example.is_none() {
            let url = format!("{}/ws/{stream}", sim.ws_url());
            let refused = tokio_tungstenite::connect_async(url).await.unwrap_err();
            assert!(refused.to_string().contains("400"), "{stream}: {refused}");
        }
    }
}

#[tokio::test]
async fn rest_answers_match_binances_examples() {
    let sim = Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac(KEY, SECRET)
            .balance(Wallet::Spot, "USDT", Decimal::from(1_000_000))
            .balance(Wallet::Margin, "USDT", Decimal::from(1_000_000))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    while sim.trades("BTCUSDT").is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let key = [("X-MBX-APIKEY", KEY)];
    let mut last_order = 0;
    for (method, path, query, status, example) in rest_walk() {
        let query = query.replace("ID", &last_order.to_string());
        let signed =
            path.starts_with("/sapi") || (path.starts_with("/api/v3/") && is_signed(method, path));
        let url = match signed {
            true => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                let query = format!("{query}&timestamp={now}")
                    .trim_start_matches('&')
                    .to_owned();
                let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
                format!("{}{path}?{query}&signature={signature}", sim.rest_url())
            }
            false => format!("{}{path}?{query}", sim.rest_url()),
        };
        let (got, _, body) = http_with(method, &url, &key).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        if status != 200 {
            continue;
        }
        let answer: Value = serde_json::from_str(&body).unwrap();
        if let Some(id) = answer["orderId"].as_u64() {
            last_order = id;
        }
        if let Some(id) = answer["newOrderResponse"]["orderId"].as_u64() {
            last_order = id;
        }
        if !example.is_null() {
            assert_eq!(
                ordered(&answer),
                ordered(&example),
                "{method} {path}: {body}"
            );
        }
    }
    // exchangeInfo against Binance's recording.
    let capture = std::fs::read_to_string(shared().join("captures/BINANCE.0")).unwrap();
    let binance: Value =
        serde_json::from_str(capture.lines().next().unwrap().split_once(": ").unwrap().1).unwrap();
    let ours = get_json(&format!("{}/api/v3/exchangeInfo", sim.rest_url())).await;
    assert_eq!(ordered(&ours), ordered(&binance));
}

fn is_signed(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        (
            _,
            "/api/v3/order" | "/api/v3/openOrders" | "/api/v3/allOrders" | "/api/v3/myTrades"
        ) | (_, "/api/v3/account" | "/api/v3/order/cancelReplace")
    )
}

/// The WebSocket API walk: (method, params, signed, Binance's example of `result`).
fn ws_api_walk() -> Vec<(&'static str, Value, bool, Value)> {
    let rest = rest_vector;
    let result = |name: &str| any_vector(&format!("wsapi/{name}"))["result"].clone();
    let btc = json!({"symbol": "BTCUSDT"});
    let resting = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "timeInForce": "GTC", "price": "40000", "quantity": "0.001"});
    let mut replace = resting.clone();
    replace["cancelReplaceMode"] = "STOP_ON_FAILURE".into();
    replace["cancelOrderId"] = "ID".into();
    let order_full = {
        let mut v = result("response_success.json");
        v["fills"] = json!([]);
        v
    };
    let retired = Value::Null;
    vec![
        ("ping", json!({}), false, rest("ping.json")),
        ("time", json!({}), false, rest("time.json")),
        (
            "depth",
            btc.clone(),
            false,
            vector("rest_depth_snapshot.json"),
        ),
        // Checked against the recording in the REST walk.
        ("exchangeInfo", btc.clone(), false, Value::Null),
        (
            "ticker.price",
            btc.clone(),
            false,
            rest("ticker_price.json"),
        ),
        (
            "ticker.book",
            btc.clone(),
            false,
            rest("ticker_bookTicker.json"),
        ),
        ("ticker.24hr", btc.clone(), false, rest("ticker_24hr.json")),
        ("ticker", btc.clone(), false, rest("ticker_rolling.json")),
        ("avgPrice", btc.clone(), false, rest("avgPrice.json")),
        (
            "klines",
            json!({"symbol": "BTCUSDT", "interval": "1s"}),
            false,
            rest("klines.json"),
        ),
        (
            "uiKlines",
            json!({"symbol": "BTCUSDT", "interval": "1s"}),
            false,
            rest("klines.json"),
        ),
        ("trades.recent", btc.clone(), false, rest("trades.json")),
        ("trades.historical", btc.clone(), false, rest("trades.json")),
        (
            "trades.aggregate",
            btc.clone(),
            false,
            rest("aggTrades.json"),
        ),
        (
            "session.status",
            json!({}),
            false,
            // Not logged on: `apiKey` and `authorizedSince` are null (Binance's docs).
            {
                let mut v = result("session.status_response.json");
                v["apiKey"] = Value::Null;
                v["authorizedSince"] = Value::Null;
                v
            },
        ),
        (
            "userDataStream.subscribe.signature",
            json!({}),
            true,
            result("userDataStream.subscribe.signature_response.json"),
        ),
        (
            "session.subscriptions",
            json!({}),
            false,
            result("session.subscriptions_response.json"),
        ),
        (
            "userDataStream.unsubscribe",
            json!({}),
            false,
            result("userDataStream.unsubscribe_response.json"),
        ),
        ("order.place", resting.clone(), true, order_full.clone()),
        (
            "order.status",
            json!({"symbol": "BTCUSDT", "orderId": "ID"}),
            true,
            rest("order.json"),
        ),
        (
            "openOrders.status",
            btc.clone(),
            true,
            json!([rest("order.json")]),
        ),
        ("allOrders", btc.clone(), true, json!([rest("order.json")])),
        (
            "order.cancelReplace",
            replace,
            true,
            json!({"cancelResult": "", "newOrderResult": "",
            "cancelResponse": rest("cancel_order.json"), "newOrderResponse": order_full}),
        ),
        (
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": "ID"}),
            true,
            rest("cancel_order.json"),
        ),
        ("order.place", resting, true, Value::Null),
        (
            "openOrders.cancelAll",
            btc.clone(),
            true,
            json!([rest("cancel_order.json")]),
        ),
        // No trade of this session's orders yet; the REST walk checks the layout.
        ("myTrades", btc.clone(), true, Value::Null),
        ("account.status", json!({}), true, rest("account.json")),
        // Methods that need another session kind or key; their answers are
        // checked in tests/user.rs against the same vectors.
        ("session.logon", json!({}), true, retired.clone()),
        (
            "session.logout",
            json!({}),
            false,
            result("session.logout_response.json"),
        ),
        (
            "userDataStream.subscribe",
            json!({}),
            false,
            retired.clone(),
        ),
        (
            "userDataStream.subscribe.listenToken",
            json!({"listenToken": "none"}),
            false,
            retired.clone(),
        ),
        // Retired by Binance: answered with an error.
        ("userDataStream.start", json!({}), false, retired.clone()),
        ("userDataStream.ping", json!({}), false, retired.clone()),
        ("userDataStream.stop", json!({}), false, retired),
    ]
}

#[tokio::test]
async fn ws_api_answers_match_binances_examples() {
    let sim = Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac(KEY, SECRET).balance(
            Wallet::Spot,
            "USDT",
            Decimal::from(1_000_000),
        )],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    while sim.trades("BTCUSDT").is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut ws = connect(&sim.ws_api_url()).await;
    let mut last_order = 0u64;
    for (i, (method, mut params, signed, example)) in ws_api_walk().into_iter().enumerate() {
        for v in params.as_object_mut().unwrap().values_mut() {
            if v == "ID" {
                *v = last_order.into();
            }
        }
        if signed {
            let map = params.as_object_mut().unwrap();
            map.insert("apiKey".into(), KEY.into());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            map.insert("timestamp".into(), now.into());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let payload: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{k}={}",
                        map[*k].as_str().map_or(map[*k].to_string(), str::to_owned)
                    )
                })
                .collect();
            let signature = hmac_sha256_hex(SECRET.as_bytes(), payload.join("&").as_bytes());
            map.insert("signature".into(), signature.into());
        }
        let reply = request(
            &mut ws,
            json!({"id": i, "method": method, "params": params}),
        )
        .await;
        let result = &reply["result"];
        if let Some(id) = result["orderId"]
            .as_u64()
            .or(result["newOrderResponse"]["orderId"].as_u64())
        {
            last_order = id;
        }
        if !example.is_null() {
            assert_eq!(reply["status"], 200, "{method}: {reply}");
            assert_eq!(ordered(result), ordered(&example), "{method}: {reply}");
        }
    }
}
