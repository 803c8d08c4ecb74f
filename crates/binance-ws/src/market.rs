//! Market streams over a [`link`](crate::link): the readers attached to a
//! connection and their queues (with backpressure), live SUBSCRIBE /
//! UNSUBSCRIBE / LIST_SUBSCRIPTIONS paced under Binance's limit and sent
//! again after a reconnect, deduplication while a rotation's two
//! connections both deliver, and per-stream silence.
//!
//! Frames go to the readers undecoded; each decodes in its own `recv()`,
//! so decoding costs the reader's time, not the read loop's.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use binance_types::control::{ControlRequest, ControlResponse, RequestId};
use binance_types::peek::{order_key_of, peek, Peek};
use binance_types::venue::Venue;
use binance_types::{frame, Event, Micros, TimeUnit};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::Error;
use crate::limiter::Window;
use crate::link::{
    self, After, Flow, LinkEnv, LinkEvent, Phase, Protocol, Room, Settings, State, Stop, Which,
    DRAIN_BATCH,
};
use crate::message::{RawFrame, Status};
use crate::queue::{Entry, Queue};
use crate::silence::Silence;

/// What a connection connects to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Plan {
    /// Endpoint base URL (USD-M: with the route).
    pub base: String,
    /// The market: its limits (control messages a second, keepalive).
    pub venue: Venue,
    /// Streams, canonical names.
    pub streams: Vec<String>,
    /// `/stream` (combined envelope) rather than `/ws`.
    pub combined: bool,
    /// `timeUnit=MICROSECOND`.
    pub micros: bool,
    /// Non-zero for a connection no other socket may join (live sockets,
    /// whose subscriptions are their own).
    pub private: u64,
    /// A user data stream (the "stream" is a listen key): quiet for hours
    /// is normal (no per-stream silence), and events are not filtered by
    /// their order key while a rotation's two connections deliver (two
    /// user events may share a time); the owner deduplicates them.
    pub user_data: bool,
    /// Which copy of the same streams (0 for the first): a socket with
    /// [`connections(n)`](crate::Socket::connections) reads `n` connections
    /// that differ only in this, opened apart and rotated at different times.
    pub replica: u8,
}

/// Above this many streams, connect bare and SUBSCRIBE rather than put the
/// names in the URL (URLs have length limits along the way).
const URL_STREAMS_MAX: usize = 100;
/// The longest a switch keeps filtering repeats of a stream that stays
/// quiet on the new connection.
const DEDUPE_MAX: Duration = Duration::from_secs(60);
/// Streams per SUBSCRIBE request when subscribing after connect.
const SUBSCRIBE_BATCH: usize = 300;

impl Plan {
    /// The URL a connection opens for `streams`.
    fn url(&self, streams: &BTreeSet<String>) -> String {
        let unit = if self.micros {
            "timeUnit=MICROSECOND"
        } else {
            ""
        };
        let (path, mut query) = if streams.len() > URL_STREAMS_MAX || streams.is_empty() {
            (
                if self.combined { "/stream" } else { "/ws" }.to_owned(),
                String::new(),
            )
        } else if self.combined {
            let names: Vec<&str> = streams.iter().map(String::as_str).collect();
            ("/stream".to_owned(), format!("streams={}", names.join("/")))
        } else {
            let names: Vec<&str> = streams.iter().map(String::as_str).collect();
            (format!("/ws/{}", names.join("/")), String::new())
        };
        if !unit.is_empty() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(unit);
        }
        match query.is_empty() {
            true => format!("{}{path}", self.base),
            false => format!("{}{path}?{query}", self.base),
        }
    }

    /// The URL for the plan's own streams.
    pub fn initial_url(&self) -> String {
        self.url(&self.streams.iter().cloned().collect())
    }

    /// Its identity for sharing: the venue, the full URL, and the streams
    /// (which a long list keeps out of the URL).
    pub fn key(&self) -> String {
        format!(
            "{}#{}#{}#{}",
            self.initial_url(),
            self.streams.join("/"),
            self.private,
            self.replica
        )
    }

    /// The streams `url(streams)` carries in itself.
    fn in_url(&self, streams: &BTreeSet<String>) -> BTreeSet<String> {
        match streams.len() > URL_STREAMS_MAX {
            true => BTreeSet::new(),
            false => streams.clone(),
        }
    }
}

