//! A byte-level adversarial WebSocket server, written on raw TCP so that it
//! delivers bytes the way a network can and our simulator never does:
//! writes split at any byte (inside frame headers too) and coalesced, long
//! bursts back to back, data in the same write as the `101` response,
//! fragmented messages with pings between the fragments, a close without a
//! close frame, and a reset in the middle of a frame.
//!
//! Two forms:
//! - [`FloodServer`]: every connection gets the next trade ids of one
//!   script (`t` = 1, 2, 3, … across connections), so a test can check that
//!   every id arrives exactly once and in order, even across cuts.
//! - [`ChaosProxy`]: sits in front of the simulator and rewrites what it
//!   sends the same way, so every read path (market sockets, depth caches,
//!   the WebSocket API, user sockets) sees real traffic delivered badly.
#![allow(dead_code)] // each test binary uses part of this

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// The payload of the pings this server adds; the client's pongs to them
/// are not passed on (the simulator counts incoming frames, as Binance does).
const PING_PAYLOAD: &[u8] = b"adversary";

/// How badly bytes are delivered.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    /// Seeds the choices, so a failure can be replayed.
    pub seed: u64,
    /// The largest single write; writes are 1 byte to this, a quarter of
    /// them under 16 bytes (splitting headers).
    pub max_write: usize,
    /// One text message in this many goes out in 2–4 fragments with a ping
    /// between each (0: never).
    pub fragment_one_in: u32,
    /// The `101` response and the first frames in one write.
    pub data_with_handshake: bool,
    /// [`FloodServer`]: the ids divisible by this go out as a frame that is
    /// not JSON, instead of their trade (0: never).
    pub not_json_every: u64,
}

impl Chaos {
    /// Everything at once.
    pub fn all(seed: u64) -> Chaos {
        Chaos {
            seed,
            max_write: 16 * 1024,
            fragment_one_in: 50,
            data_with_handshake: true,
            not_json_every: 0,
        }
    }

    /// Big writes, nothing else: for throughput.
    pub fn fast() -> Chaos {
        Chaos {
            seed: 0,
            max_write: 256 * 1024,
            fragment_one_in: 0,
            data_with_handshake: true,
            not_json_every: 0,
        }
    }
}

/// Append one unmasked (server) frame.
pub fn frame(opcode: u8, fin: bool, payload: &[u8], out: &mut Vec<u8>) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= u16::MAX as usize => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Append a text message, fragmented now and then with pings between the
/// fragments (control frames may come between fragments: RFC 6455 5.4).
fn message(text: &[u8], chaos: &Chaos, rng: &mut SmallRng, out: &mut Vec<u8>) {
    if chaos.fragment_one_in == 0 || text.len() < 4 || rng.gen_range(0..chaos.fragment_one_in) != 0
    {
        frame(TEXT, true, text, out);
        return;
    }
    let pieces = rng.gen_range(2..=4usize).min(text.len());
    let mut cuts: Vec<usize> = (0..pieces - 1)
        .map(|_| rng.gen_range(1..text.len()))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut start = 0;
    for (i, &cut) in cuts.iter().chain(std::iter::once(&text.len())).enumerate() {
        let opcode = if i == 0 { TEXT } else { CONTINUATION };
        frame(opcode, cut == text.len(), &text[start..cut], out);
        if cut != text.len() {
            frame(PING, true, PING_PAYLOAD, out);
        }
        start = cut;
    }
}

/// Write `bytes` in writes of random size (see [`Chaos::max_write`]).
async fn write_chaotic(
    to: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
    chaos: &Chaos,
    rng: &mut SmallRng,
) -> std::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let size = if rng.gen_range(0..4) == 0 {
            rng.gen_range(1..16)
        } else {
            rng.gen_range(1..=chaos.max_write.max(1))
        };
        let (now, later) = rest.split_at(size.min(rest.len()));
        to.write_all(now).await?;
        rest = later;
    }
    Ok(())
}

