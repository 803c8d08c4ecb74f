//! A simulated Binance spot exchange: a matching engine per symbol fed by
//! synthetic order flow, and the stream server and REST endpoints that
//! publish it in Binance's exact JSON.
//!
//! The USD-M and COIN-M futures markets ([`SimConfig::futures`]) run beside
//! it, each on its own port with its streams and REST
//! ([`Sim::venue_ws_url`], [`Sim::venue_rest_url`]): an engine per contract
//! ([`futures`]), the futures stream names and routed paths, frames written
//! as futures writes them ([`futures_wire`]), `/fapi/v1/…` and `/dapi/v1/…`.
//!
//! The European options market ([`SimConfig::options`]) runs on a port of
//! its own too: an engine per option symbol (`BTC-261225-90000-C`), the
//! option streams of reference §7 on the `/public` and `/market` routed
//! paths (and the legacy `/ws`, `/stream`), written as Binance's options
//! system writes them, and `/eapi/v1/…` REST ([`options`]).
//!
//! On the futures ports, accounts create listen keys (`/fapi/v1/listenKey`,
//! `/dapi/v1/listenKey`), place orders (`/fapi/v1/order`, `/dapi/v1/order`)
//! against the contracts' engines, and receive `ORDER_TRADE_UPDATE`,
//! `TRADE_LITE`, `ACCOUNT_UPDATE` and `listenKeyExpired` on the user streams
//! ([`futures_user`], [`Sim::futures_user_events`]); the same orders, the
//! account's balances and positions and its listen key are served on each
//! venue's WebSocket API ([`Sim::venue_ws_api_url`]).
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

// The layers, bottom up; a module imports only modules of its own layer or
// of the layers below it, and none imports a module that imports it back.
// Bottom: Binance's error answers, the clock, how numbers are written.
mod api_error;
mod clock;
pub mod notation;
// The matching engine, its statistics, symbol filters, exchangeInfo; the
// fan-out to connections.
pub mod engine;
pub mod exchange_info;
pub mod filters;
pub mod hub;
pub mod stats;
// The market (engines, streams), the accounts, and the exchange over both;
// the fault switches; how the simulator is started.
pub mod accounts;
mod config;
mod exchange;
pub mod faults;
pub mod futures;
pub mod futures_user;
pub mod futures_wire;
pub mod market;
pub mod options;
// The server: shared state, one session loop, the connection kinds
// (streams, the spot and futures WebSocket APIs), the HTTP endpoints, the router and accept loop.
mod admin;
mod flood;
mod futures_server;
mod futures_wsapi;
mod options_server;
mod rest;
mod rest_futures;
mod rest_futures_user;
mod rest_ticker;
mod rest_user;
mod server;
mod session;
mod shared;
mod streams;
mod tls;
mod wsapi;
// On top: the command line, replay, the fuzz entry points.
pub mod cli;
#[doc(hidden)]
pub mod fuzzing;
pub mod replay;
#[cfg(test)]
mod vectors;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use accounts::{AccountSpec, Accounts, KeyKind, Wallet};
pub use binance_types::venue::Venue;
pub use config::{Flood, FuturesConfig, Limits, OptionsConfig, SimConfig};
pub use faults::{DropMode, Faults};
pub use futures::{ContractSpec, Funding};
pub use market::MarketConfig;
pub use options::{OptionSide, OptionSpec, OptionStream};

use engine::{BookSnapshot, Fill};
use exchange::Exchange;
use futures::FuturesMarket;
use futures_user::FuturesUsers;
use hub::Hub;
use market::Market;
use options::OptionsMarket;
use shared::{Shared, Weights};

