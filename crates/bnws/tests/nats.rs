//! `bnws record --sink nats://…` and `bnws replay nats://…` against real
//! `nats-server`s on loopback (each test starts its own, with JetStream in
//! a temporary directory, and kills it at the end), fed by the simulator:
//! every trade of the simulator's log arrives exactly once, with two
//! collectors, with a collector killed and restarted, with a cluster node
//! killed; replay prints what was recorded; `--shard` shares streams.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use binance_sim::{Sim, SimConfig};
use futures_util::StreamExt;
use serde_json::Value;

fn bnws_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bnws"))
}

fn bnws(args: &[&str]) -> Output {
    let out = assert_cmd::Command::new(bnws_path())
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    out
}

fn spawn_bnws(args: &[&str]) -> Child {
    Command::new(bnws_path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bnws-nats-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `nats-server` child, killed (and its store removed) on drop.
struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// A cluster node's configuration file, to start it again.
    config: Option<PathBuf>,
}

impl NatsServer {
    /// One node with JetStream.
    fn single() -> NatsServer {
        let port = free_port();
        let dir = temp_dir("single");
        let config = dir.join("nats.conf");
        let store = dir.join("js");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n",
                store.display()
            ),
        )
        .unwrap();
        let mut server = NatsServer {
            child: None,
            port,
            dir,
            config: Some(config),
        };
        server.start_node();
        server.wait_listening();
        server
    }

    /// Three nodes of one JetStream cluster on loopback.
    fn cluster() -> Vec<NatsServer> {
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, r)| format!("nats-route://127.0.0.1:{r}"))
            .collect();
        let servers: Vec<NatsServer> = ports
            .iter()
            .enumerate()
            .map(|(i, (port, route))| {
                let dir = temp_dir(&format!("n{i}"));
                let config = format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{port}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: bnws-test\n listen: 127.0.0.1:{route}\n routes: [{}] }}\n",
                    dir.join("js").display(),
                    routes.join(", ")
                );
                let file = dir.join("nats.conf");
                std::fs::write(&file, config).unwrap();
                let mut node = NatsServer {
                    child: None,
                    port: *port,
                    dir,
                    config: Some(file),
                };
                node.start_node();
                node
            })
            .collect();
        for s in &servers {
            s.wait_listening();
        }
        servers
    }

    /// Start the server (again), with its store as it was.
    fn start_node(&mut self) {
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(self.config.as_ref().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server on PATH (apt-get install nats-server)");
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Ready when a connection gets the server's INFO line.
    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(tcp) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut line = String::new();
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if BufReader::new(tcp).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nats-server on {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A simulator busy enough that a few hundred trades take a second or so,
/// keeping its whole trade log.
fn busy_sim(runtime: &tokio::runtime::Runtime) -> Sim {
    runtime
        .block_on(Sim::start(SimConfig {
            market: binance_sim::MarketConfig {
                actions_per_second: 2000,
                ..Default::default()
            },
            history: None,
            ..SimConfig::default()
        }))
        .unwrap()
}

/// JetStream answers (a cluster has elected its meta leader).
async fn jetstream(urls: &[String]) -> async_nats::jetstream::Context {
    let client = async_nats::connect(urls).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The JetStream API's account info answers without an error.
    let ready = |client: async_nats::Client| async move {
        let answer = client.request("$JS.API.INFO", "".into()).await.ok()?;
        let info: Value = serde_json::from_slice(&answer.payload).ok()?;
        info.get("error").is_none().then_some(())
    };
    let js = async_nats::jetstream::new(client.clone());
    while ready(client.clone()).await.is_none() {
        assert!(Instant::now() < deadline, "JetStream not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    js
}

/// Every message of a stream: (subject, headers, body), in order.
async fn read_all(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> Vec<(String, async_nats::HeaderMap, Vec<u8>)> {
    let (stream, info) = settled(js, name).await;
    let total = info.state.messages;
    let mut all = Vec::new();
    if total == 0 {
        return all;
    }
    // After a node is killed, the stream may still be electing a leader.
    let deadline = Instant::now() + Duration::from_secs(20);
    let consumer = loop {
        match stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
            .await
        {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < deadline, "consumer on {name}: {e}"),
        }
    };
    let mut messages = consumer.messages().await.unwrap();
    while (all.len() as u64) < total {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("stored messages arrive")
            .unwrap()
            .unwrap();
        all.push((
            m.subject.to_string(),
            m.headers.clone().unwrap_or_default(),
            m.payload.to_vec(),
        ));
    }
    all
}

/// The stream and its info, once its cluster answers (a node that left or
/// came back moves leaders for a moment).
async fn settled(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> (
    async_nats::jetstream::stream::Stream,
    async_nats::jetstream::stream::Info,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(name).await {
            if let Ok(info) = stream.info().await {
                let info = info.clone();
                return (stream, info);
            }
        }
        assert!(Instant::now() < deadline, "stream {name} does not answer");
    }
}

/// Stored messages now.
async fn stored(js: &async_nats::jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// Wait (polling the stream's count) until it holds at least `n` messages.
async fn wait_stored(js: &async_nats::jetstream::Context, name: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(js, name).await < n {
        assert!(
            Instant::now() < deadline,
            "{name} never reached {n} messages"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The trade ids stored, checked: each once, every id of the simulator's
/// log between the first and the last, nothing else.
fn check_exactly_once(sim: &Sim, messages: &[(String, async_nats::HeaderMap, Vec<u8>)]) -> usize {
    let mut ids = Vec::new();
    for (subject, headers, body) in messages {
        assert_eq!(subject, "binance.spot.btcusdt.trade");
        assert_eq!(
            headers.get("Bnws-Stream").unwrap().as_str(),
            "btcusdt@trade"
        );
        let t: Value = serde_json::from_slice(body).unwrap();
        let id = t["t"].as_u64().unwrap();
        assert_eq!(
            headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .unwrap()
                .as_str(),
            format!("spot:btcusdt@trade:BTCUSDT:{id}")
        );
        let ns: u128 = headers
            .get("Bnws-Received-Ns")
            .unwrap()
            .as_str()
            .parse()
            .unwrap();
        assert!(ns > 1_600_000_000_000_000_000, "receive time in ns: {ns}");
        ids.push(id);
    }
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a trade stored twice");
    let (lo, hi) = (*unique.first().unwrap(), *unique.last().unwrap());
    let log: BTreeSet<u64> = sim
        .trades("BTCUSDT")
        .iter()
        .map(|f| f.trade_id)
        .filter(|id| (lo..=hi).contains(id))
        .collect();
    assert_eq!(log.len() as u64, hi - lo + 1, "the log covers the period");
    let missing: Vec<u64> = log.difference(&unique).copied().take(10).collect();
    assert!(missing.is_empty(), "trades never stored: {missing:?}…");
    assert_eq!(unique, log);
    ids.len()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn wait_ok(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what}: {err}");
    err
}

#[test]
fn one_collector_stores_every_trade_exactly_once_and_no_ledger_without_gaps() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let nats = NatsServer::single();
    let dir = temp_dir("files");
    let out = bnws(&[
        "--endpoint",
        &sim.ws_url(),
        "record",
        "btcusdt@trade",
        "--sink",
        &nats.url(),
        "--out",
        dir.to_str().unwrap(),
        "--count",
        "400",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("NATS stored 400 messages"),
        "{}",
        stderr(&out)
    );
    let messages = runtime.block_on(async {
        let js = jetstream(&[nats.url()]).await;
        let stream = js.get_stream("BINANCE").await.unwrap();
        let config = &stream.cached_info().config;
        assert_eq!(config.duplicate_window, Duration::from_secs(120));
        assert_eq!(config.subjects, vec!["binance.>".to_string()]);
        read_all(&js, "BINANCE").await
    });
    assert_eq!(check_exactly_once(&sim, &messages), 400);
    // No gap statuses happened: no ledger line in the file or the subject.
    assert!(!dir.join("ledger.jsonl").exists());
    assert!(messages.iter().all(|(s, _, _)| s != "binance.ledger"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_collectors_one_killed_and_restarted_store_each_trade_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let nats = NatsServer::single();
    let url = nats.url();
    let endpoint = sim.ws_url();
    let args = |count: &'static str| {
        vec![
            "--endpoint".to_string(),
            endpoint.clone(),
            "record".into(),
            "btcusdt@trade".into(),
            "--sink".into(),
            url.clone(),
            "--count".into(),
            count.into(),
        ]
    };
    let a_args = args("1500");
    let b_args = args("300");
    let js = runtime.block_on(jetstream(std::slice::from_ref(&url)));
    let a = spawn_bnws(&refs(&a_args));
    runtime.block_on(wait_stored(&js, "BINANCE", 100));
    let mut b = spawn_bnws(&refs(&b_args));
    let before = runtime.block_on(stored(&js, "BINANCE"));
    runtime.block_on(wait_stored(&js, "BINANCE", before + 200));
    // Killed mid-run, with publishes in flight.
    b.kill().unwrap();
    b.wait().unwrap();
    let before = runtime.block_on(stored(&js, "BINANCE"));
    runtime.block_on(wait_stored(&js, "BINANCE", before + 200));
    let b2 = spawn_bnws(&refs(&b_args));
    let b2_err = wait_ok(b2, "the restarted collector");
    let a_err = wait_ok(a, "the collector that stayed");
    let messages = runtime.block_on(read_all(&js, "BINANCE"));
    let n = check_exactly_once(&sim, &messages);
    assert!(n >= 1500, "{n}");
    // JetStream dropped the second copies (by Nats-Msg-Id).
    let dups = |err: &str| -> u64 {
        let at = err
            .find("duplicates dropped")
            .unwrap_or_else(|| panic!("{err}"));
        let head = &err[..at];
        let open = head.rfind('(').unwrap();
        head[open + 1..].trim().parse().unwrap()
    };
    assert!(dups(&a_err) + dups(&b2_err) >= 300, "{a_err}\n{b2_err}");
}

#[test]
fn a_nats_outage_is_buffered_said_and_retried() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let mut nats = NatsServer::single();
    let js = runtime.block_on(jetstream(&[nats.url()]));
    let collector = spawn_bnws(&[
        "--endpoint",
        &sim.ws_url(),
        "record",
        "btcusdt@trade",
        "--sink",
        &nats.url(),
        "--count",
        "1000",
    ]);
    runtime.block_on(wait_stored(&js, "BINANCE", 200));
    // The collector's stderr, line by line as it comes.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut collector = collector;
    let pipe = collector.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    nats.kill();
    // Down until the collector says its acks failed and it will publish
    // them again (after its 3 s ack timeout); the market goes on meanwhile.
    let mut said = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no nats_retry status: {said:?}"));
        let retry = line.contains(r#""state":"nats_retry""#);
        said.push(line);
        if retry {
            break;
        }
    }
    nats.start_node();
    nats.wait_listening();
    let status = collector.wait().unwrap();
    reader.join().unwrap();
    said.extend(rx.try_iter());
    let err = said.join("\n");
    assert!(status.success(), "{err}");
    assert!(err.contains(r#""state":"nats_disconnected""#), "{err}");
    let retried: u64 = err
        .split("publishes retried")
        .next()
        .and_then(|head| head.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(retried > 0, "{err}");
    let js = runtime.block_on(jetstream(&[nats.url()]));
    let messages = runtime.block_on(read_all(&js, "BINANCE"));
    assert_eq!(check_exactly_once(&sim, &messages), 1000, "{err}");
}

#[test]
fn a_cluster_node_killed_mid_run_loses_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let mut nodes = NatsServer::cluster();
    let all: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    let sink = all.join(",").replace("nats://", "");
    let sink = format!("nats://{sink}");
    let js = runtime.block_on(jetstream(&all[1..]));
    let collector = spawn_bnws(&[
        "--endpoint",
        &sim.ws_url(),
        "record",
        "btcusdt@trade",
        "--sink",
        &sink,
        "--replicas",
        "3",
        "--count",
        "1500",
    ]);
    runtime.block_on(wait_stored(&js, "BINANCE", 300));
    nodes[0].kill();
    let err = wait_ok(collector, "the collector");
    // Everything was acknowledged with the node down. Reading it back is
    // done with the node up again: nats-server 2.9 may place a reader's
    // (ephemeral, one-replica) consumer on a peer it does not yet know is
    // gone, and the creation times out.
    nodes[0].start_node();
    nodes[0].wait_listening();
    let (messages, replicas) = runtime.block_on(async {
        let replicas = settled(&js, "BINANCE").await.1.config.num_replicas;
        (read_all(&js, "BINANCE").await, replicas)
    });
    assert_eq!(replicas, 3);
    let n = check_exactly_once(&sim, &messages);
    assert_eq!(n, 1500, "{err}");
}

#[test]
fn replay_prints_what_was_recorded_in_order() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let nats = NatsServer::single();
    let dir = temp_dir("replay");
    let out = bnws(&[
        "--endpoint",
        &sim.ws_url(),
        "record",
        "btcusdt@trade",
        "btcusdt@depth@100ms",
        "--sink",
        &format!("{}/REC", nats.url()),
        "--out",
        dir.to_str().unwrap(),
        "--count",
        "300",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "gz"))
        .unwrap();
    let from_file = bnws(&["replay", file.to_str().unwrap()]);
    assert!(from_file.status.success());
    let from_nats = bnws(&["replay", &format!("{}/REC", nats.url())]);
    assert!(from_nats.status.success(), "{}", stderr(&from_nats));
    let lines = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let recorded = lines(&from_file);
    assert_eq!(recorded.len(), 300);
    assert!(recorded.iter().any(|l| l.contains("@depth@100ms")));
    // Byte for byte the frames Binance sent, in the order received.
    assert_eq!(lines(&from_nats), recorded);
    let trades = bnws(&[
        "replay",
        &format!("{}/REC", nats.url()),
        "--subject",
        "binance.spot.btcusdt.trade",
    ]);
    assert!(trades.status.success(), "{}", stderr(&trades));
    let only: Vec<String> = recorded
        .iter()
        .filter(|l| l.starts_with(r#"{"stream":"btcusdt@trade""#))
        .cloned()
        .collect();
    assert!(!only.is_empty());
    assert_eq!(lines(&trades), only);
    std::fs::remove_dir_all(&dir).unwrap();
    let nowhere = bnws(&["record", "btcusdt@trade"]);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(
        stderr(&nowhere).contains("--out DIR") && stderr(&nowhere).contains("--sink nats://"),
        "{}",
        stderr(&nowhere)
    );
    let bad = bnws(&["record", "btcusdt@trade", "--sink", "http://h:1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("nats://HOST:PORT"),
        "{}",
        stderr(&bad)
    );
    let bad = bnws(&["replay", "nats://nohost"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("nats://HOST:PORT"),
        "{}",
        stderr(&bad)
    );
}

/// The streams collector `shard` of `n` (copies `k`) takes.
fn share(names: &[String], shard: u32, n: u32, k: u32) -> Vec<String> {
    let mut args = vec!["record".to_string()];
    args.extend(names.iter().cloned());
    args.extend([
        "--dry-run".into(),
        "--shard".into(),
        format!("{shard}/{n}"),
        "--shard-copies".into(),
        k.to_string(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bnws(&refs);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn shards_cover_every_stream_once_or_twice_and_growing_moves_a_quarter() {
    let names: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "s{i}usdt@{}",
                ["trade", "aggTrade", "depth@100ms", "bookTicker"][i % 4]
            )
        })
        .collect();
    for (k, ns) in [(1u32, 1..=4u32), (2, 2..=4)] {
        for n in ns {
            let shares: Vec<Vec<String>> = (1..=n).map(|i| share(&names, i, n, k)).collect();
            for name in &names {
                let owners = shares.iter().filter(|s| s.contains(name)).count();
                assert_eq!(owners, k as usize, "{name}: {n} collectors, {k} copies");
            }
            // Deterministic: the same answer again.
            assert_eq!(share(&names, 1, n, k), shares[0]);
        }
    }
    let owner = |n: u32| -> Vec<u32> {
        let shares: Vec<Vec<String>> = (1..=n).map(|i| share(&names, i, n, 1)).collect();
        names
            .iter()
            .map(|name| {
                (1..=n)
                    .find(|&i| shares[i as usize - 1].contains(name))
                    .unwrap()
            })
            .collect()
    };
    let (three, four) = (owner(3), owner(4));
    let moved: Vec<usize> = (0..names.len()).filter(|&i| three[i] != four[i]).collect();
    // Only to the new collector, and about a quarter of them.
    assert!(moved.iter().all(|&i| four[i] == 4));
    let fraction = moved.len() as f64 / names.len() as f64;
    assert!((0.15..=0.35).contains(&fraction), "{fraction}");
    let bad = bnws(&["record", "btcusdt@trade", "--dry-run", "--shard", "4/3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("I/N"), "{}", stderr(&bad));
}

/// A collector of btcusdt@trade (with `extra` options) whose stream loses
/// nine trades: the ledger file's lines (also checked to be the ledger
/// subject's), the trade messages stored, the simulator, and stderr.
type Stored = Vec<(String, async_nats::HeaderMap, Vec<u8>)>;
fn run_with_a_hole(tag: &str, extra: &[&str]) -> (Vec<Value>, Stored, Sim, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = busy_sim(&runtime);
    let nats = NatsServer::single();
    let dir = temp_dir(tag);
    let js = runtime.block_on(jetstream(&[nats.url()]));
    let (ws, rest) = (sim.ws_url(), sim.rest_url());
    let mut args = vec!["--endpoint", ws.as_str(), "--rest", rest.as_str()];
    args.extend_from_slice(extra);
    let url = nats.url();
    let out = dir.to_str().unwrap().to_owned();
    args.extend_from_slice(&[
        "record",
        "btcusdt@trade",
        "--sink",
        &url,
        "--out",
        &out,
        "--count",
        "400",
    ]);
    let collector = spawn_bnws(&args);
    runtime.block_on(wait_stored(&js, "BINANCE", 50));
    // Nine trades never reach the stream; REST still has them.
    assert!(sim.faults().hide_trades("BTCUSDT", 9));
    let err = wait_ok(collector, "the collector");
    let ledger = std::fs::read_to_string(dir.join("ledger.jsonl"))
        .unwrap_or_else(|e| panic!("ledger.jsonl: {e}\n{err}"));
    let lines: Vec<Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages = runtime.block_on(read_all(&js, "BINANCE"));
    let (ledger_msgs, frames): (Vec<_>, Vec<_>) = messages
        .into_iter()
        .partition(|(subject, _, _)| subject == "binance.ledger");
    // The same lines on the ledger subject.
    let published: Vec<Value> = ledger_msgs
        .iter()
        .map(|(_, _, body)| serde_json::from_slice(body).unwrap())
        .collect();
    assert_eq!(published, lines);
    std::fs::remove_dir_all(&dir).unwrap();
    (lines, frames, sim, err)
}

#[test]
fn a_hole_goes_to_the_ledger_file_and_subject_and_the_backfill_is_marked() {
    let (lines, frames, sim, err) = run_with_a_hole("ledger", &[]);
    let states: Vec<&str> = lines.iter().map(|l| l["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["gap", "gap_filled"], "{lines:?}");
    assert_eq!(
        (&lines[0]["from"], &lines[0]["to"]),
        (&lines[1]["from"], &lines[1]["to"]),
        "all of it filled"
    );
    // The hole was filled: every trade once, the filled ones marked.
    assert_eq!(check_exactly_once(&sim, &frames), 400);
    let backfilled = frames
        .iter()
        .filter(|(_, h, _)| h.get("Bnws-Backfill").map(|v| v.as_str()) == Some("1"))
        .count();
    assert_eq!(backfilled, 9, "{err}");
}

#[test]
fn without_backfill_the_hole_stays_in_the_ledger_exactly() {
    let (lines, frames, sim, _) = run_with_a_hole("nobackfill", &["--no-backfill"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let gap = &lines[0];
    assert_eq!(
        (gap["state"].as_str(), gap["unit"].as_str()),
        (Some("gap"), Some("id"))
    );
    assert_eq!(gap["stream"], "btcusdt@trade");
    let (from, to) = (gap["from"].as_u64().unwrap(), gap["to"].as_u64().unwrap());
    assert_eq!(to - from + 1, 9);
    // Stored: every trade of the log but exactly the ledger's.
    let stored: BTreeSet<u64> = frames
        .iter()
        .map(|(_, _, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["t"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(stored.len(), frames.len(), "each once");
    let (lo, hi) = (*stored.first().unwrap(), *stored.last().unwrap());
    let missing: Vec<u64> = sim
        .trades("BTCUSDT")
        .iter()
        .map(|f| f.trade_id)
        .filter(|id| (lo..=hi).contains(id) && !stored.contains(id))
        .collect();
    assert_eq!(missing, (from..=to).collect::<Vec<_>>());
    assert!(frames
        .iter()
        .all(|(_, h, _)| h.get("Bnws-Backfill").is_none()));
}
