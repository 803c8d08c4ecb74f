//! Entry points for the fuzz targets in `fuzz/` (not a stable API): each
//! hands untrusted input to the simulator's own request parsing, in process,
//! with no listening socket.
//!
//! - [`stream_query`]: the query-string parser of every endpoint.
//! - [`stream_path`], [`check_stream`]: the stream names of `/ws/<names>` and
//!   `/stream?streams=<names>`, and of `SUBSCRIBE`.
//! - [`rest`]: a request through the REST, signed REST and admin routes.
//! - [`ws_api`]: a WebSocket API request: its envelope, its signed
//!   parameters and the order parameters.
//!
//! The market and one HMAC account ([`API_KEY`], [`SECRET`]) are made once
//! per process; the market runs briefly at start so that it has trades.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::{Extension, Router};
use binance_types::wsapi::WsApiRequest;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::accounts::{
    param_text, AccountSpec, Accounts, CancelRequest, OrderRequest, Signed, Wallet,
};
use crate::exchange::Exchange;
use crate::hub::Hub;
use crate::market::{Market, MarketConfig};
use crate::shared::{ConnMeta, Shared};

/// The API key of the account the harness signs for.
pub const API_KEY: &str = "fuzzKey";
/// That account's HMAC secret.
pub const SECRET: &str = "fuzzSecret";

struct Harness {
    shared: Shared,
    router: Router,
    runtime: tokio::runtime::Runtime,
    /// The listener the harness's socket is connected to, kept open.
    _listener: std::net::TcpListener,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut spec = AccountSpec::hmac(API_KEY, SECRET);
        let plenty = Decimal::from(1_000_000_000u64);
        for asset in ["BTC", "USDT", "ETH", "BNB"] {
            spec = spec
                .balance(Wallet::Spot, asset, plenty)
                .balance(Wallet::Margin, asset, plenty);
        }
        let accounts =
            Accounts::new(&[spec], Duration::from_secs(24 * 3600)).expect("the fuzz account");
        let config = MarketConfig {
            actions_per_second: 20_000,
            ..MarketConfig::default()
        };
        let market = Arc::new(Market::new(&config));
        let hub = Arc::new(Hub::default());
        let exchange = Arc::new(Exchange::new(market, accounts, hub.clone()));
        // A moment of trading, so trade, aggTrade and kline queries have data.
        runtime.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(300), exchange.clone().run()).await;
        });
        let limits = crate::config::Limits {
            rest_weight_per_minute: 1 << 30,
            ..crate::config::Limits::default()
        };
        let shared = Shared::new(exchange, hub, Arc::default(), limits, None, Arc::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let peer = listener.local_addr().expect("its address");
        let raw = Arc::new(std::net::TcpStream::connect(peer).expect("a loopback socket"));
        let router = crate::server::http_routes()
            .with_state(shared.clone())
            .layer(Extension(ConnMeta { peer, raw }));
        Harness {
            shared,
            router,
            runtime,
            _listener: listener,
        }
    })
}

/// The server's query-string parser (`%XX` decoded, `+` kept).
pub fn stream_query(raw: &str) -> HashMap<String, String> {
    crate::shared::stream_query(Some(raw.to_owned()))
}

/// A stream name as the server checks it: its canonical spelling if the
/// fuzz market serves it, the reason if not.
pub fn check_stream(name: &str) -> Result<String, String> {
    crate::streams::check_stream(harness().shared.exchange.market(), name)
}

/// The streams of a stream-server path, read as the server reads them:
/// `/ws/<name>/<name>…` or `/stream?streams=<name>/<name>…`; each checked
/// with [`check_stream`]. `None` for other paths.
pub fn stream_path(path: &str) -> Option<Result<Vec<String>, String>> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let (names, _) = crate::streams::requested(path, &stream_query(query))?;
    Some(names.iter().map(|n| check_stream(n)).collect())
}

/// The HMAC signature of `payload` with [`SECRET`].
fn sign(payload: &str) -> String {
    binance_types::sign::hmac_sha256_hex(SECRET.as_bytes(), payload.as_bytes())
}

