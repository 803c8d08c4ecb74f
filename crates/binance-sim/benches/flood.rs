//! How many frames a second the simulator's flood mode pushes over loopback
//! to a bare tokio-tungstenite client that only counts them.
//!
//! `cargo bench -p binance-sim --bench flood [-- SECONDS]`

use std::time::{Duration, Instant};

use binance_sim::{Flood, Sim, SimConfig};
use futures_util::StreamExt;

/// The digits after `"t":` in a trade frame.
fn trade_id(text: &str) -> Option<u64> {
    let at = text.find("\"t\":")? + 4;
    text[at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = Sim::start(SimConfig {
            flood: Some(Flood { rate: None }),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let url = format!("{}/ws/btcusdt@trade", sim.ws_url());
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        // Warm up, then count.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_millis(500) {
            ws.next().await.unwrap().unwrap();
        }
        let mut rates = Vec::new();
        for _ in 0..seconds {
            let start = Instant::now();
            let mut frames = 0u64;
            let mut bytes = 0u64;
            let (mut first, mut last) = (None, 0);
            while start.elapsed() < Duration::from_secs(1) {
                let msg = ws.next().await.unwrap().unwrap();
                frames += 1;
                bytes += msg.len() as u64;
                // Every trade id of the second, once and in order.
                last = trade_id(msg.to_text().unwrap_or_default()).unwrap_or(0);
                first.get_or_insert(last);
            }
            let sent = first.map_or(0, |f| last + 1 - f);
            let rate = frames as f64 / start.elapsed().as_secs_f64();
            println!(
                "flood: {rate:>10.0} frames/s  {:>6.1} MB/s  {sent} sent, {frames} delivered",
                bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
            );
            assert_eq!(sent, frames, "every frame of the second delivered");
            rates.push(rate);
        }
        rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "flood: median {:.0} frames/s over {} one-second samples",
            rates[rates.len() / 2],
            rates.len()
        );
    });
}
