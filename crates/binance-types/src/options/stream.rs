//! Typed stream names for European options (reference §7).
//!
//! An [`OptionsStream`] renders to Binance's exact spelling
//! (`btc-251226-110000-c@optionTicker`, `btcusdt@optionMarkPrice`) and
//! parses back from it. Symbols are case-insensitive on the way in and
//! lowercase on the way out, as python-binance writes them; payloads name
//! them uppercase. Which routed path a stream is served on (`/public` or
//! `/market`) is [`OptionsStream::route`].

use std::fmt;
use std::str::FromStr;

use crate::stream::{serde_as_text, DepthLevels, KlineInterval, StreamNameError, Symbol};
use crate::venue::{Network, Route, Venue};

/// Every form an options stream name can take, for error messages.
pub const VALID_FORMS: &str = "<symbol>@optionTicker, <underlying>@optionTicker@<YYMMDD>, \
<symbol>@optionTrade, <underlying>@optionTrade, <symbol>@bookTicker, \
<symbol>@depth<5|10|20>@<100ms|500ms>, <symbol>@depth@<100ms|500ms> (public); \
<underlying>@optionMarkPrice, !index@arr, <symbol>@kline_<interval> \
(interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w), \
<underlying>@optionOpenInterest@<YYMMDD>, !optionSymbol (market); \
<symbol> is an option (`btc-251226-110000-c`: base-YYMMDD-strike-C|P), \
<underlying> an index (`btcusdt`)";

fn invalid(input: &str, reason: String) -> StreamNameError {
    StreamNameError::InvalidOptions {
        input: input.to_owned(),
        reason,
        valid_forms: VALID_FORMS,
    }
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptionKind {
    /// `C` in a symbol, `CALL` in `optionSymbol`.
    Call,
    /// `P` in a symbol, `PUT` in `optionSymbol`.
    Put,
}

/// An expiry date as options name it: `YYMMDD` (`251226`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Expiry {
    /// Year within the century (`25`).
    pub year: u8,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day, 1 to 31.
    pub day: u8,
}

impl Expiry {
    /// Parse `YYMMDD`.
    pub fn new(text: &str) -> Result<Expiry, StreamNameError> {
        let bad = |why: &str| {
            StreamNameError::invalid(text, format!("{why}; an expiry is YYMMDD (`251226`)"))
        };
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not six digits"));
        }
        let two = |at: usize| text[at..at + 2].parse::<u8>().expect("digits");
        let (year, month, day) = (two(0), two(2), two(4));
        if !(1..=12).contains(&month) {
            return Err(bad("month not 01 to 12"));
        }
        if !(1..=31).contains(&day) {
            return Err(bad("day not 01 to 31"));
        }
        Ok(Expiry { year, month, day })
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}{:02}{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Expiry {
    type Err = StreamNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expiry::new(s)
    }
}

/// An option contract, held uppercase: `<base>-<YYMMDD>-<strike>-<C|P>`
/// (`BTC-251226-110000-C`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionSymbol {
    text: String,
    expiry: Expiry,
    kind: OptionKind,
}

impl OptionSymbol {
    /// Validate and normalise a symbol in any case.
    pub fn new(symbol: &str) -> Result<OptionSymbol, StreamNameError> {
        let bad = |why: String| {
            StreamNameError::invalid(
                symbol,
                format!("{why}; an option symbol is <base>-<YYMMDD>-<strike>-<C|P> (`BTC-251226-110000-C`)"),
            )
        };
        let upper = symbol.to_ascii_uppercase();
        let parts: Vec<&str> = upper.split('-').collect();
        let [base, expiry, strike, kind] = parts[..] else {
            return Err(bad(format!("{} `-`-separated parts, not 4", parts.len())));
        };
        Symbol::new(base).map_err(|_| bad(format!("base `{base}` is not letters and digits")))?;
        let expiry = Expiry::new(expiry).map_err(|e| bad(e.to_string()))?;
        let strike_ok = !strike.is_empty()
            && strike.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && strike.bytes().filter(|&b| b == b'.').count() <= 1
            && !strike.starts_with('.')
            && !strike.ends_with('.');
        if !strike_ok {
            return Err(bad(format!("strike `{strike}` is not a decimal number")));
        }
        let kind = match kind {
            "C" => OptionKind::Call,
            "P" => OptionKind::Put,
            other => return Err(bad(format!("`{other}` is neither C (call) nor P (put)"))),
        };
        Ok(OptionSymbol {
            text: upper,
            expiry,
            kind,
        })
    }

