//! Real traffic recorded from Binance decodes, none of it as `Unknown`, and
//! the recorded depth snapshots load into the book; both read through
//! `binance_types::capture`, the format's one reader.

mod support;

use binance_types::{capture, frame, Event, OrderBook};

fn capture_file(file: &str) -> std::fs::File {
    std::fs::File::open(support::shared().join("captures").join(file)).unwrap()
}

/// Non-blank lines of a capture file, counted without the format's reader.
fn line_count(file: &str) -> usize {
    std::io::read_to_string(capture_file(file))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn check_ws(file: &str) {
    let capture = capture::read_ws(capture_file(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(!capture.url.is_empty(), "first line is the URL");
    let mut counts = std::collections::BTreeMap::new();
    for recorded in &capture.frames {
        let frame_text = recorded.text.as_str();
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
    assert_eq!(counts.values().sum::<usize>(), line_count(file) - 1);
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
    let answers = capture::read_http(capture_file(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(!answers.is_empty());
    assert_eq!(answers.len(), line_count(file));
    for capture::HttpRecorded { url, body, .. } in answers {
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
