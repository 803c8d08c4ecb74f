//! Where to connect and how to behave: endpoints, reconnects, queues, proxies.

use std::time::Duration;

use binance_types::venue::{Network as VenueNetwork, Venue};

use crate::Error;

/// A Binance stream host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `wss://stream.binance.com:9443` (the default).
    Production,
    /// `wss://stream.binance.com:443`, for networks that only open 443.
    Production443,
    /// `wss://data-stream.binance.vision`: market data only, never user data.
    MarketData,
    /// `wss://stream.testnet.binance.vision`.
    Testnet,
    /// `wss://demo-stream.binance.com` (demo mode).
    Demo,
    /// `wss://stream.binance.us:9443` (Binance.US).
    BinanceUs,
    /// Any stream server (`ws://127.0.0.1:9000`, a simulator, a proxy…):
    /// the base URL, to which `/ws/<name>` or `/stream?streams=…` is added.
    Custom(String),
}

impl Endpoint {
    /// The base URL streams are appended to.
    pub fn base_url(&self) -> &str {
        match self {
            Endpoint::Production => "wss://stream.binance.com:9443",
            Endpoint::Production443 => "wss://stream.binance.com:443",
            Endpoint::MarketData => "wss://data-stream.binance.vision",
            Endpoint::Testnet => "wss://stream.testnet.binance.vision",
            Endpoint::Demo => "wss://demo-stream.binance.com",
            Endpoint::BinanceUs => "wss://stream.binance.us:9443",
            Endpoint::Custom(url) => url.trim_end_matches('/'),
        }
    }

    /// Where `venue` (a futures market) is served when this is its endpoint:
    /// its stream base, under which USD-M's routes (`/public`, `/market`,
    /// `/private`) are added, and its REST base. Production endpoints give
    /// the venue's production hosts (`fstream`/`fapi`,
    /// `dstream`/`dapi.binance.com`), the testnet and demo endpoints its
    /// testnet hosts, a custom one its own address for both (`ws://h:p`
    /// and `http://h:p`). Binance.US has no futures: an error names the
    /// endpoints that do.
    pub fn futures_urls(&self, venue: Venue) -> Result<(String, String), Error> {
        let network = match self {
            Endpoint::Custom(_) => return Ok((self.base_url().to_owned(), self.rest_url())),
            Endpoint::BinanceUs => {
                return Err(Error::config(format!(
                "Binance.US has no {venue} futures: use Endpoint::Production, Endpoint::Testnet \
                     or Endpoint::Custom(url) for the {venue} market"
            )))
            }
            Endpoint::Testnet | Endpoint::Demo => VenueNetwork::Testnet,
            Endpoint::Production | Endpoint::Production443 | Endpoint::MarketData => {
                VenueNetwork::Production
            }
        };
        Ok((venue.base_url(network, None), venue.rest_url(network)))
    }

    /// The futures WebSocket API of `venue` when this is its endpoint:
    /// USD-M `wss://ws-fapi.binance.com/ws-fapi/v1`, COIN-M
    /// `wss://ws-dapi.binance.com/ws-dapi/v1`; testnet and demo
    /// `wss://testnet.binancefuture.com/ws-fapi/v1` (`/ws-dapi/v1` for
    /// COIN-M, by the same pattern); a custom endpoint at its own address.
    pub fn futures_ws_api_url(&self, venue: Venue) -> Result<String, Error> {
        // Checks the venue has futures here (Binance.US has none).
        self.futures_urls(venue)?;
        let path = match venue {
            Venue::CoinM => "/ws-dapi/v1",
            _ => "/ws-fapi/v1",
        };
        Ok(match self {
            Endpoint::Custom(_) => format!("{}{path}", self.base_url()),
            Endpoint::Testnet | Endpoint::Demo => format!("wss://testnet.binancefuture.com{path}"),
            _ => match venue {
                Venue::CoinM => format!("wss://ws-dapi.binance.com{path}"),
                _ => format!("wss://ws-fapi.binance.com{path}"),
            },
        })
    }

