//! Log of the level changes of the last update ids, for rebuilding the true
//! book at any of them.
//!
//! A change costs 32 bytes; a full book checkpoint every
//! [`CHECKPOINT_INTERVAL`] update ids keeps a lookup to at most that many
//! replayed events. With a window of `w` update ids, the oldest checkpoint
//! still needed for the last `w` ids is the floor: everything before it is
//! dropped whenever a checkpoint is made, so between `w` and
//! `w + 2 * CHECKPOINT_INTERVAL` ids are kept.

use std::collections::{BTreeMap, VecDeque};

use super::book::BookSide;
use super::recent::Recent;
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
    /// Number of changes logged so far (all reflected in `book`).
    applied: u64,
    book: RawBook,
}

/// The change log, ordered by update id, and its checkpoints.
#[derive(Debug, Clone)]
pub(super) struct History {
    changes: Recent<RawChange>,
    /// Oldest first; never empty (the empty book at update id 0 to begin with).
    checkpoints: VecDeque<Checkpoint>,
    /// Update ids to keep answering for (`None`: all).
    window: Option<u64>,
}

impl History {
    pub(super) fn new(window: Option<u64>) -> Self {
        History {
            changes: Recent::default(),
            checkpoints: VecDeque::from([Checkpoint {
                update_id: 0,
                applied: 0,
                book: RawBook::default(),
            }]),
            window,
        }
    }

    /// Keep answering for the last `window` update ids (`None`: all); takes
    /// effect at the next checkpoint.
    pub(super) fn set_window(&mut self, window: Option<u64>) {
        self.window = window.map(|w| w.max(1));
    }

    pub(super) fn push(&mut self, change: RawChange) {
        debug_assert!(self
            .changes
            .as_slice()
            .last()
            .is_none_or(|last| last.update_id <= change.update_id));
        self.changes.push(change);
    }

    /// Called after the event `update_id` is fully logged, with the live
    /// book; returns the new floor when it made a checkpoint.
    pub(super) fn maybe_checkpoint(
        &mut self,
        update_id: u64,
        bids: &BookSide,
        asks: &BookSide,
    ) -> Option<u64> {
        if update_id % CHECKPOINT_INTERVAL != 0 {
            return None;
        }
        self.checkpoints.push_back(Checkpoint {
            update_id,
            applied: self.changes.end(),
            book: RawBook {
                bids: bids.iter().collect(),
                asks: asks.iter().collect(),
            },
        });
        if let Some(window) = self.window {
            let oldest_wanted = (update_id + 1).saturating_sub(window);
            while self
                .checkpoints
                .get(1)
                .is_some_and(|c| c.update_id <= oldest_wanted)
            {
                self.checkpoints.pop_front();
            }
            let floor = self.floor();
            let stale = self
                .changes
                .as_slice()
                .partition_point(|c| c.update_id < floor);
            self.changes.forget(stale);
        }
        Some(self.floor())
    }

    /// The oldest update id [`History::book_at`] answers for.
    pub(super) fn floor(&self) -> u64 {
        self.checkpoints[0].update_id
    }

    /// The book right after event `update_id` (0 = before anything
    /// happened); `None` below the floor.
    pub(super) fn book_at(&self, update_id: u64) -> Option<RawBook> {
        if update_id < self.floor() {
            return None;
        }
        let cp = self
            .checkpoints
            .partition_point(|c| c.update_id <= update_id);
        let checkpoint = &self.checkpoints[cp - 1];
        let mut book = checkpoint.book.clone();
        let start = (checkpoint.applied - self.changes.start()) as usize;
        for c in self.changes.as_slice()[start..]
            .iter()
            .take_while(|c| c.update_id <= update_id)
        {
            book.apply(c);
        }
        Some(book)
    }

    /// Changes with `from <= update_id <= to`, in order; `None` when `from`
    /// is below the floor (its changes are gone).
    pub(super) fn range(&self, from: u64, to: u64) -> Option<&[RawChange]> {
        if from < self.floor() {
            return None;
        }
        let changes = self.changes.as_slice();
        let start = changes.partition_point(|c| c.update_id < from);
        let end = changes.partition_point(|c| c.update_id <= to);
        Some(&changes[start..end.max(start)])
    }

    /// Changes and checkpoints in storage (tests check they stay bounded).
    #[cfg(test)]
    pub(super) fn stored(&self) -> (usize, usize) {
        (self.changes.stored(), self.checkpoints.len())
    }
}
