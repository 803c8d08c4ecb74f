//! Market engine: one price-time-priority limit order book per symbol, fed by
//! synthetic order flow and reproducible from a seed.
//!
//! Everything the simulator streams (trades, aggTrades, klines, tickers,
//! bookTicker, depth diffs) is derived from an [`Engine`]'s outputs:
//!
//! * every action that changes the book (seeding order, synthetic step, user
//!   order, cancel) consumes exactly **one** update id, starting at 1, with no
//!   gaps; its [`LevelChange`]s carry each touched level once, with the level's
//!   new absolute quantity;
//! * every match is one [`Fill`] at the maker's price, with sequential trade
//!   ids starting at 1;
//! * the engine never reads the clock: callers pass `now_ms`.
//!
//! Internally prices are integer ticks and quantities integer lots (multiples
//! of `tick_size` / `step_size`), so matching is exact; they become
//! `Decimal`s (`tick_size * ticks`, `step_size * lots`) only on the way out.
//!
//! The level changes (about 32 bytes each, plus a full-book checkpoint every
//! 1024 update ids) and the trades of a window of recent update ids are kept
//! in memory, so that [`Engine::book_at`] can rebuild the true book at any of
//! them; older ones are dropped, in amortised O(1), so memory stays bounded
//! however long the engine runs (see [`Engine::set_history_window`]).

mod book;
mod flow;
mod history;
pub(crate) mod recent;
#[cfg(test)]
mod tests;
mod types;

pub use types::*;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use book::{BookSide, OrderIndex, OrderLoc, RestingOrder};
use history::{History, RawBook, RawChange};
use recent::Recent;

/// Update ids whose history an engine keeps by default: about 12 MB, and 8
/// minutes at 200 actions a second.
pub const DEFAULT_HISTORY_WINDOW: u64 = 100_000;

/// Largest order size in lots; keeps sums of lots far from `u64` overflow.
const MAX_ORDER_LOTS: u64 = 1_000_000_000_000_000;

/// Book changes and fills of one action, committed under a single update id.
#[derive(Debug)]
struct Pending {
    update_id: u64,
    /// `(side, ticks, new total lots)`, each level once, in first-touch order.
    changes: Vec<(Side, i64, u64)>,
    fills: Vec<Fill>,
}

impl Pending {
    fn record(&mut self, side: Side, ticks: i64, lots: u64) {
        // An action touches each level at most once (a taker walks the other
        // side level by level, then may rest once on its own side), so a
        // plain push keeps "each level once, in change order".
        debug_assert!(
            !self
                .changes
                .iter()
                .any(|&(s, t, _)| s == side && t == ticks),
            "level touched twice in one action"
        );
        self.changes.push((side, ticks, lots));
    }
}

/// A committed action as the public API reports it.
#[derive(Debug, Default)]
struct Committed {
    update_ids: Option<(u64, u64)>,
    changes: Vec<LevelChange>,
    fills: Vec<Fill>,
}

/// The market of one symbol: order book, matching, synthetic flow and history.
///
/// Same spec, flow, seed and sequence of calls give identical outputs (use a
/// different seed per symbol, or symbols with the same tick/step shape move in
/// lockstep).
#[derive(Debug, Clone)]
pub struct Engine {
    spec: SymbolSpec,
    flow: FlowConfig,
    rng: StdRng,
    bids: BookSide,
    asks: BookSide,
    index: OrderIndex,
    history: History,
    /// Trade `n` (0-based) has trade id `n + 1`.
    trades: Recent<Fill>,
    /// Time of the newest trade dropped from the window.
    dropped_trades_until_ms: Option<u64>,
    last_update_id: u64,
    next_order_id: u64,
    next_trade_id: u64,
    /// Valid price range in ticks.
    min_ticks: i64,
    max_ticks: i64,
    /// `min_qty` in lots.
    min_lots: u64,
    initial_ticks: i64,
    last_trade_ticks: Option<i64>,
}

