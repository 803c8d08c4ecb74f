//! Symbols from Binance's `exchangeInfo`, and `exchangeInfo` for ours.

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::engine::SymbolSpec;

/// Read the symbols of an `exchangeInfo` answer from a file: plain JSON, or a
/// capture line (`URL -> TIME: BODY`, as in `shared/captures/BINANCE.0`).
/// Returns each trading symbol's spec and its original entry.
pub fn load(path: &Path) -> Result<Vec<(SymbolSpec, Value)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = match text.trim_start().starts_with('{') {
        true => text.as_str(),
        false => text
            .lines()
            .next()
            .unwrap_or_default()
            .split_once(": ")
            .map(|(_, body)| body)
            .ok_or_else(|| format!("{}: neither JSON nor a capture line", path.display()))?,
    };
    let info: Value = serde_json::from_str(body).map_err(|e| format!("{}: {e}", path.display()))?;
    let symbols = info["symbols"]
        .as_array()
        .ok_or_else(|| format!("{}: no `symbols` array", path.display()))?;
    Ok(symbols
        .iter()
        .filter(|s| s["status"] == "TRADING")
        .filter_map(|s| spec(s).map(|spec| (spec, s.clone())))
        .collect())
}

fn spec(entry: &Value) -> Option<SymbolSpec> {
    let filter = |kind: &str| {
        entry["filters"]
            .as_array()?
            .iter()
            .find(|f| f["filterType"] == kind)
            .cloned()
    };
    let dec = |v: &Value| v.as_str()?.parse::<Decimal>().ok();
    let price = filter("PRICE_FILTER")?;
    let lot = filter("LOT_SIZE")?;
    let tick = dec(&price["tickSize"]).filter(|t| !t.is_zero())?;
    let step = dec(&lot["stepSize"]).filter(|s| !s.is_zero())?;
    let min_price = dec(&price["minPrice"])?.max(tick);
    let max_price = dec(&price["maxPrice"])?;
    // exchangeInfo has no price: start ten thousand ticks up, inside the filter.
    let initial = (tick * Decimal::from(10_000))
        .max(min_price)
        .min(max_price / Decimal::from(10));
    Some(SymbolSpec {
        symbol: entry["symbol"].as_str()?.to_owned(),
        base_asset: entry["baseAsset"].as_str()?.to_owned(),
        quote_asset: entry["quoteAsset"].as_str()?.to_owned(),
        tick_size: tick,
        step_size: step,
        min_qty: dec(&lot["minQty"])?.max(step),
        min_price,
        max_price,
        initial_price: (initial / tick).floor() * tick,
    })
}

/// An `exchangeInfo` entry for a built-in symbol, in Binance's layout.
pub fn entry(spec: &SymbolSpec) -> Value {
    json!({
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": false,
        "ocoAllowed": false,
        "quoteOrderQtyMarketAllowed": false,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": false,
        "filters": crate::filters::builtin(spec),
        "permissions": ["SPOT"],
    })
}

/// The `ORDERS` limit per ten seconds an account is told of.
pub const ORDERS_PER_10S: u32 = 100;
/// The `ORDERS` limit per day an account is told of.
pub const ORDERS_PER_DAY: u32 = 200_000;

/// The whole `exchangeInfo` answer.
pub fn document(
    entries: &BTreeMap<String, Value>,
    weight_per_minute: u32,
    server_time: u64,
) -> Value {
    json!({
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": ORDERS_PER_10S},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": ORDERS_PER_DAY},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": entries.values().collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_binance_capture() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/captures/BINANCE.0");
        let path = std::env::var("BINANCE_SHARED_DIR")
            .map(|d| std::path::PathBuf::from(d).join("captures/BINANCE.0"))
            .unwrap_or(path);
        let symbols = super::load(&path).unwrap();
        assert!(symbols.len() > 1000, "{}", symbols.len());
        let (eth, original) = symbols.iter().find(|(s, _)| s.symbol == "ETHBTC").unwrap();
        assert_eq!(eth.tick_size.to_string(), "0.00000100");
        assert_eq!(eth.step_size.to_string(), "0.00010000");
        assert_eq!(original["baseAsset"], "ETH");
        assert!(eth.initial_price >= eth.min_price && eth.initial_price <= eth.max_price);
        assert!((eth.initial_price / eth.tick_size).fract().is_zero());
    }
}
