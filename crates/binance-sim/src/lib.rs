//! A simulated Binance spot exchange.

pub mod engine;
