//! What the simulator's tests and the client's tests both need: a busy
//! in-process simulator, the shared ground truth, and one plain HTTP/1.1
//! request. The client's `tests/support/mod.rs` includes this file by path.
#![allow(dead_code)] // each test binary uses part of this

use std::path::PathBuf;
use std::time::Duration;

use binance_sim::{Limits, MarketConfig, Sim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long an HTTP answer may take before the test fails.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// A simulator with a busy market (2000 actions a second) and Binance's limits.
pub async fn sim() -> Sim {
    sim_with(Limits::default()).await
}

/// The same with other limits.
pub async fn sim_with(limits: Limits) -> Sim {
    Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 2000,
            ..MarketConfig::default()
        },
        limits,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// `shared/` beside the repository (override with `BINANCE_SHARED_DIR`).
pub fn shared() -> PathBuf {
    std::env::var("BINANCE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A plain HTTP/1.1 request: (status, headers lowercased, body).
pub async fn http(method: &str, url: &str) -> (u16, Vec<(String, String)>, String) {
    http_with(method, url, &[]).await
}

/// [`http`] with extra request headers.
pub async fn http_with(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\nContent-Length: 0\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(ANSWER_WITHIN, tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let (status, headers) = parse_head(head);
    (status, headers, body.to_owned())
}

/// Status and lowercased headers of an HTTP answer head.
pub fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_lowercase(), v.to_owned()))
        .collect();
    (status, headers)
}
