//! Staying connected: each reconnect path against the simulator's faults.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use binance_sim::{DropMode, Limits};
use binance_ws::{ErrorKind, Event, Message, Reconnect, Retries, Status};
use support::*;

fn trade_id(message: &Message) -> Option<u64> {
    match message {
        Message::Event(e) => match &e.event {
            Event::Trade(t) => Some(t.trade_id),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test]
async fn a_dropped_connection_comes_back_and_says_so() {
    let sim = sim().await;
    let mut socket = manager(&sim).trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    next_event(&mut socket).await;
    sim.faults().drop_all(DropMode::Reset);
    let seen = until_status(&mut socket, |s| *s == Status::Reconnected).await;
    assert!(
        matches!(seen[seen.len() - 3], Status::Disconnected { .. }),
        "{seen:?}"
    );
    assert!(
        matches!(
            seen[seen.len() - 2],
            Status::Reconnecting { attempt: 1, .. }
        ),
        "{seen:?}"
    );
    next_event(&mut socket).await;
    // A close frame with a code is reported with it.
    sim.faults().drop_all(DropMode::Close {
        code: 1011,
        reason: "maintenance".into(),
    });
    let seen = until_status(&mut socket, |s| matches!(s, Status::Disconnected { .. })).await;
    let Some(Status::Disconnected { reason }) = seen.last() else {
        unreachable!()
    };
    assert!(
        reason.contains("1011") && reason.contains("maintenance"),
        "{reason}"
    );
}

#[tokio::test]
async fn retries_run_out_with_the_seed_message() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .max_reconnects(2)
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    sim.faults().refuse_connections(Duration::from_secs(60));
    sim.faults().drop_all(DropMode::Reset);
    let mut attempts = Vec::new();
    let err = loop {
        match next(&mut socket).await {
            Ok(Message::Status(Status::Reconnecting { attempt, .. })) => attempts.push(attempt),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(attempts, [1, 2]);
    assert_eq!(err.kind(), &ErrorKind::MaxReconnects);
    assert_eq!(err.to_string(), "Max reconnect retries reached");
    assert!(err.is_terminal());
    // Terminal: it stays ended.
    assert_eq!(
        tokio::time::timeout(PATIENCE, socket.recv())
            .await
            .expect("at once")
            .unwrap_err()
            .kind(),
        &ErrorKind::MaxReconnects
    );
}

#[tokio::test]
async fn a_connection_that_drops_right_after_opening_does_not_refill_the_budget() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .max_reconnects(3)
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    sim.faults().drop_all(DropMode::Reset);
    let mut reconnects = 0;
    let err = loop {
        match next(&mut socket).await {
            Ok(Message::Status(Status::Reconnected)) => {
                reconnects += 1;
                // Drop each new connection at once: the budget must keep counting.
                sim.faults().drop_all(DropMode::Reset);
            }
            Ok(_) => {}
            Err(e) => break e,
        }
        assert!(reconnects < 10, "the budget was refilled");
    };
    assert_eq!(reconnects, 3);
    assert_eq!(err.kind(), &ErrorKind::MaxReconnects);
}

#[tokio::test]
async fn unlimited_retries_outlast_a_long_outage() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .unlimited_reconnects()
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    sim.faults().refuse_connections(Duration::from_millis(1500));
    sim.faults().drop_all(DropMode::Reset);
    let seen = until_status(&mut socket, |s| *s == Status::Reconnected).await;
    let tries = seen
        .iter()
        .filter(|s| matches!(s, Status::Reconnecting { .. }))
        .count();
    assert!(tries > 5, "more tries than the default budget: {tries}");
}

#[tokio::test]
async fn retry_after_on_429_is_obeyed() {
    let sim = sim().await;
    let mut socket = manager(&sim).trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    sim.faults()
        .reject_upgrades(429, Duration::from_secs(2), Duration::from_millis(300));
    sim.faults().drop_all(DropMode::Reset);
    let started = tokio::time::Instant::now();
    let seen = until_status(&mut socket, |s| *s == Status::Reconnected).await;
    let delays: Vec<Duration> = seen
        .iter()
        .filter_map(|s| match s {
            Status::Reconnecting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    // The first try is quick (backoff); it meets the 429, and the next waits out Retry-After.
    assert!(
        delays.iter().any(|d| *d >= Duration::from_secs(2)),
        "{delays:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn a_reader_that_stops_for_a_while_keeps_its_connection() {
    let sim = sim_with(Limits {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        max_incoming_per_second: 100,
        ..Limits::default()
    })
    .await;
    let mut socket = manager(&sim).trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    let before = loop {
        if let Some(id) = trade_id(&next(&mut socket).await.unwrap()) {
            break id;
        }
    };
    // The scenario: the reader does nothing for many pong timeouts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ids = vec![before];
    while ids.len() < 200 {
        match next(&mut socket).await.unwrap() {
            Message::Status(s) => panic!("the connection suffered: {s:?}"),
            m => ids.extend(trade_id(&m)),
        }
    }
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "nothing lost while the reader slept"
    );
    assert_eq!(sim.faults().connections().len(), 1);
}

#[tokio::test]
async fn a_silent_connection_is_replaced() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .watchdog(Duration::from_millis(300))
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    next_event(&mut socket).await;
    sim.faults().stall_all(None);
    let seen = until_status(&mut socket, |s| *s == Status::Reconnected).await;
    let reason = seen.iter().find_map(|s| match s {
        Status::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("no frame"), "{seen:?}");
    next_event(&mut socket).await;
}

#[tokio::test]
async fn a_malformed_frame_is_reported_and_the_stream_goes_on() {
    let sim = sim().await;
    let mut socket = manager(&sim).trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    next_event(&mut socket).await;
    sim.faults().send_malformed();
    let seen = until_status(&mut socket, |s| matches!(s, Status::Malformed { .. })).await;
    let Some(Status::Malformed { error }) = seen.last() else {
        unreachable!()
    };
    assert!(error.to_string().contains("malformed frame"), "{error}");
    next_event(&mut socket).await;
    assert_eq!(
        sim.faults().connections().len(),
        1,
        "no reconnect for a bad frame"
    );
}

#[tokio::test]
async fn close_works_during_a_reconnect_wait() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .reconnect(Reconnect {
            initial_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30),
            retries: Retries::Unlimited,
            ..Reconnect::default()
        })
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    sim.faults().drop_all(DropMode::Reset);
    until_status(&mut socket, |s| matches!(s, Status::Reconnecting { .. })).await;
    let started = tokio::time::Instant::now();
    socket.close().await;
    assert_eq!(
        next(&mut socket).await.unwrap_err().kind(),
        &ErrorKind::Closed
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Trade ids across rotations: none missing, none twice, all real.
async fn assert_seamless(
    sim: &binance_sim::Sim,
    socket: &mut binance_ws::Socket,
    rotations: usize,
) {
    let mut ids: Vec<u64> = Vec::new();
    let mut rotated = 0;
    while rotated < rotations || ids.len() < 50 {
        match next(socket).await.unwrap() {
            Message::Status(Status::Rotated) => rotated += 1,
            Message::Status(s) => panic!("rotation must be seamless: {s:?}"),
            m => ids.extend(trade_id(&m)),
        }
    }
    // A few more after the last switch.
    while ids.len() < 60 {
        ids.extend(trade_id(&next(socket).await.unwrap()));
    }
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a trade was delivered twice");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "a trade was lost: {ids:?}"
    );
    let log: BTreeSet<u64> = sim.trades("BTCUSDT").iter().map(|f| f.trade_id).collect();
    assert!(unique.is_subset(&log));
}

#[tokio::test]
async fn connections_rotate_before_their_lifetime_with_nothing_lost_or_repeated() {
    let sim = sim().await;
    let mut socket = builder(&sim)
        .reconnect(Reconnect::default())
        .rotate_after(Duration::from_millis(400))
        .rotation_overlap(Duration::from_millis(150))
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    socket.connect().await.unwrap();
    until_status(&mut socket, |s| *s == Status::Connected).await;
    assert_seamless(&sim, &mut socket, 3).await;
}

#[tokio::test]
async fn server_shutdown_switches_connections_with_nothing_lost_or_repeated() {
    let sim = sim().await;
    let mut socket = manager(&sim).trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    until_status(&mut socket, |s| *s == Status::Connected).await;
    let faults = sim.faults().clone();
    let shutdown = tokio::spawn(async move {
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            faults.server_shutdown(Some(Duration::from_millis(500)));
        }
    });
    assert_seamless(&sim, &mut socket, 2).await;
    shutdown.await.unwrap();
}

/// A server that completes the WebSocket handshake, then never says a word.
async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                held.push(ws);
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_server_that_stays_silent_does_not_refill_the_budget() {
    let addr = silent_server().await;
    let mut socket = binance_ws::SocketManager::builder()
        .endpoint(binance_ws::Endpoint::Custom(format!("ws://{addr}")))
        .no_proxy()
        .watchdog(Duration::from_millis(200))
        .reconnect(Reconnect {
            retries: Retries::Limited(3),
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            // Each silent connection lives longer than this before the watchdog.
            stable_after: Duration::from_millis(50),
        })
        .build()
        .unwrap()
        .trade_socket("BTCUSDT")
        .unwrap();
    let mut drops = 0;
    let err = loop {
        match next(&mut socket).await {
            Ok(Message::Status(Status::Disconnected { .. })) => drops += 1,
            Ok(_) => {}
            Err(e) => break e,
        }
        assert!(drops < 10, "the budget was refilled by silent connections");
    };
    assert_eq!(err.kind(), &ErrorKind::MaxReconnects);
    assert_eq!(drops, 4, "the first connection and three retries");
}

#[tokio::test]
async fn a_stream_gone_silent_is_reported_and_moved_to_a_fresh_connection() {
    let sim = sim().await;
    let manager = builder(&sim)
        .stream_watchdog(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let depth = "btcusdt@depth@100ms";
    let mut socket = manager.multiplex_socket(&["btcusdt@trade", depth]).unwrap();
    // Long enough for the depth stream's pace to be learnt (20 frames).
    let (mut trades, mut depths) = (Vec::new(), 0);
    while depths < 30 {
        let e = next_event(&mut socket).await;
        match e.event {
            Event::Trade(t) => trades.push(t.trade_id),
            _ => depths += 1,
        }
    }
    assert_eq!(sim.faults().silence_stream(depth), 1);
    let (mut silent, mut rotated, mut depths_after) = (Vec::new(), false, 0);
    let mut gaps = Vec::new();
    while depths_after < 10 {
        match next(&mut socket).await.unwrap() {
            Message::Status(Status::StreamSilent { stream, .. }) => silent.push(stream),
            Message::Status(Status::Rotated) => rotated = true,
            // What the silence lost is in the ledger.
            Message::Status(Status::Gap {
                stream: Some(stream),
                ..
            }) => gaps.push(stream),
            Message::Status(s) => panic!("the connection itself was fine: {s:?}"),
            Message::Event(e) => match e.event {
                Event::Trade(t) => trades.push(t.trade_id),
                _ if rotated => depths_after += 1,
                _ => {}
            },
            _ => {}
        }
    }
    assert_eq!(silent, [depth], "the silent stream, and only it, is named");
    assert!(
        gaps.iter().all(|s| s == depth),
        "only the silent stream lost events: {gaps:?}"
    );
    assert!(
        trades.windows(2).all(|w| w[1] == w[0] + 1),
        "the other stream lost nothing across the move"
    );
}

#[tokio::test]
async fn a_rotation_while_the_reader_holds_the_connection_back_loses_nothing() {
    let sim = sim().await;
    let manager = builder(&sim)
        .rotate_after(Duration::from_millis(300))
        .rotation_overlap(Duration::from_millis(200))
        .reconnect(Reconnect {
            initial_delay: Duration::from_millis(20),
            ..Reconnect::default()
        })
        .build()
        .unwrap();
    let mut socket = manager
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(100, binance_ws::Overflow::DropOldest);
    let mut ids = Vec::new();
    let mut rotations = 0;
    while ids.len() < 1500 {
        match next(&mut socket).await.unwrap() {
            Message::Status(Status::Rotated) => rotations += 1,
            Message::Status(s) => assert!(
                matches!(s, Status::Connected),
                "nothing but rotations: {s:?}"
            ),
            m => ids.extend(trade_id(&m)),
        }
        // The reader stops for longer than a rotation takes, twice.
        if ids.len() == 200 || ids.len() == 800 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    }
    assert!(rotations >= 2, "{rotations}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "nothing lost or repeated across rotations during a stall: {:?}",
        ids.windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .map(|w| (w[0], w[1]))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_subscribe_answers_while_the_socket_is_behind() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .trade_socket("BTCUSDT")
        .unwrap()
        .queue(50, binance_ws::Overflow::DropOldest);
    socket.connect().await.unwrap();
    // The queue fills (the connection holds back for the default 20 s) …
    tokio::time::sleep(Duration::from_millis(500)).await;
    // … and the answer is behind the unread frames: it still comes at once.
    let answered =
        tokio::time::timeout(Duration::from_secs(5), socket.subscribe(&["ethusdt@trade"])).await;
    assert!(answered.expect("answered well before max_stall").is_ok());
}
