//! The market: one [`Engine`] per symbol, driven on a clock, turning its
//! trades and book changes into Binance's stream events.
//!
//! Every stream of a symbol comes from that symbol's engine, so they agree:
//! a depth diff's `U`/`u` range tiles the engine's update ids with no gap, a
//! bookTicker carries the update id of the book it shows, and each trade is a
//! fill the engine made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use binance_types::market::{AggTrade, BookTicker, DepthUpdate, PartialDepth, Trade};
use binance_types::market::{MiniTicker, ReferencePrice, RollingTicker};
use binance_types::stream::{
    DepthLevels, KlineInterval, KlineTimezone, RollingWindow, StreamName, UpdateSpeed,
};
use binance_types::{Level, Millis, Symbol, Time};
use rust_decimal::Decimal;

use crate::engine::recent::Recent;
use crate::engine::{
    BookSnapshot, CancelResult, Engine, Fill, FlowConfig, LevelChange, NewOrder, OrderError, Side,
    SubmitResult, SymbolSpec,
};
use crate::hub::Hub;
use crate::notation::{Notation, Written};
use crate::stats::SymbolStats;

pub use crate::clock::now_ms;

/// A price and the quantity there.
type Quote = (Decimal, Decimal);

/// Changes gathered for one depth-diff window (spot and futures alike).
#[derive(Default)]
pub(crate) struct DepthWindow {
    first: Option<u64>,
    last: u64,
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl DepthWindow {
    pub(crate) fn add(&mut self, change: &LevelChange) {
        self.first.get_or_insert(change.update_id);
        self.last = change.update_id;
        let side = match change.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        side.insert(change.price, change.qty);
    }

    /// The window's first and last update id and its levels (bids best
    /// first, asks best first), if anything changed; empties the window.
    pub(crate) fn take_levels(&mut self) -> Option<(u64, u64, Vec<Level>, Vec<Level>)> {
        let first = self.first.take()?;
        let levels = |m: &mut BTreeMap<Decimal, Decimal>| -> Vec<Level> {
            std::mem::take(m)
                .into_iter()
                .map(|(p, q)| Level::new(p, q))
                .collect()
        };
        let mut bids = levels(&mut self.bids);
        bids.reverse();
        Some((first, self.last, bids, levels(&mut self.asks)))
    }

    /// The diff event for the window, if anything changed; empties the window.
    fn take(&mut self, symbol: &str, now: u64) -> Option<DepthUpdate<Millis>> {
        let (first, last, bids, asks) = self.take_levels()?;
        Some(DepthUpdate {
            event_time: Time::new(now),
            symbol: symbol.to_owned(),
            first_update_id: first,
            final_update_id: last,
            bids,
            asks,
        })
    }
}

/// One symbol's engine and the stream state derived from it.
pub struct SymbolMarket {
    engine: Engine,
    /// The symbol as stream names carry it (`None`: one they cannot,
    /// whose streams nobody can subscribe to).
    name: Option<Symbol>,
    /// Each aggregate trade's first and last trade id; entry `n` has
    /// aggregate id `n + 1`. Kept as long as its trades are.
    aggs: Recent<(u64, u64)>,
    windows: [DepthWindow; 2],
    /// Book updates still to leave out of the depth streams (a fault).
    skip: u64,
    /// Trades still to leave out of the trade and aggTrade streams.
    hide: u64,
    /// Klines, tickers and averages, from the same fills.
    stats: SymbolStats,
    top: (Option<Quote>, Option<Quote>),
}

impl SymbolMarket {
    fn new(spec: SymbolSpec, flow: FlowConfig, seed: u64, history: Option<u64>) -> Self {
        let name = Symbol::new(&spec.symbol).ok();
        let mut engine = Engine::new(spec, flow, seed);
        engine.set_history_window(history);
        let top = (engine.best_bid(), engine.best_ask());
        let stats = SymbolStats::new(&spec_symbol(&engine), now_ms());
        SymbolMarket {
            stats,
            engine,
            name,
            aggs: Recent::default(),
            windows: Default::default(),
            skip: 0,
            hide: 0,
            top,
        }
    }

    /// The aggregate trades of the history window, oldest first: (first
    /// trade id, last trade id); the first has id [`SymbolMarket::first_agg_id`].
    pub fn agg_trades(&self) -> &[(u64, u64)] {
        self.aggs.as_slice()
    }

