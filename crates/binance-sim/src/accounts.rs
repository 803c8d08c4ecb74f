//! Simulated accounts: API keys (HMAC, Ed25519, RSA), balances in spot,
//! cross-margin and isolated-margin wallets, user orders and their fills,
//! listen tokens, and the user-data subscriptions that receive
//! `executionReport`, `outboundAccountPosition` and `balanceUpdate`
//! exactly as Binance formats them.
//!
//! Requests are checked the way Binance checks them: unknown key `-2015`,
//! bad signature `-1022`, timestamp outside `recvWindow` `-1021`, missing
//! parameter `-1102`, `recvWindow` over 60 000 `-1131`.
//!
//! One concern a file, each importing only those below it: `keys` (key
//! parsing and signatures), `spec` (accounts to create), `request`
//! (request parsing), `orders` (a user order and the money it moves),
//! `report` (what the accounts write), `subscriptions` (user-data
//! subscriptions and listen tokens), `ledger` (order and trade queries),
//! `state` (the shared state and the [`Accounts`] handle), `trading`
//! (holds, fills and cancels, run by the exchange).

mod keys;
mod ledger;
mod orders;
mod report;
mod request;
mod spec;
mod state;
mod subscriptions;
mod trading;

pub use crate::api_error::ApiErr;
pub use keys::KeyKind;
pub(crate) use request::{param_text, CancelRequest, Get, OrderRequest, Signed};
pub use spec::{AccountSpec, Wallet};
pub(crate) use state::random_id;
pub use state::Accounts;
pub(crate) use subscriptions::{Listener, SubTarget, Unsubscribe};