    /// The REST base URL of the same venue (depth snapshots).
    pub fn rest_url(&self) -> String {
        match self {
            Endpoint::Production | Endpoint::Production443 => "https://api.binance.com".into(),
            Endpoint::MarketData => "https://data-api.binance.vision".into(),
            Endpoint::Testnet => "https://testnet.binance.vision".into(),
            Endpoint::Demo => "https://demo-api.binance.com".into(),
            Endpoint::BinanceUs => "https://api.binance.us".into(),
            Endpoint::Custom(url) => url
                .trim_end_matches('/')
                .replacen("wss://", "https://", 1)
                .replacen("ws://", "http://", 1),
        }
    }

    /// The WebSocket API URL of the same venue (user data, requests).
    pub fn ws_api_url(&self) -> Result<String, Error> {
        Ok(match self {
            Endpoint::Production | Endpoint::Production443 => {
                "wss://ws-api.binance.com:443/ws-api/v3".into()
            }
            Endpoint::MarketData => {
                return Err(Error::config(
                    "the market-data-only endpoint has no WebSocket API (no user data);                      use Endpoint::Production",
                ))
            }
            Endpoint::Testnet => "wss://ws-api.testnet.binance.vision/ws-api/v3".into(),
            Endpoint::Demo => "wss://demo-ws-api.binance.com/ws-api/v3".into(),
            Endpoint::BinanceUs => "wss://ws-api.binance.us:443/ws-api/v3".into(),
            Endpoint::Custom(url) => format!("{}/ws-api/v3", url.trim_end_matches('/')),
        })
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let url = self.base_url();
        if url.starts_with("ws://") || url.starts_with("wss://") {
            Ok(())
        } else {
            Err(Error::config(format!(
                "endpoint `{url}` must start with ws:// or wss://"
            )))
        }
    }
}

/// How many times to reconnect before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// At most this many tries in a row, then `Max reconnect retries reached`.
    Limited(u32),
    /// Never give up.
    Unlimited,
}

/// Reconnect behaviour: capped exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    /// Tries before the terminal error (python-binance: 5).
    pub retries: Retries,
    /// First delay.
    pub initial_delay: Duration,
    /// Cap on the delay (python-binance: 60 s).
    pub max_delay: Duration,
    /// A connection must stay up this long before the retry budget refills,
    /// so a server that accepts and drops at once cannot loop us forever.
    pub stable_after: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            retries: Retries::Limited(5),
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl Reconnect {
    /// The delay before try `attempt` (1-based): a random point in
    /// `[base/2, base]` with `base = min(initial * 2^(attempt-1), max)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = base / 2;
        half + base.saturating_sub(half).mul_f64(rand::random::<f64>())
    }

    /// Whether try `attempt` (1-based) is allowed.
    pub fn allows(&self, attempt: u32) -> bool {
        match self.retries {
            Retries::Limited(max) => attempt <= max,
            Retries::Unlimited => true,
        }
    }
}

/// What a socket's queue does when its reader falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the oldest message and report how many were dropped (default).
    #[default]
    DropOldest,
    /// End the socket with an overflow error.
    Error,
}

