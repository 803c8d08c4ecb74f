//! Futures depth caches (USD-M and COIN-M, reference §5.4): the spot
//! caches' readers, queue, pacing and snapshots, with the futures procedure
//! ([`FuturesBookSync`]) deciding what is applied.
//!
//! Frames are read raw and decoded with the futures decoder, since the spot
//! one would drop `pu`, the field the procedure's continuity rests on. Every
//! gap (a `pu` that does not continue the last `u`, or a first event that
//! does not bracket the snapshot) takes a new snapshot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use binance_types::futures::book::{FuturesBookSync, Outcome};
use binance_types::futures::{decode_futures_as, FuturesEvent};
use binance_types::venue::Venue;
use binance_types::{StreamName, Symbol, TimeUnit};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::depth::{
    bounded_book, get_snapshot, snapshot_pace, BookCommand, BookShared, CacheState, DepthCache,
    DepthCacheOptions, DepthCaches, DepthEvent,
};
use crate::error::Error;
use crate::limiter::Window;
use crate::message::{Message, Status};
use crate::queue::Queue;
use crate::transport::Network;
use crate::Overflow;

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

/// Start the task keeping futures books of `venue` over `socket` (a raw
/// live socket on the venue's book route), snapshots from `rest_url`
/// (unless the options name another).
pub(crate) fn start<U: TimeUnit>(
    venue: Venue,
    socket: crate::Socket<U>,
    rest_url: String,
    net: Network,
    options: DepthCacheOptions,
) -> DepthCaches {
    let (commands, rx) = mpsc::unbounded_channel();
    let rest_url = options.rest_url.clone().unwrap_or(rest_url);
    let snapshots = snapshot_pace(&options, futures_snapshot_weight(options.snapshot_limit));
    let task = FuturesTask {
        venue,
        socket,
        net,
        rest_url,
        snapshots,
        options,
        commands: rx,
        self_commands: commands.downgrade(),
        books: HashMap::new(),
    };
    tokio::spawn(task.run());
    DepthCaches::from_commands(commands)
}

type Fetch = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (
                    String,
                    u64,
                    Result<binance_types::market::DepthSnapshot, Error>,
                ),
            > + Send,
    >,
>;

struct Book {
    symbol: Symbol,
    shared: Arc<RwLock<BookShared>>,
    queue: Arc<Queue<DepthEvent>>,
    fetching: bool,
    /// Bumped on every restart, so a snapshot asked for earlier is ignored.
    generation: u64,
}

struct FuturesTask<U: TimeUnit> {
    venue: Venue,
    socket: crate::Socket<U>,
    net: Network,
    rest_url: String,
    snapshots: Arc<Window>,
    options: DepthCacheOptions,
    commands: mpsc::UnboundedReceiver<BookCommand>,
    self_commands: mpsc::WeakUnboundedSender<BookCommand>,
    /// By stream name.
    books: HashMap<String, Book>,
}

impl<U: TimeUnit> FuturesTask<U> {
    fn stream(&self, symbol: &Symbol) -> String {
        StreamName::Depth {
            symbol: symbol.clone(),
            speed: self.options.speed,
        }
        .to_string()
    }

    async fn run(mut self) {
        let mut fetches: FuturesUnordered<Fetch> = FuturesUnordered::new();
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
            }
        }
    }

    async fn add(&mut self, symbols: Vec<Symbol>) -> Result<Vec<DepthCache>, Error> {
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
                book: binance_types::OrderBook::new(),
                futures: Some(self.fresh_sync()),
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
                    generation: 0,
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

    fn fresh_sync(&self) -> FuturesBookSync {
        FuturesBookSync::with_book(bounded_book(self.options.max_depth))
    }

    fn on_frame(&mut self, text: &str, fetches: &mut FuturesUnordered<Fetch>) {
        let frame = match decode_futures_as::<U>(text.as_bytes()) {
            Ok(frame) => frame,
            Err(error) => return self.on_status(Status::Malformed { error }, fetches),
        };
        let stream = frame.stream().map(str::to_owned);
        let (Some(stream), FuturesEvent::DepthUpdate(update)) = (stream, frame.event) else {
            return;
        };
        let Some(book) = self.books.get_mut(&stream) else {
            return;
        };
        let (bids, asks) = (update.bids.clone(), update.asks.clone());
        let mut shared = book.shared.write().unwrap();
        let sync = shared.futures.as_mut().expect("a futures book");
        let was_synced = sync.is_synced();
        let outcome = sync.push(update);
        let event = match outcome {
            Outcome::Applied { event } if was_synced => Some(DepthEvent::Updated {
                first_update_id: event.first,
                last_update_id: event.last,
                bids,
                asks,
            }),
            Outcome::Applied { event } => {
                shared.state = CacheState::Synced;
                Some(DepthEvent::Synced {
                    last_update_id: event.last,
                })
            }
            Outcome::Dropped { .. } => None,
            Outcome::Buffered { .. } => {
                drop(shared);
                self.fetch(&stream, fetches);
                return;
            }
            Outcome::Gap(gap) => {
                drop(shared);
                self.resync(&stream, &format!("gap: {gap}"), false, fetches);
                return;
            }
        };
        drop(shared);
        if let Some(event) = event {
            book.queue.push(event);
        }
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

    /// Mark the book out of sync and take a new snapshot; `lost` (events
    /// may be missing from the buffer too) starts the procedure over.
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
        book.generation += 1;
        book.fetching = false;
        let mut shared = book.shared.write().unwrap();
        if let Some(fresh) = fresh {
            shared.futures = Some(fresh);
        }
        let buffered = shared.futures.as_ref().is_some_and(|s| s.buffered() > 0);
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

    fn on_snapshot(
        &mut self,
        stream: &str,
        generation: u64,
        result: Result<binance_types::market::DepthSnapshot, Error>,
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
        let sync = shared.futures.as_mut().expect("a futures book");
        let outcomes = sync.snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
        let synced = sync
            .is_synced()
            .then(|| sync.book().map(|b| b.last_update_id()));
        let again = sync.needs_snapshot();
        if let Some(Some(last_update_id)) = synced {
            shared.state = CacheState::Synced;
            drop(shared);
            book.queue.push(DepthEvent::Synced { last_update_id });
        } else {
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
