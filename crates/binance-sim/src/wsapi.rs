//! The WebSocket API (`/ws-api/v3`): requests answered by id with
//! `rateLimits`, sessions (`session.logon` with Ed25519 keys), the user-data
//! methods, the order methods (`order.place`, `.cancel`, `.status`,
//! `.cancelReplace`, `openOrders.*`, `allOrders`, `myTrades`), the
//! market-data methods (answered by their REST endpoints), and the
//! subscriptions' events as `{"subscriptionId":N,"event":{…}}`.

use std::sync::atomic::Ordering;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, RawQuery, State};
use axum::response::Response;
use binance_types::market::ServerShutdown;
use binance_types::wsapi::{RateLimit, RequestId, WsApiRequest, WsApiResponse};
use binance_types::{Millis, Time};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::accounts::{
    param_text, CancelRequest, Listener, OrderRequest, Signed, SubTarget, Unsubscribe, Wallet,
};
use crate::api_error::ApiErr;
use crate::clock::now_ms;
use crate::faults::ConnKind;
use crate::session::{self, Notice, Outbox, Protocol};
use crate::shared::{ConnMeta, Shared};

/// `GET /ws-api/v3` (also `/ws-api/v3?returnRateLimits=false`).
pub(crate) async fn upgrade(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = s.over_attempt_limit(meta.peer.ip()) {
        return refused;
    }
    let query = query.unwrap_or_default();
    let rate_limits = rate_limits_on(&query);
    // Events in microseconds with `timeUnit=MICROSECOND`, as on the stream server.
    let micros = query
        .split('&')
        .any(|p| p.eq_ignore_ascii_case("timeUnit=MICROSECOND"));
    ws.on_upgrade(move |socket| {
        session::run(socket, s.clone(), meta.clone(), move |conn| {
            let (out, outbox) = mpsc::unbounded_channel();
            let session = Session {
                rest: crate::rest::routes()
                    .with_state(s.clone())
                    .layer(Extension(meta.clone())),
                s,
                meta,
                listener: Listener { conn, out, micros },
                logon: None,
                connected: now_ms(),
                next_subscription: 0,
                rate_limits,
                order_counts: None,
            };
            (session, Outbox::Unbounded(outbox))
        })
    })
}

/// One session's state.
struct Session {
    s: Shared,
    meta: ConnMeta,
    /// The connection, where its frames go, its time unit.
    listener: Listener,
    /// `session.logon` account and when.
    logon: Option<(usize, u64)>,
    connected: u64,
    next_subscription: u64,
    rate_limits: bool,
    /// The REST endpoints, which answer the market-data methods.
    rest: axum::Router,
    /// The account's order counts (ten seconds, day) after a request that
    /// placed an order, for its `rateLimits`.
    order_counts: Option<(usize, u32)>,
}

impl Protocol for Session {
    type Item = String;
    const KIND: ConnKind = ConnKind::WsApi;

    fn frame(&self, event: String) -> String {
        event
    }

    fn incoming_limit(&self) -> Option<u32> {
        None
    }

    async fn answer(&mut self, text: String) -> Option<String> {
        let (s, meta) = (self.s.clone(), self.meta.clone());
        let reply = answer(&s, &meta, self, &text).await;
        after_delay(&s, reply, &self.listener.out)
    }

    fn notice(&self, n: Notice) -> String {
        notice(n)
    }

    fn close(&mut self) {
        self.s
            .accounts()
            .unsubscribe(self.listener.conn, Unsubscribe::Silently);
    }
}

/// Request weights of the methods served (market-data methods are weighed
/// by the REST endpoint that answers them).
fn weight(method: &str) -> u32 {
    match method {
        _ if rest_path(method).is_some() => 0,
        "order.place" | "order.cancel" | "order.cancelReplace" | "openOrders.cancelAll" => 1,
        "ping" | "time" => 1,
        "order.status" => 4,
        "openOrders.status" => 6,
        "account.status" | "allOrders" | "myTrades" => 20,
        _ => 2,
    }
}

/// The REST endpoint of a market-data method: Binance documents each as
/// the same request, so one implementation answers both.
fn rest_path(method: &str) -> Option<&'static str> {
    Some(match method {
        "depth" => "/api/v3/depth",
        "exchangeInfo" => "/api/v3/exchangeInfo",
        "ticker.price" => "/api/v3/ticker/price",
        "ticker.book" => "/api/v3/ticker/bookTicker",
        "ticker.24hr" => "/api/v3/ticker/24hr",
        "ticker" => "/api/v3/ticker",
        "avgPrice" => "/api/v3/avgPrice",
        "klines" => "/api/v3/klines",
        "uiKlines" => "/api/v3/uiKlines",
        "trades.recent" => "/api/v3/trades",
        "trades.historical" => "/api/v3/historicalTrades",
        "trades.aggregate" => "/api/v3/aggTrades",
        _ => return None,
    })
}

