//! The simulator's command line, shared by `binance-sim` and `bnws sim`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use crate::engine::SymbolSpec;
use crate::{FuturesConfig, MarketConfig, OptionsConfig, Sim, SimConfig, Venue};

/// The simulator's options.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 9443)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Symbols to trade, comma-separated: from the built-in set, or from
    /// `--exchange-info` when given.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "BTCUSDT,ETHUSDT,BNBBTC,BNBUSDT"
    )]
    pub symbols: Vec<String>,
    /// Take symbols and their filters from an exchangeInfo answer (JSON, or a
    /// capture line such as shared/captures/BINANCE.0).
    #[arg(long, value_name = "FILE")]
    pub exchange_info: Option<std::path::PathBuf>,
    /// Seed of the synthetic order flow (same seed, same market).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Engine actions per second per symbol.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Book updates per symbol the truth remembers (true book, trade log,
    /// REST trades, aggTrades and klines; 100000 is about 8 minutes at the
    /// default rate): older history is dropped so memory stays bounded.
    /// 0 keeps everything, growing with the run.
    #[arg(long, default_value_t = crate::engine::DEFAULT_HISTORY_WINDOW, value_name = "UPDATES")]
    pub history: u64,
    /// Serve TLS (wss://, https://) with a certificate made at start-up,
    /// written to a PEM file for clients to trust.
    #[arg(long)]
    pub tls: bool,
    /// Accounts to create: a JSON list of `{"apiKey", "secretKey" | "publicKey"
    /// (PEM), "balances": {"BTC": "1"}, "marginBalances": {…},
    /// "isolatedBalances": {"BTCUSDT": {…}}}`. Without it, one demo account
    /// (HMAC key `sim-demo-key`, secret `sim-demo-secret`) is made.
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<std::path::PathBuf>,
    /// Longest life of a margin listen token, in seconds (Binance: 86400).
    #[arg(long, default_value_t = 86_400, value_name = "SECS")]
    pub listen_token_validity: u64,
    /// Port of the USD-M futures server (streams and `/fapi` REST; 0 picks
    /// a free one).
    #[arg(long, default_value_t = 0)]
    pub usdm_port: u16,
    /// Port of the COIN-M futures server (streams and `/dapi` REST; 0 picks
    /// a free one).
    #[arg(long, default_value_t = 0)]
    pub coinm_port: u16,
    /// Serve no futures markets.
    #[arg(long)]
    pub no_futures: bool,
    /// Port of the options server (streams on `/public` and `/market`,
    /// `/eapi` REST; 0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub options_port: u16,
    /// Serve no options market.
    #[arg(long)]
    pub no_options: bool,
}

/// The API key of the demo account made when no accounts file is given.
pub const DEMO_API_KEY: &str = "sim-demo-key";
/// The HMAC secret of the demo account.
pub const DEMO_SECRET: &str = "sim-demo-secret";

/// The demo account: HMAC key, 10 000 USDT and 1 BTC/ETH/BNB in each wallet.
pub fn demo_account() -> crate::AccountSpec {
    use crate::Wallet;
    let mut spec = crate::AccountSpec::hmac(DEMO_API_KEY, DEMO_SECRET);
    for wallet in [
        Wallet::Spot,
        Wallet::Margin,
        Wallet::Isolated("BTCUSDT".into()),
    ] {
        spec = spec.balance(wallet.clone(), "USDT", 10_000.into());
        for asset in ["BTC", "ETH", "BNB"] {
            spec = spec.balance(wallet.clone(), asset, 1.into());
        }
    }
    spec
}

