//! A futures venue's public REST (`/fapi/v1/…` on USD-M, `/dapi/v1/…` on
//! COIN-M): ping, time, exchangeInfo, the order-book snapshot, trades,
//! aggregate trades and klines, with request weights charged and reported
//! as spot's are ([`Shared::weighed`]).
//!
//! The snapshot's `lastUpdateId` is the engine's last update id, the `u` of
//! the diff event that carries it, so the §5.4 procedure syncs exactly.

use std::collections::HashMap;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use binance_types::venue::Venue;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::api_error::{binance_error, weight_by_limit};
use crate::clock::now_ms;
use crate::futures::{Contract, ContractSpec};
use crate::shared::{ConnMeta, HasShared, Request, Shared, VenueState};

/// The value, or the error answer.
macro_rules! answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return *response,
        }
    };
}

/// The REST routes of `venue`, under its prefix.
pub(crate) fn routes(venue: Venue) -> Router<VenueState> {
    let p = match venue {
        Venue::CoinM => "/dapi/v1",
        _ => "/fapi/v1",
    };
    Router::new()
        .route(&format!("{p}/ping"), get(ping::<VenueState>))
        .route(&format!("{p}/time"), get(time::<VenueState>))
        .route(&format!("{p}/exchangeInfo"), get(exchange_info))
        .route(&format!("{p}/depth"), get(depth))
        .route(&format!("{p}/trades"), get(trades))
        .route(&format!("{p}/aggTrades"), get(agg_trades))
        .route(&format!("{p}/klines"), get(klines))
}

/// `ping` (weight 1), on the futures venues and options.
pub(crate) async fn ping<S: HasShared>(
    State(v): State<S>,
    Extension(m): Extension<ConnMeta>,
) -> Response {
    v.shared()
        .weighed(&m, 1, async { Json(json!({})).into_response() })
        .await
}

/// `time` (weight 1), on the futures venues and options.
pub(crate) async fn time<S: HasShared>(
    State(v): State<S>,
    Extension(m): Extension<ConnMeta>,
) -> Response {
    v.shared()
        .weighed(&m, 1, async {
            Json(json!({ "serverTime": now_ms() })).into_response()
        })
        .await
}

async fn exchange_info(State(v): State<VenueState>, Extension(m): Extension<ConnMeta>) -> Response {
    let venue = v.market.venue();
    let symbols: Vec<Value> = v.market.specs().iter().map(|c| entry(venue, c)).collect();
    let limit = v.shared.limits.rest_weight_per_minute;
    let rate_limits = json!([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]);
    let body = match venue {
        Venue::CoinM => json!({
            "timezone": "UTC", "serverTime": now_ms(), "rateLimits": rate_limits,
            "exchangeFilters": [], "symbols": symbols,
        }),
        _ => json!({
            "timezone": "UTC", "serverTime": now_ms(), "futuresType": "U_MARGINED",
            "rateLimits": rate_limits, "exchangeFilters": [], "assets": [], "symbols": symbols,
        }),
    };
    v.shared
        .weighed(&m, 1, async { Json(body).into_response() })
        .await
}

/// One contract's `exchangeInfo` entry.
fn entry(venue: Venue, c: &ContractSpec) -> Value {
    let s = &c.spec;
    let filters = json!([
        {"minPrice": s.min_price.to_string(), "maxPrice": s.max_price.to_string(),
         "filterType": "PRICE_FILTER", "tickSize": s.tick_size.to_string()},
        {"stepSize": s.step_size.to_string(), "filterType": "LOT_SIZE",
         "maxQty": "1000000", "minQty": s.min_qty.to_string()},
    ]);
    match venue {
        Venue::CoinM => json!({
            "symbol": s.symbol, "pair": c.pair, "contractType": c.contract_type,
            "deliveryDate": c.delivery_ms, "onboardDate": c.onboard_ms,
            "contractStatus": "TRADING", "contractSize": c.contract_size,
            "marginAsset": s.base_asset, "baseAsset": s.base_asset, "quoteAsset": s.quote_asset,
            "pricePrecision": c.price_precision, "quantityPrecision": c.quantity_precision,
            "baseAssetPrecision": 8, "quotePrecision": 8, "filters": filters,
        }),
        _ => json!({
            "symbol": s.symbol, "pair": c.pair, "contractType": c.contract_type,
            "deliveryDate": c.delivery_ms, "onboardDate": c.onboard_ms, "status": "TRADING",
            "baseAsset": s.base_asset, "quoteAsset": s.quote_asset, "marginAsset": s.quote_asset,
            "pricePrecision": c.price_precision, "quantityPrecision": c.quantity_precision,
            "baseAssetPrecision": 8, "quotePrecision": 8, "filters": filters,
        }),
    }
}

