//! The exchange: the market and the accounts together, and the one place
//! that runs an order's sequence: the symbol's filters, the funds held,
//! the book's match, then the fills settled and reported. The market only
//! matches and reports fills; the accounts only keep money and orders.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::accounts::{Accounts, CancelRequest, Get, OrderRequest, Wallet};
use crate::api_error::ApiErr;
use crate::clock::now_ms;
use crate::engine::{OrderError, OrderType, Side};
use crate::filters;
use crate::hub::Hub;
use crate::market::Market;

/// The markets and the accounts that trade on them.
pub struct Exchange {
    market: Arc<Market>,
    accounts: Accounts,
    hub: Arc<Hub>,
}

impl Exchange {
    /// An exchange of `market` and `accounts`, publishing on `hub`.
    pub(crate) fn new(market: Arc<Market>, accounts: Accounts, hub: Arc<Hub>) -> Self {
        Exchange {
            market,
            accounts,
            hub,
        }
    }

    /// The market.
    pub(crate) fn market(&self) -> &Arc<Market> {
        &self.market
    }

    /// The accounts.
    pub(crate) fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Drive the market forever; fills of resting user orders go to their
    /// owners.
    pub(crate) async fn run(self: Arc<Self>) {
        let accounts = self.accounts.clone();
        self.market
            .clone()
            .run(self.hub.clone(), move |symbol, fills, now| {
                accounts.on_market_fills(symbol, fills, now)
            })
            .await
    }

    /// Place a user order: the symbol's filters, the funds held, the match
    /// (its trades go out on the market streams), the owners' events; the
    /// answer in the `FULL` form (or `ACK`, `RESULT` when asked).
    pub(crate) fn place(
        &self,
        account: usize,
        wallet: Wallet,
        req: OrderRequest,
    ) -> Result<Value, ApiErr> {
        let symbol_market = self
            .market
            .symbol(&req.symbol)
            .ok_or_else(ApiErr::invalid_symbol)?;
        let order = req.engine_order()?;
        let is_market = order.order_type == OrderType::Market;
        let now = now_ms();
        let mut m = symbol_market.lock().unwrap();
        let spec = m.engine().spec().clone();
        if let Some(entry) = self.market.exchange_info().get(&spec.symbol) {
            let check = filters::Order {
                side: req.side,
                market: is_market,
                price: order.order_type.price(),
                qty: req.quantity,
                avg_price: m.stats().avg_price(now).map(|a| a.price),
                open_orders: self.accounts.open_orders_on(account, &spec.symbol),
            };
            filters::check(entry, &check)?;
        }
        // Hold the funds first; refuse without touching the book.
        let amount = match (req.side, order.order_type.price()) {
            (Side::Sell, _) => req.quantity,
            (Side::Buy, Some(price)) => price.checked_mul(req.quantity).ok_or_else(|| {
                ApiErr::new(
                    400,
                    -1013,
                    "Filter failure: NOTIONAL (price × quantity out of range)",
                )
            })?,
            (Side::Buy, None) => {
                let book = m.engine().depth(usize::MAX);
                let mut left = req.quantity;
                let mut cost = Decimal::ZERO;
                for (p, q) in &book.asks {
                    let take = left.min(*q);
                    cost += take * p;
                    left -= take;
                    if left.is_zero() {
                        break;
                    }
                }
                cost
            }
        };
        let hold = self.accounts.hold(account, &wallet, &spec, &req, amount)?;
        let result = match m.submit_user(order, now, &self.hub) {
            Ok(result) => result,
            Err(e) => {
                self.accounts.unhold(hold);
                let code = e.binance_code();
                let msg = match e {
                    OrderError::WouldImmediatelyMatch => {
                        "Order would immediately match and take.".to_owned()
                    }
                    other => other.to_string(),
                };
                return Err(ApiErr::new(400, code.into(), msg));
            }
        };
        Ok(self
            .accounts
            .placed(hold, &spec, req, order.order_type, &result, now))
    }

