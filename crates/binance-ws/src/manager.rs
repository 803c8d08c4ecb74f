//! The socket manager: python-binance's `BinanceSocketManager`, in Rust.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use binance_types::stream::{
    DepthLevels, KlineInterval, KlineTimezone, RollingWindow, UpdateSpeed,
};
use binance_types::venue::Venue;
use binance_types::{Micros, Millis, StreamName, Symbol, TimeUnit};

use crate::auth::{Clock, Credentials};
use crate::config::{Endpoint, Options, Overflow, Proxy, Reconnect, Retries};
use crate::error::{Error, ErrorKind};
use crate::limiter::Window;
use crate::link::LinkEnv;
use crate::market::Connections;
use crate::socket::{canonical, Socket};
use crate::transport::{Network, ProxySetting};
use crate::user::{UserSetup, UserSocket, UserStream};
use crate::wsapi::{Signer, WsApi};

pub(crate) struct Inner<U: TimeUnit> {
    pub(crate) endpoint: Endpoint,
    /// Futures markets' endpoints given apart from the spot one.
    pub(crate) venue_endpoints: Vec<(Venue, Endpoint)>,
    credentials: Option<Credentials>,
    clock: Arc<Clock>,
    /// The market connections its sockets share.
    pub(crate) connections: Arc<Connections<U>>,
}

impl<U: TimeUnit> Inner<U> {
    pub(crate) fn env(&self) -> &Arc<LinkEnv> {
        &self.connections.env
    }

    /// Where futures market `venue` is served: its stream base (USD-M:
    /// without the route) and REST base, from its own endpoint if one was
    /// given, else from the spot one.
    pub(crate) fn futures_urls(&self, venue: Venue) -> Result<(String, String), Error> {
        self.futures_endpoint(venue)?.futures_urls(venue)
    }

    /// The endpoint serving futures market `venue`: its own if one was
    /// given, else the spot one (unless that is a custom spot server, which
    /// says nothing about futures).
    pub(crate) fn futures_endpoint(&self, venue: Venue) -> Result<&Endpoint, Error> {
        if venue == Venue::Spot {
            return Err(Error::config(
                "futures sockets and caches take Venue::UsdM or Venue::CoinM; \
                 spot has its own methods (aggtrade_socket, depth_caches, …)",
            ));
        }
        if let Some((_, endpoint)) = self.venue_endpoints.iter().find(|(v, _)| *v == venue) {
            return Ok(endpoint);
        }
        if let Endpoint::Custom(url) = &self.endpoint {
            return Err(Error::config(format!(
                "the custom endpoint {url} is a spot server and does not say where {venue} \
                 futures are served: give it with SocketManagerBuilder::venue_endpoint(Venue::{}, \
                 Endpoint::Custom(..)) (the simulator prints each market's URL)",
                match venue {
                    Venue::CoinM => "CoinM",
                    _ => "UsdM",
                }
            )));
        }
        Ok(&self.endpoint)
    }
}

/// Builds a [`SocketManager`]; every setter is infallible, `build` checks.
#[must_use]
pub struct SocketManagerBuilder<U: TimeUnit = Millis> {
    endpoint: Endpoint,
    venue_endpoints: Vec<(Venue, Endpoint)>,
    credentials: Option<Credentials>,
    options: Options,
    extra_roots: Vec<String>,
    proxy: ProxySetting,
    unit: PhantomData<U>,
}

impl<U: TimeUnit> SocketManagerBuilder<U> {
    /// Where to connect (default [`Endpoint::Production`]).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Where a futures market is served (default: from
    /// [`endpoint`](Self::endpoint): production hosts for the production
    /// endpoints, testnet hosts for the testnet). A custom spot endpoint
    /// says nothing about futures, so a simulator's USD-M and COIN-M
    /// addresses are given here: `Endpoint::Custom("ws://127.0.0.1:9001")`
    /// serves streams (USD-M routes under it) and REST at that address.
    /// [`Venue::Spot`] sets [`endpoint`](Self::endpoint).
    pub fn venue_endpoint(mut self, venue: Venue, endpoint: Endpoint) -> Self {
        if venue == Venue::Spot {
            return self.endpoint(endpoint);
        }
        self.venue_endpoints.retain(|(v, _)| *v != venue);
        self.venue_endpoints.push((venue, endpoint));
        self
    }

