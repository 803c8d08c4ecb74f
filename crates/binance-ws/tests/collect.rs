//! Collectors that never miss: redundant connections, the gap ledger and
//! backfill, against the simulator's trade log (every id exactly once).

mod support;

use std::collections::BTreeMap;

use binance_sim::DropMode;
use binance_ws::{Event, Message, Position, Status};
use support::*;

/// The trade ids of `symbol` the simulator made from `from` to `to`.
fn log_ids(sim: &binance_sim::Sim, symbol: &str, from: u64, to: u64) -> Vec<u64> {
    sim.trades(symbol)
        .iter()
        .map(|f| f.trade_id)
        .filter(|id| (from..=to).contains(id))
        .collect()
}

/// Every id delivered must be there once, and the ids must be the log's.
fn assert_exactly_once(sim: &binance_sim::Sim, delivered: &[u64]) {
    let mut counts = BTreeMap::new();
    for id in delivered {
        *counts.entry(*id).or_insert(0) += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "delivered twice: {repeated:?}");
    let (first, last) = (delivered[0], *delivered.last().unwrap());
    let want = log_ids(sim, "BTCUSDT", first, last);
    let got: Vec<u64> = counts.into_keys().collect();
    let missing: Vec<_> = want.iter().filter(|id| !got.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "missing from {first} to {last}: {missing:?}"
    );
    assert_eq!(got, want);
}

