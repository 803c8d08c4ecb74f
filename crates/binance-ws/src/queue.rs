//! A socket's bounded queue. The connection task pushes without ever
//! waiting; the overflow policy decides what gives when the reader is slow.

use std::collections::VecDeque;
use std::sync::Mutex;

use binance_types::TimeUnit;
use tokio::sync::Notify;

use crate::config::Overflow;
use crate::error::{Error, ErrorKind};
use crate::message::{Message, Status};

struct Inner<U: TimeUnit> {
    items: VecDeque<Message<U>>,
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

    /// Add a message; never waits.
    pub fn push(&self, message: Message<U>) {
        let mut inner = self.inner.lock().unwrap();
        if inner.end.is_some() {
            return;
        }
        if inner.items.len() >= self.capacity {
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
                    drop(inner);
                    self.notify.notify_one();
                    return;
                }
            }
        }
        inner.items.push_back(message);
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

    /// The next message; a `Lagged` status first when messages were dropped.
    pub async fn pop(&self) -> Result<Message<U>, Error> {
        loop {
            {
                let mut inner = self.inner.lock().unwrap();
                if inner.dropped > 0 {
                    let dropped = std::mem::take(&mut inner.dropped);
                    return Ok(Message::Status(Status::Lagged { dropped }));
                }
                if let Some(message) = inner.items.pop_front() {
                    return Ok(message);
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
