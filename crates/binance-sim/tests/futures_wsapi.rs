//! The futures WebSocket APIs (`/ws-fapi/v1` on USD-M's port, `/ws-dapi/v1`
//! on COIN-M's) over real sockets: the spot WebSocket API's envelope and
//! signature check, answers shaped as the futures REST answers, orders that
//! report on the account's listen-key streams, `order.modify`, and the spot
//! WebSocket API left as it was.

mod support;

use std::time::Duration;

use binance_sim::{AccountSpec, FuturesConfig, Limits, Sim, SimConfig, Venue};
use binance_types::sign::hmac_sha256_hex;
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "fwsapi-test-key";
const SECRET: &str = "fwsapi-test-secret";

async fn sim() -> Sim {
    Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac(KEY, SECRET)],
        futures: FuturesConfig {
            actions_per_second: 200,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// Params signed by the test account (`secret`: a wrong one, to be refused).
fn signed(params: Value, secret: &str) -> Value {
    ws_signed(params, KEY, secret)
}

/// A signed call's result (the test fails on an error).
async fn ok(ws: &mut Ws, id: u64, method: &str, params: Value) -> Value {
    let reply = call(ws, id, method, signed(params, SECRET)).await;
    assert_eq!(reply["status"], 200, "{method}: {reply}");
    reply["result"].clone()
}

/// A signed call's error: status and code.
async fn refused(ws: &mut Ws, id: u64, method: &str, params: &Value) -> (u64, i64) {
    error_code(&call(ws, id, method, signed(params.clone(), SECRET)).await)
}

/// A signed REST request on the venue's `/order`: its body.
async fn rest_order(sim: &Sim, venue: Venue, method: &str, query: &str) -> Value {
    let prefix = match venue {
        Venue::CoinM => "/dapi/v1",
        _ => "/fapi/v1",
    };
    let query = format!("{query}&timestamp={}", now_ms());
    let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
    let url = format!(
        "{}{prefix}/order?{query}&signature={signature}",
        sim.venue_rest_url(venue)
    );
    let (status, _, body) = http_with(method, &url, &[("X-MBX-APIKEY", KEY)]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A price far under the book (nine tenths of the best bid, whole), where
/// a BUY rests untouched.
async fn far_bid(sim: &Sim, venue: Venue, symbol: &str) -> Decimal {
    (best(sim, venue, symbol, "bids").await * Decimal::new(9, 1)).floor()
}

/// The best price of a side (`bids`, `asks`) of a USD-M or COIN-M book.
async fn best(sim: &Sim, venue: Venue, symbol: &str, side: &str) -> Decimal {
    let path = match venue {
        Venue::CoinM => "/dapi/v1/depth",
        _ => "/fapi/v1/depth",
    };
    let url = format!(
        "{}{path}?symbol={symbol}&limit=5",
        sim.venue_rest_url(venue)
    );
    let book = get_json(&url).await;
    book[side][0][0].as_str().unwrap().parse().unwrap()
}

/// A USD-M user stream on the listen key `userDataStream.start` gives,
/// subscribed (it has answered a request).
async fn user_stream(sim: &Sim, api: &mut Ws) -> Ws {
    let start = call(api, 1, "userDataStream.start", json!({"apiKey": KEY})).await;
    let key = start["result"]["listenKey"].as_str().unwrap().to_owned();
    let url = format!("{}/private/ws/{key}", sim.venue_ws_url(Venue::UsdM));
    let mut stream = connect(&url).await;
    let listed = request(
        &mut stream,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 1}),
    )
    .await;
    assert_eq!(listed["id"], 1);
    stream
}

/// The next user event of type `e` with execution type `x` (when given).
async fn next_event(ws: &mut Ws, e: &str, x: Option<&str>) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["e"] == e && x.is_none_or(|x| v["o"]["x"] == x) {
            return v;
        }
    }
}

