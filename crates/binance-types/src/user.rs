//! Spot user-data events: the account, its orders and its trades.
//!
//! They arrive bare (the retired listenKey stream) or, as Binance runs them
//! today, wrapped by the WebSocket API as `{"subscriptionId":N,"event":{…}}`;
//! [`crate::frame::decode`] takes both.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::time::{retimed, timeless, Millis, Time, TimeUnit};

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

/// One asset's balance in an [`OutboundAccountPosition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// `a`: asset.
    #[serde(rename = "a")]
    pub asset: String,
    /// `f`: free.
    #[serde(rename = "f", deserialize_with = "crate::decimal::de")]
    pub free: Decimal,
    /// `l`: locked.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub locked: Decimal,
}

/// `outboundAccountPosition`: balances that may have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "outboundAccountPosition", bound = "")]
pub struct OutboundAccountPosition<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `u`: time of the last account update.
    #[serde(rename = "u")]
    pub last_update_time: Time<U>,
    /// `B`: the balances.
    #[serde(rename = "B")]
    pub balances: Vec<Balance>,
}

/// `balanceUpdate`: a deposit, withdrawal or transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "balanceUpdate", bound = "")]
pub struct BalanceUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `a`: asset.
    #[serde(rename = "a")]
    pub asset: String,
    /// `d`: balance delta.
    #[serde(rename = "d", deserialize_with = "crate::decimal::de")]
    pub delta: Decimal,
    /// `T`: clear time.
    #[serde(rename = "T")]
    pub clear_time: Time<U>,
}

/// `externalLockUpdate`: part of the balance locked or unlocked by another system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "externalLockUpdate", bound = "")]
pub struct ExternalLockUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `a`: asset.
    #[serde(rename = "a")]
    pub asset: String,
    /// `d`: locked delta.
    #[serde(rename = "d", deserialize_with = "crate::decimal::de")]
    pub delta: Decimal,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
}

/// `eventStreamTerminated`: a WebSocket API user-data subscription ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "eventStreamTerminated", bound = "")]
pub struct EventStreamTerminated<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
}

/// `listenKeyExpired` (legacy listenKey streams): the key expired.
///
/// The key is a credential: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "listenKeyExpired", bound = "")]
pub struct ListenKeyExpired<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `listenKey`: the key that expired.
    #[serde(rename = "listenKey")]
    pub listen_key: String,
}

impl<U: TimeUnit> fmt::Debug for ListenKeyExpired<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenKeyExpired")
            .field("event_time", &self.event_time)
            .field("listen_key", &"<redacted>")
            .finish()
    }
}

/// An order in a [`ListStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOrder {
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `i`: order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// `c`: client order id.
    #[serde(rename = "c")]
    pub client_order_id: String,
}

/// `listStatus`: an order list (OCO, OTO, …) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "listStatus", bound = "")]
pub struct ListStatus<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `g`: order list id.
    #[serde(rename = "g")]
    pub order_list_id: i64,
    /// `c`: contingency type (`OCO`, …).
    #[serde(rename = "c")]
    pub contingency_type: String,
    /// `l`: list status type (`EXEC_STARTED`, `ALL_DONE`, …).
    #[serde(rename = "l")]
    pub list_status_type: String,
    /// `L`: list order status (`EXECUTING`, `ALL_DONE`, `REJECT`).
    #[serde(rename = "L")]
    pub list_order_status: String,
    /// `r`: reject reason.
    #[serde(rename = "r")]
    pub reject_reason: String,
    /// `C`: list client order id.
    #[serde(rename = "C")]
    pub list_client_order_id: String,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `O`: the orders of the list.
    #[serde(rename = "O")]
    pub orders: Vec<ListOrder>,
}

