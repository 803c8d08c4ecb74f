//! Each socket type of the seed, one event from each.
//!
//! `cargo run -p binance-ws --example socket_types`

use binance_sim::{Sim, SimConfig};
use binance_ws::{
    DepthLevels, Endpoint, KlineInterval, RollingWindow, Socket, SocketManager, UpdateSpeed,
};

async fn first_event(name: &str, mut socket: Socket) -> Result<(), binance_ws::Error> {
    loop {
        if let binance_ws::Message::Event(e) = socket.recv().await? {
            let text = format!("{:?}", e.event);
            println!("{name:>28}: {}", &text[..text.len().min(100)]);
            return Ok(());
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    let bm = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .build()?;
    let sockets = vec![
        (
            "multiplex_socket",
            bm.multiplex_socket(&["bnbbtc@aggTrade", "ethusdt@ticker"])?,
        ),
        (
            "depth_socket (diff)",
            bm.depth_socket("BNBBTC", None, UpdateSpeed::Ms1000)?,
        ),
        (
            "depth_socket (depth=5)",
            bm.depth_socket("BNBBTC", Some(DepthLevels::L5), UpdateSpeed::Ms100)?,
        ),
        (
            "kline_socket (30m)",
            bm.kline_socket("BNBBTC", KlineInterval::M30)?,
        ),
        ("aggtrade_socket", bm.aggtrade_socket("BNBBTC")?),
        ("trade_socket", bm.trade_socket("BNBBTC")?),
        ("symbol_ticker_socket", bm.symbol_ticker_socket("BNBBTC")?),
        ("miniticker_socket", bm.miniticker_socket()),
        (
            "symbol_miniticker_socket",
            bm.symbol_miniticker_socket("BNBBTC")?,
        ),
        (
            "rolling_ticker_socket (1h)",
            bm.rolling_ticker_socket(RollingWindow::H1),
        ),
        (
            "symbol_book_ticker_socket",
            bm.symbol_book_ticker_socket("BNBBTC")?,
        ),
        ("avg_price_socket", bm.avg_price_socket("BNBBTC")?),
    ];
    for (name, socket) in sockets {
        first_event(name, socket).await?;
    }
    // The seed's all-market ticker_socket: retired by Binance.
    #[allow(deprecated)]
    if let Err(e) = bm.ticker_socket() {
        println!("{:>28}: {e}", "ticker_socket");
    }
    Ok(())
}
