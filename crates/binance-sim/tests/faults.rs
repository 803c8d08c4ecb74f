//! Each fault, seen by a plain WebSocket (or HTTP) client.

mod support;

use std::time::{Duration, Instant};

use binance_sim::DropMode;
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn drop_with_a_close_code() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    let n = sim.faults().drop_all(DropMode::Close {
        code: 1011,
        reason: "boom".into(),
    });
    assert_eq!(n, 1);
    assert_eq!(ending(&mut ws).await, Ok((1011, "boom".into())));
}

#[tokio::test]
async fn drop_with_a_reset() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    let ids = sim.faults().connections();
    assert_eq!(ids.len(), 1);
    assert!(sim.faults().drop_connection(ids[0], DropMode::Reset));
    let err = ending(&mut ws).await.unwrap_err();
    assert!(
        err.contains("reset") || err.contains("Connection reset"),
        "{err}"
    );
}

#[tokio::test]
async fn stall_keeps_tcp_open_and_sends_nothing() {
    let sim = sim_with(binance_sim::Limits {
        ping_interval: Duration::from_millis(50),
        max_incoming_per_second: 100,
        ..Default::default()
    })
    .await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    sim.faults().stall_all(Some(Duration::from_millis(1000)));
    // Drain what was already in flight, then expect silence: no frame at all, not even a ping.
    let quiet_from = loop {
        use futures_util::StreamExt;
        match tokio::time::timeout(Duration::from_millis(150), ws.next()).await {
            Err(_) => break Instant::now(),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("connection ended during a stall: {other:?}"),
        }
    };
    // Frames resume after the stall, on the same connection.
    next_json(&mut ws).await;
    assert!(
        quiet_from.elapsed() >= Duration::from_millis(200),
        "stall too short"
    );
}

#[tokio::test]
async fn delayed_frames_arrive_late() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    sim.faults().set_frame_delay(Duration::from_millis(300));
    // Frames sent after the switch carry event times at least the delay old on arrival.
    let mut late = 0;
    for _ in 0..40 {
        let v = next_json(&mut ws).await;
        let age = now_ms().saturating_sub(v["E"].as_u64().unwrap());
        if age >= 300 {
            late += 1;
        }
        if late >= 2 {
            break;
        }
    }
    assert!(late >= 2);
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn malformed_and_oversized_frames() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    sim.faults().send_malformed();
    let bad = loop {
        let t = next_text(&mut ws).await;
        if serde_json::from_str::<Value>(&t).is_err() {
            break t;
        }
    };
    assert!(bad.starts_with(r#"{"e":"trade""#));
    sim.faults().send_oversized(3 << 20);
    let big = loop {
        let t = next_text(&mut ws).await;
        if t.len() > 1 << 20 {
            break t;
        }
    };
    assert!(big.len() >= 3 << 20);
    assert_eq!(
        serde_json::from_str::<Value>(&big).unwrap()["e"],
        "oversized"
    );
    // The stream goes on.
    assert_eq!(next_json(&mut ws).await["e"], "trade");
}

#[tokio::test]
async fn skipped_update_ids_leave_a_gap() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@depth@100ms", sim.ws_url())).await;
    let first = next_json(&mut ws).await;
    assert!(sim.faults().skip_update_ids("BTCUSDT", 3));
    let mut last = first["u"].as_u64().unwrap();
    loop {
        let v = next_json(&mut ws).await;
        let u_first = v["U"].as_u64().unwrap();
        if u_first > last + 1 {
            assert_eq!(
                u_first - last - 1,
                3,
                "exactly the skipped updates are missing"
            );
            break;
        }
        assert_eq!(u_first, last + 1);
        last = v["u"].as_u64().unwrap();
    }
    assert!(!sim.faults().skip_update_ids("NOPE", 1));
}

