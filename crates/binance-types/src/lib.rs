//! The Binance wire model (spot, plus USD-M and COIN-M futures market and
//! user data): no network I/O, just exact types.
//!
//! - [`stream`]: typed stream names (`btcusdt@trade`, `!miniTicker@arr`, …)
//!   that render to and parse from Binance's exact spelling.
//! - [`market`], [`user`]: every spot market and user-data event, with
//!   prices and quantities as exact [`Decimal`]s and times as [`Time`]s whose
//!   type says whether they are milliseconds or microseconds.
//! - [`control`], [`wsapi`]: live-subscription control messages and the
//!   WebSocket API request/response envelope.
//! - [`peek`]: what a frame is (data of which stream, an answer, a user
//!   event, `serverShutdown`) and its order key, without decoding it.
//! - [`frame`]: decode a raw or combined frame into a [`Frame`] in one pass,
//!   and encode it back to the JSON Binance sends.
//! - [`futures`]: USD-M and COIN-M futures stream names and events, and
//!   their user-data events ([`futures::user`]);
//!   [`options`]: European options stream names (with their routed
//!   paths) and events ([`options::decode_options`]);
//!   [`venue`]: which market, its hosts and (USD-M, options) routed paths.
//! - [`book`]: a price-level order book; [`book_sync`]: the spot and
//!   futures local order-book procedures as one state machine.
//! - [`sign`]: request signing.
//! - [`capture`]: the format of recorded traffic, read and written over
//!   `std::io` (plain or gzip).
//!
//! ```
//! use binance_types::{frame, Event};
//! let bytes = br#"{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}"#;
//! let frame = frame::decode(bytes).unwrap();
//! assert_eq!(frame.stream(), Some("bnbbtc@trade"));
//! let Event::Trade(trade) = frame.event else { panic!("not a trade") };
//! assert_eq!(trade.price.to_string(), "0.001");
//! ```

pub mod book;
pub mod book_sync;
pub mod capture;
pub mod control;
pub mod decimal;
mod event;
pub mod frame;
pub mod futures;
pub mod market;
pub mod options;
pub mod peek;
mod quick;
mod redact;
pub mod sign;
mod sniff;
pub mod stream;
pub mod time;
pub mod user;
pub mod venue;
pub mod wsapi;

pub use book::{Level, OrderBook};
pub use frame::{DecodeError, Event, Frame};
pub use rust_decimal::Decimal;
pub use stream::{StreamName, StreamNameError, Symbol};
pub use time::{Micros, Millis, Retime, Time, TimeUnit};