/// Read an HTTP request head; the path and the `101` answer to it.
pub async fn accept_upgrade(tcp: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split(' ').nth(1)?.to_owned();
    let key = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })?;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    Some((path, answer.into_bytes()))
}

/// The payload of the ping that marks where a reset will cut.
const CUT_PING: &[u8] = b"cut";

/// Read client frames until the pong to [`CUT_PING`].
async fn await_pong(tcp: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = tcp.read(&mut chunk).await {
        buf.extend_from_slice(&chunk[..n]);
        while let Some(parsed) = parse_frame(&buf, true) {
            if parsed.opcode == PONG && parsed.payload == CUT_PING {
                return;
            }
            let len = parsed.len;
            buf.drain(..len);
        }
    }
}

/// Close a TCP connection with a reset (RST) rather than a FIN.
fn reset(tcp: TcpStream) {
    let _ = tcp.set_zero_linger();
    drop(tcp);
}

/// How each connection of a [`FloodServer`] ends once it has written its
/// share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// A close frame.
    Close,
    /// The TCP connection closes (FIN) with no close frame.
    Fin,
    /// The last frame is cut in half and the connection reset; that frame
    /// is sent again, whole, on the next connection.
    Reset,
}

/// A Binance trade frame with id `t`, raw or in the combined envelope.
pub fn trade(id: u64, combined: bool) -> String {
    let payload = format!(
        r#"{{"e":"trade","E":1700000000000,"s":"BTCUSDT","t":{id},"p":"60000.01000000","q":"0.00100000","T":1700000000000,"m":true,"M":true}}"#
    );
    match combined {
        true => format!(r#"{{"stream":"btcusdt@trade","data":{payload}}}"#),
        false => payload,
    }
}

/// Serves trade ids `1..=total` across as many connections as it takes:
/// each connection writes the next `per_connection` ids as one burst, then
/// ends as the cycle of `cuts` says. After the last id it stays open.
pub struct FloodServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Trade ids written whole so far.
    pub sent: Arc<AtomicU64>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
}

impl FloodServer {
    /// Start serving.
    pub async fn start(total: u64, per_connection: u64, cuts: Vec<Cut>, chaos: Chaos) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (s, c) = (sent.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = c.fetch_add(1, Ordering::SeqCst);
                let cut = cuts.get(n as usize % cuts.len().max(1)).copied();
                let mut chaos = chaos;
                chaos.seed = chaos.seed.wrapping_add(n);
                tokio::spawn(flood(tcp, s.clone(), total, per_connection, cut, chaos));
            }
        });
        FloodServer {
            addr,
            sent,
            connections,
        }
    }

    /// The base URL to point a manager at.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