    /// The aggregate id of the first of [`SymbolMarket::agg_trades`] (the
    /// next one's when none is kept).
    pub fn first_agg_id(&self) -> u64 {
        self.aggs.start() + 1
    }

    /// The engine (for truth and snapshots).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Klines, tickers and averages of this symbol's trades.
    pub fn stats(&self) -> &SymbolStats {
        &self.stats
    }

    /// Leave the next `count` book updates out of the depth streams.
    pub fn skip_updates(&mut self, count: u64) {
        self.skip = self.skip.saturating_add(count);
    }

    /// Leave the next `count` trades out of the trade and aggTrade streams
    /// (an aggregate trade goes with its first trade); they stay in the
    /// trade log that REST serves.
    pub fn hide_trades(&mut self, count: u64) {
        self.hide = self.hide.saturating_add(count);
    }

    fn symbol(&self) -> &str {
        &self.engine.spec().symbol
    }

    /// Run one engine step and publish what it produced; its fills are
    /// reported to `on_fills` (resting user orders may be among their makers).
    fn step(&mut self, now: u64, hub: &Hub, on_fills: &mut impl FnMut(&str, &[Fill], u64)) {
        let out = self.engine.step(now);
        if !out.fills.is_empty() {
            on_fills(&self.engine.spec().symbol, &out.fills, now);
        }
        self.publish(&out.fills, &out.changes, now, hub);
    }

    /// A user order: matched, and its trades and book changes published.
    pub(crate) fn submit_user(
        &mut self,
        order: NewOrder,
        now: u64,
        hub: &Hub,
    ) -> Result<SubmitResult, OrderError> {
        let result = self.engine.submit(order, now)?;
        self.publish(&result.fills, &result.changes, now, hub);
        Ok(result)
    }

    /// Cancel a user order, publishing the book change.
    pub(crate) fn cancel_user(
        &mut self,
        order_id: u64,
        now: u64,
        hub: &Hub,
    ) -> Option<CancelResult> {
        let result = self.engine.cancel(order_id, now)?;
        self.publish(&[], &[result.change], now, hub);
        Some(result)
    }

    /// Publish fills and book changes: trade streams, depth windows, bookTicker.
    fn publish(&mut self, fills: &[Fill], changes: &[LevelChange], now: u64, hub: &Hub) {
        self.forget_old_aggs();
        self.publish_fills(fills, now, hub);
        if !changes.is_empty() && self.skip > 0 {
            // Close the open windows first, so the gap shows in `U`/`u`
            // rather than hiding inside a window's range.
            self.publish_diff(UpdateSpeed::Ms100, now, hub);
            self.publish_diff(UpdateSpeed::Ms1000, now, hub);
            self.skip -= 1;
        } else {
            for change in changes {
                for w in &mut self.windows {
                    w.add(change);
                }
            }
        }
        if !changes.is_empty() {
            self.publish_book_ticker(hub);
        }
    }

    fn publish_fills(&mut self, fills: &[Fill], now: u64, hub: &Hub) {
        if fills.is_empty() {
            return;
        }
        for fill in fills {
            self.stats.record(fill);
        }
        let Some(symbol) = self.name.clone() else {
            return;
        };
        let trade_stream = StreamName::Trade(symbol.clone());
        let hidden: Vec<bool> = fills
            .iter()
            .map(|_| {
                let hide = self.hide > 0;
                self.hide = self.hide.saturating_sub(1);
                hide
            })
            .collect();
        {
            for (fill, _) in fills.iter().zip(&hidden).filter(|(_, hidden)| !**hidden) {
                let trade = Trade::<Millis> {
                    event_time: Time::new(now),
                    symbol: self.symbol().to_owned(),
                    trade_id: fill.trade_id,
                    price: fill.price,
                    quantity: fill.qty,
                    trade_time: Time::new(fill.time_ms),
                    buyer_is_maker: fill.buyer_is_maker,
                    ignore: true,
                };
                hub.emit(&trade_stream, trade);
            }
        }
        // One aggTrade per run of fills of the same taker order at one price.
        let agg_stream = StreamName::AggTrade(symbol);
        let mut at = 0;
        for run in fills.chunk_by(|a, b| a.taker_order_id == b.taker_order_id && a.price == b.price)
        {
            let hide = hidden[at];
            at += run.len();
            self.aggs
                .push((run[0].trade_id, run[run.len() - 1].trade_id));
            let (first, last) = (run[0], run[run.len() - 1]);
            let agg = AggTrade::<Millis> {
                event_time: Time::new(now),
                symbol: self.symbol().to_owned(),
                agg_trade_id: self.aggs.end(),
                price: first.price,
                quantity: run.iter().map(|f| f.qty).sum(),
                first_trade_id: first.trade_id,
                last_trade_id: last.trade_id,
                trade_time: Time::new(first.time_ms),
                buyer_is_maker: first.buyer_is_maker,
                ignore: true,
            };
            if !hide {
                hub.emit(&agg_stream, agg);
            }
        }
    }

