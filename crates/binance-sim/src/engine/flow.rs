//! Synthetic order flow: initial seeding and the action chosen by each step.
//!
//! The flow is symmetric, so the mid does a slow random walk: takers consume
//! levels on one side and new orders are placed relative to the current
//! touch. Depth is steered towards `target_depth` levels per side: a thin
//! side gets deeper orders, an overfull side loses its deepest orders, and an
//! order count cap keeps queues from growing without bound.

use rand::Rng;

use super::{Engine, Pending, Side, StepAction};

/// Cap on synthetic orders per side, as a multiple of `target_depth`.
const MAX_ORDERS_PER_LEVEL: usize = 4;
/// Probability that a seeded level is left empty (makes the book look real).
const SEED_GAP_PROBABILITY: f64 = 0.08;

/// A configured probability made safe for `gen_bool` (NaN counts as 0).
fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Cancel,
    Take,
}

impl Engine {
    /// Seeds `target_depth` levels per side around the initial price (best
    /// bid at the initial price, best ask one tick above), one to three
    /// orders per level, each order its own book event.
    pub(super) fn seed_book(&mut self) {
        let mid = self.initial_ticks;
        for i in 0..self.flow.target_depth as i64 {
            for (side, ticks) in [(Side::Buy, mid - i), (Side::Sell, mid + 1 + i)] {
                if !(self.min_ticks..=self.max_ticks).contains(&ticks)
                    || self.rng.gen_bool(SEED_GAP_PROBABILITY)
                {
                    continue;
                }
                for _ in 0..self.rng.gen_range(1..=3) {
                    let lots = self.random_lots();
                    let id = self.next_id();
                    let mut pending = self.begin();
                    self.rest(&mut pending, side, ticks, id, lots, lots, true);
                    self.commit(pending);
                }
            }
        }
    }

    /// Chooses and performs one synthetic action into `pending`.
    pub(super) fn synthetic_action(&mut self, pending: &mut Pending, now_ms: u64) -> StepAction {
        // Refill an empty side first: the book must stay two-sided.
        for side in [Side::Buy, Side::Sell] {
            if self.book(side).is_empty() {
                return self.synthetic_add(pending, side);
            }
        }
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let target = self.flow.target_depth;
        let kind = if self.book(side).len() < target / 2 {
            Kind::Add
        } else {
            self.roll_kind()
        };
        let kind = match kind {
            // Queues would otherwise grow forever: adds outnumber removals.
            Kind::Add if self.index.synthetic_count(side) > target * MAX_ORDERS_PER_LEVEL => {
                Kind::Cancel
            }
            k => k,
        };
        let done = match kind {
            Kind::Add => None,
            Kind::Cancel => self.synthetic_cancel(pending, side),
            Kind::Take => self.synthetic_take(pending, side, now_ms),
        };
        // Whatever could not be done becomes an add, so every step changes
        // the book.
        done.unwrap_or_else(|| self.synthetic_add(pending, side))
    }

    fn roll_kind(&mut self) -> Kind {
        let f = &self.flow;
        let weights = [
            (Kind::Take, f.take_probability.max(0.0)),
            (Kind::Cancel, f.cancel_probability.max(0.0)),
        ];
        let total = weights.iter().map(|w| w.1).sum::<f64>() + f.add_probability.max(0.0);
        if total.is_nan() || total <= 0.0 {
            return Kind::Add;
        }
        let mut u = self.rng.gen::<f64>() * total;
        for (kind, w) in weights {
            if u < w {
                return kind;
            }
            u -= w;
        }
        Kind::Add
    }

    /// Log-uniform order size in lots within the flow's range and `min_qty`.
    fn random_lots(&mut self) -> u64 {
        let lo = self.flow.min_lots.max(self.min_lots);
        let hi = self.flow.max_lots.max(lo);
        let (ln_lo, ln_hi) = ((lo as f64).ln(), ((hi + 1) as f64).ln());
        let x = (ln_lo + self.rng.gen::<f64>() * (ln_hi - ln_lo)).exp();
        (x as u64).clamp(lo, hi)
    }

    /// Distance from the opposite touch for a near order: 1 + Exp(mean).
    fn near_offset(&mut self) -> i64 {
        let mean = self.flow.mean_offset_ticks.max(0.0);
        let u: f64 = self.rng.gen();
        let x = -mean * (1.0 - u).ln();
        let cap = self.flow.max_offset_ticks.clamp(1, 1 << 40) as i64;
        (1 + x as i64).clamp(1, cap)
    }

    /// Price new passive orders on `side` are placed relative to: the
    /// opposite best, else just beyond the own best, else the last trade
    /// (or initial price).
    fn anchor(&self, side: Side) -> i64 {
        let reference = self.last_trade_ticks.unwrap_or(self.initial_ticks);
        let toward_book = match side {
            Side::Buy => 1,
            Side::Sell => -1,
        };
        self.book(side.opposite())
            .best()
            .map(|(t, _)| t)
            .or_else(|| self.book(side).best().map(|(t, _)| t + toward_book))
            .unwrap_or(reference + toward_book)
    }