/// Ask the REST endpoint at `path` with `params` as its query.
async fn forward(
    rest: &mut axum::Router,
    path: &str,
    params: &Map<String, Value>,
) -> Result<Value, ApiErr> {
    use tower_service::Service;
    let encode = |text: String| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    let query: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k != "returnRateLimits")
        .map(|(k, v)| format!("{k}={}", encode(param_text(v))))
        .collect();
    let internal = |what: &str| {
        ApiErr::new(
            500,
            -1000,
            format!("An unknown error occurred while processing the request ({what})."),
        )
    };
    let request = axum::http::Request::get(format!("{path}?{}", query.join("&")))
        .body(axum::body::Body::empty())
        .map_err(|_| internal("request"))?;
    let response = match rest.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|_| internal("body"))?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|_| internal("JSON"))?;
    match status {
        200 => Ok(body),
        _ => Err(ApiErr::new(
            status,
            body["code"].as_i64().unwrap_or(-1000),
            body["msg"].as_str().unwrap_or_default(),
        )),
    }
}

/// A request frame read: its id, its method (without a `v3/` prefix) and
/// its parameters.
pub(crate) struct Request {
    pub id: RequestId,
    pub method: String,
    pub params: Map<String, Value>,
}

impl Request {
    /// Read a frame; `Err` is the answer to one that is not a request.
    pub(crate) fn read(text: &str) -> Result<Request, String> {
        let request: WsApiRequest = serde_json::from_str(text).map_err(|_| {
            let id = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            json!({"id": id, "status": 400, "error": {"code": -1102, "msg": "Mandatory parameter 'method' was not sent, was empty/null, or malformed."}}).to_string()
        })?;
        let method = request
            .method
            .strip_prefix("v3/")
            .unwrap_or(&request.method)
            .to_owned();
        Ok(Request {
            id: request.id,
            method,
            params: request.params.unwrap_or_default(),
        })
    }

    /// Whether its answer carries `rateLimits`: the connection's choice
    /// unless the request's `returnRateLimits` says no.
    pub(crate) fn wants_limits(&self, session: bool) -> bool {
        session && self.params.get("returnRateLimits").and_then(Value::as_bool) != Some(false)
    }

    /// A non-empty parameter, as text.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.params
            .get(name)
            .map(param_text)
            .filter(|v| !v.is_empty())
    }

    /// Charge `weight` to the peer: `-1003` with `retryAfter` when over the
    /// connection's minute limit.
    pub(crate) fn charge(s: &Shared, meta: &ConnMeta, weight: u32) -> Result<(), ApiErr> {
        let limit = s.limits.rest_weight_per_minute;
        s.weights
            .charge(meta.peer.ip(), weight, limit)
            .map(|_| ())
            .map_err(|wait| {
                let retry = now_ms() + wait.as_millis() as u64;
                let data = json!({"serverTime": now_ms(), "retryAfter": retry});
                ApiErr::too_much_weight(limit).with_data(data)
            })
    }

    /// The answer to this request: Binance's envelope around `outcome`,
    /// with the peer's `rateLimits` when `want_limits` (led by the
    /// account's order counts when it placed an order).
    pub(crate) fn answer(
        self,
        s: &Shared,
        meta: &ConnMeta,
        outcome: Result<Value, ApiErr>,
        want_limits: bool,
        order_counts: Option<(usize, u32)>,
    ) -> String {
        let limit = s.limits.rest_weight_per_minute;
        let rate_limits = want_limits.then(|| {
            let used = s.weights.used(meta.peer.ip());
            rate_limits(order_counts, limit, used)
        });
        reply(self.id, outcome, rate_limits)
    }
}

/// Whether a connection's answers carry `rateLimits`: yes unless its query
/// has `returnRateLimits=false`.
pub(crate) fn rate_limits_on(query: &str) -> bool {
    !query
        .split('&')
        .any(|p| p.eq_ignore_ascii_case("returnRateLimits=false"))
}

/// `reply` now, or (the API-delay fault) later on `out`.
pub(crate) fn after_delay(
    s: &Shared,
    reply: String,
    out: &mpsc::UnboundedSender<String>,
) -> Option<String> {
    s.faults.api_requests.fetch_add(1, Ordering::Relaxed);
    let delay = s.faults.api_delay();
    if delay.is_zero() {
        return Some(reply);
    }
    let late = out.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = late.send(reply);
    });
    None
}

