//! Typed stream names for every spot market stream.
//!
//! A [`StreamName`] renders to Binance's exact spelling (`bnbbtc@depth5@100ms`)
//! and parses back from it. Symbols are case-insensitive on the way in
//! (`BNBBTC` and `bnbbtc` are the same symbol) and lowercase on the way out.

use std::fmt;
use std::str::FromStr;

/// Every form a spot stream name can take, for error messages.
pub const VALID_FORMS: &str = "<symbol>@trade, <symbol>@aggTrade, <symbol>@blockTrade, \
<symbol>@referencePrice, <symbol>@kline_<interval>[@+08:00] (interval: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M), \
<symbol>@depth[@100ms], <symbol>@depth<5|10|20>[@100ms], <symbol>@miniTicker, !miniTicker@arr, \
<symbol>@ticker, <symbol>@ticker_<1h|4h|1d>, !ticker_<1h|4h|1d>@arr, <symbol>@bookTicker, <symbol>@avgPrice";

/// A trading pair, held in Binance's uppercase form (`BNBBTC`).
///
/// Symbols may contain non-ASCII letters (Binance lists some); anything that
/// is not a letter or a digit is refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(String);

impl Symbol {
    /// Validate and normalise a symbol in any case.
    ///
    /// Both case forms must be letters and digits, and each must give back
    /// the same symbol, so that a stream name (lowercase) parses to the
    /// symbol it was made from: `ΐ`, whose uppercase is `Ι` and two
    /// combining marks, is refused.
    pub fn new(symbol: &str) -> Result<Symbol, StreamNameError> {
        if symbol.is_empty() {
            return Err(StreamNameError::invalid(symbol, "the symbol is empty"));
        }
        if let Some(bad) = symbol.chars().find(|c| !c.is_alphanumeric()) {
            return Err(StreamNameError::invalid(
                symbol,
                format!("the symbol contains {bad:?}; symbols are letters and digits only"),
            ));
        }
        let upper = symbol.to_uppercase();
        let lower = upper.to_lowercase();
        if let Some(bad) = upper
            .chars()
            .chain(lower.chars())
            .find(|c| !c.is_alphanumeric())
        {
            return Err(StreamNameError::invalid(
                symbol,
                format!(
                    "the symbol's case forms contain {bad:?}; symbols are letters and digits only"
                ),
            ));
        }
        if upper.to_uppercase() != upper || lower.to_uppercase() != upper {
            return Err(StreamNameError::invalid(
                symbol,
                "the symbol's uppercase and lowercase forms do not map to each other",
            ));
        }
        Ok(Symbol(upper))
    }

    /// The uppercase form used in payloads and REST (`BNBBTC`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase form used in stream names (`bnbbtc`).
    pub fn to_lowercase(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = StreamNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in Binance's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Binance's spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl FromStr for $name {
            type Err = StreamNameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => {
                        let valid: Vec<&str> = vec![$($wire),+];
                        Err(StreamNameError::invalid(s, format!("unknown {}; valid: {}", $what, valid.join(" "))))
                    }
                }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// A kline (candlestick) interval.
    KlineInterval, "kline interval" {
        /// 1 second.
        S1 = "1s",
        /// 1 minute (python-binance's default).
        M1 = "1m",
        /// 3 minutes.
        M3 = "3m",
        /// 5 minutes.
        M5 = "5m",
        /// 15 minutes.
        M15 = "15m",
        /// 30 minutes.
        M30 = "30m",
        /// 1 hour.
        H1 = "1h",
        /// 2 hours.
        H2 = "2h",
        /// 4 hours.
        H4 = "4h",
        /// 6 hours.
        H6 = "6h",
        /// 8 hours.
        H8 = "8h",
        /// 12 hours.
        H12 = "12h",
        /// 1 day.
        D1 = "1d",
        /// 3 days.
        D3 = "3d",
        /// 1 week.
        W1 = "1w",
        /// 1 month.
        Mo1 = "1M",
    }
}

impl KlineInterval {
    /// The interval's length in milliseconds (a month counts as 30 days; real
    /// monthly candles follow the calendar).
    pub const fn millis(self) -> u64 {
        const M: u64 = 60_000;
        match self {
            KlineInterval::S1 => 1_000,
            KlineInterval::M1 => M,
            KlineInterval::M3 => 3 * M,
            KlineInterval::M5 => 5 * M,
            KlineInterval::M15 => 15 * M,
            KlineInterval::M30 => 30 * M,
            KlineInterval::H1 => 60 * M,
            KlineInterval::H2 => 120 * M,
            KlineInterval::H4 => 240 * M,
            KlineInterval::H6 => 360 * M,
            KlineInterval::H8 => 480 * M,
            KlineInterval::H12 => 720 * M,
            KlineInterval::D1 => 1_440 * M,
            KlineInterval::D3 => 3 * 1_440 * M,
            KlineInterval::W1 => 7 * 1_440 * M,
            KlineInterval::Mo1 => 30 * 1_440 * M,
        }
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro shared with enums that have no default
impl Default for KlineInterval {
    fn default() -> Self {
        KlineInterval::M1
    }
}

wire_enum! {
    /// The window of a rolling-window ticker.
    RollingWindow, "rolling window" {
        /// One hour (`ticker_1h`, event `1hTicker`).
        H1 = "1h",
        /// Four hours (`ticker_4h`, event `4hTicker`).
        H4 = "4h",
        /// One day (`ticker_1d`, event `1dTicker`).
        D1 = "1d",
    }
}

impl RollingWindow {
    /// The event type Binance sends for this window (`1hTicker`).
    pub const fn event_type(self) -> &'static str {
        match self {
            RollingWindow::H1 => "1hTicker",
            RollingWindow::H4 => "4hTicker",
            RollingWindow::D1 => "1dTicker",
        }
    }

    /// The window's length in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            RollingWindow::H1 => 3_600_000,
            RollingWindow::H4 => 4 * 3_600_000,
            RollingWindow::D1 => 24 * 3_600_000,
        }
    }
}

