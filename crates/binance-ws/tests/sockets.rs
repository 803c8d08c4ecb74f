//! Every socket type against the simulator, and sharing, timeouts, closing.

mod support;

use std::time::Duration;

use binance_ws::binance_types::market::Trade;
use binance_ws::{DepthLevels, Event, KlineInterval, Message, RollingWindow, Status, UpdateSpeed};
use futures_util::StreamExt;
use support::*;

#[tokio::test]
async fn a_trade_socket_yields_typed_trades_from_the_exchange() {
    let sim = sim().await;
    let manager = manager(&sim);
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    socket.connect().await.unwrap();
    assert_eq!(
        next(&mut socket).await.unwrap(),
        Message::Status(Status::Connected)
    );
    let mut trades: Vec<Trade> = Vec::new();
    while trades.len() < 20 {
        if let Event::Trade(t) = next_event(&mut socket).await.event {
            trades.push(t);
        }
    }
    let log = sim.trades("BTCUSDT");
    for t in &trades {
        let fill = log
            .iter()
            .find(|f| f.trade_id == t.trade_id)
            .expect("a real trade");
        assert_eq!(
            (t.price, t.quantity, t.buyer_is_maker),
            (fill.price, fill.qty, fill.buyer_is_maker)
        );
    }
    assert!(trades
        .windows(2)
        .all(|w| w[1].trade_id == w[0].trade_id + 1));
}

#[tokio::test]
async fn every_socket_type_yields_its_event() {
    let sim = sim().await;
    let m = manager(&sim);
    type Check = (binance_ws::Socket, fn(&Event) -> bool);
    let checks: Vec<Check> = vec![
        (m.aggtrade_socket("BTCUSDT").unwrap(), |e| {
            matches!(e, Event::AggTrade(_))
        }),
        (m.kline_socket("BTCUSDT", KlineInterval::S1).unwrap(), |e| {
            matches!(e, Event::Kline(_))
        }),
        (
            m.depth_socket("BTCUSDT", None, UpdateSpeed::Ms100).unwrap(),
            |e| matches!(e, Event::DepthUpdate(_)),
        ),
        (
            m.depth_socket("BTCUSDT", Some(DepthLevels::L5), UpdateSpeed::Ms100)
                .unwrap(),
            |e| matches!(e, Event::PartialDepth(p) if p.bids.len() == 5),
        ),
        (m.symbol_ticker_socket("BTCUSDT").unwrap(), |e| {
            matches!(e, Event::Ticker(_))
        }),
        (m.miniticker_socket(), |e| {
            matches!(e, Event::MiniTickers(_))
        }),
        (m.symbol_miniticker_socket("BTCUSDT").unwrap(), |e| {
            matches!(e, Event::MiniTicker(_))
        }),
        (
            m.symbol_rolling_ticker_socket("BTCUSDT", RollingWindow::H1)
                .unwrap(),
            |e| matches!(e, Event::RollingTicker(_)),
        ),
        (m.rolling_ticker_socket(RollingWindow::D1), |e| {
            matches!(e, Event::RollingTickers(_))
        }),
        (m.symbol_book_ticker_socket("BTCUSDT").unwrap(), |e| {
            matches!(e, Event::BookTicker(_))
        }),
        (m.avg_price_socket("BTCUSDT").unwrap(), |e| {
            matches!(e, Event::AvgPrice(_))
        }),
    ];
    for (mut socket, check) in checks {
        let url = socket.urls()[0].clone();
        let event = next_event(&mut socket).await;
        assert!(check(&event.event), "{url}: {:?}", event.event);
    }
}

#[tokio::test]
#[allow(deprecated)]
async fn the_retired_all_market_ticker_says_what_to_use() {
    let sim = sim().await;
    let err = manager(&sim).ticker_socket().expect_err("retired");
    let text = err.to_string();
    assert!(
        text.contains("2026-03-26") && text.contains("!miniTicker@arr"),
        "{text}"
    );
}

#[tokio::test]
async fn a_multiplex_socket_names_each_event_stream() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .multiplex_socket(&["btcusdt@trade", "ETHUSDT@bookTicker"])
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let e = next_event(&mut socket).await;
        let stream = e.stream.expect("combined").to_string();
        match stream.as_str() {
            "btcusdt@trade" => assert!(matches!(e.event, Event::Trade(_))),
            "ethusdt@bookTicker" => assert!(matches!(e.event, Event::BookTicker(_))),
            other => panic!("{other}"),
        }
        seen.insert(stream);
    }
    let bad = manager(&sim)
        .multiplex_socket(&["btcusdt@trades"])
        .err()
        .unwrap();
    assert!(bad.to_string().contains("valid forms"), "{bad}");
}

