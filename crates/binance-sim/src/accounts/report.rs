//! What the accounts write: the user-data events (`executionReport`,
//! `outboundAccountPosition`, `balanceUpdate`, `externalLockUpdate`) as the
//! wire model's types, and the order layouts of the REST and WebSocket API
//! answers, numbers as spot writes them.

use binance_types::user::{
    Balance, BalanceUpdate, ExecutionReport, ExternalLockUpdate, OutboundAccountPosition,
};
use binance_types::{Micros, Millis, Retime, Time};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::orders::{Balances, UserOrder};
use super::subscriptions::UserEvent;
use crate::engine::{Fill, OrderStatus};
use crate::notation::{Notation, Written};

/// A price or quantity as spot writes it in REST bodies.
pub(super) fn fixed(d: Decimal) -> String {
    Notation::Spot.text(d)
}

/// The event, numbers as spot writes them, in both time units.
pub(super) fn encode<T>(event: T) -> UserEvent
where
    T: serde::Serialize + Written + Retime<Micros>,
    T::Output: serde::Serialize,
{
    UserEvent::new(event.written(Notation::Spot))
}

/// One change of a user order, for its `executionReport`.
pub(super) struct Change<'a> {
    pub order_id: u64,
    /// `x`: `NEW`, `CANCELED`, `TRADE`, `EXPIRED`.
    pub execution: &'static str,
    /// `X`: the order's status after the change.
    pub status: OrderStatus,
    /// `C`: the client order id of the order canceled.
    pub orig_client_id: Option<&'a str>,
    /// `w`: the order is on the book.
    pub working: bool,
    /// The fill, and whether the order was its maker.
    pub fill: Option<(&'a Fill, bool)>,
    pub execution_id: u64,
    pub now: u64,
}

/// The `executionReport` of a change.
pub(super) fn execution_report(o: &UserOrder, c: &Change<'_>) -> UserEvent {
    let (l, lp, t, maker, y) = match c.fill {
        Some((f, maker)) => (f.qty, f.price, f.trade_id as i64, maker, f.quote_qty),
        None => (Decimal::ZERO, Decimal::ZERO, -1, false, Decimal::ZERO),
    };
    let now = Time::new(c.now);
    let report = ExecutionReport::<Millis> {
        event_time: now,
        symbol: o.symbol.clone(),
        client_order_id: o.client_order_id.clone(),
        side: o.side.into(),
        order_type: o.kind.as_str().into(),
        time_in_force: o.kind.time_in_force().as_str().into(),
        quantity: o.qty,
        price: o.price(),
        stop_price: Decimal::ZERO,
        iceberg_quantity: Decimal::ZERO,
        order_list_id: -1,
        original_client_order_id: c.orig_client_id.unwrap_or_default().into(),
        execution_type: c.execution.into(),
        order_status: c.status.as_str().into(),
        reject_reason: "NONE".into(),
        order_id: c.order_id,
        last_executed_quantity: l,
        cumulative_filled_quantity: o.filled,
        last_executed_price: lp,
        commission: Decimal::ZERO,
        commission_asset: None,
        transaction_time: now,
        trade_id: t,
        prevented_match_id: None,
        execution_id: c.execution_id,
        is_working: c.working,
        is_maker: maker,
        ignore: false,
        order_creation_time: Time::new(o.created),
        cumulative_quote_quantity: o.quote_filled,
        last_quote_quantity: y,
        quote_order_quantity: Decimal::ZERO,
        working_time: (c.working || c.fill.is_some()).then(|| Time::new(o.created)),
        self_trade_prevention_mode: "NONE".into(),
        trailing_delta: None,
        trailing_time: None,
        strategy_id: None,
        strategy_type: None,
        prevented_quantity: None,
        last_prevented_quantity: None,
        trade_group_id: None,
        counter_order_id: None,
        counter_symbol: None,
        prevented_execution_quantity: None,
        prevented_execution_price: None,
        prevented_execution_quote_quantity: None,
        match_type: None,
        allocation_id: None,
        working_floor: None,
        used_sor: None,
        expiry_reason: None,
    };
    encode(report)
}

/// `outboundAccountPosition` for these assets of a wallet's balances.
pub(super) fn position(balances: Option<&Balances>, assets: &[&str], now: u64) -> UserEvent {
    let balances = assets
        .iter()
        .map(|a| {
            let (free, locked) = balances
                .and_then(|b| b.get(*a))
                .copied()
                .unwrap_or_default();
            Balance {
                asset: (*a).to_owned(),
                free,
                locked,
            }
        })
        .collect();
    encode(OutboundAccountPosition::<Millis> {
        event_time: Time::new(now),
        last_update_time: Time::new(now),
        balances,
    })
}

/// `balanceUpdate`: a deposit or withdrawal of `delta`.
pub(super) fn balance_update(asset: &str, delta: Decimal, now: u64) -> UserEvent {
    encode(BalanceUpdate::<Millis> {
        event_time: Time::new(now),
        asset: asset.to_owned(),
        delta,
        clear_time: Time::new(now),
    })
}

/// `externalLockUpdate`: `delta` locked (unlocked when negative) elsewhere.
pub(super) fn external_lock_update(asset: &str, delta: Decimal, now: u64) -> UserEvent {
    encode(ExternalLockUpdate::<Millis> {
        event_time: Time::new(now),
        asset: asset.to_owned(),
        delta,
        transaction_time: Time::new(now),
    })
}

/// The fields every order answer shares after its ids: price, quantities,
/// status, time in force, type and side.
fn order_fields(o: &UserOrder, status: OrderStatus) -> Value {
    json!({
        "price": fixed(o.price()), "origQty": fixed(o.qty),
        "executedQty": fixed(o.filled), "origQuoteOrderQty": "0.00000000",
        "cummulativeQuoteQty": fixed(o.quote_filled), "status": status.as_str(),
        "timeInForce": o.kind.time_in_force().as_str(), "type": o.kind.as_str(),
        "side": o.side.as_str(),
    })
}

