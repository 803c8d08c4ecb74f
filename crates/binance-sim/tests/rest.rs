//! The REST endpoints: Binance's answers, errors and request weights.

mod support;

use binance_sim::Limits;
use serde_json::json;
use support::*;

#[tokio::test]
async fn depth_weights_and_errors() {
    let sim = sim().await;
    let (status, headers, body) = http(
        "GET",
        &format!("{}/api/v3/depth?symbol=BTCUSDT&limit=5", sim.rest_url()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let used = |h: &Vec<(String, String)>| {
        h.iter()
            .find(|(k, _)| k == "x-mbx-used-weight-1m")
            .map(|(_, v)| v.parse::<u32>().unwrap())
    };
    let first = used(&headers).expect("weight header");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["bids"].as_array().unwrap().len(), 5);
    assert_eq!(shape(&v), shape(&vector("rest_depth_snapshot.json")));
    let (_, headers, _) = http(
        "GET",
        &format!("{}/api/v3/depth?symbol=BTCUSDT&limit=5000", sim.rest_url()),
    )
    .await;
    assert_eq!(used(&headers).unwrap(), first + 250);
    let (status, _, body) = http(
        "GET",
        &format!("{}/api/v3/depth?symbol=NOPE", sim.rest_url()),
    )
    .await;
    assert_eq!(
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        ),
        (400, json!({"code":-1121,"msg":"Invalid symbol."}))
    );
    let (status, _, body) = http("GET", &format!("{}/api/v3/depth", sim.rest_url())).await;
    assert_eq!(status, 400);
    assert!(body.contains("-1102"), "{body}");
}