#[tokio::test]
async fn two_sockets_on_one_stream_share_one_connection() {
    let sim = sim().await;
    let manager = manager(&sim);
    let mut a = manager.trade_socket("BTCUSDT").unwrap();
    let mut b = manager.trade_socket("btcusdt").unwrap();
    a.connect().await.unwrap();
    b.connect().await.unwrap();
    assert_eq!(sim.faults().connections().len(), 1);
    let id = |e: binance_ws::StreamEvent| match e.event {
        Event::Trade(t) => t.trade_id,
        other => panic!("{other:?}"),
    };
    // Both get every message: from the later start on, the same trade ids.
    let mut ids_a = vec![id(next_event(&mut a).await)];
    let mut ids_b = vec![id(next_event(&mut b).await)];
    let start = ids_a[0].max(ids_b[0]);
    while *ids_a.last().unwrap() < start + 10 {
        ids_a.push(id(next_event(&mut a).await));
    }
    while *ids_b.last().unwrap() < start + 10 {
        ids_b.push(id(next_event(&mut b).await));
    }
    ids_a.retain(|i| *i >= start);
    ids_b.retain(|i| *i >= start);
    assert_eq!(ids_a, ids_b);
    assert_eq!(ids_a, (start..=start + 10).collect::<Vec<_>>());
    a.close().await;
    assert!(next(&mut a).await.unwrap_err().is_terminal());
    // b goes on; the connection stays for it.
    next_event(&mut b).await;
    assert_eq!(sim.faults().connections().len(), 1);
    drop(b);
    // The last socket gone, the connection closes.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !sim.faults().connections().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection still open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn recv_times_out_without_ending_the_socket() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .kline_socket("BTCUSDT", KlineInterval::M1)
        .unwrap()
        .user_timeout(Some(Duration::from_millis(30)));
    socket.connect().await.unwrap();
    let mut timeouts = 0;
    let event = loop {
        match socket.recv().await {
            Err(e) if e.is_timeout() => timeouts += 1,
            Ok(Message::Event(e)) => break e,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(timeouts < 1000);
    };
    assert!(
        timeouts > 0,
        "klines come every 2 s; a 30 ms timeout must fire"
    );
    assert!(matches!(event.event, Event::Kline(_)));
}

#[tokio::test]
async fn sockets_are_streams() {
    let sim = sim().await;
    let socket = manager(&sim).trade_socket("ETHUSDT").unwrap();
    let events: Vec<_> = socket
        .filter_map(|m| async move {
            match m {
                Ok(Message::Event(e)) => Some(e),
                _ => None,
            }
        })
        .take(3)
        .collect()
        .await;
    assert_eq!(events.len(), 3);
}

#[tokio::test]
async fn raw_mode_hands_over_frames_verbatim() {
    let sim = sim().await;
    let mut socket = manager(&sim)
        .multiplex_socket(&["btcusdt@trade"])
        .unwrap()
        .raw();
    let frame = loop {
        if let Message::Raw(r) = next(&mut socket).await.unwrap() {
            break r;
        }
    };
    assert!(
        frame
            .text()
            .starts_with(r#"{"stream":"btcusdt@trade","data":{"e":"trade""#),
        "{}",
        frame.text()
    );
}

#[tokio::test]
async fn microsecond_sockets_carry_microsecond_times() {
    let sim = sim().await;
    let manager = builder(&sim).micros().build().unwrap();
    let mut socket = manager.trade_socket("BTCUSDT").unwrap();
    assert!(
        socket.urls()[0].ends_with("timeUnit=MICROSECOND"),
        "{:?}",
        socket.urls()
    );
    let event = next_event(&mut socket).await;
    let Event::Trade(trade) = event.event else {
        panic!()
    };
    // The type says microseconds, and the value is.
    let time: binance_ws::binance_types::Time<binance_ws::Micros> = trade.event_time;
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(
        time.get() > now_us - 60_000_000 && time.get() <= now_us + 1_000_000,
        "{time:?}"
    );
}
