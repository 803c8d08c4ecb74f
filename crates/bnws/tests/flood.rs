//! `bnws stream` and `bnws record` against the client's byte-level
//! adversarial server: every message printed once and in order, frames that
//! are not JSON kept off stdout, a quiet message written out at once, and a
//! stuck pipe reported as a counted loss, never a silent one.

#[path = "../../binance-ws/tests/support/adversary.rs"]
mod adversary;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use adversary::{Chaos, FloodServer};
use serde_json::Value;

fn bnws() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("bnws"))
}

/// Run `bnws` to its end off the runtime's threads.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("bnws runs"))
        .await
        .unwrap()
}

/// `bnws stream btcusdt@trade` on `server` with stdout piped and never read,
/// once the server has sent all `total` frames.
async fn stuck_bnws(server: &FloodServer, total: u64, options: &[&str]) -> std::process::Child {
    let child = bnws()
        .args(["--endpoint", &server.url()])
        .args(options)
        .args(["stream", "btcusdt@trade"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while server.sent.load(std::sync::atomic::Ordering::SeqCst) < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child
}

/// Ctrl-C to `child`; its exit status and stderr come on the receiver, read
/// on a thread of its own so that a bnws that hangs fails the test instead
/// of hanging it.
fn interrupt(
    mut child: std::process::Child,
) -> std::sync::mpsc::Receiver<(std::process::ExitStatus, String)> {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let _ = tx.send((child.wait().unwrap(), stderr));
    });
    rx
}

fn trade_id(line: &Value) -> Option<u64> {
    (line["e"] == "trade").then(|| line["t"].as_u64().expect("t"))
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON on stdout: {e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_split_at_any_byte_is_printed_whole_and_in_order() {
    let total = 200_000;
    let server = FloodServer::start(total, total, vec![], Chaos::all(11)).await;
    let mut command = bnws();
    command.args(["--endpoint", &server.url(), "stream", "btcusdt@trade"]);
    command.args(["--count", &total.to_string()]);
    let out = run(command).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<u64> = json_lines(&out).iter().filter_map(trade_id).collect();
    assert_eq!(ids.len() as u64, total);
    assert!(
        ids.iter().enumerate().all(|(i, id)| *id == i as u64 + 1),
        "in order, once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_that_are_not_json_never_reach_stdout() {
    let chaos = Chaos {
        not_json_every: 1000,
        ..Chaos::all(12)
    };
    let server = FloodServer::start(10_000, 10_000, vec![], chaos).await;
    let mut command = bnws();
    command.args([
        "--endpoint",
        &server.url(),
        "stream",
        "btcusdt@trade",
        "--status",
    ]);
    command.args(["--count", "9990"]);
    let out = run(command).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let ids: Vec<u64> = lines.iter().filter_map(trade_id).collect();
    let expected: Vec<u64> = (1..10_000).filter(|id| id % 1000 != 0).collect();
    assert_eq!(ids, expected, "every trade; the stream went on");
    let malformed = lines
        .iter()
        .filter(|l| l["e"] == "status" && l["state"] == "malformed")
        .count();
    assert_eq!(
        malformed, 9,
        "each bad frame reported where statuses were asked for"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not JSON 1000"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_message_reaches_the_pipe_at_once() {
    // One message, then silence: nothing fills a buffer or ends the run.
    let server = FloodServer::start(1, 1, vec![], Chaos::all(13)).await;
    let mut child = bnws()
        .args(["--endpoint", &server.url(), "stream", "btcusdt@trade"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(15), first).await;
    let _ = child.kill();
    let _ = child.wait();
    let line = line
        .expect("the line came while bnws kept running")
        .unwrap()
        .unwrap();
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(trade_id(&value), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_pipe_is_a_counted_loss_never_a_silent_one() {
    let total = 100_000;
    let server = FloodServer::start(total, total, vec![], Chaos::fast()).await;
    let mut child = stuck_bnws(&server, total, &["--max-stall", "0.2"]).await;
    // The scenario: nobody reads stdout for a second after everything was
    // sent, five times bnws's --max-stall.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stdout = child.stdout.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        let mut ids = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let value: Value = serde_json::from_str(&line.unwrap()).expect("JSON only");
            ids.extend(trade_id(&value));
            if ids.last() == Some(&total) {
                break;
            }
        }
        ids
    });
    let ids = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the newest message arrives")
        .unwrap();
    let (status, stderr) = interrupt(child)
        .recv_timeout(Duration::from_secs(60))
        .expect("bnws ends on Ctrl-C");
    assert_eq!(status.code(), Some(3), "{stderr}");
    let dropped: u64 = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("bnws: ")?.strip_suffix(
                " messages were DROPPED: the output did not keep up (a slow pipe or disk)",
            )
        })
        .unwrap_or_else(|| panic!("the loss is said: {stderr}"))
        .parse()
        .unwrap();
    assert!(dropped > 0);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, never twice");
    assert_eq!(
        ids.len() as u64 + dropped,
        total,
        "every message printed or counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_a_run_whose_pipe_is_stuck() {
    let total = 100_000;
    let server = FloodServer::start(total, total, vec![], Chaos::fast()).await;
    let mut child = stuck_bnws(&server, total, &[]).await;
    // bnws has printed a good part of the flood (it is running, not still
    // connecting), and the pipe, no longer read, then holds it back.
    let mut stdout = child.stdout.take().unwrap();
    let stdout = tokio::task::spawn_blocking(move || {
        let mut first = vec![0u8; 256 * 1024];
        stdout.read_exact(&mut first).map(|_| stdout)
    })
    .await
    .unwrap()
    .expect("bnws prints");
    let pid = child.id().to_string();
    let waited = interrupt(child).recv_timeout(Duration::from_secs(15));
    drop(stdout);
    if waited.is_err() {
        Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    }
    let (status, stderr) = waited.expect("Ctrl-C is obeyed with stdout stuck");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stdout: stuck"),
        "the unwritten output is said: {stderr}"
    );
}
