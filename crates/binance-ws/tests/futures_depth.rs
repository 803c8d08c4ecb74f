//! Futures depth caches on a replayed USD-M capture: the cache ends on the
//! book that §5.4's procedure, fed the same frames and snapshot directly,
//! gives.

mod support;

use std::collections::HashMap;

use binance_sim::replay::{read_depth_capture, read_ws_capture, Recorded, ReplayServer};
use binance_ws::binance_types::book_sync::BookSync;
use binance_ws::binance_types::futures::{decode_futures, FuturesEvent};
use binance_ws::binance_types::market::DepthSnapshot;
use binance_ws::binance_types::venue::Venue;
use binance_ws::binance_types::{Level, OrderBook};
use binance_ws::{futures_snapshot_weight, DepthEvent, Endpoint, SocketManager};
use support::*;

const SYMBOL: &str = "SUSHIUSDT";

/// The USD-M capture's frames and depth snapshots.
fn capture() -> (Vec<Recorded>, HashMap<String, String>) {
    let dir = shared().join("captures");
    let (_, frames) = read_ws_capture(&dir.join("BINANCE_FUTURES.ws.1.0")).unwrap();
    let depth = read_depth_capture(&dir.join("BINANCE_FUTURES.http.0.0")).unwrap();
    (frames, depth)
}

fn snapshot(depth: &HashMap<String, String>) -> DepthSnapshot {
    serde_json::from_str(&depth[SYMBOL]).unwrap()
}

/// The symbol's book by the procedure alone: the frames pushed in order,
/// the snapshot given once the first event is buffered (as the cache does).
fn expected(frames: &[Recorded], snapshot: &DepthSnapshot) -> OrderBook {
    let mut sync = BookSync::futures();
    let mut given = false;
    for frame in frames {
        let FuturesEvent::DepthUpdate(update) =
            decode_futures(frame.text.as_bytes()).unwrap().event
        else {
            continue;
        };
        if update.symbol != SYMBOL {
            continue;
        }
        sync.push(update);
        if !given {
            sync.snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
            given = true;
        }
    }
    sync.book()
        .expect("the capture syncs by the procedure")
        .clone()
}

fn whole(book: &OrderBook) -> (u64, Vec<Level>, Vec<Level>) {
    let (bids, asks) = book.top(usize::MAX);
    (book.last_update_id(), bids, asks)
}

/// Serve `frames` and the snapshots, keep the symbol's futures book until
/// it reaches `expected`'s update id, never crossed; the reasons of its
/// resyncs.
async fn follow(
    frames: Vec<Recorded>,
    depth: HashMap<String, String>,
    expected: &OrderBook,
) -> Vec<String> {
    let replay = ReplayServer::start(frames, depth, 5.0).await.unwrap();
    let manager = SocketManager::builder()
        .venue_endpoint(Venue::UsdM, Endpoint::Custom(replay.ws_url()))
        .no_proxy()
        .build()
        .unwrap();
    let mut cache = manager
        .futures_depth_cache(Venue::UsdM, SYMBOL)
        .await
        .unwrap();
    let (mut synced, mut resyncs) = (0, Vec::new());
    loop {
        let event = tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .expect("the cache reaches the capture's last update")
            .unwrap();
        match event {
            DepthEvent::Synced { .. } => synced += 1,
            DepthEvent::Updated { .. } => {}
            DepthEvent::Resyncing { reason } => {
                resyncs.push(reason);
                continue;
            }
            _ => continue,
        }
        // The task may have moved on to a gap already: its Resyncing follows.
        let Ok((id, crossed)) = cache.with_book(|b| (b.last_update_id(), b.is_crossed())) else {
            continue;
        };
        assert!(!crossed, "crossed at {id}");
        if id >= expected.last_update_id() {
            break;
        }
    }
    assert_eq!(synced, 1 + resyncs.len(), "one Synced per (re)sync");
    assert_eq!(cache.with_book(whole).unwrap(), whole(expected));
    let (bid, ask) = cache.best().unwrap();
    assert!(bid.unwrap().price < ask.unwrap().price);
    cache.close().await;
    resyncs
}

#[tokio::test]
async fn a_usdm_capture_syncs_and_ends_on_the_procedures_book() {
    let (frames, depth) = capture();
    let expected = expected(&frames, &snapshot(&depth));
    let resyncs = follow(frames, depth, &expected).await;
    assert_eq!(resyncs, Vec::<String>::new());
}

/// A forged event that brackets the snapshot but that the next real event
/// does not continue (`pu`): a gap, so a fresh snapshot, after which the
/// book is the procedure's again, without the forged (crossing) bid.
#[tokio::test]
async fn a_gap_takes_a_fresh_snapshot() {
    let (mut frames, depth) = capture();
    let snapshot = snapshot(&depth);
    let expected = expected(&frames, &snapshot);
    let at = frames
        .iter()
        .position(|f| match decode_futures(f.text.as_bytes()).unwrap().event {
            FuturesEvent::DepthUpdate(d) => {
                d.symbol == SYMBOL && d.final_update_id >= snapshot.last_update_id
            }
            _ => false,
        })
        .expect("an event brackets the snapshot");
    let id = snapshot.last_update_id;
    let forged = format!(
        r#"{{"stream":"sushiusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"SUSHIUSDT","U":{id},"u":{id},"pu":0,"b":[["1000.0000","1"]],"a":[]}}}}"#
    );
    let time = frames[at].at;
    frames.insert(
        at,
        Recorded {
            at: time,
            text: forged,
        },
    );
    let resyncs = follow(frames, depth, &expected).await;
    assert_eq!(resyncs.len(), 1, "{resyncs:?}");
    assert!(resyncs[0].starts_with("gap"), "{resyncs:?}");
}

#[test]
fn futures_snapshots_weigh_what_binance_says() {
    let weights: Vec<u32> = [5, 10, 20, 50, 100, 500, 1000]
        .into_iter()
        .map(futures_snapshot_weight)
        .collect();
    assert_eq!(weights, [2, 2, 2, 2, 5, 10, 20]);
}
