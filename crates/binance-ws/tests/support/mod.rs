//! An in-process simulator and a manager pointed at it.
#![allow(dead_code)] // each test binary uses part of this

use std::time::Duration;

use binance_sim::{Limits, MarketConfig, Sim, SimConfig};
use binance_ws::{
    Builder, Endpoint, Error, Message, Options, Socket, SocketManager, Status, StreamEvent,
};

/// The longest any expected event may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub async fn sim() -> Sim {
    sim_with(Limits::default()).await
}

pub async fn sim_with(limits: Limits) -> Sim {
    Sim::start(SimConfig {
        market: MarketConfig {
            actions_per_second: 2000,
            ..MarketConfig::default()
        },
        limits,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// A manager on the simulator, with quick reconnects for tests.
pub fn builder(sim: &Sim) -> Builder {
    SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .no_proxy()
        .options(Options {
            reconnect: binance_ws::Reconnect {
                initial_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                ..Default::default()
            },
            ..Options::default()
        })
}

pub fn manager(sim: &Sim) -> SocketManager {
    builder(sim).build().expect("manager")
}

/// The next message, or panic after PATIENCE.
pub async fn next(socket: &mut Socket) -> Result<Message, Error> {
    tokio::time::timeout(PATIENCE, socket.recv())
        .await
        .expect("a message in time")
}

/// The next event, skipping statuses.
pub async fn next_event(socket: &mut Socket) -> StreamEvent {
    loop {
        match next(socket).await.expect("socket alive") {
            Message::Event(e) => return e,
            _ => continue,
        }
    }
}

/// Messages until a status matching `want`; returns the statuses seen.
pub async fn until_status(socket: &mut Socket, want: impl Fn(&Status) -> bool) -> Vec<Status> {
    let mut seen = Vec::new();
    loop {
        if let Message::Status(s) = next(socket).await.expect("socket alive") {
            let done = want(&s);
            seen.push(s);
            if done {
                return seen;
            }
        }
    }
}
