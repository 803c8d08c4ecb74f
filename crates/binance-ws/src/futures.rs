//! USD-M and COIN-M futures market streams and depth caches on the socket
//! manager: python-binance's futures sockets, by the same names, plus the
//! streams it lacks.
//!
//! A futures socket is a [`Socket`] whose events come as
//! [`Message::Futures`](crate::Message::Futures), decoded by the futures
//! decoder (which keeps `pu`, `nq`, `ps`). Everything spot sockets do holds
//! for them: sharing, reconnect, rotation, the watchdog, overflow, live
//! subscribe and statuses, with futures' own limits (10 control messages a
//! second; the server pings every 3 minutes, so the client pings a quiet
//! connection itself). On USD-M each stream goes to its routed path
//! (`/public` for book data, `/market` for the rest), decided once by
//! [`FuturesStream::usdm_route`]; a socket over both opens one connection
//! on each.

use binance_types::futures::stream::{
    ContractType, DepthSpeed, FuturesStream, FuturesSymbol, PriceSpeed,
};
use binance_types::stream::{DepthLevels, KlineInterval, Symbol};
use binance_types::venue::Venue;
use binance_types::TimeUnit;

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::futures_user::{FuturesUserSetup, FuturesUserSocket};
use crate::manager::SocketManager;
use crate::socket::{canonical_on, route_base, Socket};

fn contract(symbol: &str) -> Result<FuturesSymbol, Error> {
    FuturesSymbol::new(symbol).map_err(Error::from)
}

fn pair(pair: &str) -> Result<Symbol, Error> {
    Symbol::new(pair).map_err(Error::from)
}

impl<U: TimeUnit> SocketManager<U> {
    /// A socket on futures streams of `venue` (combined envelope, `stream`
    /// on every event), spread over the venue's routes and over several
    /// connections past the per-connection limit. Names are checked for
    /// the venue: a stream it does not offer is refused with the valid
    /// forms.
    pub fn futures_streams_socket(
        &self,
        venue: Venue,
        streams: &[FuturesStream],
    ) -> Result<Socket<U>, Error> {
        let names: Vec<String> = streams.iter().map(ToString::to_string).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.futures_multiplex_socket(venue, &names)
    }

    /// python-binance's `futures_multiplex_socket`: one socket for many
    /// futures stream names of `venue`. Unlike python-binance (whose
    /// `category` argument puts every stream on one route, where the
    /// others stay silent), a mixed list is split by itself over USD-M's
    /// `/public` and `/market` connections.
    pub fn futures_multiplex_socket(
        &self,
        venue: Venue,
        streams: &[&str],
    ) -> Result<Socket<U>, Error> {
        self.venue_multiplex(venue, streams)
    }

