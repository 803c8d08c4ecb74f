//! The REST tickers (routed with the other public endpoints): `/api/v3/ticker/24hr`, `/ticker/price`,
//! `/ticker/bookTicker`, `/ticker` (rolling window) and `/avgPrice`, from
//! the same statistics as the ticker streams, in Binance's REST layout.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use binance_types::stream::RollingWindow;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::api_error::binance_error;
use crate::clock::now_ms;
use crate::market::SymbolMarket;
use crate::notation::Notation;
use crate::shared::{ConnMeta, Request, Shared};

const SPOT: Notation = Notation::Spot;

/// The symbols asked for: `symbol`, `symbols` (a JSON array), or every
/// symbol when neither is sent (`None` then, for the weight).
type Chosen<'a> = (Vec<&'a Mutex<SymbolMarket>>, Option<usize>);

fn chosen<'a>(s: &'a Shared, q: &HashMap<String, String>) -> Result<Chosen<'a>, Box<Response>> {
    let invalid = || {
        Box::new(binance_error(
            StatusCode::BAD_REQUEST,
            -1121,
            "Invalid symbol.",
        ))
    };
    let names: Vec<String> = match (q.get("symbol"), q.get("symbols")) {
        (Some(_), Some(_)) => {
            return Err(Box::new(binance_error(
                StatusCode::BAD_REQUEST,
                -1101,
                "Parameter 'symbol' and 'symbols' cannot be sent together.",
            )))
        }
        (Some(one), None) => vec![one.clone()],
        (None, Some(list)) => serde_json::from_str(list).map_err(|_| {
            Box::new(binance_error(
                StatusCode::BAD_REQUEST,
                -1100,
                "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.",
            ))
        })?,
        (None, None) => {
            let all = s.exchange.market().symbols().filter_map(|n| s.exchange.market().symbol(n)).collect();
            return Ok((all, None));
        }
    };
    let markets = names
        .iter()
        .map(|n| s.exchange.market().symbol(n).ok_or_else(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((markets, Some(names.len())))
}

/// Answer with one item per chosen market (one object for `symbol`, an
/// array otherwise), weighed by how many were asked for.
async fn per_market(
    s: &Shared,
    m: &ConnMeta,
    q: &HashMap<String, String>,
    weight: impl Fn(Option<usize>) -> u32,
    item: impl Fn(&SymbolMarket) -> Value,
) -> Response {
    let (markets, asked) = match chosen(s, q) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    let items = markets
        .iter()
        .map(|market| item(&market.lock().unwrap()))
        .collect();
    s.weighed(m, weight(asked), async { answer(q, items) })
        .await
}

/// The best bid and ask (price, quantity), zeros on an empty side.
fn top(market: &SymbolMarket) -> ((Decimal, Decimal), (Decimal, Decimal)) {
    let engine = market.engine();
    let none = (Decimal::ZERO, Decimal::ZERO);
    (
        engine.best_bid().unwrap_or(none),
        engine.best_ask().unwrap_or(none),
    )
}

/// A [`Window`] from the statistics of a 24-hour or a rolling ticker (two
/// types with the same fields).
macro_rules! window_of {
    ($t:expr) => {{
        let t = $t;
        Window {
            price_change: t.price_change,
            percent: t.price_change_percent,
            weighted: t.weighted_avg_price,
            open: t.open,
            high: t.high,
            low: t.low,
            last: t.last_price,
            volume: t.volume,
            quote_volume: t.quote_volume,
            times: (t.open_time.get(), t.close_time.get()),
            ids: (t.first_trade_id, t.last_trade_id),
            count: t.trade_count,
        }
    }};
}

/// One object for `symbol`, an array otherwise.
fn answer(q: &HashMap<String, String>, mut items: Vec<Value>) -> Response {
    match (q.contains_key("symbol"), items.len()) {
        (true, 1) => Json(items.remove(0)).into_response(),
        _ => Json(items).into_response(),
    }
}

/// `type=FULL` (default) or `MINI`.
fn mini(q: &HashMap<String, String>) -> Result<bool, Box<Response>> {
    match q.get("type").map(String::as_str) {
        None | Some("FULL") => Ok(false),
        Some("MINI") => Ok(true),
        Some(_) => Err(Box::new(binance_error(
            StatusCode::BAD_REQUEST,
            -1100,
            "Illegal characters found in parameter 'type'; legal range is 'FULL, MINI'.",
        ))),
    }
}

/// The window statistics every REST ticker shares, in Binance's key order;
/// zeros and ids of -1 before the symbol's first trade.
struct Window {
    price_change: Decimal,
    percent: Decimal,
    weighted: Decimal,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    last: Decimal,
    volume: Decimal,
    quote_volume: Decimal,
    times: (u64, u64),
    ids: (i64, i64),
    count: u64,
}

impl Window {
    fn idle(now: u64) -> Self {
        let z = Decimal::ZERO;
        Window {
            price_change: z,
            percent: z,
            weighted: z,
            open: z,
            high: z,
            low: z,
            last: z,
            volume: z,
            quote_volume: z,
            times: (now, now),
            ids: (-1, -1),
            count: 0,
        }
    }

    /// `symbol`, then the FULL fields up to `weightedAvgPrice` (unless
    /// `mini`), then `extra`, then prices, volumes, times and ids.
    fn json(&self, symbol: &str, mini: bool, extra: &[(&str, Decimal)]) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        put("symbol", symbol.into());
        if !mini {
            put("priceChange", SPOT.text(self.price_change).into());
            put(
                "priceChangePercent",
                SPOT.percent(self.percent).to_string().into(),
            );
            put("weightedAvgPrice", SPOT.text(self.weighted).into());
            for (k, v) in extra {
                put(k, SPOT.text(*v).into());
            }
        }
        put("openPrice", SPOT.text(self.open).into());
        put("highPrice", SPOT.text(self.high).into());
        put("lowPrice", SPOT.text(self.low).into());
        put("lastPrice", SPOT.text(self.last).into());
        put("volume", SPOT.text(self.volume).into());
        put("quoteVolume", SPOT.text(self.quote_volume).into());
        put("openTime", self.times.0.into());
        put("closeTime", self.times.1.into());
        put("firstId", self.ids.0.into());
        put("lastId", self.ids.1.into());
        put("count", self.count.into());
        Value::Object(m)
    }
}

