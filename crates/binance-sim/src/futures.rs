//! The USD-M and COIN-M futures markets: one [`Engine`] per contract, driven
//! on a clock like the spot market, turning its trades and book changes into
//! the futures stream events of `binance_types::futures::market`, written as
//! futures writes them ([`crate::futures_wire`]).
//!
//! Every stream of a contract comes from that contract's engine: a diff
//! depth's `U`/`u` tile the engine's update ids and its `pu` is the `u` of
//! the stream's previous event; bookTicker carries the id of the book it
//! shows; aggTrades, klines and tickers come from the engine's fills; the
//! mark price is the book's mid.
//!
//! Accounts' orders ([`Contract::submit_user`], [`Contract::cancel_user`])
//! go through the same engine and publish the same way; a fill of a resting
//! account order by the synthetic flow is handed to the [`UserFills`] set
//! with [`FuturesMarket::set_user_fills`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use binance_types::futures::market::{
    AggTrade, BookTicker, ContinuousKlineEvent, DepthUpdate, ForceOrder, IndexPriceKlineEvent,
    IndexPriceUpdate, Kline, KlineEvent, LiquidationOrder, MarkPriceKlineEvent, MarkPriceUpdate,
    MiniTicker, Ticker,
};
use binance_types::futures::stream::{ContractType, DepthSpeed, PriceSpeed};
use binance_types::futures::{FuturesStream, FuturesSymbol};
use binance_types::stream::{DepthLevels, KlineInterval, KlineTimezone, Symbol};
use binance_types::venue::Venue;
use binance_types::{Level, Millis, Time};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::clock::now_ms;
use crate::engine::recent::Recent;
use crate::engine::{
    BookSnapshot, CancelResult, Engine, Fill, FlowConfig, LevelChange, NewOrder, OrderError,
    SubmitResult, SymbolSpec,
};
use crate::futures_wire::{self, Format};
use crate::hub::Hub;
use crate::market::{drive, forget_old_aggs, DepthWindow};
use crate::stats::{kline_bounds, SymbolStats};

/// `deliveryDate` of a perpetual contract (2100-12-25), as Binance writes it.
pub const PERPETUAL_DELIVERY_MS: u64 = 4_133_404_800_000;

/// Binance's funding interval: eight hours (00:00, 08:00, 16:00 UTC).
pub const FUNDING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// Fundings kept per contract (Binance's funding history answers 1000 at most).
const MAX_FUNDINGS: usize = 1000;

/// The funding rate the simulator quotes on every perpetual.
const FUNDING_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 4);

/// One futures contract and how Binance describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSpec {
    /// The engine's symbol and filters (`symbol` is the contract:
    /// `BTCUSDT`, `BTCUSD_PERP`, `BTCUSD_261225`).
    pub spec: SymbolSpec,
    /// The pair (`BTCUSDT`, `BTCUSD`).
    pub pair: String,
    /// `PERPETUAL`, `CURRENT_QUARTER` or `NEXT_QUARTER`.
    pub contract_type: String,
    /// Delivery time ([`PERPETUAL_DELIVERY_MS`] for perpetuals).
    pub delivery_ms: u64,
    /// Listing time.
    pub onboard_ms: u64,
    /// COIN-M: USD per contract (quantities are contracts); 1 on USD-M.
    pub contract_size: u32,
    /// Decimals of prices in frames (`pricePrecision`).
    pub price_precision: u32,
    /// Decimals of quantities in frames (`quantityPrecision`).
    pub quantity_precision: u32,
}

impl ContractSpec {
    /// Whether the contract never delivers.
    pub fn is_perpetual(&self) -> bool {
        self.contract_type == "PERPETUAL"
    }

    /// The built-in USD-M perpetuals: BTCUSDT, ETHUSDT.
    pub fn usdm_builtin() -> Vec<ContractSpec> {
        vec![
            contract(
                [
                    "BTCUSDT", "BTC", "USDT", "0.10", "0.001", "556.80", "87000.00",
                ],
                ("BTCUSDT", "PERPETUAL", PERPETUAL_DELIVERY_MS, 1, 2, 3),
            ),
            contract(
                [
                    "ETHUSDT", "ETH", "USDT", "0.01", "0.001", "39.86", "3000.00",
                ],
                ("ETHUSDT", "PERPETUAL", PERPETUAL_DELIVERY_MS, 1, 2, 3),
            ),
        ]
    }

    /// The built-in COIN-M contracts: BTCUSD_PERP, ETHUSD_PERP and the
    /// BTCUSD_261225 delivery contract.
    pub fn coinm_builtin() -> Vec<ContractSpec> {
        vec![
            contract(
                ["BTCUSD_PERP", "BTC", "USD", "0.1", "1", "1000", "87000.0"],
                ("BTCUSD", "PERPETUAL", PERPETUAL_DELIVERY_MS, 100, 1, 0),
            ),
            contract(
                ["ETHUSD_PERP", "ETH", "USD", "0.01", "1", "50", "3000.00"],
                ("ETHUSD", "PERPETUAL", PERPETUAL_DELIVERY_MS, 10, 2, 0),
            ),
            contract(
                ["BTCUSD_261225", "BTC", "USD", "0.1", "1", "1000", "87500.0"],
                ("BTCUSD", "CURRENT_QUARTER", 1_798_185_600_000, 100, 1, 0),
            ),
        ]
    }
}

