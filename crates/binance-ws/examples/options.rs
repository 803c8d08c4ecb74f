//! Options sockets and an options depth cache against the embedded
//! simulator's options market (no network needed).
//!
//! `cargo run -p binance-ws --example options`

use binance_sim::{Sim, SimConfig};
use binance_ws::binance_types::options::stream::OptionSymbol;
use binance_ws::binance_types::options::OptionsEvent;
use binance_ws::binance_types::venue::Venue;
use binance_ws::{DepthEvent, Endpoint, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    // For Binance itself: SocketManager::new() (fstream /public and /market, eapi).
    let manager = SocketManager::builder()
        .venue_endpoint(
            Venue::Options,
            Endpoint::Custom(sim.venue_ws_url(Venue::Options)),
        )
        .no_proxy()
        .build()?;
    let option = OptionSymbol::new(&sim.venue_symbols(Venue::Options)[0])?;
    let underlying = format!("{}USDT", option.base());
    println!(
        "{option}: {} strike {} expiring 20{}",
        match option.kind() {
            binance_ws::binance_types::options::stream::OptionKind::Call => "call",
            binance_ws::binance_types::options::stream::OptionKind::Put => "put",
        },
        option.strike(),
        option.expiry()
    );

    // Greeks of every option of the underlying (/market).
    let mut marks = manager.options_mark_price_socket(&underlying)?;
    loop {
        if let Message::Options(e) = marks.recv().await? {
            if let OptionsEvent::MarkPrices(all) = e.event {
                for m in all.iter().take(4) {
                    println!(
                        "{} mark {} iv {} delta {} gamma {} theta {} vega {}",
                        m.symbol, m.mark_price, m.mark_iv, m.delta, m.gamma, m.theta, m.vega
                    );
                }
                break;
            }
        }
    }

    // The best bid and ask as they change (/public).
    let mut book_ticker = manager.options_book_ticker_socket(option.as_str())?;
    let mut seen = 0;
    while seen < 3 {
        if let Message::Options(e) = book_ticker.recv().await? {
            if let OptionsEvent::BookTicker(b) = e.event {
                println!(
                    "{} bid {} x {} ask {} x {}",
                    b.symbol, b.bid_price, b.bid_quantity, b.ask_price, b.ask_quantity
                );
                seen += 1;
            }
        }
    }

    // A book that is never wrong: §5.4 with snapshots from /eapi/v1/depth.
    let mut book = manager.options_depth_cache(option.as_str()).await?;
    let mut updates = 0;
    while updates < 5 {
        if let DepthEvent::Synced { .. } | DepthEvent::Updated { .. } = book.recv().await? {
            updates += 1;
        }
    }
    let (id, bids, asks) = book.top(3)?;
    println!("{option} at {id}: bids {bids:?} asks {asks:?}");
    Ok(())
}
