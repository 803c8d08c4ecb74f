//! The options market over real sockets: its own port and symbols, routed
//! paths (a `/market` stream on `/public` accepted and silent), the §5.4
//! book procedure over the simulator's own diff stream and `/eapi/v1/depth`
//! snapshot reaching the true book, `pu` continuity and a skipped update
//! as a `pu` break, the names a subscriber wrote carried back, REST errors,
//! the options limits, faults.

mod support;

use std::time::Duration;

use binance_sim::{FuturesConfig, Limits, OptionsConfig, Sim, SimConfig, Venue};
use binance_types::book_sync::{BookSync, Outcome};
use binance_types::futures::{decode_futures, FuturesEvent};
use binance_types::Level;
use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// A simulator whose options trade 500 actions a second (no futures).
async fn busy(limits: Limits) -> Sim {
    Sim::start(SimConfig {
        futures: FuturesConfig::off(),
        options: OptionsConfig {
            actions_per_second: 500,
            limits,
            open_interest_every: Duration::from_millis(500),
            ..OptionsConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// The first BTC option symbol.
fn btc_option(sim: &Sim) -> String {
    sim.venue_symbols(Venue::Options)
        .into_iter()
        .find(|s| s.starts_with("BTC-"))
        .expect("a BTC option")
}

/// A connection to `path` on the options port.
async fn open(sim: &Sim, path: &str) -> Ws {
    connect(&format!("{}{path}", sim.venue_ws_url(Venue::Options))).await
}

/// The next data frame (control answers skipped).
async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let v = next_json(ws).await;
        if v.get("result").is_some() || v.get("error").is_some() {
            continue;
        }
        return v;
    }
}

fn event_type(v: &Value) -> &str {
    let data = v.get("data").unwrap_or(v);
    let data = data.as_array().and_then(|a| a.first()).unwrap_or(data);
    data["e"].as_str().unwrap_or_default()
}

/// Read until `count` frames of event type `e` arrived.
async fn frames_of(ws: &mut Ws, e: &str, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < count {
        let v = next_event(ws).await;
        if event_type(&v) == e {
            out.push(v);
        }
    }
    out
}

/// The next frame on `ws` is the answer to a request sent now: nothing
/// (no data of a silent stream) was waiting before it.
async fn nothing_pending(ws: &mut Ws, id: u64) {
    let request = json!({"method": "LIST_SUBSCRIPTIONS", "id": id});
    ws.send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    let first = next_json(ws).await;
    assert_eq!(first["id"], id, "data arrived on a silent stream: {first}");
}

#[tokio::test]
async fn options_have_their_own_port_symbols_and_exchange_info() {
    let sim = busy(Limits::options()).await;
    let symbols = sim.venue_symbols(Venue::Options);
    assert_eq!(symbols.len(), 24, "{symbols:?}");
    let now = now_ms();
    for s in &symbols {
        let parts: Vec<&str> = s.split('-').collect();
        assert_eq!(parts.len(), 4, "{s}");
        assert!(["BTC", "ETH"].contains(&parts[0]) && ["C", "P"].contains(&parts[3]));
        assert_eq!(parts[1].len(), 6, "{s}");
    }
    let ws = sim.venue_ws_url(Venue::Options);
    let rest = sim.venue_rest_url(Venue::Options);
    assert!(ws.starts_with("ws://127.0.0.1:") && rest.starts_with("http://127.0.0.1:"));
    assert_ne!(ws, sim.ws_url());
    assert_eq!(ws.replace("ws://", ""), rest.replace("http://", ""));
    assert_eq!(get_json(&format!("{rest}/eapi/v1/ping")).await, json!({}));
    let time = get_json(&format!("{rest}/eapi/v1/time")).await;
    assert!(time["serverTime"].as_u64().unwrap() >= now);
    let info = get_json(&format!("{rest}/eapi/v1/exchangeInfo")).await;
    let listed: Vec<&str> = info["optionSymbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(listed, symbols);
    let first = &info["optionSymbols"][0];
    for key in [
        "expiryDate",
        "filters",
        "side",
        "strikePrice",
        "underlying",
        "unit",
        "minQty",
        "priceScale",
        "quantityScale",
        "quoteAsset",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert!(
        first["expiryDate"].as_u64().unwrap() > now,
        "expired: {first}"
    );
    assert_eq!(info["optionContracts"][0]["underlying"], "BTCUSDT");
    // Not the futures paths.
    let (status, _, _) = http("GET", &format!("{rest}/fapi/v1/ping")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn market_streams_are_silent_on_public_and_delivered_on_market() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    // The mark price is /market's: accepted on /public and the legacy
    // path, silent there.
    let mut public = open(&sim, "/public/ws/BTC@optionMarkPrice").await;
    let mut legacy = open(&sim, "/ws").await;
    let answer = request(
        &mut legacy,
        json!({"method": "SUBSCRIBE", "params": ["btc@optionMarkPrice"], "id": 1}),
    )
    .await;
    assert_eq!(answer, json!({"result": null, "id": 1}));
    let mut market = open(&sim, "/market/ws/BTC@optionMarkPrice").await;
    // Two pushes on /market (a second apart) after both were subscribed.
    let marks = frames_of(&mut market, "markPrice", 2).await;
    let items = marks[1].as_array().expect("an array");
    assert_eq!(items.len(), 12, "every BTC option: {}", marks[1]);
    assert!(items
        .iter()
        .all(|m| m["s"].as_str().unwrap().starts_with("BTC-")));
    nothing_pending(&mut public, 2).await;
    nothing_pending(&mut legacy, 3).await;
    // Book data is /public's: delivered there and on the legacy path,
    // silent on /market.
    for path in ["/public/stream", "/stream"] {
        let mut ws = open(&sim, &format!("{path}?streams={symbol}@bookTicker")).await;
        let v = next_event(&mut ws).await;
        assert_eq!(v["stream"], format!("{symbol}@bookTicker"), "{path}");
        assert_eq!(v["data"]["e"], "bookTicker");
        assert_eq!(v["data"]["s"], symbol.as_str());
    }
    let mut on_market = open(&sim, &format!("/market/ws/{symbol}@bookTicker")).await;
    let mut on_public = open(&sim, &format!("/public/ws/{symbol}@bookTicker")).await;
    frames_of(&mut on_public, "bookTicker", 5).await;
    nothing_pending(&mut on_market, 4).await;
}

#[tokio::test]
async fn the_stream_field_is_the_name_the_subscriber_wrote() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let lower = format!("{}@bookTicker", symbol.to_lowercase());
    let mut ws = open(&sim, &format!("/public/stream?streams={lower}")).await;
    let v = next_event(&mut ws).await;
    assert_eq!(v["stream"], lower.as_str());
    assert_eq!(v["data"]["s"], symbol.as_str(), "payloads keep upper case");
    let upper = format!("{symbol}@depth@100ms");
    let answer = request(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": [upper], "id": 7}),
    )
    .await;
    assert_eq!(answer, json!({"result": null, "id": 7}));
    let depth = frames_of(&mut ws, "depthUpdate", 1).await;
    assert_eq!(depth[0]["stream"], upper.as_str());
    let listed = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 8})).await;
    assert_eq!(listed["id"], 8);
    assert_eq!(listed["result"].as_array().unwrap().len(), 2, "{listed}");
    // An unknown option, underlying or expiry is refused as Binance refuses
    // an invalid stream; a bad id too.
    for (params, id) in [
        (json!(["BTC-991231-1-C@bookTicker"]), json!(9)),
        (json!(["DOGE@optionMarkPrice"]), json!(10)),
        (json!(["BTC@optionTicker@991231"]), json!(11)),
        (json!([format!("{symbol}@aggTrade")]), json!(12)),
    ] {
        let answer = request(
            &mut ws,
            json!({"method": "SUBSCRIBE", "params": params, "id": id}),
        )
        .await;
        assert_eq!(answer["error"]["code"], 2, "{params}: {answer}");
    }
    let answer = request(
        &mut ws,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": "text"}),
    )
    .await;
    assert_eq!(answer["error"]["code"], 2, "{answer}");
}

/// The book a [`BookSync`] keeps, as (price, quantity) lists.
fn levels(levels: impl Iterator<Item = Level>) -> Vec<(String, String)> {
    levels
        .map(|l| {
            (
                l.price.normalize().to_string(),
                l.quantity.normalize().to_string(),
            )
        })
        .collect()
}

fn truth(v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(p, q)| (p.normalize().to_string(), q.normalize().to_string()))
        .collect()
}

