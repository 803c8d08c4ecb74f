//! A reader's bounded queue. The producing task pushes without ever
//! waiting; the overflow policy decides what gives when the reader is slow.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use binance_types::TimeUnit;
use tokio::sync::Notify;

use crate::config::Overflow;
use crate::error::{Error, ErrorKind};
use crate::message::{Message, RawFrame, Status};

/// What a connection hands a socket: a frame still to decode (the socket
/// decodes it, in its reader's time), or a status (boxed: rare, and a queue
/// of frames stays small).
pub(crate) enum Entry<U: TimeUnit> {
    Frame(RawFrame),
    Status(Box<Status>, std::marker::PhantomData<U>),
    /// What a backfill brought back (market sockets' own).
    Backfill(Box<crate::ledger::Filled>),
}

impl<U: TimeUnit> Entry<U> {
    pub fn status(status: Status) -> Self {
        Entry::Status(Box::new(status), std::marker::PhantomData)
    }
}

/// What a queue holds.
pub(crate) trait Queued: Send {
    /// The item that tells the reader how many were dropped.
    fn lagged(dropped: u64) -> Self;
    /// Whether a slow reader may lose it: data may go, statuses never.
    fn droppable(&self) -> bool;
}

impl<U: TimeUnit> Queued for Entry<U> {
    fn lagged(dropped: u64) -> Self {
        Entry::status(Status::Lagged { dropped })
    }

    fn droppable(&self) -> bool {
        matches!(self, Entry::Frame(_))
    }
}

impl<U: TimeUnit> Queued for Message<U> {
    fn lagged(dropped: u64) -> Self {
        Message::lagged(dropped)
    }

    fn droppable(&self) -> bool {
        !matches!(self, Message::Status(_))
    }
}

struct QueueState<T> {
    items: VecDeque<T>,
    dropped: u64,
    end: Option<Error>,
    /// The producer found the queue full and waits for room.
    wants_room: bool,
}

/// One reader's queue of `T`.
pub(crate) struct Queue<T> {
    inner: Mutex<QueueState<T>>,
    notify: Notify,
    /// Woken when a full queue has drained to half (see [`Queue::room`]).
    room: Notify,
    capacity: usize,
    overflow: Overflow,
}

impl<T: Queued> Queue<T> {
    pub fn new(capacity: usize, overflow: Overflow) -> Self {
        Queue {
            inner: Mutex::new(QueueState {
                items: VecDeque::with_capacity(capacity.min(1024)),
                dropped: 0,
                end: None,
                wants_room: false,
            }),
            notify: Notify::new(),
            room: Notify::new(),
            capacity: capacity.max(1),
            overflow,
        }
    }

    /// Items it holds before the overflow policy applies.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Add an item; never waits.
    pub fn push(&self, item: T) {
        self.push_many(std::iter::once(item));
    }