wire_enum! {
    /// How many levels a side a partial-depth stream carries.
    DepthLevels, "depth level count" {
        /// Top 5.
        L5 = "5",
        /// Top 10.
        L10 = "10",
        /// Top 20.
        L20 = "20",
    }
}

impl DepthLevels {
    /// The number of levels.
    pub const fn count(self) -> usize {
        match self {
            DepthLevels::L5 => 5,
            DepthLevels::L10 => 10,
            DepthLevels::L20 => 20,
        }
    }
}

/// How often a depth stream pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum UpdateSpeed {
    /// Every 1000 ms (no suffix in the name).
    #[default]
    Ms1000,
    /// Every 100 ms (`@100ms`).
    Ms100,
}

impl UpdateSpeed {
    /// The interval in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            UpdateSpeed::Ms1000 => 1_000,
            UpdateSpeed::Ms100 => 100,
        }
    }
}

/// The time zone kline candles are aligned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum KlineTimezone {
    /// UTC (no suffix).
    #[default]
    Utc,
    /// UTC+8 (`@+08:00`); timestamps stay UTC epoch times.
    Utc8,
}

/// A spot market stream, as named on `/ws/<name>` or `/stream?streams=…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StreamName {
    /// `<symbol>@trade`.
    Trade(Symbol),
    /// `<symbol>@aggTrade`.
    AggTrade(Symbol),
    /// `<symbol>@blockTrade`.
    BlockTrade(Symbol),
    /// `<symbol>@referencePrice`.
    ReferencePrice(Symbol),
    /// `<symbol>@kline_<interval>[@+08:00]`.
    Kline {
        /// The pair.
        symbol: Symbol,
        /// Candle length.
        interval: KlineInterval,
        /// Candle alignment.
        timezone: KlineTimezone,
    },
    /// `<symbol>@depth[@100ms]`: the diff stream.
    Depth {
        /// The pair.
        symbol: Symbol,
        /// Push interval.
        speed: UpdateSpeed,
    },
    /// `<symbol>@depth<5|10|20>[@100ms]`: top-of-book snapshots.
    PartialDepth {
        /// The pair.
        symbol: Symbol,
        /// Levels a side.
        levels: DepthLevels,
        /// Push interval.
        speed: UpdateSpeed,
    },
    /// `<symbol>@miniTicker`.
    MiniTicker(Symbol),
    /// `!miniTicker@arr`.
    AllMiniTickers,
    /// `<symbol>@ticker`.
    Ticker(Symbol),
    /// `<symbol>@ticker_<window>`.
    RollingTicker {
        /// The pair.
        symbol: Symbol,
        /// The window.
        window: RollingWindow,
    },
    /// `!ticker_<window>@arr`.
    AllRollingTickers(RollingWindow),
    /// `<symbol>@bookTicker`.
    BookTicker(Symbol),
    /// `<symbol>@avgPrice`.
    AvgPrice(Symbol),
}

