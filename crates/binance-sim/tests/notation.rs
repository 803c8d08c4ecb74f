//! Numbers written as Binance spot writes them, checked against the bytes
//! Binance sent (`shared/captures/BINANCE.*`): for every field that holds a
//! number in a string, the simulator uses the same count of decimals.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::*;

/// Decimal places of each number-in-a-string, by field path (array items
/// share one path, `[]`).
type Places = BTreeMap<String, BTreeSet<usize>>;

fn places(v: &Value) -> Places {
    fn walk(v: &Value, path: String, out: &mut Places) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| walk(v, format!("{path}.{k}"), out)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, format!("{path}[]"), out)),
            Value::String(s) if is_number(s) => {
                let decimals = s.split_once('.').map_or(0, |(_, f)| f.len());
                out.entry(path).or_default().insert(decimals);
            }
            _ => {}
        }
    }
    let mut out = Places::new();
    walk(v, String::new(), &mut out);
    out
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Every numeric field the simulator writes must be one Binance writes, with
/// the same decimals.
fn assert_written_alike(what: &str, ours: &Places, binance: &Places) {
    for (path, decimals) in ours {
        let theirs = binance
            .get(path)
            .unwrap_or_else(|| panic!("{what}: Binance has no numeric field {path}"));
        assert!(
            decimals.is_subset(theirs),
            "{what} {path}: the simulator writes {decimals:?} decimals, Binance {theirs:?}"
        );
    }
}

fn merge(into: &mut Places, from: Places) {
    for (k, v) in from {
        into.entry(k).or_default().extend(v);
    }
}

/// The bodies of a REST capture (`URL -> TIME: BODY` lines) whose URL contains `url_part`.
fn rest_capture(file: &str, url_part: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(shared().join("captures").join(file)).unwrap();
    text.lines()
        .filter(|l| l.split(" -> ").next().is_some_and(|u| u.contains(url_part)))
        .map(|l| serde_json::from_str(l.split_once(": ").unwrap().1).unwrap())
        .collect()
}

/// The capture's stream frames by stream kind (`depth@100ms`, `bookTicker`, …).
fn stream_capture(file: &str) -> BTreeMap<String, Places> {
    let text = std::fs::read_to_string(shared().join("captures").join(file)).unwrap();
    let mut out: BTreeMap<String, Places> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let frame: Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
        let kind = stream_kind(frame["stream"].as_str().unwrap());
        merge(out.entry(kind).or_default(), places(&frame["data"]));
    }
    out
}

fn stream_kind(stream: &str) -> String {
    stream.split_once('@').unwrap().1.to_owned()
}

#[tokio::test]
async fn streams_write_numbers_as_binance_spot_does() {
    let binance = stream_capture("BINANCE.ws.1.0");
    let sim = sim().await;
    let kinds = ["depth@100ms", "bookTicker", "kline_1m", "aggTrade"];
    let names: Vec<String> = kinds.iter().map(|k| format!("btcusdt@{k}")).collect();
    let mut ws = connect(&format!(
        "{}/stream?streams={}",
        sim.ws_url(),
        names.join("/")
    ))
    .await;
    let mut ours: BTreeMap<String, Places> = BTreeMap::new();
    let mut removals = 0;
    // Enough frames that each kind shows up, and so do removed levels.
    while ours.len() < kinds.len() || removals == 0 {
        let frame = next_json(&mut ws).await;
        let kind = stream_kind(frame["stream"].as_str().unwrap());
        for side in ["b", "a"] {
            if let Some(levels) = frame["data"][side].as_array() {
                removals += levels
                    .iter()
                    .filter(|l| l[1].as_str().unwrap().parse::<f64>() == Ok(0.0))
                    .count();
            }
        }
        merge(ours.entry(kind).or_default(), places(&frame["data"]));
    }
    for (kind, ours) in &ours {
        assert_written_alike(kind, ours, &binance[kind]);
    }
}

#[tokio::test]
async fn rest_depth_and_exchange_info_write_numbers_as_binance_spot_does() {
    let sim = sim().await;
    let mut binance = Places::new();
    for snapshot in rest_capture("BINANCE.http.0.0", "/api/v3/depth") {
        merge(&mut binance, places(&snapshot));
    }
    let ours = get_json(&format!(
        "{}/api/v3/depth?symbol=BTCUSDT&limit=1000",
        sim.rest_url()
    ))
    .await;
    assert_written_alike("depth", &places(&ours), &binance);

    let info = &rest_capture("BINANCE.0", "exchangeInfo")[0];
    let btc = |info: &Value| {
        info["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["symbol"] == "BTCUSDT")
            .cloned()
            .unwrap()
    };
    let ours = get_json(&format!("{}/api/v3/exchangeInfo", sim.rest_url())).await;
    assert_written_alike("exchangeInfo", &places(&btc(&ours)), &places(&btc(info)));
}