/// A live subscription request.
pub(crate) enum Control {
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    List,
}

pub(crate) enum Command<U: TimeUnit> {
    Attach {
        id: u64,
        queue: Arc<Queue<Entry<U>>>,
        /// Stamp frames with the time they were read.
        stamp: bool,
        /// How long the connection may stop reading for this reader's full
        /// queue before its overflow policy applies.
        max_stall: Duration,
    },
    Detach {
        id: u64,
        /// Told whether no reader is left.
        last: Option<oneshot::Sender<bool>>,
    },
    Control {
        control: Control,
        reply: oneshot::Sender<Result<Value, Error>>,
    },
}

/// A cheap handle on a running market connection.
#[derive(Clone)]
pub(crate) struct Handle<U: TimeUnit> {
    commands: mpsc::UnboundedSender<Command<U>>,
    pub state: watch::Receiver<State>,
}

impl<U: TimeUnit> Handle<U> {
    pub fn send(&self, command: Command<U>) -> bool {
        self.commands.send(command).is_ok()
    }

    pub fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// Live connections by sharing key, each with the id it was started under.
type Registry<U> = Mutex<HashMap<String, (u64, Handle<U>)>>;

/// A manager's market connections, shared by its sockets: one per venue and
/// URL (a live socket's is its own).
pub(crate) struct Connections<U: TimeUnit> {
    base: String,
    pub env: Arc<LinkEnv>,
    /// The spot REST base, where holes are filled from (`None`: nowhere).
    pub rest: Option<String>,
    /// The weight budget every socket's backfill shares.
    pub backfill_pace: Arc<Window>,
    registry: Arc<Registry<U>>,
    next_id: AtomicU64,
}

impl<U: TimeUnit> Connections<U> {
    /// Connections to the stream host at `base`.
    pub fn new(base: String, env: Arc<LinkEnv>) -> Self {
        let weight = env.options.backfill_weight as usize;
        Connections {
            base,
            env,
            rest: None,
            backfill_pace: Arc::new(Window::new(weight, Duration::from_secs(60))),
            registry: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Holes are filled from the spot REST API at `url`.
    pub fn rest(mut self, url: String) -> Self {
        self.rest = Some(url);
        self
    }

    /// A fresh id for a reader (or a private connection).
    pub fn next_reader(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The spot stream base.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// What a spot connection for `streams` opens.
    pub fn plan(&self, streams: Vec<String>, combined: bool) -> Plan {
        self.plan_at(self.base.clone(), Venue::Spot, streams, combined)
    }

    /// What a connection to `venue`'s `base` for `streams` opens.
    pub fn plan_at(
        &self,
        base: String,
        venue: Venue,
        streams: Vec<String>,
        combined: bool,
    ) -> Plan {
        Plan {
            base,
            venue,
            streams,
            combined,
            // Only spot streams take `timeUnit` (§1.2); futures times are ms.
            micros: venue == Venue::Spot && U::PER_SECOND == Micros::PER_SECOND,
            private: 0,
            user_data: false,
            replica: 0,
        }
    }

    /// The live connection for `plan`, started if none is running.
    pub fn connection(&self, plan: &Plan) -> Handle<U> {
        let key = plan.key();
        let mut registry = self.registry.lock().unwrap();
        if let Some((_, handle)) = registry.get(&key) {
            if handle.is_alive() {
                return handle.clone();
            }
        }
        let id = self.next_reader();
        let weak = Arc::downgrade(&self.registry);
        let exit_key = key.clone();
        let on_exit = Box::new(move || {
            if let Some(registry) = weak.upgrade() {
                let mut registry = registry.lock().unwrap();
                if registry.get(&exit_key).is_some_and(|(i, _)| *i == id) {
                    registry.remove(&exit_key);
                }
            }
        });
        let handle = spawn(self.env.clone(), plan.clone(), on_exit);
        registry.insert(key, (id, handle.clone()));
        handle
    }
}

/// Start a market connection; `on_exit` runs when it ends.
pub(crate) fn spawn<U: TimeUnit>(
    env: Arc<LinkEnv>,
    plan: Plan,
    on_exit: Box<dyn FnOnce() + Send>,
) -> Handle<U> {
    let options = &env.options;
    let (pace, keepalive) = match plan.venue {
        // Binance takes 5 incoming messages a second per spot connection,
        // and pings every 20 s.
        Venue::Spot => (4, None),
        // Futures take 10 a second, and ping only every 3 minutes: a quiet
        // stream would look dead to the watchdog, so the client pings
        // (answered by a pong) when nothing was heard for a third of it.
        Venue::UsdM | Venue::CoinM => (8, Some(options.watchdog / 3)),
        // Options take 10 a second too, and Binance pings only every 5
        // minutes (§7): the same client keepalive.
        Venue::Options => (8, Some(options.watchdog / 3)),
    };
    // Copies of the same streams rotate apart, so that never more than one
    // of them is switching: copy i after (1 - i/8) of the lifetime.
    let rotate_after = options
        .rotate_after
        .mul_f64(1.0 - f64::from(plan.replica) / 8.0);
    let settings = Settings {
        rotate_after: Some(rotate_after),
        overlap: options.rotation_overlap,
        pace: Some(Window::new(pace, Duration::from_secs(1))),
        send_timeout: options.request_timeout,
        keepalive,
    };
    let silence = options.stream_watchdog.filter(|_| !plan.user_data);
    let market = Market::<U>::new(plan, silence);
    let (commands, state) = link::spawn(env, settings, market, on_exit);
    Handle { commands, state }
}

struct Reader<U: TimeUnit> {
    id: u64,
    queue: Arc<Queue<Entry<U>>>,
    stamp: bool,
    max_stall: Duration,
    /// It held the connection back for `max_stall`: its overflow policy
    /// applies until the connection has caught up and it has read half its
    /// queue.
    shedding: bool,
}

/// What to do with a control response.
enum Pending {
    /// A request from a socket, with the change to make on success.
    User {
        reply: oneshot::Sender<Result<Value, Error>>,
        control: Control,
        /// The request as sent, to send again if the connection drops
        /// before the answer.
        text: String,
    },
    /// A resubscription after (re)connecting.
    Internal,
}

struct Market<U: TimeUnit> {
    plan: Plan,
    /// The streams this connection should carry now (URL plus live changes).
    desired: BTreeSet<String>,
    /// The streams the URL of the last connection opened carries.
    in_url: BTreeSet<String>,
    readers: Vec<Reader<U>>,
    next_id: i64,
    pending: HashMap<i64, Pending>,
    outbox: VecDeque<(i64, String)>,
    /// Frames read and not yet handed to the readers.
    batch: Vec<RawFrame>,
    /// Per-stream silence (off when `Options::stream_watchdog` is `None`).
    silence: Option<Silence>,
    /// Since when the readers have held the connection back: it stopped, or
    /// read less than was there because of their room, and has not caught
    /// up with the network since. One clock for the connection, so readers
    /// that hold it back in turn do not add up past Binance's pong deadline.
    held_since: Option<Instant>,
    /// A rotation is under way: nothing is sent (the new connection's
    /// subscriptions were fixed when it opened).
    rotating: bool,
    /// Repeats filtered while two connections deliver, and after a switch
    /// until the new one has passed what the old one delivered.
    dedupe: Option<Repeats>,
    /// Where the rotation filter writes a frame's stream#symbol key.
    key_buf: String,
}

impl<U: TimeUnit> Protocol for Market<U> {
    type Command = Command<U>;

    fn url(&mut self) -> String {
        self.in_url = self.plan.in_url(&self.desired);
        self.plan.url(&self.desired)
    }

    fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Opened { again } => {
                self.broadcast(match again {
                    true => Status::Reconnected,
                    false => Status::Connected,
                });
                self.held_since = None;
                self.rotating = false;
                // A new session starts unfiltered: a rotation cut short by
                // the drop left its filter behind, whose keys say nothing
                // of what this connection sends.
                self.dedupe = None;
                if let Some(silence) = &mut self.silence {
                    silence.restart(Instant::now());
                }
                // Subscribe what the URL could not carry.
                self.pending
                    .retain(|_, p| matches!(p, Pending::User { .. }));
                self.resubscribe();
            }
            LinkEvent::Dropped(reason) => {
                self.broadcast(Status::Disconnected { reason });
            }
            LinkEvent::ConnectFailed(reason) => self.broadcast(Status::ConnectFailed { reason }),
            LinkEvent::Reconnecting { attempt, delay } => {
                self.broadcast(Status::Reconnecting { attempt, delay })
            }
            LinkEvent::Rotated => self.broadcast(Status::Rotated),
            LinkEvent::Ended(error) => {
                for r in self.readers.drain(..) {
                    r.queue.end(error.clone());
                }
            }
        }
    }

    fn on_command(&mut self, command: Command<U>, open: bool) -> Flow {
        match command {
            Command::Attach {
                id,
                queue,
                stamp,
                max_stall,
            } => {
                if open {
                    queue.push_over(Entry::status(Status::Connected));
                }
                self.readers.push(Reader {
                    id,
                    queue,
                    stamp,
                    max_stall,
                    shedding: false,
                });
            }
            Command::Detach { id, last } => {
                self.readers.retain(|r| r.id != id);
                if let Some(last) = last {
                    let _ = last.send(self.readers.is_empty());
                }
            }
            Command::Control { control, reply } => {
                let request = match &control {
                    Control::Subscribe(streams) => ControlRequest::Subscribe {
                        streams: streams.clone(),
                        id: RequestId::Null,
                    },
                    Control::Unsubscribe(streams) => ControlRequest::Unsubscribe {
                        streams: streams.clone(),
                        id: RequestId::Null,
                    },
                    Control::List => ControlRequest::ListSubscriptions {
                        id: RequestId::Null,
                    },
                };
                let (id, text) = self.queue_control(request);
                self.pending.insert(
                    id,
                    Pending::User {
                        reply,
                        control,
                        text,
                    },
                );
            }
        }
        match self.readers.is_empty() {
            true => Flow::Idle,
            false => Flow::Continue,
        }
    }

    /// Both connections of a rotation deliver through the same filter.
    fn on_frame(&mut self, text: Utf8Bytes, _from: Which) -> After {
        // Control answers and shutdown notices are for this task; everything
        // else goes to the readers.
        let stream = match peek(text.as_bytes()) {
            Peek::Answer => {
                if let Ok(frame) = frame::decode_as::<U>(text.as_bytes()) {
                    if let Event::ControlResponse(response) = frame.event {
                        self.answer(response);
                        return After::Nothing;
                    }
                }
                None
            }
            Peek::ServerShutdown => return After::Rotate,
            Peek::Data { stream } => stream,
            _ => None,
        };
        if let Some(dedupe) = &mut self.dedupe {
            // During a rotation both connections deliver: pass what is new.
            // A raw (`/ws`) connection carries one stream (more, live
            // subscribed, share one key: left as it was).
            let name = match (stream, self.plan.combined) {
                (Some(stream), _) => stream,
                (None, false) if self.desired.len() == 1 => {
                    self.desired.first().map_or("", String::as_str)
                }
                (None, _) => "",
            };
            if let Some(key) = order_key_of(text.as_bytes()) {
                // Keys grow per symbol: an all-market or per-underlying
                // stream (`!bookTicker`, `btc@optionTrade`) interleaves
                // symbols that each count on their own. The composite key
                // is written into a buffer kept for it (no allocation).
                let slot = &mut self.key_buf;
                slot.clear();
                slot.push_str(name);
                if let Some(symbol) = key.symbol {
                    slot.push('#');
                    slot.push_str(symbol);
                }
                let fresh = dedupe.fresh(slot, key.value);
                if !fresh {
                    return After::Nothing;
                }
            }
        }
        if let Some(silence) = &mut self.silence {
            match stream {
                Some(stream) => silence.saw(stream),
                // A raw (`/ws`) connection carries one stream.
                None if !self.plan.combined => silence.saw_the_one(),
                None => {}
            }
        }
        // Only recorders need the receive time.
        let received_at = match self.readers.iter().any(|r| r.stamp) {
            true => Some(SystemTime::now()),
            false => None,
        };
        self.batch.push(RawFrame {
            text,
            received_at,
            backfilled: false,
        });
        if self.batch.len() >= DRAIN_BATCH {
            self.flush();
        }
        After::Nothing
    }

    /// Hand the frames read so far to every reader (one lock per reader).
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        // A reader's room was counted before reading; a second connection
        // feeding the same queue may have used some of it meanwhile, which
        // must not drop anything: only a shedding reader's policy applies.
        let push = |r: &Reader<U>, frames: &mut dyn Iterator<Item = Entry<U>>| match r.shedding {
            false => r.queue.push_many_over(frames),
            true => r.queue.push_many(frames),
        };
        if let Some((last, rest)) = self.readers.split_last() {
            for r in rest {
                push(r, &mut self.batch.iter().cloned().map(Entry::Frame));
            }
            push(last, &mut self.batch.drain(..).map(Entry::Frame));
        }
        self.batch.clear();
    }

