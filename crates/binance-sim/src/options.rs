//! The European options market (reference §7): one [`Engine`] per option
//! symbol (`BTC-261225-90000-C`), driven on a clock like the futures
//! contracts, and the option streams made from it, written as Binance's
//! options system writes them (`shared/vectors/options/*.json`).
//!
//! Book data shares the futures machinery: a diff depth's `U`/`u` tile the
//! engine's update ids and its `pu` is the `u` of the stream's previous
//! event ([`DepthFeed`]), so the §5.4 procedure with `/eapi/v1/depth`
//! syncs exactly. Trades, tickers and klines come from the engine's fills;
//! each underlying has an index price that walks a little every second, and
//! the mark price, implied volatilities and greeks of `@optionMarkPrice` are
//! simple closed-form approximations from the book and the index (exact
//! decimals, no floating point): plausible numbers in Binance's format, not
//! a pricing model.
//!
//! Stream names are parsed in any case and published under one canonical
//! spelling ([`OptionStream`]'s `Display`: option symbols and underlyings
//! upper case, as Binance's options pages write them); the connection
//! writes back the spelling its subscriber used.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use binance_types::futures::market::{BookTicker, DepthUpdate};
use binance_types::stream::{KlineInterval, KlineTimezone};
use binance_types::venue::{Route, Venue};
use binance_types::{Level, Millis, Time};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::clock::now_ms;
use crate::engine::{BookSnapshot, Engine, Fill, FlowConfig, LevelChange, SymbolSpec};
use crate::futures::{DepthFeed, Diff};
use crate::futures_wire::{self, Format};
use crate::hub::Hub;
use crate::market::drive;
use crate::notation::fixed_scale;
use crate::stats::SymbolStats;

/// Calls or puts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptionSide {
    /// A call (`-C`, `CALL`).
    Call,
    /// A put (`-P`, `PUT`).
    Put,
}

impl OptionSide {
    /// `CALL` or `PUT`, as `exchangeInfo` and `optionSymbol` write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            OptionSide::Call => "CALL",
            OptionSide::Put => "PUT",
        }
    }
}

/// One option symbol and how Binance describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    /// The engine's symbol and filters: `symbol` is the option
    /// (`BTC-261225-90000-C`), `base_asset` the underlying asset (`BTC`),
    /// `quote_asset` the quote and settle asset (`USDT`).
    pub spec: SymbolSpec,
    /// The underlying index (`BTCUSDT`).
    pub underlying: String,
    /// The strike price.
    pub strike: Decimal,
    /// Call or put.
    pub side: OptionSide,
    /// Expiry (08:00 UTC of the expiry date).
    pub expiry_ms: u64,
    /// Listing time.
    pub onboard_ms: u64,
    /// The underlying's index price at start (the first option of an
    /// underlying sets it).
    pub index_price: Decimal,
}

/// Decimals of an option price in frames (`"1100.000"`).
pub const PRICE_PLACES: u32 = 3;
/// Decimals of an option quantity in frames (`"0.6000"`).
pub const QTY_PLACES: u32 = 4;

/// A day in milliseconds.
const DAY_MS: u64 = 86_400_000;

/// `YYMMDD` of a time (UTC), as option symbols and stream names write
/// expiries (`261225`).
pub fn yymmdd(ms: u64) -> String {
    let (year, month, day) = crate::stats::align::civil_from_days((ms / DAY_MS) as i64);
    format!("{:02}{month:02}{day:02}", year.rem_euclid(100))
}

impl OptionSpec {
    /// An option on `asset` (quoted in `quote`) with `strike`, expiring at
    /// `expiry_ms`, its book starting near a fair price for an index of
    /// `index`, on a price tick of `tick` and a quantity step of 0.01.
    pub fn new(
        asset: &str,
        quote: &str,
        strike: Decimal,
        side: OptionSide,
        expiry_ms: u64,
        index: Decimal,
        tick: Decimal,
    ) -> OptionSpec {
        let letter = match side {
            OptionSide::Call => 'C',
            OptionSide::Put => 'P',
        };
        let symbol = format!(
            "{asset}-{}-{}-{letter}",
            yymmdd(expiry_ms),
            strike.normalize()
        );
        let intrinsic = match side {
            OptionSide::Call => (index - strike).max(Decimal::ZERO),
            OptionSide::Put => (strike - index).max(Decimal::ZERO),
        };
        // Intrinsic value plus about 4 % of the index of time value.
        let fair = intrinsic + index * Decimal::new(4, 2);
        let initial = ((fair / tick).round() * tick).max(tick * Decimal::TEN);
        let step = Decimal::new(1, 2);
        OptionSpec {
            spec: SymbolSpec {
                symbol,
                base_asset: asset.to_owned(),
                quote_asset: quote.to_owned(),
                tick_size: tick,
                step_size: step,
                min_qty: step,
                min_price: tick,
                max_price: index * Decimal::TEN,
                initial_price: initial,
            },
            underlying: format!("{asset}{quote}"),
            strike,
            side,
            expiry_ms,
            onboard_ms: 1_569_398_400_000,
            index_price: index,
        }
    }

