//! A socket: one reader's view of one or more shared connections.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use binance_types::{Millis, StreamName, TimeUnit};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::error::Error;
use crate::link::State;
use crate::market::{Command, Connections, Control, Handle, Plan};
use crate::message::Message;
use crate::message::{Status, StreamEvent};
use crate::queue::{Entry, Pop, Queue};

/// Entries a socket takes from its queue under one lock.
const LOCAL_BATCH: usize = 256;

/// A stream socket, as python-binance's `ReconnectingWebsocket`: `connect`,
/// `recv`, `close` (or use it as a [`futures_util::Stream`]).
///
/// It reconnects by itself, reports each state change as a
/// [`Status`](crate::Status) message, and ends only with a terminal error
/// (retries exhausted, overflow under the `Error` policy, or closed).
pub struct Socket<U: TimeUnit = Millis> {
    manager: Arc<Connections<U>>,
    plans: Vec<(Plan, usize)>,
    raw: bool,
    stamp: bool,
    id: u64,
    queue: Arc<Queue<Entry<U>>>,
    handles: Vec<Handle<U>>,
    user_timeout: Option<Duration>,
    max_stall: Duration,
    pending: Option<Pop<Entry<U>>>,
    /// Entries taken from the queue a batch at a time (one lock per batch),
    /// handed out in order before the queue is read again.
    local: VecDeque<Entry<U>>,
    /// Stream names seen, so each event carries a shared `Arc<str>`.
    streams: HashMap<String, Arc<str>>,
    closed: bool,
    /// A terminal error was yielded by the `Stream` impl.
    done: bool,
}

impl<U: TimeUnit> Socket<U> {
    pub(crate) fn new(manager: Arc<Connections<U>>, plans: Vec<(Plan, usize)>) -> Self {
        let options = &manager.env.options;
        let queue = Arc::new(Queue::new(options.queue_capacity, options.overflow));
        Socket {
            id: manager.next_reader(),
            user_timeout: options.user_timeout,
            max_stall: options.max_stall,
            manager,
            plans,
            raw: false,
            stamp: false,
            queue,
            handles: Vec::new(),
            pending: None,
            local: VecDeque::new(),
            streams: HashMap::new(),
            closed: false,
            done: false,
        }
    }

    /// Hand over frames as received ([`Message::Raw`]) instead of decoding
    /// them: for recorders. Set before connecting.
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Stamp each frame with the time it was read
    /// ([`RawFrame::received_at`](crate::RawFrame::received_at)), for
    /// recorders; a clock read per frame. Set before connecting.
    pub fn receive_times(mut self) -> Self {
        self.stamp = true;
        self
    }

    /// This socket's queue: how many messages it holds for a slow reader,
    /// and what gives when it fills. Set before connecting.
    pub fn queue(mut self, capacity: usize, overflow: crate::Overflow) -> Self {
        if self.handles.is_empty() {
            self.queue = Arc::new(Queue::new(capacity, overflow));
        }
        self
    }

    /// How long its connections stop reading while this socket's queue is
    /// full before its overflow policy applies (see
    /// [`SocketManagerBuilder::max_stall`](crate::SocketManagerBuilder::max_stall)); zero never holds
    /// the connection back. Set before connecting.
    pub fn max_stall(mut self, stall: Duration) -> Self {
        self.max_stall = stall;
        self
    }