#[tokio::test]
async fn over_the_weight_limit_is_429_with_retry_after() {
    let sim = sim_with(Limits {
        rest_weight_per_minute: 12,
        ..Limits::default()
    })
    .await;
    for _ in 0..2 {
        let (status, _, _) = http(
            "GET",
            &format!("{}/api/v3/depth?symbol=BTCUSDT", sim.rest_url()),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, headers, body) = http(
        "GET",
        &format!("{}/api/v3/depth?symbol=BTCUSDT", sim.rest_url()),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("-1003"), "{body}");
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
}

#[tokio::test]
async fn trades_and_agg_trades_match_the_trade_log() {
    let sim = sim().await;
    // Wait for trades through the stream (an event, not a sleep).
    let mut ws = connect(&format!("{}/ws/btcusdt@aggTrade", sim.ws_url())).await;
    let mut streamed = Vec::new();
    while streamed.len() < 5 || sim.trades("BTCUSDT").len() < 10 {
        streamed.push(next_json(&mut ws).await);
    }
    let trades = get_json(&format!(
        "{}/api/v3/trades?symbol=BTCUSDT&limit=10",
        sim.rest_url()
    ))
    .await;
    let trades = trades.as_array().unwrap();
    assert_eq!(trades.len(), 10);
    let log = sim.trades("BTCUSDT");
    for t in trades {
        let fill = log
            .iter()
            .find(|f| f.trade_id == t["id"].as_u64().unwrap())
            .unwrap();
        assert_eq!(t["price"], json!(format!("{:.8}", fill.price)));
        assert_eq!(t["quoteQty"], json!(format!("{:.8}", fill.quote_qty)));
    }
    // The REST aggregate trades are the streamed ones, field for field.
    let first_id = streamed[0]["a"].as_u64().unwrap();
    let aggs = get_json(&format!(
        "{}/api/v3/aggTrades?symbol=BTCUSDT&fromId={first_id}&limit=5",
        sim.rest_url()
    ))
    .await;
    for (rest, stream) in aggs.as_array().unwrap().iter().zip(&streamed) {
        for key in ["a", "p", "q", "f", "l", "T", "m", "M"] {
            assert_eq!(rest[key], stream[key], "{key}");
        }
    }
    let (status, _, body) = http(
        "GET",
        &format!(
            "{}/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&endTime=7200000",
            sim.rest_url()
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("-1127"));
}

#[tokio::test]
async fn exchange_info_lists_the_symbols_with_their_filters() {
    let sim = sim().await;
    let info = get_json(&format!("{}/api/v3/exchangeInfo", sim.rest_url())).await;
    let symbols: Vec<&str> = info["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["BNBBTC", "BNBUSDT", "BTCUSDT", "ETHUSDT"]);
    let btc = &info["symbols"][2];
    let price_filter = btc["filters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filterType"] == "PRICE_FILTER")
        .unwrap();
    assert_eq!(price_filter["tickSize"], "0.01000000");
    assert_eq!(info["rateLimits"][0]["limit"], 6000);
}

#[tokio::test]
async fn the_retired_listen_key_endpoint_is_gone() {
    let sim = sim().await;
    let (status, _, _) = http("POST", &format!("{}/api/v3/userDataStream", sim.rest_url())).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn ping_and_time() {
    let sim = sim().await;
    assert_eq!(
        get_json(&format!("{}/api/v3/ping", sim.rest_url())).await,
        json!({})
    );
    let t = get_json(&format!("{}/api/v3/time", sim.rest_url())).await;
    assert!(t["serverTime"].as_u64().unwrap() > 1_700_000_000_000);
}

#[tokio::test]
async fn klines_agree_with_the_kline_stream() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@kline_1s", sim.ws_url())).await;
    let closed = loop {
        let v = next_json(&mut ws).await;
        if v["k"]["x"] == json!(true) && v["k"]["n"].as_u64().unwrap() > 0 {
            break v["k"].clone();
        }
    };
    let t = closed["t"].as_u64().unwrap();
    let rows = get_json(&format!(
        "{}/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime={t}&limit=1",
        sim.rest_url()
    ))
    .await;
    let row = &rows[0];
    assert_eq!(row[0], closed["t"]);
    assert_eq!(row[6], closed["T"]);
    for (i, key) in [
        (1, "o"),
        (2, "h"),
        (3, "l"),
        (4, "c"),
        (5, "v"),
        (7, "q"),
        (8, "n"),
        (9, "V"),
        (10, "Q"),
    ] {
        assert_eq!(row[i], closed[key], "column {i} ({key})");
    }
    let (status, _, body) = http(
        "GET",
        &format!(
            "{}/api/v3/klines?symbol=BTCUSDT&interval=7m",
            sim.rest_url()
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("-1120"), "{body}");
}

/// Every public market-data endpoint real clients call, in the layout of
/// Binance's documented example (keys, their order, value types).
#[tokio::test]
async fn tickers_and_historical_trades_answer_in_binances_layout() {
    let sim = sim().await;
    // Trades first, so the statistics are not empty.
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", sim.rest_url());
        async move { get_json(&url).await }
    };
    for (path, vector) in [
        ("/api/v3/ticker/24hr?symbol=BTCUSDT", "ticker_24hr.json"),
        (
            "/api/v3/ticker/24hr?symbol=BTCUSDT&type=MINI",
            "ticker_24hr_mini.json",
        ),
        (
            "/api/v3/ticker?symbol=BTCUSDT&windowSize=1h",
            "ticker_rolling.json",
        ),
        ("/api/v3/ticker/price?symbol=BTCUSDT", "ticker_price.json"),
        (
            "/api/v3/ticker/bookTicker?symbol=BTCUSDT",
            "ticker_bookTicker.json",
        ),
        ("/api/v3/avgPrice?symbol=BTCUSDT", "avgPrice.json"),
        (
            "/api/v3/historicalTrades?symbol=BTCUSDT&limit=3",
            "trades.json",
        ),
    ] {
        assert_eq!(
            shape(&get(path).await),
            shape(&rest_vector(vector)),
            "{path}"
        );
    }
    // Without `symbol`, every symbol; with `symbols`, those.
    let all = get("/api/v3/ticker/24hr").await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let two = get("/api/v3/ticker/price?symbols=%5B%22BTCUSDT%22,%22BNBBTC%22%5D").await;
    assert_eq!(two.as_array().unwrap().len(), 2, "{two}");
    let first = get("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1&limit=2").await;
    assert_eq!(first[0]["id"], 1, "{first}");
    assert_eq!(first[1]["id"], 2, "{first}");
}

/// A path Binance does not serve gets its front end's 404 page, not an
/// empty body.
#[tokio::test]
async fn unknown_paths_answer_as_binance_does() {
    let sim = sim().await;
    let (status, headers, body) = http("GET", &format!("{}/api/v3/nope", sim.rest_url())).await;
    assert_eq!(status, 404);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "text/html"));
    assert!(body.contains("<title>404 Not Found</title>"), "{body}");
}