    /// One combined socket for stream names of a derivatives `venue`
    /// (futures, options): each name checked for the venue, put on its
    /// route's connections, at most the per-connection limit on each.
    pub(crate) fn venue_multiplex(
        &self,
        venue: Venue,
        streams: &[&str],
    ) -> Result<Socket<U>, Error> {
        let (base, _) = self.inner.futures_urls(venue)?;
        let mut names = canonical_on(venue, streams)?;
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(Error::new(
                ErrorKind::StreamName,
                format!("a {venue} multiplex socket needs at least one stream"),
            ));
        }
        let max = self.inner.env().options.max_streams_per_connection;
        let mut routes: Vec<(String, Vec<String>)> = Vec::new();
        for name in names {
            let at = route_base(venue, &base, &name);
            match routes.iter_mut().find(|(b, _)| *b == at) {
                Some((_, group)) => group.push(name),
                None => routes.push((at, vec![name])),
            }
        }
        let connections = &self.inner.connections;
        let plans = routes
            .into_iter()
            .flat_map(|(at, names)| {
                names
                    .chunks(max)
                    .map(|chunk| {
                        let plan = connections.plan_at(at.clone(), venue, chunk.to_vec(), true);
                        (plan, chunk.len())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Socket::on(connections.clone(), venue, base, plans))
    }

    /// A socket on one futures stream of `venue`: raw `/ws/<name>` frames on
    /// the stream's route (the futures counterpart of
    /// [`socket`](Self::socket)).
    pub fn futures_socket(&self, venue: Venue, stream: FuturesStream) -> Result<Socket<U>, Error> {
        self.venue_raw_socket(venue, &stream.to_string())
    }

    /// A raw `/ws/<name>` socket on one stream of a derivatives `venue`, on
    /// the stream's route.
    pub(crate) fn venue_raw_socket(&self, venue: Venue, stream: &str) -> Result<Socket<U>, Error> {
        let (base, _) = self.inner.futures_urls(venue)?;
        let name = canonical_on(venue, &[stream])?.remove(0);
        let at = route_base(venue, &base, &name);
        let plan = self.inner.connections.plan_at(at, venue, vec![name], false);
        Ok(Socket::on(
            self.inner.connections.clone(),
            venue,
            base,
            vec![(plan, 1)],
        ))
    }

    /// A futures socket of `venue` with no stream yet, for live
    /// `subscribe` (each stream joins a connection of its route); its
    /// connections are its own, so its subscriptions are too.
    pub fn futures_live_socket(&self, venue: Venue) -> Result<Socket<U>, Error> {
        let (base, _) = self.inner.futures_urls(venue)?;
        Ok(
            Socket::on(self.inner.connections.clone(), venue, base, Vec::new())
                .private(self.inner.connections.next_reader()),
        )
    }

    fn futures_one(&self, venue: Venue, stream: FuturesStream) -> Result<Socket<U>, Error> {
        self.futures_streams_socket(venue, &[stream])
    }

    /// `<symbol>@aggTrade` (python-binance's `aggtrade_futures_socket`).
    pub fn aggtrade_futures_socket(&self, venue: Venue, symbol: &str) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::AggTrade(contract(symbol)?))
    }

    /// `<pair>_<contractType>@continuousKline_<interval>` (python-binance's
    /// `kline_futures_socket`, whose defaults are 1m and perpetual).
    pub fn kline_futures_socket(
        &self,
        venue: Venue,
        pair_name: &str,
        interval: KlineInterval,
        contract_type: ContractType,
    ) -> Result<Socket<U>, Error> {
        self.futures_one(
            venue,
            FuturesStream::ContinuousKline {
                pair: pair(pair_name)?,
                contract_type,
                interval,
            },
        )
    }

    /// `<symbol>@kline_<interval>`: one contract's klines.
    pub fn contract_kline_futures_socket(
        &self,
        venue: Venue,
        symbol: &str,
        interval: KlineInterval,
    ) -> Result<Socket<U>, Error> {
        let symbol = contract(symbol)?;
        self.futures_one(venue, FuturesStream::Kline { symbol, interval })
    }

    /// `<symbol>@markPrice[@1s]` (python-binance's `symbol_mark_price_socket`;
    /// its `fast=True` is [`PriceSpeed::S1`]). On COIN-M a pair
    /// (`btcusd`) gives every contract of the pair.
    pub fn symbol_mark_price_socket(
        &self,
        venue: Venue,
        symbol: &str,
        speed: PriceSpeed,
    ) -> Result<Socket<U>, Error> {
        let symbol = contract(symbol)?;
        self.futures_one(venue, FuturesStream::MarkPrice { symbol, speed })
    }