    /// The built-in options: BTC (strikes 85000, 90000, 95000; tick 5) and
    /// ETH (2800, 3000, 3200; tick 0.1), calls and puts, on two expiries
    /// after `now_ms`: the first Friday at least two days on, and four
    /// weeks after it (08:00 UTC, Binance's option expiry time).
    pub fn builtin(now_ms: u64) -> Vec<OptionSpec> {
        let days = now_ms / DAY_MS + 2;
        // 1970-01-01 was a Thursday: day d's weekday is (d + 4) % 7 from
        // Sunday (0), a Friday is 5.
        let friday = days + (12 - (days + 4) % 7) % 7;
        let first = friday * DAY_MS + 8 * 3_600_000;
        let expiries = [first, first + 28 * DAY_MS];
        let mut specs = Vec::new();
        for (asset, index, tick, strikes) in [
            ("BTC", 87_000, Decimal::new(5, 0), [85_000, 90_000, 95_000]),
            ("ETH", 3_000, Decimal::new(1, 1), [2_800, 3_000, 3_200]),
        ] {
            for expiry in expiries {
                for strike in strikes {
                    for side in [OptionSide::Call, OptionSide::Put] {
                        specs.push(OptionSpec::new(
                            asset,
                            "USDT",
                            Decimal::from(strike),
                            side,
                            expiry,
                            Decimal::from(index),
                            tick,
                        ));
                    }
                }
            }
        }
        specs
    }

    /// The underlying asset (`BTC`).
    pub fn asset(&self) -> &str {
        &self.spec.base_asset
    }

    /// The expiry as `YYMMDD`.
    pub fn expiry(&self) -> String {
        yymmdd(self.expiry_ms)
    }
}

/// An options stream (reference §7), parsed in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionStream {
    /// `<symbol>@optionTicker`.
    Ticker(String),
    /// `<underlying>@optionTicker@<YYMMDD>`: the tickers of an
    /// underlying's options of one expiry, in an array.
    ExpiryTicker {
        /// The underlying asset (`BTC`).
        asset: String,
        /// `YYMMDD`.
        expiry: String,
    },
    /// `<symbol>@optionTrade`.
    Trade(String),
    /// `<underlying>@optionTrade`: every trade of the underlying's options.
    UnderlyingTrade(String),
    /// `<symbol>@bookTicker`.
    BookTicker(String),
    /// `<symbol>@depth<5|10|20>@100ms|@500ms` (500 ms without a speed).
    PartialDepth {
        /// The option symbol.
        symbol: String,
        /// 5, 10 or 20.
        levels: usize,
        /// 100 or 500.
        speed_ms: u16,
    },
    /// `<symbol>@depth@100ms|@500ms` (500 ms without a speed).
    Depth {
        /// The option symbol.
        symbol: String,
        /// 100 or 500.
        speed_ms: u16,
    },
    /// `<underlying>@optionMarkPrice`: mark prices and greeks of the
    /// underlying's options, in an array.
    MarkPrice(String),
    /// `!index@arr`: every underlying's index price, in an array.
    IndexPrices,
    /// `<symbol>@kline_<interval>`.
    Kline {
        /// The option symbol.
        symbol: String,
        /// The interval (not `1s`).
        interval: KlineInterval,
    },
    /// `<underlying>@optionOpenInterest@<YYMMDD>`: open interest of the
    /// underlying's options of one expiry, in an array.
    OpenInterest {
        /// The underlying asset.
        asset: String,
        /// `YYMMDD`.
        expiry: String,
    },
    /// `!optionSymbol`: option listings.
    OptionSymbols,
}

/// The forms an options stream name takes, for error messages.
const VALID_FORMS: &str = "<symbol>@optionTicker, <underlying>@optionTicker@<YYMMDD>, \
<symbol>@optionTrade, <underlying>@optionTrade, <symbol>@bookTicker, \
<symbol>@depth<5|10|20>[@100ms|@500ms], <symbol>@depth[@100ms|@500ms], \
<underlying>@optionMarkPrice, !index@arr, <symbol>@kline_<interval>, \
<underlying>@optionOpenInterest@<YYMMDD>, !optionSymbol \
(symbol like BTC-261225-90000-C, underlying like BTC or BTCUSDT)";