/// A running simulator. Dropping it stops the server and the market.
pub struct Sim {
    addr: SocketAddr,
    market: Arc<Market>,
    faults: Faults,
    weights: Arc<Weights>,
    certificate: Option<String>,
    accounts: Accounts,
    /// The futures venues served, each on its own listener.
    venues: Vec<VenueServer>,
    /// The options market's listener and books, when served.
    options: Option<OptionsServer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// One futures venue's listener and contracts.
struct VenueServer {
    addr: SocketAddr,
    market: Arc<FuturesMarket>,
    users: Arc<FuturesUsers>,
    weights: Arc<Weights>,
}

/// The options market's listener and books.
struct OptionsServer {
    addr: SocketAddr,
    market: Arc<OptionsMarket>,
    weights: Arc<Weights>,
}

impl Sim {
    /// Start the market and the server on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let accounts = Accounts::new(&config.accounts, config.max_listen_token_validity)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let market = Arc::new(Market::with_history(&config.market, config.history));
        let hub = Arc::new(Hub::default());
        let exchange = Arc::new(Exchange::new(market.clone(), accounts.clone(), hub.clone()));
        let fault_state = Arc::new(faults::FaultState::default());
        let mut faults = Faults {
            state: fault_state.clone(),
            market: market.clone(),
            futures: Vec::new(),
            users: Vec::new(),
            options: None,
        };
        let (acceptor, certificate) = match config.tls {
            true => {
                let (acceptor, pem) = tls::self_signed()?;
                (Some(acceptor), Some(pem))
            }
            false => (None, None),
        };
        let weights = Arc::new(Weights::default());
        let shared = Shared::new(
            exchange.clone(),
            hub,
            fault_state.clone(),
            config.limits,
            config.flood,
            weights.clone(),
        );
        let expiry = tokio::spawn(accounts.clone().expire_loop());
        let driver = tokio::spawn(exchange.clone().run());
        let mut tasks = vec![driver, expiry];
        let mut venues = Vec::new();
        let futures = &config.futures;
        for (venue, contracts, port) in [
            (Venue::UsdM, &futures.usdm, futures.usdm_port),
            (Venue::CoinM, &futures.coinm, futures.coinm_port),
        ] {
            if contracts.is_empty() {
                continue;
            }
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), port)).await?;
            let venue_addr = listener.local_addr()?;
            let market = Arc::new(FuturesMarket::new(
                venue,
                contracts,
                &config.market.flow,
                config.market.seed,
                futures.actions_per_second,
                config.history,
                futures.funding_interval,
            ));
            let hub = Arc::new(Hub::default());
            let users = FuturesUsers::new(market.clone(), hub.clone(), futures.listen_key_validity);
            let venue_weights = Arc::new(Weights::default());
            // Its own hub (stream names collide across venues), limits and
            // weight ledger; the spot fault switches.
            let state = shared::VenueState {
                shared: Shared::new(
                    exchange.clone(),
                    hub.clone(),
                    fault_state.clone(),
                    futures.limits.clone(),
                    None,
                    venue_weights.clone(),
                ),
                market: market.clone(),
                users: users.clone(),
            };
            fault_state.attach_venue_hub(venue, &hub);
            tasks.push(tokio::spawn(users.clone().expire_loop()));
            tasks.push(tokio::spawn(market.clone().run(hub)));
            let app = futures_server::router(state);
            let (refusing, acceptor) = (fault_state.clone(), acceptor.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve_app(listener, app, refusing, acceptor).await {
                    eprintln!("binance-sim: {venue} server stopped: {e}");
                }
            }));
            faults.futures.push(market.clone());
            faults.users.push(users.clone());
            venues.push(VenueServer {
                addr: venue_addr,
                market,
                users,
                weights: venue_weights,
            });
        }
        let options = &config.options;
        let options = match options.options.is_empty() {
            true => None,
            false => {
                let listener =
                    tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), options.port)).await?;
                let options_addr = listener.local_addr()?;
                let market = Arc::new(OptionsMarket::new(
                    &options.options,
                    &config.market.flow,
                    config.market.seed,
                    options.actions_per_second,
                    options.open_interest_every,
                    config.history,
                ));
                let hub = Arc::new(Hub::default());
                let options_weights = Arc::new(Weights::default());
                let state = options_server::OptionsState {
                    shared: Shared::new(
                        exchange.clone(),
                        hub.clone(),
                        fault_state.clone(),
                        options.limits.clone(),
                        None,
                        options_weights.clone(),
                    ),
                    market: market.clone(),
                };
                fault_state.attach_venue_hub(Venue::Options, &hub);
                tasks.push(tokio::spawn(market.clone().run(hub)));
                let app = options_server::router(state);
                let (refusing, acceptor) = (fault_state.clone(), acceptor.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = server::serve_app(listener, app, refusing, acceptor).await {
                        eprintln!("binance-sim: options server stopped: {e}");
                    }
                }));
                faults.options = Some(market.clone());
                Some(OptionsServer {
                    addr: options_addr,
                    market,
                    weights: options_weights,
                })
            }
        };
        tasks.push(tokio::spawn(async move {
            if let Err(e) = server::serve(listener, shared, acceptor).await {
                eprintln!("binance-sim: server stopped: {e}");
            }
        }));
        Ok(Sim {
            addr,
            market,
            faults,
            weights,
            certificate,
            accounts,
            venues,
            options,
            tasks,
        })
    }

    /// The futures venue's server, if it runs.
    fn venue(&self, venue: Venue) -> Option<&VenueServer> {
        self.venues.iter().find(|v| v.market.venue() == venue)
    }

    /// The address of a venue's own server, if it runs.
    fn venue_addr(&self, venue: Venue) -> Option<SocketAddr> {
        match venue {
            Venue::Spot => None,
            Venue::Options => self.options.as_ref().map(|o| o.addr),
            _ => self.venue(venue).map(|v| v.addr),
        }
    }

    /// `scheme://host` of a venue's port (spot's for spot, or when the
    /// venue is not served).
    fn venue_url(&self, venue: Venue, tls: &str, plain: &str) -> String {
        match self.venue_addr(venue) {
            Some(addr) => {
                let scheme = if self.certificate.is_some() {
                    tls
                } else {
                    plain
                };
                let host = match self.certificate {
                    Some(_) => format!("localhost:{}", addr.port()),
                    None => addr.to_string(),
                };
                format!("{scheme}://{host}")
            }
            None => self.url(tls, plain),
        }
    }

    /// The stream base of a venue (`ws://127.0.0.1:PORT`, no route: USD-M's
    /// and options' `/public`, `/market` (and USD-M's `/private`) live under it); spot's
    /// [`Sim::ws_url`] for [`Venue::Spot`] and for a venue not served.
    pub fn venue_ws_url(&self, venue: Venue) -> String {
        self.venue_url(venue, "wss", "ws")
    }

    /// A futures venue's WebSocket API: `/ws-fapi/v1` on USD-M's port,
    /// `/ws-dapi/v1` on COIN-M's (spot's [`Sim::ws_api_url`] for spot).
    pub fn venue_ws_api_url(&self, venue: Venue) -> String {
        match venue {
            Venue::UsdM => format!("{}/ws-fapi/v1", self.venue_ws_url(venue)),
            Venue::CoinM => format!("{}/ws-dapi/v1", self.venue_ws_url(venue)),
            _ => self.ws_api_url(),
        }
    }

    /// The REST base of a venue (`http://127.0.0.1:PORT`, the port of its
    /// streams): `/fapi/v1/…` on USD-M, `/dapi/v1/…` on COIN-M, `/eapi/v1/…`
    /// on options.
    pub fn venue_rest_url(&self, venue: Venue) -> String {
        self.venue_url(venue, "https", "http")
    }

    /// The true full book of a venue's `symbol` right after `update_id`
    /// (`None`: unknown venue or symbol, an id not reached yet, or one
    /// older than the history window). Spot's [`Sim::true_book`] for spot.
    pub fn venue_true_book(
        &self,
        venue: Venue,
        symbol: &str,
        update_id: u64,
    ) -> Option<BookSnapshot> {
        match venue {
            Venue::Spot => self.true_book(symbol, update_id),
            Venue::Options => self.options.as_ref()?.market.true_book(symbol, update_id),
            _ => self.venue(venue)?.market.true_book(symbol, update_id),
        }
    }

    /// Every user event the simulator produced for the account `api_key`
    /// on a futures `venue`, as the exact JSON payload, oldest first
    /// (none for spot or a venue not served).
    pub fn futures_user_events(&self, venue: Venue, api_key: &str) -> Vec<String> {
        self.venue(venue)
            .map(|v| v.users.events(api_key))
            .unwrap_or_default()
    }

    /// Place an order for the account `api_key` on a futures `venue`, as a
    /// signed `POST /fapi/v1/order` (`/dapi/v1/order`) with these
    /// parameters would (`symbol`, `side`, `type`, `quantity`, …): its
    /// answer, or Binance's error as `(code, msg)`. For demos and tests
    /// that trade without signing.
    pub fn futures_order(
        &self,
        venue: Venue,
        api_key: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, (i64, String)> {
        let Some(v) = self.venue(venue) else {
            return Err((-1121, format!("{venue} is not served")));
        };
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        futures_user::FuturesOrderRequest::parse(&get)
            .and_then(|request| v.users.place(api_key, &request))
            .map_err(|e| (e.code, e.msg))
    }

    /// The last fundings (up to 1000, oldest first) of a futures `venue`'s
    /// perpetual `symbol`: each one's time, rate and mark price, as
    /// accounts were funded at it (none for a delivery contract, an
    /// unknown symbol or a venue not served).
    pub fn fundings(&self, venue: Venue, symbol: &str) -> Vec<Funding> {
        self.venue(venue)
            .and_then(|v| v.market.contract(symbol))
            .map(|c| c.lock().unwrap().fundings().to_vec())
            .unwrap_or_default()
    }

    /// The next funding time (ms) of a futures `venue`'s perpetual
    /// `symbol`, as the `markPrice` stream's `T` shows it (`None`: a
    /// delivery contract, an unknown symbol or a venue not served).
    pub fn next_funding_time(&self, venue: Venue, symbol: &str) -> Option<u64> {
        let v = self.venue(venue)?;
        let next = v
            .market
            .contract(symbol)?
            .lock()
            .unwrap()
            .next_funding_time();
        (next != 0).then_some(next)
    }

    /// The symbols a venue trades (none for a venue not served).
    pub fn venue_symbols(&self, venue: Venue) -> Vec<String> {
        match venue {
            Venue::Spot => self.symbols(),
            Venue::Options => self
                .options
                .as_ref()
                .map(|o| o.market.symbols().map(str::to_owned).collect())
                .unwrap_or_default(),
            _ => self
                .venue(venue)
                .map(|v| v.market.symbols().map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the stream server (`ws://127.0.0.1:PORT`, `wss://` with
    /// TLS); append `/ws/<name>` or `/stream?streams=…`.
    pub fn ws_url(&self) -> String {
        self.url("wss", "ws")
    }

    /// Base URL of the REST API (`http://127.0.0.1:PORT`); append `/api/v3/…`.
    pub fn rest_url(&self) -> String {
        self.url("https", "http")
    }

    /// `tls://host` under TLS, `plain://host` otherwise.
    fn url(&self, tls: &str, plain: &str) -> String {
        let scheme = if self.certificate.is_some() {
            tls
        } else {
            plain
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

    /// REST requests refused with 429 (over the weight limit) so far, on
    /// every venue.
    pub fn rest_refusals(&self) -> u64 {
        let refused = |w: &Weights| w.refused.load(std::sync::atomic::Ordering::Relaxed);
        refused(&self.weights)
            + self.venues.iter().map(|v| refused(&v.weights)).sum::<u64>()
            + self.options.as_ref().map_or(0, |o| refused(&o.weights))
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
