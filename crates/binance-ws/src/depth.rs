//! Depth caches: local order books that are never wrong.
//!
//! Binance's procedures (spot §2.3, corrected 2025-11-12; futures §5.4) are
//! one state machine, [`BookSync`]: open the diff stream and buffer; take a
//! REST snapshot; drop what it already holds; the first event kept must
//! reach it; then each event continues the last (spot `U` ≤ last `u` + 1,
//! futures `pu` = last `u`). This task feeds it: frames to `push`, snapshots
//! to `snapshot`, and a new snapshot whenever it asks for one. On a gap, a
//! reconnect, lost or malformed frames, or a snapshot that cannot be used,
//! the cache resyncs and keeps buffering meanwhile. Reads of a book that is
//! not in sync are errors that say so.
//!
//! Many symbols share one connection; snapshots are paced under Binance's
//! request-weight limit (spot and futures weigh snapshots differently).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use binance_types::book_sync::{BookSync, Outcome, Procedure};
use binance_types::frame::Envelope;
use binance_types::futures::stream::{DepthSpeed, FuturesStream, FuturesSymbol};
use binance_types::futures::{decode_futures, FuturesEvent};
use binance_types::market::DepthSnapshot;
use binance_types::stream::UpdateSpeed;
use binance_types::venue::Venue;
use binance_types::{DecodeError, Event};
use binance_types::{Level, OrderBook, StreamName, Symbol, TimeUnit};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::limiter::Window;
use crate::message::{Message, Status};
use crate::queue::{Queue, Queued};
use crate::rest;
use crate::transport::Network;
use crate::Overflow;

/// How depth caches run.
#[derive(Debug, Clone)]
pub struct DepthCacheOptions {
    /// Diff stream speed (default 100 ms).
    pub speed: UpdateSpeed,
    /// REST snapshot size (default 1000; weight 50).
    pub snapshot_limit: usize,
    /// Keep at most this many levels a side for reading (default: all).
    pub max_depth: Option<usize>,
    /// Take a fresh snapshot this often, as a belt-and-braces resync.
    pub refresh: Option<Duration>,
    /// Request weight the caches may spend on snapshots per minute
    /// (Binance allows 6000 per IP; default 5000 leaves room for the rest).
    pub weight_per_minute: u32,
    /// Events held for a slow reader (default 10 000, oldest dropped).
    pub queue_capacity: usize,
    /// REST base URL (default: the endpoint's, e.g. `https://api.binance.com`).
    pub rest_url: Option<String>,
}

impl Default for DepthCacheOptions {
    fn default() -> Self {
        DepthCacheOptions {
            speed: UpdateSpeed::Ms100,
            snapshot_limit: 1000,
            max_depth: None,
            refresh: None,
            weight_per_minute: 5000,
            queue_capacity: 10_000,
            rest_url: None,
        }
    }
}

/// Binance's weight for a spot depth snapshot of `limit` levels
/// (`/api/v3/depth`).
pub fn snapshot_weight(limit: usize) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

/// Binance's weight for a futures depth snapshot of `limit` levels
/// (`/fapi/v1/depth`, `/dapi/v1/depth`; limits 5 to 1000).
pub fn futures_snapshot_weight(limit: usize) -> u32 {
    match limit {
        0..=50 => 2,
        51..=100 => 5,
        101..=500 => 10,
        _ => 20,
    }
}

/// The snapshot weight on `venue`.
fn venue_snapshot_weight(venue: Venue, limit: usize) -> u32 {
    match venue {
        Venue::Spot => snapshot_weight(limit),
        Venue::UsdM | Venue::CoinM | Venue::Options => futures_snapshot_weight(limit),
    }
}

/// Whether a cache's book can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheState {
    /// Buffering and waiting for a usable snapshot; the reason it is here.
    Syncing(String),
    /// The book follows Binance's.
    Synced,
    /// The cache ended (its error tells why).
    Ended,
}

/// What a cache reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DepthEvent {
    /// The book is in sync (after start or a resync) at this update id.
    Synced {
        /// The book's update id.
        last_update_id: u64,
    },
    /// A diff was applied.
    Updated {
        /// First update id of the diff.
        first_update_id: u64,
        /// The book's update id now.
        last_update_id: u64,
        /// Changed bids (quantity zero: removed).
        bids: Vec<Level>,
        /// Changed asks.
        asks: Vec<Level>,
    },
    /// The book went out of sync and is being rebuilt; reads fail until
    /// `Synced`.
    Resyncing {
        /// Why.
        reason: String,
    },
    /// The reader fell behind and this many events were dropped (the book
    /// itself is unaffected).
    Lagged {
        /// How many.
        dropped: u64,
    },
    /// The connection's state changed.
    Status(Status),
}

