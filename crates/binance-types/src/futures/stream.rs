//! Typed stream names for USD-M and COIN-M futures (reference §5.2, §5.3).
//!
//! A [`FuturesStream`] renders to Binance's exact spelling
//! (`btcusdt_perpetual@continuousKline_1m`) and parses back from it.
//! Symbols are case-insensitive on the way in and lowercase on the way out;
//! futures symbols may contain `_` (`btcusd_perp`, `btcusdt_250627`).
//! Spot names stay [`StreamName`](crate::StreamName).

use std::fmt;
use std::str::FromStr;

use crate::stream::{
    serde_as_text, wire_enum, DepthLevels, KlineInterval, StreamNameError, Symbol,
};
use crate::venue::{Network, Route, Venue};

/// Every form a futures stream name can take, for error messages.
pub const VALID_FORMS: &str = "<symbol>@aggTrade, <symbol>@markPrice[@1s], !markPrice@arr[@1s] (USD-M), \
<symbol>@kline_<interval> (interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M), \
<pair>_<contractType>@continuousKline_<interval> (contractType: perpetual current_quarter next_quarter tradifi_perpetual; interval may also be 1s), \
<symbol>@miniTicker, !miniTicker@arr, <symbol>@ticker, !ticker@arr, <symbol>@bookTicker, !bookTicker, \
<symbol>@forceOrder, !forceOrder@arr, <symbol>@depth<5|10|20>[@500ms|@100ms], <symbol>@depth[@500ms|@100ms], \
<symbol>@rpiDepth@500ms (USD-M), <symbol>@compositeIndex (USD-M), !contractInfo, <asset>@assetIndex (USD-M), \
!assetIndex@arr (USD-M), tradingSession (USD-M), <pair>@indexPrice[@1s] (COIN-M), \
<pair>@markPrice[@1s] (COIN-M, all contracts of the pair), <pair>@indexPriceKline_<interval> (COIN-M), \
<symbol>@markPriceKline_<interval> (COIN-M)";

/// A futures contract symbol, held uppercase (`BTCUSDT`, `BTCUSD_PERP`,
/// `BTCUSD_200626`): letters and digits in `_`-separated parts.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuturesSymbol(String);

impl FuturesSymbol {
    /// Validate and normalise a symbol in any case. Each `_`-separated part
    /// must be a valid [`Symbol`]; empty parts are refused.
    pub fn new(symbol: &str) -> Result<FuturesSymbol, StreamNameError> {
        let mut upper = String::with_capacity(symbol.len());
        for (i, part) in symbol.split('_').enumerate() {
            if i > 0 {
                upper.push('_');
            }
            let part = Symbol::new(part).map_err(|e| match e {
                StreamNameError::Invalid { reason, .. } => StreamNameError::invalid(
                    symbol,
                    format!("part {} of the symbol: {reason}", i + 1),
                ),
                other => other,
            })?;
            upper.push_str(part.as_str());
        }
        Ok(FuturesSymbol(upper))
    }

    /// The uppercase form used in payloads and REST (`BTCUSD_PERP`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase form used in stream names (`btcusd_perp`).
    pub fn to_lowercase(&self) -> String {
        self.0.to_lowercase()
    }

    /// Whether this is a COIN-M pair (`BTCUSD`, no `_`) rather than a
    /// contract; on COIN-M, `<pair>@markPrice` sends one update per contract
    /// of the pair, in an array.
    pub fn is_pair(&self) -> bool {
        !self.0.contains('_')
    }
}

impl fmt::Debug for FuturesSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for FuturesSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for FuturesSymbol {
    type Err = StreamNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FuturesSymbol::new(s)
    }
}

wire_enum! {
    /// The contract type of a continuous kline, as spelled in stream names
    /// (payloads spell it uppercase in `ct`).
    ContractType, "contract type" {
        /// `perpetual`.
        Perpetual = "perpetual",
        /// `current_quarter`.
        CurrentQuarter = "current_quarter",
        /// `next_quarter`.
        NextQuarter = "next_quarter",
        /// `tradifi_perpetual` (USD-M TradFi perpetuals).
        TradifiPerpetual = "tradifi_perpetual",
    }
}

/// How often a price stream (`@markPrice`, `@indexPrice`) pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum PriceSpeed {
    /// Every 3 s (no suffix).
    #[default]
    S3,
    /// Every 1 s (`@1s`).
    S1,
}

