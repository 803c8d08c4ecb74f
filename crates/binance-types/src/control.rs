//! Live-subscription control messages on a stream connection: `SUBSCRIBE`,
//! `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`, their
//! results, and Binance's error codes for them.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A request id: Binance accepts a 64-bit integer, a string of up to 36
/// characters, or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Int(i64),
    /// A string id.
    Str(String),
    /// `null`.
    Null,
}

impl From<i64> for RequestId {
    fn from(id: i64) -> Self {
        RequestId::Int(id)
    }
}

impl From<&str> for RequestId {
    fn from(id: &str) -> Self {
        RequestId::Str(id.to_owned())
    }
}

/// A control request, as a client sends it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ControlRequest {
    /// `SUBSCRIBE` to streams (names as Binance spells them).
    Subscribe {
        /// Stream names.
        streams: Vec<String>,
        /// Request id.
        id: RequestId,
    },
    /// `UNSUBSCRIBE` from streams.
    Unsubscribe {
        /// Stream names.
        streams: Vec<String>,
        /// Request id.
        id: RequestId,
    },
    /// `LIST_SUBSCRIPTIONS`.
    ListSubscriptions {
        /// Request id.
        id: RequestId,
    },
    /// `SET_PROPERTY [name, value]` (only `combined` exists).
    SetProperty {
        /// Property name.
        property: String,
        /// New value.
        value: Value,
        /// Request id.
        id: RequestId,
    },
    /// `GET_PROPERTY [name]`.
    GetProperty {
        /// Property name.
        property: String,
        /// Request id.
        id: RequestId,
    },
}

const METHODS: &str =
    "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`";

/// The wire layout shared by every control request.
#[derive(Serialize, Deserialize)]
struct RawRequest {
    method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<Vec<Value>>,
    id: RequestId,
}

impl ControlRequest {
    /// The request's id.
    pub fn id(&self) -> &RequestId {
        match self {
            ControlRequest::Subscribe { id, .. }
            | ControlRequest::Unsubscribe { id, .. }
            | ControlRequest::ListSubscriptions { id }
            | ControlRequest::SetProperty { id, .. }
            | ControlRequest::GetProperty { id, .. } => id,
        }
    }

    /// Parse a request the way Binance's stream server does, with its error
    /// codes and messages; the error carries the request id when one could be
    /// read.
    pub fn parse(bytes: &[u8]) -> Result<ControlRequest, (RequestId, ControlError)> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            (
                RequestId::Null,
                ControlError::new(
                    3,
                    format!(
                        "Invalid JSON: expected value at line {} column {}",
                        e.line(),
                        e.column()
                    ),
                ),
            )
        })?;
        let Value::Object(map) = &value else {
            return Err((
                RequestId::Null,
                ControlError::new(2, "Invalid request: expected a JSON object"),
            ));
        };
        let id = match map.get("id") {
            Some(Value::Number(n)) if n.is_i64() => RequestId::Int(n.as_i64().unwrap_or_default()),
            Some(Value::String(s))
                if s.len() <= 36 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                RequestId::Str(s.clone())
            }
            Some(Value::Null) => RequestId::Null,
            _ => {
                return Err((
                    RequestId::Null,
                    ControlError::new(2, "Invalid request: request ID must be an unsigned integer"),
                ))
            }
        };
        let fail = |code, msg: &str| Err((id.clone(), ControlError::new(code, msg)));
        let Some(method) = map.get("method") else {
            return fail(
                2,
                &format!(
                    "Invalid request: missing field `method` at line 1 column {}",
                    bytes.len()
                ),
            );
        };
        let method = method.as_str().unwrap_or_default();
        let params = match map.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => return fail(2, "Invalid request: params must be an array"),
        };
        let streams = |params: Vec<Value>| -> Result<Vec<String>, (RequestId, ControlError)> {
            params
                .into_iter()
                .map(|p| match p {
                    Value::String(s) => Ok(s),
                    _ => Err((id.clone(), ControlError::invalid_stream())),
                })
                .collect()
        };
        match method {
            "SUBSCRIBE" => Ok(ControlRequest::Subscribe {
                streams: streams(params)?,
                id,
            }),
            "UNSUBSCRIBE" => Ok(ControlRequest::Unsubscribe {
                streams: streams(params)?,
                id,
            }),
            "LIST_SUBSCRIPTIONS" if params.is_empty() => Ok(ControlRequest::ListSubscriptions { id }),
            "LIST_SUBSCRIPTIONS" => fail(2, "Invalid request: too many parameters"),
            "SET_PROPERTY" | "GET_PROPERTY" => {
                let want = if method == "SET_PROPERTY" { 2 } else { 1 };
                if params.len() > want {
                    return fail(2, "Invalid request: too many parameters");
                }
                let Some(Value::String(property)) = params.first() else {
                    return fail(2, "Invalid request: property name must be a string");
                };
                if property != "combined" {
                    return Err((id.clone(), ControlError::new(0, "Unknown property")));
                }
                let property = property.clone();
                if method == "GET_PROPERTY" {
                    return Ok(ControlRequest::GetProperty { property, id });
                }
                match params.get(1) {
                    Some(value @ Value::Bool(_)) => Ok(ControlRequest::SetProperty {
                        property,
                        value: value.clone(),
                        id,
                    }),
                    _ => fail(1, "Invalid value type: expected Boolean"),
                }
            }
            other => fail(
                2,
                &format!(
                    "Invalid request: unknown variant `{other}`, expected one of {METHODS} at line 1 column 28"
                ),
            ),
        }
    }

    fn to_raw(&self) -> RawRequest {
        let strings = |s: &[String]| Some(s.iter().cloned().map(Value::String).collect());
        let (method, params) = match self {
            ControlRequest::Subscribe { streams, .. } => ("SUBSCRIBE", strings(streams)),
            ControlRequest::Unsubscribe { streams, .. } => ("UNSUBSCRIBE", strings(streams)),
            ControlRequest::ListSubscriptions { .. } => ("LIST_SUBSCRIPTIONS", None),
            ControlRequest::SetProperty {
                property, value, ..
            } => (
                "SET_PROPERTY",
                Some(vec![Value::String(property.clone()), value.clone()]),
            ),
            ControlRequest::GetProperty { property, .. } => {
                ("GET_PROPERTY", Some(vec![Value::String(property.clone())]))
            }
        };
        RawRequest {
            method: method.to_owned(),
            params,
            id: self.id().clone(),
        }
    }
}

