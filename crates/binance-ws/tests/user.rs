//! User data sockets end to end against the simulator: orders placed through
//! REST and the WebSocket API reach the socket as Binance's events; nothing
//! is lost across a dropped connection or a listen-token renewal; every
//! authentication failure comes back typed.

mod support;

use std::str::FromStr;
use std::time::{Duration, Instant};

use binance_sim::{AccountSpec, DropMode, MarketConfig, Sim, SimConfig, Wallet};
use binance_ws::{Credentials, ErrorKind, Event, Message, SocketManager, Status, UserSocket};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use support::{builder, http_with, next, next_event_noting, PATIENCE};

const HMAC_KEY: &str = "hmac-test-key";
const HMAC_SECRET: &str = "hmac-test-secret";
const ED_KEY: &str = "ed25519-test-key";
const RSA_KEY: &str = "rsa-test-key";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("test key")
}

fn funded(mut spec: AccountSpec) -> AccountSpec {
    for wallet in [
        Wallet::Spot,
        Wallet::Margin,
        Wallet::Isolated("BTCUSDT".into()),
    ] {
        spec = spec
            .balance(wallet.clone(), "USDT", Decimal::from(100_000))
            .balance(wallet, "BTC", Decimal::from(10));
    }
    spec
}

async fn user_sim(token_validity: Duration) -> Sim {
    Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 200,
            ..MarketConfig::default()
        },
        accounts: vec![
            funded(AccountSpec::hmac(HMAC_KEY, HMAC_SECRET)),
            funded(AccountSpec::ed25519(
                ED_KEY,
                key_file("test-ed25519.pub.pem"),
            )),
            funded(AccountSpec::rsa(RSA_KEY, key_file("test-rsa.pub.pem"))),
        ],
        max_listen_token_validity: token_validity,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

fn hmac() -> Credentials {
    Credentials::hmac(HMAC_KEY, HMAC_SECRET)
}

fn manager_with(sim: &Sim, credentials: Credentials) -> SocketManager {
    builder(sim)
        .credentials(credentials)
        .build()
        .expect("manager")
}