/// A built-in contract: `[symbol, base, quote, tick, step, min price,
/// initial price]`, `(pair, contract type, delivery, contract size, price
/// precision, quantity precision)`.
fn contract(
    [symbol, base, quote, tick, step, min_price, initial]: [&str; 7],
    (pair, contract_type, delivery_ms, contract_size, price_precision, quantity_precision): (
        &str,
        &str,
        u64,
        u32,
        u32,
        u32,
    ),
) -> ContractSpec {
    ContractSpec {
        spec: SymbolSpec::from_strs(
            symbol, base, quote, tick, step, step, min_price, "1000000", initial,
        ),
        pair: pair.to_owned(),
        contract_type: contract_type.to_owned(),
        delivery_ms,
        onboard_ms: 1_569_398_400_000,
        contract_size,
        price_precision,
        quantity_precision,
    }
}

/// The best bid and ask: (price, quantity) each.
type Top = (Option<(Decimal, Decimal)>, Option<(Decimal, Decimal)>);

/// The three depth speeds, in the order of a contract's windows.
const SPEEDS: [DepthSpeed; 3] = [DepthSpeed::Ms100, DepthSpeed::Ms250, DepthSpeed::Ms500];

/// A diff-depth event's update ids and levels.
pub(crate) struct Diff {
    /// `U`: the first update id in the event.
    pub first: u64,
    /// `u`: the last update id in the event.
    pub last: u64,
    /// `pu`: the `u` of the stream's previous event.
    pub previous: u64,
    /// Changed bid levels, best first.
    pub bids: Vec<Level>,
    /// Changed ask levels, best first.
    pub asks: Vec<Level>,
}

/// One book's depth streams at `N` speeds (§5.4): a diff window per speed,
/// the `u` each speed's diff and partial streams sent last (their next
/// `pu`), and the updates still to lose (a fault). Futures contracts and
/// option books share it.
pub(crate) struct DepthFeed<const N: usize> {
    windows: [DepthWindow; N],
    last_diff: [u64; N],
    last_partial: [u64; N],
    skip: u64,
}

impl<const N: usize> DepthFeed<N> {
    /// A feed whose first events follow update id `last`.
    pub(crate) fn new(last: u64) -> Self {
        DepthFeed {
            windows: std::array::from_fn(|_| DepthWindow::default()),
            last_diff: [last; N],
            last_partial: [last; N],
            skip: 0,
        }
    }

    /// Leave the next `count` book updates out of the diff streams.
    pub(crate) fn skip_updates(&mut self, count: u64) {
        self.skip = self.skip.saturating_add(count);
    }

    /// Record one engine update's book changes. When the update is to be
    /// lost (a fault), the open windows are closed first and returned
    /// (speed, diff) to be sent, and the lost update's id becomes every
    /// speed's previous `u`, so the next event's `pu` is an id never sent.
    pub(crate) fn record(&mut self, changes: &[LevelChange]) -> Vec<(usize, Diff)> {
        if let (Some(first), true) = (changes.first(), self.skip > 0) {
            let open = (0..N).filter_map(|s| Some((s, self.take(s)?))).collect();
            self.last_diff = [first.update_id; N];
            self.skip -= 1;
            return open;
        }
        for change in changes {
            for w in &mut self.windows {
                w.add(change);
            }
        }
        Vec::new()
    }

    /// Close the diff window of `speed`: its event, if anything changed.
    pub(crate) fn take(&mut self, speed: usize) -> Option<Diff> {
        let (first, last, bids, asks) = self.windows[speed].take_levels()?;
        let previous = std::mem::replace(&mut self.last_diff[speed], last);
        Some(Diff {
            first,
            last,
            previous,
            bids,
            asks,
        })
    }

    /// `U`, `u` and `pu` of the partial-depth events of `speed` showing the
    /// book at update `last`.
    pub(crate) fn partial(&mut self, speed: usize, last: u64) -> (u64, u64, u64) {
        let previous = std::mem::replace(&mut self.last_partial[speed], last);
        ((previous + 1).min(last), last, previous)
    }
}

/// Who settles the fills of accounts' orders resting on a contract's book.
pub trait UserFills: Send + Sync {
    /// The synthetic flow (or another order) filled the resting account
    /// order `fill.maker_order_id` of `contract`; true when the order is done.
    fn maker_fill(&self, contract: &Contract, fill: &Fill, now: u64) -> bool;

    /// The perpetual `contract` reached its funding time: every account
    /// with a position on it pays or receives `funding`.
    fn funding(&self, contract: &Contract, funding: &Funding);
}

/// One funding of a perpetual contract: when, at which mark price and rate
/// (both as the `markPrice` stream writes them), as Binance's funding
/// history (`GET /fapi/v1/fundingRate`) lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funding {
    /// `fundingTime`, ms.
    pub time: u64,
    /// `fundingRate`.
    pub rate: Decimal,
    /// `markPrice` at that time.
    pub mark_price: Decimal,
}

