//! Futures user data over real sockets: listen keys as Binance runs them
//! (§3.2), user streams on USD-M's `/private` and COIN-M's paths, orders
//! matched by the contracts' engines producing `ORDER_TRADE_UPDATE`,
//! `TRADE_LITE` and `ACCOUNT_UPDATE` in the bytes of Binance's examples
//! (`vectors/futures/user`, `vectors/coinm/user`), and faults reaching user
//! streams.

mod support;

use std::time::Duration;

use binance_sim::{AccountSpec, DropMode, FuturesConfig, Sim, SimConfig, Venue};
use binance_types::futures::user::{decode_futures_user, FuturesUserEvent};
use binance_types::sign::hmac_sha256_hex;
use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "futures-test-key";
const SECRET: &str = "futures-test-secret";

async fn sim(validity: Duration) -> Sim {
    Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac(KEY, SECRET)],
        futures: FuturesConfig {
            actions_per_second: 200,
            listen_key_validity: validity,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

fn prefix(venue: Venue) -> &'static str {
    match venue {
        Venue::CoinM => "/dapi/v1",
        _ => "/fapi/v1",
    }
}

/// `method` on a venue's listenKey endpoint with `api_key`: status and body.
async fn listen_key(sim: &Sim, venue: Venue, method: &str, api_key: &str) -> (u16, Value) {
    let url = format!("{}{}/listenKey", sim.venue_rest_url(venue), prefix(venue));
    let (status, _, body) = http_with(method, &url, &[("X-MBX-APIKEY", api_key)]).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A new listen key of the test account.
async fn new_key(sim: &Sim, venue: Venue) -> String {
    let (status, body) = listen_key(sim, venue, "POST", KEY).await;
    assert_eq!(status, 200, "{body}");
    body["listenKey"].as_str().unwrap().to_owned()
}

/// A signed request on a venue's `/order`: status and body.
async fn order(sim: &Sim, venue: Venue, method: &str, query: &str) -> (u16, Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let query = format!("{query}&timestamp={now}");
    let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
    let url = format!(
        "{}{}/order?{query}&signature={signature}",
        sim.venue_rest_url(venue),
        prefix(venue)
    );
    let (status, _, body) = http_with(method, &url, &[("X-MBX-APIKEY", KEY)]).await;
    (status, serde_json::from_str(&body).unwrap())
}

async fn open(sim: &Sim, venue: Venue, path: &str) -> Ws {
    connect(&format!("{}{path}", sim.venue_ws_url(venue))).await
}

/// Nothing is waiting on `ws`: a `LIST_SUBSCRIPTIONS` sent now is answered
/// by the very next frame.
async fn nothing_waiting(ws: &mut Ws, id: u64) {
    let request = json!({"method": "LIST_SUBSCRIPTIONS", "id": id});
    ws.send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    let next = next_json(ws).await;
    assert_eq!(next["id"], id, "a frame came before the answer: {next}");
}

/// The next `n` user frames (raw text).
async fn frames(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(next_text(ws).await);
    }
    out
}