    /// The spot testnet.
    pub fn testnet(self) -> Self {
        self.endpoint(Endpoint::Testnet)
    }

    /// Binance.US (python-binance's `tld="us"`).
    pub fn tld_us(self) -> Self {
        self.endpoint(Endpoint::BinanceUs)
    }

    /// At most `n` reconnect tries in a row (default 5; 0 for none).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.options.reconnect.retries = Retries::Limited(n);
        self
    }

    /// Reconnect forever.
    pub fn unlimited_reconnects(mut self) -> Self {
        self.options.reconnect.retries = Retries::Unlimited;
        self
    }

    /// The whole reconnect policy.
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.options.reconnect = reconnect;
        self
    }

    /// Reconnect after this long without any frame (default 60 s).
    pub fn watchdog(mut self, silence: Duration) -> Self {
        self.options.watchdog = silence;
        self
    }

    /// Default `recv()` timeout for new sockets.
    pub fn user_timeout(mut self, timeout: Duration) -> Self {
        self.options.user_timeout = Some(timeout);
        self
    }

    /// Queue size per socket.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.options.queue_capacity = capacity;
        self
    }

    /// How long a connection stops reading for a full queue before the
    /// overflow policy applies (default 20 s, one Binance ping interval: Binance
    /// drops a connection whose pong is a minute late, and pings wait behind
    /// the unread data). A burst is slowed, not lost; only a reader that
    /// stays behind loses messages, and is told how many. Zero never stops
    /// reading. Every socket on a shared connection waits while one of them
    /// is full.
    pub fn max_stall(mut self, stall: Duration) -> Self {
        self.options.max_stall = stall;
        self
    }

    /// Watch each stream for silence (default on, floor 10 s). A stream
    /// Binance pushes on a clock (klines, tickers, average price, partial
    /// depth) is silent after ten of its intervals without a frame; one
    /// pushed on events (trades, diff depth, book ticker) after twenty
    /// times its own average gap, once it has sent 20 frames, so an
    /// illiquid symbol's trades are not flagged. Never before `floor`; a
    /// stream found silent again without having flowed waits twice as long
    /// each time (at most 15 minutes). `None` turns it off.
    pub fn stream_watchdog(mut self, floor: Option<Duration>) -> Self {
        self.options.stream_watchdog = floor;
        self
    }

    /// What a socket's queue does when its reader stays behind.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.options.overflow = overflow;
        self
    }

    /// Replace each connection with a fresh one after this long, before
    /// Binance's 24-hour cut (default 23 h 50 min).
    pub fn rotate_after(mut self, lifetime: Duration) -> Self {
        self.options.rotate_after = lifetime;
        self
    }

    /// How long the old and the new connection overlap during a rotation
    /// (default 2 s).
    pub fn rotation_overlap(mut self, overlap: Duration) -> Self {
        self.options.rotation_overlap = overlap;
        self
    }

    /// Limit on TCP + TLS + WebSocket handshake (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Streams per connection (default and Binance's limit: 1024); a
    /// multiplex socket with more is spread over several connections.
    pub fn max_streams_per_connection(mut self, max: usize) -> Self {
        self.options.max_streams_per_connection = max;
        self
    }

    /// New connections allowed per `window` (Binance: 300 per 5 minutes).
    pub fn connection_attempts(mut self, max: usize, window: Duration) -> Self {
        self.options.connection_attempts = (max, window);
        self
    }

    /// How long a WebSocket API request waits for its answer (default 10 s,
    /// Binance's own backend timeout).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.request_timeout = timeout;
        self
    }

    /// Trust this root certificate (PEM) besides the web's roots: for a
    /// simulator or a TLS-inspecting proxy.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_roots.push(pem.into());
        self
    }

    /// Connect through this proxy (default: from `HTTPS_PROXY`/`ALL_PROXY`,
    /// minding `NO_PROXY`).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = ProxySetting::Use(proxy);
        self
    }

    /// Ignore proxy environment variables.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::None;
        self
    }

    /// The API key user sockets and signed requests use (default: from
    /// the environment when first needed, see [`Credentials::from_env`]).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// `recvWindow` for signed requests (Binance's default 5 s, at most 60 s).
    pub fn recv_window(mut self, window: Duration) -> Self {
        self.options.recv_window = Some(window);
        self
    }

    /// Connections per user socket (1 to 4, default 2).
    pub fn user_connections(mut self, count: usize) -> Self {
        self.options.user_connections = count;
        self
    }

    /// Connections per market socket (1 to 4, default 1): each of its
    /// streams comes on `count` connections, opened apart and rotated at
    /// different times, and events are delivered once (see
    /// [`Socket::connections`](crate::Socket::connections), which sets it per
    /// socket).
    pub fn market_connections(mut self, count: usize) -> Self {
        self.options.market_connections = count;
        self
    }

    /// REST request weight the manager's sockets may spend a minute filling
    /// holes in spot trade and aggregate-trade streams (default 1200, a
    /// fifth of spot's 6000 a minute; 0 turns backfill off, and holes are
    /// only reported as [`Status::Gap`](crate::Status::Gap)).
    pub fn backfill_weight_per_minute(mut self, weight: u32) -> Self {
        self.options.backfill_weight = weight;
        self
    }

    /// Times in microseconds (`timeUnit=MICROSECOND`): events carry `Time<Micros>`.
    pub fn micros(self) -> SocketManagerBuilder<Micros> {
        SocketManagerBuilder {
            endpoint: self.endpoint,
            venue_endpoints: self.venue_endpoints,
            credentials: self.credentials,
            options: self.options,
            extra_roots: self.extra_roots,
            proxy: self.proxy,
            unit: PhantomData,
        }
    }

    /// Check the settings and make the manager.
    pub fn build(self) -> Result<SocketManager<U>, Error> {
        self.endpoint.validate()?;
        for (_, endpoint) in &self.venue_endpoints {
            endpoint.validate()?;
        }
        if self.options.max_streams_per_connection == 0 || self.options.queue_capacity == 0 {
            return Err(Error::config(
                "max_streams_per_connection and queue_capacity must be at least 1",
            ));
        }
        let net = Network::new(&self.extra_roots, self.proxy, self.options.connect_timeout)?;
        let (max, window) = self.options.connection_attempts;
        let env = LinkEnv {
            net,
            attempts: Window::new(max, window),
            options: self.options,
        };
        let base = self.endpoint.base_url().to_owned();
        let connections = Connections::new(base, Arc::new(env)).rest(self.endpoint.rest_url());
        Ok(SocketManager {
            inner: Arc::new(Inner {
                endpoint: self.endpoint,
                venue_endpoints: self.venue_endpoints,
                credentials: self.credentials,
                clock: Arc::default(),
                connections: Arc::new(connections),
            }),
        })
    }
}

