//! What a market socket checks of each frame before handing it on:
//! - repeats, when its streams come on more than one connection
//!   ([`Socket::connections`](crate::Socket::connections)): a frame passes
//!   only if its place in its stream is new (the sequence below, else the
//!   order key, else its content);
//! - the gap ledger: each stream whose events carry a sequence (trade and
//!   aggregate trade ids, diff-depth `U`/`u` or futures `pu`, closed kline
//!   open times) is followed, and a hole becomes a
//!   [`Status::Gap`](crate::Status::Gap), never silence;
//! - backfill: a hole in spot trades or aggregate trades is filled from
//!   REST (`/api/v3/historicalTrades`, `/api/v3/aggTrades`, by id) within a
//!   request-weight budget. The stream's live frames wait meanwhile, so the
//!   reader gets everything in order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binance_types::peek::{order_key_of, sequence_of, Sequence};
use binance_types::stream::KlineInterval;
use binance_types::venue::Venue;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::limiter::Window;
use crate::message::{Position, RawFrame};
use crate::rest;
use crate::transport::Network;

/// Content hashes remembered per unkeyed stream, to drop a redundant
/// connection's copy.
const RECENT: usize = 1024;

/// What to do with a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it on.
    Pass,
    /// Another connection delivered it already: drop it.
    Repeat,
    /// Its stream waits for a backfill: the ledger keeps it.
    Held,
    /// Events from `from` to `to` are missing before it; it is the first
    /// after the hole (held if a backfill was started).
    Hole {
        from: Position,
        to: Position,
        /// A backfill was started: the frame is held.
        backfilling: bool,
    },
}

/// How a stream's events follow one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Trades, aggregate trades, diff depth, klines: checked for holes.
    Sequenced,
    /// Anything else: only repeats are dropped.
    Other,
}

fn kind_of(stream: &str) -> Kind {
    let mut parts = stream.split('@').skip(1);
    match (parts.next(), parts.next()) {
        (Some("trade" | "aggTrade"), None) => Kind::Sequenced,
        (Some("depth"), None) => Kind::Sequenced,
        (Some("depth"), Some(speed)) if speed.ends_with("ms") => Kind::Sequenced,
        (Some(k), None) if k.starts_with("kline_") || k.starts_with("continuousKline_") => {
            Kind::Sequenced
        }
        _ => Kind::Other,
    }
}

#[derive(Default)]
struct Track {
    kind: Option<Kind>,
    /// The last id, `u`, or closed open time delivered.
    last: Option<u64>,
    /// The last order key delivered, per symbol on an all-market stream.
    keys: HashMap<Box<str>, u64>,
    /// Content hashes of recent unkeyed frames (redundant sockets only).
    recent: VecDeque<u64>,
    seen: HashSet<u64>,
    /// Frames waiting for a backfill of this stream.
    held: Option<VecDeque<RawFrame>>,
}

/// One socket's ledger.
pub(crate) struct Ledger {
    tracks: HashMap<Box<str>, Track>,
    /// The same streams come on more than one connection.
    redundant: bool,
    /// Stream time units per millisecond (1, or 1000 for microseconds).
    per_ms: u64,
    /// Where holes are filled from (`None`: not filled).
    backfill: Option<Arc<Backfill>>,
    /// Sequences are followed and holes reported.
    sequences: bool,
}

impl Ledger {
    pub fn new(redundant: bool, per_ms: u64, backfill: Option<Arc<Backfill>>) -> Self {
        Ledger {
            tracks: HashMap::new(),
            redundant,
            per_ms,
            backfill,
            sequences: true,
        }
    }

    /// Only repeats are dropped: sequences are not followed.
    pub fn without_sequences(mut self) -> Self {
        self.sequences = false;
        self.backfill = None;
        self
    }

    /// The backfill source, if holes are filled.
    pub fn backfill(&self) -> Option<&Arc<Backfill>> {
        self.backfill.as_ref()
    }