#[tokio::test]
async fn ping_time_and_envelope_errors() {
    let sim = sim().await;
    let mut ws = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let pong = call(&mut ws, 1, "ping", json!({})).await;
    assert_eq!(pong["status"], 200);
    assert_eq!(pong["result"], json!({}));
    assert_eq!(pong["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
    assert_eq!(
        pong["rateLimits"][0]["limit"], 2400,
        "the futures weight limit"
    );
    let before = now_ms();
    let time = call(&mut ws, 2, "time", json!({})).await;
    let server = time["result"]["serverTime"].as_u64().unwrap();
    assert!(server >= before && server <= now_ms(), "{time}");
    let unknown = call(&mut ws, 3, "order.teleport", json!({})).await;
    assert_eq!(error_code(&unknown), (400, -1020));
    let quiet = call(&mut ws, 4, "ping", json!({"returnRateLimits": false})).await;
    assert!(quiet.get("rateLimits").is_none(), "{quiet}");
    let no_method = r#"{"id":5,"params":{}}"#;
    ws.send(Message::Text(no_method.into())).await.unwrap();
    let malformed = next_json(&mut ws).await;
    assert_eq!(malformed["id"], 5);
    assert_eq!(error_code(&malformed), (400, -1102));
}

#[tokio::test]
async fn signed_methods_refuse_what_spot_refuses() {
    let sim = sim().await;
    let mut ws = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let order = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"});
    let mut unsigned = signed(order.clone(), SECRET);
    unsigned.as_object_mut().unwrap().remove("signature");
    let mut keyless = order.clone();
    keyless["timestamp"] = now_ms().into();
    let cases = [
        (
            "bad signature",
            signed(order.clone(), "wrong"),
            (400, -1022),
        ),
        (
            "unknown key",
            signed(json!({"apiKey": "nobody"}), SECRET),
            (401, -2015),
        ),
        ("no signature", unsigned, (400, -1102)),
        ("no apiKey", keyless, (400, -1102)),
    ];
    for (id, (what, params, want)) in cases.into_iter().enumerate() {
        for method in ["order.place", "account.balance"] {
            let reply = call(&mut ws, id as u64, method, params.clone()).await;
            assert_eq!(error_code(&reply), want, "{what} on {method}: {reply}");
        }
    }
    assert!(
        sim.futures_user_events(Venue::UsdM, KEY).is_empty(),
        "no refused order reached the book"
    );
}

#[tokio::test]
async fn orders_answer_as_rest_does() {
    let sim = sim().await;
    let mut ws = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let price = far_bid(&sim, Venue::UsdM, "BTCUSDT").await;
    let limit = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "timeInForce": "GTC", "quantity": "0.002", "price": price.to_string(),
        "newClientOrderId": "ws-1"});
    let placed = ok(&mut ws, 1, "order.place", limit).await;
    assert_eq!(placed["status"], "NEW", "{placed}");
    assert_eq!(placed["clientOrderId"], "ws-1");
    let by_rest = rest_order(
        &sim,
        Venue::UsdM,
        "POST",
        &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price={price}"),
    )
    .await;
    assert_eq!(shape(&placed), shape(&by_rest), "the REST order's JSON");
    let id = placed["orderId"].clone();
    let status = ok(
        &mut ws,
        2,
        "order.status",
        json!({"symbol": "BTCUSDT", "orderId": id}),
    )
    .await;
    assert_eq!(status, placed);
    let by_client = json!({"symbol": "BTCUSDT", "origClientOrderId": "ws-1"});
    let cancelled = ok(&mut ws, 3, "order.cancel", by_client).await;
    assert_eq!(cancelled["orderId"], id);
    assert_eq!(cancelled["status"], "CANCELED");
    let rest_view = rest_order(
        &sim,
        Venue::UsdM,
        "GET",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!(rest_view["status"], "CANCELED");

    let again = json!({"symbol": "BTCUSDT", "orderId": id});
    let cases = [
        ("order.cancel", again.clone(), (400, -2011)),
        (
            "order.status",
            json!({"symbol": "BTCUSDT", "orderId": 1}),
            (400, -2013),
        ),
        (
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": 1}),
            (400, -2013),
        ),
        (
            "order.status",
            json!({"symbol": "NOPEUSDT", "orderId": id}),
            (400, -1121),
        ),
        (
            "order.place",
            json!({"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}),
            (400, -1121),
        ),
        (
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}),
            (400, -1102),
        ),
        ("order.status", json!({"orderId": id}), (400, -1102)),
        ("order.cancel", json!({"symbol": "BTCUSDT"}), (400, -1102)),
    ];
    for (n, (method, params, want)) in cases.into_iter().enumerate() {
        let got = refused(&mut ws, 10 + n as u64, method, &params).await;
        assert_eq!(got, want, "{method} {params}");
    }
}

#[tokio::test]
async fn an_order_placed_here_reports_on_the_user_stream() {
    let sim = sim().await;
    let mut api = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let mut stream = user_stream(&sim, &mut api).await;
    let market = json!({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
        "quantity": "0.003", "newClientOrderId": "ws-sell"});
    let placed = ok(&mut api, 2, "order.place", market).await;
    assert_eq!(placed["executedQty"], "0.003", "{placed}");
    let events = sim.futures_user_events(Venue::UsdM, KEY);
    assert!(events.len() >= 4, "{events:?}");
    let mut seen = Vec::new();
    while seen.len() < events.len() {
        seen.push(next_text(&mut stream).await);
    }
    assert_eq!(seen, events);
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["e"], "ORDER_TRADE_UPDATE");
    assert_eq!(
        (&first["o"]["x"], &first["o"]["c"]),
        (&json!("NEW"), &json!("ws-sell"))
    );
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["e"], "ACCOUNT_UPDATE");
    assert_eq!(last["a"]["P"][0]["pa"], "-0.003");
}

