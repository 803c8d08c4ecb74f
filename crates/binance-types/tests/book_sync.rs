//! The order-book procedures through `binance_types::book_sync::BookSync`:
//! futures (reference §5.4) over real USD-M and COIN-M traffic replayed
//! against the recorded REST snapshots, checked against a book and an
//! expectation computed here from the raw frames; one small hand-made test
//! per rule, futures and spot (§2.3).

mod support;

use std::collections::BTreeMap;

use binance_types::book_sync::{BookSync, Gap, Outcome, SyncState, UpdateIds};
use binance_types::capture;
use binance_types::futures::market::DepthUpdate;
use binance_types::futures::{decode_futures, FuturesEvent};
use binance_types::market::DepthSnapshot;
use binance_types::{Decimal, Level};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Replaying the captures

/// A plain model of one side of a book: price -> quantity.
type Side = BTreeMap<Decimal, Decimal>;

/// One `<sym>@depth@100ms` frame read with `serde_json` only, not with the
/// crate's decoder: receive time, `U`, `u`, `pu`, bids, asks.
struct RawDepth {
    at: f64,
    first: u64,
    last: u64,
    previous: u64,
    bids: Vec<(Decimal, Decimal)>,
    asks: Vec<(Decimal, Decimal)>,
}

fn raw_levels(v: &Value) -> Vec<(Decimal, Decimal)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let p = l[0].as_str().unwrap().parse().unwrap();
            let q = l[1].as_str().unwrap().parse().unwrap();
            (p, q)
        })
        .collect()
}

fn plain_apply(side: &mut Side, levels: &[(Decimal, Decimal)]) {
    for &(p, q) in levels {
        if q.is_zero() {
            side.remove(&p);
        } else {
            side.insert(p, q);
        }
    }
}

/// What one capture showed, for the summary line.
#[derive(Debug, Default)]
struct Totals {
    symbols: usize,
    events: usize,
    before_snapshot: usize,
    applied: usize,
    dropped: usize,
    gaps: usize,
}