    /// Backpressure: how many frames the readers' queues take now, or which
    /// full queue to wait for. Once the connection has been held back for a
    /// reader's `max_stall`, that reader no longer limits it (its overflow
    /// policy applies) until the connection has caught up and the reader
    /// has read half its queue: a reader that stays behind, stopped or only
    /// slow, loses messages and is told how many, and pongs are never held
    /// back for long. While a socket's own control request is unanswered
    /// nothing is held back: its answer is behind the unread frames.
    fn room(&mut self) -> Room {
        let now = Instant::now();
        let control_pending = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::User { .. }));
        let mut room = DRAIN_BATCH;
        // The reader to wait for (by index), and its deadline.
        let mut wait: Option<(usize, Option<Instant>)> = None;
        for (i, r) in self.readers.iter_mut().enumerate() {
            let space = r.queue.space();
            if r.shedding {
                if self.held_since.is_some() || space < r.queue.capacity() / 2 {
                    continue;
                }
                r.shedding = false;
            }
            if control_pending || space >= DRAIN_BATCH {
                continue;
            }
            if space == 0 {
                self.held_since.get_or_insert(now);
            }
            let deadline = self
                .held_since
                .and_then(|since| since.checked_add(r.max_stall));
            if deadline.is_some_and(|d| d <= now) {
                if !r.max_stall.is_zero() {
                    tracing::warn!(
                        "a reader held the connection back for {} ms: its overflow policy applies",
                        r.max_stall.as_millis()
                    );
                }
                r.shedding = true;
                continue;
            }
            let sooner = |d: Option<Instant>| match (deadline, d) {
                (Some(mine), Some(theirs)) => mine < theirs,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if space == 0 && wait.is_none_or(|(_, d)| sooner(d)) {
                wait = Some((i, deadline));
            }
            room = room.min(space);
        }
        let Some((i, deadline)) = wait else {
            return Room::Read(room);
        };
        let queue = self.readers[i].queue.clone();
        Room::Wait(Box::pin(async move {
            match deadline {
                Some(deadline) => {
                    let _ = tokio::time::timeout_at(deadline, queue.room()).await;
                }
                None => queue.room().await,
            }
        }))
    }