    /// `!markPrice@arr[@1s]` (USD-M; python-binance's `all_mark_price_socket`).
    pub fn all_mark_price_socket(
        &self,
        venue: Venue,
        speed: PriceSpeed,
    ) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::AllMarkPrices(speed))
    }

    /// python-binance's `futures_depth_socket`: `<symbol>@depth<levels>`
    /// (partial book) with `Some(levels)`, else the diff stream
    /// `<symbol>@depth` — for a book, use
    /// [`futures_depth_caches`](Self::futures_depth_caches).
    pub fn futures_depth_socket(
        &self,
        venue: Venue,
        symbol: &str,
        levels: Option<DepthLevels>,
        speed: DepthSpeed,
    ) -> Result<Socket<U>, Error> {
        let symbol = contract(symbol)?;
        self.futures_one(
            venue,
            match levels {
                Some(levels) => FuturesStream::PartialDepth {
                    symbol,
                    levels,
                    speed,
                },
                None => FuturesStream::Depth { symbol, speed },
            },
        )
    }

    /// `<symbol>@rpiDepth@500ms` (USD-M; python-binance's
    /// `futures_rpi_depth_socket`).
    pub fn futures_rpi_depth_socket(&self, venue: Venue, symbol: &str) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::RpiDepth(contract(symbol)?))
    }

    /// `<symbol>@bookTicker` (python-binance's `symbol_ticker_futures_socket`,
    /// which despite its name is the book ticker).
    pub fn symbol_ticker_futures_socket(
        &self,
        venue: Venue,
        symbol: &str,
    ) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::BookTicker(contract(symbol)?))
    }

    /// `<symbol>@ticker` (python-binance's
    /// `individual_symbol_ticker_futures_socket`).
    pub fn individual_symbol_ticker_futures_socket(
        &self,
        venue: Venue,
        symbol: &str,
    ) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::Ticker(contract(symbol)?))
    }

    /// `!bookTicker` (python-binance's `all_ticker_futures_socket` with its
    /// default channel).
    pub fn all_ticker_futures_socket(&self, venue: Venue) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::AllBookTickers)
    }

    /// `!ticker@arr` on USD-M (python-binance's `futures_ticker_socket`).
    pub fn futures_ticker_socket(&self) -> Result<Socket<U>, Error> {
        self.futures_one(Venue::UsdM, FuturesStream::AllTickers)
    }

    /// `!ticker@arr` on COIN-M (python-binance's `futures_coin_ticker_socket`).
    pub fn futures_coin_ticker_socket(&self) -> Result<Socket<U>, Error> {
        self.futures_one(Venue::CoinM, FuturesStream::AllTickers)
    }

    /// `<symbol>@miniTicker`.
    pub fn symbol_miniticker_futures_socket(
        &self,
        venue: Venue,
        symbol: &str,
    ) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::MiniTicker(contract(symbol)?))
    }

    /// `!miniTicker@arr`.
    pub fn miniticker_futures_socket(&self, venue: Venue) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::AllMiniTickers)
    }

    /// `<pair>@indexPrice[@1s]` (COIN-M; python-binance's `index_price_socket`).
    pub fn index_price_socket(
        &self,
        pair_name: &str,
        speed: PriceSpeed,
    ) -> Result<Socket<U>, Error> {
        let pair = pair(pair_name)?;
        self.futures_one(Venue::CoinM, FuturesStream::IndexPrice { pair, speed })
    }

    /// `<symbol>@forceOrder`: the largest liquidation of the second.
    pub fn force_order_socket(&self, venue: Venue, symbol: &str) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::ForceOrder(contract(symbol)?))
    }

    /// `!forceOrder@arr`: liquidations of every contract.
    pub fn all_force_order_socket(&self, venue: Venue) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::AllForceOrders)
    }

    /// `!contractInfo`: listings, settlements and bracket changes.
    pub fn contract_info_socket(&self, venue: Venue) -> Result<Socket<U>, Error> {
        self.futures_one(venue, FuturesStream::ContractInfo)
    }

    /// `<symbol>@compositeIndex` (USD-M).
    pub fn composite_index_socket(&self, symbol: &str) -> Result<Socket<U>, Error> {
        self.futures_one(
            Venue::UsdM,
            FuturesStream::CompositeIndex(contract(symbol)?),
        )
    }

    /// `<asset>@assetIndex` with `Some(asset)`, else `!assetIndex@arr` (USD-M).
    pub fn asset_index_socket(&self, asset: Option<&str>) -> Result<Socket<U>, Error> {
        let stream = match asset {
            Some(asset) => FuturesStream::AssetIndex(pair(asset)?),
            None => FuturesStream::AllAssetIndexes,
        };
        self.futures_one(Venue::UsdM, stream)
    }

    /// `<symbol>@markPriceKline_<interval>` (COIN-M).
    pub fn mark_price_kline_socket(
        &self,
        symbol: &str,
        interval: KlineInterval,
    ) -> Result<Socket<U>, Error> {
        let symbol = contract(symbol)?;
        self.futures_one(
            Venue::CoinM,
            FuturesStream::MarkPriceKline { symbol, interval },
        )
    }

    /// `<pair>@indexPriceKline_<interval>` (COIN-M).
    pub fn index_price_kline_socket(
        &self,
        pair_name: &str,
        interval: KlineInterval,
    ) -> Result<Socket<U>, Error> {
        let pair = pair(pair_name)?;
        self.futures_one(
            Venue::CoinM,
            FuturesStream::IndexPriceKline { pair, interval },
        )
    }

    /// The USD-M account's events (python-binance's `futures_user_socket`):
    /// a listen key from `POST /fapi/v1/listenKey` (the API key of the
    /// manager's credentials, or `BINANCE_API_KEY`), kept alive every 30
    /// minutes, read on `/private/ws/<key>` over two connections; a new key
    /// on `listenKeyExpired` or `-1125`.
    pub fn futures_user_socket(&self) -> Result<FuturesUserSocket<U>, Error> {
        self.futures_user(Venue::UsdM)
    }

    /// The COIN-M account's events (python-binance's
    /// `coin_futures_user_socket`), as [`futures_user_socket`](Self::futures_user_socket)
    /// on `/dapi/v1/listenKey` and `/ws/<key>`.
    pub fn coin_futures_user_socket(&self) -> Result<FuturesUserSocket<U>, Error> {
        self.futures_user(Venue::CoinM)
    }

    fn futures_user(&self, venue: Venue) -> Result<FuturesUserSocket<U>, Error> {
        let (stream_base, rest_url) = self.inner.futures_urls(venue)?;
        let signer = self.signer()?;
        Ok(FuturesUserSocket::new(FuturesUserSetup {
            venue,
            stream_base,
            rest_url,
            api_key: Arc::from(signer.credentials.api_key()),
            connections: self.inner.connections.clone(),
            retries: self.inner.env().options.reconnect.retries,
        }))
    }

    /// Futures depth caches (reference §5.4) for many contracts of `venue`
    /// over one connection, with the spot caches' reading API: diff
    /// streams `<symbol>@depth@100ms` (with
    /// [`UpdateSpeed::Ms100`](binance_types::stream::UpdateSpeed), the
    /// default) or `<symbol>@depth` (250 ms) on the venue's book route
    /// (USD-M `/public`), snapshots from `/fapi/v1/depth` or
    /// `/dapi/v1/depth` paced by the futures weights
    /// ([`futures_snapshot_weight`](crate::futures_snapshot_weight)), and a
    /// new snapshot on every gap (`pu` not the last `u`). python-binance's
    /// futures cache is built on partial depth and is not a book; this is.
    pub fn futures_depth_caches(
        &self,
        venue: Venue,
        options: crate::DepthCacheOptions,
    ) -> Result<crate::DepthCaches, Error> {
        let socket = self.futures_live_socket(venue)?;
        let (_, rest) = self.inner.futures_urls(venue)?;
        Ok(crate::DepthCaches::start(
            venue,
            socket,
            rest,
            self.inner.env().net.clone(),
            options,
        ))
    }

    /// A futures depth cache for one contract of `venue` with the default
    /// options (see [`futures_depth_caches`](Self::futures_depth_caches)).
    pub async fn futures_depth_cache(
        &self,
        venue: Venue,
        symbol: &str,
    ) -> Result<crate::DepthCache, Error> {
        self.futures_depth_caches(venue, crate::DepthCacheOptions::default())?
            .add(symbol)
            .await
    }
}
