//! The options server: its stream paths and its REST, on its own port, as
//! Binance serves the options system (streams on the USD-M host's routed
//! paths, REST on `eapi.binance.com`; reference §7).
//!
//! Streams: `/public/ws…`, `/public/stream…`, `/market/ws…`,
//! `/market/stream…`, and the legacy unrouted `/ws…` and `/stream…` older
//! connectors use (they get `/public` data). A stream of the other route is
//! accepted and stays silent, as on USD-M. Every connection runs the one
//! session loop with the stream protocol of [`crate::streams`].
//!
//! REST under `/eapi/v1`: `ping`, `time`, `exchangeInfo` and `depth`, whose
//! `lastUpdateId` is the engine's last update id, the `u` of the diff event
//! that carries it, so the §5.4 procedure syncs exactly.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use binance_types::venue::Route;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::api_error::binance_error;
use crate::clock::now_ms;
use crate::notation::fixed_scale;
use crate::options::{OptionSpec, OptionsMarket, PRICE_PLACES, QTY_PLACES};
use crate::shared::{ConnMeta, HasShared, Request, Shared};
use crate::streams::Names;

/// What the options server's handlers share.
#[derive(Clone)]
pub(crate) struct OptionsState {
    pub shared: Shared,
    pub market: Arc<OptionsMarket>,
}

impl HasShared for OptionsState {
    fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// Every route of the options server: stream paths and REST.
pub(crate) fn router(state: OptionsState) -> Router {
    let mut router = Router::new();
    for prefix in ["", Route::Public.path(), Route::Market.path()] {
        router = router
            .route(&format!("{prefix}/ws"), get(upgrade))
            .route(&format!("{prefix}/ws/{{*names}}"), get(upgrade))
            .route(&format!("{prefix}/stream"), get(upgrade));
    }
    router
        .route(
            "/eapi/v1/ping",
            get(crate::rest_futures::ping::<OptionsState>),
        )
        .route(
            "/eapi/v1/time",
            get(crate::rest_futures::time::<OptionsState>),
        )
        .route("/eapi/v1/exchangeInfo", get(exchange_info))
        .route("/eapi/v1/depth", get(depth))
        .fallback(crate::rest::not_found)
        .with_state(state)
}

/// Upgrade to a stream connection; the route is read from the path.
async fn upgrade(
    State(state): State<OptionsState>,
    Extension(meta): Extension<ConnMeta>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let path = uri.path();
    let (route, rest) = [Route::Public, Route::Market]
        .into_iter()
        .find_map(|r| path.strip_prefix(r.path()).map(|rest| (Some(r), rest)))
        .unwrap_or((None, path));
    let names = Names::Options {
        market: state.market.clone(),
        route,
    };
    crate::streams::open(state.shared, meta, rest, uri.query(), ws, names).await
}

/// `exchangeInfo`: the underlyings (`optionContracts`), the settle asset
/// (`optionAssets`), every option (`optionSymbols`) and the rate limits.
async fn exchange_info(
    State(v): State<OptionsState>,
    Extension(m): Extension<ConnMeta>,
) -> Response {
    let specs = v.market.specs();
    let mut contracts: Vec<Value> = Vec::new();
    let mut assets: Vec<Value> = Vec::new();
    for spec in &specs {
        let contract = json!({
            "baseAsset": spec.asset(), "quoteAsset": spec.spec.quote_asset,
            "underlying": spec.underlying, "settleAsset": spec.spec.quote_asset,
        });
        if !contracts.contains(&contract) {
            contracts.push(contract);
        }
        let asset = json!({ "name": spec.spec.quote_asset });
        if !assets.contains(&asset) {
            assets.push(asset);
        }
    }
    let limit = v.shared.limits.rest_weight_per_minute;
    let body = json!({
        "timezone": "UTC",
        "serverTime": now_ms(),
        "optionContracts": contracts,
        "optionAssets": assets,
        "optionSymbols": specs.iter().map(entry).collect::<Vec<_>>(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
    });
    v.shared
        .weighed(&m, 1, async { Json(body).into_response() })
        .await
}

/// One option's `optionSymbols` entry.
fn entry(o: &OptionSpec) -> Value {
    let s = &o.spec;
    json!({
        "expiryDate": o.expiry_ms,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": s.min_price.to_string(),
             "maxPrice": s.max_price.normalize().to_string(), "tickSize": s.tick_size.to_string()},
            {"filterType": "LOT_SIZE", "minQty": s.min_qty.to_string(), "maxQty": "10000",
             "stepSize": s.step_size.to_string()},
        ],
        "symbol": s.symbol,
        "side": o.side.as_str(),
        "strikePrice": o.strike.normalize().to_string(),
        "underlying": o.underlying,
        "unit": 1,
        "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0002",
        "minQty": s.min_qty.to_string(),
        "maxQty": "10000",
        "initialMargin": "0.15",
        "maintenanceMargin": "0.075",
        "minInitialMargin": "0.1",
        "minMaintenanceMargin": "0.05",
        "priceScale": PRICE_PLACES,
        "quantityScale": QTY_PLACES,
        "quoteAsset": s.quote_asset,
        "status": "TRADING",
    })
}

/// The limits `/eapi/v1/depth` takes; the default is 100.
const DEPTH_LIMITS: [usize; 6] = [10, 20, 50, 100, 500, 1000];

/// `/eapi/v1/depth?symbol=&limit=`: `{"bids","asks","T","lastUpdateId"}`,
/// weighed as the futures depth (2 up to 50 levels, 5 for 100, 10 for 500,
/// 20 for 1000).
async fn depth(Request { s: v, meta: m, q }: Request<OptionsState>) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if DEPTH_LIMITS.contains(&l) => l,
        Some(_) => {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1100,
                "Illegal characters found in parameter 'limit'; legal range is '10, 20, 50, 100, 500, 1000'.",
            )
        }
    };
    let Some(symbol) = q.get("symbol").filter(|s| !s.is_empty()) else {
        return binance_error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let Some(book) = v.market.depth(symbol, limit) else {
        return binance_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.");
    };
    let side = |levels: &[(Decimal, Decimal)]| -> Vec<[String; 2]> {
        levels
            .iter()
            .map(|&(p, q)| {
                [
                    fixed_scale(p, PRICE_PLACES).to_string(),
                    fixed_scale(q, QTY_PLACES).to_string(),
                ]
            })
            .collect()
    };
    let body = json!({
        "bids": side(&book.bids), "asks": side(&book.asks),
        "T": now_ms(), "lastUpdateId": book.last_update_id,
    });
    crate::rest_futures::depth_answer(&v.shared, &m, limit, body).await
}