    /// Cancel a resting user order by id or client order id.
    pub(crate) fn cancel(&self, account: usize, req: CancelRequest) -> Result<Value, ApiErr> {
        let symbol_market = self
            .market
            .symbol(&req.symbol)
            .ok_or_else(ApiErr::invalid_symbol)?;
        if req.order_id.is_none() && req.orig_client_order_id.is_none() {
            return Err(ApiErr::new(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        }
        let now = now_ms();
        let mut m = symbol_market.lock().unwrap();
        self.accounts.cancel(account, req, now, |order_id| {
            m.cancel_user(order_id, now, &self.hub).is_some()
        })
    }

    /// Cancel the account's open spot orders of `symbol`; their cancel
    /// answers, or `-2011` when there was none.
    pub(crate) fn cancel_all(&self, account: usize, symbol: &str) -> Result<Value, ApiErr> {
        let ids = self.accounts.open_spot_order_ids(account, symbol);
        if ids.is_empty() {
            return Err(ApiErr::new(400, -2011, "Unknown order sent."));
        }
        let answers = ids
            .into_iter()
            .filter_map(|id| {
                let req = CancelRequest {
                    symbol: symbol.to_owned(),
                    order_id: Some(id),
                    orig_client_order_id: None,
                    new_client_order_id: None,
                };
                // An order filled meanwhile is no longer there to cancel.
                self.cancel(account, req).ok()
            })
            .collect();
        Ok(Value::Array(answers))
    }

    /// Cancel an order and place a new one (`cancelReplaceMode`
    /// `STOP_ON_FAILURE`: no new order when the cancel fails; `ALLOW_FAILURE`:
    /// placed anyway), answered in Binance's `cancelResult` /
    /// `newOrderResult` layout; `-2021` when either part failed.
    pub(crate) fn cancel_replace(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        let allow_failure = match get("cancelReplaceMode").as_deref() {
            Some("STOP_ON_FAILURE") => false,
            Some("ALLOW_FAILURE") => true,
            Some(_) => {
                return Err(ApiErr::illegal(
                    "cancelReplaceMode",
                    "STOP_ON_FAILURE, ALLOW_FAILURE",
                ))
            }
            None => return Err(ApiErr::missing("cancelReplaceMode")),
        };
        let order = OrderRequest::parse(get)?;
        let cancel = CancelRequest {
            symbol: order.symbol.clone(),
            order_id: get("cancelOrderId").and_then(|v| v.parse().ok()),
            orig_client_order_id: get("cancelOrigClientOrderId"),
            new_client_order_id: get("cancelNewClientOrderId"),
        };
        if cancel.order_id.is_none() && cancel.orig_client_order_id.is_none() {
            return Err(ApiErr::new(
                400,
                -1102,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!",
            ));
        }
        let error = |e: ApiErr| e.body();
        let canceled = self.cancel(account, cancel);
        let placed = match (&canceled, allow_failure) {
            (Err(_), false) => None,
            _ => Some(self.place(account, Wallet::Spot, order)),
        };
        let result = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
        let body = json!({
            "cancelResult": result(canceled.is_ok()),
            "newOrderResult": placed.as_ref().map_or("NOT_ATTEMPTED", |p| result(p.is_ok())),
            "cancelResponse": canceled.clone().unwrap_or_else(error),
            "newOrderResponse": match placed.clone() {
                None => Value::Null,
                Some(p) => p.unwrap_or_else(error),
            },
        });
        match (canceled.is_ok(), placed.map(|p| p.is_ok())) {
            (true, Some(true)) => Ok(body),
            (ok, placed) => {
                let what = match (ok, placed) {
                    (false, Some(true)) => "Order cancel-replace partially failed.",
                    _ => "Order cancel-replace failed.",
                };
                Err(ApiErr::new(400, -2021, what).with_data(body))
            }
        }
    }
}
