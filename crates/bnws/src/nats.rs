//! NATS JetStream as the recorder's sink (`bnws record --sink nats://…`) and
//! as a replay source (`bnws replay nats://…`).
//!
//! One message per market frame: the body is the `data` payload exactly as
//! Binance sent it (the bytes inside the combined envelope), on the subject
//! [`subject`] makes of the market and the stream name, with headers:
//!
//! - [`STREAM_HEADER`]: the stream name as Binance names it;
//! - [`RECEIVED_HEADER`]: the receive time, nanoseconds since the epoch;
//! - `Nats-Msg-Id`: [`message_id`], the same for the same event whichever
//!   collector read it, so JetStream's duplicate window keeps one copy;
//! - [`BACKFILL_HEADER`] (`1`) on a frame rebuilt from REST.
//!
//! Publishing is pipelined: up to `window` messages wait for their acks,
//! which are awaited in order. A failed or late ack (an outage, a cluster
//! node going away) is said on stderr as a JSON status line and every
//! unacknowledged message is published again, in order, until JetStream
//! takes it: nothing is dropped, and a second copy of one that had been
//! stored after all is dropped by the duplicate window.

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, message::PublishMessage, stream::Config as StreamConfig};
use async_nats::HeaderMap;
use binance_types::venue::Venue;
use binance_ws::RawFrame;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

/// The header naming the Binance stream of a message.
pub(crate) const STREAM_HEADER: &str = "Bnws-Stream";
/// The header with the frame's receive time, nanoseconds since the epoch.
pub(crate) const RECEIVED_HEADER: &str = "Bnws-Received-Ns";
/// The header marking a frame rebuilt from REST to fill a gap (`1`).
pub(crate) const BACKFILL_HEADER: &str = "Bnws-Backfill";
/// The header naming the market (`spot`, `usdm`, `coinm`, `options`).
pub(crate) const MARKET_HEADER: &str = "Bnws-Market";
/// How long JetStream remembers a `Nats-Msg-Id` to drop a second copy.
pub(crate) const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long an ack (or a JetStream API answer) is waited for.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// A `nats://HOST:PORT[,HOST:PORT…][/STREAM]` address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NatsUrl {
    /// `nats://HOST:PORT` of each server.
    pub servers: Vec<String>,
    /// The JetStream stream named in the path, if any.
    pub stream: Option<String>,
}

/// Parse a `nats://` address; the error names it and the valid form.
pub(crate) fn parse_url(s: &str) -> Result<NatsUrl, String> {
    let bad = || format!("`{s}`: a NATS address is nats://HOST:PORT[,HOST:PORT…][/STREAM]");
    let rest = s.strip_prefix("nats://").ok_or_else(bad)?;
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let servers = hosts
        .split(',')
        .map(|h| match h.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(format!("nats://{h}"))
            }
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stream = match path {
        "" => None,
        p if p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Some(p.to_string())
        }
        _ => return Err(bad()),
    };
    Ok(NatsUrl { servers, stream })
}

/// The market's token in subjects and message ids.
pub(crate) fn market_token(market: Venue) -> &'static str {
    match market {
        Venue::Spot => "spot",
        Venue::UsdM => "usdm",
        Venue::CoinM => "coinm",
        Venue::Options => "options",
    }
}

/// The subject of a stream's frames: `<prefix>.<market>.<name>` where the
/// name's `@` separators become `.` (so `binance.spot.btcusdt.>` is every
/// stream of one symbol) and the characters NATS reserves, or `%`, are
/// written `%XX`: `btcusdt@depth@100ms` → `binance.spot.btcusdt.depth.100ms`,
/// `!miniTicker@arr` → `binance.spot.!miniTicker.arr`. [`stream_of_subject`]
/// reverses it.
pub(crate) fn subject(prefix: &str, market: Venue, stream: &str) -> String {
    let mut s = format!("{prefix}.{}.", market_token(market));
    for c in stream.chars() {
        match c {
            '@' => s.push('.'),
            '.' | '*' | '>' | '%' => s.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_whitespace() || c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
            c => s.push(c),
        }
    }
    s
}

