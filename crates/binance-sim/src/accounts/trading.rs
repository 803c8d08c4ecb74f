//! The accounts' side of trading: funds held for an order before it
//! reaches the book, then its fills and its end settled in the owners'
//! wallets and reported to their subscribers. The
//! [`Exchange`](crate::exchange::Exchange) runs the sequence; the book is
//! the market's.

use std::sync::atomic::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use super::orders::UserOrder;
use super::report::{self, Change, Detail};
use super::request::{CancelRequest, OrderRequest};
use super::spec::Wallet;
use super::state::{random_id, Accounts, State};
use super::subscriptions::{Events, UserEvent};
use crate::api_error::ApiErr;
use crate::engine::{Fill, OrderStatus, OrderType, Side, SubmitResult, SymbolSpec};

/// Funds held for an order about to be matched.
pub(crate) struct Hold {
    account: usize,
    wallet: Wallet,
    asset: String,
    amount: Decimal,
}

impl Accounts {
    /// The account's resting orders on `symbol`.
    pub(crate) fn open_orders_on(&self, account: usize, symbol: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .orders
            .iter()
            .filter(|((s, _), o)| s == symbol && o.account == account)
            .count()
    }

    /// Lock `amount` of what the order pays (quote for buys, base for
    /// sells) before it reaches the book; `-2010` when it is not free.
    pub(crate) fn hold(
        &self,
        account: usize,
        wallet: &Wallet,
        spec: &SymbolSpec,
        req: &OrderRequest,
        amount: Decimal,
    ) -> Result<Hold, ApiErr> {
        let asset = match req.side {
            Side::Buy => spec.quote_asset.clone(),
            Side::Sell => spec.base_asset.clone(),
        };
        let mut state = self.state.lock().unwrap();
        let balance = state.balance(account, wallet, &asset);
        if balance.0 < amount {
            return Err(ApiErr::insufficient());
        }
        balance.0 -= amount;
        balance.1 += amount;
        Ok(Hold {
            account,
            wallet: wallet.clone(),
            asset,
            amount,
        })
    }

    /// Give back a hold: the book refused the order.
    pub(crate) fn unhold(&self, hold: Hold) {
        let mut state = self.state.lock().unwrap();
        let balance = state.balance(hold.account, &hold.wallet, &hold.asset);
        balance.0 += hold.amount;
        balance.1 -= hold.amount;
    }

    /// The book took the order (`result`): settle its fills, and those of
    /// the resting user orders it met, report to every owner's subscribers,
    /// keep it if it rests; the answer in the form asked for.
    pub(crate) fn placed(
        &self,
        hold: Hold,
        spec: &SymbolSpec,
        req: OrderRequest,
        kind: OrderType,
        result: &SubmitResult,
        now: u64,
    ) -> Value {
        let Hold {
            account,
            wallet,
            amount,
            ..
        } = hold;
        let mut state = self.state.lock().unwrap();
        let mut events = Events::new();
        let mut user = UserOrder {
            account,
            wallet: wallet.clone(),
            symbol: spec.symbol.clone(),
            base: spec.base_asset.clone(),
            quote: spec.quote_asset.clone(),
            client_order_id: req.client_order_id.unwrap_or_else(|| random_id(22)),
            side: req.side,
            kind,
            qty: req.quantity,
            filled: Decimal::ZERO,
            quote_filled: Decimal::ZERO,
            created: now,
            reserved: amount,
        };
        let resting = matches!(
            result.status,
            OrderStatus::New | OrderStatus::PartiallyFilled
        );
        let working = resting || result.fills.is_empty();
        let order_id = result.order_id;
        let new = Change {
            order_id,
            execution: "NEW",
            status: OrderStatus::New,
            orig_client_id: None,
            working: working && resting,
            fill: None,
            execution_id: 0,
            now,
        };
        events.push(state.report(&user, new));
        // Fills against other user orders first (their owners' side), then ours.
        state.maker_fills(&result.fills, &spec.symbol, now, &mut events);
        for fill in &result.fills {
            state.taker_fill(&mut user, order_id, fill, now, resting, &mut events);
        }
        if result.status == OrderStatus::Expired {
            let expired = Change {
                order_id,
                execution: "EXPIRED",
                status: OrderStatus::Expired,
                orig_client_id: None,
                working: false,
                fill: None,
                execution_id: 0,
                now,
            };
            events.push(state.report(&user, expired));
        }
        if !resting {
            user.release(&mut state.accounts[account].wallets);
        }
        events.push(state.position(
            account,
            &wallet,
            &[&spec.base_asset, &spec.quote_asset],
            now,
        ));
        state.ledger.remember(&user, order_id, result.status, now);
        let detail = match req.response_type.as_deref() {
            Some("ACK") => Detail::Ack,
            Some("RESULT") => Detail::Result,
            _ => Detail::Full,
        };
        let response = report::placed(&user, order_id, result.status, &result.fills, detail, now);
        if resting {
            state.orders.insert((spec.symbol.clone(), order_id), user);
            self.open_orders
                .store(state.orders.len(), Ordering::Relaxed);
        }
        state.subs.deliver(events);
        response
    }

