//! A socket: one reader's view of one or more shared connections.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use binance_types::futures::decode_futures;
use binance_types::futures::stream::FuturesStream;
use binance_types::options::{decode_options, OptionsStream};
use binance_types::peek::{peek, Peek};
use binance_types::venue::{Route, Venue};
use binance_types::{Millis, StreamName, TimeUnit};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::error::Error;
use crate::ledger::{Backfill, Filled, Ledger, Verdict};
use crate::link::State;
use crate::market::{Command, Connections, Control, Handle, Plan};
use crate::message::Message;
use crate::message::{FuturesStreamEvent, OptionsStreamEvent, RawFrame, Status, StreamEvent};
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
    /// The market, and its stream base (USD-M: without the route).
    venue: Venue,
    base: String,
    /// Non-zero: the connections it opens are its own.
    private: u64,
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
    /// Connections per stream (1 to 4).
    copies: usize,
    /// Follow sequences and report holes (see [`Socket::gap_check`]).
    gap_check: bool,
    /// Fill holes from REST where Binance keeps the events.
    backfill: bool,
    /// Built when the socket attaches.
    ledger: Option<Ledger>,
    /// Messages ready for the reader, before the queue is read again (a
    /// frame may give a gap status and itself, a backfill many).
    ready: VecDeque<Message<U>>,
}

impl<U: TimeUnit> Socket<U> {
    pub(crate) fn new(manager: Arc<Connections<U>>, plans: Vec<(Plan, usize)>) -> Self {
        let base = manager.base().to_owned();
        Self::on(manager, Venue::Spot, base, plans)
    }

    /// A socket on `venue`'s streams at `base` (USD-M: the host, to which
    /// each stream's route is added).
    pub(crate) fn on(
        manager: Arc<Connections<U>>,
        venue: Venue,
        base: String,
        plans: Vec<(Plan, usize)>,
    ) -> Self {
        let options = &manager.env.options;
        let queue = Arc::new(Queue::new(options.queue_capacity, options.overflow));
        let copies = options.market_connections.clamp(1, 4);
        Socket {
            id: manager.next_reader(),
            venue,
            base,
            private: 0,
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
            copies,
            gap_check: true,
            backfill: true,
            ledger: None,
            ready: VecDeque::new(),
        }
    }

    /// Read each stream on `count` connections (1 to 4; default the
    /// manager's [`market_connections`](crate::SocketManagerBuilder::market_connections)),
    /// opened apart and rotated at different times, so that a drop of any
    /// one loses nothing. Each event is delivered once: by its sequence
    /// (trade `t`, aggTrade `a`, depth `u`, closed kline open time), else
    /// its order key (bookTicker `u`, the event time of clock-pushed
    /// events), else its content. Set before connecting.
    pub fn connections(mut self, count: usize) -> Self {
        if self.handles.is_empty() {
            self.copies = count.clamp(1, 4);
        }
        self
    }

    /// Follow each stream whose events carry a sequence (trade and
    /// aggregate trade ids, diff depth `U`/`u` or `pu`, closed kline open
    /// times) and report a hole as [`Status::Gap`] (default on). Off, only
    /// repeats from several connections are dropped. Set before connecting.
    pub fn gap_check(mut self, on: bool) -> Self {
        self.gap_check = on;
        self
    }

    /// Fill holes in spot trade and aggregate-trade streams from REST
    /// (default on; within the manager's
    /// [`backfill_weight_per_minute`](crate::SocketManagerBuilder::backfill_weight_per_minute)).
    /// A stream's live events wait while its hole is filled, so everything
    /// arrives in order: [`Status::Gap`], the filled events (raw frames say
    /// [`backfilled`](crate::RawFrame::backfilled)), [`Status::GapFilled`],
    /// then the live ones. Set before connecting.
    pub fn backfill(mut self, on: bool) -> Self {
        self.backfill = on;
        self
    }