/// Keys of `v`, recursively, in order; arrays by their first item.
fn keys(v: &Value, skip: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Array(
            m.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .map(|(k, v)| json!([k, keys(v, skip)]))
                .collect(),
        ),
        Value::Array(items) => items.first().map_or(Value::Null, |i| keys(i, skip)),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// `event` has its vector's keys, in its order, with its JSON types (the
/// trailing-stop keys `AP`, `cr` of the order vectors left out), decodes
/// typed and encodes back to the same bytes.
fn like_vector(event: &str, venue: Venue) {
    let v: Value = serde_json::from_str(event).unwrap();
    let e = v["e"].as_str().unwrap();
    let dir = match venue {
        Venue::CoinM => "coinm/user",
        _ => "futures/user",
    };
    let vector = any_vector(&format!("{dir}/{e}.json"));
    let skip: &[&str] = if e == "ORDER_TRADE_UPDATE" {
        &["AP", "cr"]
    } else {
        &[]
    };
    assert_eq!(keys(&v, &[]), keys(&vector, skip), "{e}: {event}");
    let typed = decode_futures_user(event.as_bytes()).unwrap();
    assert!(!matches!(typed, FuturesUserEvent::Unknown(_)));
    assert_eq!(typed.to_json(), event);
}

#[tokio::test]
async fn listen_keys_live_as_the_reference_says() {
    let sim = sim(Duration::from_secs(3600)).await;
    for venue in [Venue::UsdM, Venue::CoinM] {
        let (status, body) = listen_key(&sim, venue, "POST", "nobody").await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (401, Some(-2015)),
            "{body}"
        );
        let key = new_key(&sim, venue).await;
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
        let (_, body) = listen_key(&sim, venue, "POST", KEY).await;
        assert_eq!(
            keys(&body, &[]),
            keys(
                &any_vector("futures/user/rest_post_listenKey_response.json"),
                &[]
            )
        );
        assert_eq!(body["listenKey"], key, "a second POST returns the same key");
        let (status, body) = listen_key(&sim, venue, "PUT", KEY).await;
        assert_eq!((status, &body), (200, &json!({ "listenKey": key })));
        let (status, body) = listen_key(&sim, venue, "DELETE", KEY).await;
        assert_eq!((status, &body), (200, &json!({})));
        for method in ["PUT", "DELETE"] {
            let (status, body) = listen_key(&sim, venue, method, KEY).await;
            assert_eq!(
                (status, &body),
                (
                    400,
                    &json!({"code": -1125, "msg": "This listenKey does not exist."})
                ),
                "{method} after DELETE"
            );
        }
        assert_ne!(
            new_key(&sim, venue).await,
            key,
            "a closed key is not given again"
        );
    }
}

#[tokio::test]
async fn expiry_pushes_listen_key_expired_then_nothing() {
    let sim = sim(Duration::from_millis(600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    let expired: Value = next_json(&mut ws).await;
    assert_eq!(expired["e"], "listenKeyExpired");
    assert_eq!(expired["listenKey"], key);
    like_vector(&expired.to_string(), Venue::UsdM);
    // The account trades on; the expired key carries none of it.
    let (status, body) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    nothing_waiting(&mut ws, 1).await;
    let (status, _) = listen_key(&sim, Venue::UsdM, "PUT", KEY).await;
    assert_eq!(status, 400, "an expired key cannot be extended");

    // Faults::expire_listen_keys, on COIN-M's /stream.
    let sim = self::sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::CoinM).await;
    let mut ws = open(&sim, Venue::CoinM, &format!("/stream?streams={key}")).await;
    nothing_waiting(&mut ws, 1).await;
    assert_eq!(sim.faults().expire_listen_keys(Venue::UsdM), 0);
    assert_eq!(sim.faults().expire_listen_keys(Venue::CoinM), 1);
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["stream"], key);
    assert_eq!(frame["data"]["e"], "listenKeyExpired");
    like_vector(&frame["data"].to_string(), Venue::CoinM);
    nothing_waiting(&mut ws, 2).await;
    let log = sim.futures_user_events(Venue::CoinM, KEY);
    assert_eq!(log, vec![frame["data"].to_string()]);
}

#[tokio::test]
async fn delete_ends_the_keys_streams() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    nothing_waiting(&mut ws, 1).await;
    let (status, _) = listen_key(&sim, Venue::UsdM, "DELETE", KEY).await;
    assert_eq!(status, 200);
    assert_eq!(ending(&mut ws).await, Ok((1000, "listenKey closed".into())));
}

