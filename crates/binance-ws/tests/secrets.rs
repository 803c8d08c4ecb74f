//! No API key, secret, signature, listen token or listen key in the
//! client's log output (captured at TRACE) or in any `Debug` / `Display`
//! string it gives out, across subscriptions, token renewals, listen-key
//! keepalives and expiries, orders and refusals.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binance_sim::{AccountSpec, MarketConfig, Sim, SimConfig, Wallet};
use binance_ws::binance_types::venue::Venue;
use binance_ws::{Credentials, Message};
use rust_decimal::Decimal;
use serde_json::{json, Map};
use support::{builder, http_with, next, venues_builder};

const KEY: &str = "KEYqwertyuiopASDFGHJKL0123456789";
const SECRET: &str = "SECRETzxcvbnmQWERTYUIOP9876543210";
const ED_KEY: &str = "EDKEYmnbvcxzLKJHGFDSA5647382910";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Runs of at least `min` characters from `alphabet`: what a hex signature
/// (64), a base64 signature (88) or a listen token (64) would look like.
fn long_runs(text: &str, min: usize, alphabet: impl Fn(char) -> bool) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if alphabet(c) {
            current.push(c);
        } else {
            if current.len() >= min {
                runs.push(current.clone());
            }
            current.clear();
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_in_logs_debug_or_errors() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let sim = Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 100,
            ..MarketConfig::default()
        },
        accounts: vec![
            AccountSpec::hmac(KEY, SECRET)
                .balance(Wallet::Spot, "USDT", Decimal::from(1000))
                .balance(Wallet::Margin, "USDT", Decimal::from(1000)),
            AccountSpec::ed25519(ED_KEY, key_file("test-ed25519.pub.pem")),
        ],
        max_listen_token_validity: Duration::from_millis(500),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let ed_pem = key_file("test-ed25519.pem");
    let hmac = Credentials::hmac(KEY, SECRET);
    let ed = Credentials::from_pem(ED_KEY, &ed_pem).unwrap();
    let mut shown: Vec<String> = vec![format!("{hmac:?}"), format!("{ed:?}")];
    let mut tokens = Vec::new();
    let mut listen_keys: Vec<String> = Vec::new();

    // Spot (HMAC), spot (Ed25519 logon), margin with renewals.
    let manager = builder(&sim).credentials(hmac.clone()).build().unwrap();
    let mut spot = manager.user_socket().unwrap();
    spot.connect().await.unwrap();
    let ed_manager = builder(&sim).credentials(ed.clone()).build().unwrap();
    let mut logon = ed_manager.user_socket().unwrap().logon();
    logon.connect().await.unwrap();
    let mut margin = manager.margin_socket().unwrap();
    margin.connect().await.unwrap();
    let until = Instant::now() + Duration::from_millis(1600);
    let mut renewed = 0;
    while Instant::now() < until {
        sim.accounts()
            .deposit(KEY, &Wallet::Margin, "USDT", Decimal::ONE);
        tokens.extend(sim.accounts().issued_tokens());
        let message = next(&mut margin).await.unwrap();
        if matches!(message, Message::Status(binance_ws::Status::Rotated)) {
            renewed += 1;
        }
        shown.push(format!("{message:?}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(renewed >= 1, "the listen token was renewed during the run");
    sim.accounts()
        .deposit(KEY, &Wallet::Spot, "USDT", Decimal::ONE);
    shown.push(format!("{:?}", next(&mut spot).await));

    // Orders and refusals through the WebSocket API.
    let api = manager.ws_api().await.unwrap();
    shown.push(format!("{api:?}"));
    let order = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "100.00", "quantity": "0.01000"});
    let placed = api
        .signed_request("order.place", order.as_object().unwrap().clone())
        .await;
    shown.push(format!("{placed:?}"));
    let refused = api
        .signed_request("session.logon", Map::new())
        .await
        .unwrap_err();
    shown.push(format!("{refused:?} {refused}"));
    for credentials in [
        Credentials::hmac(KEY, "wrong"),
        Credentials::hmac("unknown", SECRET),
    ] {
        let manager = builder(&sim).credentials(credentials).build().unwrap();
        for socket in [manager.user_socket(), manager.margin_socket()] {
            let err = socket.unwrap().connect().await.unwrap_err();
            shown.push(format!("{err:?} {err}"));
        }
    }
    let bad_pem = ed_pem.replace("MC4CAQAw", "MC4CAQAx");
    if let Err(e) = Credentials::from_pem(ED_KEY, &bad_pem) {
        shown.push(format!("{e:?} {e}"));
    }
    spot.close().await;
    logon.close().await;
    margin.close().await;

    // Futures user data: listen keys made, kept alive, expired and made
    // again, an order's events, a refused key.
    let venues = venues_builder(&sim)
        .credentials(hmac.clone())
        .build()
        .unwrap();
    let mut futures = venues
        .futures_user_socket()
        .unwrap()
        .keepalive(Duration::from_millis(100));
    futures.connect().await.unwrap();
    let listen_key = || async {
        let url = format!("{}/fapi/v1/listenKey", sim.venue_rest_url(Venue::UsdM));
        let (_, _, body) = http_with("POST", &url, &[("X-MBX-APIKEY", KEY)]).await;
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["listenKey"].as_str().unwrap().to_owned()
    };
    // A POST by the same API key returns the socket's key.
    listen_keys.push(listen_key().await);
    sim.faults().expire_listen_keys(Venue::UsdM);
    loop {
        let message = next(&mut futures).await.unwrap();
        shown.push(format!("{message:?}"));
        if matches!(message, Message::Status(binance_ws::Status::Rotated)) {
            break;
        }
    }
    listen_keys.push(listen_key().await);
    shown.push(format!("{futures:?}"));
    futures.close().await;
    let refused = builder(&sim)
        .venue_endpoint(
            Venue::UsdM,
            binance_ws::Endpoint::Custom(sim.venue_ws_url(Venue::UsdM)),
        )
        .credentials(Credentials::hmac("unknown", SECRET))
        .build()
        .unwrap()
        .futures_user_socket()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    shown.push(format!("{refused:?} {refused}"));

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("listen token"), "the capture works: {log}");
    let everything = format!("{log}\n{}", shown.join("\n"));
    let pem_body: Vec<&str> = ed_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets: Vec<&str> = vec![KEY, SECRET, ED_KEY];
    secrets.extend(pem_body.iter().copied());
    tokens.sort();
    tokens.dedup();
    assert!(tokens.len() >= 2, "tokens issued: {}", tokens.len());
    secrets.extend(tokens.iter().map(String::as_str));
    listen_keys.dedup();
    assert_eq!(listen_keys.len(), 2, "a key, and a new one after expiry");
    secrets.extend(listen_keys.iter().map(String::as_str));
    for secret in secrets {
        assert!(
            !everything.contains(secret),
            "a credential leaked: {secret}"
        );
    }
    let hex = long_runs(&everything, 64, |c| c.is_ascii_hexdigit());
    let base64 = long_runs(&everything, 80, |c| {
        c.is_ascii_alphanumeric() || "+/=".contains(c)
    });
    assert!(
        hex.is_empty() && base64.is_empty(),
        "signature-like text: {hex:?} {base64:?}"
    );
}
