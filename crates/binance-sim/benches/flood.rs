//! How many frames a second the simulator's flood mode pushes over loopback
//! to a bare tokio-tungstenite client that only counts them.
//!
//! `cargo bench -p binance-sim --bench flood [-- SECONDS]`

use std::time::{Duration, Instant};

use binance_sim::{Flood, Sim, SimConfig};
use futures_util::StreamExt;

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
            while start.elapsed() < Duration::from_secs(1) {
                let msg = ws.next().await.unwrap().unwrap();
                frames += 1;
                bytes += msg.len() as u64;
            }
            let rate = frames as f64 / start.elapsed().as_secs_f64();
            println!(
                "flood: {rate:>10.0} frames/s  {:>6.1} MB/s",
                bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
            );
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