/// Makes sockets for Binance's streams and shares connections between them:
/// a second socket for the same stream joins the live connection.
/// Cheap to clone; safe to share across tasks.
pub struct SocketManager<U: TimeUnit = Millis> {
    pub(crate) inner: Arc<Inner<U>>,
}

impl<U: TimeUnit> Clone for SocketManager<U> {
    fn clone(&self) -> Self {
        SocketManager {
            inner: self.inner.clone(),
        }
    }
}

impl SocketManager<Millis> {
    /// A manager for Binance production with the default options.
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// Start configuring a manager.
    pub fn builder() -> SocketManagerBuilder<Millis> {
        SocketManagerBuilder {
            endpoint: Endpoint::Production,
            venue_endpoints: Vec::new(),
            credentials: None,
            options: Options::default(),
            extra_roots: Vec::new(),
            proxy: ProxySetting::FromEnv,
            unit: PhantomData,
        }
    }
}

impl Default for SocketManager<Millis> {
    fn default() -> Self {
        Self::new()
    }
}

fn parse_symbol(symbol: &str) -> Result<Symbol, Error> {
    Symbol::new(symbol).map_err(Error::from)
}

impl<U: TimeUnit> SocketManager<U> {
    /// The endpoint sockets connect to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// A socket on one stream (raw `/ws/<name>` frames).
    pub fn socket(&self, stream: StreamName) -> Socket<U> {
        let plan = self.inner.connections.plan(vec![stream.to_string()], false);
        Socket::new(self.inner.connections.clone(), vec![(plan, 1)])
    }