/// The stream name a [`subject`] was made of (`None`: not one of ours).
/// Readers use the [`STREAM_HEADER`]; this shows the scheme is reversible.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn stream_of_subject(prefix: &str, subject: &str) -> Option<String> {
    let rest = subject.strip_prefix(prefix)?.strip_prefix('.')?;
    let (_market, name) = rest.split_once('.')?;
    let mut bytes = Vec::with_capacity(name.len());
    let mut it = name.bytes();
    while let Some(b) = it.next() {
        match b {
            b'.' => bytes.push(b'@'),
            b'%' => {
                let hex = [it.next()?, it.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// 64-bit FNV-1a: a stable hash (the same on every machine and run).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The `Nats-Msg-Id` of an event: the market, the stream and the event's
/// identity, its order key (trade `t`, aggTrade `a`, depth and bookTicker
/// `u`, clock events `E`) with its symbol on all-market streams
/// (`spot:btcusdt@trade:BTCUSDT:12345`), or else a stable hash of the
/// payload bytes (`spot:btcusdt@depth5:h0123456789abcdef`).
pub(crate) fn message_id(market: Venue, stream: &str, payload: &[u8]) -> String {
    let market = market_token(market);
    match binance_types::peek::order_key_of(payload) {
        Some(key) => format!(
            "{market}:{stream}:{}:{}",
            key.symbol.unwrap_or(""),
            key.value
        ),
        None => format!("{market}:{stream}:h{:016x}", fnv1a(payload)),
    }
}

/// The stream name and the exact payload bytes of a combined-envelope frame
/// (`{"stream":…,"data":…}`); `None` for anything else.
pub(crate) fn split_envelope(text: &str) -> Option<(&str, &str)> {
    let map: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
    let stream: &str = serde_json::from_str(map.get("stream")?.get()).ok()?;
    Some((stream, map.get("data")?.get()))
}

/// One message to publish.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    subject: String,
    headers: HeaderMap,
    payload: bytes::Bytes,
}

/// The message of a market frame (`None`: not a combined-envelope frame).
pub(crate) fn frame_message(prefix: &str, market: Venue, frame: &RawFrame) -> Option<Outgoing> {
    let (stream, payload) = split_envelope(frame.text())?;
    let mut headers = HeaderMap::new();
    headers.insert(STREAM_HEADER, stream);
    let at = frame.received_at.unwrap_or_else(SystemTime::now);
    let nanos = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    headers.insert(RECEIVED_HEADER, nanos.to_string().as_str());
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        message_id(market, stream, payload.as_bytes()).as_str(),
    );
    if frame.backfilled() {
        headers.insert(BACKFILL_HEADER, "1");
    }
    Some(Outgoing {
        subject: subject(prefix, market, stream),
        headers,
        payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
    })
}

/// A gap-ledger line, published to `<prefix>.ledger`.
pub(crate) fn ledger_message(prefix: &str, market: Venue, line: &str) -> Outgoing {
    let mut headers = HeaderMap::new();
    headers.insert(MARKET_HEADER, market_token(market));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    headers.insert(RECEIVED_HEADER, nanos.to_string().as_str());
    Outgoing {
        subject: format!("{prefix}.ledger"),
        headers,
        payload: bytes::Bytes::copy_from_slice(line.as_bytes()),
    }
}

/// A JSON status line on stderr (`{"e":"status","state":"nats_…",…}`).
pub(crate) fn status_line(value: serde_json::Value) {
    eprintln!("\n{value}");
}

/// Where and how the sink publishes.
#[derive(Debug, Clone)]
pub(crate) struct SinkConfig {
    /// The servers.
    pub url: NatsUrl,
    /// The JetStream stream (created if missing).
    pub stream: String,
    /// Its replicas when created.
    pub replicas: usize,
    /// The subject prefix: the stream takes `<prefix>.>`.
    pub prefix: String,
    /// Messages buffered between the socket reader and the publisher.
    pub buffer: usize,
    /// Messages published and waiting for their acks at most.
    pub window: usize,
}

/// Counters the sink keeps.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Acknowledged as stored.
    pub stored: AtomicU64,
    /// Acknowledged as a duplicate (another collector, or a retry, stored it).
    pub duplicates: AtomicU64,
    /// Publishes tried again after an outage.
    pub retried: AtomicU64,
}

/// The publishing side of `bnws record --sink`.
pub(crate) struct Sink {
    tx: mpsc::Sender<Outgoing>,
    task: tokio::task::JoinHandle<usize>,
    buffer: usize,
    full_said: bool,
    /// What has been acknowledged so far.
    pub counts: Arc<Counts>,
    /// The configuration.
    pub config: SinkConfig,
}

/// Connect to the servers (a clear error if none answers).
pub(crate) async fn connect(url: &NatsUrl, name: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(50u64.saturating_mul(1 << attempts.min(6)))
                .min(Duration::from_secs(2))
        })
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected | async_nats::Event::Disconnected => {
                    status_line(serde_json::json!({
                        "e": "status",
                        "state": format!("nats_{event}"),
                    }))
                }
                async_nats::Event::ServerError(e) => status_line(serde_json::json!({
                    "e": "status", "state": "nats_error", "error": e.to_string(),
                })),
                _ => {}
            }
        })
        .connect(url.servers.as_slice())
        .await
        .map_err(|e| format!("{}: {e}", url.servers.join(",")))
}