    fn read_stopped(&mut self, why: Stop) {
        match why {
            Stop::CaughtUp => self.held_since = None,
            Stop::Limited => {
                self.held_since.get_or_insert_with(Instant::now);
            }
        }
    }

    fn on_rotation(&mut self, phase: Phase) {
        match phase {
            Phase::Opening => {
                self.rotating = true;
                // A previous switch's filtering (if still on) goes on.
                if !self.plan.user_data {
                    self.dedupe.get_or_insert_with(Repeats::default);
                }
            }
            Phase::Failed => {
                self.rotating = false;
                // Filtering a previous switch's repeats goes on.
                if self.dedupe.as_ref().is_some_and(|d| d.until.is_none()) {
                    self.dedupe = None;
                }
            }
            Phase::Switched => {
                self.rotating = false;
                // What the new connection buffered during the overlap may
                // repeat what the old one delivered: keep filtering until
                // each stream has passed it.
                if let Some(d) = &mut self.dedupe {
                    d.behind = d.last.keys().cloned().collect();
                    d.until = Some(Instant::now() + DEDUPE_MAX);
                }
                if let Some(silence) = &mut self.silence {
                    silence.restart(Instant::now());
                }
            }
        }
    }

    /// What brings a rotation's new connection to the streams wanted now.
    fn next_opened(&mut self) -> Vec<String> {
        let requests = self.catch_up_requests();
        for (id, _) in &requests {
            self.pending.insert(*id, Pending::Internal);
        }
        requests.into_iter().map(|(_, text)| text).collect()
    }

