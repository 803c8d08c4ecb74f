//! USD-M and COIN-M user-data events (reference §5.5): the account, its
//! positions and its orders, as a listenKey stream sends them.
//!
//! Field names are plain English; each maps to Binance's key. Balances,
//! prices and quantities are exact [`Decimal`]s. Where Binance lists the
//! values of a field (execution type, order status, position side, margin
//! type, the reason of an `ACCOUNT_UPDATE`) it is an enum with an `Other`
//! case, so a value Binance adds later still decodes. COIN-M adds `i` (the
//! account alias) to most events and `ma` (margin asset) to orders; they are
//! `Option`s here, absent on USD-M.
//!
//! ```
//! use binance_types::futures::user::{decode_futures_user, FuturesUserEvent};
//! let bytes = br#"{"e":"ACCOUNT_CONFIG_UPDATE","E":2,"T":1,"ac":{"s":"BTCUSDT","l":25}}"#;
//! let event = decode_futures_user(bytes).unwrap();
//! assert_eq!(event.event_type(), "ACCOUNT_CONFIG_UPDATE");
//! let FuturesUserEvent::AccountConfigUpdate(update) = event else { panic!("not a config update") };
//! assert_eq!(update.leverage.unwrap().leverage, 25);
//! ```

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::frame::{DecodeError, UnknownEvent};
use crate::time::{Millis, Time, TimeUnit};
pub use crate::user::{ListenKeyExpired, Side};

/// A string-valued field whose values Binance lists, open to values it adds
/// later (kept verbatim in `Other`).
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, as sent.
            Other(String),
        }

        impl $name {
            /// Binance's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Cow::<'de, str>::deserialize(d).map(|s| $name::from(s.as_ref()))
            }
        }
    };
}

open_enum! {
    /// `x`: what happened to an order.
    ExecutionType {
        /// `NEW`: accepted.
        New = "NEW",
        /// `CANCELED`.
        Canceled = "CANCELED",
        /// `CALCULATED`: liquidation or ADL.
        Calculated = "CALCULATED",
        /// `EXPIRED`.
        Expired = "EXPIRED",
        /// `TRADE`: a fill.
        Trade = "TRADE",
        /// `AMENDMENT`: price or quantity modified.
        Amendment = "AMENDMENT",
    }
}

open_enum! {
    /// `X`: an order's status.
    OrderStatus {
        /// `NEW`.
        New = "NEW",
        /// `PARTIALLY_FILLED`.
        PartiallyFilled = "PARTIALLY_FILLED",
        /// `FILLED`.
        Filled = "FILLED",
        /// `CANCELED`.
        Canceled = "CANCELED",
        /// `EXPIRED`.
        Expired = "EXPIRED",
        /// `EXPIRED_IN_MATCH`: expired by self-trade prevention.
        ExpiredInMatch = "EXPIRED_IN_MATCH",
    }
}

open_enum! {
    /// `ps`: the position an order or balance belongs to.
    PositionSide {
        /// `BOTH`: one-way mode.
        Both = "BOTH",
        /// `LONG` (hedge mode).
        Long = "LONG",
        /// `SHORT` (hedge mode).
        Short = "SHORT",
    }
}

open_enum! {
    /// `m` of an `ACCOUNT_UPDATE`: why the balances or positions changed.
    AccountUpdateReason {
        /// `DEPOSIT`.
        Deposit = "DEPOSIT",
        /// `WITHDRAW`.
        Withdraw = "WITHDRAW",
        /// `ORDER`: a fill.
        Order = "ORDER",
        /// `FUNDING_FEE`.
        FundingFee = "FUNDING_FEE",
        /// `WITHDRAW_REJECT`.
        WithdrawReject = "WITHDRAW_REJECT",
        /// `ADJUSTMENT`.
        Adjustment = "ADJUSTMENT",
        /// `INSURANCE_CLEAR`.
        InsuranceClear = "INSURANCE_CLEAR",
        /// `ADMIN_DEPOSIT`.
        AdminDeposit = "ADMIN_DEPOSIT",
        /// `ADMIN_WITHDRAW`.
        AdminWithdraw = "ADMIN_WITHDRAW",
        /// `MARGIN_TRANSFER`.
        MarginTransfer = "MARGIN_TRANSFER",
        /// `MARGIN_TYPE_CHANGE`.
        MarginTypeChange = "MARGIN_TYPE_CHANGE",
        /// `ASSET_TRANSFER`.
        AssetTransfer = "ASSET_TRANSFER",
        /// `OPTIONS_PREMIUM_FEE`.
        OptionsPremiumFee = "OPTIONS_PREMIUM_FEE",
        /// `OPTIONS_SETTLE_PROFIT`.
        OptionsSettleProfit = "OPTIONS_SETTLE_PROFIT",
        /// `AUTO_EXCHANGE`.
        AutoExchange = "AUTO_EXCHANGE",
        /// `COIN_SWAP_DEPOSIT`.
        CoinSwapDeposit = "COIN_SWAP_DEPOSIT",
        /// `COIN_SWAP_WITHDRAW`.
        CoinSwapWithdraw = "COIN_SWAP_WITHDRAW",
    }
}

