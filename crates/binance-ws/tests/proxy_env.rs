//! Proxies from the environment (its own test binary: it sets variables).

mod support;

use std::sync::atomic::Ordering;

use binance_ws::{Endpoint, Proxy, SocketManager};
use support::*;

#[tokio::test]
async fn https_proxy_and_no_proxy_from_the_environment() {
    let sim = sim().await;
    let (proxy, tunnels) = http_proxy().await;
    std::env::set_var("HTTPS_PROXY", format!("http://{proxy}"));
    std::env::set_var("NO_PROXY", "example.com");
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .build()
        .unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    next_event(&mut socket).await;
    assert_eq!(tunnels.load(Ordering::SeqCst), 1, "HTTPS_PROXY used");
    drop(socket);

    std::env::set_var("NO_PROXY", "127.0.0.1");
    assert!(Proxy::from_env("127.0.0.1").is_none());
    let mut socket = manager.aggtrade_socket("BTCUSDT").unwrap();
    next_event(&mut socket).await;
    assert_eq!(tunnels.load(Ordering::SeqCst), 1, "NO_PROXY honoured");
}