/// Wait for a condition the test cannot await directly (server-side state).
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A signed REST call as a user's own code would make it.
async fn rest(sim: &Sim, method: &str, path: &str, query: &str) -> (u16, Value) {
    let query = format!("{query}&timestamp={}", now_ms());
    let signature = hmac().sign(query.as_bytes());
    let url = format!("{}{path}?{query}&signature={signature}", sim.rest_url());
    let (status, _, body) = http_with(method, &url, &[("X-MBX-APIKEY", HMAC_KEY)]).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[tokio::test]
async fn rest_and_ws_api_orders_reach_the_user_socket() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = manager_with(&sim, hmac());
    let mut user = manager.user_socket().unwrap();
    user.connect().await.expect("subscribed");
    let mut statuses = Vec::new();

    // A resting limit buy through REST.
    let (status, body) = rest(
        &sim,
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01000&price=20000.00&newClientOrderId=rest-1",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let resting_id = body["orderId"].as_u64().unwrap();
    let Event::ExecutionReport(new) = next_event_noting(&mut user, &mut statuses).await else {
        panic!("executionReport first")
    };
    assert_eq!(
        (
            new.client_order_id.as_str(),
            new.execution_type.as_str(),
            new.order_status.as_str()
        ),
        ("rest-1", "NEW", "NEW")
    );
    assert_eq!(
        (new.order_id, new.price, new.is_working),
        (resting_id, dec("20000"), true)
    );
    let Event::OutboundAccountPosition(position) =
        next_event_noting(&mut user, &mut statuses).await
    else {
        panic!("outboundAccountPosition after the order")
    };
    let usdt = position
        .balances
        .iter()
        .find(|b| b.asset == "USDT")
        .unwrap();
    assert_eq!((usdt.free, usdt.locked), (dec("99800"), dec("200")));

    // A market buy through the WebSocket API, filled against the book.
    let api = manager.ws_api().await.unwrap();
    let placed = api
        .signed_request(
            "order.place",
            params(json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.00100", "newClientOrderId": "ws-1"})),
        )
        .await
        .expect("order placed");
    assert_eq!(placed["status"], "FILLED", "{placed}");
    let mut filled = Decimal::ZERO;
    let mut trades = 0;
    loop {
        match next_event_noting(&mut user, &mut statuses).await {
            Event::ExecutionReport(r) => {
                assert_eq!(r.client_order_id, "ws-1");
                if r.execution_type == "TRADE" {
                    trades += 1;
                    filled += r.last_executed_quantity;
                    assert_eq!(r.cumulative_filled_quantity, filled);
                }
                if r.order_status == "FILLED" {
                    assert_eq!(
                        r.cumulative_quote_quantity,
                        dec(placed["cummulativeQuoteQty"].as_str().unwrap())
                    );
                    break;
                }
            }
            other => panic!("order reports before the position, got {other:?}"),
        }
    }
    assert_eq!(
        (filled, trades),
        (dec("0.001"), placed["fills"].as_array().unwrap().len())
    );
    let Event::OutboundAccountPosition(position) =
        next_event_noting(&mut user, &mut statuses).await
    else {
        panic!("position after the fill")
    };
    let btc = position.balances.iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.free, dec("10.001"));

    // Cancel the resting order through the WebSocket API.
    let canceled = api
        .signed_request(
            "order.cancel",
            params(json!({"symbol": "BTCUSDT", "orderId": resting_id})),
        )
        .await
        .expect("canceled");
    assert_eq!(canceled["status"], "CANCELED");
    let Event::ExecutionReport(report) = next_event_noting(&mut user, &mut statuses).await else {
        panic!("cancel report")
    };
    assert_eq!(
        (
            report.execution_type.as_str(),
            report.original_client_order_id.as_str(),
            report.order_id
        ),
        ("CANCELED", "rest-1", resting_id)
    );
    let Event::OutboundAccountPosition(position) =
        next_event_noting(&mut user, &mut statuses).await
    else {
        panic!("position after the cancel")
    };
    let truth = sim.accounts().balances(HMAC_KEY, &Wallet::Spot).unwrap();
    for b in &position.balances {
        assert_eq!((b.free, b.locked), truth[&b.asset], "{}", b.asset);
    }
    assert_eq!(truth["USDT"].1, Decimal::ZERO, "nothing stays locked");

    // Refusals are typed, and the connection keeps serving.
    let err = api
        .signed_request(
            "order.place",
            params(
                json!({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "500"}),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Api {
                status: 400,
                code: -2010,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("insufficient balance"), "{err}");
    let limits = api.rate_limits();
    assert!(
        limits
            .iter()
            .any(|l| l.rate_limit_type == "REQUEST_WEIGHT" && l.count > Some(0)),
        "{limits:?}"
    );
    assert!(api.request("ping", Map::new()).await.is_ok());
    assert!(
        !statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn every_key_type_subscribes() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let ed = Credentials::from_pem(ED_KEY, &key_file("test-ed25519.pem")).unwrap();
    let rsa = Credentials::from_pem(RSA_KEY, &key_file("test-rsa.pem")).unwrap();
    assert_eq!(ed.key_type(), binance_ws::KeyType::Ed25519);
    assert_eq!(rsa.key_type(), binance_ws::KeyType::Rsa);
    let cases = [
        ("hmac signature", HMAC_KEY, hmac(), false),
        ("ed25519 signature", ED_KEY, ed.clone(), false),
        ("ed25519 logon", ED_KEY, ed, true),
        ("rsa signature", RSA_KEY, rsa, false),
    ];
    for (i, (name, key, credentials, logon)) in cases.into_iter().enumerate() {
        let manager = manager_with(&sim, credentials);
        let mut user = manager.user_socket().unwrap().connections(1);
        if logon {
            user = user.logon();
        }
        user.connect()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let delta = Decimal::new(i as i64 + 1, 3);
        sim.accounts().deposit(key, &Wallet::Spot, "BTC", delta);
        let Event::BalanceUpdate(update) = next_event_noting(&mut user, &mut Vec::new()).await
        else {
            panic!("{name}: balanceUpdate first")
        };
        assert_eq!(
            (update.asset.as_str(), update.delta),
            ("BTC", delta),
            "{name}"
        );
        user.close().await;
    }
    // Logon takes Ed25519 keys only: said before anything is sent.
    let mut user = manager_with(&sim, hmac()).user_socket().unwrap().logon();
    let err = user.connect().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("Ed25519"), "{err}");
}

/// Deposits `count` numbered amounts (0.01, 0.02, …) into a wallet, one
/// every `every`, while the test breaks things.
fn depositor(
    sim: &Sim,
    wallet: Wallet,
    count: i64,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let accounts = sim.accounts().clone();
    tokio::spawn(async move {
        for i in 1..=count {
            accounts.deposit(HMAC_KEY, &wallet, "USDT", Decimal::new(i, 2));
            tokio::time::sleep(every).await;
        }
    })
}

/// Reads balanceUpdates until the `count`-th, checking each arrives once
/// and in order; `at(n)` runs after the n-th. Returns the statuses seen.
async fn expect_all(
    user: &mut UserSocket,
    count: i64,
    mut at: impl AsyncFnMut(i64),
) -> Vec<Status> {
    let mut statuses = Vec::new();
    for i in 1..=count {
        let event = next_event_noting(user, &mut statuses).await;
        match event {
            Event::BalanceUpdate(u) => assert_eq!(
                u.delta,
                Decimal::new(i, 2),
                "event {i} (none lost, none twice)"
            ),
            Event::OutboundAccountPosition(_) => {
                // Every deposit also moves the position; read past it.
                let Event::BalanceUpdate(u) = next_event_noting(user, &mut statuses).await else {
                    panic!("balanceUpdate expected")
                };
                assert_eq!(
                    u.delta,
                    Decimal::new(i, 2),
                    "event {i} (none lost, none twice)"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        at(i).await;
    }
    statuses
}

#[tokio::test]
async fn a_dropped_connection_loses_nothing() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = manager_with(&sim, hmac());
    let mut user = manager.user_socket().unwrap();
    user.connect().await.unwrap();
    until("both connections subscribed", || {
        sim.accounts().subscriptions() == 2
    })
    .await;
    let deposits = depositor(&sim, Wallet::Spot, 90, Duration::from_millis(10));
    let faults = sim.faults().clone();
    let accounts = sim.accounts().clone();
    let statuses = expect_all(&mut user, 90, async |n| {
        if n == 20 || n == 50 {
            // Drop the older connection; the other carries on meanwhile.
            until("two live subscriptions", || accounts.subscriptions() == 2).await;
            let oldest = faults.api_connections()[0];
            assert!(faults.drop_connection(oldest, DropMode::Reset));
        }
    })
    .await;
    deposits.await.unwrap();
    let drops = statuses
        .iter()
        .filter(|s| matches!(s, Status::Disconnected { .. }))
        .count();
    assert_eq!(drops, 2, "{statuses:?}");
    assert!(
        !statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "never uncovered: {statuses:?}"
    );
    // And the dropped connections subscribed again by themselves.
    until("resubscribed", || sim.accounts().subscriptions() == 2).await;
}

#[tokio::test]
async fn one_connection_resubscribes_and_reports_the_gap() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let mut user = manager_with(&sim, hmac())
        .user_socket()
        .unwrap()
        .connections(1);
    user.connect().await.unwrap();
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::ONE);
    let mut statuses = Vec::new();
    assert!(matches!(
        next_event_noting(&mut user, &mut statuses).await,
        Event::BalanceUpdate(_)
    ));
    assert_eq!(sim.faults().drop_all(DropMode::Reset), 1);
    // The gap is reported once the new subscription is live.
    loop {
        match next(&mut user).await.expect("socket alive") {
            Message::Status(Status::Gap {
                stream: None,
                from,
                to,
            }) => {
                assert!(to >= from);
                assert_eq!(from.unit(), "ms");
                break;
            }
            Message::Status(_) => {}
            Message::Event(e) if matches!(e.event, Event::OutboundAccountPosition(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        next(&mut user).await.expect("socket alive"),
        Message::Status(Status::Reconnected)
    ));
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::TWO);
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut statuses).await else {
        panic!("events after the resubscription")
    };
    assert_eq!(u.delta, Decimal::TWO);
}

#[tokio::test]
async fn event_stream_terminated_subscribes_again() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let mut user = manager_with(&sim, hmac())
        .user_socket()
        .unwrap()
        .connections(1);
    user.connect().await.unwrap();
    assert_eq!(sim.accounts().end_subscriptions(), 1);
    until("a new subscription", || sim.accounts().subscriptions() == 1).await;
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "BTC", Decimal::ONE);
    let mut statuses = Vec::new();
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut statuses).await else {
        panic!("balanceUpdate after resubscribing")
    };
    assert_eq!(u.delta, Decimal::ONE);
    assert!(
        statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "the moment without a subscription is reported: {statuses:?}"
    );
}