/// One contract's engine and the stream state derived from it.
pub struct Contract {
    spec: ContractSpec,
    engine: Engine,
    name: FuturesSymbol,
    format: Format,
    /// Each aggregate trade's first and last trade id; entry `n` has id `n + 1`.
    aggs: Recent<(u64, u64)>,
    /// The depth streams, one speed of [`SPEEDS`] each.
    depth: DepthFeed<3>,
    stats: SymbolStats,
    top: Top,
    rng: StdRng,
    /// Mark-price candles (COIN-M `markPriceKline`) and index-price candles
    /// (COIN-M `indexPriceKline`, of the pair).
    mark_candles: PriceCandles,
    index_candles: PriceCandles,
    /// Accounts' orders resting on the book, and who settles their fills.
    user_orders: HashSet<u64>,
    user_fills: Option<Arc<dyn UserFills>>,
    /// The funding interval (ms) and the next funding time (0: not a perpetual).
    funding_interval: u64,
    next_funding: u64,
    /// The last fundings (up to [`MAX_FUNDINGS`]), oldest first.
    fundings: Vec<Funding>,
}

impl Contract {
    fn new(
        venue: Venue,
        spec: ContractSpec,
        flow: FlowConfig,
        seed: u64,
        history: Option<u64>,
        funding_interval: u64,
    ) -> Self {
        let mut engine = Engine::new(spec.spec.clone(), flow, seed);
        let next_funding = match spec.is_perpetual() {
            true => next_funding_after(now_ms(), funding_interval),
            false => 0,
        };
        engine.set_history_window(history);
        let name = FuturesSymbol::new(&spec.spec.symbol).expect("contract symbols are valid");
        let last = engine.last_update_id();
        Contract {
            format: Format {
                venue,
                price: spec.price_precision,
                qty: spec.quantity_precision,
            },
            stats: SymbolStats::new(&spec.spec.symbol, now_ms()),
            top: (engine.best_bid(), engine.best_ask()),
            engine,
            name,
            aggs: Recent::default(),
            depth: DepthFeed::new(last),
            rng: StdRng::seed_from_u64(seed ^ 0x5eed),
            mark_candles: PriceCandles::default(),
            index_candles: PriceCandles::default(),
            user_orders: HashSet::new(),
            user_fills: None,
            funding_interval,
            next_funding,
            fundings: Vec::new(),
            spec,
        }
    }

    /// The next funding time (ms; 0 for a delivery contract).
    pub fn next_funding_time(&self) -> u64 {
        self.next_funding
    }

    /// The contract's last fundings (up to 1000), oldest first.
    pub fn fundings(&self) -> &[Funding] {
        &self.fundings
    }

    /// At or after the funding time: fund the accounts' positions at the
    /// mark price and rate the `markPrice` stream shows, and move the next
    /// funding time on by the interval (past `now`, when ticks were missed).
    fn fund(&mut self, now: u64) {
        if self.next_funding == 0 || now < self.next_funding {
            return;
        }
        let Some(mark) = self.mark_price() else {
            return;
        };
        let funding = Funding {
            time: self.next_funding,
            rate: self.format.rate(FUNDING_RATE),
            mark_price: self.format.rate(mark),
        };
        if self.fundings.len() == MAX_FUNDINGS {
            self.fundings.remove(0);
        }
        self.fundings.push(funding);
        self.next_funding = next_funding_after(now, self.funding_interval);
        if let Some(hook) = self.user_fills.clone() {
            hook.funding(self, &funding);
        }
    }

    /// The contract as its venue describes it.
    pub fn spec(&self) -> &ContractSpec {
        &self.spec
    }

    /// The engine (for truth and snapshots).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How this contract writes its numbers.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The aggregate trades of the history window, oldest first (first and
    /// last trade id); the first has id [`Contract::first_agg_id`].
    pub fn agg_trades(&self) -> &[(u64, u64)] {
        self.aggs.as_slice()
    }

    /// The aggregate id of the first of [`Contract::agg_trades`].
    pub fn first_agg_id(&self) -> u64 {
        self.aggs.start() + 1
    }

    fn symbol(&self) -> &str {
        &self.spec.spec.symbol
    }

    /// `ps` on COIN-M, nothing on USD-M.
    fn ps(&self) -> Option<String> {
        (self.format.venue == Venue::CoinM).then(|| self.spec.pair.clone())
    }

    /// One engine step, published.
    fn step(&mut self, now: u64, hub: &Hub) {
        let out = self.engine.step(now);
        self.published(&out.fills, &out.changes, now, hub);
    }

    /// Publish what the engine did (fills, book changes) and settle the
    /// fills of resting account orders.
    fn published(&mut self, fills: &[Fill], changes: &[LevelChange], now: u64, hub: &Hub) {
        self.publish_fills(fills, now, hub);
        self.add_changes(changes, now, hub);
        if !changes.is_empty() {
            self.publish_book_ticker(now, hub);
        }
        if let Some(hook) = self.user_fills.clone() {
            for fill in fills {
                if self.user_orders.contains(&fill.maker_order_id)
                    && hook.maker_fill(self, fill, now)
                {
                    self.user_orders.remove(&fill.maker_order_id);
                }
            }
        }
    }

    /// An account's order: matched by the engine, its trades and book
    /// changes published as the flow's are; a remainder that rests is
    /// watched, its later fills go to [`UserFills::maker_fill`]. The taker's
    /// own side of the fills is the caller's to settle.
    pub fn submit_user(
        &mut self,
        order: NewOrder,
        now: u64,
        hub: &Hub,
    ) -> Result<SubmitResult, OrderError> {
        let result = self.engine.submit(order, now)?;
        if matches!(
            result.status,
            crate::engine::OrderStatus::New | crate::engine::OrderStatus::PartiallyFilled
        ) {
            self.user_orders.insert(result.order_id);
        }
        self.published(&result.fills, &result.changes, now, hub);
        Ok(result)
    }