    /// The uppercase form used in payloads and REST.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The lowercase form used in stream names.
    pub fn to_lowercase(&self) -> String {
        self.text.to_ascii_lowercase()
    }

    /// The base asset (`BTC`).
    pub fn base(&self) -> &str {
        self.text.split('-').next().expect("validated")
    }

    /// The strike as written (`110000`).
    pub fn strike(&self) -> &str {
        self.text.split('-').nth(2).expect("validated")
    }

    /// The expiry date.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// Call or put.
    pub fn kind(&self) -> OptionKind {
        self.kind
    }
}

impl fmt::Debug for OptionSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for OptionSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for OptionSymbol {
    type Err = StreamNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OptionSymbol::new(s)
    }
}

/// How often an options depth stream pushes (§7: 100 or 500 ms; the
/// name always carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum OptionsDepthSpeed {
    /// `@100ms`.
    #[default]
    Ms100,
    /// `@500ms`.
    Ms500,
}

impl OptionsDepthSpeed {
    /// The interval in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            OptionsDepthSpeed::Ms100 => 100,
            OptionsDepthSpeed::Ms500 => 500,
        }
    }

    const fn suffix(self) -> &'static str {
        match self {
            OptionsDepthSpeed::Ms100 => "@100ms",
            OptionsDepthSpeed::Ms500 => "@500ms",
        }
    }
}

/// An options market stream, as named on `/ws/<name>` or
/// `/stream?streams=…` (reference §7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OptionsStream {
    /// `<symbol>@optionTicker`: one option's 24 h ticker.
    Ticker(OptionSymbol),
    /// `<underlying>@optionTicker@<YYMMDD>`: the tickers of every option of
    /// an underlying expiring that day.
    TickerByExpiry {
        /// The underlying index (`btcusdt`).
        underlying: Symbol,
        /// The expiry.
        expiry: Expiry,
    },
    /// `<symbol>@optionTrade`: one option's trades.
    Trade(OptionSymbol),
    /// `<underlying>@optionTrade`: the trades of every option of an
    /// underlying.
    UnderlyingTrades(Symbol),
    /// `<symbol>@bookTicker`.
    BookTicker(OptionSymbol),
    /// `<symbol>@depth<5|10|20>@<100ms|500ms>`: the top of the book.
    PartialDepth {
        /// The option.
        symbol: OptionSymbol,
        /// Levels a side.
        levels: DepthLevels,
        /// Push interval.
        speed: OptionsDepthSpeed,
    },
    /// `<symbol>@depth@<100ms|500ms>`: the diff stream (with `pu`).
    Depth {
        /// The option.
        symbol: OptionSymbol,
        /// Push interval.
        speed: OptionsDepthSpeed,
    },
    /// `<underlying>@optionMarkPrice`: mark prices and greeks of every
    /// option of an underlying, in an array.
    MarkPrice(Symbol),
    /// `!index@arr`: every underlying's index price, in an array.
    AllIndexPrices,
    /// `<symbol>@kline_<interval>`.
    Kline {
        /// The option.
        symbol: OptionSymbol,
        /// Candle length.
        interval: KlineInterval,
    },
    /// `<underlying>@optionOpenInterest@<YYMMDD>`: open interest of every
    /// option of an underlying expiring that day, in an array.
    OpenInterest {
        /// The underlying index (`ethusdt`).
        underlying: Symbol,
        /// The expiry.
        expiry: Expiry,
    },
    /// `!optionSymbol`: newly listed options.
    NewSymbols,
}

impl OptionsStream {
    /// The routed path this stream is served on (§7): tickers, trades and
    /// book data on `/public`; mark prices, index prices, klines, open
    /// interest and new symbols on `/market`.
    pub fn route(&self) -> Route {
        match self {
            OptionsStream::Ticker(_)
            | OptionsStream::TickerByExpiry { .. }
            | OptionsStream::Trade(_)
            | OptionsStream::UnderlyingTrades(_)
            | OptionsStream::BookTicker(_)
            | OptionsStream::PartialDepth { .. }
            | OptionsStream::Depth { .. } => Route::Public,
            OptionsStream::MarkPrice(_)
            | OptionsStream::AllIndexPrices
            | OptionsStream::Kline { .. }
            | OptionsStream::OpenInterest { .. }
            | OptionsStream::NewSymbols => Route::Market,
        }
    }

