//! The local order book procedures as one pure state machine, no I/O, no
//! clock, no async: spot's (reference §2.3) and futures' (§5.4, USD-M and
//! COIN-M). They differ only in their rules; what a caller does is the same.
//!
//! 1. Feed every diff-depth event of one symbol ([`Diff`], from a spot
//!    [`market::DepthUpdate`](crate::market::DepthUpdate) or a futures
//!    [`futures::market::DepthUpdate`](crate::futures::market::DepthUpdate))
//!    to [`BookSync::push`] from the moment the stream is open; until a
//!    snapshot is given they are buffered.
//! 2. Give the REST snapshot (`/api/v3/depth`, `/fapi/v1/depth`,
//!    `/dapi/v1/depth`) to [`BookSync::snapshot`]; the buffered events are
//!    then processed in order, as later events are when pushed:
//!
//!    | rule | [`Procedure::Spot`] | [`Procedure::Futures`] |
//!    |---|---|---|
//!    | drop an event older than the snapshot | `u` ≤ `lastUpdateId` | `u` < `lastUpdateId` |
//!    | the first event kept must bracket it | `U` ≤ `lastUpdateId` + 1 | `U` ≤ `lastUpdateId` |
//!    | then each event continues the last `u` | `U` ≤ `u`₋₁ + 1 (`u` ≤ `u`₋₁: dropped) | `pu` = `u`₋₁ |
//!
//!    Spot's "snapshot too old" (`lastUpdateId` < the first buffered `U`)
//!    is the bracketing rule failing: a new snapshot is asked for and the
//!    buffer kept.
//! 3. A broken rule is a [`Gap`]: nothing more is applied, the events from
//!    the one that broke it on are buffered again, and
//!    [`BookSync::needs_snapshot`] says a new snapshot is wanted.
//!
//! Quantities are absolute, zero removes a level, and removing a level the
//! book does not hold is normal (nothing happens). The sync knows one
//! symbol: routing events by symbol is the caller's job.
//!
//! ```
//! use binance_types::book_sync::{BookSync, Outcome, SyncState};
//! use binance_types::futures::decode_futures;
//! use binance_types::futures::FuturesEvent;
//! let depth = |text: &str| match decode_futures(text.as_bytes()).unwrap().event {
//!     FuturesEvent::DepthUpdate(d) => d,
//!     _ => unreachable!(),
//! };
//! let mut sync = BookSync::futures();
//! let first = depth(r#"{"e":"depthUpdate","E":2,"T":1,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["10.0","1"]],"a":[]}"#);
//! assert!(matches!(sync.push(first), Outcome::Buffered { .. }));
//! let outcomes = sync.snapshot(158, &[], &[]);
//! assert!(matches!(outcomes[..], [Outcome::Applied { .. }]));
//! assert_eq!(sync.state(), SyncState::Synced);
//! assert_eq!(sync.book().unwrap().last_update_id(), 160);
//! ```

use std::collections::VecDeque;
use std::fmt;

use crate::book::{Level, OrderBook};
use crate::time::TimeUnit;

use crate::futures::market::DepthUpdate as FuturesDepthUpdate;
use crate::market::DepthUpdate as SpotDepthUpdate;

/// Which procedure a [`BookSync`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Procedure {
    /// Spot (reference §2.3): continuity by `U` = last `u` + 1.
    Spot,
    /// USD-M and COIN-M futures (§5.4): continuity by `pu` = last `u`.
    Futures,
}

/// The update ids of one diff-depth event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpdateIds {
    /// `U`: the first update id in the event.
    pub first: u64,
    /// `u`: the final update id in the event.
    pub last: u64,
    /// `pu`: the final update id of the event before it (futures only;
    /// spot events do not carry it).
    pub previous: Option<u64>,
}

impl<U: TimeUnit> From<&FuturesDepthUpdate<U>> for UpdateIds {
    fn from(d: &FuturesDepthUpdate<U>) -> Self {
        UpdateIds {
            first: d.first_update_id,
            last: d.final_update_id,
            previous: Some(d.previous_final_update_id),
        }
    }
}

impl<U: TimeUnit> From<&SpotDepthUpdate<U>> for UpdateIds {
    fn from(d: &SpotDepthUpdate<U>) -> Self {
        UpdateIds {
            first: d.first_update_id,
            last: d.final_update_id,
            previous: None,
        }
    }
}

impl fmt::Display for UpdateIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U={} u={}", self.first, self.last)?;
        match self.previous {
            Some(pu) => write!(f, " pu={pu}"),
            None => Ok(()),
        }
    }
}

