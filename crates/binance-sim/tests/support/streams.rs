//! Stream-reading helpers and book checks shared by the futures and options
//! tests: data frames past control answers, frames of one event type, a
//! silent stream proved by an answer arriving first, and the §5.4
//! procedure, `pu` continuity and a skipped update checked over a venue's
//! own frames.

use binance_sim::{Sim, Venue};
use binance_types::book_sync::{BookSync, Outcome};
use binance_types::futures::{decode_futures, DepthUpdate, FuturesEvent};
use binance_types::Level;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{connect, get_json, next_json, Ws};

/// The next data frame (control answers skipped).
pub async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let v = next_json(ws).await;
        if v.get("result").is_some() || v.get("error").is_some() {
            continue;
        }
        return v;
    }
}

/// A frame's event type (`e`, of the first item of an array).
pub fn event_type(v: &Value) -> &str {
    let data = v.get("data").unwrap_or(v);
    let data = data.as_array().and_then(|a| a.first()).unwrap_or(data);
    data["e"].as_str().unwrap_or_default()
}

/// Send `LIST_SUBSCRIPTIONS` with this id.
pub async fn list(ws: &mut Ws, id: u64) -> Result<(), impl std::fmt::Debug> {
    let request = json!({"method": "LIST_SUBSCRIPTIONS", "id": id});
    ws.send(Message::Text(request.to_string().into())).await
}

/// The next frame on `ws` is the answer to a request sent now: nothing
/// (no data of a silent stream) was waiting before it.
pub async fn nothing_pending(ws: &mut Ws, id: u64) {
    list(ws, id).await.unwrap();
    let first = next_json(ws).await;
    assert_eq!(first["id"], id, "data arrived on a silent stream: {first}");
}

/// Read until `count` frames of event type `e` arrived.
pub async fn frames_of(ws: &mut Ws, e: &str, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < count {
        let v = next_event(ws).await;
        if event_type(&v) == e {
            out.push(v);
        }
    }
    out
}

/// The book a [`BookSync`] keeps, as (price, quantity) lists.
fn levels(levels: impl Iterator<Item = Level>) -> Vec<(String, String)> {
    levels
        .map(|l| {
            (
                l.price.normalize().to_string(),
                l.quantity.normalize().to_string(),
            )
        })
        .collect()
}

fn truth(v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(p, q)| (p.normalize().to_string(), q.normalize().to_string()))
        .collect()
}

fn depth_update(v: Value) -> DepthUpdate {
    let text = v.to_string();
    let frame = decode_futures(text.as_bytes()).unwrap().into_owned();
    match frame.event {
        FuturesEvent::DepthUpdate(d) => d,
        other => panic!("not depth: {other:?}"),
    }
}

/// §5.4 over a venue's own diff stream (`stream_url`, a combined
/// `…@depth@100ms` connection) and its REST snapshot (`depth_url`, without
/// the symbol): the synced book equals the true book at every applied event.
pub async fn sync_reaches_the_true_book(
    sim: &Sim,
    venue: Venue,
    stream_url: &str,
    depth_url: &str,
    symbol: &str,
) {
    let mut ws = connect(stream_url).await;
    let mut sync = BookSync::futures();
    // Buffer a few events, then take the snapshot.
    for _ in 0..3 {
        sync.push(depth_update(next_event(&mut ws).await));
    }
    let (mut applied, mut snapshots) = (0, 0);
    while applied < 30 {
        if sync.needs_snapshot() {
            snapshots += 1;
            assert!(
                snapshots <= 3,
                "the procedure keeps failing: {:?}",
                sync.state()
            );
            let snapshot = get_json(&format!("{depth_url}?symbol={symbol}&limit=1000")).await;
            let side =
                |k: &str| -> Vec<Level> { serde_json::from_value(snapshot[k].clone()).unwrap() };
            let id = snapshot["lastUpdateId"].as_u64().unwrap();
            for outcome in sync.snapshot(id, &side("bids"), &side("asks")) {
                assert!(!matches!(outcome, Outcome::Gap(_)), "{outcome:?}");
            }
        }
        let event = depth_update(next_event(&mut ws).await);
        let u = event.final_update_id;
        let outcome = sync.push(event);
        assert!(!matches!(outcome, Outcome::Gap(_)), "{outcome:?}");
        if let Some(book) = sync.book() {
            applied += 1;
            let want = sim.venue_true_book(venue, symbol, u).expect("truth kept");
            assert_eq!(levels(book.bids()), truth(&want.bids), "bids at {u}");
            assert_eq!(levels(book.asks()), truth(&want.asks), "asks at {u}");
        }
    }
}

/// On a combined connection to `streams` depth streams: every event's `pu`
/// is its stream's previous `u` and the ids tile, over at least `events`
/// events and until every stream was seen.
pub async fn pu_is_the_previous_u(ws: &mut Ws, streams: usize, events: usize) {
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    let mut seen = 0;
    while seen < events || last.len() < streams {
        let v = next_event(ws).await;
        let stream = v["stream"].as_str().unwrap().to_owned();
        let d = &v["data"];
        let (first, u, pu) = (
            d["U"].as_u64().unwrap(),
            d["u"].as_u64().unwrap(),
            d["pu"].as_u64().unwrap(),
        );
        assert!(first <= u, "{v}");
        if let Some(prev) = last.insert(stream.clone(), u) {
            assert_eq!(pu, prev, "{stream}: pu is not the previous u");
            assert_eq!(first, prev + 1, "{stream}: the ids do not tile");
        }
        seen += 1;
    }
}

/// On a raw connection to `symbol`'s diff stream on `venue`: skipping one
/// update shows as one `pu` that is not the previous `u`, and the events
/// after it continue each other.
pub async fn a_skip_breaks_pu_once(sim: &Sim, venue: Venue, ws: &mut Ws, symbol: &str) {
    let faults = sim.faults();
    let mut previous = next_event(ws).await["u"].as_u64().unwrap();
    assert!(faults.skip_venue_update_ids(venue, symbol, 1));
    let mut events = 0;
    loop {
        let v = next_event(ws).await;
        let (pu, u) = (v["pu"].as_u64().unwrap(), v["u"].as_u64().unwrap());
        if pu != previous {
            assert!(pu > previous, "{v}");
            break;
        }
        previous = u;
        events += 1;
        assert!(events < 20, "no gap after the skip");
    }
    // Nothing else is lost: the events after it continue each other.
    let mut previous = next_event(ws).await["u"].as_u64().unwrap();
    for _ in 0..5 {
        let v = next_event(ws).await;
        assert_eq!(v["pu"].as_u64().unwrap(), previous, "{v}");
        previous = v["u"].as_u64().unwrap();
    }
}