/// Binance's error for a bad parameter value.
fn illegal(name: &str, legal: &str) -> Response {
    binance_error(
        StatusCode::BAD_REQUEST,
        -1100,
        &format!("Illegal characters found in parameter '{name}'; legal range is '{legal}'."),
    )
}

/// The contract of the `symbol` parameter, or Binance's error.
fn contract<'a>(
    v: &'a VenueState,
    q: &HashMap<String, String>,
) -> Result<&'a std::sync::Mutex<Contract>, Box<Response>> {
    let Some(symbol) = q.get("symbol") else {
        return Err(Box::new(binance_error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )));
    };
    v.market.contract(symbol).ok_or_else(|| {
        Box::new(binance_error(
            StatusCode::BAD_REQUEST,
            -1121,
            "Invalid symbol.",
        ))
    })
}

/// `limit` (default `default`, 1 to `max`).
fn limit(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, Box<Response>> {
    match q.get("limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) => Ok(n.clamp(1, max)),
            Err(_) => Err(Box::new(illegal("limit", "^[0-9]{1,20}$"))),
        },
    }
}

/// The futures depth weights (§5.4): 2 up to 50 levels, 5 for 100, 10 for
/// 500, 20 for 1000.
fn depth_weight(limit: usize) -> u32 {
    weight_by_limit(limit, &[(50, 2), (100, 5), (500, 10)], 20)
}

/// The limits `/depth` takes.
const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];

async fn depth(Request { s: v, meta: m, q }: Request<VenueState>) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 500,
        Some(Ok(l)) if DEPTH_LIMITS.contains(&l) => l,
        Some(_) => return illegal("limit", "5, 10, 20, 50, 100, 500, 1000"),
    };
    let contract = answer!(contract(&v, &q));
    let (book, format, spec) = {
        let c = contract.lock().unwrap();
        (c.engine().depth(limit), c.format(), c.spec().clone())
    };
    let now = now_ms();
    let side = |levels: &[(Decimal, Decimal)]| -> Vec<[String; 2]> {
        levels
            .iter()
            .map(|&(p, q)| [format.price(p).to_string(), format.qty(q).to_string()])
            .collect()
    };
    let body = match format.venue {
        Venue::CoinM => json!({
            "lastUpdateId": book.last_update_id, "E": now, "T": now,
            "symbol": spec.spec.symbol, "pair": spec.pair,
            "bids": side(&book.bids), "asks": side(&book.asks),
        }),
        _ => json!({
            "lastUpdateId": book.last_update_id, "E": now, "T": now,
            "bids": side(&book.bids), "asks": side(&book.asks),
        }),
    };
    depth_answer(&v.shared, &m, limit, body).await
}

/// A depth snapshot's answer, weighed by its `limit` and sent after the
/// depth-delay fault (the futures venues and options).
pub(crate) async fn depth_answer(s: &Shared, m: &ConnMeta, limit: usize, body: Value) -> Response {
    let delay = s.faults.depth_delay();
    s.weighed(m, depth_weight(limit), async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Json(body).into_response()
    })
    .await
}

/// `/trades`: the latest trades (weight 5).
async fn trades(Request { s: v, meta: m, q }: Request<VenueState>) -> Response {
    let (limit, contract) = answer!(limit(&q, 500, 1000).and_then(|l| Ok((l, contract(&v, &q)?))));
    let list: Vec<Value> = {
        let c = contract.lock().unwrap();
        let (f, size) = (c.format(), Decimal::from(c.spec().contract_size));
        let fills = c.engine().trades();
        fills[fills.len().saturating_sub(limit)..]
            .iter()
            .map(|t| {
                let (price, qty) = (f.price(t.price).to_string(), f.qty(t.qty).to_string());
                match f.venue {
                    Venue::CoinM => json!({
                        "id": t.trade_id, "price": price, "qty": qty,
                        "baseQty": f.quote(t.qty * size / t.price).to_string(),
                        "time": t.time_ms, "isBuyerMaker": t.buyer_is_maker,
                    }),
                    _ => json!({
                        "id": t.trade_id, "price": price, "qty": qty,
                        "quoteQty": f.quote(t.quote_qty).to_string(),
                        "time": t.time_ms, "isBuyerMaker": t.buyer_is_maker,
                    }),
                }
            })
            .collect()
    };
    v.shared
        .weighed(&m, 5, async { Json(list).into_response() })
        .await
}

