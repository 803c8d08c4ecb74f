//! Binance's public REST endpoints (`/api/v3/…`) with request-weight
//! accounting: each answer carries `X-MBX-USED-WEIGHT-1M`; past the limit,
//! HTTP 429 with `Retry-After` and Binance's `-1003` error.

use std::collections::HashMap;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api_error::{binance_error, weight_by_limit};
use crate::clock::now_ms;
use crate::market::{partial, SymbolMarket};
use crate::notation::Notation;
use crate::rest_ticker;
use crate::shared::{ConnMeta, Request, Shared};

/// The REST answers are spot's.
const SPOT: Notation = Notation::Spot;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v3/ping", get(ping))
        .route("/api/v3/time", get(time))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route("/api/v3/depth", get(depth))
        .route("/api/v3/trades", get(trades))
        .route("/api/v3/historicalTrades", get(historical_trades))
        .route("/api/v3/aggTrades", get(agg_trades))
        .route("/api/v3/klines", get(klines))
        // The simulator's candles need no presentation tweaks: uiKlines are klines.
        .route("/api/v3/uiKlines", get(klines))
        .route(
            "/api/v3/userDataStream",
            get(gone).post(gone).put(gone).delete(gone),
        )
        .route("/api/v3/ticker/24hr", get(rest_ticker::day))
        .route("/api/v3/ticker/price", get(rest_ticker::price))
        .route("/api/v3/ticker/bookTicker", get(rest_ticker::book))
        .route("/api/v3/ticker", get(rest_ticker::rolling))
        .route("/api/v3/avgPrice", get(rest_ticker::avg_price))
}

/// A path Binance does not serve: its front end's 404 page (what clients
/// show, e.g. python-binance issue #1316: "Invalid JSON error message from
/// Binance: <html> … 404 Not Found … nginx").
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "text/html")],
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response()
}

async fn ping(State(s): State<Shared>, Extension(m): Extension<ConnMeta>) -> Response {
    s.weighed(&m, 1, async { Json(json!({})).into_response() })
        .await
}

async fn time(State(s): State<Shared>, Extension(m): Extension<ConnMeta>) -> Response {
    s.weighed(&m, 1, async {
        Json(json!({ "serverTime": s.accounts().server_time() })).into_response()
    })
    .await
}

async fn exchange_info(State(s): State<Shared>, Extension(m): Extension<ConnMeta>) -> Response {
    let doc = crate::exchange_info::document(
        s.exchange.market().exchange_info(),
        s.limits.rest_weight_per_minute,
        now_ms(),
    );
    s.weighed(&m, 20, async { Json(doc).into_response() }).await
}

/// The retired listenKey endpoint answers as Binance does since 2026-02-20.
async fn gone() -> Response {
    (
        StatusCode::GONE,
        [("content-type", "text/html")],
        "<html><body><h1>410 Gone</h1></body></html>",
    )
        .into_response()
}

fn missing(name: &str) -> Response {
    binance_error(
        StatusCode::BAD_REQUEST,
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

/// Binance's `-1100` error for a parameter that is not a whole number.
fn illegal(name: &str) -> Response {
    binance_error(
        StatusCode::BAD_REQUEST,
        -1100,
        &format!(
            "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ),
    )
}

/// An optional whole-number parameter; `Err` carries its name.
fn number<'a>(q: &HashMap<String, String>, name: &'a str) -> Result<Option<u64>, &'a str> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| name),
    }
}

/// `limit` with Binance's default and clamp.
fn limit(q: &HashMap<String, String>, default: u64, max: u64) -> Result<usize, &'static str> {
    Ok(number(q, "limit")?.unwrap_or(default).clamp(1, max) as usize)
}

macro_rules! try_or {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(name) => return illegal(name),
        }
    };
}

/// The market of the `symbol` parameter, or Binance's error for a missing
/// (`-1102`) or unknown (`-1121`) symbol.
fn symbol_market<'a>(
    s: &'a Shared,
    q: &HashMap<String, String>,
) -> Result<&'a std::sync::Mutex<SymbolMarket>, Box<Response>> {
    let symbol = q.get("symbol").ok_or_else(|| Box::new(missing("symbol")))?;
    s.exchange.market().symbol(symbol).ok_or_else(|| {
        Box::new(binance_error(
            StatusCode::BAD_REQUEST,
            -1121,
            "Invalid symbol.",
        ))
    })
}

macro_rules! try_or_answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return *response,
        }
    };
}

/// Binance's depth weights by limit.
fn depth_weight(limit: usize) -> u32 {
    weight_by_limit(limit, &[(100, 5), (500, 25), (1000, 50)], 250)
}

