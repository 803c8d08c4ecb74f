//! TLS with the simulator's certificate, and proxies.

mod support;

use std::sync::atomic::Ordering;

use binance_sim::{Sim, SimConfig};
use binance_ws::{Endpoint, Event, Message, Proxy, SocketManager, Status};
use support::*;

#[tokio::test]
async fn tls_with_the_simulator_certificate() {
    let sim = Sim::start(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.ws_url().starts_with("wss://"));
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .no_proxy()
        .add_root_certificate_pem(sim.certificate_pem().unwrap())
        .build()
        .unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    assert!(matches!(
        next_event(&mut socket).await.event,
        Event::Trade(_)
    ));

    // Without trusting it, the handshake fails and says why.
    let untrusting = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .no_proxy()
        .max_reconnects(0)
        .build()
        .unwrap();
    let mut socket = untrusting.trade_socket("BTCUSDT").unwrap();
    let err = socket.connect().await.unwrap_err();
    assert_eq!(err.to_string(), "Max reconnect retries reached");
    let reason = loop {
        match next(&mut socket).await {
            Ok(Message::Status(Status::ConnectFailed { reason })) => break reason,
            Ok(_) => {}
            Err(e) => panic!("no ConnectFailed before {e}"),
        }
    };
    assert!(reason.contains("TLS"), "{reason}");
}

#[tokio::test]
async fn a_bad_root_certificate_is_a_clear_error() {
    let err = SocketManager::builder()
        .add_root_certificate_pem("not a certificate")
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("extra root certificate"), "{err}");
}

#[tokio::test]
async fn through_an_http_connect_proxy() {
    let sim = sim().await;
    let (proxy, tunnels) = http_proxy().await;
    let manager = builder(&sim)
        .proxy(Proxy::parse(&format!("http://{proxy}")).unwrap())
        .build()
        .unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    next_event(&mut socket).await;
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn through_a_socks5_proxy() {
    let sim = sim().await;
    let (proxy, tunnels) = socks5_proxy().await;
    let manager = builder(&sim)
        .proxy(Proxy::parse(&format!("socks5://{proxy}")).unwrap())
        .build()
        .unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    next_event(&mut socket).await;
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
}