    /// `<symbol>@trade`: every trade.
    pub fn trade_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::Trade(parse_symbol(symbol)?)))
    }

    /// `<symbol>@aggTrade`: trades aggregated per taker order and price.
    pub fn aggtrade_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::AggTrade(parse_symbol(symbol)?)))
    }

    /// `<symbol>@kline_<interval>` (python-binance's default interval is 1m:
    /// `KlineInterval::default()`).
    pub fn kline_socket(&self, symbol: &str, interval: KlineInterval) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::Kline {
            symbol: parse_symbol(symbol)?,
            interval,
            timezone: KlineTimezone::Utc,
        }))
    }

    /// Depth: the diff stream when `depth` is `None`, else the top 5/10/20
    /// levels; every 1000 ms or 100 ms.
    pub fn depth_socket(
        &self,
        symbol: &str,
        depth: Option<DepthLevels>,
        speed: UpdateSpeed,
    ) -> Result<Socket<U>, Error> {
        let symbol = parse_symbol(symbol)?;
        Ok(self.socket(match depth {
            None => StreamName::Depth { symbol, speed },
            Some(levels) => StreamName::PartialDepth {
                symbol,
                levels,
                speed,
            },
        }))
    }

    /// `<symbol>@ticker`: 24-hour statistics of one symbol.
    pub fn symbol_ticker_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::Ticker(parse_symbol(symbol)?)))
    }

    /// python-binance's all-market `ticker_socket` used `!ticker@arr`, which
    /// Binance retired on 2026-03-26. This says so; use
    /// [`symbol_ticker_socket`](Self::symbol_ticker_socket) for each symbol,
    /// or [`miniticker_socket`](Self::miniticker_socket).
    #[deprecated(
        note = "Binance retired !ticker@arr on 2026-03-26; use symbol_ticker_socket or miniticker_socket"
    )]
    pub fn ticker_socket(&self) -> Result<Socket<U>, Error> {
        Err("!ticker@arr"
            .parse::<StreamName>()
            .expect_err("retired")
            .into())
    }

    /// `!miniTicker@arr`: mini tickers of every symbol that changed, each second.
    pub fn miniticker_socket(&self) -> Socket<U> {
        self.socket(StreamName::AllMiniTickers)
    }

    /// `<symbol>@miniTicker`.
    pub fn symbol_miniticker_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::MiniTicker(parse_symbol(symbol)?)))
    }

    /// `<symbol>@ticker_<window>`: rolling-window statistics.
    pub fn symbol_rolling_ticker_socket(
        &self,
        symbol: &str,
        window: RollingWindow,
    ) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::RollingTicker {
            symbol: parse_symbol(symbol)?,
            window,
        }))
    }

    /// `!ticker_<window>@arr`: rolling-window statistics of every symbol that changed.
    pub fn rolling_ticker_socket(&self, window: RollingWindow) -> Socket<U> {
        self.socket(StreamName::AllRollingTickers(window))
    }

    /// `<symbol>@bookTicker`: best bid and ask in real time.
    pub fn symbol_book_ticker_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::BookTicker(parse_symbol(symbol)?)))
    }

    /// `<symbol>@avgPrice`.
    pub fn avg_price_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        Ok(self.socket(StreamName::AvgPrice(parse_symbol(symbol)?)))
    }

    /// One socket for many streams (combined envelope, `stream` on every
    /// event). More than 1024 streams are spread over several connections.
    pub fn multiplex_socket(&self, streams: &[&str]) -> Result<Socket<U>, Error> {
        let mut names = canonical(streams)?;
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(Error::new(
                ErrorKind::StreamName,
                "a multiplex socket needs at least one stream",
            ));
        }
        let max = self.inner.env().options.max_streams_per_connection;
        let plans = names
            .chunks(max)
            .map(|chunk| {
                (
                    self.inner.connections.plan(chunk.to_vec(), true),
                    chunk.len(),
                )
            })
            .collect();
        Ok(Socket::new(self.inner.connections.clone(), plans))
    }

    /// Depth caches for many symbols over one connection; add symbols with
    /// [`DepthCaches::add`](crate::DepthCaches::add).
    pub fn depth_caches(&self, options: crate::DepthCacheOptions) -> crate::DepthCaches {
        crate::DepthCaches::start(
            binance_types::venue::Venue::Spot,
            self.live_socket(),
            self.inner.endpoint.rest_url(),
            self.inner.env().net.clone(),
            options,
        )
    }

    /// A depth cache for one symbol with the default options.
    pub async fn depth_cache(&self, symbol: &str) -> Result<crate::DepthCache, Error> {
        self.depth_caches(crate::DepthCacheOptions::default())
            .add(symbol)
            .await
    }

    /// A combined socket with no stream yet, for live `subscribe`; its
    /// connection is its own, so its subscriptions are too.
    pub fn live_socket(&self) -> Socket<U> {
        let plan = self.inner.connections.plan(Vec::new(), true);
        Socket::new(self.inner.connections.clone(), vec![(plan, 0)])
            .private(self.inner.connections.next_reader())
    }

    /// The signer: the builder's credentials, or the environment's.
    pub(crate) fn signer(&self) -> Result<Arc<Signer>, Error> {
        let credentials = match &self.inner.credentials {
            Some(c) => c.clone(),
            None => Credentials::from_env()?,
        };
        Ok(Arc::new(Signer {
            credentials,
            clock: self.inner.clock.clone(),
            recv_window: self.inner.env().options.recv_window,
        }))
    }

    fn user(&self, stream: UserStream) -> Result<UserSocket<U>, Error> {
        let mut ws_api_url = self.inner.endpoint.ws_api_url()?;
        if U::PER_SECOND == Micros::PER_SECOND {
            ws_api_url.push_str("?timeUnit=MICROSECOND");
        }
        Ok(UserSocket::new(UserSetup {
            stream,
            ws_api_url,
            rest_url: self.inner.endpoint.rest_url(),
            shared: self.inner.env().clone(),
            signer: self.signer()?,
        }))
    }

    /// The spot account's events (`executionReport`, `outboundAccountPosition`,
    /// `balanceUpdate`, …) over the WebSocket API, with any key type.
    pub fn user_socket(&self) -> Result<UserSocket<U>, Error> {
        self.user(UserStream::Spot)
    }

    /// The cross-margin account's events, through a listen token that is
    /// renewed before it expires.
    pub fn margin_socket(&self) -> Result<UserSocket<U>, Error> {
        self.user(UserStream::Margin)
    }

    /// The isolated-margin account of `symbol`, through a listen token.
    pub fn isolated_margin_socket(&self, symbol: &str) -> Result<UserSocket<U>, Error> {
        self.user(UserStream::IsolatedMargin(parse_symbol(symbol)?))
    }

    /// A WebSocket API connection for requests, open when returned. Signed
    /// requests use the manager's credentials (or the environment's); without
    /// any, only unsigned requests work.
    pub async fn ws_api(&self) -> Result<WsApi, Error> {
        let api = WsApi::spawn(
            self.inner.endpoint.ws_api_url()?,
            self.inner.env().clone(),
            self.signer().ok(),
            None,
            None,
        );
        api.connected().await?;
        Ok(api)
    }

    /// The futures WebSocket API of `venue` (USD-M
    /// `wss://ws-fapi.binance.com/ws-fapi/v1`, COIN-M
    /// `wss://ws-dapi.binance.com/ws-dapi/v1`; a custom venue endpoint
    /// serves it at `/ws-fapi/v1` or `/ws-dapi/v1`), open when returned:
    /// `order.place`, `order.cancel`, `order.modify`, `order.status`,
    /// `account.status`, `account.balance`, `account.position`, … through
    /// the same [`WsApi::request`] / [`WsApi::signed_request`] and typed
    /// errors as spot's. Its server pings only every 3 minutes, so the
    /// client pings a quiet connection itself.
    pub async fn futures_ws_api(&self, venue: Venue) -> Result<WsApi, Error> {
        let url = self
            .inner
            .futures_endpoint(venue)?
            .futures_ws_api_url(venue)?;
        let api = WsApi::spawn(
            url,
            self.inner.env().clone(),
            self.signer().ok(),
            None,
            Some(self.inner.env().options.watchdog / 3),
        );
        api.connected().await?;
        Ok(api)
    }
}
