//! The seed's `user_timeout` and manual enter/exit, in Rust: `connect()`,
//! `recv()` with a timeout that does not end the socket, `close()`.
//!
//! `cargo run -p binance-ws --example timeout_and_manual`

use std::time::Duration;

use binance_sim::{Sim, SimConfig};
use binance_ws::{Endpoint, KlineInterval, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    // bm = BinanceSocketManager(client, user_timeout=60), here 100 ms
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .user_timeout(Duration::from_millis(100))
        .build()?;

    // await ts.__aenter__()
    let mut klines = manager.kline_socket("BNBBTC", KlineInterval::M1)?;
    klines.connect().await?;
    // Klines come every 2 s: some receives time out, and the socket goes on.
    let mut events = 0;
    while events < 2 {
        match klines.recv().await {
            Ok(Message::Event(e)) => {
                println!("{:?}", e.event);
                events += 1;
            }
            Ok(_) => {}
            Err(e) if e.is_timeout() => eprintln!("timeout: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    // await ts.__aexit__()
    klines.close().await;
    Ok(())
}
