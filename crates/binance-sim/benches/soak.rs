//! Does the simulator's memory stay flat under load? Runs it in-process at a
//! high rate with a few plain tokio-tungstenite clients reading every
//! symbol's `depth@100ms` and `trade` streams, samples the process's RSS
//! (`VmRSS` in /proc/self/status) every few seconds once the history window
//! has filled, and compares the last third of the samples with the first.
//!
//! `cargo bench -p binance-sim --bench soak [-- SECONDS] [--rate N]
//! [--history UPDATES|all] [--clients N] [--every SECS] [--warmup SECS]`
//!
//! Defaults: 60 s measured after a warm-up long enough to fill the default
//! window twice (45 s), 5000 actions a second per symbol, the default history window,
//! 3 clients, a sample every 5 s. `--history all` is the old, unbounded
//! behaviour.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binance_sim::engine::DEFAULT_HISTORY_WINDOW;
use binance_sim::{MarketConfig, Sim, SimConfig};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// Growth of the last third over the first third still called flat.
const FLAT: f64 = 0.10;

struct Args {
    seconds: u64,
    rate: u32,
    history: Option<u64>,
    clients: usize,
    every: u64,
    warmup: u64,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 60,
        rate: 5_000,
        history: Some(DEFAULT_HISTORY_WINDOW),
        clients: 3,
        every: 5,
        warmup: 0,
    };
    let mut warmup = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        let number = |v: String| -> u64 { v.parse().unwrap_or_else(|_| panic!("{arg} {v}?")) };
        match arg.as_str() {
            "--rate" => args.rate = number(value()) as u32,
            "--history" => match value().as_str() {
                "all" => args.history = None,
                v => args.history = Some(number(v.to_owned())),
            },
            "--clients" => args.clients = number(value()) as usize,
            "--every" => args.every = number(value()).max(1),
            "--warmup" => warmup = Some(number(value())),
            "--bench" => {}
            other => args.seconds = number(other.to_owned()),
        }
    }
    // Long enough for the default window to fill twice at this rate (its
    // storage reaches its largest then), the same for a bounded and an
    // unbounded run so both are measured over the same stretch.
    args.warmup = warmup.unwrap_or(2 * DEFAULT_HISTORY_WINDOW / u64::from(args.rate.max(1)) + 5);
    args
}

/// What one client received.
#[derive(Default)]
struct Counts {
    depth: AtomicU64,
    trade: AtomicU64,
    /// Depth diffs whose `U` was not the previous `u` + 1.
    gaps: AtomicU64,
    ended: AtomicBool,
}

/// Read a combined connection until it ends, counting frames by stream and
/// checking each symbol's depth diffs follow on.
async fn client(url: String, counts: Arc<Counts>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut last_u: HashMap<String, u64> = HashMap::new();
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Some(stream) = text
            .strip_prefix(r#"{"stream":""#)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        if stream.ends_with("@trade") {
            counts.trade.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        counts.depth.fetch_add(1, Ordering::Relaxed);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (first, last) = (v["data"]["U"].as_u64(), v["data"]["u"].as_u64());
        if let (Some(first), Some(last)) = (first, last) {
            let previous = last_u.insert(stream.to_owned(), last);
            if previous.is_some_and(|p| first != p + 1) {
                counts.gaps.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    counts.ended.store(true, Ordering::Relaxed);
}

/// The resident set size of this process, in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = Sim::start(SimConfig {
            market: MarketConfig {
                actions_per_second: args.rate,
                ..MarketConfig::default()
            },
            history: args.history,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let symbols = sim.symbols();
        let streams: Vec<String> = symbols
            .iter()
            .flat_map(|s| {
                let s = s.to_lowercase();
                [format!("{s}@depth@100ms"), format!("{s}@trade")]
            })
            .collect();
        let url = format!("{}/stream?streams={}", sim.ws_url(), streams.join("/"));
        let counts: Vec<Arc<Counts>> = (0..args.clients).map(|_| Arc::default()).collect();
        for c in &counts {
            tokio::spawn(client(url.clone(), c.clone()));
        }
        let history = args
            .history
            .map_or("all (unbounded)".to_owned(), |h| format!("{h} updates"));
        println!(
            "soak: {} symbols at {} actions/s each, history {history}, {} clients on {} streams each",
            symbols.len(),
            args.rate,
            args.clients,
            streams.len()
        );
        println!(
            "      warm-up {} s (RSS {:.1} MB at start), then {} s sampled every {} s",
            args.warmup,
            rss_mb(),
            args.seconds,
            args.every
        );
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
        let frames = |c: &Counts| c.depth.load(Ordering::Relaxed) + c.trade.load(Ordering::Relaxed);
        let total = || counts.iter().map(|c| frames(c)).sum::<u64>();
        let started = Instant::now();
        let mut samples = Vec::new();
        let mut previous = (started, total());
        println!("  t(s)   RSS(MB)   frames/s (all clients)   BTCUSDT history from id   trades kept");
        loop {
            let now = Instant::now();
            let t = now.duration_since(started).as_secs_f64();
            let received = total();
            let rate = match samples.is_empty() {
                true => "-".to_owned(),
                false => format!(
                    "{:.0}",
                    (received - previous.1) as f64 / now.duration_since(previous.0).as_secs_f64()
                ),
            };
            previous = (now, received);
            let rss = rss_mb();
            samples.push(rss);
            println!(
                "{t:>6.0} {rss:>9.1} {rate:>24} {:>25} {:>13}",
                sim.history_start("BTCUSDT").unwrap_or_default(),
                sim.trades("BTCUSDT").len()
            );
            if t >= args.seconds as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(args.every)).await;
        }
        for (i, c) in counts.iter().enumerate() {
            println!(
                "client {i}: {} depth frames, {} trade frames, {} depth gaps{}",
                c.depth.load(Ordering::Relaxed),
                c.trade.load(Ordering::Relaxed),
                c.gaps.load(Ordering::Relaxed),
                if c.ended.load(Ordering::Relaxed) {
                    ", connection ENDED"
                } else {
                    ""
                }
            );
        }
        let third = (samples.len() / 3).max(1);
        let (first, last) = (
            mean(&samples[..third]),
            mean(&samples[samples.len() - third..]),
        );
        let growth = (last - first) / first;
        println!(
            "verdict: {} (RSS {first:.1} MB in the first third, {last:.1} MB in the last, {:+.1}%; flat is under {:.0}%)",
            if growth < FLAT { "FLAT" } else { "GROWING" },
            growth * 100.0,
            FLAT * 100.0
        );
    });
}