/// One diff-depth event, as much as the procedure needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Its update ids.
    pub ids: UpdateIds,
    /// `b`: bids to set (quantity zero: remove).
    pub bids: Vec<Level>,
    /// `a`: asks to set.
    pub asks: Vec<Level>,
}

impl<U: TimeUnit> From<FuturesDepthUpdate<U>> for Diff {
    fn from(d: FuturesDepthUpdate<U>) -> Self {
        Diff {
            ids: UpdateIds::from(&d),
            bids: d.bids,
            asks: d.asks,
        }
    }
}

impl<U: TimeUnit> From<SpotDepthUpdate<U>> for Diff {
    fn from(d: SpotDepthUpdate<U>) -> Self {
        Diff {
            ids: UpdateIds::from(&d),
            bids: d.bids,
            asks: d.asks,
        }
    }
}

/// Why the events can no longer be applied to the book: a new snapshot is
/// needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gap {
    /// The first event after the snapshot (the first not dropped) does not
    /// bracket it: `U` > `lastUpdateId` (spot: `U` > `lastUpdateId` + 1),
    /// so updates between the snapshot and the event are missing (spot: the
    /// snapshot is too old).
    NotBracketing {
        /// The snapshot's `lastUpdateId`.
        last_update_id: u64,
        /// The event's ids.
        event: UpdateIds,
    },
    /// The event does not continue the previous one: futures, its `pu` is
    /// not the previous `u` (updates are missing, or the stream repeated or
    /// reordered events); spot, its `U` > previous `u` + 1.
    Discontinuous {
        /// The previous applied event's `u` (what `pu` had to be; spot: `U`
        /// had to be at most one more).
        expected_previous: u64,
        /// The event's ids.
        event: UpdateIds,
    },
}

impl Gap {
    /// The ids of the event that revealed the gap.
    pub fn event(&self) -> UpdateIds {
        match *self {
            Gap::NotBracketing { event, .. } | Gap::Discontinuous { event, .. } => event,
        }
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gap::NotBracketing {
                last_update_id,
                event,
            } => write!(
                f,
                "first event ({event}) does not bracket lastUpdateId {last_update_id}"
            ),
            Gap::Discontinuous {
                expected_previous,
                event,
            } => write!(
                f,
                "event ({event}) does not continue the previous u={expected_previous}"
            ),
        }
    }
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Held until a (new) snapshot is given.
    Buffered {
        /// The event's ids.
        event: UpdateIds,
    },
    /// Applied to the book; the book's update id is now the event's `u`.
    Applied {
        /// The event's ids.
        event: UpdateIds,
    },
    /// Dropped: the book already holds it (futures `u` < `lastUpdateId`;
    /// spot `u` ≤ the book's update id).
    Dropped {
        /// The book's update id (the snapshot's `lastUpdateId` before the
        /// first event).
        last_update_id: u64,
        /// The event's ids.
        event: UpdateIds,
    },
    /// Not applied, and nothing will be until a new snapshot is given: the
    /// event is buffered for it.
    Gap(Gap),
}

impl Outcome {
    /// The ids of the event this is about.
    pub fn event(&self) -> UpdateIds {
        match *self {
            Outcome::Buffered { event }
            | Outcome::Applied { event }
            | Outcome::Dropped { event, .. } => event,
            Outcome::Gap(gap) => gap.event(),
        }
    }
}

/// Where the procedure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// No usable snapshot: events are buffered. `gap` is why, when a
    /// snapshot was in use (`None` before the first snapshot).
    NeedSnapshot {
        /// The gap that ended the last sync, if any.
        gap: Option<Gap>,
    },
    /// A snapshot is loaded; waiting for the first event with `u` ≥
    /// `lastUpdateId`, which must bracket it.
    AwaitingFirstEvent {
        /// The snapshot's `lastUpdateId`.
        last_update_id: u64,
    },
    /// The first event bracketed the snapshot and every event since
    /// continued the one before: the book follows Binance's.
    Synced,
}

/// One symbol's order book kept by a [`Procedure`]: owns an
/// [`OrderBook`], takes diff-depth events and snapshots, and says what it
/// did with each event.
///
/// The buffer is unbounded: a caller that cannot get a snapshot for a long
/// time should drop the sync and start again.
#[derive(Debug, Clone)]
pub struct BookSync {
    procedure: Procedure,
    book: OrderBook,
    state: SyncState,
    buffer: VecDeque<Diff>,
}

impl BookSync {
    /// A futures (§5.4) sync with an empty, unbounded book, buffering
    /// until a snapshot.
    pub fn futures() -> Self {
        Self::with_book(Procedure::Futures, OrderBook::new())
    }