/// A fault's frame as the WebSocket API sends it.
pub(crate) fn notice(notice: Notice) -> String {
    match notice {
        Notice::Malformed => {
            r#"{"subscriptionId":0,"event":{"e":"executionReport","E":"#.to_owned()
        }
        Notice::Oversized(bytes) => format!(
            r#"{{"event":{{"e":"oversized","pad":"{}"}}}}"#,
            "x".repeat(bytes)
        ),
        Notice::ServerShutdown => shutdown_notice(Time::now()),
    }
}

/// Answer one request frame.
async fn answer(s: &Shared, meta: &ConnMeta, session: &mut Session, text: &str) -> String {
    let request = match Request::read(text) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let want_limits = request.wants_limits(session.rate_limits);
    let outcome = match Request::charge(s, meta, weight(&request.method)) {
        Err(e) => Err(e),
        Ok(()) => match rest_path(&request.method) {
            Some(path) => forward(&mut session.rest, path, &request.params).await,
            None => dispatch(s, session, &request.method, &request.params),
        },
    };
    let order_counts = session.order_counts.take();
    request.answer(s, meta, outcome, want_limits, order_counts)
}

/// The answer to a request: Binance's envelope around the result or error.
fn reply(
    id: RequestId,
    outcome: Result<Value, ApiErr>,
    rate_limits: Option<Vec<RateLimit>>,
) -> String {
    let (status, result, error) = match outcome {
        Ok(result) => (200, Some(result), None),
        Err(e) => (e.status, None, Some(e.wire())),
    };
    let response = WsApiResponse {
        id,
        status,
        result,
        error,
        rate_limits,
    };
    serde_json::to_string(&response).expect("answers serialise")
}

/// The `rateLimits` of an answer: the address's request weight used this
/// minute of `limit`, led by the account's order counts (ten seconds, day)
/// when the request placed an order, as Binance's are.
fn rate_limits(order_counts: Option<(usize, u32)>, limit: u32, used: u32) -> Vec<RateLimit> {
    use crate::exchange_info::{ORDERS_PER_10S, ORDERS_PER_DAY};
    let orders = order_counts.into_iter().flat_map(|(ten_seconds, day)| {
        [
            ("SECOND", 10, ORDERS_PER_10S, ten_seconds as u64),
            ("DAY", 1, ORDERS_PER_DAY, u64::from(day)),
        ]
        .map(|(interval, num, limit, count)| RateLimit {
            rate_limit_type: "ORDERS".into(),
            interval: interval.into(),
            interval_num: num,
            limit: limit.into(),
            count: Some(count),
        })
    });
    orders
        .chain([RateLimit {
            rate_limit_type: "REQUEST_WEIGHT".into(),
            interval: "MINUTE".into(),
            interval_num: 1,
            limit: limit.into(),
            count: Some(used.into()),
        }])
        .collect()
}

/// The account a request acts for: its signature, or the logged-on session.
fn account(s: &Shared, session: &Session, params: &Map<String, Value>) -> Result<usize, ApiErr> {
    if params.contains_key("signature") || session.logon.is_none() {
        let key = params.get("apiKey").map(param_text);
        return s
            .accounts()
            .authenticate(key.as_deref(), &Signed::Api(params));
    }
    let (account, _) = session.logon.expect("checked");
    Ok(account)
}

