//! Breaking things on demand: the fault switches a test (through [`Faults`])
//! or a user (through the admin endpoints under `/_sim/`) can throw.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use binance_types::venue::Venue;

use crate::futures::FuturesMarket;
use crate::futures_user::FuturesUsers;
use crate::hub::{Hub, MICROS_SUFFIX};
use crate::market::Market;

/// How a dropped connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropMode {
    /// TCP reset: no close frame, the peer sees a connection reset.
    Reset,
    /// A WebSocket close frame with this code and reason, then TCP close.
    Close {
        /// Close code (1000 normal, 1001 going away, 1008 policy, 1011 error, …).
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// A command to one live connection.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Drop(DropMode),
    /// Keep TCP open but send nothing and read nothing (so pings go unanswered).
    Stall(Option<Duration>),
    Malformed,
    Oversized(usize),
    ServerShutdown(Option<Duration>),
}

pub(crate) struct Conn {
    pub commands: mpsc::UnboundedSender<Command>,
    pub kind: ConnKind,
}

/// Which server a connection is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnKind {
    /// A market stream connection (`/ws`, `/stream`).
    Stream,
    /// A WebSocket API connection (`/ws-api/v3`).
    WsApi,
}

/// What the server's handlers consult on every request.
#[derive(Default)]
pub(crate) struct FaultState {
    pub conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    refuse_until: Mutex<Option<Instant>>,
    reject_upgrades: Mutex<Option<(u16, Duration, Instant)>>,
    frame_delay_us: AtomicU64,
    depth_delay_us: AtomicU64,
    api_delay_us: AtomicU64,
    /// WebSocket API requests received, all connections.
    pub api_requests: AtomicU64,
    /// The hub that feeds the stream connections, for silencing streams;
    /// set when the server is built.
    hub: OnceLock<Arc<Hub>>,
    /// The futures venues' hubs.
    venue_hubs: Mutex<Vec<(Venue, Arc<Hub>)>>,
}

