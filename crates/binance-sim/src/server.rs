//! The top of the server: the stream server, the WebSocket API, the REST
//! and admin endpoints routed on one port, plain or TLS, and the accept loop.
//!
//! Connections are accepted here rather than by `axum::serve` so that each
//! keeps a second handle on its TCP socket: a reset fault needs it.

use std::sync::Arc;

use axum::extract::Extension;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::faults::FaultState;
use crate::session::reset;
use crate::shared::{ConnMeta, Shared};

/// Every route: streams, WebSocket API, REST, signed REST, admin.
pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/ws", get(crate::streams::upgrade))
        .route("/ws/{*names}", get(crate::streams::upgrade))
        .route("/stream", get(crate::streams::upgrade))
        .route("/ws-api/v3", get(crate::wsapi::upgrade))
        .merge(http_routes())
        .fallback(crate::rest::not_found)
        .with_state(shared)
}

/// The HTTP endpoints: public REST, signed REST and admin.
pub(crate) fn http_routes() -> Router<Shared> {
    Router::new()
        .merge(crate::rest_user::routes())
        .merge(crate::rest::routes())
        .merge(crate::admin::routes())
}

/// Accept connections until the listener fails.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Shared,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let faults = shared.faults.clone();
    serve_app(listener, router(shared), faults, tls).await
}

/// Accept connections to `app` until the listener fails (a futures
/// venue's server too); `faults` may refuse them.
pub(crate) async fn serve_app(
    listener: TcpListener,
    app: Router,
    faults: Arc<FaultState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        if faults.refusing() {
            reset(&tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let std = tcp.into_std()?;
        let raw = Arc::new(std.try_clone()?);
        let tcp = tokio::net::TcpStream::from_std(std)?;
        let app = app.clone().layer(Extension(ConnMeta { peer, raw }));
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await
                }
            };
            drop(result);
        });
    }
}