fn dispatch(
    s: &Shared,
    session: &mut Session,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, ApiErr> {
    let text = |k: &str| params.get(k).map(param_text).filter(|v| !v.is_empty());
    match method {
        "ping" => Ok(json!({})),
        "time" => Ok(json!({ "serverTime": s.accounts().server_time() })),
        "session.logon" => {
            let account = s
                .accounts()
                .authenticate(text("apiKey").as_deref(), &Signed::Api(params))?;
            if !s.accounts().is_ed25519(account) {
                return Err(ApiErr::new(400, -4056, "HMAC_SHA256 and RSA API keys are not supported for session.logon; use an Ed25519 key."));
            }
            session.logon = Some((account, now_ms()));
            Ok(status(s, session))
        }
        "session.status" => Ok(status(s, session)),
        "session.logout" => {
            s.accounts().unsubscribe(session.listener.conn, Unsubscribe::Logon);
            session.logon = None;
            Ok(status(s, session))
        }
        "userDataStream.subscribe" => {
            let Some((account, _)) = session.logon else {
                return Err(ApiErr::new(400, -2015, "Invalid API-key, IP, or permissions for action. (userDataStream.subscribe needs session.logon first)"));
            };
            subscribe(s, session, SubTarget::Account { account, logon: true })
        }
        "userDataStream.subscribe.signature" => {
            let account = s
                .accounts()
                .authenticate(text("apiKey").as_deref(), &Signed::Api(params))?;
            subscribe(s, session, SubTarget::Account { account, logon: false })
        }
        "userDataStream.subscribe.listenToken" => {
            let token = text("listenToken").ok_or_else(|| ApiErr::missing("listenToken"))?;
            subscribe(s, session, SubTarget::Token(token))
        }
        "userDataStream.unsubscribe" => {
            let which = match params.get("subscriptionId").and_then(Value::as_u64) {
                Some(id) => Unsubscribe::Id(id),
                None => Unsubscribe::All,
            };
            if s.accounts().unsubscribe(session.listener.conn, which) == 0 {
                if let Unsubscribe::Id(_) = which {
                    return Err(ApiErr::new(400, -2036, "User Data Stream subscription not active."));
                }
            }
            Ok(json!({}))
        }
        "session.subscriptions" => Ok(Value::Array(
            s.accounts()
                .subscription_ids(session.listener.conn)
                .into_iter()
                .map(|id| json!({ "subscriptionId": id }))
                .collect(),
        )),
        "order.place" => {
            let account = account(s, session, params)?;
            session.order_counts = Some(s.accounts().count_order(account, now_ms()));
            let get = |k: &str| text(k);
            let req = OrderRequest::parse(&get)?;
            s.exchange.place(account, Wallet::Spot, req)
        }
        "order.cancel" => {
            let account = account(s, session, params)?;
            let get = |k: &str| text(k);
            let req = CancelRequest::parse(&get)?;
            s.exchange.cancel(account, req)
        }
        "account.status" => {
            let account = account(s, session, params)?;
            Ok(s.accounts().account_json(account))
        }
        "order.status" => s.accounts().query_order(account(s, session, params)?, &text),
        "openOrders.status" => s.accounts().open_orders(account(s, session, params)?, &text),
        "allOrders" => s.accounts().all_orders(account(s, session, params)?, &text),
        "myTrades" => s.accounts().my_trades(account(s, session, params)?, &text),
        "openOrders.cancelAll" => {
            let account = account(s, session, params)?;
            let symbol = text("symbol").ok_or_else(|| ApiErr::missing("symbol"))?;
            s.exchange.cancel_all(account, &symbol)
        }
        "order.cancelReplace" => {
            let account = account(s, session, params)?;
            session.order_counts = Some(s.accounts().count_order(account, now_ms()));
            s.exchange.cancel_replace(account, &text)
        }
        "userDataStream.start" | "userDataStream.ping" | "userDataStream.stop" => Err(ApiErr::new(
            400,
            -1020,
            format!("{method} was retired on 2026-02-20; use userDataStream.subscribe.signature (spot) or userDataStream.subscribe.listenToken (margin)."),
        )),
        other => Err(ApiErr::new(400, -1020, format!("Unsupported operation: method `{other}` is not served by the simulator."))),
    }
}

fn subscribe(s: &Shared, session: &mut Session, target: SubTarget) -> Result<Value, ApiErr> {
    let id = session.next_subscription;
    s.accounts().subscribe(&session.listener, id, target)?;
    session.next_subscription += 1;
    Ok(json!({ "subscriptionId": id }))
}

fn status(s: &Shared, session: &Session) -> Value {
    let (key, since) = match session.logon {
        Some((account, since)) => (
            Value::String(s.accounts().api_key(account)),
            Value::from(since),
        ),
        None => (Value::Null, Value::Null),
    };
    json!({
        "apiKey": key, "authorizedSince": since, "connectedSince": session.connected,
        "returnRateLimits": session.rate_limits, "serverTime": s.accounts().server_time(),
        "userDataStream": !s.accounts().subscription_ids(session.listener.conn).is_empty(),
    })
}

/// `serverShutdown` as the WebSocket API sends it: an event of no
/// subscription (no `subscriptionId`).
fn shutdown_notice(now: Time<Millis>) -> String {
    json!({ "event": ServerShutdown { event_time: now } }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_have_binances_bytes() {
        use crate::exchange_info::{ORDERS_PER_10S, ORDERS_PER_DAY};
        let mut want = crate::vectors::vector("wsapi/response_error.json");
        // The example is older than the order limits the simulator serves.
        want["rateLimits"][0]["limit"] = ORDERS_PER_10S.into();
        want["rateLimits"][1]["limit"] = ORDERS_PER_DAY.into();
        let id = RequestId::Str(want["id"].as_str().unwrap().to_owned());
        let used = want["rateLimits"][2]["count"].as_u64().unwrap() as u32;
        let answer = reply(
            id,
            Err(ApiErr::insufficient()),
            Some(rate_limits(Some((13, 4044)), 6000, used)),
        );
        assert_eq!(answer, want.to_string());
    }

    #[test]
    fn shutdown_notice_has_binances_bytes() {
        let want = crate::vectors::vector("wsapi/serverShutdown.json");
        let now = Time::new(want["event"]["E"].as_u64().unwrap());
        assert_eq!(shutdown_notice(now), want.to_string());
    }
}
