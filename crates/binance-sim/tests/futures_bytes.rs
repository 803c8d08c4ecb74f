//! Futures frames as Binance writes them: for every stream the simulator
//! emits, a frame's keys in order, its value types and the decimals of its
//! numeric strings equal those of a recorded frame (`captures/BINANCE_FUTURES.ws.1.0`,
//! `BINANCE_DELIVERY.ws.1.0`) or of Binance's example (`vectors/futures`,
//! `vectors/coinm`) of the same type, for a contract with the same spec.
//! Where an example's numbers belong to no real contract spec, keys and
//! types are compared without decimals.

mod support;

use binance_sim::engine::SymbolSpec;
use binance_sim::futures::PERPETUAL_DELIVERY_MS;
use binance_sim::{ContractSpec, FuturesConfig, Sim, SimConfig, Venue};
use serde_json::Value;
use support::*;

/// A contract with the spec of a recorded one.
#[allow(clippy::too_many_arguments)]
fn recorded(
    symbol: &str,
    base: &str,
    quote: &str,
    tick: &str,
    initial: &str,
    pair: &str,
    size: u32,
    price_precision: u32,
) -> ContractSpec {
    ContractSpec {
        spec: SymbolSpec::from_strs(symbol, base, quote, tick, "1", "1", tick, "100000", initial),
        pair: pair.into(),
        contract_type: "PERPETUAL".into(),
        delivery_ms: PERPETUAL_DELIVERY_MS,
        onboard_ms: 1_569_398_400_000,
        contract_size: size,
        price_precision,
        quantity_precision: 0,
    }
}

