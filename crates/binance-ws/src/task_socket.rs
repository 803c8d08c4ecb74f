//! The handle every task-backed socket shares (the spot and margin user
//! sockets, the futures user sockets): a task started on first use that
//! pushes into the socket's queue, reports its [`State`], and ends when the
//! handle says so; `connect` / `recv` / `close` and the
//! [`futures_util::Stream`] as on every socket.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use binance_types::TimeUnit;
use tokio::sync::{mpsc, watch};

use crate::config::Options;
use crate::error::Error;
use crate::link::State;
use crate::message::Message;
use crate::queue::{Pop, Queue};

/// What a socket's task is: started once, on first use.
pub(crate) trait Starter<U: TimeUnit> {
    /// Start the task pushing into `queue`; its state, and the sender that
    /// ends it. Settings it refuses are a config error here.
    fn start(
        &self,
        queue: &Arc<Queue<Message<U>>>,
    ) -> Result<(watch::Receiver<State>, mpsc::UnboundedSender<()>), Error>;
}

/// A socket whose connections a task of its own keeps.
pub(crate) struct TaskSocket<U: TimeUnit, S: Starter<U>> {
    /// What it starts (its settings may change until then).
    pub starter: S,
    queue: Arc<Queue<Message<U>>>,
    state: Option<watch::Receiver<State>>,
    close: Option<mpsc::UnboundedSender<()>>,
    user_timeout: Option<Duration>,
    pending: Option<Pop<Message<U>>>,
    closed: bool,
    done: bool,
}

impl<U: TimeUnit, S: Starter<U>> TaskSocket<U, S> {
    pub fn new(starter: S, options: &Options) -> Self {
        TaskSocket {
            starter,
            queue: Arc::new(Queue::new(options.queue_capacity, options.overflow)),
            user_timeout: options.user_timeout,
            state: None,
            close: None,
            pending: None,
            closed: false,
            done: false,
        }
    }

    /// Whether the task was started (settings no longer change).
    pub fn is_started(&self) -> bool {
        self.state.is_some()
    }

    /// A queue of its own (before the start only).
    pub fn set_queue(&mut self, capacity: usize, overflow: crate::Overflow) {
        if self.state.is_none() {
            self.queue = Arc::new(Queue::new(capacity, overflow));
        }
    }

    /// The longest `recv()` waits before a (non-terminal) timeout error.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.user_timeout = timeout;
    }

    fn start(&mut self) -> Result<watch::Receiver<State>, Error> {
        if let Some(state) = &self.state {
            return Ok(state.clone());
        }
        if self.closed {
            return Err(Error::closed());
        }
        let (state, close) = self.starter.start(&self.queue)?;
        self.close = Some(close);
        self.state = Some(state.clone());
        Ok(state)
    }

    /// Start the task and wait until it says it is open.
    pub async fn connect(&mut self) -> Result<(), Error> {
        let state = self.start()?;
        crate::link::wait_open(state).await
    }

    /// The next message, starting the task first if needed.
    pub async fn recv(&mut self) -> Result<Message<U>, Error> {
        if self.state.is_none() && !self.closed {
            self.start()?;
        }
        self.queue.next(&mut self.pending, self.user_timeout).await
    }

    /// `recv()` answers [`ErrorKind::Closed`](crate::ErrorKind) from now
    /// on; the task ends, and this returns once it has (waiting at most
    /// [`CLOSE_WAIT`](crate::link::CLOSE_WAIT)).
    pub async fn close(&mut self) {
        self.closed = true;
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        self.queue.close(Error::closed());
        if let Some(state) = self.state.take() {
            let _ =
                tokio::time::timeout(crate::link::CLOSE_WAIT, crate::link::wait_ended(state)).await;
        }
    }

    /// Like `recv()`, ending after a terminal error.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message<U>, Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.state.is_none() && !self.closed {
            if let Err(e) = self.start() {
                self.done = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
        let result = std::task::ready!(self.queue.poll_next(&mut self.pending, cx));
        if result.as_ref().is_err_and(Error::is_terminal) {
            self.done = true;
        }
        Poll::Ready(Some(result))
    }
}

impl<U: TimeUnit, S: Starter<U>> Drop for TaskSocket<U, S> {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

/// The `Stream` of a socket wrapping a [`TaskSocket`] in field `0`.
macro_rules! task_stream {
    ($socket:ident) => {
        impl<U: TimeUnit> futures_util::Stream for $socket<U> {
            type Item = Result<Message<U>, Error>;

            /// Like `recv()`, ending after a terminal error.
            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.get_mut().0.poll_next(cx)
            }
        }
    };
}
pub(crate) use task_stream;
