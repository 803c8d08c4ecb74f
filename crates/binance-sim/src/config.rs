//! How a simulator is started: the market, the limits, accounts, TLS and
//! flood mode.

use std::net::SocketAddr;
use std::time::Duration;

use crate::accounts::AccountSpec;
use crate::engine;
use crate::market::MarketConfig;

/// Binance's connection limits, each configurable so tests can reach them
/// in seconds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Server ping cadence (Binance: 20 s).
    pub ping_interval: Duration,
    /// Close when a ping goes unanswered this long (Binance: 60 s).
    pub pong_timeout: Duration,
    /// Close when the client sends more frames than this in a second (Binance: 5).
    pub max_incoming_per_second: u32,
    /// Streams per connection (Binance: 1024).
    pub max_streams: usize,
    /// Connection attempts per address per window (Binance: 300 per 5 minutes).
    pub max_connection_attempts: u32,
    /// The window for `max_connection_attempts`.
    pub connection_attempt_window: Duration,
    /// A connection's longest life (Binance: 24 h).
    pub max_lifetime: Duration,
    /// Frames queued for one connection before it counts as too slow and is dropped.
    pub send_queue: usize,
    /// Largest frame accepted from a client.
    pub max_incoming_frame: usize,
    /// REST request weight per address per minute (Binance: 6000).
    pub rest_weight_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
            max_incoming_per_second: 5,
            max_streams: 1024,
            max_connection_attempts: 300,
            connection_attempt_window: Duration::from_secs(300),
            max_lifetime: Duration::from_secs(24 * 3600),
            send_queue: 64 * 1024,
            max_incoming_frame: 64 * 1024,
            rest_weight_per_minute: 6000,
        }
    }
}

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The market.
    pub market: MarketConfig,
    /// Connection limits.
    pub limits: Limits,
    /// Serve TLS (`wss://`, `https://`) with a certificate made at start-up.
    pub tls: bool,
    /// Flood mode for benchmarks: `/ws/<symbol>@trade` connections get
    /// synthetic trades made in the connection itself, as fast as the socket
    /// takes them (or at a fixed rate), instead of the engine's.
    pub flood: Option<Flood>,
    /// Accounts that exist from the start (more with [`Sim::accounts`](crate::Sim::accounts)).
    pub accounts: Vec<AccountSpec>,
    /// The longest a margin listen token lives (Binance: 24 h, also its
    /// default); shorten it to see expiry and renewal in seconds.
    pub max_listen_token_validity: Duration,
    /// Update ids per symbol whose history the truth keeps ([`Sim::true_book`](crate::Sim::true_book),
    /// [`Sim::trades`](crate::Sim::trades), REST `trades`, `aggTrades`, `klines`): at least the
    /// last this many, up to 2048 more; older ones are dropped so memory stays
    /// bounded. `None` keeps everything, growing with the run. Default
    /// [`engine::DEFAULT_HISTORY_WINDOW`].
    pub history: Option<u64>,
}

/// How a flood connection pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// Frames a second; `None` for as fast as the socket takes them.
    pub rate: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            market: MarketConfig::default(),
            limits: Limits::default(),
            tls: false,
            flood: None,
            accounts: Vec::new(),
            max_listen_token_validity: Duration::from_secs(24 * 3600),
            history: Some(engine::DEFAULT_HISTORY_WINDOW),
        }
    }
}