impl PriceSpeed {
    /// The interval in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            PriceSpeed::S3 => 3_000,
            PriceSpeed::S1 => 1_000,
        }
    }

    const fn suffix(self) -> &'static str {
        match self {
            PriceSpeed::S3 => "",
            PriceSpeed::S1 => "@1s",
        }
    }
}

/// How often a futures depth stream pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DepthSpeed {
    /// Every 250 ms (no suffix).
    #[default]
    Ms250,
    /// Every 500 ms (`@500ms`).
    Ms500,
    /// Every 100 ms (`@100ms`).
    Ms100,
}

impl DepthSpeed {
    /// The interval in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            DepthSpeed::Ms250 => 250,
            DepthSpeed::Ms500 => 500,
            DepthSpeed::Ms100 => 100,
        }
    }

    const fn suffix(self) -> &'static str {
        match self {
            DepthSpeed::Ms250 => "",
            DepthSpeed::Ms500 => "@500ms",
            DepthSpeed::Ms100 => "@100ms",
        }
    }
}

/// A USD-M or COIN-M market stream, as named on `/ws/<name>` or
/// `/stream?streams=…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FuturesStream {
    /// `<symbol>@aggTrade`.
    AggTrade(FuturesSymbol),
    /// `<symbol>@markPrice[@1s]`; on COIN-M also `<pair>@markPrice[@1s]`
    /// (see [`FuturesSymbol::is_pair`]).
    MarkPrice {
        /// The contract (or COIN-M pair).
        symbol: FuturesSymbol,
        /// Push interval.
        speed: PriceSpeed,
    },
    /// `!markPrice@arr[@1s]` (USD-M).
    AllMarkPrices(PriceSpeed),
    /// `<symbol>@kline_<interval>`.
    Kline {
        /// The contract.
        symbol: FuturesSymbol,
        /// Candle length (not `1s`).
        interval: KlineInterval,
    },
    /// `<pair>_<contractType>@continuousKline_<interval>`.
    ContinuousKline {
        /// The pair (`btcusdt`).
        pair: Symbol,
        /// Which contract of the pair.
        contract_type: ContractType,
        /// Candle length.
        interval: KlineInterval,
    },
    /// `<pair>@indexPriceKline_<interval>` (COIN-M).
    IndexPriceKline {
        /// The pair.
        pair: Symbol,
        /// Candle length (not `1s`).
        interval: KlineInterval,
    },
    /// `<symbol>@markPriceKline_<interval>` (COIN-M).
    MarkPriceKline {
        /// The contract.
        symbol: FuturesSymbol,
        /// Candle length (not `1s`).
        interval: KlineInterval,
    },
    /// `<symbol>@miniTicker`.
    MiniTicker(FuturesSymbol),
    /// `!miniTicker@arr`.
    AllMiniTickers,
    /// `<symbol>@ticker`.
    Ticker(FuturesSymbol),
    /// `!ticker@arr`.
    AllTickers,
    /// `<symbol>@bookTicker`.
    BookTicker(FuturesSymbol),
    /// `!bookTicker`.
    AllBookTickers,
    /// `<symbol>@forceOrder`.
    ForceOrder(FuturesSymbol),
    /// `!forceOrder@arr`.
    AllForceOrders,
    /// `<symbol>@depth<5|10|20>[@500ms|@100ms]`.
    PartialDepth {
        /// The contract.
        symbol: FuturesSymbol,
        /// Levels a side.
        levels: DepthLevels,
        /// Push interval.
        speed: DepthSpeed,
    },
    /// `<symbol>@depth[@500ms|@100ms]`: the diff stream.
    Depth {
        /// The contract.
        symbol: FuturesSymbol,
        /// Push interval.
        speed: DepthSpeed,
    },
    /// `<symbol>@rpiDepth@500ms` (USD-M): depth including RPI orders.
    RpiDepth(FuturesSymbol),
    /// `<symbol>@compositeIndex` (USD-M).
    CompositeIndex(FuturesSymbol),
    /// `!contractInfo`.
    ContractInfo,
    /// `<assetSymbol>@assetIndex` (USD-M).
    AssetIndex(Symbol),
    /// `!assetIndex@arr` (USD-M).
    AllAssetIndexes,
    /// `tradingSession` (USD-M, TradFi sessions).
    TradingSession,
    /// `<pair>@indexPrice[@1s]` (COIN-M).
    IndexPrice {
        /// The pair.
        pair: Symbol,
        /// Push interval.
        speed: PriceSpeed,
    },
}

