//! Per-stream silence. Binance has had outages where a SUBSCRIBE was
//! acknowledged and some streams of a connection went quiet while others
//! kept flowing; the connection's own watchdog never notices, because
//! frames still arrive.
//!
//! The rule, per stream:
//! - a stream Binance pushes on a clock (klines, tickers, average price,
//!   partial depth: [`StreamName::cadence`]) is silent after ten of its
//!   intervals without a frame;
//! - a stream pushed on events (trades, book changes) is silent after twenty
//!   times its own average gap on this connection, once it has delivered 20
//!   frames: an illiquid symbol's trades, quiet for minutes, are not
//!   flagged, and one that never traded is never flagged;
//! - never before `floor`; each time a stream is found silent again without
//!   having flowed, its limit doubles (at most 15 minutes), so a stream that
//!   is really quiet is not reported every few seconds.
//!
//! Frames are counted without reading the clock; the connection's watchdog
//! tick compares counts.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use binance_types::StreamName;
use tokio::time::Instant;

/// The longest limit a stream's doubling reaches.
const MAX_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Intervals of a periodic stream without a frame that make it silent.
const PERIODS: u32 = 10;
/// Average gaps of an event stream without a frame that make it silent.
const GAPS: u32 = 20;
/// Frames an event stream delivers before its average gap is trusted.
const LEARN: u64 = 20;

struct Watch {
    cadence: Option<Duration>,
    /// Frames seen (counted per frame).
    count: u64,
    /// `count` at the last check.
    counted: u64,
    /// When, and at which count, frames were first seen flowing.
    first_flow: Option<(Instant, u64)>,
    /// When frames were last seen flowing (or the watch restarted).
    last_flow: Instant,
    /// Times found silent since it last flowed.
    strikes: u32,
}

/// A connection's per-stream silence watch.
pub(crate) struct Silence {
    floor: Duration,
    streams: HashMap<String, Watch>,
    /// Frames of a connection's only stream (counted without a look-up).
    the_one: u64,
}

impl Silence {
    /// Silence is never reported before `floor`.
    pub fn new(floor: Duration) -> Self {
        Silence {
            floor,
            streams: HashMap::new(),
            the_one: 0,
        }
    }

    /// A frame of `stream` arrived.
    pub fn saw(&mut self, stream: &str) {
        if let Some(watch) = self.streams.get_mut(stream) {
            watch.count += 1;
        }
    }

    /// A frame of the connection's only stream arrived.
    pub fn saw_the_one(&mut self) {
        self.the_one += 1;
    }

    /// Watch exactly `streams` (new ones from `now`).
    pub fn watch(&mut self, streams: &BTreeSet<String>, now: Instant) {
        if self.streams.len() == streams.len()
            && streams.iter().all(|s| self.streams.contains_key(s))
        {
            return;
        }
        self.streams.retain(|name, _| streams.contains(name));
        for name in streams {
            self.streams.entry(name.clone()).or_insert_with(|| Watch {
                cadence: name.parse::<StreamName>().ok().and_then(|n| n.cadence()),
                count: 0,
                counted: 0,
                first_flow: None,
                last_flow: now,
                strikes: 0,
            });
        }
    }

    /// A fresh connection: every stream's clock starts again (what was
    /// learnt of each stream's pace is kept).
    pub fn restart(&mut self, now: Instant) {
        for watch in self.streams.values_mut() {
            watch.last_flow = now;
        }
    }

    /// The streams silent past their limit now, with how long; each is
    /// reported once per limit.
    pub fn check(&mut self, now: Instant) -> Vec<(String, Duration)> {
        let the_one = std::mem::take(&mut self.the_one);
        if self.streams.len() == 1 {
            if let Some(watch) = self.streams.values_mut().next() {
                watch.count += the_one;
            }
        }
        let mut silent = Vec::new();
        for (name, watch) in &mut self.streams {
            if watch.count != watch.counted {
                watch.counted = watch.count;
                watch.first_flow.get_or_insert((now, watch.count));
                watch.last_flow = now;
                watch.strikes = 0;
                continue;
            }
            let Some(limit) = watch.limit(self.floor) else {
                continue;
            };
            let quiet = now.saturating_duration_since(watch.last_flow);
            if quiet >= limit {
                silent.push((name.clone(), quiet));
                watch.strikes += 1;
                watch.last_flow = now;
            }
        }
        silent
    }
}

impl Watch {
    fn limit(&self, floor: Duration) -> Option<Duration> {
        let base = match self.cadence {
            Some(cadence) => cadence * PERIODS,
            None => {
                let (since, at) = self.first_flow?;
                let frames = self.counted - at;
                if frames < LEARN {
                    return None;
                }
                let gap = self.last_flow.saturating_duration_since(since) / frames as u32;
                gap * GAPS
            }
        };
        let doubled = base.max(floor) * 2u32.saturating_pow(self.strikes.min(16));
        Some(doubled.min(MAX_LIMIT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_periodic_stream_is_silent_after_ten_intervals_then_doubles() {
        let start = Instant::now();
        let mut silence = Silence::new(Duration::from_millis(100));
        silence.watch(&names(&["btcusdt@depth5@100ms", "btcusdt@trade"]), start);
        silence.saw("btcusdt@depth5@100ms");
        assert!(silence.check(start).is_empty());
        assert!(silence.check(start + Duration::from_millis(900)).is_empty());
        let found = silence.check(start + Duration::from_millis(1000));
        assert_eq!(
            found,
            [("btcusdt@depth5@100ms".into(), Duration::from_secs(1))]
        );
        // Still silent: reported again only after twice as long.
        let later = start + Duration::from_millis(1000);
        assert!(silence
            .check(later + Duration::from_millis(1900))
            .is_empty());
        assert_eq!(silence.check(later + Duration::from_millis(2000)).len(), 1);
        // A trade stream that never traded is never flagged.
        assert!(silence
            .check(start + MAX_LIMIT * 2)
            .iter()
            .all(|(n, _)| n != "btcusdt@trade"));
    }

    #[test]
    fn an_event_stream_is_judged_by_its_own_pace() {
        let start = Instant::now();
        let mut silence = Silence::new(Duration::from_millis(10));
        silence.watch(&names(&["btcusdt@trade"]), start);
        // 40 frames over 4 checks 100 ms apart: an average gap of 10 ms… as
        // learnt from the checks, 300 ms over 30 frames.
        for i in 0..4 {
            for _ in 0..10 {
                silence.saw("btcusdt@trade");
            }
            assert!(silence
                .check(start + Duration::from_millis(100 * i))
                .is_empty());
        }
        let last = start + Duration::from_millis(300);
        assert!(silence.check(last + Duration::from_millis(190)).is_empty());
        assert_eq!(silence.check(last + Duration::from_millis(200)).len(), 1);
    }
}