#[tokio::test]
async fn margin_listen_token_renewal_loses_nothing() {
    // Tokens live 1.5 s: renewed every 0.75 s, about five times in the run.
    let sim = user_sim(Duration::from_millis(1500)).await;
    let mut user = manager_with(&sim, hmac()).margin_socket().unwrap();
    user.connect().await.unwrap();
    let deposits = depositor(&sim, Wallet::Margin, 150, Duration::from_millis(25));
    let statuses = expect_all(&mut user, 150, async |_| {}).await;
    deposits.await.unwrap();
    let renewals = statuses
        .iter()
        .filter(|s| matches!(s, Status::Rotated))
        .count();
    assert!(renewals >= 2, "tokens renewed: {statuses:?}");
    assert!(
        !statuses
            .iter()
            .any(|s| matches!(s, Status::Gap { .. } | Status::Disconnected { .. })),
        "{statuses:?}"
    );
    assert!(sim.accounts().subscriptions() <= 4, "old subscriptions end");
}

#[tokio::test]
async fn isolated_margin_sees_only_its_symbol() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let mut user = manager_with(&sim, hmac())
        .isolated_margin_socket("btcusdt")
        .unwrap()
        .connections(1);
    user.connect().await.unwrap();
    let accounts = sim.accounts();
    accounts.deposit(HMAC_KEY, &Wallet::Margin, "USDT", Decimal::ONE);
    accounts.deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::TWO);
    accounts.deposit(
        HMAC_KEY,
        &Wallet::Isolated("BTCUSDT".into()),
        "USDT",
        Decimal::TEN,
    );
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut Vec::new()).await else {
        panic!("balanceUpdate")
    };
    assert_eq!(u.delta, Decimal::TEN, "only the isolated wallet's event");
}

