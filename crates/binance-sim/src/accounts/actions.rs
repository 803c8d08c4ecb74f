//! Order actions built from place and cancel: cancel every open order of a
//! symbol (`DELETE /api/v3/openOrders`, `openOrders.cancelAll`) and cancel
//! then place (`order.cancelReplace`).

use serde_json::{json, Value};

use super::{Accounts, ApiErr, CancelRequest, OrderRequest, Wallet};
use crate::hub::Hub;
use crate::market::Market;

impl Accounts {
    /// Cancel the account's open spot orders of `symbol`; their cancel
    /// answers, or `-2011` when there was none.
    pub(crate) fn cancel_all(
        &self,
        market: &Market,
        hub: &Hub,
        account: usize,
        symbol: &str,
    ) -> Result<Value, ApiErr> {
        let ids: Vec<u64> = {
            let state = self.state.lock().unwrap();
            let mut ids: Vec<u64> = state
                .orders
                .iter()
                .filter(|((s, _), o)| {
                    s == symbol && o.account == account && o.wallet == Wallet::Spot
                })
                .map(|((_, id), _)| *id)
                .collect();
            ids.sort_unstable();
            ids
        };
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
                self.cancel(market, hub, account, req).ok()
            })
            .collect();
        Ok(Value::Array(answers))
    }

    /// Cancel an order and place a new one (`cancelReplaceMode`
    /// `STOP_ON_FAILURE`: no new order when the cancel fails; `ALLOW_FAILURE`:
    /// placed anyway), answered in Binance's `cancelResult` /
    /// `newOrderResult` layout; `-2021` when either part failed.
    pub(crate) fn cancel_replace(
        &self,
        market: &Market,
        hub: &Hub,
        account: usize,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Value, ApiErr> {
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
        let canceled = self.cancel(market, hub, account, cancel);
        let placed = match (&canceled, allow_failure) {
            (Err(_), false) => None,
            _ => Some(self.place(market, hub, account, Wallet::Spot, order)),
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
