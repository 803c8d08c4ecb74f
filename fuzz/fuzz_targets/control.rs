//! Control requests and responses (`binance_types::control`) and the
//! WebSocket API envelope (`binance_types::wsapi`) from arbitrary bytes.
//!
//! Checked: nothing panics (`Debug` included, which redacts credentials);
//! whatever is read serialises, and reads back to the same value; the serde
//! path of `ControlRequest` agrees with `ControlRequest::parse`.
#![no_main]

use std::fmt::Debug;

use binance_types::control::{ControlRequest, ControlResponse, RequestId};
use binance_types::wsapi::{ApiError, RateLimit, WsApiRequest, WsApiResponse};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|data: &[u8]| {
    match ControlRequest::parse(data) {
        Ok(request) => {
            let json = serde_json::to_vec(&request).expect("requests serialise");
            let again = ControlRequest::parse(&json).unwrap_or_else(|e| {
                panic!("{} does not parse: {e:?}", String::from_utf8_lossy(&json))
            });
            assert_eq!(again, request);
            if let Ok(via_serde) = serde_json::from_slice::<ControlRequest>(data) {
                assert_eq!(via_serde, request);
            }
        }
        Err((id, error)) => {
            let _ = (id, error.to_string());
        }
    }
    round_trip::<ControlResponse>(data);
    round_trip::<RequestId>(data);
    round_trip::<WsApiRequest>(data);
    round_trip::<WsApiResponse>(data);
    round_trip::<ApiError>(data);
    round_trip::<Vec<RateLimit>>(data);
});

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let _ = format!("{value:?}");
    let json = serde_json::to_vec(&value).expect("serialises");
    let again: T = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("{} does not read back: {e}", String::from_utf8_lossy(&json)));
    assert_eq!(again, value);
}