    fn forget_old_aggs(&mut self) {
        forget_old_aggs(&mut self.aggs, &self.engine);
    }

    fn publish_book_ticker(&mut self, hub: &Hub) {
        let top = (self.engine.best_bid(), self.engine.best_ask());
        if top == self.top {
            return;
        }
        self.top = top;
        if let (Some((b, bq)), Some((a, aq)), Some(symbol)) = (top.0, top.1, self.name.clone()) {
            let ticker = BookTicker {
                update_id: self.engine.last_update_id(),
                symbol: self.symbol().to_owned(),
                best_bid: b,
                best_bid_qty: bq,
                best_ask: a,
                best_ask_qty: aq,
            };
            hub.emit(&StreamName::BookTicker(symbol), ticker);
        }
    }

    /// Close a depth window and publish its diff, if anything changed.
    fn publish_diff(&mut self, speed: UpdateSpeed, now: u64, hub: &Hub) {
        let spec_symbol = self.engine.spec().symbol.clone();
        let update = self.windows[speed as usize].take(&spec_symbol, now);
        if let (Some(update), Some(symbol)) = (update, self.name.clone()) {
            hub.emit(&StreamName::Depth { symbol, speed }, update);
        }
    }

    /// Close a depth window (`speed`) and publish the diff and partial depths.
    fn flush(&mut self, speed: UpdateSpeed, now: u64, hub: &Hub) {
        self.publish_diff(speed, now, hub);
        let Some(symbol) = &self.name else { return };
        for &levels in DepthLevels::ALL {
            let stream = StreamName::PartialDepth {
                symbol: symbol.clone(),
                levels,
                speed,
            };
            hub.emit(&stream, partial(&self.engine.depth(levels.count())));
        }
    }
}

fn spec_symbol(engine: &Engine) -> String {
    engine.spec().symbol.clone()
}

impl SymbolMarket {
    /// Publish the candles due: every second for `1s`, every two seconds
    /// for the other intervals (Binance's update speeds).
    fn publish_klines(&mut self, now: u64, every_two_seconds: bool, hub: &Hub) {
        let Some(symbol) = &self.name else { return };
        for &interval in KlineInterval::ALL {
            if interval != KlineInterval::S1 && !every_two_seconds {
                continue;
            }
            for timezone in [KlineTimezone::Utc, KlineTimezone::Utc8] {
                let stream = StreamName::Kline {
                    symbol: symbol.clone(),
                    interval,
                    timezone,
                };
                if hub.wanted_any_unit(&stream) {
                    for event in self.stats.kline_events(interval, timezone, now) {
                        hub.emit(&stream, event);
                    }
                }
            }
        }
    }

    /// Publish the once-a-second per-symbol statistics; returns this symbol's
    /// entries for the all-market arrays, if it traded since the last second.
    fn publish_tickers(
        &mut self,
        now: u64,
        arrays: bool,
        hub: &Hub,
    ) -> Option<(MiniTicker, Vec<RollingTicker>)> {
        if let Some(symbol) = self.name.clone() {
            self.publish_symbol_tickers(symbol, now, hub);
        }
        // Always consumed, so a later subscriber to an array starts from now.
        if !self.stats.take_changed() || !arrays {
            return None;
        }
        let mini = self.stats.mini_ticker(now)?;
        let rolling = RollingWindow::ALL
            .iter()
            .filter_map(|&w| self.stats.rolling(w, now))
            .collect();
        Some((mini, rolling))
    }

