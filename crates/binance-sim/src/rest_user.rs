//! Signed REST endpoints: orders, the account, margin orders and the margin
//! listen token. Each is checked as Binance checks it (`X-MBX-APIKEY`,
//! `timestamp`, `recvWindow`, `signature` over the query string and body as
//! sent) and weighed like the public endpoints.

use std::collections::HashMap;

use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::accounts::{CancelRequest, OrderRequest, Signed, Wallet};
use crate::api_error::ApiErr;
use crate::clock::now_ms;
use crate::shared::{stream_query, ConnMeta, Shared};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v3/order",
            post(route(1, place, COUNTED))
                .delete(route(1, cancel, PLAIN))
                .get(route(4, query_order, PLAIN)),
        )
        .route("/api/v3/allOrders", get(route(20, all_orders, PLAIN)))
        .route(
            "/api/v3/openOrders",
            get(route(6, open_orders, PLAIN)).delete(route(1, cancel_all, PLAIN)),
        )
        .route("/api/v3/myTrades", get(route(20, my_trades, PLAIN)))
        .route(
            "/api/v3/order/cancelReplace",
            post(route(1, cancel_replace, COUNTED)),
        )
        .route("/api/v3/account", get(route(20, account, PLAIN)))
        .route(
            "/sapi/v1/margin/order",
            post(route(6, margin_place, PLAIN)).delete(route(10, margin_cancel, PLAIN)),
        )
        .route(
            "/sapi/v1/userListenToken",
            post(route(1, listen_token, PLAIN)),
        )
}

/// What a signed endpoint does once the request is authenticated.
type Run = fn(&Shared, Authed) -> Result<Value, ApiErr>;

/// `route`'s last argument: the endpoint places orders, and answers with
/// the account's order counts in `X-MBX-ORDER-COUNT-10S` / `-1D`.
const COUNTED: bool = true;
/// `route`'s last argument: the endpoint places no order.
const PLAIN: bool = false;

type Answer = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// A handler: weigh `weight`, authenticate, `run`; with [`COUNTED`], the
/// order counts.
fn route(
    weight: u32,
    run: Run,
    counts_orders: bool,
) -> impl Fn(State<Shared>, Extension<ConnMeta>, HeaderMap, RawQuery, String) -> Answer
       + Clone
       + Send
       + Sync
       + 'static {
    move |State(s), Extension(m), headers, RawQuery(q), body| {
        Box::pin(async move { answer(&s, &m, &headers, q, body, weight, run, counts_orders).await })
    }
}

/// A signed request's parameters and account.
pub(crate) struct Authed {
    /// The account.
    pub account: usize,
    params: HashMap<String, String>,
}

impl Authed {
    /// A parameter, when sent and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.params.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The wallet of a margin request (`isIsolated`, `symbol`).
    fn margin_wallet(&self) -> Result<Wallet, ApiErr> {
        match self.get("isIsolated").map(|v| v.to_uppercase()).as_deref() {
            Some("TRUE") => {
                let symbol = self
                    .get("symbol")
                    .ok_or_else(|| ApiErr::missing("symbol"))?;
                Ok(Wallet::Isolated(symbol.to_uppercase()))
            }
            None | Some("FALSE") => Ok(Wallet::Margin),
            Some(_) => Err(ApiErr::new(
                400,
                -1100,
                "Illegal characters found in parameter 'isIsolated'; legal range is 'TRUE, FALSE'.",
            )),
        }
    }
}

/// Check a signed request as Binance does (`X-MBX-APIKEY`, `timestamp`,
/// `recvWindow`, `signature` over the query string then the body, as sent):
/// its account and parameters.
pub(crate) fn authenticate(
    s: &Shared,
    headers: &HeaderMap,
    query: Option<String>,
    body: String,
) -> Result<Authed, ApiErr> {
    let query = query.unwrap_or_default();
    // Binance signs `totalParams`: the query string then the body, as sent.
    let without_signature = |text: &str| {
        text.split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("signature="))
            .collect::<Vec<_>>()
            .join("&")
    };
    let payload = format!("{}{}", without_signature(&query), without_signature(&body));
    let mut params = stream_query(Some(query));
    params.extend(stream_query(Some(body)));
    let key = api_key(headers)?;
    let signed = Signed::Rest {
        payload,
        params: &params,
    };
    let account = s.accounts().authenticate(Some(&key), &signed)?;
    Ok(Authed { account, params })
}