    /// Add an item past the capacity, dropping nothing: for statuses, which
    /// must neither be lost nor push out data a producer held back for.
    pub fn push_over(&self, item: T) {
        let mut inner = self.inner.lock().unwrap();
        if inner.end.is_none() {
            inner.items.push_back(item);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// How many items fit before the overflow policy applies (`usize::MAX`
    /// once the queue has ended: pushes are then discarded). At zero, the
    /// reader is asked to wake [`Queue::room`] when it has read half.
    pub fn space(&self) -> usize {
        let mut inner = self.inner.lock().unwrap();
        if inner.end.is_some() {
            return usize::MAX;
        }
        let space = self.capacity.saturating_sub(inner.items.len());
        if space == 0 {
            inner.wants_room = true;
        }
        space
    }

    /// Wait until a queue that [`Queue::space`] found full has drained to
    /// half (or ended).
    pub async fn room(&self) {
        self.room.notified().await;
    }

    /// Add items under one lock past the capacity, dropping nothing (the
    /// producer bounded them by the room it saw); never waits.
    pub fn push_many_over(&self, items: &mut dyn Iterator<Item = T>) {
        let mut inner = self.inner.lock().unwrap();
        if inner.end.is_none() {
            inner.items.extend(items);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Add items under one lock; never waits.
    pub fn push_many(&self, items: impl Iterator<Item = T>) {
        let mut inner = self.inner.lock().unwrap();
        for item in items {
            self.admit(&mut inner);
            if inner.end.is_some() {
                break;
            }
            inner.items.push_back(item);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Make room for one more item under the overflow policy.
    fn admit(&self, inner: &mut QueueState<T>) {
        if inner.end.is_some() || inner.items.len() < self.capacity {
            return;
        }
        match self.overflow {
            // The oldest data goes; statuses stay (a queue of nothing but
            // statuses grows past its capacity rather than lose one).
            Overflow::DropOldest => {
                if let Some(at) = inner.items.iter().position(T::droppable) {
                    inner.items.remove(at);
                    inner.dropped += 1;
                }
            }
            Overflow::Error => {
                inner.items.clear();
                inner.end = Some(Error::new(
                    ErrorKind::Overflow {
                        capacity: self.capacity,
                    },
                    format!(
                        "queue overflow: the reader fell {} messages behind",
                        self.capacity
                    ),
                ));
            }
        }
    }

    /// End the queue: after what is queued, the reader gets `error`.
    pub fn end(&self, error: Error) {
        let mut inner = self.inner.lock().unwrap();
        if inner.end.is_none() {
            inner.end = Some(error);
        }
        drop(inner);
        self.notify.notify_one();
        self.room.notify_one();
    }

    /// End the queue now, dropping what is queued: the reader's next call
    /// gets `error`.
    pub fn close(&self, error: Error) {
        let mut inner = self.inner.lock().unwrap();
        inner.items.clear();
        inner.dropped = 0;
        inner.end = Some(error);
        drop(inner);
        self.notify.notify_one();
        self.room.notify_one();
    }

    /// The next item if one is ready, without waiting; a lagged notice first
    /// when items were dropped.
    pub fn try_pop(&self) -> Option<Result<T, Error>> {
        let mut inner = self.inner.lock().unwrap();
        if inner.dropped > 0 {
            let dropped = std::mem::take(&mut inner.dropped);
            return Some(Ok(T::lagged(dropped)));
        }
        if let Some(item) = inner.items.pop_front() {
            // Half read: wake a producer waiting for room (hysteresis, so it
            // is woken once per half queue, not once per item).
            if inner.wants_room && inner.items.len() <= self.capacity / 2 {
                inner.wants_room = false;
                drop(inner);
                self.room.notify_one();
            }
            return Some(Ok(item));
        }
        inner.end.clone().map(Err)
    }

    /// Move up to `max` items that are ready into `out` (a lagged notice
    /// first when items were dropped), under one lock; how many, or the
    /// end when none is left.
    pub fn try_pop_many(
        &self,
        out: &mut impl Extend<T>,
        max: usize,
    ) -> Option<Result<usize, Error>> {
        let mut inner = self.inner.lock().unwrap();
        let mut taken = 0;
        if inner.dropped > 0 && max > 0 {
            out.extend(std::iter::once(T::lagged(std::mem::take(
                &mut inner.dropped,
            ))));
            taken += 1;
        }
        let take = (max - taken).min(inner.items.len());
        out.extend(inner.items.drain(..take));
        taken += take;
        let wake = inner.wants_room && inner.items.len() <= self.capacity / 2;
        if wake {
            inner.wants_room = false;
        }
        let result = match taken {
            0 => inner.end.clone().map(Err),
            n => Some(Ok(n)),
        };
        drop(inner);
        if wake {
            self.room.notify_one();
        }
        result
    }

    /// The next item, waiting for one.
    pub async fn pop(&self) -> Result<T, Error> {
        loop {
            if let Some(result) = self.try_pop() {
                return result;
            }
            // One reader per queue, and `notify_one` keeps a permit when nobody
            // waits, so a push between the check and this await is not missed.
            self.notify.notified().await;
        }
    }
}

/// A reader's wait for its next item, kept across `recv()` timeouts.
pub(crate) type Pop<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// The reading side shared by every socket type: `recv()` with an optional
/// timeout, and the poll behind `futures::Stream`.
impl<T: Queued + 'static> Queue<T> {
    fn wait(queue: Arc<Self>) -> Pop<T> {
        Box::pin(async move { queue.pop().await })
    }

    /// The next item: at once if one is queued, else waiting at most
    /// `limit`. A wait cut short by `limit` stays in `pending`, so no item
    /// is lost to the timeout.
    pub async fn next(
        self: &Arc<Self>,
        pending: &mut Option<Pop<T>>,
        limit: Option<Duration>,
    ) -> Result<T, Error> {
        // Fast path: something is queued, no future to box.
        if pending.is_none() {
            if let Some(item) = self.try_pop() {
                return item;
            }
        }
        let mut pop = pending.take().unwrap_or_else(|| Self::wait(self.clone()));
        match limit {
            None => pop.await,
            Some(limit) => match tokio::time::timeout(limit, &mut pop).await {
                Ok(result) => result,
                Err(_) => {
                    *pending = Some(pop);
                    Err(Error::timeout(limit))
                }
            },
        }
    }

    /// [`Queue::next`] as a poll, without a timeout.
    pub fn poll_next(
        self: &Arc<Self>,
        pending: &mut Option<Pop<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, Error>> {
        let pop = pending.get_or_insert_with(|| Self::wait(self.clone()));
        let result = std::task::ready!(pop.as_mut().poll(cx));
        *pending = None;
        Poll::Ready(result)
    }
}