    /// The base URL to open for this stream (`wss://fstream.binance.com/public`
    /// or `…/market`); append `/ws/<name>` or `/stream?streams=…`.
    pub fn base_url(&self, network: Network) -> String {
        Venue::Options.base_url(network, Some(self.route()))
    }
}

/// Options candles: python-binance's list from Binance's docs (no `1s`,
/// `8h` or `1M`).
fn options_interval(interval: KlineInterval) -> bool {
    !matches!(
        interval,
        KlineInterval::S1 | KlineInterval::H8 | KlineInterval::Mo1
    )
}

impl fmt::Display for OptionsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OptionsStream as S;
        match self {
            S::Ticker(s) => write!(f, "{}@optionTicker", s.to_lowercase()),
            S::TickerByExpiry { underlying, expiry } => {
                write!(f, "{}@optionTicker@{expiry}", underlying.to_lowercase())
            }
            S::Trade(s) => write!(f, "{}@optionTrade", s.to_lowercase()),
            S::UnderlyingTrades(u) => write!(f, "{}@optionTrade", u.to_lowercase()),
            S::BookTicker(s) => write!(f, "{}@bookTicker", s.to_lowercase()),
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
            S::MarkPrice(u) => write!(f, "{}@optionMarkPrice", u.to_lowercase()),
            S::AllIndexPrices => f.write_str("!index@arr"),
            S::Kline { symbol, interval } => {
                write!(f, "{}@kline_{interval}", symbol.to_lowercase())
            }
            S::OpenInterest { underlying, expiry } => write!(
                f,
                "{}@optionOpenInterest@{expiry}",
                underlying.to_lowercase()
            ),
            S::NewSymbols => f.write_str("!optionSymbol"),
        }
    }
}

impl FromStr for OptionsStream {
    type Err = StreamNameError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        use OptionsStream as S;
        let bad = |reason: String| invalid(input, reason);
        // A part's error (symbol, interval, …) reported against the whole name.
        let part = |e: StreamNameError| match e {
            StreamNameError::Invalid { input: p, reason } => bad(format!("`{p}`: {reason}")),
            other => other,
        };
        match input {
            "!index@arr" => return Ok(S::AllIndexPrices),
            "!optionSymbol" => return Ok(S::NewSymbols),
            _ if input.starts_with('!') => {
                return Err(bad(
                    "unknown all-market stream; options have !index@arr and !optionSymbol".into(),
                ))
            }
            _ => {}
        }
        let (target, kind) = input
            .split_once('@')
            .ok_or_else(|| bad("no `@` between the symbol and the stream type".into()))?;
        let (base, suffix) = match kind.split_once('@') {
            Some((base, suffix)) => (base, Some(suffix)),
            None => (kind, None),
        };
        let option = || OptionSymbol::new(target).map_err(part);
        let underlying = || Symbol::new(target).map_err(part);
        let is_option = target.contains('-');
        let no_suffix = |stream: OptionsStream| match suffix {
            None => Ok(stream),
            Some(s) => Err(bad(format!("unexpected suffix `@{s}`"))),
        };
        let expiry = || match suffix {
            Some(s) => Expiry::new(s).map_err(part),
            None => Err(bad(format!(
                "`{base}` on an underlying needs an expiry: `<underlying>@{base}@<YYMMDD>`"
            ))),
        };
        let speed = || match suffix {
            Some("100ms") => Ok(OptionsDepthSpeed::Ms100),
            Some("500ms") => Ok(OptionsDepthSpeed::Ms500),
            Some(other) => Err(bad(format!(
                "unknown depth speed `@{other}`; valid: @100ms or @500ms"
            ))),
            None => Err(bad(
                "an options depth stream names its speed: @100ms or @500ms".into(),
            )),
        };
        match base {
            "optionTicker" if is_option => no_suffix(S::Ticker(option()?)),
            "optionTicker" => Ok(S::TickerByExpiry {
                underlying: underlying()?,
                expiry: expiry()?,
            }),
            "optionTrade" if is_option => no_suffix(S::Trade(option()?)),
            "optionTrade" => no_suffix(S::UnderlyingTrades(underlying()?)),
            "bookTicker" => no_suffix(S::BookTicker(option()?)),
            "optionMarkPrice" => no_suffix(S::MarkPrice(underlying()?)),
            "optionOpenInterest" => Ok(S::OpenInterest {
                underlying: underlying()?,
                expiry: expiry()?,
            }),
            "depth" => Ok(S::Depth {
                symbol: option()?,
                speed: speed()?,
            }),
            _ => {
                if let Some(i) = base.strip_prefix("kline_") {
                    let interval: KlineInterval = i.parse().map_err(part)?;
                    if !options_interval(interval) {
                        return Err(bad(format!(
                            "options have no `{interval}` candles; valid: 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w"
                        )));
                    }
                    no_suffix(S::Kline {
                        symbol: option()?,
                        interval,
                    })
                } else if let Some(levels) = base.strip_prefix("depth") {
                    Ok(S::PartialDepth {
                        symbol: option()?,
                        levels: levels.parse().map_err(part)?,
                        speed: speed()?,
                    })
                } else {
                    Err(bad(format!("unknown stream type `{base}`")))
                }
            }
        }
    }
}

