//! Request signing for signed REST and WebSocket API requests.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `payload` under `secret`, as lowercase hex: Binance's
/// signature for HMAC API keys.
pub fn hmac_sha256_hex(secret: &[u8], payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// The payload Binance signs: parameters sorted by name, `key=value` joined
/// with `&` (values as given, not percent-encoded).
pub fn signing_payload<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut params: Vec<_> = params.into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(b.0));
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}
