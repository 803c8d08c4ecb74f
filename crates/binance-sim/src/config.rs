//! How a simulator is started: the market, the limits, accounts, TLS and
//! flood mode.

use std::net::SocketAddr;
use std::time::Duration;

use crate::accounts::AccountSpec;
use crate::engine;
use crate::futures::ContractSpec;
use crate::market::MarketConfig;
use crate::options::OptionSpec;

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

impl Limits {
    /// The futures stream servers' limits (reference §5.1): a ping every
    /// 3 min, 10 min to answer it, 10 incoming messages a second, 1024
    /// streams a connection; REST weight 2400 a minute.
    pub fn futures() -> Limits {
        Limits {
            ping_interval: Duration::from_secs(180),
            pong_timeout: Duration::from_secs(600),
            max_incoming_per_second: 10,
            rest_weight_per_minute: 2400,
            ..Limits::default()
        }
    }
}

impl Limits {
    /// The options stream server's limits (reference §7): a ping every
    /// 5 min, 15 min to answer it, 10 incoming messages a second, 200
    /// streams a connection, 24 h.
    pub fn options() -> Limits {
        Limits {
            ping_interval: Duration::from_secs(300),
            pong_timeout: Duration::from_secs(900),
            max_streams: 200,
            ..Limits::futures()
        }
    }
}

/// The European options market, served on its own port (streams on the
/// `/public` and `/market` routed paths, REST under `/eapi/v1`).
#[derive(Debug, Clone)]
pub struct OptionsConfig {
    /// The option symbols (empty: no options market is served).
    pub options: Vec<OptionSpec>,
    /// Connection limits (default [`Limits::options`]).
    pub limits: Limits,
    /// Engine actions per second per option.
    pub actions_per_second: u32,
    /// Port of the options server (0 picks a free one), on the spot address's IP.
    pub port: u16,
    /// How often `@optionOpenInterest` pushes (Binance: 60 s); shorten it
    /// to see it in a test.
    pub open_interest_every: Duration,
}

impl OptionsConfig {
    /// No options market.
    pub fn off() -> Self {
        OptionsConfig {
            options: Vec::new(),
            ..OptionsConfig::default()
        }
    }
}

impl Default for OptionsConfig {
    /// The built-in options ([`OptionSpec::builtin`], expiries after now),
    /// 20 engine actions a second each.
    fn default() -> Self {
        OptionsConfig {
            options: OptionSpec::builtin(crate::clock::now_ms()),
            limits: Limits::options(),
            actions_per_second: 20,
            port: 0,
            open_interest_every: Duration::from_secs(60),
        }
    }
}

/// The USD-M and COIN-M futures markets, each served on its own port
/// (streams and REST together) as Binance serves each on its own host.
#[derive(Debug, Clone)]
pub struct FuturesConfig {
    /// USD-M contracts (empty: no USD-M market is served).
    pub usdm: Vec<ContractSpec>,
    /// COIN-M contracts (empty: no COIN-M market is served).
    pub coinm: Vec<ContractSpec>,
    /// Connection limits of both futures servers (default [`Limits::futures`]).
    pub limits: Limits,
    /// Engine actions per second per contract.
    pub actions_per_second: u32,
    /// Port of the USD-M server (0 picks a free one), on the spot address's IP.
    pub usdm_port: u16,
    /// Port of the COIN-M server (0 picks a free one).
    pub coinm_port: u16,
    /// How long a listen key lives after its `POST` or `PUT` (Binance: 60
    /// minutes); shorten it to see `listenKeyExpired` in a test.
    pub listen_key_validity: Duration,
    /// How often perpetuals fund their positions (Binance: 8 h, at 00:00,
    /// 08:00 and 16:00 UTC); funding times are the whole multiples of it
    /// since the epoch. Shorten it to see `FUNDING_FEE` in a test.
    pub funding_interval: Duration,
}

impl FuturesConfig {
    /// No futures markets.
    pub fn off() -> Self {
        FuturesConfig {
            usdm: Vec::new(),
            coinm: Vec::new(),
            ..FuturesConfig::default()
        }
    }
}

impl Default for FuturesConfig {
    fn default() -> Self {
        FuturesConfig {
            usdm: ContractSpec::usdm_builtin(),
            coinm: ContractSpec::coinm_builtin(),
            limits: Limits::futures(),
            actions_per_second: 100,
            usdm_port: 0,
            coinm_port: 0,
            listen_key_validity: Duration::from_secs(60 * 60),
            funding_interval: crate::futures::FUNDING_INTERVAL,
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
    /// The futures markets (default: USD-M BTCUSDT and ETHUSDT perpetuals;
    /// COIN-M BTCUSD_PERP, ETHUSD_PERP and BTCUSD_261225;
    /// [`FuturesConfig::off`] serves none).
    pub futures: FuturesConfig,
    /// The options market (default: BTC and ETH calls and puts, three
    /// strikes, two expiries; [`OptionsConfig::off`] serves none).
    pub options: OptionsConfig,
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
            futures: FuturesConfig::default(),
            options: OptionsConfig::default(),
        }
    }
}