impl StreamName {
    /// How often Binance pushes this stream whatever the market does (its
    /// documented update speed); `None` for streams that push on events
    /// (trades, book changes), which can be quiet for minutes on an
    /// illiquid symbol.
    pub fn cadence(&self) -> Option<std::time::Duration> {
        let ms = match self {
            StreamName::Kline { interval, .. } if *interval == KlineInterval::S1 => 1_000,
            StreamName::Kline { .. } => 2_000,
            StreamName::PartialDepth { speed, .. } => speed.millis(),
            StreamName::ReferencePrice(_)
            | StreamName::MiniTicker(_)
            | StreamName::AllMiniTickers
            | StreamName::Ticker(_)
            | StreamName::RollingTicker { .. }
            | StreamName::AllRollingTickers(_)
            | StreamName::AvgPrice(_) => 1_000,
            StreamName::Trade(_)
            | StreamName::AggTrade(_)
            | StreamName::BlockTrade(_)
            | StreamName::Depth { .. }
            | StreamName::BookTicker(_) => return None,
        };
        Some(std::time::Duration::from_millis(ms))
    }

    /// The symbol of a per-symbol stream; `None` for all-market streams.
    pub fn symbol(&self) -> Option<&Symbol> {
        match self {
            StreamName::Trade(s)
            | StreamName::AggTrade(s)
            | StreamName::BlockTrade(s)
            | StreamName::ReferencePrice(s)
            | StreamName::MiniTicker(s)
            | StreamName::Ticker(s)
            | StreamName::BookTicker(s)
            | StreamName::AvgPrice(s) => Some(s),
            StreamName::Kline { symbol, .. }
            | StreamName::Depth { symbol, .. }
            | StreamName::PartialDepth { symbol, .. }
            | StreamName::RollingTicker { symbol, .. } => Some(symbol),
            StreamName::AllMiniTickers | StreamName::AllRollingTickers(_) => None,
        }
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let speed = |s: &UpdateSpeed| match s {
            UpdateSpeed::Ms1000 => "",
            UpdateSpeed::Ms100 => "@100ms",
        };
        match self {
            StreamName::AllMiniTickers => f.write_str("!miniTicker@arr"),
            StreamName::AllRollingTickers(w) => write!(f, "!ticker_{w}@arr"),
            other => {
                let symbol = other.symbol().map(Symbol::to_lowercase).unwrap_or_default();
                f.write_str(&symbol)?;
                match other {
                    StreamName::Trade(_) => f.write_str("@trade"),
                    StreamName::AggTrade(_) => f.write_str("@aggTrade"),
                    StreamName::BlockTrade(_) => f.write_str("@blockTrade"),
                    StreamName::ReferencePrice(_) => f.write_str("@referencePrice"),
                    StreamName::Kline {
                        interval, timezone, ..
                    } => {
                        write!(f, "@kline_{interval}")?;
                        match timezone {
                            KlineTimezone::Utc => Ok(()),
                            KlineTimezone::Utc8 => f.write_str("@+08:00"),
                        }
                    }
                    StreamName::Depth { speed: s, .. } => write!(f, "@depth{}", speed(s)),
                    StreamName::PartialDepth {
                        levels, speed: s, ..
                    } => write!(f, "@depth{levels}{}", speed(s)),
                    StreamName::MiniTicker(_) => f.write_str("@miniTicker"),
                    StreamName::Ticker(_) => f.write_str("@ticker"),
                    StreamName::RollingTicker { window, .. } => write!(f, "@ticker_{window}"),
                    StreamName::BookTicker(_) => f.write_str("@bookTicker"),
                    StreamName::AvgPrice(_) => f.write_str("@avgPrice"),
                    StreamName::AllMiniTickers | StreamName::AllRollingTickers(_) => Ok(()),
                }
            }
        }
    }
}

