//! The stream server as a plain WebSocket client sees it: Binance's frame
//! shapes, control messages, and streams that agree with the true book.

mod support;

use std::collections::BTreeMap;

use binance_types::{frame, Event, OrderBook};
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn frames_have_the_keys_and_types_of_binance_vectors() {
    let sim = sim().await;
    let streams = [
        ("btcusdt@trade", "trade.json"),
        ("btcusdt@aggTrade", "aggTrade.json"),
        ("btcusdt@bookTicker", "bookTicker.json"),
        ("btcusdt@depth@100ms", "depthUpdate.json"),
        ("btcusdt@depth5@100ms", "depth_partial.json"),
        ("btcusdt@depth", "depthUpdate.json"),
        ("btcusdt@depth20", "depth_partial.json"),
        ("btcusdt@kline_1s", "kline.json"),
        ("btcusdt@kline_1m", "kline.json"),
        ("btcusdt@kline_1d@+08:00", "kline_utc8.json"),
        ("btcusdt@miniTicker", "miniTicker.json"),
        ("btcusdt@ticker", "ticker.json"),
        ("btcusdt@ticker_1h", "ticker_1h.json"),
        ("btcusdt@ticker_4h", "ticker_1h.json"),
        ("btcusdt@avgPrice", "avgPrice.json"),
        ("btcusdt@referencePrice", "referencePrice.json"),
        ("!miniTicker@arr", "miniTicker_arr.json"),
        ("!ticker_1d@arr", "ticker_window_arr.json"),
    ];
    let names: Vec<&str> = streams.iter().map(|(s, _)| *s).collect();
    let mut ws = connect(&format!(
        "{}/stream?streams={}",
        sim.ws_url(),
        names.join("/")
    ))
    .await;
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    while seen.len() < streams.len() {
        let v = next_json(&mut ws).await;
        let stream = v["stream"].as_str().expect("combined envelope").to_owned();
        seen.entry(stream).or_insert(v["data"].clone());
    }
    for (stream, vector) in streams {
        assert_eq!(
            shape(&seen[stream]),
            shape(&support::vector(vector)),
            "{stream} vs {vector}"
        );
    }
}

#[tokio::test]
async fn control_messages_answer_as_binance_does() {
    let sim = sim_with(chatty()).await;
    let mut ws = connect(&format!("{}/ws", sim.ws_url())).await;
    let r = request(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":["btcusdt@trade","ETHUSDT@aggTrade"],"id":1}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    let r = request(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":"two"})).await;
    assert_eq!(
        r,
        json!({"result": ["btcusdt@trade", "ethusdt@aggTrade"], "id": "two"})
    );
    let r = request(
        &mut ws,
        json!({"method":"GET_PROPERTY","params":["combined"],"id":3}),
    )
    .await;
    assert_eq!(r, json!({"result": false, "id": 3}));
    // A raw frame first, then the envelope once `combined` is set.
    let raw = loop {
        let v = next_json(&mut ws).await;
        if v.get("e").is_some() {
            break v;
        }
    };
    assert!(raw.get("stream").is_none());
    let r = request(
        &mut ws,
        json!({"method":"SET_PROPERTY","params":["combined",true],"id":4}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 4}));
    let wrapped = next_json(&mut ws).await;
    assert!(
        wrapped["stream"].is_string() && wrapped["data"]["e"].is_string(),
        "{wrapped}"
    );
    let r = request(
        &mut ws,
        json!({"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":5}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 5}));
    let r = request(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":6})).await;
    assert_eq!(r["result"], json!(["ethusdt@aggTrade"]));
}

#[tokio::test]
async fn bad_requests_get_binance_errors() {
    let sim = sim_with(chatty()).await;
    let mut ws = connect(&format!("{}/ws", sim.ws_url())).await;
    for (req, code, msg) in [
        (
            json!({"method":"SUBSCRIBE","params":["btcusdt@nope"],"id":1}),
            2,
            "Invalid request: invalid stream",
        ),
        (
            json!({"method":"SUBSCRIBE","params":["!ticker@arr"],"id":2}),
            2,
            "Invalid request: invalid stream",
        ),
        (
            json!({"method":"SUBSCRIBE","params":["!bookTicker"],"id":3}),
            2,
            "Invalid request: invalid stream",
        ),
        (
            json!({"method":"GET_PROPERTY","params":["colour"],"id":4}),
            0,
            "Unknown property",
        ),
        (
            json!({"method":"SET_PROPERTY","params":["combined","yes"],"id":5}),
            1,
            "Invalid value type: expected Boolean",
        ),
    ] {
        let r = request(&mut ws, req.clone()).await;
        assert_eq!(r["error"], json!({"code": code, "msg": msg}), "{req}");
        assert_eq!(r["id"], req["id"]);
    }
    ws.send_text("{not json").await;
    let r = next_json(&mut ws).await;
    assert_eq!(r["error"]["code"], 3, "{r}");
}

