//! Binance's connection limits, each seen by a plain WebSocket client.

mod support;

use std::time::{Duration, Instant};

use binance_sim::Limits;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn pings_come_on_time_and_answered_pings_keep_the_connection() {
    let sim = sim_with(Limits {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(400),
        // Binance counts pongs against the 5 a second; at this ping rate they would exceed it.
        max_incoming_per_second: 100,
        ..Limits::default()
    })
    .await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    let started = Instant::now();
    let mut pings = 0;
    // tungstenite answers each ping as we read; the connection must outlive several pong timeouts.
    while pings < 12 {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Ping(_) => pings += 1,
            Message::Close(c) => panic!("closed although pongs were sent: {c:?}"),
            _ => {}
        }
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "pings came too fast"
    );
}

#[tokio::test]
async fn an_unanswered_ping_closes_the_connection() {
    let sim = sim_with(Limits {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let started = Instant::now();
    let frames = Silent::connect(sim.addr(), "/ws/btcusdt@trade")
        .await
        .frames_until_eof()
        .await;
    let pings = frames.iter().filter(|(op, _)| *op == 0x9).count();
    let (op, payload) = frames.last().expect("frames");
    assert_eq!(*op, 0x8, "the last frame closes");
    assert_eq!(close_code(payload), 1008);
    assert_eq!(&payload[2..], b"Pong timeout");
    assert!(pings >= 2, "{pings} pings");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn more_than_five_messages_a_second_closes_the_connection() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws", sim.ws_url())).await;
    for id in 0..5 {
        ws.send(Message::Text(
            json!({"method":"LIST_SUBSCRIPTIONS","id":id})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    }
    for _ in 0..5 {
        assert!(next_json(&mut ws).await.get("result").is_some());
    }
    ws.send(Message::Text(
        json!({"method":"LIST_SUBSCRIPTIONS","id":6})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ending(&mut ws).await,
        Ok((1008, "Too many messages".into()))
    );
}

#[tokio::test]
async fn more_streams_than_the_cap_are_refused() {
    // Binance's cap is 1024; the sim applies whatever cap it is given, so the
    // test uses a smaller one to reach it with the streams the sim serves.
    assert_eq!(Limits::default().max_streams, 1024);
    let sim = sim_with(Limits {
        max_streams: 20,
        max_incoming_per_second: 100,
        ..Limits::default()
    })
    .await;
    let symbols = ["btcusdt", "ethusdt", "bnbbtc", "bnbusdt"];
    let kinds = [
        "trade",
        "aggTrade",
        "bookTicker",
        "depth",
        "depth@100ms",
        "depth5",
        "depth10",
        "depth20",
    ];
    let names: Vec<String> = symbols
        .iter()
        .flat_map(|s| kinds.iter().map(move |k| format!("{s}@{k}")))
        .collect();
    let url = format!("{}/stream?streams={}", sim.ws_url(), names[..21].join("/"));
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    let mut ws = connect(&format!("{}/ws", sim.ws_url())).await;
    let r = request(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":names[..20],"id":1}),
    )
    .await;
    assert_eq!(r["result"], serde_json::Value::Null, "{r}");
    let r = request(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":names[20..21],"id":2}),
    )
    .await;
    assert_eq!(r["error"]["code"], 2, "{r}");
    // Subscribing again to a stream already held is not a new stream.
    let r = request(
        &mut ws,
        json!({"method":"SUBSCRIBE","params":names[..1],"id":3}),
    )
    .await;
    assert_eq!(r["result"], serde_json::Value::Null, "{r}");
}

#[tokio::test]
async fn too_many_connection_attempts_get_429_with_retry_after() {
    let sim = sim_with(Limits {
        max_connection_attempts: 3,
        connection_attempt_window: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let url = format!("{}/ws/btcusdt@trade", sim.ws_url());
    for _ in 0..3 {
        connect(&url).await;
    }
    let (_, head, _) = upgrade(sim.addr(), "/ws/btcusdt@trade").await;
    let (status, headers) = parse_head(&head);
    assert_eq!(status, 429, "{head}");
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .expect("Retry-After")
        .1
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn connections_end_at_their_lifetime() {
    let sim = sim_with(Limits {
        max_lifetime: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    let started = Instant::now();
    assert_eq!(
        ending(&mut ws).await,
        Ok((1000, "Connection lifetime reached".into()))
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
}