    fn has_outgoing(&self) -> bool {
        !self.rotating && !self.outbox.is_empty()
    }

    fn outgoing(&mut self) -> Option<String> {
        self.outbox.pop_front().map(|(_, text)| text)
    }

    fn tick(&mut self, now: Instant, held: bool, rotating: bool) -> After {
        // Filtering ends once every stream's new connection has passed what
        // the old one delivered (or, for a stream that stays quiet, after a
        // long while).
        if let Some(d) = &self.dedupe {
            if let (Some(until), false) = (d.until, rotating) {
                if d.behind.is_empty() || now >= until {
                    self.dedupe = None;
                }
            }
        }
        // A stream gone quiet while others flow: report it, and move
        // everything to a fresh connection (make-before-break).
        let mut after = After::Nothing;
        for (stream, silent_for) in self.silent_streams(now, held) {
            tracing::warn!(
                "{stream}: no frame for {} ms; moving to a fresh connection",
                silent_for.as_millis()
            );
            self.broadcast(Status::StreamSilent { stream, silent_for });
            after = After::Rotate;
        }
        after
    }
}

impl<U: TimeUnit> Market<U> {
    fn new(plan: Plan, stream_watchdog: Option<Duration>) -> Self {
        Market {
            silence: stream_watchdog.map(Silence::new),
            desired: plan.streams.iter().cloned().collect(),
            in_url: BTreeSet::new(),
            plan,
            readers: Vec::new(),
            next_id: 1,
            pending: HashMap::new(),
            outbox: VecDeque::new(),
            batch: Vec::with_capacity(DRAIN_BATCH),
            held_since: None,
            rotating: false,
            dedupe: None,
            key_buf: String::new(),
        }
    }