/// The accounts of `--accounts FILE`, or the demo account.
pub fn accounts(path: Option<&std::path::Path>) -> Result<Vec<crate::AccountSpec>, String> {
    match path {
        None => Ok(vec![demo_account()]),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            crate::AccountSpec::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// Run the simulator until Ctrl-C; the exit code says how it went.
pub async fn run(args: SimArgs) -> ExitCode {
    let (available, entries): (Vec<SymbolSpec>, Vec<Option<serde_json::Value>>) =
        match &args.exchange_info {
            None => SymbolSpec::builtin().into_iter().map(|s| (s, None)).unzip(),
            Some(path) => match crate::exchange_info::load(path) {
                Ok(list) => list.into_iter().map(|(s, v)| (s, Some(v))).unzip(),
                Err(e) => {
                    eprintln!("binance-sim: cannot read exchangeInfo: {e}");
                    return ExitCode::from(2);
                }
            },
        };
    let mut symbols = Vec::new();
    let mut exchange_info = std::collections::BTreeMap::new();
    for wanted in &args.symbols {
        match available
            .iter()
            .position(|s| s.symbol.eq_ignore_ascii_case(wanted))
        {
            Some(i) => {
                symbols.push(available[i].clone());
                if let Some(entry) = &entries[i] {
                    exchange_info.insert(available[i].symbol.clone(), entry.clone());
                }
            }
            None => {
                let known: Vec<&str> = available
                    .iter()
                    .take(20)
                    .map(|s| s.symbol.as_str())
                    .collect();
                let more = if available.len() > 20 { ", …" } else { "" };
                eprintln!(
                    "binance-sim: unknown symbol `{wanted}`; available: {}{more}",
                    known.join(",")
                );
                return ExitCode::from(2);
            }
        }
    }
    let accounts = match accounts(args.accounts.as_deref()) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("binance-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let demo = args.accounts.is_none();
    let config = SimConfig {
        accounts,
        max_listen_token_validity: std::time::Duration::from_secs(args.listen_token_validity),
        addr: SocketAddr::new(args.host, args.port),
        market: MarketConfig {
            symbols,
            seed: args.seed,
            actions_per_second: args.rate,
            exchange_info,
            ..MarketConfig::default()
        },
        tls: args.tls,
        history: (args.history > 0).then_some(args.history),
        futures: match args.no_futures {
            true => FuturesConfig::off(),
            false => FuturesConfig {
                usdm_port: args.usdm_port,
                coinm_port: args.coinm_port,
                ..FuturesConfig::default()
            },
        },
        options: match args.no_options {
            true => OptionsConfig::off(),
            false => OptionsConfig {
                port: args.options_port,
                ..OptionsConfig::default()
            },
        },
        ..SimConfig::default()
    };
    let sim = match Sim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!(
                "binance-sim: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::from(1);
        }
    };
    eprintln!("binance-sim: trading {}", sim.symbols().join(", "));
    eprintln!(
        "  streams: {}/ws/<stream>  {}/stream?streams=<a>/<b>",
        sim.ws_url(),
        sim.ws_url()
    );
    eprintln!(
        "  rest:    {}/api/v3/depth?symbol=BTCUSDT&limit=100",
        sim.rest_url()
    );
    eprintln!("  ws-api:  {} (user data, orders)", sim.ws_api_url());
    for (venue, routes, api) in [
        (
            Venue::UsdM,
            "/public/ws/<stream>  /market/stream?streams=<a>/<b>",
            "fapi",
        ),
        (
            Venue::CoinM,
            "/ws/<stream>  /stream?streams=<a>/<b>",
            "dapi",
        ),
        (
            Venue::Options,
            "/public/ws/<stream>  /market/stream?streams=<a>/<b>",
            "eapi",
        ),
    ] {
        let symbols = sim.venue_symbols(venue);
        let Some(first) = symbols.first() else {
            continue;
        };
        let ws = sim.venue_ws_url(venue);
        eprintln!("  {venue}: trading {}", symbols.join(", "));
        eprintln!("    streams: {ws} ({routes})");
        eprintln!(
            "    rest:    {}/{api}/v1/depth?symbol={first}&limit=1000 (no WebSocket API)",
            sim.venue_rest_url(venue)
        );
    }
    if demo {
        eprintln!("  account: API key `{DEMO_API_KEY}`, HMAC secret `{DEMO_SECRET}` (demo; --accounts FILE for your own)");
    }
    eprintln!(
        "  admin:   {} (faults and truth; see the crate docs)",
        sim.admin_url()
    );
    if let Some(pem) = sim.certificate_pem() {
        let path = std::env::temp_dir().join(format!("binance-sim-{}.pem", sim.addr().port()));
        match std::fs::write(&path, pem) {
            Ok(()) => eprintln!("  tls:     trust the certificate in {}", path.display()),
            Err(e) => eprintln!(
                "binance-sim: cannot write the certificate to {}: {e}",
                path.display()
            ),
        }
    }
    eprintln!("  Ctrl-C to stop");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("binance-sim: cannot wait for Ctrl-C: {e}");
    }
    eprintln!("binance-sim: shutting down (serverShutdown sent, closing in 1 s)");
    sim.shutdown(std::time::Duration::from_secs(1)).await;
    eprintln!("binance-sim: stopped");
    ExitCode::SUCCESS
}