#[tokio::test]
async fn refused_credentials_are_typed_errors() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let cases = [
        (
            "unknown key",
            Credentials::hmac("nobody", HMAC_SECRET),
            -2015,
        ),
        (
            "wrong secret",
            Credentials::hmac(HMAC_KEY, "not-the-secret"),
            -1022,
        ),
    ];
    for (name, credentials, code) in cases {
        let manager = manager_with(&sim, credentials);
        for socket in [manager.user_socket(), manager.margin_socket()] {
            let err = socket.unwrap().connect().await.unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Auth { code }, "{name}: {err}");
            assert!(err.is_terminal(), "{name}");
            assert!(err.is_auth(), "{name}");
            assert!(!err.to_string().contains("not-the-secret"), "{err}");
        }
    }
    // A recvWindow the exchange refuses.
    let manager = builder(&sim)
        .credentials(hmac())
        .recv_window(Duration::from_secs(90))
        .build()
        .unwrap();
    let err = manager.user_socket().unwrap().connect().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Auth { code: -1131 }, "{err}");
    // No credentials at all: a configuration error that says what to set.
    let manager = builder(&sim).build().unwrap();
    if std::env::var_os(binance_ws::ENV_API_KEY).is_none() {
        let err = manager.user_socket().err().expect("no key");
        assert!(err.to_string().contains("BINANCE_API_KEY"), "{err}");
    }
}