    fn broadcast(&mut self, status: Status) {
        // Frames read before the change come before it.
        self.flush();
        for r in &self.readers {
            r.queue.push_over(Entry::status(status.clone()));
        }
    }

    /// Queue a control request (sent paced); returns its id and text.
    fn queue_control(&mut self, request: ControlRequest) -> (i64, String) {
        let id = self.next_id;
        self.next_id += 1;
        let mut value = serde_json::to_value(&request).expect("requests serialise");
        value["id"] = id.into();
        let text = value.to_string();
        self.outbox.push_back((id, text.clone()));
        (id, text)
    }

    /// What brings a connection opened with the last URL to the streams
    /// wanted now: SUBSCRIBE what the URL does not carry (a long list, or a
    /// stream added while a rotation's connection was opening), UNSUBSCRIBE
    /// what it carries and is no longer wanted.
    fn catch_up_requests(&mut self) -> Vec<(i64, String)> {
        let add: Vec<String> = self.desired.difference(&self.in_url).cloned().collect();
        let drop: Vec<String> = self.in_url.difference(&self.desired).cloned().collect();
        let mut requests = Vec::new();
        for (streams, subscribe) in [(add, true), (drop, false)] {
            for chunk in streams.chunks(SUBSCRIBE_BATCH) {
                let number = self.next_id;
                self.next_id += 1;
                let (streams, id) = (chunk.to_vec(), RequestId::Int(number));
                let request = match subscribe {
                    true => ControlRequest::Subscribe { streams, id },
                    false => ControlRequest::Unsubscribe { streams, id },
                };
                let text = serde_json::to_string(&request).expect("requests serialise");
                requests.push((number, text));
            }
        }
        requests
    }

    fn resubscribe(&mut self) {
        let mut requests = self.catch_up_requests();
        for (id, _) in &requests {
            self.pending.insert(*id, Pending::Internal);
        }
        // A socket's request sent on the old connection and never answered
        // goes again (same id), then what was still queued.
        let queued: HashSet<i64> = self.outbox.iter().map(|(id, _)| *id).collect();
        let mut unanswered: Vec<(i64, String)> = self
            .pending
            .iter()
            .filter_map(|(id, p)| match p {
                Pending::User { text, .. } if !queued.contains(id) => Some((*id, text.clone())),
                _ => None,
            })
            .collect();
        unanswered.sort_by_key(|(id, _)| *id);
        requests.extend(unanswered);
        requests.extend(self.outbox.drain(..));
        self.outbox = requests.into();
    }