impl OptionStream {
    /// Parse a stream name in any case (`btc-261225-90000-c@depth@100ms`,
    /// `BTC@optionMarkPrice`, `btcusdt@optionTicker@261225`); the error
    /// names the input and the valid forms.
    pub fn parse(name: &str) -> Result<OptionStream, String> {
        let bad = || format!("invalid options stream `{name}`; valid forms: {VALID_FORMS}");
        match name {
            "!index@arr" => return Ok(OptionStream::IndexPrices),
            "!optionSymbol" => return Ok(OptionStream::OptionSymbols),
            _ => {}
        }
        let (head, rest) = name.split_once('@').ok_or_else(bad)?;
        let head = head.to_ascii_uppercase();
        let valid_head = !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid_head {
            return Err(bad());
        }
        let option = head.contains('-');
        let asset = || {
            let asset = head.strip_suffix("USDT").unwrap_or(&head);
            (!option && !asset.is_empty())
                .then(|| asset.to_owned())
                .ok_or_else(bad)
        };
        let symbol = || option.then(|| head.clone()).ok_or_else(bad);
        let expiry = |e: &str| {
            (e.len() == 6 && e.bytes().all(|b| b.is_ascii_digit()))
                .then(|| e.to_owned())
                .ok_or_else(bad)
        };
        let speed = |s: Option<&str>| match s {
            None | Some("500ms") => Ok(500),
            Some("100ms") => Ok(100),
            Some(_) => Err(bad()),
        };
        let lower = rest.to_ascii_lowercase();
        if let Some(interval) = rest.strip_prefix("kline_") {
            let interval: KlineInterval = interval.parse().map_err(|_| bad())?;
            if interval == KlineInterval::S1 {
                return Err(bad());
            }
            return Ok(OptionStream::Kline {
                symbol: symbol()?,
                interval,
            });
        }
        let (kind, arg) = match lower.split_once('@') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (lower.as_str(), None),
        };
        Ok(match (kind, arg) {
            ("optionticker", None) => OptionStream::Ticker(symbol()?),
            ("optionticker", Some(e)) => OptionStream::ExpiryTicker {
                asset: asset()?,
                expiry: expiry(e)?,
            },
            ("optiontrade", None) if option => OptionStream::Trade(symbol()?),
            ("optiontrade", None) => OptionStream::UnderlyingTrade(asset()?),
            ("bookticker", None) => OptionStream::BookTicker(symbol()?),
            ("depth", s) => OptionStream::Depth {
                symbol: symbol()?,
                speed_ms: speed(s)?,
            },
            ("depth5" | "depth10" | "depth20", s) => OptionStream::PartialDepth {
                symbol: symbol()?,
                levels: kind["depth".len()..].parse().map_err(|_| bad())?,
                speed_ms: speed(s)?,
            },
            ("optionmarkprice", None) => OptionStream::MarkPrice(asset()?),
            ("optionopeninterest", Some(e)) => OptionStream::OpenInterest {
                asset: asset()?,
                expiry: expiry(e)?,
            },
            _ => return Err(bad()),
        })
    }

    /// The routed path that carries it (§7): book data, tickers and trades
    /// on `/public`, the rest on `/market`.
    pub fn route(&self) -> Route {
        use OptionStream as S;
        match self {
            S::Ticker(_)
            | S::ExpiryTicker { .. }
            | S::Trade(_)
            | S::UnderlyingTrade(_)
            | S::BookTicker(_)
            | S::PartialDepth { .. }
            | S::Depth { .. } => Route::Public,
            S::MarkPrice(_)
            | S::IndexPrices
            | S::Kline { .. }
            | S::OpenInterest { .. }
            | S::OptionSymbols => Route::Market,
        }
    }
}

impl fmt::Display for OptionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OptionStream as S;
        match self {
            S::Ticker(s) => write!(f, "{s}@optionTicker"),
            S::ExpiryTicker { asset, expiry } => write!(f, "{asset}@optionTicker@{expiry}"),
            S::Trade(s) | S::UnderlyingTrade(s) => write!(f, "{s}@optionTrade"),
            S::BookTicker(s) => write!(f, "{s}@bookTicker"),
            S::PartialDepth {
                symbol,
                levels,
                speed_ms,
            } => write!(f, "{symbol}@depth{levels}@{speed_ms}ms"),
            S::Depth { symbol, speed_ms } => write!(f, "{symbol}@depth@{speed_ms}ms"),
            S::MarkPrice(a) => write!(f, "{a}@optionMarkPrice"),
            S::IndexPrices => f.write_str("!index@arr"),
            S::Kline { symbol, interval } => write!(f, "{symbol}@kline_{}", interval.as_str()),
            S::OpenInterest { asset, expiry } => {
                write!(f, "{asset}@optionOpenInterest@{expiry}")
            }
            S::OptionSymbols => f.write_str("!optionSymbol"),
        }
    }
}

/// The depth speeds of an option book, in the order of its windows.
const SPEEDS_MS: [u16; 2] = [100, 500];

/// How option frames write prices and quantities.
const FORMAT: Format = Format {
    venue: Venue::Options,
    price: PRICE_PLACES,
    qty: QTY_PLACES,
};

/// `trade` (`vectors/options/optionTrade.json`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct TradeEvent<'a> {
    e: &'static str,
    E: u64,
    T: u64,
    s: &'a str,
    t: u64,
    p: Decimal,
    q: Decimal,
    X: &'static str,
    S: &'static str,
    m: bool,
}

/// `24hrTicker` (`vectors/options/optionTicker.json`): prices, quantities
/// and volumes with four decimals, the change percent with two.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct TickerEvent {
    e: &'static str,
    E: u64,
    s: String,
    p: Decimal,
    P: Decimal,
    w: Decimal,
    c: Decimal,
    Q: Decimal,
    o: Decimal,
    h: Decimal,
    l: Decimal,
    v: Decimal,
    q: Decimal,
    O: u64,
    C: u64,
    F: i64,
    L: i64,
    n: u64,
}

/// `markPrice` (`vectors/options/optionMarkPrice_arr.json`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct MarkPriceEvent<'a> {
    s: &'a str,
    mp: Decimal,
    E: u64,
    e: &'static str,
    i: Decimal,
    P: Decimal,
    bo: Decimal,
    ao: Decimal,
    bq: Decimal,
    aq: Decimal,
    b: Decimal,
    a: Decimal,
    hl: Decimal,
    ll: Decimal,
    vo: Decimal,
    rf: Decimal,
    d: Decimal,
    t: Decimal,
    g: Decimal,
    v: Decimal,
}