#[tokio::test]
async fn ws_api_requests_fail_fast_and_late_answers_are_ignored() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = builder(&sim)
        .credentials(hmac())
        .reconnect(binance_ws::Reconnect::default())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let api = manager.ws_api().await.unwrap();
    api.request("ping", Map::new()).await.unwrap();
    let weight = |api: &binance_ws::WsApi| api.rate_limits().first().and_then(|l| l.count);
    let before = weight(&api);

    // No answer in time: a typed error, and the late answer changes nothing.
    sim.faults()
        .set_api_answer_delay(Duration::from_millis(600));
    let started = Instant::now();
    let err = api.request("time", Map::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NoResponse, "{err}");
    assert!(started.elapsed() < Duration::from_millis(600));
    sim.faults().set_api_answer_delay(Duration::ZERO);
    until("the late answer", || weight(&api) != before).await;
    let time = api
        .request("time", Map::new())
        .await
        .expect("still serving");
    assert!(time["serverTime"].as_u64().is_some());

    // A connection that drops fails what is pending at once.
    sim.faults().set_api_answer_delay(Duration::from_secs(30));
    let received = sim.faults().api_requests_received();
    let pending = tokio::spawn({
        let api = api.clone();
        async move { api.request("ping", Map::new()).await }
    });
    let conn = sim.faults().api_connections()[0];
    until("the request on the server", || {
        sim.faults().api_requests_received() > received
    })
    .await;
    let started = Instant::now();
    assert!(sim.faults().drop_connection(conn, DropMode::Reset));
    let err = pending.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Disconnected, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    sim.faults().set_api_answer_delay(Duration::ZERO);
    api.connected().await.unwrap();
}

#[tokio::test]
async fn the_exchange_clock_is_measured_and_followed() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    // The exchange runs 30 s behind this machine: unmeasured timestamps are refused.
    sim.accounts().set_clock_skew(-30_000);
    let mut user = manager_with(&sim, hmac())
        .user_socket()
        .unwrap()
        .connections(1);
    user.connect()
        .await
        .expect("timestamps corrected by the measured offset");
    // Its clock jumps: the next subscription is refused (-1021), the time
    // measured again, and the subscription made.
    sim.accounts().set_clock_skew(45_000);
    assert_eq!(sim.faults().drop_all(DropMode::Reset), 1);
    loop {
        match next(&mut user).await.expect("socket alive") {
            Message::Status(Status::Reconnected) => break,
            Message::Status(_) => {}
            other => panic!("{other:?}"),
        }
    }
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::TEN);
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut Vec::new()).await else {
        panic!("events flow")
    };
    assert_eq!(u.delta, Decimal::TEN);
}

#[tokio::test]
async fn rotation_and_server_shutdown_lose_nothing() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = builder(&sim)
        .credentials(hmac())
        .rotate_after(Duration::from_millis(700))
        .reconnect(binance_ws::Reconnect {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..Default::default()
        })
        .build()
        .unwrap();
    let mut user = manager.user_socket().unwrap();
    user.connect().await.unwrap();
    let deposits = depositor(&sim, Wallet::Spot, 120, Duration::from_millis(15));
    let faults = sim.faults().clone();
    let statuses = expect_all(&mut user, 120, async |n| {
        if n == 60 {
            assert!(faults.server_shutdown(Some(Duration::from_millis(300))) >= 2);
        }
    })
    .await;
    deposits.await.unwrap();
    let rotated = statuses
        .iter()
        .filter(|s| matches!(s, Status::Rotated))
        .count();
    assert!(rotated >= 2, "{statuses:?}");
    assert!(
        !statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn margin_follows_the_exchange_clock_too() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    sim.accounts().set_clock_skew(-30_000);
    let mut user = manager_with(&sim, hmac())
        .margin_socket()
        .unwrap()
        .connections(1);
    user.connect()
        .await
        .expect("the listen token request is signed with the exchange's time");
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Margin, "USDT", Decimal::TEN);
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut Vec::new()).await else {
        panic!("events flow")
    };
    assert_eq!(u.delta, Decimal::TEN);
}

