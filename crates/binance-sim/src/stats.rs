//! Market statistics of one symbol, built from its fills: klines, the 24 h
//! (mini) ticker, rolling-window tickers and the average price, as Binance
//! computes them.
//!
//! Memory stays bounded however long the market runs: one open candle per
//! interval is kept current (1s and 1m per trade, longer ones a minute at a
//! time), and the tickers read buckets of whole minutes, dropped once older
//! than the widest window.
//! Every answer depends only on the fills recorded and the `now_ms` asked
//! about; nothing here reads the clock.

pub(crate) mod align;
mod klines;
mod minutes;
mod tally;

use binance_types::market::{AvgPrice, Kline, KlineEvent, MiniTicker, RollingTicker, Ticker};
use binance_types::stream::{KlineInterval, KlineTimezone, RollingWindow};
use binance_types::{Decimal, Millis, Time};

pub use align::kline_bounds;

use crate::engine::Fill;
use klines::Klines;
use minutes::{Minutes, MINUTE_MS};
use tally::Tally;

/// The 24 h ticker's window.
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;
/// `avgPrice` averages the trades of the last five minutes.
const AVG_PRICE_MS: u64 = 5 * MINUTE_MS;

/// The most recent trade.
#[derive(Debug, Clone, Copy)]
struct LastTrade {
    price: Decimal,
    qty: Decimal,
    time_ms: u64,
}

/// A ticker window's trades and the price before it.
struct Window {
    open_ms: u64,
    tally: Tally,
    prev_close: Decimal,
}

/// Running statistics of one symbol, fed every fill in order.
#[derive(Debug)]
pub struct SymbolStats {
    symbol: String,
    start_ms: u64,
    klines: Klines,
    minutes: Minutes,
    last: Option<LastTrade>,
    /// Most decimals any price had: averages are shown with this many.
    price_scale: u32,
    changed: bool,
}

impl SymbolStats {
    /// Statistics of `symbol` (uppercase, as in payloads) for a market that
    /// opened at `start_ms`.
    pub fn new(symbol: &str, start_ms: u64) -> Self {
        SymbolStats {
            symbol: symbol.to_owned(),
            start_ms,
            klines: Klines::default(),
            minutes: Minutes::default(),
            last: None,
            price_scale: 0,
            changed: false,
        }
    }

    /// The symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// When the market opened.
    pub fn start_ms(&self) -> u64 {
        self.start_ms
    }

    /// Count a fill; fills must come in trade order.
    pub fn record(&mut self, fill: &Fill) {
        let trade = Tally::of(fill);
        self.klines.record(fill.time_ms, &trade);
        self.minutes.record(fill.time_ms, &trade);
        self.last = Some(LastTrade {
            price: fill.price,
            qty: fill.qty,
            time_ms: fill.time_ms,
        });
        self.price_scale = self.price_scale.max(fill.price.scale());
        self.changed = true;
    }

    /// The current candle for `interval` and `timezone` at `now_ms` (an
    /// empty candle, with o=h=l=c = last trade price, v=0, n=0, f=L=-1, when
    /// no trade in it yet; `None` only if there was never any trade).
    pub fn kline(
        &self,
        interval: KlineInterval,
        timezone: KlineTimezone,
        now_ms: u64,
    ) -> Option<Kline> {
        let candle = self.klines.current(interval, timezone, now_ms)?;
        Some(candle.to_kline(&self.symbol, interval, false))
    }

    /// Candles that closed since the last call for this (interval, timezone)
    /// — each returned once with `is_closed: true`, in order, with no gap —
    /// followed by the current open candle (`is_closed: false`). This is what
    /// the stream emits on each push. The first call for a stream returns
    /// only the open candle, as Binance does for a new subscriber.
    pub fn kline_events(
        &mut self,
        interval: KlineInterval,
        timezone: KlineTimezone,
        now_ms: u64,
    ) -> Vec<KlineEvent> {
        let closed = self.klines.take_closed(interval, timezone, now_ms);
        let closed = closed
            .iter()
            .map(|c| c.to_kline(&self.symbol, interval, true));
        let open = self.kline(interval, timezone, now_ms);
        closed
            .chain(open)
            .map(|kline| KlineEvent::<Millis> {
                event_time: Time::new(now_ms),
                symbol: self.symbol.clone(),
                kline,
            })
            .collect()
    }

    /// The `24hrMiniTicker` at `now_ms`; `None` before the first trade.
    pub fn mini_ticker(&self, now_ms: u64) -> Option<MiniTicker> {
        let w = self.window(DAY_MS, now_ms)?;
        Some(MiniTicker::<Millis> {
            event_time: Time::new(now_ms),
            symbol: self.symbol.clone(),
            close: w.tally.close,
            open: w.tally.open,
            high: w.tally.high,
            low: w.tally.low,
            volume: w.tally.volume,
            quote_volume: w.tally.quote_volume,
        })
    }