impl Engine {
    /// An engine whose book is seeded with about `flow.target_depth` levels of
    /// synthetic resting orders per side around `spec.initial_price`, without
    /// crossing. Each seeded order is its own book event, so the first
    /// snapshot already has a non-zero update id.
    ///
    /// # Panics
    /// If `tick_size` or `step_size` is not positive.
    pub fn new(spec: SymbolSpec, flow: FlowConfig, seed: u64) -> Engine {
        let mut engine = Engine::new_empty(spec, flow, seed);
        engine.seed_book();
        engine
    }

    /// Like [`Engine::new`] but with an empty book and update id 0, for
    /// scripted scenarios and tests. [`Engine::step`] fills it up over time.
    ///
    /// # Panics
    /// If `tick_size` or `step_size` is not positive.
    pub fn new_empty(spec: SymbolSpec, flow: FlowConfig, seed: u64) -> Engine {
        assert!(spec.tick_size > Decimal::ZERO, "tick_size must be positive");
        assert!(spec.step_size > Decimal::ZERO, "step_size must be positive");
        let to_ticks = |d: Decimal| d / spec.tick_size;
        let min_ticks = to_ticks(spec.min_price).ceil().to_i64().unwrap_or(1).max(1);
        let max_ticks = to_ticks(spec.max_price)
            .floor()
            .to_i64()
            .unwrap_or(i64::MAX / 4)
            .min(i64::MAX / 4);
        let initial_ticks = to_ticks(spec.initial_price)
            .round()
            .to_i64()
            .unwrap_or(min_ticks)
            .clamp(min_ticks, max_ticks.max(min_ticks));
        let min_lots = (spec.min_qty / spec.step_size)
            .ceil()
            .to_u64()
            .unwrap_or(1)
            .max(1);
        Engine {
            spec,
            flow,
            rng: StdRng::seed_from_u64(seed),
            bids: BookSide::new(Side::Buy),
            asks: BookSide::new(Side::Sell),
            index: OrderIndex::default(),
            history: History::new(Some(DEFAULT_HISTORY_WINDOW)),
            trades: Recent::default(),
            dropped_trades_until_ms: None,
            last_update_id: 0,
            next_order_id: 1,
            next_trade_id: 1,
            min_ticks,
            max_ticks,
            min_lots,
            initial_ticks,
            last_trade_ticks: None,
        }
    }

    /// The symbol this engine trades.
    pub fn spec(&self) -> &SymbolSpec {
        &self.spec
    }

    /// The synthetic flow configuration.
    pub fn flow(&self) -> &FlowConfig {
        &self.flow
    }

    /// One synthetic action at time `now_ms`: add a limit order, cancel a
    /// resting synthetic order, or send a market order that takes liquidity
    /// (sometimes sweeping several levels). With a sane configuration every
    /// step changes the book and so consumes one update id.
    pub fn step(&mut self, now_ms: u64) -> StepOutput {
        let mut pending = self.begin();
        let action = self.synthetic_action(&mut pending, now_ms);
        let committed = self.commit(pending);
        StepOutput {
            update_ids: committed.update_ids,
            changes: committed.changes,
            fills: committed.fills,
            time_ms: now_ms,
            action,
        }
    }

    /// Accepts a user order, matches it, and rests a GTC remainder.
    ///
    /// Market and IOC remainders expire, a FOK that cannot fill completely
    /// expires without any fill, a `LIMIT_MAKER` that would match is
    /// rejected. Rejected orders get no order id and change nothing.
    pub fn submit(&mut self, order: NewOrder, now_ms: u64) -> Result<SubmitResult, OrderError> {
        let lots = self.validate_qty(order.qty)?;
        let side = order.side;
        let (limit, tif) = match order.order_type {
            OrderType::Market => (None, TimeInForce::Ioc),
            OrderType::Limit {
                price,
                time_in_force,
            } => (Some(self.validate_price(price)?), time_in_force),
            OrderType::LimitMaker { price } => {
                let ticks = self.validate_price(price)?;
                if self.crosses(side, ticks) {
                    return Err(OrderError::WouldImmediatelyMatch);
                }
                (Some(ticks), TimeInForce::Gtc)
            }
        };

        let order_id = self.next_id();
        let pending = self.begin();
        Ok(self.take_then_rest(pending, order, order_id, limit, tif, lots, 0, now_ms))
    }

