//! A futures venue's server: its stream paths and its REST, on the venue's
//! own port, as Binance serves each venue on its own host (the stream paths
//! `/ws` and `/stream` exist on spot and COIN-M alike).
//!
//! USD-M takes `/public`, `/market` and `/private` routed paths and the
//! legacy unrouted ones (which get `/public` data); COIN-M takes `/ws…` and
//! `/stream…`. User streams are a listen key as a stream name
//! (`/private/ws/<listenKey>` on USD-M, `/ws/<listenKey>` on COIN-M) or
//! `?listenKey=<k>&events=…` (USD-M `/private/ws`, `/private/stream`).
//! The venue's WebSocket API is at `/ws-fapi/v1` (USD-M) or `/ws-dapi/v1`
//! (COIN-M) ([`crate::futures_wsapi`]). Every connection runs the one session loop
//! ([`crate::session`]) with the stream protocol of [`crate::streams`].

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use binance_types::venue::{Route, Venue};

use crate::shared::{percent_decode, ConnMeta, VenueState};
use crate::streams::Names;

/// Every route of a futures venue: stream paths and REST.
pub(crate) fn router(state: VenueState) -> Router {
    let mut router = Router::new();
    let mut prefixes = vec![""];
    if state.market.venue().is_routed() {
        prefixes.extend([Route::Public, Route::Market, Route::Private].map(Route::path));
    }
    for prefix in prefixes {
        router = router
            .route(&format!("{prefix}/ws"), get(upgrade))
            .route(&format!("{prefix}/ws/{{*names}}"), get(upgrade))
            .route(&format!("{prefix}/stream"), get(upgrade));
    }
    let api = match state.market.venue() {
        Venue::CoinM => "/ws-dapi/v1",
        _ => "/ws-fapi/v1",
    };
    router
        .route(api, get(crate::futures_wsapi::upgrade))
        .merge(crate::rest_futures::routes(state.market.venue()))
        .merge(crate::rest_futures_user::routes(state.market.venue()))
        .fallback(crate::rest::not_found)
        .with_state(state)
}

/// Upgrade to a stream connection; the route is read from the path.
async fn upgrade(
    State(state): State<VenueState>,
    Extension(meta): Extension<ConnMeta>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let path = uri.path();
    let (route, rest) = [Route::Public, Route::Market, Route::Private]
        .into_iter()
        .filter(|_| state.market.venue() == Venue::UsdM)
        .find_map(|r| path.strip_prefix(r.path()).map(|rest| (Some(r), rest)))
        .unwrap_or((None, path));
    let kinds = Names::Futures {
        market: state.market.clone(),
        users: state.users.clone(),
        route,
    };
    let names = listen_key_streams(uri.query().unwrap_or_default());
    if !names.is_empty() {
        let path = match rest {
            "/stream" => "/stream".to_owned(),
            _ => format!("/ws/{}", names.join("/")),
        };
        let streams = format!("streams={}", names.join("/"));
        return crate::streams::open(state.shared, meta, &path, Some(&streams), ws, kinds).await;
    }
    crate::streams::open(state.shared, meta, rest, uri.query(), ws, kinds).await
}

/// The user streams of `?listenKey=<k1>[&events=A/B][&listenKey=<k2>…]`:
/// each key's stream, or with `events` one per event type it names
/// (`<k>#<type>`, and `<k>#listenKeyExpired` always).
fn listen_key_streams(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut pending: Option<String> = None;
    for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
        let value = percent_decode(value);
        match name {
            "listenKey" => {
                names.extend(pending.replace(value));
            }
            "events" => {
                if let Some(key) = pending.take() {
                    names.extend(
                        value
                            .split('/')
                            .chain(["listenKeyExpired"])
                            .map(|e| format!("{key}#{e}")),
                    );
                }
            }
            _ => {}
        }
    }
    names.extend(pending);
    names
}

#[cfg(test)]
mod tests {
    use super::listen_key_streams;

    #[test]
    fn listen_key_queries_name_each_keys_streams() {
        assert_eq!(listen_key_streams("streams=a@b"), Vec::<String>::new());
        assert_eq!(listen_key_streams("listenKey=k"), ["k"]);
        assert_eq!(
            listen_key_streams("listenKey=k1&events=A/B&listenKey=k2"),
            ["k1#A", "k1#B", "k1#listenKeyExpired", "k2"]
        );
        assert_eq!(
            listen_key_streams("listenKey=k1&listenKey=k2&events=A%2FB"),
            ["k1", "k2#A", "k2#B", "k2#listenKeyExpired"]
        );
    }
}
