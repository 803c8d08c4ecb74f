//! Flood mode: a trade stream made inside the connection, so a benchmark
//! measures the client and never the simulator's market.

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use binance_types::market::Trade;
use binance_types::{Micros, Millis, Symbol, Time, TimeUnit};
use futures_util::SinkExt;
use rust_decimal::Decimal;

use crate::config::Flood;
use crate::shared::Unit;

/// Frames written before each flush.
const BATCH: usize = 256;

/// Push trades until the peer goes away. Each frame's `E` is the time it was
/// made (in the connection's unit), so a client can measure its latency.
pub(crate) async fn run(socket: WebSocket, symbol: Symbol, flood: Flood, unit: Unit) {
    match unit {
        Unit::Millis => push::<Millis>(socket, symbol, flood).await,
        Unit::Micros => push::<Micros>(socket, symbol, flood).await,
    }
}

/// [`run`] with times in `U`.
async fn push<U: TimeUnit>(mut socket: WebSocket, symbol: Symbol, flood: Flood) {
    let mut trade = template::<U>(&symbol);
    let mut trade_id: u64 = 0;
    let started = Instant::now();
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
            let now = Time::now();
            (trade.trade_id, trade.event_time, trade.trade_time) = (trade_id, now, now);
            let text = serde_json::to_string(&trade).expect("trades serialise");
            if socket.feed(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
}

/// The flood's trade, before its id and times are set.
fn template<U: TimeUnit>(symbol: &Symbol) -> Trade<U> {
    Trade {
        event_time: Time::new(0),
        symbol: symbol.as_str().to_owned(),
        trade_id: 0,
        price: Decimal::new(6_000_000, 2),
        quantity: Decimal::new(100, 5),
        trade_time: Time::new(0),
        buyer_is_maker: true,
        ignore: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_trades_are_binance_trades() {
        let mut trade = template::<Micros>(&Symbol::new("btcusdt").unwrap());
        (trade.trade_id, trade.event_time, trade.trade_time) = (7, Time::new(5), Time::new(5));
        assert_eq!(
            serde_json::to_string(&trade).unwrap(),
            r#"{"e":"trade","E":5,"s":"BTCUSDT","t":7,"p":"60000.00","q":"0.00100","T":5,"m":true,"M":true}"#
        );
    }
}