    /// The longest `recv()` waits before returning a timeout error (which
    /// is not terminal). `None` waits forever.
    pub fn user_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.user_timeout = timeout;
        self
    }

    /// The URLs this socket's connections opened with.
    pub fn urls(&self) -> Vec<String> {
        self.plans.iter().map(|(p, _)| p.initial_url()).collect()
    }

    /// Open (or join) the connections and wait until they are up.
    pub async fn connect(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::closed());
        }
        self.attach();
        for handle in &self.handles {
            crate::link::wait_open(handle.state.clone()).await?;
        }
        Ok(())
    }

    /// Attach to every connection not yet attached (opening them if needed).
    fn attach(&mut self) {
        if self.closed {
            return;
        }
        while self.handles.len() < self.plans.len() {
            let handle = self.manager.connection(&self.plans[self.handles.len()].0);
            handle.send(Command::Attach {
                id: self.id,
                queue: self.queue.clone(),
                stamp: self.stamp,
                max_stall: self.max_stall,
            });
            self.handles.push(handle);
        }
    }

    /// The next message, connecting first if needed.
    pub async fn recv(&mut self) -> Result<Message<U>, Error> {
        if self.handles.is_empty() && !self.closed {
            self.connect().await?;
        }
        if let Some(entry) = self.take_local() {
            return Ok(self.finish(entry));
        }
        let entry = self.queue.next(&mut self.pending, self.user_timeout).await;
        entry.map(|e| self.finish(e))
    }

    /// Everything ready, up to `max` messages, appended to `out`: the fast
    /// way to drain a busy socket (a recorder, a pipe). Waits (within the
    /// socket's `user_timeout`) until there is at least one; returns how
    /// many were added. Nothing is lost between calls.
    pub async fn recv_many(
        &mut self,
        out: &mut Vec<Message<U>>,
        max: usize,
    ) -> Result<usize, Error> {
        if max == 0 {
            return Ok(0);
        }
        let first = self.recv().await?;
        out.push(first);
        let mut added = 1;
        while added < max {
            let Some(entry) = self.take_local() else {
                break;
            };
            out.push(self.finish(entry));
            added += 1;
        }
        Ok(added)
    }

    /// The next entry already taken from the queue, taking a batch under
    /// one lock when none is left (never past a wait still pending).
    fn take_local(&mut self) -> Option<Entry<U>> {
        if self.closed {
            self.local.clear();
            return None;
        }
        if self.local.is_empty() && self.pending.is_none() {
            let _ = self.queue.try_pop_many(&mut self.local, LOCAL_BATCH);
        }
        self.local.pop_front()
    }

    /// Turn a queue entry into what the reader gets: decoded here, in the
    /// reader's time, unless the socket is raw.
    fn finish(&mut self, entry: Entry<U>) -> Message<U> {
        let frame = match entry {
            Entry::Status(status, _) => return Message::Status(*status),
            Entry::Frame(frame) if self.raw => return Message::Raw(frame),
            Entry::Frame(frame) => frame,
        };
        match binance_types::frame::decode_as::<U>(frame.text().as_bytes()) {
            Ok(decoded) => {
                let stream = decoded.stream().map(|name| match self.streams.get(name) {
                    Some(interned) => interned.clone(),
                    None => {
                        let interned: Arc<str> = Arc::from(name);
                        self.streams.insert(name.to_owned(), interned.clone());
                        interned
                    }
                });
                Message::Event(StreamEvent {
                    stream,
                    event: decoded.event,
                })
            }
            Err(error) => {
                tracing::warn!("malformed frame: {error}");
                Message::Status(Status::Malformed { error })
            }
        }
    }

    /// Subscribe to more streams on this socket's connections, live
    /// (requests paced under Binance's 5 a second). Sockets sharing a
    /// connection share its subscriptions.
    pub async fn subscribe(&mut self, streams: &[&str]) -> Result<(), Error> {
        let names = canonical(streams)?;
        self.connect().await?;
        let max = self.manager.env.options.max_streams_per_connection;
        let mut rest = names.as_slice();
        for i in 0..self.handles.len() {
            let room = max.saturating_sub(self.plans[i].1).min(rest.len());
            if room == 0 {
                continue;
            }
            let (now, later) = rest.split_at(room);
            control(&self.handles[i], Control::Subscribe(now.to_vec())).await?;
            self.plans[i].1 += now.len();
            rest = later;
        }
        // More than the connections hold: open more, as for a large multiplex socket.
        for chunk in rest.chunks(max) {
            let plan = self.manager.plan(chunk.to_vec(), true);
            self.plans.push((plan, chunk.len()));
            self.attach();
        }
        self.connect().await
    }

    /// Unsubscribe from streams, live.
    pub async fn unsubscribe(&mut self, streams: &[&str]) -> Result<(), Error> {
        let names = canonical(streams)?;
        self.connect().await?;
        for (i, handle) in self.handles.iter().enumerate() {
            control(handle, Control::Unsubscribe(names.clone())).await?;
            self.plans[i].1 = self.plans[i].1.saturating_sub(names.len());
        }
        Ok(())
    }

    /// The streams the server says this socket's connections carry.
    pub async fn list_subscriptions(&mut self) -> Result<Vec<String>, Error> {
        self.connect().await?;
        let mut all = Vec::new();
        for handle in &self.handles {
            if let Value::Array(items) = control(handle, Control::List).await? {
                all.extend(
                    items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned)),
                );
            }
        }
        Ok(all)
    }

    /// Stop: `recv()` answers [`ErrorKind::Closed`](crate::ErrorKind) from
    /// now on, and a connection no other socket uses closes; `close`
    /// returns once it has (waiting at most about two seconds), as on every
    /// socket type. Works in every state, including during a reconnect wait.
    pub async fn close(&mut self) {
        let closing = self.detach(true);
        let all =
            futures_util::future::join_all(closing.into_iter().map(|(last, state)| async move {
                if last.await == Ok(true) {
                    crate::link::wait_ended(state).await;
                }
            }));
        // The connection answers between reads; a stuck one does not hold
        // the caller past the same bound.
        let _ = tokio::time::timeout(crate::link::CLOSE_WAIT, all).await;
    }

    /// Leave every connection; with `ask`, each says whether this socket
    /// was its last reader (and its state, to wait for its end).
    fn detach(&mut self, ask: bool) -> Vec<(oneshot::Receiver<bool>, watch::Receiver<State>)> {
        let mut closing = Vec::new();
        if self.closed {
            return closing;
        }
        self.closed = true;
        for handle in self.handles.drain(..) {
            let last = ask.then(|| {
                let (tx, rx) = oneshot::channel();
                closing.push((rx, handle.state.clone()));
                tx
            });
            handle.send(Command::Detach { id: self.id, last });
        }
        self.queue.close(Error::closed());
        closing
    }
}