/// `mt`: a position's margin type. Binance spells it `isolated`/`cross` in
/// `ACCOUNT_UPDATE` and `ISOLATED`/`CROSSED` in `MARGIN_CALL`; both decode
/// here, and each event writes its own spelling back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MarginType {
    /// Isolated margin.
    Isolated,
    /// Cross margin.
    Cross,
    /// A value this version does not know, as sent.
    Other(String),
}

impl MarginType {
    fn from_wire(s: &str) -> Self {
        match s {
            "isolated" | "ISOLATED" => MarginType::Isolated,
            "cross" | "CROSSED" => MarginType::Cross,
            other => MarginType::Other(other.to_owned()),
        }
    }

    /// The `ACCOUNT_UPDATE` spelling (`isolated`, `cross`).
    pub fn as_lowercase(&self) -> &str {
        match self {
            MarginType::Isolated => "isolated",
            MarginType::Cross => "cross",
            MarginType::Other(other) => other,
        }
    }

    /// The `MARGIN_CALL` spelling (`ISOLATED`, `CROSSED`).
    pub fn as_uppercase(&self) -> &str {
        match self {
            MarginType::Isolated => "ISOLATED",
            MarginType::Cross => "CROSSED",
            MarginType::Other(other) => other,
        }
    }
}

impl<'de> Deserialize<'de> for MarginType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cow::<'de, str>::deserialize(d).map(|s| MarginType::from_wire(&s))
    }
}

/// `serialize_with` for the `MARGIN_CALL` spelling.
fn margin_type_upper<S: Serializer>(mt: &MarginType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mt.as_uppercase())
}

/// `serialize_with` for the `ACCOUNT_UPDATE` spelling.
fn margin_type_lower<S: Serializer>(mt: &MarginType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mt.as_lowercase())
}

/// One asset's balance in an [`AccountUpdate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuturesBalance {
    /// `a`: asset.
    #[serde(rename = "a")]
    pub asset: String,
    /// `wb`: wallet balance.
    #[serde(rename = "wb", deserialize_with = "crate::decimal::de")]
    pub wallet_balance: Decimal,
    /// `cw`: cross wallet balance.
    #[serde(rename = "cw", deserialize_with = "crate::decimal::de")]
    pub cross_wallet_balance: Decimal,
    /// `bc`: balance change other than PnL and commission.
    #[serde(rename = "bc", deserialize_with = "crate::decimal::de")]
    pub balance_change: Decimal,
}

/// One position in an [`AccountUpdate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `pa`: position amount (negative when short; contracts on COIN-M).
    #[serde(rename = "pa", deserialize_with = "crate::decimal::de")]
    pub position_amount: Decimal,
    /// `ep`: entry price.
    #[serde(rename = "ep", deserialize_with = "crate::decimal::de")]
    pub entry_price: Decimal,
    /// `bep`: breakeven price.
    #[serde(rename = "bep", deserialize_with = "crate::decimal::de")]
    pub breakeven_price: Decimal,
    /// `cr`: accumulated realized PnL (before fees).
    #[serde(rename = "cr", deserialize_with = "crate::decimal::de")]
    pub accumulated_realized: Decimal,
    /// `up`: unrealized PnL.
    #[serde(rename = "up", deserialize_with = "crate::decimal::de")]
    pub unrealized_pnl: Decimal,
    /// `mt`: margin type (`isolated`, `cross`).
    #[serde(rename = "mt", serialize_with = "margin_type_lower")]
    pub margin_type: MarginType,
    /// `iw`: isolated wallet (isolated positions).
    #[serde(rename = "iw", deserialize_with = "crate::decimal::de")]
    pub isolated_wallet: Decimal,
    /// `ps`: position side.
    #[serde(rename = "ps")]
    pub position_side: PositionSide,
}