#[tokio::test]
async fn order_modify_amends_a_resting_limit_order() {
    let sim = sim().await;
    let mut api = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let mut stream = user_stream(&sim, &mut api).await;
    let price = far_bid(&sim, Venue::UsdM, "BTCUSDT").await;
    let limit = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "timeInForce": "GTC", "quantity": "0.002", "price": price.to_string()});
    let placed = ok(&mut api, 2, "order.place", limit).await;
    assert_eq!(placed["status"], "NEW", "{placed}");
    let id = placed["orderId"].clone();
    next_event(&mut stream, "ORDER_TRADE_UPDATE", Some("NEW")).await;

    let lower = price - Decimal::ONE;
    let change = json!({"symbol": "BTCUSDT", "orderId": id, "side": "BUY",
        "quantity": "0.004", "price": lower.to_string()});
    let modified = ok(&mut api, 3, "order.modify", change).await;
    assert_eq!(modified["orderId"], id, "the order keeps its id");
    assert_eq!(modified["status"], "NEW");
    assert_eq!(modified["origQty"], "0.004");
    assert_eq!(modified["price"], format!("{lower:.2}"));
    let amended = next_event(&mut stream, "ORDER_TRADE_UPDATE", None).await;
    assert_eq!(amended["o"]["x"], "AMENDMENT", "{amended}");
    assert_eq!(amended["o"]["X"], "NEW");
    assert_eq!(amended["o"]["i"], id);
    assert_eq!(amended["o"]["q"], "0.004");
    assert_eq!(amended["o"]["p"], format!("{lower:.2}"));
    let status = ok(
        &mut api,
        4,
        "order.status",
        json!({"symbol": "BTCUSDT", "orderId": id}),
    )
    .await;
    assert_eq!(status, modified);
    // The book holds it at the new price: cancelling it takes it off.
    let cancelled = ok(
        &mut api,
        5,
        "order.cancel",
        json!({"symbol": "BTCUSDT", "orderId": id}),
    )
    .await;
    assert_eq!(cancelled["status"], "CANCELED");

    let cases = [
        (
            json!({"symbol": "BTCUSDT", "orderId": id, "side": "BUY", "quantity": "0.004", "price": lower.to_string()}),
            (400, -2013),
        ),
        (
            json!({"symbol": "BTCUSDT", "orderId": 1, "side": "BUY", "quantity": "0.004", "price": lower.to_string()}),
            (400, -2013),
        ),
        (
            json!({"symbol": "NOPEUSDT", "orderId": id, "side": "BUY", "quantity": "0.004", "price": lower.to_string()}),
            (400, -1121),
        ),
        (
            json!({"symbol": "BTCUSDT", "orderId": id, "side": "BUY", "quantity": "0.004"}),
            (400, -1102),
        ),
    ];
    for (n, (params, want)) in cases.into_iter().enumerate() {
        let got = refused(&mut api, 10 + n as u64, "order.modify", &params).await;
        assert_eq!(got, want, "{params}");
    }
}