/// The 24-hour ticker's fields between `weightedAvgPrice` and `openPrice`
/// (`lastPrice` comes here in the FULL form, after `lowPrice` in MINI).
const DAY_EXTRA: [&str; 7] = [
    "prevClosePrice",
    "lastPrice",
    "lastQty",
    "bidPrice",
    "bidQty",
    "askPrice",
    "askQty",
];

/// `GET /api/v3/ticker/24hr`.
pub(crate) async fn day(Request { s, meta: m, q }: Request) -> Response {
    let mini = match mini(&q) {
        Ok(mini) => mini,
        Err(e) => return *e,
    };
    let now = now_ms();
    let item = |market: &SymbolMarket| {
        let (bid, ask) = top(market);
        let symbol = &market.engine().spec().symbol;
        let Some(t) = market.stats().ticker(now, bid, ask) else {
            let extra = DAY_EXTRA.map(|k| (k, Decimal::ZERO));
            return Window::idle(now).json(symbol, mini, &extra);
        };
        let values = [
            t.prev_close,
            t.last_price,
            t.last_quantity,
            t.best_bid,
            t.best_bid_qty,
            t.best_ask,
            t.best_ask_qty,
        ];
        let extra: Vec<(&str, Decimal)> = DAY_EXTRA.into_iter().zip(values).collect();
        window_of!(&t).json(symbol, mini, &extra)
    };
    let weight = |asked: Option<usize>| match asked {
        Some(1..=20) => 2,
        Some(21..=100) => 40,
        _ => 80,
    };
    per_market(&s, &m, &q, weight, item).await
}

/// `GET /api/v3/ticker`: a rolling window (`windowSize` 1h, 4h or 1d, the
/// windows the simulator keeps; default 1d).
pub(crate) async fn rolling(Request { s, meta: m, q }: Request) -> Response {
    let mini = match mini(&q) {
        Ok(mini) => mini,
        Err(e) => return *e,
    };
    let window = match q.get("windowSize").map(String::as_str) {
        None | Some("1d") => RollingWindow::D1,
        Some("1h") => RollingWindow::H1,
        Some("4h") => RollingWindow::H4,
        Some(_) => {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1100,
                "Illegal characters found in parameter 'windowSize'; the simulator keeps 1h, 4h and 1d.",
            )
        }
    };
    if !q.contains_key("symbol") && !q.contains_key("symbols") {
        return binance_error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    }
    let now = now_ms();
    let item = |market: &SymbolMarket| {
        let symbol = &market.engine().spec().symbol;
        match market.stats().rolling(window, now) {
            Some(t) => window_of!(&t).json(symbol, mini, &[]),
            None => Window::idle(now).json(symbol, mini, &[]),
        }
    };
    let weight = |asked: Option<usize>| (4 * asked.unwrap_or(1)).min(200) as u32;
    per_market(&s, &m, &q, weight, item).await
}

/// `GET /api/v3/ticker/price`: the last trade price.
pub(crate) async fn price(Request { s, meta: m, q }: Request) -> Response {
    let item = |market: &SymbolMarket| {
        let engine = market.engine();
        let last = engine.trades().last().map_or(Decimal::ZERO, |f| f.price);
        json!({"symbol": engine.spec().symbol, "price": SPOT.text(last)})
    };
    per_market(&s, &m, &q, one_or_more, item).await
}

/// `GET /api/v3/ticker/bookTicker`: the best bid and ask.
pub(crate) async fn book(Request { s, meta: m, q }: Request) -> Response {
    let item = |market: &SymbolMarket| {
        let (bid, ask) = top(market);
        json!({
            "symbol": market.engine().spec().symbol,
            "bidPrice": SPOT.text(bid.0), "bidQty": SPOT.text(bid.1),
            "askPrice": SPOT.text(ask.0), "askQty": SPOT.text(ask.1),
        })
    };
    per_market(&s, &m, &q, one_or_more, item).await
}

/// The weight of `ticker/price` and `ticker/bookTicker`: 2 for one symbol,
/// 4 for several or all.
fn one_or_more(asked: Option<usize>) -> u32 {
    if asked == Some(1) {
        2
    } else {
        4
    }
}

/// `GET /api/v3/avgPrice`: the five-minute average, as the `avgPrice` stream.
pub(crate) async fn avg_price(Request { s, meta: m, q }: Request) -> Response {
    if !q.contains_key("symbol") {
        return binance_error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    }
    let (markets, _) = match chosen(&s, &q) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    let now = now_ms();
    let body = {
        let market = markets[0].lock().unwrap();
        let avg = market.stats().avg_price(now);
        json!({
            "mins": 5,
            "price": SPOT.text(avg.as_ref().map_or(Decimal::ZERO, |a| a.price)),
            "closeTime": avg.map_or(now, |a| a.last_trade_time.get()),
        })
    };
    s.weighed(&m, 2, async { Json(body).into_response() }).await
}