    /// The symbol's own tickers and averages, to whoever listens.
    fn publish_symbol_tickers(&mut self, symbol: Symbol, now: u64, hub: &Hub) {
        let wanted = |name: &StreamName| hub.wanted_any_unit(name);
        let mini = StreamName::MiniTicker(symbol.clone());
        if wanted(&mini) {
            if let Some(event) = self.stats.mini_ticker(now) {
                hub.emit(&mini, event);
            }
        }
        let ticker = StreamName::Ticker(symbol.clone());
        if let (true, Some(bid), Some(ask)) = (wanted(&ticker), self.top.0, self.top.1) {
            if let Some(event) = self.stats.ticker(now, bid, ask) {
                hub.emit(&ticker, event);
            }
        }
        for &window in RollingWindow::ALL {
            let name = StreamName::RollingTicker {
                symbol: symbol.clone(),
                window,
            };
            if let (true, Some(rolling)) = (wanted(&name), self.stats.rolling(window, now)) {
                hub.emit(&name, rolling);
            }
        }
        let reference = StreamName::ReferencePrice(symbol.clone());
        if wanted(&reference) {
            // The simulator's reference price is the mid of the book.
            let mid = self.top.0.zip(self.top.1).map(|((b, _), (a, _))| {
                ((b + a) / Decimal::TWO).round_dp(self.engine.spec().tick_size.scale())
            });
            let event = ReferencePrice::<Millis> {
                symbol: self.engine.spec().symbol.clone(),
                reference_price: mid,
                time: Time::new(now),
            };
            hub.emit(&reference, event);
        }
        let avg = StreamName::AvgPrice(symbol);
        if wanted(&avg) {
            if let Some(event) = self.stats.avg_price(now) {
                hub.emit(&avg, event);
            }
        }
    }
}

/// A book snapshot in the wire form, numbers written as spot writes them.
pub fn partial(book: &BookSnapshot) -> PartialDepth {
    let levels = |v: &[(Decimal, Decimal)]| v.iter().map(|&(p, q)| Level::new(p, q)).collect();
    PartialDepth {
        last_update_id: book.last_update_id,
        bids: levels(&book.bids),
        asks: levels(&book.asks),
    }
    .written(Notation::Spot)
}

/// How the market runs.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    /// Symbols traded.
    pub symbols: Vec<SymbolSpec>,
    /// Seed for the synthetic order flow (each symbol derives its own).
    pub seed: u64,
    /// Engine actions per second per symbol.
    pub actions_per_second: u32,
    /// Synthetic order flow shape.
    pub flow: FlowConfig,
    /// `exchangeInfo` entries by symbol, when loaded from a file (built-in
    /// symbols get one made from their spec).
    pub exchange_info: BTreeMap<String, serde_json::Value>,
}

impl Default for MarketConfig {
    fn default() -> Self {
        let keep = ["BTCUSDT", "ETHUSDT", "BNBBTC", "BNBUSDT"];
        MarketConfig {
            symbols: SymbolSpec::builtin()
                .into_iter()
                .filter(|s| keep.contains(&s.symbol.as_str()))
                .collect(),
            seed: 42,
            actions_per_second: 200,
            flow: FlowConfig::default(),
            exchange_info: BTreeMap::new(),
        }
    }
}

/// All symbols' markets.
pub struct Market {
    symbols: BTreeMap<String, Mutex<SymbolMarket>>,
    exchange_info: BTreeMap<String, serde_json::Value>,
    actions_per_second: u32,
}

impl Market {
    /// Build the engines, each keeping the history of its last
    /// [`crate::engine::DEFAULT_HISTORY_WINDOW`] update ids.
    pub fn new(config: &MarketConfig) -> Self {
        Market::with_history(config, Some(crate::engine::DEFAULT_HISTORY_WINDOW))
    }

