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
        if kind == Kind::Sequenced {
            if let Some(sequence) = sequence_of(bytes) {
                if let Some(held) = &mut track.held {
                    held.push_back(frame.clone());
                    return Verdict::Held;
                }
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
            let symbol = match key.symbol {
                Some(symbol) if stream.starts_with('!') => symbol,
                _ => "",
            };
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
    /// `/api/v3/historicalTrades` (weight 25).
    Trades,
    /// `/api/v3/aggTrades` (weight 4).
    AggTrades,
}

/// Most rows a REST list gives per request.
const PAGE: u64 = 1000;
/// The most ids one hole is filled with; a longer hole keeps the rest in
/// the ledger (a day-long outage is for a batch job, not a live socket).
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

impl Backfill {
    fn source<'s>(&self, stream: &'s str) -> Option<(Source, &'s str)> {
        if self.venue != Venue::Spot {
            return None;
        }
        let (symbol, kind) = stream.split_once('@')?;
        match kind {
            "trade" => Some((Source::Trades, symbol)),
            "aggTrade" => Some((Source::AggTrades, symbol)),
            _ => None,
        }
    }

    /// Whether this hole of `stream` can be filled from REST.
    pub fn can_fill(&self, stream: &str, from: Position, to: Position) -> bool {
        self.source(stream).is_some()
            && matches!((from, to), (Position::Id(a), Position::Id(b)) if a <= b)
    }

    /// Fill ids `from..=to` of `stream`: what REST still has, in order,
    /// within the weight budget. Errors end the fill early (the rest stays
    /// in the ledger).
    pub async fn fill(&self, stream: String, from: u64, to: u64) -> Filled {
        let mut filled = Filled {
            stream,
            hole_to: to,
            frames: Vec::new(),
            range: None,
        };
        let Some((source, symbol)) = self.source(&filled.stream) else {
            return filled;
        };
        let symbol = symbol.to_ascii_uppercase();
        let to = to.min(from + MOST - 1);
        let mut next = from;
        while next <= to {
            let limit = (to - next + 1).min(PAGE);
            let (path, weight) = match source {
                Source::Trades => ("/api/v3/historicalTrades", 25),
                Source::AggTrades => ("/api/v3/aggTrades", 4),
            };
            for _ in 0..weight {
                tokio::time::sleep_until(self.pace.reserve()).await;
            }
            let url = format!(
                "{}{path}?symbol={symbol}&fromId={next}&limit={limit}",
                self.rest
            );
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
            };
            match last {
                Some(last) if filled.frames.len() > before => {
                    let first = filled.range.map_or(Position::Id(next), |(first, _)| first);
                    filled.range = Some((first, Position::Id(last)));
                    next = last + 1;
                }
                _ => break,
            }
        }
        filled
    }

    /// The trades of `body` up to id `to`, as trade frames; the last id.
    fn trades(&self, body: &[u8], symbol: &str, to: u64, filled: &mut Filled) -> Option<u64> {
        let rows: Vec<TradeRow<'_>> = serde_json::from_slice(body).ok()?;
        let mut last = None;
        for row in rows.iter().filter(|row| row.id <= to) {
            let time = row.time * self.per_ms;
            let event = format!(
                r#"{{"e":"trade","E":{time},"s":"{symbol}","t":{},"p":"{}","q":"{}","T":{time},"m":{},"M":{}}}"#,
                row.id, row.price, row.qty, row.is_buyer_maker, row.is_best_match
            );
            filled.frames.push(self.frame(&filled.stream, &event));
            last = Some(row.id);
        }
        last
    }

    /// The aggregate trades of `body` up to id `to`, as aggTrade frames.
    fn agg_trades(&self, body: &[u8], symbol: &str, to: u64, filled: &mut Filled) -> Option<u64> {
        let rows: Vec<AggRow<'_>> = serde_json::from_slice(body).ok()?;
        let mut last = None;
        for row in rows.iter().filter(|row| row.a <= to) {
            let time = row.time * self.per_ms;
            let event = format!(
                r#"{{"e":"aggTrade","E":{time},"s":"{symbol}","a":{},"p":"{}","q":"{}","f":{},"l":{},"T":{time},"m":{},"M":{}}}"#,
                row.a, row.p, row.q, row.f, row.l, row.m, row.best
            );
            filled.frames.push(self.frame(&filled.stream, &event));
            last = Some(row.a);
        }
        last
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
}