/// `indexPrice` (`vectors/options/indexPrice_arr.json`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct IndexEvent<'a> {
    e: &'static str,
    E: u64,
    s: &'a str,
    p: Decimal,
}

/// `openInterest` (`vectors/options/openInterest_arr.json`): contracts
/// with two decimals, their value in the quote asset with nine.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct OpenInterestEvent<'a> {
    e: &'static str,
    E: u64,
    s: &'a str,
    o: Decimal,
    h: Decimal,
}

/// `optionSymbol` (`vectors/options/optionSymbol.json`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct SymbolEvent<'a> {
    e: &'static str,
    E: u64,
    s: &'a str,
    ps: &'a str,
    qa: &'a str,
    d: &'static str,
    sp: Decimal,
    dt: u64,
    u: u32,
    ot: u64,
    cs: &'static str,
}

/// `kline` (`vectors/options/kline.json`): numbers without trailing zeros.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct KlineEvent<'a> {
    e: &'static str,
    E: u64,
    s: &'a str,
    k: KlineBody<'a>,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct KlineBody<'a> {
    t: u64,
    T: u64,
    s: &'a str,
    i: &'a str,
    f: i64,
    L: i64,
    o: Decimal,
    c: Decimal,
    h: Decimal,
    l: Decimal,
    v: Decimal,
    n: u64,
    x: bool,
    q: Decimal,
    V: Decimal,
    Q: Decimal,
}

/// The best bid and ask: (price, quantity) each.
type Top = (Option<(Decimal, Decimal)>, Option<(Decimal, Decimal)>);

/// A square root by Newton's method, exact decimals (for the greeks).
fn sqrt(x: Decimal) -> Decimal {
    if x <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let mut r = if x > Decimal::ONE {
        x / Decimal::TWO
    } else {
        Decimal::ONE
    };
    for _ in 0..40 {
        let next = (r + x / r) / Decimal::TWO;
        if (next - r).abs() < Decimal::new(1, 12) {
            return next;
        }
        r = next;
    }
    r
}

/// One option's engine and the stream state derived from it.
struct OptionBook {
    spec: OptionSpec,
    engine: Engine,
    depth: DepthFeed<2>,
    stats: SymbolStats,
    top: Top,
    /// Open contracts: starts at 100, grows by half of each trade.
    open_interest: Decimal,
}

impl OptionBook {
    fn new(spec: OptionSpec, flow: FlowConfig, seed: u64, history: Option<u64>) -> Self {
        let mut engine = Engine::new(spec.spec.clone(), flow, seed);
        engine.set_history_window(history);
        OptionBook {
            depth: DepthFeed::new(engine.last_update_id()),
            stats: SymbolStats::new(&spec.spec.symbol, now_ms()),
            top: (engine.best_bid(), engine.best_ask()),
            engine,
            open_interest: Decimal::ONE_HUNDRED,
            spec,
        }
    }

    fn symbol(&self) -> &str {
        &self.spec.spec.symbol
    }

    /// One engine step, published.
    fn step(&mut self, now: u64, hub: &Hub) {
        let out = self.engine.step(now);
        self.publish_fills(&out.fills, now, hub);
        self.add_changes(&out.changes, now, hub);
        if !out.changes.is_empty() {
            self.publish_book_ticker(now, hub);
        }
    }

    fn publish_fills(&mut self, fills: &[Fill], now: u64, hub: &Hub) {
        let own = OptionStream::Trade(self.symbol().to_owned()).to_string();
        let all = OptionStream::UnderlyingTrade(self.spec.asset().to_owned()).to_string();
        for fill in fills {
            self.stats.record(fill);
            self.open_interest += fill.qty / Decimal::TWO;
            if !hub.wanted(&own) && !hub.wanted(&all) {
                continue;
            }
            let taker = match fill.buyer_is_maker {
                true => "SELL",
                false => "BUY",
            };
            let json = serde_json::to_string(&TradeEvent {
                e: "trade",
                E: now,
                T: fill.time_ms,
                s: self.symbol(),
                t: fill.trade_id,
                p: FORMAT.price(fill.price),
                q: FORMAT.qty(fill.qty),
                X: "MARKET",
                S: taker,
                m: fill.buyer_is_maker,
            })
            .expect("events serialise");
            publish(hub, &own, &json);
            publish(hub, &all, &json);
        }
    }

    fn add_changes(&mut self, changes: &[LevelChange], now: u64, hub: &Hub) {
        for (speed, diff) in self.depth.record(changes) {
            self.send_diff(speed, diff, now, hub);
        }
    }

    /// Publish a diff event of `speed` (index into [`SPEEDS_MS`]).
    fn send_diff(&self, speed: usize, diff: Diff, now: u64, hub: &Hub) {
        let stream = OptionStream::Depth {
            symbol: self.symbol().to_owned(),
            speed_ms: SPEEDS_MS[speed],
        }
        .to_string();
        if !hub.wanted(&stream) {
            return;
        }
        let update = DepthUpdate::<Millis> {
            event_time: Time::new(now),
            transaction_time: Time::new(now),
            symbol: self.symbol().to_owned(),
            pair: None,
            first_update_id: diff.first,
            final_update_id: diff.last,
            previous_final_update_id: diff.previous,
            bids: FORMAT.levels(diff.bids),
            asks: FORMAT.levels(diff.asks),
        };
        publish(hub, &stream, &futures_wire::encode(Venue::Options, &update));
    }