    /// Cancel an account's resting order (`None`: not resting).
    pub fn cancel_user(&mut self, order_id: u64, now: u64, hub: &Hub) -> Option<CancelResult> {
        if !self.user_orders.remove(&order_id) {
            return None;
        }
        let result = self.engine.cancel(order_id, now)?;
        self.published(&[], &[result.change], now, hub);
        Some(result)
    }

    /// Modify an account's resting order ([`Engine::amend`]), publishing
    /// what it changed; `Ok(None)`: not resting, or `qty` not above its fills.
    pub fn amend_user(
        &mut self,
        order_id: u64,
        price: Decimal,
        qty: Decimal,
        now: u64,
        hub: &Hub,
    ) -> Result<Option<SubmitResult>, OrderError> {
        if !self.user_orders.contains(&order_id) {
            return Ok(None);
        }
        let Some(result) = self.engine.amend(order_id, price, qty, now)? else {
            return Ok(None);
        };
        if result.status == crate::engine::OrderStatus::Filled {
            self.user_orders.remove(&order_id);
        }
        self.published(&result.fills, &result.changes, now, hub);
        Ok(Some(result))
    }

    /// Leave the next `count` book updates out of the diff streams, as lost events.
    pub fn skip_updates(&mut self, count: u64) {
        self.depth.skip_updates(count);
    }

    fn add_changes(&mut self, changes: &[LevelChange], now: u64, hub: &Hub) {
        for (speed, diff) in self.depth.record(changes) {
            self.send_diff(speed, diff, now, hub);
        }
    }

    fn publish_fills(&mut self, fills: &[Fill], now: u64, hub: &Hub) {
        forget_old_aggs(&mut self.aggs, &self.engine);
        for fill in fills {
            // COIN-M volumes in base asset: contracts × size / price.
            let mut counted = *fill;
            if self.format.venue == Venue::CoinM {
                counted.quote_qty = fill.qty * Decimal::from(self.spec.contract_size) / fill.price;
            }
            self.stats.record(&counted);
        }
        let stream = FuturesStream::AggTrade(self.name.clone());
        for run in fills.chunk_by(|a, b| a.taker_order_id == b.taker_order_id && a.price == b.price)
        {
            let (first, last) = (run[0], run[run.len() - 1]);
            self.aggs.push((first.trade_id, last.trade_id));
            let quantity = self.format.qty(run.iter().map(|f| f.qty).sum());
            let agg = AggTrade::<Millis> {
                event_time: Time::new(now),
                symbol: self.symbol().to_owned(),
                agg_trade_id: self.aggs.end(),
                price: self.format.price(first.price),
                quantity,
                // USD-M's quantity without RPI orders: the simulator has none.
                normal_quantity: (self.format.venue == Venue::UsdM).then_some(quantity),
                first_trade_id: first.trade_id,
                last_trade_id: last.trade_id,
                trade_time: Time::new(first.time_ms),
                buyer_is_maker: first.buyer_is_maker,
            };
            send(hub, self.format.venue, &stream, &agg);
        }
    }

    fn publish_book_ticker(&mut self, now: u64, hub: &Hub) {
        let top = (self.engine.best_bid(), self.engine.best_ask());
        if top == self.top {
            return;
        }
        self.top = top;
        let Some(ticker) = self.book_ticker(now) else {
            return;
        };
        let (venue, stream) = (
            self.format.venue,
            FuturesStream::BookTicker(self.name.clone()),
        );
        send(hub, venue, &stream, &ticker);
        // COIN-M's `!bookTicker` is real-time; USD-M's comes every 5 s.
        if venue == Venue::CoinM {
            send(hub, venue, &FuturesStream::AllBookTickers, &ticker);
        }
    }

    /// The current best bid and ask as a `bookTicker`.
    fn book_ticker(&self, now: u64) -> Option<BookTicker<Millis>> {
        let (Some((b, bq)), Some((a, aq))) = self.top else {
            return None;
        };
        let f = self.format;
        Some(BookTicker {
            update_id: self.engine.last_update_id(),
            event_time: Time::new(now),
            transaction_time: Time::new(now),
            symbol: self.symbol().to_owned(),
            pair: self.ps(),
            bid_price: f.price(b),
            bid_quantity: f.qty(bq),
            ask_price: f.price(a),
            ask_quantity: f.qty(aq),
        })
    }

    /// Close the diff window of `speed` (index into [`SPEEDS`]) and publish
    /// its diff and the partial depths of that speed.
    fn flush(&mut self, speed: usize, now: u64, hub: &Hub) {
        self.flush_diff(speed, now, hub);
        self.flush_partial(speed, now, hub);
    }

    /// Close the diff window of `speed` and publish it, if anything changed.
    fn flush_diff(&mut self, speed: usize, now: u64, hub: &Hub) {
        if let Some(diff) = self.depth.take(speed) {
            self.send_diff(speed, diff, now, hub);
        }
    }

