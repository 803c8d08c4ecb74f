//! The options market over real sockets: its own port and symbols, routed
//! paths (a `/market` stream on `/public` accepted and silent), the §5.4
//! book procedure over the simulator's own diff stream and `/eapi/v1/depth`
//! snapshot reaching the true book, `pu` continuity and a skipped update
//! as a `pu` break, the names a subscriber wrote carried back, REST errors,
//! the options limits, faults.

mod support;

use std::time::Duration;

use binance_sim::{FuturesConfig, Limits, OptionsConfig, Sim, SimConfig, Venue};
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

/// §5.4 over the simulator's own diff stream and `/eapi/v1/depth`: the
/// synced book equals the true book at every applied event.
#[tokio::test]
async fn depth_procedure_reaches_the_true_book() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let stream_url = format!(
        "{}/public/stream?streams={symbol}@depth@100ms",
        sim.venue_ws_url(Venue::Options)
    );
    let depth_url = format!("{}/eapi/v1/depth", sim.venue_rest_url(Venue::Options));
    sync_reaches_the_true_book(&sim, Venue::Options, &stream_url, &depth_url, &symbol).await;
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
    pu_is_the_previous_u(&mut ws, names.len(), 60).await;
}

#[tokio::test]
async fn a_skipped_update_shows_as_a_pu_break() {
    let sim = busy(Limits::options()).await;
    let symbol = btc_option(&sim);
    let faults = sim.faults();
    assert!(!faults.skip_venue_update_ids(Venue::Options, "BTC-991231-1-C", 1));
    let mut ws = open(&sim, &format!("/public/ws/{symbol}@depth@100ms")).await;
    a_skip_breaks_pu_once(&sim, Venue::Options, &mut ws, &symbol).await;
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
