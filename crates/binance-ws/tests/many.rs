//! Many streams, live subscriptions, and slow readers.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use binance_sim::{MarketConfig, Sim, SimConfig};
use binance_ws::{ErrorKind, Message, Overflow, Status};
use support::*;

#[tokio::test]
async fn live_subscriptions_are_paced_under_five_a_second() {
    let sim = sim().await;
    let mut socket = manager(&sim).live_socket();
    socket.connect().await.unwrap();
    let streams = [
        "btcusdt@trade",
        "ethusdt@trade",
        "bnbbtc@trade",
        "bnbusdt@trade",
        "btcusdt@bookTicker",
        "ethusdt@bookTicker",
        "bnbbtc@bookTicker",
        "bnbusdt@bookTicker",
    ];
    let started = tokio::time::Instant::now();
    for s in streams {
        socket.subscribe(&[s]).await.unwrap();
    }
    // Eight requests at four a second (pongs count against Binance's five too).
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let mut listed = socket.list_subscriptions().await.unwrap();
    listed.sort();
    let mut want: Vec<String> = streams.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    socket.unsubscribe(&["btcusdt@trade"]).await.unwrap();
    let last_before = sim.trades("BTCUSDT").last().map_or(0, |f| f.trade_id);
    assert_eq!(socket.list_subscriptions().await.unwrap().len(), 7);
    // The server never closed us for flooding it.
    assert_eq!(sim.faults().connections().len(), 1);
    let mut seen = BTreeSet::new();
    while seen.len() < 3 {
        let e = next_event(&mut socket).await;
        if let binance_ws::Event::Trade(t) = &e.event {
            if t.symbol == "BTCUSDT" {
                // Queued before the unsubscribe was answered: fine; made after: not.
                assert!(t.trade_id <= last_before, "a trade after unsubscribing");
            }
        }
        seen.insert(e.stream.expect("combined").to_string());
    }
    let err = socket.subscribe(&["btcusdt@nope"]).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::StreamName);
}

#[tokio::test]
async fn live_subscriptions_survive_a_reconnect() {
    let sim = sim().await;
    let mut socket = manager(&sim).live_socket();
    socket.subscribe(&["ethusdt@trade"]).await.unwrap();
    sim.faults().drop_all(binance_sim::DropMode::Reset);
    until_status(&mut socket, |s| *s == Status::Reconnected).await;
    let e = next_event(&mut socket).await;
    assert_eq!(e.stream.as_deref(), Some("ethusdt@trade"));
}

#[tokio::test]
async fn fifteen_hundred_streams_spread_over_two_connections() {
    let symbols = capture_symbols(300);
    let sim = Sim::start(SimConfig {
        market: MarketConfig {
            symbols: symbols.clone(),
            actions_per_second: 20,
            ..MarketConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let names: Vec<String> = symbols
        .iter()
        .flat_map(|s| {
            let l = s.symbol.to_lowercase();
            ["trade", "aggTrade", "bookTicker", "depth", "depth@100ms"].map(|k| format!("{l}@{k}"))
        })
        .collect();
    assert_eq!(names.len(), 1500);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut socket = manager(&sim).multiplex_socket(&refs).unwrap();
    socket.connect().await.unwrap();
    assert_eq!(sim.faults().connections().len(), 2);
    assert_eq!(socket.urls().len(), 2);
    // Events come from both halves (names are sorted before splitting).
    let mut sorted = names.clone();
    sorted.sort();
    let first_half: BTreeSet<&str> = sorted[..1024].iter().map(String::as_str).collect();
    let (mut low, mut high) = (false, false);
    while !(low && high) {
        let stream = next_event(&mut socket)
            .await
            .stream
            .expect("combined")
            .to_string();
        if first_half.contains(stream.as_str()) {
            low = true;
        } else {
            high = true;
        }
    }
    assert_eq!(socket.list_subscriptions().await.unwrap().len(), 1500);
}

#[tokio::test]
async fn a_slow_reader_loses_the_oldest_and_is_told_how_many() {
    let sim = sim().await;
    let manager = manager(&sim);
    let mut slow = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(5, Overflow::DropOldest)
        // It does not hold the shared connection back (see max_stall).
        .max_stall(std::time::Duration::ZERO);
    let mut fast = manager.trade_socket("BTCUSDT").unwrap();
    slow.connect().await.unwrap();
    fast.connect().await.unwrap();
    // While `fast` reads 50 trades, `slow` reads nothing.
    for _ in 0..50 {
        next_event(&mut fast).await;
    }
    let mut dropped = 0;
    loop {
        match next(&mut slow).await.unwrap() {
            Message::Status(Status::Lagged { dropped: n }) => dropped += n,
            Message::Event(_) => break,
            _ => {}
        }
    }
    assert!(dropped >= 40, "{dropped}");
}

#[tokio::test]
async fn under_the_error_policy_overflow_ends_the_socket() {
    let sim = sim().await;
    let manager = manager(&sim);
    let mut slow = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(5, Overflow::Error)
        // It does not hold the shared connection back (see max_stall).
        .max_stall(std::time::Duration::ZERO);
    let mut fast = manager.trade_socket("BTCUSDT").unwrap();
    slow.connect().await.unwrap();
    fast.connect().await.unwrap();
    for _ in 0..50 {
        next_event(&mut fast).await;
    }
    let err = next(&mut slow).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Overflow { capacity: 5 });
    assert!(err.is_terminal());
    // The other socket is unaffected.
    next_event(&mut fast).await;
}

#[tokio::test]
async fn a_subscribe_left_unanswered_by_a_dead_connection_is_sent_again() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .watchdog(std::time::Duration::from_millis(300))
        .build()
        .unwrap()
        .live_socket();
    socket.connect().await.unwrap();
    // The server stops reading: the request goes unanswered until the
    // watchdog replaces the connection, and then it is sent again.
    sim.faults().stall_all(None);
    let subscribed = tokio::time::timeout(PATIENCE, socket.subscribe(&["bnbbtc@trade"])).await;
    assert!(subscribed.expect("answered after the reconnect").is_ok());
    let e = next_event(&mut socket).await;
    assert_eq!(e.stream.as_deref(), Some("bnbbtc@trade"));
}