/// §5.4 over the simulator's own diff stream and `/eapi/v1/depth`: the
/// synced book equals the true book at every applied event.
#[tokio::test]
async fn depth_procedure_reaches_the_true_book() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let mut ws = open(
        &sim,
        &format!("/public/stream?streams={symbol}@depth@100ms"),
    )
    .await;
    let mut sync = BookSync::futures();
    let decode = |v: Value| {
        let text = v.to_string();
        let frame = decode_futures(text.as_bytes()).unwrap().into_owned();
        match frame.event {
            FuturesEvent::DepthUpdate(d) => d,
            other => panic!("not depth: {other:?}"),
        }
    };
    for _ in 0..3 {
        sync.push(decode(next_event(&mut ws).await));
    }
    let (mut applied, mut snapshots) = (0, 0);
    while applied < 30 {
        if sync.needs_snapshot() {
            snapshots += 1;
            assert!(
                snapshots <= 3,
                "the procedure keeps failing: {:?}",
                sync.state()
            );
            let snapshot = get_json(&format!(
                "{}/eapi/v1/depth?symbol={symbol}&limit=1000",
                sim.venue_rest_url(Venue::Options)
            ))
            .await;
            let side =
                |k: &str| -> Vec<Level> { serde_json::from_value(snapshot[k].clone()).unwrap() };
            let id = snapshot["lastUpdateId"].as_u64().unwrap();
            for outcome in sync.snapshot(id, &side("bids"), &side("asks")) {
                assert!(!matches!(outcome, Outcome::Gap(_)), "{outcome:?}");
            }
        }
        let event = decode(next_event(&mut ws).await);
        let u = event.final_update_id;
        let outcome = sync.push(event);
        assert!(!matches!(outcome, Outcome::Gap(_)), "{outcome:?}");
        if let Some(book) = sync.book() {
            applied += 1;
            let want = sim
                .venue_true_book(Venue::Options, &symbol, u)
                .expect("truth kept");
            assert_eq!(levels(book.bids()), truth(&want.bids), "bids at {u}");
            assert_eq!(levels(book.asks()), truth(&want.asks), "asks at {u}");
        }
    }
}