/// The `a` of an [`AccountUpdate`]: why, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountData {
    /// `m`: why.
    #[serde(rename = "m")]
    pub reason: AccountUpdateReason,
    /// `B`: balances that changed.
    #[serde(rename = "B")]
    pub balances: Vec<FuturesBalance>,
    /// `P`: positions that changed.
    #[serde(rename = "P")]
    pub positions: Vec<Position>,
}

/// `ACCOUNT_UPDATE`: balances or positions changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "ACCOUNT_UPDATE", bound = "")]
pub struct AccountUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `i`: account alias (COIN-M).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    /// `a`: the change.
    #[serde(rename = "a")]
    pub update: AccountData,
}

/// The `o` of an [`OrderTradeUpdate`]: the order as it now stands.
///
/// It is written back in the layout of its venue: with `ma` (COIN-M), `rp`
/// follows `t`; without it (USD-M), `rp` follows `ss`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(bound = "")]
pub struct FuturesOrder<U: TimeUnit = Millis> {
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `c`: client order id (`autoclose-…` for liquidations, `adl_autoclose` for ADL).
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// `S`: side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `o`: order type (`LIMIT`, `MARKET`, `STOP`, `TRAILING_STOP_MARKET`, `LIQUIDATION`, …).
    #[serde(rename = "o")]
    pub order_type: String,
    /// `f`: time in force (`GTC`, `IOC`, `FOK`, `GTX`, `GTD`).
    #[serde(rename = "f")]
    pub time_in_force: String,
    /// `q`: original quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `p`: original price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `ap`: average price.
    #[serde(rename = "ap", deserialize_with = "crate::decimal::de")]
    pub average_price: Decimal,
    /// `sp`: stop price.
    #[serde(rename = "sp", deserialize_with = "crate::decimal::de")]
    pub stop_price: Decimal,
    /// `x`: execution type.
    #[serde(rename = "x")]
    pub execution_type: ExecutionType,
    /// `X`: order status.
    #[serde(rename = "X")]
    pub order_status: OrderStatus,
    /// `i`: order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// `l`: last filled quantity.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub last_filled_quantity: Decimal,
    /// `z`: cumulative filled quantity.
    #[serde(rename = "z", deserialize_with = "crate::decimal::de")]
    pub cumulative_filled_quantity: Decimal,
    /// `L`: last filled price.
    #[serde(rename = "L", deserialize_with = "crate::decimal::de")]
    pub last_filled_price: Decimal,
    /// `ma`: margin asset (COIN-M).
    #[serde(rename = "ma", default)]
    pub margin_asset: Option<String>,
    /// `N`: commission asset (absent when there is no commission).
    #[serde(rename = "N", default)]
    pub commission_asset: Option<String>,
    /// `n`: commission (absent when there is no commission).
    #[serde(rename = "n", default, deserialize_with = "crate::decimal::de_opt")]
    pub commission: Option<Decimal>,
    /// `T`: order trade time.
    #[serde(rename = "T")]
    pub trade_time: Time<U>,
    /// `t`: trade id (0 when not a trade).
    #[serde(rename = "t")]
    pub trade_id: i64,
    /// `rp`: realized profit of the trade.
    #[serde(rename = "rp", deserialize_with = "crate::decimal::de")]
    pub realized_profit: Decimal,
    /// `b`: bids notional.
    #[serde(rename = "b", deserialize_with = "crate::decimal::de")]
    pub bids_notional: Decimal,
    /// `a`: asks notional.
    #[serde(rename = "a", deserialize_with = "crate::decimal::de")]
    pub asks_notional: Decimal,
    /// `m`: this trade was the maker side.
    #[serde(rename = "m")]
    pub is_maker: bool,
    /// `R`: reduce-only.
    #[serde(rename = "R")]
    pub is_reduce_only: bool,
    /// `wt`: stop price working type (`CONTRACT_PRICE`, `MARK_PRICE`).
    #[serde(rename = "wt")]
    pub working_type: String,
    /// `ot`: original order type.
    #[serde(rename = "ot")]
    pub original_order_type: String,
    /// `ps`: position side.
    #[serde(rename = "ps")]
    pub position_side: PositionSide,
    /// `cp`: close-all (conditional orders).
    #[serde(rename = "cp")]
    pub close_position: bool,
    /// `AP`: activation price (trailing stops only).
    #[serde(rename = "AP", default, deserialize_with = "crate::decimal::de_opt")]
    pub activation_price: Option<Decimal>,
    /// `cr`: callback rate (trailing stops only).
    #[serde(rename = "cr", default, deserialize_with = "crate::decimal::de_opt")]
    pub callback_rate: Option<Decimal>,
    /// `pP`: price protection.
    #[serde(rename = "pP")]
    pub price_protect: bool,
    /// `si`: ignore (USD-M).
    #[serde(rename = "si", default)]
    pub stop_order_id: Option<i64>,
    /// `ss`: ignore (USD-M).
    #[serde(rename = "ss", default)]
    pub strategy_id: Option<i64>,
    /// `V`: self-trade prevention mode (`EXPIRE_TAKER`, `EXPIRE_MAKER`, `EXPIRE_BOTH`, `NONE`).
    #[serde(rename = "V", default)]
    pub self_trade_prevention_mode: Option<String>,
    /// `pm`: price match mode (`NONE`, `OPPONENT`, `QUEUE`, …).
    #[serde(rename = "pm", default)]
    pub price_match: Option<String>,
    /// `gtd`: auto-cancel time of a `GTD` order (0 otherwise; USD-M).
    #[serde(rename = "gtd", default)]
    pub good_till_date: Option<u64>,
    /// `er`: why the order expired (`"0"` … `"11"`).
    #[serde(rename = "er", default)]
    pub expiry_reason: Option<String>,
}