const BOTH: &[Venue] = &[Venue::UsdM, Venue::CoinM];
const USDM: &[Venue] = &[Venue::UsdM];
const COINM: &[Venue] = &[Venue::CoinM];

impl FuturesStream {
    /// The USD-M routed path this stream is served on (§5.1): book data
    /// (`bookTicker`, `depth…`, `rpiDepth`) on `/public`, the rest on
    /// `/market`. [`FuturesStream::route_on`] gives `None` on COIN-M.
    pub fn usdm_route(&self) -> Route {
        match self {
            FuturesStream::BookTicker(_)
            | FuturesStream::AllBookTickers
            | FuturesStream::PartialDepth { .. }
            | FuturesStream::Depth { .. }
            | FuturesStream::RpiDepth(_) => Route::Public,
            _ => Route::Market,
        }
    }

    /// The routed path this stream needs on `venue`: `Some` on USD-M
    /// ([`FuturesStream::usdm_route`]), `None` on venues without routed
    /// paths (COIN-M).
    pub fn route_on(&self, venue: Venue) -> Option<Route> {
        venue.is_routed().then(|| self.usdm_route())
    }

    /// The base URL to open for this stream on `venue`
    /// ([`Venue::base_url`] with [`FuturesStream::route_on`]), e.g.
    /// `wss://fstream.binance.com/public` for a USD-M depth stream and
    /// `wss://dstream.binance.com` on COIN-M; append `/ws/<name>` or
    /// `/stream?streams=…`.
    pub fn base_url(&self, venue: Venue, network: Network) -> String {
        venue.base_url(network, self.route_on(venue))
    }

    /// The venues that offer this stream (§5.2, §5.3).
    pub fn venues(&self) -> &'static [Venue] {
        match self {
            FuturesStream::ContinuousKline {
                contract_type: ContractType::TradifiPerpetual,
                ..
            }
            | FuturesStream::AllMarkPrices(_)
            | FuturesStream::RpiDepth(_)
            | FuturesStream::CompositeIndex(_)
            | FuturesStream::AssetIndex(_)
            | FuturesStream::AllAssetIndexes
            | FuturesStream::TradingSession => USDM,
            FuturesStream::IndexPrice { .. }
            | FuturesStream::IndexPriceKline { .. }
            | FuturesStream::MarkPriceKline { .. } => COINM,
            _ => BOTH,
        }
    }

    /// Parse a name and check that `venue` offers it.
    pub fn parse_on(venue: Venue, name: &str) -> Result<FuturesStream, StreamNameError> {
        if venue == Venue::Spot {
            return Err(invalid(
                name,
                "spot streams are named by binance_types::StreamName".into(),
            ));
        }
        let stream: FuturesStream = name.parse()?;
        if stream.venues().contains(&venue) {
            Ok(stream)
        } else {
            let offered: Vec<&str> = stream.venues().iter().map(|v| v.as_str()).collect();
            Err(invalid(
                name,
                format!("not offered on {venue}, only on {}", offered.join(" and ")),
            ))
        }
    }
}

fn invalid(input: &str, reason: String) -> StreamNameError {
    StreamNameError::InvalidFutures {
        input: input.to_owned(),
        reason,
        valid_forms: VALID_FORMS,
    }
}