    /// Cancel a resting user order by id or client order id: `take_off`
    /// takes it off the book (false: it is not there any more).
    pub(crate) fn cancel(
        &self,
        account: usize,
        req: CancelRequest,
        now: u64,
        take_off: impl FnOnce(u64) -> bool,
    ) -> Result<Value, ApiErr> {
        let unknown = || ApiErr::new(400, -2011, "Unknown order sent.");
        let mut state = self.state.lock().unwrap();
        let orig_client_order_id = req.orig_client_order_id.as_deref();
        let key = state
            .orders
            .iter()
            .find(|((s, id), o)| {
                *s == req.symbol
                    && o.account == account
                    && req.order_id.is_none_or(|want| want == *id)
                    && orig_client_order_id.is_none_or(|c| c == o.client_order_id)
            })
            .map(|(k, _)| k.clone())
            .ok_or_else(unknown)?;
        if !take_off(key.1) {
            return Err(unknown());
        }
        let mut order = state.orders.remove(&key).expect("found above");
        self.open_orders
            .store(state.orders.len(), Ordering::Relaxed);
        let orig = order.client_order_id.clone();
        let new_id = req.new_client_order_id.unwrap_or_else(|| random_id(22));
        let mut canceled = order.clone();
        canceled.client_order_id = new_id;
        let change = Change {
            order_id: key.1,
            execution: "CANCELED",
            status: OrderStatus::Canceled,
            orig_client_id: Some(&orig),
            working: false,
            fill: None,
            execution_id: 0,
            now,
        };
        let mut events = vec![state.report(&canceled, change)];
        order.release(&mut state.accounts[account].wallets);
        state
            .ledger
            .remember(&order, key.1, OrderStatus::Canceled, now);
        events.push(state.position(account, &order.wallet, &[&order.base, &order.quote], now));
        state.subs.deliver(events);
        Ok(report::canceled(&canceled, key.1, &orig, now))
    }

    /// The market's flow filled resting orders of `symbol`: their owners' events.
    pub(crate) fn on_market_fills(&self, symbol: &str, fills: &[Fill], now: u64) {
        if self.open_orders.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut events = Events::new();
        let mut state = self.state.lock().unwrap();
        state.maker_fills(fills, symbol, now, &mut events);
        self.open_orders
            .store(state.orders.len(), Ordering::Relaxed);
        state.subs.deliver(events);
    }
}

impl State {
    /// An `executionReport` for an order's change, with the next execution id.
    fn report(&mut self, o: &UserOrder, mut change: Change<'_>) -> (usize, Wallet, UserEvent) {
        self.next_execution_id += 1;
        change.execution_id = self.next_execution_id;
        (
            o.account,
            o.wallet.clone(),
            report::execution_report(o, &change),
        )
    }

    /// Fills of resting user orders (makers): balances, reports, positions.
    fn maker_fills(&mut self, fills: &[Fill], symbol: &str, now: u64, events: &mut Events) {
        for fill in fills {
            let key = (symbol.to_owned(), fill.maker_order_id);
            let Some(mut order) = self.orders.remove(&key) else {
                continue;
            };
            self.ledger.remember_trade(&order, fill, true);
            order.settle(&mut self.accounts[order.account].wallets, fill);
            let done = order.done();
            let status = match done {
                true => OrderStatus::Filled,
                false => OrderStatus::PartiallyFilled,
            };
            let change = Change {
                order_id: fill.maker_order_id,
                execution: "TRADE",
                status,
                orig_client_id: None,
                working: !done,
                fill: Some((fill, true)),
                execution_id: 0,
                now,
            };
            events.push(self.report(&order, change));
            if done {
                order.release(&mut self.accounts[order.account].wallets);
            }
            self.ledger
                .remember(&order, fill.maker_order_id, status, now);
            events.push(self.position(
                order.account,
                &order.wallet,
                &[&order.base, &order.quote],
                now,
            ));
            if !done {
                self.orders.insert(key, order);
            }
        }
    }

    /// One fill of the order being placed (the taker).
    fn taker_fill(
        &mut self,
        order: &mut UserOrder,
        order_id: u64,
        fill: &Fill,
        now: u64,
        resting: bool,
        events: &mut Events,
    ) {
        self.ledger.remember_trade(order, fill, false);
        order.settle(&mut self.accounts[order.account].wallets, fill);
        let status = match order.done() {
            true => OrderStatus::Filled,
            false => OrderStatus::PartiallyFilled,
        };
        let change = Change {
            order_id,
            execution: "TRADE",
            status,
            orig_client_id: None,
            working: resting && !order.done(),
            fill: Some((fill, false)),
            execution_id: 0,
            now,
        };
        events.push(self.report(order, change));
    }
}

impl Accounts {
    /// The ids of the account's open spot orders of `symbol`, lowest first.
    pub(crate) fn open_spot_order_ids(&self, account: usize, symbol: &str) -> Vec<u64> {
        let state = self.state.lock().unwrap();
        let mut ids: Vec<u64> = state
            .orders
            .iter()
            .filter(|((s, _), o)| s == symbol && o.account == account && o.wallet == Wallet::Spot)
            .map(|((_, id), _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}
