//! Futures sockets, the account's events and a futures depth cache against
//! the embedded simulator's USD-M and COIN-M markets (no network needed).
//!
//! `cargo run -p binance-ws --example futures`

use binance_sim::{Sim, SimConfig};
use binance_ws::binance_types::futures::stream::PriceSpeed;
use binance_ws::binance_types::futures::FuturesEvent;
use binance_ws::binance_types::venue::Venue;
use binance_ws::{DepthCacheOptions, DepthEvent, Endpoint, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig {
        accounts: vec![binance_sim::cli::demo_account()],
        ..SimConfig::default()
    })
    .await?;
    // For Binance itself: SocketManager::new() (fstream/fapi, dstream/dapi).
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .venue_endpoint(Venue::UsdM, Endpoint::Custom(sim.venue_ws_url(Venue::UsdM)))
        .venue_endpoint(
            Venue::CoinM,
            Endpoint::Custom(sim.venue_ws_url(Venue::CoinM)),
        )
        .build()?;

    // bm.futures_multiplex_socket([...]): split over /market and /public by itself.
    let mut socket = manager.futures_multiplex_socket(
        Venue::UsdM,
        &[
            "btcusdt@markPrice@1s",
            "btcusdt@aggTrade",
            "btcusdt@bookTicker",
        ],
    )?;
    println!("connections: {:?}", socket.urls());
    let mut seen = 0;
    while seen < 6 {
        match socket.recv().await? {
            Message::Futures(e) => {
                match &e.event {
                    FuturesEvent::MarkPrice(m) => println!(
                        "{} mark {} index {} funding {:?}",
                        m.symbol, m.mark_price, m.index_price, m.funding_rate
                    ),
                    FuturesEvent::AggTrade(t) => {
                        println!("{} trade {} @ {}", t.symbol, t.quantity, t.price)
                    }
                    other => println!("{other:?}"),
                }
                seen += 1;
            }
            Message::Status(status) => eprintln!("status: {status}"),
            _ => {}
        }
    }
    socket.close().await;

    // bm.index_price_socket('BTCUSD') (COIN-M).
    let mut index = manager.index_price_socket("btcusd", PriceSpeed::S1)?;
    loop {
        if let Message::Futures(e) = index.recv().await? {
            println!("{:?}", e.event);
            break;
        }
    }

    // The account: a listen key made, kept alive and renewed by the socket.
    let manager = SocketManager::builder()
        .venue_endpoint(Venue::UsdM, Endpoint::Custom(sim.venue_ws_url(Venue::UsdM)))
        .venue_endpoint(
            Venue::CoinM,
            Endpoint::Custom(sim.venue_ws_url(Venue::CoinM)),
        )
        .credentials(binance_ws::Credentials::hmac(
            binance_sim::cli::DEMO_API_KEY,
            binance_sim::cli::DEMO_SECRET,
        ))
        .build()?;
    let mut account = manager.futures_user_socket()?;
    account.connect().await?;
    let order = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", "0.002"),
    ];
    sim.futures_order(Venue::UsdM, binance_sim::cli::DEMO_API_KEY, &order)
        .map_err(|(code, msg)| format!("{code} {msg}"))?;
    let mut events = 0;
    while events < 3 {
        if let Message::FuturesUser(event) = account.recv().await? {
            println!("account: {}", serde_json::to_string(&event)?);
            events += 1;
        }
    }
    account.close().await;

    // A COIN-M contract's book by §5.4 (not python-binance's partial-depth "cache").
    let caches = manager.futures_depth_caches(Venue::CoinM, DepthCacheOptions::default())?;
    let mut book = caches.add("BTCUSD_PERP").await?;
    let mut updates = 0;
    while updates < 5 {
        match book.recv().await? {
            DepthEvent::Synced { .. } | DepthEvent::Updated { .. } => {
                let (id, bids, asks) = book.top(1)?;
                println!(
                    "BTCUSD_PERP at {id}: {:?} / {:?}",
                    bids.first(),
                    asks.first()
                );
                updates += 1;
            }
            other => eprintln!("{other:?}"),
        }
    }
    Ok(())
}