impl fmt::Display for FuturesStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FuturesStream as S;
        match self {
            S::AggTrade(s) => write!(f, "{}@aggTrade", s.to_lowercase()),
            S::MarkPrice { symbol, speed } => {
                write!(f, "{}@markPrice{}", symbol.to_lowercase(), speed.suffix())
            }
            S::AllMarkPrices(speed) => write!(f, "!markPrice@arr{}", speed.suffix()),
            S::Kline { symbol, interval } => {
                write!(f, "{}@kline_{interval}", symbol.to_lowercase())
            }
            S::ContinuousKline {
                pair,
                contract_type,
                interval,
            } => write!(
                f,
                "{}_{contract_type}@continuousKline_{interval}",
                pair.to_lowercase()
            ),
            S::IndexPriceKline { pair, interval } => {
                write!(f, "{}@indexPriceKline_{interval}", pair.to_lowercase())
            }
            S::MarkPriceKline { symbol, interval } => {
                write!(f, "{}@markPriceKline_{interval}", symbol.to_lowercase())
            }
            S::MiniTicker(s) => write!(f, "{}@miniTicker", s.to_lowercase()),
            S::AllMiniTickers => f.write_str("!miniTicker@arr"),
            S::Ticker(s) => write!(f, "{}@ticker", s.to_lowercase()),
            S::AllTickers => f.write_str("!ticker@arr"),
            S::BookTicker(s) => write!(f, "{}@bookTicker", s.to_lowercase()),
            S::AllBookTickers => f.write_str("!bookTicker"),
            S::ForceOrder(s) => write!(f, "{}@forceOrder", s.to_lowercase()),
            S::AllForceOrders => f.write_str("!forceOrder@arr"),
            S::PartialDepth {
                symbol,
                levels,
                speed,
            } => write!(
                f,
                "{}@depth{levels}{}",
                symbol.to_lowercase(),
                speed.suffix()
            ),
            S::Depth { symbol, speed } => {
                write!(f, "{}@depth{}", symbol.to_lowercase(), speed.suffix())
            }
            S::RpiDepth(s) => write!(f, "{}@rpiDepth@500ms", s.to_lowercase()),
            S::CompositeIndex(s) => write!(f, "{}@compositeIndex", s.to_lowercase()),
            S::ContractInfo => f.write_str("!contractInfo"),
            S::AssetIndex(s) => write!(f, "{}@assetIndex", s.to_lowercase()),
            S::AllAssetIndexes => f.write_str("!assetIndex@arr"),
            S::TradingSession => f.write_str("tradingSession"),
            S::IndexPrice { pair, speed } => {
                write!(f, "{}@indexPrice{}", pair.to_lowercase(), speed.suffix())
            }
        }
    }
}