serde_as_text!(OptionsStream);

#[cfg(test)]
mod tests {
    use super::*;

    /// One name per kind (and per suffix), §7, with its route.
    const NAMES: &[(&str, Route)] = &[
        ("btc-251226-110000-c@optionTicker", Route::Public),
        ("btcusdt@optionTicker@251226", Route::Public),
        ("btc-251226-110000-c@optionTrade", Route::Public),
        ("btcusdt@optionTrade", Route::Public),
        ("btc-251226-110000-c@bookTicker", Route::Public),
        ("btc-251226-110000-c@depth5@100ms", Route::Public),
        ("btc-251226-110000-c@depth20@500ms", Route::Public),
        ("btc-251226-110000-c@depth@100ms", Route::Public),
        ("eth-251226-3000-p@depth@500ms", Route::Public),
        ("btcusdt@optionMarkPrice", Route::Market),
        ("!index@arr", Route::Market),
        ("btc-200630-9000-p@kline_1m", Route::Market),
        ("btc-200630-9000-p@kline_1w", Route::Market),
        ("ethusdt@optionOpenInterest@221125", Route::Market),
        ("!optionSymbol", Route::Market),
        ("doge-251226-0.15-c@optionTicker", Route::Public),
    ];

    #[test]
    fn every_kind_round_trips_with_its_route() {
        for (name, route) in NAMES {
            let parsed: OptionsStream = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.to_string(), *name);
            assert_eq!(parsed.route(), *route, "{name}");
            assert_eq!(
                parsed.base_url(Network::Production),
                format!("wss://fstream.binance.com{}", route.path())
            );
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(
                serde_json::from_str::<OptionsStream>(&json).unwrap(),
                parsed
            );
        }
    }

    #[test]
    fn symbols_are_case_insensitive_and_split() {
        let s: OptionsStream = "BTC-251226-110000-C@optionTrade".parse().unwrap();
        assert_eq!(s.to_string(), "btc-251226-110000-c@optionTrade");
        let OptionsStream::Trade(symbol) = s else {
            panic!("{s:?}")
        };
        assert_eq!(symbol.as_str(), "BTC-251226-110000-C");
        assert_eq!(symbol.base(), "BTC");
        assert_eq!(symbol.strike(), "110000");
        assert_eq!(symbol.kind(), OptionKind::Call);
        assert_eq!(
            symbol.expiry(),
            Expiry {
                year: 25,
                month: 12,
                day: 26
            }
        );
    }

    #[test]
    fn bad_names_name_the_input_and_the_valid_forms() {
        for bad in [
            "btc-251226-110000-c@depth",
            "btc-251226-110000-c@depth@250ms",
            "btc-251226-110000-c@depth7@100ms",
            "btc-251226-110000-c@kline_1s",
            "btc-251226-110000-c@kline_8h",
            "btc-251226-110000-x@optionTicker",
            "btc-251326-110000-c@optionTicker",
            "btc-2512-110000-c@optionTicker",
            "btc-251226-11a0-c@optionTicker",
            "btc-251226-c@optionTicker",
            "btcusdt@optionTicker",
            "btcusdt@optionTicker@2512",
            "btcusdt@optionOpenInterest",
            "btcusdt@bookTicker",
            "btcusdt@depth@100ms",
            "btc-251226-110000-c@optionMarkPrice",
            "btc-251226-110000-c@optionTrade@100ms",
            "btcusdt@aggTrade",
            "btcusdt",
            "!bookTicker",
            "!index",
        ] {
            let err = bad.parse::<OptionsStream>().unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{bad}`")),
                "{bad}: error does not name it: {text}"
            );
            assert!(text.contains("valid forms"), "{bad}: {text}");
            assert!(text.contains("optionMarkPrice"), "{bad}: {text}");
            assert!(
                matches!(err, StreamNameError::InvalidOptions { .. }),
                "{bad}: {err:?}"
            );
        }
    }
}
