//! USD-M and COIN-M futures sockets and depth caches against the simulator's
//! futures markets (each on its own port, USD-M routed by path as Binance
//! routes it).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use binance_sim::{Sim, SimConfig};
use binance_ws::binance_types::futures::stream::{DepthSpeed, PriceSpeed};
use binance_ws::binance_types::futures::FuturesEvent;
use binance_ws::binance_types::venue::Venue;
use binance_ws::{DepthCacheOptions, Endpoint, ErrorKind, Message, SocketManager, Status};
use support::*;

async fn sim() -> Sim {
    Sim::start(SimConfig::default()).await.unwrap()
}

/// The stream names heard on `socket` until every one of `want` was.
async fn hear_all(socket: &mut binance_ws::Socket, want: &[&str]) -> BTreeSet<String> {
    let mut heard = BTreeSet::new();
    while !want.iter().all(|w| heard.contains(*w)) {
        let event = next_futures(socket).await;
        heard.insert(event.stream.expect("combined").to_string());
    }
    heard
}

/// python-binance puts every stream of `futures_multiplex_socket` on one
/// route (`category`), where Binance keeps the others silent; ours splits a
/// mixed list over `/public` and `/market` by itself.
#[tokio::test]
async fn a_mixed_usdm_multiplex_splits_over_public_and_market() {
    let sim = sim().await;
    let manager = venues_builder(&sim).build().unwrap();
    let streams = [
        "btcusdt@aggTrade",
        "btcusdt@depth@100ms",
        "btcusdt@markPrice@1s",
        "btcusdt@bookTicker",
    ];
    let mut socket = manager
        .futures_multiplex_socket(Venue::UsdM, &streams)
        .unwrap();
    let base = sim.venue_ws_url(Venue::UsdM);
    let mut urls = socket.urls();
    urls.sort();
    assert_eq!(
        urls,
        vec![
            format!("{base}/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s"),
            format!("{base}/public/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms"),
        ]
    );
    hear_all(&mut socket, &streams).await;
}

/// Every event decodes typed, by the futures decoder (`pu` kept).
#[tokio::test]
async fn futures_sockets_yield_typed_events() {
    let sim = sim().await;
    let manager = venues_builder(&sim).build().unwrap();
    let mut depth = manager
        .futures_depth_socket(Venue::UsdM, "BTCUSDT", None, DepthSpeed::Ms100)
        .unwrap();
    let mut last_u = None;
    for _ in 0..5 {
        let event = next_futures(&mut depth).await;
        let FuturesEvent::DepthUpdate(d) = event.event else {
            panic!("{:?}", event.event)
        };
        if let Some(u) = last_u {
            assert_eq!(d.previous_final_update_id, u, "pu continues the last u");
        }
        last_u = Some(d.final_update_id);
    }
    let mut mark = manager
        .symbol_mark_price_socket(Venue::UsdM, "btcusdt", PriceSpeed::S1)
        .unwrap();
    let event = next_futures(&mut mark).await;
    assert!(
        matches!(event.event, FuturesEvent::MarkPrice(ref m) if m.symbol == "BTCUSDT"),
        "{event:?}"
    );
    let mut index = manager
        .index_price_socket("btcusd", PriceSpeed::S1)
        .unwrap();
    let event = next_futures(&mut index).await;
    assert!(
        matches!(event.event, FuturesEvent::IndexPrice(ref i) if i.pair == "BTCUSD"),
        "{event:?}"
    );
    let mut trades = manager
        .aggtrade_futures_socket(Venue::CoinM, "btcusd_perp")
        .unwrap();
    let event = next_futures(&mut trades).await;
    assert!(
        matches!(event.event, FuturesEvent::AggTrade(ref t) if t.symbol == "BTCUSD_PERP"),
        "{event:?}"
    );
}

/// A live futures socket subscribes each stream on a connection of its
/// route, and unsubscribes it there.
#[tokio::test]
async fn live_subscribe_goes_to_the_streams_route() {
    let sim = sim().await;
    let manager = venues_builder(&sim).build().unwrap();
    let mut socket = manager.futures_live_socket(Venue::UsdM).unwrap();
    socket.subscribe(&["btcusdt@aggTrade"]).await.unwrap();
    socket.subscribe(&["ethusdt@bookTicker"]).await.unwrap();
    assert_eq!(socket.urls().len(), 2, "{:?}", socket.urls());
    hear_all(&mut socket, &["btcusdt@aggTrade", "ethusdt@bookTicker"]).await;
    let mut listed = socket.list_subscriptions().await.unwrap();
    listed.sort();
    assert_eq!(listed, vec!["btcusdt@aggTrade", "ethusdt@bookTicker"]);
    socket.unsubscribe(&["ethusdt@bookTicker"]).await.unwrap();
    assert_eq!(
        socket.list_subscriptions().await.unwrap(),
        vec!["btcusdt@aggTrade"]
    );
}

