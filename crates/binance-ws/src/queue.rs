//! A socket's bounded queue. The connection task pushes without ever
//! waiting; the overflow policy decides what gives when the reader is slow.

use std::collections::VecDeque;
use std::sync::Mutex;

use binance_types::TimeUnit;
use tokio::sync::Notify;

use crate::config::Overflow;
use crate::error::{Error, ErrorKind};
use crate::message::{Message, RawFrame, Status};

/// What the connection hands a reader: a frame still to decode (the
/// reader decodes it, in its own time), or a ready message (statuses).
pub(crate) enum Entry<U: TimeUnit> {
    Frame(RawFrame),
    Ready(Message<U>),
}

struct Inner<U: TimeUnit> {
    items: VecDeque<Entry<U>>,
    dropped: u64,
    end: Option<Error>,
}

/// One reader's queue.
pub(crate) struct Queue<U: TimeUnit> {
    inner: Mutex<Inner<U>>,
    notify: Notify,
    capacity: usize,
    overflow: Overflow,
}

impl<U: TimeUnit> Queue<U> {
    pub fn new(capacity: usize, overflow: Overflow) -> Self {
        Queue {
            inner: Mutex::new(Inner {
                items: VecDeque::with_capacity(capacity.min(1024)),
                dropped: 0,
                end: None,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
            overflow,
        }
    }

    /// Add a status or other ready message; never waits.
    pub fn push(&self, message: Message<U>) {
        self.push_entry(Entry::Ready(message));
    }

    /// Add frames for the reader to decode, under one lock; never waits.
    pub fn push_frames(&self, frames: impl Iterator<Item = RawFrame>) {
        let mut inner = self.inner.lock().unwrap();
        for frame in frames {
            self.admit(&mut inner);
            if inner.end.is_some() {
                break;
            }
            inner.items.push_back(Entry::Frame(frame));
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Make room for one more entry under the overflow policy.
    fn admit(&self, inner: &mut Inner<U>) {
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

    fn push_entry(&self, entry: Entry<U>) {
        let mut inner = self.inner.lock().unwrap();
        self.admit(&mut inner);
        if inner.end.is_none() {
            inner.items.push_back(entry);
        }
        drop(inner);
        self.notify.notify_one();
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

    /// The next entry if one is ready, without waiting.
    pub fn try_pop(&self) -> Option<Result<Entry<U>, Error>> {
        let mut inner = self.inner.lock().unwrap();
        if inner.dropped > 0 {
            let dropped = std::mem::take(&mut inner.dropped);
            return Some(Ok(Entry::Ready(Message::Status(Status::Lagged {
                dropped,
            }))));
        }
        if let Some(entry) = inner.items.pop_front() {
            return Some(Ok(entry));
        }
        inner.end.clone().map(Err)
    }

    /// The next message; a `Lagged` status first when messages were dropped.
    pub async fn pop(&self) -> Result<Entry<U>, Error> {
        loop {
            {
                let mut inner = self.inner.lock().unwrap();
                if inner.dropped > 0 {
                    let dropped = std::mem::take(&mut inner.dropped);
                    return Ok(Entry::Ready(Message::Status(Status::Lagged { dropped })));
                }
                if let Some(entry) = inner.items.pop_front() {
                    return Ok(entry);
                }
                if let Some(end) = &inner.end {
                    return Err(end.clone());
                }
            }
            // One reader per queue, and `notify_one` keeps a permit when nobody
            // waits, so a push between the check and this await is not missed.
            self.notify.notified().await;
        }
    }
}