    /// Publish a diff event of `speed`.
    fn send_diff(&self, speed: usize, diff: Diff, now: u64, hub: &Hub) {
        let f = self.format;
        {
            let update = DepthUpdate::<Millis> {
                event_time: Time::new(now),
                transaction_time: Time::new(now),
                symbol: self.symbol().to_owned(),
                pair: self.ps(),
                first_update_id: diff.first,
                final_update_id: diff.last,
                previous_final_update_id: diff.previous,
                bids: f.levels(diff.bids),
                asks: f.levels(diff.asks),
            };
            let stream = FuturesStream::Depth {
                symbol: self.name.clone(),
                speed: SPEEDS[speed],
            };
            send(hub, f.venue, &stream, &update);
            // USD-M's RPI depth includes RPI orders; the simulator has
            // none, so it is the 500 ms diff.
            if f.venue == Venue::UsdM && SPEEDS[speed] == DepthSpeed::Ms500 {
                send(
                    hub,
                    f.venue,
                    &FuturesStream::RpiDepth(self.name.clone()),
                    &update,
                );
            }
        }
    }

    /// Publish the partial depths of `speed`.
    fn flush_partial(&mut self, speed: usize, now: u64, hub: &Hub) {
        let f = self.format;
        let (first, last, previous) = self.depth.partial(speed, self.engine.last_update_id());
        for &levels in DepthLevels::ALL {
            let stream = FuturesStream::PartialDepth {
                symbol: self.name.clone(),
                levels,
                speed: SPEEDS[speed],
            };
            if !hub.wanted(&stream.to_string()) {
                continue;
            }
            let book = self.engine.depth(levels.count());
            let side = |v: &[(Decimal, Decimal)]| {
                f.levels(v.iter().map(|&(p, q)| Level::new(p, q)).collect())
            };
            let update = DepthUpdate::<Millis> {
                event_time: Time::new(now),
                transaction_time: Time::new(now),
                symbol: self.symbol().to_owned(),
                pair: self.ps(),
                first_update_id: first,
                final_update_id: last,
                previous_final_update_id: previous,
                bids: side(&book.bids),
                asks: side(&book.asks),
            };
            send(hub, f.venue, &stream, &update);
        }
    }

    /// The mark price: the book's mid (the last trade's price on a one-sided book).
    fn mark_price(&self) -> Option<Decimal> {
        match self.top {
            (Some((b, _)), Some((a, _))) => Some((b + a) / Decimal::TWO),
            _ => self.engine.last_trade_price(),
        }
    }

    /// The contract's `markPriceUpdate` at `now`.
    fn mark_price_update(&self, now: u64) -> Option<MarkPriceUpdate<Millis>> {
        let mark = self.mark_price()?;
        let f = self.format;
        // The index trails the mark by a basis point; the settle estimate is the index.
        let index = mark * Decimal::new(9999, 4);
        let perpetual = self.spec.is_perpetual();
        Some(MarkPriceUpdate {
            event_time: Time::new(now),
            symbol: self.symbol().to_owned(),
            mark_price: f.rate(mark),
            mark_price_average: (f.venue == Venue::UsdM).then(|| f.rate(mark)),
            index_price: f.rate(index),
            estimated_settle_price: f.rate(index),
            funding_rate: perpetual.then(|| f.rate(FUNDING_RATE)),
            next_funding_time: Time::new(self.next_funding),
        })
    }

    /// Klines (and continuous klines of the pair's contract type), as due.
    fn publish_klines(&mut self, now: u64, hub: &Hub) {
        let f = self.format;
        let contract_type = self
            .spec
            .contract_type
            .to_lowercase()
            .parse::<ContractType>();
        let pair = Symbol::new(&self.spec.pair).ok();
        for &interval in KlineInterval::ALL {
            if interval == KlineInterval::S1 {
                continue;
            }
            let kline = FuturesStream::Kline {
                symbol: self.name.clone(),
                interval,
            };
            let continuous = match (&pair, &contract_type) {
                (Some(pair), Ok(contract_type)) => Some(FuturesStream::ContinuousKline {
                    pair: pair.clone(),
                    contract_type: *contract_type,
                    interval,
                }),
                _ => None,
            };
            let wanted = |s: &FuturesStream| hub.wanted(&s.to_string());
            if !wanted(&kline) && !continuous.as_ref().is_some_and(wanted) {
                continue;
            }
            for event in self.stats.kline_events(interval, KlineTimezone::Utc, now) {
                let k = f.kline(event.kline);
                let with_symbol = KlineEvent::<Millis> {
                    event_time: Time::new(now),
                    symbol: self.symbol().to_owned(),
                    kline: k.clone(),
                };
                send(hub, f.venue, &kline, &with_symbol);
                if let Some(stream) = &continuous {
                    let event = ContinuousKlineEvent::<Millis> {
                        event_time: Time::new(now),
                        pair: self.spec.pair.clone(),
                        contract_type: self.spec.contract_type.clone(),
                        kline: Kline { symbol: None, ..k },
                    };
                    send(hub, f.venue, stream, &event);
                }
            }
        }
    }

