//! The seed's first snippet: a manager, a trade socket, a few messages.
//!
//! Runs against an embedded simulator; for Binance itself use
//! `SocketManager::new()` instead.
//!
//! `cargo run -p binance-ws --example trade_socket`

use binance_sim::{Sim, SimConfig};
use binance_ws::{Endpoint, Event, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .build()?;

    // bm.trade_socket('BNBBTC'); async with ts as tscm: res = await tscm.recv()
    let mut trades = manager.trade_socket("BNBBTC")?;
    let mut seen = 0;
    while seen < 5 {
        match trades.recv().await? {
            Message::Event(e) => {
                if let Event::Trade(t) = e.event {
                    println!("trade {} {} @ {}", t.trade_id, t.quantity, t.price);
                    seen += 1;
                }
            }
            Message::Status(status) => eprintln!("status: {status:?}"),
            _ => {}
        }
    }
    trades.close().await;
    Ok(())
}