    /// Streams silent past their limit (none while the readers hold the
    /// connection back: not reading is not the server's silence).
    fn silent_streams(&mut self, now: Instant, held: bool) -> Vec<(String, Duration)> {
        let Some(silence) = &mut self.silence else {
            return Vec::new();
        };
        // A raw connection's frames do not say their stream: with more than
        // one (live-subscribed), silence cannot be told apart.
        if !self.plan.combined && self.desired.len() > 1 {
            return Vec::new();
        }
        silence.watch(&self.desired, now);
        if held {
            silence.restart(now);
            return Vec::new();
        }
        silence.check(now)
    }

    fn answer(&mut self, response: ControlResponse) {
        let RequestId::Int(id) = response.id else {
            return;
        };
        match self.pending.remove(&id) {
            Some(Pending::User { reply, control, .. }) => {
                if response.result.is_ok() {
                    match &control {
                        Control::Subscribe(streams) => self.desired.extend(streams.iter().cloned()),
                        Control::Unsubscribe(streams) => streams.iter().for_each(|n| {
                            self.desired.remove(n);
                        }),
                        Control::List => {}
                    }
                }
                let _ = reply.send(response.result.map_err(Error::from));
            }
            Some(Pending::Internal) => {
                if let Err(e) = response.result {
                    tracing::warn!("resubscribe refused: {e}");
                }
            }
            None => {}
        }
    }
}

/// While two connections deliver, and after a switch until the new one has
/// caught up: each stream's frames pass only if their order key is newer
/// than the last one delivered.
#[derive(Default)]
struct Repeats {
    last: HashMap<String, u64>,
    /// After the switch: streams whose new connection has not yet passed
    /// the old one's last key (its backlog may still repeat).
    behind: HashSet<String>,
    /// After the switch: filtering ends by then even for a stream that
    /// stays quiet.
    until: Option<Instant>,
}

