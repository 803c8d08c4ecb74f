//! Log of every level change since the engine started, for rebuilding the
//! true book at any past update id.
//!
//! Everything is kept in memory (32 bytes per level change, plus a full book
//! checkpoint every [`CHECKPOINT_INTERVAL`] update ids so that a lookup
//! replays at most that many events instead of the whole log).

use std::collections::BTreeMap;

use super::book::BookSide;
use super::Side;

/// Update ids between two checkpoints.
pub(super) const CHECKPOINT_INTERVAL: u64 = 1024;

/// A level change in ticks and lots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawChange {
    pub(super) update_id: u64,
    pub(super) side: Side,
    pub(super) ticks: i64,
    /// New absolute total; zero = level removed.
    pub(super) lots: u64,
}

/// Both sides of a book as plain `ticks -> lots` maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RawBook {
    pub(super) bids: BTreeMap<i64, u64>,
    pub(super) asks: BTreeMap<i64, u64>,
}

impl RawBook {
    fn apply(&mut self, c: &RawChange) {
        let side = match c.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if c.lots == 0 {
            side.remove(&c.ticks);
        } else {
            side.insert(c.ticks, c.lots);
        }
    }
}

#[derive(Debug, Clone)]
struct Checkpoint {
    update_id: u64,
    /// Number of log entries already reflected in `book`.
    applied: usize,
    book: RawBook,
}

/// The change log, ordered by update id.
#[derive(Debug, Clone, Default)]
pub(super) struct History {
    changes: Vec<RawChange>,
    checkpoints: Vec<Checkpoint>,
}

impl History {
    pub(super) fn push(&mut self, change: RawChange) {
        debug_assert!(self
            .changes
            .last()
            .is_none_or(|last| last.update_id <= change.update_id));
        self.changes.push(change);
    }

    /// Called after the event `update_id` is fully logged, with the live book.
    pub(super) fn maybe_checkpoint(&mut self, update_id: u64, bids: &BookSide, asks: &BookSide) {
        if update_id % CHECKPOINT_INTERVAL != 0 {
            return;
        }
        self.checkpoints.push(Checkpoint {
            update_id,
            applied: self.changes.len(),
            book: RawBook {
                bids: bids.iter().collect(),
                asks: asks.iter().collect(),
            },
        });
    }

    /// The book right after event `update_id` (0 = before anything happened).
    pub(super) fn book_at(&self, update_id: u64) -> RawBook {
        let cp = self
            .checkpoints
            .partition_point(|c| c.update_id <= update_id);
        let (mut book, start) = match cp.checked_sub(1).map(|i| &self.checkpoints[i]) {
            Some(c) => (c.book.clone(), c.applied),
            None => (RawBook::default(), 0),
        };
        for c in self.changes[start..]
            .iter()
            .take_while(|c| c.update_id <= update_id)
        {
            book.apply(c);
        }
        book
    }

    /// Changes with `from <= update_id <= to`, in order.
    pub(super) fn range(&self, from: u64, to: u64) -> &[RawChange] {
        let start = self.changes.partition_point(|c| c.update_id < from);
        let end = self.changes.partition_point(|c| c.update_id <= to);
        &self.changes[start..end.max(start)]
    }
}
