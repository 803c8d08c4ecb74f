//! European options market streams and depth caches on the socket
//! manager: python-binance's options sockets, by the same names.
//!
//! An options socket is a [`Socket`] whose events come as
//! [`Message::Options`](crate::Message::Options), decoded by the options
//! decoder. Everything futures sockets do holds for them (sharing,
//! reconnect, rotation, the watchdog, live subscribe, statuses), with the
//! options limits of reference §7: 10 control messages a second (paced at
//! 8), at most 200 streams a connection (more open more connections), the
//! server pinging only every 5 minutes (so the client pings a quiet
//! connection itself). Each stream goes to its routed path, decided once by
//! [`OptionsStream::route`]: tickers, trades and book data on `/public`,
//! mark and index prices, klines, open interest and new symbols on
//! `/market`; a socket over both opens one connection on each.

use binance_types::options::stream::{Expiry, OptionSymbol, OptionsDepthSpeed, OptionsStream};
use binance_types::stream::{DepthLevels, KlineInterval, Symbol};
use binance_types::venue::Venue;
use binance_types::TimeUnit;

use crate::error::Error;
use crate::manager::SocketManager;
use crate::socket::Socket;

fn option(symbol: &str) -> Result<OptionSymbol, Error> {
    OptionSymbol::new(symbol).map_err(Error::from)
}

fn underlying(underlying: &str) -> Result<Symbol, Error> {
    Symbol::new(underlying).map_err(Error::from)
}

fn expiry(date: &str) -> Result<Expiry, Error> {
    Expiry::new(date).map_err(Error::from)
}

impl<U: TimeUnit> SocketManager<U> {
    /// python-binance's `options_multiplex_socket`: one combined socket for
    /// many options stream names. Unlike python-binance (which opens every
    /// stream on `/market`, where the public ones stay silent), a mixed
    /// list is split by itself over `/public` and `/market` connections.
    pub fn options_multiplex_socket(&self, streams: &[&str]) -> Result<Socket<U>, Error> {
        self.venue_multiplex(Venue::Options, streams)
    }

    /// [`options_multiplex_socket`](Self::options_multiplex_socket) for
    /// typed names.
    pub fn options_streams_socket(&self, streams: &[OptionsStream]) -> Result<Socket<U>, Error> {
        let names: Vec<String> = streams.iter().map(ToString::to_string).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.options_multiplex_socket(&names)
    }

    /// A socket on one options stream: raw `/ws/<name>` frames on the
    /// stream's route (no `stream` on its events).
    pub fn options_socket(&self, stream: OptionsStream) -> Result<Socket<U>, Error> {
        self.venue_raw_socket(Venue::Options, &stream.to_string())
    }

    /// An options socket with no stream yet, for live `subscribe` (each
    /// stream joins a connection of its route).
    pub fn options_live_socket(&self) -> Result<Socket<U>, Error> {
        self.futures_live_socket(Venue::Options)
    }

    fn options_one(&self, stream: OptionsStream) -> Result<Socket<U>, Error> {
        self.options_streams_socket(&[stream])
    }

    /// `<symbol>@optionTicker` (python-binance's `options_ticker_socket`).
    pub fn options_ticker_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::Ticker(option(symbol)?))
    }

    /// `<underlying>@optionTicker@<YYMMDD>` (python-binance's
    /// `options_ticker_by_expiration_socket`): `underlying` is the index
    /// (`BTCUSDT`), `expiration_date` is `YYMMDD`.
    pub fn options_ticker_by_expiration_socket(
        &self,
        underlying_name: &str,
        expiration_date: &str,
    ) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::TickerByExpiry {
            underlying: underlying(underlying_name)?,
            expiry: expiry(expiration_date)?,
        })
    }

    /// `<symbol>@optionTrade` for an option (`BTC-200630-9000-P`), or
    /// `<underlying>@optionTrade` for an index (`BTCUSDT`)
    /// (python-binance's `options_recent_trades_socket`).
    pub fn options_recent_trades_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        let stream = if symbol.contains('-') {
            OptionsStream::Trade(option(symbol)?)
        } else {
            OptionsStream::UnderlyingTrades(underlying(symbol)?)
        };
        self.options_one(stream)
    }

    /// `<symbol>@kline_<interval>` (python-binance's `options_kline_socket`,
    /// whose default interval is 1m).
    pub fn options_kline_socket(
        &self,
        symbol: &str,
        interval: KlineInterval,
    ) -> Result<Socket<U>, Error> {
        // The name is checked again on the way: options have fewer candle
        // lengths than `KlineInterval` (no 1s, 8h, 1M).
        self.options_one(OptionsStream::Kline {
            symbol: option(symbol)?,
            interval,
        })
    }

    /// `<symbol>@depth<levels>@<speed>`: the top of the book
    /// (python-binance's `options_depth_socket`, defaults 10 levels and
    /// 500 ms). For a book, use [`options_depth_caches`](Self::options_depth_caches).
    pub fn options_depth_socket(
        &self,
        symbol: &str,
        levels: DepthLevels,
        speed: OptionsDepthSpeed,
    ) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::PartialDepth {
            symbol: option(symbol)?,
            levels,
            speed,
        })
    }

    /// `<symbol>@bookTicker` (python-binance's `options_book_ticker_socket`).
    pub fn options_book_ticker_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::BookTicker(option(symbol)?))
    }

    /// `!optionSymbol`: new listings (python-binance's
    /// `options_new_symbol_socket`).
    pub fn options_new_symbol_socket(&self) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::NewSymbols)
    }

    /// `<underlying>@optionOpenInterest@<YYMMDD>` (python-binance's
    /// `options_open_interest_socket`).
    pub fn options_open_interest_socket(
        &self,
        underlying_name: &str,
        expiration_date: &str,
    ) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::OpenInterest {
            underlying: underlying(underlying_name)?,
            expiry: expiry(expiration_date)?,
        })
    }

    /// `<underlying>@optionMarkPrice`: mark prices and greeks of every
    /// option of the underlying (python-binance's `options_mark_price_socket`).
    pub fn options_mark_price_socket(&self, underlying_name: &str) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::MarkPrice(underlying(underlying_name)?))
    }

    /// `!index@arr`: every underlying's index price (python-binance's
    /// `options_index_price_socket`).
    pub fn options_index_price_socket(&self) -> Result<Socket<U>, Error> {
        self.options_one(OptionsStream::AllIndexPrices)
    }

    /// Options depth caches for many options over one `/public`
    /// connection, with the spot and futures caches' reading API: diff
    /// streams `<symbol>@depth@100ms` (with
    /// [`UpdateSpeed::Ms100`](binance_types::stream::UpdateSpeed), the
    /// default; any other speed is `@500ms`), snapshots from
    /// `/eapi/v1/depth` paced by its weights (those of futures:
    /// [`futures_snapshot_weight`](crate::futures_snapshot_weight)), the
    /// futures procedure (reference §5.4), and a new snapshot on every gap
    /// (`pu` not the last `u`).
    pub fn options_depth_caches(
        &self,
        options: crate::DepthCacheOptions,
    ) -> Result<crate::DepthCaches, Error> {
        self.futures_depth_caches(Venue::Options, options)
    }

    /// An options depth cache for one option with the default options (see
    /// [`options_depth_caches`](Self::options_depth_caches)).
    pub async fn options_depth_cache(&self, symbol: &str) -> Result<crate::DepthCache, Error> {
        self.options_depth_caches(crate::DepthCacheOptions::default())?
            .add(symbol)
            .await
    }
}
