//! Every order and trade of the accounts, kept for the queries Binance
//! answers: one order (`GET /api/v3/order`, `order.status`), the open ones
//! (`openOrders`), all of them (`allOrders`) and the account's trades
//! (`myTrades`), in Binance's layout.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::orders::UserOrder;
use super::report::fixed;
use super::request::Get;
use super::spec::Wallet;
use crate::api_error::ApiErr;
use crate::engine::{Fill, OrderStatus, Side};

/// An order as it stands, or as it ended.
#[derive(Clone)]
pub(super) struct Record {
    order: UserOrder,
    order_id: u64,
    status: OrderStatus,
    updated: u64,
}

/// One fill of an account's order.
pub(super) struct AccountTrade {
    account: usize,
    wallet: Wallet,
    symbol: String,
    trade_id: u64,
    order_id: u64,
    side: Side,
    commission_asset: String,
    price: Decimal,
    qty: Decimal,
    quote_qty: Decimal,
    time: u64,
    maker: bool,
}

/// The orders and trades of every account.
#[derive(Default)]
pub(super) struct Ledger {
    /// By (symbol, order id): ids are per symbol, as each symbol has its own engine.
    orders: BTreeMap<(String, u64), Record>,
    trades: Vec<AccountTrade>,
}

impl Ledger {
    /// Note an order's state after a change.
    pub(super) fn remember(
        &mut self,
        order: &UserOrder,
        order_id: u64,
        status: OrderStatus,
        now: u64,
    ) {
        let record = Record {
            order: order.clone(),
            order_id,
            status,
            updated: now,
        };
        self.orders.insert((order.symbol.clone(), order_id), record);
    }

    /// Note one fill of an account's order.
    pub(super) fn remember_trade(&mut self, order: &UserOrder, fill: &Fill, maker: bool) {
        self.trades.push(AccountTrade {
            account: order.account,
            wallet: order.wallet.clone(),
            symbol: order.symbol.clone(),
            trade_id: fill.trade_id,
            order_id: if maker {
                fill.maker_order_id
            } else {
                fill.taker_order_id
            },
            side: order.side,
            commission_asset: order.received_asset().to_owned(),
            price: fill.price,
            qty: fill.qty,
            quote_qty: fill.quote_qty,
            time: fill.time_ms,
            maker,
        });
    }
}

fn number(get: Get, name: &str) -> Result<Option<u64>, ApiErr> {
    get(name)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiErr::illegal(name, "^[0-9]{1,20}$"))
        })
        .transpose()
}

fn limit(get: Get) -> Result<usize, ApiErr> {
    Ok(number(get, "limit")?.unwrap_or(500).clamp(1, 1000) as usize)
}

fn symbol(get: Get) -> Result<String, ApiErr> {
    get("symbol").ok_or_else(|| ApiErr::missing("symbol"))
}

impl Record {
    fn is_open(&self) -> bool {
        matches!(self.status, OrderStatus::New | OrderStatus::PartiallyFilled)
    }

