//! Stream names, symbols and their parts from arbitrary text.
//!
//! Checked: parsing never panics; a parsed name renders (`Display`) to a
//! name that parses to the same value and renders the same; the same holds
//! for symbols (via either case) and the interval, window and level enums;
//! serde agrees with `FromStr`.
#![no_main]

use binance_types::stream::{DepthLevels, KlineInterval, RollingWindow};
use binance_types::{StreamName, Symbol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<StreamName>() {
        Ok(name) => {
            let shown = name.to_string();
            let again: StreamName = shown.parse().unwrap_or_else(|e| {
                panic!("{text:?} renders as {shown:?}, which does not parse: {e}")
            });
            assert_eq!(again, name, "{text:?} renders as {shown:?}");
            assert_eq!(again.to_string(), shown);
            if let Some(symbol) = name.symbol() {
                assert!(shown.starts_with(&format!("{}@", symbol.to_lowercase())));
            }
            let json = serde_json::to_string(&name).expect("names serialise");
            assert_eq!(serde_json::from_str::<StreamName>(&json).ok(), Some(name));
        }
        Err(e) => {
            let _ = e.to_string();
            let json = serde_json::to_string(text).expect("strings serialise");
            assert!(serde_json::from_str::<StreamName>(&json).is_err());
        }
    }
    if let Ok(symbol) = Symbol::new(text) {
        for spelling in [symbol.as_str().to_owned(), symbol.to_lowercase()] {
            let again = Symbol::new(&spelling).unwrap_or_else(|e| {
                panic!("{text:?} is {symbol:?}, but {spelling:?} is refused: {e}")
            });
            assert_eq!(again, symbol, "{text:?} spelled {spelling:?}");
        }
    }
    if let Ok(v) = text.parse::<KlineInterval>() {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = text.parse::<RollingWindow>() {
        assert_eq!(v.as_str(), text);
    }
    if let Ok(v) = text.parse::<DepthLevels>() {
        assert_eq!(v.as_str(), text);
    }
});