#[tokio::test]
async fn refused_connections() {
    let sim = sim().await;
    sim.faults().refuse_connections(Duration::from_secs(30));
    let err = tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@trade", sim.ws_url()))
        .await
        .unwrap_err();
    assert!(
        !err.to_string().contains("HTTP"),
        "refused at TCP, not HTTP: {err}"
    );
    sim.faults().clear();
    connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
}

#[tokio::test]
async fn upgrades_answered_with_429_and_418() {
    let sim = sim().await;
    for status in [429u16, 418] {
        sim.faults()
            .reject_upgrades(status, Duration::from_secs(7), Duration::from_secs(30));
        let err = tokio_tungstenite::connect_async(format!("{}/ws/btcusdt@trade", sim.ws_url()))
            .await
            .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("{err}")
        };
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    sim.faults().clear();
    connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
}

#[tokio::test]
async fn slow_depth_snapshots_are_late_and_stale() {
    let sim = sim().await;
    sim.faults()
        .set_depth_snapshot_delay(Duration::from_millis(500));
    let mut ws = connect(&format!("{}/ws/btcusdt@depth@100ms", sim.ws_url())).await;
    let started = Instant::now();
    let snapshot = get_json(&format!(
        "{}/api/v3/depth?symbol=BTCUSDT&limit=10",
        sim.rest_url()
    ))
    .await;
    assert!(started.elapsed() >= Duration::from_millis(500));
    // By the time it arrives the stream has moved past it.
    let v = next_json(&mut ws).await;
    assert!(v["u"].as_u64().unwrap() > snapshot["lastUpdateId"].as_u64().unwrap());
}

#[tokio::test]
async fn server_shutdown_is_announced_then_the_connection_closes() {
    let sim = sim().await;
    let mut raw = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    let mut combined = connect(&format!("{}/stream?streams=btcusdt@trade", sim.ws_url())).await;
    next_json(&mut raw).await;
    next_json(&mut combined).await;
    assert_eq!(
        sim.faults()
            .server_shutdown(Some(Duration::from_millis(200))),
        2
    );
    let event = loop {
        let v = next_json(&mut raw).await;
        if v["e"] == "serverShutdown" {
            break v;
        }
    };
    assert!(event["E"].is_u64());
    let wrapped = loop {
        let v = next_json(&mut combined).await;
        if v["stream"] == "!serverShutdown" {
            break v;
        }
    };
    assert_eq!(wrapped["data"]["e"], "serverShutdown");
    assert_eq!(ending(&mut raw).await, Ok((1001, "Server shutdown".into())));
}

#[tokio::test]
async fn a_planned_shutdown_announces_itself_and_closes_everything() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    let closing = tokio::spawn(sim.shutdown(Duration::from_millis(200)));
    loop {
        if next_json(&mut ws).await["e"] == "serverShutdown" {
            break;
        }
    }
    assert_eq!(ending(&mut ws).await, Ok((1001, "Server shutdown".into())));
    closing.await.unwrap();
}

