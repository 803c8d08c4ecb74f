//! The USD-M and COIN-M futures markets over real sockets: each venue on its
//! own port, USD-M routed paths (a stream of another route accepted and
//! silent), the §5.4 book procedure run over the simulator's own diff stream
//! and REST snapshot reaching the true book, `pu` continuity, the futures
//! limits, control-request rules, REST weights.

mod support;

use binance_sim::{FuturesConfig, Limits, Sim, SimConfig, Venue};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// A simulator whose futures contracts trade 1000 actions a second.
async fn busy(limits: Limits) -> Sim {
    Sim::start(SimConfig {
        futures: FuturesConfig {
            actions_per_second: 1000,
            limits,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// A connection to `path` on a venue's stream port.
async fn open(sim: &Sim, venue: Venue, path: &str) -> Ws {
    connect(&format!("{}{path}", sim.venue_ws_url(venue))).await
}

#[tokio::test]
async fn each_venue_has_its_own_port_and_symbols() {
    let sim = busy(Limits::futures()).await;
    let (spot, usdm, coinm) = (
        sim.venue_ws_url(Venue::Spot),
        sim.venue_ws_url(Venue::UsdM),
        sim.venue_ws_url(Venue::CoinM),
    );
    assert_eq!(spot, sim.ws_url());
    assert!(usdm != spot && coinm != spot && usdm != coinm);
    assert_eq!(
        sim.venue_rest_url(Venue::UsdM),
        usdm.replace("ws://", "http://")
    );
    assert_eq!(sim.venue_symbols(Venue::UsdM), ["BTCUSDT", "ETHUSDT"]);
    assert_eq!(
        sim.venue_symbols(Venue::CoinM),
        ["BTCUSD_261225", "BTCUSD_PERP", "ETHUSD_PERP"]
    );
    // The same path on each port is its own venue's.
    let mut ws = connect(&format!("{coinm}/ws/btcusd_perp@aggTrade")).await;
    let v = next_event(&mut ws).await;
    assert_eq!(v["s"], "BTCUSD_PERP");
    let (status, _, _) = http(
        "GET",
        &format!("{}/fapi/v1/ping", sim.venue_rest_url(Venue::CoinM)),
    )
    .await;
    assert_eq!(status, 404, "COIN-M serves /dapi, not /fapi");
    let (status, _, body) = http(
        "GET",
        &format!("{}/dapi/v1/ping", sim.venue_rest_url(Venue::CoinM)),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    // Turned off, a venue is not served.
    let off = Sim::start(SimConfig {
        futures: FuturesConfig::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(off.venue_symbols(Venue::UsdM).is_empty());
    assert_eq!(off.venue_ws_url(Venue::UsdM), off.ws_url());
}

#[tokio::test]
async fn market_streams_are_silent_on_public_and_delivered_on_market() {
    let sim = busy(Limits::futures()).await;
    let base = sim.venue_ws_url(Venue::UsdM);
    // Subscribed first, and confirmed before the /market connection opens.
    let mut public = connect(&format!("{base}/public/ws/btcusdt@aggTrade")).await;
    let mut legacy = connect(&format!("{base}/ws")).await;
    let answer = request(
        &mut legacy,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}),
    )
    .await;
    assert_eq!(answer, json!({"result": null, "id": 1}));
    let listed = request(
        &mut public,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 2}),
    )
    .await;
    assert_eq!(listed["result"], json!(["btcusdt@aggTrade"]));
    let mut market = connect(&format!("{base}/market/ws/btcusdt@aggTrade")).await;
    let trades = frames_of(&mut market, "aggTrade", 5).await;
    assert!(trades.iter().all(|t| t["s"] == "BTCUSDT"));
    nothing_pending(&mut public, 3).await;
    nothing_pending(&mut legacy, 4).await;
    // Book data is /public's: delivered there and on the legacy path,
    // silent on /market.
    for url in [
        format!("{base}/public/stream?streams=btcusdt@bookTicker"),
        format!("{base}/stream?streams=btcusdt@bookTicker"),
    ] {
        let mut ws = connect(&url).await;
        let v = next_event(&mut ws).await;
        assert_eq!(v["stream"], "btcusdt@bookTicker", "{url}");
        assert_eq!(v["data"]["e"], "bookTicker");
    }
    let mut book_on_market = connect(&format!("{base}/market/ws/btcusdt@bookTicker")).await;
    let mut book_on_public = connect(&format!("{base}/public/ws/btcusdt@bookTicker")).await;
    frames_of(&mut book_on_public, "bookTicker", 5).await;
    nothing_pending(&mut book_on_market, 5).await;
    // /private accepts and stays silent.
    let mut private = connect(&format!("{base}/private/ws/btcusdt@bookTicker")).await;
    frames_of(&mut book_on_public, "bookTicker", 5).await;
    nothing_pending(&mut private, 6).await;
}

#[tokio::test]
async fn control_requests_follow_the_futures_rules() {
    let sim = busy(Limits::futures()).await;
    let mut ws = open(&sim, Venue::UsdM, "/market/ws").await;
    let bad_id = request(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": "abc"}),
    )
    .await;
    assert_eq!(
        bad_id["error"],
        json!({"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"})
    );
    let negative = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": -1})).await;
    assert_eq!(negative["error"]["code"], 2);
    for unknown in ["btcusdt@trade", "dogeusdt@aggTrade", "btcusd@indexPrice"] {
        let answer = request(
            &mut ws,
            json!({"method": "SUBSCRIBE", "params": [unknown], "id": 7}),
        )
        .await;
        assert_eq!(
            answer,
            json!({"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 7}),
            "{unknown}"
        );
    }
    let (status, _, _) = http(
        "GET",
        &format!(
            "{}/market/ws/btcusdt@trade",
            sim.venue_rest_url(Venue::UsdM)
        ),
    )
    .await;
    assert_eq!(status, 400, "an unknown stream in the URL is refused");
    let ok = request(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@depth5@100ms", "!contractInfo"], "id": 8}),
    )
    .await;
    assert_eq!(ok, json!({"result": null, "id": 8}));
    let property = request(
        &mut ws,
        json!({"method": "GET_PROPERTY", "params": ["combined"], "id": 9}),
    )
    .await;
    assert_eq!(property, json!({"result": false, "id": 9}));
}

#[tokio::test]
async fn more_than_ten_messages_a_second_closes_a_futures_connection() {
    let sim = busy(Limits::futures()).await;
    let url = format!("{}/ws", sim.venue_ws_url(Venue::CoinM));
    // Ten are fine: each is answered.
    let mut calm = connect(&url).await;
    for id in 0..10 {
        list(&mut calm, id).await.unwrap();
    }
    for id in 0..10 {
        assert_eq!(next_json(&mut calm).await["id"], id);
    }
    let mut busy = connect(&url).await;
    for id in 0..11 {
        let _ = list(&mut busy, id).await;
    }
    assert_eq!(
        ending(&mut busy).await,
        Ok((1008, "Too many messages".into()))
    );
}

/// §5.4 over the simulator's own stream and snapshot: the synced book equals
/// the true book at every applied event.
async fn sync_on(venue: Venue, path: &str, symbol: &str) {
    let sim = busy(Limits::futures()).await;
    let prefix = match venue {
        Venue::CoinM => "dapi",
        _ => "fapi",
    };
    let stream_url = format!(
        "{}{path}?streams={}@depth@100ms",
        sim.venue_ws_url(venue),
        symbol.to_lowercase()
    );
    let depth_url = format!("{}/{prefix}/v1/depth", sim.venue_rest_url(venue));
    sync_reaches_the_true_book(&sim, venue, &stream_url, &depth_url, symbol).await;
}

#[tokio::test]
async fn usdm_depth_procedure_reaches_the_true_book() {
    sync_on(Venue::UsdM, "/public/stream", "BTCUSDT").await;
}

#[tokio::test]
async fn coinm_depth_procedure_reaches_the_true_book() {
    sync_on(Venue::CoinM, "/stream", "BTCUSD_261225").await;
}

#[tokio::test]
async fn pu_is_the_previous_u_on_every_depth_stream() {
    let sim = busy(Limits::futures()).await;
    let names = [
        "btcusdt@depth@100ms",
        "btcusdt@depth",
        "btcusdt@depth@500ms",
        "btcusdt@depth5@100ms",
    ];
    let mut ws = connect(&format!(
        "{}/public/stream?streams={}",
        sim.venue_ws_url(Venue::UsdM),
        names.join("/")
    ))
    .await;
    pu_is_the_previous_u(&mut ws, names.len(), 120).await;
}

#[tokio::test]
async fn futures_rest_depth_weights_and_limits() {
    let sim = busy(Limits::futures()).await;
    let rest = sim.venue_rest_url(Venue::UsdM);
    let mut used = 0;
    for (limit, weight) in [(5, 2), (50, 2), (100, 5), (500, 10), (1000, 20)] {
        let (status, headers, body) = http(
            "GET",
            &format!("{rest}/fapi/v1/depth?symbol=BTCUSDT&limit={limit}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        used += weight;
        let header = headers
            .iter()
            .find(|(k, _)| k == "x-mbx-used-weight-1m")
            .map(|(_, v)| v.parse::<u32>().unwrap());
        assert_eq!(header, Some(used), "limit {limit}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["lastUpdateId", "E", "T", "bids", "asks"]);
        assert!(v["bids"].as_array().unwrap().len() <= limit);
    }
    let (status, _, body) = http("GET", &format!("{rest}/fapi/v1/depth?symbol=BTCUSDT")).await;
    assert_eq!(status, 200);
    let default: Value = serde_json::from_str(&body).unwrap();
    assert!(
        default["bids"].as_array().unwrap().len() > 100,
        "default 500"
    );
    let (status, _, _) = http(
        "GET",
        &format!("{rest}/fapi/v1/depth?symbol=BTCUSDT&limit=7"),
    )
    .await;
    assert_eq!(status, 400);
    let coinm = get_json(&format!(
        "{}/dapi/v1/depth?symbol=BTCUSD_PERP&limit=5",
        sim.venue_rest_url(Venue::CoinM)
    ))
    .await;
    let keys: Vec<&String> = coinm.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["lastUpdateId", "E", "T", "symbol", "pair", "bids", "asks"]
    );
    assert_eq!(coinm["pair"], "BTCUSD");
}

#[tokio::test]
async fn futures_rest_is_refused_over_its_weight_limit() {
    let sim = busy(Limits {
        rest_weight_per_minute: 30,
        ..Limits::futures()
    })
    .await;
    let url = format!(
        "{}/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
        sim.venue_rest_url(Venue::UsdM)
    );
    assert_eq!(http("GET", &url).await.0, 200);
    let (status, headers, body) = http("GET", &url).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.iter().any(|(k, _)| k == "retry-after"));
    assert!(body.contains("-1003"), "{body}");
    assert_eq!(sim.rest_refusals(), 1);
}

#[tokio::test]
async fn futures_rest_trades_agg_trades_klines_exchange_info() {
    let sim = busy(Limits::futures()).await;
    let rest = sim.venue_rest_url(Venue::UsdM);
    // Trades happen: wait for one on the stream.
    let mut ws = open(&sim, Venue::UsdM, "/market/ws/btcusdt@aggTrade").await;
    let agg = next_event(&mut ws).await;
    let trades = get_json(&format!("{rest}/fapi/v1/trades?symbol=BTCUSDT&limit=5")).await;
    let keys: Vec<&String> = trades[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "price", "qty", "quoteQty", "time", "isBuyerMaker"]
    );
    let id = agg["a"].as_u64().unwrap();
    let aggs = get_json(&format!(
        "{rest}/fapi/v1/aggTrades?symbol=BTCUSDT&fromId={id}&limit=1"
    ))
    .await;
    assert_eq!(aggs[0]["a"], agg["a"]);
    assert_eq!(aggs[0]["p"], agg["p"]);
    assert_eq!(aggs[0]["q"], agg["q"]);
    let klines = get_json(&format!(
        "{rest}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=2"
    ))
    .await;
    assert_eq!(klines[0].as_array().unwrap().len(), 12);
    let info = get_json(&format!("{rest}/fapi/v1/exchangeInfo")).await;
    assert_eq!(info["futuresType"], "U_MARGINED");
    assert_eq!(info["symbols"][0]["symbol"], "BTCUSDT");
    let coinm = get_json(&format!(
        "{}/dapi/v1/exchangeInfo",
        sim.venue_rest_url(Venue::CoinM)
    ))
    .await;
    assert_eq!(coinm["symbols"][0]["contractSize"], 100);
}

#[tokio::test]
async fn mark_prices_and_funding() {
    let sim = busy(Limits::futures()).await;
    let mut coinm = open(
        &sim,
        Venue::CoinM,
        "/stream?streams=btcusd_261225@markPrice@1s/btcusd@markPrice@1s/btcusd@indexPrice@1s",
    )
    .await;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 {
        let v = next_event(&mut coinm).await;
        let stream = v["stream"].as_str().unwrap().to_owned();
        let d = &v["data"];
        match stream.as_str() {
            "btcusd_261225@markPrice@1s" => {
                assert_eq!(
                    (d["r"].as_str(), d["T"].as_u64()),
                    (Some(""), Some(0)),
                    "{d}"
                );
            }
            "btcusd@markPrice@1s" => {
                let symbols: Vec<&str> = d
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["s"].as_str().unwrap())
                    .collect();
                assert_eq!(symbols, ["BTCUSD_261225", "BTCUSD_PERP"]);
                let perp = &d[1];
                assert_eq!(perp["r"], "0.00010000");
                assert_eq!(perp["T"].as_u64().unwrap() % (8 * 3_600_000), 0);
            }
            "btcusd@indexPrice@1s" => assert_eq!(d["i"], "BTCUSD"),
            other => panic!("{other}"),
        }
        seen.insert(stream);
    }
    let mut usdm = open(&sim, Venue::UsdM, "/market/ws/!markPrice@arr@1s").await;
    let all = next_event(&mut usdm).await;
    let symbols: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["s"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"]);
}

#[tokio::test]
async fn faults_reach_futures_connections() {
    let sim = busy(Limits::futures()).await;
    let mut ws = open(&sim, Venue::UsdM, "/public/ws/btcusdt@bookTicker").await;
    next_event(&mut ws).await;
    assert_eq!(sim.faults().connections().len(), 1);
    assert_eq!(
        sim.faults().drop_all(binance_sim::DropMode::Close {
            code: 1001,
            reason: "bye".into()
        }),
        1
    );
    assert_eq!(ending(&mut ws).await, Ok((1001, "bye".into())));
}

#[tokio::test]
async fn a_skipped_update_shows_as_a_pu_gap() {
    let sim = busy(Limits::futures()).await;
    let faults = sim.faults();
    assert!(!faults.skip_venue_update_ids(Venue::UsdM, "DOGEUSDT", 1));
    let mut ws = open(&sim, Venue::UsdM, "/public/ws/btcusdt@depth@100ms").await;
    a_skip_breaks_pu_once(&sim, Venue::UsdM, &mut ws, "BTCUSDT").await;
}

#[tokio::test]
async fn futures_limits_are_their_own_and_configurable() {
    use futures_util::StreamExt;
    assert_eq!(
        (
            Limits::futures().ping_interval.as_secs(),
            Limits::futures().pong_timeout.as_secs(),
            Limits::futures().max_incoming_per_second,
            Limits::futures().max_streams,
        ),
        (180, 600, 10, 1024)
    );
    let sim = busy(Limits {
        ping_interval: std::time::Duration::from_millis(100),
        ..Limits::futures()
    })
    .await;
    let mut ws = open(&sim, Venue::UsdM, "/market/ws").await;
    let ping = tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(payload))) => return payload,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("a ping from the futures server");
    assert_eq!(ping.len(), 8);
}

#[tokio::test]
async fn a_silenced_futures_stream_stops_while_the_others_flow() {
    let sim = busy(Limits::futures()).await;
    let mut ws = open(
        &sim,
        Venue::CoinM,
        "/stream?streams=btcusd_perp@bookTicker/btcusd_perp@depth@100ms",
    )
    .await;
    frames_of(&mut ws, "depthUpdate", 1).await;
    let faults = sim.faults();
    assert_eq!(
        faults.silence_venue_stream(Venue::CoinM, "BTCUSD_PERP@depth@100ms"),
        1
    );
    // Whatever was queued before drains; then for half a second of the
    // market's time (five depth windows) only bookTickers come.
    let since = frames_of(&mut ws, "bookTicker", 50).await[49]["data"]["E"]
        .as_u64()
        .unwrap();
    loop {
        let v = next_event(&mut ws).await;
        assert_eq!(v["stream"], "btcusd_perp@bookTicker", "{v}");
        if v["data"]["E"].as_u64().unwrap() >= since + 500 {
            break;
        }
    }
    faults.clear();
    frames_of(&mut ws, "depthUpdate", 1).await;
}
