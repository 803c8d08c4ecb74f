//! The truth's history window: old history is dropped, what is inside the
//! window still answers, and what is outside gets a clear answer.

mod support;

use binance_sim::{MarketConfig, Sim, SimConfig};
use serde_json::{json, Value};
use support::*;

/// Two seconds or more at 5000 actions a second: the current 1s candle is
/// always whole.
const WINDOW: u64 = 10_000;

#[tokio::test]
async fn old_history_is_dropped_and_the_window_still_answers() {
    let sim = Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 5_000,
            symbols: MarketConfig::default()
                .symbols
                .into_iter()
                .filter(|s| s.symbol == "BTCUSDT")
                .collect(),
            ..MarketConfig::default()
        },
        history: Some(WINDOW),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let url = format!(
        "{}/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade",
        sim.ws_url()
    );
    let mut ws = connect(&url).await;
    // Run the market well past the window: its oldest ids must be gone.
    let (mut last_u, mut last_agg) = (0, Value::Null);
    while last_u < 3 * WINDOW || last_agg.is_null() {
        let v = next_json(&mut ws).await;
        match v["stream"].as_str() {
            Some("btcusdt@depth@100ms") => last_u = v["data"]["u"].as_u64().unwrap(),
            _ => last_agg = v["data"].clone(),
        }
    }
    let start = sim.history_start("BTCUSDT").unwrap();
    assert!(start > WINDOW, "history starts at {start}");
    assert!(start + WINDOW <= last_u + 1);

    // Inside the window: the true book and the trades made there.
    assert!(sim.true_book("BTCUSDT", last_u).is_some());
    assert!(sim.true_book("BTCUSDT", start).is_some());
    let trades = sim.trades("BTCUSDT");
    assert!(!trades.is_empty());
    assert!(trades.iter().all(|f| f.update_id >= start));
    // Outside it: nothing.
    assert_eq!(sim.true_book("BTCUSDT", start - 1), None);
    assert_eq!(sim.true_book("BTCUSDT", 1), None);

    // REST answers inside the window, with the ids the streams used.
    let rest = sim.rest_url();
    let a = last_agg["a"].as_u64().unwrap();
    let aggs = get_json(&format!(
        "{rest}/api/v3/aggTrades?symbol=BTCUSDT&fromId={a}&limit=1"
    ))
    .await;
    for key in ["a", "p", "q", "f", "l", "T", "m"] {
        assert_eq!(aggs[0][key], last_agg[key], "{key}");
    }
    let latest = get_json(&format!("{rest}/api/v3/trades?symbol=BTCUSDT&limit=5")).await;
    assert_eq!(latest.as_array().unwrap().len(), 5);
    let klines = get_json(&format!("{rest}/api/v3/klines?symbol=BTCUSDT&interval=1s")).await;
    assert!(!klines.as_array().unwrap().is_empty());

    // And a Binance-shaped error before it.
    let now = binance_sim::market::now_ms();
    for query in [
        "aggTrades?symbol=BTCUSDT&fromId=1".to_owned(),
        format!("aggTrades?symbol=BTCUSDT&startTime={}", now - 600_000),
        format!("aggTrades?symbol=BTCUSDT&endTime={now}"),
        "klines?symbol=BTCUSDT&interval=1s&startTime=0".to_owned(),
    ] {
        let (status, _, body) = http("GET", &format!("{rest}/api/v3/{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], json!(-1130), "{query}: {body}");
    }
    let (status, _, body) = http(
        "GET",
        &format!("{}/book?symbol=BTCUSDT&update_id=1", sim.admin_url()),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("older than the history window"), "{body}");
}