    /// Matches `order` (id `order_id`, `done` of its `lots` filled before)
    /// up to `limit`, rests a GTC remainder there, expires any other, and
    /// commits `pending` with it.
    #[allow(clippy::too_many_arguments)]
    fn take_then_rest(
        &mut self,
        mut pending: Pending,
        order: NewOrder,
        order_id: u64,
        limit: Option<i64>,
        tif: TimeInForce,
        lots: u64,
        done: u64,
        now_ms: u64,
    ) -> SubmitResult {
        let side = order.side;
        let wanted = lots - done;
        let fok_short =
            tif == TimeInForce::Fok && self.book(side.opposite()).available(limit, wanted) < wanted;
        let filled = if fok_short {
            0
        } else {
            self.execute_taker(&mut pending, side, order_id, limit, wanted, now_ms)
        };
        let rest = wanted - filled;
        let status = match (rest, tif, limit) {
            (0, _, _) => OrderStatus::Filled,
            (_, TimeInForce::Gtc, Some(ticks)) => {
                self.rest(&mut pending, side, ticks, order_id, rest, lots, false);
                if done + filled == 0 {
                    OrderStatus::New
                } else {
                    OrderStatus::PartiallyFilled
                }
            }
            _ => OrderStatus::Expired,
        };
        let committed = self.commit(pending);
        SubmitResult {
            order_id,
            order,
            status,
            executed_qty: self.qty(filled),
            cumulative_quote_qty: committed.fills.iter().map(|f| f.quote_qty).sum(),
            remaining_qty: self.qty(rest),
            fills: committed.fills,
            update_ids: committed.update_ids,
            changes: committed.changes,
            time_ms: now_ms,
        }
    }

    /// Cancels a resting order (user or synthetic); `None` if no order with
    /// that id is resting (unknown, filled, expired or already canceled).
    pub fn cancel(&mut self, order_id: u64, now_ms: u64) -> Option<CancelResult> {
        let mut pending = self.begin();
        let (loc, order) = self.remove_resting(&mut pending, order_id)?;
        let committed = self.commit(pending);
        let (update_id, _) = committed.update_ids?;
        Some(CancelResult {
            order_id,
            side: loc.side,
            price: self.price(loc.ticks),
            orig_qty: self.qty(order.orig_lots),
            executed_qty: self.qty(order.orig_lots - order.lots),
            canceled_qty: self.qty(order.lots),
            status: OrderStatus::Canceled,
            update_id,
            change: *committed.changes.first()?,
            time_ms: now_ms,
        })
    }

    /// Moves a resting order to `price` and a new total `qty` (fills
    /// included), keeping its id, as Binance's futures order modify does: it
    /// goes to the back of the queue at the new price and takes what it now
    /// crosses. `Ok(None)`: no such order resting, or `qty` not above what
    /// it already filled.
    pub fn amend(
        &mut self,
        order_id: u64,
        price: Decimal,
        qty: Decimal,
        now_ms: u64,
    ) -> Result<Option<SubmitResult>, OrderError> {
        let lots = self.validate_qty(qty)?;
        let ticks = self.validate_price(price)?;
        match self.open_order(order_id) {
            Some(open) if qty > open.executed_qty => {}
            _ => return Ok(None),
        }
        let mut pending = self.begin();
        let (loc, resting) = self
            .remove_resting(&mut pending, order_id)
            .expect("open orders rest");
        let order = NewOrder {
            side: loc.side,
            order_type: OrderType::Limit {
                price,
                time_in_force: TimeInForce::Gtc,
            },
            qty,
        };
        let done = resting.orig_lots - resting.lots;
        let gtc = TimeInForce::Gtc;
        let amended = self.take_then_rest(
            pending,
            order,
            order_id,
            Some(ticks),
            gtc,
            lots,
            done,
            now_ms,
        );
        Ok(Some(amended))
    }

