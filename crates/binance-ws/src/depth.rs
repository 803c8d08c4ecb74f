//! Depth caches: local order books that are never wrong.
//!
//! Binance's procedure (spot, corrected 2025-11-12): open the diff stream and
//! buffer; take a REST snapshot, again if its `lastUpdateId` is older than the
//! first buffered `U`; drop events with `u` ≤ `lastUpdateId`; apply the rest,
//! each continuing the last (`U` = last `u` + 1). On a gap, a reconnect, lost
//! or malformed frames, or a snapshot that cannot be used, the cache resyncs
//! and keeps buffering meanwhile. Reads of a book that is not in sync are
//! errors that say so.
//!
//! Many symbols share one connection; snapshots are paced under Binance's
//! request-weight limit.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use binance_types::futures::book::FuturesBookSync;
use binance_types::market::{DepthSnapshot, DepthUpdate};
use binance_types::stream::UpdateSpeed;
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

/// Binance's weight for a depth snapshot of `limit` levels.
pub fn snapshot_weight(limit: usize) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
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
    /// The spot book (unused when `futures` is set).
    pub(crate) book: OrderBook,
    /// A futures book: the §5.4 procedure owns its levels.
    pub(crate) futures: Option<FuturesBookSync>,
    pub(crate) state: CacheState,
}

impl BookShared {
    /// The book readers see (futures: only while the procedure is synced).
    fn readable(&self) -> Option<&OrderBook> {
        match &self.futures {
            Some(sync) => sync.book(),
            None => Some(&self.book),
        }
    }
}

/// A book bounded to `max_depth` levels a side for reading, keeping a
/// margin beyond the bound so levels moving into it are known.
pub(crate) fn bounded_book(max_depth: Option<usize>) -> OrderBook {
    match max_depth {
        Some(n) => OrderBook::with_max_depth((n * 4).max(n + 100)),
        None => OrderBook::new(),
    }
}

pub(crate) fn not_synced(symbol: &Symbol, state: &CacheState) -> Error {
    Error::new(
        ErrorKind::NotSynced,
        format!("the {symbol} book is not in sync ({state:?})"),
    )
}

type PendingEvent = Pin<Box<dyn Future<Output = Result<DepthEvent, Error>> + Send>>;