impl FromStr for StreamName {
    type Err = StreamNameError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let wrap = |e: StreamNameError| e.with_input(input);
        if let Some(all) = input.strip_prefix('!') {
            return match all {
                "ticker@arr" => Err(StreamNameError::Retired {
                    name: input.to_owned(),
                    retired: "2026-03-26",
                    replacement: "<symbol>@ticker for each symbol, or !miniTicker@arr",
                }),
                "bookTicker" => Err(StreamNameError::Retired {
                    name: input.to_owned(),
                    retired: "2022-12-07",
                    replacement: "<symbol>@bookTicker for each symbol",
                }),
                "miniTicker@arr" => Ok(StreamName::AllMiniTickers),
                _ => {
                    let window = all
                        .strip_prefix("ticker_")
                        .and_then(|w| w.strip_suffix("@arr"))
                        .ok_or_else(|| {
                            StreamNameError::invalid(input, "unknown all-market stream")
                        })?;
                    Ok(StreamName::AllRollingTickers(window.parse().map_err(wrap)?))
                }
            };
        }
        let (symbol, kind) = input.split_once('@').ok_or_else(|| {
            StreamNameError::invalid(input, "no `@` between the symbol and the stream type")
        })?;
        let symbol = Symbol::new(symbol).map_err(wrap)?;
        let (base, suffix) = match kind.split_once('@') {
            Some((base, suffix)) => (base, Some(suffix)),
            None => (kind, None),
        };
        let speed = |suffix: Option<&str>| match suffix {
            None => Ok(UpdateSpeed::Ms1000),
            Some("100ms") => Ok(UpdateSpeed::Ms100),
            Some(other) => Err(StreamNameError::invalid(
                input,
                format!("unknown depth speed `@{other}`; valid: none (1000 ms) or @100ms"),
            )),
        };
        let no_suffix = |name: StreamName| match suffix {
            None => Ok(name),
            Some(s) => Err(StreamNameError::invalid(
                input,
                format!("unexpected suffix `@{s}`"),
            )),
        };
        match base {
            "trade" => no_suffix(StreamName::Trade(symbol)),
            "aggTrade" => no_suffix(StreamName::AggTrade(symbol)),
            "blockTrade" => no_suffix(StreamName::BlockTrade(symbol)),
            "referencePrice" => no_suffix(StreamName::ReferencePrice(symbol)),
            "miniTicker" => no_suffix(StreamName::MiniTicker(symbol)),
            "ticker" => no_suffix(StreamName::Ticker(symbol)),
            "bookTicker" => no_suffix(StreamName::BookTicker(symbol)),
            "avgPrice" => no_suffix(StreamName::AvgPrice(symbol)),
            "depth" => Ok(StreamName::Depth {
                symbol,
                speed: speed(suffix)?,
            }),
            _ => {
                if let Some(levels) = base.strip_prefix("depth") {
                    let levels = levels.parse().map_err(wrap)?;
                    Ok(StreamName::PartialDepth {
                        symbol,
                        levels,
                        speed: speed(suffix)?,
                    })
                } else if let Some(interval) = base.strip_prefix("kline_") {
                    let timezone = match suffix {
                        None => KlineTimezone::Utc,
                        Some("+08:00") => KlineTimezone::Utc8,
                        Some(other) => {
                            return Err(StreamNameError::invalid(
                                input,
                                format!("unknown kline time zone `@{other}`; valid: @+08:00"),
                            ))
                        }
                    };
                    Ok(StreamName::Kline {
                        symbol,
                        interval: interval.parse().map_err(wrap)?,
                        timezone,
                    })
                } else if let Some(window) = base.strip_prefix("ticker_") {
                    no_suffix(StreamName::RollingTicker {
                        symbol,
                        window: window.parse().map_err(wrap)?,
                    })
                } else {
                    Err(StreamNameError::invalid(
                        input,
                        format!("unknown stream type `{base}`"),
                    ))
                }
            }
        }
    }
}