#[tokio::test]
async fn events_before_the_subscription_answer_are_kept() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    // Answers come 300 ms late; events do not wait for them.
    sim.faults()
        .set_api_answer_delay(Duration::from_millis(300));
    let mut user = manager_with(&sim, hmac())
        .user_socket()
        .unwrap()
        .connections(1);
    let connecting = tokio::spawn(async move { user.connect().await.map(|()| user) });
    until("the subscription on the server", || {
        sim.accounts().subscriptions() == 1
    })
    .await;
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::new(7, 0));
    let mut user = connecting.await.unwrap().expect("subscribed");
    let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut Vec::new()).await else {
        panic!("the event sent before the answer arrived")
    };
    assert_eq!(u.delta, Decimal::new(7, 0));
}

#[tokio::test]
async fn identical_events_on_one_connection_are_both_delivered() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let mut user = manager_with(&sim, hmac()).user_socket().unwrap();
    user.connect().await.unwrap();
    until("both connections subscribed", || {
        sim.accounts().subscriptions() == 2
    })
    .await;
    // The same deposit twice in a row: Binance would send two equal
    // balanceUpdates (same millisecond); both are real.
    let accounts = sim.accounts();
    accounts.deposit(HMAC_KEY, &Wallet::Spot, "BTC", Decimal::ONE);
    accounts.deposit(HMAC_KEY, &Wallet::Spot, "BTC", Decimal::ONE);
    accounts.deposit(HMAC_KEY, &Wallet::Spot, "BTC", Decimal::TWO);
    let mut deltas = Vec::new();
    let mut statuses = Vec::new();
    while deltas.len() < 3 {
        if let Event::BalanceUpdate(u) = next_event_noting(&mut user, &mut statuses).await {
            deltas.push(u.delta);
        }
    }
    assert_eq!(deltas, [Decimal::ONE, Decimal::ONE, Decimal::TWO]);
}

#[tokio::test]
async fn microsecond_managers_get_microsecond_user_events() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = builder(&sim).credentials(hmac()).micros().build().unwrap();
    let mut user = manager.user_socket().unwrap().connections(1);
    user.connect().await.unwrap();
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::ONE);
    let event = loop {
        match next(&mut user).await.unwrap() {
            Message::Event(e) => break e.event,
            _ => continue,
        }
    };
    let binance_ws::Event::BalanceUpdate(u) = event else {
        panic!("balanceUpdate")
    };
    let now_us = now_ms() * 1000;
    let at = u128::from(u.event_time.get());
    assert!(
        at.abs_diff(now_us) < 5_000_000,
        "µs since the epoch: {at} vs {now_us}"
    );
}

#[tokio::test]
async fn external_locks_arrive_typed() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let mut user = manager_with(&sim, hmac())
        .user_socket()
        .unwrap()
        .connections(1);
    user.connect().await.unwrap();
    assert!(sim.accounts().external_lock(HMAC_KEY, "BTC", dec("0.25")));
    let mut statuses = Vec::new();
    let Event::ExternalLockUpdate(lock) = next_event_noting(&mut user, &mut statuses).await else {
        panic!("externalLockUpdate")
    };
    assert_eq!((lock.asset.as_str(), lock.delta), ("BTC", dec("0.25")));
    let Event::OutboundAccountPosition(p) = next_event_noting(&mut user, &mut statuses).await
    else {
        panic!("position")
    };
    assert_eq!(
        (p.balances[0].free, p.balances[0].locked),
        (dec("9.75"), dec("0.25"))
    );
}