    /// Build the engines, each keeping the history of its last `history`
    /// update ids (`None`: all; see [`Engine::set_history_window`]).
    pub fn with_history(config: &MarketConfig, history: Option<u64>) -> Self {
        let symbols = config
            .symbols
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                // Distinct seeds: symbols with the same filter shape would otherwise move alike.
                let seed = config.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
                (
                    spec.symbol.clone(),
                    Mutex::new(SymbolMarket::new(
                        spec.clone(),
                        config.flow.clone(),
                        seed,
                        history,
                    )),
                )
            })
            .collect();
        let exchange_info = config
            .symbols
            .iter()
            .map(|spec| {
                let entry = config.exchange_info.get(&spec.symbol).cloned();
                (
                    spec.symbol.clone(),
                    entry.unwrap_or_else(|| crate::exchange_info::entry(spec)),
                )
            })
            .collect();
        Market {
            symbols,
            exchange_info,
            actions_per_second: config.actions_per_second,
        }
    }

    /// A symbol's market (uppercase symbol).
    pub fn symbol(&self, symbol: &str) -> Option<&Mutex<SymbolMarket>> {
        self.symbols.get(symbol)
    }

    /// The `exchangeInfo` entries of the symbols traded.
    pub fn exchange_info(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.exchange_info
    }

    /// The symbols traded.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.symbols.keys().map(String::as_str)
    }

    /// Whether the market publishes this stream: every spot market stream
    /// but `blockTrade` (the engine makes no block trades), for the symbols
    /// it trades.
    pub fn supports(&self, name: &StreamName) -> bool {
        match name {
            StreamName::AllMiniTickers | StreamName::AllRollingTickers(_) => true,
            StreamName::BlockTrade(_) => false,
            other => other
                .symbol()
                .is_some_and(|s| self.symbols.contains_key(s.as_str())),
        }
    }

    /// Drive the market forever: engine steps spread evenly in time, depth
    /// windows closed every 100 ms and every 1000 ms. Every step's fills are
    /// reported to `on_fills` (symbol, fills, time).
    pub async fn run(
        self: Arc<Self>,
        hub: Arc<Hub>,
        mut on_fills: impl FnMut(&str, &[Fill], u64) + Send,
    ) {
        drive(self.actions_per_second, |tick, steps, now| {
            let second = tick % 100 == 0;
            let mut minis = Vec::new();
            let mut rolling: [Vec<RollingTicker>; 3] = Default::default();
            let arrays = second
                && (hub.wanted_any_unit(&StreamName::AllMiniTickers)
                    || RollingWindow::ALL
                        .iter()
                        .any(|&w| hub.wanted_any_unit(&StreamName::AllRollingTickers(w))));
            for market in self.symbols.values() {
                let mut m = market.lock().unwrap();
                for _ in 0..steps {
                    m.step(now, &hub, &mut on_fills);
                }
                if tick % 10 == 0 {
                    m.flush(UpdateSpeed::Ms100, now, &hub);
                }
                if second {
                    m.flush(UpdateSpeed::Ms1000, now, &hub);
                    m.publish_klines(now, tick % 200 == 0, &hub);
                    if let Some((mini, windows)) = m.publish_tickers(now, arrays, &hub) {
                        minis.push(mini);
                        for r in windows {
                            rolling[r.window as usize].push(r);
                        }
                    }
                }
            }
            // All-market arrays carry only the symbols that changed, and are not sent empty.
            if !minis.is_empty() {
                hub.emit(&StreamName::AllMiniTickers, minis);
            }
            for (window, list) in RollingWindow::ALL.iter().zip(rolling) {
                if !list.is_empty() {
                    hub.emit(&StreamName::AllRollingTickers(*window), list);
                }
            }
        })
        .await
    }
}

/// Drop the aggregate trades (first and last trade id each) whose trades
/// left `engine`'s history window (an aggregate's trades all come from one
/// update, so they leave together).
pub(crate) fn forget_old_aggs(aggs: &mut Recent<(u64, u64)>, engine: &Engine) {
    let first_kept = engine.first_kept_trade_id();
    let stale = aggs
        .as_slice()
        .partition_point(|&(first, _)| first < first_kept);
    aggs.forget(stale);
}

/// The market clock, spot's and the futures venues': every 10 ms, `each`
/// gets the tick's number (from 1), the engine steps due at
/// `actions_per_second` (spread evenly), and the time.
pub(crate) async fn drive(actions_per_second: u32, mut each: impl FnMut(u64, u64, u64)) {
    const TICK: Duration = Duration::from_millis(10);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut owed = 0f64;
    let per_tick = f64::from(actions_per_second) * TICK.as_secs_f64();
    let mut tick: u64 = 0;
    loop {
        ticker.tick().await;
        tick += 1;
        owed += per_tick;
        let steps = owed as u64;
        owed -= steps as f64;
        each(tick, steps, now_ms());
    }
}
