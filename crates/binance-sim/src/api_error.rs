//! Binance's error answers: the `{"code":…,"msg":…}` body every refusal
//! carries, with its HTTP status, and `Retry-After` when a limit was hit.
//! The bottom of the server: it imports nothing of the simulator.

use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use binance_types::wsapi::ApiError;
use serde_json::{json, Value};

/// Binance's answer to a refused request: HTTP status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    /// HTTP status (400, 401, 429…).
    pub status: u16,
    /// Binance's error code.
    pub code: i64,
    /// Binance's message.
    pub msg: String,
    /// What was done before the failure (`order.cancelReplace`'s results).
    pub data: Option<Value>,
}

impl ApiErr {
    pub(crate) fn new(status: u16, code: i64, msg: impl Into<String>) -> Self {
        ApiErr {
            status,
            code,
            msg: msg.into(),
            data: None,
        }
    }

    pub(crate) fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The error object of an answer: `code`, `msg`, and `data` when there is some.
    pub(crate) fn wire(&self) -> ApiError {
        ApiError {
            code: self.code,
            msg: self.msg.clone(),
            data: self.data.clone(),
        }
    }

    /// [`ApiErr::wire`] as JSON.
    pub(crate) fn body(&self) -> Value {
        serde_json::to_value(self.wire()).expect("errors serialise")
    }

    pub(crate) fn missing(name: &str) -> Self {
        ApiErr::new(
            400,
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    pub(crate) fn bad_key() -> Self {
        ApiErr::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    }

    pub(crate) fn illegal(name: &str, value: &str) -> Self {
        ApiErr::new(
            400,
            -1100,
            format!("Illegal characters found in parameter '{name}'; legal range is '{value}'."),
        )
    }

    pub(crate) fn insufficient() -> Self {
        ApiErr::new(
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        )
    }

    pub(crate) fn invalid_symbol() -> Self {
        ApiErr::new(400, -1121, "Invalid symbol.")
    }

    /// `-1003`: over the request weight of a minute.
    pub(crate) fn too_much_weight(limit: u32) -> Self {
        ApiErr::new(429, -1003, format!(
            "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
        ))
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// A bare Binance error answer.
pub(crate) fn binance_error(status: StatusCode, code: i64, msg: &str) -> Response {
    (status, Json(json!({ "code": code, "msg": msg }))).into_response()
}

/// A Binance error answer with `Retry-After` (whole seconds, at least one).
pub(crate) fn retry_after(status: StatusCode, wait: Duration, code: i64, msg: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = binance_error(status, code, msg);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        secs.to_string().parse().expect("digits"),
    );
    response
}

/// A request's weight by its `limit`: the weight of the first `(up to,
/// weight)` step `limit` fits in, else `above`.
pub(crate) fn weight_by_limit(limit: usize, steps: &[(usize, u32)], above: u32) -> u32 {
    steps
        .iter()
        .find(|(up_to, _)| limit <= *up_to)
        .map_or(above, |(_, w)| *w)
}
