//! Decode and book benchmarks. Each decode is measured beside
//! `serde_json::from_slice::<IgnoredAny>` over the same bytes: the cost of
//! merely reading the JSON, the floor any typed decode stands on.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use binance_types::{frame, Decimal, Level, OrderBook};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::de::IgnoredAny;

const TRADE: &[u8] = br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}"#;

fn levels(n: usize, start: i64, step: i64) -> Vec<Level> {
    (0..n as i64)
        .map(|i| {
            Level::new(
                Decimal::new(start + i * step, 8),
                Decimal::new(1_000_000 + i * 37, 8),
            )
        })
        .collect()
}

/// JSON text in Binance's key order (a `json!` map would sort the keys).
fn json(levels: &[Level]) -> String {
    serde_json::to_string(levels).unwrap()
}

fn depth_update_20() -> Vec<u8> {
    format!(
        r#"{{"stream":"bnbbtc@depth@100ms","data":{{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":176,"b":{},"a":{}}}}}"#,
        json(&levels(10, 6_000_000, -100)),
        json(&levels(10, 6_000_100, 100)),
    )
    .into_bytes()
}

fn snapshot_1000() -> Vec<u8> {
    format!(
        r#"{{"lastUpdateId":1027024,"bids":{},"asks":{}}}"#,
        json(&levels(1000, 6_000_000, -100)),
        json(&levels(1000, 6_000_100, 100)),
    )
    .into_bytes()
}

fn bench_decode(c: &mut Criterion) {
    let depth = depth_update_20();
    let snapshot = snapshot_1000();
    for (name, bytes) in [
        ("trade", TRADE),
        ("depthUpdate_20_combined", &depth[..]),
        ("snapshot_1000", &snapshot[..]),
    ] {
        let mut group = c.benchmark_group(name);
        group.bench_function("ignored_any", |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(bytes)).unwrap())
        });
        group.bench_function("typed", |b| {
            b.iter(|| frame::decode(black_box(bytes)).unwrap())
        });
        // The same frame with one space: Binance's layout no longer matches
        // exactly, so this is the serde-derived path.
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let spaced = match text.contains("{\"e\"") {
            true => text.replacen("{\"e\"", "{ \"e\"", 1),
            false => text.replacen('{', "{ ", 1),
        };
        group.bench_function("typed_serde_path", |b| {
            b.iter(|| frame::decode(black_box(spaced.as_bytes())).unwrap())
        });
        group.finish();
    }
}

fn bench_book(c: &mut Criterion) {
    let mut book = OrderBook::new();
    book.load_snapshot(
        1,
        &levels(1000, 6_000_000, -100),
        &levels(1000, 6_000_100, 100),
    );
    // A realistic diff: changes near the top, one removal a side.
    let mut bids = levels(10, 5_999_500, -100);
    let mut asks = levels(10, 6_000_600, 100);
    bids[3].quantity = Decimal::ZERO;
    asks[7].quantity = Decimal::ZERO;
    let mut group = c.benchmark_group("book");
    group.throughput(criterion::Throughput::Elements(20));
    group.bench_function("apply_20_levels_to_1000", |b| {
        b.iter_batched_ref(
            || book.clone(),
            |book| book.apply(2, black_box(&bids), black_box(&asks)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_decode, bench_book);

/// The depth cache's work per diff: decode a combined 20-level depthUpdate
/// and apply it to a 1000-level book, beside decoding it alone.
fn bench_frame_to_book(c: &mut Criterion) {
    let frame = depth_update_20();
    let mut book = OrderBook::new();
    book.load_snapshot(
        1,
        &levels(1000, 6_000_000, -100),
        &levels(1000, 6_000_100, 100),
    );
    let mut group = c.benchmark_group("frame_to_book_20");
    group.throughput(criterion::Throughput::Elements(20));
    group.bench_function("decode_only", |b| {
        b.iter(|| frame::decode(black_box(&frame)).unwrap())
    });
    group.bench_function("decode_and_apply", |b| {
        b.iter_batched_ref(
            || book.clone(),
            |book| {
                let f = frame::decode(black_box(&frame)).unwrap();
                if let binance_types::Event::DepthUpdate(d) = f.event {
                    book.apply(d.final_update_id, &d.bids, &d.asks);
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(depth_cache, bench_frame_to_book);

/// Every frame of the recorded USD-M and COIN-M traffic through the futures
/// decoder, beside `serde_json`'s `IgnoredAny` over the same bytes. The
/// frame count is printed and every frame must decode typed.
fn bench_futures_capture(c: &mut Criterion) {
    let shared = std::env::var("BINANCE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
        });
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for name in ["BINANCE_FUTURES.ws.1.0", "BINANCE_DELIVERY.ws.1.0"] {
        let file = std::fs::File::open(shared.join("captures").join(name)).unwrap();
        let capture = binance_types::capture::read_ws(file).unwrap();
        frames.extend(capture.frames.into_iter().map(|f| f.text.into_bytes()));
    }
    let decoded = frames
        .iter()
        .filter(|f| binance_types::futures::decode_futures(f).is_ok())
        .count();
    eprintln!(
        "futures_capture: {} frames, {} decoded",
        frames.len(),
        decoded
    );
    assert_eq!(decoded, frames.len(), "every frame decodes");
    let mut group = c.benchmark_group("futures_capture");
    group.throughput(criterion::Throughput::Elements(frames.len() as u64));
    group.bench_function("ignored_any", |b| {
        b.iter(|| {
            for f in &frames {
                serde_json::from_slice::<IgnoredAny>(black_box(f)).unwrap();
            }
        })
    });
    group.bench_function("decode_futures", |b| {
        b.iter(|| {
            for f in &frames {
                binance_types::futures::decode_futures(black_box(f)).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(futures_capture, bench_futures_capture);
criterion_main!(benches, depth_cache, futures_capture);
