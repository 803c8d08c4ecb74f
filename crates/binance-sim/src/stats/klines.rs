//! Candles of every interval, kept current on each trade, and the closed ones
//! each kline stream still has to push.

use std::collections::{BTreeMap, VecDeque};

use binance_types::market::Kline;
use binance_types::stream::{KlineInterval, KlineTimezone};
use binance_types::{Decimal, Millis, Time};

use super::align::{effective_timezone, fixed_len_ms, kline_bounds};
use super::tally::Tally;

/// The most closed candles with trades one stream is owed, and the most empty
/// ones made up for it: a stream pushes every second or two, so more only
/// piles up after a long pause, and the oldest go first.
pub const MAX_BACKLOG: usize = 1_000;

/// One candle: its period and its trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    /// Open time `t`.
    pub open_ms: u64,
    /// Open time of the next candle (close time `T` is one less).
    pub next_open_ms: u64,
    /// The trades in it (empty: prices are the last one before).
    pub tally: Tally,
}

impl Candle {
    /// The candle in Binance's form.
    pub fn to_kline(&self, symbol: &str, interval: KlineInterval, is_closed: bool) -> Kline {
        let t = &self.tally;
        let (first_trade_id, last_trade_id) = t.wire_ids();
        Kline::<Millis> {
            open_time: Time::new(self.open_ms),
            close_time: Time::new(self.next_open_ms - 1),
            symbol: symbol.to_owned(),
            interval,
            first_trade_id,
            last_trade_id,
            open: t.open,
            close: t.close,
            high: t.high,
            low: t.low,
            volume: t.volume,
            trade_count: t.count,
            is_closed,
            quote_volume: t.quote_volume,
            taker_buy_base_volume: t.taker_buy_volume,
            taker_buy_quote_volume: t.taker_buy_quote_volume,
            ignore: "0".to_owned(),
        }
    }
}

/// The latest candle of one interval and alignment.
#[derive(Debug)]
struct Series {
    interval: KlineInterval,
    timezone: KlineTimezone,
    latest: Option<Candle>,
}

impl Series {
    /// Count trades (one, or a whole minute) that happened at `time_ms`;
    /// returns the candle they closed, if they started a new one.
    fn record(&mut self, time_ms: u64, tally: &Tally) -> Option<Candle> {
        match &mut self.latest {
            // Also takes a trade stamped before the candle (a clock step back).
            Some(candle) if time_ms < candle.next_open_ms => {
                candle.tally.merge(tally);
                None
            }
            _ => {
                let (open_ms, next_open_ms) = kline_bounds(self.interval, self.timezone, time_ms);
                self.latest.replace(Candle {
                    open_ms,
                    next_open_ms,
                    tally: tally.clone(),
                })
            }
        }
    }
}

/// What one kline stream has pushed as closed so far.
#[derive(Debug)]
struct Cursor {
    /// Index of the series it reads.
    series: usize,
    /// Open time of the next candle to push as closed.
    next_open_ms: u64,
    /// Close of the last candle pushed (the price of empty candles after it).
    last_close: Option<Decimal>,
    /// Candles with trades that closed since the last push, oldest first.
    pending: VecDeque<Candle>,
}

impl Cursor {
    fn push(&mut self, candle: Candle) {
        if candle.open_ms < self.next_open_ms {
            return; // already pushed, closed by the clock before this trade
        }
        self.pending.push_back(candle);
        if self.pending.len() > MAX_BACKLOG {
            if let Some(dropped) = self.pending.pop_front() {
                self.next_open_ms = dropped.next_open_ms;
                self.last_close = Some(dropped.tally.close);
            }
        }
    }
}

/// Index of the 1s series in [`Klines::series`].
const SECONDS: usize = 0;
/// Index of the 1m series, which feeds every longer one.
const MINUTES: usize = 1;

/// Candles of every interval and alignment, and one cursor per kline stream asked for.
#[derive(Debug)]
pub struct Klines {
    /// One per distinct alignment (UTC+8 candles of intervals dividing 8 h
    /// are UTC's), in [`KlineInterval::ALL`] order. Only 1s and 1m count
    /// each trade; longer ones take each minute as it closes, so a trade
    /// costs two updates rather than twenty-two. Their candles therefore
    /// lack the open minute, which [`Klines::latest`] adds back.
    series: Vec<Series>,
    cursors: BTreeMap<(KlineInterval, KlineTimezone), Cursor>,
}

impl Default for Klines {
    fn default() -> Self {
        let mut series: Vec<Series> = Vec::new();
        for &interval in KlineInterval::ALL {
            for timezone in [KlineTimezone::Utc, KlineTimezone::Utc8] {
                if effective_timezone(interval, timezone) == timezone {
                    series.push(Series {
                        interval,
                        timezone,
                        latest: None,
                    });
                }
            }
        }
        debug_assert_eq!(series[SECONDS].interval, KlineInterval::S1);
        debug_assert_eq!(series[MINUTES].interval, KlineInterval::M1);
        Klines {
            series,
            cursors: BTreeMap::new(),
        }
    }
}