async fn flood(
    mut tcp: TcpStream,
    sent: Arc<AtomicU64>,
    total: u64,
    per_connection: u64,
    cut: Option<Cut>,
    chaos: Chaos,
) {
    let _ = tcp.set_nodelay(true);
    let mut rng = SmallRng::seed_from_u64(chaos.seed);
    let Some((path, answer)) = accept_upgrade(&mut tcp).await else {
        return;
    };
    let combined = path.starts_with("/stream");
    let first = sent.load(Ordering::SeqCst) + 1;
    let last = (first + per_connection).min(total + 1);
    let mut bytes = Vec::with_capacity(((last - first) as usize) * 200 + answer.len());
    if chaos.data_with_handshake {
        bytes.extend_from_slice(&answer);
    } else if tcp.write_all(&answer).await.is_err() {
        return;
    }
    let mut last_frame_at = bytes.len();
    for id in first..last {
        last_frame_at = bytes.len();
        let text = match chaos.not_json_every {
            n if n > 0 && id % n == 0 => format!("not JSON {id}"),
            _ => trade(id, combined),
        };
        message(text.as_bytes(), &chaos, &mut rng, &mut bytes);
    }
    // What this connection will have sent whole is counted before the
    // first write: the client may reconnect before the last write returns.
    let done = last > total;
    let whole = match cut {
        Some(Cut::Reset) if !done && last > first => last - 2,
        _ => last - 1,
    };
    sent.store(whole, Ordering::SeqCst);
    match cut {
        _ if done => {
            let _ = write_chaotic(&mut tcp, &bytes, &chaos, &mut rng).await;
            // Everything is out: stay open (answering nothing) until the client goes.
            let mut sink = [0u8; 4096];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        Some(Cut::Reset) if last > first => {
            // A reset discards what the client's kernel holds unread, as on
            // any network; so the whole frames go first, and a ping after
            // them whose pong says the client has read them all.
            let mut whole = bytes[..last_frame_at].to_vec();
            frame(PING, true, CUT_PING, &mut whole);
            let _ = write_chaotic(&mut tcp, &whole, &chaos, &mut rng).await;
            let _ = tokio::time::timeout(Duration::from_secs(15), await_pong(&mut tcp)).await;
            let half = last_frame_at + (bytes.len() - last_frame_at) / 2;
            let _ = write_chaotic(&mut tcp, &bytes[last_frame_at..half], &chaos, &mut rng).await;
            reset(tcp);
        }
        Some(Cut::Close) => {
            frame(CLOSE, true, &1000u16.to_be_bytes(), &mut bytes);
            let _ = write_chaotic(&mut tcp, &bytes, &chaos, &mut rng).await;
            let mut sink = [0u8; 4096];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        _ => {
            let _ = write_chaotic(&mut tcp, &bytes, &chaos, &mut rng).await;
            // A FIN, no close frame; then read until the client goes (a
            // socket closed with unread bytes would send a reset instead).
            let _ = tcp.shutdown().await;
            let mut sink = [0u8; 4096];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    }
}

/// A proxy in front of a WebSocket (and HTTP) server that delivers the
/// server's bytes badly: every frame re-split and coalesced, text messages
/// fragmented with pings between, the `101` held back to share a write with
/// the first frames, and on demand a reset of every connection mid-frame.
pub struct ChaosProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    resets: watch::Sender<Reset>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
}

impl ChaosProxy {
    /// Proxy to `upstream`.
    pub async fn start(upstream: SocketAddr, chaos: Chaos) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (resets, watcher) = watch::channel(Reset::None);
        let connections = Arc::new(AtomicU64::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let mut chaos = chaos;
                chaos.seed = chaos.seed.wrapping_add(n);
                tokio::spawn(relay(client, n, upstream, chaos, watcher.clone()));
            }
        });
        ChaosProxy {
            addr,
            resets,
            connections,
        }
    }

    /// The base URL to point a manager at.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Reset every connection open now, in the middle of whatever it is
    /// writing.
    pub fn reset_all(&self) {
        self.resets.send_replace(Reset::All);
    }

    /// Reset the `n`-th connection accepted (from 0), if it is still open.
    pub fn reset_connection(&self, n: u64) {
        self.resets.send_replace(Reset::One(n));
    }
}

/// Which connections [`ChaosProxy`] resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    None,
    All,
    One(u64),
}

impl Reset {
    fn hits(self, n: u64) -> bool {
        self == Reset::All || self == Reset::One(n)
    }
}

async fn relay(
    client: TcpStream,
    n: u64,
    upstream: SocketAddr,
    chaos: Chaos,
    mut resets: watch::Receiver<Reset>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Dropped without a shutdown, the client's socket sends a reset.
    let _ = client.set_zero_linger();
    resets.borrow_and_update();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut up = tokio::spawn(client_to_server(client_read, server_write));
    let mut down = tokio::spawn(server_to_client(server_read, client_write, chaos));
    tokio::select! {
        // Only resets made after it opened.
        _ = async {
            while resets.changed().await.is_ok() {
                if resets.borrow_and_update().hits(n) {
                    return;
                }
            }
            std::future::pending::<()>().await
        } => {}
        // The server finished (and the client was sent a FIN): wait for the
        // client to finish too, so the close is clean.
        _ = &mut down => {
            let _ = (&mut up).await;
        }
    }
    up.abort();
    down.abort();
}