#[tokio::test]
async fn pu_is_the_previous_u_on_every_depth_stream() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let names = [
        format!("{symbol}@depth@100ms"),
        format!("{symbol}@depth@500ms"),
        format!("{symbol}@depth10@100ms"),
        format!("{symbol}@depth5@500ms"),
    ];
    let mut ws = open(&sim, &format!("/public/stream?streams={}", names.join("/"))).await;
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    let mut seen = 0;
    while seen < 60 || last.len() < names.len() {
        let v = next_event(&mut ws).await;
        let stream = v["stream"].as_str().unwrap().to_owned();
        let d = &v["data"];
        let (first, u, pu) = (
            d["U"].as_u64().unwrap(),
            d["u"].as_u64().unwrap(),
            d["pu"].as_u64().unwrap(),
        );
        assert!(first <= u, "{v}");
        if let Some(prev) = last.insert(stream.clone(), u) {
            assert_eq!(pu, prev, "{stream}: pu is not the previous u");
            assert_eq!(first, prev + 1, "{stream}: the ids do not tile");
        }
        seen += 1;
    }
}

#[tokio::test]
async fn a_skipped_update_shows_as_a_pu_break() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let faults = sim.faults();
    assert!(!faults.skip_venue_update_ids(Venue::Options, "BTC-991231-1-C", 1));
    let mut ws = open(&sim, &format!("/public/ws/{symbol}@depth@100ms")).await;
    let mut previous = next_event(&mut ws).await["u"].as_u64().unwrap();
    assert!(faults.skip_venue_update_ids(Venue::Options, &symbol, 1));
    let mut events = 0;
    loop {
        let v = next_event(&mut ws).await;
        let (pu, u) = (v["pu"].as_u64().unwrap(), v["u"].as_u64().unwrap());
        if pu != previous {
            assert!(pu > previous, "{v}");
            break;
        }
        previous = u;
        events += 1;
        assert!(events < 20, "no break after the skip");
    }
    let mut previous = next_event(&mut ws).await["u"].as_u64().unwrap();
    for _ in 0..5 {
        let v = next_event(&mut ws).await;
        assert_eq!(v["pu"].as_u64().unwrap(), previous, "{v}");
        previous = v["u"].as_u64().unwrap();
    }
}