impl Serialize for ControlRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ControlRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRequest::deserialize(d)?;
        let bytes = serde_json::to_vec(&raw).map_err(D::Error::custom)?;
        ControlRequest::parse(&bytes).map_err(|(_, e)| D::Error::custom(e))
    }
}

/// An error Binance's stream server answers a control request with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("stream server error {code}: {msg}")]
pub struct ControlError {
    /// Binance's code (0–3).
    pub code: i64,
    /// Binance's message.
    pub msg: String,
}

impl ControlError {
    /// An error with this code and message.
    pub fn new(code: i64, msg: impl Into<String>) -> Self {
        ControlError {
            code,
            msg: msg.into(),
        }
    }

    /// What Binance answers for an unknown or retired stream name.
    pub fn invalid_stream() -> Self {
        ControlError::new(2, "Invalid request: invalid stream")
    }
}

/// The answer to a control request.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlResponse {
    /// The id of the request answered.
    pub id: RequestId,
    /// `result` (`null` for success of a non-query request), or `error`.
    pub result: Result<Value, ControlError>,
}

#[derive(Serialize, Deserialize)]
struct RawResponse {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ControlError>,
    // The documented flat error form: {"code":..,"msg":..,"id":..}.
    #[serde(default, skip_serializing)]
    code: Option<i64>,
    #[serde(default, skip_serializing)]
    msg: Option<String>,
    #[serde(default = "null_id")]
    id: RequestId,
}

fn null_id() -> RequestId {
    RequestId::Null
}

/// `"result": null` is a present result, unlike a missing key.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Serialize for ControlResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (result, error) = match &self.result {
            Ok(v) => (Some(v.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        RawResponse {
            result,
            error,
            code: None,
            msg: None,
            id: self.id.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ControlResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawResponse::deserialize(d)?;
        let result = match (raw.result, raw.error, raw.code, raw.msg) {
            (_, Some(e), _, _) => Err(e),
            (_, None, Some(code), Some(msg)) => Err(ControlError { code, msg }),
            (Some(v), None, _, _) => Ok(v),
            _ => {
                return Err(D::Error::custom(
                    "control response has neither `result` nor `error`",
                ))
            }
        };
        Ok(ControlResponse { id: raw.id, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &str) -> ControlError {
        ControlRequest::parse(bytes.as_bytes()).unwrap_err().1
    }

    #[test]
    fn binance_error_codes() {
        assert_eq!(
            err(r#"{"method":"SUBSCRIBE","params":["a"],"id":1"#).code,
            3
        );
        assert_eq!(
            err(r#"{"method":"SUBSCRIBE","params":["a"]}"#).msg,
            "Invalid request: request ID must be an unsigned integer"
        );
        assert!(err(r#"{"method":"SUBSCRIB","id":1}"#)
            .msg
            .contains("unknown variant `SUBSCRIB`"));
        assert!(err(r#"{"params":[],"id":1}"#)
            .msg
            .contains("missing field `method`"));
        assert_eq!(
            err(r#"{"method":"GET_PROPERTY","params":["x"],"id":1}"#).code,
            0
        );
        assert_eq!(
            err(r#"{"method":"SET_PROPERTY","params":["combined",1],"id":1}"#).code,
            1
        );
        assert_eq!(
            err(r#"{"method":"GET_PROPERTY","params":[1],"id":1}"#).msg,
            "Invalid request: property name must be a string"
        );
        assert_eq!(
            err(r#"{"method":"LIST_SUBSCRIPTIONS","params":["x"],"id":1}"#).msg,
            "Invalid request: too many parameters"
        );
    }

    #[test]
    fn results_read_back_exactly() {
        // Found by fuzz/frame_decode, same in fuzz/control: without exact float parsing, a long number
        // read, written and read again became a different float.
        let text = format!(
            r#"{{"result":{},"id":1}}"#,
            "2".repeat(40) + &"3".repeat(78)
        );
        let once: ControlResponse = serde_json::from_str(&text).unwrap();
        let twice: ControlResponse =
            serde_json::from_str(&serde_json::to_string(&once).unwrap()).unwrap();
        assert_eq!(once, twice);
        for float in [
            "0.1",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "5e-324",
        ] {
            let v: Value = serde_json::from_str(float).unwrap();
            assert_eq!(
                v.as_f64().unwrap().to_string().parse::<f64>().unwrap(),
                v.as_f64().unwrap()
            );
            assert_eq!(serde_json::from_str::<Value>(&v.to_string()).unwrap(), v);
        }
    }

    #[test]
    fn responses_in_both_error_forms() {
        let nested: ControlResponse = serde_json::from_str(
            r#"{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}"#,
        )
        .unwrap();
        let flat: ControlResponse =
            serde_json::from_str(r#"{"code":2,"msg":"Invalid request: invalid stream","id":2}"#)
                .unwrap();
        assert_eq!(nested, flat);
        let ok: ControlResponse = serde_json::from_str(r#"{"result":null,"id":1}"#).unwrap();
        assert_eq!(ok.result, Ok(Value::Null));
    }
}