/// A request through the REST routes (public, signed and `/_sim/` admin):
/// `method`, `uri` (path and query), the `X-MBX-APIKEY` header, `body`
/// (form-encoded). With `sign`, `timestamp` and a valid `signature` are
/// appended to the query first, so the parameters reach the handler.
/// The status and body of the answer; `None` if `method` or `uri` is not
/// valid HTTP.
pub fn rest(
    method: &str,
    uri: &str,
    api_key: Option<&str>,
    body: &str,
    sign_it: bool,
) -> Option<(u16, Vec<u8>)> {
    let h = harness();
    let mut uri = uri.to_owned();
    if sign_it {
        let sep = if uri.contains('?') { '&' } else { '?' };
        uri = format!("{uri}{sep}timestamp={}", h.shared.accounts().server_time());
        let query = uri.split_once('?').map_or("", |(_, q)| q);
        let without = |text: &str| {
            text.split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("signature="))
                .collect::<Vec<_>>()
                .join("&")
        };
        let signature = sign(&format!("{}{}", without(query), without(body)));
        uri = format!("{uri}&signature={signature}");
    }
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = api_key {
        request = request.header("x-mbx-apikey", key);
    }
    let request = request.body(Body::from(body.to_owned())).ok()?;
    let service = hyper_util::service::TowerToHyperService::new(h.router.clone());
    let answer = h.runtime.block_on(async {
        let response = hyper::service::Service::call(&service, request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, body)
    });
    // The clock reads after any request (a clock skew is admin input).
    let _ = h.shared.accounts().server_time();
    // An admin request may have switched a fault on; the next one starts clean.
    crate::Faults {
        state: h.shared.faults.clone(),
        market: h.shared.exchange.market().clone(),
        futures: Vec::new(),
        users: Vec::new(),
        options: None,
    }
    .clear();
    h.shared.accounts().set_clock_skew(0);
    Some(answer)
}

/// What [`ws_api`] made of a request.
#[derive(Debug)]
pub struct WsApiOutcome {
    /// The method, without a `v3/` prefix.
    pub method: String,
    /// The account the signed parameters authenticate, or Binance's error code.
    pub account: Result<usize, i64>,
    /// For `order.place` / `order.cancel` by an authenticated account: the
    /// result (as JSON), or Binance's error code.
    pub order: Option<Result<Value, i64>>,
}

