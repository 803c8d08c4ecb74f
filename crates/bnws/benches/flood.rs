//! The loopback flood of issue 11: a server writes 1,000,000 trade frames as
//! fast as it can; three clients read them, each in a run of its own, in
//! rounds:
//! - `baseline`: tokio-tungstenite + serde_json into a typed struct, the
//!   client a user would write by hand;
//! - `socket`: our library, typed events through `Socket::recv`;
//! - `bnws`: `bnws stream … --count N` writing to a file.
//!
//! Server and client are separate processes pinned to separate cores
//! (`taskset -c 0` / `-c 1`). The time of a run is the server's, from the
//! handshake to the client's close (a client's start-up is not counted);
//! peak RSS is the client process's. Each run counts what arrived and checks the
//! ids are 1, 2, 3, … in order: a run that delivered fewer is a failed run,
//! not a slow one. The figures are medians of the rounds; the ratios are
//! against the baseline of the same command.
//!
//! `cargo bench -p bnws --bench flood [-- FRAMES [ROUNDS]]`

#[path = "../../binance-ws/tests/support/adversary.rs"]
mod adversary;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KINDS: [&str; 3] = ["baseline", "socket", "bnws"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args[1].parse().unwrap()),
        Some("client") => client(&args[1], &args[2], args[3].parse().unwrap()),
        Some("measure") => measure(&args[1..]),
        _ => drive(&args),
    }
}

/// One run's figures.
struct Run {
    seconds: f64,
    delivered: u64,
    peak_rss_kb: u64,
    /// The largest anonymous (heap, stacks, queues) part seen: RSS less the
    /// program's own mapped code, which differs by binary size alone.
    peak_anon_kb: u64,
}

fn drive(args: &[String]) {
    // `cargo bench` passes `--bench`; numbers are ours.
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let total = numbers.first().copied().unwrap_or(1_000_000);
    let rounds = numbers.get(1).copied().unwrap_or(3) as usize;
    let mut runs: Vec<Vec<Run>> = KINDS.iter().map(|_| Vec::new()).collect();
    let mut failed = false;
    for round in 1..=rounds {
        for (k, kind) in KINDS.iter().enumerate() {
            let run = run_one(kind, total);
            println!(
                "round {round} {kind:>8}: {:>9.0} msg/s  {:.3} s  peak RSS {:>6} kB (anon {:>6} kB)  {} sent, {} delivered{}",
                run.delivered as f64 / run.seconds,
                run.seconds,
                run.peak_rss_kb,
                run.peak_anon_kb,
                total,
                run.delivered,
                if run.delivered == total { "" } else { "  FAILED RUN" }
            );
            failed |= run.delivered != total;
            runs[k].push(run);
        }
    }
    let median = |runs: &mut Vec<Run>, f: fn(&Run) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(f).collect();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap());
        values[values.len() / 2]
    };
    let rates: Vec<f64> = runs
        .iter_mut()
        .map(|r| median(r, |r| r.delivered as f64 / r.seconds))
        .collect();
    let rss: Vec<f64> = runs
        .iter_mut()
        .map(|r| median(r, |r| r.peak_rss_kb as f64))
        .collect();
    let anon: Vec<f64> = runs
        .iter_mut()
        .map(|r| median(r, |r| r.peak_anon_kb as f64))
        .collect();
    println!();
    for (k, kind) in KINDS.iter().enumerate() {
        println!(
            "median {kind:>8}: {:>9.0} msg/s  ({:.2}x baseline)  peak RSS {:>6.0} kB (anon {:>6.0} kB)",
            rates[k],
            rates[k] / rates[0],
            rss[k],
            anon[k]
        );
    }
    if failed {
        println!("SOME RUNS FAILED: fewer messages delivered than sent");
        std::process::exit(1);
    }
}