    /// Close the diff window of `speed` and publish it and the partial
    /// depths of that speed.
    fn flush(&mut self, speed: usize, now: u64, hub: &Hub) {
        if let Some(diff) = self.depth.take(speed) {
            self.send_diff(speed, diff, now, hub);
        }
        let (first, last, previous) = self.depth.partial(speed, self.engine.last_update_id());
        for levels in [5, 10, 20] {
            let stream = OptionStream::PartialDepth {
                symbol: self.symbol().to_owned(),
                levels,
                speed_ms: SPEEDS_MS[speed],
            }
            .to_string();
            if !hub.wanted(&stream) {
                continue;
            }
            let book = self.engine.depth(levels);
            let side = |v: &[(Decimal, Decimal)]| {
                FORMAT.levels(v.iter().map(|&(p, q)| Level::new(p, q)).collect())
            };
            let update = DepthUpdate::<Millis> {
                event_time: Time::new(now),
                transaction_time: Time::new(now),
                symbol: self.symbol().to_owned(),
                pair: None,
                first_update_id: first,
                final_update_id: last,
                previous_final_update_id: previous,
                bids: side(&book.bids),
                asks: side(&book.asks),
            };
            publish(hub, &stream, &futures_wire::encode(Venue::Options, &update));
        }
    }

    fn publish_book_ticker(&mut self, now: u64, hub: &Hub) {
        let top = (self.engine.best_bid(), self.engine.best_ask());
        if top == self.top {
            return;
        }
        self.top = top;
        let stream = OptionStream::BookTicker(self.symbol().to_owned()).to_string();
        let (Some((b, bq)), Some((a, aq)), true) = (top.0, top.1, hub.wanted(&stream)) else {
            return;
        };
        let ticker = BookTicker::<Millis> {
            update_id: self.engine.last_update_id(),
            event_time: Time::new(now),
            transaction_time: Time::new(now),
            symbol: self.symbol().to_owned(),
            pair: None,
            bid_price: FORMAT.price(b),
            bid_quantity: FORMAT.qty(bq),
            ask_price: FORMAT.price(a),
            ask_quantity: FORMAT.qty(aq),
        };
        publish(hub, &stream, &futures_wire::encode(Venue::Options, &ticker));
    }

    /// The 24-hour ticker, once the book has traded and has both sides.
    fn ticker(&self, now: u64) -> Option<TickerEvent> {
        let (bid, ask) = (self.top.0?, self.top.1?);
        let t = self.stats.ticker(now, bid, ask)?;
        let four = |v: Decimal| fixed_scale(v, 4);
        Some(TickerEvent {
            e: "24hrTicker",
            E: now,
            s: t.symbol,
            p: four(t.price_change),
            P: fixed_scale(t.price_change_percent, 2),
            w: four(t.weighted_avg_price),
            c: four(t.last_price),
            Q: four(t.last_quantity),
            o: four(t.open),
            h: four(t.high),
            l: four(t.low),
            v: four(t.volume),
            q: four(t.quote_volume),
            O: t.open_time.as_millis(),
            C: t.close_time.as_millis(),
            F: t.first_trade_id,
            L: t.last_trade_id,
            n: t.trade_count,
        })
    }

    /// The mark price: the book's mid (the last trade's price, or the
    /// initial price, on a one-sided book).
    fn mark_price(&self) -> Decimal {
        match self.top {
            (Some((b, _)), Some((a, _))) => (b + a) / Decimal::TWO,
            _ => self
                .engine
                .last_trade_price()
                .unwrap_or(self.spec.spec.initial_price),
        }
    }

