//! An in-process simulator and a manager pointed at it.
#![allow(dead_code)] // each test binary uses part of this

pub mod adversary;

use std::time::Duration;

use binance_sim::{Limits, MarketConfig, Sim, SimConfig};
use binance_ws::binance_types::{Level, OrderBook};
use binance_ws::{
    DepthCache, Endpoint, Error, Message, Socket, SocketManager, SocketManagerBuilder, Status,
    StreamEvent,
};

/// The longest any expected event may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub async fn sim() -> Sim {
    sim_with(Limits::default()).await
}

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

/// A manager on the simulator, with quick reconnects for tests.
pub fn builder(sim: &Sim) -> SocketManagerBuilder {
    builder_at(sim.ws_url())
}

/// A manager on any stream server, with quick reconnects for tests.
pub fn builder_at(url: String) -> SocketManagerBuilder {
    SocketManager::builder()
        .endpoint(Endpoint::Custom(url))
        .no_proxy()
        .reconnect(binance_ws::Reconnect {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..Default::default()
        })
}

pub fn manager(sim: &Sim) -> SocketManager {
    builder(sim).build().expect("manager")
}

/// The next message, or panic after PATIENCE.
pub async fn next(socket: &mut Socket) -> Result<Message, Error> {
    tokio::time::timeout(PATIENCE, socket.recv())
        .await
        .expect("a message in time")
}

/// The next event, skipping statuses.
pub async fn next_event(socket: &mut Socket) -> StreamEvent {
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Event(e) => return e,
            _ => continue,
        }
    }
}

/// Messages until a status matching `want`; returns the statuses seen.
pub async fn until_status(socket: &mut Socket, want: impl Fn(&Status) -> bool) -> Vec<Status> {
    let mut seen = Vec::new();
    loop {
        if let Message::Status(s) = next(socket).await.expect("socket alive") {
            let done = want(&s);
            seen.push(s);
            if done {
                return seen;
            }
        }
    }
}

/// A tiny HTTP CONNECT proxy on loopback; counts the tunnels it opened.
pub async fn http_proxy() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let Ok(b) = client.read_u8().await else {
                        return;
                    };
                    head.push(b);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, tunnels)
}

/// A tiny SOCKS5 proxy (no authentication, IPv4 and domain targets).
pub async fn socks5_proxy() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut hello = [0u8; 2];
                c.read_exact(&mut hello).await.ok()?;
                let mut methods = vec![0u8; hello[1] as usize];
                c.read_exact(&mut methods).await.ok()?;
                c.write_all(&[5, 0]).await.ok()?;
                let mut req = [0u8; 4];
                c.read_exact(&mut req).await.ok()?;
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        c.read_exact(&mut ip).await.ok()?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let len = c.read_u8().await.ok()?;
                        let mut name = vec![0u8; len as usize];
                        c.read_exact(&mut name).await.ok()?;
                        String::from_utf8(name).ok()?
                    }
                    _ => return None,
                };
                let port = c.read_u16().await.ok()?;
                let mut upstream = tokio::net::TcpStream::connect((host.as_str(), port))
                    .await
                    .ok()?;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.ok()?;
                tokio::io::copy_bidirectional(&mut c, &mut upstream)
                    .await
                    .ok()?;
                Some(())
            });
        }
    });
    (addr, tunnels)
}

/// A plain HTTP GET: (status, lowercased headers, body).
pub async fn http_get(url: &str) -> (u16, std::collections::HashMap<String, String>, String) {
    http("GET", url, &[]).await
}

/// One HTTP/1.1 request on a fresh connection: status, headers, body.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, std::collections::HashMap<String, String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    tcp.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
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
    (status, headers, body.to_owned())
}

/// `shared/` beside the repository (override with `BINANCE_SHARED_DIR`).
pub fn shared() -> std::path::PathBuf {
    std::env::var("BINANCE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
        })
}

/// The first `n` trading symbols of Binance's recorded exchangeInfo.
pub fn capture_symbols(n: usize) -> Vec<binance_sim::engine::SymbolSpec> {
    binance_sim::exchange_info::load(&shared().join("captures/BINANCE.0"))
        .expect("captures/BINANCE.0")
        .into_iter()
        .map(|(s, _)| s)
        .take(n)
        .collect()
}

/// The cache's book equals the exchange's true book at the cache's update id.
pub fn assert_true(sim: &Sim, cache: &DepthCache) -> Option<u64> {
    let mine = cache.with_book(|b| b.clone()).ok()?;
    let id = mine.last_update_id();
    let truth = sim
        .true_book(cache.symbol().as_str(), id)
        .expect("truth at that id");
    let levels = |v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]| {
        v.iter().map(|&(p, q)| Level::new(p, q)).collect::<Vec<_>>()
    };
    let mut expected = OrderBook::new();
    expected.load_snapshot(
        truth.last_update_id,
        &levels(&truth.bids),
        &levels(&truth.asks),
    );
    assert_eq!(
        mine,
        expected,
        "{} differs from the true book at {id}",
        cache.symbol()
    );
    assert!(!mine.is_crossed());
    Some(id)
}