impl<U: TimeUnit> Serialize for FuturesOrder<U> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// Write each entry whose value is present, in the order given.
        macro_rules! entries {
            ($map:ident; $($key:literal => $value:expr),+ $(,)?) => {
                $(if let Some(v) = Present::get(&$value) {
                    $map.serialize_entry($key, v)?;
                })+
            };
        }
        let coinm = self.margin_asset.is_some();
        let mut m = s.serialize_map(None)?;
        entries!(m;
            "s" => self.symbol, "c" => self.client_order_id, "S" => self.side,
            "o" => self.order_type, "f" => self.time_in_force, "q" => self.quantity,
            "p" => self.price, "ap" => self.average_price, "sp" => self.stop_price,
            "x" => self.execution_type, "X" => self.order_status, "i" => self.order_id,
            "l" => self.last_filled_quantity, "z" => self.cumulative_filled_quantity,
            "L" => self.last_filled_price, "ma" => self.margin_asset,
            "N" => self.commission_asset, "n" => self.commission, "T" => self.trade_time,
            "t" => self.trade_id,
        );
        if coinm {
            m.serialize_entry("rp", &self.realized_profit)?;
        }
        entries!(m;
            "b" => self.bids_notional, "a" => self.asks_notional, "m" => self.is_maker,
            "R" => self.is_reduce_only, "wt" => self.working_type,
            "ot" => self.original_order_type, "ps" => self.position_side,
            "cp" => self.close_position, "AP" => self.activation_price,
            "cr" => self.callback_rate, "pP" => self.price_protect,
            "si" => self.stop_order_id, "ss" => self.strategy_id,
        );
        if !coinm {
            m.serialize_entry("rp", &self.realized_profit)?;
        }
        entries!(m;
            "V" => self.self_trade_prevention_mode, "pm" => self.price_match,
            "gtd" => self.good_till_date, "er" => self.expiry_reason,
        );
        m.end()
    }
}

/// A field's value if it is to be written: always, or when `Some`.
trait Present {
    type Value: Serialize + ?Sized;
    fn get(&self) -> Option<&Self::Value>;
}

impl<T: Serialize> Present for Option<T> {
    type Value = T;
    fn get(&self) -> Option<&T> {
        self.as_ref()
    }
}

macro_rules! always_present {
    ($($t:ty),*) => {
        $(impl Present for $t {
            type Value = $t;
            fn get(&self) -> Option<&$t> {
                Some(self)
            }
        })*
    };
}

always_present!(
    String,
    Decimal,
    bool,
    u64,
    i64,
    Side,
    ExecutionType,
    OrderStatus,
    PositionSide
);

