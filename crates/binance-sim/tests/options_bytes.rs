//! Options frames as Binance writes them: for every stream of §7 the
//! simulator emits, a frame's keys in order, its value types and (where
//! Binance's example is of the same precision as the simulated options:
//! prices with three decimals, quantities with four) the decimals of its
//! numeric strings equal those of Binance's example of the same type
//! (`vectors/options`). The mark-price example mixes precisions (`"770.543"`,
//! `"1249.61"`) and the kline example is of the old options system
//! (`"1000"`): those are compared without decimals.

mod support;

use std::time::Duration;

use binance_sim::{FuturesConfig, OptionsConfig, Sim, SimConfig, Venue};
use serde_json::Value;
use support::*;

async fn sim() -> Sim {
    Sim::start(SimConfig {
        futures: FuturesConfig::off(),
        options: OptionsConfig {
            actions_per_second: 500,
            open_interest_every: Duration::from_millis(500),
            ..OptionsConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

fn options_vector(name: &str) -> Value {
    any_vector(&format!("options/{name}.json"))
}

/// The first item of an array frame.
fn first(v: &Value) -> &Value {
    v.as_array()
        .and_then(|a| a.first())
        .unwrap_or_else(|| panic!("an array: {v}"))
}

fn as_str(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn option_frames_have_binances_bytes() {
    let sim = sim().await;
    let base = sim.venue_ws_url(Venue::Options);
    let symbol = sim
        .venue_symbols(Venue::Options)
        .into_iter()
        .find(|s| s.starts_with("BTC-"))
        .unwrap();
    let expiry = symbol.split('-').nth(1).unwrap().to_owned();
    let s = symbol.as_str();
    let public_names = [
        format!("{s}@optionTicker"),
        format!("BTC@optionTicker@{expiry}"),
        format!("{s}@optionTrade"),
        "BTC@optionTrade".to_owned(),
        format!("{s}@bookTicker"),
        format!("{s}@depth10@100ms"),
        format!("{s}@depth@100ms"),
    ];
    let market_names = [
        "BTC@optionMarkPrice".to_owned(),
        "!index@arr".to_owned(),
        format!("{s}@kline_1m"),
        format!("BTC@optionOpenInterest@{expiry}"),
        "!optionSymbol".to_owned(),
    ];
    let public = first_frames(&format!("{base}/public/stream"), &as_str(&public_names)).await;
    let market = first_frames(&format!("{base}/market/stream"), &as_str(&market_names)).await;
    let got = |name: &str| -> &Value {
        public
            .get(name)
            .or_else(|| market.get(name))
            .unwrap_or_else(|| panic!("no frame of {name}"))
    };
    let ticker = options_vector("optionTicker");
    same("optionTicker", got(&public_names[0]), &ticker, true);
    same(
        "optionTicker@expiry",
        first(got(&public_names[1])),
        &ticker,
        true,
    );
    let trade = options_vector("optionTrade");
    same("optionTrade", got(&public_names[2]), &trade, true);
    same(
        "underlying optionTrade",
        got(&public_names[3]),
        &trade,
        true,
    );
    same(
        "bookTicker",
        got(&public_names[4]),
        &options_vector("bookTicker"),
        true,
    );
    same(
        "depth10",
        got(&public_names[5]),
        &options_vector("depth_partial"),
        true,
    );
    same(
        "depth",
        got(&public_names[6]),
        &options_vector("depthUpdate"),
        true,
    );
    let marks = options_vector("optionMarkPrice_arr");
    same("optionMarkPrice", got(&market_names[0]), &marks, false);
    same(
        "!index@arr",
        got(&market_names[1]),
        &options_vector("indexPrice_arr"),
        true,
    );
    same(
        "kline",
        got(&market_names[2]),
        &options_vector("kline"),
        false,
    );
    let interest = options_vector("openInterest_arr");
    same("optionOpenInterest", got(&market_names[3]), &interest, true);
    same(
        "!optionSymbol",
        got(&market_names[4]),
        &options_vector("optionSymbol"),
        true,
    );
    // Payloads carry the option's own symbol and the underlying's index.
    assert_eq!(got(&public_names[0])["s"], s);
    assert_eq!(
        first(got(&market_names[0]))["s"].as_str().unwrap()[..4],
        *"BTC-"
    );
    let indexes: Vec<&str> = got(&market_names[1])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["s"].as_str().unwrap())
        .collect();
    assert_eq!(indexes, ["BTCUSDT", "ETHUSDT"]);
    assert!(first(got(&public_names[1]))["s"]
        .as_str()
        .unwrap()
        .starts_with(&format!("BTC-{expiry}-")));
}
