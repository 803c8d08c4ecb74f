//! Options sockets and depth caches against the simulator's options market
//! (its own port, routed by path as Binance routes the options streams:
//! tickers, trades and book data on `/public`, the rest on `/market`).

mod support;

use std::collections::BTreeSet;

use binance_sim::{Sim, SimConfig};
use binance_ws::binance_types::options::stream::{OptionSymbol, OptionsDepthSpeed, OptionsStream};
use binance_ws::binance_types::options::OptionsEvent;
use binance_ws::binance_types::venue::Venue;
use binance_ws::{DepthCacheOptions, DepthEvent, ErrorKind, KlineInterval, Message, SocketManager};
use support::*;

async fn sim() -> Sim {
    Sim::start(SimConfig::default()).await.unwrap()
}

fn manager(sim: &Sim) -> SocketManager {
    venues_builder(sim).build().unwrap()
}

/// The simulator's first option (`BTC-…-C`), parsed.
fn first_option(sim: &Sim) -> OptionSymbol {
    let symbols = sim.venue_symbols(Venue::Options);
    OptionSymbol::new(symbols.first().expect("the sim lists options")).unwrap()
}

/// The stream names heard on `socket` until every one of `want` was.
async fn hear_all(socket: &mut binance_ws::Socket, want: &[String]) -> BTreeSet<String> {
    let mut heard = BTreeSet::new();
    while !want.iter().all(|w| heard.contains(w)) {
        let event = next_options(socket).await;
        assert!(
            !matches!(event.event, OptionsEvent::Unknown(_)),
            "untyped: {event:?}"
        );
        heard.insert(event.stream.expect("combined").to_string());
    }
    heard
}

/// python-binance opens `options_multiplex_socket` on `/market` only, where
/// the public streams stay silent; ours splits a mixed list by route.
#[tokio::test]
async fn a_mixed_options_multiplex_splits_over_public_and_market() {
    let sim = sim().await;
    let manager = manager(&sim);
    let option = first_option(&sim).to_lowercase();
    let streams = [
        format!("{option}@depth@100ms"),
        format!("{option}@bookTicker"),
        "btcusdt@optionMarkPrice".to_owned(),
        "!index@arr".to_owned(),
    ];
    let names: Vec<&str> = streams.iter().map(String::as_str).collect();
    let mut socket = manager.options_multiplex_socket(&names).unwrap();
    let base = sim.venue_ws_url(Venue::Options);
    let mut urls = socket.urls();
    urls.sort();
    assert_eq!(
        urls,
        vec![
            format!("{base}/market/stream?streams=!index@arr/btcusdt@optionMarkPrice"),
            format!("{base}/public/stream?streams={option}@bookTicker/{option}@depth@100ms"),
        ]
    );
    hear_all(&mut socket, &streams).await;
}

/// Each python-binance-named socket yields typed options events from its
/// route: depth with `pu` continuing the last `u` and book tickers on
/// `/public`; mark prices (greeks), index prices and klines on `/market`.
#[tokio::test]
async fn options_sockets_yield_typed_events_on_both_routes() {
    let sim = sim().await;
    let manager = manager(&sim);
    let option = first_option(&sim);

    let mut depth = manager
        .options_socket(OptionsStream::Depth {
            symbol: option.clone(),
            speed: OptionsDepthSpeed::Ms100,
        })
        .unwrap();
    assert!(
        depth.urls()[0].contains("/public/ws/"),
        "{:?}",
        depth.urls()
    );
    let mut last_u = None;
    for _ in 0..5 {
        let event = next_options(&mut depth).await;
        assert_eq!(event.stream, None, "a raw socket");
        let OptionsEvent::DepthUpdate(d) = event.event else {
            panic!("{:?}", event.event)
        };
        assert_eq!(d.symbol, option.as_str());
        if let Some(u) = last_u {
            assert_eq!(d.previous_final_update_id, u, "pu continues the last u");
        }
        last_u = Some(d.final_update_id);
    }

    let mut book = manager
        .options_book_ticker_socket(&option.to_lowercase())
        .unwrap();
    let event = next_options(&mut book).await;
    assert!(
        matches!(event.event, OptionsEvent::BookTicker(ref b) if b.symbol == option.as_str()),
        "{event:?}"
    );

    let underlying = format!("{}USDT", option.base());
    let mut marks = manager.options_mark_price_socket(&underlying).unwrap();
    assert!(marks.urls()[0].contains("/market/"), "{:?}", marks.urls());
    let event = next_options(&mut marks).await;
    let OptionsEvent::MarkPrices(marks) = event.event else {
        panic!("{event:?}")
    };
    assert!(marks.iter().any(|m| m.symbol == option.as_str()));
    assert!(marks.iter().all(|m| m.symbol.starts_with(option.base())));

    let mut index = manager.options_index_price_socket().unwrap();
    let event = next_options(&mut index).await;
    assert!(
        matches!(event.event, OptionsEvent::IndexPrices(ref v) if v.iter().any(|i| i.underlying == underlying)),
        "{event:?}"
    );

    let mut klines = manager
        .options_kline_socket(option.as_str(), KlineInterval::M1)
        .unwrap();
    let event = next_options(&mut klines).await;
    assert!(
        matches!(event.event, OptionsEvent::Kline(ref k) if k.symbol == option.as_str()),
        "{event:?}"
    );
}

