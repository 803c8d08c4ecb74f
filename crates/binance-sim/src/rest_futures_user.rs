//! A futures venue's user REST (`/fapi/v1/…` on USD-M, `/dapi/v1/…` on
//! COIN-M): the listen key (`POST`/`PUT`/`DELETE listenKey`, the API key
//! alone, reference §3.2), signed orders (`POST`/`DELETE`/`GET order`,
//! checked as spot's are) and the signed `POST leverage`, each weight 1.

use axum::extract::{Extension, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use binance_types::venue::Venue;
use serde_json::{json, Value};

use crate::api_error::ApiErr;
use crate::faults::{Command, DropMode};
use crate::futures_user::{FuturesOrderRequest, OrderRef};
use crate::rest_user::{api_key, authenticate, Authed};
use crate::shared::{stream_query, ConnMeta, VenueState};

/// The user routes of `venue`, under its prefix.
pub(crate) fn routes(venue: Venue) -> Router<VenueState> {
    let p = match venue {
        Venue::CoinM => "/dapi/v1",
        _ => "/fapi/v1",
    };
    Router::new()
        .route(
            &format!("{p}/listenKey"),
            post(create_key).put(extend_key).delete(close_key),
        )
        .route(
            &format!("{p}/order"),
            post(place).delete(cancel).get(query_order),
        )
        .route(&format!("{p}/leverage"), post(leverage))
}

/// The account's API key (`X-MBX-APIKEY`), known to the simulator.
fn account_key(v: &VenueState, headers: &HeaderMap) -> Result<String, ApiErr> {
    known_key(v, api_key(headers)?)
}

/// `key` when it is an account's API key; `-2015` when not.
pub(crate) fn known_key(v: &VenueState, key: String) -> Result<String, ApiErr> {
    if v.shared.accounts().knows_key(&key) {
        Ok(key)
    } else {
        Err(ApiErr::bad_key())
    }
}

/// End the connections carrying a closed `listen_key` (close code 1000).
pub(crate) fn end_streams(v: &VenueState, listen_key: &str) {
    for conn in v.shared.hub.subscribers(listen_key) {
        v.shared.faults.command(
            conn,
            Command::Drop(DropMode::Close {
                code: 1000,
                reason: "listenKey closed".into(),
            }),
        );
    }
}

/// Weigh 1, then answer `run`'s value or error.
async fn weighed(
    v: &VenueState,
    m: &ConnMeta,
    run: impl FnOnce() -> Result<Value, ApiErr>,
) -> Response {
    let answer = async move {
        match run() {
            Ok(body) => Json(body).into_response(),
            Err(e) => e.into_response(),
        }
    };
    v.shared.weighed(m, 1, answer).await
}

async fn create_key(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
) -> Response {
    weighed(&v, &m, || {
        let key = account_key(&v, &headers)?;
        Ok(json!({ "listenKey": v.users.create_listen_key(&key) }))
    })
    .await
}

async fn extend_key(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    weighed(&v, &m, || {
        let key = account_key(&v, &headers)?;
        let given = stream_query(q).remove("listenKey");
        let listen_key = v.users.extend_listen_key(&key, given.as_deref())?;
        Ok(json!({ "listenKey": listen_key }))
    })
    .await
}

/// `DELETE listenKey`: the key is gone and the connections carrying it end
/// (close code 1000).
async fn close_key(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    weighed(&v, &m, || {
        let key = account_key(&v, &headers)?;
        let given = stream_query(q).remove("listenKey");
        let listen_key = v.users.close_listen_key(&key, given.as_deref())?;
        end_streams(&v, &listen_key);
        Ok(json!({}))
    })
    .await
}

/// A signed request's account's API key and parameters.
fn signed(
    v: &VenueState,
    headers: &HeaderMap,
    q: Option<String>,
    body: String,
) -> Result<(String, Authed), ApiErr> {
    let authed = authenticate(&v.shared, headers, q, body)?;
    Ok((v.shared.accounts().api_key(authed.account), authed))
}

async fn place(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: String,
) -> Response {
    weighed(&v, &m, || {
        let (key, a) = signed(&v, &headers, q, body)?;
        let req = FuturesOrderRequest::parse(&|k| a.get(k))?;
        v.users.place(&key, &req)
    })
    .await
}

async fn cancel(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: String,
) -> Response {
    weighed(&v, &m, || {
        let (key, a) = signed(&v, &headers, q, body)?;
        let (symbol, id) = OrderRef::parse(&|k| a.get(k))?;
        v.users.cancel(&key, &symbol, id)
    })
    .await
}

async fn query_order(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: String,
) -> Response {
    weighed(&v, &m, || {
        let (key, a) = signed(&v, &headers, q, body)?;
        let (symbol, id) = OrderRef::parse(&|k| a.get(k))?;
        v.users.query(&key, &symbol, id)
    })
    .await
}

/// `POST leverage`: the account's new leverage on a contract
/// (`symbol`, `leverage` 1 to 125).
async fn leverage(
    State(v): State<VenueState>,
    Extension(m): Extension<ConnMeta>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: String,
) -> Response {
    weighed(&v, &m, || {
        let (key, a) = signed(&v, &headers, q, body)?;
        v.users.set_leverage(
            &key,
            a.get("symbol").as_deref(),
            a.get("leverage").as_deref(),
        )
    })
    .await
}
