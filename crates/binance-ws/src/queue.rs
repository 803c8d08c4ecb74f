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
/// decodes it, in its reader's time), or a ready message (statuses).
pub(crate) enum Entry<U: TimeUnit> {
    Frame(RawFrame),
    Ready(Message<U>),
}

impl<U: TimeUnit> Entry<U> {
    pub fn lagged(dropped: u64) -> Self {
        Entry::Ready(Message::Status(Status::Lagged { dropped }))
    }
}

struct Inner<T> {
    items: VecDeque<T>,
    dropped: u64,
    end: Option<Error>,
}

/// One reader's queue of `T`.
pub(crate) struct Queue<T> {
    inner: Mutex<Inner<T>>,
    notify: Notify,
    capacity: usize,
    overflow: Overflow,
    /// The item that tells the reader how many were dropped.
    lagged: fn(u64) -> T,
}

impl<T: Send> Queue<T> {
    pub fn new(capacity: usize, overflow: Overflow, lagged: fn(u64) -> T) -> Self {
        Queue {
            inner: Mutex::new(Inner {
                items: VecDeque::with_capacity(capacity.min(1024)),
                dropped: 0,
                end: None,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
            overflow,
            lagged,
        }
    }

    /// Add an item; never waits.
    pub fn push(&self, item: T) {
        self.push_many(std::iter::once(item));
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
    fn admit(&self, inner: &mut Inner<T>) {
        if inner.end.is_some() || inner.items.len() < self.capacity {
            return;
        }
        match self.overflow {
            Overflow::DropOldest => {
                inner.items.pop_front();
                inner.dropped += 1;
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
    }

    /// The next item if one is ready, without waiting; a lagged notice first
    /// when items were dropped.
    pub fn try_pop(&self) -> Option<Result<T, Error>> {
        let mut inner = self.inner.lock().unwrap();
        if inner.dropped > 0 {
            let dropped = std::mem::take(&mut inner.dropped);
            return Some(Ok((self.lagged)(dropped)));
        }
        if let Some(item) = inner.items.pop_front() {
            return Some(Ok(item));
        }
        inner.end.clone().map(Err)
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
impl<T: Send + 'static> Queue<T> {
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