#[tokio::test]
async fn admin_endpoints_throw_the_same_switches() {
    let sim = sim().await;
    let mut ws = connect(&format!("{}/ws/btcusdt@trade", sim.ws_url())).await;
    next_json(&mut ws).await;
    let conns = get_json(&format!("{}/connections", sim.admin_url())).await;
    assert_eq!(conns["connections"].as_array().unwrap().len(), 1);
    let (status, _, body) = http(
        "POST",
        &format!("{}/drop?mode=close&code=4000&reason=admin", sim.admin_url()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ending(&mut ws).await, Ok((4000, "admin".into())));
    let (status, _, body) = http("POST", &format!("{}/drop?mode=explode", sim.admin_url())).await;
    assert_eq!(status, 400);
    assert!(body.contains("valid modes are reset, close"), "{body}");
    let book = get_json(&format!("{}/book?symbol=BTCUSDT", sim.admin_url())).await;
    assert!(book["bids"].as_array().unwrap().len() > 10);
    let (status, _, _) = http("POST", &format!("{}/skip?symbol=NOPE", sim.admin_url())).await;
    assert_eq!(status, 400);
}

const DEPTH: &str = "btcusdt@depth@100ms";
const TRADE: &str = "btcusdt@trade";

/// The next frame of `stream` on a combined connection, skipping the others.
async fn next_of(ws: &mut Ws, stream: &str) -> Value {
    let wanted = async {
        loop {
            let v = next_json(ws).await;
            if v["stream"] == stream {
                return v;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wanted)
        .await
        .unwrap_or_else(|_| panic!("no {stream} frame in {PATIENCE:?}"))
}

/// Read `ws` (combined, BTCUSDT trades flowing) through a second of market
/// time after a silence: trades keep coming, `silenced` says nothing.
async fn assert_silenced(sim: &binance_sim::Sim, ws: &mut Ws, silenced: &str) {
    // A trade after this one was published after the silence, and frames
    // reach a connection in publish order: once it is here, nothing of the
    // silenced stream is still in flight.
    let barrier = sim.trades("BTCUSDT").last().map_or(0, |f| f.trade_id);
    let from = loop {
        let v = next_of(ws, TRADE).await;
        if v["data"]["t"].as_u64().unwrap() > barrier {
            break v["data"]["E"].as_u64().unwrap();
        }
    };
    let mut trades = 0;
    loop {
        let v = next_json(ws).await;
        let d = &v["data"];
        assert_ne!(v["stream"], silenced, "spoke: U {} u {}", d["U"], d["u"]);
        trades += 1;
        // Ten 100 ms depth windows.
        if v["data"]["E"].as_u64().unwrap() >= from + 1000 {
            break;
        }
    }
    assert!(trades > 10, "only {trades} trades in a second");
}

#[tokio::test]
async fn a_silenced_stream_stops_while_the_others_flow_until_resubscribed() {
    let sim = sim().await;
    let url = format!("{}/stream?streams={DEPTH}/{TRADE}", sim.ws_url());
    let mut ws = connect(&url).await;
    let _other = connect(&format!("{}/ws/{DEPTH}", sim.ws_url())).await;
    next_of(&mut ws, DEPTH).await;
    next_of(&mut ws, TRADE).await;

    assert_eq!(sim.faults().silence_stream(DEPTH), 2);
    assert_silenced(&sim, &mut ws, DEPTH).await;
    // As in the outages: the connection still lists it.
    let list = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(list["result"], json!([DEPTH, TRADE]));

    // A new connection gets it.
    let mut fresh = connect(&format!("{}/ws/{DEPTH}", sim.ws_url())).await;
    assert_eq!(next_json(&mut fresh).await["e"], "depthUpdate");
    // So does this one, once it unsubscribes and subscribes again.
    for (id, method) in [(2, "UNSUBSCRIBE"), (3, "SUBSCRIBE")] {
        let reply = request(
            &mut ws,
            json!({"method": method, "params": [DEPTH], "id": id}),
        )
        .await;
        assert_eq!(reply["result"], Value::Null, "{reply}");
    }
    next_of(&mut ws, DEPTH).await;
}

#[tokio::test]
async fn silence_from_the_admin_endpoint_until_clear() {
    let sim = sim().await;
    let url = format!("{}/stream?streams={DEPTH}/{TRADE}", sim.ws_url());
    let mut ws = connect(&url).await;
    next_of(&mut ws, DEPTH).await;
    let admin = sim.admin_url();
    let (status, _, body) = http("POST", &format!("{admin}/silence?stream={DEPTH}")).await;
    assert_eq!((status, body.as_str()), (200, r#"{"affected":1}"#));
    assert_silenced(&sim, &mut ws, DEPTH).await;
    let (status, _, _) = http("POST", &format!("{admin}/clear")).await;
    assert_eq!(status, 200);
    next_of(&mut ws, DEPTH).await;
    let (status, _, body) = http("POST", &format!("{admin}/silence")).await;
    assert_eq!(status, 400);
    assert!(body.contains("`stream` is required"), "{body}");
}