/// Replay `<prefix>.ws.1.0` against `<prefix>.http.0.0`, symbol by symbol.
fn replay(prefix: &str, path: &str) -> Totals {
    let dir = support::shared().join("captures");
    let open = |file: String| std::fs::File::open(dir.join(file)).unwrap();
    let ws = capture::read_ws(open(format!("{prefix}.ws.1.0"))).unwrap();
    let http = capture::read_http(open(format!("{prefix}.http.0.0"))).unwrap();
    let mut totals = Totals::default();
    for answer in &http {
        assert!(answer.url.contains(path), "{}", answer.url);
        let symbol = answer
            .url
            .split("symbol=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let stream = format!("{}@depth@100ms", symbol.to_lowercase());
        let snapshot: DepthSnapshot = serde_json::from_str(&answer.body).unwrap();
        let last_update_id = snapshot.last_update_id;

        // The symbol's diff frames, in capture order, read twice: raw, and
        // through the crate's decoder.
        let mut raw = Vec::new();
        let mut typed: Vec<DepthUpdate> = Vec::new();
        for recorded in &ws.frames {
            let value: Value = serde_json::from_str(&recorded.text).unwrap();
            if value["stream"] != stream.as_str() {
                continue;
            }
            let data = &value["data"];
            raw.push(RawDepth {
                at: recorded.at,
                first: data["U"].as_u64().unwrap(),
                last: data["u"].as_u64().unwrap(),
                previous: data["pu"].as_u64().unwrap(),
                bids: raw_levels(&data["b"]),
                asks: raw_levels(&data["a"]),
            });
            let FuturesEvent::DepthUpdate(depth) =
                decode_futures(recorded.text.as_bytes()).unwrap().event
            else {
                panic!("{stream}: not a depth update");
            };
            assert_eq!(depth.symbol, symbol);
            typed.push(depth);
        }
        assert!(!raw.is_empty(), "{stream}: no frames");

        // The expectation, computed from the raw frames alone: drop `u` <
        // lastUpdateId; the first kept event brackets lastUpdateId; count
        // every `pu` != previous `u` after it; the events up to the first
        // such gap are the ones applied.
        let kept: Vec<&RawDepth> = raw.iter().filter(|e| e.last >= last_update_id).collect();
        let first = kept.first().expect("an event after the snapshot");
        assert!(
            first.first <= last_update_id && last_update_id <= first.last,
            "{stream}: the capture's first event does not bracket the snapshot"
        );
        let data_gaps = kept
            .windows(2)
            .filter(|w| w[1].previous != w[0].last)
            .count();
        let applicable = 1 + kept
            .windows(2)
            .position(|w| w[1].previous != w[0].last)
            .unwrap_or(kept.len() - 1);
        let mut bids: Side = snapshot
            .bids
            .iter()
            .map(|l| (l.price, l.quantity))
            .collect();
        let mut asks: Side = snapshot
            .asks
            .iter()
            .map(|l| (l.price, l.quantity))
            .collect();
        for event in &kept[..applicable] {
            plain_apply(&mut bids, &event.bids);
            plain_apply(&mut asks, &event.asks);
        }
        let expected_applied: Vec<u64> = kept[..applicable].iter().map(|e| e.last).collect();
        let expected_dropped = raw.len() - kept.len();

        // The sync, fed the frames and the snapshot at its recorded time.
        let mut sync = BookSync::futures();
        let mut outcomes = Vec::new();
        let mut snapshot_given = false;
        let mut before_snapshot = 0;
        for (raw_event, event) in raw.iter().zip(typed) {
            if !snapshot_given && raw_event.at > answer.at {
                outcomes.extend(sync.snapshot(last_update_id, &snapshot.bids, &snapshot.asks));
                snapshot_given = true;
                if let Some(book) = sync.book() {
                    assert!(!book.is_crossed(), "{stream}: crossed after the buffer");
                }
            }
            let outcome = sync.push(event);
            if snapshot_given {
                outcomes.push(outcome);
            } else {
                before_snapshot += 1;
                assert!(matches!(outcome, Outcome::Buffered { .. }), "{outcome:?}");
            }
            if matches!(outcome, Outcome::Applied { .. }) {
                let book = sync.book().expect("synced after an applied event");
                assert!(!book.is_crossed(), "{stream}: crossed after {outcome:?}");
            }
        }
        assert!(snapshot_given, "{stream}: snapshot after every frame");
        assert_eq!(outcomes.len(), raw.len(), "{stream}: one outcome per event");

        let applied: Vec<u64> = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Applied { .. }))
            .map(|o| o.event().last)
            .collect();
        let dropped = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Dropped { .. }))
            .count();
        let gaps = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Gap(_)))
            .count();
        assert_eq!(applied, expected_applied, "{stream}: applied events");
        assert_eq!(dropped, expected_dropped, "{stream}: dropped events");
        // The captures are continuous: no `pu` gap at all. (With a gap the
        // sync would report the first and buffer the rest.)
        assert_eq!(data_gaps, 0, "{stream}: the data shows a gap");
        assert_eq!(gaps, data_gaps.min(1), "{stream}: gaps reported");
        assert_eq!(sync.state(), SyncState::Synced, "{stream}");

        let book = sync.book().unwrap();
        assert_eq!(book.last_update_id(), *expected_applied.last().unwrap());
        let book_bids: Side = book.bids().map(|l| (l.price, l.quantity)).collect();
        let book_asks: Side = book.asks().map(|l| (l.price, l.quantity)).collect();
        assert_eq!(book_bids, bids, "{stream}: bids");
        assert_eq!(book_asks, asks, "{stream}: asks");
        // Best first, as the plain model orders them.
        assert_eq!(
            book.best_bid().map(|l| l.price),
            bids.keys().next_back().copied()
        );
        assert_eq!(
            book.best_ask().map(|l| l.price),
            asks.keys().next().copied()
        );

        totals.symbols += 1;
        totals.events += raw.len();
        totals.before_snapshot += before_snapshot;
        totals.applied += applied.len();
        totals.dropped += dropped;
        totals.gaps += gaps;
    }
    eprintln!("{prefix}: {totals:?}");
    totals
}

#[test]
fn usdm_capture_syncs() {
    let totals = replay("BINANCE_FUTURES", "https://fapi.binance.com/fapi/v1/depth?");
    assert_eq!(totals.symbols, 4);
    assert_eq!(totals.events, 764);
    assert_eq!(totals.before_snapshot, 4);
    assert_eq!((totals.applied, totals.dropped, totals.gaps), (752, 12, 0));
}

#[test]
fn coinm_capture_syncs() {
    let totals = replay(
        "BINANCE_DELIVERY",
        "https://dapi.binance.com/dapi/v1/depth?",
    );
    assert_eq!(totals.symbols, 10);
    assert_eq!(totals.events, 2047);
    assert_eq!(totals.before_snapshot, 10);
    assert_eq!(
        (totals.applied, totals.dropped, totals.gaps),
        (1788, 259, 0)
    );
}

