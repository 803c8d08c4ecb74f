//! Flood mode: a trade stream made inside the connection, so a benchmark
//! measures the client and never the simulator's market.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use binance_types::Symbol;
use futures_util::SinkExt;

use crate::config::Flood;
use crate::shared::Unit;

/// Frames written before each flush.
const BATCH: usize = 256;

/// Push trades until the peer goes away. Each frame's `E` is the time it was
/// made (in the connection's unit), so a client can measure its latency.
pub(crate) async fn run(mut socket: WebSocket, symbol: Symbol, flood: Flood, unit: Unit) {
    let upper = symbol.as_str().to_owned();
    let mut trade_id: u64 = 0;
    let started = Instant::now();
    let mut text = String::with_capacity(160);
    loop {
        // At a fixed rate, send what is due (at most a batch); otherwise a full batch.
        let due = match flood.rate {
            None => BATCH,
            Some(rate) => {
                let target = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                if target <= trade_id {
                    let next = Duration::from_secs_f64((trade_id + 1) as f64 / f64::from(rate));
                    tokio::time::sleep_until((started + next).into()).await;
                    continue;
                }
                ((target - trade_id) as usize).min(BATCH)
            }
        };
        for _ in 0..due {
            trade_id += 1;
            let now = now(unit);
            text.clear();
            let _ = write!(
                text,
                r#"{{"e":"trade","E":{now},"s":"{upper}","t":{trade_id},"p":"60000.00","q":"0.00100","T":{now},"m":true,"M":true}}"#
            );
            if socket
                .feed(Message::Text(text.as_str().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
}

fn now(unit: Unit) -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    match unit {
        Unit::Millis => since.as_millis() as u64,
        Unit::Micros => since.as_micros() as u64,
    }
}