impl Klines {
    /// Count a trade in every interval.
    pub fn record(&mut self, time_ms: u64, trade: &Tally) {
        if let Some(second) = self.series[SECONDS].record(time_ms, trade) {
            self.closed(SECONDS, second);
        }
        let Some(minute) = self.series[MINUTES].record(time_ms, trade) else {
            return;
        };
        for index in MINUTES + 1..self.series.len() {
            if let Some(candle) = self.series[index].record(minute.open_ms, &minute.tally) {
                self.closed(index, candle);
            }
        }
        self.closed(MINUTES, minute);
    }

    /// Hand a candle a trade closed to the streams reading its series.
    fn closed(&mut self, series: usize, candle: Candle) {
        for cursor in self.cursors.values_mut().filter(|c| c.series == series) {
            cursor.push(candle.clone());
        }
    }

    /// The latest candle of a series, with the open minute counted, and the
    /// one before it if that minute started a new candle (closed, though no
    /// trade has said so to the series yet).
    fn latest(&self, index: usize) -> (Option<Candle>, Option<Candle>) {
        let series = &self.series[index];
        let minute = self.series[MINUTES].latest.as_ref();
        match (series.latest.as_ref(), minute) {
            (latest, Some(minute)) if index > MINUTES => match latest {
                Some(latest) if minute.open_ms < latest.next_open_ms => {
                    let mut latest = latest.clone();
                    latest.tally.merge(&minute.tally);
                    (None, Some(latest))
                }
                _ => {
                    let (open_ms, next_open_ms) =
                        kline_bounds(series.interval, series.timezone, minute.open_ms);
                    let current = Candle {
                        open_ms,
                        next_open_ms,
                        tally: minute.tally.clone(),
                    };
                    (latest.cloned(), Some(current))
                }
            },
            (latest, _) => (None, latest.cloned()),
        }
    }

    /// The candle open at `now_ms`; empty at the last price when it has no
    /// trade yet, `None` before the first trade.
    pub fn current(
        &self,
        interval: KlineInterval,
        timezone: KlineTimezone,
        now_ms: u64,
    ) -> Option<Candle> {
        let latest = self.latest(self.index(interval, timezone)).1?;
        let (open_ms, next_open_ms) = kline_bounds(interval, timezone, now_ms);
        if latest.open_ms == open_ms {
            return Some(latest);
        }
        Some(Candle {
            open_ms,
            next_open_ms,
            tally: Tally::empty(latest.tally.close),
        })
    }

    /// The candles that closed since the last call for this stream, oldest
    /// first and contiguous (empty ones at the previous close); on the first
    /// call none, as a new subscriber starts from the open candle.
    pub fn take_closed(
        &mut self,
        interval: KlineInterval,
        timezone: KlineTimezone,
        now_ms: u64,
    ) -> Vec<Candle> {
        let index = self.index(interval, timezone);
        let (before_latest, latest) = self.latest(index);
        let (now_open_ms, _) = kline_bounds(interval, timezone, now_ms);
        let cursor = self
            .cursors
            .entry((interval, timezone))
            .or_insert_with(|| Cursor {
                series: index,
                next_open_ms: now_open_ms,
                last_close: latest.as_ref().map(|c| c.tally.close),
                pending: VecDeque::new(),
            });

        // Closed candles with trades: those a later trade closed, then the
        // latest ones if not pushed yet and the clock has closed them.
        let split = cursor.pending.partition_point(|c| c.open_ms < now_open_ms);
        let mut closed: VecDeque<Candle> = cursor.pending.drain(..split).collect();
        closed.extend(
            before_latest
                .into_iter()
                .chain(latest)
                .filter(|c| c.open_ms >= cursor.next_open_ms && c.next_open_ms <= now_open_ms),
        );

        // After a long pause only the latest MAX_BACKLOG empty candles are
        // made up; candles with trades are all kept.
        let empties_from = fixed_len_ms(interval).map_or(0, |len| {
            now_open_ms.saturating_sub(MAX_BACKLOG as u64 * len)
        });
        let mut open_ms = cursor.next_open_ms;
        let mut last_close = cursor.last_close;
        let mut out = Vec::new();
        while open_ms < now_open_ms {
            if let Some(c) = closed.front().filter(|c| c.open_ms == open_ms) {
                last_close = Some(c.tally.close);
                open_ms = c.next_open_ms;
                out.extend(closed.pop_front());
            } else if open_ms < empties_from {
                // Both targets are candle opens of this (fixed) interval.
                open_ms = closed
                    .front()
                    .map_or(empties_from, |c| c.open_ms.min(empties_from));
            } else {
                let (_, next_open_ms) = kline_bounds(interval, timezone, open_ms);
                // Before the first trade there is no price, so no candle.
                out.extend(last_close.map(|price| Candle {
                    open_ms,
                    next_open_ms,
                    tally: Tally::empty(price),
                }));
                open_ms = next_open_ms;
            }
        }
        cursor.next_open_ms = now_open_ms.max(cursor.next_open_ms);
        cursor.last_close = last_close;
        out
    }

    fn index(&self, interval: KlineInterval, timezone: KlineTimezone) -> usize {
        let timezone = effective_timezone(interval, timezone);
        self.series
            .iter()
            .position(|s| s.interval == interval && s.timezone == timezone)
            .expect("a series exists for every interval and alignment")
    }
}
