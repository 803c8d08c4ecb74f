//! The machine's clock as Binance writes times: milliseconds since the epoch.

use binance_types::{Millis, Time};

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    Time::<Millis>::now().get()
}