/// A JetStream context with the sink's ack timeout.
pub(crate) fn context(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .build(client)
}

impl Sink {
    /// Connect, make sure the stream exists (`<prefix>.>`, file storage,
    /// the duplicate window), and start the publisher.
    pub(crate) async fn start(config: SinkConfig) -> Result<Sink, String> {
        if config.buffer == 0 || config.window == 0 {
            return Err("--nats-buffer and --nats-window: 1 or more".into());
        }
        let client = connect(&config.url, "bnws record").await?;
        let js = context(client);
        let wanted = StreamConfig {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.prefix)],
            num_replicas: config.replicas,
            duplicate_window: DUPLICATE_WINDOW,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        // A cluster still electing its leaders answers with errors for a
        // moment: a few tries.
        let mut tries = 0;
        let stream = loop {
            match js.get_or_create_stream(wanted.clone()).await {
                Ok(s) => break s,
                Err(e) if tries < 20 => {
                    tries += 1;
                    status_line(serde_json::json!({
                        "e": "status", "state": "nats_stream_retry",
                        "stream": config.stream, "error": e.to_string(),
                    }));
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(format!("JetStream stream `{}`: {e}", config.stream)),
            }
        };
        let subjects = &stream.cached_info().config.subjects;
        let ours = format!("{}.>", config.prefix);
        if !subjects.contains(&ours) {
            return Err(format!(
                "JetStream stream `{}` exists with subjects {subjects:?}, not `{ours}`: \
                 pick another --nats-stream or --nats-prefix",
                config.stream
            ));
        }
        let (tx, rx) = mpsc::channel(config.buffer);
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(publisher(js, rx, config.window, counts.clone()));
        Ok(Sink {
            tx,
            task,
            buffer: config.buffer,
            full_said: false,
            counts,
            config,
        })
    }