    /// Id of the latest book change event (0 before any).
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Best bid `(price, total qty at that price)`.
    pub fn best_bid(&self) -> Option<(Decimal, Decimal)> {
        self.bids.best().map(|(t, l)| (self.price(t), self.qty(l)))
    }

    /// Best ask `(price, total qty at that price)`.
    pub fn best_ask(&self) -> Option<(Decimal, Decimal)> {
        self.asks.best().map(|(t, l)| (self.price(t), self.qty(l)))
    }

    /// Top `limit` levels per side (bids descending, asks ascending), with the
    /// current update id. `usize::MAX` gives the full book.
    pub fn depth(&self, limit: usize) -> BookSnapshot {
        BookSnapshot {
            last_update_id: self.last_update_id,
            bids: self.convert_levels(self.bids.iter().take(limit)),
            asks: self.convert_levels(self.asks.iter().take(limit)),
        }
    }

    /// Keep the history of the last `updates` update ids (at least one, and
    /// up to 2048 more; `None`: all of them, growing without bound), from the
    /// next checkpoint on. The default is [`DEFAULT_HISTORY_WINDOW`].
    pub fn set_history_window(&mut self, updates: Option<u64>) {
        self.history.set_window(updates);
    }

    /// The oldest update id the history still answers for: [`Engine::book_at`]
    /// and [`Engine::changes_between`] from it on, and [`Engine::trades`]
    /// made by it or later.
    pub fn history_start(&self) -> u64 {
        self.history.floor()
    }

    /// The full true book right after event `update_id`, rebuilt from the
    /// in-memory change history (`0` = the book before anything, i.e. empty).
    /// `None` for ids that have not happened yet, or that are older than
    /// [`Engine::history_start`].
    pub fn book_at(&self, update_id: u64) -> Option<BookSnapshot> {
        if update_id > self.last_update_id {
            return None;
        }
        let RawBook { bids, asks } = self.history.book_at(update_id)?;
        Some(BookSnapshot {
            last_update_id: update_id,
            bids: self.convert_levels(bids.into_iter().rev()),
            asks: self.convert_levels(asks.into_iter()),
        })
    }

    /// All level changes of events `from..=to`, in order (the material of a
    /// depth diff with `U = from`, `u = to`); `None` when `from` is older
    /// than [`Engine::history_start`].
    pub fn changes_between(&self, from: u64, to: u64) -> Option<Vec<LevelChange>> {
        let changes = self.history.range(from, to)?;
        Some(
            changes
                .iter()
                .map(|c| self.level_change(c.side, c.ticks, c.lots, c.update_id))
                .collect(),
        )
    }

    /// Every fill of the history window (made by update ids from
    /// [`Engine::history_start`] on), in order; trade ids are consecutive.
    pub fn trades(&self) -> &[Fill] {
        self.trades.as_slice()
    }

    /// The fill with this trade id, if still in the history window.
    pub fn trade(&self, trade_id: u64) -> Option<&Fill> {
        self.trades.get(trade_id.checked_sub(1)?)
    }

    /// The trade id the window's trades start from (the next trade's id when
    /// none is kept): trades before it are dropped.
    pub fn first_kept_trade_id(&self) -> u64 {
        self.trades.start() + 1
    }

    /// Time of the newest trade dropped from the window (`None`: none
    /// dropped): answers about trades at or before it are incomplete.
    pub fn dropped_trades_until_ms(&self) -> Option<u64> {
        self.dropped_trades_until_ms
    }