/// Serde as the name's text: written with `Display`, read with `FromStr`
/// (its error as the serde error).
macro_rules! serde_as_text {
    ($name:ty) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

serde_as_text!(StreamName);

/// Why a stream name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamNameError {
    /// Binance used to offer this stream and switched it off.
    #[error("stream `{name}` was retired by Binance on {retired}; use {replacement} instead")]
    Retired {
        /// The name given.
        name: String,
        /// When Binance retired it (ISO date).
        retired: &'static str,
        /// What to use instead.
        replacement: &'static str,
    },
    /// Not a stream name Binance knows.
    #[error("invalid stream name `{input}`: {reason}; valid forms: {VALID_FORMS}")]
    Invalid {
        /// The name (or the part of it) given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a futures (USD-M or COIN-M) stream name Binance knows (see
    /// `binance_types::futures::stream`).
    #[error("invalid futures stream name `{input}`: {reason}; valid forms: {valid_forms}")]
    InvalidFutures {
        /// The name given.
        input: String,
        /// What is wrong with it.
        reason: String,
        /// Every form a futures stream name can take.
        valid_forms: &'static str,
    },
    /// Not an options stream name Binance knows (see
    /// `binance_types::options::stream`).
    #[error("invalid options stream name `{input}`: {reason}; valid forms: {valid_forms}")]
    InvalidOptions {
        /// The name given.
        input: String,
        /// What is wrong with it.
        reason: String,
        /// Every form an options stream name can take.
        valid_forms: &'static str,
    },
}

impl StreamNameError {
    pub(crate) fn invalid(input: &str, reason: impl Into<String>) -> Self {
        StreamNameError::Invalid {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// Report the whole name, keeping the reason a part of it gave.
    fn with_input(self, whole: &str) -> Self {
        match self {
            StreamNameError::Invalid { input, reason } if input != whole => {
                StreamNameError::Invalid {
                    input: whole.to_owned(),
                    reason: format!("`{input}`: {reason}"),
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_binance_names() {
        let cases = [
            "bnbbtc@trade",
            "bnbbtc@aggTrade",
            "bnbbtc@blockTrade",
            "bnbbtc@referencePrice",
            "bnbbtc@kline_1M",
            "bnbbtc@kline_1s@+08:00",
            "bnbbtc@depth",
            "bnbbtc@depth@100ms",
            "bnbbtc@depth20@100ms",
            "bnbbtc@depth5",
            "bnbbtc@miniTicker",
            "!miniTicker@arr",
            "bnbbtc@ticker",
            "bnbbtc@ticker_4h",
            "!ticker_1d@arr",
            "bnbbtc@bookTicker",
            "bnbbtc@avgPrice",
        ];
        for name in cases {
            let parsed: StreamName = name.parse().unwrap();
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn symbols_are_case_insensitive() {
        let a: StreamName = "BNBBTC@trade".parse().unwrap();
        let b: StreamName = "bnbbtc@trade".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "bnbbtc@trade");
        assert_eq!(a.symbol().unwrap().as_str(), "BNBBTC");
    }

    #[test]
    fn retired_streams_say_when_and_what_instead() {
        let err = "!ticker@arr".parse::<StreamName>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("2026-03-26"), "{text}");
        assert!(text.contains("!miniTicker@arr"), "{text}");
        let err = "!bookTicker".parse::<StreamName>().unwrap_err();
        assert!(err.to_string().contains("<symbol>@bookTicker"), "{err}");
    }

    #[test]
    fn bad_names_name_the_input_and_the_valid_forms() {
        for bad in [
            "btcusdt@kline_7m",
            "btcusdt@depth7",
            "@trade",
            "btc-usdt@trade",
            "btcusdt@trades",
            "btcusdt",
            "btcusdt@depth@250ms",
            "btcusdt@trade@100ms",
            "!nope",
        ] {
            let err = bad.parse::<StreamName>().unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{bad}`")),
                "{bad}: error does not name it: {text}"
            );
            assert!(text.contains("valid forms"), "{bad}: {text}");
            assert!(matches!(err, StreamNameError::Invalid { .. }));
        }
        let text = "btcusdt@kline_7m"
            .parse::<StreamName>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("1s 1m 3m"), "{text}");
    }

    #[test]
    fn symbols_whose_case_forms_are_not_letters_are_refused() {
        // Found by fuzz/stream_name: "ΐ" is a letter, its uppercase is "Ι" and
        // two combining marks, so "ΐ@trade" rendered a name that did not parse.
        for bad in ["ΐ", "ΐ@trade", "İ", "btcİ@trade"] {
            let err = if bad.contains('@') {
                bad.parse::<StreamName>().unwrap_err()
            } else {
                Symbol::new(bad).unwrap_err()
            };
            assert!(matches!(err, StreamNameError::Invalid { .. }), "{bad}");
        }
        // Case mappings that do round-trip stay accepted.
        for good in ["ß", "Straße", "ǅ", "ΑΣ"] {
            let symbol = Symbol::new(good).unwrap();
            assert_eq!(
                Symbol::new(&symbol.to_lowercase()).unwrap(),
                symbol,
                "{good}"
            );
            let name: StreamName = format!("{good}@trade").parse().unwrap();
            assert_eq!(name.to_string().parse::<StreamName>().unwrap(), name);
        }
    }

    #[test]
    fn non_ascii_symbols_are_letters() {
        let s: StreamName = "币安人生usdt@trade".parse().unwrap();
        assert_eq!(s.symbol().unwrap().as_str(), "币安人生USDT");
        assert_eq!(s.to_string(), "币安人生usdt@trade");
    }
}