#[tokio::test]
async fn a_connection_that_gives_up_is_replaced_and_all_giving_up_ends_the_socket() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = builder(&sim)
        .credentials(hmac())
        .max_reconnects(2)
        .build()
        .unwrap();
    let mut user = manager.user_socket().unwrap();
    user.connect().await.unwrap();
    until("both connections subscribed", || {
        sim.accounts().subscriptions() == 2
    })
    .await;

    // One connection cannot come back while the other carries on: it gives
    // up, and a fresh one takes its place once the exchange lets it in.
    sim.faults().refuse_connections(Duration::from_millis(800));
    let oldest = sim.faults().api_connections()[0];
    assert!(sim.faults().drop_connection(oldest, DropMode::Reset));
    until("the connection gone", || {
        !sim.faults().api_connections().contains(&oldest)
    })
    .await;
    until("a replacement subscribed", || {
        sim.faults().api_connections().len() == 2 && sim.accounts().subscriptions() == 2
    })
    .await;
    sim.accounts()
        .deposit(HMAC_KEY, &Wallet::Spot, "USDT", Decimal::ONE);
    let mut statuses = Vec::new();
    assert!(matches!(
        next_event_noting(&mut user, &mut statuses).await,
        Event::BalanceUpdate(_)
    ));
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, Status::ConnectFailed { .. })),
        "{statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| matches!(s, Status::Gap { .. })),
        "{statuses:?}"
    );

    // Nothing can come back: the socket ends as a market socket would.
    sim.faults().refuse_connections(Duration::from_secs(60));
    sim.faults().drop_all(DropMode::Reset);
    let err = loop {
        match next(&mut user).await {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), &ErrorKind::MaxReconnects, "{err}");
}

#[tokio::test]
async fn a_ws_api_connection_moves_on_at_server_shutdown_without_failing_requests() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let api = manager_with(&sim, hmac()).ws_api().await.unwrap();
    let first = sim.faults().api_connections();
    assert_eq!(first.len(), 1);
    // A request in flight when the server announces its shutdown.
    sim.faults()
        .set_api_answer_delay(Duration::from_millis(200));
    let received = sim.faults().api_requests_received();
    let in_flight = tokio::spawn({
        let api = api.clone();
        async move { api.request("time", Map::new()).await }
    });
    until("the request on the server", || {
        sim.faults().api_requests_received() > received
    })
    .await;
    assert_eq!(
        sim.faults()
            .server_shutdown(Some(Duration::from_millis(700))),
        1
    );
    until("a fresh connection", || {
        sim.faults().api_connections().len() == 2
    })
    .await;
    sim.faults().set_api_answer_delay(Duration::ZERO);
    // Requests all through the old connection's last moments: none fails.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        api.request("ping", Map::new())
            .await
            .expect("served by the fresh connection");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    in_flight
        .await
        .unwrap()
        .expect("answered on the old connection");
    assert!(
        !sim.faults().api_connections().contains(&first[0]),
        "the old one closed"
    );
}

/// `close()` is the same on every socket type: afterwards the handle answers
/// `Closed`, and the connections only it used are gone from the server.
#[tokio::test]
async fn close_means_the_same_on_every_socket_type() {
    let sim = user_sim(Duration::from_secs(3600)).await;
    let manager = manager_with(&sim, hmac());
    let closed = |e: binance_ws::Error| assert_eq!(*e.kind(), ErrorKind::Closed, "{e}");
    let all_gone = || async {
        let deadline = Instant::now() + PATIENCE;
        while !sim.faults().connections().is_empty() {
            assert!(Instant::now() < deadline, "a connection stayed open");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };

    let mut trades = manager.trade_socket("BTCUSDT").unwrap();
    trades.connect().await.unwrap();
    trades.close().await;
    closed(trades.recv().await.unwrap_err());
    all_gone().await;

    let api = manager.ws_api().await.unwrap();
    api.request("ping", ()).await.unwrap();
    api.close().await;
    closed(api.request("ping", ()).await.unwrap_err());
    all_gone().await;

    let mut user = manager.user_socket().unwrap();
    user.connect().await.unwrap();
    user.close().await;
    closed(user.recv().await.unwrap_err());
    all_gone().await;

    let mut book = manager.depth_cache("BTCUSDT").await.unwrap();
    book.close().await;
    closed(book.recv().await.unwrap_err());
    all_gone().await;
}