    /// Price of the latest fill.
    pub fn last_trade_price(&self) -> Option<Decimal> {
        self.last_trade_ticks.map(|t| self.price(t))
    }

    /// Number of price levels on `side` (`Buy` = bids).
    pub fn level_count(&self, side: Side) -> usize {
        self.book(side).len()
    }

    /// A resting order's current state; `None` once it left the book.
    pub fn open_order(&self, order_id: u64) -> Option<OpenOrder> {
        let loc = self.index.get(order_id)?;
        let order = self
            .book(loc.side)
            .level(loc.ticks)?
            .orders
            .iter()
            .find(|o| o.id == order_id)?;
        Some(OpenOrder {
            order_id,
            side: loc.side,
            price: self.price(loc.ticks),
            orig_qty: self.qty(order.orig_lots),
            executed_qty: self.qty(order.orig_lots - order.lots),
            remaining_qty: self.qty(order.lots),
            synthetic: order.synthetic,
        })
    }

    // ----- conversions and validation -----

    fn price(&self, ticks: i64) -> Decimal {
        self.spec.tick_size * Decimal::from(ticks)
    }

    fn qty(&self, lots: u64) -> Decimal {
        self.spec.step_size * Decimal::from(lots)
    }

    fn level_change(&self, side: Side, ticks: i64, lots: u64, update_id: u64) -> LevelChange {
        LevelChange {
            side,
            price: self.price(ticks),
            qty: self.qty(lots),
            update_id,
        }
    }

    fn convert_levels(&self, levels: impl Iterator<Item = (i64, u64)>) -> Vec<(Decimal, Decimal)> {
        levels.map(|(t, l)| (self.price(t), self.qty(l))).collect()
    }

    fn validate_qty(&self, qty: Decimal) -> Result<u64, OrderError> {
        let step_size = self.spec.step_size;
        if qty <= Decimal::ZERO {
            return Err(OrderError::NonPositiveQty { qty });
        }
        if !(qty % step_size).is_zero() {
            return Err(OrderError::QtyNotOnStep { qty, step_size });
        }
        if qty < self.spec.min_qty {
            return Err(OrderError::QtyBelowMin {
                qty,
                min_qty: self.spec.min_qty,
            });
        }
        // A quantity near Decimal's limit over a small step overflows: too large.
        qty.checked_div(step_size)
            .and_then(|lots| lots.to_u64())
            .filter(|&lots| lots <= MAX_ORDER_LOTS)
            .ok_or(OrderError::QtyTooLarge { qty })
    }

    fn validate_price(&self, price: Decimal) -> Result<i64, OrderError> {
        let spec = &self.spec;
        if !(price % spec.tick_size).is_zero() {
            return Err(OrderError::PriceNotOnTick {
                price,
                tick_size: spec.tick_size,
            });
        }
        let out_of_range = OrderError::PriceOutOfRange {
            price,
            min_price: spec.min_price,
            max_price: spec.max_price,
        };
        if price < spec.min_price || price > spec.max_price {
            return Err(out_of_range);
        }
        (price / spec.tick_size)
            .to_i64()
            .filter(|t| (self.min_ticks..=self.max_ticks).contains(t))
            .ok_or(out_of_range)
    }

    // ----- book mechanics -----