    /// Judge `frame` of `stream`; a frame of a stream being backfilled is
    /// kept (`Held`).
    pub fn check(&mut self, stream: &str, frame: &RawFrame) -> Verdict {
        let track = match self.tracks.get_mut(stream) {
            Some(track) => track,
            None => self.tracks.entry(stream.into()).or_default(),
        };
        let sequences = self.sequences;
        let kind = *track.kind.get_or_insert_with(|| {
            if sequences {
                kind_of(stream)
            } else {
                Kind::Other
            }
        });
        let bytes = frame.text().as_bytes();
        if let Some(held) = &mut track.held {
            held.push_back(frame.clone());
            return Verdict::Held;
        }
        if kind == Kind::Sequenced {
            if let Some(sequence) = sequence_of(bytes) {
                let verdict = follow(track, sequence, self.per_ms);
                if let Verdict::Hole { from, to, .. } = verdict {
                    let backfilling = self
                        .backfill
                        .as_ref()
                        .is_some_and(|b| b.can_fill(stream, from, to));
                    if backfilling {
                        track.held = Some(VecDeque::from([frame.clone()]));
                        return Verdict::Hole {
                            from,
                            to,
                            backfilling,
                        };
                    }
                }
                return verdict;
            }
        }
        if !self.redundant {
            return Verdict::Pass;
        }
        if let Some(key) = order_key_of(bytes) {
            // Per symbol: an all-market or per-underlying stream
            // (`!bookTicker`, `btc@optionTrade`) interleaves symbols whose
            // keys each grow on their own.
            let symbol = key.symbol.unwrap_or("");
            return match track.keys.get_mut(symbol) {
                Some(last) if key.value <= *last => Verdict::Repeat,
                Some(last) => {
                    *last = key.value;
                    Verdict::Pass
                }
                None => {
                    track.keys.insert(symbol.into(), key.value);
                    Verdict::Pass
                }
            };
        }
        let hash = fnv1a(bytes);
        if !track.seen.insert(hash) {
            return Verdict::Repeat;
        }
        track.recent.push_back(hash);
        if track.recent.len() > RECENT {
            if let Some(old) = track.recent.pop_front() {
                track.seen.remove(&old);
            }
        }
        Verdict::Pass
    }

    /// Forget `stream` (unsubscribed): subscribed again, it starts a new
    /// sequence. A stream waiting for a backfill keeps its held frames.
    pub fn forget(&mut self, stream: &str) {
        if self.tracks.get(stream).is_some_and(|t| t.held.is_none()) {
            self.tracks.remove(stream);
        }
    }

    /// A backfill of `stream` is over: its held frames, to be judged again
    /// in order. The hole up to `hole_to` counts as dealt with (filled, or
    /// reported and left in the ledger).
    pub fn release(&mut self, stream: &str, hole_to: u64) -> VecDeque<RawFrame> {
        let Some(track) = self.tracks.get_mut(stream) else {
            return VecDeque::new();
        };
        // The frame that showed the hole is the first held: it follows on.
        track.last = Some(hole_to);
        track.held.take().unwrap_or_default()
    }
}

/// Follow a sequenced event: new, a repeat, or past a hole.
fn follow(track: &mut Track, sequence: Sequence<'_>, per_ms: u64) -> Verdict {
    let Some(last) = track.last else {
        track.last = Some(match sequence {
            Sequence::Ids { last, .. } | Sequence::Chained { last, .. } => last,
            Sequence::Closed { open, .. } => open,
        });
        return Verdict::Pass;
    };
    let (hole, new_last) = match sequence {
        Sequence::Ids { first, last: to } => {
            if to <= last {
                return Verdict::Repeat;
            }
            let hole =
                (first > last + 1).then(|| (Position::Id(last + 1), Position::Id(first - 1)));
            (hole, to)
        }
        Sequence::Chained { previous, last: to } => {
            if to <= last {
                return Verdict::Repeat;
            }
            let hole = (previous != last).then(|| (Position::Id(last + 1), Position::Id(previous)));
            (hole, to)
        }
        Sequence::Closed { open, interval } => {
            if open <= last {
                return Verdict::Repeat;
            }
            // A month is not a fixed length: its candles are not checked.
            let step = interval
                .parse::<KlineInterval>()
                .ok()
                .filter(|i| *i != KlineInterval::Mo1)
                .map(|i| i.millis() * per_ms);
            let hole = step.filter(|step| open > last + step).map(|step| {
                (
                    Position::Time(time_of(last + step, per_ms)),
                    Position::Time(time_of(open - step, per_ms)),
                )
            });
            (hole, open)
        }
    };
    track.last = Some(new_last);
    match hole {
        Some((from, to)) => Verdict::Hole {
            from,
            to,
            backfilling: false,
        },
        None => Verdict::Pass,
    }
}

fn time_of(value: u64, per_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(value * (1000 / per_ms.clamp(1, 1000)))
}

