//! An in-process simulator and a manager pointed at it.
#![allow(dead_code)] // each test binary uses part of this

pub mod adversary;
#[path = "../../../binance-sim/tests/support/common.rs"]
mod common;

use std::time::Duration;

use binance_sim::Sim;
use binance_ws::binance_types::venue::Venue;
use binance_ws::binance_types::{Event, Level, OrderBook, TimeUnit};
use binance_ws::{
    DepthCache, DepthEvent, Endpoint, Error, FuturesStreamEvent, Message, OptionsStreamEvent,
    SocketManager, SocketManagerBuilder, Status, StreamEvent,
};
pub use common::*;
use futures_util::{Stream, StreamExt};

/// The longest any expected event may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

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

/// A manager on every market of the simulator (spot, USD-M, COIN-M, options), with
/// quick reconnects for tests.
pub fn venues_builder(sim: &Sim) -> SocketManagerBuilder {
    builder(sim)
        .venue_endpoint(Venue::UsdM, Endpoint::Custom(sim.venue_ws_url(Venue::UsdM)))
        .venue_endpoint(
            Venue::CoinM,
            Endpoint::Custom(sim.venue_ws_url(Venue::CoinM)),
        )
        .venue_endpoint(
            Venue::Options,
            Endpoint::Custom(sim.venue_ws_url(Venue::Options)),
        )
}

/// The next options event of an options socket, skipping statuses.
pub async fn next_options<U, S>(socket: &mut S) -> OptionsStreamEvent
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Options(e) => return e,
            Message::Event(e) => panic!("a spot event on an options socket: {e:?}"),
            Message::Futures(e) => panic!("a futures event on an options socket: {e:?}"),
            _ => continue,
        }
    }
}

/// The next futures event of a futures socket, skipping statuses.
pub async fn next_futures<U, S>(socket: &mut S) -> FuturesStreamEvent
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Futures(e) => return e,
            Message::Event(e) => panic!("a spot event on a futures socket: {e:?}"),
            _ => continue,
        }
    }
}

/// The next message of any socket (`Socket`, `UserSocket`, in either time
/// unit), or panic after PATIENCE. A socket's stream ends after its terminal
/// error: asking again past that panics (`recv()` repeats the error).
pub async fn next<U, S>(socket: &mut S) -> Result<Message<U>, Error>
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
    tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("a message in time")
        .expect("the socket has not ended")
}

/// The next event, skipping statuses.
pub async fn next_event<U, S>(socket: &mut S) -> StreamEvent<U>
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Event(e) => return e,
            _ => continue,
        }
    }
}

/// The next event, with the statuses seen before it added to `statuses`.
pub async fn next_event_noting<U, S>(socket: &mut S, statuses: &mut Vec<Status>) -> Event<U>
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Event(e) => return e.event,
            Message::Status(s) => statuses.push(s),
            _ => {}
        }
    }
}

/// Messages until a status matching `want`; returns the statuses seen.
pub async fn until_status<U, S>(socket: &mut S, want: impl Fn(&Status) -> bool) -> Vec<Status>
where
    U: TimeUnit,
    S: Stream<Item = Result<Message<U>, Error>> + Unpin,
{
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

/// A proxy on loopback: `handshake` reads a client's request, connects to
/// its target and answers; the tunnel then carries bytes both ways. Counts
/// the tunnels it opened.
async fn tunnel_proxy<F, Fut>(
    handshake: F,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<(tokio::net::TcpStream, tokio::net::TcpStream)>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            let opened = handshake(client);
            tokio::spawn(async move {
                let Some((mut client, mut upstream)) = opened.await else {
                    return;
                };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, tunnels)
}

/// A tiny HTTP CONNECT proxy on loopback; counts the tunnels it opened.
pub async fn http_proxy() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tunnel_proxy(|mut client| async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(client.read_u8().await.ok()?);
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
        let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return None;
        };
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        Some((client, upstream))
    })
    .await
}

/// A tiny SOCKS5 proxy (no authentication, IPv4 and domain targets).
pub async fn socks5_proxy() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tunnel_proxy(|mut c| async move {
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
        let upstream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.ok()?;
        Some((c, upstream))
    })
    .await
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

/// Read `cache` until `n` of its books, each read on a `Synced` or
/// `Updated`, equal `venue`'s true book; any other event but a status fails.
pub async fn follow_true_book(sim: &Sim, venue: Venue, cache: &mut DepthCache, n: usize) {
    let mut checked = 0;
    while checked < n {
        match tokio::time::timeout(PATIENCE, cache.recv())
            .await
            .expect("an event in time")
            .expect("the cache goes on")
        {
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } => {
                assert_true_on(sim, venue, cache).expect("synced after Synced/Updated");
                checked += 1;
            }
            DepthEvent::Status(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The cache's book equals the exchange's true book at the cache's update id.
pub fn assert_true(sim: &Sim, cache: &DepthCache) -> Option<u64> {
    assert_true_on(sim, Venue::Spot, cache)
}

/// The cache's book equals `venue`'s true book at the cache's update id.
pub fn assert_true_on(sim: &Sim, venue: Venue, cache: &DepthCache) -> Option<u64> {
    let mine = cache.with_book(|b| b.clone()).ok()?;
    let id = mine.last_update_id();
    let truth = sim
        .venue_true_book(venue, cache.symbol(), id)
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