/// One symbol's local order book.
pub struct DepthCache {
    symbol: Symbol,
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
            .field("symbol", &self.symbol.as_str())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl DepthCache {
    /// A reader of the book kept by the task behind `commands`.
    pub(crate) fn new(
        symbol: Symbol,
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

    /// The symbol.
    pub fn symbol(&self) -> &Symbol {
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
        match (&shared.state, shared.readable()) {
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
        symbols: Vec<Symbol>,
        reply: oneshot::Sender<Result<Vec<DepthCache>, Error>>,
    },
    Remove(Symbol),
}

/// Depth caches for many symbols over one shared connection.
#[derive(Clone)]
pub struct DepthCaches {
    commands: mpsc::UnboundedSender<BookCommand>,
}

impl DepthCaches {
    /// Books over `socket` (a live socket of its own), snapshots from
    /// `rest_url` unless the options name another.
    pub(crate) fn start<U: TimeUnit>(
        socket: crate::Socket<U>,
        rest_url: String,
        net: Network,
        options: DepthCacheOptions,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let rest_url = options.rest_url.clone().unwrap_or(rest_url);
        let weight = snapshot_weight(options.snapshot_limit);
        let task = BookTask {
            socket,
            net,
            rest_url,
            snapshots: snapshot_pace(&options, weight),
            options,
            commands: rx,
            self_commands: commands.downgrade(),
            books: HashMap::new(),
        };
        tokio::spawn(task.run());
        DepthCaches { commands }
    }

    /// A handle on the task behind `commands`.
    pub(crate) fn from_commands(commands: mpsc::UnboundedSender<BookCommand>) -> Self {
        DepthCaches { commands }
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
            .map(|s| Symbol::new(s).map_err(Error::from))
            .collect::<Result<Vec<_>, _>>()?;
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

enum Phase<U: TimeUnit> {
    /// Buffering diffs until a usable snapshot arrives.
    Buffering(Vec<DepthUpdate<U>>),
    Synced,
}

struct Book<U: TimeUnit> {
    symbol: Symbol,
    shared: Arc<RwLock<BookShared>>,
    queue: Arc<Queue<DepthEvent>>,
    phase: Phase<U>,
    fetching: bool,
    /// Bumped on every resync, so a snapshot asked for earlier is ignored.
    generation: u64,
    refresh_at: Option<Instant>,
}

struct BookTask<U: TimeUnit> {
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
    books: HashMap<String, Book<U>>,
}

impl<U: TimeUnit> BookTask<U> {
    fn stream(&self, symbol: &Symbol) -> String {
        StreamName::Depth {
            symbol: symbol.clone(),
            speed: self.options.speed,
        }
        .to_string()
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
                    Ok(Message::Event(e)) => {
                        if let (Some(stream), binance_types::Event::DepthUpdate(update)) = (e.stream, e.event) {
                            self.on_update(&stream, update, &mut fetches);
                        }
                    }
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
                        .filter(|(_, b)| matches!(b.phase, Phase::Synced) && b.refresh_at.is_some_and(|t| t <= now))
                        .map(|(s, _)| s.clone())
                        .collect();
                    for stream in due {
                        self.resync(&stream, "periodic re-snapshot", None, &mut fetches);
                    }
                }
            }
        }
    }

    async fn add(&mut self, symbols: Vec<Symbol>) -> Result<Vec<DepthCache>, Error> {
        // A second cache for a symbol would silence the first (one reader per book).
        let mut asked = std::collections::HashSet::new();
        for symbol in &symbols {
            if self.books.contains_key(&self.stream(symbol)) || !asked.insert(symbol.clone()) {
                return Err(Error::config(format!(
                    "{} is already kept by this DepthCaches: read the DepthCache you have, \
                     or start another DepthCaches for a second reader",
                    symbol.as_str()
                )));
            }
        }
        let mut caches = Vec::with_capacity(symbols.len());
        let mut streams = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            let stream = self.stream(&symbol);
            let shared = Arc::new(RwLock::new(BookShared {
                book: bounded_book(self.options.max_depth),
                futures: None,
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
                    phase: Phase::Buffering(Vec::new()),
                    fetching: false,
                    generation: 0,
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
                self.resync(&stream, reason, None, fetches);
            }
        }
    }

    /// Mark the book out of sync and start over, keeping `first` (the event
    /// that showed the gap) as the start of the new buffer.
    fn resync(
        &mut self,
        stream: &str,
        reason: &str,
        first: Option<DepthUpdate<U>>,
        fetches: &mut FuturesUnordered<Fetch>,
    ) {
        let Some(book) = self.books.get_mut(stream) else {
            return;
        };
        tracing::info!(symbol = %book.symbol, "resync: {reason}");
        book.generation += 1;
        book.fetching = false;
        let buffered = first.is_some();
        book.phase = Phase::Buffering(first.into_iter().collect());
        book.shared.write().unwrap().state = CacheState::Syncing(reason.to_owned());
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
            "{}/api/v3/depth?symbol={}&limit={}",
            self.rest_url, book.symbol, self.options.snapshot_limit
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

    fn on_update(
        &mut self,
        stream: &str,
        update: DepthUpdate<U>,
        fetches: &mut FuturesUnordered<Fetch>,
    ) {
        let Some(book) = self.books.get_mut(stream) else {
            return;
        };
        match &mut book.phase {
            Phase::Synced => {
                let mut shared = book.shared.write().unwrap();
                let last = shared.book.last_update_id();
                if update.final_update_id <= last {
                    return;
                }
                if update.first_update_id > last + 1 {
                    drop(shared);
                    let reason = format!("gap: U={} after {last}", update.first_update_id);
                    self.resync(stream, &reason, Some(update), fetches);
                    return;
                }
                shared
                    .book
                    .apply(update.final_update_id, &update.bids, &update.asks);
                drop(shared);
                book.queue.push(DepthEvent::Updated {
                    first_update_id: update.first_update_id,
                    last_update_id: update.final_update_id,
                    bids: update.bids,
                    asks: update.asks,
                });
            }
            Phase::Buffering(buffer) => {
                // A gap inside the buffer: what came before it is useless.
                if buffer
                    .last()
                    .is_some_and(|last| update.first_update_id != last.final_update_id + 1)
                {
                    buffer.clear();
                }
                buffer.push(update);
                self.fetch(stream, fetches);
            }
        }
    }

    fn on_snapshot(
        &mut self,
        stream: &str,
        generation: u64,
        result: Result<DepthSnapshot, Error>,
        fetches: &mut FuturesUnordered<Fetch>,
    ) {
        match self.try_sync(stream, generation, result) {
            Sync::Done | Sync::Stale => {}
            Sync::Again(why) => {
                tracing::info!(stream, "snapshot not usable: {why}");
                self.fetch(stream, fetches);
            }
        }
    }

    /// Build the book from a snapshot and the buffered diffs, if it can be.
    fn try_sync(
        &mut self,
        stream: &str,
        generation: u64,
        result: Result<DepthSnapshot, Error>,
    ) -> Sync {
        let Some(book) = self.books.get_mut(stream) else {
            return Sync::Stale;
        };
        if generation != book.generation {
            return Sync::Stale;
        }
        book.fetching = false;
        let Phase::Buffering(buffer) = &mut book.phase else {
            return Sync::Stale;
        };
        let snapshot = match result {
            Ok(s) => s,
            Err(e) => return Sync::Again(e.to_string()),
        };
        // No diff yet: the next one asks again.
        let Some(first) = buffer.first() else {
            return Sync::Stale;
        };
        if snapshot.last_update_id < first.first_update_id {
            return Sync::Again(format!(
                "lastUpdateId {} is older than the first buffered U {}",
                snapshot.last_update_id, first.first_update_id
            ));
        }
        buffer.retain(|u| u.final_update_id > snapshot.last_update_id);
        if buffer
            .first()
            .is_some_and(|u| u.first_update_id > snapshot.last_update_id + 1)
        {
            return Sync::Again("the buffered diffs do not reach the snapshot".into());
        }
        let pending = std::mem::take(buffer);
        let mut shared = book.shared.write().unwrap();
        shared
            .book
            .load_snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
        for update in &pending {
            shared
                .book
                .apply(update.final_update_id, &update.bids, &update.asks);
        }
        let last_update_id = shared.book.last_update_id();
        shared.state = CacheState::Synced;
        drop(shared);
        book.phase = Phase::Synced;
        book.refresh_at = self.options.refresh.map(|r| Instant::now() + r);
        book.queue.push(DepthEvent::Synced { last_update_id });
        Sync::Done
    }
}

enum Sync {
    Done,
    /// The answer is for an earlier sync attempt, or nothing to do yet.
    Stale,
    /// Not usable; ask again.
    Again(String),
}