// ---------------------------------------------------------------------------
// One rule at a time

fn lv(p: &str, q: &str) -> Level {
    Level::new(p.parse().unwrap(), q.parse().unwrap())
}

fn levels(levels: &[(&str, &str)]) -> String {
    let items: Vec<String> = levels
        .iter()
        .map(|(p, q)| format!(r#"["{p}","{q}"]"#))
        .collect();
    format!("[{}]", items.join(","))
}

/// A `depthUpdate` with these ids and levels, through the crate's decoder.
fn ev(
    first: u64,
    last: u64,
    previous: u64,
    bids: &[(&str, &str)],
    asks: &[(&str, &str)],
) -> DepthUpdate {
    let text = format!(
        r#"{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{first},"u":{last},"pu":{previous},"b":{},"a":{}}}"#,
        levels(bids),
        levels(asks)
    );
    match decode_futures(text.as_bytes()).unwrap().event {
        FuturesEvent::DepthUpdate(d) => d,
        other => panic!("{other:?}"),
    }
}

fn ids(first: u64, last: u64, previous: u64) -> UpdateIds {
    UpdateIds {
        first,
        last,
        previous: Some(previous),
    }
}

/// A sync holding snapshot 100: bid 10 x 1, ask 11 x 1.
fn at_100() -> BookSync {
    let mut sync = BookSync::futures();
    assert!(sync
        .snapshot(100, &[lv("10", "1")], &[lv("11", "1")])
        .is_empty());
    assert_eq!(
        sync.state(),
        SyncState::AwaitingFirstEvent {
            last_update_id: 100
        }
    );
    assert!(sync.book().is_none(), "not shown before the first event");
    sync
}

#[test]
fn events_before_the_snapshot_are_buffered_then_processed_in_order() {
    let mut sync = BookSync::futures();
    assert_eq!(sync.state(), SyncState::NeedSnapshot { gap: None });
    let a = ev(90, 95, 80, &[("9", "5")], &[]);
    let b = ev(96, 105, 95, &[("10", "2")], &[]);
    let c = ev(106, 110, 105, &[("10", "3")], &[("11", "0")]);
    for e in [a, b, c] {
        let id = UpdateIds::from(&e);
        assert_eq!(sync.push(e), Outcome::Buffered { event: id });
    }
    assert_eq!(sync.buffered(), 3);
    assert!(sync.book().is_none());
    let outcomes = sync.snapshot(100, &[lv("10", "1")], &[lv("11", "1")]);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Dropped {
                last_update_id: 100,
                event: ids(90, 95, 80)
            },
            Outcome::Applied {
                event: ids(96, 105, 95)
            },
            Outcome::Applied {
                event: ids(106, 110, 105)
            },
        ]
    );
    assert_eq!(sync.buffered(), 0);
    let book = sync.book().unwrap();
    assert_eq!(book.last_update_id(), 110);
    // The latest update of a price wins; the dropped event's level is absent.
    assert_eq!(book.bids().collect::<Vec<_>>(), vec![lv("10", "3")]);
    assert_eq!(book.asks().count(), 0);
}

#[test]
fn first_event_must_bracket_last_update_id() {
    // U <= lastUpdateId <= u, at both ends.
    for (first, last) in [(100, 100), (90, 100), (100, 120), (95, 105)] {
        let mut sync = at_100();
        assert_eq!(
            sync.push(ev(first, last, 1, &[], &[])),
            Outcome::Applied {
                event: ids(first, last, 1)
            },
            "U={first} u={last}"
        );
        assert!(sync.is_synced());
    }
    // U > lastUpdateId: updates between the snapshot and the event are missing.
    let mut sync = at_100();
    let gap = Gap::NotBracketing {
        last_update_id: 100,
        event: ids(101, 105, 100),
    };
    assert_eq!(
        sync.push(ev(101, 105, 100, &[("10", "9")], &[])),
        Outcome::Gap(gap)
    );
    assert_eq!(sync.state(), SyncState::NeedSnapshot { gap: Some(gap) });
    assert!(sync.needs_snapshot());
    assert!(sync.book().is_none());
    assert_eq!(sync.buffered(), 1, "kept for the next snapshot");
    assert!(gap.to_string().contains("lastUpdateId 100"), "{gap}");
}