impl Queued for DepthEvent {
    fn lagged(dropped: u64) -> Self {
        DepthEvent::Lagged { dropped }
    }

    fn droppable(&self) -> bool {
        !matches!(
            self,
            DepthEvent::Status(_) | DepthEvent::Resyncing { .. } | DepthEvent::Synced { .. }
        )
    }
}

/// The book and its state, shared between the cache task and readers.
pub(crate) struct BookShared {
    /// The procedure, which owns the levels.
    pub(crate) sync: BookSync,
    pub(crate) state: CacheState,
}

/// A book bounded to `max_depth` levels a side for reading, keeping a
/// margin beyond the bound so levels moving into it are known.
pub(crate) fn bounded_book(max_depth: Option<usize>) -> OrderBook {
    match max_depth {
        Some(n) => OrderBook::with_max_depth((n * 4).max(n + 100)),
        None => OrderBook::new(),
    }
}

pub(crate) fn not_synced(symbol: &str, state: &CacheState) -> Error {
    Error::new(
        ErrorKind::NotSynced,
        format!("the {symbol} book is not in sync ({state:?})"),
    )
}

type PendingEvent = Pin<Box<dyn Future<Output = Result<DepthEvent, Error>> + Send>>;

/// One symbol's local order book.
pub struct DepthCache {
    symbol: String,
    shared: Arc<RwLock<BookShared>>,
    queue: Arc<Queue<DepthEvent>>,
    /// To the task; `None` once closed (the task ends when no cache and no
    /// [`DepthCaches`] holds one).
    commands: Option<mpsc::UnboundedSender<BookCommand>>,
    max_depth: Option<usize>,
    pending: Option<PendingEvent>,
    done: bool,
}

impl std::fmt::Debug for DepthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthCache")
            .field("symbol", &self.symbol)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl DepthCache {
    /// A reader of the book kept by the task behind `commands`.
    pub(crate) fn new(
        symbol: String,
        shared: Arc<RwLock<BookShared>>,
        queue: Arc<Queue<DepthEvent>>,
        commands: Option<mpsc::UnboundedSender<BookCommand>>,
        max_depth: Option<usize>,
    ) -> Self {
        DepthCache {
            symbol,
            shared,
            queue,
            commands,
            max_depth,
            pending: None,
            done: false,
        }
    }

    /// The symbol, uppercase (`BTCUSDT`, `BTCUSD_PERP`).
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// The next event.
    pub async fn recv(&mut self) -> Result<DepthEvent, Error> {
        match self.pending.take() {
            Some(pending) => pending.await,
            None => self.queue.pop().await,
        }
    }

    /// The cache's state.
    pub fn state(&self) -> CacheState {
        self.shared.read().unwrap().state.clone()
    }

    /// Read the book while it is in sync: `f` sees it under a read lock.
    pub fn with_book<R>(&self, f: impl FnOnce(&OrderBook) -> R) -> Result<R, Error> {
        let shared = self.shared.read().unwrap();
        match (&shared.state, shared.sync.book()) {
            (CacheState::Synced, Some(book)) => Ok(f(book)),
            (other, _) => Err(not_synced(&self.symbol, other)),
        }
    }

    /// The book's update id.
    pub fn last_update_id(&self) -> Result<u64, Error> {
        self.with_book(OrderBook::last_update_id)
    }

    /// Best bid and best ask.
    pub fn best(&self) -> Result<(Option<Level>, Option<Level>), Error> {
        self.with_book(|b| (b.best_bid(), b.best_ask()))
    }

    /// The best `n` levels a side (at most the depth bound), with the update id.
    pub fn top(&self, n: usize) -> Result<(u64, Vec<Level>, Vec<Level>), Error> {
        let n = self.max_depth.map_or(n, |m| n.min(m));
        self.with_book(|b| {
            let (bids, asks) = b.top(n);
            (b.last_update_id(), bids, asks)
        })
    }

    /// Stop: `recv()` answers [`ErrorKind::Closed`](crate::ErrorKind) from
    /// now on, as on every socket type, and the symbol's stream is
    /// unsubscribed; the connection the caches of one [`DepthCaches`] share
    /// closes once no cache and no `DepthCaches` is left. Dropping the
    /// cache does the same.
    pub async fn close(&mut self) {
        self.pending = None;
        self.queue.close(Error::closed());
        if let Some(commands) = self.commands.take() {
            let _ = commands.send(BookCommand::Remove(self.symbol.clone()));
        }
    }
}