    /// Inclusive range of valid ticks for a non-crossing order on `side`.
    fn passive_range(&self, side: Side) -> Option<(i64, i64)> {
        let (lo, hi) = match side {
            Side::Buy => (
                self.min_ticks,
                self.asks
                    .best()
                    .map_or(self.max_ticks, |(a, _)| (a - 1).min(self.max_ticks)),
            ),
            Side::Sell => (
                self.bids
                    .best()
                    .map_or(self.min_ticks, |(b, _)| (b + 1).max(self.min_ticks)),
                self.max_ticks,
            ),
        };
        (lo <= hi).then_some((lo, hi))
    }

    /// Price for a new synthetic passive order on `side`.
    fn passive_price(&mut self, side: Side) -> Option<i64> {
        let (lo, hi) = self.passive_range(side)?;
        let away = |from: i64, off: i64| match side {
            Side::Buy => from - off,
            Side::Sell => from + off,
        };
        let target = self.flow.target_depth;
        let worst = self.book(side).worst().map(|(t, _)| t);
        let ticks = if self.book(side).len() < target && self.rng.gen_bool(0.5) {
            // Thin side: deepen it, either just past the deepest level or
            // anywhere within the target range (which fills gaps).
            match worst {
                Some(w) if self.rng.gen_bool(0.5) => away(w, self.rng.gen_range(1..=3)),
                _ => {
                    let span = (target as i64 * 5 / 4).max(1);
                    away(self.anchor(side), self.rng.gen_range(1..=span))
                }
            }
        } else {
            away(self.anchor(side), self.near_offset())
        };
        Some(ticks.clamp(lo, hi))
    }

    /// Adds a synthetic limit order on `side` (or, if no valid price exists
    /// there, on the other side).
    fn synthetic_add(&mut self, pending: &mut Pending, side: Side) -> StepAction {
        for side in [side, side.opposite()] {
            if let Some(ticks) = self.passive_price(side) {
                let lots = self.random_lots();
                let id = self.next_id();
                self.rest(pending, side, ticks, id, lots, lots, true);
                return StepAction::Add {
                    order_id: id,
                    side,
                    price: self.price(ticks),
                    qty: self.qty(lots),
                };
            }
        }
        StepAction::Idle
    }

    /// Cancels one synthetic order on `side`: from the deepest level when the
    /// side is overfull, else a uniformly random one.
    fn synthetic_cancel(&mut self, pending: &mut Pending, side: Side) -> Option<StepAction> {
        let book = self.book(side);
        let deepest = if book.len() > self.flow.target_depth {
            book.worst()
                .and_then(|(t, _)| book.level(t))
                .and_then(|level| level.orders.iter().rev().find(|o| o.synthetic))
                .map(|o| o.id)
        } else {
            None
        };
        let id = deepest.or_else(|| self.index.random_synthetic(side, &mut self.rng))?;
        let (loc, order) = self.remove_resting(pending, id)?;
        Some(StepAction::Cancel {
            order_id: id,
            side,
            price: self.price(loc.ticks),
            qty: self.qty(order.lots),
        })
    }

    /// Sends a synthetic market order on `side`. It never empties the
    /// opposite side; sometimes it is sized to sweep several levels exactly.
    fn synthetic_take(
        &mut self,
        pending: &mut Pending,
        side: Side,
        now_ms: u64,
    ) -> Option<StepAction> {
        let levels = self.book(side.opposite()).len();
        let max_sweep = self.flow.max_sweep_levels.min(levels.saturating_sub(1));
        let sweep_levels = (max_sweep >= 2
            && self
                .rng
                .gen_bool(clamp_probability(self.flow.sweep_probability)))
        .then(|| self.rng.gen_range(2..=max_sweep));
        let lots = match sweep_levels {
            Some(k) => {
                // All of the first k-1 levels plus part or all of the k-th.
                // Borrow the field, not `self`, so `self.rng` stays usable.
                let book = match side {
                    Side::Buy => &self.asks,
                    Side::Sell => &self.bids,
                };
                let mut sizes = book.iter().map(|(_, l)| l);
                let before: u64 = sizes.by_ref().take(k - 1).sum();
                let kth = sizes.next()?;
                before + self.rng.gen_range(1..=kth)
            }
            None => self.random_lots(),
        };
        let lots = lots.max(self.min_lots);
        // Leave at least one lot resting so the book stays two-sided.
        if lots >= self.book(side.opposite()).total_lots() {
            return None;
        }
        let id = self.next_id();
        let filled = self.execute_taker(pending, side, id, None, lots, now_ms);
        debug_assert_eq!(filled, lots);
        Some(StepAction::Take {
            order_id: id,
            side,
            qty: self.qty(lots),
        })
    }
}