#[tokio::test]
async fn rest_depth_answers_binances_errors() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let rest = sim.venue_rest_url(Venue::Options);
    let snapshot = get_json(&format!("{rest}/eapi/v1/depth?symbol={symbol}&limit=10")).await;
    let keys: Vec<&String> = snapshot.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["bids", "asks", "T", "lastUpdateId"]);
    assert!(snapshot["bids"].as_array().unwrap().len() <= 10);
    let price = snapshot["bids"][0][0].as_str().unwrap();
    assert_eq!(price.split_once('.').unwrap().1.len(), 3, "{snapshot}");
    for (query, code) in [
        ("symbol=BTC-991231-1-C", -1121),
        ("symbol=BTCUSDT", -1121),
        ("", -1102),
        (&format!("symbol={symbol}&limit=7") as &str, -1100),
        (&format!("symbol={symbol}&limit=x") as &str, -1100),
    ] {
        let (status, _, body) = http("GET", &format!("{rest}/eapi/v1/depth?{query}")).await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, body["code"].as_i64()),
            (400, Some(code)),
            "{query}: {body}"
        );
        assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // An unknown stream name in the URL is refused with the valid forms.
    let url = format!(
        "{}/public/ws/btc@nonsense",
        sim.venue_ws_url(Venue::Options)
    );
    match tokio_tungstenite::connect_async(url).await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(
                body.contains("btc@nonsense") && body.contains("optionMarkPrice"),
                "{body}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn options_limits_are_their_own() {
    use futures_util::StreamExt;
    let l = Limits::options();
    assert_eq!(
        (
            l.ping_interval.as_secs(),
            l.pong_timeout.as_secs(),
            l.max_incoming_per_second,
            l.max_streams,
            l.max_lifetime.as_secs(),
        ),
        (300, 900, 10, 200, 24 * 3600)
    );
    let sim = busy(Limits {
        ping_interval: Duration::from_millis(100),
        ..Limits::options()
    })
    .await;
    let mut ws = open(&sim, "/market/ws").await;
    tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => return,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("a ping from the options server");
    // 201 streams are refused.
    let symbol = btc_option(&sim);
    let names: Vec<String> = [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h",
    ]
    .iter()
    .flat_map(|i| {
        sim.venue_symbols(Venue::Options)
            .into_iter()
            .map(move |s| format!("{s}@kline_{i}"))
    })
    .take(201)
    .collect();
    assert_eq!(names.len(), 201, "{symbol}");
    let url = format!(
        "{}/market/stream?streams={}",
        sim.venue_ws_url(Venue::Options),
        names.join("/")
    );
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    let url = format!(
        "{}/market/stream?streams={}",
        sim.venue_ws_url(Venue::Options),
        names[..200].join("/")
    );
    connect(&url).await;
}

#[tokio::test]
async fn faults_reach_options_connections() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let mut ws = open(
        &sim,
        &format!("/public/stream?streams={symbol}@bookTicker/{symbol}@depth@100ms"),
    )
    .await;
    frames_of(&mut ws, "depthUpdate", 1).await;
    let faults = sim.faults();
    assert_eq!(
        faults.silence_venue_stream(
            Venue::Options,
            &format!("{}@depth@100ms", symbol.to_lowercase())
        ),
        1
    );
    let since = frames_of(&mut ws, "bookTicker", 30).await[29]["data"]["E"]
        .as_u64()
        .unwrap();
    loop {
        let v = next_event(&mut ws).await;
        assert_eq!(v["stream"], format!("{symbol}@bookTicker"), "{v}");
        if v["data"]["E"].as_u64().unwrap() >= since + 500 {
            break;
        }
    }
    faults.clear();
    frames_of(&mut ws, "depthUpdate", 1).await;
    assert_eq!(
        faults.drop_all(binance_sim::DropMode::Close {
            code: 1001,
            reason: "bye".into()
        }),
        1
    );
    assert_eq!(ending(&mut ws).await, Ok((1001, "bye".into())));
}