impl<U: TimeUnit> Present for Time<U> {
    type Value = Time<U>;
    fn get(&self) -> Option<&Time<U>> {
        Some(self)
    }
}

/// `ORDER_TRADE_UPDATE`: an order was created, filled, cancelled or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "ORDER_TRADE_UPDATE", bound = "")]
pub struct OrderTradeUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `i`: account alias (COIN-M).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    /// `o`: the order.
    #[serde(rename = "o")]
    pub order: FuturesOrder<U>,
}

/// `TRADE_LITE` (USD-M): a fill, sooner and shorter than its `ORDER_TRADE_UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "TRADE_LITE", bound = "")]
pub struct TradeLite<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `q`: original quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `p`: original price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `m`: this trade was the maker side.
    #[serde(rename = "m")]
    pub is_maker: bool,
    /// `c`: client order id.
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// `S`: side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `L`: last filled price.
    #[serde(rename = "L", deserialize_with = "crate::decimal::de")]
    pub last_filled_price: Decimal,
    /// `l`: last filled quantity.
    #[serde(rename = "l", deserialize_with = "crate::decimal::de")]
    pub last_filled_quantity: Decimal,
    /// `t`: trade id.
    #[serde(rename = "t")]
    pub trade_id: i64,
    /// `i`: order id.
    #[serde(rename = "i")]
    pub order_id: u64,
}

/// The `o` of an [`AlgoUpdate`]: a conditional (algo) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgoOrder {
    /// `caid`: client algo id.
    #[serde(rename = "caid")]
    pub client_algo_id: String,
    /// `aid`: algo id.
    #[serde(rename = "aid")]
    pub algo_id: u64,
    /// `at`: algo type (`CONDITIONAL`).
    #[serde(rename = "at")]
    pub algo_type: String,
    /// `o`: order type (`STOP`, `TAKE_PROFIT`, `TRAILING_STOP_MARKET`, …).
    #[serde(rename = "o")]
    pub order_type: String,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `S`: side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `ps`: position side.
    #[serde(rename = "ps")]
    pub position_side: PositionSide,
    /// `f`: time in force.
    #[serde(rename = "f")]
    pub time_in_force: String,
    /// `q`: quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::de")]
    pub quantity: Decimal,
    /// `X`: algo status (`NEW`, `CANCELED`, `TRIGGERING`, `TRIGGERED`,
    /// `FINISHED`, `REJECTED`, `EXPIRED`; the list is still growing).
    #[serde(rename = "X")]
    pub algo_status: String,
    /// `ai`: id of the order placed when triggered (`""` before).
    #[serde(rename = "ai")]
    pub order_id: String,
    /// `ap`: average fill price of the triggered order.
    #[serde(rename = "ap", deserialize_with = "crate::decimal::de")]
    pub average_price: Decimal,
    /// `aq`: executed quantity of the triggered order.
    #[serde(rename = "aq", deserialize_with = "crate::decimal::de")]
    pub executed_quantity: Decimal,
    /// `act`: the triggered order's actual type (`"0"` before).
    #[serde(rename = "act")]
    pub actual_order_type: String,
    /// `tp`: trigger price.
    #[serde(rename = "tp", deserialize_with = "crate::decimal::de")]
    pub trigger_price: Decimal,
    /// `p`: order price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::de")]
    pub price: Decimal,
    /// `V`: self-trade prevention mode.
    #[serde(rename = "V")]
    pub self_trade_prevention_mode: String,
    /// `wt`: trigger price working type.
    #[serde(rename = "wt")]
    pub working_type: String,
    /// `pm`: price match mode.
    #[serde(rename = "pm")]
    pub price_match: String,
    /// `cp`: close-all.
    #[serde(rename = "cp")]
    pub close_position: bool,
    /// `pP`: price protection.
    #[serde(rename = "pP")]
    pub price_protect: bool,
    /// `R`: reduce-only.
    #[serde(rename = "R")]
    pub is_reduce_only: bool,
    /// `tt`: trigger time (0 before).
    #[serde(rename = "tt")]
    pub trigger_time: u64,
    /// `gtd`: auto-cancel time of a `GTD` order (0 otherwise).
    #[serde(rename = "gtd")]
    pub good_till_date: u64,
    /// `rm`: why it failed, when it did.
    #[serde(rename = "rm", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `ALGO_UPDATE`: a conditional (algo) order changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "ALGO_UPDATE", bound = "")]