#[tokio::test]
async fn order_modify_to_a_crossing_price_trades_at_once() {
    let sim = sim().await;
    let mut api = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let mut stream = user_stream(&sim, &mut api).await;
    let price = far_bid(&sim, Venue::UsdM, "BTCUSDT").await;
    let limit = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
        "quantity": "0.001", "price": price.to_string()});
    let id = ok(&mut api, 2, "order.place", limit).await["orderId"].clone();
    // A tenth above the best ask: the whole book's asks are in reach.
    let above = (best(&sim, Venue::UsdM, "BTCUSDT", "asks").await * Decimal::new(11, 1)).floor();
    let change = json!({"symbol": "BTCUSDT", "orderId": id, "side": "BUY",
        "quantity": "0.001", "price": above.to_string()});
    let modified = ok(&mut api, 3, "order.modify", change).await;
    assert_eq!(modified["status"], "FILLED", "{modified}");
    assert_eq!(modified["executedQty"], "0.001");
    let amended = next_event(&mut stream, "ORDER_TRADE_UPDATE", Some("AMENDMENT")).await;
    assert_eq!(amended["o"]["i"], id);
    let trade = next_event(&mut stream, "ORDER_TRADE_UPDATE", Some("TRADE")).await;
    assert_eq!(
        (&trade["o"]["i"], &trade["o"]["X"]),
        (&id, &json!("FILLED"))
    );
    assert_eq!(trade["o"]["m"], false, "it took liquidity");
    let position = ok(
        &mut api,
        4,
        "account.position",
        json!({"symbol": "BTCUSDT"}),
    )
    .await;
    assert_eq!(position[0]["positionAmt"], "0.001");
}

#[tokio::test]
async fn account_methods_show_the_wallet_and_positions() {
    let sim = sim().await;
    let mut ws = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let balance = ok(&mut ws, 1, "account.balance", json!({})).await;
    assert_eq!(balance[0]["asset"], "USDT");
    assert_eq!(balance[0]["balance"], "100000.00000000");
    assert_eq!(
        ok(&mut ws, 2, "account.position", json!({})).await,
        json!([])
    );
    let buy = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.005"});
    ok(&mut ws, 3, "order.place", buy).await;
    let positions = ok(&mut ws, 4, "account.position", json!({"symbol": "BTCUSDT"})).await;
    assert_eq!(positions[0]["symbol"], "BTCUSDT", "{positions}");
    assert_eq!(positions[0]["positionAmt"], "0.005");
    assert_eq!(positions[0]["positionSide"], "BOTH");
    let other = ok(&mut ws, 5, "account.position", json!({"symbol": "ETHUSDT"})).await;
    assert_eq!(other, json!([]));
    let account = ok(&mut ws, 6, "account.status", json!({})).await;
    assert_eq!(account["positions"], positions);
    let paid = ok(&mut ws, 7, "account.balance", json!({})).await;
    assert_eq!(account["assets"], paid);
    let wallet: Decimal = paid[0]["balance"].as_str().unwrap().parse().unwrap();
    assert!(
        wallet < Decimal::from(100_000),
        "the taker commission was paid: {paid}"
    );
    let unknown = json!({"symbol": "NOPEUSDT"});
    let got = refused(&mut ws, 8, "account.position", &unknown).await;
    assert_eq!(got, (400, -1121));
}