/// Bad names and bad arguments are refused before anything is opened, with
/// the input and the valid forms.
#[tokio::test]
async fn bad_options_names_are_refused_with_the_valid_forms() {
    let sim = sim().await;
    let manager = manager(&sim);
    for bad in [
        "btcusdt@aggTrade",
        "btc-261225-90000-c@depth",
        "btc-261225-90000-x@bookTicker",
    ] {
        let err = manager.options_multiplex_socket(&[bad]).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::StreamName, "{bad}");
        let text = err.to_string();
        assert!(text.contains(bad) && text.contains("valid forms"), "{text}");
    }
    let err = manager
        .options_kline_socket("BTC-261225-90000-C", KlineInterval::H8)
        .unwrap_err();
    assert!(err.to_string().contains("8h"), "{err}");
    let err = manager
        .options_open_interest_socket("BTCUSDT", "2612")
        .unwrap_err();
    assert!(err.to_string().contains("YYMMDD"), "{err}");
}

/// The options cache equals the exchange's true book, and a `pu` gap
/// (update ids skipped by the server) is noticed and healed by a fresh
/// `/eapi/v1/depth` snapshot.
#[tokio::test]
async fn an_options_cache_follows_the_true_book_and_heals_a_pu_gap() {
    let sim = sim().await;
    let manager = manager(&sim);
    let option = first_option(&sim);
    let caches = manager
        .options_depth_caches(DepthCacheOptions::default())
        .unwrap();
    let mut cache = caches.add(&option.to_lowercase()).await.unwrap();
    assert_eq!(cache.symbol(), option.as_str());
    follow_true_book(&sim, Venue::Options, &mut cache, 10).await;
    assert!(sim
        .faults()
        .skip_venue_update_ids(Venue::Options, option.as_str(), 2));
    let mut resynced = false;
    let mut checked_after = 0;
    while checked_after < 5 {
        match tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .expect("an event in time")
            .unwrap()
        {
            DepthEvent::Resyncing { .. } => resynced = true,
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } if resynced => {
                assert_true_on(&sim, Venue::Options, &cache).expect("synced");
                checked_after += 1;
            }
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } => {
                assert_true_on(&sim, Venue::Options, &cache).expect("synced");
            }
            _ => {}
        }
    }
    assert!(resynced);
}

/// Options events reach a socket as `Message::Options`, never as futures
/// or spot events, also through live subscribe on the right route.
#[tokio::test]
async fn live_subscribe_puts_each_options_stream_on_its_route() {
    let sim = sim().await;
    let manager = manager(&sim);
    let option = first_option(&sim).to_lowercase();
    let mut socket = manager.options_live_socket().unwrap();
    let book = format!("{option}@bookTicker");
    socket.subscribe(&[&book, "!index@arr"]).await.unwrap();
    let mut urls = socket.urls();
    urls.sort();
    assert_eq!(urls.len(), 2, "{urls:?}");
    assert!(urls[0].contains("/market/") && urls[1].contains("/public/"));
    hear_all(&mut socket, &[book, "!index@arr".to_owned()]).await;
    match socket.recv().await.unwrap() {
        Message::Options(_) | Message::Status(_) => {}
        other => panic!("{other:?}"),
    }
}