impl FromStr for FuturesStream {
    type Err = StreamNameError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        use FuturesStream as S;
        let bad = |reason: String| invalid(input, reason);
        // A part's error (symbol, interval, …) reported against the whole name.
        let part = |e: StreamNameError| match e {
            StreamNameError::Invalid { input: p, reason } => bad(format!("`{p}`: {reason}")),
            other => other,
        };
        if let Some(all) = input.strip_prefix('!') {
            return match all {
                "markPrice@arr" => Ok(S::AllMarkPrices(PriceSpeed::S3)),
                "markPrice@arr@1s" => Ok(S::AllMarkPrices(PriceSpeed::S1)),
                "miniTicker@arr" => Ok(S::AllMiniTickers),
                "ticker@arr" => Ok(S::AllTickers),
                "bookTicker" => Ok(S::AllBookTickers),
                "forceOrder@arr" => Ok(S::AllForceOrders),
                "contractInfo" => Ok(S::ContractInfo),
                "assetIndex@arr" => Ok(S::AllAssetIndexes),
                _ => Err(bad("unknown all-market stream".into())),
            };
        }
        if input == "tradingSession" {
            return Ok(S::TradingSession);
        }
        let (target, kind) = input
            .split_once('@')
            .ok_or_else(|| bad("no `@` between the symbol and the stream type".into()))?;
        let (base, suffix) = match kind.split_once('@') {
            Some((base, suffix)) => (base, Some(suffix)),
            None => (kind, None),
        };
        let symbol = || FuturesSymbol::new(target).map_err(part);
        let pair = || Symbol::new(target).map_err(part);
        let no_suffix = |stream: FuturesStream| match suffix {
            None => Ok(stream),
            Some(s) => Err(bad(format!("unexpected suffix `@{s}`"))),
        };
        let price_speed = || match suffix {
            None => Ok(PriceSpeed::S3),
            Some("1s") => Ok(PriceSpeed::S1),
            Some(other) => Err(bad(format!(
                "unknown speed `@{other}`; valid: none (3 s) or @1s"
            ))),
        };
        let depth_speed = || match suffix {
            None => Ok(DepthSpeed::Ms250),
            Some("500ms") => Ok(DepthSpeed::Ms500),
            Some("100ms") => Ok(DepthSpeed::Ms100),
            Some(other) => Err(bad(format!(
                "unknown depth speed `@{other}`; valid: none (250 ms), @500ms or @100ms"
            ))),
        };
        // Futures klines have no 1 s candles; continuous klines do (§5.2).
        let interval = |text: &str, allow_1s: bool| -> Result<KlineInterval, StreamNameError> {
            let interval: KlineInterval = text.parse().map_err(part)?;
            if interval == KlineInterval::S1 && !allow_1s {
                return Err(bad(
                    "`1s` candles exist only for continuousKline on futures".into(),
                ));
            }
            Ok(interval)
        };
        match base {
            "aggTrade" => no_suffix(S::AggTrade(symbol()?)),
            "markPrice" => Ok(S::MarkPrice {
                symbol: symbol()?,
                speed: price_speed()?,
            }),
            "indexPrice" => Ok(S::IndexPrice {
                pair: pair()?,
                speed: price_speed()?,
            }),
            "miniTicker" => no_suffix(S::MiniTicker(symbol()?)),
            "ticker" => no_suffix(S::Ticker(symbol()?)),
            "bookTicker" => no_suffix(S::BookTicker(symbol()?)),
            "forceOrder" => no_suffix(S::ForceOrder(symbol()?)),
            "compositeIndex" => no_suffix(S::CompositeIndex(symbol()?)),
            "assetIndex" => no_suffix(S::AssetIndex(pair()?)),
            "depth" => Ok(S::Depth {
                symbol: symbol()?,
                speed: depth_speed()?,
            }),
            "rpiDepth" => match suffix {
                Some("500ms") => Ok(S::RpiDepth(symbol()?)),
                _ => Err(bad(
                    "rpiDepth exists only as `<symbol>@rpiDepth@500ms`".into()
                )),
            },
            _ => {
                if let Some(i) = base.strip_prefix("kline_") {
                    no_suffix(S::Kline {
                        symbol: symbol()?,
                        interval: interval(i, false)?,
                    })
                } else if let Some(i) = base.strip_prefix("continuousKline_") {
                    let (p, ct) = target.split_once('_').ok_or_else(|| {
                        bad("a continuous kline is named `<pair>_<contractType>@continuousKline_<interval>`".into())
                    })?;
                    no_suffix(S::ContinuousKline {
                        pair: Symbol::new(p).map_err(part)?,
                        contract_type: ct.parse().map_err(part)?,
                        interval: interval(i, true)?,
                    })
                } else if let Some(i) = base.strip_prefix("indexPriceKline_") {
                    no_suffix(S::IndexPriceKline {
                        pair: pair()?,
                        interval: interval(i, false)?,
                    })
                } else if let Some(i) = base.strip_prefix("markPriceKline_") {
                    no_suffix(S::MarkPriceKline {
                        symbol: symbol()?,
                        interval: interval(i, false)?,
                    })
                } else if let Some(levels) = base.strip_prefix("depth") {
                    Ok(S::PartialDepth {
                        symbol: symbol()?,
                        levels: levels.parse().map_err(part)?,
                        speed: depth_speed()?,
                    })
                } else {
                    Err(bad(format!("unknown stream type `{base}`")))
                }
            }
        }
    }
}

serde_as_text!(FuturesStream);

#[cfg(test)]
mod tests {
    use super::*;

    /// One name per kind (and per suffix), §5.2 and §5.3.
    const NAMES: &[&str] = &[
        "btcusdt@aggTrade",
        "btcusd_200626@aggTrade",
        "btcusdt@markPrice",
        "btcusdt@markPrice@1s",
        "btcusd@markPrice",
        "btcusd@markPrice@1s",
        "btcusd_perp@markPrice",
        "!markPrice@arr",
        "!markPrice@arr@1s",
        "btcusdt@kline_1m",
        "btcusdt@kline_1M",
        "btcusd_perp@kline_1w",
        "btcusdt_perpetual@continuousKline_1m",
        "btcusdt_current_quarter@continuousKline_1s",
        "btcusd_next_quarter@continuousKline_1d",
        "aaplusdt_tradifi_perpetual@continuousKline_5m",
        "btcusd@indexPriceKline_1m",
        "btcusd_200626@markPriceKline_15m",
        "btcusdt@miniTicker",
        "!miniTicker@arr",
        "btcusdt@ticker",
        "!ticker@arr",
        "btcusdt@bookTicker",
        "!bookTicker",
        "btcusdt@forceOrder",
        "!forceOrder@arr",
        "btcusdt@depth5",
        "btcusdt@depth10@500ms",
        "btcusdt@depth20@100ms",
        "btcusdt@depth",
        "btcusdt@depth@500ms",
        "btcusd_perp@depth@100ms",
        "btcusdt@rpiDepth@500ms",
        "defiusdt@compositeIndex",
        "!contractInfo",
        "adausd@assetIndex",
        "!assetIndex@arr",
        "tradingSession",
        "btcusd@indexPrice",
        "btcusd@indexPrice@1s",
    ];