    /// Hand over frames as received ([`Message::Raw`]) instead of decoding
    /// them: for recorders. Set before connecting.
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Every connection this socket opens is its own (live sockets, whose
    /// subscriptions are their own): `key` is never shared.
    pub(crate) fn private(mut self, key: u64) -> Self {
        self.private = key;
        for (plan, _) in &mut self.plans {
            plan.private = key;
        }
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
        if self.handles.is_empty() {
            self.start_ledger();
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

    /// Copies of the plans for redundant connections, and the ledger.
    fn start_ledger(&mut self) {
        if self.copies > 1 && self.plans.iter().all(|(p, _)| p.replica == 0) {
            let first: Vec<(Plan, usize)> = self.plans.clone();
            for replica in 1..self.copies {
                for (plan, count) in &first {
                    let mut copy = plan.clone();
                    copy.replica = replica as u8;
                    self.plans.push((copy, *count));
                }
            }
        }
        let redundant = self.copies > 1;
        if !self.gap_check && !redundant {
            return;
        }
        // Stream time units a millisecond: only spot streams take
        // `timeUnit`; futures and options times are milliseconds.
        let per_ms = match self.venue {
            Venue::Spot => U::PER_SECOND / 1000,
            _ => 1,
        };
        let on = self.backfill && self.gap_check && self.manager.env.options.backfill_weight > 0;
        let backfill = match (&self.manager.rest, on) {
            (Some(rest), true) if self.venue == Venue::Spot && !self.raw_ws() => {
                Some(Arc::new(Backfill {
                    rest: rest.clone(),
                    net: self.manager.env.net.clone(),
                    venue: self.venue,
                    pace: self.manager.backfill_pace.clone(),
                    combined: self.plans.iter().all(|(p, _)| p.combined),
                    per_ms,
                }))
            }
            _ => None,
        };
        let mut ledger = Ledger::new(redundant, per_ms, backfill);
        if !self.gap_check {
            ledger = ledger.without_sequences();
        }
        self.ledger = Some(ledger);
    }

    /// A raw-path socket on several streams: its frames do not name theirs.
    fn raw_ws(&self) -> bool {
        self.plans
            .iter()
            .any(|(p, count)| !p.combined && (p.streams.len() != 1 || *count != 1))
    }

    /// The next message, connecting first if needed.
    pub async fn recv(&mut self) -> Result<Message<U>, Error> {
        if self.handles.is_empty() && !self.closed {
            self.connect().await?;
        }
        loop {
            if let Some(message) = self.next_ready() {
                return Ok(message);
            }
            let entry = self
                .queue
                .next(&mut self.pending, self.user_timeout)
                .await?;
            self.process(entry);
        }
    }

    /// A message already at hand: ready, or made from an entry taken from
    /// the queue without waiting.
    fn next_ready(&mut self) -> Option<Message<U>> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Some(message);
            }
            let entry = self.take_local()?;
            self.process(entry);
        }
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
            let Some(message) = self.next_ready() else {
                break;
            };
            out.push(message);
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

    /// The stream name shared by every event of that stream.
    fn intern(&mut self, name: Option<&str>) -> Option<Arc<str>> {
        name.map(|name| match self.streams.get(name) {
            Some(interned) => interned.clone(),
            None => {
                let interned: Arc<str> = Arc::from(name);
                self.streams.insert(name.to_owned(), interned.clone());
                interned
            }
        })
    }

    /// Turn a queue entry into what the reader gets (into `ready`): frames
    /// judged by the ledger, then decoded, in the reader's time.
    fn process(&mut self, entry: Entry<U>) {
        match entry {
            Entry::Status(status, _) => self.ready.push_back(Message::Status(*status)),
            Entry::Frame(frame) => self.judge(frame),
            Entry::Backfill(filled) => self.filled(*filled),
        }
    }

    /// Pass a frame through the ledger (repeats, holes, backfill).
    fn judge(&mut self, frame: RawFrame) {
        let Some(ledger) = &mut self.ledger else {
            let message = self.finish(frame);
            return self.ready.push_back(message);
        };
        let bytes = frame.text().as_bytes();
        // A frame that does not name its stream (raw path, or not even
        // JSON) belongs to the socket's one stream if it has one: it keeps
        // its place behind that stream's held frames.
        let stream = match peek(bytes) {
            Peek::Data {
                stream: Some(stream),
            } => stream,
            _ => match self.plans.first() {
                // Still one: a live subscribe may have added more.
                Some((plan, count)) if !plan.combined && plan.streams.len() == 1 && *count == 1 => {
                    plan.streams[0].as_str()
                }
                _ => "",
            },
        };
        let verdict = ledger.check(stream, &frame);
        match verdict {
            Verdict::Pass => {}
            Verdict::Repeat | Verdict::Held => return,
            Verdict::Hole {
                from,
                to,
                backfilling,
            } => {
                let stream = stream.to_owned();
                if backfilling {
                    let backfill = ledger.backfill().cloned().expect("backfilling");
                    let queue = self.queue.clone();
                    let name = stream.clone();
                    tokio::spawn(async move {
                        let filled = backfill.fill(name, from, to).await;
                        queue.push_over(Entry::Backfill(Box::new(filled)));
                    });
                }
                self.ready.push_back(Message::Status(Status::Gap {
                    stream: Some(stream),
                    from,
                    to,
                }));
                if backfilling {
                    return;
                }
            }
        }
        let message = self.finish(frame);
        self.ready.push_back(message);
    }

    /// A backfill is back: its events, what it filled, then the stream's
    /// held frames, in order.
    fn filled(&mut self, filled: Filled) {
        for frame in filled.frames {
            let message = self.finish(frame);
            self.ready.push_back(message);
        }
        if let Some((from, to)) = filled.range {
            self.ready.push_back(Message::Status(Status::GapFilled {
                stream: filled.stream.clone(),
                from,
                to,
            }));
        }
        let held = match &mut self.ledger {
            Some(ledger) => ledger.release(&filled.stream, filled.hole_to),
            None => return,
        };
        for frame in held {
            self.judge(frame);
        }
    }

    /// What the reader gets for a frame: itself if the socket is raw, else
    /// decoded by the market's decoder.
    fn finish(&mut self, frame: RawFrame) -> Message<U> {
        if self.raw {
            return Message::Raw(frame);
        }
        let bytes = frame.text().as_bytes();
        let decoded = match self.venue {
            Venue::Spot => binance_types::frame::decode_as::<U>(bytes).map(|decoded| {
                let stream = self.intern(decoded.stream());
                Message::Event(StreamEvent {
                    stream,
                    event: decoded.event,
                })
            }),
            Venue::UsdM | Venue::CoinM => decode_futures(bytes).map(|decoded| {
                let stream = self.intern(decoded.stream());
                Message::Futures(FuturesStreamEvent {
                    stream,
                    event: decoded.event,
                })
            }),
            Venue::Options => decode_options(bytes).map(|decoded| {
                let stream = self.intern(decoded.stream());
                Message::Options(OptionsStreamEvent {
                    stream,
                    event: decoded.event,
                })
            }),
        };
        decoded.unwrap_or_else(|error| {
            tracing::warn!("malformed frame: {error}");
            Message::Status(Status::Malformed { error })
        })
    }

    /// The stream base that carries `name` (USD-M: its route).
    fn base_for(&self, name: &str) -> String {
        route_base(self.venue, &self.base, name)
    }

    /// Subscribe to more streams on this socket's connections, live
    /// (requests paced under Binance's limit: 5 a second on spot, 10 on
    /// futures). Sockets sharing a connection share its subscriptions. On
    /// USD-M each stream goes to a connection of its route (`/public` or
    /// `/market`), opened if the socket has none.
    pub async fn subscribe(&mut self, streams: &[&str]) -> Result<(), Error> {
        let names = canonical_on(self.venue, streams)?;
        self.connect().await?;
        let max = self.manager.env.options.max_streams_per_connection;
        for (base, names) in self.by_base(names) {
            // Each copy of the streams gets them (redundant connections).
            for replica in 0..self.copies as u8 {
                let mut rest = names.as_slice();
                for i in 0..self.handles.len() {
                    let (plan, count) = &self.plans[i];
                    let room = max.saturating_sub(*count).min(rest.len());
                    if room == 0 || plan.base != base || plan.replica != replica {
                        continue;
                    }
                    let (now, later) = rest.split_at(room);
                    control(&self.handles[i], Control::Subscribe(now.to_vec())).await?;
                    self.plans[i].1 += now.len();
                    rest = later;
                }
                // More than the connections hold: open more, as for a large
                // multiplex socket.
                for chunk in rest.chunks(max) {
                    let mut plan =
                        self.manager
                            .plan_at(base.clone(), self.venue, chunk.to_vec(), true);
                    plan.private = self.private;
                    plan.replica = replica;
                    self.plans.push((plan, chunk.len()));
                    self.attach();
                }
            }
        }
        self.connect().await
    }

    /// `names` grouped by the stream base that carries them, in order.
    fn by_base(&self, names: Vec<String>) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for name in names {
            let base = self.base_for(&name);
            match groups.iter_mut().find(|(b, _)| *b == base) {
                Some((_, group)) => group.push(name),
                None => groups.push((base, vec![name])),
            }
        }
        groups
    }

