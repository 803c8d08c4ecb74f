//! Admin endpoints under `/_sim/`: the fault switches and the truth, for
//! users driving the simulator from outside a Rust test.
//!
//! | endpoint | does |
//! |---|---|
//! | `GET /_sim/connections` | live connection ids |
//! | `POST /_sim/drop?mode=reset\|close&code=1001&reason=…&conn=ID` | drop one (or every) connection |
//! | `POST /_sim/stall?ms=N` | stall every connection (no `ms`: until the peer gives up) |
//! | `POST /_sim/delay?ms=N` | delay every data frame |
//! | `POST /_sim/malformed` | send a frame that is not JSON |
//! | `POST /_sim/oversized?bytes=N` | send a frame of about N bytes |
//! | `POST /_sim/skip?symbol=S&count=N` | leave N book updates out of S's depth streams |
//! | `POST /_sim/refuse?ms=N` | reset new TCP connections for N ms |
//! | `POST /_sim/reject?status=429\|418&retry_after=SECS&ms=N` | answer upgrades with that status |
//! | `POST /_sim/slow_depth?ms=N` | deliver REST depth snapshots N ms late |
//! | `POST /_sim/shutdown?close_after_ms=N` | send `serverShutdown` |
//! | `POST /_sim/silence?stream=NAME` | silence one stream on every connection carrying it (`Faults::silence_stream`) |
//! | `POST /_sim/clear` | turn the switches off |
//! | `GET /_sim/book?symbol=S[&update_id=N]` | the true book (within the history window) |
//! | `GET /_sim/trades?symbol=S` | the trade log (of the history window) |
//! | `POST /_sim/deposit?apiKey=K&asset=A&amount=D[&wallet=W]` | credit (debit if negative) a wallet: `balanceUpdate` to its subscribers |
//! | `GET /_sim/balances?apiKey=K[&wallet=W]` | a wallet's balances (`W`: `spot` default, `margin`, `isolated:SYMBOL`) |
//! | `POST /_sim/end_subscriptions` | end every user-data subscription (`eventStreamTerminated`) |
//! | `POST /_sim/clock_skew?ms=N` | run the exchange clock N ms ahead (negative: behind) |
//! | `POST /_sim/api_delay?ms=N` | answer WebSocket API requests N ms late |

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

use crate::accounts::Wallet;
use crate::api_error::binance_error;
use crate::faults::{DropMode, Faults};
use crate::market::{partial, SymbolMarket};
use crate::shared::Shared;

type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Router<Shared> {
    let table: [(&str, MethodRouter<Shared>); 20] = [
        ("connections", get(connections)),
        ("drop", post(drop_conns)),
        ("stall", post(stall)),
        ("delay", post(delay)),
        ("malformed", post(malformed)),
        ("oversized", post(oversized)),
        ("skip", post(skip)),
        ("refuse", post(refuse)),
        ("reject", post(reject)),
        ("slow_depth", post(slow_depth)),
        ("shutdown", post(shutdown)),
        ("silence", post(silence)),
        ("clear", post(clear)),
        ("book", get(book)),
        ("trades", get(trades)),
        ("deposit", post(deposit)),
        ("balances", get(balances)),
        ("end_subscriptions", post(end_subscriptions)),
        ("clock_skew", post(clock_skew)),
        ("api_delay", post(api_delay)),
    ];
    table
        .into_iter()
        .fold(Router::new(), |router, (name, handler)| {
            router.route(&format!("/_sim/{name}"), handler)
        })
}

fn faults(s: &Shared) -> Faults {
    Faults {
        state: s.faults.clone(),
        market: s.exchange.market().clone(),
        futures: Vec::new(),
        users: Vec::new(),
        options: None,
    }
}

/// A numeric parameter; `Err` names it and says what is valid.
fn num(q: &HashMap<String, String>, key: &str) -> Result<Option<u64>, String> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("parameter `{key}`=`{v}` is not a whole number")),
    }
}

fn ms(q: &HashMap<String, String>, key: &str) -> Result<Option<Duration>, String> {
    Ok(num(q, key)?.map(Duration::from_millis))
}

fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

fn done(count: usize) -> Response {
    Json(json!({ "affected": count })).into_response()
}

macro_rules! try_param {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(msg) => return bad(&msg),
        }
    };
}

async fn connections(State(s): State<Shared>) -> Response {
    Json(json!({ "connections": faults(&s).connections() })).into_response()
}

async fn drop_conns(State(s): State<Shared>, Query(q): Params) -> Response {
    let mode = match q.get("mode").map(String::as_str) {
        None | Some("reset") => DropMode::Reset,
        Some("close") => DropMode::Close {
            code: try_param!(num(&q, "code")).unwrap_or(1000) as u16,
            reason: q.get("reason").cloned().unwrap_or_default(),
        },
        Some(other) => return bad(&format!("mode `{other}`: valid modes are reset, close")),
    };
    let f = faults(&s);
    match try_param!(num(&q, "conn")) {
        Some(id) => done(usize::from(f.drop_connection(id, mode))),
        None => done(f.drop_all(mode)),
    }
}

async fn stall(State(s): State<Shared>, Query(q): Params) -> Response {
    done(faults(&s).stall_all(try_param!(ms(&q, "ms"))))
}

async fn delay(State(s): State<Shared>, Query(q): Params) -> Response {
    faults(&s).set_frame_delay(try_param!(ms(&q, "ms")).unwrap_or_default());
    done(0)
}

async fn malformed(State(s): State<Shared>) -> Response {
    done(faults(&s).send_malformed())
}

async fn oversized(State(s): State<Shared>, Query(q): Params) -> Response {
    let bytes = try_param!(num(&q, "bytes")).unwrap_or(2 << 20) as usize;
    done(faults(&s).send_oversized(bytes))
}

async fn skip(State(s): State<Shared>, Query(q): Params) -> Response {
    let Some(symbol) = q.get("symbol") else {
        return bad("parameter `symbol` is required");
    };
    let count = try_param!(num(&q, "count")).unwrap_or(1);
    if faults(&s).skip_update_ids(symbol, count) {
        done(1)
    } else {
        binance_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.")
    }
}

async fn refuse(State(s): State<Shared>, Query(q): Params) -> Response {
    faults(&s).refuse_connections(try_param!(ms(&q, "ms")).unwrap_or(Duration::from_secs(5)));
    done(0)
}

async fn reject(State(s): State<Shared>, Query(q): Params) -> Response {
    let status = try_param!(num(&q, "status")).unwrap_or(429) as u16;
    if status != 429 && status != 418 {
        return bad(&format!("status {status}: valid statuses are 429, 418"));
    }
    let retry = Duration::from_secs(try_param!(num(&q, "retry_after")).unwrap_or(1));
    let duration = try_param!(ms(&q, "ms")).unwrap_or(Duration::from_secs(5));
    faults(&s).reject_upgrades(status, retry, duration);
    done(0)
}

async fn slow_depth(State(s): State<Shared>, Query(q): Params) -> Response {
    faults(&s).set_depth_snapshot_delay(try_param!(ms(&q, "ms")).unwrap_or_default());
    done(0)
}

async fn shutdown(State(s): State<Shared>, Query(q): Params) -> Response {
    done(faults(&s).server_shutdown(try_param!(ms(&q, "close_after_ms"))))
}

async fn silence(State(s): State<Shared>, Query(q): Params) -> Response {
    match q.get("stream") {
        Some(stream) => done(faults(&s).silence_stream(stream)),
        None => bad("parameter `stream` is required"),
    }
}

async fn clear(State(s): State<Shared>) -> Response {
    faults(&s).clear();
    done(0)
}

/// The market of the `symbol` parameter; Binance's `-1121` when unknown.
fn symbol_market<'a>(
    s: &'a Shared,
    q: &HashMap<String, String>,
) -> Result<&'a Mutex<SymbolMarket>, Box<Response>> {
    q.get("symbol")
        .and_then(|sym| s.exchange.market().symbol(sym))
        .ok_or_else(|| {
            Box::new(binance_error(
                StatusCode::BAD_REQUEST,
                -1121,
                "Invalid symbol.",
            ))
        })
}