/// FNV-1a, 64 bits: a stable hash of a frame's bytes.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Where a socket's holes are filled from.
pub(crate) struct Backfill {
    /// The REST base (`https://api.binance.com`).
    pub rest: String,
    pub net: Network,
    pub venue: Venue,
    /// The request-weight budget, one slot a unit of weight.
    pub pace: Arc<Window>,
    /// Frames are rebuilt with the combined envelope.
    pub combined: bool,
    /// Stream time units per millisecond.
    pub per_ms: u64,
}

/// What a backfill brought back.
pub(crate) struct Filled {
    pub stream: String,
    /// The last id of the hole: held frames pass on from there, whether or
    /// not all of it was filled (the gap was reported whole).
    pub hole_to: u64,
    pub frames: Vec<RawFrame>,
    /// The ids or times delivered (none if REST gave nothing).
    pub range: Option<(Position, Position)>,
}

/// The REST list that fills a stream's holes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `/api/v3/historicalTrades` by id (weight 25).
    Trades,
    /// `/api/v3/aggTrades` by id (weight 4).
    AggTrades,
    /// `/api/v3/klines` by open time (weight 2).
    Klines(KlineInterval),
}

impl Source {
    fn path_and_weight(self) -> (&'static str, u32) {
        match self {
            Source::Trades => ("/api/v3/historicalTrades", 25),
            Source::AggTrades => ("/api/v3/aggTrades", 4),
            Source::Klines(_) => ("/api/v3/klines", 2),
        }
    }
}

/// Most rows a REST list gives per request.
const PAGE: u64 = 1000;
/// The most ids (or candles) one hole is filled with; a longer hole keeps
/// the rest in the ledger (a day-long outage is for a batch job, not a
/// live socket).
const MOST: u64 = 20_000;

/// A trade as `/api/v3/historicalTrades` lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TradeRow<'a> {
    id: u64,
    #[serde(borrow)]
    price: &'a str,
    qty: &'a str,
    time: u64,
    is_buyer_maker: bool,
    is_best_match: bool,
}

/// An aggregate trade as `/api/v3/aggTrades` lists it.
#[derive(Deserialize)]
struct AggRow<'a> {
    a: u64,
    #[serde(borrow)]
    p: &'a str,
    q: &'a str,
    f: u64,
    l: u64,
    #[serde(rename = "T")]
    time: u64,
    m: bool,
    #[serde(rename = "M")]
    best: bool,
}

/// A candle as `/api/v3/klines` lists it: open time, open, high, low,
/// close, volume, close time, quote volume, trades, taker buy base and
/// quote volumes, and an unused field.
#[derive(Deserialize)]
struct KlineRow<'a>(
    u64,
    #[serde(borrow)] &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    u64,
    &'a str,
    u64,
    &'a str,
    &'a str,
    serde::de::IgnoredAny,
);

