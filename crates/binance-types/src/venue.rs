//! Which Binance market a connection talks to, and where its streams live.
//!
//! A [`Venue`] knows its production and testnet stream hosts
//! (reference §1.1 and §5.1). USD-M futures split their host by routed path
//! since 2026-03-05 (legacy paths off since 2026-04-23): book data on
//! `/public`, everything else on `/market`, user data on `/private`; which
//! one a stream needs is decided once, from its typed name, by
//! `FuturesStream::route_on` (in `binance_types::futures::stream`).

use std::fmt;

/// A Binance market whose streams this crate models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Spot (`stream.binance.com`).
    Spot,
    /// USD-M futures (`fstream.binance.com`, routed paths).
    UsdM,
    /// COIN-M futures (`dstream.binance.com`).
    CoinM,
    /// European options (the rebuilt options system: the USD-M host
    /// `fstream.binance.com` with its routed paths, REST on
    /// `eapi.binance.com`; reference §7).
    Options,
}

/// Production or testnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Network {
    /// The real exchange.
    #[default]
    Production,
    /// The venue's testnet.
    Testnet,
}

/// A USD-M routed path (reference §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `/public`: high-frequency book data (`@bookTicker`, `!bookTicker`,
    /// `@depth…`, `@rpiDepth@500ms`). A connection without a routed path
    /// gets only this data.
    Public,
    /// `/market`: every other market stream.
    Market,
    /// `/private`: user data (listenKey).
    Private,
}

impl Route {
    /// The path segment, with its leading slash (`/public`).
    pub const fn path(self) -> &'static str {
        match self {
            Route::Public => "/public",
            Route::Market => "/market",
            Route::Private => "/private",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

impl Venue {
    /// Every venue.
    pub const ALL: &'static [Venue] = &[Venue::Spot, Venue::UsdM, Venue::CoinM, Venue::Options];

    /// The market-stream host (with port where Binance documents one).
    ///
    /// Spot production is `stream.binance.com:9443` (port 443 works too),
    /// spot testnet `stream.testnet.binance.vision`; USD-M
    /// `fstream.binance.com` / `fstream.binancefuture.com`; COIN-M
    /// `dstream.binance.com` / `dstream.binancefuture.com`.
    pub const fn stream_host(self, network: Network) -> &'static str {
        match (self, network) {
            (Venue::Spot, Network::Production) => "stream.binance.com:9443",
            (Venue::Spot, Network::Testnet) => "stream.testnet.binance.vision",
            (Venue::UsdM | Venue::Options, Network::Production) => "fstream.binance.com",
            (Venue::UsdM | Venue::Options, Network::Testnet) => "fstream.binancefuture.com",
            (Venue::CoinM, Network::Production) => "dstream.binance.com",
            (Venue::CoinM, Network::Testnet) => "dstream.binancefuture.com",
        }
    }

    /// The REST host (`api.binance.com`, `fapi.binance.com`,
    /// `dapi.binance.com`; testnets `testnet.binance.vision` and
    /// `testnet.binancefuture.com`).
    pub const fn rest_host(self, network: Network) -> &'static str {
        match (self, network) {
            (Venue::Spot, Network::Production) => "api.binance.com",
            (Venue::Spot, Network::Testnet) => "testnet.binance.vision",
            (Venue::UsdM, Network::Production) => "fapi.binance.com",
            (Venue::CoinM, Network::Production) => "dapi.binance.com",
            (Venue::Options, Network::Production) => "eapi.binance.com",
            (Venue::UsdM | Venue::CoinM | Venue::Options, Network::Testnet) => {
                "testnet.binancefuture.com"
            }
        }
    }

    /// `https://<rest host>`.
    pub fn rest_url(self, network: Network) -> String {
        format!("https://{}", self.rest_host(network))
    }

