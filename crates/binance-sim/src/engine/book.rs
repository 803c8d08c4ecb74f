//! The order book proper, in integer ticks (prices) and lots (quantities).
//!
//! Working in integers keeps matching exact and cheap; conversion to
//! `Decimal` happens only at the engine's public boundary.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand::Rng;

use super::Side;

/// Map key for a price on `side`, chosen so that ascending key order is
/// best-first on both sides (bids are stored negated). Negation is its own
/// inverse, so the same function maps a key back to ticks.
pub(super) fn side_key(side: Side, ticks: i64) -> i64 {
    match side {
        Side::Buy => -ticks,
        Side::Sell => ticks,
    }
}

/// Whether a taker with limit `limit` (`None` = market) accepts a maker on
/// `maker_side` priced at `ticks`.
fn accepts(maker_side: Side, limit: Option<i64>, ticks: i64) -> bool {
    limit.is_none_or(|l| side_key(maker_side, ticks) <= side_key(maker_side, l))
}

/// One resting order.
#[derive(Debug, Clone)]
pub(super) struct RestingOrder {
    pub(super) id: u64,
    /// Open quantity.
    pub(super) lots: u64,
    pub(super) orig_lots: u64,
    /// Placed by the synthetic flow (which may cancel it) rather than a user.
    pub(super) synthetic: bool,
}

/// All orders at one price, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct Level {
    pub(super) total: u64,
    pub(super) orders: VecDeque<RestingOrder>,
}

/// One maker execution produced by [`BookSide::take`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Match {
    pub(super) maker_id: u64,
    pub(super) ticks: i64,
    pub(super) lots: u64,
    /// The maker order is completely filled and left the book.
    pub(super) maker_done: bool,
}

/// One side of the book.
#[derive(Debug, Clone)]
pub(super) struct BookSide {
    side: Side,
    /// Keyed by [`side_key`], so the first entry is the best level.
    levels: BTreeMap<i64, Level>,
    total_lots: u64,
}

impl BookSide {
    pub(super) fn new(side: Side) -> BookSide {
        BookSide {
            side,
            levels: BTreeMap::new(),
            total_lots: 0,
        }
    }

    /// Number of price levels.
    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Sum of all resting lots on this side.
    pub(super) fn total_lots(&self) -> u64 {
        self.total_lots
    }

    /// Best `(ticks, total lots)`.
    pub(super) fn best(&self) -> Option<(i64, u64)> {
        self.levels
            .first_key_value()
            .map(|(&k, l)| (side_key(self.side, k), l.total))
    }

    /// Worst (furthest from the touch) `(ticks, total lots)`.
    pub(super) fn worst(&self) -> Option<(i64, u64)> {
        self.levels
            .last_key_value()
            .map(|(&k, l)| (side_key(self.side, k), l.total))
    }