pub struct AlgoUpdate<U: TimeUnit = Millis> {
    /// `T`: transaction time (Binance writes it before `E` here).
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `o`: the algo order.
    #[serde(rename = "o")]
    pub order: AlgoOrder,
}

/// One position at risk in a [`MarginCall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginCallPosition {
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ps`: position side.
    #[serde(rename = "ps")]
    pub position_side: PositionSide,
    /// `pa`: position amount.
    #[serde(rename = "pa", deserialize_with = "crate::decimal::de")]
    pub position_amount: Decimal,
    /// `mt`: margin type (`CROSSED`, `ISOLATED`).
    #[serde(rename = "mt", serialize_with = "margin_type_upper")]
    pub margin_type: MarginType,
    /// `iw`: isolated wallet (isolated positions).
    #[serde(rename = "iw", deserialize_with = "crate::decimal::de")]
    pub isolated_wallet: Decimal,
    /// `mp`: mark price.
    #[serde(rename = "mp", deserialize_with = "crate::decimal::de")]
    pub mark_price: Decimal,
    /// `up`: unrealized PnL.
    #[serde(rename = "up", deserialize_with = "crate::decimal::de")]
    pub unrealized_pnl: Decimal,
    /// `mm`: maintenance margin required.
    #[serde(rename = "mm", deserialize_with = "crate::decimal::de")]
    pub maintenance_margin: Decimal,
}

/// `MARGIN_CALL`: positions close to liquidation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "MARGIN_CALL", bound = "")]
pub struct MarginCall<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `i`: account alias (COIN-M).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    /// `cw`: cross wallet balance (sent only with cross positions).
    #[serde(
        rename = "cw",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::decimal::de_opt"
    )]
    pub cross_wallet_balance: Option<Decimal>,
    /// `p`: the positions.
    #[serde(rename = "p")]
    pub positions: Vec<MarginCallPosition>,
}

/// The `ac` of an [`AccountConfigUpdate`]: a contract's new leverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeverageUpdate {
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `l`: leverage.
    #[serde(rename = "l")]
    pub leverage: u32,
}

/// The `ai` of an [`AccountConfigUpdate`]: the multi-assets mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiAssetsUpdate {
    /// `j`: multi-assets mode is on.
    #[serde(rename = "j")]
    pub multi_assets_mode: bool,
}

/// `ACCOUNT_CONFIG_UPDATE`: leverage (`ac`) or multi-assets mode (`ai`) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "ACCOUNT_CONFIG_UPDATE", bound = "")]
pub struct AccountConfigUpdate<U: TimeUnit = Millis> {
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `ac`: a leverage change.
    #[serde(rename = "ac", default, skip_serializing_if = "Option::is_none")]
    pub leverage: Option<LeverageUpdate>,
    /// `ai`: a multi-assets mode change.
    #[serde(rename = "ai", default, skip_serializing_if = "Option::is_none")]
    pub multi_assets: Option<MultiAssetsUpdate>,
}

open_enum! {
    /// `ss`: a strategy's status (grid trading).
    StrategyStatus {
        /// `NEW`.
        New = "NEW",
        /// `WORKING`.
        Working = "WORKING",
        /// `CANCELLED`.
        Cancelled = "CANCELLED",
        /// `EXPIRED`.
        Expired = "EXPIRED",
    }
}

/// The `gu` of a [`GridUpdate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// `si`: strategy id.
    #[serde(rename = "si")]
    pub strategy_id: u64,
    /// `st`: strategy type (`GRID`).
    #[serde(rename = "st")]
    pub strategy_type: String,
    /// `ss`: strategy status.
    #[serde(rename = "ss")]
    pub status: StrategyStatus,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `r`: realized profit.
    #[serde(rename = "r", deserialize_with = "crate::decimal::de")]
    pub realized_pnl: Decimal,
    /// `up`: unmatched average price.
    #[serde(rename = "up", deserialize_with = "crate::decimal::de")]
    pub unmatched_average_price: Decimal,
    /// `uq`: unmatched quantity.
    #[serde(rename = "uq", deserialize_with = "crate::decimal::de")]
    pub unmatched_quantity: Decimal,
    /// `uf`: unmatched fee.
    #[serde(rename = "uf", deserialize_with = "crate::decimal::de")]
    pub unmatched_fee: Decimal,
    /// `mp`: matched profit.
    #[serde(rename = "mp", deserialize_with = "crate::decimal::de")]
    pub matched_pnl: Decimal,
    /// `ut`: update time (milliseconds).
    #[serde(rename = "ut")]
    pub update_time: u64,
}