async fn book(State(s): State<Shared>, Query(q): Params) -> Response {
    let m = match symbol_market(&s, &q) {
        Ok(market) => market.lock().unwrap(),
        Err(invalid) => return *invalid,
    };
    let id = try_param!(num(&q, "update_id")).unwrap_or(m.engine().last_update_id());
    match m.engine().book_at(id) {
        Some(book) => Json(partial(&book)).into_response(),
        None if id > m.engine().last_update_id() => bad(&format!("update id {id} not reached yet")),
        None => bad(&format!(
            "update id {id} is older than the history window, which starts at {} (--history)",
            m.engine().history_start()
        )),
    }
}

async fn trades(State(s): State<Shared>, Query(q): Params) -> Response {
    let m = match symbol_market(&s, &q) {
        Ok(market) => market.lock().unwrap(),
        Err(invalid) => return *invalid,
    };
    let trades: Vec<_> = m
        .engine()
        .trades()
        .iter()
        .map(|f| {
            json!({
                "id": f.trade_id, "price": f.price.to_string(), "qty": f.qty.to_string(),
                "time": f.time_ms, "isBuyerMaker": f.buyer_is_maker, "updateId": f.update_id,
            })
        })
        .collect();
    Json(trades).into_response()
}

/// `wallet=spot|margin|isolated:SYMBOL` (default spot).
fn wallet(q: &HashMap<String, String>) -> Result<Wallet, String> {
    match q.get("wallet").map(|w| w.to_lowercase()) {
        None => Ok(Wallet::Spot),
        Some(w) if w == "spot" => Ok(Wallet::Spot),
        Some(w) if w == "margin" => Ok(Wallet::Margin),
        Some(w) if w.starts_with("isolated:") && w.len() > 9 => {
            Ok(Wallet::Isolated(w[9..].to_uppercase()))
        }
        Some(w) => Err(format!(
            "wallet `{w}`: valid wallets are spot, margin, isolated:SYMBOL"
        )),
    }
}

fn text<'a>(q: &'a HashMap<String, String>, key: &str) -> Result<&'a str, String> {
    q.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("parameter `{key}` is missing"))
}

async fn deposit(State(s): State<Shared>, Query(q): Params) -> Response {
    let key = try_param!(text(&q, "apiKey"));
    let asset = try_param!(text(&q, "asset"));
    let amount = try_param!(text(&q, "amount"));
    let Ok(amount) = amount.parse::<rust_decimal::Decimal>() else {
        return bad(&format!("amount `{amount}` is not a decimal"));
    };
    let wallet = try_param!(wallet(&q));
    match s
        .accounts()
        .deposit(key, &wallet, &asset.to_uppercase(), amount)
    {
        true => done(1),
        false => bad("no account with that API key, or a debit larger than the free balance"),
    }
}

async fn balances(State(s): State<Shared>, Query(q): Params) -> Response {
    let key = try_param!(text(&q, "apiKey"));
    let wallet = try_param!(wallet(&q));
    match s.accounts().balances(key, &wallet) {
        None => bad("no account with that API key"),
        Some(b) => Json(json!(b
            .iter()
            .map(|(a, (f, l))| json!({"asset": a, "free": f.to_string(), "locked": l.to_string()}))
            .collect::<Vec<_>>()))
        .into_response(),
    }
}

async fn end_subscriptions(State(s): State<Shared>) -> Response {
    done(s.accounts().end_subscriptions())
}

async fn clock_skew(State(s): State<Shared>, Query(q): Params) -> Response {
    let ms = try_param!(text(&q, "ms"));
    let Ok(ms) = ms.parse::<i64>() else {
        return bad(&format!("ms `{ms}` is not a whole number of milliseconds"));
    };
    s.accounts().set_clock_skew(ms);
    done(0)
}

async fn api_delay(State(s): State<Shared>, Query(q): Params) -> Response {
    faults(&s).set_api_answer_delay(try_param!(ms(&q, "ms")).unwrap_or_default());
    done(0)
}