/// Client frames pass unchanged, except pongs to the proxy's own pings.
async fn client_to_server(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut upgraded = false;
    loop {
        let n = from.read(&mut chunk).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !upgraded {
            // The request head passes as it is (and plain HTTP entirely).
            let Some(end) = find(&buf, b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            if !head.contains("upgrade: websocket") {
                to.write_all(&buf).await?;
                buf.clear();
                continue;
            }
            to.write_all(&buf[..end + 4]).await?;
            buf.drain(..end + 4);
            upgraded = true;
        }
        let mut out = Vec::new();
        while let Some(parsed) = parse_frame(&buf, true) {
            if !(parsed.opcode == PONG && parsed.payload == PING_PAYLOAD) {
                out.extend_from_slice(&buf[..parsed.len]);
            }
            buf.drain(..parsed.len);
        }
        to.write_all(&out).await?;
    }
}

/// How long the `101` waits for a frame to share its write.
const HOLD_101: Duration = Duration::from_millis(20);

/// Server bytes: an HTTP answer passes; after a `101`, frames are
/// re-encoded and re-split.
async fn server_to_client(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    chaos: Chaos,
) -> std::io::Result<()> {
    let mut rng = SmallRng::seed_from_u64(chaos.seed);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let mut upgraded = false;
    loop {
        // The 101 alone is held back a little, to share a write with data.
        let holding = upgraded && !out.is_empty();
        let read = match holding {
            true => match tokio::time::timeout(HOLD_101, from.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => {
                    to.write_all(&out).await?;
                    out.clear();
                    continue;
                }
            },
            false => from.read(&mut chunk).await,
        };
        let n = read?;
        if n == 0 {
            to.write_all(&out).await?;
            return to.shutdown().await;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !upgraded {
            let Some(end) = find(&buf, b"\r\n\r\n") else {
                continue;
            };
            if !buf.starts_with(b"HTTP/1.1 101") {
                to.write_all(&buf).await?;
                buf.clear();
                continue;
            }
            out.extend(buf.drain(..end + 4));
            upgraded = true;
            if !chaos.data_with_handshake {
                to.write_all(&out).await?;
                out.clear();
            }
        }
        let before = out.len();
        while let Some(parsed) = parse_frame(&buf, false) {
            if parsed.opcode == TEXT && parsed.fin {
                message(&parsed.payload, &chaos, &mut rng, &mut out);
            } else {
                out.extend_from_slice(&buf[..parsed.len]);
            }
            buf.drain(..parsed.len);
        }
        if out.len() == before {
            continue;
        }
        write_chaotic(&mut to, &out, &chaos, &mut rng).await?;
        out.clear();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A whole frame at the start of a buffer.
struct Parsed<'a> {
    opcode: u8,
    fin: bool,
    /// Unmasked; for masked (client) frames only when tiny (pongs are
    /// compared, nothing else is looked at).
    payload: std::borrow::Cow<'a, [u8]>,
    /// Its length on the wire.
    len: usize,
}

fn parse_frame(buf: &[u8], masked: bool) -> Option<Parsed<'_>> {
    let first = *buf.first()?;
    let second = *buf.get(1)?;
    let (len, mut at) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask: Option<[u8; 4]> = match masked && second & 0x80 != 0 {
        true => {
            let key = buf.get(at..at + 4)?.try_into().ok()?;
            at += 4;
            Some(key)
        }
        false => None,
    };
    let raw = buf.get(at..at + len)?;
    let payload = match mask {
        Some(key) if len <= PING_PAYLOAD.len() => std::borrow::Cow::Owned(
            raw.iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect(),
        ),
        Some(_) => std::borrow::Cow::Borrowed(&[][..]),
        None => std::borrow::Cow::Borrowed(raw),
    };
    Some(Parsed {
        opcode: first & 0x0F,
        fin: first & 0x80 != 0,
        payload,
        len: at + len,
    })
}
