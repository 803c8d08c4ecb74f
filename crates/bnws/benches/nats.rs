//! `bnws record --sink` into a single-node JetStream against a plain
//! async-nats JetStream publisher of the same payloads, in rounds:
//! - `bnws`: a loopback server writes N combined-envelope trade frames as
//!   fast as it can; `bnws record btcusdt@trade --sink nats://… --count N`
//!   reads them and publishes each with its headers, waiting for the acks;
//! - `plain`: in this process, the same N payloads published on one subject
//!   with `Context::publish`, acks awaited in order with the same number in
//!   flight (1024), the publisher a user would write by hand;
//! - `headers`: the same, each message with the headers bnws sends
//!   (`Bnws-Stream`, `Bnws-Received-Ns`, a `Nats-Msg-Id` JetStream checks
//!   against its duplicate window): what the headers cost on their own.
//!
//! A run's time is from the start of publishing (bnws: from the process's
//! start, so its connecting is counted against it) to the last ack; each
//! run checks the stream then holds N messages: fewer is a failed run. The
//! figures are medians of the rounds; the ratio is ours / plain.
//!
//! `cargo bench -p bnws --bench nats [-- FRAMES [ROUNDS [WINDOW]]]` (WINDOW:
//! acks in flight for all, default 1024, bnws's `--nats-window` default).

#[path = "../../binance-ws/tests/support/adversary.rs"]
mod adversary;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server, killed on drop.
struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = numbers.first().copied().unwrap_or(200_000);
    let rounds = numbers.get(1).copied().unwrap_or(3) as usize;
    let window = numbers.get(2).copied().unwrap_or(1024) as usize;
    println!("{total} frames, {rounds} rounds, {window} acks in flight");
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("bnws-bench-nats-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server on PATH (apt-get install nats-server)");
    let _server = Server(child, dir);
    loop {
        if let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)) {
            let mut line = String::new();
            if BufReader::new(tcp).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("nats://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let js = runtime
        .block_on(async { async_nats::jetstream::new(async_nats::connect(&url).await.unwrap()) });
    let (mut ours, mut plain, mut headers) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = false;
    for round in 1..=rounds {
        for kind in ["bnws", "plain", "headers"] {
            let name = format!("{}{round}", kind.to_uppercase());
            let (seconds, stored) = match kind {
                "bnws" => runtime.block_on(run_bnws(&js, &url, &name, total, window)),
                "plain" => runtime.block_on(run_plain(&js, &name, total, window, false)),
                _ => runtime.block_on(run_plain(&js, &name, total, window, true)),
            };
            let rate = stored as f64 / seconds;
            println!(
                "round {round} {kind:>5}: {rate:>9.0} msg/s  {seconds:.3} s  {total} sent, {stored} stored{}",
                if stored == total { "" } else { "  FAILED RUN" }
            );
            failed |= stored != total;
            match kind {
                "bnws" => ours.push(rate),
                "plain" => plain.push(rate),
                _ => headers.push(rate),
            }
            runtime.block_on(async { js.delete_stream(&name).await.unwrap() });
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (o, p, h) = (median(&mut ours), median(&mut plain), median(&mut headers));
    println!("median bnws record --sink: {o:.0} msg/s");
    println!("median plain async-nats:   {p:.0} msg/s");
    println!("median plain with headers: {h:.0} msg/s");
    println!("ratio ours/headers: {:.2}", o / h);
    println!("ratio ours/plain: {:.2}", o / p);
    if failed {
        println!("SOME RUNS FAILED");
        std::process::exit(1);
    }
}

/// Messages in a stream.
async fn count(js: &async_nats::jetstream::Context, name: &str) -> u64 {
    js.get_stream(name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

/// Serve `total` combined trade frames to one WebSocket client, then keep
/// the connection until it goes.
async fn flood(listener: tokio::net::TcpListener, total: u64) {
    let mut frames = Vec::with_capacity(total as usize * 200);
    for id in 1..=total {
        adversary::frame(1, true, adversary::trade(id, true).as_bytes(), &mut frames);
    }
    let (mut tcp, _) = listener.accept().await.unwrap();
    let _ = tcp.set_nodelay(true);
    let (_, answer) = adversary::accept_upgrade(&mut tcp).await.unwrap();
    tcp.write_all(&answer).await.unwrap();
    for chunk in frames.chunks(64 * 1024) {
        if tcp.write_all(chunk).await.is_err() {
            return;
        }
    }
    let mut sink = [0u8; 4096];
    while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
}

async fn run_bnws(
    js: &async_nats::jetstream::Context,
    url: &str,
    name: &str,
    total: u64,
    window: usize,
) -> (f64, u64) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(flood(listener, total));
    let started = Instant::now();
    let args: Vec<String> = [
        "--endpoint",
        &endpoint,
        "record",
        "btcusdt@trade",
        "--sink",
        url,
        "--nats-stream",
        name,
        "--nats-prefix",
        &name.to_lowercase(),
        "--count",
        &total.to_string(),
        "--nats-window",
        &window.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let status = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bnws"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    assert!(status.success(), "bnws record: {status}");
    (seconds, count(js, name).await)
}

async fn run_plain(
    js: &async_nats::jetstream::Context,
    name: &str,
    total: u64,
    window: usize,
    with_headers: bool,
) -> (f64, u64) {
    let subject = format!("{}.spot.btcusdt.trade", name.to_lowercase());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .unwrap();
    let payloads: Vec<bytes::Bytes> = (1..=total)
        .map(|id| bytes::Bytes::from(adversary::trade(id, false)))
        .collect();
    let started = Instant::now();
    let mut acks = std::collections::VecDeque::with_capacity(window);
    for (id, payload) in (1u64..).zip(payloads) {
        let ack = if with_headers {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Bnws-Stream", "btcusdt@trade");
            let ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            h.insert("Bnws-Received-Ns", ns.to_string().as_str());
            h.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("spot:btcusdt@trade:BTCUSDT:{id}").as_str(),
            );
            js.publish_with_headers(subject.clone(), h, payload).await
        } else {
            js.publish(subject.clone(), payload).await
        };
        acks.push_back(ack.unwrap());
        if acks.len() >= window {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    (seconds, count(js, name).await)
}