impl FaultState {
    pub fn register(&self, conn: Conn) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        self.conns.lock().unwrap().insert(id, conn);
        id
    }

    /// The hub streams are silenced in (once, when the server is built).
    pub fn attach_hub(&self, hub: &Arc<Hub>) {
        let _ = self.hub.set(hub.clone());
    }

    /// A futures venue's hub, for silencing its streams.
    pub fn attach_venue_hub(&self, venue: Venue, hub: &Arc<Hub>) {
        self.venue_hubs.lock().unwrap().push((venue, hub.clone()));
    }

    /// Send `command` to connection `id`; false when it is gone.
    pub fn command(&self, id: u64, command: Command) -> bool {
        let conns = self.conns.lock().unwrap();
        conns
            .get(&id)
            .is_some_and(|c| c.commands.send(command).is_ok())
    }

    pub fn unregister(&self, id: u64) {
        self.conns.lock().unwrap().remove(&id);
    }

    pub fn refusing(&self) -> bool {
        let mut until = self.refuse_until.lock().unwrap();
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    /// The status and `Retry-After` to answer upgrades with, while set.
    pub fn upgrade_rejection(&self) -> Option<(u16, Duration)> {
        let mut slot = self.reject_upgrades.lock().unwrap();
        match *slot {
            Some((status, retry, until)) if Instant::now() < until => Some((status, retry)),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    pub fn frame_delay(&self) -> Duration {
        Duration::from_micros(self.frame_delay_us.load(Ordering::Relaxed))
    }

    pub fn api_delay(&self) -> Duration {
        Duration::from_micros(self.api_delay_us.load(Ordering::Relaxed))
    }

    pub fn depth_delay(&self) -> Duration {
        Duration::from_micros(self.depth_delay_us.load(Ordering::Relaxed))
    }
}

/// The fault switches of a running simulator. Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<FaultState>,
    pub(crate) market: Arc<Market>,
    /// The futures venues' markets.
    pub(crate) futures: Vec<Arc<FuturesMarket>>,
    /// The futures venues' user data.
    pub(crate) users: Vec<Arc<FuturesUsers>>,
}

impl Faults {
    /// Ids of the live WebSocket connections, oldest first.
    pub fn connections(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.state.conns.lock().unwrap().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Answer WebSocket API requests this late (zero: at once); the
    /// connection goes on meanwhile, so drops and events still happen.
    pub fn set_api_answer_delay(&self, delay: Duration) {
        self.state
            .api_delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// WebSocket API requests received so far (all connections).
    pub fn api_requests_received(&self) -> u64 {
        self.state.api_requests.load(Ordering::Relaxed)
    }

    /// Ids of the live WebSocket API connections (`/ws-api/v3`), oldest first.
    pub fn api_connections(&self) -> Vec<u64> {
        let conns = self.state.conns.lock().unwrap();
        let mut ids: Vec<u64> = conns
            .iter()
            .filter(|(_, c)| c.kind == ConnKind::WsApi)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn send(&self, only: Option<u64>, command: Command) -> usize {
        if let Some(id) = only {
            return usize::from(self.state.command(id, command));
        }
        let conns = self.state.conns.lock().unwrap();
        conns
            .values()
            .filter(|c| c.commands.send(command.clone()).is_ok())
            .count()
    }

    /// Drop every connection; returns how many.
    pub fn drop_all(&self, mode: DropMode) -> usize {
        self.send(None, Command::Drop(mode))
    }

    /// Drop one connection; false if there is no such connection.
    pub fn drop_connection(&self, id: u64, mode: DropMode) -> bool {
        self.send(Some(id), Command::Drop(mode)) == 1
    }

    /// Stall every connection: TCP stays open, nothing is sent, nothing is
    /// read, pings go unanswered; for `duration`, or until the peer gives up.
    pub fn stall_all(&self, duration: Option<Duration>) -> usize {
        self.send(None, Command::Stall(duration))
    }

    /// Delay every outgoing data frame by `delay` (zero turns it off).
    pub fn set_frame_delay(&self, delay: Duration) {
        self.state
            .frame_delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Send a frame that is not valid JSON on every connection.
    pub fn send_malformed(&self) -> usize {
        self.send(None, Command::Malformed)
    }

    /// Send a valid JSON text frame of about `bytes` bytes on every connection.
    pub fn send_oversized(&self, bytes: usize) -> usize {
        self.send(None, Command::Oversized(bytes))
    }

    /// Send `serverShutdown` on every connection, and close them after
    /// `close_after` if given.
    pub fn server_shutdown(&self, close_after: Option<Duration>) -> usize {
        self.send(None, Command::ServerShutdown(close_after))
    }

    /// Leave the changes of the next `count` book updates of `symbol` out of
    /// its depth streams, so the next diff's `U` jumps past the last `u` + 1.
    /// False for an unknown symbol.
    pub fn skip_update_ids(&self, symbol: &str, count: u64) -> bool {
        match self.market.symbol(symbol) {
            Some(m) => {
                m.lock().unwrap().skip_updates(count);
                true
            }
            None => false,
        }
    }

    /// A hole in a trade stream: leave the next `count` trades of `symbol`
    /// out of its trade and aggTrade streams (an aggregate trade goes with
    /// its first trade), as though the frames were lost on the way; REST
    /// (`/api/v3/historicalTrades`, `/api/v3/aggTrades`) still has them.
    /// False for an unknown symbol.
    pub fn hide_trades(&self, symbol: &str, count: u64) -> bool {
        match self.market.symbol(symbol) {
            Some(m) => {
                m.lock().unwrap().hide_trades(count);
                true
            }
            None => false,
        }
    }

    /// A futures gap: leave the next `count` book updates of `symbol` on
    /// `venue` out of its diff-depth streams as though the events carrying
    /// them were lost, so the next event's `pu` is a `u` the client never
    /// saw (§5.4 step 6). False for an unknown venue or symbol.
    pub fn skip_venue_update_ids(&self, venue: Venue, symbol: &str, count: u64) -> bool {
        if venue == Venue::Spot {
            return self.skip_update_ids(symbol, count);
        }
        let contract = self
            .futures
            .iter()
            .find(|m| m.venue() == venue)
            .and_then(|m| m.contract(symbol));
        match contract {
            Some(c) => {
                c.lock().unwrap().skip_updates(count);
                true
            }
            None => false,
        }
    }

    /// Silence one stream (`btcusdt@depth@100ms`) on every connection that
    /// carries it now, as in Binance outages where a subscription was
    /// acknowledged and some streams of a connection went quiet while the
    /// others kept flowing: its frames stop, the connection's other streams
    /// go on, and the connection still lists it as subscribed. It flows
    /// again on a connection that unsubscribes and subscribes it again, on
    /// new connections, and everywhere after [`Faults::clear`]. Returns how
    /// many connections were silenced.
    pub fn silence_stream(&self, stream: &str) -> usize {
        let name = stream
            .parse::<binance_types::StreamName>()
            .map_or_else(|_| stream.to_owned(), |n| n.to_string());
        let Some(hub) = self.state.hub.get() else {
            return 0;
        };
        let mut ids = hub.silence(&name);
        ids.extend(hub.silence(&format!("{name}{MICROS_SUFFIX}")));
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// [`Faults::silence_stream`] on a venue: a futures stream name
    /// (`btcusd_perp@depth@100ms`) on that venue's connections; spot's for
    /// [`Venue::Spot`]. Returns how many connections were silenced.
    pub fn silence_venue_stream(&self, venue: Venue, stream: &str) -> usize {
        if venue == Venue::Spot {
            return self.silence_stream(stream);
        }
        let name = binance_types::futures::FuturesStream::parse_on(venue, stream)
            .map_or_else(|_| stream.to_owned(), |n| n.to_string());
        let hubs = self.state.venue_hubs.lock().unwrap();
        hubs.iter()
            .filter(|(v, _)| *v == venue)
            .map(|(_, hub)| hub.silence(&name).len())
            .sum()
    }

    /// Expire every listen key of `venue` now, as though their 60 minutes
    /// were up: each key's streams get `listenKeyExpired`, then nothing
    /// more. Returns how many keys expired.
    pub fn expire_listen_keys(&self, venue: Venue) -> usize {
        self.users
            .iter()
            .filter(|u| u.venue() == venue)
            .map(|u| u.expire(true))
            .sum()
    }

    /// Refuse new TCP connections (reset at once) for `duration`.
    pub fn refuse_connections(&self, duration: Duration) {
        *self.state.refuse_until.lock().unwrap() = Some(Instant::now() + duration);
    }

    /// Answer WebSocket upgrades with `status` (429 or 418) and `Retry-After`
    /// for `duration`.
    pub fn reject_upgrades(&self, status: u16, retry_after: Duration, duration: Duration) {
        *self.state.reject_upgrades.lock().unwrap() =
            Some((status, retry_after, Instant::now() + duration));
    }

    /// Delay the REST depth snapshot by `delay` (the book moves on meanwhile).
    pub fn set_depth_snapshot_delay(&self, delay: Duration) {
        self.state
            .depth_delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Turn every switch back off (live connections stay; silenced streams
    /// flow again).
    pub fn clear(&self) {
        if let Some(hub) = self.state.hub.get() {
            hub.unsilence_all();
        }
        for (_, hub) in self.state.venue_hubs.lock().unwrap().iter() {
            hub.unsilence_all();
        }
        self.set_frame_delay(Duration::ZERO);
        self.set_depth_snapshot_delay(Duration::ZERO);
        *self.state.refuse_until.lock().unwrap() = None;
        *self.state.reject_upgrades.lock().unwrap() = None;
    }
}
