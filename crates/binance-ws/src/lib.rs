//! Binance real-time data for Rust: python-binance's `BinanceSocketManager`
//! without its defects.
//!
//! - One connection per stream, shared by every socket that asks for it.
//! - Reconnects with capped, jittered backoff; a connection that drops right
//!   after opening does not refill the retry budget; `Retry-After` is obeyed;
//!   when the budget runs out the socket ends with `Max reconnect retries reached`.
//! - Pings are answered by the read loop, which never waits on a reader; a
//!   silent connection is replaced; before Binance's 24-hour cut, and on
//!   `serverShutdown`, a fresh connection takes over with nothing lost and
//!   nothing repeated.
//! - Every socket reports its state changes as messages, and has a bounded
//!   queue with an overflow policy.
//! - User data as Binance serves it since the listenKey was switched off:
//!   [`SocketManager::user_socket`] (WebSocket API subscription, HMAC, Ed25519
//!   or RSA keys), [`SocketManager::margin_socket`] and
//!   [`SocketManager::isolated_margin_socket`] (listen tokens, renewed before
//!   they expire); resubscribed after every reconnect, carried by two
//!   connections so a drop loses nothing. [`WsApi`] for requests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), binance_ws::Error> {
//! use binance_ws::{Message, SocketManager};
//!
//! let manager = SocketManager::new();
//! let mut trades = manager.trade_socket("BNBBTC")?;
//! loop {
//!     match trades.recv().await? {
//!         Message::Event(e) => println!("{:?}", e.event),
//!         Message::Status(s) => eprintln!("{s:?}"),
//!         _ => {}
//!     }
//! }
//! # }
//! ```
//!
//! The rest of this page is the repository's README; its examples are
//! compiled (and the simulator's run) as this crate's doc tests.
#![doc = ""]
#![doc = include_str!("../../../README.md")]

mod auth;
mod config;
mod depth;
mod error;
mod futures;
mod futures_user;
mod ledger;
mod limiter;
mod link;
mod manager;
mod market;
mod message;
mod queue;
mod rest;
mod silence;
mod socket;
mod task_socket;
mod transport;
mod user;
mod wsapi;

pub use auth::{Credentials, KeyType, ENV_API_KEY, ENV_API_SECRET, ENV_PRIVATE_KEY_FILE};
pub use binance_types;
pub use binance_types::stream::{DepthLevels, KlineInterval, RollingWindow, UpdateSpeed};
pub use binance_types::{Event, Micros, Millis};
pub use config::{Endpoint, Overflow, Proxy, Reconnect, Retries};
pub use depth::{
    futures_snapshot_weight, snapshot_weight, CacheState, DepthCache, DepthCacheOptions,
    DepthCaches, DepthEvent,
};
pub use error::{Error, ErrorKind};
pub use futures_user::{FuturesUserSocket, DEFAULT_KEEPALIVE as FUTURES_LISTEN_KEY_KEEPALIVE};
pub use manager::{SocketManager, SocketManagerBuilder};
pub use message::{FuturesStreamEvent, Message, Position, RawFrame, Status, StreamEvent};
pub use socket::Socket;
pub use user::{UserSocket, UserStream};
pub use wsapi::WsApi;