    /// A spot (§2.3) sync with an empty, unbounded book.
    pub fn spot() -> Self {
        Self::with_book(Procedure::Spot, OrderBook::new())
    }

    /// A sync by `procedure` keeping its levels in `book` (e.g.
    /// [`OrderBook::with_max_depth`]); its content is replaced by the first
    /// snapshot.
    pub fn with_book(procedure: Procedure, book: OrderBook) -> Self {
        BookSync {
            procedure,
            book,
            state: SyncState::NeedSnapshot { gap: None },
            buffer: VecDeque::new(),
        }
    }

    /// The procedure it follows.
    pub fn procedure(&self) -> Procedure {
        self.procedure
    }

    /// Where the procedure is.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// True when events are being buffered for a (new) snapshot.
    pub fn needs_snapshot(&self) -> bool {
        matches!(self.state, SyncState::NeedSnapshot { .. })
    }

    /// True when the book follows Binance's ([`SyncState::Synced`]).
    pub fn is_synced(&self) -> bool {
        self.state == SyncState::Synced
    }

    /// The book, only while [`Synced`](SyncState::Synced): a book that is
    /// not known to be right is not shown.
    pub fn book(&self) -> Option<&OrderBook> {
        self.is_synced().then_some(&self.book)
    }

    /// How many events are buffered.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// One diff-depth event of this symbol, in the order received.
    pub fn push(&mut self, event: impl Into<Diff>) -> Outcome {
        self.push_keeping(event).0
    }

    /// [`push`](Self::push), giving the event back when it was applied (or
    /// dropped), so a caller passing its levels on need not copy them.
    pub fn push_keeping(&mut self, event: impl Into<Diff>) -> (Outcome, Option<Diff>) {
        let pending = event.into();
        if self.needs_snapshot() {
            let event = pending.ids;
            self.buffer.push_back(pending);
            return (Outcome::Buffered { event }, None);
        }
        self.process(pending)
    }

    /// A REST snapshot (`lastUpdateId`, bids, asks): replaces the book and
    /// processes the buffered events in order, returning what happened to
    /// each (one outcome per buffered event; after a gap the rest stay
    /// buffered and are reported [`Outcome::Buffered`]).
    ///
    /// A snapshot may be given in any state; it restarts the procedure.
    pub fn snapshot(
        &mut self,
        last_update_id: u64,
        bids: &[Level],
        asks: &[Level],
    ) -> Vec<Outcome> {
        self.book.load_snapshot(last_update_id, bids, asks);
        self.state = SyncState::AwaitingFirstEvent { last_update_id };
        let buffered = std::mem::take(&mut self.buffer);
        buffered
            .into_iter()
            .map(|pending| {
                if self.needs_snapshot() {
                    let event = pending.ids;
                    self.buffer.push_back(pending);
                    Outcome::Buffered { event }
                } else {
                    self.process(pending).0
                }
            })
            .collect()
    }

    /// Apply the rules to one event while a snapshot is in use; the event
    /// back unless it was buffered.
    fn process(&mut self, pending: Diff) -> (Outcome, Option<Diff>) {
        let event = pending.ids;
        let spot = self.procedure == Procedure::Spot;
        let gap = match self.state {
            SyncState::NeedSnapshot { .. } => unreachable!("buffered before processing"),
            SyncState::AwaitingFirstEvent { last_update_id } => {
                if event.last < last_update_id || (spot && event.last == last_update_id) {
                    let dropped = Outcome::Dropped {
                        last_update_id,
                        event,
                    };
                    return (dropped, Some(pending));
                }
                let reach = last_update_id + u64::from(spot);
                (event.first > reach).then_some(Gap::NotBracketing {
                    last_update_id,
                    event,
                })
            }
            SyncState::Synced => {
                let expected_previous = self.book.last_update_id();
                let continues = match (self.procedure, event.previous) {
                    (Procedure::Futures, previous) => previous == Some(expected_previous),
                    (Procedure::Spot, _) if event.last <= expected_previous => {
                        let dropped = Outcome::Dropped {
                            last_update_id: expected_previous,
                            event,
                        };
                        return (dropped, Some(pending));
                    }
                    (Procedure::Spot, _) => event.first <= expected_previous + 1,
                };
                (!continues).then_some(Gap::Discontinuous {
                    expected_previous,
                    event,
                })
            }
        };
        match gap {
            Some(gap) => {
                self.state = SyncState::NeedSnapshot { gap: Some(gap) };
                self.buffer.push_back(pending);
                (Outcome::Gap(gap), None)
            }
            None => {
                self.book.apply(event.last, &pending.bids, &pending.asks);
                self.state = SyncState::Synced;
                (Outcome::Applied { event }, Some(pending))
            }
        }
    }
}
