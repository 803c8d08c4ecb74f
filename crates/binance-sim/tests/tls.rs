//! TLS with the certificate the simulator makes at start-up.

mod support;

use std::sync::Arc;

use binance_sim::{Sim, SimConfig};
use tokio_rustls::rustls;

#[tokio::test]
async fn a_client_that_trusts_the_sim_certificate_streams_over_tls() {
    let sim = Sim::start(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.ws_url().starts_with("wss://localhost:"));
    let pem = sim.certificate_pem().expect("a certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let tls = connector
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .expect("the handshake trusts the sim's certificate");
    let url = format!("{}/ws/btcusdt@trade", sim.ws_url());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    use futures_util::StreamExt;
    let frame = ws.next().await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(v["e"], "trade");

    // A client that does not trust it is refused.
    let untrusting = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(untrusting))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await;
    assert!(refused.is_err());
}
