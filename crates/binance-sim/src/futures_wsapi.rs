//! A futures venue's WebSocket API (`/ws-fapi/v1` on USD-M, `/ws-dapi/v1`
//! on COIN-M, reference §4): the spot WebSocket API's envelope, signature
//! check, weights and error answers ([`crate::wsapi::Request`]) over the
//! venue's accounts ([`crate::futures_user`]). Orders placed here report on
//! the account's listen-key streams as REST orders do.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, RawQuery, State};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::accounts::Signed;
use crate::api_error::ApiErr;
use crate::faults::ConnKind;
use crate::futures_user::{FuturesOrderRequest, OrderRef};
use crate::session::{self, Notice, Outbox, Protocol};
use crate::shared::{ConnMeta, VenueState};
use crate::wsapi::{after_delay, notice, rate_limits_on, Request};

/// `GET /ws-fapi/v1`, `GET /ws-dapi/v1` (also `?returnRateLimits=false`).
pub(crate) async fn upgrade(
    State(v): State<VenueState>,
    Extension(meta): Extension<ConnMeta>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = v.shared.over_attempt_limit(meta.peer.ip()) {
        return refused;
    }
    let rate_limits = rate_limits_on(&query.unwrap_or_default());
    ws.on_upgrade(move |socket| {
        let s = v.shared.clone();
        session::run(socket, s, meta.clone(), move |_| {
            let (out, outbox) = mpsc::unbounded_channel();
            let session = Session {
                v,
                meta,
                out,
                rate_limits,
            };
            (session, Outbox::Unbounded(outbox))
        })
    })
}

/// One connection's state.
struct Session {
    v: VenueState,
    meta: ConnMeta,
    /// Where late answers (the API-delay fault) go.
    out: mpsc::UnboundedSender<String>,
    rate_limits: bool,
}

impl Protocol for Session {
    type Item = String;
    const KIND: ConnKind = ConnKind::WsApi;

    fn frame(&self, item: String) -> String {
        item
    }

    fn incoming_limit(&self) -> Option<u32> {
        None
    }

    async fn answer(&mut self, text: String) -> Option<String> {
        let s = &self.v.shared;
        let reply = match Request::read(&text) {
            Err(answer) => answer,
            Ok(request) => {
                let want_limits = request.wants_limits(self.rate_limits);
                let outcome = Request::charge(s, &self.meta, weight(&request.method))
                    .and_then(|()| dispatch(&self.v, &request));
                request.answer(s, &self.meta, outcome, want_limits, None)
            }
        };
        after_delay(s, reply, &self.out)
    }

    fn notice(&self, n: Notice) -> String {
        notice(n)
    }

    fn close(&mut self) {}
}

/// Request weights (Binance's futures WebSocket API table).
fn weight(method: &str) -> u32 {
    match method {
        "account.status" | "account.balance" | "account.position" => 5,
        "order.place" => 0,
        _ => 1,
    }
}

/// The API key of a signed request, checked as the spot WebSocket API
/// checks it (`-2015` unknown key, `-1022` bad signature, `-1102` missing).
fn signed(v: &VenueState, r: &Request) -> Result<String, ApiErr> {
    let accounts = v.shared.accounts();
    let account = accounts.authenticate(r.text("apiKey").as_deref(), &Signed::Api(&r.params))?;
    Ok(accounts.api_key(account))
}

/// The API key of a listen-key request (the key alone, as REST takes it).
fn known_key(v: &VenueState, r: &Request) -> Result<String, ApiErr> {
    let key = r.text("apiKey").ok_or_else(|| ApiErr::missing("apiKey"))?;
    crate::rest_futures_user::known_key(v, key)
}

fn dispatch(v: &VenueState, r: &Request) -> Result<Value, ApiErr> {
    let get = |k: &str| r.text(k);
    let users = &v.users;
    match r.method.as_str() {
        "ping" => Ok(json!({})),
        "time" => Ok(json!({ "serverTime": v.shared.accounts().server_time() })),
        "order.place" => {
            let key = signed(v, r)?;
            users.place(&key, &FuturesOrderRequest::parse(&get)?)
        }
        "order.cancel" => {
            let key = signed(v, r)?;
            let (symbol, id) = OrderRef::parse(&get)?;
            users.cancel(&key, &symbol, id)
        }
        "order.status" => {
            let key = signed(v, r)?;
            let (symbol, id) = OrderRef::parse(&get)?;
            users.query(&key, &symbol, id)
        }
        "order.modify" => {
            let key = signed(v, r)?;
            let (symbol, id) = OrderRef::parse(&get)?;
            let decimal = |name: &str| {
                let text = get(name).ok_or_else(|| ApiErr::missing(name))?;
                text.parse::<Decimal>()
                    .map_err(|_| ApiErr::illegal(name, &text))
            };
            get("side").ok_or_else(|| ApiErr::missing("side"))?;
            users.modify(&key, &symbol, id, decimal("quantity")?, decimal("price")?)
        }
        "account.status" => Ok(users.account_json(&signed(v, r)?)),
        "account.balance" => Ok(users.balance_json(&signed(v, r)?)),
        "account.position" => {
            let key = signed(v, r)?;
            let symbol = get("symbol").map(|s| s.to_uppercase());
            users.position_json(&key, symbol.as_deref())
        }
        "userDataStream.start" => {
            let key = known_key(v, r)?;
            Ok(json!({ "listenKey": users.create_listen_key(&key) }))
        }
        "userDataStream.ping" => {
            let key = known_key(v, r)?;
            let listen_key = users.extend_listen_key(&key, get("listenKey").as_deref())?;
            Ok(json!({ "listenKey": listen_key }))
        }
        "userDataStream.stop" => {
            let key = known_key(v, r)?;
            let listen_key = users.close_listen_key(&key, get("listenKey").as_deref())?;
            crate::rest_futures_user::end_streams(v, &listen_key);
            Ok(json!({}))
        }
        other => Err(ApiErr::new(
            400,
            -1020,
            format!("Unsupported operation: method `{other}` is not served by the simulator."),
        )),
    }
}
