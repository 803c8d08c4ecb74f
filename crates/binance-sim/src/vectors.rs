//! Binance's examples in `shared/vectors`, for the unit tests that compare
//! the simulator's bytes with them.

use serde_json::Value;

/// The example at `vectors/<path>` (`BINANCE_SHARED_DIR`, or `shared/`
/// beside the repository).
pub(crate) fn vector(path: &str) -> Value {
    let shared = std::env::var("BINANCE_SHARED_DIR").map_or_else(
        |_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        std::path::PathBuf::from,
    );
    let path = shared.join("vectors").join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}
