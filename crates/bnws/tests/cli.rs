//! The built `bnws` binary against the simulator: output formats, exit codes,
//! the error line when retries run out, the bad-name message, `book` against
//! the true book, and record → replay.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn bnws(args: &[&str]) -> Output {
    Command::cargo_bin("bnws")
        .unwrap()
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

/// `bnws` with no API key in its environment.
fn bnws_without_keys(args: &[&str]) -> Output {
    Command::cargo_bin("bnws")
        .unwrap()
        .args(args)
        .env_remove("BINANCE_API_KEY")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .collect()
}

fn shared() -> PathBuf {
    std::env::var("BINANCE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

#[test]
fn stream_prints_one_payload_per_line() {
    let out = bnws(&["--sim", "stream", "btcusdt@trade", "--count", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 5);
    assert!(lines
        .iter()
        .all(|l| l["e"] == "trade" && l["s"] == "BTCUSDT"));
}

#[test]
fn several_streams_print_the_combined_envelope_and_status_on_request() {
    let out = bnws(&[
        "--sim",
        "stream",
        "btcusdt@trade",
        "ethusdt@bookTicker",
        "--count",
        "6",
        "--status",
    ]);
    assert!(out.status.success());
    let lines = lines(&out);
    assert_eq!(
        lines[0],
        serde_json::json!({"e": "status", "state": "connected"})
    );
    let data: Vec<&Value> = lines.iter().filter(|l| l.get("stream").is_some()).collect();
    assert_eq!(data.len(), 6);
    assert!(data.iter().all(|l| l["data"].is_object()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connected"));
}

#[test]
fn a_bad_stream_name_exits_2_and_says_what_is_valid() {
    let out = bnws(&["--sim", "stream", "btcusdt@trades"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`btcusdt@trades`") && err.contains("valid forms"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = bnws(&["stream", "!ticker@arr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-03-26"));
}

#[test]
fn when_retries_run_out_it_prints_the_seed_error_and_exits_1() {
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let out = bnws(&[
        "--endpoint",
        &url,
        "--max-reconnects",
        "1",
        "stream",
        "btcusdt@trade",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"e":"error","m":"Max reconnect retries reached"}"#
    );
    let bad = bnws(&["--max-reconnects", "lots", "stream", "btcusdt@trade"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`inf`"));
}

#[test]
fn book_prints_the_true_book() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(binance_sim::Sim::start(binance_sim::SimConfig::default()))
        .unwrap();
    let out = bnws(&[
        "--endpoint",
        &sim.ws_url(),
        "--rest",
        &sim.rest_url(),
        "book",
        "BTCUSDT",
        "--depth",
        "5",
        "--count",
        "4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 4);
    for line in lines {
        let id = line["lastUpdateId"].as_u64().unwrap();
        let truth = sim.true_book("BTCUSDT", id).unwrap();
        let side = |v: &[(rust_decimal_like::D, rust_decimal_like::D)]| {
            v.iter()
                .take(5)
                // As the exchange wrote them: spot has eight decimals.
                .map(|(p, q)| serde_json::json!([format!("{p:.8}"), format!("{q:.8}")]))
                .collect::<Vec<_>>()
        };
        assert_eq!(line["symbol"], "BTCUSDT");
        assert_eq!(
            line["bids"].as_array().unwrap(),
            &side(&truth.bids),
            "bids at {id}"
        );
        assert_eq!(
            line["asks"].as_array().unwrap(),
            &side(&truth.asks),
            "asks at {id}"
        );
    }
}

mod rust_decimal_like {
    pub type D = binance_types::Decimal;
}

#[test]
fn record_then_replay_gives_back_every_frame() {
    let dir = std::env::temp_dir().join(format!("bnws-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bnws(&[
        "--sim",
        "record",
        "btcusdt@trade",
        "--out",
        dir.to_str().unwrap(),
        "--count",
        "20",
        "--rotate",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "20 frames, 7 a file: {files:?}");
    let mut ids = Vec::new();
    for file in &files {
        let replayed = bnws(&["replay", file.to_str().unwrap()]);
        assert!(replayed.status.success());
        for line in lines(&replayed) {
            assert_eq!(line["stream"], "btcusdt@trade");
            ids.push(line["data"]["t"].as_u64().unwrap());
        }
    }
    assert_eq!(ids.len(), 20);
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "nothing lost across rotations: {ids:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_reads_the_shared_captures() {
    let path = shared().join("captures/BINANCE_US.ws.1.0");
    let out = bnws(&["replay", path.to_str().unwrap()]);
    assert!(out.status.success());
    let frames = lines(&out);
    let recorded = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
        - 1;
    assert_eq!(frames.len(), recorded);
    assert!(frames.iter().all(|f| f["stream"].is_string()));
}

#[test]
fn help_has_examples() {
    let out = bnws(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("bnws --sim stream"),
        "{text}"
    );
}

#[test]
fn user_prints_the_accounts_events() {
    let out = bnws_without_keys(&["--sim", "user", "--count", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out);
    assert_eq!(events.len(), 3);
    // The demo account's first market order: NEW, then its fill(s), then the new balances.
    assert_eq!(
        (events[0]["e"].clone(), events[0]["x"].clone()),
        ("executionReport".into(), "NEW".into())
    );
    assert_eq!(
        (events[1]["e"].clone(), events[1]["x"].clone()),
        ("executionReport".into(), "TRADE".into())
    );
    assert!(
        ["executionReport", "outboundAccountPosition"].contains(&events[2]["e"].as_str().unwrap())
    );

    let out = bnws_without_keys(&["--sim", "user", "--isolated", "btcusdt", "--count", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out)[0]["e"], "balanceUpdate");
}

#[test]
fn user_without_keys_says_what_to_set() {
    let out = bnws_without_keys(&["--endpoint", "ws://127.0.0.1:9", "user"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BINANCE_API_KEY") && err.contains("BINANCE_API_SECRET"),
        "{err}"
    );
}

/// Each printed book's top `depth` levels equal `venue`'s true book at the
/// printed update id, as numbers (options frames write `"5480.000"`).
fn assert_books_true(
    sim: &binance_sim::Sim,
    venue: binance_types::venue::Venue,
    symbol: &str,
    lines: Vec<Value>,
    depth: usize,
) {
    let n = |x: &Value| -> binance_types::Decimal { x.as_str().unwrap().parse().unwrap() };
    let ours = |levels: &Value| -> Vec<_> {
        levels
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (n(&l[0]).normalize(), n(&l[1]).normalize()))
            .collect()
    };
    let truth = |v: &[(binance_types::Decimal, binance_types::Decimal)]| -> Vec<_> {
        v.iter()
            .take(depth)
            .map(|(p, q)| (p.normalize(), q.normalize()))
            .collect()
    };
    for line in lines {
        let id = line["lastUpdateId"].as_u64().unwrap();
        let book = sim.venue_true_book(venue, symbol, id).unwrap();
        assert_eq!(line["symbol"], symbol);
        assert_eq!(ours(&line["bids"]), truth(&book.bids), "bids at {id}");
        assert_eq!(ours(&line["asks"]), truth(&book.asks), "asks at {id}");
    }
}

/// Printed `[price, quantity]` levels as exact decimals, whatever number of
/// decimals they were written with.
fn printed(levels: &Value) -> Vec<Value> {
    let d = |x: &Value| {
        x.as_str()
            .unwrap()
            .parse::<binance_types::Decimal>()
            .unwrap()
    };
    levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::json!([d(&l[0]), d(&l[1])]))
        .collect()
}

/// `--market usdm`: the names are checked as USD-M names and a mixed list
/// is split over `/public` and `/market` (both streams print).
#[test]
fn usdm_stream_prints_public_and_market_streams() {
    let out = bnws(&[
        "--market",
        "usdm",
        "--sim",
        "stream",
        "btcusdt@markPrice@1s",
        "btcusdt@depth@100ms",
        "--count",
        "40",
    ]);
    assert_eq!(
        streams_printed(&out),
        ["btcusdt@depth@100ms", "btcusdt@markPrice@1s"]
    );
    // A spot name on USD-M, and a market that does not exist.
    let bad = bnws(&["--market", "usdm", "--sim", "stream", "btcusdt@trade"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("valid forms"));
    let bad = bnws(&["--market", "margin", "--sim", "stream", "btcusdt@trade"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("spot, usdm, coinm, options"));
}

/// The stream names of a successful run's combined frames, sorted, once each.
fn streams_printed(out: &std::process::Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streams: std::collections::BTreeSet<String> = lines(out)
        .iter()
        .map(|l| l["stream"].as_str().unwrap().to_owned())
        .collect();
    streams.into_iter().collect()
}

/// The embedded simulator's first option (`BTC-…-C`).
fn first_option() -> String {
    binance_sim::OptionsConfig::default().options[0]
        .spec
        .symbol
        .clone()
}

/// `--market options`: names are checked as options names, a mixed list is
/// split over `/public` and `/market` (both print), and a futures name is
/// refused with the options forms.
#[test]
fn options_stream_prints_public_and_market_streams() {
    let depth = format!("{}@depth@100ms", first_option().to_lowercase());
    let out = bnws(&[
        "--market",
        "options",
        "--sim",
        "stream",
        "btcusdt@optionMarkPrice",
        &depth,
        "--count",
        "30",
    ]);
    assert_eq!(
        streams_printed(&out),
        [depth.as_str(), "btcusdt@optionMarkPrice"]
    );
    let bad = bnws(&[
        "--market",
        "options",
        "--sim",
        "stream",
        "btcusdt@markPrice",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("`btcusdt@markPrice`") && err.contains("optionMarkPrice"),
        "{err}"
    );
}

/// `--market options book` keeps an option's book equal to the simulator's
/// true book (snapshots from `/eapi/v1/depth`).
#[test]
fn options_book_prints_the_true_book() {
    use binance_types::venue::Venue;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(binance_sim::Sim::start(binance_sim::SimConfig::default()))
        .unwrap();
    let symbol = sim.venue_symbols(Venue::Options)[0].clone();
    let out = bnws(&[
        "--market",
        "options",
        "--endpoint",
        &sim.venue_ws_url(Venue::Options),
        "book",
        &symbol,
        "--depth",
        "5",
        "--count",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 3);
    assert_books_true(&sim, Venue::Options, &symbol, lines, 5);
    // The embedded simulator serves options too.
    let out = bnws(&[
        "--market", "options", "--sim", "book", &symbol, "--count", "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--market coinm book` keeps a COIN-M contract's book equal to the
/// simulator's true book (contract symbols carry `_`).
#[test]
fn coinm_book_prints_the_true_book() {
    use binance_types::venue::Venue;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(binance_sim::Sim::start(binance_sim::SimConfig::default()))
        .unwrap();
    let out = bnws(&[
        "--market",
        "coinm",
        "--endpoint",
        &sim.venue_ws_url(Venue::CoinM),
        "book",
        "BTCUSD_PERP",
        "--depth",
        "5",
        "--count",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 3);
    assert_books_true(&sim, Venue::CoinM, "BTCUSD_PERP", lines, 5);
}

/// `bnws --market usdm book` on a replay of the recorded USD-M traffic
/// ends on the book §5.4's procedure gives, fed the same frames and
/// snapshot directly.
#[test]
fn usdm_book_on_the_replayed_capture_ends_on_the_procedures_book() {
    use binance_sim::replay::{read_depth_capture, read_ws_capture, ReplayServer};
    use binance_types::book_sync::BookSync;
    use binance_types::futures::{decode_futures, FuturesEvent};
    use std::io::BufRead;
    const SYMBOL: &str = "SUSHIUSDT";
    let dir = shared().join("captures");
    let (_, frames) = read_ws_capture(&dir.join("BINANCE_FUTURES.ws.1.0")).unwrap();
    let depth = read_depth_capture(&dir.join("BINANCE_FUTURES.http.0.0")).unwrap();
    let snapshot: binance_types::market::DepthSnapshot =
        serde_json::from_str(&depth[SYMBOL]).unwrap();
    // The procedure alone: every frame of the symbol, the snapshot after the first.
    let mut sync = BookSync::futures();
    let mut given = false;
    for frame in &frames {
        if let FuturesEvent::DepthUpdate(update) =
            decode_futures(frame.text.as_bytes()).unwrap().event
        {
            if update.symbol == SYMBOL {
                sync.push(update);
                if !given {
                    sync.snapshot(snapshot.last_update_id, &snapshot.bids, &snapshot.asks);
                    given = true;
                }
            }
        }
    }
    let expected = sync.book().expect("the capture syncs").clone();
    let as_json = |levels: Vec<binance_types::Level>| -> Vec<Value> {
        levels
            .iter()
            .map(|l| serde_json::json!([l.price, l.quantity]))
            .collect()
    };
    let (bids, asks) = expected.top(usize::MAX);
    let (bids, asks) = (as_json(bids), as_json(asks));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let replay = runtime
        .block_on(ReplayServer::start(frames, depth, 5.0))
        .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bnws"))
        .args([
            "--market",
            "usdm",
            "--endpoint",
            &replay.ws_url(),
            "book",
            SYMBOL,
            "--depth",
            "100000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Lines are read on a thread, so a bnws that never gets there fails
    // the test in time instead of hanging it.
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let mut last = None;
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let line: Value = serde_json::from_str(&line).unwrap();
        if line["lastUpdateId"].as_u64().unwrap() >= expected.last_update_id() {
            last = Some(line);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let last = last.expect("bnws printed the capture's last update");
    assert_eq!(last["lastUpdateId"], expected.last_update_id());
    assert_eq!(printed(&last["bids"]), bids);
    assert_eq!(printed(&last["asks"]), asks);
}

/// `--market usdm|coinm user --sim`: the demo account's futures events
/// (listen key made and kept by the library), as Binance's JSON.
#[test]
fn futures_user_prints_the_accounts_events() {
    for (market, symbol) in [("usdm", "BTCUSDT"), ("coinm", "BTCUSD_PERP")] {
        let out = bnws_without_keys(&["--market", market, "--sim", "user", "--count", "3"]);
        assert!(
            out.status.success(),
            "{market}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = lines(&out);
        assert_eq!(lines.len(), 3, "{market}");
        assert_eq!(lines[0]["e"], "ORDER_TRADE_UPDATE", "{market}: {lines:?}");
        assert_eq!(lines[0]["o"]["s"], symbol);
        assert_eq!(lines[0]["o"]["x"], "NEW");
        assert!(lines.iter().all(|l| l["E"].is_u64()));
    }
    let bad = bnws(&["--market", "usdm", "--sim", "user", "--margin"]);
    assert_eq!(bad.status.code(), Some(2));
}
