//! `peek` places every frame Binance sends the way the full decode does,
//! and `order_key` reads the key the decoded event carries: over Binance's
//! own examples (as written, and re-laid out with other key orders) and
//! over recorded traffic.

mod support;

use binance_types::frame::{self, Envelope};
use binance_types::peek::{order_key, peek, Peek};
use binance_types::Event;

/// The key a decoded event carries (the rule `order_key` reads from bytes).
fn decoded_key(event: &Event) -> Option<u64> {
    Some(match event {
        Event::Trade(t) => t.trade_id,
        Event::AggTrade(a) => a.agg_trade_id,
        Event::DepthUpdate(d) => d.final_update_id,
        Event::BookTicker(b) => b.update_id,
        Event::PartialDepth(p) => p.last_update_id,
        Event::Kline(k) => k.event_time.get(),
        Event::MiniTicker(m) => m.event_time.get(),
        Event::Ticker(t) => t.event_time.get(),
        Event::RollingTicker(r) => r.event_time.get(),
        Event::AvgPrice(a) => a.event_time.get(),
        Event::MiniTickers(v) => v.iter().map(|m| m.event_time.get()).max()?,
        Event::Tickers(v) => v.iter().map(|m| m.event_time.get()).max()?,
        Event::RollingTickers(v) => v.iter().map(|m| m.event_time.get()).max()?,
        _ => return None,
    })
}

/// What the full decode says the frame is.
fn decoded_place(bytes: &[u8]) -> Option<Peek<'static>> {
    let frame = frame::decode(bytes).ok()?;
    Some(match (&frame.envelope, &frame.event) {
        (_, Event::ServerShutdown(_)) => Peek::ServerShutdown,
        (_, Event::ControlResponse(_) | Event::ApiResponse(_)) => Peek::Answer,
        (
            Envelope::Api {
                subscription_id: Some(id),
            },
            _,
        ) => Peek::UserEvent {
            subscription_id: *id,
        },
        (
            Envelope::Api {
                subscription_id: None,
            },
            _,
        ) => Peek::ConnectionEvent,
        (Envelope::Combined { stream }, _) => Peek::Data {
            stream: Some(Box::leak(stream.to_string().into_boxed_str())),
        },
        (Envelope::Raw, _) => Peek::Data { stream: None },
    })
}

/// The same JSON with every object's keys in reverse order.
fn reverse_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.into_iter().collect();
            members.reverse();
            Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, reverse_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(reverse_keys).collect()),
        other => other,
    }
}

fn check(name: &str, bytes: &[u8]) -> bool {
    let Some(want) = decoded_place(bytes) else {
        return false;
    };
    assert_eq!(
        peek(bytes),
        want,
        "{name}: {}",
        String::from_utf8_lossy(bytes)
    );
    let event = frame::decode(bytes).unwrap().event;
    assert_eq!(order_key(bytes), decoded_key(&event), "{name}: order key");
    true
}

#[test]
fn vectors_are_placed_as_decoded() {
    let mut checked = 0;
    for dir in [
        "vectors/spot",
        "vectors/spot/control",
        "vectors/user",
        "vectors/wsapi",
    ] {
        for path in support::json_files(dir) {
            let name = path.display().to_string();
            if name.contains("request") || name.contains("rest_") || name.contains("errors_") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            // As Binance writes it, compact, and with every object's keys
            // in reverse (the head no longer says what the frame is).
            let compact = serde_json::to_vec(&value).unwrap();
            let reversed = serde_json::to_vec(&reverse_keys(value)).unwrap();
            let mut placed = false;
            for bytes in [bytes, compact, reversed] {
                placed |= check(&name, &bytes);
            }
            checked += usize::from(placed);
        }
    }
    assert!(checked >= 30, "only {checked} vectors placed");
}

#[test]
fn recorded_frames_are_placed_as_decoded() {
    let mut checked = 0;
    for file in ["BINANCE.ws.1.0", "BINANCE_US.ws.1.0"] {
        let text = std::fs::read_to_string(support::shared().join("captures").join(file)).unwrap();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let (_, frame) = line.split_once(": ").expect("`TS: FRAME`");
            assert!(check(file, frame.as_bytes()), "{file}: {frame}");
            assert!(order_key(frame.as_bytes()).is_some(), "{file}: {frame}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}
