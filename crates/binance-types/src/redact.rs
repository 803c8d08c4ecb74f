//! Keeping credentials out of `Debug` output and error messages.

use serde_json::Value;

/// Keys whose values are credentials, wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "apiKey",
    "signature",
    "listenKey",
    "listenToken",
    "secretKey",
    "token",
];

pub(crate) const REDACTED: &str = "<redacted>";

/// A copy of `value` with every credential replaced by `<redacted>`.
pub(crate) fn value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        self::value(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(self::value).collect()),
        other => other.clone(),
    }
}

/// The start of a frame, for an error message, cut before any credential key.
pub(crate) fn snippet(bytes: &[u8], max: usize) -> String {
    let mut end = bytes.len().min(max);
    for key in SECRET_KEYS {
        let needle = format!("\"{key}\"");
        if let Some(at) = find(
            &bytes[..bytes.len().min(max + needle.len())],
            needle.as_bytes(),
        ) {
            end = end.min(at);
        }
    }
    let text = String::from_utf8_lossy(&bytes[..end]);
    if end < bytes.len() {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nested_credentials_are_hidden() {
        let v = serde_json::json!({"params": {"apiKey": "K", "signature": "S", "symbol": "BTCUSDT"}, "result": [{"listenKey": "L"}]});
        let text = super::value(&v).to_string();
        assert!(!text.contains("\"K\"") && !text.contains("\"S\"") && !text.contains("\"L\""));
        assert!(text.contains("BTCUSDT"));
    }

    #[test]
    fn snippet_stops_before_a_credential() {
        let s = super::snippet(br#"{"id":1,"params":{"apiKey":"SECRET"}}"#, 64);
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.starts_with(r#"{"id":1"#));
    }
}