impl Backfill {
    fn source<'s>(&self, stream: &'s str) -> Option<(Source, &'s str)> {
        if self.venue != Venue::Spot {
            return None;
        }
        let (symbol, kind) = stream.split_once('@')?;
        let source = match kind {
            "trade" => Source::Trades,
            "aggTrade" => Source::AggTrades,
            _ => Source::Klines(kind.strip_prefix("kline_")?.parse().ok()?),
        };
        Some((source, symbol))
    }

    /// Whether this hole of `stream` can be filled from REST.
    pub fn can_fill(&self, stream: &str, from: Position, to: Position) -> bool {
        match (self.source(stream), from, to) {
            (Some((Source::Klines(_), _)), Position::Time(a), Position::Time(b)) => a <= b,
            (Some((Source::Trades | Source::AggTrades, _)), Position::Id(a), Position::Id(b)) => {
                a <= b
            }
            _ => false,
        }
    }

    /// Fill `from..=to` of `stream` (ids, or candle open times): what REST
    /// still has, in order, within the weight budget. Errors end the fill
    /// early (the rest stays in the ledger).
    pub async fn fill(&self, stream: String, from: Position, to: Position) -> Filled {
        let source = self
            .source(&stream)
            .map(|(source, symbol)| (source, symbol.to_ascii_uppercase()));
        let (kline, step) = match &source {
            Some((Source::Klines(interval), _)) => (true, interval.millis()),
            _ => (false, 1),
        };
        let mut filled = Filled {
            stream,
            hole_to: match kline {
                true => to.value() * self.per_ms,
                false => to.value(),
            },
            frames: Vec::new(),
            range: None,
        };
        let Some((source, symbol)) = source else {
            return filled;
        };
        let (from, to) = (from.value(), to.value());
        let to = to.min(from + (MOST - 1) * step);
        let mut next = from;
        while next <= to {
            let (path, weight) = source.path_and_weight();
            for _ in 0..weight {
                tokio::time::sleep_until(self.pace.reserve()).await;
            }
            let query = match source {
                // Up to the last missing candle's close time, so that it
                // comes whole from any server.
                Source::Klines(interval) => format!(
                    "interval={}&startTime={next}&endTime={}&limit={PAGE}",
                    interval.as_str(),
                    to + step - 1
                ),
                _ => format!("fromId={next}&limit={}", (to - next + 1).min(PAGE)),
            };
            let url = format!("{}{path}?symbol={symbol}&{query}", self.rest);
            let body = match rest::get(&url, &self.net).await {
                Ok(response) if response.status == 200 => response.body,
                Ok(response) => {
                    tracing::warn!(
                        "backfill of {}: {path} answered {}",
                        filled.stream,
                        response.status
                    );
                    break;
                }
                Err(error) => {
                    tracing::warn!("backfill of {}: {error}", filled.stream);
                    break;
                }
            };
            let before = filled.frames.len();
            let last = match source {
                Source::Trades => self.trades(&body, &symbol, to, &mut filled),
                Source::AggTrades => self.agg_trades(&body, &symbol, to, &mut filled),
                Source::Klines(interval) => self.klines(&body, &symbol, interval, to, &mut filled),
            };
            let position = |v: u64| match kline {
                true => Position::Time(UNIX_EPOCH + Duration::from_millis(v)),
                false => Position::Id(v),
            };
            match last {
                Some(last) if filled.frames.len() > before => {
                    let first = filled.range.map_or(position(next), |(first, _)| first);
                    filled.range = Some((first, position(last)));
                    next = last + step;
                }
                _ => break,
            }
        }
        filled
    }

    /// The rows of `body` whose position (`at`: id or open time) is up to
    /// `to`, each as the event `event` writes, into `filled`; the last
    /// position.
    fn rows<'b, R: Deserialize<'b>>(
        &self,
        body: &'b [u8],
        to: u64,
        filled: &mut Filled,
        at: impl Fn(&R) -> u64,
        event: impl Fn(&R) -> String,
    ) -> Option<u64> {
        let rows: Vec<R> = serde_json::from_slice(body).ok()?;
        let mut last = None;
        for row in rows.iter().filter(|row| at(row) <= to) {
            filled.frames.push(self.frame(&filled.stream, &event(row)));
            last = Some(at(row));
        }
        last
    }

    /// Trades as trade frames.
    fn trades(&self, body: &[u8], symbol: &str, to: u64, filled: &mut Filled) -> Option<u64> {
        self.rows(body, to, filled, |row: &TradeRow<'_>| row.id, |row| {
            let time = row.time * self.per_ms;
            format!(
                r#"{{"e":"trade","E":{time},"s":"{symbol}","t":{},"p":"{}","q":"{}","T":{time},"m":{},"M":{}}}"#,
                row.id, row.price, row.qty, row.is_buyer_maker, row.is_best_match
            )
        })
    }

    /// Aggregate trades as aggTrade frames.
    fn agg_trades(&self, body: &[u8], symbol: &str, to: u64, filled: &mut Filled) -> Option<u64> {
        self.rows(body, to, filled, |row: &AggRow<'_>| row.a, |row| {
            let time = row.time * self.per_ms;
            format!(
                r#"{{"e":"aggTrade","E":{time},"s":"{symbol}","a":{},"p":"{}","q":"{}","f":{},"l":{},"T":{time},"m":{},"M":{}}}"#,
                row.a, row.p, row.q, row.f, row.l, row.m, row.best
            )
        })
    }

    /// Candles (opened up to `to`, ms) as closed kline frames. REST does
    /// not give a candle's trade ids: `f` and `L` are -1, and `E` is the
    /// close time plus 1 ms.
    fn klines(
        &self,
        body: &[u8],
        symbol: &str,
        interval: KlineInterval,
        to: u64,
        filled: &mut Filled,
    ) -> Option<u64> {
        self.rows(body, to, filled, |row: &KlineRow<'_>| row.0, |row| {
            let KlineRow(open, o, h, l, c, v, close, q, n, taker_v, taker_q, _) = row;
            let (t, big_t, e) = (
                open * self.per_ms,
                close * self.per_ms,
                (close + 1) * self.per_ms,
            );
            format!(
                r#"{{"e":"kline","E":{e},"s":"{symbol}","k":{{"t":{t},"T":{big_t},"s":"{symbol}","i":"{}","f":-1,"L":-1,"o":"{o}","c":"{c}","h":"{h}","l":"{l}","v":"{v}","n":{n},"x":true,"q":"{q}","V":"{taker_v}","Q":"{taker_q}","B":"0"}}}}"#,
                interval.as_str()
            )
        })
    }

    fn frame(&self, stream: &str, event: &str) -> RawFrame {
        let text = match self.combined {
            true => format!(r#"{{"stream":"{stream}","data":{event}}}"#),
            false => event.to_owned(),
        };
        RawFrame {
            text: Utf8Bytes::from(text),
            received_at: Some(SystemTime::now()),
            backfilled: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> RawFrame {
        RawFrame {
            text: Utf8Bytes::from(text.to_owned()),
            received_at: None,
            backfilled: false,
        }
    }

    fn trade(id: u64) -> RawFrame {
        frame(&format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"1","q":"1","T":1,"m":true,"M":true}}}}"#
        ))
    }

    #[test]
    fn a_hole_in_trade_ids_is_named_and_repeats_are_dropped() {
        let mut ledger = Ledger::new(true, 1, None);
        let s = "btcusdt@trade";
        assert_eq!(ledger.check(s, &trade(10)), Verdict::Pass);
        assert_eq!(ledger.check(s, &trade(11)), Verdict::Pass);
        assert_eq!(ledger.check(s, &trade(11)), Verdict::Repeat);
        assert_eq!(
            ledger.check(s, &trade(15)),
            Verdict::Hole {
                from: Position::Id(12),
                to: Position::Id(14),
                backfilling: false
            }
        );
        assert_eq!(ledger.check(s, &trade(13)), Verdict::Repeat);
        assert_eq!(ledger.check(s, &trade(16)), Verdict::Pass);
    }

    #[test]
    fn futures_depth_follows_pu_and_klines_their_open_times() {
        let mut ledger = Ledger::new(false, 1, None);
        let depth = |pu: u64, u: u64| {
            frame(&format!(
                r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{},"u":{u},"pu":{pu},"b":[],"a":[]}}}}"#,
                pu + 1
            ))
        };
        let s = "btcusdt@depth@100ms";
        assert_eq!(ledger.check(s, &depth(1, 5)), Verdict::Pass);
        assert_eq!(ledger.check(s, &depth(5, 9)), Verdict::Pass);
        assert_eq!(
            ledger.check(s, &depth(12, 20)),
            Verdict::Hole {
                from: Position::Id(10),
                to: Position::Id(12),
                backfilling: false
            }
        );
        let kline = |open: u64, closed: bool| {
            frame(&format!(
                r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":1,"s":"BTCUSDT","k":{{"t":{open},"i":"1m","x":{closed}}}}}}}"#
            ))
        };
        let k = "btcusdt@kline_1m";
        assert_eq!(ledger.check(k, &kline(60_000, true)), Verdict::Pass);
        assert_eq!(ledger.check(k, &kline(120_000, false)), Verdict::Pass);
        assert_eq!(ledger.check(k, &kline(120_000, true)), Verdict::Pass);
        assert_eq!(
            ledger.check(k, &kline(300_000, true)),
            Verdict::Hole {
                from: Position::Time(UNIX_EPOCH + Duration::from_millis(180_000)),
                to: Position::Time(UNIX_EPOCH + Duration::from_millis(240_000)),
                backfilling: false
            }
        );
    }

    #[test]
    fn a_redundant_socket_drops_copies_by_key_or_content() {
        let mut ledger = Ledger::new(true, 1, None);
        let ticker = |e: u64| {
            frame(&format!(
                r#"{{"stream":"btcusdt@ticker","data":{{"e":"24hrTicker","E":{e},"s":"BTCUSDT"}}}}"#
            ))
        };
        assert_eq!(ledger.check("btcusdt@ticker", &ticker(5)), Verdict::Pass);
        assert_eq!(ledger.check("btcusdt@ticker", &ticker(5)), Verdict::Repeat);
        assert_eq!(ledger.check("btcusdt@ticker", &ticker(6)), Verdict::Pass);
        let book = frame(r#"{"stream":"x@depth5","data":{"bids":[],"asks":[]}}"#);
        assert_eq!(ledger.check("x@depth5", &book), Verdict::Pass);
        assert_eq!(ledger.check("x@depth5", &book), Verdict::Repeat);
        // Alone, a socket passes what is not sequenced untouched.
        let mut single = Ledger::new(false, 1, None);
        assert_eq!(single.check("x@depth5", &book), Verdict::Pass);
        assert_eq!(single.check("x@depth5", &book), Verdict::Pass);
    }

    /// Candles filled from REST are the candles the stream closed: the
    /// simulator's kline_1s stream against its `/api/v3/klines`.
    #[tokio::test]
    async fn past_candles_come_back_as_the_stream_closed_them() {
        let sim = binance_sim::Sim::start(binance_sim::SimConfig::default())
            .await
            .unwrap();
        let manager = crate::SocketManager::builder()
            .endpoint(crate::Endpoint::Custom(sim.ws_url()))
            .no_proxy()
            .build()
            .unwrap();
        let stream = "btcusdt@kline_1s";
        let mut socket = manager.multiplex_socket(&[stream]).unwrap().raw();
        let mut live: Vec<serde_json::Value> = Vec::new();
        while live.len() < 4 {
            if let crate::Message::Raw(frame) = socket.recv().await.unwrap() {
                let value: serde_json::Value = serde_json::from_str(frame.text()).unwrap();
                if value["data"]["k"]["x"] == true {
                    live.push(value["data"]["k"].clone());
                }
            }
        }
        let connections = &manager.inner.connections;
        let backfill = Backfill {
            rest: connections.rest.clone().unwrap(),
            net: connections.env.net.clone(),
            venue: Venue::Spot,
            pace: connections.backfill_pace.clone(),
            combined: true,
            per_ms: 1,
        };
        let open = |k: &serde_json::Value| k["t"].as_u64().unwrap();
        let at = |ms: u64| Position::Time(UNIX_EPOCH + Duration::from_millis(ms));
        let (from, to) = (open(&live[1]), open(&live[2]));
        let filled = backfill.fill(stream.into(), at(from), at(to)).await;
        assert_eq!(filled.range, Some((at(from), at(to))));
        assert_eq!(filled.hole_to, to);
        assert_eq!(filled.frames.len(), 2);
        for (frame, want) in filled.frames.iter().zip(&live[1..3]) {
            assert!(frame.backfilled());
            let value: serde_json::Value = serde_json::from_str(frame.text()).unwrap();
            assert_eq!(value["stream"], stream);
            let got = &value["data"]["k"];
            for key in [
                "t", "T", "s", "i", "o", "h", "l", "c", "v", "n", "x", "q", "V", "Q",
            ] {
                assert_eq!(got[key], want[key], "{key} of {got} and {want}");
            }
        }
    }

    #[test]
    fn interleaved_symbols_keep_their_own_keys_and_a_forgotten_stream_starts_anew() {
        let mut ledger = Ledger::new(true, 1, None);
        let trade = |symbol: &str, t: u64| {
            frame(&format!(
                r#"{{"stream":"btc@optionTrade","data":{{"e":"trade","E":1,"T":1,"s":"{symbol}","t":{t},"p":"1.000","q":"0.1000","X":"MARKET","S":"BUY","m":false}}}}"#
            ))
        };
        let s = "btc@optionTrade";
        assert_eq!(
            ledger.check(s, &trade("BTC-261225-90000-C", 90)),
            Verdict::Pass
        );
        // Another option's own numbering: new, not a repeat.
        assert_eq!(
            ledger.check(s, &trade("BTC-261225-95000-P", 4)),
            Verdict::Pass
        );
        assert_eq!(
            ledger.check(s, &trade("BTC-261225-95000-P", 4)),
            Verdict::Repeat
        );
        assert_eq!(
            ledger.check(s, &trade("BTC-261225-90000-C", 91)),
            Verdict::Pass
        );

        let k = "btcusdt@trade";
        let spot = |t: u64| {
            frame(&format!(
                r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"BTCUSDT","t":{t},"p":"1","q":"1","T":1,"m":true,"M":true}}}}"#
            ))
        };
        assert_eq!(ledger.check(k, &spot(10)), Verdict::Pass);
        ledger.forget(k);
        // Subscribed again much later: no gap from the old sequence.
        assert_eq!(ledger.check(k, &spot(500)), Verdict::Pass);
    }
}