impl Drop for DepthCache {
    fn drop(&mut self) {
        if let Some(commands) = self.commands.take() {
            let _ = commands.send(BookCommand::Remove(self.symbol.clone()));
        }
    }
}

impl futures_util::Stream for DepthCache {
    type Item = Result<DepthEvent, Error>;

    /// Like `recv()`, ending after a terminal error.
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return std::task::Poll::Ready(None);
        }
        let queue = this.queue.clone();
        let pending = this
            .pending
            .get_or_insert_with(|| Box::pin(async move { queue.pop().await }));
        match pending.as_mut().poll(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(result) => {
                this.pending = None;
                this.done = result.as_ref().is_err_and(Error::is_terminal);
                std::task::Poll::Ready(Some(result))
            }
        }
    }
}

/// What caches and their handle ask of the task keeping the books.
pub(crate) enum BookCommand {
    Add {
        /// Validated, uppercase.
        symbols: Vec<String>,
        reply: oneshot::Sender<Result<Vec<DepthCache>, Error>>,
    },
    Remove(String),
}

/// Depth caches for many symbols of one market over one shared connection.
#[derive(Clone)]
pub struct DepthCaches {
    venue: Venue,
    commands: mpsc::UnboundedSender<BookCommand>,
}

impl DepthCaches {
    /// Books of `venue` over `socket` (a raw live socket of its own, on
    /// the venue's book route), snapshots from `rest_url` unless the options
    /// name another.
    pub(crate) fn start<U: TimeUnit>(
        venue: Venue,
        socket: crate::Socket<U>,
        rest_url: String,
        net: Network,
        options: DepthCacheOptions,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let rest_url = options.rest_url.clone().unwrap_or(rest_url);
        let weight = venue_snapshot_weight(venue, options.snapshot_limit);
        let task = BookTask {
            venue,
            // The book procedure checks the sequence itself.
            socket: socket.raw().gap_check(false),
            net,
            rest_url,
            snapshots: snapshot_pace(&options, weight),
            options,
            commands: rx,
            self_commands: commands.downgrade(),
            books: HashMap::new(),
            generations: 0,
        };
        tokio::spawn(task.run());
        DepthCaches { venue, commands }
    }

    /// Start keeping `symbol`'s book.
    pub async fn add(&self, symbol: &str) -> Result<DepthCache, Error> {
        Ok(self.add_many(&[symbol]).await?.remove(0))
    }