/// `GRID_UPDATE`: a sub-order of a grid strategy was filled, in part or
/// whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "GRID_UPDATE", bound = "")]
pub struct GridUpdate<U: TimeUnit = Millis> {
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `gu`: the grid.
    #[serde(rename = "gu")]
    pub grid: Grid,
}

/// The `su` of a [`StrategyUpdate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strategy {
    /// `si`: strategy id.
    #[serde(rename = "si")]
    pub strategy_id: u64,
    /// `st`: strategy type (`GRID`).
    #[serde(rename = "st")]
    pub strategy_type: String,
    /// `ss`: strategy status.
    #[serde(rename = "ss")]
    pub status: StrategyStatus,
    /// `s`: the contract.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `ut`: update time (milliseconds).
    #[serde(rename = "ut")]
    pub update_time: u64,
    /// `c`: the opCode saying why (8001 parameters changed, 8002 cancelled
    /// by the user, 8007 grid added, … 8015; see Binance's list).
    #[serde(rename = "c")]
    pub op_code: u32,
}

/// `STRATEGY_UPDATE`: a strategy was created, cancelled, expired, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "STRATEGY_UPDATE", bound = "")]
pub struct StrategyUpdate<U: TimeUnit = Millis> {
    /// `T`: transaction time.
    #[serde(rename = "T")]
    pub transaction_time: Time<U>,
    /// `E`: when the event was sent.
    #[serde(rename = "E")]
    pub event_time: Time<U>,
    /// `su`: the strategy.
    #[serde(rename = "su")]
    pub strategy: Strategy,
}

/// Everything a USD-M or COIN-M user-data (listenKey) stream sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged, bound = "")]
#[non_exhaustive]
// The variants hold their events unboxed, as the client codes against; one
// event of a few hundred bytes per frame costs nothing next to its parsing.
#[allow(clippy::large_enum_variant)]
pub enum FuturesUserEvent<U: TimeUnit = Millis> {
    /// `ACCOUNT_UPDATE`.
    AccountUpdate(AccountUpdate<U>),
    /// `ORDER_TRADE_UPDATE`.
    OrderTradeUpdate(OrderTradeUpdate<U>),
    /// `TRADE_LITE` (USD-M).
    TradeLite(TradeLite<U>),
    /// `ALGO_UPDATE`.
    AlgoUpdate(AlgoUpdate<U>),
    /// `MARGIN_CALL`.
    MarginCall(MarginCall<U>),
    /// `ACCOUNT_CONFIG_UPDATE`.
    AccountConfigUpdate(AccountConfigUpdate<U>),
    /// `listenKeyExpired`: the key expired; nothing more comes on it.
    ListenKeyExpired(ListenKeyExpired<U>),
    /// `GRID_UPDATE` (grid trading).
    GridUpdate(GridUpdate<U>),
    /// `STRATEGY_UPDATE` (grid trading).
    StrategyUpdate(StrategyUpdate<U>),
    /// An event this version does not know (newer ones), kept verbatim.
    Unknown(UnknownEvent),
}

impl<U: TimeUnit> FuturesUserEvent<U> {
    /// The event type (`e`): `"ORDER_TRADE_UPDATE"`, …; for an unknown
    /// event its `e`, or `""` when it has none.
    pub fn event_type(&self) -> &str {
        match self {
            FuturesUserEvent::AccountUpdate(_) => "ACCOUNT_UPDATE",
            FuturesUserEvent::OrderTradeUpdate(_) => "ORDER_TRADE_UPDATE",
            FuturesUserEvent::TradeLite(_) => "TRADE_LITE",
            FuturesUserEvent::AlgoUpdate(_) => "ALGO_UPDATE",
            FuturesUserEvent::MarginCall(_) => "MARGIN_CALL",
            FuturesUserEvent::AccountConfigUpdate(_) => "ACCOUNT_CONFIG_UPDATE",
            FuturesUserEvent::ListenKeyExpired(_) => "listenKeyExpired",
            FuturesUserEvent::GridUpdate(_) => "GRID_UPDATE",
            FuturesUserEvent::StrategyUpdate(_) => "STRATEGY_UPDATE",
            FuturesUserEvent::Unknown(raw) => raw.event_type_str().unwrap_or(""),
        }
    }