/// Futures servers ping every 3 minutes, far past a 60 s watchdog: a quiet
/// futures connection is kept alive by the client's own pings, whose pongs
/// count as heard.
#[tokio::test]
async fn a_quiet_futures_connection_is_kept_alive_by_pings() {
    let sim = sim().await;
    let manager = venues_builder(&sim)
        .watchdog(Duration::from_millis(600))
        .stream_watchdog(None)
        .build()
        .unwrap();
    let mut socket = manager.contract_info_socket(Venue::UsdM).unwrap();
    socket.connect().await.unwrap();
    // Ten watchdog periods without a data frame and without a drop.
    let quiet_until = tokio::time::Instant::now() + Duration::from_secs(6);
    while let Ok(message) = tokio::time::timeout_at(quiet_until, socket.recv()).await {
        match message.unwrap() {
            Message::Status(Status::Connected) => {}
            other => panic!("the connection was to stay quiet and up: {other:?}"),
        }
    }
    assert_eq!(
        sim.faults().connections().len(),
        1,
        "one connection, never replaced"
    );
}

#[tokio::test]
async fn futures_names_and_hosts_are_checked_with_errors_that_say_what_to_do() {
    let sim = sim().await;
    // A custom spot endpoint does not say where futures are.
    let spot_only = manager(&sim);
    let error = spot_only
        .aggtrade_futures_socket(Venue::UsdM, "BTCUSDT")
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::Config);
    assert!(
        error.to_string().contains("venue_endpoint(Venue::UsdM"),
        "{error}"
    );
    let error = SocketManager::builder()
        .tld_us()
        .build()
        .unwrap()
        .futures_ticker_socket()
        .unwrap_err();
    assert!(
        error.to_string().contains("Binance.US has no USD-M"),
        "{error}"
    );

    let manager = venues_builder(&sim).build().unwrap();
    // A spot stream, and a COIN-M-only stream on USD-M: the input and the valid forms.
    let error = manager
        .futures_multiplex_socket(Venue::UsdM, &["btcusdt@trade"])
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::StreamName);
    assert!(
        error.to_string().contains("btcusdt@trade") && error.to_string().contains("@aggTrade"),
        "{error}"
    );
    let error = manager
        .futures_multiplex_socket(Venue::UsdM, &["btcusd@indexPrice"])
        .unwrap_err();
    assert!(
        error.to_string().contains("not offered on USD-M"),
        "{error}"
    );
    assert!(manager
        .aggtrade_futures_socket(Venue::Spot, "BTCUSDT")
        .is_err());
}

async fn cache_follows_the_true_book(venue: Venue, symbol: &str) {
    let sim = sim().await;
    let manager = venues_builder(&sim).build().unwrap();
    let options = DepthCacheOptions {
        snapshot_limit: 1000,
        ..DepthCacheOptions::default()
    };
    let mut cache = manager
        .futures_depth_caches(venue, options)
        .unwrap()
        .add(symbol)
        .await
        .unwrap();
    follow_true_book(&sim, venue, &mut cache, 30).await;
}

#[tokio::test]
async fn a_usdm_cache_follows_the_true_book() {
    cache_follows_the_true_book(Venue::UsdM, "BTCUSDT").await;
}

#[tokio::test]
async fn a_coinm_cache_follows_the_true_book() {
    cache_follows_the_true_book(Venue::CoinM, "BTCUSD_PERP").await;
}

#[tokio::test]
async fn testnet_and_production_hosts_for_futures() {
    let production = SocketManager::new();
    let socket = production
        .futures_multiplex_socket(Venue::UsdM, &["btcusdt@depth", "btcusdt@aggTrade"])
        .unwrap();
    let mut urls = socket.urls();
    urls.sort();
    assert_eq!(
        urls,
        vec![
            "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade",
            "wss://fstream.binance.com/public/stream?streams=btcusdt@depth",
        ]
    );
    let testnet = SocketManager::builder().testnet().build().unwrap();
    let socket = testnet.futures_coin_ticker_socket().unwrap();
    assert_eq!(
        socket.urls(),
        vec!["wss://dstream.binancefuture.com/stream?streams=!ticker@arr"]
    );
    let custom = SocketManager::builder()
        .venue_endpoint(Venue::CoinM, Endpoint::Custom("ws://127.0.0.1:9".into()))
        .build()
        .unwrap();
    let socket = custom
        .futures_socket(Venue::CoinM, "btcusd_perp@aggTrade".parse().unwrap())
        .unwrap();
    assert_eq!(
        socket.urls(),
        vec!["ws://127.0.0.1:9/ws/btcusd_perp@aggTrade"]
    );
}