    /// The order in the layout of `GET /api/v3/order` and `order.status`.
    pub(super) fn json(&self) -> Value {
        let o = &self.order;
        let open = self.is_open();
        json!({
            "symbol": o.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": o.client_order_id, "price": fixed(o.price()),
            "origQty": fixed(o.qty), "executedQty": fixed(o.filled),
            "cummulativeQuoteQty": fixed(o.quote_filled), "status": self.status.as_str(),
            "timeInForce": o.kind.time_in_force().as_str(), "type": o.kind.as_str(),
            "side": o.side.as_str(),
            "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": o.created,
            "updateTime": self.updated, "isWorking": open || !o.filled.is_zero(),
            "workingTime": o.created, "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        })
    }
}

impl AccountTrade {
    fn json(&self) -> Value {
        json!({
            "symbol": self.symbol, "id": self.trade_id, "orderId": self.order_id,
            "orderListId": -1, "price": fixed(self.price), "qty": fixed(self.qty),
            "quoteQty": fixed(self.quote_qty), "commission": "0.00000000",
            "commissionAsset": self.commission_asset, "time": self.time,
            "isBuyer": self.side == Side::Buy, "isMaker": self.maker, "isBestMatch": true,
        })
    }
}

impl Ledger {
    /// One spot order of the account, by `orderId` or `origClientOrderId`.
    pub(super) fn query_order(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        let symbol = symbol(get)?;
        let order_id = number(get, "orderId")?;
        let client_id = get("origClientOrderId");
        if order_id.is_none() && client_id.is_none() {
            return Err(ApiErr::new(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        }
        self.orders
            .values()
            .find(|r| {
                r.order.account == account
                    && r.order.wallet == Wallet::Spot
                    && r.order.symbol == symbol
                    && order_id.is_none_or(|id| id == r.order_id)
                    && client_id
                        .as_deref()
                        .is_none_or(|c| c == r.order.client_order_id)
            })
            .map(Record::json)
            .ok_or_else(|| ApiErr::new(400, -2013, "Order does not exist."))
    }

    /// The account's open spot orders, of one symbol or all.
    pub(super) fn open_orders(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        let symbol = get("symbol");
        Ok(self.orders_where(account, |r| {
            r.is_open() && symbol.as_deref().is_none_or(|s| s == r.order.symbol)
        }))
    }

    /// The account's spot orders of a symbol: from `orderId` on, or within
    /// `startTime`..`endTime`, at most `limit` (oldest first).
    pub(super) fn all_orders(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        let symbol = symbol(get)?;
        let from = number(get, "orderId")?;
        let (start, end) = (number(get, "startTime")?, number(get, "endTime")?);
        let limit = limit(get)?;
        let Value::Array(all) = self.orders_where(account, |r| {
            r.order.symbol == symbol
                && from.is_none_or(|f| r.order_id >= f)
                && start.is_none_or(|t| r.order.created >= t)
                && end.is_none_or(|t| r.order.created <= t)
        }) else {
            unreachable!("orders_where answers an array")
        };
        // Without a starting point, the latest `limit`.
        let skip = match (from, start) {
            (None, None) => all.len().saturating_sub(limit),
            _ => 0,
        };
        Ok(Value::Array(
            all.into_iter().skip(skip).take(limit).collect(),
        ))
    }

    /// The account's spot trades of a symbol: of one `orderId`, from `fromId`,
    /// or within `startTime`..`endTime`, at most `limit` (oldest first).
    pub(super) fn my_trades(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        let symbol = symbol(get)?;
        let order_id = number(get, "orderId")?;
        let from = number(get, "fromId")?;
        let (start, end) = (number(get, "startTime")?, number(get, "endTime")?);
        let limit = limit(get)?;
        let chosen: Vec<&AccountTrade> = self
            .trades
            .iter()
            .filter(|t| {
                t.account == account
                    && t.wallet == Wallet::Spot
                    && t.symbol == symbol
                    && order_id.is_none_or(|id| id == t.order_id)
                    && from.is_none_or(|f| t.trade_id >= f)
                    && start.is_none_or(|s| t.time >= s)
                    && end.is_none_or(|e| t.time <= e)
            })
            .collect();
        let skip = match (from, start, order_id) {
            (None, None, None) => chosen.len().saturating_sub(limit),
            _ => 0,
        };
        Ok(Value::Array(
            chosen
                .into_iter()
                .skip(skip)
                .take(limit)
                .map(AccountTrade::json)
                .collect(),
        ))
    }

    /// The account's spot orders that pass `keep`, in (symbol, id) order.
    fn orders_where(&self, account: usize, keep: impl Fn(&Record) -> bool) -> Value {
        Value::Array(
            self.orders
                .values()
                .filter(|r| r.order.account == account && r.order.wallet == Wallet::Spot)
                .filter(|r| keep(r))
                .map(Record::json)
                .collect(),
        )
    }
}