    /// The `markPrice` entry: mark, top of book, implied volatilities and
    /// greeks, approximated from the index (`index`) and the time to expiry.
    fn mark(&self, index: Decimal, now: u64) -> MarkPriceEvent<'_> {
        let mark = self.mark_price();
        let years = Decimal::from(self.spec.expiry_ms.saturating_sub(now).max(3_600_000))
            / Decimal::from(365 * DAY_MS);
        let root = sqrt(years).max(Decimal::new(1, 3));
        // Brenner–Subrahmanyam: an at-the-money price ≈ 0.4 · S · σ · √T.
        let vol_of = |price: Decimal| {
            let time_value = (price - self.intrinsic(index)).max(price / Decimal::TEN);
            fixed_scale(time_value / (Decimal::new(4, 1) * index * root), 8)
        };
        let vol = vol_of(mark).max(Decimal::new(1, 2));
        // A logistic-like delta in the moneyness measured in standard deviations.
        let x = (index - self.spec.strike) / (index * vol * root);
        let call_delta = Decimal::new(5, 1) + x / (Decimal::TWO * (Decimal::ONE + x.abs()));
        let delta = match self.spec.side {
            OptionSide::Call => call_delta,
            OptionSide::Put => call_delta - Decimal::ONE,
        };
        let skew = Decimal::TWO * call_delta - Decimal::ONE;
        let spread = Decimal::ONE - skew * skew;
        let gamma = Decimal::new(4, 1) * spread / (index * vol * root);
        let vega = Decimal::new(4, 1) * index * root * spread / Decimal::ONE_HUNDRED;
        let theta =
            -(vega * vol * Decimal::ONE_HUNDRED) / (Decimal::TWO * years * Decimal::from(365));
        let (bid, ask) = self.top;
        let none = Decimal::new(-10, 1);
        MarkPriceEvent {
            s: self.symbol(),
            mp: FORMAT.price(mark),
            E: now,
            e: "markPrice",
            i: fixed_scale(index, 8),
            P: FORMAT.price(Decimal::ZERO),
            bo: FORMAT.price(bid.map_or(Decimal::ZERO, |b| b.0)),
            ao: FORMAT.price(ask.map_or(Decimal::ZERO, |a| a.0)),
            bq: FORMAT.qty(bid.map_or(Decimal::ZERO, |b| b.1)),
            aq: FORMAT.qty(ask.map_or(Decimal::ZERO, |a| a.1)),
            b: bid.map_or(none, |b| vol_of(b.0)),
            a: ask.map_or(none, |a| vol_of(a.0)),
            hl: FORMAT.price(mark * Decimal::new(12, 1)),
            ll: FORMAT.price(mark * Decimal::new(8, 1)),
            vo: fixed_scale(vol, 8),
            rf: Decimal::new(0, 1),
            d: fixed_scale(delta, 8),
            t: fixed_scale(theta, 8),
            g: fixed_scale(gamma, 8),
            v: fixed_scale(vega, 8),
        }
    }

    fn intrinsic(&self, index: Decimal) -> Decimal {
        match self.spec.side {
            OptionSide::Call => (index - self.spec.strike).max(Decimal::ZERO),
            OptionSide::Put => (self.spec.strike - index).max(Decimal::ZERO),
        }
    }

    /// Klines of every interval someone listens to.
    fn publish_klines(&mut self, now: u64, hub: &Hub) {
        for &interval in KlineInterval::ALL {
            if interval == KlineInterval::S1 {
                continue;
            }
            let stream = OptionStream::Kline {
                symbol: self.symbol().to_owned(),
                interval,
            }
            .to_string();
            if !hub.wanted(&stream) {
                continue;
            }
            for event in self.stats.kline_events(interval, KlineTimezone::Utc, now) {
                let k = event.kline;
                let plain = |v: Decimal| v.normalize();
                let json = serde_json::to_string(&KlineEvent {
                    e: "kline",
                    E: now,
                    s: self.symbol(),
                    k: KlineBody {
                        t: k.open_time.as_millis(),
                        T: k.close_time.as_millis(),
                        s: self.symbol(),
                        i: interval.as_str(),
                        f: k.first_trade_id.max(0),
                        L: k.last_trade_id.max(0),
                        o: plain(k.open),
                        c: plain(k.close),
                        h: plain(k.high),
                        l: plain(k.low),
                        v: plain(k.volume),
                        n: k.trade_count,
                        x: k.is_closed,
                        q: plain(k.quote_volume),
                        V: plain(k.taker_buy_base_volume),
                        Q: plain(k.taker_buy_quote_volume),
                    },
                })
                .expect("events serialise");
                publish(hub, &stream, &json);
            }
        }
    }
}

/// Publish a frame if anyone listens.
fn publish(hub: &Hub, stream: &str, json: &str) {
    if hub.wanted(stream) {
        hub.publish(stream, json.to_owned());
    }
}

/// Publish a serialisable event if anyone listens.
fn send<T: Serialize>(hub: &Hub, stream: &OptionStream, event: &T) {
    let name = stream.to_string();
    if hub.wanted(&name) {
        hub.publish(
            &name,
            serde_json::to_string(event).expect("events serialise"),
        );
    }
}

/// An underlying's index price.
struct Index {
    /// `BTCUSDT`.
    pair: String,
    price: Decimal,
}

/// The options market: every option's book, the underlyings' indexes.
pub struct OptionsMarket {
    books: BTreeMap<String, Mutex<OptionBook>>,
    /// Per underlying asset (`BTC`).
    indexes: Mutex<BTreeMap<String, Index>>,
    rng: Mutex<StdRng>,
    actions_per_second: u32,
    /// Open interest every this many 10 ms ticks.
    open_interest_ticks: u64,
    /// The next symbol `!optionSymbol` announces.
    listing: AtomicUsize,
}