/// Only spot streams take `timeUnit`: a microsecond manager's futures
/// sockets ask for none, and their times (milliseconds) are read as such.
#[tokio::test]
async fn a_micros_manager_reads_futures_times_as_milliseconds() {
    let sim = sim().await;
    let manager = venues_builder(&sim).micros().build().unwrap();
    let mut socket = manager
        .aggtrade_futures_socket(Venue::UsdM, "BTCUSDT")
        .unwrap();
    assert!(
        socket.urls().iter().all(|u| !u.contains("timeUnit")),
        "{:?}",
        socket.urls()
    );
    let event = next_futures(&mut socket).await;
    let FuturesEvent::AggTrade(trade) = event.event else {
        panic!("{:?}", event.event)
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let sent = trade.event_time.as_millis() as i64;
    assert!((now_ms - sent).abs() < 60_000, "E {sent} vs now {now_ms}");
}

/// What spot sockets do, futures sockets do on the same link: two sockets
/// on one stream share a connection, a drop reconnects with statuses and
/// the stream goes on, `serverShutdown` rotates make-before-break with no
/// aggregate trade lost or repeated.
#[tokio::test]
async fn futures_sockets_share_reconnect_and_rotate_like_spot_ones() {
    let sim = sim().await;
    let manager = venues_builder(&sim).build().unwrap();
    let mut one = manager
        .aggtrade_futures_socket(Venue::CoinM, "BTCUSD_PERP")
        .unwrap();
    let mut two = manager
        .aggtrade_futures_socket(Venue::CoinM, "BTCUSD_PERP")
        .unwrap();
    one.connect().await.unwrap();
    two.connect().await.unwrap();
    assert_eq!(sim.faults().connections().len(), 1, "one shared connection");
    next_futures(&mut two).await;

    sim.faults().drop_all(binance_sim::DropMode::Reset);
    let statuses = until_status(&mut one, |s| matches!(s, Status::Reconnected)).await;
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, Status::Disconnected { .. })),
        "{statuses:?}"
    );
    next_futures(&mut one).await;

    // Aggregate trade ids run on without a gap or a repeat through the rotation.
    let id = |e: FuturesEvent<_>| match e {
        FuturesEvent::AggTrade(t) => t.agg_trade_id,
        other => panic!("{other:?}"),
    };
    let mut last = id(next_futures(&mut one).await.event);
    sim.faults().server_shutdown(Some(Duration::from_secs(2)));
    let mut rotated = false;
    while !rotated {
        match next(&mut one).await.unwrap() {
            Message::Futures(e) => {
                let now = id(e.event);
                assert_eq!(now, last + 1, "after {last}");
                last = now;
            }
            Message::Status(Status::Rotated) => rotated = true,
            Message::Status(_) => {}
            other => panic!("{other:?}"),
        }
    }
    for _ in 0..5 {
        let now = id(next_futures(&mut one).await.event);
        assert_eq!(now, last + 1, "after {last}");
        last = now;
    }
}

/// Past 1024 streams (Binance's limit a connection, futures as spot) a
/// futures multiplex opens more connections on the streams' route.
#[test]
fn more_than_1024_futures_streams_spread_over_connections_of_their_route() {
    let manager = SocketManager::new();
    let names: Vec<String> = (0..1100)
        .map(|i| format!("c{i}usdt@aggTrade"))
        .chain(["btcusdt@depth".to_owned()])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let socket = manager
        .futures_multiplex_socket(Venue::UsdM, &names)
        .unwrap();
    let urls = socket.urls();
    let market = urls
        .iter()
        .filter(|u| u.starts_with("wss://fstream.binance.com/market/stream"))
        .count();
    let public = urls
        .iter()
        .filter(|u| *u == "wss://fstream.binance.com/public/stream?streams=btcusdt@depth")
        .count();
    assert_eq!((market, public, urls.len()), (2, 1, 3), "{urls:?}");
}