    /// When the event was sent (`E`); `None` for an unknown event without one.
    pub fn event_time(&self) -> Option<Time<U>> {
        match self {
            FuturesUserEvent::AccountUpdate(e) => Some(e.event_time),
            FuturesUserEvent::OrderTradeUpdate(e) => Some(e.event_time),
            FuturesUserEvent::TradeLite(e) => Some(e.event_time),
            FuturesUserEvent::AlgoUpdate(e) => Some(e.event_time),
            FuturesUserEvent::MarginCall(e) => Some(e.event_time),
            FuturesUserEvent::AccountConfigUpdate(e) => Some(e.event_time),
            FuturesUserEvent::ListenKeyExpired(e) => Some(e.event_time),
            FuturesUserEvent::GridUpdate(e) => Some(e.event_time),
            FuturesUserEvent::StrategyUpdate(e) => Some(e.event_time),
            FuturesUserEvent::Unknown(raw) => raw.event_time().map(Time::new),
        }
    }

    /// The JSON Binance sends for this event (a raw frame).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

/// Decode a futures user-data frame: a raw one (`{"e":…}`) or a combined
/// one (`{"stream":"<listenKey>","data":{…}}`).
///
/// The stream name of a combined frame is the listen key, a credential:
/// an error's snippet never shows it.
pub fn decode_futures_user(bytes: &[u8]) -> Result<FuturesUserEvent<Millis>, DecodeError> {
    decode(bytes).map_err(|e| {
        let error = DecodeError::new(bytes, &e);
        match serde_json::from_slice::<StreamOnly<'_>>(bytes) {
            Ok(StreamOnly { stream: Some(key) }) => error.without(&key),
            _ => error.without(&stream_prefix(bytes)),
        }
    })
}

/// Only the `stream` of a frame.
#[derive(Deserialize)]
struct StreamOnly<'a> {
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
}

/// The `stream` value of a frame too broken to parse, read by hand.
fn stream_prefix(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split_once(r#""stream":""#)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The keys that say what a frame is; everything else is skipped.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    e: Option<Cow<'a, str>>,
}

fn decode<U: TimeUnit>(bytes: &[u8]) -> Result<FuturesUserEvent<U>, serde_json::Error> {
    let head: Head<'_> = serde_json::from_slice(bytes)?;
    let (payload, e) = match (&head.stream, head.data) {
        (Some(_), Some(data)) => {
            let inner: Head<'_> = serde_json::from_str(data.get())?;
            (data.get().as_bytes(), inner.e)
        }
        _ => (bytes, head.e),
    };
    Ok(match e.as_deref() {
        Some("ACCOUNT_UPDATE") => FuturesUserEvent::AccountUpdate(serde_json::from_slice(payload)?),
        Some("ORDER_TRADE_UPDATE") => {
            FuturesUserEvent::OrderTradeUpdate(serde_json::from_slice(payload)?)
        }
        Some("TRADE_LITE") => FuturesUserEvent::TradeLite(serde_json::from_slice(payload)?),
        Some("ALGO_UPDATE") => FuturesUserEvent::AlgoUpdate(serde_json::from_slice(payload)?),
        Some("MARGIN_CALL") => FuturesUserEvent::MarginCall(serde_json::from_slice(payload)?),
        Some("ACCOUNT_CONFIG_UPDATE") => {
            FuturesUserEvent::AccountConfigUpdate(serde_json::from_slice(payload)?)
        }
        Some("listenKeyExpired") => {
            FuturesUserEvent::ListenKeyExpired(serde_json::from_slice(payload)?)
        }
        Some("GRID_UPDATE") => FuturesUserEvent::GridUpdate(serde_json::from_slice(payload)?),
        Some("STRATEGY_UPDATE") => {
            FuturesUserEvent::StrategyUpdate(serde_json::from_slice(payload)?)
        }
        _ => {
            let raw: &RawValue = serde_json::from_slice(payload)?;
            FuturesUserEvent::Unknown(UnknownEvent(raw.to_owned()))
        }
    })
}