#[tokio::test]
async fn user_streams_are_fed_on_their_paths_only() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let coin_key = new_key(&sim, Venue::CoinM).await;
    let mut private = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    let mut public = open(&sim, Venue::UsdM, &format!("/public/ws/{key}")).await;
    let mut market = open(&sim, Venue::UsdM, &format!("/market/ws/{key}")).await;
    let mut unknown = open(
        &sim,
        Venue::UsdM,
        &format!("/private/ws/{}", "x".repeat(64)),
    )
    .await;
    let mut orders_only = open(
        &sim,
        Venue::UsdM,
        &format!("/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE"),
    )
    .await;
    let mut combined = open(
        &sim,
        Venue::UsdM,
        &format!("/private/stream?listenKey={key}&events=ACCOUNT_UPDATE/TRADE_LITE"),
    )
    .await;
    let mut coin = open(&sim, Venue::CoinM, &format!("/ws/{coin_key}")).await;
    for ws in [&mut private, &mut orders_only, &mut combined, &mut coin] {
        nothing_waiting(ws, 9).await;
    }

    let (status, body) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.002",
    )
    .await;
    assert_eq!((status, &body["status"]), (200, &json!("FILLED")), "{body}");
    let log = sim.futures_user_events(Venue::UsdM, KEY);
    assert_eq!(
        frames(&mut private, log.len()).await,
        log,
        "every event, once, in order"
    );
    let of = |types: &[&str]| -> Vec<String> {
        log.iter()
            .filter(|e| types.iter().any(|t| e.contains(&format!(r#""e":"{t}""#))))
            .cloned()
            .collect()
    };
    let wanted = of(&["ORDER_TRADE_UPDATE"]);
    assert_eq!(frames(&mut orders_only, wanted.len()).await, wanted);
    let wanted: Vec<String> = of(&["ACCOUNT_UPDATE", "TRADE_LITE"])
        .into_iter()
        .map(|e| format!(r#"{{"stream":"{key}","data":{e}}}"#))
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(frames(&mut combined, wanted.len()).await, wanted);
    for ws in [
        &mut private,
        &mut public,
        &mut market,
        &mut unknown,
        &mut orders_only,
        &mut combined,
        &mut coin,
    ] {
        nothing_waiting(ws, 10).await;
    }

    // COIN-M: /ws/<key> carries its own venue's events.
    let (status, body) = order(
        &sim,
        Venue::CoinM,
        "POST",
        "symbol=BTCUSD_PERP&side=SELL&type=MARKET&quantity=2",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let log = sim.futures_user_events(Venue::CoinM, KEY);
    assert_eq!(frames(&mut coin, log.len()).await, log);
    nothing_waiting(&mut private, 11).await;
}

#[tokio::test]
async fn orders_report_in_order_in_binances_bytes() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    nothing_waiting(&mut ws, 1).await;
    let (status, body) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.005&newClientOrderId=buy-1",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executedQty"], "0.005");
    let events = sim.futures_user_events(Venue::UsdM, KEY);
    assert_eq!(frames(&mut ws, events.len()).await, events);
    let parsed: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let types: Vec<&str> = parsed.iter().map(|v| v["e"].as_str().unwrap()).collect();
    // NEW, then per fill TRADE_LITE, ORDER_TRADE_UPDATE (TRADE), ACCOUNT_UPDATE.
    assert_eq!(types[0], "ORDER_TRADE_UPDATE");
    assert_eq!(parsed[0]["o"]["x"], "NEW");
    assert_eq!((types.len() - 1) % 3, 0, "{types:?}");
    for fill in types[1..].chunks(3) {
        assert_eq!(fill, ["TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]);
    }
    let last_trade = &parsed[parsed.len() - 2]["o"];
    assert_eq!(
        (&last_trade["x"], &last_trade["X"]),
        (&json!("TRADE"), &json!("FILLED"))
    );
    assert_eq!(last_trade["z"], "0.005");
    assert_eq!(last_trade["c"], "buy-1");
    let account = &parsed[parsed.len() - 1]["a"];
    assert_eq!(account["m"], "ORDER");
    assert_eq!(account["P"][0]["pa"], "0.005");
    assert_eq!(account["P"][0]["ps"], "BOTH");
    // The wallet paid the taker commission (0.05 %) of every fill.
    let commissions: rust_decimal::Decimal = parsed
        .iter()
        .filter(|v| v["e"] == "ORDER_TRADE_UPDATE")
        .map(|v| {
            v["o"]["n"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert!(commissions > rust_decimal::Decimal::ZERO);
    let wallet: rust_decimal::Decimal = account["B"][0]["wb"].as_str().unwrap().parse().unwrap();
    assert_eq!(account["B"][0]["a"], "USDT");
    assert_eq!(wallet, rust_decimal::Decimal::from(100_000) - commissions);
    let times: Vec<u64> = parsed.iter().map(|v| v["E"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "E never goes back");
    for event in &events {
        like_vector(event, Venue::UsdM);
    }
    // Decimals at the contract's precision (BTCUSDT: price 2, quantity 3).
    let lite = &parsed[1];
    assert_eq!(lite["q"], "0.005");
    assert_eq!(lite["p"], "0");
    let price = lite["L"].as_str().unwrap();
    assert_eq!(
        price.split_once('.').map(|(_, d)| d.len()),
        Some(2),
        "{price}"
    );

    // A resting LIMIT order, cancelled.
    let (status, placed) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.010&price=1000.0",
    )
    .await;
    assert_eq!(
        (status, &placed["status"]),
        (200, &json!("NEW")),
        "{placed}"
    );
    let id = placed["orderId"].as_u64().unwrap();
    let (status, cancelled) = order(
        &sim,
        Venue::UsdM,
        "DELETE",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!(
        (status, &cancelled["status"]),
        (200, &json!("CANCELED")),
        "{cancelled}"
    );
    let (status, queried) = order(
        &sim,
        Venue::UsdM,
        "GET",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!((status, &queried["status"]), (200, &json!("CANCELED")));
    let (status, again) = order(
        &sim,
        Venue::UsdM,
        "DELETE",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!((status, again["code"].as_i64()), (400, Some(-2011)));
    let all = sim.futures_user_events(Venue::UsdM, KEY);
    let later = &all[events.len()..];
    assert_eq!(frames(&mut ws, later.len()).await, later);
    let executions: Vec<Value> = later
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap()["o"]["x"].clone())
        .collect();
    assert_eq!(executions, [json!("NEW"), json!("CANCELED")]);
    let resting: Value = serde_json::from_str(&later[0]).unwrap();
    assert_eq!(
        (&resting["o"]["p"], &resting["o"]["q"], &resting["o"]["b"]),
        (&json!("1000.00"), &json!("0.010"), &json!("10"))
    );
    for event in later {
        like_vector(event, Venue::UsdM);
    }
    // An IOC order that meets nothing expires at once.
    let (status, ioc) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=1000.0",
    )
    .await;
    assert_eq!((status, &ioc["status"]), (200, &json!("EXPIRED")), "{ioc}");
    let expired = frames(&mut ws, 2).await;
    let executions: Vec<Value> = expired
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap()["o"]["x"].clone())
        .collect();
    assert_eq!(executions, [json!("NEW"), json!("EXPIRED")]);
    nothing_waiting(&mut ws, 2).await;
}

#[tokio::test]
async fn coinm_orders_report_with_alias_and_margin_asset() {
    let sim = sim(Duration::from_secs(3600)).await;
    let (status, body) = order(
        &sim,
        Venue::CoinM,
        "POST",
        "symbol=BTCUSD_PERP&side=BUY&type=MARKET&quantity=3",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cumQty"], "3");
    let events = sim.futures_user_events(Venue::CoinM, KEY);
    assert!(events.len() >= 3, "{events:?}");
    assert!(
        events.iter().all(|e| !e.contains("TRADE_LITE")),
        "TRADE_LITE is USD-M only"
    );
    for event in &events {
        like_vector(event, Venue::CoinM);
        let v: Value = serde_json::from_str(event).unwrap();
        assert!(v["i"].is_string(), "{event}");
    }
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["a"]["B"][0]["a"], "BTC");
    assert_eq!(last["a"]["P"][0]["pa"], "3");
    // Bad requests answer as Binance does.
    let (status, body) = order(
        &sim,
        Venue::CoinM,
        "POST",
        "symbol=NOPE&side=BUY&type=MARKET&quantity=1",
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(-1121)));
    let (status, body) = order(
        &sim,
        Venue::CoinM,
        "GET",
        "symbol=BTCUSD_PERP&orderId=999999999",
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(-2013)));
}

#[tokio::test]
async fn faults_reach_user_streams() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    nothing_waiting(&mut ws, 1).await;
    sim.faults().server_shutdown(None);
    let shutdown = next_json(&mut ws).await;
    assert_eq!(shutdown["e"], "serverShutdown");
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    nothing_waiting(&mut ws, 1).await;
    sim.faults().drop_all(DropMode::Close {
        code: 1011,
        reason: "boom".into(),
    });
    assert_eq!(ending(&mut ws).await, Ok((1011, "boom".into())));
}

#[tokio::test]
async fn a_resting_order_filled_by_the_market_reports_as_maker() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    let mut ws = open(&sim, Venue::UsdM, &format!("/private/ws/{key}")).await;
    // Alone at the best bid, one tick above the book's (once the spread
    // leaves room), so the next synthetic sell takes it first.
    let tick: rust_decimal::Decimal = "0.10".parse().unwrap();
    let price = loop {
        let book = get_json(&format!(
            "{}/fapi/v1/depth?symbol=BTCUSDT&limit=5",
            sim.venue_rest_url(Venue::UsdM)
        ))
        .await;
        let level = |side: &str| -> rust_decimal::Decimal {
            book[side][0][0].as_str().unwrap().parse().unwrap()
        };
        if level("asks") - level("bids") >= tick * rust_decimal::Decimal::from(2) {
            break level("bids") + tick;
        }
    };
    let (status, placed) = order(
        &sim,
        Venue::UsdM,
        "POST",
        &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={price}"),
    )
    .await;
    assert_eq!(status, 200, "{placed}");
    if placed["status"] != "NEW" {
        return; // the book moved under it and it took: nothing to see here
    }
    let trade = loop {
        let v = next_json(&mut ws).await;
        if v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "TRADE" {
            break v;
        }
    };
    assert_eq!(trade["o"]["m"], true, "{trade}");
    assert_eq!(trade["o"]["X"], "FILLED");
    let account = next_json(&mut ws).await;
    assert_eq!(account["e"], "ACCOUNT_UPDATE");
    assert_eq!(account["a"]["P"][0]["pa"], "0.001");
    let log = sim.futures_user_events(Venue::UsdM, KEY);
    assert_eq!(log.last(), Some(&account.to_string()));
    for event in &log {
        like_vector(event, Venue::UsdM);
    }
}

#[tokio::test]
async fn keys_join_by_query_and_by_subscribe() {
    let sim = sim(Duration::from_secs(3600)).await;
    let key = new_key(&sim, Venue::UsdM).await;
    // Two keys on one /private/stream (the second one's owner is unknown to
    // the simulator: it carries nothing).
    let other = "y".repeat(64);
    let mut both = open(
        &sim,
        Venue::UsdM,
        &format!("/private/stream?listenKey={other}&listenKey={key}&events=ORDER_TRADE_UPDATE"),
    )
    .await;
    let mut later = open(&sim, Venue::UsdM, "/private/ws").await;
    let reply = request(
        &mut later,
        json!({"method": "SUBSCRIBE", "params": [key], "id": 1}),
    )
    .await;
    assert_eq!(reply, json!({"result": null, "id": 1}));
    nothing_waiting(&mut both, 2).await;
    let (status, _) = order(
        &sim,
        Venue::UsdM,
        "POST",
        "symbol=ETHUSDT&side=SELL&type=MARKET&quantity=0.010",
    )
    .await;
    assert_eq!(status, 200);
    let log = sim.futures_user_events(Venue::UsdM, KEY);
    assert_eq!(frames(&mut later, log.len()).await, log);
    let first = next_json(&mut both).await;
    assert_eq!(
        (&first["stream"], &first["data"]["e"]),
        (&json!(key), &json!("ORDER_TRADE_UPDATE"))
    );
}
