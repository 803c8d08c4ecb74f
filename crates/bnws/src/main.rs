//! `bnws`: Binance real-time data on the command line.
//!
//! JSON lines on stdout, human messages on stderr. Exit codes: 0 done,
//! 1 the connection gave up (retries exhausted) or an I/O error, 2 bad
//! arguments (a stream name Binance does not serve, …), 3 done but
//! messages were dropped because the output did not keep up (counted on
//! stderr).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use binance_sim::{Sim, SimConfig};
use binance_types::futures::stream::FuturesStream;
use binance_types::options::OptionsStream;
use binance_types::venue::Venue;
use binance_types::StreamName;
use binance_ws::{
    DepthCacheOptions, DepthEvent, Endpoint, ErrorKind, Message, Retries, SocketManager, Status,
};
use clap::{Parser, Subcommand};

mod nats;
mod output;
mod record;
mod shard;

/// Binance real-time data: stream, keep a book, record and replay.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Examples:\n  bnws --sim stream btcusdt@trade --count 5\n  bnws --market usdm --sim stream btcusdt@markPrice btcusdt@depth@100ms\n  bnws --market coinm --sim book BTCUSD_PERP --depth 5\n  bnws --market options --sim stream btcusdt@optionMarkPrice !index@arr\n  bnws stream btcusdt@trade ethusdt@bookTicker\n  bnws --sim book BTCUSDT --depth 5\n  bnws record btcusdt@trade --out rec/\n  bnws replay rec/btcusdt@trade-0.gz --serve 9000\n  bnws sim --port 9443"
)]
struct Cli {
    /// The market: spot, usdm (USD-M futures), coinm (COIN-M futures) or
    /// options (European options, streams routed like USD-M).
    #[arg(long, global = true, default_value = "spot", value_parser = parse_market)]
    market: Venue,
    /// Run an embedded simulator and connect to it (works with no network).
    #[arg(long, global = true, conflicts_with_all = ["endpoint", "testnet", "tld"])]
    sim: bool,
    /// The market's stream server base URL, e.g. ws://127.0.0.1:9000 (USD-M:
    /// the host, under which /public and /market are routed).
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// The REST base URL (default: derived from the endpoint).
    #[arg(long, global = true, value_name = "URL")]
    rest: Option<String>,
    /// Binance's testnet of the market.
    #[arg(long, global = true)]
    testnet: bool,
    /// `us` for Binance.US.
    #[arg(long, global = true, value_name = "TLD")]
    tld: Option<String>,
    /// Reconnect tries before giving up: a number, 0 for none, or `inf`.
    #[arg(long, global = true, default_value = "5", value_parser = parse_retries)]
    max_reconnects: Retries,
    /// Reconnect after this many seconds without a frame.
    #[arg(long, global = true, value_name = "SECS")]
    timeout: Option<f64>,
    /// When the output cannot keep up (a stuck pipe, a full disk), stop
    /// reading for at most this long before dropping messages; drops are
    /// counted on stderr and the exit code is 3.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 20.0)]
    max_stall: f64,
    /// Read every stream on this many connections (1 to 4), rotated at
    /// different times; each event is printed or recorded once.
    #[arg(long, global = true, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=4))]
    connections: u8,
    /// Leave holes in trade, aggTrade and kline streams as gaps (say them on
    /// stderr and in the ledger) instead of filling them from REST.
    #[arg(long, global = true)]
    no_backfill: bool,
    #[command(subcommand)]
    command: Command,
}

fn parse_market(s: &str) -> Result<Venue, String> {
    match s.to_ascii_lowercase().as_str() {
        "spot" => Ok(Venue::Spot),
        "usdm" | "usd-m" | "futures" => Ok(Venue::UsdM),
        "coinm" | "coin-m" | "delivery" => Ok(Venue::CoinM),
        "options" | "option" | "eoptions" => Ok(Venue::Options),
        _ => Err(format!("`{s}`: one of spot, usdm, coinm, options")),
    }
}

