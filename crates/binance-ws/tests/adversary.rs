//! Every read path against a byte-level adversarial server (split and
//! coalesced writes, long bursts, fragments with pings between, closes
//! without a close frame, resets mid-frame): every id arrives exactly once
//! and in order, or the loss is reported.

mod support;

use std::time::Duration;

use binance_sim::{AccountSpec, MarketConfig, Sim, SimConfig, Wallet};
use binance_ws::{
    Credentials, DepthCacheOptions, DepthEvent, Event, Message, Overflow, Socket, Status,
    StreamEvent,
};
use rust_decimal::Decimal;
use support::adversary::{Chaos, ChaosProxy, Cut, FloodServer};
use support::*;

/// Reads trades until id `total`, checking each id comes once and in order
/// (1, 2, 3, …); returns the statuses seen. `slow` runs after each event.
async fn expect_ids(
    socket: &mut Socket,
    total: u64,
    mut slow: impl AsyncFnMut(u64),
) -> Vec<Status> {
    let mut expected = 1;
    let mut statuses = Vec::new();
    while expected <= total {
        match next(socket).await.expect("socket alive") {
            Message::Event(StreamEvent {
                event: Event::Trade(t),
                ..
            }) => {
                assert_eq!(t.trade_id, expected, "every id once, in order");
                slow(expected).await;
                expected += 1;
            }
            Message::Status(s) => {
                assert!(
                    !matches!(s, Status::Lagged { .. } | Status::Malformed { .. }),
                    "after {} ids: {s:?}",
                    expected - 1
                );
                statuses.push(s);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    statuses
}

/// Reads trades until id `total` (ids only growing), counting those
/// delivered and those the socket says it dropped; `pace` runs after the
/// n-th delivered.
async fn delivered_and_dropped(
    socket: &mut Socket,
    total: u64,
    mut pace: impl AsyncFnMut(u64),
) -> (u64, u64) {
    let (mut delivered, mut dropped, mut last) = (0u64, 0u64, 0u64);
    while last < total {
        match next(socket).await.unwrap() {
            Message::Event(StreamEvent {
                event: Event::Trade(t),
                ..
            }) => {
                assert!(t.trade_id > last, "in order, never twice");
                last = t.trade_id;
                delivered += 1;
                pace(delivered).await;
            }
            Message::Status(Status::Lagged { dropped: n }) => dropped += n,
            _ => {}
        }
    }
    (delivered, dropped)
}

fn reconnects(statuses: &[Status]) -> usize {
    statuses
        .iter()
        .filter(|s| **s == Status::Reconnected)
        .count()
}

#[tokio::test]
async fn a_long_burst_split_at_any_byte_arrives_whole() {
    let server = FloodServer::start(100_000, 100_000, vec![], Chaos::all(1)).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    let statuses = expect_ids(&mut socket, 100_000, async |_| {}).await;
    assert_eq!(statuses, [Status::Connected]);
}

#[tokio::test]
async fn a_long_combined_burst_arrives_whole() {
    let server = FloodServer::start(100_000, 100_000, vec![], Chaos::all(2)).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager
        .multiplex_socket(&["btcusdt@trade", "ethusdt@trade"])
        .unwrap();
    expect_ids(&mut socket, 100_000, async |_| {}).await;
}

#[tokio::test]
async fn cuts_of_every_kind_lose_nothing_that_was_sent_whole() {
    let cuts = vec![Cut::Reset, Cut::Fin, Cut::Close];
    let server = FloodServer::start(60_000, 10_000, cuts, Chaos::all(3)).await;
    // Every connection is cut within milliseconds: none counts as stable.
    let manager = builder_at(server.url())
        .unlimited_reconnects()
        .build()
        .unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    let statuses = expect_ids(&mut socket, 60_000, async |_| {}).await;
    assert!(reconnects(&statuses) >= 5, "{statuses:?}");
}

#[tokio::test]
async fn a_slow_reader_slows_the_burst_instead_of_losing_it() {
    let server = FloodServer::start(50_000, 50_000, vec![], Chaos::all(4)).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(1000, Overflow::DropOldest);
    // The reader stops now and then, for longer than the server takes to
    // write thousands of frames; TCP holds them.
    expect_ids(&mut socket, 50_000, async |id| {
        if id % 10_000 == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_reader_that_stays_behind_is_told_exactly_what_it_lost() {
    let total = 50_000;
    let server = FloodServer::start(total, total, vec![], Chaos::all(5)).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(1000, Overflow::DropOldest)
        .max_stall(Duration::from_millis(100));
    socket.connect().await.unwrap();
    // Stays behind for much longer than its max_stall.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (delivered, dropped) = delivered_and_dropped(&mut socket, total, async |_| {}).await;
    assert!(dropped > 0, "it fell behind");
    assert_eq!(
        delivered + dropped,
        total,
        "every message delivered or counted"
    );
}

/// The simulator behind a chaos proxy, and a manager pointed at the proxy.
async fn behind_proxy(config: SimConfig, seed: u64) -> (Sim, ChaosProxy) {
    let sim = Sim::start(config).await.expect("sim starts");
    let proxy = ChaosProxy::start(sim.addr(), Chaos::all(seed)).await;
    (sim, proxy)
}

fn busy_market() -> SimConfig {
    SimConfig {
        market: MarketConfig {
            actions_per_second: 3000,
            ..MarketConfig::default()
        },
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn market_sockets_through_the_proxy_get_every_trade_once() {
    let (sim, proxy) = behind_proxy(busy_market(), 6).await;
    let manager = builder_at(proxy.url()).build().unwrap();
    let mut socket = manager
        .multiplex_socket(&["btcusdt@trade", "btcusdt@depth@100ms"])
        .unwrap();
    let mut ids = Vec::new();
    let mut reset_done = false;
    while ids.len() < 3000 {
        match next(&mut socket).await.unwrap() {
            Message::Event(StreamEvent {
                event: Event::Trade(t),
                ..
            }) => ids.push(t.trade_id),
            Message::Status(s) => ids.push(u64::MAX - matches!(s, Status::Reconnected) as u64),
            _ => {}
        }
        if ids.len() == 1500 && !reset_done {
            proxy.reset_all();
            reset_done = true;
        }
    }
    // Between statuses, ids are consecutive; across a reconnect they only grow.
    let truth: Vec<u64> = sim.trades("BTCUSDT").iter().map(|f| f.trade_id).collect();
    let runs: Vec<&[u64]> = ids.split(|id| *id >= u64::MAX - 1).collect();
    assert!(runs.len() >= 2, "the reset was seen");
    let mut last = 0;
    for run in runs.iter().filter(|r| !r.is_empty()) {
        assert!(run[0] > last, "never twice across a reconnect");
        assert!(
            run.windows(2).all(|w| w[1] == w[0] + 1),
            "consecutive while connected"
        );
        let at = truth
            .iter()
            .position(|t| *t == run[0])
            .expect("a real trade");
        assert_eq!(&truth[at..at + run.len()], *run, "the simulator's trades");
        last = *run.last().unwrap();
    }
}

/// Two connections carry the same streams through the chaos proxy; either
/// is reset now and then. Without backfill, only the other connection can
/// cover what the reset one missed: every trade arrives once, in order.
#[tokio::test]
async fn redundant_connections_through_the_proxy_cover_each_others_resets() {
    let (sim, proxy) = behind_proxy(busy_market(), 15).await;
    let manager = builder_at(proxy.url())
        .backfill_weight_per_minute(0)
        .build()
        .unwrap();
    let mut socket = manager
        .multiplex_socket(&["btcusdt@trade", "btcusdt@depth@100ms"])
        .unwrap()
        .connections(2);
    let (mut ids, mut statuses, mut resets) = (Vec::new(), Vec::new(), 0);
    while ids.len() < 4000 {
        match next(&mut socket).await.unwrap() {
            Message::Event(StreamEvent {
                event: Event::Trade(t),
                ..
            }) => ids.push(t.trade_id),
            Message::Status(s) => statuses.push(s),
            _ => {}
        }
        // Every 600 trades, reset the connection opened last but one: the
        // two open ones take turns.
        if ids.len() == 600 * (resets + 1) {
            let accepted = proxy.connections.load(std::sync::atomic::Ordering::SeqCst);
            proxy.reset_connection(accepted - 2);
            resets += 1;
        }
    }
    assert!(reconnects(&statuses) >= 5, "{statuses:?}");
    assert!(
        !statuses
            .iter()
            .any(|s| matches!(s, Status::Gap { .. } | Status::Malformed { .. })),
        "{statuses:?}"
    );
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "every id once, in order"
    );
    let truth: Vec<u64> = sim.trades("BTCUSDT").iter().map(|f| f.trade_id).collect();
    let at = truth
        .iter()
        .position(|t| *t == ids[0])
        .expect("a real trade");
    assert_eq!(&truth[at..at + ids.len()], ids, "the simulator's trades");
}

#[tokio::test]
async fn depth_caches_through_the_proxy_stay_true() {
    let (sim, proxy) = behind_proxy(busy_market(), 7).await;
    let manager = builder_at(proxy.url()).build().unwrap();
    let options = DepthCacheOptions {
        snapshot_limit: 5000,
        rest_url: Some(sim.rest_url()),
        ..DepthCacheOptions::default()
    };
    let mut cache = manager.depth_caches(options).add("BTCUSDT").await.unwrap();
    let (mut checked, mut resyncs) = (0, 0);
    while checked < 60 {
        match tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .expect("an event in time")
            .expect("cache alive")
        {
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } => {
                if assert_true(&sim, &cache).is_some() {
                    checked += 1;
                }
                if checked == 30 && resyncs == 0 {
                    proxy.reset_all();
                }
            }
            DepthEvent::Resyncing { .. } => resyncs += 1,
            _ => {}
        }
    }
    assert!(resyncs >= 1, "the reset forced a resync");
}

#[tokio::test]
async fn ws_api_requests_through_the_proxy_are_each_answered_once() {
    let (_sim, proxy) = behind_proxy(SimConfig::default(), 8).await;
    let manager = builder_at(proxy.url()).build().unwrap();
    let api = manager.ws_api().await.unwrap();
    let requests = (0..400).map(|_| api.request("time", serde_json::Map::new()));
    let answers = futures_util::future::join_all(requests).await;
    for answer in answers {
        let answer = answer.expect("answered");
        assert!(answer["serverTime"].as_u64().is_some(), "{answer}");
    }
}

const KEY: &str = "adversary-key";
const SECRET: &str = "adversary-secret";

#[tokio::test]
async fn user_events_through_the_proxy_arrive_once_in_order() {
    let account = AccountSpec::hmac(KEY, SECRET).balance(Wallet::Spot, "USDT", Decimal::from(1000));
    let (sim, proxy) = behind_proxy(
        SimConfig {
            accounts: vec![account],
            ..SimConfig::default()
        },
        9,
    )
    .await;
    let manager = builder_at(proxy.url())
        .credentials(Credentials::hmac(KEY, SECRET))
        .build()
        .unwrap();
    let mut user = manager.user_socket().unwrap();
    user.connect().await.unwrap();
    let accounts = sim.accounts().clone();
    let depositor = tokio::spawn(async move {
        for i in 1..=150 {
            accounts.deposit(KEY, &Wallet::Spot, "USDT", Decimal::new(i, 2));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let (mut expected, mut drops) = (1, 0);
    while expected <= 150 {
        match next(&mut user).await.expect("socket alive") {
            Message::Event(e) => {
                if let Event::BalanceUpdate(u) = e.event {
                    assert_eq!(u.delta, Decimal::new(expected, 2), "once, in order");
                    // Each of the two connections in turn; the other carries on.
                    match expected {
                        50 => proxy.reset_connection(0),
                        100 => proxy.reset_connection(1),
                        _ => {}
                    }
                    expected += 1;
                }
            }
            Message::Status(Status::Disconnected { .. }) => drops += 1,
            Message::Status(s) => assert!(
                !matches!(s, Status::Lagged { .. } | Status::Gap { .. }),
                "{s:?}"
            ),
            _ => {}
        }
    }
    depositor.await.unwrap();
    assert_eq!(drops, 2, "both resets hit a live connection of the socket");
}

#[tokio::test]
async fn a_reader_that_keeps_reading_but_too_slowly_is_shed_and_told() {
    let total = 30_000;
    let server = FloodServer::start(total, total, vec![], Chaos::fast()).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(500, Overflow::DropOldest)
        .max_stall(Duration::from_millis(300));
    // Never stops, but reads far slower than the burst comes.
    let (delivered, dropped) = delivered_and_dropped(&mut socket, total, async |n| {
        if n % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(dropped > 0, "held back for max_stall, then shed");
    assert_eq!(
        delivered + dropped,
        total,
        "every message delivered or counted"
    );
}

#[tokio::test]
async fn a_max_stall_too_long_to_count_never_sheds() {
    let total = 20_000;
    let server = FloodServer::start(total, total, vec![], Chaos::all(14)).await;
    let manager = builder_at(server.url()).build().unwrap();
    let mut socket = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(100, Overflow::DropOldest)
        .max_stall(Duration::MAX);
    socket.connect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    expect_ids(&mut socket, total, async |_| {}).await;
}