/// `executionReport`: any change to one of the account's orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "executionReport", bound = "")]
pub struct ExecutionReport<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `s`: the pair.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `c`: client order id.
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// `S`: side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `o`: order type (`LIMIT`, `MARKET`, …).
    #[serde(rename = "o")]
    pub order_type: String,
    /// `f`: time in force (`GTC`, `IOC`, `FOK`).
    #[serde(rename = "f")]
    pub time_in_force: String,
    /// `q`: order quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `p`: order price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `P`: stop price.
    #[serde(rename = "P", deserialize_with = "crate::decimal::de")]
    pub stop_price: Decimal,
    /// `F`: iceberg quantity.
    #[serde(rename = "F", deserialize_with = "crate::decimal::de")]
    pub iceberg_quantity: Decimal,
    /// `g`: order list id (-1 when none).
    #[serde(rename = "g")]
    pub order_list_id: i64,
    /// `C`: original client order id (of the order being cancelled).
    #[serde(rename = "C")]
    pub original_client_order_id: String,
    /// `x`: execution type (`NEW`, `CANCELED`, `REPLACED`, `REJECTED`, `TRADE`, `EXPIRED`, `TRADE_PREVENTION`).
    #[serde(rename = "x")]
    pub execution_type: String,
    /// `X`: order status.
    #[serde(rename = "X")]
    pub order_status: String,
    /// `r`: reject reason (`NONE` when not rejected).
    #[serde(rename = "r")]
    pub reject_reason: String,
    /// `i`: order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// `l`: last executed quantity.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub last_executed_quantity: Decimal,
    /// `z`: cumulative filled quantity.
    #[serde(rename = "z", deserialize_with = "crate::decimal::de")]
    pub cumulative_filled_quantity: Decimal,
    /// `L`: last executed price.
    #[serde(rename = "L", deserialize_with = "crate::decimal::de")]
    pub last_executed_price: Decimal,
    /// `n`: commission amount.
    #[serde(rename = "n", deserialize_with = "crate::decimal::de")]
    pub commission: Decimal,
    /// `N`: commission asset (`None` when no commission).
    #[serde(rename = "N")]
    pub commission_asset: Option<String>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `t`: trade id (-1 when not a trade).
    #[serde(rename = "t")]
    pub trade_id: i64,
    /// `v`: prevented match id (self-trade prevention only).
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub prevented_match_id: Option<u64>,
    /// `I`: execution id.
    #[serde(rename = "I")]
    pub execution_id: u64,
    /// `w`: the order is on the book.
    #[serde(rename = "w")]
    pub is_working: bool,
    /// `m`: this trade was the maker side.
    #[serde(rename = "m")]
    pub is_maker: bool,
    /// `M`: "ignore".
    #[serde(rename = "M")]
    pub ignore: bool,
    /// `O`: order creation time.
    #[serde(rename = "O")]
    pub order_creation_time: Time<U>,
    /// `Z`: cumulative quote quantity (average price = Z / z).
    #[serde(rename = "Z", deserialize_with = "crate::decimal::de")]
    pub cumulative_quote_quantity: Decimal,
    /// `Y`: last quote quantity.
    #[serde(rename = "Y", deserialize_with = "crate::decimal::de")]
    pub last_quote_quantity: Decimal,
    /// `Q`: quote order quantity.
    #[serde(rename = "Q", deserialize_with = "crate::decimal::de")]
    pub quote_order_quantity: Decimal,
    /// `W`: working time (when the order went on the book).
    #[serde(rename = "W", default, skip_serializing_if = "Option::is_none")]
    pub working_time: Option<Time<U>>,
    /// `V`: self-trade prevention mode.
    #[serde(rename = "V")]
    pub self_trade_prevention_mode: String,
    /// `d`: trailing delta (trailing orders only).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub trailing_delta: Option<u64>,
    /// `D`: trailing time (trailing orders only).
    #[serde(rename = "D", default, skip_serializing_if = "Option::is_none")]
    pub trailing_time: Option<Time<U>>,
    /// `j`: strategy id.
    #[serde(rename = "j", default, skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<i64>,
    /// `J`: strategy type.
    #[serde(rename = "J", default, skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<i64>,
    /// `A`: prevented quantity.
    #[serde(
        rename = "A",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub prevented_quantity: Option<Decimal>,
    /// `B`: last prevented quantity.
    #[serde(
        rename = "B",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub last_prevented_quantity: Option<Decimal>,
    /// `u`: trade group id.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub trade_group_id: Option<i64>,
    /// `U`: counter order id.
    #[serde(rename = "U", default, skip_serializing_if = "Option::is_none")]
    pub counter_order_id: Option<i64>,
    /// `Cs`: counter symbol.
    #[serde(rename = "Cs", default, skip_serializing_if = "Option::is_none")]
    pub counter_symbol: Option<String>,
    /// `pl`: prevented execution quantity.
    #[serde(
        rename = "pl",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub prevented_execution_quantity: Option<Decimal>,
    /// `pL`: prevented execution price.
    #[serde(
        rename = "pL",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub prevented_execution_price: Option<Decimal>,
    /// `pY`: prevented execution quote quantity.
    #[serde(
        rename = "pY",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub prevented_execution_quote_quantity: Option<Decimal>,
    /// `b`: match type (`ONE_PARTY_TRADE_REPORT`, …).
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    /// `a`: allocation id.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<i64>,
    /// `k`: working floor (`EXCHANGE`, `SOR`).
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub working_floor: Option<String>,
    /// `uS`: the smart order router was used.
    #[serde(rename = "uS", default, skip_serializing_if = "Option::is_none")]
    pub used_sor: Option<bool>,
    /// `eR`: why the order expired.
    #[serde(rename = "eR", default, skip_serializing_if = "Option::is_none")]
    pub expiry_reason: Option<String>,
}

/// The answer of the retired `POST/PUT/DELETE /api/v3/userDataStream`
/// (`{"listenKey":…}` or `{}`), still spoken by futures endpoints.
///
/// The key is a credential: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenKeyResponse {
    /// `listenKey`, when the call creates or returns one.
    #[serde(rename = "listenKey", default, skip_serializing_if = "Option::is_none")]
    pub listen_key: Option<String>,
}

impl fmt::Debug for ListenKeyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenKeyResponse")
            .field(
                "listen_key",
                &self.listen_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

retimed! {
    OutboundAccountPosition { event_time, last_update_time, balances }
    BalanceUpdate { event_time, asset, delta, clear_time }
    ExternalLockUpdate { event_time, asset, delta, transaction_time }
    EventStreamTerminated { event_time }
    ListenKeyExpired { event_time, listen_key }
    ListStatus {
        event_time, symbol, order_list_id, contingency_type, list_status_type,
        list_order_status, reject_reason, list_client_order_id, transaction_time,
        orders,
    }
    ExecutionReport {
        event_time, symbol, client_order_id, side, order_type, time_in_force, quantity,
        price, stop_price, iceberg_quantity, order_list_id, original_client_order_id,
        execution_type, order_status, reject_reason, order_id, last_executed_quantity,
        cumulative_filled_quantity, last_executed_price, commission, commission_asset,
        transaction_time, trade_id, prevented_match_id, execution_id, is_working,
        is_maker, ignore, order_creation_time, cumulative_quote_quantity,
        last_quote_quantity, quote_order_quantity, working_time,
        self_trade_prevention_mode, trailing_delta, trailing_time, strategy_id,
        strategy_type, prevented_quantity, last_prevented_quantity, trade_group_id,
        counter_order_id, counter_symbol, prevented_execution_quantity,
        prevented_execution_price, prevented_execution_quote_quantity, match_type,
        allocation_id, working_floor, used_sor, expiry_reason,
    }
}

timeless!(Side, Balance, ListOrder);