#[test]
fn events_older_than_the_snapshot_are_dropped() {
    let mut sync = at_100();
    // u < lastUpdateId: dropped, the book untouched, still waiting.
    assert_eq!(
        sync.push(ev(90, 99, 80, &[("10", "7")], &[])),
        Outcome::Dropped {
            last_update_id: 100,
            event: ids(90, 99, 80)
        }
    );
    assert_eq!(
        sync.state(),
        SyncState::AwaitingFirstEvent {
            last_update_id: 100
        }
    );
    // Its `u` is not what the next event has to continue.
    assert!(matches!(
        sync.push(ev(99, 101, 98, &[], &[])),
        Outcome::Applied { .. }
    ));
    assert_eq!(sync.book().unwrap().bids().next(), Some(lv("10", "1")));
}

#[test]
fn a_pu_gap_stops_everything_until_a_new_snapshot() {
    let mut sync = at_100();
    assert!(matches!(
        sync.push(ev(95, 105, 90, &[("10", "2")], &[])),
        Outcome::Applied { .. }
    ));
    assert!(matches!(
        sync.push(ev(106, 110, 105, &[("10", "3")], &[])),
        Outcome::Applied { .. }
    ));
    // pu 111 != previous u 110.
    let gap = Gap::Discontinuous {
        expected_previous: 110,
        event: ids(112, 115, 111),
    };
    assert_eq!(
        sync.push(ev(112, 115, 111, &[("10", "4")], &[])),
        Outcome::Gap(gap)
    );
    assert_eq!(sync.state(), SyncState::NeedSnapshot { gap: Some(gap) });
    assert!(sync.book().is_none());
    // Even an event continuing the gapped one is not applied.
    assert_eq!(
        sync.push(ev(116, 120, 115, &[("10", "5")], &[])),
        Outcome::Buffered {
            event: ids(116, 120, 115)
        }
    );
    assert_eq!(sync.buffered(), 2);
    // A new snapshot: the buffered events go through the rules again.
    let outcomes = sync.snapshot(118, &[lv("10", "8")], &[lv("11", "1")]);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Dropped {
                last_update_id: 118,
                event: ids(112, 115, 111)
            },
            Outcome::Applied {
                event: ids(116, 120, 115)
            },
        ]
    );
    let book = sync.book().unwrap();
    assert_eq!(book.last_update_id(), 120);
    assert_eq!(book.bids().collect::<Vec<_>>(), vec![lv("10", "5")]);
}

#[test]
fn a_gap_inside_the_buffer_keeps_the_rest_for_the_next_snapshot() {
    let mut sync = BookSync::futures();
    sync.push(ev(95, 105, 90, &[("10", "2")], &[]));
    sync.push(ev(107, 110, 106, &[("10", "3")], &[]));
    sync.push(ev(111, 115, 110, &[("10", "4")], &[]));
    let outcomes = sync.snapshot(100, &[lv("10", "1")], &[]);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Applied {
                event: ids(95, 105, 90)
            },
            Outcome::Gap(Gap::Discontinuous {
                expected_previous: 105,
                event: ids(107, 110, 106)
            }),
            Outcome::Buffered {
                event: ids(111, 115, 110)
            },
        ]
    );
    assert!(sync.needs_snapshot());
    assert_eq!(sync.buffered(), 2);
    let outcomes = sync.snapshot(108, &[lv("10", "1")], &[]);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Applied { .. })));
    assert_eq!(sync.book().unwrap().bids().next(), Some(lv("10", "4")));
}

#[test]
fn zero_quantity_removes_and_removing_an_unknown_level_is_fine() {
    let mut sync = at_100();
    let outcome = sync.push(ev(
        100,
        101,
        99,
        &[("10", "0.000"), ("9.5", "0")],
        &[("11", "0"), ("12", "2"), ("13", "0")],
    ));
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    let book = sync.book().unwrap();
    assert_eq!(book.bids().count(), 0, "10 removed; 9.5 was never there");
    assert_eq!(book.asks().collect::<Vec<_>>(), vec![lv("12", "2")]);
    assert!(sync.is_synced(), "an unknown level is not an error");
    // Quantities are absolute, not added.
    sync.push(ev(102, 103, 101, &[], &[("12", "5")]));
    assert_eq!(sync.book().unwrap().asks().next(), Some(lv("12", "5")));
}

// ---------------------------------------------------------------------------
// Spot (§2.3): the same machine, spot's rules

