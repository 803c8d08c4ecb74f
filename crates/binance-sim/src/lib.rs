//! A simulated Binance spot exchange: a matching engine per symbol fed by
//! synthetic order flow, and the stream server and REST endpoints that
//! publish it in Binance's exact JSON.
//!
//! Accounts ([`SimConfig::accounts`], [`Sim::accounts`]) place orders through
//! signed REST or the WebSocket API at [`Sim::ws_api_url`], and receive their
//! user data (`executionReport`, `outboundAccountPosition`, `balanceUpdate`,
//! `externalLockUpdate`, `eventStreamTerminated`) on WebSocket API
//! subscriptions, spot by signature or logon, margin by listen token.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = binance_sim::Sim::start(binance_sim::SimConfig::default()).await?;
//! println!("streams at {}", sim.ws_url());
//! # Ok(()) }
//! ```

pub mod accounts;
mod admin;
pub mod cli;
pub mod engine;
pub mod exchange_info;
pub mod faults;
pub mod filters;
mod flood;
#[doc(hidden)]
pub mod fuzzing;
pub mod hub;
pub mod market;
pub mod notation;
pub mod replay;
mod rest;
mod rest_ticker;
mod rest_user;
mod server;
pub mod stats;
mod tls;
mod wsapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use accounts::{AccountSpec, Accounts, KeyKind, Wallet};
pub use faults::{DropMode, Faults};
pub use market::MarketConfig;

use engine::{BookSnapshot, Fill};
use hub::Hub;
use market::Market;

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
    /// Accounts that exist from the start (more with [`Sim::accounts`]).
    pub accounts: Vec<AccountSpec>,
    /// The longest a margin listen token lives (Binance: 24 h, also its
    /// default); shorten it to see expiry and renewal in seconds.
    pub max_listen_token_validity: Duration,
    /// Update ids per symbol whose history the truth keeps ([`Sim::true_book`],
    /// [`Sim::trades`], REST `trades`, `aggTrades`, `klines`): at least the
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

/// A running simulator. Dropping it stops the server and the market.
pub struct Sim {
    addr: SocketAddr,
    market: Arc<Market>,
    faults: Faults,
    weights: Arc<rest::Weights>,
    certificate: Option<String>,
    accounts: Accounts,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    /// Start the market and the server on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let accounts = Accounts::new(&config.accounts, config.max_listen_token_validity)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let market = Arc::new(Market::with_history(
            &config.market,
            config.history,
            accounts.clone(),
        ));
        let hub = Arc::new(Hub::default());
        let fault_state = Arc::new(faults::FaultState::default());
        let faults = Faults {
            state: fault_state.clone(),
            market: market.clone(),
        };
        let (acceptor, certificate) = match config.tls {
            true => {
                let (acceptor, pem) = tls::self_signed()?;
                (Some(acceptor), Some(pem))
            }
            false => (None, None),
        };
        let weights = Arc::new(rest::Weights::default());
        let shared = server::Shared::new(
            market.clone(),
            hub.clone(),
            fault_state,
            config.limits,
            config.flood,
            weights.clone(),
            accounts.clone(),
        );
        let expiry = tokio::spawn(accounts.clone().expire_loop());
        let driver = tokio::spawn(market.clone().run(hub));
        let server = tokio::spawn(async move {
            if let Err(e) = server::serve(listener, shared, acceptor).await {
                eprintln!("binance-sim: server stopped: {e}");
            }
        });
        Ok(Sim {
            addr,
            market,
            faults,
            weights,
            certificate,
            accounts,
            tasks: vec![driver, server, expiry],
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the stream server (`ws://127.0.0.1:PORT`, `wss://` with
    /// TLS); append `/ws/<name>` or `/stream?streams=…`.
    pub fn ws_url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}", self.host())
    }

    /// Base URL of the REST API (`http://127.0.0.1:PORT`); append `/api/v3/…`.
    pub fn rest_url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host())
    }

    /// The WebSocket API URL (`ws://127.0.0.1:PORT/ws-api/v3`).
    pub fn ws_api_url(&self) -> String {
        format!("{}/ws-api/v3", self.ws_url())
    }

    /// The accounts: add some, credit them, read balances.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Base URL of the admin endpoints (`…/_sim`).
    pub fn admin_url(&self) -> String {
        format!("{}/_sim", self.rest_url())
    }

    /// `localhost:PORT` under TLS (the certificate's name), the address otherwise.
    fn host(&self) -> String {
        match self.certificate {
            Some(_) => format!("localhost:{}", self.addr.port()),
            None => self.addr.to_string(),
        }
    }

    /// The TLS certificate (PEM) a client must trust, when serving TLS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_deref()
    }

    /// A planned shutdown, as Binance does it: `serverShutdown` on every
    /// connection, then close them after `grace` (code 1001).
    pub async fn shutdown(self, grace: Duration) {
        self.faults.server_shutdown(Some(grace));
        // Connections close themselves at the deadline; wait for them, bounded.
        let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(1);
        while !self.faults.connections().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The true full book of `symbol` at `update_id` (`None`: unknown symbol,
    /// an id not reached yet, or one older than [`Sim::history_start`]).
    pub fn true_book(&self, symbol: &str, update_id: u64) -> Option<BookSnapshot> {
        self.market
            .symbol(symbol)?
            .lock()
            .unwrap()
            .engine()
            .book_at(update_id)
    }

    /// The oldest update id of `symbol` the truth still answers for
    /// ([`SimConfig::history`]); `None` for an unknown symbol.
    pub fn history_start(&self, symbol: &str) -> Option<u64> {
        let market = self.market.symbol(symbol)?;
        let start = market.lock().unwrap().engine().history_start();
        Some(start)
    }

    /// Every trade of `symbol` in the history window (made by update ids
    /// from [`Sim::history_start`] on), oldest first.
    pub fn trades(&self, symbol: &str) -> Vec<Fill> {
        self.market
            .symbol(symbol)
            .map(|m| m.lock().unwrap().engine().trades().to_vec())
            .unwrap_or_default()
    }

    /// REST requests refused with 429 (over the weight limit) so far.
    pub fn rest_refusals(&self) -> u64 {
        self.weights
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The symbols traded.
    pub fn symbols(&self) -> Vec<String> {
        self.market.symbols().map(str::to_owned).collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