async fn control<U: TimeUnit>(handle: &Handle<U>, control: Control) -> Result<Value, Error> {
    let (reply, answer) = oneshot::channel();
    if !handle.send(Command::Control { control, reply }) {
        return Err(Error::closed());
    }
    answer.await.map_err(|_| Error::closed())?
}

/// Stream names in Binance's spelling, checked.
pub(crate) fn canonical(streams: &[&str]) -> Result<Vec<String>, Error> {
    streams
        .iter()
        .map(|s| {
            s.parse::<StreamName>()
                .map(|n| n.to_string())
                .map_err(Error::from)
        })
        .collect()
}

impl<U: TimeUnit> Drop for Socket<U> {
    fn drop(&mut self) {
        self.detach(false);
    }
}

impl<U: TimeUnit> futures_util::Stream for Socket<U> {
    type Item = Result<Message<U>, Error>;

    /// Like `recv()` (connecting first if needed), ending after a terminal error.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Attach synchronously; states are reported as messages.
        this.attach();
        if let Some(entry) = this.take_local() {
            return Poll::Ready(Some(Ok(this.finish(entry))));
        }
        let result = std::task::ready!(this.queue.poll_next(&mut this.pending, cx));
        if result.as_ref().is_err_and(Error::is_terminal) {
            this.done = true;
        }
        Poll::Ready(Some(result.map(|e| this.finish(e))))
    }
}
