//! Depth caches against the simulator's true book, through faults, and on
//! replayed real captures.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use binance_sim::{DropMode, FuturesConfig, Limits, MarketConfig, OptionsConfig, Sim, SimConfig};
use binance_ws::binance_types::venue::Venue;
use binance_ws::binance_types::Level;
use binance_ws::{CacheState, DepthCacheOptions, DepthEvent, Endpoint, ErrorKind, SocketManager};
use rand::{Rng, SeedableRng};
use support::*;

fn options(sim: &Sim) -> DepthCacheOptions {
    DepthCacheOptions {
        snapshot_limit: 5000, // the whole simulated book, so it can be compared whole
        rest_url: Some(sim.rest_url()),
        ..DepthCacheOptions::default()
    }
}

#[tokio::test]
async fn a_cache_follows_the_true_book() {
    let sim = sim().await;
    let manager = manager(&sim);
    let mut cache = manager
        .depth_caches(options(&sim))
        .add("BTCUSDT")
        .await
        .unwrap();
    assert!(matches!(cache.state(), CacheState::Syncing(_)));
    assert_eq!(cache.best().unwrap_err().kind(), &ErrorKind::NotSynced);
    follow_true_book(&sim, Venue::Spot, &mut cache, 30).await;
    let (id, bids, asks) = cache.top(5).unwrap();
    assert!(id > 0 && bids.len() == 5 && asks.len() == 5 && bids[0].price < asks[0].price);
}

/// Faults thrown at random (from `seed`) while two caches of `venue` share
/// one connection: drops, resets, lost diff events (a gap), stalls, late
/// snapshots, malformed frames. Every book that can be read equals the
/// exchange's true book at its update id.
async fn survive_faults(seed: u64, venue: Venue, symbols: [&str; 2]) {
    survive_faults_in(seed, venue, symbols, OptionsConfig::off()).await
}