/// A proxy to reach the stream server through.
#[derive(Clone, PartialEq, Eq)]
pub enum Proxy {
    /// HTTP `CONNECT` proxy (`http://[user:pass@]host:port`).
    Http {
        /// `host:port`.
        addr: String,
        /// `user:pass` for `Proxy-Authorization: Basic`.
        auth: Option<(String, String)>,
    },
    /// SOCKS5 proxy (`socks5://[user:pass@]host:port`).
    Socks5 {
        /// `host:port`.
        addr: String,
        /// Username and password.
        auth: Option<(String, String)>,
    },
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Proxy passwords are credentials too.
        let (kind, addr, auth) = match self {
            Proxy::Http { addr, auth } => ("Http", addr, auth),
            Proxy::Socks5 { addr, auth } => ("Socks5", addr, auth),
        };
        f.debug_struct(kind)
            .field("addr", addr)
            .field("auth", &auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Proxy {
    /// Parse `http://…`, `https://…` (HTTP CONNECT) or `socks5://…`/`socks5h://…`.
    pub fn parse(url: &str) -> Result<Proxy, Error> {
        let invalid = || {
            Error::config(
                "proxy URL must be http://[user:pass@]host:port or socks5://[user:pass@]host:port"
                    .to_string(),
            )
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let rest = rest.trim_end_matches('/');
        let (auth, addr) = match rest.rsplit_once('@') {
            Some((auth, addr)) => {
                let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
                (Some((user.to_owned(), pass.to_owned())), addr)
            }
            None => (None, rest),
        };
        if addr.is_empty() {
            return Err(invalid());
        }
        let addr = if addr.contains(':') {
            addr.to_owned()
        } else {
            let port = if scheme.starts_with("socks") {
                1080
            } else {
                80
            };
            format!("{addr}:{port}")
        };
        match scheme {
            "http" | "https" => Ok(Proxy::Http { addr, auth }),
            "socks5" | "socks5h" => Ok(Proxy::Socks5 { addr, auth }),
            _ => Err(invalid()),
        }
    }

    /// The proxy for `host` from `HTTPS_PROXY`/`https_proxy`, `ALL_PROXY`/
    /// `all_proxy`, unless `NO_PROXY`/`no_proxy` names the host (or `*`).
    pub fn from_env(host: &str) -> Option<Proxy> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        if let Some(no) = var(&["NO_PROXY", "no_proxy"]) {
            let excluded = no.split(',').map(str::trim).any(|pattern| {
                pattern == "*"
                    || host == pattern.trim_start_matches('.')
                    || host.ends_with(&format!(".{}", pattern.trim_start_matches('.')))
            });
            if excluded {
                return None;
            }
        }
        var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
            .and_then(|url| Proxy::parse(&url).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let r = Reconnect::default();
        for attempt in 1..12 {
            let base = (r.initial_delay * (1 << (attempt - 1))).min(r.max_delay);
            let d = r.delay(attempt);
            assert!(d >= base / 2 && d <= base, "{attempt}: {d:?} vs {base:?}");
        }
        assert!(r.delay(30) <= r.max_delay);
        assert!(r.allows(5) && !r.allows(6));
        let unlimited = Reconnect {
            retries: Retries::Unlimited,
            ..r
        };
        assert!(unlimited.allows(1_000_000));
    }

    #[test]
    fn proxies_parse_and_hide_passwords() {
        let p = Proxy::parse("socks5://me:secret@10.0.0.1:1080").unwrap();
        assert!(matches!(&p, Proxy::Socks5 { addr, .. } if addr == "10.0.0.1:1080"));
        assert!(!format!("{p:?}").contains("secret"));
        assert!(
            matches!(Proxy::parse("http://proxy").unwrap(), Proxy::Http { addr, .. } if addr == "proxy:80")
        );
        let err = Proxy::parse("ftp://x").unwrap_err().to_string();
        assert!(err.contains("socks5://"), "{err}");
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::Production.base_url(),
            "wss://stream.binance.com:9443"
        );
        assert_eq!(
            Endpoint::Custom("ws://127.0.0.1:9000/".into()).rest_url(),
            "http://127.0.0.1:9000"
        );
        assert!(Endpoint::Custom("http://x".into()).validate().is_err());
        assert_eq!(
            Endpoint::Custom("ws://127.0.0.1:9000/".into())
                .futures_urls(Venue::UsdM)
                .unwrap(),
            (
                "ws://127.0.0.1:9000".to_owned(),
                "http://127.0.0.1:9000".to_owned()
            )
        );
        assert_eq!(
            Endpoint::Production.futures_urls(Venue::UsdM).unwrap(),
            (
                "wss://fstream.binance.com".to_owned(),
                "https://fapi.binance.com".to_owned()
            )
        );
        assert_eq!(
            Endpoint::Testnet.futures_urls(Venue::CoinM).unwrap(),
            (
                "wss://dstream.binancefuture.com".to_owned(),
                "https://testnet.binancefuture.com".to_owned()
            )
        );
        assert_eq!(
            Endpoint::Production
                .futures_ws_api_url(Venue::UsdM)
                .unwrap(),
            "wss://ws-fapi.binance.com/ws-fapi/v1"
        );
        assert_eq!(
            Endpoint::Production
                .futures_ws_api_url(Venue::CoinM)
                .unwrap(),
            "wss://ws-dapi.binance.com/ws-dapi/v1"
        );
        assert_eq!(
            Endpoint::Testnet.futures_ws_api_url(Venue::UsdM).unwrap(),
            "wss://testnet.binancefuture.com/ws-fapi/v1"
        );
        assert_eq!(
            Endpoint::Custom("ws://127.0.0.1:9001".into())
                .futures_ws_api_url(Venue::CoinM)
                .unwrap(),
            "ws://127.0.0.1:9001/ws-dapi/v1"
        );
        assert!(Endpoint::BinanceUs.futures_ws_api_url(Venue::UsdM).is_err());
        let refused = Endpoint::BinanceUs.futures_urls(Venue::CoinM).unwrap_err();
        assert!(
            refused.to_string().contains("Endpoint::Production"),
            "{refused}"
        );
    }
}

/// Everything a manager's sockets share, set through
/// [`SocketManagerBuilder`] (the one way to configure, so a new option is
/// never a breaking change). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Reconnect policy (default: 5 tries, 250 ms doubling to 60 s, jittered).
    pub reconnect: Reconnect,
    /// Reconnect a connection that sent nothing, not even a ping, this long
    /// (default 60 s; Binance pings every 20 s).
    pub watchdog: Duration,
    /// Replace a connection with a fresh one after this long, before
    /// Binance's 24-hour cut (default 23 h 50 min).
    pub rotate_after: Duration,
    /// How long old and new connections overlap during a rotation.
    pub rotation_overlap: Duration,
    /// Messages a socket holds for a slow reader (default 10 000).
    pub queue_capacity: usize,
    /// What happens when that fills (default: drop the oldest, report how
    /// many), once the reader has stayed behind for `max_stall`.
    pub overflow: Overflow,
    /// Backpressure: how long a connection stops reading while a socket's
    /// queue is full, letting TCP hold the rest, before that socket's
    /// overflow policy applies (default 20 s, one Binance ping interval:
    /// Binance drops a connection whose pong is a minute late, and pings
    /// wait behind the unread data). A burst is slowed, not lost; only a
    /// reader that stays behind loses messages, and is told how many. Zero
    /// never stops reading. Every socket on a shared connection waits
    /// while one of them is full.
    pub max_stall: Duration,
    /// Per-stream silence: a stream that goes quiet while its connection
    /// stays up is reported ([`Status::StreamSilent`](crate::Status::StreamSilent))
    /// and its connection replaced, make-before-break. The rule is in
    /// [`SocketManagerBuilder::stream_watchdog`]; this is its floor (default 10 s), `None`
    /// turns it off.
    pub stream_watchdog: Option<Duration>,
    /// The default `recv()` timeout of new sockets (default none).
    pub user_timeout: Option<Duration>,
    /// TCP + TLS + WebSocket handshake limit (default 10 s).
    pub connect_timeout: Duration,
    /// Streams per connection (Binance: 1024).
    pub max_streams_per_connection: usize,
    /// New connections allowed per window (Binance: 300 per 5 minutes).
    pub connection_attempts: (usize, Duration),
    /// Connections each user socket keeps subscribed (default 2: one can
    /// drop without losing an event).
    pub user_connections: usize,
    /// `recvWindow` sent with signed requests (default: none, Binance's 5 s).
    pub recv_window: Option<Duration>,
    /// How long a WebSocket API request waits for its answer (default 10 s,
    /// Binance's own backend timeout).
    pub request_timeout: Duration,
    /// Connections per market socket (1 to 4, default 1).
    pub market_connections: usize,
    /// REST request weight a manager's sockets may spend a minute filling
    /// holes (default 1200, a fifth of spot's 6000; 0 turns backfill off).
    pub backfill_weight: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reconnect: Reconnect::default(),
            watchdog: Duration::from_secs(60),
            rotate_after: Duration::from_secs(23 * 3600 + 50 * 60),
            rotation_overlap: Duration::from_secs(2),
            queue_capacity: 10_000,
            overflow: Overflow::DropOldest,
            max_stall: Duration::from_secs(20),
            stream_watchdog: Some(Duration::from_secs(10)),
            user_timeout: None,
            connect_timeout: Duration::from_secs(10),
            max_streams_per_connection: 1024,
            connection_attempts: (300, Duration::from_secs(300)),
            user_connections: 2,
            recv_window: None,
            request_timeout: Duration::from_secs(10),
            market_connections: 1,
            backfill_weight: 1200,
        }
    }
}