async fn sim() -> Sim {
    let mut usdm = ContractSpec::usdm_builtin();
    // SUSHIUSDT as recorded: tick 0.0010, pricePrecision 4, whole contracts.
    usdm.push(recorded(
        "SUSHIUSDT",
        "SUSHI",
        "USDT",
        "0.0010",
        "7.6110",
        "SUSHIUSDT",
        1,
        4,
    ));
    let mut coinm = ContractSpec::coinm_builtin();
    // BCHUSD_PERP as recorded: tick 0.01, pricePrecision 2, 10 USD a contract.
    coinm.push(recorded(
        "BCHUSD_PERP",
        "BCH",
        "USD",
        "0.01",
        "427.90",
        "BCHUSD",
        10,
        2,
    ));
    Sim::start(SimConfig {
        futures: FuturesConfig {
            usdm,
            coinm,
            actions_per_second: 1000,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// The first recorded frame of `stream` in a capture.
fn captured(file: &str, stream: &str) -> Value {
    let text = std::fs::read_to_string(shared().join("captures").join(file)).unwrap();
    for line in text.lines().skip(1) {
        let Some((_, frame)) = line.split_once(": ") else {
            continue;
        };
        let v: Value = serde_json::from_str(frame).unwrap();
        if v["stream"] == stream {
            let data = v["data"].clone();
            let full = ["b", "a"].iter().all(|k| {
                data.get(*k)
                    .and_then(Value::as_array)
                    .is_none_or(|a| !a.is_empty())
            });
            if full {
                return data;
            }
        }
    }
    panic!("{file}: no frame of {stream}");
}

/// Without `nq` (USD-M's RPI-free quantity, added after the capture was
/// recorded), which must follow `q` and equal it.
fn without_nq(v: &Value) -> Value {
    let mut v = v.clone();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let q = keys.iter().position(|k| *k == "q").unwrap();
    assert_eq!(keys[q + 1], "nq", "{v}");
    assert_eq!(v["nq"], v["q"]);
    v.as_object_mut().unwrap().shift_remove("nq");
    v
}

#[tokio::test]
async fn usdm_frames_have_binances_bytes() {
    let sim = sim().await;
    let base = sim.venue_ws_url(Venue::UsdM);
    let public = first_frames(
        &format!("{base}/public/stream"),
        &[
            "sushiusdt@depth@100ms",
            "sushiusdt@bookTicker",
            "btcusdt@depth5@100ms",
            "btcusdt@rpiDepth@500ms",
            "!bookTicker",
        ],
    )
    .await;
    let market = first_frames(
        &format!("{base}/market/stream"),
        &[
            "sushiusdt@aggTrade",
            "sushiusdt@kline_1m",
            "btcusdt@markPrice@1s",
            "!markPrice@arr@1s",
            "btcusdt_perpetual@continuousKline_1m",
            "btcusdt@miniTicker",
            "btcusdt@ticker",
            "!miniTicker@arr",
            "!ticker@arr",
            "!forceOrder@arr",
        ],
    )
    .await;
    let file = "BINANCE_FUTURES.ws.1.0";
    // Recorded frames of a contract with the same spec: everything equal.
    for stream in [
        "sushiusdt@depth@100ms",
        "sushiusdt@bookTicker",
        "sushiusdt@kline_1m",
    ] {
        let ours = public.get(stream).or(market.get(stream)).unwrap();
        same(stream, ours, &captured(file, stream), true);
    }
    same(
        "aggTrade",
        &without_nq(&market["sushiusdt@aggTrade"]),
        &captured(file, "sushiusdt@aggTrade"),
        true,
    );
    // Any contract's: keys and types.
    same(
        "!bookTicker",
        &public["!bookTicker"],
        &captured(file, "sushiusdt@bookTicker"),
        false,
    );
    // Binance's examples of BTCUSDT (pricePrecision 2, quantityPrecision 3).
    let v = |name: &str| any_vector(&format!("futures/{name}"));
    same(
        "depth5",
        &public["btcusdt@depth5@100ms"],
        &v("depth_partial.json"),
        true,
    );
    same(
        "markPrice",
        &market["btcusdt@markPrice@1s"],
        &v("markPriceUpdate.json"),
        true,
    );
    same(
        "!markPrice@arr",
        &market["!markPrice@arr@1s"],
        &v("markPriceUpdate_arr.json"),
        true,
    );
    same(
        "continuousKline",
        &market["btcusdt_perpetual@continuousKline_1m"],
        &v("continuous_kline.json"),
        true,
    );
    // Examples whose numbers fit no real spec: keys and types.
    same(
        "rpiDepth",
        &public["btcusdt@rpiDepth@500ms"],
        &v("rpiDepthUpdate.json"),
        false,
    );
    same(
        "miniTicker",
        &market["btcusdt@miniTicker"],
        &v("miniTicker.json"),
        false,
    );
    same(
        "ticker",
        &market["btcusdt@ticker"],
        &v("ticker.json"),
        false,
    );
    same(
        "!miniTicker@arr",
        &market["!miniTicker@arr"],
        &v("miniTicker_arr.json"),
        false,
    );
    same(
        "!ticker@arr",
        &market["!ticker@arr"],
        &v("ticker_arr.json"),
        false,
    );
    same(
        "forceOrder",
        &market["!forceOrder@arr"],
        &v("forceOrder_arr_item.json"),
        false,
    );
}

#[tokio::test]
async fn coinm_frames_have_binances_bytes() {
    let sim = sim().await;
    let base = sim.venue_ws_url(Venue::CoinM);
    let frames = first_frames(
        &format!("{base}/stream"),
        &[
            "bchusd_perp@depth@100ms",
            "bchusd_perp@bookTicker",
            "bchusd_perp@aggTrade",
            "bchusd_perp@kline_1m",
            "btcusd_perp@depth5@100ms",
            "btcusd_261225@markPrice@1s",
            "btcusd@markPrice@1s",
            "btcusd@indexPrice@1s",
            "btcusd_current_quarter@continuousKline_1m",
            "btcusd_perp@miniTicker",
            "btcusd_perp@ticker",
            "btcusd_perp@forceOrder",
            "btcusd_perp@markPriceKline_1m",
            "btcusd@indexPriceKline_1m",
        ],
    )
    .await;
    let file = "BINANCE_DELIVERY.ws.1.0";
    for stream in [
        "bchusd_perp@depth@100ms",
        "bchusd_perp@bookTicker",
        "bchusd_perp@aggTrade",
        "bchusd_perp@kline_1m",
    ] {
        same(stream, &frames[stream], &captured(file, stream), true);
    }
    // Binance's examples of BTCUSD contracts (pricePrecision 1, whole contracts).
    let v = |name: &str| any_vector(&format!("coinm/{name}"));
    for (stream, vector) in [
        ("btcusd_perp@depth5@100ms", "depth_partial.json"),
        ("btcusd_261225@markPrice@1s", "markPriceUpdate.json"),
        ("btcusd@markPrice@1s", "markPriceUpdate_pair_arr.json"),
        ("btcusd@indexPrice@1s", "indexPriceUpdate.json"),
        (
            "btcusd_current_quarter@continuousKline_1m",
            "continuous_kline.json",
        ),
        ("btcusd_perp@miniTicker", "miniTicker.json"),
        ("btcusd_perp@ticker", "ticker.json"),
        ("btcusd_perp@forceOrder", "forceOrder.json"),
        ("btcusd_perp@markPriceKline_1m", "markPrice_kline.json"),
        ("btcusd@indexPriceKline_1m", "indexPrice_kline.json"),
    ] {
        same(stream, &frames[stream], &v(vector), true);
    }
}
