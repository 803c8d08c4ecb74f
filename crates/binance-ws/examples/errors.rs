//! The seed's "Websocket Errors": when reconnects run out the socket ends
//! with `Max reconnect retries reached`; restart it or give up.
//!
//! `cargo run -p binance-ws --example errors`

use std::time::Duration;

use binance_sim::{DropMode, Sim, SimConfig};
use binance_ws::{Endpoint, ErrorKind, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .max_reconnects(3)
        .build()?;
    let mut trades = manager.trade_socket("BNBBTC")?;
    trades.connect().await?;

    // Break the exchange: refuse new connections, drop the live one.
    sim.faults().refuse_connections(Duration::from_secs(60));
    sim.faults().drop_all(DropMode::Reset);

    loop {
        match trades.recv().await {
            Ok(Message::Status(status)) => eprintln!("status: {status:?}"),
            Ok(_) => {}
            Err(e) if e.kind() == &ErrorKind::MaxReconnects => {
                // {'e': 'error', 'm': 'Max reconnect retries reached'}
                println!("{{\"e\":\"error\",\"m\":\"{e}\"}}");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
}