    fn book(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn book_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Whether a `side` order at `ticks` would match on arrival.
    fn crosses(&self, side: Side, ticks: i64) -> bool {
        match side {
            Side::Buy => self.asks.best().is_some_and(|(a, _)| ticks >= a),
            Side::Sell => self.bids.best().is_some_and(|(b, _)| ticks <= b),
        }
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    /// Opens an action; nothing is visible until [`Engine::commit`].
    fn begin(&self) -> Pending {
        Pending {
            update_id: self.last_update_id + 1,
            changes: Vec::new(),
            fills: Vec::new(),
        }
    }

    /// Publishes an action: one update id if it changed the book, none if not.
    fn commit(&mut self, pending: Pending) -> Committed {
        if pending.changes.is_empty() {
            debug_assert!(pending.fills.is_empty(), "fills always change the book");
            return Committed::default();
        }
        let update_id = pending.update_id;
        self.last_update_id = update_id;
        let changes = pending
            .changes
            .iter()
            .map(|&(side, ticks, lots)| {
                self.history.push(RawChange {
                    update_id,
                    side,
                    ticks,
                    lots,
                });
                self.level_change(side, ticks, lots, update_id)
            })
            .collect();
        self.trades.extend_from_slice(&pending.fills);
        if let Some(floor) = self
            .history
            .maybe_checkpoint(update_id, &self.bids, &self.asks)
        {
            let trades = self.trades.as_slice();
            let stale = trades.partition_point(|f| f.update_id < floor);
            // The latest time, not the last trade's: the clock may step back.
            let newest = trades[..stale].iter().map(|f| f.time_ms).max();
            self.dropped_trades_until_ms = self.dropped_trades_until_ms.max(newest);
            self.trades.forget(stale);
        }
        Committed {
            update_ids: Some((update_id, update_id)),
            changes,
            fills: pending.fills,
        }
    }

    /// Puts an order at the back of the queue at `ticks`.
    #[allow(clippy::too_many_arguments)]
    fn rest(
        &mut self,
        pending: &mut Pending,
        side: Side,
        ticks: i64,
        id: u64,
        lots: u64,
        orig_lots: u64,
        synthetic: bool,
    ) {
        let total = self.book_mut(side).push(
            ticks,
            RestingOrder {
                id,
                lots,
                orig_lots,
                synthetic,
            },
        );
        self.index.insert(id, side, ticks, synthetic);
        pending.record(side, ticks, total);
    }

    /// Takes a resting order off the book.
    fn remove_resting(
        &mut self,
        pending: &mut Pending,
        id: u64,
    ) -> Option<(OrderLoc, RestingOrder)> {
        let loc = self.index.remove(id)?;
        let (order, total) = self
            .book_mut(loc.side)
            .remove(loc.ticks, id)
            .expect("order index and book agree");
        pending.record(loc.side, loc.ticks, total);
        Some((loc, order))
    }

    /// Matches a taker against the opposite side in price-time priority, up
    /// to `limit` (`None` = any price); returns the filled lots.
    fn execute_taker(
        &mut self,
        pending: &mut Pending,
        taker_side: Side,
        taker_id: u64,
        limit: Option<i64>,
        lots: u64,
        now_ms: u64,
    ) -> u64 {
        let maker_side = taker_side.opposite();
        let mut matches = Vec::new();
        let mut touched = Vec::new();
        let unfilled = self
            .book_mut(maker_side)
            .take(limit, lots, &mut matches, &mut touched);
        for (ticks, total) in touched {
            pending.record(maker_side, ticks, total);
        }
        for m in matches {
            if m.maker_done {
                self.index.remove(m.maker_id);
            }
            let (price, qty) = (self.price(m.ticks), self.qty(m.lots));
            let (buyer_order_id, seller_order_id) = match taker_side {
                Side::Buy => (taker_id, m.maker_id),
                Side::Sell => (m.maker_id, taker_id),
            };
            pending.fills.push(Fill {
                trade_id: self.next_trade_id,
                price,
                qty,
                quote_qty: price * qty,
                time_ms: now_ms,
                buyer_is_maker: taker_side == Side::Sell,
                taker_order_id: taker_id,
                maker_order_id: m.maker_id,
                buyer_order_id,
                seller_order_id,
                update_id: pending.update_id,
            });
            self.next_trade_id += 1;
            self.last_trade_ticks = Some(m.ticks);
        }
        lots - unfilled
    }
}