/// The `X-MBX-APIKEY` header; Binance's `-2014` when missing.
pub(crate) fn api_key(headers: &HeaderMap) -> Result<String, ApiErr> {
    headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| ApiErr::new(401, -2014, "API-key format invalid."))
}

/// Weigh, authenticate, run; count the order when it places one.
#[allow(clippy::too_many_arguments)]
async fn answer(
    s: &Shared,
    meta: &ConnMeta,
    headers: &HeaderMap,
    query: Option<String>,
    body: String,
    weight: u32,
    run: Run,
    counts_orders: bool,
) -> Response {
    let answer = async {
        match authenticate(s, headers, query, body) {
            Err(e) => e.into_response(),
            Ok(authed) => {
                let account = authed.account;
                let mut response = match run(s, authed) {
                    Ok(v) => Json(v).into_response(),
                    Err(e) => e.into_response(),
                };
                if counts_orders {
                    let (ten_seconds, day) = s.accounts().count_order(account, now_ms());
                    let h = response.headers_mut();
                    h.insert("x-mbx-order-count-10s", HeaderValue::from(ten_seconds));
                    h.insert("x-mbx-order-count-1d", HeaderValue::from(day));
                }
                response
            }
        }
    };
    s.weighed(meta, weight, answer).await
}

fn place_in(s: &Shared, a: &Authed, wallet: Wallet) -> Result<Value, ApiErr> {
    let get = |k: &str| a.get(k);
    let req = OrderRequest::parse(&get)?;
    s.exchange.place(a.account, wallet, req)
}

fn cancel_in(s: &Shared, a: &Authed) -> Result<Value, ApiErr> {
    let get = |k: &str| a.get(k);
    let req = CancelRequest::parse(&get)?;
    s.exchange.cancel(a.account, req)
}

fn place(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    place_in(s, &a, Wallet::Spot)
}

fn cancel(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    cancel_in(s, &a)
}

fn margin_place(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    let wallet = a.margin_wallet()?;
    place_in(s, &a, wallet)
}

fn query_order(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    s.accounts().query_order(a.account, &|k| a.get(k))
}

fn open_orders(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    s.accounts().open_orders(a.account, &|k| a.get(k))
}

fn all_orders(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    s.accounts().all_orders(a.account, &|k| a.get(k))
}

fn my_trades(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    s.accounts().my_trades(a.account, &|k| a.get(k))
}

fn cancel_all(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    let symbol = a.get("symbol").ok_or_else(|| ApiErr::missing("symbol"))?;
    s.exchange.cancel_all(a.account, &symbol)
}

fn cancel_replace(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    s.exchange.cancel_replace(a.account, &|k| a.get(k))
}

/// A margin cancel: the spot cancel's facts in the margin page's layout.
fn margin_cancel(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    let isolated = matches!(a.margin_wallet()?, Wallet::Isolated(_));
    let c = cancel_in(s, &a)?;
    Ok(serde_json::json!({
        "symbol": c["symbol"], "isIsolated": isolated, "orderId": c["orderId"],
        "origClientOrderId": c["origClientOrderId"], "clientOrderId": c["clientOrderId"],
        "price": c["price"], "origQty": c["origQty"], "executedQty": c["executedQty"],
        "cummulativeQuoteQty": c["cummulativeQuoteQty"], "status": c["status"],
        "timeInForce": c["timeInForce"], "type": c["type"], "side": c["side"],
    }))
}

fn account(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    Ok(s.accounts().account_json(a.account))
}

fn listen_token(s: &Shared, a: Authed) -> Result<Value, ApiErr> {
    let wallet = a.margin_wallet()?;
    let validity = match a.get("validity") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiErr::new(
                400,
                -1100,
                "Illegal characters found in parameter 'validity'; legal range is milliseconds up to 86400000.",
            )
        })?),
    };
    Ok(s.accounts().listen_token(a.account, wallet, validity))
}
