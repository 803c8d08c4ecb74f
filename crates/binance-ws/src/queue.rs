//! A reader's bounded queue. The producing task pushes without ever
//! waiting; the overflow policy decides what gives when the reader is slow.

use std::collections::VecDeque;
use std::sync::Mutex;

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