    /// The `24hrTicker` at `now_ms`; best bid/ask (price, qty) come from the
    /// caller's book. `None` before the first trade.
    pub fn ticker(
        &self,
        now_ms: u64,
        best_bid: (Decimal, Decimal),
        best_ask: (Decimal, Decimal),
    ) -> Option<Ticker> {
        let w = self.window(DAY_MS, now_ms)?;
        let last = self.last?;
        // The 24-hour ticker is the day's rolling ticker with the previous
        // close, the last quantity and the book's top.
        let day = self.rolling_of(&w, RollingWindow::D1, now_ms);
        Some(Ticker::<Millis> {
            event_time: day.event_time,
            symbol: day.symbol,
            price_change: day.price_change,
            price_change_percent: day.price_change_percent,
            weighted_avg_price: day.weighted_avg_price,
            prev_close: w.prev_close,
            last_price: day.last_price,
            last_quantity: last.qty,
            best_bid: best_bid.0,
            best_bid_qty: best_bid.1,
            best_ask: best_ask.0,
            best_ask_qty: best_ask.1,
            open: day.open,
            high: day.high,
            low: day.low,
            volume: day.volume,
            quote_volume: day.quote_volume,
            open_time: day.open_time,
            close_time: day.close_time,
            first_trade_id: day.first_trade_id,
            last_trade_id: day.last_trade_id,
            trade_count: day.trade_count,
        })
    }

    /// The rolling-window ticker (`1hTicker`, `4hTicker`, `1dTicker`) at
    /// `now_ms`; `None` before the first trade.
    pub fn rolling(&self, window: RollingWindow, now_ms: u64) -> Option<RollingTicker> {
        let w = self.window(window.millis(), now_ms)?;
        Some(self.rolling_of(&w, window, now_ms))
    }

    /// The rolling ticker of the statistics `w` of `window`.
    fn rolling_of(&self, w: &Window, window: RollingWindow, now_ms: u64) -> RollingTicker {
        let (price_change, price_change_percent) = price_change(&w.tally);
        let (first_trade_id, last_trade_id) = w.tally.wire_ids();
        RollingTicker::<Millis> {
            window,
            event_time: Time::new(now_ms),
            symbol: self.symbol.clone(),
            price_change,
            price_change_percent,
            open: w.tally.open,
            high: w.tally.high,
            low: w.tally.low,
            last_price: w.tally.close,
            weighted_avg_price: w.tally.weighted_avg_price(self.price_scale),
            volume: w.tally.volume,
            quote_volume: w.tally.quote_volume,
            open_time: Time::new(w.open_ms),
            close_time: Time::new(now_ms),
            first_trade_id,
            last_trade_id,
            trade_count: w.tally.count,
        }
    }

    /// The `avgPrice` event at `now_ms`: interval `5m`, `w` the
    /// volume-weighted price of the trades in the last five minutes (whole
    /// minutes, as for tickers), `T` the last trade time. With no trade in
    /// those minutes the average stays what it was at the last trade.
    /// `None` before the first trade.
    pub fn avg_price(&self, now_ms: u64) -> Option<AvgPrice> {
        let last = self.last?;
        let recent = |at_ms: u64| {
            self.minutes
                .window(window_open(AVG_PRICE_MS, at_ms), at_ms)
                .0
        };
        let tally = recent(now_ms).or_else(|| recent(last.time_ms))?;
        Some(AvgPrice::<Millis> {
            event_time: Time::new(now_ms),
            symbol: self.symbol.clone(),
            interval: "5m".to_owned(),
            price: tally.weighted_avg_price(self.price_scale),
            last_trade_time: Time::new(last.time_ms),
        })
    }

    /// True when any trade was recorded since the last call (all-market
    /// arrays only carry symbols that changed).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The trades of the window of `window_ms` ending at `now_ms`: it opens at
    /// the start of a minute, so it can be up to 59 999 ms wider.
    fn window(&self, window_ms: u64, now_ms: u64) -> Option<Window> {
        let last = self.last?;
        let open_ms = window_open(window_ms, now_ms);
        let (tally, before) = self.minutes.window(open_ms, now_ms);
        // An idle window shows the last price before it everywhere.
        let tally = tally.unwrap_or_else(|| Tally::empty(before.unwrap_or(last.price)));
        let prev_close = before.unwrap_or(tally.open);
        Some(Window {
            open_ms,
            tally,
            prev_close,
        })
    }
}

/// Start of the minute `window_ms` before `now_ms`.
fn window_open(window_ms: u64, now_ms: u64) -> u64 {
    now_ms.saturating_sub(window_ms) / MINUTE_MS * MINUTE_MS
}

/// Price change (`p`) and its percentage of the open (`P`, as spot writes it).
fn price_change(tally: &Tally) -> (Decimal, Decimal) {
    let change = tally.close - tally.open;
    let percent = change
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.checked_div(tally.open))
        .unwrap_or(Decimal::ZERO);
    (change, crate::notation::Notation::Spot.percent(percent))
}

#[cfg(test)]
mod tests;
