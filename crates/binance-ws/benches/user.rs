//! How fast a user learns of their own order: the time from sending
//! `order.place` to the `executionReport` (NEW) arriving, for a bare
//! tokio-tungstenite client subscribed on the WebSocket API (the floor) and
//! for our user socket (one connection, and the default two with
//! deduplication), all subscribed to the same account at once, so every
//! order is measured by all three in the same conditions.
//!
//! `cargo bench -p binance-ws --bench user [-- ORDERS]`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use binance_sim::{AccountSpec, Sim, SimConfig, Wallet};
use binance_ws::{Credentials, Endpoint, Event, Message, SocketManager};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The floor: a bare client that subscribes and notes when each NEW arrives.
async fn floor_reader(url: String, arrivals: Arrivals, ready: tokio::sync::oneshot::Sender<()>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let payload = format!("apiKey={KEY}&timestamp={timestamp}");
    let signature = binance_types::sign::hmac_sha256_hex(SECRET.as_bytes(), payload.as_bytes());
    let request = json!({"id": 1, "method": "userDataStream.subscribe.signature",
        "params": {"apiKey": KEY, "timestamp": timestamp as u64, "signature": signature}});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        request.to_string().into(),
    ))
    .await
    .unwrap();
    let mut ready = Some(ready);
    while let Some(Ok(frame)) = ws.next().await {
        let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
            continue;
        };
        let at = Instant::now();
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        if v.get("result").is_some() {
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
        }
        let event = &v["event"];
        if event["e"] == "executionReport" && event["x"] == "NEW" {
            let cid = event["c"].as_str().unwrap().to_owned();
            arrivals.lock().unwrap().insert(cid, at);
        }
    }
}

/// Our user socket, noting when each NEW reaches user code.
async fn our_reader(
    manager: SocketManager,
    connections: usize,
    arrivals: Arrivals,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut user = manager.user_socket().unwrap().connections(connections);
    user.connect().await.unwrap();
    let _ = ready.send(());
    loop {
        match user.recv().await {
            Ok(Message::Event(e)) => {
                if let Event::ExecutionReport(r) = e.event {
                    if r.execution_type == "NEW" {
                        arrivals
                            .lock()
                            .unwrap()
                            .insert(r.client_order_id, Instant::now());
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

fn main() {
    let orders: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let sim = Sim::start(SimConfig {
            accounts: vec![AccountSpec::hmac(KEY, SECRET).balance(Wallet::Spot, "USDT", 10_000_000.into())],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let manager = SocketManager::builder()
            .endpoint(Endpoint::Custom(sim.ws_url()))
            .credentials(Credentials::hmac(KEY, SECRET))
            .build()
            .unwrap();
        let floor: Arrivals = Arc::default();
        let one: Arrivals = Arc::default();
        let two: Arrivals = Arc::default();
        let (a, ra) = tokio::sync::oneshot::channel();
        let (b, rb) = tokio::sync::oneshot::channel();
        let (c, rc) = tokio::sync::oneshot::channel();
        tokio::spawn(floor_reader(sim.ws_api_url(), floor.clone(), a));
        tokio::spawn(our_reader(manager.clone(), 1, one.clone(), b));
        tokio::spawn(our_reader(manager.clone(), 2, two.clone(), c));
        let _ = (ra.await, rb.await, rc.await);
        // Let every subscription settle (the second connection of `two`).
        tokio::time::sleep(Duration::from_millis(300)).await;

        let api = manager.ws_api().await.unwrap();
        let mut sent: HashMap<String, Instant> = HashMap::new();
        for i in 0..orders {
            let cid = format!("bench-{i}");
            let order = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "price": "100.00", "quantity": "0.01000", "newClientOrderId": cid, "newOrderRespType": "ACK"});
            sent.insert(cid.clone(), Instant::now());
            let placed = api
                .signed_request("order.place", order.as_object().unwrap().clone())
                .await
                .unwrap();
            let cancel = json!({"symbol": "BTCUSDT", "orderId": placed["orderId"]});
            api.signed_request("order.cancel", cancel.as_object().unwrap().clone())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("time from sending order.place to the executionReport (NEW) in user code, {orders} orders:");
        let mut medians = Vec::new();
        for (name, arrivals) in [("floor (bare tokio-tungstenite)", &floor), ("ours, 1 connection", &one), ("ours, 2 connections", &two)] {
            let arrivals = arrivals.lock().unwrap();
            let mut lat: Vec<Duration> = sent
                .iter()
                .filter_map(|(cid, t0)| arrivals.get(cid).map(|t| t.saturating_duration_since(*t0)))
                .collect();
            lat.sort();
            let missing = orders - lat.len();
            let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
            medians.push(p50);
            println!(
                "  {name:32} p50 {:>5} µs  p99 {:>5} µs  missing {missing}",
                p50.as_micros(),
                p99.as_micros()
            );
        }
        println!(
            "  ratio of medians: 1 connection / floor = {:.2}, 2 connections / floor = {:.2}",
            medians[1].as_secs_f64() / medians[0].as_secs_f64(),
            medians[2].as_secs_f64() / medians[0].as_secs_f64()
        );
    });
}
