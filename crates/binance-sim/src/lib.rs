//! A simulated Binance spot exchange: a matching engine per symbol fed by
//! synthetic order flow, and the stream server and REST endpoints that
//! publish it in Binance's exact JSON.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = binance_sim::Sim::start(binance_sim::SimConfig::default()).await?;
//! println!("streams at {}", sim.ws_url());
//! # Ok(()) }
//! ```

pub mod engine;
pub mod hub;
pub mod market;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;

pub use market::MarketConfig;
pub use server::MAX_STREAMS;

use engine::{BookSnapshot, Fill};
use hub::Hub;
use market::Market;

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The market.
    pub market: MarketConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            market: MarketConfig::default(),
        }
    }
}

/// A running simulator. Dropping it stops the server and the market.
pub struct Sim {
    addr: SocketAddr,
    market: Arc<Market>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    /// Start the market and the server on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let market = Arc::new(Market::new(&config.market));
        let hub = Arc::new(Hub::default());
        let shared = server::Shared::new(market.clone(), hub.clone());
        let driver = tokio::spawn(market.clone().run(hub));
        let server = tokio::spawn(async move {
            if let Err(e) = server::serve(listener, shared).await {
                eprintln!("binance-sim: server stopped: {e}");
            }
        });
        Ok(Sim {
            addr,
            market,
            tasks: vec![driver, server],
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the stream server (`ws://127.0.0.1:PORT`); append
    /// `/ws/<name>` or `/stream?streams=…`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Base URL of the REST API (`http://127.0.0.1:PORT`); append `/api/v3/…`.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The true full book of `symbol` at `update_id` (`None`: unknown symbol
    /// or an id not reached yet).
    pub fn true_book(&self, symbol: &str, update_id: u64) -> Option<BookSnapshot> {
        self.market.symbol(symbol)?.lock().unwrap().engine().book_at(update_id)
    }

    /// Every trade of `symbol` so far.
    pub fn trades(&self, symbol: &str) -> Vec<Fill> {
        self.market
            .symbol(symbol)
            .map(|m| m.lock().unwrap().engine().trades().to_vec())
            .unwrap_or_default()
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