/// [`survive_faults`] with the simulator's options market given.
async fn survive_faults_in(seed: u64, venue: Venue, symbols: [&str; 2], market: OptionsConfig) {
    let limits = Limits {
        max_incoming_per_second: 100,
        ..Limits::default()
    };
    let sim = Sim::start(SimConfig {
        market: MarketConfig {
            seed,
            actions_per_second: 1000,
            ..MarketConfig::default()
        },
        limits: limits.clone(),
        futures: FuturesConfig {
            actions_per_second: 1000,
            limits: Limits {
                max_incoming_per_second: 100,
                ..Limits::futures()
            },
            ..FuturesConfig::default()
        },
        options: market,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let manager = venues_builder(&sim)
        .watchdog(Duration::from_millis(400))
        .reconnect(binance_ws::Reconnect {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            retries: binance_ws::Retries::Unlimited,
            ..Default::default()
        })
        .build()
        .unwrap();
    let caches = match venue {
        Venue::Spot => manager.depth_caches(options(&sim)),
        Venue::Options => manager
            .options_depth_caches(DepthCacheOptions {
                snapshot_limit: 1000, // the /eapi/v1/depth maximum
                ..DepthCacheOptions::default()
            })
            .unwrap(),
        futures => manager
            .futures_depth_caches(
                futures,
                DepthCacheOptions {
                    snapshot_limit: 1000, // the futures maximum
                    ..DepthCacheOptions::default()
                },
            )
            .unwrap(),
    };
    let mut first = caches.add(symbols[0]).await.unwrap();
    let mut second = caches.add(symbols[1]).await.unwrap();
    let faults = sim.faults().clone();
    let names = symbols.map(str::to_owned);
    let chaos = tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(150..400))).await;
            match rng.gen_range(0..6) {
                0 => drop(faults.drop_all(DropMode::Reset)),
                1 => {
                    let symbol = &names[rng.gen_range(0..2)];
                    assert!(faults.skip_venue_update_ids(venue, symbol, rng.gen_range(1..4)));
                }
                2 => drop(faults.stall_all(Some(Duration::from_millis(600)))),
                3 => {
                    faults.set_depth_snapshot_delay(Duration::from_millis(rng.gen_range(100..500)));
                    faults.drop_all(DropMode::Close {
                        code: 1001,
                        reason: "chaos".into(),
                    });
                }
                4 => drop(faults.send_malformed()),
                _ => faults.set_depth_snapshot_delay(Duration::ZERO),
            }
        }
        faults.set_depth_snapshot_delay(Duration::ZERO);
    });
    let (mut checked, mut resyncs) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(chaos.is_finished() && checked >= 80) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{venue} seed {seed}: stuck ({checked} checks, {resyncs} resyncs)"
        );
        for cache in [&mut first, &mut second] {
            let event = tokio::time::timeout(PATIENCE, cache.recv())
                .await
                .expect("an event in time")
                .unwrap();
            match event {
                // Between the event and this read the book may have moved on, or
                // gone out of sync; if it can be read, it must be right.
                DepthEvent::Synced { .. } | DepthEvent::Updated { .. }
                    if assert_true_on(&sim, venue, cache).is_some() =>
                {
                    checked += 1;
                }
                DepthEvent::Resyncing { .. } => {
                    resyncs += 1;
                    // A book out of sync is never served.
                    if let Err(e) = cache.best() {
                        assert_eq!(e.kind(), &ErrorKind::NotSynced);
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        resyncs >= 1,
        "{venue} seed {seed}: the faults forced no resync"
    );
    chaos.await.unwrap();
}

#[tokio::test]
async fn caches_stay_true_through_random_faults() {
    for seed in 1..=5 {
        survive_faults(seed, Venue::Spot, ["BTCUSDT", "ETHUSDT"]).await;
    }
}

#[tokio::test]
async fn usdm_caches_stay_true_through_random_faults() {
    for seed in 1..=5 {
        survive_faults(seed, Venue::UsdM, ["BTCUSDT", "ETHUSDT"]).await;
    }
}

#[tokio::test]
async fn coinm_caches_stay_true_through_random_faults() {
    for seed in 1..=5 {
        survive_faults(seed, Venue::CoinM, ["BTCUSD_PERP", "ETHUSD_PERP"]).await;
    }
}

/// Options caches (the futures procedure over `/eapi/v1/depth`) through
/// the same faults, on two options of a busy two-option market.
#[tokio::test]
async fn options_caches_stay_true_through_random_faults() {
    for seed in 1..=5 {
        let mut options = OptionsConfig {
            actions_per_second: 1000,
            limits: Limits {
                max_incoming_per_second: 100,
                ..Limits::options()
            },
            ..OptionsConfig::default()
        };
        options.options.truncate(2);
        let names: Vec<String> = options
            .options
            .iter()
            .map(|o| o.spec.symbol.clone())
            .collect();
        survive_faults_in(seed, Venue::Options, [&names[0], &names[1]], options).await;
    }
}

#[tokio::test]
async fn stale_snapshots_are_taken_again() {
    let sim = sim().await;
    // Every snapshot arrives 300 ms late, and so is older than the diffs buffered meanwhile.
    sim.faults()
        .set_depth_snapshot_delay(Duration::from_millis(300));
    let mut cache = manager(&sim)
        .depth_caches(options(&sim))
        .add("ETHUSDT")
        .await
        .unwrap();
    loop {
        if let DepthEvent::Synced { .. } = tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .unwrap()
            .unwrap()
        {
            break;
        }
    }
    assert_true(&sim, &cache).unwrap();
}

#[tokio::test]
async fn a_hundred_symbols_resync_under_the_weight_limit() {
    // 100 symbols' snapshots at limit 1000 cost 50 each: 5000 of the 6000 a minute.
    let symbols = capture_symbols(100);
    let sim = Sim::start(SimConfig {
        market: MarketConfig {
            symbols: symbols.clone(),
            actions_per_second: 20,
            ..MarketConfig::default()
        },
        limits: Limits {
            max_incoming_per_second: 100,
            ..Limits::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let caches = manager(&sim).depth_caches(DepthCacheOptions {
        rest_url: Some(sim.rest_url()),
        ..DepthCacheOptions::default()
    });
    let names: Vec<&str> = symbols.iter().map(|s| s.symbol.as_str()).collect();
    let mut all = tokio::time::timeout(PATIENCE, caches.add_many(&names))
        .await
        .expect("added in time")
        .unwrap();
    for cache in &mut all {
        loop {
            if let DepthEvent::Synced { .. } = tokio::time::timeout(PATIENCE, cache.recv())
                .await
                .unwrap()
                .unwrap()
            {
                break;
            }
        }
    }
    // 100 snapshots of weight 50, paced by the client: the exchange refused none.
    assert_eq!(sim.rest_refusals(), 0);
}

/// Replay a real capture through a stream server and a REST server: every
/// symbol syncs by the procedure and stays uncrossed to its last update.
async fn replay(ws_file: &str, http_file: &str) {
    let dir = shared().join("captures");
    let (_, frames) = binance_sim::replay::read_ws_capture(&dir.join(ws_file)).unwrap();
    let depth = binance_sim::replay::read_depth_capture(&dir.join(http_file)).unwrap();
    // The last depth update id of each symbol in the recording.
    let mut last: HashMap<String, u64> = HashMap::new();
    for f in &frames {
        let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
        if v["data"]["e"] == "depthUpdate" {
            last.insert(
                v["data"]["s"].as_str().unwrap().to_owned(),
                v["data"]["u"].as_u64().unwrap(),
            );
        }
    }
    let server = binance_sim::replay::ReplayServer::start(frames, depth.clone(), 5.0)
        .await
        .unwrap();
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(server.ws_url()))
        .no_proxy()
        .build()
        .unwrap();
    let caches = manager.depth_caches(DepthCacheOptions {
        rest_url: Some(server.rest_url()),
        ..DepthCacheOptions::default()
    });
    let mut symbols: Vec<&str> = depth.keys().map(String::as_str).collect();
    symbols.sort();
    // One subscription for all: the replay starts with it, as the recording did.
    let mut caches_by = caches.add_many(&symbols).await.unwrap();
    for cache in &mut caches_by {
        let symbol = cache.symbol().to_string();
        let mut synced = false;
        loop {
            let event = tokio::time::timeout(PATIENCE, cache.recv())
                .await
                .unwrap()
                .unwrap();
            match event {
                DepthEvent::Synced { .. } => synced = true,
                DepthEvent::Updated { .. } => {}
                DepthEvent::Resyncing { reason } => {
                    panic!("{symbol}: resync on real traffic: {reason}")
                }
                _ => continue,
            }
            let (id, crossed) = cache
                .with_book(|b| (b.last_update_id(), b.is_crossed()))
                .unwrap();
            assert!(!crossed, "{symbol} crossed at {id}");
            if id >= last[&symbol] {
                break;
            }
        }
        assert!(synced, "{symbol}");
    }
}

#[tokio::test]
async fn real_binance_capture_syncs_and_stays_uncrossed() {
    replay("BINANCE.ws.1.0", "BINANCE.http.0.0").await;
}

#[tokio::test]
async fn real_binance_us_capture_syncs_and_stays_uncrossed() {
    replay("BINANCE_US.ws.1.0", "BINANCE_US.http.0.0").await;
}

#[tokio::test]
async fn each_gap_takes_a_fresh_snapshot() {
    let sim = sim().await;
    let caches = manager(&sim).depth_caches(options(&sim));
    let mut cache = caches.add("BNBUSDT").await.unwrap();
    // Each skip leaves a gap; each gap costs a resync and a snapshot.
    let (mut synced, mut resyncs) = (0, 0);
    while synced < 3 {
        match tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .unwrap()
            .unwrap()
        {
            DepthEvent::Synced { .. } => {
                synced += 1;
                assert_true(&sim, &cache);
                sim.faults().skip_update_ids("BNBUSDT", 1);
            }
            DepthEvent::Resyncing { reason } => {
                assert!(reason.starts_with("gap"), "{reason}");
                resyncs += 1;
            }
            _ => {}
        }
    }
    assert_eq!(resyncs, 2);
    assert_eq!(sim.rest_refusals(), 0);
}

#[tokio::test]
async fn a_depth_bound_keeps_the_top_exact() {
    let sim = sim().await;
    let mut cache = manager(&sim)
        .depth_caches(DepthCacheOptions {
            max_depth: Some(10),
            ..options(&sim)
        })
        .add("BTCUSDT")
        .await
        .unwrap();
    let mut checked = 0;
    while checked < 20 {
        let event = tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .unwrap()
            .unwrap();
        if !matches!(
            event,
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. }
        ) {
            continue;
        }
        let Ok((id, bids, asks)) = cache.top(50) else {
            continue;
        };
        assert_eq!(
            (bids.len(), asks.len()),
            (10, 10),
            "reads stop at the bound"
        );
        let truth = sim.true_book("BTCUSDT", id).unwrap();
        let top = |v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]| {
            v.iter()
                .take(10)
                .map(|&(p, q)| Level::new(p, q))
                .collect::<Vec<_>>()
        };
        assert_eq!(bids, top(&truth.bids), "bids at {id}");
        assert_eq!(asks, top(&truth.asks), "asks at {id}");
        checked += 1;
    }
}

#[tokio::test]
async fn a_periodic_refresh_resyncs_from_a_fresh_snapshot() {
    let sim = sim().await;
    let mut cache = manager(&sim)
        .depth_caches(DepthCacheOptions {
            refresh: Some(Duration::from_millis(300)),
            ..options(&sim)
        })
        .add("ETHUSDT")
        .await
        .unwrap();
    let mut synced = 0;
    let mut refreshes = 0;
    while synced < 3 {
        match tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .unwrap()
            .unwrap()
        {
            DepthEvent::Synced { .. } => {
                synced += 1;
                assert_true(&sim, &cache);
            }
            DepthEvent::Resyncing { reason } => {
                assert_eq!(reason, "periodic re-snapshot");
                refreshes += 1;
            }
            _ => {}
        }
    }
    assert_eq!(refreshes, 2);
}

#[tokio::test]
async fn a_symbol_twice_is_refused_instead_of_silencing_the_first() {
    let sim = sim().await;
    let manager = manager(&sim);
    let caches = manager.depth_caches(options(&sim));
    let mut first = caches.add("BTCUSDT").await.unwrap();
    let err = caches.add("btcusdt").await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("BTCUSDT is already kept"), "{err}");
    let err = caches.add_many(&["ETHUSDT", "ETHUSDT"]).await.unwrap_err();
    assert!(err.to_string().contains("ETHUSDT"), "{err}");
    // The first cache still reads its book.
    loop {
        match tokio::time::timeout(PATIENCE, first.recv())
            .await
            .unwrap()
            .unwrap()
        {
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } => break,
            _ => {}
        }
    }
    assert!(assert_true(&sim, &first).is_some());
}
