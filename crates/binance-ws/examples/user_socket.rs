//! The seed's user socket, as Binance runs it today: the account's events
//! over the WebSocket API. An order placed through the same API shows up as
//! `executionReport`s and an `outboundAccountPosition`.
//!
//! Runs against an embedded simulator with a test account; for Binance
//! itself use `SocketManager::new()` with `BINANCE_API_KEY` and
//! `BINANCE_API_SECRET` (or `BINANCE_PRIVATE_KEY_FILE`) set.
//!
//! `cargo run -p binance-ws --example user_socket`

use binance_sim::{AccountSpec, Sim, SimConfig, Wallet};
use binance_ws::{Credentials, Endpoint, Event, Message, SocketManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig {
        accounts: vec![AccountSpec::hmac("example-key", "example-secret").balance(
            Wallet::Spot,
            "USDT",
            1000.into(),
        )],
        ..SimConfig::default()
    })
    .await?;
    let manager = SocketManager::builder()
        .endpoint(Endpoint::Custom(sim.ws_url()))
        .credentials(Credentials::hmac("example-key", "example-secret"))
        .build()?;

    // bm.user_socket(): subscribes with userDataStream.subscribe.signature,
    // again by itself after any reconnect.
    let mut user = manager.user_socket()?;
    user.connect().await?;

    let api = manager.ws_api().await?;
    let order = serde_json::json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.00100"});
    let placed = api
        .signed_request(
            "order.place",
            order.as_object().cloned().unwrap_or_default(),
        )
        .await?;
    println!("order {} {}", placed["orderId"], placed["status"]);

    loop {
        match user.recv().await? {
            Message::Event(e) => match e.event {
                Event::ExecutionReport(r) => println!(
                    "executionReport {} {} filled {} of {}",
                    r.execution_type, r.order_status, r.cumulative_filled_quantity, r.quantity
                ),
                Event::OutboundAccountPosition(p) => {
                    for b in &p.balances {
                        println!("balance {} free {} locked {}", b.asset, b.free, b.locked);
                    }
                    break;
                }
                other => println!("{other:?}"),
            },
            Message::Status(status) => eprintln!("status: {status:?}"),
            _ => {}
        }
    }
    user.close().await;
    Ok(())
}
