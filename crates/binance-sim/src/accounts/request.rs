//! Reading a request: the parameters Binance signs, the timestamp and
//! `recvWindow` check, and the order and cancel parameters.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::api_error::ApiErr;
use crate::engine::{NewOrder, Side, TimeInForce};

/// The request parameters Binance signs, as sent.
pub(crate) enum Signed<'a> {
    /// WebSocket API: every param but `signature`, sorted, `k=v&…`.
    Api(&'a Map<String, Value>),
    /// REST: the query string and body as sent, without `signature`.
    Rest {
        /// `totalParams` minus `&signature=…`.
        payload: String,
        /// The parameters, decoded.
        params: &'a HashMap<String, String>,
    },
}

/// A WebSocket API parameter's text as it is signed.
pub(crate) fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Signed<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        match self {
            Signed::Api(map) => map.get(name).map(param_text),
            Signed::Rest { params, .. } => params.get(name).cloned(),
        }
        .filter(|s| !s.is_empty())
    }

    pub(super) fn payload(&self) -> String {
        match self {
            Signed::Api(map) => {
                let mut keys: Vec<&String> = map.keys().filter(|k| *k != "signature").collect();
                keys.sort();
                keys.iter()
                    .map(|k| format!("{k}={}", param_text(&map[*k])))
                    .collect::<Vec<_>>()
                    .join("&")
            }
            Signed::Rest { payload, .. } => payload.clone(),
        }
    }
}

/// A request's parameters by name (REST query and body, or WS API params),
/// `None` when absent or empty.
pub(crate) type Get<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What `POST /api/v3/order` or `order.place` asks for.
///
/// `type`, `timeInForce` and `price` are read by [`OrderRequest::engine_order`],
/// once the symbol is known to be traded (Binance answers `-1121` first).
pub(crate) struct OrderRequest {
    /// `symbol`, uppercase.
    pub symbol: String,
    /// `side`.
    pub side: Side,
    /// `type` as sent.
    pub order_type: String,
    /// `timeInForce` as sent.
    pub time_in_force: Option<String>,
    /// `quantity`.
    pub quantity: Decimal,
    /// `price`.
    pub price: Option<Decimal>,
    /// `newClientOrderId`.
    pub client_order_id: Option<String>,
    /// `newOrderRespType` (`ACK`, `RESULT`, `FULL`).
    pub response_type: Option<String>,
}

impl OrderRequest {
    /// The order parameters of a request.
    pub(crate) fn parse(get: Get) -> Result<OrderRequest, ApiErr> {
        let need = |k: &str| get(k).ok_or_else(|| ApiErr::missing(k));
        let decimal = |k: &str, v: String| {
            Decimal::from_str(&v)
                .map_err(|_| ApiErr::illegal(k, "^([0-9]{1,20})(\\.[0-9]{1,20})?$"))
        };
        let side = match need("side")?.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => {
                return Err(ApiErr::new(
                    400,
                    -1100,
                    format!("Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'; got '{other}'."),
                ))
            }
        };
        Ok(OrderRequest {
            symbol: need("symbol")?.to_uppercase(),
            side,
            order_type: need("type")?,
            time_in_force: get("timeInForce"),
            quantity: decimal("quantity", need("quantity")?)?,
            price: get("price").map(|p| decimal("price", p)).transpose()?,
            client_order_id: get("newClientOrderId"),
            response_type: get("newOrderRespType"),
        })
    }
}

impl CancelRequest {
    /// The cancel parameters of a request (`symbol`, and `orderId` or
    /// `origClientOrderId`).
    pub(crate) fn parse(get: Get) -> Result<CancelRequest, ApiErr> {
        Ok(CancelRequest {
            symbol: get("symbol")
                .ok_or_else(|| ApiErr::missing("symbol"))?
                .to_uppercase(),
            order_id: get("orderId").and_then(|v| v.parse().ok()),
            orig_client_order_id: get("origClientOrderId"),
            new_client_order_id: get("newClientOrderId"),
        })
    }
}

/// What `DELETE /api/v3/order` or `order.cancel` asks for.
pub(crate) struct CancelRequest {
    /// `symbol`, uppercase.
    pub symbol: String,
    /// `orderId`.
    pub order_id: Option<u64>,
    /// `origClientOrderId`.
    pub orig_client_order_id: Option<String>,
    /// `newClientOrderId`: the canceled order's new client id.
    pub new_client_order_id: Option<String>,
}

impl OrderRequest {
    /// The engine's order for the request: `type` and `timeInForce` read.
    pub(crate) fn engine_order(&self) -> Result<NewOrder, ApiErr> {
        let price = || self.price.ok_or_else(|| ApiErr::missing("price"));
        match self.order_type.as_str() {
            "MARKET" => Ok(NewOrder::market(self.side, self.quantity)),
            "LIMIT" => {
                let tif = match self.time_in_force.as_deref() {
                    Some("GTC") => TimeInForce::Gtc,
                    Some("IOC") => TimeInForce::Ioc,
                    Some("FOK") => TimeInForce::Fok,
                    None => return Err(ApiErr::missing("timeInForce")),
                    Some(_) => return Err(ApiErr::illegal("timeInForce", "GTC, IOC, FOK")),
                };
                Ok(NewOrder::limit(self.side, price()?, self.quantity, tif))
            }
            "LIMIT_MAKER" => Ok(NewOrder::limit_maker(self.side, price()?, self.quantity)),
            _ => Err(ApiErr::new(
                400,
                -1116,
                "Invalid orderType. The simulator takes MARKET, LIMIT and LIMIT_MAKER.",
            )),
        }
    }
}

/// The timestamp and `recvWindow` of a signed request against the
/// exchange's clock `now`.
pub(super) fn check_time(signed: &Signed<'_>, now: u64) -> Result<(), ApiErr> {
    let timestamp = signed
        .get("timestamp")
        .ok_or_else(|| ApiErr::missing("timestamp"))?;
    let timestamp: u64 = timestamp
        .parse()
        .map_err(|_| ApiErr::illegal("timestamp", "an integer of ms or µs"))?;
    // Microsecond timestamps are accepted as Binance does.
    let timestamp_ms = if timestamp >= 100_000_000_000_000 {
        timestamp / 1000
    } else {
        timestamp
    };
    let window: Decimal = match signed.get("recvWindow") {
        None => Decimal::from(5000),
        Some(w) => {
            Decimal::from_str(&w).map_err(|_| ApiErr::illegal("recvWindow", "0 to 60000"))?
        }
    };
    if window > Decimal::from(60_000) || window.is_sign_negative() {
        return Err(ApiErr::new(
            400,
            -1131,
            "recvWindow must be less than 60000",
        ));
    }
    if timestamp_ms > now + 1000 {
        return Err(ApiErr::new(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if Decimal::from(now.saturating_sub(timestamp_ms)) > window {
        return Err(ApiErr::new(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}