/// `a` with the fields of `b` after its own.
fn merged(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            a.extend(b);
            Value::Object(a)
        }
        (a, _) => a,
    }
}

/// The answer to a cancel (`DELETE /api/v3/order`, `order.cancel`).
pub(super) fn canceled(o: &UserOrder, order_id: u64, orig: &str, now: u64) -> Value {
    let head = json!({
        "symbol": o.symbol, "origClientOrderId": orig, "orderId": order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id, "transactTime": now,
    });
    let tail = json!({"selfTradePreventionMode": "NONE"});
    merged(merged(head, order_fields(o, OrderStatus::Canceled)), tail)
}

/// How much of an order answer to give (`newOrderRespType`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// `ACK`: the ids.
    Ack,
    /// `RESULT`: the order as it stands.
    Result,
    /// `FULL`: and its fills.
    Full,
}

/// The answer to an order placed (`POST /api/v3/order`, `order.place`, the
/// margin order): spot orders carry `orderListId`, margin ones `isIsolated`
/// (after `side` in the RESULT and FULL forms).
pub(super) fn placed(
    o: &UserOrder,
    order_id: u64,
    status: OrderStatus,
    fills: &[Fill],
    detail: Detail,
    now: u64,
) -> Value {
    use super::spec::Wallet;
    let isolated = match &o.wallet {
        Wallet::Spot => None,
        other => Some(matches!(other, Wallet::Isolated(_))),
    };
    let ids = json!({"symbol": o.symbol, "orderId": order_id});
    let ids = match isolated {
        None => merged(
            ids,
            json!({"orderListId": -1, "clientOrderId": o.client_order_id}),
        ),
        Some(_) => merged(ids, json!({"clientOrderId": o.client_order_id})),
    };
    let ids = merged(ids, json!({"transactTime": now}));
    if detail == Detail::Ack {
        return match isolated {
            // Before `transactTime` in the ACK form.
            Some(isolated) => merged(
                json!({"symbol": o.symbol, "orderId": order_id, "clientOrderId": o.client_order_id,
                       "isIsolated": isolated}),
                json!({"transactTime": now}),
            ),
            None => ids,
        };
    }
    let mut response = merged(ids, order_fields(o, status));
    if let Some(isolated) = isolated {
        response = merged(response, json!({ "isIsolated": isolated }));
    }
    let working =
        matches!(status, OrderStatus::New | OrderStatus::PartiallyFilled) || !fills.is_empty();
    response = merged(
        response,
        json!({
            "workingTime": if working { now as i64 } else { -1 },
            "selfTradePreventionMode": "NONE",
        }),
    );
    if detail == Detail::Full {
        let fills: Vec<Value> = fills
            .iter()
            .map(|f| {
                json!({"price": fixed(f.price), "qty": fixed(f.qty), "commission": "0.00000000",
                       "commissionAsset": o.received_asset(), "tradeId": f.trade_id})
            })
            .collect();
        response["fills"] = Value::Array(fills);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Side, TimeInForce};

    /// The event of a vector of `shared/vectors/user/wsapi/`.
    fn vector_event(name: &str) -> serde_json::Map<String, Value> {
        let v = crate::vectors::vector(&format!("user/wsapi/{name}"));
        v["event"].as_object().unwrap().clone()
    }

    fn order() -> UserOrder {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        UserOrder {
            account: 0,
            wallet: super::super::spec::Wallet::Spot,
            symbol: "ETHBTC".into(),
            base: "ETH".into(),
            quote: "BTC".into(),
            client_order_id: "mUvoqJxFIILMdfAW5iGSOW".into(),
            side: Side::Buy,
            kind: OrderType::Limit {
                price: d("0.1026441"),
                time_in_force: TimeInForce::Gtc,
            },
            qty: d("1"),
            filled: Decimal::ZERO,
            quote_filled: Decimal::ZERO,
            created: 1499405658657,
            reserved: d("0.1026441"),
        }
    }

    use crate::engine::OrderType;

    #[test]
    fn execution_report_bytes_are_binances_example() {
        let change = Change {
            order_id: 4293153,
            execution: "NEW",
            status: OrderStatus::New,
            orig_client_id: None,
            working: true,
            fill: None,
            execution_id: 8641984,
            now: 1499405658657,
        };
        let mut want = vector_event("executionReport.json");
        // The simulator sends the event as it happens (`E` = `T`), and
        // without self-trade prevention (no `v`).
        want["E"] = want["T"].clone();
        want.shift_remove("v");
        assert_eq!(
            execution_report(&order(), &change).millis(),
            Value::Object(want).to_string()
        );
    }

    #[test]
    fn balance_events_have_binances_bytes() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let mut want = vector_event("balanceUpdate.json");
        want["T"] = want["E"].clone();
        assert_eq!(
            balance_update("BTC", d("100"), 1573200697110).millis(),
            Value::Object(want).to_string()
        );
        let mut want = vector_event("externalLockUpdate.json");
        want["T"] = want["E"].clone();
        assert_eq!(
            external_lock_update("NEO", d("10"), 1581557507324).millis(),
            Value::Object(want).to_string()
        );
        // Spot writes eight decimals (the vector, from Binance's docs, six).
        let balances: Balances = [("ETH".to_owned(), (d("10000"), Decimal::ZERO))].into();
        assert_eq!(
            position(Some(&balances), &["ETH"], 1564034571105).millis(),
            r#"{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571105,"B":[{"a":"ETH","f":"10000.00000000","l":"0.00000000"}]}"#
        );
    }
}
