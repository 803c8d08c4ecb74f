//! The simulator's accounts, WebSocket API and signed REST, seen by a plain
//! tokio-tungstenite client and a plain HTTP client: Binance's answers,
//! Binance's errors, Binance's event shapes.

mod support;

use std::time::Duration;

use binance_sim::{AccountSpec, MarketConfig, Sim, SimConfig, Wallet};
use binance_types::sign::hmac_sha256_hex;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::{
    any_vector, call, connect, error_code, http_with, next_json, now_ms as now, request, shape,
    ws_signed, Ws,
};

const KEY: &str = "sim-test-key";
const SECRET: &str = "sim-test-secret";

async fn sim(token_validity: Duration) -> Sim {
    Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 100,
            ..MarketConfig::default()
        },
        accounts: vec![AccountSpec::hmac(KEY, SECRET)
            .balance(Wallet::Spot, "USDT", Decimal::from(50_000))
            .balance(Wallet::Spot, "BTC", Decimal::ONE)],
        max_listen_token_validity: token_validity,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// WebSocket API params signed with HMAC (sorted, `k=v&…`).
fn signed(params: Value, secret: &str) -> Value {
    ws_signed(params, KEY, secret)
}

#[tokio::test]
async fn user_data_methods_answer_as_binance_does() {
    let sim = sim(Duration::from_secs(3600)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    let reply = call(
        &mut ws,
        1,
        "userDataStream.subscribe.signature",
        signed(json!({}), SECRET),
    )
    .await;
    let vector = any_vector("wsapi/userDataStream.subscribe.signature_response.json");
    assert_eq!(reply["result"], vector["result"], "{reply}");
    assert_eq!(
        (reply["id"].clone(), reply["status"].clone()),
        (json!(1), json!(200))
    );
    assert_eq!(reply["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
    // One subscription per account per connection.
    let again = call(
        &mut ws,
        2,
        "userDataStream.subscribe.signature",
        signed(json!({}), SECRET),
    )
    .await;
    assert_eq!(error_code(&again), (400, -2035));
    let list = call(&mut ws, 3, "session.subscriptions", json!({})).await;
    let vector = any_vector("wsapi/session.subscriptions_response.json");
    assert_eq!(list["result"], json!([vector["result"][0]]));

    // A deposit reaches the subscription in Binance's wrapping.
    sim.accounts()
        .deposit(KEY, &Wallet::Spot, "BTC", Decimal::new(5, 1));
    let event = next_json(&mut ws).await;
    assert_eq!(
        shape(&event),
        shape(&any_vector("user/wsapi/balanceUpdate.json")),
        "{event}"
    );
    assert_eq!(event["event"]["d"], "0.50000000");
    let position = next_json(&mut ws).await;
    assert_eq!(
        shape(&position),
        shape(&any_vector("user/wsapi/outboundAccountPosition.json")),
        "{position}"
    );

    // Unsubscribing answers {}, and the subscription ends with eventStreamTerminated.
    ws_send(
        &mut ws,
        json!({"id": 4, "method": "userDataStream.unsubscribe"}),
    )
    .await;
    let reply = next_json(&mut ws).await;
    assert_eq!(
        reply["result"],
        any_vector("wsapi/userDataStream.unsubscribe_response.json")["result"]
    );
    let ended = next_json(&mut ws).await;
    assert_eq!(
        shape(&ended),
        shape(&any_vector("user/wsapi/eventStreamTerminated.json"))
    );
    let list = call(&mut ws, 5, "session.subscriptions", json!({})).await;
    assert_eq!(list["result"], json!([]));
}

async fn ws_send(ws: &mut Ws, v: Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        v.to_string().into(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn signed_requests_are_checked_like_binance() {
    let sim = sim(Duration::from_secs(3600)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    let method = "userDataStream.subscribe.signature";
    let cases = [
        ("bad signature", signed(json!({}), "wrong"), (400, -1022)),
        (
            "unknown key",
            signed(json!({"apiKey": "nobody"}), SECRET),
            (401, -2015),
        ),
        (
            "stale timestamp",
            signed(json!({"timestamp": now() - 10_000}), SECRET),
            (400, -1021),
        ),
        (
            "future timestamp",
            signed(json!({"timestamp": now() + 5_000}), SECRET),
            (400, -1021),
        ),
        (
            "recvWindow too big",
            signed(json!({"recvWindow": 70_000}), SECRET),
            (400, -1131),
        ),
        (
            "no signature",
            json!({"apiKey": KEY, "timestamp": now()}),
            (400, -1102),
        ),
        (
            "no timestamp",
            json!({"apiKey": KEY, "signature": "00"}),
            (400, -1102),
        ),
    ];
    for (i, (name, params, want)) in cases.into_iter().enumerate() {
        let reply = call(&mut ws, 10 + i as u64, method, params).await;
        assert_eq!(error_code(&reply), want, "{name}: {reply}");
    }
    // A wide recvWindow accepts an older timestamp.
    let reply = call(
        &mut ws,
        30,
        method,
        signed(
            json!({"timestamp": now() - 10_000, "recvWindow": 20_000}),
            SECRET,
        ),
    )
    .await;
    assert_eq!(reply["status"], 200, "{reply}");
    // Logon is for Ed25519 keys; subscribing without it is refused.
    let reply = call(&mut ws, 31, "session.logon", signed(json!({}), SECRET)).await;
    assert_eq!(error_code(&reply).1, -4056, "{reply}");
    let reply = request(
        &mut ws,
        json!({"id": 32, "method": "userDataStream.subscribe"}),
    )
    .await;
    assert_eq!(error_code(&reply).1, -2015, "{reply}");
    let reply = call(
        &mut ws,
        33,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": "made-up"}),
    )
    .await;
    assert_eq!(error_code(&reply), (400, -1209));
    let reply = request(
        &mut ws,
        json!({"id": 34, "method": "userDataStream.start", "params": {"apiKey": KEY}}),
    )
    .await;
    assert!(
        reply["error"]["msg"].as_str().unwrap().contains("retired"),
        "{reply}"
    );
}

#[tokio::test]
async fn execution_reports_have_binances_shape() {
    let sim = sim(Duration::from_secs(3600)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    call(
        &mut ws,
        1,
        "userDataStream.subscribe.signature",
        signed(json!({}), SECRET),
    )
    .await;
    let params = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "20000.00", "quantity": "0.01000"});
    let placed = call(&mut ws, 2, "order.place", signed(params, SECRET)).await;
    let vector = any_vector("wsapi/response_success.json");
    let mut expected = shape(&vector["result"]);
    expected["fills"] = json!([]);
    assert_eq!(shape(&placed["result"]), expected, "{placed}");
    let report = next_json(&mut ws).await;
    let mut want = shape(&any_vector("user/wsapi/executionReport.json"));
    // `v` (prevented match id) comes only with self-trade prevention.
    want["event"].as_object_mut().unwrap().remove("v");
    assert_eq!(shape(&report), want, "{report}");
    assert_eq!(report["event"]["x"], "NEW");
    // Money locked: 20000 × 0.01.
    let position = next_json(&mut ws).await;
    let usdt = position["event"]["B"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["a"] == "USDT")
        .unwrap()
        .clone();
    assert_eq!(
        (usdt["f"].clone(), usdt["l"].clone()),
        (json!("49800.00000000"), json!("200.00000000"))
    );
    // Unknown order.
    let reply = call(
        &mut ws,
        3,
        "order.cancel",
        signed(json!({"symbol": "BTCUSDT", "orderId": 1}), SECRET),
    )
    .await;
    assert_eq!(error_code(&reply), (400, -2011));
}

#[tokio::test]
async fn signed_rest_and_listen_tokens() {
    let sim = sim(Duration::from_millis(400)).await;
    let url = |path: &str, query: &str| {
        let query = format!("{query}&timestamp={}", now());
        let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
        format!("{}{path}?{query}&signature={signature}", sim.rest_url())
    };
    let key = [("X-MBX-APIKEY", KEY)];
    let (status, _, body) = http_with(
        "GET",
        &url("/api/v3/account", "omitZeroBalances=false"),
        &key,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let account: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(account["accountType"], "SPOT");
    let (status, _, body) = http_with("GET", &url("/api/v3/account", "a=1"), &[]).await;
    assert_eq!((status, body.contains("-2014")), (401, true), "{body}");
    let (status, _, body) = http_with(
        "DELETE",
        &url("/api/v3/order", "symbol=BTCUSDT&orderId=99"),
        &key,
    )
    .await;
    assert_eq!((status, body.contains("-2011")), (400, true), "{body}");

    // A listen token lives at most the configured validity, then its
    // subscription ends with eventStreamTerminated.
    let (status, _, body) = http_with(
        "POST",
        &url("/sapi/v1/userListenToken", "validity=86400000"),
        &key,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let expires = token["expirationTime"].as_u64().unwrap();
    assert!(expires <= now() + 400, "{token}");
    let mut ws = connect(&sim.ws_api_url()).await;
    let reply = call(
        &mut ws,
        1,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": token["token"]}),
    )
    .await;
    assert_eq!(reply["result"]["subscriptionId"], 0, "{reply}");
    let ended = next_json(&mut ws).await;
    assert_eq!(ended["event"]["e"], "eventStreamTerminated");
    assert!(ended["event"]["E"].as_u64().unwrap() >= expires);
    // Isolated tokens need their symbol.
    let (status, _, body) = http_with(
        "POST",
        &url("/sapi/v1/userListenToken", "isIsolated=TRUE"),
        &key,
    )
    .await;
    assert_eq!((status, body.contains("-1102")), (400, true), "{body}");
}

#[tokio::test]
async fn admin_endpoints_fund_accounts_and_break_sessions() {
    let sim = sim(Duration::from_secs(3600)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    call(
        &mut ws,
        1,
        "userDataStream.subscribe.signature",
        signed(json!({}), SECRET),
    )
    .await;
    let admin = sim.admin_url();
    let (status, _, body) = support::http(
        "POST",
        &format!("{admin}/deposit?apiKey={KEY}&asset=eth&amount=2.5"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let event = next_json(&mut ws).await;
    assert_eq!(
        (event["event"]["e"].clone(), event["event"]["a"].clone()),
        (json!("balanceUpdate"), json!("ETH"))
    );
    let balances = support::get_json(&format!("{admin}/balances?apiKey={KEY}")).await;
    assert!(
        balances
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["asset"] == "ETH" && b["free"] == "2.5"),
        "{balances}"
    );
    let (status, _, body) = support::http(
        "POST",
        &format!("{admin}/deposit?apiKey={KEY}&asset=ETH&amount=-9"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) =
        support::http("GET", &format!("{admin}/balances?apiKey={KEY}&wallet=cash")).await;
    assert!(status == 400 && body.contains("isolated:SYMBOL"), "{body}");
    let (status, _, _) = support::http("POST", &format!("{admin}/end_subscriptions")).await;
    assert_eq!(status, 200);
    let _position = next_json(&mut ws).await;
    let ended = next_json(&mut ws).await;
    assert_eq!(ended["event"]["e"], "eventStreamTerminated");
    support::http("POST", &format!("{admin}/clock_skew?ms=-20000")).await;
    let reply = call(
        &mut ws,
        2,
        "userDataStream.subscribe.signature",
        signed(json!({}), SECRET),
    )
    .await;
    assert_eq!(error_code(&reply).1, -1021, "{reply}");
}

/// `POST /api/v3/order` reports the account's order counts in headers, and
/// margin orders say which margin account they went to (`isIsolated`), in
/// the place Binance's documentation puts it.
#[tokio::test]
async fn order_counts_and_the_margin_isolated_flag() {
    let sim = Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac(KEY, SECRET)
            .balance(Wallet::Spot, "USDT", Decimal::from(50_000))
            .balance(Wallet::Margin, "USDT", Decimal::from(50_000))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let url = |path: &str, query: &str| {
        let query = format!("{query}&timestamp={}", now());
        let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
        format!("{}{path}?{query}&signature={signature}", sim.rest_url())
    };
    let key = [("X-MBX-APIKEY", KEY)];
    let order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=40000&quantity=0.001";
    for n in ["1", "2"] {
        let (status, headers, body) = http_with("POST", &url("/api/v3/order", order), &key).await;
        assert_eq!(status, 200, "{body}");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-mbx-order-count-10s"), Some(n));
        assert_eq!(header("x-mbx-order-count-1d"), Some(n));
    }
    let keys = |body: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    let ack = format!("{order}&newOrderRespType=ACK");
    let (status, _, body) = http_with("POST", &url("/sapi/v1/margin/order", &ack), &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "symbol",
            "orderId",
            "clientOrderId",
            "isIsolated",
            "transactTime"
        ]
    );
    let (_, _, body) = http_with("POST", &url("/sapi/v1/margin/order", order), &key).await;
    let full: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(full["isIsolated"], false, "{body}");
    let keys = keys(&body);
    let at = |k: &str| keys.iter().position(|x| x == k).unwrap();
    assert_eq!(at("isIsolated"), at("side") + 1, "{keys:?}");
    assert_eq!(at("fills"), keys.len() - 1, "{keys:?}");
}

/// The signed queries real clients make after placing orders (GET order,
/// openOrders, allOrders, myTrades), in the layout of Binance's examples.
#[tokio::test]
async fn order_and_trade_queries_answer_in_binances_layout() {
    let sim = sim(Duration::from_secs(60)).await;
    let url = |path: &str, query: &str| {
        let query = format!("{query}&timestamp={}", now());
        let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
        format!("{}{path}?{query}&signature={signature}", sim.rest_url())
    };
    let key = [("X-MBX-APIKEY", KEY)];
    let call = |method: &'static str, path: &'static str, query: &str| {
        let url = url(path, query);
        async move {
            let (status, _, body) = http_with(method, &url, &key).await;
            assert_eq!(status, 200, "{path}: {body}");
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    let resting = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=40000&quantity=0.001";
    let placed = call("POST", "/api/v3/order", resting).await;
    let id = placed["orderId"].as_u64().unwrap();
    call(
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001",
    )
    .await;

    let order = call(
        "GET",
        "/api/v3/order",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!(shape(&order), shape(&support::rest_vector("order.json")));
    assert_eq!(
        (order["status"].as_str(), order["price"].as_str()),
        (Some("NEW"), Some("40000.00000000"))
    );
    let open = call("GET", "/api/v3/openOrders", "symbol=BTCUSDT").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let all = call("GET", "/api/v3/allOrders", "symbol=BTCUSDT").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all[1]["status"], "FILLED");
    let trades = call("GET", "/api/v3/myTrades", "symbol=BTCUSDT").await;
    assert!(!trades.as_array().unwrap().is_empty(), "{trades}");
    assert_eq!(
        shape(&trades),
        shape(&support::rest_vector("myTrades.json"))
    );
    assert_eq!(trades[0]["isBuyer"], true);
    let (status, _, body) = http_with(
        "GET",
        &url("/api/v3/order", "symbol=BTCUSDT&orderId=999999"),
        &key,
    )
    .await;
    assert_eq!((status, body.contains("-2013")), (400, true), "{body}");
}

/// The WebSocket API's market-data methods answer what the REST endpoint of
/// the same name does, and its account methods answer in Binance's layout.
#[tokio::test]
async fn ws_api_market_data_and_account_methods() {
    let sim = sim(Duration::from_secs(60)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    let btc = json!({"symbol": "BTCUSDT"});
    // A trade first, so statistics are not empty.
    while sim.trades("BTCUSDT").is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let market: [(&str, Value, Value); 12] = [
        (
            "depth",
            json!({"symbol": "BTCUSDT", "limit": 5}),
            any_vector("spot/rest_depth_snapshot.json"),
        ),
        (
            "ticker.price",
            btc.clone(),
            support::rest_vector("ticker_price.json"),
        ),
        (
            "ticker.book",
            btc.clone(),
            support::rest_vector("ticker_bookTicker.json"),
        ),
        (
            "ticker.24hr",
            btc.clone(),
            support::rest_vector("ticker_24hr.json"),
        ),
        (
            "ticker",
            btc.clone(),
            support::rest_vector("ticker_rolling.json"),
        ),
        (
            "avgPrice",
            btc.clone(),
            support::rest_vector("avgPrice.json"),
        ),
        (
            "trades.recent",
            btc.clone(),
            support::rest_vector("trades.json"),
        ),
        (
            "trades.historical",
            btc.clone(),
            support::rest_vector("trades.json"),
        ),
        (
            "trades.aggregate",
            btc.clone(),
            support::rest_vector("aggTrades.json"),
        ),
        (
            "klines",
            json!({"symbol": "BTCUSDT", "interval": "1s"}),
            json!([[0, "", "", "", "", "", 0, "", 0, "", "", ""]]),
        ),
        (
            "uiKlines",
            json!({"symbol": "BTCUSDT", "interval": "1s"}),
            json!([[0, "", "", "", "", "", 0, "", 0, "", "", ""]]),
        ),
        (
            "exchangeInfo",
            json!({"symbols": ["BTCUSDT", "BNBBTC"]}),
            Value::Null,
        ),
    ];
    for (i, (method, params, vector)) in market.into_iter().enumerate() {
        let reply = call(&mut ws, i as u64, method, params).await;
        assert_eq!(reply["status"], 200, "{method}: {reply}");
        if !vector.is_null() {
            assert_eq!(shape(&reply["result"]), shape(&vector), "{method}: {reply}");
        }
    }
    let reply = call(&mut ws, 20, "ticker.price", json!({"symbol": "NOPE"})).await;
    assert_eq!(error_code(&reply), (400, -1121));

    // Account methods: a resting order, a market order, then the queries.
    let resting = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "timeInForce": "GTC", "price": "40000", "quantity": "0.001"});
    let placed = call(&mut ws, 30, "order.place", signed(resting.clone(), SECRET)).await;
    let id = placed["result"]["orderId"].as_u64().unwrap();
    let market = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"});
    call(&mut ws, 31, "order.place", signed(market, SECRET)).await;
    let status = call(
        &mut ws,
        32,
        "order.status",
        signed(json!({"symbol": "BTCUSDT", "orderId": id}), SECRET),
    )
    .await;
    assert_eq!(
        shape(&status["result"]),
        shape(&support::rest_vector("order.json")),
        "{status}"
    );
    let open = call(
        &mut ws,
        33,
        "openOrders.status",
        signed(btc.clone(), SECRET),
    )
    .await;
    assert_eq!(open["result"].as_array().map(Vec::len), Some(1), "{open}");
    let all = call(&mut ws, 34, "allOrders", signed(btc.clone(), SECRET)).await;
    assert_eq!(all["result"].as_array().map(Vec::len), Some(2), "{all}");
    let mine = call(&mut ws, 35, "myTrades", signed(btc.clone(), SECRET)).await;
    assert_eq!(
        shape(&mine["result"]),
        shape(&support::rest_vector("myTrades.json")),
        "{mine}"
    );
    let mut replace = resting.clone();
    replace["cancelReplaceMode"] = "STOP_ON_FAILURE".into();
    replace["cancelOrderId"] = id.into();
    let replaced = call(
        &mut ws,
        36,
        "order.cancelReplace",
        signed(replace.clone(), SECRET),
    )
    .await;
    assert_eq!(replaced["result"]["cancelResult"], "SUCCESS", "{replaced}");
    assert_eq!(
        replaced["result"]["newOrderResult"], "SUCCESS",
        "{replaced}"
    );
    assert_eq!(replaced["result"]["cancelResponse"]["orderId"], id);
    // The old order is gone: replacing it again fails, and places nothing.
    let again = call(&mut ws, 37, "order.cancelReplace", signed(replace, SECRET)).await;
    assert_eq!(error_code(&again), (400, -2021));
    assert_eq!(
        again["error"]["data"]["newOrderResult"], "NOT_ATTEMPTED",
        "{again}"
    );
    let canceled = call(
        &mut ws,
        38,
        "openOrders.cancelAll",
        signed(btc.clone(), SECRET),
    )
    .await;
    assert_eq!(
        canceled["result"].as_array().map(Vec::len),
        Some(1),
        "{canceled}"
    );
    assert_eq!(canceled["result"][0]["status"], "CANCELED");
}

/// An order placed through the WebSocket API is answered with the account's
/// order counts in `rateLimits`, laid out as Binance's example.
#[tokio::test]
async fn ws_api_orders_report_order_counts() {
    let sim = sim(Duration::from_secs(60)).await;
    let mut ws = connect(&sim.ws_api_url()).await;
    let order = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "timeInForce": "GTC", "price": "40000", "quantity": "0.001"});
    let kinds = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["rateLimits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["rateLimitType"].clone(),
                    l["interval"].clone(),
                    l["intervalNum"].clone(),
                )
            })
            .collect()
    };
    let example = any_vector("wsapi/response_success.json");
    for n in 1..=2u64 {
        let reply = call(&mut ws, n, "order.place", signed(order.clone(), SECRET)).await;
        assert_eq!(kinds(&reply), kinds(&example), "{reply}");
        assert_eq!(reply["rateLimits"][0]["count"], n, "{reply}");
        assert_eq!(reply["rateLimits"][1]["count"], n, "{reply}");
    }
    // Other requests carry the request weight only.
    let reply = call(&mut ws, 9, "time", json!({})).await;
    assert_eq!(reply["rateLimits"].as_array().unwrap().len(), 1, "{reply}");
}
