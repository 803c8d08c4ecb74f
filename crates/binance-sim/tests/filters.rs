//! exchangeInfo's symbol filters, laid out as Binance's own BTCUSDT entry
//! (`shared/captures/BINANCE.0`), and orders checked against every one of
//! them with Binance's error (`-1013 Filter failure: <FILTER>`).

mod support;

use binance_sim::engine::SymbolSpec;
use binance_sim::{AccountSpec, MarketConfig, Sim, SimConfig, Wallet};
use binance_types::sign::hmac_sha256_hex;
use rust_decimal::Decimal;
use serde_json::Value;
use support::*;

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn btcusdt(info: &Value) -> &Value {
    info["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "BTCUSDT")
        .unwrap()
}

#[tokio::test]
async fn exchange_info_filters_are_laid_out_as_binances_btcusdt() {
    let capture = std::fs::read_to_string(shared().join("captures/BINANCE.0")).unwrap();
    let binance: Value =
        serde_json::from_str(capture.lines().next().unwrap().split_once(": ").unwrap().1).unwrap();
    let sim = sim().await;
    let ours = get_json(&format!("{}/api/v3/exchangeInfo", sim.rest_url())).await;
    let (ours, binance) = (btcusdt(&ours), btcusdt(&binance));
    assert_eq!(keys(ours), keys(binance));
    let filters = |entry: &Value| entry["filters"].as_array().unwrap().clone();
    let (ours, binance) = (filters(ours), filters(binance));
    let kinds = |f: &[Value]| {
        f.iter()
            .map(|f| f["filterType"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&ours), kinds(&binance));
    for (ours, binance) in ours.iter().zip(&binance) {
        assert_eq!(keys(ours), keys(binance), "{}", binance["filterType"]);
        assert_eq!(shape(ours), shape(binance), "{}", binance["filterType"]);
    }
}

#[tokio::test]
async fn orders_are_checked_against_every_filter() {
    // One open order at most, to reach MAX_NUM_ORDERS quickly.
    let spec = SymbolSpec::builtin()
        .into_iter()
        .find(|s| s.symbol == "BTCUSDT")
        .unwrap();
    let mut entry = binance_sim::exchange_info::entry(&spec);
    for f in entry["filters"].as_array_mut().unwrap() {
        if f["filterType"] == "MAX_NUM_ORDERS" {
            f["maxNumOrders"] = 1.into();
        }
    }
    let mut market = MarketConfig::default();
    market.exchange_info.insert("BTCUSDT".into(), entry);
    let sim = Sim::start(SimConfig {
        market,
        accounts: vec![AccountSpec::hmac("k", "s")
            .balance(Wallet::Spot, "USDT", Decimal::from(10_000_000))
            .balance(Wallet::Spot, "BTC", Decimal::from(1_000_000))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // PERCENT_PRICE needs the average price: wait for trades.
    while sim.trades("BTCUSDT").is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let place = |query: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let query = format!("symbol=BTCUSDT&{query}&timestamp={now}");
        let signature = hmac_sha256_hex(b"s", query.as_bytes());
        let url = format!(
            "{}/api/v3/order?{query}&signature={signature}",
            sim.rest_url()
        );
        async move { http_with("POST", &url, &[("X-MBX-APIKEY", "k")]).await }
    };
    let limit = "side=BUY&type=LIMIT&timeInForce=GTC";
    for (query, filter) in [
        (
            format!("{limit}&price=40000.005&quantity=0.001"),
            "PRICE_FILTER",
        ),
        (
            format!("{limit}&price=1000&quantity=0.001"),
            "PERCENT_PRICE",
        ),
        (format!("{limit}&price=40000&quantity=0.000001"), "LOT_SIZE"),
        (
            format!("{limit}&price=40000&quantity=0.0001"),
            "MIN_NOTIONAL",
        ),
        (
            "side=SELL&type=MARKET&quantity=200000".to_owned(),
            "MARKET_LOT_SIZE",
        ),
    ] {
        let (status, _, body) = place(&query).await;
        assert_eq!(status, 400, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], -1013, "{query}: {body}");
        assert_eq!(v["msg"], format!("Filter failure: {filter}"), "{query}");
    }
    let (status, _, body) = place(&format!("{limit}&price=40000&quantity=0.001")).await;
    assert_eq!(status, 200, "{body}");
    let (_, _, body) = place(&format!("{limit}&price=40000&quantity=0.001")).await;
    assert!(body.contains("Filter failure: MAX_NUM_ORDERS"), "{body}");
}