    /// `(ticks, total lots)` per level, best first.
    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.levels
            .iter()
            .map(|(&k, l)| (side_key(self.side, k), l.total))
    }

    pub(super) fn level(&self, ticks: i64) -> Option<&Level> {
        self.levels.get(&side_key(self.side, ticks))
    }

    /// Appends an order at the back of its level's queue; returns the level's
    /// new total.
    pub(super) fn push(&mut self, ticks: i64, order: RestingOrder) -> u64 {
        let level = self.levels.entry(side_key(self.side, ticks)).or_default();
        level.total += order.lots;
        self.total_lots += order.lots;
        level.orders.push_back(order);
        level.total
    }

    /// Removes order `id` resting at `ticks`; returns it with the level's new
    /// total (zero = level gone).
    pub(super) fn remove(&mut self, ticks: i64, id: u64) -> Option<(RestingOrder, u64)> {
        let key = side_key(self.side, ticks);
        let level = self.levels.get_mut(&key)?;
        let pos = level.orders.iter().position(|o| o.id == id)?;
        let order = level.orders.remove(pos)?;
        level.total -= order.lots;
        self.total_lots -= order.lots;
        let total = level.total;
        if total == 0 {
            self.levels.remove(&key);
        }
        Some((order, total))
    }

    /// Lots available to a taker with limit `limit`, counted best-first and
    /// stopping once `need` is reached (enough to decide a FOK).
    pub(super) fn available(&self, limit: Option<i64>, need: u64) -> u64 {
        let mut sum = 0;
        for (ticks, total) in self.iter() {
            if sum >= need || !accepts(self.side, limit, ticks) {
                break;
            }
            sum += total;
        }
        sum
    }

    /// Matches a taker of `lots` against this side in price-time priority,
    /// stopping at `limit`. Appends one [`Match`] per maker hit and one
    /// `(ticks, new total)` per level touched; returns the unfilled lots.
    pub(super) fn take(
        &mut self,
        limit: Option<i64>,
        mut lots: u64,
        matches: &mut Vec<Match>,
        touched: &mut Vec<(i64, u64)>,
    ) -> u64 {
        while lots > 0 {
            let Some(mut entry) = self.levels.first_entry() else {
                break;
            };
            let ticks = side_key(self.side, *entry.key());
            if !accepts(self.side, limit, ticks) {
                break;
            }
            let level = entry.get_mut();
            while lots > 0 {
                let Some(maker) = level.orders.front_mut() else {
                    break;
                };
                let q = lots.min(maker.lots);
                maker.lots -= q;
                level.total -= q;
                self.total_lots -= q;
                lots -= q;
                let maker_done = maker.lots == 0;
                matches.push(Match {
                    maker_id: maker.id,
                    ticks,
                    lots: q,
                    maker_done,
                });
                if maker_done {
                    level.orders.pop_front();
                }
            }
            touched.push((ticks, level.total));
            if level.total == 0 {
                entry.remove();
            }
        }
        lots
    }
}

/// Where a resting order is, plus its slot in the synthetic list.
#[derive(Debug, Clone, Copy)]
pub(super) struct OrderLoc {
    pub(super) side: Side,
    pub(super) ticks: i64,
    synth_slot: Option<usize>,
}

/// Index of resting orders by id, for O(1) cancels, and of the synthetic ones
/// per side in a dense vector, for O(1) uniform random picks.
///
/// The hash map is only ever looked up, never iterated, so it cannot break
/// reproducibility.
#[derive(Debug, Clone, Default)]
pub(super) struct OrderIndex {
    locs: HashMap<u64, OrderLoc>,
    synthetic: [Vec<u64>; 2],
}

fn side_slot(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl OrderIndex {
    pub(super) fn insert(&mut self, id: u64, side: Side, ticks: i64, synthetic: bool) {
        let synth_slot = synthetic.then(|| {
            let list = &mut self.synthetic[side_slot(side)];
            list.push(id);
            list.len() - 1
        });
        self.locs.insert(
            id,
            OrderLoc {
                side,
                ticks,
                synth_slot,
            },
        );
    }

    pub(super) fn get(&self, id: u64) -> Option<OrderLoc> {
        self.locs.get(&id).copied()
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<OrderLoc> {
        let loc = self.locs.remove(&id)?;
        if let Some(slot) = loc.synth_slot {
            let list = &mut self.synthetic[side_slot(loc.side)];
            list.swap_remove(slot);
            if let Some(&moved) = list.get(slot) {
                if let Some(moved_loc) = self.locs.get_mut(&moved) {
                    moved_loc.synth_slot = Some(slot);
                }
            }
        }
        Some(loc)
    }

    /// Number of resting synthetic orders on `side`.
    pub(super) fn synthetic_count(&self, side: Side) -> usize {
        self.synthetic[side_slot(side)].len()
    }

    /// A uniformly random resting synthetic order on `side`.
    pub(super) fn random_synthetic(&self, side: Side, rng: &mut impl Rng) -> Option<u64> {
        let list = &self.synthetic[side_slot(side)];
        if list.is_empty() {
            None
        } else {
            Some(list[rng.gen_range(0..list.len())])
        }
    }
}