    /// Start keeping several books with one subscription request (a hundred
    /// symbols one at a time would take 25 s at Binance's 5 requests a second).
    pub async fn add_many(&self, symbols: &[&str]) -> Result<Vec<DepthCache>, Error> {
        let symbols = symbols
            .iter()
            .map(|s| match self.venue {
                Venue::Spot => Symbol::new(s).map(|s| s.as_str().to_owned()),
                Venue::UsdM | Venue::CoinM | Venue::Options => {
                    FuturesSymbol::new(s).map(|s| s.as_str().to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::from)?;
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(BookCommand::Add { symbols, reply })
            .map_err(|_| Error::closed())?;
        answer.await.map_err(|_| Error::closed())?
    }
}

/// Snapshots allowed a minute when each weighs `weight`.
pub(crate) fn snapshot_pace(options: &DepthCacheOptions, weight: u32) -> Arc<Window> {
    let per_minute = (options.weight_per_minute / weight).max(1) as usize;
    Arc::new(Window::new(per_minute, Duration::from_secs(60)))
}

/// One REST snapshot from `url`, paced by `pace`; on failure, after a pause
/// (Retry-After when given) so the caller can ask again at once.
pub(crate) async fn get_snapshot(
    url: String,
    net: Network,
    pace: Arc<Window>,
) -> Result<DepthSnapshot, Error> {
    pace.acquire().await;
    let result = rest::get(&url, &net).await.and_then(|response| {
        if response.status != 200 {
            let body = String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                .into_owned();
            return Err(Error::new(
                ErrorKind::Http {
                    status: response.status,
                    retry_after: response.retry_after,
                },
                format!("depth snapshot: HTTP {}: {body}", response.status),
            ));
        }
        serde_json::from_slice::<DepthSnapshot>(&response.body).map_err(|e| {
            Error::new(ErrorKind::Connect, format!("depth snapshot: {e}")).with_source(e)
        })
    });
    if let Err(e) = &result {
        tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_millis(500))).await;
    }
    result
}

type Fetch = Pin<Box<dyn Future<Output = (String, u64, Result<DepthSnapshot, Error>)> + Send>>;

struct Book {
    symbol: String,
    shared: Arc<RwLock<BookShared>>,
    queue: Arc<Queue<DepthEvent>>,
    fetching: bool,
    /// Bumped on every resync, so a snapshot asked for earlier is ignored.
    generation: u64,
    refresh_at: Option<Instant>,
}

struct BookTask<U: TimeUnit> {
    venue: Venue,
    socket: crate::Socket<U>,
    net: Network,
    rest_url: String,
    snapshots: Arc<Window>,
    options: DepthCacheOptions,
    commands: mpsc::UnboundedReceiver<BookCommand>,
    /// For new caches; weak, so the task ends (and its connection closes)
    /// once no cache and no `DepthCaches` is left.
    self_commands: mpsc::WeakUnboundedSender<BookCommand>,
    /// By stream name.
    books: HashMap<String, Book>,
    /// Snapshot generations, one counter for every book of the task, so a
    /// snapshot asked for a removed book is never taken for a re-added one's.
    generations: u64,
}

/// A diff-depth frame's stream (borrowed from the frame) and event, decoded
/// as `venue` sends it (futures keep `pu`, which the spot decoder has no
/// field for); `None` for any other frame.
fn diff<U: TimeUnit>(
    venue: Venue,
    text: &str,
) -> Result<Option<(Cow<'_, str>, binance_types::book_sync::Diff)>, DecodeError> {
    let (envelope, update) = match venue {
        Venue::Spot => {
            let frame = binance_types::frame::decode_as::<U>(text.as_bytes())?;
            match frame.event {
                Event::DepthUpdate(update) => (frame.envelope, update.into()),
                _ => return Ok(None),
            }
        }
        Venue::UsdM | Venue::CoinM | Venue::Options => {
            // Futures times are ms whatever the manager's unit (no `timeUnit`).
            let frame = decode_futures(text.as_bytes())?;
            match frame.event {
                FuturesEvent::DepthUpdate(update) => (frame.envelope, update.into()),
                _ => return Ok(None),
            }
        }
    };
    Ok(match envelope {
        Envelope::Combined { stream } => Some((stream, update)),
        _ => None,
    })
}

impl<U: TimeUnit> BookTask<U> {
    fn stream(&self, symbol: &str) -> String {
        match self.venue {
            Venue::Spot => StreamName::Depth {
                symbol: Symbol::new(symbol).expect("validated when added"),
                speed: self.options.speed,
            }
            .to_string(),
            Venue::UsdM | Venue::CoinM | Venue::Options => FuturesStream::Depth {
                symbol: FuturesSymbol::new(symbol).expect("validated when added"),
                speed: match self.options.speed {
                    UpdateSpeed::Ms100 => DepthSpeed::Ms100,
                    _ => DepthSpeed::Ms250,
                },
            }
            .to_string(),
        }
    }

    fn fresh_sync(&self) -> BookSync {
        let procedure = match self.venue {
            Venue::Spot => Procedure::Spot,
            Venue::UsdM | Venue::CoinM | Venue::Options => Procedure::Futures,
        };
        BookSync::with_book(procedure, bounded_book(self.options.max_depth))
    }