fn parse_retries(s: &str) -> Result<Retries, String> {
    match s {
        "inf" | "infinite" | "unlimited" => Ok(Retries::Unlimited),
        n => n
            .parse()
            .map(Retries::Limited)
            .map_err(|_| format!("`{s}`: a number of tries, 0 for none, or `inf`")),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print frames of streams named as Binance names them, exactly as
    /// received, one JSON line each.
    Stream {
        /// Stream names, e.g. btcusdt@trade bnbbtc@depth5@100ms !miniTicker@arr
        /// (futures: btcusdt@markPrice, btcusd_perp@depth@100ms, …).
        #[arg(required = true, value_name = "STREAM")]
        streams: Vec<String>,
        /// Also print connection state to stdout as {"e":"status",…} lines.
        #[arg(long)]
        status: bool,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        shard: ShardArgs,
    },
    /// Keep a local order book and print it.
    Book {
        /// The symbol, e.g. BTCUSDT (COIN-M: BTCUSD_PERP; options:
        /// BTC-261225-90000-C).
        symbol: String,
        /// Levels a side to print.
        #[arg(long, default_value_t = 10)]
        depth: usize,
        /// Print at most once per this many milliseconds (piped output).
        #[arg(long, value_name = "MS")]
        interval: Option<u64>,
        /// REST snapshot size.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Stop after this many printed books.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Record raw frames with receive times into rotating gzip files
    /// (--out), and/or publish them to NATS JetStream (--sink).
    Record {
        /// Stream names.
        #[arg(required = true, value_name = "STREAM")]
        streams: Vec<String>,
        /// Directory for the recording files.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Start a new file after this many frames.
        #[arg(long, default_value_t = 100_000)]
        rotate: u64,
        /// Stop after this many frames.
        #[arg(long)]
        count: Option<u64>,
        /// Publish every frame to NATS JetStream: the payload as Binance sent
        /// it, on subject PREFIX.MARKET.<stream, `@` as `.`>, headers
        /// Bnws-Stream, Bnws-Received-Ns, Nats-Msg-Id (deduplicated over 2 min).
        #[arg(long, value_name = "nats://HOST:PORT[,HOST:PORT…]")]
        sink: Option<String>,
        /// The JetStream stream, created if missing with subjects PREFIX.>
        /// (default: the sink's /STREAM, or BINANCE).
        #[arg(long, value_name = "NAME", requires = "sink")]
        nats_stream: Option<String>,
        /// The subject prefix.
        #[arg(long, value_name = "PREFIX", default_value = "binance")]
        nats_prefix: String,
        /// Replicas of the stream when it is created (3 on a 3-node cluster).
        #[arg(long, value_name = "R", default_value_t = 1)]
        replicas: usize,
        /// Frames buffered while NATS is slow or away; when full, reading
        /// pauses (said on stderr) and the socket's queue reports Lagged.
        #[arg(long, value_name = "N", default_value_t = 100_000)]
        nats_buffer: usize,
        /// Publishes waiting for their JetStream acks at most.
        #[arg(long, value_name = "N", default_value_t = 1024)]
        nats_window: usize,
        /// The gap ledger (JSON lines of `gap` and `gap_filled` statuses;
        /// default with --out: DIR/ledger.jsonl). With --sink, also
        /// published to PREFIX.ledger.
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        #[command(flatten)]
        shard: ShardArgs,
        /// Print the streams this collector would record (its --shard
        /// share), one a line, and exit.
        #[arg(long)]
        dry_run: bool,
    },
    /// Play a recording (ours or shared/captures') to stdout, or serve it;
    /// or read back a NATS JetStream stream (nats://HOST:PORT[,…]/STREAM).
    Replay {
        /// The recording file (plain or .gz), or nats://HOST:PORT[,…]/STREAM.
        file: PathBuf,
        /// Serve it as a stream server on this port instead of printing.
        #[arg(long, value_name = "PORT")]
        serve: Option<u16>,
        /// Speed when serving: 1 recorded, 10 ten times faster, 0 as fast as possible.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Depth snapshots to serve (a `.http.` capture file).
        #[arg(long, value_name = "FILE")]
        snapshots: Option<PathBuf>,
        /// NATS: only messages on this subject (wildcards allowed), e.g.
        /// binance.spot.btcusdt.> or binance.ledger.
        #[arg(long, value_name = "SUBJECT")]
        subject: Option<String>,
        /// NATS: after the last stored message, go on printing new ones.
        #[arg(long)]
        follow: bool,
    },
    /// Print your account's events (orders, trades, balances) as JSON lines:
    /// spot by default, or --margin, or --isolated SYMBOL. Keys come from
    /// BINANCE_API_KEY with BINANCE_API_SECRET (HMAC) or
    /// BINANCE_PRIVATE_KEY_FILE (Ed25519/RSA PEM); with --sim, from the
    /// simulator's demo account, which then trades a little every second.
    User {
        /// The cross-margin account.
        #[arg(long)]
        margin: bool,
        /// The isolated-margin account of this symbol.
        #[arg(long, value_name = "SYMBOL", conflicts_with = "margin")]
        isolated: Option<String>,
        /// Also print connection state to stdout as {"e":"status",…} lines.
        #[arg(long)]
        status: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Run the simulator as a server.
    Sim(binance_sim::cli::SimArgs),
}

/// `--shard I/N` and `--shard-copies K`.
#[derive(clap::Args, Debug)]
struct ShardArgs {
    /// Take only this collector's share of the streams: collector I (1 to
    /// N) of N, by rendezvous hashing (growing N moves about 1/N of them).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Collectors that take each stream (2: every stream has two owners).
    #[arg(long, value_name = "K", default_value_t = 1)]
    shard_copies: u32,
}

/// A human line on stderr.
macro_rules! say {
    ($($t:tt)*) => { eprintln!("bnws: {}", format!($($t)*)) };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the connection and the output loop take turns without
    // crossing threads, and stdout is written on a thread of its own. A
    // recording compresses and writes files on its runtime, so it gets
    // workers: a slow disk must not stop the connection from reading.
    let runtime = match cli.command {
        Command::Record { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            say!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(message) => {
            say!("{message}");
            ExitCode::from(1)
        }
    }
}

/// Where to connect: the market's endpoint and REST base, and the embedded
/// simulator kept alive while it is used.
async fn target(cli: &Cli) -> Result<(Endpoint, Option<String>, Option<Sim>), String> {
    if cli.sim {
        let sim = Sim::start(SimConfig {
            accounts: vec![binance_sim::cli::demo_account()],
            ..SimConfig::default()
        })
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let url = sim.venue_ws_url(cli.market);
        say!("simulator ({}) at {url}", cli.market);
        let rest = sim.venue_rest_url(cli.market);
        return Ok((Endpoint::Custom(url), Some(rest), Some(sim)));
    }
    let endpoint = match (&cli.endpoint, cli.testnet, cli.tld.as_deref()) {
        (Some(url), _, _) => Endpoint::Custom(url.clone()),
        (None, true, _) => Endpoint::Testnet,
        (None, false, Some("us")) => Endpoint::BinanceUs,
        (None, false, Some(other)) => return Err(format!("--tld `{other}`: only `us` is known")),
        (None, false, None) => Endpoint::Production,
    };
    Ok((endpoint, cli.rest.clone(), None))
}

/// The manager; `endpoint` serves `cli.market` (and the spot WebSocket API
/// only when the market is spot).
fn manager(cli: &Cli, endpoint: Endpoint, demo: bool) -> Result<SocketManager, String> {
    let mut builder = match cli.market {
        Venue::Spot => SocketManager::builder().endpoint(endpoint),
        futures => SocketManager::builder().venue_endpoint(futures, endpoint),
    };
    // The embedded simulator's demo account, unless the environment names a key.
    if demo && std::env::var_os(binance_ws::ENV_API_KEY).is_none() {
        builder = builder.credentials(binance_ws::Credentials::hmac(
            binance_sim::cli::DEMO_API_KEY,
            binance_sim::cli::DEMO_SECRET,
        ));
    }
    builder = match cli.max_reconnects {
        Retries::Unlimited => builder.unlimited_reconnects(),
        Retries::Limited(n) => builder.max_reconnects(n),
    };
    if let Some(secs) = cli.timeout {
        builder = builder.watchdog(Duration::from_secs_f64(secs));
    }
    let stall = Duration::try_from_secs_f64(cli.max_stall).map_err(|_| {
        format!(
            "--max-stall {}: a number of seconds, 0 or more",
            cli.max_stall
        )
    })?;
    builder = builder
        .max_stall(stall)
        .market_connections(cli.connections.into());
    if cli.no_backfill {
        builder = builder.backfill_weight_per_minute(0);
    }
    builder.build().map_err(|e| e.to_string())
}

/// This collector's `--shard` share of `names` (all of them without one);
/// a bad `--shard` exits 2 naming it and the valid form.
fn take_shard(args: &ShardArgs, names: Vec<String>) -> Result<Vec<String>, ExitCode> {
    let Some(spec) = &args.shard else {
        if args.shard_copies != 1 {
            say!("--shard-copies goes with --shard I/N");
            return Err(ExitCode::from(2));
        }
        return Ok(names);
    };
    let shard = shard::parse(spec, args.shard_copies).map_err(|e| {
        say!("{e}");
        ExitCode::from(2)
    })?;
    let taken = shard.take(&names);
    say!(
        "shard {}/{} (copies {}): {} of {} streams",
        shard.index,
        shard.count,
        shard.copies,
        taken.len(),
        names.len()
    );
    Ok(taken)
}

/// Check stream names of `market`; a bad one exits 2 naming it and the
/// valid forms.
fn check_names(market: Venue, names: &[String]) -> Result<Vec<String>, ExitCode> {
    names
        .iter()
        .map(|n| {
            let name = match market {
                Venue::Spot => n.parse::<StreamName>().map(|s| s.to_string()),
                Venue::Options => n.parse::<OptionsStream>().map(|s| s.to_string()),
                futures => FuturesStream::parse_on(futures, n).map(|s| s.to_string()),
            };
            name.map_err(|e| {
                say!("{e}");
                ExitCode::from(2)
            })
        })
        .collect()
}

/// A socket on `names` (checked) of `market`: one stream gives its payload
/// as Binance sends it, several the combined envelope.
pub(crate) fn open_socket(
    manager: &SocketManager,
    market: Venue,
    names: &[String],
) -> Result<binance_ws::Socket, String> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let socket = match (market, names) {
        (Venue::Spot, [one]) => Ok(manager.socket(
            one.parse()
                .map_err(|e: binance_types::StreamNameError| e.to_string())?,
        )),
        (Venue::Spot, _) => manager.multiplex_socket(&refs),
        (Venue::Options, [one]) => manager.options_socket(
            one.parse()
                .map_err(|e: binance_types::StreamNameError| e.to_string())?,
        ),
        (Venue::Options, _) => manager.options_multiplex_socket(&refs),
        (futures, [one]) => manager.futures_socket(
            futures,
            FuturesStream::parse_on(futures, one).map_err(|e| e.to_string())?,
        ),
        (futures, _) => manager.futures_multiplex_socket(futures, &refs),
    };
    socket.map_err(|e| e.to_string())
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Command::Sim(args) => return Ok(binance_sim::cli::run(args.clone()).await),
        Command::Replay {
            file,
            serve,
            speed,
            snapshots,
            subject,
            follow,
        } => {
            return record::replay(record::ReplayArgs {
                file,
                serve: *serve,
                speed: *speed,
                snapshots: snapshots.as_deref(),
                subject: subject.as_deref(),
                follow: *follow,
            })
            .await
        }
        _ => {}
    }
    // Check names before connecting anywhere.
    let names = match &cli.command {
        Command::Stream { streams, .. } | Command::Record { streams, .. } => {
            match check_names(cli.market, streams) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            }
        }
        _ => Vec::new(),
    };
    let names = match &cli.command {
        Command::Stream { shard, .. } | Command::Record { shard, .. } => {
            match take_shard(shard, names) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            }
        }
        _ => names,
    };
    if let Command::Record { dry_run: true, .. } = &cli.command {
        for name in &names {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let streams_command = matches!(cli.command, Command::Stream { .. } | Command::Record { .. });
    if streams_command && names.is_empty() {
        say!("this --shard takes none of the listed streams: nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let record_outputs = match &cli.command {
        Command::Record {
            out,
            rotate,
            sink,
            nats_stream,
            nats_prefix,
            replicas,
            nats_buffer,
            nats_window,
            ledger,
            ..
        } => {
            if out.is_none() && sink.is_none() {
                say!("record needs --out DIR (gzip files) or --sink nats://HOST:PORT[,HOST:PORT…] (JetStream), or both");
                return Ok(ExitCode::from(2));
            }
            let sink = match sink {
                Some(address) => {
                    let url = match nats::parse_url(address) {
                        Ok(u) => u,
                        Err(e) => {
                            say!("--sink {e}");
                            return Ok(ExitCode::from(2));
                        }
                    };
                    if nats_prefix.is_empty()
                        || !nats_prefix.split('.').all(|t| {
                            !t.is_empty()
                                && t.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        })
                    {
                        say!("--nats-prefix `{nats_prefix}`: dot-separated tokens of letters, digits, `_` and `-`, e.g. binance or md.binance");
                        return Ok(ExitCode::from(2));
                    }
                    let stream = nats_stream
                        .clone()
                        .or_else(|| url.stream.clone())
                        .unwrap_or_else(|| "BINANCE".into());
                    Some(nats::SinkConfig {
                        url,
                        stream,
                        replicas: *replicas,
                        prefix: nats_prefix.clone(),
                        buffer: *nats_buffer,
                        window: *nats_window,
                    })
                }
                None => None,
            };
            Some(record::Outputs {
                out: out.clone(),
                rotate: *rotate,
                sink,
                ledger: ledger.clone(),
            })
        }
        _ => None,
    };
    if let (
        Venue::UsdM | Venue::CoinM,
        Command::User {
            margin, isolated, ..
        },
    ) = (cli.market, &cli.command)
    {
        if *margin || isolated.is_some() {
            say!("--margin and --isolated are spot accounts: leave out --market");
            return Ok(ExitCode::from(2));
        }
    }
    if let (Venue::Options, Command::User { .. }) = (cli.market, &cli.command) {
        say!("options accounts have no user stream in bnws: use --market spot, usdm or coinm");
        return Ok(ExitCode::from(2));
    }
    let (endpoint, rest, _sim) = target(&cli).await?;
    let manager = manager(&cli, endpoint, _sim.is_some())?;
    let market = cli.market;
    match &cli.command {
        Command::Stream { status, count, .. } => {
            stream(&manager, market, &names, *status, *count).await
        }
        Command::Book {
            symbol,
            depth,
            interval,
            limit,
            count,
        } => {
            let shape = BookShape {
                depth: *depth,
                interval: *interval,
                limit: *limit,
                count: *count,
            };
            book(&manager, market, rest, symbol, shape).await
        }
        Command::Record { count, .. } => {
            let outputs = record_outputs.ok_or("record without outputs")?;
            record::record(&manager, market, &names, outputs, *count).await
        }
        Command::User { status, count, .. } if market != Venue::Spot => {
            futures_user(&manager, market, *status, *count, _sim.as_ref()).await
        }
        Command::User {
            margin,
            isolated,
            status,
            count,
        } => {
            let demo = _sim.as_ref().map(|s| s.accounts().clone());
            user(
                &manager,
                *margin,
                isolated.as_deref(),
                *status,
                *count,
                demo,
            )
            .await
        }
        Command::Sim(_) | Command::Replay { .. } => unreachable!("handled above"),
    }
}

/// The seed's error message, on stdout, and exit 1.
fn gave_up(out: &mut impl Write) -> ExitCode {
    let _ = writeln!(
        out,
        r#"{{"e":"error","m":"Max reconnect retries reached"}}"#
    );
    let _ = out.flush();
    ExitCode::from(1)
}

/// Messages taken from a socket at once: under load the output is written
/// a batch at a time; when quiet, each message at once.
const BATCH: usize = 1024;

/// What a run could not pass on, said loudly at the end (exit 3).
#[derive(Default)]
pub(crate) struct Losses {
    /// Dropped by the library because the output did not keep up.
    pub dropped: u64,
    /// Frames that were not JSON (reported, never printed).
    pub malformed: u64,
}

impl Losses {
    /// Say what was lost; exit 3 when messages were dropped.
    pub fn finish(&self, code: ExitCode) -> ExitCode {
        if self.malformed > 0 {
            say!("{} frames were not JSON and were left out", self.malformed);
        }
        if self.dropped == 0 {
            return code;
        }
        say!(
            "{} messages were DROPPED: the output did not keep up (a slow pipe or disk)",
            self.dropped
        );
        match code == ExitCode::SUCCESS {
            true => ExitCode::from(3),
            false => code,
        }
    }

    /// A status: counted when it says messages were dropped; said on stderr,
    /// and as a JSON line when `json` is given.
    pub fn status(&mut self, status: &Status, json: Option<&mut dyn Write>) -> std::io::Result<()> {
        if let Status::Lagged { dropped } = status {
            self.dropped += dropped;
        }
        say!("{status}");
        match json {
            Some(out) => writeln!(out, "{}", status.to_json()),
            None => Ok(()),
        }
    }

    /// A frame that is not JSON: said on stderr (and as a status line when
    /// `json` is given), never printed as data.
    pub fn malformed(&mut self, text: &str, json: Option<&mut dyn Write>) -> std::io::Result<()> {
        self.malformed += 1;
        let cut = text.char_indices().nth(80).map_or(text.len(), |(i, _)| i);
        say!("malformed frame left out (not JSON): {:?}", &text[..cut]);
        match json {
            Some(out) => writeln!(
                out,
                "{}",
                serde_json::json!({"e": "status", "state": "malformed", "error": "not JSON", "frame": &text[..cut]})
            ),
            None => Ok(()),
        }
    }
}

/// Whether a frame is one JSON value (only those reach stdout).
pub(crate) fn is_json(text: &str) -> bool {
    serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok()
}

async fn stream(
    manager: &SocketManager,
    market: Venue,
    names: &[String],
    status: bool,
    count: Option<u64>,
) -> Result<ExitCode, String> {
    // Frames are printed as received: nothing is re-encoded.
    let mut socket = open_socket(manager, market, names)?.raw();
    let mut out = output::Stdout::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut losses = Losses::default();
    let mut printed = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let io = |e: std::io::Error| format!("stdout: {e}");
    let mut interrupted = false;
    let code = loop {
        let want = count.map_or(BATCH, |c| {
            c.saturating_sub(printed).min(BATCH as u64) as usize
        });
        if want == 0 {
            break Ok(ExitCode::SUCCESS);
        }
        let received = tokio::select! {
            biased;
            _ = &mut ctrl_c => {
                interrupted = true;
                break Ok(ExitCode::SUCCESS);
            }
            r = socket.recv_many(&mut batch, want) => r,
        };
        for message in batch.drain(..) {
            match message {
                Message::Raw(frame) if is_json(frame.text()) => {
                    out.write_all(frame.text().as_bytes()).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                    printed += 1;
                }
                Message::Raw(frame) => losses
                    .malformed(frame.text(), status.then_some(&mut out as &mut dyn Write))
                    .map_err(io)?,
                Message::Status(s) => losses
                    .status(&s, status.then_some(&mut out as &mut dyn Write))
                    .map_err(io)?,
                _ => {}
            }
        }
        // Nothing more is queued (or a whole batch is in): out it goes, so a
        // reader of the pipe is never kept waiting behind a buffer. Ctrl-C
        // still works while a stuck pipe holds it.
        tokio::select! {
            biased;
            _ = &mut ctrl_c => {
                interrupted = true;
                break Ok(ExitCode::SUCCESS);
            }
            sent = out.send() => sent?,
        }
        match received {
            Ok(_) => {}
            Err(e) if e.kind() == &ErrorKind::MaxReconnects => break Ok(gave_up(&mut out)),
            Err(e) => break Err(e.to_string()),
        }
    };
    // Drops the library counted but had not yet reported are said too.
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::ZERO, socket.recv_many(&mut batch, BATCH)).await
    {
        for message in batch.drain(..) {
            if let Message::Status(s @ Status::Lagged { .. }) = message {
                let _ = losses.status(&s, None);
            }
        }
    }
    // After Ctrl-C, a stuck pipe is not waited for.
    let patience = interrupted.then_some(Duration::from_secs(2));
    out.close(patience).await?;
    Ok(losses.finish(code?))
}

/// What `bnws book` prints, and how often.
struct BookShape {
    depth: usize,
    interval: Option<u64>,
    limit: usize,
    count: Option<u64>,
}

async fn book(
    manager: &SocketManager,
    market: Venue,
    rest: Option<String>,
    symbol: &str,
    shape: BookShape,
) -> Result<ExitCode, String> {
    let BookShape {
        depth,
        interval,
        limit,
        count,
    } = shape;
    let options = DepthCacheOptions {
        snapshot_limit: limit,
        rest_url: rest,
        ..DepthCacheOptions::default()
    };
    let caches = match market {
        Venue::Spot => Ok(manager.depth_caches(options)),
        Venue::Options => manager.options_depth_caches(options),
        futures => manager.futures_depth_caches(futures, options),
    };
    let added = match caches {
        Ok(caches) => caches.add(symbol).await,
        Err(e) => Err(e),
    };
    let mut cache = match added {
        Ok(c) => c,
        Err(e) if e.kind() == &ErrorKind::StreamName => {
            say!("{e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.to_string()),
    };
    let live = std::io::stdout().is_terminal();
    let mut out = output::Stdout::new();
    let (mut printed, mut updates) = (0u64, 0u64);
    let mut last_print = std::time::Instant::now() - Duration::from_secs(3600);
    let started = std::time::Instant::now();
    loop {
        if count.is_some_and(|c| printed >= c) {
            break;
        }
        let event = tokio::select! {
            e = cache.recv() => e,
            _ = tokio::signal::ctrl_c() => break,
        };
        match event {
            Ok(DepthEvent::Synced { .. }) | Ok(DepthEvent::Updated { .. }) => {
                updates += 1;
                if interval.is_some_and(|ms| last_print.elapsed() < Duration::from_millis(ms)) {
                    continue;
                }
                let Ok((id, bids, asks)) = cache.top(depth) else {
                    continue;
                };
                last_print = std::time::Instant::now();
                let level = |l: &binance_types::Level| {
                    serde_json::json!([l.price.to_string(), l.quantity.to_string()])
                };
                if live {
                    let rate = updates as f64 / started.elapsed().as_secs_f64().max(0.001);
                    write!(
                        out,
                        "\x1b[2J\x1b[H{} book at {id}   {rate:.1} updates/s\n\n",
                        cache.symbol()
                    )
                    .map_err(|e| e.to_string())?;
                    for a in asks.iter().rev() {
                        writeln!(out, "{:>20} {:>20}   ask", a.price, a.quantity)
                            .map_err(|e| e.to_string())?;
                    }
                    if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
                        writeln!(out, "{:>20}   spread", a.price - b.price)
                            .map_err(|e| e.to_string())?;
                    }
                    for b in &bids {
                        writeln!(out, "{:>20} {:>20}   bid", b.price, b.quantity)
                            .map_err(|e| e.to_string())?;
                    }
                } else {
                    let line = serde_json::json!({
                        "symbol": cache.symbol(),
                        "lastUpdateId": id,
                        "bids": bids.iter().map(level).collect::<Vec<_>>(),
                        "asks": asks.iter().map(level).collect::<Vec<_>>(),
                    });
                    writeln!(out, "{line}").map_err(|e| e.to_string())?;
                }
                out.send().await?;
                printed += 1;
            }
            Ok(DepthEvent::Resyncing { reason }) => say!("resyncing: {reason}"),
            Ok(DepthEvent::Status(s)) => say!("{s}"),
            Ok(_) => {}
            Err(e) if e.kind() == &ErrorKind::MaxReconnects => {
                let code = gave_up(&mut out);
                out.close(None).await?;
                return Ok(code);
            }
            Err(e) => {
                out.close(None).await?;
                return Err(e.to_string());
            }
        }
    }
    out.close(None).await?;
    Ok(ExitCode::SUCCESS)
}

/// `bnws user`: the account's events as Binance's JSON, one line each.
async fn user(
    manager: &SocketManager,
    margin: bool,
    isolated: Option<&str>,
    status: bool,
    count: Option<u64>,
    demo: Option<binance_sim::Accounts>,
) -> Result<ExitCode, String> {
    let socket = match (margin, isolated) {
        (true, _) => manager.margin_socket(),
        (false, Some(symbol)) => manager.isolated_margin_socket(symbol),
        (false, None) => manager.user_socket(),
    };
    let mut socket = match socket {
        Ok(s) => s,
        Err(e) => {
            say!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let wallet = match (margin, isolated) {
        (true, _) => binance_sim::Wallet::Margin,
        (false, Some(symbol)) => binance_sim::Wallet::Isolated(symbol.to_uppercase()),
        (false, None) => binance_sim::Wallet::Spot,
    };
    if let Err(e) = socket.connect().await {
        say!("{e}");
        return Ok(ExitCode::from(1));
    }
    // The demo starts once the subscription is live, so its first event shows.
    let trader = demo.map(|accounts| tokio::spawn(demo_trader(manager.clone(), accounts, wallet)));
    let code = print_account(&mut socket, status, count, None).await;
    if let Some(trader) = trader {
        trader.abort();
    }
    socket.close().await;
    code
}

/// `bnws --market usdm|coinm user`: the futures account's events as
/// Binance's JSON, one line each (listen keys made and kept alive by the
/// library). With `--sim`, the demo account buys and sells a contract every
/// second.
async fn futures_user(
    manager: &SocketManager,
    market: Venue,
    status: bool,
    count: Option<u64>,
    sim: Option<&Sim>,
) -> Result<ExitCode, String> {
    let socket = match market {
        Venue::CoinM => manager.coin_futures_user_socket(),
        _ => manager.futures_user_socket(),
    };
    let mut socket = match socket {
        Ok(s) => s,
        Err(e) => {
            say!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(e) = socket.connect().await {
        say!("{e}");
        return Ok(ExitCode::from(1));
    }
    let symbol = match market {
        Venue::CoinM => "BTCUSD_PERP",
        _ => "BTCUSDT",
    };
    let quantity = match market {
        Venue::CoinM => "1",
        _ => "0.001",
    };
    let mut side = "BUY";
    let mut demo_order = || {
        let params = [
            ("symbol", symbol),
            ("side", side),
            ("type", "MARKET"),
            ("quantity", quantity),
        ];
        if let Some(Err((code, msg))) =
            sim.map(|s| s.futures_order(market, binance_sim::cli::DEMO_API_KEY, &params))
        {
            say!("demo order: {code} {msg}");
        }
        side = if side == "BUY" { "SELL" } else { "BUY" };
    };
    let demo: Option<&mut dyn FnMut()> = match sim {
        Some(_) => Some(&mut demo_order),
        None => None,
    };
    let code = print_account(&mut socket, status, count, demo).await;
    socket.close().await;
    code
}

/// Print an account socket's events as Binance's JSON, one line each, and
/// its statuses on stderr (and stdout with `status`), until `count` events,
/// Ctrl-C or the end; `every_second` (a demo's trade) runs each second.
async fn print_account<S>(
    socket: &mut S,
    status: bool,
    count: Option<u64>,
    mut every_second: Option<&mut dyn FnMut()>,
) -> Result<ExitCode, String>
where
    S: futures_util::Stream<Item = Result<Message, binance_ws::Error>> + Unpin,
{
    use futures_util::StreamExt;
    let mut out = output::Stdout::new();
    let mut losses = Losses::default();
    let mut printed = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let code = loop {
        if count.is_some_and(|c| printed >= c) {
            break ExitCode::SUCCESS;
        }
        let message = tokio::select! {
            m = socket.next() => m,
            _ = tick.tick(), if every_second.is_some() => {
                if let Some(run) = every_second.as_mut() {
                    run();
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => break ExitCode::SUCCESS,
        };
        let line = match message {
            Some(Ok(Message::Event(e))) => serde_json::to_string(&e.event),
            Some(Ok(Message::FuturesUser(e))) => serde_json::to_string(&e),
            Some(Ok(Message::Status(s))) => {
                losses
                    .status(&s, status.then_some(&mut out as &mut dyn Write))
                    .map_err(|e| e.to_string())?;
                out.send().await?;
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) if e.is_timeout() => continue,
            Some(Err(e)) if *e.kind() == ErrorKind::MaxReconnects => break gave_up(&mut out),
            Some(Err(e)) => {
                say!("{e}");
                break ExitCode::from(1);
            }
            None => break ExitCode::from(1),
        };
        writeln!(out, "{}", line.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        out.send().await?;
        printed += 1;
    };
    out.close(None).await?;
    Ok(losses.finish(code))
}

/// With `--sim`: the demo account buys and sells a little every second (spot),
/// or gets a small transfer every second (margin wallets), so there is
/// something to see.
async fn demo_trader(
    manager: SocketManager,
    accounts: binance_sim::Accounts,
    wallet: binance_sim::Wallet,
) {
    let Ok(api) = manager.ws_api().await else {
        return;
    };
    let mut side = "BUY";
    loop {
        if wallet != binance_sim::Wallet::Spot {
            let amount = binance_types::Decimal::new(1, 2);
            accounts.deposit(binance_sim::cli::DEMO_API_KEY, &wallet, "USDT", amount);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let order = serde_json::json!({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.00100"});
        if let Err(e) = api
            .signed_request(
                "order.place",
                order.as_object().cloned().unwrap_or_default(),
            )
            .await
        {
            say!("demo order: {e}");
        }
        side = if side == "BUY" { "SELL" } else { "BUY" };
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