/// A WebSocket API request frame: the envelope, then the signed parameters
/// checked as the server checks them (timestamp, `recvWindow`, signature),
/// then, for `order.place` / `order.cancel`, the order parameters (an order
/// authenticated is placed or cancelled on the fuzz market). With `sign`,
/// `apiKey`, `timestamp` and a valid `signature` are put in the parameters
/// first. `None` when the frame is not a request.
pub fn ws_api(text: &str, sign_it: bool) -> Option<WsApiOutcome> {
    let h = harness();
    let request: WsApiRequest = serde_json::from_str(text).ok()?;
    let method = request
        .method
        .strip_prefix("v3/")
        .unwrap_or(&request.method)
        .to_owned();
    let mut params: Map<String, Value> = request.params.unwrap_or_default();
    if sign_it {
        params.insert("apiKey".into(), Value::from(API_KEY));
        params.insert(
            "timestamp".into(),
            Value::from(h.shared.accounts().server_time()),
        );
        let mut keys: Vec<&String> = params.keys().filter(|k| *k != "signature").collect();
        keys.sort();
        let payload = keys
            .iter()
            .map(|k| format!("{k}={}", param_text(&params[*k])))
            .collect::<Vec<_>>()
            .join("&");
        params.insert("signature".into(), Value::from(sign(&payload)));
    }
    let text_param = |k: &str| params.get(k).map(param_text).filter(|v| !v.is_empty());
    let key = params.get("apiKey").map(param_text);
    let account = h
        .shared
        .accounts()
        .authenticate(key.as_deref(), &Signed::Api(&params))
        .map_err(|e| e.code);
    let s = &h.shared;
    let order = match (&account, method.as_str()) {
        (Ok(account), "order.place") => Some(
            OrderRequest::parse(&text_param)
                .and_then(|req| s.exchange.place(*account, Wallet::Spot, req)),
        ),
        (Ok(account), "order.cancel") => {
            Some(CancelRequest::parse(&text_param).and_then(|req| s.exchange.cancel(*account, req)))
        }
        _ => None,
    }
    .map(|r| r.map_err(|e| e.code));
    Some(WsApiOutcome {
        method,
        account,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests share the harness (and its clock skew): one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_harness_reaches_the_handlers() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(
            stream_path("/stream?streams=btcusdt@trade/BTCUSDT@depth5&timeUnit=MICROSECOND"),
            Some(Ok(vec!["btcusdt@trade".into(), "btcusdt@depth5".into()]))
        );
        assert!(matches!(stream_path("/ws/nope@trade"), Some(Err(_))));
        let (status, body) = rest(
            "POST",
            "/api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000.00",
            Some(API_KEY),
            "",
            true,
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let (status, _) = rest("GET", "/api/v3/account", Some(API_KEY), "", false).unwrap();
        assert_eq!(status, 400, "unsigned");
        let out = ws_api(
            r#"{"id":1,"method":"v3/order.place","params":{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC","quantity":"0.001","price":"200000.00"}}"#,
            true,
        )
        .unwrap();
        assert_eq!(out.method, "order.place");
        assert_eq!(out.account, Ok(0));
        assert!(matches!(out.order, Some(Ok(_))), "{out:?}");
        let out = ws_api(r#"{"id":1,"method":"account.status"}"#, false).unwrap();
        assert!(out.account.is_err());
    }

    /// Found with the sim_request harness: a market buy of a quantity near
    /// Decimal's limit (its cost is only what the book holds, so funds do not
    /// stop it) divided by the step size overflowed in the engine and panicked.
    #[test]
    fn a_huge_market_order_is_refused_not_a_panic() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for quantity in [
            "79228162514264337593543950335",
            "7922816251426433759354395.0335",
        ] {
            let out = ws_api(
                &format!(
                    r#"{{"id":1,"method":"order.place","params":{{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"{quantity}"}}}}"#
                ),
                true,
            )
            .unwrap();
            assert_eq!(out.account, Ok(0));
            assert!(matches!(out.order, Some(Err(_))), "{out:?}");
        }
        let spec = crate::engine::SymbolSpec::builtin().remove(0);
        let mut engine = crate::engine::Engine::new(spec, crate::engine::FlowConfig::default(), 1);
        let huge = Decimal::MAX;
        let order = crate::engine::NewOrder::market(crate::engine::Side::Buy, huge);
        assert!(matches!(
            engine.submit(order, 0),
            Err(crate::engine::OrderError::QtyTooLarge { .. })
        ));
    }

    /// Found by fuzz/sim_request: admin parameters at the ends of their
    /// ranges overflowed (`skip` twice by `u64::MAX`, a clock skew of
    /// `i64::MAX` ms read by the next request).
    #[test]
    fn admin_parameters_at_their_limits_do_not_overflow() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            let (status, _) = rest(
                "POST",
                "/_sim/skip?symbol=BTCUSDT&count=18446744073709551615",
                None,
                "",
                false,
            )
            .unwrap();
            assert_eq!(status, 200);
        }
        for ms in [i64::MAX, i64::MIN] {
            let (status, _) = rest(
                "POST",
                &format!("/_sim/clock_skew?ms={ms}"),
                None,
                "",
                false,
            )
            .unwrap();
            assert_eq!(status, 200);
        }
        let h = harness();
        h.shared.accounts().set_clock_skew(i64::MAX);
        assert!(h.shared.accounts().server_time() > crate::clock::now_ms());
        h.shared.accounts().set_clock_skew(i64::MIN);
        assert_eq!(h.shared.accounts().server_time(), 0);
        h.shared.accounts().set_clock_skew(0);
    }
}