async fn depth(Request { s, meta: m, q }: Request) -> Response {
    let limit = try_or!(limit(&q, 100, 5000));
    let market = try_or_answer!(symbol_market(&s, &q));
    // Taken now, delivered late: a slow snapshot is also a stale one.
    let book = market.lock().unwrap().engine().depth(limit);
    let delay = s.faults.depth_delay();
    s.weighed(&m, depth_weight(limit), async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Json(partial(&book)).into_response()
    })
    .await
}

async fn trades(Request { s, meta: m, q }: Request) -> Response {
    trade_list(&s, &m, &q, None).await
}

/// `GET /api/v3/historicalTrades`: `/trades` from `fromId` on (the latest
/// without it).
async fn historical_trades(Request { s, meta: m, q }: Request) -> Response {
    let from_id = try_or!(number(&q, "fromId"));
    trade_list(&s, &m, &q, from_id).await
}

async fn trade_list(
    s: &Shared,
    m: &ConnMeta,
    q: &HashMap<String, String>,
    from_id: Option<u64>,
) -> Response {
    let limit = try_or!(limit(q, 500, 1000));
    let market = try_or_answer!(symbol_market(s, q));
    let list: Vec<Value> = {
        let market = market.lock().unwrap();
        let fills = market.engine().trades();
        let first_kept = fills.first().map_or(1, |f| f.trade_id);
        let chosen = match from_id {
            Some(from) if from < first_kept && !fills.is_empty() => {
                return outside_history("fromId", &format!("trade {from}"), first_kept)
            }
            Some(from) => {
                let start = fills.partition_point(|f| f.trade_id < from);
                &fills[start..(start + limit).min(fills.len())]
            }
            None => &fills[fills.len().saturating_sub(limit)..],
        };
        chosen
            .iter()
            .map(|f| {
                json!({
                    "id": f.trade_id, "price": SPOT.text(f.price), "qty": SPOT.text(f.qty),
                    "quoteQty": SPOT.text(f.quote_qty), "time": f.time_ms,
                    "isBuyerMaker": f.buyer_is_maker, "isBestMatch": true,
                })
            })
            .collect()
    };
    s.weighed(m, 25, async { Json(list).into_response() }).await
}

async fn agg_trades(Request { s, meta: m, q }: Request) -> Response {
    let limit = try_or!(limit(&q, 500, 1000));
    let from_id = try_or!(number(&q, "fromId"));
    let start = try_or!(number(&q, "startTime"));
    let end = try_or!(number(&q, "endTime"));
    if let (Some(a), Some(b)) = (start, end) {
        if b < a || b - a > 3_600_000 {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1127,
                "More than 1 hours between startTime and endTime.",
            );
        }
    }
    let market = try_or_answer!(symbol_market(&s, &q));
    let list: Vec<Value> = {
        let market = market.lock().unwrap();
        let engine = market.engine();
        let fill = |id: u64| engine.trade(id).expect("kept aggregates have kept trades");
        let first_agg = market.first_agg_id();
        if let Some(from) = from_id.filter(|&f| f < first_agg) {
            return outside_history("fromId", &format!("aggregate trade {from}"), first_agg);
        }
        // A time range is read from its start (the oldest trade without one).
        if from_id.is_none() && (start.is_some() || end.is_some()) {
            if let Some(before) = incomplete_before(engine, start.unwrap_or(0)) {
                return before;
            }
        }
        let numbered = market
            .agg_trades()
            .iter()
            .zip(first_agg..)
            .map(|(a, id)| (id, *a));
        let in_time = |(_, (first, _)): &(u64, (u64, u64))| {
            let t = fill(*first).time_ms;
            start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
        };
        let selected: Vec<(u64, (u64, u64))> = match (from_id, start, end) {
            (Some(from), _, _) => numbered
                .skip((from - first_agg) as usize)
                .take(limit)
                .collect(),
            (None, None, None) => numbered
                .skip(market.agg_trades().len().saturating_sub(limit))
                .collect(),
            _ => numbered.filter(in_time).take(limit).collect(),
        };
        selected
            .into_iter()
            .map(|(id, (first, last))| {
                let head = fill(first);
                let qty: rust_decimal::Decimal = (first..=last).map(|t| fill(t).qty).sum();
                json!({
                    "a": id, "p": SPOT.text(head.price), "q": SPOT.text(qty),
                    "f": first, "l": last, "T": head.time_ms, "m": head.buyer_is_maker, "M": true,
                })
            })
            .collect()
    };
    s.weighed(&m, 4, async { Json(list).into_response() }).await
}