    /// COIN-M: sample the mark and index prices into their candles and
    /// publish `markPriceKline` (and, on the pair's perpetual,
    /// `indexPriceKline`) where wanted: candles the sample closed, then the
    /// open ones.
    fn publish_price_klines(&mut self, now: u64, hub: &Hub) {
        let Some(update) = self.mark_price_update(now) else {
            return;
        };
        let f = self.format;
        let closed_marks = self.mark_candles.sample(update.mark_price, now);
        let closed_index = self.index_candles.sample(update.index_price, now);
        let pair = Symbol::new(&self.spec.pair)
            .ok()
            .filter(|_| self.spec.is_perpetual());
        for &interval in KlineInterval::ALL {
            let mark = FuturesStream::MarkPriceKline {
                symbol: self.name.clone(),
                interval,
            };
            for (candle, closed) in due(&closed_marks, &self.mark_candles, interval) {
                let event = MarkPriceKlineEvent::<Millis> {
                    event_time: Time::new(now),
                    pair: self.spec.pair.clone(),
                    kline: candle.kline(interval, self.symbol(), closed, f),
                };
                send(hub, f.venue, &mark, &event);
            }
            let Some(pair) = pair.clone() else { continue };
            let index = FuturesStream::IndexPriceKline { pair, interval };
            for (candle, closed) in due(&closed_index, &self.index_candles, interval) {
                let event = IndexPriceKlineEvent::<Millis> {
                    event_time: Time::new(now),
                    pair: self.spec.pair.clone(),
                    kline: candle.kline(interval, "0", closed, f),
                };
                send(hub, f.venue, &index, &event);
            }
        }
    }

    fn mini_ticker(&self, now: u64) -> Option<MiniTicker<Millis>> {
        let m = self.stats.mini_ticker(now)?;
        let f = self.format;
        Some(MiniTicker {
            event_time: Time::new(now),
            symbol: m.symbol,
            pair: self.ps(),
            close: f.price(m.close),
            open: f.price(m.open),
            high: f.price(m.high),
            low: f.price(m.low),
            volume: f.qty(m.volume),
            quote_volume: f.quote(m.quote_volume),
        })
    }

    fn ticker(&self, now: u64) -> Option<Ticker<Millis>> {
        let (bid, ask) = (self.top.0?, self.top.1?);
        let t = self.stats.ticker(now, bid, ask)?;
        let f = self.format;
        Some(Ticker {
            event_time: Time::new(now),
            symbol: t.symbol,
            pair: self.ps(),
            price_change: f.price(t.price_change),
            price_change_percent: f.percent(t.price_change_percent),
            // COIN-M writes it with eight decimals (Binance's COIN-M example).
            weighted_avg_price: match f.venue {
                Venue::CoinM => f.rate(t.weighted_avg_price),
                _ => f.price(t.weighted_avg_price),
            },
            last_price: f.price(t.last_price),
            last_quantity: f.qty(t.last_quantity),
            open: f.price(t.open),
            high: f.price(t.high),
            low: f.price(t.low),
            volume: f.qty(t.volume),
            quote_volume: f.quote(t.quote_volume),
            open_time: t.open_time,
            close_time: t.close_time,
            first_trade_id: t.first_trade_id,
            last_trade_id: t.last_trade_id,
            trade_count: t.trade_count,
        })
    }

    /// Now and then a liquidation: an IOC order that filled at about the
    /// book's price.
    fn force_order(&mut self, now: u64) -> Option<ForceOrder<Millis>> {
        if !self.rng.gen_bool(0.2) {
            return None;
        }
        let mark = self.mark_price()?;
        let f = self.format;
        let sell = self.rng.gen_bool(0.5);
        let qty = self.spec.spec.step_size * Decimal::from(self.rng.gen_range(1..=20u32));
        let price = f.price(mark);
        Some(ForceOrder {
            event_time: Time::new(now),
            order: LiquidationOrder {
                symbol: self.symbol().to_owned(),
                pair: self.ps(),
                side: if sell { "SELL" } else { "BUY" }.to_owned(),
                order_type: "LIMIT".to_owned(),
                time_in_force: "IOC".to_owned(),
                quantity: f.qty(qty),
                price,
                average_price: price,
                status: "FILLED".to_owned(),
                last_filled_quantity: f.qty(qty),
                filled_quantity: f.qty(qty),
                trade_time: Time::new(now),
            },
        })
    }
}

/// One candle of a sampled price (mark or index).
#[derive(Debug, Clone)]
struct PriceCandle {
    open_ms: u64,
    next_ms: u64,
    first_ms: u64,
    last_ms: u64,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    samples: u64,
}

impl PriceCandle {
    /// The candle as a futures kline (`s` is `symbol`, no volumes; `f`
    /// and `L` are the first and last sample times, as Binance's price
    /// klines have them).
    fn kline(&self, interval: KlineInterval, symbol: &str, closed: bool, f: Format) -> Kline {
        Kline {
            open_time: Time::new(self.open_ms),
            close_time: Time::new(self.next_ms - 1),
            symbol: Some(symbol.to_owned()),
            interval,
            first_trade_id: self.first_ms as i64,
            last_trade_id: self.last_ms as i64,
            open: f.rate(self.open),
            close: f.rate(self.close),
            high: f.rate(self.high),
            low: f.rate(self.low),
            volume: Decimal::ZERO,
            trade_count: self.samples,
            is_closed: closed,
            quote_volume: Decimal::ZERO,
            taker_buy_volume: Decimal::ZERO,
            taker_buy_quote_volume: Decimal::ZERO,
            ignore: "0".to_owned(),
        }
    }
}

