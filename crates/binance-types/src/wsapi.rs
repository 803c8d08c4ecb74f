//! The WebSocket API (`/ws-api/v3`) envelope: requests, responses, rate
//! limits and errors. Method-specific parameters and results stay JSON
//! objects here; the client types the few it uses.
//!
//! Requests and responses may carry an API key, a signature or a listen
//! token: their `Debug` output shows `<redacted>` in place of each.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::control::RequestId;
use crate::redact;

/// A request to the WebSocket API.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WsApiRequest {
    /// Request id, echoed in the response.
    pub id: RequestId,
    /// Method name (`session.logon`, `userDataStream.subscribe.signature`, …).
    pub method: String,
    /// Parameters, when the method takes any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

impl fmt::Debug for WsApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsApiRequest")
            .field("id", &self.id)
            .field("method", &self.method)
            .field(
                "params",
                &self
                    .params
                    .as_ref()
                    .map(|p| redact::value(&Value::Object(p.clone()))),
            )
            .finish()
    }
}

/// A response from the WebSocket API.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WsApiResponse {
    /// The id of the request answered (`null` for unsolicited errors).
    pub id: RequestId,
    /// HTTP-like status (200, 400, 401, 403, 418, 429, …).
    pub status: u16,
    /// The result, on success. (Binance's old docs spelled it `response`
    /// for two retired methods; that spelling is read too.)
    #[serde(default, alias = "response", skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Rate-limit usage, when the session asked for it.
    #[serde(
        rename = "rateLimits",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limits: Option<Vec<RateLimit>>,
}

impl fmt::Debug for WsApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsApiResponse")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("result", &self.result.as_ref().map(redact::value))
            .field("error", &self.error)
            .field("rate_limits", &self.rate_limits)
            .finish()
    }
}

/// An error from the WebSocket API or REST: Binance's `{"code","msg"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Binance's error code (negative, e.g. `-1022` bad signature).
    pub code: i64,
    /// Binance's message.
    pub msg: String,
    /// Extra data (`serverTime`, `retryAfter` on bans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// One rate limit's current usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// `REQUEST_WEIGHT`, `ORDERS`, `RAW_REQUESTS`, `CONNECTIONS`.
    pub rate_limit_type: String,
    /// `SECOND`, `MINUTE`, `DAY`.
    pub interval: String,
    /// How many intervals the window spans.
    pub interval_num: u32,
    /// The limit.
    pub limit: u64,
    /// Usage so far (absent in `exchangeInfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// A user-data event as a WebSocket API subscription carries it:
/// `{"subscriptionId":N,"event":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionEvent<E> {
    /// `subscriptionId`: the subscription it belongs to.
    #[serde(rename = "subscriptionId")]
    pub subscription_id: u64,
    /// `event`: the event.
    pub event: E,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let req: WsApiRequest = serde_json::from_str(
            r#"{"id":1,"method":"session.logon","params":{"apiKey":"AKEY123","signature":"SIG456","timestamp":1}}"#,
        )
        .unwrap();
        let text = format!("{req:?}");
        assert!(
            !text.contains("AKEY123") && !text.contains("SIG456"),
            "{text}"
        );
        assert!(text.contains("session.logon"));
    }
}