impl Repeats {
    fn fresh(&mut self, stream: &str, key: u64) -> bool {
        match self.last.get_mut(stream) {
            Some(last) if key <= *last => false,
            Some(last) => {
                *last = key;
                // One connection's keys only grow: the rest of this
                // stream on it is new.
                self.behind.remove(stream);
                true
            }
            None => {
                self.last.insert(stream.to_owned(), key);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binance_types::Millis;

    use crate::config::Overflow;

    fn trade(id: u64) -> Utf8Bytes {
        format!(r#"{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"1","q":"1","T":1,"m":true,"M":true}}"#).into()
    }

    /// A market protocol on `streams` with one reader attached, its
    /// connection open.
    fn opened(
        venue: Venue,
        streams: Vec<&str>,
        combined: bool,
    ) -> (Market<Millis>, Arc<Queue<Entry<Millis>>>) {
        let plan = Plan {
            base: "ws://127.0.0.1:1".into(),
            venue,
            streams: streams.into_iter().map(str::to_owned).collect(),
            combined,
            micros: false,
            private: 0,
            user_data: false,
            replica: 0,
        };
        let mut market = Market::<Millis>::new(plan, None);
        let queue = Arc::new(Queue::new(100, Overflow::DropOldest));
        market.on_command(
            Command::Attach {
                id: 1,
                queue: queue.clone(),
                stamp: false,
                max_stall: Duration::from_secs(1),
            },
            false,
        );
        market.on_link(LinkEvent::Opened { again: false });
        (market, queue)
    }

    fn delivered(queue: &Queue<Entry<Millis>>) -> Vec<String> {
        std::iter::from_fn(|| queue.try_pop())
            .filter_map(|entry| match entry {
                Ok(Entry::Frame(frame)) => Some(frame.text.to_string()),
                _ => None,
            })
            .collect()
    }

    /// A rotation cut short by a drop must not leave its filter on the
    /// next connection: after a reconnect the server's ids may start lower.
    #[test]
    fn a_reconnect_starts_without_the_last_rotations_filter() {
        let (mut market, queue) = opened(Venue::Spot, vec!["btcusdt@trade"], false);
        // serverShutdown: a rotation begins, both connections deliver.
        market.on_rotation(Phase::Opening);
        market.on_frame(trade(100), Which::Current);
        market.on_frame(trade(100), Which::Next);
        market.flush();
        assert_eq!(delivered(&queue).len(), 1, "the repeat is filtered");
        // The old connection drops before the switch; a new session opens
        // on a server whose ids restarted.
        market.on_link(LinkEvent::Dropped("closed".into()));
        market.on_link(LinkEvent::Opened { again: true });
        market.on_frame(trade(5), Which::Current);
        market.flush();
        assert_eq!(delivered(&queue), vec![trade(5).to_string()]);
    }

    /// Futures during a rotation (both connections deliver): an all-market
    /// `!bookTicker` interleaves symbols whose `u` each grow on their own,
    /// so none is taken for a repeat of another's; a clock-pushed
    /// `markPriceUpdate` (no id) is delivered once.
    #[test]
    fn a_rotation_keeps_every_symbol_of_an_all_market_stream_and_no_repeat() {
        let (mut market, queue) = opened(
            Venue::CoinM,
            vec!["!bookTicker", "btcusd_perp@markPrice"],
            true,
        );
        market.on_rotation(Phase::Opening);
        let book = |symbol: &str, u: u64| -> Utf8Bytes {
            format!(r#"{{"stream":"!bookTicker","data":{{"e":"bookTicker","u":{u},"s":"{symbol}","ps":"X","b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}}}"#).into()
        };
        let mark: Utf8Bytes = r#"{"stream":"btcusd_perp@markPrice","data":{"e":"markPriceUpdate","E":1700000000000,"s":"BTCUSD_PERP","p":"1","P":"1","r":"0","T":0}}"#.into();
        let frames = [
            book("BTCUSD_PERP", 900),
            book("ETHUSD_PERP", 40),
            mark.clone(),
        ];
        for frame in &frames {
            market.on_frame(frame.clone(), Which::Current);
        }
        for frame in &frames {
            market.on_frame(frame.clone(), Which::Next);
        }
        market.flush();
        let got = delivered(&queue);
        let want: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
        assert_eq!(got, want);

        // A per-underlying options stream: each option numbers its trades.
        let (mut market, queue) = opened(Venue::Options, vec!["btc@optionTrade"], true);
        market.on_rotation(Phase::Opening);
        let trade = |symbol: &str, t: u64| -> Utf8Bytes {
            format!(r#"{{"stream":"btc@optionTrade","data":{{"e":"trade","E":1,"T":1,"s":"{symbol}","t":{t},"p":"1.000","q":"0.1000","X":"MARKET","S":"BUY","m":false}}}}"#).into()
        };
        let frames = [
            trade("BTC-261225-90000-C", 90),
            trade("BTC-261225-95000-P", 4),
        ];
        for which in [Which::Current, Which::Next] {
            for frame in &frames {
                market.on_frame(frame.clone(), which);
            }
        }
        market.flush();
        let want: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
        assert_eq!(delivered(&queue), want);
    }

    /// A live SUBSCRIBE answered while a rotation's connection was opening
    /// (its URL already fixed) is made on the new connection too, and an
    /// UNSUBSCRIBE likewise.
    #[test]
    fn a_rotation_catches_up_with_live_changes_made_while_it_opened() {
        let plan = Plan {
            base: "ws://127.0.0.1:1".into(),
            venue: Venue::Spot,
            streams: vec!["a@trade".into(), "b@trade".into()],
            combined: true,
            micros: false,
            private: 0,
            user_data: false,
            replica: 0,
        };
        let mut market = Market::<Millis>::new(plan, None);
        market.url();
        market.on_link(LinkEvent::Opened { again: false });
        let control = |market: &mut Market<Millis>, control| {
            let (reply, _answer) = oneshot::channel();
            market.on_command(Command::Control { control, reply }, true);
            market.outgoing().expect("sent")
        };
        control(&mut market, Control::Subscribe(vec!["c@trade".into()]));
        control(&mut market, Control::Unsubscribe(vec!["a@trade".into()]));
        // The rotation's URL is fixed before the answers come.
        let url = market.url();
        market.on_rotation(Phase::Opening);
        assert!(url.contains("a@trade") && !url.contains("c@trade"), "{url}");
        for id in [1, 2] {
            let answer = format!(r#"{{"result":null,"id":{id}}}"#);
            market.on_frame(answer.into(), Which::Current);
        }
        let first: Vec<Value> = market
            .next_opened()
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        let methods: Vec<(&str, &Value)> = first
            .iter()
            .map(|r| (r["method"].as_str().unwrap(), &r["params"]))
            .collect();
        assert_eq!(
            methods,
            vec![
                ("SUBSCRIBE", &serde_json::json!(["c@trade"])),
                ("UNSUBSCRIBE", &serde_json::json!(["a@trade"])),
            ]
        );
    }
}