/// Binance allows 5 client frames a second; these tests send more, faster.
fn chatty() -> binance_sim::Limits {
    binance_sim::Limits {
        max_incoming_per_second: 100,
        ..Default::default()
    }
}

trait SendText {
    async fn send_text(&mut self, text: &str);
}

impl SendText for Ws {
    async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn unknown_streams_in_the_url_are_refused() {
    let sim = sim().await;
    let err = tokio_tungstenite::connect_async(format!("{}/ws/!ticker@arr", sim.ws_url()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test]
async fn snapshot_plus_diffs_equals_the_true_book() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@depth@100ms", sim.ws_url())).await;
    // Buffer first, then snapshot: Binance's procedure.
    let first = next_text(&mut ws).await;
    let snapshot = get_json(&format!(
        "{}/api/v3/depth?symbol=BTCUSDT&limit=5000",
        sim.rest_url()
    ))
    .await;
    let Event::PartialDepth(snapshot) = frame::decode(snapshot.to_string().as_bytes())
        .unwrap()
        .event
    else {
        panic!("snapshot")
    };
    let mut book = OrderBook::new();
    book.load_snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
    let mut pending = vec![first];
    let mut checked = 0;
    while checked < 20 {
        if pending.is_empty() {
            pending.push(next_text(&mut ws).await);
        }
        let text = pending.remove(0);
        let Event::DepthUpdate(d) = frame::decode(text.as_bytes()).unwrap().event else {
            panic!("{text}")
        };
        if d.final_update_id <= book.last_update_id() {
            continue;
        }
        assert!(
            d.first_update_id <= book.last_update_id() + 1,
            "gap: U={} after {}",
            d.first_update_id,
            book.last_update_id()
        );
        book.apply(d.final_update_id, &d.bids, &d.asks);
        let truth = sim.true_book("BTCUSDT", d.final_update_id).expect("truth");
        let mut expected = OrderBook::new();
        let levels = |v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]| {
            v.iter()
                .map(|&(p, q)| binance_types::Level::new(p, q))
                .collect::<Vec<_>>()
        };
        expected.load_snapshot(
            truth.last_update_id,
            &levels(&truth.bids),
            &levels(&truth.asks),
        );
        assert_eq!(
            book, expected,
            "book differs from the truth at {}",
            d.final_update_id
        );
        assert_eq!(book.checksum(), expected.checksum());
        checked += 1;
    }
}

#[tokio::test]
async fn depth_diffs_tile_the_update_ids() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/ethusdt@depth@100ms", sim.ws_url())).await;
    let mut last: Option<u64> = None;
    for _ in 0..15 {
        let v = next_json(&mut ws).await;
        let (first, final_id) = (v["U"].as_u64().unwrap(), v["u"].as_u64().unwrap());
        assert!(first <= final_id);
        if let Some(last) = last {
            assert_eq!(first, last + 1, "U must continue the last u");
        }
        last = Some(final_id);
    }
}

#[tokio::test]
async fn book_ticker_is_the_true_top_at_its_update_id() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/bnbbtc@bookTicker", sim.ws_url())).await;
    for _ in 0..20 {
        let v = next_json(&mut ws).await;
        let truth = sim.true_book("BNBBTC", v["u"].as_u64().unwrap()).unwrap();
        let (bid, bid_qty) = truth.bids[0];
        let (ask, ask_qty) = truth.asks[0];
        assert_eq!(v["b"], json!(format!("{:.8}", bid)));
        assert_eq!(v["B"], json!(format!("{:.8}", bid_qty)));
        assert_eq!(v["a"], json!(format!("{:.8}", ask)));
        assert_eq!(v["A"], json!(format!("{:.8}", ask_qty)));
    }
}