/// Binance's `-1130` for a query reaching before the history window.
fn outside_history(param: &str, what: &str, oldest: impl std::fmt::Display) -> Response {
    binance_error(
        StatusCode::BAD_REQUEST,
        -1130,
        &format!(
            "Data sent for parameter '{param}' is not valid: {what} is older than the simulator's history window (oldest kept: {oldest}; widen it with --history)."
        ),
    )
}

/// The `-1130` answer when trades at or after `start_ms` were dropped from
/// the window, so an answer from `start_ms` would miss some.
fn incomplete_before(engine: &crate::engine::Engine, start_ms: u64) -> Option<Response> {
    let dropped = engine.dropped_trades_until_ms()?;
    (start_ms <= dropped).then(|| {
        outside_history(
            "startTime",
            &format!("time {start_ms}"),
            format!("trades after {dropped}"),
        )
    })
}

/// `GET /api/v3/klines`: candles from the trade log (periods without a trade
/// are left out, and so are candles some of whose trades left the history
/// window).
async fn klines(Request { s, meta: m, q }: Request) -> Response {
    use binance_types::stream::{KlineInterval, KlineTimezone};
    let limit = try_or!(limit(&q, 500, 1000));
    let start = try_or!(number(&q, "startTime"));
    let end = try_or!(number(&q, "endTime"));
    let market = try_or_answer!(symbol_market(&s, &q));
    let Some(interval) = q.get("interval") else {
        return missing("interval");
    };
    let Ok(interval) = interval.parse::<KlineInterval>() else {
        return binance_error(StatusCode::BAD_REQUEST, -1120, "Invalid interval.");
    };
    let timezone = match q.get("timeZone").map(String::as_str) {
        None | Some("0" | "+00:00" | "00:00") => KlineTimezone::Utc,
        Some("8" | "+8" | "+08:00" | "08:00") => KlineTimezone::Utc8,
        Some(_) => return binance_error(
            StatusCode::BAD_REQUEST,
            -1100,
            "Illegal characters found in parameter 'timeZone'; the simulator knows 0 and +08:00.",
        ),
    };
    let rows: Vec<Value> = {
        let market = market.lock().unwrap();
        let engine = market.engine();
        if let Some(before) = start.and_then(|t| incomplete_before(engine, t)) {
            return before;
        }
        let fills = engine.trades();
        let from = start.map_or(0, |t| fills.partition_point(|f| f.time_ms < t));
        let to = end.map_or(fills.len(), |t| fills.partition_point(|f| f.time_ms <= t));
        let dropped = engine.dropped_trades_until_ms();
        let candles: Vec<&[crate::engine::Fill]> = fills[from..to.max(from)]
            .chunk_by(|a, b| {
                crate::stats::kline_bounds(interval, timezone, a.time_ms)
                    == crate::stats::kline_bounds(interval, timezone, b.time_ms)
            })
            .filter(|run| {
                let (open, _) = crate::stats::kline_bounds(interval, timezone, run[0].time_ms);
                dropped.is_none_or(|d| open > d)
            })
            .collect();
        // With a start time, the first `limit` candles from it; otherwise the latest.
        let chosen = match start {
            Some(_) => &candles[..candles.len().min(limit)],
            None => &candles[candles.len().saturating_sub(limit)..],
        };
        chosen
            .iter()
            .map(|run| {
                let (open, next) = crate::stats::kline_bounds(interval, timezone, run[0].time_ms);
                let sum = |f: &dyn Fn(&crate::engine::Fill) -> rust_decimal::Decimal| -> rust_decimal::Decimal {
                    run.iter().map(f).sum()
                };
                let high = run.iter().map(|f| f.price).max().unwrap_or_default();
                let low = run.iter().map(|f| f.price).min().unwrap_or_default();
                json!([
                    open,
                    SPOT.text(run[0].price),
                    SPOT.text(high),
                    SPOT.text(low),
                    SPOT.text(run[run.len() - 1].price),
                    SPOT.text(sum(&|f| f.qty)),
                    next - 1,
                    SPOT.text(sum(&|f| f.quote_qty)),
                    run.len(),
                    SPOT.text(sum(&|f| if f.buyer_is_maker { rust_decimal::Decimal::ZERO } else { f.qty })),
                    SPOT.text(sum(&|f| if f.buyer_is_maker { rust_decimal::Decimal::ZERO } else { f.quote_qty })),
                    "0",
                ])
            })
            .collect()
    };
    s.weighed(&m, 2, async { Json(rows).into_response() }).await
}