/// `/aggTrades`: the latest aggregate trades, or from `fromId` (weight 20).
async fn agg_trades(Request { s: v, meta: m, q }: Request<VenueState>) -> Response {
    let (limit, contract) = answer!(limit(&q, 500, 1000).and_then(|l| Ok((l, contract(&v, &q)?))));
    let from_id = match q.get("fromId").map(|t| t.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return illegal("fromId", "^[0-9]{1,20}$"),
    };
    let list: Vec<Value> = {
        let c = contract.lock().unwrap();
        let f = c.format();
        let aggs = c.agg_trades();
        let first = c.first_agg_id();
        let start = match from_id {
            Some(id) => (id.saturating_sub(first) as usize).min(aggs.len()),
            None => aggs.len().saturating_sub(limit),
        };
        aggs[start..(start + limit).min(aggs.len())]
            .iter()
            .zip(first + start as u64..)
            .filter_map(|(&(lo, hi), id)| {
                let head = c.engine().trade(lo)?;
                let qty: Decimal = (lo..=hi)
                    .filter_map(|t| c.engine().trade(t))
                    .map(|t| t.qty)
                    .sum();
                Some(json!({
                    "a": id, "p": f.price(head.price).to_string(), "q": f.qty(qty).to_string(),
                    "f": lo, "l": hi, "T": head.time_ms, "m": head.buyer_is_maker,
                }))
            })
            .collect()
    };
    v.shared
        .weighed(&m, 20, async { Json(list).into_response() })
        .await
}

/// The klines weight by limit: 1 under 100, 2 under 500, 5 up to 1000, 10 above.
fn klines_weight(limit: usize) -> u32 {
    weight_by_limit(limit, &[(99, 1), (499, 2), (1000, 5)], 10)
}

/// `/klines`: candles made of the trades in the history window (periods
/// without a trade are left out).
async fn klines(Request { s: v, meta: m, q }: Request<VenueState>) -> Response {
    use binance_types::stream::{KlineInterval, KlineTimezone};
    let (limit, contract) = answer!(limit(&q, 500, 1500).and_then(|l| Ok((l, contract(&v, &q)?))));
    let interval = match q.get("interval").map(|i| i.parse::<KlineInterval>()) {
        Some(Ok(i)) if i != KlineInterval::S1 => i,
        _ => return binance_error(StatusCode::BAD_REQUEST, -1120, "Invalid interval."),
    };
    let rows: Vec<Value> = {
        let c = contract.lock().unwrap();
        let (f, size) = (c.format(), Decimal::from(c.spec().contract_size));
        let fills = c.engine().trades();
        let bounds = |t: u64| crate::stats::kline_bounds(interval, KlineTimezone::Utc, t);
        let candles: Vec<_> = fills
            .chunk_by(|a, b| bounds(a.time_ms) == bounds(b.time_ms))
            .collect();
        candles[candles.len().saturating_sub(limit)..]
            .iter()
            .map(|run| {
                let (open, next) = bounds(run[0].time_ms);
                let quote = |t: &crate::engine::Fill| match f.venue {
                    Venue::CoinM => t.qty * size / t.price,
                    _ => t.quote_qty,
                };
                let taker = |t: &&crate::engine::Fill| !t.buyer_is_maker;
                json!([
                    open,
                    f.price(run[0].price).to_string(),
                    f.price(run.iter().map(|t| t.price).max().unwrap_or_default())
                        .to_string(),
                    f.price(run.iter().map(|t| t.price).min().unwrap_or_default())
                        .to_string(),
                    f.price(run[run.len() - 1].price).to_string(),
                    f.qty(run.iter().map(|t| t.qty).sum()).to_string(),
                    next - 1,
                    f.quote(run.iter().map(quote).sum()).to_string(),
                    run.len(),
                    f.qty(run.iter().filter(taker).map(|t| t.qty).sum())
                        .to_string(),
                    f.quote(run.iter().filter(taker).map(quote).sum())
                        .to_string(),
                    "0",
                ])
            })
            .collect()
    };
    v.shared
        .weighed(&m, klines_weight(limit), async {
            Json(rows).into_response()
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::futures_wire::Format;

    #[test]
    fn depth_weights_follow_the_reference() {
        let weights: Vec<u32> = DEPTH_LIMITS.iter().map(|&l| depth_weight(l)).collect();
        assert_eq!(weights, [2, 2, 2, 2, 5, 10, 20]);
    }

    #[test]
    fn formats_are_per_contract() {
        let spec = &ContractSpec::usdm_builtin()[0];
        let f = Format {
            venue: Venue::UsdM,
            price: spec.price_precision,
            qty: spec.quantity_precision,
        };
        assert_eq!(f.price("87234.1".parse().unwrap()).to_string(), "87234.10");
        assert_eq!(f.qty("2".parse().unwrap()).to_string(), "2.000");
    }
}