/// The open candle of a sampled price for every futures interval.
#[derive(Debug, Default)]
struct PriceCandles {
    open: BTreeMap<KlineInterval, PriceCandle>,
}

impl PriceCandles {
    /// Record a sample at `now`; the candles it closed, in interval order.
    fn sample(&mut self, price: Decimal, now: u64) -> Vec<(KlineInterval, PriceCandle)> {
        let mut closed = Vec::new();
        for &interval in KlineInterval::ALL {
            if interval == KlineInterval::S1 {
                continue;
            }
            let (open_ms, next_ms) = kline_bounds(interval, KlineTimezone::Utc, now);
            let fresh = PriceCandle {
                open_ms,
                next_ms,
                first_ms: now,
                last_ms: now,
                open: price,
                high: price,
                low: price,
                close: price,
                samples: 1,
            };
            match self.open.get_mut(&interval) {
                Some(c) if c.open_ms == open_ms => {
                    c.last_ms = now;
                    c.high = c.high.max(price);
                    c.low = c.low.min(price);
                    c.close = price;
                    c.samples += 1;
                }
                _ => {
                    if let Some(old) = self.open.insert(interval, fresh) {
                        closed.push((interval, old));
                    }
                }
            }
        }
        closed
    }
}

/// The candles of `interval` to publish: those just closed (`true`), then
/// the open one.
fn due<'a>(
    closed: &'a [(KlineInterval, PriceCandle)],
    candles: &'a PriceCandles,
    interval: KlineInterval,
) -> impl Iterator<Item = (&'a PriceCandle, bool)> {
    closed
        .iter()
        .filter(move |(i, _)| *i == interval)
        .map(|(_, c)| (c, true))
        .chain(candles.open.get(&interval).map(|c| (c, false)))
}

/// Publish `event` on `stream` if anyone listens, written as `venue` writes it.
fn send<T: Serialize>(hub: &Hub, venue: Venue, stream: &FuturesStream, event: &T) {
    let name = stream.to_string();
    if hub.wanted(&name) {
        hub.publish(&name, futures_wire::encode(venue, event));
    }
}

/// One venue's contracts.
pub struct FuturesMarket {
    venue: Venue,
    contracts: BTreeMap<String, Mutex<Contract>>,
    actions_per_second: u32,
}

/// The first funding time after `now`: the next whole multiple of the
/// interval since the epoch (00:00, 08:00, 16:00 UTC for eight hours).
fn next_funding_after(now: u64, interval: u64) -> u64 {
    let interval = interval.max(1);
    (now / interval + 1) * interval
}