    /// Queue a message. A full buffer (NATS slower than the market, or
    /// away) is said loudly and then blocks the reader: the socket's own
    /// queue takes over and reports `Lagged` if it lasts.
    pub(crate) async fn send(&mut self, message: Outgoing) -> Result<(), String> {
        match self.tx.try_send(message) {
            Ok(()) => {
                self.full_said = false;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(message)) => {
                if !self.full_said {
                    self.full_said = true;
                    status_line(serde_json::json!({
                        "e": "status", "state": "nats_buffer_full", "buffer": self.buffer,
                        "action": "reading paused until NATS takes more; the socket's queue reports Lagged if this lasts",
                    }));
                }
                self.tx
                    .send(message)
                    .await
                    .map_err(|_| "the NATS publisher stopped".to_string())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err("the NATS publisher stopped".into()),
        }
    }

    /// Messages not yet acknowledged (buffered or in flight), roughly.
    pub(crate) fn buffered(&self) -> usize {
        self.buffer - self.tx.capacity()
    }

    /// Wait until every queued message is acknowledged, for at most
    /// `patience`; the number left unacknowledged (lost) is returned.
    pub(crate) async fn finish(self, patience: Option<Duration>) -> Result<usize, String> {
        let Sink { tx, task, .. } = self;
        drop(tx);
        let abort = task.abort_handle();
        let left = match patience {
            None => task.await,
            Some(p) => match tokio::time::timeout(p, task).await {
                Ok(r) => r,
                Err(_) => {
                    abort.abort();
                    return Err("NATS did not acknowledge everything in time".into());
                }
            },
        };
        left.map_err(|e| format!("the NATS publisher: {e}"))
    }
}

type AckFuture = Pin<
    Box<
        dyn Future<
                Output = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
            > + Send,
    >,
>;

/// A message published (or to publish again) and its ack.
struct Pending {
    message: Outgoing,
    ack: Option<AckFuture>,
}

async fn publish(
    js: &jetstream::Context,
    message: &Outgoing,
) -> Result<AckFuture, jetstream::context::PublishError> {
    let publish = PublishMessage::build()
        .payload(message.payload.clone())
        .headers(message.headers.clone());
    let ack = js.send_publish(message.subject.clone(), publish).await?;
    Ok(Box::pin(ack.into_future()))
}

/// Publish what comes in, `window` at most waiting for acks, acks awaited
/// in order; on a failure, everything unacknowledged is published again.
/// Returns the number of messages left unacknowledged (0 unless aborted).
async fn publisher(
    js: jetstream::Context,
    mut rx: mpsc::Receiver<Outgoing>,
    window: usize,
    counts: Arc<Counts>,
) -> usize {
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(window);
    let mut closed = false;
    let mut resend = false;
    let mut backoff = Duration::from_millis(50);
    loop {
        if resend {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            resend = false;
            for p in pending.iter_mut() {
                match publish(&js, &p.message).await {
                    Ok(ack) => {
                        p.ack = Some(ack);
                        counts.retried.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed(&e, &mut pending);
                        resend = true;
                        break;
                    }
                }
            }
            continue;
        }
        let room = !closed && pending.len() < window;
        if pending.is_empty() && closed {
            return 0;
        }
        let step = {
            let front = pending.front_mut().and_then(|p| p.ack.as_mut());
            let has_front = front.is_some();
            let front_ack = async {
                match front {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                m = rx.recv(), if room => Step::In(m),
                r = front_ack, if has_front => Step::Ack(r),
                else => Step::Idle,
            }
        };
        match step {
            Step::In(Some(message)) => {
                let ack = publish(&js, &message).await;
                let failed_now = ack.as_ref().err().map(|e| e.to_string());
                pending.push_back(Pending {
                    message,
                    ack: ack.ok(),
                });
                if let Some(e) = failed_now {
                    say_failed(&e, &pending);
                    for p in pending.iter_mut() {
                        p.ack = None;
                    }
                    resend = true;
                }
            }
            Step::In(None) => closed = true,
            Step::Ack(Ok(ack)) => {
                pending.pop_front();
                backoff = Duration::from_millis(50);
                if ack.duplicate {
                    counts.duplicates.fetch_add(1, Ordering::Relaxed);
                } else {
                    counts.stored.fetch_add(1, Ordering::Relaxed);
                }
            }
            Step::Ack(Err(e)) => {
                failed(&e, &mut pending);
                resend = true;
            }
            // Unacknowledged messages without an ack: publish them again.
            Step::Idle => resend = !pending.is_empty(),
        }
    }
}

/// What the publisher waits for next.
enum Step {
    In(Option<Outgoing>),
    Ack(Result<jetstream::publish::PublishAck, jetstream::context::PublishError>),
    Idle,
}

fn say_failed(error: &str, pending: &VecDeque<Pending>) {
    status_line(serde_json::json!({
        "e": "status", "state": "nats_retry", "error": error,
        "unacknowledged": pending.len(),
    }));
}

/// An ack failed: say so, and forget every outstanding ack (all of them are
/// published again).
fn failed(error: &jetstream::context::PublishError, pending: &mut VecDeque<Pending>) {
    say_failed(&error.to_string(), pending);
    for p in pending.iter_mut() {
        p.ack = None;
    }
}

/// Rebuild the combined envelope of a stored message.
pub(crate) fn envelope(stream: &str, payload: &str) -> String {
    let name = serde_json::to_string(stream).unwrap_or_default();
    format!("{{\"stream\":{name},\"data\":{payload}}}")
}

/// Read the JetStream stream `url.stream` (or `BINANCE`) in order through an
/// ordered consumer, filtered by `subject`, handing each frame to `each`;
/// ends at the stream's last message at start unless `follow`.
pub(crate) async fn read_stream(
    url: &NatsUrl,
    subject: Option<&str>,
    follow: bool,
    mut each: impl FnMut(binance_sim::replay::Recorded) -> Result<(), String>,
) -> Result<u64, String> {
    use futures_util::StreamExt;
    let name = url.stream.clone().unwrap_or_else(|| "BINANCE".into());
    let client = connect(url, "bnws replay").await?;
    let js = context(client);
    let stream = js
        .get_stream(&name)
        .await
        .map_err(|e| format!("JetStream stream `{name}`: {e}"))?;
    let filter = subject.unwrap_or(">").to_string();
    if !follow {
        let mut subjects = stream
            .info_with_subjects(&filter)
            .await
            .map_err(|e| format!("JetStream stream `{name}`: {e}"))?;
        let mut any = false;
        while let Some(entry) = futures_util::TryStreamExt::try_next(&mut subjects)
            .await
            .map_err(|e| format!("JetStream stream `{name}`: {e}"))?
        {
            any |= entry.1 > 0;
        }
        if !any {
            return Ok(0);
        }
    }
    let config = jetstream::consumer::pull::OrderedConfig {
        filter_subject: if subject.is_some() {
            filter
        } else {
            String::new()
        },
        deliver_policy: jetstream::consumer::DeliverPolicy::All,
        ..Default::default()
    };
    // A cluster that just lost a node may place the consumer on it and time
    // out (nats-server 2.9): a few tries.
    let mut tries = 0;
    let consumer = loop {
        match stream.create_consumer(config.clone()).await {
            Ok(c) => break c,
            Err(e) if tries < 5 => {
                tries += 1;
                status_line(serde_json::json!({
                    "e": "status", "state": "nats_consumer_retry",
                    "stream": name, "error": e.to_string(),
                }));
            }
            Err(e) => return Err(format!("JetStream stream `{name}`: {e}")),
        }
    };
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("JetStream stream `{name}`: {e}"))?;
    let mut skipped = 0;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| format!("JetStream stream `{name}`: {e}"))?;
        let pending = message.info().map(|i| i.pending).unwrap_or(1);
        let headers = message.headers.as_ref();
        let stream_name = headers
            .and_then(|h| h.get(STREAM_HEADER))
            .map(|v| v.as_str());
        let at = headers
            .and_then(|h| h.get(RECEIVED_HEADER))
            .and_then(|v| v.as_str().parse::<u128>().ok())
            .map_or(0.0, |ns| ns as f64 / 1e9);
        let payload = std::str::from_utf8(&message.payload).map_err(|_| {
            format!(
                "JetStream stream `{name}`: message on {} is not UTF-8",
                message.subject
            )
        });
        match (stream_name, payload) {
            (Some(s), Ok(p)) => each(binance_sim::replay::Recorded {
                at,
                text: envelope(s, p),
            })?,
            // Not a frame (the ledger): printed as it is only when asked for by subject.
            (None, Ok(p)) if subject.is_some() => each(binance_sim::replay::Recorded {
                at,
                text: p.to_string(),
            })?,
            _ => skipped += 1,
        }
        if pending == 0 && !follow {
            break;
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_back_to_their_stream() {
        for name in [
            "btcusdt@trade",
            "btcusdt@depth@100ms",
            "!miniTicker@arr",
            "btcusdt@kline_1m",
            "btc-250628-60000-c@ticker",
            "odd.name*with>x%y",
        ] {
            let s = subject("binance", Venue::Spot, name);
            assert!(!s.contains(['*', '>', ' ']), "{s}");
            assert!(s.split('.').all(|t| !t.is_empty()), "{s}");
            assert_eq!(stream_of_subject("binance", &s).as_deref(), Some(name));
        }
        assert_eq!(
            subject("binance", Venue::UsdM, "btcusdt@depth@100ms"),
            "binance.usdm.btcusdt.depth.100ms"
        );
    }

    #[test]
    fn urls_parse_or_say_the_valid_form() {
        assert_eq!(
            parse_url("nats://127.0.0.1:4222,h2:4223/REC").unwrap(),
            NatsUrl {
                servers: vec!["nats://127.0.0.1:4222".into(), "nats://h2:4223".into()],
                stream: Some("REC".into())
            }
        );
        assert_eq!(parse_url("nats://h:1").unwrap().stream, None);
        for bad in [
            "http://h:1",
            "nats://h",
            "nats://h:x",
            "nats://:1",
            "nats://h:1/a.b",
        ] {
            assert!(
                parse_url(bad).unwrap_err().contains("nats://HOST:PORT"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_envelope_splits_into_the_exact_payload_and_back() {
        let frame = r#"{"stream":"btcusdt@trade","data":{"e":"trade","t":7,"p":"1.10000000"}}"#;
        let (stream, payload) = split_envelope(frame).unwrap();
        assert_eq!(stream, "btcusdt@trade");
        assert_eq!(payload, r#"{"e":"trade","t":7,"p":"1.10000000"}"#);
        assert_eq!(envelope(stream, payload), frame);
        assert_eq!(split_envelope(r#"{"e":"trade"}"#), None);
    }

    #[test]
    fn message_ids_name_the_event() {
        let trade = br#"{"e":"trade","E":1,"s":"BTCUSDT","t":12345}"#;
        assert_eq!(
            message_id(Venue::Spot, "btcusdt@trade", trade),
            "spot:btcusdt@trade:BTCUSDT:12345"
        );
        // No key: a stable hash of the bytes (FNV-1a's published test value).
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let id = message_id(Venue::Spot, "x@y", br#"{"n":1}"#);
        assert_eq!(id, format!("spot:x@y:h{:016x}", fnv1a(br#"{"n":1}"#)));
    }
}