impl OptionsMarket {
    /// Build the books of `options`, each keeping the history of its last
    /// `history` update ids; open interest is pushed every
    /// `open_interest_every` (Binance: 60 s).
    pub fn new(
        options: &[OptionSpec],
        flow: &FlowConfig,
        seed: u64,
        actions_per_second: u32,
        open_interest_every: Duration,
        history: Option<u64>,
    ) -> Self {
        let mut indexes = BTreeMap::new();
        let books = options
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                indexes.entry(spec.asset().to_owned()).or_insert(Index {
                    pair: spec.underlying.clone(),
                    price: spec.index_price,
                });
                let seed = seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(104_729 + i as u64);
                let book = OptionBook::new(spec.clone(), flow.clone(), seed, history);
                (spec.spec.symbol.clone(), Mutex::new(book))
            })
            .collect();
        OptionsMarket {
            books,
            indexes: Mutex::new(indexes),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x0097_10a5)),
            actions_per_second,
            open_interest_ticks: (open_interest_every.as_millis() as u64 / 10).max(1),
            listing: AtomicUsize::new(0),
        }
    }

    /// The option symbols (upper case).
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.books.keys().map(String::as_str)
    }

    /// Every option's spec.
    pub fn specs(&self) -> Vec<OptionSpec> {
        self.books
            .values()
            .map(|b| b.lock().unwrap().spec.clone())
            .collect()
    }

    /// Whether `symbol` is listed.
    pub fn has_symbol(&self, symbol: &str) -> bool {
        self.books.contains_key(symbol)
    }

    /// The top `limit` levels of `symbol`'s book and the update id they
    /// show (`None`: unknown symbol).
    pub fn depth(&self, symbol: &str, limit: usize) -> Option<BookSnapshot> {
        Some(self.books.get(symbol)?.lock().unwrap().engine.depth(limit))
    }

    /// The true full book of `symbol` right after `update_id`.
    pub fn true_book(&self, symbol: &str, update_id: u64) -> Option<BookSnapshot> {
        self.books
            .get(symbol)?
            .lock()
            .unwrap()
            .engine
            .book_at(update_id)
    }

    /// Leave the next `count` book updates of `symbol` out of its diff
    /// streams (a `pu` gap); false for an unknown symbol.
    pub fn skip_update_ids(&self, symbol: &str, count: u64) -> bool {
        match self.books.get(symbol) {
            Some(book) => {
                book.lock().unwrap().depth.skip_updates(count);
                true
            }
            None => false,
        }
    }

    /// Whether the stream names something listed (an option symbol, an
    /// underlying, an expiry of that underlying).
    pub fn supports(&self, stream: &OptionStream) -> bool {
        use OptionStream as S;
        let expiry_of = |asset: &str, expiry: &str| {
            self.books.values().any(|b| {
                let b = b.lock().unwrap();
                b.spec.asset() == asset && b.spec.expiry() == expiry
            })
        };
        match stream {
            S::Ticker(s)
            | S::Trade(s)
            | S::BookTicker(s)
            | S::PartialDepth { symbol: s, .. }
            | S::Depth { symbol: s, .. }
            | S::Kline { symbol: s, .. } => self.books.contains_key(s),
            S::UnderlyingTrade(a) | S::MarkPrice(a) => self.indexes.lock().unwrap().contains_key(a),
            S::ExpiryTicker { asset, expiry } | S::OpenInterest { asset, expiry } => {
                expiry_of(asset, expiry)
            }
            S::IndexPrices | S::OptionSymbols => true,
        }
    }

    /// Drive the market forever: engine steps spread evenly in time, depth
    /// windows closed every 100 and 500 ms; tickers, mark prices, indexes,
    /// klines and one listing every second; open interest at its cadence.
    pub async fn run(self: std::sync::Arc<Self>, hub: std::sync::Arc<Hub>) {
        drive(self.actions_per_second, |tick, steps, now| {
            self.tick(tick, steps, now, &hub)
        })
        .await
    }

    /// One 10 ms tick (number `tick`): `steps` engine steps and what is due.
    fn tick(&self, tick: u64, steps: u64, now: u64, hub: &Hub) {
        let second = tick % 100 == 0;
        if second {
            self.walk_indexes();
        }
        let indexes: BTreeMap<String, Decimal> = self
            .indexes
            .lock()
            .unwrap()
            .iter()
            .map(|(a, i)| (a.clone(), i.price))
            .collect();
        let mut tickers: BTreeMap<OptionStreamKey, Vec<TickerEvent>> = BTreeMap::new();
        let mut interest: BTreeMap<OptionStreamKey, Vec<String>> = BTreeMap::new();
        let mut marks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let open_interest = tick % self.open_interest_ticks == 0;
        for book in self.books.values() {
            let mut b = book.lock().unwrap();
            for _ in 0..steps {
                b.step(now, hub);
            }
            for (speed, every) in [(0, 10), (1, 50)] {
                if tick % every == 0 {
                    b.flush(speed, now, hub);
                }
            }
            let (asset, expiry) = (b.spec.asset().to_owned(), b.spec.expiry());
            let index = indexes.get(&asset).copied().unwrap_or(b.spec.index_price);
            if second {
                b.publish_klines(now, hub);
                if let Some(t) = b.ticker(now) {
                    send(hub, &OptionStream::Ticker(b.symbol().to_owned()), &t);
                    tickers
                        .entry((asset.clone(), expiry.clone()))
                        .or_default()
                        .push(t);
                }
                if hub.wanted(&OptionStream::MarkPrice(asset.clone()).to_string()) {
                    let mark = serde_json::to_string(&b.mark(index, now));
                    marks
                        .entry(asset.clone())
                        .or_default()
                        .push(mark.expect("events serialise"));
                }
            }
            if open_interest {
                let o = fixed_scale(b.open_interest, 2);
                let event = OpenInterestEvent {
                    e: "openInterest",
                    E: now,
                    s: b.symbol(),
                    o,
                    h: fixed_scale(o * index, 9),
                };
                interest
                    .entry((asset, expiry))
                    .or_default()
                    .push(serde_json::to_string(&event).expect("events serialise"));
            }
        }
        for ((asset, expiry), list) in tickers {
            send(hub, &OptionStream::ExpiryTicker { asset, expiry }, &list);
        }
        for ((asset, expiry), list) in interest {
            let stream = OptionStream::OpenInterest { asset, expiry }.to_string();
            publish(hub, &stream, &format!("[{}]", list.join(",")));
        }
        for (asset, list) in marks {
            let stream = OptionStream::MarkPrice(asset).to_string();
            publish(hub, &stream, &format!("[{}]", list.join(",")));
        }
        if second {
            let indexes = self.indexes.lock().unwrap();
            let list: Vec<IndexEvent> = indexes
                .values()
                .map(|i| IndexEvent {
                    e: "indexPrice",
                    E: now,
                    s: &i.pair,
                    p: fixed_scale(i.price, 8),
                })
                .collect();
            send(hub, &OptionStream::IndexPrices, &list);
            drop(indexes);
            self.announce_listing(now, hub);
        }
    }

    /// Move every index by up to ±5 basis points.
    fn walk_indexes(&self) {
        let mut rng = self.rng.lock().unwrap();
        for index in self.indexes.lock().unwrap().values_mut() {
            let bps = Decimal::from(rng.gen_range(-5i64..=5));
            index.price += index.price * bps / Decimal::from(10_000);
        }
    }

    /// `!optionSymbol`: one listing a second, round the symbols.
    fn announce_listing(&self, now: u64, hub: &Hub) {
        let stream = OptionStream::OptionSymbols;
        if !hub.wanted(&stream.to_string()) || self.books.is_empty() {
            return;
        }
        let n = self.listing.fetch_add(1, Ordering::Relaxed) % self.books.len();
        let Some(book) = self.books.values().nth(n) else {
            return;
        };
        let b = book.lock().unwrap();
        let spec = &b.spec;
        let event = SymbolEvent {
            e: "optionSymbol",
            E: now,
            s: b.symbol(),
            ps: &spec.underlying,
            qa: &spec.spec.quote_asset,
            d: spec.side.as_str(),
            sp: spec.strike.normalize(),
            dt: spec.expiry_ms,
            u: 1,
            ot: spec.onboard_ms,
            cs: "TRADING",
        };
        send(hub, &stream, &event);
    }
}