    /// The REST order-book snapshot path (`/api/v3/depth`, `/fapi/v1/depth`,
    /// `/dapi/v1/depth`).
    pub const fn depth_path(self) -> &'static str {
        match self {
            Venue::Spot => "/api/v3/depth",
            Venue::UsdM => "/fapi/v1/depth",
            Venue::CoinM => "/dapi/v1/depth",
            Venue::Options => "/eapi/v1/depth",
        }
    }

    /// Whether the host is split by routed path (USD-M, and options on
    /// the same host).
    pub const fn is_routed(self) -> bool {
        matches!(self, Venue::UsdM | Venue::Options)
    }

    /// `wss://<host>[<route>]`, the base that `/ws/…` or `/stream?streams=…`
    /// is appended to. The route is used only on a routed venue (USD-M),
    /// on production and testnet alike (the reference lists routed testnet
    /// paths for the options system on the same host, §7).
    pub fn base_url(self, network: Network, route: Option<Route>) -> String {
        let path = match route {
            Some(route) if self.is_routed() => route.path(),
            _ => "",
        };
        format!("wss://{}{path}", self.stream_host(network))
    }

    /// A short human name (`spot`, `USD-M`, `COIN-M`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Venue::Spot => "spot",
            Venue::UsdM => "USD-M",
            Venue::CoinM => "COIN-M",
            Venue::Options => "options",
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::futures::stream::FuturesStream;

    #[test]
    fn hosts() {
        use Network::*;
        assert_eq!(
            Venue::Spot.base_url(Production, None),
            "wss://stream.binance.com:9443"
        );
        assert_eq!(
            Venue::Spot.base_url(Testnet, Some(Route::Market)),
            "wss://stream.testnet.binance.vision"
        );
        assert_eq!(
            Venue::UsdM.base_url(Production, Some(Route::Public)),
            "wss://fstream.binance.com/public"
        );
        assert_eq!(
            Venue::UsdM.base_url(Production, Some(Route::Private)),
            "wss://fstream.binance.com/private"
        );
        assert_eq!(
            Venue::UsdM.base_url(Testnet, Some(Route::Market)),
            "wss://fstream.binancefuture.com/market"
        );
        assert_eq!(
            Venue::CoinM.base_url(Production, Some(Route::Public)),
            "wss://dstream.binance.com"
        );
        assert_eq!(
            Venue::CoinM.base_url(Testnet, None),
            "wss://dstream.binancefuture.com"
        );
        assert_eq!(Venue::UsdM.rest_url(Production), "https://fapi.binance.com");
        assert_eq!(
            Venue::CoinM.rest_url(Production),
            "https://dapi.binance.com"
        );
        assert_eq!(Venue::CoinM.depth_path(), "/dapi/v1/depth");
        assert!(Venue::UsdM.is_routed());
        assert!(!Venue::CoinM.is_routed() && !Venue::Spot.is_routed());
    }

    /// §5.1's table, stream by stream.
    #[test]
    fn usdm_routes_follow_the_reference() {
        let public = [
            "btcusdt@bookTicker",
            "!bookTicker",
            "btcusdt@depth5",
            "btcusdt@depth10@500ms",
            "btcusdt@depth20@100ms",
            "btcusdt@depth",
            "btcusdt@depth@500ms",
            "btcusdt@depth@100ms",
            "btcusdt@rpiDepth@500ms",
        ];
        let market = [
            "btcusdt@aggTrade",
            "btcusdt@markPrice",
            "btcusdt@markPrice@1s",
            "!markPrice@arr",
            "!markPrice@arr@1s",
            "btcusdt@kline_1m",
            "btcusdt_perpetual@continuousKline_1m",
            "btcusdt@miniTicker",
            "!miniTicker@arr",
            "btcusdt@ticker",
            "!ticker@arr",
            "btcusdt@forceOrder",
            "!forceOrder@arr",
            "defiusdt@compositeIndex",
            "!contractInfo",
            "!assetIndex@arr",
            "adausd@assetIndex",
            "tradingSession",
        ];
        for (names, route) in [(&public[..], Route::Public), (&market[..], Route::Market)] {
            for name in names {
                let stream: FuturesStream = name.parse().unwrap();
                assert_eq!(stream.route_on(Venue::UsdM), Some(route), "{name}");
                assert_eq!(stream.route_on(Venue::CoinM), None, "{name}");
                assert_eq!(stream.route_on(Venue::Spot), None, "{name}");
                assert_eq!(
                    stream.base_url(Venue::UsdM, Network::Production),
                    format!("wss://fstream.binance.com{}", route.path()),
                    "{name}"
                );
            }
        }
        let coinm: FuturesStream = "btcusd_perp@depth@100ms".parse().unwrap();
        assert_eq!(
            coinm.base_url(Venue::CoinM, Network::Production),
            "wss://dstream.binance.com"
        );
    }
}