/// A spot `depthUpdate` (no `pu`), through the crate's spot decoder.
fn spot(first: u64, last: u64, bids: &[(&str, &str)]) -> binance_types::market::DepthUpdate {
    let text = format!(
        r#"{{"e":"depthUpdate","E":1,"s":"BNBBTC","U":{first},"u":{last},"b":{},"a":[]}}"#,
        levels(bids)
    );
    match binance_types::frame::decode(text.as_bytes()).unwrap().event {
        binance_types::Event::DepthUpdate(d) => d,
        other => panic!("{other:?}"),
    }
}

fn spot_ids(first: u64, last: u64) -> UpdateIds {
    UpdateIds {
        first,
        last,
        previous: None,
    }
}

#[test]
fn spot_drops_u_up_to_the_snapshot_and_takes_u_plus_one_first() {
    let mut sync = BookSync::spot();
    sync.push(spot(95, 100, &[("9", "1")]));
    sync.push(spot(101, 104, &[("10", "2")]));
    let outcomes = sync.snapshot(100, &[lv("10", "1")], &[]);
    // Futures would keep u = lastUpdateId and refuse U = lastUpdateId + 1.
    assert_eq!(
        outcomes,
        vec![
            Outcome::Dropped {
                last_update_id: 100,
                event: spot_ids(95, 100)
            },
            Outcome::Applied {
                event: spot_ids(101, 104)
            },
        ]
    );
    assert_eq!(sync.book().unwrap().bids().next(), Some(lv("10", "2")));
}

#[test]
fn spot_snapshot_older_than_the_first_buffered_u_asks_again_and_keeps_the_buffer() {
    let mut sync = BookSync::spot();
    sync.push(spot(101, 104, &[("10", "2")]));
    sync.push(spot(105, 106, &[("10", "3")]));
    // lastUpdateId 99 < U 101 - 1: too old.
    let outcomes = sync.snapshot(99, &[lv("10", "1")], &[]);
    assert_eq!(
        outcomes[0],
        Outcome::Gap(Gap::NotBracketing {
            last_update_id: 99,
            event: spot_ids(101, 104)
        })
    );
    assert!(sync.needs_snapshot() && sync.book().is_none());
    assert_eq!(sync.buffered(), 2, "nothing lost for the next snapshot");
    let outcomes = sync.snapshot(102, &[lv("10", "1")], &[]);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Applied { .. })));
    assert_eq!(sync.book().unwrap().last_update_id(), 106);
}

#[test]
fn spot_continuity_is_u_plus_one_with_overlap_tolerated() {
    let mut sync = BookSync::spot();
    sync.push(spot(100, 102, &[]));
    sync.snapshot(101, &[lv("10", "1")], &[]);
    assert!(sync.is_synced());
    // Overlapping the book (U ≤ last u) is applied, a repeat is dropped.
    assert!(matches!(
        sync.push(spot(102, 105, &[("10", "5")])),
        Outcome::Applied { .. }
    ));
    assert_eq!(
        sync.push(spot(104, 105, &[])),
        Outcome::Dropped {
            last_update_id: 105,
            event: spot_ids(104, 105)
        }
    );
    assert!(matches!(
        sync.push(spot(106, 106, &[])),
        Outcome::Applied { .. }
    ));
    // U > last u + 1: missed updates.
    assert_eq!(
        sync.push(spot(108, 110, &[])),
        Outcome::Gap(Gap::Discontinuous {
            expected_previous: 106,
            event: spot_ids(108, 110)
        })
    );
    assert!(sync.needs_snapshot() && sync.book().is_none());
}

/// `push_keeping` gives an applied (or dropped) event's levels back, so a
/// cache passing them on copies nothing; a buffered one stays inside.
#[test]
fn push_keeping_gives_the_applied_levels_back() {
    let mut sync = BookSync::spot();
    let (outcome, kept) = sync.push_keeping(spot(101, 104, &[("10", "2")]));
    assert!(matches!(outcome, Outcome::Buffered { .. }) && kept.is_none());
    sync.snapshot(102, &[lv("10", "1")], &[]);
    let (outcome, kept) = sync.push_keeping(spot(105, 106, &[("10", "3"), ("9", "1")]));
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    assert_eq!(kept.unwrap().bids, vec![lv("10", "3"), lv("9", "1")]);
    let (outcome, kept) = sync.push_keeping(spot(104, 106, &[]));
    assert!(matches!(outcome, Outcome::Dropped { .. }) && kept.is_some());
}