/// (underlying asset, `YYMMDD`).
type OptionStreamKey = (String, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_to_one_spelling() {
        for (written, canonical) in [
            (
                "btc-261225-90000-c@depth@100ms",
                "BTC-261225-90000-C@depth@100ms",
            ),
            ("BTC-261225-90000-C@depth", "BTC-261225-90000-C@depth@500ms"),
            (
                "BTC-261225-90000-P@depth10@100ms",
                "BTC-261225-90000-P@depth10@100ms",
            ),
            ("btc@optionMarkPrice", "BTC@optionMarkPrice"),
            ("btcusdt@optionTicker@261225", "BTC@optionTicker@261225"),
            ("ETH@optionTrade", "ETH@optionTrade"),
            (
                "eth-261225-3000-c@optionTrade",
                "ETH-261225-3000-C@optionTrade",
            ),
            ("ETH-261225-3000-C@kline_1M", "ETH-261225-3000-C@kline_1M"),
            (
                "btc@optionOpenInterest@261225",
                "BTC@optionOpenInterest@261225",
            ),
            ("!index@arr", "!index@arr"),
            ("!optionSymbol", "!optionSymbol"),
        ] {
            let s = OptionStream::parse(written).unwrap();
            assert_eq!(s.to_string(), canonical, "{written}");
        }
        for bad in [
            "btc@depth",
            "BTC-261225-90000-C@optionMarkPrice",
            "BTC-261225-90000-C@depth@250ms",
            "btc@optionTicker@2612",
            "BTC-261225-90000-C@kline_1s",
            "nothing",
        ] {
            let e = OptionStream::parse(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("valid forms"), "{e}");
        }
    }

    #[test]
    fn routes_follow_the_reference() {
        let public = [
            "BTC-261225-90000-C@bookTicker",
            "BTC@optionTrade",
            "BTC@optionTicker@261225",
        ];
        let market = [
            "BTC@optionMarkPrice",
            "!index@arr",
            "BTC-261225-90000-C@kline_1m",
            "!optionSymbol",
        ];
        for name in public {
            assert_eq!(OptionStream::parse(name).unwrap().route(), Route::Public);
        }
        for name in market {
            assert_eq!(OptionStream::parse(name).unwrap().route(), Route::Market);
        }
    }

    #[test]
    fn builtin_symbols_expire_after_now_on_fridays() {
        let now = 1_764_460_800_000; // 2025-11-30 00:00 UTC, a Sunday
        let specs = OptionSpec::builtin(now);
        assert_eq!(specs.len(), 24);
        assert_eq!(specs[0].spec.symbol, "BTC-251205-85000-C");
        assert!(specs.iter().all(|s| s.expiry_ms > now));
        assert_eq!(yymmdd(1_798_185_600_000), "261225");
        assert_eq!(sqrt(Decimal::from(16)).round_dp(8), Decimal::from(4));
    }
}