#[tokio::test]
async fn with_two_connections_dropping_either_again_and_again_loses_nothing() {
    let sim = sim().await;
    // Backfill off: only the second connection may cover the drops.
    let manager = builder(&sim).backfill_weight_per_minute(0).build().unwrap();
    let mut socket = manager
        .multiplex_socket(&["btcusdt@trade", "btcusdt@bookTicker"])
        .unwrap()
        .connections(2);
    socket.connect().await.unwrap();
    assert_eq!(sim.faults().connections().len(), 2, "two connections");
    let (mut ids, mut tops) = (Vec::new(), Vec::new());
    let mut statuses = Vec::new();
    for round in 0..6 {
        // Let trades flow, then drop one of the two (the older, then the
        // newer), and read on until it is back.
        while ids.len() < 40 * (round + 1) {
            match next(&mut socket).await.unwrap() {
                Message::Event(e) => match e.event {
                    Event::Trade(t) => ids.push(t.trade_id),
                    Event::BookTicker(b) => tops.push(b.update_id),
                    other => panic!("{other:?}"),
                },
                Message::Status(s) => statuses.push(s),
                other => panic!("{other:?}"),
            }
        }
        let open = sim.faults().connections();
        let victim = if round % 2 == 0 {
            open[0]
        } else {
            open[open.len() - 1]
        };
        assert!(sim.faults().drop_connection(victim, DropMode::Reset));
        loop {
            match next(&mut socket).await.unwrap() {
                Message::Event(e) => match e.event {
                    Event::Trade(t) => ids.push(t.trade_id),
                    Event::BookTicker(b) => tops.push(b.update_id),
                    other => panic!("{other:?}"),
                },
                Message::Status(Status::Reconnected) => break,
                Message::Status(s) => statuses.push(s),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_exactly_once(&sim, &ids);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "delivered in order: {ids:?}"
    );
    // bookTicker has no sequence: its copies are told apart by `u`.
    assert!(tops.len() > 20);
    assert!(
        tops.windows(2).all(|w| w[0] < w[1]),
        "each book top once, in order: {tops:?}"
    );
    assert!(
        !statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_hole_is_in_the_ledger_when_backfill_is_off() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .multiplex_socket(&["btcusdt@trade"])
        .unwrap()
        .backfill(false);
    socket.connect().await.unwrap();
    let mut ids = Vec::new();
    let mut gaps = Vec::new();
    while ids.len() < 20 {
        ids.push(next_trade(&mut socket, &mut gaps).await);
    }
    assert!(sim.faults().hide_trades("BTCUSDT", 7));
    while gaps.is_empty() || ids.len() < 60 {
        ids.push(next_trade(&mut socket, &mut gaps).await);
    }
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let Status::Gap {
        stream: Some(stream),
        from: Position::Id(from),
        to: Position::Id(to),
    } = &gaps[0]
    else {
        panic!("{gaps:?}")
    };
    assert_eq!(stream, "btcusdt@trade");
    // The gap is exactly what was not delivered.
    let (first, last) = (ids[0], *ids.last().unwrap());
    let missing: Vec<u64> = log_ids(&sim, "BTCUSDT", first, last)
        .into_iter()
        .filter(|id| !ids.contains(id))
        .collect();
    assert_eq!(missing, (*from..=*to).collect::<Vec<_>>());
    assert_eq!(missing.len(), 7);
}

/// The next trade id, noting gap statuses.
async fn next_trade(socket: &mut binance_ws::Socket, gaps: &mut Vec<Status>) -> u64 {
    loop {
        match next(socket).await.unwrap() {
            Message::Event(e) => match e.event {
                Event::Trade(t) => return t.trade_id,
                other => panic!("{other:?}"),
            },
            Message::Status(s @ Status::Gap { .. }) => gaps.push(s),
            Message::Status(_) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_hole_in_trades_and_aggregate_trades_is_filled_from_rest_in_order() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .multiplex_socket(&["btcusdt@trade", "btcusdt@aggTrade"])
        .unwrap()
        .raw();
    socket.connect().await.unwrap();
    // stream -> (id, backfilled) in delivery order
    let mut seen: BTreeMap<String, Vec<(u64, bool)>> = BTreeMap::new();
    let mut ledger = Vec::new();
    let mut hidden = false;
    let mut filled = 0;
    while filled < 2 || seen.values().any(|v| v.len() < 60) {
        match next(&mut socket).await.unwrap() {
            Message::Raw(frame) => {
                let value: serde_json::Value = serde_json::from_str(frame.text()).unwrap();
                let stream = value["stream"].as_str().unwrap().to_owned();
                let data = &value["data"];
                let id = match data["e"].as_str() {
                    Some("trade") => data["t"].as_u64(),
                    Some("aggTrade") => data["a"].as_u64(),
                    _ => None,
                }
                .unwrap();
                let list = seen.entry(stream.clone()).or_default();
                list.push((id, frame.backfilled()));
                ledger.push(format!("{stream} {id} {}", frame.backfilled()));
                if !hidden && list.len() == 10 {
                    assert!(sim.faults().hide_trades("BTCUSDT", 9));
                    hidden = true;
                }
            }
            Message::Status(s @ (Status::Gap { .. } | Status::GapFilled { .. })) => {
                if matches!(s, Status::GapFilled { .. }) {
                    filled += 1;
                }
                ledger.push(s.to_string());
            }
            Message::Status(_) => {}
            other => panic!("{other:?}"),
        }
    }
    for (stream, list) in &seen {
        let ids: Vec<u64> = list.iter().map(|(id, _)| *id).collect();
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "{stream}: every id once, in order: {ledger:#?}"
        );
        assert!(
            list.iter().any(|(_, backfilled)| *backfilled),
            "{stream}: some were backfilled: {ledger:#?}"
        );
    }
    let trades: Vec<u64> = seen["btcusdt@trade"].iter().map(|(id, _)| *id).collect();
    assert_exactly_once(&sim, &trades);
    // Each hole: the gap, the filled events, what was filled, then live.
    for stream in ["btcusdt@trade", "btcusdt@aggTrade"] {
        let gap = ledger
            .iter()
            .position(|l| l.starts_with(&format!("{stream}: missing")))
            .unwrap_or_else(|| panic!("{stream}: no gap: {ledger:#?}"));
        let fill = ledger
            .iter()
            .position(|l| l.starts_with(&format!("{stream}: filled")))
            .unwrap();
        let between: Vec<&String> = ledger[gap + 1..fill]
            .iter()
            .filter(|l| l.starts_with(&format!("{stream} ")))
            .collect();
        assert!(!between.is_empty(), "{ledger:#?}");
        assert!(between.iter().all(|l| l.ends_with("true")), "{ledger:#?}");
        assert_eq!(
            format!("{} from REST", ledger[gap].replace("missing", "filled")),
            ledger[fill],
            "all of it was filled"
        );
    }
}