    /// Unsubscribe from streams, live.
    pub async fn unsubscribe(&mut self, streams: &[&str]) -> Result<(), Error> {
        let names = canonical_on(self.venue, streams)?;
        self.connect().await?;
        for (base, names) in self.by_base(names) {
            for (i, handle) in self.handles.iter().enumerate() {
                if self.plans[i].0.base != base {
                    continue;
                }
                control(handle, Control::Unsubscribe(names.clone())).await?;
                self.plans[i].1 = self.plans[i].1.saturating_sub(names.len());
            }
            // Subscribed again later, a stream starts a new sequence.
            if let Some(ledger) = &mut self.ledger {
                for name in &names {
                    ledger.forget(name);
                }
            }
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
    canonical_on(Venue::Spot, streams)
}

/// Stream names of `venue` in Binance's spelling, checked (an error names
/// the input and the valid forms).
pub(crate) fn canonical_on(venue: Venue, streams: &[&str]) -> Result<Vec<String>, Error> {
    streams
        .iter()
        .map(|s| {
            let name = match venue {
                Venue::Spot => s.parse::<StreamName>().map(|n| n.to_string()),
                Venue::UsdM | Venue::CoinM => {
                    FuturesStream::parse_on(venue, s).map(|n| n.to_string())
                }
                Venue::Options => s.parse::<OptionsStream>().map(|n| n.to_string()),
            };
            name.map_err(Error::from)
        })
        .collect()
}

/// The stream base carrying `name` (canonical) on `venue` served at `base`:
/// on USD-M and options, the route of the stream's kind under the host.
pub(crate) fn route_base(venue: Venue, base: &str, name: &str) -> String {
    let route = match venue {
        Venue::UsdM => FuturesStream::parse_on(venue, name)
            .map(|stream| stream.usdm_route())
            .unwrap_or(Route::Market),
        Venue::Options => name
            .parse::<OptionsStream>()
            .map(|stream| stream.route())
            .unwrap_or(Route::Market),
        Venue::Spot | Venue::CoinM => return base.to_owned(),
    };
    format!("{base}{}", route.path())
}

impl<U: TimeUnit> std::fmt::Debug for Socket<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("venue", &self.venue)
            .field("urls", &self.urls())
            .field("raw", &self.raw)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
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
        loop {
            if let Some(message) = this.next_ready() {
                return Poll::Ready(Some(Ok(message)));
            }
            match std::task::ready!(this.queue.poll_next(&mut this.pending, cx)) {
                Ok(entry) => this.process(entry),
                Err(error) => {
                    if error.is_terminal() {
                        this.done = true;
                    }
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }
}