/// Start a server, run one client against it, and stop the server.
fn run_one(kind: &str, total: u64) -> Run {
    let me = std::env::current_exe().unwrap();
    let mut server = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&me)
        .args(["serve", &total.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset runs the server");
    let mut server_says = BufReader::new(server.stdout.take().unwrap());
    let mut port = String::new();
    server_says.read_line(&mut port).unwrap();
    let url = format!("ws://127.0.0.1:{}", port.trim());
    let out = std::env::temp_dir().join(format!("bnws-flood-{}.jsonl", std::process::id()));
    let mut client = Command::new("taskset");
    client.args(["-c", "1"]).arg(&me).arg("measure");
    match kind {
        "bnws" => client
            .arg(env!("CARGO_BIN_EXE_bnws"))
            .args(["--endpoint", &url, "stream", "btcusdt@trade", "--count"])
            .arg(total.to_string())
            .arg(format!(">{}", out.display())),
        _ => client
            .arg(&me)
            .args(["client", kind, &url, &total.to_string()]),
    };
    let output = client.output().expect("the client runs");
    // The server's clock: from the handshake to the client's close, so a
    // client's start-up (runtime, TLS roots, argument parsing) is not counted.
    let mut elapsed = String::new();
    server_says.read_line(&mut elapsed).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let seconds: f64 = elapsed.trim().parse().unwrap_or(f64::NAN);
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let _wall_seconds = fields.next();
    let peak_rss_kb = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let peak_anon_kb = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let delivered = match kind {
        "bnws" => {
            let delivered = in_order(std::fs::File::open(&out).unwrap());
            let _ = std::fs::remove_file(&out);
            delivered
        }
        _ => fields.next().and_then(|f| f.parse().ok()).unwrap_or(0),
    };
    Run {
        seconds,
        delivered,
        peak_rss_kb,
        peak_anon_kb,
    }
}

/// Lines of trade JSON whose ids run 1, 2, 3, …: how many before the first
/// that does not.
fn in_order(file: std::fs::File) -> u64 {
    let mut expected = 1;
    for line in BufReader::new(file).lines() {
        let value: serde_json::Value = match serde_json::from_str(&line.unwrap()) {
            Ok(v) => v,
            Err(_) => break,
        };
        if value["t"].as_u64() != Some(expected) {
            break;
        }
        expected += 1;
    }
    expected - 1
}

/// Run a command (a `>FILE` last argument takes its stdout), and print its
/// wall time, peak RSS and peak anonymous RSS: `SECONDS KB KB`, then what
/// it printed.
fn measure(command: &[String]) {
    let (command, out) = match command.last().and_then(|a| a.strip_prefix('>')) {
        Some(path) => (
            &command[..command.len() - 1],
            Stdio::from(std::fs::File::create(path).unwrap()),
        ),
        None => (command, Stdio::piped()),
    };
    let started = Instant::now();
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdout(out)
        .spawn()
        .unwrap();
    // Its high-water mark, read until it exits (every 10 ms: the peak of a
    // flood is reached long before its end).
    let (mut peak_kb, mut anon_kb) = (0, 0);
    while child.try_wait().unwrap().is_none() {
        peak_kb = status_kb(child.id(), "VmHWM:").unwrap_or(peak_kb);
        anon_kb = status_kb(child.id(), "RssAnon:").map_or(anon_kb, |kb| kb.max(anon_kb));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut printed = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut printed).unwrap();
    }
    println!("{seconds} {peak_kb} {anon_kb} {printed}");
}

/// A `/proc/PID/status` field of a running process, in kB.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The server: every frame encoded before listening, then written to one
/// client in writes of up to 64 KiB.
#[tokio::main(flavor = "current_thread")]
async fn serve(total: u64) {
    let mut frames = Vec::with_capacity(total as usize * 170);
    for id in 1..=total {
        adversary::frame(1, true, adversary::trade(id, false).as_bytes(), &mut frames);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let (mut tcp, _) = listener.accept().await.unwrap();
    let _ = tcp.set_nodelay(true);
    let (_, answer) = adversary::accept_upgrade(&mut tcp).await.unwrap();
    let started = Instant::now();
    tcp.write_all(&answer).await.unwrap();
    for chunk in frames.chunks(64 * 1024) {
        if tcp.write_all(chunk).await.is_err() {
            break;
        }
    }
    // Until the client goes: it closes once it has its last message.
    let mut sink = [0u8; 4096];
    while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    println!("{}", started.elapsed().as_secs_f64());
}

/// What a user would write by hand: the trade as a typed struct.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Trade {
    e: String,
    #[serde(rename = "E")]
    event_time: u64,
    s: String,
    t: u64,
    p: String,
    q: String,
    #[serde(rename = "T")]
    trade_time: u64,
    m: bool,
    #[serde(rename = "M")]
    ignore: bool,
}

/// A client: prints how many trades arrived in order.
#[tokio::main]
async fn client(kind: &str, url: &str, total: u64) {
    let mut expected = 1u64;
    match kind {
        "baseline" => {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/ws/btcusdt@trade"))
                .await
                .unwrap();
            while expected <= total {
                let Some(Ok(message)) = ws.next().await else {
                    break;
                };
                if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                    let trade: Trade = serde_json::from_str(&text).unwrap();
                    if trade.t != expected {
                        break;
                    }
                    expected += 1;
                }
            }
        }
        _ => {
            let manager = binance_ws::SocketManager::builder()
                .endpoint(binance_ws::Endpoint::Custom(url.to_owned()))
                .no_proxy()
                .build()
                .unwrap();
            let mut socket = manager.trade_socket("BTCUSDT").unwrap();
            while expected <= total {
                match socket.recv().await {
                    Ok(binance_ws::Message::Event(e)) => match e.event {
                        binance_ws::Event::Trade(t) if t.trade_id == expected => expected += 1,
                        _ => break,
                    },
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
    }
    println!("{}", expected - 1);
}
