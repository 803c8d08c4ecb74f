//! One bucket per traded minute for the last 24 h: the tickers' rolling
//! windows start on a minute, so minutes are all they need.

use std::collections::VecDeque;

use binance_types::Decimal;

use super::tally::Tally;

/// One minute in milliseconds.
pub const MINUTE_MS: u64 = 60_000;
/// The widest window (24 h = 1440 minutes, plus the minute `now` is in) and
/// the minute before it, whose close is the ticker's `x`.
const KEPT_MINUTES: u64 = 1_442;

/// Minute buckets of the last [`KEPT_MINUTES`] minutes that had trades, oldest first.
#[derive(Debug, Default)]
pub struct Minutes {
    buckets: VecDeque<(u64, Tally)>,
    /// Close of the newest bucket dropped: the last price before every window.
    dropped_close: Option<Decimal>,
}

impl Minutes {
    /// Count a trade and drop the buckets it pushes out of the widest window.
    pub fn record(&mut self, time_ms: u64, trade: &Tally) {
        let minute = time_ms / MINUTE_MS * MINUTE_MS;
        match self.buckets.back_mut() {
            // A trade stamped before the newest minute (a clock step back)
            // joins it rather than rewriting history.
            Some((newest, tally)) if *newest >= minute => tally.merge(trade),
            _ => self.buckets.push_back((minute, trade.clone())),
        }
        let oldest_kept = minute.saturating_sub((KEPT_MINUTES - 1) * MINUTE_MS);
        // The newest bucket is never older than `oldest_kept`, so this stops.
        while self.buckets.front().is_some_and(|(m, _)| *m < oldest_kept) {
            self.dropped_close = self.buckets.pop_front().map(|(_, t)| t.close);
        }
    }

    /// The trades of the minutes from `from_ms` (a minute start) to the one
    /// containing `now_ms`, if any, and the last price before `from_ms`.
    pub fn window(&self, from_ms: u64, now_ms: u64) -> (Option<Tally>, Option<Decimal>) {
        let start = self.buckets.partition_point(|(m, _)| *m < from_ms);
        let end = self
            .buckets
            .partition_point(|(m, _)| *m <= now_ms)
            .max(start);
        let before = match start {
            0 => self.dropped_close,
            i => Some(self.buckets[i - 1].1.close),
        };
        let mut tallies = self.buckets.range(start..end).map(|(_, t)| t);
        let tally = tallies.next().cloned().map(|mut sum| {
            tallies.for_each(|t| sum.merge(t));
            sum
        });
        (tally, before)
    }

    /// How many buckets are held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}
