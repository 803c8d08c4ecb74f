//! `binance-sim`: run the simulated exchange as a server.

use clap::Parser;

/// A simulated Binance spot exchange: stream server and REST on one port.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Examples:\n  binance-sim --port 9443 --symbols BTCUSDT,ETHUSDT --seed 42\n  websocat ws://127.0.0.1:9443/ws/btcusdt@trade"
)]
struct Args {
    #[command(flatten)]
    sim: binance_sim::cli::SimArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    binance_sim::cli::run(Args::parse().sim).await
}
