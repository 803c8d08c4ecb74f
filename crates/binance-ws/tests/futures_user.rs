//! Futures user data sockets against the simulator's futures accounts:
//! every event of the simulator's log arrives exactly once through
//! connection drops, `serverShutdown`, rotations and a listen key that
//! expires; the key is kept alive on time; errors and `Debug` never show a
//! key.

mod support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binance_sim::cli::{demo_account, DEMO_API_KEY, DEMO_SECRET};
use binance_sim::{FuturesConfig, Sim, SimConfig};
use binance_ws::binance_types::futures::user::FuturesUserEvent;
use binance_ws::binance_types::sign::hmac_sha256_hex;
use binance_ws::binance_types::venue::Venue;
use binance_ws::{Credentials, FuturesUserSocket, Message, Status};
use serde_json::Value;
use support::*;

async fn sim_with_validity(validity: Duration) -> Sim {
    Sim::start(SimConfig {
        accounts: vec![demo_account()],
        futures: FuturesConfig {
            listen_key_validity: validity,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn manager(sim: &Sim) -> binance_ws::SocketManager {
    venues_builder(sim)
        .credentials(Credentials::hmac(DEMO_API_KEY, DEMO_SECRET))
        .build()
        .unwrap()
}

/// A signed market order on `venue`, as any bot would send it.
async fn order(sim: &Sim, venue: Venue, symbol: &str, side: &str, quantity: &str) {
    let path = match venue {
        Venue::CoinM => "/dapi/v1/order",
        _ => "/fapi/v1/order",
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let query =
        format!("symbol={symbol}&side={side}&type=MARKET&quantity={quantity}&timestamp={now}");
    let signature = hmac_sha256_hex(DEMO_SECRET.as_bytes(), query.as_bytes());
    let url = format!(
        "{}{path}?{query}&signature={signature}",
        sim.venue_rest_url(venue)
    );
    let (status, _, body) = http_with("POST", &url, &[("X-MBX-APIKEY", DEMO_API_KEY)]).await;
    assert_eq!(status, 200, "{body}");
}

/// The account's events in the simulator's log, as JSON values
/// (`listenKeyExpired` aside: it belongs to a key, not to the account).
fn logged(sim: &Sim, venue: Venue) -> Vec<Value> {
    sim.futures_user_events(venue, DEMO_API_KEY)
        .iter()
        .map(|text| serde_json::from_str::<Value>(text).unwrap())
        .filter(|v| v["e"] != "listenKeyExpired")
        .collect()
}

/// What a socket delivered: account events as JSON values, and the
/// statuses and expiries seen on the way.
#[derive(Default)]
struct Delivered {
    events: Vec<Value>,
    statuses: Vec<Status>,
    expired: usize,
}

impl Delivered {
    fn take(&mut self, message: Message) {
        match message {
            Message::FuturesUser(event) => match *event {
                FuturesUserEvent::ListenKeyExpired(_) => self.expired += 1,
                event => self.events.push(serde_json::to_value(&event).unwrap()),
            },
            Message::Status(status) => self.statuses.push(status),
            other => panic!("not a futures user message: {other:?}"),
        }
    }

    /// Read until `want` is true of what was delivered.
    async fn until(&mut self, socket: &mut FuturesUserSocket, want: impl Fn(&Delivered) -> bool) {
        while !want(self) {
            match tokio::time::timeout(PATIENCE, socket.recv()).await {
                Ok(message) => self.take(message.expect("the socket goes on")),
                Err(_) => panic!(
                    "not there in time: {} events, {} expiries, statuses {:?}",
                    self.events.len(),
                    self.expired,
                    self.statuses
                ),
            }
        }
    }
}

/// Every logged event delivered exactly once, nothing else.
fn assert_exactly_once(delivered: &[Value], logged: &[Value]) {
    let count = |values: &[Value]| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for v in values {
            *counts.entry(v.to_string()).or_default() += 1;
        }
        counts
    };
    let (got, want) = (count(delivered), count(logged));
    for (event, n) in &want {
        assert_eq!(got.get(event), Some(n), "logged {n} times: {event}");
    }
    assert_eq!(
        delivered.len(),
        logged.len(),
        "nothing delivered that was not logged"
    );
}

/// One connection dropped (twice), every connection told `serverShutdown`,
/// rotations every 700 ms, and the key expired mid-stream: every order's
/// events arrive exactly once.
#[tokio::test]
async fn every_event_arrives_once_through_drops_shutdowns_rotations_and_expiry() {
    let sim = sim_with_validity(Duration::from_secs(3600)).await;
    let manager = venues_builder(&sim)
        .credentials(Credentials::hmac(DEMO_API_KEY, DEMO_SECRET))
        .rotate_after(Duration::from_millis(700))
        .build()
        .unwrap();
    let mut socket = manager.futures_user_socket().unwrap();
    socket.connect().await.unwrap();
    let mut delivered = Delivered::default();
    let faults = sim.faults().clone();
    let mut side = "BUY";
    for round in 0..40 {
        order(&sim, Venue::UsdM, "BTCUSDT", side, "0.001").await;
        side = if side == "BUY" { "SELL" } else { "BUY" };
        match round {
            8 | 20 => {
                // One of the two connections: the other carries on.
                let ids = faults.connections();
                assert!(faults.drop_connection(ids[0], binance_sim::DropMode::Reset));
            }
            14 => drop(faults.server_shutdown(Some(Duration::from_millis(500)))),
            28 => {
                // The key dies: trading waits until the new key's
                // connections carry the account (events of a dead key's
                // time go nowhere, on Binance too).
                assert!(faults.expire_listen_keys(Venue::UsdM) >= 1);
                delivered
                    .until(&mut socket, |d| {
                        d.expired >= 1 && d.statuses.iter().any(|s| matches!(s, Status::Rotated))
                    })
                    .await;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let want = logged(&sim, Venue::UsdM);
    assert!(want.len() >= 40, "each order made events: {}", want.len());
    delivered
        .until(&mut socket, |d| d.events.len() >= want.len())
        .await;
    // Anything late would be a repeat: none comes.
    while let Ok(Ok(message)) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv()).await
    {
        delivered.take(message);
    }
    assert_exactly_once(&delivered.events, &logged(&sim, Venue::UsdM));
    // Two connections: drops, shutdowns and rotations leave no gap; the
    // dead key does, until its successor's connection was up (and said so).
    let gaps = delivered
        .statuses
        .iter()
        .filter(|s| matches!(s, Status::Gap { .. }))
        .count();
    assert_eq!(gaps, 1, "{:?}", delivered.statuses);
    socket.close().await;
}

/// The key lives 1.5 s here; kept alive every 300 ms it never expires.
#[tokio::test]
async fn the_key_is_kept_alive_on_time() {
    let sim = sim_with_validity(Duration::from_millis(1500)).await;
    let mut socket = manager(&sim)
        .futures_user_socket()
        .unwrap()
        .keepalive(Duration::from_millis(300));
    socket.connect().await.unwrap();
    let mut delivered = Delivered::default();
    for i in 0..25 {
        order(
            &sim,
            Venue::UsdM,
            "ETHUSDT",
            if i % 2 == 0 { "BUY" } else { "SELL" },
            "0.01",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let want = logged(&sim, Venue::UsdM);
    delivered
        .until(&mut socket, |d| d.events.len() >= want.len())
        .await;
    assert_eq!(delivered.expired, 0, "the key never expired");
    assert_exactly_once(&delivered.events, &want);
}

/// Without keepalive inside its validity the key expires: the socket makes
/// a new one by itself and goes on.
#[tokio::test]
async fn an_expired_key_is_replaced() {
    let sim = sim_with_validity(Duration::from_millis(800)).await;
    let mut socket = manager(&sim)
        .coin_futures_user_socket()
        .unwrap()
        .keepalive(Duration::from_secs(3600));
    socket.connect().await.unwrap();
    let mut delivered = Delivered::default();
    delivered
        .until(&mut socket, |d| {
            d.expired >= 1 && d.statuses.iter().any(|s| matches!(s, Status::Rotated))
        })
        .await;
    order(&sim, Venue::CoinM, "BTCUSD_PERP", "BUY", "1").await;
    delivered
        .until(&mut socket, |d| {
            d.events
                .iter()
                .any(|e| e["e"] == "ORDER_TRADE_UPDATE" && e["o"]["s"] == "BTCUSD_PERP")
        })
        .await;
}

#[tokio::test]
async fn a_refused_api_key_ends_the_socket_with_an_auth_error_naming_no_key() {
    let sim = sim_with_validity(Duration::from_secs(3600)).await;
    let manager = venues_builder(&sim)
        .credentials(Credentials::hmac("not-a-key-of-the-sim", DEMO_SECRET))
        .build()
        .unwrap();
    let mut socket = manager.futures_user_socket().unwrap();
    let error = socket.connect().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    let shown = format!("{error} {error:?} {socket:?}");
    assert!(!shown.contains("not-a-key-of-the-sim"), "{shown}");
}

/// Binance gives every socket of an account the same key: closing one
/// socket leaves the key to the others (no DELETE).
#[tokio::test]
async fn closing_one_socket_leaves_the_accounts_key_to_the_others() {
    let sim = sim_with_validity(Duration::from_secs(3600)).await;
    let manager = manager(&sim);
    let mut first = manager.futures_user_socket().unwrap();
    let mut second = manager.futures_user_socket().unwrap();
    first.connect().await.unwrap();
    second.connect().await.unwrap();
    first.close().await;
    order(&sim, Venue::UsdM, "BTCUSDT", "BUY", "0.001").await;
    let mut delivered = Delivered::default();
    delivered
        .until(&mut second, |d| {
            d.events.iter().any(|e| e["e"] == "ORDER_TRADE_UPDATE")
        })
        .await;
    assert_eq!(delivered.expired, 0);
}

/// A REST host that never answers ends `connect` once the reconnect budget
/// is spent, as every socket's retries do.
#[tokio::test]
async fn no_listen_key_within_the_retry_budget_ends_connect() {
    let manager = binance_ws::SocketManager::builder()
        .venue_endpoint(
            Venue::UsdM,
            binance_ws::Endpoint::Custom("ws://127.0.0.1:1".into()),
        )
        .credentials(Credentials::hmac(DEMO_API_KEY, DEMO_SECRET))
        .no_proxy()
        .max_reconnects(2)
        .build()
        .unwrap();
    let mut socket = manager.futures_user_socket().unwrap();
    let error = tokio::time::timeout(PATIENCE, socket.connect())
        .await
        .expect("connect ends")
        .unwrap_err();
    assert_eq!(
        error.kind(),
        &binance_ws::ErrorKind::MaxReconnects,
        "{error}"
    );
}

/// The futures WebSocket API (`futures_ws_api`): an order placed over it
/// shows on the account's user stream, its status and the balance answer,
/// and a refused request is a typed error with Binance's code.
#[tokio::test]
async fn futures_ws_api_orders_show_on_the_user_stream() {
    let sim = sim_with_validity(Duration::from_secs(3600)).await;
    let manager = manager(&sim);
    let mut account = manager.futures_user_socket().unwrap();
    account.connect().await.unwrap();
    let api = manager.futures_ws_api(Venue::UsdM).await.unwrap();
    let order = serde_json::json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"});
    let placed = api.signed_request("order.place", order).await.unwrap();
    let id = placed["orderId"].as_u64().expect("an order id");
    let mut delivered = Delivered::default();
    delivered
        .until(&mut account, |d| {
            d.events.iter().any(|e| {
                e["e"] == "ORDER_TRADE_UPDATE" && e["o"]["i"] == id && e["o"]["X"] == "FILLED"
            })
        })
        .await;
    let status = api
        .signed_request(
            "order.status",
            serde_json::json!({"symbol": "BTCUSDT", "orderId": id}),
        )
        .await
        .unwrap();
    assert_eq!(status["status"], "FILLED", "{status}");
    let balance = api
        .signed_request("account.balance", serde_json::json!({}))
        .await
        .unwrap();
    assert!(
        balance
            .as_array()
            .is_some_and(|b| b.iter().any(|a| a["asset"] == "USDT")),
        "{balance}"
    );
    let refused = api
        .signed_request(
            "order.place",
            serde_json::json!({"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.api_code(), Some(-1121), "{refused}");
    let coinm = manager.futures_ws_api(Venue::CoinM).await.unwrap();
    let time = coinm.request("time", serde_json::json!({})).await.unwrap();
    assert!(time["serverTime"].is_u64(), "{time}");
}

/// Its server pings only every 3 minutes: a quiet futures WebSocket API
/// connection is kept by the client's pings, not dropped by the watchdog.
#[tokio::test]
async fn a_quiet_futures_ws_api_connection_stays() {
    let sim = sim_with_validity(Duration::from_secs(3600)).await;
    let manager = venues_builder(&sim)
        .credentials(Credentials::hmac(DEMO_API_KEY, DEMO_SECRET))
        .watchdog(Duration::from_millis(600))
        .build()
        .unwrap();
    let api = manager.futures_ws_api(Venue::UsdM).await.unwrap();
    let first = sim.faults().api_connections();
    assert_eq!(first.len(), 1);
    // Ten watchdog periods without a request.
    tokio::time::sleep(Duration::from_secs(6)).await;
    api.request("ping", serde_json::json!({})).await.unwrap();
    assert_eq!(sim.faults().api_connections(), first, "the same connection");
}

/// A leverage change and a funding reach the client typed: the
/// `ACCOUNT_CONFIG_UPDATE` of `POST /fapi/v1/leverage`, then (funding every
/// second) an `ACCOUNT_UPDATE` whose reason is `FUNDING_FEE`, each the
/// simulator's logged bytes.
#[tokio::test]
async fn leverage_and_funding_arrive_typed() {
    use binance_ws::binance_types::futures::user::AccountUpdateReason;

    let sim = Sim::start(SimConfig {
        accounts: vec![demo_account()],
        futures: FuturesConfig {
            funding_interval: Duration::from_secs(1),
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let manager = manager(&sim);
    let mut socket = manager.futures_user_socket().unwrap();
    socket.connect().await.unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let query = format!("symbol=BTCUSDT&leverage=21&timestamp={now}");
    let signature = hmac_sha256_hex(DEMO_SECRET.as_bytes(), query.as_bytes());
    let url = format!(
        "{}/fapi/v1/leverage?{query}&signature={signature}",
        sim.venue_rest_url(Venue::UsdM)
    );
    let (status, _, body) = http_with("POST", &url, &[("X-MBX-APIKEY", DEMO_API_KEY)]).await;
    assert_eq!(status, 200, "{body}");
    order(&sim, Venue::UsdM, "BTCUSDT", "BUY", "0.002").await;

    let (mut config, mut funding) = (None, None);
    while config.is_none() || funding.is_none() {
        let message = tokio::time::timeout(PATIENCE, socket.recv())
            .await
            .expect("in time")
            .expect("the socket goes on");
        let Message::FuturesUser(event) = message else {
            continue;
        };
        match *event {
            FuturesUserEvent::AccountConfigUpdate(update) => config = Some(update),
            FuturesUserEvent::AccountUpdate(update)
                if update.update.reason == AccountUpdateReason::FundingFee =>
            {
                funding = Some(update)
            }
            _ => {}
        }
    }
    let (config, funding) = (config.unwrap(), funding.unwrap());
    let leverage = config.leverage.as_ref().expect("ac");
    assert_eq!(
        (leverage.symbol.as_str(), leverage.leverage),
        ("BTCUSDT", 21)
    );
    let balance = &funding.update.balances[0];
    assert_eq!(balance.asset, "USDT");
    assert!(
        balance.balance_change.is_sign_negative(),
        "a long pays a positive rate"
    );
    assert_eq!(funding.update.positions[0].symbol, "BTCUSDT");
    let log = sim.futures_user_events(Venue::UsdM, DEMO_API_KEY);
    for event in [
        FuturesUserEvent::AccountConfigUpdate(config),
        FuturesUserEvent::AccountUpdate(funding),
    ] {
        assert!(log.contains(&event.to_json()), "{}", event.to_json());
    }
}
