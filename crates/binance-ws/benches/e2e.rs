//! End to end over loopback: the simulator floods trade frames; in the same
//! run a bare tokio-tungstenite client that only counts frames sets the
//! floor, and our client (typed events through a socket) is measured beside
//! it. The simulator runs on its own runtime thread; each client runs on the
//! main thread, whose CPU time is read from /proc.
//!
//! `cargo bench -p binance-ws --bench e2e [-- SECONDS]`

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use binance_sim::{Flood, Sim, SimConfig};
use binance_ws::{Endpoint, Event, Message, SocketManager};
use futures_util::StreamExt;

/// CPU seconds of the calling thread (user + system).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 Hz).
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory (kB) now, and the peak since the last reset.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// `"E":<digits>` from a frame, the way a counting client would find it.
fn event_time(text: &str) -> Option<u64> {
    number(text, "\"E\":")
}

/// The digits after `key` in a frame.
fn number(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Trade ids seen in a run: a run whose ids skip or repeat is a failed run.
#[derive(Default)]
struct Ids {
    first: Option<u64>,
    last: u64,
    delivered: u64,
}

impl Ids {
    fn see(&mut self, id: u64) {
        self.first.get_or_insert(id);
        self.last = id;
        self.delivered += 1;
    }

    /// What the server sent in the run (by its ids) and what arrived.
    fn check(&self, name: &str) {
        let sent = self.first.map_or(0, |f| self.last + 1 - f);
        let verdict = if sent == self.delivered {
            ""
        } else {
            "  FAILED RUN"
        };
        println!(
            "    {name}: {sent} sent, {} delivered{verdict}",
            self.delivered
        );
        assert_eq!(
            sent, self.delivered,
            "{name}: every message of the run delivered, in order"
        );
    }
}

struct Run {
    rate: f64,
    cpu_per_msg_ns: f64,
    rss_growth_kb: u64,
    peak_kb: u64,
}

impl Run {
    /// The run that began at `t0` (thread CPU `c0` s, resident `rss0` kB)
    /// and took `n` messages.
    fn since(t0: Instant, c0: f64, rss0: u64, n: u64) -> Run {
        let (rss1, peak) = memory();
        Run {
            rate: n as f64 / t0.elapsed().as_secs_f64(),
            cpu_per_msg_ns: (thread_cpu() - c0) * 1e9 / n as f64,
            rss_growth_kb: rss1.saturating_sub(rss0),
            peak_kb: peak,
        }
    }
}

/// Prints the median run (by rate); returns its rate and CPU per message.
fn report(name: &str, runs: &mut [Run]) -> (f64, f64) {
    runs.sort_by(|a, b| a.rate.partial_cmp(&b.rate).unwrap());
    let m = &runs[runs.len() / 2];
    println!(
        "{name:>8}: {:>10.0} msg/s  {:>7.0} ns CPU/msg  peak RSS {:>7} kB (+{} kB)   (median of {})",
        m.rate,
        m.cpu_per_msg_ns,
        m.peak_kb,
        m.rss_growth_kb,
        runs.len()
    );
    (m.rate, m.cpu_per_msg_ns)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    // The simulator on its own runtime and thread.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let flood = sim_rt
        .block_on(Sim::start(SimConfig {
            flood: Some(Flood { rate: None }),
            ..SimConfig::default()
        }))
        .unwrap();
    let paced = sim_rt
        .block_on(Sim::start(SimConfig {
            flood: Some(Flood { rate: Some(20_000) }),
            ..SimConfig::default()
        }))
        .unwrap();
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Throughput, alternating floor and ours so drift hits both alike.
    let (mut floor, mut ours, mut unchecked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        floor.push(client.block_on(async {
            let (mut ws, _) =
                tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@trade", flood.ws_url()))
                    .await
                    .unwrap();
            for _ in 0..20_000 {
                ws.next().await.unwrap().unwrap();
            }
            reset_peak();
            let (rss0, _) = memory();
            let (t0, c0) = (Instant::now(), thread_cpu());
            let mut n = 0u64;
            let mut ids = Ids::default();
            while t0.elapsed() < Duration::from_secs(seconds) {
                let msg = ws.next().await.unwrap().unwrap();
                ids.see(
                    msg.to_text()
                        .ok()
                        .and_then(|t| number(t, "\"t\":"))
                        .unwrap_or(0),
                );
                n += 1;
            }
            ids.check("floor");
            Run::since(t0, c0, rss0, n)
        }));
        for (gap_check, runs) in [(true, &mut ours), (false, &mut unchecked)] {
            runs.push(client.block_on(async {
                let manager = SocketManager::builder()
                    .endpoint(Endpoint::Custom(flood.ws_url()))
                    .no_proxy()
                    .build()
                    .unwrap();
                let mut socket = manager
                    .trade_socket("BTCUSDT")
                    .unwrap()
                    .gap_check(gap_check);
                socket.connect().await.unwrap();
                for _ in 0..20_000 {
                    socket.recv().await.unwrap();
                }
                reset_peak();
                let (rss0, _) = memory();
                let (t0, c0) = (Instant::now(), thread_cpu());
                let mut n = 0u64;
                let mut ids = Ids::default();
                while t0.elapsed() < Duration::from_secs(seconds) {
                    if let Message::Event(e) = socket.recv().await.unwrap() {
                        if let Event::Trade(t) = &e.event {
                            std::hint::black_box(t.price);
                            ids.see(t.trade_id);
                            n += 1;
                        }
                    }
                }
                ids.check(if gap_check {
                    "ours"
                } else {
                    "ours, no gap check"
                });
                Run::since(t0, c0, rss0, n)
            }));
        }
    }
    println!("throughput, flood of small trade frames over loopback, {seconds} s runs:");
    let (f, _) = report("floor", &mut floor);
    let (o, o_cpu) = report("ours", &mut ours);
    let (_, u_cpu) = report("ours, no gap check", &mut unchecked);
    println!("   ratio: ours / floor = {:.2}", o / f);
    println!(
        "   CPU per message, ours / ours with gap_check(false) = {:.2}",
        o_cpu / u_cpu
    );

    // Latency at a fixed 20,000 messages a second: sim send time (µs) to user code.
    let samples = 20_000 * seconds as usize;
    let floor_lat = client.block_on(async {
        let url = format!("{}/ws/btcusdt@trade?timeUnit=MICROSECOND", paced.ws_url());
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        for _ in 0..2_000 {
            ws.next().await.unwrap().unwrap();
        }
        let mut lat = Vec::with_capacity(samples);
        let mut ids = Ids::default();
        while lat.len() < samples {
            let msg = ws.next().await.unwrap().unwrap();
            if let Some(e) = msg.to_text().ok().and_then(event_time) {
                lat.push(now_us().saturating_sub(e));
            }
            ids.see(
                msg.to_text()
                    .ok()
                    .and_then(|t| number(t, "\"t\":"))
                    .unwrap_or(0),
            );
        }
        ids.check("floor (latency)");
        lat
    });
    let ours_lat = client.block_on(async {
        let manager = SocketManager::builder()
            .endpoint(Endpoint::Custom(paced.ws_url()))
            .no_proxy()
            .micros()
            .build()
            .unwrap();
        let mut socket = manager.trade_socket("BTCUSDT").unwrap();
        socket.connect().await.unwrap();
        let mut lat = Vec::with_capacity(samples);
        let mut warm = 0;
        let mut ids = Ids::default();
        while lat.len() < samples {
            if let Message::Event(e) = socket.recv().await.unwrap() {
                if let Event::Trade(t) = e.event {
                    warm += 1;
                    ids.see(t.trade_id);
                    if warm > 2_000 {
                        lat.push(now_us().saturating_sub(t.event_time.get()));
                    }
                }
            }
        }
        ids.check("ours (latency)");
        lat
    });
    println!("latency at 20,000 msg/s, sim send time to user code ({samples} samples):");
    for (name, mut lat) in [("floor", floor_lat), ("ours", ours_lat)] {
        lat.sort_unstable();
        println!(
            "{name:>8}: p50 {:>4} µs  p99 {:>5} µs  p99.9 {:>5} µs",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 0.999)
        );
    }
}