impl FuturesMarket {
    /// Build the engines of `venue`'s contracts, each keeping the history of
    /// its last `history` update ids; perpetuals fund every `funding_interval`
    /// ([`FUNDING_INTERVAL`] on Binance).
    pub fn new(
        venue: Venue,
        contracts: &[ContractSpec],
        flow: &FlowConfig,
        seed: u64,
        actions_per_second: u32,
        history: Option<u64>,
        funding_interval: std::time::Duration,
    ) -> Self {
        let interval = u64::try_from(funding_interval.as_millis()).unwrap_or(u64::MAX);
        let contracts = contracts
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let seed = seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(7919 * (venue as u64 + 1) + i as u64);
                let contract =
                    Contract::new(venue, spec.clone(), flow.clone(), seed, history, interval);
                (spec.spec.symbol.clone(), Mutex::new(contract))
            })
            .collect();
        FuturesMarket {
            venue,
            contracts,
            actions_per_second,
        }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Who settles fills of accounts' resting orders, on every contract.
    pub fn set_user_fills(&self, hook: Arc<dyn UserFills>) {
        for contract in self.contracts.values() {
            contract.lock().unwrap().user_fills = Some(hook.clone());
        }
    }

    /// A contract (uppercase symbol).
    pub fn contract(&self, symbol: &str) -> Option<&Mutex<Contract>> {
        self.contracts.get(symbol)
    }

    /// The contracts' symbols.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }

    /// Every contract's spec.
    pub fn specs(&self) -> Vec<ContractSpec> {
        self.contracts
            .values()
            .map(|c| c.lock().unwrap().spec.clone())
            .collect()
    }

    /// The true full book of `symbol` right after `update_id`.
    pub fn true_book(&self, symbol: &str, update_id: u64) -> Option<BookSnapshot> {
        self.contract(symbol)?
            .lock()
            .unwrap()
            .engine
            .book_at(update_id)
    }

    /// Whether the stream names something this venue trades (streams of
    /// other contracts, pairs or assets are refused as unknown).
    pub fn supports(&self, stream: &FuturesStream) -> bool {
        use FuturesStream as S;
        let contract = |s: &FuturesSymbol| self.contracts.contains_key(s.as_str());
        let pair = |p: &str| {
            self.contracts
                .values()
                .any(|c| c.lock().unwrap().spec.pair == p)
        };
        match stream {
            S::AggTrade(s)
            | S::Kline { symbol: s, .. }
            | S::MarkPriceKline { symbol: s, .. }
            | S::MiniTicker(s)
            | S::Ticker(s)
            | S::BookTicker(s)
            | S::ForceOrder(s)
            | S::PartialDepth { symbol: s, .. }
            | S::Depth { symbol: s, .. }
            | S::RpiDepth(s) => contract(s),
            S::MarkPrice { symbol, .. } => {
                contract(symbol) || (self.venue == Venue::CoinM && pair(symbol.as_str()))
            }
            S::ContinuousKline { pair: p, .. }
            | S::IndexPriceKline { pair: p, .. }
            | S::IndexPrice { pair: p, .. } => pair(p.as_str()),
            // Accepted, never produced (the simulator has no composite or
            // asset indexes).
            _ => true,
        }
    }

    /// Drive the market forever: engine steps spread evenly in time, depth
    /// windows closed every 100, 250 and 500 ms, klines every 250 ms, mark
    /// prices every 1 s and 3 s, tickers and liquidations every second.
    pub async fn run(self: Arc<Self>, hub: Arc<Hub>) {
        drive(self.actions_per_second, |tick, steps, now| {
            self.tick(tick, steps, now, &hub)
        })
        .await
    }

    /// One 10 ms tick (number `tick`): `steps` engine steps and what is due.
    fn tick(&self, tick: u64, steps: u64, now: u64, hub: &Hub) {
        let venue = self.venue;
        let second = tick % 100 == 0;
        // Single-symbol tickers: USD-M every 2 s, COIN-M every 500 ms.
        let tickers = match venue {
            Venue::CoinM => tick % 50 == 0,
            _ => tick % 200 == 0,
        };
        let mut marks: [Vec<MarkPriceUpdate>; 2] = Default::default();
        let (mut minis, mut fulls) = (Vec::new(), Vec::new());
        for contract in self.contracts.values() {
            let mut c = contract.lock().unwrap();
            for _ in 0..steps {
                c.step(now, hub);
            }
            for (speed, every) in [(0, 10), (1, 25), (2, 50)] {
                if tick % every == 0 {
                    c.flush(speed, now, hub);
                }
            }
            if tick % 25 == 0 {
                c.publish_klines(now, hub);
            }
            // Before the mark prices, so their `T` is already the next one.
            c.fund(now);
            for (i, speed) in [PriceSpeed::S1, PriceSpeed::S3].into_iter().enumerate() {
                if tick % (speed.millis() / 10) != 0 {
                    continue;
                }
                if let Some(update) = c.mark_price_update(now) {
                    let stream = FuturesStream::MarkPrice {
                        symbol: c.name.clone(),
                        speed,
                    };
                    send(hub, venue, &stream, &update);
                    marks[i].push(update);
                }
            }
            let name = c.name.clone();
            if tickers {
                if let Some(m) = c.mini_ticker(now) {
                    send(hub, venue, &FuturesStream::MiniTicker(name.clone()), &m);
                }
                if let Some(t) = c.ticker(now) {
                    send(hub, venue, &FuturesStream::Ticker(name.clone()), &t);
                }
            }
            if venue == Venue::UsdM && tick % 500 == 0 {
                if let Some(ticker) = c.book_ticker(now) {
                    send(hub, venue, &FuturesStream::AllBookTickers, &ticker);
                }
            }
            if second {
                if venue == Venue::CoinM {
                    c.publish_price_klines(now, hub);
                }
                if c.stats.take_changed() {
                    minis.extend(c.mini_ticker(now));
                    fulls.extend(c.ticker(now));
                }
                if let Some(order) = c.force_order(now) {
                    send(hub, venue, &FuturesStream::ForceOrder(name), &order);
                    send(hub, venue, &FuturesStream::AllForceOrders, &order);
                }
            }
        }
        if second {
            if !minis.is_empty() {
                send(hub, venue, &FuturesStream::AllMiniTickers, &minis);
            }
            if !fulls.is_empty() {
                send(hub, venue, &FuturesStream::AllTickers, &fulls);
            }
        }
        for (updates, speed) in marks.iter().zip([PriceSpeed::S1, PriceSpeed::S3]) {
            if updates.is_empty() {
                continue;
            }
            match venue {
                Venue::CoinM => self.publish_pairs(updates, speed, now, hub),
                _ => send(hub, venue, &FuturesStream::AllMarkPrices(speed), updates),
            }
        }
    }

    /// COIN-M: each pair's contracts' mark prices (`<pair>@markPrice`) and
    /// its index price (`<pair>@indexPrice`).
    fn publish_pairs(&self, updates: &[MarkPriceUpdate], speed: PriceSpeed, now: u64, hub: &Hub) {
        let mut by_pair: BTreeMap<String, Vec<MarkPriceUpdate>> = BTreeMap::new();
        for update in updates {
            if let Some(c) = self.contracts.get(&update.symbol) {
                let pair = c.lock().unwrap().spec.pair.clone();
                by_pair.entry(pair).or_default().push(update.clone());
            }
        }
        for (pair, list) in by_pair {
            let Ok(name) = FuturesSymbol::new(&pair) else {
                continue;
            };
            let stream = FuturesStream::MarkPrice {
                symbol: name.clone(),
                speed,
            };
            send(hub, self.venue, &stream, &list);
            let Ok(pair_symbol) = Symbol::new(&pair) else {
                continue;
            };
            let index = IndexPriceUpdate::<Millis> {
                event_time: Time::new(now),
                pair: pair.clone(),
                index_price: list[0].index_price,
            };
            let stream = FuturesStream::IndexPrice {
                pair: pair_symbol,
                speed,
            };
            send(hub, self.venue, &stream, &index);
        }
    }
}
