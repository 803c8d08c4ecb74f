//! Real traffic recorded from Binance decodes, none of it as `Unknown`, and
//! the recorded depth snapshots load into the book.

mod support;

use binance_types::{frame, Event, OrderBook};

fn capture_lines(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(support::shared().join("captures").join(file)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_ws(file: &str) {
    let lines = capture_lines(file);
    assert!(lines[0].contains(" <-> "), "first line is the URL");
    let mut counts = std::collections::BTreeMap::new();
    for line in &lines[1..] {
        let (_, frame_text) = line.split_once(": ").expect("`TS: FRAME`");
        let frame = frame::decode(frame_text.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            frame.stream().is_some(),
            "combined stream frames carry their name"
        );
        let kind = match &frame.event {
            Event::DepthUpdate(_) => "depthUpdate",
            Event::BookTicker(_) => "bookTicker",
            Event::Kline(_) => "kline",
            Event::AggTrade(_) => "aggTrade",
            other => panic!("{file}: unexpected {other:?}"),
        };
        *counts.entry(kind).or_insert(0) += 1;
        let back: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        let orig: serde_json::Value = serde_json::from_str(frame_text).unwrap();
        assert_eq!(back, orig, "{file}: re-encoding changed {frame_text}");
    }
    assert_eq!(counts.values().sum::<usize>(), lines.len() - 1);
    assert!(counts.len() >= 3, "{file}: {counts:?}");
}

#[test]
fn binance_frames_decode() {
    check_ws("BINANCE.ws.1.0");
}

#[test]
fn binance_us_frames_decode() {
    check_ws("BINANCE_US.ws.1.0");
}

fn check_snapshots(file: &str) {
    let lines = capture_lines(file);
    assert!(!lines.is_empty());
    for line in lines {
        let (url, rest) = line.split_once(" -> ").unwrap();
        let (_, body) = rest.split_once(": ").unwrap();
        let Event::PartialDepth(snapshot) = frame::decode(body.as_bytes()).unwrap().event else {
            panic!("{url}: not a depth snapshot");
        };
        let mut book = OrderBook::new();
        book.load_snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
        assert_eq!(
            book.len(),
            (snapshot.bids.len(), snapshot.asks.len()),
            "{url}"
        );
        assert!(
            book.len().0 > 10 && book.len().1 > 10,
            "{url}: {:?}",
            book.len()
        );
        assert!(!book.is_crossed(), "{url}");
        assert_eq!(book.best_bid(), snapshot.bids.first().copied());
        assert_eq!(book.best_ask(), snapshot.asks.first().copied());
        assert_eq!(book.last_update_id(), snapshot.last_update_id);
    }
}

#[test]
fn binance_snapshots_load() {
    check_snapshots("BINANCE.http.0.0");
}

#[test]
fn binance_us_snapshots_load() {
    check_snapshots("BINANCE_US.http.0.0");
}