#[tokio::test]
async fn trades_are_the_engine_trade_log() {
    let sim = sim().await;
    let mut ws = connect(&format!(
        "{}/stream?streams=btcusdt@trade/btcusdt@aggTrade",
        sim.ws_url()
    ))
    .await;
    let mut trades = Vec::new();
    let mut aggs = Vec::new();
    while trades.len() < 30 || aggs.len() < 5 {
        let v = next_json(&mut ws).await;
        match v["data"]["e"].as_str() {
            Some("trade") => trades.push(v["data"].clone()),
            _ => aggs.push(v["data"].clone()),
        }
    }
    let log = sim.trades("BTCUSDT");
    for t in &trades {
        let id = t["t"].as_u64().unwrap();
        let fill = log.iter().find(|f| f.trade_id == id).expect("in the log");
        assert_eq!(t["p"], json!(format!("{:.8}", fill.price)));
        assert_eq!(t["q"], json!(format!("{:.8}", fill.qty)));
        assert_eq!(t["m"], json!(fill.buyer_is_maker));
    }
    let ids: Vec<u64> = trades.iter().map(|t| t["t"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "trade ids are consecutive: {ids:?}"
    );
    for a in &aggs {
        let (f, l) = (a["f"].as_u64().unwrap(), a["l"].as_u64().unwrap());
        let fills: Vec<_> = log
            .iter()
            .filter(|x| x.trade_id >= f && x.trade_id <= l)
            .collect();
        assert_eq!(fills.len() as u64, l - f + 1);
        let qty: rust_decimal::Decimal = fills.iter().map(|x| x.qty).sum();
        assert_eq!(
            a["q"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap(),
            qty
        );
        assert!(fills
            .iter()
            .all(|x| x.price == fills[0].price && x.taker_order_id == fills[0].taker_order_id));
    }
}

#[tokio::test]
async fn microsecond_connections_get_microsecond_times() {
    let sim = sim().await;
    let mut ws = connect(&format!(
        "{}/ws/btcusdt@trade?timeUnit=MICROSECOND",
        sim.ws_url()
    ))
    .await;
    let v = next_json(&mut ws).await;
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let e = v["E"].as_u64().unwrap();
    assert!(
        e > now_us - 60_000_000 && e <= now_us + 1_000_000,
        "E={e} now={now_us}"
    );
    let err = tokio_tungstenite::connect_async(format!(
        "{}/ws/btcusdt@trade?timeUnit=NANO",
        sim.ws_url()
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test]
async fn kline_volumes_are_the_sum_of_the_trades() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/ethusdt@kline_1s", sim.ws_url())).await;
    let mut closed = 0;
    while closed < 3 {
        let v = next_json(&mut ws).await;
        let k = &v["k"];
        if k["x"] != json!(true) {
            continue;
        }
        let (open, close) = (k["t"].as_u64().unwrap(), k["T"].as_u64().unwrap());
        assert_eq!(close, open + 999);
        let fills: Vec<_> = sim
            .trades("ETHUSDT")
            .into_iter()
            .filter(|f| f.time_ms >= open && f.time_ms <= close)
            .collect();
        let sum =
            |f: fn(&binance_sim::engine::Fill) -> rust_decimal::Decimal| -> rust_decimal::Decimal {
                fills.iter().map(f).sum()
            };
        let dec = |key: &str| {
            k[key]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        };
        assert_eq!(k["n"].as_u64().unwrap(), fills.len() as u64);
        assert_eq!(dec("v"), sum(|f| f.qty));
        assert_eq!(dec("q"), sum(|f| f.quote_qty));
        assert_eq!(
            dec("V"),
            fills
                .iter()
                .filter(|f| !f.buyer_is_maker)
                .map(|f| f.qty)
                .sum()
        );
        if let (Some(first), Some(last)) = (fills.first(), fills.last()) {
            assert_eq!(k["f"], json!(first.trade_id));
            assert_eq!(k["L"], json!(last.trade_id));
            assert_eq!(dec("o"), first.price);
            assert_eq!(dec("c"), last.price);
        }
        closed += 1;
    }
}

#[tokio::test]
async fn percent_encoded_urls_are_accepted() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/stream?streams=btcusdt%40trade", sim.ws_url())).await;
    assert_eq!(next_json(&mut ws).await["stream"], "btcusdt@trade");
}

#[tokio::test]
async fn block_trades_are_not_simulated_and_say_so() {
    let sim = sim().await;
    let err = tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@blockTrade", sim.ws_url()))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("{err}")
    };
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("not simulated"), "{body}");
}

/// ccxt opens `/ws/<connection index>` and SUBSCRIBEs afterwards; Binance
/// accepts the path (ccxt has done this against production for years).
#[tokio::test]
async fn ccxt_connection_index_path_opens_then_subscribes() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/0", sim.ws_url())).await;
    let answer = request(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}),
    )
    .await;
    assert_eq!(answer, json!({"result": null, "id": 1}));
    assert_eq!(next_json(&mut ws).await["e"], "trade");
}

/// python-binance's `miniticker_socket()` opens `!miniTicker@arr@1000ms`.
#[tokio::test]
async fn python_binance_miniticker_path_streams_the_array() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/!miniTicker@arr@1000ms", sim.ws_url())).await;
    let frame = next_json(&mut ws).await;
    assert_eq!(frame[0]["e"], "24hrMiniTicker", "{frame}");
}