    #[test]
    fn every_kind_round_trips() {
        for name in NAMES {
            let parsed: FuturesStream = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.to_string(), *name);
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(
                serde_json::from_str::<FuturesStream>(&json).unwrap(),
                parsed
            );
        }
    }

    #[test]
    fn symbols_are_case_insensitive_and_keep_underscores() {
        let a: FuturesStream = "BTCUSD_PERP@aggTrade".parse().unwrap();
        assert_eq!(a.to_string(), "btcusd_perp@aggTrade");
        let FuturesStream::AggTrade(symbol) = a else {
            panic!()
        };
        assert_eq!(symbol.as_str(), "BTCUSD_PERP");
        assert!(!symbol.is_pair());
        assert!(FuturesSymbol::new("btcusd").unwrap().is_pair());
    }

    #[test]
    fn continuous_klines_split_pair_and_contract_type() {
        let s: FuturesStream = "btcusd_next_quarter@continuousKline_1m".parse().unwrap();
        assert_eq!(
            s,
            FuturesStream::ContinuousKline {
                pair: Symbol::new("btcusd").unwrap(),
                contract_type: ContractType::NextQuarter,
                interval: KlineInterval::M1,
            }
        );
    }

    #[test]
    fn venues_offer_their_own_streams() {
        for name in NAMES {
            let stream: FuturesStream = name.parse().unwrap();
            for venue in [Venue::UsdM, Venue::CoinM] {
                let on = FuturesStream::parse_on(venue, name);
                assert_eq!(
                    on.is_ok(),
                    stream.venues().contains(&venue),
                    "{name} {venue}"
                );
            }
            assert!(FuturesStream::parse_on(Venue::Spot, name).is_err());
        }
        let err = FuturesStream::parse_on(Venue::UsdM, "btcusd@indexPrice").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`btcusd@indexPrice`"), "{text}");
        assert!(
            text.contains("not offered on USD-M, only on COIN-M"),
            "{text}"
        );
        assert!(FuturesStream::parse_on(Venue::CoinM, "btcusdt@rpiDepth@500ms").is_err());
        assert!(FuturesStream::parse_on(
            Venue::CoinM,
            "btcusd_tradifi_perpetual@continuousKline_1m"
        )
        .is_err());
    }

    #[test]
    fn bad_names_name_the_input_and_the_valid_forms() {
        for bad in [
            "btcusdt@kline_7m",
            "btcusdt@kline_1s",
            "btcusd@indexPriceKline_1s",
            "btcusdt@depth7",
            "btcusdt@depth@250ms",
            "btcusdt@depth5@1000ms",
            "btcusdt@rpiDepth",
            "btcusdt@rpiDepth@100ms",
            "btcusdt@markPrice@3s",
            "!markPrice@arr@3s",
            "btcusdt@aggTrade@100ms",
            "@aggTrade",
            "btc-usdt@aggTrade",
            "btcusd__perp@aggTrade",
            "_btcusd@aggTrade",
            "btcusd_perp@indexPrice",
            "btcusdt@continuousKline_1m",
            "btcusdt_weekly@continuousKline_1m",
            "btcusdt@trade",
            "btcusdt@avgPrice",
            "btcusdt",
            "!nope",
            "!ticker_1h@arr",
            "tradingsession",
        ] {
            let err = bad.parse::<FuturesStream>().unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{bad}`")),
                "{bad}: error does not name it: {text}"
            );
            assert!(text.contains("valid forms"), "{bad}: {text}");
            assert!(text.contains("continuousKline"), "{bad}: {text}");
            assert!(
                matches!(err, StreamNameError::InvalidFutures { .. }),
                "{bad}: {err:?}"
            );
        }
        let text = "btcusdt_weekly@continuousKline_1m"
            .parse::<FuturesStream>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("current_quarter"), "{text}");
    }
}