    async fn run(mut self) {
        let mut fetches: FuturesUnordered<Fetch> = FuturesUnordered::new();
        let mut refresh = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return,
                    Some(BookCommand::Add { symbols, reply }) => {
                        let _ = reply.send(self.add(symbols).await);
                    }
                    Some(BookCommand::Remove(symbol)) => {
                        let stream = self.stream(&symbol);
                        if self.books.remove(&stream).is_some() {
                            let _ = self.socket.unsubscribe(&[stream.as_str()]).await;
                        }
                    }
                },
                message = self.socket.recv() => match message {
                    Ok(Message::Raw(frame)) => self.on_frame(frame.text(), &mut fetches),
                    Ok(Message::Status(status)) => self.on_status(status, &mut fetches),
                    Ok(_) => {}
                    Err(error) if !error.is_terminal() => {}
                    Err(error) => {
                        for book in self.books.values() {
                            book.shared.write().unwrap().state = CacheState::Ended;
                            book.queue.end(error.clone());
                        }
                        return;
                    }
                },
                Some((stream, generation, result)) = fetches.next(), if !fetches.is_empty() => {
                    self.on_snapshot(&stream, generation, result, &mut fetches);
                }
                _ = refresh.tick(), if self.options.refresh.is_some() => {
                    let now = Instant::now();
                    let due: Vec<String> = self.books.iter()
                        .filter(|(_, b)| b.refresh_at.is_some_and(|t| t <= now))
                        .map(|(s, _)| s.clone())
                        .collect();
                    for stream in due {
                        // From an empty buffer: diffs are buffered, not applied, until it lands.
                        self.resync(&stream, "periodic re-snapshot", true, &mut fetches);
                    }
                }
            }
        }
    }

    async fn add(&mut self, symbols: Vec<String>) -> Result<Vec<DepthCache>, Error> {
        // A second cache for a symbol would silence the first (one reader per book).
        let mut asked = std::collections::HashSet::new();
        for symbol in &symbols {
            if self.books.contains_key(&self.stream(symbol)) || !asked.insert(symbol.clone()) {
                return Err(Error::config(format!(
                    "{symbol} is already kept by this DepthCaches: read the DepthCache you have, \
                     or start another DepthCaches for a second reader"
                )));
            }
        }
        let mut caches = Vec::with_capacity(symbols.len());
        let mut streams = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            let stream = self.stream(&symbol);
            let shared = Arc::new(RwLock::new(BookShared {
                sync: self.fresh_sync(),
                state: CacheState::Syncing("starting".into()),
            }));
            let queue = Arc::new(Queue::new(
                self.options.queue_capacity,
                Overflow::DropOldest,
            ));
            self.books.insert(
                stream.clone(),
                Book {
                    symbol: symbol.clone(),
                    shared: shared.clone(),
                    queue: queue.clone(),
                    fetching: false,
                    generation: {
                        self.generations += 1;
                        self.generations
                    },
                    refresh_at: None,
                },
            );
            streams.push(stream);
            caches.push(DepthCache::new(
                symbol,
                shared,
                queue,
                self.self_commands.upgrade(),
                self.options.max_depth,
            ));
        }
        let names: Vec<&str> = streams.iter().map(String::as_str).collect();
        if let Err(e) = self.socket.subscribe(&names).await {
            for stream in &streams {
                self.books.remove(stream);
            }
            return Err(e);
        }
        Ok(caches)
    }

    fn on_frame(&mut self, text: &str, fetches: &mut FuturesUnordered<Fetch>) {
        let (stream, update) = match diff::<U>(self.venue, text) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => return self.on_status(Status::Malformed { error }, fetches),
        };
        let Some(book) = self.books.get_mut(stream.as_ref()) else {
            return;
        };
        let mut shared = book.shared.write().unwrap();
        let was_synced = shared.sync.is_synced();
        // The applied event's levels come back to be passed on, not copied.
        let (outcome, applied) = shared.sync.push_keeping(update);
        let event = match outcome {
            Outcome::Applied { event } if was_synced => {
                let diff = applied.expect("an applied event comes back");
                DepthEvent::Updated {
                    first_update_id: event.first,
                    last_update_id: event.last,
                    bids: diff.bids,
                    asks: diff.asks,
                }
            }
            Outcome::Applied { event } => {
                shared.state = CacheState::Synced;
                book.refresh_at = self.options.refresh.map(|r| Instant::now() + r);
                DepthEvent::Synced {
                    last_update_id: event.last,
                }
            }
            Outcome::Dropped { .. } => return,
            Outcome::Buffered { .. } => {
                drop(shared);
                return self.fetch(&stream, fetches);
            }
            Outcome::Gap(gap) => {
                drop(shared);
                return self.resync(&stream, &format!("gap: {gap}"), false, fetches);
            }
        };
        drop(shared);
        book.queue.push(event);
    }

    fn on_status(&mut self, status: Status, fetches: &mut FuturesUnordered<Fetch>) {
        let lost = match &status {
            Status::Disconnected { reason } => Some(format!("disconnected: {reason}")),
            Status::Lagged { dropped } => Some(format!("{dropped} diffs dropped by a slow reader")),
            Status::Malformed { .. } => Some("a malformed frame".to_owned()),
            _ => None,
        };
        let streams: Vec<String> = self.books.keys().cloned().collect();
        for stream in streams {
            if let Some(book) = self.books.get(&stream) {
                book.queue.push(DepthEvent::Status(status.clone()));
            }
            if let Some(reason) = &lost {
                self.resync(&stream, reason, true, fetches);
            }
        }
    }

    /// Mark the book out of sync and take a new snapshot. `lost` (events
    /// may be missing from the buffer too, or a refresh) starts the
    /// procedure over with an empty buffer, and the next diff asks for the
    /// snapshot; otherwise what the procedure buffered (the event that
    /// showed a gap, and any after it) is kept for it.
    fn resync(
        &mut self,
        stream: &str,
        reason: &str,
        lost: bool,
        fetches: &mut FuturesUnordered<Fetch>,
    ) {
        let fresh = lost.then(|| self.fresh_sync());
        let Some(book) = self.books.get_mut(stream) else {
            return;
        };
        tracing::info!(symbol = %book.symbol, venue = %self.venue, "resync: {reason}");
        self.generations += 1;
        book.generation = self.generations;
        book.fetching = false;
        book.refresh_at = None;
        let mut shared = book.shared.write().unwrap();
        if let Some(fresh) = fresh {
            shared.sync = fresh;
        }
        let buffered = shared.sync.buffered() > 0;
        shared.state = CacheState::Syncing(reason.to_owned());
        drop(shared);
        book.queue.push(DepthEvent::Resyncing {
            reason: reason.to_owned(),
        });
        if buffered {
            self.fetch(stream, fetches);
        }
    }

    /// Ask for a snapshot (paced under the weight budget).
    fn fetch(&mut self, stream: &str, fetches: &mut FuturesUnordered<Fetch>) {
        let Some(book) = self.books.get_mut(stream) else {
            return;
        };
        if book.fetching {
            return;
        }
        book.fetching = true;
        let url = format!(
            "{}{}?symbol={}&limit={}",
            self.rest_url,
            self.venue.depth_path(),
            book.symbol,
            self.options.snapshot_limit
        );
        let (net, pace, stream, generation) = (
            self.net.clone(),
            self.snapshots.clone(),
            stream.to_owned(),
            book.generation,
        );
        fetches.push(Box::pin(async move {
            (stream, generation, get_snapshot(url, net, pace).await)
        }));
    }

    /// Give the procedure a snapshot; ask again if it cannot use it.
    fn on_snapshot(
        &mut self,
        stream: &str,
        generation: u64,
        result: Result<DepthSnapshot, Error>,
        fetches: &mut FuturesUnordered<Fetch>,
    ) {
        let Some(book) = self.books.get_mut(stream) else {
            return;
        };
        if generation != book.generation {
            return;
        }
        book.fetching = false;
        let snapshot = match result {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::info!(stream, "snapshot failed: {e}");
                return self.fetch(stream, fetches);
            }
        };
        let mut shared = book.shared.write().unwrap();
        let outcomes =
            shared
                .sync
                .snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
        let synced = shared.sync.book().map(OrderBook::last_update_id);
        let again = shared.sync.needs_snapshot();
        if let Some(last_update_id) = synced {
            shared.state = CacheState::Synced;
            drop(shared);
            book.refresh_at = self.options.refresh.map(|r| Instant::now() + r);
            book.queue.push(DepthEvent::Synced { last_update_id });
        } else {
            // Waiting for the first event after it (or for another one).
            if shared.state == CacheState::Synced {
                shared.state = CacheState::Syncing("a new snapshot".into());
            }
            drop(shared);
        }
        if again {
            let why = outcomes.iter().find_map(|o| match o {
                Outcome::Gap(gap) => Some(gap.to_string()),
                _ => None,
            });
            tracing::info!(stream, "snapshot not usable: {}", why.unwrap_or_default());
            self.fetch(stream, fetches);
        }
    }
}