#[tokio::test]
async fn listen_key_methods_follow_the_rest_rules() {
    let sim = sim().await;
    let mut api = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let start = call(&mut api, 1, "userDataStream.start", json!({"apiKey": KEY})).await;
    let key = start["result"]["listenKey"].clone();
    assert_eq!(key.as_str().unwrap().len(), 64, "{start}");
    let again = call(&mut api, 2, "userDataStream.start", json!({"apiKey": KEY})).await;
    assert_eq!(again["result"]["listenKey"], key, "the active key again");
    let ping = call(
        &mut api,
        3,
        "userDataStream.ping",
        json!({"apiKey": KEY, "listenKey": key}),
    )
    .await;
    assert_eq!(ping["result"]["listenKey"], key, "{ping}");
    let mut stream = connect(&format!(
        "{}/private/ws/{}",
        sim.venue_ws_url(Venue::UsdM),
        key.as_str().unwrap()
    ))
    .await;
    request(
        &mut stream,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 1}),
    )
    .await;
    let stop = call(&mut api, 4, "userDataStream.stop", json!({"apiKey": KEY})).await;
    assert_eq!(stop["result"], json!({}), "{stop}");
    assert_eq!(
        ending(&mut stream).await,
        Ok((1000, "listenKey closed".into()))
    );
    let gone = call(&mut api, 5, "userDataStream.ping", json!({"apiKey": KEY})).await;
    assert_eq!(error_code(&gone), (400, -1125));
    let stranger = call(
        &mut api,
        6,
        "userDataStream.start",
        json!({"apiKey": "nobody"}),
    )
    .await;
    assert_eq!(error_code(&stranger), (401, -2015));
    let keyless = call(&mut api, 7, "userDataStream.start", json!({})).await;
    assert_eq!(error_code(&keyless), (400, -1102));
}

#[tokio::test]
async fn coinm_serves_the_api_at_ws_dapi() {
    let sim = sim().await;
    let url = sim.venue_ws_api_url(Venue::CoinM);
    assert!(url.ends_with("/ws-dapi/v1"), "{url}");
    let mut ws = connect(&url).await;
    let balance = ok(&mut ws, 1, "account.balance", json!({})).await;
    let assets: Vec<&str> = balance
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asset"].as_str().unwrap())
        .collect();
    assert_eq!(assets, ["BTC", "ETH"]);
    assert!(balance[0].get("withdrawAvailable").is_some(), "{balance}");
    let buy = json!({"symbol": "BTCUSD_PERP", "side": "BUY", "type": "MARKET", "quantity": "2"});
    let placed = ok(&mut ws, 2, "order.place", buy).await;
    assert_eq!(placed["executedQty"], "2", "{placed}");
    assert!(
        placed.get("cumBase").is_some(),
        "COIN-M's REST order: {placed}"
    );
    let positions = ok(&mut ws, 3, "account.position", json!({})).await;
    assert_eq!(positions[0]["positionAmt"], "2", "{positions}");
    assert_eq!(positions[0]["marginAsset"], "BTC");
    // Each venue's API only on its own path.
    let usdm_path = format!("{}/ws-fapi/v1", sim.venue_ws_url(Venue::CoinM));
    assert!(tokio_tungstenite::connect_async(&usdm_path).await.is_err());
}

#[tokio::test]
async fn sessions_keep_the_futures_servers_heartbeat() {
    let sim = Sim::start(SimConfig {
        futures: FuturesConfig {
            limits: Limits {
                ping_interval: Duration::from_millis(100),
                ..Limits::futures()
            },
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    let mut ws = connect(&sim.venue_ws_api_url(Venue::UsdM)).await;
    let first = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a frame in time");
    assert!(
        matches!(first, Some(Ok(Message::Ping(_)))),
        "the venue's ping: {first:?}"
    );
    assert_eq!(Limits::futures().ping_interval, Duration::from_secs(180));
}

#[tokio::test]
async fn the_spot_ws_api_is_unchanged() {
    let sim = sim().await;
    let mut spot = connect(&sim.ws_api_url()).await;
    let time = call(&mut spot, 1, "time", json!({})).await;
    assert_eq!(time["status"], 200);
    // Spot's retired listen-key methods stay retired there.
    let retired = call(&mut spot, 2, "userDataStream.start", json!({"apiKey": KEY})).await;
    assert_eq!(error_code(&retired), (400, -1020));
    let modify = call(&mut spot, 3, "order.modify", json!({})).await;
    assert_eq!(error_code(&modify), (400, -1020));
    let futures_path = format!("{}/ws-fapi/v1", sim.ws_url());
    assert!(tokio_tungstenite::connect_async(&futures_path)
        .await
        .is_err());
}
